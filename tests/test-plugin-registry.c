/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pal-plugin-registry.h"

/* the echo plugin's descriptor from its static library (see test_builtin_echo) */
const PalPluginDesc *
pal_plugin_echo_get_desc(void);

/*
 * Every test that opens plugin files opens the same copies, in one folder made once per
 * process: modules stay resident, and a second copy of a file (another inode) would be mapped
 * again and register its GTypes a second time, which GObject refuses with a critical. Tests that
 * need other files (permissions, duplicates) use ones that are refused before they are opened.
 */
static gchar *shared_dir = NULL;

typedef struct {
	PalPluginRegistry *registry;
	gchar *tmpdir; /* per test; only for files refused before they are opened */
} Fixture;

static void
pal_test_rm_rf(const gchar *path)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
		const gchar *entry;
		while (dir != NULL && (entry = g_dir_read_name(dir)) != NULL) {
			g_autofree gchar *child = g_build_filename(path, entry, NULL);
			pal_test_rm_rf(child);
		}
		g_assert_cmpint(g_rmdir(path), ==, 0);
	} else {
		g_assert_cmpint(g_unlink(path), ==, 0);
	}
}

/* echo from the build's plugin folder, test plugins from tests/plugins */
static gchar *
pal_test_built_plugin(const gchar *name)
{
	const gchar *plugindir = g_getenv("PALAVER_BUILD_PLUGINDIR");
	g_autofree gchar *fn = g_strdup_printf("libpal-plugin-%s.so", name);

	if (g_strcmp0(name, "echo") == 0) {
		if (plugindir != NULL)
			return g_build_filename(plugindir, fn, NULL);
		return g_test_build_filename(G_TEST_BUILT, "..", "plugins", fn, NULL);
	}
	return g_test_build_filename(G_TEST_BUILT, "plugins", fn, NULL);
}

static void
pal_test_write_file(const gchar *path, const gchar *contents, gsize len, guint mode)
{
	g_autoptr(GError) error = NULL;

	g_file_set_contents_full(path, contents, len, G_FILE_SET_CONTENTS_NONE, mode, &error);
	g_assert_no_error(error);
	/* the umask applied at creation */
	g_assert_cmpint(g_chmod(path, mode), ==, 0);
}

/* copies built plugin @name into @dir as libpal-plugin-@name.so with @mode */
static gchar *
pal_test_copy_plugin(const gchar *dir, const gchar *name, guint mode)
{
	g_autofree gchar *src = pal_test_built_plugin(name);
	g_autofree gchar *fn = g_strdup_printf("libpal-plugin-%s.so", name);
	g_autofree gchar *contents = NULL;
	gchar *dest = g_build_filename(dir, fn, NULL);
	gsize len = 0;
	g_autoptr(GError) error = NULL;

	g_file_get_contents(src, &contents, &len, &error);
	g_assert_no_error(error);
	pal_test_write_file(dest, contents, len, mode);
	return dest;
}

static const gchar *test_plugin_names[] = {"echo", "good", "abi99", "nosym", "misnamed", "noext"};

static const gchar *
pal_test_get_shared_dir(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *garbage = NULL;
	g_autofree gchar *folder = NULL;
	g_autofree gchar *link = NULL;

	if (shared_dir != NULL)
		return shared_dir;
	shared_dir = g_dir_make_tmp("palaver-plugins-XXXXXX", &error);
	g_assert_no_error(error);

	for (guint i = 0; i < G_N_ELEMENTS(test_plugin_names); i++) {
		g_autofree gchar *path =
		    pal_test_copy_plugin(shared_dir, test_plugin_names[i], 0755);
	}

	/* ignored: not named libpal-plugin-<name>.so */
	for (guint i = 0; i < 3; i++) {
		const gchar *ignored[] = {"README.txt",
					  "libpal-plugin-echo.so.1",
					  "libpal-echo.so"};
		g_autofree gchar *path = g_build_filename(shared_dir, ignored[i], NULL);
		pal_test_write_file(path, "ignored\n", 8, 0755);
	}

	/* refused: names that are no C identifier, not a shared object, a folder, a symlink */
	for (guint i = 0; i < 2; i++) {
		const gchar *bad_names[] = {"libpal-plugin-.so", "libpal-plugin-bad-name.so"};
		g_autofree gchar *path = g_build_filename(shared_dir, bad_names[i], NULL);
		pal_test_write_file(path, "bad name\n", 9, 0755);
	}
	garbage = g_build_filename(shared_dir, "libpal-plugin-garbage.so", NULL);
	pal_test_write_file(garbage, "not a shared object\n", 20, 0755);
	folder = g_build_filename(shared_dir, "libpal-plugin-folder.so", NULL);
	g_assert_cmpint(g_mkdir(folder, 0755), ==, 0);
	link = g_build_filename(shared_dir, "libpal-plugin-link.so", NULL);
	g_assert_cmpint(symlink("libpal-plugin-echo.so", link), ==, 0);

	return shared_dir;
}

static gchar *
pal_test_shared_path(const gchar *fn)
{
	return g_build_filename(pal_test_get_shared_dir(), fn, NULL);
}

static void
pal_test_load_shared(PalPluginRegistry *registry, gboolean check_permissions)
{
	g_autoptr(GError) error = NULL;
	gboolean ret;

	pal_plugin_registry_set_check_permissions(registry, check_permissions);
	ret = pal_plugin_registry_load_directory(registry, pal_test_get_shared_dir(), &error);
	g_assert_no_error(error);
	g_assert_true(ret);
}

