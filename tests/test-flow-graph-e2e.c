/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* End to end: conversations of the `graph` flow plugin (FLOWS.md) through the real palaverd,
 * a real loopback webhook receiver and a real HTTP backend for http nodes. */
#include "config.h"

#include <signal.h>
#include <string.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "pal-test-util.h"

#define WAIT_MS 10000

/* tests run in child processes whose standard output (TAP) is not shown: notes go to standard
 * error */
static void G_GNUC_PRINTF(1, 2)
note(const gchar *format, ...)
{
	va_list args;
	g_autofree gchar *text = NULL;

	va_start(args, format);
	text = g_strdup_vprintf(format, args);
	va_end(args);
	g_printerr("# %s\n", text);
}

/* ======================================================================================== */
/* a backend for http nodes (PalTestService): GET/POST /ok answers JSON at once, /fail answers
 * 500, /slow answers JSON after BACKEND_SLOW_MS (without blocking its thread, so a client that
 * gave up does not hold the next request) */

#define BACKEND_SLOW_MS 1500

static void
backend_responder(const PalTestServiceRequest *request, PalTestServiceAnswer *answer, gpointer user_data)
{
	if (g_strcmp0(request->path, "/slow") == 0) {
		pal_test_service_answer_set(answer, 200, "{\"status\":\"shipped\",\"count\":14,\"items\":[\"a\",\"b\"]}");
		answer->delay_ms = BACKEND_SLOW_MS;
	} else if (g_strcmp0(request->path, "/fail") == 0) {
		pal_test_service_answer_set(answer, 500, "{\"error\":\"boom\"}");
	} else if (g_strcmp0(request->path, "/ok") == 0) {
		pal_test_service_answer_set(answer, 200, "{\"status\":\"fine\",\"n\":3}");
	} else {
		pal_test_service_answer_set(answer, 404, "{\"error\":\"no such path\"}");
	}
}

static PalTestService *
backend_new(void)
{
	return pal_test_service_new(0, backend_responder, NULL);
}

static void
assert_backend_request(PalTestService *b, guint index, const gchar *method, const gchar *path)
{
	const PalTestServiceRequest *request = pal_test_service_get_request(b, index);

	g_assert_cmpstr(request->method, ==, method);
	g_assert_cmpstr(request->path, ==, path);
}

/* ======================================================================================== */
/* daemon, flows, messages */

/* flows are written in the test with ` for " (they hold Lua strings in '…') */
static gchar *
flow_json(const gchar *text)
{
	gchar *copy = g_strdup(text);

	g_strdelimit(copy, "`", '"');
	return copy;
}

/* writes endpoints.d/flows/FILE (the JSON of @flow_text, ` for ") and endpoints.d/NAME.json */
static void
add_graph_endpoint(PalTestDaemon *d,
		   const gchar *name,
		   const gchar *token,
		   const gchar *flow_file,
		   const gchar *flow_text,
		   const gchar *flow_options,
		   const gchar *hook,
		   const gchar *extra)
{
	g_autofree gchar *flow = flow_json(flow_text);
	g_autofree gchar *rel = g_strdup_printf("endpoints.d/flows/%s", flow_file);
	g_autofree gchar *file = g_strdup_printf("%s.json", name);
	g_autofree gchar *ep = g_strdup_printf("{\"name\":\"%s\",\"URLToken\":\"%s\","
					       "\"flow\":{\"type\":\"graph\",\"file\":\"flows/%s\"%s},"
					       "\"webhook\":{\"url\":\"%s\"}%s}",
					       name,
					       token,
					       flow_file,
					       flow_options != NULL ? flow_options : "",
					       hook,
					       extra != NULL ? extra : "");

	pal_test_daemon_write_file(d, rel, flow);
	pal_test_daemon_add_endpoint(d, file, ep);
}

static void
start_daemon(PalTestDaemon *d)
{
	g_autoptr(GError) error = NULL;

	if (!pal_test_daemon_start(d, &error))
		g_error("palaverd did not start: %s", error->message);
}

static void
restart_daemon(PalTestDaemon *d)
{
	g_autoptr(GError) error = NULL;

	if (!pal_test_daemon_restart(d, &error))
		g_error("palaverd did not start again: %s", error->message);
}

static void
stop_daemon(PalTestDaemon *d)
{
	g_autoptr(GError) error = NULL;
	gint status = -1;

	g_assert_true(pal_test_daemon_stop(d, SIGTERM, 15000, &status, &error));
	g_assert_no_error(error);
	g_assert_cmpint(status, ==, 0);
}

/* palaverd's standard error goes to a file of its directory as well as ours: a wrapper
 * script runs $PALAVERD (exec, so signals and the pid are the daemon's) */
static gchar *
log_to_file(PalTestDaemon *d)
{
	const gchar *dir = pal_test_daemon_get_dir(d);
	g_autofree gchar *script_path = g_build_filename(dir, "run-palaverd.sh", NULL);
	gchar *log = g_build_filename(dir, "palaverd.log", NULL);
	g_autofree gchar *script = g_strdup_printf("#!/bin/sh\nexec \"$PALAVERD\" \"$@\" 2>>'%s'\n", log);

	g_assert_null(strchr(log, '\''));
	pal_test_daemon_write_file(d, "run-palaverd.sh", script);
	g_assert_cmpint(g_chmod(script_path, 0700), ==, 0);
	pal_test_daemon_set_program(d, script_path);
	return log;
}

/* TRUE once the log file holds @needle */
static gboolean
wait_log(const gchar *log, const gchar *needle, guint timeout_ms)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

	do {
		g_autofree gchar *contents = NULL;
		if (g_file_get_contents(log, &contents, NULL, NULL) && strstr(contents, needle) != NULL)
			return TRUE;
		g_usleep(50 * 1000);
	} while (g_get_monotonic_time() < deadline);
	return FALSE;
}

static void
dump_log(const gchar *log)
{
	g_autofree gchar *contents = NULL;

	if (g_file_get_contents(log, &contents, NULL, NULL))
		g_printerr("---- palaverd standard error ----\n%s---- end ----\n", contents);
}

static gchar *
message_body(const gchar *user, const gchar *session, const gchar *text, const gchar *data_json)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonNode) root = NULL;

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "userId");
	json_builder_add_string_value(builder, user);
	json_builder_set_member_name(builder, "sessionId");
	json_builder_add_string_value(builder, session);
	if (text != NULL) {
		json_builder_set_member_name(builder, "text");
		json_builder_add_string_value(builder, text);
	}
	if (data_json != NULL) {
		json_builder_set_member_name(builder, "data");
		json_builder_add_value(builder, pal_test_json_parse(data_json));
	}
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	return json_to_string(root, FALSE);
}

static guint
post_status(PalTestDaemon *d, const gchar *token, const gchar *user, const gchar *session, const gchar *text)
{
	g_autofree gchar *url = pal_test_daemon_get_url(d, token);
	g_autofree gchar *body = message_body(user, session, text, NULL);
	g_autoptr(GError) error = NULL;
	guint status = 0;

	g_assert_true(pal_test_http_post(url, "application/json", body, strlen(body), NULL, &status, NULL, &error));
	g_assert_no_error(error);
	return status;
}

static void
post_data(PalTestDaemon *d,
	  const gchar *token,
	  const gchar *user,
	  const gchar *session,
	  const gchar *text,
	  const gchar *data_json)
{
	g_autofree gchar *body = message_body(user, session, text, data_json);

	g_free(pal_test_daemon_post_accepted(d, token, body));
}

