/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "pal-dbus-error.h"
#include "palaver.h"

/* one entry per PalError code, in the order of the enum */
static const GDBusErrorEntry pal_dbus_error_entries[] = {
    {PAL_ERROR_FAILED, PAL_DBUS_ERROR_PREFIX "Failed"},
    {PAL_ERROR_INVALID_DATA, PAL_DBUS_ERROR_PREFIX "InvalidData"},
    {PAL_ERROR_NOT_FOUND, PAL_DBUS_ERROR_PREFIX "NotFound"},
    {PAL_ERROR_EXISTS, PAL_DBUS_ERROR_PREFIX "Exists"},
    {PAL_ERROR_TIMED_OUT, PAL_DBUS_ERROR_PREFIX "TimedOut"},
    {PAL_ERROR_PLUGIN, PAL_DBUS_ERROR_PREFIX "Plugin"},
    {PAL_ERROR_BUSY, PAL_DBUS_ERROR_PREFIX "Busy"},
    {PAL_ERROR_NOT_SUPPORTED, PAL_DBUS_ERROR_PREFIX "NotSupported"},
    {PAL_ERROR_PERMISSION_DENIED, PAL_DBUS_ERROR_PREFIX "PermissionDenied"},
    {PAL_ERROR_UNAVAILABLE, PAL_DBUS_ERROR_PREFIX "Unavailable"},
};

G_STATIC_ASSERT(G_N_ELEMENTS(pal_dbus_error_entries) == PAL_ERROR_LAST);

void
pal_dbus_error_register(void)
{
	static gsize quark = 0;

	/* the same quark as PAL_ERROR (G_DEFINE_QUARK (pal-error-quark, pal_error)) */
	g_dbus_error_register_error_domain("pal-error-quark",
					   &quark,
					   pal_dbus_error_entries,
					   G_N_ELEMENTS(pal_dbus_error_entries));
	g_assert((GQuark)quark == PAL_ERROR);
}

GError *
pal_dbus_error_to_pal(const GError *error)
{
	if (error->domain == PAL_ERROR && error->code >= 0 && error->code < PAL_ERROR_LAST)
		return g_error_copy(error);
	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return g_error_new(PAL_ERROR, PAL_ERROR_UNAVAILABLE, "%s", error->message);
	return g_error_new(PAL_ERROR, PAL_ERROR_FAILED, "%s", error->message);
}
