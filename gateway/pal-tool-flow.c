/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pal-endpoint.h"
#include "pal-json-util.h"
#include "pal-plugin-registry.h"
#include "pal-tool-common.h"
#include "pal-tool-flow.h"
#include "pal-util.h"

/*
 * The flow authors' tools of palaver-tool (../shared/FLOWS.md):
 *
 *   palaver-tool flow check FILE…   load each flow with the `graph` flow plugin, exactly as an
 *                                   endpoint would, and print every error it reports
 *   palaver-tool chat …             talk to a flow in the terminal: each line of standard input
 *                                   is one input, the outputs are printed as a user sees them
 *
 * Both load the plugins the way palaverd does (--plugin-dir, else $PALAVER_PLUGIN_PATH, else
 * [Plugins] Directory of palaver.conf, else the installed directory) and create the flow through
 * the plugin registry, so that what they report is what the daemon would do. chat keeps the
 * session (a PalSession: context, profile, entry point) in memory between turns, as a session
 * lane of the daemon does, and runs each turn asynchronously in the default main context with a
 * deadline.
 */

enum {
	PAL_FLOW_EXIT_OK = 0,
	PAL_FLOW_EXIT_FAILURE = 1,
	PAL_FLOW_EXIT_USAGE = 2,
};

/* the plugin `flow check` and `chat --flow` load flow files with */
#define PAL_FLOW_GRAPH_PLUGIN "graph"

/* chat: the default and largest turn deadline, and the webhook's text limit (DESIGN.md §1.1) */
#define PAL_CHAT_DEFAULT_TIMEOUT 30
#define PAL_CHAT_MAX_TIMEOUT	 3600
#define PAL_CHAT_MAX_TEXT_CHARS	 10000
/* --data and /data: the webhook's body limits */
#define PAL_CHAT_MAX_DATA_SIZE	(1024 * 1024)
#define PAL_CHAT_MAX_DATA_DEPTH 64

/* the transcript format (README): the lines of an output and of the quick replies */
#define PAL_CHAT_INDENT "     "

/* --- plugins, as palaverd loads them (pal-tool-common.c) --- */

/* the --config of `flow check` and `chat` */
#define PAL_FLOW_CONFIG_DESCRIPTION                                                                \
	N_("Take the plugin and data directories from this palaver.conf "                          \
	   "(default: " PAL_SYSCONFDIR "/palaver.conf when it exists)")

/* a clear error when flow plugin @name did not load: where it was looked for, and why it was
 * refused if it was */
static gboolean
pal_tool_env_require_flow(PalToolEnv *env, const gchar *name, GError **error)
{
	g_autofree gchar *refusal = NULL;

	if (pal_plugin_registry_lookup(env->registry, PAL_PLUGIN_KIND_FLOW, name) != G_TYPE_INVALID)
		return TRUE;
	refusal = pal_tool_env_refusal(env, name);
	if (refusal != NULL) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_NOT_FOUND,
			    _("the “%s” flow plugin was refused: %s"),
			    name,
			    refusal);
		return FALSE;
	}
	g_set_error(error,
		    G_IO_ERROR,
		    G_IO_ERROR_NOT_FOUND,
		    _("the “%s” flow plugin is not installed in %s (give another plugin directory "
		      "with --plugin-dir or $PALAVER_PLUGIN_PATH)"),
		    name,
		    env->plugin_path);
	return FALSE;
}

/* the flow instance for @options, or NULL with the plugin's own message */
static PalFlow *
pal_tool_env_create_flow(PalToolEnv *env,
			 const gchar *type,
			 PalEndpointInfo *info,
			 JsonObject *options,
			 GError **error)
{
	GObject *obj = pal_tool_env_create(env, PAL_PLUGIN_KIND_FLOW, type, info, options, error);

	return obj != NULL ? PAL_FLOW(obj) : NULL;
}

/* the file's folder, for an endpoint view whose relative paths resolve next to the flow */
static PalEndpointInfo *
pal_tool_flow_file_info(const gchar *name, const gchar *abs_path, const gchar *data_dir)
{
	g_autofree gchar *dir = g_path_get_dirname(abs_path);

	return pal_endpoint_info_new(name, NULL, dir, data_dir, FALSE);
}

/* the graph flow of @abs_path, or NULL with every error the plugin reported (one a line) */
static PalFlow *
pal_tool_flow_load_graph(PalToolEnv *env,
			 const gchar *name,
			 const gchar *abs_path,
			 PalEndpointInfo **info_out,
			 GError **error)
{
	g_autoptr(PalEndpointInfo) info = pal_tool_flow_file_info(name, abs_path, env->data_dir);
	g_autoptr(JsonObject) options = json_object_new();
	PalFlow *flow;
	int fd;

	/* a missing or unreadable file is said in the same words whatever the plugin would say */
	fd = g_open(abs_path, O_RDONLY, 0);
	if (fd < 0) {
		int saved_errno = errno;
		g_set_error(error,
			    G_IO_ERROR,
			    g_io_error_from_errno(saved_errno),
			    _("cannot read the file: %s"),
			    g_strerror(saved_errno));
		return NULL;
	}
	close(fd);
	if (!g_file_test(abs_path, G_FILE_TEST_IS_REGULAR)) {
		g_set_error_literal(error,
				    G_IO_ERROR,
				    G_IO_ERROR_NOT_REGULAR_FILE,
				    _("not a regular file"));
		return NULL;
	}
	json_object_set_string_member(options, "file", abs_path);
	flow = pal_tool_env_create_flow(env, PAL_FLOW_GRAPH_PLUGIN, info, options, error);
	if (flow != NULL && info_out != NULL)
		*info_out = g_steal_pointer(&info);
	return flow;
}

