/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define PAL_TYPE_SESSION (pal_session_get_type())
G_DECLARE_FINAL_TYPE(PalSession, pal_session, PAL, SESSION, GObject)

/**
 * PalSession:
 *
 * The state of one conversation `(endpoint, userId, sessionId)` as a flow sees it: its
 * `context` (owned by the flow, persisted by the gateway after each turn), the user's
 * `profile`, the flow's entry point for the next input, and whether a human has it.
 * A session is only touched from the worker thread that owns it.
 */
PalSession *
pal_session_new(const gchar *endpoint_name, const gchar *user_id, const gchar *session_id);
const gchar *
pal_session_get_endpoint_name(PalSession *self);
const gchar *
pal_session_get_user_id(PalSession *self);
const gchar *
pal_session_get_session_id(PalSession *self);
JsonObject *
pal_session_get_context(PalSession *self);
void
pal_session_set_context(PalSession *self, JsonObject *context);
JsonObject *
pal_session_get_profile(PalSession *self);
void
pal_session_set_profile(PalSession *self, JsonObject *profile);
const gchar *
pal_session_get_entrypoint(PalSession *self);
void
pal_session_set_entrypoint(PalSession *self, const gchar *entrypoint);
gboolean
pal_session_get_handover_active(PalSession *self);
void
pal_session_set_handover_active(PalSession *self, gboolean active);
guint64
pal_session_get_turns(PalSession *self);
void
pal_session_add_turn(PalSession *self);
gint64
pal_session_get_created_at(PalSession *self);
gint64
pal_session_get_updated_at(PalSession *self);
void
pal_session_touch(PalSession *self, gint64 now_us);

G_END_DECLS
