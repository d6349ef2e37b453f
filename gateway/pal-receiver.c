/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n-lib.h>
#include <string.h>
#include <sys/socket.h>

#include "pal-config.h"
#include "pal-receiver.h"

/*
 * PalReceiver: a small webhook receiver for palaver-tool and the tests.
 *
 * It runs in the thread-default GMainContext at the time of pal_receiver_listen(): the SoupServer
 * is created there, not in pal_receiver_new() (PLATFORM-NOTES 1 and 11). Everything about the
 * server happens in that context; the recorded requests, the counters and the answer settings are
 * guarded by a mutex so another thread (a test) may read and change them.
 *
 * libsoup 3.2 workarounds kept here (PLATFORM-NOTES):
 *  - 5: no body limit: an early handler checks Content-Length, turns accumulation off and counts
 *    the chunks into a bounded buffer; early and normal handler are both on the NULL path;
 *  - 3 and 4: idle keep-alive connections closed by the client leak their fd, and nothing closes
 *    idle connections: while a connection is idle between requests a watch on its socket notices
 *    the client's close, and an idle timer closes it after a while; both use g_socket_close().
 */

#define PAL_RECEIVER_IDLE_TIMEOUT_SECS 30
#define PAL_RECEIVER_JSON_MAX_DEPTH    512
#define PAL_RECEIVER_LISTEN_BACKLOG    256

struct _PalReceivedRequest {
	gatomicrefcount ref_count;
	guint index;
	guint status;
	gchar *method;
	gchar *path;
	gchar *query;
	gchar *remote_host;
	GPtrArray *headers; /* of PalReceivedHeader */
	GBytes *body;
	JsonNode *json; /* nullable, sealed */
	gint64 monotonic_time;
	gint64 real_time;
};

G_DEFINE_BOXED_TYPE(PalReceivedRequest,
		    pal_received_request,
		    pal_received_request_ref,
		    pal_received_request_unref)

typedef struct {
	gatomicrefcount ref_count;
	PalReceiverResponder func;
	gpointer user_data;
	GDestroyNotify destroy;
} PalReceiverResponderClosure;

/* per-connection state, only touched in the receiver's context */
typedef struct {
	PalReceiver *receiver; /* no ref: the receiver owns the table that owns this */
	GSocket *socket;       /* ref */
	GSource *idle_watch;   /* the client closed the idle connection */
	GSource *idle_timer;   /* the idle connection was idle for too long */
} PalReceiverConnection;

/* per-request state, attached to the SoupServerMessage */
typedef struct {
	GByteArray *body;
	gsize received;
	gsize max_body_size;
	gboolean too_large;
} PalReceiverMsgState;

struct _PalReceiver {
	GObject parent_instance;

	/* owned by the context of pal_receiver_listen() */
	SoupServer *server;
	GMainContext *context;
	GHashTable *connections; /* GSocket → PalReceiverConnection */
	gchar *host;             /* bound, as in URLs: "127.0.0.1", "[::1]", "0.0.0.0" */
	gchar *url_host;         /* the same, but loopback for a wildcard address */
	guint port;
	gboolean stopping;

	/* guarded by mutex */
	GMutex mutex;
	GCond cond;
	guint n_received;
	guint count;
	guint status;
	GArray *status_sequence; /* of guint, consumed from the front */
	guint retry_after;
	gsize max_body_size;
	guint record_limit;
	GPtrArray *requests; /* of PalReceivedRequest */
	PalReceiverResponderClosure *responder;
};

G_DEFINE_FINAL_TYPE(PalReceiver, pal_receiver, G_TYPE_OBJECT)

enum { SIGNAL_DELIVERY, SIGNAL_DELIVERY_FINISHED, SIGNAL_LAST };

static guint signals[SIGNAL_LAST] = {0};

static void
pal_received_header_free(PalReceivedHeader *header)
{
	g_free(header->name);
	g_free(header->value);
	g_free(header);
}

/**
 * pal_received_request_ref:
 * @self: a #PalReceivedRequest
 *
 * Returns: (transfer full): @self
 */
PalReceivedRequest *
pal_received_request_ref(PalReceivedRequest *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	g_atomic_ref_count_inc(&self->ref_count);
	return self;
}

/**
 * pal_received_request_unref:
 * @self: (transfer full): a #PalReceivedRequest
 */
void
pal_received_request_unref(PalReceivedRequest *self)
{
	g_return_if_fail(self != NULL);
	if (!g_atomic_ref_count_dec(&self->ref_count))
		return;
	g_free(self->method);
	g_free(self->path);
	g_free(self->query);
	g_free(self->remote_host);
	g_ptr_array_unref(self->headers);
	g_bytes_unref(self->body);
	if (self->json != NULL)
		json_node_unref(self->json);
	g_free(self);
}

/**
 * pal_received_request_get_index:
 *
 * Returns: the 1-based number of this delivery at its receiver
 */
guint
pal_received_request_get_index(const PalReceivedRequest *self)
{
	g_return_val_if_fail(self != NULL, 0);
	return self->index;
}

const gchar *
pal_received_request_get_method(const PalReceivedRequest *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return self->method;
}

/**
 * pal_received_request_get_path:
 *
 * Returns: the path of the request URI, decoded as libsoup gives it
 */
const gchar *
pal_received_request_get_path(const PalReceivedRequest *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return self->path;
}

/**
 * pal_received_request_get_query:
 *
 * Returns: (nullable): the raw query string without `?`, or %NULL
 */
const gchar *
pal_received_request_get_query(const PalReceivedRequest *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return self->query;
}

