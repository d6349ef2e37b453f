/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pal-test-util.h"

#define PAL_TEST_DAEMON_START_TIMEOUT_MS 10000
#define PAL_TEST_KILL_WAIT_MS		 5000
#define PAL_TEST_STDOUT_DRAIN_MS	 2000
#define PAL_TEST_HTTP_TIMEOUT_SECS	 30

/* ======================================================================================== */
/* PalTestReceiver */

/* "http://HOST:PORT/" + "/path" or "path" → "http://HOST:PORT/path" */
static gchar *
pal_test_join_url(const gchar *base, const gchar *path)
{
	if (path == NULL)
		path = "";
	while (path[0] == '/')
		path++;
	return g_strconcat(base, path, NULL);
}

/* ---- a thread with its own GMainContext, for the servers below ---- */

/* runs in the thread, with its context pushed: creates the server there, so that it belongs to
 * that thread (PLATFORM-NOTES 1) */
typedef gboolean (*PalTestThreadStartFunc)(gpointer data, GError **error);
/* runs in the thread once its loop has ended: stops the server and its sources there */
typedef void (*PalTestThreadStopFunc)(gpointer data);

typedef struct {
	GMutex mutex; /* also for the owner's data that both threads touch */
	GCond cond;
	GThread *thread;
	GMainContext *context;
	GMainLoop *loop;
	const gchar *name;
	PalTestThreadStartFunc start;
	PalTestThreadStopFunc stop;
	gpointer data;
	gboolean ready;
	gboolean started;
	GError *error;
} PalTestThread;

static void
pal_test_thread_init(PalTestThread *t,
		     const gchar *name,
		     PalTestThreadStartFunc start,
		     PalTestThreadStopFunc stop,
		     gpointer data)
{
	g_mutex_init(&t->mutex);
	g_cond_init(&t->cond);
	t->context = g_main_context_new();
	t->loop = g_main_loop_new(t->context, FALSE);
	t->name = name;
	t->start = start;
	t->stop = stop;
	t->data = data;
}

static gpointer
pal_test_thread_run(gpointer user_data)
{
	PalTestThread *t = user_data;
	g_autoptr(GError) error = NULL;
	gboolean ok;

	g_main_context_push_thread_default(t->context);
	ok = t->start(t->data, &error);
	g_mutex_lock(&t->mutex);
	t->started = ok;
	t->error = g_steal_pointer(&error);
	t->ready = TRUE;
	g_cond_broadcast(&t->cond);
	g_mutex_unlock(&t->mutex);

	if (ok) {
		g_main_loop_run(t->loop);
		t->stop(t->data);
	}
	/* what the server left in its context ends here, before the context goes */
	while (g_main_context_iteration(t->context, FALSE))
		;
	g_main_context_pop_thread_default(t->context);
	return NULL;
}

/* returns once @start has run in the new thread */
static gboolean
pal_test_thread_start(PalTestThread *t, GError **error)
{
	g_return_val_if_fail(t->thread == NULL, FALSE);

	t->ready = FALSE;
	t->thread = g_thread_new(t->name, pal_test_thread_run, t);
	g_mutex_lock(&t->mutex);
	while (!t->ready)
		g_cond_wait(&t->cond, &t->mutex);
	g_mutex_unlock(&t->mutex);
	if (!t->started) {
		g_thread_join(g_steal_pointer(&t->thread));
		g_propagate_error(error, g_steal_pointer(&t->error));
		return FALSE;
	}
	return TRUE;
}

static gboolean
pal_test_thread_quit_cb(gpointer user_data)
{
	PalTestThread *t = user_data;

	g_main_loop_quit(t->loop);
	return G_SOURCE_REMOVE;
}

/* @func(@data) in the thread, soon */
static void
pal_test_thread_invoke(PalTestThread *t, GSourceFunc func, gpointer data)
{
	GSource *source = g_idle_source_new();

	g_source_set_callback(source, func, data, NULL);
	g_source_attach(source, t->context);
	g_source_unref(source);
}

/* stops the loop (with @stop) and joins the thread; idempotent */
static void
pal_test_thread_stop(PalTestThread *t)
{
	if (t->thread == NULL)
		return;
	/* a source, not g_main_loop_quit() now: the loop may not be running yet */
	pal_test_thread_invoke(t, pal_test_thread_quit_cb, t);
	g_thread_join(g_steal_pointer(&t->thread));
}

static void
pal_test_thread_clear(PalTestThread *t)
{
	pal_test_thread_stop(t);
	g_clear_error(&t->error);
	g_main_loop_unref(t->loop);
	g_main_context_unref(t->context);
	g_mutex_clear(&t->mutex);
	g_cond_clear(&t->cond);
}

/* ---- PalTestReceiver ---- */

struct _PalTestReceiver {
	PalTestThread thread;
	PalReceiver *receiver; /* from outside its thread: only the thread-safe methods */
	gchar *base_url;
	guint port;
};

static gboolean
pal_test_receiver_start_cb(gpointer data, GError **error)
{
	PalTestReceiver *self = data;
	g_autoptr(PalReceiver) receiver = pal_receiver_new();

	if (!pal_receiver_listen(receiver, "127.0.0.1:0", error))
		return FALSE;
	/* read by the test thread once the start has returned */
	self->receiver = g_steal_pointer(&receiver);
	self->port = pal_receiver_get_port(self->receiver);
	self->base_url = g_strdup_printf("http://127.0.0.1:%u/", self->port);
	return TRUE;
}

static void
pal_test_receiver_stop_cb(gpointer data)
{
	PalTestReceiver *self = data;

	pal_receiver_stop(self->receiver);
}

/**
 * pal_test_receiver_new:
 *
 * Returns: (transfer full): a receiver, not started yet; see pal_test_receiver_start()
 */
PalTestReceiver *
pal_test_receiver_new(void)
{
	PalTestReceiver *self = g_new0(PalTestReceiver, 1);

	pal_test_thread_init(&self->thread,
			     "pal-test-receiver",
			     pal_test_receiver_start_cb,
			     pal_test_receiver_stop_cb,
			     self);
	return self;
}

/**
 * pal_test_receiver_start:
 *
 * Starts a thread with its own GMainContext that runs a #PalReceiver on 127.0.0.1:0, and
 * returns once it listens.
 */
gboolean
pal_test_receiver_start(PalTestReceiver *self, GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	return pal_test_thread_start(&self->thread, error);
}

/**
 * pal_test_receiver_new_started:
 *
 * Returns: (transfer full): a started receiver; fails the test if it cannot listen
 */
PalTestReceiver *
pal_test_receiver_new_started(void)
{
	PalTestReceiver *self = pal_test_receiver_new();
	g_autoptr(GError) error = NULL;

	pal_test_receiver_start(self, &error);
	g_assert_no_error(error);
	return self;
}

/**
 * pal_test_receiver_stop:
 *
 * Stops the receiver and joins its thread. The recorded requests stay readable. Idempotent.
 */
void
pal_test_receiver_stop(PalTestReceiver *self)
{
	g_return_if_fail(self != NULL);
	pal_test_thread_stop(&self->thread);
}

void
pal_test_receiver_free(PalTestReceiver *self)
{
	if (self == NULL)
		return;
	pal_test_thread_clear(&self->thread);
	g_clear_object(&self->receiver);
	g_free(self->base_url);
	g_free(self);
}

/**
 * pal_test_receiver_get_receiver:
 *
 * Returns: (transfer none): the receiver; from the test thread call only its thread-safe
 *   methods (setters, counts, recorded requests, waiting)
 */
PalReceiver *
pal_test_receiver_get_receiver(PalTestReceiver *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(self->receiver != NULL, NULL);
	return self->receiver;
}

guint
pal_test_receiver_get_port(PalTestReceiver *self)
{
	g_return_val_if_fail(self != NULL, 0);
	return self->port;
}

/**
 * pal_test_receiver_get_base_url:
 *
 * Returns: `http://127.0.0.1:PORT/`, with the trailing slash
 */
const gchar *
pal_test_receiver_get_base_url(PalTestReceiver *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(self->base_url != NULL, NULL);
	return self->base_url;
}

