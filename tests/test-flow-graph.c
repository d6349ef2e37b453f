/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The `graph` flow plugin turn by turn (FLOWS.md): every node type, template typing, question
 * retries, the step limit, the sandbox's errors, and flow validation. The plugin is used the
 * way the gateway uses it (PalExtension.setup, PalFlow.run with a PalTurn); http nodes talk
 * to a real HTTP server on loopback (PalTestService).
 */

#include "config.h"

#include <glib/gstdio.h>

#include "pal-graph-plugin.h"
#include "pal-test-util.h"

typedef struct {
	gchar *dir;
	PalEndpointInfo *info;
	PalFlow *flow;
	PalSession *session;
	GPtrArray *outputs; /* PalOutput* of the last turn */
	guint turn_no;
} Fixture;

static void
fixture_set_up(Fixture *f, gconstpointer data)
{
	f->dir = g_dir_make_tmp("pal-graph-XXXXXX", NULL);
	g_assert_nonnull(f->dir);
	f->info = pal_endpoint_info_new("ep", "en", f->dir, NULL, FALSE);
	f->session = pal_session_new("ep", "u1", "s1");
	f->outputs = g_ptr_array_new_with_free_func(g_object_unref);
}

static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
	pal_test_rm_rf(f->dir);
	g_free(f->dir);
	g_clear_object(&f->flow);
	g_object_unref(f->session);
	g_object_unref(f->info);
	g_ptr_array_unref(f->outputs);
}

/* writes @json as flow.json and sets the plugin up with it (and @extra options) */
static gboolean
load_flow(Fixture *f, const gchar *json, const gchar *extra_options, GError **error)
{
	g_autofree gchar *path = g_build_filename(f->dir, "flow.json", NULL);
	g_autofree gchar *options_json =
	    g_strdup_printf("{\"file\": \"flow.json\"%s%s}", extra_options != NULL ? ", " : "", extra_options != NULL ? extra_options : "");
	g_autoptr(JsonNode) options = pal_test_json_parse(options_json);
	g_autoptr(GObject) obj = g_object_new(PAL_TYPE_GRAPH_PLUGIN, NULL);

	g_assert_true(g_file_set_contents(path, json, -1, NULL));
	if (!pal_extension_setup(PAL_EXTENSION(obj), f->info, json_node_get_object(options), error))
		return FALSE;
	g_clear_object(&f->flow);
	f->flow = PAL_FLOW(g_steal_pointer(&obj));
	return TRUE;
}

static void
load_flow_ok(Fixture *f, const gchar *json)
{
	g_autoptr(GError) error = NULL;

	if (!load_flow(f, json, NULL, &error))
		g_error("the flow does not load: %s", error->message);
}

static void
emit_cb(PalTurn *turn, PalOutput *output, guint index, gpointer user_data)
{
	Fixture *f = user_data;

	g_ptr_array_add(f->outputs, g_object_ref(output));
}

typedef struct {
	gboolean done;
	gboolean ok;
	GError *error;
} TurnResult;

static void
turn_done_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	TurnResult *r = user_data;

	r->ok = pal_flow_run_finish(PAL_FLOW(source), res, &r->error);
	r->done = TRUE;
}

/* one turn: the outputs land in f->outputs; returns the flow's error, if any */
static GError *
run_turn_full(Fixture *f, const gchar *text, const gchar *data_json, const gchar *intent)
{
	g_autofree gchar *input_id = g_strdup_printf("in-%u", ++f->turn_no);
	g_autoptr(JsonNode) data = data_json != NULL ? pal_test_json_parse(data_json) : NULL;
	g_autoptr(PalMessage) msg = pal_message_new(PAL_MESSAGE_KIND_USER,
						    input_id,
						    pal_session_get_user_id(f->session),
						    pal_session_get_session_id(f->session),
						    text,
						    data != NULL ? json_node_get_object(data) : NULL,
						    NULL);
	g_autoptr(PalTurn) turn = NULL;
	TurnResult r = {FALSE, FALSE, NULL};
	gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;

	if (intent != NULL) {
		g_autoptr(PalNluResult) nlu = pal_nlu_result_new(intent, 0.9);
		pal_message_set_nlu_result(msg, nlu);
	}
	g_ptr_array_set_size(f->outputs, 0);
	turn = pal_turn_new(f->info, f->session, msg, emit_cb, f, NULL);
	pal_flow_run_async(f->flow, turn, NULL, turn_done_cb, &r);
	while (!r.done && g_get_monotonic_time() < deadline)
		g_main_context_iteration(NULL, TRUE);
	g_assert_true(r.done);
	pal_session_add_turn(f->session);
	g_assert_true(r.ok == (r.error == NULL));
	return r.error;
}

