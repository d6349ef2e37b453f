/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "pal-daemon.h"
#include "pal-delivery.h"
#include "pal-http-server.h"
#include "pal-inbound.h"
#include "pal-json-util.h"
#include "pal-pipeline.h"
#include "pal-worker.h"

typedef enum {
	PAL_WORKER_JOB_MESSAGE,
	PAL_WORKER_JOB_DELIVERY,
	PAL_WORKER_JOB_RESET_SESSION,
	PAL_WORKER_JOB_RELOAD,
	PAL_WORKER_JOB_STOP_ACCEPTING,
	PAL_WORKER_JOB_QUIT,
} PalWorkerJobKind;

typedef struct {
	PalWorkerJobKind kind;
	PalEndpoint *endpoint;
	PalMessage *message;
	gsize size;
	PalDeliveryItem *item;
	gchar *session_key; /* RESET_SESSION */
	GTask *task;	    /* RESET_SESSION */
} PalWorkerJob;

struct _PalWorker {
	GObject parent_instance;
	PalDaemon *daemon; /* not a reference: the daemon owns and outlives its workers */
	guint index;
	GThread *thread;
	GMainContext *context;
	GMainLoop *loop;
	/* owned by the worker thread */
	PalHttpServer *server;
	gboolean journal; /* durability none: messages are not journaled */
	PalDelivery *delivery;
	PalPipeline *pipeline;
	gsize max_body;
	guint max_depth;
	/* inbox, shared */
	GMutex lock;
	GQueue inbox;
	GSource *inbox_source;
	gint inbox_ready; /* atomic: the inbox has jobs the worker was woken up for */
	/* start-up hand-shake */
	GCond start_cond;
	gboolean start_done;
	GError *start_error;
	GStrv listen;
	guint16 *ports;
	/* accepted messages posted here and not yet handed to the pipeline (atomic), so that
	 * the drain sees them too */
	gint in_inbox;
	gssize in_inbox_bytes;
	gint in_journal; /* journal appends not yet answered (atomic) */
	/* intake waits while the pipeline and delivery of a message's owner are behind */
	GQueue waiting; /* PalWait* */
	GSource *wait_source;
	guint wait_above;
	gboolean stopped; /* under @lock: the thread is gone, posts are refused */
};

G_DEFINE_FINAL_TYPE(PalWorker, pal_worker, G_TYPE_OBJECT)

static void
pal_worker_job_free(PalWorkerJob *job)
{
	g_clear_object(&job->endpoint);
	g_clear_object(&job->message);
	g_clear_pointer(&job->item, pal_delivery_item_unref);
	g_free(job->session_key);
	if (job->task != NULL) {
		/* refused (the worker stopped) or never run */
		g_task_return_new_error(job->task, PAL_ERROR, PAL_ERROR_UNAVAILABLE, "palaverd is shutting down");
		g_object_unref(job->task);
	}
	g_free(job);
}

static gboolean
pal_worker_post(PalWorker *self, PalWorkerJob *job)
{
	gboolean was_empty;

	g_mutex_lock(&self->lock);
	if (self->stopped) {
		g_mutex_unlock(&self->lock);
		pal_worker_job_free(job);
		return FALSE;
	}
	was_empty = g_queue_is_empty(&self->inbox);
	g_queue_push_tail(&self->inbox, job);
	g_mutex_unlock(&self->lock);
	/* one wake-up per batch. (Not g_source_set_ready_time(): in GLib 2.74 it writes the
	 * context's eventfd on every call, also to reset it, from the owning thread too) */
	if (was_empty) {
		g_atomic_int_set(&self->inbox_ready, 1);
		g_main_context_wakeup(self->context);
	}
	return TRUE;
}

gboolean
pal_worker_post_message(PalWorker *self, PalEndpoint *endpoint, PalMessage *message, gsize size)
{
	PalWorkerJob *job = g_new0(PalWorkerJob, 1);

	job->kind = PAL_WORKER_JOB_MESSAGE;
	job->endpoint = g_object_ref(endpoint);
	job->message = message; /* transfer full: no other thread touches it after this */
	job->size = size;
	g_atomic_int_inc(&self->in_inbox);
	(void)g_atomic_pointer_add(&self->in_inbox_bytes, (gssize)size);
	if (!pal_worker_post(self, job)) {
		g_atomic_int_add(&self->in_inbox, -1);
		(void)g_atomic_pointer_add(&self->in_inbox_bytes, -(gssize)size);
		return FALSE;
	}
	return TRUE;
}

gboolean
pal_worker_post_delivery(PalWorker *self, PalDeliveryItem *item)
{
	PalWorkerJob *job = g_new0(PalWorkerJob, 1);

	job->kind = PAL_WORKER_JOB_DELIVERY;
	job->item = pal_delivery_item_ref(item);
	return pal_worker_post(self, job);
}

