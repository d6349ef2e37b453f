/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "pal-daemon.h"
#include "pal-inbound.h"
#include "pal-pipeline.h"
#include "pal-store-sqlite.h"
#include <string.h>

#include "pal-http-listener.h"
#include "pal-json-util.h"
#include "pal-util.h"

struct _PalDaemon {
	GObject parent_instance;
	PalConfig *config;
	PalPluginRegistry *registry;
	PalStore *store;
	PalHostPauses *pauses;
	PalBacklog *backlog;
	PalProfileCache *profiles;
	GMutex lock;
	PalEndpointSet *endpoints; /* the published snapshot, swapped under @lock */
	GPtrArray *workers;
	guint n_refused; /* endpoints refused by the last load */
	gint accepting; /* atomic */
	gint ready;	/* atomic */
	GSource *retention;
};

/* how often stored sessions are checked against their endpoint's session.stateTtlDays, and
 * how long the journal keeps the rows of finished turns (replays only need unfinished ones) */
#define PAL_DAEMON_RETENTION_INTERVAL_S (10 * 60)
#define PAL_DAEMON_JOURNAL_KEEP_US (G_GINT64_CONSTANT(3600) * G_USEC_PER_SEC)
/* an expired session keeps its sequence counter this long, so that Palaver-Session-Seq keeps
 * increasing when an old conversation starts again */
#define PAL_DAEMON_SESSION_FORGET_US (G_GINT64_CONSTANT(366) * 86400 * G_USEC_PER_SEC)

G_DEFINE_FINAL_TYPE(PalDaemon, pal_daemon, G_TYPE_OBJECT)

PalConfig *
pal_daemon_get_config(PalDaemon *self)
{
	return self->config;
}

PalPluginRegistry *
pal_daemon_get_registry(PalDaemon *self)
{
	return self->registry;
}

PalEndpointSet *
pal_daemon_dup_endpoints(PalDaemon *self)
{
	PalEndpointSet *set;

	g_mutex_lock(&self->lock);
	set = g_object_ref(self->endpoints);
	g_mutex_unlock(&self->lock);
	return set;
}

guint
pal_daemon_get_n_refused_endpoints(PalDaemon *self)
{
	return self->n_refused;
}

gboolean
pal_daemon_is_accepting(PalDaemon *self)
{
	return g_atomic_int_get(&self->accepting);
}

gboolean
pal_daemon_is_ready(PalDaemon *self)
{
	return g_atomic_int_get(&self->ready) && g_atomic_int_get(&self->accepting);
}

guint
pal_daemon_get_n_workers(PalDaemon *self)
{
	return self->workers->len;
}

PalWorker *
pal_daemon_get_worker(PalDaemon *self, guint index)
{
	return g_ptr_array_index(self->workers, index);
}

PalStore *
pal_daemon_get_store(PalDaemon *self)
{
	return self->store;
}

PalHostPauses *
pal_daemon_get_host_pauses(PalDaemon *self)
{
	return self->pauses;
}

PalProfileCache *
pal_daemon_get_profiles(PalDaemon *self)
{
	return self->profiles;
}

PalBacklog *
pal_daemon_get_backlog(PalDaemon *self)
{
	return self->backlog;
}

