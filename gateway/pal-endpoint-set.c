/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "pal-endpoint-set.h"
#include "pal-json-util.h"

/* all endpoints, by name and by URL token.
 *
 * The token table is keyed by the SHA-256 of the token, not the token: a hash table compares
 * keys with strcmp(), whose time depends on how many leading bytes match, and would let an
 * attacker who measures response times guess a token byte by byte. Digests of guesses share
 * no useful prefix with the digest of the real token, and the final comparison of the full
 * token is constant-time (pal_secure_equal()). */

struct _PalEndpointSet {
	GObject parent_instance;
	GHashTable *by_name;  /* name → PalEndpoint (ref) */
	GHashTable *by_token; /* SHA-256 hex of the URL token → PalEndpoint (ref) */
};

G_DEFINE_FINAL_TYPE(PalEndpointSet, pal_endpoint_set, G_TYPE_OBJECT)

static void
pal_endpoint_set_finalize(GObject *object)
{
	PalEndpointSet *self = PAL_ENDPOINT_SET(object);

	g_hash_table_unref(self->by_name);
	g_hash_table_unref(self->by_token);
	G_OBJECT_CLASS(pal_endpoint_set_parent_class)->finalize(object);
}

static void
pal_endpoint_set_class_init(PalEndpointSetClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = pal_endpoint_set_finalize;
}

static void
pal_endpoint_set_init(PalEndpointSet *self)
{
	self->by_name = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_object_unref);
	self->by_token = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_object_unref);
}

PalEndpointSet *
pal_endpoint_set_new(void)
{
	return g_object_new(PAL_TYPE_ENDPOINT_SET, NULL);
}

static gchar *
pal_endpoint_set_token_key(const gchar *url_token)
{
	return g_compute_checksum_for_string(G_CHECKSUM_SHA256, url_token, -1);
}

/**
 * pal_endpoint_set_add:
 * @endpoint: an endpoint; the set takes a reference
 *
 * Returns: %TRUE when added, else %FALSE with %PAL_ERROR_EXISTS naming both origins (never
 * the token itself)
 */
gboolean
pal_endpoint_set_add(PalEndpointSet *self, PalEndpoint *endpoint, GError **error)
{
	const gchar *name;
	PalEndpoint *other;
	g_autofree gchar *token_key = NULL;

	g_return_val_if_fail(PAL_IS_ENDPOINT_SET(self), FALSE);
	g_return_val_if_fail(PAL_IS_ENDPOINT(endpoint), FALSE);

	name = pal_endpoint_get_name(endpoint);
	other = g_hash_table_lookup(self->by_name, name);
	if (other != NULL) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_EXISTS,
			    "%s: name: the endpoint name \"%s\" is already used by %s",
			    pal_endpoint_get_origin(endpoint),
			    name,
			    pal_endpoint_get_origin(other));
		return FALSE;
	}
	token_key = pal_endpoint_set_token_key(pal_endpoint_get_url_token(endpoint));
	other = g_hash_table_lookup(self->by_token, token_key);
	if (other != NULL) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_EXISTS,
			    "%s: URLToken: the URL token of endpoint \"%s\" is already used by "
			    "endpoint \"%s\" (%s); every endpoint needs its own token",
			    pal_endpoint_get_origin(endpoint),
			    name,
			    pal_endpoint_get_name(other),
			    pal_endpoint_get_origin(other));
		return FALSE;
	}
	g_hash_table_insert(self->by_name, g_strdup(name), g_object_ref(endpoint));
	g_hash_table_insert(self->by_token, g_steal_pointer(&token_key), g_object_ref(endpoint));
	return TRUE;
}

static gint
pal_endpoint_set_compare_strings(gconstpointer a, gconstpointer b)
{
	return g_strcmp0(*(const gchar *const *)a, *(const gchar *const *)b);
}

/**
 * pal_endpoint_set_load_directory:
 * @dir: a folder of endpoint files
 * @data_dir: (nullable): the shared data folder for the endpoints
 * @errors: (element-type GError) (nullable): receives one error per file that could not be
 *   loaded or added; give it g_error_free() as free function
 *
 * Loads every `*.json` file of @dir in the byte order of their names. Hidden files (".…",
 * such as editors' lock files) are skipped. One broken file never stops the others.
 *
 * Returns: %FALSE only when @dir cannot be read
 */
