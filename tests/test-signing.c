/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Standard Webhooks signatures on deliveries (DESIGN.md §1.3, issue #3):
 * - pal_delivery_sign() against the published vectors in
 *   ../shared/conformance/standard-webhooks/vectors.json, exact string equality;
 * - real deliveries of the real palaverd checked with the official verifier, the npm package
 *   "standardwebhooks", through tests/node/verify.mjs.
 *
 * Nothing is skipped: without the vectors, node or tests/node/node_modules the tests fail and
 * say what to do (scripts/test installs node and runs npm install in tests/node).
 */
#include "config.h"

#include <signal.h>
#include <string.h>

#include "pal-delivery.h"
#include "pal-test-util.h"

#define TOKEN_A "token-aaaaaaaaaaaaaaaa"
#define TOKEN_B "token-bbbbbbbbbbbbbbbb"
#define TOKEN_C "token-cccccccccccccccc"

/* test secrets: 32-byte keys, and a 25-byte key written without its base64 padding, which the
 * endpoint parser must pad before pal_delivery_sign() decodes it */
#define SECRET_A "whsec_38d8BafAybNxC2aCy07vD8oxRqVvwXlMdf362SiOuiQ="
#define SECRET_B1 "whsec_vZXH9jYN0Mk0oBCbn/5oyEJJ9Ub6ei1v8nniPiTLo4c="
#define SECRET_B2 "whsec_9bWpdqJzPhZWLS8EMWyffLS66+UsQkse"
#define SECRET_C_UNPADDED "whsec_AwoRGB8mLTQ7QklQV15lbHN6gYiPlp2kqw"
#define SECRET_C_PADDED SECRET_C_UNPADDED "=="

/* a marker in the text of every message, so that a test can find and change a body byte */
#define PROBE "signing-probe"

/* ---- the published vectors ---------------------------------------------------------------- */

typedef struct {
	const gchar *secret;
	const gchar *id;
	gint64 timestamp;
	const gchar *payload;
	const gchar *signature;
} Vector;

static const gchar *
vector_string(JsonObject *o, const gchar *member, guint index)
{
	JsonNode *n = json_object_get_member(o, member);

	if (n == NULL || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
		g_error("vectors.json: vector %u has no string \"%s\"", index + 1, member);
	return json_node_get_string(n);
}

/* the vectors as a JSON array (a reference), or NULL after failing the test with the reason */
static JsonArray *
load_vectors(void)
{
	const gchar *root = g_getenv("PALAVER_SOURCE_ROOT");
	g_autofree gchar *path = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;
	JsonNode *node;

	if (root == NULL || root[0] == '\0') {
		g_test_fail_printf("PALAVER_SOURCE_ROOT is not set; run this test with meson test, which "
				   "sets it to the source root");
		return NULL;
	}
	path = g_build_filename(root, "..", "shared", "conformance", "standard-webhooks", "vectors.json", NULL);
	if (!g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
		g_test_fail_printf("the Standard Webhooks test vectors are missing: %s does not exist "
				   "(shared/ must be next to the repository, as it is in CI)",
				   path);
		return NULL;
	}
	if (!json_parser_load_from_file(parser, path, &error)) {
		g_test_fail_printf("%s: %s", path, error->message);
		return NULL;
	}
	node = json_parser_get_root(parser);
	if (node == NULL || !JSON_NODE_HOLDS_ARRAY(node) || json_array_get_length(json_node_get_array(node)) == 0) {
		g_test_fail_printf("%s: expected a non-empty JSON array of vectors", path);
		return NULL;
	}
	return json_array_ref(json_node_get_array(node));
}

static void
vector_get(JsonArray *vectors, guint index, Vector *v)
{
	JsonNode *n = json_array_get_element(vectors, index);
	JsonObject *o;
	JsonNode *ts;

	g_assert_true(JSON_NODE_HOLDS_OBJECT(n));
	o = json_node_get_object(n);
	v->secret = vector_string(o, "secret", index);
	v->id = vector_string(o, "id", index);
	v->payload = vector_string(o, "payload", index);
	v->signature = vector_string(o, "signature", index);
	ts = json_object_get_member(o, "timestamp");
	if (ts == NULL || !JSON_NODE_HOLDS_VALUE(ts) || json_node_get_value_type(ts) != G_TYPE_INT64)
		g_error("vectors.json: vector %u has no integer \"timestamp\"", index + 1);
	v->timestamp = json_node_get_int(ts);
}

/* pal_delivery_sign() of a payload given as a string, with up to two secrets */
static gchar *
sign_string(const gchar *secret1, const gchar *secret2, const gchar *id, gint64 timestamp, const gchar *payload)
{
	gchar *secrets[] = {(gchar *)secret1, (gchar *)secret2, NULL};
	g_autoptr(GBytes) body = g_bytes_new_static(payload, strlen(payload));

	return pal_delivery_sign(secrets, id, timestamp, body);
}

/* every published vector, signed with its one secret: exactly the published signature */
static void
test_vectors(void)
{
	g_autoptr(JsonArray) vectors = load_vectors();
	guint n;

	if (vectors == NULL)
		return;
	n = json_array_get_length(vectors);
	/* the README lists two; more is fine */
	g_assert_cmpuint(n, >=, 2);
	for (guint i = 0; i < n; i++) {
		Vector v;
		g_autofree gchar *sig = NULL;

		vector_get(vectors, i, &v);
		sig = sign_string(v.secret, NULL, v.id, v.timestamp, v.payload);
		g_test_message("vector %u: %s", i + 1, sig);
		g_assert_cmpstr(sig, ==, v.signature);
	}
}

/* two secrets (rotation): two signatures, space separated, in the order of the secrets, each
 * the one that secret alone gives */
static void
test_rotation(void)
{
	g_autoptr(JsonArray) vectors = load_vectors();
	Vector v1;
	Vector v2;

	if (vectors == NULL)
		return;
	g_assert_cmpuint(json_array_get_length(vectors), >=, 2);
	vector_get(vectors, 0, &v1);
	vector_get(vectors, 1, &v2);
	{
		/* vector 1's message: its published signature first, then the second secret's */
		g_autofree gchar *both = sign_string(v1.secret, v2.secret, v1.id, v1.timestamp, v1.payload);
		g_autofree gchar *second = sign_string(v2.secret, NULL, v1.id, v1.timestamp, v1.payload);
		g_autofree gchar *expected = g_strdup_printf("%s %s", v1.signature, second);
		g_auto(GStrv) parts = g_strsplit(both, " ", -1);

		g_assert_cmpstr(both, ==, expected);
		g_assert_cmpuint(g_strv_length(parts), ==, 2);
		g_assert_cmpstr(parts[0], ==, v1.signature);
		g_assert_cmpstr(parts[1], !=, v1.signature);
		g_assert_true(g_str_has_prefix(parts[1], "v1,"));
		g_assert_cmpuint(strlen(parts[1]), ==, strlen("v1,") + 44);
	}
	{
		/* vector 2's message: its published signature second */
		g_autofree gchar *both = sign_string(v1.secret, v2.secret, v2.id, v2.timestamp, v2.payload);
		g_auto(GStrv) parts = g_strsplit(both, " ", -1);

		g_assert_cmpuint(g_strv_length(parts), ==, 2);
		g_assert_cmpstr(parts[1], ==, v2.signature);
	}
	{
		/* the secrets swapped: the signatures swap too */
		g_autofree gchar *ab = sign_string(v1.secret, v2.secret, v1.id, v1.timestamp, v1.payload);
		g_autofree gchar *ba = sign_string(v2.secret, v1.secret, v1.id, v1.timestamp, v1.payload);
		g_auto(GStrv) p_ab = g_strsplit(ab, " ", -1);
		g_auto(GStrv) p_ba = g_strsplit(ba, " ", -1);

		g_assert_cmpuint(g_strv_length(p_ba), ==, 2);
		g_assert_cmpstr(p_ab[0], ==, p_ba[1]);
		g_assert_cmpstr(p_ab[1], ==, p_ba[0]);
	}
	{
		/* the same secret twice: the same signature twice */
		g_autofree gchar *twice = sign_string(v1.secret, v1.secret, v1.id, v1.timestamp, v1.payload);
		g_autofree gchar *expected = g_strdup_printf("%s %s", v1.signature, v1.signature);

		g_assert_cmpstr(twice, ==, expected);
	}
}

/* pal_delivery_sign() strips "whsec_" when it is there and base64-decodes the rest; without
 * the prefix the whole (padded) string is the base64 of the key, as in the official
 * libraries, so the signature is the same */
static void
test_secret_without_prefix(void)
{
	g_autoptr(JsonArray) vectors = load_vectors();

	if (vectors == NULL)
		return;
	for (guint i = 0; i < json_array_get_length(vectors); i++) {
		Vector v;
		g_autofree gchar *sig = NULL;

		vector_get(vectors, i, &v);
		g_assert_true(g_str_has_prefix(v.secret, "whsec_"));
		sig = sign_string(v.secret + strlen("whsec_"), NULL, v.id, v.timestamp, v.payload);
		g_assert_cmpstr(sig, ==, v.signature);
	}
}

/* no secret, no signature; an empty body is signed like any other */
/* a secret written without its base64 padding signs like the padded one (as the official
 * libraries do): a 25-byte key needs "==" */
static void
test_secret_without_padding(void)
{
	gchar *padded[] = {(gchar *)"whsec_AwoRGB8mLTQ7QklQV15lbHN6gYiPlp2kqw==", NULL};
	gchar *bare[] = {(gchar *)"whsec_AwoRGB8mLTQ7QklQV15lbHN6gYiPlp2kqw", NULL};
	g_autoptr(GBytes) body = g_bytes_new_static("{\"a\":1}", 7);
	g_autofree gchar *s1 = pal_delivery_sign(padded, "msg_x", 1700000000, body);
	g_autofree gchar *s2 = pal_delivery_sign(bare, "msg_x", 1700000000, body);

	g_assert_nonnull(s1);
	g_assert_cmpstr(s1, ==, s2);
}

static void
test_no_secret_and_empty_body(void)
{
	gchar *none[] = {NULL};
	g_autoptr(GBytes) body = g_bytes_new_static("{}", 2);
	g_autoptr(GBytes) empty = g_bytes_new(NULL, 0);
	g_autofree gchar *sig_empty = NULL;
	g_autofree gchar *sig_a = NULL;

	g_assert_null(pal_delivery_sign(NULL, "msg_x", 1, body));
	g_assert_null(pal_delivery_sign(none, "msg_x", 1, body));
	sig_empty = sign_string(SECRET_A, NULL, "msg_x", 1, "");
	g_assert_true(g_str_has_prefix(sig_empty, "v1,"));
	{
		gchar *secrets[] = {(gchar *)SECRET_A, NULL};
		g_autofree gchar *sig_bytes = pal_delivery_sign(secrets, "msg_x", 1, empty);

		g_assert_cmpstr(sig_bytes, ==, sig_empty);
	}
	/* id, timestamp and body are all signed */
	sig_a = sign_string(SECRET_A, NULL, "msg_x", 1, "{}");
	{
		g_autofree gchar *other_id = sign_string(SECRET_A, NULL, "msg_y", 1, "{}");
		g_autofree gchar *other_ts = sign_string(SECRET_A, NULL, "msg_x", 2, "{}");
		g_autofree gchar *other_body = sign_string(SECRET_A, NULL, "msg_x", 1, "{ }");

		g_assert_cmpstr(sig_a, !=, other_id);
		g_assert_cmpstr(sig_a, !=, other_ts);
		g_assert_cmpstr(sig_a, !=, other_body);
	}
}

/* ---- the official verifier (tests/node/verify.mjs) ----------------------------------------- */

typedef struct {
	gchar *node;
	gchar *script;
	GString *input;
	guint n_lines;
} Verifier;

static void
verifier_free(Verifier *self)
{
	g_free(self->node);
	g_free(self->script);
	g_string_free(self->input, TRUE);
	g_free(self);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Verifier, verifier_free)

/* node and the installed package, or NULL after failing the test with what to do */
static Verifier *
verifier_new(void)
{
	const gchar *root = g_getenv("PALAVER_SOURCE_ROOT");
	g_autofree gchar *node = g_find_program_in_path("node");
	g_autofree gchar *module = NULL;
	g_autofree gchar *script = NULL;
	Verifier *self;

	if (root == NULL || root[0] == '\0') {
		g_test_fail_printf("PALAVER_SOURCE_ROOT is not set; run this test with meson test, which "
				   "sets it to the source root");
		return NULL;
	}
	if (node == NULL) {
		g_test_fail_printf("node is not installed (not found in PATH): the official Standard "
				   "Webhooks verifier runs on it; run scripts/test, which installs node and "
				   "runs npm install in tests/node");
		return NULL;
	}
	module = g_build_filename(root, "tests", "node", "node_modules", "standardwebhooks", "package.json", NULL);
	if (!g_file_test(module, G_FILE_TEST_IS_REGULAR)) {
		g_test_fail_printf("the npm package standardwebhooks is not installed (%s is missing); "
				   "run scripts/test, which runs npm install in tests/node "
				   "(or: cd tests/node && npm install)",
				   module);
		return NULL;
	}
	script = g_build_filename(root, "tests", "node", "verify.mjs", NULL);
	g_assert_true(g_file_test(script, G_FILE_TEST_IS_REGULAR));
	self = g_new0(Verifier, 1);
	self->node = g_steal_pointer(&node);
	self->script = g_steal_pointer(&script);
	self->input = g_string_new(NULL);
	return self;
}

/* one input line for verify.mjs; @now (Unix seconds) fixes the library's clock when > 0 */
static void
verifier_add(Verifier *self,
	     const gchar *secret,
	     const gchar *id,
	     const gchar *timestamp,
	     const gchar *signature,
	     const gchar *body,
	     gsize body_len,
	     gint64 now)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autoptr(JsonNode) root = NULL;
	g_autofree gchar *body_str = g_strndup(body, body_len);
	g_autofree gchar *line = NULL;

	/* the body travels as a JSON string: it must be exactly representable as one */
	g_assert_cmpuint(strlen(body_str), ==, body_len);
	g_assert_true(g_utf8_validate(body_str, -1, NULL));
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "secret");
	json_builder_add_string_value(b, secret);
	json_builder_set_member_name(b, "headers");
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "webhook-id");
	json_builder_add_string_value(b, id);
	json_builder_set_member_name(b, "webhook-timestamp");
	json_builder_add_string_value(b, timestamp);
	json_builder_set_member_name(b, "webhook-signature");
	json_builder_add_string_value(b, signature);
	json_builder_end_object(b);
	json_builder_set_member_name(b, "body");
	json_builder_add_string_value(b, body_str);
	if (now > 0) {
		json_builder_set_member_name(b, "now");
		json_builder_add_int_value(b, now);
	}
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	json_generator_set_root(gen, root);
	line = json_generator_to_data(gen, NULL);
	g_assert_null(strchr(line, '\n'));
	g_string_append(self->input, line);
	g_string_append_c(self->input, '\n');
	self->n_lines++;
}

