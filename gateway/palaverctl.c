/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "pal-dbus-error.h"
#include "pal-dbus-generated.h"
#include "pal-util.h"
#include "palaver.h"

/*
 * palaverctl: the command line over palaverd's D-Bus control interface org.palaver.Gateway1
 * (data/org.palaver.Gateway1.xml), and nothing else: every command is one or two method calls
 * through the generated proxy. Human-readable tables by default, --json for scripts.
 *
 * Exit status: 0 success, 1 palaverd refused or failed the request (including "permission
 * denied"), 2 wrong usage, 3 palaverd cannot be reached (no bus, not running).
 */

#define PAL_CTL_EXIT_OK		0
#define PAL_CTL_EXIT_DAEMON	1
#define PAL_CTL_EXIT_USAGE	2
#define PAL_CTL_EXIT_CONNECTION 3

#define PAL_CTL_BUS_NAME "org.palaver.Gateway1"
#define PAL_CTL_PATH	 "/org/palaver/Gateway1"

/* the options every command takes */
static gboolean opt_json = FALSE;
static gboolean opt_system = FALSE;
static gboolean opt_session = FALSE;
static gchar *opt_address = NULL;

static const GOptionEntry pal_ctl_global_entries[] = {
    {"json", 'j', 0, G_OPTION_ARG_NONE, &opt_json, N_("Print JSON for scripts instead of tables"), NULL},
    {"system", 0, 0, G_OPTION_ARG_NONE, &opt_system, N_("Talk to palaverd on the system bus (the default)"), NULL},
    {"session", 0, 0, G_OPTION_ARG_NONE, &opt_session,
     N_("Talk to palaverd on the session bus (palaverd --session, development and tests)"), NULL},
    {"address", 0, 0, G_OPTION_ARG_STRING, &opt_address, N_("Talk to palaverd on the bus at ADDRESS"),
     N_("ADDRESS")},
    {NULL}};

typedef struct _PalCtlCommand PalCtlCommand;

struct _PalCtlCommand {
	const gchar *name;     /* "endpoint add" */
	const gchar *params;   /* N_() parameter string for --help */
	const gchar *summary;  /* N_(), one line for the list of commands */
	const gchar *details;  /* N_() or NULL: more for the command's --help */
	guint min_args;	       /* positional arguments after the command words */
	guint max_args;
	const GOptionEntry *entries; /* the command's own options, or NULL */
	gint (*func)(PalDBusGateway1 *proxy, gchar **args, guint n_args);
};

/* ---------------------------------------------------------------------------------------- */
/* errors and output */

static gboolean
pal_ctl_is_connection_error(const GError *error)
{
	if (error->domain == G_IO_ERROR)
		return TRUE;
	if (error->domain != G_DBUS_ERROR)
		return FALSE;
	switch (error->code) {
	case G_DBUS_ERROR_SERVICE_UNKNOWN:
	case G_DBUS_ERROR_NAME_HAS_NO_OWNER:
	case G_DBUS_ERROR_NO_REPLY:
	case G_DBUS_ERROR_TIMEOUT:
	case G_DBUS_ERROR_TIMED_OUT:
	case G_DBUS_ERROR_DISCONNECTED:
	case G_DBUS_ERROR_NO_SERVER:
	case G_DBUS_ERROR_FILE_NOT_FOUND:
	case G_DBUS_ERROR_BAD_ADDRESS:
	case G_DBUS_ERROR_NO_NETWORK:
	case G_DBUS_ERROR_SPAWN_EXEC_FAILED:
	case G_DBUS_ERROR_SPAWN_FAILED:
	case G_DBUS_ERROR_SPAWN_CHILD_EXITED:
	case G_DBUS_ERROR_SPAWN_SERVICE_NOT_FOUND:
	case G_DBUS_ERROR_UNKNOWN_OBJECT:
	case G_DBUS_ERROR_UNKNOWN_INTERFACE:
		return TRUE;
	default:
		return FALSE;
	}
}

/* prints the error and returns the exit status it means */
static gint
pal_ctl_fail(GError *error)
{
	if (pal_ctl_is_connection_error(error)) {
		g_dbus_error_strip_remote_error(error);
		g_printerr(_("palaverctl: cannot reach palaverd: %s\n"), error->message);
		return PAL_CTL_EXIT_CONNECTION;
	}
	g_dbus_error_strip_remote_error(error);
	g_printerr(_("palaverctl: %s\n"), error->message);
	return PAL_CTL_EXIT_DAEMON;
}

static gint
pal_ctl_usage(const gchar *format, ...) G_GNUC_PRINTF(1, 2);

static gint
pal_ctl_usage(const gchar *format, ...)
{
	va_list args;
	g_autofree gchar *message = NULL;

	va_start(args, format);
	message = g_strdup_vprintf(format, args);
	va_end(args);
	g_printerr("palaverctl: %s\n", message);
	g_printerr(_("Try “palaverctl --help”.\n"));
	return PAL_CTL_EXIT_USAGE;
}

static void
pal_ctl_print_json(JsonNode *node)
{
	g_autofree gchar *text = pal_json_to_string(node, TRUE);

	g_print("%s\n", text);
}

static void
pal_ctl_print_json_object(JsonObject *object)
{
	g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
	json_node_set_object(node, object);
	pal_ctl_print_json(node);
}

/* JSON text from palaverd; NULL (and a message) if it is not JSON */
static JsonNode *
pal_ctl_parse_json(const gchar *text)
{
	g_autoptr(GError) error = NULL;
	JsonNode *node = json_from_string(text, &error);

	if (node == NULL)
		g_printerr(_("palaverctl: palaverd sent something that is not JSON: %s\n"),
			   error != NULL ? error->message : _("empty"));
	return node;
}

/* JSON text from palaverd, printed as it is (pretty); an exit status */
static gint
pal_ctl_print_json_text(const gchar *text)
{
	g_autoptr(JsonNode) node = pal_ctl_parse_json(text);

	if (node == NULL)
		return PAL_CTL_EXIT_DAEMON;
	pal_ctl_print_json(node);
	return PAL_CTL_EXIT_OK;
}

/* the result of a command: @obj with --json, else the line @sentence; takes both */
static gint
pal_ctl_done(JsonObject *obj, gchar *sentence)
{
	g_autoptr(JsonObject) owned = obj;
	g_autofree gchar *text = sentence;

	if (opt_json)
		pal_ctl_print_json_object(owned);
	else
		g_print("%s\n", text);
	return PAL_CTL_EXIT_OK;
}

/* "" means no filter on D-Bus */
static const gchar *
pal_ctl_opt(const gchar *value)
{
	return value != NULL ? value : "";
}

/* a simple table: a header row, then rows; columns padded to their widest cell */
typedef struct {
	guint n_cols;
	GPtrArray *rows; /* GStrv, the first is the header */
} PalCtlTable;

static PalCtlTable *
pal_ctl_table_new(guint n_cols, ...)
{
	PalCtlTable *t = g_new0(PalCtlTable, 1);
	GStrv header = g_new0(gchar *, n_cols + 1);
	va_list args;

	t->n_cols = n_cols;
	t->rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
	va_start(args, n_cols);
	for (guint i = 0; i < n_cols; i++)
		header[i] = g_strdup(va_arg(args, const gchar *));
	va_end(args);
	g_ptr_array_add(t->rows, header);
	return t;
}

