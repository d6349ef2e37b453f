/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The `echo` flow: the smallest complete Palaver plugin, meant to be read.
 *
 * An endpoint selects it with
 *
 *   "flow": { "type": "echo", "outputs": 2 }
 *
 * and each input is then answered with `outputs` outputs (default 1, at most 100), each with
 * the input's text and a copy of its data, after `delayMs` milliseconds (default 0, at most
 * 60000: a stand-in for a slow flow in tests and benchmarks).
 *
 * What every plugin does, in the order of this file:
 *
 *  1. Define one GObject type (G_DEFINE_FINAL_TYPE_WITH_CODE) that implements PalExtension and
 *     one or more extension points (here PalFlow). PalExtension must be added first: it is the
 *     prerequisite of every extension point.
 *  2. Implement PalExtension.setup(): check the options of the endpoint once, and refuse
 *     anything unknown or malformed with an error that names the JSON path (`flow.outputs`),
 *     so that a typo in an endpoint file is reported and not silently ignored.
 *  3. Implement the extension point's vfuncs. They are asynchronous: create a GTask, hand
 *     outputs to the gateway with pal_turn_emit() as they exist, and return the task exactly
 *     once. An instance is only ever called from the thread that owns its endpoint, so it needs
 *     no locks; it must not block that thread either.
 *  4. Export the descriptor with PAL_PLUGIN_DEFINE(). Its first argument is the `<name>` of the
 *     file `libpal-plugin-<name>.so`; the build links the module with a version script that
 *     exports only `pal_plugin_<name>_get_desc`.
 */

#include "config.h"

#include "pal-echo-plugin.h"

/* enough for tests and demos; a limit keeps a typo from flooding a webhook */
#define PAL_ECHO_PLUGIN_OUTPUTS_MAX 100

struct _PalEchoPlugin {
	GObject parent_instance;
	guint outputs;	/* outputs per turn, from the "outputs" option */
	guint delay_ms; /* before the outputs, from the "delayMs" option */
};

static void
pal_echo_plugin_extension_iface_init(PalExtensionInterface *iface);
static void
pal_echo_plugin_flow_iface_init(PalFlowInterface *iface);

/* statically registered: the gateway makes plugin modules resident, so the type never goes away */
G_DEFINE_FINAL_TYPE_WITH_CODE(PalEchoPlugin,
			      pal_echo_plugin,
			      G_TYPE_OBJECT,
			      G_IMPLEMENT_INTERFACE(PAL_TYPE_EXTENSION,
						    pal_echo_plugin_extension_iface_init)
				  G_IMPLEMENT_INTERFACE(PAL_TYPE_FLOW,
							pal_echo_plugin_flow_iface_init))

/* PalExtension.setup: called once, before the first turn, maybe on another thread */
static gboolean
pal_echo_plugin_setup(PalExtension *extension,
		      PalEndpointInfo *endpoint,
		      JsonObject *options,
		      GError **error)
{
	PalEchoPlugin *self = PAL_ECHO_PLUGIN(extension);
	JsonObjectIter iter;
	const gchar *member;
	JsonNode *node;

	/* in file order, so that the first mistake is the one reported */
	json_object_iter_init_ordered(&iter, options);
	while (json_object_iter_next_ordered(&iter, &member, &node)) {
		/* JSON has numbers, not integers: 3 and 3.0 are accepted, 2.5, "2", true not */
		if (g_strcmp0(member, "outputs") == 0) {
			if (!pal_json_node_get_uint(node,
						    "flow.outputs",
						    0,
						    PAL_ECHO_PLUGIN_OUTPUTS_MAX,
						    &self->outputs,
						    error))
				return FALSE;
			continue;
		}
		if (g_strcmp0(member, "delayMs") == 0) {
			if (!pal_json_node_get_uint(node,
						    "flow.delayMs",
						    0,
						    60000,
						    &self->delay_ms,
						    error))
				return FALSE;
			continue;
		}
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_INVALID_DATA,
			    "flow.%s: unknown option (the echo flow has \"outputs\" and \"delayMs\")",
			    member);
		return FALSE;
	}
	return TRUE;
}

