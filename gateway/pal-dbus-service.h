/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pal-daemon.h"
#include "pal-dbus-generated.h"

G_BEGIN_DECLS

#define PAL_DBUS_SERVICE_NAME "org.palaver.Gateway1"
#define PAL_DBUS_SERVICE_PATH "/org/palaver/Gateway1"

#define PAL_TYPE_DBUS_SERVICE (pal_dbus_service_get_type())
G_DECLARE_FINAL_TYPE(PalDBusService, pal_dbus_service, PAL, DBUS_SERVICE, PalDBusGateway1Skeleton)

/*
 * org.palaver.Gateway1 (data/org.palaver.Gateway1.xml) on the main thread of palaverd: the
 * generated skeleton with its handle_* methods implemented over PalDaemon. Every method
 * answers asynchronously; privileged ones first ask the bus who the caller is
 * (pal_dbus_caller_allowed()).
 */
PalDBusService *
pal_dbus_service_new(PalDaemon *daemon);

/* called once the name is owned (the daemon is then ready), or when it could not be owned or
 * was lost (@error says why) */
typedef void (*PalDBusServiceCallback)(PalDBusService *self, const GError *error, gpointer user_data);

/* exports the object and owns the name on @bus_type (G_BUS_TYPE_SYSTEM or SESSION);
 * @acquired runs once the name is owned, @lost when it cannot be owned or is lost later */
void
pal_dbus_service_own(PalDBusService *self,
		     GBusType bus_type,
		     PalDBusServiceCallback acquired,
		     PalDBusServiceCallback lost,
		     gpointer user_data);
/* releases the name and unexports the object */
void
pal_dbus_service_unown(PalDBusService *self);

G_END_DECLS