/* the errors in a plugin's message about flow file @abs_path, one a line, without the file's
 * name (the caller puts the name the user gave in front): the graph plugin sends a header line
 * "flow.file: PATH:" and then one line per problem, "JSON path: message", or
 * "PATH:LINE:COLUMN: message" for a JSON syntax error */
static GStrv
pal_tool_error_lines(const gchar *message, const gchar *abs_path)
{
	g_auto(GStrv) lines = g_strsplit(message, "\n", -1);
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
	g_autofree gchar *header = g_strdup_printf("flow.file: %s:", abs_path);
	g_autofree gchar *own = g_strdup_printf("%s:", abs_path);
	guint first = 0;

	for (guint i = 0; lines[i] != NULL; i++)
		g_strchomp(lines[i]);
	if (lines[0] != NULL && g_str_equal(lines[0], header) && lines[1] != NULL)
		first = 1;
	for (guint i = first; lines[i] != NULL; i++) {
		const gchar *line = lines[i];

		if (g_str_has_prefix(line, own)) {
			line += strlen(own);
			while (*line == ' ')
				line++;
		}
		if (line[0] != '\0')
			g_strv_builder_add(builder, line);
	}
	return g_strv_builder_end(builder);
}

/* "FILE: error", or "FILE:LINE:COLUMN: error" as compilers print positions, for editors */
static void
pal_tool_print_error_line(FILE *out, const gchar *shown, const gchar *error)
{
	g_autofree gchar *printable = pal_printable(error, FALSE);

	fprintf(out, "%s:%s%s\n", shown, g_ascii_isdigit(printable[0]) ? "" : " ", printable);
}

/* ---------------------------------------------------------------------------------------- */
/* flow check */

static gint
pal_tool_flow_check(PalToolEnv *env, gchar **files, gboolean json)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	gboolean all_ok = TRUE;

	json_builder_begin_array(builder);
	for (guint i = 0; files[i] != NULL; i++) {
		const gchar *file = files[i];
		g_autofree gchar *abs_path = g_canonicalize_filename(file, NULL);
		g_autoptr(GError) error = NULL;
		g_autoptr(PalFlow) flow = NULL;
		g_auto(GStrv) lines = NULL;
		g_autofree gchar *shown = pal_printable(file, FALSE);

		flow = pal_tool_flow_load_graph(env, "flow-check", abs_path, NULL, &error);
		if (flow == NULL) {
			lines = pal_tool_error_lines(error->message, abs_path);
			all_ok = FALSE;
		}
		/* a plugin that refuses a flow without saying why still fails it */
		if (lines != NULL && lines[0] == NULL) {
			g_strfreev(lines);
			lines = g_new0(gchar *, 2);
			lines[0] = g_strdup(_("refused by the flow plugin, without a reason"));
		}

		json_builder_begin_object(builder);
		json_builder_set_member_name(builder, "file");
		json_builder_add_string_value(builder, file);
		json_builder_set_member_name(builder, "ok");
		json_builder_add_boolean_value(builder, flow != NULL);
		json_builder_set_member_name(builder, "errors");
		json_builder_begin_array(builder);
		for (guint j = 0; lines != NULL && lines[j] != NULL; j++)
			json_builder_add_string_value(builder, lines[j]);
		json_builder_end_array(builder);
		json_builder_end_object(builder);

		if (json)
			continue;
		if (flow != NULL) {
			/* "ok" is a result, not a sentence: scripts grep for it */
			g_print("%s: ok\n", shown);
			continue;
		}
		for (guint j = 0; lines[j] != NULL; j++)
			pal_tool_print_error_line(stdout, shown, lines[j]);
	}
	json_builder_end_array(builder);
	if (json) {
		g_autoptr(JsonNode) root = json_builder_get_root(builder);
		g_autofree gchar *text = pal_json_to_string(root, TRUE);
		g_print("%s\n", text);
	}
	return all_ok ? PAL_FLOW_EXIT_OK : PAL_FLOW_EXIT_FAILURE;
}