static void
run_turn(Fixture *f, const gchar *text)
{
	g_autoptr(GError) error = run_turn_full(f, text, NULL, NULL);

	g_assert_no_error(error);
}

static const gchar *
out_text(Fixture *f, guint i)
{
	g_assert_cmpuint(i, <, f->outputs->len);
	return pal_output_get_text(g_ptr_array_index(f->outputs, i));
}

static gchar *
context_json(Fixture *f)
{
	g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);

	json_node_set_object(node, pal_session_get_context(f->session));
	return json_to_string(node, FALSE);
}

/* ---- say, templates, typing ---- */

static void
test_say_templates(Fixture *f, gconstpointer data)
{
	g_autofree gchar *ctx = NULL;
	PalOutput *out;
	JsonObject *d;

	load_flow_ok(f,
		     "{\"start\": \"a\", \"context\": {\"n\": 14, \"price\": 2.5, \"name\": \"Ann\"},"
		     " \"nodes\": {"
		     "  \"a\": {\"type\": \"say\", \"text\": \"n={{ context.n }} half={{ context.n / 2 }} "
		     "price={{ context.price }} none=[{{ context.missing }}] ok={{ context.n > 3 }}\", \"next\": \"b\"},"
		     "  \"b\": {\"type\": \"say\", \"text\": \"Hi {{ context.name }}\","
		     "         \"data\": {\"count\": \"{{ context.n + 1 }}\", \"flag\": \"{{ context.n > 100 }}\","
		     "                  \"label\": \"#{{ context.n }}\", \"list\": [\"{{ context.name }}\", 3],"
		     "                  \"obj\": \"{{ {a = 1} }}\", \"plain\": {\"x\": true}}}"
		     "}}");
	run_turn(f, "hi");
	g_assert_cmpuint(f->outputs->len, ==, 2);
	/* 14 / 2 is 7.0 in Lua: rendered without a decimal point */
	g_assert_cmpstr(out_text(f, 0), ==, "n=14 half=7 price=2.5 none=[] ok=true");
	g_assert_cmpstr(out_text(f, 1), ==, "Hi Ann");
	out = g_ptr_array_index(f->outputs, 1);
	d = pal_output_get_data(out);
	/* a string that is exactly one expression keeps its type */
	g_assert_cmpint(json_object_get_int_member(d, "count"), ==, 15);
	g_assert_false(json_object_get_boolean_member(d, "flag"));
	g_assert_cmpstr(json_object_get_string_member(d, "label"), ==, "#14");
	g_assert_cmpstr(json_array_get_string_element(json_object_get_array_member(d, "list"), 0), ==, "Ann");
	g_assert_cmpint(json_array_get_int_element(json_object_get_array_member(d, "list"), 1), ==, 3);
	g_assert_cmpint(json_object_get_int_member(json_object_get_object_member(d, "obj"), "a"), ==, 1);
	g_assert_true(json_object_get_boolean_member(json_object_get_object_member(d, "plain"), "x"));
	/* the path ended: the next input starts at start; the default context is kept */
	g_assert_null(pal_session_get_entrypoint(f->session));
	ctx = context_json(f);
	g_assert_nonnull(strstr(ctx, "\"n\":14"));
}

