/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "pal-daemon.h"
#include "pal-inbound.h"
#include "pal-pipeline.h"
#include "pal-store-sqlite.h"
#include <string.h>

#include "pal-json-util.h"
#include "pal-util.h"

/* an endpoint created over D-Bus, as stored */
typedef struct {
	gchar *json;	       /* the stored JSON, with its secrets */
	PalEndpoint *endpoint; /* NULL when it is refused (plugin missing, …) */
} PalRuntimeEndpoint;

struct _PalDaemon {
	GObject parent_instance;
	PalConfig *config;
	PalPluginRegistry *registry;
	PalStore *store;
	PalHostPauses *pauses;
	PalBacklog *backlog;
	PalProfileCache *profiles;
	PalStats *stats;
	GMutex lock;
	PalEndpointSet *endpoints; /* the published snapshot, swapped under @lock */
	GPtrArray *workers;
	guint n_refused; /* endpoints refused by the last load */
	gint accepting; /* atomic */
	gint ready;	/* atomic */
	GSource *retention;
	gint64 start_time;  /* real time, µs */
	GStrv listen_urls; /* "http://host:port/" */
	/* where the endpoints come from; main thread only. Precedence (README "Control
	 * plane"): files first; a stored endpoint whose name or URL token a file uses is
	 * refused (and logged) while that file exists */
	PalEndpointSet *files;	  /* endpoints.d, as the files say */
	guint n_refused_files;
	GHashTable *file_states; /* name → GINT_TO_POINTER(active) set over D-Bus for files */
	GHashTable *runtime;	 /* name → PalRuntimeEndpoint, from the store */
	/* endpoint changes over D-Bus run one after another */
	GQueue changes; /* GTask* */
	gboolean changing;
};

enum {
	SIGNAL_ENDPOINT_CHANGED,
	SIGNAL_LAST,
};

static guint signals[SIGNAL_LAST];

/* endpoint JSON given over D-Bus: the limits of an endpoint file */
#define PAL_DAEMON_MAX_ENDPOINT_JSON (1024 * 1024)
#define PAL_DAEMON_MAX_ENDPOINT_DEPTH 64

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

PalStats *
pal_daemon_get_stats(PalDaemon *self)
{
	return self->stats;
}

gint64
pal_daemon_get_start_time(PalDaemon *self)
{
	return self->start_time;
}

const gchar *const *
pal_daemon_get_listen_urls(PalDaemon *self)
{
	static const gchar *const none[] = {NULL};
	return self->listen_urls != NULL ? (const gchar *const *)self->listen_urls : none;
}

PalWorker *
pal_daemon_admit(PalDaemon *self,
		 PalEndpoint *endpoint,
		 const gchar *session_key,
		 gsize size,
		 const gchar **code,
		 const gchar **message)
{
	PalWorker *owner = pal_daemon_get_worker(self, pal_daemon_owner_of_key(self, session_key));
	PalBacklogState state;

	/* bounded queues, by count and by bytes */
	if (pal_worker_get_backlog(owner) >= pal_config_get_delivery_max_queue(self->config) ||
	    pal_worker_get_backlog_bytes(owner) + size > pal_config_get_delivery_max_queue_bytes(self->config)) {
		*code = "overloaded";
		*message = "too many messages waiting, retry later";
		return NULL;
	}
	/* one session or endpoint must not take the whole budget from the others */
	state = pal_backlog_check(self->backlog, pal_endpoint_get_name(endpoint), session_key);
	if (state == PAL_BACKLOG_SESSION_FULL) {
		*code = "session_overloaded";
		*message = "too many messages and outputs waiting for this session, retry later";
		return NULL;
	}
	if (state == PAL_BACKLOG_ENDPOINT_FULL) {
		*code = "endpoint_overloaded";
		*message = "too many messages and outputs waiting for this endpoint, retry later";
		return NULL;
	}
	return owner;
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
	/* the NLU is set up too: a broken model refuses its endpoint with the model's JSON paths,
	 * and a model trained here is shared (cached by the plugin) by the workers' instances */
	if (pal_endpoint_get_nlu_type(endpoint) != NULL) {
		g_autoptr(JsonObject) nlu_options = pal_json_object_deep_copy(pal_endpoint_get_nlu_options(endpoint));
		g_autoptr(GObject) nlu = pal_plugin_registry_create(self->registry,
								    PAL_PLUGIN_KIND_NLU,
								    pal_endpoint_get_nlu_type(endpoint),
								    pal_endpoint_get_info(endpoint),
								    nlu_options,
								    error);
		if (nlu == NULL)
			return FALSE;
	}
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

static void
pal_runtime_endpoint_free(PalRuntimeEndpoint *rt)
{
	if (rt == NULL)
		return;
	/* the JSON may hold secrets */
	if (rt->json != NULL)
		memset(rt->json, 0, strlen(rt->json));
	g_free(rt->json);
	g_clear_object(&rt->endpoint);
	g_free(rt);
}

/* the endpoint files, each checked like at start; FALSE (previous files kept) when the folder
 * cannot be read */
static gboolean
pal_daemon_load_files(PalDaemon *self, GError **error)
{
	g_autoptr(PalEndpointSet) set = pal_endpoint_set_new();
	g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func((GDestroyNotify)g_error_free);
	g_autoptr(GPtrArray) all = NULL;
	const gchar *dir = pal_config_get_endpoints_dir(self->config);

	if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
		g_message("endpoint directory %s does not exist: no endpoints from files", dir);
		g_set_object(&self->files, set);
		self->n_refused_files = 0;
		return TRUE;
	}
	if (!pal_endpoint_set_load_directory(set, dir, pal_config_get_data_dir(self->config), errors, error))
		return FALSE;
	self->n_refused_files = errors->len;
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
			self->n_refused_files++;
			continue;
		}
		g_message("endpoint %s loaded from %s (flow %s, webhook %s)",
			  pal_endpoint_get_name(ep),
			  pal_endpoint_get_origin(ep),
			  pal_endpoint_get_flow_type(ep),
			  pal_endpoint_get_webhook_url(ep)[0] != '\0' ? pal_endpoint_get_webhook_url(ep) : "none");
	}
	g_set_object(&self->files, set);
	return TRUE;
}

