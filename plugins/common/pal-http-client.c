/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "pal-http-client.h"

#define PAL_HTTP_CLIENT_READ_CHUNK 16384

struct _PalHttpClient {
	GObject parent_instance;
	GMainContext *context; /* of the thread that created it: the session's and the timers' */
	SoupSession *session;
	guint max_in_flight;
	guint in_flight;
	GQueue waiting; /* GTask*, FIFO, each holding a reference */
};

/*
 * Every plugin module that uses this client builds its own copy of this file
 * (plugins/meson.build), and palaverd loads several such modules into one process. A GType
 * name can be registered only once per process, so each copy registers its type under a name
 * of its own module ("PalHttpClient-PalPluginGraph"): G_DEFINE_FINAL_TYPE() would register
 * "PalHttpClient" in each, and every copy but the first would fail to create clients.
 */
#define PAL_HTTP_CLIENT_TYPE_NAME "PalHttpClient-" G_LOG_DOMAIN

static void
pal_http_client_init(PalHttpClient *self);
static void
pal_http_client_class_init(PalHttpClientClass *klass);
static gpointer pal_http_client_parent_class = NULL;

static void
pal_http_client_class_intern_init(gpointer klass)
{
	pal_http_client_parent_class = g_type_class_peek_parent(klass);
	pal_http_client_class_init((PalHttpClientClass *)klass);
}

GType
pal_http_client_get_type(void)
{
	static gsize type_id = 0;

	if (g_once_init_enter(&type_id)) {
		GType id = g_type_register_static_simple(
		    G_TYPE_OBJECT,
		    g_intern_static_string(PAL_HTTP_CLIENT_TYPE_NAME),
		    sizeof(PalHttpClientClass),
		    (GClassInitFunc)(void (*)(void))pal_http_client_class_intern_init,
		    sizeof(PalHttpClient),
		    (GInstanceInitFunc)(void (*)(void))pal_http_client_init,
		    G_TYPE_FLAG_FINAL);
		g_once_init_leave(&type_id, id);
	}
	return type_id;
}

typedef struct {
	SoupMessage *message;
	gsize max_body;
	guint timeout_ms;
	GByteArray *body;
	GInputStream *stream;
	GCancellable *op_cancel; /* cancels the I/O: the deadline or the caller */
	GSource *deadline;
	GSource *caller_watch; /* the caller's cancellable, seen in the client's context */
	GList *link;	       /* in waiting, while queued */
	gboolean started;      /* counted in in_flight */
	gboolean timed_out;
} PalFetch;

/* destroys *@source (it is never dispatched again) and drops it */
static void
pal_source_clear(GSource **source)
{
	if (*source != NULL) {
		g_source_destroy(*source);
		g_clear_pointer(source, g_source_unref);
	}
}

static void
pal_fetch_clear_sources(PalFetch *f)
{
	pal_source_clear(&f->deadline);
	pal_source_clear(&f->caller_watch);
}

static void
pal_fetch_free(PalFetch *f)
{
	pal_fetch_clear_sources(f);
	g_clear_object(&f->stream);
	g_clear_object(&f->op_cancel);
	g_clear_pointer(&f->body, g_byte_array_unref);
	g_object_unref(f->message);
	g_free(f);
}

static void
pal_http_client_start(PalHttpClient *self, GTask *task);

/* lets the next waiting requests go, as connections become free */
static void
pal_http_client_pump(PalHttpClient *self)
{
	while (self->in_flight < self->max_in_flight && !g_queue_is_empty(&self->waiting)) {
		GTask *task = g_queue_pop_head(&self->waiting);
		PalFetch *f = g_task_get_task_data(task);

		f->link = NULL;
		pal_http_client_start(self, task);
		g_object_unref(task); /* the queue's reference */
	}
}

