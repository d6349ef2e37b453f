/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "pal-json-util.h"
#include "pal-error.h"

/* line and column (both from 1, the column in bytes like json-glib's messages) of @offset */
static void
pal_json_offset_to_position(const gchar *data, gsize offset, guint *line, guint *column)
{
	guint l = 1;
	gsize line_start = 0;

	for (gsize i = 0; i < offset; i++) {
		if (data[i] == '\n') {
			l++;
			line_start = i + 1;
		}
	}
	*line = l;
	*column = (guint)(offset - line_start) + 1;
}

/* the byte offset of the first bracket that goes deeper than @max_depth, or -1.
 *
 * This mirrors the lexer of json-glib 1.6.6 (a GScanner fork) so that it never counts fewer
 * levels than the parser will recurse into:
 *  - "…" strings, where a backslash always consumes the next byte;
 *  - '…' strings, accepted by json-glib 1.6, which have no escapes;
 *  - comments, which json-glib 1.6 opens with '/' and closes with the next '/' (its single-line
 *    comment pair is "//"; "/ * … * /" works only by accident): quotes and brackets inside are
 *    neither strings nor nesting for the parser, so they are not for us either.
 * Brackets outside those count; a closing bracket at depth 0 is left for the parser to refuse.
 * A json-glib upgrade must re-check this against its lexer (tests/test-endpoint.c has one
 * case per lexical form). */
static gssize
pal_json_find_too_deep(const gchar *data, gsize len, guint max_depth)
{
	enum { STATE_VALUE, STATE_STRING_DQ, STATE_STRING_SQ, STATE_COMMENT } state = STATE_VALUE;
	guint depth = 0;

	for (gsize i = 0; i < len; i++) {
		gchar c = data[i];
		switch (state) {
		case STATE_VALUE:
			if (c == '[' || c == '{') {
				if (++depth > max_depth)
					return (gssize)i;
			} else if (c == ']' || c == '}') {
				if (depth > 0)
					depth--;
			} else if (c == '"') {
				state = STATE_STRING_DQ;
			} else if (c == '\'') {
				state = STATE_STRING_SQ;
			} else if (c == '/') {
				state = STATE_COMMENT;
			}
			break;
		case STATE_STRING_DQ:
			if (c == '\\')
				i++; /* the escaped byte, whatever it is */
			else if (c == '"')
				state = STATE_VALUE;
			break;
		case STATE_STRING_SQ:
			if (c == '\'')
				state = STATE_VALUE;
			break;
		case STATE_COMMENT:
			if (c == '/')
				state = STATE_VALUE;
			break;
		default:
			g_assert_not_reached();
		}
	}
	return -1;
}

/**
 * pal_json_check_depth:
 * @data: JSON text, not necessarily NUL-terminated
 * @len: its length in bytes
 * @max_depth: the deepest nesting allowed; `[]` and `{}` are depth 1
 *
 * A byte scan (no allocation) that refuses input nested deeper than @max_depth before it
 * reaches json-glib, whose recursive parser crashes on deep input. It does not validate
 * anything else: malformed input within the limit is left to the parser.
 *
 * Returns: %TRUE when the nesting is within the limit, else %FALSE with a
 * %PAL_ERROR_INVALID_DATA error naming the line and column of the offending bracket
 */
gboolean
pal_json_check_depth(const gchar *data, gsize len, guint max_depth, GError **error)
{
	gssize offset;
	guint line;
	guint column;

	g_return_val_if_fail(data != NULL || len == 0, FALSE);

	offset = pal_json_find_too_deep(data, len, max_depth);
	if (offset < 0)
		return TRUE;
	pal_json_offset_to_position(data, (gsize)offset, &line, &column);
	g_set_error(error,
		    PAL_ERROR,
		    PAL_ERROR_INVALID_DATA,
		    "line %u, column %u: JSON nesting is deeper than %u levels",
		    line,
		    column,
		    max_depth);
	return FALSE;
}

