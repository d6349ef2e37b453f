/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test plugin `nosym`: the file is libpal-plugin-nosym.so but it exports the descriptor of
 * another name, so pal_plugin_nosym_get_desc is missing */
#include "config.h"

#include <palaver.h>

#define PAL_TYPE_TEST_NOSYM_PLUGIN (pal_test_nosym_plugin_get_type())
G_DECLARE_FINAL_TYPE(PalTestNosymPlugin, pal_test_nosym_plugin, PAL, TEST_NOSYM_PLUGIN, GObject)

struct _PalTestNosymPlugin {
	GObject parent_instance;
};

G_DEFINE_FINAL_TYPE_WITH_CODE(PalTestNosymPlugin,
			      pal_test_nosym_plugin,
			      G_TYPE_OBJECT,
			      G_IMPLEMENT_INTERFACE(PAL_TYPE_EXTENSION, NULL)
				  G_IMPLEMENT_INTERFACE(PAL_TYPE_HANDOVER, NULL))

static void
pal_test_nosym_plugin_class_init(PalTestNosymPluginClass *klass)
{
}

static void
pal_test_nosym_plugin_init(PalTestNosymPlugin *self)
{
}

PAL_PLUGIN_DEFINE(wrongname,
		  pal_test_nosym_plugin_get_type,
		  "1.0",
		  "LGPL-2.1-or-later",
		  "Exports pal_plugin_wrongname_get_desc instead of pal_plugin_nosym_get_desc")
