/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The `http` flow: bring your own bot.
 *
 * Each input of the endpoint is POSTed to an external bot backend, and its answer becomes the
 * turn's outputs. An endpoint selects it with
 *
 *   "flow": { "type": "http", "url": "http://127.0.0.1:5005/webhooks/rest/webhook",
 *             "contract": "rasa", "timeoutMs": 10000,
 *             "fallback": { "text": "Sorry, the assistant is not available right now." } }
 *
 * Options (null is the same as leaving an option out):
 *   url               required; http:// or https:// with a host, at most 4096 bytes, no
 *                     user:password@ (use user/password: URLs end up in logs and tickets)
 *   contract          "generic" (default) or "rasa"
 *   timeoutMs         1 to 300000, default 10000: from the moment the turn reaches the flow
 *                     (waiting for a free connection counts) to the end of the answer's body
 *   headers           object of header name → string, at most 64 (tokens for the backend);
 *                     not Host, Content-Length, Content-Type, Transfer-Encoding, Connection,
 *                     Keep-Alive, TE, Trailer, Upgrade, Expect, Proxy-Connection, nor
 *                     Authorization together with user
 *   user, password    preemptive HTTP basic authentication (user without ':')
 *   fallback          the output sent instead when the backend fails (see below):
 *                     absent, null or true → {"text": "Sorry, the assistant is not available
 *                     right now."}; false → no output; a string → that text; an object
 *                     {"text", "data"} → that output (when it has neither, the default text)
 *   maxResponseBytes  1024 to 16777216, default 1048576: the answer's body (after decoding)
 *                     is read up to this and refused beyond it, whatever Content-Length says
 *   maxOutputs        1 to 100, default 20: outputs taken from one answer; the rest is dropped
 *                     and logged
 *   maxConnections    1 to 256, default 8: connections to the backend per worker thread;
 *                     further turns wait in the queue of the plugin's HTTP client
 *                     (plugins/common/pal-http-client.c, PLATFORM-NOTES 10)
 *
 * Request, generic contract: Palaver's input as flows see it, `{userId, sessionId, text?, data?,
 * inputId, traceId}`, plus `intent`, `intentScore`, `ranking` and `slots` when the endpoint's
 * NLU ran. Answer: `{"outputs": [{"text": …, "data": {…}}, …]}`.
 *
 * Request, contract "rasa" (the Rasa REST channel): `{"sender": userId, "message": text,
 * "metadata": {…data, "sessionId", "inputId", "traceId"}}`: the input's data members, then
 * the three ids (which win over data members of the same name); an input without text sends
 * "message": "". Answer: an array of `{recipient_id, text, image, buttons, custom, …}`, one
 * output per element, in order:
 *   - text → the output's text;
 *   - custom: an object is merged into data (its members become data members); any other
 *     value becomes data.custom;
 *   - every other member except recipient_id (image, buttons, attachment, elements, …) is then
 *     copied into data under its own name, replacing a custom member of that name;
 *   - buttons [{title, payload}] also become the quick replies of the wire contract
 *     (data._cognigy._default._quickReplies, pal_output_add_quick_replies(); a missing
 *     payload is the title);
 *   - recipient_id is ignored.
 * In both contracts null members and "" texts count as absent, an element with neither text
 * nor data produces no output, and an empty answer (`[]`, `{"outputs": []}`, or HTTP 204) is a
 * turn without outputs, not a failure.
 *
 * Failures: connection errors, the timeout, a non-2xx status (redirects are not followed:
 * libsoup would re-send the POST as a body-less GET), a body over maxResponseBytes, nesting
 * deeper than 64, invalid UTF-8 or JSON, or a shape other than the contract's (checked for the
 * whole answer before any output is emitted) produce the fallback output instead, and one log
 * line with the endpoint, the reason, the backend's host:port and the input id: never the
 * user's text, nor the URL's path or query, which may carry tokens; for an endpoint with
 * dataProtection.maskLogging not the answer's strings either (a bot may repeat the user's
 * words), only their type. The turn itself succeeds.
 * When the gateway cancels the turn (its deadline, shutdown) the request is aborted and the turn
 * ends cancelled, without fallback: keep timeoutMs below [Server] RequestTimeout.
 *
 * Threads: setup() may run on any thread; an instance then serves one worker thread, so its
 * PalHttpClient (and the SoupSession in it) is created by the first run_async(), in that
 * thread's thread-default context (PLATFORM-NOTES 11), with max-conns = max-conns-per-host =
 * maxConnections.
 */

#include "config.h"

#include <libsoup/soup.h>
#include <string.h>

#include "pal-http-client.h"
#include "pal-http-flow-plugin.h"

#define PAL_HTTP_FLOW_TIMEOUT_MS_DEFAULT      10000
#define PAL_HTTP_FLOW_TIMEOUT_MS_MAX	      300000
#define PAL_HTTP_FLOW_MAX_RESPONSE_DEFAULT    (1024 * 1024)
#define PAL_HTTP_FLOW_MAX_RESPONSE_MIN	      1024
#define PAL_HTTP_FLOW_MAX_RESPONSE_MAX	      (16 * 1024 * 1024)
#define PAL_HTTP_FLOW_MAX_OUTPUTS_DEFAULT     20
#define PAL_HTTP_FLOW_MAX_OUTPUTS_MAX	      100
#define PAL_HTTP_FLOW_MAX_CONNECTIONS_DEFAULT 8
#define PAL_HTTP_FLOW_MAX_CONNECTIONS_MAX     256
#define PAL_HTTP_FLOW_MAX_HEADERS	      64
#define PAL_HTTP_FLOW_HEADER_VALUE_MAX	      8192
#define PAL_HTTP_FLOW_URL_MAX		      4096
#define PAL_HTTP_FLOW_USER_MAX		      256
#define PAL_HTTP_FLOW_PASSWORD_MAX	      1024
#define PAL_HTTP_FLOW_FALLBACK_TEXT_MAX	      10000
#define PAL_HTTP_FLOW_MAX_DEPTH		      64
#define PAL_HTTP_FLOW_IDLE_TIMEOUT_S	      30
#define PAL_HTTP_FLOW_DEFAULT_FALLBACK_TEXT   "Sorry, the assistant is not available right now."

typedef enum {
	PAL_HTTP_FLOW_CONTRACT_GENERIC,
	PAL_HTTP_FLOW_CONTRACT_RASA,
} PalHttpFlowContract;

struct _PalHttpFlowPlugin {
	GObject parent_instance;

	/* options: set once by setup(), read-only afterwards */
	gchar *endpoint_name;
	gboolean mask_logging;
	GUri *uri;
	gchar *backend; /* "host:port" for log lines: never the path or query (tokens) */
	PalHttpFlowContract contract;
	guint timeout_ms;
	GPtrArray *headers;   /* name, value, name, value, … */
	gchar *user;	      /* nullable */
	gchar *authorization; /* "Basic …", nullable */
	gboolean fallback_enabled;
	gchar *fallback_text;	   /* nullable */
	JsonObject *fallback_data; /* nullable; deep-copied for each use */
	gsize max_response_bytes;
	guint max_outputs;
	guint max_connections;

	/* the worker thread's: created by the first run_async() */
	PalHttpClient *client;
};

static void
pal_http_flow_plugin_extension_iface_init(PalExtensionInterface *iface);
static void
pal_http_flow_plugin_flow_iface_init(PalFlowInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE(PalHttpFlowPlugin,
			      pal_http_flow_plugin,
			      G_TYPE_OBJECT,
			      G_IMPLEMENT_INTERFACE(PAL_TYPE_EXTENSION,
						    pal_http_flow_plugin_extension_iface_init)
				  G_IMPLEMENT_INTERFACE(PAL_TYPE_FLOW,
							pal_http_flow_plugin_flow_iface_init))

/* ---- options ---- */

static const gchar *
pal_http_flow_plugin_node_string(JsonNode *node)
{
	if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING)
		return json_node_get_string(node);
	return NULL;
}

static gboolean
pal_http_flow_plugin_parse_url(PalHttpFlowPlugin *self, JsonNode *node, GError **error)
{
	const gchar *url = pal_http_flow_plugin_node_string(node);
	g_autofree gchar *got = pal_json_describe_node(node);
	g_autoptr(GError) error_local = NULL;
	g_autoptr(GUri) uri = NULL;
	const gchar *scheme;
	gint port;

	if (url == NULL || url[0] == '\0' || strlen(url) > PAL_HTTP_FLOW_URL_MAX) {
		g_set_error(
		    error,
		    PAL_ERROR,
		    PAL_ERROR_INVALID_DATA,
		    "flow.url: expected an http:// or https:// URL of at most %u bytes, got %s",
		    (guint)PAL_HTTP_FLOW_URL_MAX,
		    got);
		return FALSE;
	}
	uri = g_uri_parse(url, SOUP_HTTP_URI_FLAGS, &error_local);
	if (uri == NULL) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_INVALID_DATA,
			    "flow.url: expected an http:// or https:// URL, got %s (%s)",
			    got,
			    error_local->message);
		return FALSE;
	}
	scheme = g_uri_get_scheme(uri);
	if (g_ascii_strcasecmp(scheme, "http") != 0 && g_ascii_strcasecmp(scheme, "https") != 0) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_INVALID_DATA,
			    "flow.url: expected an http:// or https:// URL, got %s",
			    got);
		return FALSE;
	}
	if (g_uri_get_host(uri) == NULL || g_uri_get_host(uri)[0] == '\0') {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_INVALID_DATA,
			    "flow.url: expected a URL with a host, got %s",
			    got);
		return FALSE;
	}
	if (g_uri_get_userinfo(uri) != NULL) {
		g_set_error_literal(
		    error,
		    PAL_ERROR,
		    PAL_ERROR_INVALID_DATA,
		    "flow.url: credentials in the URL are not accepted (use \"user\" and "
		    "\"password\")");
		return FALSE;
	}
	port = g_uri_get_port(uri);
	if (port < 0)
		port = g_ascii_strcasecmp(scheme, "https") == 0 ? 443 : 80;
	g_free(self->backend);
	self->backend = strchr(g_uri_get_host(uri), ':') != NULL
			    ? g_strdup_printf("[%s]:%d", g_uri_get_host(uri), port)
			    : g_strdup_printf("%s:%d", g_uri_get_host(uri), port);
	g_clear_pointer(&self->uri, g_uri_unref);
	self->uri = g_steal_pointer(&uri);
	return TRUE;
}

/* RFC 9110 token characters */
static gboolean
pal_http_flow_plugin_is_token(const gchar *name)
{
	if (name[0] == '\0')
		return FALSE;
	for (const gchar *p = name; *p != '\0'; p++) {
		if (!g_ascii_isalnum(*p) && strchr("!#$%&'*+-.^_`|~", *p) == NULL)
			return FALSE;
	}
	return TRUE;
}

