/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "pal-graph-flow.h"

/* the fields each node type has, besides "type" and "description" (FLOWS.md, Node types) */
static const struct {
	const gchar *name;
	PalGraphNodeType type;
	const gchar *fields[10];
} pal_graph_node_types[] = {
    {"say", PAL_GRAPH_NODE_SAY, {"text", "data", "quickReplies", "next"}},
    {"question",
     PAL_GRAPH_NODE_QUESTION,
     {"text", "data", "quickReplies", "expect", "store", "reprompt", "retries", "next", "onFail"}},
    {"switch", PAL_GRAPH_NODE_SWITCH, {"value", "cases", "default"}},
    {"if", PAL_GRAPH_NODE_IF, {"condition", "then", "else"}},
    {"set", PAL_GRAPH_NODE_SET, {"values", "next"}},
    {"script", PAL_GRAPH_NODE_SCRIPT, {"code", "next"}},
    {"http",
     PAL_GRAPH_NODE_HTTP,
     {"method", "url", "headers", "body", "timeout", "store", "next", "onError"}},
    {"handover", PAL_GRAPH_NODE_HANDOVER, {"provider", "text", "next"}},
    {"goto", PAL_GRAPH_NODE_GOTO, {"target", "wait"}},
    {"end", PAL_GRAPH_NODE_END, {"resetContext"}},
};

/* what loading one flow needs: where errors go and how expressions are named */
typedef struct {
	PalLua *lua;
	GPtrArray *errors;     /* gchar* "path: message" */
	GPtrArray *ref_paths;  /* gchar*: where a node is referenced … */
	GPtrArray *ref_names;  /* gchar*: … and which */
	gchar *flow_name;
	gchar *lua_name;       /* "flow NAME, node NODE" for the node being read */
} PalGraphLoader;

static void G_GNUC_PRINTF(3, 4)
pal_graph_error(PalGraphLoader *ld, const gchar *path, const gchar *format, ...)
{
	va_list args;
	g_autofree gchar *message = NULL;

	va_start(args, format);
	message = g_strdup_vprintf(format, args);
	va_end(args);
	g_ptr_array_add(ld->errors, g_strdup_printf("%s: %s", path, message));
}

static void
pal_graph_error_got(PalGraphLoader *ld, const gchar *path, const gchar *expected, JsonNode *node)
{
	g_autofree gchar *got = pal_json_describe_node(node);

	pal_graph_error(ld, path, "expected %s, got %s", expected, got);
}

static gboolean
pal_graph_is_string(JsonNode *node)
{
	return JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING;
}

/* @member of @object, with its path in *@member_path; NULL when it is absent, with an error
 * when it is @required: "missing (@what is required)" (@what may be NULL otherwise) */
static JsonNode *
pal_graph_get_member(PalGraphLoader *ld,
		     JsonObject *object,
		     const gchar *path,
		     const gchar *member,
		     const gchar *what,
		     gboolean required,
		     gchar **member_path)
{
	JsonNode *node = json_object_get_member(object, member);

	*member_path = pal_json_path_member(path, member);
	if (node == NULL && required)
		pal_graph_error(ld, *member_path, "missing (%s is required)", what);
	return node;
}

/* an object member (as its node); NULL when absent (an error when @required) or of another
 * type (an error: "expected @what, got …") */
static JsonNode *
pal_graph_get_object(PalGraphLoader *ld,
		     JsonObject *object,
		     const gchar *path,
		     const gchar *member,
		     const gchar *what,
		     gboolean required,
		     gchar **member_path)
{
	JsonNode *node = pal_graph_get_member(ld, object, path, member, what, required, member_path);

	if (node != NULL && !JSON_NODE_HOLDS_OBJECT(node)) {
		pal_graph_error_got(ld, *member_path, what, node);
		return NULL;
	}
	return node;
}

/* a string member; NULL (with an error when @required or of another type) otherwise */
static const gchar *
pal_graph_get_string(PalGraphLoader *ld,
		     JsonObject *object,
		     const gchar *path,
		     const gchar *member,
		     gboolean required)
{
	g_autofree gchar *member_path = NULL;
	JsonNode *node =
	    pal_graph_get_member(ld, object, path, member, "a string", required, &member_path);

	if (node == NULL)
		return NULL;
	if (!pal_graph_is_string(node) || json_node_get_string(node)[0] == '\0') {
		pal_graph_error_got(ld, member_path, "a non-empty string", node);
		return NULL;
	}
	return json_node_get_string(node);
}

