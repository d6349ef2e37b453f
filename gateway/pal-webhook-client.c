/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#include <libsoup/soup.h>

#include "pal-http-framing.h"
#include "pal-webhook-client.h"

#define PAL_WC_MAX_HEAD	    (64 * 1024)
#define PAL_WC_MAX_BODY	    (64 * 1024)
#define PAL_WC_READ_SIZE    16384
#define PAL_WC_MAX_TARGETS  1024 /* cached URL parses; more URLs are parsed per request */

typedef struct {
	gchar *key; /* scheme://host:port */
	gboolean tls;
	GQueue idle; /* PalWcConn*, most recently used first */
} PalWcPool;

typedef struct {
	PalWcPool *pool;   /* not a reference: pools live as long as the client */
	gchar *head_start; /* "POST target HTTP/1.1\r\nHost: …\r\nUser-Agent: …\r\n" */
} PalWcTarget;

typedef struct _PalWcRequest PalWcRequest;

typedef struct {
	PalWebhookClient *self; /* not a reference */
	PalWcPool *pool;
	GIOStream *stream;
	GPollableInputStream *in;
	GPollableOutputStream *out;
	/* plain TCP: one readability watch for the connection's life. Every GSource with an fd
	 * that is attached or destroyed writes the context's eventfd (GLib 2.74), so a source per
	 * wait would cost two system calls per request. TLS may hold decrypted bytes the socket no
	 * longer shows: it waits with a pollable source of its stream each time instead */
	GSource *watch;
	PalWcRequest *request; /* the one using it, NULL while idle */
	GList link;	       /* in pool->idle */
	gint64 idle_since;
} PalWcConn;

typedef enum {
	PAL_WC_CONNECT,
	PAL_WC_WRITE,
	PAL_WC_HEAD,
	PAL_WC_BODY,
} PalWcState;

typedef enum {
	PAL_WC_BODY_NONE,
	PAL_WC_BODY_LENGTH,
	PAL_WC_BODY_CHUNKED,
	PAL_WC_BODY_EOF,
} PalWcFraming;


struct _PalWcRequest {
	PalWebhookClient *self; /* not a reference: the task holds one */
	GTask *task;		/* NULL once completed */
	PalWcPool *pool;
	gchar *url;
	PalWcConn *conn;
	GCancellable *connecting; /* while connecting only */
	GSource *io;		  /* the wait for the connection to be readable or writable */
	GSource *deadline;
	guint timeout_ms;
	gboolean timed_out;
	gboolean retried;
	gboolean reused; /* the connection was kept from an earlier request */
	PalWcState state;
	GBytes *head;
	GBytes *body;
	gsize written;
	GByteArray *buf; /* answer bytes read, not yet parsed */
	gsize scanned;	 /* bytes of buf known not to end the headers */
	gboolean answered; /* a byte of the answer arrived: never sent again */
	GError *write_error; /* sending failed: the outcome unless an answer had come first */
	/* the answer */
	guint status;
	gchar *retry_after;
	gboolean keep_alive;
	PalWcFraming framing;
	guint64 left; /* body bytes (or chunk bytes) still to come */
	PalChunkedDecoder chunked;
	gsize body_seen;
};

struct _PalWebhookClient {
	GObject parent_instance;
	GMainContext *context;
	GSocketClient *plain;
	GSocketClient *tls;
	gchar *user_agent;
	gint64 idle_timeout_us;
	GHashTable *pools;    /* key → PalWcPool */
	GHashTable *targets;  /* url → PalWcTarget */
	GHashTable *requests; /* PalWcRequest* in flight */
	GSource *sweep;
	gboolean aborted;
	guint n_idle;
	guint64 n_connects;
};

G_DEFINE_FINAL_TYPE(PalWebhookClient, pal_webhook_client, G_TYPE_OBJECT)

static void
pal_wc_request_read(PalWcRequest *r);
static void
pal_wc_request_write(PalWcRequest *r);
static void
pal_wc_request_connect(PalWcRequest *r);

static void
pal_wc_pool_free(PalWcPool *pool)
{
	g_warn_if_fail(g_queue_is_empty(&pool->idle));
	g_free(pool->key);
	g_free(pool);
}

static void
pal_wc_target_free(PalWcTarget *target)
{
	g_free(target->head_start);
	g_free(target);
}

