/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* End to end: the real palaverd binary, a real loopback webhook receiver, real HTTP. */
#include "config.h"

#include <signal.h>
#include <string.h>

#include <glib/gstdio.h>
#include <stdio.h>

#include "pal-test-util.h"

#define TOKEN_A "token-aaaaaaaaaaaaaaaa"
#define TOKEN_B "token-bbbbbbbbbbbbbbbb"

static gchar *
endpoint_json(const gchar *name, const gchar *token, guint outputs, const gchar *webhook, const gchar *extra)
{
	return g_strdup_printf("{\"name\":\"%s\",\"URLToken\":\"%s\","
			       "\"flow\":{\"type\":\"echo\",\"outputs\":%u},"
			       "\"webhook\":{\"url\":\"%s\"%s}}",
			       name,
			       token,
			       outputs,
			       webhook,
			       extra != NULL ? extra : "");
}

static PalTestDaemon *
start_daemon(PalTestReceiver *receiver, guint outputs, const gchar *webhook_extra)
{
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *hook = pal_test_receiver_get_url(receiver, "/hook");
	g_autofree gchar *ep = endpoint_json("alpha", TOKEN_A, outputs, hook, webhook_extra);

	pal_test_daemon_add_endpoint(d, "alpha.json", ep);
	if (!pal_test_daemon_start(d, &error))
		g_error("palaverd did not start: %s", error->message);
	return g_steal_pointer(&d);
}

static JsonObject *
post_message(PalTestDaemon *d, const gchar *token, const gchar *user, const gchar *session, const gchar *text)
{
	g_autofree gchar *url = g_strdup_printf("%s%s", pal_test_daemon_get_base_url(d), token);
	g_autofree gchar *body =
	    g_strdup_printf("{\"userId\":\"%s\",\"sessionId\":\"%s\",\"text\":\"%s\",\"data\":{\"n\":1}}",
			    user,
			    session,
			    text);
	g_autofree gchar *answer = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) node = NULL;
	guint status = 0;

	pal_test_http_post(url, "application/json", body, strlen(body), NULL, &status, &answer, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(status, ==, 202);
	node = pal_test_json_parse(answer);
	return json_object_ref(json_node_get_object(node));
}

/* the body and headers of DESIGN.md §1.3, exactly */
static void
test_delivery_shape(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d =
	    start_daemon(r, 2, ",\"user\":\"bot\",\"password\":\"s3cret\",\"headers\":{\"X-Tenant\":\"acme\"}");
	g_autoptr(JsonObject) accepted = post_message(d, TOKEN_A, "user-1", "session-1", "hello");
	const gchar *input_id = json_object_get_string_member(accepted, "inputId");
	g_autofree gchar *trace = g_strdup_printf("endpoint-httpIncomingMessage-%s", input_id);
	g_autofree gchar *ua = g_strdup_printf("palaver/%s", PACKAGE_VERSION);
	g_autofree gchar *auth = NULL;
	g_autofree gchar *cred = g_base64_encode((const guchar *)"bot:s3cret", 10);
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	g_assert_cmpstr(json_object_get_string_member(accepted, "status"), ==, "accepted");
	g_assert_true(g_uuid_string_is_valid(input_id));
	g_assert_cmpstr(json_object_get_string_member(accepted, "traceId"), ==, trace);
	g_assert_true(pal_test_receiver_wait_count(r, 2, 10000));
	auth = g_strdup_printf("Basic %s", cred);

	for (guint i = 0; i < 2; i++) {
		g_autoptr(PalReceivedRequest) req = pal_test_receiver_dup_request(r, i);
		JsonNode *root = pal_received_request_get_json(req);
		JsonObject *o;
		JsonObject *ai;
		g_autofree gchar *expected_id = NULL;
		g_autofree gchar *compact = g_strdup(input_id);
		g_autofree gchar *seq = g_strdup_printf("%u", i + 1);
		g_autofree gchar *idx = g_strdup_printf("%u", i);
		gint64 ts = g_ascii_strtoll(pal_received_request_get_header(req, "webhook-timestamp"), NULL, 10);

		g_assert_cmpstr(pal_received_request_get_method(req), ==, "POST");
		g_assert_cmpstr(pal_received_request_get_path(req), ==, "/hook");
		g_assert_nonnull(root);
		o = json_node_get_object(root);
		g_assert_cmpuint(json_object_get_size(o), ==, 3);
		g_assert_cmpstr(json_object_get_string_member(o, "userId"), ==, "user-1");
		g_assert_cmpstr(json_object_get_string_member(o, "sessionId"), ==, "session-1");
		ai = json_object_get_object_member(o, "AIOutput");
		g_assert_cmpuint(json_object_get_size(ai), ==, 5);
		g_assert_cmpstr(json_object_get_string_member(ai, "text"), ==, "hello");
		g_assert_cmpint(json_object_get_int_member(json_object_get_object_member(ai, "data"), "n"), ==, 1);
		g_assert_cmpstr(json_object_get_string_member(ai, "traceId"), ==, trace);
		g_assert_false(json_object_get_boolean_member(ai, "disableSensitiveLogging"));
		g_assert_cmpstr(json_object_get_string_member(ai, "source"), ==, "bot");

		g_strdelimit(compact, "-", '_');
		expected_id = g_strdup_printf("msg_%s_%u", compact, i);
		g_assert_cmpstr(pal_received_request_get_header(req, "webhook-id"), ==, expected_id);
		g_assert_cmpint(ABS(ts - now), <=, 5);
		g_assert_null(pal_received_request_get_header(req, "webhook-signature"));
		g_assert_cmpstr(pal_received_request_get_header(req, "Palaver-Session-Seq"), ==, seq);
		g_assert_cmpstr(pal_received_request_get_header(req, "Palaver-Turn-Id"), ==, input_id);
		g_assert_cmpstr(pal_received_request_get_header(req, "Palaver-Turn-Index"), ==, idx);
		g_assert_cmpstr(pal_received_request_get_header(req, "User-Agent"), ==, ua);
		g_assert_cmpstr(pal_received_request_get_header(req, "Authorization"), ==, auth);
		g_assert_cmpstr(pal_received_request_get_header(req, "X-Tenant"), ==, "acme");
		g_assert_true(g_str_has_prefix(pal_received_request_get_header(req, "Content-Type"), "application/json"));
	}
	g_assert_true(pal_test_daemon_stop(d, SIGTERM, 10000, NULL, NULL));
}

