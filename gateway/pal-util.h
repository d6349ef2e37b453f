/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* json-glib reference counts are not atomic: anything shared between worker threads is
 * copied deeply first, so that no two threads ever touch the same JsonNode/JsonObject */
JsonObject *
pal_json_object_deep_copy(JsonObject *object);
gchar *
pal_json_to_string(JsonNode *node, gboolean pretty);

gboolean
pal_file_read_bounded(const gchar *path, gsize max_size, gchar **data, gsize *len, GError **error);

G_END_DECLS
