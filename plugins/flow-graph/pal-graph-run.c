/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <math.h>
#include <string.h>

#include "pal-graph-run.h"

struct _PalGraphRun {
	PalGraphFlow *flow; /* the plugin's: outlives its turns */
	PalGraphRunSlot *slot;
	PalHttpClient *client;
	PalTurn *turn;
	PalSession *session;
	PalMessage *message;
	GTask *task; /* not a reference: the run is its task data */
	guint steps;
	guint step_limit;
	/* the turn's state between synchronous stretches (see pal_graph_run_load()) */
	JsonNode *input;
	JsonNode *session_info;
	JsonNode *context;
	JsonNode *profile;
	gchar *entry; /* the entry point the session gets at the end; NULL = start */
	PalGraphNode *http_node;
};

static void
pal_graph_run_free(PalGraphRun *run)
{
	g_object_unref(run->client);
	g_object_unref(run->turn);
	g_clear_pointer(&run->input, json_node_unref);
	g_clear_pointer(&run->session_info, json_node_unref);
	g_clear_pointer(&run->context, json_node_unref);
	g_clear_pointer(&run->profile, json_node_unref);
	g_free(run->entry);
	g_free(run);
}

static JsonNode *
pal_graph_object_node(JsonObject *object)
{
	JsonNode *node = json_node_new(JSON_NODE_OBJECT);

	json_node_take_object(node, object);
	return node;
}

/* ---- state: the sandbox holds it while a stretch runs, the run between stretches ---- */

static gboolean
pal_graph_run_load(PalGraphRun *run, GError **error)
{
	PalLua *lua = run->flow->lua;

	pal_lua_reset(lua);
	if (!pal_lua_set_global(lua, "input", run->input, error) ||
	    !pal_lua_set_global(lua, "session", run->session_info, error) ||
	    !pal_lua_set_global(lua, "context", run->context, error) ||
	    !pal_lua_set_global(lua, "profile", run->profile, error))
		return FALSE;
	run->slot->active = run;
	return TRUE;
}

/* context and profile back from the sandbox; a script that replaced them with something
 * else than a table loses that change */
static void
pal_graph_run_save(PalGraphRun *run)
{
	PalLua *lua = run->flow->lua;
	const gchar *names[] = {"context", "profile"};
	JsonNode **slots[] = {&run->context, &run->profile};

	run->slot->active = NULL;
	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(JsonNode) value = pal_lua_get_global(lua, names[i], &error);

		if (value != NULL && JSON_NODE_HOLDS_OBJECT(value)) {
			json_node_unref(*slots[i]);
			*slots[i] = g_steal_pointer(&value);
		} else if (error != NULL) {
			g_message("flow %s: the %s cannot be kept: %s", run->flow->name, names[i], error->message);
		} else {
			g_message("flow %s: %s is not a table any more; the change is not kept",
				  run->flow->name,
				  names[i]);
		}
	}
	pal_lua_reset(lua);
}

/* context.a.b = value, in the sandbox */
static gboolean
pal_graph_run_set_path(PalGraphRun *run, PalGraphPath *path, JsonNode *value, GError **error)
{
	PalLua *lua = run->flow->lua;
	g_autoptr(JsonNode) root = pal_lua_get_global(lua, path->segments[0], error);
	JsonObject *object;

	if (root == NULL && error != NULL && *error != NULL)
		return FALSE;
	if (root == NULL || !JSON_NODE_HOLDS_OBJECT(root)) {
		g_clear_pointer(&root, json_node_unref);
		root = pal_graph_object_node(json_object_new());
	}
	object = json_node_get_object(root);
	for (guint i = 1; path->segments[i + 1] != NULL; i++) {
		JsonNode *child = json_object_get_member(object, path->segments[i]);
		if (child == NULL || !JSON_NODE_HOLDS_OBJECT(child))
			json_object_set_object_member(object, path->segments[i], json_object_new());
		object = json_object_get_object_member(object, path->segments[i]);
	}
	json_object_set_member(object,
			       path->segments[g_strv_length(path->segments) - 1],
			       pal_json_node_deep_copy(value));
	return pal_lua_set_global(lua, path->segments[0], root, error);
}

