/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * PalStoreSqlite: the embedded store (DESIGN.md §2 "Store").
 *
 * Threading: one writer thread owns the only connection. Every operation, reads included, is
 * an op pushed on a bounded GAsyncQueue and run by that thread, so the connection needs no
 * lock, operations apply in submission order (a read sees every write submitted before it) and
 * a disk or permission problem is handled in one place. Reads are rare (startup loading, D-Bus
 * listings), so sharing the queue costs nothing worth a second connection.
 *
 * Group commit: the writer pops one op, takes whatever else is queued already (up to
 * PAL_STORE_SQLITE_MAX_BATCH, without waiting for more: the batch grows by itself while a
 * commit is being synced) and runs them all in one BEGIN IMMEDIATE … COMMIT, each inside a
 * SAVEPOINT so that a logical failure (duplicate key, unknown id) rolls back only its own op.
 * When the transaction itself fails (I/O error, disk full, …) it is rolled back and every op
 * is retried alone, so one bad op fails only itself. Tasks are completed after the COMMIT, in
 * the caller's own GMainContext: one source per context and batch (not one GTask idle source,
 * and one wake-up of that context, per op), in submission order.
 *
 * Files changing under us: before each batch the writer stat()s the database. When the file
 * is not writable (chmod, read-only remount) the batch fails with PAL_ERROR_UNAVAILABLE and the
 * connection is kept: once the file is writable again the next batch succeeds. When the file
 * was removed or replaced, the connection is closed (SQLite would otherwise keep writing into
 * the deleted inode and lose it on exit) and ops fail with PAL_ERROR_UNAVAILABLE until a
 * database appears at the path again (restored), which is then reopened and migrated. We do
 * NOT silently create an empty database: that would hide the loss of every stored session and
 * outbox row; restarting palaverd creates a fresh one. A SQLite I/O, read-only or disk-full
 * error also closes the connection, to be reopened by the next batch.
 */
#include "config.h"

#include <errno.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pal-error.h"
#include "pal-store-sqlite.h"

#define PAL_STORE_SQLITE_BUSY_TIMEOUT_MS 5000

/* --- schema migrations: append steps, never edit a released one --- */

typedef struct {
	gint version;
	const gchar *sql;
} PalStoreMigration;

static const PalStoreMigration pal_store_migrations[] = {
    {1,
     "CREATE TABLE journal ("
     " input_id TEXT PRIMARY KEY NOT NULL,"
     " endpoint TEXT NOT NULL,"
     " user_id TEXT NOT NULL,"
     " session_id TEXT NOT NULL,"
     " kind INTEGER NOT NULL,"
     " body BLOB NOT NULL,"
     " received_at INTEGER NOT NULL,"
     " state INTEGER NOT NULL DEFAULT 0);"
     "CREATE INDEX journal_unfinished ON journal (received_at, input_id) WHERE state = 0;"
     "CREATE TABLE outbox ("
     " id INTEGER PRIMARY KEY AUTOINCREMENT,"
     " endpoint TEXT NOT NULL,"
     " session_key TEXT NOT NULL,"
     " session_seq INTEGER NOT NULL,"
     " webhook_id TEXT NOT NULL UNIQUE,"
     " turn_id TEXT NOT NULL,"
     " turn_index INTEGER NOT NULL,"
     " body BLOB NOT NULL,"
     " created_at INTEGER NOT NULL,"
     " expires_at INTEGER NOT NULL,"
     " attempts INTEGER NOT NULL DEFAULT 0,"
     " next_attempt_at INTEGER NOT NULL DEFAULT 0);"
     "CREATE INDEX outbox_session ON outbox (session_key, session_seq);"
     "CREATE TABLE dead_letters ("
     " id INTEGER PRIMARY KEY,"
     " endpoint TEXT NOT NULL,"
     " session_key TEXT NOT NULL,"
     " session_seq INTEGER NOT NULL,"
     " webhook_id TEXT NOT NULL,"
     " turn_id TEXT NOT NULL,"
     " turn_index INTEGER NOT NULL,"
     " body BLOB NOT NULL,"
     " created_at INTEGER NOT NULL,"
     " expires_at INTEGER NOT NULL,"
     " attempts INTEGER NOT NULL,"
     " next_attempt_at INTEGER NOT NULL,"
     " reason TEXT NOT NULL,"
     " failed_at INTEGER NOT NULL,"
     " last_status INTEGER NOT NULL DEFAULT 0);"
     "CREATE INDEX dead_letters_session ON dead_letters (session_key, session_seq);"
     "CREATE INDEX dead_letters_endpoint ON dead_letters (endpoint);"
     "CREATE TABLE sessions ("
     " session_key TEXT PRIMARY KEY NOT NULL,"
     " endpoint TEXT NOT NULL,"
     " user_id TEXT,"
     " session_id TEXT,"
     " context TEXT,"
     " entrypoint TEXT,"
     " handover INTEGER NOT NULL DEFAULT 0,"
     " last_seq INTEGER NOT NULL DEFAULT 0,"
     " turns INTEGER NOT NULL DEFAULT 0,"
     " created_at INTEGER NOT NULL,"
     " updated_at INTEGER NOT NULL);"
     "CREATE INDEX sessions_endpoint ON sessions (endpoint, updated_at);"
     "CREATE TABLE profiles ("
     " endpoint TEXT NOT NULL,"
     " user_id TEXT NOT NULL,"
     " profile TEXT NOT NULL,"
     " updated_at INTEGER NOT NULL,"
     " PRIMARY KEY (endpoint, user_id)) WITHOUT ROWID;"
     "CREATE TABLE endpoints ("
     " name TEXT PRIMARY KEY NOT NULL,"
     " json TEXT NOT NULL,"
     " created_at INTEGER NOT NULL,"
     " updated_at INTEGER NOT NULL) WITHOUT ROWID;"},
    /* 2: the active state set over D-Bus for endpoints that come from files (issue #6) */
    {2,
     "CREATE TABLE endpoint_states ("
     " name TEXT PRIMARY KEY NOT NULL,"
     " active INTEGER NOT NULL,"
     " updated_at INTEGER NOT NULL) WITHOUT ROWID;"},
};

G_STATIC_ASSERT(G_N_ELEMENTS(pal_store_migrations) == PAL_STORE_SQLITE_SCHEMA_VERSION);

/* --- prepared statements, cached per connection --- */

#define PAL_OUTBOX_COLS                                                                            \
	"id, endpoint, session_key, session_seq, webhook_id, turn_id, turn_index, body, "          \
	"created_at, expires_at, attempts, next_attempt_at"

typedef enum {
	STMT_BEGIN,
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_SAVEPOINT,
	STMT_RELEASE,
	STMT_ROLLBACK_TO,
	STMT_JOURNAL_INSERT,
	STMT_JOURNAL_DONE,
	STMT_JOURNAL_STATE,
	STMT_JOURNAL_LOAD,
	STMT_NEXT_SEQ,
	STMT_SESSION_UPSERT,
	STMT_SESSION_SET_SEQ,
	STMT_SESSION_TOUCH_SEQ,
	STMT_SESSION_LOAD,
	STMT_SESSIONS_EXPIRE,
	STMT_SESSIONS_FORGET,
	STMT_JOURNAL_PRUNE,
	STMT_PROFILE_UPSERT,
	STMT_PROFILE_LOAD,
	STMT_OUTBOX_INSERT,
	STMT_OUTBOX_DELETE,
	STMT_OUTBOX_UPDATE,
	STMT_OUTBOX_TO_DEAD,
	STMT_OUTBOX_LOAD,
	STMT_DEAD_LIST,
	STMT_DEAD_DELETE,
	STMT_DEAD_PURGE,
	STMT_ENDPOINT_PUT,
	STMT_ENDPOINT_DELETE,
	STMT_ENDPOINTS_LIST,
	STMT_SESSIONS_LIST,
	STMT_SESSIONS_COUNT,
	STMT_SESSION_RESET,
	STMT_ENDPOINT_STATE_PUT,
	STMT_ENDPOINT_STATE_DELETE,
	STMT_ENDPOINT_STATES_LIST,
	N_STMTS
} PalStoreStmt;

static const gchar *const pal_store_sql[N_STMTS] = {
    [STMT_BEGIN] = "BEGIN IMMEDIATE",
    [STMT_COMMIT] = "COMMIT",
    [STMT_ROLLBACK] = "ROLLBACK",
    [STMT_SAVEPOINT] = "SAVEPOINT op",
    [STMT_RELEASE] = "RELEASE op",
    [STMT_ROLLBACK_TO] = "ROLLBACK TO op",
    [STMT_JOURNAL_INSERT] = "INSERT INTO journal (input_id, endpoint, user_id, session_id, kind, "
			    "body, received_at, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0)",
    [STMT_JOURNAL_DONE] = "UPDATE journal SET state = 1 WHERE input_id = ?1 AND state = 0",
    [STMT_JOURNAL_STATE] = "SELECT state FROM journal WHERE input_id = ?1",
    [STMT_JOURNAL_LOAD] = "SELECT input_id, endpoint, user_id, session_id, kind, body, "
			  "received_at, state FROM journal WHERE state = 0 "
			  "ORDER BY received_at, input_id",
    [STMT_NEXT_SEQ] =
	"SELECT MAX(COALESCE((SELECT last_seq FROM sessions WHERE session_key = ?1), 0), "
	"COALESCE((SELECT MAX(session_seq) FROM outbox WHERE session_key = ?1), 0), "
	"COALESCE((SELECT MAX(session_seq) FROM dead_letters WHERE session_key = ?1), 0))",
    [STMT_SESSION_UPSERT] =
	"INSERT INTO sessions (session_key, endpoint, user_id, session_id, context, entrypoint, "
	"handover, last_seq, turns, created_at, updated_at) "
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
	"ON CONFLICT (session_key) DO UPDATE SET endpoint = excluded.endpoint, "
	"user_id = excluded.user_id, session_id = excluded.session_id, "
	"context = excluded.context, entrypoint = excluded.entrypoint, "
	"handover = excluded.handover, last_seq = excluded.last_seq, turns = excluded.turns, "
	"updated_at = excluded.updated_at",
    [STMT_SESSION_SET_SEQ] = "UPDATE sessions SET last_seq = ?2 WHERE session_key = ?1",
    /* a turn's streamed outputs: the session row exists from then on, its state is only
     * written when the turn ends */
    [STMT_SESSION_TOUCH_SEQ] =
	"INSERT INTO sessions (session_key, endpoint, user_id, session_id, last_seq, created_at, "
	"updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) "
	"ON CONFLICT (session_key) DO UPDATE SET last_seq = excluded.last_seq",
    /* an expired session keeps only its sequence counter: Palaver-Session-Seq goes on
     * increasing when the conversation starts again; the row goes when it is forgotten */
    [STMT_SESSIONS_EXPIRE] = "UPDATE sessions SET context = NULL, entrypoint = NULL, handover = 0, "
			     "turns = 0 WHERE endpoint = ?1 AND updated_at < ?2 AND (context IS NOT "
			     "NULL OR entrypoint IS NOT NULL OR handover != 0 OR turns != 0)",
    [STMT_SESSIONS_FORGET] = "DELETE FROM sessions WHERE endpoint = ?1 AND updated_at < ?2",
    [STMT_JOURNAL_PRUNE] = "DELETE FROM journal WHERE state = 1 AND received_at < ?1",
    [STMT_SESSION_LOAD] = "SELECT session_key, endpoint, user_id, session_id, context, "
			  "entrypoint, handover, last_seq, turns, created_at, updated_at "
			  "FROM sessions WHERE session_key = ?1",
    [STMT_PROFILE_UPSERT] = "INSERT INTO profiles (endpoint, user_id, profile, updated_at) "
			    "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (endpoint, user_id) DO UPDATE "
			    "SET profile = excluded.profile, updated_at = excluded.updated_at",
    [STMT_PROFILE_LOAD] = "SELECT profile FROM profiles WHERE endpoint = ?1 AND user_id = ?2",
    [STMT_OUTBOX_INSERT] =
	"INSERT INTO outbox (endpoint, session_key, session_seq, webhook_id, turn_id, turn_index, "
	"body, created_at, expires_at, attempts, next_attempt_at) "
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
	"ON CONFLICT (webhook_id) DO NOTHING",
    [STMT_OUTBOX_DELETE] = "DELETE FROM outbox WHERE id = ?1",
    [STMT_OUTBOX_UPDATE] = "UPDATE outbox SET attempts = ?2, next_attempt_at = ?3 WHERE id = ?1",
    [STMT_OUTBOX_TO_DEAD] = "INSERT INTO dead_letters (" PAL_OUTBOX_COLS
			    ", reason, failed_at, last_status) SELECT " PAL_OUTBOX_COLS
			    ", ?2, ?3, ?4 FROM outbox WHERE id = ?1",
    [STMT_OUTBOX_LOAD] = "SELECT " PAL_OUTBOX_COLS
			 " FROM outbox ORDER BY session_key, session_seq, id",
    [STMT_DEAD_LIST] = "SELECT " PAL_OUTBOX_COLS ", reason, failed_at, last_status "
		       "FROM dead_letters WHERE (?1 IS NULL OR endpoint = ?1) "
		       "AND (?2 IS NULL OR session_key = ?2) "
		       "ORDER BY session_key, session_seq, id LIMIT ?3 OFFSET ?4",
    [STMT_DEAD_DELETE] = "DELETE FROM dead_letters WHERE id = ?1",
    [STMT_DEAD_PURGE] = "DELETE FROM dead_letters WHERE (?1 IS NULL OR endpoint = ?1) "
			"AND (?2 IS NULL OR session_key = ?2)",
    [STMT_ENDPOINT_PUT] = "INSERT INTO endpoints (name, json, created_at, updated_at) "
			  "VALUES (?1, ?2, ?3, ?3) ON CONFLICT (name) DO UPDATE "
			  "SET json = excluded.json, updated_at = excluded.updated_at",
    [STMT_ENDPOINT_DELETE] = "DELETE FROM endpoints WHERE name = ?1",
    [STMT_ENDPOINTS_LIST] = "SELECT name, json, created_at, updated_at FROM endpoints "
			    "ORDER BY name",
    [STMT_SESSIONS_LIST] = "SELECT session_key, endpoint, user_id, session_id, context, "
			   "entrypoint, handover, last_seq, turns, created_at, updated_at "
			   "FROM sessions WHERE (?1 IS NULL OR endpoint = ?1) "
			   "ORDER BY updated_at DESC, session_key LIMIT ?2 OFFSET ?3",
    [STMT_SESSIONS_COUNT] = "SELECT count(*) FROM sessions WHERE (?1 IS NULL OR endpoint = ?1)",
    /* like retention: the sequence counter stays */
    [STMT_SESSION_RESET] = "UPDATE sessions SET context = NULL, entrypoint = NULL, handover = 0, "
			   "turns = 0, updated_at = ?2 WHERE session_key = ?1",
    [STMT_ENDPOINT_STATE_PUT] = "INSERT INTO endpoint_states (name, active, updated_at) "
				"VALUES (?1, ?2, ?3) ON CONFLICT (name) DO UPDATE "
				"SET active = excluded.active, updated_at = excluded.updated_at",
    [STMT_ENDPOINT_STATE_DELETE] = "DELETE FROM endpoint_states WHERE name = ?1",
    [STMT_ENDPOINT_STATES_LIST] = "SELECT name, active FROM endpoint_states ORDER BY name",
};

