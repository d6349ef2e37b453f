/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "pal-pipeline.h"
#include "pal-json-util.h"
#include "pal-util.h"

/* until the durable store keeps sessions (issue #3), an idle session's state lives in memory
 * for this long, or for its endpoint's session.inactivityMinutes when that is set */
#define PAL_PIPELINE_DEFAULT_IDLE_MINUTES 30

typedef struct {
	PalEndpoint *endpoint;
	PalMessage *message; /* NULL for a session reset */
	gsize size;
	GTask *reset; /* a session reset (D-Bus ResetSession): answered once it is stored */
} PalJob;

typedef struct {
	gint ref_count;
	PalPipeline *self; /* not a reference: lanes die with their pipeline or before */
	gchar *key;
	PalSession *session;
	GQueue jobs; /* PalJob* */
	gboolean running;
	gint64 last_active; /* monotonic */
	guint idle_minutes;
	gboolean loading;    /* its stored state is being read: no turn before that */
	guint64 turns_before; /* turns of the session stored before this lane existed */
	gint64 updated_at;    /* real time of its last stored turn, 0 = none */
	gchar *profile_json;  /* the contact profile as last stored (or loaded) */
	struct _PalCommit *partial; /* streamed outputs being stored */
	struct _PalCommit *final;   /* the turn's commit, waiting for @partial */
	struct _PalRun *run;	    /* the turn running, not a reference */
	gchar *profile_user; /* while loading: whose contact profile to read */
	gboolean profile_held; /* in the profile cache, released with the lane */
	gboolean handover_stored; /* the handover flag as last stored, for HandoverChanged */
} PalLane;

typedef struct _PalRun {
	PalPipeline *self; /* a reference: late plugin callbacks find the pipeline alive */
	PalLane *lane;	   /* a reference */
	PalJob *job;
	PalFlow *flow;
	GCancellable *cancellable;
	GSource *deadline;
	GSource *flush;	    /* stores the outputs so far while the flow still works */
	gboolean abandoned; /* the deadline passed: the lane went on, late outputs are dropped */
	gboolean ended;	    /* handed to the turn's commit */
	gboolean no_partial; /* a streamed commit failed: the rest goes with the turn's commit */
	guint n_outputs;
	GPtrArray *rows; /* PalStoreOutboxRow: outputs not handed to the store yet */
} PalRun;

struct _PalPipeline {
	GObject parent_instance;
	GMainContext *context;
	PalPluginRegistry *registry;
	PalDelivery *delivery;
	PalStore *store;
	PalBacklog *backlog; /* nullable, not a reference: the daemon's */
	gboolean journaled;  /* messages come with a journal entry (not with durability none) */
	PalProfileCache *profiles; /* nullable, not a reference: the daemon's */
	PalStats *stats;	   /* nullable */
	guint turn_timeout_s;
	GHashTable *lanes; /* key → PalLane */
	GHashTable *flows; /* PalEndpoint* → PalFlow* (per worker instances) */
	GHashTable *nlus;  /* PalEndpoint* → PalNlu* (per worker instances) */
	GHashTable *runs;  /* PalRun* not yet called back */
	GSource *sweep;
	gboolean shut_down;
	gint queued;	    /* atomic */
	gssize queued_bytes; /* atomic */
	gint running;	    /* atomic */
};

G_DEFINE_FINAL_TYPE(PalPipeline, pal_pipeline, G_TYPE_OBJECT)

static void
pal_lane_run_next(PalLane *lane);

gchar *
pal_pipeline_session_key(const gchar *endpoint, const gchar *user_id, const gchar *session_id)
{
	return g_strdup_printf("%zu:%s%zu:%s%zu:%s",
			       strlen(endpoint),
			       endpoint,
			       strlen(user_id),
			       user_id,
			       strlen(session_id),
			       session_id);
}

/* the inverse of pal_pipeline_session_key(): @parts receives endpoint, userId and sessionId
 * (free each); FALSE for a string that is not such a key */
gboolean
pal_pipeline_session_key_split(const gchar *key, gchar **parts)
{
	const gchar *p = key;
	gboolean ok = TRUE;

	for (guint i = 0; i < 3; i++)
		parts[i] = NULL;
	for (guint i = 0; i < 3 && ok; i++) {
		gchar *end = NULL;
		guint64 len = 0;

		ok = g_ascii_isdigit(*p);
		if (ok)
			len = g_ascii_strtoull(p, &end, 10);
		ok = ok && end != NULL && *end == ':' && len <= strlen(end + 1);
		if (ok) {
			parts[i] = g_strndup(end + 1, (gsize)len);
			p = end + 1 + len;
		}
	}
	if (ok && *p == '\0')
		return TRUE;
	for (guint i = 0; i < 3; i++)
		g_clear_pointer(&parts[i], g_free);
	return FALSE;
}

static void
pal_job_free(PalJob *job)
{
	if (job->reset != NULL) {
		/* never run (shutdown): the caller still gets an answer */
		g_task_return_new_error(job->reset,
					PAL_ERROR,
					PAL_ERROR_UNAVAILABLE,
					"palaverd is shutting down");
		g_object_unref(job->reset);
	}
	g_object_unref(job->endpoint);
	g_clear_object(&job->message);
	g_free(job);
}

static void
pal_pipeline_count_done(PalPipeline *self, gsize size)
{
	g_atomic_int_add(&self->queued, -1);
	(void)g_atomic_pointer_add(&self->queued_bytes, -(gssize)size);
}

static void
pal_pipeline_job_done(PalPipeline *self, PalJob *job)
{
	/* a session reset was never counted as a message */
	if (job->message != NULL)
		pal_pipeline_count_done(self, job->size);
}

typedef struct _PalCommit {
	PalPipeline *self; /* a reference */
	PalLane *lane;	   /* a reference */
	PalEndpoint *endpoint;
	PalStoreTurn *turn;
	gsize size;
	gint64 received_at; /* of the turn's message: its latency */
	guint attempts;
	GSource *retry;
	gboolean uncounted; /* the message left the backlog (its outputs took its place) */
} PalCommit;

