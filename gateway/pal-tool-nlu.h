/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* `palaver-tool nlu evaluate …` and `palaver-tool nlu parse …`: measure an `intents` model on
 * labelled data, or show the result for one text. @argv starts at "nlu"; returns the exit
 * status (0 success, 1 the model or a data file cannot be used, 2 usage error). */
gint
pal_tool_nlu(gint argc, gchar **argv);

G_END_DECLS
