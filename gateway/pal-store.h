/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * The durable store (DESIGN.md §2 "Store", issue #3): the inbound journal, the outbox, dead
 * letters, sessions, contact profiles and runtime endpoints.
 *
 * Rules for every implementation and caller:
 * - every operation is an _async/_finish pair; the callback runs in the thread-default
 *   GMainContext of the thread that called _async (captured by g_task_new), so several worker
 *   threads may call concurrently, each getting its results in its own context;
 * - operations are applied in the order they were submitted (one queue), so a read sees every
 *   write submitted before it, from any thread;
 * - a write operation completes only once it is committed (durability "crash"/"power");
 * - cancelling @cancellable only stops an operation that has not started yet: an operation that
 *   was committed reports success even if @cancellable was cancelled meanwhile;
 * - errors are in PAL_ERROR: UNAVAILABLE (disk full, I/O error, file read-only or removed, store
 *   closed), BUSY (queue full: try again later), INVALID_DATA (corrupt database, schema newer than
 *   this build, invalid arguments), EXISTS (duplicate key), NOT_FOUND;
 * - inputs are borrowed (the store copies what it keeps); results are (transfer full).
 * - times are real time (g_get_real_time()) in µs; the store does not interpret them, except
 *   that 0 for created_at/updated_at/failed_at means "now".
 */

/* --- rows --- */

typedef enum {
	PAL_STORE_JOURNAL_ACCEPTED = 0,
	PAL_STORE_JOURNAL_DONE = 1,
} PalStoreJournalState;

/* one accepted inbound message; the 202 is sent once this is committed */
typedef struct {
	gchar *input_id;
	gchar *endpoint;
	gchar *user_id;
	gchar *session_id;
	gint kind;	     /* PalMessageKind */
	GBytes *body;	     /* the original request JSON */
	gint64 received_at; /* µs */
	PalStoreJournalState state;
} PalStoreJournalEntry;

PalStoreJournalEntry *
pal_store_journal_entry_new(const gchar *input_id,
			    const gchar *endpoint,
			    const gchar *user_id,
			    const gchar *session_id,
			    gint kind,
			    GBytes *body,
			    gint64 received_at);
PalStoreJournalEntry *
pal_store_journal_entry_copy(const PalStoreJournalEntry *entry);
void
pal_store_journal_entry_free(PalStoreJournalEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PalStoreJournalEntry, pal_store_journal_entry_free)

/* one output waiting for delivery */
typedef struct {
	gint64 id; /* assigned by the store (turn_commit, dead_letters_replay) */
	gchar *endpoint;
	gchar *session_key;
	guint64 session_seq; /* assigned by the store, see pal_store_turn_commit_async() */
	gchar *webhook_id;   /* unique over the outbox */
	gchar *turn_id;
	guint turn_index;
	GBytes *body;
	gint64 created_at;
	gint64 expires_at;
	guint attempts;
	gint64 next_attempt_at; /* real time, µs (not monotonic: it must survive a restart) */
} PalStoreOutboxRow;

PalStoreOutboxRow *
pal_store_outbox_row_new(const gchar *endpoint,
			 const gchar *session_key,
			 const gchar *webhook_id,
			 const gchar *turn_id,
			 guint turn_index,
			 GBytes *body,
			 gint64 created_at,
			 gint64 expires_at);
PalStoreOutboxRow *
pal_store_outbox_row_copy(const PalStoreOutboxRow *row);
void
pal_store_outbox_row_free(PalStoreOutboxRow *row);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PalStoreOutboxRow, pal_store_outbox_row_free)

/* an output given up on: the outbox row (keeping its id, seq and attempts) plus why */
typedef struct {
	PalStoreOutboxRow *row;
	gchar *reason;
	gint64 failed_at;
	gint last_status; /* last HTTP status, 0 for none (network error, TTL) */
} PalStoreDeadLetter;

void
pal_store_dead_letter_free(PalStoreDeadLetter *dead);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PalStoreDeadLetter, pal_store_dead_letter_free)

/* the persisted state of one conversation */
typedef struct {
	gchar *session_key; /* pal_pipeline_session_key(): opaque to the store */
	gchar *endpoint;
	gchar *user_id;
	gchar *session_id;
	gchar *context;	   /* JSON, nullable */
	gchar *entrypoint; /* nullable */
	gboolean handover;
	guint64 last_seq; /* owned by the store: the highest session_seq handed out */
	guint64 turns;
	gint64 created_at;
	gint64 updated_at;
} PalStoreSession;

PalStoreSession *
pal_store_session_new(const gchar *session_key,
		      const gchar *endpoint,
		      const gchar *user_id,
		      const gchar *session_id);
