/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The `http` flow, end to end: the real palaverd with an endpoint whose flow is
 * {"type": "http", …}, a real loopback webhook receiver (PalTestReceiver), and a bot backend.
 *
 * The backend is a FAKE: Rasa (and its REST channel) cannot be installed on the build machines,
 * so the backend here is a loopback PalTestService (tests/pal-test-util.c) whose responders
 * play the Rasa REST channel (`POST /webhooks/rest/webhook`, answering a JSON array of messages)
 * or a generic backend. It records what it received, and answers what each test asks for: any
 * status, headers and body, chunked bodies that stall, answers that come too late; it counts
 * the clients that went away while their answer waited. The shape of the Rasa answers used here
 * follows Rasa's CollectingOutputChannel: {recipient_id, text, image, buttons, attachment,
 * custom}.
 */
#include "config.h"

#include <signal.h>
#include <string.h>

#include <glib/gstdio.h>

#include "pal-http-flow-plugin.h"
#include "pal-test-util.h"

#define TOKEN_A "token-http-aaaaaaaaaaaa"
#define TOKEN_B "token-http-bbbbbbbbbbbb"

#define RASA_PATH	 "/webhooks/rest/webhook"
#define DEFAULT_FALLBACK "Sorry, the assistant is not available right now."

/* ---- the daemon, its log, the webhook ---- */

static gchar *
endpoint_json(const gchar *name, const gchar *token, const gchar *flow, PalTestReceiver *webhook)
{
	g_autofree gchar *hook = pal_test_receiver_get_url(webhook, "/hook");

	/* the end-of-turn event tells where each turn's outputs end, also for turns without any */
	return g_strdup_printf("{\"name\":\"%s\",\"URLToken\":\"%s\",\"flow\":%s,"
			       "\"webhook\":{\"url\":\"%s\",\"endOfTurnEvent\":true}}",
			       name,
			       token,
			       flow,
			       hook);
}

/* endpoints.d/NAME.json: an endpoint whose flow is {"type": "http", "url": @url, @options}
 * (@url: NULL to leave it out; @options: more members, "" for none), its webhook @webhook */
static void
add_http_endpoint(PalTestDaemon *d,
		  PalTestReceiver *webhook,
		  const gchar *name,
		  const gchar *token,
		  const gchar *url,
		  const gchar *options)
{
	g_autoptr(GString) flow = g_string_new("{\"type\":\"http\"");
	g_autofree gchar *file = g_strdup_printf("%s.json", name);
	g_autofree gchar *ep = NULL;

	if (url != NULL)
		g_string_append_printf(flow, ",\"url\":\"%s\"", url);
	if (options[0] != '\0')
		g_string_append_printf(flow, ",%s", options);
	g_string_append_c(flow, '}');
	ep = endpoint_json(name, token, flow->str, webhook);
	pal_test_daemon_add_endpoint(d, file, ep);
}

static gchar *
backend_url(PalTestService *fake)
{
	return pal_test_service_get_url(fake, RASA_PATH);
}

static gchar *
backend_url_port(guint port)
{
	return g_strdup_printf("http://127.0.0.1:%u%s", port, RASA_PATH);
}

/* palaverd's standard error goes to a file the test reads: the log lines are behaviour too */
static void
capture_log(PalTestDaemon *d)
{
	g_autofree gchar *script =
	    g_build_filename(pal_test_daemon_get_dir(d), "palaverd-wrapper.sh", NULL);
	g_autofree gchar *log = g_build_filename(pal_test_daemon_get_dir(d), "stderr.log", NULL);

	g_assert_true(
	    g_file_set_contents(script,
				"#!/bin/sh\nexec \"$PALAVERD\" \"$@\" 2>>\"$PAL_TEST_STDERR\"\n",
				-1,
				NULL));
	g_assert_cmpint(g_chmod(script, 0700), ==, 0);
	pal_test_daemon_set_program(d, script);
	pal_test_daemon_setenv(d, "PAL_TEST_STDERR", log);
}

static gchar *
read_log(PalTestDaemon *d)
{
	g_autofree gchar *log = g_build_filename(pal_test_daemon_get_dir(d), "stderr.log", NULL);
	gchar *contents = NULL;

	if (!g_file_get_contents(log, &contents, NULL, NULL))
		return g_strdup("");
	return contents;
}

static guint
count_lines(const gchar *log, const gchar *needle)
{
	g_auto(GStrv) lines = g_strsplit(log, "\n", -1);
	guint n = 0;

	for (guint i = 0; lines[i] != NULL; i++) {
		if (strstr(lines[i], needle) != NULL)
			n++;
	}
	return n;
}

/* the last line that has @needle, or NULL */
static gchar *
last_line(const gchar *log, const gchar *needle)
{
	g_auto(GStrv) lines = g_strsplit(log, "\n", -1);
	gchar *found = NULL;

	for (guint i = 0; lines[i] != NULL; i++) {
		if (strstr(lines[i], needle) != NULL) {
			g_free(found);
			found = g_strdup(lines[i]);
		}
	}
	return found;
}

static PalTestDaemon *
start_daemon(PalTestDaemon *d)
{
	g_autoptr(GError) error = NULL;

	if (!pal_test_daemon_start(d, &error))
		g_error("palaverd did not start: %s", error->message);
	return d;
}

static void
stop_daemon(PalTestDaemon *d)
{
	g_autofree gchar *log = NULL;
	gint status = -1;

	g_assert_true(pal_test_daemon_stop(d, SIGTERM, 15000, &status, NULL));
	g_assert_cmpint(status, ==, 0);
	log = read_log(d);
	if (log[0] != '\0')
		g_printerr("palaverd log:\n%s", log);
}

static gchar *
post_text(PalTestDaemon *d, const gchar *token, const gchar *session, const gchar *text)
{
	g_autofree gchar *body =
	    g_strdup_printf("{\"userId\":\"user-1\",\"sessionId\":\"%s\",\"text\":\"%s\"}",
			    session,
			    text);

	return pal_test_daemon_post_accepted(d, token, body);
}

static JsonObject *
ai_output(PalReceivedRequest *req)
{
	JsonNode *root = pal_received_request_get_json(req);

	g_assert_nonnull(root);
	return json_object_get_object_member(json_node_get_object(root), "AIOutput");
}

static const gchar *
ai_text(PalReceivedRequest *req)
{
	JsonNode *node = json_object_get_member(ai_output(req), "text");

	return node != NULL && !JSON_NODE_HOLDS_NULL(node) ? json_node_get_string(node) : NULL;
}

static JsonObject *
ai_data(PalReceivedRequest *req)
{
	return json_object_get_object_member(ai_output(req), "data");
}

/* the outputs of the next turn at the webhook (starting at *cursor), checked against the
 * count in its end-of-turn event, which is consumed too */
static GPtrArray *
next_turn(PalTestReceiver *r, guint *cursor)
{
	GPtrArray *outputs =
	    g_ptr_array_new_with_free_func((GDestroyNotify)pal_received_request_unref);

	for (;;) {
		g_autoptr(PalReceivedRequest) req = NULL;
		JsonObject *ai;

		g_assert_true(pal_test_receiver_wait_count(r, *cursor + 1, 20000));
		req = pal_test_receiver_dup_request(r, *cursor);
		(*cursor)++;
		ai = ai_output(req);
		if (g_strcmp0(json_object_get_string_member(ai, "source"), "system") == 0) {
			JsonObject *event = json_object_get_object_member(ai_data(req), "event");
			g_assert_cmpstr(json_object_get_string_member(event, "type"),
					==,
					"turn-completed");
			g_assert_cmpint(json_object_get_int_member(event, "outputs"),
					==,
					outputs->len);
			return outputs;
		}
		g_assert_cmpstr(json_object_get_string_member(ai, "source"), ==, "bot");
		g_ptr_array_add(outputs, g_steal_pointer(&req));
	}
}