void
pal_worker_post_reset_session(PalWorker *self, PalEndpoint *endpoint, const gchar *session_key, GTask *task)
{
	PalWorkerJob *job = g_new0(PalWorkerJob, 1);

	job->kind = PAL_WORKER_JOB_RESET_SESSION;
	job->endpoint = g_object_ref(endpoint);
	job->session_key = g_strdup(session_key);
	job->task = g_object_ref(task);
	pal_worker_post(self, job);
}

static void
pal_worker_post_kind(PalWorker *self, PalWorkerJobKind kind)
{
	PalWorkerJob *job = g_new0(PalWorkerJob, 1);

	job->kind = kind;
	pal_worker_post(self, job);
}

void
pal_worker_post_reload(PalWorker *self)
{
	pal_worker_post_kind(self, PAL_WORKER_JOB_RELOAD);
}

void
pal_worker_post_stop_accepting(PalWorker *self)
{
	pal_worker_post_kind(self, PAL_WORKER_JOB_STOP_ACCEPTING);
}

static gboolean
pal_worker_inbox_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
	PalWorker *self = user_data;
	GQueue batch = G_QUEUE_INIT;
	PalWorkerJob *job;

	/* cleared before the batch is taken: a job posted after this wakes the context again */
	g_atomic_int_set(&self->inbox_ready, 0);
	g_mutex_lock(&self->lock);
	batch = self->inbox;
	g_queue_init(&self->inbox);
	g_mutex_unlock(&self->lock);

	while ((job = g_queue_pop_head(&batch)) != NULL) {
		switch (job->kind) {
		case PAL_WORKER_JOB_MESSAGE:
			/* counted by the pipeline before it leaves the inbox count: the drain
			 * never sees a gap */
			pal_pipeline_submit(self->pipeline, job->endpoint, job->message, job->size);
			g_atomic_int_add(&self->in_inbox, -1);
			(void)g_atomic_pointer_add(&self->in_inbox_bytes, -(gssize)job->size);
			break;
		case PAL_WORKER_JOB_DELIVERY:
			pal_delivery_enqueue(self->delivery, job->item);
			break;
		case PAL_WORKER_JOB_RESET_SESSION: {
			g_autoptr(GTask) task = g_steal_pointer(&job->task);
			pal_pipeline_reset_session(self->pipeline, job->endpoint, job->session_key, task);
			break;
		}
		case PAL_WORKER_JOB_RELOAD:
			pal_pipeline_reload(self->pipeline);
			break;
		case PAL_WORKER_JOB_STOP_ACCEPTING:
			pal_http_server_stop_accepting(self->server);
			break;
		case PAL_WORKER_JOB_QUIT:
			g_main_loop_quit(self->loop);
			break;
		default:
			break;
		}
		pal_worker_job_free(job);
	}
	return G_SOURCE_CONTINUE;
}

typedef struct {
	GSource source;
	PalWorker *self; /* not a reference: the worker destroys its source */
} PalWorkerInboxSource;

static gboolean
pal_worker_inbox_prepare(GSource *source, gint *timeout)
{
	*timeout = -1;
	return g_atomic_int_get(&((PalWorkerInboxSource *)source)->self->inbox_ready) != 0;
}

static gboolean
pal_worker_inbox_check(GSource *source)
{
	return g_atomic_int_get(&((PalWorkerInboxSource *)source)->self->inbox_ready) != 0;
}

static GSourceFuncs pal_worker_inbox_funcs = {
    .prepare = pal_worker_inbox_prepare,
    .check = pal_worker_inbox_check,
    .dispatch = pal_worker_inbox_dispatch,
};

/* HTTP */

static void
pal_worker_respond(PalHttpExchange *msg, guint status, const gchar *json)
{
	pal_http_exchange_respond(msg, status, "application/json", json, strlen(json));
}

static void
pal_worker_respond_error(PalHttpExchange *msg, PalInboundError *err)
{
	g_autofree gchar *json = pal_inbound_error_to_json(err);
	SoupMessageHeaders *hdrs = pal_http_exchange_get_response_headers(msg);

	if (err->status == 429 || err->status == 503)
		soup_message_headers_replace(hdrs, "Retry-After", "1");
	if (err->status == 405)
		soup_message_headers_replace(hdrs, "Allow", "POST");
	if (err->status == 413)
		soup_message_headers_replace(hdrs, "Connection", "close");
	pal_worker_respond(msg, err->status, json);
}

static void
pal_worker_fail(PalHttpExchange *msg,
		guint status,
		const gchar *code,
		const gchar *field,
		const gchar *message)
{
	PalInboundError err = {0};

	pal_inbound_error_set(&err, status, code, field, "%s", message);
	pal_worker_respond_error(msg, &err);
	pal_inbound_error_clear(&err);
}

