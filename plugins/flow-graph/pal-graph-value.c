/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "pal-graph-value.h"

typedef enum {
	PAL_GRAPH_VALUE_LITERAL, /* no template anywhere below: a copy per render */
	PAL_GRAPH_VALUE_EXPR,	 /* exactly "{{ expr }}": typed */
	PAL_GRAPH_VALUE_TEXT,	 /* text with expressions in it */
	PAL_GRAPH_VALUE_OBJECT,
	PAL_GRAPH_VALUE_ARRAY,
} PalGraphValueKind;

/* a piece of a text template: literal text, or an expression (handle > 0) */
typedef struct {
	gchar *text;
	guint handle;
} PalGraphPart;

typedef struct {
	gchar *name;
	PalGraphValue *value;
} PalGraphMember;

struct _PalGraphValue {
	PalGraphValueKind kind;
	JsonNode *literal;
	guint handle;
	GArray *parts;	   /* PalGraphPart, for TEXT */
	GPtrArray *items;  /* PalGraphMember* for OBJECT, PalGraphValue* for ARRAY */
};

static void
pal_graph_part_clear(PalGraphPart *part)
{
	g_free(part->text);
}

static void
pal_graph_member_free(PalGraphMember *member)
{
	g_free(member->name);
	pal_graph_value_free(member->value);
	g_free(member);
}

void
pal_graph_value_free(PalGraphValue *value)
{
	if (value == NULL)
		return;
	g_clear_pointer(&value->literal, json_node_unref);
	g_clear_pointer(&value->parts, g_array_unref);
	g_clear_pointer(&value->items, g_ptr_array_unref);
	g_free(value);
}

static PalGraphValue *
pal_graph_value_new_literal(JsonNode *node)
{
	PalGraphValue *value = g_new0(PalGraphValue, 1);

	value->kind = PAL_GRAPH_VALUE_LITERAL;
	value->literal = pal_json_node_deep_copy(node);
	return value;
}

static void
pal_graph_add_error(GPtrArray *errors, const gchar *path, const gchar *message)
{
	g_ptr_array_add(errors, g_strdup_printf("%s: %s", path, message));
}

static guint
pal_graph_compile_expr(PalLua *lua,
		       const gchar *expr,
		       const gchar *path,
		       const gchar *lua_name,
		       GPtrArray *errors)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *stripped = g_strstrip(g_strdup(expr));
	guint handle;

	if (stripped[0] == '\0') {
		pal_graph_add_error(errors, path, "empty expression \"{{ }}\"");
		return 0;
	}
	handle = pal_lua_compile_expression(lua, stripped, lua_name, &error);
	if (handle == 0)
		pal_graph_add_error(errors, path, error->message);
	return handle;
}

PalGraphValue *
pal_graph_value_compile_string(PalLua *lua,
			       const gchar *str,
			       const gchar *path,
			       const gchar *lua_name,
			       GPtrArray *errors)
{
	g_autoptr(PalGraphValue) value = g_new0(PalGraphValue, 1);
	const gchar *p = str;
	gboolean ok = TRUE;
	gsize len = strlen(str);

	/* exactly one expression keeps its type */
	if (g_str_has_prefix(str, "{{") && len >= 4 && g_str_has_suffix(str, "}}") &&
	    strstr(str + 2, "}}") == str + len - 2 && strstr(str + 2, "{{") == NULL) {
		g_autofree gchar *expr = g_strndup(str + 2, len - 4);
		value->kind = PAL_GRAPH_VALUE_EXPR;
		value->handle = pal_graph_compile_expr(lua, expr, path, lua_name, errors);
		return value->handle != 0 ? g_steal_pointer(&value) : NULL;
	}
	if (strstr(str, "{{") == NULL) {
		g_autoptr(JsonNode) node = json_node_new(JSON_NODE_VALUE);
		json_node_set_string(node, str);
		return pal_graph_value_new_literal(node);
	}
	value->kind = PAL_GRAPH_VALUE_TEXT;
	value->parts = g_array_new(FALSE, TRUE, sizeof(PalGraphPart));
	g_array_set_clear_func(value->parts, (GDestroyNotify)pal_graph_part_clear);
	while (*p != '\0') {
		const gchar *open = strstr(p, "{{");
		const gchar *close;
		PalGraphPart part = {NULL, 0};

		if (open == NULL) {
			part.text = g_strdup(p);
			g_array_append_val(value->parts, part);
			break;
		}
		if (open > p) {
			part.text = g_strndup(p, (gsize)(open - p));
			g_array_append_val(value->parts, part);
		}
		close = strstr(open + 2, "}}");
		if (close == NULL) {
			pal_graph_add_error(errors, path, "\"{{\" without a closing \"}}\"");
			return NULL;
		} else {
			g_autofree gchar *expr = g_strndup(open + 2, (gsize)(close - open - 2));
			PalGraphPart expr_part = {NULL, 0};
			expr_part.handle = pal_graph_compile_expr(lua, expr, path, lua_name, errors);
			ok = ok && expr_part.handle != 0;
			g_array_append_val(value->parts, expr_part);
		}
		p = close + 2;
	}
	return ok ? g_steal_pointer(&value) : NULL;
}

static gboolean
pal_graph_value_has_template(JsonNode *node)
{
	switch (json_node_get_node_type(node)) {
	case JSON_NODE_OBJECT: {
		JsonObjectIter iter;
		JsonNode *member;
		json_object_iter_init(&iter, json_node_get_object(node));
		while (json_object_iter_next(&iter, NULL, &member))
			if (pal_graph_value_has_template(member))
				return TRUE;
		return FALSE;
	}
	case JSON_NODE_ARRAY: {
		JsonArray *array = json_node_get_array(node);
		for (guint i = 0; i < json_array_get_length(array); i++)
			if (pal_graph_value_has_template(json_array_get_element(array, i)))
				return TRUE;
		return FALSE;
	}
	case JSON_NODE_VALUE:
		return json_node_get_value_type(node) == G_TYPE_STRING &&
		       strstr(json_node_get_string(node), "{{") != NULL;
	default:
		return FALSE;
	}
}