/* ---- outputs ---- */

static void
pal_graph_run_emit(PalGraphRun *run, const gchar *text, JsonNode *data, GStrv titles, GStrv payloads)
{
	g_autoptr(PalOutput) output = NULL;
	JsonObject *object = NULL;

	if (data != NULL && JSON_NODE_HOLDS_OBJECT(data))
		object = json_node_get_object(data);
	output = pal_output_new(PAL_OUTPUT_SOURCE_BOT, text, object);
	if (titles != NULL)
		pal_output_add_quick_replies(output, (const gchar *const *)titles, (const gchar *const *)payloads);
	pal_turn_emit(run->turn, output);
}

/* say, question, reprompt: @text_value overrides the node's text (reprompt) */
static gboolean
pal_graph_run_emit_node(PalGraphRun *run, PalGraphNode *node, PalGraphValue *text_value, GError **error)
{
	PalLua *lua = run->flow->lua;
	g_autofree gchar *text = NULL;
	g_autoptr(JsonNode) data = NULL;
	g_auto(GStrv) titles = NULL;
	g_auto(GStrv) payloads = NULL;

	if (text_value != NULL && (text = pal_graph_value_render_text(text_value, lua, error)) == NULL)
		return FALSE;
	if (node->data != NULL && (data = pal_graph_value_render(node->data, lua, error)) == NULL)
		return FALSE;
	if (node->quick_replies != NULL && node->quick_replies->len > 0) {
		guint n = node->quick_replies->len;
		titles = g_new0(gchar *, n + 1);
		payloads = g_new0(gchar *, n + 1);
		for (guint i = 0; i < n; i++) {
			PalGraphQuickReply *reply = g_ptr_array_index(node->quick_replies, i);
			titles[i] = pal_graph_value_render_text(reply->title, lua, error);
			if (titles[i] == NULL)
				return FALSE;
			payloads[i] = pal_graph_value_render_text(reply->payload != NULL ? reply->payload
											  : reply->title,
								  lua,
								  error);
			if (payloads[i] == NULL)
				return FALSE;
		}
	}
	pal_graph_run_emit(run, text, data, titles, payloads);
	return TRUE;
}

/* api.say(text, data) */
static gboolean
pal_graph_api_say(PalLua *lua, JsonArray *args, JsonNode **result, gpointer user_data, GError **error)
{
	PalGraphRunSlot *slot = user_data;
	g_autofree gchar *text = NULL;
	JsonNode *data = NULL;

	if (slot->active == NULL) {
		g_set_error(error, PAL_ERROR, PAL_ERROR_FAILED, "api.say is only available in a turn");
		return FALSE;
	}
	if (json_array_get_length(args) >= 1 && !JSON_NODE_HOLDS_NULL(json_array_get_element(args, 0)))
		text = pal_lua_json_to_text(json_array_get_element(args, 0));
	if (json_array_get_length(args) >= 2) {
		data = json_array_get_element(args, 1);
		if (!JSON_NODE_HOLDS_OBJECT(data) && !JSON_NODE_HOLDS_NULL(data)) {
			g_set_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA, "api.say: data must be a table");
			return FALSE;
		}
	}
	if (text == NULL && (data == NULL || JSON_NODE_HOLDS_NULL(data))) {
		g_set_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA, "api.say: nothing to say (text and data are nil)");
		return FALSE;
	}
	pal_graph_run_emit(slot->active, text, data, NULL, NULL);
	return TRUE;
}