/* framing and connection headers belong to libsoup, the body type to this plugin */
static gboolean
pal_http_flow_plugin_is_reserved_header(const gchar *name)
{
	const gchar *reserved[] = {"Host",
				   "Content-Length",
				   "Content-Type",
				   "Transfer-Encoding",
				   "Connection",
				   "Keep-Alive",
				   "TE",
				   "Trailer",
				   "Upgrade",
				   "Expect",
				   "Proxy-Connection"};

	for (guint i = 0; i < G_N_ELEMENTS(reserved); i++) {
		if (g_ascii_strcasecmp(name, reserved[i]) == 0)
			return TRUE;
	}
	return FALSE;
}

static gboolean
pal_http_flow_plugin_parse_headers(PalHttpFlowPlugin *self, JsonNode *node, GError **error)
{
	JsonObjectIter iter;
	const gchar *name;
	JsonNode *value_node;

	if (!JSON_NODE_HOLDS_OBJECT(node)) {
		g_autofree gchar *got = pal_json_describe_node(node);
		g_set_error(
		    error,
		    PAL_ERROR,
		    PAL_ERROR_INVALID_DATA,
		    "flow.headers: expected an object of header names and string values, got %s",
		    got);
		return FALSE;
	}
	if (json_object_get_size(json_node_get_object(node)) > PAL_HTTP_FLOW_MAX_HEADERS) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_INVALID_DATA,
			    "flow.headers: expected at most %u headers, got %u",
			    (guint)PAL_HTTP_FLOW_MAX_HEADERS,
			    json_object_get_size(json_node_get_object(node)));
		return FALSE;
	}
	g_ptr_array_set_size(self->headers, 0);
	json_object_iter_init_ordered(&iter, json_node_get_object(node));
	while (json_object_iter_next_ordered(&iter, &name, &value_node)) {
		g_autofree gchar *path = pal_json_path_member("flow.headers", name);
		const gchar *value = pal_http_flow_plugin_node_string(value_node);

		if (!pal_http_flow_plugin_is_token(name)) {
			g_set_error(error,
				    PAL_ERROR,
				    PAL_ERROR_INVALID_DATA,
				    "%s: not a valid HTTP header name",
				    path);
			return FALSE;
		}
		if (pal_http_flow_plugin_is_reserved_header(name)) {
			g_set_error(error,
				    PAL_ERROR,
				    PAL_ERROR_INVALID_DATA,
				    "%s: this header is set by Palaver and libsoup, not by options",
				    path);
			return FALSE;
		}
		/* the value is not quoted back: headers carry tokens */
		if (value == NULL || strlen(value) > PAL_HTTP_FLOW_HEADER_VALUE_MAX ||
		    strpbrk(value, "\r\n") != NULL) {
			g_set_error(error,
				    PAL_ERROR,
				    PAL_ERROR_INVALID_DATA,
				    "%s: expected a string of at most %u bytes without line breaks",
				    path,
				    (guint)PAL_HTTP_FLOW_HEADER_VALUE_MAX);
			return FALSE;
		}
		g_ptr_array_add(self->headers, g_strdup(name));
		g_ptr_array_add(self->headers, g_strdup(value));
	}
	return TRUE;
}

