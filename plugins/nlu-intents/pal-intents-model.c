/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The model of the `intents` NLU plugin: file format, features, training and prediction.
 *
 * ## Model file
 *
 * A JSON object (all keys but "intents" optional; unknown keys are refused):
 *
 *   {
 *     "locale": "en",             language of the examples: picks the Snowball stemmer
 *                                 (default: the endpoint's locale, else "en")
 *     "threshold": 0.3,           out-of-scope threshold from 0 to 1 (default 0.3): an input
 *                                 whose best intent scores lower gets intent null
 *     "intents": {                intent name → example utterances (at least 2 intents, each
 *       "order_status": ["where is my order", "track my parcel", …],      with ≥ 1 example)
 *       "greeting": ["hello", "hi there", …]
 *     },
 *     "slots": { … },             see pal-intents-slots.c
 *     "training": { … },          hyperparameters, see PalIntentsConfig below (rarely needed)
 *     "description": "…"          free text, ignored
 *   }
 *
 * or a training array as the public data sets have it, `[{"text": "…", "intent": "…"}, …]`
 * (other members of the rows are ignored; locale and threshold are the defaults).
 *
 * Limits (pal-intents-model.h): 64 MiB, nesting depth 32, 2,000 intents, 200,000 examples,
 * 1,000 characters per example, 128 per intent name. Every problem is reported with its JSON
 * path ("intents.order_status[3]: expected a string, got 42"), up to 20 of them.
 *
 * ## Features
 *
 * Texts are tokenised and normalised by pal-intents-text.c (NFKC, case folding, accents
 * removed, Snowball stems). Digits become 0, so that "order 12345" and "order 67890" look
 * alike. Features, hashed with 64-bit FNV-1a and kept in a vocabulary of those seen in
 * training (unseen ones are ignored):
 *
 *  - word n-grams of the stems, n = 1 … wordNgrams (2), with sentence start and end marks;
 *  - character n-grams, n = charNgrams[0] … charNgrams[1] (2 … 5), of each normalised
 *    (unstemmed) word padded with a space on both sides: robust to typos and inflection.
 *
 * Values are TF-IDF with sublinear term frequency (1 + ln tf) and smoothed idf
 * (ln((1 + N) / (1 + df)) + 1); the word block and the character block are each scaled to unit
 * length (L2), the character block then by charWeight (1).
 *
 * ## Classifier
 *
 * Multinomial logistic regression (softmax over the intents) trained by stochastic gradient
 * descent: `epochs` passes over the examples, in an order shuffled by a fixed xorshift
 * generator (`seed`), learning rate learningRate / (1 + learningRate · l2 · t) and L2
 * regularisation `l2` applied through a scale factor (so that a step touches only the rows of
 * the example's features). Its softmax probabilities are the scores; the OOS threshold applies
 * to the best one. Everything runs in a fixed order in one thread: the same file gives the same
 * weights and scores, bit for bit, on the same build (CLINC150's 15,000 examples train in about
 * 3 s, so a second thread was not worth its nondeterminism).
 *
 * Defaults (the "training" object overrides them): epochs 15, learningRate 1.0, l2 3e-6,
 * wordNgrams 2, charNgrams [2, 5], charWeight 1, minCount 1, seed 1. They were chosen on
 * CLINC150's val.json (accuracy, and out-of-scope recall on oos_val.json), training on its
 * train.json; other settings tried there (charNgrams [1, 5] and [2, 6], wordNgrams 3,
 * charWeight 0.7 and 1.5, unstemmed words, skip-bigrams, averaged weights, l2 1e-6 … 1e-4)
 * were not better. No test split was used for any choice.
 *
 * Memory: (features × intents rounded up to 4) floats, e.g. about 35 MB for CLINC150's 150
 * intents and 15,000 examples (58,541 features); the demo model takes about 100 kB.
 */

#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "pal-intents-model.h"
#include "pal-intents-slots.h"

#define PAL_INTENTS_MAX_ERRORS 20
/* characters of a word that make character n-grams */
#define PAL_INTENTS_MAX_WORD_CHARS 48

/* the training hyperparameters ("training" in a model file) */
typedef struct {
	guint epochs;
	gdouble learning_rate;
	gdouble l2;
	guint char_min; /* 0: no character n-grams */
	guint char_max;
	guint word_ngrams;
	gdouble char_weight;
	guint min_count; /* features seen in fewer examples are dropped */
	guint64 seed;
} PalIntentsConfig;

static const PalIntentsConfig pal_intents_config_default = {
    .epochs = 15,
    .learning_rate = 1.0,
    .l2 = 3e-6,
    .char_min = 2,
    .char_max = 5,
    .word_ngrams = 2,
    .char_weight = 1.0,
    .min_count = 1,
    .seed = 1,
};

/* a vocabulary: 64-bit feature hash → feature index, open addressing; read-only after training */
typedef struct {
	guint64 *keys; /* 0: empty */
	guint32 *values;
	guint32 mask;
	guint32 n;
} PalIntentsVocab;

struct _PalIntentsModel {
	gint ref_count;
	gchar *locale;
	const gchar *stemmer; /* static string or NULL */
	gdouble threshold;
	PalIntentsConfig cfg;
	GPtrArray *intents; /* gchar* */
	guint n_examples;
	PalIntentsVocab vocab;
	guint n_features;
	gfloat *idf;	 /* n_features */
	guint8 *block;	 /* n_features: 0 words, 1 characters */
	guint stride;	 /* intents rounded up to 4 */
	gfloat *weights; /* n_features × stride */
	gfloat *bias;	 /* stride */
	PalIntentsSlots *slots;
	gdouble train_seconds;
};

/* ---------------------------------------------------------------------------------------- */
/* vocabulary */

static guint32
pal_intents_vocab_slot(const PalIntentsVocab *v, guint64 key)
{
	/* the low bits of FNV-1a are well mixed enough after a final multiply */
	guint32 i = (guint32)((key * G_GUINT64_CONSTANT(0x9E3779B97F4A7C15)) >> 32) & v->mask;

	while (v->keys[i] != 0 && v->keys[i] != key)
		i = (i + 1) & v->mask;
	return i;
}

static void
pal_intents_vocab_init(PalIntentsVocab *v, guint32 capacity)
{
	guint32 size = 16;

	while (size < capacity * 2)
		size <<= 1;
	v->keys = g_new0(guint64, size);
	v->values = g_new0(guint32, size);
	v->mask = size - 1;
	v->n = 0;
}

static void
pal_intents_vocab_clear(PalIntentsVocab *v)
{
	g_clear_pointer(&v->keys, g_free);
	g_clear_pointer(&v->values, g_free);
	v->n = 0;
}

static void
pal_intents_vocab_grow(PalIntentsVocab *v)
{
	PalIntentsVocab bigger;

	pal_intents_vocab_init(&bigger, (v->mask + 1));
	for (guint32 i = 0; i <= v->mask; i++) {
		if (v->keys[i] != 0) {
			guint32 slot = pal_intents_vocab_slot(&bigger, v->keys[i]);
			bigger.keys[slot] = v->keys[i];
			bigger.values[slot] = v->values[i];
			bigger.n++;
		}
	}
	pal_intents_vocab_clear(v);
	*v = bigger;
}

/* the value of @key, inserting @value_if_new when it is not there; *inserted tells which */
static guint32
pal_intents_vocab_insert(PalIntentsVocab *v, guint64 key, guint32 value_if_new, gboolean *inserted)
{
	guint32 slot;

	if ((v->n + 1) * 2 > v->mask + 1)
		pal_intents_vocab_grow(v);
	slot = pal_intents_vocab_slot(v, key);
	if (v->keys[slot] == key) {
		*inserted = FALSE;
		return v->values[slot];
	}
	v->keys[slot] = key;
	v->values[slot] = value_if_new;
	v->n++;
	*inserted = TRUE;
	return value_if_new;
}

static gboolean
pal_intents_vocab_lookup(const PalIntentsVocab *v, guint64 key, guint32 *value)
{
	guint32 slot = pal_intents_vocab_slot(v, key);

	if (v->keys[slot] != key)
		return FALSE;
	*value = v->values[slot];
	return TRUE;
}

/* ---------------------------------------------------------------------------------------- */
/* features */

#define PAL_FNV_OFFSET G_GUINT64_CONSTANT(14695981039346656037)
#define PAL_FNV_PRIME  G_GUINT64_CONSTANT(1099511628211)

static inline guint64
pal_fnv(guint64 h, const void *data, gsize len)
{
	const guchar *p = data;

	for (gsize i = 0; i < len; i++) {
		h ^= p[i];
		h *= PAL_FNV_PRIME;
	}
	return h;
}

static inline guint64
pal_fnv_final(guint64 h)
{
	return h != 0 ? h : 1;
}

typedef struct {
	guint64 hash;
	guint32 count;
	guint32 block;
} PalIntentsRaw;

/* @s with ASCII digits replaced by 0 */
static gchar *
pal_intents_digits_to_zero(const gchar *s)
{
	gchar *copy = g_strdup(s);

	for (gchar *p = copy; *p != '\0'; p++) {
		if (*p >= '1' && *p <= '9')
			*p = '0';
	}
	return copy;
}

static void
pal_intents_add_raw(GArray *raw, guint64 hash, guint32 block)
{
	PalIntentsRaw r = {pal_fnv_final(hash), 1, block};

	g_array_append_val(raw, r);
}

static void
pal_intents_char_ngrams(const PalIntentsConfig *cfg, const gchar *word, GArray *raw)
{
	g_autofree gchar *padded = g_strdup_printf(" %s ", word);
	guint offsets[PAL_INTENTS_MAX_WORD_CHARS + 3];
	guint n_chars = 0;
	const gchar *p = padded;

	/* the byte offset of each character, and of the end */
	while (*p != '\0' && n_chars < PAL_INTENTS_MAX_WORD_CHARS + 2) {
		offsets[n_chars++] = (guint)(p - padded);
		p = g_utf8_next_char(p);
	}
	offsets[n_chars] = (guint)(p - padded);
	for (guint n = cfg->char_min; n <= cfg->char_max; n++) {
		for (guint i = 0; i + n <= n_chars; i++) {
			guint64 h = pal_fnv(PAL_FNV_OFFSET, "c", 1);
			h = pal_fnv(h, padded + offsets[i], offsets[i + n] - offsets[i]);
			pal_intents_add_raw(raw, h, 1);
		}
	}
}

static gint
pal_intents_raw_cmp(gconstpointer a, gconstpointer b)
{
	const PalIntentsRaw *ra = a;
	const PalIntentsRaw *rb = b;

	return ra->hash < rb->hash ? -1 : ra->hash > rb->hash ? 1 : 0;
}

/* the distinct features of @tokens with their counts, sorted by hash */
static GArray *
pal_intents_features(const PalIntentsConfig *cfg, GArray *tokens)
{
	GArray *raw = g_array_sized_new(FALSE, FALSE, sizeof(PalIntentsRaw), 64 + tokens->len * 24);
	g_autoptr(GPtrArray) stems = g_ptr_array_new_with_free_func(g_free);
	guint out = 0;

	for (guint i = 0; i < tokens->len; i++) {
		PalIntentsToken *t = &g_array_index(tokens, PalIntentsToken, i);
		g_autofree gchar *norm = pal_intents_digits_to_zero(t->norm);

		g_ptr_array_add(stems, pal_intents_digits_to_zero(t->stem));
		if (cfg->char_min > 0)
			pal_intents_char_ngrams(cfg, norm, raw);
	}
	/* word n-grams over "<s> w1 … wn </s>" (the marks alone are not features) */
	for (guint n = 1; n <= cfg->word_ngrams; n++) {
		gint first = n == 1 ? 0 : -1;
		gint last = n == 1 ? (gint)stems->len - 1 : (gint)stems->len - (gint)n + 1;

		for (gint i = first; i <= last; i++) {
			guint64 h = pal_fnv(PAL_FNV_OFFSET, "w", 1);
			h = pal_fnv(h, &n, sizeof(n));
			for (gint k = i; k < i + (gint)n; k++) {
				const gchar *w = k < 0 ? "<s>"
						 : k >= (gint)stems->len
						     ? "</s>"
						     : g_ptr_array_index(stems, k);
				h = pal_fnv(h, w, strlen(w) + 1);
			}
			pal_intents_add_raw(raw, h, 0);
		}
	}
	/* merge duplicates */
	g_array_sort(raw, pal_intents_raw_cmp);
	for (guint i = 0; i < raw->len; i++) {
		PalIntentsRaw *r = &g_array_index(raw, PalIntentsRaw, i);
		if (out > 0 && g_array_index(raw, PalIntentsRaw, out - 1).hash == r->hash) {
			g_array_index(raw, PalIntentsRaw, out - 1).count += r->count;
			continue;
		}
		g_array_index(raw, PalIntentsRaw, out++) = *r;
	}
	g_array_set_size(raw, out);
	return raw;
}

/* sparse vector of one text */
typedef struct {
	guint32 index;
	gfloat value;
} PalIntentsEntry;

/* TF-IDF, each block to unit length (the character block to char_weight); entries whose
 * feature is not in @vocab are dropped */
static void
pal_intents_vectorize(const PalIntentsModel *self, GArray *raw, GArray *vec)
{
	gdouble norm[2] = {0, 0};
	gfloat scale[2];

	g_array_set_size(vec, 0);
	for (guint i = 0; i < raw->len; i++) {
		PalIntentsRaw *r = &g_array_index(raw, PalIntentsRaw, i);
		PalIntentsEntry e;
		if (!pal_intents_vocab_lookup(&self->vocab, r->hash, &e.index))
			continue;
		e.value = (gfloat)((1.0 + log((gdouble)r->count)) * self->idf[e.index]);
		norm[self->block[e.index]] += (gdouble)e.value * e.value;
		g_array_append_val(vec, e);
	}
	scale[0] = norm[0] > 0 ? (gfloat)(1.0 / sqrt(norm[0])) : 0.0f;
	scale[1] = norm[1] > 0 ? (gfloat)(self->cfg.char_weight / sqrt(norm[1])) : 0.0f;
	for (guint i = 0; i < vec->len; i++) {
		PalIntentsEntry *e = &g_array_index(vec, PalIntentsEntry, i);
		e->value *= scale[self->block[e->index]];
	}
}

/* ---------------------------------------------------------------------------------------- */
/* linear algebra on rows of `stride` floats (a multiple of 4), in 4-float vectors */

typedef gfloat PalV4 __attribute__((vector_size(16)));

/* acc += x · row */
static inline void
pal_row_axpy(gfloat *acc, const gfloat *row, gfloat x, guint stride)
{
	PalV4 xv = {x, x, x, x};

	for (guint c = 0; c < stride; c += 4) {
		PalV4 a, r;
		memcpy(&a, acc + c, sizeof(a));
		memcpy(&r, row + c, sizeof(r));
		a += xv * r;
		memcpy(acc + c, &a, sizeof(a));
	}
}

/* logits of @vec: bias + Σ value · row; @scale multiplies the weights */
static void
pal_intents_logits(const gfloat *weights,
		   const gfloat *bias,
		   guint stride,
		   gfloat scale,
		   const PalIntentsEntry *vec,
		   guint n,
		   gfloat *logits)
{
	memset(logits, 0, stride * sizeof(gfloat));
	for (guint i = 0; i < n; i++)
		pal_row_axpy(logits, weights + (gsize)vec[i].index * stride, vec[i].value, stride);
	for (guint c = 0; c < stride; c++)
		logits[c] = logits[c] * scale + bias[c];
}

/* softmax over the first @n of @logits, into @probs */
static void
pal_intents_softmax(const gfloat *logits, guint n, gdouble *probs)
{
	gdouble max = logits[0];
	gdouble sum = 0;

	for (guint c = 1; c < n; c++)
		max = MAX(max, (gdouble)logits[c]);
	for (guint c = 0; c < n; c++) {
		probs[c] = exp((gdouble)logits[c] - max);
		sum += probs[c];
	}
	for (guint c = 0; c < n; c++)
		probs[c] /= sum;
}

/* ---------------------------------------------------------------------------------------- */
/* training */

static guint64
pal_xorshift(guint64 *state)
{
	guint64 x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}

static void
pal_intents_train_sgd(PalIntentsModel *self,
		      const guint *row_ptr,
		      const PalIntentsEntry *entries,
		      const guint *labels,
		      guint n_examples)
{
	const PalIntentsConfig *cfg = &self->cfg;
	guint n_classes = self->intents->len;
	guint stride = self->stride;
	g_autofree guint *order = g_new(guint, n_examples);
	g_autofree gfloat *logits = g_new(gfloat, stride);
	g_autofree gfloat *grad = g_new0(gfloat, stride);
	g_autofree gdouble *probs = g_new(gdouble, n_classes);
	guint64 rng = cfg->seed * G_GUINT64_CONSTANT(0x9E3779B97F4A7C15) + 1;
	gdouble scale = 1.0;
	guint64 t = 0;
	gsize total = (gsize)self->n_features * stride;

	for (guint i = 0; i < n_examples; i++)
		order[i] = i;
	for (guint epoch = 0; epoch < cfg->epochs; epoch++) {
		/* Fisher-Yates with the fixed generator */
		for (guint i = n_examples - 1; i > 0; i--) {
			guint j = (guint)(pal_xorshift(&rng) % (i + 1));
			guint tmp = order[i];
			order[i] = order[j];
			order[j] = tmp;
		}
		for (guint k = 0; k < n_examples; k++) {
			guint ex = order[k];
			const PalIntentsEntry *vec = entries + row_ptr[ex];
			guint n = row_ptr[ex + 1] - row_ptr[ex];
			gdouble eta =
			    cfg->learning_rate / (1.0 + cfg->learning_rate * cfg->l2 * (gdouble)t);
			gfloat step;

			t++;
			pal_intents_logits(self->weights,
					   self->bias,
					   stride,
					   (gfloat)scale,
					   vec,
					   n,
					   logits);
			pal_intents_softmax(logits, n_classes, probs);
			for (guint c = 0; c < n_classes; c++)
				grad[c] = (gfloat)(probs[c] - (c == labels[ex] ? 1.0 : 0.0));
			/* L2: w ← (1 − η·l2)·w, kept in the scale, before the loss step */
			scale *= 1.0 - eta * cfg->l2;
			step = (gfloat)(-eta / scale);
			for (guint i = 0; i < n; i++)
				pal_row_axpy(self->weights + (gsize)vec[i].index * stride,
					     grad,
					     step * vec[i].value,
					     stride);
			for (guint c = 0; c < n_classes; c++)
				self->bias[c] -= (gfloat)eta * grad[c];
			if (scale < 1e-4) {
				for (gsize i = 0; i < total; i++)
					self->weights[i] *= (gfloat)scale;
				scale = 1.0;
			}
		}
	}
	if (scale != 1.0) {
		for (gsize i = 0; i < total; i++)
			self->weights[i] *= (gfloat)scale;
	}
}

/* ---------------------------------------------------------------------------------------- */
/* reading the file */

typedef struct {
	GPtrArray *errors; /* gchar*, "path: message" */
	guint n_errors;	   /* all of them, also those not kept */
	gchar *locale;
	gdouble threshold;
	PalIntentsConfig cfg;
	GPtrArray *intents;	  /* gchar* */
	GHashTable *intent_index; /* name → index + 1 */
	GPtrArray *texts;	  /* const gchar*, owned by the JSON tree */
	GPtrArray *text_paths;	  /* gchar*: JSON path of each text */
	GArray *labels;		  /* guint */
	JsonObject *slots;	  /* nullable, owned by the JSON tree */
} PalIntentsSource;

static void
pal_intents_source_clear(PalIntentsSource *src)
{
	g_ptr_array_unref(src->errors);
	g_free(src->locale);
	g_ptr_array_unref(src->intents);
	g_hash_table_unref(src->intent_index);
	g_ptr_array_unref(src->texts);
	g_ptr_array_unref(src->text_paths);
	g_array_unref(src->labels);
}

static void G_GNUC_PRINTF(3, 4)
    pal_intents_error(PalIntentsSource *src, const gchar *path, const gchar *format, ...)
{
	va_list args;
	g_autofree gchar *msg = NULL;

	src->n_errors++;
	if (src->errors->len >= PAL_INTENTS_MAX_ERRORS)
		return;
	va_start(args, format);
	msg = g_strdup_vprintf(format, args);
	va_end(args);
	g_ptr_array_add(src->errors,
			path != NULL && path[0] != '\0' ? g_strdup_printf("%s: %s", path, msg)
							: g_steal_pointer(&msg));
}

static void
pal_intents_error_got(PalIntentsSource *src,
		      const gchar *path,
		      const gchar *expected,
		      JsonNode *node)
{
	g_autofree gchar *got = pal_json_describe_node(node);

	pal_intents_error(src, path, "expected %s, got %s", expected, got);
}

static const gchar *
pal_intents_get_string(PalIntentsSource *src, JsonNode *node, const gchar *path)
{
	if (node == NULL || !JSON_NODE_HOLDS_VALUE(node) ||
	    json_node_get_value_type(node) != G_TYPE_STRING) {
		pal_intents_error_got(src, path, "a string", node);
		return NULL;
	}
	return json_node_get_string(node);
}

static gboolean
pal_intents_get_number(PalIntentsSource *src,
		       JsonNode *node,
		       const gchar *path,
		       gdouble min,
		       gdouble max,
		       gdouble *out)
{
	GType type = node != NULL && JSON_NODE_HOLDS_VALUE(node) ? json_node_get_value_type(node)
								 : G_TYPE_INVALID;
	gdouble v = type == G_TYPE_DOUBLE || type == G_TYPE_INT64 ? json_node_get_double(node) : NAN;

	/* not a number, or out of range (NaN is neither) */
	if (!(v >= min && v <= max)) {
		g_autofree gchar *expected = g_strdup_printf("a number from %g to %g", min, max);
		pal_intents_error_got(src, path, expected, node);
		return FALSE;
	}
	*out = v;
	return TRUE;
}

static gboolean
pal_intents_get_uint(PalIntentsSource *src,
		     JsonNode *node,
		     const gchar *path,
		     guint min,
		     guint max,
		     guint *out)
{
	g_autoptr(GError) error = NULL;

	if (!pal_json_node_get_uint(node, path, min, max, out, &error)) {
		/* the message names the path already */
		pal_intents_error(src, NULL, "%s", error->message);
		return FALSE;
	}
	return TRUE;
}

/* a name or example: no control characters, at most @max characters, not only spaces */
static gboolean
pal_intents_check_text(PalIntentsSource *src,
		       const gchar *text,
		       const gchar *path,
		       guint max,
		       const gchar *what)
{
	glong len = g_utf8_strlen(text, -1);
	gboolean blank = TRUE;

	if (len > (glong)max) {
		pal_intents_error(src,
				  path,
				  "%s is %ld characters long, at most %u are allowed",
				  what,
				  len,
				  max);
		return FALSE;
	}
	for (const gchar *p = text; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (g_unichar_iscntrl(c) && c != '\t' && c != '\n') {
			pal_intents_error(src, path, "%s contains a control character", what);
			return FALSE;
		}
		if (!g_unichar_isspace(c))
			blank = FALSE;
	}
	if (blank) {
		pal_intents_error(src, path, "%s is empty", what);
		return FALSE;
	}
	return TRUE;
}

static void
pal_intents_add_example(PalIntentsSource *src,
			const gchar *intent,
			const gchar *text,
			const gchar *path)
{
	guint index = GPOINTER_TO_UINT(g_hash_table_lookup(src->intent_index, intent));

	if (src->texts->len >= PAL_INTENTS_MAX_EXAMPLES) {
		if (src->texts->len == PAL_INTENTS_MAX_EXAMPLES)
			pal_intents_error(src,
					  path,
					  "more than %u examples",
					  PAL_INTENTS_MAX_EXAMPLES);
		g_ptr_array_add(src->texts, NULL); /* counted once */
		return;
	}
	if (index == 0) {
		if (src->intents->len >= PAL_INTENTS_MAX_INTENTS) {
			if (src->intents->len == PAL_INTENTS_MAX_INTENTS)
				pal_intents_error(src,
						  path,
						  "more than %u intents",
						  PAL_INTENTS_MAX_INTENTS);
			g_ptr_array_add(src->intents, g_strdup(intent));
			return;
		}
		g_ptr_array_add(src->intents, g_strdup(intent));
		index = src->intents->len;
		g_hash_table_insert(src->intent_index,
				    g_ptr_array_index(src->intents, index - 1),
				    GUINT_TO_POINTER(index));
	}
	g_ptr_array_add(src->texts, (gpointer)text);
	g_ptr_array_add(src->text_paths, g_strdup(path));
	index--;
	g_array_append_val(src->labels, index);
}

static void
pal_intents_read_training(PalIntentsSource *src, JsonNode *node)
{
	JsonObject *obj;
	JsonObjectIter iter;
	const gchar *member;
	JsonNode *value;

	if (!JSON_NODE_HOLDS_OBJECT(node)) {
		pal_intents_error_got(src, "training", "an object", node);
		return;
	}
	obj = json_node_get_object(node);
	json_object_iter_init_ordered(&iter, obj);
	while (json_object_iter_next_ordered(&iter, &member, &value)) {
		g_autofree gchar *path = pal_json_path_member("training", member);
		guint u;
		gdouble d;

		if (g_strcmp0(member, "epochs") == 0) {
			if (pal_intents_get_uint(src, value, path, 1, 200, &u))
				src->cfg.epochs = u;
		} else if (g_strcmp0(member, "learningRate") == 0) {
			if (pal_intents_get_number(src, value, path, 1e-6, 100, &d))
				src->cfg.learning_rate = d;
		} else if (g_strcmp0(member, "l2") == 0) {
			if (pal_intents_get_number(src, value, path, 0, 1, &d))
				src->cfg.l2 = d;
		} else if (g_strcmp0(member, "wordNgrams") == 0) {
			if (pal_intents_get_uint(src, value, path, 1, 3, &u))
				src->cfg.word_ngrams = u;
		} else if (g_strcmp0(member, "charWeight") == 0) {
			if (pal_intents_get_number(src, value, path, 0, 10, &d))
				src->cfg.char_weight = d;
		} else if (g_strcmp0(member, "minCount") == 0) {
			if (pal_intents_get_uint(src, value, path, 1, 1000, &u))
				src->cfg.min_count = u;
		} else if (g_strcmp0(member, "seed") == 0) {
			if (pal_intents_get_uint(src, value, path, 0, G_MAXUINT32, &u))
				src->cfg.seed = u;
		} else if (g_strcmp0(member, "charNgrams") == 0) {
			JsonArray *a =
			    JSON_NODE_HOLDS_ARRAY(value) ? json_node_get_array(value) : NULL;
			guint lo = 0, hi = 0;
			g_autofree gchar *p0 = pal_json_path_index(path, 0);
			g_autofree gchar *p1 = pal_json_path_index(path, 1);

			if (JSON_NODE_HOLDS_NULL(value)) {
				src->cfg.char_min = src->cfg.char_max = 0;
			} else if (a == NULL || json_array_get_length(a) != 2) {
				pal_intents_error_got(
				    src,
				    path,
				    "[min, max] (character n-gram lengths) or null",
				    value);
			} else if (pal_intents_get_uint(src,
							json_array_get_element(a, 0),
							p0,
							1,
							8,
							&lo) &&
				   pal_intents_get_uint(src,
							json_array_get_element(a, 1),
							p1,
							lo,
							8,
							&hi)) {
				src->cfg.char_min = lo;
				src->cfg.char_max = hi;
			}
		} else {
			pal_intents_error(
			    src,
			    path,
			    "unknown option (expected epochs, learningRate, l2, wordNgrams, "
			    "charNgrams, charWeight, minCount or seed)");
		}
	}
}

static void
pal_intents_read_intents(PalIntentsSource *src, JsonNode *node)
{
	JsonObjectIter iter;
	const gchar *name;
	JsonNode *value;

	if (!JSON_NODE_HOLDS_OBJECT(node)) {
		pal_intents_error_got(src,
				      "intents",
				      "an object of intent name → array of examples",
				      node);
		return;
	}
	json_object_iter_init_ordered(&iter, json_node_get_object(node));
	while (json_object_iter_next_ordered(&iter, &name, &value)) {
		g_autofree gchar *path = pal_json_path_member("intents", name);
		JsonArray *examples;
		guint n;

		if (!pal_intents_check_text(src,
					    name,
					    path,
					    PAL_INTENTS_MAX_NAME_CHARS,
					    "the intent name"))
			continue;
		if (!JSON_NODE_HOLDS_ARRAY(value)) {
			pal_intents_error_got(src, path, "an array of example utterances", value);
			continue;
		}
		examples = json_node_get_array(value);
		n = json_array_get_length(examples);
		if (n == 0) {
			pal_intents_error(src, path, "an intent needs at least one example");
			continue;
		}
		for (guint i = 0; i < n; i++) {
			g_autofree gchar *epath = pal_json_path_index(path, i);
			const gchar *text =
			    pal_intents_get_string(src, json_array_get_element(examples, i), epath);

			if (text == NULL || !pal_intents_check_text(src,
								    text,
								    epath,
								    PAL_INTENTS_MAX_EXAMPLE_CHARS,
								    "the example"))
				continue;
			pal_intents_add_example(src, name, text, epath);
		}
	}
}

static void
pal_intents_read_object(PalIntentsSource *src, JsonObject *root)
{
	JsonObjectIter iter;
	const gchar *member;
	JsonNode *value;
	gboolean have_intents = FALSE;

	json_object_iter_init_ordered(&iter, root);
	while (json_object_iter_next_ordered(&iter, &member, &value)) {
		if (g_strcmp0(member, "locale") == 0) {
			const gchar *locale = pal_intents_get_string(src, value, "locale");
			if (locale != NULL && (strlen(locale) < 2 || strlen(locale) > 35)) {
				pal_intents_error_got(src,
						      "locale",
						      "a language tag such as \"en\" or \"de-CH\"",
						      value);
			} else if (locale != NULL) {
				g_free(src->locale);
				src->locale = g_strdup(locale);
			}
		} else if (g_strcmp0(member, "threshold") == 0) {
			pal_intents_get_number(src, value, "threshold", 0, 1, &src->threshold);
		} else if (g_strcmp0(member, "intents") == 0) {
			have_intents = TRUE;
			pal_intents_read_intents(src, value);
		} else if (g_strcmp0(member, "slots") == 0) {
			if (JSON_NODE_HOLDS_OBJECT(value))
				src->slots = json_node_get_object(value);
			else
				pal_intents_error_got(src,
						      "slots",
						      "an object of slot name → definition",
						      value);
		} else if (g_strcmp0(member, "training") == 0) {
			pal_intents_read_training(src, value);
		} else if (g_strcmp0(member, "description") == 0) {
			/* free text */
		} else {
			g_autofree gchar *path = pal_json_path_member("", member);
			pal_intents_error(
			    src,
			    path,
			    "unknown key (a model has locale, threshold, intents, slots, training "
			    "and description)");
		}
	}
	if (!have_intents)
		pal_intents_error(src, "intents", "missing: a model needs intents with examples");
}

static void
pal_intents_read_array(PalIntentsSource *src, JsonArray *rows)
{
	guint n = json_array_get_length(rows);

	for (guint i = 0; i < n; i++) {
		g_autofree gchar *path = pal_json_path_index("", i);
		g_autofree gchar *tpath = pal_json_path_member(path, "text");
		g_autofree gchar *ipath = pal_json_path_member(path, "intent");
		JsonNode *row = json_array_get_element(rows, i);
		JsonObject *obj;
		const gchar *text;
		const gchar *intent;

		if (!JSON_NODE_HOLDS_OBJECT(row)) {
			pal_intents_error_got(src,
					      path,
					      "an object {\"text\": …, \"intent\": …}",
					      row);
			continue;
		}
		obj = json_node_get_object(row);
		text = pal_intents_get_string(src, json_object_get_member(obj, "text"), tpath);
		intent = pal_intents_get_string(src, json_object_get_member(obj, "intent"), ipath);
		if (text == NULL || intent == NULL)
			continue;
		if (!pal_intents_check_text(src,
					    intent,
					    ipath,
					    PAL_INTENTS_MAX_NAME_CHARS,
					    "the intent name") ||
		    !pal_intents_check_text(src,
					    text,
					    tpath,
					    PAL_INTENTS_MAX_EXAMPLE_CHARS,
					    "the example"))
			continue;
		pal_intents_add_example(src, intent, text, tpath);
	}
}

/* ---------------------------------------------------------------------------------------- */
/* the model */

static gboolean
pal_intents_model_train(PalIntentsModel *self, PalIntentsSource *src)
{
	g_autoptr(PalIntentsAnalyzer) analyzer = pal_intents_analyzer_new(self->locale);
	guint n = src->texts->len;
	g_autoptr(GPtrArray) raws = g_ptr_array_new_full(n, (GDestroyNotify)g_array_unref);
	PalIntentsVocab all;
	g_autoptr(GArray) df = g_array_new(FALSE, TRUE, sizeof(guint32));
	g_autoptr(GArray) blocks = g_array_new(FALSE, FALSE, sizeof(guint8));
	g_autoptr(GArray) order =
	    g_array_new(FALSE, FALSE, sizeof(guint64)); /* hashes, first seen first */
	g_autofree guint *row_ptr = NULL;
	g_autofree guint *labels = NULL;
	g_autoptr(GArray) entries = NULL;
	g_autoptr(GArray) vec = g_array_new(FALSE, FALSE, sizeof(PalIntentsEntry));
	gint64 start = g_get_monotonic_time();

	self->stemmer = pal_intents_analyzer_get_algorithm(analyzer);
	if (self->stemmer == NULL)
		g_message(
		    "intents model: no Snowball stemmer for locale \"%s\": words are not stemmed",
		    self->locale);

	/* features of every example, and how many examples have each */
	pal_intents_vocab_init(&all, 1024);
	for (guint i = 0; i < n; i++) {
		g_autoptr(GArray) tokens =
		    pal_intents_analyzer_tokenize(analyzer,
						  g_ptr_array_index(src->texts, i),
						  PAL_INTENTS_MAX_TOKENS);
		GArray *raw;

		if (tokens->len == 0) {
			pal_intents_error(src,
					  g_ptr_array_index(src->text_paths, i),
					  "the example has no words");
			g_ptr_array_add(raws, g_array_new(FALSE, FALSE, sizeof(PalIntentsRaw)));
			continue;
		}
		raw = pal_intents_features(&self->cfg, tokens);
		for (guint k = 0; k < raw->len; k++) {
			PalIntentsRaw *r = &g_array_index(raw, PalIntentsRaw, k);
			gboolean inserted;
			guint32 idx =
			    pal_intents_vocab_insert(&all, r->hash, order->len, &inserted);
			if (inserted) {
				guint8 b = (guint8)r->block;
				guint32 zero = 0;
				g_array_append_val(order, r->hash);
				g_array_append_val(blocks, b);
				g_array_append_val(df, zero);
			}
			g_array_index(df, guint32, idx)++;
		}
		g_ptr_array_add(raws, raw);
	}
	if (src->errors->len > 0) {
		pal_intents_vocab_clear(&all);
		return FALSE;
	}

	/* the vocabulary: features seen in at least min_count examples, in first-seen order */
	pal_intents_vocab_init(&self->vocab, order->len);
	self->idf = g_new(gfloat, order->len);
	self->block = g_new(guint8, order->len);
	for (guint i = 0; i < order->len; i++) {
		guint32 d = g_array_index(df, guint32, i);
		gboolean inserted;
		if (d < self->cfg.min_count)
			continue;
		pal_intents_vocab_insert(&self->vocab,
					 g_array_index(order, guint64, i),
					 self->n_features,
					 &inserted);
		self->idf[self->n_features] = (gfloat)(log((1.0 + n) / (1.0 + d)) + 1.0);
		self->block[self->n_features] = g_array_index(blocks, guint8, i);
		self->n_features++;
	}
	pal_intents_vocab_clear(&all);

	/* the examples as sparse vectors (CSR) */
	row_ptr = g_new(guint, n + 1);
	labels = g_new(guint, n);
	entries = g_array_sized_new(FALSE, FALSE, sizeof(PalIntentsEntry), n * 64);
	for (guint i = 0; i < n; i++) {
		row_ptr[i] = entries->len;
		labels[i] = g_array_index(src->labels, guint, i);
		pal_intents_vectorize(self, g_ptr_array_index(raws, i), vec);
		g_array_append_vals(entries, vec->data, vec->len);
	}
	row_ptr[n] = entries->len;
	g_ptr_array_set_size(raws, 0);

	self->stride = (self->intents->len + 3) & ~3u;
	self->weights = g_new0(gfloat, (gsize)self->n_features * self->stride);
	self->bias = g_new0(gfloat, self->stride);
	pal_intents_train_sgd(self, row_ptr, (PalIntentsEntry *)entries->data, labels, n);
	self->n_examples = n;
	self->train_seconds = (gdouble)(g_get_monotonic_time() - start) / G_USEC_PER_SEC;
	return TRUE;
}

static PalIntentsModel *
pal_intents_model_build(JsonNode *root, const gchar *default_locale, GError **error)
{
	g_autoptr(PalIntentsModel) self = g_new0(PalIntentsModel, 1);
	PalIntentsSource src = {0};
	g_autoptr(PalIntentsAnalyzer) analyzer = NULL;
	gboolean ok;

	self->ref_count = 1;
	src.errors = g_ptr_array_new_with_free_func(g_free);
	src.locale =
	    g_strdup(default_locale != NULL && default_locale[0] != '\0' ? default_locale : "en");
	src.threshold = PAL_INTENTS_DEFAULT_THRESHOLD;
	src.cfg = pal_intents_config_default;
	src.intents = g_ptr_array_new_with_free_func(g_free);
	src.intent_index = g_hash_table_new(g_str_hash, g_str_equal);
	src.texts = g_ptr_array_new();
	src.text_paths = g_ptr_array_new_with_free_func(g_free);
	src.labels = g_array_new(FALSE, FALSE, sizeof(guint));

	if (JSON_NODE_HOLDS_OBJECT(root))
		pal_intents_read_object(&src, json_node_get_object(root));
	else if (JSON_NODE_HOLDS_ARRAY(root))
		pal_intents_read_array(&src, json_node_get_array(root));
	else
		pal_intents_error_got(&src,
				      "",
				      "a model object or an array of {\"text\", \"intent\"}",
				      root);

	if (src.errors->len == 0 && src.intents->len < 2)
		pal_intents_error(&src,
				  JSON_NODE_HOLDS_OBJECT(root) ? "intents" : "",
				  "a model needs at least 2 intents, it has %u",
				  src.intents->len);

	self->locale = g_strdup(src.locale);
	self->threshold = src.threshold;
	self->cfg = src.cfg;
	self->intents = g_ptr_array_ref(src.intents);
	analyzer = pal_intents_analyzer_new(self->locale);
	self->slots = pal_intents_slots_new(src.slots, self->locale, analyzer, src.errors);

	ok = src.errors->len == 0 && pal_intents_model_train(self, &src);
	if (!ok) {
		g_autoptr(GString) msg = g_string_new(NULL);
		for (guint i = 0; i < src.errors->len; i++)
			g_string_append_printf(msg,
					       "%s%s",
					       i > 0 ? "\n" : "",
					       (gchar *)g_ptr_array_index(src.errors, i));
		if (src.n_errors > src.errors->len)
			g_string_append_printf(msg,
					       "\n… and %u more problem(s)",
					       src.n_errors - src.errors->len);
		g_set_error_literal(error, PAL_ERROR, PAL_ERROR_INVALID_DATA, msg->str);
		pal_intents_source_clear(&src);
		return NULL;
	}
	pal_intents_source_clear(&src);
	return g_steal_pointer(&self);
}

PalIntentsModel *
pal_intents_model_new_from_data(const gchar *data,
				gsize len,
				const gchar *origin,
				const gchar *default_locale,
				GError **error)
{
	g_autoptr(JsonNode) root = pal_json_parse_bounded(data,
							  len,
							  PAL_INTENTS_MAX_FILE_SIZE,
							  PAL_INTENTS_MAX_DEPTH,
							  origin,
							  error);

	if (root == NULL)
		return NULL;
	return pal_intents_model_build(root, default_locale, error);
}

PalIntentsModel *
pal_intents_model_new_from_file(const gchar *path, const gchar *default_locale, GError **error)
{
	g_autofree gchar *data = NULL;
	gsize len = 0;
	GStatBuf st;

	if (g_stat(path, &st) != 0) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_NOT_FOUND,
			    "%s: %s",
			    path,
			    g_strerror(errno));
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_INVALID_DATA,
			    "%s: not a regular file",
			    path);
		return NULL;
	}
	if (st.st_size > PAL_INTENTS_MAX_FILE_SIZE) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_INVALID_DATA,
			    "%s: the file has %" G_GINT64_FORMAT " bytes, at most %d are allowed",
			    path,
			    (gint64)st.st_size,
			    PAL_INTENTS_MAX_FILE_SIZE);
		return NULL;
	}
	if (!g_file_get_contents(path, &data, &len, error))
		return NULL;
	return pal_intents_model_new_from_data(data, len, path, default_locale, error);
}

