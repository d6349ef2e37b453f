/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "pal-transformer.h"

G_DEFINE_INTERFACE(PalTransformer, pal_transformer, PAL_TYPE_EXTENSION)

static void
pal_transformer_default_init(PalTransformerInterface *iface)
{
}

/**
 * pal_transformer_hook_to_string:
 *
 * Returns: `input`, `output`, `execution-finished`, `inject` or `notify`
 */
const gchar *
pal_transformer_hook_to_string(PalTransformerHook hook)
{
	switch (hook) {
	case PAL_TRANSFORMER_HOOK_INPUT:
		return "input";
	case PAL_TRANSFORMER_HOOK_OUTPUT:
		return "output";
	case PAL_TRANSFORMER_HOOK_EXECUTION_FINISHED:
		return "execution-finished";
	case PAL_TRANSFORMER_HOOK_INJECT:
		return "inject";
	case PAL_TRANSFORMER_HOOK_NOTIFY:
		return "notify";
	default:
		return "unknown";
	}
}

/**
 * pal_transformer_get_hooks:
 *
 * Returns: the hooks the instance implements; all of them when the plugin does not say
 */
PalTransformerHook
pal_transformer_get_hooks(PalTransformer *self)
{
	PalTransformerInterface *iface;

	g_return_val_if_fail(PAL_IS_TRANSFORMER(self), 0);
	iface = PAL_TRANSFORMER_GET_IFACE(self);
	if (iface->get_hooks == NULL)
		return PAL_TRANSFORMER_HOOK_INPUT | PAL_TRANSFORMER_HOOK_OUTPUT |
		       PAL_TRANSFORMER_HOOK_EXECUTION_FINISHED | PAL_TRANSFORMER_HOOK_INJECT |
		       PAL_TRANSFORMER_HOOK_NOTIFY;
	return iface->get_hooks(self);
}

/**
 * pal_transformer_transform_async:
 * @hook: which hook runs
 * @turn: the turn the payload belongs to
 * @payload: the payload; the transformer must not change it in place
 * @cancellable: (nullable): cancelled at the deadline
 * @callback: called on the owner thread
 * @user_data: data for @callback
 */
void
pal_transformer_transform_async(PalTransformer *self,
				PalTransformerHook hook,
				PalTurn *turn,
				JsonNode *payload,
				GCancellable *cancellable,
				GAsyncReadyCallback callback,
				gpointer user_data)
{
	g_return_if_fail(PAL_IS_TRANSFORMER(self));
	g_return_if_fail(payload != NULL);
	PAL_TRANSFORMER_GET_IFACE(self)
	    ->transform_async(self, hook, turn, payload, cancellable, callback, user_data);
}

/**
 * pal_transformer_transform_finish:
 *
 * Returns: (transfer full) (nullable): the new payload; %NULL without error means drop
 */
JsonNode *
pal_transformer_transform_finish(PalTransformer *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(PAL_IS_TRANSFORMER(self), NULL);
	return PAL_TRANSFORMER_GET_IFACE(self)->transform_finish(self, result, error);
}