static gboolean
pal_http_flow_plugin_parse_fallback_object(PalHttpFlowPlugin *self,
					   JsonObject *object,
					   GError **error)
{
	JsonObjectIter iter;
	const gchar *member;
	JsonNode *node;

	json_object_iter_init_ordered(&iter, object);
	while (json_object_iter_next_ordered(&iter, &member, &node)) {
		g_autofree gchar *got = pal_json_describe_node(node);

		if (g_strcmp0(member, "text") == 0) {
			const gchar *text = pal_http_flow_plugin_node_string(node);
			if (JSON_NODE_HOLDS_NULL(node))
				continue;
			if (text == NULL || text[0] == '\0' ||
			    g_utf8_strlen(text, -1) > PAL_HTTP_FLOW_FALLBACK_TEXT_MAX) {
				g_set_error(
				    error,
				    PAL_ERROR,
				    PAL_ERROR_INVALID_DATA,
				    "flow.fallback.text: expected a non-empty string of at most %u "
				    "characters, or null, got %s",
				    (guint)PAL_HTTP_FLOW_FALLBACK_TEXT_MAX,
				    got);
				return FALSE;
			}
			g_free(self->fallback_text);
			self->fallback_text = g_strdup(text);
			continue;
		}
		if (g_strcmp0(member, "data") == 0) {
			if (JSON_NODE_HOLDS_NULL(node))
				continue;
			if (!JSON_NODE_HOLDS_OBJECT(node)) {
				g_set_error(
				    error,
				    PAL_ERROR,
				    PAL_ERROR_INVALID_DATA,
				    "flow.fallback.data: expected an object or null, got %s",
				    got);
				return FALSE;
			}
			g_clear_pointer(&self->fallback_data, json_object_unref);
			self->fallback_data = pal_json_object_deep_copy(json_node_get_object(node));
			continue;
		}
		{
			g_autofree gchar *path = pal_json_path_member("flow.fallback", member);
			g_set_error(error,
				    PAL_ERROR,
				    PAL_ERROR_INVALID_DATA,
				    "%s: unknown key (a fallback output has \"text\" and \"data\")",
				    path);
			return FALSE;
		}
	}
	/* nothing to say at all would be an empty message: say the default instead */
	if (self->fallback_text == NULL && self->fallback_data == NULL)
		self->fallback_text = g_strdup(PAL_HTTP_FLOW_DEFAULT_FALLBACK_TEXT);
	return TRUE;
}

static gboolean
pal_http_flow_plugin_parse_fallback(PalHttpFlowPlugin *self, JsonNode *node, GError **error)
{
	const gchar *text = pal_http_flow_plugin_node_string(node);

	g_clear_pointer(&self->fallback_text, g_free);
	g_clear_pointer(&self->fallback_data, json_object_unref);
	self->fallback_enabled = TRUE;
	if (JSON_NODE_HOLDS_NULL(node)) {
		self->fallback_text = g_strdup(PAL_HTTP_FLOW_DEFAULT_FALLBACK_TEXT);
		return TRUE;
	}
	if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_BOOLEAN) {
		self->fallback_enabled = json_node_get_boolean(node);
		if (self->fallback_enabled)
			self->fallback_text = g_strdup(PAL_HTTP_FLOW_DEFAULT_FALLBACK_TEXT);
		return TRUE;
	}
	if (text != NULL && text[0] != '\0' &&
	    g_utf8_strlen(text, -1) <= PAL_HTTP_FLOW_FALLBACK_TEXT_MAX) {
		self->fallback_text = g_strdup(text);
		return TRUE;
	}
	if (JSON_NODE_HOLDS_OBJECT(node))
		return pal_http_flow_plugin_parse_fallback_object(self,
								  json_node_get_object(node),
								  error);
	{
		g_autofree gchar *got = pal_json_describe_node(node);
		g_set_error(
		    error,
		    PAL_ERROR,
		    PAL_ERROR_INVALID_DATA,
		    "flow.fallback: expected an object {\"text\", \"data\"}, a non-empty text, "
		    "true, false or null, got %s",
		    got);
	}
	return FALSE;
}

static gboolean
pal_http_flow_plugin_parse_user(PalHttpFlowPlugin *self, JsonNode *node, GError **error)
{
	const gchar *user = pal_http_flow_plugin_node_string(node);
	gboolean ok = user != NULL && user[0] != '\0' && strlen(user) <= PAL_HTTP_FLOW_USER_MAX &&
		      strchr(user, ':') == NULL;

	for (const gchar *p = user; ok && *p != '\0'; p++) {
		if ((guchar)*p < 0x20 || *p == 0x7f)
			ok = FALSE;
	}
	if (!ok) {
		g_set_error(
		    error,
		    PAL_ERROR,
		    PAL_ERROR_INVALID_DATA,
		    "flow.user: expected a non-empty string of at most %u bytes without \":\" "
		    "or control characters",
		    (guint)PAL_HTTP_FLOW_USER_MAX);
		return FALSE;
	}
	g_free(self->user);
	self->user = g_strdup(user);
	return TRUE;
}

