/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define PAL_TYPE_NLU_RESULT (pal_nlu_result_get_type())
G_DECLARE_FINAL_TYPE(PalNluResult, pal_nlu_result, PAL, NLU_RESULT, GObject)

/**
 * PalNluResult:
 *
 * What an NLU plugin made of a text: the intent (or none below the plugin's threshold), its
 * score, a ranking of the best intents and the slots found. Flows see it as `input.intent`,
 * `input.intentScore` and `input.slots`.
 */
PalNluResult *
pal_nlu_result_new(const gchar *intent, gdouble score);
const gchar *
pal_nlu_result_get_intent(PalNluResult *self);
gdouble
pal_nlu_result_get_score(PalNluResult *self);
void
pal_nlu_result_add_ranking(PalNluResult *self, const gchar *intent, gdouble score);
JsonArray *
pal_nlu_result_get_ranking(PalNluResult *self);
void
pal_nlu_result_add_slot(PalNluResult *self,
			const gchar *name,
			JsonNode *value,
			const gchar *text,
			gint start,
			gint end);
JsonObject *
pal_nlu_result_get_slots(PalNluResult *self);
JsonNode *
pal_nlu_result_to_json(PalNluResult *self);

G_END_DECLS
