/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The `rasa` NLU: asks a Rasa server (rasa run --enable-api) what a text means.
 *
 *   "nlu": { "type": "rasa", "url": "http://127.0.0.1:5005", "timeoutMs": 2000 }
 *
 * Each input with text becomes `POST {url}/model/parse` with `{"text": …}` (plus `?token=` when the
 * `token` option is set, Rasa's token authentication). From the answer, `intent.name` and
 * `intent.confidence` become the intent and its score, `intent_ranking` the top 5, and each of
 * `entities` a slot value: `{"entity", "value", "start", "end"}` → slot `entity` with that value
 * and the text between start and end (character offsets, as Rasa counts them).
 *
 * A timeout, a network error, a status other than 2xx or an answer of another shape fails the
 * parse: the gateway logs one line and the message goes to the flow without an intent.
 *
 * Options: `url` (required, http/https), `timeoutMs` (2000, 1–60000), `token`, `maxConnections`
 * (8 per worker, 1–256; more parses wait their turn within their timeout).
 */

#include "config.h"

#include <string.h>

#include "pal-http-client.h"
#include "pal-rasa-nlu-plugin.h"

#define PAL_RASA_MAX_ANSWER (256 * 1024)
#define PAL_RASA_MAX_DEPTH 32
#define PAL_RASA_RANKING 5

struct _PalRasaNluPlugin {
	GObject parent_instance;
	gchar *parse_url; /* {url}/model/parse[?token=…] */
	guint timeout_ms;
	guint max_connections;
	PalHttpClient *client; /* created by the first parse, in the thread that parses */
};

static void
pal_rasa_nlu_plugin_extension_iface_init(PalExtensionInterface *iface);
static void
pal_rasa_nlu_plugin_nlu_iface_init(PalNluInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE(PalRasaNluPlugin,
			      pal_rasa_nlu_plugin,
			      G_TYPE_OBJECT,
			      G_IMPLEMENT_INTERFACE(PAL_TYPE_EXTENSION, pal_rasa_nlu_plugin_extension_iface_init)
				  G_IMPLEMENT_INTERFACE(PAL_TYPE_NLU, pal_rasa_nlu_plugin_nlu_iface_init))

static gboolean
pal_rasa_nlu_plugin_setup(PalExtension *extension, PalEndpointInfo *endpoint, JsonObject *options, GError **error)
{
	PalRasaNluPlugin *self = PAL_RASA_NLU_PLUGIN(extension);
	const gchar *url = NULL;
	const gchar *token = NULL;
	JsonObjectIter iter;
	const gchar *member;
	JsonNode *node;
	g_autoptr(GUri) uri = NULL;
	g_autofree gchar *base = NULL;

	json_object_iter_init_ordered(&iter, options);
	while (json_object_iter_next_ordered(&iter, &member, &node)) {
		g_autofree gchar *path = pal_json_path_member("nlu", member);
		if (g_strcmp0(member, "url") == 0 || g_strcmp0(member, "token") == 0) {
			if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING ||
			    json_node_get_string(node)[0] == '\0') {
				g_autofree gchar *got = pal_json_describe_node(node);
				g_set_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA, "%s: expected a non-empty string, got %s", path,
					    g_strcmp0(member, "token") == 0 ? "something else" : got);
				return FALSE;
			}
			if (g_strcmp0(member, "url") == 0)
				url = json_node_get_string(node);
			else
				token = json_node_get_string(node);
		} else if (g_strcmp0(member, "timeoutMs") == 0) {
			if (!pal_json_node_get_uint(node, path, 1, 60000, &self->timeout_ms, error))
				return FALSE;
		} else if (g_strcmp0(member, "maxConnections") == 0) {
			if (!pal_json_node_get_uint(node, path, 1, 256, &self->max_connections, error))
				return FALSE;
		} else {
			g_set_error(error,
				    PAL_ERROR,
				    PAL_ERROR_INVALID_DATA,
				    "%s: unknown option (the rasa NLU has url, token, timeoutMs and maxConnections)",
				    path);
			return FALSE;
		}
	}
	if (url == NULL) {
		g_set_error_literal(error, PAL_ERROR, PAL_ERROR_INVALID_DATA, "nlu.url: missing (the Rasa server's URL is required)");
		return FALSE;
	}
	uri = g_uri_parse(url, G_URI_FLAGS_NONE, NULL);
	if (uri == NULL || g_uri_get_host(uri) == NULL ||
	    (g_strcmp0(g_uri_get_scheme(uri), "http") != 0 && g_strcmp0(g_uri_get_scheme(uri), "https") != 0)) {
		g_set_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA, "nlu.url: expected an http or https URL, got \"%s\"", url);
		return FALSE;
	}
	base = g_strdup(url);
	while (g_str_has_suffix(base, "/"))
		base[strlen(base) - 1] = '\0';
	if (token != NULL) {
		g_autofree gchar *escaped = g_uri_escape_string(token, NULL, FALSE);
		self->parse_url = g_strdup_printf("%s/model/parse?token=%s", base, escaped);
	} else {
		self->parse_url = g_strdup_printf("%s/model/parse", base);
	}
	return TRUE;
}

