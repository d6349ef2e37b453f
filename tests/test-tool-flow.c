/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The flow authors' tools end to end: the real `palaver-tool flow check` and `palaver-tool chat`
 * ($PALAVER_TOOL) with the build tree's plugins ($PALAVER_BUILD_PLUGINDIR) and standard input
 * piped. The chat cases run against the `echo` flow of an endpoint file; the cases under
 * /palaver/tool-flow/graph/ need the `graph` flow plugin and are skipped while
 * libpal-plugin-graph.so is not built. */
#include "config.h"

#include <glib/gstdio.h>
#include <stdarg.h>
#include <string.h>

#include "pal-test-util.h"

typedef struct {
	gchar *dir; /* the tool's working directory: the files of the case */
} Fixture;

typedef struct {
	gint status;
	gchar *out;
	gchar *err;
} ToolRun;

typedef enum {
	TOOL_NONE = 0,
	TOOL_PLUGINS =
	    1 << 0, /* add --plugin-dir $PALAVER_BUILD_PLUGINDIR --no-plugin-permission-check */
} ToolFlags;

static void
fixture_setup(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	fx->dir = g_dir_make_tmp("palaver-tool-flow-XXXXXX", &error);
	g_assert_no_error(error);
}

static void
fixture_teardown(Fixture *fx, gconstpointer data)
{
	pal_test_rm_rf(fx->dir);
	g_free(fx->dir);
}

static void
write_file(Fixture *fx, const gchar *name, const gchar *contents)
{
	g_autofree gchar *path = g_build_filename(fx->dir, name, NULL);
	g_autoptr(GError) error = NULL;

	g_assert_true(g_file_set_contents(path, contents, -1, &error));
	g_assert_no_error(error);
}

static void
tool_run_clear(ToolRun *run)
{
	g_clear_pointer(&run->out, g_free);
	g_clear_pointer(&run->err, g_free);
}

/* runs `$PALAVER_TOOL ARGS…` (NULL-terminated) in the fixture's folder, with @input on its
 * standard input, to its end; @env: NULL or "NAME", "VALUE", …, NULL */
static void
tool_run_full(Fixture *fx,
	      ToolRun *run,
	      ToolFlags flags,
	      const gchar *const *env,
	      const gchar *input,
	      const gchar *first,
	      va_list ap)
{
	const gchar *tool = g_getenv("PALAVER_TOOL");
	const gchar *plugindir = g_getenv("PALAVER_BUILD_PLUGINDIR");
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GSubprocessLauncher) launcher = NULL;
	g_autoptr(GSubprocess) sp = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GString) cmd = g_string_new("palaver-tool");

	g_assert_nonnull(tool);
	g_assert_nonnull(plugindir);
	tool_run_clear(run);
	g_ptr_array_add(argv, (gpointer)tool);
	for (const gchar *arg = first; arg != NULL; arg = va_arg(ap, const gchar *)) {
		g_ptr_array_add(argv, (gpointer)arg);
		g_string_append_printf(cmd, " %s", arg);
	}
	if (flags & TOOL_PLUGINS) {
		g_ptr_array_add(argv, (gpointer) "--plugin-dir");
		g_ptr_array_add(argv, (gpointer)plugindir);
		g_ptr_array_add(argv, (gpointer) "--no-plugin-permission-check");
	}
	g_ptr_array_add(argv, NULL);

	launcher = pal_test_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDIN_PIPE |
						    G_SUBPROCESS_FLAGS_STDOUT_PIPE |
						    G_SUBPROCESS_FLAGS_STDERR_PIPE);
	g_subprocess_launcher_set_cwd(launcher, fx->dir);
	/* the plugins come from the options or the environment of the case only */
	g_subprocess_launcher_unsetenv(launcher, "PALAVER_PLUGIN_PATH");
	for (guint i = 0; env != NULL && env[i] != NULL; i += 2)
		g_subprocess_launcher_setenv(launcher, env[i], env[i + 1], TRUE);
	sp = g_subprocess_launcher_spawnv(launcher, (const gchar *const *)argv->pdata, &error);
	g_assert_no_error(error);
	g_assert_true(g_subprocess_communicate_utf8(sp,
						    input != NULL ? input : "",
						    NULL,
						    &run->out,
						    &run->err,
						    &error));
	g_assert_no_error(error);
	g_assert_true(pal_test_subprocess_wait(sp, 60000, &run->status, &error));
	g_assert_no_error(error);
	g_test_message("%s\ninput:\n%s\nexit %d\nstdout:\n%s\nstderr:\n%s",
		       cmd->str,
		       input != NULL ? input : "",
		       run->status,
		       run->out,
		       run->err);
}

