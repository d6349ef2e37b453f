/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pal-config.h"
#include "pal-error.h"
#include "pal-http-framing.h"
#include "pal-http-server.h"

#define PAL_HTTP_MAX_HEAD    (64 * 1024) /* request line and headers */
#define PAL_HTTP_READ_SIZE   16384
#define PAL_HTTP_SWEEP_MS    250 /* how often deadlines are checked */

typedef enum {
	PAL_CONN_READ_HEAD, /* waiting for (the rest of) a request's head */
	PAL_CONN_READ_BODY,
	PAL_CONN_HANDLING, /* the handler has the request; its answer may still be written */
} PalConnState;

typedef struct _PalHttpConn PalHttpConn;

struct _PalHttpExchange {
	gint ref_count;
	PalHttpConn *conn; /* NULL once the connection is gone */
	gchar *method;
	gchar *path;
	gchar *query_string;
	GHashTable *query;
	SoupHTTPVersion version;
	SoupMessageHeaders *request_headers;
	SoupMessageHeaders *response_headers;
	GByteArray *body; /* NULL unless a POST body is kept */
	GBytes *body_bytes;
	gboolean too_large;
	guint error_status;
	gchar *error_message;
	gboolean responded;
};

struct _PalHttpConn {
	PalHttpServer *server; /* not a reference: connections die with their server */
	GSocket *socket;
	GSource *watch;	    /* readable: for the connection's life, except while its buffer is full */
	GSource *out_watch; /* while an answer waits for room in the socket */
	GByteArray *in;	    /* bytes read and not parsed yet */
	gboolean in_large;  /* @in held more than a small request: dropped when empty */
	GByteArray *out;    /* answer bytes not sent yet, from out_sent */
	gsize out_sent;
	gsize scanned; /* bytes of @in known not to end the head */
	PalConnState state;
	PalHttpExchange *ex; /* the request being read or handled (a reference) */
	gint64 deadline;     /* monotonic; 0: none (a handler is working) */
	gboolean close_after;
	/* parsing: answers written meanwhile (a handler that answers at once) do not parse the next
	 * request from inside (pipelined requests would recurse once each), and a close waits for
	 * the parse to unwind */
	gboolean in_process;
	gboolean dead;
	gboolean eof;	       /* the client is done sending (a half-close) */
	gboolean head_started; /* a request's first byte arrived: its header timeout runs */
	gboolean keep_body;
	gboolean chunked;
	guint64 body_left; /* Content-Length bytes still to read */
	gsize body_read;
	PalChunkedDecoder decoder;
};

typedef struct {
	GSocket *socket;
	GSource *source; /* NULL while accepting is paused */
} PalListenSocket;

struct _PalHttpServer {
	GObject parent_instance;
	GMainContext *context;
	PalHttpHandler handler;
	gpointer handler_data;
	GArray *listen_sockets; /* PalListenSocket */
	GHashTable *conns;	/* PalHttpConn* */
	GSource *sweep;
	GSource *accept_retry; /* out of file descriptors: accepting resumes after a pause */
	/* every read goes here first: a connection's buffer only holds what it received, so
	 * thousands of idle connections hold no read buffer */
	guint8 scratch[PAL_HTTP_READ_SIZE];
	gint64 header_timeout_us;
	gint64 idle_timeout_us;
	guint max_connections;
	gsize max_body;
	/* the Date header, made once a second */
	gint64 date_second;
	gchar date[64];
};

G_DEFINE_FINAL_TYPE(PalHttpServer, pal_http_server, G_TYPE_OBJECT)

static void
pal_http_conn_process(PalHttpConn *conn);
static void
pal_http_conn_flush(PalHttpConn *conn);

/* exchange */

static PalHttpExchange *
pal_http_exchange_new(PalHttpConn *conn)
{
	PalHttpExchange *ex = g_new0(PalHttpExchange, 1);

	ex->ref_count = 1;
	ex->conn = conn;
	ex->request_headers = soup_message_headers_new(SOUP_MESSAGE_HEADERS_REQUEST);
	ex->response_headers = soup_message_headers_new(SOUP_MESSAGE_HEADERS_RESPONSE);
	return ex;
}

PalHttpExchange *
pal_http_exchange_ref(PalHttpExchange *ex)
{
	ex->ref_count++; /* one thread only: the worker's */
	return ex;
}