static PalLane *
pal_lane_ref(PalLane *lane);
static void
pal_lane_unref(PalLane *lane);
static void
pal_pipeline_commit_submit(PalCommit *c);

static void
pal_commit_free(PalCommit *c)
{
	if (c->retry != NULL) {
		g_source_destroy(c->retry);
		g_source_unref(c->retry);
	}
	pal_store_turn_free(c->turn);
	g_object_unref(c->endpoint);
	pal_lane_unref(c->lane);
	g_object_unref(c->self);
	g_free(c);
}

/* the commit is over (stored, refused, or abandoned at shutdown): the message leaves the
 * counts and its session takes the next message */
static void
pal_pipeline_commit_done(PalCommit *c)
{
	PalPipeline *self = c->self;
	PalLane *lane = c->lane;

	if (self->backlog != NULL && !c->uncounted)
		pal_backlog_add(self->backlog, pal_endpoint_get_name(c->endpoint), lane->key, -1);
	pal_pipeline_count_done(self, c->size);
	g_atomic_int_add(&self->running, -1);
	lane->running = FALSE;
	lane->last_active = g_get_monotonic_time();
	if (!self->shut_down)
		pal_lane_run_next(lane);
	pal_commit_free(c);
}

static gboolean
pal_pipeline_commit_retry_cb(gpointer data)
{
	PalCommit *c = data;

	g_source_unref(g_steal_pointer(&c->retry));
	if (c->self->shut_down) {
		/* the journal keeps the message as accepted: it runs again at the next start */
		pal_pipeline_commit_done(c);
		return G_SOURCE_REMOVE;
	}
	pal_pipeline_commit_submit(c);
	return G_SOURCE_REMOVE;
}

/* committed outputs join the backlog and go to delivery; with the turn's last commit (@final)
 * they take the message's place in one step, so the endpoint's and session's counts never
 * hold a message and its outputs at once (a limit would refuse another message for that
 * instant) */
static void
pal_pipeline_deliver(PalCommit *c, GPtrArray *rows, gboolean final)
{
	PalPipeline *self = c->self;

	/* at shutdown they stay in the outbox for the next start */
	if (self->shut_down)
		return;
	if (self->backlog != NULL) {
		pal_backlog_add(self->backlog,
				pal_endpoint_get_name(c->endpoint),
				c->lane->key,
				(gint)rows->len - (final ? 1 : 0));
		c->uncounted |= final;
	}
	for (guint i = 0; i < rows->len; i++) {
		g_autoptr(PalDeliveryItem) item = pal_delivery_item_new_from_row(c->endpoint, g_ptr_array_index(rows, i));
		pal_delivery_enqueue(self->delivery, item);
	}
}

static void
pal_run_schedule_flush(PalRun *run);

static void
pal_pipeline_commit_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	PalCommit *c = user_data;
	PalPipeline *self = c->self;
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) rows = pal_store_turn_commit_finish(PAL_STORE(source), res, &error);

	if (rows == NULL && !self->shut_down &&
	    (g_error_matches(error, PAL_ERROR, PAL_ERROR_UNAVAILABLE) ||
	     g_error_matches(error, PAL_ERROR, PAL_ERROR_BUSY))) {
		/* the store will come back: the session waits, in order, rather than run its
		 * next message before this one is stored */
		guint delay = MIN(100u << MIN(c->attempts, 6u), 5000u);
		if (c->attempts++ == 0)
			g_message("endpoint %s: cannot store the turn yet, retrying: %s",
				  pal_endpoint_get_name(c->endpoint),
				  error->message);
		c->retry = g_timeout_source_new(delay);
		g_source_set_callback(c->retry, pal_pipeline_commit_retry_cb, c, NULL);
		g_source_attach(c->retry, self->context);
		return;
	}
	if (rows == NULL) {
		/* refused for good (a turn already applied, a journal entry missing): logged; a
		 * message left as accepted runs again at the next start */
		g_message("endpoint %s: cannot store the turn: %s",
			  pal_endpoint_get_name(c->endpoint),
			  error->message);
	} else {
		if (c->turn->profile != NULL) {
			g_free(c->lane->profile_json);
			c->lane->profile_json = g_strdup(c->turn->profile);
			if (self->profiles != NULL)
				pal_profile_cache_stored(self->profiles,
							 c->turn->session->endpoint,
							 c->turn->session->user_id,
							 c->turn->profile);
		}
		c->lane->updated_at = c->turn->session != NULL ? c->turn->session->updated_at : 0;
		if (self->stats != NULL && c->received_at > 0)
			pal_stats_turn_done(self->stats,
					    pal_endpoint_get_name(c->endpoint),
					    g_get_real_time() - c->received_at);
		if (c->turn->session != NULL && c->turn->session->handover != c->lane->handover_stored) {
			c->lane->handover_stored = c->turn->session->handover;
			if (self->stats != NULL)
				pal_stats_handover_changed(self->stats,
							   c->turn->session->endpoint,
							   c->turn->session->user_id,
							   c->turn->session->session_id,
							   c->turn->session->handover);
		}
		pal_pipeline_deliver(c, rows, TRUE);
	}
	pal_pipeline_commit_done(c);
}

static void
pal_pipeline_commit_submit(PalCommit *c)
{
	pal_store_turn_commit_async(c->self->store, c->turn, NULL, pal_pipeline_commit_cb, c);
}