/**
 * pal_received_request_get_remote_host:
 *
 * Returns: (nullable): the peer's IP address as a string
 */
const gchar *
pal_received_request_get_remote_host(const PalReceivedRequest *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return self->remote_host;
}

/**
 * pal_received_request_get_headers:
 *
 * Returns: (transfer none) (element-type PalReceivedHeader): the request headers in the
 *   order received; do not modify
 */
GPtrArray *
pal_received_request_get_headers(const PalReceivedRequest *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return self->headers;
}

/**
 * pal_received_request_get_header:
 * @name: a header name, compared case-insensitively
 *
 * Returns: (nullable): the value of the first header called @name
 */
const gchar *
pal_received_request_get_header(const PalReceivedRequest *self, const gchar *name)
{
	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(name != NULL, NULL);
	for (guint i = 0; i < self->headers->len; i++) {
		PalReceivedHeader *header = g_ptr_array_index(self->headers, i);
		if (g_ascii_strcasecmp(header->name, name) == 0)
			return header->value;
	}
	return NULL;
}

/**
 * pal_received_request_dup_header_list:
 * @name: a header name, compared case-insensitively
 *
 * Returns: (transfer full) (nullable): the values of all headers called @name joined with
 *   ", " (HTTP list semantics), or %NULL if there is none
 */
gchar *
pal_received_request_dup_header_list(const PalReceivedRequest *self, const gchar *name)
{
	GString *str = NULL;

	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(name != NULL, NULL);
	for (guint i = 0; i < self->headers->len; i++) {
		PalReceivedHeader *header = g_ptr_array_index(self->headers, i);
		if (g_ascii_strcasecmp(header->name, name) != 0)
			continue;
		if (str == NULL) {
			str = g_string_new(header->value);
		} else {
			g_string_append(str, ", ");
			g_string_append(str, header->value);
		}
	}
	return str != NULL ? g_string_free(str, FALSE) : NULL;
}

/**
 * pal_received_request_get_body:
 *
 * Returns: (transfer none): the request body (possibly empty, never %NULL)
 */
GBytes *
pal_received_request_get_body(const PalReceivedRequest *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return self->body;
}

/**
 * pal_received_request_get_json:
 *
 * Returns: (transfer none) (nullable): the body parsed as JSON (sealed), or %NULL if the
 *   body is empty, not JSON, or nested deeper than the receiver parses
 */
JsonNode *
pal_received_request_get_json(const PalReceivedRequest *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return self->json;
}

/**
 * pal_received_request_get_monotonic_time:
 *
 * Returns: g_get_monotonic_time() when the whole request had been read
 */
gint64
pal_received_request_get_monotonic_time(const PalReceivedRequest *self)
{
	g_return_val_if_fail(self != NULL, 0);
	return self->monotonic_time;
}

/**
 * pal_received_request_get_real_time:
 *
 * Returns: g_get_real_time() when the whole request had been read
 */
gint64
pal_received_request_get_real_time(const PalReceivedRequest *self)
{
	g_return_val_if_fail(self != NULL, 0);
	return self->real_time;
}

/**
 * pal_received_request_get_status:
 *
 * Returns: the HTTP status the receiver answered
 */
guint
pal_received_request_get_status(const PalReceivedRequest *self)
{
	g_return_val_if_fail(self != NULL, 0);
	return self->status;
}