/* a refused message, counted for the endpoint's statistics (@endpoint NULL: none known) */
static void
pal_worker_reject(PalWorker *self,
		  PalHttpExchange *msg,
		  PalEndpoint *endpoint,
		  guint status,
		  const gchar *code,
		  const gchar *message)
{
	pal_stats_rejected(pal_daemon_get_stats(self->daemon),
			   endpoint != NULL ? pal_endpoint_get_name(endpoint) : NULL,
			   code);
	pal_worker_fail(msg, status, code, NULL, message);
}

static void
pal_worker_reject_inbound(PalWorker *self, PalHttpExchange *msg, PalEndpoint *endpoint, PalInboundError *err)
{
	pal_stats_rejected(pal_daemon_get_stats(self->daemon),
			   endpoint != NULL ? pal_endpoint_get_name(endpoint) : NULL,
			   err->code);
	pal_worker_respond_error(msg, err);
	pal_inbound_error_clear(err);
}

/* the POST body, or NULL when it was over the limit (the server read none of it) */
static GBytes *
pal_worker_request_body(PalHttpExchange *msg)
{
	GBytes *body;

	if (pal_http_exchange_get_body_too_large(msg))
		return NULL;
	body = pal_http_exchange_get_body(msg);
	return body != NULL ? g_bytes_ref(body) : g_bytes_new_static("", 0);
}

static void
pal_worker_handle_health(PalWorker *self, PalHttpExchange *msg, gboolean ready_check)
{
	g_autoptr(GError) error = NULL;

	if (!g_str_equal(pal_http_exchange_get_method(msg), "GET") &&
	    !g_str_equal(pal_http_exchange_get_method(msg), "HEAD")) {
		soup_message_headers_replace(pal_http_exchange_get_response_headers(msg), "Allow", "GET");
		pal_worker_fail(msg, 405, "method_not_allowed", NULL, "use GET");
		return;
	}
	if (!ready_check) {
		pal_worker_respond(msg, 200, "{\"status\":\"ok\"}");
		return;
	}
	if (!pal_daemon_is_ready(self->daemon)) {
		pal_worker_fail(msg, 503, "not_ready", NULL, "palaverd is not ready or is shutting down");
		return;
	}
	if (!pal_store_check(pal_daemon_get_store(self->daemon), &error)) {
		g_autofree gchar *m = g_strdup_printf("the store is not usable: %s", error->message);
		pal_worker_fail(msg, 503, "store_unavailable", NULL, m);
		return;
	}
	pal_worker_respond(msg, 200, "{\"status\":\"ready\"}");
}

static gboolean
pal_worker_check_webhook_key(PalEndpoint *endpoint, PalHttpExchange *msg)
{
	GStrv keys = pal_endpoint_get_webhook_keys(endpoint);
	const gchar *given;
	gboolean ok = FALSE;

	if (keys == NULL || keys[0] == NULL)
		return TRUE;
	given = soup_message_headers_get_one(pal_http_exchange_get_request_headers(msg),
					     "X-Webhook-Key");
	if (given == NULL)
		return FALSE;
	/* compare against every key, without stopping early */
	for (guint i = 0; keys[i] != NULL; i++)
		ok |= pal_secure_equal(keys[i], given);
	return ok;
}

/* a message waiting for its journal commit, its HTTP request paused meanwhile */
typedef struct {
	PalWorker *self;
	PalHttpExchange *msg;
	PalWorker *owner;
	PalEndpoint *endpoint;
	PalMessage *message;
	gchar *session_key;
	gsize size;
	gboolean legacy;   /* /new/v2.0/endpoint/…: the hosted product's success answer */
	PalMessageKind kind;
} PalAccept;

static void
pal_accept_free(PalAccept *a);