/**
 * pal_test_receiver_get_url:
 * @path: (nullable): `/hook` or `hook`, or %NULL for `/`
 *
 * Returns: (transfer full): the base URL plus @path, with one slash between
 */
gchar *
pal_test_receiver_get_url(PalTestReceiver *self, const gchar *path)
{
	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(self->base_url != NULL, NULL);
	return pal_test_join_url(self->base_url, path);
}

/**
 * pal_test_receiver_wait_count:
 *
 * Returns: %TRUE once at least @count deliveries arrived, %FALSE after @timeout_ms
 */
gboolean
pal_test_receiver_wait_count(PalTestReceiver *self, guint count, guint timeout_ms)
{
	return pal_receiver_wait_count(pal_test_receiver_get_receiver(self), count, timeout_ms);
}

guint
pal_test_receiver_get_count(PalTestReceiver *self)
{
	return pal_receiver_get_count(pal_test_receiver_get_receiver(self));
}

/**
 * pal_test_receiver_dup_requests:
 *
 * Returns: (transfer container) (element-type PalReceivedRequest): the recorded deliveries
 */
GPtrArray *
pal_test_receiver_dup_requests(PalTestReceiver *self)
{
	return pal_receiver_dup_requests(pal_test_receiver_get_receiver(self));
}

/**
 * pal_test_receiver_dup_request:
 * @index: 0-based position among the recorded deliveries
 *
 * Returns: (transfer full) (nullable): that delivery, or %NULL if there are fewer
 */
PalReceivedRequest *
pal_test_receiver_dup_request(PalTestReceiver *self, guint index)
{
	g_autoptr(GPtrArray) requests = pal_test_receiver_dup_requests(self);

	if (index >= requests->len)
		return NULL;
	return pal_received_request_ref(g_ptr_array_index(requests, index));
}

void
pal_test_receiver_clear_requests(PalTestReceiver *self)
{
	pal_receiver_clear_requests(pal_test_receiver_get_receiver(self));
}

void
pal_test_receiver_set_status(PalTestReceiver *self, guint status)
{
	pal_receiver_set_status(pal_test_receiver_get_receiver(self), status);
}

/**
 * pal_test_receiver_set_status_sequence:
 *
 * Answers the next deliveries with @statuses in turn (e.g. {500, 500}), then the default.
 */
void
pal_test_receiver_set_status_sequence(PalTestReceiver *self,
				      const guint *statuses,
				      gsize n_statuses)
{
	pal_receiver_set_status_sequence(pal_test_receiver_get_receiver(self),
					 statuses,
					 n_statuses);
}

/**
 * pal_test_receiver_set_responder:
 *
 * Sets a #PalReceiverResponder; it runs in the receiver's thread.
 */
void
pal_test_receiver_set_responder(PalTestReceiver *self,
				PalReceiverResponder func,
				gpointer user_data,
				GDestroyNotify destroy)
{
	pal_receiver_set_responder(pal_test_receiver_get_receiver(self), func, user_data, destroy);
}

void
pal_test_receiver_set_retry_after(PalTestReceiver *self, guint seconds)
{
	pal_receiver_set_retry_after(pal_test_receiver_get_receiver(self), seconds);
}

void
pal_test_receiver_set_max_body_size(PalTestReceiver *self, gsize max_body_size)
{
	pal_receiver_set_max_body_size(pal_test_receiver_get_receiver(self), max_body_size);
}

typedef struct {
	PalTestReceiver *self;
	guint result;
	gboolean done;
} PalTestReceiverQuery;

static gboolean
pal_test_receiver_n_connections_cb(gpointer user_data)
{
	PalTestReceiverQuery *query = user_data;
	PalTestThread *t = &query->self->thread;
	guint n = pal_receiver_get_n_connections(query->self->receiver);

	g_mutex_lock(&t->mutex);
	query->result = n;
	query->done = TRUE;
	g_cond_broadcast(&t->cond);
	g_mutex_unlock(&t->mutex);
	return G_SOURCE_REMOVE;
}

/**
 * pal_test_receiver_get_n_connections:
 *
 * Returns: how many client connections the running receiver holds (asked in its thread)
 */
guint
pal_test_receiver_get_n_connections(PalTestReceiver *self)
{
	PalTestReceiverQuery query = {self, 0, FALSE};

	g_return_val_if_fail(self != NULL, 0);
	g_return_val_if_fail(self->thread.thread != NULL, 0);
	pal_test_thread_invoke(&self->thread, pal_test_receiver_n_connections_cb, &query);
	g_mutex_lock(&self->thread.mutex);
	while (!query.done)
		g_cond_wait(&self->thread.cond, &self->thread.mutex);
	g_mutex_unlock(&self->thread.mutex);
	return query.result;
}

/* ======================================================================================== */
/* PalTestService */

struct _PalTestService {
	PalTestThread thread; /* its mutex guards what the test thread reads */
	PalTestServiceResponder responder;
	gpointer responder_data;
	guint port; /* before the start: the one asked for, 0 for any */
	gchar *base_url;
	/* the service thread's */
	SoupServer *server;
	GList *exchanges; /* PalTestServiceExchange*: requests not finished yet */
	/* guarded by thread.mutex */
	guint default_status;
	gchar *default_body;
	guint default_delay_ms;
	GPtrArray *requests; /* PalTestServiceRequest* */
	guint in_flight;
	guint max_in_flight;
	guint n_answered;
	gint64 last_answered;
	guint n_disconnects;
};

/* one request until libsoup is done with it; the service thread's */
typedef struct {
	PalTestService *service;
	SoupServerMessage *msg;
	PalTestServiceAnswer answer;
	gsize body_sent; /* chunked: the bytes handed to libsoup so far */
	gboolean answered;
	GSource *timer;
	GSource *watch; /* the client's socket, while the answer waits */
} PalTestServiceExchange;

static void
pal_test_service_request_free(PalTestServiceRequest *request)
{
	g_free(request->method);
	g_free(request->path);
	g_free(request->query);
	g_hash_table_unref(request->headers);
	g_free(request->body);
	g_clear_pointer(&request->json, json_node_unref);
	g_free(request);
}

const gchar *
pal_test_service_request_get_header(const PalTestServiceRequest *request, const gchar *name)
{
	g_autofree gchar *key = g_ascii_strdown(name, -1);

	return g_hash_table_lookup(request->headers, key);
}

JsonObject *
pal_test_service_request_get_object(const PalTestServiceRequest *request)
{
	if (request->json == NULL || !JSON_NODE_HOLDS_OBJECT(request->json))
		return NULL;
	return json_node_get_object(request->json);
}

void
pal_test_service_answer_set(PalTestServiceAnswer *answer, guint status, const gchar *body)
{
	answer->status = status;
	pal_test_service_answer_take_body(answer, g_strdup(body));
}

void
pal_test_service_answer_take_body(PalTestServiceAnswer *answer, gchar *body)
{
	g_free(answer->body);
	answer->body = body;
}

static void
pal_test_service_collect_header(const char *name, const char *value, gpointer user_data)
{
	GHashTable *headers = user_data;
	gchar *key = g_ascii_strdown(name, -1);
	const gchar *before = g_hash_table_lookup(headers, key);

	g_hash_table_replace(headers,
			     key,
			     before != NULL ? g_strdup_printf("%s, %s", before, value)
					    : g_strdup(value));
}

static PalTestServiceRequest *
pal_test_service_request_new(SoupServerMessage *msg, const char *path)
{
	PalTestServiceRequest *request = g_new0(PalTestServiceRequest, 1);
	g_autoptr(GBytes) body =
	    soup_message_body_flatten(soup_server_message_get_request_body(msg));
	const gchar *query = g_uri_get_query(soup_server_message_get_uri(msg));

	request->arrival = g_get_monotonic_time();
	request->method = g_strdup(soup_server_message_get_method(msg));
	request->path = g_strdup(path);
	request->query = g_strdup(query);
	request->headers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	soup_message_headers_foreach(soup_server_message_get_request_headers(msg),
				     pal_test_service_collect_header,
				     request->headers);
	request->body = g_strndup(g_bytes_get_data(body, NULL), g_bytes_get_size(body));
	request->body_len = g_bytes_get_size(body);
	if (request->body_len > 0)
		request->json = json_from_string(request->body, NULL);
	return request;
}

