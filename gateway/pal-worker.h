/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pal-config.h"
#include "pal-delivery.h"
#include "pal-endpoint.h"
#include "pal-plugin-registry.h"

G_BEGIN_DECLS

typedef struct _PalDaemon PalDaemon;

#define PAL_TYPE_WORKER (pal_worker_get_type())
G_DECLARE_FINAL_TYPE(PalWorker, pal_worker, PAL, WORKER, GObject)

/* One HTTP worker thread (DESIGN.md §2): its own GMainContext, SoupServer with its own
 * SO_REUSEPORT listeners, session lanes and delivery SoupSession. Other threads talk to it
 * only through pal_worker_post_*(), a locked queue plus a wake-up. */
PalWorker *
pal_worker_new(PalDaemon *daemon, guint index);
/* starts the thread and binds @listen; resolved ports (port 0 picks one) are written to
 * @ports (one per address). Blocks until the worker is serving or failed. */
gboolean
pal_worker_start(PalWorker *self, GStrv listen, guint16 *ports, GError **error);
/* takes @message (transfer full); FALSE when the worker has stopped */
gboolean
pal_worker_post_message(PalWorker *self, PalEndpoint *endpoint, PalMessage *message, gsize size);
/* an output resumed from the store; FALSE when the worker has stopped */
gboolean
pal_worker_post_delivery(PalWorker *self, PalDeliveryItem *item);
void
pal_worker_post_reload(PalWorker *self);
/* resets a session this worker owns (pal_pipeline_reset_session()); @task gets the answer,
 * an error when the worker has stopped */
void
pal_worker_post_reset_session(PalWorker *self, PalEndpoint *endpoint, const gchar *session_key, GTask *task);
void
pal_worker_post_stop_accepting(PalWorker *self);
/* messages queued or in flows, plus outputs not yet delivered; and their bytes */
guint
pal_worker_get_backlog(PalWorker *self);
guint64
pal_worker_get_backlog_bytes(PalWorker *self);
/* ends the thread: in-flight work is cancelled; call after draining */
void
pal_worker_stop(PalWorker *self);

G_END_DECLS
