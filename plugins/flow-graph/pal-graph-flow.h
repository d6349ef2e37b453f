/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pal-graph-value.h"

G_BEGIN_DECLS

/* what a flow file may hold; beyond these limits it is refused, not trusted */
#define PAL_GRAPH_FLOW_MAX_FILE_SIZE (4 * 1024 * 1024)
#define PAL_GRAPH_FLOW_MAX_DEPTH 64
#define PAL_GRAPH_FLOW_MAX_NODES 10000
#define PAL_GRAPH_FLOW_MAX_QUICK_REPLIES 20
#define PAL_GRAPH_FLOW_MAX_RETRIES 10
#define PAL_GRAPH_FLOW_MAX_HTTP_TIMEOUT_MS 120000
#define PAL_GRAPH_FLOW_DEFAULT_HTTP_TIMEOUT_MS 10000

typedef enum {
	PAL_GRAPH_NODE_SAY,
	PAL_GRAPH_NODE_QUESTION,
	PAL_GRAPH_NODE_SWITCH,
	PAL_GRAPH_NODE_IF,
	PAL_GRAPH_NODE_SET,
	PAL_GRAPH_NODE_SCRIPT,
	PAL_GRAPH_NODE_HTTP,
	PAL_GRAPH_NODE_HANDOVER,
	PAL_GRAPH_NODE_GOTO,
	PAL_GRAPH_NODE_END,
} PalGraphNodeType;

typedef enum {
	PAL_GRAPH_EXPECT_TEXT,
	PAL_GRAPH_EXPECT_NUMBER,
	PAL_GRAPH_EXPECT_EMAIL,
	PAL_GRAPH_EXPECT_YESNO,
	PAL_GRAPH_EXPECT_DATA,
	PAL_GRAPH_EXPECT_INTENT,
	PAL_GRAPH_EXPECT_REGEX,
} PalGraphExpect;

typedef struct {
	PalGraphValue *title;
	PalGraphValue *payload; /* nullable: the title */
} PalGraphQuickReply;

/* a "context.a.b" or "profile.x" path, split */
typedef struct {
	gchar **segments; /* segments[0] is "context" or "profile" */
} PalGraphPath;

typedef struct {
	gchar *name;
	PalGraphNodeType type;
	gchar *next; /* say, question, set, script, http, handover; nullable: the path ends */

	/* say, question, handover */
	PalGraphValue *text;
	PalGraphValue *data;
	GPtrArray *quick_replies; /* PalGraphQuickReply* */

	/* question */
	PalGraphExpect expect;
	gchar *expect_arg; /* the intent name */
	GRegex *regex;
	PalGraphPath *store; /* question, http; nullable */
	PalGraphValue *reprompt;
	guint retries;
	gchar *on_fail;

	/* switch */
	PalGraphValue *value;
	GHashTable *cases; /* rendered value → node name */
	gchar *default_target;

	/* if */
	guint condition;
	gchar *then_target;
	gchar *else_target;

	/* set */
	GPtrArray *set_paths;  /* PalGraphPath* */
	GPtrArray *set_values; /* PalGraphValue* */

	/* script */
	guint code;

	/* http */
	gchar *method;
	PalGraphValue *url;
	GPtrArray *header_names;  /* gchar* */
	GPtrArray *header_values; /* PalGraphValue* */
	PalGraphValue *body;
	guint timeout_ms;
	gchar *on_error;

	/* handover */
	gchar *provider;

	/* goto */
	gchar *target;
	gboolean wait;

	/* end */
	gboolean reset_context;
} PalGraphNode;

/* A parsed and validated flow, with its expressions compiled into @lua. */
typedef struct {
	gchar *name;
	gchar *locale; /* nullable */
	gchar *start;
	JsonObject *context; /* the default context */
	GHashTable *nodes;   /* name → PalGraphNode* */
	PalLua *lua;
} PalGraphFlow;

/* Loads @filename: every problem found goes to one PAL_ERROR_INVALID_DATA error, one line per
 * problem, each "JSON.path: what is wrong"; the expressions are compiled into @lua. */
PalGraphFlow *
pal_graph_flow_load(const gchar *filename, PalLua *lua, GError **error);
/* the same for a flow already parsed; @origin names it in messages */
PalGraphFlow *
pal_graph_flow_new_from_node(JsonNode *root, const gchar *origin, PalLua *lua, GError **error);
PalGraphNode *
pal_graph_flow_get_node(PalGraphFlow *self, const gchar *name);
void
pal_graph_flow_free(PalGraphFlow *self);

/* TRUE when @path ("context.order") is a valid store path; it is split into @out */
PalGraphPath *
pal_graph_path_parse(const gchar *path, GError **error);
void
pal_graph_path_free(PalGraphPath *path);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PalGraphFlow, pal_graph_flow_free)

G_END_DECLS
