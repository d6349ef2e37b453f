/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* `palaver-tool flow check FILE…`: loads each flow file with the `graph` flow plugin and prints
 * `FILE: ok` or every error it reports. @argv starts at the subcommand's name; returns the exit
 * status (0 all flows ok, 1 a flow has errors or a runtime error, 2 usage error). */
gint
pal_tool_flow(gint argc, gchar **argv);

/* `palaver-tool chat`: a conversation with a flow (`--flow FILE` or an endpoint's flow with
 * `--endpoint FILE`) on standard input and output, without palaverd. Returns the exit status
 * (0 after /quit or the end of the input, 1 when the flow cannot be loaded, 2 usage error). */
gint
pal_tool_chat(gint argc, gchar **argv);

G_END_DECLS