/* completes @task once: releases its connection and slot, then lets the next one go */
static void
pal_http_client_complete(GTask *task, GError *error)
{
	PalHttpClient *self = g_task_get_source_object(task);
	PalFetch *f = g_task_get_task_data(task);

	pal_fetch_clear_sources(f);
	/* an unread rest of the body is skipped, not read: libsoup then closes the connection */
	if (f->stream != NULL) {
		g_input_stream_close(f->stream, NULL, NULL);
		g_clear_object(&f->stream);
	}
	if (f->started) {
		f->started = FALSE;
		self->in_flight--;
	}
	if (error != NULL)
		g_task_return_error(task, error);
	else
		g_task_return_pointer(task,
				      g_byte_array_free_to_bytes(g_steal_pointer(&f->body)),
				      (GDestroyNotify)g_bytes_unref);
	pal_http_client_pump(self);
}

static GError *
pal_http_client_cancelled_error(void)
{
	return g_error_new_literal(G_IO_ERROR, G_IO_ERROR_CANCELLED, "the request was cancelled");
}

/* an error of the request, said the way users need it: why it stopped. The caller's word wins
 * over the deadline: a caller that cancelled has gone on without the answer */
static GError *
pal_http_client_error(GTask *task, GError *error)
{
	PalFetch *f = g_task_get_task_data(task);
	GError *out;

	if (g_cancellable_is_cancelled(g_task_get_cancellable(task)))
		out = pal_http_client_cancelled_error();
	else if (f->timed_out)
		out = g_error_new(PAL_ERROR,
				  PAL_ERROR_TIMED_OUT,
				  "no answer within %u ms",
				  f->timeout_ms);
	else
		out = g_error_new(PAL_ERROR, PAL_ERROR_UNAVAILABLE, "%s", error->message);
	g_error_free(error);
	return out;
}

static GError *
pal_http_client_too_large_error(PalFetch *f)
{
	return g_error_new(PAL_ERROR,
			   PAL_ERROR_INVALID_DATA,
			   "the answer is larger than %" G_GSIZE_FORMAT " bytes",
			   f->max_body);
}

static void
pal_http_client_read_cb(GObject *source, GAsyncResult *res, gpointer user_data);

/* the I/O's reference on @task goes to the next read */
static void
pal_http_client_read_next(GTask *task)
{
	PalFetch *f = g_task_get_task_data(task);

	g_input_stream_read_bytes_async(f->stream,
					PAL_HTTP_CLIENT_READ_CHUNK,
					G_PRIORITY_DEFAULT,
					f->op_cancel,
					pal_http_client_read_cb,
					task);
}

static void
pal_http_client_read_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GTask *task = user_data;
	PalFetch *f = g_task_get_task_data(task);
	GError *error = NULL;
	g_autoptr(GBytes) chunk = g_input_stream_read_bytes_finish(G_INPUT_STREAM(source), res, &error);

	if (chunk == NULL)
		pal_http_client_complete(task, pal_http_client_error(task, error));
	else if (g_bytes_get_size(chunk) == 0)
		pal_http_client_complete(task, NULL);
	/* counted as it arrives: a size announced by the server is never trusted */
	else if (f->body->len + g_bytes_get_size(chunk) > f->max_body)
		pal_http_client_complete(task, pal_http_client_too_large_error(f));
	else {
		g_byte_array_append(f->body,
				    g_bytes_get_data(chunk, NULL),
				    (guint)g_bytes_get_size(chunk));
		pal_http_client_read_next(task);
		return;
	}
	g_object_unref(task); /* the I/O's reference */
}

