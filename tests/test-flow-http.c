/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The `http` flow, end to end: the real palaverd with an endpoint whose flow is
 * {"type": "http", …}, a real loopback webhook receiver (PalTestReceiver), and a bot backend.
 *
 * The backend is a FAKE: Rasa (and its REST channel) cannot be installed on the build machines,
 * so FakeBackend below is a small loopback HTTP/1.1 server that plays the Rasa REST channel
 * (`POST /webhooks/rest/webhook`, answering a JSON array of messages) or a generic backend,
 * records what it received, and answers what each test asks for: any status and body, a lying
 * or missing Content-Length, chunked bodies that stall, answers that come too late. It is not
 * built on PalTestReceiver because that receiver can only choose the status of its answers,
 * and a bot backend is all about the body. The shape of the Rasa answers used here follows
 * Rasa's CollectingOutputChannel: {recipient_id, text, image, buttons, attachment, custom}.
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

/* ---- FakeBackend: a loopback HTTP/1.1 server in its own thread ---- */

typedef struct {
	guint status;	       /* 0 = 200 */
	gchar *body;	       /* NULL = empty */
	gsize body_len;	       /* 0 = strlen(body) */
	gboolean chunked;      /* Transfer-Encoding: chunked instead of Content-Length */
	guint delay_ms;	       /* before the status line */
	gsize stall_after;     /* chunked: bytes sent before the stall */
	guint stall_ms;	       /* chunked: how long nothing is sent, then the rest */
	const gchar *location; /* a Location header */
} FakeAnswer;

typedef FakeAnswer *(*FakeResponder)(JsonObject *request, gpointer user_data);

typedef struct {
	gchar *method;
	gchar *path;
	GHashTable *headers; /* lower-case name → value */
	gchar *body;
	JsonNode *json; /* nullable */
} FakeRequest;

typedef struct {
	GThread *thread;
	GMainContext *context;
	GMainLoop *loop;
	GSocketService *service;
	guint port;
	FakeResponder responder;
	gpointer responder_data;

	GMutex mutex;
	GCond cond;
	gboolean ready;
	gboolean stopping;
	GError *error;
	guint active; /* handlers running */
	guint in_flight;
	guint max_in_flight;
	guint n_disconnects; /* clients that went away before their answer */
	GPtrArray *requests; /* of FakeRequest */
} FakeBackend;

static FakeAnswer *
fake_answer_new(guint status, const gchar *body)
{
	FakeAnswer *a = g_new0(FakeAnswer, 1);

	a->status = status;
	a->body = g_strdup(body);
	return a;
}

static void
fake_answer_free(FakeAnswer *a)
{
	g_free(a->body);
	g_free(a);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FakeAnswer, fake_answer_free)

static void
fake_request_free(FakeRequest *r)
{
	g_free(r->method);
	g_free(r->path);
	g_hash_table_unref(r->headers);
	g_free(r->body);
	g_clear_pointer(&r->json, json_node_unref);
	g_free(r);
}

static gboolean
fake_is_stopping(FakeBackend *fake)
{
	gboolean stopping;

	g_mutex_lock(&fake->mutex);
	stopping = fake->stopping;
	g_mutex_unlock(&fake->mutex);
	return stopping;
}

