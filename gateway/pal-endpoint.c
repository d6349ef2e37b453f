/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

#include "pal-endpoint.h"
#include "pal-json-util.h"
#include "pal-util.h"

/* one endpoint, from its JSON object (DESIGN.md §4).
 *
 * Every error reads "<origin>: <JSON path>: expected <what>, got <what was found>"; values of
 * secrets (URLToken, password, signing secrets, keys) are never echoed, only their type and
 * length. Unknown keys are ignored (objects exported from the hosted product carry many) and
 * listed once per endpoint with g_debug(). */

#define PAL_ENDPOINT_MAX_FILE_SIZE   (1024 * 1024)
#define PAL_ENDPOINT_MAX_DEPTH	     64
#define PAL_ENDPOINT_MAX_SECRET_FILE (64 * 1024)
#define PAL_ENDPOINT_MAX_HEADERS     64
#define PAL_ENDPOINT_MAX_HEADER_LEN  8192
#define PAL_ENDPOINT_MAX_LIST	     64
#define PAL_ENDPOINT_MAX_URL_LEN     8192

struct _PalEndpoint {
	GObject parent_instance;
	gchar *origin;
	gchar *base_dir;
	JsonNode *json; /* sealed deep copy of the input, for pal_endpoint_to_json_redacted() */
	PalEndpointInfo *info;

	gchar *name;
	gchar *url_token;
	gboolean active;
	gchar *locale;

	gchar *flow_type;
	JsonObject *flow_options;
	gchar *nlu_type;
	JsonObject *nlu_options;
	JsonArray *transformers;
	gchar *handover_type;
	JsonObject *handover_options;

	gchar *webhook_url;
	gchar *webhook_user;
	gchar *webhook_password;
	GPtrArray *webhook_headers;
	GStrv signing_secrets;
	guint webhook_timeout_ms;
	guint webhook_ttl_seconds;
	gboolean end_of_turn_event;
	guint retry_initial_ms;
	guint retry_max_ms;
	gboolean drop_on_give_up;

	GStrv webhook_keys;
	GStrv api_keys;

	gboolean mask_ip_address;
	gboolean mask_logging;
	gboolean mask_analytics;
	gboolean use_conversations;
	gboolean use_contact_profiles;
	gboolean use_analytics;

	guint state_ttl_days;
	guint inactivity_minutes;
};

G_DEFINE_FINAL_TYPE(PalEndpoint, pal_endpoint, G_TYPE_OBJECT)

static void
pal_endpoint_wipe_string(gchar *str)
{
	if (str != NULL)
		memset(str, 0, strlen(str));
}

static void
pal_endpoint_wipe_strv(GStrv strv)
{
	for (guint i = 0; strv != NULL && strv[i] != NULL; i++)
		pal_endpoint_wipe_string(strv[i]);
}

static void
pal_endpoint_finalize(GObject *object)
{
	PalEndpoint *self = PAL_ENDPOINT(object);

	/* secrets do not outlive the endpoint in freed memory */
	pal_endpoint_wipe_string(self->url_token);
	pal_endpoint_wipe_string(self->webhook_password);
	pal_endpoint_wipe_strv(self->signing_secrets);
	pal_endpoint_wipe_strv(self->webhook_keys);
	pal_endpoint_wipe_strv(self->api_keys);

	g_free(self->origin);
	g_free(self->base_dir);
	g_clear_pointer(&self->json, json_node_unref);
	g_clear_object(&self->info);
	g_free(self->name);
	g_free(self->url_token);
	g_free(self->locale);
	g_free(self->flow_type);
	g_clear_pointer(&self->flow_options, json_object_unref);
	g_free(self->nlu_type);
	g_clear_pointer(&self->nlu_options, json_object_unref);
	g_clear_pointer(&self->transformers, json_array_unref);
	g_free(self->handover_type);
	g_clear_pointer(&self->handover_options, json_object_unref);
	g_free(self->webhook_url);
	g_free(self->webhook_user);
	g_free(self->webhook_password);
	g_clear_pointer(&self->webhook_headers, g_ptr_array_unref);
	g_strfreev(self->signing_secrets);
	g_strfreev(self->webhook_keys);
	g_strfreev(self->api_keys);
	G_OBJECT_CLASS(pal_endpoint_parent_class)->finalize(object);
}

static void
pal_endpoint_class_init(PalEndpointClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = pal_endpoint_finalize;
}

static void
pal_endpoint_init(PalEndpoint *self)
{
	/* defaults of DESIGN.md §4 */
	self->active = TRUE;
	self->locale = g_strdup("en");
	self->transformers = json_array_new();
	self->webhook_headers = g_ptr_array_new_with_free_func(g_free);
	self->signing_secrets = g_new0(gchar *, 1);
	self->webhook_keys = g_new0(gchar *, 1);
	self->api_keys = g_new0(gchar *, 1);
	self->webhook_timeout_ms = 10000;
	self->webhook_ttl_seconds = 600;
	self->retry_initial_ms = 500;
	self->retry_max_ms = 60000;
	self->use_conversations = TRUE;
	self->use_contact_profiles = TRUE;
	self->use_analytics = TRUE;
	self->state_ttl_days = 7;
	self->inactivity_minutes = 0;
}

/* parsing */

typedef struct {
	const gchar *origin;
	const gchar *base_dir;
	GPtrArray *unknown; /* JSON paths of unknown keys */
} PalEndpointParser;

G_GNUC_PRINTF(4, 5)
static void
pal_endpoint_set_error(PalEndpointParser *p,
		       GError **error,
		       const gchar *path,
		       const gchar *format,
		       ...)
{
	va_list args;
	g_autofree gchar *msg = NULL;

	va_start(args, format);
	msg = g_strdup_vprintf(format, args);
	va_end(args);
	g_set_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA, "%s: %s: %s", p->origin, path, msg);
}

/* "got …" without the value, for secrets */
static gchar *
pal_endpoint_describe_secret(JsonNode *node)
{
	if (node == NULL || JSON_NODE_HOLDS_NULL(node))
		return g_strdup("null");
	if (JSON_NODE_HOLDS_OBJECT(node))
		return g_strdup("an object");
	if (JSON_NODE_HOLDS_ARRAY(node))
		return g_strdup("an array");
	if (json_node_get_value_type(node) == G_TYPE_STRING) {
		glong len = g_utf8_strlen(json_node_get_string(node), -1);
		return g_strdup_printf("a string of %ld character%s", len, len == 1 ? "" : "s");
	}
	if (json_node_get_value_type(node) == G_TYPE_BOOLEAN)
		return g_strdup("a boolean");
	return g_strdup("a number");
}

static void
pal_endpoint_check_known_keys(PalEndpointParser *p,
			      JsonObject *obj,
			      const gchar *parent,
			      const gchar *const *known)
{
	g_autoptr(GList) members = json_object_get_members(obj);

	for (GList *l = members; l != NULL; l = l->next) {
		if (!g_strv_contains(known, l->data))
			g_ptr_array_add(p->unknown, pal_json_path_member(parent, l->data));
	}
}

/* the member, or NULL when it is absent or JSON null (= the default) */
static JsonNode *
pal_endpoint_get_optional(JsonObject *obj, const gchar *key)
{
	JsonNode *node = json_object_get_member(obj, key);
	if (node == NULL || JSON_NODE_HOLDS_NULL(node))
		return NULL;
	return node;
}

static gboolean
pal_endpoint_node_is_string(JsonNode *node)
{
	return node != NULL && JSON_NODE_HOLDS_VALUE(node) &&
	       json_node_get_value_type(node) == G_TYPE_STRING;
}

