/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>

#include "palaver.h"

G_BEGIN_DECLS

#define PAL_TYPE_ENDPOINT (pal_endpoint_get_type())
G_DECLARE_FINAL_TYPE(PalEndpoint, pal_endpoint, PAL, ENDPOINT, GObject)

/* one endpoint, parsed and validated from its JSON object (DESIGN.md §4); immutable */

/* @origin names the source in errors (a file path or "D-Bus"); @base_dir resolves relative paths */
PalEndpoint *
pal_endpoint_new_from_json(JsonNode *root,
			   const gchar *origin,
			   const gchar *base_dir,
			   const gchar *data_dir,
			   GError **error);
PalEndpoint *
pal_endpoint_new_from_file(const gchar *path, const gchar *data_dir, GError **error);

const gchar *
pal_endpoint_get_origin(PalEndpoint *self);
const gchar *
pal_endpoint_get_base_dir(PalEndpoint *self); /* added: folder of the file, NULL for D-Bus */
const gchar *
pal_endpoint_get_name(PalEndpoint *self);
const gchar *
pal_endpoint_get_url_token(PalEndpoint *self);
gboolean
pal_endpoint_get_active(PalEndpoint *self);
const gchar *
pal_endpoint_get_locale(PalEndpoint *self);
PalEndpointInfo *
pal_endpoint_get_info(PalEndpoint *self);

/* plugin selections: the "type" and the rest of the object as options (never NULL for flow) */
const gchar *
pal_endpoint_get_flow_type(PalEndpoint *self);
JsonObject *
pal_endpoint_get_flow_options(PalEndpoint *self);
const gchar *
pal_endpoint_get_nlu_type(PalEndpoint *self); /* NULL: no NLU */
JsonObject *
pal_endpoint_get_nlu_options(PalEndpoint *self);
JsonArray *
pal_endpoint_get_transformers(PalEndpoint *self); /* array of {type, …}, may be empty */
const gchar *
pal_endpoint_get_handover_type(PalEndpoint *self); /* NULL: no handover */
JsonObject *
pal_endpoint_get_handover_options(PalEndpoint *self);

/* webhook */
const gchar *
pal_endpoint_get_webhook_url(PalEndpoint *self); /* "" = no delivery */
const gchar *
pal_endpoint_get_webhook_user(PalEndpoint *self); /* NULL or "" = no basic auth */
const gchar *
pal_endpoint_get_webhook_password(PalEndpoint *self);
GPtrArray *
pal_endpoint_get_webhook_headers(PalEndpoint *self); /* name, value, name, value, … */
GStrv
pal_endpoint_get_signing_secrets(PalEndpoint *self); /* whsec_… secrets, may be empty */
guint
pal_endpoint_get_webhook_timeout_ms(PalEndpoint *self);
guint
pal_endpoint_get_webhook_ttl_seconds(PalEndpoint *self);
gboolean
pal_endpoint_get_end_of_turn_event(PalEndpoint *self);
guint
pal_endpoint_get_retry_initial_ms(PalEndpoint *self);
guint
pal_endpoint_get_retry_max_ms(PalEndpoint *self);
gboolean
pal_endpoint_get_drop_on_give_up(PalEndpoint *self);

/* inbound auth */
GStrv
pal_endpoint_get_webhook_keys(PalEndpoint *self); /* X-Webhook-Key values, may be empty */
GStrv
pal_endpoint_get_api_keys(PalEndpoint *self);

/* data protection */
gboolean
pal_endpoint_get_mask_ip_address(PalEndpoint *self);
gboolean
pal_endpoint_get_mask_logging(PalEndpoint *self);
/* added: the other dataProtection switches (DESIGN.md §4) */
gboolean
pal_endpoint_get_mask_analytics(PalEndpoint *self);
gboolean
pal_endpoint_get_use_conversations(PalEndpoint *self);
gboolean
pal_endpoint_get_use_contact_profiles(PalEndpoint *self);
gboolean
pal_endpoint_get_use_analytics(PalEndpoint *self);

/* session */
guint
pal_endpoint_get_state_ttl_days(PalEndpoint *self);
guint
pal_endpoint_get_inactivity_minutes(PalEndpoint *self);

/* the original JSON with secrets (password, signingSecret, keys, URLToken) replaced by "***" */
JsonNode *
pal_endpoint_to_json_redacted(PalEndpoint *self);
/* the same endpoint with "active" set to @active (parsed again from its JSON) */
PalEndpoint *
pal_endpoint_copy_with_active(PalEndpoint *self, gboolean active, const gchar *data_dir, GError **error);

G_END_DECLS