static JsonObject *
object_path(JsonObject *object, const gchar *path)
{
	g_auto(GStrv) names = g_strsplit(path, ".", -1);

	for (guint i = 0; names[i] != NULL; i++) {
		g_assert_nonnull(object);
		g_assert_true(json_object_has_member(object, names[i]));
		object = json_object_get_object_member(object, names[i]);
	}
	return object;
}

/* ---- Rasa ---- */

/* what a Rasa bot answers for a story with buttons, an image, a custom payload and an
 * attachment (CollectingOutputChannel drops None members) */
#define RASA_ANSWER                                                                                \
	"[{\"recipient_id\":\"user-1\",\"text\":\"Do you like cats?\",\"buttons\":["               \
	"{\"title\":\"Yes\",\"payload\":\"/affirm\"},{\"title\":\"No\",\"payload\":\"/deny\"},"    \
	"{\"title\":\"Maybe\"}]},"                                                                 \
	"{\"recipient_id\":\"user-1\",\"image\":\"https://example.com/cat.png\"},"                 \
	"{\"recipient_id\":\"user-1\",\"custom\":{\"card\":{\"title\":\"Cat facts\"},"             \
	"\"_cognigy\":{\"_default\":{\"_gallery\":{\"type\":\"carousel\"}}}}},"                    \
	"{\"recipient_id\":\"user-1\",\"text\":\"Anything else?\",\"custom\":\"plain\","           \
	"\"attachment\":{\"type\":\"file\",\"url\":\"https://example.com/facts.pdf\"}}]"

static void
assert_quick_reply(JsonArray *replies, guint i, const gchar *title, const gchar *payload)
{
	JsonObject *reply = json_array_get_object_element(replies, i);

	g_assert_cmpint(json_object_get_int_member(reply, "id"), ==, i + 1);
	g_assert_cmpstr(json_object_get_string_member(reply, "contentType"), ==, "postback");
	g_assert_cmpstr(json_object_get_string_member(reply, "title"), ==, title);
	g_assert_cmpstr(json_object_get_string_member(reply, "payload"), ==, payload);
}

/* a Rasa answer becomes one output per message, in order, with text, image, buttons (also as
 * quick replies) and custom payloads where a client expects them; Rasa gets sender, message
 * and metadata, with the endpoint's headers and basic authentication */
static void
test_rasa_answer(void)
{
	g_autoptr(PalTestService) fake = pal_test_service_new_with_answer(200, RASA_ANSWER, 0);
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *url = backend_url(fake);
	g_autofree gchar *input_id = NULL;
	g_autofree gchar *input_id2 = NULL;
	g_autofree gchar *trace = NULL;
	g_autofree gchar *cred = g_base64_encode((const guchar *)"bot:s3cret", 10);
	g_autofree gchar *auth = g_strdup_printf("Basic %s", cred);
	g_autofree gchar *log = NULL;
	g_autoptr(GPtrArray) turn = NULL;
	g_autoptr(GPtrArray) turn2 = NULL;
	g_autoptr(GPtrArray) turn3 = NULL;
	const PalTestServiceRequest *got;
	JsonObject *body;
	JsonObject *metadata;
	JsonObject *data;
	JsonObject *quick;
	JsonArray *replies;
	guint cursor = 0;

	capture_log(d);
	add_http_endpoint(d,
			  r,
			  "rasa",
			  TOKEN_A,
			  url,
			  "\"contract\":\"rasa\",\"headers\":{\"X-Bot-Token\":\"tok-123\"},"
			  "\"user\":\"bot\",\"password\":\"s3cret\"");
	add_http_endpoint(d, r, "rasa-few", TOKEN_B, url, "\"contract\":\"rasa\",\"maxOutputs\":2");
	start_daemon(d);

	input_id = pal_test_daemon_post_accepted(
	    d,
	    TOKEN_A,
	    "{\"userId\":\"user-1\",\"sessionId\":\"session-1\",\"text\":\"hello bot\","
	    "\"data\":{\"n\":1}}");
	turn = next_turn(r, &cursor);
	g_assert_cmpuint(turn->len, ==, 4);

	/* 1: text and buttons → quick replies, the buttons also as they came */
	g_assert_cmpstr(ai_text(turn->pdata[0]), ==, "Do you like cats?");
	data = ai_data(turn->pdata[0]);
	g_assert_cmpuint(json_object_get_size(data), ==, 2);
	g_assert_cmpuint(json_array_get_length(json_object_get_array_member(data, "buttons")),
			 ==,
			 3);
	g_assert_cmpstr(
	    json_object_get_string_member(
		json_array_get_object_element(json_object_get_array_member(data, "buttons"), 0),
		"payload"),
	    ==,
	    "/affirm");
	quick = object_path(data, "_cognigy._default._quickReplies");
	g_assert_cmpstr(json_object_get_string_member(quick, "type"), ==, "quick_replies");
	g_assert_cmpstr(json_object_get_string_member(quick, "text"), ==, "Do you like cats?");
	replies = json_object_get_array_member(quick, "quickReplies");
	g_assert_cmpuint(json_array_get_length(replies), ==, 3);
	assert_quick_reply(replies, 0, "Yes", "/affirm");
	assert_quick_reply(replies, 1, "No", "/deny");
	assert_quick_reply(replies, 2, "Maybe", "Maybe"); /* no payload: the title */

	/* 2: an image alone */
	g_assert_null(ai_text(turn->pdata[1]));
	data = ai_data(turn->pdata[1]);
	g_assert_cmpuint(json_object_get_size(data), ==, 1);
	g_assert_cmpstr(json_object_get_string_member(data, "image"),
			==,
			"https://example.com/cat.png");

	/* 3: a custom object is merged into data */
	g_assert_null(ai_text(turn->pdata[2]));
	data = ai_data(turn->pdata[2]);
	g_assert_cmpuint(json_object_get_size(data), ==, 2);
	g_assert_cmpstr(json_object_get_string_member(object_path(data, "card"), "title"),
			==,
			"Cat facts");
	g_assert_cmpstr(
	    json_object_get_string_member(object_path(data, "_cognigy._default._gallery"), "type"),
	    ==,
	    "carousel");

	/* 4: text, a custom value that is no object, and an attachment */
	g_assert_cmpstr(ai_text(turn->pdata[3]), ==, "Anything else?");
	data = ai_data(turn->pdata[3]);
	g_assert_cmpuint(json_object_get_size(data), ==, 2);
	g_assert_cmpstr(json_object_get_string_member(data, "custom"), ==, "plain");
	g_assert_cmpstr(json_object_get_string_member(object_path(data, "attachment"), "url"),
			==,
			"https://example.com/facts.pdf");

	/* what Rasa got */
	g_assert_cmpuint(pal_test_service_get_n_requests(fake), ==, 1);
	got = pal_test_service_get_request(fake, 0);
	g_assert_cmpstr(got->method, ==, "POST");
	g_assert_cmpstr(got->path, ==, RASA_PATH);
	g_assert_true(g_str_has_prefix(g_hash_table_lookup(got->headers, "content-type"),
				       "application/json"));
	g_assert_cmpstr(g_hash_table_lookup(got->headers, "accept"), ==, "application/json");
	g_assert_cmpstr(g_hash_table_lookup(got->headers, "x-bot-token"), ==, "tok-123");
	g_assert_cmpstr(g_hash_table_lookup(got->headers, "authorization"), ==, auth);
	g_assert_true(
	    g_str_has_prefix(g_hash_table_lookup(got->headers, "user-agent"), "palaver/"));
	g_assert_nonnull(got->json);
	body = json_node_get_object(got->json);
	g_assert_cmpuint(json_object_get_size(body), ==, 3);
	g_assert_cmpstr(json_object_get_string_member(body, "sender"), ==, "user-1");
	g_assert_cmpstr(json_object_get_string_member(body, "message"), ==, "hello bot");
	metadata = json_object_get_object_member(body, "metadata");
	g_assert_cmpuint(json_object_get_size(metadata), ==, 4);
	g_assert_cmpint(json_object_get_int_member(metadata, "n"), ==, 1);
	g_assert_cmpstr(json_object_get_string_member(metadata, "sessionId"), ==, "session-1");
	g_assert_cmpstr(json_object_get_string_member(metadata, "inputId"), ==, input_id);
	trace = g_strdup_printf("endpoint-httpIncomingMessage-%s", input_id);
	g_assert_cmpstr(json_object_get_string_member(metadata, "traceId"), ==, trace);

	/* an input with data only: Rasa needs a string message */
	input_id2 = pal_test_daemon_post_accepted(
	    d,
	    TOKEN_A,
	    "{\"userId\":\"user-1\",\"sessionId\":\"session-1\",\"data\":{"
	    "\"postback\":\"/affirm\"}}");
	turn2 = next_turn(r, &cursor);
	g_assert_cmpuint(turn2->len, ==, 4);
	got = pal_test_service_get_request(fake, 1);
	body = json_node_get_object(got->json);
	g_assert_cmpstr(json_object_get_string_member(body, "message"), ==, "");
	metadata = json_object_get_object_member(body, "metadata");
	g_assert_cmpstr(json_object_get_string_member(metadata, "postback"), ==, "/affirm");
	g_assert_cmpstr(json_object_get_string_member(metadata, "inputId"), ==, input_id2);

	/* maxOutputs: the first ones are sent, the rest is dropped and logged */
	g_free(post_text(d, TOKEN_B, "session-2", "hello"));
	turn3 = next_turn(r, &cursor);
	g_assert_cmpuint(turn3->len, ==, 2);
	g_assert_cmpstr(ai_text(turn3->pdata[0]), ==, "Do you like cats?");
	g_assert_cmpstr(json_object_get_string_member(ai_data(turn3->pdata[1]), "image"),
			==,
			"https://example.com/cat.png");
	log = read_log(d);
	g_assert_cmpuint(
	    count_lines(log,
			"endpoint rasa-few: http flow: the answer had 4 outputs, sent the first 2"),
	    ==,
	    1);
	g_assert_cmpuint(count_lines(log, "http flow:"), ==, 1);
	stop_daemon(d);
}