/* 100 messages over 10 sessions, sent interleaved: each session's outputs arrive in order */
/* @durability: [Store] Durability (NULL: the default, crash) */
static void
check_order_per_session(const gchar *durability)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *hook = pal_test_receiver_get_url(r, "/hook");
	g_autofree gchar *ep = endpoint_json("alpha", TOKEN_A, 1, hook, NULL);
	g_autoptr(GPtrArray) reqs = NULL;
	guint next[10] = {0};
	guint64 last_seq[10] = {0};

	if (durability != NULL)
		pal_test_daemon_set_conf(d, "Store", "Durability", durability);
	pal_test_daemon_add_endpoint(d, "alpha.json", ep);
	g_assert_true(pal_test_daemon_start(d, &error));
	for (guint n = 0; n < 10; n++) {
		for (guint s = 0; s < 10; s++) {
			g_autofree gchar *session = g_strdup_printf("s%u", s);
			g_autofree gchar *text = g_strdup_printf("%u:%u", s, n);
			g_autoptr(JsonObject) a = post_message(d, TOKEN_A, "u", session, text);
		}
	}
	g_assert_true(pal_test_receiver_wait_count(r, 100, 20000));
	reqs = pal_test_receiver_dup_requests(r);
	g_assert_cmpuint(reqs->len, ==, 100);
	for (guint i = 0; i < reqs->len; i++) {
		PalReceivedRequest *req = g_ptr_array_index(reqs, i);
		JsonObject *ai = json_object_get_object_member(json_node_get_object(pal_received_request_get_json(req)),
							       "AIOutput");
		const gchar *text = json_object_get_string_member(ai, "text");
		guint s = 0, n = 0;
		guint64 seq = g_ascii_strtoull(pal_received_request_get_header(req, "Palaver-Session-Seq"), NULL, 10);

		g_assert_cmpint(sscanf(text, "%u:%u", &s, &n), ==, 2);
		g_assert_cmpuint(s, <, 10);
		g_assert_cmpuint(n, ==, next[s]);
		next[s]++;
		g_assert_cmpuint(seq, ==, last_seq[s] + 1);
		last_seq[s] = seq;
	}
	for (guint s = 0; s < 10; s++)
		g_assert_cmpuint(next[s], ==, 10);
	g_assert_true(pal_test_daemon_stop(d, SIGTERM, 10000, NULL, NULL));
}

static void
test_order_per_session(void)
{
	check_order_per_session(NULL);
}

