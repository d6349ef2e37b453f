/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Faults (issue #3 items 7 and 8), with the real palaverd binary:
 *
 * - ordering under concurrency: many sessions sent from several client threads at once, a
 *   webhook that fails a random share of the attempts; every output arrives, and per session
 *   the successful deliveries (duplicates ignored) keep the send order and a strictly
 *   increasing Palaver-Session-Seq;
 * - the database becoming read-only at runtime: /readyz and ingress answer 503
 *   store_unavailable, /healthz stays 200, and it all comes back once the file is writable;
 * - the database deleted at runtime: the same 503s; the daemon does not silently create an
 *   empty database, recovers when a database reappears at the path, and a restart creates a
 *   fresh one (see the comment at the top of gateway/pal-store-sqlite.c);
 * - a 400 from the webhook: that output is given up after one attempt, the session moves on.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "pal-test-util.h"

#define TOKEN "faults-token-0000000001"

/* the ordering test; 2,000 outputs as asked in issue #3 */
#define ORDER_SESSIONS	  50
#define ORDER_PER_SESSION 20
#define ORDER_OUTPUTS	  2
#define ORDER_THREADS	  4
#define ORDER_TOTAL	  (ORDER_SESSIONS * ORDER_PER_SESSION * ORDER_OUTPUTS)

static gchar *
endpoint_json(const gchar *hook, guint outputs, const gchar *webhook_extra)
{
	return g_strdup_printf("{\"name\":\"faults\",\"URLToken\":\"" TOKEN "\","
			       "\"flow\":{\"type\":\"echo\",\"outputs\":%u},"
			       "\"webhook\":{\"url\":\"%s\"%s}}",
			       outputs,
			       hook,
			       webhook_extra != NULL ? webhook_extra : "");
}

/* POSTs one message; returns the status (0 on a transport error), the error code of a JSON
 * error body in @code_out and the Retry-After header in @retry_after_out */
static guint
post_message(const gchar *url,
	     const gchar *session,
	     const gchar *text,
	     gchar **code_out,
	     gchar **retry_after_out,
	     GError **error)
{
	g_autofree gchar *body =
	    g_strdup_printf("{\"userId\":\"u\",\"sessionId\":\"%s\",\"text\":\"%s\"}", session, text);
	g_autoptr(SoupMessageHeaders) hdrs = NULL;
	g_autofree gchar *answer = NULL;
	guint status = 0;

	if (!pal_test_http_request("POST",
				   url,
				   "application/json",
				   body,
				   strlen(body),
				   NULL,
				   &status,
				   &hdrs,
				   &answer,
				   error))
		return 0;
	if (code_out != NULL) {
		g_autoptr(JsonParser) parser = json_parser_new();

		*code_out = NULL;
		if (json_parser_load_from_data(parser, answer, -1, NULL) &&
		    JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
			JsonObject *o = json_node_get_object(json_parser_get_root(parser));
			if (json_object_has_member(o, "error")) {
				JsonObject *e = json_object_get_object_member(o, "error");
				*code_out = g_strdup(json_object_get_string_member_with_default(e, "code", ""));
			}
		}
	}
	if (retry_after_out != NULL)
		*retry_after_out = g_strdup(soup_message_headers_get_one(hdrs, "Retry-After"));
	return status;
}

/* POSTs one message from the test thread and asserts 202 */
static void
post_accepted(PalTestDaemon *d, const gchar *session, const gchar *text)
{
	g_autofree gchar *url = pal_test_daemon_get_url(d, "/" TOKEN);
	g_autoptr(GError) error = NULL;
	guint status = post_message(url, session, text, NULL, NULL, &error);

	g_assert_no_error(error);
	g_assert_cmpuint(status, ==, 202);
}

/* POSTs one message and asserts 503 with code store_unavailable and a Retry-After */
static void
post_refused_store_unavailable(PalTestDaemon *d, const gchar *session, const gchar *text)
{
	g_autofree gchar *url = pal_test_daemon_get_url(d, "/" TOKEN);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *code = NULL;
	g_autofree gchar *retry_after = NULL;
	guint status = post_message(url, session, text, &code, &retry_after, &error);

	g_assert_no_error(error);
	g_assert_cmpuint(status, ==, 503);
	g_assert_cmpstr(code, ==, "store_unavailable");
	g_assert_nonnull(retry_after);
}

static guint
get_status(PalTestDaemon *d, const gchar *path, gchar **code_out)
{
	g_autofree gchar *url = pal_test_daemon_get_url(d, path);
	g_autofree gchar *answer = NULL;
	g_autoptr(GError) error = NULL;
	guint status = 0;

	g_assert_true(pal_test_http_request("GET", url, NULL, NULL, 0, NULL, &status, NULL, &answer, &error));
	g_assert_no_error(error);
	if (code_out != NULL) {
		g_autoptr(JsonNode) node = pal_test_json_parse(answer);
		JsonObject *o = json_node_get_object(node);

		*code_out = json_object_has_member(o, "error")
				? g_strdup(json_object_get_string_member(json_object_get_object_member(o, "error"), "code"))
				: NULL;
	}
	return status;
}

/* polls GET @path until it answers @status; returns the last status seen */
static guint
wait_status(PalTestDaemon *d, const gchar *path, guint status, guint timeout_ms)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	guint last;

	for (;;) {
		last = get_status(d, path, NULL);
		if (last == status || g_get_monotonic_time() >= deadline)
			return last;
		g_usleep(100 * 1000);
	}
}