/* takes the cells, which are made printable */
static void
pal_ctl_table_add(PalCtlTable *t, ...)
{
	GStrv row = g_new0(gchar *, t->n_cols + 1);
	va_list args;

	va_start(args, t);
	for (guint i = 0; i < t->n_cols; i++) {
		g_autofree gchar *cell = va_arg(args, gchar *);
		row[i] = pal_printable(cell, FALSE);
	}
	va_end(args);
	g_ptr_array_add(t->rows, row);
}

static void
pal_ctl_table_print(PalCtlTable *t)
{
	g_autofree glong *widths = g_new0(glong, t->n_cols);
	g_autoptr(GString) out = g_string_new(NULL);

	for (guint r = 0; r < t->rows->len; r++) {
		GStrv row = g_ptr_array_index(t->rows, r);
		for (guint c = 0; c < t->n_cols; c++)
			widths[c] = MAX(widths[c], g_utf8_strlen(row[c], -1));
	}
	for (guint r = 0; r < t->rows->len; r++) {
		GStrv row = g_ptr_array_index(t->rows, r);
		for (guint c = 0; c < t->n_cols; c++) {
			g_string_append(out, row[c]);
			if (c + 1 < t->n_cols) {
				for (glong pad = g_utf8_strlen(row[c], -1); pad < widths[c] + 2; pad++)
					g_string_append_c(out, ' ');
			}
		}
		/* no trailing blanks */
		while (out->len > 0 && out->str[out->len - 1] == ' ')
			g_string_truncate(out, out->len - 1);
		g_string_append_c(out, '\n');
	}
	fputs(out->str, stdout);
}

static void
pal_ctl_table_free(PalCtlTable *t)
{
	g_ptr_array_unref(t->rows);
	g_free(t);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PalCtlTable, pal_ctl_table_free)

static const gchar *
pal_ctl_yes_no(gboolean value)
{
	return value ? _("yes") : _("no");
}

static gchar *
pal_ctl_member_string(JsonObject *obj, const gchar *member)
{
	JsonNode *node = json_object_get_member(obj, member);

	if (node == NULL || JSON_NODE_HOLDS_NULL(node))
		return g_strdup("-");
	if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING)
		return g_strdup(json_node_get_string(node));
	if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_BOOLEAN)
		return g_strdup(pal_ctl_yes_no(json_node_get_boolean(node)));
	if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_INT64)
		return g_strdup_printf("%" G_GINT64_FORMAT, json_node_get_int(node));
	if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_DOUBLE)
		return g_strdup_printf("%.1f", json_node_get_double(node));
	return json_to_string(node, FALSE);
}

static gint64
pal_ctl_member_int(JsonObject *obj, const gchar *member)
{
	JsonNode *node = obj != NULL ? json_object_get_member(obj, member) : NULL;

	if (node == NULL || !JSON_NODE_HOLDS_VALUE(node))
		return 0;
	if (json_node_get_value_type(node) == G_TYPE_DOUBLE)
		return (gint64)json_node_get_double(node);
	return json_node_get_int(node);
}

/* "12 / 250" from a latency object: p50 and p99 in ms, "-" without samples */
static gchar *
pal_ctl_latency(JsonObject *endpoint, const gchar *member)
{
	JsonNode *node = json_object_get_member(endpoint, member);
	JsonObject *lat;

	if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node))
		return g_strdup("-");
	lat = json_node_get_object(node);
	if (pal_ctl_member_int(lat, "count") == 0)
		return g_strdup("-");
	return g_strdup_printf("%g / %g",
			       json_object_get_double_member_with_default(lat, "p50", 0),
			       json_object_get_double_member_with_default(lat, "p99", 0));
}

/* a JSON document given as FILE, "-" (standard input) or the JSON text itself */
static gchar *
pal_ctl_read_document(const gchar *source, GError **error)
{
	const gchar *p = source;
	gchar *contents = NULL;

	while (g_ascii_isspace(*p))
		p++;
	if (*p == '{' || *p == '[')
		return g_strdup(source);
	if (g_strcmp0(source, "-") == 0) {
		g_autoptr(GString) text = g_string_new(NULL);
		gchar buf[4096];
		gsize n;

		while ((n = fread(buf, 1, sizeof buf, stdin)) > 0)
			g_string_append_len(text, buf, (gssize)n);
		return g_string_free(g_steal_pointer(&text), FALSE);
	}
	if (!g_file_get_contents(source, &contents, NULL, error))
		return NULL;
	return contents;
}

/* ---------------------------------------------------------------------------------------- */
/* status */

static gint
pal_ctl_status(PalDBusGateway1 *proxy, gchar **args, guint n_args)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *stats_text = NULL;
	g_autofree gchar *level = NULL;
	g_autoptr(GVariant) props = NULL;
	g_autoptr(GVariant) dict = NULL;
	g_autoptr(JsonNode) stats = NULL;
	JsonObject *endpoints;
	const gchar *version = "?";
	guint64 start_time = 0;
	guint32 workers = 0;
	g_autofree const gchar **listen = NULL;

	/* the statistics first: on the system bus this call may start palaverd */
	if (!pal_dbus_gateway1_call_get_statistics_sync(proxy, &stats_text, NULL, &error))
		return pal_ctl_fail(error);
	if (!pal_dbus_gateway1_call_get_log_level_sync(proxy, &level, NULL, &error))
		return pal_ctl_fail(error);
	props = g_dbus_connection_call_sync(g_dbus_proxy_get_connection(G_DBUS_PROXY(proxy)),
					    PAL_CTL_BUS_NAME,
					    PAL_CTL_PATH,
					    "org.freedesktop.DBus.Properties",
					    "GetAll",
					    g_variant_new("(s)", "org.palaver.Gateway1"),
					    G_VARIANT_TYPE("(a{sv})"),
					    G_DBUS_CALL_FLAGS_NONE,
					    -1,
					    NULL,
					    &error);
	if (props == NULL)
		return pal_ctl_fail(error);
	dict = g_variant_get_child_value(props, 0);
	g_variant_lookup(dict, "Version", "&s", &version);
	g_variant_lookup(dict, "StartTime", "t", &start_time);
	g_variant_lookup(dict, "Workers", "u", &workers);
	g_variant_lookup(dict, "ListenAddresses", "^a&s", &listen);
	stats = pal_ctl_parse_json(stats_text);
	if (stats == NULL || !JSON_NODE_HOLDS_OBJECT(stats))
		return PAL_CTL_EXIT_DAEMON;
	endpoints = json_object_get_object_member(json_node_get_object(stats), "endpoints");

	if (opt_json) {
		g_autoptr(JsonObject) obj = json_object_new();
		JsonArray *urls = json_array_new();

		json_object_set_string_member(obj, "version", version);
		json_object_set_int_member(obj, "startTime", (gint64)start_time);
		for (guint i = 0; listen != NULL && listen[i] != NULL; i++)
			json_array_add_string_element(urls, listen[i]);
		json_object_set_array_member(obj, "listenAddresses", urls);
		json_object_set_int_member(obj, "workers", workers);
		json_object_set_string_member(obj, "logLevel", level);
		json_object_set_member(obj, "statistics", json_node_copy(stats));
		pal_ctl_print_json_object(obj);
		return PAL_CTL_EXIT_OK;
	}
	{
		g_autoptr(GDateTime) since = g_date_time_new_from_unix_local((gint64)start_time);
		g_autofree gchar *since_text = since != NULL ? g_date_time_format(since, "%F %T") : g_strdup("?");
		gint64 up = pal_ctl_member_int(json_node_get_object(stats), "uptimeSeconds");
		g_autoptr(PalCtlTable) t = NULL;
		g_autoptr(GList) names = endpoints != NULL ? json_object_get_members(endpoints) : NULL;

		g_print(_("palaverd %s, running since %s (%lld s)\n"), version, since_text, (long long)up);
		for (guint i = 0; listen != NULL && listen[i] != NULL; i++)
			g_print(_("Listening: %s\n"), listen[i]);
		g_print(_("Workers:   %u\n"), workers);
		g_print(_("Log level: %s\n"), level);
		g_print(_("Refused endpoints: %lld\n"),
			(long long)pal_ctl_member_int(json_node_get_object(stats), "refusedEndpoints"));
		if (names == NULL)
			return PAL_CTL_EXIT_OK;
		g_print("\n");
		t = pal_ctl_table_new(9,
				      _("ENDPOINT"),
				      _("ACCEPTED"),
				      _("REJECTED"),
				      _("DELIVERED"),
				      _("RETRIED"),
				      _("DEAD"),
				      _("QUEUED"),
				      _("TURN MS p50/p99"),
				      _("DELIVERY MS p50/p99"));
		names = g_list_sort(names, (GCompareFunc)g_strcmp0);
		for (GList *l = names; l != NULL; l = l->next) {
			JsonObject *ep = json_object_get_object_member(endpoints, l->data);
			JsonObject *rejected = json_object_get_object_member(ep, "rejected");
			g_autoptr(GList) codes = rejected != NULL ? json_object_get_members(rejected) : NULL;
			gint64 n_rejected = 0;

			for (GList *c = codes; c != NULL; c = c->next)
				n_rejected += pal_ctl_member_int(rejected, c->data);
			pal_ctl_table_add(t,
					  g_strdup(l->data),
					  pal_ctl_member_string(ep, "accepted"),
					  g_strdup_printf("%" G_GINT64_FORMAT, n_rejected),
					  pal_ctl_member_string(ep, "delivered"),
					  pal_ctl_member_string(ep, "retried"),
					  pal_ctl_member_string(ep, "deadLettered"),
					  pal_ctl_member_string(ep, "queued"),
					  pal_ctl_latency(ep, "turnLatencyMs"),
					  pal_ctl_latency(ep, "deliveryLatencyMs"));
		}
		pal_ctl_table_print(t);
	}
	return PAL_CTL_EXIT_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* endpoints */

