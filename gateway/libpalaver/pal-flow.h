/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pal-extension.h"
#include "pal-turn.h"

G_BEGIN_DECLS

#define PAL_TYPE_FLOW (pal_flow_get_type())
G_DECLARE_INTERFACE(PalFlow, pal_flow, PAL, FLOW, PalExtension)

/**
 * PalFlowInterface:
 * @run_async: run one turn: read pal_turn_get_message() and pal_turn_get_session(), call
 *   pal_turn_emit() for each output as soon as it exists, update the session (context,
 *   entrypoint), then complete. The gateway never runs two turns of one session at once.
 *   @cancellable is cancelled when the turn's deadline passes or the daemon stops.
 * @run_finish: %FALSE with an error when the turn failed; outputs emitted before the failure
 *   are still delivered, and the session keeps the state the flow left in it.
 *
 * A conversation flow (`"flow": {"type": …}` in an endpoint).
 */
struct _PalFlowInterface {
	GTypeInterface g_iface;

	void (*run_async)(PalFlow *self,
			  PalTurn *turn,
			  GCancellable *cancellable,
			  GAsyncReadyCallback callback,
			  gpointer user_data);
	gboolean (*run_finish)(PalFlow *self, GAsyncResult *result, GError **error);

	/*< private >*/
	gpointer padding[8];
};

void
pal_flow_run_async(PalFlow *self,
		   PalTurn *turn,
		   GCancellable *cancellable,
		   GAsyncReadyCallback callback,
		   gpointer user_data);
gboolean
pal_flow_run_finish(PalFlow *self, GAsyncResult *result, GError **error);

G_END_DECLS