/* api.set("context.a.b", value) */
static gboolean
pal_graph_api_set(PalLua *lua, JsonArray *args, JsonNode **result, gpointer user_data, GError **error)
{
	PalGraphRunSlot *slot = user_data;
	JsonNode *path_node;
	PalGraphPath *path;
	gboolean ok;

	if (slot->active == NULL) {
		g_set_error(error, PAL_ERROR, PAL_ERROR_FAILED, "api.set is only available in a turn");
		return FALSE;
	}
	path_node = json_array_get_length(args) >= 1 ? json_array_get_element(args, 0) : NULL;
	if (path_node == NULL || !JSON_NODE_HOLDS_VALUE(path_node) ||
	    json_node_get_value_type(path_node) != G_TYPE_STRING) {
		g_set_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA, "api.set: the path must be a string such as \"context.order\"");
		return FALSE;
	}
	path = pal_graph_path_parse(json_node_get_string(path_node), error);
	if (path == NULL)
		return FALSE;
	if (json_array_get_length(args) >= 2) {
		ok = pal_graph_run_set_path(slot->active, path, json_array_get_element(args, 1), error);
	} else {
		g_autoptr(JsonNode) null = json_node_new(JSON_NODE_NULL);
		ok = pal_graph_run_set_path(slot->active, path, null, error);
	}
	pal_graph_path_free(path);
	return ok;
}

void
pal_graph_run_register_api(PalLua *lua, PalGraphRunSlot *slot)
{
	pal_lua_add_function(lua, "api", "say", pal_graph_api_say, slot);
	pal_lua_add_function(lua, "api", "set", pal_graph_api_set, slot);
}

/* ---- answers to questions ---- */

static const gchar *const pal_graph_yes[] = {"yes", "y", "yeah", "yep", "sure", "ok", "okay", "true", "1", "ja", "oui", "si", "sí", NULL};
static const gchar *const pal_graph_no[] = {"no", "n", "nope", "nah", "false", "0", "nein", "non", NULL};

/* the value @node stores for this input, or NULL when the input is not a valid answer */
static JsonNode *
pal_graph_run_check_answer(PalGraphRun *run, PalGraphNode *node)
{
	const gchar *raw = pal_message_get_text(run->message);
	g_autofree gchar *text = g_strstrip(g_strdup(raw != NULL ? raw : ""));
	JsonNode *value = json_node_new(JSON_NODE_VALUE);

	switch (node->expect) {
	case PAL_GRAPH_EXPECT_TEXT:
		if (text[0] != '\0') {
			json_node_set_string(value, text);
			return value;
		}
		break;
	case PAL_GRAPH_EXPECT_NUMBER: {
		gchar *end = NULL;
		gdouble number;
		g_strdelimit(text, ",", '.'); /* "3,5" as written in many locales */
		number = g_ascii_strtod(text, &end);
		if (text[0] != '\0' && end != NULL && *end == '\0' && isfinite(number)) {
			if (number == floor(number) && fabs(number) < 9007199254740992.0)
				json_node_set_int(value, (gint64)number);
			else
				json_node_set_double(value, number);
			return value;
		}
		break;
	}
	case PAL_GRAPH_EXPECT_EMAIL:
		if (g_regex_match_simple("^[^@\\s]+@[^@\\s]+\\.[^@\\s.]+$", text, 0, 0)) {
			json_node_set_string(value, text);
			return value;
		}
		break;
	case PAL_GRAPH_EXPECT_YESNO: {
		g_autofree gchar *lower = g_utf8_strdown(text, -1);
		gsize len = strlen(lower);
		/* "Yes!" and "no." are answers too */
		while (len > 0 && g_ascii_ispunct(lower[len - 1]))
			lower[--len] = '\0';
		if (g_strv_contains(pal_graph_yes, lower) || g_strv_contains(pal_graph_no, lower)) {
			json_node_set_boolean(value, g_strv_contains(pal_graph_yes, lower));
			return value;
		}
		break;
	}
	case PAL_GRAPH_EXPECT_DATA: {
		JsonObject *data = pal_message_get_data(run->message);
		if (data != NULL && json_object_get_size(data) > 0) {
			json_node_unref(value);
			return pal_graph_object_node(pal_json_object_deep_copy(data));
		}
		break;
	}
	case PAL_GRAPH_EXPECT_INTENT: {
		PalNluResult *nlu = pal_message_get_nlu_result(run->message);
		if (nlu != NULL && g_strcmp0(pal_nlu_result_get_intent(nlu), node->expect_arg) == 0) {
			json_node_set_string(value, text);
			return value;
		}
		break;
	}
	case PAL_GRAPH_EXPECT_REGEX:
		if (g_regex_match(node->regex, text, 0, NULL)) {
			json_node_set_string(value, text);
			return value;
		}
		break;
	default:
		g_assert_not_reached();
	}
	json_node_unref(value);
	return NULL;
}

