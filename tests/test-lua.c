/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "palaver.h"

/* tests of the Lua sandbox (gateway/libpalaver/pal-lua.c) */

#define NAME "flow demo, node calc"

static JsonNode *
parse_json(const gchar *text)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;

	json_parser_load_from_data(parser, text, -1, &error);
	g_assert_no_error(error);
	return json_node_copy(json_parser_get_root(parser));
}

static gchar *
json_text(JsonNode *node)
{
	return node != NULL ? json_to_string(node, FALSE) : g_strdup("(nil)");
}

static guint
compile_expr(PalLua *lua, const gchar *expr)
{
	g_autoptr(GError) error = NULL;
	guint handle = pal_lua_compile_expression(lua, expr, NAME, &error);

	g_assert_no_error(error);
	g_assert_cmpuint(handle, >, 0);
	return handle;
}

static guint
compile_chunk(PalLua *lua, const gchar *code)
{
	g_autoptr(GError) error = NULL;
	guint handle = pal_lua_compile_chunk(lua, code, NAME, &error);

	g_assert_no_error(error);
	g_assert_cmpuint(handle, >, 0);
	return handle;
}

/* the result of @handle as compact JSON, "(nil)" for nil */
static gchar *
eval_text(PalLua *lua, guint handle)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) result = NULL;
	gboolean ok = pal_lua_eval(lua, handle, &result, NULL, &error);

	g_assert_no_error(error);
	g_assert_true(ok);
	return json_text(result);
}

static void
assert_expr(PalLua *lua, const gchar *expr, const gchar *expected)
{
	g_autofree gchar *got = eval_text(lua, compile_expr(lua, expr));

	g_assert_cmpstr(got, ==, expected);
}

static void
assert_chunk(PalLua *lua, const gchar *code, const gchar *expected)
{
	g_autofree gchar *got = eval_text(lua, compile_chunk(lua, code));

	g_assert_cmpstr(got, ==, expected);
}

/* evaluating @code fails with PAL_ERROR_FAILED and a message that contains one of the
 * '|'-separated parts of @expected; returns the message */
static gchar *
chunk_error(PalLua *lua, const gchar *code, const gchar *expected)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) result = NULL;
	g_auto(GStrv) parts = g_strsplit(expected, "|", -1);
	guint handle = compile_chunk(lua, code);
	gboolean found = FALSE;

	g_assert_false(pal_lua_eval(lua, handle, &result, NULL, &error));
	g_assert_error(error, PAL_ERROR, PAL_ERROR_FAILED);
	g_assert_null(result);
	for (guint i = 0; parts[i] != NULL; i++)
		found = found || strstr(error->message, parts[i]) != NULL;
	if (!found)
		g_error(
		    "message \"%s\" of `%s` has none of \"%s\"", error->message, code, expected);
	/* every error names the chunk */
	g_assert_true(g_str_has_prefix(error->message, NAME ":"));
	return g_strdup(error->message);
}

static void
assert_chunk_fails(PalLua *lua, const gchar *code, const gchar *expected)
{
	g_autofree gchar *msg = chunk_error(lua, code, expected);
}

/* ---- conversions ---- */

static void
test_convert_roundtrip(void)
{
	g_autoptr(PalLua) lua = pal_lua_new();
	g_autoptr(GError) error = NULL;
	/* keys sorted: objects come back with sorted keys */
	const gchar *text =
	    "{\"a\":{\"b\":{\"c\":[1,2,{\"d\":\"e\"}]}},\"big\":9007199254740993,\"emptyArr\":[],"
	    "\"emptyObj\":{},\"f\":1.5,\"i\":42,\"mixed\":[null,true,false,\"s\",-7,0.25,[],{}],"
	    "\"neg\":-3,\"nested\":[[[]]],\"nul\":null,\"s\":\"h\\u00e9llo \\u65e5\\u672c "
	    "\\ud83d\\ude00\"}";
	g_autoptr(JsonNode) value = parse_json(text);
	g_autoptr(JsonNode) back = NULL;
	g_autofree gchar *got = NULL;
	g_autofree gchar *expected = json_text(value);

	g_assert_true(pal_lua_set_global(lua, "v", value, &error));
	g_assert_no_error(error);
	back = pal_lua_get_global(lua, "v", &error);
	g_assert_no_error(error);
	got = json_text(back);
	g_assert_cmpstr(got, ==, expected);

	/* and through an evaluation */
	g_clear_pointer(&got, g_free);
	got = eval_text(lua, compile_expr(lua, "v"));
	g_assert_cmpstr(got, ==, expected);
}

static void
test_convert_types(void)
{
	g_autoptr(PalLua) lua = pal_lua_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) value = parse_json("{\"i\":3,\"f\":3.5,\"g\":2.0,\"n\":null,"
					       "\"arr\":[10,null,30],\"s\":\"h\\u00e9\\u65e5\","
					       "\"t\":true,\"o\":{}}");

	g_assert_true(pal_lua_set_global(lua, "v", value, &error));
	g_assert_no_error(error);
	assert_expr(lua, "math.type(v.i)", "\"integer\"");
	assert_expr(lua, "math.type(v.f)", "\"float\"");
	/* a JSON 2.0 stays a float in Lua */
	assert_expr(lua, "math.type(v.g)", "\"float\"");
	assert_expr(lua, "v.n == json.null", "true");
	assert_expr(lua, "tostring(json.null)", "\"null\"");
	assert_expr(lua, "#v.arr", "3");
	assert_expr(lua, "v.arr[2] == json.null and v.arr[3]", "30");
	assert_expr(lua, "utf8.len(v.s)", "3");
	assert_expr(lua, "#v.s", "6");
	assert_expr(lua, "v.t and type(v.o)", "\"table\"");
	/* json.null is a value: the key stays */
	assert_expr(lua, "v.n", "null");
}