/* the reason @basename was refused for, or %NULL */
static const gchar *
pal_test_get_refusal(PalPluginRegistry *registry, const gchar *basename)
{
	GPtrArray *refused = pal_plugin_registry_get_refused(registry);

	for (guint i = 0; i < refused->len; i++) {
		PalPluginRefusal *refusal = g_ptr_array_index(refused, i);
		g_autofree gchar *bn = g_path_get_basename(refusal->path);
		if (g_strcmp0(bn, basename) == 0)
			return refusal->reason;
	}
	return NULL;
}

static PalPluginInfo *
pal_test_get_info(PalPluginRegistry *registry, const gchar *name)
{
	GPtrArray *plugins = pal_plugin_registry_get_plugins(registry);

	for (guint i = 0; i < plugins->len; i++) {
		PalPluginInfo *info = g_ptr_array_index(plugins, i);
		if (g_strcmp0(info->name, name) == 0)
			return info;
	}
	return NULL;
}

static JsonObject *
pal_test_json_object(const gchar *json)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) node = json_from_string(json, &error);

	g_assert_no_error(error);
	g_assert_nonnull(node);
	g_assert_true(JSON_NODE_HOLDS_OBJECT(node));
	return json_object_ref(json_node_get_object(node));
}

static void
fixture_setup(Fixture *fixture, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;

	fixture->registry = pal_plugin_registry_new();
	fixture->tmpdir = g_dir_make_tmp("palaver-plugin-test-XXXXXX", &error);
	g_assert_no_error(error);
}

static void
fixture_teardown(Fixture *fixture, gconstpointer user_data)
{
	g_clear_object(&fixture->registry);
	pal_test_rm_rf(fixture->tmpdir);
	g_free(fixture->tmpdir);
}

static void
test_load_directory(Fixture *fixture, gconstpointer user_data)
{
	PalPluginRegistry *registry = fixture->registry;
	GPtrArray *plugins;
	GPtrArray *refused;
	PalPluginInfo *info;
	const gchar *reason;
	g_autofree gchar *echo_path = pal_test_shared_path("libpal-plugin-echo.so");
	g_autofree gchar *good_path = pal_test_shared_path("libpal-plugin-good.so");
	/* in byte order of the file names, which is the load order */
	const struct {
		const gchar *file;
		const gchar *reason;
	} expected[] = {
	    {"libpal-plugin-.so", "plugin name '' is not valid (letters, digits and '_' only)"},
	    {"libpal-plugin-abi99.so", "ABI 99.0, this palaverd supports 1.0"},
	    {"libpal-plugin-bad-name.so",
	     "plugin name 'bad-name' is not valid (letters, digits and '_' only)"},
	    {"libpal-plugin-folder.so", "not a regular file"},
	    {"libpal-plugin-garbage.so", NULL /* the dynamic loader's message */},
	    {"libpal-plugin-link.so", "file is a symbolic link"},
	    {"libpal-plugin-misnamed.so",
	     "descriptor name 'other' does not match the file name (expected 'misnamed')"},
	    {"libpal-plugin-noext.so",
	     "type PalTestNoextPlugin implements no extension point (flow, nlu, transformer or "
	     "handover)"},
	    {"libpal-plugin-nosym.so", "missing symbol pal_plugin_nosym_get_desc"},
	};

	pal_test_load_shared(registry, FALSE);

	/* the good ones load */
	plugins = pal_plugin_registry_get_plugins(registry);
	g_assert_cmpuint(plugins->len, ==, 2);
	info = g_ptr_array_index(plugins, 0);
	g_assert_cmpstr(info->name, ==, "echo");
	g_assert_cmpstr(info->version, ==, PACKAGE_VERSION);
	g_assert_cmpstr(info->license, ==, "LGPL-2.1-or-later");
	g_assert_cmpstr(info->description, ==, "Echoes each input back N times");
	g_assert_cmpstr(info->path, ==, echo_path);
	g_assert_cmpuint(info->kinds, ==, 1u << PAL_PLUGIN_KIND_FLOW);
	g_assert_cmpstr(g_type_name(info->type), ==, "PalEchoPlugin");
	info = g_ptr_array_index(plugins, 1);
	g_assert_cmpstr(info->name, ==, "good");
	g_assert_cmpstr(info->version, ==, "1.2.3");
	g_assert_cmpstr(info->path, ==, good_path);
	g_assert_cmpuint(info->kinds,
			 ==,
			 (1u << PAL_PLUGIN_KIND_NLU) | (1u << PAL_PLUGIN_KIND_TRANSFORMER));
	g_assert_cmpstr(g_type_name(info->type), ==, "PalTestGoodPlugin");

	/* each bad one is refused, with its reason, and never stops the others */
	refused = pal_plugin_registry_get_refused(registry);
	g_assert_cmpuint(refused->len, ==, G_N_ELEMENTS(expected));
	for (guint i = 0; i < G_N_ELEMENTS(expected); i++) {
		PalPluginRefusal *refusal = g_ptr_array_index(refused, i);
		g_autofree gchar *path = pal_test_shared_path(expected[i].file);
		g_assert_cmpstr(refusal->path, ==, path);
		if (expected[i].reason != NULL)
			g_assert_cmpstr(refusal->reason, ==, expected[i].reason);
	}
	reason = pal_test_get_refusal(registry, "libpal-plugin-garbage.so");
	g_assert_nonnull(reason);
	g_assert_true(g_str_has_prefix(reason, "cannot load: "));

	/* files that are not named like plugins are not even refused */
	g_assert_null(pal_test_get_refusal(registry, "README.txt"));
	g_assert_null(pal_test_get_refusal(registry, "libpal-plugin-echo.so.1"));
	g_assert_null(pal_test_get_refusal(registry, "libpal-echo.so"));
}

