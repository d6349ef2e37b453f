/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The `intents` NLU plugin (plugins/nlu-intents): text normalisation and stemming, slots,
 * the out-of-scope threshold, determinism, model file errors, the process-wide model cache,
 * a small SNIPS-style classification check, the plugin's options and asynchronous interface,
 * and one conversation through the real palaverd whose graph flow branches on input.intent and
 * a slot.
 */

#include "config.h"

#include <math.h>
#include <signal.h>
#include <string.h>

#include <glib/gstdio.h>

#include "pal-intents-model.h"
#include "pal-intents-plugin.h"
#include "pal-intents-text.h"
#include "pal-test-util.h"

#define WAIT_MS 15000

/* ======================================================================================== */
/* helpers */

static PalIntentsModel *
model_from_json(const gchar *json, GError **error)
{
	return pal_intents_model_new_from_data(json, strlen(json), "model.json", NULL, error);
}

static PalIntentsModel *
model_ok(const gchar *json)
{
	g_autoptr(GError) error = NULL;
	PalIntentsModel *model = model_from_json(json, &error);

	g_assert_no_error(error);
	g_assert_nonnull(model);
	return model;
}

/* Friday, 14 March 2025 */
static GDate *
fixed_today(void)
{
	return g_date_new_dmy(14, G_DATE_MARCH, 2025);
}

/* the slot's values as "value|text|start|end", in order */
static gchar *
slot_summary(PalNluResult *result, const gchar *name)
{
	JsonObject *slots = pal_nlu_result_get_slots(result);
	JsonArray *values =
	    json_object_has_member(slots, name) ? json_object_get_array_member(slots, name) : NULL;
	g_autoptr(GString) out = g_string_new(NULL);

	for (guint i = 0; values != NULL && i < json_array_get_length(values); i++) {
		JsonObject *v = json_array_get_object_element(values, i);
		g_autofree gchar *value = json_to_string(json_object_get_member(v, "value"), FALSE);
		g_string_append_printf(out,
				       "%s%s|%s|%" G_GINT64_FORMAT "|%" G_GINT64_FORMAT,
				       i > 0 ? " ; " : "",
				       value,
				       json_object_get_string_member(v, "text"),
				       json_object_get_int_member(v, "start"),
				       json_object_get_int_member(v, "end"));
	}
	return g_string_free(g_steal_pointer(&out), FALSE);
}

static PalNluResult *
parse_at(PalIntentsModel *model, const gchar *text)
{
	g_autoptr(GDate) today = fixed_today();

	return pal_intents_model_parse(model, text, 0.0, today);
}

static void
assert_slot(PalIntentsModel *model, const gchar *text, const gchar *slot, const gchar *expected)
{
	g_autoptr(PalNluResult) result = parse_at(model, text);
	g_autofree gchar *got = slot_summary(result, slot);

	if (g_strcmp0(got, expected) != 0)
		g_printerr("text %s, slot %s: got «%s», expected «%s»\n",
			   text,
			   slot,
			   got,
			   expected);
	g_assert_cmpstr(got, ==, expected);
}

static gchar *
write_temp_file(const gchar *dir, const gchar *name, const gchar *contents)
{
	gchar *path = g_build_filename(dir, name, NULL);
	g_autoptr(GError) error = NULL;

	g_file_set_contents(path, contents, -1, &error);
	g_assert_no_error(error);
	return path;
}

static void
remove_dir(const gchar *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const gchar *name;

	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		g_autofree gchar *path = g_build_filename(dir, name, NULL);
		g_unlink(path);
	}
	g_rmdir(dir);
}

/* a small model with two intents, for the slot and threshold tests */
#define SMALL_INTENTS                                                                              \
	"\"intents\": {"                                                                           \
	"  \"order\": [\"buy a laptop\", \"I want to order a phone\", \"order 3 notebooks\","      \
	"              \"purchase a tablet\", \"I'd like to buy something\"],"                     \
	"  \"weather\": [\"what is the weather\", \"will it rain tomorrow\", \"how warm is it\","  \
	"                \"weather forecast for friday\", \"is it sunny\"]}"

/* ======================================================================================== */
/* text */

static gchar *
stems_of(const gchar *locale, const gchar *text)
{
	g_autoptr(PalIntentsAnalyzer) analyzer = pal_intents_analyzer_new(locale);
	g_autoptr(GArray) tokens = pal_intents_analyzer_tokenize(analyzer, text, 100);
	g_autoptr(GString) out = g_string_new(NULL);

	for (guint i = 0; i < tokens->len; i++) {
		PalIntentsToken *t = &g_array_index(tokens, PalIntentsToken, i);
		g_string_append_printf(out, "%s%s", i > 0 ? " " : "", t->stem);
	}
	return g_string_free(g_steal_pointer(&out), FALSE);
}

static void
test_text_stemming(void)
{
	g_autofree gchar *en = stems_of("en", "Running runs RUN, runner's");
	g_autofree gchar *de = stems_of("de", "Bestellungen Bestellung bestellte");
	g_autofree gchar *de_umlaut = stems_of("de-CH", "Häuser Haus");
	g_autofree gchar *none = stems_of("xx", "running Runs");
	g_autofree gchar *fr = stems_of("fr_FR.UTF-8", "commandes commande");

	/* English: inflections share a stem */
	g_assert_cmpstr(en, ==, "run run run runner s");
	/* German: "Bestellungen" and "Bestellung" share a stem; umlauts are folded by the
	 * stemmer, case by the normalisation */
	g_assert_cmpstr(de, ==, "bestell bestell bestellt");
	g_assert_cmpstr(de_umlaut, ==, "haus haus");
	g_assert_cmpstr(fr, ==, "command command");
	/* an unknown language: normalised but not stemmed */
	g_assert_cmpstr(none, ==, "running runs");

	g_assert_cmpstr(pal_intents_stemmer_algorithm("en"), ==, "english");
	g_assert_cmpstr(pal_intents_stemmer_algorithm("en-US"), ==, "english");
	g_assert_cmpstr(pal_intents_stemmer_algorithm("de_DE.UTF-8"), ==, "german");
	g_assert_cmpstr(pal_intents_stemmer_algorithm("pt-BR"), ==, "portuguese");
	g_assert_null(pal_intents_stemmer_algorithm("xx"));
	g_assert_null(pal_intents_stemmer_algorithm("english"));
	g_assert_null(pal_intents_stemmer_algorithm(NULL));
}

