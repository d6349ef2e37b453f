/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <grp.h>
#include <string.h>
#include <unistd.h>

#include "pal-dbus-auth.h"
#include "pal-dbus-error.h"
#include "pal-dbus-service.h"
#include "pal-json-util.h"
#include "pal-pipeline.h"
#include "pal-util.h"

/* ListSessions: the page size when the caller gives none, and the most it may ask for */
#define PAL_DBUS_SESSIONS_DEFAULT_LIMIT 100
#define PAL_DBUS_SESSIONS_MAX_LIMIT	1000

struct _PalDBusService {
	PalDBusGateway1Skeleton parent_instance;
	PalDaemon *daemon;
	guint owner_id;
	gboolean exported;
	PalDBusServiceCallback acquired;
	PalDBusServiceCallback lost;
	gpointer user_data;
	uid_t daemon_uid;
	gid_t admin_gid; /* (gid_t) -1: no group "palaver" on this system */
	gulong endpoint_changed_id;
	gulong delivery_failed_id;
	gulong handover_changed_id;
};

static void
pal_dbus_service_iface_init(PalDBusGateway1Iface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE(PalDBusService,
			      pal_dbus_service,
			      PAL_DBUS_TYPE_GATEWAY1_SKELETON,
			      G_IMPLEMENT_INTERFACE(PAL_DBUS_TYPE_GATEWAY1, pal_dbus_service_iface_init))

/* --- helpers --- */

/* a typed error (org.palaver.Gateway1.Error.*) for any error */
static void
pal_dbus_return_error(GDBusMethodInvocation *invocation, const GError *error)
{
	g_autoptr(GError) pal = pal_dbus_error_to_pal(error);
	g_dbus_method_invocation_return_gerror(invocation, pal);
}

static void
pal_dbus_return_new_error(GDBusMethodInvocation *invocation, gint code, const gchar *format, ...)
    G_GNUC_PRINTF(3, 4);

static void
pal_dbus_return_new_error(GDBusMethodInvocation *invocation, gint code, const gchar *format, ...)
{
	va_list args;
	g_autofree gchar *message = NULL;

	va_start(args, format);
	message = g_strdup_vprintf(format, args);
	va_end(args);
	g_dbus_method_invocation_return_error_literal(invocation, PAL_ERROR, code, message);
}

static GVariant *
pal_dbus_args(GDBusMethodInvocation *invocation)
{
	return g_dbus_method_invocation_get_parameters(invocation);
}

/* 2026-11-26T21:30:01.123Z, or NULL for 0 */
static void
pal_dbus_json_set_time(JsonObject *obj, const gchar *member, gint64 real_time)
{
	g_autofree gchar *str = real_time > 0 ? pal_format_time(real_time) : NULL;

	if (str != NULL)
		json_object_set_string_member(obj, member, str);
	else
		json_object_set_null_member(obj, member);
}

static gchar *
pal_dbus_json_take_string(JsonNode *node)
{
	g_autoptr(JsonNode) owned = node;
	return pal_json_to_string(owned, FALSE);
}

static gchar *
pal_dbus_array_to_string(JsonArray *array)
{
	JsonNode *node = json_node_new(JSON_NODE_ARRAY);
	json_node_take_array(node, array);
	return pal_dbus_json_take_string(node);
}

static gchar *
pal_dbus_object_to_string(JsonObject *object)
{
	JsonNode *node = json_node_new(JSON_NODE_OBJECT);
	json_node_take_object(node, object);
	return pal_dbus_json_take_string(node);
}

/* the webhook URL without user information, query or fragment: it may carry secrets */
static gchar *
pal_dbus_webhook_display(const gchar *url)
{
	g_autoptr(GUri) uri = NULL;

	if (url == NULL || url[0] == '\0')
		return g_strdup("");
	uri = g_uri_parse(url, G_URI_FLAGS_NONE, NULL);
	if (uri == NULL)
		return g_strdup("");
	return g_uri_join(G_URI_FLAGS_NONE,
			  g_uri_get_scheme(uri),
			  NULL,
			  g_uri_get_host(uri),
			  g_uri_get_port(uri),
			  g_uri_get_path(uri),
			  NULL,
			  NULL);
}

/* "" means no filter on D-Bus */
static const gchar *
pal_dbus_opt(const gchar *value)
{
	return value != NULL && value[0] != '\0' ? value : NULL;
}

/* the session key for the filters (endpoint, userId, sessionId) of the dead-letter methods:
 * all three or only the endpoint */
static gboolean
pal_dbus_session_filter(const gchar *endpoint,
			const gchar *user_id,
			const gchar *session_id,
			gchar **session_key,
			GError **error)
{
	*session_key = NULL;
	if (pal_dbus_opt(user_id) == NULL && pal_dbus_opt(session_id) == NULL)
		return TRUE;
	if (pal_dbus_opt(endpoint) == NULL || pal_dbus_opt(user_id) == NULL || pal_dbus_opt(session_id) == NULL) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_INVALID_DATA,
			    "a session is given by endpoint, userId and sessionId together");
		return FALSE;
	}
	*session_key = pal_pipeline_session_key(endpoint, user_id, session_id);
	return TRUE;
}

