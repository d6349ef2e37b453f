/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test plugin `noext`: a valid descriptor whose type implements PalExtension but none of the
 * extension points (flow, nlu, transformer, handover) */
#include "config.h"

#include <palaver.h>

#define PAL_TYPE_TEST_NOEXT_PLUGIN (pal_test_noext_plugin_get_type())
G_DECLARE_FINAL_TYPE(PalTestNoextPlugin, pal_test_noext_plugin, PAL, TEST_NOEXT_PLUGIN, GObject)

struct _PalTestNoextPlugin {
	GObject parent_instance;
};

G_DEFINE_FINAL_TYPE_WITH_CODE(PalTestNoextPlugin,
			      pal_test_noext_plugin,
			      G_TYPE_OBJECT,
			      G_IMPLEMENT_INTERFACE(PAL_TYPE_EXTENSION, NULL))

static void
pal_test_noext_plugin_class_init(PalTestNoextPluginClass *klass)
{
}

static void
pal_test_noext_plugin_init(PalTestNoextPlugin *self)
{
}

PAL_PLUGIN_DEFINE(noext,
		  pal_test_noext_plugin_get_type,
		  "1.0",
		  "LGPL-2.1-or-later",
		  "Implements no extension point")
