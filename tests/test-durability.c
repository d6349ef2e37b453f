/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Nothing accepted is lost (issue #3): the real palaverd with a real SQLite store, killed with
 * SIGKILL while its webhook is down, then restarted. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "pal-pipeline.h"
#include "pal-store-sqlite.h"
#include "pal-test-util.h"

#define TOKEN "durable-token-000000001"

/* returns the inputId of the 202 */
static gchar *
post(PalTestDaemon *d, const gchar *session, guint n)
{
	g_autofree gchar *url = pal_test_daemon_get_url(d, "/" TOKEN);
	g_autofree gchar *body =
	    g_strdup_printf("{\"userId\":\"u\",\"sessionId\":\"%s\",\"text\":\"%s:%u\"}", session, session, n);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *answer = NULL;
	g_autoptr(JsonNode) root = NULL;
	guint status = 0;

	g_assert_true(pal_test_http_post(url, "application/json", body, strlen(body), NULL, &status, &answer, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(status, ==, 202);
	root = pal_test_json_parse(answer);
	return g_strdup(json_object_get_string_member(json_node_get_object(root), "inputId"));
}

/* every accepted message's output arrives exactly in order per session, duplicates (if any)
 * carrying the same webhook-id, after a SIGKILL and a restart */
static void
test_kill9_restart(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *hook = pal_test_receiver_get_url(r, "/hook");
	g_autofree gchar *ep = g_strdup_printf("{\"name\":\"durable\",\"URLToken\":\"" TOKEN "\","
					       "\"flow\":{\"type\":\"echo\"},\"webhook\":{\"url\":\"%s\"}}",
					       hook);
	g_autoptr(GError) error = NULL;
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_autoptr(GHashTable) ids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autoptr(GPtrArray) reqs = NULL;
	const guint n_sessions = 100;
	const guint per_session = 20;
	guint next[100] = {0};
	guint64 last_seq[100] = {0};
	guint distinct = 0;
	gint64 deadline;

	pal_test_daemon_add_endpoint(d, "durable.json", ep);
	pal_test_receiver_set_status(r, 503); /* the webhook is down */
	g_assert_true(pal_test_daemon_start(d, &error));
	for (guint n = 0; n < per_session; n++) {
		for (guint s = 0; s < n_sessions; s++) {
			g_autofree gchar *session = g_strdup_printf("s%03u", s);
			g_autofree gchar *id = post(d, session, n);
		}
	}
	/* all 2,000 were answered 202: journaled. Now crash, restart, and only then bring the
	 * receiver up */
	pal_test_daemon_kill9(d);
	g_assert_true(pal_test_daemon_restart(d, &error));
	g_assert_no_error(error);
	g_usleep(500 * 1000);
	pal_test_receiver_set_status(r, 200);

	deadline = g_get_monotonic_time() + 90 * G_USEC_PER_SEC;
	while (g_get_monotonic_time() < deadline) {
		g_autoptr(GPtrArray) now = pal_test_receiver_dup_requests(r);
		g_hash_table_remove_all(ids);
		for (guint i = 0; i < now->len; i++) {
			PalReceivedRequest *req = g_ptr_array_index(now, i);
			if (pal_received_request_get_status(req) == 200)
				g_hash_table_add(ids, g_strdup(pal_received_request_get_header(req, "webhook-id")));
		}
		if (g_hash_table_size(ids) >= n_sessions * per_session)
			break;
		g_usleep(200 * 1000);
	}
	g_assert_cmpuint(g_hash_table_size(ids), ==, n_sessions * per_session);

	/* order per session over the successful deliveries, ignoring duplicates */
	reqs = pal_test_receiver_dup_requests(r);
	for (guint i = 0; i < reqs->len; i++) {
		PalReceivedRequest *req = g_ptr_array_index(reqs, i);
		const gchar *id = pal_received_request_get_header(req, "webhook-id");
		JsonObject *ai;
		const gchar *text;
		guint s = 0;
		guint n = 0;
		guint64 seq;

		if (pal_received_request_get_status(req) != 200)
			continue;
		ai = json_object_get_object_member(json_node_get_object(pal_received_request_get_json(req)), "AIOutput");
		text = json_object_get_string_member(ai, "text");
		g_assert_cmpint(sscanf(text, "s%u:%u", &s, &n), ==, 2);
		if (g_hash_table_contains(seen, id)) {
			/* a duplicate is the same output again */
			g_assert_cmpstr(g_hash_table_lookup(seen, id), ==, text);
			continue;
		}
		g_hash_table_insert(seen, g_strdup(id), g_strdup(text));
		distinct++;
		g_assert_cmpuint(n, ==, next[s]);
		next[s]++;
		seq = g_ascii_strtoull(pal_received_request_get_header(req, "Palaver-Session-Seq"), NULL, 10);
		g_assert_cmpuint(seq, >, last_seq[s]);
		last_seq[s] = seq;
	}
	g_assert_cmpuint(distinct, ==, n_sessions * per_session);
	g_assert_true(pal_test_daemon_stop(d, SIGTERM, 15000, NULL, NULL));
}

/* a clean stop with undelivered outputs keeps them for the next start */
static void
test_stop_keeps_outbox(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *hook = pal_test_receiver_get_url(r, "/hook");
	g_autofree gchar *ep = g_strdup_printf("{\"name\":\"durable\",\"URLToken\":\"" TOKEN "\","
					       "\"flow\":{\"type\":\"echo\",\"outputs\":2},\"webhook\":{\"url\":\"%s\"}}",
					       hook);
	g_autoptr(GError) error = NULL;
	gint status = -1;

	pal_test_daemon_set_conf(d, "Server", "ShutdownTimeout", "1");
	pal_test_daemon_add_endpoint(d, "durable.json", ep);
	pal_test_receiver_set_status(r, 500);
	g_assert_true(pal_test_daemon_start(d, &error));
	g_free(post(d, "a", 0));
	g_free(post(d, "b", 0));
	g_assert_true(pal_test_daemon_stop(d, SIGTERM, 15000, &status, &error));
	g_assert_cmpint(status, ==, 0);
	pal_test_receiver_clear_requests(r);
	pal_test_receiver_set_status(r, 200);
	g_assert_true(pal_test_daemon_restart(d, &error));
	g_assert_true(pal_test_receiver_wait_count(r, 4, 30000));
	g_assert_true(pal_test_daemon_stop(d, SIGTERM, 15000, NULL, NULL));
}

/* messages accepted (journaled) whose turn had not run yet when the daemon was killed run
 * after the restart, with their original input ids */
static void
test_kill9_replays_journal(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *hook = pal_test_receiver_get_url(r, "/hook");
	/* a slow flow: the turns are still running when the daemon dies */
	g_autofree gchar *ep = g_strdup_printf("{\"name\":\"durable\",\"URLToken\":\"" TOKEN "\","
					       "\"flow\":{\"type\":\"echo\",\"delayMs\":1500},"
					       "\"webhook\":{\"url\":\"%s\"}}",
					       hook);
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) reqs = NULL;
	guint next[4] = {0};

	pal_test_daemon_add_endpoint(d, "durable.json", ep);
	g_assert_true(pal_test_daemon_start(d, &error));
	for (guint n = 0; n < 2; n++) {
		for (guint s = 0; s < 4; s++) {
			g_autofree gchar *session = g_strdup_printf("s%02u", s);
			g_ptr_array_add(ids, post(d, session, n));
		}
	}
	pal_test_daemon_kill9(d);
	g_assert_cmpuint(pal_test_receiver_get_count(r), ==, 0);
	g_assert_true(pal_test_daemon_restart(d, &error));
	g_assert_true(pal_test_receiver_wait_count(r, 8, 30000));
	reqs = pal_test_receiver_dup_requests(r);
	for (guint i = 0; i < reqs->len; i++) {
		PalReceivedRequest *req = g_ptr_array_index(reqs, i);
		JsonObject *ai = json_object_get_object_member(json_node_get_object(pal_received_request_get_json(req)),
							       "AIOutput");
		const gchar *turn = pal_received_request_get_header(req, "Palaver-Turn-Id");
		guint s = 0;
		guint n = 0;
		gboolean known = FALSE;

		g_assert_cmpint(sscanf(json_object_get_string_member(ai, "text"), "s%u:%u", &s, &n), ==, 2);
		g_assert_cmpuint(n, ==, next[s]);
		next[s]++;
		for (guint j = 0; j < ids->len; j++)
			known |= g_strcmp0(g_ptr_array_index(ids, j), turn) == 0;
		g_assert_true(known);
	}
	g_assert_true(pal_test_daemon_stop(d, SIGTERM, 15000, NULL, NULL));
}

/* SIGTERM reaches ShutdownTimeout while a flow is still running: the message is not marked
 * done, and runs at the next start */
static void
test_sigterm_during_slow_turn(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *hook = pal_test_receiver_get_url(r, "/hook");
	g_autofree gchar *ep = g_strdup_printf("{\"name\":\"durable\",\"URLToken\":\"" TOKEN "\","
					       "\"flow\":{\"type\":\"echo\",\"delayMs\":3000},"
					       "\"webhook\":{\"url\":\"%s\"}}",
					       hook);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *id = NULL;
	g_autoptr(PalReceivedRequest) req = NULL;
	gint status = -1;

	pal_test_daemon_set_conf(d, "Server", "ShutdownTimeout", "1");
	pal_test_daemon_add_endpoint(d, "durable.json", ep);
	g_assert_true(pal_test_daemon_start(d, &error));
	id = post(d, "slow", 0);
	g_usleep(200 * 1000);
	g_assert_true(pal_test_daemon_stop(d, SIGTERM, 15000, &status, &error));
	g_assert_cmpint(status, ==, 0);
	g_assert_cmpuint(pal_test_receiver_get_count(r), ==, 0);
	g_assert_true(pal_test_daemon_restart(d, &error));
	g_assert_true(pal_test_receiver_wait_count(r, 1, 15000));
	req = pal_test_receiver_dup_request(r, 0);
	g_assert_cmpstr(pal_received_request_get_header(req, "Palaver-Turn-Id"), ==, id);
	g_assert_true(pal_test_daemon_stop(d, SIGTERM, 15000, NULL, NULL));
}

/* SIGTERM while a receiver host is paused (429 + Retry-After) and a slow turn holds the
 * teardown: the pause timer must not fire into freed queues */
static void
test_sigterm_with_paused_host(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *hook = pal_test_receiver_get_url(r, "/hook");
	g_autofree gchar *ep = g_strdup_printf("{\"name\":\"durable\",\"URLToken\":\"" TOKEN "\","
					       "\"flow\":{\"type\":\"echo\"},\"webhook\":{\"url\":\"%s\"}}",
					       hook);
	g_autofree gchar *ep2 = g_strdup_printf("{\"name\":\"slow\",\"URLToken\":\"durable-token-000000002\","
						"\"flow\":{\"type\":\"echo\",\"delayMs\":8000},"
						"\"webhook\":{\"url\":\"%s\"}}",
						hook);
	g_autofree gchar *url2 = NULL;
	const gchar *body = "{\"userId\":\"u\",\"sessionId\":\"s\",\"text\":\"x\"}";
	g_autoptr(GError) error = NULL;
	guint http = 0;
	gint status = -1;

	pal_test_daemon_set_conf(d, "Server", "ShutdownTimeout", "1");
	pal_test_daemon_set_conf(d, "Server", "Workers", "1");
	pal_test_daemon_add_endpoint(d, "durable.json", ep);
	pal_test_daemon_add_endpoint(d, "slow.json", ep2);
	pal_test_receiver_set_status(r, 429);
	pal_test_receiver_set_retry_after(r, 3);
	g_assert_true(pal_test_daemon_start(d, &error));
	g_free(post(d, "a", 0));
	g_free(post(d, "b", 0));
	url2 = pal_test_daemon_get_url(d, "/durable-token-000000002");
	g_assert_true(pal_test_http_post(url2, "application/json", body, strlen(body), NULL, &http, NULL, &error));
	g_assert_cmpuint(http, ==, 202);
	g_assert_true(pal_test_receiver_wait_count(r, 1, 5000));
	/* a session that comes after the 429 waits for the host's pause */
	g_free(post(d, "c", 0));
	g_usleep(300 * 1000);
	g_assert_true(pal_test_daemon_stop(d, SIGTERM, 20000, &status, &error));
	g_assert_cmpint(status, ==, 0);
}

/* a session's stored state carries on across a restart: its turn count keeps counting */
static void
test_session_state_survives_restart(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *hook = pal_test_receiver_get_url(r, "/hook");
	g_autofree gchar *ep = g_strdup_printf("{\"name\":\"durable\",\"URLToken\":\"" TOKEN "\","
					       "\"flow\":{\"type\":\"echo\"},\"webhook\":{\"url\":\"%s\"}}",
					       hook);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *db = NULL;
	g_autofree gchar *key = pal_pipeline_session_key("durable", "u", "kept");
	g_autoptr(PalStore) store = NULL;
	g_autoptr(PalStoreSession) session = NULL;

	pal_test_daemon_add_endpoint(d, "durable.json", ep);
	g_assert_true(pal_test_daemon_start(d, &error));
	for (guint n = 0; n < 3; n++)
		g_free(post(d, "kept", n));
	g_assert_true(pal_test_receiver_wait_count(r, 3, 10000));
	g_assert_true(pal_test_daemon_restart(d, &error));
	for (guint n = 3; n < 5; n++)
		g_free(post(d, "kept", n));
	g_assert_true(pal_test_receiver_wait_count(r, 5, 10000));
	g_assert_true(pal_test_daemon_stop(d, SIGTERM, 15000, NULL, &error));

	db = g_build_filename(pal_test_daemon_get_dir(d), "palaver.db", NULL);
	store = pal_store_sqlite_new(db, PAL_DURABILITY_CRASH, &error);
	g_assert_no_error(error);
	g_assert_true(pal_store_load_session(store, key, &session, NULL, &error));
	g_assert_nonnull(session);
	g_assert_cmpuint(session->turns, ==, 5);
	g_assert_cmpuint(session->last_seq, ==, 5);
	pal_store_close(store);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/palaver/durability/kill9-restart", test_kill9_restart);
	g_test_add_func("/palaver/durability/stop-keeps-outbox", test_stop_keeps_outbox);
	g_test_add_func("/palaver/durability/kill9-replays-journal", test_kill9_replays_journal);
	g_test_add_func("/palaver/durability/sigterm-during-slow-turn", test_sigterm_during_slow_turn);
	g_test_add_func("/palaver/durability/sigterm-with-paused-host", test_sigterm_with_paused_host);
	g_test_add_func("/palaver/durability/session-state-survives-restart", test_session_state_survives_restart);
	return g_test_run();
}