/* ---- the engine ---- */

static void
pal_graph_run_continue(PalGraphRun *run, const gchar *current);

/* the turn is over: the session keeps its state and where the next input starts */
static void
pal_graph_run_finish(PalGraphRun *run, const gchar *entry, GError *error)
{
	GTask *task = run->task;

	pal_graph_run_save(run);
	pal_session_set_context(run->session, json_node_get_object(run->context));
	pal_session_set_profile(run->session, json_node_get_object(run->profile));
	pal_session_set_entrypoint(run->session, entry);
	if (error != NULL)
		g_task_return_error(task, error);
	else
		g_task_return_boolean(task, TRUE);
	g_object_unref(task);
}

static gchar *
pal_graph_run_wait_entry(guint reprompts, const gchar *node)
{
	return g_strdup_printf("?%u:%s", reprompts, node);
}

/* the input answers the question the session waits on: next, reprompt or onFail */
static void
pal_graph_run_answer(PalGraphRun *run, PalGraphNode *node, guint reprompts)
{
	g_autoptr(JsonNode) value = pal_graph_run_check_answer(run, node);
	GError *error = NULL;

	if (value != NULL) {
		if (node->store != NULL && !pal_graph_run_set_path(run, node->store, value, &error)) {
			pal_graph_run_finish(run, NULL, error);
			return;
		}
		pal_graph_run_continue(run, node->next);
		return;
	}
	if (reprompts < node->retries) {
		g_autofree gchar *entry = pal_graph_run_wait_entry(reprompts + 1, node->name);
		if (!pal_graph_run_emit_node(run, node, node->reprompt != NULL ? node->reprompt : node->text, &error)) {
			pal_graph_run_finish(run, NULL, error);
			return;
		}
		pal_graph_run_finish(run, entry, NULL);
		return;
	}
	pal_graph_run_continue(run, node->on_fail != NULL ? node->on_fail : node->next);
}

