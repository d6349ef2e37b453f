/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "pal-pipeline.h"
#include "pal-stats.h"

/* latency histograms: upper bounds of the buckets in ms, the last one open */
static const guint pal_stats_bounds_ms[] = {1,    2,    5,    10,    25,    50,    100,   250,
					    500,  1000, 2500, 5000, 10000, 30000, 60000, 300000};
#define PAL_STATS_N_BUCKETS (G_N_ELEMENTS(pal_stats_bounds_ms) + 1)

typedef struct {
	gsize buckets[PAL_STATS_N_BUCKETS]; /* atomic */
	gsize count;			    /* atomic */
	gsize sum_us;			    /* atomic */
	gsize max_us;			    /* atomic (compare and exchange) */
} PalLatency;

typedef struct {
	gsize accepted; /* atomic, like the others */
	gsize delivered;
	gsize retried;
	gsize dead_lettered;
	PalLatency turn;
	PalLatency delivery;
	GMutex lock;	     /* guards rejected */
	GHashTable *rejected; /* code → GSIZE_TO_POINTER(count) */
} PalEndpointStats;

struct _PalStats {
	GObject parent_instance;
	GMainContext *context; /* where the signals are emitted */
	GRWLock lock;	       /* guards endpoints (the table, not the counters) */
	GHashTable *endpoints; /* name → PalEndpointStats; "" for requests without an endpoint */
};

enum {
	SIGNAL_DELIVERY_FAILED,
	SIGNAL_HANDOVER_CHANGED,
	SIGNAL_LAST,
};

static guint signals[SIGNAL_LAST];

G_DEFINE_FINAL_TYPE(PalStats, pal_stats, G_TYPE_OBJECT)

static void
pal_endpoint_stats_free(PalEndpointStats *s)
{
	g_hash_table_unref(s->rejected);
	g_mutex_clear(&s->lock);
	g_free(s);
}

/* the counters of @endpoint, created on first use and kept until the end */
static PalEndpointStats *
pal_stats_get(PalStats *self, const gchar *endpoint)
{
	PalEndpointStats *s;

	if (endpoint == NULL)
		endpoint = "";
	g_rw_lock_reader_lock(&self->lock);
	s = g_hash_table_lookup(self->endpoints, endpoint);
	g_rw_lock_reader_unlock(&self->lock);
	if (s != NULL)
		return s;
	g_rw_lock_writer_lock(&self->lock);
	s = g_hash_table_lookup(self->endpoints, endpoint);
	if (s == NULL) {
		s = g_new0(PalEndpointStats, 1);
		g_mutex_init(&s->lock);
		s->rejected = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
		g_hash_table_insert(self->endpoints, g_strdup(endpoint), s);
	}
	g_rw_lock_writer_unlock(&self->lock);
	return s;
}

static void
pal_stats_inc(gsize *counter)
{
	(void)g_atomic_pointer_add(counter, 1);
}

static void
pal_latency_add(PalLatency *l, gint64 latency_us)
{
	gsize us = (gsize)MAX(latency_us, 0);
	guint i = 0;
	gsize max;

	while (i < G_N_ELEMENTS(pal_stats_bounds_ms) && us > (gsize)pal_stats_bounds_ms[i] * 1000)
		i++;
	(void)g_atomic_pointer_add(&l->buckets[i], 1);
	(void)g_atomic_pointer_add(&l->count, 1);
	(void)g_atomic_pointer_add(&l->sum_us, us);
	do {
		max = (gsize)g_atomic_pointer_get(&l->max_us);
	} while (us > max && !g_atomic_pointer_compare_and_exchange((gpointer *)&l->max_us,
								     (gpointer)max,
								     (gpointer)us));
}

void
pal_stats_ensure(PalStats *self, const gchar *endpoint)
{
	g_return_if_fail(PAL_IS_STATS(self));
	(void)pal_stats_get(self, endpoint);
}

void
pal_stats_accepted(PalStats *self, const gchar *endpoint)
{
	g_return_if_fail(PAL_IS_STATS(self));
	pal_stats_inc(&pal_stats_get(self, endpoint)->accepted);
}

