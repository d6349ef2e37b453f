/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "pal-config.h"
#include "pal-pipeline.h"
#include "pal-store-sqlite.h"
#include "pal-tool-common.h"
#include "pal-tool-dead-letters.h"
#include "pal-util.h"

/*
 * palaver-tool dead-letters: the dead letters of a stopped palaverd (DESIGN.md §1.3, issue #3),
 * straight from its SQLite store through the PalStore API. The D-Bus control plane (issue #6)
 * does the same on a running daemon.
 */

enum {
	PAL_DL_EXIT_OK = 0,
	PAL_DL_EXIT_FAILURE = 1,
	PAL_DL_EXIT_USAGE = 2,
};

/* the default --ttl of replayed outputs, and the bounds of an endpoint's webhook.ttlSeconds */
#define PAL_DL_DEFAULT_TTL 600
#define PAL_DL_MAX_TTL	   604800
/* characters of the body preview in the table */
#define PAL_DL_PREVIEW_CHARS 40

typedef enum {
	PAL_DL_LIST,
	PAL_DL_REPLAY,
	PAL_DL_PURGE,
} PalDlAction;

/* --- running one store operation to completion --- */

typedef struct {
	GMainLoop *loop;
	GAsyncResult *result;
} PalDlWait;

static void
pal_dl_wait_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	PalDlWait *wait = user_data;

	wait->result = g_object_ref(res);
	g_main_loop_quit(wait->loop);
}

/* runs the loop until the pending operation called back; (transfer full) */
static GAsyncResult *
pal_dl_wait_result(PalDlWait *wait)
{
	g_main_loop_run(wait->loop);
	return g_steal_pointer(&wait->result);
}

/* --- helpers --- */

static gchar *
pal_dl_shorten(const gchar *text, glong max_chars)
{
	/* an ellipsis on UTF-8 terminals, three dots elsewhere */
	const gchar *more = g_get_charset(NULL) ? "…" : "...";
	glong more_chars = g_utf8_strlen(more, -1);
	g_autofree gchar *head = NULL;

	if (g_utf8_strlen(text, -1) <= max_chars)
		return g_strdup(text);
	head = g_utf8_substring(text, 0, max_chars - more_chars);
	return g_strconcat(head, more, NULL);
}

/* the body parsed as JSON, or NULL */
static JsonNode *
pal_dl_parse_body(GBytes *body)
{
	g_autoptr(JsonParser) parser = json_parser_new_immutable();
	gsize len = 0;
	const gchar *data = g_bytes_get_data(body, &len);

	if (len == 0 || len > G_MAXSSIZE || !json_parser_load_from_data(parser, data, (gssize)len, NULL))
		return NULL;
	if (json_parser_get_root(parser) == NULL)
		return NULL;
	return json_node_copy(json_parser_get_root(parser));
}

static gchar *
pal_dl_json_to_string(JsonNode *node, gboolean pretty)
{
	g_autoptr(JsonGenerator) generator = json_generator_new();

	json_generator_set_root(generator, node);
	json_generator_set_pretty(generator, pretty);
	json_generator_set_indent(generator, 2);
	return json_generator_to_data(generator, NULL);
}

/* what the table shows of a body: the text of an AIOutput, else the compact JSON, else the
 * text itself */
static gchar *
pal_dl_body_preview(GBytes *body)
{
	g_autoptr(JsonNode) json = pal_dl_parse_body(body);
	g_autofree gchar *text = NULL;
	g_autofree gchar *printable = NULL;
	gsize len = 0;
	const gchar *data = g_bytes_get_data(body, &len);

	if (json != NULL) {
		JsonNode *shown = json;

		if (JSON_NODE_HOLDS_OBJECT(json)) {
			JsonObject *obj = json_node_get_object(json);
			JsonNode *ai = json_object_get_member(obj, "AIOutput");
			if (ai != NULL && JSON_NODE_HOLDS_OBJECT(ai)) {
				JsonNode *t = json_object_get_member(json_node_get_object(ai), "text");
				shown = t != NULL && JSON_NODE_HOLDS_VALUE(t) ? t : ai;
			}
		}
		text = pal_dl_json_to_string(shown, FALSE);
	} else if (len == 0) {
		return g_strdup(_("(empty body)"));
	} else if (g_utf8_validate(data, (gssize)len, NULL) && memchr(data, '\0', len) == NULL) {
		text = g_strndup(data, len);
	} else {
		return g_strdup_printf(
		    ngettext("(%lu byte of binary data)", "(%lu bytes of binary data)", (gulong)len),
		    (gulong)len);
	}
	printable = pal_printable(text, FALSE);
	return pal_dl_shorten(printable, PAL_DL_PREVIEW_CHARS);
}

