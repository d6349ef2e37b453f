/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Tokens for the `intents` plugin.
 *
 * A token is a maximal run of letters, digits and combining marks of the ORIGINAL text (so that
 * slots can report where they were found); everything else (spaces, punctuation, symbols)
 * separates tokens. Each token is then
 *
 *  1. normalised with NFKC (compatibility forms: "ﬁ" → "fi", full-width "１" → "1"),
 *  2. case folded (g_utf8_casefold: "Straße" → "strasse"),
 *  3. stemmed with the Snowball stemmer of the locale's language (libstemmer), and
 *  4. stripped of accents (NFD, combining marks dropped), the token and its stem alike.
 *
 * Stemming comes before accent stripping because the Snowball stemmers know their language's
 * accents (the German one reads "ä", "ö", "ü" and then drops the umlaut itself).
 * ASCII tokens, most of them, take a fast path that needs no Unicode tables.
 */

#include "config.h"

#include <libstemmer.h>
#include <string.h>

#include "pal-intents-text.h"

struct _PalIntentsAnalyzer {
	struct sb_stemmer *stemmer; /* NULL: no stemming */
	const gchar *algorithm;
};

/* ISO 639-1 codes → Snowball algorithms of Debian 12's libstemmer 2.2 */
static const struct {
	const gchar *code;
	const gchar *algorithm;
} pal_intents_stemmers[] = {
    {"ar", "arabic"},	  {"hy", "armenian"},	{"eu", "basque"},    {"ca", "catalan"},
    {"da", "danish"},	  {"nl", "dutch"},	{"en", "english"},   {"fi", "finnish"},
    {"fr", "french"},	  {"de", "german"},	{"el", "greek"},     {"hi", "hindi"},
    {"hu", "hungarian"},  {"id", "indonesian"}, {"ga", "irish"},     {"it", "italian"},
    {"lt", "lithuanian"}, {"ne", "nepali"},	{"nb", "norwegian"}, {"nn", "norwegian"},
    {"no", "norwegian"},  {"pt", "portuguese"}, {"ro", "romanian"},  {"ru", "russian"},
    {"sr", "serbian"},	  {"es", "spanish"},	{"sv", "swedish"},   {"ta", "tamil"},
    {"tr", "turkish"},	  {"yi", "yiddish"},
};

const gchar *
pal_intents_stemmer_algorithm(const gchar *locale)
{
	gchar lang[4] = {0};
	guint n = 0;

	if (locale == NULL)
		return NULL;
	/* the language subtag: "en", "en-US", "de_DE.UTF-8" */
	while (locale[n] != '\0' && g_ascii_isalpha(locale[n]) && n < 3) {
		lang[n] = g_ascii_tolower(locale[n]);
		n++;
	}
	if (n < 2 ||
	    (locale[n] != '\0' && locale[n] != '-' && locale[n] != '_' && locale[n] != '.'))
		return NULL;
	for (guint i = 0; i < G_N_ELEMENTS(pal_intents_stemmers); i++) {
		if (strcmp(pal_intents_stemmers[i].code, lang) == 0)
			return pal_intents_stemmers[i].algorithm;
	}
	return NULL;
}

PalIntentsAnalyzer *
pal_intents_analyzer_new(const gchar *locale)
{
	PalIntentsAnalyzer *self = g_new0(PalIntentsAnalyzer, 1);
	const gchar *algorithm = pal_intents_stemmer_algorithm(locale);

	if (algorithm != NULL) {
		self->stemmer = sb_stemmer_new(algorithm, NULL);
		if (self->stemmer != NULL)
			self->algorithm = algorithm;
	}
	return self;
}

void
pal_intents_analyzer_free(PalIntentsAnalyzer *self)
{
	if (self == NULL)
		return;
	sb_stemmer_delete(self->stemmer);
	g_free(self);
}

const gchar *
pal_intents_analyzer_get_algorithm(PalIntentsAnalyzer *self)
{
	return self->algorithm;
}

static void
pal_intents_token_clear(gpointer data)
{
	PalIntentsToken *token = data;

	g_free(token->norm);
	g_free(token->stem);
}