static void
pal_rasa_nlu_plugin_extension_iface_init(PalExtensionInterface *iface)
{
	iface->setup = pal_rasa_nlu_plugin_setup;
}

/* a JSON number as a double, or -1 */
static gdouble
pal_rasa_number(JsonObject *object, const gchar *member)
{
	JsonNode *node = json_object_get_member(object, member);

	if (node == NULL || !JSON_NODE_HOLDS_VALUE(node))
		return -1;
	if (json_node_get_value_type(node) == G_TYPE_DOUBLE || json_node_get_value_type(node) == G_TYPE_INT64)
		return json_node_get_double(node);
	return -1;
}

static const gchar *
pal_rasa_string(JsonObject *object, const gchar *member)
{
	JsonNode *node = json_object_get_member(object, member);

	if (node == NULL || !JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING)
		return NULL;
	return json_node_get_string(node);
}

/* Rasa's answer → the result; NULL with an error for another shape */
static PalNluResult *
pal_rasa_nlu_plugin_map(const gchar *text, JsonNode *root, GError **error)
{
	JsonObject *answer;
	JsonNode *intent, *ranking, *entities;
	const gchar *name = NULL;
	gdouble score = 0;
	g_autoptr(PalNluResult) result = NULL;
	glong text_chars = g_utf8_strlen(text, -1);

	if (!JSON_NODE_HOLDS_OBJECT(root)) {
		g_set_error_literal(error, PAL_ERROR, PAL_ERROR_INVALID_DATA, "the answer is not a JSON object");
		return NULL;
	}
	answer = json_node_get_object(root);
	intent = json_object_get_member(answer, "intent");
	if (intent != NULL && JSON_NODE_HOLDS_OBJECT(intent)) {
		name = pal_rasa_string(json_node_get_object(intent), "name");
		score = MAX(pal_rasa_number(json_node_get_object(intent), "confidence"), 0);
	} else if (intent != NULL && !JSON_NODE_HOLDS_NULL(intent)) {
		g_set_error_literal(error, PAL_ERROR, PAL_ERROR_INVALID_DATA, "intent: expected an object");
		return NULL;
	}
	result = pal_nlu_result_new(name, score);
	ranking = json_object_get_member(answer, "intent_ranking");
	if (ranking != NULL && JSON_NODE_HOLDS_ARRAY(ranking)) {
		JsonArray *array = json_node_get_array(ranking);
		for (guint i = 0; i < json_array_get_length(array) && i < PAL_RASA_RANKING; i++) {
			JsonNode *item = json_array_get_element(array, i);
			const gchar *n;
			if (!JSON_NODE_HOLDS_OBJECT(item) || (n = pal_rasa_string(json_node_get_object(item), "name")) == NULL)
				continue;
			pal_nlu_result_add_ranking(result, n, MAX(pal_rasa_number(json_node_get_object(item), "confidence"), 0));
		}
	}
	entities = json_object_get_member(answer, "entities");
	if (entities != NULL && JSON_NODE_HOLDS_ARRAY(entities)) {
		JsonArray *array = json_node_get_array(entities);
		for (guint i = 0; i < json_array_get_length(array); i++) {
			JsonNode *item = json_array_get_element(array, i);
			JsonObject *e;
			const gchar *entity;
			JsonNode *value;
			gdouble start, end;
			g_autofree gchar *span = NULL;

			if (!JSON_NODE_HOLDS_OBJECT(item))
				continue;
			e = json_node_get_object(item);
			entity = pal_rasa_string(e, "entity");
			value = json_object_get_member(e, "value");
			if (entity == NULL || value == NULL)
				continue;
			start = pal_rasa_number(e, "start");
			end = pal_rasa_number(e, "end");
			/* offsets are characters; never trust them beyond the text */
			if (start >= 0 && end >= start && end <= text_chars) {
				const gchar *from = g_utf8_offset_to_pointer(text, (glong)start);
				const gchar *to = g_utf8_offset_to_pointer(text, (glong)end);
				span = g_strndup(from, (gsize)(to - from));
			} else {
				start = end = -1;
			}
			pal_nlu_result_add_slot(result, entity, pal_json_node_deep_copy(value), span, (gint)start, (gint)end);
		}
	}
	return g_steal_pointer(&result);
}