/**
 * pal_json_parse_bounded:
 * @data: JSON text, not necessarily NUL-terminated
 * @len: its length in bytes
 * @max_size: the largest @len accepted
 * @max_depth: see pal_json_check_depth()
 * @origin: names the input in error messages (a file path, "request body")
 *
 * Returns: (transfer full): the parsed root, or %NULL with a %PAL_ERROR_INVALID_DATA error
 * that starts with "@origin:" and, where known, "line:column:"
 */
JsonNode *
pal_json_parse_bounded(const gchar *data,
		       gsize len,
		       gsize max_size,
		       guint max_depth,
		       const gchar *origin,
		       GError **error)
{
	const gchar *end = NULL;
	gssize offset;
	guint line;
	guint column;
	JsonNode *root;
	g_autoptr(JsonParser) parser = NULL;
	g_autoptr(GError) error_local = NULL;

	g_return_val_if_fail(data != NULL || len == 0, NULL);
	g_return_val_if_fail(origin != NULL, NULL);

	if (len > max_size || len > G_MAXSSIZE) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_INVALID_DATA,
			    "%s: expected at most %" G_GSIZE_FORMAT " bytes, got %" G_GSIZE_FORMAT,
			    origin,
			    max_size,
			    len);
		return NULL;
	}
	/* json-glib checks this too, but without saying where; this also refuses NUL bytes */
	if (!g_utf8_validate_len(data, len, &end)) {
		pal_json_offset_to_position(data, (gsize)(end - data), &line, &column);
		g_set_error(
		    error,
		    PAL_ERROR,
		    PAL_ERROR_INVALID_DATA,
		    "%s:%u:%u: expected UTF-8 text, got an invalid byte sequence or a NUL byte",
		    origin,
		    line,
		    column);
		return NULL;
	}
	offset = pal_json_find_too_deep(data, len, max_depth);
	if (offset >= 0) {
		pal_json_offset_to_position(data, (gsize)offset, &line, &column);
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_INVALID_DATA,
			    "%s:%u:%u: JSON nesting is deeper than %u levels",
			    origin,
			    line,
			    column,
			    max_depth);
		return NULL;
	}

	parser = json_parser_new();
	if (!json_parser_load_from_data(parser, data, (gssize)len, &error_local)) {
		const gchar *msg = error_local->message;
		/* json-glib says "<data>:line:column: Parse error: …" */
		if (g_str_has_prefix(msg, "<data>:")) {
			g_set_error(error,
				    PAL_ERROR,
				    PAL_ERROR_INVALID_DATA,
				    "%s:%s",
				    origin,
				    msg + strlen("<data>:"));
		} else {
			g_set_error(error,
				    PAL_ERROR,
				    PAL_ERROR_INVALID_DATA,
				    "%s: %s",
				    origin,
				    msg);
		}
		return NULL;
	}
	root = json_parser_steal_root(parser);
	if (root == NULL) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_INVALID_DATA,
			    "%s: expected a JSON value, got an empty document",
			    origin);
		return NULL;
	}
	return root;
}

/* reads @src without taking references on it (json-glib reference counts are not atomic, so
 * an object shared between threads must not be ref'd by two of them) */
JsonObject *
pal_json_object_deep_copy(JsonObject *src)
{
	JsonObject *dst = json_object_new();
	g_autoptr(GList) members = json_object_get_members(src);

	for (GList *l = members; l != NULL; l = l->next) {
		const gchar *key = l->data;
		json_object_set_member(dst, key, pal_json_node_deep_copy(json_object_get_member(src, key)));
	}
	return dst;
}

/**
 * pal_json_node_deep_copy:
 * @node: a JSON node
 *
 * Returns: (transfer full): a copy sharing no object, array or value with @node, not sealed
 */
