/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>

#include "pal-config.h"
#include "pal-json-util.h"
#include "pal-util.h"
#include "palaver.h"

/* the daemon configuration file, palaver.conf (DESIGN.md §4).
 *
 * Rules (data/palaver.conf documents them for users):
 *  - comments are whole lines starting with '#' (GKeyFile has no inline comments, and ';'
 *    separates the entries of Listen);
 *  - a key that is absent or has an empty value takes its default;
 *  - relative paths resolve against the folder of the configuration file;
 *  - every error names file:line, [Group] Key, what was expected and what was found. */

#define PAL_CONFIG_MAX_FILE_SIZE (1024 * 1024)
#define PAL_CONFIG_MAX_LISTEN	 64

struct _PalConfig {
	GObject parent_instance;
	gchar *path;
	GStrv listen;
	guint workers;
	gsize max_body_size;
	guint max_depth;
	guint header_timeout;
	guint idle_timeout;
	guint request_timeout;
	guint shutdown_timeout;
	guint max_connections;
	gchar *store_backend;
	gchar *store_path;
	PalDurability durability;
	gchar *endpoints_dir;
	gchar *plugins_dir;
	guint delivery_max_conns;
	guint delivery_max_conns_per_host;
	guint delivery_max_queue;
	guint delivery_max_queue_mib;
	guint delivery_max_queue_per_endpoint;
	guint delivery_max_queue_per_session;
	PalBusType bus;
	gchar *data_dir;
};

G_DEFINE_FINAL_TYPE(PalConfig, pal_config, G_TYPE_OBJECT)

/* every key this version knows; anything else in the file is reported with g_message() */
static const struct {
	const gchar *group;
	const gchar *key;
} pal_config_known_keys[] = {
    {"Server", "Listen"},
    {"Server", "Workers"},
    {"Server", "MaxBodySize"},
    {"Server", "MaxDepth"},
    {"Server", "HeaderTimeout"},
    {"Server", "IdleTimeout"},
    {"Server", "RequestTimeout"},
    {"Server", "ShutdownTimeout"},
    {"Server", "MaxConnections"},
    {"Store", "Backend"},
    {"Store", "Path"},
    {"Store", "Durability"},
    {"Endpoints", "Directory"},
    {"Plugins", "Directory"},
    {"Delivery", "MaxConnections"},
    {"Delivery", "MaxConnectionsPerHost"},
    {"Delivery", "MaxQueue"},
    {"Delivery", "MaxQueueMiB"},
    {"Delivery", "MaxQueuePerEndpoint"},
    {"Delivery", "MaxQueuePerSession"},
    {"DBus", "Bus"},
    {"Paths", "DataDir"},
};

/* the numeric keys, their ranges and defaults; the ranges are documented in palaver.conf */
typedef struct {
	const gchar *group;
	const gchar *key;
	guint64 min;
	guint64 max;
	guint64 dflt;
	gsize offset; /* of a guint in PalConfig; G_MAXSIZE for max_body_size (gsize) */
} PalConfigNumber;

#define PAL_CONFIG_UINT(member) G_STRUCT_OFFSET(PalConfig, member)

static const PalConfigNumber pal_config_numbers[] = {
    {"Server", "Workers", 0, 256, 0, PAL_CONFIG_UINT(workers)},
    {"Server", "MaxBodySize", 1024, 256 * 1024 * 1024, 1048576, G_MAXSIZE},
    {"Server", "MaxDepth", 1, 512, 64, PAL_CONFIG_UINT(max_depth)},
    {"Server", "HeaderTimeout", 1, 3600, 10, PAL_CONFIG_UINT(header_timeout)},
    {"Server", "IdleTimeout", 1, 3600, 60, PAL_CONFIG_UINT(idle_timeout)},
    {"Server", "RequestTimeout", 1, 3600, 30, PAL_CONFIG_UINT(request_timeout)},
    {"Server", "ShutdownTimeout", 0, 3600, 10, PAL_CONFIG_UINT(shutdown_timeout)},
    {"Server", "MaxConnections", 1, 1000000, 10000, PAL_CONFIG_UINT(max_connections)},
    {"Delivery", "MaxConnections", 1, 65535, 256, PAL_CONFIG_UINT(delivery_max_conns)},
    {"Delivery",
     "MaxConnectionsPerHost",
     1,
     65535,
     32,
     PAL_CONFIG_UINT(delivery_max_conns_per_host)},
    {"Delivery", "MaxQueue", 1, 10000000, 100000, PAL_CONFIG_UINT(delivery_max_queue)},
    {"Delivery", "MaxQueueMiB", 1, 65536, 256, PAL_CONFIG_UINT(delivery_max_queue_mib)},
    {"Delivery",
     "MaxQueuePerEndpoint",
     1,
     10000000,
     50000,
     PAL_CONFIG_UINT(delivery_max_queue_per_endpoint)},
    {"Delivery",
     "MaxQueuePerSession",
     1,
     1000000,
     1000,
     PAL_CONFIG_UINT(delivery_max_queue_per_session)},
};

