/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <palaver.h>

G_BEGIN_DECLS

#define PAL_TYPE_HTTP_FLOW_PLUGIN (pal_http_flow_plugin_get_type())
G_DECLARE_FINAL_TYPE(PalHttpFlowPlugin, pal_http_flow_plugin, PAL, HTTP_FLOW_PLUGIN, GObject)

/* pal_plugin_http_get_desc() is declared by PAL_PLUGIN_DEFINE() in pal-http-flow-plugin.c; code
 * that links the static library declares it itself with PAL_PLUGIN_DECLARE(http) */

G_END_DECLS