/* durability none (memory only, messages not journaled): the same deliveries, order and
 * sequence numbers */
static void
test_order_per_session_none(void)
{
	check_order_per_session("none");
}

static guint
slow_responder(PalReceiver *receiver, const PalReceivedRequest *request, gpointer user_data)
{
	/* a slow webhook: deliveries are still in flight when SIGTERM arrives */
	g_usleep(150 * 1000);
	return 200;
}

/* SIGTERM: no new messages, accepted ones are delivered, exit 0 */
static void
test_sigterm_drain(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = start_daemon(r, 1, NULL);
	g_autoptr(GError) error = NULL;
	gint status = -1;

	pal_test_receiver_set_responder(r, slow_responder, NULL, NULL);
	for (guint i = 0; i < 12; i++) {
		g_autofree gchar *text = g_strdup_printf("m%u", i);
		g_autoptr(JsonObject) a = post_message(d, TOKEN_A, "u", "only-session", text);
	}
	/* 12 deliveries one after another at 150 ms each: far from done now */
	g_assert_cmpuint(pal_test_receiver_get_count(r), <, 12);
	g_assert_true(pal_test_daemon_stop(d, SIGTERM, 15000, &status, &error));
	g_assert_no_error(error);
	g_assert_cmpint(status, ==, 0);
	g_assert_cmpuint(pal_test_receiver_get_count(r), ==, 12);
}

static guint
hung_responder(PalReceiver *receiver, const PalReceivedRequest *request, gpointer user_data)
{
	/* a webhook that does not answer within the shutdown deadline */
	g_usleep(2500 * 1000);
	return 200;
}

/* the drain deadline passes with deliveries in flight: palaverd still exits 0, cleanly */
static void
test_sigterm_deadline(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *hook = pal_test_receiver_get_url(r, "/hook");
	g_autofree gchar *ep = endpoint_json("alpha", TOKEN_A, 3, hook, ",\"timeoutMs\":30000");
	g_autoptr(GError) error = NULL;
	gint64 start;
	gint status = -1;

	pal_test_daemon_set_conf(d, "Server", "ShutdownTimeout", "1");
	pal_test_daemon_add_endpoint(d, "alpha.json", ep);
	g_assert_true(pal_test_daemon_start(d, &error));
	pal_test_receiver_set_responder(r, hung_responder, NULL, NULL);
	for (guint i = 0; i < 4; i++) {
		g_autofree gchar *session = g_strdup_printf("s%u", i);
		g_autoptr(JsonObject) a = post_message(d, TOKEN_A, "u", session, "x");
	}
	g_usleep(300 * 1000);
	start = g_get_monotonic_time();
	g_assert_true(pal_test_daemon_stop(d, SIGTERM, 10000, &status, &error));
	g_assert_no_error(error);
	g_assert_cmpint(status, ==, 0);
	g_assert_cmpint(g_get_monotonic_time() - start, <, 6 * G_USEC_PER_SEC);
}

static guint
slow_2s_responder(PalReceiver *receiver, const PalReceivedRequest *request, gpointer user_data)
{
	g_usleep(2000 * 1000);
	return 200;
}

/* a byte budget: big messages waiting for a slow webhook get 429 with Retry-After, memory
 * stays bounded, and what was accepted is still delivered */
static void
test_backpressure_bytes(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *hook = pal_test_receiver_get_url(r, "/hook");
	g_autofree gchar *ep = endpoint_json("alpha", TOKEN_A, 1, hook, NULL);
	g_autofree gchar *url = NULL;
	g_autoptr(GString) text = g_string_new(NULL);
	g_autoptr(GError) error = NULL;
	guint accepted = 0;
	guint refused = 0;

	pal_test_daemon_set_conf(d, "Server", "Workers", "1");
	pal_test_daemon_set_conf(d, "Delivery", "MaxQueueMiB", "1");
	pal_test_daemon_add_endpoint(d, "alpha.json", ep);
	g_assert_true(pal_test_daemon_start(d, &error));
	url = pal_test_daemon_get_url(d, "/" TOKEN_A);
	pal_test_receiver_set_responder(r, slow_2s_responder, NULL, NULL);
	for (guint i = 0; i < 9000; i++)
		g_string_append(text, "0123456789");
	for (guint i = 0; i < 30; i++) {
		g_autofree gchar *body = g_strdup_printf("{\"userId\":\"u\",\"sessionId\":\"s\",\"data\":{\"blob\":\"%s\"}}", text->str);
		g_autoptr(GHashTable) none = NULL;
		g_autoptr(SoupMessageHeaders) hdrs = NULL;
		g_autofree gchar *answer = NULL;
		guint status = 0;

		g_assert_true(pal_test_http_request("POST", url, "application/json", body, strlen(body), none,
						    &status, &hdrs, &answer, &error));
		if (status == 202) {
			accepted++;
		} else {
			g_assert_cmpuint(status, ==, 429);
			g_assert_nonnull(strstr(answer, "overloaded"));
			g_assert_cmpstr(soup_message_headers_get_one(hdrs, "Retry-After"), ==, "1");
			refused++;
		}
	}
	/* 1 MiB holds about 11 of these 90 kB messages (request and output both count) */
	g_test_message("accepted %u, refused %u", accepted, refused);
	g_assert_cmpuint(accepted, >=, 3);
	g_assert_cmpuint(refused, >=, 10);
	g_assert_true(pal_test_daemon_stop(d, SIGKILL, 10000, NULL, NULL));
}