/* waits @ms, watching the client: FALSE when it closed the connection (or we stop) */
static gboolean
fake_wait(FakeBackend *fake, GSocket *socket, guint ms)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)ms * 1000;

	while (g_get_monotonic_time() < deadline) {
		g_autoptr(GError) error = NULL;

		if (fake_is_stopping(fake))
			return FALSE;
		/* after its request the client sends nothing: readable means it went away */
		if (g_socket_condition_timed_wait(socket,
						  G_IO_IN | G_IO_HUP | G_IO_ERR,
						  20000,
						  NULL,
						  &error)) {
			g_mutex_lock(&fake->mutex);
			fake->n_disconnects++;
			g_cond_broadcast(&fake->cond);
			g_mutex_unlock(&fake->mutex);
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean
fake_write(GOutputStream *out, const void *data, gsize len)
{
	return g_output_stream_write_all(out, data, len, NULL, NULL, NULL);
}

static gboolean
fake_write_chunk(GOutputStream *out, const gchar *data, gsize len)
{
	g_autofree gchar *size = g_strdup_printf("%" G_GSIZE_MODIFIER "x\r\n", len);

	return fake_write(out, size, strlen(size)) && fake_write(out, data, len) &&
	       fake_write(out, "\r\n", 2);
}

static void
fake_handle(FakeBackend *fake, GSocketConnection *connection)
{
	GSocket *socket = g_socket_connection_get_socket(connection);
	GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(connection));
	g_autoptr(GDataInputStream) in =
	    g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(connection)));
	g_autoptr(FakeAnswer) answer = NULL;
	g_autofree gchar *line = NULL;
	g_autofree gchar *head = NULL;
	g_auto(GStrv) parts = NULL;
	FakeRequest *req;
	JsonObject *json_object = NULL;
	gsize content_length = 0;
	gsize body_len;
	gsize got = 0;
	GString *response;

	g_socket_set_timeout(socket, 10);
	g_filter_input_stream_set_close_base_stream(G_FILTER_INPUT_STREAM(in), FALSE);
	g_data_input_stream_set_newline_type(in, G_DATA_STREAM_NEWLINE_TYPE_CR_LF);
	line = g_data_input_stream_read_line(in, NULL, NULL, NULL);
	if (line == NULL)
		return;
	parts = g_strsplit(line, " ", 3);
	if (g_strv_length(parts) != 3)
		return;
	req = g_new0(FakeRequest, 1);
	req->method = g_strdup(parts[0]);
	req->path = g_strdup(parts[1]);
	req->headers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	for (;;) {
		g_autofree gchar *header = g_data_input_stream_read_line(in, NULL, NULL, NULL);
		gchar *colon;

		if (header == NULL || header[0] == '\0')
			break;
		colon = strchr(header, ':');
		if (colon == NULL)
			continue;
		*colon = '\0';
		g_hash_table_replace(req->headers,
				     g_ascii_strdown(header, -1),
				     g_strdup(g_strstrip(colon + 1)));
	}
	if (g_hash_table_contains(req->headers, "content-length"))
		content_length =
		    g_ascii_strtoull(g_hash_table_lookup(req->headers, "content-length"), NULL, 10);
	req->body = g_malloc0(content_length + 1);
	if (content_length > 0)
		g_input_stream_read_all(G_INPUT_STREAM(in),
					req->body,
					content_length,
					&got,
					NULL,
					NULL);
	req->json = json_from_string(req->body, NULL);
	if (req->json != NULL && JSON_NODE_HOLDS_OBJECT(req->json))
		json_object = json_node_get_object(req->json);

	g_mutex_lock(&fake->mutex);
	g_ptr_array_add(fake->requests, req);
	fake->in_flight++;
	fake->max_in_flight = MAX(fake->max_in_flight, fake->in_flight);
	g_cond_broadcast(&fake->cond);
	g_mutex_unlock(&fake->mutex);

	answer =
	    fake->responder != NULL ? fake->responder(json_object, fake->responder_data) : NULL;
	if (answer == NULL)
		answer = fake_answer_new(200, "[]");
	if (answer->delay_ms > 0 && !fake_wait(fake, socket, answer->delay_ms))
		goto done;

	body_len = answer->body == NULL	  ? 0
		   : answer->body_len > 0 ? answer->body_len
					  : strlen(answer->body);
	response = g_string_new(NULL);
	g_string_append_printf(
	    response,
	    "HTTP/1.1 %u %s\r\nContent-Type: application/json\r\nConnection: close\r\n",
	    answer->status != 0 ? answer->status : 200,
	    soup_status_get_phrase(answer->status != 0 ? answer->status : 200));
	if (answer->location != NULL)
		g_string_append_printf(response, "Location: %s\r\n", answer->location);
	if (answer->chunked)
		g_string_append(response, "Transfer-Encoding: chunked\r\n\r\n");
	else
		g_string_append_printf(response,
				       "Content-Length: %" G_GSIZE_FORMAT "\r\n\r\n",
				       body_len);
	head = g_string_free(response, FALSE);
	if (!fake_write(out, head, strlen(head)))
		goto done;
	if (answer->chunked) {
		gsize first = answer->stall_ms > 0 ? MIN(body_len, answer->stall_after) : body_len;
		if (first > 0 && !fake_write_chunk(out, answer->body, first))
			goto done;
		if (answer->stall_ms > 0 && !fake_wait(fake, socket, answer->stall_ms))
			goto done;
		if (body_len > first &&
		    !fake_write_chunk(out, answer->body + first, body_len - first))
			goto done;
		fake_write(out, "0\r\n\r\n", 5);
	} else if (body_len > 0) {
		fake_write(out, answer->body, body_len);
	}
done:
	g_io_stream_close(G_IO_STREAM(connection), NULL, NULL);
	g_mutex_lock(&fake->mutex);
	fake->in_flight--;
	g_cond_broadcast(&fake->cond);
	g_mutex_unlock(&fake->mutex);
}