static void
pal_config_finalize(GObject *object)
{
	PalConfig *self = PAL_CONFIG(object);

	g_free(self->path);
	g_strfreev(self->listen);
	g_free(self->store_backend);
	g_free(self->store_path);
	g_free(self->endpoints_dir);
	g_free(self->plugins_dir);
	g_free(self->data_dir);
	G_OBJECT_CLASS(pal_config_parent_class)->finalize(object);
}

static void
pal_config_class_init(PalConfigClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = pal_config_finalize;
}

static void
pal_config_init(PalConfig *self)
{
	const gchar *listen[] = {"127.0.0.1:8080", NULL};

	self->listen = g_strdupv((gchar **)listen);
	for (guint i = 0; i < G_N_ELEMENTS(pal_config_numbers); i++) {
		const PalConfigNumber *n = &pal_config_numbers[i];
		if (n->offset == G_MAXSIZE)
			self->max_body_size = (gsize)n->dflt;
		else
			G_STRUCT_MEMBER(guint, self, n->offset) = (guint)n->dflt;
	}
	self->store_backend = g_strdup("sqlite");
	/* systemd's StateDirectory= tells where state goes (the first of its folders) */
	{
		const gchar *state = g_getenv("STATE_DIRECTORY");
		g_auto(GStrv) dirs = state != NULL && state[0] != '\0' ? g_strsplit(state, ":", 2) : NULL;

		self->store_path = g_build_filename(dirs != NULL ? dirs[0] : PAL_LOCALSTATEDIR, "palaver.db", NULL);
	}
	self->durability = PAL_DURABILITY_CRASH;
	self->endpoints_dir = g_build_filename(PAL_SYSCONFDIR, "endpoints.d", NULL);
	self->plugins_dir = NULL;
	self->bus = PAL_BUS_SYSTEM;
	self->data_dir = g_strdup(PAL_DATADIR);
}

/* 0 in the file means one worker per core */
static void
pal_config_resolve_workers(PalConfig *self)
{
	if (self->workers == 0)
		self->workers = g_get_num_processors();
}

/**
 * pal_config_new_default:
 *
 * Returns: (transfer full): the built-in defaults, as if palaver.conf were empty
 */
PalConfig *
pal_config_new_default(void)
{
	PalConfig *self = g_object_new(PAL_TYPE_CONFIG, NULL);
	pal_config_resolve_workers(self);
	return self;
}

/* parsing state: the file's lines let errors name the line GKeyFile does not report */
typedef struct {
	const gchar *path;
	gchar *dir;
	gchar **lines;
	GKeyFile *kf;
} PalConfigParser;