/* --- authorisation --- */

typedef void (*PalDBusHandler)(PalDBusService *self, GDBusMethodInvocation *invocation);

typedef struct {
	PalDBusService *self; /* a reference */
	GDBusMethodInvocation *invocation;
	PalDBusHandler handler;
} PalDBusAuthCall;

static void
pal_dbus_service_auth_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	PalDBusAuthCall *call = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree gid_t *gids = NULL;
	gsize n_gids = 0;
	uid_t uid = 0;

	if (!pal_dbus_get_caller_finish(res, &uid, &gids, &n_gids, &error)) {
		pal_dbus_return_error(call->invocation, error);
	} else if (!pal_dbus_caller_allowed(uid, gids, n_gids, call->self->admin_gid, call->self->daemon_uid)) {
		g_message("D-Bus: %s refused to user %u (not root, not in group %s)",
			  g_dbus_method_invocation_get_method_name(call->invocation),
			  (guint)uid,
			  PAL_DBUS_ADMIN_GROUP);
		pal_dbus_return_new_error(call->invocation,
					  PAL_ERROR_PERMISSION_DENIED,
					  "%s needs root or membership of the group \"%s\"",
					  g_dbus_method_invocation_get_method_name(call->invocation),
					  PAL_DBUS_ADMIN_GROUP);
	} else {
		call->handler(call->self, call->invocation);
	}
	g_object_unref(call->self);
	g_free(call);
}

/* runs @handler once the bus told who the caller is and pal_dbus_caller_allowed() agrees;
 * a handle_* return value */
static gboolean
pal_dbus_service_privileged(PalDBusService *self, GDBusMethodInvocation *invocation, PalDBusHandler handler)
{
	PalDBusAuthCall *call = g_new0(PalDBusAuthCall, 1);

	call->self = g_object_ref(self);
	call->invocation = invocation;
	call->handler = handler;
	pal_dbus_get_caller_async(g_dbus_method_invocation_get_connection(invocation),
				  g_dbus_method_invocation_get_sender(invocation),
				  NULL,
				  pal_dbus_service_auth_cb,
				  call);
	return TRUE;
}

/* --- endpoints --- */

static gboolean
pal_dbus_service_handle_list_endpoints(PalDBusGateway1 *object, GDBusMethodInvocation *invocation)
{
	PalDBusService *self = PAL_DBUS_SERVICE(object);
	g_autoptr(PalEndpointSet) set = pal_daemon_dup_endpoints(self->daemon);
	g_autoptr(GPtrArray) all = pal_endpoint_set_get_all(set);
	GVariantBuilder builder;

	g_variant_builder_init(&builder, G_VARIANT_TYPE("a(sssbss)"));
	for (guint i = 0; i < all->len; i++) {
		PalEndpoint *ep = g_ptr_array_index(all, i);
		const gchar *source = pal_daemon_get_endpoint_source(self->daemon, pal_endpoint_get_name(ep));
		g_autofree gchar *webhook = pal_dbus_webhook_display(pal_endpoint_get_webhook_url(ep));

		g_variant_builder_add(&builder,
				      "(sssbss)",
				      pal_endpoint_get_name(ep),
				      source != NULL ? source : "file",
				      pal_endpoint_get_origin(ep),
				      pal_endpoint_get_active(ep),
				      pal_endpoint_get_flow_type(ep),
				      webhook);
	}
	pal_dbus_gateway1_complete_list_endpoints(object, invocation, g_variant_builder_end(&builder));
	return TRUE;
}

static gboolean
pal_dbus_service_handle_get_endpoint(PalDBusGateway1 *object, GDBusMethodInvocation *invocation, const gchar *name)
{
	PalDBusService *self = PAL_DBUS_SERVICE(object);
	g_autoptr(PalEndpointSet) set = pal_daemon_dup_endpoints(self->daemon);
	PalEndpoint *ep = pal_endpoint_set_lookup_name(set, name);
	g_autofree gchar *json = NULL;

	if (ep == NULL) {
		pal_dbus_return_new_error(invocation, PAL_ERROR_NOT_FOUND, "no endpoint named \"%s\"", name);
		return TRUE;
	}
	json = pal_dbus_json_take_string(pal_endpoint_to_json_redacted(ep));
	pal_dbus_gateway1_complete_get_endpoint(object, invocation, json);
	return TRUE;
}

static void
pal_dbus_service_changed_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GDBusMethodInvocation *invocation = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *name = pal_daemon_change_endpoint_finish(PAL_DAEMON(source), res, &error);
	const gchar *method = g_dbus_method_invocation_get_method_name(invocation);

	if (name == NULL)
		pal_dbus_return_error(invocation, error);
	else if (g_strcmp0(method, "AddEndpoint") == 0)
		g_dbus_method_invocation_return_value(invocation, g_variant_new("(s)", name));
	else
		g_dbus_method_invocation_return_value(invocation, NULL);
}

static void
pal_dbus_service_change(PalDBusService *self,
			GDBusMethodInvocation *invocation,
			PalEndpointChange change,
			const gchar *name,
			const gchar *json)
{
	pal_daemon_change_endpoint_async(self->daemon, change, name, json, NULL, pal_dbus_service_changed_cb, invocation);
}