gint
pal_tool_flow(gint argc, gchar **argv)
{
	gboolean json = FALSE;
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GError) error = NULL;
	g_auto(PalToolPlugins) opts = {0};
	g_auto(PalToolEnv) env = {0};
	gint status;
	const GOptionEntry entries[] = {
	    {"json",
	     0,
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_NONE,
	     &json,
	     N_("check: print a JSON array of {\"file\", \"ok\", \"errors\"}, one object per file"),
	     NULL},
	    {NULL},
	};

	context = g_option_context_new(_("check FILE…"));
	g_option_context_set_translation_domain(context, GETTEXT_PACKAGE);
	g_option_context_set_summary(
	    context,
	    _("Tools for the flow files of the graph flow plugin.\n\n"
	      "  check    load each FILE with the graph plugin, as an endpoint would, and print "
	      "“FILE: ok” or every error found, one a line: “FILE: JSON path: what is wrong”"));
	g_option_context_set_description(
	    context,
	    _("Relative paths inside a flow resolve against the flow file's folder.\n\n"
	      "Exit status: 0 when every flow is ok, 1 when a flow has errors or the graph plugin "
	      "cannot be loaded, 2 on a usage error."));
	g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
	pal_tool_plugins_add_entries(context, &opts, PAL_FLOW_CONFIG_DESCRIPTION);
	if (!g_option_context_parse(context, &argc, &argv, &error))
		return pal_tool_usage_error("flow", error->message);
	if (argc < 2)
		return pal_tool_usage_error("flow", _("missing the action: check"));
	if (g_strcmp0(argv[1], "check") != 0) {
		g_autofree gchar *msg =
		    g_strdup_printf(_("unknown action “%s” (expected check)"), argv[1]);

		return pal_tool_usage_error("flow", msg);
	}
	if (argc < 3)
		return pal_tool_usage_error("flow", _("check: give one or more flow files"));

	if (!pal_tool_env_init(&env, &opts, "flow", PAL_TOOL_ENV_FLAG_SYSTEM_CONFIG, &error) ||
	    !pal_tool_env_require_flow(&env, PAL_FLOW_GRAPH_PLUGIN, &error)) {
		g_printerr("palaver-tool flow: %s\n", error->message);
		return PAL_FLOW_EXIT_FAILURE;
	}
	status = pal_tool_flow_check(&env, argv + 2, json);
	if (fflush(stdout) != 0) {
		g_printerr(_("palaver-tool flow: cannot write the output\n"));
		status = PAL_FLOW_EXIT_FAILURE;
	}
	return status;
}

/* ---------------------------------------------------------------------------------------- */
/* chat */

typedef struct {
	PalFlow *flow;
	PalNlu *nlu; /* nullable: the endpoint's NLU or --nlu */
	gboolean show_nlu;
	PalEndpointInfo *info;
	PalSession *session;
	gchar *user_id;
	JsonObject *default_data; /* --data, or NULL */
	guint timeout_s;
	GPtrArray *payloads; /* gchar*: the quick replies on screen, [1] = index 0 */
	gboolean handover_seen;
} PalChat;

/* one turn; shared with the flow (through the PalTurn) until it calls back, which may be after
 * the chat gave up on it */
typedef struct {
	gint ref_count;
	GMainLoop *loop;
	GPtrArray *payloads; /* the quick replies of this turn's outputs, numbered across them */
	guint n_outputs;
	gboolean done;
	gboolean abandoned; /* the deadline passed: outputs and result are dropped */
	GError *error;
} PalChatRun;

static PalChatRun *
pal_chat_run_ref(PalChatRun *run)
{
	g_atomic_int_inc(&run->ref_count);
	return run;
}

static void
pal_chat_run_unref(gpointer data)
{
	PalChatRun *run = data;

	if (!g_atomic_int_dec_and_test(&run->ref_count))
		return;
	g_main_loop_unref(run->loop);
	g_ptr_array_unref(run->payloads);
	g_clear_error(&run->error);
	g_free(run);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PalChatRun, pal_chat_run_unref)

/* @object's member @name when it is an object */
static JsonObject *
pal_chat_object_member(JsonObject *object, const gchar *name)
{
	JsonNode *node = object != NULL ? json_object_get_member(object, name) : NULL;

	return node != NULL && JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
}

/* takes data._cognigy._default._quickReplies out of a copy of @data: appends the titles to
 * @titles and their payloads (the title when a reply has none) to @payloads; returns what is
 * left, or NULL when nothing is */
static JsonObject *
pal_chat_split_quick_replies(JsonObject *data, GPtrArray *titles, GPtrArray *payloads)
{
	g_autoptr(JsonObject) rest = pal_json_object_deep_copy(data);
	JsonObject *cognigy = pal_chat_object_member(rest, "_cognigy");
	JsonObject *def = pal_chat_object_member(cognigy, "_default");
	JsonObject *quick = pal_chat_object_member(def, "_quickReplies");
	JsonNode *replies = quick != NULL ? json_object_get_member(quick, "quickReplies") : NULL;

	if (replies == NULL || !JSON_NODE_HOLDS_ARRAY(replies))
		return json_object_get_size(rest) > 0 ? g_steal_pointer(&rest) : NULL;
	for (guint i = 0; i < json_array_get_length(json_node_get_array(replies)); i++) {
		JsonNode *reply = json_array_get_element(json_node_get_array(replies), i);
		JsonObject *obj = JSON_NODE_HOLDS_OBJECT(reply) ? json_node_get_object(reply)
								: NULL;
		JsonNode *title = obj != NULL ? json_object_get_member(obj, "title") : NULL;
		JsonNode *payload = obj != NULL ? json_object_get_member(obj, "payload") : NULL;

		if (title == NULL || json_node_get_value_type(title) != G_TYPE_STRING)
			continue;
		g_ptr_array_add(titles, g_strdup(json_node_get_string(title)));
		if (payload != NULL && json_node_get_value_type(payload) == G_TYPE_STRING)
			g_ptr_array_add(payloads, g_strdup(json_node_get_string(payload)));
		else
			g_ptr_array_add(payloads, g_strdup(json_node_get_string(title)));
	}
	/* the quick replies are shown as a list, their envelope as nothing */
	json_object_remove_member(def, "_quickReplies");
	if (json_object_get_size(def) == 0)
		json_object_remove_member(cognigy, "_default");
	if (json_object_get_size(cognigy) == 0)
		json_object_remove_member(rest, "_cognigy");
	return json_object_get_size(rest) > 0 ? g_steal_pointer(&rest) : NULL;
}

