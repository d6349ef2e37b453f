/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "pal-endpoint-set.h"
#include "pal-endpoint.h"
#include "pal-json-util.h"
#include "palaver.h"

/* tests of endpoint files (gateway/pal-endpoint.c), the endpoint set and the JSON helpers */

#define ORIGIN "/etc/palaver/endpoints.d/t.json"
#define TOKEN  "0123456789abcdef-TOKEN_x"
#define MINIMAL                                                                                    \
	"{\"name\":\"t\",\"URLToken\":\"" TOKEN "\",\"flow\":{\"type\":\"echo\"},"                 \
	"\"webhook\":{\"url\":\"\"}}"
#define SECRET_1 "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SECRET_2 "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"

static gchar *
data_path(const gchar *name)
{
	return g_test_build_filename(G_TEST_DIST, "data", "config", name, NULL);
}

static JsonNode *
parse_json(const gchar *json)
{
	g_autoptr(GError) error = NULL;
	JsonNode *root =
	    pal_json_parse_bounded(json, strlen(json), 1024 * 1024, 64, "test", &error);

	g_assert_no_error(error);
	g_assert_nonnull(root);
	return root;
}

static PalEndpoint *
endpoint_from_string(const gchar *json, GError **error)
{
	g_autoptr(JsonNode) root = parse_json(json);
	g_autofree gchar *base_dir = g_test_build_filename(G_TEST_DIST, "data", "config", NULL);

	return pal_endpoint_new_from_json(root, ORIGIN, base_dir, NULL, error);
}

/* MINIMAL with the member at @path ("webhook.timeoutMs") set to @value (JSON text) or, when
 * @value is NULL, removed; missing objects on the way are created */
static gchar *
minimal_with(const gchar *path, const gchar *value)
{
	g_autoptr(JsonNode) root = parse_json(MINIMAL);
	g_auto(GStrv) parts = g_strsplit(path, ".", -1);
	JsonObject *obj = json_node_get_object(root);
	guint n = g_strv_length(parts);

	for (guint i = 0; i + 1 < n; i++) {
		JsonNode *child = json_object_get_member(obj, parts[i]);
		if (child == NULL || !JSON_NODE_HOLDS_OBJECT(child)) {
			json_object_set_object_member(obj, parts[i], json_object_new());
			child = json_object_get_member(obj, parts[i]);
		}
		obj = json_node_get_object(child);
	}
	if (value == NULL)
		json_object_remove_member(obj, parts[n - 1]);
	else
		json_object_set_member(obj, parts[n - 1], parse_json(value));
	return json_to_string(root, FALSE);
}

static void
test_minimal(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = data_path("endpoints.d/minimal.json");
	g_autofree gchar *dir = g_path_get_dirname(path);
	g_autofree gchar *abs_dir = g_canonicalize_filename(dir, NULL);
	g_autoptr(PalEndpoint) endpoint =
	    pal_endpoint_new_from_file(path, "/usr/share/palaver", &error);
	PalEndpointInfo *info;

	g_assert_no_error(error);
	g_assert_nonnull(endpoint);
	g_assert_cmpstr(pal_endpoint_get_origin(endpoint), ==, path);
	g_assert_cmpstr(pal_endpoint_get_base_dir(endpoint), ==, abs_dir);
	g_assert_cmpstr(pal_endpoint_get_name(endpoint), ==, "minimal");
	g_assert_cmpstr(pal_endpoint_get_url_token(endpoint), ==, "minimal-token-0123456789");
	/* defaults of DESIGN.md §4 */
	g_assert_true(pal_endpoint_get_active(endpoint));
	g_assert_cmpstr(pal_endpoint_get_locale(endpoint), ==, "en");
	g_assert_cmpstr(pal_endpoint_get_flow_type(endpoint), ==, "echo");
	g_assert_nonnull(pal_endpoint_get_flow_options(endpoint));
	g_assert_cmpuint(json_object_get_size(pal_endpoint_get_flow_options(endpoint)), ==, 0);
	g_assert_null(pal_endpoint_get_nlu_type(endpoint));
	g_assert_null(pal_endpoint_get_nlu_options(endpoint));
	g_assert_cmpuint(json_array_get_length(pal_endpoint_get_transformers(endpoint)), ==, 0);
	g_assert_null(pal_endpoint_get_handover_type(endpoint));
	g_assert_null(pal_endpoint_get_handover_options(endpoint));
	g_assert_cmpstr(pal_endpoint_get_webhook_url(endpoint), ==, "");
	g_assert_null(pal_endpoint_get_webhook_user(endpoint));
	g_assert_null(pal_endpoint_get_webhook_password(endpoint));
	g_assert_cmpuint(pal_endpoint_get_webhook_headers(endpoint)->len, ==, 0);
	g_assert_cmpuint(g_strv_length(pal_endpoint_get_signing_secrets(endpoint)), ==, 0);
	g_assert_cmpuint(pal_endpoint_get_webhook_timeout_ms(endpoint), ==, 10000);
	g_assert_cmpuint(pal_endpoint_get_webhook_ttl_seconds(endpoint), ==, 600);
	g_assert_false(pal_endpoint_get_end_of_turn_event(endpoint));
	g_assert_cmpuint(g_strv_length(pal_endpoint_get_webhook_keys(endpoint)), ==, 0);
	g_assert_cmpuint(g_strv_length(pal_endpoint_get_api_keys(endpoint)), ==, 0);
	g_assert_false(pal_endpoint_get_mask_ip_address(endpoint));
	g_assert_false(pal_endpoint_get_mask_logging(endpoint));
	g_assert_false(pal_endpoint_get_mask_analytics(endpoint));
	g_assert_true(pal_endpoint_get_use_conversations(endpoint));
	g_assert_true(pal_endpoint_get_use_contact_profiles(endpoint));
	g_assert_true(pal_endpoint_get_use_analytics(endpoint));
	g_assert_cmpuint(pal_endpoint_get_state_ttl_days(endpoint), ==, 7);
	g_assert_cmpuint(pal_endpoint_get_inactivity_minutes(endpoint), ==, 0);

	info = pal_endpoint_get_info(endpoint);
	g_assert_cmpstr(pal_endpoint_info_get_name(info), ==, "minimal");
	g_assert_cmpstr(pal_endpoint_info_get_locale(info), ==, "en");
	g_assert_cmpstr(pal_endpoint_info_get_base_dir(info), ==, abs_dir);
	g_assert_false(pal_endpoint_info_get_mask_logging(info));
}