static void
test_quick_replies(Fixture *f, gconstpointer data)
{
	JsonObject *qr;
	JsonArray *replies;

	load_flow_ok(f,
		     "{\"start\": \"q\", \"nodes\": {"
		     " \"q\": {\"type\": \"question\", \"text\": \"Pick\","
		     "        \"quickReplies\": [\"Order status\", {\"title\": \"Agent\", \"payload\": \"agent\"}]}}}");
	run_turn(f, "hi");
	g_assert_cmpuint(f->outputs->len, ==, 1);
	qr = json_object_get_object_member(
	    json_object_get_object_member(
		json_object_get_object_member(pal_output_get_data(g_ptr_array_index(f->outputs, 0)), "_cognigy"),
		"_default"),
	    "_quickReplies");
	g_assert_cmpstr(json_object_get_string_member(qr, "type"), ==, "quick_replies");
	g_assert_cmpstr(json_object_get_string_member(qr, "text"), ==, "Pick");
	replies = json_object_get_array_member(qr, "quickReplies");
	g_assert_cmpuint(json_array_get_length(replies), ==, 2);
	g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(replies, 0), "title"), ==, "Order status");
	g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(replies, 0), "payload"), ==, "Order status");
	g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(replies, 0), "contentType"), ==, "postback");
	g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(replies, 1), "payload"), ==, "agent");
	g_assert_cmpint(json_object_get_int_member(json_array_get_object_element(replies, 1), "id"), ==, 2);
}

/* ---- questions ---- */

static const gchar *question_flow =
    "{\"start\": \"ask\", \"nodes\": {"
    " \"ask\": {\"type\": \"question\", \"text\": \"Order number?\", \"expect\": \"number\","
    "          \"store\": \"context.order\", \"reprompt\": \"Digits only ({{ input.text }}?)\","
    "          \"retries\": 2, \"next\": \"ok\", \"onFail\": \"fail\"},"
    " \"ok\": {\"type\": \"say\", \"text\": \"Got {{ context.order }} ({{ math.type(context.order) }})\"},"
    " \"fail\": {\"type\": \"say\", \"text\": \"Giving up\"}}}";

static void
test_question_retries(Fixture *f, gconstpointer data)
{
	load_flow_ok(f, question_flow);
	run_turn(f, "hello");
	g_assert_cmpuint(f->outputs->len, ==, 1);
	g_assert_cmpstr(out_text(f, 0), ==, "Order number?");
	run_turn(f, "abc");
	g_assert_cmpuint(f->outputs->len, ==, 1);
	g_assert_cmpstr(out_text(f, 0), ==, "Digits only (abc?)");
	run_turn(f, " 12345 ");
	g_assert_cmpuint(f->outputs->len, ==, 1);
	g_assert_cmpstr(out_text(f, 0), ==, "Got 12345 (integer)");
	g_assert_null(pal_session_get_entrypoint(f->session));

	/* two reprompts, then the third invalid answer goes to onFail */
	run_turn(f, "again");
	run_turn(f, "x");
	g_assert_cmpstr(out_text(f, 0), ==, "Digits only (x?)");
	run_turn(f, "y");
	g_assert_cmpstr(out_text(f, 0), ==, "Digits only (y?)");
	run_turn(f, "z");
	g_assert_cmpuint(f->outputs->len, ==, 1);
	g_assert_cmpstr(out_text(f, 0), ==, "Giving up");
}

static void
test_question_expect(Fixture *f, gconstpointer data)
{
	g_autofree gchar *ctx = NULL;
	g_autoptr(GError) error = NULL;

	load_flow_ok(f,
		     "{\"start\": \"mail\", \"nodes\": {"
		     " \"mail\": {\"type\": \"question\", \"text\": \"Mail?\", \"expect\": \"email\", \"store\": \"context.mail\", \"retries\": 0, \"next\": \"yn\", \"onFail\": \"yn\"},"
		     " \"yn\": {\"type\": \"question\", \"text\": \"Sure?\", \"expect\": \"yesno\", \"store\": \"context.sure\", \"next\": \"zip\"},"
		     " \"zip\": {\"type\": \"question\", \"text\": \"Zip?\", \"expect\": \"regex:^[0-9]{5}$\", \"store\": \"profile.zip\", \"next\": \"d\"},"
		     " \"d\": {\"type\": \"question\", \"text\": \"Data?\", \"expect\": \"data\", \"store\": \"context.payload\", \"next\": \"i\"},"
		     " \"i\": {\"type\": \"question\", \"text\": \"Intent?\", \"expect\": \"intent:order\", \"store\": \"context.said\", \"next\": \"end\"},"
		     " \"end\": {\"type\": \"say\", \"text\": \"{{ context.mail }} {{ context.sure }} {{ profile.zip }} {{ context.payload.a }} {{ context.said }}\"}}}");
	run_turn(f, "start");
	g_assert_cmpstr(out_text(f, 0), ==, "Mail?");
	run_turn(f, "ann@example.org");
	g_assert_cmpstr(out_text(f, 0), ==, "Sure?");
	run_turn(f, "maybe");
	g_assert_cmpstr(out_text(f, 0), ==, "Sure?"); /* no reprompt text: the question again */
	run_turn(f, "Yes!");
	g_assert_cmpstr(out_text(f, 0), ==, "Zip?");
	run_turn(f, "1234");
	g_assert_cmpstr(out_text(f, 0), ==, "Zip?");
	run_turn(f, "12345");
	g_assert_cmpstr(out_text(f, 0), ==, "Data?");
	run_turn(f, "no data");
	g_assert_cmpstr(out_text(f, 0), ==, "Data?");
	error = run_turn_full(f, NULL, "{\"a\": 7}", NULL);
	g_assert_no_error(error);
	g_assert_cmpstr(out_text(f, 0), ==, "Intent?");
	error = run_turn_full(f, "where is my parcel", NULL, "order");
	g_assert_no_error(error);
	g_assert_cmpstr(out_text(f, 0), ==, "ann@example.org true 12345 7 where is my parcel");
	g_assert_cmpstr(json_object_get_string_member(pal_session_get_profile(f->session), "zip"), ==, "12345");
	ctx = context_json(f);
	g_assert_nonnull(strstr(ctx, "\"sure\":true"));
}

