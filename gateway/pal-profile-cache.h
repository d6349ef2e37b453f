/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The contact profiles of the users whose sessions are in memory, shared by all workers: a
 * user's sessions may be owned by different workers, and each turn must start from the
 * profile the user's last turn left, not from the copy its session read when it was loaded.
 * An entry lives while sessions of its user are in memory (pal_profile_cache_hold/release).
 * Thread-safe. */
typedef struct _PalProfileCache PalProfileCache;

PalProfileCache *
pal_profile_cache_new(void);
void
pal_profile_cache_free(PalProfileCache *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PalProfileCache, pal_profile_cache_free)

/* a session of (@endpoint, @user) is in memory; TRUE when its profile is known already */
gboolean
pal_profile_cache_hold(PalProfileCache *self, const gchar *endpoint, const gchar *user);
void
pal_profile_cache_release(PalProfileCache *self, const gchar *endpoint, const gchar *user);
/* (transfer full): the profile as JSON text, NULL when not known (or held by nobody) */
gchar *
pal_profile_cache_dup(PalProfileCache *self, const gchar *endpoint, const gchar *user);
/* the profile read from the store: kept unless a turn stored a newer one meanwhile */
void
pal_profile_cache_loaded(PalProfileCache *self, const gchar *endpoint, const gchar *user, const gchar *json);
/* a turn stored @json */
void
pal_profile_cache_stored(PalProfileCache *self, const gchar *endpoint, const gchar *user, const gchar *json);

G_END_DECLS