static void
test_full(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = data_path("endpoint-full.json");
	g_autoptr(PalEndpoint) endpoint = pal_endpoint_new_from_file(path, NULL, &error);
	JsonObject *options;
	JsonArray *transformers;
	GPtrArray *headers;
	GStrv secrets;

	g_assert_no_error(error);
	g_assert_nonnull(endpoint);
	g_assert_cmpstr(pal_endpoint_get_name(endpoint), ==, "support.v2_full-1");
	g_assert_cmpuint(strlen(pal_endpoint_get_url_token(endpoint)), ==, 65);
	g_assert_false(pal_endpoint_get_active(endpoint));
	g_assert_cmpstr(pal_endpoint_get_locale(endpoint), ==, "de-DE");

	/* plugin selections: "type" apart, the rest as options */
	g_assert_cmpstr(pal_endpoint_get_flow_type(endpoint), ==, "graph");
	options = pal_endpoint_get_flow_options(endpoint);
	g_assert_false(json_object_has_member(options, "type"));
	g_assert_cmpstr(json_object_get_string_member(options, "file"), ==, "flows/demo.json");
	g_assert_cmpstr(json_object_get_string_member(options, "start"), ==, "hello");
	g_assert_cmpint(
	    json_object_get_int_member(json_object_get_object_member(options, "limits"), "steps"),
	    ==,
	    10);
	g_assert_cmpstr(pal_endpoint_get_nlu_type(endpoint), ==, "intents");
	g_assert_cmpfloat(
	    json_object_get_double_member(pal_endpoint_get_nlu_options(endpoint), "threshold"),
	    ==,
	    0.7);
	transformers = pal_endpoint_get_transformers(endpoint);
	g_assert_cmpuint(json_array_get_length(transformers), ==, 2);
	g_assert_cmpstr(
	    json_object_get_string_member(json_array_get_object_element(transformers, 1), "type"),
	    ==,
	    "lua");
	g_assert_cmpstr(
	    json_object_get_string_member(json_array_get_object_element(transformers, 1), "script"),
	    ==,
	    "transformers/audit.lua");
	g_assert_cmpstr(pal_endpoint_get_handover_type(endpoint), ==, "webhook");
	g_assert_cmpstr(
	    json_object_get_string_member(pal_endpoint_get_handover_options(endpoint), "url"),
	    ==,
	    "http://desk.local/palaver");

	/* webhook, with the secrets read from files next to the endpoint file */
	g_assert_cmpstr(pal_endpoint_get_webhook_url(endpoint),
			==,
			"https://bot-client.example:8443/hook?channel=web");
	g_assert_cmpstr(pal_endpoint_get_webhook_user(endpoint), ==, "palaver");
	g_assert_cmpstr(pal_endpoint_get_webhook_password(endpoint),
			==,
			"pass word with spaces inside");
	headers = pal_endpoint_get_webhook_headers(endpoint);
	g_assert_cmpuint(headers->len, ==, 4);
	g_assert_cmpstr(g_ptr_array_index(headers, 0), ==, "X-Channel");
	g_assert_cmpstr(g_ptr_array_index(headers, 1), ==, "web");
	g_assert_cmpstr(g_ptr_array_index(headers, 2), ==, "X-Api-Key");
	g_assert_cmpstr(g_ptr_array_index(headers, 3), ==, "header-secret-value");
	secrets = pal_endpoint_get_signing_secrets(endpoint);
	g_assert_cmpuint(g_strv_length(secrets), ==, 2);
	g_assert_cmpstr(secrets[0], ==, SECRET_1);
	g_assert_cmpstr(secrets[1], ==, SECRET_2);
	g_assert_cmpuint(pal_endpoint_get_webhook_timeout_ms(endpoint), ==, 2500);
	g_assert_cmpuint(pal_endpoint_get_webhook_ttl_seconds(endpoint), ==, 3600);
	g_assert_true(pal_endpoint_get_end_of_turn_event(endpoint));

	g_assert_cmpuint(g_strv_length(pal_endpoint_get_webhook_keys(endpoint)), ==, 2);
	g_assert_cmpstr(pal_endpoint_get_webhook_keys(endpoint)[1], ==, "inbound-key-2");
	g_assert_cmpuint(g_strv_length(pal_endpoint_get_api_keys(endpoint)), ==, 1);
	g_assert_cmpstr(pal_endpoint_get_api_keys(endpoint)[0], ==, "api-key-1");

	g_assert_true(pal_endpoint_get_mask_ip_address(endpoint));
	g_assert_true(pal_endpoint_get_mask_logging(endpoint));
	g_assert_true(pal_endpoint_get_mask_analytics(endpoint));
	g_assert_false(pal_endpoint_get_use_conversations(endpoint));
	g_assert_false(pal_endpoint_get_use_contact_profiles(endpoint));
	g_assert_false(pal_endpoint_get_use_analytics(endpoint));
	g_assert_true(pal_endpoint_info_get_mask_logging(pal_endpoint_get_info(endpoint)));
	g_assert_cmpstr(pal_endpoint_info_get_locale(pal_endpoint_get_info(endpoint)), ==, "de-DE");
	g_assert_cmpuint(pal_endpoint_get_state_ttl_days(endpoint), ==, 30);
	g_assert_cmpuint(pal_endpoint_get_inactivity_minutes(endpoint), ==, 15);
}

/* the input is copied: changing it afterwards changes nothing */
static void
test_copied(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) root = parse_json("{\"name\":\"t\",\"URLToken\":\"" TOKEN
					      "\",\"flow\":{\"type\":\"echo\",\"x\":{\"y\":1}},"
					      "\"webhook\":{\"url\":\"\"}}");
	g_autoptr(PalEndpoint) endpoint =
	    pal_endpoint_new_from_json(root, ORIGIN, NULL, NULL, &error);
	JsonObject *flow = json_object_get_object_member(json_node_get_object(root), "flow");

	g_assert_no_error(error);
	json_object_set_int_member(json_object_get_object_member(flow, "x"), "y", 2);
	json_object_set_string_member(json_node_get_object(root), "name", "changed");
	g_assert_cmpstr(pal_endpoint_get_name(endpoint), ==, "t");
	g_assert_cmpint(
	    json_object_get_int_member(
		json_object_get_object_member(pal_endpoint_get_flow_options(endpoint), "x"),
		"y"),
	    ==,
	    1);
}

typedef struct {
	const gchar *path;     /* member to change in MINIMAL */
	const gchar *value;    /* JSON text, NULL = remove */
	const gchar *expected; /* in the message, after "ORIGIN: " */
} BadField;

