/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "pal-config.h"
#include "pal-tool-common.h"
#include "pal-util.h"

/* the exit status of a usage error, in every subcommand */
#define PAL_TOOL_COMMON_EXIT_USAGE 2

void
pal_tool_plugins_clear(PalToolPlugins *opts)
{
	g_clear_pointer(&opts->plugin_dir, g_free);
	g_clear_pointer(&opts->config_path, g_free);
}

/* the plugin options: --plugin-dir, --no-plugin-permission-check, --config (described by
 * @config_description, an N_() string) and --verbose; added after the command's own options
 * (the entries are copied), @opts must outlive the parse */
void
pal_tool_plugins_add_entries(GOptionContext *context,
			     PalToolPlugins *opts,
			     const gchar *config_description)
{
	const GOptionEntry entries[] = {
	    {"plugin-dir",
	     0,
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_FILENAME,
	     &opts->plugin_dir,
	     N_("Load plugins from DIR (default: $PALAVER_PLUGIN_PATH, else [Plugins] Directory "
		"of palaver.conf, else the installed directory)"),
	     N_("DIR")},
	    {"no-plugin-permission-check",
	     0,
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_NONE,
	     &opts->no_permission_check,
	     N_("Load plugins not owned by root or writable by others (a build tree)"),
	     NULL},
	    {"config",
	     'c',
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_FILENAME,
	     &opts->config_path,
	     config_description,
	     N_("FILE")},
	    {"verbose",
	     'v',
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_NONE,
	     &opts->verbose,
	     N_("Print debug messages of the gateway and the plugins"),
	     NULL},
	    {NULL},
	};

	g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
}

void
pal_tool_env_clear(PalToolEnv *env)
{
	g_clear_object(&env->registry);
	g_clear_pointer(&env->plugin_path, g_free);
	g_clear_pointer(&env->data_dir, g_free);
}

/* the registry with every plugin of the directory palaverd would use (--plugin-dir, else
 * $PALAVER_PLUGIN_PATH, else [Plugins] Directory of palaver.conf, else the installed
 * directory). FALSE when an explicitly given palaver.conf cannot be loaded, and with
 * PAL_TOOL_ENV_FLAG_REQUIRE_PLUGIN_DIR when the directory cannot be read; without that flag an
 * unreadable directory is printed as "palaver-tool @command: …" (it is reported again, more
 * usefully, when the plugin that is needed is missing) */
gboolean
pal_tool_env_init(PalToolEnv *env,
		  PalToolPlugins *opts,
		  const gchar *command,
		  PalToolEnvFlags flags,
		  GError **error)
{
	g_autoptr(PalConfig) config = NULL;
	g_autoptr(GError) error_local = NULL;
	const gchar *plugin_path = opts->plugin_dir;

	if (opts->verbose)
		g_setenv("G_MESSAGES_DEBUG", "all", TRUE);
	if (opts->config_path != NULL) {
		config = pal_config_load(opts->config_path, error);
		if (config == NULL)
			return FALSE;
	} else if ((flags & PAL_TOOL_ENV_FLAG_SYSTEM_CONFIG) != 0 &&
		   g_file_test(PAL_SYSCONFDIR "/palaver.conf", G_FILE_TEST_EXISTS)) {
		/* a broken system configuration does not stop a flow author */
		config = pal_config_load(PAL_SYSCONFDIR "/palaver.conf", &error_local);
		if (config == NULL) {
			g_printerr(_("palaver-tool %s: ignoring %s: %s\n"),
				   command,
				   PAL_SYSCONFDIR "/palaver.conf",
				   error_local->message);
			g_clear_error(&error_local);
		}
	}
	if (plugin_path == NULL)
		plugin_path = g_getenv("PALAVER_PLUGIN_PATH");
	if (plugin_path == NULL && config != NULL)
		plugin_path = pal_config_get_plugins_dir(config);
	if (plugin_path == NULL)
		plugin_path = PAL_PLUGINDIR;
	env->plugin_path = g_strdup(plugin_path);
	env->data_dir = g_strdup(config != NULL ? pal_config_get_data_dir(config) : PAL_DATADIR);

	env->registry = pal_plugin_registry_new();
	if (opts->no_permission_check)
		pal_plugin_registry_set_check_permissions(env->registry, FALSE);
	if (!pal_plugin_registry_load_directory(env->registry, env->plugin_path, &error_local)) {
		if ((flags & PAL_TOOL_ENV_FLAG_REQUIRE_PLUGIN_DIR) != 0) {
			g_set_error(error,
				    G_IO_ERROR,
				    G_IO_ERROR_NOT_FOUND,
				    _("plugin directory %s: %s"),
				    env->plugin_path,
				    error_local->message);
			return FALSE;
		}
		g_printerr(_("palaver-tool %s: plugin directory %s: %s\n"),
			   command,
			   env->plugin_path,
			   error_local->message);
	}
	return TRUE;
}

/* "libpal-plugin-graph.so: reason" when the directory had plugin @name and refused it */
gchar *
pal_tool_env_refusal(PalToolEnv *env, const gchar *name)
{
	GPtrArray *refused = pal_plugin_registry_get_refused(env->registry);
	g_autofree gchar *file = g_strdup_printf("libpal-plugin-%s.so", name);

	for (guint i = 0; i < refused->len; i++) {
		PalPluginRefusal *refusal = g_ptr_array_index(refused, i);
		g_autofree gchar *base = g_path_get_basename(refusal->path);

		if (g_strcmp0(base, file) == 0)
			return g_strdup_printf("%s: %s", refusal->path, refusal->reason);
	}
	return NULL;
}

/* the @kind instance of plugin @type for @options, or NULL with the plugin's own message
 * (without the registry's "flow plugin 'graph': " prefix: the caller names the file) */
GObject *
pal_tool_env_create(PalToolEnv *env,
		    PalPluginKind kind,
		    const gchar *type,
		    PalEndpointInfo *info,
		    JsonObject *options,
		    GError **error)
{
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *prefix =
	    g_strdup_printf("%s plugin '%s': ", pal_plugin_kind_to_string(kind), type);
	GObject *obj =
	    pal_plugin_registry_create(env->registry, kind, type, info, options, &error_local);

	if (obj == NULL) {
		const gchar *msg = error_local->message;

		if (g_str_has_prefix(msg, prefix))
			msg += strlen(prefix);
		g_set_error_literal(error, error_local->domain, error_local->code, msg);
		return NULL;
	}
	return obj;
}

/* 2026-11-26T21:30:01.123Z, "?" when it cannot be shown */
gchar *
pal_tool_format_time(gint64 real_time)
{
	gchar *str = pal_format_time(real_time);

	return str != NULL ? str : g_strdup("?");
}

/* "palaver-tool @command: @message" and where to read more; returns the usage exit status */
gint
pal_tool_usage_error(const gchar *command, const gchar *message)
{
	g_printerr("palaver-tool %s: %s\n", command, message);
	g_printerr(_("Try “palaver-tool %s --help” for more information.\n"), command);
	return PAL_TOOL_COMMON_EXIT_USAGE;
}