/* an endpoint given as JSON over D-Bus (or stored from there): validated exactly like a file,
 * with the same parser (errors name the JSON path) and the same plugin checks */
static PalEndpoint *
pal_daemon_parse_runtime(PalDaemon *self, JsonNode *root, GError **error)
{
	g_autoptr(PalEndpoint) ep = pal_endpoint_new_from_json(root,
								"D-Bus",
								NULL,
								pal_config_get_data_dir(self->config),
								error);

	if (ep == NULL)
		return NULL;
	if (!pal_daemon_check_endpoint(self, ep, error)) {
		g_prefix_error(error, "D-Bus: ");
		return NULL;
	}
	return g_steal_pointer(&ep);
}

static JsonNode *
pal_daemon_parse_json(const gchar *json, GError **error)
{
	return pal_json_parse_bounded(json,
				      strlen(json),
				      PAL_DAEMON_MAX_ENDPOINT_JSON,
				      PAL_DAEMON_MAX_ENDPOINT_DEPTH,
				      "D-Bus",
				      error);
}

/* the endpoints created over D-Bus and the states set for file endpoints, from the store
 * (at start) */
static gboolean
pal_daemon_load_stored(PalDaemon *self, GError **error)
{
	g_autoptr(GPtrArray) stored = pal_store_endpoints_list(self->store, NULL, error);
	g_autoptr(GHashTable) states = NULL;

	if (stored == NULL)
		return FALSE;
	states = pal_store_endpoint_states_list(self->store, NULL, error);
	if (states == NULL)
		return FALSE;
	g_hash_table_remove_all(self->runtime);
	for (guint i = 0; i < stored->len; i++) {
		PalStoreEndpoint *row = g_ptr_array_index(stored, i);
		PalRuntimeEndpoint *rt = g_new0(PalRuntimeEndpoint, 1);
		g_autoptr(GError) err = NULL;
		g_autoptr(JsonNode) root = pal_daemon_parse_json(row->json, &err);

		rt->json = g_strdup(row->json);
		if (root != NULL)
			rt->endpoint = pal_daemon_parse_runtime(self, root, &err);
		if (rt->endpoint == NULL)
			g_message("stored endpoint %s refused (remove it with palaverctl endpoint remove): %s",
				  row->name,
				  err->message);
		else
			g_message("endpoint %s loaded from the store (flow %s)",
				  row->name,
				  pal_endpoint_get_flow_type(rt->endpoint));
		g_hash_table_insert(self->runtime, g_strdup(row->name), rt);
	}
	g_hash_table_unref(self->file_states);
	self->file_states = g_steal_pointer(&states);
	return TRUE;
}

/* the snapshot to publish: the files (with the states set over D-Bus), then the stored
 * endpoints that do not clash with them */
