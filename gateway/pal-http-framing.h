/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Where an HTTP/1 head (start line and headers) ends in @data: the offset after its blank line
 * (CRLF or a bare LF), or 0 while it is incomplete. *@head_len: its length up to the blank line
 * (what soup_headers_parse_*() take); *@scanned: where the next search may start, kept between
 * calls as more bytes arrive */
gsize
pal_http_find_head_end(const guint8 *data, gsize len, gsize *scanned, gsize *head_len);

/* A decoder of HTTP/1.1 chunked bodies (RFC 9112 §7.1), fed as bytes arrive: size lines (chunk
 * extensions ignored), data, and the trailer section (dropped). Shared by the webhook client
 * (answers) and the HTTP server (requests). */
typedef struct {
	guint state;
	guint64 left;
	gboolean digits;
} PalChunkedDecoder;

void
pal_chunked_decoder_init(PalChunkedDecoder *d);
/* decodes from @data; chunk data is appended to @out (nullable: dropped). Returns the bytes used
 * (fewer than @len only at the end of the body, or on an error), sets *@done at the end of the
 * body; -1 with @error on a malformed body */
gssize
pal_chunked_decoder_feed(PalChunkedDecoder *d,
			 const guint8 *data,
			 gsize len,
			 GByteArray *out,
			 gboolean *done,
			 GError **error);

G_END_DECLS
