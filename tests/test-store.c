/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PalStore: the SQLite backend on real files, and the same behaviour tests on the in-memory
 * store (durability none) */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <pwd.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "pal-error.h"
#include "pal-store-sqlite.h"

#define KEY_A "ep1\x1f" "ua\x1f" "sa"
#define KEY_B "ep2\x1f" "ub\x1f" "sb"

typedef struct {
	gboolean memory;
	gchar *dir;
	gchar *path;
	PalStore *store;
} Fixture;

static void
fixture_setup(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	fx->memory = GPOINTER_TO_INT(data);
	fx->dir = g_dir_make_tmp("palaver-store-XXXXXX", &error);
	g_assert_no_error(error);
	fx->path = g_build_filename(fx->dir, "palaver.db", NULL);
	fx->store = pal_store_sqlite_new(fx->path,
					 fx->memory ? PAL_DURABILITY_NONE : PAL_DURABILITY_CRASH,
					 &error);
	g_assert_no_error(error);
	g_assert_nonnull(fx->store);
}

static void
rm_rf(const gchar *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const gchar *name;

	if (d == NULL)
		return;
	while ((name = g_dir_read_name(d)) != NULL) {
		g_autofree gchar *p = g_build_filename(dir, name, NULL);
		g_remove(p);
	}
	g_rmdir(dir);
}

static void
fixture_teardown(Fixture *fx, gconstpointer data)
{
	/* joins the writer: nothing touches the files after this */
	pal_store_close(fx->store);
	g_clear_object(&fx->store);
	rm_rf(fx->dir);
	g_free(fx->dir);
	g_free(fx->path);
}

/* simulates a restart: a new store on the same file; FALSE for the memory store */
static gboolean
fixture_reopen(Fixture *fx)
{
	g_autoptr(GError) error = NULL;

	if (fx->memory)
		return FALSE;
	pal_store_close(fx->store);
	g_clear_object(&fx->store);
	fx->store = pal_store_sqlite_new(fx->path, PAL_DURABILITY_CRASH, &error);
	g_assert_no_error(error);
	return TRUE;
}

/* --- synchronous helpers over the async API, in the default context --- */

static void
result_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	GAsyncResult **slot = user_data;
	g_assert_null(*slot);
	*slot = g_object_ref(result);
}

static GAsyncResult *
wait_for(GAsyncResult **slot)
{
	while (*slot == NULL)
		g_main_context_iteration(NULL, TRUE);
	return *slot;
}

static GBytes *
body_for(const gchar *input_id)
{
	return g_bytes_new_take(
	    g_strdup_printf("{\"userId\":\"u\",\"sessionId\":\"s\",\"text\":\"hello %s\"}", input_id),
	    strlen("{\"userId\":\"u\",\"sessionId\":\"s\",\"text\":\"hello \"}") +
		strlen(input_id));
}

static gboolean
append(PalStore *store, const gchar *input_id, gint64 received_at, GError **error)
{
	g_autoptr(GBytes) body = body_for(input_id);
	g_autoptr(PalStoreJournalEntry) e =
	    pal_store_journal_entry_new(input_id, "ep1", "ua", "sa", 0, body, received_at);
	g_autoptr(GAsyncResult) res = NULL;

	pal_store_journal_append_async(store, e, NULL, result_cb, &res);
	return pal_store_journal_append_finish(store, wait_for(&res), error);
}

static GPtrArray *
commit(PalStore *store, PalStoreTurn *turn, GError **error)
{
	g_autoptr(GAsyncResult) res = NULL;

	pal_store_turn_commit_async(store, turn, NULL, result_cb, &res);
	return pal_store_turn_commit_finish(store, wait_for(&res), error);
}

static PalStoreOutboxRow *
out_row(const gchar *key, const gchar *webhook_id, guint index)
{
	g_autoptr(GBytes) body = g_bytes_new(webhook_id, strlen(webhook_id));
	const gchar *endpoint = g_str_has_prefix(key, "ep2") ? "ep2" : "ep1";
	gint64 now = g_get_real_time();

	return pal_store_outbox_row_new(endpoint,
					key,
					webhook_id,
					"turn",
					index,
					body,
					now,
					now + 600 * G_USEC_PER_SEC);
}

static PalStoreSession *
session_for(const gchar *key)
{
	gboolean b = g_str_has_prefix(key, "ep2");
	return pal_store_session_new(key, b ? "ep2" : "ep1", b ? "ub" : "ua", b ? "sb" : "sa");
}

/* commits a turn without journal row: one output per webhook id */
static GPtrArray *
commit_outputs(PalStore *store, const gchar *key, const gchar *const *webhook_ids)
{
	g_autoptr(PalStoreSession) s = session_for(key);
	g_autoptr(PalStoreTurn) turn = pal_store_turn_new(NULL, s);
	g_autoptr(GError) error = NULL;
	GPtrArray *rows;

	for (guint i = 0; webhook_ids[i] != NULL; i++)
		pal_store_turn_add_outbox(turn, out_row(key, webhook_ids[i], i));
	rows = commit(store, turn, &error);
	g_assert_no_error(error);
	return rows;
}

static GPtrArray *
load_journal(PalStore *store)
{
	g_autoptr(GError) error = NULL;
	GPtrArray *rows = pal_store_load_unfinished_journal(store, NULL, &error);
	g_assert_no_error(error);
	return rows;
}

static GPtrArray *
load_outbox(PalStore *store)
{
	g_autoptr(GError) error = NULL;
	GPtrArray *rows = pal_store_load_outbox(store, NULL, &error);
	g_assert_no_error(error);
	return rows;
}

static PalStoreSession *
load_session(PalStore *store, const gchar *key)
{
	g_autoptr(GError) error = NULL;
	PalStoreSession *s = NULL;
	g_assert_true(pal_store_load_session(store, key, &s, NULL, &error));
	g_assert_no_error(error);
	return s;
}

static gchar *
load_profile(PalStore *store, const gchar *endpoint, const gchar *user_id)
{
	g_autoptr(GAsyncResult) res = NULL;
	g_autoptr(GError) error = NULL;
	gchar *profile = NULL;

	pal_store_load_profile_async(store, endpoint, user_id, NULL, result_cb, &res);
	g_assert_true(pal_store_load_profile_finish(store, wait_for(&res), &profile, &error));
	g_assert_no_error(error);
	return profile;
}

static gboolean
outbox_update(PalStore *store, gint64 id, guint attempts, gint64 next, GError **error)
{
	g_autoptr(GAsyncResult) res = NULL;

	pal_store_outbox_update_async(store, id, attempts, next, NULL, result_cb, &res);
	return pal_store_outbox_update_finish(store, wait_for(&res), error);
}

static gboolean
outbox_delivered(PalStore *store, const gint64 *ids, guint n_ids, GError **error)
{
	g_autoptr(GAsyncResult) res = NULL;

	pal_store_outbox_delivered_async(store, ids, n_ids, NULL, result_cb, &res);
	return pal_store_outbox_delivered_finish(store, wait_for(&res), error);
}

static gboolean
dead_letter(PalStore *store, gint64 id, const gchar *reason, gint status, GError **error)
{
	g_autoptr(GAsyncResult) res = NULL;

	pal_store_outbox_dead_letter_async(store, id, reason, status, NULL, result_cb, &res);
	return pal_store_outbox_dead_letter_finish(store, wait_for(&res), error);
}

static GPtrArray *
dead_list(PalStore *store, const gchar *endpoint, const gchar *key, guint offset, guint limit)
{
	g_autoptr(GAsyncResult) res = NULL;
	g_autoptr(GError) error = NULL;
	GPtrArray *rows;

	pal_store_dead_letters_list_async(store, endpoint, key, offset, limit, NULL, result_cb, &res);
	rows = pal_store_dead_letters_list_finish(store, wait_for(&res), &error);
	g_assert_no_error(error);
	return rows;
}

static GPtrArray *
dead_replay(PalStore *store, const gchar *endpoint, const gchar *key, gint64 ttl)
{
	g_autoptr(GAsyncResult) res = NULL;
	g_autoptr(GError) error = NULL;
	GPtrArray *rows;

	pal_store_dead_letters_replay_async(store, endpoint, key, ttl, NULL, result_cb, &res);
	rows = pal_store_dead_letters_replay_finish(store, wait_for(&res), &error);
	g_assert_no_error(error);
	return rows;
}

