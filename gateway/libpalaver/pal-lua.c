/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <string.h>

#include "pal-error.h"
#include "pal-json-util.h"
#include "pal-lua-pattern.h"
#include "pal-lua.h"

/*
 * How the sandbox is built:
 *
 *  - The real libraries are opened into the state's own globals table, which no script ever
 *    sees. Scripts run with an environment table (their `_ENV`, set as the chunk's upvalue at
 *    each evaluation) that is empty at first and falls back, through a locked metatable, on a
 *    shared `base` table holding the allowed functions and read-only views of the libraries.
 *    pal_lua_reset() just makes a new environment: cheap, and nothing a script did survives it.
 *  - Library views are empty proxies: reads go to the library, writes (`string.upper = nil`,
 *    `table.insert(string, …)`, rawset()) raise an error, pairs() works through `__pairs`. So
 *    a script cannot change a library for the evaluations after it, not even in the same
 *    environment. Global assignments (`pairs = 1`) only shadow in the environment.
 *  - pcall/xpcall are replaced by versions that let the end of the instruction budget and the
 *    memory cap through; after either, the count hook fires at every instruction and raises
 *    again, so nothing in the script runs on for long.
 *  - setmetatable() refuses `__gc`: finalizers run with hooks disabled (an endless one could
 *    not be stopped) and possibly outside an evaluation.
 *  - Pattern matching (find, match, gmatch, gsub) runs in C, where the count hook cannot stop
 *    it, and backtracks exponentially on patterns like '.-.-.-b': the string library gets
 *    Lua's own matcher from pal-lua-pattern.c, which counts its steps and charges them to
 *    the same budget with pal_lua_charge_steps().
 *  - No Lua error may unwind C code that holds memory or belongs to a caller: every Lua call
 *    that can raise runs under lua_pcall(), and C functions called from Lua release (or park
 *    in `pending_*`) their allocations before anything that can raise.
 */

/* instructions between two calls of the count hook */
#define PAL_LUA_HOOK_STEP 1000

/* Lua cuts chunk names to LUA_IDSIZE (60) bytes in messages, shorter than "flow NAME, node
 * NODE" may be: chunks are named "<MARK>handle<MARK>" and messages get the full name back */
#define PAL_LUA_NAME_MARK '\x1b'

typedef struct {
	PalLua *self;
	gchar *table; /* nullable: a global function */
	gchar *name;
	gchar *qualified; /* "table.name", for messages */
	PalLuaFunc func;
	gpointer user_data;
} PalLuaFunction;

struct _PalLua {
	GObject parent_instance;
	lua_State *L;
	guint64 max_instructions; /* 0: no budget */
	gsize max_memory;	  /* 0: no cap */
	gsize used;		  /* bytes held by the state */
	gsize limit;		  /* the allocator refuses to grow past it */
	GPtrArray *names;	  /* chunk name of handle i + 1 */
	GPtrArray *functions;	  /* of PalLuaFunction */
	int env_ref;		  /* registry slots */
	int env_mt_ref;
	int array_mt_ref;
	int null_ref;
	int handles_ref;

	/* the running evaluation */
	guint eval_depth; /* > 1 when a PalLuaFunc evaluates again */
	gsize used_at_start;
	guint64 instructions;
	int hook_step;
	gboolean budget_exceeded;
	gboolean memory_exceeded;
	gchar *limit_msg;	/* what is raised again and again once a limit is hit */
	gboolean push_too_deep; /* the last JSON → Lua conversion failed on depth */

	/* C memory that a Lua error would skip over: freed on the next use or when the
	 * evaluation ends */
	gchar *pending_msg;
	JsonNode *pending_node;
};

G_DEFINE_FINAL_TYPE(PalLua, pal_lua, G_TYPE_OBJECT)

/* key (by address) of the read-only marker in proxy metatables */
static const gchar pal_lua_readonly_key = 0;

static PalLua *
pal_lua_from_state(lua_State *L)
{
	return *(PalLua **)lua_getextraspace(L);
}

/* ---- allocator ---- */

static void *
pal_lua_alloc_cb(void *ud, void *ptr, size_t osize, size_t nsize)
{
	PalLua *self = ud;
	gsize old = ptr != NULL ? osize : 0; /* without a block, osize is a type tag */
	gpointer block;

	if (nsize == 0) {
		g_free(ptr);
		self->used -= old;
		return NULL;
	}
	/* a refusal makes Lua collect garbage, try again, then raise "not enough memory" */
	if (nsize > old && (self->used > self->limit || nsize - old > self->limit - self->used))
		return NULL;
	/* outside evaluations, running out of memory aborts as everywhere in GLib */
	block = self->eval_depth > 0 ? g_try_realloc(ptr, nsize) : g_realloc(ptr, nsize);
	if (block != NULL)
		self->used = self->used - old + nsize;
	return block;
}