/* --- operations --- */

typedef enum {
	OP_JOURNAL_APPEND,
	OP_TURN_COMMIT,
	OP_OUTBOX_DELIVERED,
	OP_OUTBOX_UPDATE,
	OP_OUTBOX_DEAD_LETTER,
	OP_LOAD_JOURNAL,
	OP_LOAD_OUTBOX,
	OP_LOAD_SESSION,
	OP_LOAD_PROFILE,
	OP_DEAD_LIST,
	OP_DEAD_REPLAY,
	OP_DEAD_PURGE,
	OP_SESSIONS_EXPIRE,
	OP_ENDPOINT_PUT,
	OP_ENDPOINT_DELETE,
	OP_ENDPOINTS_LIST,
	OP_SESSIONS_LIST,
	OP_SESSION_RESET,
	OP_ENDPOINT_STATE_SET,
	OP_ENDPOINT_STATES_LIST,
	OP_PING,  /* no task: lets the writer try to reopen (from check) */
	OP_CLOSE, /* no task: the writer exits after it */
} PalStoreOpKind;

typedef struct {
	PalStoreOpKind kind;
	GTask *task; /* the queue's reference until completed; owns this op as task data */
	/* arguments */
	PalStoreJournalEntry *entry;
	PalStoreTurn *turn;
	GArray *ids;
	gint64 id;
	guint attempts;
	gint64 next_attempt_at;
	gint last_status;
	gchar *str1; /* endpoint, name, session key */
	gchar *str2; /* session key, json, user id, reason */
	guint offset;
	guint limit;
	gint64 ttl;
	/* results */
	gpointer result;
	GDestroyNotify result_free;
	gssize count;
	GError *error;
} PalStoreOp;

static void
pal_store_op_drop_result(PalStoreOp *op)
{
	if (op->result != NULL && op->result_free != NULL)
		op->result_free(op->result);
	op->result = NULL;
	op->result_free = NULL;
	op->count = 0;
}

static void
pal_store_op_clear_result(PalStoreOp *op)
{
	pal_store_op_drop_result(op);
	g_clear_error(&op->error);
}

static void
pal_store_op_free(gpointer data)
{
	PalStoreOp *op = data;

	pal_store_op_clear_result(op);
	pal_store_journal_entry_free(op->entry);
	pal_store_turn_free(op->turn);
	if (op->ids != NULL)
		g_array_unref(op->ids);
	g_free(op->str1);
	g_free(op->str2);
	g_free(op);
}

/* --- the connection and its writer thread, shared by the GObject and the thread --- */

typedef struct {
	gint ref_count;
	gchar *path;	/* NULL: in memory */
	gchar *display; /* for messages */
	PalDurability durability;
	GAsyncQueue *queue; /* PalStoreOp*; its lock also guards closed and max_queue */
	gboolean closed;
	guint max_queue;
	GThread *thread;
	gsize n_transactions; /* atomic */
	gsize n_ops;	      /* atomic */
	/* writer thread only */
	sqlite3 *db;
	sqlite3_stmt *stmts[N_STMTS];
	gboolean need_reopen;
	gboolean fatal; /* the last error was not a logical one: abandon the group */
	/* guarded by state_lock: read by check() */
	GMutex state_lock;
	gboolean connected;
	dev_t dev;
	ino_t ino;
	gchar *open_error; /* why the last (re)open failed */
	/* the checkpointer: a thread with its own connection copies the WAL back into the
	 * database (PASSIVE: never blocking the writer), so the writer's commits do not wait for
	 * a checkpoint's two fsyncs (tens of ms on a VM disk, every ~16 MB of WAL) */
	GThread *ckpt_thread; /* writer thread only */
	GMutex ckpt_lock;
	GCond ckpt_cond;
	gboolean ckpt_wanted; /* guarded by ckpt_lock */
	gboolean ckpt_stop;   /* guarded by ckpt_lock */
	gint n_checkpoints;   /* atomic: done by the checkpointer */
} PalStoreDb;

struct _PalStoreSqlite {
	GObject parent_instance;
	PalStoreDb *db;
};

static void
pal_store_sqlite_iface_init(PalStoreInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE(PalStoreSqlite,
			      pal_store_sqlite,
			      G_TYPE_OBJECT,
			      G_IMPLEMENT_INTERFACE(PAL_TYPE_STORE, pal_store_sqlite_iface_init))

static void
pal_store_db_disconnect(PalStoreDb *db)
{
	for (guint i = 0; i < N_STMTS; i++)
		g_clear_pointer(&db->stmts[i], sqlite3_finalize);
	if (db->db != NULL) {
		int rc = sqlite3_close(db->db);
		if (rc != SQLITE_OK)
			g_warning("%s: closing: %s", db->display, sqlite3_errstr(rc));
		db->db = NULL;
	}
	g_mutex_lock(&db->state_lock);
	db->connected = FALSE;
	g_mutex_unlock(&db->state_lock);
}

static PalStoreDb *
pal_store_db_ref(PalStoreDb *db)
{
	g_atomic_int_inc(&db->ref_count);
	return db;
}

static void
pal_store_db_unref(PalStoreDb *db)
{
	if (!g_atomic_int_dec_and_test(&db->ref_count))
		return;
	pal_store_db_disconnect(db);
	g_async_queue_unref(db->queue);
	g_mutex_clear(&db->state_lock);
	g_mutex_clear(&db->ckpt_lock);
	g_cond_clear(&db->ckpt_cond);
	g_free(db->open_error);
	g_free(db->path);
	g_free(db->display);
	g_free(db);
}

/* maps a SQLite result code to PAL_ERROR, naming the database and what we were doing */
static void
pal_store_db_set_error(PalStoreDb *db, GError **error, int rc, const gchar *what)
{
	const gchar *msg = db->db != NULL ? sqlite3_errmsg(db->db) : sqlite3_errstr(rc);
	PalError code;

	db->fatal = TRUE;
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT:
		db->fatal = FALSE;
		code = (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
			   ? PAL_ERROR_EXISTS
			   : PAL_ERROR_INVALID_DATA;
		break;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		code = PAL_ERROR_BUSY;
		break;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_FORMAT:
		code = PAL_ERROR_INVALID_DATA;
		db->need_reopen = TRUE;
		break;
	case SQLITE_READONLY:
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
	case SQLITE_FULL:
	case SQLITE_PERM:
	case SQLITE_NOLFS:
	case SQLITE_AUTH:
		code = PAL_ERROR_UNAVAILABLE;
		db->need_reopen = TRUE;
		break;
	default:
		code = PAL_ERROR_FAILED;
		break;
	}
	g_set_error(error, PAL_ERROR, code, "%s: %s: %s", db->display, what, msg);
}

static sqlite3_stmt *
pal_store_db_stmt(PalStoreDb *db, PalStoreStmt which, GError **error)
{
	if (db->stmts[which] == NULL) {
		int rc = sqlite3_prepare_v3(db->db,
					    pal_store_sql[which],
					    -1,
					    SQLITE_PREPARE_PERSISTENT,
					    &db->stmts[which],
					    NULL);
		if (rc != SQLITE_OK) {
			pal_store_db_set_error(db, error, rc, "preparing a statement");
			return NULL;
		}
	}
	return db->stmts[which];
}

static void
pal_store_stmt_done(sqlite3_stmt *stmt)
{
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
}

/* runs a statement that returns no rows */
static gboolean
pal_store_db_step(PalStoreDb *db, sqlite3_stmt *stmt, const gchar *what, GError **error)
{
	int rc = sqlite3_step(stmt);

	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		pal_store_db_set_error(db, error, rc, what);
		pal_store_stmt_done(stmt);
		return FALSE;
	}
	pal_store_stmt_done(stmt);
	return TRUE;
}

static gboolean
pal_store_db_run(PalStoreDb *db, PalStoreStmt which, const gchar *what, GError **error)
{
	sqlite3_stmt *stmt = pal_store_db_stmt(db, which, error);
	return stmt != NULL && pal_store_db_step(db, stmt, what, error);
}

static gboolean
pal_store_db_exec(PalStoreDb *db, const gchar *sql, const gchar *what, GError **error)
{
	int rc = sqlite3_exec(db->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		pal_store_db_set_error(db, error, rc, what);
		return FALSE;
	}
	return TRUE;
}

/* runs a one-row statement (a PRAGMA) and reads its first column as an integer or text */
static gboolean
pal_store_db_query_one(PalStoreDb *db, const gchar *sql, gint64 *int_value, gchar **text_value, GError **error)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(db->db, sql, -1, &stmt, NULL);

	if (rc == SQLITE_OK) {
		rc = sqlite3_step(stmt);
		if (rc == SQLITE_ROW) {
			if (int_value != NULL)
				*int_value = sqlite3_column_int64(stmt, 0);
			if (text_value != NULL)
				*text_value = g_strdup((const gchar *)sqlite3_column_text(stmt, 0));
			rc = SQLITE_OK;
		}
	}
	if (rc != SQLITE_OK)
		pal_store_db_set_error(db, error, rc, sql);
	sqlite3_finalize(stmt);
	return rc == SQLITE_OK;
}

static void
pal_store_bind_text(sqlite3_stmt *stmt, int i, const gchar *value)
{
	if (value == NULL)
		sqlite3_bind_null(stmt, i);
	else
		sqlite3_bind_text(stmt, i, value, -1, SQLITE_STATIC);
}

static void
pal_store_bind_bytes(sqlite3_stmt *stmt, int i, GBytes *value)
{
	gsize len = 0;
	gconstpointer data = value != NULL ? g_bytes_get_data(value, &len) : NULL;

	/* a zero-length blob, never NULL: the columns are NOT NULL */
	if (data == NULL || len == 0)
		sqlite3_bind_zeroblob(stmt, i, 0);
	else
		sqlite3_bind_blob64(stmt, i, data, len, SQLITE_STATIC);
}

static gchar *
pal_store_column_text(sqlite3_stmt *stmt, int i)
{
	return g_strdup((const gchar *)sqlite3_column_text(stmt, i));
}

static GBytes *
pal_store_column_bytes(sqlite3_stmt *stmt, int i)
{
	gconstpointer data = sqlite3_column_blob(stmt, i);
	int len = sqlite3_column_bytes(stmt, i);
	return g_bytes_new(data, (gsize)len);
}