/* a string member: required ones must be present, optional absent/null ones give NULL */
static gboolean
pal_endpoint_read_string(PalEndpointParser *p,
			 JsonObject *obj,
			 const gchar *parent,
			 const gchar *key,
			 gboolean required,
			 gboolean secret,
			 const gchar *expected,
			 const gchar **value,
			 GError **error)
{
	JsonNode *node = json_object_get_member(obj, key);
	g_autofree gchar *path = pal_json_path_member(parent, key);

	*value = NULL;
	if (node == NULL) {
		if (!required)
			return TRUE;
		pal_endpoint_set_error(p, error, path, "expected %s, but it is missing", expected);
		return FALSE;
	}
	if (JSON_NODE_HOLDS_NULL(node) && !required)
		return TRUE;
	if (!pal_endpoint_node_is_string(node)) {
		g_autofree gchar *got = secret ? pal_endpoint_describe_secret(node)
					       : pal_json_describe_node(node);
		pal_endpoint_set_error(p, error, path, "expected %s, got %s", expected, got);
		return FALSE;
	}
	*value = json_node_get_string(node);
	return TRUE;
}

static gboolean
pal_endpoint_read_bool(PalEndpointParser *p,
		       JsonObject *obj,
		       const gchar *parent,
		       const gchar *key,
		       gboolean *value,
		       GError **error)
{
	JsonNode *node = pal_endpoint_get_optional(obj, key);

	if (node == NULL)
		return TRUE;
	if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_BOOLEAN) {
		g_autofree gchar *path = pal_json_path_member(parent, key);
		g_autofree gchar *got = pal_json_describe_node(node);
		pal_endpoint_set_error(p, error, path, "expected true or false, got %s", got);
		return FALSE;
	}
	*value = json_node_get_boolean(node);
	return TRUE;
}

/* an integer in [min, max]; a number with a zero fraction (3000.0) counts as an integer */
static gboolean
pal_endpoint_read_uint(PalEndpointParser *p,
		       JsonObject *obj,
		       const gchar *parent,
		       const gchar *key,
		       guint min,
		       guint max,
		       guint *value,
		       GError **error)
{
	JsonNode *node = pal_endpoint_get_optional(obj, key);
	g_autofree gchar *path = NULL;

	if (node == NULL)
		return TRUE;
	path = pal_json_path_member(parent, key);
	if (!pal_json_node_get_uint(node, path, min, max, value, error)) {
		/* as pal_endpoint_set_error() says it: "origin: path: message" */
		g_prefix_error(error, "%s: ", p->origin);
		return FALSE;
	}
	return TRUE;
}

/* an optional object member; NULL when absent or null */
static gboolean
pal_endpoint_read_object(PalEndpointParser *p,
			 JsonObject *obj,
			 const gchar *parent,
			 const gchar *key,
			 JsonObject **value,
			 GError **error)
{
	JsonNode *node = pal_endpoint_get_optional(obj, key);

	*value = NULL;
	if (node == NULL)
		return TRUE;
	if (!JSON_NODE_HOLDS_OBJECT(node)) {
		g_autofree gchar *path = pal_json_path_member(parent, key);
		g_autofree gchar *got = pal_json_describe_node(node);
		pal_endpoint_set_error(p, error, path, "expected an object, got %s", got);
		return FALSE;
	}
	*value = json_node_get_object(node);
	return TRUE;
}

static gboolean
pal_endpoint_has_only(const gchar *str, const gchar *extra)
{
	for (const gchar *c = str; *c != '\0'; c++) {
		if (!g_ascii_isalnum(*c) && strchr(extra, *c) == NULL)
			return FALSE;
	}
	return TRUE;
}

static gboolean
pal_endpoint_has_control_chars(const gchar *str)
{
	for (const guchar *c = (const guchar *)str; *c != '\0'; c++) {
		if ((*c < 0x20 && *c != '\t') || *c == 0x7f)
			return TRUE;
	}
	return FALSE;
}

#define PAL_ENDPOINT_EXPECT_PLUGIN_NAME "a plugin name of 1 to 64 characters from A-Z a-z 0-9 . _ -"

/* {type, …} selecting a plugin: the type, and a sealed copy of the other members */
static gboolean
pal_endpoint_read_plugin(PalEndpointParser *p,
			 JsonNode *node,
			 const gchar *path,
			 gchar **type,
			 JsonObject **options,
			 GError **error)
{
	JsonObject *obj;
	JsonNode *type_node;
	const gchar *type_str;
	g_autofree gchar *type_path = pal_json_path_member(path, "type");
	g_autoptr(JsonObject) opts = json_object_new();
	g_autoptr(GList) members = NULL;

	if (!JSON_NODE_HOLDS_OBJECT(node)) {
		g_autofree gchar *got = pal_json_describe_node(node);
		pal_endpoint_set_error(p,
				       error,
				       path,
				       "expected an object with a string \"type\", got %s",
				       got);
		return FALSE;
	}
	obj = json_node_get_object(node);
	type_node = json_object_get_member(obj, "type");
	if (type_node == NULL) {
		pal_endpoint_set_error(p,
				       error,
				       type_path,
				       "expected " PAL_ENDPOINT_EXPECT_PLUGIN_NAME
				       ", but it is missing");
		return FALSE;
	}
	type_str = pal_endpoint_node_is_string(type_node) ? json_node_get_string(type_node) : NULL;
	if (type_str == NULL || type_str[0] == '\0' || strlen(type_str) > 64 ||
	    !pal_endpoint_has_only(type_str, "._-")) {
		g_autofree gchar *got = pal_json_describe_node(type_node);
		pal_endpoint_set_error(p,
				       error,
				       type_path,
				       "expected " PAL_ENDPOINT_EXPECT_PLUGIN_NAME ", got %s",
				       got);
		return FALSE;
	}
	members = json_object_get_members(obj);
	for (GList *l = members; l != NULL; l = l->next) {
		const gchar *key = l->data;
		if (g_strcmp0(key, "type") == 0)
			continue;
		json_object_set_member(opts,
				       key,
				       pal_json_node_deep_copy(json_object_get_member(obj, key)));
	}
	json_object_seal(opts);
	*type = g_strdup(type_str);
	*options = g_steal_pointer(&opts);
	return TRUE;
}

static gboolean
pal_endpoint_parse_plugins(PalEndpoint *self,
			   PalEndpointParser *p,
			   JsonObject *root,
			   GError **error)
{
	JsonNode *node;
	g_autoptr(JsonArray) transformers = NULL;

	/* flow: required */
	node = json_object_get_member(root, "flow");
	if (node == NULL) {
		pal_endpoint_set_error(
		    p,
		    error,
		    "flow",
		    "expected an object with a string \"type\", but it is missing");
		return FALSE;
	}
	if (!pal_endpoint_read_plugin(p,
				      node,
				      "flow",
				      &self->flow_type,
				      &self->flow_options,
				      error))
		return FALSE;

	/* nlu, handover: optional */
	node = pal_endpoint_get_optional(root, "nlu");
	if (node != NULL &&
	    !pal_endpoint_read_plugin(p, node, "nlu", &self->nlu_type, &self->nlu_options, error))
		return FALSE;
	node = pal_endpoint_get_optional(root, "handover");
	if (node != NULL && !pal_endpoint_read_plugin(p,
						      node,
						      "handover",
						      &self->handover_type,
						      &self->handover_options,
						      error))
		return FALSE;

	/* transformers: an array of {type, …}, run in order */
	node = pal_endpoint_get_optional(root, "transformers");
	if (node == NULL)
		return TRUE;
	if (!JSON_NODE_HOLDS_ARRAY(node)) {
		g_autofree gchar *got = pal_json_describe_node(node);
		pal_endpoint_set_error(
		    p,
		    error,
		    "transformers",
		    "expected an array of objects with a string \"type\", got %s",
		    got);
		return FALSE;
	}
	if (json_array_get_length(json_node_get_array(node)) > PAL_ENDPOINT_MAX_LIST) {
		pal_endpoint_set_error(p,
				       error,
				       "transformers",
				       "expected at most %u transformers, got %u",
				       (guint)PAL_ENDPOINT_MAX_LIST,
				       json_array_get_length(json_node_get_array(node)));
		return FALSE;
	}
	transformers = json_array_new();
	for (guint i = 0; i < json_array_get_length(json_node_get_array(node)); i++) {
		JsonNode *element = json_array_get_element(json_node_get_array(node), i);
		g_autofree gchar *path = pal_json_path_index("transformers", i);
		g_autofree gchar *type = NULL;
		g_autoptr(JsonObject) options = NULL;

		if (!pal_endpoint_read_plugin(p, element, path, &type, &options, error))
			return FALSE;
		json_array_add_element(transformers, pal_json_node_deep_copy(element));
	}
	json_array_seal(transformers);
	json_array_unref(self->transformers);
	self->transformers = g_steal_pointer(&transformers);
	return TRUE;
}

