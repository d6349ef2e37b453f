/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/**
 * PalOutputSource:
 * @PAL_OUTPUT_SOURCE_BOT: produced by the endpoint's flow
 * @PAL_OUTPUT_SOURCE_AGENT: written by a human agent during handover
 * @PAL_OUTPUT_SOURCE_NOTIFY: posted to `/notify/{URLToken}`
 * @PAL_OUTPUT_SOURCE_SYSTEM: an event of the gateway itself
 *
 * The `AIOutput.source` of a delivery.
 */
typedef enum {
	PAL_OUTPUT_SOURCE_BOT,
	PAL_OUTPUT_SOURCE_AGENT,
	PAL_OUTPUT_SOURCE_NOTIFY,
	PAL_OUTPUT_SOURCE_SYSTEM,
} PalOutputSource;

const gchar *
pal_output_source_to_string(PalOutputSource source);

#define PAL_TYPE_OUTPUT (pal_output_get_type())
G_DECLARE_FINAL_TYPE(PalOutput, pal_output, PAL, OUTPUT, GObject)

/**
 * PalOutput:
 *
 * One output of a turn: text and/or data, delivered as one POST to the endpoint's webhook.
 * An output transformer may replace the whole delivered body with pal_output_set_body().
 */
PalOutput *
pal_output_new(PalOutputSource source, const gchar *text, JsonObject *data);
PalOutputSource
pal_output_get_source(PalOutput *self);
const gchar *
pal_output_get_text(PalOutput *self);
void
pal_output_set_text(PalOutput *self, const gchar *text);
JsonObject *
pal_output_get_data(PalOutput *self);
void
pal_output_set_data(PalOutput *self, JsonObject *data);
JsonNode *
pal_output_get_body(PalOutput *self);
void
pal_output_set_body(PalOutput *self, JsonNode *body);
void
pal_output_add_quick_replies(PalOutput *self,
			     const gchar *const *titles,
			     const gchar *const *payloads);

G_END_DECLS
