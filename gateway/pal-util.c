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

/* for a terminal: @text (%NULL is "") as valid UTF-8 without control characters, so that no
 * data can send escape sequences; newlines and tabs stay when @keep_lines */
gchar *
pal_printable(const gchar *text, gboolean keep_lines)
{
	gchar *str = g_utf8_make_valid(text != NULL ? text : "", -1);

	for (gchar *p = str; *p != '\0'; p++) {
		if (keep_lines && (*p == '\n' || *p == '\t'))
			continue;
		if ((guchar)*p < 0x20 || (guchar)*p == 0x7f)
			*p = ' ';
	}
	return str;
}

/* @real_time (microseconds since the epoch) as 2026-11-26T21:30:01.123Z, or %NULL when it
 * cannot be represented */
gchar *
pal_format_time(gint64 real_time)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(real_time / G_USEC_PER_SEC);
	g_autofree gchar *str = NULL;

	if (dt == NULL)
		return NULL;
	str = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%S");
	return g_strdup_printf("%s.%03dZ", str, (gint)((real_time % G_USEC_PER_SEC) / 1000));
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