static int
pal_lua_panic_cb(lua_State *L)
{
	/* not reached: every call that can raise is protected */
	g_critical("unprotected Lua error: %s",
		   lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?");
	return 0;
}

/* ---- names and messages ---- */

static const gchar *
pal_lua_handle_name(PalLua *self, guint handle)
{
	if (handle == 0 || handle > self->names->len)
		return NULL;
	return g_ptr_array_index(self->names, handle - 1);
}

/* @msg with each chunk mark replaced by the chunk's name, as valid UTF-8 */
static gchar *
pal_lua_expand_names(PalLua *self, const gchar *msg)
{
	g_autoptr(GString) out = NULL;
	const gchar *mark = strchr(msg, PAL_LUA_NAME_MARK);

	if (mark == NULL)
		return g_utf8_make_valid(msg, -1);
	out = g_string_new(NULL);
	while (mark != NULL) {
		const gchar *end = mark + 1;
		guint64 handle = 0;
		const gchar *name = NULL;

		g_string_append_len(out, msg, mark - msg);
		while (g_ascii_isdigit(*end) && handle < G_MAXUINT)
			handle = handle * 10 + (guint64)(*end++ - '0');
		if (*end == PAL_LUA_NAME_MARK)
			name = pal_lua_handle_name(self, (guint)MIN(handle, G_MAXUINT));
		if (name != NULL) {
			g_string_append(out, name);
			msg = end + 1;
		} else {
			g_string_append_c(out, PAL_LUA_NAME_MARK);
			msg = mark + 1;
		}
		mark = strchr(msg, PAL_LUA_NAME_MARK);
	}
	g_string_append(out, msg);
	return g_utf8_make_valid(out->str, (gssize)out->len);
}

/* the error of @handle: names expanded, and the chunk name in front when Lua put none there
 * (`error("x", 0)`, memory errors, errors raised by C functions) */
static gchar *
pal_lua_error_message(PalLua *self, guint handle, const gchar *raw)
{
	const gchar *name = pal_lua_handle_name(self, handle);
	g_autofree gchar *msg = pal_lua_expand_names(self, raw);
	gsize len = strlen(name);

	if (strncmp(msg, name, len) == 0 && msg[len] == ':')
		return g_steal_pointer(&msg);
	return g_strdup_printf("%s: %s", name, msg);
}

/* the innermost Lua function on the stack: unlike luaL_where(L, 1), also right when a library
 * function (table.insert, pcall) is between it and the error */
static gboolean
pal_lua_innermost(lua_State *L, lua_Debug *ar)
{
	for (int level = 0; lua_getstack(L, level, ar); level++) {
		if (lua_getinfo(L, "Sl", ar) && ar->currentline > 0)
			return TRUE;
	}
	return FALSE;
}

/* "chunk:line: " of the innermost Lua function, or "" */
static gchar *
pal_lua_where(lua_State *L)
{
	lua_Debug ar;

	if (pal_lua_innermost(L, &ar))
		return g_strdup_printf("%s:%d: ", ar.short_src, ar.currentline);
	return g_strdup("");
}

/* the same, pushed */
static void
pal_lua_push_where(lua_State *L)
{
	lua_Debug ar;

	if (pal_lua_innermost(L, &ar))
		lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
	else
		lua_pushliteral(L, "");
}

static void
pal_lua_hook_cb(lua_State *L, lua_Debug *ar);

/* an allocation was refused for good: the script stops, and pcall cannot catch that */
static void
pal_lua_note_memory_exceeded(PalLua *self, gboolean with_position)
{
	g_autofree gchar *where = NULL;

	if (self->eval_depth == 0 || self->memory_exceeded || self->budget_exceeded)
		return;
	self->memory_exceeded = TRUE;
	where = with_position ? pal_lua_where(self->L) : g_strdup("");
	self->limit_msg = g_strdup_printf(
	    "%smemory limit of %" G_GSIZE_FORMAT " bytes exceeded", where, self->max_memory);
	lua_sethook(self->L, pal_lua_hook_cb, LUA_MASKCOUNT, 1);
}

/* raises @msg (taken) with the position of the calling Lua code; @msg is parked until the
 * push succeeded, so that a memory error while pushing does not leak it */
static int
pal_lua_raise_take(lua_State *L, PalLua *self, gchar *msg)
{
	g_free(self->pending_msg);
	self->pending_msg = msg;
	pal_lua_push_where(L);
	lua_pushstring(L, msg);
	g_clear_pointer(&self->pending_msg, g_free);
	lua_concat(L, 2);
	return lua_error(L);
}

/* ---- the count hook ---- */

static void
pal_lua_hook_cb(lua_State *L, lua_Debug *ar)
{
	PalLua *self = pal_lua_from_state(L);

	if (!self->budget_exceeded && !self->memory_exceeded) {
		int step;

		if (self->max_instructions == 0)
			return;
		self->instructions += (guint64)self->hook_step;
		if (self->instructions < self->max_instructions) {
			step = (int)MIN(self->max_instructions - self->instructions,
					PAL_LUA_HOOK_STEP);
			if (step != self->hook_step) {
				self->hook_step = step;
				lua_sethook(L, pal_lua_hook_cb, LUA_MASKCOUNT, step);
			}
			return;
		}
		self->budget_exceeded = TRUE;
		lua_getinfo(L, "Sl", ar);
		self->limit_msg =
		    g_strdup_printf("%s:%d: instruction budget of %" G_GUINT64_FORMAT " exceeded",
				    ar->short_src,
				    ar->currentline,
				    self->max_instructions);
		/* from now on at every instruction: whatever catches the error stops at once */
		lua_sethook(L, pal_lua_hook_cb, LUA_MASKCOUNT, 1);
	}
	lua_pushstring(L, self->limit_msg);
	lua_error(L);
}

/* work done in C (the pattern matcher) counts like instructions; the error is the hook's */
void
pal_lua_charge_steps(lua_State *L, guint64 steps)
{
	PalLua *self = pal_lua_from_state(L);

	if (self->eval_depth == 0)
		return;
	if (!self->budget_exceeded && !self->memory_exceeded) {
		gchar *where;

		if (self->max_instructions == 0)
			return;
		self->instructions += MIN(steps, self->max_instructions);
		if (self->instructions < self->max_instructions)
			return;
		self->budget_exceeded = TRUE;
		/* no g_autofree: lua_error() below is a longjmp() */
		where = pal_lua_where(L);
		self->limit_msg =
		    g_strdup_printf("%sinstruction budget of %" G_GUINT64_FORMAT " exceeded",
				    where,
				    self->max_instructions);
		g_free(where);
		/* as in the hook: whatever catches the error stops at its next instruction */
		lua_sethook(L, pal_lua_hook_cb, LUA_MASKCOUNT, 1);
	}
	lua_pushstring(L, self->limit_msg);
	lua_error(L);
}

/* ---- JSON → Lua ---- */

static void
pal_lua_push_json(lua_State *L, PalLua *self, JsonNode *node, guint depth)
{
	switch (JSON_NODE_TYPE(node)) {
	case JSON_NODE_OBJECT: {
		JsonObject *object = json_node_get_object(node);
		JsonObjectIter iter;
		const gchar *name;
		JsonNode *member;

		if (depth >= PAL_LUA_MAX_DEPTH) {
			self->push_too_deep = TRUE;
			luaL_error(L, "JSON value nested deeper than %d levels", PAL_LUA_MAX_DEPTH);
		}
		luaL_checkstack(L, 3, "JSON value too deep");
		lua_createtable(L, 0, (int)MIN(json_object_get_size(object), G_MAXINT));
		json_object_iter_init(&iter, object);
		while (json_object_iter_next(&iter, &name, &member)) {
			lua_pushstring(L, name);
			pal_lua_push_json(L, self, member, depth + 1);
			lua_rawset(L, -3);
		}
		break;
	}
	case JSON_NODE_ARRAY: {
		JsonArray *array = json_node_get_array(node);
		guint n = json_array_get_length(array);

		if (depth >= PAL_LUA_MAX_DEPTH) {
			self->push_too_deep = TRUE;
			luaL_error(L, "JSON value nested deeper than %d levels", PAL_LUA_MAX_DEPTH);
		}
		luaL_checkstack(L, 3, "JSON value too deep");
		lua_createtable(L, (int)MIN(n, G_MAXINT), 0);
		for (guint i = 0; i < n; i++) {
			pal_lua_push_json(L, self, json_array_get_element(array, i), depth + 1);
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
		/* the mark that keeps an empty array an array on the way back */
		lua_rawgeti(L, LUA_REGISTRYINDEX, self->array_mt_ref);
		lua_setmetatable(L, -2);
		break;
	}
	case JSON_NODE_NULL:
		lua_rawgeti(L, LUA_REGISTRYINDEX, self->null_ref);
		break;
	case JSON_NODE_VALUE:
		switch (json_node_get_value_type(node)) {
		case G_TYPE_INT64:
			lua_pushinteger(L, (lua_Integer)json_node_get_int(node));
			break;
		case G_TYPE_DOUBLE:
			lua_pushnumber(L, (lua_Number)json_node_get_double(node));
			break;
		case G_TYPE_BOOLEAN:
			lua_pushboolean(L, json_node_get_boolean(node));
			break;
		case G_TYPE_STRING:
			lua_pushstring(L, json_node_get_string(node));
			break;
		default:
			lua_rawgeti(L, LUA_REGISTRYINDEX, self->null_ref);
			break;
		}
		break;
	default:
		lua_pushnil(L);
		break;
	}
}

/* pushes @node (taken; NULL pushes nothing) from a C function; parked while pushing */
static int
pal_lua_push_json_take(lua_State *L, PalLua *self, JsonNode *node)
{
	if (node == NULL)
		return 0;
	g_clear_pointer(&self->pending_node, json_node_unref);
	self->pending_node = node;
	pal_lua_push_json(L, self, node, 0);
	g_clear_pointer(&self->pending_node, json_node_unref);
	return 1;
}

/* ---- Lua → JSON: reads only (raw access, no metamethods, no allocation in Lua) ---- */

typedef struct {
	PalLua *self;
	lua_State *L;
	gsize budget; /* JSON bytes left: shared subtables could otherwise blow up exponentially */
	const void *path[PAL_LUA_MAX_DEPTH];
	guint depth;
	gchar *reason;	/* what failed */
	GString *where; /* where it failed, built while unwinding: ".a[2]"; NULL: at the top */
} PalLuaToJson;

typedef struct {
	gchar *key;
	JsonNode *value;
} PalLuaMember;

static void
pal_lua_member_free(gpointer data)
{
	PalLuaMember *m = data;

	g_free(m->key);
	if (m->value != NULL)
		json_node_unref(m->value);
	g_free(m);
}

static gint
pal_lua_member_cmp(gconstpointer a, gconstpointer b)
{
	const PalLuaMember *ma = *(const PalLuaMember *const *)a;
	const PalLuaMember *mb = *(const PalLuaMember *const *)b;

	return strcmp(ma->key, mb->key);
}

static gboolean
pal_lua_is_integral(gdouble d)
{
	return d == floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0;
}

/* Lua's own "%.14g", without a decimal point for integral values, whatever the locale */
static gchar *
pal_lua_format_number(gdouble d)
{
	gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

	if (pal_lua_is_integral(d))
		return g_strdup_printf("%" G_GINT64_FORMAT, (gint64)d);
	return g_strdup(g_ascii_formatd(buf, sizeof(buf), "%.14g", d));
}

/* ---- JSON text: json-glib 1.6 writes 0.1 as 0.10000000000000001 and 1e21 as "1e+21.0" (not
 * JSON), so json.encode() and templates use this compact writer ---- */

static void
pal_lua_append_json_string(GString *out, const gchar *s)
{
	g_string_append_c(out, '"');
	for (const guchar *p = (const guchar *)s; *p != '\0'; p++) {
		switch (*p) {
		case '"':
			g_string_append(out, "\\\"");
			break;
		case '\\':
			g_string_append(out, "\\\\");
			break;
		case '\n':
			g_string_append(out, "\\n");
			break;
		case '\r':
			g_string_append(out, "\\r");
			break;
		case '\t':
			g_string_append(out, "\\t");
			break;
		default:
			if (*p < 0x20)
				g_string_append_printf(out, "\\u%04x", *p);
			else
				g_string_append_c(out, (gchar)*p);
			break;
		}
	}
	g_string_append_c(out, '"');
}

/* the shortest text that reads back as @d; integral values without a decimal point */
static void
pal_lua_append_json_double(GString *out, gdouble d)
{
	const gchar *formats[] = {"%.15g", "%.16g", "%.17g"};
	gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

	if (!isfinite(d)) {
		g_string_append(out, "null");
		return;
	}
	if (pal_lua_is_integral(d)) {
		g_string_append_printf(out, "%" G_GINT64_FORMAT, (gint64)d);
		return;
	}
	for (guint i = 0; i < G_N_ELEMENTS(formats); i++) {
		g_ascii_formatd(buf, sizeof(buf), formats[i], d);
		if (g_ascii_strtod(buf, NULL) == d)
			break;
	}
	g_string_append(out, buf);
}

static void
pal_lua_append_json(GString *out, JsonNode *node)
{
	switch (JSON_NODE_TYPE(node)) {
	case JSON_NODE_OBJECT: {
		JsonObjectIter iter;
		const gchar *name;
		JsonNode *member;
		gboolean first = TRUE;

		g_string_append_c(out, '{');
		json_object_iter_init_ordered(&iter, json_node_get_object(node));
		while (json_object_iter_next_ordered(&iter, &name, &member)) {
			if (!first)
				g_string_append_c(out, ',');
			first = FALSE;
			pal_lua_append_json_string(out, name);
			g_string_append_c(out, ':');
			pal_lua_append_json(out, member);
		}
		g_string_append_c(out, '}');
		break;
	}
	case JSON_NODE_ARRAY: {
		JsonArray *array = json_node_get_array(node);
		guint n = json_array_get_length(array);

		g_string_append_c(out, '[');
		for (guint i = 0; i < n; i++) {
			if (i > 0)
				g_string_append_c(out, ',');
			pal_lua_append_json(out, json_array_get_element(array, i));
		}
		g_string_append_c(out, ']');
		break;
	}
	case JSON_NODE_VALUE:
		switch (json_node_get_value_type(node)) {
		case G_TYPE_INT64:
			g_string_append_printf(out, "%" G_GINT64_FORMAT, json_node_get_int(node));
			break;
		case G_TYPE_DOUBLE:
			pal_lua_append_json_double(out, json_node_get_double(node));
			break;
		case G_TYPE_BOOLEAN:
			g_string_append(out, json_node_get_boolean(node) ? "true" : "false");
			break;
		case G_TYPE_STRING:
			pal_lua_append_json_string(out, json_node_get_string(node));
			break;
		default:
			g_string_append(out, "null");
			break;
		}
		break;
	case JSON_NODE_NULL:
	default:
		g_string_append(out, "null");
		break;
	}
}

static gchar *
pal_lua_json_to_string(JsonNode *node)
{
	GString *out = g_string_new(NULL);

	pal_lua_append_json(out, node);
	return g_string_free(out, FALSE);
}

static gboolean
pal_lua_to_json_charge(PalLuaToJson *cx, gsize bytes)
{
	bytes += 16;
	if (bytes > cx->budget) {
		cx->reason = g_strdup("too large to convert to JSON (shared tables?)");
		return FALSE;
	}
	cx->budget -= bytes;
	return TRUE;
}

static gchar *
pal_lua_valid_string(const gchar *s, gsize len)
{
	if (g_utf8_validate_len(s, len, NULL))
		return g_strndup(s, len);
	return g_utf8_make_valid(s, (gssize)len);
}

static JsonNode *
pal_lua_to_json(PalLuaToJson *cx, int idx);

/* the JSON name of the key at @idx, or NULL */
static gchar *
pal_lua_key_to_string(PalLuaToJson *cx, int idx)
{
	lua_State *L = cx->L;
	size_t len;
	const gchar *s;

	switch (lua_type(L, idx)) {
	case LUA_TSTRING:
		s = lua_tolstring(L, idx, &len);
		return pal_lua_valid_string(s, len);
	case LUA_TNUMBER:
		if (lua_isinteger(L, idx))
			return g_strdup_printf("%" G_GINT64_FORMAT, (gint64)lua_tointeger(L, idx));
		return pal_lua_format_number((gdouble)lua_tonumber(L, idx));
	default:
		cx->reason = g_strdup_printf("a table key of type %s has no JSON form",
					     luaL_typename(L, idx));
		return NULL;
	}
}

/* prepends ".key" or "[key]" to the error position */
static void
pal_lua_to_json_where_key(PalLuaToJson *cx, const gchar *key, gboolean index)
{
	g_autofree gchar *part = NULL;

	if (index)
		part = g_strdup_printf("[%s]", key);
	else
		part = g_strdup_printf(".%s", key);
	if (cx->where == NULL)
		cx->where = g_string_new(NULL);
	g_string_prepend(cx->where, part);
}

static JsonNode *
pal_lua_array_to_json(PalLuaToJson *cx, int idx, lua_Integer n)
{
	lua_State *L = cx->L;
	g_autoptr(JsonArray) result = json_array_sized_new((guint)MIN(n, G_MAXUINT));

	for (lua_Integer i = 1; i <= n; i++) {
		JsonNode *child;

		lua_rawgeti(L, idx, i);
		child = pal_lua_to_json(cx, -1);
		lua_pop(L, 1);
		if (child == NULL) {
			g_autofree gchar *key = g_strdup_printf("%" G_GINT64_FORMAT, (gint64)i);
			pal_lua_to_json_where_key(cx, key, TRUE);
			return NULL;
		}
		json_array_add_element(result, child);
	}
	return json_node_init_array(json_node_alloc(), result);
}

static JsonNode *
pal_lua_object_to_json(PalLuaToJson *cx, int idx)
{
	lua_State *L = cx->L;
	g_autoptr(GPtrArray) members = g_ptr_array_new_with_free_func(pal_lua_member_free);
	g_autoptr(JsonObject) result = json_object_new();

	lua_pushnil(L);
	while (lua_next(L, idx) != 0) {
		PalLuaMember *m = g_new0(PalLuaMember, 1);

		g_ptr_array_add(members, m);
		m->key = pal_lua_key_to_string(cx, -2);
		if (m->key == NULL || !pal_lua_to_json_charge(cx, strlen(m->key))) {
			lua_pop(L, 2);
			return NULL;
		}
		m->value = pal_lua_to_json(cx, -1);
		if (m->value == NULL) {
			pal_lua_to_json_where_key(cx, m->key, lua_type(L, -2) == LUA_TNUMBER);
			lua_pop(L, 2);
			return NULL;
		}
		lua_pop(L, 1);
	}
	/* sorted, so that the same table always gives the same text */
	g_ptr_array_sort(members, pal_lua_member_cmp);
	for (guint i = 0; i < members->len; i++) {
		PalLuaMember *m = g_ptr_array_index(members, i);
		json_object_set_member(result, m->key, g_steal_pointer(&m->value));
	}
	return json_node_init_object(json_node_alloc(), result);
}

static JsonNode *
pal_lua_table_to_json(PalLuaToJson *cx, int idx)
{
	lua_State *L = cx->L;
	const void *p = lua_topointer(L, idx);
	lua_Integer n = 0;
	lua_Integer max = 0;
	gboolean sequence = TRUE;
	gboolean array = FALSE;
	JsonNode *node;

	for (guint i = 0; i < cx->depth; i++) {
		if (cx->path[i] == p) {
			cx->reason = g_strdup("a table that contains itself has no JSON form");
			return NULL;
		}
	}
	if (cx->depth >= PAL_LUA_MAX_DEPTH) {
		cx->reason = g_strdup_printf("nested deeper than %d levels", PAL_LUA_MAX_DEPTH);
		return NULL;
	}
	/* lua_checkstack() reports failure instead of raising */
	if (!lua_checkstack(L, 4)) {
		cx->reason = g_strdup("out of Lua stack");
		return NULL;
	}
	if (!pal_lua_to_json_charge(cx, 0))
		return NULL;

	/* an array when the keys are exactly 1..n, or when empty and marked as one */
	lua_pushnil(L);
	while (lua_next(L, idx) != 0) {
		lua_pop(L, 1);
		n++;
		if (sequence && lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1)
			max = MAX(max, lua_tointeger(L, -1));
		else
			sequence = FALSE;
	}
	if (n > 0) {
		array = sequence && max == n;
	} else if (lua_getmetatable(L, idx)) {
		lua_rawgeti(L, LUA_REGISTRYINDEX, cx->self->array_mt_ref);
		array = lua_rawequal(L, -1, -2);
		lua_pop(L, 2);
	}

	cx->path[cx->depth++] = p;
	node = array ? pal_lua_array_to_json(cx, idx, n) : pal_lua_object_to_json(cx, idx);
	cx->depth--;
	return node;
}

static JsonNode *
pal_lua_to_json(PalLuaToJson *cx, int idx)
{
	lua_State *L = cx->L;

	idx = lua_absindex(L, idx);
	switch (lua_type(L, idx)) {
	case LUA_TNIL:
		return json_node_init_null(json_node_alloc());
	case LUA_TBOOLEAN:
		return json_node_init_boolean(json_node_alloc(), lua_toboolean(L, idx));
	case LUA_TNUMBER: {
		gdouble d;

		if (!pal_lua_to_json_charge(cx, 0))
			return NULL;
		if (lua_isinteger(L, idx))
			return json_node_init_int(json_node_alloc(), (gint64)lua_tointeger(L, idx));
		d = (gdouble)lua_tonumber(L, idx);
		if (!isfinite(d)) {
			cx->reason =
			    g_strdup_printf("%s has no JSON form", isnan(d) ? "NaN" : "infinity");
			return NULL;
		}
		if (pal_lua_is_integral(d))
			return json_node_init_int(json_node_alloc(), (gint64)d);
		return json_node_init_double(json_node_alloc(), d);
	}
	case LUA_TSTRING: {
		size_t len;
		const gchar *s = lua_tolstring(L, idx, &len);

		g_autofree gchar *valid = NULL;

		if (!pal_lua_to_json_charge(cx, len))
			return NULL;
		/* Lua strings are bytes; JSON text is UTF-8 without NUL */
		if (!g_utf8_validate_len(s, len, NULL))
			s = valid = g_utf8_make_valid(s, (gssize)len);
		return json_node_init_string(json_node_alloc(), s);
	}
	case LUA_TTABLE:
		return pal_lua_table_to_json(cx, idx);
	case LUA_TUSERDATA: {
		gboolean null;

		lua_rawgeti(L, LUA_REGISTRYINDEX, cx->self->null_ref);
		null = lua_rawequal(L, -1, idx);
		lua_pop(L, 1);
		if (null)
			return json_node_init_null(json_node_alloc());
	}
		/* fall through */
	default:
		cx->reason = g_strdup_printf("a %s value has no JSON form", luaL_typename(L, idx));
		return NULL;
	}
}

/* the value at @idx as JSON, or NULL with "@what[ argument #@argn]…: reason" in @msg */
static JsonNode *
pal_lua_value_to_json(PalLua *self, int idx, const gchar *what, int argn, gchar **msg)
{
	gsize room = self->max_memory > 0 ? self->max_memory : PAL_LUA_DEFAULT_MAX_MEMORY;
	PalLuaToJson cx = {
	    .self = self,
	    .L = self->L,
	    /* a tree takes less as JSON than in Lua: only sharing can go past this */
	    .budget = self->used + MIN(room, G_MAXSIZE - self->used),
	};
	JsonNode *node = pal_lua_to_json(&cx, idx);

	if (node == NULL) {
		g_autofree gchar *where = cx.where != NULL ? g_string_free(cx.where, FALSE) : NULL;
		if (argn > 0)
			*msg = g_strdup_printf("%s: argument #%d%s: %s",
					       what,
					       argn,
					       where != NULL ? where : "",
					       cx.reason);
		else
			*msg = g_strdup_printf(
			    "%s%s: %s", what, where != NULL ? where : "", cx.reason);
		g_free(cx.reason);
	}
	return node;
}

/* ---- protected calls ---- */

/* runs @func with @data as its only argument under lua_pcall(), leaving @nresults values;
 * errors are PAL_ERROR_INVALID_DATA when a JSON value was too deep, else PAL_ERROR_FAILED */
static gboolean
pal_lua_protected(PalLua *self, lua_CFunction func, gpointer data, int nresults, GError **error)
{
	lua_State *L = self->L;
	int status;

	self->push_too_deep = FALSE;
	lua_pushcfunction(L, func);
	lua_pushlightuserdata(L, data);
	status = lua_pcall(L, 1, nresults, 0);
	if (status == LUA_OK)
		return TRUE;
	if (status == LUA_ERRMEM) {
		pal_lua_note_memory_exceeded(self, TRUE);
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_FAILED,
			    "memory limit of %" G_GSIZE_FORMAT " bytes exceeded",
			    self->max_memory);
	} else {
		g_autofree gchar *msg = pal_lua_expand_names(
		    self, lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "Lua error");
		g_set_error_literal(error,
				    PAL_ERROR,
				    self->push_too_deep ? PAL_ERROR_INVALID_DATA : PAL_ERROR_FAILED,
				    msg);
	}
	lua_pop(L, 1);
	return FALSE;
}

/* ---- the sandbox's own functions ---- */

static int
pal_lua_pcall_finish(lua_State *L, PalLua *self, int status, int extra)
{
	if (status == LUA_ERRMEM)
		pal_lua_note_memory_exceeded(self, TRUE);
	/* the budget and the memory cap are not the script's to catch */
	if (status != LUA_OK && (self->budget_exceeded || self->memory_exceeded))
		return lua_error(L);
	if (status == LUA_OK)
		return lua_gettop(L) - extra;
	lua_pushboolean(L, 0);
	if (lua_type(L, -2) == LUA_TSTRING && strchr(lua_tostring(L, -2), PAL_LUA_NAME_MARK)) {
		g_clear_pointer(&self->pending_msg, g_free);
		self->pending_msg = pal_lua_expand_names(self, lua_tostring(L, -2));
		lua_pushstring(L, self->pending_msg);
		g_clear_pointer(&self->pending_msg, g_free);
	} else {
		lua_pushvalue(L, -2);
	}
	return 2;
}

static int
pal_lua_pcall_cb(lua_State *L)
{
	int status;

	luaL_checkany(L, 1);
	lua_pushboolean(L, 1);
	lua_insert(L, 1);
	status = lua_pcall(L, lua_gettop(L) - 2, LUA_MULTRET, 0);
	return pal_lua_pcall_finish(L, pal_lua_from_state(L), status, 0);
}

/* the message handler of xpcall() around the script's: an error raised by the count hook
 * calls it with hooks disabled, where an endless handler could not be stopped */
static int
pal_lua_xpcall_handler_cb(lua_State *L)
{
	PalLua *self = pal_lua_from_state(L);

	if (self->budget_exceeded || self->memory_exceeded)
		return 1;
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, 1);
	return 1;
}