static void
pal_dbus_service_do_add_endpoint(PalDBusService *self, GDBusMethodInvocation *invocation)
{
	const gchar *json = NULL;

	g_variant_get(pal_dbus_args(invocation), "(&s)", &json);
	pal_dbus_service_change(self, invocation, PAL_ENDPOINT_CHANGE_ADD, NULL, json);
}

static void
pal_dbus_service_do_update_endpoint(PalDBusService *self, GDBusMethodInvocation *invocation)
{
	const gchar *name = NULL;
	const gchar *json = NULL;
	gboolean replace = FALSE;

	g_variant_get(pal_dbus_args(invocation), "(&s&sb)", &name, &json, &replace);
	pal_dbus_service_change(self,
				invocation,
				replace ? PAL_ENDPOINT_CHANGE_REPLACE : PAL_ENDPOINT_CHANGE_MERGE,
				name,
				json);
}

static void
pal_dbus_service_do_name_change(PalDBusService *self, GDBusMethodInvocation *invocation)
{
	const gchar *method = g_dbus_method_invocation_get_method_name(invocation);
	const gchar *name = NULL;
	PalEndpointChange change = PAL_ENDPOINT_CHANGE_REMOVE;

	g_variant_get(pal_dbus_args(invocation), "(&s)", &name);
	if (g_strcmp0(method, "EnableEndpoint") == 0)
		change = PAL_ENDPOINT_CHANGE_ENABLE;
	else if (g_strcmp0(method, "DisableEndpoint") == 0)
		change = PAL_ENDPOINT_CHANGE_DISABLE;
	pal_dbus_service_change(self, invocation, change, name, NULL);
}

static gboolean
pal_dbus_service_handle_add_endpoint(PalDBusGateway1 *object, GDBusMethodInvocation *invocation, const gchar *json)
{
	return pal_dbus_service_privileged(PAL_DBUS_SERVICE(object), invocation, pal_dbus_service_do_add_endpoint);
}

static gboolean
pal_dbus_service_handle_update_endpoint(PalDBusGateway1 *object,
					GDBusMethodInvocation *invocation,
					const gchar *name,
					const gchar *json,
					gboolean replace)
{
	return pal_dbus_service_privileged(PAL_DBUS_SERVICE(object), invocation, pal_dbus_service_do_update_endpoint);
}

static gboolean
pal_dbus_service_handle_name_change(PalDBusGateway1 *object, GDBusMethodInvocation *invocation, const gchar *name)
{
	return pal_dbus_service_privileged(PAL_DBUS_SERVICE(object), invocation, pal_dbus_service_do_name_change);
}

static void
pal_dbus_service_do_reload(PalDBusService *self, GDBusMethodInvocation *invocation)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(PalEndpointSet) set = NULL;
	g_autoptr(GPtrArray) all = NULL;

	if (!pal_daemon_reload(self->daemon, &error)) {
		pal_dbus_return_error(invocation, error);
		return;
	}
	set = pal_daemon_dup_endpoints(self->daemon);
	all = pal_endpoint_set_get_all(set);
	pal_dbus_gateway1_complete_reload(PAL_DBUS_GATEWAY1(self),
					  invocation,
					  all->len,
					  pal_daemon_get_n_refused_endpoints(self->daemon));
}

static gboolean
pal_dbus_service_handle_reload(PalDBusGateway1 *object, GDBusMethodInvocation *invocation)
{
	return pal_dbus_service_privileged(PAL_DBUS_SERVICE(object), invocation, pal_dbus_service_do_reload);
}

/* --- plugins --- */

static gboolean
pal_dbus_service_handle_list_plugins(PalDBusGateway1 *object, GDBusMethodInvocation *invocation)
{
	PalDBusService *self = PAL_DBUS_SERVICE(object);
	PalPluginRegistry *registry = pal_daemon_get_registry(self->daemon);
	GPtrArray *plugins = pal_plugin_registry_get_plugins(registry);
	GPtrArray *refused = pal_plugin_registry_get_refused(registry);
	GVariantBuilder loaded;
	GVariantBuilder bad;

	g_variant_builder_init(&loaded, G_VARIANT_TYPE("a(sassss)"));
	for (guint i = 0; plugins != NULL && i < plugins->len; i++) {
		PalPluginInfo *info = g_ptr_array_index(plugins, i);
		GVariantBuilder kinds;

		g_variant_builder_init(&kinds, G_VARIANT_TYPE("as"));
		for (guint k = 0; k < PAL_PLUGIN_KIND_LAST; k++) {
			if ((info->kinds & (1u << k)) != 0)
				g_variant_builder_add(&kinds, "s", pal_plugin_kind_to_string((PalPluginKind)k));
		}
		g_variant_builder_add(&loaded,
				      "(sassss)",
				      info->name,
				      &kinds,
				      info->version != NULL ? info->version : "",
				      info->license != NULL ? info->license : "",
				      info->path != NULL ? info->path : "");
	}
	g_variant_builder_init(&bad, G_VARIANT_TYPE("a(ss)"));
	for (guint i = 0; refused != NULL && i < refused->len; i++) {
		PalPluginRefusal *r = g_ptr_array_index(refused, i);
		g_variant_builder_add(&bad, "(ss)", r->path, r->reason);
	}
	pal_dbus_gateway1_complete_list_plugins(object,
						invocation,
						g_variant_builder_end(&loaded),
						g_variant_builder_end(&bad));
	return TRUE;
}

