/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Slots of the `intents` plugin.
 *
 * A model's "slots" object maps a slot name to its definition:
 *
 *   "product": {"type": "list", "values": {"laptop": ["notebook", "laptop computer"], "phone": []}}
 *   "colour":  {"type": "list", "values": ["red", "green", "blue"]}
 *   "zip":     {"type": "regex", "pattern": "\\b[0-9]{5}\\b", "group": 0}
 *   "qty":     {"type": "NUMBER"}      also "EMAIL", "URL", "DATE"
 *
 * (each may also have a "description"). Every value found is reported as
 * `{value, text, start, end}`: `text` is the part of the original input it was found in,
 * `start`/`end` are character (Unicode code point) offsets into the original input, `end`
 * exclusive. Values of one slot are in text order.
 *
 * - `list`: the canonical values and their synonyms are compared with the input after the
 *   same normalisation and stemming as the classifier's (so "Notebooks" finds "laptop"),
 *   longest phrase first, left to right, without overlaps within the slot. value: the
 *   canonical value.
 * - `regex`: a PCRE pattern (GRegex) searched in the original input; every non-overlapping
 *   match. value: the text of capture group `group` (default 0, the whole match).
 * - `NUMBER`: numerals ("3", "-2", "3.5", "3,5", "1,234,567" in English, "1.234.567,5" in
 *   other locales) that are not part of a word, a date, an e-mail address or a URL, and English
 *   number words ("twenty-one", "a hundred and five", "two thousand"). value: a JSON number.
 * - `EMAIL`: addresses like name@example.org. value: the address as written.
 * - `URL`: http(s):// and www. addresses, without trailing punctuation. value: the URL (with
 *   "http://" put before a bare "www.").
 * - `DATE`: value: an ISO date "YYYY-MM-DD". Absolute: "2025-03-14", "14.03.2025" (day first),
 *   "03/14/2025" (month first in "en" and "en-US", day first in every other locale; two-digit
 *   years are 20yy), "March 14", "14 March 2025", "March 14th, 2025", "14. März". A date
 *   without a year is the next such day from today on. Relative, counted from the current
 *   local date: "today", "tomorrow", "yesterday", "the day after tomorrow", "the day before
 *   yesterday", "in 3 days", "in two weeks", "3 days ago", weekday names ("friday": the next
 *   Friday from today on, today included; "next friday": strictly after today; "last friday":
 *   strictly before today), and the German "heute", "morgen" (not after "guten"), "übermorgen",
 *   "gestern", "vorgestern", "in 3 Tagen", "vor 2 Wochen", "Montag", "nächsten Montag".
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "pal-intents-slots.h"

#define PAL_INTENTS_MAX_SLOTS	      100
#define PAL_INTENTS_MAX_PHRASES	      100000
#define PAL_INTENTS_MAX_PATTERN_CHARS 1000
#define PAL_INTENTS_MAX_SLOT_ERRORS   20

typedef enum {
	PAL_SLOT_LIST,
	PAL_SLOT_REGEX,
	PAL_SLOT_NUMBER,
	PAL_SLOT_EMAIL,
	PAL_SLOT_URL,
	PAL_SLOT_DATE,
} PalSlotType;

static const gchar *const pal_slot_type_names[] =
    {"list", "regex", "NUMBER", "EMAIL", "URL", "DATE"};

typedef struct {
	GStrv stems; /* the phrase's stems */
	guint n;
	gchar *value; /* canonical value */
} PalSlotPhrase;

typedef struct {
	gchar *name;
	PalSlotType type;
	GRegex *regex;
	guint group;
	GPtrArray *phrases; /* PalSlotPhrase* */
	GHashTable *first; /* first stem → GPtrArray of PalSlotPhrase* (borrowed), longest first */
} PalSlot;

struct _PalIntentsSlots {
	GPtrArray *slots; /* PalSlot* */
	gboolean english;
	gboolean month_first; /* mm/dd/yyyy */
	guint needs;	      /* bit (1 << PalSlotType) of the types used */
};

/* one value found */
typedef struct {
	gint start;
	gint end;
	JsonNode *value;
	gboolean absolute; /* a date written with digits or a month name: hides its numbers */
} PalSlotMatch;

static void
pal_slot_match_clear(gpointer data)
{
	PalSlotMatch *m = data;

	if (m->value != NULL)
		json_node_unref(m->value);
}

static void
pal_slot_phrase_free(gpointer data)
{
	PalSlotPhrase *p = data;

	g_strfreev(p->stems);
	g_free(p->value);
	g_free(p);
}

static void
pal_slot_free(gpointer data)
{
	PalSlot *slot = data;

	g_free(slot->name);
	if (slot->regex != NULL)
		g_regex_unref(slot->regex);
	if (slot->first != NULL)
		g_hash_table_unref(slot->first);
	if (slot->phrases != NULL)
		g_ptr_array_unref(slot->phrases);
	g_free(slot);
}

static void G_GNUC_PRINTF(3, 4)
    pal_slots_error(GPtrArray *errors, const gchar *path, const gchar *format, ...)
{
	va_list args;
	g_autofree gchar *msg = NULL;

	if (errors->len >= PAL_INTENTS_MAX_SLOT_ERRORS)
		return;
	va_start(args, format);
	msg = g_strdup_vprintf(format, args);
	va_end(args);
	g_ptr_array_add(errors, g_strdup_printf("%s: %s", path, msg));
}

static void
pal_slots_error_got(GPtrArray *errors, const gchar *path, const gchar *expected, JsonNode *node)
{
	g_autofree gchar *got = pal_json_describe_node(node);

	pal_slots_error(errors, path, "expected %s, got %s", expected, got);
}

/* ---------------------------------------------------------------------------------------- */
/* definitions */

static gint
pal_slot_phrase_cmp(gconstpointer a, gconstpointer b)
{
	const PalSlotPhrase *pa = *(PalSlotPhrase *const *)a;
	const PalSlotPhrase *pb = *(PalSlotPhrase *const *)b;

	/* longest first; g_ptr_array_sort is stable, so equal lengths keep their file order */
	return (gint)pb->n - (gint)pa->n;
}

static void
pal_slot_add_phrase(PalSlot *slot,
		    PalIntentsAnalyzer *analyzer,
		    const gchar *phrase,
		    const gchar *value,
		    const gchar *path,
		    GPtrArray *errors,
		    guint *n_phrases)
{
	g_autoptr(GArray) tokens = pal_intents_analyzer_tokenize(analyzer, phrase, 64);
	PalSlotPhrase *p;

	if (tokens->len == 0) {
		pal_slots_error(errors, path, "the phrase has no words");
		return;
	}
	if (++(*n_phrases) > PAL_INTENTS_MAX_PHRASES) {
		if (*n_phrases == PAL_INTENTS_MAX_PHRASES + 1)
			pal_slots_error(errors,
					path,
					"more than %u list values and synonyms",
					PAL_INTENTS_MAX_PHRASES);
		return;
	}
	p = g_new0(PalSlotPhrase, 1);
	p->n = tokens->len;
	p->stems = g_new0(gchar *, tokens->len + 1);
	for (guint i = 0; i < tokens->len; i++)
		p->stems[i] = g_strdup(g_array_index(tokens, PalIntentsToken, i).stem);
	p->value = g_strdup(value);
	g_ptr_array_add(slot->phrases, p);
}