static void
test_missing_directory(Fixture *fixture, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *missing = g_build_filename(fixture->tmpdir, "missing", NULL);
	gboolean ret;

	ret = pal_plugin_registry_load_directory(fixture->registry, missing, &error);
	g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
	g_assert_false(ret);
	g_assert_cmpuint(pal_plugin_registry_get_plugins(fixture->registry)->len, ==, 0);
	g_assert_cmpuint(pal_plugin_registry_get_refused(fixture->registry)->len, ==, 0);
}

static void
test_lookup(Fixture *fixture, gconstpointer user_data)
{
	PalPluginRegistry *registry = fixture->registry;
	GType type;

	pal_test_load_shared(registry, FALSE);

	type = pal_plugin_registry_lookup(registry, PAL_PLUGIN_KIND_FLOW, "echo");
	g_assert_cmpstr(g_type_name(type), ==, "PalEchoPlugin");
	g_assert_true(g_type_is_a(type, PAL_TYPE_FLOW));
	g_assert_cmpuint(pal_plugin_registry_lookup(registry, PAL_PLUGIN_KIND_NLU, "echo"),
			 ==,
			 G_TYPE_INVALID);

	/* one plugin registered under each kind it implements */
	type = pal_plugin_registry_lookup(registry, PAL_PLUGIN_KIND_NLU, "good");
	g_assert_cmpstr(g_type_name(type), ==, "PalTestGoodPlugin");
	g_assert_cmpuint(pal_plugin_registry_lookup(registry, PAL_PLUGIN_KIND_TRANSFORMER, "good"),
			 ==,
			 type);
	g_assert_cmpuint(pal_plugin_registry_lookup(registry, PAL_PLUGIN_KIND_FLOW, "good"),
			 ==,
			 G_TYPE_INVALID);
	g_assert_cmpuint(pal_plugin_registry_lookup(registry, PAL_PLUGIN_KIND_HANDOVER, "good"),
			 ==,
			 G_TYPE_INVALID);

	/* refused and unknown plugins */
	g_assert_cmpuint(pal_plugin_registry_lookup(registry, PAL_PLUGIN_KIND_FLOW, "noext"),
			 ==,
			 G_TYPE_INVALID);
	g_assert_cmpuint(pal_plugin_registry_lookup(registry, PAL_PLUGIN_KIND_HANDOVER, "other"),
			 ==,
			 G_TYPE_INVALID);
	g_assert_cmpuint(pal_plugin_registry_lookup(registry, PAL_PLUGIN_KIND_FLOW, "graph"),
			 ==,
			 G_TYPE_INVALID);
}

static void
test_permissions_writable(Fixture *fixture, gconstpointer user_data)
{
	PalPluginRegistry *registry = fixture->registry;
	g_autoptr(GError) error = NULL;
	const struct {
		const gchar *name;
		guint mode;
	} files[] = {{"echo", 0666}, {"good", 0664}, {"noext", 0646}};

	for (guint i = 0; i < G_N_ELEMENTS(files); i++) {
		g_autofree gchar *path =
		    pal_test_copy_plugin(fixture->tmpdir, files[i].name, files[i].mode);
	}
	/* the default: on */
	g_assert_true(pal_plugin_registry_load_directory(registry, fixture->tmpdir, &error));
	g_assert_no_error(error);

	g_assert_cmpuint(pal_plugin_registry_get_plugins(registry)->len, ==, 0);
	g_assert_cmpuint(pal_plugin_registry_get_refused(registry)->len, ==, 3);
	g_assert_cmpstr(pal_test_get_refusal(registry, "libpal-plugin-echo.so"),
			==,
			"file is writable by group or others (mode 0666)");
	g_assert_cmpstr(pal_test_get_refusal(registry, "libpal-plugin-good.so"),
			==,
			"file is writable by group or others (mode 0664)");
	g_assert_cmpstr(pal_test_get_refusal(registry, "libpal-plugin-noext.so"),
			==,
			"file is writable by group or others (mode 0646)");
}

static void
test_permissions_owner(Fixture *fixture, gconstpointer user_data)
{
	PalPluginRegistry *registry = fixture->registry;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = pal_test_copy_plugin(fixture->tmpdir, "echo", 0755);
	g_autofree gchar *expected = NULL;
	guint uid = (guint)getuid();

	/* as root, give the file away; otherwise it is the caller's already */
	if (uid == 0) {
		g_assert_cmpint(chown(path, 1, 1), ==, 0);
		uid = 1;
	}
	g_assert_true(pal_plugin_registry_load_directory(registry, fixture->tmpdir, &error));
	g_assert_no_error(error);

	expected = g_strdup_printf("file is owned by uid %u, not root", uid);
	g_assert_cmpuint(pal_plugin_registry_get_plugins(registry)->len, ==, 0);
	g_assert_cmpuint(pal_plugin_registry_get_refused(registry)->len, ==, 1);
	g_assert_cmpstr(pal_test_get_refusal(registry, "libpal-plugin-echo.so"), ==, expected);
}

static void
test_permissions_root_owned(Fixture *fixture, gconstpointer user_data)
{
	PalPluginRegistry *registry = fixture->registry;

	if (getuid() != 0) {
		g_test_skip("needs root: only files owned by uid 0 pass the permission check");
		return;
	}
	pal_test_load_shared(registry, TRUE);
	g_assert_cmpuint(pal_plugin_registry_get_plugins(registry)->len, ==, 2);
	g_assert_nonnull(pal_test_get_info(registry, "echo"));
	g_assert_nonnull(pal_test_get_info(registry, "good"));
	/* the checks come before the file is opened, but after the kind of file */
	g_assert_cmpstr(pal_test_get_refusal(registry, "libpal-plugin-link.so"),
			==,
			"file is a symbolic link");
	g_assert_cmpstr(pal_test_get_refusal(registry, "libpal-plugin-abi99.so"),
			==,
			"ABI 99.0, this palaverd supports 1.0");
}