/*
 * One output, as a user would see it (the stable format of the README):
 *   bot> TEXT                the source ("bot", "agent", "system", "notify"), "> ", the text
 *                             or "(no text)"; further lines of the text indented by 5 spaces
 *        {"compact":"json"}  data other than the quick replies, when there is any
 *     [1] Title   [2] Title  the quick replies, numbered across the turn's outputs
 */
static void
pal_chat_print_output(PalChatRun *run, PalOutput *output)
{
	g_autoptr(GString) str = g_string_new(NULL);
	g_autoptr(GPtrArray) titles = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(JsonObject) rest = NULL;
	const gchar *text = pal_output_get_text(output);
	JsonObject *data = pal_output_get_data(output);

	if (data != NULL)
		rest = pal_chat_split_quick_replies(data, titles, run->payloads);
	g_string_append_printf(str,
			       "%s> ",
			       pal_output_source_to_string(pal_output_get_source(output)));
	if (text != NULL) {
		g_autofree gchar *printable = pal_printable(text, TRUE);
		g_auto(GStrv) lines = g_strsplit(printable, "\n", -1);

		for (guint i = 0; lines[i] != NULL; i++)
			g_string_append_printf(str,
					       "%s%s\n",
					       i > 0 ? PAL_CHAT_INDENT : "",
					       lines[i]);
	} else {
		g_string_append_printf(str, "%s\n", _("(no text)"));
	}
	if (rest != NULL) {
		g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
		g_autofree gchar *json = NULL;

		json_node_set_object(node, rest);
		json = pal_json_to_string(node, FALSE);
		g_string_append_printf(str, PAL_CHAT_INDENT "%s\n", json);
	}
	if (titles->len > 0) {
		guint first = run->payloads->len - titles->len;

		g_string_append(str, " ");
		for (guint i = 0; i < titles->len; i++) {
			g_autofree gchar *title =
			    pal_printable(g_ptr_array_index(titles, i), FALSE);
			g_string_append_printf(str,
					       "%s[%u] %s",
					       i > 0 ? "   " : " ",
					       first + i + 1,
					       title);
		}
		g_string_append_c(str, '\n');
	}
	fputs(str->str, stdout);
	fflush(stdout);
}

/* outputs are printed as the flow emits them: a slow step shows up as a pause */
static void
pal_chat_emit_cb(PalTurn *turn, PalOutput *output, guint index, gpointer user_data)
{
	PalChatRun *run = user_data;

	if (run->abandoned)
		return;
	run->n_outputs++;
	pal_chat_print_output(run, output);
}

static void
pal_chat_run_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(PalChatRun) run = user_data;

	pal_flow_run_finish(PAL_FLOW(source), res, &run->error);
	run->done = TRUE;
	if (!run->abandoned)
		g_main_loop_quit(run->loop);
}

static gboolean
pal_chat_deadline_cb(gpointer user_data)
{
	GMainLoop *loop = user_data;

	g_main_loop_quit(loop);
	return G_SOURCE_REMOVE;
}

static void
pal_chat_error(const gchar *message)
{
	g_autofree gchar *printable = pal_printable(message, TRUE);

	/* after the outputs already printed, in a terminal and in a transcript */
	fflush(stdout);
	g_printerr("error: %s\n", printable);
}

/* the request body the daemon would have received */
static JsonObject *
pal_chat_body(PalChat *chat, const gchar *text, JsonObject *data)
{
	JsonObject *body = json_object_new();

	json_object_set_string_member(body, "userId", chat->user_id);
	json_object_set_string_member(body, "sessionId", pal_session_get_session_id(chat->session));
	if (text != NULL)
		json_object_set_string_member(body, "text", text);
	if (data != NULL)
		json_object_set_object_member(body, "data", pal_json_object_deep_copy(data));
	return body;
}

static void
pal_chat_nlu_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GAsyncResult **out = user_data;

	*out = g_object_ref(res);
}

/* like palaverd: the NLU before the flow; a failure is said and the turn goes on */
static void
pal_chat_understand(PalChat *chat, PalMessage *message)
{
	g_autoptr(GAsyncResult) res = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(PalNluResult) result = NULL;
	const gchar *text = pal_message_get_text(message);

	if (chat->nlu == NULL || text == NULL || text[0] == '\0')
		return;
	pal_nlu_parse_async(chat->nlu, text, pal_endpoint_info_get_locale(chat->info), NULL, pal_chat_nlu_cb, &res);
	while (res == NULL)
		g_main_context_iteration(NULL, TRUE);
	result = pal_nlu_parse_finish(chat->nlu, res, &error);
	if (result == NULL) {
		g_autofree gchar *msg = g_strdup_printf(_("NLU: %s"), error->message);
		pal_chat_error(msg);
		return;
	}
	pal_message_set_nlu_result(message, result);
	if (chat->show_nlu) {
		g_autoptr(JsonNode) node = pal_nlu_result_to_json(result);
		g_autofree gchar *json = json_to_string(node, FALSE);
		g_print("  nlu: %s\n", json);
	}
}