/* asserts the daemon is not ready because of the store, and still alive */
static void
assert_store_unavailable(PalTestDaemon *d)
{
	g_autofree gchar *code = NULL;

	g_assert_cmpuint(get_status(d, "/readyz", &code), ==, 503);
	g_assert_cmpstr(code, ==, "store_unavailable");
	post_refused_store_unavailable(d, "refused", "refused");
	g_assert_cmpuint(get_status(d, "/healthz", NULL), ==, 200);
	g_assert_true(pal_test_daemon_is_running(d));
}

static gchar *
store_path(PalTestDaemon *d, const gchar *suffix)
{
	g_autofree gchar *name = g_strconcat("palaver.db", suffix, NULL);

	return g_build_filename(pal_test_daemon_get_dir(d), name, NULL);
}

static const gchar *const store_suffixes[] = {"", "-wal", "-shm"};

/* AIOutput.text of a delivery */
static const gchar *
request_text(PalReceivedRequest *req)
{
	JsonObject *ai = json_object_get_object_member(json_node_get_object(pal_received_request_get_json(req)),
						       "AIOutput");
	return json_object_get_string_member(ai, "text");
}

/* ======================================================================================= */
/* 1. ordering under concurrency */

typedef struct {
	GRand *rand;
	gint n_200;
	gint n_500;
	gint n_503;
	gint n_408;
} Mix;

/* runs in the receiver's thread, one request at a time: the GRand needs no lock, and the
 * Retry-After set here is the one read for this very answer */
static guint
mix_responder(PalReceiver *receiver, const PalReceivedRequest *request, gpointer user_data)
{
	Mix *mix = user_data;
	gint32 x = g_rand_int_range(mix->rand, 0, 100);

	if (x < 70) {
		pal_receiver_set_retry_after(receiver, 0);
		g_atomic_int_inc(&mix->n_200);
		return 200;
	}
	if (x < 90) {
		pal_receiver_set_retry_after(receiver, 0);
		g_atomic_int_inc(&mix->n_500);
		return 500;
	}
	/* 1 %: each one pauses the whole host for a second, which dominates the run time */
	if (x < 91) {
		pal_receiver_set_retry_after(receiver, 1);
		g_atomic_int_inc(&mix->n_503);
		return 503;
	}
	/* the remaining 9 %: a connection-level failure cannot be made by this receiver, so a
	 * 408 (retried like a timeout) instead */
	pal_receiver_set_retry_after(receiver, 0);
	g_atomic_int_inc(&mix->n_408);
	return 408;
}

