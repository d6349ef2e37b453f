/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "pal-http-client.h"

#define PAL_HTTP_CLIENT_READ_CHUNK 16384

struct _PalHttpClient {
	GObject parent_instance;
	SoupSession *session;
	guint max_in_flight;
	guint in_flight;
	GQueue waiting; /* GTask*, FIFO */
};

G_DEFINE_FINAL_TYPE(PalHttpClient, pal_http_client, G_TYPE_OBJECT)

typedef struct {
	SoupMessage *message;
	gsize max_body;
	GByteArray *body;
	GInputStream *stream;
	GCancellable *op_cancel; /* cancels the request: deadline or caller */
	GCancellable *caller;	 /* nullable */
	gulong caller_handler;
	GSource *deadline;
	GList *link; /* in waiting, while queued */
	gboolean started;
	gboolean timed_out;
	guint timeout_ms;
} PalFetch;

static void
pal_fetch_free(PalFetch *f)
{
	if (f->deadline != NULL) {
		g_source_destroy(f->deadline);
		g_source_unref(f->deadline);
	}
	if (f->caller_handler != 0)
		g_cancellable_disconnect(f->caller, f->caller_handler);
	g_clear_object(&f->caller);
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

/* completes @task once: releases its slot and lets the next one go */
static void
pal_http_client_complete(GTask *task, GError *error)
{
	PalHttpClient *self = g_task_get_source_object(task);
	PalFetch *f = g_task_get_task_data(task);

	if (f->deadline != NULL) {
		g_source_destroy(f->deadline);
		g_clear_pointer(&f->deadline, g_source_unref);
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

/* an error of the request, said the way users need it: why it stopped */
static GError *
pal_http_client_error(PalFetch *f, GError *error)
{
	GError *out;

	if (f->timed_out)
		out = g_error_new(PAL_ERROR,
				  PAL_ERROR_TIMED_OUT,
				  "no answer within %u ms",
				  f->timeout_ms);
	else if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		out = g_error_copy(error);
	else
		out = g_error_new(PAL_ERROR, PAL_ERROR_UNAVAILABLE, "%s", error->message);
	g_error_free(error);
	return out;
}

static void
pal_http_client_read_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GTask *task = user_data;
	PalFetch *f = g_task_get_task_data(task);
	GError *error = NULL;
	g_autoptr(GBytes) chunk = g_input_stream_read_bytes_finish(G_INPUT_STREAM(source), res, &error);

	if (chunk == NULL) {
		pal_http_client_complete(task, pal_http_client_error(f, error));
		g_object_unref(task);
		return;
	}
	if (g_bytes_get_size(chunk) == 0) {
		pal_http_client_complete(task, NULL);
		g_object_unref(task);
		return;
	}
	if (f->body->len + g_bytes_get_size(chunk) > f->max_body) {
		pal_http_client_complete(task,
					 g_error_new(PAL_ERROR,
						     PAL_ERROR_INVALID_DATA,
						     "the answer is larger than %" G_GSIZE_FORMAT " bytes",
						     f->max_body));
		g_object_unref(task);
		return;
	}
	g_byte_array_append(f->body, g_bytes_get_data(chunk, NULL), (guint)g_bytes_get_size(chunk));
	g_input_stream_read_bytes_async(f->stream,
					PAL_HTTP_CLIENT_READ_CHUNK,
					G_PRIORITY_DEFAULT,
					f->op_cancel,
					pal_http_client_read_cb,
					task);
}

static void
pal_http_client_send_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GTask *task = user_data;
	PalFetch *f = g_task_get_task_data(task);
	GError *error = NULL;
	goffset length;

	f->stream = soup_session_send_finish(SOUP_SESSION(source), res, &error);
	if (f->stream == NULL) {
		pal_http_client_complete(task, pal_http_client_error(f, error));
		g_object_unref(task);
		return;
	}
	/* never trust a size, but refuse early when it is announced */
	length = soup_message_headers_get_content_length(soup_message_get_response_headers(f->message));
	if (length > 0 && (guint64)length > f->max_body) {
		pal_http_client_complete(task,
					 g_error_new(PAL_ERROR,
						     PAL_ERROR_INVALID_DATA,
						     "the answer is larger than %" G_GSIZE_FORMAT " bytes",
						     f->max_body));
		g_object_unref(task);
		return;
	}
	g_input_stream_read_bytes_async(f->stream,
					PAL_HTTP_CLIENT_READ_CHUNK,
					G_PRIORITY_DEFAULT,
					f->op_cancel,
					pal_http_client_read_cb,
					task);
}

static void
pal_http_client_start(PalHttpClient *self, GTask *task)
{
	PalFetch *f = g_task_get_task_data(task);

	f->started = TRUE;
	self->in_flight++;
	/* the request's own reference: until send/read complete */
	soup_session_send_async(self->session,
				f->message,
				G_PRIORITY_DEFAULT,
				f->op_cancel,
				pal_http_client_send_cb,
				g_object_ref(task));
}

static gboolean
pal_http_client_deadline_cb(gpointer user_data)
{
	GTask *task = user_data;
	PalHttpClient *self = g_task_get_source_object(task);
	PalFetch *f = g_task_get_task_data(task);

	f->timed_out = TRUE;
	g_clear_pointer(&f->deadline, g_source_unref);
	if (f->link != NULL) {
		/* still waiting for a connection: it never started */
		g_queue_delete_link(&self->waiting, f->link);
		f->link = NULL;
		pal_http_client_complete(task,
					 g_error_new(PAL_ERROR,
						     PAL_ERROR_TIMED_OUT,
						     "no answer within %u ms (waited for a free connection)",
						     f->timeout_ms));
		g_object_unref(task); /* the queue's reference */
		return G_SOURCE_REMOVE;
	}
	/* the send or read callback completes the task with the timeout */
	g_cancellable_cancel(f->op_cancel);
	return G_SOURCE_REMOVE;
}

static void
pal_http_client_caller_cancelled_cb(GCancellable *caller, gpointer user_data)
{
	GCancellable *op_cancel = user_data;

	g_cancellable_cancel(op_cancel);
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
	PalFetch *f = g_new0(PalFetch, 1);

	g_task_set_source_tag(task, pal_http_client_fetch_async);
	f->message = g_object_ref(message);
	f->max_body = max_body;
	f->timeout_ms = MAX(timeout_ms, 1);
	f->body = g_byte_array_new();
	f->op_cancel = g_cancellable_new();
	g_task_set_task_data(task, f, (GDestroyNotify)pal_fetch_free);
	if (cancellable != NULL) {
		f->caller = g_object_ref(cancellable);
		/* the handler runs at once when @cancellable is cancelled already */
		f->caller_handler = g_cancellable_connect(cancellable,
							  G_CALLBACK(pal_http_client_caller_cancelled_cb),
							  g_object_ref(f->op_cancel),
							  g_object_unref);
	}
	f->deadline = g_timeout_source_new(f->timeout_ms);
	g_source_set_callback(f->deadline, pal_http_client_deadline_cb, task, NULL);
	g_source_attach(f->deadline, g_main_context_get_thread_default());
	if (g_cancellable_is_cancelled(f->op_cancel)) {
		pal_http_client_complete(task,
					 g_error_new_literal(G_IO_ERROR, G_IO_ERROR_CANCELLED,
							     "the request was cancelled"));
		return;
	}
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

guint
pal_http_client_get_n_waiting(PalHttpClient *self)
{
	return self->waiting.length;
}

static void
pal_http_client_dispose(GObject *object)
{
	PalHttpClient *self = PAL_HTTP_CLIENT(object);

	if (self->session != NULL)
		soup_session_abort(self->session);
	g_clear_object(&self->session);
	G_OBJECT_CLASS(pal_http_client_parent_class)->dispose(object);
}

static void
pal_http_client_class_init(PalHttpClientClass *klass)
{
	G_OBJECT_CLASS(klass)->dispose = pal_http_client_dispose;
}

static void
pal_http_client_init(PalHttpClient *self)
{
	g_queue_init(&self->waiting);
}

PalHttpClient *
pal_http_client_new(guint max_in_flight)
{
	PalHttpClient *self = g_object_new(PAL_TYPE_HTTP_CLIENT, NULL);
	g_autofree gchar *user_agent = g_strdup_printf("palaver/%s", PACKAGE_VERSION);

	self->max_in_flight = MAX(max_in_flight, 1);
	/* libsoup's defaults (10 connections, 2 per host, no timeouts) would throttle a
	 * gateway; the deadline per request is ours, the idle timeout closes unused sockets */
	self->session = soup_session_new_with_options("max-conns",
						      (gint)self->max_in_flight,
						      "max-conns-per-host",
						      (gint)self->max_in_flight,
						      "idle-timeout",
						      60,
						      "user-agent",
						      user_agent,
						      NULL);
	return self;
}
