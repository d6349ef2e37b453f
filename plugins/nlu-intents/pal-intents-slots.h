/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <palaver.h>

#include "pal-intents-text.h"

G_BEGIN_DECLS

/*
 * The slots of an intents model: `list` (values with synonyms), `regex`, and the system slots
 * `NUMBER`, `EMAIL`, `URL` and `DATE`. Read-only once built: extraction is thread-safe.
 * Formats and rules are described at the top of pal-intents-slots.c.
 */

typedef struct _PalIntentsSlots PalIntentsSlots;

/* @slots: the model's "slots" object (nullable: no slots); problems are appended to @errors
 * as "slots.NAME…: message" lines; @analyzer normalises list values as texts are */
PalIntentsSlots *
pal_intents_slots_new(JsonObject *slots,
		      const gchar *locale,
		      PalIntentsAnalyzer *analyzer,
		      GPtrArray *errors);
void
pal_intents_slots_free(PalIntentsSlots *self);
guint
pal_intents_slots_get_n_slots(PalIntentsSlots *self);

/* adds every slot value found in @text (whose tokens are @tokens) to @result; relative dates
 * count from @today */
void
pal_intents_slots_extract(PalIntentsSlots *self,
			  const gchar *text,
			  GArray *tokens,
			  const GDate *today,
			  PalNluResult *result);

G_END_DECLS