static void
pal_config_parser_clear(PalConfigParser *p)
{
	g_clear_pointer(&p->dir, g_free);
	g_clear_pointer(&p->lines, g_strfreev);
	g_clear_pointer(&p->kf, g_key_file_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(PalConfigParser, pal_config_parser_clear)

/* the group name of a "[Group]" line, or NULL when @line is no group header */
static gchar *
pal_config_line_group(const gchar *line)
{
	const gchar *end;

	if (line[0] != '[')
		return NULL;
	end = strrchr(line, ']');
	if (end == NULL)
		return NULL;
	return g_strndup(line + 1, (gsize)(end - line - 1));
}

/* the line (from 1) of @key in @group, the last one like GKeyFile; of "[group]" when @key is
 * NULL; 0 when not found */
static guint
pal_config_find_line(PalConfigParser *p, const gchar *group, const gchar *key)
{
	gboolean in_group = FALSE;
	guint found = 0;

	if (p->lines == NULL)
		return 0;
	for (guint i = 0; p->lines[i] != NULL; i++) {
		const gchar *line = p->lines[i];
		g_autofree gchar *line_group = NULL;
		const gchar *eq;

		while (g_ascii_isspace(*line))
			line++;
		if (line[0] == '\0' || line[0] == '#')
			continue;
		line_group = pal_config_line_group(line);
		if (line_group != NULL) {
			in_group = g_strcmp0(line_group, group) == 0;
			if (in_group && key == NULL)
				return i + 1;
			continue;
		}
		if (!in_group || key == NULL)
			continue;
		eq = strchr(line, '=');
		if (eq != NULL) {
			g_autofree gchar *line_key = g_strndup(line, (gsize)(eq - line));
			if (g_strcmp0(g_strchomp(line_key), key) == 0)
				found = i + 1;
		}
	}
	return found;
}

/* the first line GKeyFile refuses, by its own rules; 0 when none is found */
static guint
pal_config_find_syntax_error_line(PalConfigParser *p)
{
	gboolean seen_group = FALSE;

	if (p->lines == NULL)
		return 0;
	for (guint i = 0; p->lines[i] != NULL; i++) {
		const gchar *line = p->lines[i];
		const gchar *eq;

		if (!g_utf8_validate(line, -1, NULL))
			return i + 1;
		while (g_ascii_isspace(*line))
			line++;
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (line[0] == '[') {
			g_autofree gchar *group = pal_config_line_group(line);
			if (group == NULL || group[0] == '\0' || strpbrk(group, "[]") != NULL)
				return i + 1;
			seen_group = TRUE;
			continue;
		}
		eq = strchr(line, '=');
		if (!seen_group || eq == NULL || eq == line)
			return i + 1;
	}
	return 0;
}

/* "file:line: [Group] Key: message" */
G_GNUC_PRINTF(5, 6)
static void
pal_config_set_error(PalConfigParser *p,
		     GError **error,
		     const gchar *group,
		     const gchar *key,
		     const gchar *format,
		     ...)
{
	va_list args;
	g_autofree gchar *msg = NULL;
	guint line = pal_config_find_line(p, group, key);

	va_start(args, format);
	msg = g_strdup_vprintf(format, args);
	va_end(args);
	if (line > 0) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_INVALID_DATA,
			    "%s:%u: [%s] %s: %s",
			    p->path,
			    line,
			    group,
			    key,
			    msg);
	} else {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_INVALID_DATA,
			    "%s: [%s] %s: %s",
			    p->path,
			    group,
			    key,
			    msg);
	}
}

/* "got …" for a raw value, with a hint when it looks like an inline comment */
static gchar *
pal_config_describe_value(const gchar *value)
{
	g_autofree gchar *quoted = pal_quote_for_message(value, 60);

	if (strpbrk(value, "#;") != NULL) {
		return g_strdup_printf("%s (comments must be on their own line, starting with #)",
				       quoted);
	}
	return g_steal_pointer(&quoted);
}

/* the stripped raw value of a key, or NULL when the key is absent or empty (= default) */
static gchar *
pal_config_get_raw(PalConfigParser *p, const gchar *group, const gchar *key)
{
	g_autofree gchar *value = g_key_file_get_value(p->kf, group, key, NULL);

	if (value == NULL)
		return NULL;
	g_strstrip(value);
	if (value[0] == '\0')
		return NULL;
	return g_steal_pointer(&value);
}

/* the unescaped string value of a key, or NULL when absent or empty (= default) */
static gboolean
pal_config_get_string(PalConfigParser *p,
		      const gchar *group,
		      const gchar *key,
		      gchar **value,
		      GError **error)
{
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *str = NULL;

	*value = NULL;
	if (!g_key_file_has_key(p->kf, group, key, NULL))
		return TRUE;
	/* GKeyFile returns the raw value *and* an error for invalid escapes */
	str = g_key_file_get_string(p->kf, group, key, &error_local);
	if (str == NULL || error_local != NULL) {
		g_autofree gchar *raw = g_key_file_get_value(p->kf, group, key, NULL);
		g_autofree gchar *got = pal_config_describe_value(raw != NULL ? raw : "");
		pal_config_set_error(p,
				     error,
				     group,
				     key,
				     "expected text in which a backslash starts \\s, \\n, \\t, "
				     "\\r or \\\\, got %s",
				     got);
		return FALSE;
	}
	g_strstrip(str);
	if (str[0] != '\0')
		*value = g_steal_pointer(&str);
	return TRUE;
}