static PalEndpointSet *
pal_daemon_compose(PalDaemon *self)
{
	g_autoptr(PalEndpointSet) set = pal_endpoint_set_new();
	g_autoptr(GPtrArray) files = pal_endpoint_set_get_all(self->files);
	g_autoptr(GList) names = g_hash_table_get_keys(self->runtime);

	self->n_refused = self->n_refused_files;
	for (guint i = 0; i < files->len; i++) {
		PalEndpoint *ep = g_ptr_array_index(files, i);
		gpointer state = NULL;
		g_autoptr(PalEndpoint) changed = NULL;
		g_autoptr(GError) error = NULL;

		if (g_hash_table_lookup_extended(self->file_states, pal_endpoint_get_name(ep), NULL, &state) &&
		    GPOINTER_TO_INT(state) != pal_endpoint_get_active(ep)) {
			changed = pal_endpoint_copy_with_active(ep,
								GPOINTER_TO_INT(state),
								pal_config_get_data_dir(self->config),
								&error);
			if (changed == NULL)
				g_message("endpoint %s: cannot apply its stored active state: %s",
					  pal_endpoint_get_name(ep),
					  error->message);
		}
		if (!pal_endpoint_set_add(set, changed != NULL ? changed : ep, &error))
			g_message("endpoint refused: %s", error->message);
	}
	names = g_list_sort(names, (GCompareFunc)g_strcmp0);
	for (GList *l = names; l != NULL; l = l->next) {
		PalRuntimeEndpoint *rt = g_hash_table_lookup(self->runtime, l->data);
		g_autoptr(GError) error = NULL;

		if (rt->endpoint == NULL) {
			self->n_refused++;
			continue;
		}
		if (!pal_endpoint_set_add(set, rt->endpoint, &error)) {
			g_message("stored endpoint refused while an endpoint file clashes with it: %s", error->message);
			self->n_refused++;
		}
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

static void
pal_daemon_recompose(PalDaemon *self)
{
	g_autoptr(PalEndpointSet) set = pal_daemon_compose(self);
	pal_daemon_publish(self, set);
}

/* a reload checks the stored endpoints again too: a flow file or plugin option they refer to
 * may have changed, or come back */
static void
pal_daemon_recheck_stored(PalDaemon *self)
{
	GHashTableIter iter;
	const gchar *name;
	PalRuntimeEndpoint *rt;

	g_hash_table_iter_init(&iter, self->runtime);
	while (g_hash_table_iter_next(&iter, (gpointer *)&name, (gpointer *)&rt)) {
		g_autoptr(GError) err = NULL;
		g_autoptr(JsonNode) root = pal_daemon_parse_json(rt->json, &err);
		g_autoptr(PalEndpoint) ep = root != NULL ? pal_daemon_parse_runtime(self, root, &err) : NULL;

		if (ep == NULL)
			g_message("stored endpoint %s refused: %s", name, err->message);
		g_set_object(&rt->endpoint, ep);
	}
}

gboolean
pal_daemon_reload(PalDaemon *self, GError **error)
{
	g_autoptr(PalEndpointSet) set = NULL;
	g_autoptr(GPtrArray) all = NULL;

	if (!pal_daemon_load_files(self, error))
		return FALSE;
	pal_daemon_recheck_stored(self);
	set = pal_daemon_compose(self);
	all = pal_endpoint_set_get_all(set);
	pal_daemon_publish(self, set);
	g_message("reloaded: %u endpoint(s)", all->len);
	g_signal_emit(self, signals[SIGNAL_ENDPOINT_CHANGED], 0, "", "reloaded");
	return TRUE;
}

const gchar *
pal_daemon_get_endpoint_source(PalDaemon *self, const gchar *name)
{
	PalRuntimeEndpoint *rt;

	if (self->files != NULL && pal_endpoint_set_lookup_name(self->files, name) != NULL)
		return "file";
	rt = g_hash_table_lookup(self->runtime, name);
	if (rt != NULL && rt->endpoint != NULL)
		return "runtime";
	return NULL;
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
	g_autoptr(PalEndpointSet) set = NULL;
	g_autoptr(GPtrArray) urls = g_ptr_array_new_with_free_func(g_free);
	GStrv listen = pal_config_get_listen(self->config);
	guint n_listen = g_strv_length(listen);
	g_autofree guint16 *ports = g_new0(guint16, MAX(n_listen, 1));
	guint n_workers = pal_config_get_workers(self->config);

	self->start_time = g_get_real_time();
	if (!pal_daemon_load_files(self, error))
		return FALSE;
	if (!pal_daemon_open_store(self, error))
		return FALSE;
	/* endpoints created over D-Bus come back from the store */
	if (!pal_daemon_load_stored(self, error))
		return FALSE;
	set = pal_daemon_compose(self);
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
	for (guint i = 0; i < n_listen; i++) {
		g_autofree gchar *host = NULL;
		g_autofree gchar *url = NULL;

		pal_config_parse_listen_address(listen[i], &host, NULL, NULL);
		url = g_strdup_printf(strchr(host, ':') != NULL ? "http://[%s]:%u/" : "http://%s:%u/",
				      host[0] != '\0' ? host : "0.0.0.0",
				      ports[i]);
		if (bound != NULL)
			g_ptr_array_add(bound, g_strdup(url));
		g_ptr_array_add(urls, g_steal_pointer(&url));
	}
	g_ptr_array_add(urls, NULL);
	g_strfreev(self->listen_urls);
	self->listen_urls = (GStrv)g_ptr_array_free(g_steal_pointer(&urls), FALSE);
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
	g_clear_object(&self->files);
	g_hash_table_unref(self->file_states);
	g_hash_table_unref(self->runtime);
	g_strfreev(self->listen_urls);
	g_clear_object(&self->stats);
	g_queue_clear_full(&self->changes, g_object_unref);
	g_object_unref(self->registry);
	g_object_unref(self->config);
	g_mutex_clear(&self->lock);
	G_OBJECT_CLASS(pal_daemon_parent_class)->finalize(object);
}

static void
pal_daemon_class_init(PalDaemonClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = pal_daemon_finalize;

	/**
	 * PalDaemon::endpoint-changed:
	 * @name: the endpoint, "" after a reload
	 * @change: "added", "updated", "removed", "enabled", "disabled" or "reloaded"
	 *
	 * The published endpoints changed; emitted on the main thread, after the change took
	 * effect.
	 */
	signals[SIGNAL_ENDPOINT_CHANGED] = g_signal_new("endpoint-changed",
							G_TYPE_FROM_CLASS(klass),
							G_SIGNAL_RUN_LAST,
							0,
							NULL,
							NULL,
							NULL,
							G_TYPE_NONE,
							2,
							G_TYPE_STRING,
							G_TYPE_STRING);
}

static void
pal_daemon_init(PalDaemon *self)
{
	g_mutex_init(&self->lock);
	self->workers = g_ptr_array_new_with_free_func(g_object_unref);
	self->pauses = pal_host_pauses_new();
	self->profiles = pal_profile_cache_new();
	self->endpoints = pal_endpoint_set_new();
	self->files = pal_endpoint_set_new();
	self->file_states = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	self->runtime = g_hash_table_new_full(g_str_hash,
					      g_str_equal,
					      g_free,
					      (GDestroyNotify)pal_runtime_endpoint_free);
	self->stats = pal_stats_new();
	g_queue_init(&self->changes);
}

PalDaemon *
pal_daemon_new(PalConfig *config, PalPluginRegistry *registry)
{
	PalDaemon *self = g_object_new(PAL_TYPE_DAEMON, NULL);

	self->config = g_object_ref(config);
	self->registry = g_object_ref(registry);
	return self;
}

/* --- endpoint changes over D-Bus (main thread) --- */

typedef struct {
	PalEndpointChange change;
	gchar *name;
	gchar *json;
	/* prepared: what to store and publish */
	gchar *new_json;
	PalEndpoint *endpoint;
	gint file_state; /* ENABLE/DISABLE of a file endpoint: 1, 0, or -1 (back to the file's) */
	gboolean file;
} PalChange;

static void
pal_change_free(PalChange *c)
{
	g_free(c->name);
	if (c->json != NULL)
		memset(c->json, 0, strlen(c->json));
	g_free(c->json);
	if (c->new_json != NULL)
		memset(c->new_json, 0, strlen(c->new_json));
	g_free(c->new_json);
	g_clear_object(&c->endpoint);
	g_free(c);
}

static const gchar *
pal_change_to_string(PalEndpointChange change)
{
	switch (change) {
	case PAL_ENDPOINT_CHANGE_ADD:
		return "added";
	case PAL_ENDPOINT_CHANGE_MERGE:
	case PAL_ENDPOINT_CHANGE_REPLACE:
		return "updated";
	case PAL_ENDPOINT_CHANGE_REMOVE:
		return "removed";
	case PAL_ENDPOINT_CHANGE_ENABLE:
		return "enabled";
	case PAL_ENDPOINT_CHANGE_DISABLE:
		return "disabled";
	default:
		return "changed";
	}
}

static void
pal_daemon_change_next(PalDaemon *self);

/* the change is over: answered, and the next one starts */
static void
pal_daemon_change_done(GTask *task)
{
	PalDaemon *self = g_task_get_source_object(task);

	self->changing = FALSE;
	g_object_unref(task);
	pal_daemon_change_next(self);
}

/* stored: the change takes effect (a new snapshot, like a reload) */
static void
pal_daemon_change_stored_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GTask *task = user_data;
	PalDaemon *self = g_task_get_source_object(task);
	PalChange *c = g_task_get_task_data(task);
	g_autoptr(GError) error = NULL;
	gboolean ok;

	if (c->change == PAL_ENDPOINT_CHANGE_REMOVE)
		ok = pal_store_endpoint_delete_finish(PAL_STORE(source), res, &error);
	else if (c->file)
		ok = pal_store_endpoint_state_set_finish(PAL_STORE(source), res, &error);
	else
		ok = pal_store_endpoint_put_finish(PAL_STORE(source), res, &error);
	if (!ok) {
		g_message("endpoint %s: the change could not be stored: %s", c->name, error->message);
		g_task_return_error(task, g_steal_pointer(&error));
		pal_daemon_change_done(task);
		return;
	}
	if (c->change == PAL_ENDPOINT_CHANGE_REMOVE) {
		g_hash_table_remove(self->runtime, c->name);
	} else if (c->file) {
		if (c->file_state < 0)
			g_hash_table_remove(self->file_states, c->name);
		else
			g_hash_table_insert(self->file_states, g_strdup(c->name), GINT_TO_POINTER(c->file_state));
	} else {
		PalRuntimeEndpoint *rt = g_new0(PalRuntimeEndpoint, 1);
		rt->json = g_steal_pointer(&c->new_json);
		rt->endpoint = g_steal_pointer(&c->endpoint);
		g_hash_table_insert(self->runtime, g_strdup(c->name), rt);
	}
	pal_daemon_recompose(self);
	g_message("endpoint %s %s over D-Bus", c->name, pal_change_to_string(c->change));
	g_signal_emit(self, signals[SIGNAL_ENDPOINT_CHANGED], 0, c->name, pal_change_to_string(c->change));
	g_task_return_pointer(task, g_strdup(c->name), g_free);
	pal_daemon_change_done(task);
}

/* "***" (the redacted view of a secret) in @patch keeps what @old has at that place, so
 * that what GetEndpoint shows can be edited and sent back */
static void
pal_daemon_keep_redacted(JsonObject *patch, JsonObject *old)
{
	g_autoptr(GList) members = json_object_get_members(patch);

	for (GList *l = members; l != NULL; l = l->next) {
		JsonNode *node = json_object_get_member(patch, l->data);
		JsonNode *was = old != NULL ? json_object_get_member(old, l->data) : NULL;

		if (was == NULL)
			continue;
		if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING &&
		    g_strcmp0(json_node_get_string(node), "***") == 0)
			json_object_set_member(patch, l->data, pal_json_node_deep_copy(was));
		else if (JSON_NODE_HOLDS_OBJECT(node) && JSON_NODE_HOLDS_OBJECT(was))
			pal_daemon_keep_redacted(json_node_get_object(node), json_node_get_object(was));
	}
}