static guint
post_status(PalTestDaemon *d, const gchar *session, gchar **answer)
{
	g_autofree gchar *url = pal_test_daemon_get_url(d, "/" TOKEN_A);
	g_autofree gchar *body = g_strdup_printf("{\"userId\":\"u\",\"sessionId\":\"%s\",\"text\":\"x\"}", session);
	g_autoptr(GError) error = NULL;
	guint status = 0;

	g_assert_true(pal_test_http_post(url, "application/json", body, strlen(body), NULL, &status, answer, &error));
	return status;
}

/* limits per session and per endpoint: a busy session is refused, then a busy endpoint */
static void
test_backpressure_session_endpoint(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *hook = pal_test_receiver_get_url(r, "/hook");
	g_autofree gchar *ep = endpoint_json("alpha", TOKEN_A, 1, hook, NULL);
	g_autoptr(GError) error = NULL;
	guint accepted_a = 0;

	pal_test_daemon_set_conf(d, "Delivery", "MaxQueuePerSession", "3");
	pal_test_daemon_set_conf(d, "Delivery", "MaxQueuePerEndpoint", "5");
	pal_test_daemon_add_endpoint(d, "alpha.json", ep);
	g_assert_true(pal_test_daemon_start(d, &error));
	pal_test_receiver_set_responder(r, slow_2s_responder, NULL, NULL);
	for (guint i = 0; i < 6; i++) {
		g_autofree gchar *answer = NULL;
		guint status = post_status(d, "busy", &answer);
		if (status == 202) {
			accepted_a++;
			continue;
		}
		g_assert_cmpuint(status, ==, 429);
		g_assert_nonnull(strstr(answer, "session_overloaded"));
	}
	g_assert_cmpuint(accepted_a, ==, 3);
	/* other sessions go on until the endpoint is full */
	{
		g_autofree gchar *a1 = NULL;
		g_autofree gchar *a2 = NULL;
		g_autofree gchar *a3 = NULL;
		g_assert_cmpuint(post_status(d, "other-1", &a1), ==, 202);
		g_assert_cmpuint(post_status(d, "other-2", &a2), ==, 202);
		g_assert_cmpuint(post_status(d, "other-3", &a3), ==, 429);
		g_assert_nonnull(strstr(a3, "endpoint_overloaded"));
	}
	g_assert_true(pal_test_daemon_stop(d, SIGKILL, 10000, NULL, NULL));
}

/* during the drain new messages are refused with 503 */
static void
test_sigterm_refuses_new(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = start_daemon(r, 1, NULL);
	g_autofree gchar *url = pal_test_daemon_get_url(d, "/" TOKEN_A);
	const gchar *body = "{\"userId\":\"u\",\"sessionId\":\"s\",\"text\":\"late\"}";
	g_autoptr(GError) error = NULL;
	g_autofree gchar *answer = NULL;
	guint status = 0;
	gint exit_status = -1;

	pal_test_receiver_set_responder(r, slow_responder, NULL, NULL);
	for (guint i = 0; i < 10; i++) {
		g_autoptr(JsonObject) a = post_message(d, TOKEN_A, "u", "s", "x");
	}
	pal_test_daemon_signal(d, SIGTERM);
	g_usleep(200 * 1000);
	/* the listener is closed or the request is answered 503: either way, not accepted */
	if (pal_test_http_post(url, "application/json", body, strlen(body), NULL, &status, &answer, &error)) {
		g_assert_cmpuint(status, ==, 503);
		g_assert_nonnull(strstr(answer, "shutting_down"));
	}
	g_clear_error(&error);
	g_assert_true(pal_test_daemon_stop(d, 0, 15000, &exit_status, &error));
	g_assert_cmpint(exit_status, ==, 0);
	g_assert_cmpuint(pal_test_receiver_get_count(r), ==, 10);
}

