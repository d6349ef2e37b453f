/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <glib-unix.h>
#include <glib/gi18n.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "pal-receiver.h"
#include "pal-tool-common.h"
#include "pal-tool-dead-letters.h"
#include "pal-tool-flow.h"
#include "pal-tool-nlu.h"

/*
 * palaver-tool: the offline companion of palaverd. Each subcommand is one entry of the table
 * below: a name, a one-line summary for `palaver-tool --help`, and a function that gets the
 * arguments from the subcommand's name on and returns the exit status.
 */

#define PAL_TOOL_EXIT_OK      0
#define PAL_TOOL_EXIT_FAILURE 1
#define PAL_TOOL_EXIT_USAGE   2

typedef struct {
	const gchar *name;
	const gchar *summary; /* N_() */
	gint (*func)(gint argc, gchar **argv);
} PalToolCommand;

static gint
pal_tool_receive(gint argc, gchar **argv);

static const PalToolCommand pal_tool_commands[] = {
    {"receive", N_("Run a webhook receiver and print every delivery"), pal_tool_receive},
    {"dead-letters",
     N_("List, replay or purge the dead letters of a stopped palaverd"),
     pal_tool_dead_letters},
    {"flow", N_("Check flow files: flow check FILE…"), pal_tool_flow},
    {"chat", N_("Chat with a flow or an endpoint's flow in the terminal"), pal_tool_chat},
    {"nlu", N_("Evaluate an intents model, or parse a text: nlu evaluate|parse …"), pal_tool_nlu},
};

/* ---------------------------------------------------------------------------------------- */
/* receive */

typedef struct {
	GMainLoop *loop;
	FILE *out;   /* the human-readable output, or NULL with --quiet */
	FILE *jsonl; /* or NULL */
	gboolean jsonl_is_stdout;
	gboolean show_secrets;
	guint count; /* 0: no limit */
	guint n_finished;
	gint exit_status;
} PalToolReceive;

/* headers whose values are secrets; Authorization keeps its scheme */
static gchar *
pal_tool_mask_header(const gchar *name, const gchar *value)
{
	const gchar *space;

	if (g_ascii_strcasecmp(name, "Authorization") == 0 ||
	    g_ascii_strcasecmp(name, "Proxy-Authorization") == 0) {
		space = strchr(value, ' ');
		if (space == NULL)
			return g_strdup("***");
		return g_strdup_printf("%.*s ***", (gint)(space - value), value);
	}
	if (g_ascii_strcasecmp(name, "X-API-Key") == 0 ||
	    g_ascii_strcasecmp(name, "X-Webhook-Key") == 0)
		return g_strdup("***");
	return g_strdup(value);
}

static gchar *
pal_tool_json_to_string(JsonNode *node, gboolean pretty)
{
	g_autoptr(JsonGenerator) generator = json_generator_new();

	json_generator_set_root(generator, node);
	json_generator_set_pretty(generator, pretty);
	json_generator_set_indent(generator, 2);
	return json_generator_to_data(generator, NULL);
}