void
pal_http_exchange_unref(PalHttpExchange *ex)
{
	if (--ex->ref_count > 0)
		return;
	g_free(ex->method);
	g_free(ex->path);
	g_free(ex->query_string);
	if (ex->query != NULL)
		g_hash_table_unref(ex->query);
	soup_message_headers_unref(ex->request_headers);
	soup_message_headers_unref(ex->response_headers);
	if (ex->body != NULL)
		g_byte_array_unref(ex->body);
	if (ex->body_bytes != NULL)
		g_bytes_unref(ex->body_bytes);
	g_free(ex->error_message);
	g_free(ex);
}

const gchar *
pal_http_exchange_get_method(PalHttpExchange *ex)
{
	return ex->method != NULL ? ex->method : "";
}

const gchar *
pal_http_exchange_get_path(PalHttpExchange *ex)
{
	return ex->path != NULL ? ex->path : "";
}

GHashTable *
pal_http_exchange_get_query(PalHttpExchange *ex)
{
	if (ex->query == NULL && ex->query_string != NULL)
		ex->query = soup_form_decode(ex->query_string);
	return ex->query;
}

SoupMessageHeaders *
pal_http_exchange_get_request_headers(PalHttpExchange *ex)
{
	return ex->request_headers;
}

GBytes *
pal_http_exchange_get_body(PalHttpExchange *ex)
{
	if (ex->body_bytes == NULL && ex->body != NULL)
		ex->body_bytes = g_byte_array_free_to_bytes(g_steal_pointer(&ex->body));
	return ex->body_bytes;
}

gboolean
pal_http_exchange_get_body_too_large(PalHttpExchange *ex)
{
	return ex->too_large;
}

guint
pal_http_exchange_get_error(PalHttpExchange *ex, const gchar **message)
{
	if (message != NULL)
		*message = ex->error_message;
	return ex->error_status;
}

SoupMessageHeaders *
pal_http_exchange_get_response_headers(PalHttpExchange *ex)
{
	return ex->response_headers;
}

gboolean
pal_http_exchange_is_gone(PalHttpExchange *ex)
{
	return ex->conn == NULL;
}

static const gchar *
pal_http_server_date(PalHttpServer *self)
{
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	if (now != self->date_second) {
		g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(now);
		g_autofree gchar *text = soup_date_time_to_string(dt, SOUP_DATE_HTTP);

		g_strlcpy(self->date, text != NULL ? text : "", sizeof(self->date));
		self->date_second = now;
	}
	return self->date;
}

void
pal_http_exchange_respond(PalHttpExchange *ex,
			  guint status,
			  const gchar *content_type,
			  const gchar *body,
			  gsize len)
{
	PalHttpConn *conn = ex->conn;
	g_autoptr(GString) head = NULL;
	SoupMessageHeadersIter iter;
	const gchar *name;
	const gchar *value;
	const gchar *phrase;

	if (ex->responded || conn == NULL || conn->dead)
		return;
	ex->responded = TRUE;
	/* an answer before the whole body was read leaves the rest unread: the connection
	 * cannot carry another request */
	if (conn->state != PAL_CONN_HANDLING || ex->too_large || ex->error_status != 0)
		conn->close_after = TRUE;
	if (soup_message_headers_header_contains(ex->response_headers, "Connection", "close"))
		conn->close_after = TRUE;
	else if (conn->close_after)
		soup_message_headers_replace(ex->response_headers, "Connection", "close");
	else if (ex->version == SOUP_HTTP_1_0)
		/* an HTTP/1.0 client keeps the connection only when told so */
		soup_message_headers_replace(ex->response_headers, "Connection", "keep-alive");
	phrase = status == 431 ? "Request Header Fields Too Large" : soup_status_get_phrase(status);
	head = g_string_sized_new(256 + len);
	g_string_append_printf(head,
			       "HTTP/1.1 %u %s\r\nDate: %s\r\nServer: palaver/" PACKAGE_VERSION "\r\n",
			       status,
			       phrase != NULL ? phrase : "Unknown",
			       pal_http_server_date(conn->server));
	if (content_type != NULL && status != 204 && status != 304)
		g_string_append_printf(head, "Content-Type: %s\r\n", content_type);
	if (status != 204 && status != 304)
		g_string_append_printf(head, "Content-Length: %" G_GSIZE_FORMAT "\r\n", body != NULL ? len : 0);
	soup_message_headers_iter_init(&iter, ex->response_headers);
	while (soup_message_headers_iter_next(&iter, &name, &value)) {
		/* (our own handlers' values: no line breaks) */
		g_string_append_printf(head, "%s: %s\r\n", name, value);
	}
	g_string_append(head, "\r\n");
	if (body != NULL && len > 0 && g_strcmp0(ex->method, "HEAD") != 0)
		g_string_append_len(head, body, (gssize)len);
	g_byte_array_append(conn->out, (const guint8 *)head->str, (guint)head->len);
	pal_http_conn_flush(conn);
}

