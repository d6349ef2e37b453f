/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <libsoup/soup.h>

#include "palaver.h"

G_BEGIN_DECLS

/*
 * PalHttpClient: the HTTP client plugins use to call other services (the graph flow's http
 * node, the http flow). One per plugin instance and thread: it must be created in the thread
 * that uses it (its SoupSession runs in that thread's context, PLATFORM-NOTES 11).
 *
 * Bounded everywhere: at most @max_in_flight requests are handed to libsoup at once, the
 * others wait in a FIFO of their own (PLATFORM-NOTES 10); every request has a deadline that
 * covers waiting, connecting and reading; an answer body larger than @max_body is an error,
 * refused by its Content-Length when it announces one, and otherwise read without buffering
 * more than that. The body of a non-2xx answer is not read: the result is an empty body, and
 * the status says what happened.
 */
#define PAL_TYPE_HTTP_CLIENT (pal_http_client_get_type())
G_DECLARE_FINAL_TYPE(PalHttpClient, pal_http_client, PAL, HTTP_CLIENT, GObject)

PalHttpClient *
pal_http_client_new(guint max_in_flight, guint idle_timeout_s);
/* sends @message; the result is the body. Errors: PAL_ERROR_TIMED_OUT (the deadline passed),
 * PAL_ERROR_UNAVAILABLE (network; libsoup's message), PAL_ERROR_INVALID_DATA (too large),
 * G_IO_ERROR_CANCELLED (only when @cancellable was cancelled, also if the deadline passed
 * too; a waiting request completes at once). A non-2xx status is not an error: check *status,
 * which is also set after an error once the answer's headers had come. */
void
pal_http_client_fetch_async(PalHttpClient *self,
			    SoupMessage *message,
			    gsize max_body,
			    guint timeout_ms,
			    GCancellable *cancellable,
			    GAsyncReadyCallback callback,
			    gpointer user_data);
GBytes *
pal_http_client_fetch_finish(PalHttpClient *self,
			     GAsyncResult *result,
			     guint *status,
			     GError **error);

G_END_DECLS