/* RFC 7396 JSON merge patch of @patch into @target */
static void
pal_daemon_merge_patch(JsonObject *target, JsonObject *patch)
{
	g_autoptr(GList) members = json_object_get_members(patch);

	for (GList *l = members; l != NULL; l = l->next) {
		JsonNode *node = json_object_get_member(patch, l->data);
		JsonNode *was = json_object_get_member(target, l->data);

		if (JSON_NODE_HOLDS_NULL(node)) {
			json_object_remove_member(target, l->data);
		} else if (JSON_NODE_HOLDS_OBJECT(node) && was != NULL && JSON_NODE_HOLDS_OBJECT(was)) {
			pal_daemon_merge_patch(json_node_get_object(was), json_node_get_object(node));
		} else if (JSON_NODE_HOLDS_OBJECT(node)) {
			/* a new object: its nulls go too */
			g_autoptr(JsonObject) fresh = json_object_new();
			pal_daemon_merge_patch(fresh, json_node_get_object(node));
			json_object_set_object_member(target, l->data, g_steal_pointer(&fresh));
		} else {
			json_object_set_member(target, l->data, pal_json_node_deep_copy(node));
		}
	}
}

/* another endpoint than @except with the token of @ep: the clash, never the token */
static gboolean
pal_daemon_check_token_free(PalDaemon *self, PalEndpoint *ep, const gchar *except, GError **error)
{
	g_autoptr(PalEndpointSet) published = pal_daemon_dup_endpoints(self);
	PalEndpoint *other = pal_endpoint_set_lookup_token(published, pal_endpoint_get_url_token(ep));

	if (other != NULL && g_strcmp0(pal_endpoint_get_name(other), except) != 0) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_EXISTS,
			    "D-Bus: URLToken: the URL token is already used by endpoint \"%s\"; every "
			    "endpoint needs its own token",
			    pal_endpoint_get_name(other));
		return FALSE;
	}
	return TRUE;
}

