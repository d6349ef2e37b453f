/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* `palaver-tool dead-letters`: list, replay or purge the dead letters of a stopped palaverd's
 * SQLite store. @argv starts at the subcommand's name; returns the exit status (0 ok,
 * 1 runtime error, 2 usage error). */
gint
pal_tool_dead_letters(gint argc, gchar **argv);

G_END_DECLS