static void
pal_tool_print_delivery(PalToolReceive *ctx, const PalReceivedRequest *request)
{
	GPtrArray *headers = pal_received_request_get_headers(request);
	GBytes *body = pal_received_request_get_body(request);
	JsonNode *json = pal_received_request_get_json(request);
	const gchar *query = pal_received_request_get_query(request);
	g_autofree gchar *when = pal_tool_format_time(pal_received_request_get_real_time(request));
	g_autoptr(GString) str = g_string_new(NULL);
	gsize len = 0;
	const gchar *data = g_bytes_get_data(body, &len);
	/* box-drawing rules on UTF-8 terminals, ASCII elsewhere */
	const gchar *rule = g_get_charset(NULL) ? "──" : "--";

	g_string_append_printf(str,
			       "%s %s %s%s%s  #%u  %s %s\n",
			       rule,
			       pal_received_request_get_method(request),
			       pal_received_request_get_path(request),
			       query != NULL ? "?" : "",
			       query != NULL ? query : "",
			       pal_received_request_get_index(request),
			       when,
			       rule);
	for (guint i = 0; i < headers->len; i++) {
		PalReceivedHeader *header = g_ptr_array_index(headers, i);
		g_autofree gchar *value = ctx->show_secrets
					      ? g_strdup(header->value)
					      : pal_tool_mask_header(header->name, header->value);
		g_string_append_printf(str, "%s: %s\n", header->name, value);
	}
	g_string_append_c(str, '\n');
	if (json != NULL) {
		g_autofree gchar *text = pal_tool_json_to_string(json, TRUE);
		g_string_append_printf(str, "%s\n", text);
	} else if (len == 0) {
		g_string_append_printf(str, "%s\n", _("(empty body)"));
	} else if (g_utf8_validate(data, (gssize)len, NULL) && memchr(data, '\0', len) == NULL) {
		g_string_append_len(str, data, (gssize)len);
		if (data[len - 1] != '\n')
			g_string_append_c(str, '\n');
	} else {
		g_string_append_printf(str,
				       ngettext("(%lu byte of binary data)\n",
						"(%lu bytes of binary data)\n",
						(gulong)len),
				       (gulong)len);
	}
	g_string_append_c(str, '\n');
	fputs(str->str, ctx->out);
	fflush(ctx->out);
}

static gboolean
pal_tool_write_jsonl(PalToolReceive *ctx, const PalReceivedRequest *request, GError **error)
{
	GPtrArray *headers = pal_received_request_get_headers(request);
	GBytes *body = pal_received_request_get_body(request);
	JsonNode *json = pal_received_request_get_json(request);
	const gchar *query = pal_received_request_get_query(request);
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonNode) root = NULL;
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autofree gchar *when = pal_tool_format_time(pal_received_request_get_real_time(request));
	g_autofree gchar *line = NULL;
	gsize len = 0;
	const gchar *data = g_bytes_get_data(body, &len);

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "index");
	json_builder_add_int_value(builder, pal_received_request_get_index(request));
	json_builder_set_member_name(builder, "method");
	json_builder_add_string_value(builder, pal_received_request_get_method(request));
	json_builder_set_member_name(builder, "path");
	json_builder_add_string_value(builder, pal_received_request_get_path(request));
	if (query != NULL) {
		json_builder_set_member_name(builder, "query");
		json_builder_add_string_value(builder, query);
	}

	/* one member per header name; repeated headers joined as HTTP lists are */
	json_builder_set_member_name(builder, "headers");
	json_builder_begin_object(builder);
	for (guint i = 0; i < headers->len; i++) {
		PalReceivedHeader *header = g_ptr_array_index(headers, i);
		g_autofree gchar *key = g_ascii_strdown(header->name, -1);
		g_autofree gchar *joined = NULL;
		g_autofree gchar *value = NULL;

		if (g_hash_table_contains(seen, key))
			continue;
		joined = pal_received_request_dup_header_list(request, header->name);
		value = ctx->show_secrets ? g_steal_pointer(&joined)
					  : pal_tool_mask_header(header->name, joined);
		json_builder_set_member_name(builder, header->name);
		json_builder_add_string_value(builder, value);
		g_hash_table_add(seen, g_steal_pointer(&key));
	}
	json_builder_end_object(builder);

	json_builder_set_member_name(builder, "body");
	if (json != NULL) {
		json_builder_add_value(builder, json_node_copy(json));
	} else if (g_utf8_validate(data, (gssize)len, NULL) && memchr(data, '\0', len) == NULL) {
		g_autofree gchar *text = g_strndup(data, len);
		json_builder_add_string_value(builder, text);
	} else {
		g_autofree gchar *b64 = g_base64_encode((const guchar *)data, len);
		json_builder_add_null_value(builder);
		json_builder_set_member_name(builder, "bodyBase64");
		json_builder_add_string_value(builder, b64);
	}
	json_builder_set_member_name(builder, "receivedAt");
	json_builder_add_string_value(builder, when);
	json_builder_end_object(builder);

	root = json_builder_get_root(builder);
	line = pal_tool_json_to_string(root, FALSE);
	if (fprintf(ctx->jsonl, "%s\n", line) < 0 || fflush(ctx->jsonl) != 0) {
		g_set_error(error,
			    G_IO_ERROR,
			    g_io_error_from_errno(errno),
			    _("Cannot write the JSON lines: %s"),
			    g_strerror(errno));
		return FALSE;
	}
	return TRUE;
}