JsonNode *
pal_json_node_deep_copy(JsonNode *node)
{
	g_return_val_if_fail(node != NULL, NULL);

	switch (JSON_NODE_TYPE(node)) {
	case JSON_NODE_OBJECT: {
		g_autoptr(JsonObject) dst = pal_json_object_deep_copy(json_node_get_object(node));
		return json_node_init_object(json_node_alloc(), dst);
	}
	case JSON_NODE_ARRAY: {
		JsonArray *src = json_node_get_array(node);
		guint n = json_array_get_length(src);
		g_autoptr(JsonArray) dst = json_array_sized_new(n);
		for (guint i = 0; i < n; i++)
			json_array_add_element(
			    dst,
			    pal_json_node_deep_copy(json_array_get_element(src, i)));
		return json_node_init_array(json_node_alloc(), dst);
	}
	case JSON_NODE_VALUE: {
		GType type = json_node_get_value_type(node);
		if (type == G_TYPE_STRING)
			return json_node_init_string(json_node_alloc(), json_node_get_string(node));
		if (type == G_TYPE_INT64)
			return json_node_init_int(json_node_alloc(), json_node_get_int(node));
		if (type == G_TYPE_DOUBLE)
			return json_node_init_double(json_node_alloc(), json_node_get_double(node));
		if (type == G_TYPE_BOOLEAN)
			return json_node_init_boolean(json_node_alloc(),
						      json_node_get_boolean(node));
		return json_node_copy(node);
	}
	case JSON_NODE_NULL:
	default:
		return json_node_new(JSON_NODE_NULL);
	}
}

/**
 * pal_quote_for_message:
 * @str: (nullable): any string
 * @max_chars: the number of characters kept before "…"; 0 keeps all
 *
 * Returns: (transfer full): @str in double quotes with quotes, backslashes and control
 * characters escaped, or `null`
 */
gchar *
pal_quote_for_message(const gchar *str, guint max_chars)
{
	g_autofree gchar *valid = NULL;
	GString *out;
	guint n = 0;

	if (str == NULL)
		return g_strdup("null");
	valid = g_utf8_make_valid(str, -1);
	out = g_string_new("\"");
	for (const gchar *p = valid; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (max_chars > 0 && n == max_chars) {
			g_string_append(out, "…");
			break;
		}
		n++;
		if (c == '"' || c == '\\')
			g_string_append_printf(out, "\\%c", (gchar)c);
		else if (c == '\n')
			g_string_append(out, "\\n");
		else if (c == '\r')
			g_string_append(out, "\\r");
		else if (c == '\t')
			g_string_append(out, "\\t");
		else if (c < 0x20 || c == 0x7f)
			g_string_append_printf(out, "\\u%04x", c);
		else
			g_string_append_unichar(out, c);
	}
	g_string_append_c(out, '"');
	return g_string_free(out, FALSE);
}

/* the shortest text from 6 significant digits up that reads back as @value: "2.5", "1e+20",
 * and "2.0000001" where "%g" alone would say "2" (a riddle after "expected an integer") */
static gchar *
pal_json_describe_double(gdouble value)
{
	gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

	for (gint precision = 6; precision < 17; precision++) {
		gchar format[8];

		g_snprintf(format, sizeof(format), "%%.%dg", precision);
		g_ascii_formatd(buf, sizeof(buf), format, value);
		if (g_ascii_strtod(buf, NULL) == value)
			return g_strdup(buf);
	}
	return g_strdup(g_ascii_formatd(buf, sizeof(buf), "%.17g", value));
}

/**
 * pal_json_describe_node:
 * @node: (nullable): a JSON node
 *
 * Returns: (transfer full): a short description for "got …" in error messages
 */
gchar *
pal_json_describe_node(JsonNode *node)
{
	GType type;

	if (node == NULL || JSON_NODE_HOLDS_NULL(node))
		return g_strdup("null");
	if (JSON_NODE_HOLDS_OBJECT(node))
		return g_strdup("an object");
	if (JSON_NODE_HOLDS_ARRAY(node))
		return g_strdup("an array");
	type = json_node_get_value_type(node);
	if (type == G_TYPE_STRING)
		return pal_quote_for_message(json_node_get_string(node), 40);
	if (type == G_TYPE_INT64)
		return g_strdup_printf("%" G_GINT64_FORMAT, json_node_get_int(node));
	if (type == G_TYPE_DOUBLE)
		return pal_json_describe_double(json_node_get_double(node));
	if (type == G_TYPE_BOOLEAN)
		return g_strdup(json_node_get_boolean(node) ? "true" : "false");
	return g_strdup(g_type_name(type));
}

