/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "pal-endpoint-info.h"
#include "pal-message.h"
#include "pal-output.h"
#include "pal-session.h"

G_BEGIN_DECLS

#define PAL_TYPE_TURN (pal_turn_get_type())
G_DECLARE_FINAL_TYPE(PalTurn, pal_turn, PAL, TURN, GObject)

/**
 * PalTurnEmitFunc:
 * @turn: the turn
 * @output: the output, stamped with its index in the turn
 * @index: 0-based position of @output in the turn
 * @user_data: data given to pal_turn_new()
 *
 * How the gateway receives outputs as a flow produces them.
 */
typedef void (*PalTurnEmitFunc)(PalTurn *turn, PalOutput *output, guint index, gpointer user_data);

/**
 * PalTurn:
 *
 * One run of a flow: the input message, the session it belongs to, and the sink outputs are
 * streamed into. A flow calls pal_turn_emit() for each output as soon as it has it, so an output
 * produced before a slow step is delivered before that step finishes.
 */
PalTurn *
pal_turn_new(PalEndpointInfo *endpoint,
	     PalSession *session,
	     PalMessage *message,
	     PalTurnEmitFunc emit_func,
	     gpointer user_data,
	     GDestroyNotify destroy);
PalEndpointInfo *
pal_turn_get_endpoint(PalTurn *self);
PalSession *
pal_turn_get_session(PalTurn *self);
PalMessage *
pal_turn_get_message(PalTurn *self);
void
pal_turn_emit(PalTurn *self, PalOutput *output);
guint
pal_turn_get_n_outputs(PalTurn *self);

G_END_DECLS
