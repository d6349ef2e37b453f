/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef enum {
	PAL_DURABILITY_NONE,
	PAL_DURABILITY_CRASH,
	PAL_DURABILITY_POWER,
} PalDurability;

typedef enum {
	PAL_BUS_SYSTEM,
	PAL_BUS_SESSION,
	PAL_BUS_NONE,
} PalBusType;

#define PAL_TYPE_CONFIG (pal_config_get_type())
G_DECLARE_FINAL_TYPE(PalConfig, pal_config, PAL, CONFIG, GObject)

/* the daemon configuration, palaver.conf (GKeyFile); immutable once loaded */
PalConfig *
pal_config_new_default(void);
PalConfig *
pal_config_load(const gchar *path, GError **error);

const gchar *
pal_config_get_path(PalConfig *self); /* NULL for the embedded defaults */
/* [Server] */
GStrv
pal_config_get_listen(PalConfig *self); /* "host:port" / "[v6]:port", at least one */
guint
pal_config_get_workers(PalConfig *self); /* resolved: 0 in the file = number of cores */
gsize
pal_config_get_max_body_size(PalConfig *self);
guint
pal_config_get_max_depth(PalConfig *self);
guint
pal_config_get_header_timeout(PalConfig *self); /* seconds */
guint
pal_config_get_idle_timeout(PalConfig *self);	/* seconds */
guint
pal_config_get_request_timeout(PalConfig *self); /* seconds for one turn (flow deadline) */
guint
pal_config_get_shutdown_timeout(PalConfig *self); /* seconds of drain on SIGTERM */
guint
pal_config_get_max_connections(PalConfig *self); /* open client connections per worker */
/* [Store] */
const gchar *
pal_config_get_store_backend(PalConfig *self);
const gchar *
pal_config_get_store_path(PalConfig *self);
PalDurability
pal_config_get_durability(PalConfig *self);
/* [Endpoints] */
const gchar *
pal_config_get_endpoints_dir(PalConfig *self); /* absolute */
/* [Plugins] */
const gchar *
pal_config_get_plugins_dir(PalConfig *self); /* NULL = the installed plugin directory */
/* [Delivery] */
guint
pal_config_get_delivery_max_conns(PalConfig *self); /* per worker */
guint
pal_config_get_delivery_max_conns_per_host(PalConfig *self); /* per worker */
guint
pal_config_get_delivery_max_queue(PalConfig *self); /* queued outputs per worker */
guint64
pal_config_get_delivery_max_queue_bytes(PalConfig *self); /* their bytes, per worker */
guint
pal_config_get_delivery_max_queue_per_endpoint(PalConfig *self); /* all workers */
guint
pal_config_get_delivery_max_queue_per_session(PalConfig *self);
/* [DBus] */
PalBusType
pal_config_get_bus(PalConfig *self);
const gchar *
pal_config_get_data_dir(PalConfig *self); /* $datadir/palaver or [Paths] DataDir */

/* added: splits one Listen entry ("127.0.0.1:8080", "[::1]:0") into an IP address without
 * brackets and a port; host names are refused (PAL_ERROR_INVALID_DATA) */
gboolean
pal_config_parse_listen_address(const gchar *address, gchar **host, guint16 *port, GError **error);

G_END_DECLS