static void
pal_wc_conn_close(PalWcConn *conn)
{
	GSocket *socket = NULL;

	if (G_IS_SOCKET_CONNECTION(conn->stream))
		socket = g_socket_connection_get_socket(G_SOCKET_CONNECTION(conn->stream));
	/* a TLS close sends close_notify with a blocking write: bound it */
	if (socket != NULL && conn->pool->tls)
		g_socket_set_timeout(socket, 1);
	if (conn->watch != NULL) {
		g_source_destroy(conn->watch);
		g_source_unref(conn->watch);
	}
	g_io_stream_close(conn->stream, NULL, NULL);
	g_object_unref(conn->stream);
	g_free(conn);
}

static void
pal_wc_pool_put(PalWebhookClient *self, PalWcConn *conn)
{
	conn->request = NULL;
	conn->idle_since = g_get_monotonic_time();
	conn->link.data = conn;
	g_queue_push_head_link(&conn->pool->idle, &conn->link);
	self->n_idle++;
}

/* a kept connection, or NULL; those idle too long are closed on the way */
static PalWcConn *
pal_wc_pool_take(PalWebhookClient *self, PalWcPool *pool)
{
	gint64 now = g_get_monotonic_time();
	GList *link;

	while ((link = g_queue_pop_head_link(&pool->idle)) != NULL) {
		PalWcConn *conn = link->data;

		self->n_idle--;
		if (now - conn->idle_since < self->idle_timeout_us)
			return conn;
		pal_wc_conn_close(conn);
	}
	return NULL;
}

static void
pal_wc_pool_close_idle(PalWebhookClient *self, PalWcPool *pool, gint64 older_than)
{
	/* the oldest are at the tail */
	while (!g_queue_is_empty(&pool->idle)) {
		PalWcConn *conn = g_queue_peek_tail(&pool->idle);

		if (conn->idle_since > older_than)
			break;
		g_queue_pop_tail_link(&pool->idle);
		self->n_idle--;
		pal_wc_conn_close(conn);
	}
}

static gboolean
pal_wc_sweep_cb(gpointer data)
{
	PalWebhookClient *self = data;
	GHashTableIter iter;
	PalWcPool *pool;
	gint64 limit = g_get_monotonic_time() - self->idle_timeout_us;

	g_hash_table_iter_init(&iter, self->pools);
	while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&pool))
		pal_wc_pool_close_idle(self, pool, limit);
	return G_SOURCE_CONTINUE;
}

static gboolean
pal_wc_is_token_text(const gchar *s)
{
	return s != NULL && strpbrk(s, "\r\n") == NULL;
}

/* the parsed form of a webhook URL, cached */
static PalWcTarget *
pal_wc_target_get(PalWebhookClient *self, const gchar *url, gboolean *cached, GError **error)
{
	PalWcTarget *target = g_hash_table_lookup(self->targets, url);
	g_autoptr(GUri) uri = NULL;
	g_autofree gchar *key = NULL;
	g_autofree gchar *host_header = NULL;
	const gchar *scheme;
	const gchar *host;
	const gchar *path;
	const gchar *query;
	gboolean tls;
	gint port;
	PalWcPool *pool;

	*cached = TRUE;
	if (target != NULL)
		return target;
	uri = g_uri_parse(url, G_URI_FLAGS_ENCODED | G_URI_FLAGS_SCHEME_NORMALIZE, error);
	if (uri == NULL)
		return NULL;
	scheme = g_uri_get_scheme(uri);
	host = g_uri_get_host(uri);
	if ((g_strcmp0(scheme, "http") != 0 && g_strcmp0(scheme, "https") != 0) || host == NULL ||
	    host[0] == '\0' || !pal_wc_is_token_text(host)) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_INVALID_ARGUMENT,
			    "%s is not an http or https URL with a host",
			    url);
		return NULL;
	}
	tls = g_str_equal(scheme, "https");
	port = g_uri_get_port(uri);
	if (port < 0)
		port = tls ? 443 : 80;
	key = g_strdup_printf("%s://%s:%d", scheme, host, port);
	pool = g_hash_table_lookup(self->pools, key);
	if (pool == NULL) {
		pool = g_new0(PalWcPool, 1);
		pool->key = g_steal_pointer(&key);
		pool->tls = tls;
		g_queue_init(&pool->idle);
		g_hash_table_insert(self->pools, pool->key, pool);
	}
	/* an IPv6 literal keeps its brackets in Host; the port only when it is not the default */
	host_header = g_strdup_printf("%s%s%s",
				      strchr(host, ':') != NULL ? "[" : "",
				      host,
				      strchr(host, ':') != NULL ? "]" : "");
	if (g_uri_get_port(uri) >= 0 && port != (tls ? 443 : 80)) {
		gchar *with_port = g_strdup_printf("%s:%d", host_header, port);
		g_free(host_header);
		host_header = with_port;
	}
	path = g_uri_get_path(uri);
	query = g_uri_get_query(uri);
	target = g_new0(PalWcTarget, 1);
	target->pool = pool;
	target->head_start = g_strdup_printf("POST %s%s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n",
					     path[0] != '\0' ? path : "/",
					     query != NULL ? "?" : "",
					     query != NULL ? query : "",
					     host_header,
					     self->user_agent);
	if (g_hash_table_size(self->targets) < PAL_WC_MAX_TARGETS)
		g_hash_table_insert(self->targets, g_strdup(url), target);
	else
		*cached = FALSE;
	return target;
}