static void
pal_http_client_send_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GTask *task = user_data;
	PalFetch *f = g_task_get_task_data(task);
	GError *error = NULL;
	SoupMessageHeaders *headers;

	f->stream = soup_session_send_finish(SOUP_SESSION(source), res, &error);
	if (f->stream == NULL) {
		pal_http_client_complete(task, pal_http_client_error(task, error));
	} else if (!SOUP_STATUS_IS_SUCCESSFUL(soup_message_get_status(f->message))) {
		/* the callers act on the status alone; reading a slow or large body would only
		 * delay the failure */
		pal_http_client_complete(task, NULL);
	} else {
		/* never trust a size, but refuse early when it is announced */
		headers = soup_message_get_response_headers(f->message);
		if (soup_message_headers_get_encoding(headers) == SOUP_ENCODING_CONTENT_LENGTH &&
		    (guint64)soup_message_headers_get_content_length(headers) > f->max_body) {
			pal_http_client_complete(task, pal_http_client_too_large_error(f));
		} else {
			pal_http_client_read_next(task);
			return;
		}
	}
	g_object_unref(task); /* the I/O's reference */
}

static void
pal_http_client_start(PalHttpClient *self, GTask *task)
{
	PalFetch *f = g_task_get_task_data(task);

	f->started = TRUE;
	self->in_flight++;
	/* the I/O's own reference: until send and read complete */
	soup_session_send_async(self->session,
				f->message,
				G_PRIORITY_DEFAULT,
				f->op_cancel,
				pal_http_client_send_cb,
				g_object_ref(task));
}

/* a request still waiting for a connection never started: it leaves the queue and completes */
static void
pal_http_client_dequeue(GTask *task, GError *error)
{
	PalHttpClient *self = g_task_get_source_object(task);
	PalFetch *f = g_task_get_task_data(task);

	g_queue_delete_link(&self->waiting, f->link);
	f->link = NULL;
	pal_http_client_complete(task, error);
	g_object_unref(task); /* the queue's reference */
}

static gboolean
pal_http_client_deadline_cb(gpointer user_data)
{
	GTask *task = user_data;
	PalFetch *f = g_task_get_task_data(task);

	f->timed_out = TRUE;
	g_clear_pointer(&f->deadline, g_source_unref);
	if (f->link != NULL) {
		pal_http_client_dequeue(
		    task,
		    g_error_new(PAL_ERROR,
				PAL_ERROR_TIMED_OUT,
				"no answer within %u ms (waited for a free connection)",
				f->timeout_ms));
		return G_SOURCE_REMOVE;
	}
	/* the send or read callback completes the task with the timeout */
	g_cancellable_cancel(f->op_cancel);
	return G_SOURCE_REMOVE;
}

/* the caller may cancel from another thread; the source brings it into the client's */
static gboolean
pal_http_client_caller_cancelled_cb(GCancellable *caller, gpointer user_data)
{
	GTask *task = user_data;
	PalFetch *f = g_task_get_task_data(task);

	g_clear_pointer(&f->caller_watch, g_source_unref);
	if (f->link != NULL) {
		pal_http_client_dequeue(task, pal_http_client_cancelled_error());
		return G_SOURCE_REMOVE;
	}
	/* libsoup completes the operation in flight with G_IO_ERROR_CANCELLED */
	g_cancellable_cancel(f->op_cancel);
	return G_SOURCE_REMOVE;
}

static GSource *
pal_http_client_attach(PalHttpClient *self, GSource *source, GSourceFunc func, GTask *task)
{
	/* not a reference on @task: the task's data removes the source before it goes */
	g_source_set_callback(source, func, task, NULL);
	g_source_attach(source, self->context);
	return source;
}