/* one turn, to its end or its deadline; @data is (transfer none) */
static void
pal_chat_send(PalChat *chat, const gchar *text, JsonObject *data)
{
	g_autoptr(JsonObject) body = pal_chat_body(chat, text, data);
	g_autoptr(JsonObject) data_copy = data != NULL ? pal_json_object_deep_copy(data) : NULL;
	g_autoptr(PalMessage) message = pal_message_new(PAL_MESSAGE_KIND_USER,
							NULL,
							chat->user_id,
							pal_session_get_session_id(chat->session),
							text,
							data_copy,
							body);
	g_autoptr(PalChatRun) run = g_new0(PalChatRun, 1);
	g_autoptr(PalTurn) turn = NULL;
	g_autoptr(GCancellable) cancellable = g_cancellable_new();
	g_autoptr(GSource) deadline = NULL;

	run->ref_count = 1;
	run->loop = g_main_loop_new(NULL, FALSE);
	run->payloads = g_ptr_array_new_with_free_func(g_free);
	pal_message_set_received_at(message, g_get_real_time());
	pal_chat_understand(chat, message);
	turn = pal_turn_new(chat->info,
			    chat->session,
			    message,
			    pal_chat_emit_cb,
			    pal_chat_run_ref(run),
			    pal_chat_run_unref);

	deadline = g_timeout_source_new_seconds(chat->timeout_s);
	g_source_set_callback(deadline, pal_chat_deadline_cb, run->loop, NULL);
	g_source_attach(deadline, NULL);
	pal_flow_run_async(chat->flow, turn, cancellable, pal_chat_run_cb, pal_chat_run_ref(run));
	if (!run->done)
		g_main_loop_run(run->loop);
	g_source_destroy(deadline);

	if (!run->done) {
		g_autofree gchar *msg = NULL;

		/* like palaverd: the flow is cancelled, the session goes on without it, and what
		 * it still produces is dropped */
		g_cancellable_cancel(cancellable);
		run->abandoned = TRUE;
		msg = g_strdup_printf(ngettext("the flow did not finish its turn within %u second",
					       "the flow did not finish its turn within %u seconds",
					       chat->timeout_s),
				      chat->timeout_s);
		pal_chat_error(msg);
	} else if (run->error != NULL) {
		pal_chat_error(run->error->message);
	}
	pal_session_add_turn(chat->session);
	pal_session_touch(chat->session, g_get_real_time());

	/* the numbers refer to the quick replies on screen: the last turn's that showed some
	 * output */
	if (run->n_outputs > 0) {
		g_ptr_array_set_size(chat->payloads, 0);
		for (guint i = 0; i < run->payloads->len; i++)
			g_ptr_array_add(chat->payloads,
					g_strdup(g_ptr_array_index(run->payloads, i)));
	}
	if (pal_session_get_handover_active(chat->session) && !chat->handover_seen) {
		g_print("%s\n",
			_("(the flow handed the conversation to a human agent; chat has no agents "
			  "and keeps sending your input to the flow)"));
		fflush(stdout);
	}
	chat->handover_seen = pal_session_get_handover_active(chat->session);
}

static void
pal_chat_print_json_object(JsonObject *object)
{
	g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
	g_autofree gchar *text = NULL;

	json_node_set_object(node, object);
	text = pal_json_to_string(node, TRUE);
	g_print("%s\n", text);
	fflush(stdout);
}

/* a new conversation of the same user: fresh context and entry point, the same profile */
static void
pal_chat_reset(PalChat *chat)
{
	g_autofree gchar *session_id = g_uuid_string_random();
	PalSession *session =
	    pal_session_new(pal_endpoint_info_get_name(chat->info), chat->user_id, session_id);

	pal_session_set_profile(session, pal_session_get_profile(chat->session));
	g_object_unref(chat->session);
	chat->session = session;
	chat->handover_seen = FALSE;
	g_ptr_array_set_size(chat->payloads, 0);
	g_print(_("(new session %s)\n"), session_id);
	fflush(stdout);
}

static void
pal_chat_print_help(void)
{
	g_print("%s\n",
		_("Each line is one input: its text goes to the flow, and the flow's outputs are "
		  "printed.\n"
		  "  1, 2, …       send the payload of that quick reply of the last answer\n"
		  "  /data JSON    send an input with only data (a JSON object)\n"
		  "  /context      print the session context\n"
		  "  /profile      print the user's contact profile\n"
		  "  /reset        start a new session (fresh context; the profile stays)\n"
		  "  /help         print this help\n"
		  "  /quit         leave (so does the end of the input, Ctrl-D)\n"
		  "  //text        send “/text”"));
	fflush(stdout);
}