/* ---- generic ---- */

#define GENERIC_ANSWER                                                                             \
	"{\"outputs\":[{\"text\":\"you said hi\"},{\"data\":{\"k\":[1,2]}},"                       \
	"{\"text\":\"both\",\"data\":{\"x\":true},\"ignored\":1},"                                 \
	"{},{\"text\":null,\"data\":null},{\"text\":\"\",\"data\":{}}]}"

/* Palaver's input goes out as flows see it, {"outputs": [...]} comes back as outputs in order;
 * elements without text or data produce nothing */
static void
test_generic_roundtrip(void)
{
	g_autoptr(PalTestService) fake = pal_test_service_new_with_answer(200, GENERIC_ANSWER, 0);
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *url = backend_url(fake);
	g_autofree gchar *input_id = NULL;
	g_autofree gchar *trace = NULL;
	g_autoptr(GPtrArray) turn = NULL;
	JsonObject *body;
	JsonArray *k;
	guint cursor = 0;

	add_http_endpoint(d, r, "generic", TOKEN_A, url, "");
	start_daemon(d);
	input_id = pal_test_daemon_post_accepted(
	    d,
	    TOKEN_A,
	    "{\"userId\":\"user-1\",\"sessionId\":\"session-1\",\"text\":\"hi\","
	    "\"data\":{\"lang\":\"en\"},\"extra\":\"not forwarded\"}");
	turn = next_turn(r, &cursor);
	g_assert_cmpuint(turn->len, ==, 3);
	g_assert_cmpstr(ai_text(turn->pdata[0]), ==, "you said hi");
	g_assert_cmpuint(json_object_get_size(ai_data(turn->pdata[0])), ==, 0);
	g_assert_null(ai_text(turn->pdata[1]));
	k = json_object_get_array_member(ai_data(turn->pdata[1]), "k");
	g_assert_cmpuint(json_array_get_length(k), ==, 2);
	g_assert_cmpint(json_array_get_int_element(k, 1), ==, 2);
	g_assert_cmpstr(ai_text(turn->pdata[2]), ==, "both");
	g_assert_true(json_object_get_boolean_member(ai_data(turn->pdata[2]), "x"));
	g_assert_cmpuint(json_object_get_size(ai_data(turn->pdata[2])), ==, 1);

	body = json_node_get_object(pal_test_service_get_request(fake, 0)->json);
	trace = g_strdup_printf("endpoint-httpIncomingMessage-%s", input_id);
	g_assert_cmpuint(json_object_get_size(body), ==, 6);
	g_assert_cmpstr(json_object_get_string_member(body, "userId"), ==, "user-1");
	g_assert_cmpstr(json_object_get_string_member(body, "sessionId"), ==, "session-1");
	g_assert_cmpstr(json_object_get_string_member(body, "text"), ==, "hi");
	g_assert_cmpstr(
	    json_object_get_string_member(json_object_get_object_member(body, "data"), "lang"),
	    ==,
	    "en");
	g_assert_cmpstr(json_object_get_string_member(body, "inputId"), ==, input_id);
	g_assert_cmpstr(json_object_get_string_member(body, "traceId"), ==, trace);
	stop_daemon(d);
}

/* ---- failures ---- */

static void
echo_rasa_responder(const PalTestServiceRequest *request,
		    PalTestServiceAnswer *answer,
		    gpointer user_data)
{
	JsonObject *object = pal_test_service_request_get_object(request);
	const gchar *message =
	    object != NULL ? json_object_get_string_member_with_default(object, "message", "")
			   : "";
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonNode) root = NULL;
	g_autofree gchar *text = g_strdup_printf("answer: %s", message);
	g_autofree gchar *json = NULL;

	json_builder_begin_array(b);
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "text");
	json_builder_add_string_value(b, text);
	json_builder_end_object(b);
	json_builder_end_array(b);
	root = json_builder_get_root(b);
	json = json_to_string(root, FALSE);
	pal_test_service_answer_set(answer, 200, json);
	/* "slow …" messages answer after 5 s */
	if (g_str_has_prefix(message, "slow"))
		answer->delay_ms = 5000;
}

/* the backend is down: the configured fallback is delivered, one log line says why (without
 * the user's text), and the session goes on: once the backend is up the next message is
 * answered by it */
