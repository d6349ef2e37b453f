/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The D-Bus control plane (issue #6) on a private bus: the real palaverd owns
 * org.palaver.Gateway1 there (palaverd --session), and each method is called through the
 * generated proxy, through foreign clients (gdbus call, busctl) and through the real
 * palaverctl with --json; plus the error mapping and the caller check as unit tests. */
#include "config.h"

#include <grp.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pal-dbus-auth.h"
#include "pal-dbus-error.h"
#include "pal-dbus-generated.h"
#include "pal-test-util.h"

#define BUS_NAME "org.palaver.Gateway1"
#define BUS_PATH "/org/palaver/Gateway1"
#define TOKEN	 "dbus-file-token-0000000001"
#define TOKEN2	 "dbus-runtime-token-000000002"

/* ---- a private bus that every user may connect to (the refused-caller test) ---- */

static gchar *bus_dir;
static gchar *bus_address;
static GSubprocess *bus_process;

static void
bus_start(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GSubprocessLauncher) launcher = NULL;
	g_autofree gchar *conf = NULL;
	g_autofree gchar *conf_path = NULL;
	g_autoptr(GDataInputStream) out = NULL;
	g_autofree gchar *line = NULL;

	bus_dir = g_dir_make_tmp("palaver-test-bus-XXXXXX", &error);
	g_assert_no_error(error);
	g_assert_cmpint(chmod(bus_dir, 0755), ==, 0);
	conf = g_strdup_printf("<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
			       " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
			       "<busconfig>\n"
			       "  <type>session</type>\n"
			       "  <listen>unix:dir=%s</listen>\n"
			       "  <auth>EXTERNAL</auth>\n"
			       "  <policy context=\"default\">\n"
			       "    <allow user=\"*\"/>\n"
			       "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
			       "    <allow eavesdrop=\"true\"/>\n"
			       "    <allow own=\"*\"/>\n"
			       "  </policy>\n"
			       "</busconfig>\n",
			       bus_dir);
	conf_path = g_build_filename(bus_dir, "bus.conf", NULL);
	g_assert_true(g_file_set_contents(conf_path, conf, -1, &error));
	launcher = pal_test_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
	bus_process = g_subprocess_launcher_spawn(launcher,
						  &error,
						  "dbus-daemon",
						  "--config-file",
						  conf_path,
						  "--print-address=1",
						  "--nofork",
						  "--nopidfile",
						  NULL);
	g_assert_no_error(error);
	out = g_data_input_stream_new(g_subprocess_get_stdout_pipe(bus_process));
	line = g_data_input_stream_read_line_utf8(out, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_nonnull(line);
	bus_address = g_strdup(g_strstrip(line));
	g_test_message("private bus at %s", bus_address);
	/* the socket for users other than root (the refused-caller test) */
	{
		g_autoptr(GDir) dir = g_dir_open(bus_dir, 0, NULL);
		const gchar *name;
		while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
			g_autofree gchar *path = g_build_filename(bus_dir, name, NULL);
			if (g_str_has_prefix(name, "dbus-"))
				(void)chmod(path, 0777);
		}
	}
}

static void
bus_stop(void)
{
	g_autofree gchar *conf_path = g_build_filename(bus_dir, "bus.conf", NULL);

	g_subprocess_force_exit(bus_process);
	g_subprocess_wait(bus_process, NULL, NULL);
	g_clear_object(&bus_process);
	(void)g_unlink(conf_path);
	{
		g_autoptr(GDir) dir = g_dir_open(bus_dir, 0, NULL);
		const gchar *name;
		while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
			g_autofree gchar *path = g_build_filename(bus_dir, name, NULL);
			(void)g_unlink(path);
		}
	}
	(void)g_rmdir(bus_dir);
	g_clear_pointer(&bus_dir, g_free);
	g_clear_pointer(&bus_address, g_free);
}

static GDBusConnection *
bus_connect(void)
{
	g_autoptr(GError) error = NULL;
	GDBusConnection *c = g_dbus_connection_new_for_address_sync(bus_address,
								     G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
									 G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
								     NULL,
								     NULL,
								     &error);
	g_assert_no_error(error);
	return c;
}

static gboolean
name_has_owner(GDBusConnection *c)
{
	g_autoptr(GVariant) reply = g_dbus_connection_call_sync(c,
								 "org.freedesktop.DBus",
								 "/org/freedesktop/DBus",
								 "org.freedesktop.DBus",
								 "NameHasOwner",
								 g_variant_new("(s)", BUS_NAME),
								 G_VARIANT_TYPE("(b)"),
								 G_DBUS_CALL_FLAGS_NONE,
								 -1,
								 NULL,
								 NULL);
	gboolean owned = FALSE;

	g_assert_nonnull(reply);
	g_variant_get(reply, "(b)", &owned);
	return owned;
}

/* the bus notices a stopped palaverd a little after it exits: wait, so that the next one can
 * own the name */
static void
wait_name_released(GDBusConnection *c)
{
	gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

	while (name_has_owner(c)) {
		g_assert_cmpint(g_get_monotonic_time(), <, deadline);
		g_usleep(20 * 1000);
	}
}

/* ---- the fixture: a receiver, palaverd with one file endpoint, a proxy ---- */

typedef struct {
	PalTestReceiver *receiver;
	PalTestDaemon *daemon;
	GDBusConnection *connection;
	PalDBusGateway1 *proxy;
	gboolean started; /* once: later starts are restarts */
} Fixture;

static gchar *
endpoint_json(const gchar *name, const gchar *token, const gchar *webhook, const gchar *extra)
{
	return g_strdup_printf("{\"name\": \"%s\", \"URLToken\": \"%s\", \"flow\": {\"type\": \"echo\"},"
			       " \"webhook\": {\"url\": \"%s\", \"user\": \"bot\", \"password\": \"s3cret-pw\","
			       " \"ttlSeconds\": 30, \"retryInitialMs\": 100, \"retryMaxMs\": 200}%s%s}",
			       name,
			       token,
			       webhook,
			       extra != NULL ? ", " : "",
			       extra != NULL ? extra : "");
}

static void
daemon_start(Fixture *fx)
{
	g_autoptr(GError) error = NULL;

	if (fx->started)
		g_assert_true(pal_test_daemon_restart(fx->daemon, &error));
	else
		g_assert_true(pal_test_daemon_start(fx->daemon, &error));
	g_assert_no_error(error);
	fx->started = TRUE;
	g_assert_true(name_has_owner(fx->connection));
	g_clear_object(&fx->proxy);
	fx->proxy = pal_dbus_gateway1_proxy_new_sync(fx->connection,
						     G_DBUS_PROXY_FLAGS_NONE,
						     BUS_NAME,
						     BUS_PATH,
						     NULL,
						     &error);
	g_assert_no_error(error);
}

static void
daemon_stop(Fixture *fx)
{
	g_autoptr(GError) error = NULL;
	gint status = -1;

	g_clear_object(&fx->proxy);
	g_assert_true(pal_test_daemon_stop(fx->daemon, SIGTERM, 20000, &status, &error));
	g_assert_no_error(error);
	g_assert_cmpint(status, ==, 0);
	wait_name_released(fx->connection);
}

static void
fixture_setup(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *hook = NULL;
	g_autofree gchar *json = NULL;

	fx->receiver = pal_test_receiver_new_started();
	hook = pal_test_receiver_get_url(fx->receiver, "/hook");
	json = endpoint_json("support", TOKEN, hook, "\"auth\": {\"webhookKeys\": [\"key-one\"], \"apiKeys\": [\"api-one\"]}");
	fx->daemon = pal_test_daemon_new();
	pal_test_daemon_set_conf(fx->daemon, "DBus", "Bus", "session");
	pal_test_daemon_setenv(fx->daemon, "DBUS_SESSION_BUS_ADDRESS", bus_address);
	pal_test_daemon_add_endpoint(fx->daemon, "support.json", json);
	fx->connection = bus_connect();
	daemon_start(fx);
}

static void
fixture_teardown(Fixture *fx, gconstpointer data)
{
	if (pal_test_daemon_is_running(fx->daemon))
		daemon_stop(fx);
	g_clear_object(&fx->proxy);
	g_clear_object(&fx->connection);
	pal_test_daemon_free(fx->daemon);
	pal_test_receiver_free(fx->receiver);
}

static JsonNode *
parse(const gchar *text)
{
	JsonNode *node = pal_test_json_parse(text);
	g_assert_nonnull(node);
	return node;
}

/* POST body to a path of the daemon: the status */
static guint
http_post(Fixture *fx, const gchar *path, const gchar *body, GHashTable *headers)
{
	g_autofree gchar *url = pal_test_daemon_get_url(fx->daemon, path);
	g_autoptr(GError) error = NULL;
	guint status = 0;

	g_assert_true(pal_test_http_post(url, "application/json", body, strlen(body), headers, &status, NULL, &error));
	g_assert_no_error(error);
	return status;
}

static GHashTable *
key_header(void)
{
	GHashTable *h = g_hash_table_new(g_str_hash, g_str_equal);
	g_hash_table_insert(h, (gpointer) "X-Webhook-Key", (gpointer) "key-one");
	return h;
}

/* the receiver's request @index as JSON, its AIOutput */
static JsonObject *
delivered_output(Fixture *fx, guint index, JsonNode **root)
{
	g_autoptr(PalReceivedRequest) req = pal_test_receiver_dup_request(fx->receiver, index);
	JsonNode *json;

	g_assert_nonnull(req);
	json = pal_received_request_get_json(req);
	g_assert_nonnull(json);
	*root = json_node_copy(json);
	return json_object_get_object_member(json_node_get_object(*root), "AIOutput");
}

