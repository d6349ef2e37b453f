/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pal-backlog.h"
#include "pal-profile-cache.h"
#include "pal-config.h"
#include "pal-endpoint-set.h"
#include "pal-plugin-registry.h"
#include "pal-delivery.h"
#include "pal-stats.h"
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
PalStats *
pal_daemon_get_stats(PalDaemon *self);
/* whether one more message of @size bytes for @session_key fits in the bounded queues (the
 * owner worker's backlog by count and bytes, the session's, the endpoint's): the owner
 * worker, or NULL with the HTTP error *@code ("overloaded", "session_overloaded",
 * "endpoint_overloaded") and a sentence in *@message */
PalWorker *
pal_daemon_admit(PalDaemon *self,
		 PalEndpoint *endpoint,
		 const gchar *session_key,
		 gsize size,
		 const gchar **code,
		 const gchar **message);

/* --- the control plane (main thread) --- */

/* real time of pal_daemon_start(), µs; the "http://host:port/" URLs it listens on */
gint64
pal_daemon_get_start_time(PalDaemon *self);
const gchar *const *
pal_daemon_get_listen_urls(PalDaemon *self);
/* "file", "runtime" (created over D-Bus), or NULL for an unknown name */
const gchar *
pal_daemon_get_endpoint_source(PalDaemon *self, const gchar *name);

typedef enum {
	PAL_ENDPOINT_CHANGE_ADD,     /* @json: a new endpoint */
	PAL_ENDPOINT_CHANGE_MERGE,   /* @json: a JSON merge patch for runtime endpoint @name */
	PAL_ENDPOINT_CHANGE_REPLACE, /* @json: the whole new runtime endpoint @name */
	PAL_ENDPOINT_CHANGE_REMOVE,
	PAL_ENDPOINT_CHANGE_ENABLE,
	PAL_ENDPOINT_CHANGE_DISABLE,
} PalEndpointChange;

/* Changes the endpoints at runtime, one change after another: validated like a file
 * (PAL_ERROR_INVALID_DATA naming the JSON path; EXISTS for a name or token in use;
 * NOT_FOUND; NOT_SUPPORTED for editing or removing a file's endpoint), stored, then
 * published like a reload (messages in flight keep the endpoint they were accepted with)
 * and signalled with PalDaemon::endpoint-changed. Finish returns the endpoint's name. */
void
pal_daemon_change_endpoint_async(PalDaemon *self,
				 PalEndpointChange change,
				 const gchar *name,
				 const gchar *json,
				 GCancellable *cancellable,
				 GAsyncReadyCallback callback,
				 gpointer user_data);
gchar *
pal_daemon_change_endpoint_finish(PalDaemon *self, GAsyncResult *res, GError **error);

/* Inject (PAL_MESSAGE_KIND_INJECT) or notify (NOTIFY) @body (the HTTP body) for endpoint
 * @endpoint_name: the same validation, queue limits and journal as HTTP ingress; finish
 * returns the input id once journaled. Errors: NOT_FOUND, UNAVAILABLE (disabled, starting,
 * store), INVALID_DATA (the body), BUSY (queues full) */
void
pal_daemon_submit_async(PalDaemon *self,
			const gchar *endpoint_name,
			PalMessageKind kind,
			const gchar *body,
			gsize len,
			GCancellable *cancellable,
			GAsyncReadyCallback callback,
			gpointer user_data);
gchar *
pal_daemon_submit_finish(PalDaemon *self, GAsyncResult *res, GError **error);

/* clears a session's state, in order with its messages; NOT_FOUND when it is not stored */
void
pal_daemon_reset_session_async(PalDaemon *self,
			       const gchar *endpoint_name,
			       const gchar *user_id,
			       const gchar *session_id,
			       GCancellable *cancellable,
			       GAsyncReadyCallback callback,
			       gpointer user_data);
gboolean
pal_daemon_reset_session_finish(PalDaemon *self, GAsyncResult *res, GError **error);

/* moves dead letters back to delivery (@endpoint_name NULL: of every configured endpoint;
 * @session_key NULL: all sessions) with each endpoint's webhook.ttlSeconds; returns how many */
void
pal_daemon_replay_dead_letters_async(PalDaemon *self,
				     const gchar *endpoint_name,
				     const gchar *session_key,
				     GCancellable *cancellable,
				     GAsyncReadyCallback callback,
				     gpointer user_data);
gssize
pal_daemon_replay_dead_letters_finish(PalDaemon *self, GAsyncResult *res, GError **error);

/* the GetStatistics object: (transfer full) */
JsonNode *
pal_daemon_dup_statistics(PalDaemon *self);

/* the log level ("error" … "debug") of the writer pal_daemon_install_log_writer() sets */
void
pal_daemon_install_log_writer(gboolean debug);
gboolean
pal_daemon_set_log_level(const gchar *level, GError **error);
const gchar *
pal_daemon_get_log_level(void);

G_END_DECLS