static void
pal_dl_append_padded(GString *str, const gchar *text, glong width)
{
	glong n = g_utf8_strlen(text, -1);

	g_string_append(str, text);
	for (; n < width; n++)
		g_string_append_c(str, ' ');
}

static gint
pal_dl_compare(gconstpointer a, gconstpointer b)
{
	const PalStoreDeadLetter *x = *(PalStoreDeadLetter *const *)a;
	const PalStoreDeadLetter *y = *(PalStoreDeadLetter *const *)b;
	gint c = g_strcmp0(x->row->session_key, y->row->session_key);

	if (c != 0)
		return c;
	if (x->row->session_seq != y->row->session_seq)
		return x->row->session_seq < y->row->session_seq ? -1 : 1;
	return x->row->id < y->row->id ? -1 : (x->row->id > y->row->id ? 1 : 0);
}

/* --- output --- */

static void
pal_dl_print_table(GPtrArray *dead)
{
	enum { C_SEQ, C_ID, C_FAILED, C_ATTEMPTS, C_STATUS, C_REASON, C_BODY, N_COLS };
	const gchar *titles[N_COLS] = {
	    /* TRANSLATORS: column titles of "palaver-tool dead-letters list" */
	    N_("SEQ"),
	    N_("WEBHOOK-ID"),
	    N_("FAILED (UTC)"),
	    N_("ATTEMPTS"),
	    N_("STATUS"),
	    N_("REASON"),
	    N_("BODY"),
	};
	g_autoptr(GPtrArray) cells = g_ptr_array_new_with_free_func(g_free);
	glong width[N_COLS] = {0};
	g_autoptr(GString) str = g_string_new(NULL);
	const gchar *current = NULL;

	for (guint c = 0; c < N_COLS; c++)
		width[c] = g_utf8_strlen(_(titles[c]), -1);
	for (guint i = 0; i < dead->len; i++) {
		PalStoreDeadLetter *d = g_ptr_array_index(dead, i);
		gchar *row[N_COLS];

		row[C_SEQ] = g_strdup_printf("%" G_GUINT64_FORMAT, d->row->session_seq);
		row[C_ID] = pal_printable(d->row->webhook_id, FALSE);
		row[C_FAILED] = pal_tool_format_time(d->failed_at);
		row[C_ATTEMPTS] = g_strdup_printf("%u", d->row->attempts);
		row[C_STATUS] = d->last_status > 0 ? g_strdup_printf("%d", d->last_status)
						   : g_strdup("-");
		row[C_REASON] = pal_printable(d->reason, FALSE);
		row[C_BODY] = pal_dl_body_preview(d->row->body);
		for (guint c = 0; c < N_COLS; c++) {
			width[c] = MAX(width[c], g_utf8_strlen(row[c], -1));
			g_ptr_array_add(cells, row[c]);
		}
	}

	for (guint i = 0; i < dead->len; i++) {
		PalStoreDeadLetter *d = g_ptr_array_index(dead, i);

		/* one heading per conversation, then its dead letters in seq order */
		if (g_strcmp0(current, d->row->session_key) != 0) {
			gchar *parts[3] = {NULL, NULL, NULL};

			current = d->row->session_key;
			if (i > 0)
				g_string_append_c(str, '\n');
			if (pal_pipeline_session_key_split(current, parts)) {
				g_autofree gchar *ep = pal_printable(parts[0], FALSE);
				g_autofree gchar *user = pal_printable(parts[1], FALSE);
				g_autofree gchar *session = pal_printable(parts[2], FALSE);
				g_string_append_printf(str,
						       _("Endpoint “%s”, user “%s”, session “%s”:\n"),
						       ep,
						       user,
						       session);
			} else {
				g_autofree gchar *key = pal_printable(current, FALSE);
				g_autofree gchar *ep =
				    pal_printable(d->row->endpoint, FALSE);
				g_string_append_printf(str,
						       _("Endpoint “%s”, session key “%s”:\n"),
						       ep,
						       key);
			}
			for (guint i2 = 0; i2 < 3; i2++)
				g_free(parts[i2]);
			g_string_append(str, "  ");
			for (guint c = 0; c < N_COLS; c++) {
				if (c + 1 < N_COLS) {
					pal_dl_append_padded(str, _(titles[c]), width[c]);
					g_string_append(str, "  ");
				} else {
					g_string_append(str, _(titles[c]));
				}
			}
			g_string_append_c(str, '\n');
		}
		g_string_append(str, "  ");
		for (guint c = 0; c < N_COLS; c++) {
			const gchar *cell = g_ptr_array_index(cells, i * N_COLS + c);
			if (c + 1 < N_COLS) {
				pal_dl_append_padded(str, cell, width[c]);
				g_string_append(str, "  ");
			} else {
				g_string_append(str, cell);
			}
		}
		g_string_append_c(str, '\n');
	}
	if (dead->len == 0)
		g_string_append_printf(str, "%s\n", _("No dead letters."));
	else
		g_string_append_printf(str,
				       ngettext("\n%u dead letter\n", "\n%u dead letters\n", dead->len),
				       dead->len);
	fputs(str->str, stdout);
}

