/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "pal-message.h"

struct _PalMessage {
	GObject parent_instance;
	PalMessageKind kind;
	gchar *input_id;
	gchar *trace_id;
	gchar *user_id;
	gchar *session_id;
	gchar *text;
	JsonObject *data;
	JsonObject *body;
	gint64 received_at;
	PalNluResult *nlu_result;
};

G_DEFINE_FINAL_TYPE(PalMessage, pal_message, G_TYPE_OBJECT)

static void
pal_message_finalize(GObject *object)
{
	PalMessage *self = PAL_MESSAGE(object);

	g_free(self->input_id);
	g_free(self->trace_id);
	g_free(self->user_id);
	g_free(self->session_id);
	g_free(self->text);
	g_clear_pointer(&self->data, json_object_unref);
	g_clear_pointer(&self->body, json_object_unref);
	g_clear_object(&self->nlu_result);
	G_OBJECT_CLASS(pal_message_parent_class)->finalize(object);
}

static void
pal_message_class_init(PalMessageClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = pal_message_finalize;
}

static void
pal_message_init(PalMessage *self)
{
}

/**
 * pal_message_new:
 * @kind: where the message came from
 * @input_id: (nullable): the input id (a UUID); %NULL makes a new one
 * @user_id: the `userId`
 * @session_id: the `sessionId`
 * @text: (nullable): the `text`
 * @data: (nullable): the `data` object; a reference is taken
 * @body: (nullable): the whole request body; a reference is taken
 *
 * Returns: (transfer full): a new message; its trace id is derived from the input id
 */
PalMessage *
pal_message_new(PalMessageKind kind,
		const gchar *input_id,
		const gchar *user_id,
		const gchar *session_id,
		const gchar *text,
		JsonObject *data,
		JsonObject *body)
{
	PalMessage *self;

	g_return_val_if_fail(user_id != NULL, NULL);
	g_return_val_if_fail(session_id != NULL, NULL);

	self = g_object_new(PAL_TYPE_MESSAGE, NULL);
	self->kind = kind;
	self->input_id = input_id != NULL ? g_strdup(input_id) : g_uuid_string_random();
	self->trace_id = g_strdup_printf("endpoint-httpIncomingMessage-%s", self->input_id);
	self->user_id = g_strdup(user_id);
	self->session_id = g_strdup(session_id);
	self->text = g_strdup(text);
	self->data = data != NULL ? json_object_ref(data) : NULL;
	self->body = body != NULL ? json_object_ref(body) : NULL;
	self->received_at = g_get_real_time();
	return self;
}

PalMessageKind
pal_message_get_kind(PalMessage *self)
{
	g_return_val_if_fail(PAL_IS_MESSAGE(self), PAL_MESSAGE_KIND_USER);
	return self->kind;
}

const gchar *
pal_message_get_input_id(PalMessage *self)
{
	g_return_val_if_fail(PAL_IS_MESSAGE(self), NULL);
	return self->input_id;
}

/**
 * pal_message_get_trace_id:
 *
 * Returns: `endpoint-httpIncomingMessage-<inputId>`, the `traceId` of the 202 answer and of
 * every output of this turn
 */
const gchar *
pal_message_get_trace_id(PalMessage *self)
{
	g_return_val_if_fail(PAL_IS_MESSAGE(self), NULL);
	return self->trace_id;
}

const gchar *
pal_message_get_user_id(PalMessage *self)
{
	g_return_val_if_fail(PAL_IS_MESSAGE(self), NULL);
	return self->user_id;
}

const gchar *
pal_message_get_session_id(PalMessage *self)
{
	g_return_val_if_fail(PAL_IS_MESSAGE(self), NULL);
	return self->session_id;
}

/**
 * pal_message_get_text:
 *
 * Returns: (nullable): the text, or %NULL when the message has only data
 */
const gchar *
pal_message_get_text(PalMessage *self)
{
	g_return_val_if_fail(PAL_IS_MESSAGE(self), NULL);
	return self->text;
}

/**
 * pal_message_get_data:
 *
 * Returns: (nullable) (transfer none): the data object; treat it as read-only
 */
JsonObject *
pal_message_get_data(PalMessage *self)
{
	g_return_val_if_fail(PAL_IS_MESSAGE(self), NULL);
	return self->data;
}

/**
 * pal_message_get_body:
 *
 * Returns: (nullable) (transfer none): the whole request body, including keys that validation
 * ignored; treat it as read-only
 */
JsonObject *
pal_message_get_body(PalMessage *self)
{
	g_return_val_if_fail(PAL_IS_MESSAGE(self), NULL);
	return self->body;
}

/**
 * pal_message_get_received_at:
 *
 * Returns: wall-clock time of acceptance, in microseconds since the Unix epoch
 */
gint64
pal_message_get_received_at(PalMessage *self)
{
	g_return_val_if_fail(PAL_IS_MESSAGE(self), 0);
	return self->received_at;
}

void
pal_message_set_received_at(PalMessage *self, gint64 received_at_us)
{
	g_return_if_fail(PAL_IS_MESSAGE(self));
	self->received_at = received_at_us;
}

/**
 * pal_message_get_nlu_result:
 *
 * Returns: (nullable) (transfer none): what the endpoint's NLU made of the text, if it ran
 */
PalNluResult *
pal_message_get_nlu_result(PalMessage *self)
{
	g_return_val_if_fail(PAL_IS_MESSAGE(self), NULL);
	return self->nlu_result;
}

void
pal_message_set_nlu_result(PalMessage *self, PalNluResult *result)
{
	g_return_if_fail(PAL_IS_MESSAGE(self));
	g_set_object(&self->nlu_result, result);
}

/**
 * pal_message_to_json:
 *
 * Returns: (transfer full): `{userId, sessionId, text?, data?, inputId, traceId}`, the shape
 * flows and transformers see as `input`
 */
JsonNode *
pal_message_to_json(PalMessage *self)
{
	g_autoptr(JsonBuilder) b = json_builder_new();

	g_return_val_if_fail(PAL_IS_MESSAGE(self), NULL);
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "userId");
	json_builder_add_string_value(b, self->user_id);
	json_builder_set_member_name(b, "sessionId");
	json_builder_add_string_value(b, self->session_id);
	if (self->text != NULL) {
		json_builder_set_member_name(b, "text");
		json_builder_add_string_value(b, self->text);
	}
	if (self->data != NULL) {
		JsonNode *n = json_node_new(JSON_NODE_OBJECT);
		json_node_set_object(n, self->data);
		json_builder_set_member_name(b, "data");
		json_builder_add_value(b, n);
	}
	json_builder_set_member_name(b, "inputId");
	json_builder_add_string_value(b, self->input_id);
	json_builder_set_member_name(b, "traceId");
	json_builder_add_string_value(b, self->trace_id);
	json_builder_end_object(b);
	return json_builder_get_root(b);
}
