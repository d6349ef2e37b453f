/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* private to libpalaver: Lua's pattern matching under the sandbox's instruction budget */

#include <glib.h>
#include <lua.h>

G_BEGIN_DECLS

/* pal-lua-pattern.c: replaces `find`, `match`, `gmatch` and `gsub` in the table on top of
 * the stack (the real string library, which the string metatable's __index also is) by
 * Lua 5.4's own code that charges its work to pal_lua_charge_steps() */
G_GNUC_INTERNAL
void
pal_lua_pattern_register(lua_State *L);

/* pal-lua.c: adds @steps of work done in C to the running evaluation's instruction count;
 * raises the "instruction budget of N exceeded" error of the count hook (which pcall cannot
 * catch) once the budget is spent, or again the limit already hit. Does nothing outside an
 * evaluation or without a budget. */
G_GNUC_INTERNAL
void
pal_lua_charge_steps(lua_State *L, guint64 steps);

G_END_DECLS