typedef struct {
	gchar *url;
	guint index;
	guint n_accepted;
	gchar *failure; /* the first failure, reported by the test thread */
} Client;

/* each client owns the sessions s with s % ORDER_THREADS == index and sends their messages
 * round after round: per session, the send order is the order within this thread */
static gpointer
client_thread(gpointer user_data)
{
	Client *c = user_data;

	for (guint n = 0; n < ORDER_PER_SESSION && c->failure == NULL; n++) {
		for (guint s = c->index; s < ORDER_SESSIONS && c->failure == NULL; s += ORDER_THREADS) {
			g_autofree gchar *session = g_strdup_printf("s%02u", s);
			g_autofree gchar *text = g_strdup_printf("s%02u:%u", s, n);
			g_autoptr(GError) error = NULL;
			g_autofree gchar *code = NULL;
			guint status = post_message(c->url, session, text, &code, NULL, &error);

			if (status == 202)
				c->n_accepted++;
			else
				c->failure = g_strdup_printf("POST %s answered %u (%s)",
							     text,
							     status,
							     error != NULL ? error->message : code != NULL ? code : "");
		}
	}
	return NULL;
}

static void
test_order_concurrent(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *hook = pal_test_receiver_get_url(r, "/hook");
	/* short backoff: the run time is spent on the Retry-After pauses, not on idle retries */
	g_autofree gchar *ep =
	    endpoint_json(hook, ORDER_OUTPUTS, ",\"retryInitialMs\":20,\"retryMaxMs\":400");
	g_autoptr(GError) error = NULL;
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	const gchar *seed_env = g_getenv("PALAVER_TEST_SEED");
	guint32 seed = seed_env != NULL ? (guint32)g_ascii_strtoull(seed_env, NULL, 10) : g_random_int();
	Mix mix = {g_rand_new_with_seed(seed), 0, 0, 0, 0};
	Client clients[ORDER_THREADS];
	GThread *threads[ORDER_THREADS];
	guint next[ORDER_SESSIONS] = {0}; /* n * ORDER_OUTPUTS + turn index of the next output */
	guint64 last_seq[ORDER_SESSIONS] = {0};
	guint distinct = 0;
	guint duplicates = 0;
	guint attempts = 0;
	guint processed = 0;
	gint64 start;
	gint64 sent;
	gint64 deadline;
	gint status = -1;

	g_test_message("seed %" G_GUINT32_FORMAT " (set PALAVER_TEST_SEED to reuse it; the statuses "
		       "still depend on the arrival order)",
		       seed);
	pal_test_daemon_set_conf(d, "Server", "Workers", "2");
	pal_test_daemon_add_endpoint(d, "faults.json", ep);
	pal_test_receiver_set_responder(r, mix_responder, &mix, NULL);
	g_assert_true(pal_test_daemon_start(d, &error));
	g_assert_no_error(error);

	start = g_get_monotonic_time();
	for (guint t = 0; t < ORDER_THREADS; t++) {
		clients[t] = (Client){pal_test_daemon_get_url(d, "/" TOKEN), t, 0, NULL};
		threads[t] = g_thread_new("client", client_thread, &clients[t]);
	}
	for (guint t = 0; t < ORDER_THREADS; t++) {
		g_thread_join(threads[t]);
		if (clients[t].failure != NULL)
			g_test_message("client %u: %s", t, clients[t].failure);
		g_assert_null(clients[t].failure);
		g_assert_cmpuint(clients[t].n_accepted,
				 ==,
				 (ORDER_SESSIONS / ORDER_THREADS + (t < ORDER_SESSIONS % ORDER_THREADS)) *
				     ORDER_PER_SESSION);
		g_free(clients[t].url);
	}
	sent = g_get_monotonic_time();

	/* check the deliveries as they come: successful ones, in arrival order */
	deadline = start + 150 * G_USEC_PER_SEC;
	while (distinct < ORDER_TOTAL && g_get_monotonic_time() < deadline) {
		g_autoptr(GPtrArray) reqs = pal_test_receiver_dup_requests(r);

		for (; processed < reqs->len; processed++) {
			PalReceivedRequest *req = g_ptr_array_index(reqs, processed);
			const gchar *id = pal_received_request_get_header(req, "webhook-id");
			const gchar *text;
			guint s = 0;
			guint n = 0;
			guint index;
			guint64 seq;

			attempts++;
			g_assert_nonnull(id);
			if (pal_received_request_get_status(req) < 200 || pal_received_request_get_status(req) >= 300)
				continue;
			text = request_text(req);
			g_assert_nonnull(text);
			if (g_hash_table_contains(seen, id)) {
				/* a duplicate is the same output again */
				g_assert_cmpstr(g_hash_table_lookup(seen, id), ==, text);
				duplicates++;
				continue;
			}
			g_hash_table_insert(seen, g_strdup(id), g_strdup(text));
			distinct++;
			g_assert_cmpint(sscanf(text, "s%u:%u", &s, &n), ==, 2);
			g_assert_cmpuint(s, <, ORDER_SESSIONS);
			index = (guint)g_ascii_strtoull(pal_received_request_get_header(req, "Palaver-Turn-Index"), NULL, 10);
			g_assert_cmpuint(index, <, ORDER_OUTPUTS);
			/* the send order: message n, then its outputs in turn order */
			if (n * ORDER_OUTPUTS + index != next[s])
				g_test_message("session s%02u: got message %u output %u, expected message %u output %u",
					       s,
					       n,
					       index,
					       next[s] / ORDER_OUTPUTS,
					       next[s] % ORDER_OUTPUTS);
			g_assert_cmpuint(n * ORDER_OUTPUTS + index, ==, next[s]);
			next[s]++;
			seq = g_ascii_strtoull(pal_received_request_get_header(req, "Palaver-Session-Seq"), NULL, 10);
			g_assert_cmpuint(seq, >, last_seq[s]);
			last_seq[s] = seq;
		}
		if (distinct < ORDER_TOTAL)
			g_usleep(100 * 1000);
	}
	g_test_message("%u messages sent in %.1f s; %u distinct outputs delivered after %.1f s, %u attempts "
		       "(200: %d, 500: %d, 503+Retry-After: %d, 408: %d), %u duplicates",
		       ORDER_SESSIONS * ORDER_PER_SESSION,
		       (gdouble)(sent - start) / G_USEC_PER_SEC,
		       distinct,
		       (gdouble)(g_get_monotonic_time() - start) / G_USEC_PER_SEC,
		       attempts,
		       g_atomic_int_get(&mix.n_200),
		       g_atomic_int_get(&mix.n_500),
		       g_atomic_int_get(&mix.n_503),
		       g_atomic_int_get(&mix.n_408),
		       duplicates);
	g_assert_cmpuint(distinct, ==, ORDER_TOTAL);
	g_assert_cmpuint(g_hash_table_size(seen), ==, ORDER_TOTAL);
	for (guint s = 0; s < ORDER_SESSIONS; s++)
		g_assert_cmpuint(next[s], ==, ORDER_PER_SESSION * ORDER_OUTPUTS);
	g_assert_true(pal_test_daemon_stop(d, SIGTERM, 15000, &status, &error));
	g_assert_no_error(error);
	g_assert_cmpint(status, ==, 0);
	/* the receiver's thread calls the responder: stop it before the Mix goes */
	pal_test_receiver_stop(r);
	g_rand_free(mix.rand);
}