/* streamed outputs are stored: they go out now, the turn's commit may follow */
static void
pal_pipeline_partial_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	PalCommit *c = user_data;
	PalPipeline *self = c->self;
	PalLane *lane = c->lane;
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) rows = pal_store_turn_commit_finish(PAL_STORE(source), res, &error);

	lane->partial = NULL;
	g_atomic_int_add(&self->running, -1);
	if (rows != NULL) {
		pal_pipeline_deliver(c, rows, FALSE);
	} else {
		/* the rows go with the turn's commit, which retries while the store is away */
		GPtrArray *into = lane->final != NULL ? lane->final->turn->outbox
				  : lane->run != NULL ? lane->run->rows
						      : NULL;
		g_debug("endpoint %s: streamed outputs not stored yet: %s",
			pal_endpoint_get_name(c->endpoint),
			error->message);
		if (lane->run != NULL)
			lane->run->no_partial = TRUE;
		for (guint i = c->turn->outbox->len; into != NULL && i > 0; i--)
			g_ptr_array_insert(into, 0, pal_store_outbox_row_copy(g_ptr_array_index(c->turn->outbox, i - 1)));
	}
	if (lane->final != NULL) {
		pal_pipeline_commit_submit(g_steal_pointer(&lane->final));
	} else if (lane->run != NULL && !lane->run->ended && lane->run->rows->len > 0) {
		pal_run_schedule_flush(lane->run);
	}
	pal_commit_free(c);
}

/* One transaction per turn: the journal row is marked done, the session saved and the outputs
 * put in the outbox together, so a crash never leaves a turn half applied; the outputs go to
 * delivery once committed, with the session_seq the store gave them. The message stays
 * counted (for backpressure and the drain), and its session waits, until then. */
static void
pal_pipeline_commit(PalPipeline *self, PalLane *lane, PalJob *job, GPtrArray *rows)
{
	PalMessage *msg = job->message;
	g_autoptr(PalStoreSession) session = pal_store_session_new(lane->key,
								   pal_endpoint_get_name(job->endpoint),
								   pal_message_get_user_id(msg),
								   pal_message_get_session_id(msg));
	PalCommit *c = g_new0(PalCommit, 1);

	session->context = pal_json_object_to_string(pal_session_get_context(lane->session));
	session->entrypoint = g_strdup(pal_session_get_entrypoint(lane->session));
	session->turns = lane->turns_before + pal_session_get_turns(lane->session);
	session->handover = pal_session_get_handover_active(lane->session);
	session->updated_at = g_get_real_time();
	c->turn = pal_store_turn_new(pal_message_get_input_id(msg), session);
	c->turn->journaled = self->journaled;
	for (guint i = 0; rows != NULL && i < rows->len; i++)
		pal_store_turn_add_outbox(c->turn, pal_store_outbox_row_copy(g_ptr_array_index(rows, i)));
	if (pal_endpoint_get_use_contact_profiles(job->endpoint)) {
		g_autofree gchar *profile = pal_json_object_to_string(pal_session_get_profile(lane->session));
		if (g_strcmp0(profile, lane->profile_json != NULL ? lane->profile_json : "{}") != 0)
			pal_store_turn_set_profile(c->turn, profile);
	}
	c->self = g_object_ref(self);
	c->lane = pal_lane_ref(lane);
	c->endpoint = g_object_ref(job->endpoint);
	c->size = job->size;
	c->received_at = pal_message_get_received_at(msg);
	job->size = 0; /* counted down by the commit */
	lane->running = TRUE;
	g_atomic_int_inc(&self->running);
	/* after the turn's streamed outputs: the store keeps the order it is given */
	if (lane->partial != NULL)
		lane->final = c;
	else
		pal_pipeline_commit_submit(c);
}

/* the outputs emitted so far are stored (and delivered) while the flow still works: an output
 * before a slow step reaches the user before that step ends. Journal and session state wait
 * for the turn's commit, so a crash replays the whole turn; outputs stored already are not
 * stored twice (same webhook id). */
static gboolean
pal_run_flush_cb(gpointer data)
{
	PalRun *run = data;
	PalPipeline *self = run->self;
	PalLane *lane = run->lane;
	PalMessage *msg = run->job->message;
	g_autoptr(PalStoreSession) session = NULL;
	PalCommit *c;

	g_clear_pointer(&run->flush, g_source_unref);
	if (run->ended || run->abandoned || run->no_partial || self->shut_down || lane->partial != NULL ||
	    run->rows->len == 0)
		return G_SOURCE_REMOVE;
	session = pal_store_session_new(lane->key,
					pal_endpoint_get_name(run->job->endpoint),
					pal_message_get_user_id(msg),
					pal_message_get_session_id(msg));
	c = g_new0(PalCommit, 1);
	c->turn = pal_store_turn_new(pal_message_get_input_id(msg), session);
	c->turn->journaled = self->journaled;
	c->turn->partial = TRUE;
	g_ptr_array_extend_and_steal(c->turn->outbox, g_steal_pointer(&run->rows));
	run->rows = g_ptr_array_new_with_free_func((GDestroyNotify)pal_store_outbox_row_free);
	c->self = g_object_ref(self);
	c->lane = pal_lane_ref(lane);
	c->endpoint = g_object_ref(run->job->endpoint);
	lane->partial = c;
	g_atomic_int_inc(&self->running);
	pal_store_turn_commit_async(self->store, c->turn, NULL, pal_pipeline_partial_cb, c);
	return G_SOURCE_REMOVE;
}

/* after the flow returns to the main loop: a flow that emits and finishes at once commits
 * its outputs with the turn, in one transaction */
static void
pal_run_schedule_flush(PalRun *run)
{
	if (run->flush != NULL || run->ended || run->no_partial)
		return;
	run->flush = g_idle_source_new();
	g_source_set_priority(run->flush, G_PRIORITY_DEFAULT_IDLE);
	g_source_set_callback(run->flush, pal_run_flush_cb, run, NULL);
	g_source_attach(run->flush, run->self->context);
}

/* a turn cut short by the shutdown is not committed: its journal entry stays accepted, so
 * the message runs again, whole, at the next start */
static void
pal_pipeline_uncommitted(PalPipeline *self, PalLane *lane, PalJob *job)
{
	if (self->backlog != NULL)
		pal_backlog_add(self->backlog, pal_endpoint_get_name(job->endpoint), lane->key, -1);
	pal_pipeline_job_done(self, job);
	job->size = 0;
	lane->running = FALSE;
}

static PalLane *
pal_lane_ref(PalLane *lane)
{
	lane->ref_count++;
	return lane;
}