static void
test_email_fail_with_retries_zero(Fixture *f, gconstpointer data)
{
	load_flow_ok(f,
		     "{\"start\": \"mail\", \"nodes\": {"
		     " \"mail\": {\"type\": \"question\", \"text\": \"Mail?\", \"expect\": \"email\", \"retries\": 0, \"onFail\": \"bad\", \"next\": \"good\"},"
		     " \"good\": {\"type\": \"say\", \"text\": \"good\"},"
		     " \"bad\": {\"type\": \"say\", \"text\": \"bad\"}}}");
	run_turn(f, "x");
	run_turn(f, "not-an-address");
	g_assert_cmpuint(f->outputs->len, ==, 1);
	g_assert_cmpstr(out_text(f, 0), ==, "bad");
}

/* ---- branching, state, scripts ---- */

static void
test_switch_if_set_goto(Fixture *f, gconstpointer data)
{
	const gchar *flow =
	    "{\"start\": \"count\", \"context\": {\"tries\": 0},"
	    " \"nodes\": {"
	    "  \"count\": {\"type\": \"set\", \"values\": {\"context.tries\": \"{{ context.tries + 1 }}\","
	    "             \"context.deep.path\": \"x{{ context.tries }}\", \"profile.seen\": true}, \"next\": \"route\"},"
	    "  \"route\": {\"type\": \"switch\", \"value\": \"{{ input.intent or input.text }}\","
	    "             \"cases\": {\"a\": \"sayA\", \"2\": \"sayTwo\"}, \"default\": \"check\"},"
	    "  \"sayA\": {\"type\": \"say\", \"text\": \"A\"},"
	    "  \"sayTwo\": {\"type\": \"say\", \"text\": \"two\"},"
	    "  \"check\": {\"type\": \"if\", \"condition\": \"context.tries > 3\", \"then\": \"many\", \"else\": \"few\"},"
	    "  \"few\": {\"type\": \"say\", \"text\": \"few {{ context.tries }}\", \"next\": \"wait\"},"
	    "  \"wait\": {\"type\": \"goto\", \"target\": \"resume\", \"wait\": true},"
	    "  \"resume\": {\"type\": \"say\", \"text\": \"resumed\", \"next\": \"jump\"},"
	    "  \"jump\": {\"type\": \"goto\", \"target\": \"count\"},"
	    "  \"many\": {\"type\": \"say\", \"text\": \"many {{ context.deep.path }}\", \"next\": \"bye\"},"
	    "  \"bye\": {\"type\": \"end\", \"resetContext\": true}"
	    "}}";
	g_autoptr(GError) error = NULL;
	g_autofree gchar *ctx = NULL;

	load_flow_ok(f, flow);
	run_turn(f, "a");
	g_assert_cmpuint(f->outputs->len, ==, 1);
	g_assert_cmpstr(out_text(f, 0), ==, "A");
	/* the switch compares the rendered text, so a typed 2 matches the case "2" */
	error = run_turn_full(f, "zzz", NULL, NULL);
	g_assert_no_error(error);
	g_assert_cmpstr(out_text(f, 0), ==, "few 2");
	g_assert_cmpstr(pal_session_get_entrypoint(f->session), ==, "resume");
	/* goto with wait: this input starts at resume, which jumps (no wait) to count */
	run_turn(f, "2");
	g_assert_cmpuint(f->outputs->len, ==, 2);
	g_assert_cmpstr(out_text(f, 0), ==, "resumed");
	g_assert_cmpstr(out_text(f, 1), ==, "two");
	run_turn(f, "b");
	g_assert_cmpstr(out_text(f, 0), ==, "many x4");
	g_assert_true(json_object_get_boolean_member(pal_session_get_profile(f->session), "seen"));
	/* end with resetContext: back to the flow's context */
	ctx = context_json(f);
	g_assert_cmpstr(ctx, ==, "{\"tries\":0}");
	g_assert_null(pal_session_get_entrypoint(f->session));
}