static void
pal_graph_run_http_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	PalGraphRun *run = user_data;
	PalGraphNode *node = g_steal_pointer(&run->http_node);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) body = NULL;
	g_autoptr(JsonNode) answer = NULL;
	guint status = 0;
	GError *load_error = NULL;

	body = pal_http_client_fetch_finish(PAL_HTTP_CLIENT(source), res, &status, &error);
	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
		/* the gateway gave up on this turn (deadline, shutdown) */
		pal_graph_run_load(run, NULL);
		pal_graph_run_finish(run, NULL, g_steal_pointer(&error));
		return;
	}
	if (!pal_graph_run_load(run, &load_error)) {
		pal_graph_run_finish(run, NULL, load_error);
		return;
	}
	if (body != NULL && !SOUP_STATUS_IS_SUCCESSFUL(status))
		g_set_error(&error, PAL_ERROR, PAL_ERROR_FAILED, "HTTP status %u", status);
	if (error == NULL && g_bytes_get_size(body) > 0) {
		gsize len;
		const gchar *data = g_bytes_get_data(body, &len);
		g_autoptr(GError) parse_error = NULL;

		answer = pal_json_parse_bounded(data, len, PAL_GRAPH_RUN_MAX_HTTP_BODY, PAL_GRAPH_FLOW_MAX_DEPTH, "answer", &parse_error);
		if (answer == NULL) {
			/* not JSON: the text itself, when it is text */
			if (!g_utf8_validate(data, (gssize)len, NULL)) {
				g_set_error(&error, PAL_ERROR, PAL_ERROR_INVALID_DATA, "the answer is neither JSON nor text");
			} else {
				g_autofree gchar *text = g_strndup(data, len);
				answer = json_node_new(JSON_NODE_VALUE);
				json_node_set_string(answer, text);
			}
		}
	}
	if (error != NULL) {
		/* one line, without the URL: it may carry what the user wrote */
		g_message("flow %s, node %s: the %s request failed: %s",
			  run->flow->name,
			  node->name,
			  node->method,
			  error->message);
		if (node->on_error == NULL) {
			pal_graph_run_finish(run, NULL, NULL);
			return;
		}
		pal_graph_run_continue(run, node->on_error);
		return;
	}
	if (answer == NULL)
		answer = json_node_new(JSON_NODE_NULL);
	if (node->store != NULL && !pal_graph_run_set_path(run, node->store, answer, &load_error)) {
		pal_graph_run_finish(run, NULL, load_error);
		return;
	}
	pal_graph_run_continue(run, node->next);
}

/* starts an http node's request; the turn goes on in pal_graph_run_http_cb() */
static gboolean
pal_graph_run_http(PalGraphRun *run, PalGraphNode *node, GError **error)
{
	PalLua *lua = run->flow->lua;
	g_autofree gchar *url = pal_graph_value_render_text(node->url, lua, error);
	g_autoptr(GUri) uri = NULL;
	g_autoptr(SoupMessage) message = NULL;
	g_autoptr(GError) uri_error = NULL;
	SoupMessageHeaders *headers;

	if (url == NULL)
		return FALSE;
	uri = g_uri_parse(url, SOUP_HTTP_URI_FLAGS, &uri_error);
	if (uri == NULL || (g_strcmp0(g_uri_get_scheme(uri), "http") != 0 &&
			    g_strcmp0(g_uri_get_scheme(uri), "https") != 0)) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_INVALID_DATA,
			    "flow %s, node %s: the url is not an http or https URL",
			    run->flow->name,
			    node->name);
		return FALSE;
	}
	message = soup_message_new_from_uri(node->method, uri);
	headers = soup_message_get_request_headers(message);
	soup_message_headers_replace(headers, "Accept", "application/json");
	for (guint i = 0; i < node->header_names->len; i++) {
		g_autofree gchar *value = pal_graph_value_render_text(g_ptr_array_index(node->header_values, i), lua, error);
		if (value == NULL)
			return FALSE;
		soup_message_headers_replace(headers, g_ptr_array_index(node->header_names, i), value);
	}
	if (node->body != NULL) {
		g_autoptr(JsonNode) body = pal_graph_value_render(node->body, lua, error);
		g_autofree gchar *text = NULL;
		g_autoptr(GBytes) bytes = NULL;
		if (body == NULL)
			return FALSE;
		text = json_to_string(body, FALSE);
		bytes = g_bytes_new(text, strlen(text));
		soup_message_set_request_body_from_bytes(message, "application/json", bytes);
	}
	run->http_node = node;
	pal_graph_run_save(run);
	pal_http_client_fetch_async(run->client,
				    message,
				    PAL_GRAPH_RUN_MAX_HTTP_BODY,
				    node->timeout_ms,
				    g_task_get_cancellable(run->task),
				    pal_graph_run_http_cb,
				    run);
	return TRUE;
}