static void
post(PalTestDaemon *d, const gchar *token, const gchar *user, const gchar *session, const gchar *text)
{
	post_data(d, token, user, session, text, NULL);
}

/* ======================================================================================== */
/* what the webhook got: distinct outputs (by webhook-id: delivery is at least once), in order */

static GPtrArray *
distinct_outputs(PalTestReceiver *r)
{
	g_autoptr(GPtrArray) all = pal_test_receiver_dup_requests(r);
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)pal_received_request_unref);

	for (guint i = 0; i < all->len; i++) {
		PalReceivedRequest *req = g_ptr_array_index(all, i);
		const gchar *id = pal_received_request_get_header(req, "webhook-id");

		if (pal_received_request_get_status(req) / 100 != 2 || id == NULL || g_hash_table_contains(seen, id))
			continue;
		g_hash_table_add(seen, g_strdup(id));
		g_ptr_array_add(out, pal_received_request_ref(req));
	}
	return out;
}

static GPtrArray *
wait_outputs(PalTestReceiver *r, guint n, guint timeout_ms)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

	for (;;) {
		GPtrArray *out = distinct_outputs(r);
		if (out->len >= n || g_get_monotonic_time() >= deadline)
			return out;
		g_ptr_array_unref(out);
		pal_test_receiver_wait_count(r, pal_test_receiver_get_count(r) + 1, 100);
	}
}

static JsonObject *
ai_output(PalReceivedRequest *req)
{
	JsonNode *root = pal_received_request_get_json(req);

	g_assert_nonnull(root);
	g_assert_true(JSON_NODE_HOLDS_OBJECT(root));
	return json_object_get_object_member(json_node_get_object(root), "AIOutput");
}

static const gchar *
out_text(PalReceivedRequest *req)
{
	JsonObject *ai = ai_output(req);
	JsonNode *text = json_object_get_member(ai, "text");

	return text != NULL && JSON_NODE_HOLDS_VALUE(text) ? json_node_get_string(text) : NULL;
}

static JsonObject *
out_data(PalReceivedRequest *req)
{
	JsonObject *ai = ai_output(req);
	JsonNode *data = json_object_get_member(ai, "data");

	return data != NULL && JSON_NODE_HOLDS_OBJECT(data) ? json_node_get_object(data) : NULL;
}

static const gchar *
out_session(PalReceivedRequest *req)
{
	return json_object_get_string_member(json_node_get_object(pal_received_request_get_json(req)), "sessionId");
}

static guint64
out_seq(PalReceivedRequest *req)
{
	const gchar *seq = pal_received_request_get_header(req, "Palaver-Session-Seq");

	g_assert_nonnull(seq);
	return g_ascii_strtoull(seq, NULL, 10);
}

/* a conversation as the webhook sees it */
typedef struct {
	PalTestReceiver *r;
	guint next;	      /* distinct outputs checked so far */
	GHashTable *last_seq; /* "user\nsession" → last Palaver-Session-Seq */
} Conv;

static void
conv_init(Conv *c, PalTestReceiver *r)
{
	c->r = r;
	c->next = 0;
	c->last_seq = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
}

static void
conv_clear(Conv *c)
{
	g_hash_table_unref(c->last_seq);
}

/* the last Palaver-Session-Seq seen for the session, and forget it */
static guint64
conv_forget(Conv *c, const gchar *user, const gchar *session)
{
	g_autofree gchar *key = g_strdup_printf("%s\n%s", user, session);
	guint64 *last = g_hash_table_lookup(c->last_seq, key);
	guint64 seq = last != NULL ? *last : 0;

	g_hash_table_remove(c->last_seq, key);
	return seq;
}

static guint64
conv_last_seq(Conv *c, const gchar *user, const gchar *session)
{
	g_autofree gchar *key = g_strdup_printf("%s\n%s", user, session);
	guint64 *last = g_hash_table_lookup(c->last_seq, key);

	return last != NULL ? *last : 0;
}

/* the next outputs are exactly @texts (NULL-terminated; "" for an output without text), in
 * this order, for @session, each with a higher Palaver-Session-Seq than the last one of its
 * session. Returns them (transfer container). */
static GPtrArray *
conv_expect(Conv *c, const gchar *session, const gchar *const *texts)
{
	guint n = g_strv_length((gchar **)texts);
	g_autoptr(GPtrArray) all = wait_outputs(c->r, c->next + n, WAIT_MS);
	GPtrArray *got = g_ptr_array_new_with_free_func((GDestroyNotify)pal_received_request_unref);

	if (all->len < c->next + n) {
		for (guint i = c->next; i < all->len; i++)
			g_printerr("got output %u: %s\n", i, out_text(g_ptr_array_index(all, i)));
		g_printerr("expected %u more output(s) after %u, starting with \"%s\"; got %u\n",
			   n, c->next, texts[0], all->len - c->next);
	}
	g_assert_cmpuint(all->len, >=, c->next + n);
	for (guint i = 0; i < n; i++) {
		PalReceivedRequest *req = g_ptr_array_index(all, c->next + i);
		const gchar *text = out_text(req);
		JsonObject *root = json_node_get_object(pal_received_request_get_json(req));
		g_autofree gchar *key = g_strdup_printf("%s\n%s", json_object_get_string_member(root, "userId"), out_session(req));
		guint64 *last = g_hash_table_lookup(c->last_seq, key);
		guint64 seq = out_seq(req);

		g_assert_cmpstr(out_session(req), ==, session);
		g_assert_cmpstr(text != NULL ? text : "", ==, texts[i]);
		if (last != NULL) {
			g_assert_cmpuint(seq, >, *last);
			*last = seq;
		} else {
			last = g_new(guint64, 1);
			*last = seq;
			g_hash_table_insert(c->last_seq, g_steal_pointer(&key), last);
		}
		g_ptr_array_add(got, pal_received_request_ref(req));
	}
	c->next += n;
	return got;
}

#define EXPECT(conv, session, ...)                                                                   \
	do {                                                                                         \
		const gchar *const expect_texts_[] = {__VA_ARGS__, NULL};                            \
		g_autoptr(GPtrArray) expect_got_ = conv_expect((conv), (session), expect_texts_);    \
	} while (0)

/* one turn: @text from @user in @session, answered with exactly the outputs given after it */
#define TURN(conv, d, token, user, session, text, ...)                                               \
	do {                                                                                         \
		post((d), (token), (user), (session), (text));                                       \
		EXPECT((conv), (session), __VA_ARGS__);                                              \
	} while (0)

/* nothing more arrives within a moment */
static void
conv_expect_end(Conv *c)
{
	g_autoptr(GPtrArray) all = NULL;

	g_usleep(400 * 1000);
	all = distinct_outputs(c->r);
	for (guint i = c->next; i < all->len; i++)
		g_printerr("unexpected output %u: %s\n", i, out_text(g_ptr_array_index(all, i)));
	g_assert_cmpuint(all->len, ==, c->next);
}