static void
tool_run(Fixture *fx, ToolRun *run, ToolFlags flags, const gchar *input, const gchar *first, ...)
{
	va_list ap;

	va_start(ap, first);
	tool_run_full(fx, run, flags, NULL, input, first, ap);
	va_end(ap);
}

static void
tool_run_env(Fixture *fx,
	     ToolRun *run,
	     const gchar *const *env,
	     const gchar *input,
	     const gchar *first,
	     ...)
{
	va_list ap;

	va_start(ap, first);
	tool_run_full(fx, run, TOOL_NONE, env, input, first, ap);
	va_end(ap);
}

/* the graph plugin is being written: its cases wait for it */
static gboolean
have_graph_plugin(void)
{
	g_autofree gchar *path =
	    g_build_filename(g_getenv("PALAVER_BUILD_PLUGINDIR"), "libpal-plugin-graph.so", NULL);

	if (g_file_test(path, G_FILE_TEST_EXISTS))
		return TRUE;
	g_test_skip("the graph flow plugin is not built (no libpal-plugin-graph.so in "
		    "$PALAVER_BUILD_PLUGINDIR)");
	return FALSE;
}

/* the line of @text that starts with @prefix, or NULL */
static gchar *
find_line(const gchar *text, const gchar *prefix)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

	for (guint i = 0; lines[i] != NULL; i++) {
		if (g_str_has_prefix(lines[i], prefix))
			return g_strdup(lines[i]);
	}
	return NULL;
}

/* ep.json: an endpoint whose flow is @flow (JSON) */
static void
write_endpoint(Fixture *fx, const gchar *name, const gchar *token, const gchar *flow)
{
	g_autofree gchar *json = g_strdup_printf(
	    "{\"name\":\"%s\",\"URLToken\":\"%s\",\"flow\":%s,\"webhook\":{\"url\":\"\"}}",
	    name,
	    token,
	    flow);

	write_file(fx, "ep.json", json);
}

#define ECHO_TOKEN "chat-echo-token-000001"

static void
write_echo_endpoint(Fixture *fx)
{
	write_endpoint(fx, "chat-echo", ECHO_TOKEN, "{\"type\":\"echo\",\"outputs\":2}");
}

/* quick replies as a flow sends them (DESIGN.md §1.3), next to other data */
#define QUICK_REPLIES_DATA                                                                         \
	"{\"card\":7,\"_cognigy\":{\"_default\":{\"_quickReplies\":{\"type\":\"quick_replies\","   \
	"\"text\":\"Pick\",\"quickReplies\":[{\"id\":1,\"contentType\":\"postback\",\"title\":"    \
	"\"Yes\",\"payload\":\"yes-payload\"},{\"id\":2,\"contentType\":\"postback\",\"title\":"   \
	"\"No\"}]}}}}"

/* ---------------------------------------------------------------------------------------- */
/* without the graph plugin */