static gboolean
pal_config_load_number(PalConfig *self,
		       PalConfigParser *p,
		       const PalConfigNumber *n,
		       GError **error)
{
	guint64 value = 0;
	g_autofree gchar *raw = pal_config_get_raw(p, n->group, n->key);

	if (raw == NULL)
		return TRUE;
	if (!g_ascii_string_to_unsigned(raw, 10, n->min, n->max, &value, NULL)) {
		g_autofree gchar *got = pal_config_describe_value(raw);
		pal_config_set_error(p,
				     error,
				     n->group,
				     n->key,
				     "expected a whole number from %" G_GUINT64_FORMAT
				     " to %" G_GUINT64_FORMAT ", got %s",
				     n->min,
				     n->max,
				     got);
		return FALSE;
	}
	if (n->offset == G_MAXSIZE)
		self->max_body_size = (gsize)value;
	else
		G_STRUCT_MEMBER(guint, self, n->offset) = (guint)value;
	return TRUE;
}

/* one of @names (exact spelling); returns its index in @index */
static gboolean
pal_config_load_choice(PalConfigParser *p,
		       const gchar *group,
		       const gchar *key,
		       const gchar *const *names,
		       guint *index,
		       GError **error)
{
	g_autofree gchar *raw = pal_config_get_raw(p, group, key);
	g_autoptr(GString) expected = g_string_new(NULL);
	g_autofree gchar *got = NULL;

	if (raw == NULL)
		return TRUE;
	for (guint i = 0; names[i] != NULL; i++) {
		if (g_strcmp0(raw, names[i]) == 0) {
			*index = i;
			return TRUE;
		}
		g_string_append_printf(expected,
				       "%s\"%s\"",
				       i == 0		      ? ""
				       : names[i + 1] == NULL ? " or "
							      : ", ",
				       names[i]);
	}
	got = pal_config_describe_value(raw);
	pal_config_set_error(p, error, group, key, "expected %s, got %s", expected->str, got);
	return FALSE;
}

/* a path value: relative paths resolve against the configuration file's folder */
static gboolean
pal_config_load_path(PalConfigParser *p,
		     const gchar *group,
		     const gchar *key,
		     gchar **path,
		     GError **error)
{
	g_autofree gchar *value = NULL;

	if (!pal_config_get_string(p, group, key, &value, error))
		return FALSE;
	if (value == NULL)
		return TRUE;
	g_free(*path);
	*path = g_canonicalize_filename(value, p->dir);
	return TRUE;
}

static gboolean
pal_config_is_hostname_char(gchar c)
{
	return g_ascii_isalnum(c) || c == '.' || c == ':' || c == '%' || c == '_' || c == '-';
}

/**
 * pal_config_parse_listen_address:
 * @address: "host:port" with an IPv4 address, or "[IPv6]:port"; port 0 picks a free port
 * @host: (out) (optional): the address without brackets
 * @port: (out) (optional): the port
 *
 * Only IP addresses are accepted, not host names: the daemon may start before the network
 * and DNS are up, and binding must not depend on a lookup. Use 0.0.0.0 or [::] for all
 * interfaces.
 *
 * Returns: %TRUE when @address is valid, else %FALSE with an error saying what is expected
 */