void
pal_stats_rejected(PalStats *self, const gchar *endpoint, const gchar *code)
{
	PalEndpointStats *s;
	gsize n;

	g_return_if_fail(PAL_IS_STATS(self));
	s = pal_stats_get(self, endpoint);
	if (code == NULL)
		code = "unknown";
	g_mutex_lock(&s->lock);
	n = GPOINTER_TO_SIZE(g_hash_table_lookup(s->rejected, code));
	g_hash_table_insert(s->rejected, g_strdup(code), GSIZE_TO_POINTER(n + 1));
	g_mutex_unlock(&s->lock);
}

void
pal_stats_turn_done(PalStats *self, const gchar *endpoint, gint64 latency_us)
{
	g_return_if_fail(PAL_IS_STATS(self));
	pal_latency_add(&pal_stats_get(self, endpoint)->turn, latency_us);
}

void
pal_stats_delivered(PalStats *self, const gchar *endpoint, gint64 latency_us)
{
	PalEndpointStats *s;

	g_return_if_fail(PAL_IS_STATS(self));
	s = pal_stats_get(self, endpoint);
	pal_stats_inc(&s->delivered);
	pal_latency_add(&s->delivery, latency_us);
}

void
pal_stats_retried(PalStats *self, const gchar *endpoint)
{
	g_return_if_fail(PAL_IS_STATS(self));
	pal_stats_inc(&pal_stats_get(self, endpoint)->retried);
}

/* an event for the main context */
typedef struct {
	PalStats *self;
	guint signal;
	gchar *endpoint;
	gchar *user_id;
	gchar *session_id;
	gchar *webhook_id;
	gchar *reason;
	gint status;
	gboolean active;
} PalStatsEvent;

static void
pal_stats_event_free(PalStatsEvent *ev)
{
	g_object_unref(ev->self);
	g_free(ev->endpoint);
	g_free(ev->user_id);
	g_free(ev->session_id);
	g_free(ev->webhook_id);
	g_free(ev->reason);
	g_free(ev);
}

static gboolean
pal_stats_event_cb(gpointer data)
{
	PalStatsEvent *ev = data;

	if (ev->signal == SIGNAL_DELIVERY_FAILED)
		g_signal_emit(ev->self,
			      signals[SIGNAL_DELIVERY_FAILED],
			      0,
			      ev->endpoint,
			      ev->user_id,
			      ev->session_id,
			      ev->webhook_id,
			      ev->reason,
			      ev->status);
	else
		g_signal_emit(ev->self,
			      signals[SIGNAL_HANDOVER_CHANGED],
			      0,
			      ev->endpoint,
			      ev->user_id,
			      ev->session_id,
			      ev->active);
	return G_SOURCE_REMOVE;
}

static void
pal_stats_post(PalStats *self, PalStatsEvent *ev)
{
	ev->self = g_object_ref(self);
	g_main_context_invoke_full(self->context,
				   G_PRIORITY_DEFAULT,
				   pal_stats_event_cb,
				   ev,
				   (GDestroyNotify)pal_stats_event_free);
}

void
pal_stats_dead_lettered(PalStats *self,
			const gchar *endpoint,
			const gchar *session_key,
			const gchar *webhook_id,
			const gchar *reason,
			gint status)
{
	PalStatsEvent *ev;
	gchar *parts[3] = {NULL, NULL, NULL};

	g_return_if_fail(PAL_IS_STATS(self));
	pal_stats_inc(&pal_stats_get(self, endpoint)->dead_lettered);
	ev = g_new0(PalStatsEvent, 1);
	ev->signal = SIGNAL_DELIVERY_FAILED;
	ev->endpoint = g_strdup(endpoint);
	if (session_key != NULL && pal_pipeline_session_key_split(session_key, parts)) {
		ev->user_id = parts[1];
		ev->session_id = parts[2];
		g_free(parts[0]);
	} else {
		ev->user_id = g_strdup("");
		ev->session_id = g_strdup("");
	}
	ev->webhook_id = g_strdup(webhook_id != NULL ? webhook_id : "");
	ev->reason = g_strdup(reason != NULL ? reason : "");
	ev->status = status;
	pal_stats_post(self, ev);
}