/* one more of @counter, for the waiting test thread */
static void
pal_test_service_count(PalTestService *self, guint *counter)
{
	g_mutex_lock(&self->thread.mutex);
	(*counter)++;
	if (counter == &self->n_answered)
		self->last_answered = g_get_monotonic_time();
	g_cond_broadcast(&self->thread.cond);
	g_mutex_unlock(&self->thread.mutex);
}

/* destroys *@source (it is never dispatched again) and drops it */
static void
pal_test_source_clear(GSource **source)
{
	if (*source != NULL) {
		g_source_destroy(*source);
		g_clear_pointer(source, g_source_unref);
	}
}

static void
pal_test_service_exchange_clear_sources(PalTestServiceExchange *ex)
{
	pal_test_source_clear(&ex->timer);
	pal_test_source_clear(&ex->watch);
}

static void
pal_test_service_exchange_free(PalTestServiceExchange *ex)
{
	pal_test_service_exchange_clear_sources(ex);
	g_signal_handlers_disconnect_by_data(ex->msg, ex);
	g_object_unref(ex->msg);
	g_free(ex->answer.body);
	soup_message_headers_unref(ex->answer.headers);
	g_free(ex);
}

static void
pal_test_service_finished_cb(SoupServerMessage *msg, gpointer user_data)
{
	PalTestServiceExchange *ex = user_data;
	PalTestService *self = ex->service;

	self->exchanges = g_list_remove(self->exchanges, ex);
	g_mutex_lock(&self->thread.mutex);
	self->in_flight--;
	g_cond_broadcast(&self->thread.cond);
	g_mutex_unlock(&self->thread.mutex);
	pal_test_service_exchange_free(ex);
}

/* the client closed the connection while its answer waited: libsoup notices only when it
 * writes again (PLATFORM-NOTES 7), so let it write what there is and end the exchange */
static gboolean
pal_test_service_gone_cb(GSocket *socket, GIOCondition condition, gpointer user_data)
{
	PalTestServiceExchange *ex = user_data;

	pal_test_service_exchange_clear_sources(ex);
	pal_test_service_count(ex->service, &ex->service->n_disconnects);
	if (ex->answered)
		soup_message_body_complete(soup_server_message_get_response_body(ex->msg));
	else
		soup_server_message_set_status(ex->msg, SOUP_STATUS_SERVICE_UNAVAILABLE, NULL);
	soup_server_message_unpause(ex->msg);
	return G_SOURCE_REMOVE;
}

/* @func after @ms, unless the client goes away before */
static void
pal_test_service_exchange_wait(PalTestServiceExchange *ex, guint ms, GSourceFunc func)
{
	GMainContext *context = ex->service->thread.context;
	/* after its request the client sends nothing: readable means it went away */
	GSocket *socket = soup_server_message_get_socket(ex->msg);

	ex->timer = g_timeout_source_new(ms);
	g_source_set_callback(ex->timer, func, ex, NULL);
	g_source_attach(ex->timer, context);
	if (socket != NULL) {
		ex->watch = g_socket_create_source(socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
		g_source_set_callback(ex->watch, G_SOURCE_FUNC(pal_test_service_gone_cb), ex, NULL);
		g_source_attach(ex->watch, context);
	}
}

static gsize
pal_test_service_exchange_body_len(PalTestServiceExchange *ex)
{
	return ex->answer.body != NULL ? strlen(ex->answer.body) : 0;
}

/* chunked: hands libsoup the answer's body up to @end, and the end of the body with it */
static void
pal_test_service_exchange_send_body(PalTestServiceExchange *ex, gsize end)
{
	SoupMessageBody *body = soup_server_message_get_response_body(ex->msg);

	if (end > ex->body_sent)
		soup_message_body_append(body,
					 SOUP_MEMORY_COPY,
					 ex->answer.body + ex->body_sent,
					 end - ex->body_sent);
	ex->body_sent = end;
	if (end == pal_test_service_exchange_body_len(ex))
		soup_message_body_complete(body);
}

static gboolean
pal_test_service_stall_cb(gpointer user_data)
{
	PalTestServiceExchange *ex = user_data;

	pal_test_service_exchange_clear_sources(ex);
	pal_test_service_exchange_send_body(ex, pal_test_service_exchange_body_len(ex));
	soup_server_message_unpause(ex->msg);
	return G_SOURCE_REMOVE;
}

static void
pal_test_service_copy_header(const char *name, const char *value, gpointer user_data)
{
	soup_message_headers_append(user_data, name, value);
}

/* the status line, headers and (the first part of) the body go to libsoup */
static void
pal_test_service_exchange_answer(PalTestServiceExchange *ex)
{
	PalTestServiceAnswer *a = &ex->answer;
	SoupMessageHeaders *headers = soup_server_message_get_response_headers(ex->msg);
	gsize len = pal_test_service_exchange_body_len(ex);

	ex->answered = TRUE;
	pal_test_service_count(ex->service, &ex->service->n_answered);
	soup_server_message_set_status(ex->msg, a->status, NULL);
	soup_message_headers_foreach(a->headers, pal_test_service_copy_header, headers);
	/* every answer ends its connection: no idle keep-alive connection stays behind
	 * (PLATFORM-NOTES 3) */
	soup_message_headers_replace(headers, "Connection", "close");
	if (!a->chunked) {
		if (a->body != NULL)
			soup_server_message_set_response(ex->msg,
							 "application/json",
							 SOUP_MEMORY_COPY,
							 a->body,
							 len);
		return;
	}
	soup_message_headers_set_encoding(headers, SOUP_ENCODING_CHUNKED);
	soup_message_headers_set_content_type(headers, "application/json", NULL);
	if (a->stall_ms == 0) {
		pal_test_service_exchange_send_body(ex, len);
		return;
	}
	/* libsoup writes what it has, then pauses the message until the rest comes */
	pal_test_service_exchange_send_body(ex, MIN(len, a->stall_after));
	pal_test_service_exchange_wait(ex, a->stall_ms, pal_test_service_stall_cb);
}

static gboolean
pal_test_service_delay_cb(gpointer user_data)
{
	PalTestServiceExchange *ex = user_data;

	pal_test_service_exchange_clear_sources(ex);
	pal_test_service_exchange_answer(ex);
	soup_server_message_unpause(ex->msg);
	return G_SOURCE_REMOVE;
}

static void
pal_test_service_handler(SoupServer *server,
			 SoupServerMessage *msg,
			 const char *path,
			 GHashTable *query,
			 gpointer user_data)
{
	PalTestService *self = user_data;
	PalTestServiceRequest *request = pal_test_service_request_new(msg, path);
	PalTestServiceExchange *ex = g_new0(PalTestServiceExchange, 1);

	ex->service = self;
	ex->msg = g_object_ref(msg);
	ex->answer.headers = soup_message_headers_new(SOUP_MESSAGE_HEADERS_RESPONSE);
	g_mutex_lock(&self->thread.mutex);
	g_ptr_array_add(self->requests, request);
	self->in_flight++;
	self->max_in_flight = MAX(self->max_in_flight, self->in_flight);
	ex->answer.status = self->default_status;
	ex->answer.body = g_strdup(self->default_body);
	ex->answer.delay_ms = self->default_delay_ms;
	g_cond_broadcast(&self->thread.cond);
	g_mutex_unlock(&self->thread.mutex);

	/* the request is immutable once recorded: no lock needed to read it */
	if (self->responder != NULL)
		self->responder(request, &ex->answer, self->responder_data);
	self->exchanges = g_list_prepend(self->exchanges, ex);
	g_signal_connect(msg, "finished", G_CALLBACK(pal_test_service_finished_cb), ex);
	if (ex->answer.delay_ms == 0) {
		pal_test_service_exchange_answer(ex);
		return;
	}
	/* paused, not blocking: the next request is handled meanwhile */
	soup_server_message_pause(msg);
	pal_test_service_exchange_wait(ex, ex->answer.delay_ms, pal_test_service_delay_cb);
}

static gboolean
pal_test_service_start_cb(gpointer data, GError **error)
{
	PalTestService *self = data;
	GSList *uris;

	self->server = soup_server_new(NULL, NULL);
	soup_server_add_handler(self->server, NULL, pal_test_service_handler, self, NULL);
	if (!soup_server_listen_local(self->server,
				      self->port,
				      SOUP_SERVER_LISTEN_IPV4_ONLY,
				      error)) {
		g_clear_object(&self->server);
		return FALSE;
	}
	uris = soup_server_get_uris(self->server);
	self->port = (guint)g_uri_get_port(uris->data);
	self->base_url = g_strdup_printf("http://127.0.0.1:%u/", self->port);
	g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
	return TRUE;
}

static void
pal_test_service_stop_cb(gpointer data)
{
	PalTestService *self = data;

	/* answers that still wait are not sent any more */
	for (GList *l = self->exchanges; l != NULL; l = l->next)
		pal_test_service_exchange_clear_sources(l->data);
	soup_server_disconnect(self->server);
	while (g_main_context_iteration(self->thread.context, FALSE))
		;
	g_list_free_full(g_steal_pointer(&self->exchanges),
			 (GDestroyNotify)pal_test_service_exchange_free);
	g_clear_object(&self->server);
}

/**
 * pal_test_service_new:
 * @port: the port on 127.0.0.1, or 0 for any free one
 * @responder: (nullable): chooses each answer, in the service's thread
 *
 * Starts a SoupServer in a thread with its own GMainContext, so that it answers while the test
 * blocks. Every request is recorded; every answer closes its connection. Fails the test if it
 * cannot listen.
 *
 * Returns: (transfer full): the running service
 */
PalTestService *
pal_test_service_new(guint port, PalTestServiceResponder responder, gpointer user_data)
{
	PalTestService *self = g_new0(PalTestService, 1);
	g_autoptr(GError) error = NULL;

	pal_test_thread_init(&self->thread,
			     "pal-test-service",
			     pal_test_service_start_cb,
			     pal_test_service_stop_cb,
			     self);
	self->port = port;
	self->responder = responder;
	self->responder_data = user_data;
	self->default_status = SOUP_STATUS_OK;
	self->requests =
	    g_ptr_array_new_with_free_func((GDestroyNotify)pal_test_service_request_free);
	pal_test_thread_start(&self->thread, &error);
	g_assert_no_error(error);
	return self;
}

/**
 * pal_test_service_new_with_answer:
 *
 * Returns: (transfer full): a running service on any free port that answers every request
 *   with @status and @body (nullable) after @delay_ms; see pal_test_service_set_answer()
 */
PalTestService *
pal_test_service_new_with_answer(guint status, const gchar *body, guint delay_ms)
{
	PalTestService *self = pal_test_service_new(0, NULL, NULL);

	pal_test_service_set_answer(self, status, body, delay_ms);
	return self;
}

/* stops the service (answers still waiting are dropped) and frees what it recorded */
void
pal_test_service_free(PalTestService *self)
{
	if (self == NULL)
		return;
	pal_test_thread_clear(&self->thread);
	g_ptr_array_unref(self->requests);
	g_free(self->default_body);
	g_free(self->base_url);
	g_free(self);
}

guint
pal_test_service_get_port(PalTestService *self)
{
	return self->port;
}

/**
 * pal_test_service_get_url:
 * @path: (nullable): `/hook` or `hook`, or %NULL for `/`
 *
 * Returns: (transfer full): `http://127.0.0.1:PORT/` plus @path
 */
gchar *
pal_test_service_get_url(PalTestService *self, const gchar *path)
{
	return pal_test_join_url(self->base_url, path);
}

/* the answer of requests that the responder does not change (at first: 200, no body, at once) */
void
pal_test_service_set_answer(PalTestService *self, guint status, const gchar *body, guint delay_ms)
{
	g_mutex_lock(&self->thread.mutex);
	self->default_status = status;
	g_free(self->default_body);
	self->default_body = g_strdup(body);
	self->default_delay_ms = delay_ms;
	g_mutex_unlock(&self->thread.mutex);
}

static guint
pal_test_service_get(PalTestService *self, const guint *value)
{
	guint v;

	g_mutex_lock(&self->thread.mutex);
	v = *value;
	g_mutex_unlock(&self->thread.mutex);
	return v;
}

static gboolean
pal_test_service_wait(PalTestService *self, const guint *value, guint n, guint timeout_ms)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	gboolean ok;

	g_mutex_lock(&self->thread.mutex);
	while (*value < n && g_cond_wait_until(&self->thread.cond, &self->thread.mutex, deadline))
		;
	ok = *value >= n;
	g_mutex_unlock(&self->thread.mutex);
	return ok;
}