/* json-glib 1.6 recurses while parsing and crashes on deep nesting (PLATFORM-NOTES 13) */
static gboolean
pal_receiver_json_depth_ok(const guint8 *data, gsize len, guint max_depth)
{
	gboolean in_string = FALSE;
	guint depth = 0;

	for (gsize i = 0; i < len; i++) {
		guint8 c = data[i];
		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = FALSE;
			continue;
		}
		if (c == '"') {
			in_string = TRUE;
		} else if (c == '[' || c == '{') {
			if (++depth > max_depth)
				return FALSE;
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	return TRUE;
}

static JsonNode *
pal_receiver_parse_json(GBytes *body)
{
	g_autoptr(JsonParser) parser = NULL;
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(body, &len);

	if (len == 0 || !pal_receiver_json_depth_ok(data, len, PAL_RECEIVER_JSON_MAX_DEPTH))
		return NULL;
	if (!g_utf8_validate((const gchar *)data, (gssize)len, NULL))
		return NULL;
	parser = json_parser_new_immutable();
	if (!json_parser_load_from_data(parser, (const gchar *)data, (gssize)len, NULL))
		return NULL;
	return json_parser_steal_root(parser);
}

static PalReceivedRequest *
pal_received_request_new(SoupServerMessage *msg, const gchar *path, GBytes *body)
{
	PalReceivedRequest *self = g_new0(PalReceivedRequest, 1);
	SoupMessageHeaders *hdrs = soup_server_message_get_request_headers(msg);
	GUri *uri = soup_server_message_get_uri(msg);
	SoupMessageHeadersIter iter;
	const char *name;
	const char *value;

	g_atomic_ref_count_init(&self->ref_count);
	self->monotonic_time = g_get_monotonic_time();
	self->real_time = g_get_real_time();
	self->method = g_strdup(soup_server_message_get_method(msg));
	self->path = g_strdup(path);
	self->query = g_strdup(uri != NULL ? g_uri_get_query(uri) : NULL);
	self->remote_host = g_strdup(soup_server_message_get_remote_host(msg));
	self->headers = g_ptr_array_new_with_free_func((GDestroyNotify)pal_received_header_free);
	soup_message_headers_iter_init(&iter, hdrs);
	while (soup_message_headers_iter_next(&iter, &name, &value)) {
		PalReceivedHeader *header = g_new0(PalReceivedHeader, 1);
		header->name = g_strdup(name);
		header->value = g_strdup(value);
		g_ptr_array_add(self->headers, header);
	}
	self->body = g_bytes_ref(body);
	self->json = pal_receiver_parse_json(body);
	return self;
}

static PalReceiverResponderClosure *
pal_receiver_responder_closure_ref(PalReceiverResponderClosure *closure)
{
	g_atomic_ref_count_inc(&closure->ref_count);
	return closure;
}

static void
pal_receiver_responder_closure_unref(PalReceiverResponderClosure *closure)
{
	if (!g_atomic_ref_count_dec(&closure->ref_count))
		return;
	if (closure->destroy != NULL)
		closure->destroy(closure->user_data);
	g_free(closure);
}

static void
pal_receiver_msg_state_free(PalReceiverMsgState *state)
{
	if (state->body != NULL)
		g_byte_array_unref(state->body);
	g_free(state);
}

/* connections: see the comment at the top */

static void
pal_receiver_connection_stop_idle(PalReceiverConnection *conn)
{
	if (conn->idle_watch != NULL) {
		g_source_destroy(conn->idle_watch);
		g_clear_pointer(&conn->idle_watch, g_source_unref);
	}
	if (conn->idle_timer != NULL) {
		g_source_destroy(conn->idle_timer);
		g_clear_pointer(&conn->idle_timer, g_source_unref);
	}
}

static void
pal_receiver_connection_free(PalReceiverConnection *conn)
{
	pal_receiver_connection_stop_idle(conn);
	g_object_unref(conn->socket);
	g_free(conn);
}

static void
pal_receiver_connection_close(PalReceiverConnection *conn)
{
	PalReceiver *self = conn->receiver;
	g_autoptr(GSocket) socket = g_object_ref(conn->socket);

	/* g_socket_close(), not shutdown: libsoup then notices and frees the connection; this
	 * frees conn */
	g_hash_table_remove(self->connections, socket);
	if (!g_socket_is_closed(socket))
		g_socket_close(socket, NULL);
}

static gboolean
pal_receiver_connection_idle_watch_cb(GSocket *socket, GIOCondition condition, gpointer user_data)
{
	PalReceiverConnection *conn = user_data;
	gchar buf[1];
	gssize n;

	/* closed by libsoup meanwhile: the fd number may already belong to someone else */
	if (g_socket_is_closed(socket)) {
		g_clear_pointer(&conn->idle_watch, g_source_unref);
		g_hash_table_remove(conn->receiver->connections, socket);
		return G_SOURCE_REMOVE;
	}
	if ((condition & (G_IO_HUP | G_IO_ERR)) == 0) {
		/* readable: the next request (libsoup reads it) or the end of the stream */
		n = recv(g_socket_get_fd(socket), buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
		if (n != 0) {
			/* data, or nothing left (libsoup read it): not ours; the timer stays */
			g_clear_pointer(&conn->idle_watch, g_source_unref);
			return G_SOURCE_REMOVE;
		}
	}
	g_clear_pointer(&conn->idle_watch, g_source_unref);
	pal_receiver_connection_close(conn);
	return G_SOURCE_REMOVE;
}

static gboolean
pal_receiver_connection_idle_timer_cb(gpointer user_data)
{
	PalReceiverConnection *conn = user_data;

	g_clear_pointer(&conn->idle_timer, g_source_unref);
	pal_receiver_connection_close(conn);
	return G_SOURCE_REMOVE;
}

static void
pal_receiver_msg_got_headers_cb(SoupServerMessage *msg, gpointer user_data)
{
	PalReceiver *self = PAL_RECEIVER(user_data);
	GSocket *socket = soup_server_message_get_socket(msg);
	PalReceiverConnection *conn;

	if (socket == NULL || self->connections == NULL)
		return;
	conn = g_hash_table_lookup(self->connections, socket);
	if (conn != NULL && conn->idle_timer != NULL) {
		g_source_destroy(conn->idle_timer);
		g_clear_pointer(&conn->idle_timer, g_source_unref);
	}
}

static void
pal_receiver_msg_disconnected_cb(SoupServerMessage *msg, gpointer user_data)
{
	PalReceiver *self = PAL_RECEIVER(user_data);
	GSocket *socket = soup_server_message_get_socket(msg);

	if (socket != NULL && self->connections != NULL)
		g_hash_table_remove(self->connections, socket);
}

static void
pal_receiver_request_started_cb(SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
	PalReceiver *self = PAL_RECEIVER(user_data);
	GSocket *socket = soup_server_message_get_socket(msg);

	if (socket == NULL || self->connections == NULL || self->stopping)
		return;
	if (!g_hash_table_contains(self->connections, socket)) {
		PalReceiverConnection *conn = g_new0(PalReceiverConnection, 1);
		conn->receiver = self;
		conn->socket = g_object_ref(socket);
		g_hash_table_insert(self->connections, conn->socket, conn);
	}
	g_signal_connect_object(msg,
				"got-headers",
				G_CALLBACK(pal_receiver_msg_got_headers_cb),
				self,
				G_CONNECT_DEFAULT);
	g_signal_connect_object(msg,
				"disconnected",
				G_CALLBACK(pal_receiver_msg_disconnected_cb),
				self,
				G_CONNECT_DEFAULT);
}

/* from here the connection waits for its next request. libsoup 3.2 emits "request-started"
 * only when the client sends something, also when it closes the connection: so the watch is
 * not cancelled there but decides by peeking, and the timer stops at "got-headers" */
static void
pal_receiver_request_done_cb(SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
	PalReceiver *self = PAL_RECEIVER(user_data);
	GSocket *socket = soup_server_message_get_socket(msg);
	PalReceiverConnection *conn;

	if (socket == NULL || self->connections == NULL || self->stopping)
		return;
	conn = g_hash_table_lookup(self->connections, socket);
	if (conn == NULL)
		return;
	if (g_socket_is_closed(socket)) {
		g_hash_table_remove(self->connections, socket);
		return;
	}
	pal_receiver_connection_stop_idle(conn);
	conn->idle_watch = g_socket_create_source(socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
	g_source_set_callback(conn->idle_watch,
			      G_SOURCE_FUNC(pal_receiver_connection_idle_watch_cb),
			      conn,
			      NULL);
	g_source_attach(conn->idle_watch, self->context);
	conn->idle_timer = g_timeout_source_new_seconds(PAL_RECEIVER_IDLE_TIMEOUT_SECS);
	g_source_set_callback(conn->idle_timer, pal_receiver_connection_idle_timer_cb, conn, NULL);
	g_source_attach(conn->idle_timer, self->context);
}

static void
pal_receiver_answer_error(SoupServerMessage *msg, guint status, const gchar *text, gboolean close)
{
	SoupMessageHeaders *hdrs = soup_server_message_get_response_headers(msg);

	soup_server_message_set_status(msg, status, NULL);
	soup_server_message_set_response(msg,
					 "text/plain; charset=utf-8",
					 SOUP_MEMORY_COPY,
					 text,
					 strlen(text));
	/* answered before the body: after "Expect: 100-continue" libsoup leaves it unread, so the
	 * connection cannot carry another request */
	if (close)
		soup_message_headers_replace(hdrs, "Connection", "close");
}

static gboolean
pal_receiver_has_body(SoupMessageHeaders *hdrs)
{
	switch (soup_message_headers_get_encoding(hdrs)) {
	case SOUP_ENCODING_CONTENT_LENGTH:
		return soup_message_headers_get_content_length(hdrs) > 0;
	case SOUP_ENCODING_NONE:
		return FALSE;
	default:
		return TRUE;
	}
}

static void
pal_receiver_got_chunk_cb(SoupServerMessage *msg, GBytes *chunk, gpointer user_data)
{
	PalReceiverMsgState *state = user_data;
	gsize size = g_bytes_get_size(chunk);

	state->received += size;
	if (state->too_large)
		return;
	if (state->received > state->max_body_size) {
		/* keep memory flat: drop what we have, count the rest, answer 413 at the end */
		state->too_large = TRUE;
		g_clear_pointer(&state->body, g_byte_array_unref);
		return;
	}
	g_byte_array_append(state->body, g_bytes_get_data(chunk, NULL), size);
}

static void
pal_receiver_early_handler_cb(SoupServer *server,
			      SoupServerMessage *msg,
			      const char *path,
			      GHashTable *query,
			      gpointer user_data)
{
	PalReceiver *self = PAL_RECEIVER(user_data);
	SoupMessageHeaders *hdrs = soup_server_message_get_request_headers(msg);
	PalReceiverMsgState *state;
	gsize max_body_size;

	/* libsoup 3.2 accumulates bodies without limit (PLATFORM-NOTES 5), and unless the client
	 * sent "Expect: 100-continue" it reads the body even when the answer is set here: never
	 * let it accumulate; what we keep is collected in pal_receiver_got_chunk_cb() */
	soup_message_body_set_accumulate(soup_server_message_get_request_body(msg), FALSE);

	if (g_strcmp0(soup_server_message_get_method(msg), SOUP_METHOD_POST) != 0) {
		pal_receiver_answer_error(msg,
					  SOUP_STATUS_METHOD_NOT_ALLOWED,
					  "only POST is accepted\n",
					  pal_receiver_has_body(hdrs));
		soup_message_headers_replace(soup_server_message_get_response_headers(msg),
					     "Allow",
					     "POST");
		return;
	}

	g_mutex_lock(&self->mutex);
	max_body_size = self->max_body_size;
	g_mutex_unlock(&self->mutex);

	if (soup_message_headers_get_encoding(hdrs) == SOUP_ENCODING_CONTENT_LENGTH &&
	    (guint64)soup_message_headers_get_content_length(hdrs) > max_body_size) {
		pal_receiver_answer_error(msg,
					  SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE,
					  "request body too large\n",
					  TRUE);
		return;
	}

	state = g_new0(PalReceiverMsgState, 1);
	state->body = g_byte_array_new();
	state->max_body_size = max_body_size;
	g_object_set_data_full(G_OBJECT(msg),
			       "pal-receiver-state",
			       state,
			       (GDestroyNotify)pal_receiver_msg_state_free);
	g_signal_connect(msg, "got-chunk", G_CALLBACK(pal_receiver_got_chunk_cb), state);
}

static void
pal_receiver_msg_finished_cb(SoupServerMessage *msg, gpointer user_data)
{
	PalReceiver *self = PAL_RECEIVER(user_data);
	PalReceivedRequest *request = g_object_get_data(G_OBJECT(msg), "pal-receiver-request");

	if (request == NULL || self->stopping)
		return;
	g_signal_emit(self, signals[SIGNAL_DELIVERY_FINISHED], 0, request);
}

static guint
pal_receiver_choose_status(PalReceiver *self, const PalReceivedRequest *request, guint *retry_after)
{
	PalReceiverResponderClosure *responder = NULL;
	guint status = 0;

	g_mutex_lock(&self->mutex);
	if (self->responder != NULL)
		responder = pal_receiver_responder_closure_ref(self->responder);
	g_mutex_unlock(&self->mutex);

	/* called unlocked: the responder may call the receiver's setters */
	if (responder != NULL) {
		status = responder->func(self, request, responder->user_data);
		pal_receiver_responder_closure_unref(responder);
		if (status != 0 && (status < 100 || status > 599)) {
			g_warning("responder returned invalid HTTP status %u, answering 500", status);
			status = SOUP_STATUS_INTERNAL_SERVER_ERROR;
		}
	}

	g_mutex_lock(&self->mutex);
	if (status == 0 && self->status_sequence->len > 0) {
		status = g_array_index(self->status_sequence, guint, 0);
		g_array_remove_index(self->status_sequence, 0);
	}
	if (status == 0)
		status = self->status;
	*retry_after = self->retry_after;
	g_mutex_unlock(&self->mutex);
	return status;
}

static void
pal_receiver_handler_cb(SoupServer *server,
			SoupServerMessage *msg,
			const char *path,
			GHashTable *query,
			gpointer user_data)
{
	PalReceiver *self = PAL_RECEIVER(user_data);
	PalReceiverMsgState *state = g_object_get_data(G_OBJECT(msg), "pal-receiver-state");
	g_autoptr(GBytes) body = NULL;
	PalReceivedRequest *request;
	guint retry_after = 0;
	guint status;

	if (state == NULL) {
		/* the early handler runs for every request; this is a bug */
		g_warning("request without receiver state: %s %s",
			  soup_server_message_get_method(msg),
			  path);
		pal_receiver_answer_error(msg,
					  SOUP_STATUS_INTERNAL_SERVER_ERROR,
					  "internal error\n",
					  TRUE);
		return;
	}
	if (state->too_large) {
		pal_receiver_answer_error(msg,
					  SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE,
					  "request body too large\n",
					  FALSE);
		return;
	}

	body = g_byte_array_free_to_bytes(g_steal_pointer(&state->body));
	request = pal_received_request_new(msg, path, body);

	g_mutex_lock(&self->mutex);
	request->index = ++self->n_received;
	g_mutex_unlock(&self->mutex);

	status = pal_receiver_choose_status(self, request, &retry_after);
	request->status = status;

	soup_server_message_set_status(msg, status, NULL);
	if (retry_after > 0 && !SOUP_STATUS_IS_SUCCESSFUL(status)) {
		g_autofree gchar *value = g_strdup_printf("%u", retry_after);
		soup_message_headers_replace(soup_server_message_get_response_headers(msg),
					     "Retry-After",
					     value);
	}

	/* the message owns the record until it is finished; then "delivery-finished" */
	g_object_set_data_full(G_OBJECT(msg),
			       "pal-receiver-request",
			       request,
			       (GDestroyNotify)pal_received_request_unref);
	g_signal_connect_object(msg,
				"finished",
				G_CALLBACK(pal_receiver_msg_finished_cb),
				self,
				G_CONNECT_DEFAULT);

	g_mutex_lock(&self->mutex);
	if (self->record_limit > 0) {
		if (self->requests->len >= self->record_limit)
			g_ptr_array_remove_index(self->requests, 0);
		g_ptr_array_add(self->requests, pal_received_request_ref(request));
	}
	self->count++;
	g_cond_broadcast(&self->cond);
	g_mutex_unlock(&self->mutex);

	g_signal_emit(self, signals[SIGNAL_DELIVERY], 0, request);
}

/**
 * pal_receiver_parse_address:
 * @address: `HOST:PORT`, where HOST is a numeric IPv4 address, a bracketed numeric IPv6
 *   address (`[::1]:8081`) or `localhost`; PORT may be 0 (any free port)
 * @inet_address: (out) (transfer full) (optional): the host
 * @port: (out) (optional): the port
 *
 * Returns: %TRUE if @address is valid, else %FALSE with @error set (G_IO_ERROR_INVALID_ARGUMENT)
 */
gboolean
pal_receiver_parse_address(const gchar *address,
			   GInetAddress **inet_address,
			   guint16 *port,
			   GError **error)
{
	g_autofree gchar *numeric = NULL;
	g_autofree gchar *host = NULL;
	g_autoptr(GError) error_local = NULL;

	g_return_val_if_fail(address != NULL, FALSE);

	/* the daemon's parser, plus "localhost" for convenience on the command line */
	if (g_ascii_strncasecmp(address, "localhost:", 10) == 0)
		numeric = g_strconcat("127.0.0.1", address + 9, NULL);
	if (!pal_config_parse_listen_address(numeric != NULL ? numeric : address, &host, port, &error_local)) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_INVALID_ARGUMENT,
			    _("Invalid address “%s”: %s"),
			    address,
			    error_local->message);
		return FALSE;
	}
	if (inet_address != NULL)
		*inet_address = g_inet_address_new_from_string(host);
	return TRUE;
}

static gchar *
pal_receiver_format_host(GInetAddress *inet)
{
	g_autofree gchar *str = g_inet_address_to_string(inet);

	if (g_inet_address_get_family(inet) == G_SOCKET_FAMILY_IPV6)
		return g_strdup_printf("[%s]", str);
	return g_steal_pointer(&str);
}

/**
 * pal_receiver_listen:
 * @address: see pal_receiver_parse_address()
 *
 * Creates the HTTP server in the thread-default main context and starts listening. All
 * signals are emitted in that context, and the receiver must be stopped and finalized there.
 *
 * Returns: %TRUE on success; else %FALSE with @error naming @address
 */
gboolean
pal_receiver_listen(PalReceiver *self, const gchar *address, GError **error)
{
	g_autoptr(GInetAddress) inet = NULL;
	g_autoptr(GSocketAddress) sockaddr = NULL;
	g_autoptr(GSocket) socket = NULL;
	g_autoptr(SoupServer) server = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autoptr(GSocketAddress) local = NULL;
	g_autoptr(GInetAddress) url_inet = NULL;
	guint16 port = 0;

	g_return_val_if_fail(PAL_IS_RECEIVER(self), FALSE);
	g_return_val_if_fail(address != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
	g_return_val_if_fail(self->server == NULL, FALSE);

	if (!pal_receiver_parse_address(address, &inet, &port, error))
		return FALSE;

	/* created here, not in _new(): the server belongs to the thread-default context now */
	server = soup_server_new("server-header", "palaver-tool", NULL);
	soup_server_add_early_handler(server, NULL, pal_receiver_early_handler_cb, self, NULL);
	soup_server_add_handler(server, NULL, pal_receiver_handler_cb, self, NULL);
	g_signal_connect(server,
			 "request-started",
			 G_CALLBACK(pal_receiver_request_started_cb),
			 self);
	g_signal_connect(server,
			 "request-finished",
			 G_CALLBACK(pal_receiver_request_done_cb),
			 self);
	g_signal_connect(server,
			 "request-aborted",
			 G_CALLBACK(pal_receiver_request_done_cb),
			 self);

	/* our own socket: GSocket's default backlog of 10 drops connection bursts */
	sockaddr = g_inet_socket_address_new(inet, port);
	socket = g_socket_new(g_inet_address_get_family(inet),
			      G_SOCKET_TYPE_STREAM,
			      G_SOCKET_PROTOCOL_TCP,
			      &error_local);
	if (socket != NULL) {
		g_socket_set_listen_backlog(socket, PAL_RECEIVER_LISTEN_BACKLOG);
		if (!g_socket_bind(socket, sockaddr, TRUE, &error_local) ||
		    !g_socket_listen(socket, &error_local) ||
		    !soup_server_listen_socket(server, socket, 0, &error_local))
			g_clear_object(&socket);
	}
	if (socket == NULL) {
		if (g_error_matches(error_local, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE)) {
			g_set_error(error,
				    G_IO_ERROR,
				    G_IO_ERROR_ADDRESS_IN_USE,
				    _("Cannot listen on %s: the address is already in use"),
				    address);
		} else {
			g_set_error(error,
				    error_local->domain,
				    error_local->code,
				    _("Cannot listen on %s: %s"),
				    address,
				    error_local->message);
		}
		return FALSE;
	}

	local = g_socket_get_local_address(socket, NULL);
	if (local == NULL || !G_IS_INET_SOCKET_ADDRESS(local)) {
		soup_server_disconnect(server);
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_FAILED,
			    _("Cannot listen on %s: no local address"),
			    address);
		return FALSE;
	}

	/* a wildcard address is not something to connect to: use loopback in URLs */
	if (g_inet_address_get_is_any(inet))
		url_inet = g_inet_address_new_loopback(g_inet_address_get_family(inet));
	else
		url_inet = g_object_ref(inet);

	self->port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(local));
	self->host = pal_receiver_format_host(inet);
	self->url_host = pal_receiver_format_host(url_inet);
	self->context = g_main_context_ref_thread_default();
	self->connections =
	    g_hash_table_new_full(g_direct_hash,
				  g_direct_equal,
				  NULL,
				  (GDestroyNotify)pal_receiver_connection_free);
	self->stopping = FALSE;
	self->server = g_steal_pointer(&server);
	return TRUE;
}

