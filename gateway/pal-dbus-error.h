/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* the D-Bus names of the PalError codes: org.palaver.Gateway1.Error.<Name> */
#define PAL_DBUS_ERROR_PREFIX "org.palaver.Gateway1.Error."

/* registers the PalError domain with GDBus (idempotent, thread-safe), so that the daemon
 * sends typed errors and palaverctl gets PAL_ERROR codes back */
void
pal_dbus_error_register(void);

/* @error as a PalError for a method reply: other domains become PAL_ERROR_FAILED with the
 * same message; (transfer full) */
GError *
pal_dbus_error_to_pal(const GError *error);

G_END_DECLS