static void
test_convert_numbers(void)
{
	g_autoptr(PalLua) lua = pal_lua_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) result = NULL;

	assert_expr(lua, "7 / 7", "1");
	assert_expr(lua, "2^53", "9007199254740992");
	assert_expr(lua, "-0.0", "0");
	assert_expr(lua, "0.5", "0.5");
	assert_expr(lua, "math.maxinteger", "9223372036854775807");
	assert_expr(lua, "{1.0, 2.5}", "[1,2.5]");

	/* integral floats become integers, others stay doubles */
	g_assert_true(pal_lua_eval(lua, compile_expr(lua, "10 / 2"), &result, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpint(json_node_get_value_type(result), ==, G_TYPE_INT64);
	g_assert_cmpint(json_node_get_int(result), ==, 5);
	g_clear_pointer(&result, json_node_unref);
	/* beyond the 64-bit range: a double */
	g_assert_true(pal_lua_eval(lua, compile_expr(lua, "1e300"), &result, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpint(json_node_get_value_type(result), ==, G_TYPE_DOUBLE);
	g_assert_cmpfloat(json_node_get_double(result), ==, 1e300);
	g_clear_pointer(&result, json_node_unref);
	g_assert_true(pal_lua_eval(lua, compile_expr(lua, "1 / 3"), &result, NULL, &error));
	g_assert_cmpint(json_node_get_value_type(result), ==, G_TYPE_DOUBLE);
	g_assert_cmpfloat_with_epsilon(json_node_get_double(result), 1.0 / 3, 1e-15);
}

static void
test_convert_tables(void)
{
	g_autoptr(PalLua) lua = pal_lua_new();

	/* empty: an object, unless it came from a JSON array */
	assert_expr(lua, "{}", "{}");
	assert_expr(lua, "json.decode('[]')", "[]");
	assert_expr(lua, "json.decode('{}')", "{}");
	assert_chunk(lua, "local a = json.decode('[]'); table.insert(a, 'x'); return a", "[\"x\"]");
	assert_chunk(lua, "local a = json.decode('[1]'); a[1] = nil; return a", "[]");
	/* keys exactly 1..n: an array */
	assert_expr(lua, "{'a', 'b'}", "[\"a\",\"b\"]");
	assert_expr(lua, "{[2] = 'b', [1] = 'a'}", "[\"a\",\"b\"]");
	/* anything else: an object with text keys, sorted */
	assert_expr(lua, "{[1] = 'a', [3] = 'c'}", "{\"1\":\"a\",\"3\":\"c\"}");
	assert_expr(lua, "{[0] = 'z', [1] = 'a'}", "{\"0\":\"z\",\"1\":\"a\"}");
	assert_expr(lua, "{'a', x = 1}", "{\"1\":\"a\",\"x\":1}");
	assert_expr(lua, "{[1.5] = true}", "{\"1.5\":true}");
	assert_expr(
	    lua, "{b = 1, a = 2, c = {z = 1, y = 2}}", "{\"a\":2,\"b\":1,\"c\":{\"y\":2,\"z\":1}}");
	assert_expr(lua, "{s = 'h\\u{e9}llo'}", "{\"s\":\"h\u00e9llo\"}");
	/* bytes that are not UTF-8 are replaced, not passed on */
	assert_expr(lua, "'a\\255b'", "\"a\ufffdb\"");
	assert_expr(lua, "'a\\0b'", "\"a\ufffdb\"");
}

static void
test_convert_no_json_form(void)
{
	g_autoptr(PalLua) lua = pal_lua_new();
	gboolean truthy = FALSE;
	g_autoptr(GError) error = NULL;

	assert_chunk_fails(lua, "return print", "result: a function value has no JSON form");
	assert_chunk_fails(lua,
			   "return {a = {1, 2, {f = tostring}}}",
			   "result.a[3].f: a function value has no JSON form");
	assert_chunk_fails(lua, "return 0/0", "NaN has no JSON form");
	assert_chunk_fails(lua, "return {x = math.huge}", "result.x: infinity has no JSON form");
	assert_chunk_fails(lua, "return {[true] = 1}", "table key of type boolean");
	/* without a result wanted, nothing is converted */
	g_assert_true(pal_lua_eval(lua, compile_expr(lua, "print"), NULL, &truthy, &error));
	g_assert_no_error(error);
	g_assert_true(truthy);
}

static void
test_convert_depth(void)
{
	g_autoptr(PalLua) lua = pal_lua_new();
	g_autoptr(GString) ok = g_string_new(NULL);
	g_autoptr(GString) deep = g_string_new(NULL);
	g_autoptr(JsonNode) ok_node = NULL;
	g_autoptr(JsonNode) deep_node = NULL;
	g_autoptr(JsonNode) back = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *msg = NULL;

	for (guint i = 0; i < PAL_LUA_MAX_DEPTH; i++)
		g_string_append_c(ok, '[');
	for (guint i = 0; i < PAL_LUA_MAX_DEPTH; i++)
		g_string_append_c(ok, ']');
	g_string_append_printf(deep, "{\"a\":%s}", ok->str);

	/* 64 levels pass both ways */
	ok_node = parse_json(ok->str);
	g_assert_true(pal_lua_set_global(lua, "ok", ok_node, &error));
	g_assert_no_error(error);
	back = pal_lua_get_global(lua, "ok", &error);
	g_assert_no_error(error);
	g_assert_nonnull(back);

	/* 65 do not */
	deep_node = parse_json(deep->str);
	g_assert_false(pal_lua_set_global(lua, "deep", deep_node, &error));
	g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "deeper than 64"));
	g_clear_error(&error);
	assert_expr(lua, "deep", "(nil)");

	assert_chunk(
	    lua, "local t = {} for i = 2, 64 do t = {t} end return #json.encode(t)", "128");
	assert_chunk_fails(lua,
			   "local t = {} for i = 1, 64 do t = {t} end return t",
			   "nested deeper than 64 levels");
	msg = chunk_error(lua,
			  "return json.decode(string.rep('[', 65) .. string.rep(']', 65))",
			  "deeper than 64");
	g_assert_nonnull(strstr(msg, "json.decode"));
}

static void
test_convert_self_reference(void)
{
	g_autoptr(PalLua) lua = pal_lua_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) node = NULL;
	gint64 start;

	assert_chunk_fails(
	    lua, "local t = {} t.self = t return t", "result.self: a table that contains itself");
	assert_chunk_fails(lua, "local t = {} t[1] = {t} return t", "contains itself");
	assert_chunk_fails(lua, "local t = {} t.t = t return json.encode(t)", "contains itself");
	/* a table shared twice is fine, exponential sharing is refused quickly, not a hang */
	assert_chunk(lua, "local s = {1} return {a = s, b = s}", "{\"a\":[1],\"b\":[1]}");
	start = g_get_monotonic_time();
	assert_chunk_fails(
	    lua, "local t = {} for i = 1, 60 do t = {t, t} end return t", "too large");
	g_assert_cmpint(g_get_monotonic_time() - start, <, 10 * G_USEC_PER_SEC);

	/* a global that refers to itself */
	g_assert_true(
	    pal_lua_eval(lua, compile_chunk(lua, "loop = {} loop.me = loop"), NULL, NULL, &error));
	g_assert_no_error(error);
	node = pal_lua_get_global(lua, "loop", &error);
	g_assert_null(node);
	g_assert_error(error, PAL_ERROR, PAL_ERROR_FAILED);
	g_assert_nonnull(strstr(error->message, "global 'loop'.me: a table that contains itself"));
}

static void
test_json_to_text(void)
{
	struct {
		const gchar *json;
		const gchar *text;
	} cases[] = {
	    {"null", ""},
	    {"14", "14"},
	    {"14.0", "14"},
	    {"-3.0", "-3"},
	    {"0.1", "0.1"},
	    {"0.333333333333333333", "0.33333333333333"},
	    {"1e300", "1e+300"},
	    {"true", "true"},
	    {"false", "false"},
	    {"\"h\\u00e9llo\"", "h\u00e9llo"},
	    {"\"\"", ""},
	    {"{\"a\":[1,2]}", "{\"a\":[1,2]}"},
	    {"[]", "[]"},
	    /* compact, members in their order, numbers as short as they read back */
	    {"{\"b\":[0.1,1e21,2.0,-0.5],\"a\":\"q\\\"\\n\\u0001\u00e9\"}",
	     "{\"b\":[0.1,1e+21,2,-0.5],\"a\":\"q\\\"\\n\\u0001\u00e9\"}"},
	};
	g_autofree gchar *nil = pal_lua_json_to_text(NULL);

	g_assert_cmpstr(nil, ==, "");
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(JsonNode) node = parse_json(cases[i].json);
		g_autofree gchar *text = pal_lua_json_to_text(node);
		g_assert_cmpstr(text, ==, cases[i].text);
	}
}

static void
test_json_helpers(void)
{
	g_autoptr(PalLua) lua = pal_lua_new();

	assert_expr(
	    lua, "json.encode({b = {1, 2}, a = 'x'})", "\"{\\\"a\\\":\\\"x\\\",\\\"b\\\":[1,2]}\"");
	assert_expr(lua, "json.encode(json.decode('[]'))", "\"[]\"");
	assert_expr(
	    lua, "json.encode({0.1, 1e21, 0.1 + 0.2})", "\"[0.1,1e+21,0.30000000000000004]\"");
	assert_expr(lua, "json.decode(json.encode('a\"b\\n\\1\\\\')) == 'a\"b\\n\\1\\\\'", "true");
	assert_expr(lua, "json.encode(json.null)", "\"null\"");
	assert_expr(lua, "json.decode('{\"x\":[1,2,{\"y\":null}]}').x[3].y == json.null", "true");
	assert_expr(lua, "json.decode('[1, 2.5]')", "[1,2.5]");
	assert_expr(lua, "math.type(json.decode('7'))", "\"integer\"");
	assert_chunk_fails(lua, "return json.decode('{')", "json.decode");
	assert_chunk_fails(lua, "return json.encode(print)", "json.encode: value: a function");
}

/* ---- evaluation ---- */

static void
test_eval_expression(void)
{
	g_autoptr(PalLua) lua = pal_lua_new();
	g_autoptr(JsonNode) context = parse_json("{\"tries\":2}");
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) result = NULL;
	gboolean truthy = TRUE;
	guint check;

	g_assert_true(pal_lua_set_global(lua, "context", context, &error));
	assert_expr(lua, "context.tries + 1", "3");
	assert_expr(lua, "'n=' .. context.tries", "\"n=2\"");
	assert_expr(lua, "1 + 1 -- a comment", "2");
	assert_expr(lua, "context.missing", "(nil)");
	assert_expr(lua, "(function() return 1, 2 end)()", "1");

	check = compile_expr(lua, "context.tries > 3");
	g_assert_true(pal_lua_eval(lua, check, &result, &truthy, &error));
	g_assert_no_error(error);
	g_assert_false(truthy);
	g_assert_false(json_node_get_boolean(result));
	g_clear_pointer(&result, json_node_unref);
	g_assert_true(pal_lua_eval(lua, compile_expr(lua, "nil"), &result, &truthy, &error));
	g_assert_null(result);
	g_assert_false(truthy);
	g_assert_true(pal_lua_eval(lua, compile_expr(lua, "0"), NULL, &truthy, &error));
	g_assert_true(truthy);

	/* the same handle sees the current values */
	json_node_unref(context);
	context = parse_json("{\"tries\":5}");
	g_assert_true(pal_lua_set_global(lua, "context", context, &error));
	g_assert_true(pal_lua_eval(lua, check, NULL, &truthy, &error));
	g_assert_no_error(error);
	g_assert_true(truthy);
}

