/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* the validation rules of DESIGN.md §1.1, table-driven, on the function the daemon uses */
#include "config.h"

#include <string.h>

#include "pal-inbound.h"

typedef struct {
	const gchar *name;
	const gchar *body;
	guint status; /* 0 = accepted */
	const gchar *code;
	const gchar *field;
} Case;

static const Case cases[] = {
    {"minimal-text", "{\"userId\":\"u\",\"sessionId\":\"s\",\"text\":\"hi\"}", 0, NULL, NULL},
    {"minimal-data", "{\"userId\":\"u\",\"sessionId\":\"s\",\"data\":{\"k\":1}}", 0, NULL, NULL},
    {"both", "{\"userId\":\"u\",\"sessionId\":\"s\",\"text\":\"hi\",\"data\":{}}", 0, NULL, NULL},
    {"extra-keys", "{\"userId\":\"u\",\"sessionId\":\"s\",\"text\":\"\",\"channel\":\"x\"}", 0, NULL, NULL},
    {"unicode-ids", "{\"userId\":\"ü😀\",\"sessionId\":\"s\",\"text\":\"grüß\"}", 0, NULL, NULL},
    {"text-wrong-type-data-ok", "{\"userId\":\"u\",\"sessionId\":\"s\",\"text\":5,\"data\":{}}", 0, NULL, NULL},
    {"empty-body", "", 400, "malformed_json", NULL},
    {"not-json", "hello", 400, "malformed_json", NULL},
    {"truncated", "{\"userId\":\"u\"", 400, "malformed_json", NULL},
    {"array-root", "[1,2]", 400, "not_an_object", NULL},
    {"string-root", "\"x\"", 400, "not_an_object", NULL},
    {"missing-user", "{\"sessionId\":\"s\",\"text\":\"hi\"}", 400, "missing_field", "userId"},
    {"null-user", "{\"userId\":null,\"sessionId\":\"s\",\"text\":\"hi\"}", 400, "missing_field", "userId"},
    {"empty-user", "{\"userId\":\"\",\"sessionId\":\"s\",\"text\":\"hi\"}", 400, "invalid_field", "userId"},
    {"number-user", "{\"userId\":7,\"sessionId\":\"s\",\"text\":\"hi\"}", 400, "invalid_field", "userId"},
    {"object-user", "{\"userId\":{},\"sessionId\":\"s\",\"text\":\"hi\"}", 400, "invalid_field", "userId"},
    {"missing-session", "{\"userId\":\"u\",\"text\":\"hi\"}", 400, "missing_field", "sessionId"},
    {"empty-session", "{\"userId\":\"u\",\"sessionId\":\"\",\"text\":\"hi\"}", 400, "invalid_field", "sessionId"},
    {"bool-session", "{\"userId\":\"u\",\"sessionId\":true,\"text\":\"hi\"}", 400, "invalid_field", "sessionId"},
    {"no-text-no-data", "{\"userId\":\"u\",\"sessionId\":\"s\"}", 400, "missing_text_or_data", "text"},
    {"text-number-only", "{\"userId\":\"u\",\"sessionId\":\"s\",\"text\":42}", 400, "missing_text_or_data", "text"},
    {"data-array-only", "{\"userId\":\"u\",\"sessionId\":\"s\",\"data\":[1]}", 400, "missing_text_or_data", "data"},
    {"data-string-only", "{\"userId\":\"u\",\"sessionId\":\"s\",\"data\":\"x\"}", 400, "missing_text_or_data", "data"},
    {"both-invalid", "{\"userId\":\"u\",\"sessionId\":\"s\",\"text\":null,\"data\":null}", 400, "missing_text_or_data", "text"},
};

static void
test_table(void)
{
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		const Case *c = &cases[i];
		PalInboundError err = {0};
		g_autoptr(PalMessage) msg =
		    pal_inbound_parse(PAL_MESSAGE_KIND_USER, c->body, strlen(c->body), 1 << 20, 64, &err);

		g_test_message("case %s", c->name);
		if (c->status == 0) {
			g_assert_nonnull(msg);
			g_assert_cmpuint(err.status, ==, 0);
			g_assert_nonnull(pal_message_get_user_id(msg));
		} else {
			g_assert_null(msg);
			g_assert_cmpuint(err.status, ==, c->status);
			g_assert_cmpstr(err.code, ==, c->code);
			g_assert_cmpstr(err.field, ==, c->field);
			g_assert_nonnull(err.message);
			g_assert_cmpuint(strlen(err.message), >, 10);
		}
		pal_inbound_error_clear(&err);
	}
}