guint
pal_daemon_owner_of_key(PalDaemon *self, const gchar *session_key)
{
	/* FNV-1a: stable, cheap, well spread */
	guint32 h = 2166136261u;

	for (const guchar *p = (const guchar *)session_key; *p != '\0'; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	return h % self->workers->len;
}

/* what the last run left: undelivered outputs first (older turns), then accepted messages
 * that never finished their turn, each to the worker that owns its session, in order, before
 * any new message is accepted */
static gboolean
pal_daemon_recover(PalDaemon *self, PalEndpointSet *endpoints, GError **error)
{
	g_autoptr(GPtrArray) rows = pal_store_load_outbox(self->store, NULL, error);
	g_autoptr(GPtrArray) entries = NULL;
	guint n_rows = 0;
	guint n_msgs = 0;

	if (rows == NULL)
		return FALSE;
	for (guint i = 0; i < rows->len; i++) {
		PalStoreOutboxRow *row = g_ptr_array_index(rows, i);
		PalEndpoint *ep = pal_endpoint_set_lookup_name(endpoints, row->endpoint);
		g_autoptr(PalDeliveryItem) item = NULL;

		if (ep == NULL) {
			g_message("output %s waits for endpoint %s, which is not configured; it stays stored",
				  row->webhook_id,
				  row->endpoint);
			continue;
		}
		item = pal_delivery_item_new_from_row(ep, row);
		pal_backlog_add(self->backlog, row->endpoint, row->session_key, 1);
		pal_worker_post_delivery(g_ptr_array_index(self->workers,
							   pal_daemon_owner_of_key(self, row->session_key)),
					 item);
		n_rows++;
	}
	entries = pal_store_load_unfinished_journal(self->store, NULL, error);
	if (entries == NULL)
		return FALSE;
	for (guint i = 0; i < entries->len; i++) {
		PalStoreJournalEntry *e = g_ptr_array_index(entries, i);
		PalEndpoint *ep = pal_endpoint_set_lookup_name(endpoints, e->endpoint);
		PalInboundError err = {0};
		gsize len = 0;
		const gchar *data = g_bytes_get_data(e->body, &len);
		PalMessage *msg;

		if (ep == NULL) {
			g_message("message %s waits for endpoint %s, which is not configured; it stays stored",
				  e->input_id,
				  e->endpoint);
			continue;
		}
		msg = pal_inbound_restore((PalMessageKind)e->kind, e->input_id, e->received_at, data, len, &err);
		if (msg == NULL) {
			g_message("journaled message %s cannot be read back: %s", e->input_id, err.message);
			pal_inbound_error_clear(&err);
			continue;
		}
		{
			g_autofree gchar *key = pal_pipeline_session_key(e->endpoint, e->user_id, e->session_id);
			pal_backlog_add(self->backlog, e->endpoint, key, 1);
			pal_worker_post_message(g_ptr_array_index(self->workers, pal_daemon_owner_of_key(self, key)),
						ep,
						msg,
						len);
		}
		n_msgs++;
	}
	if (n_rows > 0 || n_msgs > 0)
		g_message("resuming %u undelivered output(s) and %u unfinished message(s) from the store",
			  n_rows,
			  n_msgs);
	return TRUE;
}

/* an endpoint whose plugins cannot be set up is refused alone; the others keep working */
static gboolean
pal_daemon_check_endpoint(PalDaemon *self, PalEndpoint *endpoint, GError **error)
{
	g_autoptr(GObject) flow = NULL;
	g_autoptr(JsonObject) options = pal_json_object_deep_copy(pal_endpoint_get_flow_options(endpoint));
	struct {
		PalPluginKind kind;
		const gchar *type;
	} others[] = {
	    {PAL_PLUGIN_KIND_NLU, pal_endpoint_get_nlu_type(endpoint)},
	    {PAL_PLUGIN_KIND_HANDOVER, pal_endpoint_get_handover_type(endpoint)},
	};
	JsonArray *transformers = pal_endpoint_get_transformers(endpoint);

	flow = pal_plugin_registry_create(self->registry,
					  PAL_PLUGIN_KIND_FLOW,
					  pal_endpoint_get_flow_type(endpoint),
					  pal_endpoint_get_info(endpoint),
					  options,
					  error);
	if (flow == NULL)
		return FALSE;
	for (guint i = 0; i < G_N_ELEMENTS(others); i++) {
		if (others[i].type == NULL)
			continue;
		if (pal_plugin_registry_lookup(self->registry, others[i].kind, others[i].type) == G_TYPE_INVALID) {
			g_set_error(error,
				    PAL_ERROR,
				    PAL_ERROR_PLUGIN,
				    "%s plugin \"%s\" is not installed",
				    pal_plugin_kind_to_string(others[i].kind),
				    others[i].type);
			return FALSE;
		}
	}
	for (guint i = 0; transformers != NULL && i < json_array_get_length(transformers); i++) {
		JsonObject *t = json_array_get_object_element(transformers, i);
		const gchar *type = json_object_get_string_member_with_default(t, "type", "");
		if (pal_plugin_registry_lookup(self->registry, PAL_PLUGIN_KIND_TRANSFORMER, type) == G_TYPE_INVALID) {
			g_set_error(error,
				    PAL_ERROR,
				    PAL_ERROR_PLUGIN,
				    "transformers[%u]: transformer plugin \"%s\" is not installed",
				    i,
				    type);
			return FALSE;
		}
	}
	return TRUE;
}

static PalEndpointSet *
pal_daemon_load_endpoints(PalDaemon *self, GError **error)
{
	g_autoptr(PalEndpointSet) set = pal_endpoint_set_new();
	g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func((GDestroyNotify)g_error_free);
	g_autoptr(GPtrArray) all = NULL;
	const gchar *dir = pal_config_get_endpoints_dir(self->config);

	if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
		g_message("endpoint directory %s does not exist: no endpoints", dir);
		return g_steal_pointer(&set);
	}
	if (!pal_endpoint_set_load_directory(set, dir, pal_config_get_data_dir(self->config), errors, error))
		return NULL;
	self->n_refused = errors->len;
	for (guint i = 0; i < errors->len; i++) {
		GError *e = g_ptr_array_index(errors, i);
		g_message("endpoint refused: %s", e->message);
	}
	all = pal_endpoint_set_get_all(set);
	for (guint i = 0; i < all->len; i++) {
		PalEndpoint *ep = g_ptr_array_index(all, i);
		g_autoptr(GError) err = NULL;
		if (!pal_daemon_check_endpoint(self, ep, &err)) {
			g_message("endpoint refused: %s: %s", pal_endpoint_get_origin(ep), err->message);
			pal_endpoint_set_remove(set, pal_endpoint_get_name(ep));
			self->n_refused++;
			continue;
		}
		g_message("endpoint %s loaded from %s (flow %s, webhook %s)",
			  pal_endpoint_get_name(ep),
			  pal_endpoint_get_origin(ep),
			  pal_endpoint_get_flow_type(ep),
			  pal_endpoint_get_webhook_url(ep)[0] != '\0' ? pal_endpoint_get_webhook_url(ep) : "none");
	}
	return g_steal_pointer(&set);
}