static void
test_eval_chunk(void)
{
	g_autoptr(PalLua) lua = pal_lua_new();
	g_autoptr(JsonNode) context = parse_json("{\"tries\":2}");
	g_autoptr(JsonNode) back = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = NULL;

	g_assert_true(pal_lua_set_global(lua, "context", context, &error));
	assert_chunk(lua,
		     "context.tries = context.tries + 1\n"
		     "context.list = {}\n"
		     "for i = 1, 3 do table.insert(context.list, i * i) end\n",
		     "(nil)");
	back = pal_lua_get_global(lua, "context", &error);
	g_assert_no_error(error);
	text = json_text(back);
	g_assert_cmpstr(text, ==, "{\"list\":[1,4,9],\"tries\":3}");
	/* the first of several values */
	assert_chunk(lua, "return 'a', 'b'", "\"a\"");
	/* globals and functions defined by one chunk are seen by the next */
	assert_chunk(lua, "function double(x) return 2 * x end counter = 10", "(nil)");
	assert_expr(lua, "double(counter)", "20");
	/* the libraries */
	assert_expr(lua, "string.format('%05.1f', 3.14159)", "\"003.1\"");
	assert_expr(lua, "('abc'):upper() .. string.rep('-', 3)", "\"ABC---\"");
	assert_expr(lua, "table.concat({1, 2, 3}, ',')", "\"1,2,3\"");
	assert_expr(lua, "math.floor(3.7) + math.max(1, 2)", "5");
	assert_expr(
	    lua,
	    "type(os.time()) == 'number' and type(os.date('%Y')) == 'string' and os.clock() >= 0",
	    "true");
	assert_expr(lua, "math.random(1, 1)", "1");
	assert_expr(lua, "select('#', 1, 2, 3)", "3");
	assert_chunk(
	    lua, "local n = 0 for k in pairs(math) do n = n + 1 end return n > 20", "true");
	assert_chunk(
	    lua, "local ok, e = pcall(error, 'boom', 0) return {ok, e}", "[false,\"boom\"]");
	assert_chunk(
	    lua, "print('hello from', _VERSION) return collectgarbage('count') > 0", "true");
	assert_chunk(lua,
		     "local t = setmetatable({}, {__index = function(t, k) return k .. '!' end}) "
		     "return t.hi",
		     "\"hi!\"");
}

static void
test_eval_globals(void)
{
	g_autoptr(PalLua) lua = pal_lua_new();
	g_autoptr(JsonNode) value = parse_json("[1]");
	g_autoptr(JsonNode) back = NULL;
	g_autoptr(GError) error = NULL;

	/* unknown and library names are no globals */
	back = pal_lua_get_global(lua, "nothing", &error);
	g_assert_no_error(error);
	g_assert_null(back);
	back = pal_lua_get_global(lua, "string", &error);
	g_assert_no_error(error);
	g_assert_null(back);

	g_assert_true(pal_lua_set_global(lua, "x", value, &error));
	assert_expr(lua, "x[1]", "1");
	g_assert_true(pal_lua_set_global(lua, "x", NULL, &error));
	g_assert_no_error(error);
	assert_expr(lua, "x", "(nil)");

	/* a global can shadow a library for the environment, not beyond */
	g_assert_true(pal_lua_set_global(lua, "string", value, &error));
	assert_expr(lua, "string[1]", "1");
	assert_expr(lua, "('x'):upper()", "\"X\"");
	pal_lua_reset(lua);
	assert_expr(lua, "string.upper('x')", "\"X\"");
}

static void
test_reset(void)
{
	g_autoptr(PalLua) lua = pal_lua_new();
	g_autoptr(JsonNode) value = parse_json("{\"a\":1}");
	g_autoptr(GError) error = NULL;
	guint uses = compile_expr(lua, "(ctx and ctx.a or 0) + (b or 0) + (api and 100 or 0)");

	g_assert_true(pal_lua_set_global(lua, "ctx", value, &error));
	assert_chunk(lua, "b = 10 pairs = nil tostring = 1", "(nil)");
	g_assert_true(pal_lua_eval(lua, uses, NULL, NULL, &error));
	g_assert_no_error(error);
	assert_expr(lua, "(ctx and ctx.a or 0) + (b or 0)", "11");
	pal_lua_reset(lua);
	/* compiled handles stay, globals are gone, shadowed base functions are back */
	assert_expr(lua, "(ctx and ctx.a or 0) + (b or 0)", "0");
	assert_expr(lua, "tostring(1)", "\"1\"");
	assert_expr(lua, "type(pairs)", "\"function\"");
	assert_expr(lua, "_G == _ENV", "true");
}

/* ---- C functions ---- */

typedef struct {
	GPtrArray *calls; /* of gchar *: the arguments as JSON */
	PalLua *lua;
	guint nested;
} Recorder;

static gboolean
record_cb(PalLua *lua, JsonArray *args, JsonNode **result, gpointer user_data, GError **error)
{
	Recorder *rec = user_data;
	JsonNode *node = json_node_init_array(json_node_alloc(), args);

	g_ptr_array_add(rec->calls, json_to_string(node, FALSE));
	json_node_unref(node);
	*result = parse_json("{\"ok\":true,\"list\":[]}");
	return TRUE;
}

static gboolean
nothing_cb(PalLua *lua, JsonArray *args, JsonNode **result, gpointer user_data, GError **error)
{
	return TRUE;
}

static gboolean
fail_cb(PalLua *lua, JsonArray *args, JsonNode **result, gpointer user_data, GError **error)
{
	g_set_error(error,
		    PAL_ERROR,
		    PAL_ERROR_INVALID_DATA,
		    "api.fail: no luck with %u arguments",
		    json_array_get_length(args));
	return FALSE;
}

/* what the graph plugin's api.set does: read a global, change it, write it back */
static gboolean
set_cb(PalLua *lua, JsonArray *args, JsonNode **result, gpointer user_data, GError **error)
{
	g_autoptr(JsonNode) context = pal_lua_get_global(lua, "context", error);

	if (context == NULL)
		return FALSE;
	json_object_set_member(json_node_get_object(context),
			       json_array_get_string_element(args, 0),
			       json_node_copy(json_array_get_element(args, 1)));
	return pal_lua_set_global(lua, "context", context, error);
}

/* evaluates again from inside an evaluation, as a template in api.say would */
static gboolean
nested_cb(PalLua *lua, JsonArray *args, JsonNode **result, gpointer user_data, GError **error)
{
	Recorder *rec = user_data;

	rec->nested++;
	return pal_lua_eval(lua, (guint)json_array_get_int_element(args, 0), result, NULL, error);
}