static const gchar *
pal_slots_string(JsonNode *node, const gchar *path, GPtrArray *errors)
{
	if (node == NULL || !JSON_NODE_HOLDS_VALUE(node) ||
	    json_node_get_value_type(node) != G_TYPE_STRING) {
		pal_slots_error_got(errors, path, "a string", node);
		return NULL;
	}
	return json_node_get_string(node);
}

static void
pal_slot_read_values(PalSlot *slot,
		     JsonNode *node,
		     const gchar *path,
		     PalIntentsAnalyzer *analyzer,
		     GPtrArray *errors,
		     guint *n_phrases)
{
	if (JSON_NODE_HOLDS_ARRAY(node)) {
		JsonArray *a = json_node_get_array(node);
		for (guint i = 0; i < json_array_get_length(a); i++) {
			g_autofree gchar *ipath = pal_json_path_index(path, i);
			const gchar *v =
			    pal_slots_string(json_array_get_element(a, i), ipath, errors);
			if (v != NULL)
				pal_slot_add_phrase(slot, analyzer, v, v, ipath, errors, n_phrases);
		}
	} else if (JSON_NODE_HOLDS_OBJECT(node)) {
		JsonObjectIter iter;
		const gchar *value;
		JsonNode *synonyms;

		json_object_iter_init_ordered(&iter, json_node_get_object(node));
		while (json_object_iter_next_ordered(&iter, &value, &synonyms)) {
			g_autofree gchar *vpath = pal_json_path_member(path, value);
			JsonArray *a;

			pal_slot_add_phrase(slot, analyzer, value, value, vpath, errors, n_phrases);
			if (!JSON_NODE_HOLDS_ARRAY(synonyms)) {
				pal_slots_error_got(errors,
						    vpath,
						    "an array of synonyms",
						    synonyms);
				continue;
			}
			a = json_node_get_array(synonyms);
			for (guint i = 0; i < json_array_get_length(a); i++) {
				g_autofree gchar *ipath = pal_json_path_index(vpath, i);
				const gchar *syn =
				    pal_slots_string(json_array_get_element(a, i), ipath, errors);
				if (syn != NULL)
					pal_slot_add_phrase(slot,
							    analyzer,
							    syn,
							    value,
							    ipath,
							    errors,
							    n_phrases);
			}
		}
	} else {
		pal_slots_error_got(errors,
				    path,
				    "an object of value → synonyms, or an array of values",
				    node);
		return;
	}
	if (slot->phrases->len == 0)
		pal_slots_error(errors, path, "a list slot needs at least one value");
}

static PalSlot *
pal_slot_read(const gchar *name,
	      JsonNode *node,
	      const gchar *path,
	      PalIntentsAnalyzer *analyzer,
	      GPtrArray *errors,
	      guint *n_phrases)
{
	g_autoptr(GPtrArray) holder = g_ptr_array_new_with_free_func(pal_slot_free);
	PalSlot *slot = g_new0(PalSlot, 1);
	JsonObject *obj;
	JsonObjectIter iter;
	const gchar *member;
	JsonNode *value;
	JsonNode *type_node;
	JsonNode *values = NULL;
	JsonNode *pattern = NULL;
	JsonNode *group = NULL;
	const gchar *type;
	g_autofree gchar *type_path = pal_json_path_member(path, "type");
	guint n_errors = errors->len;

	g_ptr_array_add(holder, slot);
	slot->name = g_strdup(name);
	if (!JSON_NODE_HOLDS_OBJECT(node)) {
		pal_slots_error_got(errors, path, "an object {\"type\": …}", node);
		return NULL;
	}
	obj = json_node_get_object(node);
	type_node = json_object_get_member(obj, "type");
	if (type_node == NULL) {
		pal_slots_error(errors,
				type_path,
				"missing (list, regex, NUMBER, EMAIL, URL or DATE)");
		return NULL;
	}
	type = pal_slots_string(type_node, type_path, errors);
	if (type == NULL)
		return NULL;
	for (slot->type = 0; slot->type < G_N_ELEMENTS(pal_slot_type_names); slot->type++) {
		if (g_strcmp0(type, pal_slot_type_names[slot->type]) == 0)
			break;
	}
	if (slot->type >= G_N_ELEMENTS(pal_slot_type_names)) {
		pal_slots_error_got(errors,
				    type_path,
				    "one of list, regex, NUMBER, EMAIL, URL, DATE",
				    type_node);
		return NULL;
	}
	json_object_iter_init_ordered(&iter, obj);
	while (json_object_iter_next_ordered(&iter, &member, &value)) {
		g_autofree gchar *mpath = pal_json_path_member(path, member);
		if (g_strcmp0(member, "type") == 0 || g_strcmp0(member, "description") == 0)
			continue;
		if (slot->type == PAL_SLOT_LIST && g_strcmp0(member, "values") == 0)
			values = value;
		else if (slot->type == PAL_SLOT_REGEX && g_strcmp0(member, "pattern") == 0)
			pattern = value;
		else if (slot->type == PAL_SLOT_REGEX && g_strcmp0(member, "group") == 0)
			group = value;
		else
			pal_slots_error(errors,
					mpath,
					"unknown key for a %s slot (%s)",
					type,
					slot->type == PAL_SLOT_LIST    ? "it has values"
					: slot->type == PAL_SLOT_REGEX ? "it has pattern and group"
								       : "it has only type");
	}
	if (slot->type == PAL_SLOT_LIST) {
		g_autofree gchar *vpath = pal_json_path_member(path, "values");
		slot->phrases = g_ptr_array_new_with_free_func(pal_slot_phrase_free);
		if (values == NULL)
			pal_slots_error(errors, vpath, "missing: a list slot needs values");
		else
			pal_slot_read_values(slot, values, vpath, analyzer, errors, n_phrases);
		g_ptr_array_sort(slot->phrases, pal_slot_phrase_cmp);
		slot->first = g_hash_table_new_full(g_str_hash,
						    g_str_equal,
						    NULL,
						    (GDestroyNotify)g_ptr_array_unref);
		for (guint i = 0; i < slot->phrases->len; i++) {
			PalSlotPhrase *p = g_ptr_array_index(slot->phrases, i);
			GPtrArray *list = g_hash_table_lookup(slot->first, p->stems[0]);
			if (list == NULL) {
				list = g_ptr_array_new();
				g_hash_table_insert(slot->first, p->stems[0], list);
			}
			g_ptr_array_add(list, p);
		}
	} else if (slot->type == PAL_SLOT_REGEX) {
		g_autofree gchar *ppath = pal_json_path_member(path, "pattern");
		g_autofree gchar *gpath = pal_json_path_member(path, "group");
		const gchar *p = pattern != NULL ? pal_slots_string(pattern, ppath, errors) : NULL;
		g_autoptr(GError) error = NULL;

		if (pattern == NULL)
			pal_slots_error(errors, ppath, "missing: a regex slot needs a pattern");
		if (p != NULL && g_utf8_strlen(p, -1) > PAL_INTENTS_MAX_PATTERN_CHARS)
			pal_slots_error(errors,
					ppath,
					"the pattern is longer than %u characters",
					PAL_INTENTS_MAX_PATTERN_CHARS);
		else if (p != NULL && p[0] == '\0')
			pal_slots_error(errors, ppath, "the pattern is empty");
		else if (p != NULL) {
			slot->regex = g_regex_new(p, G_REGEX_OPTIMIZE, 0, &error);
			if (slot->regex == NULL)
				pal_slots_error(errors,
						ppath,
						"invalid regular expression: %s",
						error->message);
		}
		if (group != NULL) {
			g_autoptr(GError) gerror = NULL;
			if (!pal_json_node_get_uint(group, gpath, 0, 99, &slot->group, &gerror))
				pal_slots_error(errors,
						gpath,
						"%s",
						gerror->message + strlen(gpath) + 2);
			else if (slot->regex != NULL &&
				 slot->group > (guint)g_regex_get_capture_count(slot->regex))
				pal_slots_error(errors,
						gpath,
						"the pattern has %d capture group(s), not %u",
						g_regex_get_capture_count(slot->regex),
						slot->group);
		}
	}
	if (errors->len > n_errors)
		return NULL;
	return g_ptr_array_steal_index(holder, 0);
}