/* reads a secret from a file: a path relative to the endpoint file's folder, an absolute
 * path, or "credential:NAME" for $CREDENTIALS_DIRECTORY/NAME (systemd LoadCredential=) */
static gboolean
pal_endpoint_read_secret_file(PalEndpointParser *p,
			      const gchar *path,
			      const gchar *value,
			      gchar **contents,
			      GError **error)
{
	GStatBuf st;
	gsize len = 0;
	g_autofree gchar *filename = NULL;
	g_autofree gchar *data = NULL;
	g_autoptr(GError) error_local = NULL;

	if (g_str_has_prefix(value, "credential:")) {
		const gchar *name = value + strlen("credential:");
		const gchar *dir = g_getenv("CREDENTIALS_DIRECTORY");
		if (name[0] == '\0' || strchr(name, '/') != NULL || g_strcmp0(name, ".") == 0 ||
		    g_strcmp0(name, "..") == 0) {
			g_autofree gchar *got = pal_quote_for_message(value, 80);
			pal_endpoint_set_error(p,
					       error,
					       path,
					       "expected \"credential:\" followed by a credential "
					       "name without '/', got %s",
					       got);
			return FALSE;
		}
		if (dir == NULL || dir[0] == '\0') {
			pal_endpoint_set_error(p,
					       error,
					       path,
					       "expected $CREDENTIALS_DIRECTORY to be set for "
					       "\"credential:%s\" (systemd LoadCredential=), but "
					       "it is not",
					       name);
			return FALSE;
		}
		filename = g_build_filename(dir, name, NULL);
	} else if (g_path_is_absolute(value)) {
		filename = g_strdup(value);
	} else if (p->base_dir != NULL) {
		filename = g_build_filename(p->base_dir, value, NULL);
	} else {
		g_autofree gchar *got = pal_quote_for_message(value, 80);
		pal_endpoint_set_error(p,
				       error,
				       path,
				       "expected an absolute path or \"credential:NAME\" (this "
				       "endpoint has no file to resolve relative paths), got %s",
				       got);
		return FALSE;
	}

	if (g_stat(filename, &st) != 0) {
		int saved_errno = errno;
		pal_endpoint_set_error(p,
				       error,
				       path,
				       "expected a readable file, got %s: %s",
				       filename,
				       g_strerror(saved_errno));
		return FALSE;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > PAL_ENDPOINT_MAX_SECRET_FILE) {
		pal_endpoint_set_error(p,
				       error,
				       path,
				       "expected a regular file of at most %u bytes, got %s",
				       (guint)PAL_ENDPOINT_MAX_SECRET_FILE,
				       filename);
		return FALSE;
	}
	if (!g_file_get_contents(filename, &data, &len, &error_local)) {
		pal_endpoint_set_error(p,
				       error,
				       path,
				       "expected a readable file, got %s",
				       error_local->message);
		return FALSE;
	}
	if (!g_utf8_validate_len(data, len, NULL)) {
		pal_endpoint_wipe_string(data);
		pal_endpoint_set_error(p,
				       error,
				       path,
				       "expected a UTF-8 text file, got %s with other bytes",
				       filename);
		return FALSE;
	}
	g_strstrip(data);
	if (data[0] == '\0') {
		pal_endpoint_set_error(p,
				       error,
				       path,
				       "expected a file with a secret, got an empty file %s",
				       filename);
		return FALSE;
	}
	*contents = g_steal_pointer(&data);
	return TRUE;
}

#define PAL_ENDPOINT_EXPECT_SECRET                                                                 \
	"\"whsec_\" followed by the standard base64 of a 24 to 64 byte key"

/* a Standard Webhooks secret: "whsec_" + base64 of the key; returns it with padding added, so
 * that every decoder reads the same key; @why says what is wrong without showing the secret */
static gchar *
pal_endpoint_normalize_signing_secret(const gchar *secret, gchar **why)
{
	const gchar *b64;
	gsize len;
	gsize pad = 0;
	gsize decoded_len;
	gsize out_len = 0;
	g_autofree guchar *decoded = NULL;
	g_autoptr(GString) normalized = NULL;

	if (!g_str_has_prefix(secret, "whsec_")) {
		glong n = g_utf8_strlen(secret, -1);
		*why = g_strdup_printf("a string of %ld character%s that does not start with "
				       "\"whsec_\"",
				       n,
				       n == 1 ? "" : "s");
		return NULL;
	}
	b64 = secret + strlen("whsec_");
	len = strlen(b64);
	while (len > 0 && b64[len - 1] == '=') {
		len--;
		pad++;
	}
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isalnum(b64[i]) && b64[i] != '+' && b64[i] != '/') {
			*why = g_strdup_printf("a secret with a character outside the base64 "
					       "alphabet at position %" G_GSIZE_FORMAT,
					       strlen("whsec_") + i + 1);
			return NULL;
		}
	}
	if (len % 4 == 1 || pad > 2 || (pad > 0 && (len + pad) % 4 != 0)) {
		*why = g_strdup("a secret whose base64 has a wrong length or padding");
		return NULL;
	}
	normalized = g_string_new(secret);
	g_string_truncate(normalized, strlen("whsec_") + len);
	for (gsize i = len; i % 4 != 0; i++)
		g_string_append_c(normalized, '=');
	decoded_len = len / 4 * 3 + (len % 4 == 0 ? 0 : len % 4 - 1);
	decoded = g_base64_decode(normalized->str + strlen("whsec_"), &out_len);
	if (decoded != NULL)
		memset(decoded, 0, out_len);
	if (out_len != decoded_len) {
		*why = g_strdup("a secret whose base64 does not decode");
		memset(normalized->str, 0, normalized->len);
		return NULL;
	}
	if (decoded_len < 24 || decoded_len > 64) {
		*why = g_strdup_printf("a secret that decodes to %" G_GSIZE_FORMAT " bytes",
				       decoded_len);
		memset(normalized->str, 0, normalized->len);
		return NULL;
	}
	return g_string_free(g_steal_pointer(&normalized), FALSE);
}

static gboolean
pal_endpoint_add_signing_secret(PalEndpointParser *p,
				GPtrArray *secrets,
				const gchar *path,
				const gchar *secret,
				GError **error)
{
	g_autofree gchar *why = NULL;
	gchar *normalized = pal_endpoint_normalize_signing_secret(secret, &why);

	if (normalized == NULL) {
		pal_endpoint_set_error(p,
				       error,
				       path,
				       "expected " PAL_ENDPOINT_EXPECT_SECRET ", got %s",
				       why);
		return FALSE;
	}
	if (secrets->len >= PAL_ENDPOINT_MAX_LIST) {
		pal_endpoint_wipe_string(normalized);
		g_free(normalized);
		pal_endpoint_set_error(p,
				       error,
				       path,
				       "expected at most %u secrets, got more",
				       (guint)PAL_ENDPOINT_MAX_LIST);
		return FALSE;
	}
	g_ptr_array_add(secrets, normalized);
	return TRUE;
}