static void
test_functions(void)
{
	g_autoptr(PalLua) lua = pal_lua_new();
	g_autoptr(JsonNode) context = parse_json("{\"a\":1}");
	g_autoptr(JsonNode) back = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) calls = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *text = NULL;
	g_autofree gchar *code = NULL;
	Recorder rec = {.calls = calls};
	guint inner;

	pal_lua_add_function(lua, "api", "say", record_cb, &rec);
	pal_lua_add_function(lua, "api", "fail", fail_cb, NULL);
	pal_lua_add_function(lua, "api", "set", set_cb, NULL);
	pal_lua_add_function(lua, "api", "nested", nested_cb, &rec);
	pal_lua_add_function(lua, NULL, "nothing", nothing_cb, NULL);

	assert_chunk(
	    lua, "local r = api.say('hi', {x = 1, y = {}}, nil, 2.0) return r.ok and #r.list", "0");
	g_assert_cmpuint(calls->len, ==, 1);
	g_assert_cmpstr(g_ptr_array_index(calls, 0), ==, "[\"hi\",{\"x\":1,\"y\":{}},null,2]");
	assert_expr(lua, "select('#', nothing(1))", "0");

	/* the GError becomes a Lua error with the message, at the calling line */
	assert_chunk_fails(
	    lua, "local x = 1\napi.fail(1, 2)", NAME ":2: api.fail: no luck with 2 arguments");
	assert_chunk(lua,
		     "local ok, e = pcall(api.fail) return e",
		     "\"" NAME ":1: api.fail: no luck with 0 arguments\"");
	assert_chunk_fails(lua,
			   "api.say('x', {f = print})",
			   "api.say: argument #2.f: a function value has no JSON form");

	/* a function that reads and writes globals while the script runs */
	g_assert_true(pal_lua_set_global(lua, "context", context, &error));
	assert_chunk(lua, "api.set('b', {2, 3}) return context.b[2] + context.a", "4");
	back = pal_lua_get_global(lua, "context", &error);
	text = json_text(back);
	g_assert_cmpstr(text, ==, "{\"a\":1,\"b\":[2,3]}");

	/* and one that evaluates again */
	inner = compile_expr(lua, "context.a + 100");
	code = g_strdup_printf("return api.nested(%u) + 1", inner);
	assert_chunk(lua, code, "102");
	g_assert_cmpuint(rec.nested, ==, 1);

	/* functions survive a reset; a script's changes to their table do not */
	assert_chunk(lua, "api.say = nil api.extra = 1", "(nil)");
	pal_lua_reset(lua);
	assert_expr(lua, "type(api.say) == 'function' and api.extra == nil", "true");
	assert_chunk(lua, "api.say('again')", "(nil)");
	g_assert_cmpuint(calls->len, ==, 2);
	g_assert_cmpstr(g_ptr_array_index(calls, 1), ==, "[\"again\"]");
}

/* ---- error messages ---- */

static void
test_errors_runtime(void)
{
	g_autoptr(PalLua) lua = pal_lua_new();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *m1 = NULL;
	g_autofree gchar *m2 = NULL;
	guint handle;

	handle = compile_chunk(lua, "local a = 1\nlocal b = 2\nreturn x.y");
	g_assert_false(pal_lua_eval(lua, handle, NULL, NULL, &error));
	g_assert_error(error, PAL_ERROR, PAL_ERROR_FAILED);
	g_assert_cmpstr(error->message, ==, NAME ":3: attempt to index a nil value (global 'x')");
	g_clear_error(&error);

	/* error() values */
	m1 = chunk_error(lua, "\nerror('boom')", NAME ":2: boom");
	g_assert_cmpstr(m1, ==, NAME ":2: boom");
	m2 = chunk_error(lua, "error('boom', 0)", "boom");
	g_assert_cmpstr(m2, ==, NAME ": boom");
	assert_chunk_fails(lua, "error({code = 1})", "error object is a table value");

	/* an expression keeps its line */
	handle = compile_expr(lua, "nope.field");
	g_assert_false(pal_lua_eval(lua, handle, NULL, NULL, &error));
	g_assert_cmpstr(
	    error->message, ==, NAME ":1: attempt to index a nil value (global 'nope')");
}

static void
test_errors_names(void)
{
	g_autoptr(PalLua) lua = pal_lua_new();
	g_autoptr(GError) error = NULL;
	const gchar *long_name =
	    "flow customer-support-escalation-second-line, node askOrderNumberAgain";
	g_autofree gchar *expected =
	    g_strdup_printf("%s:2: attempt to call a nil value (global 'missing')", long_name);
	guint define;
	guint call;
	guint handle;

	/* longer than Lua's 60-byte chunk ids: still complete */
	handle = pal_lua_compile_chunk(lua, "local x = 1\nmissing()", long_name, &error);
	g_assert_no_error(error);
	g_assert_false(pal_lua_eval(lua, handle, NULL, NULL, &error));
	g_assert_cmpstr(error->message, ==, expected);
	g_clear_error(&error);

	/* a function keeps the name of the chunk it was written in */
	define = pal_lua_compile_chunk(
	    lua, "function helper()\n  return nil + 1\nend", "flow demo, node lib", &error);
	g_assert_no_error(error);
	g_assert_true(pal_lua_eval(lua, define, NULL, NULL, &error));
	call = pal_lua_compile_chunk(lua, "helper()", "flow demo, node use", &error);
	g_assert_false(pal_lua_eval(lua, call, NULL, NULL, &error));
	g_assert_cmpstr(error->message,
			==,
			"flow demo, node use: flow demo, node lib:2: attempt to perform arithmetic "
			"on a nil value");
	g_clear_error(&error);

	/* and so do messages caught by pcall */
	handle = pal_lua_compile_chunk(
	    lua, "local ok, e = pcall(helper) return e", "flow demo, node catch", &error);
	g_assert_no_error(error);
	{
		g_autofree gchar *got = eval_text(lua, handle);
		g_assert_cmpstr(
		    got,
		    ==,
		    "\"flow demo, node lib:2: attempt to perform arithmetic on a nil value\"");
	}
}

static void
test_errors_syntax(void)
{
	g_autoptr(PalLua) lua = pal_lua_new();
	g_autoptr(GError) error = NULL;
	guint good;

	g_assert_cmpuint(pal_lua_compile_chunk(lua, "local a = 1\nx = = 1", NAME, &error), ==, 0);
	g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
	g_assert_true(g_str_has_prefix(error->message, NAME ":2: "));
	g_assert_nonnull(strstr(error->message, "near '='"));
	g_clear_error(&error);

	g_assert_cmpuint(pal_lua_compile_expression(lua, "1 +", NAME, &error), ==, 0);
	g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
	g_assert_true(g_str_has_prefix(error->message, NAME ":"));
	g_clear_error(&error);

	/* an expression cannot smuggle in statements */
	g_assert_cmpuint(
	    pal_lua_compile_expression(lua, "1) os.exit(1) return (1", NAME, &error), ==, 0);
	g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
	g_clear_error(&error);
	g_assert_cmpuint(pal_lua_compile_expression(lua, "", NAME, &error), ==, 0);
	g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
	g_clear_error(&error);

	/* failed compilations use no handle: the next one evaluates fine */
	good = compile_expr(lua, "40 + 2");
	{
		g_autofree gchar *got = eval_text(lua, good);
		g_assert_cmpstr(got, ==, "42");
	}
}

static void
test_errors_bytecode(void)
{
	g_autoptr(PalLua) lua = pal_lua_new();
	g_autoptr(GError) error = NULL;
	/* the header of a Lua 5.4 binary chunk (LUA_SIGNATURE, version 0x54, format 0, LUAC_DATA)
	 */
	const gchar bytecode[] = "\x1bLua\x54\x00\x19\x93\r\n\x1a\n";

	g_assert_cmpuint(pal_lua_compile_chunk(lua, bytecode, NAME, &error), ==, 0);
	g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "binary chunk"));
	g_assert_true(g_str_has_prefix(error->message, NAME ":"));
	g_clear_error(&error);
	g_assert_cmpuint(pal_lua_compile_expression(lua, bytecode, NAME, &error), ==, 0);
	g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
	g_clear_error(&error);
	/* from inside too */
	assert_chunk_fails(lua, "return load(string.dump(print))", "field 'dump'|global 'load'");
}

/* ---- limits ---- */

static void
test_limits_budget(void)
{
	g_autoptr(PalLua) lua = pal_lua_new();
	g_autofree gchar *msg = NULL;
	guint loop;

	pal_lua_set_limits(lua, 10000, 1024 * 1024);
	msg = chunk_error(lua,
			  "local x = 0\nwhile true do\n  x = x + 1\nend",
			  "instruction budget of 10000 exceeded");
	g_assert_true(g_str_has_prefix(msg, NAME ":3: ") || g_str_has_prefix(msg, NAME ":2: ") ||
		      g_str_has_prefix(msg, NAME ":4: "));
	/* per evaluation: the same work fits again and again */
	loop = compile_chunk(lua, "local x = 0 for i = 1, 1000 do x = x + i end return x");
	for (guint i = 0; i < 20; i++) {
		g_autofree gchar *got = eval_text(lua, loop);
		g_assert_cmpstr(got, ==, "500500");
	}
	assert_chunk_fails(
	    lua, "local x = 0 for i = 1, 100000 do x = x + i end return x", "instruction budget");

	/* no budget */
	pal_lua_set_limits(lua, 0, 0);
	assert_chunk(lua, "local x = 0 for i = 1, 100000 do x = x + i end return x", "5000050000");
}

