/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test plugin `misnamed`: exports pal_plugin_misnamed_get_desc, but its descriptor says
 * its name is "other" */
#include "config.h"

#include <palaver.h>

#define PAL_TYPE_TEST_MISNAMED_PLUGIN (pal_test_misnamed_plugin_get_type())
G_DECLARE_FINAL_TYPE(PalTestMisnamedPlugin,
		     pal_test_misnamed_plugin,
		     PAL,
		     TEST_MISNAMED_PLUGIN,
		     GObject)

struct _PalTestMisnamedPlugin {
	GObject parent_instance;
};

G_DEFINE_FINAL_TYPE_WITH_CODE(PalTestMisnamedPlugin,
			      pal_test_misnamed_plugin,
			      G_TYPE_OBJECT,
			      G_IMPLEMENT_INTERFACE(PAL_TYPE_EXTENSION, NULL)
				  G_IMPLEMENT_INTERFACE(PAL_TYPE_HANDOVER, NULL))

static void
pal_test_misnamed_plugin_class_init(PalTestMisnamedPluginClass *klass)
{
}

static void
pal_test_misnamed_plugin_init(PalTestMisnamedPlugin *self)
{
}

G_MODULE_EXPORT const PalPluginDesc *
pal_plugin_misnamed_get_desc(void);

const PalPluginDesc *
pal_plugin_misnamed_get_desc(void)
{
	static const PalPluginDesc desc = {PAL_PLUGIN_ABI_MAJOR,
					   PAL_PLUGIN_ABI_MINOR,
					   "other",
					   "1.0",
					   "LGPL-2.1-or-later",
					   "Its descriptor name does not match its file name",
					   pal_test_misnamed_plugin_get_type,
					   {NULL}};
	return &desc;
}