/* @data: JSON text; a JSON object or NULL with an error */
static JsonObject *
pal_chat_parse_data(const gchar *data, const gchar *origin, GError **error)
{
	g_autoptr(JsonNode) node = pal_json_parse_bounded(data,
							  strlen(data),
							  PAL_CHAT_MAX_DATA_SIZE,
							  PAL_CHAT_MAX_DATA_DEPTH,
							  origin,
							  error);

	if (node == NULL)
		return NULL;
	if (!JSON_NODE_HOLDS_OBJECT(node)) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_INVALID_DATA,
			    _("%s: expected a JSON object"),
			    origin);
		return NULL;
	}
	return json_object_ref(json_node_get_object(node));
}

/* the number of a quick reply on screen: its payload, else NULL */
static const gchar *
pal_chat_quick_reply(PalChat *chat, const gchar *line)
{
	guint64 n = 0;

	if (chat->payloads->len == 0 ||
	    !g_ascii_string_to_unsigned(line, 10, 1, chat->payloads->len, &n, NULL))
		return NULL;
	return g_ptr_array_index(chat->payloads, (guint)n - 1);
}

/* one line of input; FALSE to leave */
static gboolean
pal_chat_handle_line(PalChat *chat, gchar *line)
{
	g_autofree gchar *trimmed = g_strstrip(g_strdup(line));
	const gchar *payload;

	if (trimmed[0] == '\0')
		return TRUE;
	if (trimmed[0] == '/' && trimmed[1] != '/') {
		const gchar *arg = trimmed + strcspn(trimmed, " \t");
		g_autofree gchar *command = g_strndup(trimmed, (gsize)(arg - trimmed));

		while (*arg == ' ' || *arg == '\t')
			arg++;
		if (g_str_equal(command, "/quit"))
			return FALSE;
		if (g_str_equal(command, "/help")) {
			pal_chat_print_help();
		} else if (g_str_equal(command, "/reset")) {
			pal_chat_reset(chat);
		} else if (g_str_equal(command, "/context")) {
			pal_chat_print_json_object(pal_session_get_context(chat->session));
		} else if (g_str_equal(command, "/profile")) {
			pal_chat_print_json_object(pal_session_get_profile(chat->session));
		} else if (g_str_equal(command, "/data")) {
			g_autoptr(GError) error = NULL;
			g_autoptr(JsonObject) data = NULL;

			if (*arg == '\0') {
				pal_chat_error(
				    _("/data needs a JSON object, e.g. /data {\"key\": 1}"));
				return TRUE;
			}
			data = pal_chat_parse_data(arg, "/data", &error);
			if (data == NULL) {
				pal_chat_error(error->message);
				return TRUE;
			}
			pal_chat_send(chat, NULL, data);
		} else {
			g_autofree gchar *msg =
			    g_strdup_printf(_("unknown command %s (/help lists them; //text sends "
					      "a text starting with “/”)"),
					    command);
			pal_chat_error(msg);
		}
		return TRUE;
	}

	payload = pal_chat_quick_reply(chat, trimmed);
	if (payload != NULL) {
		pal_chat_send(chat, payload, chat->default_data);
		return TRUE;
	}
	/* the text as typed (only the line end removed), one "/" less for "//text" */
	if (line[0] == '/' && line[1] == '/')
		line++;
	if (g_utf8_strlen(line, -1) > PAL_CHAT_MAX_TEXT_CHARS) {
		g_autofree gchar *msg = g_strdup_printf(
		    _("the text is longer than %d characters, the limit of the webhook"),
		    PAL_CHAT_MAX_TEXT_CHARS);
		pal_chat_error(msg);
		return TRUE;
	}
	pal_chat_send(chat, line, chat->default_data);
	return TRUE;
}

static void
pal_chat_loop(PalChat *chat, gboolean interactive)
{
	gchar *line = NULL;
	size_t cap = 0;

	for (;;) {
		ssize_t n;

		if (interactive) {
			fputs("you> ", stdout);
			fflush(stdout);
		}
		n = getline(&line, &cap, stdin);
		if (n < 0) {
			if (interactive)
				fputc('\n', stdout);
			break;
		}
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if ((size_t)n != strlen(line) || !g_utf8_validate(line, n, NULL)) {
			pal_chat_error(_("the line is not valid UTF-8 text; it was not sent"));
			continue;
		}
		if (!pal_chat_handle_line(chat, line))
			break;
	}
	free(line);
	fflush(stdout);
}

/* what the daemon does around the flow that chat does not: said once, at the start */
static void
pal_chat_note_endpoint(PalEndpoint *endpoint)
{
	if (json_array_get_length(pal_endpoint_get_transformers(endpoint)) > 0)
		g_printerr(_("note: chat does not run the endpoint's transformers\n"));
	if (pal_endpoint_get_handover_type(endpoint) != NULL)
		g_printerr(_("note: chat does not run the endpoint's handover plugin (“%s”)\n"),
			   pal_endpoint_get_handover_type(endpoint));
}