/**
 * pal_receiver_stop:
 *
 * Stops listening and closes all connections. Call in the receiver's context; the
 * recorded requests stay available. Idempotent.
 */
void
pal_receiver_stop(PalReceiver *self)
{
	gboolean acquired;

	g_return_if_fail(PAL_IS_RECEIVER(self));

	if (self->server == NULL)
		return;
	/* recursive: succeeds in the thread that runs the context, or once nobody runs it */
	acquired = g_main_context_acquire(self->context);
	g_warn_if_fail(acquired);
	self->stopping = TRUE;
	g_hash_table_remove_all(self->connections);
	g_signal_handlers_disconnect_by_data(self->server, self);
	soup_server_disconnect(self->server);
	g_clear_object(&self->server);
	g_clear_pointer(&self->connections, g_hash_table_unref);
	if (acquired)
		g_main_context_release(self->context);
}

/**
 * pal_receiver_get_port:
 *
 * Returns: the port listened on (useful after listening on port 0), or 0 before listening
 */
guint
pal_receiver_get_port(PalReceiver *self)
{
	g_return_val_if_fail(PAL_IS_RECEIVER(self), 0);
	return self->port;
}

/**
 * pal_receiver_get_host:
 *
 * Returns: (nullable): the address listened on as written in URLs (`127.0.0.1`, `[::1]`,
 *   `0.0.0.0`), or %NULL before listening
 */