static void
test_usage(Fixture *fx, gconstpointer data)
{
	ToolRun run = {0};

	tool_run(fx, &run, TOOL_NONE, NULL, "flow", NULL);
	g_assert_cmpint(run.status, ==, 2);
	g_assert_nonnull(strstr(run.err, "missing the action"));
	tool_run(fx, &run, TOOL_NONE, NULL, "flow", "lint", "a.json", NULL);
	g_assert_cmpint(run.status, ==, 2);
	g_assert_nonnull(strstr(run.err, "unknown action"));
	tool_run(fx, &run, TOOL_NONE, NULL, "flow", "check", NULL);
	g_assert_cmpint(run.status, ==, 2);
	g_assert_nonnull(strstr(run.err, "flow files"));
	tool_run(fx, &run, TOOL_NONE, NULL, "flow", "check", "--bogus", "a.json", NULL);
	g_assert_cmpint(run.status, ==, 2);

	tool_run(fx, &run, TOOL_NONE, NULL, "chat", NULL);
	g_assert_cmpint(run.status, ==, 2);
	g_assert_nonnull(strstr(run.err, "--flow FILE or --endpoint FILE"));
	tool_run(fx,
		 &run,
		 TOOL_NONE,
		 NULL,
		 "chat",
		 "--flow",
		 "a.json",
		 "--endpoint",
		 "b.json",
		 NULL);
	g_assert_cmpint(run.status, ==, 2);
	tool_run(fx, &run, TOOL_NONE, NULL, "chat", "--flow", "a.json", "--timeout", "0", NULL);
	g_assert_cmpint(run.status, ==, 2);
	g_assert_nonnull(strstr(run.err, "--timeout"));
	tool_run(fx, &run, TOOL_NONE, NULL, "chat", "--flow", "a.json", "--data", "[1]", NULL);
	g_assert_cmpint(run.status, ==, 2);
	g_assert_nonnull(strstr(run.err, "expected a JSON object"));
	tool_run(fx, &run, TOOL_NONE, NULL, "chat", "--flow", "a.json", "--user", "", NULL);
	g_assert_cmpint(run.status, ==, 2);
	tool_run(fx, &run, TOOL_NONE, NULL, "chat", "--flow", "a.json", "extra", NULL);
	g_assert_cmpint(run.status, ==, 2);

	/* the usage of palaver-tool lists both commands */
	tool_run(fx, &run, TOOL_NONE, NULL, "--help", NULL);
	g_assert_cmpint(run.status, ==, 0);
	g_assert_nonnull(strstr(run.out, "  flow "));
	g_assert_nonnull(strstr(run.out, "  chat "));
	tool_run_clear(&run);
}

/* a plugin directory without the graph plugin: one clear error, no per-file output */
static void
test_missing_plugin(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *empty = g_build_filename(fx->dir, "no-plugins", NULL);
	ToolRun run = {0};

	g_assert_cmpint(g_mkdir(empty, 0755), ==, 0);
	write_file(fx, "a.json", "{}");
	tool_run(fx, &run, TOOL_NONE, NULL, "flow", "check", "--plugin-dir", empty, "a.json", NULL);
	g_assert_cmpint(run.status, ==, 1);
	g_assert_cmpstr(run.out, ==, "");
	g_assert_nonnull(strstr(run.err, "“graph” flow plugin is not installed"));
	g_assert_nonnull(strstr(run.err, empty));

	tool_run(fx,
		 &run,
		 TOOL_NONE,
		 "hello\n",
		 "chat",
		 "--plugin-dir",
		 empty,
		 "--flow",
		 "a.json",
		 NULL);
	g_assert_cmpint(run.status, ==, 1);
	g_assert_cmpstr(run.out, ==, "");
	g_assert_nonnull(strstr(run.err, "“graph” flow plugin is not installed"));
	g_rmdir(empty);
	tool_run_clear(&run);
}

/* --nlu MODEL runs the intents plugin before the flow; --show-nlu prints its result */
static void
test_chat_nlu(Fixture *fx, gconstpointer data)
{
	ToolRun run = {0};
	ToolRun missing = {0};

	write_echo_endpoint(fx);
	write_file(fx,
		   "m.json",
		   "{\"locale\": \"en\", \"intents\": {"
		   " \"greet\": [\"hello\", \"hi there\", \"good morning\", \"hey\"],"
		   " \"order\": [\"where is my order\", \"track my parcel\", \"order status\", \"my package\"]},"
		   " \"slots\": {\"number\": {\"type\": \"NUMBER\"}}}");
	tool_run(fx,
		 &run,
		 TOOL_PLUGINS,
		 "hello\nwhere is my order 42\n",
		 "chat",
		 "--endpoint",
		 "ep.json",
		 "--nlu",
		 "m.json",
		 "--show-nlu",
		 NULL);
	g_assert_cmpint(run.status, ==, 0);
	g_assert_nonnull(strstr(run.out, "nlu: {\"intent\":\"greet\""));
	g_assert_nonnull(strstr(run.out, "nlu: {\"intent\":\"order\""));
	g_assert_nonnull(strstr(run.out, "\"number\":[{\"value\":42,\"text\":\"42\",\"start\":18,\"end\":20}]"));

	/* a model that cannot be loaded: said, exit status 1 */
	tool_run(fx,
		 &missing,
		 TOOL_PLUGINS,
		 "hello\n",
		 "chat",
		 "--endpoint",
		 "ep.json",
		 "--nlu",
		 "missing.json",
		 NULL);
	g_assert_cmpint(missing.status, ==, 1);
	g_assert_nonnull(strstr(missing.err, "--nlu missing.json"));
	tool_run_clear(&run);
	tool_run_clear(&missing);
}