static void
pal_dl_add_time(JsonBuilder *builder, const gchar *name, gint64 real_time)
{
	json_builder_set_member_name(builder, name);
	if (real_time > 0) {
		g_autofree gchar *when = pal_tool_format_time(real_time);
		json_builder_add_string_value(builder, when);
	} else {
		json_builder_add_null_value(builder);
	}
}

static void
pal_dl_add_body(JsonBuilder *builder, GBytes *body)
{
	g_autoptr(JsonNode) json = pal_dl_parse_body(body);
	gsize len = 0;
	const gchar *data = g_bytes_get_data(body, &len);

	json_builder_set_member_name(builder, "body");
	if (json != NULL) {
		json_builder_add_value(builder, g_steal_pointer(&json));
	} else if (g_utf8_validate(data, (gssize)len, NULL) && memchr(data, '\0', len) == NULL) {
		g_autofree gchar *text = g_strndup(data, len);
		json_builder_add_string_value(builder, text);
	} else {
		g_autofree gchar *b64 = g_base64_encode((const guchar *)data, len);
		json_builder_add_null_value(builder);
		json_builder_set_member_name(builder, "bodyBase64");
		json_builder_add_string_value(builder, b64);
	}
}

static void
pal_dl_print_json(GPtrArray *dead)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonNode) root = NULL;
	g_autofree gchar *text = NULL;

	json_builder_begin_array(builder);
	for (guint i = 0; i < dead->len; i++) {
		PalStoreDeadLetter *d = g_ptr_array_index(dead, i);
		gchar *parts[3] = {NULL, NULL, NULL};
		gboolean decoded = pal_pipeline_session_key_split(d->row->session_key, parts);

		json_builder_begin_object(builder);
		json_builder_set_member_name(builder, "id");
		json_builder_add_int_value(builder, d->row->id);
		json_builder_set_member_name(builder, "endpoint");
		json_builder_add_string_value(builder, d->row->endpoint);
		json_builder_set_member_name(builder, "userId");
		if (decoded)
			json_builder_add_string_value(builder, parts[1]);
		else
			json_builder_add_null_value(builder);
		json_builder_set_member_name(builder, "sessionId");
		if (decoded)
			json_builder_add_string_value(builder, parts[2]);
		else
			json_builder_add_null_value(builder);
		json_builder_set_member_name(builder, "sessionKey");
		json_builder_add_string_value(builder, d->row->session_key);
		json_builder_set_member_name(builder, "sessionSeq");
		json_builder_add_int_value(builder, (gint64)d->row->session_seq);
		json_builder_set_member_name(builder, "webhookId");
		json_builder_add_string_value(builder, d->row->webhook_id);
		json_builder_set_member_name(builder, "turnId");
		json_builder_add_string_value(builder, d->row->turn_id);
		json_builder_set_member_name(builder, "turnIndex");
		json_builder_add_int_value(builder, d->row->turn_index);
		pal_dl_add_time(builder, "createdAt", d->row->created_at);
		pal_dl_add_time(builder, "expiresAt", d->row->expires_at);
		json_builder_set_member_name(builder, "attempts");
		json_builder_add_int_value(builder, d->row->attempts);
		pal_dl_add_time(builder, "nextAttemptAt", d->row->next_attempt_at);
		pal_dl_add_time(builder, "failedAt", d->failed_at);
		json_builder_set_member_name(builder, "lastStatus");
		if (d->last_status > 0)
			json_builder_add_int_value(builder, d->last_status);
		else
			json_builder_add_null_value(builder);
		json_builder_set_member_name(builder, "reason");
		json_builder_add_string_value(builder, d->reason);
		pal_dl_add_body(builder, d->row->body);
		json_builder_end_object(builder);
		for (guint j = 0; j < 3; j++)
			g_free(parts[j]);
	}
	json_builder_end_array(builder);
	root = json_builder_get_root(builder);
	text = pal_dl_json_to_string(root, TRUE);
	g_print("%s\n", text);
}