static void
test_permissions_off(Fixture *fixture, gconstpointer user_data)
{
	PalPluginRegistry *registry = fixture->registry;
	g_autofree gchar *echo_path = pal_test_shared_path("libpal-plugin-echo.so");
	gboolean root = getuid() == 0;

	/* the same file (the same inode) made writable and, as root, not root's: with the checks
	 * off it loads all the same */
	g_assert_cmpint(g_chmod(echo_path, 0666), ==, 0);
	if (root)
		g_assert_cmpint(chown(echo_path, 1, 1), ==, 0);
	pal_test_load_shared(registry, FALSE);
	g_assert_cmpint(g_chmod(echo_path, 0755), ==, 0);
	if (root)
		g_assert_cmpint(chown(echo_path, 0, 0), ==, 0);

	g_assert_nonnull(pal_test_get_info(registry, "echo"));
	g_assert_null(pal_test_get_refusal(registry, "libpal-plugin-echo.so"));
	/* never a symbolic link */
	g_assert_cmpstr(pal_test_get_refusal(registry, "libpal-plugin-link.so"),
			==,
			"file is a symbolic link");
}

static void
test_duplicate(Fixture *fixture, gconstpointer user_data)
{
	PalPluginRegistry *registry = fixture->registry;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *echo_path = pal_test_shared_path("libpal-plugin-echo.so");
	g_autofree gchar *good_path = pal_test_shared_path("libpal-plugin-good.so");
	g_autofree gchar *nosym_path = pal_test_shared_path("libpal-plugin-nosym.so");
	g_autofree gchar *copy = pal_test_copy_plugin(fixture->tmpdir, "echo", 0755);
	g_autofree gchar *expected = NULL;
	GPtrArray *refused;
	PalPluginRefusal *refusal;
	guint n_refused;

	pal_test_load_shared(registry, FALSE);
	n_refused = pal_plugin_registry_get_refused(registry)->len;

	/* another file with a loaded name is refused before it is opened */
	g_assert_true(pal_plugin_registry_load_directory(registry, fixture->tmpdir, &error));
	g_assert_no_error(error);
	refused = pal_plugin_registry_get_refused(registry);
	g_assert_cmpuint(refused->len, ==, n_refused + 1);
	refusal = g_ptr_array_index(refused, n_refused);
	g_assert_cmpstr(refusal->path, ==, copy);
	expected =
	    g_strdup_printf("duplicate plugin name 'echo', already loaded from %s", echo_path);
	g_assert_cmpstr(refusal->reason, ==, expected);
	g_assert_cmpuint(pal_plugin_registry_get_plugins(registry)->len, ==, 2);

	/* so is the same folder a second time */
	pal_test_load_shared(registry, FALSE);
	g_assert_cmpuint(pal_plugin_registry_get_plugins(registry)->len, ==, 2);
	refusal = g_ptr_array_index(refused, refused->len - 1);
	g_assert_cmpstr(refusal->path, ==, nosym_path);
	g_clear_pointer(&expected, g_free);
	expected =
	    g_strdup_printf("duplicate plugin name 'good', already loaded from %s", good_path);
	g_assert_cmpstr(pal_test_get_refusal(registry, "libpal-plugin-good.so"), ==, expected);
}

static void
test_create(Fixture *fixture, gconstpointer user_data)
{
	PalPluginRegistry *registry = fixture->registry;
	g_autoptr(PalEndpointInfo) endpoint = pal_endpoint_info_new("test", NULL, NULL, NULL, FALSE);
	g_autoptr(GError) error = NULL;
	g_autoptr(GObject) flow = NULL;
	g_autoptr(GObject) nlu = NULL;
	g_autoptr(GObject) transformer = NULL;
	g_autoptr(GObject) none = NULL;
	g_autoptr(JsonObject) options =
	    pal_test_json_object("{\"type\": \"echo\", \"outputs\": 2}");

	pal_test_load_shared(registry, FALSE);

	/* a NULL options object is an empty one */
	flow = pal_plugin_registry_create(registry,
					  PAL_PLUGIN_KIND_FLOW,
					  "echo",
					  endpoint,
					  NULL,
					  &error);
	g_assert_no_error(error);
	g_assert_true(PAL_IS_FLOW(flow));
	g_assert_true(PAL_IS_EXTENSION(flow));
	g_clear_object(&flow);

	/* `type` selects the plugin and is not handed to it */
	flow = pal_plugin_registry_create(registry,
					  PAL_PLUGIN_KIND_FLOW,
					  "echo",
					  endpoint,
					  options,
					  &error);
	g_assert_no_error(error);
	g_assert_true(PAL_IS_FLOW(flow));
	g_assert_true(json_object_has_member(options, "type"));

	nlu = pal_plugin_registry_create(registry,
					 PAL_PLUGIN_KIND_NLU,
					 "good",
					 endpoint,
					 NULL,
					 &error);
	g_assert_no_error(error);
	g_assert_true(PAL_IS_NLU(nlu));
	transformer = pal_plugin_registry_create(registry,
						 PAL_PLUGIN_KIND_TRANSFORMER,
						 "good",
						 endpoint,
						 NULL,
						 &error);
	g_assert_no_error(error);
	g_assert_true(PAL_IS_TRANSFORMER(transformer));
	/* one instance per call */
	g_assert_true(nlu != transformer);

	/* unknown names list the known ones of that kind */
	none = pal_plugin_registry_create(registry,
					  PAL_PLUGIN_KIND_FLOW,
					  "graph",
					  endpoint,
					  NULL,
					  &error);
	g_assert_error(error, PAL_ERROR, PAL_ERROR_PLUGIN);
	g_assert_cmpstr(error->message,
			==,
			"flow plugin 'graph' is not installed (known flow plugins: echo)");
	g_assert_null(none);
	g_clear_error(&error);

	none = pal_plugin_registry_create(registry,
					  PAL_PLUGIN_KIND_NLU,
					  "echo",
					  endpoint,
					  NULL,
					  &error);
	g_assert_error(error, PAL_ERROR, PAL_ERROR_PLUGIN);
	g_assert_cmpstr(error->message,
			==,
			"nlu plugin 'echo' is not installed, plugin 'echo' provides: flow "
			"(known nlu plugins: good)");
	g_assert_null(none);
	g_clear_error(&error);

	none = pal_plugin_registry_create(registry,
					  PAL_PLUGIN_KIND_HANDOVER,
					  "webhook",
					  endpoint,
					  NULL,
					  &error);
	g_assert_error(error, PAL_ERROR, PAL_ERROR_PLUGIN);
	g_assert_cmpstr(
	    error->message,
	    ==,
	    "handover plugin 'webhook' is not installed (known handover plugins: none)");
	g_assert_null(none);
}