/* validates the change and prepares what to store; FALSE with @error when refused */
static gboolean
pal_daemon_change_prepare(PalDaemon *self, PalChange *c, GError **error)
{
	PalRuntimeEndpoint *rt = c->name != NULL ? g_hash_table_lookup(self->runtime, c->name) : NULL;
	PalEndpoint *file = c->name != NULL ? pal_endpoint_set_lookup_name(self->files, c->name) : NULL;
	g_autoptr(JsonNode) root = NULL;

	switch (c->change) {
	case PAL_ENDPOINT_CHANGE_ADD:
		root = pal_daemon_parse_json(c->json, error);
		if (root == NULL)
			return FALSE;
		c->endpoint = pal_daemon_parse_runtime(self, root, error);
		if (c->endpoint == NULL)
			return FALSE;
		g_free(c->name);
		c->name = g_strdup(pal_endpoint_get_name(c->endpoint));
		if (pal_endpoint_set_lookup_name(self->files, c->name) != NULL ||
		    g_hash_table_contains(self->runtime, c->name)) {
			g_set_error(error,
				    PAL_ERROR,
				    PAL_ERROR_EXISTS,
				    "D-Bus: name: an endpoint named \"%s\" exists already",
				    c->name);
			return FALSE;
		}
		if (!pal_daemon_check_token_free(self, c->endpoint, NULL, error))
			return FALSE;
		c->new_json = pal_json_to_string(root, FALSE);
		return TRUE;
	case PAL_ENDPOINT_CHANGE_MERGE:
	case PAL_ENDPOINT_CHANGE_REPLACE:
	case PAL_ENDPOINT_CHANGE_REMOVE:
		if (rt == NULL && file != NULL) {
			g_set_error(error,
				    PAL_ERROR,
				    PAL_ERROR_NOT_SUPPORTED,
				    "endpoint %s comes from the file %s: change or delete that file, then reload",
				    c->name,
				    pal_endpoint_get_origin(file));
			return FALSE;
		}
		if (rt == NULL) {
			g_set_error(error, PAL_ERROR, PAL_ERROR_NOT_FOUND, "no endpoint named \"%s\"", c->name);
			return FALSE;
		}
		if (c->change == PAL_ENDPOINT_CHANGE_REMOVE)
			return TRUE;
		{
			g_autoptr(JsonNode) old = pal_daemon_parse_json(rt->json, error);
			g_autoptr(JsonNode) given = pal_daemon_parse_json(c->json, error);
			JsonObject *obj;

			if (old == NULL || given == NULL)
				return FALSE;
			if (!JSON_NODE_HOLDS_OBJECT(given) || !JSON_NODE_HOLDS_OBJECT(old)) {
				g_set_error(error,
					    PAL_ERROR,
					    PAL_ERROR_INVALID_DATA,
					    "D-Bus: expected a JSON object at the top level");
				return FALSE;
			}
			pal_daemon_keep_redacted(json_node_get_object(given), json_node_get_object(old));
			if (c->change == PAL_ENDPOINT_CHANGE_MERGE) {
				pal_daemon_merge_patch(json_node_get_object(old), json_node_get_object(given));
				root = g_steal_pointer(&old);
			} else {
				root = g_steal_pointer(&given);
			}
			obj = json_node_get_object(root);
			if (!json_object_has_member(obj, "name"))
				json_object_set_string_member(obj, "name", c->name);
			if (JSON_NODE_HOLDS_VALUE(json_object_get_member(obj, "name")) &&
			    g_strcmp0(json_object_get_string_member(obj, "name"), c->name) != 0) {
				g_set_error(error,
					    PAL_ERROR,
					    PAL_ERROR_INVALID_DATA,
					    "D-Bus: name: an endpoint cannot be renamed (add a new one and "
					    "remove this one)");
				return FALSE;
			}
		}
		break;
	case PAL_ENDPOINT_CHANGE_ENABLE:
	case PAL_ENDPOINT_CHANGE_DISABLE: {
		gboolean active = c->change == PAL_ENDPOINT_CHANGE_ENABLE;

		if (file != NULL) {
			/* remembered in the store; back to the file's own value means no state */
			c->file = TRUE;
			c->file_state = active == pal_endpoint_get_active(file) ? -1 : active;
			return TRUE;
		}
		if (rt == NULL) {
			g_set_error(error, PAL_ERROR, PAL_ERROR_NOT_FOUND, "no endpoint named \"%s\"", c->name);
			return FALSE;
		}
		root = pal_daemon_parse_json(rt->json, error);
		if (root == NULL)
			return FALSE;
		if (!JSON_NODE_HOLDS_OBJECT(root)) {
			g_set_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA, "D-Bus: expected a JSON object");
			return FALSE;
		}
		json_object_set_boolean_member(json_node_get_object(root), "active", active);
		break;
	}
	default:
		g_set_error(error, PAL_ERROR, PAL_ERROR_NOT_SUPPORTED, "unknown change");
		return FALSE;
	}
	/* a changed runtime endpoint: validated like a new one */
	c->endpoint = pal_daemon_parse_runtime(self, root, error);
	if (c->endpoint == NULL)
		return FALSE;
	if (!pal_daemon_check_token_free(self, c->endpoint, c->name, error))
		return FALSE;
	c->new_json = pal_json_to_string(root, FALSE);
	return TRUE;
}

/* starts the next queued change: refused ones are answered at once (a loop, not recursion),
 * the first valid one goes to the store and the queue waits for it */
static void
pal_daemon_change_next(PalDaemon *self)
{
	GTask *task;

	while (!self->changing && (task = g_queue_pop_head(&self->changes)) != NULL) {
		PalChange *c = g_task_get_task_data(task);
		g_autoptr(GError) error = NULL;

		if (self->store == NULL) {
			g_set_error(&error, PAL_ERROR, PAL_ERROR_UNAVAILABLE, "palaverd has no store");
		} else if (pal_daemon_change_prepare(self, c, &error)) {
			self->changing = TRUE;
			if (c->change == PAL_ENDPOINT_CHANGE_REMOVE)
				pal_store_endpoint_delete_async(self->store,
								c->name,
								NULL,
								pal_daemon_change_stored_cb,
								task);
			else if (c->file)
				pal_store_endpoint_state_set_async(self->store,
								   c->name,
								   c->file_state,
								   NULL,
								   pal_daemon_change_stored_cb,
								   task);
			else
				pal_store_endpoint_put_async(self->store,
							     c->name,
							     c->new_json,
							     NULL,
							     pal_daemon_change_stored_cb,
							     task);
			return;
		}
		g_task_return_error(task, g_steal_pointer(&error));
		g_object_unref(task);
	}
}

