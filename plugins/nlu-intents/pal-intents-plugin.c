/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The `intents` NLU plugin: an intent classifier and slot extractor trained from a model file
 * when the endpoint loads, without a separate training step and without the network.
 *
 *   "nlu": { "type": "intents", "model": "nlu/demo.json", "threshold": 0.4 }
 *
 * Options:
 *  - `model` (required): the model file (format in pal-intents-model.c), relative to the
 *    endpoint file's folder, then to the data folder; a training array
 *    `[{"text", "intent"}, …]` is accepted too;
 *  - `threshold` (optional, 0 … 1): overrides the model's out-of-scope threshold.
 *
 * The result: `intent` (null when the best score is below the threshold), `intentScore` (the
 * best score, also below the threshold), `ranking` (the best 5 intents with their scores, best
 * first) and `slots` (name → array of {value, text, start, end}); flows read them as
 * `input.intent`, `input.intentScore` and `input.slots`.
 *
 * The gateway creates an instance per endpoint and worker thread: the trained model is shared
 * through a process-wide cache (pal_intents_model_cache_get()), so a model is trained once per
 * version of its file. parse_async() computes at once (about 20 µs for 150 intents) and
 * returns the result from an idle of the caller's main context.
 */

#include "config.h"

#include <string.h>

#include "pal-intents-model.h"
#include "pal-intents-plugin.h"

struct _PalIntentsPlugin {
	GObject parent_instance;
	PalIntentsModel *model;
	gdouble threshold;
};

static void
pal_intents_plugin_extension_iface_init(PalExtensionInterface *iface);
static void
pal_intents_plugin_nlu_iface_init(PalNluInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE(PalIntentsPlugin,
			      pal_intents_plugin,
			      G_TYPE_OBJECT,
			      G_IMPLEMENT_INTERFACE(PAL_TYPE_EXTENSION,
						    pal_intents_plugin_extension_iface_init)
				  G_IMPLEMENT_INTERFACE(PAL_TYPE_NLU,
							pal_intents_plugin_nlu_iface_init))

static gboolean
pal_intents_plugin_setup(PalExtension *extension,
			 PalEndpointInfo *endpoint,
			 JsonObject *options,
			 GError **error)
{
	PalIntentsPlugin *self = PAL_INTENTS_PLUGIN(extension);
	JsonObjectIter iter;
	const gchar *member;
	JsonNode *node;
	const gchar *model = NULL;
	gboolean have_threshold = FALSE;
	g_autofree gchar *path = NULL;
	g_autoptr(GError) error_local = NULL;

	json_object_iter_init_ordered(&iter, options);
	while (json_object_iter_next_ordered(&iter, &member, &node)) {
		if (g_strcmp0(member, "model") == 0) {
			if (!JSON_NODE_HOLDS_VALUE(node) ||
			    json_node_get_value_type(node) != G_TYPE_STRING ||
			    json_node_get_string(node)[0] == '\0') {
				g_autofree gchar *got = pal_json_describe_node(node);
				g_set_error(error,
					    PAL_ERROR,
					    PAL_ERROR_INVALID_DATA,
					    "nlu.model: expected the path of a model file, got %s",
					    got);
				return FALSE;
			}
			model = json_node_get_string(node);
			continue;
		}
		if (g_strcmp0(member, "threshold") == 0) {
			GType type = JSON_NODE_HOLDS_VALUE(node) ? json_node_get_value_type(node)
								 : G_TYPE_INVALID;
			gdouble v = type == G_TYPE_DOUBLE || type == G_TYPE_INT64
					? json_node_get_double(node)
					: -1;
			if (!(v >= 0 && v <= 1)) {
				g_autofree gchar *got = pal_json_describe_node(node);
				g_set_error(error,
					    PAL_ERROR,
					    PAL_ERROR_INVALID_DATA,
					    "nlu.threshold: expected a number from 0 to 1, got %s",
					    got);
				return FALSE;
			}
			self->threshold = v;
			have_threshold = TRUE;
			continue;
		}
		g_set_error(
		    error,
		    PAL_ERROR,
		    PAL_ERROR_INVALID_DATA,
		    "nlu.%s: unknown option (the intents NLU has \"model\" and \"threshold\")",
		    member);
		return FALSE;
	}
	if (model == NULL) {
		g_set_error_literal(error,
				    PAL_ERROR,
				    PAL_ERROR_INVALID_DATA,
				    "nlu.model: missing (the intents NLU needs a model file)");
		return FALSE;
	}
	path = pal_endpoint_info_resolve_path(endpoint, model, &error_local);
	if (path == NULL) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_INVALID_DATA,
			    "nlu.model: %s",
			    error_local->message);
		return FALSE;
	}
	self->model =
	    pal_intents_model_cache_get(path, pal_endpoint_info_get_locale(endpoint), &error_local);
	if (self->model == NULL) {
		/* the model's own errors, one a line, after the file they are in */
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_INVALID_DATA,
			    "nlu.model: %s:%s%s",
			    path,
			    g_str_has_prefix(error_local->message, path) ? "" : "\n",
			    g_str_has_prefix(error_local->message, path)
				? error_local->message + strlen(path) + 1
				: error_local->message);
		return FALSE;
	}
	if (!have_threshold)
		self->threshold = pal_intents_model_get_threshold(self->model);
	g_debug("endpoint %s: intents model %s: %u intents, %u examples, %u features, stemmer %s",
		pal_endpoint_info_get_name(endpoint),
		path,
		pal_intents_model_get_n_intents(self->model),
		pal_intents_model_get_n_examples(self->model),
		pal_intents_model_get_n_features(self->model),
		pal_intents_model_get_stemmer(self->model) != NULL
		    ? pal_intents_model_get_stemmer(self->model)
		    : "none");
	return TRUE;
}