static gboolean opt_names = FALSE;

static const GOptionEntry pal_ctl_endpoints_entries[] = {
    {"names", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &opt_names, "endpoint names only (for completion)", NULL},
    {NULL}};

static gint
pal_ctl_endpoints(PalDBusGateway1 *proxy, gchar **args, guint n_args)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) list = NULL;
	GVariantIter iter;
	const gchar *name;
	const gchar *source;
	const gchar *origin;
	const gchar *flow;
	const gchar *webhook;
	gboolean active;

	if (!pal_dbus_gateway1_call_list_endpoints_sync(proxy, &list, NULL, &error))
		return pal_ctl_fail(error);
	if (opt_names) {
		g_variant_iter_init(&iter, list);
		while (g_variant_iter_next(&iter, "(&s&s&sb&s&s)", &name, &source, &origin, &active, &flow, &webhook))
			g_print("%s\n", name);
		return PAL_CTL_EXIT_OK;
	}
	if (opt_json) {
		g_autoptr(JsonNode) root = json_node_new(JSON_NODE_ARRAY);
		JsonArray *array = json_array_new();

		g_variant_iter_init(&iter, list);
		while (g_variant_iter_next(&iter, "(&s&s&sb&s&s)", &name, &source, &origin, &active, &flow, &webhook)) {
			JsonObject *obj = json_object_new();
			json_object_set_string_member(obj, "name", name);
			json_object_set_string_member(obj, "source", source);
			json_object_set_string_member(obj, "origin", origin);
			json_object_set_boolean_member(obj, "active", active);
			json_object_set_string_member(obj, "flow", flow);
			json_object_set_string_member(obj, "webhook", webhook);
			json_array_add_object_element(array, obj);
		}
		json_node_take_array(root, array);
		pal_ctl_print_json(root);
		return PAL_CTL_EXIT_OK;
	}
	if (g_variant_n_children(list) == 0) {
		g_print("%s\n", _("No endpoints."));
		return PAL_CTL_EXIT_OK;
	}
	{
		g_autoptr(PalCtlTable) t =
		    pal_ctl_table_new(5, _("NAME"), _("ACTIVE"), _("SOURCE"), _("FLOW"), _("WEBHOOK"));

		g_variant_iter_init(&iter, list);
		while (g_variant_iter_next(&iter, "(&s&s&sb&s&s)", &name, &source, &origin, &active, &flow, &webhook))
			pal_ctl_table_add(t,
					  g_strdup(name),
					  g_strdup(pal_ctl_yes_no(active)),
					  g_strdup(g_strcmp0(source, "file") == 0 ? origin : _("runtime (D-Bus)")),
					  g_strdup(flow),
					  g_strdup(webhook[0] != '\0' ? webhook : "-"));
		pal_ctl_table_print(t);
	}
	return PAL_CTL_EXIT_OK;
}

static gint
pal_ctl_endpoint_show(PalDBusGateway1 *proxy, gchar **args, guint n_args)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *json = NULL;

	if (!pal_dbus_gateway1_call_get_endpoint_sync(proxy, args[0], &json, NULL, &error))
		return pal_ctl_fail(error);
	return pal_ctl_print_json_text(json);
}

/* @sentence ("Endpoint NAME added.", taken) or {"name": NAME, "change": CHANGE} */
static gint
pal_ctl_endpoint_done(const gchar *name, const gchar *change, gchar *sentence)
{
	g_autofree gchar *text = sentence;
	JsonObject *obj = json_object_new();

	json_object_set_string_member(obj, "name", name);
	json_object_set_string_member(obj, "change", change);
	return pal_ctl_done(obj, pal_printable(text, FALSE));
}

/* RemoveEndpoint, EnableEndpoint and DisableEndpoint: (s) → () */
typedef gboolean (*PalCtlNameCall)(PalDBusGateway1 *proxy,
				   const gchar *name,
				   GCancellable *cancellable,
				   GError **error);

/* @call for endpoint @name, then pal_ctl_endpoint_done(); @sentence taken */
static gint
pal_ctl_endpoint_call(PalDBusGateway1 *proxy,
		      PalCtlNameCall call,
		      const gchar *name,
		      const gchar *change,
		      gchar *sentence)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = sentence;

	if (!call(proxy, name, NULL, &error))
		return pal_ctl_fail(error);
	return pal_ctl_endpoint_done(name, change, g_steal_pointer(&text));
}

static gint
pal_ctl_endpoint_add(PalDBusGateway1 *proxy, gchar **args, guint n_args)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *json = pal_ctl_read_document(args[0], &error);
	g_autofree gchar *name = NULL;

	if (json == NULL)
		return pal_ctl_usage("%s", error->message);
	if (!pal_dbus_gateway1_call_add_endpoint_sync(proxy, json, &name, NULL, &error))
		return pal_ctl_fail(error);
	return pal_ctl_endpoint_done(name, "added", g_strdup_printf(_("Endpoint %s added."), name));
}