static gboolean
fake_run_cb(GThreadedSocketService *service,
	    GSocketConnection *connection,
	    GObject *source,
	    gpointer user_data)
{
	FakeBackend *fake = user_data;

	g_mutex_lock(&fake->mutex);
	if (fake->stopping) {
		g_mutex_unlock(&fake->mutex);
		return TRUE;
	}
	fake->active++;
	g_mutex_unlock(&fake->mutex);

	fake_handle(fake, connection);

	g_mutex_lock(&fake->mutex);
	fake->active--;
	g_cond_broadcast(&fake->cond);
	g_mutex_unlock(&fake->mutex);
	return TRUE;
}

static gpointer
fake_thread(gpointer user_data)
{
	FakeBackend *fake = user_data;
	g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autoptr(GSocketAddress) address =
	    g_inet_socket_address_new(loopback, (guint16)fake->port);
	g_autoptr(GSocketAddress) effective = NULL;
	GError *error = NULL;

	g_main_context_push_thread_default(fake->context);
	fake->service = g_threaded_socket_service_new(32);
	g_signal_connect(fake->service, "run", G_CALLBACK(fake_run_cb), fake);
	if (g_socket_listener_add_address(G_SOCKET_LISTENER(fake->service),
					  address,
					  G_SOCKET_TYPE_STREAM,
					  G_SOCKET_PROTOCOL_TCP,
					  NULL,
					  &effective,
					  &error)) {
		fake->port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(effective));
		g_socket_service_start(fake->service);
	}
	g_mutex_lock(&fake->mutex);
	fake->error = error;
	fake->ready = TRUE;
	g_cond_broadcast(&fake->cond);
	g_mutex_unlock(&fake->mutex);
	if (error == NULL)
		g_main_loop_run(fake->loop);
	g_socket_service_stop(fake->service);
	g_socket_listener_close(G_SOCKET_LISTENER(fake->service));
	g_clear_object(&fake->service);
	while (g_main_context_iteration(fake->context, FALSE))
		;
	g_main_context_pop_thread_default(fake->context);
	return NULL;
}

/* on 127.0.0.1:@port, 0 for any free port */
static FakeBackend *
fake_new(guint port, FakeResponder responder, gpointer responder_data)
{
	FakeBackend *fake = g_new0(FakeBackend, 1);

	g_mutex_init(&fake->mutex);
	g_cond_init(&fake->cond);
	fake->requests = g_ptr_array_new_with_free_func((GDestroyNotify)fake_request_free);
	fake->context = g_main_context_new();
	fake->loop = g_main_loop_new(fake->context, FALSE);
	fake->port = port;
	fake->responder = responder;
	fake->responder_data = responder_data;
	fake->thread = g_thread_new("fake-backend", fake_thread, fake);
	g_mutex_lock(&fake->mutex);
	while (!fake->ready)
		g_cond_wait(&fake->cond, &fake->mutex);
	g_mutex_unlock(&fake->mutex);
	g_assert_no_error(fake->error);
	return fake;
}

static gboolean
fake_quit_cb(gpointer user_data)
{
	g_main_loop_quit(user_data);
	return G_SOURCE_REMOVE;
}

static void
fake_stop(FakeBackend *fake)
{
	gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

	if (fake->thread == NULL)
		return;
	g_mutex_lock(&fake->mutex);
	fake->stopping = TRUE;
	g_cond_broadcast(&fake->cond);
	g_mutex_unlock(&fake->mutex);
	g_main_context_invoke(fake->context, fake_quit_cb, fake->loop);
	g_thread_join(g_steal_pointer(&fake->thread));
	/* handlers run in GThreadedSocketService's pool: let them end before the data goes */
	g_mutex_lock(&fake->mutex);
	while (fake->active > 0 && g_cond_wait_until(&fake->cond, &fake->mutex, deadline))
		;
	g_assert_cmpuint(fake->active, ==, 0);
	g_mutex_unlock(&fake->mutex);
}

static void
fake_free(FakeBackend *fake)
{
	fake_stop(fake);
	g_ptr_array_unref(fake->requests);
	g_main_loop_unref(fake->loop);
	g_main_context_unref(fake->context);
	g_mutex_clear(&fake->mutex);
	g_cond_clear(&fake->cond);
	g_free(fake);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FakeBackend, fake_free)

static gboolean
fake_wait_requests(FakeBackend *fake, guint n, guint timeout_ms)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	gboolean ok;

	g_mutex_lock(&fake->mutex);
	while (fake->requests->len < n && g_cond_wait_until(&fake->cond, &fake->mutex, deadline))
		;
	ok = fake->requests->len >= n;
	g_mutex_unlock(&fake->mutex);
	return ok;
}