static void
pal_endpoint_free_secret(gpointer data)
{
	pal_endpoint_wipe_string(data);
	g_free(data);
}

/* webhook.signingSecret (a string or an array of strings, for rotation) or
 * webhook.signingSecretFile (one or more secrets separated by white space) */
static gboolean
pal_endpoint_parse_signing_secrets(PalEndpoint *self,
				   PalEndpointParser *p,
				   JsonObject *webhook,
				   GError **error)
{
	JsonNode *node = pal_endpoint_get_optional(webhook, "signingSecret");
	const gchar *file = NULL;
	g_autoptr(GPtrArray) secrets = g_ptr_array_new_with_free_func(pal_endpoint_free_secret);

	if (!pal_endpoint_read_string(p,
				      webhook,
				      "webhook",
				      "signingSecretFile",
				      FALSE,
				      FALSE,
				      "a file name, or \"credential:NAME\"",
				      &file,
				      error))
		return FALSE;
	if (file != NULL && file[0] == '\0')
		file = NULL;
	/* "" is how exported objects say "no secret" */
	if (pal_endpoint_node_is_string(node) && json_node_get_string(node)[0] == '\0')
		node = NULL;
	if (node != NULL && file != NULL) {
		pal_endpoint_set_error(p,
				       error,
				       "webhook.signingSecretFile",
				       "expected either webhook.signingSecret or "
				       "webhook.signingSecretFile, got both");
		return FALSE;
	}

	if (file != NULL) {
		g_autofree gchar *contents = NULL;
		g_auto(GStrv) parts = NULL;
		guint n = 0;

		if (!pal_endpoint_read_secret_file(p,
						   "webhook.signingSecretFile",
						   file,
						   &contents,
						   error))
			return FALSE;
		parts = g_strsplit_set(contents, " \t\r\n", -1);
		pal_endpoint_wipe_string(contents);
		for (guint i = 0; parts[i] != NULL; i++) {
			g_autofree gchar *path = NULL;
			if (parts[i][0] == '\0')
				continue;
			path = g_strdup_printf("webhook.signingSecretFile (secret %u in the file)",
					       ++n);
			if (!pal_endpoint_add_signing_secret(p, secrets, path, parts[i], error)) {
				pal_endpoint_wipe_strv(parts);
				return FALSE;
			}
		}
		pal_endpoint_wipe_strv(parts);
	} else if (pal_endpoint_node_is_string(node)) {
		if (!pal_endpoint_add_signing_secret(p,
						     secrets,
						     "webhook.signingSecret",
						     json_node_get_string(node),
						     error))
			return FALSE;
	} else if (node != NULL && JSON_NODE_HOLDS_ARRAY(node)) {
		JsonArray *array = json_node_get_array(node);
		for (guint i = 0; i < json_array_get_length(array); i++) {
			JsonNode *element = json_array_get_element(array, i);
			g_autofree gchar *path = pal_json_path_index("webhook.signingSecret", i);
			if (!pal_endpoint_node_is_string(element)) {
				g_autofree gchar *got = pal_endpoint_describe_secret(element);
				pal_endpoint_set_error(p,
						       error,
						       path,
						       "expected " PAL_ENDPOINT_EXPECT_SECRET
						       ", got %s",
						       got);
				return FALSE;
			}
			if (!pal_endpoint_add_signing_secret(p,
							     secrets,
							     path,
							     json_node_get_string(element),
							     error))
				return FALSE;
		}
	} else if (node != NULL) {
		g_autofree gchar *got = pal_endpoint_describe_secret(node);
		pal_endpoint_set_error(p,
				       error,
				       "webhook.signingSecret",
				       "expected " PAL_ENDPOINT_EXPECT_SECRET
				       ", or an array of them, got %s",
				       got);
		return FALSE;
	}

	g_strfreev(self->signing_secrets);
	self->signing_secrets = g_new0(gchar *, secrets->len + 1);
	for (guint i = 0; i < secrets->len; i++)
		self->signing_secrets[i] = g_strdup(g_ptr_array_index(secrets, i));
	return TRUE;
}

/* RFC 9110 token characters */
static gboolean
pal_endpoint_is_http_token(const gchar *name)
{
	return name[0] != '\0' && pal_endpoint_has_only(name, "!#$%&'*+-.^_`|~");
}

/* headers the gateway sets itself or that frame the message: a static value would break
 * the delivery or confuse the receiver */
static gboolean
pal_endpoint_is_reserved_header(const gchar *name)
{
	const gchar *reserved[] = {"Host",
				   "Content-Length",
				   "Transfer-Encoding",
				   "Connection",
				   "Keep-Alive",
				   "Upgrade",
				   "TE",
				   "Trailer",
				   "Proxy-Connection",
				   "User-Agent",
				   "webhook-id",
				   "webhook-timestamp",
				   "webhook-signature",
				   NULL};

	if (g_ascii_strncasecmp(name, "Palaver-", strlen("Palaver-")) == 0)
		return TRUE;
	for (guint i = 0; reserved[i] != NULL; i++) {
		if (g_ascii_strcasecmp(name, reserved[i]) == 0)
			return TRUE;
	}
	return FALSE;
}

static gboolean
pal_endpoint_parse_headers(PalEndpoint *self,
			   PalEndpointParser *p,
			   JsonObject *webhook,
			   GError **error)
{
	JsonObject *headers = NULL;
	g_autoptr(GList) members = NULL;

	if (!pal_endpoint_read_object(p, webhook, "webhook", "headers", &headers, error))
		return FALSE;
	if (headers == NULL)
		return TRUE;
	if (json_object_get_size(headers) > PAL_ENDPOINT_MAX_HEADERS) {
		pal_endpoint_set_error(p,
				       error,
				       "webhook.headers",
				       "expected at most %u headers, got %u",
				       (guint)PAL_ENDPOINT_MAX_HEADERS,
				       json_object_get_size(headers));
		return FALSE;
	}
	members = json_object_get_members(headers);
	for (GList *l = members; l != NULL; l = l->next) {
		const gchar *name = l->data;
		JsonNode *node = json_object_get_member(headers, name);
		const gchar *value;
		g_autofree gchar *path = pal_json_path_member("webhook.headers", name);

		if (!pal_endpoint_is_http_token(name)) {
			g_autofree gchar *got = pal_quote_for_message(name, 60);
			pal_endpoint_set_error(p,
					       error,
					       path,
					       "expected a header name made of letters, digits and "
					       "!#$%%&'*+-.^_`|~, got %s",
					       got);
			return FALSE;
		}
		if (pal_endpoint_is_reserved_header(name) ||
		    (g_ascii_strcasecmp(name, "Authorization") == 0 && self->webhook_user != NULL &&
		     self->webhook_user[0] != '\0')) {
			pal_endpoint_set_error(p,
					       error,
					       path,
					       "expected a header the gateway does not set itself, "
					       "got \"%s\"",
					       name);
			return FALSE;
		}
		if (!pal_endpoint_node_is_string(node)) {
			g_autofree gchar *got = pal_json_describe_node(node);
			pal_endpoint_set_error(p, error, path, "expected a string, got %s", got);
			return FALSE;
		}
		value = json_node_get_string(node);
		if (pal_endpoint_has_control_chars(value) ||
		    strlen(value) > PAL_ENDPOINT_MAX_HEADER_LEN) {
			pal_endpoint_set_error(
			    p,
			    error,
			    path,
			    "expected a header value of at most %u bytes without "
			    "CR, LF or other control characters, got a string "
			    "of %" G_GSIZE_FORMAT " bytes that is not",
			    (guint)PAL_ENDPOINT_MAX_HEADER_LEN,
			    strlen(value));
			return FALSE;
		}
		g_ptr_array_add(self->webhook_headers, g_strdup(name));
		g_ptr_array_add(self->webhook_headers, g_strdup(value));
	}
	return TRUE;
}