static gboolean opt_replace = FALSE;

static const GOptionEntry pal_ctl_edit_entries[] = {
    {"replace", 0, 0, G_OPTION_ARG_NONE, &opt_replace,
     N_("The JSON is the whole new endpoint, not a merge patch"), NULL},
    {NULL}};

static gint
pal_ctl_endpoint_edit(PalDBusGateway1 *proxy, gchar **args, guint n_args)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *json = pal_ctl_read_document(args[1], &error);

	if (json == NULL)
		return pal_ctl_usage("%s", error->message);
	if (!pal_dbus_gateway1_call_update_endpoint_sync(proxy, args[0], json, opt_replace, NULL, &error))
		return pal_ctl_fail(error);
	return pal_ctl_endpoint_done(args[0], "updated", g_strdup_printf(_("Endpoint %s updated."), args[0]));
}

static gint
pal_ctl_endpoint_remove(PalDBusGateway1 *proxy, gchar **args, guint n_args)
{
	return pal_ctl_endpoint_call(proxy,
				     pal_dbus_gateway1_call_remove_endpoint_sync,
				     args[0],
				     "removed",
				     g_strdup_printf(_("Endpoint %s removed."), args[0]));
}

static gint
pal_ctl_endpoint_enable(PalDBusGateway1 *proxy, gchar **args, guint n_args)
{
	return pal_ctl_endpoint_call(proxy,
				     pal_dbus_gateway1_call_enable_endpoint_sync,
				     args[0],
				     "enabled",
				     g_strdup_printf(_("Endpoint %s enabled."), args[0]));
}

static gint
pal_ctl_endpoint_disable(PalDBusGateway1 *proxy, gchar **args, guint n_args)
{
	return pal_ctl_endpoint_call(proxy,
				     pal_dbus_gateway1_call_disable_endpoint_sync,
				     args[0],
				     "disabled",
				     g_strdup_printf(_("Endpoint %s disabled."), args[0]));
}

static gint
pal_ctl_reload(PalDBusGateway1 *proxy, gchar **args, guint n_args)
{
	g_autoptr(GError) error = NULL;
	guint loaded = 0;
	guint refused = 0;

	if (!pal_dbus_gateway1_call_reload_sync(proxy, &loaded, &refused, NULL, &error))
		return pal_ctl_fail(error);
	if (opt_json) {
		g_autoptr(JsonObject) obj = json_object_new();
		json_object_set_int_member(obj, "loaded", loaded);
		json_object_set_int_member(obj, "refused", refused);
		pal_ctl_print_json_object(obj);
	} else {
		g_print(_("Reloaded: %u endpoint(s) in service, %u refused (see the log).\n"), loaded, refused);
	}
	return PAL_CTL_EXIT_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* plugins */

static gint
pal_ctl_plugins(PalDBusGateway1 *proxy, gchar **args, guint n_args)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) plugins = NULL;
	g_autoptr(GVariant) refused = NULL;
	GVariantIter iter;
	const gchar *name;
	g_autofree const gchar **kinds = NULL;
	const gchar *version;
	const gchar *license;
	const gchar *path;
	const gchar *reason;

	if (!pal_dbus_gateway1_call_list_plugins_sync(proxy, &plugins, &refused, NULL, &error))
		return pal_ctl_fail(error);
	if (opt_json) {
		g_autoptr(JsonObject) obj = json_object_new();
		JsonArray *loaded = json_array_new();
		JsonArray *bad = json_array_new();

		g_variant_iter_init(&iter, plugins);
		while (g_variant_iter_next(&iter, "(&s^a&s&s&s&s)", &name, &kinds, &version, &license, &path)) {
			JsonObject *p = json_object_new();
			JsonArray *k = json_array_new();

			for (guint i = 0; kinds[i] != NULL; i++)
				json_array_add_string_element(k, kinds[i]);
			g_clear_pointer(&kinds, g_free);
			json_object_set_string_member(p, "name", name);
			json_object_set_array_member(p, "kinds", k);
			json_object_set_string_member(p, "version", version);
			json_object_set_string_member(p, "license", license);
			json_object_set_string_member(p, "path", path);
			json_array_add_object_element(loaded, p);
		}
		g_variant_iter_init(&iter, refused);
		while (g_variant_iter_next(&iter, "(&s&s)", &path, &reason)) {
			JsonObject *r = json_object_new();
			json_object_set_string_member(r, "path", path);
			json_object_set_string_member(r, "reason", reason);
			json_array_add_object_element(bad, r);
		}
		json_object_set_array_member(obj, "plugins", loaded);
		json_object_set_array_member(obj, "refused", bad);
		pal_ctl_print_json_object(obj);
		return PAL_CTL_EXIT_OK;
	}
	{
		g_autoptr(PalCtlTable) t = pal_ctl_table_new(4, _("NAME"), _("KINDS"), _("VERSION"), _("FILE"));

		g_variant_iter_init(&iter, plugins);
		while (g_variant_iter_next(&iter, "(&s^a&s&s&s&s)", &name, &kinds, &version, &license, &path)) {
			pal_ctl_table_add(t, g_strdup(name), g_strjoinv(", ", (gchar **)kinds), g_strdup(version), g_strdup(path));
			g_clear_pointer(&kinds, g_free);
		}
		pal_ctl_table_print(t);
	}
	if (g_variant_n_children(refused) > 0) {
		g_autoptr(PalCtlTable) t = pal_ctl_table_new(2, _("REFUSED FILE"), _("REASON"));

		g_print("\n");
		g_variant_iter_init(&iter, refused);
		while (g_variant_iter_next(&iter, "(&s&s)", &path, &reason))
			pal_ctl_table_add(t, g_strdup(path), g_strdup(reason));
		pal_ctl_table_print(t);
	}
	return PAL_CTL_EXIT_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* sessions */

static gchar *opt_endpoint = NULL;
static gchar *opt_user = NULL;
static gchar *opt_session_id = NULL;
static gint opt_offset = 0;
static gint opt_limit = 0;

static const GOptionEntry pal_ctl_sessions_entries[] = {
    {"endpoint", 'e', 0, G_OPTION_ARG_STRING, &opt_endpoint, N_("Only the sessions of endpoint NAME"), N_("NAME")},
    {"offset", 0, 0, G_OPTION_ARG_INT, &opt_offset, N_("Skip the first N sessions"), N_("N")},
    {"limit", 'n', 0, G_OPTION_ARG_INT, &opt_limit, N_("Show at most N sessions (default 100, at most 1000)"), N_("N")},
    {NULL}};

