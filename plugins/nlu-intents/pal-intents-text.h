/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Text analysis of the `intents` NLU plugin: tokens with their positions in the original text,
 * normalisation (NFKC, case folding, accents removed) and Snowball stemming for the model's
 * locale. The classifier's features and the list slots are both built on these tokens.
 */

/* one word of a text */
typedef struct {
	gint start;  /* character (code point) offset of the token in the original text */
	gint end;    /* character offset after it */
	gchar *norm; /* NFKC, case folded, without accents: "Bestellungen" → "bestellungen" */
	gchar *stem; /* the Snowball stem of the case-folded token, without accents: "bestell" */
} PalIntentsToken;

/* the tokens of one text; not thread-safe (the stemmer has state): one per thread or call */
typedef struct _PalIntentsAnalyzer PalIntentsAnalyzer;

/* the Snowball algorithm for a locale ("en", "en-US", "de_DE" → "english", "german"), or
 * NULL when libstemmer has none for its language */
const gchar *
pal_intents_stemmer_algorithm(const gchar *locale);

/* @locale may be NULL (no stemming); a locale without a stemmer analyses without stemming */
PalIntentsAnalyzer *
pal_intents_analyzer_new(const gchar *locale);
void
pal_intents_analyzer_free(PalIntentsAnalyzer *self);
/* the Snowball algorithm in use, or NULL */
const gchar *
pal_intents_analyzer_get_algorithm(PalIntentsAnalyzer *self);

/* the tokens (element type PalIntentsToken, freed with the array) of at most @max_tokens words
 * of @text (valid UTF-8): maximal runs of letters, digits and combining marks */
GArray *
pal_intents_analyzer_tokenize(PalIntentsAnalyzer *self, const gchar *text, guint max_tokens);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PalIntentsAnalyzer, pal_intents_analyzer_free)

G_END_DECLS
