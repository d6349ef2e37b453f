/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <locale.h>
#include <stdio.h>

#include "pal-config.h"
#include "pal-daemon.h"
#include "pal-dbus-service.h"
#include "pal-plugin-registry.h"

typedef struct {
	GMainLoop *loop;
	PalDaemon *daemon;
	GPtrArray *bound;
	guint shutdown_timeout;
	gboolean stopping;
	gboolean announced; /* "ready" printed */
	gint exit_code;
} PalMain;

/* the start-up contract tests and scripts rely on: one line per listener, then "ready" (with
 * a bus: once the control interface's name is owned) */
static void
pal_main_announce(PalMain *m)
{
	if (m->announced)
		return;
	m->announced = TRUE;
	for (guint i = 0; i < m->bound->len; i++) {
		g_message("listening on %s", (const gchar *)g_ptr_array_index(m->bound, i));
		g_print("listening: %s\n", (const gchar *)g_ptr_array_index(m->bound, i));
	}
	g_print("ready\n");
	fflush(stdout);
}

static void
pal_main_shutdown_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	PalMain *m = user_data;
	g_autoptr(GError) error = NULL;

	if (!pal_daemon_shutdown_finish(PAL_DAEMON(source), res, &error)) {
		g_printerr("palaverd: %s\n", error->message);
		m->exit_code = 1;
	}
	g_message("stopped");
	g_main_loop_quit(m->loop);
}

static void
pal_main_stop(PalMain *m)
{
	if (m->stopping)
		return;
	m->stopping = TRUE;
	g_message("stopping: no new messages, finishing accepted work (up to %u s)",
		  m->shutdown_timeout);
	pal_daemon_shutdown_async(m->daemon, m->shutdown_timeout, pal_main_shutdown_cb, m);
}

static gboolean
pal_main_sigterm_cb(gpointer user_data)
{
	PalMain *m = user_data;

	if (m->stopping) {
		g_message("second stop signal: exiting without waiting");
		m->exit_code = 1;
		g_main_loop_quit(m->loop);
		return G_SOURCE_CONTINUE;
	}
	pal_main_stop(m);
	return G_SOURCE_CONTINUE;
}

static void
pal_main_name_acquired_cb(PalDBusService *service, const GError *error, gpointer user_data)
{
	pal_main_announce(user_data);
}

/* the control interface is gone (systemd's Type=dbus would not see us any more): stop like
 * on SIGTERM, and fail */
static void
pal_main_name_lost_cb(PalDBusService *service, const GError *error, gpointer user_data)
{
	PalMain *m = user_data;

	g_printerr("palaverd: %s\n", error->message);
	m->exit_code = 1;
	pal_main_stop(m);
}

static gboolean
pal_main_sighup_cb(gpointer user_data)
{
	PalMain *m = user_data;
	g_autoptr(GError) error = NULL;

	if (m->stopping)
		return G_SOURCE_CONTINUE;
	if (!pal_daemon_reload(m->daemon, &error))
		g_message("reload failed, keeping the previous endpoints: %s", error->message);
	return G_SOURCE_CONTINUE;
}