static void
test_script(Fixture *f, gconstpointer data)
{
	g_autofree gchar *ctx = NULL;

	load_flow_ok(f,
		     "{\"start\": \"calc\", \"context\": {\"total\": 0}, \"nodes\": {"
		     " \"calc\": {\"type\": \"script\", \"code\": \"local s = input.data.a + input.data.b\\n"
		     "context.total = context.total + s\\napi.say('Total: ' .. s, {sum = s})\\n"
		     "api.set('profile.last', s)\\nprofile.note = json.encode({ok = true})\", \"next\": \"after\"},"
		     " \"after\": {\"type\": \"say\", \"text\": \"{{ context.total }}/{{ profile.last }}/{{ profile.note }}\"}}}");
	g_assert_no_error(run_turn_full(f, NULL, "{\"a\": 2, \"b\": 3}", NULL));
	g_assert_cmpuint(f->outputs->len, ==, 2);
	g_assert_cmpstr(out_text(f, 0), ==, "Total: 5");
	g_assert_cmpint(json_object_get_int_member(pal_output_get_data(g_ptr_array_index(f->outputs, 0)), "sum"), ==, 5);
	g_assert_cmpstr(out_text(f, 1), ==, "5/5/{\"ok\":true}");
	g_assert_no_error(run_turn_full(f, NULL, "{\"a\": 10, \"b\": 1}", NULL));
	ctx = context_json(f);
	g_assert_cmpstr(ctx, ==, "{\"total\":16}");
}

/* a runtime error names flow, node and line; the session starts over and keeps working */
static void
test_script_error(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	load_flow_ok(f,
		     "{\"name\": \"shop\", \"start\": \"hello\", \"nodes\": {"
		     " \"hello\": {\"type\": \"say\", \"text\": \"before\", \"next\": \"boom\"},"
		     " \"boom\": {\"type\": \"script\", \"code\": \"local x = 1\\nlocal y = nothing.field\"}}}");
	error = run_turn_full(f, "hi", NULL, NULL);
	g_assert_nonnull(error);
	g_assert_nonnull(strstr(error->message, "flow shop, node boom:2:"));
	g_assert_nonnull(strstr(error->message, "nothing"));
	/* outputs before the failure were emitted */
	g_assert_cmpuint(f->outputs->len, ==, 1);
	g_assert_null(pal_session_get_entrypoint(f->session));
	g_clear_error(&error);
	error = run_turn_full(f, "again", NULL, NULL);
	g_assert_nonnull(error);
	g_assert_cmpstr(out_text(f, 0), ==, "before");
}

static void
test_sandbox_limits(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	load_flow_ok(f,
		     "{\"start\": \"spin\", \"nodes\": {"
		     " \"spin\": {\"type\": \"script\", \"code\": \"while true do end\", \"next\": \"io\"},"
		     " \"io\": {\"type\": \"script\", \"code\": \"io.open('/etc/passwd')\"}}}");
	error = run_turn_full(f, "hi", NULL, NULL);
	g_assert_nonnull(error);
	g_assert_nonnull(strstr(error->message, "instruction budget"));
	g_clear_error(&error);

	load_flow_ok(f,
		     "{\"start\": \"io\", \"nodes\": {"
		     " \"io\": {\"type\": \"script\", \"code\": \"io.open('/etc/passwd')\"}}}");
	error = run_turn_full(f, "hi", NULL, NULL);
	g_assert_nonnull(error);
	g_assert_nonnull(strstr(error->message, "flow flow, node io:1:"));
}