/* @name, referenced at @path, must be a node: checked once all nodes are known */
static void
pal_graph_add_ref(PalGraphLoader *ld, const gchar *path, const gchar *name)
{
	g_ptr_array_add(ld->ref_paths, g_strdup(path));
	g_ptr_array_add(ld->ref_names, g_strdup(name));
}

/* a reference to another node */
static gchar *
pal_graph_get_ref(PalGraphLoader *ld,
		  JsonObject *object,
		  const gchar *path,
		  const gchar *member,
		  gboolean required)
{
	const gchar *name = pal_graph_get_string(ld, object, path, member, required);
	g_autofree gchar *member_path = NULL;

	if (name == NULL)
		return NULL;
	member_path = pal_json_path_member(path, member);
	pal_graph_add_ref(ld, member_path, name);
	return g_strdup(name);
}

static gboolean
pal_graph_get_uint(PalGraphLoader *ld,
		   JsonObject *object,
		   const gchar *path,
		   const gchar *member,
		   guint min,
		   guint max,
		   guint *out)
{
	g_autofree gchar *member_path = NULL;
	JsonNode *node = pal_graph_get_member(ld, object, path, member, NULL, FALSE, &member_path);
	g_autoptr(GError) error = NULL;

	if (node == NULL)
		return TRUE;
	if (!pal_json_node_get_uint(node, member_path, min, max, out, &error)) {
		/* "path: expected …", like every other line of ld->errors */
		g_ptr_array_add(ld->errors, g_strdup(error->message));
		return FALSE;
	}
	return TRUE;
}

static gboolean
pal_graph_get_bool(PalGraphLoader *ld,
		   JsonObject *object,
		   const gchar *path,
		   const gchar *member,
		   gboolean *out)
{
	g_autofree gchar *member_path = NULL;
	JsonNode *node = pal_graph_get_member(ld, object, path, member, NULL, FALSE, &member_path);

	if (node == NULL)
		return TRUE;
	if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_BOOLEAN) {
		*out = json_node_get_boolean(node);
		return TRUE;
	}
	pal_graph_error_got(ld, member_path, "true or false", node);
	return FALSE;
}

/* @node (at @path) as a template string, compiled; NULL with an error otherwise */
static PalGraphValue *
pal_graph_compile_template(PalGraphLoader *ld, JsonNode *node, const gchar *path)
{
	if (!pal_graph_is_string(node)) {
		pal_graph_error_got(ld, path, "a string", node);
		return NULL;
	}
	return pal_graph_value_compile_string(ld->lua,
					      json_node_get_string(node),
					      path,
					      ld->lua_name,
					      ld->errors);
}

/* a template string member (text, url, reprompt) */
static PalGraphValue *
pal_graph_get_template(PalGraphLoader *ld,
		       JsonObject *object,
		       const gchar *path,
		       const gchar *member,
		       gboolean required)
{
	g_autofree gchar *member_path = NULL;
	JsonNode *node =
	    pal_graph_get_member(ld, object, path, member, "a string", required, &member_path);

	if (node == NULL)
		return NULL;
	return pal_graph_compile_template(ld, node, member_path);
}

void
pal_graph_path_free(PalGraphPath *path)
{
	if (path == NULL)
		return;
	g_strfreev(path->segments);
	g_free(path);
}

PalGraphPath *
pal_graph_path_parse(const gchar *str, GError **error)
{
	g_auto(GStrv) segments = g_strsplit(str, ".", -1);
	PalGraphPath *path;

	if (g_strv_length(segments) < 2 ||
	    (g_strcmp0(segments[0], "context") != 0 && g_strcmp0(segments[0], "profile") != 0)) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_INVALID_DATA,
			    "expected a path into context or profile such as \"context.order\", got \"%s\"",
			    str);
		return NULL;
	}
	for (guint i = 1; segments[i] != NULL; i++) {
		if (segments[i][0] == '\0') {
			g_set_error(error,
				    PAL_ERROR,
				    PAL_ERROR_INVALID_DATA,
				    "empty name in the path \"%s\"",
				    str);
			return NULL;
		}
	}
	path = g_new0(PalGraphPath, 1);
	path->segments = g_steal_pointer(&segments);
	return path;
}

