/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "pal-handover.h"

enum { SIGNAL_AGENT_OUTPUT, SIGNAL_ENDED, SIGNAL_LAST };

static guint signals[SIGNAL_LAST];

G_DEFINE_INTERFACE(PalHandover, pal_handover, PAL_TYPE_EXTENSION)

static void
pal_handover_default_init(PalHandoverInterface *iface)
{
	/**
	 * PalHandover::agent-output:
	 * @user_id: the session's user
	 * @session_id: the session
	 * @output: what the agent wrote; delivered with `source: "agent"`
	 */
	signals[SIGNAL_AGENT_OUTPUT] = g_signal_new("agent-output",
						    G_TYPE_FROM_INTERFACE(iface),
						    G_SIGNAL_RUN_LAST,
						    0,
						    NULL,
						    NULL,
						    NULL,
						    G_TYPE_NONE,
						    3,
						    G_TYPE_STRING,
						    G_TYPE_STRING,
						    PAL_TYPE_OUTPUT);
	/**
	 * PalHandover::ended:
	 * @user_id: the session's user
	 * @session_id: the session
	 *
	 * The agent closed the conversation; the next input runs the flow again.
	 */
	signals[SIGNAL_ENDED] = g_signal_new("ended",
					     G_TYPE_FROM_INTERFACE(iface),
					     G_SIGNAL_RUN_LAST,
					     0,
					     NULL,
					     NULL,
					     NULL,
					     G_TYPE_NONE,
					     2,
					     G_TYPE_STRING,
					     G_TYPE_STRING);
}

/**
 * pal_handover_start_async:
 * @session: the session to hand over
 * @message: (nullable): the input that triggered it
 * @cancellable: (nullable): cancelled at the deadline
 * @callback: completion
 * @user_data: data for @callback
 */
void
pal_handover_start_async(PalHandover *self,
			 PalSession *session,
			 PalMessage *message,
			 GCancellable *cancellable,
			 GAsyncReadyCallback callback,
			 gpointer user_data)
{
	g_return_if_fail(PAL_IS_HANDOVER(self));
	PAL_HANDOVER_GET_IFACE(self)
	    ->start_async(self, session, message, cancellable, callback, user_data);
}

gboolean
pal_handover_start_finish(PalHandover *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(PAL_IS_HANDOVER(self), FALSE);
	return PAL_HANDOVER_GET_IFACE(self)->start_finish(self, result, error);
}

/**
 * pal_handover_forward_async:
 * @session: the session in handover
 * @message: the user's message
 * @cancellable: (nullable): cancelled at the deadline
 * @callback: completion
 * @user_data: data for @callback
 */
void
pal_handover_forward_async(PalHandover *self,
			   PalSession *session,
			   PalMessage *message,
			   GCancellable *cancellable,
			   GAsyncReadyCallback callback,
			   gpointer user_data)
{
	g_return_if_fail(PAL_IS_HANDOVER(self));
	g_return_if_fail(PAL_IS_MESSAGE(message));
	PAL_HANDOVER_GET_IFACE(self)
	    ->forward_async(self, session, message, cancellable, callback, user_data);
}

gboolean
pal_handover_forward_finish(PalHandover *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(PAL_IS_HANDOVER(self), FALSE);
	return PAL_HANDOVER_GET_IFACE(self)->forward_finish(self, result, error);
}

/**
 * pal_handover_stop_async:
 * @session: the session in handover
 * @cancellable: (nullable): cancelled at the deadline
 * @callback: completion
 * @user_data: data for @callback
 */
void
pal_handover_stop_async(PalHandover *self,
			PalSession *session,
			GCancellable *cancellable,
			GAsyncReadyCallback callback,
			gpointer user_data)
{
	g_return_if_fail(PAL_IS_HANDOVER(self));
	PAL_HANDOVER_GET_IFACE(self)->stop_async(self, session, cancellable, callback, user_data);
}

gboolean
pal_handover_stop_finish(PalHandover *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(PAL_IS_HANDOVER(self), FALSE);
	return PAL_HANDOVER_GET_IFACE(self)->stop_finish(self, result, error);
}

/**
 * pal_handover_callback_async:
 * @subpath: the part of the path after `/handover/{provider}/`
 * @body: the request body
 * @cancellable: (nullable): cancelled at the deadline
 * @callback: completion
 * @user_data: data for @callback
 */
void
pal_handover_callback_async(PalHandover *self,
			    const gchar *subpath,
			    GBytes *body,
			    GCancellable *cancellable,
			    GAsyncReadyCallback callback,
			    gpointer user_data)
{
	g_return_if_fail(PAL_IS_HANDOVER(self));
	PAL_HANDOVER_GET_IFACE(self)
	    ->callback_async(self, subpath, body, cancellable, callback, user_data);
}

/**
 * pal_handover_callback_finish:
 *
 * Returns: (transfer full) (nullable): the JSON answer for the desk
 */
JsonNode *
pal_handover_callback_finish(PalHandover *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(PAL_IS_HANDOVER(self), NULL);
	return PAL_HANDOVER_GET_IFACE(self)->callback_finish(self, result, error);
}

/**
 * pal_handover_agent_output:
 *
 * Emits #PalHandover::agent-output; for plugins.
 */
void
pal_handover_agent_output(PalHandover *self,
			  const gchar *user_id,
			  const gchar *session_id,
			  PalOutput *output)
{
	g_return_if_fail(PAL_IS_HANDOVER(self));
	g_signal_emit(self, signals[SIGNAL_AGENT_OUTPUT], 0, user_id, session_id, output);
}

/**
 * pal_handover_ended:
 *
 * Emits #PalHandover::ended; for plugins.
 */
void
pal_handover_ended(PalHandover *self, const gchar *user_id, const gchar *session_id)
{
	g_return_if_fail(PAL_IS_HANDOVER(self));
	g_signal_emit(self, signals[SIGNAL_ENDED], 0, user_id, session_id);
}