PalStoreSession *
pal_store_session_copy(const PalStoreSession *session);
void
pal_store_session_free(PalStoreSession *session);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PalStoreSession, pal_store_session_free)

/* everything one turn changes, committed atomically by pal_store_turn_commit_async() */
typedef struct {
	gchar *input_id;	  /* journal row to mark done; NULL = no journal row */
	PalStoreSession *session; /* upserted; NULL = none (then @outbox must be empty) */
	gchar *profile;		  /* contact profile JSON of (session endpoint, user); NULL = unchanged */
	GPtrArray *outbox;	  /* PalStoreOutboxRow*, in delivery order */
	/* outputs streamed before the turn ends: only the outbox rows (those whose webhook id
	 * is not there yet) and the session's last_seq are written; journal, session state and
	 * profile wait for the turn's last commit */
	/* the message has a journal entry to mark done with the turn's last commit (FALSE with
	 * durability none: palaverd does not journal then) */
	gboolean journaled;
	gboolean partial;
} PalStoreTurn;

PalStoreTurn *
pal_store_turn_new(const gchar *input_id, const PalStoreSession *session);
/* takes @row */
void
pal_store_turn_add_outbox(PalStoreTurn *turn, PalStoreOutboxRow *row);
void
pal_store_turn_set_profile(PalStoreTurn *turn, const gchar *profile);
void
pal_store_turn_free(PalStoreTurn *turn);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PalStoreTurn, pal_store_turn_free)

/* an endpoint created at runtime (D-Bus) */
typedef struct {
	gchar *name;
	gchar *json;
	gint64 created_at;
	gint64 updated_at;
} PalStoreEndpoint;

void
pal_store_endpoint_free(PalStoreEndpoint *endpoint);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PalStoreEndpoint, pal_store_endpoint_free)

/* one page of stored sessions (pal_store_sessions_list_async()) */
typedef struct {
	GPtrArray *sessions; /* PalStoreSession* */
	guint64 total;	     /* sessions matching the filter, over all pages */
} PalStoreSessionPage;

void
pal_store_session_page_free(PalStoreSessionPage *page);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PalStoreSessionPage, pal_store_session_page_free)

/* --- the interface --- */

#define PAL_TYPE_STORE (pal_store_get_type())
G_DECLARE_INTERFACE(PalStore, pal_store, PAL, STORE, GObject)

/**
 * PalStoreInterface:
 *
 * Backends implement the _async vfuncs only: each must complete a #GTask created with
 * `g_task_new (self, …)` whose source tag is the matching public `pal_store_*_async` function,
 * returning the type documented on that function's _finish (boolean, int or pointer); the
 * public _finish functions propagate it. @check must be cheap and thread-safe (it serves
 * /readyz). @close completes everything queued, then refuses new operations with
 * PAL_ERROR_UNAVAILABLE; it may be called more than once.
 */
struct _PalStoreInterface {
	GTypeInterface g_iface;