static void
test_text_normalisation(void)
{
	g_autoptr(PalIntentsAnalyzer) analyzer = pal_intents_analyzer_new("en");
	/* NFKC ("ﬁ" → "fi", full-width digits), case folding ("ß" → "ss"), accents, and
	 * positions in characters of the original text */
	g_autoptr(GArray) tokens =
	    pal_intents_analyzer_tokenize(analyzer,
					  "Café ﬁle STRASSE Straße ＃１２ naïve-test",
					  100);
	const gchar *norms[] = {"cafe", "file", "strasse", "strasse", "12", "naive", "test"};
	const gint starts[] = {0, 5, 9, 17, 25, 28, 34};
	const gint ends[] = {4, 8, 16, 23, 27, 33, 38};

	g_assert_cmpuint(tokens->len, ==, G_N_ELEMENTS(norms));
	for (guint i = 0; i < tokens->len; i++) {
		PalIntentsToken *t = &g_array_index(tokens, PalIntentsToken, i);
		g_assert_cmpstr(t->norm, ==, norms[i]);
		g_assert_cmpint(t->start, ==, starts[i]);
		g_assert_cmpint(t->end, ==, ends[i]);
	}
	/* the limit of tokens */
	{
		g_autoptr(GArray) few = pal_intents_analyzer_tokenize(analyzer, "a b c d e f", 3);
		g_assert_cmpuint(few->len, ==, 3);
	}
	/* only punctuation: no tokens */
	{
		g_autoptr(GArray) none = pal_intents_analyzer_tokenize(analyzer, "?!… — ", 10);
		g_assert_cmpuint(none->len, ==, 0);
	}
}

/* ======================================================================================== */
/* slots */

static void
test_slots_list(void)
{
	g_autoptr(PalIntentsModel) model =
	    model_ok("{" SMALL_INTENTS ", \"slots\": {"
		     "  \"product\": {\"type\": \"list\", \"values\": {"
		     "     \"laptop\": [\"notebook\", \"laptop computer\"],"
		     "     \"phone\": [\"mobile phone\", \"smartphone\", \"cell\"],"
		     "     \"phone case\": []}},"
		     "  \"colour\": {\"type\": \"list\", \"values\": [\"red\", \"dark blue\"]}}}");

	/* canonical values and synonyms, plural forms through the stems, positions in the
	 * original text (characters, after a non-ASCII prefix), leftmost, then longest phrase first
	 */
	assert_slot(model,
		    "Grüße: two Notebooks and a phone case",
		    "product",
		    "\"laptop\"|Notebooks|11|20 ; \"phone case\"|phone case|27|37");
	/* leftmost first: "mobile phone" starts before "phone case" */
	assert_slot(model, "a mobile phone case", "product", "\"phone\"|mobile phone|2|14");
	assert_slot(model,
		    "a LAPTOP COMPUTER in dark blue",
		    "product",
		    "\"laptop\"|LAPTOP COMPUTER|2|17");
	assert_slot(model,
		    "a LAPTOP COMPUTER in dark blue",
		    "colour",
		    "\"dark blue\"|dark blue|21|30");
	assert_slot(model,
		    "my smartphone, my cell",
		    "product",
		    "\"phone\"|smartphone|3|13 ; \"phone\"|cell|18|22");
	/* "blue" alone is not "dark blue" */
	assert_slot(model, "something blue", "colour", "");
}

static void
test_slots_regex(void)
{
	g_autoptr(PalIntentsModel) model =
	    model_ok("{" SMALL_INTENTS ", \"slots\": {"
		     "  \"zip\": {\"type\": \"regex\", \"pattern\": \"\\\\b[0-9]{5}\\\\b\"},"
		     "  \"ticket\": {\"type\": \"regex\", \"pattern\": \"(?i)ticket "
		     "#?([A-Z]{2}-[0-9]+)\", \"group\": 1}}}");

	assert_slot(model,
		    "ship to 80331 or 10115, not 123456",
		    "zip",
		    "\"80331\"|80331|8|13 ; \"10115\"|10115|17|22");
	assert_slot(model, "Über Ticket #AB-42 bitte", "ticket", "\"AB-42\"|Ticket #AB-42|5|18");
	assert_slot(model, "no ticket here", "ticket", "");
}

static void
test_slots_number(void)
{
	g_autoptr(PalIntentsModel) model =
	    model_ok("{" SMALL_INTENTS ", \"slots\": {\"n\": {\"type\": \"NUMBER\"}}}");
	g_autoptr(PalIntentsModel) german = model_ok(
	    "{\"locale\": \"de\", " SMALL_INTENTS ", \"slots\": {\"n\": {\"type\": \"NUMBER\"}}}");

	assert_slot(model, "order 12345 please", "n", "12345|12345|6|11");
	assert_slot(model,
		    "3.5 kg, -2 degrees and 3,5 more",
		    "n",
		    "3.5|3.5|0|3 ; -2|-2|8|10 ; 3.5|3,5|23|26");
	assert_slot(model,
		    "1,234,567 people, 1,234.5 euros",
		    "n",
		    "1234567|1,234,567|0|9 ; 1234.5|1,234.5|18|25");
	/* not in words, codes, dates, e-mail addresses or URLs */
	assert_slot(model, "abc123 x9 on 2025-03-14 to a1@b2.com via http://x.org/7", "n", "");
	/* English number words */
	assert_slot(model, "twenty-one apples", "n", "21|twenty-one|0|10");
	assert_slot(model,
		    "a hundred and five or two thousand three hundred",
		    "n",
		    "105|a hundred and five|0|18 ; 2300|two thousand three hundred|22|48");
	assert_slot(model, "one two", "n", "1|one|0|3 ; 2|two|4|7");
	/* in German the dot groups thousands and the comma is the decimal point */
	assert_slot(german, "1.234,5 Euro und 2,5 kg", "n", "1234.5|1.234,5|0|7 ; 2.5|2,5|17|20");
}