int
main(int argc, char *argv[])
{
	g_autoptr(GOptionContext) ctx = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(PalConfig) config = NULL;
	g_autoptr(PalPluginRegistry) registry = NULL;
	g_autoptr(PalDaemon) daemon = NULL;
	g_autoptr(GPtrArray) bound = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *config_path = NULL;
	g_autofree gchar *plugin_dir = NULL;
	gboolean no_permission_check = FALSE;
	gboolean list_plugins = FALSE;
	gboolean check_config = FALSE;
	gboolean version = FALSE;
	gboolean verbose = FALSE;
	gboolean session_bus = FALSE;
	g_autoptr(PalDBusService) service = NULL;
	PalBusType bus;
	const gchar *plugin_path;
	PalMain m = {0};
	const GOptionEntry entries[] = {
	    {"config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
	     N_("Configuration file (default: " PAL_SYSCONFDIR "/palaver.conf, or built-in defaults when it does not exist)"), N_("FILE")},
	    {"plugin-dir", 0, 0, G_OPTION_ARG_FILENAME, &plugin_dir,
	     N_("Load plugins from DIR instead of the configured or installed directory"), N_("DIR")},
	    {"no-plugin-permission-check", 0, 0, G_OPTION_ARG_NONE, &no_permission_check,
	     N_("Load plugins not owned by root or writable by others (development and tests only)"), NULL},
	    {"list-plugins", 0, 0, G_OPTION_ARG_NONE, &list_plugins,
	     N_("Print the plugins that load and the ones refused, with the reason, and exit"), NULL},
	    {"check-config", 0, 0, G_OPTION_ARG_NONE, &check_config,
	     N_("Check the configuration and endpoints, print what is wrong, and exit"), NULL},
	    {"session", 0, 0, G_OPTION_ARG_NONE, &session_bus,
	     N_("Own the control interface on the session bus instead of the configured one (development and tests)"), NULL},
	    {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, N_("Print debug messages"), NULL},
	    {"version", 0, 0, G_OPTION_ARG_NONE, &version, N_("Print the version and exit"), NULL},
	    {NULL}};

	setlocale(LC_ALL, "");
	bindtextdomain(GETTEXT_PACKAGE, PAL_LOCALEDIR);
	bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
	textdomain(GETTEXT_PACKAGE);

	ctx = g_option_context_new(NULL);
	g_option_context_set_summary(ctx, _("Palaver conversational webhook gateway daemon"));
	g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		g_printerr("palaverd: %s\n", error->message);
		return 2;
	}
	if (version) {
		g_print("palaverd %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (verbose)
		g_setenv("G_MESSAGES_DEBUG", "all", TRUE);
	/* SetLogLevel over D-Bus changes what this writer lets through */
	pal_daemon_install_log_writer(verbose || g_getenv("G_MESSAGES_DEBUG") != NULL);

	if (config_path == NULL && g_file_test(PAL_SYSCONFDIR "/palaver.conf", G_FILE_TEST_EXISTS))
		config_path = g_strdup(PAL_SYSCONFDIR "/palaver.conf");
	config = config_path != NULL ? pal_config_load(config_path, &error) : pal_config_new_default();
	if (config == NULL) {
		g_printerr("palaverd: %s\n", error->message);
		return 1;
	}

	registry = pal_plugin_registry_new();
	if (no_permission_check)
		pal_plugin_registry_set_check_permissions(registry, FALSE);
	plugin_path = plugin_dir != NULL ? plugin_dir : g_getenv("PALAVER_PLUGIN_PATH");
	if (plugin_path == NULL)
		plugin_path = pal_config_get_plugins_dir(config);
	if (plugin_path == NULL)
		plugin_path = PAL_PLUGINDIR;
	if (!pal_plugin_registry_load_directory(registry, plugin_path, &error)) {
		g_printerr("palaverd: plugin directory %s: %s\n", plugin_path, error->message);
		if (list_plugins)
			return 1;
		g_clear_error(&error);
	}
	if (list_plugins) {
		g_autofree gchar *text = pal_plugin_registry_describe(registry);
		g_print("%s", text);
		return 0;
	}

	daemon = pal_daemon_new(config, registry);
	if (check_config) {
		/* --check-config loads endpoints the same way the daemon does, without listening */
		g_autoptr(PalEndpointSet) loaded = NULL;
		g_autoptr(GPtrArray) all = NULL;
		guint refused;

		if (!pal_daemon_reload(daemon, &error)) {
			g_printerr("palaverd: %s\n", error->message);
			return 1;
		}
		loaded = pal_daemon_dup_endpoints(daemon);
		all = pal_endpoint_set_get_all(loaded);
		refused = pal_daemon_get_n_refused_endpoints(daemon);
		g_print(_("%u endpoint(s) loaded, %u refused\n"), all->len, refused);
		return refused > 0 ? 1 : 0;
	}
	if (!pal_daemon_start(daemon, bound, &error)) {
		g_printerr("palaverd: %s\n", error->message);
		return 1;
	}

	m.loop = g_main_loop_new(NULL, FALSE);
	m.daemon = daemon;
	m.bound = bound;
	m.shutdown_timeout = pal_config_get_shutdown_timeout(config);
	g_unix_signal_add(SIGTERM, pal_main_sigterm_cb, &m);
	g_unix_signal_add(SIGINT, pal_main_sigterm_cb, &m);
	g_unix_signal_add(SIGHUP, pal_main_sighup_cb, &m);

	/* the control interface, on the main thread (DESIGN.md §5); none at all with Bus=none,
	 * and HTTP works the same either way */
	bus = session_bus ? PAL_BUS_SESSION : pal_config_get_bus(config);
	if (bus != PAL_BUS_NONE) {
		service = pal_dbus_service_new(daemon);
		pal_dbus_service_own(service,
				     bus == PAL_BUS_SESSION ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM,
				     pal_main_name_acquired_cb,
				     pal_main_name_lost_cb,
				     &m);
	} else {
		pal_main_announce(&m);
	}

	g_main_loop_run(m.loop);
	if (service != NULL)
		pal_dbus_service_unown(service);
	g_main_loop_unref(m.loop);
	return m.exit_code;
}