PalIntentsModel *
pal_intents_model_ref(PalIntentsModel *self)
{
	g_atomic_int_inc(&self->ref_count);
	return self;
}

void
pal_intents_model_unref(PalIntentsModel *self)
{
	if (self == NULL || !g_atomic_int_dec_and_test(&self->ref_count))
		return;
	g_free(self->locale);
	if (self->intents != NULL)
		g_ptr_array_unref(self->intents);
	pal_intents_vocab_clear(&self->vocab);
	g_free(self->idf);
	g_free(self->block);
	g_free(self->weights);
	g_free(self->bias);
	if (self->slots != NULL)
		pal_intents_slots_free(self->slots);
	g_free(self);
}

const gchar *
pal_intents_model_get_locale(PalIntentsModel *self)
{
	return self->locale;
}

const gchar *
pal_intents_model_get_stemmer(PalIntentsModel *self)
{
	return self->stemmer;
}

gdouble
pal_intents_model_get_threshold(PalIntentsModel *self)
{
	return self->threshold;
}

guint
pal_intents_model_get_n_intents(PalIntentsModel *self)
{
	return self->intents->len;
}

const gchar *
pal_intents_model_get_intent(PalIntentsModel *self, guint index)
{
	g_return_val_if_fail(index < self->intents->len, NULL);
	return g_ptr_array_index(self->intents, index);
}