/* SIGHUP reloads endpoint files; accepted messages are still delivered */
static void
test_sighup_reload(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = start_daemon(r, 1, NULL);
	g_autofree gchar *hook = pal_test_receiver_get_url(r, "/hook-b");
	g_autofree gchar *ep_b = endpoint_json("beta", TOKEN_B, 3, hook, NULL);
	g_autofree gchar *url_b = pal_test_daemon_get_url(d, "/" TOKEN_B);
	const gchar *body = "{\"userId\":\"u\",\"sessionId\":\"s\",\"text\":\"b\"}";
	g_autoptr(GError) error = NULL;
	guint status = 0;

	pal_test_receiver_set_responder(r, slow_responder, NULL, NULL);
	for (guint i = 0; i < 5; i++) {
		g_autoptr(JsonObject) a = post_message(d, TOKEN_A, "u", "s", "before");
	}
	g_assert_true(pal_test_http_post(url_b, "application/json", body, strlen(body), NULL, &status, NULL, &error));
	g_assert_cmpuint(status, ==, 404);

	pal_test_daemon_add_endpoint(d, "beta.json", ep_b);
	pal_test_daemon_signal(d, SIGHUP);
	for (guint i = 0; i < 50; i++) {
		g_assert_true(pal_test_http_post(url_b, "application/json", body, strlen(body), NULL, &status, NULL, &error));
		if (status == 202)
			break;
		g_usleep(100 * 1000);
	}
	g_assert_cmpuint(status, ==, 202);
	/* 5 outputs from before the reload, 3 from the new endpoint */
	g_assert_true(pal_test_receiver_wait_count(r, 8, 15000));
	g_usleep(300 * 1000);
	g_assert_cmpuint(pal_test_receiver_get_count(r), ==, 8);
	g_assert_true(pal_test_daemon_stop(d, SIGTERM, 10000, NULL, NULL));
}

/* retry on 5xx until it works; no retry on other 4xx */
static void
test_webhook_statuses(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = start_daemon(r, 1, NULL);
	const guint seq[] = {500, 503, 200, 400, 200};
	g_autoptr(GPtrArray) reqs = NULL;

	pal_test_receiver_set_status_sequence(r, seq, G_N_ELEMENTS(seq));
	{
		g_autoptr(JsonObject) a = post_message(d, TOKEN_A, "u", "s1", "first");
	}
	/* 500 and 503 are retried, the third attempt gets 200 */
	g_assert_true(pal_test_receiver_wait_count(r, 3, 15000));
	{
		g_autoptr(JsonObject) a = post_message(d, TOKEN_A, "u", "s1", "second");
	}
	/* 400 is final: given up, and the session moves on */
	{
		g_autoptr(JsonObject) a = post_message(d, TOKEN_A, "u", "s1", "third");
	}
	g_assert_true(pal_test_receiver_wait_count(r, 5, 15000));
	g_usleep(1500 * 1000);
	reqs = pal_test_receiver_dup_requests(r);
	g_assert_cmpuint(reqs->len, ==, 5);
	for (guint i = 0; i < 3; i++) {
		PalReceivedRequest *req = g_ptr_array_index(reqs, i);
		/* the same output every time: same webhook-id */
		g_assert_cmpstr(pal_received_request_get_header(req, "webhook-id"),
				==,
				pal_received_request_get_header(g_ptr_array_index(reqs, 0), "webhook-id"));
	}
	g_assert_cmpstr(pal_received_request_get_header(g_ptr_array_index(reqs, 3), "Palaver-Session-Seq"), ==, "2");
	g_assert_cmpstr(pal_received_request_get_header(g_ptr_array_index(reqs, 4), "Palaver-Session-Seq"), ==, "3");
	g_assert_true(pal_test_daemon_stop(d, SIGTERM, 10000, NULL, NULL));
}

static gchar *
run_palaverd(const gchar *const *args, gint *exit_status, gchar **err_out);

