/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pal-extension.h"
#include "pal-message.h"
#include "pal-output.h"
#include "pal-session.h"

G_BEGIN_DECLS

#define PAL_TYPE_HANDOVER (pal_handover_get_type())
G_DECLARE_INTERFACE(PalHandover, pal_handover, PAL, HANDOVER, PalExtension)

/**
 * PalHandoverInterface:
 * @start_async: open a conversation for @session at the agent desk; @message is the input that
 *   triggered the handover (it may be %NULL when a flow or an operator starts it).
 * @start_finish: %TRUE when the desk accepted it; until pal_handover_ended() the gateway
 *   forwards the user's messages instead of running the flow.
 * @forward_async: pass a user's message to the agent.
 * @forward_finish: %TRUE when the desk took it.
 * @stop_async: close the desk conversation (the user or an operator ended it).
 * @stop_finish: %TRUE when closed.
 * @callback_async: a request to `/handover/{provider}/{subpath}` from the agent desk, with its
 *   body. The plugin reports agent replies with pal_handover_agent_output() and the end of the
 *   handover with pal_handover_ended(), then completes.
 * @callback_finish: the JSON answer to the desk (transfer full), or %NULL with an error
 *   (answered as 400).
 *
 * Human handover to an agent desk (`"handover": {"type": …}` in an endpoint).
 *
 * Signals: `agent-output (const gchar *user_id, const gchar *session_id, PalOutput *output)`
 * and `ended (const gchar *user_id, const gchar *session_id)`, emitted on the owner thread.
 */
struct _PalHandoverInterface {
	GTypeInterface g_iface;

	void (*start_async)(PalHandover *self,
			    PalSession *session,
			    PalMessage *message,
			    GCancellable *cancellable,
			    GAsyncReadyCallback callback,
			    gpointer user_data);
	gboolean (*start_finish)(PalHandover *self, GAsyncResult *result, GError **error);
	void (*forward_async)(PalHandover *self,
			      PalSession *session,
			      PalMessage *message,
			      GCancellable *cancellable,
			      GAsyncReadyCallback callback,
			      gpointer user_data);
	gboolean (*forward_finish)(PalHandover *self, GAsyncResult *result, GError **error);
	void (*stop_async)(PalHandover *self,
			   PalSession *session,
			   GCancellable *cancellable,
			   GAsyncReadyCallback callback,
			   gpointer user_data);
	gboolean (*stop_finish)(PalHandover *self, GAsyncResult *result, GError **error);
	void (*callback_async)(PalHandover *self,
			       const gchar *subpath,
			       GBytes *body,
			       GCancellable *cancellable,
			       GAsyncReadyCallback callback,
			       gpointer user_data);
	JsonNode *(*callback_finish)(PalHandover *self, GAsyncResult *result, GError **error);

	/*< private >*/
	gpointer padding[8];
};

void
pal_handover_start_async(PalHandover *self,
			 PalSession *session,
			 PalMessage *message,
			 GCancellable *cancellable,
			 GAsyncReadyCallback callback,
			 gpointer user_data);
gboolean
pal_handover_start_finish(PalHandover *self, GAsyncResult *result, GError **error);
void
pal_handover_forward_async(PalHandover *self,
			   PalSession *session,
			   PalMessage *message,
			   GCancellable *cancellable,
			   GAsyncReadyCallback callback,
			   gpointer user_data);
gboolean
pal_handover_forward_finish(PalHandover *self, GAsyncResult *result, GError **error);
void
pal_handover_stop_async(PalHandover *self,
			PalSession *session,
			GCancellable *cancellable,
			GAsyncReadyCallback callback,
			gpointer user_data);
gboolean
pal_handover_stop_finish(PalHandover *self, GAsyncResult *result, GError **error);
void
pal_handover_callback_async(PalHandover *self,
			    const gchar *subpath,
			    GBytes *body,
			    GCancellable *cancellable,
			    GAsyncReadyCallback callback,
			    gpointer user_data);
JsonNode *
pal_handover_callback_finish(PalHandover *self, GAsyncResult *result, GError **error);
void
pal_handover_agent_output(PalHandover *self,
			  const gchar *user_id,
			  const gchar *session_id,
			  PalOutput *output);
void
pal_handover_ended(PalHandover *self, const gchar *user_id, const gchar *session_id);

G_END_DECLS