/* a delivery as received, verified with @secret */
static void
verifier_add_request(Verifier *self, const gchar *secret, PalReceivedRequest *req)
{
	GBytes *body = pal_received_request_get_body(req);
	gsize len = 0;
	const gchar *data = g_bytes_get_data(body, &len);

	verifier_add(self,
		     secret,
		     pal_received_request_get_header(req, "webhook-id"),
		     pal_received_request_get_header(req, "webhook-timestamp"),
		     pal_received_request_get_header(req, "webhook-signature"),
		     data,
		     len,
		     0);
}

/* runs node verify.mjs over the lines added so far; returns one answer per line */
static GStrv
verifier_run(Verifier *self)
{
	g_autoptr(GSubprocessLauncher) launcher =
	    pal_test_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
					     G_SUBPROCESS_FLAGS_STDERR_PIPE);
	g_autoptr(GSubprocess) p = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
	g_auto(GStrv) split = NULL;

	p = g_subprocess_launcher_spawn(launcher, &error, self->node, self->script, NULL);
	g_assert_no_error(error);
	g_assert_true(g_subprocess_communicate_utf8(p, self->input->str, NULL, &out, &err, &error));
	g_assert_no_error(error);
	if (err != NULL && err[0] != '\0')
		g_test_message("verify.mjs wrote to standard error: %s", err);
	g_assert_true(g_subprocess_get_if_exited(p));
	g_assert_cmpint(g_subprocess_get_exit_status(p), ==, 0);
	split = g_strsplit(out, "\n", -1);
	for (guint i = 0; split[i] != NULL; i++) {
		if (split[i][0] != '\0')
			g_ptr_array_add(lines, g_strdup(split[i]));
	}
	g_assert_cmpuint(lines->len, ==, self->n_lines);
	g_ptr_array_add(lines, NULL);
	g_string_truncate(self->input, 0);
	self->n_lines = 0;
	return (GStrv)g_ptr_array_free(g_steal_pointer(&lines), FALSE);
}

