/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* JSON helpers for the gateway and plugins: bounded parsing of untrusted text, deep copies,
 * and the JSON paths and value descriptions that error messages use */

/* refuses @data when its JSON nesting (arrays and objects) is deeper than @max_depth,
 * without parsing it: json-glib 1.6 recurses and crashes on deep input (PLATFORM-NOTES 13) */
gboolean
pal_json_check_depth(const gchar *data, gsize len, guint max_depth, GError **error);

/* size, UTF-8 and depth checks, then the parse; errors are PAL_ERROR_INVALID_DATA and start
 * with "@origin:line:column:" where a position is known; the root may be any JSON value */
JsonNode *
pal_json_parse_bounded(const gchar *data,
		       gsize len,
		       gsize max_size,
		       guint max_depth,
		       const gchar *origin,
		       GError **error);

/* a copy that shares nothing with @node (json_node_copy() shares objects and arrays) */
JsonNode *
pal_json_node_deep_copy(JsonNode *node);
JsonObject *
pal_json_object_deep_copy(JsonObject *object);

/* what a value is, for "got …" in error messages: "\"fast\"", "42", "true", "null",
 * "an object", "an array"; long strings are shortened and control characters escaped */
gchar *
pal_json_describe_node(JsonNode *node);

/* an option or field that must be a whole number from @min to @max: JSON has numbers, not
 * integers, so 3 and 3.0 are accepted, 2.5, "2", true and null are not; the error is
 * PAL_ERROR_INVALID_DATA "@path: expected an integer from @min to @max, got …" */
gboolean
pal_json_node_get_uint(JsonNode *node,
		       const gchar *path,
		       guint min,
		       guint max,
		       guint *out,
		       GError **error);

/* JSON paths for error messages: ("webhook", "timeoutMs") → "webhook.timeoutMs",
 * ("", "name") → "name", ("webhook.headers", "x y") → "webhook.headers[\"x y\"]" */
gchar *
pal_json_path_member(const gchar *parent, const gchar *member);
/* ("transformers", 1) → "transformers[1]" */
gchar *
pal_json_path_index(const gchar *parent, guint index);

/* @str quoted and escaped for a log or error message, shortened to @max_chars characters */
gchar *
pal_quote_for_message(const gchar *str, guint max_chars);

/* TRUE when both strings are equal; for strings of equal length the time taken does not
 * depend on their content (only the length leaks) */
gboolean
pal_secure_equal(const gchar *a, const gchar *b);

G_END_DECLS