static void
test_slots_email_url(void)
{
	g_autoptr(PalIntentsModel) model =
	    model_ok("{" SMALL_INTENTS ", \"slots\": {"
		     "\"mail\": {\"type\": \"EMAIL\"}, \"site\": {\"type\": \"URL\"}}}");

	assert_slot(model,
		    "write to Jane.Doe+shop@example.co.uk, thanks",
		    "mail",
		    "\"Jane.Doe+shop@example.co.uk\"|Jane.Doe+shop@example.co.uk|9|36");
	assert_slot(model, "not an address: a@b or @example.com", "mail", "");
	assert_slot(model,
		    "see https://example.org/a?b=1. Or (www.palaver.dev)!",
		    "site",
		    "\"https://example.org/a?b=1\"|https://example.org/a?b=1|4|29 ; "
		    "\"http://www.palaver.dev\"|www.palaver.dev|35|50");
}

static void
test_slots_date(void)
{
	g_autoptr(PalIntentsModel) model =
	    model_ok("{" SMALL_INTENTS ", \"slots\": {\"when\": {\"type\": \"DATE\"}}}");
	g_autoptr(PalIntentsModel) german = model_ok(
	    "{\"locale\": \"de\", " SMALL_INTENTS ", \"slots\": {\"when\": {\"type\": \"DATE\"}}}");

	/* today is Friday, 14 March 2025 */
	assert_slot(model,
		    "on 2025-12-24 or 24.12.2025",
		    "when",
		    "\"2025-12-24\"|2025-12-24|3|13 ; \"2025-12-24\"|24.12.2025|17|27");
	/* month first in English, day first elsewhere */
	assert_slot(model, "03/04/2025", "when", "\"2025-03-04\"|03/04/2025|0|10");
	assert_slot(german, "03/04/2025", "when", "\"2025-04-03\"|03/04/2025|0|10");
	assert_slot(model, "2025-02-30 is no date", "when", "");
	assert_slot(model,
		    "today, tomorrow or yesterday",
		    "when",
		    "\"2025-03-14\"|today|0|5 ; \"2025-03-15\"|tomorrow|7|15 ; "
		    "\"2025-03-13\"|yesterday|19|28");
	assert_slot(model,
		    "the day after tomorrow",
		    "when",
		    "\"2025-03-16\"|day after tomorrow|4|22");
	assert_slot(model, "in 3 days", "when", "\"2025-03-17\"|in 3 days|0|9");
	assert_slot(model, "in two weeks", "when", "\"2025-03-28\"|in two weeks|0|12");
	assert_slot(model, "3 days ago", "when", "\"2025-03-11\"|3 days ago|0|10");
	assert_slot(model, "monday", "when", "\"2025-03-17\"|monday|0|6");
	assert_slot(model, "friday", "when", "\"2025-03-14\"|friday|0|6");
	assert_slot(model, "next Friday", "when", "\"2025-03-21\"|next Friday|0|11");
	assert_slot(model, "last friday", "when", "\"2025-03-07\"|last friday|0|11");
	assert_slot(model, "March 20th", "when", "\"2025-03-20\"|March 20th|0|10");
	assert_slot(model, "5 January", "when", "\"2026-01-05\"|5 January|0|9");
	assert_slot(model, "the 1st of May 2026", "when", "\"2026-05-01\"|1st of May 2026|4|19");
	assert_slot(model, "may I order", "when", "");
	assert_slot(german,
		    "morgen oder übermorgen, in 2 Tagen, nächsten Montag",
		    "when",
		    "\"2025-03-15\"|morgen|0|6 ; \"2025-03-16\"|übermorgen|12|22 ; "
		    "\"2025-03-16\"|in 2 Tagen|24|34 ; \"2025-03-17\"|nächsten Montag|36|51");
	assert_slot(german, "Guten Morgen", "when", "");
}

/* ======================================================================================== */
/* classification */

static void
test_threshold(void)
{
	g_autoptr(PalIntentsModel) model = model_ok("{\"threshold\": 0.75, " SMALL_INTENTS "}");
	g_autoptr(GDate) today = fixed_today();
	g_autoptr(PalNluResult) any =
	    pal_intents_model_parse(model, "I would like a laptop", 0.0, today);
	gdouble score = pal_nlu_result_get_score(any);
	g_autoptr(PalNluResult) below =
	    pal_intents_model_parse(model, "I would like a laptop", score + 1e-9, today);
	g_autoptr(PalNluResult) at =
	    pal_intents_model_parse(model, "I would like a laptop", score, today);
	JsonArray *ranking = pal_nlu_result_get_ranking(below);
	JsonObject *best;

	g_assert_cmpfloat(pal_intents_model_get_threshold(model), ==, 0.75);
	g_assert_cmpstr(pal_nlu_result_get_intent(any), ==, "order");
	g_assert_cmpfloat(score, >, 0.5);
	g_assert_cmpfloat(score, <, 1.0);
	/* below the threshold: no intent, but the score and the ranking are there */
	g_assert_null(pal_nlu_result_get_intent(below));
	g_assert_cmpfloat(pal_nlu_result_get_score(below), ==, score);
	g_assert_cmpuint(json_array_get_length(ranking), ==, 2);
	best = json_array_get_object_element(ranking, 0);
	g_assert_cmpstr(json_object_get_string_member(best, "intent"), ==, "order");
	g_assert_cmpfloat(json_object_get_double_member(best, "score"), ==, score);
	/* the scores are probabilities, best first */
	g_assert_cmpfloat(
	    fabs(json_object_get_double_member(best, "score") +
		 json_object_get_double_member(json_array_get_object_element(ranking, 1), "score") -
		 1.0),
	    <,
	    1e-9);
	/* a score equal to the threshold passes */
	g_assert_cmpstr(pal_nlu_result_get_intent(at), ==, "order");
}