static void
pal_lane_unref(PalLane *lane)
{
	PalJob *job;

	if (--lane->ref_count > 0)
		return;
	while ((job = g_queue_pop_head(&lane->jobs)) != NULL) {
		pal_pipeline_job_done(lane->self, job);
		pal_job_free(job);
	}
	if (lane->profile_held && lane->self->profiles != NULL)
		pal_profile_cache_release(lane->self->profiles,
					  pal_session_get_endpoint_name(lane->session),
					  pal_session_get_user_id(lane->session));
	g_object_unref(lane->session);
	g_free(lane->profile_json);
	g_free(lane->profile_user);
	g_free(lane->key);
	g_free(lane);
}

/* a plugin instance per endpoint and worker, created on first use */
static GObject *
pal_pipeline_get_extension(PalPipeline *self,
			   GHashTable *cache,
			   PalPluginKind kind,
			   const gchar *type,
			   JsonObject *options,
			   PalEndpoint *endpoint,
			   GError **error)
{
	GObject *obj = g_hash_table_lookup(cache, endpoint);
	g_autoptr(JsonObject) copy = NULL;

	if (obj != NULL)
		return g_object_ref(obj);
	/* a private copy: json-glib reference counts are not thread-safe */
	copy = pal_json_object_deep_copy(options);
	obj = pal_plugin_registry_create(self->registry, kind, type, pal_endpoint_get_info(endpoint), copy, error);
	if (obj == NULL)
		return NULL;
	g_hash_table_insert(cache, g_object_ref(endpoint), obj);
	return g_object_ref(obj);
}

static PalFlow *
pal_pipeline_get_flow(PalPipeline *self, PalEndpoint *endpoint, GError **error)
{
	return PAL_FLOW(pal_pipeline_get_extension(self,
						   self->flows,
						   PAL_PLUGIN_KIND_FLOW,
						   pal_endpoint_get_flow_type(endpoint),
						   pal_endpoint_get_flow_options(endpoint),
						   endpoint,
						   error));
}

static void
pal_run_free(PalRun *run)
{
	if (run->deadline != NULL) {
		g_source_destroy(run->deadline);
		g_source_unref(run->deadline);
	}
	if (run->flush != NULL) {
		g_source_destroy(run->flush);
		g_source_unref(run->flush);
	}
	if (run->lane->run == run)
		run->lane->run = NULL;
	g_clear_object(&run->cancellable);
	g_clear_object(&run->flow);
	g_clear_pointer(&run->rows, g_ptr_array_unref);
	pal_job_free(run->job);
	pal_lane_unref(run->lane);
	g_object_unref(run->self);
	g_free(run);
}

static void
pal_pipeline_enqueue(PalRun *run, guint index, GBytes *body)
{
	PalMessage *msg = run->job->message;
	g_autofree gchar *webhook_id = pal_delivery_webhook_id(pal_message_get_input_id(msg), index);
	gint64 now = g_get_real_time();
	gint64 ttl = (gint64)pal_endpoint_get_webhook_ttl_seconds(run->job->endpoint) * G_USEC_PER_SEC;

	/* an endpoint without a webhook URL delivers nowhere: nothing to store */
	if (pal_endpoint_get_webhook_url(run->job->endpoint)[0] == '\0')
		return;
	g_ptr_array_add(run->rows,
			pal_store_outbox_row_new(pal_endpoint_get_name(run->job->endpoint),
						 run->lane->key,
						 webhook_id,
						 pal_message_get_input_id(msg),
						 index,
						 body,
						 now,
						 now + ttl));
}

/* the optional end-of-turn event: a system output after the last output of a turn, in the
 * standard body with data {"event": {"type": "turn-completed", "turnId", "outputs"}} */
static void
pal_pipeline_end_of_turn(PalRun *run)
{
	PalMessage *msg = run->job->message;
	g_autoptr(JsonObject) data = json_object_new();
	JsonObject *event = json_object_new();
	g_autoptr(GBytes) body = NULL;

	json_object_set_string_member(event, "type", "turn-completed");
	json_object_set_string_member(event, "turnId", pal_message_get_input_id(msg));
	json_object_set_int_member(event, "outputs", run->n_outputs);
	json_object_set_object_member(data, "event", event);
	body = pal_delivery_build_body(pal_message_get_user_id(msg),
				       pal_message_get_session_id(msg),
				       NULL,
				       data,
				       pal_message_get_trace_id(msg),
				       pal_endpoint_get_mask_logging(run->job->endpoint),
				       pal_output_source_to_string(PAL_OUTPUT_SOURCE_SYSTEM));
	pal_pipeline_enqueue(run, run->n_outputs, body);
}

static void
pal_pipeline_emit_cb(PalTurn *turn, PalOutput *output, guint index, gpointer user_data)
{
	PalRun *run = user_data;
	PalPipeline *self = run->self;
	PalEndpoint *endpoint = run->job->endpoint;
	PalMessage *msg = pal_turn_get_message(turn);
	g_autoptr(GBytes) body = NULL;
	JsonNode *custom = pal_output_get_body(output);

	if (run->abandoned || self->shut_down)
		return;
	run->n_outputs++;
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
					       pal_endpoint_get_mask_logging(endpoint),
					       pal_output_source_to_string(pal_output_get_source(output)));
	}
	pal_pipeline_enqueue(run, index, body);
	pal_run_schedule_flush(run);
}

/* the turn is over: it is committed, and the lane takes its next message after that */
static void
pal_lane_turn_done(PalLane *lane, PalRun *run)
{
	PalPipeline *self = lane->self;

	run->ended = TRUE;
	if (self->shut_down) {
		pal_pipeline_uncommitted(self, lane, run->job);
		return;
	}
	pal_session_add_turn(lane->session);
	pal_session_touch(lane->session, g_get_real_time());
	pal_pipeline_commit(self, lane, run->job, run->rows);
	g_ptr_array_set_size(run->rows, 0);
}