/* texts, data with quick replies, picking one by number, and the end of the input */
static void
test_chat_echo(Fixture *fx, gconstpointer data)
{
	ToolRun run = {0};

	write_echo_endpoint(fx);
	tool_run(fx,
		 &run,
		 TOOL_PLUGINS,
		 "hello\n"
		 "\n"
		 "/data " QUICK_REPLIES_DATA "\n"
		 "4\n" /* the second quick reply of the second output: its title, no payload */
		 "1\n" /* the last turn showed no quick replies: a text */
		 "/data " QUICK_REPLIES_DATA "\n"
		 "1\n"	/* a payload */
		 "9\n", /* no such quick reply: a text */
		 "chat",
		 "--endpoint",
		 "ep.json",
		 "--session",
		 "s1",
		 NULL);
	g_assert_cmpint(run.status, ==, 0);
	g_assert_cmpstr(run.err, ==, "");
	g_assert_cmpstr(run.out,
			==,
			"bot> hello\n"
			"bot> hello\n"
			"bot> (no text)\n"
			"     {\"card\":7}\n"
			"  [1] Yes   [2] No\n"
			"bot> (no text)\n"
			"     {\"card\":7}\n"
			"  [3] Yes   [4] No\n"
			"bot> No\n"
			"bot> No\n"
			"bot> 1\n"
			"bot> 1\n"
			"bot> (no text)\n"
			"     {\"card\":7}\n"
			"  [1] Yes   [2] No\n"
			"bot> (no text)\n"
			"     {\"card\":7}\n"
			"  [3] Yes   [4] No\n"
			"bot> yes-payload\n"
			"bot> yes-payload\n"
			"bot> 9\n"
			"bot> 9\n");
	tool_run_clear(&run);
}

/* the commands; errors go to standard error and the chat goes on; /quit ends it */
static void
test_chat_commands(Fixture *fx, gconstpointer data)
{
	ToolRun run = {0};
	g_autofree gchar *line = NULL;

	write_echo_endpoint(fx);
	tool_run(fx,
		 &run,
		 TOOL_PLUGINS,
		 "/help\n"
		 "/bogus\n"
		 "//slash\n"
		 "/data [1]\n"
		 "/data\n"
		 "/context\n"
		 "/profile\n"
		 "/reset\n"
		 "after reset\n"
		 "/quit\n"
		 "never sent\n",
		 "chat",
		 "--endpoint",
		 "ep.json",
		 NULL);
	g_assert_cmpint(run.status, ==, 0);
	/* no prompt: standard input is not a terminal */
	g_assert_null(strstr(run.out, "you>"));
	g_assert_nonnull(strstr(run.out, "/context"));
	g_assert_nonnull(strstr(run.out, "bot> /slash\nbot> /slash\n{}\n{}\n(new session "));
	g_assert_nonnull(strstr(run.out, ")\nbot> after reset\nbot> after reset\n"));
	g_assert_null(strstr(run.out, "never sent"));
	line = find_line(run.err, "error: unknown command /bogus");
	g_assert_nonnull(line);
	g_clear_pointer(&line, g_free);
	line = find_line(run.err, "error: /data: expected a JSON object");
	g_assert_nonnull(line);
	g_clear_pointer(&line, g_free);
	line = find_line(run.err, "error: /data needs a JSON object");
	g_assert_nonnull(line);
	tool_run_clear(&run);
}