static void
test_limits_memory(void)
{
	g_autoptr(PalLua) lua = pal_lua_new();
	g_autoptr(JsonNode) big = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GString) text = g_string_new("[");
	guint keep;

	pal_lua_set_limits(lua, 100000000, 1024 * 1024);
	assert_chunk_fails(lua,
			   "local s = string.rep('x', 2 * 1024 * 1024)",
			   "memory limit of 1048576 bytes exceeded");
	/* the cap is how much one evaluation may add: the state may hold more in total */
	keep = compile_chunk(
	    lua,
	    "keep = keep or {} keep[#keep + 1] = string.rep('x', 300000) .. #keep return #keep");
	for (guint i = 1; i <= 10; i++) {
		g_autofree gchar *got = eval_text(lua, keep);
		g_autofree gchar *expected = g_strdup_printf("%u", i);
		g_assert_cmpstr(got, ==, expected);
	}
	assert_expr(lua, "collectgarbage('count') > 2500", "true");

	/* and what the caller sets is not counted against it */
	for (guint i = 0; i < 30000; i++)
		g_string_append_printf(text, "%s\"item number %u\"", i > 0 ? "," : "", i);
	g_string_append_c(text, ']');
	big = parse_json(text->str);
	g_assert_true(pal_lua_set_global(lua, "big", big, &error));
	g_assert_no_error(error);
	assert_expr(lua, "#big", "30000");
}

/* the smallest limits the graph plugin accepts are enough for ordinary expressions */
static void
test_limits_small(void)
{
	g_autoptr(PalLua) lua = pal_lua_new();
	g_autoptr(JsonNode) context =
	    parse_json("{\"tries\":2,\"items\":[1,2,3],\"name\":\"Ann\"}");
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) calls = g_ptr_array_new_with_free_func(g_free);
	Recorder rec = {.calls = calls};

	pal_lua_set_limits(lua, 1000, 64 * 1024);
	pal_lua_add_function(lua, "api", "say", record_cb, &rec);
	g_assert_true(pal_lua_set_global(lua, "context", context, &error));
	g_assert_no_error(error);
	for (guint i = 0; i < 100; i++) {
		assert_expr(lua, "context.tries + 1", "3");
		assert_expr(lua, "'Hi ' .. context.name .. '!'", "\"Hi Ann!\"");
		assert_chunk(lua,
			     "api.say('n=' .. #context.items, {list = context.items}) return "
			     "json.encode(context.items)",
			     "\"[1,2,3]\"");
	}
	g_assert_cmpuint(calls->len, ==, 100);
	assert_chunk_fails(lua,
			   "local s = '' for i = 1, 1000 do s = s .. i end",
			   "instruction budget of 1000 exceeded");
	assert_chunk_fails(
	    lua, "return #string.rep('x', 100000)", "memory limit of 65536 bytes exceeded");
	assert_expr(lua, "context.tries + 1", "3");
}

/* garbage of an evaluation does not pile up over evaluations */
static void
test_limits_garbage(void)
{
	g_autoptr(PalLua) lua = pal_lua_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) count = NULL;
	guint churn =
	    compile_chunk(lua, "local t = {} for i = 1, 2000 do t[i] = 'item ' .. i end return #t");
	guint kib = compile_expr(lua, "collectgarbage('count')");

	for (guint i = 0; i < 300; i++) {
		g_autofree gchar *got = eval_text(lua, churn);
		g_assert_cmpstr(got, ==, "2000");
	}
	g_assert_true(pal_lua_eval(lua, kib, &count, NULL, &error));
	g_assert_no_error(error);
	/* about 100 KiB of garbage per evaluation, 30 MiB in all */
	g_assert_cmpfloat(json_node_get_double(count), <, 4096);
}

/* ---- pattern matching (pal-lua-pattern.c) ---- */

/* patterns that backtrack for seconds to minutes in the stock library: each stops on the
 * default budget within milliseconds */
static const gchar *const pattern_bombs[] = {
    "return ('a'):rep(10000):find('.-b')",
    "return ('a'):rep(1000):find('.-.-b')",
    "return ('a'):rep(300):find('.-.-.-b')",
    "return string.find(('a'):rep(300), '.-.-.-b')",
    "return string.match(('a'):rep(300), '.-.-.-b')",
    "return ('a'):rep(300):match('(.-)(.-)(.-)b')",
    "return string.gsub(('a'):rep(300), '.-.-.-b', '')",
    "for x in string.gmatch(('a'):rep(300), '.-.-.-b') do end",
    "return ('a'):rep(300):find('.*.*.*b')",
    /* work that is not backtracking: long bracket classes, %b, back references */
    "return ('x'):rep(100000):find('[' .. ('a'):rep(100000) .. ']')",
    "return ('('):rep(100000):find('%b()')",
    "return ('a'):rep(20000):find('(a*)%1b')",
};

static void
test_pattern_budget(void)
{
	g_autoptr(PalLua) lua = pal_lua_new();

	for (guint i = 0; i < G_N_ELEMENTS(pattern_bombs); i++) {
		g_autoptr(GTimer) timer = g_timer_new();
		g_autofree gchar *msg = NULL;
		gdouble elapsed;

		msg = chunk_error(lua, pattern_bombs[i], "instruction budget of 1000000 exceeded");
		elapsed = g_timer_elapsed(timer, NULL);
		g_test_message("%s → %s in %.3f s", pattern_bombs[i], msg, elapsed);
		g_assert_cmpstr(msg, ==, NAME ":1: instruction budget of 1000000 exceeded");
		g_assert_cmpfloat(elapsed, <, 1.0);
		/* and the sandbox works on */
		assert_expr(lua, "('a'):rep(300):find('a-b')", "(nil)");
		assert_expr(lua, "('key=value'):match('^(%w+)=')", "\"key\"");
	}
	/* where the script is when the budget runs out */
	assert_chunk_fails(lua,
			   "local s = ('a'):rep(1000)\n\nlocal i = s:find('.-.-b')",
			   NAME ":3: instruction budget of 1000000 exceeded");
}

/* the end of the budget inside a match is not the script's to catch */
static void
test_pattern_pcall(void)
{
	g_autoptr(PalLua) lua = pal_lua_new();
	const gchar *codes[] = {
	    "local ok, e = pcall(string.find, ('a'):rep(10000), '.-b') return 'survived'",
	    "local ok, e = pcall(function() return ('a'):rep(300):find('.-.-.-b') end) return "
	    "'survived'",
	    "while true do pcall(string.match, ('a'):rep(1000), '.-.-b') end",
	    "local ok = xpcall(string.gsub, function(e) return e end, ('a'):rep(300), "
	    "'.-.-.-b', '') return 'survived'",
	    "local ok, e = pcall(string.gsub, 'abc', '%w', function(c) "
	    "return ('a'):rep(300):match('.-.-.-b') end) return 'survived'",
	    "local ok, e = pcall(function() for x in ('a'):rep(300):gmatch('.-.-.-b') do end end) "
	    "return 'survived'",
	};

	for (guint i = 0; i < G_N_ELEMENTS(codes); i++) {
		g_autoptr(GTimer) timer = g_timer_new();

		assert_chunk_fails(lua, codes[i], "instruction budget of 1000000 exceeded");
		g_assert_cmpfloat(g_timer_elapsed(timer, NULL), <, 1.0);
		assert_chunk(lua, "local ok, e = pcall(string.find, 'a', '%') return e",
			     "\"malformed pattern (ends with '%')\"");
	}
}