static int
pal_lua_xpcall_cb(lua_State *L)
{
	int n = lua_gettop(L);
	int status;

	luaL_checktype(L, 2, LUA_TFUNCTION);
	lua_pushvalue(L, 2);
	lua_pushcclosure(L, pal_lua_xpcall_handler_cb, 1);
	lua_replace(L, 2);
	lua_pushboolean(L, 1);
	lua_pushvalue(L, 1);
	lua_rotate(L, 3, 2);
	status = lua_pcall(L, n - 2, LUA_MULTRET, 2);
	return pal_lua_pcall_finish(L, pal_lua_from_state(L), status, 2);
}

static int
pal_lua_setmetatable_cb(lua_State *L)
{
	int t = lua_type(L, 2);

	luaL_checktype(L, 1, LUA_TTABLE);
	luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
	if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
		return luaL_error(L, "cannot change a protected metatable");
	if (t == LUA_TTABLE) {
		lua_pushliteral(L, "__gc");
		if (lua_rawget(L, 2) != LUA_TNIL)
			return luaL_error(L, "__gc metamethods are not allowed in the sandbox");
	}
	lua_settop(L, 2);
	lua_setmetatable(L, 1);
	return 1;
}

static int
pal_lua_rawset_cb(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	luaL_checkany(L, 2);
	luaL_checkany(L, 3);
	if (lua_getmetatable(L, 1)) {
		if (lua_rawgetp(L, -1, &pal_lua_readonly_key) == LUA_TSTRING) {
			pal_lua_push_where(L);
			lua_pushfstring(
			    L, "attempt to modify the read-only library '%s'", lua_tostring(L, -2));
			lua_concat(L, 2);
			return lua_error(L);
		}
		lua_pop(L, 2);
	}
	lua_settop(L, 3);
	lua_rawset(L, 1);
	return 1;
}