/* --data goes with every text input; the plugins come from $PALAVER_PLUGIN_PATH */
static void
test_chat_data_option(Fixture *fx, gconstpointer data)
{
	const gchar *env[] = {"PALAVER_PLUGIN_PATH", g_getenv("PALAVER_BUILD_PLUGINDIR"), NULL};
	ToolRun run = {0};

	write_endpoint(fx, "chat-echo", ECHO_TOKEN, "{\"type\":\"echo\"}");
	tool_run_env(fx,
		     &run,
		     env,
		     "hi\n/data {\"only\":true}\n",
		     "chat",
		     "--endpoint",
		     "ep.json",
		     "--data",
		     "{\"channel\":\"cli\"}",
		     "--no-plugin-permission-check",
		     NULL);
	g_assert_cmpint(run.status, ==, 0);
	g_assert_cmpstr(run.out,
			==,
			"bot> hi\n"
			"     {\"channel\":\"cli\"}\n"
			"bot> (no text)\n"
			"     {\"only\":true}\n");
	tool_run_clear(&run);
}

/* a turn past its deadline is cancelled and reported; the chat goes on */
static void
test_chat_timeout(Fixture *fx, gconstpointer data)
{
	ToolRun run = {0};

	write_endpoint(fx,
		       "chat-slow",
		       "chat-slow-token-000001",
		       "{\"type\":\"echo\",\"delayMs\":4000}");
	tool_run(fx,
		 &run,
		 TOOL_PLUGINS,
		 "slow\n/context\n",
		 "chat",
		 "--endpoint",
		 "ep.json",
		 "--timeout",
		 "1",
		 NULL);
	g_assert_cmpint(run.status, ==, 0);
	g_assert_cmpstr(run.out, ==, "{}\n");
	g_assert_nonnull(
	    strstr(run.err, "error: the flow did not finish its turn within 1 second\n"));
	tool_run_clear(&run);
}

/* an endpoint whose flow refuses its options, or that cannot be read */
static void
test_chat_bad_endpoint(Fixture *fx, gconstpointer data)
{
	ToolRun run = {0};

	write_endpoint(fx, "chat-echo", ECHO_TOKEN, "{\"type\":\"echo\",\"outputz\":2}");
	tool_run(fx, &run, TOOL_PLUGINS, "hello\n", "chat", "--endpoint", "ep.json", NULL);
	g_assert_cmpint(run.status, ==, 1);
	g_assert_cmpstr(run.out, ==, "");
	g_assert_nonnull(strstr(run.err, "ep.json: flow.outputz: unknown option"));

	tool_run(fx, &run, TOOL_PLUGINS, "hello\n", "chat", "--endpoint", "missing.json", NULL);
	g_assert_cmpint(run.status, ==, 1);
	g_assert_nonnull(strstr(run.err, "missing.json"));

	write_endpoint(fx, "chat-x", ECHO_TOKEN, "{\"type\":\"nosuchflow\"}");
	tool_run(fx, &run, TOOL_PLUGINS, "hello\n", "chat", "--endpoint", "ep.json", NULL);
	g_assert_cmpint(run.status, ==, 1);
	g_assert_nonnull(strstr(run.err, "“nosuchflow” flow plugin is not installed"));
	tool_run_clear(&run);
}

/* ---------------------------------------------------------------------------------------- */
/* with the graph plugin */

#define GOOD_FLOW                                                                                  \
	"{\"name\":\"shop\",\"start\":\"welcome\",\"context\":{\"tries\":0},\"nodes\":{"           \
	"\"welcome\":{\"type\":\"say\",\"text\":\"Hi!\",\"next\":\"menu\"},"                       \
	"\"menu\":{\"type\":\"question\",\"text\":\"What do you need?\","                          \
	"\"quickReplies\":[\"Order status\",\"Agent\"],\"store\":\"context.request\","             \
	"\"next\":\"route\"},"                                                                     \
	"\"route\":{\"type\":\"switch\",\"value\":\"{{ input.text }}\","                           \
	"\"cases\":{\"Order status\":\"order\",\"Agent\":\"agent\"},\"default\":\"fallback\"},"    \
	"\"order\":{\"type\":\"say\",\"text\":\"Your order is on its way.\"},"                     \
	"\"agent\":{\"type\":\"say\",\"text\":\"An agent will call you.\"},"                       \
	"\"fallback\":{\"type\":\"say\",\"text\":\"Sorry?\",\"next\":\"menu\"}}}"