static gssize
dead_purge(PalStore *store, const gchar *endpoint, const gchar *key)
{
	g_autoptr(GAsyncResult) res = NULL;
	g_autoptr(GError) error = NULL;
	gssize n;

	pal_store_dead_letters_purge_async(store, endpoint, key, NULL, result_cb, &res);
	n = pal_store_dead_letters_purge_finish(store, wait_for(&res), &error);
	g_assert_no_error(error);
	return n;
}

#define ROW(a, i) ((PalStoreOutboxRow *)g_ptr_array_index((a), (i)))

/* --- migrations and opening --- */

static gint64
raw_int(const gchar *path, const gchar *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	gint64 value;

	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
	value = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return value;
}

static void
raw_exec(const gchar *path, const gchar *sql)
{
	sqlite3 *db = NULL;

	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_exec(db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
	sqlite3_close(db);
}

static void
test_migrations(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(PalStore) other = NULL;
	g_autofree gchar *newer = g_build_filename(fx->dir, "newer.db", NULL);
	g_autofree gchar *garbage = g_build_filename(fx->dir, "garbage.db", NULL);
	g_autofree gchar *nodir = g_build_filename(fx->dir, "nope", "palaver.db", NULL);

	/* a fresh database: version 1, WAL, our application id */
	g_assert_cmpint(raw_int(fx->path, "PRAGMA user_version"), ==, PAL_STORE_SQLITE_SCHEMA_VERSION);
	g_assert_cmpint(raw_int(fx->path, "PRAGMA application_id"), ==, PAL_STORE_SQLITE_APPLICATION_ID);
	g_assert_cmpint(raw_int(fx->path, "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
					  "AND name IN ('journal', 'outbox', 'dead_letters', "
					  "'sessions', 'profiles', 'endpoints')"),
			==,
			6);
	/* reopening an up-to-date database changes nothing */
	g_assert_true(fixture_reopen(fx));
	g_assert_cmpint(raw_int(fx->path, "PRAGMA user_version"), ==, PAL_STORE_SQLITE_SCHEMA_VERSION);

	/* a newer schema is refused, naming the file and both versions */
	raw_exec(newer, "CREATE TABLE t (x); PRAGMA user_version = 99;");
	other = pal_store_sqlite_new(newer, PAL_DURABILITY_CRASH, &error);
	g_assert_null(other);
	g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
	g_test_message("%s", error->message);
	g_assert_nonnull(strstr(error->message, newer));
	g_assert_nonnull(strstr(error->message, "99"));
	g_assert_nonnull(strstr(error->message, "newer"));
	g_assert_cmpint(raw_int(newer, "PRAGMA user_version"), ==, 99);
	g_clear_error(&error);

	/* not a database */
	g_assert_true(g_file_set_contents(garbage, "this is not a sqlite database, no no", -1, NULL));
	other = pal_store_sqlite_new(garbage, PAL_DURABILITY_CRASH, &error);
	g_assert_null(other);
	g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
	g_test_message("%s", error->message);
	g_assert_nonnull(strstr(error->message, garbage));
	g_clear_error(&error);

	/* the parent directory must exist */
	other = pal_store_sqlite_new(nodir, PAL_DURABILITY_POWER, &error);
	g_assert_null(other);
	g_assert_error(error, PAL_ERROR, PAL_ERROR_UNAVAILABLE);
	g_test_message("%s", error->message);
	g_assert_nonnull(strstr(error->message, "does not exist"));
	g_assert_false(g_file_test(nodir, G_FILE_TEST_EXISTS));
}

/* --- journal --- */

static void
test_journal(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) rows = NULL;
	PalStoreJournalEntry *e;

	g_assert_true(append(fx->store, "in-b", 200, &error));
	g_assert_no_error(error);
	g_assert_true(append(fx->store, "in-c", 100, &error));
	g_assert_true(append(fx->store, "in-a", 200, &error));
	/* a duplicate input id */
	g_assert_false(append(fx->store, "in-a", 300, &error));
	g_assert_error(error, PAL_ERROR, PAL_ERROR_EXISTS);
	g_test_message("%s", error->message);
	g_clear_error(&error);

	if (fixture_reopen(fx))
		g_test_message("reopened");
	rows = load_journal(fx->store);
	g_assert_cmpuint(rows->len, ==, 3);
	/* by received_at, then input id */
	e = g_ptr_array_index(rows, 0);
	g_assert_cmpstr(e->input_id, ==, "in-c");
	g_assert_cmpint(e->received_at, ==, 100);
	g_assert_cmpstr(((PalStoreJournalEntry *)g_ptr_array_index(rows, 1))->input_id, ==, "in-a");
	e = g_ptr_array_index(rows, 2);
	g_assert_cmpstr(e->input_id, ==, "in-b");
	g_assert_cmpstr(e->endpoint, ==, "ep1");
	g_assert_cmpstr(e->user_id, ==, "ua");
	g_assert_cmpstr(e->session_id, ==, "sa");
	g_assert_cmpint(e->state, ==, PAL_STORE_JOURNAL_ACCEPTED);
	{
		g_autoptr(GBytes) expected = body_for("in-b");
		g_assert_true(g_bytes_equal(e->body, expected));
	}
}

/* --- turns --- */