static void
test_echo_options(Fixture *fixture, gconstpointer user_data)
{
	PalPluginRegistry *registry = fixture->registry;
	g_autoptr(PalEndpointInfo) endpoint = pal_endpoint_info_new("test", NULL, NULL, NULL, FALSE);
	const struct {
		const gchar *json;
		const gchar *error; /* NULL: accepted */
	} cases[] = {
	    {"{}", NULL},
	    {"{\"outputs\": 0}", NULL},
	    {"{\"outputs\": 100}", NULL},
	    {"{\"outputs\": 3.0}", NULL},
	    {"{\"outputs\": \"two\"}",
	     "flow plugin 'echo': flow.outputs: expected an integer from 0 to 100, got \"two\""},
	    {"{\"outputs\": 101}",
	     "flow plugin 'echo': flow.outputs: expected an integer from 0 to 100, got 101"},
	    {"{\"outputs\": -1}",
	     "flow plugin 'echo': flow.outputs: expected an integer from 0 to 100, got -1"},
	    {"{\"outputs\": 2.5}",
	     "flow plugin 'echo': flow.outputs: expected an integer from 0 to 100, got 2.5"},
	    {"{\"outputs\": true}",
	     "flow plugin 'echo': flow.outputs: expected an integer from 0 to 100, got true"},
	    {"{\"outputs\": null}",
	     "flow plugin 'echo': flow.outputs: expected an integer from 0 to 100, got null"},
	    {"{\"outputs\": {\"n\": 2}}",
	     "flow plugin 'echo': flow.outputs: expected an integer from 0 to 100, got an object"},
	    {"{\"outputs\": [2]}",
	     "flow plugin 'echo': flow.outputs: expected an integer from 0 to 100, got an array"},
	    {"{\"output\": 2}",
	     "flow plugin 'echo': flow.output: unknown option (the echo flow has \"outputs\" "
	     "and \"delayMs\")"},
	    {"{\"outputs\": 2, \"speed\": 1}",
	     "flow plugin 'echo': flow.speed: unknown option (the echo flow has \"outputs\" and "
	     "\"delayMs\")"},
	    {"{\"delayMs\": -1}",
	     "flow plugin 'echo': flow.delayMs: expected an integer from 0 to 60000, got -1"},
	};

	pal_test_load_shared(registry, FALSE);
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(JsonObject) options = pal_test_json_object(cases[i].json);
		g_autoptr(GError) error = NULL;
		g_autoptr(GObject) flow = pal_plugin_registry_create(registry,
								     PAL_PLUGIN_KIND_FLOW,
								     "echo",
								     endpoint,
								     options,
								     &error);
		g_test_message("options %s", cases[i].json);
		if (cases[i].error == NULL) {
			g_assert_no_error(error);
			g_assert_true(PAL_IS_FLOW(flow));
		} else {
			g_assert_error(error, PAL_ERROR, PAL_ERROR_PLUGIN);
			g_assert_cmpstr(error->message, ==, cases[i].error);
			g_assert_null(flow);
		}
	}
}

typedef struct {
	GMainLoop *loop;
	gboolean ret;
	GError *error;
} RunHelper;

static void
pal_test_emit_cb(PalTurn *turn, PalOutput *output, guint index, gpointer user_data)
{
	GPtrArray *outputs = user_data;

	g_assert_cmpuint(index, ==, outputs->len);
	g_ptr_array_add(outputs, g_object_ref(output));
}

static void
pal_test_run_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	RunHelper *helper = user_data;

	helper->ret = pal_flow_run_finish(PAL_FLOW(source), res, &helper->error);
	g_main_loop_quit(helper->loop);
}

