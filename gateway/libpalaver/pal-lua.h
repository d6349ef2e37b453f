/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/**
 * PalLua:
 *
 * A Lua 5.4 sandbox shared by flows and transformers: one lua_State with an allow-listed
 * environment and limits per evaluation.
 *
 * Allowed: the basic functions without `load`, `loadfile`, `dofile`, `require`,
 * `collectgarbage` (only `collectgarbage("count")`), `getmetatable` on strings, `setmetatable`
 * on anything but tables; `string` (no `string.dump`), `table`, `math` (`math.random` kept),
 * `utf8`, `os.time`, `os.date`, `os.clock`, and `json.encode` / `json.decode` / `json.null`.
 * Not there: `io`, the rest of `os`, `debug`, `package`, `coroutine`, bytecode.
 *
 * Each evaluation (pal_lua_eval()) runs under an instruction budget and a memory cap
 * (bytes the state may grow by during the evaluation; the custom allocator refuses more),
 * and the conversion between JSON and Lua values is bounded in depth.
 *
 * JSON ↔ Lua: objects become tables, arrays become sequences (tables marked as arrays so
 * that an empty one converts back to `[]`), null becomes `json.null`, integers
 * lua_Integer, other numbers floats. Back to JSON: a table whose keys are exactly 1..n (or
 * an empty table marked as an array) is an array, any other table an object with string
 * keys (number keys are written as text); a float without fractional part within the
 * 64-bit range becomes an integer; functions, userdata, NaN and infinities are an error.
 *
 * Not thread-safe: one instance per thread (a flow instance is used by one worker only).
 */
#define PAL_TYPE_LUA (pal_lua_get_type())
G_DECLARE_FINAL_TYPE(PalLua, pal_lua, PAL, LUA, GObject)

#define PAL_LUA_DEFAULT_MAX_INSTRUCTIONS 1000000
#define PAL_LUA_DEFAULT_MAX_MEMORY (8 * 1024 * 1024)
#define PAL_LUA_MAX_DEPTH 64

/**
 * PalLuaFunc:
 * @lua: the sandbox
 * @args: (transfer none): the call's arguments converted to JSON (a Lua nil is a JSON null)
 * @result: (out) (optional) (transfer full): what the Lua function returns; NULL for nothing
 * @user_data: from pal_lua_add_function()
 * @error: a failure; it becomes a Lua error with the message
 *
 * A C function made callable from Lua.
 */
typedef gboolean (*PalLuaFunc)(PalLua *lua,
			       JsonArray *args,
			       JsonNode **result,
			       gpointer user_data,
			       GError **error);

PalLua *
pal_lua_new(void);
void
pal_lua_set_limits(PalLua *self, guint64 max_instructions, gsize max_memory_bytes);

/* Compiles text (never bytecode) once; @name appears in errors, e.g. "flow demo, node calc"
 * gives "flow demo, node calc:1: attempt to …". Returns a handle > 0, or 0 and
 * PAL_ERROR_INVALID_DATA ("flow demo, node calc:1: syntax error near …").
 * An expression is compiled as `return (EXPR)`; a chunk as it is. */
guint
pal_lua_compile_expression(PalLua *self, const gchar *expr, const gchar *name, GError **error);
guint
pal_lua_compile_chunk(PalLua *self, const gchar *code, const gchar *name, GError **error);

/* Globals of the environment evaluations see, until pal_lua_reset(). @value (nullable =
 * nil) is converted (PAL_ERROR_INVALID_DATA when too deep). Tables given here are the same
 * ones scripts change in place, so read them back after an evaluation with
 * pal_lua_get_global(). */
gboolean
pal_lua_set_global(PalLua *self, const gchar *name, JsonNode *value, GError **error);
/* (transfer full) the global as JSON, NULL (no error) for nil */
JsonNode *
pal_lua_get_global(PalLua *self, const gchar *name, GError **error);
/* makes `table.name(…)` call @func (creates the global table @table when missing) */
void
pal_lua_add_function(PalLua *self,
		     const gchar *table,
		     const gchar *name,
		     PalLuaFunc func,
		     gpointer user_data);
/* forgets every global set by pal_lua_set_global() or by scripts; functions added with
 * pal_lua_add_function() stay */
void
pal_lua_reset(PalLua *self);

/* Runs a compiled handle within the limits. @result (optional) receives its first return
 * value as JSON (NULL for nil or nothing), @truthy (optional) whether that value is true in
 * Lua (anything but nil and false). A Lua error, an exceeded budget ("… instruction budget
 * of N exceeded"), memory cap ("… memory limit of N bytes exceeded") or a result that has no
 * JSON form gives FALSE and PAL_ERROR_FAILED with the name and line. */
gboolean
pal_lua_eval(PalLua *self, guint handle, JsonNode **result, gboolean *truthy, GError **error);

/* the JSON value as text the way templates render it: nil/null → "", integral numbers
 * without a decimal point, other numbers with up to 14 significant digits, booleans as
 * true/false, strings as they are, tables as compact JSON */
gchar *
pal_lua_json_to_text(JsonNode *value);

G_END_DECLS
