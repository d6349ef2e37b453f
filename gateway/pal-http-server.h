/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

/* One request and its answer. Handlers get one per request and may answer later (ref it);
 * answering after the client went away does nothing. */
typedef struct _PalHttpExchange PalHttpExchange;

PalHttpExchange *
pal_http_exchange_ref(PalHttpExchange *ex);
void
pal_http_exchange_unref(PalHttpExchange *ex);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PalHttpExchange, pal_http_exchange_unref)

/* the request as sent: method ("POST"), path (percent-encoded, without the query), the decoded
 * query (nullable), headers and body (NULL when it was over the limit or not kept: only POST
 * bodies are kept, others are read past) */
const gchar *
pal_http_exchange_get_method(PalHttpExchange *ex);
const gchar *
pal_http_exchange_get_path(PalHttpExchange *ex);
GHashTable *
pal_http_exchange_get_query(PalHttpExchange *ex);
SoupMessageHeaders *
pal_http_exchange_get_request_headers(PalHttpExchange *ex);
GBytes *
pal_http_exchange_get_body(PalHttpExchange *ex);
/* the body was longer than the server's limit: it was not read, the connection closes after
 * the answer */
gboolean
pal_http_exchange_get_body_too_large(PalHttpExchange *ex);
/* a request that is not valid HTTP/1 for this server: the status to answer with (400, 414,
 * 431, 501, 505) and why; 0 for a good request */
guint
pal_http_exchange_get_error(PalHttpExchange *ex, const gchar **message);
/* headers for the answer; "Connection: close" in them closes the connection after it */
SoupMessageHeaders *
pal_http_exchange_get_response_headers(PalHttpExchange *ex);
/* the client closed the connection: an answer would go nowhere */
gboolean
pal_http_exchange_is_gone(PalHttpExchange *ex);
/* answers once (later calls are ignored); a HEAD request gets the headers only */
void
pal_http_exchange_respond(PalHttpExchange *ex,
			  guint status,
			  const gchar *content_type,
			  const gchar *body,
			  gsize len);

typedef void (*PalHttpHandler)(PalHttpExchange *ex, gpointer user_data);

/* The HTTP/1.1 server of one worker thread (lives in the thread-default context of the thread
 * that creates it): SO_REUSEPORT listening sockets bound natively (PLATFORM-NOTES 2), keep-alive
 * and pipelined requests answered in order, Content-Length and chunked request bodies bounded by
 * @max_body, `Expect: 100-continue`, a header timeout (headers and body of a request), an idle
 * timeout between requests, a connection cap, and connections closed with g_socket_close().
 *
 * Why not SoupServer: it leaks idle keep-alive connections the client closes (PLATFORM-NOTES 3),
 * which palaverd worked around by taking every idle connection back from libsoup and handing it
 * in again for the next request; that, and a GObject with signals per request, cost more CPU
 * than the rest of a message's way through palaverd (measured in tests/bench: see README,
 * Performance). Header parsing stays libsoup's (soup_headers_parse_request()). */
#define PAL_TYPE_HTTP_SERVER (pal_http_server_get_type())
G_DECLARE_FINAL_TYPE(PalHttpServer, pal_http_server, PAL, HTTP_SERVER, GObject)

PalHttpServer *
pal_http_server_new(PalHttpHandler handler,
		    gpointer user_data,
		    guint header_timeout_s,
		    guint idle_timeout_s,
		    guint max_connections,
		    gsize max_body);
/* binds @address ("host:port", "[v6]:port"); a port of 0 picks one; returns the bound port */
gboolean
pal_http_server_add_address(PalHttpServer *self, const gchar *address, guint16 *bound_port, GError **error);
void
pal_http_server_stop_accepting(PalHttpServer *self);
/* closes every connection; requests being handled are gone */
void
pal_http_server_close_all(PalHttpServer *self);
guint
pal_http_server_get_n_connections(PalHttpServer *self);

G_END_DECLS