static const BadField bad_fields[] = {
    /* required fields missing */
    {"name",
     NULL,
     "name: expected a string of 1 to 64 characters from A-Z a-z 0-9 . _ -, but it is missing"},
    {"URLToken",
     NULL,
     "URLToken: expected a string of 16 to 128 characters from A-Z a-z 0-9 _ -, but it is "
     "missing"},
    {"flow", NULL, "flow: expected an object with a string \"type\", but it is missing"},
    {"flow.type", NULL, "flow.type: expected a plugin name of 1 to 64 characters"},
    {"webhook", NULL, "webhook.url: expected \"\" (no delivery) or an http:// or https:// URL"},
    {"webhook.url", NULL, "webhook.url: expected \"\" (no delivery) or an http:// or https://"},
    /* name */
    {"name", "42", "name: expected a string of 1 to 64 characters from A-Z a-z 0-9 . _ -, got 42"},
    {"name",
     "null",
     "name: expected a string of 1 to 64 characters from A-Z a-z 0-9 . _ -, got null"},
    {"name",
     "\"\"",
     "name: expected a string of 1 to 64 characters from A-Z a-z 0-9 . _ -, got \"\""},
    {"name",
     "\"sup port\"",
     "name: expected a string of 1 to 64 characters from A-Z a-z 0-9 . _ -, got \"sup port\""},
    {"name", "\"s/x\"", "got \"s/x\""},
    {"name",
     "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
     "name: expected a string of 1 to 64 characters"},
    {"name",
     "[\"a\"]",
     "name: expected a string of 1 to 64 characters from A-Z a-z 0-9 . _ -, got an array"},
    /* URLToken: never echoed */
    {"URLToken",
     "1234567890123456789",
     "URLToken: expected a string of 16 to 128 characters from A-Z a-z 0-9 _ -, got a number"},
    {"URLToken",
     "\"short\"",
     "URLToken: expected a string of 16 to 128 characters from A-Z a-z 0-9 _ -, got a string of 5 "
     "characters"},
    {"URLToken",
     "\"0123456789abcdef0123!\"",
     "got a string of 21 characters with characters outside that set"},
    {"URLToken",
     "{}",
     "URLToken: expected a string of 16 to 128 characters from A-Z a-z 0-9 _ -, got an object"},
    /* active, locale */
    {"active", "\"yes\"", "active: expected true or false, got \"yes\""},
    {"active", "1", "active: expected true or false, got 1"},
    {"locale",
     "5",
     "locale: expected a language tag of 1 to 35 characters from A-Z a-z 0-9 _ -, got 5"},
    {"locale",
     "\"en US\"",
     "locale: expected a language tag of 1 to 35 characters from A-Z a-z 0-9 _ -, got \"en US\""},
    {"locale", "\"\"", "locale: expected a language tag"},
    /* plugin selections */
    {"flow", "\"echo\"", "flow: expected an object with a string \"type\", got \"echo\""},
    {"flow", "null", "flow: expected an object with a string \"type\", got null"},
    {"flow.type",
     "1",
     "flow.type: expected a plugin name of 1 to 64 characters from A-Z a-z 0-9 . _ -, got 1"},
    {"flow.type",
     "\"\"",
     "flow.type: expected a plugin name of 1 to 64 characters from A-Z a-z 0-9 . _ -, got \"\""},
    {"flow.type",
     "\"../evil\"",
     "flow.type: expected a plugin name of 1 to 64 characters from A-Z a-z 0-9 . _ -, got "
     "\"../evil\""},
    {"nlu", "[]", "nlu: expected an object with a string \"type\", got an array"},
    {"nlu",
     "{\"model\":\"x\"}",
     "nlu.type: expected a plugin name of 1 to 64 characters from A-Z a-z 0-9 . _ -, but it is "
     "missing"},
    {"handover", "true", "handover: expected an object with a string \"type\", got true"},
    {"handover.type",
     "false",
     "handover.type: expected a plugin name of 1 to 64 characters from A-Z a-z 0-9 . _ -, got "
     "false"},
    {"transformers",
     "{}",
     "transformers: expected an array of objects with a string \"type\", got an object"},
    {"transformers",
     "[{\"type\":\"lua\"},{\"type\":5}]",
     "transformers[1].type: expected a plugin name of 1 to 64 characters from A-Z a-z 0-9 . _ -, "
     "got 5"},
    {"transformers",
     "[{\"type\":\"lua\"},\"lua\"]",
     "transformers[1]: expected an object with a string \"type\", got \"lua\""},
    {"transformers",
     "[{\"script\":\"a.lua\"}]",
     "transformers[0].type: expected a plugin name of 1 to 64 characters from A-Z a-z 0-9 . _ -, "
     "but it is missing"},
    /* webhook */
    {"webhook",
     "\"http://x\"",
     "webhook: expected an object with a string \"url\", got \"http://x\""},
    {"webhook.url",
     "5",
     "webhook.url: expected \"\" (no delivery) or an http:// or https:// URL with a host, got 5"},
    {"webhook.url",
     "null",
     "webhook.url: expected \"\" (no delivery) or an http:// or https:// URL with a host, got "
     "null"},
    {"webhook.url",
     "\"ftp://host/x\"",
     "webhook.url: expected \"\" (no delivery) or an http:// or https:// URL with a host, got "
     "\"ftp://host/x\""},
    {"webhook.url", "\"http:///path\"", "got \"http:///path\""},
    {"webhook.url", "\"not a url\"", "got \"not a url\""},
    {"webhook.url", "\"/relative/hook\"", "got \"/relative/hook\""},
    {"webhook.url", "\"http://exa mple.com/\"", "got \"http://exa mple.com/\""},
    {"webhook.url", "\"http://host/a b\"", "got \"http://host/a b\""},
    {"webhook.url", "\"http://ho$t/\"", "got \"http://ho$t/\""},
    {"webhook.url", "\"http://host/\\nx\"", "webhook.url: expected \"\" (no delivery)"},
    {"webhook.user", "5", "webhook.user: expected a string, got 5"},
    {"webhook.user", "\"a\\nb\"", "webhook.user: expected a user name without control characters"},
    {"webhook.password", "12345", "webhook.password: expected a string, got a number"},
    {"webhook.passwordFile",
     "[]",
     "webhook.passwordFile: expected a file name, or \"credential:NAME\", got an array"},
    {"webhook.passwordFile",
     "\"missing.txt\"",
     "webhook.passwordFile: expected a readable file, got "},
    {"webhook.passwordFile",
     "\"secrets\"",
     "webhook.passwordFile: expected a regular file of at most 65536 bytes, got "},
    {"webhook.passwordFile",
     "\"secrets/empty.txt\"",
     "webhook.passwordFile: expected a file with a secret, got an empty file "},
    {"webhook.passwordFile",
     "\"credential:../x\"",
     "webhook.passwordFile: expected \"credential:\" followed by a credential name without '/', "
     "got \"credential:../x\""},
    {"webhook.headers", "[]", "webhook.headers: expected an object, got an array"},
    {"webhook.headers",
     "{\"X Bad\":\"1\"}",
     "webhook.headers[\"X Bad\"]: expected a header name made of letters, digits and "
     "!#$%&'*+-.^_`|~, got \"X Bad\""},
    {"webhook.headers",
     "{\"X-Ok\":\"a\\r\\nInjected: 1\"}",
     "webhook.headers.X-Ok: expected a header value of at most 8192 bytes without CR, LF or other "
     "control characters"},
    {"webhook.headers", "{\"X-Ok\":5}", "webhook.headers.X-Ok: expected a string, got 5"},
    {"webhook.headers",
     "{\"content-length\":\"5\"}",
     "webhook.headers.content-length: expected a header the gateway does not set itself, got "
     "\"content-length\""},
    {"webhook.headers",
     "{\"Webhook-Signature\":\"v1,x\"}",
     "webhook.headers.Webhook-Signature: expected a header the gateway does not set itself"},
    {"webhook.headers",
     "{\"Palaver-Session-Seq\":\"1\"}",
     "expected a header the gateway does not set itself"},
    {"webhook.signingSecret",
     "\"abc\"",
     "webhook.signingSecret: expected \"whsec_\" followed by the standard base64 of a 24 to 64 "
     "byte key, got a string of 3 characters that does not start with \"whsec_\""},
    {"webhook.signingSecret",
     "\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2La-_Sw\"",
     "got a secret with a character outside the base64 alphabet at position 35"},
    {"webhook.signingSecret", "\"whsec_AAAA\"", "got a secret that decodes to 3 bytes"},
    {"webhook.signingSecret",
     "\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwA\"",
     "got a secret whose base64 has a wrong length or padding"},
    {"webhook.signingSecret",
     "\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS===\"",
     "got a secret whose base64 has a wrong length or padding"},
    {"webhook.signingSecret",
     "[\"" SECRET_1 "\", 5]",
     "webhook.signingSecret[1]: expected \"whsec_\" followed by the standard base64 of a 24 to 64 "
     "byte key, got a number"},
    {"webhook.signingSecret",
     "{}",
     "webhook.signingSecret: expected \"whsec_\" followed by the standard base64 of a 24 to 64 "
     "byte key, or an array of them, got an object"},
    {"webhook.signingSecretFile",
     "\"secrets/bad-signing.txt\"",
     "webhook.signingSecretFile (secret 2 in the file): expected \"whsec_\" followed by the "
     "standard base64"},
    {"webhook.timeoutMs",
     "\"fast\"",
     "webhook.timeoutMs: expected an integer from 100 to 300000, got \"fast\""},
    {"webhook.timeoutMs",
     "99",
     "webhook.timeoutMs: expected an integer from 100 to 300000, got 99"},
    {"webhook.timeoutMs",
     "300001",
     "webhook.timeoutMs: expected an integer from 100 to 300000, got 300001"},
    {"webhook.timeoutMs",
     "-5",
     "webhook.timeoutMs: expected an integer from 100 to 300000, got -5"},
    {"webhook.timeoutMs",
     "150.5",
     "webhook.timeoutMs: expected an integer from 100 to 300000, got 150.5"},
    {"webhook.timeoutMs",
     "true",
     "webhook.timeoutMs: expected an integer from 100 to 300000, got true"},
    {"webhook.ttlSeconds", "0", "webhook.ttlSeconds: expected an integer from 1 to 604800, got 0"},
    {"webhook.ttlSeconds",
     "604801",
     "webhook.ttlSeconds: expected an integer from 1 to 604800, got 604801"},
    {"webhook.endOfTurnEvent",
     "\"no\"",
     "webhook.endOfTurnEvent: expected true or false, got \"no\""},
    /* auth */
    {"auth", "[]", "auth: expected an object, got an array"},
    {"auth.webhookKeys",
     "\"k\"",
     "auth.webhookKeys: expected an array of non-empty strings without control characters, got a "
     "string of 1 character"},
    {"auth.webhookKeys",
     "[\"a\",\"\"]",
     "auth.webhookKeys[1]: expected a non-empty string without control characters, got a string of "
     "0 characters"},
    {"auth.apiKeys",
     "[1]",
     "auth.apiKeys[0]: expected a non-empty string without control characters, got a number"},
    {"auth.apiKeys",
     "[\"a\\nb\"]",
     "auth.apiKeys[0]: expected a non-empty string without control characters, got a string of 3 "
     "characters"},
    /* dataProtection, session */
    {"dataProtection", "5", "dataProtection: expected an object, got 5"},
    {"dataProtection.maskLogging",
     "\"true\"",
     "dataProtection.maskLogging: expected true or false, got \"true\""},
    {"dataProtection.useAnalytics",
     "0",
     "dataProtection.useAnalytics: expected true or false, got 0"},
    {"session", "\"x\"", "session: expected an object, got \"x\""},
    {"session.stateTtlDays",
     "0",
     "session.stateTtlDays: expected an integer from 1 to 3650, got 0"},
    {"session.inactivityMinutes",
     "-1",
     "session.inactivityMinutes: expected an integer from 0 to 525600, got -1"},
    {"session.inactivityMinutes",
     "\"x\"",
     "session.inactivityMinutes: expected an integer from 0 to 525600, got \"x\""},
};

