/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "palaver.h"

G_BEGIN_DECLS

#define PAL_TYPE_PLUGIN_REGISTRY (pal_plugin_registry_get_type())
G_DECLARE_FINAL_TYPE(PalPluginRegistry, pal_plugin_registry, PAL, PLUGIN_REGISTRY, GObject)

typedef struct {
	gchar *name;
	gchar *version;
	gchar *license;
	gchar *description;
	gchar *path; /* "(built-in)" for built-ins */
	GType type;
	guint kinds; /* bit (1 << PalPluginKind) per extension point implemented */
} PalPluginInfo;

typedef struct {
	gchar *path; /* "(built-in)" for built-ins */
	gchar *reason;
} PalPluginRefusal;

void
pal_plugin_info_free(PalPluginInfo *info);
void
pal_plugin_refusal_free(PalPluginRefusal *refusal);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PalPluginInfo, pal_plugin_info_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PalPluginRefusal, pal_plugin_refusal_free)

PalPluginRegistry *
pal_plugin_registry_new(void);
/* off by default only in tests: refuse files not owned by root or writable by group/others */
void
pal_plugin_registry_set_check_permissions(PalPluginRegistry *self, gboolean check);
/* loads every libpal-plugin-*.so of @dir; refusals are logged and recorded, never fatal.
 * FALSE only when @dir cannot be read. */
gboolean
pal_plugin_registry_load_directory(PalPluginRegistry *self, const gchar *dir, GError **error);
/* registers a plugin linked into the binary (tests, -Dbuiltin_plugins) */
gboolean
pal_plugin_registry_add_builtin(PalPluginRegistry *self, const PalPluginDesc *desc, GError **error);
GType
pal_plugin_registry_lookup(PalPluginRegistry *self, PalPluginKind kind, const gchar *name);
/* new instance of plugin @name for @kind, after pal_extension_setup(); error names the kind/name */
GObject *
pal_plugin_registry_create(PalPluginRegistry *self,
			   PalPluginKind kind,
			   const gchar *name,
			   PalEndpointInfo *endpoint,
			   JsonObject *options,
			   GError **error);
GPtrArray *
pal_plugin_registry_get_plugins(PalPluginRegistry *self); /* element-type PalPluginInfo*, owned */
GPtrArray *
pal_plugin_registry_get_refused(PalPluginRegistry *self); /* element-type PalPluginRefusal*, owned */
/* the human listing of `palaverd --list-plugins`: loaded plugins, then refused files */
gchar *
pal_plugin_registry_describe(PalPluginRegistry *self);

G_END_DECLS