/* an IP address (GUri strips the brackets of IPv6) or a DNS name, possibly international */
static gboolean
pal_endpoint_is_valid_host(const gchar *host)
{
	g_autofree gchar *ascii = NULL;

	if (g_hostname_is_ip_address(host))
		return TRUE;
	ascii = g_hostname_to_ascii(host);
	return ascii != NULL && ascii[0] != '\0' && pal_endpoint_has_only(ascii, ".-_");
}

#define PAL_ENDPOINT_EXPECT_URL "\"\" (no delivery) or an http:// or https:// URL with a host"

static gboolean
pal_endpoint_parse_webhook(PalEndpoint *self,
			   PalEndpointParser *p,
			   JsonObject *root,
			   GError **error)
{
	const gchar *known[] = {"url",
				"user",
				"password",
				"passwordFile",
				"headers",
				"signingSecret",
				"signingSecretFile",
				"timeoutMs",
				"ttlSeconds",
				"endOfTurnEvent",
				"retryInitialMs",
				"retryMaxMs",
				"onGiveUp",
				NULL};
	JsonNode *node = json_object_get_member(root, "webhook");
	JsonObject *webhook;
	const gchar *url = NULL;
	const gchar *user = NULL;
	const gchar *password = NULL;
	const gchar *password_file = NULL;

	if (node == NULL) {
		pal_endpoint_set_error(p,
				       error,
				       "webhook.url",
				       "expected " PAL_ENDPOINT_EXPECT_URL ", but it is missing");
		return FALSE;
	}
	if (!JSON_NODE_HOLDS_OBJECT(node)) {
		g_autofree gchar *got = pal_json_describe_node(node);
		pal_endpoint_set_error(p,
				       error,
				       "webhook",
				       "expected an object with a string \"url\", got %s",
				       got);
		return FALSE;
	}
	webhook = json_node_get_object(node);
	pal_endpoint_check_known_keys(p, webhook, "webhook", known);

	/* url: required; "" means outputs only reach output transformers */
	if (!pal_endpoint_read_string(p,
				      webhook,
				      "webhook",
				      "url",
				      TRUE,
				      FALSE,
				      PAL_ENDPOINT_EXPECT_URL,
				      &url,
				      error))
		return FALSE;
	if (url[0] != '\0') {
		g_autoptr(GUri) uri = NULL;
		const gchar *scheme = NULL;
		const gchar *host = NULL;

		if (strlen(url) <= PAL_ENDPOINT_MAX_URL_LEN)
			uri = g_uri_parse(url, G_URI_FLAGS_NONE, NULL);
		if (uri != NULL) {
			scheme = g_uri_get_scheme(uri);
			host = g_uri_get_host(uri);
		}
		/* GUri accepts spaces, even in the host; libsoup would not */
		if (uri == NULL || pal_endpoint_has_control_chars(url) ||
		    strchr(url, ' ') != NULL || strchr(url, '\t') != NULL ||
		    (g_strcmp0(scheme, "http") != 0 && g_strcmp0(scheme, "https") != 0) ||
		    host == NULL || host[0] == '\0' || !pal_endpoint_is_valid_host(host)) {
			g_autofree gchar *got = pal_quote_for_message(url, 80);
			pal_endpoint_set_error(p,
					       error,
					       "webhook.url",
					       "expected " PAL_ENDPOINT_EXPECT_URL ", got %s",
					       got);
			return FALSE;
		}
	}
	self->webhook_url = g_strdup(url);

	/* basic auth */
	if (!pal_endpoint_read_string(p,
				      webhook,
				      "webhook",
				      "user",
				      FALSE,
				      FALSE,
				      "a string",
				      &user,
				      error))
		return FALSE;
	if (user != NULL && pal_endpoint_has_control_chars(user)) {
		pal_endpoint_set_error(p,
				       error,
				       "webhook.user",
				       "expected a user name without control characters, got one "
				       "with them");
		return FALSE;
	}
	self->webhook_user = g_strdup(user);
	if (!pal_endpoint_read_string(p,
				      webhook,
				      "webhook",
				      "password",
				      FALSE,
				      TRUE,
				      "a string",
				      &password,
				      error))
		return FALSE;
	if (!pal_endpoint_read_string(p,
				      webhook,
				      "webhook",
				      "passwordFile",
				      FALSE,
				      FALSE,
				      "a file name, or \"credential:NAME\"",
				      &password_file,
				      error))
		return FALSE;
	if (password != NULL && password[0] == '\0')
		password = NULL;
	if (password_file != NULL && password_file[0] == '\0')
		password_file = NULL;
	if (password != NULL && password_file != NULL) {
		pal_endpoint_set_error(p,
				       error,
				       "webhook.passwordFile",
				       "expected either webhook.password or webhook.passwordFile, "
				       "got both");
		return FALSE;
	}
	if (password_file != NULL) {
		if (!pal_endpoint_read_secret_file(p,
						   "webhook.passwordFile",
						   password_file,
						   &self->webhook_password,
						   error))
			return FALSE;
	} else {
		self->webhook_password = g_strdup(password);
	}

	if (!pal_endpoint_parse_headers(self, p, webhook, error))
		return FALSE;
	if (!pal_endpoint_parse_signing_secrets(self, p, webhook, error))
		return FALSE;
	if (!pal_endpoint_read_uint(p,
				    webhook,
				    "webhook",
				    "timeoutMs",
				    100,
				    300000,
				    &self->webhook_timeout_ms,
				    error))
		return FALSE;
	if (!pal_endpoint_read_uint(p,
				    webhook,
				    "webhook",
				    "ttlSeconds",
				    1,
				    604800,
				    &self->webhook_ttl_seconds,
				    error))
		return FALSE;
	if (!pal_endpoint_read_bool(p,
				    webhook,
				    "webhook",
				    "endOfTurnEvent",
				    &self->end_of_turn_event,
				    error))
		return FALSE;
	/* the retry schedule: exponential backoff from retryInitialMs, doubling, capped at
	 * retryMaxMs, with full jitter */
	if (!pal_endpoint_read_uint(p,
				    webhook,
				    "webhook",
				    "retryInitialMs",
				    10,
				    600000,
				    &self->retry_initial_ms,
				    error))
		return FALSE;
	if (!pal_endpoint_read_uint(p,
				    webhook,
				    "webhook",
				    "retryMaxMs",
				    10,
				    3600000,
				    &self->retry_max_ms,
				    error))
		return FALSE;
	if (self->retry_max_ms < self->retry_initial_ms) {
		pal_endpoint_set_error(p,
				       error,
				       "webhook.retryMaxMs",
				       "expected at least webhook.retryInitialMs (%u), got %u",
				       self->retry_initial_ms,
				       self->retry_max_ms);
		return FALSE;
	}
	/* what a given-up output means for the rest of its session's queue */
	{
		const gchar *policy = NULL;

		if (!pal_endpoint_read_string(p,
					      webhook,
					      "webhook",
					      "onGiveUp",
					      FALSE,
					      FALSE,
					      "\"continue\" or \"drop\"",
					      &policy,
					      error))
			return FALSE;
		if (policy != NULL && g_strcmp0(policy, "continue") != 0 && g_strcmp0(policy, "drop") != 0) {
			g_autofree gchar *quoted = pal_quote_for_message(policy, 40);
			pal_endpoint_set_error(p,
					       error,
					       "webhook.onGiveUp",
					       "expected \"continue\" or \"drop\", got %s",
					       quoted);
			return FALSE;
		}
		self->drop_on_give_up = g_strcmp0(policy, "drop") == 0;
	}
	return TRUE;
}