/* the message is journaled (@error NULL) or could not be: the answer, and on to its owner */
static void
pal_worker_journal_done(PalAccept *a, GError *error)
{
	g_autofree gchar *answer = NULL;

	if (error != NULL) {
		gboolean busy = g_error_matches(error, PAL_ERROR, PAL_ERROR_BUSY);

		if (!pal_http_exchange_is_gone(a->msg)) {
			g_autofree gchar *m = g_strdup_printf("the message could not be stored: %s", error->message);
			pal_worker_reject(a->self,
					  a->msg,
					  a->endpoint,
					  busy ? 429 : 503,
					  busy ? "overloaded" : "store_unavailable",
					  m);
		} else {
			pal_stats_rejected(pal_daemon_get_stats(a->self->daemon),
					   pal_endpoint_get_name(a->endpoint),
					   busy ? "overloaded" : "store_unavailable");
		}
	} else {
		answer = g_strdup_printf("{\"status\":\"accepted\",\"inputId\":\"%s\",\"traceId\":\"%s\"}",
					 pal_message_get_input_id(a->message),
					 pal_message_get_trace_id(a->message));
		/* journaled: it runs even if the client is gone, or at the next start if the owner
		 * has stopped, so the answer is 202 either way */
		pal_backlog_add(pal_daemon_get_backlog(a->self->daemon),
				pal_endpoint_get_name(a->endpoint),
				a->session_key,
				1);
		pal_stats_accepted(pal_daemon_get_stats(a->self->daemon), pal_endpoint_get_name(a->endpoint));
		if (!pal_worker_post_message(a->owner, a->endpoint, g_steal_pointer(&a->message), a->size))
			g_debug("message journaled during shutdown: it runs at the next start");
		if (!pal_http_exchange_is_gone(a->msg) && a->legacy)
			/* the hosted product's answers, word for word (sic) */
			pal_worker_respond(a->msg,
					   200,
					   a->kind == PAL_MESSAGE_KIND_NOTIFY
					       ? "\"Sucessfully sent message to user\""
					       : "\"Message was sent to AI for Flow processing\"");
		else if (!pal_http_exchange_is_gone(a->msg))
			pal_worker_respond(a->msg, 202, answer);
	}
	g_atomic_int_add(&a->self->in_journal, -1);
	pal_accept_free(a);
}

static void
pal_worker_journal_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GError) error = NULL;

	(void)pal_store_journal_append_finish(PAL_STORE(source), res, &error);
	pal_worker_journal_done(user_data, error);
}

/* Intake back-pressure. A request whose owner already has more than wait_above messages in its
 * pipeline or ready-to-send delivery queue waits, paused and not yet journaled, for at most
 * PAL_WORKER_WAIT_MAX_US (then it goes on as before: the queue limits still answer 429).
 * Under overload a closed-loop client then gets its 202 a little later instead of the
 * backlog (and every message's latency) growing until a queue limit is hit; outputs waiting
 * for a retry (a receiver down) do not count, so they never slow the intake down. */
#define PAL_WORKER_WAIT_MAX_US (50 * 1000)

typedef struct {
	PalAccept *a;
	PalStoreJournalEntry *entry;
	gint64 deadline; /* monotonic */
} PalWait;

static guint
pal_worker_get_pressure(PalWorker *owner)
{
	return pal_pipeline_get_queued(owner->pipeline) + pal_delivery_get_waiting(owner->delivery);
}

static void
pal_worker_journal_append(PalWorker *self, PalAccept *a, PalStoreJournalEntry *entry)
{
	g_atomic_int_inc(&self->in_journal);
	/* durability none: nothing survives the process, so a journal entry would only be a row
	 * in memory (kept an hour, growing with the load) and a round trip to the store thread
	 * before the 202 (DESIGN: acknowledged after the journal commit "except with none") */
	if (!self->journal) {
		pal_worker_journal_done(a, NULL);
		return;
	}
	pal_store_journal_append_async(pal_daemon_get_store(self->daemon), entry, NULL, pal_worker_journal_cb, a);
}

static void
pal_accept_free(PalAccept *a)
{
	pal_http_exchange_unref(a->msg);
	g_object_unref(a->endpoint);
	g_clear_object(&a->message);
	g_free(a->session_key);
	g_object_unref(a->self);
	g_free(a);
}

/* appends what may go now: all with @all (shutdown), else while the owner is below the
 * threshold or the wait is over; returns whether requests still wait */
static gboolean
pal_worker_release_waiting(PalWorker *self, gboolean all)
{
	gint64 now = g_get_monotonic_time();
	GQueue later = G_QUEUE_INIT;
	PalWait *w;

	while ((w = g_queue_pop_head(&self->waiting)) != NULL) {
		if (pal_http_exchange_is_gone(w->a->msg)) {
			/* the client went away while it waited: nothing was accepted */
			pal_accept_free(w->a);
		} else if (all || now >= w->deadline || pal_worker_get_pressure(w->a->owner) < self->wait_above) {
			pal_worker_journal_append(self, w->a, w->entry);
		} else {
			g_queue_push_tail(&later, w);
			continue;
		}
		pal_store_journal_entry_free(w->entry);
		g_free(w);
	}
	self->waiting = later;
	return !g_queue_is_empty(&self->waiting);
}

static gboolean
pal_worker_wait_cb(gpointer data)
{
	PalWorker *self = data;

	if (pal_worker_release_waiting(self, FALSE))
		return G_SOURCE_CONTINUE;
	g_clear_pointer(&self->wait_source, g_source_unref);
	return G_SOURCE_REMOVE;
}