const gchar *
pal_receiver_get_host(PalReceiver *self)
{
	g_return_val_if_fail(PAL_IS_RECEIVER(self), NULL);
	return self->host;
}

/**
 * pal_receiver_get_url:
 * @path: (nullable): an absolute path such as `/hook`, or %NULL for `/`
 *
 * Returns: (transfer full): `http://HOST:PORT/path` to connect to; for a wildcard listen
 *   address HOST is the loopback address of its family
 */
gchar *
pal_receiver_get_url(PalReceiver *self, const gchar *path)
{
	g_return_val_if_fail(PAL_IS_RECEIVER(self), NULL);
	g_return_val_if_fail(self->url_host != NULL, NULL);
	if (path == NULL || path[0] == '\0')
		path = "/";
	return g_strdup_printf("http://%s:%u%s%s",
			       self->url_host,
			       self->port,
			       path[0] == '/' ? "" : "/",
			       path);
}

/**
 * pal_receiver_set_status:
 * @status: an HTTP status, 100..599
 *
 * Sets the status of the answer when neither the responder nor the status sequence chose one.
 * The default is 200. Thread-safe.
 */
void
pal_receiver_set_status(PalReceiver *self, guint status)
{
	g_return_if_fail(PAL_IS_RECEIVER(self));
	g_return_if_fail(status >= 100 && status <= 599);
	g_mutex_lock(&self->mutex);
	self->status = status;
	g_mutex_unlock(&self->mutex);
}