/* connection */

static void
pal_http_conn_free(PalHttpConn *conn)
{
	if (conn->watch != NULL) {
		g_source_destroy(conn->watch);
		g_source_unref(conn->watch);
	}
	if (conn->out_watch != NULL) {
		g_source_destroy(conn->out_watch);
		g_source_unref(conn->out_watch);
	}
	if (conn->ex != NULL) {
		conn->ex->conn = NULL;
		pal_http_exchange_unref(conn->ex);
	}
	/* g_socket_close(), not shutdown() (PLATFORM-NOTES 3) */
	g_socket_close(conn->socket, NULL);
	g_object_unref(conn->socket);
	g_byte_array_unref(conn->in);
	g_byte_array_unref(conn->out);
	g_free(conn);
}

static void
pal_http_conn_close(PalHttpConn *conn)
{
	if (conn->in_process) {
		conn->dead = TRUE;
		return;
	}
	g_hash_table_remove(conn->server->conns, conn);
}

static gboolean
pal_http_conn_readable_cb(GSocket *socket, GIOCondition condition, gpointer data);

static void
pal_http_conn_watch(PalHttpConn *conn)
{
	conn->watch = g_socket_create_source(conn->socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
	g_source_set_callback(conn->watch, G_SOURCE_FUNC(pal_http_conn_readable_cb), conn, NULL);
	g_source_attach(conn->watch, conn->server->context);
}

/* the next request may start: after an answer was sent in full */
static void
pal_http_conn_next(PalHttpConn *conn)
{
	PalHttpServer *self = conn->server;

	if (conn->close_after) {
		pal_http_conn_close(conn);
		return;
	}
	if (conn->ex != NULL) {
		conn->ex->conn = NULL; /* answered: nothing more goes to this connection */
		pal_http_exchange_unref(conn->ex);
		conn->ex = NULL;
	}
	/* a large request's buffer is not kept for the connection's idle life */
	if (conn->in->len == 0 && conn->in_large) {
		g_byte_array_unref(conn->in);
		conn->in = g_byte_array_new();
		conn->in_large = FALSE;
	}
	conn->state = PAL_CONN_READ_HEAD;
	conn->scanned = 0;
	conn->head_started = FALSE;
	conn->deadline = g_get_monotonic_time() + (conn->in->len > 0 ? self->header_timeout_us : self->idle_timeout_us);
	if (conn->watch == NULL && !conn->eof)
		pal_http_conn_watch(conn);
	if (!conn->in_process)
		pal_http_conn_process(conn);
}

static gboolean
pal_http_conn_writable_cb(GSocket *socket, GIOCondition condition, gpointer data)
{
	PalHttpConn *conn = data;

	g_clear_pointer(&conn->out_watch, g_source_unref);
	pal_http_conn_flush(conn);
	return G_SOURCE_REMOVE;
}

/* writes what the socket takes; once the answer is out, the next request */
static void
pal_http_conn_flush(PalHttpConn *conn)
{
	while (conn->out_sent < conn->out->len) {
		gssize n = send(g_socket_get_fd(conn->socket),
				conn->out->data + conn->out_sent,
				conn->out->len - conn->out_sent,
				MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (conn->out_watch == NULL) {
				conn->out_watch = g_socket_create_source(conn->socket, G_IO_OUT, NULL);
				g_source_set_callback(conn->out_watch,
						      G_SOURCE_FUNC(pal_http_conn_writable_cb),
						      conn,
						      NULL);
				g_source_attach(conn->out_watch, conn->server->context);
			}
			/* a client that does not read its answers gets the header timeout */
			conn->deadline = g_get_monotonic_time() + conn->server->header_timeout_us;
			return;
		}
		if (n <= 0) {
			pal_http_conn_close(conn);
			return;
		}
		conn->out_sent += (gsize)n;
	}
	g_byte_array_set_size(conn->out, 0);
	conn->out_sent = 0;
	/* an interim 100 Continue is flushed while the body is still to come */
	if (conn->state == PAL_CONN_HANDLING && conn->ex != NULL && conn->ex->responded)
		pal_http_conn_next(conn);
}

/* the request is complete (or refused before its body): to the handler */
static void
pal_http_conn_dispatch(PalHttpConn *conn)
{
	PalHttpServer *self = conn->server;
	g_autoptr(PalHttpExchange) ex = pal_http_exchange_ref(conn->ex);

	conn->state = PAL_CONN_HANDLING;
	conn->deadline = 0; /* handlers bound their own work (PLATFORM-NOTES 7) */
	self->handler(ex, self->handler_data);
	/* a handler that answers nothing, ever, would hold the connection: none of ours does */
}

/* a request that is not HTTP/1 as we take it: answered by the handler, then closed */
static void
pal_http_conn_refuse(PalHttpConn *conn, guint status, const gchar *message)
{
	conn->ex->error_status = status;
	conn->ex->error_message = g_strdup(message);
	conn->close_after = TRUE;
	pal_http_conn_dispatch(conn);
}


/* what libsoup takes and a proxy in front of palaverd may frame otherwise (RFC 9112 §5.1, §6.3):
 * whitespace between a field name and its colon, more than one Content-Length, or one that is
 * not all digits */
static gboolean
pal_http_head_is_ambiguous(const gchar *text, SoupMessageHeaders *headers)
{
	const gchar *cl = soup_message_headers_get_list(headers, "Content-Length");

	for (const gchar *nl = strchr(text, '\n'); nl != NULL; nl = strchr(nl + 1, '\n')) {
		const gchar *name = nl + 1;
		gsize n = strcspn(name, ":\r\n");

		if (name[0] == ' ' || name[0] == '\t')
			continue; /* an obs-fold continuation */
		if (name[n] == ':' && n > 0 && (name[n - 1] == ' ' || name[n - 1] == '\t'))
			return TRUE;
	}
	return cl != NULL && (cl[0] == '\0' || cl[strspn(cl, "0123456789")] != '\0');
}

/* the request line and headers are in @in: a new exchange, and how its body comes */
static void
pal_http_conn_start_request(PalHttpConn *conn, gsize head_len, gsize end)
{
	PalHttpServer *self = conn->server;
	PalHttpExchange *ex = pal_http_exchange_new(conn);
	g_autofree gchar *text = g_strndup((const gchar *)conn->in->data, head_len);
	g_autofree gchar *target = NULL;
	gchar *method = NULL;
	guint status;

	conn->ex = ex;
	conn->scanned = 0;
	conn->head_started = FALSE;
	conn->body_read = 0;
	conn->body_left = 0;
	conn->chunked = FALSE;
	conn->keep_body = FALSE;
	status = memchr(conn->in->data, '\0', head_len) != NULL
		     ? SOUP_STATUS_BAD_REQUEST
		     : soup_headers_parse_request(text, (int)head_len, ex->request_headers, &method, &target, &ex->version);
	g_byte_array_remove_range(conn->in, 0, (guint)end);
	if (status != SOUP_STATUS_OK) {
		g_free(method);
		pal_http_conn_refuse(conn, status, "the request is not valid HTTP/1");
		return;
	}
	ex->method = method;
	/* origin form ("/path?query"), or absolute form (a proxy's "http://host/path?query") */
	if (target[0] != '/' && target[0] != '*') {
		g_autoptr(GUri) uri = g_uri_parse(target, G_URI_FLAGS_ENCODED, NULL);
		if (uri == NULL) {
			pal_http_conn_refuse(conn, SOUP_STATUS_BAD_REQUEST, "the request target is not a URL");
			return;
		}
		ex->path = g_strdup(g_uri_get_path(uri)[0] != '\0' ? g_uri_get_path(uri) : "/");
		ex->query_string = g_strdup(g_uri_get_query(uri));
	} else {
		gchar *q = strchr(target, '?');
		if (q != NULL) {
			ex->query_string = g_strdup(q + 1);
			*q = '\0';
		}
		ex->path = g_strdup(target);
	}
	if (ex->version == SOUP_HTTP_1_0)
		conn->close_after =
		    !soup_message_headers_header_contains(ex->request_headers, "Connection", "keep-alive");
	else
		conn->close_after = soup_message_headers_header_contains(ex->request_headers, "Connection", "close");
	if (pal_http_head_is_ambiguous(text, ex->request_headers)) {
		pal_http_conn_refuse(conn, SOUP_STATUS_BAD_REQUEST, "the request's framing is ambiguous");
		return;
	}
	/* both: chunked wins, and the connection cannot be trusted with another request
	 * (RFC 9112 §6.1) */
	if (soup_message_headers_get_one(ex->request_headers, "Transfer-Encoding") != NULL &&
	    soup_message_headers_get_one(ex->request_headers, "Content-Length") != NULL)
		conn->close_after = TRUE;

	/* only POST bodies are kept; any other is read past, with the same bound */
	conn->keep_body = g_str_equal(ex->method, "POST");
	switch (soup_message_headers_get_encoding(ex->request_headers)) {
	case SOUP_ENCODING_NONE:
		break;
	case SOUP_ENCODING_CONTENT_LENGTH:
		conn->body_left = (guint64)soup_message_headers_get_content_length(ex->request_headers);
		if (conn->body_left > self->max_body) {
			/* refused before a byte of it is read: the connection closes after the 413 */
			ex->too_large = TRUE;
			conn->close_after = TRUE;
			pal_http_conn_dispatch(conn);
			return;
		}
		break;
	case SOUP_ENCODING_CHUNKED:
		conn->chunked = TRUE;
		pal_chunked_decoder_init(&conn->decoder);
		break;
	case SOUP_ENCODING_EOF:
	case SOUP_ENCODING_BYTERANGES:
	case SOUP_ENCODING_UNRECOGNIZED:
	default:
		pal_http_conn_refuse(conn, SOUP_STATUS_NOT_IMPLEMENTED, "unsupported Transfer-Encoding");
		return;
	}
	if (conn->keep_body)
		ex->body = g_byte_array_sized_new((guint)MIN(conn->body_left, 65536));
	if (!conn->chunked && conn->body_left == 0) {
		pal_http_conn_dispatch(conn);
		return;
	}
	if (soup_message_headers_get_expectations(ex->request_headers) & SOUP_EXPECTATION_CONTINUE) {
		static const gchar cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		g_byte_array_append(conn->out, (const guint8 *)cont, sizeof(cont) - 1);
		pal_http_conn_flush(conn);
	}
	conn->state = PAL_CONN_READ_BODY;
}

/* body bytes from @in; once the request is complete (or refused) it is dispatched */
static void
pal_http_conn_read_body(PalHttpConn *conn)
{
	PalHttpServer *self = conn->server;
	PalHttpExchange *ex = conn->ex;
	gsize used;
	gboolean done = FALSE;

	if (conn->in->len == 0)
		return;
	if (conn->chunked) {
		g_autoptr(GError) error = NULL;
		gsize before = ex->body != NULL ? ex->body->len : 0;
		GByteArray *scratch = ex->body != NULL ? NULL : g_byte_array_new();
		gssize n = pal_chunked_decoder_feed(&conn->decoder,
						    conn->in->data,
						    conn->in->len,
						    ex->body != NULL ? ex->body : scratch,
						    &done,
						    &error);
		gsize got;

		if (scratch != NULL) {
			got = scratch->len;
			g_byte_array_unref(scratch);
		} else {
			got = ex->body->len - before;
		}
		if (n < 0) {
			pal_http_conn_refuse(conn, SOUP_STATUS_BAD_REQUEST, error->message);
			return;
		}
		used = (gsize)n;
		conn->body_read += got;
	} else {
		used = (gsize)MIN((guint64)conn->in->len, conn->body_left);
		if (ex->body != NULL)
			g_byte_array_append(ex->body, conn->in->data, (guint)used);
		conn->body_left -= used;
		conn->body_read += used;
		done = conn->body_left == 0;
	}
	g_byte_array_remove_range(conn->in, 0, (guint)used);
	if (conn->body_read > self->max_body) {
		/* a chunked body past the limit: the rest is not read */
		ex->too_large = TRUE;
		if (ex->body != NULL)
			g_byte_array_set_size(ex->body, 0);
		conn->close_after = TRUE;
		pal_http_conn_dispatch(conn);
		return;
	}
	if (done)
		pal_http_conn_dispatch(conn);
}

/* parses what arrived, as far as it goes: requests answered at once are followed by the next
 * one in this loop */
static void
pal_http_conn_process(PalHttpConn *conn)
{
	PalHttpServer *self = conn->server;

	conn->in_process = TRUE;
	while (!conn->dead) {
		if (conn->state == PAL_CONN_READ_HEAD) {
			gsize head_len = 0;
			gsize end;

			gsize blank = 0;

			/* empty lines before a request are allowed (RFC 9112 §2.2): dropped at once */
			while (blank < conn->in->len && (conn->in->data[blank] == '\r' || conn->in->data[blank] == '\n'))
				blank++;
			if (blank > 0)
				g_byte_array_remove_range(conn->in, 0, (guint)blank);
			if (conn->in->len == 0)
				break;
			/* a request started: the header timeout runs from its first byte */
			if (!conn->head_started) {
				conn->head_started = TRUE;
				conn->deadline = g_get_monotonic_time() + self->header_timeout_us;
			}
			end = pal_http_find_head_end(conn->in->data, conn->in->len, &conn->scanned, &head_len);
			if (end == 0 || head_len > PAL_HTTP_MAX_HEAD) {
				if (conn->in->len > PAL_HTTP_MAX_HEAD) {
					conn->ex = pal_http_exchange_new(conn);
					pal_http_conn_refuse(conn,
							     431,
							     "the request's headers are larger than 64 KiB");
					continue;
				}
				break;
			}
			pal_http_conn_start_request(conn, head_len, end);
			continue;
		}
		if (conn->state == PAL_CONN_READ_BODY) {
			if (conn->in->len == 0)
				break;
			pal_http_conn_read_body(conn);
			if (conn->state == PAL_CONN_READ_BODY)
				break; /* the rest of the body is still to come */
			continue;
		}
		break; /* handling: the answer's flush goes on with the next request */
	}
	conn->in_process = FALSE;
	/* the client is done sending: once what it sent is answered, the close (an incomplete
	 * request is dropped) */
	if (conn->eof && conn->state != PAL_CONN_HANDLING)
		conn->dead = TRUE;
	if (conn->dead)
		pal_http_conn_close(conn);
}

static gboolean
pal_http_conn_readable_cb(GSocket *socket, GIOCondition condition, gpointer data)
{
	PalHttpConn *conn = data;
	PalHttpServer *self = conn->server;

	for (;;) {
		gssize n;

		/* pipelined bytes wait while a request is handled; past a bound, the socket is not
		 * watched until the answer is out (its own buffers then hold the client back) */
		if (conn->state == PAL_CONN_HANDLING && conn->in->len >= PAL_HTTP_MAX_HEAD) {
			g_source_destroy(conn->watch);
			g_clear_pointer(&conn->watch, g_source_unref);
			return G_SOURCE_REMOVE;
		}
		/* otherwise what is here is parsed before more is read (past the bound, a head is
		 * refused with 431 and a body is consumed, so this always makes progress): a client
		 * that sends faster than it is answered is held back by its socket, not by @in */
		if (conn->in->len > PAL_HTTP_MAX_HEAD)
			break;
		n = recv(g_socket_get_fd(socket), self->scratch, PAL_HTTP_READ_SIZE, MSG_DONTWAIT);
		if (n > 0) {
			g_byte_array_append(conn->in, self->scratch, (guint)n);
			conn->in_large |= conn->in->len > 4096;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			/* reset: a request being handled is gone */
			pal_http_conn_close(conn);
			return G_SOURCE_REMOVE;
		}
		if (n == 0) {
			/* the client is done sending (it may still read: a half-close). What it sent
			 * is answered, then the connection closes; with nothing to answer, now */
			g_source_destroy(conn->watch);
			g_clear_pointer(&conn->watch, g_source_unref);
			conn->eof = TRUE;
			if (conn->state != PAL_CONN_HANDLING)
				pal_http_conn_process(conn);
			return G_SOURCE_REMOVE;
		}
		if ((gsize)n < PAL_HTTP_READ_SIZE)
			break;
	}
	if (conn->state != PAL_CONN_HANDLING) {
		pal_http_conn_process(conn);
		/* (it may be closed now: its watch was destroyed with it) */
	}
	return G_SOURCE_CONTINUE;
}

static gboolean
pal_http_server_sweep_cb(gpointer data)
{
	PalHttpServer *self = data;
	gint64 now = g_get_monotonic_time();
	GHashTableIter iter;
	PalHttpConn *conn;

	g_hash_table_iter_init(&iter, self->conns);
	while (g_hash_table_iter_next(&iter, (gpointer *)&conn, NULL)) {
		if (conn->deadline != 0 && now >= conn->deadline) {
			g_debug("closing connection after %s timeout",
				conn->state == PAL_CONN_READ_HEAD && conn->in->len == 0 ? "idle" : "header/body");
			g_hash_table_iter_remove(&iter);
		}
	}
	return G_SOURCE_CONTINUE;
}

static void
pal_http_server_accept_one(PalHttpServer *self, GSocket *socket)
{
	PalHttpConn *conn;

	if (g_hash_table_size(self->conns) >= self->max_connections) {
		/* over the cap: refuse at once rather than queue without bound */
		g_socket_close(socket, NULL);
		return;
	}
	g_socket_set_blocking(socket, FALSE);
	(void)g_socket_set_option(socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
	conn = g_new0(PalHttpConn, 1);
	conn->server = self;
	conn->socket = g_object_ref(socket);
	conn->in = g_byte_array_new();
	conn->out = g_byte_array_new();
	conn->state = PAL_CONN_READ_HEAD;
	/* the first request must start within the header timeout */
	conn->deadline = g_get_monotonic_time() + self->header_timeout_us;
	g_hash_table_add(self->conns, conn);
	pal_http_conn_watch(conn);
}

static gboolean
pal_http_server_accept_cb(GSocket *listen_socket, GIOCondition condition, gpointer user_data);

static void
pal_http_server_watch_listeners(PalHttpServer *self)
{
	for (guint i = 0; i < self->listen_sockets->len; i++) {
		PalListenSocket *ls = &g_array_index(self->listen_sockets, PalListenSocket, i);

		if (ls->source != NULL)
			continue;
		ls->source = g_socket_create_source(ls->socket, G_IO_IN, NULL);
		g_source_set_callback(ls->source, G_SOURCE_FUNC(pal_http_server_accept_cb), self, NULL);
		g_source_attach(ls->source, self->context);
	}
}

static gboolean
pal_http_server_accept_retry_cb(gpointer data)
{
	PalHttpServer *self = data;

	g_clear_pointer(&self->accept_retry, g_source_unref);
	pal_http_server_watch_listeners(self);
	return G_SOURCE_REMOVE;
}

/* no file descriptor for the next connection: a listener left readable would be dispatched
 * in a busy loop, so the backlog waits a moment (the sweep frees descriptors meanwhile) */
static void
pal_http_server_pause_accepting(PalHttpServer *self)
{
	for (guint i = 0; i < self->listen_sockets->len; i++) {
		PalListenSocket *ls = &g_array_index(self->listen_sockets, PalListenSocket, i);

		if (ls->source != NULL) {
			g_source_destroy(ls->source);
			g_clear_pointer(&ls->source, g_source_unref);
		}
	}
	if (self->accept_retry == NULL) {
		self->accept_retry = g_timeout_source_new(100);
		g_source_set_callback(self->accept_retry, pal_http_server_accept_retry_cb, self, NULL);
		g_source_attach(self->accept_retry, self->context);
	}
}

static gboolean
pal_http_server_accept_cb(GSocket *listen_socket, GIOCondition condition, gpointer user_data)
{
	PalHttpServer *self = PAL_HTTP_SERVER(user_data);

	/* drain the backlog, but yield after a batch so one busy listener cannot starve the loop */
	for (guint i = 0; i < 64; i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GSocket) socket = g_socket_accept(listen_socket, NULL, &error);
		if (socket == NULL) {
			if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES)) {
				g_debug("accept failed: %s: accepting pauses", error->message);
				pal_http_server_pause_accepting(self);
				return G_SOURCE_REMOVE;
			}
			if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
				g_debug("accept failed: %s", error->message);
			break;
		}
		pal_http_server_accept_one(self, socket);
	}
	return G_SOURCE_CONTINUE;
}