guint
pal_intents_model_get_n_examples(PalIntentsModel *self)
{
	return self->n_examples;
}

guint
pal_intents_model_get_n_features(PalIntentsModel *self)
{
	return self->n_features;
}

gdouble
pal_intents_model_get_train_seconds(PalIntentsModel *self)
{
	return self->train_seconds;
}

static void
pal_intents_model_predict_tokens(PalIntentsModel *self, GArray *tokens, gdouble *probs)
{
	g_autoptr(GArray) raw = pal_intents_features(&self->cfg, tokens);
	g_autoptr(GArray) vec = g_array_sized_new(FALSE, FALSE, sizeof(PalIntentsEntry), raw->len);
	g_autofree gfloat *logits = g_new(gfloat, self->stride);

	pal_intents_vectorize(self, raw, vec);
	pal_intents_logits(self->weights,
			   self->bias,
			   self->stride,
			   1.0f,
			   (PalIntentsEntry *)vec->data,
			   vec->len,
			   logits);
	pal_intents_softmax(logits, self->intents->len, probs);
}

void
pal_intents_model_predict(PalIntentsModel *self, const gchar *text, gdouble *probs)
{
	g_autoptr(PalIntentsAnalyzer) analyzer = pal_intents_analyzer_new(self->locale);
	g_autoptr(GArray) tokens =
	    pal_intents_analyzer_tokenize(analyzer, text, PAL_INTENTS_MAX_TOKENS);

	pal_intents_model_predict_tokens(self, tokens, probs);
}