/* takes @entry */
static void
pal_worker_journal_or_wait(PalWorker *self, PalAccept *a, PalStoreJournalEntry *entry)
{
	PalWait *w;

	if (self->wait_above == 0 ||
	    (g_queue_is_empty(&self->waiting) && pal_worker_get_pressure(a->owner) < self->wait_above)) {
		pal_worker_journal_append(self, a, entry);
		pal_store_journal_entry_free(entry);
		return;
	}
	w = g_new0(PalWait, 1);
	w->a = a;
	w->entry = entry;
	w->deadline = g_get_monotonic_time() + PAL_WORKER_WAIT_MAX_US;
	g_queue_push_tail(&self->waiting, w);
	if (self->wait_source == NULL) {
		self->wait_source = g_timeout_source_new(1);
		g_source_set_callback(self->wait_source, pal_worker_wait_cb, self, NULL);
		g_source_attach(self->wait_source, self->context);
	}
}

/* POST /{URLToken} (a user's message), /inject/{URLToken} and /notify/{URLToken}: the same
 * checks and the same journal, @kind tells the pipeline what to do with it */
/* the management API key of the legacy routes: X-API-Key or ?api_key=, one of the endpoint's
 * auth.apiKeys; an endpoint without keys takes no such request */
static gboolean
pal_worker_check_api_key(PalEndpoint *endpoint, PalHttpExchange *msg, GHashTable *query)
{
	GStrv keys = pal_endpoint_get_api_keys(endpoint);
	const gchar *given = soup_message_headers_get_one(pal_http_exchange_get_request_headers(msg), "X-API-Key");
	gboolean ok = FALSE;

	if (given == NULL && query != NULL)
		given = g_hash_table_lookup(query, "api_key");
	if (keys == NULL || keys[0] == NULL || given == NULL)
		return FALSE;
	for (guint i = 0; keys[i] != NULL; i++)
		ok |= pal_secure_equal(keys[i], given);
	return ok;
}

static void
pal_worker_handle_message(PalWorker *self,
			  PalHttpExchange *msg,
			  const gchar *token,
			  PalMessageKind kind,
			  gboolean legacy,
			  GHashTable *query)
{
	g_autoptr(PalEndpointSet) endpoints = pal_daemon_dup_endpoints(self->daemon);
	PalEndpoint *endpoint;
	g_autoptr(GBytes) body = NULL;
	PalInboundError err = {0};
	g_autoptr(PalMessage) message = NULL;
	PalWorker *owner;
	g_autofree gchar *session_key = NULL;
	const gchar *code = NULL;
	const gchar *refusal = NULL;

	if (!pal_daemon_is_ready(self->daemon)) {
		pal_worker_reject(self, msg, NULL, 503, "shutting_down", "palaverd is starting or shutting down");
		return;
	}
	endpoint = pal_endpoint_set_lookup_token(endpoints, token);
	if (endpoint == NULL) {
		pal_worker_reject(self, msg, NULL, 404, "unknown_endpoint", "no endpoint has this URL");
		return;
	}
	if (!g_str_equal(pal_http_exchange_get_method(msg), "POST")) {
		pal_worker_reject(self, msg, endpoint, 405, "method_not_allowed", "use POST");
		return;
	}
	if (!pal_endpoint_get_active(endpoint)) {
		pal_worker_reject(self, msg, endpoint, 403, "endpoint_disabled", "this endpoint is disabled");
		return;
	}
	if (legacy && !pal_worker_check_api_key(endpoint, msg, query)) {
		pal_worker_reject(self, msg, endpoint, 401, "unauthorized",
				  "missing or wrong API key (X-API-Key header or api_key parameter, one of the "
				  "endpoint's auth.apiKeys)");
		return;
	}
	if (!legacy && !pal_worker_check_webhook_key(endpoint, msg)) {
		pal_worker_reject(self, msg, endpoint, 401, "unauthorized", "missing or wrong X-Webhook-Key header");
		return;
	}
	if (!pal_inbound_check_content_type(
		soup_message_headers_get_one(pal_http_exchange_get_request_headers(msg), "Content-Type"),
		&err)) {
		pal_worker_reject_inbound(self, msg, endpoint, &err);
		return;
	}
	body = pal_worker_request_body(msg);
	if (body == NULL) {
		g_autofree gchar *m = g_strdup_printf("request body exceeds the limit of %" G_GSIZE_FORMAT " bytes",
						      self->max_body);
		pal_worker_reject(self, msg, endpoint, 413, "payload_too_large", m);
		return;
	}
	message = pal_inbound_parse(kind,
				    g_bytes_get_data(body, NULL),
				    g_bytes_get_size(body),
				    self->max_body,
				    self->max_depth,
				    &err);
	if (message == NULL) {
		pal_worker_reject_inbound(self, msg, endpoint, &err);
		return;
	}
	/* built once per request: it picks the owner, the backlog counters, and travels along */
	session_key = pal_pipeline_session_key(pal_endpoint_get_name(endpoint),
					       pal_message_get_user_id(message),
					       pal_message_get_session_id(message));
	/* bounded queues: past a limit the client retries later instead of memory growing */
	owner = pal_daemon_admit(self->daemon, endpoint, session_key, g_bytes_get_size(body), &code, &refusal);
	if (owner == NULL) {
		pal_worker_reject(self, msg, endpoint, 429, code, refusal);
		return;
	}
	/* journal before acknowledgement: the 202 goes out once the message is committed */
	{
		g_autoptr(GBytes) raw = g_bytes_ref(body);
		g_autoptr(PalStoreJournalEntry) entry =
		    pal_store_journal_entry_new(pal_message_get_input_id(message),
						pal_endpoint_get_name(endpoint),
						pal_message_get_user_id(message),
						pal_message_get_session_id(message),
						kind,
						raw,
						pal_message_get_received_at(message));
		PalAccept *a = g_new0(PalAccept, 1);

		a->self = g_object_ref(self);
		a->msg = pal_http_exchange_ref(msg);
		a->owner = owner;
		a->endpoint = g_object_ref(endpoint);
		a->message = g_steal_pointer(&message);
		a->session_key = g_steal_pointer(&session_key);
		a->size = g_bytes_get_size(body);
		a->legacy = legacy;
		a->kind = kind;
		pal_worker_journal_or_wait(self, a, g_steal_pointer(&entry));
	}
}