gboolean
pal_http_server_add_address(PalHttpServer *self, const gchar *address, guint16 *bound_port, GError **error)
{
	g_autofree gchar *host = NULL;
	g_autoptr(GInetAddress) inet = NULL;
	g_autoptr(GSocketAddress) saddr = NULL;
	g_autoptr(GSocketAddress) local = NULL;
	g_autoptr(GSocket) socket = NULL;
	struct sockaddr_storage native;
	guint16 port = 0;
	int one = 1;
	int fd;
	PalListenSocket ls;

	if (!pal_config_parse_listen_address(address, &host, &port, error))
		return FALSE;
	inet = g_inet_address_new_from_string(host);
	if (inet == NULL) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_INVALID_DATA,
			    "listen address \"%s\": \"%s\" is not an IP address",
			    address,
			    host);
		return FALSE;
	}
	saddr = g_inet_socket_address_new(inet, port);
	socket = g_socket_new(g_inet_address_get_family(inet),
			      G_SOCKET_TYPE_STREAM,
			      G_SOCKET_PROTOCOL_TCP,
			      error);
	if (socket == NULL)
		return FALSE;
	fd = g_socket_get_fd(socket);
	/* g_socket_bind() turns SO_REUSEPORT off on TCP sockets (PLATFORM-NOTES 2): set it and
	 * bind natively, so every worker has its own listening socket on the same port */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_FAILED,
			    "listen address %s: cannot set SO_REUSEPORT: %s",
			    address,
			    g_strerror(errno));
		return FALSE;
	}
	if (g_inet_address_get_family(inet) == G_SOCKET_FAMILY_IPV6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (!g_socket_address_to_native(saddr, &native, sizeof(native), error))
		return FALSE;
	if (bind(fd, (struct sockaddr *)&native, g_socket_address_get_native_size(saddr)) != 0) {
		int saved = errno;
		g_set_error(error,
			    G_IO_ERROR,
			    g_io_error_from_errno(saved),
			    "cannot listen on %s: %s",
			    address,
			    g_strerror(saved));
		return FALSE;
	}
	g_socket_set_listen_backlog(socket, 4096);
	if (!g_socket_listen(socket, error))
		return FALSE;
	g_socket_set_blocking(socket, FALSE);
	local = g_socket_get_local_address(socket, error);
	if (local == NULL)
		return FALSE;
	if (bound_port != NULL)
		*bound_port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(local));

	ls.socket = g_steal_pointer(&socket);
	ls.source = NULL;
	g_array_append_val(self->listen_sockets, ls);
	if (self->accept_retry == NULL)
		pal_http_server_watch_listeners(self);
	return TRUE;
}

