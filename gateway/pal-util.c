/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "pal-json-util.h"
#include "pal-util.h"

JsonObject *
pal_json_object_deep_copy(JsonObject *object)
{
	g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
	g_autoptr(JsonNode) copy = NULL;

	json_node_set_object(node, object);
	copy = pal_json_node_deep_copy(node);
	return json_object_ref(json_node_get_object(copy));
}

gchar *
pal_json_to_string(JsonNode *node, gboolean pretty)
{
	g_autoptr(JsonGenerator) gen = json_generator_new();

	json_generator_set_root(gen, node);
	json_generator_set_pretty(gen, pretty);
	return json_generator_to_data(gen, NULL);
}
