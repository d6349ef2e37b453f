/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pal-config.h"
#include "pal-error.h"
#include "pal-http-listener.h"

typedef struct {
	PalHttpListener *self; /* not a reference: the listener outlives its records */
	GSocket *socket;
	GSocketConnection *stream; /* weak while libsoup serves it, strong while parked */
	GSocketAddress *remote;	   /* the key: libsoup hands it back on every message */
	GSocketAddress *local;
	gboolean parked;
	GSource *timer;
	GSource *park_idle;
	GSource *park_watch;
	SoupServerMessage *last_msg; /* the finished keep-alive message, to steal the connection */
	guint n_requests;
	guint n_rewrapped; /* times in a row a stolen stream with buffered bytes went back to libsoup */
} PalConn;

typedef struct {
	GSocket *socket;
	GSource *source;
} PalListenSocket;

struct _PalHttpListener {
	GObject parent_instance;
	SoupServer *server;
	GMainContext *context;
	GArray *listen_sockets; /* PalListenSocket */
	GHashTable *conns;	/* GSocketAddress* (remote) → PalConn* */
	guint header_timeout_s;
	guint idle_timeout_s;
	guint max_connections;
	guint64 n_refused;
};

G_DEFINE_FINAL_TYPE(PalHttpListener, pal_http_listener, G_TYPE_OBJECT)

static void
pal_source_clear(GSource **source)
{
	if (*source != NULL) {
		g_source_destroy(*source);
		g_source_unref(*source);
		*source = NULL;
	}
}

static void
pal_conn_stream_finalized_cb(gpointer data, GObject *where_the_object_was)
{
	PalConn *conn = data;

	conn->stream = NULL;
	g_hash_table_remove(conn->self->conns, conn->remote);
}

static void
pal_conn_free(PalConn *conn)
{
	pal_source_clear(&conn->timer);
	pal_source_clear(&conn->park_idle);
	pal_source_clear(&conn->park_watch);
	g_clear_object(&conn->last_msg);
	if (conn->stream != NULL) {
		if (conn->parked)
			g_object_unref(conn->stream);
		else
			g_object_weak_unref(G_OBJECT(conn->stream), pal_conn_stream_finalized_cb, conn);
	}
	g_object_unref(conn->socket);
	g_object_unref(conn->remote);
	g_clear_object(&conn->local);
	g_free(conn);
}

/* close with g_socket_close(), not shutdown() (PLATFORM-NOTES 3) */
static void
pal_conn_close(PalConn *conn)
{
	g_autoptr(GSocket) socket = g_object_ref(conn->socket);

	g_hash_table_remove(conn->self->conns, conn->remote);
	g_socket_close(socket, NULL);
}

static gboolean
pal_conn_timeout_cb(gpointer data)
{
	PalConn *conn = data;

	g_debug("closing connection after %s timeout", conn->parked ? "idle" : "header/body");
	g_source_unref(g_steal_pointer(&conn->timer));
	pal_conn_close(conn);
	return G_SOURCE_REMOVE;
}

static void
pal_conn_arm_timer(PalConn *conn, guint seconds)
{
	pal_source_clear(&conn->timer);
	conn->timer = g_timeout_source_new_seconds(seconds);
	g_source_set_callback(conn->timer, pal_conn_timeout_cb, conn, NULL);
	g_source_attach(conn->timer, conn->self->context);
}

static PalConn *
pal_http_listener_lookup(PalHttpListener *self, SoupServerMessage *msg)
{
	GSocketAddress *remote = soup_server_message_get_remote_address(msg);

	if (remote == NULL)
		return NULL;
	return g_hash_table_lookup(self->conns, remote);
}

/* hands a connection to libsoup: on accept, and again when a parked one has a new request */
static gboolean
pal_conn_serve(PalConn *conn, GError **error)
{
	PalHttpListener *self = conn->self;

	pal_conn_arm_timer(conn, self->header_timeout_s);
	if (!soup_server_accept_iostream(self->server,
					 G_IO_STREAM(conn->stream),
					 conn->local,
					 conn->remote,
					 error))
		return FALSE;
	/* libsoup holds the stream now; we only watch for its end */
	conn->parked = FALSE;
	g_object_weak_ref(G_OBJECT(conn->stream), pal_conn_stream_finalized_cb, conn);
	g_object_unref(conn->stream);
	return TRUE;
}