static void
assert_answer_ok(GStrv answers, guint index, const gchar *what)
{
	if (g_strcmp0(answers[index], "ok") != 0)
		g_test_message("verification %u (%s): %s", index + 1, what, answers[index]);
	g_assert_cmpstr(answers[index], ==, "ok");
}

static void
assert_answer_fail(GStrv answers, guint index, const gchar *what)
{
	g_test_message("verification %u (%s), expected to fail: %s", index + 1, what, answers[index]);
	g_assert_true(g_str_has_prefix(answers[index], "fail "));
}

/* signatures made by pal_delivery_sign() itself, checked by the official library with its
 * clock set to the message's timestamp: the vectors, rotation, no prefix, an empty and a
 * non-ASCII body; and the verifier does say "fail" */
static void
test_official_verifier_unit(void)
{
	g_autoptr(JsonArray) vectors = load_vectors();
	g_autoptr(Verifier) ver = NULL;
	g_auto(GStrv) answers = NULL;
	const gchar *utf8 = "{\"text\":\"gr\u00fc\u00dfe \\\"q\\\" \u2713 \\u2028\"}";
	Vector v1;
	Vector v2;
	guint n = 0;

	if (vectors == NULL)
		return;
	ver = verifier_new();
	if (ver == NULL)
		return;
	vector_get(vectors, 0, &v1);
	vector_get(vectors, 1, &v2);
	for (guint i = 0; i < json_array_get_length(vectors); i++) {
		Vector v;
		g_autofree gchar *sig = NULL;
		g_autofree gchar *ts = NULL;

		vector_get(vectors, i, &v);
		sig = sign_string(v.secret, NULL, v.id, v.timestamp, v.payload);
		ts = g_strdup_printf("%" G_GINT64_FORMAT, v.timestamp);
		verifier_add(ver, v.secret, v.id, ts, sig, v.payload, strlen(v.payload), v.timestamp);
		/* the same message, clock not fixed: too old */
		verifier_add(ver, v.secret, v.id, ts, sig, v.payload, strlen(v.payload), 0);
	}
	{
		g_autofree gchar *both = sign_string(v1.secret, v2.secret, v1.id, v1.timestamp, v1.payload);
		g_autofree gchar *ts = g_strdup_printf("%" G_GINT64_FORMAT, v1.timestamp);
		g_autofree gchar *empty = sign_string(SECRET_A, NULL, "msg_empty", 1700000000, "");
		g_autofree gchar *nonascii = sign_string(SECRET_B2, NULL, "msg_utf8", 1700000000, utf8);
		g_autofree gchar *noprefix = sign_string(v2.secret + 6, NULL, v2.id, v2.timestamp, v2.payload);
		g_autofree gchar *ts2 = g_strdup_printf("%" G_GINT64_FORMAT, v2.timestamp);

		verifier_add(ver, v1.secret, v1.id, ts, both, v1.payload, strlen(v1.payload), v1.timestamp);
		verifier_add(ver, v2.secret, v1.id, ts, both, v1.payload, strlen(v1.payload), v1.timestamp);
		verifier_add(ver, SECRET_A, "msg_empty", "1700000000", empty, "", 0, 1700000000);
		verifier_add(ver, SECRET_B2, "msg_utf8", "1700000000", nonascii, utf8, strlen(utf8), 1700000000);
		verifier_add(ver, v2.secret + 6, v2.id, ts2, noprefix, v2.payload, strlen(v2.payload), v2.timestamp);
		/* negative: a signature of vector 1 on vector 2's body; a secret not among the signers */
		verifier_add(ver, v1.secret, v1.id, ts, v1.signature, v2.payload, strlen(v2.payload), v1.timestamp);
		verifier_add(ver, SECRET_A, v1.id, ts, both, v1.payload, strlen(v1.payload), v1.timestamp);
	}
	answers = verifier_run(ver);
	for (guint i = 0; i < json_array_get_length(vectors); i++) {
		assert_answer_ok(answers, n++, "vector, clock fixed");
		assert_answer_fail(answers, n++, "vector, real clock");
		g_assert_nonnull(strstr(answers[n - 1], "too old"));
	}
	assert_answer_ok(answers, n++, "rotation, first secret");
	assert_answer_ok(answers, n++, "rotation, second secret");
	assert_answer_ok(answers, n++, "empty body");
	assert_answer_ok(answers, n++, "non-ASCII body");
	assert_answer_ok(answers, n++, "secret without whsec_");
	assert_answer_fail(answers, n++, "other body");
	assert_answer_fail(answers, n++, "wrong secret");
	g_assert_null(answers[n]);
}

