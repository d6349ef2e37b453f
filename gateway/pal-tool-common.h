/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "pal-plugin-registry.h"

G_BEGIN_DECLS

/*
 * What the palaver-tool subcommands share: the plugin options and the plugin registry as
 * palaverd sets them up, and the form of a usage error.
 */

/* the plugin options of a subcommand, as palaverd has them */
typedef struct {
	gchar *plugin_dir;
	gchar *config_path;
	gboolean no_permission_check;
	gboolean verbose;
} PalToolPlugins;

void
pal_tool_plugins_clear(PalToolPlugins *opts);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(PalToolPlugins, pal_tool_plugins_clear)

void
pal_tool_plugins_add_entries(GOptionContext *context,
			     PalToolPlugins *opts,
			     const gchar *config_description);

typedef enum {
	PAL_TOOL_ENV_FLAG_NONE = 0,
	/* without --config, read PAL_SYSCONFDIR/palaver.conf when it exists (a broken one is
	 * ignored with a note) */
	PAL_TOOL_ENV_FLAG_SYSTEM_CONFIG = 1 << 0,
	/* a plugin directory that cannot be read is an error, not a note */
	PAL_TOOL_ENV_FLAG_REQUIRE_PLUGIN_DIR = 1 << 1,
} PalToolEnvFlags;

/* the registry with the plugins of the directory palaverd would use */
typedef struct {
	PalPluginRegistry *registry;
	gchar *plugin_path;
	gchar *data_dir;
} PalToolEnv;

void
pal_tool_env_clear(PalToolEnv *env);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(PalToolEnv, pal_tool_env_clear)

gboolean
pal_tool_env_init(PalToolEnv *env,
		  PalToolPlugins *opts,
		  const gchar *command,
		  PalToolEnvFlags flags,
		  GError **error);

gchar *
pal_tool_env_refusal(PalToolEnv *env, const gchar *name);

GObject *
pal_tool_env_create(PalToolEnv *env,
		    PalPluginKind kind,
		    const gchar *type,
		    PalEndpointInfo *info,
		    JsonObject *options,
		    GError **error);

gchar *
pal_tool_format_time(gint64 real_time);

gint
pal_tool_usage_error(const gchar *command, const gchar *message);

G_END_DECLS