static gchar *
repeat(const gchar *unit, guint n)
{
	GString *s = g_string_new(NULL);

	for (guint i = 0; i < n; i++)
		g_string_append(s, unit);
	return g_string_free(s, FALSE);
}

static void
test_lengths(void)
{
	/* limits count characters, not bytes: 256 'é' (512 bytes) is fine, 257 is not */
	g_autofree gchar *id256 = repeat("é", 256);
	g_autofree gchar *id257 = repeat("é", 257);
	g_autofree gchar *text10k = repeat("ä", 10000);
	g_autofree gchar *text10k1 = repeat("a", 10001);
	struct {
		const gchar *user;
		const gchar *session;
		const gchar *text;
		guint status;
		const gchar *field;
	} rows[] = {
	    {id256, "s", "t", 0, NULL},
	    {id257, "s", "t", 400, "userId"},
	    {"u", id256, "t", 0, NULL},
	    {"u", id257, "t", 400, "sessionId"},
	    {"u", "s", text10k, 0, NULL},
	    {"u", "s", text10k1, 400, "text"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(rows); i++) {
		g_autofree gchar *body =
		    g_strdup_printf("{\"userId\":\"%s\",\"sessionId\":\"%s\",\"text\":\"%s\"}",
				    rows[i].user,
				    rows[i].session,
				    rows[i].text);
		PalInboundError err = {0};
		g_autoptr(PalMessage) msg =
		    pal_inbound_parse(PAL_MESSAGE_KIND_USER, body, strlen(body), 1 << 20, 64, &err);

		g_assert_cmpuint(err.status, ==, rows[i].status);
		g_assert_cmpstr(err.field, ==, rows[i].field);
		if (rows[i].status == 400)
			g_assert_cmpstr(err.code, ==, "field_too_long");
		else
			g_assert_nonnull(msg);
		pal_inbound_error_clear(&err);
	}
}

static void
test_utf8(void)
{
	const gchar body[] = "{\"userId\":\"u\xff\",\"sessionId\":\"s\",\"text\":\"x\"}";
	PalInboundError err = {0};
	g_autoptr(PalMessage) msg =
	    pal_inbound_parse(PAL_MESSAGE_KIND_USER, body, sizeof(body) - 1, 1 << 20, 64, &err);

	g_assert_null(msg);
	g_assert_cmpuint(err.status, ==, 400);
	g_assert_cmpstr(err.code, ==, "invalid_utf8");
	g_assert_nonnull(strstr(err.message, "offset 12"));
	pal_inbound_error_clear(&err);
}

static void
test_depth(void)
{
	/* 100,000 nested arrays crash json-glib 1.6 (PLATFORM-NOTES 13): refused before parsing */
	g_autofree gchar *open = repeat("[", 100000);
	g_autofree gchar *close = repeat("]", 100000);
	g_autofree gchar *deep =
	    g_strdup_printf("{\"userId\":\"u\",\"sessionId\":\"s\",\"data\":{\"x\":%s%s}}", open, close);
	g_autofree gchar *open64 = repeat("[", 62);
	g_autofree gchar *close64 = repeat("]", 62);
	g_autofree gchar *ok =
	    g_strdup_printf("{\"userId\":\"u\",\"sessionId\":\"s\",\"data\":{\"x\":%s%s}}", open64, close64);
	/* brackets inside strings do not count */
	const gchar *in_string = "{\"userId\":\"[[[[[[[[\",\"sessionId\":\"s\",\"text\":\"[[[[[[[[[[[[[\"}";
	PalInboundError err = {0};
	g_autoptr(PalMessage) m1 = pal_inbound_parse(PAL_MESSAGE_KIND_USER, deep, strlen(deep), 1 << 20, 64, &err);
	g_autoptr(PalMessage) m2 = NULL;
	g_autoptr(PalMessage) m3 = NULL;

	g_assert_null(m1);
	g_assert_cmpuint(err.status, ==, 400);
	g_assert_cmpstr(err.code, ==, "too_deep");
	pal_inbound_error_clear(&err);

	m2 = pal_inbound_parse(PAL_MESSAGE_KIND_USER, ok, strlen(ok), 1 << 20, 64, &err);
	g_assert_nonnull(m2);
	m3 = pal_inbound_parse(PAL_MESSAGE_KIND_USER, in_string, strlen(in_string), 1 << 20, 4, &err);
	g_assert_nonnull(m3);
}

static void
test_size(void)
{
	const gchar *body = "{\"userId\":\"u\",\"sessionId\":\"s\",\"text\":\"hello\"}";
	PalInboundError err = {0};
	g_autoptr(PalMessage) msg =
	    pal_inbound_parse(PAL_MESSAGE_KIND_USER, body, strlen(body), 10, 64, &err);

	g_assert_null(msg);
	g_assert_cmpuint(err.status, ==, 413);
	g_assert_cmpstr(err.code, ==, "payload_too_large");
	pal_inbound_error_clear(&err);
}

static void
test_content_type(void)
{
	struct {
		const gchar *value;
		gboolean ok;
	} rows[] = {
	    {"application/json", TRUE},
	    {"application/json; charset=utf-8", TRUE},
	    {"Application/JSON;charset=UTF-8", TRUE},
	    {NULL, FALSE},
	    {"text/plain", FALSE},
	    {"application/x-www-form-urlencoded", FALSE},
	    {"application/json; charset=latin1", FALSE},
	};

	for (guint i = 0; i < G_N_ELEMENTS(rows); i++) {
		PalInboundError err = {0};
		gboolean ok = pal_inbound_check_content_type(rows[i].value, &err);
		g_assert_cmpint(ok, ==, rows[i].ok);
		if (!ok)
			g_assert_cmpuint(err.status, ==, 415);
		pal_inbound_error_clear(&err);
	}
}

static void
test_message_fields(void)
{
	const gchar *body = "{\"userId\":\"u1\",\"sessionId\":\"s1\",\"text\":\"hi\",\"data\":{\"a\":[1,2]},\"extra\":true}";
	PalInboundError err = {0};
	g_autoptr(PalMessage) msg =
	    pal_inbound_parse(PAL_MESSAGE_KIND_USER, body, strlen(body), 1 << 20, 64, &err);
	g_autofree gchar *prefix = NULL;

	g_assert_nonnull(msg);
	g_assert_cmpstr(pal_message_get_user_id(msg), ==, "u1");
	g_assert_cmpstr(pal_message_get_session_id(msg), ==, "s1");
	g_assert_cmpstr(pal_message_get_text(msg), ==, "hi");
	g_assert_cmpuint(json_array_get_length(json_object_get_array_member(pal_message_get_data(msg), "a")), ==, 2);
	/* other keys stay visible to input transformers */
	g_assert_true(json_object_get_boolean_member(pal_message_get_body(msg), "extra"));
	g_assert_true(g_uuid_string_is_valid(pal_message_get_input_id(msg)));
	prefix = g_strdup_printf("endpoint-httpIncomingMessage-%s", pal_message_get_input_id(msg));
	g_assert_cmpstr(pal_message_get_trace_id(msg), ==, prefix);
}

static void
test_error_json(void)
{
	PalInboundError err = {0};
	g_autofree gchar *json = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();
	JsonObject *e;

	pal_inbound_error_set(&err, 400, "invalid_field", "userId", "userId \"%s\" is bad", "x");
	json = pal_inbound_error_to_json(&err);
	g_assert_true(json_parser_load_from_data(parser, json, -1, NULL));
	e = json_object_get_object_member(json_node_get_object(json_parser_get_root(parser)), "error");
	g_assert_cmpstr(json_object_get_string_member(e, "code"), ==, "invalid_field");
	g_assert_cmpstr(json_object_get_string_member(e, "field"), ==, "userId");
	g_assert_cmpstr(json_object_get_string_member(e, "message"), ==, "userId \"x\" is bad");
	pal_inbound_error_clear(&err);
	pal_inbound_error_set(&err, 404, "unknown_endpoint", NULL, "no");
	g_free(json);
	json = pal_inbound_error_to_json(&err);
	g_assert_nonnull(strstr(json, "\"field\":null"));
	pal_inbound_error_clear(&err);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/palaver/inbound/table", test_table);
	g_test_add_func("/palaver/inbound/lengths", test_lengths);
	g_test_add_func("/palaver/inbound/utf8", test_utf8);
	g_test_add_func("/palaver/inbound/depth", test_depth);
	g_test_add_func("/palaver/inbound/size", test_size);
	g_test_add_func("/palaver/inbound/content-type", test_content_type);
	g_test_add_func("/palaver/inbound/message-fields", test_message_fields);
	g_test_add_func("/palaver/inbound/error-json", test_error_json);
	return g_test_run();
}