static void
pal_wc_request_free(PalWcRequest *r)
{
	g_warn_if_fail(r->conn == NULL && r->io == NULL && r->deadline == NULL);
	g_free(r->url);
	g_bytes_unref(r->head);
	g_bytes_unref(r->body);
	if (r->buf != NULL)
		g_byte_array_unref(r->buf);
	g_free(r->retry_after);
	g_clear_error(&r->write_error);
	g_free(r);
}

static void
pal_wc_request_stop_waiting(PalWcRequest *r)
{
	if (r->io != NULL) {
		g_source_destroy(r->io);
		g_clear_pointer(&r->io, g_source_unref);
	}
}

/* the request is over: its connection is kept (a complete answer that allows it) or closed,
 * and the caller hears of it. @error: (transfer full) (nullable) */
static void
pal_wc_request_complete(PalWcRequest *r, GError *error)
{
	PalWebhookClient *self = r->self;
	GTask *task = g_steal_pointer(&r->task);

	g_hash_table_remove(self->requests, r);
	pal_wc_request_stop_waiting(r);
	if (r->deadline != NULL) {
		g_source_destroy(r->deadline);
		g_clear_pointer(&r->deadline, g_source_unref);
	}
	if (r->conn != NULL) {
		gboolean sent = r->written == g_bytes_get_size(r->head) + g_bytes_get_size(r->body);

		if (error == NULL && r->keep_alive && sent && !self->aborted)
			pal_wc_pool_put(self, r->conn);
		else
			pal_wc_conn_close(r->conn);
		r->conn = NULL;
	}
	if (error != NULL)
		g_task_return_error(task, error);
	else
		g_task_return_boolean(task, TRUE);
	g_object_unref(task);
}

/* the connection failed: before any answer on a kept connection, the receiver had most likely
 * closed it while it was idle, so the request goes once more on a new connection */
static void
pal_wc_request_failed(PalWcRequest *r, GError *error, const gchar *what)
{
	if (r->reused && !r->answered && !r->retried && !r->self->aborted) {
		g_debug("kept connection to %s failed (%s), sending again on a new one",
			r->pool->key,
			error->message);
		g_error_free(error);
		pal_wc_request_stop_waiting(r);
		pal_wc_conn_close(g_steal_pointer(&r->conn));
		r->retried = TRUE;
		g_clear_error(&r->write_error);
		r->reused = FALSE;
		r->written = 0;
		g_byte_array_set_size(r->buf, 0);
		r->scanned = 0;
		pal_wc_request_connect(r);
		return;
	}
	g_prefix_error(&error, "%s: ", what);
	pal_wc_request_complete(r, error);
}

static gboolean
pal_wc_request_ready_cb(GObject *stream, gpointer data)
{
	PalWcRequest *r = data;

	g_clear_pointer(&r->io, g_source_unref);
	if (r->state == PAL_WC_WRITE)
		pal_wc_request_write(r);
	else
		pal_wc_request_read(r);
	return G_SOURCE_REMOVE;
}

static void
pal_wc_request_wait(PalWcRequest *r)
{
	/* the connection's watch reads when the answer arrives */
	if (r->state != PAL_WC_WRITE && r->conn->watch != NULL)
		return;
	if (r->state == PAL_WC_WRITE)
		r->io = g_pollable_output_stream_create_source(r->conn->out, NULL);
	else
		r->io = g_pollable_input_stream_create_source(r->conn->in, NULL);
	g_source_set_callback(r->io, G_SOURCE_FUNC(pal_wc_request_ready_cb), r, NULL);
	g_source_attach(r->io, r->self->context);
}