/* a dangling `next` and an unknown node type */
#define BAD_FLOW                                                                                   \
	"{\"name\":\"bad\",\"start\":\"hello\",\"nodes\":{"                                        \
	"\"hello\":{\"type\":\"sya\",\"text\":\"Hi\",\"next\":\"menu\"},"                          \
	"\"menu\":{\"type\":\"say\",\"text\":\"Menu\",\"next\":\"mneu\"}}}"

static void
assert_bad_flow_lines(const gchar *out, const gchar *file)
{
	g_autofree gchar *next_prefix = g_strdup_printf("%s: nodes.menu.next", file);
	g_autofree gchar *type_prefix = g_strdup_printf("%s: nodes.hello", file);
	g_autofree gchar *next_line = find_line(out, next_prefix);
	g_autofree gchar *type_line = find_line(out, type_prefix);

	g_assert_nonnull(next_line);
	g_assert_nonnull(strstr(next_line, "mneu"));
	g_assert_nonnull(type_line);
	g_assert_nonnull(strstr(type_line, "sya"));
}

static void
test_graph_check(Fixture *fx, gconstpointer data)
{
	ToolRun run = {0};
	g_auto(GStrv) lines = NULL;

	if (!have_graph_plugin())
		return;
	write_file(fx, "good.json", GOOD_FLOW);
	write_file(fx, "bad.json", BAD_FLOW);

	tool_run(fx, &run, TOOL_PLUGINS, NULL, "flow", "check", "good.json", NULL);
	g_assert_cmpint(run.status, ==, 0);
	g_assert_cmpstr(run.out, ==, "good.json: ok\n");

	/* every error, each on its own line with the file and the JSON path */
	tool_run(fx, &run, TOOL_PLUGINS, NULL, "flow", "check", "bad.json", NULL);
	g_assert_cmpint(run.status, ==, 1);
	assert_bad_flow_lines(run.out, "bad.json");
	lines = g_strsplit(run.out, "\n", -1);
	for (guint i = 0; lines[i] != NULL && lines[i][0] != '\0'; i++)
		g_assert_true(g_str_has_prefix(lines[i], "bad.json: "));
	tool_run_clear(&run);
}

/* several files at once: each reported, in order; one bad file fails the run */
static void
test_graph_check_several(Fixture *fx, gconstpointer data)
{
	ToolRun run = {0};
	g_autofree gchar *missing = NULL;
	g_autofree gchar *syntax = NULL;
	const gchar *good_at;
	const gchar *bad_at;

	if (!have_graph_plugin())
		return;
	write_file(fx, "good.json", GOOD_FLOW);
	write_file(fx, "bad.json", BAD_FLOW);
	write_file(fx, "good2.json", GOOD_FLOW);
	write_file(fx, "syntax.json", "{\"name\": \"x\",\n  \"start\": ,}");
	tool_run(fx,
		 &run,
		 TOOL_PLUGINS,
		 NULL,
		 "flow",
		 "check",
		 "good.json",
		 "bad.json",
		 "missing.json",
		 "syntax.json",
		 "good2.json",
		 NULL);
	g_assert_cmpint(run.status, ==, 1);
	good_at = strstr(run.out, "good.json: ok\n");
	bad_at = strstr(run.out, "bad.json: nodes.");
	g_assert_nonnull(good_at);
	g_assert_nonnull(bad_at);
	g_assert_true(good_at < bad_at);
	assert_bad_flow_lines(run.out, "bad.json");
	missing = find_line(run.out, "missing.json: cannot read the file");
	g_assert_nonnull(missing);
	/* a JSON syntax error: FILE:LINE:COLUMN, as compilers print it */
	syntax = find_line(run.out, "syntax.json:2:");
	g_assert_nonnull(syntax);
	g_assert_true(g_str_has_suffix(run.out, "good2.json: ok\n"));

	tool_run(fx, &run, TOOL_PLUGINS, NULL, "flow", "check", "good.json", "good2.json", NULL);
	g_assert_cmpint(run.status, ==, 0);
	g_assert_cmpstr(run.out, ==, "good.json: ok\ngood2.json: ok\n");
	tool_run_clear(&run);
}

