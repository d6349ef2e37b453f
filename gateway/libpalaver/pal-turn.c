/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "pal-turn.h"

struct _PalTurn {
	GObject parent_instance;
	PalEndpointInfo *endpoint;
	PalSession *session;
	PalMessage *message;
	PalTurnEmitFunc emit_func;
	gpointer user_data;
	GDestroyNotify destroy;
	guint n_outputs;
};

G_DEFINE_FINAL_TYPE(PalTurn, pal_turn, G_TYPE_OBJECT)

static void
pal_turn_finalize(GObject *object)
{
	PalTurn *self = PAL_TURN(object);

	if (self->destroy != NULL)
		self->destroy(self->user_data);
	g_clear_object(&self->endpoint);
	g_clear_object(&self->session);
	g_clear_object(&self->message);
	G_OBJECT_CLASS(pal_turn_parent_class)->finalize(object);
}

static void
pal_turn_class_init(PalTurnClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = pal_turn_finalize;
}

static void
pal_turn_init(PalTurn *self)
{
}

/**
 * pal_turn_new:
 * @endpoint: the endpoint view
 * @session: the session, changed by the flow during the turn
 * @message: the input
 * @emit_func: (nullable): receives each output; %NULL discards them
 * @user_data: data for @emit_func
 * @destroy: (nullable): frees @user_data with the turn
 *
 * Used by the gateway and by tools that run flows without a daemon.
 *
 * Returns: (transfer full): a new turn
 */
PalTurn *
pal_turn_new(PalEndpointInfo *endpoint,
	     PalSession *session,
	     PalMessage *message,
	     PalTurnEmitFunc emit_func,
	     gpointer user_data,
	     GDestroyNotify destroy)
{
	PalTurn *self = g_object_new(PAL_TYPE_TURN, NULL);

	self->endpoint = g_object_ref(endpoint);
	self->session = g_object_ref(session);
	self->message = g_object_ref(message);
	self->emit_func = emit_func;
	self->user_data = user_data;
	self->destroy = destroy;
	return self;
}

/**
 * pal_turn_get_endpoint:
 *
 * Returns: (transfer none): the endpoint view
 */
PalEndpointInfo *
pal_turn_get_endpoint(PalTurn *self)
{
	g_return_val_if_fail(PAL_IS_TURN(self), NULL);
	return self->endpoint;
}

/**
 * pal_turn_get_session:
 *
 * Returns: (transfer none): the session
 */
PalSession *
pal_turn_get_session(PalTurn *self)
{
	g_return_val_if_fail(PAL_IS_TURN(self), NULL);
	return self->session;
}

/**
 * pal_turn_get_message:
 *
 * Returns: (transfer none): the input message
 */
PalMessage *
pal_turn_get_message(PalTurn *self)
{
	g_return_val_if_fail(PAL_IS_TURN(self), NULL);
	return self->message;
}

/**
 * pal_turn_emit:
 * @output: an output of this turn
 *
 * Hands @output to the gateway at once, on the calling (owner) thread. Outputs of a turn are
 * delivered in the order they are emitted.
 */
void
pal_turn_emit(PalTurn *self, PalOutput *output)
{
	g_return_if_fail(PAL_IS_TURN(self));
	g_return_if_fail(PAL_IS_OUTPUT(output));
	if (self->emit_func != NULL)
		self->emit_func(self, output, self->n_outputs, self->user_data);
	self->n_outputs++;
}

/**
 * pal_turn_get_n_outputs:
 *
 * Returns: how many outputs the flow has emitted so far
 */
guint
pal_turn_get_n_outputs(PalTurn *self)
{
	g_return_val_if_fail(PAL_IS_TURN(self), 0);
	return self->n_outputs;
}
