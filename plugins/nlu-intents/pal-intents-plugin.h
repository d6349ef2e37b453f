/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <palaver.h>

G_BEGIN_DECLS

#define PAL_TYPE_INTENTS_PLUGIN (pal_intents_plugin_get_type())
G_DECLARE_FINAL_TYPE(PalIntentsPlugin, pal_intents_plugin, PAL, INTENTS_PLUGIN, GObject)

/* pal_plugin_intents_get_desc() is declared by PAL_PLUGIN_DEFINE() in pal-intents-plugin.c;
 * code that links the static library declares it itself */

G_END_DECLS