static void
test_turn_commit(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(PalStoreSession) s = session_for(KEY_A);
	g_autoptr(PalStoreTurn) turn = NULL;
	g_autoptr(PalStoreTurn) again = NULL;
	g_autoptr(PalStoreTurn) bad = NULL;
	g_autoptr(PalStoreTurn) good = NULL;
	PalStoreOutboxRow *broken;
	g_autoptr(GPtrArray) rows = NULL;
	g_autoptr(GPtrArray) rows2 = NULL;
	g_autoptr(GPtrArray) journal = NULL;
	g_autoptr(GPtrArray) outbox = NULL;
	g_autoptr(PalStoreSession) loaded = NULL;
	g_autofree gchar *profile = NULL;

	g_assert_true(append(fx->store, "j1", 100, &error));
	g_assert_true(append(fx->store, "j2", 200, &error));
	g_assert_no_error(error);

	s->context = g_strdup("{\"a\":1}");
	s->entrypoint = g_strdup("start");
	s->turns = 1;
	s->last_seq = 1000; /* ignored: the store hands out seqs */
	turn = pal_store_turn_new("j1", s);
	pal_store_turn_add_outbox(turn, out_row(KEY_A, "w1", 0));
	pal_store_turn_add_outbox(turn, out_row(KEY_A, "w2", 1));
	pal_store_turn_set_profile(turn, "{\"name\":\"x\"}");
	rows = commit(fx->store, turn, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(rows->len, ==, 2);
	g_assert_cmpint(ROW(rows, 0)->id, >, 0);
	g_assert_cmpint(ROW(rows, 1)->id, >, ROW(rows, 0)->id);
	g_assert_cmpuint(ROW(rows, 0)->session_seq, ==, 1);
	g_assert_cmpuint(ROW(rows, 1)->session_seq, ==, 2);
	g_assert_cmpstr(ROW(rows, 1)->webhook_id, ==, "w2");

	fixture_reopen(fx);
	journal = load_journal(fx->store);
	g_assert_cmpuint(journal->len, ==, 1);
	g_assert_cmpstr(((PalStoreJournalEntry *)g_ptr_array_index(journal, 0))->input_id, ==, "j2");
	loaded = load_session(fx->store, KEY_A);
	g_assert_nonnull(loaded);
	g_assert_cmpstr(loaded->endpoint, ==, "ep1");
	g_assert_cmpstr(loaded->user_id, ==, "ua");
	g_assert_cmpstr(loaded->session_id, ==, "sa");
	g_assert_cmpstr(loaded->context, ==, "{\"a\":1}");
	g_assert_cmpstr(loaded->entrypoint, ==, "start");
	g_assert_cmpuint(loaded->last_seq, ==, 2);
	g_assert_cmpuint(loaded->turns, ==, 1);
	g_assert_cmpint(loaded->created_at, >, 0);
	g_clear_pointer(&loaded, pal_store_session_free);
	profile = load_profile(fx->store, "ep1", "ua");
	g_assert_cmpstr(profile, ==, "{\"name\":\"x\"}");
	g_clear_pointer(&profile, g_free);
	outbox = load_outbox(fx->store);
	g_assert_cmpuint(outbox->len, ==, 2);
	g_assert_cmpint(ROW(outbox, 0)->id, ==, ROW(rows, 0)->id);
	g_assert_cmpuint(ROW(outbox, 1)->session_seq, ==, 2);
	g_assert_true(g_bytes_equal(ROW(outbox, 1)->body, ROW(rows, 1)->body));
	g_assert_cmpint(ROW(outbox, 1)->expires_at, ==, ROW(rows, 1)->expires_at);
	g_clear_pointer(&outbox, g_ptr_array_unref);
	/* unknown sessions and profiles are not errors */
	loaded = load_session(fx->store, KEY_B);
	g_assert_null(loaded);
	profile = load_profile(fx->store, "ep1", "nobody");
	g_assert_null(profile);

	/* a turn is applied once */
	again = pal_store_turn_new("j1", s);
	g_assert_null(commit(fx->store, again, &error));
	g_assert_error(error, PAL_ERROR, PAL_ERROR_EXISTS);
	g_clear_error(&error);
	pal_store_turn_free(g_steal_pointer(&again));
	again = pal_store_turn_new("unknown", s);
	g_assert_null(commit(fx->store, again, &error));
	g_assert_error(error, PAL_ERROR, PAL_ERROR_NOT_FOUND);
	g_clear_error(&error);

	/* a failing insert (a row without a body) rolls back the whole turn */
	g_free(s->context);
	s->context = g_strdup("{\"a\":2}");
	s->turns = 2;
	bad = pal_store_turn_new("j2", s);
	pal_store_turn_add_outbox(bad, out_row(KEY_A, "w3", 0));
	broken = out_row(KEY_A, "w4", 1);
	g_clear_pointer(&broken->turn_id, g_free); /* NOT NULL */
	pal_store_turn_add_outbox(bad, broken);
	pal_store_turn_set_profile(bad, "{\"name\":\"y\"}");
	g_assert_null(commit(fx->store, bad, &error));
	g_assert_nonnull(error);
	g_test_message("%s", error->message);
	g_assert_nonnull(strstr(error->message, "outbox"));
	g_clear_error(&error);

	fixture_reopen(fx);
	g_clear_pointer(&journal, g_ptr_array_unref);
	journal = load_journal(fx->store);
	g_assert_cmpuint(journal->len, ==, 1); /* j2 still accepted */
	loaded = load_session(fx->store, KEY_A);
	g_assert_cmpstr(loaded->context, ==, "{\"a\":1}");
	g_assert_cmpuint(loaded->last_seq, ==, 2);
	g_assert_cmpuint(loaded->turns, ==, 1);
	g_clear_pointer(&loaded, pal_store_session_free);
	profile = load_profile(fx->store, "ep1", "ua");
	g_assert_cmpstr(profile, ==, "{\"name\":\"x\"}");
	g_clear_pointer(&profile, g_free);
	outbox = load_outbox(fx->store);
	g_assert_cmpuint(outbox->len, ==, 2);
	g_clear_pointer(&outbox, g_ptr_array_unref);

	/* and the corrected turn goes through, continuing the sequence; an output whose webhook
	 * id is in the outbox already (a replayed turn) is neither stored nor returned twice */
	good = pal_store_turn_new("j2", s);
	pal_store_turn_add_outbox(good, out_row(KEY_A, "w1", 0));
	pal_store_turn_add_outbox(good, out_row(KEY_A, "w3", 1));
	rows2 = commit(fx->store, good, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(rows2->len, ==, 1);
	g_assert_cmpstr(ROW(rows2, 0)->webhook_id, ==, "w3");
	g_assert_cmpuint(ROW(rows2, 0)->session_seq, ==, 3);
	outbox = load_outbox(fx->store);
	g_assert_cmpuint(outbox->len, ==, 3);
	g_clear_pointer(&outbox, g_ptr_array_unref);
	loaded = load_session(fx->store, KEY_A);
	g_assert_cmpstr(loaded->context, ==, "{\"a\":2}");
	g_assert_cmpuint(loaded->last_seq, ==, 3);
	g_assert_cmpuint(loaded->turns, ==, 2);
	g_clear_pointer(&journal, g_ptr_array_unref);
	journal = load_journal(fx->store);
	g_assert_cmpuint(journal->len, ==, 0);
}

/* outputs streamed before the turn ends: stored at once, with seqs the turn's commit
 * continues; journal and session state wait for the turn's commit */
static void
test_turn_partial(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(PalStoreSession) s = session_for(KEY_A);
	g_autoptr(PalStoreTurn) part = pal_store_turn_new("j1", s);
	g_autoptr(PalStoreTurn) final = NULL;
	g_autoptr(GPtrArray) rows = NULL;
	g_autoptr(GPtrArray) rows2 = NULL;
	g_autoptr(GPtrArray) journal = NULL;
	g_autoptr(PalStoreSession) loaded = NULL;
	gint64 ids[2];

	g_assert_true(append(fx->store, "j1", 100, &error));
	part->partial = TRUE;
	pal_store_turn_add_outbox(part, out_row(KEY_A, "p1", 0));
	pal_store_turn_add_outbox(part, out_row(KEY_A, "p2", 1));
	rows = commit(fx->store, part, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(rows->len, ==, 2);
	g_assert_cmpuint(ROW(rows, 1)->session_seq, ==, 2);
	journal = load_journal(fx->store);
	g_assert_cmpuint(journal->len, ==, 1); /* the turn is not over */
	loaded = load_session(fx->store, KEY_A);
	g_assert_nonnull(loaded);
	g_assert_null(loaded->context);
	g_assert_cmpuint(loaded->last_seq, ==, 2);
	g_assert_cmpuint(loaded->turns, ==, 0);
	g_clear_pointer(&loaded, pal_store_session_free);

	/* delivered before the turn ends: the seqs are not handed out again */
	ids[0] = ROW(rows, 0)->id;
	ids[1] = ROW(rows, 1)->id;
	g_assert_true(outbox_delivered(fx->store, ids, 2, &error));
	s->context = g_strdup("{\"done\":true}");
	s->turns = 1;
	final = pal_store_turn_new("j1", s);
	pal_store_turn_add_outbox(final, out_row(KEY_A, "p3", 2));
	rows2 = commit(fx->store, final, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(ROW(rows2, 0)->session_seq, ==, 3);
	g_clear_pointer(&journal, g_ptr_array_unref);
	journal = load_journal(fx->store);
	g_assert_cmpuint(journal->len, ==, 0);
	loaded = load_session(fx->store, KEY_A);
	g_assert_cmpstr(loaded->context, ==, "{\"done\":true}");
	g_assert_cmpuint(loaded->last_seq, ==, 3);
}

static gssize
sessions_expire(PalStore *store, const gchar *endpoint, gint64 before, gint64 forget, gint64 journal_before)
{
	g_autoptr(GAsyncResult) res = NULL;
	g_autoptr(GError) error = NULL;
	gssize n;

	pal_store_sessions_expire_async(store, endpoint, before, forget, journal_before, NULL, result_cb, &res);
	n = pal_store_sessions_expire_finish(store, wait_for(&res), &error);
	g_assert_no_error(error);
	return n;
}

/* retention: old sessions of one endpoint go, other endpoints' stay; finished journal rows
 * are pruned, unfinished ones kept */
static void
test_sessions_expire(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(PalStoreSession) a = session_for(KEY_A);
	g_autoptr(PalStoreSession) c = session_for(KEY_B);
	g_autoptr(PalStoreTurn) ta = NULL;
	g_autoptr(PalStoreTurn) tc = NULL;
	g_autoptr(GPtrArray) ra = NULL;
	g_autoptr(GPtrArray) rc = NULL;
	g_autoptr(GPtrArray) journal = NULL;
	g_autoptr(PalStoreSession) loaded = NULL;
	gint64 now = g_get_real_time();

	g_assert_true(append(fx->store, "j1", 100, &error));
	g_assert_true(append(fx->store, "j2", 200, &error));
	a->context = g_strdup("{\"x\":1}");
	a->turns = 3;
	ta = pal_store_turn_new("j1", a);
	ra = commit(fx->store, ta, &error);
	g_assert_no_error(error);
	tc = pal_store_turn_new(NULL, c);
	rc = commit(fx->store, tc, &error);
	g_assert_no_error(error);

	/* nothing is old enough yet */
	g_assert_cmpint(sessions_expire(fx->store, "ep1", now - G_GINT64_CONSTANT(3600) * G_USEC_PER_SEC, 0, 0), ==, 0);
	g_assert_cmpint(sessions_expire(fx->store, "ep1", now + G_USEC_PER_SEC, 0, now + G_USEC_PER_SEC), ==, 1);
	/* the state is gone, the sequence counter stays */
	loaded = load_session(fx->store, KEY_A);
	g_assert_nonnull(loaded);
	g_assert_null(loaded->context);
	g_assert_null(loaded->entrypoint);
	g_assert_cmpuint(loaded->turns, ==, 0);
	g_clear_pointer(&loaded, pal_store_session_free);
	g_assert_cmpint(sessions_expire(fx->store, "ep1", now + G_USEC_PER_SEC, 0, 0), ==, 0);
	/* forgotten: the row goes */
	g_assert_cmpint(sessions_expire(fx->store, "ep1", now + G_USEC_PER_SEC, now + G_USEC_PER_SEC, 0), ==, 0);
	loaded = load_session(fx->store, KEY_A);
	g_assert_null(loaded);
	loaded = load_session(fx->store, KEY_B);
	g_assert_nonnull(loaded);
	journal = load_journal(fx->store);
	g_assert_cmpuint(journal->len, ==, 1); /* j2, never finished, stays */
	g_assert_cmpint(raw_int(fx->path, "SELECT COUNT(*) FROM journal"), ==, 1);
}

static void
test_turn_invalid(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(PalStoreSession) s = session_for(KEY_A);
	g_autoptr(PalStoreTurn) orphan = pal_store_turn_new(NULL, NULL);
	g_autoptr(PalStoreTurn) mixed = pal_store_turn_new(NULL, s);

	pal_store_turn_add_outbox(orphan, out_row(KEY_A, "w1", 0));
	g_assert_null(commit(fx->store, orphan, &error));
	g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
	g_clear_error(&error);
	pal_store_turn_add_outbox(mixed, out_row(KEY_B, "w1", 0));
	g_assert_null(commit(fx->store, mixed, &error));
	g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
}

/* --- outbox --- */

static void
test_outbox(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	const gchar *b1[] = {"b1", NULL};
	const gchar *a12[] = {"a1", "a2", NULL};
	const gchar *b23[] = {"b2", "b3", NULL};
	const gchar *a3[] = {"a3", NULL};
	const gchar *order[] = {"a1", "a2", "a3", "b1", "b2", "b3"};
	g_autoptr(GPtrArray) r1 = commit_outputs(fx->store, KEY_B, b1);
	g_autoptr(GPtrArray) r2 = commit_outputs(fx->store, KEY_A, a12);
	g_autoptr(GPtrArray) r3 = commit_outputs(fx->store, KEY_B, b23);
	g_autoptr(GPtrArray) r4 = commit_outputs(fx->store, KEY_A, a3);
	g_autoptr(GPtrArray) outbox = NULL;
	gint64 ids[2];

	fixture_reopen(fx);
	outbox = load_outbox(fx->store);
	g_assert_cmpuint(outbox->len, ==, 6);
	for (guint i = 0; i < 6; i++) {
		g_assert_cmpstr(ROW(outbox, i)->webhook_id, ==, order[i]);
		g_assert_cmpuint(ROW(outbox, i)->session_seq, ==, i % 3 + 1);
		g_assert_cmpuint(ROW(outbox, i)->attempts, ==, 0);
	}
	g_assert_cmpstr(ROW(outbox, 3)->endpoint, ==, "ep2");

	g_assert_true(outbox_update(fx->store, ROW(r2, 0)->id, 3, 12345, &error));
	g_assert_no_error(error);
	g_assert_false(outbox_update(fx->store, 999999, 1, 1, &error));
	g_assert_error(error, PAL_ERROR, PAL_ERROR_NOT_FOUND);
	g_clear_error(&error);

	ids[0] = ROW(r1, 0)->id;
	ids[1] = 424242; /* unknown ids are ignored */
	g_assert_true(outbox_delivered(fx->store, ids, 2, &error));
	g_assert_no_error(error);

	fixture_reopen(fx);
	g_clear_pointer(&outbox, g_ptr_array_unref);
	outbox = load_outbox(fx->store);
	g_assert_cmpuint(outbox->len, ==, 5);
	g_assert_cmpstr(ROW(outbox, 0)->webhook_id, ==, "a1");
	g_assert_cmpuint(ROW(outbox, 0)->attempts, ==, 3);
	g_assert_cmpint(ROW(outbox, 0)->next_attempt_at, ==, 12345);
	g_assert_cmpstr(ROW(outbox, 3)->webhook_id, ==, "b2");
	(void)r3;
	(void)r4;
}

/* --- dead letters --- */

static void
test_dead_letters(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	const gchar *a123[] = {"a1", "a2", "a3", NULL};
	const gchar *b12[] = {"b1", "b2", NULL};
	const gchar *a4[] = {"a4", NULL};
	const gchar *a7[] = {"a7", NULL};
	g_autoptr(GPtrArray) ra = commit_outputs(fx->store, KEY_A, a123);
	g_autoptr(GPtrArray) rb = commit_outputs(fx->store, KEY_B, b12);
	g_autoptr(GPtrArray) list = NULL;
	g_autoptr(GPtrArray) r4 = NULL;
	g_autoptr(GPtrArray) replayed = NULL;
	g_autoptr(GPtrArray) r7 = NULL;
	g_autoptr(GPtrArray) outbox = NULL;
	g_autoptr(PalStoreSession) sa = NULL;
	PalStoreDeadLetter *d;
	gint64 before;

	/* the second one first: the list is by session order, not by failure time */
	g_assert_true(dead_letter(fx->store, ROW(ra, 1)->id, "expired", 0, &error));
	g_assert_true(dead_letter(fx->store, ROW(ra, 0)->id, "expired", 503, &error));
	g_assert_true(dead_letter(fx->store, ROW(rb, 0)->id, "HTTP 410", 410, &error));
	g_assert_no_error(error);
	g_assert_false(dead_letter(fx->store, ROW(rb, 0)->id, "again", 0, &error));
	g_assert_error(error, PAL_ERROR, PAL_ERROR_NOT_FOUND);
	g_clear_error(&error);

	fixture_reopen(fx);
	list = dead_list(fx->store, NULL, NULL, 0, 0);
	g_assert_cmpuint(list->len, ==, 3);
	d = g_ptr_array_index(list, 0);
	g_assert_cmpstr(d->row->webhook_id, ==, "a1");
	g_assert_cmpint(d->row->id, ==, ROW(ra, 0)->id);
	g_assert_cmpuint(d->row->session_seq, ==, 1);
	g_assert_cmpstr(d->reason, ==, "expired");
	g_assert_cmpint(d->last_status, ==, 503);
	g_assert_cmpint(d->failed_at, >, 0);
	g_assert_true(g_bytes_equal(d->row->body, ROW(ra, 0)->body));
	g_assert_cmpstr(((PalStoreDeadLetter *)g_ptr_array_index(list, 1))->row->webhook_id, ==, "a2");
	d = g_ptr_array_index(list, 2);
	g_assert_cmpstr(d->row->webhook_id, ==, "b1");
	g_assert_cmpint(d->last_status, ==, 410);
	g_clear_pointer(&list, g_ptr_array_unref);

	/* filters and paging */
	list = dead_list(fx->store, "ep2", NULL, 0, 0);
	g_assert_cmpuint(list->len, ==, 1);
	g_clear_pointer(&list, g_ptr_array_unref);
	list = dead_list(fx->store, NULL, KEY_A, 0, 0);
	g_assert_cmpuint(list->len, ==, 2);
	g_clear_pointer(&list, g_ptr_array_unref);
	list = dead_list(fx->store, "ep1", KEY_B, 0, 0);
	g_assert_cmpuint(list->len, ==, 0);
	g_clear_pointer(&list, g_ptr_array_unref);
	list = dead_list(fx->store, NULL, NULL, 1, 1);
	g_assert_cmpuint(list->len, ==, 1);
	g_assert_cmpstr(((PalStoreDeadLetter *)g_ptr_array_index(list, 0))->row->webhook_id, ==, "a2");
	g_clear_pointer(&list, g_ptr_array_unref);
	list = dead_list(fx->store, NULL, NULL, 2, 10);
	g_assert_cmpuint(list->len, ==, 1);
	g_clear_pointer(&list, g_ptr_array_unref);
	list = dead_list(fx->store, NULL, NULL, 5, 0);
	g_assert_cmpuint(list->len, ==, 0);
	g_clear_pointer(&list, g_ptr_array_unref);

	/* the session went on meanwhile */
	r4 = commit_outputs(fx->store, KEY_A, a4);
	g_assert_cmpuint(ROW(r4, 0)->session_seq, ==, 4);

	/* replay: original order, new ids, seqs after the session's last one, fresh TTL */
	before = g_get_real_time();
	replayed = dead_replay(fx->store, NULL, KEY_A, 60 * G_USEC_PER_SEC);
	g_assert_cmpuint(replayed->len, ==, 2);
	g_assert_cmpstr(ROW(replayed, 0)->webhook_id, ==, "a1");
	g_assert_cmpstr(ROW(replayed, 1)->webhook_id, ==, "a2");
	g_assert_cmpuint(ROW(replayed, 0)->session_seq, ==, 5);
	g_assert_cmpuint(ROW(replayed, 1)->session_seq, ==, 6);
	g_assert_cmpint(ROW(replayed, 0)->id, >, ROW(r4, 0)->id);
	g_assert_cmpuint(ROW(replayed, 0)->attempts, ==, 0);
	g_assert_cmpint(ROW(replayed, 0)->expires_at, >=, before + 60 * G_USEC_PER_SEC);
	g_assert_cmpint(ROW(replayed, 0)->expires_at, <=, g_get_real_time() + 60 * G_USEC_PER_SEC);
	g_assert_true(g_bytes_equal(ROW(replayed, 1)->body, ROW(ra, 1)->body));

	fixture_reopen(fx);
	sa = load_session(fx->store, KEY_A);
	g_assert_cmpuint(sa->last_seq, ==, 6);
	list = dead_list(fx->store, NULL, NULL, 0, 0);
	g_assert_cmpuint(list->len, ==, 1);
	g_clear_pointer(&list, g_ptr_array_unref);
	outbox = load_outbox(fx->store);
	/* a3 (3), a4 (4), a1 (5), a2 (6), b2 */
	g_assert_cmpuint(outbox->len, ==, 5);
	g_assert_cmpstr(ROW(outbox, 0)->webhook_id, ==, "a3");
	g_assert_cmpstr(ROW(outbox, 1)->webhook_id, ==, "a4");
	g_assert_cmpstr(ROW(outbox, 2)->webhook_id, ==, "a1");
	g_assert_cmpuint(ROW(outbox, 2)->session_seq, ==, 5);
	g_assert_cmpstr(ROW(outbox, 3)->webhook_id, ==, "a2");
	g_assert_cmpstr(ROW(outbox, 4)->webhook_id, ==, "b2");
	r7 = commit_outputs(fx->store, KEY_A, a7);
	g_assert_cmpuint(ROW(r7, 0)->session_seq, ==, 7);

	/* a replay of nothing */
	g_clear_pointer(&replayed, g_ptr_array_unref);
	replayed = dead_replay(fx->store, "ep1", NULL, G_USEC_PER_SEC);
	g_assert_cmpuint(replayed->len, ==, 0);

	/* purge */
	g_assert_cmpint(dead_purge(fx->store, "ep1", NULL), ==, 0);
	g_assert_true(dead_letter(fx->store, ROW(r7, 0)->id, "expired", 0, &error));
	g_assert_cmpint(dead_purge(fx->store, NULL, KEY_B), ==, 1);
	g_assert_cmpint(dead_purge(fx->store, NULL, NULL), ==, 1);
	list = dead_list(fx->store, NULL, NULL, 0, 0);
	g_assert_cmpuint(list->len, ==, 0);
}

/* --- runtime endpoints --- */

static gboolean
endpoint_put(PalStore *store, const gchar *name, const gchar *json, GError **error)
{
	g_autoptr(GAsyncResult) res = NULL;

	pal_store_endpoint_put_async(store, name, json, NULL, result_cb, &res);
	return pal_store_endpoint_put_finish(store, wait_for(&res), error);
}

static gboolean
endpoint_delete(PalStore *store, const gchar *name, GError **error)
{
	g_autoptr(GAsyncResult) res = NULL;

	pal_store_endpoint_delete_async(store, name, NULL, result_cb, &res);
	return pal_store_endpoint_delete_finish(store, wait_for(&res), error);
}

static GPtrArray *
endpoints_list(PalStore *store)
{
	g_autoptr(GAsyncResult) res = NULL;
	g_autoptr(GError) error = NULL;
	GPtrArray *list;

	pal_store_endpoints_list_async(store, NULL, result_cb, &res);
	list = pal_store_endpoints_list_finish(store, wait_for(&res), &error);
	g_assert_no_error(error);
	return list;
}

static void
test_endpoints(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) list = NULL;
	PalStoreEndpoint *e;

	g_assert_true(endpoint_put(fx->store, "support", "{\"name\":\"support\"}", &error));
	g_assert_true(endpoint_put(fx->store, "billing", "{\"name\":\"billing\"}", &error));
	g_assert_true(endpoint_put(fx->store, "support", "{\"name\":\"support\",\"v\":2}", &error));
	g_assert_no_error(error);
	list = endpoints_list(fx->store);
	g_assert_cmpuint(list->len, ==, 2);
	e = g_ptr_array_index(list, 1);
	g_assert_cmpstr(e->name, ==, "support");
	g_assert_cmpstr(e->json, ==, "{\"name\":\"support\",\"v\":2}");
	g_assert_cmpint(e->created_at, >, 0);
	g_assert_cmpint(e->created_at, <=, e->updated_at);
	g_clear_pointer(&list, g_ptr_array_unref);

	g_assert_true(endpoint_delete(fx->store, "billing", &error));
	g_assert_no_error(error);
	g_assert_false(endpoint_delete(fx->store, "billing", &error));
	g_assert_error(error, PAL_ERROR, PAL_ERROR_NOT_FOUND);
	g_clear_error(&error);

	fixture_reopen(fx);
	list = endpoints_list(fx->store);
	g_assert_cmpuint(list->len, ==, 1);
	g_assert_cmpstr(((PalStoreEndpoint *)g_ptr_array_index(list, 0))->name, ==, "support");
}

/* --- the control plane: sessions listed and reset, endpoint states (issue #6) --- */

static PalStoreSessionPage *
sessions_list(PalStore *store, const gchar *endpoint, guint offset, guint limit)
{
	g_autoptr(GAsyncResult) res = NULL;
	g_autoptr(GError) error = NULL;
	PalStoreSessionPage *page;

	pal_store_sessions_list_async(store, endpoint, offset, limit, NULL, result_cb, &res);
	page = pal_store_sessions_list_finish(store, wait_for(&res), &error);
	g_assert_no_error(error);
	g_assert_nonnull(page);
	return page;
}

static gboolean
session_reset(PalStore *store, const gchar *key, GError **error)
{
	g_autoptr(GAsyncResult) res = NULL;

	pal_store_session_reset_async(store, key, NULL, result_cb, &res);
	return pal_store_session_reset_finish(store, wait_for(&res), error);
}

static void
test_sessions_list_reset(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(PalStoreSessionPage) page = NULL;
	g_autoptr(PalStoreSession) loaded = NULL;
	const gchar *keys[] = {KEY_A, KEY_B, "ep1\x1f" "uc\x1f" "sc"};

	for (guint i = 0; i < G_N_ELEMENTS(keys); i++) {
		g_autoptr(PalStoreSession) s = session_for(keys[i]);
		g_autoptr(PalStoreTurn) t = NULL;
		g_autoptr(GPtrArray) rows = NULL;
		g_autofree gchar *id = g_strdup_printf("w%u", i);

		s->context = g_strdup("{\"step\":2}");
		s->entrypoint = g_strdup("ask");
		s->handover = TRUE;
		s->turns = 4;
		s->updated_at = 1000 + i; /* KEY_C is the most recent */
		t = pal_store_turn_new(NULL, s);
		pal_store_turn_add_outbox(t, out_row(keys[i], id, 0));
		rows = commit(fx->store, t, &error);
		g_assert_no_error(error);
	}
	/* all, most recently updated first, with the total */
	page = sessions_list(fx->store, NULL, 0, 0);
	g_assert_cmpuint(page->total, ==, 3);
	g_assert_cmpuint(page->sessions->len, ==, 3);
	g_assert_cmpstr(((PalStoreSession *)g_ptr_array_index(page->sessions, 0))->session_key, ==, keys[2]);
	g_assert_cmpstr(((PalStoreSession *)g_ptr_array_index(page->sessions, 2))->session_key, ==, KEY_A);
	g_clear_pointer(&page, pal_store_session_page_free);
	/* one endpoint, paged */
	page = sessions_list(fx->store, "ep1", 1, 1);
	g_assert_cmpuint(page->total, ==, 2);
	g_assert_cmpuint(page->sessions->len, ==, 1);
	g_assert_cmpstr(((PalStoreSession *)g_ptr_array_index(page->sessions, 0))->session_key, ==, KEY_A);
	g_assert_cmpstr(((PalStoreSession *)g_ptr_array_index(page->sessions, 0))->context, ==, "{\"step\":2}");
	g_clear_pointer(&page, pal_store_session_page_free);
	page = sessions_list(fx->store, "nope", 0, 10);
	g_assert_cmpuint(page->total, ==, 0);
	g_assert_cmpuint(page->sessions->len, ==, 0);

	/* reset: the state goes, the sequence counter stays */
	g_assert_true(session_reset(fx->store, KEY_A, &error));
	g_assert_no_error(error);
	loaded = load_session(fx->store, KEY_A);
	g_assert_nonnull(loaded);
	g_assert_null(loaded->context);
	g_assert_null(loaded->entrypoint);
	g_assert_false(loaded->handover);
	g_assert_cmpuint(loaded->turns, ==, 0);
	g_assert_cmpuint(loaded->last_seq, ==, 1);
	g_assert_cmpint(loaded->updated_at, >, 1000);
	g_clear_pointer(&loaded, pal_store_session_free);
	loaded = load_session(fx->store, KEY_B);
	g_assert_cmpstr(loaded->context, ==, "{\"step\":2}");
	g_assert_false(session_reset(fx->store, "ep9\x1f" "u\x1f" "s", &error));
	g_assert_error(error, PAL_ERROR, PAL_ERROR_NOT_FOUND);
}

static gboolean
endpoint_state_set(PalStore *store, const gchar *name, gint active)
{
	g_autoptr(GAsyncResult) res = NULL;
	g_autoptr(GError) error = NULL;
	gboolean ok;

	pal_store_endpoint_state_set_async(store, name, active, NULL, result_cb, &res);
	ok = pal_store_endpoint_state_set_finish(store, wait_for(&res), &error);
	g_assert_no_error(error);
	return ok;
}

static void
test_endpoint_states(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GHashTable) states = NULL;
	gpointer value = NULL;

	g_assert_true(endpoint_state_set(fx->store, "support", 0));
	g_assert_true(endpoint_state_set(fx->store, "billing", 1));
	g_assert_true(endpoint_state_set(fx->store, "billing", 0));
	g_assert_true(endpoint_state_set(fx->store, "gone", 1));
	g_assert_true(endpoint_state_set(fx->store, "gone", -1));
	g_assert_true(endpoint_state_set(fx->store, "never", -1)); /* deleting none is no error */
	fixture_reopen(fx);
	/* the synchronous loader palaverd uses at start */
	states = pal_store_endpoint_states_list(fx->store, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(g_hash_table_size(states), ==, 2);
	g_assert_true(g_hash_table_lookup_extended(states, "support", NULL, &value));
	g_assert_cmpint(GPOINTER_TO_INT(value), ==, 0);
	g_assert_true(g_hash_table_lookup_extended(states, "billing", NULL, &value));
	g_assert_cmpint(GPOINTER_TO_INT(value), ==, 0);
	g_assert_false(g_hash_table_contains(states, "gone"));
	/* the runtime endpoints' synchronous loader too */
	g_assert_true(endpoint_put(fx->store, "support", "{}", &error));
	{
		g_autoptr(GPtrArray) list = pal_store_endpoints_list(fx->store, NULL, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(list->len, ==, 1);
	}
}

/* a database of schema 1 (before issue #6) gets the endpoint states table, keeping its rows */
static void
test_migration_v2(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(endpoint_put(fx->store, "kept", "{}", &error));
	pal_store_close(fx->store);
	g_clear_object(&fx->store);
	raw_exec(fx->path, "DROP TABLE endpoint_states; PRAGMA user_version = 1;");
	g_assert_cmpint(raw_int(fx->path, "PRAGMA user_version"), ==, 1);
	fx->store = pal_store_sqlite_new(fx->path, PAL_DURABILITY_CRASH, &error);
	g_assert_no_error(error);
	g_assert_cmpint(raw_int(fx->path, "PRAGMA user_version"), ==, 2);
	g_assert_true(endpoint_state_set(fx->store, "kept", 0));
	g_assert_cmpint(raw_int(fx->path, "SELECT COUNT(*) FROM endpoints"), ==, 1);
	g_assert_cmpint(raw_int(fx->path, "SELECT COUNT(*) FROM endpoint_states"), ==, 1);
}

/* --- concurrency and group commit --- */

typedef struct {
	PalStore *store;
	guint index;
	guint n;
	guint window; /* ops in flight per thread; 0 = all at once */
	GMainContext *context;
	GThread *thread;
	guint submitted;
	guint done;
	guint failed;
} Worker;

static void
worker_submit(Worker *w);

static void
worker_append_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	Worker *w = user_data;
	g_autoptr(GError) error = NULL;

	/* the result arrives in the caller's own context and thread */
	g_assert_true(g_main_context_is_owner(w->context));
	g_assert_true(g_main_context_get_thread_default() == w->context);
	g_assert_true(g_thread_self() == w->thread);
	if (!pal_store_journal_append_finish(PAL_STORE(source), result, &error)) {
		g_printerr("append failed: %s\n", error->message);
		w->failed++;
	}
	w->done++;
	worker_submit(w);
}

static void
worker_submit(Worker *w)
{
	while (w->submitted < w->n && (w->window == 0 || w->submitted - w->done < w->window)) {
		g_autofree gchar *id = g_strdup_printf("t%u-%06u", w->index, w->submitted);
		g_autoptr(GBytes) body = body_for(id);
		g_autoptr(PalStoreJournalEntry) e = pal_store_journal_entry_new(id,
										"ep1",
										"user",
										id,
										0,
										body,
										g_get_real_time());
		pal_store_journal_append_async(w->store, e, NULL, worker_append_cb, w);
		w->submitted++;
	}
}

static gpointer
worker_thread(gpointer data)
{
	Worker *w = data;

	w->thread = g_thread_self();
	g_main_context_push_thread_default(w->context);
	worker_submit(w);
	while (w->done < w->n)
		g_main_context_iteration(w->context, TRUE);
	g_main_context_pop_thread_default(w->context);
	return NULL;
}

/* @n_threads threads append @per_thread entries each; returns the seconds taken */
static gdouble
run_workers(PalStore *store, guint n_threads, guint per_thread, guint window)
{
	g_autofree Worker *workers = g_new0(Worker, n_threads);
	GThread *threads[8];
	gint64 start = g_get_monotonic_time();

	g_assert_cmpuint(n_threads, <=, G_N_ELEMENTS(threads));
	for (guint i = 0; i < n_threads; i++) {
		workers[i].store = store;
		workers[i].index = i;
		workers[i].n = per_thread;
		workers[i].window = window;
		workers[i].context = g_main_context_new();
		threads[i] = g_thread_new("store-caller", worker_thread, &workers[i]);
	}
	for (guint i = 0; i < n_threads; i++) {
		g_thread_join(threads[i]);
		g_assert_cmpuint(workers[i].failed, ==, 0);
		g_assert_cmpuint(workers[i].done, ==, per_thread);
		g_main_context_unref(workers[i].context);
	}
	return (gdouble)(g_get_monotonic_time() - start) / G_USEC_PER_SEC;
}

static void
test_threads(Fixture *fx, gconstpointer data)
{
	PalStoreSqlite *sqlite = PAL_STORE_SQLITE(fx->store);
	guint64 tx0 = pal_store_sqlite_get_n_transactions(sqlite);
	guint64 ops0 = pal_store_sqlite_get_n_ops(sqlite);
	g_autoptr(GPtrArray) journal = NULL;
	guint64 tx;
	gdouble secs;

	secs = run_workers(fx->store, 2, 5000, 0);
	tx = pal_store_sqlite_get_n_transactions(sqlite) - tx0;
	g_test_message("%s: 2 threads x 5000 appends: %" G_GUINT64_FORMAT
		       " ops in %" G_GUINT64_FORMAT " transactions, %.3f s, %.0f ops/s",
		       fx->memory ? "memory" : "sqlite crash",
		       pal_store_sqlite_get_n_ops(sqlite) - ops0,
		       tx,
		       secs,
		       10000 / secs);
	g_assert_cmpuint(pal_store_sqlite_get_n_ops(sqlite) - ops0, ==, 10000);
	/* group commit: far fewer transactions than ops */
	g_assert_cmpuint(tx, <=, 10000 / 10);
	g_assert_cmpuint(tx, >=, 10000 / PAL_STORE_SQLITE_MAX_BATCH);

	fixture_reopen(fx);
	journal = load_journal(fx->store);
	g_assert_cmpuint(journal->len, ==, 10000);
}

/* a failing op inside a group fails alone */
static void
test_group_isolation(Fixture *fx, gconstpointer data)
{
	GAsyncResult *results[200] = {NULL};
	guint n_ok = 0;
	g_autoptr(GPtrArray) journal = NULL;

	for (guint i = 0; i < G_N_ELEMENTS(results); i++) {
		g_autofree gchar *id = g_strdup_printf("g%03u", i == 150 ? 50 : i);
		g_autoptr(GBytes) body = body_for(id);
		g_autoptr(PalStoreJournalEntry) e =
		    pal_store_journal_entry_new(id, "ep1", "u", "s", 0, body, i);
		pal_store_journal_append_async(fx->store, e, NULL, result_cb, &results[i]);
	}
	for (guint i = 0; i < G_N_ELEMENTS(results); i++) {
		g_autoptr(GError) error = NULL;
		if (pal_store_journal_append_finish(fx->store, wait_for(&results[i]), &error)) {
			n_ok++;
		} else {
			g_assert_cmpuint(i, ==, 150);
			g_assert_error(error, PAL_ERROR, PAL_ERROR_EXISTS);
		}
		g_object_unref(results[i]);
	}
	g_assert_cmpuint(n_ok, ==, 199);
	journal = load_journal(fx->store);
	g_assert_cmpuint(journal->len, ==, 199);
}

static void
test_cancel(Fixture *fx, gconstpointer data)
{
	g_autoptr(GCancellable) cancellable = g_cancellable_new();
	g_autoptr(GBytes) body = body_for("c1");
	g_autoptr(PalStoreJournalEntry) e =
	    pal_store_journal_entry_new("c1", "ep1", "u", "s", 0, body, 1);
	g_autoptr(GAsyncResult) res = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) journal = NULL;

	g_cancellable_cancel(cancellable);
	pal_store_journal_append_async(fx->store, e, cancellable, result_cb, &res);
	g_assert_false(pal_store_journal_append_finish(fx->store, wait_for(&res), &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	journal = load_journal(fx->store);
	g_assert_cmpuint(journal->len, ==, 0);
}

/* close completes what was queued, then refuses */
static void
test_close(Fixture *fx, gconstpointer data)
{
	GAsyncResult *results[1000] = {NULL};
	g_autoptr(GError) error = NULL;

	for (guint i = 0; i < G_N_ELEMENTS(results); i++) {
		g_autofree gchar *id = g_strdup_printf("q%04u", i);
		g_autoptr(GBytes) body = body_for(id);
		g_autoptr(PalStoreJournalEntry) e =
		    pal_store_journal_entry_new(id, "ep1", "u", "s", 0, body, i);
		pal_store_journal_append_async(fx->store, e, NULL, result_cb, &results[i]);
	}
	pal_store_close(fx->store);
	for (guint i = 0; i < G_N_ELEMENTS(results); i++) {
		g_assert_true(
		    pal_store_journal_append_finish(fx->store, wait_for(&results[i]), &error));
		g_assert_no_error(error);
		g_object_unref(results[i]);
	}
	g_assert_false(append(fx->store, "late", 1, &error));
	g_assert_error(error, PAL_ERROR, PAL_ERROR_UNAVAILABLE);
	g_clear_error(&error);
	g_assert_false(pal_store_check(fx->store, &error));
	g_assert_error(error, PAL_ERROR, PAL_ERROR_UNAVAILABLE);
	pal_store_close(fx->store); /* again: a no-op */

	if (fixture_reopen(fx)) {
		g_autoptr(GPtrArray) journal = load_journal(fx->store);
		g_assert_cmpuint(journal->len, ==, 1000);
	}
}

/* --- SQLite only: limits and files changing under the store --- */

static void
test_queue_limit(Fixture *fx, gconstpointer data)
{
	PalStoreSqlite *sqlite = PAL_STORE_SQLITE(fx->store);
	GAsyncResult *results[16] = {NULL};
	GAsyncResult *first = NULL;
	g_autoptr(GError) error = NULL;
	sqlite3 *blocker = NULL;
	guint64 ops0 = pal_store_sqlite_get_n_ops(sqlite);
	guint n_busy = 0;

	pal_store_sqlite_set_max_queue(sqlite, 10);
	/* another connection holds the write lock: the writer waits in its first op */
	g_assert_cmpint(sqlite3_open(fx->path, &blocker), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL), ==, SQLITE_OK);
	{
		g_autoptr(GBytes) body = body_for("first");
		g_autoptr(PalStoreJournalEntry) e =
		    pal_store_journal_entry_new("first", "ep1", "u", "s", 0, body, 0);
		pal_store_journal_append_async(fx->store, e, NULL, result_cb, &first);
	}
	while (pal_store_sqlite_get_n_ops(sqlite) == ops0)
		g_usleep(1000);
	for (guint i = 0; i < G_N_ELEMENTS(results); i++) {
		g_autofree gchar *id = g_strdup_printf("l%02u", i);
		g_autoptr(GBytes) body = body_for(id);
		g_autoptr(PalStoreJournalEntry) e =
		    pal_store_journal_entry_new(id, "ep1", "u", "s", 0, body, i);
		pal_store_journal_append_async(fx->store, e, NULL, result_cb, &results[i]);
	}
	g_assert_false(pal_store_check(fx->store, &error));
	g_assert_error(error, PAL_ERROR, PAL_ERROR_BUSY);
	g_clear_error(&error);
	g_assert_cmpint(sqlite3_exec(blocker, "COMMIT", NULL, NULL, NULL), ==, SQLITE_OK);
	sqlite3_close(blocker);

	g_assert_true(pal_store_journal_append_finish(fx->store, wait_for(&first), &error));
	g_assert_no_error(error);
	g_object_unref(first);
	for (guint i = 0; i < G_N_ELEMENTS(results); i++) {
		if (pal_store_journal_append_finish(fx->store, wait_for(&results[i]), &error)) {
			g_assert_cmpuint(i, <, 10);
		} else {
			g_assert_error(error, PAL_ERROR, PAL_ERROR_BUSY);
			g_assert_cmpuint(i, >=, 10);
			n_busy++;
			g_clear_error(&error);
		}
		g_object_unref(results[i]);
	}
	g_assert_cmpuint(n_busy, ==, 6);
	g_assert_true(pal_store_check(fx->store, &error));
}

/* needs a non-root user: root writes read-only files. Runs in a subprocess that drops to
 * "nobody" when started as root */
static void
read_only_body(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *dir = NULL;
	g_autofree gchar *path = NULL;
	g_autofree gchar *wal = NULL;
	g_autoptr(PalStore) store = NULL;
	g_autoptr(GPtrArray) journal = NULL;

	if (geteuid() == 0) {
		struct passwd *pw = getpwnam("nobody");
		g_assert_nonnull(pw);
		g_assert_cmpint(setgid(pw->pw_gid), ==, 0);
		g_assert_cmpint(setuid(pw->pw_uid), ==, 0);
		/* setuid clears it; LeakSanitizer needs it to inspect the threads */
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	}
	g_assert_cmpint(geteuid(), !=, 0);
	dir = g_dir_make_tmp("palaver-store-ro-XXXXXX", &error);
	g_assert_no_error(error);
	path = g_build_filename(dir, "palaver.db", NULL);
	wal = g_strconcat(path, "-wal", NULL);
	store = pal_store_sqlite_new(path, PAL_DURABILITY_CRASH, &error);
	g_assert_no_error(error);
	g_assert_true(append(store, "r1", 1, &error));
	g_assert_true(pal_store_check(store, &error));
	g_assert_no_error(error);

	g_assert_cmpint(g_chmod(path, 0444), ==, 0);
	g_assert_cmpint(g_chmod(wal, 0444), ==, 0);
	g_assert_false(pal_store_check(store, &error));
	g_assert_error(error, PAL_ERROR, PAL_ERROR_UNAVAILABLE);
	g_clear_error(&error);
	g_assert_false(append(store, "r2", 2, &error));
	g_assert_error(error, PAL_ERROR, PAL_ERROR_UNAVAILABLE);
	g_printerr("read-only: %s\n", error->message);
	g_assert_nonnull(strstr(error->message, path));
	g_assert_nonnull(strstr(error->message, "not writable"));
	g_clear_error(&error);

	g_assert_cmpint(g_chmod(path, 0644), ==, 0);
	g_assert_cmpint(g_chmod(wal, 0644), ==, 0);
	g_assert_true(pal_store_check(store, &error));
	g_assert_true(append(store, "r2", 2, &error));
	g_assert_no_error(error);
	journal = load_journal(store);
	g_assert_cmpuint(journal->len, ==, 2);
	g_clear_object(&store);
	rm_rf(dir);
}

static void
test_read_only(void)
{
	if (g_test_subprocess()) {
		read_only_body();
		return;
	}
	if (geteuid() == 0 && getpwnam("nobody") == NULL) {
		g_test_skip("running as root without a nobody user");
		return;
	}
	g_test_trap_subprocess(NULL, 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
	g_test_trap_assert_passed();
	g_test_trap_assert_stderr("*read-only: *not writable*");
}

/* removing the file: ops fail with a clear error until a database is back at the path */
static void
test_removed(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) journal = NULL;

	g_assert_true(append(fx->store, "x1", 1, &error));
	g_assert_no_error(error);
	g_assert_cmpint(g_unlink(fx->path), ==, 0);

	g_assert_false(pal_store_check(fx->store, &error));
	g_assert_error(error, PAL_ERROR, PAL_ERROR_UNAVAILABLE);
	g_clear_error(&error);
	g_test_expect_message("PalCore", G_LOG_LEVEL_WARNING, "*missing or not accessible*");
	g_assert_false(append(fx->store, "x2", 2, &error));
	g_test_assert_expected_messages();
	g_assert_error(error, PAL_ERROR, PAL_ERROR_UNAVAILABLE);
	g_test_message("%s", error->message);
	g_assert_nonnull(strstr(error->message, fx->path));
	g_clear_error(&error);
	/* still failing, and no empty database was created behind our back */
	g_assert_false(append(fx->store, "x2", 2, &error));
	g_assert_error(error, PAL_ERROR, PAL_ERROR_UNAVAILABLE);
	g_test_message("%s", error->message);
	g_assert_nonnull(strstr(error->message, "missing"));
	g_clear_error(&error);
	g_assert_false(g_file_test(fx->path, G_FILE_TEST_EXISTS));
	g_assert_false(pal_store_check(fx->store, &error));
	g_clear_error(&error);

	/* a database is restored at the path (here: a fresh one) */
	{
		g_autoptr(PalStore) restore = pal_store_sqlite_new(fx->path, PAL_DURABILITY_CRASH, &error);
		g_assert_no_error(error);
		g_assert_true(append(restore, "restored", 0, &error));
		pal_store_close(restore);
	}
	/* the writer reconnects on the next op (or after a failed check, see below) */
	g_assert_true(append(fx->store, "x3", 3, &error));
	g_assert_no_error(error);
	g_assert_true(pal_store_check(fx->store, &error));
	g_assert_no_error(error);
	journal = load_journal(fx->store);
	g_assert_cmpuint(journal->len, ==, 2);
	g_assert_cmpstr(((PalStoreJournalEntry *)g_ptr_array_index(journal, 0))->input_id, ==, "restored");
}

/* ops/s for 20,000 journal appends from 2 threads (reported, not asserted) */
static void
test_throughput(void)
{
	struct {
		PalDurability durability;
		const gchar *name;
		guint window;
	} runs[] = {
	    {PAL_DURABILITY_CRASH, "crash, all submitted at once", 0},
	    {PAL_DURABILITY_CRASH, "crash, 32 in flight per thread", 32},
	    {PAL_DURABILITY_POWER, "power, all submitted at once", 0},
	    {PAL_DURABILITY_POWER, "power, 32 in flight per thread", 32},
	    {PAL_DURABILITY_NONE, "none (memory), all submitted at once", 0},
	};

	for (guint i = 0; i < G_N_ELEMENTS(runs); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *dir = g_dir_make_tmp("palaver-store-bench-XXXXXX", &error);
		g_autofree gchar *path = g_build_filename(dir, "palaver.db", NULL);
		g_autoptr(PalStore) store = pal_store_sqlite_new(path, runs[i].durability, &error);
		gdouble secs;

		g_assert_no_error(error);
		secs = run_workers(store, 2, 10000, runs[i].window);
		g_test_message("throughput (%s): 20000 appends from 2 threads in %.3f s = %.0f "
			       "ops/s, %" G_GUINT64_FORMAT " transactions",
			       runs[i].name,
			       secs,
			       20000 / secs,
			       pal_store_sqlite_get_n_transactions(PAL_STORE_SQLITE(store)));
		pal_store_close(store);
		g_clear_object(&store);
		rm_rf(dir);
	}
}

/* --- main: the behaviour tests run on both backends --- */

static void
add(const gchar *name, gboolean both, void (*test)(Fixture *, gconstpointer))
{
	g_autofree gchar *sqlite = g_strdup_printf("/palaver/store/sqlite/%s", name);
	g_autofree gchar *memory = g_strdup_printf("/palaver/store/memory/%s", name);

	g_test_add(sqlite, Fixture, GINT_TO_POINTER(FALSE), fixture_setup, test, fixture_teardown);
	if (both)
		g_test_add(memory, Fixture, GINT_TO_POINTER(TRUE), fixture_setup, test, fixture_teardown);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	add("migrations", FALSE, test_migrations);
	add("journal", TRUE, test_journal);
	add("turn-commit", TRUE, test_turn_commit);
	add("turn-partial", TRUE, test_turn_partial);
	add("sessions-expire", FALSE, test_sessions_expire);
	add("turn-invalid", TRUE, test_turn_invalid);
	add("outbox", TRUE, test_outbox);
	add("dead-letters", TRUE, test_dead_letters);
	add("endpoints", TRUE, test_endpoints);
	add("sessions-list-reset", TRUE, test_sessions_list_reset);
	add("endpoint-states", TRUE, test_endpoint_states);
	add("migration-v2", FALSE, test_migration_v2);
	add("threads", TRUE, test_threads);
	add("group-isolation", TRUE, test_group_isolation);
	add("cancel", TRUE, test_cancel);
	add("close", TRUE, test_close);
	add("queue-limit", FALSE, test_queue_limit);
	add("removed", FALSE, test_removed);
	g_test_add_func("/palaver/store/sqlite/read-only", test_read_only);
	g_test_add_func("/palaver/store/sqlite/throughput", test_throughput);
	return g_test_run();
}