static void
pal_tool_receive_delivery_cb(PalReceiver *receiver,
			     PalReceivedRequest *request,
			     gpointer user_data)
{
	PalToolReceive *ctx = user_data;
	g_autoptr(GError) error = NULL;

	if (ctx->out != NULL)
		pal_tool_print_delivery(ctx, request);
	if (ctx->jsonl != NULL && !pal_tool_write_jsonl(ctx, request, &error)) {
		g_printerr("palaver-tool: %s\n", error->message);
		ctx->exit_status = PAL_TOOL_EXIT_FAILURE;
		g_main_loop_quit(ctx->loop);
	}
}

/* quit only once the answer is written, so that the client gets it */
static void
pal_tool_receive_delivery_finished_cb(PalReceiver *receiver,
				      PalReceivedRequest *request,
				      gpointer user_data)
{
	PalToolReceive *ctx = user_data;

	ctx->n_finished++;
	if (ctx->count > 0 && ctx->n_finished >= ctx->count)
		g_main_loop_quit(ctx->loop);
}

static gboolean
pal_tool_receive_signal_cb(gpointer user_data)
{
	PalToolReceive *ctx = user_data;

	g_main_loop_quit(ctx->loop);
	return G_SOURCE_CONTINUE;
}

static gint
pal_tool_receive(gint argc, gchar **argv)
{
	g_autofree gchar *listen = NULL;
	g_autofree gchar *jsonl = NULL;
	g_autofree gchar *url = NULL;
	gint status = SOUP_STATUS_OK;
	gint retry_after = 0;
	gint count = 0;
	gboolean quiet = FALSE;
	gboolean show_secrets = FALSE;
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(PalReceiver) receiver = NULL;
	g_autoptr(GMainLoop) loop = NULL;
	PalToolReceive ctx = {0};
	guint sigint_id;
	guint sigterm_id;
	const GOptionEntry entries[] = {
	    {"listen",
	     'l',
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_STRING,
	     &listen,
	     N_("Listen on ADDR (default 127.0.0.1:8081; port 0 picks a free port)"),
	     N_("ADDR")},
	    {"status",
	     's',
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_INT,
	     &status,
	     N_("Answer every delivery with HTTP status CODE (default 200)"),
	     N_("CODE")},
	    {"retry-after",
	     0,
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_INT,
	     &retry_after,
	     N_("Add “Retry-After: SECONDS” to answers that are not 2xx"),
	     N_("SECONDS")},
	    {"quiet",
	     'q',
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_NONE,
	     &quiet,
	     N_("Do not print the deliveries"),
	     NULL},
	    {"jsonl",
	     0,
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_FILENAME,
	     &jsonl,
	     N_("Append one JSON object per delivery to FILE (“-” for standard output)"),
	     N_("FILE")},
	    {"count",
	     'n',
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_INT,
	     &count,
	     N_("Exit after N deliveries"),
	     N_("N")},
	    {"show-secrets",
	     0,
	     G_OPTION_FLAG_NONE,
	     G_OPTION_ARG_NONE,
	     &show_secrets,
	     N_("Print Authorization and API key headers unmasked"),
	     NULL},
	    {NULL},
	};

	context = g_option_context_new(NULL);
	g_option_context_set_translation_domain(context, GETTEXT_PACKAGE);
	g_option_context_set_summary(
	    context,
	    _("Run a webhook receiver: answer every POST, on any path, and print its headers and "
	      "body (JSON pretty-printed). Other methods get 405, bodies over 16 MiB get 413."));
	g_option_context_set_description(
	    context,
	    _("The line “palaver-tool: listening on http://HOST:PORT/” goes to standard error at "
	      "start. With “--jsonl -” the printed deliveries go to standard error too, so that "
	      "standard output holds only the JSON lines. Authorization headers are printed as "
	      "“Basic ***” unless --show-secrets is given.\n\nExit status: 0 on success (after N "
	      "deliveries with --count, or on SIGINT/SIGTERM), 1 on a runtime error, 2 on a usage "
	      "error."));
	g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr("palaver-tool receive: %s\n", error->message);
		g_printerr(_("Try “palaver-tool receive --help” for more information.\n"));
		return PAL_TOOL_EXIT_USAGE;
	}
	if (argc > 1) {
		g_printerr(_("palaver-tool receive: unexpected argument “%s”\n"), argv[1]);
		return PAL_TOOL_EXIT_USAGE;
	}
	if (status < 200 || status > 599) {
		g_printerr(_("palaver-tool receive: --status must be an HTTP status from 200 to "
			     "599, not %d\n"),
			   status);
		return PAL_TOOL_EXIT_USAGE;
	}
	if (count < 0 || retry_after < 0) {
		g_printerr(_("palaver-tool receive: --count and --retry-after must not be "
			     "negative\n"));
		return PAL_TOOL_EXIT_USAGE;
	}
	if (listen == NULL)
		listen = g_strdup("127.0.0.1:8081");
	if (!pal_receiver_parse_address(listen, NULL, NULL, &error)) {
		g_printerr("palaver-tool receive: %s\n", error->message);
		return PAL_TOOL_EXIT_USAGE;
	}

	ctx.show_secrets = show_secrets;
	ctx.count = (guint)count;
	ctx.exit_status = PAL_TOOL_EXIT_OK;
	if (jsonl != NULL) {
		if (g_strcmp0(jsonl, "-") == 0) {
			ctx.jsonl = stdout;
			ctx.jsonl_is_stdout = TRUE;
		} else {
			ctx.jsonl = fopen(jsonl, "a");
			if (ctx.jsonl == NULL) {
				g_printerr(_("palaver-tool: cannot open %s: %s\n"),
					   jsonl,
					   g_strerror(errno));
				return PAL_TOOL_EXIT_FAILURE;
			}
		}
	}
	if (!quiet)
		ctx.out = ctx.jsonl_is_stdout ? stderr : stdout;

	/* the receiver belongs to the default context, which this thread runs */
	receiver = pal_receiver_new();
	pal_receiver_set_status(receiver, (guint)status);
	pal_receiver_set_retry_after(receiver, (guint)retry_after);
	pal_receiver_set_record_limit(receiver, 0);
	if (!pal_receiver_listen(receiver, listen, &error)) {
		g_printerr("palaver-tool: %s\n", error->message);
		if (ctx.jsonl != NULL && !ctx.jsonl_is_stdout)
			fclose(ctx.jsonl);
		return PAL_TOOL_EXIT_FAILURE;
	}
	g_signal_connect(receiver, "delivery", G_CALLBACK(pal_tool_receive_delivery_cb), &ctx);
	g_signal_connect(receiver,
			 "delivery-finished",
			 G_CALLBACK(pal_tool_receive_delivery_finished_cb),
			 &ctx);

	loop = g_main_loop_new(NULL, FALSE);
	ctx.loop = loop;
	sigint_id = g_unix_signal_add(SIGINT, pal_tool_receive_signal_cb, &ctx);
	sigterm_id = g_unix_signal_add(SIGTERM, pal_tool_receive_signal_cb, &ctx);

	/* a protocol line, parsed by scripts and tests: not translated */
	g_printerr("palaver-tool: listening on http://%s:%u/\n",
		   pal_receiver_get_host(receiver),
		   pal_receiver_get_port(receiver));

	g_main_loop_run(loop);

	g_source_remove(sigint_id);
	g_source_remove(sigterm_id);
	g_signal_handlers_disconnect_by_data(receiver, &ctx);
	pal_receiver_stop(receiver);
	if (ctx.jsonl != NULL && !ctx.jsonl_is_stdout && fclose(ctx.jsonl) != 0) {
		g_printerr(_("palaver-tool: cannot write %s: %s\n"), jsonl, g_strerror(errno));
		ctx.exit_status = PAL_TOOL_EXIT_FAILURE;
	}
	return ctx.exit_status;
}