static void
pal_dl_print_count(const gchar *member, gsize count)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonNode) root = NULL;
	g_autofree gchar *text = NULL;

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, member);
	json_builder_add_int_value(builder, (gint64)count);
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	text = pal_dl_json_to_string(root, FALSE);
	g_print("%s\n", text);
}

/* --- opening the database --- */

/* Refuses, without writing anything, a file that is positively not a palaver database
 * (pal_store_sqlite_new() would otherwise add the schema to any SQLite file). Anything it
 * cannot tell is left to pal_store_sqlite_new(). */
static gboolean
pal_dl_check_database(const gchar *path, GError **error)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	gint64 app_id = -1;
	int rc;

	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "PRAGMA application_id", -1, &stmt, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(stmt);
		if (rc == SQLITE_ROW)
			app_id = sqlite3_column_int64(stmt, 0);
	}
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	if ((rc & 0xff) == SQLITE_NOTADB) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_INVALID_DATA,
			    _("%s is not a palaver database (not an SQLite database)"),
			    path);
		return FALSE;
	}
	if (rc == SQLITE_ROW && app_id == 0) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_INVALID_DATA,
			    _("%s is not a palaver database (an empty file, or another program’s SQLite "
			      "database)"),
			    path);
		return FALSE;
	}
	if (rc == SQLITE_ROW && app_id != PAL_STORE_SQLITE_APPLICATION_ID) {
		g_autofree gchar *id = g_strdup_printf("0x%08" G_GINT64_MODIFIER "x", app_id);
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_INVALID_DATA,
			    _("%s is not a palaver database (SQLite application_id %s)"),
			    path,
			    id);
		return FALSE;
	}
	return TRUE;
}

static PalStore *
pal_dl_open(const gchar *path, GError **error)
{
	if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_NOT_FOUND,
			    _("%s does not exist (palaverd creates its database at its first start; "
			      "give the right one with --db FILE or --config FILE)"),
			    path);
		return NULL;
	}
	if (!g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_NOT_REGULAR_FILE,
			    _("%s is not a regular file"),
			    path);
		return NULL;
	}
	if (!pal_dl_check_database(path, error))
		return NULL;
	return pal_store_sqlite_new(path, PAL_DURABILITY_CRASH, error);
}

/* the database: --db, else [Store] Path of --config, else the default */
static gchar *
pal_dl_resolve_path(const gchar *db, const gchar *config_path, GError **error)
{
	g_autoptr(PalConfig) config = NULL;

	if (db != NULL)
		return g_strdup(db);
	if (config_path == NULL)
		return g_build_filename(PAL_LOCALSTATEDIR, "palaver.db", NULL);
	config = pal_config_load(config_path, error);
	if (config == NULL)
		return NULL;
	if (g_strcmp0(pal_config_get_store_backend(config), "sqlite") != 0) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_NOT_SUPPORTED,
			    _("%s: the store backend is “%s”; this command reads SQLite stores only"),
			    config_path,
			    pal_config_get_store_backend(config));
		return NULL;
	}
	if (pal_config_get_durability(config) == PAL_DURABILITY_NONE) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_NOT_SUPPORTED,
			    _("%s: the store is in memory (Durability=none): palaverd keeps no dead "
			      "letters after it stops"),
			    config_path);
		return NULL;
	}
	return g_strdup(pal_config_get_store_path(config));
}

/* --- the actions --- */

typedef struct {
	PalStore *store;
	PalDlWait wait;
	const gchar *endpoint;
	GPtrArray *keys; /* session keys; empty = every session of the filter */
} PalDl;