/* each missing required field and each wrong value fails with origin, JSON path, what was
 * expected and what was found */
static void
test_bad_fields(void)
{
	for (guint i = 0; i < G_N_ELEMENTS(bad_fields); i++) {
		const BadField *bad = &bad_fields[i];
		g_autoptr(GError) error = NULL;
		g_autofree gchar *json = minimal_with(bad->path, bad->value);
		g_autoptr(PalEndpoint) endpoint = NULL;

		if (g_test_verbose())
			g_printerr("case %u: %s = %s\n", i, bad->path, bad->value);
		endpoint = endpoint_from_string(json, &error);
		g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
		g_assert_null(endpoint);
		if (g_test_verbose())
			g_printerr("  %s\n", error->message);
		g_assert_true(g_str_has_prefix(error->message, ORIGIN ": "));
		g_assert_nonnull(strstr(error->message, bad->expected));
		/* no secret value ever reaches a message */
		g_assert_null(strstr(error->message, TOKEN));
		g_assert_null(strstr(error->message, "12345"));
		g_assert_null(strstr(error->message, "MfKQ9r8G"));
	}
}

static void
test_not_an_object(void)
{
	const gchar *cases[] = {"[]", "\"x\"", "null"};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(PalEndpoint) endpoint = endpoint_from_string(cases[i], &error);
		g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
		g_assert_null(endpoint);
		g_assert_true(g_str_has_prefix(error->message,
					       ORIGIN ": expected a JSON object at the top level"));
	}
}