static void
pal_daemon_publish(PalDaemon *self, PalEndpointSet *set)
{
	g_autoptr(PalEndpointSet) old = NULL;

	g_mutex_lock(&self->lock);
	old = self->endpoints;
	self->endpoints = g_object_ref(set);
	g_mutex_unlock(&self->lock);
	for (guint i = 0; i < self->workers->len; i++)
		pal_worker_post_reload(g_ptr_array_index(self->workers, i));
}

gboolean
pal_daemon_reload(PalDaemon *self, GError **error)
{
	g_autoptr(PalEndpointSet) set = pal_daemon_load_endpoints(self, error);
	g_autoptr(GPtrArray) all = NULL;

	if (set == NULL)
		return FALSE;
	all = pal_endpoint_set_get_all(set);
	pal_daemon_publish(self, set);
	g_message("reloaded: %u endpoint(s)", all->len);
	return TRUE;
}

static gboolean
pal_daemon_open_store(PalDaemon *self, GError **error)
{
	const gchar *backend = pal_config_get_store_backend(self->config);
	PalDurability durability = pal_config_get_durability(self->config);

	if (g_strcmp0(backend, "sqlite") != 0) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_NOT_SUPPORTED,
			    "[Store] Backend=%s: only \"sqlite\" is available in this build",
			    backend);
		return FALSE;
	}
	self->backlog = pal_backlog_new(pal_config_get_delivery_max_queue_per_endpoint(self->config),
					pal_config_get_delivery_max_queue_per_session(self->config));
	self->store = pal_store_sqlite_new(pal_config_get_store_path(self->config), durability, error);
	if (self->store == NULL)
		return FALSE;
	g_message("store: %s (durability %s)",
		  durability == PAL_DURABILITY_NONE ? "memory" : pal_config_get_store_path(self->config),
		  durability == PAL_DURABILITY_NONE ? "none" : durability == PAL_DURABILITY_POWER ? "power" : "crash");
	return TRUE;
}

