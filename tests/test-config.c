/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "pal-config.h"
#include "palaver.h"

/* tests of palaver.conf loading and validation (gateway/pal-config.c) */

typedef struct {
	gchar *tmpdir;
} Fixture;

static void
fixture_setup(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	fx->tmpdir = g_dir_make_tmp("palaver-config-XXXXXX", &error);
	g_assert_no_error(error);
}

static void
fixture_teardown(Fixture *fx, gconstpointer data)
{
	const gchar *name;
	g_autoptr(GDir) dir = g_dir_open(fx->tmpdir, 0, NULL);

	while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *path = g_build_filename(fx->tmpdir, name, NULL);
		g_assert_cmpint(g_unlink(path), ==, 0);
	}
	g_assert_cmpint(g_rmdir(fx->tmpdir), ==, 0);
	g_free(fx->tmpdir);
}

static gchar *
fixture_write(Fixture *fx, const gchar *name, const gchar *contents)
{
	g_autoptr(GError) error = NULL;
	gchar *path = g_build_filename(fx->tmpdir, name, NULL);

	g_file_set_contents(path, contents, -1, &error);
	g_assert_no_error(error);
	return path;
}

static void
test_defaults(void)
{
	g_autoptr(PalConfig) config = pal_config_new_default();
	GStrv listen = pal_config_get_listen(config);
	g_autofree gchar *store_path = g_build_filename(PAL_LOCALSTATEDIR, "palaver.db", NULL);
	g_autofree gchar *endpoints_dir = g_build_filename(PAL_SYSCONFDIR, "endpoints.d", NULL);

	g_assert_null(pal_config_get_path(config));
	g_assert_cmpuint(g_strv_length(listen), ==, 1);
	g_assert_cmpstr(listen[0], ==, "127.0.0.1:8080");
	g_assert_cmpuint(pal_config_get_workers(config), ==, g_get_num_processors());
	g_assert_cmpuint(pal_config_get_max_body_size(config), ==, 1048576);
	g_assert_cmpuint(pal_config_get_max_depth(config), ==, 64);
	g_assert_cmpuint(pal_config_get_header_timeout(config), ==, 10);
	g_assert_cmpuint(pal_config_get_idle_timeout(config), ==, 60);
	g_assert_cmpuint(pal_config_get_request_timeout(config), ==, 30);
	g_assert_cmpuint(pal_config_get_shutdown_timeout(config), ==, 10);
	g_assert_cmpuint(pal_config_get_max_connections(config), ==, 10000);
	g_assert_cmpstr(pal_config_get_store_backend(config), ==, "sqlite");
	g_assert_cmpstr(pal_config_get_store_path(config), ==, store_path);
	g_assert_cmpint(pal_config_get_durability(config), ==, PAL_DURABILITY_CRASH);
	g_assert_cmpstr(pal_config_get_endpoints_dir(config), ==, endpoints_dir);
	g_assert_true(g_path_is_absolute(pal_config_get_endpoints_dir(config)));
	g_assert_null(pal_config_get_plugins_dir(config));
	g_assert_cmpuint(pal_config_get_delivery_max_conns(config), ==, 256);
	g_assert_cmpuint(pal_config_get_delivery_max_conns_per_host(config), ==, 32);
	g_assert_cmpuint(pal_config_get_delivery_max_queue(config), ==, 100000);
	g_assert_cmpint(pal_config_get_bus(config), ==, PAL_BUS_SYSTEM);
	g_assert_cmpstr(pal_config_get_data_dir(config), ==, PAL_DATADIR);
}