static void
test_ranking_top5(void)
{
	g_autoptr(GString) json = g_string_new("{\"intents\": {");
	g_autoptr(PalIntentsModel) model = NULL;
	g_autoptr(PalNluResult) result = NULL;
	JsonArray *ranking;
	gdouble last = 1.0;

	const gchar *words[] =
	    {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"};

	for (guint i = 0; i < G_N_ELEMENTS(words); i++)
		g_string_append_printf(json,
				       "%s\"i%u\": [\"%s thing\", \"%s stuff\"]",
				       i > 0 ? "," : "",
				       i,
				       words[i],
				       words[i]);
	g_string_append(json, "}}");
	model = model_ok(json->str);
	result = parse_at(model, "delta thing");
	ranking = pal_nlu_result_get_ranking(result);
	g_assert_cmpuint(json_array_get_length(ranking), ==, 5);
	g_assert_cmpstr(
	    json_object_get_string_member(json_array_get_object_element(ranking, 0), "intent"),
	    ==,
	    "i3");
	for (guint i = 0; i < 5; i++) {
		gdouble s = json_object_get_double_member(json_array_get_object_element(ranking, i),
							  "score");
		g_assert_cmpfloat(s, <=, last);
		last = s;
	}
}

static void
test_determinism(void)
{
	g_autofree gchar *path =
	    g_build_filename(g_getenv("PALAVER_SOURCE_ROOT"), "data", "nlu", "demo.json", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(PalIntentsModel) a = pal_intents_model_new_from_file(path, NULL, &error);
	g_autoptr(PalIntentsModel) b = NULL;
	const gchar *texts[] = {"where is my order 12345",
				"hello there",
				"is the gateway up?",
				"bye",
				"blue cheese",
				"I want a human"};

	g_assert_no_error(error);
	b = pal_intents_model_new_from_file(path, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(pal_intents_model_get_n_intents(a),
			 ==,
			 pal_intents_model_get_n_intents(b));
	for (guint i = 0; i < G_N_ELEMENTS(texts); i++) {
		guint n = pal_intents_model_get_n_intents(a);
		g_autofree gdouble *pa = g_new(gdouble, n);
		g_autofree gdouble *pb = g_new(gdouble, n);

		pal_intents_model_predict(a, texts[i], pa);
		pal_intents_model_predict(b, texts[i], pb);
		/* bit for bit */
		g_assert_cmpmem(pa, n * sizeof(gdouble), pb, n * sizeof(gdouble));
	}
}

/* a handful of SNIPS-like utterances: the seven intents of the SNIPS benchmark, new
 * utterances classified correctly */
static void
test_snips_sanity(void)
{
	g_autoptr(PalIntentsModel) model = model_ok(
	    "{\"intents\": {"
	    " \"AddToPlaylist\": [\"add this song to my playlist\", \"put the track on my road "
	    "trip list\","
	    "   \"add Beyonce to the workout playlist\", \"include this tune in my chill mix\","
	    "   \"add an album to my party playlist\", \"save the song to playlist jazz "
	    "classics\"],"
	    " \"BookRestaurant\": [\"book a table for two\", \"reserve a restaurant for tonight\","
	    "   \"I need a table at an italian place\", \"book a restaurant for 4 people "
	    "tomorrow\","
	    "   \"make a reservation at a steakhouse\", \"find me a table for dinner\"],"
	    " \"GetWeather\": [\"what is the weather in paris\", \"will it rain tomorrow\","
	    "   \"weather forecast for berlin\", \"is it going to be sunny\", \"how cold will it "
	    "be tonight\","
	    "   \"tell me the forecast for the weekend\"],"
	    " \"PlayMusic\": [\"play some jazz\", \"play the latest album by adele\", \"put on "
	    "some music\","
	    "   \"play a song by the beatles\", \"start playing rock music\", \"I want to hear "
	    "some blues\"],"
	    " \"RateBook\": [\"rate this book five stars\", \"give the novel 3 out of 6\","
	    "   \"I rate the current textbook a 4\", \"give this essay two points\","
	    "   \"rate the book the hobbit 5 stars\", \"award this novel four stars\"],"
	    " \"SearchCreativeWork\": [\"find the movie alien\", \"search for the tv show "
	    "friends\","
	    "   \"look up the painting mona lisa\", \"find the video game zelda\","
	    "   \"show me the book dune\", \"search for a soundtrack called interstellar\"],"
	    " \"SearchScreeningEvent\": [\"what movies are playing at the cinema\","
	    "   \"movie times at the local theatre\", \"when is the film showing nearby\","
	    "   \"find movie schedules for tonight\", \"which films are on at the multiplex\","
	    "   \"show me showtimes for animated movies\"]}}");
	const struct {
		const gchar *text;
		const gchar *intent;
	} cases[] = {
	    {"add the song to my dinner playlist", "AddToPlaylist"},
	    {"book a table at a french restaurant", "BookRestaurant"},
	    {"what's the weather forecast for tomorrow in london", "GetWeather"},
	    {"play music by queen", "PlayMusic"},
	    {"rate the book three stars", "RateBook"},
	    {"find the tv series lost", "SearchCreativeWork"},
	    {"what films are showing at the cinema tonight", "SearchScreeningEvent"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(PalNluResult) result = parse_at(model, cases[i].text);
		g_assert_cmpstr(
		    json_object_get_string_member(
			json_array_get_object_element(pal_nlu_result_get_ranking(result), 0),
			"intent"),
		    ==,
		    cases[i].intent);
	}
}

/* the shipped demo model answers the demo bot's questions */
static void
test_demo_model(void)
{
	g_autofree gchar *path =
	    g_build_filename(g_getenv("PALAVER_SOURCE_ROOT"), "data", "nlu", "demo.json", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(PalIntentsModel) model = pal_intents_model_new_from_file(path, NULL, &error);
	const struct {
		const gchar *text;
		const gchar *intent;
	} cases[] = {
	    {"order_status", "order_status"},
	    {"status", "status"},
	    {"agent", "agent"},
	    {"bye", "bye"},
	    {"Hello!", "greeting"},
	    {"where's my parcel 12345?", "order_status"},
	    {"is the gateway running", "status"},
	    {"I want to talk to a human", "agent"},
	    {"thanks, see you", "bye"},
	};

	g_assert_no_error(error);
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(PalNluResult) result =
		    pal_intents_model_parse(model,
					    cases[i].text,
					    pal_intents_model_get_threshold(model),
					    NULL);
		if (g_strcmp0(pal_nlu_result_get_intent(result), cases[i].intent) != 0)
			g_printerr("%s: got %s (%.3f)\n",
				   cases[i].text,
				   pal_nlu_result_get_intent(result),
				   pal_nlu_result_get_score(result));
		g_assert_cmpstr(pal_nlu_result_get_intent(result), ==, cases[i].intent);
	}
	{
		g_autoptr(PalNluResult) result = parse_at(model, "where is order 12345");
		g_autofree gchar *order = slot_summary(result, "order");
		g_assert_cmpstr(order, ==, "12345|12345|15|20");
	}
}

/* ======================================================================================== */
/* malformed models */

static void
test_malformed(void)
{
	const struct {
		const gchar *json;
		const gchar *error;
	} cases[] = {
	    {"{\"intents\": {\"a\": [\"x y\", \"z\", \"w\", 42], \"b\": [\"q\"]}}",
	     "intents.a[3]: expected a string, got 42"},
	    {"{\"intents\": {\"a\": \"hello\", \"b\": [\"q\"]}}",
	     "intents.a: expected an array of example utterances, got \"hello\""},
	    {"{\"intents\": {\"a\": [], \"b\": [\"q\"]}}",
	     "intents.a: an intent needs at least one example"},
	    {"{\"intents\": {\"a\": [\"   \"], \"b\": [\"q\"]}}",
	     "intents.a[0]: the example is empty"},
	    {"{\"intents\": {\"a\": [\"?!\"], \"b\": [\"q\"]}}",
	     "intents.a[0]: the example has no words"},
	    {"{\"intents\": {\"a\": [\"x\"]}}",
	     "intents: a model needs at least 2 intents, it has 1"},
	    {"{\"locale\": \"en\"}", "intents: missing"},
	    {"{\"intents\": {\"a\": [\"x\"], \"b\": [\"y\"]}, \"treshold\": 0.5}",
	     "treshold: unknown key"},
	    {"{\"intents\": {\"a\": [\"x\"], \"b\": [\"y\"]}, \"threshold\": 2}",
	     "threshold: expected a number from 0 to 1, got 2"},
	    {"{\"intents\": {\"a\": [\"x\"], \"b\": [\"y\"]}, \"locale\": 7}",
	     "locale: expected a string, got 7"},
	    {"{\"intents\": {\"a\": [\"x\"], \"b\": [\"y\"]}, \"slots\": {\"s\": {\"type\": "
	     "\"colour\"}}}",
	     "slots.s.type: expected one of list, regex, NUMBER, EMAIL, URL, DATE, got \"colour\""},
	    {"{\"intents\": {\"a\": [\"x\"], \"b\": [\"y\"]}, \"slots\": {\"s\": {\"type\": "
	     "\"regex\", \"pattern\": \"(a\"}}}",
	     "slots.s.pattern: invalid regular expression"},
	    {"{\"intents\": {\"a\": [\"x\"], \"b\": [\"y\"]}, \"slots\": {\"s\": {\"type\": "
	     "\"list\", \"values\": {\"v\": [1]}}}}",
	     "slots.s.values.v[0]: expected a string, got 1"},
	    {"{\"intents\": {\"a\": [\"x\"], \"b\": [\"y\"]}, \"slots\": {\"s\": {\"type\": "
	     "\"NUMBER\", \"min\": 1}}}",
	     "slots.s.min: unknown key for a NUMBER slot"},
	    {"{\"intents\": {\"a\": [\"x\"], \"b\": [\"y\"]}, \"training\": {\"epochs\": 0}}",
	     "training.epochs: expected an integer from 1 to 200, got 0"},
	    {"[{\"text\": \"x\", \"intent\": \"a\"}, {\"text\": null, \"intent\": \"b\"}]",
	     "[1].text: expected a string, got null"},
	    {"[{\"text\": \"x\", \"intent\": \"a\"}, 5]", "[1]: expected an object"},
	    {"\"model\"", "expected a model object or an array"},
	    {"{\"intents\": {\"a\": [\"x\"], \"b\": [\"y\"],}}", "model.json:1:"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(PalIntentsModel) model = model_from_json(cases[i].json, &error);

		g_assert_null(model);
		g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
		if (strstr(error->message, cases[i].error) == NULL)
			g_printerr("case %u: %s\n", i, error->message);
		g_assert_nonnull(strstr(error->message, cases[i].error));
	}
}

static void
test_malformed_limits(void)
{
	g_autoptr(GString) deep = g_string_new(NULL);
	g_autoptr(GString) long_example = g_string_new("{\"intents\": {\"a\": [\"");
	g_autoptr(GError) error = NULL;
	g_autoptr(GString) many =
	    g_string_new("{\"intents\": {\"a\": [\"x\"], \"b\": [\"a\", 1, 2, 3, 4, 5");
	g_autoptr(PalIntentsModel) model = NULL;

	/* nesting is refused before parsing */
	for (guint i = 0; i < 100000; i++)
		g_string_append_c(deep, '[');
	model = model_from_json(deep->str, &error);
	g_assert_null(model);
	g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
	g_clear_error(&error);

	/* an example over 1,000 characters */
	for (guint i = 0; i < 1001; i++)
		g_string_append_c(long_example, 'x');
	g_string_append(long_example, "\"], \"b\": [\"y\"]}}");
	model = model_from_json(long_example->str, &error);
	g_assert_null(model);
	g_assert_nonnull(
	    strstr(error->message,
		   "intents.a[0]: the example is 1001 characters long, at most 1000 are allowed"));
	g_clear_error(&error);

	/* many problems: the first 20, then how many more */
	for (guint i = 0; i < 30; i++)
		g_string_append_printf(many, ", %u", i);
	g_string_append(many, "]}}");
	model = model_from_json(many->str, &error);
	g_assert_null(model);
	g_assert_nonnull(strstr(error->message, "intents.b[1]: expected a string, got 1\n"));
	g_assert_nonnull(strstr(error->message, "… and 15 more problem(s)"));
}

/* ======================================================================================== */
/* the plugin: options, cache, async interface */

static PalNlu *
plugin_new(PalEndpointInfo *info, const gchar *options_json, GError **error)
{
	g_autoptr(JsonNode) node = pal_test_json_parse(options_json);
	g_autoptr(GObject) obj = g_object_new(PAL_TYPE_INTENTS_PLUGIN, NULL);

	if (!pal_extension_setup(PAL_EXTENSION(obj), info, json_node_get_object(node), error))
		return NULL;
	return PAL_NLU(g_steal_pointer(&obj));
}

static void
parse_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	PalNluResult **out = user_data;
	g_autoptr(GError) error = NULL;

	*out = pal_nlu_parse_finish(PAL_NLU(source), res, &error);
	g_assert_no_error(error);
}

static PalNluResult *
plugin_parse(PalNlu *nlu, const gchar *text)
{
	PalNluResult *result = NULL;

	pal_nlu_parse_async(nlu, text, "en", NULL, parse_cb, &result);
	/* the result comes from an idle, never from inside parse_async */
	g_assert_null(result);
	while (result == NULL)
		g_main_context_iteration(NULL, TRUE);
	return result;
}

static void
test_plugin_options(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("palaver-test-nlu-XXXXXX", NULL);
	g_autofree gchar *model_path =
	    write_temp_file(dir, "m.json", "{\"threshold\": 0.9, " SMALL_INTENTS "}");
	g_autofree gchar *bad_path =
	    write_temp_file(dir, "bad.json", "{\"intents\": {\"a\": [\"x\", 42], \"b\": [\"y\"]}}");
	g_autoptr(PalEndpointInfo) info = pal_endpoint_info_new("ep", "en", dir, NULL, FALSE);
	const struct {
		const gchar *options;
		const gchar *error;
	} bad[] = {
	    {"{}", "nlu.model: missing"},
	    {"{\"model\": 5}", "nlu.model: expected the path of a model file, got 5"},
	    {"{\"model\": \"m.json\", \"threshold\": 1.5}",
	     "nlu.threshold: expected a number from 0 to 1, got 1.5"},
	    {"{\"model\": \"m.json\", \"modle\": 1}", "nlu.modle: unknown option"},
	    {"{\"model\": \"missing.json\"}", "nlu.model: file missing.json found neither in"},
	    {"{\"model\": \"bad.json\"}", "bad.json:\nintents.a[1]: expected a string, got 42"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(PalNlu) nlu = plugin_new(info, bad[i].options, &error);
		g_assert_null(nlu);
		if (strstr(error->message, bad[i].error) == NULL)
			g_printerr("%s: %s\n", bad[i].options, error->message);
		g_assert_nonnull(strstr(error->message, bad[i].error));
	}

	/* the model's threshold, and the option overriding it; relative to the endpoint folder */
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(PalNlu) strict = plugin_new(info, "{\"model\": \"m.json\"}", &error);
		g_autoptr(PalNlu) lax =
		    plugin_new(info, "{\"model\": \"m.json\", \"threshold\": 0}", &error);
		g_autoptr(PalNluResult) r1 = NULL;
		g_autoptr(PalNluResult) r2 = NULL;
		g_autoptr(JsonNode) json = NULL;
		JsonObject *obj;

		g_assert_no_error(error);
		r1 = plugin_parse(strict, "hmm");
		r2 = plugin_parse(lax, "hmm");
		g_assert_null(pal_nlu_result_get_intent(r1));
		g_assert_nonnull(pal_nlu_result_get_intent(r2));
		/* what flows get */
		json = pal_nlu_result_to_json(r1);
		obj = json_node_get_object(json);
		g_assert_true(json_object_has_member(obj, "intent"));
		g_assert_true(JSON_NODE_HOLDS_NULL(json_object_get_member(obj, "intent")));
		g_assert_cmpuint(
		    json_array_get_length(json_object_get_array_member(obj, "ranking")),
		    ==,
		    2);
		g_assert_true(json_object_has_member(obj, "slots"));
	}
	remove_dir(dir);
}

typedef struct {
	PalEndpointInfo *info;
	const gchar *options;
	PalNlu *nlu;
} CacheThread;

static gpointer
cache_thread(gpointer data)
{
	CacheThread *t = data;
	g_autoptr(GError) error = NULL;

	t->nlu = plugin_new(t->info, t->options, &error);
	g_assert_no_error(error);
	return NULL;
}

static void
test_plugin_cache(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("palaver-test-nlu-XXXXXX", NULL);
	g_autofree gchar *path = write_temp_file(dir, "m.json", "{" SMALL_INTENTS "}");
	g_autoptr(PalEndpointInfo) info = pal_endpoint_info_new("ep", "en", dir, NULL, FALSE);
	guint before = pal_intents_model_cache_get_n_trained();
	CacheThread threads[4];
	GThread *handles[4];
	g_autoptr(GError) error = NULL;
	g_autoptr(PalNlu) again = NULL;
	g_autoptr(PalNlu) changed = NULL;
	g_autoptr(PalNluResult) r = NULL;

	/* four instances created at once on four threads (a worker each, as the gateway
	 * does): one training, shared */
	for (guint i = 0; i < G_N_ELEMENTS(threads); i++) {
		threads[i].info = info;
		threads[i].options = i % 2 ? "{\"model\": \"m.json\", \"threshold\": 0.1}"
					   : "{\"model\": \"m.json\"}";
		threads[i].nlu = NULL;
		handles[i] = g_thread_new("setup", cache_thread, &threads[i]);
	}
	for (guint i = 0; i < G_N_ELEMENTS(threads); i++)
		g_thread_join(handles[i]);
	g_assert_cmpuint(pal_intents_model_cache_get_n_trained(), ==, before + 1);

	/* another instance later: still the same model */
	again = plugin_new(info, "{\"model\": \"m.json\"}", &error);
	g_assert_no_error(error);
	g_assert_cmpuint(pal_intents_model_cache_get_n_trained(), ==, before + 1);

	/* a changed file is trained again */
	g_usleep(10000);
	g_free(write_temp_file(
	    dir,
	    "m.json",
	    "{\"intents\": {\"x\": [\"alpha\"], \"y\": [\"beta\"], \"z\": [\"gamma\"]}}"));
	changed = plugin_new(info, "{\"model\": \"m.json\"}", &error);
	g_assert_no_error(error);
	g_assert_cmpuint(pal_intents_model_cache_get_n_trained(), ==, before + 2);
	r = plugin_parse(changed, "gamma");
	g_assert_cmpuint(json_array_get_length(pal_nlu_result_get_ranking(r)), ==, 3);

	for (guint i = 0; i < G_N_ELEMENTS(threads); i++)
		g_object_unref(threads[i].nlu);
	remove_dir(dir);
}

/* ======================================================================================== */
/* palaver-tool nlu parse / evaluate */

static gchar *
run_tool(const gchar *const *args, gint *status)
{
	g_autoptr(GSubprocessLauncher) launcher =
	    pal_test_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE);
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GSubprocess) proc = NULL;
	g_autoptr(GError) error = NULL;
	gchar *out = NULL;

	g_ptr_array_add(argv, (gpointer)g_getenv("PALAVER_TOOL"));
	g_ptr_array_add(argv, (gpointer) "nlu");
	for (guint i = 0; args[i] != NULL; i++)
		g_ptr_array_add(argv, (gpointer)args[i]);
	g_ptr_array_add(argv, (gpointer) "--plugin-dir");
	g_ptr_array_add(argv, (gpointer)g_getenv("PALAVER_BUILD_PLUGINDIR"));
	g_ptr_array_add(argv, (gpointer) "--no-plugin-permission-check");
	g_ptr_array_add(argv, NULL);
	proc = g_subprocess_launcher_spawnv(launcher, (const gchar *const *)argv->pdata, &error);
	g_assert_no_error(error);
	g_subprocess_communicate_utf8(proc, NULL, NULL, &out, NULL, &error);
	g_assert_no_error(error);
	*status = g_subprocess_get_exit_status(proc);
	return out;
}

static void
test_tool(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("palaver-test-nlu-XXXXXX", NULL);
	g_autofree gchar *demo =
	    g_build_filename(g_getenv("PALAVER_SOURCE_ROOT"), "data", "nlu", "demo.json", NULL);
	g_autofree gchar *train = write_temp_file(
	    dir,
	    "train.json",
	    "[{\"text\": \"buy a laptop\", \"intent\": \"order\"},"
	    " {\"text\": \"order a phone\", \"intent\": \"order\", \"entities\": []},"
	    " {\"text\": \"purchase a tablet\", \"intent\": \"order\"},"
	    " {\"text\": \"what is the weather\", \"intent\": \"weather\"},"
	    " {\"text\": \"will it rain\", \"intent\": \"weather\"},"
	    " {\"text\": \"is it sunny today\", \"intent\": \"weather\"}]");
	g_autofree gchar *data =
	    write_temp_file(dir,
			    "data.json",
			    "[{\"text\": \"I want to buy a phone\", \"intent\": \"order\"},"
			    " {\"text\": \"will it be sunny\", \"intent\": \"weather\"}]");
	g_autofree gchar *oos =
	    write_temp_file(dir,
			    "oos.json",
			    "[{\"text\": \"sing me a song\", \"intent\": \"oos\"}]");
	g_autofree gchar *bad =
	    write_temp_file(dir, "bad.json", "[{\"text\": \"x\", \"intent\": 1}]");
	const gchar *parse_args[] =
	    {"parse", "--model", demo, "where", "is", "order", "12345", NULL};
	const gchar *eval_args[] = {"evaluate",
				    "--train",
				    train,
				    "--data",
				    data,
				    "--oos",
				    oos,
				    "--threshold",
				    "0",
				    "--json",
				    NULL};
	const gchar *tune_args[] = {"evaluate",
				    "--train",
				    train,
				    "--data",
				    data,
				    "--tune-data",
				    data,
				    "--tune-oos",
				    oos,
				    "--json",
				    NULL};
	const gchar *bad_args[] = {"evaluate", "--train", bad, "--data", data, NULL};
	const gchar *usage_args[] = {"evaluate", "--data", data, NULL};
	gint status = -1;
	g_autofree gchar *out = NULL;
	g_autoptr(JsonNode) node = NULL;
	JsonObject *obj;

	/* parse: the result as flows see it */
	out = run_tool(parse_args, &status);
	g_assert_cmpint(status, ==, 0);
	node = pal_test_json_parse(out);
	obj = json_node_get_object(node);
	g_assert_cmpstr(json_object_get_string_member(obj, "intent"), ==, "order_status");
	g_assert_cmpint(json_array_get_length(json_object_get_array_member(obj, "ranking")), ==, 5);
	g_assert_cmpint(
	    json_object_get_int_member(
		json_array_get_object_element(
		    json_object_get_array_member(json_object_get_object_member(obj, "slots"),
						 "order"),
		    0),
		"value"),
	    ==,
	    12345);
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&node, json_node_unref);

	/* evaluate a training array: the numbers the README promises */
	out = run_tool(eval_args, &status);
	g_assert_cmpint(status, ==, 0);
	node = pal_test_json_parse(out);
	obj = json_node_get_object(node);
	g_assert_cmpfloat(json_object_get_double_member(obj, "inScopeAccuracy"), ==, 100.0);
	g_assert_cmpfloat(json_object_get_double_member(obj, "macroF1"),
			  <,
			  100.0); /* the OOS row is a false positive */
	g_assert_cmpfloat(json_object_get_double_member(obj, "outOfScopeRecall"), ==, 0.0);
	g_assert_cmpfloat(json_object_get_double_member(obj, "trainSeconds"), >, 0.0);
	g_assert_cmpfloat(json_object_get_double_member(obj, "microsecondsPerUtterance"), >, 0.0);
	g_assert_cmpint(json_object_get_int_member(obj, "utterances"), ==, 3);
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&node, json_node_unref);

	/* a threshold chosen on tuning data */
	out = run_tool(tune_args, &status);
	g_assert_cmpint(status, ==, 0);
	node = pal_test_json_parse(out);
	obj = json_node_get_object(node);
	g_assert_cmpstr(json_object_get_string_member(obj, "thresholdSource"), ==, "tuned");
	g_assert_true(json_object_has_member(json_object_get_object_member(obj, "tuning"),
					     "outOfScopeRecall"));
	g_assert_true(JSON_NODE_HOLDS_NULL(json_object_get_member(obj, "outOfScopeRecall")));
	g_clear_pointer(&out, g_free);

	/* errors: a bad training file names the row, a usage error exits 2 */
	out = run_tool(bad_args, &status);
	g_assert_cmpint(status, ==, 1);
	g_clear_pointer(&out, g_free);
	out = run_tool(usage_args, &status);
	g_assert_cmpint(status, ==, 2);
	remove_dir(dir);
}