static PalGraphPath *
pal_graph_get_path(PalGraphLoader *ld, JsonObject *object, const gchar *path, const gchar *member)
{
	const gchar *str = pal_graph_get_string(ld, object, path, member, FALSE);
	g_autoptr(GError) error = NULL;
	PalGraphPath *parsed;

	if (str == NULL)
		return NULL;
	parsed = pal_graph_path_parse(str, &error);
	if (parsed == NULL) {
		g_autofree gchar *member_path = pal_json_path_member(path, member);
		pal_graph_error(ld, member_path, "%s", error->message);
	}
	return parsed;
}

static void
pal_graph_quick_reply_free(PalGraphQuickReply *reply)
{
	pal_graph_value_free(reply->title);
	pal_graph_value_free(reply->payload);
	g_free(reply);
}

/* ["Order status", …] or [{"title": …, "payload": …}, …] */
static GPtrArray *
pal_graph_get_quick_replies(PalGraphLoader *ld, JsonObject *object, const gchar *path)
{
	JsonNode *node = json_object_get_member(object, "quickReplies");
	g_autofree gchar *qr_path = pal_json_path_member(path, "quickReplies");
	g_autoptr(GPtrArray) replies = NULL;
	JsonArray *array;

	if (node == NULL)
		return NULL;
	if (!JSON_NODE_HOLDS_ARRAY(node) ||
	    json_array_get_length(json_node_get_array(node)) > PAL_GRAPH_FLOW_MAX_QUICK_REPLIES) {
		g_autofree gchar *expected = g_strdup_printf(
		    "an array of at most %u strings or {\"title\", \"payload\"} objects",
		    PAL_GRAPH_FLOW_MAX_QUICK_REPLIES);
		pal_graph_error_got(ld, qr_path, expected, node);
		return NULL;
	}
	array = json_node_get_array(node);
	replies = g_ptr_array_new_with_free_func((GDestroyNotify)pal_graph_quick_reply_free);
	for (guint i = 0; i < json_array_get_length(array); i++) {
		JsonNode *item = json_array_get_element(array, i);
		g_autofree gchar *item_path = pal_json_path_index(qr_path, i);
		PalGraphQuickReply *reply = g_new0(PalGraphQuickReply, 1);

		g_ptr_array_add(replies, reply);
		if (pal_graph_is_string(item)) {
			reply->title = pal_graph_value_compile_string(ld->lua,
								      json_node_get_string(item),
								      item_path,
								      ld->lua_name,
								      ld->errors);
		} else if (JSON_NODE_HOLDS_OBJECT(item)) {
			JsonObject *o = json_node_get_object(item);
			JsonObjectIter iter;
			const gchar *member;

			reply->title = pal_graph_get_template(ld, o, item_path, "title", TRUE);
			reply->payload = pal_graph_get_template(ld, o, item_path, "payload", FALSE);
			json_object_iter_init(&iter, o);
			while (json_object_iter_next(&iter, &member, NULL)) {
				if (g_strcmp0(member, "title") != 0 && g_strcmp0(member, "payload") != 0) {
					g_autofree gchar *p = pal_json_path_member(item_path, member);
					pal_graph_error(ld, p, "unknown field (a quick reply has \"title\" and \"payload\")");
				}
			}
		} else {
			pal_graph_error_got(ld, item_path, "a string or a {\"title\", \"payload\"} object", item);
		}
	}
	return g_steal_pointer(&replies);
}

