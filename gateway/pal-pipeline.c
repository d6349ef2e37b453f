/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "pal-pipeline.h"
#include "pal-util.h"

typedef struct {
	PalEndpoint *endpoint;
	PalMessage *message;
} PalJob;

typedef struct {
	PalPipeline *self; /* not a reference */
	gchar *key;
	PalSession *session;
	GQueue jobs; /* PalJob* */
	gboolean running;
	guint64 seq; /* Palaver-Session-Seq of the last output */
} PalLane;

typedef struct {
	PalLane *lane;
	PalJob *job;
	PalFlow *flow;
	GCancellable *cancellable;
	GSource *deadline;
} PalRun;

struct _PalPipeline {
	GObject parent_instance;
	GMainContext *context;
	PalPluginRegistry *registry;
	PalDelivery *delivery;
	guint turn_timeout_s;
	GHashTable *lanes; /* key → PalLane */
	GHashTable *flows; /* PalEndpoint* → PalFlow* (per worker instances) */
	GSource *sweep;
	gint queued; /* atomic */
};

G_DEFINE_FINAL_TYPE(PalPipeline, pal_pipeline, G_TYPE_OBJECT)

static void
pal_lane_run_next(PalLane *lane);

gchar *
pal_pipeline_session_key(const gchar *endpoint, const gchar *user_id, const gchar *session_id)
{
	return g_strjoin("\x1f", endpoint, user_id, session_id, NULL);
}

static void
pal_job_free(PalJob *job)
{
	g_object_unref(job->endpoint);
	g_object_unref(job->message);
	g_free(job);
}

static void
pal_lane_free(PalLane *lane)
{
	g_queue_clear_full(&lane->jobs, (GDestroyNotify)pal_job_free);
	g_object_unref(lane->session);
	g_free(lane->key);
	g_free(lane);
}

/* a plugin instance per endpoint and worker, created on first use */
static PalFlow *
pal_pipeline_get_flow(PalPipeline *self, PalEndpoint *endpoint, GError **error)
{
	PalFlow *flow = g_hash_table_lookup(self->flows, endpoint);
	g_autoptr(JsonObject) options = NULL;
	GObject *obj;

	if (flow != NULL)
		return g_object_ref(flow);
	/* a private copy: json-glib reference counts are not thread-safe */
	options = pal_json_object_deep_copy(pal_endpoint_get_flow_options(endpoint));
	obj = pal_plugin_registry_create(self->registry,
					 PAL_PLUGIN_KIND_FLOW,
					 pal_endpoint_get_flow_type(endpoint),
					 pal_endpoint_get_info(endpoint),
					 options,
					 error);
	if (obj == NULL)
		return NULL;
	g_hash_table_insert(self->flows, g_object_ref(endpoint), obj);
	return g_object_ref(PAL_FLOW(obj));
}

typedef struct {
	PalPipeline *self;
	PalLane *lane;
	PalEndpoint *endpoint;
} PalEmitCtx;

static void
pal_emit_ctx_free(PalEmitCtx *ctx)
{
	g_object_unref(ctx->endpoint);
	g_free(ctx);
}

static void
pal_pipeline_emit_cb(PalTurn *turn, PalOutput *output, guint index, gpointer user_data)
{
	PalEmitCtx *ctx = user_data;
	PalMessage *msg = pal_turn_get_message(turn);
	g_autoptr(GBytes) body = NULL;
	g_autoptr(PalDeliveryItem) item = NULL;
	JsonNode *custom = pal_output_get_body(output);

	if (custom != NULL) {
		/* an output transformer replaced the body: POST it verbatim */
		gchar *text = pal_json_to_string(custom, FALSE);
		body = g_bytes_new_take(text, strlen(text));
	} else {
		body = pal_delivery_build_body(pal_message_get_user_id(msg),
					       pal_message_get_session_id(msg),
					       pal_output_get_text(output),
					       pal_output_get_data(output),
					       pal_message_get_trace_id(msg),
					       pal_endpoint_get_mask_logging(ctx->endpoint),
					       pal_output_source_to_string(pal_output_get_source(output)));
	}
	item = pal_delivery_item_new(ctx->endpoint,
				     ctx->lane->key,
				     pal_message_get_input_id(msg),
				     index,
				     ++ctx->lane->seq,
				     body);
	pal_delivery_enqueue(ctx->self->delivery, item);
}

static void
pal_run_free(PalRun *run)
{
	if (run->deadline != NULL) {
		g_source_destroy(run->deadline);
		g_source_unref(run->deadline);
	}
	g_clear_object(&run->cancellable);
	g_clear_object(&run->flow);
	pal_job_free(run->job);
	g_free(run);
}

static gboolean
pal_run_deadline_cb(gpointer data)
{
	PalRun *run = data;

	g_cancellable_cancel(run->cancellable);
	return G_SOURCE_REMOVE;
}

static void
pal_lane_turn_done(PalLane *lane)
{
	PalPipeline *self = lane->self;

	lane->running = FALSE;
	g_atomic_int_add(&self->queued, -1);
	pal_session_add_turn(lane->session);
	pal_session_touch(lane->session, g_get_real_time());
	pal_lane_run_next(lane);
}

static void
pal_lane_flow_run_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	PalRun *run = user_data;
	PalLane *lane = run->lane;
	g_autoptr(GError) error = NULL;

	if (!pal_flow_run_finish(PAL_FLOW(source), res, &error)) {
		if (g_cancellable_is_cancelled(run->cancellable))
			g_message("endpoint %s: flow %s did not finish its turn within %u s",
				  pal_endpoint_get_name(run->job->endpoint),
				  pal_endpoint_get_flow_type(run->job->endpoint),
				  lane->self->turn_timeout_s);
		else
			g_message("endpoint %s: flow %s failed: %s",
				  pal_endpoint_get_name(run->job->endpoint),
				  pal_endpoint_get_flow_type(run->job->endpoint),
				  error->message);
	}
	pal_run_free(run);
	pal_lane_turn_done(lane);
}