/* --- sessions --- */

static JsonObject *
pal_dbus_session_to_json(const PalStoreSession *s, gboolean full)
{
	JsonObject *obj = json_object_new();

	json_object_set_string_member(obj, "endpoint", s->endpoint);
	json_object_set_string_member(obj, "userId", s->user_id != NULL ? s->user_id : "");
	json_object_set_string_member(obj, "sessionId", s->session_id != NULL ? s->session_id : "");
	json_object_set_int_member(obj, "turns", (gint64)s->turns);
	json_object_set_boolean_member(obj, "handover", s->handover);
	json_object_set_int_member(obj, "lastSeq", (gint64)s->last_seq);
	pal_dbus_json_set_time(obj, "createdAt", s->created_at);
	pal_dbus_json_set_time(obj, "updatedAt", s->updated_at);
	if (full) {
		JsonNode *context = s->context != NULL ? json_from_string(s->context, NULL) : NULL;

		if (context != NULL)
			json_object_set_member(obj, "context", context);
		else
			json_object_set_null_member(obj, "context");
		if (s->entrypoint != NULL)
			json_object_set_string_member(obj, "entrypoint", s->entrypoint);
		else
			json_object_set_null_member(obj, "entrypoint");
	}
	return obj;
}

static void
pal_dbus_service_sessions_listed_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GDBusMethodInvocation *invocation = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(PalStoreSessionPage) page = pal_store_sessions_list_finish(PAL_STORE(source), res, &error);
	JsonArray *array;
	g_autofree gchar *json = NULL;

	if (page == NULL) {
		pal_dbus_return_error(invocation, error);
		return;
	}
	array = json_array_new();
	for (guint i = 0; i < page->sessions->len; i++)
		json_array_add_object_element(array, pal_dbus_session_to_json(g_ptr_array_index(page->sessions, i), FALSE));
	json = pal_dbus_array_to_string(array);
	g_dbus_method_invocation_return_value(invocation, g_variant_new("(st)", json, (guint64)page->total));
}

static void
pal_dbus_service_do_list_sessions(PalDBusService *self, GDBusMethodInvocation *invocation)
{
	const gchar *endpoint = NULL;
	guint32 offset = 0;
	guint32 limit = 0;

	g_variant_get(pal_dbus_args(invocation), "(&suu)", &endpoint, &offset, &limit);
	if (limit == 0)
		limit = PAL_DBUS_SESSIONS_DEFAULT_LIMIT;
	limit = MIN(limit, PAL_DBUS_SESSIONS_MAX_LIMIT);
	pal_store_sessions_list_async(pal_daemon_get_store(self->daemon),
				      pal_dbus_opt(endpoint),
				      offset,
				      limit,
				      NULL,
				      pal_dbus_service_sessions_listed_cb,
				      invocation);
}

static gboolean
pal_dbus_service_handle_list_sessions(PalDBusGateway1 *object,
				      GDBusMethodInvocation *invocation,
				      const gchar *endpoint,
				      guint offset,
				      guint limit)
{
	return pal_dbus_service_privileged(PAL_DBUS_SERVICE(object), invocation, pal_dbus_service_do_list_sessions);
}

static void
pal_dbus_service_session_loaded_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GDBusMethodInvocation *invocation = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(PalStoreSession) session = NULL;
	g_autofree gchar *json = NULL;

	if (!pal_store_load_session_finish(PAL_STORE(source), res, &session, &error)) {
		pal_dbus_return_error(invocation, error);
		return;
	}
	if (session == NULL) {
		pal_dbus_return_new_error(invocation, PAL_ERROR_NOT_FOUND, "no such session is stored");
		return;
	}
	json = pal_dbus_object_to_string(pal_dbus_session_to_json(session, TRUE));
	g_dbus_method_invocation_return_value(invocation, g_variant_new("(s)", json));
}

static void
pal_dbus_service_do_get_session(PalDBusService *self, GDBusMethodInvocation *invocation)
{
	const gchar *endpoint = NULL;
	const gchar *user_id = NULL;
	const gchar *session_id = NULL;
	g_autofree gchar *key = NULL;

	g_variant_get(pal_dbus_args(invocation), "(&s&s&s)", &endpoint, &user_id, &session_id);
	key = pal_pipeline_session_key(endpoint, user_id, session_id);
	pal_store_load_session_async(pal_daemon_get_store(self->daemon),
				     key,
				     NULL,
				     pal_dbus_service_session_loaded_cb,
				     invocation);
}

static gboolean
pal_dbus_service_handle_session(PalDBusGateway1 *object,
				GDBusMethodInvocation *invocation,
				const gchar *endpoint,
				const gchar *user_id,
				const gchar *session_id)
{
	return pal_dbus_service_privileged(PAL_DBUS_SERVICE(object), invocation, pal_dbus_service_do_get_session);
}