/* an empty file and one with every key empty both give the defaults */
static void
test_empty_values(Fixture *fx, gconstpointer data)
{
	const gchar *contents = "[Server]\nListen=\nWorkers=\nMaxBodySize= \nMaxDepth=\n"
				"HeaderTimeout=\nIdleTimeout=\nRequestTimeout=\nShutdownTimeout=\n"
				"MaxConnections=\n[Store]\nBackend=\nPath=\nDurability=\n"
				"[Endpoints]\nDirectory=\n[Plugins]\nDirectory=\n[Delivery]\n"
				"MaxConnections=\nMaxConnectionsPerHost=\nMaxQueue=\n[DBus]\nBus=\n"
				"[Paths]\nDataDir=\n";
	g_autofree gchar *path_empty = fixture_write(fx, "empty.conf", "");
	g_autofree gchar *path_keys = fixture_write(fx, "keys.conf", contents);
	const gchar *paths[] = {path_empty, path_keys};
	g_autoptr(PalConfig) dflt = pal_config_new_default();

	for (guint i = 0; i < G_N_ELEMENTS(paths); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(PalConfig) config = pal_config_load(paths[i], &error);

		g_assert_no_error(error);
		g_assert_nonnull(config);
		g_assert_cmpstr(pal_config_get_path(config), ==, paths[i]);
		g_assert_true(g_strv_equal((const gchar *const *)pal_config_get_listen(config),
					   (const gchar *const *)pal_config_get_listen(dflt)));
		g_assert_cmpuint(pal_config_get_workers(config), ==, pal_config_get_workers(dflt));
		g_assert_cmpuint(pal_config_get_max_body_size(config),
				 ==,
				 pal_config_get_max_body_size(dflt));
		g_assert_cmpstr(pal_config_get_store_path(config),
				==,
				pal_config_get_store_path(dflt));
		g_assert_cmpstr(pal_config_get_endpoints_dir(config),
				==,
				pal_config_get_endpoints_dir(dflt));
		g_assert_null(pal_config_get_plugins_dir(config));
		g_assert_cmpstr(pal_config_get_data_dir(config), ==, PAL_DATADIR);
		g_assert_cmpint(pal_config_get_bus(config), ==, PAL_BUS_SYSTEM);
		g_assert_cmpint(pal_config_get_durability(config), ==, PAL_DURABILITY_CRASH);
	}
}

/* every key with a valid, non-default value; relative paths resolve against the file */
static void
test_full(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path =
	    g_test_build_filename(G_TEST_DIST, "data", "config", "full.conf", NULL);
	g_autofree gchar *dir = g_path_get_dirname(path);
	g_autofree gchar *store = g_canonicalize_filename("state/palaver.db", dir);
	g_autofree gchar *endpoints = g_canonicalize_filename("endpoints.d", dir);
	g_autofree gchar *data_dir = g_canonicalize_filename("../share", dir);
	g_autoptr(PalConfig) config = pal_config_load(path, &error);
	GStrv listen;

	g_assert_no_error(error);
	g_assert_nonnull(config);
	listen = pal_config_get_listen(config);
	g_assert_cmpuint(g_strv_length(listen), ==, 3);
	g_assert_cmpstr(listen[0], ==, "127.0.0.1:0");
	g_assert_cmpstr(listen[1], ==, "[::1]:8443");
	g_assert_cmpstr(listen[2], ==, "0.0.0.0:80");
	g_assert_cmpuint(pal_config_get_workers(config), ==, 3);
	g_assert_cmpuint(pal_config_get_max_body_size(config), ==, 2048);
	g_assert_cmpuint(pal_config_get_max_depth(config), ==, 32);
	g_assert_cmpuint(pal_config_get_header_timeout(config), ==, 5);
	g_assert_cmpuint(pal_config_get_idle_timeout(config), ==, 30);
	g_assert_cmpuint(pal_config_get_request_timeout(config), ==, 20);
	g_assert_cmpuint(pal_config_get_shutdown_timeout(config), ==, 0);
	g_assert_cmpuint(pal_config_get_max_connections(config), ==, 500);
	g_assert_cmpstr(pal_config_get_store_backend(config), ==, "sqlite");
	g_assert_cmpstr(pal_config_get_store_path(config), ==, store);
	g_assert_cmpint(pal_config_get_durability(config), ==, PAL_DURABILITY_POWER);
	g_assert_cmpstr(pal_config_get_endpoints_dir(config), ==, endpoints);
	g_assert_true(g_path_is_absolute(pal_config_get_endpoints_dir(config)));
	g_assert_true(g_file_test(pal_config_get_endpoints_dir(config), G_FILE_TEST_IS_DIR));
	g_assert_cmpstr(pal_config_get_plugins_dir(config), ==, "/opt/palaver/plugins");
	g_assert_cmpuint(pal_config_get_delivery_max_conns(config), ==, 64);
	g_assert_cmpuint(pal_config_get_delivery_max_conns_per_host(config), ==, 8);
	g_assert_cmpuint(pal_config_get_delivery_max_queue(config), ==, 1000);
	g_assert_cmpint(pal_config_get_bus(config), ==, PAL_BUS_SESSION);
	g_assert_cmpstr(pal_config_get_data_dir(config), ==, data_dir);
}