static void
pal_graph_parse_expect(PalGraphLoader *ld, PalGraphNode *n, JsonObject *object, const gchar *path)
{
	const gchar *expect = pal_graph_get_string(ld, object, path, "expect", FALSE);
	g_autofree gchar *expect_path = pal_json_path_member(path, "expect");
	static const struct {
		const gchar *name;
		PalGraphExpect expect;
	} simple[] = {
	    {"text", PAL_GRAPH_EXPECT_TEXT},
	    {"number", PAL_GRAPH_EXPECT_NUMBER},
	    {"email", PAL_GRAPH_EXPECT_EMAIL},
	    {"yesno", PAL_GRAPH_EXPECT_YESNO},
	    {"data", PAL_GRAPH_EXPECT_DATA},
	};

	n->expect = PAL_GRAPH_EXPECT_TEXT;
	if (expect == NULL)
		return;
	for (guint i = 0; i < G_N_ELEMENTS(simple); i++) {
		if (g_strcmp0(expect, simple[i].name) == 0) {
			n->expect = simple[i].expect;
			return;
		}
	}
	if (g_str_has_prefix(expect, "intent:") && expect[7] != '\0') {
		n->expect = PAL_GRAPH_EXPECT_INTENT;
		n->expect_arg = g_strdup(expect + 7);
		return;
	}
	if (g_str_has_prefix(expect, "regex:") && expect[6] != '\0') {
		g_autoptr(GError) error = NULL;
		n->expect = PAL_GRAPH_EXPECT_REGEX;
		n->regex = g_regex_new(expect + 6, G_REGEX_OPTIMIZE, 0, &error);
		if (n->regex == NULL)
			pal_graph_error(ld, expect_path, "invalid regular expression: %s", error->message);
		return;
	}
	pal_graph_error(ld,
			expect_path,
			"expected text, number, email, yesno, data, intent:<name> or regex:<pattern>, "
			"got \"%s\"",
			expect);
}

static void
pal_graph_node_free(PalGraphNode *n)
{
	g_free(n->name);
	g_free(n->next);
	pal_graph_value_free(n->text);
	pal_graph_value_free(n->data);
	g_clear_pointer(&n->quick_replies, g_ptr_array_unref);
	g_free(n->expect_arg);
	g_clear_pointer(&n->regex, g_regex_unref);
	pal_graph_path_free(n->store);
	pal_graph_value_free(n->reprompt);
	g_free(n->on_fail);
	pal_graph_value_free(n->value);
	g_clear_pointer(&n->cases, g_hash_table_unref);
	g_free(n->default_target);
	g_free(n->then_target);
	g_free(n->else_target);
	g_clear_pointer(&n->set_paths, g_ptr_array_unref);
	g_clear_pointer(&n->set_values, g_ptr_array_unref);
	g_free(n->method);
	pal_graph_value_free(n->url);
	g_clear_pointer(&n->header_names, g_ptr_array_unref);
	g_clear_pointer(&n->header_values, g_ptr_array_unref);
	pal_graph_value_free(n->body);
	g_free(n->on_error);
	g_free(n->provider);
	g_free(n->target);
	g_free(n);
}

static void
pal_graph_parse_switch(PalGraphLoader *ld, PalGraphNode *n, JsonObject *object, const gchar *path)
{
	g_autofree gchar *cases_path = NULL;
	JsonNode *cases;
	JsonObjectIter iter;
	const gchar *value;
	JsonNode *target;

	n->value = pal_graph_get_template(ld, object, path, "value", TRUE);
	n->default_target = pal_graph_get_ref(ld, object, path, "default", FALSE);
	n->cases = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	cases = pal_graph_get_object(ld, object, path, "cases", "an object of value → node", TRUE, &cases_path);
	if (cases == NULL)
		return;
	json_object_iter_init_ordered(&iter, json_node_get_object(cases));
	while (json_object_iter_next_ordered(&iter, &value, &target)) {
		g_autofree gchar *case_path = pal_json_path_member(cases_path, value);
		if (!pal_graph_is_string(target)) {
			pal_graph_error_got(ld, case_path, "a node name", target);
			continue;
		}
		pal_graph_add_ref(ld, case_path, json_node_get_string(target));
		g_hash_table_insert(n->cases, g_strdup(value), g_strdup(json_node_get_string(target)));
	}
}

/* conditions are Lua expressions; "{{ … }}" around one is accepted too */
static guint
pal_graph_compile_condition(PalGraphLoader *ld, JsonObject *object, const gchar *path)
{
	const gchar *condition = pal_graph_get_string(ld, object, path, "condition", TRUE);
	g_autofree gchar *expr = NULL;
	g_autoptr(GError) error = NULL;
	guint handle;

	if (condition == NULL)
		return 0;
	expr = g_strstrip(g_strdup(condition));
	if (g_str_has_prefix(expr, "{{") && g_str_has_suffix(expr, "}}") && strlen(expr) >= 4) {
		gchar *inner = g_strndup(expr + 2, strlen(expr) - 4);
		g_free(expr);
		expr = inner;
	}
	handle = pal_lua_compile_expression(ld->lua, expr, ld->lua_name, &error);
	if (handle == 0) {
		g_autofree gchar *p = pal_json_path_member(path, "condition");
		pal_graph_error(ld, p, "%s", error->message);
	}
	return handle;
}

