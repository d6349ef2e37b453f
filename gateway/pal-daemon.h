/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pal-backlog.h"
#include "pal-profile-cache.h"
#include "pal-config.h"
#include "pal-endpoint-set.h"
#include "pal-plugin-registry.h"
#include "pal-delivery.h"
#include "pal-store.h"
#include "pal-worker.h"

G_BEGIN_DECLS

#define PAL_TYPE_DAEMON (pal_daemon_get_type())
G_DECLARE_FINAL_TYPE(PalDaemon, pal_daemon, PAL, DAEMON, GObject)

/* The main-thread side of palaverd: configuration, plugin registry, the endpoint snapshot
 * published to workers, worker threads, reload and drain. */
PalDaemon *
pal_daemon_new(PalConfig *config, PalPluginRegistry *registry);
/* loads endpoints, starts workers and listeners; @bound receives "http://host:port/" URLs */
gboolean
pal_daemon_start(PalDaemon *self, GPtrArray *bound, GError **error);
/* re-reads the endpoint directory and swaps the snapshot; in-flight messages keep the
 * endpoint they were accepted with */
gboolean
pal_daemon_reload(PalDaemon *self, GError **error);
/* how many endpoint files or definitions the last (re)load refused */
guint
pal_daemon_get_n_refused_endpoints(PalDaemon *self);
/* stops accepting, waits until all accepted work is delivered or @timeout_s passed, stops the
 * workers; @callback runs on the main context */
void
pal_daemon_shutdown_async(PalDaemon *self,
			  guint timeout_s,
			  GAsyncReadyCallback callback,
			  gpointer user_data);
gboolean
pal_daemon_shutdown_finish(PalDaemon *self, GAsyncResult *res, GError **error);

/* for workers, any thread */
PalConfig *
pal_daemon_get_config(PalDaemon *self);
PalPluginRegistry *
pal_daemon_get_registry(PalDaemon *self);
PalStore *
pal_daemon_get_store(PalDaemon *self);
PalHostPauses *
pal_daemon_get_host_pauses(PalDaemon *self);
PalBacklog *
pal_daemon_get_backlog(PalDaemon *self);
PalProfileCache *
pal_daemon_get_profiles(PalDaemon *self);
guint
pal_daemon_owner_of_key(PalDaemon *self, const gchar *session_key);
PalEndpointSet *
pal_daemon_dup_endpoints(PalDaemon *self);
gboolean
pal_daemon_is_accepting(PalDaemon *self);
gboolean
pal_daemon_is_ready(PalDaemon *self);
guint
pal_daemon_get_n_workers(PalDaemon *self);
PalWorker *
pal_daemon_get_worker(PalDaemon *self, guint index);

G_END_DECLS