gboolean
pal_config_parse_listen_address(const gchar *address, gchar **host, guint16 *port, GError **error)
{
	const gchar *colon;
	const gchar *port_str;
	guint64 port_value = 0;
	g_autofree gchar *host_str = NULL;
	g_autoptr(GInetAddress) inet = NULL;
	g_autoptr(GSocketAddress) sockaddr = NULL;
	const gchar *expected = "expected IPv4-address:port or [IPv6-address]:port with a port "
				"from 0 to 65535 (0.0.0.0 or [::] for all interfaces)";

	g_return_val_if_fail(address != NULL, FALSE);

	if (address[0] == '[') {
		const gchar *close = strchr(address, ']');
		if (close == NULL || close[1] != ':') {
			g_set_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA, "%s", expected);
			return FALSE;
		}
		host_str = g_strndup(address + 1, (gsize)(close - address - 1));
		port_str = close + 2;
		/* a scope ("fe80::1%eth0") is only understood by the socket address parser */
		for (const gchar *c = host_str; *c != '\0'; c++) {
			if (!pal_config_is_hostname_char(*c)) {
				g_set_error(error,
					    PAL_ERROR,
					    PAL_ERROR_INVALID_DATA,
					    "%s",
					    expected);
				return FALSE;
			}
		}
		inet = g_inet_address_new_from_string(host_str);
		if (inet == NULL && strchr(host_str, '%') != NULL)
			sockaddr = g_inet_socket_address_new_from_string(host_str, 0);
		if ((inet == NULL && sockaddr == NULL) ||
		    (inet != NULL && g_inet_address_get_family(inet) != G_SOCKET_FAMILY_IPV6)) {
			g_set_error(error,
				    PAL_ERROR,
				    PAL_ERROR_INVALID_DATA,
				    "%s; \"%s\" is no IPv6 address",
				    expected,
				    host_str);
			return FALSE;
		}
	} else {
		colon = strrchr(address, ':');
		if (colon == NULL) {
			g_set_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA, "%s", expected);
			return FALSE;
		}
		host_str = g_strndup(address, (gsize)(colon - address));
		port_str = colon + 1;
		if (strchr(host_str, ':') != NULL) {
			g_set_error(error,
				    PAL_ERROR,
				    PAL_ERROR_INVALID_DATA,
				    "%s; put an IPv6 address in brackets",
				    expected);
			return FALSE;
		}
		inet = g_inet_address_new_from_string(host_str);
		if (inet == NULL) {
			g_autofree gchar *quoted = pal_quote_for_message(host_str, 60);
			g_set_error(error,
				    PAL_ERROR,
				    PAL_ERROR_INVALID_DATA,
				    "%s; %s is no IP address",
				    expected,
				    quoted);
			return FALSE;
		}
	}
	if (!g_ascii_string_to_unsigned(port_str, 10, 0, 65535, &port_value, NULL)) {
		g_set_error(error, PAL_ERROR, PAL_ERROR_INVALID_DATA, "%s", expected);
		return FALSE;
	}
	if (host != NULL)
		*host = g_steal_pointer(&host_str);
	if (port != NULL)
		*port = (guint16)port_value;
	return TRUE;
}

static gboolean
pal_config_load_listen(PalConfig *self, PalConfigParser *p, GError **error)
{
	gsize n = 0;
	g_auto(GStrv) entries = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autoptr(GPtrArray) listen = g_ptr_array_new_with_free_func(g_free);

	if (!g_key_file_has_key(p->kf, "Server", "Listen", NULL))
		return TRUE;
	entries = g_key_file_get_string_list(p->kf, "Server", "Listen", &n, &error_local);
	if (error_local != NULL) {
		g_autofree gchar *raw = g_key_file_get_value(p->kf, "Server", "Listen", NULL);
		g_autofree gchar *got = pal_config_describe_value(raw != NULL ? raw : "");
		pal_config_set_error(p,
				     error,
				     "Server",
				     "Listen",
				     "expected addresses separated by ';' in which a backslash "
				     "starts \\s, \\n, \\t, \\r, \\; or \\\\, got %s",
				     got);
		return FALSE;
	}
	if (entries == NULL)
		return TRUE; /* an empty value: the default, like every other key */
	for (gsize i = 0; i < n; i++) {
		gchar *entry = g_strstrip(entries[i]);
		g_autoptr(GError) error_entry = NULL;
		g_autofree gchar *got = NULL;

		if (entry[0] == '\0')
			continue;
		got = pal_config_describe_value(entry);
		if (!pal_config_parse_listen_address(entry, NULL, NULL, &error_entry)) {
			pal_config_set_error(p,
					     error,
					     "Server",
					     "Listen",
					     "%s, got %s",
					     error_entry->message,
					     got);
			return FALSE;
		}
		for (guint j = 0; j < listen->len; j++) {
			if (g_strcmp0(g_ptr_array_index(listen, j), entry) == 0) {
				pal_config_set_error(p,
						     error,
						     "Server",
						     "Listen",
						     "expected each address once, got %s twice",
						     got);
				return FALSE;
			}
		}
		if (listen->len == PAL_CONFIG_MAX_LISTEN) {
			pal_config_set_error(p,
					     error,
					     "Server",
					     "Listen",
					     "expected at most %u addresses, got more",
					     (guint)PAL_CONFIG_MAX_LISTEN);
			return FALSE;
		}
		g_ptr_array_add(listen, g_strdup(entry));
	}
	if (listen->len == 0)
		return TRUE;
	g_ptr_array_add(listen, NULL);
	g_strfreev(self->listen);
	self->listen = (GStrv)g_ptr_array_free(g_steal_pointer(&listen), FALSE);
	return TRUE;
}

