/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "palaver.h"

G_BEGIN_DECLS

#define PAL_TYPE_RASA_NLU_PLUGIN (pal_rasa_nlu_plugin_get_type())
G_DECLARE_FINAL_TYPE(PalRasaNluPlugin, pal_rasa_nlu_plugin, PAL, RASA_NLU_PLUGIN, GObject)

G_END_DECLS