PalIntentsSlots *
pal_intents_slots_new(JsonObject *slots,
		      const gchar *locale,
		      PalIntentsAnalyzer *analyzer,
		      GPtrArray *errors)
{
	PalIntentsSlots *self = g_new0(PalIntentsSlots, 1);
	JsonObjectIter iter;
	const gchar *name;
	JsonNode *node;
	guint n_phrases = 0;

	self->slots = g_ptr_array_new_with_free_func(pal_slot_free);
	self->english = locale == NULL || g_ascii_strncasecmp(locale, "en", 2) == 0;
	/* month first in American English only */
	self->month_first = locale == NULL || g_ascii_strcasecmp(locale, "en") == 0 ||
			    g_ascii_strcasecmp(locale, "en-US") == 0 ||
			    g_ascii_strcasecmp(locale, "en_US") == 0;
	if (slots == NULL)
		return self;
	json_object_iter_init_ordered(&iter, slots);
	while (json_object_iter_next_ordered(&iter, &name, &node)) {
		g_autofree gchar *path = pal_json_path_member("slots", name);
		PalSlot *slot;

		if (name[0] == '\0' || g_utf8_strlen(name, -1) > 128) {
			pal_slots_error(errors, path, "a slot name has 1 to 128 characters");
			continue;
		}
		if (self->slots->len >= PAL_INTENTS_MAX_SLOTS) {
			pal_slots_error(errors, path, "more than %u slots", PAL_INTENTS_MAX_SLOTS);
			break;
		}
		slot = pal_slot_read(name, node, path, analyzer, errors, &n_phrases);
		if (slot != NULL) {
			self->needs |= 1u << slot->type;
			g_ptr_array_add(self->slots, slot);
		}
	}
	return self;
}

void
pal_intents_slots_free(PalIntentsSlots *self)
{
	if (self == NULL)
		return;
	g_ptr_array_unref(self->slots);
	g_free(self);
}

guint
pal_intents_slots_get_n_slots(PalIntentsSlots *self)
{
	return self->slots->len;
}

/* ---------------------------------------------------------------------------------------- */
/* extraction helpers */

typedef struct {
	const gchar *text;
	GArray *byte_of; /* gint: byte offset of each character, and of the end */
	GArray *tokens;
	const GDate *today;
	const PalIntentsSlots *slots;
} PalSlotText;

static gchar *
pal_slot_text_sub(const PalSlotText *t, gint start, gint end)
{
	gint b0 = g_array_index(t->byte_of, gint, start);
	gint b1 = g_array_index(t->byte_of, gint, end);

	return g_strndup(t->text + b0, (gsize)(b1 - b0));
}

