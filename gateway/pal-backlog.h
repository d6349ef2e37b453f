/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* How much work waits, per endpoint and per session, across all workers: accepted messages
 * not yet through their turn plus outputs not yet delivered or given up. Ingress refuses new
 * messages (429) past the limits, so one busy session or endpoint cannot take the whole
 * memory budget from the others. Thread-safe. */
typedef struct _PalBacklog PalBacklog;

typedef enum {
	PAL_BACKLOG_OK,
	PAL_BACKLOG_SESSION_FULL,
	PAL_BACKLOG_ENDPOINT_FULL,
} PalBacklogState;

PalBacklog *
pal_backlog_new(guint max_per_endpoint, guint max_per_session);
void
pal_backlog_free(PalBacklog *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PalBacklog, pal_backlog_free)

/* whether one more message fits */
PalBacklogState
pal_backlog_check(PalBacklog *self, const gchar *endpoint, const gchar *session_key);
/* @delta: +1 per accepted message or stored output, -1 when it is done */
void
pal_backlog_add(PalBacklog *self, const gchar *endpoint, const gchar *session_key, gint delta);
guint
pal_backlog_get_endpoint(PalBacklog *self, const gchar *endpoint);

G_END_DECLS