static void
test_graph_check_json(Fixture *fx, gconstpointer data)
{
	ToolRun run = {0};
	g_autoptr(JsonNode) root = NULL;
	JsonArray *files;
	JsonObject *good;
	JsonObject *bad;
	JsonArray *errors;

	if (!have_graph_plugin())
		return;
	write_file(fx, "good.json", GOOD_FLOW);
	write_file(fx, "bad.json", BAD_FLOW);
	tool_run(fx,
		 &run,
		 TOOL_PLUGINS,
		 NULL,
		 "flow",
		 "check",
		 "--json",
		 "good.json",
		 "bad.json",
		 NULL);
	g_assert_cmpint(run.status, ==, 1);
	root = pal_test_json_parse(run.out);
	g_assert_nonnull(root);
	g_assert_true(JSON_NODE_HOLDS_ARRAY(root));
	files = json_node_get_array(root);
	g_assert_cmpuint(json_array_get_length(files), ==, 2);
	good = json_array_get_object_element(files, 0);
	bad = json_array_get_object_element(files, 1);
	g_assert_cmpstr(json_object_get_string_member(good, "file"), ==, "good.json");
	g_assert_true(json_object_get_boolean_member(good, "ok"));
	g_assert_cmpuint(json_array_get_length(json_object_get_array_member(good, "errors")),
			 ==,
			 0);
	g_assert_cmpstr(json_object_get_string_member(bad, "file"), ==, "bad.json");
	g_assert_false(json_object_get_boolean_member(bad, "ok"));
	errors = json_object_get_array_member(bad, "errors");
	g_assert_cmpuint(json_array_get_length(errors), >=, 2);
	for (guint i = 0; i < json_array_get_length(errors); i++)
		g_assert_true(g_str_has_prefix(json_array_get_string_element(errors, i), "nodes."));
	tool_run_clear(&run);
}

/* say → question with quick replies → switch; a quick reply by its number; /context; /reset */
static void
test_graph_chat(Fixture *fx, gconstpointer data)
{
	ToolRun run = {0};
	g_auto(GStrv) parts = NULL;
	g_autoptr(JsonNode) context = NULL;
	g_autoptr(JsonNode) fresh = NULL;
	JsonObject *obj;

	if (!have_graph_plugin())
		return;
	write_file(fx, "shop.json", GOOD_FLOW);
	tool_run(fx,
		 &run,
		 TOOL_PLUGINS,
		 "hello\n"
		 "1\n"
		 "---\n" /* not a quick reply: the flow starts over */
		 "/context\n"
		 "/reset\n"
		 "/context\n"
		 "hi again\n"
		 "2\n",
		 "chat",
		 "--flow",
		 "shop.json",
		 "--session",
		 "s1",
		 NULL);
	g_assert_cmpint(run.status, ==, 0);
	g_assert_cmpstr(run.err, ==, "");
	/* the transcript, cut at the (new session …) line and around the JSON of /context */
	parts = g_strsplit(run.out, "(new session ", 2);
	g_assert_cmpuint(g_strv_length(parts), ==, 2);
	g_assert_true(g_str_has_prefix(parts[0],
				       "bot> Hi!\n"
				       "bot> What do you need?\n"
				       "  [1] Order status   [2] Agent\n"
				       "bot> Your order is on its way.\n"
				       "bot> Hi!\n"
				       "bot> What do you need?\n"
				       "  [1] Order status   [2] Agent\n"));
	context = pal_test_json_parse(strchr(parts[0], '{'));
	g_assert_nonnull(context);
	obj = json_node_get_object(context);
	g_assert_cmpstr(json_object_get_string_member(obj, "request"), ==, "Order status");
	g_assert_true(json_object_has_member(obj, "tries"));

	/* a new session: fresh context; it starts at `start` again */
	g_assert_true(g_str_has_suffix(parts[1],
				       "bot> Hi!\n"
				       "bot> What do you need?\n"
				       "  [1] Order status   [2] Agent\n"
				       "bot> An agent will call you.\n"));
	{
		const gchar *open = strchr(parts[1], '{');
		const gchar *end = strstr(parts[1], "\nbot> Hi!");
		g_autofree gchar *json = NULL;

		g_assert_nonnull(open);
		g_assert_nonnull(end);
		json = g_strndup(open, (gsize)(end - open));
		fresh = pal_test_json_parse(json);
		g_assert_nonnull(fresh);
		g_assert_false(json_object_has_member(json_node_get_object(fresh), "request"));
	}
	tool_run_clear(&run);
}