void
pal_daemon_change_endpoint_async(PalDaemon *self,
				 PalEndpointChange change,
				 const gchar *name,
				 const gchar *json,
				 GCancellable *cancellable,
				 GAsyncReadyCallback callback,
				 gpointer user_data)
{
	GTask *task = g_task_new(self, cancellable, callback, user_data);
	PalChange *c = g_new0(PalChange, 1);

	g_task_set_source_tag(task, pal_daemon_change_endpoint_async);
	c->change = change;
	c->name = g_strdup(name);
	c->json = g_strdup(json);
	g_task_set_task_data(task, c, (GDestroyNotify)pal_change_free);
	g_queue_push_tail(&self->changes, task);
	pal_daemon_change_next(self);
}

gchar *
pal_daemon_change_endpoint_finish(PalDaemon *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, self), NULL);
	return g_task_propagate_pointer(G_TASK(res), error);
}

/* --- inject and notify over D-Bus: the path of HTTP ingress --- */

typedef struct {
	PalEndpoint *endpoint;
	PalMessage *message;
	PalWorker *owner;
	gchar *session_key;
	gsize size;
} PalSubmit;

static void
pal_submit_free(PalSubmit *sub)
{
	g_clear_object(&sub->endpoint);
	g_clear_object(&sub->message);
	g_free(sub->session_key);
	g_free(sub);
}

static void
pal_daemon_submit_accepted(PalDaemon *self, GTask *task);

static void
pal_daemon_submit_journal_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	PalDaemon *self = g_task_get_source_object(task);
	PalSubmit *sub = g_task_get_task_data(task);
	g_autoptr(GError) error = NULL;

	if (!pal_store_journal_append_finish(PAL_STORE(source), res, &error)) {
		gboolean busy = g_error_matches(error, PAL_ERROR, PAL_ERROR_BUSY);
		pal_stats_rejected(self->stats,
				   pal_endpoint_get_name(sub->endpoint),
				   busy ? "overloaded" : "store_unavailable");
		g_task_return_new_error(task,
					PAL_ERROR,
					busy ? PAL_ERROR_BUSY : PAL_ERROR_UNAVAILABLE,
					"the message could not be stored: %s",
					error->message);
		return;
	}
	pal_daemon_submit_accepted(self, task);
}

/* journaled (or, with durability none, not journaled at all, as HTTP messages): it runs now, or
 * at the next start */
static void
pal_daemon_submit_accepted(PalDaemon *self, GTask *task)
{
	PalSubmit *sub = g_task_get_task_data(task);
	g_autofree gchar *input_id = NULL;

	input_id = g_strdup(pal_message_get_input_id(sub->message));
	pal_stats_accepted(self->stats, pal_endpoint_get_name(sub->endpoint));
	pal_backlog_add(self->backlog, pal_endpoint_get_name(sub->endpoint), sub->session_key, 1);
	if (!pal_worker_post_message(sub->owner, sub->endpoint, g_steal_pointer(&sub->message), sub->size))
		g_debug("message journaled during shutdown: it runs at the next start");
	g_task_return_pointer(task, g_steal_pointer(&input_id), g_free);
}

void
pal_daemon_submit_async(PalDaemon *self,
			const gchar *endpoint_name,
			PalMessageKind kind,
			const gchar *body,
			gsize len,
			GCancellable *cancellable,
			GAsyncReadyCallback callback,
			gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(self, cancellable, callback, user_data);
	g_autoptr(PalEndpointSet) endpoints = pal_daemon_dup_endpoints(self);
	PalEndpoint *endpoint = pal_endpoint_set_lookup_name(endpoints, endpoint_name);
	PalInboundError err = {0};
	PalSubmit *sub;
	const gchar *code = NULL;
	const gchar *refusal = NULL;
	g_autoptr(GBytes) raw = NULL;
	g_autoptr(PalStoreJournalEntry) entry = NULL;

	g_task_set_source_tag(task, pal_daemon_submit_async);
	if (!pal_daemon_is_ready(self)) {
		g_task_return_new_error(task,
					PAL_ERROR,
					PAL_ERROR_UNAVAILABLE,
					"palaverd is starting or shutting down");
		return;
	}
	if (endpoint == NULL) {
		g_task_return_new_error(task, PAL_ERROR, PAL_ERROR_NOT_FOUND, "no endpoint named \"%s\"", endpoint_name);
		return;
	}
	if (!pal_endpoint_get_active(endpoint)) {
		pal_stats_rejected(self->stats, endpoint_name, "endpoint_disabled");
		g_task_return_new_error(task,
					PAL_ERROR,
					PAL_ERROR_UNAVAILABLE,
					"endpoint %s is disabled",
					endpoint_name);
		return;
	}
	sub = g_new0(PalSubmit, 1);
	g_task_set_task_data(task, sub, (GDestroyNotify)pal_submit_free);
	sub->endpoint = g_object_ref(endpoint);
	sub->size = len;
	sub->message = pal_inbound_parse(kind,
					 body,
					 len,
					 pal_config_get_max_body_size(self->config),
					 pal_config_get_max_depth(self->config),
					 &err);
	if (sub->message == NULL) {
		pal_stats_rejected(self->stats, endpoint_name, err.code);
		g_task_return_new_error(task, PAL_ERROR, PAL_ERROR_INVALID_DATA, "%s (%s)", err.message, err.code);
		pal_inbound_error_clear(&err);
		return;
	}
	sub->session_key = pal_pipeline_session_key(endpoint_name,
						    pal_message_get_user_id(sub->message),
						    pal_message_get_session_id(sub->message));
	sub->owner = pal_daemon_admit(self, endpoint, sub->session_key, len, &code, &refusal);
	if (sub->owner == NULL) {
		pal_stats_rejected(self->stats, endpoint_name, code);
		g_task_return_new_error(task, PAL_ERROR, PAL_ERROR_BUSY, "%s (%s)", refusal, code);
		return;
	}
	/* journal before acknowledgement, as for HTTP (and as for HTTP, not with durability none) */
	if (pal_config_get_durability(self->config) == PAL_DURABILITY_NONE) {
		pal_daemon_submit_accepted(self, task);
		return;
	}
	raw = g_bytes_new(body, len);
	entry = pal_store_journal_entry_new(pal_message_get_input_id(sub->message),
					    endpoint_name,
					    pal_message_get_user_id(sub->message),
					    pal_message_get_session_id(sub->message),
					    kind,
					    raw,
					    pal_message_get_received_at(sub->message));
	pal_store_journal_append_async(self->store, entry, NULL, pal_daemon_submit_journal_cb, g_steal_pointer(&task));
}