/* matching and the script's own instructions share one budget per evaluation */
static void
test_pattern_shared_budget(void)
{
	g_autoptr(PalLua) lua = pal_lua_new();
	g_autoptr(GPtrArray) calls = g_ptr_array_new_with_free_func(g_free);
	Recorder rec = {.calls = calls};
	/* about 500 steps per search, a few instructions around it */
	guint searches = compile_chunk(
	    lua, "local s = ('a'):rep(30) for i = 1, 100 do s:find('.-b') end return 'done'");
	/* about 500,000 steps */
	guint inner = compile_expr(lua, "('a'):rep(1000):find('.-b') == nil");
	g_autofree gchar *once = g_strdup_printf("return api.nested(%u)", inner);
	g_autofree gchar *thrice =
	    g_strdup_printf("return api.nested(%u) and api.nested(%u) and api.nested(%u)",
			    inner,
			    inner,
			    inner);

	pal_lua_set_limits(lua, 100000, 0);
	for (guint i = 0; i < 5; i++) {
		g_autofree gchar *got = eval_text(lua, searches);
		g_assert_cmpstr(got, ==, "\"done\"");
	}
	pal_lua_set_limits(lua, 20000, 0);
	assert_chunk_fails(lua,
			   "local s = ('a'):rep(30) for i = 1, 100 do s:find('.-b') end",
			   "instruction budget of 20000 exceeded");
	/* and a nested evaluation spends the outer one's */
	pal_lua_set_limits(lua, 1000000, 0);
	pal_lua_add_function(lua, "api", "nested", nested_cb, &rec);
	assert_chunk(lua, once, "true");
	assert_chunk_fails(lua, thrice, "instruction budget of 1000000 exceeded");
	g_assert_cmpuint(rec.nested, ==, 3);
	assert_chunk(lua, once, "true");
	/* without a budget, a match runs to its end */
	pal_lua_set_limits(lua, 0, 0);
	assert_expr(lua, "('a'):rep(3000):find('.-b')", "(nil)");
	assert_expr(lua, "('a'):rep(3000):find('.-a$')", "1");
}

/* what Lua 5.4.4 (lua5.4) gives for the same expressions */
typedef struct {
	const gchar *expr;
	const gchar *expected; /* the results through show() */
} PatternCheck;

static const PatternCheck pattern_checks[] = {
    {"string.find('hello world', 'o w')",
     "5,7"},
    {"string.find('hello world', 'o', 6)",
     "8,8"},
    {"string.find('hello world', 'l', -3)",
     "10,10"},
    {"string.find('hello world', 'xyz')",
     "nil"},
    {"string.find('a.b', '.')",
     "1,1"},
    {"string.find('a.b', '.', 1, true)",
     "2,2"},
    {"string.find('a+b(c', '+b(', 1, true)",
     "2,4"},
    {"string.find('abc', 'b', nil, true)",
     "2,2"},
    {"string.find('abc', 'b', 10)",
     "nil"},
    {"string.find('abc', '', 4)",
     "4,3"},
    {"string.find('abc', '', 5)",
     "nil"},
    {"string.find('abc', '', -10)",
     "1,0"},
    {"('hello'):find('l+')",
     "3,4"},
    {"string.find('key = value', '(%w+)%s*=%s*(%w+)')",
     "1,11,\"key\",\"value\""},
    {"string.find('abc', '()b()')",
     "2,2,2,3"},
    {"string.find('a\\0b', '%z')",
     "2,2"},
    {"string.find('a\\0b', '\\0b', 1, true)",
     "2,3"},
    {"string.find('aXb', '%u')",
     "2,2"},
    {"string.match('2024-01-15', '(%d+)-(%d+)-(%d+)')",
     "\"2024\",\"01\",\"15\""},
    {"('x=1'):match('(%w)=(%d)')",
     "\"x\",\"1\""},
    {"string.match('hello', '()ll()')",
     "3,5"},
    {"string.match('  trim me  ', '^%s*(.-)%s*$')",
     "\"trim me\""},
    {"string.match('abc', '^b')",
     "nil"},
    {"string.match('abc', '^a')",
     "\"a\""},
    {"string.match('abc', 'c$')",
     "\"c\""},
    {"string.match('a$c', '$c')",
     "\"$c\""},
    {"string.match('hello world', '%a+', 6)",
     "\"world\""},
    {"string.match('hello world', '%a+', -5)",
     "\"world\""},
    {"string.match('x = (a(b)c) y', '%b()')",
     "\"(a(b)c)\""},
    {"string.match('if [[x]] then', '%b[]')",
     "\"[[x]]\""},
    {"string.match('(unbalanced', '%b()')",
     "nil"},
    {"string.match('THE (quick) fox', '%f[%a]%a+%f[%A]', 5)",
     "\"quick\""},
    {"string.match('hello world', '%f[%w]%w+$')",
     "\"world\""},
    {"string.match('abab', '(ab)%1')",
     "\"ab\""},
    {"string.match('abba', '(a)(b)%2%1')",
     "\"a\",\"b\""},
    {"string.match('[x]', '[%[]')",
     "\"[\""},
    {"string.match('a-b', '[a-]+')",
     "\"a-\""},
    {"string.match('x-y', '[^%w]')",
     "\"-\""},
    {"string.match('k3y_9', '^[%a_][%w_]*$')",
     "\"k3y_9\""},
    {"string.match('value: 0x1F;', '0x(%x+)')",
     "\"1F\""},
    {"string.match(' x', '%S')",
     "\"x\""},
    {"string.match('a.b', '%.')",
     "\".\""},
    {"string.match('aaa', 'a-b')",
     "nil"},
    {"string.match('aaab', 'a-b')",
     "\"aaab\""},
    {"string.match('aaab', 'a*')",
     "\"aaa\""},
    {"string.match('aaab', 'a+b')",
     "\"aaab\""},
    {"string.match('b', 'a?b')",
     "\"b\""},
    {"string.match('abc', '.-')",
     "\"\""},
    {"string.match('f(a,b)', '%((.-)%)')",
     "\"a,b\""},
    {"string.match('hello', '(h)(e)(l)(l)(o)')",
     "\"h\",\"e\",\"l\",\"l\",\"o\""},
    {"string.match('date: 5/6', '((%d+)/(%d+))')",
     "\"5/6\",\"5\",\"6\""},
    {"string.match('tab\\there', '%c')",
     "\"\\9\""},
    {"string.match('a,b;c', '%p')",
     "\",\""},
    {"string.match('', '.*')",
     "\"\""},
    {"string.match('', '^$')",
     "\"\""},
    {"string.match('x', '')",
     "\"\""},
    {"(function() local t = {} for k, v in string.gmatch('a=1, b=2, c=3', '(%w+)=(%w+)') do t[#t + 1] = k .. v end return table.concat(t, ';') end)()",
     "\"a1;b2;c3\""},
    {"(function() local t = {} for w in ('one two  three'):gmatch('%a+') do t[#t + 1] = w end return table.concat(t, '|') end)()",
     "\"one|two|three\""},
    {"(function() local n = 0 for w in ('abc'):gmatch('x*') do n = n + 1 end return n end)()",
     "4"},
    {"(function() local t = {} for w in string.gmatch('abcabc', 'a.', 2) do t[#t + 1] = w end return table.concat(t, '|') end)()",
     "\"ab\""},
    {"(function() local n = 0 for w in ('^a^a'):gmatch('^a') do n = n + 1 end return n end)()",
     "2"},
    {"(function() local t = {} for p in ('abc'):gmatch('()') do t[#t + 1] = p end return table.concat(t, ',') end)()",
     "\"1,2,3,4\""},
    {"(function() local t = {} for a, p in ('x1y22z333'):gmatch('(%d+)()') do t[#t + 1] = a .. '@' .. p end return table.concat(t, ',') end)()",
     "\"1@3,22@6,333@10\""},
    {"string.gsub('hello world', 'o', '0')",
     "\"hell0 w0rld\",2"},
    {"string.gsub('hello world', '(%w+)', '<%1>')",
     "\"<hello> <world>\",2"},
    {"string.gsub('hello world', '%w+', '%0 %0', 1)",
     "\"hello hello world\",1"},
    {"string.gsub('one two', '(%w+) (%w+)', '%2 %1')",
     "\"two one\",1"},
    {"string.gsub('abc', '', '-')",
     "\"-a-b-c-\",4"},
    {"string.gsub('abc', 'x*', '-')",
     "\"-a-b-c-\",4"},
    {"string.gsub('$name is $age', '%$(%w+)', {name = 'Ann', age = 42})",
     "\"Ann is 42\",2"},
    {"string.gsub('$x and $y', '%$(%w+)', {x = '1'})",
     "\"1 and $y\",2"},
    {"string.gsub('a b c', '%w', function(c) return c:upper() end)",
     "\"A B C\",3"},
    {"string.gsub('a b c', '%w', function(c) if c == 'b' then return false end return c .. c end)",
     "\"aa b cc\",3"},
    {"string.gsub('a b', '%w', function() end)",
     "\"a b\",2"},
    {"string.gsub('k=v', '(%w)=(%w)', function(k, v) return v .. '=' .. k end)",
     "\"v=k\",1"},
    {"string.gsub('abc', '%w', '%%')",
     "\"%%%\",3"},
    {"string.gsub('hello', '^h', 'H')",
     "\"Hello\",1"},
    {"string.gsub('hello hello', '^hello', 'X')",
     "\"X hello\",1"},
    {"string.gsub('hello', 'o$', 'O')",
     "\"hellO\",1"},
    {"string.gsub('abc', '()', '%1')",
     "\"1a2b3c4\",4"},
    {"string.gsub('x', 'x', 5)",
     "\"5\",1"},
    {"string.gsub('abc', 'b', '%0%0', 0)",
     "\"abc\",0"},
    {"string.gsub('aaa', 'a', 'b', 2)",
     "\"bba\",2"},
    {"string.gsub('aaa', 'a', 'b', -1)",
     "\"aaa\",0"},
    {"string.gsub('f(x) g(y)', '%b()', '[]')",
     "\"f[] g[]\",2"},
    {"string.gsub('THE (quick) fox', '%f[%a]%a+', 'W')",
     "\"W (W) W\",3"},
    {"string.gsub('x', 'x', '%%1')",
     "\"%1\",1"},
    {"('abc'):gsub('b', 'B')",
     "\"aBc\",1"},
    {"pcall(string.find, 'a', '%')",
     "false,\"malformed pattern (ends with '%')\""},
    {"pcall(string.find, 'a', '[a')",
     "false,\"malformed pattern (missing ']')\""},
    {"pcall(string.find, 'a', '[')",
     "false,\"malformed pattern (missing ']')\""},
    {"pcall(string.match, 'a', '%f')",
     "false,\"missing '[' after '%f' in pattern\""},
    {"pcall(string.match, 'a', '%fa')",
     "false,\"missing '[' after '%f' in pattern\""},
    {"pcall(string.find, 'a', '%b')",
     "false,\"malformed pattern (missing arguments to '%b')\""},
    {"pcall(string.find, 'a', '%ba')",
     "false,\"malformed pattern (missing arguments to '%b')\""},
    {"pcall(string.match, 'a', '(a')",
     "false,\"unfinished capture\""},
    {"pcall(string.match, 'a', 'a)')",
     "false,\"invalid pattern capture\""},
    {"pcall(string.match, 'aa', '(a)%2')",
     "false,\"invalid capture index %2\""},
    {"pcall(string.match, 'aa', '%1')",
     "false,\"invalid capture index %1\""},
    {"pcall(string.match, 'aa', '(a%1)')",
     "false,\"invalid capture index %1\""},
    {"pcall(string.gsub, 'abc', '(a)', '%2')",
     "false,\"invalid capture index %2\""},
    {"pcall(string.gsub, 'abc', 'a', '%2')",
     "false,\"invalid capture index %2\""},
    {"pcall(string.gsub, 'abc', 'a', '%x')",
     "false,\"invalid use of '%' in replacement string\""},
    {"pcall(string.gsub, 'abc', '.', {a = 1, b = true})",
     "false,\"invalid replacement value (a boolean)\""},
    {"pcall(string.gsub, 'abc', '.', function() return {} end)",
     "false,\"invalid replacement value (a table)\""},
    {"pcall(string.gsub, 'abc', '.')",
     "false,\"bad argument #3 to 'string.gsub' (string/function/table expected, got no value)\""},
    {"pcall(string.gsub, 'abc', '.', true)",
     "false,\"bad argument #3 to 'string.gsub' (string/function/table expected, got boolean)\""},
    {"pcall(string.find, {}, 'a')",
     "false,\"bad argument #1 to 'string.find' (string expected, got table)\""},
    {"pcall(string.match, 'a')",
     "false,\"bad argument #2 to 'string.match' (string expected, got no value)\""},
    {"pcall(string.gmatch, 'a')",
     "false,\"bad argument #2 to 'string.gmatch' (string expected, got no value)\""},
    {"pcall(string.find, 'a', 'a', 'x')",
     "false,\"bad argument #3 to 'string.find' (number expected, got string)\""},
    {"pcall(string.find, ('a'):rep(40), ('(a)'):rep(33))",
     "false,\"too many captures\""},
    {"pcall(string.match, ('a'):rep(250), ('a?'):rep(250))",
     "false,\"pattern too complex\""},
    {"pcall(string.gsub, 'abc', '.', '%', 1)",
     "false,\"invalid use of '%' in replacement string\""},
};