	void (*journal_append_async)(PalStore *self,
				     const PalStoreJournalEntry *entry,
				     GCancellable *cancellable,
				     GAsyncReadyCallback callback,
				     gpointer user_data);
	void (*turn_commit_async)(PalStore *self,
				  const PalStoreTurn *turn,
				  GCancellable *cancellable,
				  GAsyncReadyCallback callback,
				  gpointer user_data);
	void (*outbox_delivered_async)(PalStore *self,
				       const gint64 *ids,
				       guint n_ids,
				       GCancellable *cancellable,
				       GAsyncReadyCallback callback,
				       gpointer user_data);
	void (*outbox_update_async)(PalStore *self,
				    gint64 id,
				    guint attempts,
				    gint64 next_attempt_at,
				    GCancellable *cancellable,
				    GAsyncReadyCallback callback,
				    gpointer user_data);
	void (*outbox_dead_letter_async)(PalStore *self,
					 gint64 id,
					 const gchar *reason,
					 gint last_status,
					 GCancellable *cancellable,
					 GAsyncReadyCallback callback,
					 gpointer user_data);
	void (*load_unfinished_journal_async)(PalStore *self,
					      GCancellable *cancellable,
					      GAsyncReadyCallback callback,
					      gpointer user_data);
	void (*load_outbox_async)(PalStore *self,
				  GCancellable *cancellable,
				  GAsyncReadyCallback callback,
				  gpointer user_data);
	void (*load_session_async)(PalStore *self,
				   const gchar *session_key,
				   GCancellable *cancellable,
				   GAsyncReadyCallback callback,
				   gpointer user_data);
	void (*load_profile_async)(PalStore *self,
				   const gchar *endpoint,
				   const gchar *user_id,
				   GCancellable *cancellable,
				   GAsyncReadyCallback callback,
				   gpointer user_data);
	void (*dead_letters_list_async)(PalStore *self,
					const gchar *endpoint,
					const gchar *session_key,
					guint offset,
					guint limit,
					GCancellable *cancellable,
					GAsyncReadyCallback callback,
					gpointer user_data);
	void (*dead_letters_replay_async)(PalStore *self,
					  const gchar *endpoint,
					  const gchar *session_key,
					  gint64 ttl_usec,
					  GCancellable *cancellable,
					  GAsyncReadyCallback callback,
					  gpointer user_data);
	void (*dead_letters_purge_async)(PalStore *self,
					 const gchar *endpoint,
					 const gchar *session_key,
					 GCancellable *cancellable,
					 GAsyncReadyCallback callback,
					 gpointer user_data);
	void (*endpoint_put_async)(PalStore *self,
				   const gchar *name,
				   const gchar *json,
				   GCancellable *cancellable,
				   GAsyncReadyCallback callback,
				   gpointer user_data);
	void (*endpoint_delete_async)(PalStore *self,
				      const gchar *name,
				      GCancellable *cancellable,
				      GAsyncReadyCallback callback,
				      gpointer user_data);
	void (*endpoints_list_async)(PalStore *self,
				     GCancellable *cancellable,
				     GAsyncReadyCallback callback,
				     gpointer user_data);
	void (*sessions_expire_async)(PalStore *self,
				      const gchar *endpoint,
				      gint64 updated_before,
				      gint64 forget_before,
				      gint64 journal_done_before,
				      GCancellable *cancellable,
				      GAsyncReadyCallback callback,
				      gpointer user_data);
	void (*sessions_list_async)(PalStore *self,
				    const gchar *endpoint,
				    guint offset,
				    guint limit,
				    GCancellable *cancellable,
				    GAsyncReadyCallback callback,
				    gpointer user_data);
	void (*session_reset_async)(PalStore *self,
				    const gchar *session_key,
				    GCancellable *cancellable,
				    GAsyncReadyCallback callback,
				    gpointer user_data);
	void (*endpoint_state_set_async)(PalStore *self,
					 const gchar *name,
					 gint active,
					 GCancellable *cancellable,
					 GAsyncReadyCallback callback,
					 gpointer user_data);
	void (*endpoint_states_list_async)(PalStore *self,
					   GCancellable *cancellable,
					   GAsyncReadyCallback callback,
					   gpointer user_data);
	gboolean (*check)(PalStore *self, GError **error);
	void (*close)(PalStore *self);

	/*< private >*/
	gpointer padding[8];
};

/* --- journal --- */

/* appends @entry (state accepted); PAL_ERROR_EXISTS when its input_id is known already */
void
pal_store_journal_append_async(PalStore *self,
			       const PalStoreJournalEntry *entry,
			       GCancellable *cancellable,
			       GAsyncReadyCallback callback,
			       gpointer user_data);
gboolean
pal_store_journal_append_finish(PalStore *self, GAsyncResult *result, GError **error);

/* One transaction: marks the journal row done (PAL_ERROR_NOT_FOUND when it does not exist,
 * PAL_ERROR_EXISTS when it is done already, so a turn is never applied twice), upserts the
 * session (created_at is kept from the first insert), upserts the profile, inserts the outbox
 * rows. The store hands out session_seq: the rows get last_seq+1, +2, … in array order, where
 * last_seq is the highest seq the store knows for that session (sessions.last_seq, outbox,
 * dead letters), and sessions.last_seq is set to the last one; the session's last_seq given
 * by the caller is ignored. This keeps seqs strictly increasing even when dead letters are
 * replayed from another thread. Any failure rolls the whole turn back. */
void
pal_store_turn_commit_async(PalStore *self,
			    const PalStoreTurn *turn,
			    GCancellable *cancellable,
			    GAsyncReadyCallback callback,
			    gpointer user_data);
/* returns: (transfer full) copies of the turn's outbox rows with id and session_seq set (an
 * empty array for none), or NULL with @error set */
GPtrArray *
pal_store_turn_commit_finish(PalStore *self, GAsyncResult *result, GError **error);

/* --- outbox --- */

/* deletes the rows; ids that do not exist are ignored (delivery is idempotent) */
void
pal_store_outbox_delivered_async(PalStore *self,
				 const gint64 *ids,
				 guint n_ids,
				 GCancellable *cancellable,
				 GAsyncReadyCallback callback,
				 gpointer user_data);
