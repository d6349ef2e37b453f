/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "pal-error.h"
#include "pal-store.h"

G_DEFINE_INTERFACE(PalStore, pal_store, G_TYPE_OBJECT)

static void
pal_store_default_init(PalStoreInterface *iface)
{
}

/* --- rows --- */

PalStoreJournalEntry *
pal_store_journal_entry_new(const gchar *input_id,
			    const gchar *endpoint,
			    const gchar *user_id,
			    const gchar *session_id,
			    gint kind,
			    GBytes *body,
			    gint64 received_at)
{
	PalStoreJournalEntry *entry = g_new0(PalStoreJournalEntry, 1);

	entry->input_id = g_strdup(input_id);
	entry->endpoint = g_strdup(endpoint);
	entry->user_id = g_strdup(user_id);
	entry->session_id = g_strdup(session_id);
	entry->kind = kind;
	entry->body = body != NULL ? g_bytes_ref(body) : NULL;
	entry->received_at = received_at;
	return entry;
}

PalStoreJournalEntry *
pal_store_journal_entry_copy(const PalStoreJournalEntry *entry)
{
	PalStoreJournalEntry *copy = pal_store_journal_entry_new(entry->input_id,
								 entry->endpoint,
								 entry->user_id,
								 entry->session_id,
								 entry->kind,
								 entry->body,
								 entry->received_at);
	copy->state = entry->state;
	return copy;
}

void
pal_store_journal_entry_free(PalStoreJournalEntry *entry)
{
	if (entry == NULL)
		return;
	g_free(entry->input_id);
	g_free(entry->endpoint);
	g_free(entry->user_id);
	g_free(entry->session_id);
	if (entry->body != NULL)
		g_bytes_unref(entry->body);
	g_free(entry);
}

PalStoreOutboxRow *
pal_store_outbox_row_new(const gchar *endpoint,
			 const gchar *session_key,
			 const gchar *webhook_id,
			 const gchar *turn_id,
			 guint turn_index,
			 GBytes *body,
			 gint64 created_at,
			 gint64 expires_at)
{
	PalStoreOutboxRow *row = g_new0(PalStoreOutboxRow, 1);

	row->endpoint = g_strdup(endpoint);
	row->session_key = g_strdup(session_key);
	row->webhook_id = g_strdup(webhook_id);
	row->turn_id = g_strdup(turn_id);
	row->turn_index = turn_index;
	row->body = body != NULL ? g_bytes_ref(body) : NULL;
	row->created_at = created_at;
	row->expires_at = expires_at;
	return row;
}

PalStoreOutboxRow *
pal_store_outbox_row_copy(const PalStoreOutboxRow *row)
{
	PalStoreOutboxRow *copy = pal_store_outbox_row_new(row->endpoint,
							   row->session_key,
							   row->webhook_id,
							   row->turn_id,
							   row->turn_index,
							   row->body,
							   row->created_at,
							   row->expires_at);
	copy->id = row->id;
	copy->session_seq = row->session_seq;
	copy->attempts = row->attempts;
	copy->next_attempt_at = row->next_attempt_at;
	return copy;
}

void
pal_store_outbox_row_free(PalStoreOutboxRow *row)
{
	if (row == NULL)
		return;
	g_free(row->endpoint);
	g_free(row->session_key);
	g_free(row->webhook_id);
	g_free(row->turn_id);
	if (row->body != NULL)
		g_bytes_unref(row->body);
	g_free(row);
}

void
pal_store_dead_letter_free(PalStoreDeadLetter *dead)
{
	if (dead == NULL)
		return;
	pal_store_outbox_row_free(dead->row);
	g_free(dead->reason);
	g_free(dead);
}

PalStoreSession *
pal_store_session_new(const gchar *session_key,
		      const gchar *endpoint,
		      const gchar *user_id,
		      const gchar *session_id)
{
	PalStoreSession *session = g_new0(PalStoreSession, 1);

	session->session_key = g_strdup(session_key);
	session->endpoint = g_strdup(endpoint);
	session->user_id = g_strdup(user_id);
	session->session_id = g_strdup(session_id);
	return session;
}

