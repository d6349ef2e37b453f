/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

gchar *
pal_json_to_string(JsonNode *node, gboolean pretty);
gchar *
pal_json_object_to_string(JsonObject *object);

gchar *
pal_printable(const gchar *text, gboolean keep_lines);
gchar *
pal_format_time(gint64 real_time);

gboolean
pal_file_read_bounded(const gchar *path, gsize max_size, gchar **data, gsize *len, GError **error);

G_END_DECLS
