/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "pal-output.h"

struct _PalOutput {
	GObject parent_instance;
	PalOutputSource source;
	gchar *text;
	JsonObject *data;
	JsonNode *body;
};

G_DEFINE_FINAL_TYPE(PalOutput, pal_output, G_TYPE_OBJECT)

/**
 * pal_output_source_to_string:
 *
 * Returns: `bot`, `agent`, `notify` or `system`
 */
const gchar *
pal_output_source_to_string(PalOutputSource source)
{
	switch (source) {
	case PAL_OUTPUT_SOURCE_BOT:
		return "bot";
	case PAL_OUTPUT_SOURCE_AGENT:
		return "agent";
	case PAL_OUTPUT_SOURCE_NOTIFY:
		return "notify";
	case PAL_OUTPUT_SOURCE_SYSTEM:
		return "system";
	default:
		return "bot";
	}
}

static void
pal_output_finalize(GObject *object)
{
	PalOutput *self = PAL_OUTPUT(object);

	g_free(self->text);
	g_clear_pointer(&self->data, json_object_unref);
	g_clear_pointer(&self->body, json_node_unref);
	G_OBJECT_CLASS(pal_output_parent_class)->finalize(object);
}

static void
pal_output_class_init(PalOutputClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = pal_output_finalize;
}

static void
pal_output_init(PalOutput *self)
{
}

/**
 * pal_output_new:
 * @source: who produced it
 * @text: (nullable): the text
 * @data: (nullable): the data object; a reference is taken
 *
 * Returns: (transfer full): a new output
 */
PalOutput *
pal_output_new(PalOutputSource source, const gchar *text, JsonObject *data)
{
	PalOutput *self = g_object_new(PAL_TYPE_OUTPUT, NULL);

	self->source = source;
	self->text = g_strdup(text);
	self->data = data != NULL ? json_object_ref(data) : NULL;
	return self;
}

PalOutputSource
pal_output_get_source(PalOutput *self)
{
	g_return_val_if_fail(PAL_IS_OUTPUT(self), PAL_OUTPUT_SOURCE_BOT);
	return self->source;
}

const gchar *
pal_output_get_text(PalOutput *self)
{
	g_return_val_if_fail(PAL_IS_OUTPUT(self), NULL);
	return self->text;
}

void
pal_output_set_text(PalOutput *self, const gchar *text)
{
	g_return_if_fail(PAL_IS_OUTPUT(self));
	g_free(self->text);
	self->text = g_strdup(text);
}

/**
 * pal_output_get_data:
 *
 * Returns: (nullable) (transfer none): the data object
 */
JsonObject *
pal_output_get_data(PalOutput *self)
{
	g_return_val_if_fail(PAL_IS_OUTPUT(self), NULL);
	return self->data;
}

void
pal_output_set_data(PalOutput *self, JsonObject *data)
{
	g_return_if_fail(PAL_IS_OUTPUT(self));
	g_clear_pointer(&self->data, json_object_unref);
	self->data = data != NULL ? json_object_ref(data) : NULL;
}

/**
 * pal_output_get_body:
 *
 * Returns: (nullable) (transfer none): a body that replaces the standard delivery body, as set
 * by an output transformer
 */
JsonNode *
pal_output_get_body(PalOutput *self)
{
	g_return_val_if_fail(PAL_IS_OUTPUT(self), NULL);
	return self->body;
}

/**
 * pal_output_set_body:
 * @body: (nullable): the body to POST verbatim instead of the standard one; copied
 */
void
pal_output_set_body(PalOutput *self, JsonNode *body)
{
	g_return_if_fail(PAL_IS_OUTPUT(self));
	g_clear_pointer(&self->body, json_node_unref);
	self->body = body != NULL ? json_node_copy(body) : NULL;
}

/* @object's member @name as an object, replacing whatever else is there */
static JsonObject *
pal_output_object_member(JsonObject *object, const gchar *name)
{
	JsonNode *node = json_object_get_member(object, name);

	if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node))
		json_object_set_object_member(object, name, json_object_new());
	return json_object_get_object_member(object, name);
}

/**
 * pal_output_add_quick_replies:
 * @titles: (array zero-terminated=1): what the buttons say
 * @payloads: (array zero-terminated=1) (nullable): what a tap sends back; NULL or a shorter
 *   array = the title
 *
 * Adds the quick replies of the wire contract to the output's data (created when missing):
 * `data._cognigy._default._quickReplies = {type: "quick_replies", text, quickReplies:
 * [{id, contentType: "postback", title, payload}]}`, with the output's text and ids 1, 2, …
 * Nothing happens for an empty @titles.
 */
void
pal_output_add_quick_replies(PalOutput *self,
			     const gchar *const *titles,
			     const gchar *const *payloads)
{
	JsonObject *cognigy, *def, *quick;
	JsonArray *replies;
	gboolean more_payloads = payloads != NULL;

	g_return_if_fail(PAL_IS_OUTPUT(self));
	if (titles == NULL || titles[0] == NULL)
		return;
	if (self->data == NULL)
		self->data = json_object_new();
	cognigy = pal_output_object_member(self->data, "_cognigy");
	def = pal_output_object_member(cognigy, "_default");
	quick = json_object_new();
	replies = json_array_new();
	json_object_set_string_member(quick, "type", "quick_replies");
	json_object_set_string_member(quick, "text", self->text != NULL ? self->text : "");
	for (guint i = 0; titles[i] != NULL; i++) {
		JsonObject *reply = json_object_new();
		const gchar *payload = titles[i];

		if (more_payloads && payloads[i] != NULL)
			payload = payloads[i];
		else
			more_payloads = FALSE;
		json_object_set_int_member(reply, "id", i + 1);
		json_object_set_string_member(reply, "contentType", "postback");
		json_object_set_string_member(reply, "title", titles[i]);
		json_object_set_string_member(reply, "payload", payload);
		json_array_add_object_element(replies, reply);
	}
	json_object_set_array_member(quick, "quickReplies", replies);
	json_object_set_object_member(def, "_quickReplies", quick);
}