/* --- open and migrate --- */

static gboolean
pal_store_db_migrate(PalStoreDb *db, GError **error)
{
	gint64 app_id = 0;
	gint64 version = 0;

	if (!pal_store_db_query_one(db, "PRAGMA application_id", &app_id, NULL, error))
		return FALSE;
	if (app_id != 0 && app_id != PAL_STORE_SQLITE_APPLICATION_ID) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_INVALID_DATA,
			    "%s: not a palaver database (application_id 0x%08" G_GINT64_MODIFIER
			    "x)",
			    db->display,
			    app_id);
		return FALSE;
	}
	for (;;) {
		g_autofree gchar *sql = NULL;
		const PalStoreMigration *step;

		/* read the version inside the write lock: another process may migrate too */
		if (!pal_store_db_exec(db, "BEGIN IMMEDIATE", "starting a migration", error))
			return FALSE;
		if (!pal_store_db_query_one(db, "PRAGMA user_version", &version, NULL, error)) {
			sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
			return FALSE;
		}
		if (version > PAL_STORE_SQLITE_SCHEMA_VERSION) {
			sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
			g_set_error(error,
				    PAL_ERROR,
				    PAL_ERROR_INVALID_DATA,
				    "%s: the database schema version %" G_GINT64_FORMAT
				    " is newer than this palaverd supports (%d); use a newer "
				    "palaverd or restore a backup",
				    db->display,
				    version,
				    PAL_STORE_SQLITE_SCHEMA_VERSION);
			return FALSE;
		}
		if (version == PAL_STORE_SQLITE_SCHEMA_VERSION)
			break;
		step = &pal_store_migrations[version];
		g_assert(step->version == version + 1);
		sql = g_strdup_printf("%s PRAGMA user_version = %d; PRAGMA application_id = %d;",
				      step->sql,
				      step->version,
				      PAL_STORE_SQLITE_APPLICATION_ID);
		if (!pal_store_db_exec(db, sql, "migrating the schema", error)) {
			sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
			g_prefix_error(error, "version %d: ", step->version);
			return FALSE;
		}
		if (!pal_store_db_exec(db, "COMMIT", "committing a migration", error)) {
			sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
			return FALSE;
		}
		g_debug("%s: schema migrated to version %d", db->display, step->version);
	}
	return pal_store_db_exec(db, "COMMIT", "ending the migration check", error);
}

/* WAL pages after which the checkpointer is woken (16 MB with 4 KiB pages: four times SQLite's
 * auto-checkpoint default, so that a checkpoint copies each hot page, the tail of the outbox and
 * journal, once for more commits; the checkpointer's CPU fell from 17 % to 7 % of a core at
 * 4,400 messages/s), and after which the writer checkpoints itself because the checkpointer lags
 * behind */
#define PAL_STORE_SQLITE_CHECKPOINT_PAGES 4000
#define PAL_STORE_SQLITE_CHECKPOINT_INLINE_PAGES 32000

/* writer thread, after each commit (instead of SQLite's auto-checkpoint) */
static int
pal_store_db_wal_hook(void *data, sqlite3 *conn, const char *name, int pages)
{
	PalStoreDb *db = data;

	if (pages >= PAL_STORE_SQLITE_CHECKPOINT_INLINE_PAGES) {
		sqlite3_wal_checkpoint_v2(conn, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	} else if (pages >= PAL_STORE_SQLITE_CHECKPOINT_PAGES) {
		g_mutex_lock(&db->ckpt_lock);
		if (!db->ckpt_wanted) {
			db->ckpt_wanted = TRUE;
			g_cond_signal(&db->ckpt_cond);
		}
		g_mutex_unlock(&db->ckpt_lock);
	}
	return SQLITE_OK;
}

/* one checkpoint on a connection of its own, opened for it: a file removed or replaced
 * meanwhile is never written to (the identity is checked first, as before each batch) */
static void
pal_store_db_checkpoint(PalStoreDb *db)
{
	sqlite3 *conn = NULL;
	g_autofree gchar *sync = NULL;
	struct stat st;
	gboolean same;
	int rc;

	if (stat(db->path, &st) != 0)
		return;
	g_mutex_lock(&db->state_lock);
	same = db->connected && st.st_dev == db->dev && st.st_ino == db->ino;
	g_mutex_unlock(&db->state_lock);
	if (!same)
		return;
	rc = sqlite3_open_v2(db->path,
			     &conn,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE,
			     NULL);
	if (rc == SQLITE_OK) {
		/* the fsyncs of a checkpoint follow this connection's setting */
		sync = g_strdup_printf("PRAGMA synchronous = %s",
				       db->durability == PAL_DURABILITY_POWER ? "FULL" : "NORMAL");
		rc = sqlite3_exec(conn, sync, NULL, NULL, NULL);
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_wal_checkpoint_v2(conn, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	if (rc != SQLITE_OK)
		g_debug("%s: background checkpoint: %s", db->display, sqlite3_errstr(rc));
	else
		g_atomic_int_inc(&db->n_checkpoints);
	sqlite3_close(conn);
}

static gpointer
pal_store_db_checkpoint_thread(gpointer data)
{
	PalStoreDb *db = data;

	g_mutex_lock(&db->ckpt_lock);
	for (;;) {
		while (!db->ckpt_wanted && !db->ckpt_stop)
			g_cond_wait(&db->ckpt_cond, &db->ckpt_lock);
		if (db->ckpt_stop)
			break;
		db->ckpt_wanted = FALSE;
		g_mutex_unlock(&db->ckpt_lock);
		pal_store_db_checkpoint(db);
		g_mutex_lock(&db->ckpt_lock);
	}
	g_mutex_unlock(&db->ckpt_lock);
	return NULL;
}

/* pragmas, schema, identity of the file: on a freshly opened connection */
static gboolean
pal_store_db_setup(PalStoreDb *db, GError **error)
{
	g_autofree gchar *mode = NULL;
	g_autofree gchar *pragmas = NULL;
	struct stat st = {0};

	/* the first read of the file: a non-database fails here */
	if (db->path != NULL) {
		if (!pal_store_db_query_one(db, "PRAGMA journal_mode = WAL", NULL, &mode, error))
			return FALSE;
		if (g_strcmp0(mode, "wal") != 0) {
			g_set_error(error,
				    PAL_ERROR,
				    PAL_ERROR_UNAVAILABLE,
				    "%s: cannot switch to WAL mode (journal_mode is %s)",
				    db->display,
				    mode);
			return FALSE;
		}
	}
	pragmas = g_strdup_printf("PRAGMA synchronous = %s; PRAGMA foreign_keys = ON;",
				  db->durability == PAL_DURABILITY_POWER   ? "FULL"
				  : db->durability == PAL_DURABILITY_CRASH ? "NORMAL"
									   : "OFF");
	if (!pal_store_db_exec(db, pragmas, "setting up the connection", error))
		return FALSE;
	if (db->path != NULL) {
		if (!pal_store_db_exec(db, "PRAGMA wal_autocheckpoint = 0", "setting up the connection", error))
			return FALSE;
		sqlite3_wal_hook(db->db, pal_store_db_wal_hook, db);
	}
	if (!pal_store_db_migrate(db, error))
		return FALSE;
	if (db->path != NULL && stat(db->path, &st) != 0) {
		int errsv = errno;
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_UNAVAILABLE,
			    "%s: %s",
			    db->display,
			    g_strerror(errsv));
		return FALSE;
	}
	g_mutex_lock(&db->state_lock);
	db->connected = TRUE;
	db->dev = st.st_dev;
	db->ino = st.st_ino;
	g_clear_pointer(&db->open_error, g_free);
	g_mutex_unlock(&db->state_lock);
	db->need_reopen = FALSE;
	return TRUE;
}

/* opens the connection; @create only at construction (see the comment at the top) */
static gboolean
pal_store_db_connect(PalStoreDb *db, gboolean create, GError **error)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE;
	int rc;

	g_assert(db->db == NULL);
	if (db->path != NULL) {
		g_autofree gchar *dir = g_path_get_dirname(db->path);
		if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
			g_set_error(error,
				    PAL_ERROR,
				    PAL_ERROR_UNAVAILABLE,
				    "%s: cannot open the database: the directory %s does not exist",
				    db->display,
				    dir);
			return FALSE;
		}
		if (!create && !g_file_test(db->path, G_FILE_TEST_EXISTS)) {
			g_set_error(error,
				    PAL_ERROR,
				    PAL_ERROR_UNAVAILABLE,
				    "%s: the database file is missing (removed while palaverd was "
				    "running?); restore it, or restart palaverd to create an empty one",
				    db->display);
			return FALSE;
		}
		if (create)
			flags |= SQLITE_OPEN_CREATE;
		rc = sqlite3_open_v2(db->path, &db->db, flags, NULL);
	} else {
		rc = sqlite3_open_v2(":memory:", &db->db, flags | SQLITE_OPEN_MEMORY, NULL);
	}
	if (rc != SQLITE_OK) {
		pal_store_db_set_error(db, error, rc, "cannot open the database");
		g_clear_pointer(&db->db, sqlite3_close);
		return FALSE;
	}
	sqlite3_extended_result_codes(db->db, 1);
	sqlite3_busy_timeout(db->db, PAL_STORE_SQLITE_BUSY_TIMEOUT_MS);
	if (!pal_store_db_setup(db, error)) {
		pal_store_db_disconnect(db);
		return FALSE;
	}
	return TRUE;
}

typedef enum {
	PAL_STORE_PROBE_OK,
	PAL_STORE_PROBE_READ_ONLY,
	PAL_STORE_PROBE_GONE, /* missing, or another file at the path */
} PalStoreProbe;

/* stat()s the file, any thread: a few µs, so it runs before each batch */
static PalStoreProbe
pal_store_db_probe(PalStoreDb *db, GError **error)
{
	g_autofree gchar *wal = NULL;
	struct stat st;
	gboolean replaced;

	if (db->path == NULL)
		return PAL_STORE_PROBE_OK;
	if (stat(db->path, &st) != 0) {
		int errsv = errno;
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_UNAVAILABLE,
			    "%s: the database file is missing or not accessible (%s); restore it, "
			    "or restart palaverd to create an empty one",
			    db->display,
			    g_strerror(errsv));
		return PAL_STORE_PROBE_GONE;
	}
	g_mutex_lock(&db->state_lock);
	replaced = db->connected && (st.st_dev != db->dev || st.st_ino != db->ino);
	g_mutex_unlock(&db->state_lock);
	if (replaced) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_UNAVAILABLE,
			    "%s: the database file was replaced while open",
			    db->display);
		return PAL_STORE_PROBE_GONE;
	}
	wal = g_strconcat(db->path, "-wal", NULL);
	if (access(db->path, W_OK) != 0 || (access(wal, W_OK) != 0 && errno != ENOENT)) {
		int errsv = errno;
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_UNAVAILABLE,
			    "%s: the database is not writable (%s)",
			    db->display,
			    g_strerror(errsv));
		return PAL_STORE_PROBE_READ_ONLY;
	}
	return PAL_STORE_PROBE_OK;
}

/* writer thread, before each batch: reconnects when needed */
static gboolean
pal_store_db_ensure_usable(PalStoreDb *db, GError **error)
{
	g_autoptr(GError) error_local = NULL;
	PalStoreProbe probe = pal_store_db_probe(db, &error_local);

	if (probe == PAL_STORE_PROBE_GONE && db->db != NULL) {
		g_warning("%s", error_local->message);
		pal_store_db_disconnect(db);
	}
	if (probe != PAL_STORE_PROBE_OK) {
		g_propagate_error(error, g_steal_pointer(&error_local));
		return FALSE;
	}
	if (db->db != NULL && db->need_reopen) {
		g_debug("%s: reopening after an error", db->display);
		pal_store_db_disconnect(db);
	}
	if (db->db == NULL) {
		if (!pal_store_db_connect(db, db->path == NULL, &error_local)) {
			g_mutex_lock(&db->state_lock);
			g_free(db->open_error);
			db->open_error = g_strdup(error_local->message);
			g_mutex_unlock(&db->state_lock);
			g_propagate_error(error, g_steal_pointer(&error_local));
			return FALSE;
		}
		g_message("%s: database reopened", db->display);
	}
	return TRUE;
}

/* --- the operations, run inside a transaction by the writer thread --- */

static gint64
pal_store_now(gint64 value)
{
	return value != 0 ? value : g_get_real_time();
}

static gboolean
pal_store_db_next_seq(PalStoreDb *db, const gchar *session_key, guint64 *seq, GError **error)
{
	sqlite3_stmt *stmt = pal_store_db_stmt(db, STMT_NEXT_SEQ, error);
	int rc;

	if (stmt == NULL)
		return FALSE;
	pal_store_bind_text(stmt, 1, session_key);
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		pal_store_db_set_error(db, error, rc, "reading the session sequence");
		pal_store_stmt_done(stmt);
		return FALSE;
	}
	*seq = (guint64)sqlite3_column_int64(stmt, 0);
	pal_store_stmt_done(stmt);
	return TRUE;
}

