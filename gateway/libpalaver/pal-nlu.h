/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pal-extension.h"
#include "pal-nlu-result.h"

G_BEGIN_DECLS

#define PAL_TYPE_NLU (pal_nlu_get_type())
G_DECLARE_INTERFACE(PalNlu, pal_nlu, PAL, NLU, PalExtension)

/**
 * PalNluInterface:
 * @parse_async: classify @text (already through the input transformers) for @locale.
 * @parse_finish: the result; on error the gateway logs it and runs the flow without an intent.
 *
 * Natural language understanding (`"nlu": {"type": …}` in an endpoint).
 */
struct _PalNluInterface {
	GTypeInterface g_iface;

	void (*parse_async)(PalNlu *self,
			    const gchar *text,
			    const gchar *locale,
			    GCancellable *cancellable,
			    GAsyncReadyCallback callback,
			    gpointer user_data);
	PalNluResult *(*parse_finish)(PalNlu *self, GAsyncResult *result, GError **error);

	/*< private >*/
	gpointer padding[8];
};

void
pal_nlu_parse_async(PalNlu *self,
		    const gchar *text,
		    const gchar *locale,
		    GCancellable *cancellable,
		    GAsyncReadyCallback callback,
		    gpointer user_data);
PalNluResult *
pal_nlu_parse_finish(PalNlu *self, GAsyncResult *result, GError **error);

G_END_DECLS