void
pal_http_server_stop_accepting(PalHttpServer *self)
{
	for (guint i = 0; i < self->listen_sockets->len; i++) {
		PalListenSocket *ls = &g_array_index(self->listen_sockets, PalListenSocket, i);
		if (ls->source != NULL) {
			g_source_destroy(ls->source);
			g_source_unref(ls->source);
		}
		g_socket_close(ls->socket, NULL);
		g_object_unref(ls->socket);
	}
	g_array_set_size(self->listen_sockets, 0);
	if (self->accept_retry != NULL) {
		g_source_destroy(self->accept_retry);
		g_clear_pointer(&self->accept_retry, g_source_unref);
	}
}

void
pal_http_server_close_all(PalHttpServer *self)
{
	g_hash_table_remove_all(self->conns);
}

guint
pal_http_server_get_n_connections(PalHttpServer *self)
{
	return g_hash_table_size(self->conns);
}

static void
pal_http_server_finalize(GObject *object)
{
	PalHttpServer *self = PAL_HTTP_SERVER(object);

	pal_http_server_stop_accepting(self);
	g_hash_table_unref(self->conns);
	g_array_unref(self->listen_sockets);
	g_source_destroy(self->sweep);
	g_source_unref(self->sweep);
	g_main_context_unref(self->context);
	G_OBJECT_CLASS(pal_http_server_parent_class)->finalize(object);
}