static int
pal_lua_collectgarbage_cb(lua_State *L)
{
	const gchar *opt = luaL_optstring(L, 1, "collect");

	if (g_strcmp0(opt, "count") != 0)
		return luaL_error(L, "collectgarbage(\"%s\") is not allowed, only \"count\"", opt);
	lua_pushnumber(L,
		       (lua_Number)lua_gc(L, LUA_GCCOUNT, 0) +
			   (lua_Number)lua_gc(L, LUA_GCCOUNTB, 0) / 1024.0);
	return 1;
}

/* a daemon's standard output is not the script's: print() goes to the debug log */
static int
pal_lua_print_cb(lua_State *L)
{
	int n = lua_gettop(L);
	luaL_Buffer b;

	luaL_buffinit(L, &b);
	for (int i = 1; i <= n; i++) {
		if (i > 1)
			luaL_addchar(&b, '\t');
		luaL_tolstring(L, i, NULL);
		luaL_addvalue(&b);
	}
	luaL_pushresult(&b);
	g_debug("lua: %s", lua_tostring(L, -1));
	return 0;
}

static int
pal_lua_readonly_newindex_cb(lua_State *L)
{
	pal_lua_push_where(L);
	lua_pushfstring(L,
			"attempt to modify the read-only library '%s'",
			lua_tostring(L, lua_upvalueindex(1)));
	lua_concat(L, 2);
	return lua_error(L);
}

