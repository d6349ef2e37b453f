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
