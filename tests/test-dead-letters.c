/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Dead letters end to end (issue #3): the real palaverd gives outputs up (time to live passed,
 * or a 4xx that is not retried), then the real `palaver-tool dead-letters` lists, replays and
 * purges them in the stopped daemon's database, and a restart delivers what was replayed. */
#include "config.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>

#include "pal-test-util.h"

#define TOKEN "deadletters-token-00000001"

typedef struct {
	gint status;
	gchar *out;
	gchar *err;
} ToolRun;

static void
tool_run_clear(ToolRun *run)
{
	g_clear_pointer(&run->out, g_free);
	g_clear_pointer(&run->err, g_free);
}

/* runs `$PALAVER_TOOL dead-letters ARGS…` (NULL-terminated) to its end */
static void
tool_run(ToolRun *run, const gchar *first, ...)
{
	const gchar *tool = g_getenv("PALAVER_TOOL");
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GSubprocessLauncher) launcher = NULL;
	g_autoptr(GSubprocess) sp = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GString) cmd = g_string_new("palaver-tool dead-letters");
	va_list ap;

	g_assert_nonnull(tool);
	tool_run_clear(run);
	g_ptr_array_add(argv, (gpointer)tool);
	g_ptr_array_add(argv, (gpointer) "dead-letters");
	va_start(ap, first);
	for (const gchar *arg = first; arg != NULL; arg = va_arg(ap, const gchar *)) {
		g_ptr_array_add(argv, (gpointer)arg);
		g_string_append_printf(cmd, " %s", arg);
	}
	va_end(ap);
	g_ptr_array_add(argv, NULL);

	launcher = pal_test_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE |
						    G_SUBPROCESS_FLAGS_STDERR_PIPE);
	sp = g_subprocess_launcher_spawnv(launcher, (const gchar *const *)argv->pdata, &error);
	g_assert_no_error(error);
	g_assert_true(g_subprocess_communicate_utf8(sp, NULL, NULL, &run->out, &run->err, &error));
	g_assert_no_error(error);
	g_assert_true(pal_test_subprocess_wait(sp, 60000, &run->status, &error));
	g_assert_no_error(error);
	g_test_message("%s: exit %d\nstdout:\n%s\nstderr:\n%s", cmd->str, run->status, run->out, run->err);
}

/* `list --json` and friends: the output parsed, an array */
static JsonArray *
tool_json_array(ToolRun *run, JsonNode **root)
{
	g_assert_cmpint(run->status, ==, 0);
	*root = pal_test_json_parse(run->out);
	g_assert_nonnull(*root);
	g_assert_true(JSON_NODE_HOLDS_ARRAY(*root));
	return json_node_get_array(*root);
}