static void
pal_wc_request_write(PalWcRequest *r)
{
	gsize head_len = g_bytes_get_size(r->head);
	gsize body_len = g_bytes_get_size(r->body);

	while (r->written < head_len + body_len) {
		GOutputVector vectors[2];
		guint n = 0;
		gsize done = 0;
		GPollableReturn ret;
		GError *error = NULL;

		if (r->written < head_len) {
			vectors[n].buffer = (const guint8 *)g_bytes_get_data(r->head, NULL) + r->written;
			vectors[n++].size = head_len - r->written;
		}
		if (body_len > 0) {
			gsize from = r->written > head_len ? r->written - head_len : 0;
			vectors[n].buffer = (const guint8 *)g_bytes_get_data(r->body, NULL) + from;
			vectors[n++].size = body_len - from;
		}
		ret = g_pollable_output_stream_writev_nonblocking(r->conn->out, vectors, n, &done, NULL, &error);
		if (ret == G_POLLABLE_RETURN_WOULD_BLOCK) {
			pal_wc_request_wait(r);
			return;
		}
		if (ret == G_POLLABLE_RETURN_FAILED) {
			/* a receiver may answer before it took the whole request (413, 401…) and
			 * close: an answer already read by the system counts, not the write error */
			r->write_error = error;
			r->state = PAL_WC_HEAD;
			pal_wc_request_read(r);
			return;
		}
		r->written += done;
	}
	r->state = PAL_WC_HEAD;
	pal_wc_request_read(r);
}

/* the answer's status line and headers are in the first @len bytes of r->buf */
static gboolean
pal_wc_request_parse_head(PalWcRequest *r, gsize head_len, gsize total, GError **error)
{
	g_autoptr(SoupMessageHeaders) hdrs = soup_message_headers_new(SOUP_MESSAGE_HEADERS_RESPONSE);
	g_autofree gchar *text = g_strndup((const gchar *)r->buf->data, head_len);
	SoupHTTPVersion version = SOUP_HTTP_1_0;
	guint status = 0;

	if (memchr(r->buf->data, '\0', head_len) != NULL ||
	    !soup_headers_parse_response(text, (gint)head_len, hdrs, &version, &status, NULL)) {
		g_set_error_literal(error,
				    G_IO_ERROR,
				    G_IO_ERROR_INVALID_DATA,
				    "the answer is not an HTTP/1 response");
		return FALSE;
	}
	/* an interim answer (100 Continue, 103 Early Hints) is followed by the real one */
	g_byte_array_remove_range(r->buf, 0, (guint)total);
	r->scanned = 0;
	if (status >= 100 && status < 200 && status != 101)
		return TRUE;
	r->status = status;
	g_free(r->retry_after);
	r->retry_after = g_strdup(soup_message_headers_get_one(hdrs, "Retry-After"));
	if (version == SOUP_HTTP_1_1)
		r->keep_alive = !soup_message_headers_header_contains(hdrs, "Connection", "close");
	else
		r->keep_alive = soup_message_headers_header_contains(hdrs, "Connection", "keep-alive");
	if (status == 101 || status == 204 || status == 304) {
		r->framing = PAL_WC_BODY_NONE;
	} else {
		switch (soup_message_headers_get_encoding(hdrs)) {
		case SOUP_ENCODING_CHUNKED:
			r->framing = PAL_WC_BODY_CHUNKED;
			pal_chunked_decoder_init(&r->chunked);
			break;
		case SOUP_ENCODING_CONTENT_LENGTH:
			r->framing = PAL_WC_BODY_LENGTH;
			r->left = (guint64)soup_message_headers_get_content_length(hdrs);
			break;
		case SOUP_ENCODING_NONE:
			r->framing = PAL_WC_BODY_NONE;
			break;
		case SOUP_ENCODING_EOF:
		case SOUP_ENCODING_UNRECOGNIZED:
		case SOUP_ENCODING_BYTERANGES:
		default:
			/* the body ends when the receiver closes: the connection cannot be kept */
			r->framing = PAL_WC_BODY_EOF;
			r->keep_alive = FALSE;
			break;
		}
	}
	r->state = PAL_WC_BODY;
	return TRUE;
}