/**
 * pal_receiver_set_status_sequence:
 * @statuses: (array length=n_statuses) (nullable): HTTP statuses
 *
 * Answers the next @n_statuses deliveries with @statuses in turn (e.g. 500, 500 then the
 * default). Replaces what is left of an earlier sequence. Thread-safe.
 */
void
pal_receiver_set_status_sequence(PalReceiver *self, const guint *statuses, gsize n_statuses)
{
	g_return_if_fail(PAL_IS_RECEIVER(self));
	g_return_if_fail(statuses != NULL || n_statuses == 0);
	for (gsize i = 0; i < n_statuses; i++)
		g_return_if_fail(statuses[i] >= 100 && statuses[i] <= 599);
	g_mutex_lock(&self->mutex);
	g_array_set_size(self->status_sequence, 0);
	if (n_statuses > 0)
		g_array_append_vals(self->status_sequence, statuses, n_statuses);
	g_mutex_unlock(&self->mutex);
}

/**
 * pal_receiver_set_responder:
 * @func: (nullable): the responder, or %NULL to remove it
 * @destroy: (nullable): frees @user_data once the responder is replaced and no call is running
 *
 * Sets a function that chooses the status of each answer; it comes before the status sequence
 * and the default status. It is called in the receiver's context. Thread-safe.
 */