static void
pal_http_server_class_init(PalHttpServerClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = pal_http_server_finalize;
}

static void
pal_http_server_init(PalHttpServer *self)
{
	self->listen_sockets = g_array_new(FALSE, FALSE, sizeof(PalListenSocket));
	self->conns = g_hash_table_new_full(g_direct_hash, g_direct_equal, (GDestroyNotify)pal_http_conn_free, NULL);
}

PalHttpServer *
pal_http_server_new(PalHttpHandler handler,
		    gpointer user_data,
		    guint header_timeout_s,
		    guint idle_timeout_s,
		    guint max_connections,
		    gsize max_body)
{
	PalHttpServer *self = g_object_new(PAL_TYPE_HTTP_SERVER, NULL);

	self->context = g_main_context_ref_thread_default();
	self->handler = handler;
	self->handler_data = user_data;
	self->header_timeout_us = (gint64)MAX(header_timeout_s, 1) * G_USEC_PER_SEC;
	self->idle_timeout_us = (gint64)MAX(idle_timeout_s, 1) * G_USEC_PER_SEC;
	self->max_connections = MAX(max_connections, 1);
	self->max_body = max_body;
	self->sweep = g_timeout_source_new(PAL_HTTP_SWEEP_MS);
	g_source_set_static_name(self->sweep, "pal-http-server-sweep");
	g_source_set_callback(self->sweep, pal_http_server_sweep_cb, self, NULL);
	g_source_attach(self->sweep, self->context);
	return self;
}