/* reads past body bytes; TRUE when the answer is complete */
static gboolean
pal_wc_request_skip_body(PalWcRequest *r, const guint8 *data, gsize len, GError **error)
{
	gsize used = len;
	gboolean done = FALSE;

	switch (r->framing) {
	case PAL_WC_BODY_NONE:
		used = 0;
		done = TRUE;
		break;
	case PAL_WC_BODY_LENGTH:
		used = (gsize)MIN((guint64)len, r->left);
		r->left -= used;
		done = r->left == 0;
		break;
	case PAL_WC_BODY_CHUNKED: {
		gssize n = pal_chunked_decoder_feed(&r->chunked, data, len, NULL, &done, error);
		if (n < 0)
			return FALSE;
		used = (gsize)n;
		break;
	}
	case PAL_WC_BODY_EOF:
	default:
		break;
	}
	/* bytes past the end of the answer: nothing we asked for, so the connection is not kept */
	if (done && used < len)
		r->keep_alive = FALSE;
	r->body_seen += used;
	/* a receiver that sends more than we care to read past: its status counts, its connection
	 * is closed */
	if (!done && r->body_seen > PAL_WC_MAX_BODY) {
		r->keep_alive = FALSE;
		done = TRUE;
	}
	return done;
}


/* what the bytes read so far make of the answer; TRUE when it is complete */
static gboolean
pal_wc_request_parse(PalWcRequest *r, GError **error)
{
	while (r->state == PAL_WC_HEAD) {
		gsize head_len = 0;
		gsize end = pal_http_find_head_end(r->buf->data, r->buf->len, &r->scanned, &head_len);

		if (end == 0) {
			if (r->buf->len > PAL_WC_MAX_HEAD) {
				g_set_error(error,
					    G_IO_ERROR,
					    G_IO_ERROR_MESSAGE_TOO_LARGE,
					    "the answer's headers are larger than %u KiB",
					    PAL_WC_MAX_HEAD / 1024);
				return FALSE;
			}
			return FALSE;
		}
		if (!pal_wc_request_parse_head(r, head_len, end, error))
			return FALSE;
	}
	if (r->buf->len > 0) {
		gboolean done = pal_wc_request_skip_body(r, r->buf->data, r->buf->len, error);
		g_byte_array_set_size(r->buf, 0);
		return done;
	}
	return r->framing == PAL_WC_BODY_NONE || (r->framing == PAL_WC_BODY_LENGTH && r->left == 0);
}

static void
pal_wc_request_read(PalWcRequest *r)
{
	for (;;) {
		GError *error = NULL;
		gssize n;
		guint old = r->buf->len;

		g_byte_array_set_size(r->buf, old + PAL_WC_READ_SIZE);
		n = g_pollable_input_stream_read_nonblocking(r->conn->in,
							     r->buf->data + old,
							     PAL_WC_READ_SIZE,
							     NULL,
							     &error);
		g_byte_array_set_size(r->buf, old + (guint)MAX(n, 0));
		if (n < 0 && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
			g_error_free(error);
			if (r->write_error != NULL) {
				pal_wc_request_failed(r, g_steal_pointer(&r->write_error), "cannot send the request");
				return;
			}
			/* only an interim answer (100 Continue) came while the request was being
			 * sent: the receiver waits for the rest of it */
			if (r->state == PAL_WC_HEAD &&
			    r->written < g_bytes_get_size(r->head) + g_bytes_get_size(r->body)) {
				r->state = PAL_WC_WRITE;
				pal_wc_request_write(r);
				return;
			}
			pal_wc_request_wait(r);
			return;
		}
		if (n <= 0) {
			/* the end of the connection: it ends a body without length; after the status
			 * line any other end still leaves the status to count */
			if (r->state == PAL_WC_BODY) {
				g_clear_error(&error);
				r->keep_alive = FALSE;
				pal_wc_request_complete(r, NULL);
				return;
			}
			if (r->write_error != NULL && !r->answered) {
				g_clear_error(&error);
				pal_wc_request_failed(r, g_steal_pointer(&r->write_error), "cannot send the request");
				return;
			}
			if (error == NULL)
				error = g_error_new_literal(G_IO_ERROR,
							    G_IO_ERROR_CONNECTION_CLOSED,
							    "the receiver closed the connection");
			pal_wc_request_failed(r, error, "no answer");
			return;
		}
		r->answered = TRUE;
		if (pal_wc_request_parse(r, &error)) {
			pal_wc_request_complete(r, NULL);
			return;
		}
		if (error != NULL) {
			/* a bad body after a good status line: the status counts, the connection goes */
			if (r->state == PAL_WC_BODY) {
				g_debug("answer from %s: %s", r->pool->key, error->message);
				g_error_free(error);
				r->keep_alive = FALSE;
				pal_wc_request_complete(r, NULL);
				return;
			}
			pal_wc_request_complete(r, error);
			return;
		}
	}
}