static void
pal_dbus_service_session_reset_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GDBusMethodInvocation *invocation = user_data;
	g_autoptr(GError) error = NULL;

	if (!pal_daemon_reset_session_finish(PAL_DAEMON(source), res, &error))
		pal_dbus_return_error(invocation, error);
	else
		g_dbus_method_invocation_return_value(invocation, NULL);
}

static void
pal_dbus_service_do_reset_session(PalDBusService *self, GDBusMethodInvocation *invocation)
{
	const gchar *endpoint = NULL;
	const gchar *user_id = NULL;
	const gchar *session_id = NULL;

	g_variant_get(pal_dbus_args(invocation), "(&s&s&s)", &endpoint, &user_id, &session_id);
	pal_daemon_reset_session_async(self->daemon,
				       endpoint,
				       user_id,
				       session_id,
				       NULL,
				       pal_dbus_service_session_reset_cb,
				       invocation);
}

static gboolean
pal_dbus_service_handle_reset_session(PalDBusGateway1 *object,
				      GDBusMethodInvocation *invocation,
				      const gchar *endpoint,
				      const gchar *user_id,
				      const gchar *session_id)
{
	return pal_dbus_service_privileged(PAL_DBUS_SERVICE(object), invocation, pal_dbus_service_do_reset_session);
}

/* --- inject and notify --- */

static void
pal_dbus_service_submitted_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GDBusMethodInvocation *invocation = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *input_id = pal_daemon_submit_finish(PAL_DAEMON(source), res, &error);

	if (input_id == NULL)
		pal_dbus_return_error(invocation, error);
	else
		g_dbus_method_invocation_return_value(invocation, g_variant_new("(s)", input_id));
}

static void
pal_dbus_service_do_submit(PalDBusService *self, GDBusMethodInvocation *invocation)
{
	const gchar *endpoint = NULL;
	const gchar *message = NULL;
	PalMessageKind kind = g_strcmp0(g_dbus_method_invocation_get_method_name(invocation), "Notify") == 0
				  ? PAL_MESSAGE_KIND_NOTIFY
				  : PAL_MESSAGE_KIND_INJECT;

	g_variant_get(pal_dbus_args(invocation), "(&s&s)", &endpoint, &message);
	pal_daemon_submit_async(self->daemon,
				endpoint,
				kind,
				message,
				strlen(message),
				NULL,
				pal_dbus_service_submitted_cb,
				invocation);
}

static gboolean
pal_dbus_service_handle_submit(PalDBusGateway1 *object,
			       GDBusMethodInvocation *invocation,
			       const gchar *endpoint,
			       const gchar *message)
{
	return pal_dbus_service_privileged(PAL_DBUS_SERVICE(object), invocation, pal_dbus_service_do_submit);
}

/* --- dead letters --- */

/* the body as JSON when it is JSON, else as text, else base64 (as palaver-tool does) */
static void
pal_dbus_json_set_body(JsonObject *obj, GBytes *body)
{
	gsize len = 0;
	const gchar *data = g_bytes_get_data(body, &len);
	g_autoptr(JsonNode) json = NULL;

	if (len > 0 && len <= G_MAXSSIZE) {
		g_autoptr(JsonParser) parser = json_parser_new_immutable();
		if (pal_json_check_depth(data, len, 64, NULL) &&
		    json_parser_load_from_data(parser, data, (gssize)len, NULL) &&
		    json_parser_get_root(parser) != NULL)
			json = pal_json_node_deep_copy(json_parser_get_root(parser));
	}
	if (json != NULL) {
		json_object_set_member(obj, "body", g_steal_pointer(&json));
	} else if (data != NULL && g_utf8_validate(data, (gssize)len, NULL) && memchr(data, '\0', len) == NULL) {
		g_autofree gchar *text = g_strndup(data, len);
		json_object_set_string_member(obj, "body", text);
	} else {
		g_autofree gchar *b64 = g_base64_encode((const guchar *)data, len);
		json_object_set_null_member(obj, "body");
		json_object_set_string_member(obj, "bodyBase64", b64);
	}
}

static JsonObject *
pal_dbus_dead_letter_to_json(const PalStoreDeadLetter *d)
{
	JsonObject *obj = json_object_new();
	gchar *parts[3] = {NULL, NULL, NULL};
	gboolean decoded = pal_pipeline_session_key_split(d->row->session_key, parts);

	json_object_set_int_member(obj, "id", d->row->id);
	json_object_set_string_member(obj, "endpoint", d->row->endpoint);
	if (decoded) {
		json_object_set_string_member(obj, "userId", parts[1]);
		json_object_set_string_member(obj, "sessionId", parts[2]);
	} else {
		json_object_set_null_member(obj, "userId");
		json_object_set_null_member(obj, "sessionId");
	}
	for (guint i = 0; i < 3; i++)
		g_free(parts[i]);
	json_object_set_string_member(obj, "sessionKey", d->row->session_key);
	json_object_set_int_member(obj, "sessionSeq", (gint64)d->row->session_seq);
	json_object_set_string_member(obj, "webhookId", d->row->webhook_id);
	json_object_set_string_member(obj, "turnId", d->row->turn_id);
	json_object_set_int_member(obj, "turnIndex", d->row->turn_index);
	pal_dbus_json_set_time(obj, "createdAt", d->row->created_at);
	pal_dbus_json_set_time(obj, "expiresAt", d->row->expires_at);
	json_object_set_int_member(obj, "attempts", d->row->attempts);
	pal_dbus_json_set_time(obj, "nextAttemptAt", d->row->next_attempt_at);
	pal_dbus_json_set_time(obj, "failedAt", d->failed_at);
	if (d->last_status > 0)
		json_object_set_int_member(obj, "lastStatus", d->last_status);
	else
		json_object_set_null_member(obj, "lastStatus");
	json_object_set_string_member(obj, "reason", d->reason);
	pal_dbus_json_set_body(obj, d->row->body);
	return obj;
}