PalNluResult *
pal_intents_model_parse(PalIntentsModel *self, const gchar *text, gdouble threshold, GDate *today)
{
	g_autoptr(PalIntentsAnalyzer) analyzer = pal_intents_analyzer_new(self->locale);
	g_autoptr(GArray) tokens =
	    pal_intents_analyzer_tokenize(analyzer, text, PAL_INTENTS_MAX_TOKENS);
	guint n = self->intents->len;
	g_autofree gdouble *probs = g_new(gdouble, n);
	guint best[PAL_INTENTS_RANKING] = {0};
	guint n_best = 0;
	PalNluResult *result;
	GDate local;

	pal_intents_model_predict_tokens(self, tokens, probs);
	/* the best few, ties to the intent listed first */
	for (guint c = 0; c < n; c++) {
		guint pos = n_best;
		while (pos > 0 && probs[best[pos - 1]] < probs[c])
			pos--;
		if (pos >= PAL_INTENTS_RANKING)
			continue;
		if (n_best < PAL_INTENTS_RANKING)
			n_best++;
		memmove(best + pos + 1, best + pos, (n_best - 1 - pos) * sizeof(guint));
		best[pos] = c;
	}
	result = pal_nlu_result_new(probs[best[0]] >= threshold
					? (const gchar *)g_ptr_array_index(self->intents, best[0])
					: NULL,
				    probs[best[0]]);
	for (guint i = 0; i < n_best; i++)
		pal_nlu_result_add_ranking(result,
					   g_ptr_array_index(self->intents, best[i]),
					   probs[best[i]]);
	if (today == NULL) {
		g_autoptr(GDateTime) now = g_date_time_new_now_local();
		g_date_clear(&local, 1);
		g_date_set_dmy(&local,
			       (GDateDay)g_date_time_get_day_of_month(now),
			       (GDateMonth)g_date_time_get_month(now),
			       (GDateYear)g_date_time_get_year(now));
		today = &local;
	}
	pal_intents_slots_extract(self->slots, text, tokens, today, result);
	return result;
}

