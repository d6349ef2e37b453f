/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pal-delivery.h"
#include "pal-endpoint.h"
#include "pal-plugin-registry.h"

G_BEGIN_DECLS

#define PAL_TYPE_PIPELINE (pal_pipeline_get_type())
G_DECLARE_FINAL_TYPE(PalPipeline, pal_pipeline, PAL, PIPELINE, GObject)

/* The session lanes of one worker: each conversation (endpoint, userId, sessionId) this worker
 * owns runs its messages through the endpoint's flow strictly one after another, while
 * different sessions run concurrently; outputs stream into the worker's PalDelivery.
 * Lives in the worker's thread-default context; only pal_pipeline_get_queued() is for
 * other threads. */
PalPipeline *
pal_pipeline_new(PalPluginRegistry *registry, PalDelivery *delivery, guint turn_timeout_s);
void
pal_pipeline_submit(PalPipeline *self, PalEndpoint *endpoint, PalMessage *message);
/* forget cached plugin instances: the next turn of each endpoint creates new ones */
void
pal_pipeline_reload(PalPipeline *self);
/* messages accepted but not yet through their flow */
guint
pal_pipeline_get_queued(PalPipeline *self);
guint
pal_pipeline_get_n_sessions(PalPipeline *self);
/* the session key: endpoint name, userId and sessionId joined by U+001F */
gchar *
pal_pipeline_session_key(const gchar *endpoint, const gchar *user_id, const gchar *session_id);

G_END_DECLS
