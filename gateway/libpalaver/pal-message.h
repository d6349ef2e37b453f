/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

#include "pal-nlu-result.h"

G_BEGIN_DECLS

/**
 * PalMessageKind:
 * @PAL_MESSAGE_KIND_USER: a message a user wrote, posted to `/{URLToken}`
 * @PAL_MESSAGE_KIND_INJECT: posted to `/inject/{URLToken}`: runs the flow as if the user had written
 * @PAL_MESSAGE_KIND_NOTIFY: posted to `/notify/{URLToken}`: delivered to the user, no flow run
 *
 * Where an input message came from.
 */
typedef enum {
	PAL_MESSAGE_KIND_USER,
	PAL_MESSAGE_KIND_INJECT,
	PAL_MESSAGE_KIND_NOTIFY,
} PalMessageKind;

#define PAL_TYPE_MESSAGE (pal_message_get_type())
G_DECLARE_FINAL_TYPE(PalMessage, pal_message, PAL, MESSAGE, GObject)

/**
 * PalMessage:
 *
 * A validated input message: `userId`, `sessionId`, optional `text` and `data`, plus the whole
 * request body for input transformers that read other keys. Immutable once it reaches a flow,
 * except for the NLU result, which the gateway attaches before the flow runs.
 */
PalMessage *
pal_message_new(PalMessageKind kind,
		const gchar *input_id,
		const gchar *user_id,
		const gchar *session_id,
		const gchar *text,
		JsonObject *data,
		JsonObject *body);
PalMessageKind
pal_message_get_kind(PalMessage *self);
const gchar *
pal_message_get_input_id(PalMessage *self);
const gchar *
pal_message_get_trace_id(PalMessage *self);
const gchar *
pal_message_get_user_id(PalMessage *self);
const gchar *
pal_message_get_session_id(PalMessage *self);
const gchar *
pal_message_get_text(PalMessage *self);
JsonObject *
pal_message_get_data(PalMessage *self);
JsonObject *
pal_message_get_body(PalMessage *self);
gint64
pal_message_get_received_at(PalMessage *self);
void
pal_message_set_received_at(PalMessage *self, gint64 received_at_us);
PalNluResult *
pal_message_get_nlu_result(PalMessage *self);
void
pal_message_set_nlu_result(PalMessage *self, PalNluResult *result);
JsonNode *
pal_message_to_json(PalMessage *self);

G_END_DECLS