/* ---------------------------------------------------------------------------------------- */
/* the process-wide cache */

typedef struct {
	gchar *path;
	PalIntentsModel *model; /* NULL while training */
} PalIntentsCacheEntry;

static GMutex pal_intents_cache_mutex;
static GCond pal_intents_cache_cond;
static GHashTable *pal_intents_cache; /* key → PalIntentsCacheEntry* */
static guint pal_intents_cache_n_trained;

static void
pal_intents_cache_entry_free(gpointer data)
{
	PalIntentsCacheEntry *entry = data;

	g_free(entry->path);
	if (entry->model != NULL)
		pal_intents_model_unref(entry->model);
	g_free(entry);
}

/* drops models that only the cache holds, and older versions of @path: with the lock */
static void
pal_intents_cache_purge(const gchar *keep_key, const gchar *path)
{
	GHashTableIter iter;
	gpointer key;
	gpointer value;

	g_hash_table_iter_init(&iter, pal_intents_cache);
	while (g_hash_table_iter_next(&iter, &key, &value)) {
		PalIntentsCacheEntry *entry = value;
		if (g_strcmp0(key, keep_key) == 0 || entry->model == NULL)
			continue;
		if (g_strcmp0(entry->path, path) == 0 ||
		    g_atomic_int_get(&entry->model->ref_count) == 1)
			g_hash_table_iter_remove(&iter);
	}
}