static gint
pal_ctl_sessions(PalDBusGateway1 *proxy, gchar **args, guint n_args)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *json = NULL;
	guint64 total = 0;
	g_autoptr(JsonNode) node = NULL;
	JsonArray *array;

	if (opt_offset < 0 || opt_limit < 0)
		return pal_ctl_usage("%s", _("--offset and --limit take numbers from 0"));
	if (!pal_dbus_gateway1_call_list_sessions_sync(proxy,
							pal_ctl_opt(opt_endpoint),
							(guint)opt_offset,
							(guint)opt_limit,
							&json,
							&total,
							NULL,
							&error))
		return pal_ctl_fail(error);
	node = pal_ctl_parse_json(json);
	if (node == NULL || !JSON_NODE_HOLDS_ARRAY(node))
		return PAL_CTL_EXIT_DAEMON;
	array = json_node_get_array(node);
	if (opt_json) {
		g_autoptr(JsonObject) obj = json_object_new();
		json_object_set_int_member(obj, "total", (gint64)total);
		json_object_set_int_member(obj, "offset", opt_offset);
		json_object_set_member(obj, "sessions", json_node_copy(node));
		pal_ctl_print_json_object(obj);
		return PAL_CTL_EXIT_OK;
	}
	if (json_array_get_length(array) == 0) {
		g_print(_("No sessions (%llu in all).\n"), (unsigned long long)total);
		return PAL_CTL_EXIT_OK;
	}
	{
		g_autoptr(PalCtlTable) t = pal_ctl_table_new(6,
							     _("ENDPOINT"),
							     _("USER"),
							     _("SESSION"),
							     _("TURNS"),
							     _("HANDOVER"),
							     _("UPDATED"));

		for (guint i = 0; i < json_array_get_length(array); i++) {
			JsonObject *s = json_array_get_object_element(array, i);
			pal_ctl_table_add(t,
					  pal_ctl_member_string(s, "endpoint"),
					  pal_ctl_member_string(s, "userId"),
					  pal_ctl_member_string(s, "sessionId"),
					  pal_ctl_member_string(s, "turns"),
					  pal_ctl_member_string(s, "handover"),
					  pal_ctl_member_string(s, "updatedAt"));
		}
		pal_ctl_table_print(t);
		g_print(_("\n%u to %u of %llu session(s)\n"),
			(guint)opt_offset + 1,
			(guint)opt_offset + json_array_get_length(array),
			(unsigned long long)total);
	}
	return PAL_CTL_EXIT_OK;
}

static gint
pal_ctl_session_show(PalDBusGateway1 *proxy, gchar **args, guint n_args)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *json = NULL;

	if (!pal_dbus_gateway1_call_get_session_sync(proxy, args[0], args[1], args[2], &json, NULL, &error))
		return pal_ctl_fail(error);
	return pal_ctl_print_json_text(json);
}

static gint
pal_ctl_session_reset(PalDBusGateway1 *proxy, gchar **args, guint n_args)
{
	g_autoptr(GError) error = NULL;

	JsonObject *obj;

	if (!pal_dbus_gateway1_call_reset_session_sync(proxy, args[0], args[1], args[2], NULL, &error))
		return pal_ctl_fail(error);
	obj = json_object_new();
	json_object_set_boolean_member(obj, "reset", TRUE);
	return pal_ctl_done(obj, g_strdup(_("Session reset: its next message starts the flow from the beginning.")));
}

/* ---------------------------------------------------------------------------------------- */
/* inject and notify */

static gchar *opt_data = NULL;

static const GOptionEntry pal_ctl_message_entries[] = {
    {"data", 'd', 0, G_OPTION_ARG_STRING, &opt_data, N_("The message's data, a JSON object"), N_("JSON")},
    {NULL}};

static gint
pal_ctl_submit(PalDBusGateway1 *proxy, gchar **args, guint n_args, gboolean notify)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonObject) body = json_object_new();
	g_autoptr(JsonNode) root = json_node_new(JSON_NODE_OBJECT);
	g_autofree gchar *text = NULL;
	g_autofree gchar *input_id = NULL;
	gboolean ok;

	json_object_set_string_member(body, "userId", args[1]);
	json_object_set_string_member(body, "sessionId", args[2]);
	if (n_args > 3)
		json_object_set_string_member(body, "text", args[3]);
	if (opt_data != NULL) {
		g_autoptr(JsonNode) data = json_from_string(opt_data, &error);
		if (data == NULL || !JSON_NODE_HOLDS_OBJECT(data))
			return pal_ctl_usage("%s", _("--data takes a JSON object"));
		json_object_set_member(body, "data", g_steal_pointer(&data));
	}
	if (n_args <= 3 && opt_data == NULL)
		return pal_ctl_usage("%s", _("give a TEXT, --data, or both"));
	json_node_set_object(root, body);
	text = json_to_string(root, FALSE);
	if (notify)
		ok = pal_dbus_gateway1_call_notify_sync(proxy, args[0], text, &input_id, NULL, &error);
	else
		ok = pal_dbus_gateway1_call_inject_sync(proxy, args[0], text, &input_id, NULL, &error);
	if (!ok)
		return pal_ctl_fail(error);
	if (opt_json) {
		g_autoptr(JsonObject) obj = json_object_new();
		json_object_set_string_member(obj, "inputId", input_id);
		pal_ctl_print_json_object(obj);
	} else {
		g_print(notify ? _("Notification accepted: %s\n") : _("Injected message accepted: %s\n"), input_id);
	}
	return PAL_CTL_EXIT_OK;
}

static gint
pal_ctl_inject(PalDBusGateway1 *proxy, gchar **args, guint n_args)
{
	return pal_ctl_submit(proxy, args, n_args, FALSE);
}

static gint
pal_ctl_notify(PalDBusGateway1 *proxy, gchar **args, guint n_args)
{
	return pal_ctl_submit(proxy, args, n_args, TRUE);
}

/* ---------------------------------------------------------------------------------------- */
/* dead letters */

static const GOptionEntry pal_ctl_dead_entries[] = {
    {"endpoint", 'e', 0, G_OPTION_ARG_STRING, &opt_endpoint, N_("Only those of endpoint NAME"), N_("NAME")},
    {"user", 'u', 0, G_OPTION_ARG_STRING, &opt_user, N_("Only those of this userId (with --endpoint and --session-id)"),
     N_("ID")},
    {"session-id", 's', 0, G_OPTION_ARG_STRING, &opt_session_id,
     N_("Only those of this sessionId (with --endpoint and --user)"), N_("ID")},
    {NULL}};

static const GOptionEntry pal_ctl_dead_list_entries[] = {
    {"offset", 0, 0, G_OPTION_ARG_INT, &opt_offset, N_("Skip the first N dead letters"), N_("N")},
    {"limit", 'n', 0, G_OPTION_ARG_INT, &opt_limit, N_("Show at most N dead letters (default: all)"), N_("N")},
    {NULL}};

static gint
pal_ctl_dead_letters(PalDBusGateway1 *proxy, gchar **args, guint n_args)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *json = NULL;
	g_autoptr(JsonNode) node = NULL;
	JsonArray *array;

	if (opt_offset < 0 || opt_limit < 0)
		return pal_ctl_usage("%s", _("--offset and --limit take numbers from 0"));
	if (!pal_dbus_gateway1_call_list_dead_letters_sync(proxy,
							    pal_ctl_opt(opt_endpoint),
							    pal_ctl_opt(opt_user),
							    pal_ctl_opt(opt_session_id),
							    (guint)opt_offset,
							    (guint)opt_limit,
							    &json,
							    NULL,
							    &error))
		return pal_ctl_fail(error);
	node = pal_ctl_parse_json(json);
	if (node == NULL || !JSON_NODE_HOLDS_ARRAY(node))
		return PAL_CTL_EXIT_DAEMON;
	if (opt_json) {
		pal_ctl_print_json(node);
		return PAL_CTL_EXIT_OK;
	}
	array = json_node_get_array(node);
	if (json_array_get_length(array) == 0) {
		g_print("%s\n", _("No dead letters."));
		return PAL_CTL_EXIT_OK;
	}
	{
		g_autoptr(PalCtlTable) t = pal_ctl_table_new(8,
							     _("ID"),
							     _("ENDPOINT"),
							     _("USER"),
							     _("SESSION"),
							     _("SEQ"),
							     _("FAILED"),
							     _("STATUS"),
							     _("REASON"));

		for (guint i = 0; i < json_array_get_length(array); i++) {
			JsonObject *d = json_array_get_object_element(array, i);
			pal_ctl_table_add(t,
					  pal_ctl_member_string(d, "id"),
					  pal_ctl_member_string(d, "endpoint"),
					  pal_ctl_member_string(d, "userId"),
					  pal_ctl_member_string(d, "sessionId"),
					  pal_ctl_member_string(d, "sessionSeq"),
					  pal_ctl_member_string(d, "failedAt"),
					  pal_ctl_member_string(d, "lastStatus"),
					  pal_ctl_member_string(d, "reason"));
		}
		pal_ctl_table_print(t);
		g_print(ngettext("\n%u dead letter\n", "\n%u dead letters\n", json_array_get_length(array)),
			json_array_get_length(array));
	}
	return PAL_CTL_EXIT_OK;
}