static void
post(PalTestDaemon *d, const gchar *user, const gchar *session, guint n)
{
	g_autofree gchar *url = pal_test_daemon_get_url(d, "/" TOKEN);
	g_autofree gchar *body = g_strdup_printf("{\"userId\":\"%s\",\"sessionId\":\"%s\",\"text\":\"%s:%u\"}",
						 user,
						 session,
						 session,
						 n);
	g_autoptr(GError) error = NULL;
	guint status = 0;

	g_assert_true(pal_test_http_post(url, "application/json", body, strlen(body), NULL, &status, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(status, ==, 202);
}

/* waits until the receiver got at least @min attempts and then none for @quiet_ms */
static void
wait_until_quiet(PalTestReceiver *r, guint min, guint quiet_ms, guint timeout_ms)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	gint64 last_change = g_get_monotonic_time();
	guint last = pal_test_receiver_get_count(r);

	while (g_get_monotonic_time() < deadline) {
		guint now = pal_test_receiver_get_count(r);
		if (now != last) {
			last = now;
			last_change = g_get_monotonic_time();
		} else if (now >= min && g_get_monotonic_time() - last_change >= (gint64)quiet_ms * 1000) {
			return;
		}
		g_usleep(50 * 1000);
	}
	g_error("the receiver did not go quiet: %u attempts", pal_test_receiver_get_count(r));
}

static const gchar *
text_of(JsonObject *body)
{
	return json_object_get_string_member(json_object_get_object_member(body, "AIOutput"), "text");
}

static void
stop_daemon(PalTestDaemon *d)
{
	g_autoptr(GError) error = NULL;
	gint status = -1;

	g_assert_true(pal_test_daemon_stop(d, SIGTERM, 20000, &status, &error));
	g_assert_no_error(error);
	g_assert_cmpint(status, ==, 0);
}

/* outputs whose time to live passes while the webhook answers 503 become dead letters; one
 * session's are replayed and delivered after a restart, in order, with new seqs and the same
 * webhook-ids; the other's is purged */
static void
test_ttl_expiry(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *hook = pal_test_receiver_get_url(r, "/hook");
	g_autofree gchar *ep = g_strdup_printf("{\"name\":\"dl\",\"URLToken\":\"" TOKEN "\","
					       "\"flow\":{\"type\":\"echo\"},"
					       "\"webhook\":{\"url\":\"%s\",\"ttlSeconds\":2}}",
					       hook);
	g_autofree gchar *db = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) root = NULL;
	g_autoptr(GPtrArray) reqs = NULL;
	ToolRun run = {0};
	JsonArray *dead;
	gchar *ids[3] = {NULL, NULL, NULL};
	guint64 old_seq[3] = {0};
	guint64 prev = 0;
	guint n_a_attempts = 0;
	gint64 stored_attempts[4] = {0};
	guint made_attempts[4] = {0};
	g_autoptr(GString) mismatch = g_string_new(NULL);
	g_autoptr(GHashTable) attempts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	pal_test_daemon_add_endpoint(d, "dl.json", ep);
	pal_test_receiver_set_status(r, 503);
	g_assert_true(pal_test_daemon_start(d, &error));
	g_assert_no_error(error);
	db = g_build_filename(pal_test_daemon_get_dir(d), "palaver.db", NULL);
	for (guint n = 0; n < 3; n++)
		post(d, "u", "a", n);
	post(d, "u", "b", 0);

	/* TTL 2 s: every output is given up by then; nothing is tried after that */
	g_usleep(2500 * 1000);
	wait_until_quiet(r, 2, 1500, 20000);
	stop_daemon(d);
	/* attempts per webhook-id, as the receiver saw them */
	reqs = pal_test_receiver_dup_requests(r);
	for (guint i = 0; i < reqs->len; i++) {
		PalReceivedRequest *req = g_ptr_array_index(reqs, i);
		const gchar *id = pal_received_request_get_header(req, "webhook-id");
		JsonNode *json = pal_received_request_get_json(req);

		g_hash_table_insert(attempts,
				    g_strdup(id),
				    GUINT_TO_POINTER(GPOINTER_TO_UINT(g_hash_table_lookup(attempts, id)) + 1));
		if (g_str_equal(json_object_get_string_member(json_node_get_object(json), "sessionId"), "a"))
			n_a_attempts++;
	}
	g_clear_pointer(&reqs, g_ptr_array_unref);

	/* the four dead letters, per session in order */
	tool_run(&run, "--db", db, "list", "--json", NULL);
	dead = tool_json_array(&run, &root);
	g_assert_cmpuint(json_array_get_length(dead), ==, 4);
	for (guint i = 0; i < 4; i++) {
		JsonObject *o = json_array_get_object_element(dead, i);
		g_autofree gchar *want = g_strdup_printf("%s:%u", i < 3 ? "a" : "b", i < 3 ? i : 0);

		g_assert_cmpstr(json_object_get_string_member(o, "endpoint"), ==, "dl");
		g_assert_cmpstr(json_object_get_string_member(o, "userId"), ==, "u");
		g_assert_cmpstr(json_object_get_string_member(o, "sessionId"), ==, i < 3 ? "a" : "b");
		g_assert_cmpstr(text_of(json_object_get_object_member(o, "body")), ==, want);
		g_assert_nonnull(strstr(json_object_get_string_member(o, "reason"), "time to live"));
		g_assert_true(g_str_has_prefix(json_object_get_string_member(o, "webhookId"), "msg_"));
		g_assert_nonnull(json_object_get_string_member(o, "failedAt"));
		g_assert_nonnull(json_object_get_string_member(o, "createdAt"));
		/* checked last: the number of attempts made */
		stored_attempts[i] = json_object_get_int_member(o, "attempts");
		made_attempts[i] = GPOINTER_TO_UINT(
		    g_hash_table_lookup(attempts, json_object_get_string_member(o, "webhookId")));
		if (i < 3) {
			guint64 seq = (guint64)json_object_get_int_member(o, "sessionSeq");
			g_assert_cmpuint(seq, >, prev);
			prev = seq;
			old_seq[i] = seq;
			ids[i] = g_strdup(json_object_get_string_member(o, "webhookId"));
		}
	}
	g_clear_pointer(&root, json_node_unref);
	/* the first output of "a" was tried, and retried, until its time to live passed */
	g_assert_cmpuint(n_a_attempts, >=, 2);

	/* the human table */
	tool_run(&run, "--db", db, "list", NULL);
	g_assert_cmpint(run.status, ==, 0);
	g_assert_nonnull(strstr(run.out, "Endpoint “dl”, user “u”, session “a”:"));
	g_assert_nonnull(strstr(run.out, "Endpoint “dl”, user “u”, session “b”:"));
	g_assert_nonnull(strstr(run.out, ids[0]));
	g_assert_nonnull(strstr(run.out, "time to live"));
	g_assert_nonnull(strstr(run.out, "4 dead letters"));

	/* paging, and several sessions merged in order */
	tool_run(&run, "--db", db, "list", "--json", "--limit", "2", "--offset", "1", NULL);
	dead = tool_json_array(&run, &root);
	g_assert_cmpuint(json_array_get_length(dead), ==, 2);
	g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(dead, 0), "webhookId"), ==, ids[1]);
	g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(dead, 1), "webhookId"), ==, ids[2]);
	g_clear_pointer(&root, json_node_unref);
	tool_run(&run, "--db", db, "--endpoint", "dl", "--session", "u/b", "--session", "u/a", "list", "--json",
		 "--offset", "2", NULL);
	dead = tool_json_array(&run, &root);
	g_assert_cmpuint(json_array_get_length(dead), ==, 2);
	g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(dead, 0), "webhookId"), ==, ids[2]);
	g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(dead, 1), "sessionId"), ==, "b");
	g_clear_pointer(&root, json_node_unref);
	tool_run(&run, "--db", db, "--endpoint", "other", "list", "--json", NULL);
	dead = tool_json_array(&run, &root);
	g_assert_cmpuint(json_array_get_length(dead), ==, 0);
	g_clear_pointer(&root, json_node_unref);

	/* replay session "a" only */
	tool_run(&run, "--db", db, "--endpoint", "dl", "--session", "u/a", "replay", NULL);
	g_assert_cmpint(run.status, ==, 0);
	g_assert_true(g_str_has_prefix(run.out, "3 dead letters moved back to the outbox."));
	g_assert_nonnull(strstr(run.out, "when it next starts"));
	tool_run(&run, "--db", db, "list", "--json", NULL);
	dead = tool_json_array(&run, &root);
	g_assert_cmpuint(json_array_get_length(dead), ==, 1);
	g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(dead, 0), "sessionId"), ==, "b");
	g_clear_pointer(&root, json_node_unref);

	/* the webhook is back: the restart delivers the three, in order, same ids, new seqs */
	pal_test_receiver_clear_requests(r);
	pal_test_receiver_set_status(r, 200);
	g_assert_true(pal_test_daemon_restart(d, &error));
	g_assert_no_error(error);
	g_assert_true(pal_test_receiver_wait_count(r, 3, 30000));
	g_usleep(500 * 1000); /* nothing else comes: "b" stays a dead letter */
	stop_daemon(d);
	reqs = pal_test_receiver_dup_requests(r);
	g_assert_cmpuint(reqs->len, ==, 3);
	prev = old_seq[2];
	for (guint i = 0; i < 3; i++) {
		PalReceivedRequest *req = g_ptr_array_index(reqs, i);
		JsonObject *body = json_node_get_object(pal_received_request_get_json(req));
		g_autofree gchar *want = g_strdup_printf("a:%u", i);
		guint64 seq = g_ascii_strtoull(pal_received_request_get_header(req, "Palaver-Session-Seq"), NULL, 10);

		g_assert_cmpuint(pal_received_request_get_status(req), ==, 200);
		g_assert_cmpstr(text_of(body), ==, want);
		g_assert_cmpstr(pal_received_request_get_header(req, "webhook-id"), ==, ids[i]);
		g_assert_cmpuint(seq, >, prev);
		g_assert_cmpuint(seq, >, old_seq[i]);
		prev = seq;
	}

	/* "b" is still listed; purge by endpoint removes it */
	tool_run(&run, "--db", db, "list", "--json", NULL);
	dead = tool_json_array(&run, &root);
	g_assert_cmpuint(json_array_get_length(dead), ==, 1);
	g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(dead, 0), "sessionId"), ==, "b");
	g_clear_pointer(&root, json_node_unref);
	tool_run(&run, "--db", db, "--endpoint", "dl", "purge", NULL);
	g_assert_cmpint(run.status, ==, 0);
	g_assert_true(g_str_has_prefix(run.out, "1 dead letter deleted."));
	tool_run(&run, "--db", db, "list", "--json", NULL);
	dead = tool_json_array(&run, &root);
	g_assert_cmpuint(json_array_get_length(dead), ==, 0);
	g_clear_pointer(&root, json_node_unref);
	tool_run(&run, "--db", db, "list", NULL);
	g_assert_cmpint(run.status, ==, 0);
	g_assert_nonnull(strstr(run.out, "No dead letters."));

	/* a dead letter keeps the number of attempts made, the last (failed) one included;
	 * checked last and not fatal, so that the other tests still run */
	for (guint i = 0; i < 4; i++) {
		if (stored_attempts[i] != (gint64)made_attempts[i])
			g_string_append_printf(mismatch,
					       "%sdead letter %u: %" G_GINT64_FORMAT " attempts stored, %u made",
					       mismatch->len > 0 ? "; " : "",
					       i,
					       stored_attempts[i],
					       made_attempts[i]);
	}
	if (mismatch->len > 0)
		g_test_fail_printf("%s", mismatch->str);

	for (guint i = 0; i < 3; i++)
		g_free(ids[i]);
	tool_run_clear(&run);
}