/* ---- end to end: the real palaverd -------------------------------------------------------- */

static gchar *
endpoint_json(const gchar *name, const gchar *token, guint outputs, const gchar *url, const gchar *secret_json)
{
	return g_strdup_printf("{\"name\":\"%s\",\"URLToken\":\"%s\","
			       "\"flow\":{\"type\":\"echo\",\"outputs\":%u},"
			       "\"webhook\":{\"url\":\"%s\",\"signingSecret\":%s}}",
			       name,
			       token,
			       outputs,
			       url,
			       secret_json);
}

/* alpha: one secret (/hook-a); beta: two secrets, rotation (/hook-b); gamma: one secret
 * written without base64 padding (/hook-c) */
static PalTestDaemon *
start_daemon(PalTestReceiver *r, guint outputs)
{
	g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *url_a = pal_test_receiver_get_url(r, "/hook-a");
	g_autofree gchar *url_b = pal_test_receiver_get_url(r, "/hook-b");
	g_autofree gchar *url_c = pal_test_receiver_get_url(r, "/hook-c");
	g_autofree gchar *ep_a = endpoint_json("alpha", TOKEN_A, outputs, url_a, "\"" SECRET_A "\"");
	g_autofree gchar *ep_b =
	    endpoint_json("beta", TOKEN_B, outputs, url_b, "[\"" SECRET_B1 "\",\"" SECRET_B2 "\"]");
	g_autofree gchar *ep_c = endpoint_json("gamma", TOKEN_C, outputs, url_c, "\"" SECRET_C_UNPADDED "\"");

	pal_test_daemon_add_endpoint(d, "alpha.json", ep_a);
	pal_test_daemon_add_endpoint(d, "beta.json", ep_b);
	pal_test_daemon_add_endpoint(d, "gamma.json", ep_c);
	if (!pal_test_daemon_start(d, &error))
		g_error("palaverd did not start: %s", error->message);
	return g_steal_pointer(&d);
}