/* @sentence taken */
static gint
pal_ctl_dead_count(guint count, const gchar *member, gchar *sentence)
{
	JsonObject *obj = json_object_new();

	json_object_set_int_member(obj, member, count);
	return pal_ctl_done(obj, sentence);
}

/* PurgeDeadLetters and ReplayDeadLetters: (sss) → (u) */
typedef gboolean (*PalCtlDeadCall)(PalDBusGateway1 *proxy,
				   const gchar *endpoint,
				   const gchar *user_id,
				   const gchar *session_id,
				   guint *count,
				   GCancellable *cancellable,
				   GError **error);

/* @call with the filter of --endpoint, --user and --session-id */
static gboolean
pal_ctl_dead_call(PalDBusGateway1 *proxy, PalCtlDeadCall call, guint *count, GError **error)
{
	return call(proxy,
		    pal_ctl_opt(opt_endpoint),
		    pal_ctl_opt(opt_user),
		    pal_ctl_opt(opt_session_id),
		    count,
		    NULL,
		    error);
}

static gint
pal_ctl_dead_letters_purge(PalDBusGateway1 *proxy, gchar **args, guint n_args)
{
	g_autoptr(GError) error = NULL;
	guint count = 0;

	if (!pal_ctl_dead_call(proxy, pal_dbus_gateway1_call_purge_dead_letters_sync, &count, &error))
		return pal_ctl_fail(error);
	return pal_ctl_dead_count(count, "purged", g_strdup_printf(ngettext("%u dead letter purged.", "%u dead letters purged.", count), count));
}

static gint
pal_ctl_replay(PalDBusGateway1 *proxy, gchar **args, guint n_args)
{
	g_autoptr(GError) error = NULL;
	guint count = 0;

	if (!pal_ctl_dead_call(proxy, pal_dbus_gateway1_call_replay_dead_letters_sync, &count, &error))
		return pal_ctl_fail(error);
	return pal_ctl_dead_count(count,
				  "replayed",
				  g_strdup_printf(ngettext("%u dead letter replayed: it is being delivered again.",
						   "%u dead letters replayed: they are being delivered again.",
						   count),
					  count));
}

/* ---------------------------------------------------------------------------------------- */
/* log level */

static gint
pal_ctl_log_level(PalDBusGateway1 *proxy, gchar **args, guint n_args)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *level = NULL;
	JsonObject *obj;

	if (n_args == 1 && !pal_dbus_gateway1_call_set_log_level_sync(proxy, args[0], NULL, &error))
		return pal_ctl_fail(error);
	if (!pal_dbus_gateway1_call_get_log_level_sync(proxy, &level, NULL, &error))
		return pal_ctl_fail(error);
	obj = json_object_new();
	json_object_set_string_member(obj, "level", level);
	return pal_ctl_done(obj, g_steal_pointer(&level));
}

/* ---------------------------------------------------------------------------------------- */
/* monitor */

static gint opt_count = 0;

static const GOptionEntry pal_ctl_monitor_entries[] = {
    {"count", 'c', 0, G_OPTION_ARG_INT, &opt_count, N_("Stop after N events (default: run until interrupted)"),
     N_("N")},
    {NULL}};

typedef struct {
	GMainLoop *loop;
	gint seen;
	gint status;
} PalCtlMonitor;

static void
pal_ctl_monitor_event(PalCtlMonitor *mon, JsonObject *event, const gchar *line)
{
	if (opt_json) {
		g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
		g_autofree gchar *text = NULL;

		json_object_set_int_member(event, "time", g_get_real_time() / G_USEC_PER_SEC);
		json_node_set_object(node, event);
		text = json_to_string(node, FALSE);
		g_print("%s\n", text);
	} else {
		g_autoptr(GDateTime) now = g_date_time_new_now_local();
		g_autofree gchar *when = g_date_time_format(now, "%T");
		g_autofree gchar *shown = pal_printable(line, FALSE);
		g_print("%s %s\n", when, shown);
	}
	fflush(stdout);
	if (opt_count > 0 && ++mon->seen >= opt_count)
		g_main_loop_quit(mon->loop);
}

static void
pal_ctl_monitor_endpoint_cb(PalDBusGateway1 *proxy, const gchar *name, const gchar *change, PalCtlMonitor *mon)
{
	g_autoptr(JsonObject) event = json_object_new();
	g_autofree gchar *line = NULL;

	json_object_set_string_member(event, "signal", "EndpointChanged");
	json_object_set_string_member(event, "name", name);
	json_object_set_string_member(event, "change", change);
	line = name[0] != '\0' ? g_strdup_printf(_("endpoint %s: %s"), name, change)
			       : g_strdup_printf(_("endpoints: %s"), change);
	pal_ctl_monitor_event(mon, event, line);
}

static void
pal_ctl_monitor_delivery_cb(PalDBusGateway1 *proxy,
			    const gchar *endpoint,
			    const gchar *user_id,
			    const gchar *session_id,
			    const gchar *webhook_id,
			    const gchar *reason,
			    gint status,
			    PalCtlMonitor *mon)
{
	g_autoptr(JsonObject) event = json_object_new();
	g_autofree gchar *line = NULL;

	json_object_set_string_member(event, "signal", "DeliveryFailed");
	json_object_set_string_member(event, "endpoint", endpoint);
	json_object_set_string_member(event, "userId", user_id);
	json_object_set_string_member(event, "sessionId", session_id);
	json_object_set_string_member(event, "webhookId", webhook_id);
	json_object_set_string_member(event, "reason", reason);
	json_object_set_int_member(event, "status", status);
	line = g_strdup_printf(_("delivery failed: endpoint %s, user %s, session %s, %s: %s"),
			       endpoint,
			       user_id,
			       session_id,
			       webhook_id,
			       reason);
	pal_ctl_monitor_event(mon, event, line);
}

static void
pal_ctl_monitor_handover_cb(PalDBusGateway1 *proxy,
			    const gchar *endpoint,
			    const gchar *user_id,
			    const gchar *session_id,
			    gboolean active,
			    PalCtlMonitor *mon)
{
	g_autoptr(JsonObject) event = json_object_new();
	g_autofree gchar *line = NULL;

	json_object_set_string_member(event, "signal", "HandoverChanged");
	json_object_set_string_member(event, "endpoint", endpoint);
	json_object_set_string_member(event, "userId", user_id);
	json_object_set_string_member(event, "sessionId", session_id);
	json_object_set_boolean_member(event, "active", active);
	line = g_strdup_printf(active ? _("handover started: endpoint %s, user %s, session %s")
				      : _("handover ended: endpoint %s, user %s, session %s"),
			       endpoint,
			       user_id,
			       session_id);
	pal_ctl_monitor_event(mon, event, line);
}

