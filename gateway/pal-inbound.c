/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "pal-inbound.h"
#include "pal-json-util.h"

void
pal_inbound_error_clear(PalInboundError *err)
{
	g_clear_pointer(&err->message, g_free);
	err->status = 0;
	err->code = NULL;
	err->field = NULL;
}

void
pal_inbound_error_set(PalInboundError *err,
		      guint status,
		      const gchar *code,
		      const gchar *field,
		      const gchar *format,
		      ...)
{
	va_list args;

	g_free(err->message);
	err->status = status;
	err->code = code;
	err->field = field;
	va_start(args, format);
	err->message = g_strdup_vprintf(format, args);
	va_end(args);
}

gchar *
pal_inbound_error_to_json(const PalInboundError *err)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autoptr(JsonNode) root = NULL;

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "error");
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "code");
	json_builder_add_string_value(b, err->code);
	json_builder_set_member_name(b, "message");
	json_builder_add_string_value(b, err->message);
	json_builder_set_member_name(b, "field");
	if (err->field != NULL)
		json_builder_add_string_value(b, err->field);
	else
		json_builder_add_null_value(b);
	json_builder_end_object(b);
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	json_generator_set_root(gen, root);
	return json_generator_to_data(gen, NULL);
}

gboolean
pal_inbound_check_content_type(const gchar *content_type, PalInboundError *err)
{
	g_auto(GStrv) parts = NULL;
	g_autofree gchar *mime = NULL;

	if (content_type == NULL) {
		pal_inbound_error_set(err,
				      415,
				      "unsupported_media_type",
				      NULL,
				      "missing Content-Type header: expected application/json");
		return FALSE;
	}
	parts = g_strsplit(content_type, ";", -1);
	mime = g_strstrip(g_strdup(parts[0]));
	if (g_ascii_strcasecmp(mime, "application/json") != 0) {
		pal_inbound_error_set(err,
				      415,
				      "unsupported_media_type",
				      NULL,
				      "Content-Type %s is not supported: expected application/json",
				      mime);
		return FALSE;
	}
	for (guint i = 1; parts[i] != NULL; i++) {
		g_autofree gchar *param = g_strstrip(g_strdup(parts[i]));
		if (g_ascii_strncasecmp(param, "charset=", 8) != 0)
			continue;
		if (g_ascii_strcasecmp(param + 8, "utf-8") != 0 &&
		    g_ascii_strcasecmp(param + 8, "\"utf-8\"") != 0 &&
		    g_ascii_strcasecmp(param + 8, "utf8") != 0) {
			pal_inbound_error_set(err,
					      415,
					      "unsupported_media_type",
					      NULL,
					      "charset %s is not supported: expected utf-8",
					      param + 8);
			return FALSE;
		}
	}
	return TRUE;
}

/* userId / sessionId: required, non-empty strings of at most 256 characters */
static const gchar *
pal_inbound_get_id(JsonObject *root, const gchar *name, PalInboundError *err)
{
	JsonNode *node = json_object_get_member(root, name);
	const gchar *value;

	if (node == NULL || JSON_NODE_HOLDS_NULL(node)) {
		pal_inbound_error_set(err,
				      400,
				      "missing_field",
				      name,
				      "%s is required: expected a non-empty string",
				      name);
		return NULL;
	}
	if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING) {
		pal_inbound_error_set(err,
				      400,
				      "invalid_field",
				      name,
				      "%s must be a string of 1 to %u characters",
				      name,
				      (guint)PAL_INBOUND_MAX_ID_CHARS);
		return NULL;
	}
	value = json_node_get_string(node);
	if (value[0] == '\0') {
		pal_inbound_error_set(err,
				      400,
				      "invalid_field",
				      name,
				      "%s must not be empty",
				      name);
		return NULL;
	}
	if (g_utf8_strlen(value, -1) > PAL_INBOUND_MAX_ID_CHARS) {
		pal_inbound_error_set(err,
				      400,
				      "field_too_long",
				      name,
				      "%s is longer than %u characters",
				      name,
				      (guint)PAL_INBOUND_MAX_ID_CHARS);
		return NULL;
	}
	return value;
}