static gboolean
pal_store_db_insert_outbox(PalStoreDb *db, PalStoreOutboxRow *row, GError **error)
{
	sqlite3_stmt *stmt = pal_store_db_stmt(db, STMT_OUTBOX_INSERT, error);

	if (stmt == NULL)
		return FALSE;
	pal_store_bind_text(stmt, 1, row->endpoint);
	pal_store_bind_text(stmt, 2, row->session_key);
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)row->session_seq);
	pal_store_bind_text(stmt, 4, row->webhook_id);
	pal_store_bind_text(stmt, 5, row->turn_id);
	sqlite3_bind_int64(stmt, 6, row->turn_index);
	pal_store_bind_bytes(stmt, 7, row->body);
	sqlite3_bind_int64(stmt, 8, row->created_at);
	sqlite3_bind_int64(stmt, 9, row->expires_at);
	sqlite3_bind_int64(stmt, 10, row->attempts);
	sqlite3_bind_int64(stmt, 11, row->next_attempt_at);
	if (!pal_store_db_step(db, stmt, "inserting into the outbox", error))
		return FALSE;
	/* a replayed turn streams the outputs it had stored before the crash again: those are
	 * in the outbox already (same webhook id) and are delivered from there */
	row->id = sqlite3_changes(db->db) > 0 ? sqlite3_last_insert_rowid(db->db) : 0;
	return TRUE;
}

static gboolean
pal_store_db_set_last_seq(PalStoreDb *db, const gchar *session_key, guint64 seq, GError **error)
{
	sqlite3_stmt *stmt = pal_store_db_stmt(db, STMT_SESSION_SET_SEQ, error);

	if (stmt == NULL)
		return FALSE;
	pal_store_bind_text(stmt, 1, session_key);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)seq);
	return pal_store_db_step(db, stmt, "updating the session sequence", error);
}

static gboolean
pal_store_op_journal_append(PalStoreDb *db, PalStoreOp *op, GError **error)
{
	PalStoreJournalEntry *e = op->entry;
	sqlite3_stmt *stmt = pal_store_db_stmt(db, STMT_JOURNAL_INSERT, error);

	if (stmt == NULL)
		return FALSE;
	pal_store_bind_text(stmt, 1, e->input_id);
	pal_store_bind_text(stmt, 2, e->endpoint);
	pal_store_bind_text(stmt, 3, e->user_id);
	pal_store_bind_text(stmt, 4, e->session_id);
	sqlite3_bind_int(stmt, 5, e->kind);
	pal_store_bind_bytes(stmt, 6, e->body);
	sqlite3_bind_int64(stmt, 7, e->received_at);
	return pal_store_db_step(db, stmt, "appending to the journal", error);
}

static gboolean
pal_store_op_turn_commit(PalStoreDb *db, PalStoreOp *op, GError **error)
{
	PalStoreTurn *turn = op->turn;
	PalStoreSession *session = turn->session;
	g_autoptr(GPtrArray) rows =
	    g_ptr_array_new_with_free_func((GDestroyNotify)pal_store_outbox_row_free);
	guint64 seq = 0;
	gint64 now = g_get_real_time();
	sqlite3_stmt *stmt;

	if (session == NULL && (turn->outbox->len > 0 || turn->profile != NULL)) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_INVALID_DATA,
			    "%s: a turn with outputs or a profile needs a session",
			    db->display);
		return FALSE;
	}
	for (guint i = 0; i < turn->outbox->len; i++) {
		PalStoreOutboxRow *row = g_ptr_array_index(turn->outbox, i);
		if (g_strcmp0(row->session_key, session->session_key) != 0) {
			g_set_error(error,
				    PAL_ERROR,
				    PAL_ERROR_INVALID_DATA,
				    "%s: output %s belongs to another session than its turn",
				    db->display,
				    row->webhook_id);
			return FALSE;
		}
	}

	/* the journal row: exactly once, when the turn ends (not for its streamed outputs) */
	if (turn->input_id != NULL && !turn->partial && turn->journaled) {
		stmt = pal_store_db_stmt(db, STMT_JOURNAL_DONE, error);
		if (stmt == NULL)
			return FALSE;
		pal_store_bind_text(stmt, 1, turn->input_id);
		if (!pal_store_db_step(db, stmt, "marking the journal entry done", error))
			return FALSE;
		if (sqlite3_changes(db->db) == 0) {
			gboolean exists;
			int rc;
			stmt = pal_store_db_stmt(db, STMT_JOURNAL_STATE, error);
			if (stmt == NULL)
				return FALSE;
			pal_store_bind_text(stmt, 1, turn->input_id);
			rc = sqlite3_step(stmt);
			pal_store_stmt_done(stmt);
			if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
				pal_store_db_set_error(db, error, rc, "reading the journal");
				return FALSE;
			}
			exists = rc == SQLITE_ROW;
			g_set_error(error,
				    PAL_ERROR,
				    exists ? PAL_ERROR_EXISTS : PAL_ERROR_NOT_FOUND,
				    exists ? "%s: the turn of input %s was committed already"
					   : "%s: no journal entry for input %s",
				    db->display,
				    turn->input_id);
			return FALSE;
		}
	}

	if (session != NULL) {
		if (!pal_store_db_next_seq(db, session->session_key, &seq, error))
			return FALSE;
		for (guint i = 0; i < turn->outbox->len; i++) {
			g_autoptr(PalStoreOutboxRow) row =
			    pal_store_outbox_row_copy(g_ptr_array_index(turn->outbox, i));
			row->session_seq = seq + 1;
			if (!pal_store_db_insert_outbox(db, row, error))
				return FALSE;
			if (row->id == 0)
				continue;
			seq++;
			g_ptr_array_add(rows, g_steal_pointer(&row));
		}
		if (turn->partial) {
			stmt = pal_store_db_stmt(db, STMT_SESSION_TOUCH_SEQ, error);
			if (stmt == NULL)
				return FALSE;
			pal_store_bind_text(stmt, 1, session->session_key);
			pal_store_bind_text(stmt, 2, session->endpoint);
			pal_store_bind_text(stmt, 3, session->user_id);
			pal_store_bind_text(stmt, 4, session->session_id);
			sqlite3_bind_int64(stmt, 5, (sqlite3_int64)seq);
			sqlite3_bind_int64(stmt, 6, now);
			if (!pal_store_db_step(db, stmt, "saving the session sequence", error))
				return FALSE;
			op->result = g_steal_pointer(&rows);
			op->result_free = (GDestroyNotify)g_ptr_array_unref;
			return TRUE;
		}
		stmt = pal_store_db_stmt(db, STMT_SESSION_UPSERT, error);
		if (stmt == NULL)
			return FALSE;
		pal_store_bind_text(stmt, 1, session->session_key);
		pal_store_bind_text(stmt, 2, session->endpoint);
		pal_store_bind_text(stmt, 3, session->user_id);
		pal_store_bind_text(stmt, 4, session->session_id);
		pal_store_bind_text(stmt, 5, session->context);
		pal_store_bind_text(stmt, 6, session->entrypoint);
		sqlite3_bind_int(stmt, 7, session->handover ? 1 : 0);
		sqlite3_bind_int64(stmt, 8, (sqlite3_int64)seq);
		sqlite3_bind_int64(stmt, 9, (sqlite3_int64)session->turns);
		sqlite3_bind_int64(stmt, 10, pal_store_now(session->created_at));
		sqlite3_bind_int64(stmt, 11, pal_store_now(session->updated_at));
		if (!pal_store_db_step(db, stmt, "saving the session", error))
			return FALSE;
		if (turn->profile != NULL) {
			stmt = pal_store_db_stmt(db, STMT_PROFILE_UPSERT, error);
			if (stmt == NULL)
				return FALSE;
			pal_store_bind_text(stmt, 1, session->endpoint);
			pal_store_bind_text(stmt, 2, session->user_id);
			pal_store_bind_text(stmt, 3, turn->profile);
			sqlite3_bind_int64(stmt, 4, now);
			if (!pal_store_db_step(db, stmt, "saving the profile", error))
				return FALSE;
		}
	}
	op->result = g_steal_pointer(&rows);
	op->result_free = (GDestroyNotify)g_ptr_array_unref;
	return TRUE;
}

static gboolean
pal_store_op_outbox_delivered(PalStoreDb *db, PalStoreOp *op, GError **error)
{
	for (guint i = 0; i < op->ids->len; i++) {
		sqlite3_stmt *stmt = pal_store_db_stmt(db, STMT_OUTBOX_DELETE, error);
		if (stmt == NULL)
			return FALSE;
		sqlite3_bind_int64(stmt, 1, g_array_index(op->ids, gint64, i));
		if (!pal_store_db_step(db, stmt, "deleting from the outbox", error))
			return FALSE;
	}
	return TRUE;
}

static gboolean
pal_store_op_outbox_update(PalStoreDb *db, PalStoreOp *op, GError **error)
{
	sqlite3_stmt *stmt = pal_store_db_stmt(db, STMT_OUTBOX_UPDATE, error);

	if (stmt == NULL)
		return FALSE;
	sqlite3_bind_int64(stmt, 1, op->id);
	sqlite3_bind_int64(stmt, 2, op->attempts);
	sqlite3_bind_int64(stmt, 3, op->next_attempt_at);
	if (!pal_store_db_step(db, stmt, "updating the outbox", error))
		return FALSE;
	if (sqlite3_changes(db->db) == 0) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_NOT_FOUND,
			    "%s: no outbox row %" G_GINT64_FORMAT,
			    db->display,
			    op->id);
		return FALSE;
	}
	return TRUE;
}

static gboolean
pal_store_op_outbox_dead_letter(PalStoreDb *db, PalStoreOp *op, GError **error)
{
	sqlite3_stmt *stmt = pal_store_db_stmt(db, STMT_OUTBOX_TO_DEAD, error);

	if (stmt == NULL)
		return FALSE;
	sqlite3_bind_int64(stmt, 1, op->id);
	pal_store_bind_text(stmt, 2, op->str2 != NULL ? op->str2 : "");
	sqlite3_bind_int64(stmt, 3, g_get_real_time());
	sqlite3_bind_int(stmt, 4, op->last_status);
	if (!pal_store_db_step(db, stmt, "moving an output to the dead letters", error))
		return FALSE;
	if (sqlite3_changes(db->db) == 0) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_NOT_FOUND,
			    "%s: no outbox row %" G_GINT64_FORMAT,
			    db->display,
			    op->id);
		return FALSE;
	}
	stmt = pal_store_db_stmt(db, STMT_OUTBOX_DELETE, error);
	if (stmt == NULL)
		return FALSE;
	sqlite3_bind_int64(stmt, 1, op->id);
	return pal_store_db_step(db, stmt, "deleting from the outbox", error);
}

static PalStoreOutboxRow *
pal_store_read_outbox_row(sqlite3_stmt *stmt)
{
	PalStoreOutboxRow *row = g_new0(PalStoreOutboxRow, 1);

	row->id = sqlite3_column_int64(stmt, 0);
	row->endpoint = pal_store_column_text(stmt, 1);
	row->session_key = pal_store_column_text(stmt, 2);
	row->session_seq = (guint64)sqlite3_column_int64(stmt, 3);
	row->webhook_id = pal_store_column_text(stmt, 4);
	row->turn_id = pal_store_column_text(stmt, 5);
	row->turn_index = (guint)sqlite3_column_int64(stmt, 6);
	row->body = pal_store_column_bytes(stmt, 7);
	row->created_at = sqlite3_column_int64(stmt, 8);
	row->expires_at = sqlite3_column_int64(stmt, 9);
	row->attempts = (guint)sqlite3_column_int64(stmt, 10);
	row->next_attempt_at = sqlite3_column_int64(stmt, 11);
	return row;
}

static gboolean
pal_store_op_load_journal(PalStoreDb *db, PalStoreOp *op, GError **error)
{
	g_autoptr(GPtrArray) rows =
	    g_ptr_array_new_with_free_func((GDestroyNotify)pal_store_journal_entry_free);
	sqlite3_stmt *stmt = pal_store_db_stmt(db, STMT_JOURNAL_LOAD, error);
	int rc;

	if (stmt == NULL)
		return FALSE;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		PalStoreJournalEntry *e = g_new0(PalStoreJournalEntry, 1);
		e->input_id = pal_store_column_text(stmt, 0);
		e->endpoint = pal_store_column_text(stmt, 1);
		e->user_id = pal_store_column_text(stmt, 2);
		e->session_id = pal_store_column_text(stmt, 3);
		e->kind = sqlite3_column_int(stmt, 4);
		e->body = pal_store_column_bytes(stmt, 5);
		e->received_at = sqlite3_column_int64(stmt, 6);
		e->state = sqlite3_column_int(stmt, 7);
		g_ptr_array_add(rows, e);
	}
	if (rc != SQLITE_DONE) {
		pal_store_db_set_error(db, error, rc, "loading the journal");
		pal_store_stmt_done(stmt);
		return FALSE;
	}
	pal_store_stmt_done(stmt);
	op->result = g_steal_pointer(&rows);
	op->result_free = (GDestroyNotify)g_ptr_array_unref;
	return TRUE;
}