void
pal_http_client_fetch_async(PalHttpClient *self,
			    SoupMessage *message,
			    gsize max_body,
			    guint timeout_ms,
			    GCancellable *cancellable,
			    GAsyncReadyCallback callback,
			    gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(self, cancellable, callback, user_data);
	g_autoptr(GMainContext) context = g_main_context_ref_thread_default();
	PalFetch *f = g_new0(PalFetch, 1);

	/* a client serves the thread that created it */
	g_warn_if_fail(context == self->context);
	g_task_set_source_tag(task, pal_http_client_fetch_async);
	f->message = g_object_ref(message);
	f->max_body = max_body;
	f->timeout_ms = MAX(timeout_ms, 1);
	f->body = g_byte_array_new();
	f->op_cancel = g_cancellable_new();
	g_task_set_task_data(task, f, (GDestroyNotify)pal_fetch_free);
	if (g_cancellable_is_cancelled(cancellable)) {
		pal_http_client_complete(task, pal_http_client_cancelled_error());
		return;
	}
	/* the clock starts now: waiting for a free connection is waiting for the answer */
	f->deadline = pal_http_client_attach(self,
					     g_timeout_source_new(f->timeout_ms),
					     pal_http_client_deadline_cb,
					     task);
	if (cancellable != NULL)
		f->caller_watch =
		    pal_http_client_attach(self,
					   g_cancellable_source_new(cancellable),
					   G_SOURCE_FUNC(pal_http_client_caller_cancelled_cb),
					   task);
	if (self->in_flight < self->max_in_flight) {
		pal_http_client_start(self, task);
		return;
	}
	g_queue_push_tail(&self->waiting, g_object_ref(task));
	f->link = self->waiting.tail;
}

GBytes *
pal_http_client_fetch_finish(PalHttpClient *self,
			     GAsyncResult *result,
			     guint *status,
			     GError **error)
{
	GTask *task = G_TASK(result);
	PalFetch *f;

	g_return_val_if_fail(g_task_is_valid(result, self), NULL);
	f = g_task_get_task_data(task);
	if (status != NULL)
		*status = soup_message_get_status(f->message);
	return g_task_propagate_pointer(task, error);
}

static void
pal_http_client_dispose(GObject *object)
{
	PalHttpClient *self = PAL_HTTP_CLIENT(object);

	/* every request holds its task, and every task this client: nothing can be waiting */
	g_warn_if_fail(g_queue_is_empty(&self->waiting));
	if (self->session != NULL)
		soup_session_abort(self->session);
	g_clear_object(&self->session);
	G_OBJECT_CLASS(pal_http_client_parent_class)->dispose(object);
}

static void
pal_http_client_finalize(GObject *object)
{
	PalHttpClient *self = PAL_HTTP_CLIENT(object);

	g_main_context_unref(self->context);
	G_OBJECT_CLASS(pal_http_client_parent_class)->finalize(object);
}

static void
pal_http_client_class_init(PalHttpClientClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = pal_http_client_dispose;
	object_class->finalize = pal_http_client_finalize;
}

static void
pal_http_client_init(PalHttpClient *self)
{
	g_queue_init(&self->waiting);
}

/**
 * pal_http_client_new:
 * @max_in_flight: requests handed to libsoup at once, and its connections (per host too)
 * @idle_timeout_s: how long an unused connection stays open
 *
 * Call in the thread that will use the client: its session and timers run in that thread's
 * thread-default context.
 */
PalHttpClient *
pal_http_client_new(guint max_in_flight, guint idle_timeout_s)
{
	PalHttpClient *self = g_object_new(PAL_TYPE_HTTP_CLIENT, NULL);
	g_autofree gchar *user_agent = g_strdup_printf("palaver/%s", PACKAGE_VERSION);

	self->context = g_main_context_ref_thread_default();
	self->max_in_flight = MAX(max_in_flight, 1);
	/* libsoup's defaults (10 connections, 2 per host) would throttle a gateway; the deadline
	 * of each request is ours (libsoup's "timeout" would bound only single reads and writes,
	 * PLATFORM-NOTES 9), the idle timeout closes unused sockets */
	self->session = soup_session_new_with_options("max-conns",
						      (gint)self->max_in_flight,
						      "max-conns-per-host",
						      (gint)self->max_in_flight,
						      "timeout",
						      0,
						      "idle-timeout",
						      idle_timeout_s,
						      "user-agent",
						      user_agent,
						      NULL);
	return self;
}