static void
test_step_limit(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GError) load_error = NULL;

	g_assert_true(load_flow(f,
				"{\"start\": \"a\", \"nodes\": {"
				" \"a\": {\"type\": \"say\", \"text\": \"once\", \"next\": \"b\"},"
				" \"b\": {\"type\": \"goto\", \"target\": \"c\"},"
				" \"c\": {\"type\": \"goto\", \"target\": \"b\"}}}",
				"\"stepLimit\": 50",
				&load_error));
	g_assert_no_error(load_error);
	error = run_turn_full(f, "hi", NULL, NULL);
	g_assert_error(error, PAL_ERROR, PAL_ERROR_FAILED);
	g_assert_nonnull(strstr(error->message, "step limit of 50"));
	g_assert_cmpuint(f->outputs->len, ==, 1);
	g_assert_null(pal_session_get_entrypoint(f->session));
}

static void
test_handover(Fixture *f, gconstpointer data)
{
	PalOutput *event;
	JsonObject *ev;

	load_flow_ok(f,
		     "{\"start\": \"h\", \"nodes\": {"
		     " \"h\": {\"type\": \"handover\", \"provider\": \"desk\", \"text\": \"Connecting…\", \"next\": \"back\"},"
		     " \"back\": {\"type\": \"say\", \"text\": \"Welcome back\"}}}");
	run_turn(f, "agent please");
	g_assert_cmpuint(f->outputs->len, ==, 2);
	g_assert_cmpstr(out_text(f, 0), ==, "Connecting…");
	event = g_ptr_array_index(f->outputs, 1);
	g_assert_cmpint(pal_output_get_source(event), ==, PAL_OUTPUT_SOURCE_SYSTEM);
	ev = json_object_get_object_member(pal_output_get_data(event), "event");
	g_assert_cmpstr(json_object_get_string_member(ev, "type"), ==, "handover-requested");
	g_assert_cmpstr(json_object_get_string_member(ev, "provider"), ==, "desk");
	g_assert_true(pal_session_get_handover_active(f->session));
	run_turn(f, "thanks");
	g_assert_cmpstr(out_text(f, 0), ==, "Welcome back");
	g_assert_false(pal_session_get_handover_active(f->session));
}

/* a session stored by an older version of the flow gets the keys the new one added */
static void
test_default_context(Fixture *f, gconstpointer data)
{
	g_autoptr(JsonNode) stored = pal_test_json_parse("{\"a\": 5}");

	load_flow_ok(f,
		     "{\"start\": \"s\", \"context\": {\"a\": 1, \"b\": 2}, \"nodes\": {"
		     " \"s\": {\"type\": \"say\", \"text\": \"{{ context.a }} {{ context.b }}\"}}}");
	pal_session_set_context(f->session, json_node_get_object(stored));
	run_turn(f, "hi");
	g_assert_cmpstr(out_text(f, 0), ==, "5 2");
}

/* ---- http nodes ---- */