/* valid variants: values at the limits, null for optional members, exported "" values */
static void
test_good_fields(void)
{
	const struct {
		const gchar *path;
		const gchar *value;
	} cases[] = {
	    {"webhook.timeoutMs", "100"},
	    {"webhook.timeoutMs", "300000"},
	    {"webhook.timeoutMs", "3000.0"},
	    {"webhook.ttlSeconds", "604800"},
	    {"webhook.url", "\"http://127.0.0.1:8081/hook\""},
	    {"webhook.url", "\"HTTPS://[::1]:8443/a?b=c\""},
	    {"webhook.url", "\"http://bücher.example/hook\""},
	    {"webhook.url", "\"http://192.0.2.1/hook#frag\""},
	    {"webhook.user", "\"\""},
	    {"webhook.password", "\"\""},
	    {"webhook.passwordFile", "\"\""},
	    {"webhook.signingSecret", "\"\""},
	    {"webhook.signingSecret", "null"},
	    {"webhook.signingSecret", "[]"},
	    {"webhook.headers", "{}"},
	    {"webhook.headers", "{\"Authorization\":\"Bearer x\"}"},
	    {"nlu", "null"},
	    {"transformers", "null"},
	    {"transformers", "[]"},
	    {"active", "null"},
	    {"locale", "\"pt_BR\""},
	    {"name", "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""},
	    {"URLToken", "\"0123456789abcdef\""},
	    {"session.stateTtlDays", "3650"},
	    {"session.inactivityMinutes", "0"},
	    {"auth.webhookKeys", "[]"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *json = minimal_with(cases[i].path, cases[i].value);
		g_autoptr(PalEndpoint) endpoint = endpoint_from_string(json, &error);

		if (error != NULL)
			g_printerr("case %u: %s\n", i, error->message);
		g_assert_no_error(error);
		g_assert_nonnull(endpoint);
	}
}

static void
test_signing_secrets(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *one = minimal_with("webhook.signingSecret", "\"" SECRET_1 "\"");
	g_autofree gchar *two =
	    minimal_with("webhook.signingSecret", "[\"" SECRET_2 "\", \"" SECRET_1 "\"]");
	/* unpadded base64 (32 bytes: 43 characters) is padded so every decoder agrees */
	g_autofree gchar *unpadded =
	    minimal_with("webhook.signingSecret",
			 "\"whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\"");
	g_autoptr(PalEndpoint) e1 = endpoint_from_string(one, &error);
	g_autoptr(PalEndpoint) e2 = NULL;
	g_autoptr(PalEndpoint) e3 = NULL;

	g_assert_no_error(error);
	g_assert_cmpuint(g_strv_length(pal_endpoint_get_signing_secrets(e1)), ==, 1);
	g_assert_cmpstr(pal_endpoint_get_signing_secrets(e1)[0], ==, SECRET_1);
	e2 = endpoint_from_string(two, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(g_strv_length(pal_endpoint_get_signing_secrets(e2)), ==, 2);
	g_assert_cmpstr(pal_endpoint_get_signing_secrets(e2)[0], ==, SECRET_2);
	g_assert_cmpstr(pal_endpoint_get_signing_secrets(e2)[1], ==, SECRET_1);
	e3 = endpoint_from_string(unpadded, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(pal_endpoint_get_signing_secrets(e3)[0],
			==,
			"whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
}

/* passwordFile/signingSecretFile: relative to the endpoint's folder, absolute, or a systemd
 * credential; both a value and a file is an error */
static void
test_secret_files(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *secrets_dir = data_path("secrets");
	g_autofree gchar *abs_password = g_build_filename(secrets_dir, "password.txt", NULL);
	g_autofree gchar *abs_json = g_strdup_printf("\"%s\"", abs_password);
	g_autofree gchar *relative =
	    minimal_with("webhook.passwordFile", "\"secrets/password.txt\"");
	g_autofree gchar *absolute = minimal_with("webhook.passwordFile", abs_json);
	g_autofree gchar *credential =
	    minimal_with("webhook.passwordFile", "\"credential:password.txt\"");
	g_autofree gchar *signing =
	    minimal_with("webhook.signingSecretFile", "\"credential:signing-secrets.txt\"");
	g_autoptr(PalEndpoint) endpoint = NULL;
	g_autoptr(JsonNode) root = NULL;
	g_autofree gchar *both = NULL;

	endpoint = endpoint_from_string(relative, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(pal_endpoint_get_webhook_password(endpoint),
			==,
			"pass word with spaces inside");
	g_clear_object(&endpoint);

	endpoint = endpoint_from_string(absolute, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(pal_endpoint_get_webhook_password(endpoint),
			==,
			"pass word with spaces inside");
	g_clear_object(&endpoint);

	/* endpoints without a file (D-Bus) cannot use relative paths */
	root = parse_json(relative);
	endpoint = pal_endpoint_new_from_json(root, "D-Bus", NULL, NULL, &error);
	g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
	g_assert_true(g_str_has_prefix(error->message,
				       "D-Bus: webhook.passwordFile: expected an absolute path"));
	g_clear_error(&error);

	/* systemd credentials */
	g_unsetenv("CREDENTIALS_DIRECTORY");
	endpoint = endpoint_from_string(credential, &error);
	g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message,
				ORIGIN ": webhook.passwordFile: expected $CREDENTIALS_DIRECTORY"));
	g_clear_error(&error);
	g_setenv("CREDENTIALS_DIRECTORY", secrets_dir, TRUE);
	endpoint = endpoint_from_string(credential, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(pal_endpoint_get_webhook_password(endpoint),
			==,
			"pass word with spaces inside");
	g_clear_object(&endpoint);
	endpoint = endpoint_from_string(signing, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(g_strv_length(pal_endpoint_get_signing_secrets(endpoint)), ==, 2);
	g_assert_cmpstr(pal_endpoint_get_signing_secrets(endpoint)[1], ==, SECRET_2);
	g_clear_object(&endpoint);
	g_unsetenv("CREDENTIALS_DIRECTORY");

	/* a value and a file */
	both = g_strdup("{\"name\":\"t\",\"URLToken\":\"" TOKEN "\",\"flow\":{\"type\":\"echo\"},"
			"\"webhook\":{\"url\":\"\",\"password\":\"p\",\"passwordFile\":\"secrets/"
			"password.txt\"}}");
	endpoint = endpoint_from_string(both, &error);
	g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message,
				ORIGIN
				": webhook.passwordFile: expected either webhook.password or "
				"webhook.passwordFile, got both"));
	g_clear_error(&error);
	g_free(both);
	both = g_strdup("{\"name\":\"t\",\"URLToken\":\"" TOKEN "\",\"flow\":{\"type\":\"echo\"},"
			"\"webhook\":{\"url\":\"\",\"signingSecret\":\"" SECRET_1 "\","
			"\"signingSecretFile\":\"secrets/signing-secrets.txt\"}}");
	endpoint = endpoint_from_string(both, &error);
	g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message,
				ORIGIN
				": webhook.signingSecretFile: expected either "
				"webhook.signingSecret or webhook.signingSecretFile, got both"));
}

static void
test_syntax_error(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = data_path("endpoint-syntax-error.json");
	g_autofree gchar *prefix = g_strconcat(path, ":4:", NULL);
	g_autoptr(PalEndpoint) endpoint = pal_endpoint_new_from_file(path, NULL, &error);

	g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
	g_assert_null(endpoint);
	if (g_test_verbose())
		g_printerr("%s\n", error->message);
	/* file:line:column: */
	g_assert_true(g_str_has_prefix(error->message, prefix));
	g_assert_true(g_ascii_isdigit(error->message[strlen(prefix)]));
	g_assert_nonnull(strstr(error->message, "expected"));
}

static gchar *
nested(const gchar *prefix, const gchar *open, guint n, const gchar *close, const gchar *suffix)
{
	GString *str = g_string_new(prefix);

	for (guint i = 0; i < n; i++)
		g_string_append(str, open);
	for (guint i = 0; i < n; i++)
		g_string_append(str, close);
	g_string_append(str, suffix);
	return g_string_free(str, FALSE);
}

/* the depth scan: exact at the limit, and never fooled by the lexical forms json-glib 1.6
 * accepts (each would let 100,000 levels reach the recursive parser and crash it) */
static void
test_json_depth(void)
{
	const struct {
		const gchar *prefix;
		const gchar *open;
		guint n;
		const gchar *close;
		const gchar *suffix;
		guint max_depth;
		gboolean ok;
	} cases[] = {
	    {"", "[", 64, "]", "", 64, TRUE},
	    {"", "[", 65, "]", "", 64, FALSE},
	    {"", "{\"a\":", 64, "}", "", 64, TRUE},
	    {"", "{\"a\":", 65, "}", "", 64, FALSE},
	    {"{\"a\":", "[", 63, "]", "}", 64, TRUE},
	    {"{\"a\":", "[", 64, "]", "}", 64, FALSE},
	    {"", "[", 100000, "]", "", 64, FALSE},
	    {"]]]]}}}}", "[", 64, "]", "", 64, TRUE}, /* stray closers do not lower the count */
	    /* brackets inside strings do not count */
	    {"[\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"]",
	     "",
	     0,
	     "",
	     "",
	     2,
	     TRUE},
	    {"['[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[']",
	     "",
	     0,
	     "",
	     "",
	     2,
	     TRUE},
	    /* escaped quote inside a string */
	    {"[\"a\\\"\",", "[", 100000, "]", "]", 64, FALSE},
	    /* escaped backslash, then the real end of the string */
	    {"[\"a\\\\\",", "[", 100000, "]", "]", 64, FALSE},
	    /* a single-quoted string holding a double quote (no escapes in '…') */
	    {"['\"', 'a\\',", "[", 100000, "]", "]", 64, FALSE},
	    /* a json-glib comment holding a double quote: / … / */
	    {"[1, / \" /", "[", 100000, "]", "]", 64, FALSE},
	    {"[1, /* \" */", "[", 100000, "]", "]", 64, FALSE},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(JsonNode) root = NULL;
		g_autofree gchar *data = nested(cases[i].prefix,
						cases[i].open,
						cases[i].n,
						cases[i].close,
						cases[i].suffix);
		gboolean ok = pal_json_check_depth(data, strlen(data), cases[i].max_depth, &error);

		if (g_test_verbose())
			g_printerr("case %u: %s\n", i, error != NULL ? error->message : "ok");
		g_assert_cmpint(ok, ==, cases[i].ok);
		if (!ok) {
			g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
			g_assert_nonnull(strstr(error->message, "JSON nesting is deeper than"));
			g_clear_error(&error);
			/* and the bounded parser refuses it too, instead of crashing */
			root = pal_json_parse_bounded(data,
						      strlen(data),
						      G_MAXSIZE,
						      cases[i].max_depth,
						      "body",
						      &error);
			g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
			g_assert_null(root);
		}
	}
}

static void
test_json_depth_position(void)
{
	g_autoptr(GError) error = NULL;
	const gchar *data = "{\n  \"a\": [[[\n]]]}";

	g_assert_false(pal_json_check_depth(data, strlen(data), 3, &error));
	g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
	g_assert_cmpstr(error->message,
			==,
			"line 2, column 10: JSON nesting is deeper than 3 levels");
	g_clear_error(&error);
	/* not NUL-terminated: only @len bytes are read */
	g_assert_true(pal_json_check_depth("[[]]]]]]", 2, 2, &error));
	g_assert_no_error(error);
	g_assert_true(pal_json_check_depth(NULL, 0, 1, &error));
	g_assert_no_error(error);
}

static void
test_json_parse_bounded(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) root = NULL;

	root = pal_json_parse_bounded("{\"a\":1}", 7, 6, 64, "body", &error);
	g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
	g_assert_cmpstr(error->message, ==, "body: expected at most 6 bytes, got 7");
	g_clear_error(&error);
	root = pal_json_parse_bounded("{\"a\":\n\"\xff\"}", 10, 1024, 64, "body", &error);
	g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
	g_assert_true(g_str_has_prefix(error->message, "body:2:2: expected UTF-8 text"));
	g_clear_error(&error);
	root = pal_json_parse_bounded("{\"a\":\0}", 7, 1024, 64, "body", &error);
	g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
	g_assert_true(g_str_has_prefix(error->message, "body:1:6: expected UTF-8 text"));
	g_clear_error(&error);
	root = pal_json_parse_bounded("  ", 2, 1024, 64, "body", &error);
	g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
	g_assert_cmpstr(error->message, ==, "body: expected a JSON value, got an empty document");
	g_clear_error(&error);
	root = pal_json_parse_bounded("{\n\"a\": x}", 9, 1024, 64, "body", &error);
	g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
	g_assert_true(g_str_has_prefix(error->message, "body:2:"));
	g_clear_error(&error);
	root = pal_json_parse_bounded("{\"a\":[1,2]}", 11, 1024, 64, "body", &error);
	g_assert_no_error(error);
	g_assert_true(JSON_NODE_HOLDS_OBJECT(root));
}

static gchar *
write_tmp(const gchar *dir, const gchar *name, const gchar *contents, gssize len)
{
	g_autoptr(GError) error = NULL;
	gchar *path = g_build_filename(dir, name, NULL);

	g_file_set_contents(path, contents, len, &error);
	g_assert_no_error(error);
	return path;
}

/* 100,000 nested arrays in an endpoint file: refused before json-glib sees them */
static void
test_deep_nesting(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *tmpdir = g_dir_make_tmp("palaver-endpoint-XXXXXX", &error);
	g_autofree gchar *data = nested("{\"name\":\"deep\",\"x\":", "[", 100000, "]", "}");
	g_autofree gchar *path = write_tmp(tmpdir, "deep.json", data, -1);
	g_autofree gchar *expected =
	    g_strdup_printf("%s:1:83: JSON nesting is deeper than 64 levels", path);
	g_autoptr(PalEndpoint) endpoint = pal_endpoint_new_from_file(path, NULL, &error);

	g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
	g_assert_null(endpoint);
	g_assert_cmpstr(error->message, ==, expected);
	g_assert_cmpint(g_unlink(path), ==, 0);
	g_assert_cmpint(g_rmdir(tmpdir), ==, 0);
}

static void
test_oversized(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *tmpdir = g_dir_make_tmp("palaver-endpoint-XXXXXX", &error);
	g_autofree gchar *padding = g_strnfill(1024 * 1024, ' ');
	g_autofree gchar *data = g_strconcat(MINIMAL, padding, NULL);
	g_autofree gchar *path = write_tmp(tmpdir, "big.json", data, -1);
	g_autofree gchar *expected =
	    g_strdup_printf("%s: expected at most 1048576 bytes, got %" G_GSIZE_FORMAT,
			    path,
			    strlen(data));
	g_autoptr(PalEndpoint) endpoint = pal_endpoint_new_from_file(path, NULL, &error);

	g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
	g_assert_null(endpoint);
	g_assert_cmpstr(error->message, ==, expected);
	g_assert_cmpint(g_unlink(path), ==, 0);
	g_clear_error(&error);

	/* not a regular file, and a missing one */
	endpoint = pal_endpoint_new_from_file(tmpdir, NULL, &error);
	g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "expected a regular file"));
	g_clear_error(&error);
	endpoint = pal_endpoint_new_from_file(path, NULL, &error);
	g_assert_error(error, PAL_ERROR, PAL_ERROR_NOT_FOUND);
	g_assert_true(g_str_has_prefix(error->message, path));
	g_assert_cmpint(g_rmdir(tmpdir), ==, 0);
}