static void
pal_lane_run_next(PalLane *lane)
{
	PalPipeline *self = lane->self;
	g_autoptr(PalTurn) turn = NULL;
	PalEmitCtx *ctx;
	PalRun *run = NULL;

	if (lane->running)
		return;
	/* a loop, not recursion: a failing flow must not grow the stack per queued message */
	while (run == NULL) {
		g_autoptr(GError) error = NULL;
		PalJob *job = g_queue_pop_head(&lane->jobs);

		if (job == NULL)
			return;
		run = g_new0(PalRun, 1);
		run->lane = lane;
		run->job = job;
		run->flow = pal_pipeline_get_flow(self, job->endpoint, &error);
		if (run->flow == NULL) {
			g_message("endpoint %s: cannot run its flow: %s",
				  pal_endpoint_get_name(job->endpoint),
				  error->message);
			g_clear_pointer(&run, pal_run_free);
			g_atomic_int_add(&self->queued, -1);
		}
	}
	lane->running = TRUE;
	ctx = g_new0(PalEmitCtx, 1);
	ctx->self = self;
	ctx->lane = lane;
	ctx->endpoint = g_object_ref(run->job->endpoint);
	turn = pal_turn_new(pal_endpoint_get_info(run->job->endpoint),
			    lane->session,
			    run->job->message,
			    pal_pipeline_emit_cb,
			    ctx,
			    (GDestroyNotify)pal_emit_ctx_free);
	run->cancellable = g_cancellable_new();
	run->deadline = g_timeout_source_new_seconds(self->turn_timeout_s);
	g_source_set_callback(run->deadline, pal_run_deadline_cb, run, NULL);
	g_source_attach(run->deadline, self->context);
	pal_flow_run_async(run->flow, turn, run->cancellable, pal_lane_flow_run_cb, run);
}

void
pal_pipeline_submit(PalPipeline *self, PalEndpoint *endpoint, PalMessage *message)
{
	g_autofree gchar *key = pal_pipeline_session_key(pal_endpoint_get_name(endpoint),
							 pal_message_get_user_id(message),
							 pal_message_get_session_id(message));
	PalLane *lane = g_hash_table_lookup(self->lanes, key);
	PalJob *job;

	if (lane == NULL) {
		lane = g_new0(PalLane, 1);
		lane->self = self;
		lane->key = g_steal_pointer(&key);
		lane->session = pal_session_new(pal_endpoint_get_name(endpoint),
						pal_message_get_user_id(message),
						pal_message_get_session_id(message));
		g_hash_table_insert(self->lanes, lane->key, lane);
	}
	job = g_new0(PalJob, 1);
	job->endpoint = g_object_ref(endpoint);
	job->message = g_object_ref(message);
	g_queue_push_tail(&lane->jobs, job);
	g_atomic_int_inc(&self->queued);
	pal_lane_run_next(lane);
}

void
pal_pipeline_reload(PalPipeline *self)
{
	g_hash_table_remove_all(self->flows);
}

guint
pal_pipeline_get_queued(PalPipeline *self)
{
	return (guint)g_atomic_int_get(&self->queued);
}

guint
pal_pipeline_get_n_sessions(PalPipeline *self)
{
	return g_hash_table_size(self->lanes);
}

/* sessions live in memory until the store exists (issue #3): forget those idle longer than
 * their endpoint's state TTL */
static gboolean
pal_pipeline_sweep_cb(gpointer data)
{
	PalPipeline *self = data;
	GHashTableIter iter;
	PalLane *lane;
	gint64 now = g_get_real_time();

	g_hash_table_iter_init(&iter, self->lanes);
	while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&lane)) {
		gint64 ttl = (gint64)7 * 24 * 3600 * G_USEC_PER_SEC;
		if (lane->running || !g_queue_is_empty(&lane->jobs))
			continue;
		if (now - pal_session_get_updated_at(lane->session) > ttl)
			g_hash_table_iter_remove(&iter);
	}
	return G_SOURCE_CONTINUE;
}

static void
pal_pipeline_finalize(GObject *object)
{
	PalPipeline *self = PAL_PIPELINE(object);

	g_source_destroy(self->sweep);
	g_source_unref(self->sweep);
	g_hash_table_unref(self->lanes);
	g_hash_table_unref(self->flows);
	g_object_unref(self->registry);
	g_object_unref(self->delivery);
	g_main_context_unref(self->context);
	G_OBJECT_CLASS(pal_pipeline_parent_class)->finalize(object);
}

static void
pal_pipeline_class_init(PalPipelineClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = pal_pipeline_finalize;
}

static void
pal_pipeline_init(PalPipeline *self)
{
	self->lanes = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)pal_lane_free);
	self->flows = g_hash_table_new_full(g_direct_hash, g_direct_equal, g_object_unref, g_object_unref);
}

PalPipeline *
pal_pipeline_new(PalPluginRegistry *registry, PalDelivery *delivery, guint turn_timeout_s)
{
	PalPipeline *self = g_object_new(PAL_TYPE_PIPELINE, NULL);

	self->context = g_main_context_ref_thread_default();
	self->registry = g_object_ref(registry);
	self->delivery = g_object_ref(delivery);
	self->turn_timeout_s = MAX(turn_timeout_s, 1);
	self->sweep = g_timeout_source_new_seconds(60);
	g_source_set_callback(self->sweep, pal_pipeline_sweep_cb, self, NULL);
	g_source_attach(self->sweep, self->context);
	return self;
}
