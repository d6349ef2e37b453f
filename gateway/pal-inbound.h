/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "palaver.h"

G_BEGIN_DECLS

/* a rejected request: HTTP status, machine code, human message and the offending field */
typedef struct {
	guint status;
	const gchar *code;
	gchar *message;
	const gchar *field;
} PalInboundError;

void
pal_inbound_error_clear(PalInboundError *err);
void
pal_inbound_error_set(PalInboundError *err,
		      guint status,
		      const gchar *code,
		      const gchar *field,
		      const gchar *format,
		      ...) G_GNUC_PRINTF(5, 6);
/* {"error":{"code","message","field"}} */
gchar *
pal_inbound_error_to_json(const PalInboundError *err);

#define PAL_INBOUND_MAX_ID_CHARS   256
#define PAL_INBOUND_MAX_TEXT_CHARS 10000

/* checks the Content-Type header value: application/json, optional charset=utf-8 */
gboolean
pal_inbound_check_content_type(const gchar *content_type, PalInboundError *err);

/* validates a request body (DESIGN.md §1.1) in the order: size, UTF-8, nesting depth
 * (before parsing), JSON syntax, object, userId, sessionId, text, data */
PalMessage *
pal_inbound_parse(PalMessageKind kind,
		  const gchar *data,
		  gsize len,
		  gsize max_size,
		  guint max_depth,
		  PalInboundError *err);

PalMessage *
pal_inbound_restore(PalMessageKind kind,
		    const gchar *input_id,
		    gint64 received_at,
		    const gchar *data,
		    gsize len,
		    PalInboundError *err);

G_END_DECLS