static gboolean
pal_store_op_load_outbox(PalStoreDb *db, PalStoreOp *op, GError **error)
{
	g_autoptr(GPtrArray) rows =
	    g_ptr_array_new_with_free_func((GDestroyNotify)pal_store_outbox_row_free);
	sqlite3_stmt *stmt = pal_store_db_stmt(db, STMT_OUTBOX_LOAD, error);
	int rc;

	if (stmt == NULL)
		return FALSE;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		g_ptr_array_add(rows, pal_store_read_outbox_row(stmt));
	if (rc != SQLITE_DONE) {
		pal_store_db_set_error(db, error, rc, "loading the outbox");
		pal_store_stmt_done(stmt);
		return FALSE;
	}
	pal_store_stmt_done(stmt);
	op->result = g_steal_pointer(&rows);
	op->result_free = (GDestroyNotify)g_ptr_array_unref;
	return TRUE;
}

static PalStoreSession *
pal_store_read_session(sqlite3_stmt *stmt)
{
	PalStoreSession *s = g_new0(PalStoreSession, 1);

	s->session_key = pal_store_column_text(stmt, 0);
	s->endpoint = pal_store_column_text(stmt, 1);
	s->user_id = pal_store_column_text(stmt, 2);
	s->session_id = pal_store_column_text(stmt, 3);
	s->context = pal_store_column_text(stmt, 4);
	s->entrypoint = pal_store_column_text(stmt, 5);
	s->handover = sqlite3_column_int(stmt, 6) != 0;
	s->last_seq = (guint64)sqlite3_column_int64(stmt, 7);
	s->turns = (guint64)sqlite3_column_int64(stmt, 8);
	s->created_at = sqlite3_column_int64(stmt, 9);
	s->updated_at = sqlite3_column_int64(stmt, 10);
	return s;
}

static gboolean
pal_store_op_load_session(PalStoreDb *db, PalStoreOp *op, GError **error)
{
	sqlite3_stmt *stmt = pal_store_db_stmt(db, STMT_SESSION_LOAD, error);
	PalStoreSession *s;
	int rc;

	if (stmt == NULL)
		return FALSE;
	pal_store_bind_text(stmt, 1, op->str1);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE) {
		pal_store_stmt_done(stmt);
		return TRUE;
	}
	if (rc != SQLITE_ROW) {
		pal_store_db_set_error(db, error, rc, "loading a session");
		pal_store_stmt_done(stmt);
		return FALSE;
	}
	s = pal_store_read_session(stmt);
	pal_store_stmt_done(stmt);
	op->result = s;
	op->result_free = (GDestroyNotify)pal_store_session_free;
	return TRUE;
}

static gboolean
pal_store_op_load_profile(PalStoreDb *db, PalStoreOp *op, GError **error)
{
	sqlite3_stmt *stmt = pal_store_db_stmt(db, STMT_PROFILE_LOAD, error);
	int rc;

	if (stmt == NULL)
		return FALSE;
	pal_store_bind_text(stmt, 1, op->str1);
	pal_store_bind_text(stmt, 2, op->str2);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		op->result = pal_store_column_text(stmt, 0);
		op->result_free = g_free;
	} else if (rc != SQLITE_DONE) {
		pal_store_db_set_error(db, error, rc, "loading a profile");
		pal_store_stmt_done(stmt);
		return FALSE;
	}
	pal_store_stmt_done(stmt);
	return TRUE;
}

static GPtrArray *
pal_store_db_list_dead(PalStoreDb *db,
		       const gchar *endpoint,
		       const gchar *session_key,
		       guint offset,
		       guint limit,
		       GError **error)
{
	g_autoptr(GPtrArray) rows =
	    g_ptr_array_new_with_free_func((GDestroyNotify)pal_store_dead_letter_free);
	sqlite3_stmt *stmt = pal_store_db_stmt(db, STMT_DEAD_LIST, error);
	int rc;

	if (stmt == NULL)
		return NULL;
	pal_store_bind_text(stmt, 1, endpoint);
	pal_store_bind_text(stmt, 2, session_key);
	sqlite3_bind_int64(stmt, 3, limit > 0 ? (sqlite3_int64)limit : -1);
	sqlite3_bind_int64(stmt, 4, offset);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		PalStoreDeadLetter *dead = g_new0(PalStoreDeadLetter, 1);
		dead->row = pal_store_read_outbox_row(stmt);
		dead->reason = pal_store_column_text(stmt, 12);
		dead->failed_at = sqlite3_column_int64(stmt, 13);
		dead->last_status = sqlite3_column_int(stmt, 14);
		g_ptr_array_add(rows, dead);
	}
	if (rc != SQLITE_DONE) {
		pal_store_db_set_error(db, error, rc, "listing dead letters");
		pal_store_stmt_done(stmt);
		return NULL;
	}
	pal_store_stmt_done(stmt);
	return g_steal_pointer(&rows);
}

static gboolean
pal_store_op_dead_list(PalStoreDb *db, PalStoreOp *op, GError **error)
{
	GPtrArray *rows = pal_store_db_list_dead(db, op->str1, op->str2, op->offset, op->limit, error);

	if (rows == NULL)
		return FALSE;
	op->result = rows;
	op->result_free = (GDestroyNotify)g_ptr_array_unref;
	return TRUE;
}

static gboolean
pal_store_op_dead_replay(PalStoreDb *db, PalStoreOp *op, GError **error)
{
	g_autoptr(GPtrArray) dead = pal_store_db_list_dead(db, op->str1, op->str2, 0, 0, error);
	g_autoptr(GPtrArray) rows =
	    g_ptr_array_new_with_free_func((GDestroyNotify)pal_store_outbox_row_free);
	gint64 now = g_get_real_time();
	const gchar *current = NULL;
	guint64 seq = 0;

	if (dead == NULL)
		return FALSE;
	/* sorted by session_key, session_seq: renumber each session after its highest seq */
	for (guint i = 0; i < dead->len; i++) {
		PalStoreDeadLetter *d = g_ptr_array_index(dead, i);
		PalStoreOutboxRow *row = pal_store_outbox_row_copy(d->row);
		sqlite3_stmt *stmt;

		g_ptr_array_add(rows, row);
		if (g_strcmp0(current, row->session_key) != 0) {
			if (current != NULL && !pal_store_db_set_last_seq(db, current, seq, error))
				return FALSE;
			current = row->session_key;
			if (!pal_store_db_next_seq(db, current, &seq, error))
				return FALSE;
		}
		stmt = pal_store_db_stmt(db, STMT_DEAD_DELETE, error);
		if (stmt == NULL)
			return FALSE;
		sqlite3_bind_int64(stmt, 1, row->id);
		if (!pal_store_db_step(db, stmt, "deleting a dead letter", error))
			return FALSE;
		row->session_seq = ++seq;
		row->attempts = 0;
		row->next_attempt_at = 0;
		row->expires_at = now + op->ttl;
		if (!pal_store_db_insert_outbox(db, row, error))
			return FALSE;
		if (row->id == 0)
			g_ptr_array_remove_index(rows, rows->len - 1);
	}
	if (current != NULL && !pal_store_db_set_last_seq(db, current, seq, error))
		return FALSE;
	op->result = g_steal_pointer(&rows);
	op->result_free = (GDestroyNotify)g_ptr_array_unref;
	return TRUE;
}

static gboolean
pal_store_op_dead_purge(PalStoreDb *db, PalStoreOp *op, GError **error)
{
	sqlite3_stmt *stmt = pal_store_db_stmt(db, STMT_DEAD_PURGE, error);

	if (stmt == NULL)
		return FALSE;
	pal_store_bind_text(stmt, 1, op->str1);
	pal_store_bind_text(stmt, 2, op->str2);
	if (!pal_store_db_step(db, stmt, "purging dead letters", error))
		return FALSE;
	op->count = sqlite3_changes(db->db);
	return TRUE;
}

/* retention: the state of sessions of an endpoint not updated since op->ttl (a time), the
 * rows of those not updated since op->next_attempt_at (a time; 0 = keep), and journal rows
 * done before op->id (a time; 0 = keep) */
static gboolean
pal_store_op_sessions_expire(PalStoreDb *db, PalStoreOp *op, GError **error)
{
	sqlite3_stmt *stmt = pal_store_db_stmt(db, STMT_SESSIONS_EXPIRE, error);

	if (stmt == NULL)
		return FALSE;
	pal_store_bind_text(stmt, 1, op->str1);
	sqlite3_bind_int64(stmt, 2, op->ttl);
	if (!pal_store_db_step(db, stmt, "clearing expired sessions", error))
		return FALSE;
	op->count = sqlite3_changes(db->db);
	if (op->next_attempt_at > 0) {
		stmt = pal_store_db_stmt(db, STMT_SESSIONS_FORGET, error);
		if (stmt == NULL)
			return FALSE;
		pal_store_bind_text(stmt, 1, op->str1);
		sqlite3_bind_int64(stmt, 2, op->next_attempt_at);
		if (!pal_store_db_step(db, stmt, "deleting forgotten sessions", error))
			return FALSE;
	}
	if (op->id > 0) {
		stmt = pal_store_db_stmt(db, STMT_JOURNAL_PRUNE, error);
		if (stmt == NULL)
			return FALSE;
		sqlite3_bind_int64(stmt, 1, op->id);
		if (!pal_store_db_step(db, stmt, "pruning the journal", error))
			return FALSE;
	}
	return TRUE;
}

static gboolean
pal_store_op_endpoint_put(PalStoreDb *db, PalStoreOp *op, GError **error)
{
	sqlite3_stmt *stmt = pal_store_db_stmt(db, STMT_ENDPOINT_PUT, error);

	if (stmt == NULL)
		return FALSE;
	pal_store_bind_text(stmt, 1, op->str1);
	pal_store_bind_text(stmt, 2, op->str2);
	sqlite3_bind_int64(stmt, 3, g_get_real_time());
	return pal_store_db_step(db, stmt, "saving an endpoint", error);
}

static gboolean
pal_store_op_endpoint_delete(PalStoreDb *db, PalStoreOp *op, GError **error)
{
	sqlite3_stmt *stmt = pal_store_db_stmt(db, STMT_ENDPOINT_DELETE, error);

	if (stmt == NULL)
		return FALSE;
	pal_store_bind_text(stmt, 1, op->str1);
	if (!pal_store_db_step(db, stmt, "deleting an endpoint", error))
		return FALSE;
	if (sqlite3_changes(db->db) == 0) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_NOT_FOUND,
			    "%s: no runtime endpoint named %s",
			    db->display,
			    op->str1);
		return FALSE;
	}
	return TRUE;
}

static gboolean
pal_store_op_endpoints_list(PalStoreDb *db, PalStoreOp *op, GError **error)
{
	g_autoptr(GPtrArray) rows =
	    g_ptr_array_new_with_free_func((GDestroyNotify)pal_store_endpoint_free);
	sqlite3_stmt *stmt = pal_store_db_stmt(db, STMT_ENDPOINTS_LIST, error);
	int rc;

	if (stmt == NULL)
		return FALSE;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		PalStoreEndpoint *e = g_new0(PalStoreEndpoint, 1);
		e->name = pal_store_column_text(stmt, 0);
		e->json = pal_store_column_text(stmt, 1);
		e->created_at = sqlite3_column_int64(stmt, 2);
		e->updated_at = sqlite3_column_int64(stmt, 3);
		g_ptr_array_add(rows, e);
	}
	if (rc != SQLITE_DONE) {
		pal_store_db_set_error(db, error, rc, "listing endpoints");
		pal_store_stmt_done(stmt);
		return FALSE;
	}
	pal_store_stmt_done(stmt);
	op->result = g_steal_pointer(&rows);
	op->result_free = (GDestroyNotify)g_ptr_array_unref;
	return TRUE;
}