/* a 400 is not retried: a dead letter after one attempt, with its status */
static void
test_status_400(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *hook = pal_test_receiver_get_url(r, "/hook");
	g_autofree gchar *ep = g_strdup_printf("{\"name\":\"dl400\",\"URLToken\":\"" TOKEN "\","
					       "\"flow\":{\"type\":\"echo\"},\"webhook\":{\"url\":\"%s\"}}",
					       hook);
	g_autofree gchar *conf = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) root = NULL;
	ToolRun run = {0};
	JsonArray *dead;
	JsonObject *o;
	gint64 stored_attempts;

	pal_test_daemon_add_endpoint(d, "dl400.json", ep);
	pal_test_receiver_set_status(r, 400);
	g_assert_true(pal_test_daemon_start(d, &error));
	g_assert_no_error(error);
	post(d, "u", "s", 0);
	g_assert_true(pal_test_receiver_wait_count(r, 1, 30000));
	g_usleep(1000 * 1000); /* no retry comes */
	g_assert_cmpuint(pal_test_receiver_get_count(r), ==, 1);
	stop_daemon(d);

	/* the database named by the daemon's own configuration */
	conf = g_build_filename(pal_test_daemon_get_dir(d), "palaver.conf", NULL);
	tool_run(&run, "--config", conf, "list", "--json", NULL);
	dead = tool_json_array(&run, &root);
	g_assert_cmpuint(json_array_get_length(dead), ==, 1);
	o = json_array_get_object_element(dead, 0);
	g_assert_cmpstr(json_object_get_string_member(o, "endpoint"), ==, "dl400");
	g_assert_cmpint(json_object_get_int_member(o, "lastStatus"), ==, 400);
	g_assert_nonnull(strstr(json_object_get_string_member(o, "reason"), "400"));
	g_assert_cmpstr(text_of(json_object_get_object_member(o, "body")), ==, "s:0");
	stored_attempts = json_object_get_int_member(o, "attempts");
	g_clear_pointer(&root, json_node_unref);
	tool_run_clear(&run);
	/* checked last, not fatal: the one attempt made */
	if (stored_attempts != 1)
		g_test_fail_printf("%" G_GINT64_FORMAT " attempts stored, 1 made", stored_attempts);
}