#define PATTERN_SHOW                                                                           \
	"local function show(...)\n"                                                           \
	"  local t = table.pack(...)\n"                                                        \
	"  local out = {}\n"                                                                   \
	"  for i = 1, t.n do\n"                                                                \
	"    local v = t[i]\n"                                                                 \
	"    out[i] = type(v) == 'string' and string.format('%q', v) or tostring(v)\n"         \
	"  end\n"                                                                              \
	"  return table.concat(out, ',')\n"                                                    \
	"end\n"

static void
test_pattern_semantics(void)
{
	g_autoptr(PalLua) lua = pal_lua_new();
	g_autofree gchar *msg = NULL;

	for (guint i = 0; i < G_N_ELEMENTS(pattern_checks); i++) {
		g_autofree gchar *code =
		    g_strconcat(PATTERN_SHOW "return show(", pattern_checks[i].expr, ")", NULL);
		g_autoptr(GError) error = NULL;
		g_autoptr(JsonNode) result = NULL;

		if (!pal_lua_eval(lua, compile_chunk(lua, code), &result, NULL, &error))
			g_error("%s: %s", pattern_checks[i].expr, error->message);
		g_assert_nonnull(result);
		if (g_strcmp0(json_node_get_string(result), pattern_checks[i].expected) != 0)
			g_error("%s gives %s, Lua 5.4 %s",
				pattern_checks[i].expr,
				json_node_get_string(result),
				pattern_checks[i].expected);
	}
	/* one set of functions for string.find(s, p) and s:find(p) */
	assert_expr(lua,
		    "('').find == string.find and ('').match == string.match and "
		    "('').gmatch == string.gmatch and ('').gsub == string.gsub",
		    "true");
	/* errors outside pcall carry the chunk's name and line */
	assert_chunk_fails(
	    lua, "local s = 'x'\nreturn s:find('%')", NAME ":2: malformed pattern (ends with '%')");
	assert_chunk_fails(lua,
			   "return string.match('x', '%f')",
			   NAME ":1: missing '[' after '%f' in pattern");
	msg = chunk_error(lua, "return ('x'):gsub('(x)', '%2')", "invalid capture index");
	g_assert_cmpstr(msg, ==, NAME ":1: invalid capture index %2");
	g_clear_pointer(&msg, g_free);
	msg = chunk_error(lua, "for w in ('x'):gmatch('(') do end", "unfinished capture");
	g_assert_cmpstr(msg, ==, NAME ":1: unfinished capture");
}

/* ---- escape attempts ---- */

typedef struct {
	const gchar *path;
	const gchar *code;
	const gchar *expected; /* '|'-separated alternatives */
} Escape;