static const gchar *const pal_http_flow_plugin_options[] = {"url",
							    "contract",
							    "timeoutMs",
							    "headers",
							    "user",
							    "password",
							    "fallback",
							    "maxResponseBytes",
							    "maxOutputs",
							    "maxConnections",
							    NULL};

static gboolean
pal_http_flow_plugin_is_option(const gchar *member)
{
	return g_strv_contains(pal_http_flow_plugin_options, member);
}

/* PalExtension.setup: called once, before the first turn, maybe on another thread */
static gboolean
pal_http_flow_plugin_setup(PalExtension *extension,
			   PalEndpointInfo *endpoint,
			   JsonObject *options,
			   GError **error)
{
	PalHttpFlowPlugin *self = PAL_HTTP_FLOW_PLUGIN(extension);
	const gchar *password = NULL;
	gboolean has_password = FALSE;
	JsonObjectIter iter;
	const gchar *member;
	JsonNode *node;

	self->endpoint_name = g_strdup(pal_endpoint_info_get_name(endpoint));
	self->mask_logging = pal_endpoint_info_get_mask_logging(endpoint);

	/* in file order, so that the first mistake is the one reported */
	json_object_iter_init_ordered(&iter, options);
	while (json_object_iter_next_ordered(&iter, &member, &node)) {
		/* null is the same as leaving the option out (for fallback: the default text) */
		if (JSON_NODE_HOLDS_NULL(node) && pal_http_flow_plugin_is_option(member))
			continue;
		if (g_strcmp0(member, "url") == 0) {
			if (!pal_http_flow_plugin_parse_url(self, node, error))
				return FALSE;
			continue;
		}
		if (g_strcmp0(member, "fallback") == 0) {
			if (!pal_http_flow_plugin_parse_fallback(self, node, error))
				return FALSE;
			continue;
		}
		if (g_strcmp0(member, "contract") == 0) {
			const gchar *contract = pal_http_flow_plugin_node_string(node);
			if (g_strcmp0(contract, "generic") == 0) {
				self->contract = PAL_HTTP_FLOW_CONTRACT_GENERIC;
			} else if (g_strcmp0(contract, "rasa") == 0) {
				self->contract = PAL_HTTP_FLOW_CONTRACT_RASA;
			} else {
				g_autofree gchar *got = pal_json_describe_node(node);
				g_set_error(
				    error,
				    PAL_ERROR,
				    PAL_ERROR_INVALID_DATA,
				    "flow.contract: expected \"generic\" or \"rasa\", got %s",
				    got);
				return FALSE;
			}
			continue;
		}
		if (g_strcmp0(member, "timeoutMs") == 0) {
			if (!pal_json_node_get_uint(node,
						    "flow.timeoutMs",
						    1,
						    PAL_HTTP_FLOW_TIMEOUT_MS_MAX,
						    &self->timeout_ms,
						    error))
				return FALSE;
			continue;
		}
		if (g_strcmp0(member, "headers") == 0) {
			if (!pal_http_flow_plugin_parse_headers(self, node, error))
				return FALSE;
			continue;
		}
		if (g_strcmp0(member, "user") == 0) {
			if (!pal_http_flow_plugin_parse_user(self, node, error))
				return FALSE;
			continue;
		}
		if (g_strcmp0(member, "password") == 0) {
			/* never quoted back: it is a secret */
			password = pal_http_flow_plugin_node_string(node);
			if (password == NULL || strlen(password) > PAL_HTTP_FLOW_PASSWORD_MAX) {
				g_set_error(error,
					    PAL_ERROR,
					    PAL_ERROR_INVALID_DATA,
					    "flow.password: expected a string of at most %u bytes",
					    (guint)PAL_HTTP_FLOW_PASSWORD_MAX);
				return FALSE;
			}
			has_password = TRUE;
			continue;
		}
		if (g_strcmp0(member, "maxResponseBytes") == 0) {
			guint value = 0;
			if (!pal_json_node_get_uint(node,
						    "flow.maxResponseBytes",
						    PAL_HTTP_FLOW_MAX_RESPONSE_MIN,
						    PAL_HTTP_FLOW_MAX_RESPONSE_MAX,
						    &value,
						    error))
				return FALSE;
			self->max_response_bytes = value;
			continue;
		}
		if (g_strcmp0(member, "maxOutputs") == 0) {
			if (!pal_json_node_get_uint(node,
						    "flow.maxOutputs",
						    1,
						    PAL_HTTP_FLOW_MAX_OUTPUTS_MAX,
						    &self->max_outputs,
						    error))
				return FALSE;
			continue;
		}
		if (g_strcmp0(member, "maxConnections") == 0) {
			if (!pal_json_node_get_uint(node,
						    "flow.maxConnections",
						    1,
						    PAL_HTTP_FLOW_MAX_CONNECTIONS_MAX,
						    &self->max_connections,
						    error))
				return FALSE;
			continue;
		}
		{
			g_autofree gchar *path = pal_json_path_member("flow", member);
			g_set_error(
			    error,
			    PAL_ERROR,
			    PAL_ERROR_INVALID_DATA,
			    "%s: unknown option (the http flow has \"url\", \"contract\", "
			    "\"timeoutMs\", \"headers\", \"user\", \"password\", \"fallback\", "
			    "\"maxResponseBytes\", \"maxOutputs\" and \"maxConnections\")",
			    path);
			return FALSE;
		}
	}

	if (self->uri == NULL) {
		g_set_error_literal(error,
				    PAL_ERROR,
				    PAL_ERROR_INVALID_DATA,
				    "flow.url: required: the URL of the bot backend, e.g. "
				    "\"http://127.0.0.1:5005/webhooks/rest/webhook\"");
		return FALSE;
	}
	if (has_password && self->user == NULL) {
		g_set_error_literal(error,
				    PAL_ERROR,
				    PAL_ERROR_INVALID_DATA,
				    "flow.password: needs \"user\" (HTTP basic authentication)");
		return FALSE;
	}
	if (self->user != NULL) {
		g_autofree gchar *cred =
		    g_strdup_printf("%s:%s", self->user, password != NULL ? password : "");
		g_autofree gchar *b64 = g_base64_encode((const guchar *)cred, strlen(cred));

		for (guint i = 0; i + 1 < self->headers->len; i += 2) {
			const gchar *name = g_ptr_array_index(self->headers, i);
			if (g_ascii_strcasecmp(name, "Authorization") == 0) {
				g_autofree gchar *path = pal_json_path_member("flow.headers", name);
				g_set_error(error,
					    PAL_ERROR,
					    PAL_ERROR_INVALID_DATA,
					    "%s: cannot be combined with \"user\" (HTTP basic "
					    "authentication)",
					    path);
				return FALSE;
			}
		}
		/* the secret is wiped from the temporary buffer; only the header value stays */
		memset(cred, 0, strlen(cred));
		self->authorization = g_strdup_printf("Basic %s", b64);
	}
	return TRUE;
}