PalGraphValue *
pal_graph_value_compile(PalLua *lua,
			JsonNode *node,
			const gchar *path,
			const gchar *lua_name,
			GPtrArray *errors)
{
	g_autoptr(PalGraphValue) value = NULL;
	gboolean ok = TRUE;

	if (!pal_graph_value_has_template(node))
		return pal_graph_value_new_literal(node);
	if (JSON_NODE_HOLDS_VALUE(node))
		return pal_graph_value_compile_string(lua, json_node_get_string(node), path, lua_name, errors);
	value = g_new0(PalGraphValue, 1);
	if (JSON_NODE_HOLDS_OBJECT(node)) {
		JsonObjectIter iter;
		const gchar *name;
		JsonNode *member;

		value->kind = PAL_GRAPH_VALUE_OBJECT;
		value->items = g_ptr_array_new_with_free_func((GDestroyNotify)pal_graph_member_free);
		json_object_iter_init_ordered(&iter, json_node_get_object(node));
		while (json_object_iter_next_ordered(&iter, &name, &member)) {
			g_autofree gchar *member_path = pal_json_path_member(path, name);
			PalGraphValue *child = pal_graph_value_compile(lua, member, member_path, lua_name, errors);
			PalGraphMember *m;

			if (child == NULL) {
				ok = FALSE;
				continue;
			}
			m = g_new0(PalGraphMember, 1);
			m->name = g_strdup(name);
			m->value = child;
			g_ptr_array_add(value->items, m);
		}
	} else {
		JsonArray *array = json_node_get_array(node);

		value->kind = PAL_GRAPH_VALUE_ARRAY;
		value->items = g_ptr_array_new_with_free_func((GDestroyNotify)pal_graph_value_free);
		for (guint i = 0; i < json_array_get_length(array); i++) {
			g_autofree gchar *item_path = pal_json_path_index(path, i);
			PalGraphValue *child = pal_graph_value_compile(lua,
								       json_array_get_element(array, i),
								       item_path,
								       lua_name,
								       errors);
			if (child == NULL) {
				ok = FALSE;
				continue;
			}
			g_ptr_array_add(value->items, child);
		}
	}
	return ok ? g_steal_pointer(&value) : NULL;
}

static JsonNode *
pal_graph_eval(PalLua *lua, guint handle, GError **error)
{
	JsonNode *result = NULL;

	if (!pal_lua_eval(lua, handle, &result, NULL, error))
		return NULL;
	return result != NULL ? result : json_node_new(JSON_NODE_NULL);
}

JsonNode *
pal_graph_value_render(PalGraphValue *value, PalLua *lua, GError **error)
{
	switch (value->kind) {
	case PAL_GRAPH_VALUE_LITERAL:
		return pal_json_node_deep_copy(value->literal);
	case PAL_GRAPH_VALUE_EXPR:
		return pal_graph_eval(lua, value->handle, error);
	case PAL_GRAPH_VALUE_TEXT: {
		g_autofree gchar *text = pal_graph_value_render_text(value, lua, error);
		JsonNode *node;
		if (text == NULL)
			return NULL;
		node = json_node_new(JSON_NODE_VALUE);
		json_node_set_string(node, text);
		return node;
	}
	case PAL_GRAPH_VALUE_OBJECT: {
		g_autoptr(JsonObject) object = json_object_new();
		JsonNode *node;
		for (guint i = 0; i < value->items->len; i++) {
			PalGraphMember *m = g_ptr_array_index(value->items, i);
			JsonNode *child = pal_graph_value_render(m->value, lua, error);
			if (child == NULL)
				return NULL;
			json_object_set_member(object, m->name, child);
		}
		node = json_node_new(JSON_NODE_OBJECT);
		json_node_set_object(node, object);
		return node;
	}
	case PAL_GRAPH_VALUE_ARRAY: {
		g_autoptr(JsonArray) array = json_array_new();
		JsonNode *node;
		for (guint i = 0; i < value->items->len; i++) {
			JsonNode *child = pal_graph_value_render(g_ptr_array_index(value->items, i), lua, error);
			if (child == NULL)
				return NULL;
			json_array_add_element(array, child);
		}
		node = json_node_new(JSON_NODE_ARRAY);
		json_node_set_array(node, array);
		return node;
	}
	default:
		g_assert_not_reached();
	}
}

gchar *
pal_graph_value_render_text(PalGraphValue *value, PalLua *lua, GError **error)
{
	if (value->kind == PAL_GRAPH_VALUE_TEXT) {
		g_autoptr(GString) out = g_string_new(NULL);
		for (guint i = 0; i < value->parts->len; i++) {
			PalGraphPart *part = &g_array_index(value->parts, PalGraphPart, i);
			g_autoptr(JsonNode) result = NULL;
			g_autofree gchar *text = NULL;

			if (part->handle == 0) {
				g_string_append(out, part->text);
				continue;
			}
			result = pal_graph_eval(lua, part->handle, error);
			if (result == NULL)
				return NULL;
			text = pal_lua_json_to_text(result);
			g_string_append(out, text);
		}
		return g_string_free(g_steal_pointer(&out), FALSE);
	} else {
		g_autoptr(JsonNode) result = pal_graph_value_render(value, lua, error);
		if (result == NULL)
			return NULL;
		return pal_lua_json_to_text(result);
	}
}