/* the quick replies of FLOWS.md / DESIGN.md §1.3 */
static void
assert_quick_replies(PalReceivedRequest *req, const gchar *const *titles, const gchar *const *payloads)
{
	JsonObject *data = out_data(req);
	JsonObject *quick;
	JsonArray *replies;

	g_assert_nonnull(data);
	quick = json_object_get_object_member(
	    json_object_get_object_member(json_object_get_object_member(data, "_cognigy"), "_default"),
	    "_quickReplies");
	g_assert_nonnull(quick);
	g_assert_cmpstr(json_object_get_string_member(quick, "type"), ==, "quick_replies");
	g_assert_cmpstr(json_object_get_string_member(quick, "text"), ==, out_text(req));
	replies = json_object_get_array_member(quick, "quickReplies");
	g_assert_cmpuint(json_array_get_length(replies), ==, g_strv_length((gchar **)titles));
	for (guint i = 0; titles[i] != NULL; i++) {
		JsonObject *reply = json_array_get_object_element(replies, i);
		g_assert_cmpuint(json_object_get_size(reply), ==, 4);
		g_assert_true(json_object_has_member(reply, "id"));
		g_assert_cmpstr(json_object_get_string_member(reply, "contentType"), ==, "postback");
		g_assert_cmpstr(json_object_get_string_member(reply, "title"), ==, titles[i]);
		g_assert_cmpstr(json_object_get_string_member(reply, "payload"), ==, payloads[i]);
		/* ids are distinct */
		for (guint j = 0; j < i; j++) {
			JsonObject *other = json_array_get_object_element(replies, j);
			g_assert_false(json_node_equal(json_object_get_member(reply, "id"), json_object_get_member(other, "id")));
		}
	}
}

/* ======================================================================================== */
/* SQLite, while the daemon is stopped (or read-only while it runs) */

static gchar *
store_path(PalTestDaemon *d)
{
	return g_build_filename(pal_test_daemon_get_dir(d), "palaver.db", NULL);
}

static void
db_exec(const gchar *path, const gchar *sql)
{
	sqlite3 *db = NULL;
	char *errmsg = NULL;

	g_assert_cmpint(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, sql, NULL, NULL, &errmsg) != SQLITE_OK)
		g_error("%s: %s", sql, errmsg);
	g_assert_cmpint(sqlite3_changes(db), >, 0);
	sqlite3_close(db);
}

