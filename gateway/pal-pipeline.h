/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pal-backlog.h"
#include "pal-profile-cache.h"
#include "pal-delivery.h"
#include "pal-endpoint.h"
#include "pal-plugin-registry.h"
#include "pal-stats.h"
#include "pal-store.h"

G_BEGIN_DECLS

#define PAL_TYPE_PIPELINE (pal_pipeline_get_type())
G_DECLARE_FINAL_TYPE(PalPipeline, pal_pipeline, PAL, PIPELINE, GObject)

/* The session lanes of one worker: each conversation (endpoint, userId, sessionId) this worker
 * owns runs its messages through the endpoint's flow strictly one after another, while
 * different sessions run concurrently; outputs stream into the worker's PalDelivery.
 * Lives in the worker's thread-default context; only the counters are for other threads. */
PalPipeline *
pal_pipeline_new(PalPluginRegistry *registry,
		 PalDelivery *delivery,
		 PalStore *store,
		 guint turn_timeout_s);
/* @size: the request body's size, for the worker's byte budget */
void
pal_pipeline_submit(PalPipeline *self, PalEndpoint *endpoint, PalMessage *message, gsize size);
/* counts messages out of the shared backlog and their outputs in, at each commit */
void
pal_pipeline_set_profiles(PalPipeline *self, PalProfileCache *profiles);
/* FALSE: messages have no journal entry to mark done with their turn (durability none; the
 * default is TRUE) */
void
pal_pipeline_set_journaled(PalPipeline *self, gboolean journaled);
void
pal_pipeline_set_backlog(PalPipeline *self, PalBacklog *backlog);
/* counts turns and their latency, and relays handover changes */
void
pal_pipeline_set_stats(PalPipeline *self, PalStats *stats);
/* D-Bus ResetSession: clears the session's state in memory and in the store, after the
 * messages it has waiting; @task (from any thread's context) gets TRUE, or an error
 * (PAL_ERROR_NOT_FOUND when the store has no such session) */
void
pal_pipeline_reset_session(PalPipeline *self, PalEndpoint *endpoint, const gchar *session_key, GTask *task);
/* forget cached plugin instances: the next turn of each endpoint creates new ones */
void
pal_pipeline_reload(PalPipeline *self);
/* cancels running turns and drops queued messages (logged); for the end of the worker */
void
pal_pipeline_shutdown(PalPipeline *self);
/* counters, atomic: messages accepted but not yet through their flow, their bytes, and
 * turns whose flow has not called back yet */
guint
pal_pipeline_get_queued(PalPipeline *self);
guint64
pal_pipeline_get_queued_bytes(PalPipeline *self);
guint
pal_pipeline_get_running(PalPipeline *self);
guint
pal_pipeline_get_n_sessions(PalPipeline *self);
/* the session key: endpoint name, userId and sessionId, length-prefixed so that no choice of
 * ids can make two sessions collide */
gchar *
pal_pipeline_session_key(const gchar *endpoint, const gchar *user_id, const gchar *session_id);
gboolean
pal_pipeline_session_key_split(const gchar *key, gchar **parts);

G_END_DECLS