static void
pal_dbus_service_dead_listed_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GDBusMethodInvocation *invocation = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) dead = pal_store_dead_letters_list_finish(PAL_STORE(source), res, &error);
	JsonArray *array;
	g_autofree gchar *json = NULL;

	if (dead == NULL) {
		pal_dbus_return_error(invocation, error);
		return;
	}
	array = json_array_new();
	for (guint i = 0; i < dead->len; i++)
		json_array_add_object_element(array, pal_dbus_dead_letter_to_json(g_ptr_array_index(dead, i)));
	json = pal_dbus_array_to_string(array);
	g_dbus_method_invocation_return_value(invocation, g_variant_new("(s)", json));
}

static void
pal_dbus_service_do_list_dead_letters(PalDBusService *self, GDBusMethodInvocation *invocation)
{
	const gchar *endpoint = NULL;
	const gchar *user_id = NULL;
	const gchar *session_id = NULL;
	guint32 offset = 0;
	guint32 limit = 0;
	g_autofree gchar *key = NULL;
	g_autoptr(GError) error = NULL;

	g_variant_get(pal_dbus_args(invocation), "(&s&s&suu)", &endpoint, &user_id, &session_id, &offset, &limit);
	if (!pal_dbus_session_filter(endpoint, user_id, session_id, &key, &error)) {
		pal_dbus_return_error(invocation, error);
		return;
	}
	pal_store_dead_letters_list_async(pal_daemon_get_store(self->daemon),
					  pal_dbus_opt(endpoint),
					  key,
					  offset,
					  limit,
					  NULL,
					  pal_dbus_service_dead_listed_cb,
					  invocation);
}

static gboolean
pal_dbus_service_handle_list_dead_letters(PalDBusGateway1 *object,
					  GDBusMethodInvocation *invocation,
					  const gchar *endpoint,
					  const gchar *user_id,
					  const gchar *session_id,
					  guint offset,
					  guint limit)
{
	return pal_dbus_service_privileged(PAL_DBUS_SERVICE(object), invocation, pal_dbus_service_do_list_dead_letters);
}

/* the (u) reply of ReplayDeadLetters and PurgeDeadLetters, or @error when @n is negative */
static void
pal_dbus_return_count(GDBusMethodInvocation *invocation, gssize n, const GError *error)
{
	if (n < 0)
		pal_dbus_return_error(invocation, error);
	else
		g_dbus_method_invocation_return_value(invocation, g_variant_new("(u)", (guint32)n));
}

static void
pal_dbus_service_replayed_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	gssize n = pal_daemon_replay_dead_letters_finish(PAL_DAEMON(source), res, &error);

	pal_dbus_return_count(user_data, n, error);
}

static void
pal_dbus_service_purged_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	gssize n = pal_store_dead_letters_purge_finish(PAL_STORE(source), res, &error);

	pal_dbus_return_count(user_data, n, error);
}

static void
pal_dbus_service_do_dead_letters(PalDBusService *self, GDBusMethodInvocation *invocation)
{
	const gchar *endpoint = NULL;
	const gchar *user_id = NULL;
	const gchar *session_id = NULL;
	g_autofree gchar *key = NULL;
	g_autoptr(GError) error = NULL;

	g_variant_get(pal_dbus_args(invocation), "(&s&s&s)", &endpoint, &user_id, &session_id);
	if (!pal_dbus_session_filter(endpoint, user_id, session_id, &key, &error)) {
		pal_dbus_return_error(invocation, error);
		return;
	}
	if (g_strcmp0(g_dbus_method_invocation_get_method_name(invocation), "PurgeDeadLetters") == 0) {
		pal_store_dead_letters_purge_async(pal_daemon_get_store(self->daemon),
						   pal_dbus_opt(endpoint),
						   key,
						   NULL,
						   pal_dbus_service_purged_cb,
						   invocation);
		return;
	}
	pal_daemon_replay_dead_letters_async(self->daemon,
					     pal_dbus_opt(endpoint),
					     key,
					     NULL,
					     pal_dbus_service_replayed_cb,
					     invocation);
}

static gboolean
pal_dbus_service_handle_dead_letters(PalDBusGateway1 *object,
				     GDBusMethodInvocation *invocation,
				     const gchar *endpoint,
				     const gchar *user_id,
				     const gchar *session_id)
{
	return pal_dbus_service_privileged(PAL_DBUS_SERVICE(object), invocation, pal_dbus_service_do_dead_letters);
}