/* the example flow shipped in data/flows passes */
static void
test_graph_check_demo(Fixture *fx, gconstpointer data)
{
	g_autofree gchar *demo =
	    g_build_filename(g_getenv("PALAVER_SOURCE_ROOT"), "data", "flows", "demo.json", NULL);
	ToolRun run = {0};
	g_autofree gchar *expected = NULL;

	if (!have_graph_plugin())
		return;
	if (!g_file_test(demo, G_FILE_TEST_EXISTS)) {
		g_test_skip("no data/flows/demo.json");
		return;
	}
	tool_run(fx, &run, TOOL_PLUGINS, NULL, "flow", "check", demo, NULL);
	expected = g_strdup_printf("%s: ok\n", demo);
	g_assert_cmpint(run.status, ==, 0);
	g_assert_cmpstr(run.out, ==, expected);
	tool_run_clear(&run);
}

/* chat refuses a broken flow with the errors of `flow check` */
static void
test_graph_chat_bad_flow(Fixture *fx, gconstpointer data)
{
	ToolRun run = {0};

	if (!have_graph_plugin())
		return;
	write_file(fx, "bad.json", BAD_FLOW);
	tool_run(fx, &run, TOOL_PLUGINS, "hello\n", "chat", "--flow", "bad.json", NULL);
	g_assert_cmpint(run.status, ==, 1);
	g_assert_cmpstr(run.out, ==, "");
	g_assert_nonnull(strstr(run.err, "cannot load the flow"));
	assert_bad_flow_lines(run.err, "bad.json");
	tool_run_clear(&run);
}

/* an endpoint whose flow is a graph flow, its file relative to the endpoint's folder */
static void
test_graph_chat_endpoint(Fixture *fx, gconstpointer data)
{
	ToolRun run = {0};

	if (!have_graph_plugin())
		return;
	write_file(fx, "shop.json", GOOD_FLOW);
	write_endpoint(fx,
		       "shop",
		       "chat-shop-token-000001",
		       "{\"type\":\"graph\",\"file\":\"shop.json\"}");
	tool_run(fx, &run, TOOL_PLUGINS, "hello\n2\n", "chat", "--endpoint", "ep.json", NULL);
	g_assert_cmpint(run.status, ==, 0);
	g_assert_cmpstr(run.out,
			==,
			"bot> Hi!\n"
			"bot> What do you need?\n"
			"  [1] Order status   [2] Agent\n"
			"bot> An agent will call you.\n");
	tool_run_clear(&run);
}

static void
add(const gchar *path, void (*func)(Fixture *, gconstpointer))
{
	g_test_add(path, Fixture, NULL, fixture_setup, func, fixture_teardown);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	add("/palaver/tool-flow/usage", test_usage);
	add("/palaver/tool-flow/missing-plugin", test_missing_plugin);
	add("/palaver/tool-flow/chat-nlu", test_chat_nlu);
	add("/palaver/tool-flow/chat-echo", test_chat_echo);
	add("/palaver/tool-flow/chat-commands", test_chat_commands);
	add("/palaver/tool-flow/chat-data-option", test_chat_data_option);
	add("/palaver/tool-flow/chat-timeout", test_chat_timeout);
	add("/palaver/tool-flow/chat-bad-endpoint", test_chat_bad_endpoint);
	add("/palaver/tool-flow/graph/check", test_graph_check);
	add("/palaver/tool-flow/graph/check-several", test_graph_check_several);
	add("/palaver/tool-flow/graph/check-json", test_graph_check_json);
	add("/palaver/tool-flow/graph/check-demo", test_graph_check_demo);
	add("/palaver/tool-flow/graph/chat", test_graph_chat);
	add("/palaver/tool-flow/graph/chat-bad-flow", test_graph_chat_bad_flow);
	add("/palaver/tool-flow/graph/chat-endpoint", test_graph_chat_endpoint);
	return g_test_run();
}