/* runs one turn of @flow to completion; returns the outputs, or NULL with @error set */
static GPtrArray *
pal_test_run_flow(GObject *flow,
		  const gchar *text,
		  JsonObject *data,
		  GCancellable *cancellable,
		  GError **error)
{
	g_autoptr(PalEndpointInfo) endpoint = pal_endpoint_info_new("test", NULL, NULL, NULL, FALSE);
	g_autoptr(PalSession) session = pal_session_new("test", "user123", "session123");
	g_autoptr(PalMessage) message =
	    pal_message_new(PAL_MESSAGE_KIND_USER, NULL, "user123", "session123", text, data, NULL);
	g_autoptr(GPtrArray) outputs = g_ptr_array_new_with_free_func(g_object_unref);
	g_autoptr(PalTurn) turn = pal_turn_new(endpoint,
					       session,
					       message,
					       pal_test_emit_cb,
					       g_ptr_array_ref(outputs),
					       (GDestroyNotify)g_ptr_array_unref);
	g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
	RunHelper helper = {loop, FALSE, NULL};

	pal_flow_run_async(PAL_FLOW(flow), turn, cancellable, pal_test_run_cb, &helper);
	/* echo emits from an idle, never from inside run_async() */
	g_assert_cmpuint(outputs->len, ==, 0);
	g_main_loop_run(loop);
	g_assert_cmpuint(pal_turn_get_n_outputs(turn), ==, outputs->len);
	if (!helper.ret) {
		g_assert_nonnull(helper.error);
		g_propagate_error(error, helper.error);
		return NULL;
	}
	g_assert_no_error(helper.error);
	return g_steal_pointer(&outputs);
}

static GObject *
pal_test_create_echo(PalPluginRegistry *registry, const gchar *options_json)
{
	g_autoptr(PalEndpointInfo) endpoint = pal_endpoint_info_new("test", NULL, NULL, NULL, FALSE);
	g_autoptr(JsonObject) options = pal_test_json_object(options_json);
	g_autoptr(GError) error = NULL;
	GObject *flow;

	flow = pal_plugin_registry_create(registry,
					  PAL_PLUGIN_KIND_FLOW,
					  "echo",
					  endpoint,
					  options,
					  &error);
	g_assert_no_error(error);
	g_assert_nonnull(flow);
	return flow;
}

static gboolean
pal_test_json_object_equal(JsonObject *a, JsonObject *b)
{
	g_autoptr(JsonNode) na = json_node_init_object(json_node_alloc(), a);
	g_autoptr(JsonNode) nb = json_node_init_object(json_node_alloc(), b);

	return json_node_equal(na, nb);
}

