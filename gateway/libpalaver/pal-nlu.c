/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "pal-nlu.h"

G_DEFINE_INTERFACE(PalNlu, pal_nlu, PAL_TYPE_EXTENSION)

static void
pal_nlu_default_init(PalNluInterface *iface)
{
}

/**
 * pal_nlu_parse_async:
 * @text: the text to classify
 * @locale: (nullable): the endpoint's locale
 * @cancellable: (nullable): cancelled at the deadline
 * @callback: called on the owner thread with the result
 * @user_data: data for @callback
 */
void
pal_nlu_parse_async(PalNlu *self,
		    const gchar *text,
		    const gchar *locale,
		    GCancellable *cancellable,
		    GAsyncReadyCallback callback,
		    gpointer user_data)
{
	g_return_if_fail(PAL_IS_NLU(self));
	g_return_if_fail(text != NULL);
	PAL_NLU_GET_IFACE(self)->parse_async(self, text, locale, cancellable, callback, user_data);
}

/**
 * pal_nlu_parse_finish:
 *
 * Returns: (transfer full): the result, or %NULL with @error set
 */
PalNluResult *
pal_nlu_parse_finish(PalNlu *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(PAL_IS_NLU(self), NULL);
	return PAL_NLU_GET_IFACE(self)->parse_finish(self, result, error);
}