void
pal_receiver_set_responder(PalReceiver *self,
			   PalReceiverResponder func,
			   gpointer user_data,
			   GDestroyNotify destroy)
{
	PalReceiverResponderClosure *closure = NULL;
	PalReceiverResponderClosure *old;

	g_return_if_fail(PAL_IS_RECEIVER(self));
	if (func != NULL) {
		closure = g_new0(PalReceiverResponderClosure, 1);
		g_atomic_ref_count_init(&closure->ref_count);
		closure->func = func;
		closure->user_data = user_data;
		closure->destroy = destroy;
	}
	g_mutex_lock(&self->mutex);
	old = g_steal_pointer(&self->responder);
	self->responder = closure;
	g_mutex_unlock(&self->mutex);
	if (old != NULL)
		pal_receiver_responder_closure_unref(old);
}

/**
 * pal_receiver_set_retry_after:
 * @seconds: a delay, or 0 for none
 *
 * Adds `Retry-After: seconds` to every answer that is not 2xx. Thread-safe.
 */
void
pal_receiver_set_retry_after(PalReceiver *self, guint seconds)
{
	g_return_if_fail(PAL_IS_RECEIVER(self));
	g_mutex_lock(&self->mutex);
	self->retry_after = seconds;
	g_mutex_unlock(&self->mutex);
}

/**
 * pal_receiver_set_max_body_size:
 *
 * Sets the body limit (default %PAL_RECEIVER_MAX_BODY_SIZE); larger bodies get 413 and are
 * not recorded. Thread-safe.
 */
void
pal_receiver_set_max_body_size(PalReceiver *self, gsize max_body_size)
{
	g_return_if_fail(PAL_IS_RECEIVER(self));
	g_mutex_lock(&self->mutex);
	self->max_body_size = max_body_size;
	g_mutex_unlock(&self->mutex);
}

/**
 * pal_receiver_set_record_limit:
 * @limit: how many requests to keep, the latest ones; 0 keeps none
 *
 * The default keeps all (G_MAXUINT). The count goes on regardless. Thread-safe.
 */
void
pal_receiver_set_record_limit(PalReceiver *self, guint limit)
{
	g_return_if_fail(PAL_IS_RECEIVER(self));
	g_mutex_lock(&self->mutex);
	self->record_limit = limit;
	if (self->requests->len > limit)
		g_ptr_array_remove_range(self->requests, 0, self->requests->len - limit);
	g_mutex_unlock(&self->mutex);
}

/**
 * pal_receiver_get_count:
 *
 * Returns: how many deliveries (POST requests within the body limit) were answered so far.
 *   Thread-safe.
 */
guint
pal_receiver_get_count(PalReceiver *self)
{
	guint count;

	g_return_val_if_fail(PAL_IS_RECEIVER(self), 0);
	g_mutex_lock(&self->mutex);
	count = self->count;
	g_mutex_unlock(&self->mutex);
	return count;
}

/**
 * pal_receiver_dup_requests:
 *
 * Returns: (transfer container) (element-type PalReceivedRequest): a snapshot of the
 *   recorded requests, oldest first. Thread-safe.
 */