static void
test_backend_down(void)
{
	guint port = pal_test_closed_port();
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *url = backend_url_port(port);
	g_autofree gchar *input_id = NULL;
	g_autofree gchar *log = NULL;
	g_autofree gchar *line = NULL;
	g_autofree gchar *backend = g_strdup_printf("backend 127.0.0.1:%u", port);
	g_autoptr(GPtrArray) turn = NULL;
	g_autoptr(GPtrArray) turn2 = NULL;
	g_autoptr(PalTestService) fake = NULL;
	guint cursor = 0;

	capture_log(d);
	add_http_endpoint(d,
			  r,
			  "down",
			  TOKEN_A,
			  url,
			  "\"contract\":\"rasa\","
			  "\"fallback\":{\"text\":\"The bot is down\","
			  "\"data\":{\"fallback\":true}}");
	start_daemon(d);

	input_id = post_text(d, TOKEN_A, "session-1", "my secret words");
	turn = next_turn(r, &cursor);
	g_assert_cmpuint(turn->len, ==, 1);
	g_assert_cmpstr(ai_text(turn->pdata[0]), ==, "The bot is down");
	g_assert_true(json_object_get_boolean_member(ai_data(turn->pdata[0]), "fallback"));
	log = read_log(d);
	g_assert_cmpuint(count_lines(log, "endpoint down: http flow:"), ==, 1);
	line = last_line(log, "endpoint down: http flow:");
	g_assert_nonnull(strstr(line, backend));
	g_assert_nonnull(strstr(line, input_id));
	g_assert_nonnull(strstr(line, "sent the fallback output"));
	g_assert_null(strstr(log, "secret words"));
	g_assert_null(strstr(log, RASA_PATH)); /* the URL's path may carry tokens */

	/* the backend comes up on its port: the same session is answered */
	fake = pal_test_service_new(port, echo_rasa_responder, NULL);
	g_free(post_text(d, TOKEN_A, "session-1", "are you back"));
	turn2 = next_turn(r, &cursor);
	g_assert_cmpuint(turn2->len, ==, 1);
	g_assert_cmpstr(ai_text(turn2->pdata[0]), ==, "answer: are you back");
	stop_daemon(d);
}

/* a backend slower than timeoutMs: the fallback comes after about timeoutMs, the request is
 * aborted (the backend sees the connection close), and the next message is answered */
static void
test_timeout(void)
{
	g_autoptr(PalTestService) fake = pal_test_service_new(0, echo_rasa_responder, NULL);
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *url = backend_url(fake);
	g_autofree gchar *log = NULL;
	g_autoptr(GPtrArray) turn = NULL;
	g_autoptr(GPtrArray) turn2 = NULL;
	gint64 start;
	gint64 took;
	guint cursor = 0;

	capture_log(d);
	add_http_endpoint(d, r, "slow", TOKEN_A, url, "\"contract\":\"rasa\",\"timeoutMs\":500");
	start_daemon(d);

	start = g_get_monotonic_time();
	g_free(post_text(d, TOKEN_A, "session-1", "slow please"));
	turn = next_turn(r, &cursor);
	took = pal_received_request_get_monotonic_time(turn->pdata[0]) - start;
	g_test_message("fallback after %" G_GINT64_FORMAT " ms", took / 1000);
	g_assert_cmpuint(turn->len, ==, 1);
	g_assert_cmpstr(ai_text(turn->pdata[0]), ==, DEFAULT_FALLBACK);
	g_assert_cmpint(took, >=, 500 * 1000);
	g_assert_cmpint(took, <, 2500 * 1000);
	g_assert_true(pal_test_service_wait_disconnects(fake, 1, 3000));
	log = read_log(d);
	g_assert_cmpuint(count_lines(log, "endpoint slow: http flow: no answer within 500 ms"),
			 ==,
			 1);

	g_free(post_text(d, TOKEN_A, "session-1", "quick one"));
	turn2 = next_turn(r, &cursor);
	g_assert_cmpuint(turn2->len, ==, 1);
	g_assert_cmpstr(ai_text(turn2->pdata[0]), ==, "answer: quick one");
	stop_daemon(d);
}

typedef struct {
	const gchar *name;
	const gchar *reason; /* in the log line */
	guint outputs;	     /* 1: the fallback; 0: a valid empty answer */
} BadCase;

static const BadCase bad_cases[] = {
    {"status-500", "the backend answered HTTP 500", 1},
    {"status-404", "the backend answered HTTP 404", 1},
    {"redirect", "the backend answered HTTP 302 (redirects are not followed)", 1},
    {"not-json", "the answer is not valid JSON", 1},
    {"empty-body", "the answer is not valid JSON", 1},
    {"invalid-utf8", "expected UTF-8", 1},
    {"not-array", "the answer is not an array of Rasa messages, got an object", 1},
    {"generic-shape", "(a generic backend? set \"contract\": \"generic\")", 1},
    {"bad-element", "answer[1].text: expected a string, got 42", 1},
    {"bad-button", "answer[0].buttons[0]: expected {\"title\": string", 1},
    {"bad-image", "answer[0].image: expected a string (a URL), got an object", 1},
    {"too-large-announced",
     "larger than maxResponseBytes (262144 bytes): Content-Length 300000",
     1},
    {"too-large-chunked", "larger than maxResponseBytes (262144 bytes)", 1},
    {"too-large-stalling", "larger than maxResponseBytes (262144 bytes)", 1},
    {"too-deep", "JSON nesting is deeper than 64 levels", 1},
    {"empty-array", NULL, 0},
    {"no-content", NULL, 0},
};

static gchar *
big_answer(gsize size)
{
	GString *s = g_string_new("[{\"text\":\"");

	while (s->len < size - 3)
		g_string_append_c(s, 'x');
	g_string_append(s, "\"}]");
	return g_string_free(s, FALSE);
}

/* the answers of bad_cases that are just a status and a body */
static const struct {
	const gchar *name;
	guint status;
	const gchar *body;
} bad_plain_answers[] = {
    {"status-500", 500, "{\"error\":\"oops\"}"},
    {"status-404", 404, "[]"},
    {"redirect", 302, NULL},
    {"not-json", 200, "<html>busy</html>"},
    {"empty-body", 200, NULL},
    {"invalid-utf8", 200, "[{\"text\":\"\xff\xfe\"}]"},
    {"not-array", 200, "{\"text\":\"hi\"}"},
    {"generic-shape", 200, "{\"outputs\":[{\"text\":\"hi\"}]}"},
    {"bad-element", 200, "[{\"text\":\"fine\"},{\"text\":42}]"},
    {"bad-button", 200, "[{\"text\":\"pick\",\"buttons\":[{\"payload\":\"/a\"}]}]"},
    {"bad-image", 200, "[{\"image\":{\"url\":\"x\"}}]"},
    {"no-content", 204, NULL},
};