/* --- statistics and log level --- */

static gboolean
pal_dbus_service_handle_get_statistics(PalDBusGateway1 *object, GDBusMethodInvocation *invocation)
{
	PalDBusService *self = PAL_DBUS_SERVICE(object);
	g_autofree gchar *json = pal_dbus_json_take_string(pal_daemon_dup_statistics(self->daemon));

	pal_dbus_gateway1_complete_get_statistics(object, invocation, json);
	return TRUE;
}

static void
pal_dbus_service_do_set_log_level(PalDBusService *self, GDBusMethodInvocation *invocation)
{
	const gchar *level = NULL;
	g_autoptr(GError) error = NULL;

	g_variant_get(pal_dbus_args(invocation), "(&s)", &level);
	if (!pal_daemon_set_log_level(level, &error)) {
		pal_dbus_return_error(invocation, error);
		return;
	}
	g_message("log level set to %s over D-Bus", pal_daemon_get_log_level());
	pal_dbus_gateway1_complete_set_log_level(PAL_DBUS_GATEWAY1(self), invocation);
}

static gboolean
pal_dbus_service_handle_set_log_level(PalDBusGateway1 *object, GDBusMethodInvocation *invocation, const gchar *level)
{
	return pal_dbus_service_privileged(PAL_DBUS_SERVICE(object), invocation, pal_dbus_service_do_set_log_level);
}

static gboolean
pal_dbus_service_handle_get_log_level(PalDBusGateway1 *object, GDBusMethodInvocation *invocation)
{
	pal_dbus_gateway1_complete_get_log_level(object, invocation, pal_daemon_get_log_level());
	return TRUE;
}

/* --- signals: relayed from the daemon (main thread) --- */

static void
pal_dbus_service_endpoint_changed_cb(PalDaemon *daemon, const gchar *name, const gchar *change, PalDBusService *self)
{
	pal_dbus_gateway1_emit_endpoint_changed(PAL_DBUS_GATEWAY1(self), name, change);
}

static void
pal_dbus_service_delivery_failed_cb(PalStats *stats,
				    const gchar *endpoint,
				    const gchar *user_id,
				    const gchar *session_id,
				    const gchar *webhook_id,
				    const gchar *reason,
				    gint status,
				    PalDBusService *self)
{
	pal_dbus_gateway1_emit_delivery_failed(PAL_DBUS_GATEWAY1(self),
					       endpoint,
					       user_id,
					       session_id,
					       webhook_id,
					       reason,
					       status);
}

static void
pal_dbus_service_handover_changed_cb(PalStats *stats,
				     const gchar *endpoint,
				     const gchar *user_id,
				     const gchar *session_id,
				     gboolean active,
				     PalDBusService *self)
{
	pal_dbus_gateway1_emit_handover_changed(PAL_DBUS_GATEWAY1(self), endpoint, user_id, session_id, active);
}

/* --- the bus name --- */

static void
pal_dbus_service_bus_acquired_cb(GDBusConnection *connection, const gchar *name, gpointer user_data)
{
	PalDBusService *self = user_data;
	g_autoptr(GError) error = NULL;

	if (!g_dbus_interface_skeleton_export(G_DBUS_INTERFACE_SKELETON(self),
					      connection,
					      PAL_DBUS_SERVICE_PATH,
					      &error)) {
		g_warning("cannot export %s: %s", PAL_DBUS_SERVICE_PATH, error->message);
		return;
	}
	self->exported = TRUE;
}

static void
pal_dbus_service_name_acquired_cb(GDBusConnection *connection, const gchar *name, gpointer user_data)
{
	PalDBusService *self = user_data;

	g_message("D-Bus: %s owned", name);
	if (self->acquired != NULL)
		self->acquired(self, NULL, self->user_data);
}

static void
pal_dbus_service_name_lost_cb(GDBusConnection *connection, const gchar *name, gpointer user_data)
{
	PalDBusService *self = user_data;
	g_autoptr(GError) error = NULL;

	if (connection == NULL)
		g_set_error(&error,
			    PAL_ERROR,
			    PAL_ERROR_UNAVAILABLE,
			    "cannot connect to the D-Bus bus to own %s (set [DBus] Bus=none to run without the "
			    "control interface)",
			    name);
	else
		g_set_error(&error,
			    PAL_ERROR,
			    PAL_ERROR_UNAVAILABLE,
			    "the D-Bus name %s is not ours (owned by another palaverd, or the bus policy "
			    "does not allow this user to own it)",
			    name);
	if (self->lost != NULL)
		self->lost(self, error, self->user_data);
}

void
pal_dbus_service_own(PalDBusService *self,
		     GBusType bus_type,
		     PalDBusServiceCallback acquired,
		     PalDBusServiceCallback lost,
		     gpointer user_data)
{
	g_return_if_fail(PAL_IS_DBUS_SERVICE(self));
	g_return_if_fail(self->owner_id == 0);

	self->acquired = acquired;
	self->lost = lost;
	self->user_data = user_data;
	self->owner_id = g_bus_own_name(bus_type,
					PAL_DBUS_SERVICE_NAME,
					G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE,
					pal_dbus_service_bus_acquired_cb,
					pal_dbus_service_name_acquired_cb,
					pal_dbus_service_name_lost_cb,
					self,
					NULL);
}

