/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>
#include <gmodule.h>

#include "pal-version.h"

G_BEGIN_DECLS

/**
 * PalPluginKind:
 * @PAL_PLUGIN_KIND_FLOW: implements #PalFlow
 * @PAL_PLUGIN_KIND_NLU: implements #PalNlu
 * @PAL_PLUGIN_KIND_TRANSFORMER: implements #PalTransformer
 * @PAL_PLUGIN_KIND_HANDOVER: implements #PalHandover
 *
 * The extension points. A plugin type may implement several.
 */
typedef enum {
	PAL_PLUGIN_KIND_FLOW,
	PAL_PLUGIN_KIND_NLU,
	PAL_PLUGIN_KIND_TRANSFORMER,
	PAL_PLUGIN_KIND_HANDOVER,
	/*< private >*/
	PAL_PLUGIN_KIND_LAST
} PalPluginKind;

const gchar *
pal_plugin_kind_to_string(PalPluginKind kind);
GType
pal_plugin_kind_get_interface(PalPluginKind kind);

/**
 * PalPluginDesc:
 * @abi_major: %PAL_PLUGIN_ABI_MAJOR the plugin was built with
 * @abi_minor: %PAL_PLUGIN_ABI_MINOR the plugin was built with
 * @name: the plugin name, used as `type` in endpoint files; must match the file name
 *   `libpal-plugin-<name>.so`
 * @version: the plugin's version
 * @license: its licence (SPDX identifier)
 * @description: one line for `palaverd --list-plugins`
 * @get_type: returns the GType that implements one or more extension points
 *
 * What a plugin exports, through PAL_PLUGIN_DEFINE(). Add fields only at the end, with a new
 * ABI minor version.
 */
typedef struct {
	guint abi_major;
	guint abi_minor;
	const gchar *name;
	const gchar *version;
	const gchar *license;
	const gchar *description;
	GType (*get_type)(void);
	/*< private >*/
	gpointer padding[8];
} PalPluginDesc;

/**
 * PAL_PLUGIN_DECLARE:
 * @name: the plugin name
 *
 * Declares the descriptor function, for code that links a plugin statically (tests).
 */
#define PAL_PLUGIN_DECLARE(name) G_MODULE_EXPORT const PalPluginDesc *pal_plugin_##name##_get_desc(void)

/**
 * PAL_PLUGIN_DEFINE:
 * @name: the plugin name, a C identifier (the `<name>` of `libpal-plugin-<name>.so`)
 * @get_type_func: the `*_get_type` function of the plugin's GType
 * @version: the plugin's version string
 * @license: its SPDX licence identifier
 * @description: one line of description
 *
 * Defines the one symbol a plugin exports: `pal_plugin_<name>_get_desc()`.
 */
#define PAL_PLUGIN_DEFINE(name, get_type_func, version, license, description)                     \
	G_MODULE_EXPORT const PalPluginDesc *pal_plugin_##name##_get_desc(void);                   \
	const PalPluginDesc *pal_plugin_##name##_get_desc(void)                                    \
	{                                                                                          \
		static const PalPluginDesc desc = {PAL_PLUGIN_ABI_MAJOR,                           \
						   PAL_PLUGIN_ABI_MINOR,                           \
						   #name,                                          \
						   version,                                        \
						   license,                                        \
						   description,                                    \
						   get_type_func,                                  \
						   {NULL}};                                        \
		return &desc;                                                              \
	}

G_END_DECLS