GPtrArray *
pal_receiver_dup_requests(PalReceiver *self)
{
	GPtrArray *array;

	g_return_val_if_fail(PAL_IS_RECEIVER(self), NULL);
	g_mutex_lock(&self->mutex);
	array = g_ptr_array_new_full(self->requests->len,
				     (GDestroyNotify)pal_received_request_unref);
	for (guint i = 0; i < self->requests->len; i++)
		g_ptr_array_add(array, pal_received_request_ref(g_ptr_array_index(self->requests, i)));
	g_mutex_unlock(&self->mutex);
	return array;
}

/**
 * pal_receiver_clear_requests:
 *
 * Forgets the recorded requests; the count and the request numbers go on. Thread-safe.
 */
void
pal_receiver_clear_requests(PalReceiver *self)
{
	g_return_if_fail(PAL_IS_RECEIVER(self));
	g_mutex_lock(&self->mutex);
	g_ptr_array_set_size(self->requests, 0);
	g_mutex_unlock(&self->mutex);
}

/**
 * pal_receiver_wait_count:
 * @count: the count to wait for
 * @timeout_ms: the longest wait
 *
 * Blocks until at least @count deliveries were answered. Call it from another thread than
 * the receiver's (which must be running its context), never from the receiver's own.
 *
 * Returns: %TRUE if the count was reached, %FALSE on timeout
 */
gboolean
pal_receiver_wait_count(PalReceiver *self, guint count, guint timeout_ms)
{
	gint64 deadline;
	gboolean ok;

	g_return_val_if_fail(PAL_IS_RECEIVER(self), FALSE);
	g_return_val_if_fail(self->context == NULL || !g_main_context_is_owner(self->context),
			     FALSE);

	deadline = g_get_monotonic_time() + (gint64)timeout_ms * G_TIME_SPAN_MILLISECOND;
	g_mutex_lock(&self->mutex);
	while (self->count < count) {
		if (!g_cond_wait_until(&self->cond, &self->mutex, deadline))
			break;
	}
	ok = self->count >= count;
	g_mutex_unlock(&self->mutex);
	return ok;
}

/**
 * pal_receiver_get_n_connections:
 *
 * Returns: how many client connections the receiver tracks (call in its context)
 */
guint
pal_receiver_get_n_connections(PalReceiver *self)
{
	g_return_val_if_fail(PAL_IS_RECEIVER(self), 0);
	return self->connections != NULL ? g_hash_table_size(self->connections) : 0;
}

static void
pal_receiver_dispose(GObject *object)
{
	PalReceiver *self = PAL_RECEIVER(object);

	pal_receiver_stop(self);
	G_OBJECT_CLASS(pal_receiver_parent_class)->dispose(object);
}

static void
pal_receiver_finalize(GObject *object)
{
	PalReceiver *self = PAL_RECEIVER(object);

	g_free(self->host);
	g_free(self->url_host);
	if (self->context != NULL)
		g_main_context_unref(self->context);
	g_ptr_array_unref(self->requests);
	g_array_unref(self->status_sequence);
	if (self->responder != NULL)
		pal_receiver_responder_closure_unref(self->responder);
	g_mutex_clear(&self->mutex);
	g_cond_clear(&self->cond);
	G_OBJECT_CLASS(pal_receiver_parent_class)->finalize(object);
}

static void
pal_receiver_class_init(PalReceiverClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = pal_receiver_dispose;
	object_class->finalize = pal_receiver_finalize;

	/**
	 * PalReceiver::delivery:
	 * @self: the receiver
	 * @request: the recorded request, with the status being answered
	 *
	 * Emitted in the receiver's context for each accepted POST, after it was recorded and
	 * before the answer is written.
	 */
	signals[SIGNAL_DELIVERY] = g_signal_new("delivery",
						G_TYPE_FROM_CLASS(klass),
						G_SIGNAL_RUN_LAST,
						0,
						NULL,
						NULL,
						NULL,
						G_TYPE_NONE,
						1,
						PAL_TYPE_RECEIVED_REQUEST | G_SIGNAL_TYPE_STATIC_SCOPE);

	/**
	 * PalReceiver::delivery-finished:
	 * @self: the receiver
	 * @request: the request
	 *
	 * Emitted in the receiver's context once the answer to a delivery was written (or the
	 * client went away).
	 */
	signals[SIGNAL_DELIVERY_FINISHED] =
	    g_signal_new("delivery-finished",
			 G_TYPE_FROM_CLASS(klass),
			 G_SIGNAL_RUN_LAST,
			 0,
			 NULL,
			 NULL,
			 NULL,
			 G_TYPE_NONE,
			 1,
			 PAL_TYPE_RECEIVED_REQUEST | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
pal_receiver_init(PalReceiver *self)
{
	g_mutex_init(&self->mutex);
	g_cond_init(&self->cond);
	self->status = SOUP_STATUS_OK;
	self->status_sequence = g_array_new(FALSE, FALSE, sizeof(guint));
	self->max_body_size = PAL_RECEIVER_MAX_BODY_SIZE;
	self->record_limit = G_MAXUINT;
	self->requests = g_ptr_array_new_with_free_func((GDestroyNotify)pal_received_request_unref);
}

/**
 * pal_receiver_new:
 *
 * Returns: (transfer full): a receiver answering 200 to every POST; see pal_receiver_listen()
 */
PalReceiver *
pal_receiver_new(void)
{
	return g_object_new(PAL_TYPE_RECEIVER, NULL);
}