/* ======================================================================================= */
/* 2. the database made read-only at runtime */

/* chown -R, without following symbolic links */
static gboolean
chown_tree(const gchar *path, uid_t uid, gid_t gid)
{
	GStatBuf st;

	if (g_lstat(path, &st) != 0 || lchown(path, uid, gid) != 0) {
		g_test_message("chown %s: %s", path, g_strerror(errno));
		return FALSE;
	}
	if (S_ISDIR(st.st_mode)) {
		g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
		const gchar *name;

		while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
			g_autofree gchar *child = g_build_filename(path, name, NULL);
			if (!chown_tree(child, uid, gid))
				return FALSE;
		}
	}
	return TRUE;
}

/*
 * The tests run as root, and root passes access(W_OK) and open(O_RDWR) whatever the mode bits
 * say (CAP_DAC_OVERRIDE), so chmod alone would not make the store read-only for a root daemon.
 * The daemon of this case therefore runs as nobody:nogroup, started through a wrapper script
 * in its temporary directory that exec()s `setpriv --reuid=nobody --regid=nogroup
 * --clear-groups --pdeathsig KILL palaverd …` (the parent-death signal is cleared by the uid
 * change; --pdeathsig sets it again so that a failed test leaves no daemon behind), with the
 * directory and its files owned by nobody. Then chmod 0444 on palaver.db and its -wal/-shm is
 * exactly what a non-root palaverd meets on a read-only store.
 *
 * (chattr +i would deny root too, and works here on ext4 with CAP_LINUX_IMMUTABLE, but not on
 * every filesystem a CI may use for /tmp, e.g. tmpfs before Linux 6.0; setpriv only needs
 * root.)
 */