/* an array of non-empty strings without control characters (they travel in headers) */
static gboolean
pal_endpoint_read_key_list(PalEndpointParser *p,
			   JsonObject *obj,
			   const gchar *parent,
			   const gchar *key,
			   GStrv *value,
			   GError **error)
{
	JsonNode *node = pal_endpoint_get_optional(obj, key);
	g_autofree gchar *path = pal_json_path_member(parent, key);
	g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func(pal_endpoint_free_secret);
	JsonArray *array;
	const gchar *expected = "an array of non-empty strings without control characters";

	if (node == NULL)
		return TRUE;
	if (!JSON_NODE_HOLDS_ARRAY(node)) {
		g_autofree gchar *got = pal_endpoint_describe_secret(node);
		pal_endpoint_set_error(p, error, path, "expected %s, got %s", expected, got);
		return FALSE;
	}
	array = json_node_get_array(node);
	if (json_array_get_length(array) > PAL_ENDPOINT_MAX_LIST) {
		pal_endpoint_set_error(p,
				       error,
				       path,
				       "expected at most %u keys, got %u",
				       (guint)PAL_ENDPOINT_MAX_LIST,
				       json_array_get_length(array));
		return FALSE;
	}
	for (guint i = 0; i < json_array_get_length(array); i++) {
		JsonNode *element = json_array_get_element(array, i);
		const gchar *str =
		    pal_endpoint_node_is_string(element) ? json_node_get_string(element) : NULL;
		if (str == NULL || str[0] == '\0' || pal_endpoint_has_control_chars(str)) {
			g_autofree gchar *element_path = pal_json_path_index(path, i);
			g_autofree gchar *got = pal_endpoint_describe_secret(element);
			pal_endpoint_set_error(p,
					       error,
					       element_path,
					       "expected a non-empty string without control "
					       "characters, got %s",
					       got);
			return FALSE;
		}
		g_ptr_array_add(keys, g_strdup(str));
	}
	g_strfreev(*value);
	*value = g_new0(gchar *, keys->len + 1);
	for (guint i = 0; i < keys->len; i++)
		(*value)[i] = g_strdup(g_ptr_array_index(keys, i));
	return TRUE;
}

static gboolean
pal_endpoint_parse_sections(PalEndpoint *self,
			    PalEndpointParser *p,
			    JsonObject *root,
			    GError **error)
{
	const gchar *known_auth[] = {"webhookKeys", "apiKeys", NULL};
	const gchar *known_dp[] = {"maskIPAddress",
				   "maskLogging",
				   "maskAnalytics",
				   "useConversations",
				   "useContactProfiles",
				   "useAnalytics",
				   NULL};
	const gchar *known_session[] = {"stateTtlDays", "inactivityMinutes", NULL};
	const struct {
		const gchar *key;
		gboolean *value;
	} dp[] = {
	    {"maskIPAddress", &self->mask_ip_address},
	    {"maskLogging", &self->mask_logging},
	    {"maskAnalytics", &self->mask_analytics},
	    {"useConversations", &self->use_conversations},
	    {"useContactProfiles", &self->use_contact_profiles},
	    {"useAnalytics", &self->use_analytics},
	};
	JsonObject *obj = NULL;

	/* auth */
	if (!pal_endpoint_read_object(p, root, "", "auth", &obj, error))
		return FALSE;
	if (obj != NULL) {
		pal_endpoint_check_known_keys(p, obj, "auth", known_auth);
		if (!pal_endpoint_read_key_list(p,
						obj,
						"auth",
						"webhookKeys",
						&self->webhook_keys,
						error))
			return FALSE;
		if (!pal_endpoint_read_key_list(p, obj, "auth", "apiKeys", &self->api_keys, error))
			return FALSE;
	}

	/* dataProtection */
	if (!pal_endpoint_read_object(p, root, "", "dataProtection", &obj, error))
		return FALSE;
	if (obj != NULL) {
		pal_endpoint_check_known_keys(p, obj, "dataProtection", known_dp);
		for (guint i = 0; i < G_N_ELEMENTS(dp); i++) {
			if (!pal_endpoint_read_bool(p,
						    obj,
						    "dataProtection",
						    dp[i].key,
						    dp[i].value,
						    error))
				return FALSE;
		}
	}

	/* session */
	if (!pal_endpoint_read_object(p, root, "", "session", &obj, error))
		return FALSE;
	if (obj != NULL) {
		pal_endpoint_check_known_keys(p, obj, "session", known_session);
		if (!pal_endpoint_read_uint(p,
					    obj,
					    "session",
					    "stateTtlDays",
					    1,
					    3650,
					    &self->state_ttl_days,
					    error))
			return FALSE;
		if (!pal_endpoint_read_uint(p,
					    obj,
					    "session",
					    "inactivityMinutes",
					    0,
					    525600,
					    &self->inactivity_minutes,
					    error))
			return FALSE;
	}
	return TRUE;
}

#define PAL_ENDPOINT_EXPECT_NAME   "a string of 1 to 64 characters from A-Z a-z 0-9 . _ -"
#define PAL_ENDPOINT_EXPECT_TOKEN  "a string of 16 to 128 characters from A-Z a-z 0-9 _ -"
#define PAL_ENDPOINT_EXPECT_LOCALE "a language tag of 1 to 35 characters from A-Z a-z 0-9 _ -"

static gboolean
pal_endpoint_parse(PalEndpoint *self, PalEndpointParser *p, JsonObject *root, GError **error)
{
	const gchar *known[] = {"name",
				"URLToken",
				"active",
				"locale",
				"flow",
				"nlu",
				"transformers",
				"handover",
				"webhook",
				"auth",
				"dataProtection",
				"session",
				NULL};
	const gchar *name = NULL;
	const gchar *token = NULL;
	const gchar *locale = NULL;

	pal_endpoint_check_known_keys(p, root, "", known);

	/* name */
	if (!pal_endpoint_read_string(p,
				      root,
				      "",
				      "name",
				      TRUE,
				      FALSE,
				      PAL_ENDPOINT_EXPECT_NAME,
				      &name,
				      error))
		return FALSE;
	if (name[0] == '\0' || strlen(name) > 64 || !pal_endpoint_has_only(name, "._-")) {
		g_autofree gchar *got = pal_quote_for_message(name, 80);
		pal_endpoint_set_error(p,
				       error,
				       "name",
				       "expected " PAL_ENDPOINT_EXPECT_NAME ", got %s",
				       got);
		return FALSE;
	}
	self->name = g_strdup(name);

	/* URLToken: a secret, never echoed */
	if (!pal_endpoint_read_string(p,
				      root,
				      "",
				      "URLToken",
				      TRUE,
				      TRUE,
				      PAL_ENDPOINT_EXPECT_TOKEN,
				      &token,
				      error))
		return FALSE;
	if (strlen(token) < 16 || strlen(token) > 128 || !pal_endpoint_has_only(token, "_-")) {
		pal_endpoint_set_error(
		    p,
		    error,
		    "URLToken",
		    "expected " PAL_ENDPOINT_EXPECT_TOKEN ", got a string of %ld character%s%s",
		    g_utf8_strlen(token, -1),
		    g_utf8_strlen(token, -1) == 1 ? "" : "s",
		    pal_endpoint_has_only(token, "_-") ? "" : " with characters outside that set");
		return FALSE;
	}
	self->url_token = g_strdup(token);

	if (!pal_endpoint_read_bool(p, root, "", "active", &self->active, error))
		return FALSE;
	if (!pal_endpoint_read_string(p,
				      root,
				      "",
				      "locale",
				      FALSE,
				      FALSE,
				      PAL_ENDPOINT_EXPECT_LOCALE,
				      &locale,
				      error))
		return FALSE;
	if (locale != NULL) {
		if (locale[0] == '\0' || strlen(locale) > 35 ||
		    !pal_endpoint_has_only(locale, "_-")) {
			g_autofree gchar *got = pal_quote_for_message(locale, 40);
			pal_endpoint_set_error(p,
					       error,
					       "locale",
					       "expected " PAL_ENDPOINT_EXPECT_LOCALE ", got %s",
					       got);
			return FALSE;
		}
		g_free(self->locale);
		self->locale = g_strdup(locale);
	}

	if (!pal_endpoint_parse_plugins(self, p, root, error))
		return FALSE;
	if (!pal_endpoint_parse_webhook(self, p, root, error))
		return FALSE;
	if (!pal_endpoint_parse_sections(self, p, root, error))
		return FALSE;
	return TRUE;
}