void
pal_stats_handover_changed(PalStats *self,
			   const gchar *endpoint,
			   const gchar *user_id,
			   const gchar *session_id,
			   gboolean active)
{
	PalStatsEvent *ev;

	g_return_if_fail(PAL_IS_STATS(self));
	ev = g_new0(PalStatsEvent, 1);
	ev->signal = SIGNAL_HANDOVER_CHANGED;
	ev->endpoint = g_strdup(endpoint);
	ev->user_id = g_strdup(user_id);
	ev->session_id = g_strdup(session_id);
	ev->active = active;
	pal_stats_post(self, ev);
}

/* the upper bound of the bucket where @fraction of the samples is reached */
static gdouble
pal_latency_percentile(const gsize *buckets, gsize count, gdouble fraction, gsize max_us)
{
	gsize want = (gsize)(fraction * (gdouble)count + 0.999999);
	gsize seen = 0;

	for (guint i = 0; i < PAL_STATS_N_BUCKETS; i++) {
		seen += buckets[i];
		if (seen >= want && seen > 0) {
			gdouble bound = i < G_N_ELEMENTS(pal_stats_bounds_ms) ? pal_stats_bounds_ms[i] : G_MAXDOUBLE;
			/* never above the largest sample seen */
			return MIN(bound, (gdouble)max_us / 1000.0);
		}
	}
	return 0;
}

static JsonObject *
pal_latency_to_json(PalLatency *l)
{
	JsonObject *obj = json_object_new();
	gsize buckets[PAL_STATS_N_BUCKETS];
	gsize count = 0;
	gsize sum = (gsize)g_atomic_pointer_get(&l->sum_us);
	gsize max = (gsize)g_atomic_pointer_get(&l->max_us);

	/* the buckets are the truth for the percentiles: count them, not l->count, so that a
	 * sample added meanwhile cannot make the sums disagree */
	for (guint i = 0; i < PAL_STATS_N_BUCKETS; i++) {
		buckets[i] = (gsize)g_atomic_pointer_get(&l->buckets[i]);
		count += buckets[i];
	}
	json_object_set_int_member(obj, "count", (gint64)count);
	json_object_set_double_member(obj, "avg", count > 0 ? (gdouble)sum / 1000.0 / (gdouble)count : 0);
	json_object_set_double_member(obj, "p50", pal_latency_percentile(buckets, count, 0.50, max));
	json_object_set_double_member(obj, "p90", pal_latency_percentile(buckets, count, 0.90, max));
	json_object_set_double_member(obj, "p99", pal_latency_percentile(buckets, count, 0.99, max));
	json_object_set_double_member(obj, "max", (gdouble)max / 1000.0);
	return obj;
}

static JsonObject *
pal_stats_rejected_to_json(PalEndpointStats *s)
{
	JsonObject *obj = json_object_new();
	g_autoptr(GList) codes = NULL;

	g_mutex_lock(&s->lock);
	codes = g_hash_table_get_keys(s->rejected);
	codes = g_list_sort(codes, (GCompareFunc)g_strcmp0);
	for (GList *l = codes; l != NULL; l = l->next)
		json_object_set_int_member(obj,
					   l->data,
					   (gint64)GPOINTER_TO_SIZE(g_hash_table_lookup(s->rejected, l->data)));
	g_mutex_unlock(&s->lock);
	return obj;
}

JsonObject *
pal_stats_dup_endpoints(PalStats *self)
{
	JsonObject *all = json_object_new();
	g_autoptr(GList) names = NULL;

	g_return_val_if_fail(PAL_IS_STATS(self), NULL);
	g_rw_lock_reader_lock(&self->lock);
	names = g_hash_table_get_keys(self->endpoints);
	names = g_list_sort(names, (GCompareFunc)g_strcmp0);
	for (GList *l = names; l != NULL; l = l->next) {
		PalEndpointStats *s = g_hash_table_lookup(self->endpoints, l->data);
		JsonObject *obj;

		if (((const gchar *)l->data)[0] == '\0')
			continue;
		obj = json_object_new();
		json_object_set_int_member(obj, "accepted", (gint64)g_atomic_pointer_get(&s->accepted));
		json_object_set_object_member(obj, "rejected", pal_stats_rejected_to_json(s));
		json_object_set_int_member(obj, "delivered", (gint64)g_atomic_pointer_get(&s->delivered));
		json_object_set_int_member(obj, "retried", (gint64)g_atomic_pointer_get(&s->retried));
		json_object_set_int_member(obj, "deadLettered", (gint64)g_atomic_pointer_get(&s->dead_lettered));
		json_object_set_object_member(obj, "turnLatencyMs", pal_latency_to_json(&s->turn));
		json_object_set_object_member(obj, "deliveryLatencyMs", pal_latency_to_json(&s->delivery));
		json_object_set_object_member(all, l->data, obj);
	}
	g_rw_lock_reader_unlock(&self->lock);
	return all;
}