static void
test_http_node(Fixture *f, gconstpointer data)
{
	const gchar *answer = "{\"status\": \"shipped\", \"items\": [1, 2]}";
	g_autoptr(PalTestService) svc = pal_test_service_new_with_answer(200, answer, 200);
	g_autofree gchar *flow = g_strdup_printf(
	    "{\"start\": \"first\", \"nodes\": {"
	    " \"first\": {\"type\": \"say\", \"text\": \"Looking…\", \"next\": \"get\"},"
	    " \"get\": {\"type\": \"http\", \"method\": \"POST\", \"url\": \"http://127.0.0.1:%u/orders/{{ input.text }}\","
	    "          \"headers\": {\"X-Token\": \"t-{{ session.userId }}\"}, \"body\": {\"order\": \"{{ tonumber(input.text) }}\"},"
	    "          \"timeout\": 5000, \"store\": \"context.info\", \"next\": \"tell\", \"onError\": \"sorry\"},"
	    " \"tell\": {\"type\": \"say\", \"text\": \"{{ context.info.status }} ({{ #context.info.items }} items)\"},"
	    " \"sorry\": {\"type\": \"say\", \"text\": \"sorry\"}}}",
	    pal_test_service_get_port(svc));
	g_autofree gchar *text_flow = NULL;
	const PalTestServiceRequest *req;

	load_flow_ok(f, flow);
	run_turn(f, "42");
	g_assert_cmpuint(f->outputs->len, ==, 2);
	g_assert_cmpstr(out_text(f, 0), ==, "Looking…");
	g_assert_cmpstr(out_text(f, 1), ==, "shipped (2 items)");
	g_assert_cmpuint(pal_test_service_get_n_requests(svc), ==, 1);
	req = pal_test_service_get_request(svc, 0);
	g_assert_cmpstr(req->method, ==, "POST");
	g_assert_cmpstr(req->path, ==, "/orders/42");
	g_assert_cmpstr(pal_test_service_request_get_header(req, "X-Token"), ==, "t-u1");
	g_assert_cmpstr(req->body, ==, "{\"order\":42}");

	/* a failing server: the onError path */
	pal_test_service_set_answer(svc, 500, answer, 200);
	run_turn(f, "43");
	g_assert_cmpuint(f->outputs->len, ==, 2);
	g_assert_cmpstr(out_text(f, 1), ==, "sorry");
	/* an answer that is not JSON is stored as text */
	pal_test_service_set_answer(svc, 200, "plain words", 200);
	text_flow = g_strdup_printf("{\"start\": \"get\", \"nodes\": {"
				    " \"get\": {\"type\": \"http\", \"url\": \"http://127.0.0.1:%u/t\", \"store\": \"context.t\", \"next\": \"tell\"},"
				    " \"tell\": {\"type\": \"say\", \"text\": \"[{{ context.t }}]\"}}}",
				    pal_test_service_get_port(svc));
	load_flow_ok(f, text_flow);
	run_turn(f, "x");
	g_assert_cmpstr(out_text(f, 0), ==, "[plain words]");
	g_assert_cmpstr(pal_test_service_get_request(svc, 2)->method, ==, "GET");
}

static void
test_http_timeout_and_refused(Fixture *f, gconstpointer data)
{
	g_autoptr(PalTestService) svc = pal_test_service_new_with_answer(200, "{}", 1000);
	g_autofree gchar *url = pal_test_service_get_url(svc, "/slow");
	g_autofree gchar *refused = g_strdup_printf("http://127.0.0.1:%u/x", pal_test_closed_port());
	const gchar *flow =
	    "{\"start\": \"get\", \"nodes\": {"
	    " \"get\": {\"type\": \"http\", \"url\": \"{{ input.text }}\", \"timeout\": 100,"
	    "          \"store\": \"context.info\", \"next\": \"tell\", \"onError\": \"sorry\"},"
	    " \"tell\": {\"type\": \"say\", \"text\": \"ok\"},"
	    " \"sorry\": {\"type\": \"say\", \"text\": \"sorry\"}}}";
	gint64 start;

	load_flow_ok(f, flow);
	start = g_get_monotonic_time();
	run_turn(f, url);
	g_assert_cmpstr(out_text(f, 0), ==, "sorry");
	g_assert_cmpint(g_get_monotonic_time() - start, <, 900 * 1000);
	/* nothing listens on that port */
	run_turn(f, refused);
	g_assert_cmpstr(out_text(f, 0), ==, "sorry");
	/* not an http URL at all: an error of the turn, not of the daemon */
	g_assert_nonnull(run_turn_full(f, "file:///etc/passwd", NULL, NULL));
}

/* ---- validation ---- */