static void
pal_wc_request_start(PalWcRequest *r, gboolean reused)
{
	r->conn->request = r;
	r->reused = reused;
	r->state = PAL_WC_WRITE;
	r->keep_alive = FALSE;
	r->framing = PAL_WC_BODY_NONE;
	r->left = 0;
	r->body_seen = 0;
	pal_wc_request_write(r);
}

/* the plain connection is readable (or closed): the answer of its request, an answer before
 * the request was all sent, or, while idle, the receiver closing it */
static gboolean
pal_wc_conn_watch_cb(GSocket *socket, GIOCondition condition, gpointer data)
{
	PalWcConn *conn = data;
	PalWcRequest *r = conn->request;

	if (r == NULL) {
		PalWebhookClient *self = conn->self;

		g_queue_unlink(&conn->pool->idle, &conn->link);
		self->n_idle--;
		pal_wc_conn_close(conn);
		return G_SOURCE_REMOVE;
	}
	if (r->state == PAL_WC_WRITE) {
		/* answered early (413, 401…): the rest of the request is not sent, the connection
		 * is not kept */
		pal_wc_request_stop_waiting(r);
		r->state = PAL_WC_HEAD;
	}
	pal_wc_request_read(r);
	return G_SOURCE_CONTINUE;
}

static void
pal_wc_request_connected_cb(GObject *source, GAsyncResult *res, gpointer data)
{
	PalWcRequest *r = data;
	GError *error = NULL;
	g_autoptr(GSocketConnection) connection =
	    g_socket_client_connect_to_uri_finish(G_SOCKET_CLIENT(source), res, &error);
	GIOStream *stream = G_IO_STREAM(connection);
	PalWcConn *conn;

	g_clear_object(&r->connecting);
	if (connection != NULL && (r->timed_out || r->self->aborted)) {
		g_io_stream_close(stream, NULL, NULL);
		g_clear_object(&connection);
	}
	if (connection == NULL) {
		/* a cancelled connect was cancelled by the deadline or by abort() */
		if (r->timed_out || r->self->aborted || error == NULL) {
			g_clear_error(&error);
			if (r->timed_out)
				error = g_error_new(G_IO_ERROR,
						    G_IO_ERROR_TIMED_OUT,
						    "no answer within %u ms (while connecting)",
						    r->timeout_ms);
			else
				error = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_CANCELLED, "delivery stopped");
		}
		pal_wc_request_complete(r, error);
		return;
	}
	r->self->n_connects++;
	if (G_IS_TCP_WRAPPER_CONNECTION(stream)) {
		GIOStream *base = g_tcp_wrapper_connection_get_base_io_stream(G_TCP_WRAPPER_CONNECTION(stream));
		/* many receivers end TLS without close_notify; the body's framing tells its end */
		if (G_IS_TLS_CONNECTION(base))
			g_tls_connection_set_require_close_notify(G_TLS_CONNECTION(base), FALSE);
	}
	/* one write per request, answered before the next: Nagle would only add delay */
	(void)g_socket_set_option(g_socket_connection_get_socket(connection), IPPROTO_TCP, TCP_NODELAY, 1, NULL);
	conn = g_new0(PalWcConn, 1);
	conn->self = r->self;
	conn->pool = r->pool;
	if (!r->pool->tls) {
		conn->watch = g_socket_create_source(g_socket_connection_get_socket(connection),
						     G_IO_IN | G_IO_HUP | G_IO_ERR,
						     NULL);
		g_source_set_callback(conn->watch, G_SOURCE_FUNC(pal_wc_conn_watch_cb), conn, NULL);
		g_source_attach(conn->watch, r->self->context);
	}
	conn->stream = G_IO_STREAM(g_steal_pointer(&connection));
	conn->in = G_POLLABLE_INPUT_STREAM(g_io_stream_get_input_stream(conn->stream));
	conn->out = G_POLLABLE_OUTPUT_STREAM(g_io_stream_get_output_stream(conn->stream));
	r->conn = conn;
	pal_wc_request_start(r, FALSE);
}

static void
pal_wc_request_connect(PalWcRequest *r)
{
	PalWebhookClient *self = r->self;

	r->state = PAL_WC_CONNECT;
	r->connecting = g_cancellable_new();
	g_socket_client_connect_to_uri_async(r->pool->tls ? self->tls : self->plain,
					     r->url,
					     r->pool->tls ? 443 : 80,
					     r->connecting,
					     pal_wc_request_connected_cb,
					     r);
}