static gboolean
pal_run_deadline_cb(gpointer data)
{
	PalRun *run = data;

	/* a flow that ignores cancellation must not hold its session forever: the lane goes on,
	 * and whatever the flow still emits or returns is dropped */
	g_message("endpoint %s: flow %s did not finish its turn within %u s; going on without it",
		  pal_endpoint_get_name(run->job->endpoint),
		  pal_endpoint_get_flow_type(run->job->endpoint),
		  run->self->turn_timeout_s);
	g_source_unref(g_steal_pointer(&run->deadline));
	g_cancellable_cancel(run->cancellable);
	run->abandoned = TRUE;
	pal_lane_turn_done(run->lane, run);
	return G_SOURCE_REMOVE;
}

static void
pal_lane_flow_run_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	PalRun *run = user_data;
	PalPipeline *self = run->self;
	g_autoptr(GError) error = NULL;
	gboolean ok = pal_flow_run_finish(PAL_FLOW(source), res, &error);

	g_hash_table_remove(self->runs, run);
	g_atomic_int_add(&self->running, -1);
	if (!run->abandoned) {
		if (!ok && !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			g_message("endpoint %s: flow %s failed: %s",
				  pal_endpoint_get_name(run->job->endpoint),
				  pal_endpoint_get_flow_type(run->job->endpoint),
				  error->message);
		if (pal_endpoint_get_end_of_turn_event(run->job->endpoint) && !self->shut_down)
			pal_pipeline_end_of_turn(run);
		/* the job is counted done by the commit, and freed with the run */
		pal_lane_turn_done(run->lane, run);
	}
	pal_run_free(run);
}

/* session.inactivityMinutes and session.stateTtlDays: a session idle for longer starts over,
 * at the flow's start with a fresh context (its contact profile stays) */
static void
pal_lane_maybe_expire(PalLane *lane, PalEndpoint *endpoint)
{
	gint64 idle = g_get_real_time() - lane->updated_at;
	guint minutes = pal_endpoint_get_inactivity_minutes(endpoint);
	gint64 ttl = (gint64)pal_endpoint_get_state_ttl_days(endpoint) * 86400 * G_USEC_PER_SEC;
	g_autoptr(JsonObject) fresh = NULL;

	if (lane->updated_at == 0)
		return;
	if (idle <= ttl && (minutes == 0 || idle <= (gint64)minutes * 60 * G_USEC_PER_SEC))
		return;
	fresh = json_object_new();
	pal_session_set_context(lane->session, fresh);
	pal_session_set_entrypoint(lane->session, NULL);
	pal_session_set_handover_active(lane->session, FALSE);
	lane->updated_at = 0;
}

/* the profile the user's last turn left, maybe in another session of theirs */
static void
pal_lane_refresh_profile(PalLane *lane)
{
	g_autofree gchar *json = NULL;
	g_autoptr(JsonNode) node = NULL;

	if (!lane->profile_held || lane->self->profiles == NULL)
		return;
	json = pal_profile_cache_dup(lane->self->profiles,
				     pal_session_get_endpoint_name(lane->session),
				     pal_session_get_user_id(lane->session));
	if (json == NULL || g_strcmp0(json, lane->profile_json) == 0)
		return;
	node = json_from_string(json, NULL);
	if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node))
		return;
	pal_session_set_profile(lane->session, json_node_get_object(node));
	g_free(lane->profile_json);
	lane->profile_json = g_steal_pointer(&json);
}

static void
pal_run_start_flow(PalRun *run)
{
	g_autoptr(PalTurn) turn = pal_turn_new(pal_endpoint_get_info(run->job->endpoint),
					       run->lane->session,
					       run->job->message,
					       pal_pipeline_emit_cb,
					       run,
					       NULL);

	pal_flow_run_async(run->flow, turn, run->cancellable, pal_lane_flow_run_cb, run);
}

static void
pal_run_nlu_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	PalRun *run = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(PalNluResult) result = pal_nlu_parse_finish(PAL_NLU(source), res, &error);

	if (run->abandoned) {
		/* the deadline passed meanwhile: the turn is over without its flow */
		g_hash_table_remove(run->self->runs, run);
		g_atomic_int_add(&run->self->running, -1);
		pal_run_free(run);
		return;
	}
	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
		/* shutdown: the turn is not run (its journal entry runs it at the next start) */
		g_hash_table_remove(run->self->runs, run);
		g_atomic_int_add(&run->self->running, -1);
		pal_lane_turn_done(run->lane, run);
		pal_run_free(run);
		return;
	}
	if (result != NULL)
		pal_message_set_nlu_result(run->job->message, result);
	else
		/* the message goes on without an intent */
		g_message("endpoint %s: NLU %s failed: %s",
			  pal_endpoint_get_name(run->job->endpoint),
			  pal_endpoint_get_nlu_type(run->job->endpoint),
			  error->message);
	pal_run_start_flow(run);
}

/* the endpoint's NLU, when it has one and the input has text, before the flow */
static void
pal_run_understand(PalRun *run)
{
	PalEndpoint *endpoint = run->job->endpoint;
	const gchar *text = pal_message_get_text(run->job->message);
	g_autoptr(GError) error = NULL;
	g_autoptr(GObject) nlu = NULL;

	if (pal_endpoint_get_nlu_type(endpoint) == NULL || text == NULL || text[0] == '\0' ||
	    pal_message_get_nlu_result(run->job->message) != NULL) {
		pal_run_start_flow(run);
		return;
	}
	nlu = pal_pipeline_get_extension(run->self,
					 run->self->nlus,
					 PAL_PLUGIN_KIND_NLU,
					 pal_endpoint_get_nlu_type(endpoint),
					 pal_endpoint_get_nlu_options(endpoint),
					 endpoint,
					 &error);
	if (nlu == NULL) {
		g_message("endpoint %s: cannot run its NLU: %s", pal_endpoint_get_name(endpoint), error->message);
		pal_run_start_flow(run);
		return;
	}
	pal_nlu_parse_async(PAL_NLU(nlu),
			    text,
			    pal_endpoint_get_locale(endpoint),
			    run->cancellable,
			    pal_run_nlu_cb,
			    run);
}