static void
pal_ctl_monitor_owner_cb(GObject *proxy, GParamSpec *pspec, PalCtlMonitor *mon)
{
	g_autofree gchar *owner = g_dbus_proxy_get_name_owner(G_DBUS_PROXY(proxy));
	g_autoptr(JsonObject) event = json_object_new();

	json_object_set_string_member(event, "signal", owner != NULL ? "Started" : "Stopped");
	pal_ctl_monitor_event(mon, event, owner != NULL ? _("palaverd started") : _("palaverd stopped"));
}

static gboolean
pal_ctl_monitor_interrupt_cb(gpointer data)
{
	PalCtlMonitor *mon = data;
	g_main_loop_quit(mon->loop);
	return G_SOURCE_REMOVE;
}

static gint
pal_ctl_monitor(PalDBusGateway1 *proxy, gchar **args, guint n_args)
{
	PalCtlMonitor mon = {0};
	g_autofree gchar *owner = g_dbus_proxy_get_name_owner(G_DBUS_PROXY(proxy));

	if (owner == NULL) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *level = NULL;

		/* a call tells why (not running, not activatable) and may start it */
		if (!pal_dbus_gateway1_call_get_log_level_sync(proxy, &level, NULL, &error))
			return pal_ctl_fail(error);
	}
	mon.loop = g_main_loop_new(NULL, FALSE);
	g_signal_connect(proxy, "endpoint-changed", G_CALLBACK(pal_ctl_monitor_endpoint_cb), &mon);
	g_signal_connect(proxy, "delivery-failed", G_CALLBACK(pal_ctl_monitor_delivery_cb), &mon);
	g_signal_connect(proxy, "handover-changed", G_CALLBACK(pal_ctl_monitor_handover_cb), &mon);
	g_signal_connect(proxy, "notify::g-name-owner", G_CALLBACK(pal_ctl_monitor_owner_cb), &mon);
	g_unix_signal_add(SIGINT, pal_ctl_monitor_interrupt_cb, &mon);
	g_unix_signal_add(SIGTERM, pal_ctl_monitor_interrupt_cb, &mon);
	if (!opt_json) {
		g_printerr("%s\n", _("Waiting for events from palaverd (Ctrl-C to stop)…"));
	} else {
		/* scripts know when the subscription is in place */
		g_print("{\"signal\":\"Monitoring\"}\n");
		fflush(stdout);
	}
	g_main_loop_run(mon.loop);
	g_signal_handlers_disconnect_by_data(proxy, &mon);
	g_main_loop_unref(mon.loop);
	return mon.status;
}

/* ---------------------------------------------------------------------------------------- */
/* the command table */

static const PalCtlCommand pal_ctl_commands[] = {
    {"status", "", N_("Show palaverd's version, listeners and statistics per endpoint"), NULL, 0, 0, NULL,
     pal_ctl_status},
    {"endpoints", "", N_("List the endpoints in service"), NULL, 0, 0, pal_ctl_endpoints_entries,
     pal_ctl_endpoints},
    {"endpoint show", N_("NAME"), N_("Show an endpoint as JSON, secrets as ***"), NULL, 1, 1, NULL,
     pal_ctl_endpoint_show},
    {"endpoint add", N_("FILE|-|JSON"), N_("Add an endpoint; it is stored and survives restarts"),
     N_("The endpoint is JSON as in an endpoints.d file, read from FILE, from standard input (-) or "
	"given as the argument itself. It is validated like a file (errors name the JSON path) and in "
	"service at once. Relative paths resolve against palaverd's data folder."),
     1, 1, NULL, pal_ctl_endpoint_add},
    {"endpoint edit", N_("NAME FILE|-|JSON"), N_("Change an endpoint added with “endpoint add”"),
     N_("The JSON is a merge patch (RFC 7396): its members replace the endpoint's, null removes one. "
	"With --replace it is the whole new endpoint. A string \"***\" (as “endpoint show” shows secrets) "
	"keeps the value there. Endpoints from files are changed in their file."),
     2, 2, pal_ctl_edit_entries, pal_ctl_endpoint_edit},
    {"endpoint remove", N_("NAME"), N_("Remove an endpoint added with “endpoint add”"), NULL, 1, 1, NULL,
     pal_ctl_endpoint_remove},
    {"endpoint enable", N_("NAME"), N_("Enable an endpoint (remembered across restarts)"), NULL, 1, 1, NULL,
     pal_ctl_endpoint_enable},
    {"endpoint disable", N_("NAME"), N_("Disable an endpoint (remembered across restarts)"),
     N_("New messages get 403 endpoint_disabled; messages accepted before are still delivered. For an "
	"endpoint from a file, the state is kept by palaverd until you enable it again."),
     1, 1, NULL, pal_ctl_endpoint_disable},
    {"sessions", "", N_("List stored sessions, most recently active first"), NULL, 0, 0, pal_ctl_sessions_entries,
     pal_ctl_sessions},
    {"session show", N_("ENDPOINT USER SESSION"), N_("Show a session's state as JSON"), NULL, 3, 3, NULL,
     pal_ctl_session_show},
    {"session reset", N_("ENDPOINT USER SESSION"), N_("Start a session over at the flow's beginning"),
     N_("Its context, entry point and handover are cleared, after the messages it has waiting; the "
	"user's contact profile stays."),
     3, 3, NULL, pal_ctl_session_reset},
    {"inject", N_("ENDPOINT USER SESSION [TEXT]"), N_("Run the flow for a session as if the user had written"),
     NULL, 3, 4, pal_ctl_message_entries, pal_ctl_inject},
    {"notify", N_("ENDPOINT USER SESSION [TEXT]"), N_("Send a message straight to the user, without the flow"),
     NULL, 3, 4, pal_ctl_message_entries, pal_ctl_notify},
    {"dead-letters", "", N_("List the outputs that were given up"), N_("“dead-letters list” is the same."), 0, 0,
     NULL, pal_ctl_dead_letters},
    {"dead-letters purge", "", N_("Delete dead letters for good"), NULL, 0, 0, NULL, pal_ctl_dead_letters_purge},
    {"replay", "", N_("Deliver dead letters again, in their order per session"), NULL, 0, 0, NULL, pal_ctl_replay},
    {"plugins", "", N_("List the loaded plugins and the refused plugin files"), NULL, 0, 0, NULL, pal_ctl_plugins},
    {"reload", "", N_("Re-read the endpoint files (like SIGHUP)"), NULL, 0, 0, NULL, pal_ctl_reload},
    {"log-level", N_("[LEVEL]"), N_("Show or set palaverd's log level"),
     N_("LEVEL is error, critical, warning, message, info or debug."), 0, 1, NULL, pal_ctl_log_level},
    {"monitor", "", N_("Print palaverd's signals as they happen"),
     N_("Endpoint changes, failed deliveries and handovers, until interrupted; with --json one JSON "
	"object per line, the first {\"signal\":\"Monitoring\"} once listening."),
     0, 0, pal_ctl_monitor_entries, pal_ctl_monitor},
};

