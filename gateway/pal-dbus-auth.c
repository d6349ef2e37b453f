/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include "pal-dbus-auth.h"
#include "palaver.h"

gboolean
pal_dbus_caller_allowed(uid_t uid, const gid_t *gids, gsize n_gids, gid_t admin_gid, uid_t daemon_uid)
{
	if (uid == 0 || uid == daemon_uid)
		return TRUE;
	if (admin_gid == (gid_t)-1)
		return FALSE;
	for (gsize i = 0; i < n_gids; i++) {
		if (gids[i] == admin_gid)
			return TRUE;
	}
	return FALSE;
}

typedef struct {
	uid_t uid;
	GArray *gids;
} PalCaller;

static void
pal_caller_free(PalCaller *caller)
{
	if (caller->gids != NULL)
		g_array_unref(caller->gids);
	g_free(caller);
}

/* the groups of @uid from the user database (getgrouplist), for buses that do not tell */
static GArray *
pal_dbus_groups_of_user(uid_t uid)
{
	GArray *gids = g_array_new(FALSE, FALSE, sizeof(gid_t));
	struct passwd pw;
	struct passwd *found = NULL;
	gchar buf[4096];
	int n = 64;

	if (getpwuid_r(uid, &pw, buf, sizeof buf, &found) != 0 || found == NULL)
		return gids;
	for (guint attempt = 0; attempt < 4; attempt++) {
		int got = n;
		g_array_set_size(gids, (guint)n);
		if (getgrouplist(pw.pw_name, pw.pw_gid, (gid_t *)(gpointer)gids->data, &got) >= 0) {
			g_array_set_size(gids, (guint)got);
			return gids;
		}
		n = MAX(got, n * 2);
	}
	g_array_set_size(gids, 0);
	return gids;
}

static void
pal_dbus_credentials_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &error);
	g_autoptr(GVariant) creds = NULL;
	g_autoptr(GVariant) groups = NULL;
	PalCaller *caller;
	guint32 uid = 0;

	if (reply == NULL) {
		g_task_return_new_error(task,
					PAL_ERROR,
					PAL_ERROR_PERMISSION_DENIED,
					"cannot tell who the caller is: %s",
					error->message);
		return;
	}
	g_variant_get(reply, "(@a{sv})", &creds);
	if (!g_variant_lookup(creds, "UnixUserID", "u", &uid)) {
		g_task_return_new_error(task,
					PAL_ERROR,
					PAL_ERROR_PERMISSION_DENIED,
					"the bus does not know the caller's user");
		return;
	}
	caller = g_new0(PalCaller, 1);
	caller->uid = (uid_t)uid;
	groups = g_variant_lookup_value(creds, "UnixGroupIDs", G_VARIANT_TYPE("au"));
	if (groups != NULL) {
		gsize n = 0;
		const guint32 *ids = g_variant_get_fixed_array(groups, &n, sizeof(guint32));

		caller->gids = g_array_sized_new(FALSE, FALSE, sizeof(gid_t), (guint)n);
		for (gsize i = 0; i < n; i++) {
			gid_t gid = (gid_t)ids[i];
			g_array_append_val(caller->gids, gid);
		}
	} else {
		caller->gids = pal_dbus_groups_of_user(caller->uid);
	}
	g_task_return_pointer(task, caller, (GDestroyNotify)pal_caller_free);
}

void
pal_dbus_get_caller_async(GDBusConnection *connection,
			  const gchar *sender,
			  GCancellable *cancellable,
			  GAsyncReadyCallback callback,
			  gpointer user_data)
{
	GTask *task = g_task_new(NULL, cancellable, callback, user_data);

	g_task_set_source_tag(task, pal_dbus_get_caller_async);
	if (sender == NULL) {
		/* a peer-to-peer connection: nothing asks it, nothing is allowed */
		g_task_return_new_error(task, PAL_ERROR, PAL_ERROR_PERMISSION_DENIED, "the caller has no bus name");
		g_object_unref(task);
		return;
	}
	g_dbus_connection_call(connection,
			       "org.freedesktop.DBus",
			       "/org/freedesktop/DBus",
			       "org.freedesktop.DBus",
			       "GetConnectionCredentials",
			       g_variant_new("(s)", sender),
			       G_VARIANT_TYPE("(a{sv})"),
			       G_DBUS_CALL_FLAGS_NONE,
			       -1,
			       cancellable,
			       pal_dbus_credentials_cb,
			       task);
}

gboolean
pal_dbus_get_caller_finish(GAsyncResult *res, uid_t *uid, gid_t **gids, gsize *n_gids, GError **error)
{
	PalCaller *caller;

	g_return_val_if_fail(g_task_is_valid(res, NULL), FALSE);
	caller = g_task_propagate_pointer(G_TASK(res), error);
	if (caller == NULL)
		return FALSE;
	*uid = caller->uid;
	*n_gids = caller->gids->len;
	*gids = (gid_t *)(gpointer)g_array_free(g_steal_pointer(&caller->gids), FALSE);
	pal_caller_free(caller);
	return TRUE;
}