PalStoreSession *
pal_store_session_copy(const PalStoreSession *session)
{
	PalStoreSession *copy = pal_store_session_new(session->session_key,
						      session->endpoint,
						      session->user_id,
						      session->session_id);
	copy->context = g_strdup(session->context);
	copy->entrypoint = g_strdup(session->entrypoint);
	copy->handover = session->handover;
	copy->last_seq = session->last_seq;
	copy->turns = session->turns;
	copy->created_at = session->created_at;
	copy->updated_at = session->updated_at;
	return copy;
}

void
pal_store_session_free(PalStoreSession *session)
{
	if (session == NULL)
		return;
	g_free(session->session_key);
	g_free(session->endpoint);
	g_free(session->user_id);
	g_free(session->session_id);
	g_free(session->context);
	g_free(session->entrypoint);
	g_free(session);
}

PalStoreTurn *
pal_store_turn_new(const gchar *input_id, const PalStoreSession *session)
{
	PalStoreTurn *turn = g_new0(PalStoreTurn, 1);

	turn->input_id = g_strdup(input_id);
	turn->journaled = TRUE;
	turn->session = session != NULL ? pal_store_session_copy(session) : NULL;
	turn->outbox = g_ptr_array_new_with_free_func((GDestroyNotify)pal_store_outbox_row_free);
	return turn;
}

void
pal_store_turn_add_outbox(PalStoreTurn *turn, PalStoreOutboxRow *row)
{
	g_ptr_array_add(turn->outbox, row);
}

void
pal_store_turn_set_profile(PalStoreTurn *turn, const gchar *profile)
{
	g_free(turn->profile);
	turn->profile = g_strdup(profile);
}

void
pal_store_turn_free(PalStoreTurn *turn)
{
	if (turn == NULL)
		return;
	g_free(turn->input_id);
	pal_store_session_free(turn->session);
	g_free(turn->profile);
	g_ptr_array_unref(turn->outbox);
	g_free(turn);
}

void
pal_store_endpoint_free(PalStoreEndpoint *endpoint)
{
	if (endpoint == NULL)
		return;
	g_free(endpoint->name);
	g_free(endpoint->json);
	g_free(endpoint);
}

void
pal_store_session_page_free(PalStoreSessionPage *page)
{
	if (page == NULL)
		return;
	g_clear_pointer(&page->sessions, g_ptr_array_unref);
	g_free(page);
}

/* --- dispatch --- */

#define PAL_STORE_FINISH_CHECK(tag, fail)                                                          \
	G_STMT_START                                                                               \
	{                                                                                          \
		g_return_val_if_fail(PAL_IS_STORE(self), fail);                                    \
		g_return_val_if_fail(g_task_is_valid(result, self), fail);                         \
		g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == (tag), fail);        \
	}                                                                                          \
	G_STMT_END

void
pal_store_journal_append_async(PalStore *self,
			       const PalStoreJournalEntry *entry,
			       GCancellable *cancellable,
			       GAsyncReadyCallback callback,
			       gpointer user_data)
{
	g_return_if_fail(PAL_IS_STORE(self));
	g_return_if_fail(entry != NULL && entry->input_id != NULL);
	PAL_STORE_GET_IFACE(self)->journal_append_async(self, entry, cancellable, callback, user_data);
}

gboolean
pal_store_journal_append_finish(PalStore *self, GAsyncResult *result, GError **error)
{
	PAL_STORE_FINISH_CHECK(pal_store_journal_append_async, FALSE);
	return g_task_propagate_boolean(G_TASK(result), error);
}

void
pal_store_turn_commit_async(PalStore *self,
			    const PalStoreTurn *turn,
			    GCancellable *cancellable,
			    GAsyncReadyCallback callback,
			    gpointer user_data)
{
	g_return_if_fail(PAL_IS_STORE(self));
	g_return_if_fail(turn != NULL);
	PAL_STORE_GET_IFACE(self)->turn_commit_async(self, turn, cancellable, callback, user_data);
}