static gint64
db_int(const gchar *path, const gchar *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	gint64 value = -1;

	g_assert_cmpint(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		value = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return value;
}

/* ======================================================================================== */
/* 1. a multi-turn conversation */

#define TOKEN_CHAT "chat-token-0000000000001"

static const gchar *const chat_flow =
    "{`name`:`chat`,`start`:`hello`,`context`:{`tries`:0,`total`:0},`nodes`:{"
    " `hello`:{`type`:`say`,`text`:`Hello {{ input.data.name }}!{{ context.nothing }}`,`next`:`menu`},"
    " `menu`:{`type`:`question`,`text`:`Pick one, {{ input.data.name or 'friend' }}`,"
    "   `quickReplies`:[`Add`,{`title`:`Double it`,`payload`:`double`}],"
    "   `store`:`context.choice`,`next`:`route`},"
    " `route`:{`type`:`switch`,`value`:`{{ string.lower(input.text) }}`,"
    "   `cases`:{`add`:`askNum`,`double`:`askNum`},`default`:`menu`},"
    " `askNum`:{`type`:`question`,`text`:`A number?`,`expect`:`number`,`store`:`context.n`,"
    "   `reprompt`:`Digits please, not {{ input.text }}.`,`retries`:1,`next`:`count`,`onFail`:`failed`},"
    " `count`:{`type`:`set`,`values`:{`context.tries`:`{{ context.tries + 1 }}`,"
    "   `context.half`:`{{ context.n / 2 }}`},`next`:`calc`},"
    " `calc`:{`type`:`script`,`code`:`context.total = context.n * 2 / 1`,`next`:`tell`},"
    " `tell`:{`type`:`say`,`text`:`Total {{ context.total }}, half {{ context.half }}, "
    "tries {{ context.tries }}{{ context.nothing }}.`,"
    "   `data`:{`total`:`{{ context.total }}`,`label`:`t={{ context.total }}`,`choice`:`{{ context.choice }}`},"
    "   `next`:`menu`},"
    " `failed`:{`type`:`say`,`text`:`Giving up after {{ context.tries }} tries.`,`next`:`menu`}"
    "}}";

static void
test_conversation(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *hook = pal_test_receiver_get_url(r, "/hook");
	const gchar *const titles[] = {"Add", "Double it", NULL};
	const gchar *const payloads[] = {"Add", "double", NULL};
	Conv c;

	add_graph_endpoint(d, "chat", TOKEN_CHAT, "chat.json", chat_flow, NULL, hook, NULL);
	start_daemon(d);
	conv_init(&c, r);

	/* greeting say + question with quick replies */
	post_data(d, TOKEN_CHAT, "u1", "s1", "hi", "{\"name\":\"Ada\"}");
	{
		const gchar *const texts[] = {"Hello Ada!", "Pick one, Ada", NULL};
		g_autoptr(GPtrArray) got = conv_expect(&c, "s1", texts);
		PalReceivedRequest *first = g_ptr_array_index(got, 0);
		JsonObject *ai = ai_output(first);
		JsonObject *data = out_data(first);

		/* the wire shape of a flow output */
		g_assert_cmpstr(json_object_get_string_member(ai, "source"), ==, "bot");
		g_assert_true(data == NULL || json_object_get_size(data) == 0);
		g_assert_cmpstr(pal_received_request_get_header(first, "Palaver-Turn-Index"), ==, "0");
		g_assert_cmpstr(pal_received_request_get_header(g_ptr_array_index(got, 1), "Palaver-Turn-Index"), ==, "1");
		assert_quick_replies(g_ptr_array_index(got, 1), titles, payloads);
	}
	/* an answer that matches no case asks again */
	TURN(&c, d, TOKEN_CHAT, "u1", "s1", "what?", "Pick one, friend");
	TURN(&c, d, TOKEN_CHAT, "u1", "s1", "Add", "A number?");
	/* invalid → reprompt, valid → set, script, say with typed templates */
	TURN(&c, d, TOKEN_CHAT, "u1", "s1", "seven", "Digits please, not seven.");
	post(d, TOKEN_CHAT, "u1", "s1", " 7 ");
	{
		const gchar *const texts[] = {"Total 14, half 3.5, tries 1.", "Pick one, friend", NULL};
		g_autoptr(GPtrArray) got = conv_expect(&c, "s1", texts);
		JsonObject *data = out_data(g_ptr_array_index(got, 0));
		JsonNode *total;

		g_assert_nonnull(data);
		/* exactly one {{ expr }} keeps the number; 14.0 is written as 14 */
		total = json_object_get_member(data, "total");
		g_assert_nonnull(total);
		g_assert_true(JSON_NODE_HOLDS_VALUE(total));
		g_assert_cmpint(json_node_get_value_type(total), ==, G_TYPE_INT64);
		g_assert_cmpint(json_node_get_int(total), ==, 14);
		g_assert_cmpstr(json_object_get_string_member(data, "label"), ==, "t=14");
		g_assert_cmpstr(json_object_get_string_member(data, "choice"), ==, "Add");
		assert_quick_replies(g_ptr_array_index(got, 1), titles, payloads);
	}
	/* the second round: retries exhausted → onFail */
	TURN(&c, d, TOKEN_CHAT, "u1", "s1", "double", "A number?");
	TURN(&c, d, TOKEN_CHAT, "u1", "s1", "x", "Digits please, not x.");
	TURN(&c, d, TOKEN_CHAT, "u1", "s1", "y", "Giving up after 1 tries.", "Pick one, friend");
	/* a second session of the same user starts at the beginning, with the default context */
	TURN(&c, d, TOKEN_CHAT, "u1", "s2", "hi", "Hello !", "Pick one, friend");
	conv_expect_end(&c);
	stop_daemon(d);
	conv_clear(&c);
}

/* ======================================================================================== */
/* 2. restart in the middle of a conversation */

#define TOKEN_FORM "form-token-0000000000001"

static const gchar *const form_flow =
    "{`name`:`form`,`start`:`begin`,`context`:{`visits`:0},`nodes`:{"
    " `begin`:{`type`:`set`,`values`:{`context.started`:`{{ input.text }}`,"
    "   `context.visits`:`{{ context.visits + 1 }}`},`next`:`askName`},"
    " `askName`:{`type`:`question`,`text`:`Your name?`,`store`:`context.name`,`next`:`askAge`},"
    " `askAge`:{`type`:`question`,`text`:`Your age, {{ context.name }}?`,`expect`:`number`,"
    "   `store`:`context.age`,`reprompt`:`A number, please.`,`retries`:3,`next`:`done`},"
    " `done`:{`type`:`say`,`text`:`{{ context.name }} is {{ context.age }}; "
    "started with {{ context.started }}, visit {{ context.visits }}.`,`next`:`bye`},"
    " `bye`:{`type`:`end`}"
    "}}";

static void
test_restart_mid_conversation(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *hook = pal_test_receiver_get_url(r, "/hook");
	Conv c;

	add_graph_endpoint(d, "form", TOKEN_FORM, "form.json", form_flow, NULL, hook, NULL);
	start_daemon(d);
	conv_init(&c, r);

	TURN(&c, d, TOKEN_FORM, "u", "s", "hello", "Your name?");
	/* a clean stop while the session waits at a question */
	stop_daemon(d);
	restart_daemon(d);
	TURN(&c, d, TOKEN_FORM, "u", "s", "Bob", "Your age, Bob?");
	TURN(&c, d, TOKEN_FORM, "u", "s", "old", "A number, please.");
	/* a crash after the turn was delivered */
	pal_test_daemon_kill9(d);
	restart_daemon(d);
	TURN(&c, d, TOKEN_FORM, "u", "s", "42", "Bob is 42; started with hello, visit 1.");
	/* the conversation ended: the next input starts over, with the context kept */
	pal_test_daemon_kill9(d);
	restart_daemon(d);
	TURN(&c, d, TOKEN_FORM, "u", "s", "again", "Your name?");
	TURN(&c, d, TOKEN_FORM, "u", "s", "Bea", "Your age, Bea?");
	TURN(&c, d, TOKEN_FORM, "u", "s", "7", "Bea is 7; started with again, visit 2.");
	conv_expect_end(&c);
	stop_daemon(d);
	conv_clear(&c);
}

/* ======================================================================================== */
/* 3. streaming: an output before a slow http node reaches the webhook before that node ends */

#define TOKEN_STREAM "stream-token-00000000001"

/* count → say → slow http → say; the counter shows that the session's state survives */
static gchar *
stream_flow(PalTestService *b)
{
	g_autofree gchar *slow = pal_test_service_get_url(b, "/slow");

	return g_strdup_printf(
	    "{`name`:`stream`,`start`:`count`,`context`:{`checks`:0},`nodes`:{"
	    " `count`:{`type`:`set`,`values`:{`context.checks`:`{{ context.checks + 1 }}`},`next`:`first`},"
	    " `first`:{`type`:`say`,`text`:`Let me check order {{ input.text }} (check {{ context.checks }})…`,"
	    "   `next`:`fetch`},"
	    " `fetch`:{`type`:`http`,`method`:`GET`,`url`:`%s?order={{ input.text }}`,`timeout`:8000,"
	    "   `store`:`context.info`,`next`:`second`,`onError`:`oops`},"
	    " `second`:{`type`:`say`,`text`:`Order {{ input.text }} is {{ context.info.status }} "
	    "({{ context.info.count }} items, first {{ context.info.items[1] }}).`,"
	    "   `data`:{`info`:`{{ context.info }}`}},"
	    " `oops`:{`type`:`say`,`text`:`The shop did not answer.`}"
	    "}}",
	    slow);
}

static void
test_streaming(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestService) b = backend_new();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *hook = pal_test_receiver_get_url(r, "/hook");
	g_autofree gchar *flow = stream_flow(b);
	gint64 posted, t_first, t_second, t_reply, t_arrival;
	Conv c;

	add_graph_endpoint(d, "stream", TOKEN_STREAM, "stream.json", flow, NULL, hook, NULL);
	start_daemon(d);
	conv_init(&c, r);

	posted = g_get_monotonic_time();
	post(d, TOKEN_STREAM, "u", "s", "12");
	/* the first output comes while the backend still holds the request */
	g_assert_true(pal_test_receiver_wait_count(r, 1, WAIT_MS));
	g_assert_cmpuint(pal_test_service_get_n_answered(b), ==, 0);
	{
		const gchar *const texts[] = {"Let me check order 12 (check 1)…", "Order 12 is shipped (14 items, first a).", NULL};
		g_autoptr(GPtrArray) got = conv_expect(&c, "s", texts);
		JsonObject *data = out_data(g_ptr_array_index(got, 1));
		JsonObject *info;

		t_first = pal_received_request_get_monotonic_time(g_ptr_array_index(got, 0));
		t_second = pal_received_request_get_monotonic_time(g_ptr_array_index(got, 1));
		/* the whole stored answer, typed */
		g_assert_nonnull(data);
		info = json_object_get_object_member(data, "info");
		g_assert_nonnull(info);
		g_assert_cmpstr(json_object_get_string_member(info, "status"), ==, "shipped");
		g_assert_cmpint(json_object_get_int_member(info, "count"), ==, 14);
		g_assert_cmpuint(json_array_get_length(json_object_get_array_member(info, "items")), ==, 2);
		/* both outputs of one turn */
		g_assert_cmpstr(pal_received_request_get_header(g_ptr_array_index(got, 0), "Palaver-Turn-Id"),
				==,
				pal_received_request_get_header(g_ptr_array_index(got, 1), "Palaver-Turn-Id"));
		g_assert_cmpstr(pal_received_request_get_header(g_ptr_array_index(got, 0), "Palaver-Turn-Index"), ==, "0");
		g_assert_cmpstr(pal_received_request_get_header(g_ptr_array_index(got, 1), "Palaver-Turn-Index"), ==, "1");
	}
	g_assert_cmpuint(pal_test_service_get_n_requests(b), ==, 1);
	assert_backend_request(b, 0, "GET", "/slow");
	t_reply = pal_test_service_get_last_answered(b);
	t_arrival = pal_test_service_get_request(b, 0)->arrival;
	note("first output after %" G_GINT64_FORMAT " ms, backend answered after %" G_GINT64_FORMAT
		       " ms, second output after %" G_GINT64_FORMAT " ms",
		       (t_first - posted) / 1000,
		       (t_reply - posted) / 1000,
		       (t_second - posted) / 1000);
	g_assert_cmpint(t_reply - t_arrival, >=, 1400 * 1000);
	g_assert_cmpint(t_first, <, t_reply);
	g_assert_cmpint(t_second, >=, t_reply);

	/* the session goes on, with its state */
	TURN(&c, d, TOKEN_STREAM, "u", "s", "13", "Let me check order 13 (check 2)…", "Order 13 is shipped (14 items, first a).");
	conv_expect_end(&c);
	stop_daemon(d);
	conv_clear(&c);
}

/* a crash while the slow step runs, after the first output was delivered: the turn runs again
 * at the next start, the first output is not sent as a new one, the second one comes */