/* @text is inserted into the JSON as it is: already escaped */
static void
post_message(PalTestDaemon *d, const gchar *token, const gchar *session, const gchar *text)
{
	g_autofree gchar *url = g_strdup_printf("%s%s", pal_test_daemon_get_base_url(d), token);
	g_autofree gchar *body =
	    g_strdup_printf("{\"userId\":\"signer\",\"sessionId\":\"%s\",\"text\":\"%s\",\"data\":{\"n\":1}}",
			    session,
			    text);
	g_autofree gchar *answer = NULL;
	g_autoptr(GError) error = NULL;
	guint status = 0;

	g_assert_true(pal_test_http_post(url, "application/json", body, strlen(body), NULL, &status, &answer, &error));
	g_assert_no_error(error);
	if (status != 202)
		g_test_message("POST %s: %u %s", url, status, answer);
	g_assert_cmpuint(status, ==, 202);
}

/* the signature headers of one delivery: present once each, the timestamp within 5 s of now,
 * one "v1," signature per secret, each exactly what pal_delivery_sign() gives for the
 * received bytes */
static void
assert_signed_headers(PalReceivedRequest *req, const gchar *const *secrets)
{
	const gchar *names[] = {"webhook-id", "webhook-timestamp", "webhook-signature"};
	const gchar *id = pal_received_request_get_header(req, "webhook-id");
	const gchar *ts_str = pal_received_request_get_header(req, "webhook-timestamp");
	const gchar *sig = pal_received_request_get_header(req, "webhook-signature");
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	gint64 received = pal_received_request_get_real_time(req) / G_USEC_PER_SEC;
	guint64 ts = 0;
	g_auto(GStrv) parts = NULL;
	g_autofree gchar *expected = NULL;

	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autofree gchar *list = pal_received_request_dup_header_list(req, names[i]);
		const gchar *one = pal_received_request_get_header(req, names[i]);

		g_assert_nonnull(one);
		g_assert_cmpstr(list, ==, one);
	}
	g_assert_true(g_str_has_prefix(id, "msg_"));
	g_assert_true(g_ascii_string_to_unsigned(ts_str, 10, 0, G_MAXINT64, &ts, NULL));
	g_assert_cmpint(ABS((gint64)ts - now), <=, 5);
	g_assert_cmpint(ABS((gint64)ts - received), <=, 5);
	parts = g_strsplit(sig, " ", -1);
	g_assert_cmpuint(g_strv_length(parts), ==, g_strv_length((GStrv)secrets));
	for (guint i = 0; parts[i] != NULL; i++) {
		g_assert_true(g_str_has_prefix(parts[i], "v1,"));
		g_assert_cmpuint(strlen(parts[i]), ==, strlen("v1,") + 44);
	}
	expected = pal_delivery_sign((GStrv)secrets, id, (gint64)ts, pal_received_request_get_body(req));
	g_assert_cmpstr(sig, ==, expected);
}

