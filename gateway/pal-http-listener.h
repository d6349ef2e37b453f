/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

#define PAL_TYPE_HTTP_LISTENER (pal_http_listener_get_type())
G_DECLARE_FINAL_TYPE(PalHttpListener, pal_http_listener, PAL, HTTP_LISTENER, GObject)

/* Owns the accept path of one SoupServer (one worker thread), working around libsoup 3.2's
 * defects (PLATFORM-NOTES.md 2-4): SO_REUSEPORT sockets bound natively, our own accept loop
 * feeding soup_server_accept_iostream(), header/idle timeouts, a connection cap, and closing
 * connections with g_socket_close() so that churn does not grow fds. Lives in the thread-default
 * context of the thread that creates it. */
PalHttpListener *
pal_http_listener_new(SoupServer *server,
		      guint header_timeout_s,
		      guint idle_timeout_s,
		      guint max_connections);
/* binds @address ("host:port", "[v6]:port"); a port of 0 picks one; returns the bound port */
gboolean
pal_http_listener_add_address(PalHttpListener *self,
			      const gchar *address,
			      guint16 *bound_port,
			      GError **error);
void
pal_http_listener_stop_accepting(PalHttpListener *self);
void
pal_http_listener_close_all(PalHttpListener *self);
guint
pal_http_listener_get_n_connections(PalHttpListener *self);

G_END_DECLS