static gboolean
pal_store_op_sessions_list(PalStoreDb *db, PalStoreOp *op, GError **error)
{
	g_autoptr(PalStoreSessionPage) page = g_new0(PalStoreSessionPage, 1);
	sqlite3_stmt *stmt = pal_store_db_stmt(db, STMT_SESSIONS_COUNT, error);
	int rc;

	if (stmt == NULL)
		return FALSE;
	pal_store_bind_text(stmt, 1, op->str1);
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		pal_store_db_set_error(db, error, rc, "counting sessions");
		pal_store_stmt_done(stmt);
		return FALSE;
	}
	page->total = (guint64)sqlite3_column_int64(stmt, 0);
	pal_store_stmt_done(stmt);
	page->sessions = g_ptr_array_new_with_free_func((GDestroyNotify)pal_store_session_free);
	stmt = pal_store_db_stmt(db, STMT_SESSIONS_LIST, error);
	if (stmt == NULL)
		return FALSE;
	pal_store_bind_text(stmt, 1, op->str1);
	sqlite3_bind_int64(stmt, 2, op->limit > 0 ? (sqlite3_int64)op->limit : -1);
	sqlite3_bind_int64(stmt, 3, op->offset);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		g_ptr_array_add(page->sessions, pal_store_read_session(stmt));
	if (rc != SQLITE_DONE) {
		pal_store_db_set_error(db, error, rc, "listing sessions");
		pal_store_stmt_done(stmt);
		return FALSE;
	}
	pal_store_stmt_done(stmt);
	op->result = g_steal_pointer(&page);
	op->result_free = (GDestroyNotify)pal_store_session_page_free;
	return TRUE;
}

static gboolean
pal_store_op_session_reset(PalStoreDb *db, PalStoreOp *op, GError **error)
{
	sqlite3_stmt *stmt = pal_store_db_stmt(db, STMT_SESSION_RESET, error);

	if (stmt == NULL)
		return FALSE;
	pal_store_bind_text(stmt, 1, op->str1);
	sqlite3_bind_int64(stmt, 2, g_get_real_time());
	if (!pal_store_db_step(db, stmt, "resetting a session", error))
		return FALSE;
	if (sqlite3_changes(db->db) == 0) {
		g_set_error(error, PAL_ERROR, PAL_ERROR_NOT_FOUND, "%s: no such session", db->display);
		return FALSE;
	}
	return TRUE;
}

static gboolean
pal_store_op_endpoint_state_set(PalStoreDb *db, PalStoreOp *op, GError **error)
{
	sqlite3_stmt *stmt;

	if (op->last_status < 0) {
		stmt = pal_store_db_stmt(db, STMT_ENDPOINT_STATE_DELETE, error);
		if (stmt == NULL)
			return FALSE;
		pal_store_bind_text(stmt, 1, op->str1);
		return pal_store_db_step(db, stmt, "deleting an endpoint state", error);
	}
	stmt = pal_store_db_stmt(db, STMT_ENDPOINT_STATE_PUT, error);
	if (stmt == NULL)
		return FALSE;
	pal_store_bind_text(stmt, 1, op->str1);
	sqlite3_bind_int(stmt, 2, op->last_status > 0 ? 1 : 0);
	sqlite3_bind_int64(stmt, 3, g_get_real_time());
	return pal_store_db_step(db, stmt, "saving an endpoint state", error);
}

static gboolean
pal_store_op_endpoint_states_list(PalStoreDb *db, PalStoreOp *op, GError **error)
{
	g_autoptr(GHashTable) states = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	sqlite3_stmt *stmt = pal_store_db_stmt(db, STMT_ENDPOINT_STATES_LIST, error);
	int rc;

	if (stmt == NULL)
		return FALSE;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		g_hash_table_insert(states,
				    pal_store_column_text(stmt, 0),
				    GINT_TO_POINTER(sqlite3_column_int(stmt, 1) != 0 ? 1 : 0));
	if (rc != SQLITE_DONE) {
		pal_store_db_set_error(db, error, rc, "listing endpoint states");
		pal_store_stmt_done(stmt);
		return FALSE;
	}
	pal_store_stmt_done(stmt);
	op->result = g_steal_pointer(&states);
	op->result_free = (GDestroyNotify)g_hash_table_unref;
	return TRUE;
}

static gboolean
pal_store_op_exec(PalStoreDb *db, PalStoreOp *op, GError **error)
{
	switch (op->kind) {
	case OP_JOURNAL_APPEND:
		return pal_store_op_journal_append(db, op, error);
	case OP_TURN_COMMIT:
		return pal_store_op_turn_commit(db, op, error);
	case OP_OUTBOX_DELIVERED:
		return pal_store_op_outbox_delivered(db, op, error);
	case OP_OUTBOX_UPDATE:
		return pal_store_op_outbox_update(db, op, error);
	case OP_OUTBOX_DEAD_LETTER:
		return pal_store_op_outbox_dead_letter(db, op, error);
	case OP_LOAD_JOURNAL:
		return pal_store_op_load_journal(db, op, error);
	case OP_LOAD_OUTBOX:
		return pal_store_op_load_outbox(db, op, error);
	case OP_LOAD_SESSION:
		return pal_store_op_load_session(db, op, error);
	case OP_LOAD_PROFILE:
		return pal_store_op_load_profile(db, op, error);
	case OP_DEAD_LIST:
		return pal_store_op_dead_list(db, op, error);
	case OP_DEAD_REPLAY:
		return pal_store_op_dead_replay(db, op, error);
	case OP_DEAD_PURGE:
		return pal_store_op_dead_purge(db, op, error);
	case OP_SESSIONS_EXPIRE:
		return pal_store_op_sessions_expire(db, op, error);
	case OP_ENDPOINT_PUT:
		return pal_store_op_endpoint_put(db, op, error);
	case OP_ENDPOINT_DELETE:
		return pal_store_op_endpoint_delete(db, op, error);
	case OP_ENDPOINTS_LIST:
		return pal_store_op_endpoints_list(db, op, error);
	case OP_SESSIONS_LIST:
		return pal_store_op_sessions_list(db, op, error);
	case OP_SESSION_RESET:
		return pal_store_op_session_reset(db, op, error);
	case OP_ENDPOINT_STATE_SET:
		return pal_store_op_endpoint_state_set(db, op, error);
	case OP_ENDPOINT_STATES_LIST:
		return pal_store_op_endpoint_states_list(db, op, error);
	case OP_PING:
	case OP_CLOSE:
	default:
		return TRUE;
	}
}

/* --- the writer thread --- */

static void
pal_store_db_rollback(PalStoreDb *db)
{
	if (db->db != NULL && !sqlite3_get_autocommit(db->db))
		sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
}

/* one op in its own transaction */
static void
pal_store_db_run_one(PalStoreDb *db, PalStoreOp *op)
{
	pal_store_op_clear_result(op);
	if (!pal_store_db_run(db, STMT_BEGIN, "starting a transaction", &op->error))
		return;
	if (!pal_store_op_exec(db, op, &op->error) ||
	    !pal_store_db_run(db, STMT_COMMIT, "committing", &op->error)) {
		pal_store_db_rollback(db);
		pal_store_op_drop_result(op);
		return;
	}
	g_atomic_pointer_add(&db->n_transactions, 1);
}

static gboolean
pal_store_db_group_exec(PalStoreDb *db, GPtrArray *ops, GError **error)
{
	if (!pal_store_db_run(db, STMT_BEGIN, "starting a transaction", error))
		return FALSE;
	for (guint i = 0; i < ops->len; i++) {
		PalStoreOp *op = g_ptr_array_index(ops, i);
		if (!pal_store_db_run(db, STMT_SAVEPOINT, "starting a savepoint", error))
			return FALSE;
		db->fatal = FALSE;
		if (pal_store_op_exec(db, op, &op->error)) {
			if (!pal_store_db_run(db, STMT_RELEASE, "releasing a savepoint", error))
				return FALSE;
			continue;
		}
		/* I/O, disk full, busy…: the transaction is lost (SQLite may have rolled it back) */
		if (db->fatal || sqlite3_get_autocommit(db->db)) {
			g_set_error(error,
				    PAL_ERROR,
				    PAL_ERROR_FAILED,
				    "op %u: %s",
				    i,
				    op->error->message);
			return FALSE;
		}
		/* a logical failure (duplicate key, unknown id): undo this op only */
		if (!pal_store_db_run(db, STMT_ROLLBACK_TO, "rolling back an op", error) ||
		    !pal_store_db_run(db, STMT_RELEASE, "releasing a savepoint", error))
			return FALSE;
	}
	return pal_store_db_run(db, STMT_COMMIT, "committing", error);
}

/* all ops in one transaction, each in a savepoint; FALSE when the transaction failed */
static gboolean
pal_store_db_run_group(PalStoreDb *db, GPtrArray *ops)
{
	g_autoptr(GError) error = NULL;

	if (!pal_store_db_group_exec(db, ops, &error)) {
		g_debug("group commit of %u ops failed, retrying each alone: %s",
			ops->len,
			error->message);
		pal_store_db_rollback(db);
		return FALSE;
	}
	g_atomic_pointer_add(&db->n_transactions, 1);
	return TRUE;
}

static void
pal_store_db_run_batch(PalStoreDb *db, GPtrArray *batch)
{
	g_autoptr(GPtrArray) live = g_ptr_array_new();
	g_autoptr(GError) error = NULL;

	for (guint i = 0; i < batch->len; i++) {
		PalStoreOp *op = g_ptr_array_index(batch, i);
		if (op->task == NULL)
			continue;
		if (g_cancellable_set_error_if_cancelled(g_task_get_cancellable(op->task),
							 &op->error))
			continue;
		g_ptr_array_add(live, op);
	}
	if (!pal_store_db_ensure_usable(db, &error)) {
		for (guint i = 0; i < live->len; i++) {
			PalStoreOp *op = g_ptr_array_index(live, i);
			op->error = g_error_copy(error);
		}
		return;
	}
	if (live->len == 0)
		return;
	g_atomic_pointer_add(&db->n_ops, live->len);
	if (live->len > 1 && pal_store_db_run_group(db, live))
		return;
	if (live->len > 1 && !pal_store_db_ensure_usable(db, &error)) {
		for (guint i = 0; i < live->len; i++) {
			PalStoreOp *op = g_ptr_array_index(live, i);
			pal_store_op_clear_result(op);
			op->error = g_error_copy(error);
		}
		return;
	}
	for (guint i = 0; i < live->len; i++) {
		PalStoreOp *op = g_ptr_array_index(live, i);
		/* a failed group may have closed the connection (I/O error): reopen first */
		if (i > 0 && !pal_store_db_ensure_usable(db, &error)) {
			pal_store_op_clear_result(op);
			op->error = g_error_copy(error);
			g_clear_error(&error);
			continue;
		}
		pal_store_db_run_one(db, op);
		/* the lock is held elsewhere: do not wait busy_timeout once per op */
		if (op->error != NULL && g_error_matches(op->error, PAL_ERROR, PAL_ERROR_BUSY)) {
			for (guint j = i + 1; j < live->len; j++) {
				PalStoreOp *rest = g_ptr_array_index(live, j);
				pal_store_op_clear_result(rest);
				rest->error = g_error_copy(op->error);
			}
			break;
		}
	}
}

static void
pal_store_op_complete(PalStoreOp *op)
{
	GTask *task = op->task;

	if (task == NULL) {
		pal_store_op_free(op);
		return;
	}
	op->task = NULL;
	if (op->error != NULL) {
		g_task_return_error(task, g_steal_pointer(&op->error));
	} else {
		switch (op->kind) {
		case OP_TURN_COMMIT:
		case OP_LOAD_JOURNAL:
		case OP_LOAD_OUTBOX:
		case OP_LOAD_SESSION:
		case OP_LOAD_PROFILE:
		case OP_DEAD_LIST:
		case OP_DEAD_REPLAY:
		case OP_ENDPOINTS_LIST:
		case OP_SESSIONS_LIST:
		case OP_ENDPOINT_STATES_LIST:
			g_task_return_pointer(task, g_steal_pointer(&op->result), op->result_free);
			op->result_free = NULL;
			break;
		case OP_DEAD_PURGE:
		case OP_SESSIONS_EXPIRE:
			g_task_return_int(task, op->count);
			break;
		case OP_JOURNAL_APPEND:
		case OP_OUTBOX_DELIVERED:
		case OP_OUTBOX_UPDATE:
		case OP_OUTBOX_DEAD_LETTER:
		case OP_ENDPOINT_PUT:
		case OP_ENDPOINT_DELETE:
		case OP_SESSION_RESET:
		case OP_ENDPOINT_STATE_SET:
		case OP_PING:
		case OP_CLOSE:
		default:
			g_task_return_boolean(task, TRUE);
			break;
		}
	}
	/* may drop the last reference to the store: see pal_store_db_shutdown() */
	g_object_unref(task);
}

/* The results of one batch for one GMainContext: completed there by a single source, not by
 * one GTask idle source (and one wake-up of that context) per op. Inside that source each
 * g_task_return_*() runs its callback at once (the task was created in an earlier iteration),
 * in the order the ops were submitted. */
typedef struct {
	GMainContext *context; /* (unowned) each task holds a reference */
	GPtrArray *ops;	       /* PalStoreOp* */
} PalStoreCompletion;

