/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "pal-flow.h"

G_DEFINE_INTERFACE(PalFlow, pal_flow, PAL_TYPE_EXTENSION)

static void
pal_flow_default_init(PalFlowInterface *iface)
{
}

/**
 * pal_flow_run_async:
 * @turn: the turn to run
 * @cancellable: (nullable): cancelled at the turn's deadline
 * @callback: called on the owner thread when the turn is complete
 * @user_data: data for @callback
 *
 * Runs one turn of the flow.
 */
void
pal_flow_run_async(PalFlow *self,
		   PalTurn *turn,
		   GCancellable *cancellable,
		   GAsyncReadyCallback callback,
		   gpointer user_data)
{
	g_return_if_fail(PAL_IS_FLOW(self));
	g_return_if_fail(PAL_IS_TURN(turn));
	PAL_FLOW_GET_IFACE(self)->run_async(self, turn, cancellable, callback, user_data);
}

/**
 * pal_flow_run_finish:
 *
 * Returns: %TRUE when the turn completed
 */
gboolean
pal_flow_run_finish(PalFlow *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(PAL_IS_FLOW(self), FALSE);
	return PAL_FLOW_GET_IFACE(self)->run_finish(self, result, error);
}