static void
pal_intents_plugin_extension_iface_init(PalExtensionInterface *iface)
{
	iface->setup = pal_intents_plugin_setup;
}

static gboolean
pal_intents_plugin_parse_cb(gpointer user_data)
{
	GTask *task = G_TASK(user_data);

	if (g_task_return_error_if_cancelled(task))
		return G_SOURCE_REMOVE;
	g_task_return_pointer(task, g_object_ref(g_task_get_task_data(task)), g_object_unref);
	return G_SOURCE_REMOVE;
}

/* PalNlu.parse_async: classifies at once (it is fast and needs no I/O), answers from an idle */
static void
pal_intents_plugin_parse_async(PalNlu *nlu,
			       const gchar *text,
			       const gchar *locale,
			       GCancellable *cancellable,
			       GAsyncReadyCallback callback,
			       gpointer user_data)
{
	PalIntentsPlugin *self = PAL_INTENTS_PLUGIN(nlu);
	g_autoptr(GTask) task = g_task_new(nlu, cancellable, callback, user_data);
	g_autoptr(GSource) source = g_idle_source_new();

	g_task_set_source_tag(task, pal_intents_plugin_parse_async);
	if (self->model == NULL) {
		g_task_return_new_error(task,
					PAL_ERROR,
					PAL_ERROR_FAILED,
					"the intents NLU has no model");
		return;
	}
	g_task_set_task_data(task,
			     pal_intents_model_parse(self->model, text, self->threshold, NULL),
			     g_object_unref);
	g_task_attach_source(task, source, pal_intents_plugin_parse_cb);
}

static PalNluResult *
pal_intents_plugin_parse_finish(PalNlu *nlu, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, nlu), NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}

static void
pal_intents_plugin_nlu_iface_init(PalNluInterface *iface)
{
	iface->parse_async = pal_intents_plugin_parse_async;
	iface->parse_finish = pal_intents_plugin_parse_finish;
}

static void
pal_intents_plugin_finalize(GObject *object)
{
	PalIntentsPlugin *self = PAL_INTENTS_PLUGIN(object);

	g_clear_pointer(&self->model, pal_intents_model_unref);
	G_OBJECT_CLASS(pal_intents_plugin_parent_class)->finalize(object);
}

static void
pal_intents_plugin_class_init(PalIntentsPluginClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = pal_intents_plugin_finalize;
}

static void
pal_intents_plugin_init(PalIntentsPlugin *self)
{
	self->threshold = PAL_INTENTS_DEFAULT_THRESHOLD;
}

PAL_PLUGIN_DEFINE(intents,
		  pal_intents_plugin_get_type,
		  PACKAGE_VERSION,
		  "LGPL-2.1-or-later",
		  "Intent classifier and slot extractor trained from a model file")