static gboolean
pal_intents_is_word_char(gunichar c)
{
	if (c < 0x80)
		return g_ascii_isalnum((gchar)c);
	return g_unichar_isalnum(c) || g_unichar_ismark(c);
}

static gboolean
pal_intents_is_ascii(const gchar *s, gssize len)
{
	for (gssize i = 0; i < len; i++) {
		if ((guchar)s[i] >= 0x80)
			return FALSE;
	}
	return TRUE;
}

/* NFD without the combining marks, then NFC again */
static gchar *
pal_intents_strip_accents(const gchar *s)
{
	g_autofree gchar *nfd = NULL;
	GString *out;

	if (pal_intents_is_ascii(s, (gssize)strlen(s)))
		return g_strdup(s);
	nfd = g_utf8_normalize(s, -1, G_NORMALIZE_NFD);
	if (nfd == NULL)
		return g_strdup(s);
	out = g_string_sized_new(strlen(nfd));
	for (const gchar *p = nfd; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (!g_unichar_ismark(c))
			g_string_append_unichar(out, c);
	}
	{
		g_autofree gchar *stripped = g_string_free(out, FALSE);
		gchar *nfc = g_utf8_normalize(stripped, -1, G_NORMALIZE_NFC);
		return nfc != NULL ? nfc : g_steal_pointer(&stripped);
	}
}

static gchar *
pal_intents_stem(PalIntentsAnalyzer *self, const gchar *folded)
{
	const sb_symbol *stem;
	gint len;

	if (self->stemmer == NULL)
		return g_strdup(folded);
	stem = sb_stemmer_stem(self->stemmer, (const sb_symbol *)folded, (int)strlen(folded));
	if (stem == NULL)
		return g_strdup(folded);
	len = sb_stemmer_length(self->stemmer);
	return g_strndup((const gchar *)stem, (gsize)len);
}

static void
pal_intents_analyzer_add(PalIntentsAnalyzer *self,
			 GArray *tokens,
			 const gchar *word,
			 gsize len,
			 gint start,
			 gint end)
{
	PalIntentsToken token = {start, end, NULL, NULL};

	if (pal_intents_is_ascii(word, (gssize)len)) {
		/* NFKC and case folding of ASCII is lower case; no accents to strip */
		token.norm = g_ascii_strdown(word, (gssize)len);
		token.stem = pal_intents_stem(self, token.norm);
	} else {
		g_autofree gchar *nfkc = g_utf8_normalize(word, (gssize)len, G_NORMALIZE_NFKC);
		g_autofree gchar *folded = g_utf8_casefold(nfkc != NULL ? nfkc : word, -1);
		g_autofree gchar *stem = pal_intents_stem(self, folded);

		token.norm = pal_intents_strip_accents(folded);
		token.stem = pal_intents_strip_accents(stem);
	}
	if (token.norm[0] == '\0') {
		pal_intents_token_clear(&token);
		return;
	}
	g_array_append_val(tokens, token);
}

GArray *
pal_intents_analyzer_tokenize(PalIntentsAnalyzer *self, const gchar *text, guint max_tokens)
{
	GArray *tokens = g_array_new(FALSE, FALSE, sizeof(PalIntentsToken));
	const gchar *p = text;
	const gchar *word = NULL;
	gint offset = 0;
	gint word_start = 0;

	g_array_set_clear_func(tokens, pal_intents_token_clear);
	for (;;) {
		gunichar c = g_utf8_get_char(p);
		gboolean in_word = c != 0 && pal_intents_is_word_char(c);

		if (in_word && word == NULL) {
			word = p;
			word_start = offset;
		} else if (!in_word && word != NULL) {
			pal_intents_analyzer_add(self,
						 tokens,
						 word,
						 (gsize)(p - word),
						 word_start,
						 offset);
			word = NULL;
			if (tokens->len >= max_tokens)
				break;
		}
		if (c == 0)
			break;
		p = g_utf8_next_char(p);
		offset++;
	}
	return tokens;
}