static gboolean
run_as_nobody(PalTestDaemon *d)
{
	const gchar *palaverd = g_getenv("PALAVERD");
	g_autofree gchar *setpriv = g_find_program_in_path("setpriv");
	g_autofree gchar *wrapper = NULL;
	g_autofree gchar *script = NULL;
	g_autofree gchar *q_setpriv = NULL;
	g_autofree gchar *q_palaverd = NULL;
	struct passwd *pw;
	struct group *gr;

	if (geteuid() != 0) {
		g_test_fail_printf("this case needs root: it runs palaverd as the user nobody (setpriv) so "
				   "that chmod can make its store read-only; running as uid %u",
				   (guint)geteuid());
		return FALSE;
	}
	if (setpriv == NULL) {
		g_test_fail_printf("this case needs setpriv (util-linux) in PATH");
		return FALSE;
	}
	pw = getpwnam("nobody");
	gr = getgrnam("nogroup");
	if (pw == NULL || gr == NULL) {
		g_test_fail_printf("this case needs the user nobody and the group nogroup");
		return FALSE;
	}
	g_assert_nonnull(palaverd);
	q_setpriv = g_shell_quote(setpriv);
	q_palaverd = g_shell_quote(palaverd);
	script = g_strdup_printf("#!/bin/sh\n"
				 "exec %s --reuid=nobody --regid=nogroup --clear-groups --pdeathsig KILL "
				 "-- %s \"$@\"\n",
				 q_setpriv,
				 q_palaverd);
	wrapper = g_build_filename(pal_test_daemon_get_dir(d), "palaverd-as-nobody", NULL);
	g_assert_true(g_file_set_contents(wrapper, script, -1, NULL));
	g_assert_cmpint(g_chmod(wrapper, 0755), ==, 0);
	pal_test_daemon_set_program(d, wrapper);
	/* a home of its own, as a service user has: GIO's dconf settings backend (loaded for the
	 * proxy resolver) wants a writable cache directory, and a critical is fatal here */
	pal_test_daemon_setenv(d, "HOME", pal_test_daemon_get_dir(d));
	pal_test_daemon_setenv(d, "XDG_CACHE_HOME", pal_test_daemon_get_dir(d));
	pal_test_daemon_setenv(d, "XDG_CONFIG_HOME", pal_test_daemon_get_dir(d));
	pal_test_daemon_setenv(d, "XDG_RUNTIME_DIR", pal_test_daemon_get_dir(d));
	if (!chown_tree(pal_test_daemon_get_dir(d), pw->pw_uid, gr->gr_gid)) {
		g_test_fail_printf("cannot give %s to nobody:nogroup", pal_test_daemon_get_dir(d));
		return FALSE;
	}
	return TRUE;
}

