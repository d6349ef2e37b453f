/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The `graph` flow: conversations written as JSON files of named nodes (FLOWS.md). An
 * endpoint selects it with
 *
 *   "flow": { "type": "graph", "file": "flows/demo.json" }
 *
 * Options: `file` (required; relative paths are resolved against the endpoint file's folder,
 * then the data folder), `stepLimit` (nodes per turn, default 200), `luaInstructions` (per
 * evaluation, default 1,000,000) and `luaMemoryKiB` (growth per evaluation, default 8192),
 * `httpConnections` (requests of http nodes in flight per worker, default 32).
 *
 * The flow is loaded and checked in setup(): every problem is reported at once, one line each
 * with its JSON path, and a broken flow refuses only its endpoint.
 */

#include "config.h"

#include "pal-graph-plugin.h"
#include "pal-graph-run.h"

/* seconds an unused connection of the http nodes stays open */
#define PAL_GRAPH_PLUGIN_HTTP_IDLE_TIMEOUT_S 60

struct _PalGraphPlugin {
	GObject parent_instance;
	PalGraphFlow *flow;
	PalGraphRunSlot slot;
	PalHttpClient *client; /* created by the first turn, in the thread that runs turns */
	guint step_limit;
	guint http_connections;
};

static void
pal_graph_plugin_extension_iface_init(PalExtensionInterface *iface);
static void
pal_graph_plugin_flow_iface_init(PalFlowInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE(PalGraphPlugin,
			      pal_graph_plugin,
			      G_TYPE_OBJECT,
			      G_IMPLEMENT_INTERFACE(PAL_TYPE_EXTENSION,
						    pal_graph_plugin_extension_iface_init)
				  G_IMPLEMENT_INTERFACE(PAL_TYPE_FLOW, pal_graph_plugin_flow_iface_init))

static gboolean
pal_graph_plugin_setup(PalExtension *extension, PalEndpointInfo *endpoint, JsonObject *options, GError **error)
{
	PalGraphPlugin *self = PAL_GRAPH_PLUGIN(extension);
	g_autoptr(PalLua) lua = pal_lua_new();
	g_autoptr(GError) local_error = NULL;
	g_autofree gchar *path = NULL;
	const gchar *file = NULL;
	guint instructions = PAL_LUA_DEFAULT_MAX_INSTRUCTIONS;
	guint memory_kib = PAL_LUA_DEFAULT_MAX_MEMORY / 1024;
	JsonObjectIter iter;
	const gchar *member;
	JsonNode *node;

	json_object_iter_init_ordered(&iter, options);
	while (json_object_iter_next_ordered(&iter, &member, &node)) {
		if (g_strcmp0(member, "file") == 0) {
			if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING ||
			    json_node_get_string(node)[0] == '\0') {
				g_autofree gchar *got = pal_json_describe_node(node);
				g_set_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA, "flow.file: expected the path of a flow file, got %s", got);
				return FALSE;
			}
			file = json_node_get_string(node);
		} else if (g_strcmp0(member, "stepLimit") == 0) {
			if (!pal_json_node_get_uint(node, "flow.stepLimit", 1, 100000, &self->step_limit, error))
				return FALSE;
		} else if (g_strcmp0(member, "luaInstructions") == 0) {
			if (!pal_json_node_get_uint(node, "flow.luaInstructions", 1000, 1000000000, &instructions, error))
				return FALSE;
		} else if (g_strcmp0(member, "luaMemoryKiB") == 0) {
			if (!pal_json_node_get_uint(node, "flow.luaMemoryKiB", 64, 1024 * 1024, &memory_kib, error))
				return FALSE;
		} else if (g_strcmp0(member, "httpConnections") == 0) {
			if (!pal_json_node_get_uint(node, "flow.httpConnections", 1, 1024, &self->http_connections, error))
				return FALSE;
		} else {
			g_set_error(error,
				    PAL_ERROR,
				    PAL_ERROR_INVALID_DATA,
				    "flow.%s: unknown option (the graph flow has file, stepLimit, "
				    "luaInstructions, luaMemoryKiB and httpConnections)",
				    member);
			return FALSE;
		}
	}
	if (file == NULL) {
		g_set_error_literal(error, PAL_ERROR, PAL_ERROR_INVALID_DATA, "flow.file: missing (the path of the flow file is required)");
		return FALSE;
	}
	path = pal_endpoint_info_resolve_path(endpoint, file, &local_error);
	if (path == NULL) {
		g_set_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA, "flow.file: %s", local_error->message);
		return FALSE;
	}
	pal_lua_set_limits(lua, instructions, (gsize)memory_kib * 1024);
	pal_graph_run_register_api(lua, &self->slot);
	self->flow = pal_graph_flow_load(path, lua, &local_error);
	if (self->flow == NULL) {
		/* one line per problem, each with its JSON path in the flow file */
		g_set_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA, "%s", local_error->message);
		g_prefix_error(error, "flow.file: %s:\n", path);
		return FALSE;
	}
	return TRUE;
}

static void
pal_graph_plugin_extension_iface_init(PalExtensionInterface *iface)
{
	iface->setup = pal_graph_plugin_setup;
}

static void
pal_graph_plugin_run_async(PalFlow *flow,
			   PalTurn *turn,
			   GCancellable *cancellable,
			   GAsyncReadyCallback callback,
			   gpointer user_data)
{
	PalGraphPlugin *self = PAL_GRAPH_PLUGIN(flow);

	if (self->flow == NULL) {
		g_task_report_new_error(flow, callback, user_data, pal_graph_plugin_run_async,
					PAL_ERROR, PAL_ERROR_FAILED, "the graph flow was not set up");
		return;
	}
	if (self->client == NULL)
		self->client = pal_http_client_new(self->http_connections, PAL_GRAPH_PLUGIN_HTTP_IDLE_TIMEOUT_S);
	pal_graph_run_async(G_OBJECT(flow),
			    self->flow,
			    &self->slot,
			    self->client,
			    self->step_limit,
			    turn,
			    cancellable,
			    callback,
			    user_data);
}

static gboolean
pal_graph_plugin_run_finish(PalFlow *flow, GAsyncResult *result, GError **error)
{
	return g_task_propagate_boolean(G_TASK(result), error);
}

static void
pal_graph_plugin_flow_iface_init(PalFlowInterface *iface)
{
	iface->run_async = pal_graph_plugin_run_async;
	iface->run_finish = pal_graph_plugin_run_finish;
}

static void
pal_graph_plugin_finalize(GObject *object)
{
	PalGraphPlugin *self = PAL_GRAPH_PLUGIN(object);

	g_clear_object(&self->client);
	g_clear_pointer(&self->flow, pal_graph_flow_free);
	G_OBJECT_CLASS(pal_graph_plugin_parent_class)->finalize(object);
}

static void
pal_graph_plugin_class_init(PalGraphPluginClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = pal_graph_plugin_finalize;
}

static void
pal_graph_plugin_init(PalGraphPlugin *self)
{
	self->step_limit = PAL_GRAPH_RUN_DEFAULT_STEP_LIMIT;
	self->http_connections = 32;
}

PAL_PLUGIN_DEFINE(graph,
		  pal_graph_plugin_get_type,
		  PACKAGE_VERSION,
		  "LGPL-2.1-or-later",
		  "Conversations as JSON graphs of nodes, with Lua expressions")