static void
assert_dbus_error(GError *error, PalError code, const gchar *name)
{
	g_autofree gchar *remote = NULL;

	g_assert_nonnull(error);
	g_test_message("D-Bus error: %s", error->message);
	g_assert_true(g_dbus_error_is_remote_error(error));
	remote = g_dbus_error_get_remote_error(error);
	g_assert_cmpstr(remote, ==, name);
	g_assert_error(error, PAL_ERROR, (gint)code);
}

/* ---- unit tests ---- */

static void
test_error_mapping(void)
{
	static const struct {
		PalError code;
		const gchar *name;
	} map[] = {
	    {PAL_ERROR_FAILED, "org.palaver.Gateway1.Error.Failed"},
	    {PAL_ERROR_INVALID_DATA, "org.palaver.Gateway1.Error.InvalidData"},
	    {PAL_ERROR_NOT_FOUND, "org.palaver.Gateway1.Error.NotFound"},
	    {PAL_ERROR_EXISTS, "org.palaver.Gateway1.Error.Exists"},
	    {PAL_ERROR_TIMED_OUT, "org.palaver.Gateway1.Error.TimedOut"},
	    {PAL_ERROR_PLUGIN, "org.palaver.Gateway1.Error.Plugin"},
	    {PAL_ERROR_BUSY, "org.palaver.Gateway1.Error.Busy"},
	    {PAL_ERROR_NOT_SUPPORTED, "org.palaver.Gateway1.Error.NotSupported"},
	    {PAL_ERROR_PERMISSION_DENIED, "org.palaver.Gateway1.Error.PermissionDenied"},
	    {PAL_ERROR_UNAVAILABLE, "org.palaver.Gateway1.Error.Unavailable"},
	};

	pal_dbus_error_register();
	pal_dbus_error_register(); /* idempotent */
	g_assert_cmpuint(G_N_ELEMENTS(map), ==, PAL_ERROR_LAST);
	for (guint i = 0; i < G_N_ELEMENTS(map); i++) {
		g_autoptr(GError) local = g_error_new(PAL_ERROR, map[i].code, "what %u", i);
		g_autofree gchar *name = g_dbus_error_encode_gerror(local);
		g_autoptr(GError) remote = g_dbus_error_new_for_dbus_error(map[i].name, "it failed");

		g_assert_cmpstr(name, ==, map[i].name);
		g_assert_error(remote, PAL_ERROR, (gint)map[i].code);
		g_assert_true(g_dbus_error_strip_remote_error(remote));
		g_assert_cmpstr(remote->message, ==, "it failed");
	}
	/* other domains reach clients as Failed, with their message */
	{
		g_autoptr(GError) io = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no file");
		g_autoptr(GError) pal = pal_dbus_error_to_pal(io);
		g_autoptr(GError) cancelled = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_CANCELLED, "stop");
		g_autoptr(GError) unavailable = pal_dbus_error_to_pal(cancelled);
		g_autoptr(GError) same = g_error_new_literal(PAL_ERROR, PAL_ERROR_EXISTS, "dup");
		g_autoptr(GError) copy = pal_dbus_error_to_pal(same);

		g_assert_error(pal, PAL_ERROR, PAL_ERROR_FAILED);
		g_assert_cmpstr(pal->message, ==, "no file");
		g_assert_error(unavailable, PAL_ERROR, PAL_ERROR_UNAVAILABLE);
		g_assert_error(copy, PAL_ERROR, PAL_ERROR_EXISTS);
	}
}

static void
test_caller_allowed(void)
{
	const gid_t palaver = 990;
	const gid_t others[] = {100, 27, 990};
	const gid_t none[] = {100, 27};

	/* root, always */
	g_assert_true(pal_dbus_caller_allowed(0, NULL, 0, palaver, 990));
	g_assert_true(pal_dbus_caller_allowed(0, NULL, 0, (gid_t)-1, 990));
	/* the daemon's own user (session bus: the developer; system bus: palaver) */
	g_assert_true(pal_dbus_caller_allowed(1000, NULL, 0, palaver, 1000));
	/* the group palaver, among others */
	g_assert_true(pal_dbus_caller_allowed(1001, others, G_N_ELEMENTS(others), palaver, 990));
	/* anyone else */
	g_assert_false(pal_dbus_caller_allowed(1001, none, G_N_ELEMENTS(none), palaver, 990));
	g_assert_false(pal_dbus_caller_allowed(1001, NULL, 0, palaver, 990));
	/* no group palaver on the system: (gid_t) -1 never matches, even a group -1 */
	{
		const gid_t weird[] = {(gid_t)-1};
		g_assert_false(pal_dbus_caller_allowed(1001, weird, 1, (gid_t)-1, 990));
	}
}

/* ---- through the generated proxy ---- */