/* runs nodes from @current until one waits, the path ends, or an http node suspends */
static void
pal_graph_run_continue(PalGraphRun *run, const gchar *current)
{
	PalLua *lua = run->flow->lua;
	GError *error = NULL;

	while (current != NULL) {
		PalGraphNode *node = pal_graph_flow_get_node(run->flow, current);
		const gchar *next = NULL;

		if (node == NULL) {
			/* an entry point from an older version of the flow */
			g_message("flow %s: no node \"%s\" any more; the session starts over",
				  run->flow->name,
				  current);
			pal_graph_run_finish(run, NULL, NULL);
			return;
		}
		if (++run->steps > run->step_limit) {
			pal_graph_run_finish(run,
					     NULL,
					     g_error_new(PAL_ERROR,
							 PAL_ERROR_FAILED,
							 "flow %s: the step limit of %u nodes per turn was "
							 "reached at node %s; the turn was stopped",
							 run->flow->name,
							 run->step_limit,
							 node->name));
			return;
		}
		switch (node->type) {
		case PAL_GRAPH_NODE_SAY:
			if (!pal_graph_run_emit_node(run, node, node->text, &error))
				break;
			next = node->next;
			break;
		case PAL_GRAPH_NODE_QUESTION: {
			g_autofree gchar *entry = pal_graph_run_wait_entry(0, node->name);
			if (!pal_graph_run_emit_node(run, node, node->text, &error))
				break;
			pal_graph_run_finish(run, entry, NULL);
			return;
		}
		case PAL_GRAPH_NODE_SWITCH: {
			g_autofree gchar *value = pal_graph_value_render_text(node->value, lua, &error);
			if (value == NULL)
				break;
			next = g_hash_table_lookup(node->cases, value);
			if (next == NULL)
				next = node->default_target;
			break;
		}
		case PAL_GRAPH_NODE_IF: {
			gboolean truthy = FALSE;
			if (!pal_lua_eval(lua, node->condition, NULL, &truthy, &error))
				break;
			next = truthy ? node->then_target : node->else_target;
			break;
		}
		case PAL_GRAPH_NODE_SET:
			for (guint i = 0; i < node->set_paths->len && error == NULL; i++) {
				g_autoptr(JsonNode) value =
				    pal_graph_value_render(g_ptr_array_index(node->set_values, i), lua, &error);
				if (value != NULL)
					pal_graph_run_set_path(run, g_ptr_array_index(node->set_paths, i), value, &error);
			}
			next = node->next;
			break;
		case PAL_GRAPH_NODE_SCRIPT:
			if (!pal_lua_eval(lua, node->code, NULL, NULL, &error))
				break;
			next = node->next;
			break;
		case PAL_GRAPH_NODE_HTTP:
			if (!pal_graph_run_http(run, node, &error))
				break;
			return; /* continues in pal_graph_run_http_cb() */
		case PAL_GRAPH_NODE_HANDOVER: {
			g_autoptr(JsonObject) data = json_object_new();
			JsonObject *event = json_object_new();
			g_autoptr(PalOutput) output = NULL;

			if (node->text != NULL && !pal_graph_run_emit_node(run, node, node->text, &error))
				break;
			/* until a handover plugin takes the session, the webhook hears of the
			 * request and the next input resumes at next */
			json_object_set_string_member(event, "type", "handover-requested");
			json_object_set_string_member(event, "provider", node->provider);
			json_object_set_string_member(event, "node", node->name);
			json_object_set_object_member(data, "event", event);
			output = pal_output_new(PAL_OUTPUT_SOURCE_SYSTEM, NULL, data);
			pal_turn_emit(run->turn, output);
			pal_session_set_handover_active(run->session, TRUE);
			pal_graph_run_finish(run, node->next, NULL);
			return;
		}
		case PAL_GRAPH_NODE_GOTO:
			if (node->wait) {
				pal_graph_run_finish(run, node->target, NULL);
				return;
			}
			next = node->target;
			break;
		case PAL_GRAPH_NODE_END:
			if (node->reset_context) {
				json_node_unref(run->context);
				run->context = pal_graph_object_node(pal_json_object_deep_copy(run->flow->context));
				if (!pal_lua_set_global(lua, "context", run->context, &error))
					break;
			}
			pal_graph_run_finish(run, NULL, NULL);
			return;
		default:
			g_assert_not_reached();
		}
		if (error != NULL) {
			/* the sandbox names flow, node and line; the session starts over */
			pal_graph_run_finish(run, NULL, error);
			return;
		}
		current = next;
	}
	pal_graph_run_finish(run, NULL, NULL);
}