GPtrArray *
pal_store_turn_commit_finish(PalStore *self, GAsyncResult *result, GError **error)
{
	PAL_STORE_FINISH_CHECK(pal_store_turn_commit_async, NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}

void
pal_store_outbox_delivered_async(PalStore *self,
				 const gint64 *ids,
				 guint n_ids,
				 GCancellable *cancellable,
				 GAsyncReadyCallback callback,
				 gpointer user_data)
{
	g_return_if_fail(PAL_IS_STORE(self));
	g_return_if_fail(ids != NULL || n_ids == 0);
	PAL_STORE_GET_IFACE(self)->outbox_delivered_async(self,
							  ids,
							  n_ids,
							  cancellable,
							  callback,
							  user_data);
}

gboolean
pal_store_outbox_delivered_finish(PalStore *self, GAsyncResult *result, GError **error)
{
	PAL_STORE_FINISH_CHECK(pal_store_outbox_delivered_async, FALSE);
	return g_task_propagate_boolean(G_TASK(result), error);
}

void
pal_store_outbox_update_async(PalStore *self,
			      gint64 id,
			      guint attempts,
			      gint64 next_attempt_at,
			      GCancellable *cancellable,
			      GAsyncReadyCallback callback,
			      gpointer user_data)
{
	g_return_if_fail(PAL_IS_STORE(self));
	PAL_STORE_GET_IFACE(self)->outbox_update_async(self,
						       id,
						       attempts,
						       next_attempt_at,
						       cancellable,
						       callback,
						       user_data);
}

gboolean
pal_store_outbox_update_finish(PalStore *self, GAsyncResult *result, GError **error)
{
	PAL_STORE_FINISH_CHECK(pal_store_outbox_update_async, FALSE);
	return g_task_propagate_boolean(G_TASK(result), error);
}

void
pal_store_outbox_dead_letter_async(PalStore *self,
				   gint64 id,
				   const gchar *reason,
				   gint last_status,
				   GCancellable *cancellable,
				   GAsyncReadyCallback callback,
				   gpointer user_data)
{
	g_return_if_fail(PAL_IS_STORE(self));
	PAL_STORE_GET_IFACE(self)->outbox_dead_letter_async(self,
							    id,
							    reason,
							    last_status,
							    cancellable,
							    callback,
							    user_data);
}

gboolean
pal_store_outbox_dead_letter_finish(PalStore *self, GAsyncResult *result, GError **error)
{
	PAL_STORE_FINISH_CHECK(pal_store_outbox_dead_letter_async, FALSE);
	return g_task_propagate_boolean(G_TASK(result), error);
}

void
pal_store_load_unfinished_journal_async(PalStore *self,
					GCancellable *cancellable,
					GAsyncReadyCallback callback,
					gpointer user_data)
{
	g_return_if_fail(PAL_IS_STORE(self));
	PAL_STORE_GET_IFACE(self)->load_unfinished_journal_async(self,
								 cancellable,
								 callback,
								 user_data);
}

GPtrArray *
pal_store_load_unfinished_journal_finish(PalStore *self, GAsyncResult *result, GError **error)
{
	PAL_STORE_FINISH_CHECK(pal_store_load_unfinished_journal_async, NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}

void
pal_store_load_outbox_async(PalStore *self,
			    GCancellable *cancellable,
			    GAsyncReadyCallback callback,
			    gpointer user_data)
{
	g_return_if_fail(PAL_IS_STORE(self));
	PAL_STORE_GET_IFACE(self)->load_outbox_async(self, cancellable, callback, user_data);
}

GPtrArray *
pal_store_load_outbox_finish(PalStore *self, GAsyncResult *result, GError **error)
{
	PAL_STORE_FINISH_CHECK(pal_store_load_outbox_async, NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}

void
pal_store_load_session_async(PalStore *self,
			     const gchar *session_key,
			     GCancellable *cancellable,
			     GAsyncReadyCallback callback,
			     gpointer user_data)
{
	g_return_if_fail(PAL_IS_STORE(self));
	g_return_if_fail(session_key != NULL);
	PAL_STORE_GET_IFACE(self)->load_session_async(self,
						      session_key,
						      cancellable,
						      callback,
						      user_data);
}

gboolean
pal_store_load_session_finish(PalStore *self,
			      GAsyncResult *result,
			      PalStoreSession **session,
			      GError **error)
{
	g_autoptr(GError) error_local = NULL;
	PalStoreSession *found;

	PAL_STORE_FINISH_CHECK(pal_store_load_session_async, FALSE);
	found = g_task_propagate_pointer(G_TASK(result), &error_local);
	if (error_local != NULL) {
		g_propagate_error(error, g_steal_pointer(&error_local));
		return FALSE;
	}
	if (session != NULL)
		*session = found;
	else
		pal_store_session_free(found);
	return TRUE;
}

void
pal_store_load_profile_async(PalStore *self,
			     const gchar *endpoint,
			     const gchar *user_id,
			     GCancellable *cancellable,
			     GAsyncReadyCallback callback,
			     gpointer user_data)
{
	g_return_if_fail(PAL_IS_STORE(self));
	g_return_if_fail(endpoint != NULL && user_id != NULL);
	PAL_STORE_GET_IFACE(self)->load_profile_async(self,
						      endpoint,
						      user_id,
						      cancellable,
						      callback,
						      user_data);
}

gboolean
pal_store_load_profile_finish(PalStore *self,
			      GAsyncResult *result,
			      gchar **profile,
			      GError **error)
{
	g_autoptr(GError) error_local = NULL;
	gchar *found;

	PAL_STORE_FINISH_CHECK(pal_store_load_profile_async, FALSE);
	found = g_task_propagate_pointer(G_TASK(result), &error_local);
	if (error_local != NULL) {
		g_propagate_error(error, g_steal_pointer(&error_local));
		return FALSE;
	}
	if (profile != NULL)
		*profile = found;
	else
		g_free(found);
	return TRUE;
}

void
pal_store_dead_letters_list_async(PalStore *self,
				  const gchar *endpoint,
				  const gchar *session_key,
				  guint offset,
				  guint limit,
				  GCancellable *cancellable,
				  GAsyncReadyCallback callback,
				  gpointer user_data)
{
	g_return_if_fail(PAL_IS_STORE(self));
	PAL_STORE_GET_IFACE(self)->dead_letters_list_async(self,
							   endpoint,
							   session_key,
							   offset,
							   limit,
							   cancellable,
							   callback,
							   user_data);
}

GPtrArray *
pal_store_dead_letters_list_finish(PalStore *self, GAsyncResult *result, GError **error)
{
	PAL_STORE_FINISH_CHECK(pal_store_dead_letters_list_async, NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}

void
pal_store_dead_letters_replay_async(PalStore *self,
				    const gchar *endpoint,
				    const gchar *session_key,
				    gint64 ttl_usec,
				    GCancellable *cancellable,
				    GAsyncReadyCallback callback,
				    gpointer user_data)
{
	g_return_if_fail(PAL_IS_STORE(self));
	g_return_if_fail(ttl_usec > 0);
	PAL_STORE_GET_IFACE(self)->dead_letters_replay_async(self,
							     endpoint,
							     session_key,
							     ttl_usec,
							     cancellable,
							     callback,
							     user_data);
}

GPtrArray *
pal_store_dead_letters_replay_finish(PalStore *self, GAsyncResult *result, GError **error)
{
	PAL_STORE_FINISH_CHECK(pal_store_dead_letters_replay_async, NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}

void
pal_store_dead_letters_purge_async(PalStore *self,
				   const gchar *endpoint,
				   const gchar *session_key,
				   GCancellable *cancellable,
				   GAsyncReadyCallback callback,
				   gpointer user_data)
{
	g_return_if_fail(PAL_IS_STORE(self));
	PAL_STORE_GET_IFACE(self)->dead_letters_purge_async(self,
							    endpoint,
							    session_key,
							    cancellable,
							    callback,
							    user_data);
}

gssize
pal_store_dead_letters_purge_finish(PalStore *self, GAsyncResult *result, GError **error)
{
	PAL_STORE_FINISH_CHECK(pal_store_dead_letters_purge_async, -1);
	return g_task_propagate_int(G_TASK(result), error);
}

void
pal_store_sessions_expire_async(PalStore *self,
				const gchar *endpoint,
				gint64 updated_before,
				gint64 forget_before,
				gint64 journal_done_before,
				GCancellable *cancellable,
				GAsyncReadyCallback callback,
				gpointer user_data)
{
	g_return_if_fail(PAL_IS_STORE(self));
	PAL_STORE_GET_IFACE(self)->sessions_expire_async(self,
							 endpoint,
							 updated_before,
							 forget_before,
							 journal_done_before,
							 cancellable,
							 callback,
							 user_data);
}

gssize
pal_store_sessions_expire_finish(PalStore *self, GAsyncResult *result, GError **error)
{
	PAL_STORE_FINISH_CHECK(pal_store_sessions_expire_async, -1);
	return g_task_propagate_int(G_TASK(result), error);
}

void
pal_store_endpoint_put_async(PalStore *self,
			     const gchar *name,
			     const gchar *json,
			     GCancellable *cancellable,
			     GAsyncReadyCallback callback,
			     gpointer user_data)
{
	g_return_if_fail(PAL_IS_STORE(self));
	g_return_if_fail(name != NULL && json != NULL);
	PAL_STORE_GET_IFACE(self)->endpoint_put_async(self,
						      name,
						      json,
						      cancellable,
						      callback,
						      user_data);
}

gboolean
pal_store_endpoint_put_finish(PalStore *self, GAsyncResult *result, GError **error)
{
	PAL_STORE_FINISH_CHECK(pal_store_endpoint_put_async, FALSE);
	return g_task_propagate_boolean(G_TASK(result), error);
}

void
pal_store_endpoint_delete_async(PalStore *self,
				const gchar *name,
				GCancellable *cancellable,
				GAsyncReadyCallback callback,
				gpointer user_data)
{
	g_return_if_fail(PAL_IS_STORE(self));
	g_return_if_fail(name != NULL);
	PAL_STORE_GET_IFACE(self)->endpoint_delete_async(self,
							 name,
							 cancellable,
							 callback,
							 user_data);
}

gboolean
pal_store_endpoint_delete_finish(PalStore *self, GAsyncResult *result, GError **error)
{
	PAL_STORE_FINISH_CHECK(pal_store_endpoint_delete_async, FALSE);
	return g_task_propagate_boolean(G_TASK(result), error);
}

void
pal_store_endpoints_list_async(PalStore *self,
			       GCancellable *cancellable,
			       GAsyncReadyCallback callback,
			       gpointer user_data)
{
	g_return_if_fail(PAL_IS_STORE(self));
	PAL_STORE_GET_IFACE(self)->endpoints_list_async(self, cancellable, callback, user_data);
}

GPtrArray *
pal_store_endpoints_list_finish(PalStore *self, GAsyncResult *result, GError **error)
{
	PAL_STORE_FINISH_CHECK(pal_store_endpoints_list_async, NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}

void
pal_store_sessions_list_async(PalStore *self,
			      const gchar *endpoint,
			      guint offset,
			      guint limit,
			      GCancellable *cancellable,
			      GAsyncReadyCallback callback,
			      gpointer user_data)
{
	g_return_if_fail(PAL_IS_STORE(self));
	PAL_STORE_GET_IFACE(self)->sessions_list_async(self,
						       endpoint,
						       offset,
						       limit,
						       cancellable,
						       callback,
						       user_data);
}

PalStoreSessionPage *
pal_store_sessions_list_finish(PalStore *self, GAsyncResult *result, GError **error)
{
	PAL_STORE_FINISH_CHECK(pal_store_sessions_list_async, NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}

void
pal_store_session_reset_async(PalStore *self,
			      const gchar *session_key,
			      GCancellable *cancellable,
			      GAsyncReadyCallback callback,
			      gpointer user_data)
{
	g_return_if_fail(PAL_IS_STORE(self));
	g_return_if_fail(session_key != NULL);
	PAL_STORE_GET_IFACE(self)->session_reset_async(self,
						       session_key,
						       cancellable,
						       callback,
						       user_data);
}

gboolean
pal_store_session_reset_finish(PalStore *self, GAsyncResult *result, GError **error)
{
	PAL_STORE_FINISH_CHECK(pal_store_session_reset_async, FALSE);
	return g_task_propagate_boolean(G_TASK(result), error);
}

void
pal_store_endpoint_state_set_async(PalStore *self,
				   const gchar *name,
				   gint active,
				   GCancellable *cancellable,
				   GAsyncReadyCallback callback,
				   gpointer user_data)
{
	g_return_if_fail(PAL_IS_STORE(self));
	g_return_if_fail(name != NULL);
	g_return_if_fail(active >= -1 && active <= 1);
	PAL_STORE_GET_IFACE(self)->endpoint_state_set_async(self,
							    name,
							    active,
							    cancellable,
							    callback,
							    user_data);
}

gboolean
pal_store_endpoint_state_set_finish(PalStore *self, GAsyncResult *result, GError **error)
{
	PAL_STORE_FINISH_CHECK(pal_store_endpoint_state_set_async, FALSE);
	return g_task_propagate_boolean(G_TASK(result), error);
}

void
pal_store_endpoint_states_list_async(PalStore *self,
				     GCancellable *cancellable,
				     GAsyncReadyCallback callback,
				     gpointer user_data)
{
	g_return_if_fail(PAL_IS_STORE(self));
	PAL_STORE_GET_IFACE(self)->endpoint_states_list_async(self, cancellable, callback, user_data);
}

GHashTable *
pal_store_endpoint_states_list_finish(PalStore *self, GAsyncResult *result, GError **error)
{
	PAL_STORE_FINISH_CHECK(pal_store_endpoint_states_list_async, NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}

gboolean
pal_store_check(PalStore *self, GError **error)
{
	g_return_val_if_fail(PAL_IS_STORE(self), FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);
	return PAL_STORE_GET_IFACE(self)->check(self, error);
}

void
pal_store_close(PalStore *self)
{
	g_return_if_fail(PAL_IS_STORE(self));
	PAL_STORE_GET_IFACE(self)->close(self);
}

/* --- synchronous loaders for startup: run the async call in a private context --- */

static void
pal_store_sync_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	GAsyncResult **slot = user_data;
	*slot = g_object_ref(result);
}

static GAsyncResult *
pal_store_sync_wait(GMainContext *context, GAsyncResult **slot)
{
	while (*slot == NULL)
		g_main_context_iteration(context, TRUE);
	g_main_context_pop_thread_default(context);
	return *slot;
}

GPtrArray *
pal_store_load_unfinished_journal(PalStore *self, GCancellable *cancellable, GError **error)
{
	g_autoptr(GMainContext) context = g_main_context_new();
	g_autoptr(GAsyncResult) result = NULL;

	g_return_val_if_fail(PAL_IS_STORE(self), NULL);
	g_main_context_push_thread_default(context);
	pal_store_load_unfinished_journal_async(self, cancellable, pal_store_sync_cb, &result);
	pal_store_sync_wait(context, &result);
	return pal_store_load_unfinished_journal_finish(self, result, error);
}

GPtrArray *
pal_store_load_outbox(PalStore *self, GCancellable *cancellable, GError **error)
{
	g_autoptr(GMainContext) context = g_main_context_new();
	g_autoptr(GAsyncResult) result = NULL;

	g_return_val_if_fail(PAL_IS_STORE(self), NULL);
	g_main_context_push_thread_default(context);
	pal_store_load_outbox_async(self, cancellable, pal_store_sync_cb, &result);
	pal_store_sync_wait(context, &result);
	return pal_store_load_outbox_finish(self, result, error);
}

gboolean
pal_store_load_session(PalStore *self,
		       const gchar *session_key,
		       PalStoreSession **session,
		       GCancellable *cancellable,
		       GError **error)
{
	g_autoptr(GMainContext) context = g_main_context_new();
	g_autoptr(GAsyncResult) result = NULL;

	g_return_val_if_fail(PAL_IS_STORE(self), FALSE);
	g_main_context_push_thread_default(context);
	pal_store_load_session_async(self, session_key, cancellable, pal_store_sync_cb, &result);
	pal_store_sync_wait(context, &result);
	return pal_store_load_session_finish(self, result, session, error);
}

GPtrArray *
pal_store_endpoints_list(PalStore *self, GCancellable *cancellable, GError **error)
{
	g_autoptr(GMainContext) context = g_main_context_new();
	g_autoptr(GAsyncResult) result = NULL;

	g_return_val_if_fail(PAL_IS_STORE(self), NULL);
	g_main_context_push_thread_default(context);
	pal_store_endpoints_list_async(self, cancellable, pal_store_sync_cb, &result);
	pal_store_sync_wait(context, &result);
	return pal_store_endpoints_list_finish(self, result, error);
}

GHashTable *
pal_store_endpoint_states_list(PalStore *self, GCancellable *cancellable, GError **error)
{
	g_autoptr(GMainContext) context = g_main_context_new();
	g_autoptr(GAsyncResult) result = NULL;

	g_return_val_if_fail(PAL_IS_STORE(self), NULL);
	g_main_context_push_thread_default(context);
	pal_store_endpoint_states_list_async(self, cancellable, pal_store_sync_cb, &result);
	pal_store_sync_wait(context, &result);
	return pal_store_endpoint_states_list_finish(self, result, error);
}