static void
test_streaming_crash(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestService) b = backend_new();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *hook = pal_test_receiver_get_url(r, "/hook");
	g_autofree gchar *flow = stream_flow(b);
	Conv c;

	add_graph_endpoint(d, "stream", TOKEN_STREAM, "stream.json", flow, NULL, hook, NULL);
	start_daemon(d);
	conv_init(&c, r);

	TURN(&c, d, TOKEN_STREAM, "u", "s", "12", "Let me check order 12 (check 1)…");
	g_assert_cmpuint(pal_test_service_get_n_answered(b), ==, 0);
	pal_test_daemon_kill9(d);
	restart_daemon(d);
	/* the replayed turn: the same first output (same webhook-id) is not a new output */
	EXPECT(&c, "s", "Order 12 is shipped (14 items, first a).");
	TURN(&c, d, TOKEN_STREAM, "u", "s", "13", "Let me check order 13 (check 2)…", "Order 13 is shipped (14 items, first a).");
	conv_expect_end(&c);
	stop_daemon(d);
	conv_clear(&c);
}

/* ======================================================================================== */
/* 4. http node errors take the onError path; the session goes on */

#define TOKEN_HTTP "http-token-0000000000001"

static void
test_http_errors(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestService) b = backend_new();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *hook = pal_test_receiver_get_url(r, "/hook");
	g_autofree gchar *log = log_to_file(d);
	g_autofree gchar *refused = g_strdup_printf("http://127.0.0.1:%u/x", pal_test_closed_port());
	g_autofree gchar *fail = pal_test_service_get_url(b, "/fail");
	g_autofree gchar *slow = pal_test_service_get_url(b, "/slow");
	g_autofree gchar *ok = pal_test_service_get_url(b, "/ok");
	g_autofree gchar *flow = g_strdup_printf(
	    "{`name`:`calls`,`start`:`route`,`context`:{`errors`:0},`nodes`:{"
	    " `route`:{`type`:`switch`,`value`:`{{ input.text }}`,"
	    "   `cases`:{`refused`:`callRefused`,`fail`:`callFail`,`slow`:`callSlow`,`ok`:`callOk`},"
	    "   `default`:`echo`},"
	    " `callRefused`:{`type`:`http`,`url`:`%s`,`timeout`:5000,`store`:`context.r`,`next`:`got`,`onError`:`oops`},"
	    " `callFail`:{`type`:`http`,`url`:`%s`,`timeout`:5000,`store`:`context.r`,`next`:`got`,`onError`:`oops`},"
	    " `callSlow`:{`type`:`http`,`url`:`%s`,`timeout`:300,`store`:`context.r`,`next`:`got`,`onError`:`oops`},"
	    " `callOk`:{`type`:`http`,`method`:`POST`,`url`:`%s`,`headers`:{`X-Order`:`{{ input.userId }}`},"
	    "   `body`:{`q`:`{{ input.text }}`,`errors`:`{{ context.errors }}`},"
	    "   `timeout`:5000,`store`:`context.r`,`next`:`got`,`onError`:`oops`},"
	    " `got`:{`type`:`say`,`text`:`Got {{ context.r.status }} {{ context.r.n }}.`},"
	    " `oops`:{`type`:`set`,`values`:{`context.errors`:`{{ context.errors + 1 }}`},`next`:`sorry`},"
	    " `sorry`:{`type`:`say`,`text`:`Error path for {{ input.text }} ({{ context.errors }}), "
	    "stored {{ context.r }}.`},"
	    " `echo`:{`type`:`say`,`text`:`Echo {{ input.text }}.`}"
	    "}}",
	    refused,
	    fail,
	    slow,
	    ok);
	gint64 before;
	Conv c;

	add_graph_endpoint(d, "calls", TOKEN_HTTP, "calls.json", flow, NULL, hook, NULL);
	start_daemon(d);
	conv_init(&c, r);

	TURN(&c, d, TOKEN_HTTP, "u", "s", "hello", "Echo hello.");
	TURN(&c, d, TOKEN_HTTP, "u", "s", "refused", "Error path for refused (1), stored .");
	TURN(&c, d, TOKEN_HTTP, "u", "s", "fail", "Error path for fail (2), stored .");
	before = g_get_monotonic_time();
	TURN(&c, d, TOKEN_HTTP, "u", "s", "slow", "Error path for slow (3), stored .");
	/* the node's timeout, not the server's delay */
	g_assert_cmpint(g_get_monotonic_time() - before, <, 1400 * 1000);
	TURN(&c, d, TOKEN_HTTP, "u", "s", "ok", "Got fine 3.");
	TURN(&c, d, TOKEN_HTTP, "u", "s", "bye", "Echo bye.");
	conv_expect_end(&c);

	g_assert_cmpuint(pal_test_service_get_n_requests(b), ==, 3);
	assert_backend_request(b, 0, "GET", "/fail");
	assert_backend_request(b, 1, "GET", "/slow");
	assert_backend_request(b, 2, "POST", "/ok");
	{
		JsonObject *o = pal_test_service_request_get_object(pal_test_service_get_request(b, 2));
		g_assert_nonnull(o);
		g_assert_cmpstr(json_object_get_string_member(o, "q"), ==, "ok");
		g_assert_cmpint(json_object_get_int_member(o, "errors"), ==, 3);
	}
	/* the failures are logged, one line each */
	g_assert_true(wait_log(log, "HTTP status 500", 2000));
	stop_daemon(d);
	conv_clear(&c);
}

/* ======================================================================================== */
/* 5. a broken flow refuses only its endpoint */

#define TOKEN_GOOD   "good-token-0000000000001"
#define TOKEN_BROKEN "broken-token-00000000001"

static const gchar *const broken_flow =
    "{`name`:`broken`,`start`:`greet`,`nodes`:{"
    " `greet`:{`type`:`say`,`text`:`Hi`,`next`:`nowhere`},"
    " `weird`:{`type`:`dance`,`next`:`greet`},"
    " `calc`:{`type`:`script`,`code`:`local x = = 1`,`next`:`greet`}"
    "}}";

static const gchar *const good_flow =
    "{`name`:`good`,`start`:`greet`,`nodes`:{"
    " `greet`:{`type`:`say`,`text`:`Hi {{ input.text }}`}"
    "}}";