gboolean
pal_store_outbox_delivered_finish(PalStore *self, GAsyncResult *result, GError **error);

/* records a failed attempt; PAL_ERROR_NOT_FOUND for an unknown id */
void
pal_store_outbox_update_async(PalStore *self,
			      gint64 id,
			      guint attempts,
			      gint64 next_attempt_at,
			      GCancellable *cancellable,
			      GAsyncReadyCallback callback,
			      gpointer user_data);
gboolean
pal_store_outbox_update_finish(PalStore *self, GAsyncResult *result, GError **error);

/* moves the row to the dead letters (failed_at = now); PAL_ERROR_NOT_FOUND for an unknown id */
void
pal_store_outbox_dead_letter_async(PalStore *self,
				   gint64 id,
				   const gchar *reason,
				   gint last_status,
				   GCancellable *cancellable,
				   GAsyncReadyCallback callback,
				   gpointer user_data);
gboolean
pal_store_outbox_dead_letter_finish(PalStore *self, GAsyncResult *result, GError **error);

/* --- loading (startup) --- */

/* journal rows in state accepted, by received_at then input_id:
 * (transfer full) (element-type PalStoreJournalEntry) */
void
pal_store_load_unfinished_journal_async(PalStore *self,
					GCancellable *cancellable,
					GAsyncReadyCallback callback,
					gpointer user_data);
GPtrArray *
pal_store_load_unfinished_journal_finish(PalStore *self, GAsyncResult *result, GError **error);
GPtrArray *
pal_store_load_unfinished_journal(PalStore *self, GCancellable *cancellable, GError **error);

/* the whole outbox by session_key then session_seq: (element-type PalStoreOutboxRow) */
void
pal_store_load_outbox_async(PalStore *self,
			    GCancellable *cancellable,
			    GAsyncReadyCallback callback,
			    gpointer user_data);
GPtrArray *
pal_store_load_outbox_finish(PalStore *self, GAsyncResult *result, GError **error);
GPtrArray *
pal_store_load_outbox(PalStore *self, GCancellable *cancellable, GError **error);

/* *session = NULL (and TRUE) when the session is unknown */
void
pal_store_load_session_async(PalStore *self,
			     const gchar *session_key,
			     GCancellable *cancellable,
			     GAsyncReadyCallback callback,
			     gpointer user_data);
gboolean
pal_store_load_session_finish(PalStore *self,
			      GAsyncResult *result,
			      PalStoreSession **session,
			      GError **error);
gboolean
pal_store_load_session(PalStore *self,
		       const gchar *session_key,
		       PalStoreSession **session,
		       GCancellable *cancellable,
		       GError **error);

/* *profile = NULL (and TRUE) when the user has none */
void
pal_store_load_profile_async(PalStore *self,
			     const gchar *endpoint,
			     const gchar *user_id,
			     GCancellable *cancellable,
			     GAsyncReadyCallback callback,
			     gpointer user_data);
gboolean
pal_store_load_profile_finish(PalStore *self,
			      GAsyncResult *result,
			      gchar **profile,
			      GError **error);

/* --- dead letters: @endpoint and @session_key filter when non-NULL --- */

/* by session_key, session_seq; @limit 0 = no limit: (element-type PalStoreDeadLetter) */
void
pal_store_dead_letters_list_async(PalStore *self,
				  const gchar *endpoint,
				  const gchar *session_key,
				  guint offset,
				  guint limit,
				  GCancellable *cancellable,
				  GAsyncReadyCallback callback,
				  gpointer user_data);
GPtrArray *
pal_store_dead_letters_list_finish(PalStore *self, GAsyncResult *result, GError **error);

/* One transaction: moves the matching dead letters back into the outbox in their original
 * per-session order with new ids, new session_seq values continuing after the session's
 * highest seq (sessions.last_seq is updated), attempts 0, next_attempt_at 0 (now) and
 * expires_at = now + @ttl_usec. Returns the new rows: (element-type PalStoreOutboxRow) */
void
pal_store_dead_letters_replay_async(PalStore *self,
				    const gchar *endpoint,
				    const gchar *session_key,
				    gint64 ttl_usec,
				    GCancellable *cancellable,
				    GAsyncReadyCallback callback,
				    gpointer user_data);
GPtrArray *
pal_store_dead_letters_replay_finish(PalStore *self, GAsyncResult *result, GError **error);

/* deletes the matching dead letters; returns how many, or -1 with @error set */
void
pal_store_dead_letters_purge_async(PalStore *self,
				   const gchar *endpoint,
				   const gchar *session_key,
				   GCancellable *cancellable,
				   GAsyncReadyCallback callback,
				   gpointer user_data);