static void
test_db_read_only(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *hook = pal_test_receiver_get_url(r, "/hook");
	g_autofree gchar *ep = endpoint_json(hook, 1, NULL);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *pid_status = NULL;
	g_autofree gchar *status_path = NULL;
	guint mode[G_N_ELEMENTS(store_suffixes)] = {0};
	gboolean exists[G_N_ELEMENTS(store_suffixes)] = {FALSE};
	gint64 t0;
	gint status = -1;

	pal_test_daemon_add_endpoint(d, "faults.json", ep);
	if (!run_as_nobody(d))
		return;
	g_assert_true(pal_test_daemon_start(d, &error));
	g_assert_no_error(error);
	/* it does run as nobody */
	status_path = g_strdup_printf("/proc/%d/status", (gint)pal_test_daemon_get_pid(d));
	g_assert_true(g_file_get_contents(status_path, &pid_status, NULL, NULL));
	g_assert_nonnull(strstr(pid_status, "\nUid:\t65534\t65534\t"));

	g_assert_cmpuint(get_status(d, "/readyz", NULL), ==, 200);
	post_accepted(d, "before", "before");
	g_assert_true(pal_test_receiver_wait_count(r, 1, 10000));

	/* the store becomes read-only */
	for (guint i = 0; i < G_N_ELEMENTS(store_suffixes); i++) {
		g_autofree gchar *path = store_path(d, store_suffixes[i]);
		GStatBuf st;

		exists[i] = g_stat(path, &st) == 0;
		if (!exists[i])
			continue;
		g_assert_cmpuint(st.st_uid, ==, 65534);
		mode[i] = st.st_mode & 07777;
		g_assert_cmpint(g_chmod(path, 0444), ==, 0);
	}
	g_assert_true(exists[0]);
	assert_store_unavailable(d);
	/* and stays so: a second look, after the writer has met the read-only file */
	g_usleep(500 * 1000);
	assert_store_unavailable(d);
	g_assert_cmpuint(pal_test_receiver_get_count(r), ==, 1);

	/* writable again: ready again within a few seconds, and a message goes through */
	for (guint i = 0; i < G_N_ELEMENTS(store_suffixes); i++) {
		g_autofree gchar *path = store_path(d, store_suffixes[i]);
		if (exists[i])
			g_assert_cmpint(g_chmod(path, mode[i]), ==, 0);
	}
	t0 = g_get_monotonic_time();
	g_assert_cmpuint(wait_status(d, "/readyz", 200, 5000), ==, 200);
	g_test_message("ready again after %" G_GINT64_FORMAT " ms", (g_get_monotonic_time() - t0) / 1000);
	post_accepted(d, "after", "after");
	g_assert_true(pal_test_receiver_wait_count(r, 2, 10000));
	{
		g_autoptr(PalReceivedRequest) req = pal_test_receiver_dup_request(r, 1);
		g_assert_cmpstr(request_text(req), ==, "after");
	}
	g_assert_true(pal_test_daemon_stop(d, SIGTERM, 15000, &status, &error));
	g_assert_no_error(error);
	g_assert_cmpint(status, ==, 0);
}

/* ======================================================================================= */
/* 3. the database deleted at runtime */

static void
remove_store_files(PalTestDaemon *d)
{
	for (guint i = 0; i < G_N_ELEMENTS(store_suffixes); i++) {
		g_autofree gchar *path = store_path(d, store_suffixes[i]);
		if (g_unlink(path) != 0)
			g_assert_cmpint(errno, ==, ENOENT);
	}
}