guint
pal_test_service_get_n_requests(PalTestService *self)
{
	return pal_test_service_get(self, &self->requests->len);
}

/**
 * pal_test_service_get_request:
 * @index: 0-based, in the order of arrival; fails the test when there are fewer
 *
 * Returns: (transfer none): the request, valid until the service is freed
 */
const PalTestServiceRequest *
pal_test_service_get_request(PalTestService *self, guint index)
{
	const PalTestServiceRequest *request;

	g_mutex_lock(&self->thread.mutex);
	g_assert_cmpuint(index, <, self->requests->len);
	request = g_ptr_array_index(self->requests, index);
	g_mutex_unlock(&self->thread.mutex);
	return request;
}

/* Returns: %TRUE once @n requests arrived, %FALSE after @timeout_ms */
gboolean
pal_test_service_wait_requests(PalTestService *self, guint n, guint timeout_ms)
{
	return pal_test_service_wait(self, &self->requests->len, n, timeout_ms);
}

/* answers whose status line went to libsoup (a delayed one: when its delay ended) */
guint
pal_test_service_get_n_answered(PalTestService *self)
{
	return pal_test_service_get(self, &self->n_answered);
}

/* Returns: the g_get_monotonic_time() of the last answer, 0 before the first */
gint64
pal_test_service_get_last_answered(PalTestService *self)
{
	gint64 t;

	g_mutex_lock(&self->thread.mutex);
	t = self->last_answered;
	g_mutex_unlock(&self->thread.mutex);
	return t;
}

/* clients that closed their connection while their answer waited (delay or stall) */
guint
pal_test_service_get_n_disconnects(PalTestService *self)
{
	return pal_test_service_get(self, &self->n_disconnects);
}

gboolean
pal_test_service_wait_disconnects(PalTestService *self, guint n, guint timeout_ms)
{
	return pal_test_service_wait(self, &self->n_disconnects, n, timeout_ms);
}

/* the most requests that were being answered at once */
guint
pal_test_service_get_max_in_flight(PalTestService *self)
{
	return pal_test_service_get(self, &self->max_in_flight);
}

guint
pal_test_closed_port(void)
{
	g_autoptr(GSocket) socket =
	    g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
	g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autoptr(GSocketAddress) address = g_inet_socket_address_new(loopback, 0);
	g_autoptr(GSocketAddress) bound = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_nonnull(socket);
	g_assert_true(g_socket_bind(socket, address, FALSE, &error));
	bound = g_socket_get_local_address(socket, &error);
	g_assert_no_error(error);
	g_socket_close(socket, NULL);
	return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
}

/* ======================================================================================== */
/* subprocesses */

/* runs in the child between fork and exec */
static void
pal_test_child_setup(gpointer user_data)
{
	pid_t parent = (pid_t)GPOINTER_TO_INT(user_data);

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* the parent died before prctl() */
	if (getppid() != parent)
		_exit(127);
}

/**
 * pal_test_subprocess_launcher_new:
 * @flags: as for g_subprocess_launcher_new()
 *
 * A launcher whose children get SIGKILL when the thread that spawns them ends, so that a test
 * that fails an assertion leaves no daemon behind (holding a port, or the standard error that
 * `meson test` waits on). Spawn from the test's main thread.
 *
 * Returns: (transfer full): a launcher
 */