/* real deliveries of three endpoints, verified by the official library: every delivery with
 * its secret, the rotation endpoint's with each of its two secrets, the unpadded secret as
 * written and padded; a changed body byte, a changed timestamp and a wrong secret fail */
static void
test_e2e_official_verifier(void)
{
	g_autoptr(Verifier) ver = verifier_new();
	g_autoptr(PalTestReceiver) r = NULL;
	g_autoptr(PalTestDaemon) d = NULL;
	g_autoptr(GPtrArray) reqs = NULL;
	g_autoptr(GHashTable) ids = g_hash_table_new(g_str_hash, g_str_equal);
	g_auto(GStrv) answers = NULL;
	const gchar *secrets_a[] = {SECRET_A, NULL};
	const gchar *secrets_b[] = {SECRET_B1, SECRET_B2, NULL};
	const gchar *secrets_c[] = {SECRET_C_PADDED, NULL};
	const gchar *tokens[] = {TOKEN_A, TOKEN_B, TOKEN_C};
	const gchar *texts[] = {
	    PROBE " hello",
	    /* escapes and non-ASCII: the signature covers the exact bytes */
	    PROBE " gr\u00fc\u00dfe \\\"q\\\" \u2713 </tag> & \\\\ \\u2028",
	};
	PalReceivedRequest *tampered_from = NULL;
	PalReceivedRequest *beta_one = NULL;
	guint n_a = 0, n_b = 0, n_c = 0;
	guint n = 0;

	if (ver == NULL)
		return;
	r = pal_test_receiver_new_started();
	d = start_daemon(r, 2);
	for (guint t = 0; t < G_N_ELEMENTS(tokens); t++) {
		for (guint m = 0; m < G_N_ELEMENTS(texts); m++)
			post_message(d, tokens[t], "s1", texts[m]);
	}
	/* 3 endpoints x 2 messages x 2 outputs */
	g_assert_true(pal_test_receiver_wait_count(r, 12, 20000));
	reqs = pal_test_receiver_dup_requests(r);
	g_assert_cmpuint(reqs->len, ==, 12);

	for (guint i = 0; i < reqs->len; i++) {
		PalReceivedRequest *req = g_ptr_array_index(reqs, i);
		const gchar *path = pal_received_request_get_path(req);
		const gchar *id = pal_received_request_get_header(req, "webhook-id");

		g_assert_cmpuint(pal_received_request_get_status(req), ==, 200);
		/* every output has its own webhook-id */
		g_assert_nonnull(id);
		g_assert_false(g_hash_table_contains(ids, id));
		g_hash_table_add(ids, (gpointer)id);
		if (g_strcmp0(path, "/hook-a") == 0) {
			assert_signed_headers(req, secrets_a);
			verifier_add_request(ver, SECRET_A, req);
			if (tampered_from == NULL)
				tampered_from = req;
			n_a++;
		} else if (g_strcmp0(path, "/hook-b") == 0) {
			assert_signed_headers(req, secrets_b);
			verifier_add_request(ver, SECRET_B1, req);
			verifier_add_request(ver, SECRET_B2, req);
			beta_one = req;
			n_b++;
		} else {
			g_assert_cmpstr(path, ==, "/hook-c");
			assert_signed_headers(req, secrets_c);
			verifier_add_request(ver, SECRET_C_UNPADDED, req);
			verifier_add_request(ver, SECRET_C_PADDED, req);
			n_c++;
		}
	}
	g_assert_cmpuint(n_a, ==, 4);
	g_assert_cmpuint(n_b, ==, 4);
	g_assert_cmpuint(n_c, ==, 4);

	/* negative checks */
	{
		GBytes *body = pal_received_request_get_body(tampered_from);
		gsize len = 0;
		const gchar *data = g_bytes_get_data(body, &len);
		g_autofree gchar *copy = g_strndup(data, len);
		gchar *probe = strstr(copy, PROBE);
		g_autofree gchar *later = NULL;
		guint64 ts = g_ascii_strtoull(pal_received_request_get_header(tampered_from, "webhook-timestamp"), NULL, 10);

		/* one body byte: "signing-probe" -> "Signing-probe" */
		g_assert_nonnull(probe);
		probe[0] = 'S';
		verifier_add(ver,
			     SECRET_A,
			     pal_received_request_get_header(tampered_from, "webhook-id"),
			     pal_received_request_get_header(tampered_from, "webhook-timestamp"),
			     pal_received_request_get_header(tampered_from, "webhook-signature"),
			     copy,
			     len,
			     0);
		/* the timestamp, one second later */
		later = g_strdup_printf("%" G_GUINT64_FORMAT, ts + 1);
		verifier_add(ver,
			     SECRET_A,
			     pal_received_request_get_header(tampered_from, "webhook-id"),
			     later,
			     pal_received_request_get_header(tampered_from, "webhook-signature"),
			     data,
			     len,
			     0);
		/* the rotation endpoint's delivery checked with alpha's secret */
		verifier_add_request(ver, SECRET_A, beta_one);
	}

	answers = verifier_run(ver);
	for (guint i = 0; i < reqs->len; i++) {
		PalReceivedRequest *req = g_ptr_array_index(reqs, i);
		const gchar *path = pal_received_request_get_path(req);
		g_autofree gchar *what = g_strdup_printf("delivery %u to %s", i + 1, path);

		assert_answer_ok(answers, n++, what);
		if (g_strcmp0(path, "/hook-a") != 0)
			assert_answer_ok(answers, n++, what);
	}
	assert_answer_fail(answers, n, "one body byte changed");
	g_assert_nonnull(strstr(answers[n++], "No matching signature"));
	assert_answer_fail(answers, n, "timestamp changed");
	g_assert_nonnull(strstr(answers[n++], "No matching signature"));
	assert_answer_fail(answers, n, "rotation delivery, a secret it does not have");
	g_assert_nonnull(strstr(answers[n++], "No matching signature"));
	g_assert_null(answers[n]);
	g_assert_true(pal_test_daemon_stop(d, SIGTERM, 10000, NULL, NULL));
}