static void
test_validation_all_errors(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	const gchar *expected[] = {
	    "nodes.a.nxt: unknown field for a say node",
	    "nodes.a.next: no node named \"mneu\"",
	    "nodes.b.type: unknown node type \"sya\"",
	    "nodes.c.condition: flow broken, node c:1:",
	    "nodes.d.expect: expected text, number",
	    "nodes.e.store: expected a path into context or profile",
	    "nodes.f.text: \"{{\" without a closing \"}}\"",
	    "nodes.g.code: flow broken, node g:",
	    "nodes.h.cases.x: no node named \"nowhere\"",
	    "start: no node named \"begin\"",
	    "nodes.i.timeout: expected an integer from 1 to 120000",
	};

	g_assert_false(load_flow(f,
				 "{\"name\": \"broken\", \"start\": \"begin\", \"nodes\": {"
				 " \"a\": {\"type\": \"say\", \"text\": \"x\", \"nxt\": \"b\", \"next\": \"mneu\"},"
				 " \"b\": {\"type\": \"sya\"},"
				 " \"c\": {\"type\": \"if\", \"condition\": \"context.x >\"},"
				 " \"d\": {\"type\": \"question\", \"text\": \"q\", \"expect\": \"colour\"},"
				 " \"e\": {\"type\": \"question\", \"text\": \"q\", \"store\": \"order\"},"
				 " \"f\": {\"type\": \"say\", \"text\": \"Hi {{ name\"},"
				 " \"g\": {\"type\": \"script\", \"code\": \"if then\"},"
				 " \"h\": {\"type\": \"switch\", \"value\": \"x\", \"cases\": {\"x\": \"nowhere\"}},"
				 " \"i\": {\"type\": \"http\", \"url\": \"http://x\", \"timeout\": 0}"
				 "}}",
				 NULL,
				 &error));
	g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
	for (guint i = 0; i < G_N_ELEMENTS(expected); i++) {
		if (strstr(error->message, expected[i]) == NULL)
			g_error("missing \"%s\" in:\n%s", expected[i], error->message);
	}
}

static void
test_validation_options(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	const gchar *ok = "{\"start\": \"a\", \"nodes\": {\"a\": {\"type\": \"say\", \"text\": \"x\"}}}";

	g_assert_false(load_flow(f, ok, "\"stepLimt\": 3", &error));
	g_assert_nonnull(strstr(error->message, "flow.stepLimt: unknown option"));
	g_clear_error(&error);
	g_assert_false(load_flow(f, ok, "\"stepLimit\": 0", &error));
	g_assert_nonnull(strstr(error->message, "flow.stepLimit: expected an integer from 1"));
	g_clear_error(&error);
	g_assert_false(load_flow(f, "{\"start\": \"a\", \"nodes\": [[[[", NULL, &error));
	g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
	g_clear_error(&error);
	g_assert_false(load_flow(f, "[1]", NULL, &error));
	g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
}

/* a flow nested deeper than the limit is refused, not parsed (json-glib recurses) */
static void
test_validation_deep(Fixture *f, gconstpointer data)
{
	g_autoptr(GString) json = g_string_new("{\"start\": \"a\", \"context\": ");
	g_autoptr(GError) error = NULL;

	for (guint i = 0; i < 100000; i++)
		g_string_append_c(json, '[');
	for (guint i = 0; i < 100000; i++)
		g_string_append_c(json, ']');
	g_string_append(json, ", \"nodes\": {\"a\": {\"type\": \"end\"}}}");
	g_assert_false(load_flow(f, json->str, NULL, &error));
	g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "deep"));
}

/* the flow changed between turns: a session waiting at a node that is gone starts over */
static void
test_entry_point_gone(Fixture *f, gconstpointer data)
{
	load_flow_ok(f, question_flow);
	run_turn(f, "hi");
	g_assert_cmpstr(pal_session_get_entrypoint(f->session), ==, "?0:ask");
	pal_session_set_entrypoint(f->session, "?0:removed");
	run_turn(f, "hi");
	g_assert_cmpstr(out_text(f, 0), ==, "Order number?");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add(name, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
	ADD("/graph/say/templates", test_say_templates);
	ADD("/graph/say/quick-replies", test_quick_replies);
	ADD("/graph/question/retries", test_question_retries);
	ADD("/graph/question/expect", test_question_expect);
	ADD("/graph/question/retries-zero", test_email_fail_with_retries_zero);
	ADD("/graph/branch/switch-if-set-goto-end", test_switch_if_set_goto);
	ADD("/graph/script/api", test_script);
	ADD("/graph/script/error", test_script_error);
	ADD("/graph/script/sandbox", test_sandbox_limits);
	ADD("/graph/turn/step-limit", test_step_limit);
	ADD("/graph/turn/entry-point-gone", test_entry_point_gone);
	ADD("/graph/handover", test_handover);
	ADD("/graph/context/defaults", test_default_context);
	ADD("/graph/http/node", test_http_node);
	ADD("/graph/http/timeout-refused", test_http_timeout_and_refused);
	ADD("/graph/validation/all-errors", test_validation_all_errors);
	ADD("/graph/validation/options", test_validation_options);
	ADD("/graph/validation/deep", test_validation_deep);
	return g_test_run();
}