static void
pal_http_flow_plugin_extension_iface_init(PalExtensionInterface *iface)
{
	iface->setup = pal_http_flow_plugin_setup;
}

/* ---- one request ---- */

typedef struct {
	PalTurn *turn;
	SoupMessage *msg;
} PalHttpFlowRequest;

static void
pal_http_flow_request_free(PalHttpFlowRequest *req)
{
	g_clear_object(&req->msg);
	g_clear_object(&req->turn);
	g_free(req);
}

/* the request body of each contract */
static GBytes *
pal_http_flow_plugin_build_body(PalHttpFlowPlugin *self, PalMessage *message)
{
	g_autoptr(JsonGenerator) generator = json_generator_new();
	g_autoptr(JsonNode) root = NULL;
	gchar *text;
	gsize len = 0;

	if (self->contract == PAL_HTTP_FLOW_CONTRACT_RASA) {
		JsonObject *object = json_object_new();
		JsonObject *metadata = json_object_new();
		JsonObject *data = pal_message_get_data(message);
		const gchar *message_text = pal_message_get_text(message);

		if (data != NULL) {
			JsonObjectIter iter;
			const gchar *member;
			JsonNode *node;
			json_object_iter_init_ordered(&iter, data);
			while (json_object_iter_next_ordered(&iter, &member, &node))
				json_object_set_member(metadata,
						       member,
						       pal_json_node_deep_copy(node));
		}
		json_object_set_string_member(metadata,
					      "sessionId",
					      pal_message_get_session_id(message));
		json_object_set_string_member(metadata,
					      "inputId",
					      pal_message_get_input_id(message));
		json_object_set_string_member(metadata,
					      "traceId",
					      pal_message_get_trace_id(message));
		json_object_set_string_member(object, "sender", pal_message_get_user_id(message));
		/* Rasa runs its NLU on a string: a data-only input sends an empty text */
		json_object_set_string_member(object,
					      "message",
					      message_text != NULL ? message_text : "");
		json_object_set_object_member(object, "metadata", metadata);
		root = json_node_new(JSON_NODE_OBJECT);
		json_node_take_object(root, object);
	} else {
		PalNluResult *nlu = pal_message_get_nlu_result(message);

		root = pal_message_to_json(message);
		if (nlu != NULL) {
			g_autoptr(JsonNode) nlu_node = pal_nlu_result_to_json(nlu);
			JsonObjectIter iter;
			const gchar *member;
			JsonNode *node;
			json_object_iter_init_ordered(&iter, json_node_get_object(nlu_node));
			while (json_object_iter_next_ordered(&iter, &member, &node))
				json_object_set_member(json_node_get_object(root),
						       member,
						       pal_json_node_deep_copy(node));
		}
	}
	json_generator_set_root(generator, root);
	text = json_generator_to_data(generator, &len);
	return g_bytes_new_take(text, len);
}

/* ---- answers ---- */

/* "got …" of answer errors: strings of the answer may repeat what the user wrote, so an
 * endpoint that masks logging gets their type only */
static gchar *
pal_http_flow_plugin_describe_answer(gboolean mask, JsonNode *node)
{
	if (mask && node != NULL && JSON_NODE_HOLDS_VALUE(node) &&
	    json_node_get_value_type(node) == G_TYPE_STRING)
		return g_strdup("a string");
	return pal_json_describe_node(node);
}

/* "" and null count as no text */
static gboolean
pal_http_flow_plugin_get_text(JsonObject *element,
			      gboolean mask,
			      const gchar *path,
			      const gchar **text,
			      gchar **reason)
{
	JsonNode *node = json_object_get_member(element, "text");

	*text = NULL;
	if (node == NULL || JSON_NODE_HOLDS_NULL(node))
		return TRUE;
	*text = pal_http_flow_plugin_node_string(node);
	if (*text == NULL) {
		g_autofree gchar *got = pal_http_flow_plugin_describe_answer(mask, node);
		*reason = g_strdup_printf("%s.text: expected a string, got %s", path, got);
		return FALSE;
	}
	if ((*text)[0] == '\0')
		*text = NULL;
	return TRUE;
}