static GPtrArray *
pal_dl_list(PalDl *dl, guint offset, guint limit, GError **error)
{
	g_autoptr(GPtrArray) all =
	    g_ptr_array_new_with_free_func((GDestroyNotify)pal_store_dead_letter_free);
	guint n_queries = MAX(dl->keys->len, 1);

	for (guint i = 0; i < n_queries; i++) {
		const gchar *key = dl->keys->len > 0 ? g_ptr_array_index(dl->keys, i) : NULL;
		g_autoptr(GAsyncResult) res = NULL;
		g_autoptr(GPtrArray) rows = NULL;

		/* one query pages in the store; several are merged, then paged here */
		pal_store_dead_letters_list_async(dl->store,
						  dl->endpoint,
						  key,
						  n_queries == 1 ? offset : 0,
						  n_queries == 1 ? limit : 0,
						  NULL,
						  pal_dl_wait_cb,
						  &dl->wait);
		res = pal_dl_wait_result(&dl->wait);
		rows = pal_store_dead_letters_list_finish(dl->store, res, error);
		if (rows == NULL)
			return NULL;
		g_ptr_array_extend_and_steal(all, g_steal_pointer(&rows));
	}
	if (n_queries == 1)
		return g_steal_pointer(&all);
	g_ptr_array_sort(all, pal_dl_compare);
	g_ptr_array_remove_range(all, 0, MIN(offset, all->len));
	if (limit > 0 && all->len > limit)
		g_ptr_array_remove_range(all, limit, all->len - limit);
	return g_steal_pointer(&all);
}

static gboolean
pal_dl_replay(PalDl *dl, gint64 ttl_usec, guint *count, GError **error)
{
	guint n_queries = MAX(dl->keys->len, 1);

	*count = 0;
	/* each session in its own transaction: sessions are independent of one another */
	for (guint i = 0; i < n_queries; i++) {
		const gchar *key = dl->keys->len > 0 ? g_ptr_array_index(dl->keys, i) : NULL;
		g_autoptr(GAsyncResult) res = NULL;
		g_autoptr(GPtrArray) rows = NULL;

		pal_store_dead_letters_replay_async(dl->store,
						    dl->endpoint,
						    key,
						    ttl_usec,
						    NULL,
						    pal_dl_wait_cb,
						    &dl->wait);
		res = pal_dl_wait_result(&dl->wait);
		rows = pal_store_dead_letters_replay_finish(dl->store, res, error);
		if (rows == NULL)
			return FALSE;
		*count += rows->len;
	}
	return TRUE;
}

static gboolean
pal_dl_purge(PalDl *dl, guint *count, GError **error)
{
	guint n_queries = MAX(dl->keys->len, 1);

	*count = 0;
	for (guint i = 0; i < n_queries; i++) {
		const gchar *key = dl->keys->len > 0 ? g_ptr_array_index(dl->keys, i) : NULL;
		g_autoptr(GAsyncResult) res = NULL;
		gssize n;

		pal_store_dead_letters_purge_async(dl->store,
						   dl->endpoint,
						   key,
						   NULL,
						   pal_dl_wait_cb,
						   &dl->wait);
		res = pal_dl_wait_result(&dl->wait);
		n = pal_store_dead_letters_purge_finish(dl->store, res, error);
		if (n < 0)
			return FALSE;
		*count += (guint)n;
	}
	return TRUE;
}

/* --- the command --- */