/**
 * pal_endpoint_new_from_json:
 * @root: the endpoint object; it is copied, not kept
 * @origin: names the source in errors: a file path, or "D-Bus"
 * @base_dir: (nullable): the endpoint file's folder, for relative paths and `*File` secrets
 * @data_dir: (nullable): the shared data folder, searched second for relative paths
 *
 * Returns: (transfer full): the endpoint, or %NULL with a %PAL_ERROR_INVALID_DATA error
 * "<origin>: <JSON path>: expected …, got …"
 */
PalEndpoint *
pal_endpoint_new_from_json(JsonNode *root,
			   const gchar *origin,
			   const gchar *base_dir,
			   const gchar *data_dir,
			   GError **error)
{
	g_autoptr(PalEndpoint) self = NULL;
	g_autoptr(GPtrArray) unknown = g_ptr_array_new_with_free_func(g_free);
	PalEndpointParser p = {origin, base_dir, unknown};

	g_return_val_if_fail(root != NULL, NULL);
	g_return_val_if_fail(origin != NULL, NULL);

	if (!JSON_NODE_HOLDS_OBJECT(root)) {
		g_autofree gchar *got = pal_json_describe_node(root);
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_INVALID_DATA,
			    "%s: expected a JSON object at the top level, got %s",
			    origin,
			    got);
		return NULL;
	}

	self = g_object_new(PAL_TYPE_ENDPOINT, NULL);
	self->origin = g_strdup(origin);
	self->base_dir = g_strdup(base_dir);
	if (!pal_endpoint_parse(self, &p, json_node_get_object(root), error))
		return NULL;
	if (unknown->len > 0) {
		g_autofree gchar *list = NULL;
		g_ptr_array_add(unknown, NULL);
		list = g_strjoinv(", ", (gchar **)unknown->pdata);
		g_debug("%s: ignoring unknown keys: %s", origin, list);
	}

	self->json = pal_json_node_deep_copy(root);
	json_node_seal(self->json);
	self->info = pal_endpoint_info_new(self->name, self->locale, base_dir, data_dir, self->mask_logging);
	return g_steal_pointer(&self);
}

/**
 * pal_endpoint_new_from_file:
 * @path: an endpoint file (JSON, at most 1 MiB, nesting at most 64 levels)
 * @data_dir: (nullable): the shared data folder
 *
 * Returns: (transfer full): the endpoint, or %NULL with @error set; the message starts with
 * @path (and line:column for JSON syntax errors)
 */
PalEndpoint *
pal_endpoint_new_from_file(const gchar *path, const gchar *data_dir, GError **error)
{
	gsize len = 0;
	g_autofree gchar *data = NULL;
	g_autofree gchar *abs_path = NULL;
	g_autofree gchar *base_dir = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autoptr(JsonNode) root = NULL;

	g_return_val_if_fail(path != NULL, NULL);

	if (!pal_file_read_bounded(path, PAL_ENDPOINT_MAX_FILE_SIZE, &data, &len, error))
		return NULL;
	root = pal_json_parse_bounded(data,
				      len,
				      PAL_ENDPOINT_MAX_FILE_SIZE,
				      PAL_ENDPOINT_MAX_DEPTH,
				      path,
				      error);
	/* the file may hold secrets */
	memset(data, 0, len);
	if (root == NULL)
		return NULL;
	abs_path = g_canonicalize_filename(path, NULL);
	base_dir = g_path_get_dirname(abs_path);
	return pal_endpoint_new_from_json(root, path, base_dir, data_dir, error);
}

/* redaction */

#define PAL_ENDPOINT_REDACTED "***"

static void
pal_endpoint_redact_member(JsonObject *obj, const gchar *key)
{
	JsonNode *node = json_object_get_member(obj, key);

	if (node == NULL || JSON_NODE_HOLDS_NULL(node))
		return;
	/* keep the shape of lists, so that a reader sees how many keys there are */
	if (JSON_NODE_HOLDS_ARRAY(node)) {
		JsonArray *array = json_node_get_array(node);
		g_autoptr(JsonArray) redacted = json_array_new();
		for (guint i = 0; i < json_array_get_length(array); i++)
			json_array_add_string_element(redacted, PAL_ENDPOINT_REDACTED);
		json_object_set_array_member(obj, key, g_steal_pointer(&redacted));
		return;
	}
	if (pal_endpoint_node_is_string(node) && json_node_get_string(node)[0] == '\0')
		return; /* "" = not set: nothing to hide */
	json_object_set_string_member(obj, key, PAL_ENDPOINT_REDACTED);
}

/* plugin options have no schema here: hide values whose key looks like a secret */
static gboolean
pal_endpoint_key_looks_secret(const gchar *key)
{
	const gchar *words[] = {"password",
				"secret",
				"token",
				"apikey",
				"api_key",
				"api-key",
				"credential",
				"privatekey",
				"private_key",
				NULL};
	g_autofree gchar *lower = g_ascii_strdown(key, -1);

	if (g_str_has_suffix(lower, "file"))
		return FALSE; /* a path to a secret, not the secret */
	for (guint i = 0; words[i] != NULL; i++) {
		if (strstr(lower, words[i]) != NULL)
			return TRUE;
	}
	return FALSE;
}

static void
pal_endpoint_redact_options(JsonNode *node)
{
	if (JSON_NODE_HOLDS_OBJECT(node)) {
		JsonObject *obj = json_node_get_object(node);
		g_autoptr(GList) members = json_object_get_members(obj);
		for (GList *l = members; l != NULL; l = l->next) {
			if (pal_endpoint_key_looks_secret(l->data))
				pal_endpoint_redact_member(obj, l->data);
			else
				pal_endpoint_redact_options(json_object_get_member(obj, l->data));
		}
	} else if (JSON_NODE_HOLDS_ARRAY(node)) {
		JsonArray *array = json_node_get_array(node);
		for (guint i = 0; i < json_array_get_length(array); i++)
			pal_endpoint_redact_options(json_array_get_element(array, i));
	}
}

/* header values that usually carry credentials */
static gboolean
pal_endpoint_header_looks_secret(const gchar *name)
{
	const gchar *words[] =
	    {"auth", "cookie", "key", "token", "secret", "password", "signature", NULL};
	g_autofree gchar *lower = g_ascii_strdown(name, -1);

	for (guint i = 0; words[i] != NULL; i++) {
		if (strstr(lower, words[i]) != NULL)
			return TRUE;
	}
	return FALSE;
}

static void
pal_endpoint_redact_url(JsonObject *webhook)
{
	const gchar *url;
	g_autoptr(GUri) uri = NULL;
	g_autoptr(GUri) redacted = NULL;
	g_autofree gchar *str = NULL;

	if (!pal_endpoint_node_is_string(json_object_get_member(webhook, "url")))
		return;
	url = json_object_get_string_member(webhook, "url");
	/* ENCODED: the rest of the URL comes back exactly as it was written */
	uri = g_uri_parse(url, G_URI_FLAGS_HAS_PASSWORD | G_URI_FLAGS_ENCODED, NULL);
	if (uri == NULL || g_uri_get_password(uri) == NULL)
		return;
	redacted = g_uri_build_with_user(G_URI_FLAGS_HAS_PASSWORD | G_URI_FLAGS_ENCODED,
					 g_uri_get_scheme(uri),
					 g_uri_get_user(uri),
					 PAL_ENDPOINT_REDACTED,
					 g_uri_get_auth_params(uri),
					 g_uri_get_host(uri),
					 g_uri_get_port(uri),
					 g_uri_get_path(uri),
					 g_uri_get_query(uri),
					 g_uri_get_fragment(uri));
	str = g_uri_to_string(redacted);
	json_object_set_string_member(webhook, "url", str);
}