/* ======================================================================================== */
/* end to end: palaverd, an endpoint with the intents NLU, a graph flow that branches on
 * input.intent and a slot */

static const gchar *e2e_flow =
    "{\"start\": \"route\", \"nodes\": {"
    " \"route\": {\"type\": \"switch\", \"value\": \"{{ input.intent or 'none' }}\","
    "   \"cases\": {\"order_status\": \"order\", \"greeting\": \"hi\"}, \"default\": \"other\"},"
    " \"order\": {\"type\": \"if\", \"condition\": \"input.slots.order ~= nil and "
    "#input.slots.order > 0\","
    "   \"then\": \"known\", \"else\": \"ask\"},"
    " \"known\": {\"type\": \"say\", \"text\": \"Order {{ input.slots.order[1] }} ships {{ "
    "input.slots.when and input.slots.when[1] or 'soon' }}.\"},"
    " \"ask\": {\"type\": \"say\", \"text\": \"Which order?\"},"
    " \"hi\": {\"type\": \"say\", \"text\": \"Hello ({{ input.intent }}).\"},"
    " \"other\": {\"type\": \"say\", \"text\": \"Intent {{ input.intent or 'none' }}.\"}"
    "}}";

static void
post_text(PalTestDaemon *d, const gchar *token, const gchar *session, const gchar *text)
{
	g_autofree gchar *url = pal_test_daemon_get_url(d, token);
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonNode) root = NULL;
	g_autofree gchar *body = NULL;
	g_autoptr(GError) error = NULL;
	guint status = 0;

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "userId");
	json_builder_add_string_value(b, "u1");
	json_builder_set_member_name(b, "sessionId");
	json_builder_add_string_value(b, session);
	json_builder_set_member_name(b, "text");
	json_builder_add_string_value(b, text);
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	body = json_to_string(root, FALSE);
	g_assert_true(pal_test_http_post(url,
					 "application/json",
					 body,
					 strlen(body),
					 NULL,
					 &status,
					 NULL,
					 &error));
	g_assert_no_error(error);
	g_assert_cmpuint(status, ==, 202);
}

