/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <gio/gio.h>

#include "pal-http-framing.h"

/* where a chunked body is: a size line, its extension, data, the line end after the data, the
 * trailer */
enum {
	PAL_CHUNK_SIZE,
	PAL_CHUNK_SIZE_LF, /* a CR ended the size: only LF may follow */
	PAL_CHUNK_EXT,
	PAL_CHUNK_DATA,
	PAL_CHUNK_DATA_END,
	PAL_CHUNK_TRAILER_START,
	PAL_CHUNK_TRAILER_LINE,
};

gsize
pal_http_find_head_end(const guint8 *data, gsize len, gsize *scanned, gsize *head_len)
{
	for (gsize i = *scanned; i < len; i++) {
		if (data[i] != '\n')
			continue;
		if (i + 1 < len && data[i + 1] == '\n') {
			*head_len = i + 1;
			return i + 2;
		}
		if (i + 2 < len && data[i + 1] == '\r' && data[i + 2] == '\n') {
			*head_len = i + 1;
			return i + 3;
		}
	}
	*scanned = len > 2 ? len - 2 : 0;
	return 0;
}

void
pal_chunked_decoder_init(PalChunkedDecoder *d)
{
	d->state = PAL_CHUNK_SIZE;
	d->left = 0;
	d->digits = FALSE;
}

gssize
pal_chunked_decoder_feed(PalChunkedDecoder *d,
			 const guint8 *data,
			 gsize len,
			 GByteArray *out,
			 gboolean *done,
			 GError **error)
{
	gsize i = 0;

	*done = FALSE;
	while (i < len) {
		guint8 c = data[i];

		switch (d->state) {
		case PAL_CHUNK_SIZE:
			if (g_ascii_isxdigit(c)) {
				/* a size that does not fit is not a size */
				if (d->left > (G_MAXUINT64 >> 4))
					goto bad;
				d->left = (d->left << 4) | (guint64)g_ascii_xdigit_value((gchar)c);
				d->digits = TRUE;
				i++;
				break;
			}
			if (c == ';' || c == ' ' || c == '\t') {
				d->state = PAL_CHUNK_EXT;
				i++;
				break;
			}
			if (c == '\r') {
				d->state = PAL_CHUNK_SIZE_LF;
				i++;
				break;
			}
			G_GNUC_FALLTHROUGH;
		case PAL_CHUNK_SIZE_LF:
			/* a bare CR is not a line end, nor ignored between digits ("2\r9" is no 0x29) */
			if (c != '\n')
				goto bad;
			G_GNUC_FALLTHROUGH;
		case PAL_CHUNK_EXT:
			i++;
			if (c != '\n')
				break;
			if (!d->digits)
				goto bad;
			d->digits = FALSE;
			d->state = d->left == 0 ? PAL_CHUNK_TRAILER_START : PAL_CHUNK_DATA;
			break;
		case PAL_CHUNK_DATA: {
			gsize take = (gsize)MIN((guint64)(len - i), d->left);
			if (out != NULL)
				g_byte_array_append(out, data + i, (guint)take);
			i += take;
			d->left -= take;
			if (d->left == 0)
				d->state = PAL_CHUNK_DATA_END;
			break;
		}
		case PAL_CHUNK_DATA_END:
			i++;
			if (c == '\r')
				break;
			if (c != '\n')
				goto bad;
			d->state = PAL_CHUNK_SIZE;
			break;
		case PAL_CHUNK_TRAILER_START:
			i++;
			if (c == '\n') {
				*done = TRUE;
				return (gssize)i;
			}
			if (c != '\r')
				d->state = PAL_CHUNK_TRAILER_LINE;
			break;
		case PAL_CHUNK_TRAILER_LINE:
		default:
			i++;
			if (c == '\n')
				d->state = PAL_CHUNK_TRAILER_START;
			break;
		}
	}
	return (gssize)i;
bad:
	g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "malformed chunked body");
	return -1;
}
