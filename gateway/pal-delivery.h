/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <libsoup/soup.h>

#include "pal-webhook-client.h"

#include "pal-backlog.h"
#include "pal-endpoint.h"
#include "pal-stats.h"
#include "pal-store.h"

G_BEGIN_DECLS

/* one output waiting for delivery: everything needed to (re)send it, so that a durable outbox
 * can store and restore it unchanged (issue #3) */
typedef struct {
	gint ref_count;
	PalEndpoint *endpoint;
	gint64 outbox_id;   /* its row in the store's outbox */
	gchar *session_key; /* pal_pipeline_session_key() */
	gchar *webhook_id;  /* deterministic: the same for every attempt */
	gchar *turn_id;
	guint turn_index;
	guint64 session_seq;
	GBytes *body; /* exact bytes POSTed */
	gint64 created_at; /* real time, µs */
	gint64 expires_at; /* real time, µs: dead letter after this */
	guint attempts;
	gint64 next_attempt_at; /* real time, µs: it survives a restart */
} PalDeliveryItem;

PalDeliveryItem *
pal_delivery_item_new(PalEndpoint *endpoint,
		      const gchar *session_key,
		      const gchar *turn_id,
		      guint turn_index,
		      guint64 session_seq,
		      GBytes *body);
/* an item for a stored outbox row (after a turn commit, at start-up, after a replay) */
PalDeliveryItem *
pal_delivery_item_new_from_row(PalEndpoint *endpoint, const PalStoreOutboxRow *row);
PalDeliveryItem *
pal_delivery_item_ref(PalDeliveryItem *item);
void
pal_delivery_item_unref(PalDeliveryItem *item);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PalDeliveryItem, pal_delivery_item_unref)

gchar *
pal_delivery_webhook_id(const gchar *turn_id, guint turn_index);

/* the standard body of DESIGN.md §1.3 */
GBytes *
pal_delivery_build_body(const gchar *user_id,
			const gchar *session_id,
			const gchar *text,
			JsonObject *data,
			const gchar *trace_id,
			gboolean disable_sensitive_logging,
			const gchar *source);

/* Standard Webhooks signature: "v1,<base64 HMAC-SHA256(id.timestamp.body)>" per secret,
 * space separated; NULL when @secrets is empty */
gchar *
pal_delivery_sign(GStrv secrets, const gchar *webhook_id, gint64 timestamp, GBytes *body);

/* pauses that receivers asked for (429/503 + Retry-After), shared by the workers: a host is
 * paused for every session, whichever worker owns it. Thread-safe. */
typedef struct _PalHostPauses PalHostPauses;

PalHostPauses *
pal_host_pauses_new(void);
PalHostPauses *
pal_host_pauses_ref(PalHostPauses *pauses);
void
pal_host_pauses_unref(PalHostPauses *pauses);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PalHostPauses, pal_host_pauses_unref)

#define PAL_TYPE_DELIVERY (pal_delivery_get_type())
G_DECLARE_FINAL_TYPE(PalDelivery, pal_delivery, PAL, DELIVERY, GObject)

/* Delivers outputs of the sessions one worker owns: per-session FIFO (the next output waits
 * until the previous one got a 2xx or was given up), sessions in parallel, a bounded number of
 * requests in flight per host with our own queue in front of the HTTP client (PalWebhookClient,
 * which never queues), retries with exponential backoff and full jitter honouring Retry-After, a TTL per
 * output. Lives in the thread-default context of its worker. */
/* @store: (nullable): where delivered, retried and given-up outputs are recorded;
 * @pauses: (nullable): host pauses shared with the other workers */
PalDelivery *
pal_delivery_new(guint max_conns, guint max_conns_per_host, PalStore *store, PalHostPauses *pauses);
void
pal_delivery_enqueue(PalDelivery *self, PalDeliveryItem *item);
/* outputs queued or in flight; readable from any thread */
guint
pal_delivery_get_pending(PalDelivery *self);
guint64
pal_delivery_get_pending_bytes(PalDelivery *self);
/* counts outputs out of the shared backlog as they leave (delivered or given up) */
void
pal_delivery_set_backlog(PalDelivery *self, PalBacklog *backlog);
guint
pal_delivery_get_in_flight(PalDelivery *self);
/* outputs ready to send that wait for a free connection (not those waiting for a retry) */
guint
pal_delivery_get_waiting(PalDelivery *self);
/* counts delivered, retried and given-up outputs per endpoint (and relays given-up ones) */
void
pal_delivery_set_stats(PalDelivery *self, PalStats *stats);
/* cancels everything in flight; what is still queued is dropped (logged). Callbacks of
 * cancelled requests still run: iterate the context until pal_delivery_get_in_flight() is 0
 * before dropping the last reference */
void
pal_delivery_shutdown(PalDelivery *self);
/* drops the HTTP client and its connections, in the thread that used it; after
 * pal_delivery_shutdown() */
void
pal_delivery_close_session(PalDelivery *self);

/* counters for statistics, readable from any thread */
guint64
pal_delivery_get_n_delivered(PalDelivery *self);
guint64
pal_delivery_get_n_failed(PalDelivery *self);

G_END_DECLS
