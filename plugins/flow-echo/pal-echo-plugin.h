/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* a plugin includes only the umbrella header of the plugin API; out of tree it comes from
 * `pkg-config --cflags palaver-1` */
#include <palaver.h>

G_BEGIN_DECLS

#define PAL_TYPE_ECHO_PLUGIN (pal_echo_plugin_get_type())
G_DECLARE_FINAL_TYPE(PalEchoPlugin, pal_echo_plugin, PAL, ECHO_PLUGIN, GObject)

/* pal_plugin_echo_get_desc() is declared by PAL_PLUGIN_DEFINE() in pal-echo-plugin.c; code
 * that links the static library declares it itself */

G_END_DECLS