static void
pal_daemon_expired_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autofree gchar *endpoint = user_data;
	g_autoptr(GError) error = NULL;
	gssize n = pal_store_sessions_expire_finish(PAL_STORE(source), res, &error);

	if (n < 0)
		g_message("endpoint %s: cannot delete expired sessions: %s", endpoint, error->message);
	else if (n > 0)
		g_debug("endpoint %s: %" G_GSSIZE_FORMAT " session(s) past session.stateTtlDays deleted", endpoint, n);
}

/* session-state retention: a session not updated for its endpoint's stateTtlDays loses its
 * state (the pipeline also starts such a session fresh if it is still in memory) */
static gboolean
pal_daemon_retention_cb(gpointer data)
{
	PalDaemon *self = data;
	g_autoptr(PalEndpointSet) set = pal_daemon_dup_endpoints(self);
	g_autoptr(GPtrArray) all = pal_endpoint_set_get_all(set);
	gint64 now = g_get_real_time();

	for (guint i = 0; i < all->len; i++) {
		PalEndpoint *ep = g_ptr_array_index(all, i);
		gint64 ttl = (gint64)pal_endpoint_get_state_ttl_days(ep) * 86400 * G_USEC_PER_SEC;

		pal_store_sessions_expire_async(self->store,
						pal_endpoint_get_name(ep),
						now - ttl,
						now - MAX(ttl, PAL_DAEMON_SESSION_FORGET_US),
						i == 0 ? now - PAL_DAEMON_JOURNAL_KEEP_US : 0,
						NULL,
						pal_daemon_expired_cb,
						g_strdup(pal_endpoint_get_name(ep)));
	}
	return G_SOURCE_CONTINUE;
}

gboolean
pal_daemon_start(PalDaemon *self, GPtrArray *bound, GError **error)
{
	g_autoptr(PalEndpointSet) set = pal_daemon_load_endpoints(self, error);
	GStrv listen = pal_config_get_listen(self->config);
	guint n_listen = g_strv_length(listen);
	g_autofree guint16 *ports = g_new0(guint16, MAX(n_listen, 1));
	guint n_workers = pal_config_get_workers(self->config);

	if (set == NULL)
		return FALSE;
	if (!pal_daemon_open_store(self, error))
		return FALSE;
	pal_daemon_publish(self, set);
	/* every worker exists before any starts: a request served by the first one already
	 * hashes over the final set of owners */
	for (guint i = 0; i < n_workers; i++)
		g_ptr_array_add(self->workers, pal_worker_new(self, i));
	for (guint i = 0; i < n_workers; i++) {
		if (!pal_worker_start(g_ptr_array_index(self->workers, i), listen, ports, error))
			return FALSE;
	}
	if (!pal_daemon_recover(self, set, error))
		return FALSE;
	g_atomic_int_set(&self->accepting, TRUE);
	for (guint i = 0; i < n_listen && bound != NULL; i++) {
		g_autofree gchar *host = NULL;
		pal_config_parse_listen_address(listen[i], &host, NULL, NULL);
		g_ptr_array_add(bound,
				g_strdup_printf(strchr(host, ':') != NULL ? "http://[%s]:%u/" : "http://%s:%u/",
						host[0] != '\0' ? host : "0.0.0.0",
						ports[i]));
	}
	pal_daemon_retention_cb(self);
	self->retention = g_timeout_source_new_seconds(PAL_DAEMON_RETENTION_INTERVAL_S);
	g_source_set_callback(self->retention, pal_daemon_retention_cb, self, NULL);
	g_source_attach(self->retention, g_main_context_get_thread_default());
	g_atomic_int_set(&self->ready, TRUE);
	return TRUE;
}

