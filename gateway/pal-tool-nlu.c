/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

#include "pal-json-util.h"
#include "pal-plugin-registry.h"
#include "pal-tool-common.h"
#include "pal-tool-nlu.h"

/*
 * The NLU tools of palaver-tool:
 *
 *   palaver-tool nlu evaluate (--train FILE | --model FILE) --data FILE [--oos FILE]
 *                             [--tune-data FILE --tune-oos FILE [--max-accuracy-loss POINTS]]
 *                             [--threshold T] [--locale L] [--json]
 *   palaver-tool nlu parse --model FILE [--threshold T] [--locale L] TEXT…
 *
 * Both load the `intents` plugin the way palaverd does (--plugin-dir, else
 * $PALAVER_PLUGIN_PATH, else [Plugins] Directory of palaver.conf, else the installed directory)
 * and create it through the plugin registry with `{"model": FILE}`, so that the model is read,
 * checked and trained exactly as for an endpoint; a training array `[{"text", "intent"}]` is a
 * model file too, which is what --train gives. Every text is then classified through
 * PalNlu.parse_async(), one after the other in the default main context.
 *
 * evaluate prints (and with --json writes one object):
 *  - in-scope accuracy: the --data rows whose prediction is their intent (a prediction of
 *    "out of scope" is wrong);
 *  - macro F1 over the intents of --data (rows of --oos predicted as an intent are false
 *    positives of that intent);
 *  - out-of-scope recall: the --oos rows predicted as out of scope;
 *  - training seconds (reading, checking and training the model) and microseconds per
 *    classified utterance (the whole parse, from the call to the result).
 *
 * The out-of-scope decision uses, in this order: --threshold; a threshold chosen on
 * --tune-data and --tune-oos (the highest one, in steps of 0.001, that keeps the in-scope
 * accuracy on --tune-data within --max-accuracy-loss points (0.5) of its accuracy without a
 * threshold); the model's own threshold.
 */

enum {
	PAL_NLU_EXIT_OK = 0,
	PAL_NLU_EXIT_FAILURE = 1,
	PAL_NLU_EXIT_USAGE = 2,
};

#define PAL_NLU_PLUGIN		 "intents"
#define PAL_NLU_MAX_DATA_SIZE	 (256 * 1024 * 1024)
#define PAL_NLU_MAX_DATA_DEPTH	 32
#define PAL_NLU_DEFAULT_MAX_LOSS 0.5

typedef struct {
	PalToolPlugins plugins;
	gchar *locale;
	gchar *threshold_arg;
	gdouble threshold; /* < 0: not given */
	gboolean json;
} PalNluOptions;