static void
test_broken_flow(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *hook = pal_test_receiver_get_url(r, "/hook");
	g_autofree gchar *conf = NULL;
	g_autofree gchar *url = NULL;
	g_autofree gchar *body = message_body("u", "s", "x", NULL);
	g_autofree gchar *answer = NULL;
	g_autoptr(GError) error = NULL;
	guint status = 0;
	Conv c;

	add_graph_endpoint(d, "broken", TOKEN_BROKEN, "broken.json", broken_flow, NULL, hook, NULL);
	add_graph_endpoint(d, "good", TOKEN_GOOD, "good.json", good_flow, NULL, hook, NULL);
	start_daemon(d);
	conv_init(&c, r);

	TURN(&c, d, TOKEN_GOOD, "u", "s", "there", "Hi there");
	/* the broken endpoint is not served: its token is unknown */
	url = pal_test_daemon_get_url(d, TOKEN_BROKEN);
	g_assert_true(pal_test_http_post(url, "application/json", body, strlen(body), NULL, &status, &answer, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(status, ==, 404);
	g_assert_nonnull(strstr(answer, "unknown_endpoint"));
	TURN(&c, d, TOKEN_GOOD, "u", "s", "again", "Hi again");
	conv_expect_end(&c);
	stop_daemon(d);
	conv_clear(&c);

	/* --check-config reports all three problems with their JSON paths, and fails */
	conf = g_build_filename(pal_test_daemon_get_dir(d), "palaver.conf", NULL);
	{
		const gchar *argv[] = {g_getenv("PALAVERD"), "--config", conf, "--plugin-dir", g_getenv("PALAVER_BUILD_PLUGINDIR"),
				       "--no-plugin-permission-check", "--check-config", NULL};
		g_autoptr(GSubprocess) p = g_subprocess_newv(argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
		g_autofree gchar *out = NULL;
		g_autofree gchar *err = NULL;

		g_assert_no_error(error);
		g_assert_true(g_subprocess_communicate_utf8(p, NULL, NULL, &out, &err, &error));
		g_assert_no_error(error);
		g_printerr("%s", err);
		g_assert_cmpint(g_subprocess_get_exit_status(p), ==, 1);
		g_assert_nonnull(strstr(out, "1 endpoint(s) loaded, 1 refused"));
		g_assert_nonnull(strstr(err, "broken.json"));
		g_assert_nonnull(strstr(err, "nodes.greet.next: no node named \"nowhere\""));
		g_assert_nonnull(strstr(err, "nodes.weird.type: unknown node type \"dance\""));
		g_assert_nonnull(strstr(err, "nodes.calc.code: "));
		g_assert_null(strstr(err, "good.json: "));
	}
}

/* ======================================================================================== */
/* 6. the contact profile is shared by the sessions of one user */

#define TOKEN_PROFILE "profile-token-0000000001"

static const gchar *const profile_flow =
    "{`name`:`profile`,`start`:`check`,`nodes`:{"
    " `check`:{`type`:`if`,`condition`:`profile.name ~= nil`,`then`:`back`,`else`:`ask`},"
    " `back`:{`type`:`say`,`text`:`Welcome back, {{ profile.name }}!`},"
    " `ask`:{`type`:`question`,`text`:`What is your name?`,`store`:`context.name`,`next`:`remember`},"
    " `remember`:{`type`:`script`,`code`:`profile.name = context.name`,`next`:`greet`},"
    " `greet`:{`type`:`say`,`text`:`Nice to meet you, {{ profile.name }}.`}"
    "}}";

static void
test_profile(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *hook = pal_test_receiver_get_url(r, "/hook");
	Conv c;

	add_graph_endpoint(d, "profile", TOKEN_PROFILE, "profile.json", profile_flow, NULL, hook, NULL);
	start_daemon(d);
	conv_init(&c, r);

	TURN(&c, d, TOKEN_PROFILE, "u1", "a", "hi", "What is your name?");
	TURN(&c, d, TOKEN_PROFILE, "u1", "a", "Ada", "Nice to meet you, Ada.");
	/* another session of the same user */
	TURN(&c, d, TOKEN_PROFILE, "u1", "b", "hi", "Welcome back, Ada!");
	/* another user */
	TURN(&c, d, TOKEN_PROFILE, "u2", "c", "hi", "What is your name?");
	/* after a restart */
	stop_daemon(d);
	restart_daemon(d);
	TURN(&c, d, TOKEN_PROFILE, "u1", "d", "hi", "Welcome back, Ada!");
	TURN(&c, d, TOKEN_PROFILE, "u2", "c", "Bob", "Nice to meet you, Bob.");
	TURN(&c, d, TOKEN_PROFILE, "u2", "e", "hi", "Welcome back, Bob!");
	TURN(&c, d, TOKEN_PROFILE, "u1", "a", "hi", "Welcome back, Ada!");
	conv_expect_end(&c);
	stop_daemon(d);
	conv_clear(&c);
}

/* two sessions of one user, both running: what one stores in the profile, the other's next
 * turn sees (and does not overwrite with an older copy) */
static void
test_profile_live_sessions(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *hook = pal_test_receiver_get_url(r, "/hook");
	Conv c;

	add_graph_endpoint(d, "profile", TOKEN_PROFILE, "profile.json", profile_flow, NULL, hook, NULL);
	start_daemon(d);
	conv_init(&c, r);

	TURN(&c, d, TOKEN_PROFILE, "u3", "x", "hi", "What is your name?");
	TURN(&c, d, TOKEN_PROFILE, "u3", "y", "hi", "What is your name?");
	TURN(&c, d, TOKEN_PROFILE, "u3", "x", "Ada", "Nice to meet you, Ada.");
	TURN(&c, d, TOKEN_PROFILE, "u3", "y", "Bea", "Nice to meet you, Bea.");
	/* the user's profile now says Bea, for every session */
	TURN(&c, d, TOKEN_PROFILE, "u3", "z", "hi", "Welcome back, Bea!");
	TURN(&c, d, TOKEN_PROFILE, "u3", "x", "hi", "Welcome back, Bea!");
	conv_expect_end(&c);
	stop_daemon(d);
	conv_clear(&c);
}

/* ======================================================================================== */
/* 7. session retention (stateTtlDays) and inactivity */

#define TOKEN_TTL  "ttl-token-00000000000001"
#define TOKEN_IDLE "idle-token-0000000000001"

static const gchar *const visit_flow =
    "{`name`:`visits`,`start`:`count`,`context`:{`visits`:0},`nodes`:{"
    " `count`:{`type`:`set`,`values`:{`context.visits`:`{{ context.visits + 1 }}`},`next`:`ask`},"
    " `ask`:{`type`:`question`,`text`:`Your name? (visit {{ context.visits }}{{ context.name and (', was ' .. context.name) or '' }})`,"
    "   `store`:`context.name`,`next`:`thanks`},"
    " `thanks`:{`type`:`say`,`text`:`Thanks {{ context.name }}, visit {{ context.visits }}.`}"
    "}}";

static gchar *
age_sql(const gchar *endpoint, const gchar *session, gint64 seconds)
{
	return g_strdup_printf("UPDATE sessions SET updated_at = updated_at - %" G_GINT64_FORMAT
			       " WHERE endpoint = '%s' AND session_id = '%s'",
			       seconds * G_USEC_PER_SEC,
			       endpoint,
			       session);
}

static gint64
count_session(const gchar *db, const gchar *endpoint, const gchar *session)
{
	/* sessions that hold state: an expired one keeps only its sequence counter */
	g_autofree gchar *sql = g_strdup_printf("SELECT COUNT(*) FROM sessions WHERE endpoint = '%s' AND session_id = '%s' "
						"AND (context IS NOT NULL OR entrypoint IS NOT NULL)",
						endpoint,
						session);
	return db_int(db, sql);
}

static void
test_retention(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *hook = pal_test_receiver_get_url(r, "/hook");
	g_autofree gchar *db = store_path(d);
	guint64 old_seq, new_seq;
	gint64 deadline;
	Conv c;

	add_graph_endpoint(d, "ttl", TOKEN_TTL, "visits.json", visit_flow, NULL, hook, ",\"session\":{\"stateTtlDays\":1}");
	add_graph_endpoint(d, "idle", TOKEN_IDLE, "visits.json", visit_flow, NULL, hook,
			   ",\"session\":{\"inactivityMinutes\":1}");
	start_daemon(d);
	conv_init(&c, r);

	/* ttl: "old" will be 2 days old, "young" 12 hours */
	TURN(&c, d, TOKEN_TTL, "u", "old", "hi", "Your name? (visit 1)");
	TURN(&c, d, TOKEN_TTL, "u", "young", "hi", "Your name? (visit 1)");
	/* inactivity: "idle" will be idle for 2 minutes, "busy" for 30 s */
	TURN(&c, d, TOKEN_IDLE, "u", "idle", "hi", "Your name? (visit 1)");
	TURN(&c, d, TOKEN_IDLE, "u", "idle", "Ada", "Thanks Ada, visit 1.");
	TURN(&c, d, TOKEN_IDLE, "u", "idle", "hi", "Your name? (visit 2, was Ada)");
	TURN(&c, d, TOKEN_IDLE, "u", "busy", "hi", "Your name? (visit 1)");
	stop_daemon(d);

	{
		g_autofree gchar *a = age_sql("ttl", "old", 2 * 86400);
		g_autofree gchar *b = age_sql("ttl", "young", 12 * 3600);
		g_autofree gchar *e = age_sql("idle", "idle", 120);
		g_autofree gchar *f = age_sql("idle", "busy", 30);
		db_exec(db, a);
		db_exec(db, b);
		db_exec(db, e);
		db_exec(db, f);
	}
	g_assert_cmpint(count_session(db, "ttl", "old"), ==, 1);
	restart_daemon(d);

	/* the retention run at start deletes the expired session, and only that one */
	deadline = g_get_monotonic_time() + WAIT_MS * 1000;
	while (count_session(db, "ttl", "old") != 0 && g_get_monotonic_time() < deadline)
		g_usleep(50 * 1000);
	g_assert_cmpint(count_session(db, "ttl", "old"), ==, 0);
	g_assert_cmpint(count_session(db, "ttl", "young"), ==, 1);
	g_assert_cmpint(count_session(db, "idle", "idle"), ==, 1);
	g_assert_cmpint(count_session(db, "idle", "busy"), ==, 1);

	/* expired: the answer is a new input at start, with the default context (the sequence is
	 * checked at the end) */
	old_seq = conv_forget(&c, "u", "old");
	TURN(&c, d, TOKEN_TTL, "u", "old", "Ada", "Your name? (visit 1)");
	new_seq = conv_last_seq(&c, "u", "old");
	TURN(&c, d, TOKEN_TTL, "u", "young", "Bea", "Thanks Bea, visit 1.");
	TURN(&c, d, TOKEN_IDLE, "u", "idle", "Cid", "Your name? (visit 1)");
	TURN(&c, d, TOKEN_IDLE, "u", "busy", "Dee", "Thanks Dee, visit 1.");
	/* and they go on from there */
	TURN(&c, d, TOKEN_TTL, "u", "old", "Eve", "Thanks Eve, visit 1.");
	TURN(&c, d, TOKEN_IDLE, "u", "idle", "Fay", "Thanks Fay, visit 1.");
	conv_expect_end(&c);
	stop_daemon(d);
	g_assert_cmpint(count_session(db, "ttl", "old"), ==, 1);
	/* Palaver-Session-Seq is strictly increasing per session (DESIGN.md §1.3, README
	 * "Order per session"), also when the session's state expired: a receiver that orders
	 * or drops by sequence must not see the counter start again at 1 */
	note("session \"old\": last sequence before expiry %" G_GUINT64_FORMAT ", first after %" G_GUINT64_FORMAT,
		       old_seq,
		       new_seq);
	g_assert_cmpuint(new_seq, >, old_seq);
	conv_clear(&c);
}

/* ======================================================================================== */
/* 8. the demo bot */

#define TOKEN_DEMO "demo-token-0000000000001"
#define TOKEN_LIVE "live-token-0000000000001"

static gchar *
read_demo_flow(void)
{
	const gchar *root = g_getenv("PALAVER_SOURCE_ROOT");
	g_autofree gchar *path = NULL;
	gchar *contents = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_nonnull(root);
	path = g_build_filename(root, "data", "flows", "demo.json", NULL);
	g_file_get_contents(path, &contents, NULL, &error);
	g_assert_no_error(error);
	return contents;
}

static gchar *
replace(const gchar *text, const gchar *old, const gchar *new)
{
	g_auto(GStrv) parts = g_strsplit(text, old, -1);

	g_assert_cmpuint(g_strv_length(parts), ==, 2);
	return g_strjoinv(new, parts);
}

static gboolean
port_open(guint port)
{
	g_autoptr(GSocketClient) client = g_socket_client_new();
	g_autoptr(GSocketConnection) conn = NULL;

	g_socket_client_set_timeout(client, 2);
	conn = g_socket_client_connect_to_host(client, "127.0.0.1", (guint16)port, NULL, NULL);
	return conn != NULL;
}

static void
test_demo(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *hook = pal_test_receiver_get_url(r, "/hook");
	g_autofree gchar *demo = read_demo_flow();
	g_autofree gchar *down = NULL;
	g_autofree gchar *live = NULL;
	g_autofree gchar *live_url = NULL;
	g_autofree gchar *ep = NULL;
	const gchar *const titles[] = {"Check an order", "Gateway status", "Talk to a person", "Bye", NULL};
	const gchar *const payloads[] = {"order_status", "status", "agent", "bye", NULL};
	guint status = 0;
	Conv c;

	g_assert_nonnull(strstr(demo, "\"http://127.0.0.1:8080/healthz\""));
	if (port_open(8080)) {
		/* something serves 127.0.0.1:8080 here (the demo?): use a port where nothing does */
		g_autofree gchar *url = g_strdup_printf("\"http://127.0.0.1:%u/healthz\"", pal_test_closed_port());
		note("127.0.0.1:8080 is in use; the error path calls %s instead", url);
		down = replace(demo, "\"http://127.0.0.1:8080/healthz\"", url);
	} else {
		down = g_strdup(demo);
	}
	pal_test_daemon_write_file(d, "endpoints.d/flows/demo.json", down);
	ep = g_strdup_printf("{\"name\":\"demo\",\"URLToken\":\"" TOKEN_DEMO "\","
			     "\"flow\":{\"type\":\"graph\",\"file\":\"flows/demo.json\"},"
			     "\"webhook\":{\"url\":\"%s\"}}",
			     hook);
	pal_test_daemon_add_endpoint(d, "demo.json", ep);
	start_daemon(d);
	conv_init(&c, r);

	post(d, TOKEN_DEMO, "u", "s", "hello");
	{
		const gchar *const texts[] = {"Hi, I am the Palaver demo bot.", "What would you like to do?", NULL};
		g_autoptr(GPtrArray) got = conv_expect(&c, "s", texts);
		assert_quick_replies(g_ptr_array_index(got, 1), titles, payloads);
	}
	TURN(&c, d, TOKEN_DEMO, "u", "s", "order_status", "What is your order number?");
	TURN(&c, d, TOKEN_DEMO, "u", "s", "abc", "Order numbers are digits only, like 12345. Please try again.");
	TURN(&c, d, TOKEN_DEMO, "u", "s", "12345", "Order 12345 arrives in 1 day(s). You have asked about 1 order(s) so far.", "What would you like to do?");
	TURN(&c, d, TOKEN_DEMO, "u", "s", "status", "I could not reach the status page right now; please try again later.", "What would you like to do?");
	TURN(&c, d, TOKEN_DEMO, "u", "s", "Order", "What is your order number?");
	TURN(&c, d, TOKEN_DEMO, "u", "s", "7", "Order 7 arrives in 3 day(s). You have asked about 2 order(s) so far.", "What would you like to do?");

	/* the same bot with its status URL pointing at this palaverd, added by a reload */
	live_url = g_strdup_printf("\"%shealthz\"", pal_test_daemon_get_base_url(d));
	live = replace(demo, "\"http://127.0.0.1:8080/healthz\"", live_url);
	{
		gchar *named = replace(live, "\"name\": \"demo\"", "\"name\": \"demo-live\"");
		g_free(live);
		live = named;
	}
	pal_test_daemon_write_file(d, "endpoints.d/flows/demo-live.json", live);
	g_free(ep);
	ep = g_strdup_printf("{\"name\":\"live\",\"URLToken\":\"" TOKEN_LIVE "\","
			     "\"flow\":{\"type\":\"graph\",\"file\":\"flows/demo-live.json\"},"
			     "\"webhook\":{\"url\":\"%s\"}}",
			     hook);
	pal_test_daemon_add_endpoint(d, "live.json", ep);
	pal_test_daemon_signal(d, SIGHUP);
	for (guint i = 0; i < 100; i++) {
		status = post_status(d, TOKEN_LIVE, "u", "l", "hello");
		if (status == 202)
			break;
		g_assert_cmpuint(status, ==, 404);
		g_usleep(100 * 1000);
	}
	g_assert_cmpuint(status, ==, 202);
	EXPECT(&c, "l", "Hi, I am the Palaver demo bot.", "What would you like to do?");
	TURN(&c, d, TOKEN_LIVE, "u", "l", "Status", "The gateway says its status is \"ok\".", "What would you like to do?");
	post(d, TOKEN_LIVE, "u", "l", "agent");
	{
		const gchar *const texts[] = {"Connecting you to a person…", "", NULL};
		g_autoptr(GPtrArray) got = conv_expect(&c, "l", texts);
		JsonObject *ai = ai_output(g_ptr_array_index(got, 1));
		JsonObject *event = json_object_get_object_member(out_data(g_ptr_array_index(got, 1)), "event");

		g_assert_cmpstr(json_object_get_string_member(ai, "source"), ==, "system");
		g_assert_nonnull(event);
		g_assert_cmpstr(json_object_get_string_member(event, "type"), ==, "handover-requested");
		g_assert_cmpstr(json_object_get_string_member(event, "provider"), ==, "desk");
	}
	/* no handover plugin: the next input resumes at the menu */
	TURN(&c, d, TOKEN_LIVE, "u", "l", "I am back", "What would you like to do?");
	TURN(&c, d, TOKEN_LIVE, "u", "l", "bye", "Goodbye! Write again any time.");
	/* the conversation ended; the next one is counted */
	TURN(&c, d, TOKEN_LIVE, "u", "l", "hello again", "Welcome back! This is conversation number 2.", "What would you like to do?");
	/* the first endpoint's session was not disturbed by the reload */
	TURN(&c, d, TOKEN_DEMO, "u", "s", "what", "Sorry, I did not get \"what\". Please pick one of the options.", "What would you like to do?");
	conv_expect_end(&c);
	stop_daemon(d);
	conv_clear(&c);
}

/* ======================================================================================== */
/* 9. the step limit stops a runaway turn; the session goes on */

#define TOKEN_LOOP "loop-token-0000000000001"

static const gchar *const loop_flow =
    "{`name`:`loopy`,`start`:`route`,`nodes`:{"
    " `route`:{`type`:`switch`,`value`:`{{ input.text }}`,`cases`:{`loop`:`before`},`default`:`echo`},"
    " `before`:{`type`:`say`,`text`:`Going round.`,`next`:`spin`},"
    " `spin`:{`type`:`goto`,`target`:`spin2`},"
    " `spin2`:{`type`:`goto`,`target`:`spin`},"
    " `echo`:{`type`:`say`,`text`:`You said {{ input.text }}.`}"
    "}}";

static void
test_step_limit(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *hook = pal_test_receiver_get_url(r, "/hook");
	g_autofree gchar *log = log_to_file(d);
	Conv c;

	add_graph_endpoint(d, "loopy", TOKEN_LOOP, "loop.json", loop_flow, ",\"stepLimit\":50", hook, NULL);
	/* the same flow with the default limit (200) */
	add_graph_endpoint(d, "loopy2", "loop-token-0000000000002", "loop.json", loop_flow, NULL, hook, NULL);
	start_daemon(d);
	conv_init(&c, r);

	TURN(&c, d, TOKEN_LOOP, "u", "s", "hello", "You said hello.");
	TURN(&c, d, TOKEN_LOOP, "u", "s", "loop", "Going round.");
	if (!wait_log(log, "step limit of 50", WAIT_MS))
		dump_log(log);
	g_assert_true(wait_log(log, "step limit of 50", 1));
	TURN(&c, d, TOKEN_LOOP, "u", "s", "again", "You said again.");
	TURN(&c, d, TOKEN_LOOP, "u", "s", "loop", "Going round.");
	TURN(&c, d, TOKEN_LOOP, "u", "s", "still there?", "You said still there?.");

	post(d, "loop-token-0000000000002", "u", "t", "loop");
	EXPECT(&c, "t", "Going round.");
	g_assert_true(wait_log(log, "step limit of 200", WAIT_MS));
	post(d, "loop-token-0000000000002", "u", "t", "ok");
	EXPECT(&c, "t", "You said ok.");
	conv_expect_end(&c);
	g_assert_true(pal_test_daemon_is_running(d));
	stop_daemon(d);
	conv_clear(&c);
}

/* each test in a child process of its own: a failing one does not stop the others, and
 * leaves no daemon behind (its children die with it) */
typedef struct {
	const gchar *path;
	GTestFunc func;
} TestCase;

static void
run_isolated(gconstpointer data)
{
	const TestCase *tc = data;

	if (g_test_subprocess()) {
		tc->func();
		return;
	}
	g_test_trap_subprocess(NULL, 150 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
	/* not g_test_trap_assert_passed(): that would stop the tests after this one */
	if (!g_test_trap_has_passed())
		g_test_fail_printf("%s failed in its child process (its standard error is above)", tc->path);
}

int
main(int argc, char **argv)
{
	static const TestCase tests[] = {
	    {"/palaver/flow-graph-e2e/conversation", test_conversation},
	    {"/palaver/flow-graph-e2e/restart-mid-conversation", test_restart_mid_conversation},
	    {"/palaver/flow-graph-e2e/streaming", test_streaming},
	    {"/palaver/flow-graph-e2e/streaming-crash", test_streaming_crash},
	    {"/palaver/flow-graph-e2e/http-errors", test_http_errors},
	    {"/palaver/flow-graph-e2e/broken-flow", test_broken_flow},
	    {"/palaver/flow-graph-e2e/profile", test_profile},
	    {"/palaver/flow-graph-e2e/profile-live-sessions", test_profile_live_sessions},
	    {"/palaver/flow-graph-e2e/retention", test_retention},
	    {"/palaver/flow-graph-e2e/demo", test_demo},
	    {"/palaver/flow-graph-e2e/step-limit", test_step_limit},
	};

	g_autofree gchar **args = g_new0(gchar *, argc + 2);
	gint n_args = 0;

	/* a failed test does not stop the ones after it */
	args[n_args++] = argv[0];
	args[n_args++] = (gchar *)"--keep-going";
	for (gint i = 1; i < argc; i++)
		args[n_args++] = argv[i];
	argv = args;
	argc = n_args;
	g_test_init(&argc, &argv, NULL);
	for (guint i = 0; i < G_N_ELEMENTS(tests); i++)
		g_test_add_data_func(tests[i].path, &tests[i], run_isolated);
	return g_test_run();
}