GSubprocessLauncher *
pal_test_subprocess_launcher_new(GSubprocessFlags flags)
{
	GSubprocessLauncher *launcher = g_subprocess_launcher_new(flags);

	g_subprocess_launcher_set_child_setup(launcher,
					      pal_test_child_setup,
					      GINT_TO_POINTER((gint)getpid()),
					      NULL);
	return launcher;
}

typedef struct {
	gboolean done;
	gboolean timed_out;
	GError *error;
} PalTestWait;

static void
pal_test_subprocess_wait_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	PalTestWait *wait = user_data;

	g_subprocess_wait_finish(G_SUBPROCESS(source), res, &wait->error);
	wait->done = TRUE;
}

static gboolean
pal_test_subprocess_timeout_cb(gpointer user_data)
{
	PalTestWait *wait = user_data;

	wait->timed_out = TRUE;
	return G_SOURCE_REMOVE;
}

/**
 * pal_test_subprocess_wait:
 * @timeout_ms: the longest wait
 * @exit_status: (out) (optional): the exit code, or 128 + the signal number if a signal
 *   ended the process
 *
 * Waits for @subprocess to exit, iterating a private main context (the caller's contexts are
 * not touched). Does not kill it.
 *
 * Returns: %TRUE once it exited, %FALSE with G_IO_ERROR_TIMED_OUT after @timeout_ms
 */
gboolean
pal_test_subprocess_wait(GSubprocess *subprocess,
			 guint timeout_ms,
			 gint *exit_status,
			 GError **error)
{
	g_autoptr(GMainContext) context = g_main_context_new();
	g_autoptr(GCancellable) cancellable = g_cancellable_new();
	PalTestWait wait = {FALSE, FALSE, NULL};
	GSource *timeout;

	g_return_val_if_fail(G_IS_SUBPROCESS(subprocess), FALSE);

	g_main_context_push_thread_default(context);
	g_subprocess_wait_async(subprocess, cancellable, pal_test_subprocess_wait_cb, &wait);
	timeout = g_timeout_source_new(timeout_ms);
	g_source_set_callback(timeout, pal_test_subprocess_timeout_cb, &wait, NULL);
	g_source_attach(timeout, context);
	while (!wait.done && !wait.timed_out)
		g_main_context_iteration(context, TRUE);
	if (!wait.done) {
		g_cancellable_cancel(cancellable);
		while (!wait.done)
			g_main_context_iteration(context, TRUE);
	}
	g_source_destroy(timeout);
	g_source_unref(timeout);
	g_main_context_pop_thread_default(context);

	if (wait.error != NULL) {
		if (g_error_matches(wait.error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
			g_clear_error(&wait.error);
			g_set_error(error,
				    G_IO_ERROR,
				    G_IO_ERROR_TIMED_OUT,
				    "process %s did not exit within %u ms",
				    g_subprocess_get_identifier(subprocess),
				    timeout_ms);
			return FALSE;
		}
		g_propagate_error(error, wait.error);
		return FALSE;
	}
	if (exit_status != NULL) {
		if (g_subprocess_get_if_exited(subprocess))
			*exit_status = g_subprocess_get_exit_status(subprocess);
		else if (g_subprocess_get_if_signaled(subprocess))
			*exit_status = 128 + g_subprocess_get_term_sig(subprocess);
		else
			*exit_status = -1;
	}
	return TRUE;
}

/* ======================================================================================== */
/* PalTestDaemon */

struct _PalTestDaemon {
	gchar *program; /* NULL: $PALAVERD */
	gchar *dir;
	GKeyFile *conf;
	GPtrArray *extra_args;
	GHashTable *env;
	GSubprocess *subprocess;
	GPid pid;
	gboolean exited;	   /* reaped */
	gboolean stop_signal_sent; /* SIGTERM or SIGINT, by pal_test_daemon_signal() */
	GThread *reader;
	GCancellable *reader_cancellable;

	/* guarded by mutex: written by the reader thread */
	GMutex mutex;
	GCond cond;
	GPtrArray *stdout_lines;
	GPtrArray *listen_urls; /* as printed, with the trailing slash */
	gboolean ready;
	gboolean eof;
};

/**
 * pal_test_rm_rf:
 * @path: a file or a directory
 *
 * Removes @path and, for a directory, everything in it (links are removed, not followed).
 * Problems are printed to standard error, not fatal.
 */
void
pal_test_rm_rf(const gchar *path)
{
	GStatBuf st;

	if (g_lstat(path, &st) != 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
		const gchar *name;

		while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
			g_autofree gchar *child = g_build_filename(path, name, NULL);
			pal_test_rm_rf(child);
		}
		if (g_rmdir(path) != 0)
			g_printerr("pal-test-util: cannot remove %s: %s\n", path, g_strerror(errno));
	} else if (g_unlink(path) != 0) {
		g_printerr("pal-test-util: cannot remove %s: %s\n", path, g_strerror(errno));
	}
}

/**
 * pal_test_daemon_new:
 *
 * Creates a temporary directory with an empty `endpoints.d/` and a minimal configuration:
 * `[Server] Listen=127.0.0.1:0, Workers=2`, `[Endpoints] Directory=<dir>/endpoints.d`,
 * `[Plugins] Directory=$PALAVER_BUILD_PLUGINDIR`, `[DBus] Bus=none`,
 * `[Store] Path=<dir>/palaver.db`. Set `PALAVER_TEST_KEEP_TMP=1` to keep the directory.
 *
 * Returns: (transfer full): a daemon, not started
 */
PalTestDaemon *
pal_test_daemon_new(void)
{
	PalTestDaemon *self = g_new0(PalTestDaemon, 1);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *endpoints = NULL;
	g_autofree gchar *store = NULL;
	const gchar *plugindir = g_getenv("PALAVER_BUILD_PLUGINDIR");

	self->dir = g_dir_make_tmp("palaver-test-XXXXXX", &error);
	g_assert_no_error(error);
	endpoints = g_build_filename(self->dir, "endpoints.d", NULL);
	g_assert_cmpint(g_mkdir_with_parents(endpoints, 0700), ==, 0);
	store = g_build_filename(self->dir, "palaver.db", NULL);

	self->conf = g_key_file_new();
	g_key_file_set_string(self->conf, "Server", "Listen", "127.0.0.1:0");
	g_key_file_set_string(self->conf, "Server", "Workers", "2");
	g_key_file_set_string(self->conf, "Endpoints", "Directory", endpoints);
	if (plugindir != NULL)
		g_key_file_set_string(self->conf, "Plugins", "Directory", plugindir);
	g_key_file_set_string(self->conf, "DBus", "Bus", "none");
	g_key_file_set_string(self->conf, "Store", "Path", store);

	self->extra_args = g_ptr_array_new_with_free_func(g_free);
	self->env = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	self->stdout_lines = g_ptr_array_new_with_free_func(g_free);
	self->listen_urls = g_ptr_array_new_with_free_func(g_free);
	g_mutex_init(&self->mutex);
	g_cond_init(&self->cond);
	return self;
}

/**
 * pal_test_daemon_get_dir:
 *
 * Returns: the temporary directory (the daemon's working directory)
 */
const gchar *
pal_test_daemon_get_dir(PalTestDaemon *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return self->dir;
}

/**
 * pal_test_daemon_set_conf:
 * @value: (nullable): the value, or %NULL to remove the key
 *
 * Sets a key of `palaver.conf`; takes effect at pal_test_daemon_start().
 */
void
pal_test_daemon_set_conf(PalTestDaemon *self,
			 const gchar *group,
			 const gchar *key,
			 const gchar *value)
{
	g_return_if_fail(self != NULL);
	g_return_if_fail(group != NULL && key != NULL);
	if (value != NULL)
		g_key_file_set_string(self->conf, group, key, value);
	else
		g_key_file_remove_key(self->conf, group, key, NULL);
}