void
pal_dbus_service_unown(PalDBusService *self)
{
	g_return_if_fail(PAL_IS_DBUS_SERVICE(self));

	if (self->owner_id != 0) {
		g_bus_unown_name(self->owner_id);
		self->owner_id = 0;
	}
	if (self->exported) {
		g_dbus_interface_skeleton_unexport(G_DBUS_INTERFACE_SKELETON(self));
		self->exported = FALSE;
	}
}

/* --- object --- */

static void
pal_dbus_service_iface_init(PalDBusGateway1Iface *iface)
{
	iface->handle_list_endpoints = pal_dbus_service_handle_list_endpoints;
	iface->handle_get_endpoint = pal_dbus_service_handle_get_endpoint;
	iface->handle_add_endpoint = pal_dbus_service_handle_add_endpoint;
	iface->handle_update_endpoint = pal_dbus_service_handle_update_endpoint;
	iface->handle_remove_endpoint = pal_dbus_service_handle_name_change;
	iface->handle_enable_endpoint = pal_dbus_service_handle_name_change;
	iface->handle_disable_endpoint = pal_dbus_service_handle_name_change;
	iface->handle_reload = pal_dbus_service_handle_reload;
	iface->handle_list_plugins = pal_dbus_service_handle_list_plugins;
	iface->handle_list_sessions = pal_dbus_service_handle_list_sessions;
	iface->handle_get_session = pal_dbus_service_handle_session;
	iface->handle_reset_session = pal_dbus_service_handle_reset_session;
	iface->handle_inject = pal_dbus_service_handle_submit;
	iface->handle_notify = pal_dbus_service_handle_submit;
	iface->handle_list_dead_letters = pal_dbus_service_handle_list_dead_letters;
	iface->handle_replay_dead_letters = pal_dbus_service_handle_dead_letters;
	iface->handle_purge_dead_letters = pal_dbus_service_handle_dead_letters;
	iface->handle_get_statistics = pal_dbus_service_handle_get_statistics;
	iface->handle_set_log_level = pal_dbus_service_handle_set_log_level;
	iface->handle_get_log_level = pal_dbus_service_handle_get_log_level;
}

static void
pal_dbus_service_dispose(GObject *object)
{
	PalDBusService *self = PAL_DBUS_SERVICE(object);

	pal_dbus_service_unown(self);
	if (self->daemon != NULL) {
		g_clear_signal_handler(&self->endpoint_changed_id, self->daemon);
		g_clear_signal_handler(&self->delivery_failed_id, pal_daemon_get_stats(self->daemon));
		g_clear_signal_handler(&self->handover_changed_id, pal_daemon_get_stats(self->daemon));
		g_clear_object(&self->daemon);
	}
	G_OBJECT_CLASS(pal_dbus_service_parent_class)->dispose(object);
}

static void
pal_dbus_service_class_init(PalDBusServiceClass *klass)
{
	G_OBJECT_CLASS(klass)->dispose = pal_dbus_service_dispose;
}

static void
pal_dbus_service_init(PalDBusService *self)
{
	struct group gr;
	struct group *found = NULL;
	gchar buf[4096];

	self->daemon_uid = getuid();
	self->admin_gid = (gid_t)-1;
	if (getgrnam_r(PAL_DBUS_ADMIN_GROUP, &gr, buf, sizeof buf, &found) == 0 && found != NULL)
		self->admin_gid = gr.gr_gid;
}

PalDBusService *
pal_dbus_service_new(PalDaemon *daemon)
{
	PalDBusService *self = g_object_new(PAL_TYPE_DBUS_SERVICE, NULL);
	const gchar *const *urls = pal_daemon_get_listen_urls(daemon);

	pal_dbus_error_register();
	self->daemon = g_object_ref(daemon);
	pal_dbus_gateway1_set_version(PAL_DBUS_GATEWAY1(self), PACKAGE_VERSION);
	pal_dbus_gateway1_set_start_time(PAL_DBUS_GATEWAY1(self),
					 (guint64)(pal_daemon_get_start_time(daemon) / G_USEC_PER_SEC));
	pal_dbus_gateway1_set_listen_addresses(PAL_DBUS_GATEWAY1(self), urls);
	pal_dbus_gateway1_set_workers(PAL_DBUS_GATEWAY1(self), pal_daemon_get_n_workers(daemon));
	self->endpoint_changed_id = g_signal_connect(daemon,
						     "endpoint-changed",
						     G_CALLBACK(pal_dbus_service_endpoint_changed_cb),
						     self);
	self->delivery_failed_id = g_signal_connect(pal_daemon_get_stats(daemon),
						    "delivery-failed",
						    G_CALLBACK(pal_dbus_service_delivery_failed_cb),
						    self);
	self->handover_changed_id = g_signal_connect(pal_daemon_get_stats(daemon),
						     "handover-changed",
						     G_CALLBACK(pal_dbus_service_handover_changed_cb),
						     self);
	return self;
}