static gboolean
json_contains(JsonNode *node, const gchar *needle)
{
	g_autofree gchar *str = json_to_string(node, FALSE);
	return strstr(str, needle) != NULL;
}

static void
test_redaction(void)
{
	g_autoptr(GError) error = NULL;
	const gchar *json =
	    "{\"name\":\"r\",\"URLToken\":\"" TOKEN "\","
	    "\"flow\":{\"type\":\"http\",\"url\":\"http://bot\",\"apiToken\":\"flow-secret-1\","
	    "\"nested\":{\"clientSecret\":\"flow-secret-2\",\"keyFile\":\"k.pem\"}},"
	    "\"transformers\":[{\"type\":\"lua\",\"password\":\"tr-secret-3\"}],"
	    "\"webhook\":{\"url\":\"https://u:url-secret-4@hook.example/x?y=1\","
	    "\"password\":\"pw-secret-5\",\"signingSecret\":[\"" SECRET_1 "\",\"" SECRET_2 "\"],"
	    "\"headers\":{\"Authorization\":\"Bearer hdr-secret-6\",\"X-Trace\":\"visible\"}},"
	    "\"auth\":{\"webhookKeys\":[\"wk-secret-7\",\"wk-secret-8\"],\"apiKeys\":[\"ak-secret-"
	    "9\"]}}";
	const gchar *hidden[] = {TOKEN,
				 "flow-secret-1",
				 "flow-secret-2",
				 "tr-secret-3",
				 "url-secret-4",
				 "pw-secret-5",
				 "MfKQ9r8G",
				 "C2FVsBQI",
				 "hdr-secret-6",
				 "wk-secret-7",
				 "wk-secret-8",
				 "ak-secret-9"};
	g_autoptr(PalEndpoint) endpoint = NULL;
	g_autoptr(JsonNode) redacted = NULL;
	g_autoptr(JsonNode) again = NULL;
	JsonObject *root;
	JsonObject *webhook;
	JsonArray *keys;

	endpoint = endpoint_from_string(json, &error);
	g_assert_no_error(error);
	redacted = pal_endpoint_to_json_redacted(endpoint);
	for (guint i = 0; i < G_N_ELEMENTS(hidden); i++) {
		if (json_contains(redacted, hidden[i]))
			g_error("%s is visible in the redacted JSON", hidden[i]);
	}
	root = json_node_get_object(redacted);
	g_assert_cmpstr(json_object_get_string_member(root, "URLToken"), ==, "***");
	g_assert_cmpstr(json_object_get_string_member(root, "name"), ==, "r");
	webhook = json_object_get_object_member(root, "webhook");
	g_assert_cmpstr(json_object_get_string_member(webhook, "password"), ==, "***");
	g_assert_cmpstr(json_object_get_string_member(webhook, "url"),
			==,
			"https://u:***@hook.example/x?y=1");
	keys = json_object_get_array_member(webhook, "signingSecret");
	g_assert_cmpuint(json_array_get_length(keys), ==, 2);
	g_assert_cmpstr(json_array_get_string_element(keys, 1), ==, "***");
	g_assert_cmpstr(
	    json_object_get_string_member(json_object_get_object_member(webhook, "headers"),
					  "X-Trace"),
	    ==,
	    "visible");
	keys = json_object_get_array_member(json_object_get_object_member(root, "auth"),
					    "webhookKeys");
	g_assert_cmpuint(json_array_get_length(keys), ==, 2);
	g_assert_cmpstr(json_array_get_string_element(keys, 0), ==, "***");
	g_assert_cmpstr(
	    json_object_get_string_member(
		json_object_get_object_member(json_object_get_object_member(root, "flow"),
					      "nested"),
		"keyFile"),
	    ==,
	    "k.pem");
	g_assert_cmpstr(
	    json_object_get_string_member(json_object_get_object_member(root, "flow"), "url"),
	    ==,
	    "http://bot");

	/* redaction works on a copy: the endpoint keeps its secrets, and a second call agrees */
	g_assert_cmpstr(pal_endpoint_get_webhook_password(endpoint), ==, "pw-secret-5");
	g_assert_cmpstr(pal_endpoint_get_url_token(endpoint), ==, TOKEN);
	again = pal_endpoint_to_json_redacted(endpoint);
	g_assert_true(json_node_equal(redacted, again));
}