/* POST /notify and D-Bus Notify: the message itself is the session's next output (source
 * "notify"), stored like a turn's outputs (journal done, session saved, outbox) in order
 * with the session's other turns; no flow runs */
static void
pal_lane_notify(PalLane *lane, PalJob *job)
{
	PalPipeline *self = lane->self;
	PalMessage *msg = job->message;
	g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func((GDestroyNotify)pal_store_outbox_row_free);
	JsonObject *body_obj = pal_message_get_body(msg);
	JsonNode *attachments = body_obj != NULL ? json_object_get_member(body_obj, "attachments") : NULL;
	g_autoptr(JsonObject) data = NULL;

	if (pal_message_get_data(msg) != NULL)
		data = pal_json_object_deep_copy(pal_message_get_data(msg));
	/* attachments [{name, url, type, caption}] ride along in data, unchanged */
	if (attachments != NULL && JSON_NODE_HOLDS_ARRAY(attachments)) {
		if (data == NULL)
			data = json_object_new();
		json_object_set_member(data, "attachments", pal_json_node_deep_copy(attachments));
	}
	if (pal_endpoint_get_webhook_url(job->endpoint)[0] != '\0') {
		g_autofree gchar *webhook_id = pal_delivery_webhook_id(pal_message_get_input_id(msg), 0);
		g_autoptr(GBytes) body = pal_delivery_build_body(pal_message_get_user_id(msg),
								 pal_message_get_session_id(msg),
								 pal_message_get_text(msg),
								 data,
								 pal_message_get_trace_id(msg),
								 pal_endpoint_get_mask_logging(job->endpoint),
								 pal_output_source_to_string(PAL_OUTPUT_SOURCE_NOTIFY));
		gint64 now = g_get_real_time();
		gint64 ttl = (gint64)pal_endpoint_get_webhook_ttl_seconds(job->endpoint) * G_USEC_PER_SEC;

		g_ptr_array_add(rows,
				pal_store_outbox_row_new(pal_endpoint_get_name(job->endpoint),
							 lane->key,
							 webhook_id,
							 pal_message_get_input_id(msg),
							 0,
							 body,
							 now,
							 now + ttl));
	}
	pal_lane_maybe_expire(lane, job->endpoint);
	pal_session_touch(lane->session, g_get_real_time());
	pal_pipeline_commit(self, lane, job, rows);
	pal_job_free(job);
}

typedef struct {
	PalLane *lane; /* a reference, NULL when the session has no lane */
	GTask *task;
} PalReset;

static void
pal_pipeline_reset_stored_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	PalReset *r = user_data;
	g_autoptr(GError) error = NULL;

	if (pal_store_session_reset_finish(PAL_STORE(source), res, &error))
		g_task_return_boolean(r->task, TRUE);
	else
		g_task_return_error(r->task, g_steal_pointer(&error));
	if (r->lane != NULL) {
		PalLane *lane = r->lane;
		PalPipeline *self = lane->self;

		g_atomic_int_add(&self->running, -1);
		lane->running = FALSE;
		lane->last_active = g_get_monotonic_time();
		if (!self->shut_down)
			pal_lane_run_next(lane);
		pal_lane_unref(lane);
	}
	g_object_unref(r->task);
	g_free(r);
}

static void
pal_pipeline_reset_in_store(PalPipeline *self, const gchar *key, GTask *task, PalLane *lane)
{
	PalReset *r = g_new0(PalReset, 1);

	r->lane = lane;
	r->task = g_object_ref(task);
	pal_store_session_reset_async(self->store, key, NULL, pal_pipeline_reset_stored_cb, r);
}

/* a session reset in the lane's order: the session starts over (fresh context, flow start,
 * no handover; its contact profile stays) in memory and in the store */
static void
pal_lane_reset(PalLane *lane, PalJob *job)
{
	PalPipeline *self = lane->self;
	PalSession *fresh = pal_session_new(pal_session_get_endpoint_name(lane->session),
					    pal_session_get_user_id(lane->session),
					    pal_session_get_session_id(lane->session));
	g_autoptr(GTask) task = g_steal_pointer(&job->reset);

	pal_session_set_profile(fresh, pal_session_get_profile(lane->session));
	g_object_unref(lane->session);
	lane->session = fresh;
	lane->turns_before = 0;
	lane->updated_at = 0;
	if (lane->handover_stored && self->stats != NULL)
		pal_stats_handover_changed(self->stats,
					   pal_session_get_endpoint_name(fresh),
					   pal_session_get_user_id(fresh),
					   pal_session_get_session_id(fresh),
					   FALSE);
	lane->handover_stored = FALSE;
	pal_job_free(job);
	/* the lane waits for the store, so that its next turn reads nothing older */
	lane->running = TRUE;
	g_atomic_int_inc(&self->running);
	pal_pipeline_reset_in_store(self, lane->key, task, pal_lane_ref(lane));
}

