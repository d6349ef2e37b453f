/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "pal-endpoint-info.h"

G_BEGIN_DECLS

#define PAL_TYPE_EXTENSION (pal_extension_get_type())
G_DECLARE_INTERFACE(PalExtension, pal_extension, PAL, EXTENSION, GObject)

/**
 * PalExtensionInterface:
 * @setup: configure a new instance for one endpoint from its options (the plugin's JSON
 *   object in the endpoint file, without `type`). Runs once per instance before any other
 *   call, possibly on another thread than the one the instance is later used from. Return
 *   %FALSE with an error naming the JSON path (e.g. `flow.outputs`) to refuse the endpoint.
 *
 * The prerequisite of every extension point (#PalFlow, #PalNlu, #PalTransformer,
 * #PalHandover): how the gateway hands an instance its endpoint and options.
 * Instances are created per endpoint and per worker thread, and only ever called from one
 * thread; data they can share read-only (a parsed flow, a trained model) may be cached.
 */
struct _PalExtensionInterface {
	GTypeInterface g_iface;

	gboolean (*setup)(PalExtension *self,
			  PalEndpointInfo *endpoint,
			  JsonObject *options,
			  GError **error);

	/*< private >*/
	gpointer padding[8];
};

gboolean
pal_extension_setup(PalExtension *self,
		    PalEndpointInfo *endpoint,
		    JsonObject *options,
		    GError **error);

G_END_DECLS