static void
test_reads(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) endpoints = NULL;
	g_autoptr(GVariant) plugins = NULL;
	g_autoptr(GVariant) refused = NULL;
	g_autofree gchar *json = NULL;
	g_autofree gchar *level = NULL;
	g_autoptr(JsonNode) node = NULL;
	const gchar *const *listen = pal_dbus_gateway1_get_listen_addresses(fx->proxy);
	const gchar *name;
	const gchar *source;
	const gchar *origin;
	const gchar *flow;
	const gchar *webhook;
	gboolean active;
	gboolean echo_found = FALSE;
	GVariantIter iter;

	/* properties */
	g_assert_cmpstr(pal_dbus_gateway1_get_version(fx->proxy), ==, PACKAGE_VERSION);
	g_assert_cmpuint(pal_dbus_gateway1_get_workers(fx->proxy), ==, 2);
	g_assert_nonnull(listen);
	g_assert_cmpstr(listen[0], ==, pal_test_daemon_get_base_url(fx->daemon));
	g_assert_cmpint((gint64)pal_dbus_gateway1_get_start_time(fx->proxy), <=, g_get_real_time() / G_USEC_PER_SEC);
	g_assert_cmpint((gint64)pal_dbus_gateway1_get_start_time(fx->proxy),
			>,
			g_get_real_time() / G_USEC_PER_SEC - 60);

	/* endpoints: the file one, its secrets never shown */
	g_assert_true(pal_dbus_gateway1_call_list_endpoints_sync(fx->proxy, &endpoints, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(g_variant_n_children(endpoints), ==, 1);
	g_variant_get_child(endpoints, 0, "(&s&s&sb&s&s)", &name, &source, &origin, &active, &flow, &webhook);
	g_assert_cmpstr(name, ==, "support");
	g_assert_cmpstr(source, ==, "file");
	g_assert_true(g_str_has_suffix(origin, "endpoints.d/support.json"));
	g_assert_true(active);
	g_assert_cmpstr(flow, ==, "echo");
	g_assert_true(g_str_has_suffix(webhook, "/hook"));
	g_assert_true(pal_dbus_gateway1_call_get_endpoint_sync(fx->proxy, "support", &json, NULL, &error));
	g_assert_no_error(error);
	g_assert_null(strstr(json, TOKEN));
	g_assert_null(strstr(json, "s3cret-pw"));
	g_assert_null(strstr(json, "key-one"));
	g_assert_null(strstr(json, "api-one"));
	node = parse(json);
	g_assert_cmpstr(json_object_get_string_member(json_node_get_object(node), "URLToken"), ==, "***");
	g_clear_pointer(&json, g_free);
	g_assert_false(pal_dbus_gateway1_call_get_endpoint_sync(fx->proxy, "nope", &json, NULL, &error));
	assert_dbus_error(error, PAL_ERROR_NOT_FOUND, "org.palaver.Gateway1.Error.NotFound");
	g_clear_error(&error);

	/* plugins: echo, with kind and file */
	g_assert_true(pal_dbus_gateway1_call_list_plugins_sync(fx->proxy, &plugins, &refused, NULL, &error));
	g_assert_no_error(error);
	g_variant_iter_init(&iter, plugins);
	{
		const gchar *pname;
		const gchar *version;
		const gchar *license;
		const gchar *path;
		g_autofree const gchar **kinds = NULL;

		while (g_variant_iter_next(&iter, "(&s^a&s&s&s&s)", &pname, &kinds, &version, &license, &path)) {
			if (g_strcmp0(pname, "echo") == 0) {
				echo_found = TRUE;
				g_assert_cmpstr(kinds[0], ==, "flow");
				g_assert_true(g_str_has_suffix(path, "libpal-plugin-echo.so"));
				g_assert_cmpstr(version, !=, "");
			}
			g_clear_pointer(&kinds, g_free);
		}
	}
	g_assert_true(echo_found);
	g_assert_true(g_variant_is_of_type(refused, G_VARIANT_TYPE("a(ss)")));

	/* log level */
	g_assert_true(pal_dbus_gateway1_call_get_log_level_sync(fx->proxy, &level, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(level, ==, "message");
	g_assert_true(pal_dbus_gateway1_call_set_log_level_sync(fx->proxy, "debug", NULL, &error));
	g_assert_no_error(error);
	g_clear_pointer(&level, g_free);
	g_assert_true(pal_dbus_gateway1_call_get_log_level_sync(fx->proxy, &level, NULL, &error));
	g_assert_cmpstr(level, ==, "debug");
	g_assert_false(pal_dbus_gateway1_call_set_log_level_sync(fx->proxy, "loud", NULL, &error));
	assert_dbus_error(error, PAL_ERROR_INVALID_DATA, "org.palaver.Gateway1.Error.InvalidData");
	g_clear_error(&error);
	g_assert_true(pal_dbus_gateway1_call_set_log_level_sync(fx->proxy, "message", NULL, &error));

	/* reload: the one file again */
	{
		guint loaded = 0;
		guint n_refused = 9;
		g_assert_true(pal_dbus_gateway1_call_reload_sync(fx->proxy, &loaded, &n_refused, NULL, &error));
		g_assert_no_error(error);
		g_assert_cmpuint(loaded, ==, 1);
		g_assert_cmpuint(n_refused, ==, 0);
	}

	/* statistics: one accepted message, one refusal by reason, one delivery */
	{
		g_autoptr(GHashTable) key = key_header();
		g_autofree gchar *stats = NULL;
		g_autoptr(JsonNode) root = NULL;
		JsonObject *support;

		g_assert_cmpuint(http_post(fx, "/" TOKEN, "{\"userId\":\"u\",\"sessionId\":\"s\",\"text\":\"hi\"}", key),
				 ==,
				 202);
		g_assert_cmpuint(http_post(fx, "/" TOKEN, "{\"userId\":\"u\",\"sessionId\":\"s\",\"text\":\"hi\"}", NULL),
				 ==,
				 401);
		g_assert_cmpuint(http_post(fx, "/no-such-token-000000", "{}", NULL), ==, 404);
		g_assert_true(pal_test_receiver_wait_count(fx->receiver, 1, 10000));
		/* the delivery is counted when its 2xx is read */
		for (guint i = 0; i < 100; i++) {
			g_clear_pointer(&stats, g_free);
			g_clear_pointer(&root, json_node_unref);
			g_assert_true(pal_dbus_gateway1_call_get_statistics_sync(fx->proxy, &stats, NULL, &error));
			g_assert_no_error(error);
			root = parse(stats);
			support = json_object_get_object_member(
			    json_object_get_object_member(json_node_get_object(root), "endpoints"),
			    "support");
			if (json_object_get_int_member(support, "delivered") == 1)
				break;
			g_usleep(50 * 1000);
		}
		g_test_message("%s", stats);
		support = json_object_get_object_member(json_object_get_object_member(json_node_get_object(root), "endpoints"),
							"support");
		g_assert_cmpint(json_object_get_int_member(support, "accepted"), ==, 1);
		g_assert_cmpint(json_object_get_int_member(support, "delivered"), ==, 1);
		g_assert_cmpint(json_object_get_int_member(json_object_get_object_member(support, "rejected"),
							   "unauthorized"),
				==,
				1);
		g_assert_cmpint(json_object_get_int_member(json_object_get_object_member(json_node_get_object(root),
											 "rejected"),
							   "unknown_endpoint"),
				==,
				1);
		g_assert_cmpint(json_object_get_int_member(json_object_get_object_member(support, "turnLatencyMs"), "count"),
				==,
				1);
		g_assert_cmpint(
		    json_object_get_int_member(json_object_get_object_member(support, "deliveryLatencyMs"), "count"),
		    ==,
		    1);
		g_assert_true(json_object_has_member(support, "queued"));
		g_assert_cmpuint(json_array_get_length(json_object_get_array_member(json_node_get_object(root), "workers")),
				 ==,
				 2);
	}
}

/* an endpoint added over D-Bus takes traffic at once, is validated like a file, survives a
 * restart, and its changes (edit, disable) persist */
static void
test_runtime_endpoint(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *hook = pal_test_receiver_get_url(fx->receiver, "/runtime");
	g_autofree gchar *json = endpoint_json("sales", TOKEN2, hook, NULL);
	g_autofree gchar *name = NULL;
	g_autofree gchar *shown = NULL;
	g_autoptr(JsonNode) out = NULL;
	const gchar *msg = "{\"userId\":\"u1\",\"sessionId\":\"s1\",\"text\":\"to sales\"}";
	GVariant *list = NULL;

	g_assert_true(pal_dbus_gateway1_call_add_endpoint_sync(fx->proxy, json, &name, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(name, ==, "sales");
	/* in service immediately */
	g_assert_cmpuint(http_post(fx, "/" TOKEN2, msg, NULL), ==, 202);
	g_assert_true(pal_test_receiver_wait_count(fx->receiver, 1, 10000));
	{
		JsonObject *ai = delivered_output(fx, 0, &out);
		g_assert_cmpstr(json_object_get_string_member(ai, "text"), ==, "to sales");
	}

	/* the same name, the same token, a file's endpoint: refused with typed errors */
	g_assert_false(pal_dbus_gateway1_call_add_endpoint_sync(fx->proxy, json, NULL, NULL, &error));
	assert_dbus_error(error, PAL_ERROR_EXISTS, "org.palaver.Gateway1.Error.Exists");
	g_clear_error(&error);
	{
		g_autofree gchar *same_token = endpoint_json("other", TOKEN2, hook, NULL);
		g_assert_false(pal_dbus_gateway1_call_add_endpoint_sync(fx->proxy, same_token, NULL, NULL, &error));
		assert_dbus_error(error, PAL_ERROR_EXISTS, "org.palaver.Gateway1.Error.Exists");
		g_assert_nonnull(strstr(error->message, "\"sales\""));
		g_assert_null(strstr(error->message, TOKEN2));
		g_clear_error(&error);
	}
	g_assert_false(pal_dbus_gateway1_call_update_endpoint_sync(fx->proxy, "support", "{}", FALSE, NULL, &error));
	assert_dbus_error(error, PAL_ERROR_NOT_SUPPORTED, "org.palaver.Gateway1.Error.NotSupported");
	g_clear_error(&error);
	g_assert_false(pal_dbus_gateway1_call_remove_endpoint_sync(fx->proxy, "nope", NULL, &error));
	assert_dbus_error(error, PAL_ERROR_NOT_FOUND, "org.palaver.Gateway1.Error.NotFound");
	g_clear_error(&error);

	/* invalid JSON: the error names the JSON path, nothing changes */
	{
		g_autofree gchar *bad = g_strdup_printf("{\"name\": \"bad\", \"URLToken\": \"bad-token-0000000000001\","
							" \"flow\": {\"type\": \"echo\"},"
							" \"webhook\": {\"url\": \"%s\", \"timeoutMs\": \"fast\"}}",
							hook);
		g_assert_false(pal_dbus_gateway1_call_add_endpoint_sync(fx->proxy, bad, NULL, NULL, &error));
		assert_dbus_error(error, PAL_ERROR_INVALID_DATA, "org.palaver.Gateway1.Error.InvalidData");
		g_assert_nonnull(strstr(error->message, "webhook.timeoutMs"));
		g_clear_error(&error);
		g_assert_false(pal_dbus_gateway1_call_add_endpoint_sync(fx->proxy, "{\"name\": ", NULL, NULL, &error));
		assert_dbus_error(error, PAL_ERROR_INVALID_DATA, "org.palaver.Gateway1.Error.InvalidData");
		g_clear_error(&error);
		g_assert_false(pal_dbus_gateway1_call_add_endpoint_sync(
		    fx->proxy,
		    "{\"name\": \"np\", \"URLToken\": \"np-token-000000000001\", \"flow\": {\"type\": \"nope\"},"
		    " \"webhook\": {\"url\": \"\"}}",
		    NULL,
		    NULL,
		    &error));
		assert_dbus_error(error, PAL_ERROR_PLUGIN, "org.palaver.Gateway1.Error.Plugin");
		g_clear_error(&error);
		g_assert_false(pal_dbus_gateway1_call_update_endpoint_sync(fx->proxy,
									   "sales",
									   "{\"webhook\": {\"ttlSeconds\": 0}}",
									   FALSE,
									   NULL,
									   &error));
		assert_dbus_error(error, PAL_ERROR_INVALID_DATA, "org.palaver.Gateway1.Error.InvalidData");
		g_assert_nonnull(strstr(error->message, "webhook.ttlSeconds"));
		g_clear_error(&error);
		g_assert_false(pal_dbus_gateway1_call_update_endpoint_sync(fx->proxy,
									   "sales",
									   "{\"name\": \"renamed\"}",
									   FALSE,
									   NULL,
									   &error));
		assert_dbus_error(error, PAL_ERROR_INVALID_DATA, "org.palaver.Gateway1.Error.InvalidData");
		g_clear_error(&error);
	}

	/* a merge patch; "***" keeps the password (GetEndpoint's view can be sent back) */
	g_assert_true(pal_dbus_gateway1_call_update_endpoint_sync(fx->proxy,
								  "sales",
								  "{\"locale\": \"de\", \"webhook\": {\"password\": \"***\"}}",
								  FALSE,
								  NULL,
								  &error));
	g_assert_no_error(error);
	g_assert_true(pal_dbus_gateway1_call_get_endpoint_sync(fx->proxy, "sales", &shown, NULL, &error));
	g_assert_nonnull(strstr(shown, "\"locale\":\"de\""));
	/* disabled: 403, persistently; the file endpoint too */
	g_assert_true(pal_dbus_gateway1_call_disable_endpoint_sync(fx->proxy, "sales", NULL, &error));
	g_assert_no_error(error);
	g_assert_true(pal_dbus_gateway1_call_disable_endpoint_sync(fx->proxy, "support", NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(http_post(fx, "/" TOKEN2, msg, NULL), ==, 403);

	daemon_stop(fx);
	daemon_start(fx);

	g_assert_true(pal_dbus_gateway1_call_list_endpoints_sync(fx->proxy, &list, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(g_variant_n_children(list), ==, 2);
	{
		const gchar *n;
		const gchar *source;
		const gchar *origin;
		const gchar *flow;
		const gchar *webhook;
		gboolean active = TRUE;

		g_variant_get_child(list, 0, "(&s&s&sb&s&s)", &n, &source, &origin, &active, &flow, &webhook);
		g_assert_cmpstr(n, ==, "sales");
		g_assert_cmpstr(source, ==, "runtime");
		g_assert_false(active);
		g_variant_get_child(list, 1, "(&s&s&sb&s&s)", &n, &source, &origin, &active, &flow, &webhook);
		g_assert_cmpstr(n, ==, "support");
		g_assert_false(active);
	}
	g_variant_unref(list);
	g_clear_pointer(&shown, g_free);
	g_assert_true(pal_dbus_gateway1_call_get_endpoint_sync(fx->proxy, "sales", &shown, NULL, &error));
	g_assert_nonnull(strstr(shown, "\"locale\":\"de\""));
	g_assert_cmpuint(http_post(fx, "/" TOKEN2, msg, NULL), ==, 403);
	g_assert_true(pal_dbus_gateway1_call_enable_endpoint_sync(fx->proxy, "sales", NULL, &error));
	g_assert_no_error(error);
	g_assert_true(pal_dbus_gateway1_call_enable_endpoint_sync(fx->proxy, "support", NULL, &error));
	g_assert_no_error(error);
	/* the password survived the patch: basic auth as configured */
	g_assert_cmpuint(http_post(fx, "/" TOKEN2, msg, NULL), ==, 202);
	g_assert_true(pal_test_receiver_wait_count(fx->receiver, 2, 10000));
	{
		g_autoptr(PalReceivedRequest) req = pal_test_receiver_dup_request(fx->receiver, 1);
		g_autofree gchar *expected = g_base64_encode((const guchar *)"bot:s3cret-pw", 13);
		g_autofree gchar *auth = g_strdup_printf("Basic %s", expected);
		g_assert_cmpstr(pal_received_request_get_header(req, "Authorization"), ==, auth);
	}

	/* removed: 404, and gone after a restart */
	g_assert_true(pal_dbus_gateway1_call_remove_endpoint_sync(fx->proxy, "sales", NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(http_post(fx, "/" TOKEN2, msg, NULL), ==, 404);
	daemon_stop(fx);
	daemon_start(fx);
	g_assert_true(pal_dbus_gateway1_call_list_endpoints_sync(fx->proxy, &list, NULL, &error));
	g_assert_cmpuint(g_variant_n_children(list), ==, 1);
	g_variant_unref(list);
	/* the file endpoint is active again, with no state left over */
	{
		g_autoptr(GHashTable) key = key_header();
		g_assert_cmpuint(http_post(fx, "/" TOKEN, msg, key), ==, 202);
	}
}

/* inject and notify: D-Bus and the HTTP routes of DESIGN.md §1.2 reach the webhook */
static void
test_inject_notify(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GHashTable) key = key_header();
	g_autofree gchar *input_id = NULL;
	g_autofree gchar *notify_id = NULL;
	g_autoptr(JsonNode) root = NULL;
	JsonObject *ai;

	g_assert_true(pal_dbus_gateway1_call_inject_sync(fx->proxy,
							 "support",
							 "{\"userId\":\"u\",\"sessionId\":\"s\",\"text\":\"injected\"}",
							 &input_id,
							 NULL,
							 &error));
	g_assert_no_error(error);
	g_assert_true(g_uuid_string_is_valid(input_id));
	g_assert_true(pal_test_receiver_wait_count(fx->receiver, 1, 10000));
	ai = delivered_output(fx, 0, &root);
	/* the flow ran (echo): a bot output, for the injected message */
	g_assert_cmpstr(json_object_get_string_member(ai, "text"), ==, "injected");
	g_assert_cmpstr(json_object_get_string_member(ai, "source"), ==, "bot");
	{
		g_autoptr(PalReceivedRequest) req = pal_test_receiver_dup_request(fx->receiver, 0);
		g_assert_cmpstr(pal_received_request_get_header(req, "Palaver-Turn-Id"), ==, input_id);
	}
	g_clear_pointer(&root, json_node_unref);

	g_assert_true(pal_dbus_gateway1_call_notify_sync(fx->proxy,
							 "support",
							 "{\"userId\":\"u\",\"sessionId\":\"s\",\"text\":\"note\","
							 "\"attachments\":[{\"name\":\"a.pdf\",\"url\":\"https://x/a.pdf\"}]}",
							 &notify_id,
							 NULL,
							 &error));
	g_assert_no_error(error);
	g_assert_true(pal_test_receiver_wait_count(fx->receiver, 2, 10000));
	ai = delivered_output(fx, 1, &root);
	g_assert_cmpstr(json_object_get_string_member(ai, "text"), ==, "note");
	g_assert_cmpstr(json_object_get_string_member(ai, "source"), ==, "notify");
	g_assert_cmpstr(json_object_get_string_member(
			    json_array_get_object_element(
				json_object_get_array_member(json_object_get_object_member(ai, "data"), "attachments"),
				0),
			    "name"),
			==,
			"a.pdf");
	{
		g_autoptr(PalReceivedRequest) req = pal_test_receiver_dup_request(fx->receiver, 1);
		/* in order with the session's other outputs */
		g_assert_cmpstr(pal_received_request_get_header(req, "Palaver-Session-Seq"), ==, "2");
	}
	g_clear_pointer(&root, json_node_unref);

	/* the HTTP routes, with the endpoint's checks */
	g_assert_cmpuint(http_post(fx, "/inject/" TOKEN, "{\"userId\":\"u\",\"sessionId\":\"s\",\"text\":\"http inject\"}", key),
			 ==,
			 202);
	g_assert_true(pal_test_receiver_wait_count(fx->receiver, 3, 10000));
	ai = delivered_output(fx, 2, &root);
	g_assert_cmpstr(json_object_get_string_member(ai, "text"), ==, "http inject");
	g_assert_cmpstr(json_object_get_string_member(ai, "source"), ==, "bot");
	g_clear_pointer(&root, json_node_unref);
	g_assert_cmpuint(http_post(fx, "/notify/" TOKEN, "{\"userId\":\"u\",\"sessionId\":\"s\",\"text\":\"http note\"}", key),
			 ==,
			 202);
	g_assert_true(pal_test_receiver_wait_count(fx->receiver, 4, 10000));
	ai = delivered_output(fx, 3, &root);
	g_assert_cmpstr(json_object_get_string_member(ai, "text"), ==, "http note");
	g_assert_cmpstr(json_object_get_string_member(ai, "source"), ==, "notify");
	g_clear_pointer(&root, json_node_unref);
	g_assert_cmpuint(http_post(fx, "/notify/" TOKEN, "{\"userId\":\"u\",\"sessionId\":\"s\",\"text\":\"x\"}", NULL),
			 ==,
			 401);
	g_assert_cmpuint(http_post(fx, "/inject/unknown-token-00000000", "{}", NULL), ==, 404);
	g_assert_cmpuint(http_post(fx, "/notify/" TOKEN, "{\"sessionId\":\"s\",\"text\":\"x\"}", key), ==, 400);

	/* the hosted product's management routes: URL token in the body, API key in a header or
	 * the query, its answers word for word */
	{
		g_autoptr(GHashTable) api = g_hash_table_new(g_str_hash, g_str_equal);
		g_autofree gchar *url = pal_test_daemon_get_url(fx->daemon, "/new/v2.0/endpoint/inject");
		g_autofree gchar *notify_url = pal_test_daemon_get_url(fx->daemon, "/new/v2.0/endpoint/notify?api_key=api-one");
		g_autofree gchar *answer = NULL;
		const gchar *body = "{\"URLToken\":\"" TOKEN "\",\"userId\":\"u\",\"sessionId\":\"s\",\"text\":\"legacy\"}";
		guint status = 0;

		g_hash_table_insert(api, (gpointer) "X-API-Key", (gpointer) "api-one");
		g_assert_true(pal_test_http_post(url, "application/json", body, strlen(body), api, &status, &answer, &error));
		g_assert_cmpuint(status, ==, 200);
		g_assert_cmpstr(answer, ==, "\"Message was sent to AI for Flow processing\"");
		g_clear_pointer(&answer, g_free);
		g_assert_true(pal_test_receiver_wait_count(fx->receiver, 5, 10000));
		ai = delivered_output(fx, 4, &root);
		g_assert_cmpstr(json_object_get_string_member(ai, "source"), ==, "bot");
		g_clear_pointer(&root, json_node_unref);
		g_assert_true(pal_test_http_post(notify_url, "application/json", body, strlen(body), NULL, &status, &answer, &error));
		g_assert_cmpuint(status, ==, 200);
		g_assert_cmpstr(answer, ==, "\"Sucessfully sent message to user\"");
		g_clear_pointer(&answer, g_free);
		g_assert_true(pal_test_receiver_wait_count(fx->receiver, 6, 10000));
		ai = delivered_output(fx, 5, &root);
		g_assert_cmpstr(json_object_get_string_member(ai, "source"), ==, "notify");
		g_clear_pointer(&root, json_node_unref);
		/* the webhook key is no API key */
		g_assert_true(pal_test_http_post(url, "application/json", body, strlen(body), key, &status, NULL, &error));
		g_assert_cmpuint(status, ==, 401);
		g_assert_true(pal_test_http_post(url, "application/json", "{\"userId\":\"u\"}", 12, api, &status, NULL, &error));
		g_assert_cmpuint(status, ==, 400);
	}

	/* errors over D-Bus: typed, with the field */
	g_assert_false(pal_dbus_gateway1_call_inject_sync(fx->proxy, "support", "{\"sessionId\":\"s\",\"text\":\"x\"}",
							  NULL, NULL, &error));
	assert_dbus_error(error, PAL_ERROR_INVALID_DATA, "org.palaver.Gateway1.Error.InvalidData");
	g_assert_nonnull(strstr(error->message, "userId"));
	g_clear_error(&error);
	g_assert_false(pal_dbus_gateway1_call_notify_sync(fx->proxy, "nope", "{}", NULL, NULL, &error));
	assert_dbus_error(error, PAL_ERROR_NOT_FOUND, "org.palaver.Gateway1.Error.NotFound");
	g_clear_error(&error);
	g_assert_true(pal_dbus_gateway1_call_disable_endpoint_sync(fx->proxy, "support", NULL, &error));
	g_assert_false(pal_dbus_gateway1_call_inject_sync(fx->proxy, "support",
							  "{\"userId\":\"u\",\"sessionId\":\"s\",\"text\":\"x\"}",
							  NULL, NULL, &error));
	assert_dbus_error(error, PAL_ERROR_UNAVAILABLE, "org.palaver.Gateway1.Error.Unavailable");
	g_clear_error(&error);
	g_assert_true(pal_dbus_gateway1_call_enable_endpoint_sync(fx->proxy, "support", NULL, &error));
}

static void
test_sessions(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GHashTable) key = key_header();
	g_autofree gchar *json = NULL;
	g_autoptr(JsonNode) root = NULL;
	guint64 total = 0;
	JsonArray *array;

	for (guint i = 0; i < 3; i++) {
		g_autofree gchar *body = g_strdup_printf("{\"userId\":\"u%u\",\"sessionId\":\"s\",\"text\":\"hi\"}", i);
		g_assert_cmpuint(http_post(fx, "/" TOKEN, body, key), ==, 202);
	}
	g_assert_true(pal_test_receiver_wait_count(fx->receiver, 3, 10000));
	/* the turns are committed before their outputs go out */
	g_assert_true(pal_dbus_gateway1_call_list_sessions_sync(fx->proxy, "support", 0, 2, &json, &total, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(total, ==, 3);
	root = parse(json);
	array = json_node_get_array(root);
	g_assert_cmpuint(json_array_get_length(array), ==, 2);
	g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(array, 0), "endpoint"), ==, "support");
	g_assert_cmpint(json_object_get_int_member(json_array_get_object_element(array, 0), "turns"), ==, 1);
	g_clear_pointer(&json, g_free);
	g_clear_pointer(&root, json_node_unref);
	g_assert_true(pal_dbus_gateway1_call_list_sessions_sync(fx->proxy, "", 2, 10, &json, &total, NULL, &error));
	root = parse(json);
	g_assert_cmpuint(json_array_get_length(json_node_get_array(root)), ==, 1);
	g_clear_pointer(&json, g_free);
	g_clear_pointer(&root, json_node_unref);
	g_assert_true(pal_dbus_gateway1_call_list_sessions_sync(fx->proxy, "other", 0, 0, &json, &total, NULL, &error));
	g_assert_cmpuint(total, ==, 0);
	g_clear_pointer(&json, g_free);

	g_assert_true(pal_dbus_gateway1_call_get_session_sync(fx->proxy, "support", "u1", "s", &json, NULL, &error));
	g_assert_no_error(error);
	root = parse(json);
	g_assert_cmpstr(json_object_get_string_member(json_node_get_object(root), "userId"), ==, "u1");
	g_assert_cmpint(json_object_get_int_member(json_node_get_object(root), "turns"), ==, 1);
	g_assert_cmpint(json_object_get_int_member(json_node_get_object(root), "lastSeq"), ==, 1);
	g_assert_true(json_object_has_member(json_node_get_object(root), "context"));
	g_clear_pointer(&json, g_free);
	g_clear_pointer(&root, json_node_unref);

	/* reset: the state goes, the sequence counter stays */
	g_assert_true(pal_dbus_gateway1_call_reset_session_sync(fx->proxy, "support", "u1", "s", NULL, &error));
	g_assert_no_error(error);
	g_assert_true(pal_dbus_gateway1_call_get_session_sync(fx->proxy, "support", "u1", "s", &json, NULL, &error));
	root = parse(json);
	g_assert_cmpint(json_object_get_int_member(json_node_get_object(root), "turns"), ==, 0);
	g_assert_cmpint(json_object_get_int_member(json_node_get_object(root), "lastSeq"), ==, 1);
	g_clear_pointer(&json, g_free);
	g_clear_pointer(&root, json_node_unref);
	/* the session goes on, counting from there */
	g_assert_cmpuint(http_post(fx, "/" TOKEN, "{\"userId\":\"u1\",\"sessionId\":\"s\",\"text\":\"again\"}", key), ==, 202);
	g_assert_true(pal_test_receiver_wait_count(fx->receiver, 4, 10000));
	{
		g_autoptr(PalReceivedRequest) req = pal_test_receiver_dup_request(fx->receiver, 3);
		g_assert_cmpstr(pal_received_request_get_header(req, "Palaver-Session-Seq"), ==, "2");
	}
	g_assert_true(pal_dbus_gateway1_call_get_session_sync(fx->proxy, "support", "u1", "s", &json, NULL, &error));
	root = parse(json);
	g_assert_cmpint(json_object_get_int_member(json_node_get_object(root), "turns"), ==, 1);

	g_assert_false(pal_dbus_gateway1_call_get_session_sync(fx->proxy, "support", "nobody", "s", NULL, NULL, &error));
	assert_dbus_error(error, PAL_ERROR_NOT_FOUND, "org.palaver.Gateway1.Error.NotFound");
	g_clear_error(&error);
	g_assert_false(pal_dbus_gateway1_call_reset_session_sync(fx->proxy, "support", "nobody", "s", NULL, &error));
	assert_dbus_error(error, PAL_ERROR_NOT_FOUND, "org.palaver.Gateway1.Error.NotFound");
	g_clear_error(&error);
}

/* lets the proxy's signals in (they arrive in this thread's default context) */
static void
iterate(void)
{
	if (!g_main_context_iteration(NULL, FALSE))
		g_usleep(10 * 1000);
}

typedef struct {
	guint delivery_failed;
	guint endpoint_changed;
	gchar *last_reason;
} Signals;

static void
on_delivery_failed(PalDBusGateway1 *proxy,
		   const gchar *endpoint,
		   const gchar *user_id,
		   const gchar *session_id,
		   const gchar *webhook_id,
		   const gchar *reason,
		   gint status,
		   Signals *s)
{
	g_assert_cmpstr(endpoint, ==, "support");
	g_assert_cmpstr(user_id, ==, "u");
	g_assert_cmpstr(session_id, ==, "s");
	g_assert_cmpint(status, ==, 400);
	g_free(s->last_reason);
	s->last_reason = g_strdup(reason);
	s->delivery_failed++;
}

static void
on_endpoint_changed(PalDBusGateway1 *proxy, const gchar *name, const gchar *change, Signals *s)
{
	s->endpoint_changed++;
}

/* dead letters: listed, replayed (delivered again), purged; the DeliveryFailed signal */
static void
test_dead_letters(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GHashTable) key = key_header();
	g_autofree gchar *json = NULL;
	g_autoptr(JsonNode) root = NULL;
	Signals s = {0};
	guint count = 0;
	guint base;
	gint64 deadline;

	g_signal_connect(fx->proxy, "delivery-failed", G_CALLBACK(on_delivery_failed), &s);
	g_signal_connect(fx->proxy, "endpoint-changed", G_CALLBACK(on_endpoint_changed), &s);
	pal_test_receiver_set_status(fx->receiver, 400);
	g_assert_cmpuint(http_post(fx, "/" TOKEN, "{\"userId\":\"u\",\"sessionId\":\"s\",\"text\":\"lost\"}", key), ==, 202);
	g_assert_cmpuint(http_post(fx, "/" TOKEN, "{\"userId\":\"u\",\"sessionId\":\"s\",\"text\":\"lost too\"}", key), ==, 202);
	deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
	while (s.delivery_failed < 2 && g_get_monotonic_time() < deadline)
		iterate();
	g_assert_cmpuint(s.delivery_failed, ==, 2);
	g_assert_nonnull(strstr(s.last_reason, "400"));

	g_assert_true(pal_dbus_gateway1_call_list_dead_letters_sync(fx->proxy, "", "", "", 0, 0, &json, NULL, &error));
	g_assert_no_error(error);
	root = parse(json);
	g_assert_cmpuint(json_array_get_length(json_node_get_array(root)), ==, 2);
	{
		JsonObject *d = json_array_get_object_element(json_node_get_array(root), 0);
		g_assert_cmpstr(json_object_get_string_member(d, "endpoint"), ==, "support");
		g_assert_cmpstr(json_object_get_string_member(d, "userId"), ==, "u");
		g_assert_cmpint(json_object_get_int_member(d, "lastStatus"), ==, 400);
		g_assert_cmpstr(json_object_get_string_member(json_object_get_object_member(json_object_get_object_member(d, "body"),
											    "AIOutput"),
							      "text"),
				==,
				"lost");
	}
	g_clear_pointer(&json, g_free);
	g_clear_pointer(&root, json_node_unref);
	/* filters: a session needs all three parts */
	g_assert_true(pal_dbus_gateway1_call_list_dead_letters_sync(fx->proxy, "support", "u", "s", 1, 5, &json, NULL, &error));
	root = parse(json);
	g_assert_cmpuint(json_array_get_length(json_node_get_array(root)), ==, 1);
	g_clear_pointer(&json, g_free);
	g_clear_pointer(&root, json_node_unref);
	g_assert_false(pal_dbus_gateway1_call_list_dead_letters_sync(fx->proxy, "", "u", "", 0, 0, &json, NULL, &error));
	assert_dbus_error(error, PAL_ERROR_INVALID_DATA, "org.palaver.Gateway1.Error.InvalidData");
	g_clear_error(&error);

	/* replay: delivered again, in order */
	pal_test_receiver_clear_requests(fx->receiver);
	pal_test_receiver_set_status(fx->receiver, 200);
	base = pal_test_receiver_get_count(fx->receiver);
	g_assert_true(pal_dbus_gateway1_call_replay_dead_letters_sync(fx->proxy, "support", "", "", &count, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(count, ==, 2);
	g_assert_true(pal_test_receiver_wait_count(fx->receiver, base + 2, 10000));
	{
		JsonObject *ai = delivered_output(fx, 0, &root);
		g_assert_cmpstr(json_object_get_string_member(ai, "text"), ==, "lost");
		g_clear_pointer(&root, json_node_unref);
		ai = delivered_output(fx, 1, &root);
		g_assert_cmpstr(json_object_get_string_member(ai, "text"), ==, "lost too");
		g_clear_pointer(&root, json_node_unref);
	}
	g_assert_true(pal_dbus_gateway1_call_list_dead_letters_sync(fx->proxy, "", "", "", 0, 0, &json, NULL, &error));
	g_assert_cmpstr(json, ==, "[]");
	g_clear_pointer(&json, g_free);
	g_assert_false(pal_dbus_gateway1_call_replay_dead_letters_sync(fx->proxy, "nope", "", "", &count, NULL, &error));
	assert_dbus_error(error, PAL_ERROR_NOT_FOUND, "org.palaver.Gateway1.Error.NotFound");
	g_clear_error(&error);

	/* purge */
	pal_test_receiver_set_status(fx->receiver, 400);
	g_assert_cmpuint(http_post(fx, "/" TOKEN, "{\"userId\":\"u\",\"sessionId\":\"s\",\"text\":\"lost again\"}", key), ==, 202);
	deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
	while (s.delivery_failed < 3 && g_get_monotonic_time() < deadline)
		iterate();
	g_assert_cmpuint(s.delivery_failed, ==, 3);
	g_assert_true(pal_dbus_gateway1_call_purge_dead_letters_sync(fx->proxy, "", "", "", &count, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(count, ==, 1);
	g_assert_true(pal_dbus_gateway1_call_purge_dead_letters_sync(fx->proxy, "", "", "", &count, NULL, &error));
	g_assert_cmpuint(count, ==, 0);

	/* EndpointChanged, for a change */
	g_assert_true(pal_dbus_gateway1_call_disable_endpoint_sync(fx->proxy, "support", NULL, &error));
	deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
	while (s.endpoint_changed < 1 && g_get_monotonic_time() < deadline)
		iterate();
	g_assert_cmpuint(s.endpoint_changed, ==, 1);
	g_signal_handlers_disconnect_by_data(fx->proxy, &s);
	g_free(s.last_reason);
}

static void
on_handover_changed(PalDBusGateway1 *proxy,
		    const gchar *endpoint,
		    const gchar *user_id,
		    const gchar *session_id,
		    gboolean active,
		    GString *events)
{
	g_string_append_printf(events, "%s/%s/%s:%s;", endpoint, user_id, session_id, active ? "on" : "off");
}

/* HandoverChanged: a graph flow's handover node hands the session to a person, the next input
 * takes it back (a runtime endpoint with a graph flow, while at it) */
static void
test_handover_signal(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GString) events = g_string_new(NULL);
	g_autofree gchar *flow = g_build_filename(pal_test_daemon_get_dir(fx->daemon), "flows", "desk.json", NULL);
	g_autofree gchar *hook = pal_test_receiver_get_url(fx->receiver, "/desk");
	g_autofree gchar *json = NULL;
	const gchar *msg = "{\"userId\":\"hu\",\"sessionId\":\"hs\",\"text\":\"agent please\"}";
	gint64 deadline;

	pal_test_daemon_write_file(fx->daemon,
				   "flows/desk.json",
				   "{\"start\": \"h\", \"nodes\": {"
				   "\"h\": {\"type\": \"handover\", \"provider\": \"desk\", \"text\": \"connecting\", "
				   "\"next\": \"back\"},"
				   "\"back\": {\"type\": \"say\", \"text\": \"welcome back\"}}}");
	json = g_strdup_printf("{\"name\": \"desk\", \"URLToken\": \"" TOKEN2 "\", "
			       "\"flow\": {\"type\": \"graph\", \"file\": \"%s\"}, \"webhook\": {\"url\": \"%s\"}}",
			       flow,
			       hook);
	g_assert_true(pal_dbus_gateway1_call_add_endpoint_sync(fx->proxy, json, NULL, NULL, &error));
	g_assert_no_error(error);
	g_signal_connect(fx->proxy, "handover-changed", G_CALLBACK(on_handover_changed), events);
	g_assert_cmpuint(http_post(fx, "/" TOKEN2, msg, NULL), ==, 202);
	deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
	while (events->len == 0 && g_get_monotonic_time() < deadline)
		iterate();
	g_assert_cmpstr(events->str, ==, "desk/hu/hs:on;");
	g_assert_cmpuint(http_post(fx, "/" TOKEN2, msg, NULL), ==, 202);
	deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
	while (g_str_has_suffix(events->str, ":on;") && g_get_monotonic_time() < deadline)
		iterate();
	g_assert_cmpstr(events->str, ==, "desk/hu/hs:on;desk/hu/hs:off;");
	/* and the webhook got the handover request and the flow going on */
	g_assert_true(pal_test_receiver_wait_count(fx->receiver, 3, 10000));
	g_signal_handlers_disconnect_by_data(fx->proxy, events);
}

/* ---- foreign clients: gdbus call and busctl, for every method ---- */

typedef struct {
	gint status;
	gchar *out;
	gchar *err;
} Run;

static void
run_clear(Run *r)
{
	g_clear_pointer(&r->out, g_free);
	g_clear_pointer(&r->err, g_free);
}

static void
run_argv(Run *r, GSubprocessLauncher *launcher, const gchar *const *argv)
{
	g_autoptr(GSubprocess) sp = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *cmd = g_strjoinv(" ", (gchar **)argv);

	run_clear(r);
	sp = g_subprocess_launcher_spawnv(launcher, argv, &error);
	g_assert_no_error(error);
	g_assert_true(g_subprocess_communicate_utf8(sp, NULL, NULL, &r->out, &r->err, &error));
	g_assert_no_error(error);
	g_assert_true(pal_test_subprocess_wait(sp, 30000, &r->status, &error));
	g_assert_no_error(error);
	g_test_message("%s: exit %d\nstdout: %s\nstderr: %s", cmd, r->status, r->out, r->err);
}

static GSubprocessLauncher *
launcher_new(void)
{
	GSubprocessLauncher *l = pal_test_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE |
								  G_SUBPROCESS_FLAGS_STDERR_PIPE);
	g_subprocess_launcher_setenv(l, "DBUS_SESSION_BUS_ADDRESS", bus_address, TRUE);
	g_subprocess_launcher_setenv(l, "LC_ALL", "C.UTF-8", TRUE);
	return l;
}

/* gdbus call METHOD ARGS… (NULL-terminated) */
static void
gdbus_call(Run *r, const gchar *method, ...)
{
	g_autoptr(GSubprocessLauncher) l = launcher_new();
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	va_list ap;

	g_ptr_array_add(argv, g_strdup("gdbus"));
	g_ptr_array_add(argv, g_strdup("call"));
	g_ptr_array_add(argv, g_strdup("--address"));
	g_ptr_array_add(argv, g_strdup(bus_address));
	g_ptr_array_add(argv, g_strdup("--dest"));
	g_ptr_array_add(argv, g_strdup(BUS_NAME));
	g_ptr_array_add(argv, g_strdup("--object-path"));
	g_ptr_array_add(argv, g_strdup(BUS_PATH));
	g_ptr_array_add(argv, g_strdup("--method"));
	g_ptr_array_add(argv, g_strdup_printf("org.palaver.Gateway1.%s", method));
	va_start(ap, method);
	for (const gchar *arg = va_arg(ap, const gchar *); arg != NULL; arg = va_arg(ap, const gchar *))
		g_ptr_array_add(argv, g_strdup(arg));
	va_end(ap);
	g_ptr_array_add(argv, NULL);
	run_argv(r, l, (const gchar *const *)argv->pdata);
}

static void
test_foreign_clients(Fixture *fx, gconstpointer data)
{
	Run r = {0};
	g_autofree gchar *hook = pal_test_receiver_get_url(fx->receiver, "/foreign");
	g_autofree gchar *json = endpoint_json("foreign", TOKEN2, hook, NULL);
	const gchar *msg = "{\"userId\":\"fu\",\"sessionId\":\"fs\",\"text\":\"from gdbus\"}";

	g_autofree gchar *gdbus = g_find_program_in_path("gdbus");
	g_autofree gchar *busctl = g_find_program_in_path("busctl");

	if (gdbus == NULL) {
		g_test_skip("gdbus is not installed");
		return;
	}
	gdbus_call(&r, "ListEndpoints", NULL);
	g_assert_cmpint(r.status, ==, 0);
	g_assert_nonnull(strstr(r.out, "'support', 'file'"));
	gdbus_call(&r, "GetEndpoint", "support", NULL);
	g_assert_cmpint(r.status, ==, 0);
	g_assert_null(strstr(r.out, "s3cret"));
	gdbus_call(&r, "AddEndpoint", json, NULL);
	g_assert_cmpint(r.status, ==, 0);
	g_assert_cmpstr(r.out, ==, "('foreign',)\n");
	gdbus_call(&r, "UpdateEndpoint", "foreign", "{\"locale\":\"fr\"}", "false", NULL);
	g_assert_cmpint(r.status, ==, 0);
	gdbus_call(&r, "DisableEndpoint", "foreign", NULL);
	g_assert_cmpint(r.status, ==, 0);
	gdbus_call(&r, "EnableEndpoint", "foreign", NULL);
	g_assert_cmpint(r.status, ==, 0);
	gdbus_call(&r, "Inject", "foreign", msg, NULL);
	g_assert_cmpint(r.status, ==, 0);
	gdbus_call(&r, "Notify", "foreign", msg, NULL);
	g_assert_cmpint(r.status, ==, 0);
	g_assert_true(pal_test_receiver_wait_count(fx->receiver, 2, 10000));
	gdbus_call(&r, "ListSessions", "foreign", "0", "0", NULL);
	g_assert_cmpint(r.status, ==, 0);
	g_assert_nonnull(strstr(r.out, "uint64 1"));
	gdbus_call(&r, "GetSession", "foreign", "fu", "fs", NULL);
	g_assert_cmpint(r.status, ==, 0);
	g_assert_nonnull(strstr(r.out, "\"turns\":1"));
	gdbus_call(&r, "ResetSession", "foreign", "fu", "fs", NULL);
	g_assert_cmpint(r.status, ==, 0);
	gdbus_call(&r, "ListDeadLetters", "", "", "", "0", "0", NULL);
	g_assert_cmpint(r.status, ==, 0);
	g_assert_cmpstr(r.out, ==, "('[]',)\n");
	gdbus_call(&r, "ReplayDeadLetters", "", "", "", NULL);
	g_assert_cmpint(r.status, ==, 0);
	g_assert_cmpstr(r.out, ==, "(uint32 0,)\n");
	gdbus_call(&r, "PurgeDeadLetters", "foreign", "", "", NULL);
	g_assert_cmpint(r.status, ==, 0);
	gdbus_call(&r, "GetStatistics", NULL);
	g_assert_cmpint(r.status, ==, 0);
	g_assert_nonnull(strstr(r.out, "\"foreign\""));
	gdbus_call(&r, "SetLogLevel", "info", NULL);
	g_assert_cmpint(r.status, ==, 0);
	gdbus_call(&r, "GetLogLevel", NULL);
	g_assert_cmpstr(r.out, ==, "('info',)\n");
	gdbus_call(&r, "ListPlugins", NULL);
	g_assert_cmpint(r.status, ==, 0);
	g_assert_nonnull(strstr(r.out, "'echo', ['flow']"));
	gdbus_call(&r, "Reload", NULL);
	g_assert_cmpint(r.status, ==, 0);
	g_assert_cmpstr(r.out, ==, "(uint32 2, uint32 0)\n");
	gdbus_call(&r, "RemoveEndpoint", "foreign", NULL);
	g_assert_cmpint(r.status, ==, 0);
	/* a typed error, as a foreign client sees it */
	gdbus_call(&r, "RemoveEndpoint", "foreign", NULL);
	g_assert_cmpint(r.status, !=, 0);
	g_assert_nonnull(strstr(r.err, "org.palaver.Gateway1.Error.NotFound"));
	gdbus_call(&r, "AddEndpoint", "{\"name\":\"x\",\"URLToken\":\"x-token-0000000000001\",\"flow\":{\"type\":\"echo\"},\"webhook\":{\"url\":\"ftp://x\"}}", NULL);
	g_assert_nonnull(strstr(r.err, "org.palaver.Gateway1.Error.InvalidData"));
	g_assert_nonnull(strstr(r.err, "webhook.url"));

	/* busctl, another implementation of the protocol: properties and a call */
	if (busctl != NULL) {
		g_autoptr(GSubprocessLauncher) l = launcher_new();
		g_autofree gchar *address = g_strdup_printf("--address=%s", bus_address);
		const gchar *get[] = {"busctl", address, "get-property", BUS_NAME, BUS_PATH, "org.palaver.Gateway1",
				      "Workers", NULL};
		const gchar *call[] = {"busctl", address, "call", BUS_NAME, BUS_PATH, "org.palaver.Gateway1",
				       "GetEndpoint", "s", "support", NULL};
		const gchar *introspect[] = {"busctl", address, "introspect", BUS_NAME, BUS_PATH, NULL};

		run_argv(&r, l, get);
		g_assert_cmpint(r.status, ==, 0);
		g_assert_cmpstr(r.out, ==, "u 2\n");
		run_argv(&r, l, call);
		g_assert_cmpint(r.status, ==, 0);
		g_assert_true(g_str_has_prefix(r.out, "s \""));
		run_argv(&r, l, introspect);
		g_assert_cmpint(r.status, ==, 0);
		g_assert_nonnull(strstr(r.out, ".ReplayDeadLetters"));
		g_assert_nonnull(strstr(r.out, ".DeliveryFailed"));
	}
	run_clear(&r);
}

/* ---- palaverctl ---- */

static void
ctl(Run *r, const gchar *first, ...)
{
	g_autoptr(GSubprocessLauncher) l = launcher_new();
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	const gchar *program = g_getenv("PALAVERCTL");
	va_list ap;

	g_assert_nonnull(program);
	g_ptr_array_add(argv, (gpointer)program);
	va_start(ap, first);
	for (const gchar *arg = first; arg != NULL; arg = va_arg(ap, const gchar *))
		g_ptr_array_add(argv, (gpointer)arg);
	va_end(ap);
	g_ptr_array_add(argv, NULL);
	run_argv(r, l, (const gchar *const *)argv->pdata);
}

static JsonNode *
ctl_json(Run *r)
{
	g_assert_cmpint(r->status, ==, 0);
	return parse(r->out);
}

static void
test_palaverctl(Fixture *fx, gconstpointer data)
{
	Run r = {0};
	g_autoptr(GError) error = NULL;
	g_autofree gchar *hook = pal_test_receiver_get_url(fx->receiver, "/ctl");
	g_autofree gchar *json = endpoint_json("ctl", TOKEN2, hook, NULL);
	g_autofree gchar *file = g_build_filename(pal_test_daemon_get_dir(fx->daemon), "ctl.json", NULL);
	g_autoptr(JsonNode) root = NULL;
	g_autoptr(GSubprocess) monitor = NULL;
	g_autoptr(GDataInputStream) monitor_out = NULL;

	/* status */
	ctl(&r, "--session", "status", "--json", NULL);
	root = ctl_json(&r);
	g_assert_cmpstr(json_object_get_string_member(json_node_get_object(root), "version"), ==, PACKAGE_VERSION);
	g_assert_cmpint(json_object_get_int_member(json_node_get_object(root), "workers"), ==, 2);
	g_assert_true(json_object_has_member(
	    json_object_get_object_member(json_object_get_object_member(json_node_get_object(root), "statistics"),
					  "endpoints"),
	    "support"));
	g_clear_pointer(&root, json_node_unref);
	ctl(&r, "--session", "status", NULL);
	g_assert_cmpint(r.status, ==, 0);
	g_assert_nonnull(strstr(r.out, "support"));

	/* monitor, in the background: it sees the changes below */
	{
		g_autoptr(GSubprocessLauncher) l = pal_test_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE);
		g_autofree gchar *line = NULL;

		g_subprocess_launcher_setenv(l, "DBUS_SESSION_BUS_ADDRESS", bus_address, TRUE);
		monitor = g_subprocess_launcher_spawn(l,
						      &error,
						      g_getenv("PALAVERCTL"),
						      "--session",
						      "monitor",
						      "--json",
						      "--count",
						      "2",
						      NULL);
		g_assert_no_error(error);
		monitor_out = g_data_input_stream_new(g_subprocess_get_stdout_pipe(monitor));
		line = g_data_input_stream_read_line_utf8(monitor_out, NULL, NULL, &error);
		g_assert_cmpstr(line, ==, "{\"signal\":\"Monitoring\"}");
	}

	/* endpoints */
	g_assert_true(g_file_set_contents(file, json, -1, &error));
	ctl(&r, "--session", "endpoint", "add", file, "--json", NULL);
	root = ctl_json(&r);
	g_assert_cmpstr(json_object_get_string_member(json_node_get_object(root), "name"), ==, "ctl");
	g_clear_pointer(&root, json_node_unref);
	ctl(&r, "--session", "--json", "endpoints", NULL);
	root = ctl_json(&r);
	g_assert_cmpuint(json_array_get_length(json_node_get_array(root)), ==, 2);
	g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(json_node_get_array(root), 0), "source"),
			==,
			"runtime");
	g_clear_pointer(&root, json_node_unref);
	ctl(&r, "--session", "endpoint", "edit", "ctl", "{\"locale\":\"nl\"}", NULL);
	g_assert_cmpint(r.status, ==, 0);
	ctl(&r, "--session", "endpoint", "show", "ctl", "--json", NULL);
	root = ctl_json(&r);
	g_assert_cmpstr(json_object_get_string_member(json_node_get_object(root), "locale"), ==, "nl");
	g_assert_cmpstr(json_object_get_string_member(json_node_get_object(root), "URLToken"), ==, "***");
	g_clear_pointer(&root, json_node_unref);
	{
		g_autofree gchar *line1 = g_data_input_stream_read_line_utf8(monitor_out, NULL, NULL, &error);
		g_autofree gchar *line2 = g_data_input_stream_read_line_utf8(monitor_out, NULL, NULL, &error);
		g_autoptr(JsonNode) ev1 = parse(line1);
		g_autoptr(JsonNode) ev2 = parse(line2);
		gint status = -1;

		g_assert_cmpstr(json_object_get_string_member(json_node_get_object(ev1), "change"), ==, "added");
		g_assert_cmpstr(json_object_get_string_member(json_node_get_object(ev2), "change"), ==, "updated");
		g_assert_true(pal_test_subprocess_wait(monitor, 10000, &status, &error));
		g_assert_cmpint(status, ==, 0);
	}
	ctl(&r, "--session", "endpoint", "disable", "ctl", NULL);
	g_assert_cmpint(r.status, ==, 0);
	g_assert_nonnull(strstr(r.out, "ctl"));
	ctl(&r, "--session", "endpoint", "enable", "ctl", "--json", NULL);
	root = ctl_json(&r);
	g_assert_cmpstr(json_object_get_string_member(json_node_get_object(root), "change"), ==, "enabled");
	g_clear_pointer(&root, json_node_unref);

	/* inject, notify, sessions */
	ctl(&r, "--session", "inject", "ctl", "cu", "cs", "hello ctl", "--json", NULL);
	root = ctl_json(&r);
	g_assert_true(g_uuid_string_is_valid(json_object_get_string_member(json_node_get_object(root), "inputId")));
	g_clear_pointer(&root, json_node_unref);
	ctl(&r, "--session", "notify", "ctl", "cu", "cs", "--data", "{\"k\":1}", "--json", NULL);
	root = ctl_json(&r);
	g_clear_pointer(&root, json_node_unref);
	g_assert_true(pal_test_receiver_wait_count(fx->receiver, 2, 10000));
	ctl(&r, "--session", "sessions", "--endpoint", "ctl", "--json", NULL);
	root = ctl_json(&r);
	g_assert_cmpint(json_object_get_int_member(json_node_get_object(root), "total"), ==, 1);
	g_clear_pointer(&root, json_node_unref);
	ctl(&r, "--session", "session", "show", "ctl", "cu", "cs", "--json", NULL);
	root = ctl_json(&r);
	g_assert_cmpint(json_object_get_int_member(json_node_get_object(root), "lastSeq"), ==, 2);
	g_clear_pointer(&root, json_node_unref);
	ctl(&r, "--session", "session", "reset", "ctl", "cu", "cs", "--json", NULL);
	root = ctl_json(&r);
	g_clear_pointer(&root, json_node_unref);

	/* dead letters, plugins, reload, log level */
	ctl(&r, "--session", "dead-letters", "--json", NULL);
	root = ctl_json(&r);
	g_assert_cmpuint(json_array_get_length(json_node_get_array(root)), ==, 0);
	g_clear_pointer(&root, json_node_unref);
	ctl(&r, "--session", "replay", "--endpoint", "ctl", "--json", NULL);
	root = ctl_json(&r);
	g_assert_cmpint(json_object_get_int_member(json_node_get_object(root), "replayed"), ==, 0);
	g_clear_pointer(&root, json_node_unref);
	ctl(&r, "--session", "dead-letters", "purge", "--json", NULL);
	root = ctl_json(&r);
	g_assert_cmpint(json_object_get_int_member(json_node_get_object(root), "purged"), ==, 0);
	g_clear_pointer(&root, json_node_unref);
	ctl(&r, "--session", "plugins", "--json", NULL);
	root = ctl_json(&r);
	g_assert_cmpuint(json_array_get_length(json_object_get_array_member(json_node_get_object(root), "plugins")), >, 0);
	g_clear_pointer(&root, json_node_unref);
	ctl(&r, "--session", "reload", "--json", NULL);
	root = ctl_json(&r);
	g_assert_cmpint(json_object_get_int_member(json_node_get_object(root), "loaded"), ==, 2);
	g_clear_pointer(&root, json_node_unref);
	ctl(&r, "--session", "log-level", "warning", "--json", NULL);
	root = ctl_json(&r);
	g_assert_cmpstr(json_object_get_string_member(json_node_get_object(root), "level"), ==, "warning");
	g_clear_pointer(&root, json_node_unref);
	ctl(&r, "--session", "endpoints", "--names", NULL);
	g_assert_cmpstr(r.out, ==, "ctl\nsupport\n");
	ctl(&r, "--session", "endpoint", "remove", "ctl", NULL);
	g_assert_cmpint(r.status, ==, 0);

	/* exit statuses: daemon error 1, usage 2, connection 3 */
	ctl(&r, "--session", "endpoint", "show", "ctl", NULL);
	g_assert_cmpint(r.status, ==, 1);
	g_assert_nonnull(strstr(r.err, "no endpoint named"));
	ctl(&r, "--session", "endpoint", NULL);
	g_assert_cmpint(r.status, ==, 2);
	ctl(&r, "--session", "frobnicate", NULL);
	g_assert_cmpint(r.status, ==, 2);
	ctl(&r, "--session", "endpoint", "show", NULL);
	g_assert_cmpint(r.status, ==, 2);
	ctl(&r, "--session", "sessions", "--bogus", NULL);
	g_assert_cmpint(r.status, ==, 2);
	ctl(&r, "--address", "unix:path=/nonexistent/palaver-test-bus", "status", NULL);
	g_assert_cmpint(r.status, ==, 3);
	ctl(&r, "endpoint", "add", "--help", NULL);
	g_assert_cmpint(r.status, ==, 0);
	g_assert_nonnull(strstr(r.out, "palaverctl endpoint add"));
	ctl(&r, "--help", NULL);
	g_assert_cmpint(r.status, ==, 0);
	g_assert_nonnull(strstr(r.out, "dead-letters"));
	/* palaverd not running: a connection problem */
	daemon_stop(fx);
	ctl(&r, "--session", "status", NULL);
	g_assert_cmpint(r.status, ==, 3);
	run_clear(&r);
}

/* in the child, before exec: become nobody, without supplementary groups */
static void
test_refused_caller_setup(gpointer data)
{
	if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
		_exit(126);
}

/* a caller that is neither root, nor palaverd's user, nor in the group palaver: reads work,
 * changes are refused (needs root to become another user) */
static void
test_refused_caller(Fixture *fx, gconstpointer data)
{
	Run r = {0};
	g_autoptr(GSubprocessLauncher) l = NULL;
	const gchar *reload[] = {"gdbus", "call", "--address", bus_address, "--dest", BUS_NAME, "--object-path",
				 BUS_PATH, "--method", "org.palaver.Gateway1.Reload", NULL};
	const gchar *sessions[] = {"gdbus", "call", "--address", bus_address, "--dest", BUS_NAME, "--object-path",
				   BUS_PATH, "--method", "org.palaver.Gateway1.ListSessions", "", "0", "0", NULL};
	const gchar *list[] = {"gdbus", "call", "--address", bus_address, "--dest", BUS_NAME, "--object-path",
			       BUS_PATH, "--method", "org.palaver.Gateway1.ListEndpoints", NULL};
	struct group *gr = getgrnam(PAL_DBUS_ADMIN_GROUP);

	if (getuid() != 0) {
		g_test_skip("needs root to call as another user (the rule itself is unit-tested)");
		return;
	}
	if (gr != NULL && gr->gr_gid == 65534) {
		g_test_skip("the group nogroup is the admin group here");
		return;
	}
	l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
	g_subprocess_launcher_setenv(l, "HOME", "/", TRUE);
	g_subprocess_launcher_setenv(l, "LC_ALL", "C.UTF-8", TRUE);
	g_subprocess_launcher_set_child_setup(l, test_refused_caller_setup, NULL, NULL);
	run_argv(&r, l, reload);
	g_assert_cmpint(r.status, !=, 0);
	g_assert_nonnull(strstr(r.err, "org.palaver.Gateway1.Error.PermissionDenied"));
	run_argv(&r, l, sessions);
	g_assert_cmpint(r.status, !=, 0);
	g_assert_nonnull(strstr(r.err, "org.palaver.Gateway1.Error.PermissionDenied"));
	run_argv(&r, l, list);
	g_assert_cmpint(r.status, ==, 0);
	g_assert_nonnull(strstr(r.out, "'support'"));
	run_clear(&r);
}

int
main(int argc, char *argv[])
{
	gint status;
	g_autofree gchar *dbus_daemon = g_find_program_in_path("dbus-daemon");

	g_test_init(&argc, &argv, NULL);
	pal_dbus_error_register();
	g_test_add_func("/palaver/dbus/error-mapping", test_error_mapping);
	g_test_add_func("/palaver/dbus/caller-allowed", test_caller_allowed);
	if (dbus_daemon == NULL) {
		g_printerr("dbus-daemon is not installed: the end-to-end cases are skipped\n");
		return g_test_run();
	}
	g_test_add("/palaver/dbus/reads", Fixture, NULL, fixture_setup, test_reads, fixture_teardown);
	g_test_add("/palaver/dbus/runtime-endpoint", Fixture, NULL, fixture_setup, test_runtime_endpoint, fixture_teardown);
	g_test_add("/palaver/dbus/inject-notify", Fixture, NULL, fixture_setup, test_inject_notify, fixture_teardown);
	g_test_add("/palaver/dbus/sessions", Fixture, NULL, fixture_setup, test_sessions, fixture_teardown);
	g_test_add("/palaver/dbus/dead-letters", Fixture, NULL, fixture_setup, test_dead_letters, fixture_teardown);
	g_test_add("/palaver/dbus/handover-signal", Fixture, NULL, fixture_setup, test_handover_signal, fixture_teardown);
	g_test_add("/palaver/dbus/foreign-clients", Fixture, NULL, fixture_setup, test_foreign_clients, fixture_teardown);
	g_test_add("/palaver/dbus/palaverctl", Fixture, NULL, fixture_setup, test_palaverctl, fixture_teardown);
	g_test_add("/palaver/dbus/refused-caller", Fixture, NULL, fixture_setup, test_refused_caller, fixture_teardown);
	bus_start();
	status = g_test_run();
	bus_stop();
	return status;
}