typedef struct {
	gint64 deadline;
	GSource *poll;
} PalDrain;

static void
pal_drain_free(PalDrain *d)
{
	if (d->poll != NULL) {
		g_source_destroy(d->poll);
		g_source_unref(d->poll);
	}
	g_free(d);
}

static void
pal_daemon_stop_workers(PalDaemon *self)
{
	for (guint i = 0; i < self->workers->len; i++)
		pal_worker_stop(g_ptr_array_index(self->workers, i));
}

static gboolean
pal_daemon_drain_cb(gpointer data)
{
	GTask *task = data;
	PalDaemon *self = g_task_get_source_object(task);
	PalDrain *d = g_task_get_task_data(task);
	guint backlog = 0;

	for (guint i = 0; i < self->workers->len; i++)
		backlog += pal_worker_get_backlog(g_ptr_array_index(self->workers, i));
	if (backlog > 0 && g_get_monotonic_time() < d->deadline)
		return G_SOURCE_CONTINUE;
	if (backlog > 0)
		g_message("shutdown deadline passed with %u message(s)/output(s) unfinished", backlog);
	g_source_unref(d->poll);
	d->poll = NULL;
	pal_daemon_stop_workers(self);
	g_task_return_boolean(task, TRUE);
	g_object_unref(task);
	return G_SOURCE_REMOVE;
}

void
pal_daemon_shutdown_async(PalDaemon *self,
			  guint timeout_s,
			  GAsyncReadyCallback callback,
			  gpointer user_data)
{
	GTask *task = g_task_new(self, NULL, callback, user_data);
	PalDrain *d = g_new0(PalDrain, 1);

	g_task_set_source_tag(task, pal_daemon_shutdown_async);
	g_task_set_task_data(task, d, (GDestroyNotify)pal_drain_free);
	g_atomic_int_set(&self->accepting, FALSE);
	for (guint i = 0; i < self->workers->len; i++)
		pal_worker_post_stop_accepting(g_ptr_array_index(self->workers, i));
	d->deadline = g_get_monotonic_time() + (gint64)timeout_s * G_USEC_PER_SEC;
	d->poll = g_timeout_source_new(20);
	g_source_set_callback(d->poll, pal_daemon_drain_cb, task, NULL);
	g_source_attach(d->poll, g_main_context_get_thread_default());
}

gboolean
pal_daemon_shutdown_finish(PalDaemon *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, self), FALSE);
	return g_task_propagate_boolean(G_TASK(res), error);
}

static void
pal_daemon_finalize(GObject *object)
{
	PalDaemon *self = PAL_DAEMON(object);

	if (self->retention != NULL) {
		g_source_destroy(self->retention);
		g_source_unref(self->retention);
	}
	pal_daemon_stop_workers(self);
	g_ptr_array_unref(self->workers);
	if (self->store != NULL)
		pal_store_close(self->store);
	g_clear_object(&self->store);
	g_clear_pointer(&self->pauses, pal_host_pauses_unref);
	g_clear_pointer(&self->backlog, pal_backlog_free);
	g_clear_pointer(&self->profiles, pal_profile_cache_free);
	g_clear_object(&self->endpoints);
	g_object_unref(self->registry);
	g_object_unref(self->config);
	g_mutex_clear(&self->lock);
	G_OBJECT_CLASS(pal_daemon_parent_class)->finalize(object);
}

static void
pal_daemon_class_init(PalDaemonClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = pal_daemon_finalize;
}

static void
pal_daemon_init(PalDaemon *self)
{
	g_mutex_init(&self->lock);
	self->workers = g_ptr_array_new_with_free_func(g_object_unref);
	self->pauses = pal_host_pauses_new();
	self->profiles = pal_profile_cache_new();
	self->endpoints = pal_endpoint_set_new();
}

PalDaemon *
pal_daemon_new(PalConfig *config, PalPluginRegistry *registry)
{
	PalDaemon *self = g_object_new(PAL_TYPE_DAEMON, NULL);

	self->config = g_object_ref(config);
	self->registry = g_object_ref(registry);
	return self;
}
