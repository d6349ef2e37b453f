/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define PAL_TYPE_STATS (pal_stats_get_type())
G_DECLARE_FINAL_TYPE(PalStats, pal_stats, PAL, STATS, GObject)

/*
 * Counters of the gateway per endpoint (the D-Bus GetStatistics method), counted where the
 * events happen: ingress (pal-worker.c), turns (pal-pipeline.c), delivery (pal-delivery.c).
 * Every counting function is thread-safe and cheap (atomic adds after a read-locked lookup).
 *
 * It also relays the events the control plane signals, from the worker threads to the
 * GMainContext that created it (the main thread):
 *
 * PalStats::delivery-failed (endpoint, user_id, session_id, webhook_id, reason, status): an
 *   output was given up (dead-lettered)
 * PalStats::handover-changed (endpoint, user_id, session_id, active): a session went to a
 *   human or came back
 */
PalStats *
pal_stats_new(void);

/* makes @endpoint appear in the statistics, with zeros */
void
pal_stats_ensure(PalStats *self, const gchar *endpoint);
/* ingress: a message accepted (202), or a request refused with the error @code; @endpoint
 * is NULL when the request named no endpoint (404, 503 while starting, …) */
void
pal_stats_accepted(PalStats *self, const gchar *endpoint);
void
pal_stats_rejected(PalStats *self, const gchar *endpoint, const gchar *code);
/* pipeline: a turn committed, @latency_us after the message was accepted */
void
pal_stats_turn_done(PalStats *self, const gchar *endpoint, gint64 latency_us);
/* delivery: a 2xx, @latency_us after the output was created; a retry scheduled; an output
 * given up (@session_key from pal_pipeline_session_key(), @status 0 for none) */
void
pal_stats_delivered(PalStats *self, const gchar *endpoint, gint64 latency_us);
void
pal_stats_retried(PalStats *self, const gchar *endpoint);
void
pal_stats_dead_lettered(PalStats *self,
			const gchar *endpoint,
			const gchar *session_key,
			const gchar *webhook_id,
			const gchar *reason,
			gint status);
void
pal_stats_handover_changed(PalStats *self,
			   const gchar *endpoint,
			   const gchar *user_id,
			   const gchar *session_id,
			   gboolean active);

/* {NAME: {"accepted", "rejected": {CODE: n}, "delivered", "retried", "deadLettered",
 * "turnLatencyMs": {…}, "deliveryLatencyMs": {…}}} for every endpoint seen since the start,
 * and the rejections without an endpoint as {CODE: n}: (transfer full) */
JsonObject *
pal_stats_dup_endpoints(PalStats *self);
JsonObject *
pal_stats_dup_unrouted(PalStats *self);
/* one endpoint's counter, for tests: "accepted", "delivered", "retried", "deadLettered" */
guint64
pal_stats_get_counter(PalStats *self, const gchar *endpoint, const gchar *counter);

G_END_DECLS
