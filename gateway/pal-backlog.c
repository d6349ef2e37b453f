/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "pal-backlog.h"

struct _PalBacklog {
	GMutex lock;
	GHashTable *endpoints; /* name → guint count (in the pointer) */
	GHashTable *sessions;  /* session key → guint count; absent when 0 */
	guint max_per_endpoint;
	guint max_per_session;
};

PalBacklog *
pal_backlog_new(guint max_per_endpoint, guint max_per_session)
{
	PalBacklog *self = g_new0(PalBacklog, 1);

	g_mutex_init(&self->lock);
	self->endpoints = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	self->sessions = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	self->max_per_endpoint = max_per_endpoint;
	self->max_per_session = max_per_session;
	return self;
}

void
pal_backlog_free(PalBacklog *self)
{
	g_hash_table_unref(self->endpoints);
	g_hash_table_unref(self->sessions);
	g_mutex_clear(&self->lock);
	g_free(self);
}

static guint
pal_backlog_lookup(GHashTable *table, const gchar *key)
{
	return GPOINTER_TO_UINT(g_hash_table_lookup(table, key));
}

/* counts live in the pointer; an entry at 0 is removed so the tables only hold busy keys */
static void
pal_backlog_bump(GHashTable *table, const gchar *key, gint delta)
{
	gint64 value = (gint64)pal_backlog_lookup(table, key) + delta;

	if (value <= 0)
		g_hash_table_remove(table, key);
	else
		g_hash_table_replace(table, g_strdup(key), GUINT_TO_POINTER((guint)value));
}

PalBacklogState
pal_backlog_check(PalBacklog *self, const gchar *endpoint, const gchar *session_key)
{
	PalBacklogState state = PAL_BACKLOG_OK;

	g_mutex_lock(&self->lock);
	if (pal_backlog_lookup(self->sessions, session_key) >= self->max_per_session)
		state = PAL_BACKLOG_SESSION_FULL;
	else if (pal_backlog_lookup(self->endpoints, endpoint) >= self->max_per_endpoint)
		state = PAL_BACKLOG_ENDPOINT_FULL;
	g_mutex_unlock(&self->lock);
	return state;
}

void
pal_backlog_add(PalBacklog *self, const gchar *endpoint, const gchar *session_key, gint delta)
{
	if (delta == 0)
		return;
	g_mutex_lock(&self->lock);
	pal_backlog_bump(self->endpoints, endpoint, delta);
	pal_backlog_bump(self->sessions, session_key, delta);
	g_mutex_unlock(&self->lock);
}

guint
pal_backlog_get_endpoint(PalBacklog *self, const gchar *endpoint)
{
	guint n;

	g_mutex_lock(&self->lock);
	n = pal_backlog_lookup(self->endpoints, endpoint);
	g_mutex_unlock(&self->lock);
	return n;
}