static gboolean
pal_wc_request_deadline_cb(gpointer data)
{
	PalWcRequest *r = data;

	g_clear_pointer(&r->deadline, g_source_unref);
	r->timed_out = TRUE;
	/* a connect in progress ends in its callback, which completes the request */
	if (r->connecting != NULL) {
		g_cancellable_cancel(r->connecting);
		return G_SOURCE_REMOVE;
	}
	pal_wc_request_complete(r,
				g_error_new(G_IO_ERROR,
					    G_IO_ERROR_TIMED_OUT,
					    "no answer within %u ms",
					    r->timeout_ms));
	return G_SOURCE_REMOVE;
}

const gchar *
pal_webhook_client_lookup_host(PalWebhookClient *self, const gchar *url)
{
	gboolean cached = TRUE;
	PalWcTarget *target;
	const gchar *key;

	g_return_val_if_fail(PAL_IS_WEBHOOK_CLIENT(self), NULL);
	target = pal_wc_target_get(self, url, &cached, NULL);
	if (target == NULL)
		return NULL;
	key = target->pool->key; /* pools live as long as the client */
	if (!cached)
		pal_wc_target_free(target);
	return key;
}

void
pal_webhook_client_post_async(PalWebhookClient *self,
			      const gchar *url,
			      const gchar *const *headers,
			      const gchar *content_type,
			      GBytes *body,
			      guint timeout_ms,
			      GAsyncReadyCallback callback,
			      gpointer user_data)
{
	g_autoptr(GTask) task = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GString) head = NULL;
	PalWcTarget *target;
	PalWcRequest *r;
	PalWcConn *conn;
	gboolean cached = TRUE;

	g_return_if_fail(PAL_IS_WEBHOOK_CLIENT(self));
	g_return_if_fail(url != NULL && body != NULL);

	task = g_task_new(self, NULL, callback, user_data);
	g_task_set_source_tag(task, pal_webhook_client_post_async);
	if (self->aborted) {
		g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "delivery stopped");
		return;
	}
	if (content_type != NULL && !pal_wc_is_token_text(content_type)) {
		g_task_return_new_error(task,
					G_IO_ERROR,
					G_IO_ERROR_INVALID_ARGUMENT,
					"the Content-Type cannot be sent: it has a line break");
		return;
	}
	target = pal_wc_target_get(self, url, &cached, &error);
	if (target == NULL) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	head = g_string_sized_new(512);
	g_string_append(head, target->head_start);
	g_string_append_printf(head,
			       "Content-Type: %s\r\nContent-Length: %" G_GSIZE_FORMAT "\r\n",
			       content_type != NULL ? content_type : "application/octet-stream",
			       g_bytes_get_size(body));
	for (guint i = 0; headers != NULL && headers[i] != NULL && headers[i + 1] != NULL; i += 2) {
		/* a line break in a name or value would start a header (or a request) of its own */
		if (!pal_wc_is_token_text(headers[i]) || !pal_wc_is_token_text(headers[i + 1]) ||
		    headers[i][0] == '\0' || strchr(headers[i], ':') != NULL) {
			if (!cached)
				pal_wc_target_free(target);
			g_task_return_new_error(task,
						G_IO_ERROR,
						G_IO_ERROR_INVALID_ARGUMENT,
						"header %s cannot be sent: its name or value has a line break or colon",
						headers[i]);
			return;
		}
		g_string_append_printf(head, "%s: %s\r\n", headers[i], headers[i + 1]);
	}
	g_string_append(head, "\r\n");

	r = g_new0(PalWcRequest, 1);
	r->self = self;
	r->task = g_steal_pointer(&task);
	r->pool = target->pool;
	r->url = g_strdup(url);
	r->timeout_ms = timeout_ms;
	r->head = g_string_free_to_bytes(g_steal_pointer(&head));
	r->body = g_bytes_ref(body);
	r->buf = g_byte_array_sized_new(PAL_WC_READ_SIZE);
	g_task_set_task_data(r->task, r, (GDestroyNotify)pal_wc_request_free);
	if (!cached)
		pal_wc_target_free(target);
	g_hash_table_add(self->requests, r);
	r->deadline = g_timeout_source_new(MAX(timeout_ms, 1));
	g_source_set_callback(r->deadline, pal_wc_request_deadline_cb, r, NULL);
	g_source_attach(r->deadline, self->context);

	conn = pal_wc_pool_take(self, r->pool);
	if (conn != NULL) {
		r->conn = conn;
		pal_wc_request_start(r, TRUE);
	} else {
		pal_wc_request_connect(r);
	}
}