gboolean
pal_endpoint_set_load_directory(PalEndpointSet *self,
				const gchar *dir,
				const gchar *data_dir,
				GPtrArray *errors,
				GError **error)
{
	const gchar *entry;
	g_autoptr(GDir) gdir = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);

	g_return_val_if_fail(PAL_IS_ENDPOINT_SET(self), FALSE);
	g_return_val_if_fail(dir != NULL, FALSE);

	gdir = g_dir_open(dir, 0, &error_local);
	if (gdir == NULL) {
		g_set_error(error,
			    PAL_ERROR,
			    g_error_matches(error_local, G_FILE_ERROR, G_FILE_ERROR_NOENT)
				? PAL_ERROR_NOT_FOUND
				: PAL_ERROR_FAILED,
			    "cannot read the endpoints folder: %s",
			    error_local->message);
		return FALSE;
	}
	while ((entry = g_dir_read_name(gdir)) != NULL) {
		if (entry[0] == '.' || !g_str_has_suffix(entry, ".json"))
			continue;
		g_ptr_array_add(names, g_strdup(entry));
	}
	g_ptr_array_sort(names, pal_endpoint_set_compare_strings);

	for (guint i = 0; i < names->len; i++) {
		g_autofree gchar *path = g_build_filename(dir, g_ptr_array_index(names, i), NULL);
		g_autoptr(PalEndpoint) endpoint = NULL;
		g_autoptr(GError) error_file = NULL;

		endpoint = pal_endpoint_new_from_file(path, data_dir, &error_file);
		if (endpoint == NULL || !pal_endpoint_set_add(self, endpoint, &error_file)) {
			if (errors != NULL)
				g_ptr_array_add(errors, g_steal_pointer(&error_file));
			continue;
		}
	}
	return TRUE;
}

/**
 * pal_endpoint_set_lookup_token:
 * @url_token: (nullable): a token from a request
 *
 * Returns: (transfer none) (nullable): the endpoint with that token, active or not
 */
PalEndpoint *
pal_endpoint_set_lookup_token(PalEndpointSet *self, const gchar *url_token)
{
	PalEndpoint *endpoint;
	g_autofree gchar *token_key = NULL;

	g_return_val_if_fail(PAL_IS_ENDPOINT_SET(self), NULL);

	if (url_token == NULL || url_token[0] == '\0')
		return NULL;
	token_key = pal_endpoint_set_token_key(url_token);
	endpoint = g_hash_table_lookup(self->by_token, token_key);
	if (endpoint == NULL)
		return NULL;
	/* a SHA-256 collision is not a realistic concern, but the answer must be exact */
	if (!pal_secure_equal(pal_endpoint_get_url_token(endpoint), url_token))
		return NULL;
	return endpoint;
}

/* (transfer none) (nullable) */
PalEndpoint *
pal_endpoint_set_lookup_name(PalEndpointSet *self, const gchar *name)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT_SET(self), NULL);

	if (name == NULL)
		return NULL;
	return g_hash_table_lookup(self->by_name, name);
}

static gint
pal_endpoint_set_compare_names(gconstpointer a, gconstpointer b)
{
	PalEndpoint *ea = *(PalEndpoint *const *)a;
	PalEndpoint *eb = *(PalEndpoint *const *)b;
	return g_strcmp0(pal_endpoint_get_name(ea), pal_endpoint_get_name(eb));
}

/**
 * pal_endpoint_set_get_all:
 *
 * Returns: (transfer container) (element-type PalEndpoint): a new array holding a reference
 * to each endpoint, sorted by name; free it with g_ptr_array_unref()
 */
GPtrArray *
pal_endpoint_set_get_all(PalEndpointSet *self)
{
	GHashTableIter iter;
	gpointer value;
	GPtrArray *all;

	g_return_val_if_fail(PAL_IS_ENDPOINT_SET(self), NULL);

	all = g_ptr_array_new_full(g_hash_table_size(self->by_name), g_object_unref);
	g_hash_table_iter_init(&iter, self->by_name);
	while (g_hash_table_iter_next(&iter, NULL, &value))
		g_ptr_array_add(all, g_object_ref(value));
	g_ptr_array_sort(all, pal_endpoint_set_compare_names);
	return all;
}

/**
 * pal_endpoint_set_remove:
 * @name: an endpoint name
 *
 * Returns: %TRUE when an endpoint of that name was removed
 */
gboolean
pal_endpoint_set_remove(PalEndpointSet *self, const gchar *name)
{
	PalEndpoint *endpoint;
	g_autofree gchar *token_key = NULL;

	g_return_val_if_fail(PAL_IS_ENDPOINT_SET(self), FALSE);
	g_return_val_if_fail(name != NULL, FALSE);

	endpoint = g_hash_table_lookup(self->by_name, name);
	if (endpoint == NULL)
		return FALSE;
	token_key = pal_endpoint_set_token_key(pal_endpoint_get_url_token(endpoint));
	g_hash_table_remove(self->by_token, token_key);
	g_hash_table_remove(self->by_name, name);
	return TRUE;
}
