/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define PAL_TYPE_ENDPOINT_INFO (pal_endpoint_info_get_type())
G_DECLARE_FINAL_TYPE(PalEndpointInfo, pal_endpoint_info, PAL, ENDPOINT_INFO, GObject)

/**
 * PalEndpointInfo:
 *
 * The read-only view of an endpoint that plugins get: its name, locale, data-protection
 * switches and where its relative paths resolve. It never carries the URL token or secrets.
 */
PalEndpointInfo *
pal_endpoint_info_new(const gchar *name,
		      const gchar *locale,
		      const gchar *base_dir,
		      const gchar *data_dir,
		      gboolean mask_logging);
const gchar *
pal_endpoint_info_get_name(PalEndpointInfo *self);
const gchar *
pal_endpoint_info_get_locale(PalEndpointInfo *self);
const gchar *
pal_endpoint_info_get_base_dir(PalEndpointInfo *self);
gboolean
pal_endpoint_info_get_mask_logging(PalEndpointInfo *self);
gchar *
pal_endpoint_info_resolve_path(PalEndpointInfo *self, const gchar *path, GError **error);

G_END_DECLS