gboolean
pal_webhook_client_post_finish(PalWebhookClient *self,
			       GAsyncResult *result,
			       guint *status,
			       gchar **retry_after,
			       GError **error)
{
	PalWcRequest *r;

	g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
	if (!g_task_propagate_boolean(G_TASK(result), error))
		return FALSE;
	r = g_task_get_task_data(G_TASK(result));
	if (status != NULL)
		*status = r->status;
	if (retry_after != NULL)
		*retry_after = g_steal_pointer(&r->retry_after);
	return TRUE;
}

void
pal_webhook_client_abort(PalWebhookClient *self)
{
	g_autoptr(GPtrArray) active = g_ptr_array_new();
	GHashTableIter iter;
	PalWcRequest *r;
	PalWcPool *pool;

	g_return_if_fail(PAL_IS_WEBHOOK_CLIENT(self));
	self->aborted = TRUE;
	g_hash_table_iter_init(&iter, self->requests);
	while (g_hash_table_iter_next(&iter, (gpointer *)&r, NULL))
		g_ptr_array_add(active, r);
	for (guint i = 0; i < active->len; i++) {
		r = g_ptr_array_index(active, i);
		if (r->connecting != NULL)
			g_cancellable_cancel(r->connecting); /* its callback completes it */
		else
			pal_wc_request_complete(r,
						g_error_new_literal(G_IO_ERROR,
								    G_IO_ERROR_CANCELLED,
								    "delivery stopped"));
	}
	g_hash_table_iter_init(&iter, self->pools);
	while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&pool))
		pal_wc_pool_close_idle(self, pool, G_MAXINT64);
}

guint
pal_webhook_client_get_n_idle(PalWebhookClient *self)
{
	g_return_val_if_fail(PAL_IS_WEBHOOK_CLIENT(self), 0);
	return self->n_idle;
}

guint64
pal_webhook_client_get_n_connects(PalWebhookClient *self)
{
	g_return_val_if_fail(PAL_IS_WEBHOOK_CLIENT(self), 0);
	return self->n_connects;
}

static void
pal_webhook_client_finalize(GObject *object)
{
	PalWebhookClient *self = PAL_WEBHOOK_CLIENT(object);
	GHashTableIter iter;
	PalWcPool *pool;

	/* every request holds a reference (its task): none is left here */
	g_hash_table_iter_init(&iter, self->pools);
	while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&pool))
		pal_wc_pool_close_idle(self, pool, G_MAXINT64);
	if (self->sweep != NULL) {
		g_source_destroy(self->sweep);
		g_source_unref(self->sweep);
	}
	g_hash_table_unref(self->requests);
	g_hash_table_unref(self->targets);
	g_hash_table_unref(self->pools);
	g_object_unref(self->plain);
	g_object_unref(self->tls);
	g_free(self->user_agent);
	g_main_context_unref(self->context);
	G_OBJECT_CLASS(pal_webhook_client_parent_class)->finalize(object);
}

static void
pal_webhook_client_class_init(PalWebhookClientClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = pal_webhook_client_finalize;
}

static void
pal_webhook_client_init(PalWebhookClient *self)
{
	self->pools = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)pal_wc_pool_free);
	self->targets = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)pal_wc_target_free);
	self->requests = g_hash_table_new(g_direct_hash, g_direct_equal);
}

PalWebhookClient *
pal_webhook_client_new(const gchar *user_agent, guint idle_timeout_s, gboolean use_proxy)
{
	PalWebhookClient *self = g_object_new(PAL_TYPE_WEBHOOK_CLIENT, NULL);

	self->context = g_main_context_ref_thread_default();
	self->user_agent = g_strdup(user_agent != NULL ? user_agent : "palaver");
	self->idle_timeout_us = (gint64)MAX(idle_timeout_s, 1) * G_USEC_PER_SEC;
	self->plain = g_socket_client_new();
	self->tls = g_socket_client_new();
	g_socket_client_set_tls(self->tls, TRUE);
	g_socket_client_set_enable_proxy(self->plain, use_proxy);
	g_socket_client_set_enable_proxy(self->tls, use_proxy);
	self->sweep = g_timeout_source_new_seconds(MIN(MAX(idle_timeout_s, 1), 5));
	g_source_set_static_name(self->sweep, "pal-webhook-client-sweep");
	g_source_set_callback(self->sweep, pal_wc_sweep_cb, self, NULL);
	g_source_attach(self->sweep, self->context);
	return self;
}