gint
pal_tool_dead_letters(gint argc, gchar **argv)
{
	g_autofree gchar *db = NULL;
	g_autofree gchar *config_path = NULL;
	g_autofree gchar *endpoint = NULL;
	g_auto(GStrv) sessions = NULL;
	gboolean json = FALSE;
	gboolean yes = FALSE;
	gint limit = 0;
	gint offset = 0;
	gint ttl = -1;
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = NULL;
	g_autoptr(PalStore) store = NULL;
	g_autoptr(GMainLoop) loop = NULL;
	g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func(g_free);
	PalDlAction action;
	PalDl dl = {0};
	gint status = PAL_DL_EXIT_OK;
	g_autofree gchar *default_path = g_build_filename(PAL_LOCALSTATEDIR, "palaver.db", NULL);
	g_autofree gchar *db_help = g_strdup_printf(_("The palaverd database (default %s)"), default_path);
	GOptionEntry entries[] = {
	    {"db",
	     'd',
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_FILENAME,
	     &db,
	     NULL, /* db_help */
	     N_("FILE")},
	    {"config",
	     'c',
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_FILENAME,
	     &config_path,
	     N_("Use the database of this palaver.conf ([Store] Path)"),
	     N_("FILE")},
	    {"endpoint",
	     'e',
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_STRING,
	     &endpoint,
	     N_("Only the dead letters of endpoint NAME"),
	     N_("NAME")},
	    {"session",
	     's',
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_STRING_ARRAY,
	     &sessions,
	     N_("Only the dead letters of this conversation of the --endpoint (split at the "
		"first “/”); may be repeated"),
	     N_("USER/SESSION")},
	    {"json",
	     0,
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_NONE,
	     &json,
	     N_("Print JSON instead of a table"),
	     NULL},
	    {"limit",
	     'n',
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_INT,
	     &limit,
	     N_("list: print at most N dead letters (default: all)"),
	     N_("N")},
	    {"offset",
	     0,
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_INT,
	     &offset,
	     N_("list: skip the first N dead letters"),
	     N_("N")},
	    {"ttl",
	     0,
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_INT,
	     &ttl,
	     N_("replay: time to live of the replayed outputs, counted from now (default 600)"),
	     N_("SECONDS")},
	    {"yes",
	     'y',
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_NONE,
	     &yes,
	     N_("purge: allow deleting every dead letter (no --endpoint or --session)"),
	     NULL},
	    {NULL},
	};

	entries[0].description = db_help;
	context = g_option_context_new(_("list|replay|purge"));
	g_option_context_set_translation_domain(context, GETTEXT_PACKAGE);
	g_option_context_set_summary(
	    context,
	    _("List, replay or purge the dead letters of palaverd: the outputs it gave up "
	      "delivering (their time to live passed, or the webhook answered a 4xx that is not "
	      "retried).\n\n"
	      "  list     print them, per conversation in delivery order\n"
	      "  replay   move them back into the outbox, to be delivered again with new "
	      "Palaver-Session-Seq values and the same webhook-id\n"
	      "  purge    delete them"));
	g_option_context_set_description(
	    context,
	    _("palaverd must be stopped: this command works on its database file, and a running "
	      "palaverd does not see replayed outputs until it restarts (it resumes the outbox "
	      "at start). Replayed outputs expire --ttl seconds after the replay, so start "
	      "palaverd before that. To act on a running palaverd, use its D-Bus control plane "
	      "(palaverctl).\n\n"
	      "A conversation is identified by its endpoint, user id and session id: --session "
	      "needs --endpoint. purge without --endpoint or --session needs --yes.\n\n"
	      "Exit status: 0 on success, 1 on a runtime error (no such database, cannot open "
	      "it), 2 on a usage error."));
	g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
	if (!g_option_context_parse(context, &argc, &argv, &error))
		return pal_tool_usage_error("dead-letters", error->message);

	if (argc < 2)
		return pal_tool_usage_error("dead-letters", _("missing the action: list, replay or purge"));
	if (g_strcmp0(argv[1], "list") == 0) {
		action = PAL_DL_LIST;
	} else if (g_strcmp0(argv[1], "replay") == 0) {
		action = PAL_DL_REPLAY;
	} else if (g_strcmp0(argv[1], "purge") == 0) {
		action = PAL_DL_PURGE;
	} else {
		g_autofree gchar *msg =
		    g_strdup_printf(_("unknown action “%s” (expected list, replay or purge)"), argv[1]);
		return pal_tool_usage_error("dead-letters", msg);
	}
	if (argc > 2) {
		g_autofree gchar *msg = g_strdup_printf(_("unexpected argument “%s”"), argv[2]);
		return pal_tool_usage_error("dead-letters", msg);
	}
	if (db != NULL && config_path != NULL)
		return pal_tool_usage_error("dead-letters", _("--db and --config are exclusive: give one"));
	if (limit < 0 || offset < 0)
		return pal_tool_usage_error("dead-letters", _("--limit and --offset must not be negative"));
	if (action != PAL_DL_LIST && (limit > 0 || offset > 0))
		return pal_tool_usage_error("dead-letters", _("--limit and --offset apply to list only"));
	if (action != PAL_DL_REPLAY && ttl != -1)
		return pal_tool_usage_error("dead-letters", _("--ttl applies to replay only"));
	if (action == PAL_DL_REPLAY && ttl == -1)
		ttl = PAL_DL_DEFAULT_TTL;
	if (action == PAL_DL_REPLAY && (ttl < 1 || ttl > PAL_DL_MAX_TTL)) {
		g_autofree gchar *msg = g_strdup_printf(_("--ttl must be from 1 to %d seconds, not %d"),
							PAL_DL_MAX_TTL,
							ttl);
		return pal_tool_usage_error("dead-letters", msg);
	}
	if (action != PAL_DL_PURGE && yes)
		return pal_tool_usage_error("dead-letters", _("--yes applies to purge only"));
	if (endpoint != NULL && *endpoint == '\0')
		return pal_tool_usage_error("dead-letters", _("--endpoint needs a name"));
	if (sessions != NULL && endpoint == NULL)
		return pal_tool_usage_error("dead-letters", 
		    _("--session needs --endpoint: a conversation is identified by the endpoint name, "
		      "the user id and the session id"));
	for (guint i = 0; sessions != NULL && sessions[i] != NULL; i++) {
		const gchar *slash = strchr(sessions[i], '/');
		g_autofree gchar *user = NULL;
		gchar *key;
		gboolean seen = FALSE;

		if (slash == NULL || slash == sessions[i] || slash[1] == '\0') {
			g_autofree gchar *msg = g_strdup_printf(
			    _("--session expects USER/SESSION (a user id and a session id), not “%s”"),
			    sessions[i]);
			return pal_tool_usage_error("dead-letters", msg);
		}
		user = g_strndup(sessions[i], (gsize)(slash - sessions[i]));
		key = pal_pipeline_session_key(endpoint, user, slash + 1);
		for (guint j = 0; j < keys->len && !seen; j++)
			seen = g_str_equal(g_ptr_array_index(keys, j), key);
		if (seen)
			g_free(key);
		else
			g_ptr_array_add(keys, key);
	}
	if (action == PAL_DL_PURGE && endpoint == NULL && !yes)
		return pal_tool_usage_error("dead-letters", 
		    _("purge without --endpoint or --session deletes every dead letter: add --yes "
		      "to confirm"));

	path = pal_dl_resolve_path(db, config_path, &error);
	if (path == NULL) {
		g_printerr("palaver-tool dead-letters: %s\n", error->message);
		return PAL_DL_EXIT_FAILURE;
	}
	store = pal_dl_open(path, &error);
	if (store == NULL) {
		g_printerr(_("palaver-tool dead-letters: cannot open the database: %s\n"),
			   error->message);
		return PAL_DL_EXIT_FAILURE;
	}

	/* the store calls back in this thread's default context */
	loop = g_main_loop_new(NULL, FALSE);
	dl.store = store;
	dl.wait.loop = loop;
	dl.endpoint = endpoint;
	dl.keys = keys;
	switch (action) {
	case PAL_DL_LIST: {
		g_autoptr(GPtrArray) dead = pal_dl_list(&dl, (guint)offset, (guint)limit, &error);

		if (dead == NULL)
			break;
		if (json)
			pal_dl_print_json(dead);
		else
			pal_dl_print_table(dead);
		break;
	}
	case PAL_DL_REPLAY: {
		guint count = 0;

		if (!pal_dl_replay(&dl, (gint64)ttl * G_USEC_PER_SEC, &count, &error))
			break;
		if (json) {
			pal_dl_print_count("replayed", count);
		} else {
			g_print(ngettext("%u dead letter moved back to the outbox.\n",
					 "%u dead letters moved back to the outbox.\n",
					 count),
				count);
			if (count > 0)
				g_print(ngettext("palaverd delivers it when it next starts; it expires "
						 "if not delivered within %d seconds from now.\n",
						 "palaverd delivers them when it next starts; they "
						 "expire if not delivered within %d seconds from now.\n",
						 count),
					ttl);
		}
		break;
	}
	case PAL_DL_PURGE: {
		guint count = 0;

		if (!pal_dl_purge(&dl, &count, &error))
			break;
		if (json)
			pal_dl_print_count("purged", count);
		else
			g_print(ngettext("%u dead letter deleted.\n", "%u dead letters deleted.\n", count),
				count);
		break;
	}
	default:
		g_assert_not_reached();
	}
	if (error != NULL) {
		g_printerr("palaver-tool dead-letters: %s\n", error->message);
		status = PAL_DL_EXIT_FAILURE;
	}
	/* completes and commits everything before the exit */
	pal_store_close(store);
	if (fflush(stdout) != 0) {
		g_printerr(_("palaver-tool dead-letters: cannot write the output\n"));
		status = PAL_DL_EXIT_FAILURE;
	}
	return status;
}