/**
 * pal_json_node_get_uint:
 * @node: a JSON node
 * @path: the JSON path of @node, for the error message ("flow.timeoutMs")
 * @min: the smallest value accepted
 * @max: the largest value accepted
 * @out: (out): the value, set only on success
 *
 * Reads a whole number in [@min, @max]. A number with a zero fraction (3000.0) counts as an
 * integer: JSON does not tell them apart, and some generators write every number that way.
 *
 * Returns: %TRUE with *@out set, or %FALSE with a %PAL_ERROR_INVALID_DATA error
 * "@path: expected an integer from @min to @max, got …"
 */
gboolean
pal_json_node_get_uint(JsonNode *node,
		       const gchar *path,
		       guint min,
		       guint max,
		       guint *out,
		       GError **error)
{
	g_autofree gchar *got = NULL;

	g_return_val_if_fail(node != NULL, FALSE);
	g_return_val_if_fail(path != NULL, FALSE);
	g_return_val_if_fail(out != NULL, FALSE);

	if (JSON_NODE_HOLDS_VALUE(node)) {
		GType type = json_node_get_value_type(node);
		if (type == G_TYPE_INT64) {
			gint64 v = json_node_get_int(node);
			if (v >= (gint64)min && v <= (gint64)max) {
				*out = (guint)v;
				return TRUE;
			}
		} else if (type == G_TYPE_DOUBLE) {
			gdouble v = json_node_get_double(node);
			/* the range first: the cast of a value out of range would be undefined */
			if (v >= (gdouble)min && v <= (gdouble)max && v == (gdouble)(gint64)v) {
				*out = (guint)v;
				return TRUE;
			}
		}
	}
	got = pal_json_describe_node(node);
	g_set_error(error,
		    PAL_ERROR,
		    PAL_ERROR_INVALID_DATA,
		    "%s: expected an integer from %u to %u, got %s",
		    path,
		    min,
		    max,
		    got);
	return FALSE;
}

static gboolean
pal_json_is_plain_member(const gchar *member)
{
	if (member[0] == '\0')
		return FALSE;
	for (const gchar *p = member; *p != '\0'; p++) {
		if (!g_ascii_isalnum(*p) && *p != '_' && *p != '-' && *p != '$')
			return FALSE;
	}
	return TRUE;
}

gchar *
pal_json_path_member(const gchar *parent, const gchar *member)
{
	g_return_val_if_fail(member != NULL, NULL);

	if (pal_json_is_plain_member(member)) {
		if (parent == NULL || parent[0] == '\0')
			return g_strdup(member);
		return g_strdup_printf("%s.%s", parent, member);
	} else {
		g_autofree gchar *quoted = pal_quote_for_message(member, 40);
		return g_strdup_printf("%s[%s]", parent != NULL ? parent : "", quoted);
	}
}

gchar *
pal_json_path_index(const gchar *parent, guint index)
{
	return g_strdup_printf("%s[%u]", parent != NULL ? parent : "", index);
}

/**
 * pal_secure_equal:
 * @a: (nullable): a secret
 * @b: (nullable): a candidate
 *
 * Compares without an early exit, so that an attacker who measures the time taken learns
 * nothing about how many leading bytes matched. Only the lengths are compared in the usual
 * way: a length is not worth hiding for tokens of a fixed format.
 *
 * Returns: %TRUE when both are equal; %NULL never equals anything
 */
gboolean
pal_secure_equal(const gchar *a, const gchar *b)
{
	gsize len;
	volatile guchar diff = 0;

	if (a == NULL || b == NULL)
		return FALSE;
	len = strlen(a);
	if (len != strlen(b))
		return FALSE;
	for (gsize i = 0; i < len; i++)
		diff |= (guchar)a[i] ^ (guchar)b[i];
	return diff == 0;
}