/* a Rasa message: see the comment at the top of this file for the mapping */
static gboolean
pal_http_flow_plugin_rasa_output(JsonObject *element,
				 gboolean mask,
				 const gchar *path,
				 PalOutput **output_out,
				 gchar **reason)
{
	g_autoptr(JsonObject) data = json_object_new();
	g_autoptr(GPtrArray) titles = g_ptr_array_new();
	g_autoptr(GPtrArray) payloads = g_ptr_array_new();
	g_autoptr(PalOutput) output = NULL;
	JsonNode *custom = json_object_get_member(element, "custom");
	const gchar *text = NULL;
	JsonObjectIter iter;
	const gchar *member;
	JsonNode *node;

	if (!pal_http_flow_plugin_get_text(element, mask, path, &text, reason))
		return FALSE;
	if (custom != NULL && JSON_NODE_HOLDS_OBJECT(custom)) {
		json_object_iter_init_ordered(&iter, json_node_get_object(custom));
		while (json_object_iter_next_ordered(&iter, &member, &node))
			json_object_set_member(data, member, pal_json_node_deep_copy(node));
	} else if (custom != NULL && !JSON_NODE_HOLDS_NULL(custom)) {
		json_object_set_member(data, "custom", pal_json_node_deep_copy(custom));
	}

	json_object_iter_init_ordered(&iter, element);
	while (json_object_iter_next_ordered(&iter, &member, &node)) {
		if (g_strcmp0(member, "recipient_id") == 0 || g_strcmp0(member, "text") == 0 ||
		    g_strcmp0(member, "custom") == 0 || JSON_NODE_HOLDS_NULL(node))
			continue;
		if (g_strcmp0(member, "image") == 0 &&
		    pal_http_flow_plugin_node_string(node) == NULL) {
			g_autofree gchar *got = pal_http_flow_plugin_describe_answer(mask, node);
			*reason = g_strdup_printf("%s.image: expected a string (a URL), got %s",
						  path,
						  got);
			return FALSE;
		}
		if (g_strcmp0(member, "buttons") == 0) {
			JsonArray *buttons;

			if (!JSON_NODE_HOLDS_ARRAY(node)) {
				g_autofree gchar *got =
				    pal_http_flow_plugin_describe_answer(mask, node);
				*reason = g_strdup_printf("%s.buttons: expected an array, got %s",
							  path,
							  got);
				return FALSE;
			}
			buttons = json_node_get_array(node);
			for (guint i = 0; i < json_array_get_length(buttons); i++) {
				JsonNode *button = json_array_get_element(buttons, i);
				JsonNode *title = NULL;
				JsonNode *payload = NULL;
				const gchar *title_str = NULL;
				const gchar *payload_str = NULL;

				if (JSON_NODE_HOLDS_OBJECT(button)) {
					title = json_object_get_member(json_node_get_object(button),
								       "title");
					payload =
					    json_object_get_member(json_node_get_object(button),
								   "payload");
				}
				if (title != NULL)
					title_str = pal_http_flow_plugin_node_string(title);
				if (payload != NULL)
					payload_str = pal_http_flow_plugin_node_string(payload);
				if (title_str == NULL || (payload != NULL && payload_str == NULL &&
							  !JSON_NODE_HOLDS_NULL(payload))) {
					g_autofree gchar *got =
					    pal_http_flow_plugin_describe_answer(mask, button);
					*reason = g_strdup_printf(
					    "%s.buttons[%u]: expected {\"title\": string, "
					    "\"payload\": string}, got %s",
					    path,
					    i,
					    got);
					return FALSE;
				}
				g_ptr_array_add(titles, (gpointer)title_str);
				g_ptr_array_add(
				    payloads,
				    (gpointer)(payload_str != NULL ? payload_str : title_str));
			}
		}
		json_object_set_member(data, member, pal_json_node_deep_copy(node));
	}

	if (text == NULL && json_object_get_size(data) == 0) {
		*output_out = NULL;
		return TRUE;
	}
	output = pal_output_new(PAL_OUTPUT_SOURCE_BOT,
				text,
				json_object_get_size(data) > 0 ? data : NULL);
	if (titles->len > 0) {
		g_ptr_array_add(titles, NULL);
		g_ptr_array_add(payloads, NULL);
		pal_output_add_quick_replies(output,
					     (const gchar *const *)titles->pdata,
					     (const gchar *const *)payloads->pdata);
	}
	*output_out = g_steal_pointer(&output);
	return TRUE;
}

/* an output of the generic contract: {"text": …, "data": {…}}; other members are ignored */
static gboolean
pal_http_flow_plugin_generic_output(JsonObject *element,
				    gboolean mask,
				    const gchar *path,
				    PalOutput **output_out,
				    gchar **reason)
{
	JsonNode *data = json_object_get_member(element, "data");
	g_autoptr(JsonObject) copy = NULL;
	const gchar *text = NULL;

	if (!pal_http_flow_plugin_get_text(element, mask, path, &text, reason))
		return FALSE;
	if (data != NULL && !JSON_NODE_HOLDS_NULL(data)) {
		if (!JSON_NODE_HOLDS_OBJECT(data)) {
			g_autofree gchar *got = pal_http_flow_plugin_describe_answer(mask, data);
			*reason = g_strdup_printf("%s.data: expected an object, got %s", path, got);
			return FALSE;
		}
		copy = pal_json_object_deep_copy(json_node_get_object(data));
	}
	if (copy != NULL && json_object_get_size(copy) == 0)
		g_clear_pointer(&copy, json_object_unref);
	*output_out =
	    text != NULL || copy != NULL ? pal_output_new(PAL_OUTPUT_SOURCE_BOT, text, copy) : NULL;
	return TRUE;
}

/* the whole answer is checked before the first output is emitted: a malformed answer is the
 * fallback alone, never half an answer and then the fallback */