static void
pal_echo_plugin_extension_iface_init(PalExtensionInterface *iface)
{
	iface->setup = pal_echo_plugin_setup;
}

/* a deep copy: json_node_copy() and json_object_ref() share nested objects, and an output
 * transformer that edits one output must not change the input or the other outputs */
static JsonObject *
pal_echo_plugin_copy_data(const gchar *data_json, GError **error)
{
	g_autoptr(JsonNode) node = json_from_string(data_json, error);

	if (node == NULL)
		return NULL;
	return json_object_ref(json_node_get_object(node));
}

/* runs in an idle of the caller's context: a flow returns from run_async() before it emits */
static gboolean
pal_echo_plugin_run_cb(gpointer user_data)
{
	GTask *task = G_TASK(user_data);
	PalEchoPlugin *self = g_task_get_source_object(task);
	PalTurn *turn = g_task_get_task_data(task);
	PalMessage *message = pal_turn_get_message(turn);
	JsonObject *data = pal_message_get_data(message);
	g_autofree gchar *data_json = NULL;

	/* the turn's deadline may have passed while the idle was queued */
	if (g_task_return_error_if_cancelled(task))
		return G_SOURCE_REMOVE;

	if (data != NULL) {
		g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
		json_node_set_object(node, data);
		data_json = json_to_string(node, FALSE);
	}
	for (guint i = 0; i < self->outputs; i++) {
		g_autoptr(JsonObject) copy = NULL;
		g_autoptr(PalOutput) output = NULL;

		if (data_json != NULL) {
			GError *error = NULL;
			copy = pal_echo_plugin_copy_data(data_json, &error);
			if (copy == NULL) {
				g_task_return_error(task, error);
				return G_SOURCE_REMOVE;
			}
		}
		/* the gateway stamps trace id, index and webhook headers; a flow only says what
		 * to send. Never log the text: the endpoint may have masked logging */
		output = pal_output_new(PAL_OUTPUT_SOURCE_BOT, pal_message_get_text(message), copy);
		pal_turn_emit(turn, output);
	}
	g_task_return_boolean(task, TRUE);
	return G_SOURCE_REMOVE;
}

/* PalFlow.run_async: one turn */
static void
pal_echo_plugin_run_async(PalFlow *flow,
			  PalTurn *turn,
			  GCancellable *cancellable,
			  GAsyncReadyCallback callback,
			  gpointer user_data)
{
	PalEchoPlugin *self = PAL_ECHO_PLUGIN(flow);
	g_autoptr(GTask) task = g_task_new(flow, cancellable, callback, user_data);
	g_autoptr(GSource) source =
	    self->delay_ms > 0 ? g_timeout_source_new(self->delay_ms) : g_idle_source_new();

	g_task_set_source_tag(task, pal_echo_plugin_run_async);
	g_task_set_task_data(task, g_object_ref(turn), g_object_unref);

	/* the source holds a reference to the task until the callback has run */
	g_task_attach_source(task, source, pal_echo_plugin_run_cb);
}

/* PalFlow.run_finish */
static gboolean
pal_echo_plugin_run_finish(PalFlow *flow, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, flow), FALSE);
	return g_task_propagate_boolean(G_TASK(result), error);
}

static void
pal_echo_plugin_flow_iface_init(PalFlowInterface *iface)
{
	iface->run_async = pal_echo_plugin_run_async;
	iface->run_finish = pal_echo_plugin_run_finish;
}

static void
pal_echo_plugin_class_init(PalEchoPluginClass *klass)
{
}

static void
pal_echo_plugin_init(PalEchoPlugin *self)
{
	/* defaults, for options the endpoint does not set */
	self->outputs = 1;
}

/* the one exported symbol: pal_plugin_echo_get_desc() */
PAL_PLUGIN_DEFINE(echo,
		  pal_echo_plugin_get_type,
		  PACKAGE_VERSION,
		  "LGPL-2.1-or-later",
		  "Echoes each input back N times")