/**
 * pal_endpoint_to_json_redacted:
 *
 * The endpoint's JSON as it was given, with the values of secrets replaced by "***":
 * URLToken, webhook.password, webhook.signingSecret, auth.webhookKeys and auth.apiKeys (each
 * element, so the count stays visible), a password in webhook.url, values of webhook.headers
 * whose name suggests a credential (Authorization, *Key*, *Token*, …), and plugin options
 * whose key suggests a secret (*password*, *secret*, *token*, *apiKey*, …).
 *
 * Returns: (transfer full): a new, mutable JSON tree
 */
JsonNode *
pal_endpoint_to_json_redacted(PalEndpoint *self)
{
	JsonNode *copy;
	JsonObject *root;
	JsonNode *node;
	const gchar *plugin_keys[] = {"flow", "nlu", "transformers", "handover", NULL};

	g_return_val_if_fail(PAL_IS_ENDPOINT(self), NULL);

	copy = pal_json_node_deep_copy(self->json);
	root = json_node_get_object(copy);
	pal_endpoint_redact_member(root, "URLToken");

	node = json_object_get_member(root, "webhook");
	if (node != NULL && JSON_NODE_HOLDS_OBJECT(node)) {
		JsonObject *webhook = json_node_get_object(node);
		JsonNode *headers = json_object_get_member(webhook, "headers");

		pal_endpoint_redact_member(webhook, "password");
		pal_endpoint_redact_member(webhook, "signingSecret");
		pal_endpoint_redact_url(webhook);
		if (headers != NULL && JSON_NODE_HOLDS_OBJECT(headers)) {
			JsonObject *obj = json_node_get_object(headers);
			g_autoptr(GList) members = json_object_get_members(obj);
			for (GList *l = members; l != NULL; l = l->next) {
				if (pal_endpoint_header_looks_secret(l->data))
					pal_endpoint_redact_member(obj, l->data);
			}
		}
	}
	node = json_object_get_member(root, "auth");
	if (node != NULL && JSON_NODE_HOLDS_OBJECT(node)) {
		pal_endpoint_redact_member(json_node_get_object(node), "webhookKeys");
		pal_endpoint_redact_member(json_node_get_object(node), "apiKeys");
	}
	for (guint i = 0; plugin_keys[i] != NULL; i++) {
		node = json_object_get_member(root, plugin_keys[i]);
		if (node != NULL)
			pal_endpoint_redact_options(node);
	}
	return copy;
}

/* getters */

const gchar *
pal_endpoint_get_origin(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), NULL);
	return self->origin;
}

const gchar *
pal_endpoint_get_base_dir(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), NULL);
	return self->base_dir;
}

const gchar *
pal_endpoint_get_name(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), NULL);
	return self->name;
}

const gchar *
pal_endpoint_get_url_token(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), NULL);
	return self->url_token;
}

gboolean
pal_endpoint_get_active(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), FALSE);
	return self->active;
}

const gchar *
pal_endpoint_get_locale(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), NULL);
	return self->locale;
}

PalEndpointInfo *
pal_endpoint_get_info(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), NULL);
	return self->info;
}

const gchar *
pal_endpoint_get_flow_type(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), NULL);
	return self->flow_type;
}

JsonObject *
pal_endpoint_get_flow_options(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), NULL);
	return self->flow_options;
}

const gchar *
pal_endpoint_get_nlu_type(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), NULL);
	return self->nlu_type;
}

JsonObject *
pal_endpoint_get_nlu_options(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), NULL);
	return self->nlu_options;
}

JsonArray *
pal_endpoint_get_transformers(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), NULL);
	return self->transformers;
}

const gchar *
pal_endpoint_get_handover_type(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), NULL);
	return self->handover_type;
}

JsonObject *
pal_endpoint_get_handover_options(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), NULL);
	return self->handover_options;
}

const gchar *
pal_endpoint_get_webhook_url(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), NULL);
	return self->webhook_url;
}

const gchar *
pal_endpoint_get_webhook_user(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), NULL);
	return self->webhook_user;
}

const gchar *
pal_endpoint_get_webhook_password(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), NULL);
	return self->webhook_password;
}

GPtrArray *
pal_endpoint_get_webhook_headers(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), NULL);
	return self->webhook_headers;
}

GStrv
pal_endpoint_get_signing_secrets(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), NULL);
	return self->signing_secrets;
}

guint
pal_endpoint_get_webhook_timeout_ms(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), 0);
	return self->webhook_timeout_ms;
}

guint
pal_endpoint_get_webhook_ttl_seconds(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), 0);
	return self->webhook_ttl_seconds;
}

guint
pal_endpoint_get_retry_initial_ms(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), 500);
	return self->retry_initial_ms;
}

guint
pal_endpoint_get_retry_max_ms(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), 60000);
	return self->retry_max_ms;
}

/* TRUE: when an output is given up, the rest of its session's queued outputs are given up
 * too ("onGiveUp": "drop"), so a receiver never sees a later output after a gap */
gboolean
pal_endpoint_get_drop_on_give_up(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), FALSE);
	return self->drop_on_give_up;
}

gboolean
pal_endpoint_get_end_of_turn_event(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), FALSE);
	return self->end_of_turn_event;
}

GStrv
pal_endpoint_get_webhook_keys(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), NULL);
	return self->webhook_keys;
}

GStrv
pal_endpoint_get_api_keys(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), NULL);
	return self->api_keys;
}

gboolean
pal_endpoint_get_mask_ip_address(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), FALSE);
	return self->mask_ip_address;
}

gboolean
pal_endpoint_get_mask_logging(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), FALSE);
	return self->mask_logging;
}

gboolean
pal_endpoint_get_mask_analytics(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), FALSE);
	return self->mask_analytics;
}

gboolean
pal_endpoint_get_use_conversations(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), TRUE);
	return self->use_conversations;
}

gboolean
pal_endpoint_get_use_contact_profiles(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), TRUE);
	return self->use_contact_profiles;
}

gboolean
pal_endpoint_get_use_analytics(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), TRUE);
	return self->use_analytics;
}

guint
pal_endpoint_get_state_ttl_days(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), 0);
	return self->state_ttl_days;
}

guint
pal_endpoint_get_inactivity_minutes(PalEndpoint *self)
{
	g_return_val_if_fail(PAL_IS_ENDPOINT(self), 0);
	return self->inactivity_minutes;
}

/**
 * pal_endpoint_copy_with_active:
 * @data_dir: (nullable): the shared data folder, as given when @self was loaded
 *
 * The same endpoint with `"active"` set to @active, parsed again from its JSON (the state
 * `palaverctl endpoint enable|disable` sets for an endpoint that comes from a file).
 *
 * Returns: (transfer full): a new endpoint, or %NULL with @error set
 */
PalEndpoint *
pal_endpoint_copy_with_active(PalEndpoint *self, gboolean active, const gchar *data_dir, GError **error)
{
	g_autoptr(JsonNode) copy = NULL;

	g_return_val_if_fail(PAL_IS_ENDPOINT(self), NULL);
	copy = pal_json_node_deep_copy(self->json);
	json_object_set_boolean_member(json_node_get_object(copy), "active", active);
	return pal_endpoint_new_from_json(copy, self->origin, self->base_dir, data_dir, error);
}