static void
pal_store_completion_free(gpointer data)
{
	PalStoreCompletion *c = data;

	/* a source destroyed without running (its context is gone): complete what is left so the
	 * tasks are freed; their callbacks are then never called */
	if (c->ops != NULL) {
		for (guint i = 0; i < c->ops->len; i++) {
			PalStoreOp *op = g_ptr_array_index(c->ops, i);
			GTask *task = g_steal_pointer(&op->task);
			g_object_unref(task);
		}
		g_ptr_array_unref(c->ops);
	}
	g_free(c);
}

static gboolean
pal_store_completion_dispatch(gpointer data)
{
	PalStoreCompletion *c = data;
	g_autoptr(GPtrArray) ops = g_steal_pointer(&c->ops);

	for (guint i = 0; i < ops->len; i++)
		pal_store_op_complete(g_ptr_array_index(ops, i));
	return G_SOURCE_REMOVE;
}

static void
pal_store_db_complete_batch(GPtrArray *batch)
{
	PalStoreCompletion *groups[8];
	guint n_groups = 0;

	for (guint i = 0; i < batch->len; i++) {
		PalStoreOp *op = g_ptr_array_index(batch, i);
		GMainContext *context;
		PalStoreCompletion *c = NULL;

		if (op->task == NULL) {
			pal_store_op_complete(op);
			continue;
		}
		context = g_task_get_context(op->task);
		for (guint j = 0; j < n_groups && c == NULL; j++)
			if (groups[j]->context == context)
				c = groups[j];
		if (c == NULL && n_groups < G_N_ELEMENTS(groups)) {
			c = g_new0(PalStoreCompletion, 1);
			c->context = context;
			c->ops = g_ptr_array_new();
			groups[n_groups++] = c;
		}
		if (c == NULL) {
			/* more contexts than slots: GTask's own idle source */
			pal_store_op_complete(op);
			continue;
		}
		g_ptr_array_add(c->ops, op);
	}
	for (guint j = 0; j < n_groups; j++) {
		GSource *source = g_idle_source_new();

		g_source_set_priority(source, G_PRIORITY_DEFAULT);
		g_source_set_static_name(source, "pal-store-completion");
		g_source_set_callback(source, pal_store_completion_dispatch, groups[j], pal_store_completion_free);
		g_source_attach(source, groups[j]->context);
		g_source_unref(source);
	}
}

static gpointer
pal_store_db_thread(gpointer data)
{
	PalStoreDb *db = data;
	g_autoptr(GPtrArray) batch = g_ptr_array_new();
	gboolean closing = FALSE;

	if (db->path != NULL)
		db->ckpt_thread = g_thread_new("pal-store-ckpt", pal_store_db_checkpoint_thread, db);

	while (!closing) {
		PalStoreOp *op = g_async_queue_pop(db->queue);

		/* group commit: everything queued already, without waiting for more */
		g_ptr_array_set_size(batch, 0);
		while (op != NULL) {
			if (op->kind == OP_CLOSE) {
				pal_store_op_free(op);
				closing = TRUE;
				break;
			}
			g_ptr_array_add(batch, op);
			if (batch->len >= PAL_STORE_SQLITE_MAX_BATCH)
				break;
			op = g_async_queue_try_pop(db->queue);
		}
		if (batch->len == 0)
			break;
		pal_store_db_run_batch(db, batch);
		pal_store_db_complete_batch(batch);
	}
	if (db->ckpt_thread != NULL) {
		g_mutex_lock(&db->ckpt_lock);
		db->ckpt_stop = TRUE;
		g_cond_signal(&db->ckpt_cond);
		g_mutex_unlock(&db->ckpt_lock);
		g_thread_join(g_steal_pointer(&db->ckpt_thread));
	}
	/* (closing the last connection checkpoints what is left) */
	pal_store_db_disconnect(db);
	pal_store_db_unref(db);
	return NULL;
}

static void
pal_store_db_shutdown(PalStoreDb *db)
{
	PalStoreOp *close_op;
	GThread *thread;

	g_async_queue_lock(db->queue);
	if (db->closed) {
		g_async_queue_unlock(db->queue);
		return;
	}
	db->closed = TRUE;
	close_op = g_new0(PalStoreOp, 1);
	close_op->kind = OP_CLOSE;
	g_async_queue_push_unlocked(db->queue, close_op);
	thread = g_steal_pointer(&db->thread);
	g_async_queue_unlock(db->queue);

	/* the writer itself dropped the last reference (completing a task): it exits after
	 * this batch on its own, and cannot join itself */
	if (thread == g_thread_self())
		g_thread_unref(thread);
	else
		g_thread_join(thread);
}

/* --- the GObject --- */

static PalStoreOp *
pal_store_sqlite_op_new(PalStoreSqlite *self,
			PalStoreOpKind kind,
			gpointer source_tag,
			GCancellable *cancellable,
			GAsyncReadyCallback callback,
			gpointer user_data)
{
	PalStoreOp *op = g_new0(PalStoreOp, 1);

	op->kind = kind;
	op->task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(op->task, source_tag);
	/* a committed op reports success even if cancelled meanwhile */
	g_task_set_check_cancellable(op->task, FALSE);
	g_task_set_task_data(op->task, op, pal_store_op_free);
	return op;
}

static void
pal_store_sqlite_submit(PalStoreSqlite *self, PalStoreOp *op)
{
	PalStoreDb *db = self->db;
	GTask *task = op->task;
	gint length;

	g_async_queue_lock(db->queue);
	if (db->closed) {
		g_async_queue_unlock(db->queue);
		g_task_return_new_error(task,
					PAL_ERROR,
					PAL_ERROR_UNAVAILABLE,
					"%s: the store is closed",
					db->display);
		g_object_unref(task);
		return;
	}
	length = g_async_queue_length_unlocked(db->queue);
	if (length >= 0 && (guint)length >= db->max_queue) {
		guint max_queue = db->max_queue;
		g_async_queue_unlock(db->queue);
		g_task_return_new_error(task,
					PAL_ERROR,
					PAL_ERROR_BUSY,
					"%s: too many store operations waiting (%u)",
					db->display,
					max_queue);
		g_object_unref(task);
		return;
	}
	g_async_queue_push_unlocked(db->queue, op);
	g_async_queue_unlock(db->queue);
}

static void
pal_store_sqlite_journal_append_async(PalStore *store,
				      const PalStoreJournalEntry *entry,
				      GCancellable *cancellable,
				      GAsyncReadyCallback callback,
				      gpointer user_data)
{
	PalStoreSqlite *self = PAL_STORE_SQLITE(store);
	PalStoreOp *op = pal_store_sqlite_op_new(self,
						 OP_JOURNAL_APPEND,
						 pal_store_journal_append_async,
						 cancellable,
						 callback,
						 user_data);
	op->entry = pal_store_journal_entry_copy(entry);
	pal_store_sqlite_submit(self, op);
}

static void
pal_store_sqlite_turn_commit_async(PalStore *store,
				   const PalStoreTurn *turn,
				   GCancellable *cancellable,
				   GAsyncReadyCallback callback,
				   gpointer user_data)
{
	PalStoreSqlite *self = PAL_STORE_SQLITE(store);
	PalStoreOp *op = pal_store_sqlite_op_new(self,
						 OP_TURN_COMMIT,
						 pal_store_turn_commit_async,
						 cancellable,
						 callback,
						 user_data);
	op->turn = pal_store_turn_new(turn->input_id, turn->session);
	pal_store_turn_set_profile(op->turn, turn->profile);
	op->turn->partial = turn->partial;
	op->turn->journaled = turn->journaled;
	for (guint i = 0; i < turn->outbox->len; i++)
		pal_store_turn_add_outbox(op->turn,
					  pal_store_outbox_row_copy(g_ptr_array_index(turn->outbox, i)));
	pal_store_sqlite_submit(self, op);
}

static void
pal_store_sqlite_outbox_delivered_async(PalStore *store,
					const gint64 *ids,
					guint n_ids,
					GCancellable *cancellable,
					GAsyncReadyCallback callback,
					gpointer user_data)
{
	PalStoreSqlite *self = PAL_STORE_SQLITE(store);
	PalStoreOp *op = pal_store_sqlite_op_new(self,
						 OP_OUTBOX_DELIVERED,
						 pal_store_outbox_delivered_async,
						 cancellable,
						 callback,
						 user_data);
	op->ids = g_array_sized_new(FALSE, FALSE, sizeof(gint64), n_ids);
	g_array_append_vals(op->ids, ids, n_ids);
	pal_store_sqlite_submit(self, op);
}

static void
pal_store_sqlite_outbox_update_async(PalStore *store,
				     gint64 id,
				     guint attempts,
				     gint64 next_attempt_at,
				     GCancellable *cancellable,
				     GAsyncReadyCallback callback,
				     gpointer user_data)
{
	PalStoreSqlite *self = PAL_STORE_SQLITE(store);
	PalStoreOp *op = pal_store_sqlite_op_new(self,
						 OP_OUTBOX_UPDATE,
						 pal_store_outbox_update_async,
						 cancellable,
						 callback,
						 user_data);
	op->id = id;
	op->attempts = attempts;
	op->next_attempt_at = next_attempt_at;
	pal_store_sqlite_submit(self, op);
}

static void
pal_store_sqlite_outbox_dead_letter_async(PalStore *store,
					  gint64 id,
					  const gchar *reason,
					  gint last_status,
					  GCancellable *cancellable,
					  GAsyncReadyCallback callback,
					  gpointer user_data)
{
	PalStoreSqlite *self = PAL_STORE_SQLITE(store);
	PalStoreOp *op = pal_store_sqlite_op_new(self,
						 OP_OUTBOX_DEAD_LETTER,
						 pal_store_outbox_dead_letter_async,
						 cancellable,
						 callback,
						 user_data);
	op->id = id;
	op->str2 = g_strdup(reason);
	op->last_status = last_status;
	pal_store_sqlite_submit(self, op);
}

static void
pal_store_sqlite_load_unfinished_journal_async(PalStore *store,
					       GCancellable *cancellable,
					       GAsyncReadyCallback callback,
					       gpointer user_data)
{
	PalStoreSqlite *self = PAL_STORE_SQLITE(store);
	pal_store_sqlite_submit(self,
				pal_store_sqlite_op_new(self,
							OP_LOAD_JOURNAL,
							pal_store_load_unfinished_journal_async,
							cancellable,
							callback,
							user_data));
}

static void
pal_store_sqlite_load_outbox_async(PalStore *store,
				   GCancellable *cancellable,
				   GAsyncReadyCallback callback,
				   gpointer user_data)
{
	PalStoreSqlite *self = PAL_STORE_SQLITE(store);
	pal_store_sqlite_submit(self,
				pal_store_sqlite_op_new(self,
							OP_LOAD_OUTBOX,
							pal_store_load_outbox_async,
							cancellable,
							callback,
							user_data));
}

static void
pal_store_sqlite_load_session_async(PalStore *store,
				    const gchar *session_key,
				    GCancellable *cancellable,
				    GAsyncReadyCallback callback,
				    gpointer user_data)
{
	PalStoreSqlite *self = PAL_STORE_SQLITE(store);
	PalStoreOp *op = pal_store_sqlite_op_new(self,
						 OP_LOAD_SESSION,
						 pal_store_load_session_async,
						 cancellable,
						 callback,
						 user_data);
	op->str1 = g_strdup(session_key);
	pal_store_sqlite_submit(self, op);
}

static void
pal_store_sqlite_load_profile_async(PalStore *store,
				    const gchar *endpoint,
				    const gchar *user_id,
				    GCancellable *cancellable,
				    GAsyncReadyCallback callback,
				    gpointer user_data)
{
	PalStoreSqlite *self = PAL_STORE_SQLITE(store);
	PalStoreOp *op = pal_store_sqlite_op_new(self,
						 OP_LOAD_PROFILE,
						 pal_store_load_profile_async,
						 cancellable,
						 callback,
						 user_data);
	op->str1 = g_strdup(endpoint);
	op->str2 = g_strdup(user_id);
	pal_store_sqlite_submit(self, op);
}

static void
pal_store_sqlite_dead_letters_list_async(PalStore *store,
					 const gchar *endpoint,
					 const gchar *session_key,
					 guint offset,
					 guint limit,
					 GCancellable *cancellable,
					 GAsyncReadyCallback callback,
					 gpointer user_data)
{
	PalStoreSqlite *self = PAL_STORE_SQLITE(store);
	PalStoreOp *op = pal_store_sqlite_op_new(self,
						 OP_DEAD_LIST,
						 pal_store_dead_letters_list_async,
						 cancellable,
						 callback,
						 user_data);
	op->str1 = g_strdup(endpoint);
	op->str2 = g_strdup(session_key);
	op->offset = offset;
	op->limit = limit;
	pal_store_sqlite_submit(self, op);
}