static void
pal_nlu_options_clear(PalNluOptions *opts)
{
	pal_tool_plugins_clear(&opts->plugins);
	g_clear_pointer(&opts->locale, g_free);
	g_clear_pointer(&opts->threshold_arg, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(PalNluOptions, pal_nlu_options_clear)

static void
pal_nlu_add_common_entries(GOptionContext *context, PalNluOptions *opts)
{
	const GOptionEntry entries[] = {
	    {"threshold",
	     't',
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_STRING,
	     &opts->threshold_arg,
	     N_("Out-of-scope threshold from 0 to 1 (default: the model's)"),
	     N_("T")},
	    {"locale",
	     'l',
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_STRING,
	     &opts->locale,
	     N_("Locale of a model file that names none, e.g. de (default: en)"),
	     N_("LOCALE")},
	    {NULL},
	};

	g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
	pal_tool_plugins_add_entries(context,
				     &opts->plugins,
				     N_("Take the plugin directory from this palaver.conf"));
}

/* --threshold, once the options are parsed */
static gboolean
pal_nlu_parse_threshold(PalNluOptions *opts, GError **error)
{
	gchar *end = NULL;
	gdouble v;

	opts->threshold = -1;
	if (opts->threshold_arg == NULL)
		return TRUE;
	v = g_ascii_strtod(opts->threshold_arg, &end);
	if (end == opts->threshold_arg || *end != '\0' || !(v >= 0 && v <= 1)) {
		g_set_error(error,
			    G_OPTION_ERROR,
			    G_OPTION_ERROR_BAD_VALUE,
			    _("--threshold must be a number from 0 to 1, not “%s”"),
			    opts->threshold_arg);
		return FALSE;
	}
	opts->threshold = v;
	return TRUE;
}

/* the intents NLU for model @path, created as palaverd creates an endpoint's; its type lives
 * in the modules of @env's registry, which must outlive it */
static PalNlu *
pal_nlu_load(PalNluOptions *opts, const gchar *path, PalToolEnv *env, GError **error)
{
	g_autoptr(PalEndpointInfo) info = NULL;
	g_autoptr(JsonObject) options = json_object_new();
	g_autofree gchar *abs_path = NULL;
	g_autofree gchar *cwd = g_get_current_dir();
	GObject *obj;

	if (!pal_tool_env_init(env,
			       &opts->plugins,
			       "nlu",
			       PAL_TOOL_ENV_FLAG_REQUIRE_PLUGIN_DIR,
			       error))
		return NULL;
	if (pal_plugin_registry_lookup(env->registry, PAL_PLUGIN_KIND_NLU, PAL_NLU_PLUGIN) ==
	    G_TYPE_INVALID) {
		g_set_error(
		    error,
		    G_IO_ERROR,
		    G_IO_ERROR_NOT_FOUND,
		    _("the “%s” NLU plugin is not installed in %s (give another plugin directory "
		      "with --plugin-dir or $PALAVER_PLUGIN_PATH)"),
		    PAL_NLU_PLUGIN,
		    env->plugin_path);
		return NULL;
	}
	abs_path = g_path_is_absolute(path) ? g_strdup(path) : g_build_filename(cwd, path, NULL);
	info = pal_endpoint_info_new("palaver-tool", opts->locale, cwd, NULL, FALSE);
	json_object_set_string_member(options, "model", abs_path);
	obj = pal_tool_env_create(env, PAL_PLUGIN_KIND_NLU, PAL_NLU_PLUGIN, info, options, error);
	return obj != NULL ? PAL_NLU(obj) : NULL;
}

typedef struct {
	PalNluResult *result;
	GError *error;
	gboolean done;
} PalNluWait;

static void
pal_nlu_parse_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	PalNluWait *wait = user_data;

	wait->result = pal_nlu_parse_finish(PAL_NLU(source), res, &wait->error);
	wait->done = TRUE;
}

static PalNluResult *
pal_nlu_parse_one(PalNlu *nlu, const gchar *text, const gchar *locale, GError **error)
{
	PalNluWait wait = {NULL, NULL, FALSE};

	pal_nlu_parse_async(nlu, text, locale, NULL, pal_nlu_parse_cb, &wait);
	while (!wait.done)
		g_main_context_iteration(NULL, TRUE);
	if (wait.result == NULL) {
		g_propagate_error(error, wait.error);
		return NULL;
	}
	return wait.result;
}

/* ---------------------------------------------------------------------------------------- */
/* data files */

typedef struct {
	GPtrArray *texts;   /* gchar* */
	GPtrArray *intents; /* gchar*, NULL for out-of-scope files */
} PalNluData;

static void
pal_nlu_data_clear(PalNluData *data)
{
	g_clear_pointer(&data->texts, g_ptr_array_unref);
	g_clear_pointer(&data->intents, g_ptr_array_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(PalNluData, pal_nlu_data_clear)

/* an array of {"text", "intent"}; @need_intent: the intent is required */
static gboolean
pal_nlu_data_load(PalNluData *data, const gchar *path, gboolean need_intent, GError **error)
{
	g_autofree gchar *contents = NULL;
	gsize len = 0;
	g_autoptr(JsonNode) root = NULL;
	JsonArray *rows;

	data->texts = g_ptr_array_new_with_free_func(g_free);
	data->intents = g_ptr_array_new_with_free_func(g_free);
	if (!g_file_get_contents(path, &contents, &len, error))
		return FALSE;
	root = pal_json_parse_bounded(contents,
				      len,
				      PAL_NLU_MAX_DATA_SIZE,
				      PAL_NLU_MAX_DATA_DEPTH,
				      path,
				      error);
	if (root == NULL)
		return FALSE;
	if (!JSON_NODE_HOLDS_ARRAY(root)) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_INVALID_DATA,
			    _("%s: expected an array of {\"text\", \"intent\"}"),
			    path);
		return FALSE;
	}
	rows = json_node_get_array(root);
	for (guint i = 0; i < json_array_get_length(rows); i++) {
		JsonNode *row = json_array_get_element(rows, i);
		JsonObject *obj = JSON_NODE_HOLDS_OBJECT(row) ? json_node_get_object(row) : NULL;
		JsonNode *text = obj != NULL ? json_object_get_member(obj, "text") : NULL;
		JsonNode *intent = obj != NULL ? json_object_get_member(obj, "intent") : NULL;

		if (text == NULL || json_node_get_value_type(text) != G_TYPE_STRING ||
		    (need_intent &&
		     (intent == NULL || json_node_get_value_type(intent) != G_TYPE_STRING))) {
			g_set_error(error,
				    PAL_ERROR,
				    PAL_ERROR_INVALID_DATA,
				    _("%s: [%u]: expected {\"text\": string, \"intent\": string}"),
				    path,
				    i);
			return FALSE;
		}
		g_ptr_array_add(data->texts, g_strdup(json_node_get_string(text)));
		g_ptr_array_add(data->intents,
				need_intent ? g_strdup(json_node_get_string(intent)) : NULL);
	}
	return TRUE;
}

/* ---------------------------------------------------------------------------------------- */
/* predictions */

/* what the model said about one text */
typedef struct {
	gchar *top;	/* the best intent */
	gdouble score;	/* its score */
	gboolean below; /* below the model's own threshold (intent null) */
} PalNluPrediction;

static void
pal_nlu_prediction_clear(gpointer data)
{
	PalNluPrediction *p = data;

	g_free(p->top);
}

/* every text of @data through @nlu; adds the time taken to *@usec */
static GArray *
pal_nlu_predict_all(PalNlu *nlu,
		    const gchar *locale,
		    PalNluData *data,
		    gint64 *usec,
		    GError **error)
{
	GArray *out = g_array_sized_new(FALSE, TRUE, sizeof(PalNluPrediction), data->texts->len);
	gint64 start = g_get_monotonic_time();

	g_array_set_clear_func(out, pal_nlu_prediction_clear);
	for (guint i = 0; i < data->texts->len; i++) {
		g_autoptr(PalNluResult) result =
		    pal_nlu_parse_one(nlu, g_ptr_array_index(data->texts, i), locale, error);
		JsonArray *ranking;
		PalNluPrediction p = {NULL, 0, TRUE};

		if (result == NULL) {
			g_array_unref(out);
			return NULL;
		}
		ranking = pal_nlu_result_get_ranking(result);
		if (json_array_get_length(ranking) > 0) {
			JsonObject *best = json_array_get_object_element(ranking, 0);
			p.top = g_strdup(json_object_get_string_member(best, "intent"));
			p.score = json_object_get_double_member(best, "score");
		}
		p.below = pal_nlu_result_get_intent(result) == NULL;
		g_array_append_val(out, p);
	}
	*usec += g_get_monotonic_time() - start;
	return out;
}

/* the intent predicted with threshold @t (< 0: the model's own), NULL for out of scope */
static const gchar *
pal_nlu_decide(const PalNluPrediction *p, gdouble t)
{
	if (p->top == NULL)
		return NULL;
	if (t < 0)
		return p->below ? NULL : p->top;
	return p->score >= t ? p->top : NULL;
}

static guint
pal_nlu_count_correct(GArray *preds, PalNluData *data, gdouble t)
{
	guint n = 0;

	for (guint i = 0; i < preds->len; i++)
		n += g_strcmp0(pal_nlu_decide(&g_array_index(preds, PalNluPrediction, i), t),
			       g_ptr_array_index(data->intents, i)) == 0;
	return n;
}

static guint
pal_nlu_count_rejected(GArray *preds, gdouble t)
{
	guint n = 0;

	for (guint i = 0; preds != NULL && i < preds->len; i++)
		n += pal_nlu_decide(&g_array_index(preds, PalNluPrediction, i), t) == NULL;
	return n;
}

/* macro F1 over the intents of @data (percent) */
static gdouble
pal_nlu_macro_f1(GArray *preds, PalNluData *data, GArray *oos_preds, gdouble t)
{
	g_autoptr(GHashTable) tp = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(GHashTable) gold = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(GHashTable) predicted = g_hash_table_new(g_str_hash, g_str_equal);
	GHashTableIter iter;
	gpointer key, value;
	gdouble sum = 0;

#define PAL_NLU_INC(table, k)                                                                      \
	g_hash_table_insert(table,                                                                 \
			    (gpointer)(k),                                                         \
			    GUINT_TO_POINTER(GPOINTER_TO_UINT(g_hash_table_lookup(table, k)) + 1))
	for (guint i = 0; i < preds->len; i++) {
		const gchar *g = g_ptr_array_index(data->intents, i);
		const gchar *p = pal_nlu_decide(&g_array_index(preds, PalNluPrediction, i), t);
		PAL_NLU_INC(gold, g);
		if (p != NULL)
			PAL_NLU_INC(predicted, p);
		if (g_strcmp0(g, p) == 0)
			PAL_NLU_INC(tp, g);
	}
	for (guint i = 0; oos_preds != NULL && i < oos_preds->len; i++) {
		const gchar *p = pal_nlu_decide(&g_array_index(oos_preds, PalNluPrediction, i), t);
		if (p != NULL)
			PAL_NLU_INC(predicted, p);
	}
#undef PAL_NLU_INC
	g_hash_table_iter_init(&iter, gold);
	while (g_hash_table_iter_next(&iter, &key, &value)) {
		gdouble n_tp = GPOINTER_TO_UINT(g_hash_table_lookup(tp, key));
		gdouble n_pred = GPOINTER_TO_UINT(g_hash_table_lookup(predicted, key));
		gdouble n_gold = GPOINTER_TO_UINT(value);
		gdouble precision = n_pred > 0 ? n_tp / n_pred : 0;
		gdouble recall = n_tp / n_gold;
		sum += precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
	}
	return g_hash_table_size(gold) > 0 ? 100.0 * sum / g_hash_table_size(gold) : 0;
}

/* ---------------------------------------------------------------------------------------- */
/* evaluate */

static gint
pal_tool_nlu_evaluate(gint argc, gchar **argv)
{
	g_auto(PalNluOptions) opts = {0};
	g_autofree gchar *train = NULL;
	g_autofree gchar *model = NULL;
	g_autofree gchar *data_path = NULL;
	g_autofree gchar *oos_path = NULL;
	g_autofree gchar *tune_path = NULL;
	g_autofree gchar *tune_oos_path = NULL;
	gdouble max_loss = PAL_NLU_DEFAULT_MAX_LOSS;
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GError) error = NULL;
	g_auto(PalToolEnv) env = {0};
	g_autoptr(PalNlu) nlu = NULL;
	g_auto(PalNluData) data = {0};
	g_auto(PalNluData) oos = {0};
	g_auto(PalNluData) tune = {0};
	g_auto(PalNluData) tune_oos = {0};
	g_autoptr(GArray) preds = NULL;
	g_autoptr(GArray) oos_preds = NULL;
	g_autoptr(GArray) tune_preds = NULL;
	g_autoptr(GArray) tune_oos_preds = NULL;
	const gchar *model_path;
	gint64 t0, train_usec, parse_usec = 0, unused_usec = 0;
	gdouble threshold;
	const gchar *threshold_source;
	gdouble tune_acc0 = 0, tune_acc = 0, tune_rec = 0;
	guint n_correct, n_rejected = 0, n_utterances;
	gdouble accuracy, f1;
	const GOptionEntry entries[] = {
	    {"train",
	     0,
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_FILENAME,
	     &train,
	     N_("Train on FILE, an array of {\"text\", \"intent\"}"),
	     N_("FILE")},
	    {"model",
	     'm',
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_FILENAME,
	     &model,
	     N_("Use the model file FILE"),
	     N_("FILE")},
	    {"data",
	     'd',
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_FILENAME,
	     &data_path,
	     N_("Evaluate on FILE, an array of {\"text\", \"intent\"} (required)"),
	     N_("FILE")},
	    {"oos",
	     0,
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_FILENAME,
	     &oos_path,
	     N_("Out-of-scope queries to evaluate on (their intents are ignored)"),
	     N_("FILE")},
	    {"tune-data",
	     0,
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_FILENAME,
	     &tune_path,
	     N_("Choose the threshold on these in-scope queries …"),
	     N_("FILE")},
	    {"tune-oos",
	     0,
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_FILENAME,
	     &tune_oos_path,
	     N_("… and these out-of-scope queries"),
	     N_("FILE")},
	    {"max-accuracy-loss",
	     0,
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_DOUBLE,
	     &max_loss,
	     N_("Tuning: in-scope accuracy points the threshold may cost (default 0.5)"),
	     N_("POINTS")},
	    {"json",
	     0,
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_NONE,
	     &opts.json,
	     N_("Print one JSON object"),
	     NULL},
	    {NULL},
	};

	context = g_option_context_new(NULL);
	g_option_context_set_translation_domain(context, GETTEXT_PACKAGE);
	g_option_context_set_summary(
	    context,
	    _("Train an intents model (or load a model file) and measure it on labelled data: "
	      "in-scope accuracy, macro F1, out-of-scope recall (with --oos), training seconds "
	      "and microseconds per utterance."));
	g_option_context_set_description(
	    context,
	    _("The out-of-scope threshold is --threshold, else the one chosen on --tune-data and "
	      "--tune-oos (the highest, in steps of 0.001, that keeps the in-scope accuracy on "
	      "--tune-data within --max-accuracy-loss points of its accuracy without a threshold), "
	      "else the model's. Never tune on the data you report on.\n\nExit status: 0 on "
	      "success, 1 when the model or a data file cannot be used, 2 on a usage error."));
	g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
	pal_nlu_add_common_entries(context, &opts);
	if (!g_option_context_parse(context, &argc, &argv, &error) ||
	    !pal_nlu_parse_threshold(&opts, &error)) {
		g_printerr("palaver-tool nlu evaluate: %s\n", error->message);
		return PAL_NLU_EXIT_USAGE;
	}
	if (argc > 1) {
		g_printerr(_("palaver-tool nlu evaluate: unexpected argument “%s”\n"), argv[1]);
		return PAL_NLU_EXIT_USAGE;
	}
	if ((train == NULL) == (model == NULL) || data_path == NULL) {
		g_printerr(
		    _("palaver-tool nlu evaluate: give --train FILE or --model FILE, and --data "
		      "FILE\n"));
		return PAL_NLU_EXIT_USAGE;
	}
	if ((tune_path == NULL) != (tune_oos_path == NULL)) {
		g_printerr(
		    _("palaver-tool nlu evaluate: --tune-data and --tune-oos go together\n"));
		return PAL_NLU_EXIT_USAGE;
	}
	if (!(max_loss >= 0 && max_loss <= 100)) {
		g_printerr(
		    _("palaver-tool nlu evaluate: --max-accuracy-loss must be from 0 to 100\n"));
		return PAL_NLU_EXIT_USAGE;
	}
	model_path = train != NULL ? train : model;

	/* the data first: a typo in a path should not wait for the training */
	if (!pal_nlu_data_load(&data, data_path, TRUE, &error) ||
	    (oos_path != NULL && !pal_nlu_data_load(&oos, oos_path, FALSE, &error)) ||
	    (tune_path != NULL && !pal_nlu_data_load(&tune, tune_path, TRUE, &error)) ||
	    (tune_oos_path != NULL &&
	     !pal_nlu_data_load(&tune_oos, tune_oos_path, FALSE, &error))) {
		g_printerr("palaver-tool nlu evaluate: %s\n", error->message);
		return PAL_NLU_EXIT_FAILURE;
	}
	if (data.texts->len == 0) {
		g_printerr(_("palaver-tool nlu evaluate: %s has no rows\n"), data_path);
		return PAL_NLU_EXIT_FAILURE;
	}

	t0 = g_get_monotonic_time();
	nlu = pal_nlu_load(&opts, model_path, &env, &error);
	train_usec = g_get_monotonic_time() - t0;
	if (nlu == NULL) {
		g_printerr("palaver-tool nlu evaluate: %s\n", error->message);
		return PAL_NLU_EXIT_FAILURE;
	}

	/* the threshold */
	threshold = opts.threshold;
	threshold_source = "option";
	if (threshold < 0 && tune_path != NULL) {
		guint n_tune = tune.texts->len;
		guint n_tune_oos = tune_oos.texts->len;

		tune_preds = pal_nlu_predict_all(nlu, opts.locale, &tune, &unused_usec, &error);
		tune_oos_preds =
		    tune_preds != NULL
			? pal_nlu_predict_all(nlu, opts.locale, &tune_oos, &unused_usec, &error)
			: NULL;
		if (tune_oos_preds == NULL) {
			g_printerr("palaver-tool nlu evaluate: %s\n", error->message);
			return PAL_NLU_EXIT_FAILURE;
		}
		tune_acc0 =
		    n_tune > 0 ? 100.0 * pal_nlu_count_correct(tune_preds, &tune, 0) / n_tune : 0;
		threshold = 0;
		for (guint k = 1; k <= 1000; k++) {
			gdouble t = k / 1000.0;
			gdouble acc =
			    n_tune > 0
				? 100.0 * pal_nlu_count_correct(tune_preds, &tune, t) / n_tune
				: 0;
			if (acc < tune_acc0 - max_loss - 1e-9)
				break;
			threshold = t;
		}
		tune_acc =
		    n_tune > 0
			? 100.0 * pal_nlu_count_correct(tune_preds, &tune, threshold) / n_tune
			: 0;
		tune_rec =
		    n_tune_oos > 0
			? 100.0 * pal_nlu_count_rejected(tune_oos_preds, threshold) / n_tune_oos
			: 0;
		threshold_source = "tuned";
	} else if (threshold < 0) {
		threshold_source = "model";
	}

	/* the evaluation */
	preds = pal_nlu_predict_all(nlu, opts.locale, &data, &parse_usec, &error);
	if (preds != NULL && oos_path != NULL)
		oos_preds = pal_nlu_predict_all(nlu, opts.locale, &oos, &parse_usec, &error);
	if (preds == NULL || (oos_path != NULL && oos_preds == NULL)) {
		g_printerr("palaver-tool nlu evaluate: %s\n", error->message);
		return PAL_NLU_EXIT_FAILURE;
	}
	n_correct = pal_nlu_count_correct(preds, &data, threshold);
	accuracy = 100.0 * n_correct / data.texts->len;
	f1 = pal_nlu_macro_f1(preds, &data, oos_preds, threshold);
	if (oos_preds != NULL)
		n_rejected = pal_nlu_count_rejected(oos_preds, threshold);
	n_utterances = data.texts->len + (oos_preds != NULL ? oos_preds->len : 0);

	if (opts.json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		g_autoptr(JsonNode) root = NULL;
		g_autofree gchar *text = NULL;

		json_builder_begin_object(b);
		json_builder_set_member_name(b, "model");
		json_builder_add_string_value(b, model_path);
		json_builder_set_member_name(b, "data");
		json_builder_add_string_value(b, data_path);
		json_builder_set_member_name(b, "threshold");
		if (threshold >= 0)
			json_builder_add_double_value(b, threshold);
		else
			json_builder_add_null_value(b);
		json_builder_set_member_name(b, "thresholdSource");
		json_builder_add_string_value(b, threshold_source);
		if (tune_preds != NULL) {
			json_builder_set_member_name(b, "tuning");
			json_builder_begin_object(b);
			json_builder_set_member_name(b, "data");
			json_builder_add_string_value(b, tune_path);
			json_builder_set_member_name(b, "oos");
			json_builder_add_string_value(b, tune_oos_path);
			json_builder_set_member_name(b, "maxAccuracyLoss");
			json_builder_add_double_value(b, max_loss);
			json_builder_set_member_name(b, "accuracyWithoutThreshold");
			json_builder_add_double_value(b, tune_acc0);
			json_builder_set_member_name(b, "inScopeAccuracy");
			json_builder_add_double_value(b, tune_acc);
			json_builder_set_member_name(b, "outOfScopeRecall");
			json_builder_add_double_value(b, tune_rec);
			json_builder_end_object(b);
		}
		json_builder_set_member_name(b, "inScopeAccuracy");
		json_builder_add_double_value(b, accuracy);
		json_builder_set_member_name(b, "macroF1");
		json_builder_add_double_value(b, f1);
		json_builder_set_member_name(b, "outOfScopeRecall");
		if (oos_preds != NULL)
			json_builder_add_double_value(
			    b,
			    oos_preds->len > 0 ? 100.0 * n_rejected / oos_preds->len : 0);
		else
			json_builder_add_null_value(b);
		json_builder_set_member_name(b, "trainSeconds");
		json_builder_add_double_value(b, train_usec / 1e6);
		json_builder_set_member_name(b, "microsecondsPerUtterance");
		json_builder_add_double_value(b, (gdouble)parse_usec / n_utterances);
		json_builder_set_member_name(b, "utterances");
		json_builder_add_int_value(b, n_utterances);
		json_builder_end_object(b);
		root = json_builder_get_root(b);
		text = json_to_string(root, TRUE);
		g_print("%s\n", text);
		return PAL_NLU_EXIT_OK;
	}

	g_print(_("model:                %s\n"), model_path);
	if (tune_preds != NULL)
		g_print(
		    _("threshold:            %.3f (chosen on %s + %s: in-scope accuracy %.2f %% "
		      "(%.2f %% without), out-of-scope recall %.1f %%)\n"),
		    threshold,
		    tune_path,
		    tune_oos_path,
		    tune_acc,
		    tune_acc0,
		    tune_rec);
	else if (threshold >= 0)
		g_print(_("threshold:            %.3f\n"), threshold);
	else
		g_print(_("threshold:            the model's\n"));
	g_print(_("in-scope accuracy:    %.2f %% (%u/%u)\n"), accuracy, n_correct, data.texts->len);
	g_print(_("macro F1:             %.2f %%\n"), f1);
	if (oos_preds != NULL)
		g_print(_("out-of-scope recall:  %.2f %% (%u/%u)\n"),
			oos_preds->len > 0 ? 100.0 * n_rejected / oos_preds->len : 0.0,
			n_rejected,
			oos_preds->len);
	g_print(_("training:             %.2f s\n"), train_usec / 1e6);
	g_print(_("classification:       %.1f µs per utterance (%u utterances)\n"),
		(gdouble)parse_usec / n_utterances,
		n_utterances);
	return PAL_NLU_EXIT_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* parse */

static gint
pal_tool_nlu_parse(gint argc, gchar **argv)
{
	g_auto(PalNluOptions) opts = {0};
	g_autofree gchar *model = NULL;
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GError) error = NULL;
	g_auto(PalToolEnv) env = {0};
	g_autoptr(PalNlu) nlu = NULL;
	g_autoptr(PalNluResult) result = NULL;
	g_autoptr(JsonNode) node = NULL;
	g_autofree gchar *text = NULL;
	g_autofree gchar *json = NULL;
	const GOptionEntry entries[] = {
	    {"model",
	     'm',
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_FILENAME,
	     &model,
	     N_("The model file (required)"),
	     N_("FILE")},
	    {NULL},
	};

	context = g_option_context_new(_("TEXT…"));
	g_option_context_set_translation_domain(context, GETTEXT_PACKAGE);
	g_option_context_set_summary(
	    context,
	    _("Print what an intents model makes of TEXT (the words are joined "
	      "with spaces): intent, intentScore, ranking and slots, as JSON."));
	g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
	pal_nlu_add_common_entries(context, &opts);
	if (!g_option_context_parse(context, &argc, &argv, &error) ||
	    !pal_nlu_parse_threshold(&opts, &error)) {
		g_printerr("palaver-tool nlu parse: %s\n", error->message);
		return PAL_NLU_EXIT_USAGE;
	}
	if (model == NULL || argc < 2) {
		g_printerr(_("palaver-tool nlu parse: give --model FILE and a TEXT\n"));
		return PAL_NLU_EXIT_USAGE;
	}
	text = g_strjoinv(" ", argv + 1);
	if (!g_utf8_validate(text, -1, NULL)) {
		g_printerr(_("palaver-tool nlu parse: the text is not valid UTF-8\n"));
		return PAL_NLU_EXIT_USAGE;
	}
	nlu = pal_nlu_load(&opts, model, &env, &error);
	if (nlu == NULL) {
		g_printerr("palaver-tool nlu parse: %s\n", error->message);
		return PAL_NLU_EXIT_FAILURE;
	}
	result = pal_nlu_parse_one(nlu, text, opts.locale, &error);
	if (result == NULL) {
		g_printerr("palaver-tool nlu parse: %s\n", error->message);
		return PAL_NLU_EXIT_FAILURE;
	}
	node = pal_nlu_result_to_json(result);
	if (opts.threshold >= 0) {
		/* the decision with --threshold instead of the model's */
		JsonObject *obj = json_node_get_object(node);
		JsonArray *ranking = pal_nlu_result_get_ranking(result);
		JsonObject *best = json_array_get_length(ranking) > 0
				       ? json_array_get_object_element(ranking, 0)
				       : NULL;
		if (best != NULL && json_object_get_double_member(best, "score") >= opts.threshold)
			json_object_set_string_member(
			    obj,
			    "intent",
			    json_object_get_string_member(best, "intent"));
		else
			json_object_set_null_member(obj, "intent");
	}
	json = json_to_string(node, TRUE);
	g_print("%s\n", json);
	return PAL_NLU_EXIT_OK;
}