static int
pal_lua_readonly_next_cb(lua_State *L)
{
	lua_settop(L, 2);
	if (lua_next(L, lua_upvalueindex(1)) != 0)
		return 2;
	lua_pushnil(L);
	return 1;
}

/* pairs(proxy) walks the library without handing it out */
static int
pal_lua_readonly_pairs_cb(lua_State *L)
{
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_pushvalue(L, 1);
	lua_pushnil(L);
	return 3;
}

/* replaces the table on top with a read-only view of it */
static void
pal_lua_make_readonly(lua_State *L, const gchar *name)
{
	lua_newtable(L);
	lua_createtable(L, 0, 5);
	lua_pushvalue(L, -3);
	lua_setfield(L, -2, "__index");
	lua_pushstring(L, name);
	lua_pushcclosure(L, pal_lua_readonly_newindex_cb, 1);
	lua_setfield(L, -2, "__newindex");
	lua_pushvalue(L, -3);
	lua_pushcclosure(L, pal_lua_readonly_next_cb, 1);
	lua_pushcclosure(L, pal_lua_readonly_pairs_cb, 1);
	lua_setfield(L, -2, "__pairs");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_pushstring(L, name);
	lua_rawsetp(L, -2, &pal_lua_readonly_key);
	lua_setmetatable(L, -2);
	lua_replace(L, -2);
}

/* C functions called from Lua hold no g_auto* variables where they can raise: a Lua error
 * is a longjmp(), which skips cleanups */
static int
pal_lua_json_encode_cb(lua_State *L)
{
	PalLua *self = pal_lua_from_state(L);
	JsonNode *node;
	gchar *msg = NULL;

	luaL_checkany(L, 1);
	node = pal_lua_value_to_json(self, 1, "json.encode: value", 0, &msg);
	if (node == NULL)
		return pal_lua_raise_take(L, self, msg);
	g_free(self->pending_msg);
	self->pending_msg = pal_lua_json_to_string(node);
	json_node_unref(node);
	lua_pushstring(L, self->pending_msg);
	g_clear_pointer(&self->pending_msg, g_free);
	return 1;
}

static int
pal_lua_json_decode_cb(lua_State *L)
{
	PalLua *self = pal_lua_from_state(L);
	size_t len;
	const gchar *text = luaL_checklstring(L, 1, &len);
	GError *error = NULL;
	JsonNode *node;
	gchar *msg;

	/* bounded: json-glib's parser recurses on nesting (PLATFORM-NOTES 13) */
	node =
	    pal_json_parse_bounded(text, len, G_MAXSSIZE, PAL_LUA_MAX_DEPTH, "json.decode", &error);
	if (node != NULL)
		return pal_lua_push_json_take(L, self, node);
	msg = g_strdup(error->message);
	g_error_free(error);
	return pal_lua_raise_take(L, self, msg);
}

static int
pal_lua_null_tostring_cb(lua_State *L)
{
	lua_pushliteral(L, "null");
	return 1;
}

/* a PalLuaFunc: converts, calls, and returns a message instead of raising while C memory
 * is held */
static gchar *
pal_lua_function_invoke(lua_State *L, PalLuaFunction *fn, JsonNode **result)
{
	int n = lua_gettop(L);
	g_autoptr(JsonArray) args = json_array_sized_new((guint)n);
	g_autoptr(GError) error = NULL;

	for (int i = 1; i <= n; i++) {
		gchar *msg = NULL;
		JsonNode *arg = pal_lua_value_to_json(fn->self, i, fn->qualified, i, &msg);
		if (arg == NULL)
			return msg;
		json_array_add_element(args, arg);
	}
	if (!fn->func(fn->self, args, result, fn->user_data, &error)) {
		g_clear_pointer(result, json_node_unref);
		if (error == NULL)
			return g_strdup_printf("%s failed", fn->qualified);
		return g_strdup(error->message);
	}
	return NULL;
}

static int
pal_lua_function_cb(lua_State *L)
{
	PalLuaFunction *fn = lua_touserdata(L, lua_upvalueindex(1));
	JsonNode *result = NULL;
	gchar *msg = pal_lua_function_invoke(L, fn, &result);

	if (msg != NULL)
		return pal_lua_raise_take(L, fn->self, msg);
	return pal_lua_push_json_take(L, fn->self, result);
}

/* ---- environments ---- */