/* the hosted product's management routes (DESIGN.md §1.2): the URL token is in the body, the
 * API key in X-API-Key or ?api_key= */
static void
pal_worker_handle_legacy(PalWorker *self, PalHttpExchange *msg, GHashTable *query, PalMessageKind kind)
{
	g_autoptr(GBytes) body = NULL;
	g_autoptr(JsonNode) root = NULL;
	JsonNode *token = NULL;

	if (!g_str_equal(pal_http_exchange_get_method(msg), "POST")) {
		pal_worker_reject(self, msg, NULL, 405, "method_not_allowed", "use POST");
		return;
	}
	body = pal_worker_request_body(msg);
	if (body == NULL) {
		g_autofree gchar *m = g_strdup_printf("request body exceeds the limit of %" G_GSIZE_FORMAT " bytes",
						      self->max_body);
		pal_worker_reject(self, msg, NULL, 413, "payload_too_large", m);
		return;
	}
	/* the same bounded parse as the message itself; its errors are reported by that */
	root = pal_json_parse_bounded(g_bytes_get_data(body, NULL),
				      g_bytes_get_size(body),
				      self->max_body,
				      self->max_depth,
				      "request body",
				      NULL);
	if (root != NULL && JSON_NODE_HOLDS_OBJECT(root))
		token = json_object_get_member(json_node_get_object(root), "URLToken");
	if (token == NULL || !JSON_NODE_HOLDS_VALUE(token) || json_node_get_value_type(token) != G_TYPE_STRING) {
		PalInboundError err = {0};
		pal_inbound_error_set(&err, 400, "missing_field", "URLToken", "URLToken is required: expected a string");
		pal_worker_reject_inbound(self, msg, NULL, &err);
		return;
	}
	pal_worker_handle_message(self, msg, json_node_get_string(token), kind, TRUE, query);
}

static void
pal_worker_handler(PalHttpExchange *msg, gpointer user_data)
{
	PalWorker *self = user_data;
	const gchar *path = pal_http_exchange_get_path(msg);
	GHashTable *query = pal_http_exchange_get_query(msg);
	const gchar *problem = NULL;
	guint error_status = pal_http_exchange_get_error(msg, &problem);

	/* a request the server could not take as HTTP/1 */
	if (error_status != 0) {
		pal_worker_reject(self,
				  msg,
				  NULL,
				  error_status,
				  error_status == 431   ? "headers_too_large"
				  : error_status == 501 ? "not_implemented"
				  : error_status == 505 ? "http_version_not_supported"
							: "bad_request",
				  problem);
		return;
	}
	if (g_strcmp0(path, "/healthz") == 0) {
		pal_worker_handle_health(self, msg, FALSE);
		return;
	}
	if (g_strcmp0(path, "/readyz") == 0) {
		pal_worker_handle_health(self, msg, TRUE);
		return;
	}
	if (path[0] == '/' && path[1] != '\0' && strchr(path + 1, '/') == NULL) {
		pal_worker_handle_message(self, msg, path + 1, PAL_MESSAGE_KIND_USER, FALSE, NULL);
		return;
	}
	/* DESIGN.md §1.2: inject runs the flow as if the user wrote, notify goes straight to the
	 * webhook; both for the endpoint of the URL token, with the same body */
	if (g_str_has_prefix(path, "/inject/") && path[8] != '\0' && strchr(path + 8, '/') == NULL) {
		pal_worker_handle_message(self, msg, path + 8, PAL_MESSAGE_KIND_INJECT, FALSE, NULL);
		return;
	}
	if (g_str_has_prefix(path, "/notify/") && path[8] != '\0' && strchr(path + 8, '/') == NULL) {
		pal_worker_handle_message(self, msg, path + 8, PAL_MESSAGE_KIND_NOTIFY, FALSE, NULL);
		return;
	}
	if (g_strcmp0(path, "/new/v2.0/endpoint/inject") == 0) {
		pal_worker_handle_legacy(self, msg, query, PAL_MESSAGE_KIND_INJECT);
		return;
	}
	if (g_strcmp0(path, "/new/v2.0/endpoint/notify") == 0) {
		pal_worker_handle_legacy(self, msg, query, PAL_MESSAGE_KIND_NOTIFY);
		return;
	}
	pal_worker_reject(self, msg, NULL, 404, "not_found", "no such route");
}