static void
pal_graph_parse_set(PalGraphLoader *ld, PalGraphNode *n, JsonObject *object, const gchar *path)
{
	g_autofree gchar *values_path = NULL;
	JsonNode *values;
	JsonObjectIter iter;
	const gchar *target;
	JsonNode *value;

	n->set_paths = g_ptr_array_new_with_free_func((GDestroyNotify)pal_graph_path_free);
	n->set_values = g_ptr_array_new_with_free_func((GDestroyNotify)pal_graph_value_free);
	values = pal_graph_get_object(ld, object, path, "values", "an object of path → value", TRUE, &values_path);
	if (values == NULL)
		return;
	json_object_iter_init_ordered(&iter, json_node_get_object(values));
	while (json_object_iter_next_ordered(&iter, &target, &value)) {
		g_autofree gchar *value_path = pal_json_path_member(values_path, target);
		g_autoptr(GError) error = NULL;
		PalGraphPath *parsed = pal_graph_path_parse(target, &error);
		PalGraphValue *compiled;

		if (parsed == NULL) {
			pal_graph_error(ld, value_path, "%s", error->message);
			continue;
		}
		compiled = pal_graph_value_compile(ld->lua, value, value_path, ld->lua_name, ld->errors);
		if (compiled == NULL) {
			pal_graph_path_free(parsed);
			continue;
		}
		g_ptr_array_add(n->set_paths, parsed);
		g_ptr_array_add(n->set_values, compiled);
	}
}

static void
pal_graph_parse_http(PalGraphLoader *ld, PalGraphNode *n, JsonObject *object, const gchar *path)
{
	static const gchar *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", NULL};
	const gchar *method = pal_graph_get_string(ld, object, path, "method", FALSE);
	g_autofree gchar *headers_path = NULL;
	JsonNode *headers;
	JsonNode *body = json_object_get_member(object, "body");

	n->method = g_strdup(method != NULL ? method : "GET");
	if (method != NULL && !g_strv_contains(methods, method)) {
		g_autofree gchar *p = pal_json_path_member(path, "method");
		pal_graph_error(ld, p, "expected GET, POST, PUT, PATCH or DELETE, got \"%s\"", method);
	}
	n->url = pal_graph_get_template(ld, object, path, "url", TRUE);
	n->timeout_ms = PAL_GRAPH_FLOW_DEFAULT_HTTP_TIMEOUT_MS;
	pal_graph_get_uint(ld, object, path, "timeout", 1, PAL_GRAPH_FLOW_MAX_HTTP_TIMEOUT_MS, &n->timeout_ms);
	n->store = pal_graph_get_path(ld, object, path, "store");
	n->on_error = pal_graph_get_ref(ld, object, path, "onError", FALSE);
	n->header_names = g_ptr_array_new_with_free_func(g_free);
	n->header_values = g_ptr_array_new_with_free_func((GDestroyNotify)pal_graph_value_free);
	headers = pal_graph_get_object(ld, object, path, "headers", "an object of header name → value", FALSE, &headers_path);
	if (headers != NULL) {
		JsonObjectIter iter;
		const gchar *name;
		JsonNode *value;
		json_object_iter_init_ordered(&iter, json_node_get_object(headers));
		while (json_object_iter_next_ordered(&iter, &name, &value)) {
			g_autofree gchar *header_path = pal_json_path_member(headers_path, name);
			PalGraphValue *compiled = pal_graph_compile_template(ld, value, header_path);
			if (compiled == NULL)
				continue;
			g_ptr_array_add(n->header_names, g_strdup(name));
			g_ptr_array_add(n->header_values, compiled);
		}
	}
	if (body != NULL) {
		g_autofree gchar *body_path = pal_json_path_member(path, "body");
		n->body = pal_graph_value_compile(ld->lua, body, body_path, ld->lua_name, ld->errors);
	}
}

