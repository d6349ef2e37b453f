/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

/* owned by the palaver-tool receive helper and the test harness (tests/pal-test-util.c) */

/**
 * PAL_RECEIVER_MAX_BODY_SIZE:
 *
 * Default limit of a request body; larger bodies are answered with 413.
 */
#define PAL_RECEIVER_MAX_BODY_SIZE (16 * 1024 * 1024)

/**
 * PalReceivedHeader:
 * @name: the header name as sent
 * @value: the header value
 *
 * One request header line, in the order received.
 */
typedef struct {
	gchar *name;
	gchar *value;
} PalReceivedHeader;

/**
 * PalReceivedRequest:
 *
 * One POST that a #PalReceiver accepted (a "delivery"). Immutable and reference counted
 * atomically, so it may be read from any thread.
 */
typedef struct _PalReceivedRequest PalReceivedRequest;

#define PAL_TYPE_RECEIVED_REQUEST (pal_received_request_get_type())
GType
pal_received_request_get_type(void);
PalReceivedRequest *
pal_received_request_ref(PalReceivedRequest *self);
void
pal_received_request_unref(PalReceivedRequest *self);
guint
pal_received_request_get_index(const PalReceivedRequest *self);
const gchar *
pal_received_request_get_method(const PalReceivedRequest *self);
const gchar *
pal_received_request_get_path(const PalReceivedRequest *self);
const gchar *
pal_received_request_get_query(const PalReceivedRequest *self);
const gchar *
pal_received_request_get_remote_host(const PalReceivedRequest *self);
GPtrArray *
pal_received_request_get_headers(const PalReceivedRequest *self);
const gchar *
pal_received_request_get_header(const PalReceivedRequest *self, const gchar *name);
gchar *
pal_received_request_dup_header_list(const PalReceivedRequest *self, const gchar *name);
GBytes *
pal_received_request_get_body(const PalReceivedRequest *self);
JsonNode *
pal_received_request_get_json(const PalReceivedRequest *self);
gint64
pal_received_request_get_monotonic_time(const PalReceivedRequest *self);
gint64
pal_received_request_get_real_time(const PalReceivedRequest *self);
guint
pal_received_request_get_status(const PalReceivedRequest *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PalReceivedRequest, pal_received_request_unref)

#define PAL_TYPE_RECEIVER (pal_receiver_get_type())
G_DECLARE_FINAL_TYPE(PalReceiver, pal_receiver, PAL, RECEIVER, GObject)

/**
 * PalReceiverResponder:
 * @receiver: the receiver
 * @request: the request, not yet recorded; its status is not set yet
 * @user_data: the data given to pal_receiver_set_responder()
 *
 * Chooses the status of the answer to one delivery. Called in the receiver's context.
 *
 * Returns: an HTTP status (100..599), or 0 to fall through to the status sequence and the
 *   default status
 */
typedef guint (*PalReceiverResponder)(PalReceiver *receiver,
				      const PalReceivedRequest *request,
				      gpointer user_data);

PalReceiver *
pal_receiver_new(void);
gboolean
pal_receiver_listen(PalReceiver *self, const gchar *address, GError **error);
void
pal_receiver_stop(PalReceiver *self);
guint
pal_receiver_get_port(PalReceiver *self);
const gchar *
pal_receiver_get_host(PalReceiver *self);
gchar *
pal_receiver_get_url(PalReceiver *self, const gchar *path);
void
pal_receiver_set_status(PalReceiver *self, guint status);
void
pal_receiver_set_status_sequence(PalReceiver *self, const guint *statuses, gsize n_statuses);
void
pal_receiver_set_responder(PalReceiver *self,
			   PalReceiverResponder func,
			   gpointer user_data,
			   GDestroyNotify destroy);
void
pal_receiver_set_retry_after(PalReceiver *self, guint seconds);
void
pal_receiver_set_max_body_size(PalReceiver *self, gsize max_body_size);
void
pal_receiver_set_record_limit(PalReceiver *self, guint limit);
guint
pal_receiver_get_count(PalReceiver *self);
GPtrArray *
pal_receiver_dup_requests(PalReceiver *self);
void
pal_receiver_clear_requests(PalReceiver *self);
gboolean
pal_receiver_wait_count(PalReceiver *self, guint count, guint timeout_ms);
guint
pal_receiver_get_n_connections(PalReceiver *self);

gboolean
pal_receiver_parse_address(const gchar *address,
			   GInetAddress **inet_address,
			   guint16 *port,
			   GError **error);

G_END_DECLS