static gboolean
pal_conn_park_ready_cb(GSocket *socket, GIOCondition condition, gpointer data)
{
	PalConn *conn = data;
	g_autoptr(GError) error = NULL;
	gchar byte;
	gssize n;

	g_source_unref(g_steal_pointer(&conn->park_watch));
	/* a peek tells a new request from the client's close */
	n = recv(g_socket_get_fd(socket), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
		pal_conn_close(conn);
		return G_SOURCE_REMOVE;
	}
	if (!pal_conn_serve(conn, &error)) {
		g_debug("failed to serve parked connection: %s", error->message);
		pal_conn_close(conn);
	}
	return G_SOURCE_REMOVE;
}

/* libsoup 3.2.3 leaks a keep-alive connection that the client closes while it is idle
 * (it stays in the server's client list, with its fd: PLATFORM-NOTES 3, fixed upstream in 3.3).
 * So idle connections are not left with libsoup: right after a keep-alive response, before
 * libsoup looks at the socket again, the connection is stolen back and parked here; when the
 * next request arrives it is handed to libsoup again as a new connection, and when the client
 * closes or the idle timeout passes it is closed here.
 * Bytes the client sent early (pipelining) are respected: when the socket already has data the
 * connection stays with libsoup (it starts reading the next request, which is not the leaking
 * case), and bytes libsoup had already buffered are handed back with the stolen stream. */
