/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <sys/stat.h>

#include "pal-error.h"
#include "pal-json-util.h"
#include "pal-util.h"

gchar *
pal_json_object_to_string(JsonObject *object)
{
	g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);

	json_node_set_object(node, object);
	return pal_json_to_string(node, FALSE);
}

gchar *
pal_json_to_string(JsonNode *node, gboolean pretty)
{
	g_autoptr(JsonGenerator) gen = json_generator_new();

	json_generator_set_root(gen, node);
	json_generator_set_pretty(gen, pretty);
	return json_generator_to_data(gen, NULL);
}

/* reads a whole configuration file, checked before reading: a FIFO would block and a huge
 * file would fill memory */
gboolean
pal_file_read_bounded(const gchar *path, gsize max_size, gchar **data, gsize *len, GError **error)
{
	GStatBuf st;
	g_autoptr(GError) error_local = NULL;

	if (g_stat(path, &st) != 0) {
		int saved_errno = errno;
		g_set_error(error,
			    PAL_ERROR,
			    saved_errno == ENOENT ? PAL_ERROR_NOT_FOUND : PAL_ERROR_FAILED,
			    "%s: %s",
			    path,
			    g_strerror(saved_errno));
		return FALSE;
	}
	if (!S_ISREG(st.st_mode)) {
		g_set_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA, "%s: expected a regular file", path);
		return FALSE;
	}
	if ((guint64)st.st_size > max_size) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_INVALID_DATA,
			    "%s: expected at most %" G_GSIZE_FORMAT " bytes, got %" G_GINT64_FORMAT,
			    path,
			    max_size,
			    (gint64)st.st_size);
		return FALSE;
	}
	if (!g_file_get_contents(path, data, len, &error_local)) {
		g_set_error(error, PAL_ERROR, PAL_ERROR_FAILED, "%s", error_local->message);
		return FALSE;
	}
	return TRUE;
}