/* the full example file: the secrets from files never reach the redacted JSON either */
static void
test_redaction_files(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = data_path("endpoint-full.json");
	g_autoptr(PalEndpoint) endpoint = pal_endpoint_new_from_file(path, NULL, &error);
	g_autoptr(JsonNode) redacted = NULL;

	g_assert_no_error(error);
	redacted = pal_endpoint_to_json_redacted(endpoint);
	g_assert_false(json_contains(redacted, pal_endpoint_get_url_token(endpoint)));
	g_assert_false(json_contains(redacted, "pass word"));
	g_assert_false(json_contains(redacted, "header-secret-value"));
	g_assert_false(json_contains(redacted, "inbound-key-1"));
	g_assert_false(json_contains(redacted, "api-key-1"));
	g_assert_true(json_contains(redacted, "secrets/password.txt"));
	g_assert_true(json_contains(redacted, "\"X-Channel\":\"web\""));
}

static void
test_secure_equal(void)
{
	g_assert_true(pal_secure_equal("abcdef", "abcdef"));
	g_assert_true(pal_secure_equal("", ""));
	g_assert_false(pal_secure_equal("abcdef", "abcdeg"));
	g_assert_false(pal_secure_equal("abcdef", "bbcdef"));
	g_assert_false(pal_secure_equal("abcdef", "abcde"));
	g_assert_false(pal_secure_equal("abcde", "abcdef"));
	g_assert_false(pal_secure_equal("abc", ""));
	g_assert_false(pal_secure_equal(NULL, "abc"));
	g_assert_false(pal_secure_equal("abc", NULL));
	g_assert_false(pal_secure_equal(NULL, NULL));
	g_assert_false(pal_secure_equal("\xff\x01", "\x7f\x01"));
}

static void
test_json_helpers(void)
{
	g_autofree gchar *p1 = pal_json_path_member("", "name");
	g_autofree gchar *p2 = pal_json_path_member("webhook", "timeoutMs");
	g_autofree gchar *p3 = pal_json_path_member("webhook.headers", "X y\"");
	g_autofree gchar *p4 = pal_json_path_index("transformers", 1);
	g_autofree gchar *q1 = pal_quote_for_message("a\"b\\c\nd\x01", 0);
	g_autofree gchar *q2 = pal_quote_for_message("äöüäöü", 3);
	g_autoptr(JsonNode) node = parse_json("[\"x\", 1, 1.5, true, null, {}, []]");
	JsonArray *array = json_node_get_array(node);
	const gchar *described[] = {"\"x\"", "1", "1.5", "true", "null", "an object", "an array"};

	g_assert_cmpstr(p1, ==, "name");
	g_assert_cmpstr(p2, ==, "webhook.timeoutMs");
	g_assert_cmpstr(p3, ==, "webhook.headers[\"X y\\\"\"]");
	g_assert_cmpstr(p4, ==, "transformers[1]");
	g_assert_cmpstr(q1, ==, "\"a\\\"b\\\\c\\nd\\u0001\"");
	g_assert_cmpstr(q2, ==, "\"äöü…\"");
	for (guint i = 0; i < G_N_ELEMENTS(described); i++) {
		g_autofree gchar *d = pal_json_describe_node(json_array_get_element(array, i));
		g_assert_cmpstr(d, ==, described[i]);
	}
}

/* unknown keys (hosted-product objects carry many) are ignored and logged once */
static void
test_unknown_keys(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(PalEndpoint) endpoint = NULL;
	const gchar *json =
	    "{\"name\":\"t\",\"URLToken\":\"" TOKEN "\",\"flow\":{\"type\":\"echo\"},"
	    "\"webhook\":{\"url\":\"\",\"retries\":3},\"_id\":\"x\",\"createdAt\":1}";

	g_test_expect_message("PalCore",
			      G_LOG_LEVEL_DEBUG,
			      ORIGIN ": ignoring unknown keys: _id, createdAt, webhook.retries");
	endpoint = endpoint_from_string(json, &error);
	g_test_assert_expected_messages();
	g_assert_no_error(error);
	g_assert_nonnull(endpoint);
}

static void
test_example(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path =
	    g_test_build_filename(G_TEST_DIST, "..", "data", "endpoints.d", "example.json", NULL);
	g_autoptr(PalEndpoint) endpoint = pal_endpoint_new_from_file(path, NULL, &error);

	g_assert_no_error(error);
	g_assert_cmpstr(pal_endpoint_get_name(endpoint), ==, "example");
	g_assert_cmpstr(pal_endpoint_get_flow_type(endpoint), ==, "echo");
	g_assert_cmpstr(pal_endpoint_get_webhook_url(endpoint), ==, "http://127.0.0.1:8081/hook");
	g_assert_true(pal_endpoint_get_active(endpoint));
}

/* endpoint set */

static PalEndpoint *
make_endpoint(const gchar *name, const gchar *token, const gchar *origin)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *json = g_strdup_printf("{\"name\":\"%s\",\"URLToken\":\"%s\","
						 "\"flow\":{\"type\":\"echo\"},"
						 "\"webhook\":{\"url\":\"\"}}",
						 name,
						 token);
	g_autoptr(JsonNode) root = parse_json(json);
	PalEndpoint *endpoint = pal_endpoint_new_from_json(root, origin, NULL, NULL, &error);

	g_assert_no_error(error);
	return endpoint;
}

/* two good files load, two broken ones give one error each naming the file; the others are
 * ignored (not *.json, hidden) */
static void
test_set_load_directory(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *dir = data_path("endpoints-mixed");
	g_autofree gchar *broken_syntax = g_build_filename(dir, "b-broken-syntax.json", NULL);
	g_autofree gchar *broken_field = g_build_filename(dir, "d-broken-field.json", NULL);
	g_autofree gchar *missing = g_build_filename(dir, "missing", NULL);
	g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func((GDestroyNotify)g_error_free);
	g_autoptr(PalEndpointSet) set = pal_endpoint_set_new();
	g_autoptr(GPtrArray) all = NULL;
	GError *e;

	g_assert_true(
	    pal_endpoint_set_load_directory(set, dir, "/usr/share/palaver", errors, &error));
	g_assert_no_error(error);
	all = pal_endpoint_set_get_all(set);
	g_assert_cmpuint(all->len, ==, 2);
	g_assert_cmpstr(pal_endpoint_get_name(g_ptr_array_index(all, 0)), ==, "alpha");
	g_assert_cmpstr(pal_endpoint_get_name(g_ptr_array_index(all, 1)), ==, "charlie");
	g_assert_cmpuint(errors->len, ==, 2);
	for (guint i = 0; i < errors->len; i++) {
		e = g_ptr_array_index(errors, i);
		if (g_test_verbose())
			g_printerr("%s\n", e->message);
	}
	/* sorted by file name: b before d */
	e = g_ptr_array_index(errors, 0);
	g_assert_error(e, PAL_ERROR, PAL_ERROR_INVALID_DATA);
	g_assert_true(g_str_has_prefix(e->message, broken_syntax));
	g_assert_true(g_ascii_isdigit(e->message[strlen(broken_syntax) + 1])); /* :line: */
	e = g_ptr_array_index(errors, 1);
	g_assert_error(e, PAL_ERROR, PAL_ERROR_INVALID_DATA);
	g_assert_true(g_str_has_prefix(e->message, broken_field));
	g_assert_nonnull(strstr(e->message, ": webhook.timeoutMs: expected an integer"));

	g_assert_nonnull(pal_endpoint_set_lookup_name(set, "alpha"));
	g_assert_nonnull(pal_endpoint_set_lookup_token(set, "charlie-token-0123456789"));

	/* errors may be ignored */
	g_clear_object(&set);
	set = pal_endpoint_set_new();
	g_assert_true(pal_endpoint_set_load_directory(set, dir, NULL, NULL, &error));
	g_assert_no_error(error);

	/* an unreadable folder is the only failure */
	g_assert_false(pal_endpoint_set_load_directory(set, missing, NULL, errors, &error));
	g_assert_error(error, PAL_ERROR, PAL_ERROR_NOT_FOUND);
	g_assert_nonnull(strstr(error->message, missing));
}

