/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pal-config.h"
#include "pal-store.h"

G_BEGIN_DECLS

/* the schema version this build writes; databases with a higher PRAGMA user_version are refused */
#define PAL_STORE_SQLITE_SCHEMA_VERSION 2
/* PRAGMA application_id of a palaver database ("PalV") */
#define PAL_STORE_SQLITE_APPLICATION_ID 0x50616c56
/* operations run in one transaction at most (group commit) */
#define PAL_STORE_SQLITE_MAX_BATCH 512
/* operations waiting for the writer thread; beyond it they fail at once with PAL_ERROR_BUSY */
#define PAL_STORE_SQLITE_MAX_QUEUE 100000

#define PAL_TYPE_STORE_SQLITE (pal_store_sqlite_get_type())
G_DECLARE_FINAL_TYPE(PalStoreSqlite, pal_store_sqlite, PAL, STORE_SQLITE, GObject)

/* Opens (creating it if needed) the database at @path and migrates its schema; the parent
 * directory must exist. @durability: CRASH = WAL + synchronous=NORMAL (survives a killed
 * process), POWER = WAL + synchronous=FULL (fsync per group commit), NONE = a private
 * in-memory database (@path is ignored and may be NULL): the same code and semantics, minus
 * persistence. Errors: PAL_ERROR_UNAVAILABLE (cannot open or write), PAL_ERROR_INVALID_DATA
 * (not a palaver database, corrupt, or a schema newer than PAL_STORE_SQLITE_SCHEMA_VERSION). */
PalStore *
pal_store_sqlite_new(const gchar *path, PalDurability durability, GError **error);

/* the database path, NULL for an in-memory store */
const gchar *
pal_store_sqlite_get_path(PalStoreSqlite *self);
/* statistics, any thread: committed transactions, and operations run (each op counted once) */
guint64
pal_store_sqlite_get_n_transactions(PalStoreSqlite *self);
guint64
pal_store_sqlite_get_n_ops(PalStoreSqlite *self);
/* for tests: lower the queue limit (default PAL_STORE_SQLITE_MAX_QUEUE) */
void
pal_store_sqlite_set_max_queue(PalStoreSqlite *self, guint max_queue);

G_END_DECLS