JsonObject *
pal_stats_dup_unrouted(PalStats *self)
{
	PalEndpointStats *s;

	g_return_val_if_fail(PAL_IS_STATS(self), NULL);
	g_rw_lock_reader_lock(&self->lock);
	s = g_hash_table_lookup(self->endpoints, "");
	g_rw_lock_reader_unlock(&self->lock);
	return s != NULL ? pal_stats_rejected_to_json(s) : json_object_new();
}

guint64
pal_stats_get_counter(PalStats *self, const gchar *endpoint, const gchar *counter)
{
	PalEndpointStats *s;

	g_return_val_if_fail(PAL_IS_STATS(self), 0);
	s = pal_stats_get(self, endpoint);
	if (g_strcmp0(counter, "accepted") == 0)
		return (guint64)g_atomic_pointer_get(&s->accepted);
	if (g_strcmp0(counter, "delivered") == 0)
		return (guint64)g_atomic_pointer_get(&s->delivered);
	if (g_strcmp0(counter, "retried") == 0)
		return (guint64)g_atomic_pointer_get(&s->retried);
	if (g_strcmp0(counter, "deadLettered") == 0)
		return (guint64)g_atomic_pointer_get(&s->dead_lettered);
	return 0;
}

static void
pal_stats_finalize(GObject *object)
{
	PalStats *self = PAL_STATS(object);

	g_hash_table_unref(self->endpoints);
	g_rw_lock_clear(&self->lock);
	g_main_context_unref(self->context);
	G_OBJECT_CLASS(pal_stats_parent_class)->finalize(object);
}

static void
pal_stats_class_init(PalStatsClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = pal_stats_finalize;

	/**
	 * PalStats::delivery-failed:
	 * @endpoint: the endpoint name
	 * @user_id: the session's userId ("" when unknown)
	 * @session_id: the session's sessionId ("" when unknown)
	 * @webhook_id: the output's webhook-id
	 * @reason: why it was given up
	 * @status: the last HTTP status, 0 for none
	 *
	 * An output was given up; emitted in the context that created the object.
	 */
	signals[SIGNAL_DELIVERY_FAILED] = g_signal_new("delivery-failed",
						       G_TYPE_FROM_CLASS(klass),
						       G_SIGNAL_RUN_LAST,
						       0,
						       NULL,
						       NULL,
						       NULL,
						       G_TYPE_NONE,
						       6,
						       G_TYPE_STRING,
						       G_TYPE_STRING,
						       G_TYPE_STRING,
						       G_TYPE_STRING,
						       G_TYPE_STRING,
						       G_TYPE_INT);
	/**
	 * PalStats::handover-changed:
	 * @endpoint: the endpoint name
	 * @user_id: the session's userId
	 * @session_id: the session's sessionId
	 * @active: whether a human has the session now
	 *
	 * Emitted in the context that created the object.
	 */
	signals[SIGNAL_HANDOVER_CHANGED] = g_signal_new("handover-changed",
							G_TYPE_FROM_CLASS(klass),
							G_SIGNAL_RUN_LAST,
							0,
							NULL,
							NULL,
							NULL,
							G_TYPE_NONE,
							4,
							G_TYPE_STRING,
							G_TYPE_STRING,
							G_TYPE_STRING,
							G_TYPE_BOOLEAN);
}

static void
pal_stats_init(PalStats *self)
{
	g_rw_lock_init(&self->lock);
	self->endpoints = g_hash_table_new_full(g_str_hash,
						g_str_equal,
						g_free,
						(GDestroyNotify)pal_endpoint_stats_free);
	self->context = g_main_context_ref_thread_default();
}

PalStats *
pal_stats_new(void)
{
	return g_object_new(PAL_TYPE_STATS, NULL);
}