static void
pal_lane_run_next(PalLane *lane)
{
	PalPipeline *self = lane->self;
	g_autoptr(PalTurn) turn = NULL;
	PalRun *run = NULL;

	if (lane->running || lane->loading)
		return;
	/* a loop, not recursion: a failing flow must not grow the stack per queued message */
	while (run == NULL) {
		g_autoptr(GError) error = NULL;
		PalJob *job = g_queue_pop_head(&lane->jobs);
		PalFlow *flow;

		if (job == NULL)
			return;
		if (job->reset != NULL) {
			pal_lane_reset(lane, job);
			return;
		}
		if (pal_message_get_kind(job->message) == PAL_MESSAGE_KIND_NOTIFY) {
			pal_lane_notify(lane, job);
			return;
		}
		flow = pal_pipeline_get_flow(self, job->endpoint, &error);
		if (flow == NULL) {
			g_message("endpoint %s: cannot run its flow: %s",
				  pal_endpoint_get_name(job->endpoint),
				  error->message);
			/* done without outputs: the journal must not replay it forever; the lane
			 * goes on when that is stored */
			pal_pipeline_commit(self, lane, job, NULL);
			pal_job_free(job);
			return;
		}
		run = g_new0(PalRun, 1);
		run->self = g_object_ref(self);
		run->lane = pal_lane_ref(lane);
		run->job = job;
		run->flow = flow;
		run->rows = g_ptr_array_new_with_free_func((GDestroyNotify)pal_store_outbox_row_free);
	}
	lane->running = TRUE;
	lane->run = run;
	pal_lane_maybe_expire(lane, run->job->endpoint);
	pal_lane_refresh_profile(lane);
	run->cancellable = g_cancellable_new();
	run->deadline = g_timeout_source_new_seconds(self->turn_timeout_s);
	g_source_set_callback(run->deadline, pal_run_deadline_cb, run, NULL);
	g_source_attach(run->deadline, self->context);
	g_hash_table_add(self->runs, run);
	g_atomic_int_inc(&self->running);
	pal_run_understand(run);
}

/* the session's stored state is there: its turns may run */
static void
pal_lane_loaded(PalLane *lane)
{
	lane->loading = FALSE;
	g_clear_pointer(&lane->profile_user, g_free);
	g_atomic_int_add(&lane->self->running, -1);
	if (!lane->self->shut_down)
		pal_lane_run_next(lane);
	pal_lane_unref(lane);
}

static void
pal_lane_profile_loaded_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	PalLane *lane = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *profile = NULL;

	if (!pal_store_load_profile_finish(PAL_STORE(source), res, &profile, &error)) {
		g_message("cannot read the contact profile of a session's user, starting with an empty one: %s",
			  error->message);
	} else if (lane->self->profiles != NULL) {
		/* a turn of another session of the user may have stored a newer one meanwhile:
		 * the cache keeps that, and the turn reads the cache */
		pal_profile_cache_loaded(lane->self->profiles,
					 pal_session_get_endpoint_name(lane->session),
					 pal_session_get_user_id(lane->session),
					 profile);
	} else if (profile != NULL) {
		g_autoptr(JsonNode) node = json_from_string(profile, NULL);
		if (node != NULL && JSON_NODE_HOLDS_OBJECT(node)) {
			pal_session_set_profile(lane->session, json_node_get_object(node));
			lane->profile_json = g_steal_pointer(&profile);
		}
	}
	pal_lane_loaded(lane);
}

/* a session the store knows continues where it was: context, entry point, handover, turns */
static void
pal_lane_loaded_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	PalLane *lane = user_data;
	g_autoptr(PalStoreSession) stored = NULL;
	g_autoptr(GError) error = NULL;

	if (!pal_store_load_session_finish(PAL_STORE(source), res, &stored, &error)) {
		/* the session starts fresh rather than wait: the store's state is a convenience for
		 * flows, while the messages themselves are journaled */
		g_message("cannot read the stored state of a session, starting it fresh: %s",
			  error->message);
	} else if (stored != NULL) {
		g_autoptr(JsonNode) context = stored->context != NULL ? json_from_string(stored->context, NULL) : NULL;

		if (context != NULL && JSON_NODE_HOLDS_OBJECT(context))
			pal_session_set_context(lane->session, json_node_get_object(context));
		pal_session_set_entrypoint(lane->session, stored->entrypoint);
		pal_session_set_handover_active(lane->session, stored->handover);
		lane->handover_stored = stored->handover;
		lane->turns_before = stored->turns;
		lane->updated_at = stored->updated_at;
	}
	if (lane->profile_user != NULL) {
		/* then the user's contact profile, shared by their sessions */
		pal_store_load_profile_async(PAL_STORE(source),
					     pal_session_get_endpoint_name(lane->session),
					     lane->profile_user,
					     NULL,
					     pal_lane_profile_loaded_cb,
					     lane);
		return;
	}
	pal_lane_loaded(lane);
}

void
pal_pipeline_submit(PalPipeline *self, PalEndpoint *endpoint, PalMessage *message, gsize size)
{
	g_autofree gchar *key = NULL;
	PalLane *lane;
	PalJob *job;

	g_atomic_int_inc(&self->queued);
	(void)g_atomic_pointer_add(&self->queued_bytes, (gssize)size);
	job = g_new0(PalJob, 1);
	job->endpoint = g_object_ref(endpoint);
	job->message = g_object_ref(message);
	job->size = size;
	if (self->shut_down) {
		g_message("endpoint %s: message %s arrived after shutdown and is dropped",
			  pal_endpoint_get_name(endpoint),
			  pal_message_get_input_id(message));
		pal_pipeline_job_done(self, job);
		pal_job_free(job);
		return;
	}
	key = pal_pipeline_session_key(pal_endpoint_get_name(endpoint),
				       pal_message_get_user_id(message),
				       pal_message_get_session_id(message));
	lane = g_hash_table_lookup(self->lanes, key);
	if (lane == NULL) {
		guint minutes = pal_endpoint_get_inactivity_minutes(endpoint);

		lane = g_new0(PalLane, 1);
		lane->ref_count = 1;
		lane->self = self;
		lane->key = g_steal_pointer(&key);
		lane->session = pal_session_new(pal_endpoint_get_name(endpoint),
						pal_message_get_user_id(message),
						pal_message_get_session_id(message));
		lane->idle_minutes = minutes > 0 ? minutes : PAL_PIPELINE_DEFAULT_IDLE_MINUTES;
		if (pal_endpoint_get_use_contact_profiles(endpoint)) {
			gboolean known = FALSE;
			if (self->profiles != NULL) {
				known = pal_profile_cache_hold(self->profiles,
							       pal_endpoint_get_name(endpoint),
							       pal_message_get_user_id(message));
				lane->profile_held = TRUE;
			}
			/* read from the store unless a session of the user has it in memory */
			if (!known)
				lane->profile_user = g_strdup(pal_message_get_user_id(message));
		}
		g_hash_table_insert(self->lanes, lane->key, lane);
		lane->loading = TRUE;
		g_atomic_int_inc(&self->running); /* the worker's teardown waits for it */
		pal_store_load_session_async(self->store, lane->key, NULL, pal_lane_loaded_cb, pal_lane_ref(lane));
	}
	lane->last_active = g_get_monotonic_time();
	g_queue_push_tail(&lane->jobs, job);
	pal_lane_run_next(lane);
}

