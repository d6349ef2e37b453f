/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "pal-nlu-result.h"

struct _PalNluResult {
	GObject parent_instance;
	gchar *intent;
	gdouble score;
	JsonArray *ranking;
	JsonObject *slots;
};

G_DEFINE_FINAL_TYPE(PalNluResult, pal_nlu_result, G_TYPE_OBJECT)

static void
pal_nlu_result_finalize(GObject *object)
{
	PalNluResult *self = PAL_NLU_RESULT(object);

	g_free(self->intent);
	json_array_unref(self->ranking);
	json_object_unref(self->slots);
	G_OBJECT_CLASS(pal_nlu_result_parent_class)->finalize(object);
}

static void
pal_nlu_result_class_init(PalNluResultClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = pal_nlu_result_finalize;
}

static void
pal_nlu_result_init(PalNluResult *self)
{
	self->ranking = json_array_new();
	self->slots = json_object_new();
}

/**
 * pal_nlu_result_new:
 * @intent: (nullable): the recognised intent, %NULL when none passed the threshold
 * @score: the intent's score in [0, 1]
 *
 * Returns: (transfer full): a new result
 */
PalNluResult *
pal_nlu_result_new(const gchar *intent, gdouble score)
{
	PalNluResult *self = g_object_new(PAL_TYPE_NLU_RESULT, NULL);

	self->intent = g_strdup(intent);
	self->score = score;
	return self;
}

const gchar *
pal_nlu_result_get_intent(PalNluResult *self)
{
	g_return_val_if_fail(PAL_IS_NLU_RESULT(self), NULL);
	return self->intent;
}

gdouble
pal_nlu_result_get_score(PalNluResult *self)
{
	g_return_val_if_fail(PAL_IS_NLU_RESULT(self), 0.0);
	return self->score;
}

/**
 * pal_nlu_result_add_ranking:
 *
 * Appends `{intent, score}` to the ranking; add the best first.
 */
void
pal_nlu_result_add_ranking(PalNluResult *self, const gchar *intent, gdouble score)
{
	JsonObject *o;

	g_return_if_fail(PAL_IS_NLU_RESULT(self));
	o = json_object_new();
	json_object_set_string_member(o, "intent", intent);
	json_object_set_double_member(o, "score", score);
	json_array_add_object_element(self->ranking, o);
}

/**
 * pal_nlu_result_get_ranking:
 *
 * Returns: (transfer none): array of `{intent, score}`, best first
 */
JsonArray *
pal_nlu_result_get_ranking(PalNluResult *self)
{
	g_return_val_if_fail(PAL_IS_NLU_RESULT(self), NULL);
	return self->ranking;
}

/**
 * pal_nlu_result_add_slot:
 * @name: slot name
 * @value: (transfer full): the normalised value
 * @text: the text it was found in
 * @start: character offset of the match in the input text
 * @end: character offset after the match
 *
 * Appends `{value, text, start, end}` to the slot's list of values.
 */
void
pal_nlu_result_add_slot(PalNluResult *self,
			const gchar *name,
			JsonNode *value,
			const gchar *text,
			gint start,
			gint end)
{
	JsonArray *values;
	JsonObject *o;

	g_return_if_fail(PAL_IS_NLU_RESULT(self));
	if (!json_object_has_member(self->slots, name))
		json_object_set_array_member(self->slots, name, json_array_new());
	values = json_object_get_array_member(self->slots, name);
	o = json_object_new();
	json_object_set_member(o, "value", value);
	json_object_set_string_member(o, "text", text);
	json_object_set_int_member(o, "start", start);
	json_object_set_int_member(o, "end", end);
	json_array_add_object_element(values, o);
}

/**
 * pal_nlu_result_get_slots:
 *
 * Returns: (transfer none): slot name → array of `{value, text, start, end}`
 */
JsonObject *
pal_nlu_result_get_slots(PalNluResult *self)
{
	g_return_val_if_fail(PAL_IS_NLU_RESULT(self), NULL);
	return self->slots;
}

/**
 * pal_nlu_result_to_json:
 *
 * Returns: (transfer full): `{intent, intentScore, ranking, slots}`
 */
JsonNode *
pal_nlu_result_to_json(PalNluResult *self)
{
	JsonObject *o = json_object_new();
	JsonNode *n = json_node_new(JSON_NODE_OBJECT);

	if (self->intent != NULL)
		json_object_set_string_member(o, "intent", self->intent);
	else
		json_object_set_null_member(o, "intent");
	json_object_set_double_member(o, "intentScore", self->score);
	json_object_set_array_member(o, "ranking", json_array_ref(self->ranking));
	json_object_set_object_member(o, "slots", json_object_ref(self->slots));
	json_node_take_object(n, o);
	return n;
}