static gboolean
pal_config_is_name(const gchar *name)
{
	gsize len = strlen(name);

	if (len == 0 || len > 64)
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isalnum(name[i]) && name[i] != '_' && name[i] != '-')
			return FALSE;
	}
	return TRUE;
}

static gboolean
pal_config_is_known(const gchar *group, const gchar *key)
{
	for (guint i = 0; i < G_N_ELEMENTS(pal_config_known_keys); i++) {
		if (g_strcmp0(pal_config_known_keys[i].group, group) == 0 &&
		    (key == NULL || g_strcmp0(pal_config_known_keys[i].key, key) == 0))
			return TRUE;
	}
	return FALSE;
}

/* unknown groups and keys are reported but do not fail: a configuration written for a newer
 * version (or with a typo in an optional key) must not keep the daemon from starting; the
 * message names file:line so the typo is easy to find. Known keys are strictly validated.
 * The lines are scanned directly because GKeyFile hides localized keys ("Bus[de]"), which
 * this file does not use either. */
static void
pal_config_report_unknown(PalConfigParser *p)
{
	g_autofree gchar *group = NULL;

	for (guint i = 0; p->lines[i] != NULL; i++) {
		const gchar *line = p->lines[i];
		g_autofree gchar *line_group = NULL;
		const gchar *eq;

		while (g_ascii_isspace(*line))
			line++;
		if (line[0] == '\0' || line[0] == '#')
			continue;
		line_group = pal_config_line_group(line);
		if (line_group != NULL) {
			if (!pal_config_is_known(line_group, NULL))
				g_message("%s:%u: unknown group [%s] ignored",
					  p->path,
					  i + 1,
					  line_group);
			g_free(group);
			group = g_steal_pointer(&line_group);
			continue;
		}
		eq = strchr(line, '=');
		if (group != NULL && eq != NULL && pal_config_is_known(group, NULL)) {
			g_autofree gchar *key = g_strndup(line, (gsize)(eq - line));
			g_strchomp(key);
			if (!pal_config_is_known(group, key)) {
				g_message("%s:%u: unknown key [%s] %s ignored",
					  p->path,
					  i + 1,
					  group,
					  key);
			}
		}
	}
}