static PalGraphNode *
pal_graph_parse_node(PalGraphLoader *ld, const gchar *name, JsonNode *node, const gchar *path)
{
	PalGraphNode *n;
	JsonObject *object;
	const gchar *type;
	JsonObjectIter iter;
	const gchar *member;
	guint t;

	if (!JSON_NODE_HOLDS_OBJECT(node)) {
		pal_graph_error_got(ld, path, "a node object with a \"type\"", node);
		return NULL;
	}
	object = json_node_get_object(node);
	type = pal_graph_get_string(ld, object, path, "type", TRUE);
	if (type == NULL)
		return NULL;
	for (t = 0; t < G_N_ELEMENTS(pal_graph_node_types); t++)
		if (g_strcmp0(pal_graph_node_types[t].name, type) == 0)
			break;
	if (t == G_N_ELEMENTS(pal_graph_node_types)) {
		g_autofree gchar *type_path = pal_json_path_member(path, "type");
		pal_graph_error(ld,
				type_path,
				"unknown node type \"%s\" (expected say, question, switch, if, set, "
				"script, http, handover, goto or end)",
				type);
		return NULL;
	}
	/* a misspelt field is a mistake, not something to ignore */
	json_object_iter_init_ordered(&iter, object);
	while (json_object_iter_next_ordered(&iter, &member, NULL)) {
		const gchar *const *fields = pal_graph_node_types[t].fields;
		gboolean known = g_strcmp0(member, "type") == 0 || g_strcmp0(member, "description") == 0;
		for (guint i = 0; !known && i < G_N_ELEMENTS(pal_graph_node_types[t].fields) && fields[i] != NULL; i++)
			known = g_strcmp0(fields[i], member) == 0;
		if (!known) {
			g_autofree gchar *member_path = pal_json_path_member(path, member);
			g_autofree gchar *list = g_strjoinv(", ", (gchar **)fields);
			pal_graph_error(ld, member_path, "unknown field for a %s node (it has %s)", type, list);
		}
	}

	n = g_new0(PalGraphNode, 1);
	n->name = g_strdup(name);
	n->type = pal_graph_node_types[t].type;
	g_free(ld->lua_name);
	ld->lua_name = g_strdup_printf("flow %s, node %s", ld->flow_name, name);
	switch (n->type) {
	case PAL_GRAPH_NODE_SAY:
	case PAL_GRAPH_NODE_QUESTION: {
		g_autofree gchar *data_path = NULL;
		JsonNode *data;
		n->text = pal_graph_get_template(ld, object, path, "text", n->type == PAL_GRAPH_NODE_QUESTION);
		data = pal_graph_get_object(ld, object, path, "data", "an object", FALSE, &data_path);
		if (data != NULL)
			n->data = pal_graph_value_compile(ld->lua, data, data_path, ld->lua_name, ld->errors);
		if (n->type == PAL_GRAPH_NODE_SAY && !json_object_has_member(object, "data") &&
		    !json_object_has_member(object, "text")) {
			g_autofree gchar *text_path = pal_json_path_member(path, "text");
			pal_graph_error(ld, text_path, "missing (a say node needs \"text\" or \"data\")");
		}
		n->quick_replies = pal_graph_get_quick_replies(ld, object, path);
		n->next = pal_graph_get_ref(ld, object, path, "next", FALSE);
		if (n->type == PAL_GRAPH_NODE_QUESTION) {
			pal_graph_parse_expect(ld, n, object, path);
			n->store = pal_graph_get_path(ld, object, path, "store");
			n->reprompt = pal_graph_get_template(ld, object, path, "reprompt", FALSE);
			n->retries = 1;
			pal_graph_get_uint(ld, object, path, "retries", 0, PAL_GRAPH_FLOW_MAX_RETRIES, &n->retries);
			n->on_fail = pal_graph_get_ref(ld, object, path, "onFail", FALSE);
		}
		break;
	}
	case PAL_GRAPH_NODE_SWITCH:
		pal_graph_parse_switch(ld, n, object, path);
		break;
	case PAL_GRAPH_NODE_IF:
		n->condition = pal_graph_compile_condition(ld, object, path);
		n->then_target = pal_graph_get_ref(ld, object, path, "then", FALSE);
		n->else_target = pal_graph_get_ref(ld, object, path, "else", FALSE);
		break;
	case PAL_GRAPH_NODE_SET:
		pal_graph_parse_set(ld, n, object, path);
		n->next = pal_graph_get_ref(ld, object, path, "next", FALSE);
		break;
	case PAL_GRAPH_NODE_SCRIPT: {
		const gchar *code = pal_graph_get_string(ld, object, path, "code", TRUE);
		n->next = pal_graph_get_ref(ld, object, path, "next", FALSE);
		if (code != NULL) {
			g_autoptr(GError) error = NULL;
			n->code = pal_lua_compile_chunk(ld->lua, code, ld->lua_name, &error);
			if (n->code == 0) {
				g_autofree gchar *code_path = pal_json_path_member(path, "code");
				pal_graph_error(ld, code_path, "%s", error->message);
			}
		}
		break;
	}
	case PAL_GRAPH_NODE_HTTP:
		pal_graph_parse_http(ld, n, object, path);
		n->next = pal_graph_get_ref(ld, object, path, "next", FALSE);
		break;
	case PAL_GRAPH_NODE_HANDOVER: {
		const gchar *provider = pal_graph_get_string(ld, object, path, "provider", FALSE);
		n->provider = g_strdup(provider != NULL ? provider : "default");
		n->text = pal_graph_get_template(ld, object, path, "text", FALSE);
		n->next = pal_graph_get_ref(ld, object, path, "next", FALSE);
		break;
	}
	case PAL_GRAPH_NODE_GOTO:
		n->target = pal_graph_get_ref(ld, object, path, "target", TRUE);
		pal_graph_get_bool(ld, object, path, "wait", &n->wait);
		break;
	case PAL_GRAPH_NODE_END:
		pal_graph_get_bool(ld, object, path, "resetContext", &n->reset_context);
		break;
	default:
		g_assert_not_reached();
	}
	return n;
}