/* the optional end-of-turn event follows the last output of each turn */
static void
test_end_of_turn_event(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = start_daemon(r, 2, ",\"endOfTurnEvent\":true");
	g_autoptr(JsonObject) accepted = post_message(d, TOKEN_A, "u", "s", "hi");
	const gchar *input_id = json_object_get_string_member(accepted, "inputId");
	g_autoptr(PalReceivedRequest) last = NULL;
	JsonObject *ai;
	JsonObject *event;

	g_assert_true(pal_test_receiver_wait_count(r, 3, 10000));
	last = pal_test_receiver_dup_request(r, 2);
	ai = json_object_get_object_member(json_node_get_object(pal_received_request_get_json(last)), "AIOutput");
	g_assert_cmpstr(json_object_get_string_member(ai, "source"), ==, "system");
	g_assert_true(json_object_get_null_member(ai, "text"));
	event = json_object_get_object_member(json_object_get_object_member(ai, "data"), "event");
	g_assert_cmpstr(json_object_get_string_member(event, "type"), ==, "turn-completed");
	g_assert_cmpstr(json_object_get_string_member(event, "turnId"), ==, input_id);
	g_assert_cmpint(json_object_get_int_member(event, "outputs"), ==, 2);
	g_assert_cmpstr(pal_received_request_get_header(last, "Palaver-Turn-Index"), ==, "2");
	g_assert_cmpstr(pal_received_request_get_header(last, "Palaver-Session-Seq"), ==, "3");
	g_assert_true(pal_test_daemon_stop(d, SIGTERM, 10000, NULL, NULL));
}

/* 429 with Retry-After pauses the whole host, not only the session that got it */
static void
test_retry_after_pauses_host(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = NULL;
	const guint seq[] = {429, 200, 200};
	g_autoptr(GPtrArray) reqs = NULL;
	gint64 t429;

	pal_test_receiver_set_status_sequence(r, seq, G_N_ELEMENTS(seq));
	pal_test_receiver_set_retry_after(r, 2);
	d = start_daemon(r, 1, NULL);
	{
		g_autoptr(JsonObject) a = post_message(d, TOKEN_A, "u", "first", "x");
	}
	g_assert_true(pal_test_receiver_wait_count(r, 1, 10000));
	{
		g_autoptr(JsonObject) b = post_message(d, TOKEN_A, "u", "second", "y");
	}
	g_assert_true(pal_test_receiver_wait_count(r, 3, 15000));
	reqs = pal_test_receiver_dup_requests(r);
	t429 = pal_received_request_get_monotonic_time(g_ptr_array_index(reqs, 0));
	/* both the retry and the other session's first delivery waited for the pause */
	for (guint i = 1; i < 3; i++) {
		gint64 t = pal_received_request_get_monotonic_time(g_ptr_array_index(reqs, i));
		g_test_message("delivery %u after %" G_GINT64_FORMAT " ms", i, (t - t429) / 1000);
		g_assert_cmpint(t - t429, >=, 1900 * 1000);
	}
	g_assert_true(pal_test_daemon_stop(d, SIGTERM, 10000, NULL, NULL));
}

static guint
slow_400_first(PalReceiver *receiver, const PalReceivedRequest *request, gpointer user_data)
{
	/* the first delivery is refused slowly, so the session's next outputs queue behind it */
	if (pal_received_request_get_index(request) == 1) {
		g_usleep(600 * 1000);
		return 400;
	}
	return 200;
}

/* "onGiveUp": "drop": outputs waiting behind a given-up one are given up too */
static void
test_on_give_up_drop(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = start_daemon(r, 1, ",\"onGiveUp\":\"drop\"");
	g_autoptr(PalReceivedRequest) second = NULL;
	JsonObject *ai;

	pal_test_receiver_set_responder(r, slow_400_first, NULL, NULL);
	for (guint i = 1; i <= 3; i++) {
		g_autofree gchar *text = g_strdup_printf("m%u", i);
		g_autoptr(JsonObject) a = post_message(d, TOKEN_A, "u", "s", text);
	}
	g_usleep(1500 * 1000);
	/* m1 was refused; m2 and m3 waited behind it and were given up with it */
	g_assert_cmpuint(pal_test_receiver_get_count(r), ==, 1);
	{
		g_autoptr(JsonObject) a = post_message(d, TOKEN_A, "u", "s", "m4");
	}
	g_assert_true(pal_test_receiver_wait_count(r, 2, 10000));
	second = pal_test_receiver_dup_request(r, 1);
	ai = json_object_get_object_member(json_node_get_object(pal_received_request_get_json(second)), "AIOutput");
	g_assert_cmpstr(json_object_get_string_member(ai, "text"), ==, "m4");
	g_assert_true(pal_test_daemon_stop(d, SIGTERM, 10000, NULL, NULL));
}