/* a relative path given on the command line still resolves against the file's folder */
static void
test_relative_directory(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = fixture_write(fx,
					       "rel.conf",
					       "[Endpoints]\nDirectory=./sub/../endpoints\n"
					       "[Plugins]\nDirectory=plugins\n");
	g_autofree gchar *expected = g_build_filename(fx->tmpdir, "endpoints", NULL);
	g_autofree gchar *expected_plugins = g_build_filename(fx->tmpdir, "plugins", NULL);
	g_autofree gchar *cwd = g_get_current_dir();
	g_autoptr(PalConfig) config = NULL;

	g_assert_cmpint(g_chdir(fx->tmpdir), ==, 0);
	config = pal_config_load("rel.conf", &error);
	g_assert_cmpint(g_chdir(cwd), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpstr(pal_config_get_endpoints_dir(config), ==, expected);
	g_assert_cmpstr(pal_config_get_plugins_dir(config), ==, expected_plugins);
}

typedef struct {
	const gchar *group;
	const gchar *key;
	const gchar *value;
	const gchar *expected; /* in the message after "[Group] Key: " */
} BadValue;

static const BadValue bad_values[] = {
    {"Server", "Workers", "many", "expected a whole number from 0 to 256, got \"many\""},
    {"Server", "Workers", "257", "expected a whole number from 0 to 256, got \"257\""},
    {"Server", "Workers", "-1", "expected a whole number from 0 to 256, got \"-1\""},
    {"Server", "Workers", "+4", "from 0 to 256, got \"+4\""},
    {"Server",
     "Workers",
     "4   ; one per core",
     "got \"4   ; one per core\" (comments must be on their own line, starting with #)"},
    {"Server", "MaxBodySize", "10", "expected a whole number from 1024 to 268435456, got \"10\""},
    {"Server", "MaxBodySize", "1M", "from 1024 to 268435456, got \"1M\""},
    {"Server", "MaxDepth", "0", "expected a whole number from 1 to 512, got \"0\""},
    {"Server", "MaxDepth", "100000", "from 1 to 512, got \"100000\""},
    {"Server", "HeaderTimeout", "0", "expected a whole number from 1 to 3600, got \"0\""},
    {"Server", "IdleTimeout", "1.5", "expected a whole number from 1 to 3600, got \"1.5\""},
    {"Server", "RequestTimeout", "3601", "expected a whole number from 1 to 3600, got \"3601\""},
    {"Server", "ShutdownTimeout", "soon", "expected a whole number from 0 to 3600, got \"soon\""},
    {"Server", "MaxConnections", "0", "expected a whole number from 1 to 1000000, got \"0\""},
    {"Server",
     "Listen",
     "localhost:8080",
     "expected IPv4-address:port or [IPv6-address]:port with a port from 0 to 65535"},
    {"Server",
     "Listen",
     "localhost:8080",
     "\"localhost\" is no IP address, got \"localhost:8080\""},
    {"Server", "Listen", "127.0.0.1", "got \"127.0.0.1\""},
    {"Server", "Listen", "127.0.0.1:65536", "port from 0 to 65535"},
    {"Server", "Listen", "127.0.0.1:http", "got \"127.0.0.1:http\""},
    {"Server", "Listen", "127.0.0.1:", "got \"127.0.0.1:\""},
    {"Server", "Listen", "::1:8080", "put an IPv6 address in brackets, got \"::1:8080\""},
    {"Server", "Listen", "[::1]8080", "got \"[::1]8080\""},
    {"Server", "Listen", "[::1:8080", "got \"[::1:8080\""},
    {"Server", "Listen", "[127.0.0.1]:80", "\"127.0.0.1\" is no IPv6 address"},
    {"Server", "Listen", "[nonsense]:80", "\"nonsense\" is no IPv6 address"},
    {"Server", "Listen", "1.2.3.4.5:80", "is no IP address"},
    {"Server", "Listen", "127.0.0.1:80;127.0.0.1:80", "expected each address once"},
    {"Server", "Listen", "127.0.0.1:80;bad", "got \"bad\""},
    {"Store",
     "Backend",
     "my backend",
     "expected a backend name (\"sqlite\", or one a plugin provides) of 1 to 64 characters"},
    {"Store", "Durability", "fast", "expected \"none\", \"crash\" or \"power\", got \"fast\""},
    {"Store", "Durability", "Crash", "got \"Crash\""},
    {"Store",
     "Path",
     "a\\qb",
     "expected text in which a backslash starts \\s, \\n, \\t, \\r or \\\\, got \"a\\\\qb\""},
    {"Endpoints", "Directory", "x\\", "a backslash starts"},
    {"Server", "Listen", "127.0.0.1:80\\q", "expected addresses separated by ';'"},
    {"Delivery", "MaxConnections", "0", "expected a whole number from 1 to 65535, got \"0\""},
    {"Delivery",
     "MaxConnectionsPerHost",
     "70000",
     "expected a whole number from 1 to 65535, got \"70000\""},
    {"Delivery",
     "MaxConnectionsPerHost",
     "300",
     "expected at most [Delivery] MaxConnections (256), got 300"},
    {"Delivery", "MaxQueue", "0", "expected a whole number from 1 to 10000000, got \"0\""},
    {"DBus", "Bus", "user", "expected \"system\", \"session\" or \"none\", got \"user\""},
};

/* each bad value fails with file:line, [Group] Key, what was expected and what was found */
static void
test_bad_values(Fixture *fx, gconstpointer data)
{
	for (guint i = 0; i < G_N_ELEMENTS(bad_values); i++) {
		const BadValue *bad = &bad_values[i];
		g_autoptr(GError) error = NULL;
		g_autoptr(PalConfig) config = NULL;
		g_autofree gchar *name = g_strdup_printf("bad-%u.conf", i);
		/* the key is on line 7, after a comment, another group and a blank line */
		g_autofree gchar *contents = g_strdup_printf("# test %u\n"
							     "[Server]\n"
							     "MaxDepth=64\n"
							     "\n"
							     "[%s]\n"
							     "# the key under test\n"
							     "%s=%s\n"
							     "[Paths]\n"
							     "DataDir=/srv/palaver\n",
							     i,
							     bad->group,
							     bad->key,
							     bad->value);
		g_autofree gchar *path = fixture_write(fx, name, contents);
		g_autofree gchar *prefix =
		    g_strdup_printf("%s:7: [%s] %s: ", path, bad->group, bad->key);

		if (g_test_verbose())
			g_printerr("case %u: [%s] %s=%s\n", i, bad->group, bad->key, bad->value);
		config = pal_config_load(path, &error);
		g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
		g_assert_null(config);
		if (g_test_verbose())
			g_printerr("  %s\n", error->message);
		g_assert_true(g_str_has_prefix(error->message, prefix));
		g_assert_nonnull(strstr(error->message, bad->expected));
	}
}

typedef struct {
	const gchar *value;
	guint n;
	const gchar *first;
} GoodListen;

static void
test_listen(Fixture *fx, gconstpointer data)
{
	const GoodListen good[] = {
	    {"127.0.0.1:0", 1, "127.0.0.1:0"},
	    {"0.0.0.0:65535", 1, "0.0.0.0:65535"},
	    {"[::]:8080", 1, "[::]:8080"},
	    {"[::1]:0", 1, "[::1]:0"},
	    {" 127.0.0.1:1 ; [::1]:2 ;", 2, "127.0.0.1:1"},
	    {"[fe80::1%lo]:80", 1, "[fe80::1%lo]:80"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(good); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *contents =
		    g_strdup_printf("[Server]\nListen=%s\n", good[i].value);
		g_autofree gchar *name = g_strdup_printf("listen-%u.conf", i);
		g_autofree gchar *path = fixture_write(fx, name, contents);
		g_autoptr(PalConfig) config = pal_config_load(path, &error);

		g_assert_no_error(error);
		g_assert_cmpuint(g_strv_length(pal_config_get_listen(config)), ==, good[i].n);
		g_assert_cmpstr(pal_config_get_listen(config)[0], ==, good[i].first);
	}
}

static void
test_listen_address(void)
{
	const struct {
		const gchar *address;
		const gchar *host; /* NULL: invalid */
		guint16 port;
	} cases[] = {
	    {"127.0.0.1:8080", "127.0.0.1", 8080},
	    {"[::1]:0", "::1", 0},
	    {"[::]:443", "::", 443},
	    {"10.1.2.3:65535", "10.1.2.3", 65535},
	    {"127.1:80", NULL, 0}, /* inet_aton forms are refused */
	    {"example.com:80", NULL, 0},
	    {":80", NULL, 0},
	    {"[::1]", NULL, 0},
	    {"127.0.0.1:99999", NULL, 0},
	    {"127.0.0.1:08a", NULL, 0},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *host = NULL;
		guint16 port = 1;
		gboolean ok =
		    pal_config_parse_listen_address(cases[i].address, &host, &port, &error);
		if (cases[i].host == NULL) {
			g_assert_false(ok);
			g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
			g_assert_null(host);
		} else {
			g_assert_no_error(error);
			g_assert_true(ok);
			g_assert_cmpstr(host, ==, cases[i].host);
			g_assert_cmpuint(port, ==, cases[i].port);
		}
	}
}

/* unknown groups and keys are reported with file:line but do not fail */
static void
test_unknown_keys(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = fixture_write(fx,
					       "unknown.conf",
					       "[Server]\n"
					       "Workers=2\n"
					       "Wrokers=4\n"
					       "[Future]\n"
					       "Key=1\n"
					       "[DBus]\n"
					       "Bus[de]=none\n");
	g_autofree gchar *msg1 =
	    g_strdup_printf("%s:3: unknown key [Server] Wrokers ignored", path);
	g_autofree gchar *msg2 = g_strdup_printf("%s:4: unknown group [Future] ignored", path);
	g_autofree gchar *msg3 = g_strdup_printf("%s:7: unknown key [DBus] Bus[de] ignored", path);
	g_autoptr(PalConfig) config = NULL;

	g_test_expect_message("PalCore", G_LOG_LEVEL_MESSAGE, msg1);
	g_test_expect_message("PalCore", G_LOG_LEVEL_MESSAGE, msg2);
	g_test_expect_message("PalCore", G_LOG_LEVEL_MESSAGE, msg3);
	config = pal_config_load(path, &error);
	g_test_assert_expected_messages();
	g_assert_no_error(error);
	g_assert_cmpuint(pal_config_get_workers(config), ==, 2);
	g_assert_cmpint(pal_config_get_bus(config), ==, PAL_BUS_SYSTEM);
}

static void
test_syntax_errors(Fixture *fx, gconstpointer data)
{
	const struct {
		const gchar *contents;
		const gchar *position; /* after the path */
	} cases[] = {
	    {"[Server]\nWorkers=1\nthis line is no key\n", ":3: "},
	    {"# comment\nWorkers=1\n[Server]\n", ":2: "},
	    {"[Server\nWorkers=1\n", ":1: "},
	    {"[Server]\n=1\n", ":2: "},
	    {"[Server]\nWorkers=\xff\xfe\n", ":2: "},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *name = g_strdup_printf("syntax-%u.conf", i);
		g_autofree gchar *path = fixture_write(fx, name, cases[i].contents);
		g_autofree gchar *prefix = g_strconcat(path, cases[i].position, NULL);
		g_autoptr(PalConfig) config = pal_config_load(path, &error);

		g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
		g_assert_null(config);
		if (g_test_verbose())
			g_printerr("%s\n", error->message);
		g_assert_true(g_str_has_prefix(error->message, prefix));
	}
}

static void
test_file_errors(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *missing = g_build_filename(fx->tmpdir, "missing.conf", NULL);
	g_autofree gchar *big_contents = NULL;
	g_autofree gchar *big = NULL;
	g_autoptr(PalConfig) config = NULL;

	config = pal_config_load(missing, &error);
	g_assert_error(error, PAL_ERROR, PAL_ERROR_NOT_FOUND);
	g_assert_null(config);
	g_assert_true(g_str_has_prefix(error->message, missing));
	g_clear_error(&error);

	config = pal_config_load(fx->tmpdir, &error);
	g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "expected a regular file"));
	g_clear_error(&error);

	big_contents = g_strnfill(1024 * 1024 + 1, '#');
	big = fixture_write(fx, "big.conf", big_contents);
	config = pal_config_load(big, &error);
	g_assert_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "expected at most 1048576 bytes"));
}