/**
 * pal_test_daemon_write_file:
 * @relpath: a path relative to the temporary directory; parents are created
 *
 * Writes a file (flow, model, script, secret) next to the configuration.
 */
void
pal_test_daemon_write_file(PalTestDaemon *self, const gchar *relpath, const gchar *contents)
{
	g_autofree gchar *path = NULL;
	g_autofree gchar *parent = NULL;
	g_autoptr(GError) error = NULL;

	g_return_if_fail(self != NULL);
	g_return_if_fail(relpath != NULL && contents != NULL);
	g_assert_false(g_path_is_absolute(relpath));
	g_assert_null(strstr(relpath, ".."));
	path = g_build_filename(self->dir, relpath, NULL);
	parent = g_path_get_dirname(path);
	g_assert_cmpint(g_mkdir_with_parents(parent, 0700), ==, 0);
	g_file_set_contents(path, contents, -1, &error);
	g_assert_no_error(error);
}

/**
 * pal_test_daemon_add_endpoint:
 * @filename: a file name such as `support.json`
 *
 * Writes an endpoint file into `endpoints.d/`.
 */
void
pal_test_daemon_add_endpoint(PalTestDaemon *self, const gchar *filename, const gchar *json_text)
{
	g_autofree gchar *relpath = NULL;

	g_return_if_fail(self != NULL);
	g_return_if_fail(filename != NULL && json_text != NULL);
	g_assert_null(strchr(filename, '/'));
	relpath = g_build_filename("endpoints.d", filename, NULL);
	pal_test_daemon_write_file(self, relpath, json_text);
}

/**
 * pal_test_daemon_set_program:
 * @path: (nullable): an executable, or %NULL for `$PALAVERD`
 *
 * Runs @path instead of `$PALAVERD` (to test the harness, or another build).
 */
void
pal_test_daemon_set_program(PalTestDaemon *self, const gchar *path)
{
	g_return_if_fail(self != NULL);
	g_free(self->program);
	self->program = g_strdup(path);
}

/**
 * pal_test_daemon_add_arg:
 *
 * Appends a command-line argument after the standard ones.
 */
void
pal_test_daemon_add_arg(PalTestDaemon *self, const gchar *arg)
{
	g_return_if_fail(self != NULL && arg != NULL);
	g_ptr_array_add(self->extra_args, g_strdup(arg));
}

/**
 * pal_test_daemon_setenv:
 *
 * Sets an environment variable of the daemon (it inherits the test's environment).
 */
void
pal_test_daemon_setenv(PalTestDaemon *self, const gchar *variable, const gchar *value)
{
	g_return_if_fail(self != NULL && variable != NULL && value != NULL);
	g_hash_table_replace(self->env, g_strdup(variable), g_strdup(value));
}

static gpointer
pal_test_daemon_reader_thread(gpointer user_data)
{
	PalTestDaemon *self = user_data;
	g_autoptr(GDataInputStream) data = NULL;

	data = g_data_input_stream_new(g_subprocess_get_stdout_pipe(self->subprocess));
	for (;;) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *raw = NULL;
		gchar *line;
		gsize len = 0;

		raw = g_data_input_stream_read_line(data, &len, self->reader_cancellable, &error);
		if (raw == NULL)
			break;
		line = g_utf8_make_valid(raw, (gssize)len);
		g_strchomp(line);
		g_printerr("palaverd stdout: %s\n", line);

		g_mutex_lock(&self->mutex);
		if (!self->ready) {
			if (g_str_has_prefix(line, "listening: ")) {
				gchar *url = g_strstrip(g_strdup(line + strlen("listening: ")));
				if (!g_str_has_suffix(url, "/")) {
					gchar *tmp = g_strconcat(url, "/", NULL);
					g_free(url);
					url = tmp;
				}
				g_ptr_array_add(self->listen_urls, url);
			} else if (g_strcmp0(line, "ready") == 0) {
				self->ready = TRUE;
			}
		}
		g_ptr_array_add(self->stdout_lines, line);
		g_cond_broadcast(&self->cond);
		g_mutex_unlock(&self->mutex);
	}

	g_mutex_lock(&self->mutex);
	self->eof = TRUE;
	g_cond_broadcast(&self->cond);
	g_mutex_unlock(&self->mutex);
	return NULL;
}

/* after the process ended: let the reader see EOF (bounded), then join it */
static void
pal_test_daemon_join_reader(PalTestDaemon *self)
{
	gint64 deadline;

	if (self->reader == NULL)
		return;
	deadline = g_get_monotonic_time() + PAL_TEST_STDOUT_DRAIN_MS * G_TIME_SPAN_MILLISECOND;
	g_mutex_lock(&self->mutex);
	while (!self->eof) {
		if (!g_cond_wait_until(&self->cond, &self->mutex, deadline))
			break;
	}
	g_mutex_unlock(&self->mutex);
	/* e.g. a child of the daemon still holds the pipe */
	g_cancellable_cancel(self->reader_cancellable);
	g_thread_join(g_steal_pointer(&self->reader));
}

static void
pal_test_daemon_reap(PalTestDaemon *self, gint *exit_status)
{
	g_autoptr(GError) error = NULL;

	if (!pal_test_subprocess_wait(self->subprocess, PAL_TEST_KILL_WAIT_MS, exit_status, &error))
		g_printerr("pal-test-util: palaverd: %s\n", error->message);
	self->exited = TRUE;
	pal_test_daemon_join_reader(self);
}

/**
 * pal_test_daemon_start:
 *
 * Writes `palaver.conf` and runs `$PALAVERD --config <dir>/palaver.conf --plugin-dir
 * $PALAVER_BUILD_PLUGINDIR --no-plugin-permission-check [extra args]` in the temporary
 * directory, standard output piped and standard error inherited. Waits up to 10 s for the
 * line `ready` on its standard output; the lines `listening: http://HOST:PORT/` before it
 * give the listen URLs (the first one is the base URL). The daemon is killed if the calling
 * thread ends (see pal_test_subprocess_launcher_new()).
 *
 * Returns: %TRUE once the daemon is ready; else %FALSE, with the daemon killed
 */
gboolean
pal_test_daemon_start(PalTestDaemon *self, GError **error)
{
	g_autoptr(GSubprocessLauncher) launcher = NULL;
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autofree gchar *conf_path = NULL;
	const gchar *palaverd = self->program != NULL ? self->program : g_getenv("PALAVERD");
	const gchar *plugindir = g_getenv("PALAVER_BUILD_PLUGINDIR");
	const gchar *identifier;
	GHashTableIter iter;
	gpointer key;
	gpointer value;
	gint64 deadline;
	gboolean ready;
	gboolean eof;
	gint status = -1;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(self->subprocess == NULL, FALSE);

	if (palaverd == NULL || palaverd[0] == '\0') {
		g_set_error_literal(error,
				    G_IO_ERROR,
				    G_IO_ERROR_NOT_FOUND,
				    "PALAVERD is not set (run the tests through meson test)");
		return FALSE;
	}
	conf_path = g_build_filename(self->dir, "palaver.conf", NULL);
	if (!g_key_file_save_to_file(self->conf, conf_path, error))
		return FALSE;

	g_ptr_array_add(argv, (gpointer)palaverd);
	g_ptr_array_add(argv, (gpointer) "--config");
	g_ptr_array_add(argv, conf_path);
	if (plugindir != NULL) {
		g_ptr_array_add(argv, (gpointer) "--plugin-dir");
		g_ptr_array_add(argv, (gpointer)plugindir);
	}
	g_ptr_array_add(argv, (gpointer) "--no-plugin-permission-check");
	for (guint i = 0; i < self->extra_args->len; i++)
		g_ptr_array_add(argv, g_ptr_array_index(self->extra_args, i));
	g_ptr_array_add(argv, NULL);

	launcher = pal_test_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE);
	g_subprocess_launcher_set_cwd(launcher, self->dir);
	g_hash_table_iter_init(&iter, self->env);
	while (g_hash_table_iter_next(&iter, &key, &value))
		g_subprocess_launcher_setenv(launcher, key, value, TRUE);
	self->subprocess =
	    g_subprocess_launcher_spawnv(launcher, (const gchar *const *)argv->pdata, error);
	if (self->subprocess == NULL)
		return FALSE;
	/* NULL if it exited (and GLib reaped it) already */
	identifier = g_subprocess_get_identifier(self->subprocess);
	self->pid = identifier != NULL ? (GPid)g_ascii_strtoll(identifier, NULL, 10) : 0;
	self->reader_cancellable = g_cancellable_new();
	self->reader = g_thread_new("pal-test-daemon-stdout", pal_test_daemon_reader_thread, self);

	deadline = g_get_monotonic_time() +
		   PAL_TEST_DAEMON_START_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
	g_mutex_lock(&self->mutex);
	while (!self->ready && !self->eof) {
		if (!g_cond_wait_until(&self->cond, &self->mutex, deadline))
			break;
	}
	ready = self->ready;
	eof = self->eof;
	g_mutex_unlock(&self->mutex);

	if (ready && self->listen_urls->len > 0)
		return TRUE;

	/* not ready: make sure it is gone, then say why */
	g_subprocess_force_exit(self->subprocess);
	pal_test_daemon_reap(self, &status);
	if (ready) {
		g_set_error_literal(error,
				    G_IO_ERROR,
				    G_IO_ERROR_INVALID_DATA,
				    "palaverd printed “ready” without a “listening: URL” line");
	} else if (eof) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_FAILED,
			    "palaverd closed its standard output before “ready” (exit status %d; "
			    "its standard error is above)",
			    status);
	} else {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_TIMED_OUT,
			    "palaverd did not print “ready” within %d ms; killed",
			    PAL_TEST_DAEMON_START_TIMEOUT_MS);
	}
	return FALSE;
}