static gboolean
pal_conn_park_cb(gpointer data)
{
	PalConn *conn = data;
	PalHttpListener *self = conn->self;
	g_autoptr(SoupServerMessage) msg = g_steal_pointer(&conn->last_msg);
	g_autoptr(GIOStream) stolen = NULL;
	GSocketConnection *stream = conn->stream;
	GInputStream *in;
	gchar byte;

	g_source_unref(g_steal_pointer(&conn->park_idle));
	if (stream == NULL || msg == NULL || g_io_stream_is_closed(G_IO_STREAM(stream)) ||
	    !g_socket_is_connected(conn->socket))
		return G_SOURCE_REMOVE;
	if (recv(g_socket_get_fd(conn->socket), &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0)
		return G_SOURCE_REMOVE;

	/* hold our stream while libsoup lets go of it */
	g_object_ref(stream);
	g_object_weak_unref(G_OBJECT(stream), pal_conn_stream_finalized_cb, conn);
	conn->parked = TRUE;
	stolen = soup_server_message_steal_connection(msg);

	in = stolen != NULL ? g_io_stream_get_input_stream(stolen) : NULL;
	if (in != NULL && G_IS_POLLABLE_INPUT_STREAM(in) &&
	    g_pollable_input_stream_is_readable(G_POLLABLE_INPUT_STREAM(in))) {
		g_autoptr(GError) error = NULL;

		/* libsoup had read ahead: give it back the stream that holds those bytes. Each
		 * round wraps it once more, so a client that keeps pipelining is closed after a few */
		if (conn->n_rewrapped >= 4) {
			pal_conn_close(conn);
			return G_SOURCE_REMOVE;
		}
		conn->n_rewrapped++;
		pal_conn_arm_timer(conn, self->header_timeout_s);
		if (!soup_server_accept_iostream(self->server, stolen, conn->local, conn->remote, &error)) {
			pal_conn_close(conn);
			return G_SOURCE_REMOVE;
		}
		/* the stolen stream keeps ours alive while libsoup serves it */
		conn->parked = FALSE;
		g_object_weak_ref(G_OBJECT(stream), pal_conn_stream_finalized_cb, conn);
		g_object_unref(stream);
		return G_SOURCE_REMOVE;
	}
	/* parked: the wrappers of earlier rounds are dropped with @stolen, and the next request is
	 * served on the socket's own stream, so only consecutive rewraps count (a busy keep-alive
	 * client that sometimes wins the race against the park must not be closed) */
	conn->n_rewrapped = 0;
	conn->park_watch = g_socket_create_source(conn->socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
	g_source_set_callback(conn->park_watch, G_SOURCE_FUNC(pal_conn_park_ready_cb), conn, NULL);
	g_source_attach(conn->park_watch, self->context);
	pal_conn_arm_timer(conn, self->idle_timeout_s);
	return G_SOURCE_REMOVE;
}

/* the whole request (headers and body) is in: handlers bound their own work with deadlines
 * (PLATFORM-NOTES 7). (A server signal, not got-headers/got-body handlers on every message: a
 * signal connection per request takes GObject's global signal lock, which both workers
 * contend for) */
static void
pal_http_listener_request_read_cb(SoupServer *server, SoupServerMessage *msg, PalHttpListener *self)
{
	PalConn *conn = pal_http_listener_lookup(self, msg);

	if (conn != NULL)
		pal_source_clear(&conn->timer);
}

static void
pal_http_listener_request_started_cb(SoupServer *server,
				     SoupServerMessage *msg,
				     PalHttpListener *self)
{
	PalConn *conn = pal_http_listener_lookup(self, msg);

	if (conn == NULL)
		return;
	/* headers and body together must arrive within the header timeout: a slow body is a slow
	 * request */
	pal_conn_arm_timer(conn, self->header_timeout_s);
}

static void
pal_http_listener_request_finished_cb(SoupServer *server,
				      SoupServerMessage *msg,
				      PalHttpListener *self)
{
	PalConn *conn = pal_http_listener_lookup(self, msg);

	if (conn == NULL)
		return;
	conn->n_requests++;
	pal_conn_arm_timer(conn, self->idle_timeout_s);
	/* libsoup sets up the connection's next message after this signal: park it from a
	 * high-priority idle, which runs before libsoup's own I/O source can */
	g_set_object(&conn->last_msg, msg);
	if (conn->park_idle == NULL) {
		conn->park_idle = g_idle_source_new();
		g_source_set_priority(conn->park_idle, G_PRIORITY_HIGH);
		g_source_set_callback(conn->park_idle, pal_conn_park_cb, conn, NULL);
		g_source_attach(conn->park_idle, self->context);
	}
}

static void
pal_http_listener_request_aborted_cb(SoupServer *server,
				     SoupServerMessage *msg,
				     PalHttpListener *self)
{
	PalConn *conn = pal_http_listener_lookup(self, msg);

	/* libsoup disconnects an aborted request itself; only the timer is ours */
	if (conn != NULL)
		pal_conn_arm_timer(conn, self->idle_timeout_s);
}

static void
pal_http_listener_accept_one(PalHttpListener *self, GSocket *socket)
{
	g_autoptr(GError) error = NULL;
	PalConn *conn;

	if (g_hash_table_size(self->conns) >= self->max_connections) {
		/* over the cap: refuse at once rather than queue without bound */
		self->n_refused++;
		g_socket_close(socket, NULL);
		return;
	}
	g_socket_set_option(socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
	conn = g_new0(PalConn, 1);
	conn->self = self;
	conn->socket = g_object_ref(socket);
	conn->remote = g_socket_get_remote_address(socket, NULL);
	conn->local = g_socket_get_local_address(socket, NULL);
	if (conn->remote == NULL) {
		/* the peer is gone already */
		g_object_unref(conn->socket);
		g_clear_object(&conn->local);
		g_free(conn);
		g_socket_close(socket, NULL);
		return;
	}
	/* parked until libsoup takes it: our reference is the only one */
	conn->stream = g_socket_connection_factory_create_connection(socket);
	conn->parked = TRUE;
	g_hash_table_insert(self->conns, conn->remote, conn);
	if (!pal_conn_serve(conn, &error)) {
		g_debug("failed to accept connection: %s", error->message);
		pal_conn_close(conn);
	}
}

static gboolean
pal_http_listener_accept_cb(GSocket *listen_socket, GIOCondition condition, gpointer user_data)
{
	PalHttpListener *self = PAL_HTTP_LISTENER(user_data);

	/* drain the backlog, but yield after a batch so one busy listener cannot starve the loop */
	for (guint i = 0; i < 64; i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GSocket) socket = g_socket_accept(listen_socket, NULL, &error);
		if (socket == NULL) {
			if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
				g_debug("accept failed: %s", error->message);
			break;
		}
		pal_http_listener_accept_one(self, socket);
	}
	return G_SOURCE_CONTINUE;
}

gboolean
pal_http_listener_add_address(PalHttpListener *self,
			      const gchar *address,
			      guint16 *bound_port,
			      GError **error)
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
	ls.source = g_socket_create_source(ls.socket, G_IO_IN, NULL);
	g_source_set_callback(ls.source,
			      G_SOURCE_FUNC(pal_http_listener_accept_cb),
			      self,
			      NULL);
	g_source_attach(ls.source, self->context);
	g_array_append_val(self->listen_sockets, ls);
	return TRUE;
}

/* SoupServer keeps connections alive only while it has a listener of its own (soup-server.c
 * request_finished checks priv->listeners). Give it one nobody can reach: a Unix socket whose
 * path is removed right after listen(). */
static gboolean
pal_http_listener_add_dummy(PalHttpListener *self, GError **error)
{
	g_autofree gchar *dir = NULL;
	g_autofree gchar *path = NULL;
	g_autoptr(GSocket) socket = NULL;
	g_autoptr(GSocketAddress) addr = NULL;
	gboolean ok;

	dir = g_dir_make_tmp("palaverd-XXXXXX", error);
	if (dir == NULL)
		return FALSE;
	path = g_build_filename(dir, "keepalive", NULL);
	socket = g_socket_new(G_SOCKET_FAMILY_UNIX,
			      G_SOCKET_TYPE_STREAM,
			      G_SOCKET_PROTOCOL_DEFAULT,
			      error);
	addr = g_unix_socket_address_new(path);
	ok = socket != NULL && g_socket_bind(socket, addr, FALSE, error) &&
	     g_socket_listen(socket, error) &&
	     soup_server_listen_socket(self->server, socket, 0, error);
	(void)g_unlink(path);
	(void)g_rmdir(dir);
	return ok;
}

static void
pal_http_listener_finalize(GObject *object)
{
	PalHttpListener *self = PAL_HTTP_LISTENER(object);

	pal_http_listener_stop_accepting(self);
	g_signal_handlers_disconnect_by_data(self->server, self);
	g_hash_table_unref(self->conns);
	g_array_unref(self->listen_sockets);
	g_object_unref(self->server);
	g_main_context_unref(self->context);
	G_OBJECT_CLASS(pal_http_listener_parent_class)->finalize(object);
}

static void
pal_http_listener_class_init(PalHttpListenerClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = pal_http_listener_finalize;
}

static void
pal_http_listener_init(PalHttpListener *self)
{
	self->listen_sockets = g_array_new(FALSE, FALSE, sizeof(PalListenSocket));
	self->conns = g_hash_table_new_full(g_direct_hash,
					    g_direct_equal,
					    NULL,
					    (GDestroyNotify)pal_conn_free);
}

PalHttpListener *
pal_http_listener_new(SoupServer *server,
		      guint header_timeout_s,
		      guint idle_timeout_s,
		      guint max_connections)
{
	PalHttpListener *self = g_object_new(PAL_TYPE_HTTP_LISTENER, NULL);
	g_autoptr(GError) error = NULL;

	self->server = g_object_ref(server);
	self->context = g_main_context_ref_thread_default();
	self->header_timeout_s = MAX(header_timeout_s, 1);
	self->idle_timeout_s = MAX(idle_timeout_s, 1);
	self->max_connections = MAX(max_connections, 1);
	g_signal_connect(server,
			 "request-started",
			 G_CALLBACK(pal_http_listener_request_started_cb),
			 self);
	g_signal_connect(server,
			 "request-read",
			 G_CALLBACK(pal_http_listener_request_read_cb),
			 self);
	g_signal_connect(server,
			 "request-finished",
			 G_CALLBACK(pal_http_listener_request_finished_cb),
			 self);
	g_signal_connect(server,
			 "request-aborted",
			 G_CALLBACK(pal_http_listener_request_aborted_cb),
			 self);
	if (!pal_http_listener_add_dummy(self, &error))
		g_message("keep-alive helper listener unavailable, connections close after each request: %s",
			  error->message);
	return self;
}

void
pal_http_listener_stop_accepting(PalHttpListener *self)
{
	for (guint i = 0; i < self->listen_sockets->len; i++) {
		PalListenSocket *ls = &g_array_index(self->listen_sockets, PalListenSocket, i);
		g_source_destroy(ls->source);
		g_source_unref(ls->source);
		g_socket_close(ls->socket, NULL);
		g_object_unref(ls->socket);
	}
	g_array_set_size(self->listen_sockets, 0);
}

void
pal_http_listener_close_all(PalHttpListener *self)
{
	GHashTableIter iter;
	PalConn *conn;

	g_hash_table_iter_init(&iter, self->conns);
	while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&conn)) {
		g_autoptr(GSocket) socket = g_object_ref(conn->socket);
		g_hash_table_iter_remove(&iter);
		g_socket_close(socket, NULL);
	}
}

guint
pal_http_listener_get_n_connections(PalHttpListener *self)
{
	return g_hash_table_size(self->conns);
}