static void
pal_store_sqlite_dead_letters_replay_async(PalStore *store,
					   const gchar *endpoint,
					   const gchar *session_key,
					   gint64 ttl_usec,
					   GCancellable *cancellable,
					   GAsyncReadyCallback callback,
					   gpointer user_data)
{
	PalStoreSqlite *self = PAL_STORE_SQLITE(store);
	PalStoreOp *op = pal_store_sqlite_op_new(self,
						 OP_DEAD_REPLAY,
						 pal_store_dead_letters_replay_async,
						 cancellable,
						 callback,
						 user_data);
	op->str1 = g_strdup(endpoint);
	op->str2 = g_strdup(session_key);
	op->ttl = ttl_usec;
	pal_store_sqlite_submit(self, op);
}

static void
pal_store_sqlite_sessions_expire_async(PalStore *store,
				       const gchar *endpoint,
				       gint64 updated_before,
				       gint64 forget_before,
				       gint64 journal_done_before,
				       GCancellable *cancellable,
				       GAsyncReadyCallback callback,
				       gpointer user_data)
{
	PalStoreSqlite *self = PAL_STORE_SQLITE(store);
	PalStoreOp *op = pal_store_sqlite_op_new(self,
						 OP_SESSIONS_EXPIRE,
						 pal_store_sessions_expire_async,
						 cancellable,
						 callback,
						 user_data);
	op->str1 = g_strdup(endpoint);
	op->ttl = updated_before;
	op->next_attempt_at = forget_before;
	op->id = journal_done_before;
	pal_store_sqlite_submit(self, op);
}

static void
pal_store_sqlite_dead_letters_purge_async(PalStore *store,
					  const gchar *endpoint,
					  const gchar *session_key,
					  GCancellable *cancellable,
					  GAsyncReadyCallback callback,
					  gpointer user_data)
{
	PalStoreSqlite *self = PAL_STORE_SQLITE(store);
	PalStoreOp *op = pal_store_sqlite_op_new(self,
						 OP_DEAD_PURGE,
						 pal_store_dead_letters_purge_async,
						 cancellable,
						 callback,
						 user_data);
	op->str1 = g_strdup(endpoint);
	op->str2 = g_strdup(session_key);
	pal_store_sqlite_submit(self, op);
}

static void
pal_store_sqlite_endpoint_put_async(PalStore *store,
				    const gchar *name,
				    const gchar *json,
				    GCancellable *cancellable,
				    GAsyncReadyCallback callback,
				    gpointer user_data)
{
	PalStoreSqlite *self = PAL_STORE_SQLITE(store);
	PalStoreOp *op = pal_store_sqlite_op_new(self,
						 OP_ENDPOINT_PUT,
						 pal_store_endpoint_put_async,
						 cancellable,
						 callback,
						 user_data);
	op->str1 = g_strdup(name);
	op->str2 = g_strdup(json);
	pal_store_sqlite_submit(self, op);
}

static void
pal_store_sqlite_endpoint_delete_async(PalStore *store,
				       const gchar *name,
				       GCancellable *cancellable,
				       GAsyncReadyCallback callback,
				       gpointer user_data)
{
	PalStoreSqlite *self = PAL_STORE_SQLITE(store);
	PalStoreOp *op = pal_store_sqlite_op_new(self,
						 OP_ENDPOINT_DELETE,
						 pal_store_endpoint_delete_async,
						 cancellable,
						 callback,
						 user_data);
	op->str1 = g_strdup(name);
	pal_store_sqlite_submit(self, op);
}

static void
pal_store_sqlite_endpoints_list_async(PalStore *store,
				      GCancellable *cancellable,
				      GAsyncReadyCallback callback,
				      gpointer user_data)
{
	PalStoreSqlite *self = PAL_STORE_SQLITE(store);
	pal_store_sqlite_submit(self,
				pal_store_sqlite_op_new(self,
							OP_ENDPOINTS_LIST,
							pal_store_endpoints_list_async,
							cancellable,
							callback,
							user_data));
}

static void
pal_store_sqlite_sessions_list_async(PalStore *store,
				     const gchar *endpoint,
				     guint offset,
				     guint limit,
				     GCancellable *cancellable,
				     GAsyncReadyCallback callback,
				     gpointer user_data)
{
	PalStoreSqlite *self = PAL_STORE_SQLITE(store);
	PalStoreOp *op = pal_store_sqlite_op_new(self,
						 OP_SESSIONS_LIST,
						 pal_store_sessions_list_async,
						 cancellable,
						 callback,
						 user_data);
	op->str1 = g_strdup(endpoint);
	op->offset = offset;
	op->limit = limit;
	pal_store_sqlite_submit(self, op);
}

static void
pal_store_sqlite_session_reset_async(PalStore *store,
				     const gchar *session_key,
				     GCancellable *cancellable,
				     GAsyncReadyCallback callback,
				     gpointer user_data)
{
	PalStoreSqlite *self = PAL_STORE_SQLITE(store);
	PalStoreOp *op = pal_store_sqlite_op_new(self,
						 OP_SESSION_RESET,
						 pal_store_session_reset_async,
						 cancellable,
						 callback,
						 user_data);
	op->str1 = g_strdup(session_key);
	pal_store_sqlite_submit(self, op);
}

static void
pal_store_sqlite_endpoint_state_set_async(PalStore *store,
					  const gchar *name,
					  gint active,
					  GCancellable *cancellable,
					  GAsyncReadyCallback callback,
					  gpointer user_data)
{
	PalStoreSqlite *self = PAL_STORE_SQLITE(store);
	PalStoreOp *op = pal_store_sqlite_op_new(self,
						 OP_ENDPOINT_STATE_SET,
						 pal_store_endpoint_state_set_async,
						 cancellable,
						 callback,
						 user_data);
	op->str1 = g_strdup(name);
	op->last_status = active;
	pal_store_sqlite_submit(self, op);
}

static void
pal_store_sqlite_endpoint_states_list_async(PalStore *store,
					    GCancellable *cancellable,
					    GAsyncReadyCallback callback,
					    gpointer user_data)
{
	PalStoreSqlite *self = PAL_STORE_SQLITE(store);
	pal_store_sqlite_submit(self,
				pal_store_sqlite_op_new(self,
							OP_ENDPOINT_STATES_LIST,
							pal_store_endpoint_states_list_async,
							cancellable,
							callback,
							user_data));
}

static gboolean
pal_store_sqlite_check(PalStore *store, GError **error)
{
	PalStoreSqlite *self = PAL_STORE_SQLITE(store);
	PalStoreDb *db = self->db;
	g_autofree gchar *open_error = NULL;
	gboolean connected;
	gboolean closed;
	gboolean full;
	gint length;

	g_async_queue_lock(db->queue);
	closed = db->closed;
	length = g_async_queue_length_unlocked(db->queue);
	full = length >= 0 && (guint)length >= db->max_queue;
	g_async_queue_unlock(db->queue);
	if (closed) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_UNAVAILABLE,
			    "%s: the store is closed",
			    db->display);
		return FALSE;
	}
	if (full) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_BUSY,
			    "%s: too many store operations waiting",
			    db->display);
		return FALSE;
	}
	if (pal_store_db_probe(db, error) != PAL_STORE_PROBE_OK)
		return FALSE;
	g_mutex_lock(&db->state_lock);
	connected = db->connected;
	open_error = g_strdup(db->open_error);
	g_mutex_unlock(&db->state_lock);
	if (!connected) {
		/* let the writer try to reopen, so that readiness can come back without traffic */
		PalStoreOp *ping = g_new0(PalStoreOp, 1);
		ping->kind = OP_PING;
		g_async_queue_lock(db->queue);
		if (!db->closed)
			g_async_queue_push_unlocked(db->queue, g_steal_pointer(&ping));
		g_async_queue_unlock(db->queue);
		g_free(ping);
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_UNAVAILABLE,
			    "%s",
			    open_error != NULL ? open_error : db->display);
		if (open_error == NULL)
			g_prefix_error(error, "the database is not open: ");
		return FALSE;
	}
	return TRUE;
}

static void
pal_store_sqlite_close(PalStore *store)
{
	pal_store_db_shutdown(PAL_STORE_SQLITE(store)->db);
}

static void
pal_store_sqlite_iface_init(PalStoreInterface *iface)
{
	iface->journal_append_async = pal_store_sqlite_journal_append_async;
	iface->turn_commit_async = pal_store_sqlite_turn_commit_async;
	iface->outbox_delivered_async = pal_store_sqlite_outbox_delivered_async;
	iface->outbox_update_async = pal_store_sqlite_outbox_update_async;
	iface->outbox_dead_letter_async = pal_store_sqlite_outbox_dead_letter_async;
	iface->load_unfinished_journal_async = pal_store_sqlite_load_unfinished_journal_async;
	iface->load_outbox_async = pal_store_sqlite_load_outbox_async;
	iface->load_session_async = pal_store_sqlite_load_session_async;
	iface->load_profile_async = pal_store_sqlite_load_profile_async;
	iface->dead_letters_list_async = pal_store_sqlite_dead_letters_list_async;
	iface->dead_letters_replay_async = pal_store_sqlite_dead_letters_replay_async;
	iface->dead_letters_purge_async = pal_store_sqlite_dead_letters_purge_async;
	iface->sessions_expire_async = pal_store_sqlite_sessions_expire_async;
	iface->endpoint_put_async = pal_store_sqlite_endpoint_put_async;
	iface->endpoint_delete_async = pal_store_sqlite_endpoint_delete_async;
	iface->endpoints_list_async = pal_store_sqlite_endpoints_list_async;
	iface->sessions_list_async = pal_store_sqlite_sessions_list_async;
	iface->session_reset_async = pal_store_sqlite_session_reset_async;
	iface->endpoint_state_set_async = pal_store_sqlite_endpoint_state_set_async;
	iface->endpoint_states_list_async = pal_store_sqlite_endpoint_states_list_async;
	iface->check = pal_store_sqlite_check;
	iface->close = pal_store_sqlite_close;
}

static void
pal_store_sqlite_finalize(GObject *object)
{
	PalStoreSqlite *self = PAL_STORE_SQLITE(object);

	if (self->db != NULL) {
		pal_store_db_shutdown(self->db);
		pal_store_db_unref(self->db);
	}
	G_OBJECT_CLASS(pal_store_sqlite_parent_class)->finalize(object);
}

static void
pal_store_sqlite_class_init(PalStoreSqliteClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	object_class->finalize = pal_store_sqlite_finalize;
}

static void
pal_store_sqlite_init(PalStoreSqlite *self)
{
}

PalStore *
pal_store_sqlite_new(const gchar *path, PalDurability durability, GError **error)
{
	g_autoptr(PalStoreSqlite) self = NULL;
	PalStoreDb *db;

	g_return_val_if_fail(path != NULL || durability == PAL_DURABILITY_NONE, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	db = g_new0(PalStoreDb, 1);
	db->ref_count = 1;
	db->durability = durability;
	db->path = durability != PAL_DURABILITY_NONE ? g_strdup(path) : NULL;
	db->display = db->path != NULL ? g_strdup(db->path) : g_strdup("in-memory store");
	db->queue = g_async_queue_new();
	db->max_queue = PAL_STORE_SQLITE_MAX_QUEUE;
	g_mutex_init(&db->state_lock);
	g_mutex_init(&db->ckpt_lock);
	g_cond_init(&db->ckpt_cond);
	if (!pal_store_db_connect(db, TRUE, error)) {
		/* the thread was never started: closed, so the finalize path does not join */
		db->closed = TRUE;
		pal_store_db_unref(db);
		return NULL;
	}
	db->thread = g_thread_new("pal-store", pal_store_db_thread, pal_store_db_ref(db));
	self = g_object_new(PAL_TYPE_STORE_SQLITE, NULL);
	self->db = db;
	return PAL_STORE(g_steal_pointer(&self));
}

const gchar *
pal_store_sqlite_get_path(PalStoreSqlite *self)
{
	g_return_val_if_fail(PAL_IS_STORE_SQLITE(self), NULL);
	return self->db->path;
}

guint64
pal_store_sqlite_get_n_transactions(PalStoreSqlite *self)
{
	g_return_val_if_fail(PAL_IS_STORE_SQLITE(self), 0);
	return (guint64)g_atomic_pointer_get(&self->db->n_transactions);
}

guint64
pal_store_sqlite_get_n_ops(PalStoreSqlite *self)
{
	g_return_val_if_fail(PAL_IS_STORE_SQLITE(self), 0);
	return (guint64)g_atomic_pointer_get(&self->db->n_ops);
}

void
pal_store_sqlite_set_max_queue(PalStoreSqlite *self, guint max_queue)
{
	g_return_if_fail(PAL_IS_STORE_SQLITE(self));
	g_async_queue_lock(self->db->queue);
	self->db->max_queue = max_queue;
	g_async_queue_unlock(self->db->queue);
}