/* thread */

static gboolean
pal_worker_setup(PalWorker *self, GError **error)
{
	PalConfig *config = pal_daemon_get_config(self->daemon);

	self->max_body = pal_config_get_max_body_size(config);
	self->journal = pal_config_get_durability(config) != PAL_DURABILITY_NONE;
	self->max_depth = pal_config_get_max_depth(config);
	/* a few rounds of the delivery connections: enough to keep them busy */
	self->wait_above = MAX(64u, 2 * pal_config_get_delivery_max_conns_per_host(config));
	/* everything below attaches to the thread-default context pushed by the caller
	 * (PLATFORM-NOTES 1 and 11) */
	self->server = pal_http_server_new(pal_worker_handler,
					   self,
					   pal_config_get_header_timeout(config),
					   pal_config_get_idle_timeout(config),
					   pal_config_get_max_connections(config),
					   self->max_body);
	self->delivery = pal_delivery_new(pal_config_get_delivery_max_conns(config),
					  pal_config_get_delivery_max_conns_per_host(config),
					  pal_daemon_get_store(self->daemon),
					  pal_daemon_get_host_pauses(self->daemon));
	self->pipeline = pal_pipeline_new(pal_daemon_get_registry(self->daemon),
					  self->delivery,
					  pal_daemon_get_store(self->daemon),
					  pal_config_get_request_timeout(config));
	pal_delivery_set_backlog(self->delivery, pal_daemon_get_backlog(self->daemon));
	pal_delivery_set_stats(self->delivery, pal_daemon_get_stats(self->daemon));
	pal_pipeline_set_stats(self->pipeline, pal_daemon_get_stats(self->daemon));
	pal_pipeline_set_backlog(self->pipeline, pal_daemon_get_backlog(self->daemon));
	pal_pipeline_set_profiles(self->pipeline, pal_daemon_get_profiles(self->daemon));
	pal_pipeline_set_journaled(self->pipeline, self->journal);
	for (guint i = 0; self->listen[i] != NULL; i++) {
		g_autofree gchar *host = NULL;
		g_autofree gchar *addr = NULL;
		guint16 port = 0;

		if (!pal_config_parse_listen_address(self->listen[i], &host, &port, error))
			return FALSE;
		/* the first worker resolves port 0; the others bind the same port */
		if (port == 0 && self->ports[i] != 0)
			port = self->ports[i];
		addr = strchr(host, ':') != NULL ? g_strdup_printf("[%s]:%u", host, port)
						 : g_strdup_printf("%s:%u", host, port);
		if (!pal_http_server_add_address(self->server, addr, &self->ports[i], error))
			return FALSE;
	}
	return TRUE;
}