/* @registry has echo, from a file or built in */
static void
pal_test_check_echo_run(PalPluginRegistry *registry)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GObject) flow = pal_test_create_echo(registry, "{\"outputs\": 3}");
	g_autoptr(GObject) flow_default = pal_test_create_echo(registry, "{}");
	g_autoptr(GObject) flow_none = pal_test_create_echo(registry, "{\"outputs\": 0}");
	g_autoptr(JsonObject) data = pal_test_json_object(
	    "{\"key\": \"value\", \"nested\": {\"list\": [1, 2.5, true, null, \"x\"]}}");
	g_autoptr(JsonObject) data_before = pal_test_json_object(
	    "{\"key\": \"value\", \"nested\": {\"list\": [1, 2.5, true, null, \"x\"]}}");
	g_autoptr(GPtrArray) outputs = NULL;
	g_autoptr(GCancellable) cancellable = g_cancellable_new();

	/* N outputs, each with the text and its own copy of the data */
	outputs = pal_test_run_flow(flow, "hello", data, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(outputs->len, ==, 3);
	for (guint i = 0; i < outputs->len; i++) {
		PalOutput *output = g_ptr_array_index(outputs, i);
		JsonObject *out_data = pal_output_get_data(output);
		g_assert_cmpint(pal_output_get_source(output), ==, PAL_OUTPUT_SOURCE_BOT);
		g_assert_cmpstr(pal_output_get_text(output), ==, "hello");
		g_assert_nonnull(out_data);
		g_assert_true(out_data != data);
		g_assert_true(json_object_get_object_member(out_data, "nested") !=
			      json_object_get_object_member(data, "nested"));
		g_assert_true(pal_test_json_object_equal(out_data, data));
		g_assert_null(pal_output_get_body(output));
	}
	/* changing one output changes neither the input nor the other outputs */
	json_object_set_string_member(
	    json_object_get_object_member(pal_output_get_data(g_ptr_array_index(outputs, 0)),
					  "nested"),
	    "added",
	    "by a transformer");
	g_assert_true(pal_test_json_object_equal(data, data_before));
	g_assert_true(
	    pal_test_json_object_equal(pal_output_get_data(g_ptr_array_index(outputs, 1)), data));
	g_clear_pointer(&outputs, g_ptr_array_unref);

	/* default: one output; text only */
	outputs = pal_test_run_flow(flow_default, "hi", NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(outputs->len, ==, 1);
	g_assert_cmpstr(pal_output_get_text(g_ptr_array_index(outputs, 0)), ==, "hi");
	g_assert_null(pal_output_get_data(g_ptr_array_index(outputs, 0)));
	g_clear_pointer(&outputs, g_ptr_array_unref);

	/* data only */
	outputs = pal_test_run_flow(flow_default, NULL, data, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(outputs->len, ==, 1);
	g_assert_null(pal_output_get_text(g_ptr_array_index(outputs, 0)));
	g_assert_true(
	    pal_test_json_object_equal(pal_output_get_data(g_ptr_array_index(outputs, 0)), data));
	g_clear_pointer(&outputs, g_ptr_array_unref);

	/* zero outputs still completes the turn */
	outputs = pal_test_run_flow(flow_none, "hello", data, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(outputs->len, ==, 0);
	g_clear_pointer(&outputs, g_ptr_array_unref);

	/* a turn past its deadline emits nothing */
	g_cancellable_cancel(cancellable);
	outputs = pal_test_run_flow(flow, "hello", data, cancellable, &error);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	g_assert_null(outputs);
}

static void
test_echo_run(Fixture *fixture, gconstpointer user_data)
{
	pal_test_load_shared(fixture->registry, FALSE);
	pal_test_check_echo_run(fixture->registry);
}

static void
test_describe(Fixture *fixture, gconstpointer user_data)
{
	PalPluginRegistry *registry = fixture->registry;
	g_autofree gchar *empty = pal_plugin_registry_describe(registry);
	g_autofree gchar *text = NULL;
	g_autofree gchar *loaded = NULL;
	g_autofree gchar *echo_path = pal_test_shared_path("libpal-plugin-echo.so");
	g_autofree gchar *good_path = pal_test_shared_path("libpal-plugin-good.so");
	GPtrArray *refused;

	g_assert_cmpstr(empty, ==, "Loaded plugins (ABI 1.0): none\nRefused plugins: none\n");

	pal_test_load_shared(registry, FALSE);
	text = pal_plugin_registry_describe(registry);
	g_test_message("%s", text);

	/* loaded plugins first, with kinds, version, licence, description, path */
	loaded = g_strdup_printf("Loaded plugins (ABI 1.0):\n"
				 "  echo [flow] %s, LGPL-2.1-or-later\n"
				 "    Echoes each input back N times\n"
				 "    %s\n"
				 "  good [nlu, transformer] 1.2.3, LGPL-2.1-or-later\n"
				 "    A valid test plugin (nlu and transformer)\n"
				 "    %s\n"
				 "Refused plugins:\n",
				 PACKAGE_VERSION,
				 echo_path,
				 good_path);
	g_assert_true(g_str_has_prefix(text, loaded));

	/* then every refused file with its reason, in load order */
	refused = pal_plugin_registry_get_refused(registry);
	g_assert_cmpuint(refused->len, >, 0);
	{
		g_autoptr(GString) expected = g_string_new(loaded);
		for (guint i = 0; i < refused->len; i++) {
			PalPluginRefusal *refusal = g_ptr_array_index(refused, i);
			g_string_append_printf(expected,
					       "  %s\n    %s\n",
					       refusal->path,
					       refusal->reason);
		}
		g_assert_cmpstr(text, ==, expected->str);
	}
	g_assert_nonnull(
	    strstr(text, "libpal-plugin-abi99.so\n    ABI 99.0, this palaverd supports 1.0\n"));
	g_assert_nonnull(
	    strstr(text, "libpal-plugin-nosym.so\n    missing symbol pal_plugin_nosym_get_desc\n"));
}

/* a flow linked into the test binary, for pal_plugin_registry_add_builtin() */
#define PAL_TYPE_TEST_BUILTIN_FLOW (pal_test_builtin_flow_get_type())
G_DECLARE_FINAL_TYPE(PalTestBuiltinFlow, pal_test_builtin_flow, PAL, TEST_BUILTIN_FLOW, GObject)

struct _PalTestBuiltinFlow {
	GObject parent_instance;
};

static void
pal_test_builtin_flow_iface_init(PalFlowInterface *iface)
{
}

G_DEFINE_FINAL_TYPE_WITH_CODE(PalTestBuiltinFlow,
			      pal_test_builtin_flow,
			      G_TYPE_OBJECT,
			      G_IMPLEMENT_INTERFACE(PAL_TYPE_EXTENSION, NULL)
				  G_IMPLEMENT_INTERFACE(PAL_TYPE_FLOW,
							pal_test_builtin_flow_iface_init))

static void
pal_test_builtin_flow_class_init(PalTestBuiltinFlowClass *klass)
{
}

static void
pal_test_builtin_flow_init(PalTestBuiltinFlow *self)
{
}

PAL_PLUGIN_DEFINE(builtin,
		  pal_test_builtin_flow_get_type,
		  "0.0.1",
		  "LGPL-2.1-or-later",
		  "A flow linked into the test")

static GType
pal_test_object_get_type(void)
{
	return G_TYPE_OBJECT;
}

static void
test_builtin(Fixture *fixture, gconstpointer user_data)
{
	PalPluginRegistry *registry = fixture->registry;
	PalPluginInfo *info;
	g_autoptr(PalEndpointInfo) endpoint = pal_endpoint_info_new("test", NULL, NULL, NULL, FALSE);
	g_autoptr(GObject) flow = NULL;
	g_autofree gchar *echo_path = pal_test_shared_path("libpal-plugin-echo.so");
	g_autofree gchar *dup_echo = NULL;
	const struct {
		PalPluginDesc desc;
		const gchar *reason;
	} bad[] = {
	    {{2, 0, "future", "1", "MIT", "", pal_test_builtin_flow_get_type, {NULL}},
	     "ABI 2.0, this palaverd supports 1.0"},
	    {{1, 99, "future", "1", "MIT", "", pal_test_builtin_flow_get_type, {NULL}},
	     "ABI 1.99, this palaverd supports 1.0"},
	    {{1, 0, "bad-name", "1", "MIT", "", pal_test_builtin_flow_get_type, {NULL}},
	     "plugin name 'bad-name' is not valid (letters, digits and '_' only)"},
	    {{1, 0, NULL, "1", "MIT", "", pal_test_builtin_flow_get_type, {NULL}},
	     "plugin name '' is not valid (letters, digits and '_' only)"},
	    {{1, 0, "notype", "1", "MIT", "", NULL, {NULL}}, "descriptor has no get_type function"},
	    {{1, 0, "plain", "1", "MIT", "", pal_test_object_get_type, {NULL}},
	     "type GObject implements no extension point (flow, nlu, transformer or handover)"},
	    {{1, 0, "builtin", "1", "MIT", "", pal_test_builtin_flow_get_type, {NULL}},
	     "duplicate plugin name 'builtin', already loaded from (built-in)"},
	    {{1, 0, "echo", "1", "MIT", "", pal_test_builtin_flow_get_type, {NULL}}, NULL},
	};

	g_assert_true(
	    pal_plugin_registry_add_builtin(registry, pal_plugin_builtin_get_desc(), NULL));
	info = pal_test_get_info(registry, "builtin");
	g_assert_nonnull(info);
	g_assert_cmpstr(info->path, ==, "(built-in)");
	g_assert_cmpstr(info->version, ==, "0.0.1");
	g_assert_cmpuint(info->kinds, ==, 1u << PAL_PLUGIN_KIND_FLOW);
	g_assert_cmpuint(pal_plugin_registry_lookup(registry, PAL_PLUGIN_KIND_FLOW, "builtin"),
			 ==,
			 PAL_TYPE_TEST_BUILTIN_FLOW);
	flow = pal_plugin_registry_create(registry,
					  PAL_PLUGIN_KIND_FLOW,
					  "builtin",
					  endpoint,
					  NULL,
					  NULL);
	g_assert_true(PAL_IS_TEST_BUILTIN_FLOW(flow));

	/* built-ins and files share one namespace */
	pal_test_load_shared(registry, FALSE);
	dup_echo =
	    g_strdup_printf("duplicate plugin name 'echo', already loaded from %s", echo_path);

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		GPtrArray *refused = pal_plugin_registry_get_refused(registry);
		guint n_refused = refused->len;
		const gchar *reason = bad[i].reason != NULL ? bad[i].reason : dup_echo;
		PalPluginRefusal *refusal;

		gint code = g_str_has_prefix(reason, "duplicate") ? PAL_ERROR_EXISTS
								  : PAL_ERROR_PLUGIN;

		g_assert_false(pal_plugin_registry_add_builtin(registry, &bad[i].desc, &error));
		g_assert_error(error, PAL_ERROR, code);
		g_assert_cmpstr(error->message, ==, reason);
		g_assert_cmpuint(refused->len, ==, n_refused + 1);
		refusal = g_ptr_array_index(refused, n_refused);
		g_assert_cmpstr(refusal->path, ==, "(built-in)");
		g_assert_cmpstr(refusal->reason, ==, reason);
	}
	/* builtin, echo, good */
	g_assert_cmpuint(pal_plugin_registry_get_plugins(registry)->len, ==, 3);
}

/* the echo plugin's static library, registered as a built-in. In a subprocess: its GType
 * PalEchoPlugin is the same name as the one of the module the other tests load. */
static void
test_builtin_echo(void)
{
	if (g_test_subprocess()) {
		g_autoptr(PalPluginRegistry) registry = pal_plugin_registry_new();
		g_autoptr(GError) error = NULL;
		PalPluginInfo *info;

		g_assert_true(
		    pal_plugin_registry_add_builtin(registry, pal_plugin_echo_get_desc(), &error));
		g_assert_no_error(error);
		info = pal_test_get_info(registry, "echo");
		g_assert_nonnull(info);
		g_assert_cmpstr(info->path, ==, "(built-in)");
		g_assert_cmpstr(g_type_name(info->type), ==, "PalEchoPlugin");
		pal_test_check_echo_run(registry);

		/* the module of the same name is refused before it is opened, so its type
		 * PalEchoPlugin is never registered a second time (which would be a critical) */
		pal_test_load_shared(registry, FALSE);
		g_assert_cmpstr(pal_test_get_refusal(registry, "libpal-plugin-echo.so"),
				==,
				"duplicate plugin name 'echo', already loaded from (built-in)");
		g_assert_nonnull(pal_test_get_info(registry, "good"));
		return;
	}
	g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
	g_test_trap_assert_passed();
}

int
main(int argc, char **argv)
{
	int ret;

	g_test_init(&argc, &argv, NULL);

	g_test_add("/palaver/plugin-registry/load-directory",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_load_directory,
		   fixture_teardown);
	g_test_add("/palaver/plugin-registry/missing-directory",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_missing_directory,
		   fixture_teardown);
	g_test_add("/palaver/plugin-registry/lookup",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_lookup,
		   fixture_teardown);
	g_test_add("/palaver/plugin-registry/permissions/writable",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_permissions_writable,
		   fixture_teardown);
	g_test_add("/palaver/plugin-registry/permissions/owner",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_permissions_owner,
		   fixture_teardown);
	g_test_add("/palaver/plugin-registry/permissions/root-owned",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_permissions_root_owned,
		   fixture_teardown);
	g_test_add("/palaver/plugin-registry/permissions/off",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_permissions_off,
		   fixture_teardown);
	g_test_add("/palaver/plugin-registry/duplicate",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_duplicate,
		   fixture_teardown);
	g_test_add("/palaver/plugin-registry/create",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_create,
		   fixture_teardown);
	g_test_add("/palaver/plugin-registry/echo-options",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_echo_options,
		   fixture_teardown);
	g_test_add("/palaver/plugin-registry/echo-run",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_echo_run,
		   fixture_teardown);
	g_test_add("/palaver/plugin-registry/describe",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_describe,
		   fixture_teardown);
	g_test_add("/palaver/plugin-registry/builtin",
		   Fixture,
		   NULL,
		   fixture_setup,
		   test_builtin,
		   fixture_teardown);
	g_test_add_func("/palaver/plugin-registry/builtin-echo", test_builtin_echo);

	ret = g_test_run();

	if (shared_dir != NULL) {
		pal_test_rm_rf(shared_dir);
		g_clear_pointer(&shared_dir, g_free);
	}
	return ret;
}