/* the documented example loads and says the same as the built-in defaults */
static void
test_example(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path =
	    g_test_build_filename(G_TEST_DIST, "..", "data", "palaver.conf", NULL);
	g_autofree gchar *dir = g_path_get_dirname(path);
	g_autofree gchar *endpoints = g_canonicalize_filename("endpoints.d", dir);
	g_autoptr(PalConfig) dflt = pal_config_new_default();
	g_autoptr(PalConfig) config = pal_config_load(path, &error);

	g_assert_no_error(error);
	g_assert_true(g_strv_equal((const gchar *const *)pal_config_get_listen(config),
				   (const gchar *const *)pal_config_get_listen(dflt)));
	g_assert_cmpuint(pal_config_get_workers(config), ==, pal_config_get_workers(dflt));
	g_assert_cmpuint(pal_config_get_max_body_size(config),
			 ==,
			 pal_config_get_max_body_size(dflt));
	g_assert_cmpuint(pal_config_get_max_depth(config), ==, pal_config_get_max_depth(dflt));
	g_assert_cmpuint(pal_config_get_header_timeout(config),
			 ==,
			 pal_config_get_header_timeout(dflt));
	g_assert_cmpuint(pal_config_get_idle_timeout(config),
			 ==,
			 pal_config_get_idle_timeout(dflt));
	g_assert_cmpuint(pal_config_get_request_timeout(config),
			 ==,
			 pal_config_get_request_timeout(dflt));
	g_assert_cmpuint(pal_config_get_shutdown_timeout(config),
			 ==,
			 pal_config_get_shutdown_timeout(dflt));
	g_assert_cmpuint(pal_config_get_max_connections(config),
			 ==,
			 pal_config_get_max_connections(dflt));
	g_assert_cmpstr(pal_config_get_store_backend(config), ==, "sqlite");
	g_assert_cmpstr(pal_config_get_store_path(config), ==, pal_config_get_store_path(dflt));
	g_assert_cmpint(pal_config_get_durability(config), ==, pal_config_get_durability(dflt));
	/* the example names the folder next to it, which is the default once installed */
	g_assert_cmpstr(pal_config_get_endpoints_dir(config), ==, endpoints);
	g_assert_null(pal_config_get_plugins_dir(config));
	g_assert_cmpuint(pal_config_get_delivery_max_conns(config),
			 ==,
			 pal_config_get_delivery_max_conns(dflt));
	g_assert_cmpuint(pal_config_get_delivery_max_conns_per_host(config),
			 ==,
			 pal_config_get_delivery_max_conns_per_host(dflt));
	g_assert_cmpuint(pal_config_get_delivery_max_queue(config),
			 ==,
			 pal_config_get_delivery_max_queue(dflt));
	g_assert_cmpint(pal_config_get_bus(config), ==, pal_config_get_bus(dflt));
	g_assert_cmpstr(pal_config_get_data_dir(config), ==, pal_config_get_data_dir(dflt));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/palaver/config/defaults", test_defaults);
	g_test_add("/palaver/config/empty-values",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_empty_values,
		   fixture_teardown);
	g_test_add_func("/palaver/config/full", test_full);
	g_test_add("/palaver/config/relative-directory",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_relative_directory,
		   fixture_teardown);
	g_test_add("/palaver/config/bad-values",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_bad_values,
		   fixture_teardown);
	g_test_add("/palaver/config/listen",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_listen,
		   fixture_teardown);
	g_test_add_func("/palaver/config/listen-address", test_listen_address);
	g_test_add("/palaver/config/unknown-keys",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_unknown_keys,
		   fixture_teardown);
	g_test_add("/palaver/config/syntax-errors",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_syntax_errors,
		   fixture_teardown);
	g_test_add("/palaver/config/file-errors",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_file_errors,
		   fixture_teardown);
	g_test_add_func("/palaver/config/example", test_example);
	return g_test_run();
}