void
pal_pipeline_set_backlog(PalPipeline *self, PalBacklog *backlog)
{
	self->backlog = backlog;
}

void
pal_pipeline_set_journaled(PalPipeline *self, gboolean journaled)
{
	self->journaled = journaled;
}

void
pal_pipeline_set_profiles(PalPipeline *self, PalProfileCache *profiles)
{
	self->profiles = profiles;
}

void
pal_pipeline_set_stats(PalPipeline *self, PalStats *stats)
{
	g_set_object(&self->stats, stats);
}

void
pal_pipeline_reset_session(PalPipeline *self, PalEndpoint *endpoint, const gchar *session_key, GTask *task)
{
	PalLane *lane = g_hash_table_lookup(self->lanes, session_key);
	PalJob *job;

	if (self->shut_down) {
		g_task_return_new_error(task, PAL_ERROR, PAL_ERROR_UNAVAILABLE, "palaverd is shutting down");
		return;
	}
	/* an idle session is forgotten in memory (as the sweep does) and read again from the
	 * store when it next speaks, after the reset */
	if (lane != NULL && !lane->running && !lane->loading && g_queue_is_empty(&lane->jobs)) {
		if (lane->handover_stored && self->stats != NULL)
			pal_stats_handover_changed(self->stats,
						   pal_session_get_endpoint_name(lane->session),
						   pal_session_get_user_id(lane->session),
						   pal_session_get_session_id(lane->session),
						   FALSE);
		g_hash_table_remove(self->lanes, session_key);
		lane = NULL;
	}
	if (lane == NULL) {
		pal_pipeline_reset_in_store(self, session_key, task, NULL);
		return;
	}
	/* behind the session's waiting messages: they run with the state they were sent to */
	job = g_new0(PalJob, 1);
	job->endpoint = g_object_ref(endpoint);
	job->reset = g_object_ref(task);
	g_queue_push_tail(&lane->jobs, job);
	pal_lane_run_next(lane);
}

void
pal_pipeline_reload(PalPipeline *self)
{
	g_hash_table_remove_all(self->flows);
	g_hash_table_remove_all(self->nlus);
}

void
pal_pipeline_shutdown(PalPipeline *self)
{
	GHashTableIter iter;
	PalRun *run;
	PalLane *lane;
	guint dropped = 0;

	if (self->shut_down)
		return;
	self->shut_down = TRUE;
	g_hash_table_iter_init(&iter, self->lanes);
	while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&lane)) {
		PalJob *job;
		while ((job = g_queue_pop_head(&lane->jobs)) != NULL) {
			pal_pipeline_job_done(self, job);
			pal_job_free(job);
			dropped++;
		}
	}
	if (dropped > 0)
		g_message("stopping with %u message(s) not run through their flow", dropped);
	g_hash_table_iter_init(&iter, self->runs);
	while (g_hash_table_iter_next(&iter, (gpointer *)&run, NULL))
		g_cancellable_cancel(run->cancellable);
}

guint
pal_pipeline_get_queued(PalPipeline *self)
{
	return (guint)g_atomic_int_get(&self->queued);
}

guint64
pal_pipeline_get_queued_bytes(PalPipeline *self)
{
	return (guint64)(gsize)g_atomic_pointer_get(&self->queued_bytes);
}

guint
pal_pipeline_get_running(PalPipeline *self)
{
	return (guint)g_atomic_int_get(&self->running);
}

guint
pal_pipeline_get_n_sessions(PalPipeline *self)
{
	return g_hash_table_size(self->lanes);
}

/* forget idle sessions: memory stays bounded by the sessions active in the idle window */
static gboolean
pal_pipeline_sweep_cb(gpointer data)
{
	PalPipeline *self = data;
	GHashTableIter iter;
	PalLane *lane;
	gint64 now = g_get_monotonic_time();

	g_hash_table_iter_init(&iter, self->lanes);
	while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&lane)) {
		if (lane->running || lane->loading || !g_queue_is_empty(&lane->jobs))
			continue;
		if (now - lane->last_active > (gint64)lane->idle_minutes * 60 * G_USEC_PER_SEC)
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
	g_hash_table_unref(self->runs);
	g_hash_table_unref(self->lanes);
	g_hash_table_unref(self->flows);
	g_hash_table_unref(self->nlus);
	g_object_unref(self->registry);
	g_object_unref(self->delivery);
	g_object_unref(self->store);
	g_clear_object(&self->stats);
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
	self->journaled = TRUE;
	self->lanes = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)pal_lane_unref);
	self->flows = g_hash_table_new_full(g_direct_hash, g_direct_equal, g_object_unref, g_object_unref);
	self->nlus = g_hash_table_new_full(g_direct_hash, g_direct_equal, g_object_unref, g_object_unref);
	self->runs = g_hash_table_new(g_direct_hash, g_direct_equal);
}

PalPipeline *
pal_pipeline_new(PalPluginRegistry *registry,
		 PalDelivery *delivery,
		 PalStore *store,
		 guint turn_timeout_s)
{
	PalPipeline *self = g_object_new(PAL_TYPE_PIPELINE, NULL);

	self->store = g_object_ref(store);
	self->context = g_main_context_ref_thread_default();
	self->registry = g_object_ref(registry);
	self->delivery = g_object_ref(delivery);
	self->turn_timeout_s = MAX(turn_timeout_s, 1);
	self->sweep = g_timeout_source_new_seconds(30);
	g_source_set_callback(self->sweep, pal_pipeline_sweep_cb, self, NULL);
	g_source_attach(self->sweep, self->context);
	return self;
}