static void
pal_chat_clear(PalChat *chat)
{
	g_clear_object(&chat->flow);
	g_clear_object(&chat->nlu);
	g_clear_object(&chat->info);
	g_clear_object(&chat->session);
	g_clear_pointer(&chat->user_id, g_free);
	g_clear_pointer(&chat->default_data, json_object_unref);
	g_clear_pointer(&chat->payloads, g_ptr_array_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(PalChat, pal_chat_clear)

/* chat->flow and chat->info from --flow or --endpoint; errors are printed. @shown: what the
 * banner calls the flow */
static gboolean
pal_chat_load_flow(PalChat *chat,
		   PalToolEnv *env,
		   const gchar *flow_file,
		   const gchar *endpoint_file,
		   gchar **shown)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(PalEndpoint) endpoint = NULL;
	g_autofree gchar *endpoint_shown = NULL;

	if (flow_file != NULL) {
		g_autofree gchar *abs_path = g_canonicalize_filename(flow_file, NULL);

		*shown = pal_printable(flow_file, FALSE);
		if (!pal_tool_env_require_flow(env, PAL_FLOW_GRAPH_PLUGIN, &error)) {
			g_printerr("palaver-tool chat: %s\n", error->message);
			return FALSE;
		}
		chat->flow = pal_tool_flow_load_graph(env, "chat", abs_path, &chat->info, &error);
		if (chat->flow == NULL) {
			/* the format of `flow check`, so that editors jump to the same places */
			g_auto(GStrv) lines = pal_tool_error_lines(error->message, abs_path);

			g_printerr(_("palaver-tool chat: cannot load the flow:\n"));
			for (guint i = 0; lines[i] != NULL; i++)
				pal_tool_print_error_line(stderr, *shown, lines[i]);
			return FALSE;
		}
		return TRUE;
	}

	endpoint_shown = pal_printable(endpoint_file, FALSE);
	endpoint = pal_endpoint_new_from_file(endpoint_file, env->data_dir, &error);
	if (endpoint == NULL) {
		g_printerr("palaver-tool chat: %s\n", error->message);
		return FALSE;
	}
	*shown = g_strdup_printf(_("endpoint %s"), pal_endpoint_get_name(endpoint));
	if (!pal_tool_env_require_flow(env, pal_endpoint_get_flow_type(endpoint), &error)) {
		g_printerr("palaver-tool chat: %s: %s\n", endpoint_shown, error->message);
		return FALSE;
	}
	chat->info = g_object_ref(pal_endpoint_get_info(endpoint));
	chat->flow = pal_tool_env_create_flow(env,
					      pal_endpoint_get_flow_type(endpoint),
					      chat->info,
					      pal_endpoint_get_flow_options(endpoint),
					      &error);
	if (chat->flow == NULL) {
		g_printerr("palaver-tool chat: %s: %s\n", endpoint_shown, error->message);
		return FALSE;
	}
	if (pal_endpoint_get_nlu_type(endpoint) != NULL) {
		g_autoptr(JsonObject) options = pal_json_object_deep_copy(pal_endpoint_get_nlu_options(endpoint));
		GObject *nlu = pal_plugin_registry_create(env->registry,
							  PAL_PLUGIN_KIND_NLU,
							  pal_endpoint_get_nlu_type(endpoint),
							  chat->info,
							  options,
							  &error);
		if (nlu == NULL) {
			g_printerr("palaver-tool chat: %s: %s\n", endpoint_shown, error->message);
			return FALSE;
		}
		chat->nlu = PAL_NLU(nlu);
	}
	pal_chat_note_endpoint(endpoint);
	return TRUE;
}

/* --nlu MODEL: the intents plugin with that model */
static gboolean
pal_chat_load_nlu(PalChat *chat, PalToolEnv *env, const gchar *model)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonObject) options = json_object_new();
	g_autofree gchar *abs_path = g_canonicalize_filename(model, NULL);
	GObject *nlu;

	json_object_set_string_member(options, "model", abs_path);
	g_clear_object(&chat->nlu);
	nlu = pal_plugin_registry_create(env->registry, PAL_PLUGIN_KIND_NLU, "intents", chat->info, options, &error);
	if (nlu == NULL) {
		g_printerr("palaver-tool chat: --nlu %s: %s\n", model, error->message);
		return FALSE;
	}
	chat->nlu = PAL_NLU(nlu);
	return TRUE;
}

/* a userId / sessionId as the webhook accepts them */
static gboolean
pal_chat_id_valid(const gchar *id)
{
	return id == NULL ||
	       (id[0] != '\0' && g_utf8_validate(id, -1, NULL) && g_utf8_strlen(id, -1) <= 256);
}

