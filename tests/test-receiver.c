/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

#include "pal-receiver.h"
#include "pal-test-util.h"

/* ---- helpers ---- */

/* a raw HTTP/1.1 client: full control over framing and keep-alive */
typedef struct {
	GSocketConnection *conn;
	GDataInputStream *in;
} RawConn;

static RawConn *
raw_conn_new(guint port)
{
	g_autoptr(GSocketClient) client = g_socket_client_new();
	g_autoptr(GError) error = NULL;
	RawConn *raw = g_new0(RawConn, 1);

	raw->conn = g_socket_client_connect_to_host(client, "127.0.0.1", port, NULL, &error);
	g_assert_no_error(error);
	raw->in = g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(raw->conn)));
	g_data_input_stream_set_newline_type(raw->in, G_DATA_STREAM_NEWLINE_TYPE_CR_LF);
	return raw;
}

static void
raw_conn_free(RawConn *raw)
{
	g_io_stream_close(G_IO_STREAM(raw->conn), NULL, NULL);
	g_object_unref(raw->in);
	g_object_unref(raw->conn);
	g_free(raw);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(RawConn, raw_conn_free)

static void
raw_conn_write(RawConn *raw, const gchar *data, gsize len)
{
	g_autoptr(GError) error = NULL;
	GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(raw->conn));

	g_output_stream_write_all(out, data, len, NULL, NULL, &error);
	g_assert_no_error(error);
}