/* the text of the delivery for @session number @n (from 0), waiting for it */
static gchar *
wait_text(PalTestReceiver *r, const gchar *session)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)WAIT_MS * 1000;

	for (;;) {
		g_autoptr(GPtrArray) all = pal_test_receiver_dup_requests(r);
		for (guint i = 0; i < all->len; i++) {
			JsonNode *root = pal_received_request_get_json(g_ptr_array_index(all, i));
			JsonObject *obj = root != NULL ? json_node_get_object(root) : NULL;
			JsonObject *ai =
			    obj != NULL ? json_object_get_object_member(obj, "AIOutput") : NULL;
			if (ai != NULL && g_strcmp0(json_object_get_string_member(obj, "sessionId"),
						    session) == 0)
				return g_strdup(json_object_get_string_member(ai, "text"));
		}
		if (g_get_monotonic_time() > deadline)
			return NULL;
		pal_test_receiver_wait_count(r, pal_test_receiver_get_count(r) + 1, 200);
	}
}

static void
test_e2e(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *hook = pal_test_receiver_get_url(r, "/hook");
	g_autofree gchar *demo_path =
	    g_build_filename(g_getenv("PALAVER_SOURCE_ROOT"), "data", "nlu", "demo.json", NULL);
	g_autofree gchar *demo = NULL;
	g_autofree gchar *endpoint = NULL;
	g_autoptr(GError) error = NULL;
	const struct {
		const gchar *session;
		const gchar *text;
		const gchar *expected;
	} turns[] = {
	    {"s1", "where is my order 4711", "Order 4711 ships soon."},
	    {"s2", "has my order arrived? it was due tomorrow", NULL},
	    {"s3", "Hi there!", "Hello (greeting)."},
	    {"s4", "can I talk to a human please", "Intent agent."},
	    {"s5", "track order 123 for 2030-01-02", "Order 123 ships 2030-01-02."},
	};
	gint status = -1;

	g_assert_true(g_file_get_contents(demo_path, &demo, NULL, &error));
	pal_test_daemon_write_file(d, "endpoints.d/nlu/demo.json", demo);
	pal_test_daemon_write_file(d, "endpoints.d/flows/route.json", e2e_flow);
	endpoint = g_strdup_printf(
	    "{\"name\": \"nlu\", \"URLToken\": \"nlu-token-00000000001\", \"locale\": \"en\","
	    " \"flow\": {\"type\": \"graph\", \"file\": \"flows/route.json\"},"
	    " \"nlu\": {\"type\": \"intents\", \"model\": \"nlu/demo.json\"},"
	    " \"webhook\": {\"url\": \"%s\"}}",
	    hook);
	pal_test_daemon_add_endpoint(d, "nlu.json", endpoint);
	if (!pal_test_daemon_start(d, &error))
		g_error("palaverd did not start: %s", error->message);

	for (guint i = 0; i < G_N_ELEMENTS(turns); i++) {
		g_autofree gchar *text = NULL;

		post_text(d, "nlu-token-00000000001", turns[i].session, turns[i].text);
		text = wait_text(r, turns[i].session);
		g_assert_nonnull(text);
		if (turns[i].expected == NULL) {
			/* an order intent without a number: the flow asks */
			g_assert_cmpstr(text, ==, "Which order?");
			continue;
		}
		g_assert_cmpstr(text, ==, turns[i].expected);
	}
	g_assert_true(pal_test_daemon_stop(d, SIGTERM, 15000, &status, &error));
	g_assert_no_error(error);
	g_assert_cmpint(status, ==, 0);
}

