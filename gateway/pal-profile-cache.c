/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "pal-profile-cache.h"

typedef struct {
	guint holders; /* sessions in memory */
	gchar *json;   /* NULL until loaded or stored */
} PalProfileEntry;

struct _PalProfileCache {
	GMutex lock;
	GHashTable *entries; /* "endpoint\nuser" → PalProfileEntry */
};

static void
pal_profile_entry_free(PalProfileEntry *e)
{
	g_free(e->json);
	g_free(e);
}

/* endpoint names cannot hold a newline (pal-endpoint.c), so the key is unambiguous */
static gchar *
pal_profile_cache_key(const gchar *endpoint, const gchar *user)
{
	return g_strconcat(endpoint, "\n", user, NULL);
}

PalProfileCache *
pal_profile_cache_new(void)
{
	PalProfileCache *self = g_new0(PalProfileCache, 1);

	g_mutex_init(&self->lock);
	self->entries = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)pal_profile_entry_free);
	return self;
}

void
pal_profile_cache_free(PalProfileCache *self)
{
	if (self == NULL)
		return;
	g_hash_table_unref(self->entries);
	g_mutex_clear(&self->lock);
	g_free(self);
}

gboolean
pal_profile_cache_hold(PalProfileCache *self, const gchar *endpoint, const gchar *user)
{
	g_autofree gchar *key = pal_profile_cache_key(endpoint, user);
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->lock);
	PalProfileEntry *e = g_hash_table_lookup(self->entries, key);

	if (e == NULL) {
		e = g_new0(PalProfileEntry, 1);
		g_hash_table_insert(self->entries, g_steal_pointer(&key), e);
	}
	e->holders++;
	return e->json != NULL;
}

void
pal_profile_cache_release(PalProfileCache *self, const gchar *endpoint, const gchar *user)
{
	g_autofree gchar *key = pal_profile_cache_key(endpoint, user);
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->lock);
	PalProfileEntry *e = g_hash_table_lookup(self->entries, key);

	if (e != NULL && --e->holders == 0)
		g_hash_table_remove(self->entries, key);
}

gchar *
pal_profile_cache_dup(PalProfileCache *self, const gchar *endpoint, const gchar *user)
{
	g_autofree gchar *key = pal_profile_cache_key(endpoint, user);
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->lock);
	PalProfileEntry *e = g_hash_table_lookup(self->entries, key);

	return e != NULL ? g_strdup(e->json) : NULL;
}

static void
pal_profile_cache_set(PalProfileCache *self,
		      const gchar *endpoint,
		      const gchar *user,
		      const gchar *json,
		      gboolean replace)
{
	g_autofree gchar *key = pal_profile_cache_key(endpoint, user);
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->lock);
	PalProfileEntry *e = g_hash_table_lookup(self->entries, key);

	if (e == NULL || (!replace && e->json != NULL))
		return;
	g_free(e->json);
	e->json = g_strdup(json != NULL ? json : "{}");
}

void
pal_profile_cache_loaded(PalProfileCache *self, const gchar *endpoint, const gchar *user, const gchar *json)
{
	pal_profile_cache_set(self, endpoint, user, json, FALSE);
}

void
pal_profile_cache_stored(PalProfileCache *self, const gchar *endpoint, const gchar *user, const gchar *json)
{
	pal_profile_cache_set(self, endpoint, user, json, TRUE);
}