/* reads one response; returns its status, headers (lower-case names) and body */
static guint
raw_conn_read_response(RawConn *raw, GHashTable **headers_out, gchar **body_out)
{
	g_autoptr(GHashTable) headers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *status_line = NULL;
	g_autofree gchar *body = NULL;
	const gchar *content_length;
	guint64 length = 0;
	guint status = 0;

	status_line = g_data_input_stream_read_line(raw->in, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_nonnull(status_line);
	g_assert_true(g_str_has_prefix(status_line, "HTTP/1.1 "));
	status = (guint)g_ascii_strtoull(status_line + strlen("HTTP/1.1 "), NULL, 10);
	for (;;) {
		g_autofree gchar *line = g_data_input_stream_read_line(raw->in, NULL, NULL, &error);
		gchar *colon;

		g_assert_no_error(error);
		g_assert_nonnull(line);
		if (line[0] == '\0')
			break;
		colon = strchr(line, ':');
		g_assert_nonnull(colon);
		*colon = '\0';
		g_hash_table_replace(headers, g_ascii_strdown(line, -1), g_strstrip(g_strdup(colon + 1)));
	}
	content_length = g_hash_table_lookup(headers, "content-length");
	if (content_length != NULL)
		length = g_ascii_strtoull(content_length, NULL, 10);
	body = g_malloc0(length + 1);
	if (length > 0) {
		gsize n = 0;
		g_input_stream_read_all(G_INPUT_STREAM(raw->in), body, length, &n, NULL, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(n, ==, length);
	}
	if (headers_out != NULL)
		*headers_out = g_steal_pointer(&headers);
	if (body_out != NULL)
		*body_out = g_steal_pointer(&body);
	return status;
}

static guint
count_own_fds(void)
{
	g_autoptr(GDir) dir = g_dir_open("/proc/self/fd", 0, NULL);
	guint n = 0;

	g_assert_nonnull(dir);
	while (g_dir_read_name(dir) != NULL)
		n++;
	return n;
}

static gboolean
wait_no_connections(PalTestReceiver *r, guint timeout_ms)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

	while (pal_test_receiver_get_n_connections(r) > 0) {
		if (g_get_monotonic_time() > deadline)
			return FALSE;
		g_usleep(10 * 1000);
	}
	return TRUE;
}

static guint
post_status(PalTestReceiver *r, const gchar *path, SoupMessageHeaders **headers_out)
{
	g_autofree gchar *url = pal_test_receiver_get_url(r, path);
	g_autoptr(GError) error = NULL;
	guint status = 0;

	pal_test_http_request("POST",
			      url,
			      "application/json",
			      "{}",
			      (gsize)-1,
			      NULL,
			      &status,
			      headers_out,
			      NULL,
			      &error);
	g_assert_no_error(error);
	return status;
}

/* ---- PalReceiver ---- */

static void
test_parse_address(void)
{
	const gchar *bad[] = {"::1:80",
			      "127.0.0.1",
			      "127.0.0.1:",
			      "127.0.0.1:65536",
			      "127.0.0.1:http",
			      "host.example:80",
			      "[::1]",
			      "[::1]80",
			      ":80",
			      "[nonsense]:80"};
	g_autoptr(GInetAddress) inet = NULL;
	g_autoptr(GError) error = NULL;
	guint16 port = 1;

	g_assert_true(pal_receiver_parse_address("127.0.0.1:0", &inet, &port, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(port, ==, 0);
	g_assert_true(g_inet_address_get_is_loopback(inet));
	g_clear_object(&inet);

	g_assert_true(pal_receiver_parse_address("[::1]:8081", &inet, &port, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(port, ==, 8081);
	g_assert_cmpint(g_inet_address_get_family(inet), ==, G_SOCKET_FAMILY_IPV6);
	g_clear_object(&inet);

	g_assert_true(pal_receiver_parse_address("0.0.0.0:65535", &inet, &port, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(port, ==, 65535);
	g_assert_true(g_inet_address_get_is_any(inet));
	g_clear_object(&inet);

	g_assert_true(pal_receiver_parse_address("localhost:9", &inet, NULL, &error));
	g_assert_no_error(error);
	g_assert_true(g_inet_address_get_is_loopback(inet));
	g_clear_object(&inet);

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_test_message("address %s", bad[i]);
		g_assert_false(pal_receiver_parse_address(bad[i], NULL, NULL, &error));
		g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
		g_assert_nonnull(strstr(error->message, bad[i]));
		g_clear_error(&error);
	}
}

static void
test_post(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(GHashTable) extra = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(SoupMessageHeaders) response_headers = NULL;
	g_autoptr(PalReceivedRequest) req = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *url = pal_test_receiver_get_url(r, "/hook/a?x=1&y=two");
	g_autofree gchar *response = NULL;
	g_autofree gchar *auth = NULL;
	const gchar *body = "{\"userId\":\"u1\",\"AIOutput\":{\"text\":\"héllo\",\"n\":[1,2]}}";
	JsonObject *root;
	GBytes *bytes;
	gint64 now = g_get_real_time();
	guint status = 0;

	g_assert_cmpuint(pal_test_receiver_get_port(r), >, 0);
	g_assert_true(g_str_has_prefix(pal_test_receiver_get_base_url(r), "http://127.0.0.1:"));

	g_hash_table_insert(extra, (gpointer) "X-Test", (gpointer) "one");
	g_hash_table_insert(extra, (gpointer) "Authorization", (gpointer) "Basic dXNlcjpwYXNz");
	pal_test_http_request("POST",
			      url,
			      "application/json; charset=utf-8",
			      body,
			      strlen(body),
			      extra,
			      &status,
			      &response_headers,
			      &response,
			      &error);
	g_assert_no_error(error);
	g_assert_cmpuint(status, ==, 200);
	g_assert_cmpstr(soup_message_headers_get_one(response_headers, "Server"), ==, "palaver-tool");
	g_assert_null(soup_message_headers_get_one(response_headers, "Retry-After"));
	g_assert_true(pal_test_receiver_wait_count(r, 1, 5000));
	g_assert_cmpuint(pal_test_receiver_get_count(r), ==, 1);

	req = pal_test_receiver_dup_request(r, 0);
	g_assert_nonnull(req);
	g_assert_null(pal_test_receiver_dup_request(r, 1));
	g_assert_cmpuint(pal_received_request_get_index(req), ==, 1);
	g_assert_cmpuint(pal_received_request_get_status(req), ==, 200);
	g_assert_cmpstr(pal_received_request_get_method(req), ==, "POST");
	g_assert_cmpstr(pal_received_request_get_path(req), ==, "/hook/a");
	g_assert_cmpstr(pal_received_request_get_query(req), ==, "x=1&y=two");
	g_assert_cmpstr(pal_received_request_get_remote_host(req), ==, "127.0.0.1");
	g_assert_cmpstr(pal_received_request_get_header(req, "x-test"), ==, "one");
	g_assert_cmpstr(pal_received_request_get_header(req, "Content-Type"),
			==,
			"application/json; charset=utf-8");
	g_assert_cmpstr(pal_received_request_get_header(req, "AUTHORIZATION"),
			==,
			"Basic dXNlcjpwYXNz");
	auth = pal_received_request_dup_header_list(req, "authorization");
	g_assert_cmpstr(auth, ==, "Basic dXNlcjpwYXNz");
	g_assert_null(pal_received_request_get_header(req, "X-Missing"));
	g_assert_null(pal_received_request_dup_header_list(req, "X-Missing"));
	g_assert_cmpuint(pal_received_request_get_headers(req)->len, >=, 4);

	bytes = pal_received_request_get_body(req);
	g_assert_cmpmem(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes), body, strlen(body));
	g_assert_nonnull(pal_received_request_get_json(req));
	root = json_node_get_object(pal_received_request_get_json(req));
	g_assert_cmpstr(json_object_get_string_member(root, "userId"), ==, "u1");
	g_assert_cmpstr(
	    json_object_get_string_member(json_object_get_object_member(root, "AIOutput"), "text"),
	    ==,
	    "héllo");

	g_assert_cmpint(pal_received_request_get_real_time(req), >=, now - G_USEC_PER_SEC);
	g_assert_cmpint(pal_received_request_get_real_time(req), <=, g_get_real_time());
	g_assert_cmpint(pal_received_request_get_monotonic_time(req), >, 0);
	g_assert_cmpint(pal_received_request_get_monotonic_time(req), <=, g_get_monotonic_time());

	/* not JSON, and an empty body: recorded, json NULL */
	g_clear_pointer(&url, g_free);
	url = pal_test_receiver_get_url(r, "/text");
	pal_test_http_post(url, "text/plain", "not { json", (gsize)-1, NULL, &status, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(status, ==, 200);
	pal_test_http_post(url, NULL, NULL, 0, NULL, &status, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(status, ==, 200);
	g_assert_true(pal_test_receiver_wait_count(r, 3, 5000));
	g_clear_pointer(&req, pal_received_request_unref);
	req = pal_test_receiver_dup_request(r, 1);
	g_assert_null(pal_received_request_get_json(req));
	g_assert_cmpuint(g_bytes_get_size(pal_received_request_get_body(req)), ==, 10);
	g_clear_pointer(&req, pal_received_request_unref);
	req = pal_test_receiver_dup_request(r, 2);
	g_assert_null(pal_received_request_get_json(req));
	g_assert_cmpuint(g_bytes_get_size(pal_received_request_get_body(req)), ==, 0);
	g_assert_cmpuint(pal_received_request_get_index(req), ==, 3);

	/* forgetting the records does not reset the count */
	pal_test_receiver_clear_requests(r);
	g_assert_null(pal_test_receiver_dup_request(r, 0));
	g_assert_cmpuint(pal_test_receiver_get_count(r), ==, 3);
}

static void
test_status_sequence(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	const guint statuses[] = {500, 500};
	g_autoptr(GPtrArray) requests = NULL;
	g_autoptr(SoupMessageHeaders) hdrs1 = NULL;
	g_autoptr(SoupMessageHeaders) hdrs3 = NULL;

	pal_test_receiver_set_status_sequence(r, statuses, G_N_ELEMENTS(statuses));
	pal_test_receiver_set_retry_after(r, 7);
	g_assert_cmpuint(post_status(r, "/s", &hdrs1), ==, 500);
	g_assert_cmpstr(soup_message_headers_get_one(hdrs1, "Retry-After"), ==, "7");
	g_assert_cmpuint(post_status(r, "/s", NULL), ==, 500);
	g_assert_cmpuint(post_status(r, "/s", &hdrs3), ==, 200);
	g_assert_null(soup_message_headers_get_one(hdrs3, "Retry-After"));
	g_assert_cmpuint(post_status(r, "/s", NULL), ==, 200);

	/* the default status */
	pal_test_receiver_set_status(r, 204);
	g_assert_cmpuint(post_status(r, "/s", NULL), ==, 204);

	g_assert_cmpuint(pal_test_receiver_get_count(r), ==, 5);
	requests = pal_test_receiver_dup_requests(r);
	g_assert_cmpuint(requests->len, ==, 5);
	g_assert_cmpuint(pal_received_request_get_status(g_ptr_array_index(requests, 0)), ==, 500);
	g_assert_cmpuint(pal_received_request_get_status(g_ptr_array_index(requests, 1)), ==, 500);
	g_assert_cmpuint(pal_received_request_get_status(g_ptr_array_index(requests, 2)), ==, 200);
	g_assert_cmpuint(pal_received_request_get_status(g_ptr_array_index(requests, 4)), ==, 204);
}

typedef struct {
	gint calls;
	guint destroyed;
} ResponderData;

static guint
test_responder_cb(PalReceiver *receiver, const PalReceivedRequest *request, gpointer user_data)
{
	ResponderData *data = user_data;

	g_atomic_int_inc(&data->calls);
	/* the request is complete when the responder sees it */
	g_assert_cmpstr(pal_received_request_get_path(request), ==, "/r");
	return pal_received_request_get_index(request) == 2 ? 503 : 0;
}

static void
test_responder_destroy(gpointer user_data)
{
	ResponderData *data = user_data;

	data->destroyed++;
}

static void
test_responder(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	const guint statuses[] = {429};
	ResponderData data = {0, 0};
	g_autoptr(SoupMessageHeaders) hdrs = NULL;

	pal_test_receiver_set_responder(r, test_responder_cb, &data, test_responder_destroy);
	pal_test_receiver_set_status_sequence(r, statuses, G_N_ELEMENTS(statuses));
	pal_test_receiver_set_retry_after(r, 3);

	/* the responder says 0: the sequence decides */
	g_assert_cmpuint(post_status(r, "/r", NULL), ==, 429);
	/* the responder decides; the sequence is empty by now anyway */
	g_assert_cmpuint(post_status(r, "/r", &hdrs), ==, 503);
	g_assert_cmpstr(soup_message_headers_get_one(hdrs, "Retry-After"), ==, "3");
	g_assert_cmpuint(post_status(r, "/r", NULL), ==, 200);
	g_assert_cmpint(g_atomic_int_get(&data.calls), ==, 3);

	/* removing it frees its data (no call is running) */
	pal_test_receiver_set_responder(r, NULL, NULL, NULL);
	g_assert_cmpuint(data.destroyed, ==, 1);
	g_assert_cmpuint(post_status(r, "/other", NULL), ==, 200);
	g_assert_cmpint(g_atomic_int_get(&data.calls), ==, 3);
}

static void
test_method_not_allowed(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(SoupMessageHeaders) hdrs = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *url = pal_test_receiver_get_url(r, "/hook");
	guint status = 0;

	pal_test_http_request("GET", url, NULL, NULL, 0, NULL, &status, &hdrs, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(status, ==, 405);
	g_assert_cmpstr(soup_message_headers_get_one(hdrs, "Allow"), ==, "POST");
	g_clear_pointer(&hdrs, soup_message_headers_unref);

	pal_test_http_request("PUT", url, "text/plain", "x", 1, NULL, &status, &hdrs, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(status, ==, 405);

	/* neither is a delivery */
	g_assert_cmpuint(pal_test_receiver_get_count(r), ==, 0);
	g_assert_cmpuint(post_status(r, "/hook", NULL), ==, 200);
	g_assert_cmpuint(pal_test_receiver_get_count(r), ==, 1);
}

/* PLATFORM-NOTES 5: libsoup 3.2 has no body limit; the receiver enforces one */
static void
test_body_limit(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(GHashTable) headers = NULL;
	g_autofree gchar *request = NULL;
	g_autofree gchar *body = NULL;
	g_autofree gchar *payload = g_strnfill(1001, 'a');
	g_autoptr(PalReceivedRequest) req = NULL;

	/* the default limit; without "Expect: 100-continue" libsoup reads the body anyway */
	{
		g_autofree gchar *url = pal_test_receiver_get_url(r, "/big");
		g_autofree gchar *big = g_malloc0(PAL_RECEIVER_MAX_BODY_SIZE + 1);
		g_autoptr(SoupMessageHeaders) hdrs = NULL;
		g_autoptr(GError) error = NULL;
		guint status = 0;

		pal_test_http_request("POST",
				      url,
				      "application/octet-stream",
				      big,
				      PAL_RECEIVER_MAX_BODY_SIZE + 1,
				      NULL,
				      &status,
				      &hdrs,
				      NULL,
				      &error);
		g_assert_no_error(error);
		g_assert_cmpuint(status, ==, 413);
		g_assert_cmpint(soup_message_headers_get_content_length(hdrs), >, 0);
	}

	/* with "Expect: 100-continue", 413 comes before any body byte is sent */
	{
		g_autoptr(RawConn) raw = raw_conn_new(pal_test_receiver_get_port(r));
		request = g_strdup_printf("POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: %u\r\n"
					  "Expect: 100-continue\r\n\r\n",
					  PAL_RECEIVER_MAX_BODY_SIZE + 1);
		raw_conn_write(raw, request, strlen(request));
		g_assert_cmpuint(raw_conn_read_response(raw, &headers, NULL), ==, 413);
		g_assert_cmpstr(g_hash_table_lookup(headers, "connection"), ==, "close");
		g_clear_pointer(&headers, g_hash_table_unref);
		g_clear_pointer(&request, g_free);
	}
	g_assert_cmpuint(pal_test_receiver_get_count(r), ==, 0);

	pal_test_receiver_set_max_body_size(r, 1000);

	/* exactly at the limit: accepted */
	g_assert_cmpuint(post_status(r, "/ok", NULL), ==, 200);
	{
		g_autofree gchar *url = pal_test_receiver_get_url(r, "/exact");
		g_autoptr(GError) error = NULL;
		guint status = 0;

		pal_test_http_post(url, "text/plain", payload, 1000, NULL, &status, NULL, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(status, ==, 200);
	}

	/* over the limit with Content-Length */
	{
		g_autofree gchar *url = pal_test_receiver_get_url(r, "/over");
		g_autoptr(GError) error = NULL;
		guint status = 0;

		pal_test_http_post(url, "text/plain", payload, 1001, NULL, &status, &body, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(status, ==, 413);
		g_clear_pointer(&body, g_free);
	}

	/* over the limit in chunks, without Content-Length: counted while read, 413 at the end */
	{
		g_autoptr(RawConn) raw = raw_conn_new(pal_test_receiver_get_port(r));
		request = g_strdup_printf("POST /chunked HTTP/1.1\r\nHost: x\r\n"
					  "Transfer-Encoding: chunked\r\n\r\n"
					  "1f4\r\n%.500s\r\n1f5\r\n%.501s\r\n0\r\n\r\n",
					  payload,
					  payload);
		raw_conn_write(raw, request, strlen(request));
		g_assert_cmpuint(raw_conn_read_response(raw, NULL, &body), ==, 413);
		g_clear_pointer(&request, g_free);
		g_clear_pointer(&body, g_free);
	}

	/* chunked within the limit: accepted and reassembled */
	{
		g_autoptr(RawConn) raw = raw_conn_new(pal_test_receiver_get_port(r));
		request = g_strdup("POST /chunked-ok HTTP/1.1\r\nHost: x\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n"
				   "3\r\n{\"a\r\n5\r\n\":42}\r\n0\r\n\r\n");
		raw_conn_write(raw, request, strlen(request));
		g_assert_cmpuint(raw_conn_read_response(raw, NULL, NULL), ==, 200);
	}

	g_assert_true(pal_test_receiver_wait_count(r, 3, 5000));
	g_assert_cmpuint(pal_test_receiver_get_count(r), ==, 3);
	req = pal_test_receiver_dup_request(r, 2);
	g_assert_cmpstr(pal_received_request_get_path(req), ==, "/chunked-ok");
	g_assert_cmpint(json_object_get_int_member(
			    json_node_get_object(pal_received_request_get_json(req)),
			    "a"),
			==,
			42);
}

/* PLATFORM-NOTES 13: json-glib 1.6 crashes on deep nesting; the receiver must not parse it */
static void
test_deep_json(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	g_autoptr(PalReceivedRequest) req = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *url = pal_test_receiver_get_url(r, "/deep");
	GString *body = g_string_new(NULL);
	guint status = 0;

	for (guint i = 0; i < 100000; i++)
		g_string_append_c(body, '[');
	for (guint i = 0; i < 100000; i++)
		g_string_append_c(body, ']');
	pal_test_http_post(url, "application/json", body->str, body->len, NULL, &status, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(status, ==, 200);
	req = pal_test_receiver_dup_request(r, 0);
	g_assert_null(pal_received_request_get_json(req));
	g_assert_cmpuint(g_bytes_get_size(pal_received_request_get_body(req)), ==, body->len);
	g_string_free(body, TRUE);
}

/* PLATFORM-NOTES 3: libsoup 3.2.3 leaks the fd of an idle keep-alive connection that the client
 * closes; the receiver notices the close and closes the socket itself */
static void
test_idle_close(void)
{
	g_autoptr(PalTestReceiver) r = pal_test_receiver_new_started();
	const gchar *request = "POST /ka HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
	guint port = pal_test_receiver_get_port(r);
	gint64 deadline;
	guint baseline;
	guint after;

	/* keep-alive works: two requests on one connection, which then stays open */
	{
		g_autoptr(RawConn) raw = raw_conn_new(port);
		g_autoptr(GHashTable) headers = NULL;

		raw_conn_write(raw, request, strlen(request));
		g_assert_cmpuint(raw_conn_read_response(raw, &headers, NULL), ==, 200);
		g_assert_null(g_hash_table_lookup(headers, "connection"));
		raw_conn_write(raw, request, strlen(request));
		g_assert_cmpuint(raw_conn_read_response(raw, NULL, NULL), ==, 200);
		g_assert_cmpuint(pal_test_receiver_get_n_connections(r), ==, 1);
	}
	g_assert_true(wait_no_connections(r, 5000));

	baseline = count_own_fds();
	for (guint i = 0; i < 200; i++) {
		g_autoptr(RawConn) raw = raw_conn_new(port);
		raw_conn_write(raw, request, strlen(request));
		g_assert_cmpuint(raw_conn_read_response(raw, NULL, NULL), ==, 200);
		/* closed by the client while idle */
	}
	g_assert_true(pal_test_receiver_wait_count(r, 202, 5000));
	deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
	while ((after = count_own_fds()) > baseline + 2 && g_get_monotonic_time() < deadline)
		g_usleep(10 * 1000);
	g_test_message("fds: %u before, %u after 200 closed keep-alive connections", baseline, after);
	g_assert_cmpuint(after, <=, baseline + 2);
	g_assert_true(wait_no_connections(r, 5000));
}

/* the receiver in the test's own (default) context, with its signals */
typedef struct {
	gchar *url;
	gint done;
} PostThreadData;

static gpointer
post_thread(gpointer user_data)
{
	PostThreadData *data = user_data;
	g_autoptr(GError) error = NULL;
	guint status = 0;

	pal_test_http_post(data->url, "application/json", "[1,2,3]", 7, NULL, &status, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(status, ==, 202);
	g_atomic_int_set(&data->done, 1);
	g_main_context_wakeup(NULL);
	return NULL;
}

static void
delivery_cb(PalReceiver *receiver, PalReceivedRequest *request, gpointer user_data)
{
	PalReceivedRequest **out = user_data;

	g_assert_null(*out);
	*out = pal_received_request_ref(request);
}

static void
delivery_finished_cb(PalReceiver *receiver, PalReceivedRequest *request, gpointer user_data)
{
	guint *n = user_data;

	(*n)++;
}

static gboolean
timeout_cb(gpointer user_data)
{
	gboolean *timed_out = user_data;

	*timed_out = TRUE;
	return G_SOURCE_REMOVE;
}

static void
test_signals(void)
{
	g_autoptr(PalReceiver) receiver = pal_receiver_new();
	g_autoptr(PalReceivedRequest) delivered = NULL;
	g_autoptr(GError) error = NULL;
	PostThreadData data = {NULL, 0};
	gboolean timed_out = FALSE;
	guint n_finished = 0;
	GThread *thread;
	guint timeout_id;

	g_assert_null(pal_receiver_get_host(receiver));
	g_assert_true(pal_receiver_listen(receiver, "127.0.0.1:0", &error));
	g_assert_no_error(error);
	g_assert_cmpstr(pal_receiver_get_host(receiver), ==, "127.0.0.1");
	pal_receiver_set_status(receiver, 202);
	g_signal_connect(receiver, "delivery", G_CALLBACK(delivery_cb), &delivered);
	g_signal_connect(receiver, "delivery-finished", G_CALLBACK(delivery_finished_cb), &n_finished);

	data.url = pal_receiver_get_url(receiver, "sig");
	g_assert_true(g_str_has_suffix(data.url, "/sig"));
	thread = g_thread_new("post", post_thread, &data);
	timeout_id = g_timeout_add_seconds(10, timeout_cb, &timed_out);
	while ((!g_atomic_int_get(&data.done) || n_finished < 1) && !timed_out)
		g_main_context_iteration(NULL, TRUE);
	g_thread_join(thread);
	g_assert_false(timed_out);
	g_source_remove(timeout_id);

	g_assert_nonnull(delivered);
	g_assert_cmpuint(n_finished, ==, 1);
	g_assert_cmpuint(pal_received_request_get_status(delivered), ==, 202);
	g_assert_cmpuint(json_array_get_length(json_node_get_array(pal_received_request_get_json(delivered))),
			 ==,
			 3);
	pal_receiver_stop(receiver);
	pal_receiver_stop(receiver);
	g_assert_cmpuint(pal_receiver_get_count(receiver), ==, 1);
	g_free(data.url);
}

/* ---- palaver-tool ---- */

static const gchar *
tool_path(void)
{
	const gchar *path = g_getenv("PALAVER_TOOL");

	if (path == NULL)
		g_test_skip("PALAVER_TOOL is not set");
	return path;
}

static gint
run_tool(const gchar *const *args, gchar **stdout_out, gchar **stderr_out)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GSubprocessLauncher) launcher = pal_test_subprocess_launcher_new(
	    G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
	g_autoptr(GSubprocess) proc = NULL;
	g_autoptr(GError) error = NULL;
	gint status = -1;

	g_ptr_array_add(argv, (gpointer)g_getenv("PALAVER_TOOL"));
	for (gsize i = 0; args[i] != NULL; i++)
		g_ptr_array_add(argv, (gpointer)args[i]);
	g_ptr_array_add(argv, NULL);
	proc = g_subprocess_launcher_spawnv(launcher, (const gchar *const *)argv->pdata, &error);
	g_assert_no_error(error);
	g_subprocess_communicate_utf8(proc, NULL, NULL, stdout_out, stderr_out, &error);
	g_assert_no_error(error);
	g_assert_true(pal_test_subprocess_wait(proc, 10000, &status, &error));
	g_assert_no_error(error);
	return status;
}

static void
test_tool_usage(void)
{
	g_autoptr(PalTestReceiver) r = NULL;
	g_autofree gchar *address = NULL;
	gchar *out = NULL;
	gchar *err = NULL;

	if (tool_path() == NULL)
		return;

	g_assert_cmpint(run_tool((const gchar *[]){"--help", NULL}, &out, &err), ==, 0);
	g_assert_nonnull(strstr(out, "receive"));
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&err, g_free);

	g_assert_cmpint(run_tool((const gchar *[]){"receive", "--help", NULL}, &out, &err), ==, 0);
	g_assert_nonnull(strstr(out, "--listen"));
	g_assert_nonnull(strstr(out, "--jsonl"));
	g_assert_nonnull(strstr(out, "--count"));
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&err, g_free);

	g_assert_cmpint(run_tool((const gchar *[]){NULL}, &out, &err), ==, 2);
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&err, g_free);

	g_assert_cmpint(run_tool((const gchar *[]){"no-such-command", NULL}, &out, &err), ==, 2);
	g_assert_nonnull(strstr(err, "no-such-command"));
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&err, g_free);

	g_assert_cmpint(run_tool((const gchar *[]){"receive", "--status", "42", NULL}, &out, &err),
			==,
			2);
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&err, g_free);

	g_assert_cmpint(run_tool((const gchar *[]){"receive", "--listen", "::1:80", NULL}, &out, &err),
			==,
			2);
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&err, g_free);

	g_assert_cmpint(run_tool((const gchar *[]){"receive", "--bogus", NULL}, &out, &err), ==, 2);
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&err, g_free);

	/* the address is taken: a runtime error that names it */
	r = pal_test_receiver_new_started();
	address = g_strdup_printf("127.0.0.1:%u", pal_test_receiver_get_port(r));
	g_assert_cmpint(run_tool((const gchar *[]){"receive", "--listen", address, NULL}, &out, &err),
			==,
			1);
	g_printerr("palaver-tool stderr: %s", err);
	g_assert_nonnull(strstr(err, address));
	g_assert_nonnull(strstr(err, "in use"));
	g_free(out);
	g_free(err);
}

static void
test_tool_receive(void)
{
	g_autoptr(GSubprocessLauncher) launcher = NULL;
	g_autoptr(GSubprocess) proc = NULL;
	g_autoptr(GDataInputStream) err_stream = NULL;
	g_autoptr(GHashTable) extra = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(GError) error = NULL;
	g_autoptr(GString) err_all = g_string_new(NULL);
	g_autoptr(GBytes) out_bytes = NULL;
	g_autoptr(GOutputStream) out_mem = g_memory_output_stream_new_resizable();
	g_autofree gchar *url1 = NULL;
	g_autofree gchar *url2 = NULL;
	g_autofree gchar *out = NULL;
	g_auto(GStrv) lines = NULL;
	const gchar *secret = "dXNlcjpzM2NyZXQ="; /* user:s3cret */
	const gchar *prefix = "palaver-tool: listening on http://127.0.0.1:";
	guint port = 0;
	gint status = -1;
	guint status_http = 0;

	if (tool_path() == NULL)
		return;
	launcher = pal_test_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE |
						    G_SUBPROCESS_FLAGS_STDERR_PIPE);
	proc = g_subprocess_launcher_spawn(launcher,
					   &error,
					   g_getenv("PALAVER_TOOL"),
					   "receive",
					   "--listen",
					   "127.0.0.1:0",
					   "--count",
					   "2",
					   "--jsonl",
					   "-",
					   NULL);
	g_assert_no_error(error);

	/* the first line on stderr gives the port */
	err_stream = g_data_input_stream_new(g_subprocess_get_stderr_pipe(proc));
	while (port == 0) {
		g_autofree gchar *line = g_data_input_stream_read_line(err_stream, NULL, NULL, &error);
		g_assert_no_error(error);
		g_assert_nonnull(line); /* EOF: the tool died */
		g_test_message("palaver-tool: %s", line);
		if (g_str_has_prefix(line, prefix))
			port = (guint)g_ascii_strtoull(line + strlen(prefix), NULL, 10);
	}
	g_assert_cmpuint(port, >, 0);

	url1 = g_strdup_printf("http://127.0.0.1:%u/one?k=v", port);
	pal_test_http_post(url1,
			   "application/json",
			   "{\"userId\":\"u1\",\"AIOutput\":{\"text\":\"hi\"}}",
			   (gsize)-1,
			   NULL,
			   &status_http,
			   NULL,
			   &error);
	g_assert_no_error(error);
	g_assert_cmpuint(status_http, ==, 200);

	url2 = g_strdup_printf("http://127.0.0.1:%u/two", port);
	g_hash_table_insert(extra, (gpointer) "Authorization", g_strdup_printf("Basic %s", secret));
	pal_test_http_post(url2, "text/plain", "plain words", (gsize)-1, extra, &status_http, NULL, &error);
	g_free(g_hash_table_lookup(extra, "Authorization"));
	g_assert_no_error(error);
	g_assert_cmpuint(status_http, ==, 200);

	/* --count 2: it exits by itself, with 0 */
	if (!pal_test_subprocess_wait(proc, 10000, &status, &error))
		g_subprocess_force_exit(proc);
	g_assert_no_error(error);
	g_assert_cmpint(status, ==, 0);

	g_output_stream_splice(out_mem,
			       g_subprocess_get_stdout_pipe(proc),
			       G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET,
			       NULL,
			       &error);
	g_assert_no_error(error);
	out_bytes = g_memory_output_stream_steal_as_bytes(G_MEMORY_OUTPUT_STREAM(out_mem));
	out = g_strndup(g_bytes_get_data(out_bytes, NULL), g_bytes_get_size(out_bytes));
	for (;;) {
		g_autofree gchar *line = g_data_input_stream_read_line(err_stream, NULL, NULL, &error);
		g_assert_no_error(error);
		if (line == NULL)
			break;
		g_string_append_printf(err_all, "%s\n", line);
	}
	/* multi-line: to stderr, not as TAP comments */
	g_printerr("palaver-tool stdout:\n%s", out);
	g_printerr("palaver-tool stderr:\n%s", err_all->str);

	/* stdout: exactly two JSON lines */
	g_assert_true(g_str_has_suffix(out, "\n"));
	lines = g_strsplit(out, "\n", -1);
	g_assert_cmpuint(g_strv_length(lines), ==, 3);
	g_assert_cmpstr(lines[2], ==, "");
	{
		g_autoptr(JsonNode) node = pal_test_json_parse(lines[0]);
		JsonObject *obj = json_node_get_object(node);
		JsonObject *headers = json_object_get_object_member(obj, "headers");
		JsonObject *body = json_object_get_object_member(obj, "body");

		g_assert_cmpstr(json_object_get_string_member(obj, "path"), ==, "/one");
		g_assert_cmpstr(json_object_get_string_member(obj, "query"), ==, "k=v");
		g_assert_cmpstr(json_object_get_string_member(obj, "method"), ==, "POST");
		g_assert_cmpint(json_object_get_int_member(obj, "index"), ==, 1);
		g_assert_cmpstr(json_object_get_string_member(headers, "Content-Type"),
				==,
				"application/json");
		g_assert_false(json_object_has_member(headers, "Authorization"));
		g_assert_nonnull(body);
		g_assert_cmpstr(json_object_get_string_member(body, "userId"), ==, "u1");
		g_assert_true(g_regex_match_simple("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z$",
						   json_object_get_string_member(obj, "receivedAt"),
						   0,
						   0));
	}
	{
		g_autoptr(JsonNode) node = pal_test_json_parse(lines[1]);
		JsonObject *obj = json_node_get_object(node);
		JsonObject *headers = json_object_get_object_member(obj, "headers");

		g_assert_cmpstr(json_object_get_string_member(obj, "path"), ==, "/two");
		g_assert_false(json_object_has_member(obj, "query"));
		g_assert_cmpint(json_object_get_int_member(obj, "index"), ==, 2);
		g_assert_cmpstr(json_object_get_string_member(headers, "Authorization"),
				==,
				"Basic ***");
		g_assert_cmpstr(json_object_get_string_member(obj, "body"), ==, "plain words");
	}

	/* stderr: the printed deliveries (moved there by --jsonl -), masked */
	g_assert_nonnull(strstr(err_all->str, "── POST /one?k=v  #1  "));
	g_assert_nonnull(strstr(err_all->str, "── POST /two  #2  "));
	g_assert_nonnull(strstr(err_all->str, "Authorization: Basic ***\n"));
	g_assert_nonnull(strstr(err_all->str, "  \"userId\" : \"u1\","));
	g_assert_nonnull(strstr(err_all->str, "\nplain words\n"));
	g_assert_null(strstr(err_all->str, secret));
	g_assert_null(strstr(out, secret));
}

/* ---- PalTestDaemon, against fake daemons that speak the stdout protocol ---- */

static gchar *
write_fake_daemon(const gchar *dir, const gchar *name, const gchar *body)
{
	g_autoptr(GError) error = NULL;
	gchar *path = g_build_filename(dir, name, NULL);
	g_autofree gchar *script = g_strdup_printf("#!/bin/sh\n%s", body);

	g_file_set_contents(path, script, -1, &error);
	g_assert_no_error(error);
	g_assert_cmpint(g_chmod(path, 0755), ==, 0);
	return path;
}

static void
test_daemon_harness(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *bin = g_dir_make_tmp("palaver-fake-XXXXXX", &error);
	g_autofree gchar *good = NULL;
	g_autofree gchar *drain = NULL;
	g_autofree gchar *stubborn = NULL;
	g_autofree gchar *early = NULL;
	g_autofree gchar *mute = NULL;
	g_autofree gchar *dir = NULL;

	g_assert_no_error(error);
	good = write_fake_daemon(bin,
				 "good",
				 "trap 'exit 7' TERM\n"
				 "printf '%s\\n' \"$@\" > args.txt\n"
				 "echo 'some start-up noise'\n"
				 "echo 'listening: http://127.0.0.1:4242/'\n"
				 "echo 'listening: http://[::1]:4243/'\n"
				 "echo ready\n"
				 "while :; do sleep 0.05; done\n");
	/* like palaverd: the first SIGTERM drains (exit 0), a second one exits at once (1) */
	drain = write_fake_daemon(bin,
				  "drain",
				  "trap 'if [ -n \"$stopping\" ]; then exit 1; fi; stopping=1' TERM\n"
				  "echo 'listening: http://127.0.0.1:4242/'\n"
				  "echo ready\n"
				  "while :; do sleep 0.05; if [ -n \"$stopping\" ]; then sleep 0.3; "
				  "exit 0; fi; done\n");
	stubborn = write_fake_daemon(bin,
				     "stubborn",
				     "trap '' TERM\n"
				     "echo 'listening: http://127.0.0.1:4242/'\n"
				     "echo ready\n"
				     "while :; do sleep 0.05; done\n");
	early = write_fake_daemon(bin, "early", "echo 'listening: http://127.0.0.1:4242/'\nexit 3\n");
	mute = write_fake_daemon(bin, "mute", "echo ready\nexec sleep 5\n");

	/* the happy path: configuration, files, arguments, URLs, /proc, stop */
	{
		g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
		g_autofree gchar *args = NULL;
		g_autofree gchar *conf_path = NULL;
		g_autofree gchar *url = NULL;
		g_autofree gchar *ep = NULL;
		g_autoptr(GKeyFile) conf = g_key_file_new();
		g_auto(GStrv) urls = NULL;
		g_auto(GStrv) lines = NULL;
		const gchar *expected_conf[][3] = {{"Server", "Listen", "127.0.0.1:0"},
						   {"Server", "MaxBodySize", "1234"},
						   {"DBus", "Bus", "none"}};
		gint status = -1;

		dir = g_strdup(pal_test_daemon_get_dir(d));
		pal_test_daemon_set_program(d, good);
		pal_test_daemon_set_conf(d, "Server", "MaxBodySize", "1234");
		pal_test_daemon_set_conf(d, "Server", "Workers", NULL);
		pal_test_daemon_add_endpoint(d, "a.json", "{\"name\":\"a\"}");
		pal_test_daemon_write_file(d, "flows/f.json", "{}");
		pal_test_daemon_add_arg(d, "--verbose");
		g_assert_false(pal_test_daemon_is_running(d));
		g_assert_true(pal_test_daemon_start(d, &error));
		g_assert_no_error(error);
		g_assert_true(pal_test_daemon_is_running(d));

		g_assert_cmpstr(pal_test_daemon_get_base_url(d), ==, "http://127.0.0.1:4242/");
		url = pal_test_daemon_get_url(d, "/tok");
		g_assert_cmpstr(url, ==, "http://127.0.0.1:4242/tok");
		g_clear_pointer(&url, g_free);
		url = pal_test_daemon_get_url(d, "tok");
		g_assert_cmpstr(url, ==, "http://127.0.0.1:4242/tok");
		urls = pal_test_daemon_dup_listen_urls(d);
		g_assert_cmpuint(g_strv_length(urls), ==, 2);
		g_assert_cmpstr(urls[1], ==, "http://[::1]:4243/");
		lines = pal_test_daemon_dup_stdout_lines(d);
		g_assert_cmpstr(lines[0], ==, "some start-up noise");
		g_assert_true(g_strv_contains((const gchar *const *)lines, "ready"));

		g_assert_cmpint(pal_test_daemon_get_pid(d), >, 0);
		g_assert_cmpint(pal_test_daemon_count_fds(d), >=, 3);
		g_assert_cmpint(pal_test_daemon_get_rss_kb(d), >, 0);

		conf_path = g_build_filename(dir, "args.txt", NULL);
		g_file_get_contents(conf_path, &args, NULL, &error);
		g_assert_no_error(error);
		g_clear_pointer(&conf_path, g_free);
		conf_path = g_build_filename(dir, "palaver.conf", NULL);
		g_assert_true(g_str_has_prefix(args, "--config\n"));
		g_assert_nonnull(strstr(args, conf_path));
		g_assert_nonnull(strstr(args, "\n--no-plugin-permission-check\n"));
		g_assert_true(g_str_has_suffix(args, "\n--verbose\n"));
		if (g_getenv("PALAVER_BUILD_PLUGINDIR") != NULL)
			g_assert_nonnull(strstr(args, "\n--plugin-dir\n"));

		g_key_file_load_from_file(conf, conf_path, G_KEY_FILE_NONE, &error);
		g_assert_no_error(error);
		g_assert_false(g_key_file_has_key(conf, "Server", "Workers", NULL));
		for (gsize i = 0; i < G_N_ELEMENTS(expected_conf); i++) {
			g_autofree gchar *value =
			    g_key_file_get_value(conf, expected_conf[i][0], expected_conf[i][1], NULL);
			g_assert_cmpstr(value, ==, expected_conf[i][2]);
		}
		ep = g_build_filename(dir, "endpoints.d", "a.json", NULL);
		g_assert_true(g_file_test(ep, G_FILE_TEST_IS_REGULAR));
		g_clear_pointer(&ep, g_free);
		ep = g_build_filename(dir, "flows", "f.json", NULL);
		g_assert_true(g_file_test(ep, G_FILE_TEST_IS_REGULAR));

		g_assert_true(pal_test_daemon_stop(d, 0, 5000, &status, &error));
		g_assert_no_error(error);
		g_assert_cmpint(status, ==, 7);
		g_assert_false(pal_test_daemon_is_running(d));
		g_assert_false(pal_test_daemon_stop(d, 0, 5000, &status, &error));
		g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED);
		g_clear_error(&error);
	}
	/* freed: the temporary directory is gone */
	g_assert_false(g_file_test(dir, G_FILE_TEST_EXISTS));
	g_clear_pointer(&dir, g_free);

	/* a SIGTERM sent before stop(0) is not sent twice */
	{
		g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
		gint status = -1;

		pal_test_daemon_set_program(d, drain);
		g_assert_true(pal_test_daemon_start(d, &error));
		g_assert_no_error(error);
		pal_test_daemon_signal(d, SIGTERM);
		g_assert_true(pal_test_daemon_stop(d, 0, 5000, &status, &error));
		g_assert_no_error(error);
		g_assert_cmpint(status, ==, 0);
	}

	/* a daemon that ignores SIGTERM is killed, and stop() fails */
	{
		g_autoptr(PalTestDaemon) d = pal_test_daemon_new();
		gint status = -1;

		pal_test_daemon_set_program(d, stubborn);
		g_assert_true(pal_test_daemon_start(d, &error));
		g_assert_no_error(error);
		g_assert_false(pal_test_daemon_stop(d, SIGTERM, 300, &status, &error));
		g_assert_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
		g_clear_error(&error);
		g_assert_cmpint(status, ==, 128 + SIGKILL);
		g_assert_false(pal_test_daemon_is_running(d));
	}

	/* kill -9 */
	{
		g_autoptr(PalTestDaemon) d = pal_test_daemon_new();

		pal_test_daemon_set_program(d, stubborn);
		g_assert_true(pal_test_daemon_start(d, &error));
		g_assert_no_error(error);
		pal_test_daemon_kill9(d);
		g_assert_false(pal_test_daemon_is_running(d));
		g_assert_cmpint(pal_test_daemon_count_fds(d), ==, -1);
		g_assert_cmpint(pal_test_daemon_get_rss_kb(d), ==, -1);
	}

	/* exits before "ready" */
	{
		g_autoptr(PalTestDaemon) d = pal_test_daemon_new();

		pal_test_daemon_set_program(d, early);
		g_assert_false(pal_test_daemon_start(d, &error));
		g_assert_error(error, G_IO_ERROR, G_IO_ERROR_FAILED);
		g_assert_nonnull(strstr(error->message, "exit status 3"));
		g_clear_error(&error);
		g_assert_false(pal_test_daemon_is_running(d));
	}

	/* "ready" without a listener line breaks the contract */
	{
		g_autoptr(PalTestDaemon) d = pal_test_daemon_new();

		pal_test_daemon_set_program(d, mute);
		g_assert_false(pal_test_daemon_start(d, &error));
		g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
		g_clear_error(&error);
	}

	for (const gchar *const *name = (const gchar *const[]){"good", "drain", "stubborn", "early",
							      "mute", NULL};
	     *name != NULL;
	     name++) {
		g_autofree gchar *path = g_build_filename(bin, *name, NULL);
		g_assert_cmpint(g_unlink(path), ==, 0);
	}
	g_assert_cmpint(g_rmdir(bin), ==, 0);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/palaver/receiver/parse-address", test_parse_address);
	g_test_add_func("/palaver/receiver/post", test_post);
	g_test_add_func("/palaver/receiver/status-sequence", test_status_sequence);
	g_test_add_func("/palaver/receiver/responder", test_responder);
	g_test_add_func("/palaver/receiver/method-not-allowed", test_method_not_allowed);
	g_test_add_func("/palaver/receiver/body-limit", test_body_limit);
	g_test_add_func("/palaver/receiver/deep-json", test_deep_json);
	g_test_add_func("/palaver/receiver/idle-close", test_idle_close);
	g_test_add_func("/palaver/receiver/signals", test_signals);
	g_test_add_func("/palaver/receiver/tool-usage", test_tool_usage);
	g_test_add_func("/palaver/receiver/tool-receive", test_tool_receive);
	g_test_add_func("/palaver/receiver/test-daemon-harness", test_daemon_harness);
	return g_test_run();
}