/* the command named by the first words of @argv (after the program name): the longest match */
static const PalCtlCommand *
pal_ctl_find_command(gint argc, gchar **argv, guint *n_words)
{
	const PalCtlCommand *best = NULL;

	*n_words = 0;
	for (guint i = 0; i < G_N_ELEMENTS(pal_ctl_commands); i++) {
		g_auto(GStrv) words = g_strsplit(pal_ctl_commands[i].name, " ", -1);
		guint n = g_strv_length(words);
		gboolean match = (guint)argc > n;

		for (guint w = 0; match && w < n; w++)
			match = g_strcmp0(argv[1 + w], words[w]) == 0;
		if (match && n > *n_words) {
			best = &pal_ctl_commands[i];
			*n_words = n;
		}
	}
	/* "dead-letters list" is "dead-letters" */
	if (best != NULL && g_strcmp0(best->name, "dead-letters") == 0 && (guint)argc > 2 &&
	    g_strcmp0(argv[2], "list") == 0)
		*n_words = 2;
	return best;
}

static gchar *
pal_ctl_commands_help(void)
{
	GString *str = g_string_new(_("Commands:"));

	g_string_append_c(str, '\n');
	for (guint i = 0; i < G_N_ELEMENTS(pal_ctl_commands); i++) {
		g_autofree gchar *synopsis = g_strdup_printf("%s %s",
							     pal_ctl_commands[i].name,
							     pal_ctl_commands[i].params[0] != '\0'
								 ? _(pal_ctl_commands[i].params)
								 : "");
		g_string_append_printf(str, "  %-36s %s\n", g_strstrip(synopsis), _(pal_ctl_commands[i].summary));
	}
	g_string_append(str,
			_("\n“palaverctl COMMAND --help” describes a command and its options.\n"
			  "Exit status: 0 success, 1 palaverd refused or failed the request, 2 wrong usage,\n"
			  "3 palaverd cannot be reached."));
	return g_string_free(str, FALSE);
}

static GDBusConnection *
pal_ctl_connect(GError **error)
{
	if (opt_address != NULL)
		return g_dbus_connection_new_for_address_sync(opt_address,
							      G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
								  G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
							      NULL,
							      NULL,
							      error);
	return g_bus_get_sync(opt_session ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM, NULL, error);
}

int
main(int argc, char *argv[])
{
	g_autoptr(GOptionContext) ctx = NULL;
	g_autoptr(GOptionContext) cmd_ctx = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GDBusConnection) connection = NULL;
	g_autoptr(PalDBusGateway1) proxy = NULL;
	g_autofree gchar *commands = NULL;
	g_autofree gchar *cmd_params = NULL;
	const PalCtlCommand *cmd;
	gboolean version = FALSE;
	guint n_words = 0;
	gint cmd_argc;
	gchar **cmd_argv;
	const GOptionEntry main_entries[] = {
	    {"version", 0, 0, G_OPTION_ARG_NONE, &version, N_("Print the version and exit"), NULL},
	    {NULL}};

	setlocale(LC_ALL, "");
	bindtextdomain(GETTEXT_PACKAGE, PAL_LOCALEDIR);
	bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
	textdomain(GETTEXT_PACKAGE);
	pal_dbus_error_register();

	/* the options before the command; the command's own come after it */
	ctx = g_option_context_new(_("COMMAND [ARGUMENTS…]"));
	g_option_context_set_summary(ctx, _("Control a running palaverd over D-Bus."));
	commands = pal_ctl_commands_help();
	g_option_context_set_description(ctx, commands);
	g_option_context_set_strict_posix(ctx, TRUE);
	g_option_context_add_main_entries(ctx, main_entries, GETTEXT_PACKAGE);
	g_option_context_add_main_entries(ctx, pal_ctl_global_entries, GETTEXT_PACKAGE);
	if (!g_option_context_parse(ctx, &argc, &argv, &error))
		return pal_ctl_usage("%s", error->message);
	if (version) {
		g_print("palaverctl %s\n", PACKAGE_VERSION);
		return PAL_CTL_EXIT_OK;
	}
	if (argc < 2)
		return pal_ctl_usage("%s", _("no command given"));
	cmd = pal_ctl_find_command(argc, argv, &n_words);
	if (cmd == NULL && (g_strcmp0(argv[1], "endpoint") == 0 || g_strcmp0(argv[1], "session") == 0)) {
		return pal_ctl_usage(_("“%s” needs a subcommand: %s"),
				     argv[1],
				     g_strcmp0(argv[1], "endpoint") == 0 ? "show, add, edit, remove, enable, disable"
									: "show, reset");
	}
	if (cmd == NULL)
		return pal_ctl_usage(_("unknown command “%s”"), argv[1]);

	/* the command's options and --help: its words count as the program name */
	cmd_params = cmd->params[0] != '\0' ? g_strdup(_(cmd->params)) : NULL;
	cmd_ctx = g_option_context_new(cmd_params);
	g_option_context_set_summary(cmd_ctx, _(cmd->summary));
	if (cmd->details != NULL)
		g_option_context_set_description(cmd_ctx, _(cmd->details));
	if (cmd->entries != NULL)
		g_option_context_add_main_entries(cmd_ctx, cmd->entries, GETTEXT_PACKAGE);
	if (cmd->func == pal_ctl_dead_letters || cmd->func == pal_ctl_dead_letters_purge ||
	    cmd->func == pal_ctl_replay) {
		g_option_context_add_main_entries(cmd_ctx, pal_ctl_dead_entries, GETTEXT_PACKAGE);
		if (cmd->func == pal_ctl_dead_letters)
			g_option_context_add_main_entries(cmd_ctx, pal_ctl_dead_list_entries, GETTEXT_PACKAGE);
	}
	g_option_context_add_main_entries(cmd_ctx, pal_ctl_global_entries, GETTEXT_PACKAGE);
	{
		g_autofree gchar *prgname = g_strdup_printf("palaverctl %s", cmd->name);
		g_set_prgname(prgname);
	}
	cmd_argc = argc - (gint)n_words;
	cmd_argv = argv + n_words;
	if (!g_option_context_parse(cmd_ctx, &cmd_argc, &cmd_argv, &error))
		return pal_ctl_usage("%s", error->message);
	if ((guint)(cmd_argc - 1) < cmd->min_args || (guint)(cmd_argc - 1) > cmd->max_args) {
		return pal_ctl_usage(_("“%s” takes %s"),
				     cmd->name,
				     cmd->params[0] != '\0' ? _(cmd->params) : _("no arguments"));
	}
	if (opt_system && (opt_session || opt_address != NULL))
		return pal_ctl_usage("%s", _("--system, --session and --address exclude each other"));

	connection = pal_ctl_connect(&error);
	if (connection == NULL) {
		g_printerr(_("palaverctl: cannot connect to the bus: %s\n"), error->message);
		return PAL_CTL_EXIT_CONNECTION;
	}
	proxy = pal_dbus_gateway1_proxy_new_sync(connection,
						 G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES,
						 PAL_CTL_BUS_NAME,
						 PAL_CTL_PATH,
						 NULL,
						 &error);
	if (proxy == NULL) {
		g_printerr(_("palaverctl: cannot reach palaverd: %s\n"), error->message);
		return PAL_CTL_EXIT_CONNECTION;
	}
	return cmd->func(proxy, cmd_argv + 1, (guint)(cmd_argc - 1));
}