void
pal_graph_flow_free(PalGraphFlow *self)
{
	if (self == NULL)
		return;
	g_free(self->name);
	g_free(self->locale);
	g_free(self->start);
	g_clear_pointer(&self->context, json_object_unref);
	g_clear_pointer(&self->nodes, g_hash_table_unref);
	g_clear_object(&self->lua);
	g_free(self);
}

PalGraphNode *
pal_graph_flow_get_node(PalGraphFlow *self, const gchar *name)
{
	return name != NULL ? g_hash_table_lookup(self->nodes, name) : NULL;
}

static void
pal_graph_loader_clear(PalGraphLoader *ld)
{
	g_ptr_array_unref(ld->errors);
	g_ptr_array_unref(ld->ref_paths);
	g_ptr_array_unref(ld->ref_names);
	g_free(ld->flow_name);
	g_free(ld->lua_name);
}

PalGraphFlow *
pal_graph_flow_new_from_node(JsonNode *root, const gchar *origin, PalLua *lua, GError **error)
{
	static const gchar *const root_members[] = {"name", "locale", "start", "context", "nodes",
						    "description", "version", "$schema", NULL};
	g_autoptr(PalGraphFlow) self = g_new0(PalGraphFlow, 1);
	PalGraphLoader ld = {0};
	JsonObject *object;
	JsonNode *nodes, *context;
	JsonObjectIter iter;
	const gchar *member;
	JsonNode *value;
	const gchar *name;
	const gchar *start;
	const gchar *locale;

	if (!JSON_NODE_HOLDS_OBJECT(root)) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_INVALID_DATA,
			    "(root): expected a flow object with \"start\" and \"nodes\"");
		return NULL;
	}
	object = json_node_get_object(root);
	ld.lua = lua;
	ld.errors = g_ptr_array_new_with_free_func(g_free);
	ld.ref_paths = g_ptr_array_new_with_free_func(g_free);
	ld.ref_names = g_ptr_array_new_with_free_func(g_free);
	self->lua = g_object_ref(lua);
	self->nodes = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)pal_graph_node_free);

	json_object_iter_init_ordered(&iter, object);
	while (json_object_iter_next_ordered(&iter, &member, NULL))
		if (!g_strv_contains(root_members, member))
			pal_graph_error(&ld,
					member,
					"unknown field (a flow has name, locale, start, context, nodes, "
					"description, version)");
	name = pal_graph_get_string(&ld, object, "", "name", FALSE);
	if (name == NULL) {
		g_autofree gchar *base = g_path_get_basename(origin);
		gchar *dot = strrchr(base, '.');
		if (dot != NULL && dot != base)
			*dot = '\0';
		self->name = g_strdup(base);
	} else {
		self->name = g_strdup(name);
	}
	ld.flow_name = g_strdup(self->name);
	locale = pal_graph_get_string(&ld, object, "", "locale", FALSE);
	self->locale = g_strdup(locale);
	start = pal_graph_get_string(&ld, object, "", "start", TRUE);
	self->start = g_strdup(start);

	context = json_object_get_member(object, "context");
	if (context != NULL && !JSON_NODE_HOLDS_OBJECT(context))
		pal_graph_error_got(&ld, "context", "an object", context);
	else if (context != NULL)
		self->context = pal_json_object_deep_copy(json_node_get_object(context));
	if (self->context == NULL)
		self->context = json_object_new();

	nodes = json_object_get_member(object, "nodes");
	if (nodes == NULL) {
		pal_graph_error(&ld, "nodes", "missing (an object of node name → node is required)");
	} else if (!JSON_NODE_HOLDS_OBJECT(nodes) || json_object_get_size(json_node_get_object(nodes)) == 0 ||
		   json_object_get_size(json_node_get_object(nodes)) > PAL_GRAPH_FLOW_MAX_NODES) {
		g_autofree gchar *expected =
		    g_strdup_printf("an object of 1 to %u nodes", PAL_GRAPH_FLOW_MAX_NODES);
		pal_graph_error_got(&ld, "nodes", expected, nodes);
	} else {
		json_object_iter_init_ordered(&iter, json_node_get_object(nodes));
		while (json_object_iter_next_ordered(&iter, &member, &value)) {
			g_autofree gchar *path = pal_json_path_member("nodes", member);
			PalGraphNode *n;
			/* "?" starts the entry point of a session waiting for an answer */
			if (member[0] == '\0' || member[0] == '?') {
				pal_graph_error(&ld, path, "a node name must be non-empty and not start with \"?\"");
				continue;
			}
			n = pal_graph_parse_node(&ld, member, value, path);
			if (n != NULL)
				g_hash_table_insert(self->nodes, n->name, n);
		}
	}
	if (self->start != NULL && nodes != NULL && JSON_NODE_HOLDS_OBJECT(nodes) &&
	    !json_object_has_member(json_node_get_object(nodes), self->start))
		pal_graph_error(&ld, "start", "no node named \"%s\"", self->start);
	for (guint i = 0; i < ld.ref_names->len; i++) {
		const gchar *ref = g_ptr_array_index(ld.ref_names, i);
		if (nodes != NULL && JSON_NODE_HOLDS_OBJECT(nodes) &&
		    !json_object_has_member(json_node_get_object(nodes), ref))
			pal_graph_error(&ld, g_ptr_array_index(ld.ref_paths, i), "no node named \"%s\"", ref);
	}

	if (ld.errors->len > 0) {
		g_autofree gchar *joined = NULL;
		g_ptr_array_add(ld.errors, NULL);
		joined = g_strjoinv("\n", (gchar **)ld.errors->pdata);
		g_set_error_literal(error, PAL_ERROR, PAL_ERROR_INVALID_DATA, joined);
		pal_graph_loader_clear(&ld);
		return NULL;
	}
	pal_graph_loader_clear(&ld);
	return g_steal_pointer(&self);
}