/* a retried output: the same webhook-id and the same body on every attempt, a fresh
 * timestamp and a signature that verifies each time (one secret, and the rotation endpoint
 * with each of its secrets) */
static void
test_e2e_retry(void)
{
	g_autoptr(Verifier) ver = verifier_new();
	g_autoptr(PalTestReceiver) r = NULL;
	g_autoptr(PalTestDaemon) d = NULL;
	g_autoptr(GPtrArray) reqs = NULL;
	g_auto(GStrv) answers = NULL;
	const guint statuses[] = {500, 200, 500, 200};
	const gchar *secrets_a[] = {SECRET_A, NULL};
	const gchar *secrets_b[] = {SECRET_B1, SECRET_B2, NULL};
	guint n = 0;

	if (ver == NULL)
		return;
	r = pal_test_receiver_new_started();
	d = start_daemon(r, 1);
	pal_test_receiver_set_status_sequence(r, statuses, G_N_ELEMENTS(statuses));
	post_message(d, TOKEN_A, "retry-a", PROBE " retried");
	g_assert_true(pal_test_receiver_wait_count(r, 2, 20000));
	post_message(d, TOKEN_B, "retry-b", PROBE " retried too");
	g_assert_true(pal_test_receiver_wait_count(r, 4, 20000));
	/* nothing more: the 200 ended each output */
	g_usleep(500 * 1000);
	reqs = pal_test_receiver_dup_requests(r);
	g_assert_cmpuint(reqs->len, ==, 4);

	for (guint pair = 0; pair < 2; pair++) {
		PalReceivedRequest *first = g_ptr_array_index(reqs, pair * 2);
		PalReceivedRequest *second = g_ptr_array_index(reqs, pair * 2 + 1);
		const gchar *path = pair == 0 ? "/hook-a" : "/hook-b";
		const gchar *const *secrets = pair == 0 ? secrets_a : secrets_b;

		g_assert_cmpstr(pal_received_request_get_path(first), ==, path);
		g_assert_cmpstr(pal_received_request_get_path(second), ==, path);
		g_assert_cmpuint(pal_received_request_get_status(first), ==, 500);
		g_assert_cmpuint(pal_received_request_get_status(second), ==, 200);
		g_assert_cmpstr(pal_received_request_get_header(first, "webhook-id"),
				==,
				pal_received_request_get_header(second, "webhook-id"));
		g_assert_true(g_bytes_equal(pal_received_request_get_body(first), pal_received_request_get_body(second)));
		g_assert_cmpstr(pal_received_request_get_header(first, "Palaver-Session-Seq"),
				==,
				pal_received_request_get_header(second, "Palaver-Session-Seq"));
		assert_signed_headers(first, secrets);
		assert_signed_headers(second, secrets);
		for (guint s = 0; secrets[s] != NULL; s++) {
			verifier_add_request(ver, secrets[s], first);
			verifier_add_request(ver, secrets[s], second);
		}
	}
	answers = verifier_run(ver);
	/* alpha: 2 attempts x 1 secret; beta: 2 secrets x 2 attempts */
	for (guint i = 0; i < 6; i++)
		assert_answer_ok(answers, n++, i < 2 ? "alpha attempt" : "beta attempt");
	g_assert_null(answers[n]);
	g_assert_true(pal_test_daemon_stop(d, SIGTERM, 10000, NULL, NULL));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/palaver/signing/vectors", test_vectors);
	g_test_add_func("/palaver/signing/rotation", test_rotation);
	g_test_add_func("/palaver/signing/secret-without-prefix", test_secret_without_prefix);
	g_test_add_func("/palaver/signing/secret-without-padding", test_secret_without_padding);
	g_test_add_func("/palaver/signing/no-secret-and-empty-body", test_no_secret_and_empty_body);
	g_test_add_func("/palaver/signing/official-verifier-unit", test_official_verifier_unit);
	g_test_add_func("/palaver/signing/e2e-official-verifier", test_e2e_official_verifier);
	g_test_add_func("/palaver/signing/e2e-retry", test_e2e_retry);
	return g_test_run();
}
