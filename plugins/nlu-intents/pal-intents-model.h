/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <palaver.h>

#include "pal-intents-text.h"

G_BEGIN_DECLS

/*
 * A trained intents model: read from a model file, trained when it loads, then immutable and
 * shared read-only by every thread (pal_intents_model_parse() is thread-safe and takes no
 * lock). The file format, the features and the learning algorithm are described at the top of
 * pal-intents-model.c.
 */

/* limits of a model file */
#define PAL_INTENTS_MAX_FILE_SIZE     (64 * 1024 * 1024)
#define PAL_INTENTS_MAX_DEPTH	      32
#define PAL_INTENTS_MAX_INTENTS	      2000
#define PAL_INTENTS_MAX_EXAMPLES      200000
#define PAL_INTENTS_MAX_EXAMPLE_CHARS 1000
#define PAL_INTENTS_MAX_NAME_CHARS    128
/* words of an input that are analysed; the rest is ignored */
#define PAL_INTENTS_MAX_TOKENS 2000
/* the ranking's length */
#define PAL_INTENTS_RANKING	      5
#define PAL_INTENTS_DEFAULT_THRESHOLD 0.3

typedef struct _PalIntentsModel PalIntentsModel;

/* parses, checks and trains the model of @data (a model object or a training array, see
 * pal-intents-model.c); @default_locale (nullable) is used when the file names none. Errors
 * are PAL_ERROR_INVALID_DATA, one line per problem, each starting with its JSON path. */
PalIntentsModel *
pal_intents_model_new_from_data(const gchar *data,
				gsize len,
				const gchar *origin,
				const gchar *default_locale,
				GError **error);
PalIntentsModel *
pal_intents_model_new_from_file(const gchar *path, const gchar *default_locale, GError **error);
PalIntentsModel *
pal_intents_model_ref(PalIntentsModel *self);
void
pal_intents_model_unref(PalIntentsModel *self);

const gchar *
pal_intents_model_get_locale(PalIntentsModel *self);
/* the Snowball algorithm the model stems with, or NULL */
const gchar *
pal_intents_model_get_stemmer(PalIntentsModel *self);
gdouble
pal_intents_model_get_threshold(PalIntentsModel *self);
guint
pal_intents_model_get_n_intents(PalIntentsModel *self);
const gchar *
pal_intents_model_get_intent(PalIntentsModel *self, guint index);
guint
pal_intents_model_get_n_examples(PalIntentsModel *self);
guint
pal_intents_model_get_n_features(PalIntentsModel *self);
/* seconds the training took (features and classifier) */
gdouble
pal_intents_model_get_train_seconds(PalIntentsModel *self);

/* the probability of each intent (pal_intents_model_get_n_intents() values) for @text */
void
pal_intents_model_predict(PalIntentsModel *self, const gchar *text, gdouble *probs);

/* the full result for @text: the intent (NULL when its score is below @threshold), its score,
 * the best PAL_INTENTS_RANKING intents and the slots; @today (nullable: the local date) is
 * what relative dates count from */
PalNluResult *
pal_intents_model_parse(PalIntentsModel *self, const gchar *text, gdouble threshold, GDate *today);

/* the process-wide cache: the model of @path, trained once for each version of the file
 * (path, size, modification time, @default_locale) and shared. Threads that ask for a model
 * being trained wait for it. */
PalIntentsModel *
pal_intents_model_cache_get(const gchar *path, const gchar *default_locale, GError **error);
/* how many models the cache has trained in this process (tests) */
guint
pal_intents_model_cache_get_n_trained(void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PalIntentsModel, pal_intents_model_unref)

G_END_DECLS