/**
 * pal_test_daemon_get_base_url:
 *
 * Returns: the first listen URL as printed, with the trailing slash, e.g.
 *   `http://127.0.0.1:41234/`
 */
const gchar *
pal_test_daemon_get_base_url(PalTestDaemon *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(self->listen_urls->len > 0, NULL);
	return g_ptr_array_index(self->listen_urls, 0);
}

/**
 * pal_test_daemon_get_url:
 * @path: (nullable): `/9f2c…` or `9f2c…`, or %NULL for `/`
 *
 * Returns: (transfer full): the base URL plus @path, with one slash between
 */
gchar *
pal_test_daemon_get_url(PalTestDaemon *self, const gchar *path)
{
	const gchar *base = pal_test_daemon_get_base_url(self);

	g_return_val_if_fail(base != NULL, NULL);
	return pal_test_join_url(base, path);
}

/**
 * pal_test_daemon_post_accepted:
 * @path: the endpoint's URL token (`token` or `/token`)
 * @body: a message, sent as `application/json`
 *
 * POSTs @body to the running daemon and fails the test unless it is accepted (`202`).
 *
 * Returns: (transfer full): the inputId of the answer
 */
gchar *
pal_test_daemon_post_accepted(PalTestDaemon *self, const gchar *path, const gchar *body)
{
	g_autofree gchar *url = pal_test_daemon_get_url(self, path);
	g_autofree gchar *answer = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) node = NULL;
	guint status = 0;

	pal_test_http_post(url,
			   "application/json",
			   body,
			   strlen(body),
			   NULL,
			   &status,
			   &answer,
			   &error);
	g_assert_no_error(error);
	if (status != 202)
		g_printerr("POST %s answered %u: %s\n", url, status, answer);
	g_assert_cmpuint(status, ==, 202);
	node = pal_test_json_parse(answer);
	return g_strdup(json_object_get_string_member(json_node_get_object(node), "inputId"));
}

static GStrv
pal_test_strv_from_array(GPtrArray *array)
{
	GStrv strv = g_new0(gchar *, array->len + 1);

	for (guint i = 0; i < array->len; i++)
		strv[i] = g_strdup(g_ptr_array_index(array, i));
	return strv;
}

/**
 * pal_test_daemon_dup_listen_urls:
 *
 * Returns: (transfer full): every listen URL announced before `ready`, as printed
 */
GStrv
pal_test_daemon_dup_listen_urls(PalTestDaemon *self)
{
	GStrv strv;

	g_return_val_if_fail(self != NULL, NULL);
	g_mutex_lock(&self->mutex);
	strv = pal_test_strv_from_array(self->listen_urls);
	g_mutex_unlock(&self->mutex);
	return strv;
}

/**
 * pal_test_daemon_dup_stdout_lines:
 *
 * Returns: (transfer full): every line the daemon printed on standard output so far
 */
GStrv
pal_test_daemon_dup_stdout_lines(PalTestDaemon *self)
{
	GStrv strv;

	g_return_val_if_fail(self != NULL, NULL);
	g_mutex_lock(&self->mutex);
	strv = pal_test_strv_from_array(self->stdout_lines);
	g_mutex_unlock(&self->mutex);
	return strv;
}

/**
 * pal_test_daemon_get_pid:
 *
 * Returns: the daemon's pid, or 0 if it was not started or had exited before its pid was read
 */
GPid
pal_test_daemon_get_pid(PalTestDaemon *self)
{
	g_return_val_if_fail(self != NULL, 0);
	return self->pid;
}

/**
 * pal_test_daemon_is_running:
 *
 * Returns: %TRUE if the daemon was started and has not been reaped (a crashed daemon that
 *   nobody waited for yet counts as running until it is reaped)
 */
gboolean
pal_test_daemon_is_running(PalTestDaemon *self)
{
	g_return_val_if_fail(self != NULL, FALSE);
	return self->subprocess != NULL && !self->exited &&
	       g_subprocess_get_identifier(self->subprocess) != NULL;
}

/**
 * pal_test_daemon_count_fds:
 *
 * Returns: the number of entries in /proc/PID/fd, or -1 if the daemon was reaped or it cannot
 *   be read
 */
gint
pal_test_daemon_count_fds(PalTestDaemon *self)
{
	g_autofree gchar *path = NULL;
	g_autoptr(GDir) dir = NULL;
	gint n = 0;

	g_return_val_if_fail(self != NULL, -1);
	/* once reaped, the pid may belong to another process */
	if (self->pid <= 0 || self->exited)
		return -1;
	path = g_strdup_printf("/proc/%d/fd", (gint)self->pid);
	dir = g_dir_open(path, 0, NULL);
	if (dir == NULL)
		return -1;
	while (g_dir_read_name(dir) != NULL)
		n++;
	return n;
}

/**
 * pal_test_daemon_get_rss_kb:
 *
 * Returns: VmRSS from /proc/PID/status in kB, or -1 if the daemon was reaped or it cannot be
 *   read
 */
gint64
pal_test_daemon_get_rss_kb(PalTestDaemon *self)
{
	g_autofree gchar *path = NULL;
	g_autofree gchar *contents = NULL;
	const gchar *line;

	g_return_val_if_fail(self != NULL, -1);
	if (self->pid <= 0 || self->exited)
		return -1;
	path = g_strdup_printf("/proc/%d/status", (gint)self->pid);
	if (!g_file_get_contents(path, &contents, NULL, NULL))
		return -1;
	line = strstr(contents, "\nVmRSS:");
	if (line == NULL)
		return -1;
	return g_ascii_strtoll(line + strlen("\nVmRSS:"), NULL, 10);
}

/**
 * pal_test_daemon_signal:
 *
 * Sends @signum (e.g. SIGHUP) to the running daemon.
 */
void
pal_test_daemon_signal(PalTestDaemon *self, gint signum)
{
	g_return_if_fail(self != NULL);
	g_return_if_fail(self->subprocess != NULL);
	if (signum == SIGTERM || signum == SIGINT)
		self->stop_signal_sent = TRUE;
	g_subprocess_send_signal(self->subprocess, signum);
}