/* env[table][name] = the C function, creating env[table] when it is not a table */
static void
pal_lua_install_function(lua_State *L, PalLuaFunction *fn)
{
	lua_rawgeti(L, LUA_REGISTRYINDEX, fn->self->env_ref);
	if (fn->table != NULL) {
		/* raw: a library of the same name (a read-only proxy in base) is shadowed */
		lua_pushstring(L, fn->table);
		if (lua_rawget(L, -2) != LUA_TTABLE) {
			lua_pop(L, 1);
			lua_newtable(L);
			lua_pushvalue(L, -1);
			lua_setfield(L, -3, fn->table);
		}
	} else {
		lua_pushvalue(L, -1);
	}
	lua_pushlightuserdata(L, fn);
	lua_pushcclosure(L, pal_lua_function_cb, 1);
	lua_setfield(L, -2, fn->name);
	lua_pop(L, 2);
}

static int
pal_lua_install_function_cb(lua_State *L)
{
	pal_lua_install_function(L, lua_touserdata(L, 1));
	return 0;
}

static int
pal_lua_new_env_cb(lua_State *L)
{
	PalLua *self = pal_lua_from_state(L);

	lua_createtable(L, 0, 8);
	lua_rawgeti(L, LUA_REGISTRYINDEX, self->env_mt_ref);
	lua_setmetatable(L, -2);
	lua_pushvalue(L, -1);
	lua_setfield(L, -2, "_G");
	lua_rawseti(L, LUA_REGISTRYINDEX, self->env_ref);
	for (guint i = 0; i < self->functions->len; i++)
		pal_lua_install_function(L, g_ptr_array_index(self->functions, i));
	return 0;
}

static int
pal_lua_setup_cb(lua_State *L)
{
	PalLua *self = pal_lua_from_state(L);
	const luaL_Reg libs[] = {
	    {LUA_GNAME, luaopen_base},
	    {LUA_STRLIBNAME, luaopen_string},
	    {LUA_TABLIBNAME, luaopen_table},
	    {LUA_MATHLIBNAME, luaopen_math},
	    {LUA_UTF8LIBNAME, luaopen_utf8},
	    {LUA_OSLIBNAME, luaopen_os},
	};
	const gchar *base_names[] = {"assert",
				     "error",
				     "getmetatable",
				     "ipairs",
				     "next",
				     "pairs",
				     "rawequal",
				     "rawget",
				     "rawlen",
				     "select",
				     "tonumber",
				     "tostring",
				     "type",
				     "_VERSION"};
	const luaL_Reg base_funcs[] = {
	    {"pcall", pal_lua_pcall_cb},
	    {"xpcall", pal_lua_xpcall_cb},
	    {"setmetatable", pal_lua_setmetatable_cb},
	    {"rawset", pal_lua_rawset_cb},
	    {"collectgarbage", pal_lua_collectgarbage_cb},
	    {"print", pal_lua_print_cb},
	    {NULL, NULL},
	};
	const gchar *libs_shared[] = {
	    LUA_STRLIBNAME, LUA_TABLIBNAME, LUA_MATHLIBNAME, LUA_UTF8LIBNAME};
	const gchar *os_names[] = {"time", "date", "clock"};
	const luaL_Reg json_funcs[] = {
	    {"encode", pal_lua_json_encode_cb},
	    {"decode", pal_lua_json_decode_cb},
	    {NULL, NULL},
	};

	/* the real libraries live in the state's globals, which scripts never see */
	for (guint i = 0; i < G_N_ELEMENTS(libs); i++) {
		luaL_requiref(L, libs[i].name, libs[i].func, 1);
		lua_pop(L, 1);
	}
	/* no bytecode out either; ("").dump would reach it through the string metatable */
	lua_getglobal(L, LUA_STRLIBNAME);
	lua_pushnil(L);
	lua_setfield(L, -2, "dump");
	/* pattern matching within the instruction budget, for string.find(s, p) and s:find(p)
	 * alike: the proxies and the string metatable both read this table */
	pal_lua_pattern_register(L);
	lua_pop(L, 1);
	/* all strings share one metatable: getmetatable("") must not hand it out */
	lua_pushliteral(L, "");
	lua_getmetatable(L, -1);
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 2);

	/* json.null: a unique, immutable value */
	lua_newuserdatauv(L, 0, 0);
	lua_createtable(L, 0, 3);
	lua_pushcfunction(L, pal_lua_null_tostring_cb);
	lua_setfield(L, -2, "__tostring");
	lua_pushliteral(L, "json.null");
	lua_setfield(L, -2, "__name");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_setmetatable(L, -2);
	self->null_ref = luaL_ref(L, LUA_REGISTRYINDEX);

	/* shared by every array that came from JSON, so locked too */
	lua_createtable(L, 0, 1);
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	self->array_mt_ref = luaL_ref(L, LUA_REGISTRYINDEX);

	/* base: what every environment falls back on */
	lua_createtable(L, 0, 32);
	for (guint i = 0; i < G_N_ELEMENTS(base_names); i++) {
		lua_getglobal(L, base_names[i]);
		lua_setfield(L, -2, base_names[i]);
	}
	luaL_setfuncs(L, base_funcs, 0);
	for (guint i = 0; i < G_N_ELEMENTS(libs_shared); i++) {
		lua_getglobal(L, libs_shared[i]);
		pal_lua_make_readonly(L, libs_shared[i]);
		lua_setfield(L, -2, libs_shared[i]);
	}
	lua_createtable(L, 0, G_N_ELEMENTS(os_names));
	lua_getglobal(L, LUA_OSLIBNAME);
	for (guint i = 0; i < G_N_ELEMENTS(os_names); i++) {
		lua_getfield(L, -1, os_names[i]);
		lua_setfield(L, -3, os_names[i]);
	}
	lua_pop(L, 1);
	pal_lua_make_readonly(L, LUA_OSLIBNAME);
	lua_setfield(L, -2, LUA_OSLIBNAME);
	lua_createtable(L, 0, 3);
	luaL_setfuncs(L, json_funcs, 0);
	lua_rawgeti(L, LUA_REGISTRYINDEX, self->null_ref);
	lua_setfield(L, -2, "null");
	pal_lua_make_readonly(L, "json");
	lua_setfield(L, -2, "json");

	/* environments: new tables on a locked metatable that points at base */
	lua_createtable(L, 0, 2);
	lua_pushvalue(L, -2);
	lua_setfield(L, -2, "__index");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	self->env_mt_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_pop(L, 1);

	lua_newtable(L);
	self->handles_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_pushboolean(L, 0);
	self->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return pal_lua_new_env_cb(L);
}

/* ---- GObject ---- */

static void
pal_lua_function_free(gpointer data)
{
	PalLuaFunction *fn = data;

	g_free(fn->table);
	g_free(fn->name);
	g_free(fn->qualified);
	g_free(fn);
}

static void
pal_lua_finalize(GObject *object)
{
	PalLua *self = PAL_LUA(object);

	lua_close(self->L);
	g_ptr_array_unref(self->names);
	g_ptr_array_unref(self->functions);
	g_free(self->limit_msg);
	g_free(self->pending_msg);
	g_clear_pointer(&self->pending_node, json_node_unref);
	G_OBJECT_CLASS(pal_lua_parent_class)->finalize(object);
}

static void
pal_lua_class_init(PalLuaClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = pal_lua_finalize;
}

static void
pal_lua_init(PalLua *self)
{
	g_autoptr(GError) error = NULL;

	self->max_instructions = PAL_LUA_DEFAULT_MAX_INSTRUCTIONS;
	self->max_memory = PAL_LUA_DEFAULT_MAX_MEMORY;
	self->limit = G_MAXSIZE;
	self->names = g_ptr_array_new_with_free_func(g_free);
	self->functions = g_ptr_array_new_with_free_func(pal_lua_function_free);
	/* the allocator aborts on exhaustion outside evaluations, so this cannot fail */
	self->L = lua_newstate(pal_lua_alloc_cb, self);
	g_assert(self->L != NULL);
	*(PalLua **)lua_getextraspace(self->L) = self;
	lua_atpanic(self->L, pal_lua_panic_cb);
	if (!pal_lua_protected(self, pal_lua_setup_cb, NULL, 0, &error))
		g_critical("cannot set up the Lua sandbox: %s", error->message);
}

/**
 * pal_lua_new:
 *
 * Returns: (transfer full): a sandbox with the default limits
 */