static gboolean
pal_config_load_keys(PalConfig *self, PalConfigParser *p, GError **error)
{
	const gchar *durabilities[] = {"none", "crash", "power", NULL};
	const gchar *buses[] = {"system", "session", "none", NULL};
	const PalDurability durability_values[] = {PAL_DURABILITY_NONE,
						   PAL_DURABILITY_CRASH,
						   PAL_DURABILITY_POWER};
	const PalBusType bus_values[] = {PAL_BUS_SYSTEM, PAL_BUS_SESSION, PAL_BUS_NONE};
	guint durability = 1;
	guint bus = 0;
	g_autofree gchar *backend = NULL;

	/* [Server] */
	if (!pal_config_load_listen(self, p, error))
		return FALSE;
	for (guint i = 0; i < G_N_ELEMENTS(pal_config_numbers); i++) {
		if (!pal_config_load_number(self, p, &pal_config_numbers[i], error))
			return FALSE;
	}

	/* [Store] */
	if (!pal_config_get_string(p, "Store", "Backend", &backend, error))
		return FALSE;
	if (backend != NULL) {
		if (!pal_config_is_name(backend)) {
			g_autofree gchar *got = pal_config_describe_value(backend);
			pal_config_set_error(
			    p,
			    error,
			    "Store",
			    "Backend",
			    "expected a backend name (\"sqlite\", or one a plugin provides) of "
			    "1 to 64 characters from A-Z a-z 0-9 _ -, got %s",
			    got);
			return FALSE;
		}
		g_free(self->store_backend);
		self->store_backend = g_steal_pointer(&backend);
	}
	/* the SQLite path is a file; other backends may give it another meaning */
	if (g_strcmp0(self->store_backend, "sqlite") == 0) {
		if (!pal_config_load_path(p, "Store", "Path", &self->store_path, error))
			return FALSE;
	} else {
		g_autofree gchar *path = NULL;
		if (!pal_config_get_string(p, "Store", "Path", &path, error))
			return FALSE;
		if (path != NULL) {
			g_free(self->store_path);
			self->store_path = g_steal_pointer(&path);
		}
	}
	if (!pal_config_load_choice(p, "Store", "Durability", durabilities, &durability, error))
		return FALSE;
	self->durability = durability_values[durability];

	/* [Endpoints], [Plugins], [Paths] */
	if (!pal_config_load_path(p, "Endpoints", "Directory", &self->endpoints_dir, error))
		return FALSE;
	if (!pal_config_load_path(p, "Plugins", "Directory", &self->plugins_dir, error))
		return FALSE;
	if (!pal_config_load_path(p, "Paths", "DataDir", &self->data_dir, error))
		return FALSE;

	/* [Delivery]: the numbers are loaded above; a per-host limit above the total is a
	 * mistake that would silently mean the total */
	if (self->delivery_max_conns_per_host > self->delivery_max_conns) {
		pal_config_set_error(p,
				     error,
				     "Delivery",
				     "MaxConnectionsPerHost",
				     "expected at most [Delivery] MaxConnections (%u), got %u",
				     self->delivery_max_conns,
				     self->delivery_max_conns_per_host);
		return FALSE;
	}

	/* [DBus] */
	if (!pal_config_load_choice(p, "DBus", "Bus", buses, &bus, error))
		return FALSE;
	self->bus = bus_values[bus];

	pal_config_report_unknown(p);
	return TRUE;
}

/**
 * pal_config_load:
 * @path: the configuration file
 *
 * Reads and validates @path; keys that are absent take their defaults.
 *
 * Returns: (transfer full): the configuration, or %NULL with @error set:
 * %PAL_ERROR_NOT_FOUND when the file does not exist, %PAL_ERROR_FAILED when it cannot be read,
 * %PAL_ERROR_INVALID_DATA when it is invalid (the message names file:line, [Group] Key,
 * what was expected and what was found)
 */
PalConfig *
pal_config_load(const gchar *path, GError **error)
{
	gsize len = 0;
	g_autofree gchar *data = NULL;
	g_autofree gchar *abs_path = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autoptr(PalConfig) self = NULL;
	g_auto(PalConfigParser) p = {path, NULL, NULL, NULL};

	g_return_val_if_fail(path != NULL, NULL);

	if (!pal_file_read_bounded(path, PAL_CONFIG_MAX_FILE_SIZE, &data, &len, error))
		return NULL;

	abs_path = g_canonicalize_filename(path, NULL);
	p.dir = g_path_get_dirname(abs_path);
	p.lines = g_strsplit(data, "\n", -1);
	p.kf = g_key_file_new();
	g_key_file_set_list_separator(p.kf, ';');
	if (!g_key_file_load_from_data(p.kf, data, len, G_KEY_FILE_NONE, &error_local)) {
		guint line = pal_config_find_syntax_error_line(&p);
		if (line > 0) {
			g_set_error(error,
				    PAL_ERROR,
				    PAL_ERROR_INVALID_DATA,
				    "%s:%u: %s",
				    path,
				    line,
				    error_local->message);
		} else {
			g_set_error(error,
				    PAL_ERROR,
				    PAL_ERROR_INVALID_DATA,
				    "%s: %s",
				    path,
				    error_local->message);
		}
		return NULL;
	}

	self = g_object_new(PAL_TYPE_CONFIG, NULL);
	self->path = g_strdup(path);
	if (!pal_config_load_keys(self, &p, error))
		return NULL;
	pal_config_resolve_workers(self);
	return g_steal_pointer(&self);
}

const gchar *
pal_config_get_path(PalConfig *self)
{
	g_return_val_if_fail(PAL_IS_CONFIG(self), NULL);
	return self->path;
}