PalIntentsModel *
pal_intents_model_cache_get(const gchar *path, const gchar *default_locale, GError **error)
{
	g_autofree gchar *key = NULL;
	PalIntentsCacheEntry *entry;
	PalIntentsModel *model;
	GStatBuf st;

	if (g_stat(path, &st) != 0) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_NOT_FOUND,
			    "%s: %s",
			    path,
			    g_strerror(errno));
		return NULL;
	}
	key = g_strdup_printf("%s\n%" G_GINT64_FORMAT "\n%" G_GINT64_FORMAT ".%ld\n%s",
			      path,
			      (gint64)st.st_size,
			      (gint64)st.st_mtim.tv_sec,
			      (glong)st.st_mtim.tv_nsec,
			      default_locale != NULL ? default_locale : "");

	g_mutex_lock(&pal_intents_cache_mutex);
	if (pal_intents_cache == NULL)
		pal_intents_cache = g_hash_table_new_full(g_str_hash,
							  g_str_equal,
							  g_free,
							  pal_intents_cache_entry_free);
	for (;;) {
		entry = g_hash_table_lookup(pal_intents_cache, key);
		if (entry == NULL)
			break;
		if (entry->model != NULL) {
			model = pal_intents_model_ref(entry->model);
			g_mutex_unlock(&pal_intents_cache_mutex);
			return model;
		}
		/* another thread trains it */
		g_cond_wait(&pal_intents_cache_cond, &pal_intents_cache_mutex);
	}
	entry = g_new0(PalIntentsCacheEntry, 1);
	entry->path = g_strdup(path);
	g_hash_table_insert(pal_intents_cache, g_strdup(key), entry);
	g_mutex_unlock(&pal_intents_cache_mutex);

	/* outside the lock: other models load meanwhile */
	model = pal_intents_model_new_from_file(path, default_locale, error);

	g_mutex_lock(&pal_intents_cache_mutex);
	if (model == NULL) {
		/* waiting threads try themselves, and get the same error */
		g_hash_table_remove(pal_intents_cache, key);
	} else {
		entry = g_hash_table_lookup(pal_intents_cache, key);
		entry->model = pal_intents_model_ref(model);
		pal_intents_cache_n_trained++;
		pal_intents_cache_purge(key, path);
	}
	g_cond_broadcast(&pal_intents_cache_cond);
	g_mutex_unlock(&pal_intents_cache_mutex);
	return model;
}

guint
pal_intents_model_cache_get_n_trained(void)
{
	guint n;

	g_mutex_lock(&pal_intents_cache_mutex);
	n = pal_intents_cache_n_trained;
	g_mutex_unlock(&pal_intents_cache_mutex);
	return n;
}