PalLua *
pal_lua_new(void)
{
	return g_object_new(PAL_TYPE_LUA, NULL);
}

/**
 * pal_lua_set_limits:
 * @max_instructions: Lua VM instructions per evaluation (counted in steps of up to 1000), 0
 *   for no budget; the steps of pattern matching (string.find and the like) count as
 *   instructions too
 * @max_memory_bytes: how much the state may grow during an evaluation, 0 for no cap
 *
 * Takes effect at the next evaluation.
 */
void
pal_lua_set_limits(PalLua *self, guint64 max_instructions, gsize max_memory_bytes)
{
	g_return_if_fail(PAL_IS_LUA(self));
	self->max_instructions = max_instructions;
	self->max_memory = max_memory_bytes;
}

/* ---- compiling ---- */

typedef struct {
	PalLua *self;
	const gchar *code;
	gsize len;
	const gchar *chunkname;
	guint handle;
	gchar *msg; /* a compile error */
} PalLuaCompile;

static int
pal_lua_compile_cb(lua_State *L)
{
	PalLuaCompile *c = lua_touserdata(L, 1);

	/* "t": text only, bytecode could break out of the VM */
	if (luaL_loadbufferx(L, c->code, c->len, c->chunkname, "t") != LUA_OK) {
		c->msg = g_strdup(lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?");
		return 0;
	}
	lua_rawgeti(L, LUA_REGISTRYINDEX, c->self->handles_ref);
	lua_pushvalue(L, -2);
	lua_rawseti(L, -2, c->handle);
	return 0;
}

static guint
pal_lua_compile(PalLua *self, const gchar *code, gsize len, const gchar *name, GError **error)
{
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *chunkname = NULL;
	PalLuaCompile c = {.self = self, .code = code, .len = len};

	c.handle = self->names->len + 1;
	chunkname = g_strdup_printf("=%c%u%c", PAL_LUA_NAME_MARK, c.handle, PAL_LUA_NAME_MARK);
	c.chunkname = chunkname;
	g_ptr_array_add(self->names, g_strdup(name));
	if (!pal_lua_protected(self, pal_lua_compile_cb, &c, 0, &error_local)) {
		g_ptr_array_set_size(self->names, (gint)c.handle - 1);
		g_set_error(
		    error, PAL_ERROR, PAL_ERROR_FAILED, "%s: %s", name, error_local->message);
		return 0;
	}
	if (c.msg != NULL) {
		g_autofree gchar *msg = pal_lua_error_message(self, c.handle, c.msg);
		g_free(c.msg);
		g_ptr_array_set_size(self->names, (gint)c.handle - 1);
		g_set_error_literal(error, PAL_ERROR, PAL_ERROR_INVALID_DATA, msg);
		return 0;
	}
	return c.handle;
}

/**
 * pal_lua_compile_expression:
 * @expr: a Lua expression
 * @name: names the expression in error messages
 *
 * Returns: a handle for pal_lua_eval(), or 0 with %PAL_ERROR_INVALID_DATA
 */
guint
pal_lua_compile_expression(PalLua *self, const gchar *expr, const gchar *name, GError **error)
{
	g_autofree gchar *code = NULL;

	g_return_val_if_fail(PAL_IS_LUA(self), 0);
	g_return_val_if_fail(expr != NULL, 0);
	g_return_val_if_fail(name != NULL, 0);
	g_return_val_if_fail(error == NULL || *error == NULL, 0);

	/* a newline would end a trailing `-- comment`, but the closing parenthesis on a line of
	 * its own would also get the line of errors found when the value is complete */
	code = g_strdup_printf("return (%s%s)", expr, strstr(expr, "--") != NULL ? "\n" : "");
	return pal_lua_compile(self, code, strlen(code), name, error);
}

/**
 * pal_lua_compile_chunk:
 * @code: Lua statements (text; bytecode is refused)
 * @name: names the chunk in error messages
 *
 * Returns: a handle for pal_lua_eval(), or 0 with %PAL_ERROR_INVALID_DATA
 */
guint
pal_lua_compile_chunk(PalLua *self, const gchar *code, const gchar *name, GError **error)
{
	g_return_val_if_fail(PAL_IS_LUA(self), 0);
	g_return_val_if_fail(code != NULL, 0);
	g_return_val_if_fail(name != NULL, 0);
	g_return_val_if_fail(error == NULL || *error == NULL, 0);

	return pal_lua_compile(self, code, strlen(code), name, error);
}

/* ---- globals ---- */

typedef struct {
	PalLua *self;
	const gchar *name;
	JsonNode *value;
} PalLuaGlobal;

static int
pal_lua_set_global_cb(lua_State *L)
{
	PalLuaGlobal *g = lua_touserdata(L, 1);

	lua_rawgeti(L, LUA_REGISTRYINDEX, g->self->env_ref);
	lua_pushstring(L, g->name);
	if (g->value != NULL)
		pal_lua_push_json(L, g->self, g->value, 0);
	else
		lua_pushnil(L);
	lua_rawset(L, -3);
	return 0;
}

static int
pal_lua_get_global_cb(lua_State *L)
{
	PalLuaGlobal *g = lua_touserdata(L, 1);

	lua_rawgeti(L, LUA_REGISTRYINDEX, g->self->env_ref);
	lua_pushstring(L, g->name);
	lua_rawget(L, -2);
	return 1;
}

/**
 * pal_lua_set_global:
 * @name: the global's name
 * @value: (nullable): its value; %NULL removes it
 *
 * Returns: %FALSE with %PAL_ERROR_INVALID_DATA when @value is nested deeper than
 *   %PAL_LUA_MAX_DEPTH
 */
gboolean
pal_lua_set_global(PalLua *self, const gchar *name, JsonNode *value, GError **error)
{
	PalLuaGlobal g = {.self = self, .name = name, .value = value};

	g_return_val_if_fail(PAL_IS_LUA(self), FALSE);
	g_return_val_if_fail(name != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	if (!pal_lua_protected(self, pal_lua_set_global_cb, &g, 0, error)) {
		g_prefix_error(error, "global '%s': ", name);
		return FALSE;
	}
	return TRUE;
}

/**
 * pal_lua_get_global:
 * @name: the global's name
 *
 * Only what was set with pal_lua_set_global() or by scripts: not the libraries.
 *
 * Returns: (transfer full) (nullable): the global as JSON, %NULL without error for nil
 */
JsonNode *
pal_lua_get_global(PalLua *self, const gchar *name, GError **error)
{
	PalLuaGlobal g = {.self = self, .name = name};
	g_autofree gchar *what = NULL;
	gchar *msg = NULL;
	JsonNode *node = NULL;

	g_return_val_if_fail(PAL_IS_LUA(self), NULL);
	g_return_val_if_fail(name != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	if (!lua_checkstack(self->L, 4)) {
		g_set_error_literal(error, PAL_ERROR, PAL_ERROR_FAILED, "out of Lua stack");
		return NULL;
	}
	if (!pal_lua_protected(self, pal_lua_get_global_cb, &g, 1, error)) {
		g_prefix_error(error, "global '%s': ", name);
		return NULL;
	}
	if (!lua_isnil(self->L, -1)) {
		what = g_strdup_printf("global '%s'", name);
		node = pal_lua_value_to_json(self, -1, what, 0, &msg);
		if (node == NULL)
			g_set_error_literal(error, PAL_ERROR, PAL_ERROR_FAILED, msg);
		g_free(msg);
	}
	lua_pop(self->L, 1);
	return node;
}

/**
 * pal_lua_add_function:
 * @table: (nullable): the global table that gets the function, created when missing;
 *   %NULL makes a global function
 * @name: the function's name in @table
 * @func: called with the arguments converted to JSON
 * @user_data: for @func
 *
 * The function stays across pal_lua_reset(). Each environment gets its own @table.
 */
void
pal_lua_add_function(PalLua *self,
		     const gchar *table,
		     const gchar *name,
		     PalLuaFunc func,
		     gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	PalLuaFunction *fn;

	g_return_if_fail(PAL_IS_LUA(self));
	g_return_if_fail(name != NULL);
	g_return_if_fail(func != NULL);

	fn = g_new0(PalLuaFunction, 1);
	fn->self = self;
	fn->table = g_strdup(table);
	fn->name = g_strdup(name);
	fn->qualified = table != NULL ? g_strdup_printf("%s.%s", table, name) : g_strdup(name);
	fn->func = func;
	fn->user_data = user_data;
	g_ptr_array_add(self->functions, fn);
	if (!pal_lua_protected(self, pal_lua_install_function_cb, fn, 0, &error))
		g_warning("cannot add Lua function %s: %s", fn->qualified, error->message);
}

/**
 * pal_lua_reset:
 *
 * Starts a new environment: globals set by pal_lua_set_global() or by scripts are gone,
 * functions added with pal_lua_add_function() are there again, unchanged.
 */
void
pal_lua_reset(PalLua *self)
{
	g_autoptr(GError) error = NULL;

	g_return_if_fail(PAL_IS_LUA(self));

	if (!pal_lua_protected(self, pal_lua_new_env_cb, NULL, 0, &error))
		g_warning("cannot reset the Lua environment: %s", error->message);
}

/* ---- evaluation ---- */

static void
pal_lua_eval_begin(PalLua *self)
{
	self->instructions = 0;
	self->budget_exceeded = FALSE;
	self->memory_exceeded = FALSE;
	g_clear_pointer(&self->limit_msg, g_free);
	self->used_at_start = self->used;
	if (self->max_memory > 0)
		self->limit = self->used + MIN(self->max_memory, G_MAXSIZE - self->used);
	if (self->max_instructions > 0) {
		self->hook_step = (int)MIN(self->max_instructions, PAL_LUA_HOOK_STEP);
		lua_sethook(self->L, pal_lua_hook_cb, LUA_MASKCOUNT, self->hook_step);
	}
}

static void
pal_lua_eval_end(PalLua *self)
{
	gsize grown = self->used > self->used_at_start ? self->used - self->used_at_start : 0;

	lua_sethook(self->L, NULL, 0, 0);
	self->limit = G_MAXSIZE;
	g_clear_pointer(&self->pending_msg, g_free);
	g_clear_pointer(&self->pending_node, json_node_unref);
	/* collect as if what this evaluation kept had been allocated twice, so its garbage does
	 * not wait for later evaluations (the state has no __gc metamethods: this runs no Lua
	 * code); the step only runs once that puts the collector in debt, so small evaluations
	 * pay nothing; after hitting the cap, all at once, so that the next one starts clean */
	if (self->memory_exceeded)
		lua_gc(self->L, LUA_GCCOLLECT);
	else if (grown > 0)
		lua_gc(self->L, LUA_GCSTEP, (int)MIN((grown + 1023) / 1024, G_MAXINT));
}

/* the outcome of the lua_pcall() of @handle, whose result or error is on top */
static gboolean
pal_lua_eval_finish(PalLua *self,
		    guint handle,
		    int status,
		    JsonNode **result,
		    gboolean *truthy,
		    GError **error)
{
	lua_State *L = self->L;
	g_autofree gchar *raw = NULL;
	g_autofree gchar *msg = NULL;

	if (status == LUA_ERRMEM)
		pal_lua_note_memory_exceeded(self, FALSE);
	/* also when the script caught it: the limit was reached all the same */
	if (self->budget_exceeded || self->memory_exceeded) {
		msg = pal_lua_error_message(self, handle, self->limit_msg);
		g_set_error_literal(error, PAL_ERROR, PAL_ERROR_FAILED, msg);
		return FALSE;
	}
	if (status != LUA_OK) {
		/* no metamethods here (__tostring): this runs outside protection */
		switch (lua_type(L, -1)) {
		case LUA_TSTRING:
			raw = g_strdup(lua_tostring(L, -1));
			break;
		case LUA_TNUMBER:
			raw =
			    lua_isinteger(L, -1)
				? g_strdup_printf("%" G_GINT64_FORMAT, (gint64)lua_tointeger(L, -1))
				: pal_lua_format_number((gdouble)lua_tonumber(L, -1));
			break;
		default:
			raw = g_strdup_printf("(error object is a %s value)", luaL_typename(L, -1));
			break;
		}
		msg = pal_lua_error_message(self, handle, raw);
		g_set_error_literal(error, PAL_ERROR, PAL_ERROR_FAILED, msg);
		return FALSE;
	}
	if (result != NULL && !lua_isnil(L, -1)) {
		*result = pal_lua_value_to_json(self, -1, "result", 0, &raw);
		if (*result == NULL) {
			msg = pal_lua_error_message(self, handle, raw);
			g_set_error_literal(error, PAL_ERROR, PAL_ERROR_FAILED, msg);
			return FALSE;
		}
	}
	if (truthy != NULL)
		*truthy = lua_toboolean(L, -1);
	return TRUE;
}

/**
 * pal_lua_eval:
 * @handle: from pal_lua_compile_expression() or pal_lua_compile_chunk()
 * @result: (out) (optional) (nullable) (transfer full): the first value returned, as JSON;
 *   %NULL for nil or nothing
 * @truthy: (out) (optional): whether that value is true in Lua
 *
 * Runs @handle in the current environment within the limits. May be called again from a
 * #PalLuaFunc; the inner evaluation then shares the budget and cap of the outer one.
 *
 * Returns: %FALSE with %PAL_ERROR_FAILED on a Lua error, an exceeded limit or a result
 *   without JSON form; the message starts with the chunk's name
 */
gboolean
pal_lua_eval(PalLua *self, guint handle, JsonNode **result, gboolean *truthy, GError **error)
{
	lua_State *L;
	int top;
	int status;
	gboolean ok;

	g_return_val_if_fail(PAL_IS_LUA(self), FALSE);
	g_return_val_if_fail(handle > 0 && handle <= self->names->len, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	L = self->L;
	if (result != NULL)
		*result = NULL;
	if (truthy != NULL)
		*truthy = FALSE;
	if (!lua_checkstack(L, 4)) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_FAILED,
			    "%s: out of Lua stack",
			    pal_lua_handle_name(self, handle));
		return FALSE;
	}
	top = lua_gettop(L);
	if (self->eval_depth++ == 0)
		pal_lua_eval_begin(self);
	lua_rawgeti(L, LUA_REGISTRYINDEX, self->handles_ref);
	lua_rawgeti(L, -1, (lua_Integer)handle);
	lua_remove(L, -2);
	lua_rawgeti(L, LUA_REGISTRYINDEX, self->env_ref);
	lua_setupvalue(L, -2, 1); /* _ENV */
	status = lua_pcall(L, 0, 1, 0);
	ok = pal_lua_eval_finish(self, handle, status, result, truthy, error);
	lua_settop(L, top);
	if (--self->eval_depth == 0)
		pal_lua_eval_end(self);
	return ok;
}

/**
 * pal_lua_json_to_text:
 * @value: (nullable): a JSON value
 *
 * Returns: (transfer full): @value as a template renders it
 */
gchar *
pal_lua_json_to_text(JsonNode *value)
{
	if (value == NULL)
		return g_strdup("");
	switch (JSON_NODE_TYPE(value)) {
	case JSON_NODE_OBJECT:
	case JSON_NODE_ARRAY:
		return pal_lua_json_to_string(value);
	case JSON_NODE_VALUE:
		switch (json_node_get_value_type(value)) {
		case G_TYPE_INT64:
			return g_strdup_printf("%" G_GINT64_FORMAT, json_node_get_int(value));
		case G_TYPE_DOUBLE:
			return pal_lua_format_number(json_node_get_double(value));
		case G_TYPE_BOOLEAN:
			return g_strdup(json_node_get_boolean(value) ? "true" : "false");
		case G_TYPE_STRING:
			return g_strdup(json_node_get_string(value));
		default:
			return g_strdup("");
		}
	case JSON_NODE_NULL:
	default:
		return g_strdup("");
	}
}
