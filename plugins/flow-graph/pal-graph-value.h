/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "palaver.h"
#include "pal-lua.h"

G_BEGIN_DECLS

/*
 * A JSON value of a flow whose strings may hold `{{ expr }}` templates (FLOWS.md, Templates),
 * compiled once when the flow loads and rendered per turn. A string that is exactly one
 * `{{ expr }}` keeps the expression's type; any other string is text with each expression's
 * result rendered by pal_lua_json_to_text(). Values without templates are kept as literals.
 */
typedef struct _PalGraphValue PalGraphValue;

/* @errors receives "PATH: message" strings; returns NULL when @node had an error */
PalGraphValue *
pal_graph_value_compile(PalLua *lua,
			JsonNode *node,
			const gchar *path,
			const gchar *lua_name,
			GPtrArray *errors);
/* the same for a string that must be text (text, url, headers, reprompt) */
PalGraphValue *
pal_graph_value_compile_string(PalLua *lua,
			       const gchar *str,
			       const gchar *path,
			       const gchar *lua_name,
			       GPtrArray *errors);
/* (transfer full): the typed result; a nil expression gives a JSON null */
JsonNode *
pal_graph_value_render(PalGraphValue *value, PalLua *lua, GError **error);
/* (transfer full): the result as text, the way templates render */
gchar *
pal_graph_value_render_text(PalGraphValue *value, PalLua *lua, GError **error);
void
pal_graph_value_free(PalGraphValue *value);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PalGraphValue, pal_graph_value_free)

G_END_DECLS