static gpointer
pal_worker_thread(gpointer data)
{
	PalWorker *self = data;
	gboolean ok;

	g_main_context_push_thread_default(self->context);
	ok = pal_worker_setup(self, &self->start_error);
	g_mutex_lock(&self->lock);
	self->start_done = TRUE;
	g_cond_signal(&self->start_cond);
	g_mutex_unlock(&self->lock);
	if (ok)
		g_main_loop_run(self->loop);

	/* tear down in this thread: the objects belong to its context */
	g_mutex_lock(&self->lock);
	self->stopped = TRUE;
	g_mutex_unlock(&self->lock);
	if (self->server != NULL)
		pal_http_server_stop_accepting(self->server);
	/* requests held back by the intake back-pressure are journaled and answered now */
	pal_worker_release_waiting(self, TRUE);
	if (self->wait_source != NULL) {
		g_source_destroy(self->wait_source);
		g_clear_pointer(&self->wait_source, g_source_unref);
	}
	/* messages being journaled get their answer before their connections go (bounded) */
	{
		gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
		while (g_get_monotonic_time() < deadline && g_atomic_int_get(&self->in_journal) > 0)
			g_main_context_iteration(self->context, TRUE);
	}
	if (self->server != NULL)
		pal_http_server_close_all(self->server);
	if (self->pipeline != NULL)
		pal_pipeline_shutdown(self->pipeline);
	if (self->delivery != NULL)
		pal_delivery_shutdown(self->delivery);
	/* cancelled flows and requests still call back: wait for them (bounded) before the
	 * objects they point to go */
	{
		gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
		while (g_get_monotonic_time() < deadline &&
		       ((self->pipeline != NULL && pal_pipeline_get_running(self->pipeline) > 0) ||
			(self->delivery != NULL && pal_delivery_get_in_flight(self->delivery) > 0)))
			g_main_context_iteration(self->context, TRUE);
	}
	if (self->delivery != NULL)
		pal_delivery_close_session(self->delivery);
	while (g_main_context_iteration(self->context, FALSE))
		;
	g_clear_object(&self->server);
	/* pipeline and delivery stay until finalize: other threads read their counters */
	g_main_context_pop_thread_default(self->context);
	return NULL;
}

gboolean
pal_worker_start(PalWorker *self, GStrv listen, guint16 *ports, GError **error)
{
	g_autofree gchar *name = g_strdup_printf("pal-worker-%u", self->index);

	self->listen = g_strdupv(listen);
	self->ports = ports;
	self->thread = g_thread_new(name, pal_worker_thread, self);
	g_mutex_lock(&self->lock);
	while (!self->start_done)
		g_cond_wait(&self->start_cond, &self->lock);
	g_mutex_unlock(&self->lock);
	self->ports = NULL;
	if (self->start_error != NULL) {
		g_propagate_error(error, g_steal_pointer(&self->start_error));
		g_thread_join(g_steal_pointer(&self->thread));
		return FALSE;
	}
	return TRUE;
}

guint
pal_worker_get_backlog(PalWorker *self)
{
	/* read from other threads: the counters are atomic, the objects live until finalize */
	return (guint)g_atomic_int_get(&self->in_journal) + (guint)g_atomic_int_get(&self->in_inbox) +
	       pal_pipeline_get_queued(self->pipeline) + pal_delivery_get_pending(self->delivery);
}

guint64
pal_worker_get_backlog_bytes(PalWorker *self)
{
	return (guint64)(gsize)g_atomic_pointer_get(&self->in_inbox_bytes) +
	       pal_pipeline_get_queued_bytes(self->pipeline) +
	       pal_delivery_get_pending_bytes(self->delivery);
}

void
pal_worker_stop(PalWorker *self)
{
	if (self->thread == NULL)
		return;
	pal_worker_post_kind(self, PAL_WORKER_JOB_QUIT);
	g_thread_join(g_steal_pointer(&self->thread));
}

static void
pal_worker_finalize(GObject *object)
{
	PalWorker *self = PAL_WORKER(object);

	pal_worker_stop(self);
	g_clear_object(&self->pipeline);
	g_clear_object(&self->delivery);
	g_source_destroy(self->inbox_source);
	g_source_unref(self->inbox_source);
	g_queue_clear_full(&self->inbox, (GDestroyNotify)pal_worker_job_free);
	g_main_loop_unref(self->loop);
	g_main_context_unref(self->context);
	g_strfreev(self->listen);
	g_clear_error(&self->start_error);
	g_mutex_clear(&self->lock);
	g_cond_clear(&self->start_cond);
	G_OBJECT_CLASS(pal_worker_parent_class)->finalize(object);
}

static void
pal_worker_class_init(PalWorkerClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = pal_worker_finalize;
}

static void
pal_worker_init(PalWorker *self)
{
	g_mutex_init(&self->lock);
	g_cond_init(&self->start_cond);
	g_queue_init(&self->inbox);
	self->context = g_main_context_new();
	self->loop = g_main_loop_new(self->context, FALSE);
	self->inbox_source = g_source_new(&pal_worker_inbox_funcs, sizeof(PalWorkerInboxSource));
	((PalWorkerInboxSource *)self->inbox_source)->self = self;
	g_source_set_callback(self->inbox_source, NULL, self, NULL);
	g_source_attach(self->inbox_source, self->context);
}

PalWorker *
pal_worker_new(PalDaemon *daemon, guint index)
{
	PalWorker *self = g_object_new(PAL_TYPE_WORKER, NULL);

	self->daemon = daemon;
	self->index = index;
	return self;
}