static gboolean
pal_http_flow_plugin_parse_answer(PalHttpFlowPlugin *self,
				  GBytes *answer,
				  GPtrArray **outputs_out,
				  guint *n_dropped,
				  gchar **reason)
{
	g_autoptr(GPtrArray) outputs = g_ptr_array_new_with_free_func(g_object_unref);
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) root = NULL;
	gboolean rasa = self->contract == PAL_HTTP_FLOW_CONTRACT_RASA;
	gboolean mask = self->mask_logging;
	const gchar *prefix = rasa ? "answer" : "answer.outputs";
	JsonArray *elements = NULL;
	gsize len = 0;
	const gchar *data = g_bytes_get_data(answer, &len);

	*n_dropped = 0;
	root = pal_json_parse_bounded(data != NULL ? data : "",
				      len,
				      self->max_response_bytes,
				      PAL_HTTP_FLOW_MAX_DEPTH,
				      "answer",
				      &error);
	if (root == NULL) {
		/* json-glib may quote the offending token, which can come from the user's text */
		if (self->mask_logging)
			*reason = g_strdup("the answer is not valid JSON");
		else
			*reason =
			    g_strdup_printf("the answer is not valid JSON: %s", error->message);
		return FALSE;
	}
	if (rasa) {
		if (!JSON_NODE_HOLDS_ARRAY(root)) {
			g_autofree gchar *got = pal_http_flow_plugin_describe_answer(mask, root);
			gboolean generic =
			    JSON_NODE_HOLDS_OBJECT(root) &&
			    json_object_has_member(json_node_get_object(root), "outputs");
			*reason = g_strdup_printf(
			    "the answer is not an array of Rasa messages, got %s%s",
			    got,
			    generic ? " (a generic backend? set \"contract\": \"generic\")" : "");
			return FALSE;
		}
		elements = json_node_get_array(root);
	} else {
		JsonNode *node = JSON_NODE_HOLDS_OBJECT(root)
				     ? json_object_get_member(json_node_get_object(root), "outputs")
				     : NULL;
		if (node == NULL || !JSON_NODE_HOLDS_ARRAY(node)) {
			g_autofree gchar *got =
			    pal_http_flow_plugin_describe_answer(mask, node != NULL ? node : root);
			*reason = g_strdup_printf(
			    "expected an answer {\"outputs\": [...]}, got %s%s%s",
			    node != NULL ? "outputs " : "",
			    got,
			    JSON_NODE_HOLDS_ARRAY(root)
				? " (a Rasa REST channel? set \"contract\": \"rasa\")"
				: "");
			return FALSE;
		}
		elements = json_node_get_array(node);
	}

	for (guint i = 0; i < json_array_get_length(elements); i++) {
		JsonNode *element = json_array_get_element(elements, i);
		g_autofree gchar *path = g_strdup_printf("%s[%u]", prefix, i);
		g_autoptr(PalOutput) output = NULL;
		gboolean ok;

		if (!JSON_NODE_HOLDS_OBJECT(element)) {
			g_autofree gchar *got = pal_http_flow_plugin_describe_answer(mask, element);
			*reason = g_strdup_printf("%s: expected an object, got %s", path, got);
			return FALSE;
		}
		if (rasa)
			ok = pal_http_flow_plugin_rasa_output(json_node_get_object(element),
							      mask,
							      path,
							      &output,
							      reason);
		else
			ok = pal_http_flow_plugin_generic_output(json_node_get_object(element),
								 mask,
								 path,
								 &output,
								 reason);
		if (!ok)
			return FALSE;
		if (output == NULL)
			continue;
		if (outputs->len < self->max_outputs)
			g_ptr_array_add(outputs, g_steal_pointer(&output));
		else
			(*n_dropped)++;
	}
	*outputs_out = g_steal_pointer(&outputs);
	return TRUE;
}

static PalOutput *
pal_http_flow_plugin_fallback_output(PalHttpFlowPlugin *self)
{
	g_autoptr(JsonObject) data =
	    self->fallback_data != NULL ? pal_json_object_deep_copy(self->fallback_data) : NULL;

	return pal_output_new(PAL_OUTPUT_SOURCE_BOT, self->fallback_text, data);
}

/* ---- the turn ---- */

/* what went wrong with the request, for the log line; NULL when the answer can be read */
static gchar *
pal_http_flow_plugin_describe_failure(PalHttpFlowPlugin *self,
				      SoupMessage *msg,
				      guint status,
				      const GError *error)
{
	SoupMessageHeaders *headers = soup_message_get_response_headers(msg);

	if (g_error_matches(error, PAL_ERROR, PAL_ERROR_TIMED_OUT))
		return g_strdup_printf("no answer within %u ms (timeoutMs)", self->timeout_ms);
	if (g_error_matches(error, PAL_ERROR, PAL_ERROR_INVALID_DATA)) {
		/* refused by its Content-Length before the body was read, or counted */
		if (soup_message_headers_get_encoding(headers) == SOUP_ENCODING_CONTENT_LENGTH &&
		    (guint64)soup_message_headers_get_content_length(headers) >
			self->max_response_bytes)
			return g_strdup_printf(
			    "the answer is larger than maxResponseBytes (%" G_GSIZE_FORMAT
			    " bytes): Content-Length %" G_GOFFSET_FORMAT,
			    self->max_response_bytes,
			    soup_message_headers_get_content_length(headers));
		return g_strdup_printf(
		    "the answer is larger than maxResponseBytes (%" G_GSIZE_FORMAT " bytes)",
		    self->max_response_bytes);
	}
	/* a status means that the answer's headers had come, and then its body failed */
	if (error != NULL && status == SOUP_STATUS_NONE)
		return g_strdup_printf("the request failed: %s", error->message);
	if (error != NULL)
		return g_strdup_printf("reading the answer failed: %s", error->message);
	if (!SOUP_STATUS_IS_SUCCESSFUL(status))
		return g_strdup_printf(
		    "the backend answered HTTP %u%s",
		    status,
		    SOUP_STATUS_IS_REDIRECTION(status) ? " (redirects are not followed)" : "");
	return NULL;
}

/* returns the task exactly once: the outputs, the fallback, or cancelled */
static void
pal_http_flow_plugin_fetch_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	PalHttpFlowPlugin *self = g_task_get_source_object(task);
	PalHttpFlowRequest *req = g_task_get_task_data(task);
	PalMessage *message = pal_turn_get_message(req->turn);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) answer = NULL;
	g_autoptr(GPtrArray) outputs = NULL;
	g_autofree gchar *reason = NULL;
	guint n_dropped = 0;
	guint status = SOUP_STATUS_NONE;

	answer = pal_http_client_fetch_finish(PAL_HTTP_CLIENT(source), res, &status, &error);
	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
		/* the gateway has gone on without this turn: no fallback, no log line of ours */
		g_task_return_new_error(task,
					G_IO_ERROR,
					G_IO_ERROR_CANCELLED,
					"the turn was cancelled");
		return;
	}
	reason = pal_http_flow_plugin_describe_failure(self, req->msg, status, error);
	if (reason == NULL && status == SOUP_STATUS_NO_CONTENT)
		outputs = g_ptr_array_new_with_free_func(g_object_unref);
	else if (reason == NULL)
		pal_http_flow_plugin_parse_answer(self, answer, &outputs, &n_dropped, &reason);

	if (reason != NULL) {
		/* one line per failed turn; never the user's text (it is in neither value) */
		g_message("endpoint %s: http flow: %s (backend %s, input %s); %s",
			  self->endpoint_name,
			  reason,
			  self->backend,
			  pal_message_get_input_id(message),
			  self->fallback_enabled ? "sent the fallback output"
						 : "no output (\"fallback\": false)");
		if (self->fallback_enabled) {
			g_autoptr(PalOutput) fallback = pal_http_flow_plugin_fallback_output(self);
			pal_turn_emit(req->turn, fallback);
		}
	} else {
		if (n_dropped > 0)
			g_message(
			    "endpoint %s: http flow: the answer had %u outputs, sent the first %u "
			    "(maxOutputs) (backend %s, input %s)",
			    self->endpoint_name,
			    outputs->len + n_dropped,
			    outputs->len,
			    self->backend,
			    pal_message_get_input_id(message));
		/* in the answer's order, each as soon as it is converted */
		for (guint i = 0; i < outputs->len; i++)
			pal_turn_emit(req->turn, g_ptr_array_index(outputs, i));
	}
	g_task_return_boolean(task, TRUE);
}

