/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "palaver.h"

G_BEGIN_DECLS

#define PAL_TYPE_GRAPH_PLUGIN (pal_graph_plugin_get_type())
G_DECLARE_FINAL_TYPE(PalGraphPlugin, pal_graph_plugin, PAL, GRAPH_PLUGIN, GObject)

G_END_DECLS
