/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pal-endpoint.h"

G_BEGIN_DECLS

#define PAL_TYPE_ENDPOINT_SET (pal_endpoint_set_get_type())
G_DECLARE_FINAL_TYPE(PalEndpointSet, pal_endpoint_set, PAL, ENDPOINT_SET, GObject)

/* an immutable-after-build snapshot of all endpoints; workers read it without locks */
PalEndpointSet *
pal_endpoint_set_new(void);
/* fails with PAL_ERROR_EXISTS on a duplicate name or URL token */
gboolean
pal_endpoint_set_add(PalEndpointSet *self, PalEndpoint *endpoint, GError **error);
/* loads every *.json file of @dir (sorted by name); each broken file adds one GError
 * (message names the file and JSON path) to @errors and is skipped. FALSE only if @dir
 * cannot be read at all. */
gboolean
pal_endpoint_set_load_directory(PalEndpointSet *self,
				const gchar *dir,
				const gchar *data_dir,
				GPtrArray *errors,
				GError **error);
/* constant-time with respect to the token's content: NULL when unknown */
PalEndpoint *
pal_endpoint_set_lookup_token(PalEndpointSet *self, const gchar *url_token);
PalEndpoint *
pal_endpoint_set_lookup_name(PalEndpointSet *self, const gchar *name);
GPtrArray *
pal_endpoint_set_get_all(PalEndpointSet *self); /* element-type PalEndpoint, sorted by name */
gboolean
pal_endpoint_set_remove(PalEndpointSet *self, const gchar *name);

G_END_DECLS