/**
 * pal_test_daemon_stop:
 * @signum: the signal to send; 0 sends SIGTERM, unless pal_test_daemon_signal() sent SIGTERM
 *   or SIGINT already (palaverd takes a second stop signal as "exit without draining"): then
 *   it only waits
 * @timeout_ms: how long to wait for the exit
 * @exit_status: (out) (optional): the exit code, or 128 + the signal number if a signal
 *   ended it
 *
 * Sends @signum and waits. If the daemon has not exited after @timeout_ms, kills it with
 * SIGKILL and fails. If it had exited already, only reaps it.
 *
 * Returns: %TRUE if the daemon exited within @timeout_ms
 */
gboolean
pal_test_daemon_stop(PalTestDaemon *self,
		     gint signum,
		     guint timeout_ms,
		     gint *exit_status,
		     GError **error)
{
	g_autoptr(GError) error_local = NULL;
	gint status = -1;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(self->subprocess != NULL, FALSE);

	if (self->exited) {
		g_set_error_literal(error,
				    G_IO_ERROR,
				    G_IO_ERROR_CLOSED,
				    "palaverd was stopped already");
		return FALSE;
	}
	if (signum == 0 && !self->stop_signal_sent)
		signum = SIGTERM;
	/* a no-op if it exited meanwhile */
	if (signum != 0)
		pal_test_daemon_signal(self, signum);
	if (!pal_test_subprocess_wait(self->subprocess, timeout_ms, &status, &error_local)) {
		g_subprocess_force_exit(self->subprocess);
		pal_test_daemon_reap(self, &status);
		if (exit_status != NULL)
			*exit_status = status;
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_TIMED_OUT,
			    "palaverd did not exit within %u ms after its stop signal: killed with "
			    "SIGKILL",
			    timeout_ms);
		return FALSE;
	}
	self->exited = TRUE;
	pal_test_daemon_join_reader(self);
	if (exit_status != NULL)
		*exit_status = status;
	return TRUE;
}

/**
 * pal_test_daemon_kill9:
 *
 * Kills the daemon with SIGKILL (a crash) and reaps it.
 */
void
pal_test_daemon_kill9(PalTestDaemon *self)
{
	g_return_if_fail(self != NULL);
	if (self->subprocess == NULL || self->exited)
		return;
	g_subprocess_force_exit(self->subprocess);
	pal_test_daemon_reap(self, NULL);
}

/**
 * pal_test_daemon_restart:
 *
 * Kills the daemon if it still runs (SIGKILL) and starts it again in the same directory, with
 * the same configuration, store and endpoints: what a crash and a restart by systemd look like.
 */
gboolean
pal_test_daemon_restart(PalTestDaemon *self, GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	pal_test_daemon_kill9(self);
	pal_test_daemon_join_reader(self);
	g_clear_object(&self->subprocess);
	g_clear_object(&self->reader_cancellable);
	self->pid = 0;
	self->exited = FALSE;
	self->stop_signal_sent = FALSE;
	g_mutex_lock(&self->mutex);
	g_ptr_array_set_size(self->stdout_lines, 0);
	g_ptr_array_set_size(self->listen_urls, 0);
	self->ready = FALSE;
	self->eof = FALSE;
	g_mutex_unlock(&self->mutex);
	return pal_test_daemon_start(self, error);
}

/**
 * pal_test_daemon_free:
 *
 * Kills the daemon if it still runs and removes the temporary directory.
 */
void
pal_test_daemon_free(PalTestDaemon *self)
{
	if (self == NULL)
		return;
	pal_test_daemon_kill9(self);
	pal_test_daemon_join_reader(self);
	g_clear_object(&self->subprocess);
	g_clear_object(&self->reader_cancellable);
	if (g_getenv("PALAVER_TEST_KEEP_TMP") != NULL)
		g_printerr("pal-test-util: keeping %s\n", self->dir);
	else
		pal_test_rm_rf(self->dir);
	g_free(self->program);
	g_free(self->dir);
	g_key_file_unref(self->conf);
	g_ptr_array_unref(self->extra_args);
	g_hash_table_unref(self->env);
	g_ptr_array_unref(self->stdout_lines);
	g_ptr_array_unref(self->listen_urls);
	g_mutex_clear(&self->mutex);
	g_cond_clear(&self->cond);
	g_free(self);
}

/* ======================================================================================== */
/* HTTP and JSON */

/**
 * pal_test_http_request:
 * @method: `GET`, `POST`, …
 * @content_type: (nullable): the request's content type; `application/octet-stream` if
 *   %NULL and there is a body
 * @body: (nullable) (array length=len): the request body, or %NULL for none
 * @len: the length of @body, or `(gsize) -1` if it is NUL-terminated
 * @extra_headers: (nullable) (element-type utf8 utf8): more request headers
 * @status_out: (out) (optional): the response status
 * @headers_out: (out) (optional) (transfer full): the response headers
 * @body_out: (out) (optional) (transfer full): the response body, NUL-terminated
 *
 * A synchronous request with a fresh #SoupSession (30 s timeout) and `Connection: close`,
 * so no idle connection stays behind at the server. Callable from any thread.
 *
 * Returns: %TRUE if a response arrived (any status), %FALSE on a transport error
 */
gboolean
pal_test_http_request(const gchar *method,
		      const gchar *url,
		      const gchar *content_type,
		      const gchar *body,
		      gsize len,
		      GHashTable *extra_headers,
		      guint *status_out,
		      SoupMessageHeaders **headers_out,
		      gchar **body_out,
		      GError **error)
{
	g_autoptr(SoupSession) session = NULL;
	g_autoptr(SoupMessage) msg = NULL;
	g_autoptr(GBytes) response = NULL;
	SoupMessageHeaders *hdrs;

	g_return_val_if_fail(method != NULL, FALSE);
	g_return_val_if_fail(url != NULL, FALSE);

	msg = soup_message_new(method, url);
	if (msg == NULL) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "invalid URL %s", url);
		return FALSE;
	}
	if (body != NULL) {
		g_autoptr(GBytes) bytes = NULL;
		if (len == (gsize)-1)
			len = strlen(body);
		bytes = g_bytes_new(body, len);
		soup_message_set_request_body_from_bytes(msg,
							 content_type != NULL
							     ? content_type
							     : "application/octet-stream",
							 bytes);
	}
	hdrs = soup_message_get_request_headers(msg);
	soup_message_headers_replace(hdrs, "Connection", "close");
	if (extra_headers != NULL) {
		GHashTableIter iter;
		gpointer key;
		gpointer value;

		g_hash_table_iter_init(&iter, extra_headers);
		while (g_hash_table_iter_next(&iter, &key, &value))
			soup_message_headers_replace(hdrs, key, value);
	}

	session = soup_session_new_with_options("timeout",
						PAL_TEST_HTTP_TIMEOUT_SECS,
						"user-agent",
						"palaver-test",
						NULL);
	response = soup_session_send_and_read(session, msg, NULL, error);
	if (response == NULL)
		return FALSE;
	if (status_out != NULL)
		*status_out = soup_message_get_status(msg);
	if (headers_out != NULL)
		*headers_out = soup_message_headers_ref(soup_message_get_response_headers(msg));
	if (body_out != NULL) {
		gsize size = 0;
		const gchar *data = g_bytes_get_data(response, &size);
		*body_out = g_strndup(data != NULL ? data : "", size);
	}
	return TRUE;
}

/**
 * pal_test_http_post:
 *
 * pal_test_http_request() with `POST`.
 */
gboolean
pal_test_http_post(const gchar *url,
		   const gchar *content_type,
		   const gchar *body,
		   gsize len,
		   GHashTable *extra_headers,
		   guint *status_out,
		   gchar **body_out,
		   GError **error)
{
	return pal_test_http_request("POST",
				     url,
				     content_type,
				     body,
				     len,
				     extra_headers,
				     status_out,
				     NULL,
				     body_out,
				     error);
}

/**
 * pal_test_json_parse:
 *
 * Returns: (transfer full): @text parsed; fails the test if it is not JSON
 */
JsonNode *
pal_test_json_parse(const gchar *text)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;

	g_assert_nonnull(text);
	json_parser_load_from_data(parser, text, -1, &error);
	g_assert_no_error(error);
	g_assert_nonnull(json_parser_get_root(parser));
	return json_parser_steal_root(parser);
}