PalGraphFlow *
pal_graph_flow_load(const gchar *filename, PalLua *lua, GError **error)
{
	g_autofree gchar *contents = NULL;
	gsize len = 0;
	g_autoptr(JsonNode) root = NULL;
	g_autoptr(GError) local_error = NULL;
	GStatBuf st;

	/* never trust a size: a flow is a small file */
	if (g_stat(filename, &st) == 0 && st.st_size > PAL_GRAPH_FLOW_MAX_FILE_SIZE) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_INVALID_DATA,
			    "%s: the file has %lld bytes, more than the %u a flow may have",
			    filename,
			    (long long)st.st_size,
			    PAL_GRAPH_FLOW_MAX_FILE_SIZE);
		return NULL;
	}
	if (!g_file_get_contents(filename, &contents, &len, &local_error)) {
		g_set_error(error, PAL_ERROR, PAL_ERROR_NOT_FOUND, "%s", local_error->message);
		return NULL;
	}
	root = pal_json_parse_bounded(contents,
				      len,
				      PAL_GRAPH_FLOW_MAX_FILE_SIZE,
				      PAL_GRAPH_FLOW_MAX_DEPTH,
				      filename,
				      error);
	if (root == NULL)
		return NULL;
	return pal_graph_flow_new_from_node(root, filename, lua, error);
}
