/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The `rasa` NLU plugin. Rasa cannot be installed here (it is a Python application with
 * machine-learning dependencies that Debian does not ship), so these tests talk to a loopback
 * FAKE of its HTTP API's `POST /model/parse` (a PalTestService answering with recorded Rasa
 * answers). The plugin itself, the HTTP client and, in the last test, the real palaverd are
 * not faked.
 */

#include "config.h"

#include "pal-rasa-nlu-plugin.h"
#include "pal-test-util.h"

static const gchar *rasa_answer =
    "{\"text\": \"two pizzas to München please\","
    " \"intent\": {\"name\": \"order_food\", \"confidence\": 0.93},"
    " \"entities\": ["
    "   {\"entity\": \"count\", \"value\": 2, \"start\": 0, \"end\": 3, \"extractor\": \"DIETClassifier\"},"
    "   {\"entity\": \"city\", \"value\": \"Munich\", \"start\": 14, \"end\": 21},"
    "   {\"entity\": \"broken\", \"value\": \"x\", \"start\": 40, \"end\": 99}],"
    " \"intent_ranking\": ["
    "   {\"name\": \"order_food\", \"confidence\": 0.93}, {\"name\": \"greet\", \"confidence\": 0.03},"
    "   {\"name\": \"a\", \"confidence\": 0.01}, {\"name\": \"b\", \"confidence\": 0.01},"
    "   {\"name\": \"c\", \"confidence\": 0.01}, {\"name\": \"d\", \"confidence\": 0.005},"
    "   {\"name\": \"e\", \"confidence\": 0.005}]}";

static PalNlu *
make_plugin(const gchar *options_json, GError **error)
{
	g_autoptr(PalEndpointInfo) info = pal_endpoint_info_new("ep", "en", NULL, NULL, FALSE);
	g_autoptr(JsonNode) options = pal_test_json_parse(options_json);
	g_autoptr(GObject) obj = g_object_new(PAL_TYPE_RASA_NLU_PLUGIN, NULL);

	if (!pal_extension_setup(PAL_EXTENSION(obj), info, json_node_get_object(options), error))
		return NULL;
	return PAL_NLU(g_steal_pointer(&obj));
}

static void
parse_done_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GAsyncResult **out = user_data;

	*out = g_object_ref(res);
}

static PalNluResult *
parse(PalNlu *nlu, const gchar *text, GError **error)
{
	g_autoptr(GAsyncResult) res = NULL;
	gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;

	pal_nlu_parse_async(nlu, text, "en", NULL, parse_done_cb, &res);
	while (res == NULL && g_get_monotonic_time() < deadline)
		g_main_context_iteration(NULL, TRUE);
	g_assert_nonnull(res);
	return pal_nlu_parse_finish(nlu, res, error);
}