/* the retry schedule is per endpoint */
static void
test_retry_schedule(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = start_daemon(r, 1, ",\"retryInitialMs\":20,\"retryMaxMs\":40");
	const guint seq[] = {500, 500, 500, 500, 500, 200};
	g_autoptr(GPtrArray) reqs = NULL;
	gint64 span;

	pal_test_receiver_set_status_sequence(r, seq, G_N_ELEMENTS(seq));
	{
		g_autoptr(JsonObject) a = post_message(d, TOKEN_A, "u", "s", "x");
	}
	g_assert_true(pal_test_receiver_wait_count(r, 6, 10000));
	reqs = pal_test_receiver_dup_requests(r);
	span = pal_received_request_get_monotonic_time(g_ptr_array_index(reqs, 5)) -
	       pal_received_request_get_monotonic_time(g_ptr_array_index(reqs, 0));
	/* five waits of at most 40 ms each (the default schedule would allow 0.5+1+2+4+8 s) */
	g_test_message("6 attempts in %" G_GINT64_FORMAT " ms", span / 1000);
	g_assert_cmpint(span, <, 1000 * 1000);
	g_assert_true(pal_test_daemon_stop(d, SIGTERM, 10000, NULL, NULL));
}

/* a broken endpoint file is reported and skipped; the other endpoints serve */
static void
test_broken_endpoint_file(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *hook = pal_test_receiver_get_url(r, "/hook");
	g_autofree gchar *good = endpoint_json("alpha", TOKEN_A, 1, hook, NULL);
	g_autofree gchar *unknown_flow =
	    g_strdup_printf("{\"name\":\"gamma\",\"URLToken\":\"token-cccccccccccccccc\",\"flow\":{\"type\":\"nope\"},"
			    "\"webhook\":{\"url\":\"%s\"}}",
			    hook);

	pal_test_daemon_add_endpoint(d, "alpha.json", good);
	pal_test_daemon_add_endpoint(d, "broken.json", "{\"name\": \"x\", \"URLToken\": ");
	pal_test_daemon_add_endpoint(d, "gamma.json", unknown_flow);
	g_assert_true(pal_test_daemon_start(d, &error));
	{
		g_autoptr(JsonObject) a = post_message(d, TOKEN_A, "u", "s", "still works");
	}
	g_assert_true(pal_test_receiver_wait_count(r, 1, 10000));
	g_assert_true(pal_test_daemon_stop(d, SIGTERM, 10000, NULL, NULL));

	/* --check-config finds the same two problems, names them, and fails */
	{
		g_autofree gchar *conf = g_build_filename(pal_test_daemon_get_dir(d), "palaver.conf", NULL);
		const gchar *args[] = {"--config", conf, "--plugin-dir", g_getenv("PALAVER_BUILD_PLUGINDIR"),
				       "--no-plugin-permission-check", "--check-config", NULL};
		g_autofree gchar *err = NULL;
		g_autofree gchar *out = NULL;
		gint status = -1;

		out = run_palaverd(args, &status, &err);
		g_assert_cmpint(status, ==, 1);
		g_assert_nonnull(strstr(out, "1 endpoint(s) loaded, 2 refused"));
		g_assert_nonnull(strstr(err, "broken.json"));
		g_assert_nonnull(strstr(err, "gamma.json"));
		g_assert_nonnull(strstr(err, "flow plugin 'nope' is not installed"));
	}
}

static gchar *
run_palaverd(const gchar *const *args, gint *exit_status, gchar **err_out)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GSubprocess) p = NULL;
	g_autoptr(GError) error = NULL;
	gchar *out = NULL;

	g_ptr_array_add(argv, (gpointer)g_getenv("PALAVERD"));
	for (guint i = 0; args[i] != NULL; i++)
		g_ptr_array_add(argv, (gpointer)args[i]);
	g_ptr_array_add(argv, NULL);
	p = g_subprocess_newv((const gchar *const *)argv->pdata,
			      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
			      &error);
	g_assert_no_error(error);
	g_assert_true(g_subprocess_communicate_utf8(p, NULL, NULL, &out, err_out, &error));
	g_assert_no_error(error);
	*exit_status = g_subprocess_get_exit_status(p);
	return out;
}