/* what expressions see as `input` (FLOWS.md, Values seen by expressions) */
static JsonNode *
pal_graph_run_build_input(PalGraphRun *run, PalEndpointInfo *endpoint)
{
	PalMessage *msg = run->message;
	PalNluResult *nlu = pal_message_get_nlu_result(msg);
	JsonObject *input = json_object_new();
	JsonObject *data = pal_message_get_data(msg);
	const gchar *locale = pal_endpoint_info_get_locale(endpoint);

	/* absent values are left out (nil in Lua), not null: json.null is true in a condition */
	if (pal_message_get_text(msg) != NULL)
		json_object_set_string_member(input, "text", pal_message_get_text(msg));
	json_object_set_object_member(input,
				      "data",
				      data != NULL ? pal_json_object_deep_copy(data) : json_object_new());
	/* below the NLU's threshold there is no intent, but its score and the slots found are
	 * still there for the flow */
	if (nlu != NULL) {
		JsonObject *slots = pal_nlu_result_get_slots(nlu);
		JsonObject *by_name = json_object_new();
		JsonObjectIter iter;
		const gchar *name;
		JsonNode *values;

		if (pal_nlu_result_get_intent(nlu) != NULL)
			json_object_set_string_member(input, "intent", pal_nlu_result_get_intent(nlu));
		json_object_set_double_member(input, "intentScore", pal_nlu_result_get_score(nlu));
		/* name → array of values (the NLU result has {value, text, start, end}) */
		if (slots != NULL) {
			json_object_iter_init(&iter, slots);
			while (json_object_iter_next(&iter, &name, &values)) {
				JsonArray *out = json_array_new();
				if (JSON_NODE_HOLDS_ARRAY(values)) {
					JsonArray *in = json_node_get_array(values);
					for (guint i = 0; i < json_array_get_length(in); i++) {
						JsonNode *v = json_array_get_element(in, i);
						JsonNode *value = JSON_NODE_HOLDS_OBJECT(v) ? json_object_get_member(json_node_get_object(v), "value") : v;
						if (value != NULL)
							json_array_add_element(out, pal_json_node_deep_copy(value));
					}
				}
				json_object_set_array_member(by_name, name, out);
			}
		}
		json_object_set_object_member(input, "slots", by_name);
	} else {
		json_object_set_double_member(input, "intentScore", 0);
		json_object_set_object_member(input, "slots", json_object_new());
	}
	json_object_set_string_member(input, "userId", pal_message_get_user_id(msg));
	json_object_set_string_member(input, "sessionId", pal_message_get_session_id(msg));
	json_object_set_string_member(input, "inputId", pal_message_get_input_id(msg));
	if (pal_message_get_trace_id(msg) != NULL)
		json_object_set_string_member(input, "traceId", pal_message_get_trace_id(msg));
	json_object_set_string_member(input, "channel", "webhook");
	json_object_set_string_member(input, "locale", locale != NULL ? locale : (run->flow->locale != NULL ? run->flow->locale : "en"));
	json_object_set_int_member(input, "execution", (gint64)pal_session_get_turns(run->session) + 1);
	return pal_graph_object_node(input);
}