/* usage and runtime errors, and nothing is created or changed on the way */
static void
test_errors(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("pal-dead-letters-XXXXXX", NULL);
	g_autofree gchar *missing = g_build_filename(dir, "missing.db", NULL);
	g_autofree gchar *other = g_build_filename(dir, "other.db", NULL);
	g_autofree gchar *contents = NULL;
	ToolRun run = {0};

	g_assert_nonnull(dir);
	tool_run(&run, "--db", missing, "list", NULL);
	g_assert_cmpint(run.status, ==, 1);
	g_assert_nonnull(strstr(run.err, missing));
	g_assert_false(g_file_test(missing, G_FILE_TEST_EXISTS));

	/* purge everything needs --yes; a usage error comes before the database is looked at */
	tool_run(&run, "--db", missing, "purge", NULL);
	g_assert_cmpint(run.status, ==, 2);
	g_assert_nonnull(strstr(run.err, "--yes"));
	tool_run(&run, "--db", missing, "purge", "--yes", NULL);
	g_assert_cmpint(run.status, ==, 1);
	g_assert_false(g_file_test(missing, G_FILE_TEST_EXISTS));

	tool_run(&run, "--db", missing, "--session", "u/s", "list", NULL);
	g_assert_cmpint(run.status, ==, 2);
	g_assert_nonnull(strstr(run.err, "--endpoint"));
	tool_run(&run, "--db", missing, "--endpoint", "e", "--session", "nouser", "list", NULL);
	g_assert_cmpint(run.status, ==, 2);
	tool_run(&run, "--db", missing, "resend", NULL);
	g_assert_cmpint(run.status, ==, 2);
	tool_run(&run, "--db", missing, NULL);
	g_assert_cmpint(run.status, ==, 2);
	tool_run(&run, "--db", missing, "list", "--ttl", "5", NULL);
	g_assert_cmpint(run.status, ==, 2);
	tool_run(&run, "--db", missing, "replay", "--ttl", "0", NULL);
	g_assert_cmpint(run.status, ==, 2);
	tool_run(&run, "--db", missing, "--config", missing, "list", NULL);
	g_assert_cmpint(run.status, ==, 2);

	/* another file is refused, and left as it was */
	g_assert_true(g_file_set_contents(other, "not a database\n", -1, NULL));
	tool_run(&run, "--db", other, "list", NULL);
	g_assert_cmpint(run.status, ==, 1);
	g_assert_nonnull(strstr(run.err, "not a palaver database"));
	g_assert_true(g_file_get_contents(other, &contents, NULL, NULL));
	g_assert_cmpstr(contents, ==, "not a database\n");

	tool_run(&run, "--help", NULL);
	g_assert_cmpint(run.status, ==, 0);
	g_assert_nonnull(strstr(run.out, "must be stopped"));

	g_assert_cmpint(g_remove(other), ==, 0);
	g_assert_cmpint(g_rmdir(dir), ==, 0);
	tool_run_clear(&run);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/palaver/dead-letters/ttl-expiry", test_ttl_expiry);
	g_test_add_func("/palaver/dead-letters/status-400", test_status_400);
	g_test_add_func("/palaver/dead-letters/errors", test_errors);
	return g_test_run();
}