static void
test_list_plugins(void)
{
	const gchar *plugindir = g_getenv("PALAVER_BUILD_PLUGINDIR");
	g_autofree gchar *tmp = g_dir_make_tmp("palaver-e2e-XXXXXX", NULL);
	g_autofree gchar *src = g_build_filename(plugindir, "libpal-plugin-echo.so", NULL);
	g_autofree gchar *dst = g_build_filename(tmp, "libpal-plugin-echo.so", NULL);
	g_autofree gchar *contents = NULL;
	gsize len = 0;
	const gchar *args1[] = {"--list-plugins", "--plugin-dir", plugindir, "--no-plugin-permission-check", NULL};
	const gchar *args2[] = {"--list-plugins", "--plugin-dir", tmp, NULL};
	g_autofree gchar *out1 = NULL;
	g_autofree gchar *out2 = NULL;
	g_autofree gchar *err = NULL;
	gint status = -1;

	out1 = run_palaverd(args1, &status, NULL);
	g_assert_cmpint(status, ==, 0);
	g_assert_nonnull(strstr(out1, "echo [flow]"));
	g_assert_nonnull(strstr(out1, "libpal-plugin-echo.so"));

	/* a group/world-writable plugin is refused, with the reason, and palaverd still answers */
	g_assert_true(g_file_get_contents(src, &contents, &len, NULL));
	g_assert_true(g_file_set_contents_full(dst, contents, len, G_FILE_SET_CONTENTS_NONE, 0666, NULL));
	g_assert_cmpint(g_chmod(dst, 0666), ==, 0);
	out2 = run_palaverd(args2, &status, &err);
	g_assert_cmpint(status, ==, 0);
	g_assert_nonnull(strstr(out2, "Refused"));
	g_assert_nonnull(strstr(out2, "writable"));
	g_assert_null(strstr(out2, "echo [flow]"));
	g_unlink(dst);
	g_rmdir(tmp);
}

static void
test_bad_config(void)
{
	g_autofree gchar *tmp = g_dir_make_tmp("palaver-e2e-XXXXXX", NULL);
	g_autofree gchar *conf = g_build_filename(tmp, "palaver.conf", NULL);
	const gchar *args[] = {"--config", conf, NULL};
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	g_autofree gchar *expect = NULL;
	gint status = -1;

	g_assert_true(g_file_set_contents(conf, "[Server]\nListen=127.0.0.1:0\nWorkers=many\n", -1, NULL));
	out = run_palaverd(args, &status, &err);
	g_assert_cmpint(status, ==, 1);
	expect = g_strdup_printf("%s:3:", conf);
	g_assert_nonnull(strstr(err, expect));
	g_assert_nonnull(strstr(err, "Workers"));
	g_assert_nonnull(strstr(err, "\"many\""));
	g_unlink(conf);
	g_rmdir(tmp);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/palaver/e2e/delivery-shape", test_delivery_shape);
	g_test_add_func("/palaver/e2e/order-per-session", test_order_per_session);
	g_test_add_func("/palaver/e2e/order-per-session-none", test_order_per_session_none);
	g_test_add_func("/palaver/e2e/sigterm-drain", test_sigterm_drain);
	g_test_add_func("/palaver/e2e/sigterm-refuses-new", test_sigterm_refuses_new);
	g_test_add_func("/palaver/e2e/sigterm-deadline", test_sigterm_deadline);
	g_test_add_func("/palaver/e2e/backpressure-bytes", test_backpressure_bytes);
	g_test_add_func("/palaver/e2e/backpressure-session-endpoint", test_backpressure_session_endpoint);
	g_test_add_func("/palaver/e2e/sighup-reload", test_sighup_reload);
	g_test_add_func("/palaver/e2e/webhook-statuses", test_webhook_statuses);
	g_test_add_func("/palaver/e2e/end-of-turn-event", test_end_of_turn_event);
	g_test_add_func("/palaver/e2e/retry-after-pauses-host", test_retry_after_pauses_host);
	g_test_add_func("/palaver/e2e/on-give-up-drop", test_on_give_up_drop);
	g_test_add_func("/palaver/e2e/retry-schedule", test_retry_schedule);
	g_test_add_func("/palaver/e2e/broken-endpoint-file", test_broken_endpoint_file);
	g_test_add_func("/palaver/e2e/list-plugins", test_list_plugins);
	g_test_add_func("/palaver/e2e/bad-config", test_bad_config);
	return g_test_run();
}