/* a daemon test in a child process of its own: a failure leaves no daemon behind */
static void
test_e2e_isolated(void)
{
	if (g_test_subprocess()) {
		test_e2e();
		return;
	}
	g_test_trap_subprocess(NULL, 120 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
	g_test_trap_assert_passed();
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/palaver/nlu-intents/text/stemming", test_text_stemming);
	g_test_add_func("/palaver/nlu-intents/text/normalisation", test_text_normalisation);
	g_test_add_func("/palaver/nlu-intents/slots/list", test_slots_list);
	g_test_add_func("/palaver/nlu-intents/slots/regex", test_slots_regex);
	g_test_add_func("/palaver/nlu-intents/slots/number", test_slots_number);
	g_test_add_func("/palaver/nlu-intents/slots/email-url", test_slots_email_url);
	g_test_add_func("/palaver/nlu-intents/slots/date", test_slots_date);
	g_test_add_func("/palaver/nlu-intents/model/threshold", test_threshold);
	g_test_add_func("/palaver/nlu-intents/model/ranking-top5", test_ranking_top5);
	g_test_add_func("/palaver/nlu-intents/model/determinism", test_determinism);
	g_test_add_func("/palaver/nlu-intents/model/snips-sanity", test_snips_sanity);
	g_test_add_func("/palaver/nlu-intents/model/demo", test_demo_model);
	g_test_add_func("/palaver/nlu-intents/model/malformed", test_malformed);
	g_test_add_func("/palaver/nlu-intents/model/malformed-limits", test_malformed_limits);
	g_test_add_func("/palaver/nlu-intents/plugin/options", test_plugin_options);
	g_test_add_func("/palaver/nlu-intents/plugin/cache", test_plugin_cache);
	g_test_add_func("/palaver/nlu-intents/tool/parse-evaluate", test_tool);
	g_test_add_func("/palaver/nlu-intents/e2e/conversation", test_e2e_isolated);
	return g_test_run();
}