static void
test_options(void)
{
	const struct {
		const gchar *options;
		const gchar *message;
	} cases[] = {
	    {"{}", "nlu.url: missing"},
	    {"{\"url\": \"ftp://x\"}", "nlu.url: expected an http or https URL"},
	    {"{\"url\": 5}", "nlu.url: expected a non-empty string, got 5"},
	    {"{\"url\": \"http://x\", \"timeoutMs\": 0}", "nlu.timeoutMs: expected an integer from 1 to 60000, got 0"},
	    {"{\"url\": \"http://x\", \"maxConnections\": 1.5}", "nlu.maxConnections: expected an integer from 1 to 256"},
	    {"{\"url\": \"http://x\", \"tokne\": \"t\"}", "nlu.tokne: unknown option"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(PalNlu) nlu = make_plugin(cases[i].options, &error);

		g_assert_null(nlu);
		g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
		if (!g_str_has_prefix(error->message, cases[i].message))
			g_error("options %s: got \"%s\", expected \"%s…\"", cases[i].options, error->message, cases[i].message);
	}
}

/* the answer of the fake Rasa: intent, top 5, entities with the text they cover */
static void
test_mapping(void)
{
	g_autoptr(PalTestService) rasa = pal_test_service_new_with_answer(200, rasa_answer, 0);
	g_autofree gchar *options = g_strdup_printf("{\"url\": \"http://127.0.0.1:%u/\", \"token\": \"s3cr&t\"}",
						    pal_test_service_get_port(rasa));
	g_autoptr(GError) error = NULL;
	g_autoptr(PalNlu) nlu = make_plugin(options, &error);
	g_autoptr(PalNluResult) result = NULL;
	const PalTestServiceRequest *req;
	JsonArray *ranking, *count, *city;
	JsonObject *slots, *first;

	g_assert_no_error(error);
	result = parse(nlu, "two pizzas to München please", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(pal_nlu_result_get_intent(result), ==, "order_food");
	g_assert_cmpfloat_with_epsilon(pal_nlu_result_get_score(result), 0.93, 1e-9);
	ranking = pal_nlu_result_get_ranking(result);
	g_assert_cmpuint(json_array_get_length(ranking), ==, 5);
	slots = pal_nlu_result_get_slots(result);
	count = json_object_get_array_member(slots, "count");
	first = json_array_get_object_element(count, 0);
	g_assert_cmpint(json_object_get_int_member(first, "value"), ==, 2);
	g_assert_cmpstr(json_object_get_string_member(first, "text"), ==, "two");
	/* offsets are characters: "München" is 7 characters and 8 bytes */
	city = json_object_get_array_member(slots, "city");
	first = json_array_get_object_element(city, 0);
	g_assert_cmpstr(json_object_get_string_member(first, "value"), ==, "Munich");
	g_assert_cmpstr(json_object_get_string_member(first, "text"), ==, "München");
	g_assert_cmpint(json_object_get_int_member(first, "start"), ==, 14);
	/* offsets beyond the text are not trusted */
	first = json_array_get_object_element(json_object_get_array_member(slots, "broken"), 0);
	g_assert_cmpint(json_object_get_int_member(first, "start"), ==, -1);

	req = pal_test_service_get_request(rasa, 0);
	g_assert_cmpstr(req->method, ==, "POST");
	g_assert_cmpstr(req->path, ==, "/model/parse");
	g_assert_cmpstr(req->query, ==, "token=s3cr%26t");
	g_assert_cmpstr(json_object_get_string_member(pal_test_service_request_get_object(req), "text"), ==,
			"two pizzas to München please");

	/* no intent: Rasa says null */
	pal_test_service_set_answer(rasa, 200, "{\"intent\": null, \"entities\": []}", 0);
	g_clear_object(&result);
	result = parse(nlu, "hmm", &error);
	g_assert_no_error(error);
	g_assert_null(pal_nlu_result_get_intent(result));
}

static void
test_failures(void)
{
	g_autoptr(PalTestService) rasa = pal_test_service_new_with_answer(500, "{}", 0);
	g_autofree gchar *options = g_strdup_printf("{\"url\": \"http://127.0.0.1:%u\", \"timeoutMs\": 200}",
						    pal_test_service_get_port(rasa));
	g_autoptr(GError) error = NULL;
	g_autoptr(PalNlu) nlu = make_plugin(options, &error);
	g_autoptr(PalNlu) down = make_plugin("{\"url\": \"http://127.0.0.1:9\"}", &error);
	PalNluResult *result;
	gint64 start;

	g_assert_no_error(error);
	result = parse(nlu, "x", &error);
	g_assert_null(result);
	g_assert_error(error, PAL_ERROR, PAL_ERROR_UNAVAILABLE);
	g_assert_nonnull(strstr(error->message, "500"));
	g_clear_error(&error);

	pal_test_service_set_answer(rasa, 200, "[1, 2]", 0);
	result = parse(nlu, "x", &error);
	g_assert_null(result);
	g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
	g_clear_error(&error);

	pal_test_service_set_answer(rasa, 200, "{not json", 0);
	result = parse(nlu, "x", &error);
	g_assert_null(result);
	g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
	g_clear_error(&error);

	pal_test_service_set_answer(rasa, 200, rasa_answer, 2000);
	start = g_get_monotonic_time();
	result = parse(nlu, "x", &error);
	g_assert_null(result);
	g_assert_error(error, PAL_ERROR, PAL_ERROR_TIMED_OUT);
	g_assert_cmpint(g_get_monotonic_time() - start, <, 1500 * 1000);
	g_clear_error(&error);

	result = parse(down, "x", &error);
	g_assert_null(result);
	g_assert_error(error, PAL_ERROR, PAL_ERROR_UNAVAILABLE);
}

/* the text of delivery @index */
static gchar *
delivered_text(PalTestReceiver *hook, guint index)
{
	g_autoptr(PalReceivedRequest) got = pal_test_receiver_dup_request(hook, index);
	JsonNode *body = pal_received_request_get_json(got);

	return g_strdup(json_object_get_string_member(json_object_get_object_member(json_node_get_object(body), "AIOutput"),
						      "text"));
}

/* through palaverd: the flow branches on the intent and reads a slot; with Rasa failing the
 * message still reaches the flow, without an intent */
static void
test_daemon(void)
{
	g_autoptr(PalTestService) rasa = pal_test_service_new_with_answer(200, rasa_answer, 0);
	g_autoptr(PalTestReceiver) hook = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *hook_url = pal_test_receiver_get_url(hook, "/hook");
	g_autofree gchar *endpoint = g_strdup_printf(
	    "{\"name\": \"food\", \"URLToken\": \"food-token-000000000001\","
	    " \"flow\": {\"type\": \"graph\", \"file\": \"food-flow.json\"},"
	    " \"nlu\": {\"type\": \"rasa\", \"url\": \"http://127.0.0.1:%u\", \"timeoutMs\": 500},"
	    " \"webhook\": {\"url\": \"%s\"}}",
	    pal_test_service_get_port(rasa),
	    hook_url);
	const gchar *flow =
	    "{\"start\": \"route\", \"nodes\": {"
	    " \"route\": {\"type\": \"switch\", \"value\": \"{{ input.intent }}\","
	    "            \"cases\": {\"order_food\": \"order\"}, \"default\": \"unknown\"},"
	    " \"order\": {\"type\": \"say\", \"text\": \"{{ input.slots.count[1] }} to {{ input.slots.city[1] }} "
	    "({{ string.format('%.2f', input.intentScore) }})\"},"
	    " \"unknown\": {\"type\": \"say\", \"text\": \"no intent\"}}}";
	const gchar *msg = "{\"userId\": \"u\", \"sessionId\": \"s\", \"text\": \"two pizzas to München please\"}";
	g_autoptr(GError) error = NULL;
	g_autofree gchar *url = NULL;
	g_autofree gchar *first = NULL;
	g_autofree gchar *second = NULL;
	guint status = 0;
	gboolean started;

	pal_test_daemon_write_file(d, "endpoints.d/food-flow.json", flow);
	pal_test_daemon_add_endpoint(d, "food.json", endpoint);
	started = pal_test_daemon_start(d, &error);
	g_assert_no_error(error);
	g_assert_true(started);
	url = pal_test_daemon_get_url(d, "/food-token-000000000001");
	g_assert_true(pal_test_http_post(url, "application/json", msg, strlen(msg), NULL, &status, NULL, &error));
	g_assert_cmpuint(status, ==, 202);
	g_assert_true(pal_test_receiver_wait_count(hook, 1, 10000));
	first = delivered_text(hook, 0);
	g_assert_cmpstr(first, ==, "2 to Munich (0.93)");

	/* Rasa answers too late: no intent, the flow still runs */
	pal_test_service_set_answer(rasa, 200, rasa_answer, 3000);
	g_assert_true(pal_test_http_post(url, "application/json", msg, strlen(msg), NULL, &status, NULL, &error));
	g_assert_cmpuint(status, ==, 202);
	g_assert_true(pal_test_receiver_wait_count(hook, 2, 10000));
	second = delivered_text(hook, 1);
	g_assert_cmpstr(second, ==, "no intent");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/palaver/nlu-rasa/options", test_options);
	g_test_add_func("/palaver/nlu-rasa/mapping", test_mapping);
	g_test_add_func("/palaver/nlu-rasa/failures", test_failures);
	g_test_add_func("/palaver/nlu-rasa/daemon", test_daemon);
	return g_test_run();
}