/* (transfer none): at least one "host:port" or "[v6]:port" */
GStrv
pal_config_get_listen(PalConfig *self)
{
	g_return_val_if_fail(PAL_IS_CONFIG(self), NULL);
	return self->listen;
}

guint
pal_config_get_workers(PalConfig *self)
{
	g_return_val_if_fail(PAL_IS_CONFIG(self), 0);
	return self->workers;
}

gsize
pal_config_get_max_body_size(PalConfig *self)
{
	g_return_val_if_fail(PAL_IS_CONFIG(self), 0);
	return self->max_body_size;
}

guint
pal_config_get_max_depth(PalConfig *self)
{
	g_return_val_if_fail(PAL_IS_CONFIG(self), 0);
	return self->max_depth;
}

guint
pal_config_get_header_timeout(PalConfig *self)
{
	g_return_val_if_fail(PAL_IS_CONFIG(self), 0);
	return self->header_timeout;
}

guint
pal_config_get_idle_timeout(PalConfig *self)
{
	g_return_val_if_fail(PAL_IS_CONFIG(self), 0);
	return self->idle_timeout;
}

guint
pal_config_get_request_timeout(PalConfig *self)
{
	g_return_val_if_fail(PAL_IS_CONFIG(self), 0);
	return self->request_timeout;
}

guint
pal_config_get_shutdown_timeout(PalConfig *self)
{
	g_return_val_if_fail(PAL_IS_CONFIG(self), 0);
	return self->shutdown_timeout;
}

guint
pal_config_get_max_connections(PalConfig *self)
{
	g_return_val_if_fail(PAL_IS_CONFIG(self), 0);
	return self->max_connections;
}

const gchar *
pal_config_get_store_backend(PalConfig *self)
{
	g_return_val_if_fail(PAL_IS_CONFIG(self), NULL);
	return self->store_backend;
}

const gchar *
pal_config_get_store_path(PalConfig *self)
{
	g_return_val_if_fail(PAL_IS_CONFIG(self), NULL);
	return self->store_path;
}

PalDurability
pal_config_get_durability(PalConfig *self)
{
	g_return_val_if_fail(PAL_IS_CONFIG(self), PAL_DURABILITY_CRASH);
	return self->durability;
}

const gchar *
pal_config_get_endpoints_dir(PalConfig *self)
{
	g_return_val_if_fail(PAL_IS_CONFIG(self), NULL);
	return self->endpoints_dir;
}

const gchar *
pal_config_get_plugins_dir(PalConfig *self)
{
	g_return_val_if_fail(PAL_IS_CONFIG(self), NULL);
	return self->plugins_dir;
}

guint
pal_config_get_delivery_max_conns(PalConfig *self)
{
	g_return_val_if_fail(PAL_IS_CONFIG(self), 0);
	return self->delivery_max_conns;
}

guint
pal_config_get_delivery_max_conns_per_host(PalConfig *self)
{
	g_return_val_if_fail(PAL_IS_CONFIG(self), 0);
	return self->delivery_max_conns_per_host;
}

guint
pal_config_get_delivery_max_queue_per_endpoint(PalConfig *self)
{
	g_return_val_if_fail(PAL_IS_CONFIG(self), 0);
	return self->delivery_max_queue_per_endpoint;
}

guint
pal_config_get_delivery_max_queue_per_session(PalConfig *self)
{
	g_return_val_if_fail(PAL_IS_CONFIG(self), 0);
	return self->delivery_max_queue_per_session;
}

/* bytes of messages and outputs waiting per worker */
guint64
pal_config_get_delivery_max_queue_bytes(PalConfig *self)
{
	g_return_val_if_fail(PAL_IS_CONFIG(self), 0);
	return (guint64)self->delivery_max_queue_mib * 1024 * 1024;
}

guint
pal_config_get_delivery_max_queue(PalConfig *self)
{
	g_return_val_if_fail(PAL_IS_CONFIG(self), 0);
	return self->delivery_max_queue;
}

PalBusType
pal_config_get_bus(PalConfig *self)
{
	g_return_val_if_fail(PAL_IS_CONFIG(self), PAL_BUS_SYSTEM);
	return self->bus;
}

const gchar *
pal_config_get_data_dir(PalConfig *self)
{
	g_return_val_if_fail(PAL_IS_CONFIG(self), NULL);
	return self->data_dir;
}
