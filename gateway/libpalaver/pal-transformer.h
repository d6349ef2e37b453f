/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pal-extension.h"
#include "pal-turn.h"

G_BEGIN_DECLS

/**
 * PalTransformerHook:
 * @PAL_TRANSFORMER_HOOK_INPUT: before NLU and flow; payload is the request body. A %NULL result
 *   drops the message; missing fields keep the values extracted by validation.
 * @PAL_TRANSFORMER_HOOK_OUTPUT: for each output; payload is the delivery body. A %NULL result
 *   discards that output; an object replaces the delivery body verbatim.
 * @PAL_TRANSFORMER_HOOK_EXECUTION_FINISHED: after a turn; payload `{turnId, outputs}`; the result is ignored.
 * @PAL_TRANSFORMER_HOOK_INJECT: like input, for `/inject` requests.
 * @PAL_TRANSFORMER_HOOK_NOTIFY: like input, for `/notify` requests.
 *
 * The points at which a transformer is called; a flags type so a plugin can say which it implements.
 */
typedef enum {
	PAL_TRANSFORMER_HOOK_INPUT = 1 << 0,
	PAL_TRANSFORMER_HOOK_OUTPUT = 1 << 1,
	PAL_TRANSFORMER_HOOK_EXECUTION_FINISHED = 1 << 2,
	PAL_TRANSFORMER_HOOK_INJECT = 1 << 3,
	PAL_TRANSFORMER_HOOK_NOTIFY = 1 << 4,
} PalTransformerHook;

const gchar *
pal_transformer_hook_to_string(PalTransformerHook hook);

#define PAL_TYPE_TRANSFORMER (pal_transformer_get_type())
G_DECLARE_INTERFACE(PalTransformer, pal_transformer, PAL, TRANSFORMER, PalExtension)

/**
 * PalTransformerInterface:
 * @get_hooks: the hooks this instance implements (after setup)
 * @transform_async: transform @payload at @hook for the turn @turn.
 * @transform_finish: the new payload (transfer full), %NULL with no error for "falsy" (drop /
 *   discard), or %NULL with an error: logged, and the message proceeds as if the transformer were
 *   absent unless the endpoint sets abort-on-error.
 *
 * Message transformers (`"transformers": [{"type": …}]` in an endpoint), following the hosted
 * product's semantics (DESIGN.md §3).
 */
struct _PalTransformerInterface {
	GTypeInterface g_iface;

	PalTransformerHook (*get_hooks)(PalTransformer *self);
	void (*transform_async)(PalTransformer *self,
				PalTransformerHook hook,
				PalTurn *turn,
				JsonNode *payload,
				GCancellable *cancellable,
				GAsyncReadyCallback callback,
				gpointer user_data);
	JsonNode *(*transform_finish)(PalTransformer *self, GAsyncResult *result, GError **error);

	/*< private >*/
	gpointer padding[8];
};

PalTransformerHook
pal_transformer_get_hooks(PalTransformer *self);
void
pal_transformer_transform_async(PalTransformer *self,
				PalTransformerHook hook,
				PalTurn *turn,
				JsonNode *payload,
				GCancellable *cancellable,
				GAsyncReadyCallback callback,
				gpointer user_data);
JsonNode *
pal_transformer_transform_finish(PalTransformer *self, GAsyncResult *result, GError **error);

G_END_DECLS