static const Escape escapes[] = {
    {"io-open", "return io.open('/etc/passwd'):read('a')", "global 'io'"},
    {"io-popen", "io.popen('id')", "global 'io'"},
    {"os-execute", "os.execute('id')", "field 'execute'"},
    {"os-getenv", "return os.getenv('HOME')", "field 'getenv'"},
    {"os-remove", "os.remove('/tmp/x')", "field 'remove'"},
    {"os-exit", "os.exit(1)", "field 'exit'"},
    {"require", "require('io')", "global 'require'"},
    {"load", "load('return 1')()", "global 'load'"},
    {"loadstring", "loadstring('return 1')()", "global 'loadstring'"},
    {"dofile", "dofile('/etc/passwd')", "global 'dofile'"},
    {"loadfile", "loadfile('/etc/passwd')", "global 'loadfile'"},
    {"string-dump", "return string.dump(function() end)", "field 'dump'"},
    {"string-dump-method", "return ('').dump(print)", "field 'dump'|method 'dump'"},
    {"debug", "debug.sethook()", "global 'debug'"},
    {"debug-getregistry", "return debug.getregistry()", "global 'debug'"},
    {"package-loadlib", "package.loadlib('libc.so.6', 'system')", "global 'package'"},
    {"coroutine", "coroutine.wrap(print)()", "global 'coroutine'"},
    {"collectgarbage-stop", "collectgarbage('stop')", "collectgarbage(\"stop\") is not allowed"},
    {"collectgarbage-collect", "collectgarbage()", "is not allowed"},
    {"string-metatable",
     "getmetatable('').__index = {upper = function() return 'pwned' end}",
     "index a boolean value"},
    {"string-metatable-index", "getmetatable('').__index.upper = nil", "index a boolean value"},
    {"setmetatable-env",
     "setmetatable(_ENV, {__index = function() return 'pwned' end})",
     "protected metatable"},
    {"setmetatable-G", "setmetatable(_G, nil)", "protected metatable"},
    {"rawset-string",
     "rawset(string, 'upper', function() return 'pwned' end)",
     "read-only library 'string'"},
    {"assign-string", "string.upper = nil", "read-only library 'string'"},
    {"assign-math", "math.floor = function() return 0 end", "read-only library 'math'"},
    {"table-insert-library",
     "\ntable.insert(table, 'x')",
     ":2: attempt to modify the read-only library 'table'"},
    {"pairs-library", "local f, t = pairs(string) t.upper = nil", "read-only library 'string'"},
    {"library-metatable", "getmetatable(string).__index.upper = nil", "index a boolean value"},
    {"json-null", "json.null = 1", "read-only library 'json'"},
    {"json-null-metatable", "getmetatable(json.null).__tostring = nil", "index a boolean value"},
    {"array-metatable", "getmetatable(json.decode('[]')).__index = {}", "index a boolean value"},
    {"array-setmetatable", "setmetatable(json.decode('[]'), nil)", "protected metatable"},
    {"gc-metamethod",
     "setmetatable({}, {__gc = function() while true do end end})",
     "__gc metamethods are not allowed"},
    {"endless-loop", "while true do end", "instruction budget of 1000000 exceeded"},
    {"endless-repeat",
     "local n = 0 repeat n = n + 1 until false",
     "instruction budget of 1000000 exceeded"},
    {"pcall-budget",
     "while true do pcall(function() while true do end end) end",
     "instruction budget of 1000000 exceeded"},
    {"pcall-budget-return",
     "pcall(function() while true do end end) return 'survived'",
     "instruction budget of 1000000 exceeded"},
    {"xpcall-handler",
     "local ok, e = xpcall(error, function(e) return 'handled: ' .. e end, 'x', 0) error(e, 0)",
     "handled: x"},
    {"xpcall-budget",
     "xpcall(function() while true do end end, function(e) while true do end end) return "
     "'survived'",
     "instruction budget"},
    {"tostring-budget",
     "return tostring(setmetatable({}, {__tostring = function() while true do end end}))",
     "instruction budget"},
    {"close-budget",
     "do local x <close> = setmetatable({}, {__close = function() while true do end end}) end",
     "instruction budget"},
    {"string-rep", "return #string.rep('x', 1e9)", "memory limit of 8388608 bytes exceeded"},
    {"string-rep-method", "return #('x'):rep(1e9)", "memory limit of 8388608 bytes exceeded"},
    {"table-growth",
     "local t = {} for i = 1, 1e8 do t[i] = {i} end",
     "memory limit of 8388608 bytes exceeded"},
    {"string-growth",
     "local t = {} local i = 0 while true do i = i + 1 t[i] = string.rep('x', 100) .. i end",
     "memory limit of 8388608 bytes exceeded"},
    {"pcall-memory",
     "local ok repeat ok = pcall(string.rep, 'x', 1e9) until false",
     "memory limit of 8388608 bytes exceeded"},
    {"pcall-memory-return",
     "local ok = pcall(string.rep, 'x', 1e9) return 'survived'",
     "memory limit of 8388608 bytes exceeded"},
    {"recursion-tail-plus",
     "local function f() return f() + 1 end f()",
     "memory limit|stack overflow|instruction budget"},
    {"recursion-non-tail",
     "local function f(n) local x = f(n + 1) return x end return f(1)",
     "memory limit|stack overflow|instruction budget"},
    {"recursion-metamethod",
     "local t = setmetatable({}, {__index = function(t, k) return t[k] end}) return t.x",
     "stack overflow"},
    {"self-reference", "local t = {} t.t = t return t", "result.t: a table that contains itself"},
    {"string-find-huge", "return string.rep('a', 1e8):find('b')", "memory limit"},
};

static void
test_escape(gconstpointer data)
{
	const Escape *escape = data;
	g_autoptr(PalLua) lua = pal_lua_new();
	g_autofree gchar *msg = NULL;

	msg = chunk_error(lua, escape->code, escape->expected);
	g_test_message("%s → %s", escape->code, msg);
	/* the same sandbox keeps working, libraries intact */
	assert_expr(lua, "1 + 1", "2");
	assert_expr(lua,
		    "('abc'):upper() .. string.upper('d') .. math.floor(1.5) .. "
		    "table.concat({'e'}) .. tostring(json.null)",
		    "\"ABCD1enull\"");
	assert_expr(lua, "type(setmetatable) .. type(pcall)", "\"functionfunction\"");
	assert_expr(lua, "#string.rep('x', 1000)", "1000");
	assert_chunk(lua, "local ok, e = pcall(error, 'caught', 0) return e", "\"caught\"");
	/* nothing of the failed evaluation is left in the state */
	assert_expr(lua, "collectgarbage('count') < 2048", "true");
}

/* _ENV is the script's to change, for itself only */
static void
test_escape_env(void)
{
	g_autoptr(PalLua) lua = pal_lua_new();

	assert_chunk(lua, "_ENV = nil return 1", "1");
	assert_expr(lua, "string.upper('x')", "\"X\"");
	assert_chunk(lua, "local _ENV = {x = 5} return x", "5");
	assert_expr(lua, "x", "(nil)");
	assert_chunk(lua, "_G.print = nil _G.string = 1", "(nil)");
	/* shadowed in the environment until it is reset */
	assert_expr(lua, "('x'):upper()", "\"X\"");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/palaver/lua/convert/roundtrip", test_convert_roundtrip);
	g_test_add_func("/palaver/lua/convert/types", test_convert_types);
	g_test_add_func("/palaver/lua/convert/numbers", test_convert_numbers);
	g_test_add_func("/palaver/lua/convert/tables", test_convert_tables);
	g_test_add_func("/palaver/lua/convert/no-json-form", test_convert_no_json_form);
	g_test_add_func("/palaver/lua/convert/depth", test_convert_depth);
	g_test_add_func("/palaver/lua/convert/self-reference", test_convert_self_reference);
	g_test_add_func("/palaver/lua/convert/json-to-text", test_json_to_text);
	g_test_add_func("/palaver/lua/convert/json-helpers", test_json_helpers);
	g_test_add_func("/palaver/lua/eval/expression", test_eval_expression);
	g_test_add_func("/palaver/lua/eval/chunk", test_eval_chunk);
	g_test_add_func("/palaver/lua/eval/globals", test_eval_globals);
	g_test_add_func("/palaver/lua/eval/reset", test_reset);
	g_test_add_func("/palaver/lua/eval/functions", test_functions);
	g_test_add_func("/palaver/lua/errors/runtime", test_errors_runtime);
	g_test_add_func("/palaver/lua/errors/names", test_errors_names);
	g_test_add_func("/palaver/lua/errors/syntax", test_errors_syntax);
	g_test_add_func("/palaver/lua/errors/bytecode", test_errors_bytecode);
	g_test_add_func("/palaver/lua/limits/budget", test_limits_budget);
	g_test_add_func("/palaver/lua/limits/memory", test_limits_memory);
	g_test_add_func("/palaver/lua/limits/small", test_limits_small);
	g_test_add_func("/palaver/lua/limits/garbage", test_limits_garbage);
	g_test_add_func("/palaver/lua/pattern/budget", test_pattern_budget);
	g_test_add_func("/palaver/lua/pattern/pcall", test_pattern_pcall);
	g_test_add_func("/palaver/lua/pattern/shared-budget", test_pattern_shared_budget);
	g_test_add_func("/palaver/lua/pattern/semantics", test_pattern_semantics);
	for (guint i = 0; i < G_N_ELEMENTS(escapes); i++) {
		g_autofree gchar *path = g_strdup_printf("/palaver/lua/escape/%s", escapes[i].path);
		g_test_add_data_func(path, &escapes[i], test_escape);
	}
	g_test_add_func("/palaver/lua/escape/env", test_escape_env);
	return g_test_run();
}
