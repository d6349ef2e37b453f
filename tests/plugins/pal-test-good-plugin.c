/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test plugin `good`: a valid plugin implementing two extension points, nlu and transformer */
#include "config.h"

#include <palaver.h>

#define PAL_TYPE_TEST_GOOD_PLUGIN (pal_test_good_plugin_get_type())
G_DECLARE_FINAL_TYPE(PalTestGoodPlugin, pal_test_good_plugin, PAL, TEST_GOOD_PLUGIN, GObject)

struct _PalTestGoodPlugin {
	GObject parent_instance;
};

static void
pal_test_good_plugin_nlu_iface_init(PalNluInterface *iface);
static void
pal_test_good_plugin_transformer_iface_init(PalTransformerInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE(
    PalTestGoodPlugin,
    pal_test_good_plugin,
    G_TYPE_OBJECT,
    G_IMPLEMENT_INTERFACE(PAL_TYPE_EXTENSION, NULL)
	G_IMPLEMENT_INTERFACE(PAL_TYPE_NLU, pal_test_good_plugin_nlu_iface_init)
	    G_IMPLEMENT_INTERFACE(PAL_TYPE_TRANSFORMER,
				  pal_test_good_plugin_transformer_iface_init))

/* every text is the intent "test" */
static void
pal_test_good_plugin_parse_async(PalNlu *nlu,
				 const gchar *text,
				 const gchar *locale,
				 GCancellable *cancellable,
				 GAsyncReadyCallback callback,
				 gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(nlu, cancellable, callback, user_data);
	g_task_set_source_tag(task, pal_test_good_plugin_parse_async);
	g_task_return_pointer(task, pal_nlu_result_new("test", 1.0), g_object_unref);
}

static PalNluResult *
pal_test_good_plugin_parse_finish(PalNlu *nlu, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, nlu), NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}

static void
pal_test_good_plugin_nlu_iface_init(PalNluInterface *iface)
{
	iface->parse_async = pal_test_good_plugin_parse_async;
	iface->parse_finish = pal_test_good_plugin_parse_finish;
}

/* hooks nothing */
static PalTransformerHook
pal_test_good_plugin_get_hooks(PalTransformer *transformer)
{
	return 0;
}

static void
pal_test_good_plugin_transformer_iface_init(PalTransformerInterface *iface)
{
	iface->get_hooks = pal_test_good_plugin_get_hooks;
}

static void
pal_test_good_plugin_class_init(PalTestGoodPluginClass *klass)
{
}

static void
pal_test_good_plugin_init(PalTestGoodPlugin *self)
{
}

PAL_PLUGIN_DEFINE(good,
		  pal_test_good_plugin_get_type,
		  "1.2.3",
		  "LGPL-2.1-or-later",
		  "A valid test plugin (nlu and transformer)")
