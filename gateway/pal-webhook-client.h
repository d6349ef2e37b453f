/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The HTTP/1.1 client of webhook deliveries: one per worker, used only from the thread (and
 * thread-default GMainContext) that created it.
 *
 * Why not SoupSession: measured on the benchmark machine, a SoupSession POST cost more CPU
 * than everything else palaverd does for a message (about 17 system calls per delivery, most
 * of them eventfd wake-ups from g_source_set_ready_time()). A delivery needs little of HTTP:
 * one POST with a known body, the status line, two response headers, and the body read past
 * (and bounded) so the connection can be kept. Header parsing stays libsoup's
 * (soup_headers_parse_response()); connecting, TLS and proxies stay GIO's (GSocketClient).
 *
 * Behaviour:
 * - keep-alive: idle connections are kept per scheme/host/port (most recently used first)
 *   and closed after @idle_timeout_s; a request never waits for a connection (the caller
 *   bounds how many it has in flight per host);
 * - a request that fails on a kept connection before any byte of the answer arrived (the
 *   receiver had closed it) is sent once more on a new connection: deliveries are
 *   at-least-once, receivers deduplicate on webhook-id;
 * - the deadline covers connecting, writing and reading the whole answer;
 * - redirects are not followed (a 3xx is an answer like any other);
 * - at most 64 KiB of answer headers; at most 64 KiB of answer body are read past, after
 *   that the status still counts and the connection is closed. */
#define PAL_TYPE_WEBHOOK_CLIENT (pal_webhook_client_get_type())
G_DECLARE_FINAL_TYPE(PalWebhookClient, pal_webhook_client, PAL, WEBHOOK_CLIENT, GObject)

/* @use_proxy: connect through the GIO default proxy resolver (set it only when a proxy is
 * configured: asking the resolver costs more than a delivery) */
PalWebhookClient *
pal_webhook_client_new(const gchar *user_agent, guint idle_timeout_s, gboolean use_proxy);

/* "scheme://host:port" of @url: where its requests go, the unit of kept connections (valid as
 * long as the client); NULL when @url is not an http or https URL with a host */
const gchar *
pal_webhook_client_lookup_host(PalWebhookClient *self, const gchar *url);

/* POSTs @body to @url (http or https) with Content-Type @content_type and @headers
 * (name, value, name, value…, NULL; nullable) */
void
pal_webhook_client_post_async(PalWebhookClient *self,
			      const gchar *url,
			      const gchar *const *headers,
			      const gchar *content_type,
			      GBytes *body,
			      guint timeout_ms,
			      GAsyncReadyCallback callback,
			      gpointer user_data);
/* the answer's status (any, 1xx excepted) and its Retry-After header (nullable, transfer
 * full); FALSE with @error when there was no answer: G_IO_ERROR_TIMED_OUT at the deadline,
 * G_IO_ERROR_CANCELLED after pal_webhook_client_abort(), else the connection's error */
gboolean
pal_webhook_client_post_finish(PalWebhookClient *self,
			       GAsyncResult *result,
			       guint *status,
			       gchar **retry_after,
			       GError **error);

/* fails every request in flight with G_IO_ERROR_CANCELLED (their callbacks still run, from
 * the main context) and closes every connection; later requests fail the same way */
void
pal_webhook_client_abort(PalWebhookClient *self);

/* connections: kept idle, and opened since the client was made (for tests and statistics) */
guint
pal_webhook_client_get_n_idle(PalWebhookClient *self);
guint64
pal_webhook_client_get_n_connects(PalWebhookClient *self);

G_END_DECLS