static JsonNode *
pal_graph_run_build_session(PalGraphRun *run)
{
	JsonObject *info = json_object_new();

	json_object_set_string_member(info, "id", pal_session_get_session_id(run->session));
	json_object_set_string_member(info, "userId", pal_session_get_user_id(run->session));
	json_object_set_string_member(info, "endpoint", pal_session_get_endpoint_name(run->session));
	json_object_set_int_member(info, "createdAt", pal_session_get_created_at(run->session) / G_USEC_PER_SEC);
	return pal_graph_object_node(info);
}

/* the session's context with the flow's defaults for what it lacks: a new session gets them
 * all, an older one the keys a newer version of the flow added */
static JsonNode *
pal_graph_run_build_context(PalGraphRun *run)
{
	JsonObject *stored = pal_session_get_context(run->session);
	JsonObject *context = stored != NULL ? pal_json_object_deep_copy(stored) : json_object_new();
	JsonObjectIter iter;
	const gchar *name;
	JsonNode *value;

	json_object_iter_init(&iter, run->flow->context);
	while (json_object_iter_next(&iter, &name, &value))
		if (!json_object_has_member(context, name))
			json_object_set_member(context, name, pal_json_node_deep_copy(value));
	return pal_graph_object_node(context);
}

void
pal_graph_run_async(GObject *source_object,
		    PalGraphFlow *flow,
		    PalGraphRunSlot *slot,
		    PalHttpClient *client,
		    guint step_limit,
		    PalTurn *turn,
		    GCancellable *cancellable,
		    GAsyncReadyCallback callback,
		    gpointer user_data)
{
	GTask *task = g_task_new(source_object, cancellable, callback, user_data);
	PalGraphRun *run = g_new0(PalGraphRun, 1);
	JsonObject *profile;
	g_autofree gchar *entry_copy = NULL;
	const gchar *entry;
	GError *error = NULL;

	g_task_set_source_tag(task, pal_graph_run_async);
	g_task_set_task_data(task, run, (GDestroyNotify)pal_graph_run_free);
	run->task = task; /* its reference is dropped in pal_graph_run_finish() */
	run->flow = flow;
	run->slot = slot;
	run->client = g_object_ref(client);
	run->turn = g_object_ref(turn);
	run->session = pal_turn_get_session(turn);
	run->message = pal_turn_get_message(turn);
	run->step_limit = step_limit;
	run->input = pal_graph_run_build_input(run, pal_turn_get_endpoint(turn));
	run->session_info = pal_graph_run_build_session(run);
	run->context = pal_graph_run_build_context(run);
	profile = pal_session_get_profile(run->session);
	run->profile = pal_graph_object_node(profile != NULL ? pal_json_object_deep_copy(profile) : json_object_new());

	/* an input that reaches the flow means no agent holds the session (any more) */
	pal_session_set_handover_active(run->session, FALSE);
	if (!pal_graph_run_load(run, &error)) {
		pal_graph_run_finish(run, NULL, error);
		return;
	}
	/* a copy: the session's string is replaced when the turn ends */
	entry_copy = g_strdup(pal_session_get_entrypoint(run->session));
	entry = entry_copy;
	if (entry != NULL && entry[0] == '?') {
		/* "?N:node": waiting for the answer to a question, N reprompts sent */
		gchar *end = NULL;
		guint64 reprompts = g_ascii_strtoull(entry + 1, &end, 10);
		PalGraphNode *node = end != NULL && *end == ':' ? pal_graph_flow_get_node(flow, end + 1) : NULL;

		if (node != NULL && node->type == PAL_GRAPH_NODE_QUESTION) {
			pal_graph_run_answer(run, node, (guint)MIN(reprompts, G_MAXUINT));
			return;
		}
		g_message("flow %s: the session waited at \"%s\", which is no question any more; it starts over",
			  flow->name,
			  entry);
		entry = NULL;
	}
	pal_graph_run_continue(run, entry != NULL ? entry : flow->start);
}
