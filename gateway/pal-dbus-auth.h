/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* the group whose members may change palaverd over D-Bus (besides root and palaverd's user) */
#define PAL_DBUS_ADMIN_GROUP "palaver"

/* The authorisation rule of the control plane, pure so that it can be tested: a caller with
 * user id @uid and groups @gids may call privileged methods when it is root, when it is the
 * user palaverd runs as (@daemon_uid: on the session bus, the developer or test running it;
 * on the system bus, the service user), or when @admin_gid (the group "palaver", (gid_t) -1
 * when the system has none) is one of its groups. */
gboolean
pal_dbus_caller_allowed(uid_t uid, const gid_t *gids, gsize n_gids, gid_t admin_gid, uid_t daemon_uid);

/* the user and groups of the connection @sender on @connection's bus, asked from the bus
 * (org.freedesktop.DBus.GetConnectionCredentials; the groups from the user database when the
 * bus does not know them) */
void
pal_dbus_get_caller_async(GDBusConnection *connection,
			  const gchar *sender,
			  GCancellable *cancellable,
			  GAsyncReadyCallback callback,
			  gpointer user_data);
/* *@gids: (transfer full) (array length=n_gids) */
gboolean
pal_dbus_get_caller_finish(GAsyncResult *res, uid_t *uid, gid_t **gids, gsize *n_gids, GError **error);

G_END_DECLS