static void
test_set_duplicates(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(PalEndpointSet) set = pal_endpoint_set_new();
	g_autoptr(PalEndpoint) a = make_endpoint("a", "token-aaaaaaaaaaaaaaaa", "/e/a.json");
	g_autoptr(PalEndpoint) a2 = make_endpoint("a", "token-bbbbbbbbbbbbbbbb", "/e/a2.json");
	g_autoptr(PalEndpoint) b = make_endpoint("b", "token-aaaaaaaaaaaaaaaa", "/e/b.json");

	g_assert_true(pal_endpoint_set_add(set, a, &error));
	g_assert_no_error(error);

	g_assert_false(pal_endpoint_set_add(set, a2, &error));
	g_assert_error(error, PAL_ERROR, PAL_ERROR_EXISTS);
	g_assert_cmpstr(error->message,
			==,
			"/e/a2.json: name: the endpoint name \"a\" is already used by /e/a.json");
	g_clear_error(&error);

	g_assert_false(pal_endpoint_set_add(set, b, &error));
	g_assert_error(error, PAL_ERROR, PAL_ERROR_EXISTS);
	g_assert_nonnull(strstr(error->message, "/e/b.json"));
	g_assert_nonnull(strstr(error->message, "/e/a.json"));
	g_assert_null(strstr(error->message, "token-aaaa"));
	g_clear_error(&error);

	/* nothing of the refused ones was kept */
	g_assert_true(pal_endpoint_set_lookup_name(set, "a") == a);
	g_assert_null(pal_endpoint_set_lookup_name(set, "b"));
	g_assert_null(pal_endpoint_set_lookup_token(set, "token-bbbbbbbbbbbbbbbb"));
	g_assert_true(pal_endpoint_set_lookup_token(set, "token-aaaaaaaaaaaaaaaa") == a);
}

static void
test_set_lookup(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(PalEndpointSet) set = pal_endpoint_set_new();
	g_autoptr(PalEndpoint) a = make_endpoint("zulu", "token-aaaaaaaaaaaaaaaa", "/e/z.json");
	g_autoptr(PalEndpoint) b = make_endpoint("alpha", "token-bbbbbbbbbbbbbbbb", "/e/a.json");
	g_autoptr(GPtrArray) all = NULL;

	g_assert_true(pal_endpoint_set_add(set, a, &error));
	g_assert_true(pal_endpoint_set_add(set, b, &error));
	g_assert_no_error(error);

	/* hits */
	g_assert_true(pal_endpoint_set_lookup_token(set, "token-aaaaaaaaaaaaaaaa") == a);
	g_assert_true(pal_endpoint_set_lookup_token(set, "token-bbbbbbbbbbbbbbbb") == b);
	g_assert_true(pal_endpoint_set_lookup_name(set, "zulu") == a);
	/* misses: same length, prefix, longer, empty, NULL */
	g_assert_null(pal_endpoint_set_lookup_token(set, "token-aaaaaaaaaaaaaaab"));
	g_assert_null(pal_endpoint_set_lookup_token(set, "token-aaaaaaaaaaaaaaa"));
	g_assert_null(pal_endpoint_set_lookup_token(set, "token-aaaaaaaaaaaaaaaaa"));
	g_assert_null(pal_endpoint_set_lookup_token(set, ""));
	g_assert_null(pal_endpoint_set_lookup_token(set, NULL));
	g_assert_null(pal_endpoint_set_lookup_name(set, "zulu2"));
	g_assert_null(pal_endpoint_set_lookup_name(set, NULL));

	/* sorted by name */
	all = pal_endpoint_set_get_all(set);
	g_assert_cmpuint(all->len, ==, 2);
	g_assert_true(g_ptr_array_index(all, 0) == b);
	g_assert_true(g_ptr_array_index(all, 1) == a);

	/* remove drops both the name and the token */
	g_assert_true(pal_endpoint_set_remove(set, "zulu"));
	g_assert_false(pal_endpoint_set_remove(set, "zulu"));
	g_assert_null(pal_endpoint_set_lookup_name(set, "zulu"));
	g_assert_null(pal_endpoint_set_lookup_token(set, "token-aaaaaaaaaaaaaaaa"));
	/* the array holds its own references */
	g_assert_true(g_ptr_array_index(all, 1) == a);
	g_clear_pointer(&all, g_ptr_array_unref);
	all = pal_endpoint_set_get_all(set);
	g_assert_cmpuint(all->len, ==, 1);
	/* the name and the token are free again */
	g_assert_true(pal_endpoint_set_add(set, a, &error));
	g_assert_no_error(error);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/palaver/endpoint/minimal", test_minimal);
	g_test_add_func("/palaver/endpoint/full", test_full);
	g_test_add_func("/palaver/endpoint/copied", test_copied);
	g_test_add_func("/palaver/endpoint/bad-fields", test_bad_fields);
	g_test_add_func("/palaver/endpoint/not-an-object", test_not_an_object);
	g_test_add_func("/palaver/endpoint/good-fields", test_good_fields);
	g_test_add_func("/palaver/endpoint/signing-secrets", test_signing_secrets);
	g_test_add_func("/palaver/endpoint/secret-files", test_secret_files);
	g_test_add_func("/palaver/endpoint/syntax-error", test_syntax_error);
	g_test_add_func("/palaver/endpoint/deep-nesting", test_deep_nesting);
	g_test_add_func("/palaver/endpoint/oversized", test_oversized);
	g_test_add_func("/palaver/endpoint/redaction", test_redaction);
	g_test_add_func("/palaver/endpoint/redaction-files", test_redaction_files);
	g_test_add_func("/palaver/endpoint/unknown-keys", test_unknown_keys);
	g_test_add_func("/palaver/endpoint/example", test_example);
	g_test_add_func("/palaver/endpoint/json-depth", test_json_depth);
	g_test_add_func("/palaver/endpoint/json-depth-position", test_json_depth_position);
	g_test_add_func("/palaver/endpoint/json-parse-bounded", test_json_parse_bounded);
	g_test_add_func("/palaver/endpoint/json-helpers", test_json_helpers);
	g_test_add_func("/palaver/endpoint/secure-equal", test_secure_equal);
	g_test_add_func("/palaver/endpoint/set-load-directory", test_set_load_directory);
	g_test_add_func("/palaver/endpoint/set-duplicates", test_set_duplicates);
	g_test_add_func("/palaver/endpoint/set-lookup", test_set_lookup);
	return g_test_run();
}