PalMessage *
pal_inbound_parse(PalMessageKind kind,
		  const gchar *data,
		  gsize len,
		  gsize max_size,
		  guint max_depth,
		  PalInboundError *err)
{
	g_autoptr(JsonParser) parser = NULL;
	g_autoptr(GError) error = NULL;
	JsonNode *root;
	JsonObject *obj;
	JsonNode *text_node;
	JsonNode *data_node;
	const gchar *user_id;
	const gchar *session_id;
	const gchar *text = NULL;
	JsonObject *data_obj = NULL;
	const gchar *end = NULL;

	if (len > max_size) {
		pal_inbound_error_set(err,
				      413,
				      "payload_too_large",
				      NULL,
				      "request body of %" G_GSIZE_FORMAT
				      " bytes exceeds the limit of %" G_GSIZE_FORMAT " bytes",
				      len,
				      max_size);
		return NULL;
	}
	if (len == 0) {
		pal_inbound_error_set(err,
				      400,
				      "malformed_json",
				      NULL,
				      "request body is empty: expected a JSON object");
		return NULL;
	}
	if (!g_utf8_validate_len(data, len, &end)) {
		pal_inbound_error_set(err,
				      400,
				      "invalid_utf8",
				      NULL,
				      "request body is not valid UTF-8 (first bad byte at offset %" G_GSIZE_FORMAT ")",
				      (gsize)(end - data));
		return NULL;
	}
	/* json-glib 1.6 recurses while parsing and crashes on deep nesting (PLATFORM-NOTES 13) */
	if (!pal_json_check_depth(data, len, max_depth, &error)) {
		pal_inbound_error_set(err, 400, "too_deep", NULL, "%s", error->message);
		return NULL;
	}
	parser = json_parser_new_immutable();
	if (!json_parser_load_from_data(parser, data, (gssize)len, &error)) {
		pal_inbound_error_set(err,
				      400,
				      "malformed_json",
				      NULL,
				      "request body is not valid JSON: %s",
				      error->message);
		return NULL;
	}
	root = json_parser_get_root(parser);
	if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root)) {
		pal_inbound_error_set(err,
				      400,
				      "not_an_object",
				      NULL,
				      "request body must be a JSON object");
		return NULL;
	}
	obj = json_node_get_object(root);
	user_id = pal_inbound_get_id(obj, "userId", err);
	if (user_id == NULL)
		return NULL;
	session_id = pal_inbound_get_id(obj, "sessionId", err);
	if (session_id == NULL)
		return NULL;

	/* a text or data of the wrong type counts as absent, as in the hosted product; the
	 * request fails only when neither is usable (DESIGN.md §1.1) */
	text_node = json_object_get_member(obj, "text");
	if (text_node != NULL && JSON_NODE_HOLDS_VALUE(text_node) &&
	    json_node_get_value_type(text_node) == G_TYPE_STRING) {
		text = json_node_get_string(text_node);
		if (g_utf8_strlen(text, -1) > PAL_INBOUND_MAX_TEXT_CHARS) {
			pal_inbound_error_set(err,
					      400,
					      "field_too_long",
					      "text",
					      "text is longer than %u characters",
					      (guint)PAL_INBOUND_MAX_TEXT_CHARS);
			return NULL;
		}
	}
	data_node = json_object_get_member(obj, "data");
	if (data_node != NULL && JSON_NODE_HOLDS_OBJECT(data_node))
		data_obj = json_node_get_object(data_node);
	if (text == NULL && data_obj == NULL) {
		const gchar *field = text_node != NULL ? "text" : (data_node != NULL ? "data" : "text");
		pal_inbound_error_set(err,
				      400,
				      "missing_text_or_data",
				      field,
				      "expected a string \"text\" or an object \"data\" (or both)%s",
				      (text_node != NULL || data_node != NULL)
					  ? ": the ones given have the wrong type"
					  : "");
		return NULL;
	}
	return pal_message_new(kind, NULL, user_id, session_id, text, data_obj, obj);
}

/* a message from the journal, as it was accepted: same input id and time */
PalMessage *
pal_inbound_restore(PalMessageKind kind,
		    const gchar *input_id,
		    gint64 received_at,
		    const gchar *data,
		    gsize len,
		    PalInboundError *err)
{
	g_autoptr(PalMessage) parsed = pal_inbound_parse(kind, data, len, G_MAXSIZE, 512, err);
	PalMessage *msg;

	if (parsed == NULL)
		return NULL;
	msg = pal_message_new(kind,
			      input_id,
			      pal_message_get_user_id(parsed),
			      pal_message_get_session_id(parsed),
			      pal_message_get_text(parsed),
			      pal_message_get_data(parsed),
			      pal_message_get_body(parsed));
	pal_message_set_received_at(msg, received_at);
	return msg;
}