gssize
pal_store_dead_letters_purge_finish(PalStore *self, GAsyncResult *result, GError **error);

/* --- sessions (the control plane) --- */

/* the stored sessions, of @endpoint or all (NULL), most recently updated first; @limit 0 = no
 * limit: (transfer full) */
void
pal_store_sessions_list_async(PalStore *self,
			      const gchar *endpoint,
			      guint offset,
			      guint limit,
			      GCancellable *cancellable,
			      GAsyncReadyCallback callback,
			      gpointer user_data);
PalStoreSessionPage *
pal_store_sessions_list_finish(PalStore *self, GAsyncResult *result, GError **error);

/* clears the session's state (context, entry point, handover, turns) and sets updated_at to
 * now, keeping its sequence counter; PAL_ERROR_NOT_FOUND when there is no such session */
void
pal_store_session_reset_async(PalStore *self,
			      const gchar *session_key,
			      GCancellable *cancellable,
			      GAsyncReadyCallback callback,
			      gpointer user_data);
gboolean
pal_store_session_reset_finish(PalStore *self, GAsyncResult *result, GError **error);

/* --- retention --- */

/* clears the state (context, entry point, handover, turns) of the sessions of @endpoint last
 * updated before @updated_before (real time, µs), keeping their sequence counter; deletes the
 * rows of those last updated before @forget_before (0 = none); and, when
 * @journal_done_before > 0, deletes the journal rows of finished turns received before it.
 * Returns the number of sessions cleared. */
void
pal_store_sessions_expire_async(PalStore *self,
				const gchar *endpoint,
				gint64 updated_before,
				gint64 forget_before,
				gint64 journal_done_before,
				GCancellable *cancellable,
				GAsyncReadyCallback callback,
				gpointer user_data);
gssize
pal_store_sessions_expire_finish(PalStore *self, GAsyncResult *result, GError **error);

/* --- runtime endpoints --- */

/* inserts or replaces (created_at is kept) */
void
pal_store_endpoint_put_async(PalStore *self,
			     const gchar *name,
			     const gchar *json,
			     GCancellable *cancellable,
			     GAsyncReadyCallback callback,
			     gpointer user_data);
gboolean
pal_store_endpoint_put_finish(PalStore *self, GAsyncResult *result, GError **error);

/* PAL_ERROR_NOT_FOUND for an unknown name */
void
pal_store_endpoint_delete_async(PalStore *self,
				const gchar *name,
				GCancellable *cancellable,
				GAsyncReadyCallback callback,
				gpointer user_data);
gboolean
pal_store_endpoint_delete_finish(PalStore *self, GAsyncResult *result, GError **error);

/* by name: (element-type PalStoreEndpoint) */
void
pal_store_endpoints_list_async(PalStore *self,
			       GCancellable *cancellable,
			       GAsyncReadyCallback callback,
			       gpointer user_data);
GPtrArray *
pal_store_endpoints_list_finish(PalStore *self, GAsyncResult *result, GError **error);
GPtrArray *
pal_store_endpoints_list(PalStore *self, GCancellable *cancellable, GError **error);

/* the active state set over D-Bus for an endpoint that comes from a file, by name: @active
 * 1 or 0 stores it, -1 deletes it (no error when there is none) */
void
pal_store_endpoint_state_set_async(PalStore *self,
				   const gchar *name,
				   gint active,
				   GCancellable *cancellable,
				   GAsyncReadyCallback callback,
				   gpointer user_data);
gboolean
pal_store_endpoint_state_set_finish(PalStore *self, GAsyncResult *result, GError **error);

/* name → GINT_TO_POINTER(active): (transfer full) (element-type utf8 gint) */
void
pal_store_endpoint_states_list_async(PalStore *self,
				     GCancellable *cancellable,
				     GAsyncReadyCallback callback,
				     gpointer user_data);
GHashTable *
pal_store_endpoint_states_list_finish(PalStore *self, GAsyncResult *result, GError **error);
GHashTable *
pal_store_endpoint_states_list(PalStore *self, GCancellable *cancellable, GError **error);

/* --- health and shutdown --- */

/* cheap, any thread, never blocks on the queue: FALSE with PAL_ERROR_UNAVAILABLE when the
 * store cannot take writes right now (closed, file removed or read-only, last open failed),
 * PAL_ERROR_BUSY when the queue is full */
gboolean
pal_store_check(PalStore *self, GError **error);

/* completes every queued operation, then refuses new ones; blocks until done. Also done on
 * finalize. */
void
pal_store_close(PalStore *self);

G_END_DECLS