static gint
pal_slot_text_char(const PalSlotText *t, gint byte)
{
	/* binary search in byte_of */
	guint lo = 0, hi = t->byte_of->len - 1;

	while (lo < hi) {
		guint mid = (lo + hi) / 2;
		if (g_array_index(t->byte_of, gint, mid) < byte)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (gint)lo;
}

/* TRUE when only spaces and hyphens separate tokens @a and @a + 1 */
static gboolean
pal_slot_tokens_adjacent(const PalSlotText *t, guint a)
{
	PalIntentsToken *ta = &g_array_index(t->tokens, PalIntentsToken, a);
	PalIntentsToken *tb = &g_array_index(t->tokens, PalIntentsToken, a + 1);
	const gchar *p = t->text + g_array_index(t->byte_of, gint, ta->end);
	const gchar *e = t->text + g_array_index(t->byte_of, gint, tb->start);

	for (; p < e; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (!g_unichar_isspace(c) && c != '-' && c != ',')
			return FALSE;
	}
	return TRUE;
}

static const gchar *
pal_slot_norm(const PalSlotText *t, guint i)
{
	if (i >= t->tokens->len)
		return "";
	return g_array_index(t->tokens, PalIntentsToken, i).norm;
}

static void
pal_slot_add(GArray *matches, gint start, gint end, JsonNode *value)
{
	PalSlotMatch m = {start, end, value, FALSE};

	g_array_append_val(matches, m);
}

static gboolean
pal_slot_overlaps(GArray *spans, gint start, gint end)
{
	for (guint i = 0; spans != NULL && i < spans->len; i++) {
		PalSlotMatch *m = &g_array_index(spans, PalSlotMatch, i);
		if (start < m->end && m->start < end)
			return TRUE;
	}
	return FALSE;
}

static GRegex *
pal_slot_regex(const gchar *pattern)
{
	g_autoptr(GError) error = NULL;
	GRegex *regex = g_regex_new(pattern, G_REGEX_OPTIMIZE, 0, &error);

	/* the patterns are ours: a failure is a bug */
	g_assert_no_error(error);
	return regex;
}

static GRegex *pal_slot_re_number;
static GRegex *pal_slot_re_email;
static GRegex *pal_slot_re_url;
static GRegex *pal_slot_re_iso;
static GRegex *pal_slot_re_dotted;
static GRegex *pal_slot_re_slashed;

static void
pal_slot_regexes_init(void)
{
	static gsize once = 0;

	if (!g_once_init_enter(&once))
		return;
	pal_slot_re_number = pal_slot_regex("(?:(?<![\\p{L}\\p{N}_.,\\-])-)?(?<![\\p{L}\\p{N}_.,])"
					    "[0-9]+(?:[.,][0-9]+)*(?![\\p{L}\\p{N}_]|[.,][0-9])");
	pal_slot_re_email = pal_slot_regex("(?<![\\p{L}\\p{N}_.+%-])[\\p{L}\\p{N}_.+%-]+@"
					   "[\\p{L}\\p{N}-]+(?:\\.[\\p{L}\\p{N}-]+)*\\.\\p{L}{2,}"
					   "(?![\\p{L}\\p{N}_-])");
	pal_slot_re_url =
	    pal_slot_regex("(?i)(?<![\\p{L}\\p{N}_@.])(?:https?://|www\\.)[^\\s<>\"'`]+");
	pal_slot_re_iso =
	    pal_slot_regex("(?<![0-9.:/-])([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?![0-9]|-[0-9])");
	pal_slot_re_dotted = pal_slot_regex(
	    "(?<![0-9.:/-])([0-9]{1,2})\\.([0-9]{1,2})\\.([0-9]{4}|[0-9]{2})(?![0-9]|\\.[0-9])");
	pal_slot_re_slashed = pal_slot_regex(
	    "(?<![0-9.:/-])([0-9]{1,2})/([0-9]{1,2})/([0-9]{4}|[0-9]{2})(?![0-9]|/[0-9])");
	g_once_init_leave(&once, 1);
}

/* every match of @regex: its span (characters) and the text of its groups */
typedef void (*PalSlotRegexFunc)(const PalSlotText *t,
				 GMatchInfo *info,
				 gint start,
				 gint end,
				 gpointer user_data);

static void
pal_slot_regex_foreach(const PalSlotText *t,
		       const GRegex *regex,
		       PalSlotRegexFunc func,
		       gpointer user_data)
{
	g_autoptr(GMatchInfo) info = NULL;

	g_regex_match((GRegex *)regex, t->text, 0, &info);
	while (g_match_info_matches(info)) {
		gint b0 = 0, b1 = 0;
		if (g_match_info_fetch_pos(info, 0, &b0, &b1) && b1 > b0)
			func(t,
			     info,
			     pal_slot_text_char(t, b0),
			     pal_slot_text_char(t, b1),
			     user_data);
		if (!g_match_info_next(info, NULL))
			break;
	}
}

/* ---------------------------------------------------------------------------------------- */
/* NUMBER */

/* "1,234.5" (en) / "1.234,5" / "3,5" / "3.5" → a JSON number; NULL when the grouping is odd */
static JsonNode *
pal_slot_parse_numeral(const gchar *s, gboolean english)
{
	gchar thousands = english ? ',' : '.';
	gchar decimal = english ? '.' : ',';
	g_autoptr(GString) clean = g_string_new(NULL);
	const gchar *p = s;
	guint n_seps = 0;
	gchar seps[64];
	guint group_len[65];
	guint n_groups = 0;
	gboolean negative = FALSE;
	gchar *end = NULL;
	gdouble v;

	if (*p == '-') {
		negative = TRUE;
		p++;
	}
	group_len[0] = 0;
	for (; *p != '\0'; p++) {
		if (*p == ',' || *p == '.') {
			if (n_seps >= G_N_ELEMENTS(seps))
				return NULL;
			seps[n_seps++] = *p;
			group_len[++n_groups] = 0;
		} else {
			group_len[n_groups]++;
		}
	}
	n_groups++;
	/* which separators group thousands and which one is the decimal point */
	if (n_seps == 1 && seps[0] == thousands && group_len[1] == 3 && group_len[0] <= 3 &&
	    group_len[0] > 0 && s[negative ? 1 : 0] != '0') {
		/* "1,234" in English: a thousand two hundred … */
		decimal = '\0';
	} else if (n_seps == 1) {
		/* "3,5" or "3.5": a decimal point either way */
		decimal = seps[0];
		thousands = '\0';
	} else if (n_seps > 1) {
		guint last = n_seps - 1;
		gboolean has_decimal = seps[last] != seps[0];
		guint n_thousands = has_decimal ? last : n_seps;

		if (group_len[0] == 0 || group_len[0] > 3)
			return NULL;
		for (guint i = 0; i < n_thousands; i++) {
			if (seps[i] != seps[0] || group_len[i + 1] != 3)
				return NULL;
		}
		thousands = seps[0];
		decimal = has_decimal ? seps[last] : '\0';
	}
	if (negative)
		g_string_append_c(clean, '-');
	for (p = s + (negative ? 1 : 0); *p != '\0'; p++) {
		if (*p == thousands && thousands != '\0')
			continue;
		g_string_append_c(clean, *p == decimal && decimal != '\0' ? '.' : *p);
	}
	if (strchr(clean->str, '.') == NULL && clean->len <= 18) {
		JsonNode *node = json_node_new(JSON_NODE_VALUE);
		json_node_set_int(node, g_ascii_strtoll(clean->str, NULL, 10));
		return node;
	}
	v = g_ascii_strtod(clean->str, &end);
	if (end == NULL || *end != '\0') {
		return NULL;
	} else {
		JsonNode *node = json_node_new(JSON_NODE_VALUE);
		json_node_set_double(node, v);
		return node;
	}
}

static void
pal_slot_numeral_cb(const PalSlotText *t,
		    GMatchInfo *info,
		    gint start,
		    gint end,
		    gpointer user_data)
{
	GArray **args = user_data; /* {matches, excluded spans} */
	g_autofree gchar *s = NULL;
	JsonNode *value;

	if (pal_slot_overlaps(args[1], start, end))
		return;
	s = pal_slot_text_sub(t, start, end);
	value = pal_slot_parse_numeral(s, t->slots->english);
	if (value != NULL)
		pal_slot_add(args[0], start, end, value);
}

static const struct {
	const gchar *word;
	gint value;
} pal_slot_number_words[] = {
    {"zero", 0},      {"one", 1},	  {"two", 2},		{"three", 3},
    {"four", 4},      {"five", 5},	  {"six", 6},		{"seven", 7},
    {"eight", 8},     {"nine", 9},	  {"ten", 10},		{"eleven", 11},
    {"twelve", 12},   {"thirteen", 13},	  {"fourteen", 14},	{"fifteen", 15},
    {"sixteen", 16},  {"seventeen", 17},  {"eighteen", 18},	{"nineteen", 19},
    {"twenty", 20},   {"thirty", 30},	  {"forty", 40},	{"fifty", 50},
    {"sixty", 60},    {"seventy", 70},	  {"eighty", 80},	{"ninety", 90},
    {"hundred", 100}, {"thousand", 1000}, {"million", 1000000}, {"billion", 1000000000},
    {"dozen", 12},
};

static gint
pal_slot_number_word(const gchar *w)
{
	for (guint i = 0; i < G_N_ELEMENTS(pal_slot_number_words); i++) {
		if (strcmp(pal_slot_number_words[i].word, w) == 0)
			return pal_slot_number_words[i].value;
	}
	return -1;
}

/* English number words from token @i: the value and how many tokens they take (0: none) */
static guint
pal_slot_number_words_at(const PalSlotText *t, guint i, gint64 *out)
{
	gint64 total = 0;
	gint64 current = 0;
	gint last = -1; /* value of the last word taken */
	guint k = i;
	guint taken = 0; /* tokens up to and including the last number word */
	gboolean any = FALSE;

	while (k < t->tokens->len) {
		const gchar *w = pal_slot_norm(t, k);
		gint v = pal_slot_number_word(w);

		if (k > i && !pal_slot_tokens_adjacent(t, k - 1))
			break;
		if (v < 0 && (strcmp(w, "a") == 0 || strcmp(w, "and") == 0)) {
			/* "a hundred", "a dozen", "one hundred and five" */
			gint next = k + 1 < t->tokens->len && pal_slot_tokens_adjacent(t, k)
					? pal_slot_number_word(pal_slot_norm(t, k + 1))
					: -1;
			if (strcmp(w, "a") == 0 &&
			    (any || (next != 100 && next != 1000 && next != 1000000 &&
				     next != 1000000000 && next != 12)))
				break;
			if (strcmp(w, "and") == 0 &&
			    (!any || last < 100 || next < 0 || next >= 100))
				break;
			k++;
			continue;
		}
		if (v < 0)
			break;
		if (v == 12 && strcmp(w, "dozen") == 0) {
			current = (current == 0 ? 1 : current) * 12;
		} else if (v < 10) {
			if (any && last >= 0 && last < 100 &&
			    !(last >= 20 && last % 10 == 0 && current % 10 == 0))
				break; /* "one two": two numbers */
			current += v;
		} else if (v < 20) {
			if (any && last >= 0 && last < 100)
				break;
			current += v;
		} else if (v < 100) {
			if (any && last >= 0 && last < 100)
				break;
			current += v;
		} else if (v == 100) {
			if (current >= 100)
				break;
			current = (current == 0 ? 1 : current) * 100;
		} else {
			if (total != 0 && total < (gint64)v * 1000 &&
			    total % ((gint64)v * 1000) != 0 && current == 0)
				break;
			total += (current == 0 ? 1 : current) * (gint64)v;
			current = 0;
		}
		last = v;
		any = TRUE;
		k++;
		taken = k - i;
	}
	if (!any)
		return 0;
	*out = total + current;
	return taken;
}

static void
pal_slot_find_numbers(const PalSlotText *t, GArray *excluded, GArray *matches)
{
	GArray *args[2] = {matches, excluded};

	pal_slot_regex_foreach(t, pal_slot_re_number, pal_slot_numeral_cb, args);
	if (!t->slots->english)
		return;
	for (guint i = 0; i < t->tokens->len;) {
		gint64 v = 0;
		guint n = pal_slot_number_words_at(t, i, &v);
		if (n == 0) {
			i++;
			continue;
		}
		{
			gint start = g_array_index(t->tokens, PalIntentsToken, i).start;
			gint end = g_array_index(t->tokens, PalIntentsToken, i + n - 1).end;
			if (!pal_slot_overlaps(excluded, start, end)) {
				JsonNode *node = json_node_new(JSON_NODE_VALUE);
				json_node_set_int(node, v);
				pal_slot_add(matches, start, end, node);
			}
		}
		i += n;
	}
}

/* ---------------------------------------------------------------------------------------- */
/* EMAIL, URL */

static void
pal_slot_email_cb(const PalSlotText *t, GMatchInfo *info, gint start, gint end, gpointer user_data)
{
	g_autofree gchar *s = pal_slot_text_sub(t, start, end);

	pal_slot_add(user_data, start, end, json_node_init_string(json_node_alloc(), s));
}

static void
pal_slot_url_cb(const PalSlotText *t, GMatchInfo *info, gint start, gint end, gpointer user_data)
{
	g_autofree gchar *s = NULL;
	gsize len;

	/* trailing punctuation belongs to the sentence */
	while (end > start) {
		gint b = g_array_index(t->byte_of, gint, end - 1);
		if (strchr(".,;:!?)]}'\"", t->text[b]) == NULL || t->text[b] == '\0')
			break;
		end--;
	}
	s = pal_slot_text_sub(t, start, end);
	len = strlen(s);
	if (len <= 4 || (g_ascii_strncasecmp(s, "www.", 4) == 0 && len <= 6) ||
	    g_str_has_suffix(s, "://"))
		return;
	if (g_ascii_strncasecmp(s, "www.", 4) == 0) {
		g_autofree gchar *full = g_strconcat("http://", s, NULL);
		pal_slot_add(user_data, start, end, json_node_init_string(json_node_alloc(), full));
		return;
	}
	pal_slot_add(user_data, start, end, json_node_init_string(json_node_alloc(), s));
}

/* ---------------------------------------------------------------------------------------- */
/* DATE */

static JsonNode *
pal_slot_date_node(const GDate *date)
{
	gchar buf[16];

	g_snprintf(buf,
		   sizeof(buf),
		   "%04u-%02u-%02u",
		   (guint)g_date_get_year(date),
		   (guint)g_date_get_month(date),
		   (guint)g_date_get_day(date));
	return json_node_init_string(json_node_alloc(), buf);
}

static JsonNode *
pal_slot_dmy_node(guint d, guint m, guint y)
{
	GDate date;

	if (y < 100)
		y += 2000;
	if (!g_date_valid_dmy((GDateDay)d, (GDateMonth)m, (GDateYear)y))
		return NULL;
	g_date_clear(&date, 1);
	g_date_set_dmy(&date, (GDateDay)d, (GDateMonth)m, (GDateYear)y);
	return pal_slot_date_node(&date);
}

static guint
pal_slot_group_uint(GMatchInfo *info, gint group)
{
	g_autofree gchar *s = g_match_info_fetch(info, group);

	return s != NULL ? (guint)g_ascii_strtoull(s, NULL, 10) : 0;
}

typedef struct {
	GArray *matches;
	gint order; /* 0: y-m-d, 1: d.m.y, 2: m/d/y, 3: d/m/y */
} PalSlotDateArgs;

static void
pal_slot_numeric_date_cb(const PalSlotText *t,
			 GMatchInfo *info,
			 gint start,
			 gint end,
			 gpointer user_data)
{
	PalSlotDateArgs *args = user_data;
	guint a = pal_slot_group_uint(info, 1);
	guint b = pal_slot_group_uint(info, 2);
	guint c = pal_slot_group_uint(info, 3);
	JsonNode *node;

	switch (args->order) {
	case 0:
		node = pal_slot_dmy_node(c, b, a);
		break;
	case 2:
		node = pal_slot_dmy_node(b, a, c);
		break;
	default:
		node = pal_slot_dmy_node(a, b, c);
		break;
	}
	if (node != NULL) {
		pal_slot_add(args->matches, start, end, node);
		g_array_index(args->matches, PalSlotMatch, args->matches->len - 1).absolute = TRUE;
	}
}

static const gchar *const pal_slot_weekdays_en[] =
    {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"};
static const gchar *const pal_slot_weekdays_de[] =
    {"montag", "dienstag", "mittwoch", "donnerstag", "freitag", "samstag", "sonntag"};
static const gchar *const pal_slot_months_en[] = {"january",
						  "february",
						  "march",
						  "april",
						  "may",
						  "june",
						  "july",
						  "august",
						  "september",
						  "october",
						  "november",
						  "december"};
static const gchar *const pal_slot_months_de[] = {"januar",
						  "februar",
						  "marz",
						  "april",
						  "mai",
						  "juni",
						  "juli",
						  "august",
						  "september",
						  "oktober",
						  "november",
						  "dezember"};

/* 1 … 7 (Monday …) or 0 */
static guint
pal_slot_weekday(const gchar *w)
{
	for (guint i = 0; i < 7; i++) {
		if (strcmp(w, pal_slot_weekdays_en[i]) == 0 ||
		    strcmp(w, pal_slot_weekdays_de[i]) == 0)
			return i + 1;
	}
	return 0;
}

/* 1 … 12 or 0 */
static guint
pal_slot_month(const gchar *w)
{
	for (guint i = 0; i < 12; i++) {
		if (strcmp(w, pal_slot_months_en[i]) == 0 || strcmp(w, pal_slot_months_de[i]) == 0)
			return i + 1;
	}
	if (strcmp(w, "sept") == 0)
		return 9;
	for (guint i = 0; i < 12; i++) {
		/* "jan", "feb", … (not "may", which is a verb too, nor "mar"/"jun"-like words alone
		 * matter: a month needs a day next to it) */
		if (strlen(w) == 3 && strncmp(w, pal_slot_months_en[i], 3) == 0)
			return i + 1;
	}
	return 0;
}

/* "14", "14th", "1st", "2nd", "3rd": 1 … 31, or 0 */
static guint
pal_slot_day_number(const gchar *w)
{
	gchar *end = NULL;
	guint64 v;

	if (!g_ascii_isdigit(w[0]))
		return 0;
	v = g_ascii_strtoull(w, &end, 10);
	if (end - w > 2)
		return 0;
	if (*end != '\0' && strcmp(end, "st") != 0 && strcmp(end, "nd") != 0 &&
	    strcmp(end, "rd") != 0 && strcmp(end, "th") != 0)
		return 0;
	return v >= 1 && v <= 31 ? (guint)v : 0;
}

/* a four-digit year */
static guint
pal_slot_year(const gchar *w)
{
	if (strlen(w) != 4 || !g_ascii_isdigit(w[0]) || !g_ascii_isdigit(w[1]) ||
	    !g_ascii_isdigit(w[2]) || !g_ascii_isdigit(w[3]))
		return 0;
	return (guint)g_ascii_strtoull(w, NULL, 10);
}

static gboolean
pal_slot_is(const PalSlotText *t, guint i, const gchar *word)
{
	return i < t->tokens->len && strcmp(pal_slot_norm(t, i), word) == 0;
}

/* a count for "in N days": digits or English number words; the tokens taken */
static guint
pal_slot_count_at(const PalSlotText *t, guint i, gint64 *n)
{
	const gchar *w = pal_slot_norm(t, i);

	if (i >= t->tokens->len)
		return 0;
	if (g_ascii_isdigit(w[0])) {
		gchar *end = NULL;
		guint64 v = g_ascii_strtoull(w, &end, 10);
		if (*end != '\0' || v > 3650)
			return 0;
		*n = (gint64)v;
		return 1;
	}
	if (strcmp(w, "a") == 0 || strcmp(w, "one") == 0 || strcmp(w, "einem") == 0 ||
	    strcmp(w, "einer") == 0) {
		*n = 1;
		return 1;
	}
	if (t->slots->english) {
		guint k = pal_slot_number_words_at(t, i, n);
		return *n <= 3650 ? k : 0;
	}
	return 0;
}

/* days per unit word, or 0 */
static gint
pal_slot_unit_days(const gchar *w)
{
	if (strcmp(w, "day") == 0 || strcmp(w, "days") == 0 || strcmp(w, "tag") == 0 ||
	    strcmp(w, "tagen") == 0 || strcmp(w, "tage") == 0)
		return 1;
	if (strcmp(w, "week") == 0 || strcmp(w, "weeks") == 0 || strcmp(w, "woche") == 0 ||
	    strcmp(w, "wochen") == 0)
		return 7;
	return 0;
}

static void
pal_slot_add_date(const PalSlotText *t, GArray *matches, guint first, guint last, const GDate *date)
{
	pal_slot_add(matches,
		     g_array_index(t->tokens, PalIntentsToken, first).start,
		     g_array_index(t->tokens, PalIntentsToken, last).end,
		     pal_slot_date_node(date));
}

/* a date written with words from token @i; the tokens taken (0: none) */
static guint
pal_slot_word_date_at(const PalSlotText *t, guint i, GArray *matches)
{
	const gchar *w = pal_slot_norm(t, i);
	GDate date = *t->today;
	guint wd;
	gint64 count = 0;
	guint k;

	/* the day after tomorrow, the day before yesterday */
	if (pal_slot_is(t, i, "day") && pal_slot_is(t, i + 2, "tomorrow") &&
	    pal_slot_is(t, i + 1, "after")) {
		g_date_add_days(&date, 2);
		pal_slot_add_date(t, matches, i, i + 2, &date);
		return 3;
	}
	if (pal_slot_is(t, i, "day") && pal_slot_is(t, i + 2, "yesterday") &&
	    pal_slot_is(t, i + 1, "before")) {
		g_date_subtract_days(&date, 2);
		pal_slot_add_date(t, matches, i, i + 2, &date);
		return 3;
	}
	if (strcmp(w, "today") == 0 || strcmp(w, "heute") == 0) {
		pal_slot_add_date(t, matches, i, i, &date);
		return 1;
	}
	if (strcmp(w, "tomorrow") == 0 ||
	    (strcmp(w, "morgen") == 0 &&
	     !(i > 0 && (pal_slot_is(t, i - 1, "guten") || pal_slot_is(t, i - 1, "gut"))))) {
		g_date_add_days(&date, 1);
		pal_slot_add_date(t, matches, i, i, &date);
		return 1;
	}
	if (strcmp(w, "ubermorgen") == 0) {
		g_date_add_days(&date, 2);
		pal_slot_add_date(t, matches, i, i, &date);
		return 1;
	}
	if (strcmp(w, "yesterday") == 0 || strcmp(w, "gestern") == 0) {
		g_date_subtract_days(&date, 1);
		pal_slot_add_date(t, matches, i, i, &date);
		return 1;
	}
	if (strcmp(w, "vorgestern") == 0) {
		g_date_subtract_days(&date, 2);
		pal_slot_add_date(t, matches, i, i, &date);
		return 1;
	}
	/* in N days / weeks, vor N Tagen */
	if (strcmp(w, "in") == 0 || strcmp(w, "vor") == 0) {
		guint n = pal_slot_count_at(t, i + 1, &count);
		gint unit = n > 0 ? pal_slot_unit_days(pal_slot_norm(t, i + 1 + n)) : 0;
		if (unit > 0) {
			if (strcmp(w, "in") == 0)
				g_date_add_days(&date, (guint)(count * unit));
			else
				g_date_subtract_days(&date, (guint)(count * unit));
			pal_slot_add_date(t, matches, i, i + n + 1, &date);
			return n + 2;
		}
	}
	/* N days ago */
	k = pal_slot_count_at(t, i, &count);
	if (k > 0 && pal_slot_unit_days(pal_slot_norm(t, i + k)) > 0 &&
	    pal_slot_is(t, i + k + 1, "ago")) {
		g_date_subtract_days(&date,
				     (guint)(count * pal_slot_unit_days(pal_slot_norm(t, i + k))));
		pal_slot_add_date(t, matches, i, i + k + 1, &date);
		return k + 2;
	}
	/* [next|last|this|on] weekday */
	{
		gint direction = 0; /* 0 on or after today, 1 after, -1 before */
		guint first = i;
		guint at = i;

		if (strcmp(w, "next") == 0 || strcmp(w, "nachsten") == 0 ||
		    strcmp(w, "kommenden") == 0 || strcmp(w, "nachster") == 0 ||
		    strcmp(w, "kommender") == 0)
			direction = 1, at = i + 1;
		else if (strcmp(w, "last") == 0 || strcmp(w, "letzten") == 0 ||
			 strcmp(w, "letzter") == 0 || strcmp(w, "vergangenen") == 0)
			direction = -1, at = i + 1;
		else if (strcmp(w, "this") == 0 || strcmp(w, "diesen") == 0 ||
			 strcmp(w, "dieser") == 0)
			at = i + 1;
		wd = at < t->tokens->len ? pal_slot_weekday(pal_slot_norm(t, at)) : 0;
		if (wd > 0) {
			gint today_wd = (gint)g_date_get_weekday(t->today);
			gint delta = ((gint)wd - today_wd + 7) % 7;
			if (direction > 0 && delta == 0)
				delta = 7;
			if (direction < 0)
				delta = delta == 0 ? -7 : delta - 7;
			if (delta >= 0)
				g_date_add_days(&date, (guint)delta);
			else
				g_date_subtract_days(&date, (guint)-delta);
			pal_slot_add_date(t, matches, first, at, &date);
			return at - i + 1;
		}
	}
	/* [the] 14[th] [of] March [2025] / 14. März / March 14[th][,] [2025] */
	{
		guint day = pal_slot_day_number(w);
		guint month = 0, year = 0, end = i;

		if (day > 0) {
			guint at = i + 1;
			if (pal_slot_is(t, at, "of"))
				at++;
			month = at < t->tokens->len ? pal_slot_month(pal_slot_norm(t, at)) : 0;
			end = at;
		} else {
			month = pal_slot_month(w);
			if (month > 0 && i + 1 < t->tokens->len) {
				day = pal_slot_day_number(pal_slot_norm(t, i + 1));
				end = i + 1;
			}
		}
		if (day > 0 && month > 0) {
			if (end + 1 < t->tokens->len && pal_slot_tokens_adjacent(t, end))
				year = pal_slot_year(pal_slot_norm(t, end + 1));
			if (year > 0)
				end++;
			else {
				/* the next such day from today on */
				year = g_date_get_year(t->today);
				if (g_date_valid_dmy((GDateDay)day,
						     (GDateMonth)month,
						     (GDateYear)year)) {
					GDate d;
					g_date_clear(&d, 1);
					g_date_set_dmy(&d,
						       (GDateDay)day,
						       (GDateMonth)month,
						       (GDateYear)year);
					if (g_date_compare(&d, t->today) < 0)
						year++;
				}
			}
			if (g_date_valid_dmy((GDateDay)day, (GDateMonth)month, (GDateYear)year)) {
				g_date_set_dmy(&date,
					       (GDateDay)day,
					       (GDateMonth)month,
					       (GDateYear)year);
				pal_slot_add_date(t, matches, i, end, &date);
				g_array_index(matches, PalSlotMatch, matches->len - 1).absolute =
				    TRUE;
				return end - i + 1;
			}
		}
	}
	return 0;
}

static void
pal_slot_find_dates(const PalSlotText *t, GArray *matches)
{
	PalSlotDateArgs args = {matches, 0};
	g_autoptr(GArray) words = g_array_new(FALSE, FALSE, sizeof(PalSlotMatch));

	pal_slot_regex_foreach(t, pal_slot_re_iso, pal_slot_numeric_date_cb, &args);
	args.order = 1;
	pal_slot_regex_foreach(t, pal_slot_re_dotted, pal_slot_numeric_date_cb, &args);
	args.order = t->slots->month_first ? 2 : 3;
	pal_slot_regex_foreach(t, pal_slot_re_slashed, pal_slot_numeric_date_cb, &args);
	g_array_set_clear_func(words, pal_slot_match_clear);
	for (guint i = 0; i < t->tokens->len;) {
		guint n = pal_slot_word_date_at(t, i, words);
		i += n > 0 ? n : 1;
	}
	/* word dates that overlap a numeric one ("14.03.2025" also reads as "14" + "03") go */
	for (guint i = 0; i < words->len; i++) {
		PalSlotMatch *m = &g_array_index(words, PalSlotMatch, i);
		if (pal_slot_overlaps(matches, m->start, m->end))
			continue;
		g_array_append_val(matches, *m);
		m->value = NULL;
	}
}

static gint
pal_slot_match_cmp(gconstpointer a, gconstpointer b)
{
	const PalSlotMatch *ma = a;
	const PalSlotMatch *mb = b;

	if (ma->start != mb->start)
		return ma->start - mb->start;
	return mb->end - ma->end;
}

/* ---------------------------------------------------------------------------------------- */
/* list and regex */

static void
pal_slot_find_list(const PalSlotText *t, const PalSlot *slot, GArray *matches)
{
	for (guint i = 0; i < t->tokens->len;) {
		GPtrArray *candidates =
		    g_hash_table_lookup(slot->first,
					g_array_index(t->tokens, PalIntentsToken, i).stem);
		PalSlotPhrase *found = NULL;

		for (guint c = 0; candidates != NULL && c < candidates->len && found == NULL; c++) {
			PalSlotPhrase *p = g_ptr_array_index(candidates, c);
			gboolean ok = i + p->n <= t->tokens->len;
			for (guint k = 1; ok && k < p->n; k++)
				ok = strcmp(g_array_index(t->tokens, PalIntentsToken, i + k).stem,
					    p->stems[k]) == 0;
			if (ok)
				found = p;
		}
		if (found == NULL) {
			i++;
			continue;
		}
		pal_slot_add(matches,
			     g_array_index(t->tokens, PalIntentsToken, i).start,
			     g_array_index(t->tokens, PalIntentsToken, i + found->n - 1).end,
			     json_node_init_string(json_node_alloc(), found->value));
		i += found->n;
	}
}

static void
pal_slot_find_regex(const PalSlotText *t, const PalSlot *slot, GArray *matches)
{
	g_autoptr(GMatchInfo) info = NULL;

	g_regex_match(slot->regex, t->text, 0, &info);
	while (g_match_info_matches(info)) {
		gint b0 = -1, b1 = -1;
		gint g0 = -1, g1 = -1;

		if (g_match_info_fetch_pos(info, 0, &b0, &b1) && b1 > b0 &&
		    g_match_info_fetch_pos(info, (gint)slot->group, &g0, &g1) && g0 >= 0) {
			g_autofree gchar *value = g_strndup(t->text + g0, (gsize)(g1 - g0));
			pal_slot_add(matches,
				     pal_slot_text_char(t, b0),
				     pal_slot_text_char(t, b1),
				     json_node_init_string(json_node_alloc(), value));
		}
		if (!g_match_info_next(info, NULL))
			break;
	}
}

/* ---------------------------------------------------------------------------------------- */

static GArray *
pal_slot_matches_new(void)
{
	GArray *a = g_array_new(FALSE, FALSE, sizeof(PalSlotMatch));

	g_array_set_clear_func(a, pal_slot_match_clear);
	return a;
}

void
pal_intents_slots_extract(PalIntentsSlots *self,
			  const gchar *text,
			  GArray *tokens,
			  const GDate *today,
			  PalNluResult *result)
{
	g_autoptr(GArray) byte_of = NULL;
	g_autoptr(GArray) emails = NULL;
	g_autoptr(GArray) urls = NULL;
	g_autoptr(GArray) dates = NULL;
	g_autoptr(GArray) numbers = NULL;
	g_autoptr(GArray) excluded = NULL;
	PalSlotText t;

	if (self->slots->len == 0)
		return;
	pal_slot_regexes_init();
	byte_of = g_array_new(FALSE, FALSE, sizeof(gint));
	for (const gchar *p = text;; p = g_utf8_next_char(p)) {
		gint b = (gint)(p - text);
		g_array_append_val(byte_of, b);
		if (*p == '\0')
			break;
	}
	t.text = text;
	t.byte_of = byte_of;
	t.tokens = tokens;
	t.today = today;
	t.slots = self;

	/* the system entities this model uses; numbers need the others to skip their digits */
	if (self->needs & ((1u << PAL_SLOT_EMAIL) | (1u << PAL_SLOT_NUMBER))) {
		emails = pal_slot_matches_new();
		pal_slot_regex_foreach(&t, pal_slot_re_email, pal_slot_email_cb, emails);
	}
	if (self->needs & ((1u << PAL_SLOT_URL) | (1u << PAL_SLOT_NUMBER))) {
		urls = pal_slot_matches_new();
		pal_slot_regex_foreach(&t, pal_slot_re_url, pal_slot_url_cb, urls);
	}
	if (self->needs & ((1u << PAL_SLOT_DATE) | (1u << PAL_SLOT_NUMBER))) {
		dates = pal_slot_matches_new();
		pal_slot_find_dates(&t, dates);
		g_array_sort(dates, pal_slot_match_cmp);
	}
	if (self->needs & (1u << PAL_SLOT_NUMBER)) {
		excluded = g_array_new(FALSE, FALSE, sizeof(PalSlotMatch));
		g_array_append_vals(excluded, emails->data, emails->len);
		g_array_append_vals(excluded, urls->data, urls->len);
		/* only absolute dates hide their digits: "in 3 days" keeps its number */
		for (guint i = 0; i < dates->len; i++) {
			PalSlotMatch *m = &g_array_index(dates, PalSlotMatch, i);
			if (m->absolute)
				g_array_append_val(excluded, *m);
		}
		numbers = pal_slot_matches_new();
		pal_slot_find_numbers(&t, excluded, numbers);
		g_array_sort(numbers, pal_slot_match_cmp);
	}

	for (guint s = 0; s < self->slots->len; s++) {
		PalSlot *slot = g_ptr_array_index(self->slots, s);
		g_autoptr(GArray) own = NULL;
		GArray *found = NULL;

		switch (slot->type) {
		case PAL_SLOT_LIST:
			found = own = pal_slot_matches_new();
			pal_slot_find_list(&t, slot, own);
			break;
		case PAL_SLOT_REGEX:
			found = own = pal_slot_matches_new();
			pal_slot_find_regex(&t, slot, own);
			break;
		case PAL_SLOT_NUMBER:
			found = numbers;
			break;
		case PAL_SLOT_EMAIL:
			found = emails;
			break;
		case PAL_SLOT_URL:
			found = urls;
			break;
		case PAL_SLOT_DATE:
			found = dates;
			break;
		default:
			g_assert_not_reached();
		}
		for (guint i = 0; i < found->len; i++) {
			PalSlotMatch *m = &g_array_index(found, PalSlotMatch, i);
			g_autofree gchar *sub = pal_slot_text_sub(&t, m->start, m->end);
			pal_nlu_result_add_slot(result,
						slot->name,
						json_node_copy(m->value),
						sub,
						m->start,
						m->end);
		}
	}
}