gchar *
pal_daemon_submit_finish(PalDaemon *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, self), NULL);
	return g_task_propagate_pointer(G_TASK(res), error);
}

/* --- sessions --- */

static void
pal_daemon_reset_stored_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	g_autoptr(GError) error = NULL;

	if (pal_store_session_reset_finish(PAL_STORE(source), res, &error))
		g_task_return_boolean(task, TRUE);
	else
		g_task_return_error(task, g_steal_pointer(&error));
}

void
pal_daemon_reset_session_async(PalDaemon *self,
			       const gchar *endpoint_name,
			       const gchar *user_id,
			       const gchar *session_id,
			       GCancellable *cancellable,
			       GAsyncReadyCallback callback,
			       gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(self, cancellable, callback, user_data);
	g_autoptr(PalEndpointSet) endpoints = pal_daemon_dup_endpoints(self);
	PalEndpoint *endpoint = pal_endpoint_set_lookup_name(endpoints, endpoint_name);
	g_autofree gchar *key = pal_pipeline_session_key(endpoint_name, user_id, session_id);

	g_task_set_source_tag(task, pal_daemon_reset_session_async);
	if (endpoint != NULL && self->workers->len > 0) {
		/* the owner resets it in order with the session's messages */
		pal_worker_post_reset_session(pal_daemon_get_worker(self, pal_daemon_owner_of_key(self, key)),
					      endpoint,
					      key,
					      task);
		return;
	}
	/* an endpoint no longer configured has no lanes: the store alone */
	pal_store_session_reset_async(self->store, key, cancellable, pal_daemon_reset_stored_cb, g_steal_pointer(&task));
}

gboolean
pal_daemon_reset_session_finish(PalDaemon *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, self), FALSE);
	return g_task_propagate_boolean(G_TASK(res), error);
}

/* --- dead letters --- */

typedef struct {
	GPtrArray *endpoints; /* PalEndpoint*, configured, to replay one after another */
	gchar *session_key;   /* nullable */
	guint next;
	guint count;
} PalReplay;

static void
pal_replay_free(PalReplay *r)
{
	g_ptr_array_unref(r->endpoints);
	g_free(r->session_key);
	g_free(r);
}

static void
pal_daemon_replay_step(GTask *task);

static void
pal_daemon_replay_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GTask *task = user_data;
	PalDaemon *self = g_task_get_source_object(task);
	PalReplay *r = g_task_get_task_data(task);
	PalEndpoint *ep = g_ptr_array_index(r->endpoints, r->next - 1);
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) rows = pal_store_dead_letters_replay_finish(PAL_STORE(source), res, &error);

	if (rows == NULL) {
		g_task_return_error(task, g_steal_pointer(&error));
		g_object_unref(task);
		return;
	}
	/* back to delivery, each to the worker that owns its session, in order */
	for (guint i = 0; i < rows->len; i++) {
		PalStoreOutboxRow *row = g_ptr_array_index(rows, i);
		g_autoptr(PalDeliveryItem) item = pal_delivery_item_new_from_row(ep, row);

		pal_backlog_add(self->backlog, row->endpoint, row->session_key, 1);
		if (!pal_worker_post_delivery(g_ptr_array_index(self->workers,
								pal_daemon_owner_of_key(self, row->session_key)),
					      item))
			g_debug("replayed output %s stays in the outbox for the next start", row->webhook_id);
	}
	if (rows->len > 0)
		g_message("endpoint %s: %u dead letter(s) replayed over D-Bus",
			  pal_endpoint_get_name(ep),
			  rows->len);
	r->count += rows->len;
	pal_daemon_replay_step(task);
}

static void
pal_daemon_replay_step(GTask *task)
{
	PalDaemon *self = g_task_get_source_object(task);
	PalReplay *r = g_task_get_task_data(task);
	PalEndpoint *ep;

	if (r->next >= r->endpoints->len) {
		g_task_return_int(task, r->count);
		g_object_unref(task);
		return;
	}
	ep = g_ptr_array_index(r->endpoints, r->next++);
	pal_store_dead_letters_replay_async(self->store,
					    pal_endpoint_get_name(ep),
					    r->session_key,
					    (gint64)pal_endpoint_get_webhook_ttl_seconds(ep) * G_USEC_PER_SEC,
					    NULL,
					    pal_daemon_replay_cb,
					    task);
}