static void
bad_responder(const PalTestServiceRequest *request,
	      PalTestServiceAnswer *answer,
	      gpointer user_data)
{
	JsonObject *object = pal_test_service_request_get_object(request);
	JsonObject *metadata =
	    object != NULL ? json_object_get_object_member(object, "metadata") : NULL;
	const gchar *name = metadata != NULL
				? json_object_get_string_member_with_default(metadata, "case", "")
				: "";

	pal_test_service_answer_set(answer, 200, "[]");
	for (guint i = 0; i < G_N_ELEMENTS(bad_plain_answers); i++) {
		if (g_strcmp0(name, bad_plain_answers[i].name) == 0)
			pal_test_service_answer_set(answer,
						    bad_plain_answers[i].status,
						    bad_plain_answers[i].body);
	}
	if (g_strcmp0(name, "redirect") == 0)
		soup_message_headers_append(answer->headers, "Location", "/elsewhere");
	if (g_strcmp0(name, "too-large-announced") == 0)
		pal_test_service_answer_take_body(answer, big_answer(300000));
	if (g_strcmp0(name, "too-large-chunked") == 0 ||
	    g_strcmp0(name, "too-large-stalling") == 0) {
		pal_test_service_answer_take_body(answer, big_answer(300000));
		answer->chunked = TRUE;
		/* more than the limit, then nothing for 10 s with the connection open: the reading
		 * stops at the limit, and closing the stream does not wait for the rest */
		if (g_strcmp0(name, "too-large-stalling") == 0) {
			answer->stall_after = 270000;
			answer->stall_ms = 10000;
		}
	}
	if (g_strcmp0(name, "too-deep") == 0) {
		/* 200 kB, within maxResponseBytes: json-glib 1.6 would crash on it (PLATFORM-NOTES
		 * 13) */
		GString *deep = g_string_new(NULL);
		for (guint i = 0; i < 100000; i++)
			g_string_append_c(deep, '[');
		for (guint i = 0; i < 100000; i++)
			g_string_append_c(deep, ']');
		pal_test_service_answer_take_body(answer, g_string_free(deep, FALSE));
	}
}

/* every way a backend can answer wrongly ends the turn with the fallback and one log line that
 * says what was wrong; an empty answer is a turn without outputs */
static void
test_bad_answers(void)
{
	g_autoptr(PalTestService) fake = pal_test_service_new(0, bad_responder, NULL);
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *url = backend_url(fake);
	guint cursor = 0;
	guint failures = 0;

	capture_log(d);
	add_http_endpoint(d,
			  r,
			  "bad",
			  TOKEN_A,
			  url,
			  "\"contract\":\"rasa\",\"maxResponseBytes\":262144,\"timeoutMs\":8000");
	start_daemon(d);

	for (guint i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
		const BadCase *c = &bad_cases[i];
		g_autofree gchar *body =
		    g_strdup_printf("{\"userId\":\"user-1\",\"sessionId\":\"session-1\","
				    "\"text\":\"private words %u\",\"data\":{\"case\":\"%s\"}}",
				    i,
				    c->name);
		g_autofree gchar *input_id = NULL;
		g_autofree gchar *log = NULL;
		g_autofree gchar *line = NULL;
		g_autoptr(GPtrArray) turn = NULL;
		gint64 start = g_get_monotonic_time();

		g_test_message("case %s", c->name);
		input_id = pal_test_daemon_post_accepted(d, TOKEN_A, body);
		turn = next_turn(r, &cursor);
		/* a stalling body is given up at the limit, not waited for */
		g_assert_cmpint(g_get_monotonic_time() - start, <, 5 * G_USEC_PER_SEC);
		g_assert_cmpuint(turn->len, ==, c->outputs);
		if (c->outputs == 1) {
			g_assert_cmpstr(ai_text(turn->pdata[0]), ==, DEFAULT_FALLBACK);
			g_assert_cmpuint(json_object_get_size(ai_data(turn->pdata[0])), ==, 0);
			failures++;
		}
		log = read_log(d);
		g_assert_cmpuint(count_lines(log, "endpoint bad: http flow:"), ==, failures);
		if (c->reason != NULL) {
			line = last_line(log, "endpoint bad: http flow:");
			g_test_message("%s", line);
			g_assert_nonnull(strstr(line, c->reason));
			g_assert_nonnull(strstr(line, input_id));
		}
		g_assert_null(strstr(log, "private words"));
	}
	/* the redirect was not followed: every request the backend saw was the POST */
	for (guint i = 0; i < pal_test_service_get_n_requests(fake); i++) {
		const PalTestServiceRequest *req = pal_test_service_get_request(fake, i);
		g_assert_cmpstr(req->method, ==, "POST");
		g_assert_cmpstr(req->path, ==, RASA_PATH);
	}
	g_assert_cmpuint(pal_test_service_get_n_requests(fake), ==, G_N_ELEMENTS(bad_cases));
	stop_daemon(d);
}

/* "fallback": false: a failed turn has no output at all */
static void
test_fallback_false(void)
{
	guint port = pal_test_closed_port();
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *url = backend_url_port(port);
	g_autofree gchar *log = NULL;
	g_autoptr(GPtrArray) turn = NULL;
	guint cursor = 0;

	capture_log(d);
	add_http_endpoint(d, r, "quiet", TOKEN_A, url, "\"fallback\":false");
	start_daemon(d);
	g_free(post_text(d, TOKEN_A, "session-1", "anyone there"));
	turn = next_turn(r, &cursor);
	g_assert_cmpuint(turn->len, ==, 0);
	log = read_log(d);
	g_assert_cmpuint(count_lines(log, "endpoint quiet: http flow:"), ==, 1);
	g_assert_cmpuint(count_lines(log, "no output (\"fallback\": false)"), ==, 1);
	stop_daemon(d);
}

/* an endpoint with dataProtection.maskLogging gets the reason without the answer's strings,
 * which may repeat the user's words; other endpoints get them quoted, for debugging */
static void
test_mask_logging(void)
{
	/* a bot that repeats the user's words where they do not belong */
	g_autoptr(PalTestService) fake = pal_test_service_new_with_answer(
	    200,
	    "[{\"text\":\"fine\"},{\"buttons\":\"my secret words\"}]",
	    0);
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *url = backend_url(fake);
	g_autofree gchar *hook = pal_test_receiver_get_url(r, "/hook");
	g_autofree gchar *masked = g_strdup_printf(
	    "{\"name\":\"masked\",\"URLToken\":\"%s\",\"dataProtection\":{\"maskLogging\":true},"
	    "\"flow\":{\"type\":\"http\",\"url\":\"%s\",\"contract\":\"rasa\"},"
	    "\"webhook\":{\"url\":\"%s\",\"endOfTurnEvent\":true}}",
	    TOKEN_A,
	    url,
	    hook);
	g_autofree gchar *log = NULL;
	g_autofree gchar *line = NULL;
	g_autoptr(GPtrArray) turn = NULL;
	g_autoptr(GPtrArray) turn2 = NULL;
	guint cursor = 0;

	capture_log(d);
	pal_test_daemon_add_endpoint(d, "masked.json", masked);
	add_http_endpoint(d, r, "plain", TOKEN_B, url, "\"contract\":\"rasa\"");
	start_daemon(d);
	g_free(post_text(d, TOKEN_A, "session-1", "my secret words"));
	turn = next_turn(r, &cursor);
	g_assert_cmpuint(turn->len, ==, 1);
	g_assert_cmpstr(ai_text(turn->pdata[0]), ==, DEFAULT_FALLBACK);
	log = read_log(d);
	line = last_line(log, "endpoint masked: http flow:");
	g_assert_nonnull(strstr(line, "answer[1].buttons: expected an array, got a string"));
	g_assert_null(strstr(log, "secret"));

	g_free(post_text(d, TOKEN_B, "session-1", "hello"));
	turn2 = next_turn(r, &cursor);
	g_assert_cmpuint(turn2->len, ==, 1);
	g_free(log);
	log = read_log(d);
	g_free(line);
	line = last_line(log, "endpoint plain: http flow:");
	g_assert_nonnull(
	    strstr(line, "answer[1].buttons: expected an array, got \"my secret words\""));
	stop_daemon(d);
}

