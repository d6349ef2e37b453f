/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <gio/gio.h>

#include "pal-endpoint-info.h"
#include "pal-error.h"

struct _PalEndpointInfo {
	GObject parent_instance;
	gchar *name;
	gchar *locale;
	gchar *base_dir;
	gchar *data_dir;
	gboolean mask_logging;
};

G_DEFINE_FINAL_TYPE(PalEndpointInfo, pal_endpoint_info, G_TYPE_OBJECT)

static void
pal_endpoint_info_finalize(GObject *object)
{
	PalEndpointInfo *self = PAL_ENDPOINT_INFO(object);

	g_free(self->name);
	g_free(self->locale);
	g_free(self->base_dir);
	g_free(self->data_dir);
	G_OBJECT_CLASS(pal_endpoint_info_parent_class)->finalize(object);
}

static void
pal_endpoint_info_class_init(PalEndpointInfoClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = pal_endpoint_info_finalize;
}

static void
pal_endpoint_info_init(PalEndpointInfo *self)
{
}

/**
 * pal_endpoint_info_new:
 * @name: the endpoint's name
 * @locale: (nullable): its locale, `en` when %NULL
 * @base_dir: (nullable): folder of the endpoint file; relative paths resolve here first
 * @data_dir: (nullable): the shared data folder, searched second (`$datadir/palaver`)
 * @mask_logging: the endpoint's `dataProtection.maskLogging`
 *
 * Used by the gateway; plugins only read endpoint views.
 *
 * Returns: (transfer full): a new view
 */
PalEndpointInfo *
pal_endpoint_info_new(const gchar *name,
		      const gchar *locale,
		      const gchar *base_dir,
		      const gchar *data_dir,
		      gboolean mask_logging)
{
	PalEndpointInfo *self = g_object_new(PAL_TYPE_ENDPOINT_INFO, NULL);

	self->name = g_strdup(name);
	self->locale = g_strdup(locale != NULL ? locale : "en");
	self->base_dir = g_strdup(base_dir);
	self->data_dir = g_strdup(data_dir);
	self->mask_logging = mask_logging;
	return self;
}

const gchar *
pal_endpoint_info_get_name(PalEndpointInfo *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT_INFO(self), NULL);
	return self->name;
}

const gchar *
pal_endpoint_info_get_locale(PalEndpointInfo *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT_INFO(self), NULL);
	return self->locale;
}

/**
 * pal_endpoint_info_get_base_dir:
 *
 * Returns: (nullable): the folder of the endpoint's file, %NULL for endpoints created at runtime
 */
const gchar *
pal_endpoint_info_get_base_dir(PalEndpointInfo *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT_INFO(self), NULL);
	return self->base_dir;
}

/**
 * pal_endpoint_info_get_mask_logging:
 *
 * Returns: %TRUE when the endpoint's `dataProtection.maskLogging` is set: plugins must not log
 * message texts or data of this endpoint
 */
gboolean
pal_endpoint_info_get_mask_logging(PalEndpointInfo *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT_INFO(self), FALSE);
	return self->mask_logging;
}

/**
 * pal_endpoint_info_resolve_path:
 * @path: a path from the endpoint's configuration
 *
 * Resolves @path the way DESIGN.md §4 says: absolute paths as they are, relative ones against
 * the endpoint file's folder, then the shared data folder.
 *
 * Returns: (transfer full): an existing file's path, or %NULL with @error set
 */
gchar *
pal_endpoint_info_resolve_path(PalEndpointInfo *self, const gchar *path, GError **error)
{
	const gchar *dirs[2];

	g_return_val_if_fail(PAL_IS_ENDPOINT_INFO(self), NULL);
	g_return_val_if_fail(path != NULL, NULL);

	if (g_path_is_absolute(path)) {
		if (g_file_test(path, G_FILE_TEST_EXISTS))
			return g_strdup(path);
		g_set_error(error, PAL_ERROR, PAL_ERROR_NOT_FOUND, "file %s does not exist", path);
		return NULL;
	}
	dirs[0] = self->base_dir;
	dirs[1] = self->data_dir;
	for (guint i = 0; i < G_N_ELEMENTS(dirs); i++) {
		g_autofree gchar *full = NULL;
		if (dirs[i] == NULL)
			continue;
		full = g_build_filename(dirs[i], path, NULL);
		if (g_file_test(full, G_FILE_TEST_EXISTS))
			return g_steal_pointer(&full);
	}
	g_set_error(error,
		    PAL_ERROR,
		    PAL_ERROR_NOT_FOUND,
		    "file %s found neither in %s nor in %s",
		    path,
		    self->base_dir != NULL ? self->base_dir : "(no endpoint folder)",
		    self->data_dir != NULL ? self->data_dir : "(no data folder)");
	return NULL;
}