void
pal_daemon_replay_dead_letters_async(PalDaemon *self,
				     const gchar *endpoint_name,
				     const gchar *session_key,
				     GCancellable *cancellable,
				     GAsyncReadyCallback callback,
				     gpointer user_data)
{
	GTask *task = g_task_new(self, cancellable, callback, user_data);
	g_autoptr(PalEndpointSet) endpoints = pal_daemon_dup_endpoints(self);
	PalReplay *r = g_new0(PalReplay, 1);

	g_task_set_source_tag(task, pal_daemon_replay_dead_letters_async);
	g_task_set_task_data(task, r, (GDestroyNotify)pal_replay_free);
	r->session_key = g_strdup(session_key);
	if (endpoint_name != NULL) {
		PalEndpoint *ep = pal_endpoint_set_lookup_name(endpoints, endpoint_name);
		if (ep == NULL) {
			r->endpoints = g_ptr_array_new();
			g_task_return_new_error(task,
						PAL_ERROR,
						PAL_ERROR_NOT_FOUND,
						"no endpoint named \"%s\" is configured: its dead letters cannot be "
						"delivered",
						endpoint_name);
			g_object_unref(task);
			return;
		}
		r->endpoints = g_ptr_array_new_with_free_func(g_object_unref);
		g_ptr_array_add(r->endpoints, g_object_ref(ep));
	} else {
		/* those of endpoints no longer configured stay where they are */
		r->endpoints = pal_endpoint_set_get_all(endpoints);
	}
	pal_daemon_replay_step(task);
}

gssize
pal_daemon_replay_dead_letters_finish(PalDaemon *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, self), -1);
	return g_task_propagate_int(G_TASK(res), error);
}

/* --- statistics --- */

JsonNode *
pal_daemon_dup_statistics(PalDaemon *self)
{
	g_autoptr(PalEndpointSet) endpoints = pal_daemon_dup_endpoints(self);
	g_autoptr(GPtrArray) all = pal_endpoint_set_get_all(endpoints);
	JsonObject *root = json_object_new();
	JsonObject *per;
	JsonArray *workers = json_array_new();
	JsonNode *node = json_node_new(JSON_NODE_OBJECT);

	for (guint i = 0; i < all->len; i++)
		pal_stats_ensure(self->stats, pal_endpoint_get_name(g_ptr_array_index(all, i)));
	per = pal_stats_dup_endpoints(self->stats);
	{
		g_autoptr(GList) names = json_object_get_members(per);
		for (GList *l = names; l != NULL; l = l->next)
			json_object_set_int_member(json_object_get_object_member(per, l->data),
						   "queued",
						   self->backlog != NULL ? pal_backlog_get_endpoint(self->backlog, l->data) : 0);
	}
	json_object_set_int_member(root,
				   "uptimeSeconds",
				   self->start_time > 0 ? (g_get_real_time() - self->start_time) / G_USEC_PER_SEC : 0);
	json_object_set_object_member(root, "endpoints", per);
	json_object_set_object_member(root, "rejected", pal_stats_dup_unrouted(self->stats));
	for (guint i = 0; i < self->workers->len; i++) {
		PalWorker *w = g_ptr_array_index(self->workers, i);
		JsonObject *obj = json_object_new();

		json_object_set_int_member(obj, "index", i);
		json_object_set_int_member(obj, "queued", pal_worker_get_backlog(w));
		json_object_set_int_member(obj, "queuedBytes", (gint64)pal_worker_get_backlog_bytes(w));
		json_array_add_object_element(workers, obj);
	}
	json_object_set_array_member(root, "workers", workers);
	json_object_set_int_member(root, "refusedEndpoints", self->n_refused);
	json_node_take_object(node, root);
	return node;
}

/* --- log level --- */

/* the lowest priority still logged, as a GLogLevelFlags bit: messages of a higher bit (less
 * severe) are dropped by the writer palaverd installs */
static gint pal_log_threshold = G_LOG_LEVEL_MESSAGE;

static const struct {
	const gchar *name;
	GLogLevelFlags level;
} pal_log_levels[] = {
    {"error", G_LOG_LEVEL_ERROR},
    {"critical", G_LOG_LEVEL_CRITICAL},
    {"warning", G_LOG_LEVEL_WARNING},
    {"message", G_LOG_LEVEL_MESSAGE},
    {"info", G_LOG_LEVEL_INFO},
    {"debug", G_LOG_LEVEL_DEBUG},
};

static GLogWriterOutput
pal_daemon_log_writer(GLogLevelFlags log_level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
	GLogLevelFlags level = log_level & G_LOG_LEVEL_MASK;

	/* errors and criticals always go out */
	if (level > G_LOG_LEVEL_CRITICAL && level > (GLogLevelFlags)g_atomic_int_get(&pal_log_threshold))
		return G_LOG_WRITER_HANDLED;
	return g_log_writer_default(log_level, fields, n_fields, user_data);
}

void
pal_daemon_install_log_writer(gboolean debug)
{
	if (debug)
		pal_daemon_set_log_level("debug", NULL);
	g_log_set_writer_func(pal_daemon_log_writer, NULL, NULL);
}

gboolean
pal_daemon_set_log_level(const gchar *level, GError **error)
{
	for (guint i = 0; i < G_N_ELEMENTS(pal_log_levels); i++) {
		if (g_ascii_strcasecmp(level, pal_log_levels[i].name) != 0)
			continue;
		g_atomic_int_set(&pal_log_threshold, (gint)pal_log_levels[i].level);
		/* GLib drops info and debug messages unless asked for them */
		g_log_set_debug_enabled(pal_log_levels[i].level >= G_LOG_LEVEL_INFO);
		return TRUE;
	}
	g_set_error(error,
		    PAL_ERROR,
		    PAL_ERROR_INVALID_DATA,
		    "unknown log level \"%s\": expected error, critical, warning, message, info or debug",
		    level);
	return FALSE;
}

const gchar *
pal_daemon_get_log_level(void)
{
	gint threshold = g_atomic_int_get(&pal_log_threshold);

	for (guint i = 0; i < G_N_ELEMENTS(pal_log_levels); i++) {
		if ((gint)pal_log_levels[i].level == threshold)
			return pal_log_levels[i].name;
	}
	return "message";
}