/* deleted, nothing restored: 503s, no silent re-creation; a restart creates a fresh store */
static void
test_db_deleted_restart(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *hook = pal_test_receiver_get_url(r, "/hook");
	g_autofree gchar *ep = endpoint_json(hook, 1, NULL);
	g_autofree gchar *db = NULL;
	g_autoptr(GError) error = NULL;
	gint status = -1;

	pal_test_daemon_add_endpoint(d, "faults.json", ep);
	g_assert_true(pal_test_daemon_start(d, &error));
	g_assert_no_error(error);
	db = store_path(d, "");
	post_accepted(d, "before", "before");
	g_assert_true(pal_test_receiver_wait_count(r, 1, 10000));
	g_assert_cmpuint(get_status(d, "/readyz", NULL), ==, 200);

	remove_store_files(d);
	assert_store_unavailable(d);
	/* it stays so, and no empty database appears behind our back */
	g_usleep(1500 * 1000);
	assert_store_unavailable(d);
	g_assert_false(g_file_test(db, G_FILE_TEST_EXISTS));
	g_assert_cmpuint(pal_test_receiver_get_count(r), ==, 1);

	/* SIGTERM still ends it cleanly */
	g_assert_true(pal_test_daemon_stop(d, SIGTERM, 15000, &status, &error));
	g_assert_no_error(error);
	g_assert_cmpint(status, ==, 0);
	g_assert_false(g_file_test(db, G_FILE_TEST_EXISTS));

	/* a restart creates a new, empty store and is ready */
	g_assert_true(pal_test_daemon_restart(d, &error));
	g_assert_no_error(error);
	g_assert_true(g_file_test(db, G_FILE_TEST_IS_REGULAR));
	g_assert_cmpuint(wait_status(d, "/readyz", 200, 5000), ==, 200);
	post_accepted(d, "after", "after");
	g_assert_true(pal_test_receiver_wait_count(r, 2, 10000));
	{
		g_autoptr(PalReceivedRequest) req = pal_test_receiver_dup_request(r, 1);
		g_assert_cmpstr(request_text(req), ==, "after");
	}
	g_usleep(300 * 1000);
	g_assert_cmpuint(pal_test_receiver_get_count(r), ==, 2);
	g_assert_true(pal_test_daemon_stop(d, SIGTERM, 15000, &status, &error));
	g_assert_no_error(error);
	g_assert_cmpint(status, ==, 0);
}

/* deleted, then the files put back (hard links kept aside, as a restore would): ready again
 * without a restart */
static void
test_db_deleted_restored(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *hook = pal_test_receiver_get_url(r, "/hook");
	g_autofree gchar *ep = endpoint_json(hook, 1, NULL);
	g_autoptr(GError) error = NULL;
	gboolean saved[G_N_ELEMENTS(store_suffixes)] = {FALSE};
	gint64 t0;
	gint status = -1;

	pal_test_daemon_add_endpoint(d, "faults.json", ep);
	g_assert_true(pal_test_daemon_start(d, &error));
	g_assert_no_error(error);
	post_accepted(d, "before", "before");
	g_assert_true(pal_test_receiver_wait_count(r, 1, 10000));
	/* let the delivery's outbox update land: nothing is written while the files are aside */
	g_usleep(300 * 1000);

	for (guint i = 0; i < G_N_ELEMENTS(store_suffixes); i++) {
		g_autofree gchar *path = store_path(d, store_suffixes[i]);
		g_autofree gchar *aside = g_strconcat(path, ".aside", NULL);
		saved[i] = link(path, aside) == 0;
		if (!saved[i])
			g_assert_cmpint(errno, ==, ENOENT);
	}
	g_assert_true(saved[0]);
	remove_store_files(d);
	/* the writer meets the missing file (this POST) and closes its connection */
	assert_store_unavailable(d);
	g_usleep(300 * 1000);
	assert_store_unavailable(d);

	for (guint i = 0; i < G_N_ELEMENTS(store_suffixes); i++) {
		g_autofree gchar *path = store_path(d, store_suffixes[i]);
		g_autofree gchar *aside = g_strconcat(path, ".aside", NULL);
		if (saved[i])
			g_assert_cmpint(g_rename(aside, path), ==, 0);
	}
	t0 = g_get_monotonic_time();
	g_assert_cmpuint(wait_status(d, "/readyz", 200, 5000), ==, 200);
	g_test_message("ready again after %" G_GINT64_FORMAT " ms", (g_get_monotonic_time() - t0) / 1000);
	post_accepted(d, "after", "after");
	g_assert_true(pal_test_receiver_wait_count(r, 2, 10000));
	{
		g_autoptr(PalReceivedRequest) req = pal_test_receiver_dup_request(r, 1);
		g_assert_cmpstr(request_text(req), ==, "after");
	}
	g_assert_true(pal_test_daemon_stop(d, SIGTERM, 15000, &status, &error));
	g_assert_no_error(error);
	g_assert_cmpint(status, ==, 0);
}