static void
pal_rasa_nlu_plugin_fetch_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	const gchar *text = g_task_get_task_data(task);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) body = NULL;
	g_autoptr(JsonNode) root = NULL;
	guint status = 0;
	gsize len = 0;
	const gchar *data;
	PalNluResult *result;

	body = pal_http_client_fetch_finish(PAL_HTTP_CLIENT(source), res, &status, &error);
	if (body == NULL) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	if (!SOUP_STATUS_IS_SUCCESSFUL(status)) {
		g_task_return_new_error(task, PAL_ERROR, PAL_ERROR_UNAVAILABLE, "the Rasa server answered HTTP %u", status);
		return;
	}
	data = g_bytes_get_data(body, &len);
	root = pal_json_parse_bounded(data, len, PAL_RASA_MAX_ANSWER, PAL_RASA_MAX_DEPTH, "answer", &error);
	if (root == NULL) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	result = pal_rasa_nlu_plugin_map(text, root, &error);
	if (result == NULL) {
		g_prefix_error(&error, "the Rasa server's answer: ");
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	g_task_return_pointer(task, result, g_object_unref);
}

static void
pal_rasa_nlu_plugin_parse_async(PalNlu *nlu,
				const gchar *text,
				const gchar *locale,
				GCancellable *cancellable,
				GAsyncReadyCallback callback,
				gpointer user_data)
{
	PalRasaNluPlugin *self = PAL_RASA_NLU_PLUGIN(nlu);
	GTask *task = g_task_new(nlu, cancellable, callback, user_data);
	g_autoptr(SoupMessage) message = soup_message_new(SOUP_METHOD_POST, self->parse_url);
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonNode) request = NULL;
	g_autofree gchar *json = NULL;
	g_autoptr(GBytes) bytes = NULL;

	g_task_set_source_tag(task, pal_rasa_nlu_plugin_parse_async);
	g_task_set_task_data(task, g_strdup(text), g_free);
	if (self->client == NULL)
		self->client = pal_http_client_new(self->max_connections, 60);
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "text");
	json_builder_add_string_value(builder, text);
	json_builder_end_object(builder);
	request = json_builder_get_root(builder);
	json = json_to_string(request, FALSE);
	bytes = g_bytes_new(json, strlen(json));
	soup_message_set_request_body_from_bytes(message, "application/json", bytes);
	soup_message_headers_replace(soup_message_get_request_headers(message), "Accept", "application/json");
	soup_message_add_flags(message, SOUP_MESSAGE_NO_REDIRECT);
	pal_http_client_fetch_async(self->client,
				    message,
				    PAL_RASA_MAX_ANSWER,
				    self->timeout_ms,
				    cancellable,
				    pal_rasa_nlu_plugin_fetch_cb,
				    task);
}

static PalNluResult *
pal_rasa_nlu_plugin_parse_finish(PalNlu *nlu, GAsyncResult *result, GError **error)
{
	return g_task_propagate_pointer(G_TASK(result), error);
}

static void
pal_rasa_nlu_plugin_nlu_iface_init(PalNluInterface *iface)
{
	iface->parse_async = pal_rasa_nlu_plugin_parse_async;
	iface->parse_finish = pal_rasa_nlu_plugin_parse_finish;
}

static void
pal_rasa_nlu_plugin_finalize(GObject *object)
{
	PalRasaNluPlugin *self = PAL_RASA_NLU_PLUGIN(object);

	g_clear_object(&self->client);
	g_free(self->parse_url);
	G_OBJECT_CLASS(pal_rasa_nlu_plugin_parent_class)->finalize(object);
}

static void
pal_rasa_nlu_plugin_class_init(PalRasaNluPluginClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = pal_rasa_nlu_plugin_finalize;
}

static void
pal_rasa_nlu_plugin_init(PalRasaNluPlugin *self)
{
	self->timeout_ms = 2000;
	self->max_connections = 8;
}

PAL_PLUGIN_DEFINE(rasa,
		  pal_rasa_nlu_plugin_get_type,
		  PACKAGE_VERSION,
		  "LGPL-2.1-or-later",
		  "Intents and entities from a Rasa server's /model/parse")