static SoupMessage *
pal_http_flow_plugin_new_message(PalHttpFlowPlugin *self, PalMessage *message)
{
	SoupMessage *msg = soup_message_new_from_uri(SOUP_METHOD_POST, self->uri);
	SoupMessageHeaders *headers = soup_message_get_request_headers(msg);
	g_autoptr(GBytes) body = pal_http_flow_plugin_build_body(self, message);

	/* libsoup would re-send a POST answered 301/302/303 as a body-less GET: a redirect is a
	 * failed answer like any other non-2xx */
	soup_message_add_flags(msg, SOUP_MESSAGE_NO_REDIRECT);
	soup_message_headers_replace(headers, "Accept", "application/json");
	for (guint i = 0; i + 1 < self->headers->len; i += 2)
		soup_message_headers_replace(headers,
					     g_ptr_array_index(self->headers, i),
					     g_ptr_array_index(self->headers, i + 1));
	if (self->authorization != NULL)
		soup_message_headers_replace(headers, "Authorization", self->authorization);
	soup_message_set_request_body_from_bytes(msg, "application/json", body);
	return msg;
}

/* PalFlow.run_async: one turn, one POST */
static void
pal_http_flow_plugin_run_async(PalFlow *flow,
			       PalTurn *turn,
			       GCancellable *cancellable,
			       GAsyncReadyCallback callback,
			       gpointer user_data)
{
	PalHttpFlowPlugin *self = PAL_HTTP_FLOW_PLUGIN(flow);
	g_autoptr(GTask) task = g_task_new(flow, cancellable, callback, user_data);
	PalHttpFlowRequest *req;

	g_task_set_source_tag(task, pal_http_flow_plugin_run_async);
	if (g_task_return_error_if_cancelled(task))
		return;
	/* created in the thread that runs turns, never in setup() (PLATFORM-NOTES 11); an
	 * instance then serves that one worker thread (PalExtension) */
	if (self->client == NULL)
		self->client =
		    pal_http_client_new(self->max_connections, PAL_HTTP_FLOW_IDLE_TIMEOUT_S);

	req = g_new0(PalHttpFlowRequest, 1);
	req->turn = g_object_ref(turn);
	req->msg = pal_http_flow_plugin_new_message(self, pal_turn_get_message(turn));
	g_task_set_task_data(task, req, (GDestroyNotify)pal_http_flow_request_free);

	/* timeoutMs counts from now: a turn waiting for a free connection is waiting for its
	 * answer; the gateway's cancellable aborts the request, queued or sent */
	pal_http_client_fetch_async(self->client,
				    req->msg,
				    self->max_response_bytes,
				    self->timeout_ms,
				    cancellable,
				    pal_http_flow_plugin_fetch_cb,
				    g_steal_pointer(&task));
}

/* PalFlow.run_finish */
static gboolean
pal_http_flow_plugin_run_finish(PalFlow *flow, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, flow), FALSE);
	return g_task_propagate_boolean(G_TASK(result), error);
}

static void
pal_http_flow_plugin_flow_iface_init(PalFlowInterface *iface)
{
	iface->run_async = pal_http_flow_plugin_run_async;
	iface->run_finish = pal_http_flow_plugin_run_finish;
}

/* ---- the object ---- */

static void
pal_http_flow_plugin_dispose(GObject *object)
{
	PalHttpFlowPlugin *self = PAL_HTTP_FLOW_PLUGIN(object);

	g_clear_object(&self->client);
	G_OBJECT_CLASS(pal_http_flow_plugin_parent_class)->dispose(object);
}

static void
pal_http_flow_plugin_finalize(GObject *object)
{
	PalHttpFlowPlugin *self = PAL_HTTP_FLOW_PLUGIN(object);

	g_free(self->endpoint_name);
	g_clear_pointer(&self->uri, g_uri_unref);
	g_free(self->backend);
	g_ptr_array_unref(self->headers);
	g_free(self->user);
	g_free(self->authorization);
	g_free(self->fallback_text);
	g_clear_pointer(&self->fallback_data, json_object_unref);
	G_OBJECT_CLASS(pal_http_flow_plugin_parent_class)->finalize(object);
}

static void
pal_http_flow_plugin_class_init(PalHttpFlowPluginClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->dispose = pal_http_flow_plugin_dispose;
	object_class->finalize = pal_http_flow_plugin_finalize;
}

static void
pal_http_flow_plugin_init(PalHttpFlowPlugin *self)
{
	/* defaults, for options the endpoint does not set */
	self->contract = PAL_HTTP_FLOW_CONTRACT_GENERIC;
	self->timeout_ms = PAL_HTTP_FLOW_TIMEOUT_MS_DEFAULT;
	self->headers = g_ptr_array_new_with_free_func(g_free);
	self->fallback_enabled = TRUE;
	self->fallback_text = g_strdup(PAL_HTTP_FLOW_DEFAULT_FALLBACK_TEXT);
	self->max_response_bytes = PAL_HTTP_FLOW_MAX_RESPONSE_DEFAULT;
	self->max_outputs = PAL_HTTP_FLOW_MAX_OUTPUTS_DEFAULT;
	self->max_connections = PAL_HTTP_FLOW_MAX_CONNECTIONS_DEFAULT;
}

/* the one exported symbol: pal_plugin_http_get_desc() */
PAL_PLUGIN_DEFINE(http,
		  pal_http_flow_plugin_get_type,
		  PACKAGE_VERSION,
		  "LGPL-2.1-or-later",
		  "Forwards each input to an external bot backend (generic JSON or Rasa REST)")