/* ---------------------------------------------------------------------------------------- */

static void
pal_tool_usage(FILE *out)
{
	g_autoptr(GString) str = g_string_new(NULL);

	g_string_append_printf(str,
			       "%s\n  palaver-tool %s\n\n%s\n\n%s\n",
			       _("Usage:"),
			       _("COMMAND [OPTION…]"),
			       _("Offline companion of the Palaver webhook gateway."),
			       _("Commands:"));
	for (gsize i = 0; i < G_N_ELEMENTS(pal_tool_commands); i++)
		g_string_append_printf(str,
				       "  %-12s %s\n",
				       pal_tool_commands[i].name,
				       _(pal_tool_commands[i].summary));
	g_string_append_printf(str,
			       "\n%s\n",
			       _("Use “palaver-tool COMMAND --help” for the options of a command."));
	fputs(str->str, out);
}

static const PalToolCommand *
pal_tool_find_command(const gchar *name)
{
	for (gsize i = 0; i < G_N_ELEMENTS(pal_tool_commands); i++) {
		if (g_strcmp0(pal_tool_commands[i].name, name) == 0)
			return &pal_tool_commands[i];
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	const PalToolCommand *command;
	g_autofree gchar *prgname = NULL;
	const gchar *name;

	setlocale(LC_ALL, "");
	bindtextdomain(GETTEXT_PACKAGE, PAL_LOCALEDIR);
	bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
	textdomain(GETTEXT_PACKAGE);

	if (argc < 2) {
		pal_tool_usage(stderr);
		return PAL_TOOL_EXIT_USAGE;
	}
	name = argv[1];
	if (g_strcmp0(name, "--help") == 0 || g_strcmp0(name, "-h") == 0 ||
	    g_strcmp0(name, "-?") == 0 || g_strcmp0(name, "help") == 0) {
		/* "palaver-tool help receive" is "palaver-tool receive --help" */
		if (g_strcmp0(name, "help") == 0 && argc > 2 && pal_tool_find_command(argv[2])) {
			gchar *help_argv[] = {argv[2], (gchar *)"--help", NULL};
			command = pal_tool_find_command(argv[2]);
			prgname = g_strdup_printf("palaver-tool %s", command->name);
			g_set_prgname(prgname);
			return command->func(2, help_argv);
		}
		pal_tool_usage(stdout);
		return PAL_TOOL_EXIT_OK;
	}
	if (g_strcmp0(name, "--version") == 0) {
		g_print("palaver-tool %s\n", PACKAGE_VERSION);
		return PAL_TOOL_EXIT_OK;
	}
	command = pal_tool_find_command(name);
	if (command == NULL) {
		g_printerr(_("palaver-tool: unknown command “%s”\n\n"), name);
		pal_tool_usage(stderr);
		return PAL_TOOL_EXIT_USAGE;
	}

	/* GOptionContext prints "Usage: <prgname> [OPTION…]" */
	prgname = g_strdup_printf("palaver-tool %s", command->name);
	g_set_prgname(prgname);
	return command->func(argc - 1, argv + 1);
}