static gboolean
fake_wait_disconnects(FakeBackend *fake, guint n, guint timeout_ms)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	gboolean ok;

	g_mutex_lock(&fake->mutex);
	while (fake->n_disconnects < n && g_cond_wait_until(&fake->cond, &fake->mutex, deadline))
		;
	ok = fake->n_disconnects >= n;
	g_mutex_unlock(&fake->mutex);
	return ok;
}

/* the request is owned by the fake, which outlives the test's use of it */
static FakeRequest *
fake_get_request(FakeBackend *fake, guint index)
{
	FakeRequest *req;

	g_mutex_lock(&fake->mutex);
	g_assert_cmpuint(index, <, fake->requests->len);
	req = g_ptr_array_index(fake->requests, index);
	g_mutex_unlock(&fake->mutex);
	return req;
}

static guint
fake_get_n_requests(FakeBackend *fake)
{
	guint n;

	g_mutex_lock(&fake->mutex);
	n = fake->requests->len;
	g_mutex_unlock(&fake->mutex);
	return n;
}

/* a port nothing listens on: one the fake had and gave back */
static guint
closed_port(void)
{
	g_autoptr(FakeBackend) fake = fake_new(0, NULL, NULL);

	return fake->port;
}

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

static gchar *
backend_url(FakeBackend *fake)
{
	return g_strdup_printf("http://127.0.0.1:%u%s", fake->port, RASA_PATH);
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

/* POSTs @body to the endpoint; returns the inputId of the 202 */
static gchar *
post(PalTestDaemon *d, const gchar *token, const gchar *body)
{
	g_autofree gchar *url = g_strdup_printf("%s%s", pal_test_daemon_get_base_url(d), token);
	g_autofree gchar *answer = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) node = NULL;
	guint status = 0;

	pal_test_http_post(url,
			   "application/json",
			   body,
			   strlen(body),
			   NULL,
			   &status,
			   &answer,
			   &error);
	g_assert_no_error(error);
	g_assert_cmpuint(status, ==, 202);
	node = pal_test_json_parse(answer);
	return g_strdup(json_object_get_string_member(json_node_get_object(node), "inputId"));
}