/* ======================================================================================= */
/* 4. a 400 from the webhook, with later outputs in the same session */

static void
test_400_then_later_outputs(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autofree gchar *hook = pal_test_receiver_get_url(r, "/hook");
	/* a quick retry schedule: a wrong retry of the 400 would show within the wait below */
	g_autofree gchar *ep = endpoint_json(hook, 3, ",\"retryInitialMs\":50,\"retryMaxMs\":200");
	const guint first[] = {400};
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) reqs = NULL;
	const gchar *rejected_id;
	gint status = -1;

	pal_test_daemon_add_endpoint(d, "faults.json", ep);
	pal_test_receiver_set_status_sequence(r, first, G_N_ELEMENTS(first));
	g_assert_true(pal_test_daemon_start(d, &error));
	g_assert_no_error(error);
	post_accepted(d, "s", "m0");
	g_assert_true(pal_test_receiver_wait_count(r, 3, 10000));
	post_accepted(d, "s", "m1");
	g_assert_true(pal_test_receiver_wait_count(r, 6, 10000));
	/* nothing more: no retry of the 400 */
	g_usleep(1500 * 1000);
	reqs = pal_test_receiver_dup_requests(r);
	g_assert_cmpuint(reqs->len, ==, 6);
	rejected_id = pal_received_request_get_header(g_ptr_array_index(reqs, 0), "webhook-id");
	g_assert_cmpuint(pal_received_request_get_status(g_ptr_array_index(reqs, 0)), ==, 400);
	for (guint i = 0; i < reqs->len; i++) {
		PalReceivedRequest *req = g_ptr_array_index(reqs, i);
		g_autofree gchar *seq = g_strdup_printf("%u", i + 1);
		g_autofree gchar *index = g_strdup_printf("%u", i % 3);

		g_assert_cmpstr(request_text(req), ==, i < 3 ? "m0" : "m1");
		g_assert_cmpstr(pal_received_request_get_header(req, "Palaver-Turn-Index"), ==, index);
		g_assert_cmpstr(pal_received_request_get_header(req, "Palaver-Session-Seq"), ==, seq);
		if (i > 0) {
			g_assert_cmpuint(pal_received_request_get_status(req), ==, 200);
			g_assert_cmpstr(pal_received_request_get_header(req, "webhook-id"), !=, rejected_id);
		}
	}
	g_assert_true(pal_test_daemon_stop(d, SIGTERM, 15000, &status, &error));
	g_assert_no_error(error);
	g_assert_cmpint(status, ==, 0);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/palaver/faults/order-concurrent", test_order_concurrent);
	g_test_add_func("/palaver/faults/db-read-only", test_db_read_only);
	g_test_add_func("/palaver/faults/db-deleted-restart", test_db_deleted_restart);
	g_test_add_func("/palaver/faults/db-deleted-restored", test_db_deleted_restored);
	g_test_add_func("/palaver/faults/400-then-later-outputs", test_400_then_later_outputs);
	return g_test_run();
}