gint
pal_tool_chat(gint argc, gchar **argv)
{
	g_autofree gchar *flow_file = NULL;
	g_autofree gchar *endpoint_file = NULL;
	g_autofree gchar *user_id = NULL;
	g_autofree gchar *session_id = NULL;
	g_autofree gchar *data = NULL;
	g_autofree gchar *nlu = NULL;
	gboolean show_nlu = FALSE;
	gint timeout = PAL_CHAT_DEFAULT_TIMEOUT;
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *shown = NULL;
	gboolean interactive;
	g_auto(PalToolPlugins) opts = {0};
	g_auto(PalToolEnv) env = {0};
	g_auto(PalChat) chat = {0};
	const GOptionEntry entries[] = {
	    {"flow",
	     'f',
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_FILENAME,
	     &flow_file,
	     N_("Chat with this flow file of the graph flow plugin"),
	     N_("FILE")},
	    {"endpoint",
	     'e',
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_FILENAME,
	     &endpoint_file,
	     N_("Chat with the flow this endpoint file configures (any flow plugin)"),
	     N_("FILE")},
	    {"user",
	     'u',
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_STRING,
	     &user_id,
	     N_("The userId of the inputs (default “chat-user”)"),
	     N_("ID")},
	    {"session",
	     's',
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_STRING,
	     &session_id,
	     N_("The sessionId of the first session (default: a new UUID)"),
	     N_("ID")},
	    {"show-nlu",
	     0,
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_NONE,
	     &show_nlu,
	     N_("Print what the NLU made of each input"),
	     NULL},
	    {"data",
	     'd',
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_STRING,
	     &data,
	     N_("A JSON object sent as the data of every text input"),
	     N_("JSON")},
	    {"timeout",
	     't',
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_INT,
	     &timeout,
	     N_("Cancel a turn that takes longer than SECONDS (default 30)"),
	     N_("SECONDS")},
	    {"nlu",
	     0,
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_FILENAME,
	     &nlu,
	     N_("Run the inputs through this intents NLU model first (instead of the endpoint's NLU)"),
	     N_("MODEL")},
	    {NULL},
	};

	context = g_option_context_new(NULL);
	g_option_context_set_translation_domain(context, GETTEXT_PACKAGE);
	g_option_context_set_summary(
	    context,
	    _("Chat with a flow in the terminal, without palaverd: each line of standard input is "
	      "one input (its text), and the flow's outputs are printed as a user sees them. The "
	      "session (context, profile, entry point) is kept in memory from turn to turn. "
	      "Type /help for the commands."));
	g_option_context_set_description(
	    context,
	    _("Output, one block per output of the flow:\n"
	      "  bot> TEXT            the text (“(no text)” when there is none)\n"
	      "       {\"key\":1}       its data other than quick replies, as compact JSON\n"
	      "    [1] Yes   [2] No   its quick replies: type a number to send its payload\n"
	      "Flow errors go to standard error as “error: …”, and the chat goes on. The "
	      "prompt “you> ” is shown only when standard input is a terminal.\n\n"
	      "Exit status: 0 after /quit or the end of the input, 1 when the flow cannot be "
	      "loaded, 2 on a usage error."));
	g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
	pal_tool_plugins_add_entries(context, &opts, PAL_FLOW_CONFIG_DESCRIPTION);
	if (!g_option_context_parse(context, &argc, &argv, &error))
		return pal_tool_usage_error("chat", error->message);
	if (argc > 1) {
		g_autofree gchar *msg = g_strdup_printf(_("unexpected argument “%s”"), argv[1]);

		return pal_tool_usage_error("chat", msg);
	}
	if ((flow_file == NULL) == (endpoint_file == NULL))
		return pal_tool_usage_error("chat",
					    _("give either --flow FILE or --endpoint FILE"));
	if (timeout < 1 || timeout > PAL_CHAT_MAX_TIMEOUT) {
		g_autofree gchar *msg =
		    g_strdup_printf(_("--timeout must be from 1 to %d seconds, not %d"),
				    PAL_CHAT_MAX_TIMEOUT,
				    timeout);

		return pal_tool_usage_error("chat", msg);
	}
	if (!pal_chat_id_valid(user_id) || !pal_chat_id_valid(session_id))
		return pal_tool_usage_error(
		    "chat",
		    _("--user and --session need 1 to 256 characters, as userId and sessionId do"));
	if (data != NULL) {
		chat.default_data = pal_chat_parse_data(data, "--data", &error);
		if (chat.default_data == NULL)
			return pal_tool_usage_error("chat", error->message);
	}

	if (!pal_tool_env_init(&env, &opts, "chat", PAL_TOOL_ENV_FLAG_SYSTEM_CONFIG, &error)) {
		g_printerr("palaver-tool chat: %s\n", error->message);
		return PAL_FLOW_EXIT_FAILURE;
	}
	if (!pal_chat_load_flow(&chat, &env, flow_file, endpoint_file, &shown))
		return PAL_FLOW_EXIT_FAILURE;
	if (nlu != NULL && !pal_chat_load_nlu(&chat, &env, nlu))
		return PAL_FLOW_EXIT_FAILURE;
	chat.show_nlu = show_nlu;

	chat.user_id = g_strdup(user_id != NULL ? user_id : "chat-user");
	if (session_id == NULL)
		session_id = g_uuid_string_random();
	chat.session =
	    pal_session_new(pal_endpoint_info_get_name(chat.info), chat.user_id, session_id);
	chat.timeout_s = (guint)timeout;
	chat.payloads = g_ptr_array_new_with_free_func(g_free);

	interactive = isatty(STDIN_FILENO);
	if (interactive) {
		g_autofree gchar *user_shown = pal_printable(chat.user_id, FALSE);
		g_autofree gchar *session_shown = pal_printable(session_id, FALSE);

		g_print(_("Chatting with %s as user %s, session %s.\n"
			  "Type /help for the commands, /quit or Ctrl-D to leave.\n"),
			shown,
			user_shown,
			session_shown);
	}
	pal_chat_loop(&chat, interactive);
	if (fflush(stdout) != 0) {
		g_printerr(_("palaver-tool chat: cannot write the output\n"));
		return PAL_FLOW_EXIT_FAILURE;
	}
	return PAL_FLOW_EXIT_OK;
}