/* ---------------------------------------------------------------------------------------- */

gint
pal_tool_nlu(gint argc, gchar **argv)
{
	g_autofree gchar *prgname = NULL;

	if (argc < 2 || g_strcmp0(argv[1], "--help") == 0 || g_strcmp0(argv[1], "-h") == 0) {
		FILE *out = argc < 2 ? stderr : stdout;
		fprintf(
		    out,
		    "%s\n  palaver-tool nlu evaluate (--train FILE | --model FILE) --data FILE "
		    "[--oos FILE] [OPTION…]\n  palaver-tool nlu parse --model FILE TEXT…\n\n%s\n",
		    _("Usage:"),
		    _("Use “palaver-tool nlu evaluate --help” and “palaver-tool nlu parse --help” "
		      "for "
		      "the options."));
		return argc < 2 ? PAL_NLU_EXIT_USAGE : PAL_NLU_EXIT_OK;
	}
	prgname = g_strdup_printf("palaver-tool nlu %s", argv[1]);
	if (g_strcmp0(argv[1], "evaluate") == 0) {
		g_set_prgname(prgname);
		return pal_tool_nlu_evaluate(argc - 1, argv + 1);
	}
	if (g_strcmp0(argv[1], "parse") == 0) {
		g_set_prgname(prgname);
		return pal_tool_nlu_parse(argc - 1, argv + 1);
	}
	g_printerr(_("palaver-tool nlu: unknown command “%s” (expected evaluate or parse)\n"),
		   argv[1]);
	return PAL_NLU_EXIT_USAGE;
}