/* ---- options ---- */

static gchar *
run_check_config(PalTestDaemon *d, gint *exit_status, gchar **err_out)
{
	g_autofree gchar *conf = g_build_filename(pal_test_daemon_get_dir(d), "palaver.conf", NULL);
	const gchar *argv[] = {g_getenv("PALAVERD"),
			       "--config",
			       conf,
			       "--plugin-dir",
			       g_getenv("PALAVER_BUILD_PLUGINDIR"),
			       "--no-plugin-permission-check",
			       "--check-config",
			       NULL};
	g_autoptr(GSubprocess) p = NULL;
	g_autoptr(GError) error = NULL;
	gchar *out = NULL;

	p = g_subprocess_newv(argv,
			      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
			      &error);
	g_assert_no_error(error);
	g_assert_true(g_subprocess_communicate_utf8(p, NULL, NULL, &out, err_out, &error));
	g_assert_no_error(error);
	*exit_status = g_subprocess_get_exit_status(p);
	return out;
}

typedef struct {
	const gchar *options; /* after "type" and "url" */
	const gchar *error;
} BadOptions;

static const BadOptions bad_options[] = {
    {"\"url\":null", "flow.url: required"},
    {"\"url\":\"ftp://127.0.0.1/bot\"",
     "flow.url: expected an http:// or https:// URL, got \"ftp://127.0.0.1/bot\""},
    {"\"url\":\"http://bot:pw@127.0.0.1/\"", "flow.url: credentials in the URL are not accepted"},
    {"\"timeoutMs\":\"x\"", "flow.timeoutMs: expected an integer from 1 to 300000, got \"x\""},
    {"\"timeoutMs\":0", "flow.timeoutMs: expected an integer from 1 to 300000, got 0"},
    {"\"contract\":\"dialogflow\"",
     "flow.contract: expected \"generic\" or \"rasa\", got \"dialogflow\""},
    {"\"headers\":{\"X-Token\":5}", "flow.headers.X-Token: expected a string"},
    {"\"headers\":{\"Content-Length\":\"1\"}",
     "flow.headers.Content-Length: this header is set by Palaver"},
    {"\"headers\":{\"Bad Name\":\"1\"}",
     "flow.headers[\"Bad Name\"]: not a valid HTTP header name"},
    {"\"headers\":[]", "flow.headers: expected an object"},
    {"\"password\":\"pw\"", "flow.password: needs \"user\""},
    {"\"user\":\"a:b\"", "flow.user: expected a non-empty string"},
    {"\"user\":\"bot\",\"headers\":{\"Authorization\":\"Bearer t\"}",
     "flow.headers.Authorization: cannot be combined with \"user\""},
    {"\"fallback\":42", "flow.fallback: expected an object {\"text\", \"data\"}"},
    {"\"fallback\":{\"txt\":\"sorry\"}", "flow.fallback.txt: unknown key"},
    {"\"fallback\":{\"data\":[]}", "flow.fallback.data: expected an object or null, got an array"},
    {"\"maxResponseBytes\":0",
     "flow.maxResponseBytes: expected an integer from 1024 to 16777216, got 0"},
    {"\"maxOutputs\":2.5", "flow.maxOutputs: expected an integer from 1 to 100, got 2.5"},
    {"\"maxConnections\":1000", "flow.maxConnections: expected an integer from 1 to 256, got 1000"},
    {"\"timeout\":5", "flow.timeout: unknown option"},
};

/* every bad option refuses its endpoint with the JSON path and what was expected, in
 * --check-config and in the daemon; the other endpoints work */
static void
test_bad_options(void)
{
	g_autoptr(PalTestService) fake = pal_test_service_new(0, echo_rasa_responder, NULL);
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *url = backend_url(fake);
	g_autofree gchar *expect =
	    g_strdup_printf("1 endpoint(s) loaded, %u refused", (guint)G_N_ELEMENTS(bad_options));
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	g_autoptr(GPtrArray) turn = NULL;
	gint status = -1;
	guint cursor = 0;

	add_http_endpoint(d,
			  r,
			  "good",
			  TOKEN_A,
			  url,
			  "\"contract\":\"rasa\",\"timeoutMs\":3000.0,"
			  "\"headers\":{\"X-Token\":\"t\"},"
			  "\"user\":\"bot\",\"password\":\"\",\"fallback\":\"Back soon\","
			  "\"maxResponseBytes\":null,\"maxOutputs\":5,\"maxConnections\":4");
	for (guint i = 0; i < G_N_ELEMENTS(bad_options); i++) {
		g_autofree gchar *name = g_strdup_printf("bad%u", i);
		g_autofree gchar *token = g_strdup_printf("token-bad-%016u", i);
		/* options that are about the URL replace it: no duplicate keys */
		gboolean about_url = g_str_has_prefix(bad_options[i].options, "\"url\"");
		add_http_endpoint(d,
				  r,
				  name,
				  token,
				  about_url ? NULL : url,
				  bad_options[i].options);
	}
	/* the daemon refuses the bad endpoints and serves the good one */
	start_daemon(d);
	{
		g_autofree gchar *bad_url =
		    g_strdup_printf("%stoken-bad-%016u", pal_test_daemon_get_base_url(d), 0);
		const gchar *body = "{\"userId\":\"u\",\"sessionId\":\"s\",\"text\":\"x\"}";
		guint code = 0;
		g_autoptr(GError) error = NULL;
		pal_test_http_post(bad_url,
				   "application/json",
				   body,
				   strlen(body),
				   NULL,
				   &code,
				   NULL,
				   &error);
		g_assert_no_error(error);
		g_assert_cmpuint(code, ==, 404);
	}
	g_free(post_text(d, TOKEN_A, "session-1", "hi"));
	turn = next_turn(r, &cursor);
	g_assert_cmpuint(turn->len, ==, 1);
	g_assert_cmpstr(ai_text(turn->pdata[0]), ==, "answer: hi");
	stop_daemon(d);

	/* --check-config (the configuration is written by the daemon's start) names each one */
	out = run_check_config(d, &status, &err);
	g_assert_cmpint(status, ==, 1);
	g_assert_nonnull(strstr(out, expect));
	for (guint i = 0; i < G_N_ELEMENTS(bad_options); i++) {
		g_autofree gchar *file = g_strdup_printf("bad%u.json: flow plugin 'http': ", i);
		g_autofree gchar *line = last_line(err, file);
		g_test_message("%s", line);
		g_assert_nonnull(line);
		g_assert_nonnull(strstr(line, bad_options[i].error));
	}
	g_assert_null(strstr(err, "good.json: "));
}

/* ---- connections and cancellation ---- */

/* maxConnections bounds the requests in flight to the backend (per worker thread); turns
 * beyond it wait for a connection and are answered, not failed */