static gchar *
post_text(PalTestDaemon *d, const gchar *token, const gchar *session, const gchar *text)
{
	g_autofree gchar *body =
	    g_strdup_printf("{\"userId\":\"user-1\",\"sessionId\":\"%s\",\"text\":\"%s\"}",
			    session,
			    text);

	return post(d, token, body);
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

static FakeAnswer *
rasa_story_responder(JsonObject *request, gpointer user_data)
{
	return fake_answer_new(200, RASA_ANSWER);
}

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
	g_autoptr(FakeBackend) fake = fake_new(0, rasa_story_responder, NULL);
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *url = backend_url(fake);
	g_autofree gchar *flow_a =
	    g_strdup_printf("{\"type\":\"http\",\"url\":\"%s\",\"contract\":\"rasa\","
			    "\"headers\":{\"X-Bot-Token\":\"tok-123\"},"
			    "\"user\":\"bot\",\"password\":\"s3cret\"}",
			    url);
	g_autofree gchar *flow_b = g_strdup_printf(
	    "{\"type\":\"http\",\"url\":\"%s\",\"contract\":\"rasa\",\"maxOutputs\":2}",
	    url);
	g_autofree gchar *ep_a = endpoint_json("rasa", TOKEN_A, flow_a, r);
	g_autofree gchar *ep_b = endpoint_json("rasa-few", TOKEN_B, flow_b, r);
	g_autofree gchar *input_id = NULL;
	g_autofree gchar *input_id2 = NULL;
	g_autofree gchar *trace = NULL;
	g_autofree gchar *cred = g_base64_encode((const guchar *)"bot:s3cret", 10);
	g_autofree gchar *auth = g_strdup_printf("Basic %s", cred);
	g_autofree gchar *log = NULL;
	g_autoptr(GPtrArray) turn = NULL;
	g_autoptr(GPtrArray) turn2 = NULL;
	g_autoptr(GPtrArray) turn3 = NULL;
	FakeRequest *got;
	JsonObject *body;
	JsonObject *metadata;
	JsonObject *data;
	JsonObject *quick;
	JsonArray *replies;
	guint cursor = 0;

	capture_log(d);
	pal_test_daemon_add_endpoint(d, "rasa.json", ep_a);
	pal_test_daemon_add_endpoint(d, "rasa-few.json", ep_b);
	start_daemon(d);

	input_id = post(d,
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
	g_assert_cmpuint(fake_get_n_requests(fake), ==, 1);
	got = fake_get_request(fake, 0);
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
	input_id2 = post(d,
			 TOKEN_A,
			 "{\"userId\":\"user-1\",\"sessionId\":\"session-1\",\"data\":{"
			 "\"postback\":\"/affirm\"}}");
	turn2 = next_turn(r, &cursor);
	g_assert_cmpuint(turn2->len, ==, 4);
	got = fake_get_request(fake, 1);
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

static FakeAnswer *
generic_responder(JsonObject *request, gpointer user_data)
{
	return fake_answer_new(200,
			       "{\"outputs\":[{\"text\":\"you said hi\"},{\"data\":{\"k\":[1,2]}},"
			       "{\"text\":\"both\",\"data\":{\"x\":true},\"ignored\":1},"
			       "{},{\"text\":null,\"data\":null},{\"text\":\"\",\"data\":{}}]}");
}

/* Palaver's input goes out as flows see it, {"outputs": [...]} comes back as outputs in order;
 * elements without text or data produce nothing */
static void
test_generic_roundtrip(void)
{
	g_autoptr(FakeBackend) fake = fake_new(0, generic_responder, NULL);
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *url = backend_url(fake);
	g_autofree gchar *flow = g_strdup_printf("{\"type\":\"http\",\"url\":\"%s\"}", url);
	g_autofree gchar *ep = endpoint_json("generic", TOKEN_A, flow, r);
	g_autofree gchar *input_id = NULL;
	g_autofree gchar *trace = NULL;
	g_autoptr(GPtrArray) turn = NULL;
	JsonObject *body;
	JsonArray *k;
	guint cursor = 0;

	pal_test_daemon_add_endpoint(d, "generic.json", ep);
	start_daemon(d);
	input_id = post(d,
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

	body = json_node_get_object(fake_get_request(fake, 0)->json);
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

static FakeAnswer *
echo_rasa_responder(JsonObject *request, gpointer user_data)
{
	const gchar *message =
	    request != NULL ? json_object_get_string_member_with_default(request, "message", "")
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
	{
		FakeAnswer *a = fake_answer_new(200, json);
		/* "slow …" messages answer after 5 s */
		if (g_str_has_prefix(message, "slow"))
			a->delay_ms = 5000;
		return a;
	}
}

/* the backend is down: the configured fallback is delivered, one log line says why (without
 * the user's text), and the session goes on: once the backend is up the next message is
 * answered by it */
static void
test_backend_down(void)
{
	guint port = closed_port();
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *url = backend_url_port(port);
	g_autofree gchar *flow = g_strdup_printf(
	    "{\"type\":\"http\",\"url\":\"%s\",\"contract\":\"rasa\","
	    "\"fallback\":{\"text\":\"The bot is down\",\"data\":{\"fallback\":true}}}",
	    url);
	g_autofree gchar *ep = endpoint_json("down", TOKEN_A, flow, r);
	g_autofree gchar *input_id = NULL;
	g_autofree gchar *log = NULL;
	g_autofree gchar *line = NULL;
	g_autofree gchar *backend = g_strdup_printf("backend 127.0.0.1:%u", port);
	g_autoptr(GPtrArray) turn = NULL;
	g_autoptr(GPtrArray) turn2 = NULL;
	g_autoptr(FakeBackend) fake = NULL;
	guint cursor = 0;

	capture_log(d);
	pal_test_daemon_add_endpoint(d, "down.json", ep);
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
	fake = fake_new(port, echo_rasa_responder, NULL);
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
	g_autoptr(FakeBackend) fake = fake_new(0, echo_rasa_responder, NULL);
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *url = backend_url(fake);
	g_autofree gchar *flow =
	    g_strdup_printf("{\"type\":\"http\",\"url\":\"%s\",\"contract\":\"rasa\","
			    "\"timeoutMs\":500}",
			    url);
	g_autofree gchar *ep = endpoint_json("slow", TOKEN_A, flow, r);
	g_autofree gchar *log = NULL;
	g_autoptr(GPtrArray) turn = NULL;
	g_autoptr(GPtrArray) turn2 = NULL;
	gint64 start;
	gint64 took;
	guint cursor = 0;

	capture_log(d);
	pal_test_daemon_add_endpoint(d, "slow.json", ep);
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
	g_assert_true(fake_wait_disconnects(fake, 1, 3000));
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

static FakeAnswer *
bad_responder(JsonObject *request, gpointer user_data)
{
	JsonObject *metadata =
	    request != NULL ? json_object_get_object_member(request, "metadata") : NULL;
	const gchar *name = metadata != NULL
				? json_object_get_string_member_with_default(metadata, "case", "")
				: "";
	FakeAnswer *a;

	if (g_strcmp0(name, "status-500") == 0)
		return fake_answer_new(500, "{\"error\":\"oops\"}");
	if (g_strcmp0(name, "status-404") == 0)
		return fake_answer_new(404, "[]");
	if (g_strcmp0(name, "redirect") == 0) {
		a = fake_answer_new(302, NULL);
		a->location = "/elsewhere";
		return a;
	}
	if (g_strcmp0(name, "not-json") == 0)
		return fake_answer_new(200, "<html>busy</html>");
	if (g_strcmp0(name, "empty-body") == 0)
		return fake_answer_new(200, NULL);
	if (g_strcmp0(name, "invalid-utf8") == 0)
		return fake_answer_new(200, "[{\"text\":\"\xff\xfe\"}]");
	if (g_strcmp0(name, "not-array") == 0)
		return fake_answer_new(200, "{\"text\":\"hi\"}");
	if (g_strcmp0(name, "generic-shape") == 0)
		return fake_answer_new(200, "{\"outputs\":[{\"text\":\"hi\"}]}");
	if (g_strcmp0(name, "bad-element") == 0)
		return fake_answer_new(200, "[{\"text\":\"fine\"},{\"text\":42}]");
	if (g_strcmp0(name, "bad-button") == 0)
		return fake_answer_new(200,
				       "[{\"text\":\"pick\",\"buttons\":[{\"payload\":\"/a\"}]}]");
	if (g_strcmp0(name, "bad-image") == 0)
		return fake_answer_new(200, "[{\"image\":{\"url\":\"x\"}}]");
	if (g_strcmp0(name, "too-large-announced") == 0) {
		a = fake_answer_new(200, NULL);
		a->body = big_answer(300000);
		return a;
	}
	if (g_strcmp0(name, "too-large-chunked") == 0 ||
	    g_strcmp0(name, "too-large-stalling") == 0) {
		a = fake_answer_new(200, NULL);
		a->body = big_answer(300000);
		a->chunked = TRUE;
		/* more than the limit, then nothing for 10 s with the connection open: the reading
		 * stops at the limit, and closing the stream does not wait for the rest */
		if (g_strcmp0(name, "too-large-stalling") == 0) {
			a->stall_after = 270000;
			a->stall_ms = 10000;
		}
		return a;
	}
	if (g_strcmp0(name, "too-deep") == 0) {
		/* 200 kB, within maxResponseBytes: json-glib 1.6 would crash on it (PLATFORM-NOTES
		 * 13) */
		GString *deep = g_string_new(NULL);
		for (guint i = 0; i < 100000; i++)
			g_string_append_c(deep, '[');
		for (guint i = 0; i < 100000; i++)
			g_string_append_c(deep, ']');
		a = fake_answer_new(200, NULL);
		a->body = g_string_free(deep, FALSE);
		return a;
	}
	if (g_strcmp0(name, "no-content") == 0)
		return fake_answer_new(204, NULL);
	return fake_answer_new(200, "[]");
}

/* every way a backend can answer wrongly ends the turn with the fallback and one log line that
 * says what was wrong; an empty answer is a turn without outputs */
static void
test_bad_answers(void)
{
	g_autoptr(FakeBackend) fake = fake_new(0, bad_responder, NULL);
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *url = backend_url(fake);
	g_autofree gchar *flow =
	    g_strdup_printf("{\"type\":\"http\",\"url\":\"%s\",\"contract\":\"rasa\","
			    "\"maxResponseBytes\":262144,\"timeoutMs\":8000}",
			    url);
	g_autofree gchar *ep = endpoint_json("bad", TOKEN_A, flow, r);
	guint cursor = 0;
	guint failures = 0;

	capture_log(d);
	pal_test_daemon_add_endpoint(d, "bad.json", ep);
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
		input_id = post(d, TOKEN_A, body);
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
	for (guint i = 0; i < fake_get_n_requests(fake); i++) {
		FakeRequest *req = fake_get_request(fake, i);
		g_assert_cmpstr(req->method, ==, "POST");
		g_assert_cmpstr(req->path, ==, RASA_PATH);
	}
	g_assert_cmpuint(fake_get_n_requests(fake), ==, G_N_ELEMENTS(bad_cases));
	stop_daemon(d);
}

/* "fallback": false: a failed turn has no output at all */
static void
test_fallback_false(void)
{
	guint port = closed_port();
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *url = backend_url_port(port);
	g_autofree gchar *flow =
	    g_strdup_printf("{\"type\":\"http\",\"url\":\"%s\",\"fallback\":false}", url);
	g_autofree gchar *ep = endpoint_json("quiet", TOKEN_A, flow, r);
	g_autofree gchar *log = NULL;
	g_autoptr(GPtrArray) turn = NULL;
	guint cursor = 0;

	capture_log(d);
	pal_test_daemon_add_endpoint(d, "quiet.json", ep);
	start_daemon(d);
	g_free(post_text(d, TOKEN_A, "session-1", "anyone there"));
	turn = next_turn(r, &cursor);
	g_assert_cmpuint(turn->len, ==, 0);
	log = read_log(d);
	g_assert_cmpuint(count_lines(log, "endpoint quiet: http flow:"), ==, 1);
	g_assert_cmpuint(count_lines(log, "no output (\"fallback\": false)"), ==, 1);
	stop_daemon(d);
}

static FakeAnswer *
leaky_responder(JsonObject *request, gpointer user_data)
{
	/* a bot that repeats the user's words where they do not belong */
	return fake_answer_new(200, "[{\"text\":\"fine\"},{\"buttons\":\"my secret words\"}]");
}

/* an endpoint with dataProtection.maskLogging gets the reason without the answer's strings,
 * which may repeat the user's words; other endpoints get them quoted, for debugging */
static void
test_mask_logging(void)
{
	g_autoptr(FakeBackend) fake = fake_new(0, leaky_responder, NULL);
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
	g_autofree gchar *plain_flow =
	    g_strdup_printf("{\"type\":\"http\",\"url\":\"%s\",\"contract\":\"rasa\"}", url);
	g_autofree gchar *plain = endpoint_json("plain", TOKEN_B, plain_flow, r);
	g_autofree gchar *log = NULL;
	g_autofree gchar *line = NULL;
	g_autoptr(GPtrArray) turn = NULL;
	g_autoptr(GPtrArray) turn2 = NULL;
	guint cursor = 0;

	capture_log(d);
	pal_test_daemon_add_endpoint(d, "masked.json", masked);
	pal_test_daemon_add_endpoint(d, "plain.json", plain);
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
	g_autoptr(FakeBackend) fake = fake_new(0, echo_rasa_responder, NULL);
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *url = backend_url(fake);
	g_autofree gchar *good_flow =
	    g_strdup_printf("{\"type\":\"http\",\"url\":\"%s\",\"contract\":\"rasa\","
			    "\"timeoutMs\":3000.0,\"headers\":{\"X-Token\":\"t\"},"
			    "\"user\":\"bot\",\"password\":\"\",\"fallback\":\"Back soon\","
			    "\"maxResponseBytes\":null,\"maxOutputs\":5,\"maxConnections\":4}",
			    url);
	g_autofree gchar *good = endpoint_json("good", TOKEN_A, good_flow, r);
	g_autofree gchar *expect =
	    g_strdup_printf("1 endpoint(s) loaded, %u refused", (guint)G_N_ELEMENTS(bad_options));
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	g_autoptr(GPtrArray) turn = NULL;
	gint status = -1;
	guint cursor = 0;

	pal_test_daemon_add_endpoint(d, "good.json", good);
	for (guint i = 0; i < G_N_ELEMENTS(bad_options); i++) {
		g_autofree gchar *name = g_strdup_printf("bad%u", i);
		g_autofree gchar *file = g_strdup_printf("bad%u.json", i);
		g_autofree gchar *token = g_strdup_printf("token-bad-%016u", i);
		/* options that are about the URL replace it: no duplicate keys */
		g_autofree gchar *flow =
		    g_str_has_prefix(bad_options[i].options, "\"url\"")
			? g_strdup_printf("{\"type\":\"http\",%s}", bad_options[i].options)
			: g_strdup_printf("{\"type\":\"http\",\"url\":\"%s\",%s}",
					  url,
					  bad_options[i].options);
		g_autofree gchar *ep = endpoint_json(name, token, flow, r);
		pal_test_daemon_add_endpoint(d, file, ep);
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

static FakeAnswer *
slowish_responder(JsonObject *request, gpointer user_data)
{
	FakeAnswer *a = fake_answer_new(200, "{\"outputs\":[{\"text\":\"answer\"}]}");

	a->delay_ms = 300;
	return a;
}

/* maxConnections bounds the requests in flight to the backend (per worker thread); turns
 * beyond it wait for a connection and are answered, not failed */
static void
test_max_connections(void)
{
	g_autoptr(FakeBackend) fake = fake_new(0, slowish_responder, NULL);
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *url = backend_url(fake);
	g_autofree gchar *flow =
	    g_strdup_printf("{\"type\":\"http\",\"url\":\"%s\",\"maxConnections\":2,"
			    "\"timeoutMs\":10000}",
			    url);
	g_autofree gchar *ep = endpoint_json("busy", TOKEN_A, flow, r);
	g_autoptr(GPtrArray) reqs = NULL;
	guint answers = 0;

	pal_test_daemon_set_conf(d, "Server", "Workers", "1");
	pal_test_daemon_add_endpoint(d, "busy.json", ep);
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
	g_assert_cmpuint(fake_get_n_requests(fake), ==, 6);
	g_mutex_lock(&fake->mutex);
	g_test_message("at most %u requests in flight", fake->max_in_flight);
	g_assert_cmpuint(fake->max_in_flight, ==, 2);
	g_mutex_unlock(&fake->mutex);
	stop_daemon(d);
}

/* the gateway's turn deadline ([Server] RequestTimeout) cancels the turn: the request to the
 * backend is aborted at once, no fallback is sent, and the session's next message is answered */
static void
test_turn_deadline(void)
{
	g_autoptr(FakeBackend) fake = fake_new(0, echo_rasa_responder, NULL);
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *url = backend_url(fake);
	g_autofree gchar *flow =
	    g_strdup_printf("{\"type\":\"http\",\"url\":\"%s\",\"contract\":\"rasa\","
			    "\"timeoutMs\":20000}",
			    url);
	g_autofree gchar *ep = endpoint_json("deadline", TOKEN_A, flow, r);
	g_autoptr(GPtrArray) reqs = NULL;
	gint64 start;
	gboolean answered = FALSE;

	pal_test_daemon_set_conf(d, "Server", "RequestTimeout", "1");
	pal_test_daemon_add_endpoint(d, "deadline.json", ep);
	start_daemon(d);
	start = g_get_monotonic_time();
	g_free(post_text(d, TOKEN_A, "session-1", "slow question"));
	g_assert_true(fake_wait_disconnects(fake, 1, 4000));
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
	g_autoptr(FakeBackend) fake = fake_new(0, echo_rasa_responder, NULL);
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *url = backend_url(fake);
	g_autofree gchar *flow =
	    g_strdup_printf("{\"type\":\"http\",\"url\":\"%s\",\"contract\":\"rasa\","
			    "\"timeoutMs\":20000}",
			    url);
	g_autofree gchar *ep = endpoint_json("stopping", TOKEN_A, flow, r);
	g_autoptr(GError) error = NULL;
	gint64 start;
	gint status = -1;

	pal_test_daemon_set_conf(d, "Server", "ShutdownTimeout", "1");
	pal_test_daemon_add_endpoint(d, "stopping.json", ep);
	start_daemon(d);
	g_free(post_text(d, TOKEN_A, "session-1", "slow question"));
	g_assert_true(fake_wait_requests(fake, 1, 5000));
	start = g_get_monotonic_time();
	g_assert_true(pal_test_daemon_stop(d, SIGTERM, 10000, &status, &error));
	g_assert_no_error(error);
	g_assert_cmpint(status, ==, 0);
	g_test_message("stopped after %" G_GINT64_FORMAT " ms",
		       (g_get_monotonic_time() - start) / 1000);
	g_assert_cmpint(g_get_monotonic_time() - start, <, 4 * G_USEC_PER_SEC);
	g_assert_true(fake_wait_disconnects(fake, 1, 2000));
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
	g_autoptr(FakeBackend) fake = fake_new(0, generic_responder, NULL);
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

	body = json_node_get_object(fake_get_request(fake, 0)->json);
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

static FakeAnswer *
slow_generic_responder(JsonObject *request, gpointer user_data)
{
	FakeAnswer *a = fake_answer_new(200, "{\"outputs\":[{\"text\":\"done\"}]}");

	a->delay_ms = 400;
	return a;
}

/* with maxConnections 1 the second turn waits for the first one's connection; cancelling it
 * there ends it at once (cancelled, no output), and the backend never sees it */
static void
test_cancel_queued(void)
{
	g_autoptr(FakeBackend) fake = fake_new(0, slow_generic_responder, NULL);
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
	g_assert_cmpuint(fake_get_n_requests(fake), ==, 1);
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
	g_test_add_func("/palaver/flow-http/generic-nlu", test_generic_nlu);
	g_test_add_func("/palaver/flow-http/cancel-queued", test_cancel_queued);
	return g_test_run();
}
