/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pal-graph-flow.h"
#include "pal-http-client.h"

G_BEGIN_DECLS

/* the default of the "stepLimit" option: nodes one turn may run (FLOWS.md, Turn semantics) */
#define PAL_GRAPH_RUN_DEFAULT_STEP_LIMIT 200
/* the largest http node answer a flow reads */
#define PAL_GRAPH_RUN_MAX_HTTP_BODY (1024 * 1024)

/*
 * One turn of a graph flow (FLOWS.md, Turn semantics): runs from the session's entry point
 * until a node waits or the path ends, streaming outputs with pal_turn_emit(). Turns of
 * different sessions interleave at http nodes; each synchronous stretch loads its own state
 * into the flow's Lua sandbox and saves it back, so they never see each other's values.
 */
typedef struct _PalGraphRun PalGraphRun;

/* where the sandbox's api.say / api.set find the turn that is running: set by the engine */
typedef struct {
	PalGraphRun *active;
} PalGraphRunSlot;

/* registers api.say and api.set in @lua once, for turns run with @slot */
void
pal_graph_run_register_api(PalLua *lua, PalGraphRunSlot *slot);

/* @source_object: the flow plugin (the GTask's source); @client: created in this thread */
void
pal_graph_run_async(GObject *source_object,
		    PalGraphFlow *flow,
		    PalGraphRunSlot *slot,
		    PalHttpClient *client,
		    guint step_limit,
		    PalTurn *turn,
		    GCancellable *cancellable,
		    GAsyncReadyCallback callback,
		    gpointer user_data);

G_END_DECLS