static void
test_max_connections(void)
{
	g_autoptr(PalTestService) fake =
	    pal_test_service_new_with_answer(200, "{\"outputs\":[{\"text\":\"answer\"}]}", 300);
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *url = backend_url(fake);
	g_autoptr(GPtrArray) reqs = NULL;
	guint answers = 0;

	pal_test_daemon_set_conf(d, "Server", "Workers", "1");
	add_http_endpoint(d, r, "busy", TOKEN_A, url, "\"maxConnections\":2,\"timeoutMs\":10000");
	start_daemon(d);
	for (guint i = 0; i < 6; i++) {
		g_autofree gchar *session = g_strdup_printf("session-%u", i);
		g_free(post_text(d, TOKEN_A, session, "go"));
	}
	/* 6 outputs and 6 end-of-turn events */
	g_assert_true(pal_test_receiver_wait_count(r, 12, 20000));
	reqs = pal_test_receiver_dup_requests(r);
	for (guint i = 0; i < reqs->len; i++) {
		if (g_strcmp0(ai_text(reqs->pdata[i]), "answer") == 0)
			answers++;
	}
	g_assert_cmpuint(answers, ==, 6);
	g_assert_cmpuint(pal_test_service_get_n_requests(fake), ==, 6);
	g_test_message("at most %u requests in flight", pal_test_service_get_max_in_flight(fake));
	g_assert_cmpuint(pal_test_service_get_max_in_flight(fake), ==, 2);
	stop_daemon(d);
}

/* the gateway's turn deadline ([Server] RequestTimeout) cancels the turn: the request to the
 * backend is aborted at once, no fallback is sent, and the session's next message is answered */
static void
test_turn_deadline(void)
{
	g_autoptr(PalTestService) fake = pal_test_service_new(0, echo_rasa_responder, NULL);
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *url = backend_url(fake);
	g_autoptr(GPtrArray) reqs = NULL;
	gint64 start;
	gboolean answered = FALSE;

	pal_test_daemon_set_conf(d, "Server", "RequestTimeout", "1");
	add_http_endpoint(d,
			  r,
			  "deadline",
			  TOKEN_A,
			  url,
			  "\"contract\":\"rasa\",\"timeoutMs\":20000");
	start_daemon(d);
	start = g_get_monotonic_time();
	g_free(post_text(d, TOKEN_A, "session-1", "slow question"));
	g_assert_true(pal_test_service_wait_disconnects(fake, 1, 4000));
	g_test_message("request aborted after %" G_GINT64_FORMAT " ms",
		       (g_get_monotonic_time() - start) / 1000);
	g_assert_cmpint(g_get_monotonic_time() - start, <, 3 * G_USEC_PER_SEC);

	g_free(post_text(d, TOKEN_A, "session-1", "next"));
	for (guint n = 1; !answered && pal_test_receiver_wait_count(r, n, 10000); n++) {
		g_autoptr(PalReceivedRequest) req = pal_test_receiver_dup_request(r, n - 1);
		answered = g_strcmp0(ai_text(req), "answer: next") == 0;
	}
	g_assert_true(answered);
	reqs = pal_test_receiver_dup_requests(r);
	for (guint i = 0; i < reqs->len; i++)
		g_assert_cmpstr(ai_text(reqs->pdata[i]), !=, DEFAULT_FALLBACK);
	stop_daemon(d);
}

/* SIGTERM while a backend takes its time: palaverd aborts the request after ShutdownTimeout
 * and exits cleanly, it does not wait for the backend */
static void
test_shutdown(void)
{
	g_autoptr(PalTestService) fake = pal_test_service_new(0, echo_rasa_responder, NULL);
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *url = backend_url(fake);
	g_autoptr(GError) error = NULL;
	gint64 start;
	gint status = -1;

	pal_test_daemon_set_conf(d, "Server", "ShutdownTimeout", "1");
	add_http_endpoint(d,
			  r,
			  "stopping",
			  TOKEN_A,
			  url,
			  "\"contract\":\"rasa\",\"timeoutMs\":20000");
	start_daemon(d);
	g_free(post_text(d, TOKEN_A, "session-1", "slow question"));
	g_assert_true(pal_test_service_wait_requests(fake, 1, 5000));
	start = g_get_monotonic_time();
	g_assert_true(pal_test_daemon_stop(d, SIGTERM, 10000, &status, &error));
	g_assert_no_error(error);
	g_assert_cmpint(status, ==, 0);
	g_test_message("stopped after %" G_GINT64_FORMAT " ms",
		       (g_get_monotonic_time() - start) / 1000);
	g_assert_cmpint(g_get_monotonic_time() - start, <, 4 * G_USEC_PER_SEC);
	g_assert_true(pal_test_service_wait_disconnects(fake, 1, 2000));
}

/* ---- with the graph flow ---- */

/* an http flow and a graph flow's http node in one palaverd: each plugin module has its own
 * copy of PalHttpClient, which must not clash with the other (plugins/common/pal-http-client.c
 * registers its type under a name of its own module) */
static void
test_with_graph_http_node(void)
{
	g_autoptr(PalTestService) fake = pal_test_service_new(0, echo_rasa_responder, NULL);
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *url = backend_url(fake);
	g_autofree gchar *graph = g_strdup_printf(
	    "{\"start\":\"ask\",\"nodes\":{"
	    "\"ask\":{\"type\":\"http\",\"method\":\"POST\",\"url\":\"%s\","
	    "\"body\":{\"message\":\"{{ input.text }}\"},\"store\":\"context.answer\","
	    "\"next\":\"tell\"},"
	    "\"tell\":{\"type\":\"say\",\"text\":\"graph {{ context.answer[1].text }}\"}}}",
	    url);
	g_autofree gchar *ep_graph =
	    endpoint_json("graph", TOKEN_B, "{\"type\":\"graph\",\"file\":\"flows/ask.json\"}", r);
	g_autoptr(GPtrArray) turn = NULL;
	g_autoptr(GPtrArray) turn2 = NULL;
	guint cursor = 0;

	pal_test_daemon_write_file(d, "endpoints.d/flows/ask.json", graph);
	add_http_endpoint(d, r, "http", TOKEN_A, url, "\"contract\":\"rasa\"");
	pal_test_daemon_add_endpoint(d, "graph.json", ep_graph);
	start_daemon(d);
	g_free(post_text(d, TOKEN_A, "session-1", "one"));
	turn = next_turn(r, &cursor);
	g_assert_cmpuint(turn->len, ==, 1);
	g_assert_cmpstr(ai_text(turn->pdata[0]), ==, "answer: one");
	g_free(post_text(d, TOKEN_B, "session-2", "two"));
	turn2 = next_turn(r, &cursor);
	g_assert_cmpuint(turn2->len, ==, 1);
	g_assert_cmpstr(ai_text(turn2->pdata[0]), ==, "graph answer: two");
	g_assert_cmpuint(pal_test_service_get_n_requests(fake), ==, 2);
	stop_daemon(d);
}

/* ---- the plugin in-process (linked statically), for what the daemon cannot show ---- */

typedef struct {
	GMainLoop *loop;
	GPtrArray *outputs;
	gboolean done;
	gboolean ok;
	GError *error;
	gint64 done_at;
} RunData;

static void
run_data_clear(RunData *rd)
{
	g_clear_pointer(&rd->outputs, g_ptr_array_unref);
	g_clear_error(&rd->error);
}

static void
collect_output_cb(PalTurn *turn, PalOutput *output, guint index, gpointer user_data)
{
	RunData *rd = user_data;

	g_assert_cmpuint(index, ==, rd->outputs->len);
	g_ptr_array_add(rd->outputs, g_object_ref(output));
}

static void
run_done_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	RunData *rd = user_data;

	rd->ok = pal_flow_run_finish(PAL_FLOW(source), res, &rd->error);
	rd->done = TRUE;
	rd->done_at = g_get_monotonic_time();
	g_main_loop_quit(rd->loop);
}

static PalFlow *
new_flow(PalEndpointInfo *info, const gchar *options_json)
{
	g_autoptr(JsonNode) options = pal_test_json_parse(options_json);
	g_autoptr(GObject) flow = g_object_new(PAL_TYPE_HTTP_FLOW_PLUGIN, NULL);
	g_autoptr(GError) error = NULL;

	g_assert_true(
	    pal_extension_setup(PAL_EXTENSION(flow), info, json_node_get_object(options), &error));
	g_assert_no_error(error);
	return PAL_FLOW(g_steal_pointer(&flow));
}

static PalTurn *
new_turn(PalEndpointInfo *info, PalMessage *message, RunData *rd, GMainLoop *loop)
{
	g_autoptr(PalSession) session = pal_session_new("unit",
							pal_message_get_user_id(message),
							pal_message_get_session_id(message));

	rd->loop = loop;
	rd->outputs = g_ptr_array_new_with_free_func(g_object_unref);
	return pal_turn_new(info, session, message, collect_output_cb, rd, NULL);
}

/* the generic contract carries the NLU result of the endpoint, as flows see it */
static void
test_generic_nlu(void)
{
	g_autoptr(PalTestService) fake = pal_test_service_new_with_answer(200, GENERIC_ANSWER, 0);
	g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
	g_autoptr(PalEndpointInfo) info = pal_endpoint_info_new("unit", "en", "/", "/", FALSE);
	g_autofree gchar *url = backend_url(fake);
	g_autofree gchar *options = g_strdup_printf("{\"url\":\"%s\"}", url);
	g_autoptr(PalFlow) flow = new_flow(info, options);
	g_autoptr(PalMessage) message = pal_message_new(PAL_MESSAGE_KIND_USER,
							NULL,
							"user-1",
							"session-1",
							"a table for two",
							NULL,
							NULL);
	g_autoptr(PalNluResult) nlu = pal_nlu_result_new("book_table", 0.875);
	g_autoptr(PalTurn) turn = NULL;
	JsonObject *body;
	JsonObject *slot;
	RunData rd = {0};

	pal_nlu_result_add_ranking(nlu, "book_table", 0.875);
	pal_nlu_result_add_ranking(nlu, "greet", 0.125);
	pal_nlu_result_add_slot(nlu,
				"guests",
				json_node_init_int(json_node_alloc(), 2),
				"two",
				12,
				15);
	pal_message_set_nlu_result(message, nlu);
	turn = new_turn(info, message, &rd, loop);
	pal_flow_run_async(flow, turn, NULL, run_done_cb, &rd);
	g_main_loop_run(loop);
	g_assert_no_error(rd.error);
	g_assert_true(rd.ok);
	g_assert_cmpuint(rd.outputs->len, ==, 3);

	body = json_node_get_object(pal_test_service_get_request(fake, 0)->json);
	g_assert_cmpstr(json_object_get_string_member(body, "text"), ==, "a table for two");
	g_assert_cmpstr(json_object_get_string_member(body, "intent"), ==, "book_table");
	g_assert_cmpfloat(json_object_get_double_member(body, "intentScore"), ==, 0.875);
	g_assert_cmpuint(json_array_get_length(json_object_get_array_member(body, "ranking")),
			 ==,
			 2);
	slot = json_array_get_object_element(
	    json_object_get_array_member(json_object_get_object_member(body, "slots"), "guests"),
	    0);
	g_assert_cmpint(json_object_get_int_member(slot, "value"), ==, 2);
	g_assert_cmpstr(json_object_get_string_member(slot, "text"), ==, "two");
	run_data_clear(&rd);
}

/* with maxConnections 1 the second turn waits for the first one's connection; cancelling it
 * there ends it at once (cancelled, no output), and the backend never sees it */
static void
test_cancel_queued(void)
{
	g_autoptr(PalTestService) fake =
	    pal_test_service_new_with_answer(200, "{\"outputs\":[{\"text\":\"done\"}]}", 400);
	g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
	g_autoptr(PalEndpointInfo) info = pal_endpoint_info_new("unit", "en", "/", "/", FALSE);
	g_autofree gchar *url = backend_url(fake);
	g_autofree gchar *options = g_strdup_printf("{\"url\":\"%s\",\"maxConnections\":1}", url);
	g_autoptr(PalFlow) flow = new_flow(info, options);
	g_autoptr(PalMessage) m1 =
	    pal_message_new(PAL_MESSAGE_KIND_USER, NULL, "user-1", "s1", "one", NULL, NULL);
	g_autoptr(PalMessage) m2 =
	    pal_message_new(PAL_MESSAGE_KIND_USER, NULL, "user-2", "s2", "two", NULL, NULL);
	g_autoptr(GCancellable) cancel2 = g_cancellable_new();
	g_autoptr(PalTurn) t1 = NULL;
	g_autoptr(PalTurn) t2 = NULL;
	RunData rd1 = {0};
	RunData rd2 = {0};

	t1 = new_turn(info, m1, &rd1, loop);
	t2 = new_turn(info, m2, &rd2, loop);
	pal_flow_run_async(flow, t1, NULL, run_done_cb, &rd1);
	pal_flow_run_async(flow, t2, cancel2, run_done_cb, &rd2);
	g_cancellable_cancel(cancel2);
	while (!rd2.done)
		g_main_context_iteration(NULL, TRUE);
	g_assert_false(rd1.done);
	g_assert_false(rd2.ok);
	g_assert_error(rd2.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	g_assert_cmpuint(rd2.outputs->len, ==, 0);
	while (!rd1.done)
		g_main_context_iteration(NULL, TRUE);
	g_assert_true(rd1.ok);
	g_assert_cmpuint(rd1.outputs->len, ==, 1);
	g_assert_cmpstr(pal_output_get_text(rd1.outputs->pdata[0]), ==, "done");
	g_assert_cmpuint(pal_test_service_get_n_requests(fake), ==, 1);
	run_data_clear(&rd1);
	run_data_clear(&rd2);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/palaver/flow-http/rasa-answer", test_rasa_answer);
	g_test_add_func("/palaver/flow-http/generic-roundtrip", test_generic_roundtrip);
	g_test_add_func("/palaver/flow-http/backend-down", test_backend_down);
	g_test_add_func("/palaver/flow-http/timeout", test_timeout);
	g_test_add_func("/palaver/flow-http/bad-answers", test_bad_answers);
	g_test_add_func("/palaver/flow-http/fallback-false", test_fallback_false);
	g_test_add_func("/palaver/flow-http/mask-logging", test_mask_logging);
	g_test_add_func("/palaver/flow-http/bad-options", test_bad_options);
	g_test_add_func("/palaver/flow-http/max-connections", test_max_connections);
	g_test_add_func("/palaver/flow-http/turn-deadline", test_turn_deadline);
	g_test_add_func("/palaver/flow-http/shutdown", test_shutdown);
	g_test_add_func("/palaver/flow-http/with-graph-http-node", test_with_graph_http_node);
	g_test_add_func("/palaver/flow-http/generic-nlu", test_generic_nlu);
	g_test_add_func("/palaver/flow-http/cancel-queued", test_cancel_queued);
	return g_test_run();
}
