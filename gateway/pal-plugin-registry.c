/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "pal-plugin-registry.h"

#define PAL_PLUGIN_FILE_PREFIX "libpal-plugin-"
#define PAL_PLUGIN_FILE_SUFFIX ".so"
#define PAL_PLUGIN_BUILTIN_PATH "(built-in)"

/**
 * PalPluginRegistry:
 *
 * The plugins palaverd knows: shared objects found in the plugin directory plus plugins linked
 * into the binary, indexed by extension point and name, and the files it refused with why.
 *
 * Load everything on the main thread at start-up. Afterwards the registry is only read, so
 * pal_plugin_registry_lookup() and pal_plugin_registry_create() may be called from the worker
 * threads as long as nothing is loaded any more.
 *
 * Plugin names are one namespace: a name is refused when any plugin of that name is loaded
 * already, whatever kinds either implements. The check runs before the second file is opened,
 * because a second copy of a plugin would register its GTypes twice, which GObject cannot do.
 */
struct _PalPluginRegistry {
	GObject parent_instance;
	gboolean check_permissions;
	GPtrArray *plugins; /* element-type PalPluginInfo, in load order */
	GPtrArray *refused; /* element-type PalPluginRefusal, in load order */
};

G_DEFINE_FINAL_TYPE(PalPluginRegistry, pal_plugin_registry, G_TYPE_OBJECT)

typedef const PalPluginDesc *(*PalPluginGetDescFunc)(void);

/**
 * pal_plugin_info_free:
 * @info: (nullable): a plugin info
 */
void
pal_plugin_info_free(PalPluginInfo *info)
{
	if (info == NULL)
		return;
	g_free(info->name);
	g_free(info->version);
	g_free(info->license);
	g_free(info->description);
	g_free(info->path);
	g_free(info);
}

/**
 * pal_plugin_refusal_free:
 * @refusal: (nullable): a refusal
 */
void
pal_plugin_refusal_free(PalPluginRefusal *refusal)
{
	if (refusal == NULL)
		return;
	g_free(refusal->path);
	g_free(refusal->reason);
	g_free(refusal);
}

static PalPluginInfo *
pal_plugin_registry_find(PalPluginRegistry *self, const gchar *name)
{
	for (guint i = 0; i < self->plugins->len; i++) {
		PalPluginInfo *info = g_ptr_array_index(self->plugins, i);
		if (g_strcmp0(info->name, name) == 0)
			return info;
	}
	return NULL;
}

static PalPluginInfo *
pal_plugin_registry_find_kind(PalPluginRegistry *self, PalPluginKind kind, const gchar *name)
{
	PalPluginInfo *info = pal_plugin_registry_find(self, name);

	if (info == NULL || (info->kinds & (1u << kind)) == 0)
		return NULL;
	return info;
}

/* "flow, nlu" for a kinds bit mask */
static gchar *
pal_plugin_registry_kinds_to_string(guint kinds)
{
	GString *str = g_string_new(NULL);

	for (guint k = 0; k < PAL_PLUGIN_KIND_LAST; k++) {
		if ((kinds & (1u << k)) == 0)
			continue;
		if (str->len > 0)
			g_string_append(str, ", ");
		g_string_append(str, pal_plugin_kind_to_string(k));
	}
	return g_string_free(str, FALSE);
}

static void
pal_plugin_registry_refuse(PalPluginRegistry *self, const gchar *path, const gchar *reason)
{
	PalPluginRefusal *refusal = g_new0(PalPluginRefusal, 1);

	/* a refusal is never fatal, and tests make warnings fatal: log it as a message */
	g_message("refused plugin %s: %s", path, reason);
	refusal->path = g_strdup(path);
	refusal->reason = g_strdup(reason);
	g_ptr_array_add(self->refused, refusal);
}

/* the <name> of libpal-plugin-<name>.so becomes part of a C symbol name */
static gboolean
pal_plugin_registry_name_is_valid(const gchar *name)
{
	if (name == NULL || name[0] == '\0')
		return FALSE;
	for (const gchar *p = name; *p != '\0'; p++) {
		if (!g_ascii_isalnum(*p) && *p != '_')
			return FALSE;
	}
	return TRUE;
}

static gboolean
pal_plugin_registry_check_name(const gchar *name, GError **error)
{
	if (!pal_plugin_registry_name_is_valid(name)) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_PLUGIN,
			    "plugin name '%s' is not valid (letters, digits and '_' only)",
			    name != NULL ? name : "");
		return FALSE;
	}
	return TRUE;
}

static gboolean
pal_plugin_registry_check_duplicate(PalPluginRegistry *self, const gchar *name, GError **error)
{
	PalPluginInfo *info = pal_plugin_registry_find(self, name);

	if (info != NULL) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_EXISTS,
			    "duplicate plugin name '%s', already loaded from %s",
			    name,
			    info->path);
		return FALSE;
	}
	return TRUE;
}

/* before anything of the file is mapped: it must be a regular file that only root can change */
static gboolean
pal_plugin_registry_check_file(PalPluginRegistry *self, const gchar *path, GError **error)
{
	struct stat st;

	if (lstat(path, &st) != 0) {
		gint errsv = errno;
		g_set_error(error,
			    G_FILE_ERROR,
			    g_file_error_from_errno(errsv),
			    "cannot stat file: %s",
			    g_strerror(errsv));
		return FALSE;
	}
	if (S_ISLNK(st.st_mode)) {
		g_set_error_literal(error,
				    PAL_ERROR,
				    PAL_ERROR_PERMISSION_DENIED,
				    "file is a symbolic link");
		return FALSE;
	}
	if (!S_ISREG(st.st_mode)) {
		g_set_error_literal(error,
				    PAL_ERROR,
				    PAL_ERROR_PERMISSION_DENIED,
				    "not a regular file");
		return FALSE;
	}
	if (!self->check_permissions)
		return TRUE;
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_PERMISSION_DENIED,
			    "file is writable by group or others (mode %04o)",
			    (guint)(st.st_mode & 07777));
		return FALSE;
	}
	if (st.st_uid != 0) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_PERMISSION_DENIED,
			    "file is owned by uid %u, not root",
			    (guint)st.st_uid);
		return FALSE;
	}
	return TRUE;
}

/* what can be checked without running plugin code beyond the descriptor function;
 * @expected_name is the name from the file name, or %NULL for a built-in */
static gboolean
pal_plugin_registry_check_desc(const PalPluginDesc *desc,
			       const gchar *expected_name,
			       GError **error)
{
	/* abi_major and abi_minor lead the struct in every ABI: nothing else may be read before
	 * they match */
	if (desc->abi_major != PAL_PLUGIN_ABI_MAJOR || desc->abi_minor > PAL_PLUGIN_ABI_MINOR) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_PLUGIN,
			    "ABI %u.%u, this palaverd supports %u.%u",
			    desc->abi_major,
			    desc->abi_minor,
			    (guint)PAL_PLUGIN_ABI_MAJOR,
			    (guint)PAL_PLUGIN_ABI_MINOR);
		return FALSE;
	}
	if (expected_name != NULL && g_strcmp0(desc->name, expected_name) != 0) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_PLUGIN,
			    "descriptor name '%s' does not match the file name (expected '%s')",
			    desc->name != NULL ? desc->name : "(null)",
			    expected_name);
		return FALSE;
	}
	if (!pal_plugin_registry_check_name(desc->name, error))
		return FALSE;
	if (desc->get_type == NULL) {
		g_set_error_literal(error,
				    PAL_ERROR,
				    PAL_ERROR_PLUGIN,
				    "descriptor has no get_type function");
		return FALSE;
	}
	return TRUE;
}

/* calls desc->get_type(), so the code behind @desc must stay mapped from here on */
static gboolean
pal_plugin_registry_register(PalPluginRegistry *self,
			     const PalPluginDesc *desc,
			     const gchar *path,
			     GError **error)
{
	PalPluginInfo *info;
	GType type = desc->get_type();
	guint kinds = 0;

	if (type == G_TYPE_INVALID) {
		g_set_error_literal(error,
				    PAL_ERROR,
				    PAL_ERROR_PLUGIN,
				    "get_type() returned no type");
		return FALSE;
	}
	if (!G_TYPE_IS_OBJECT(type) || G_TYPE_IS_ABSTRACT(type)) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_PLUGIN,
			    "type %s is not an instantiable GObject type",
			    g_type_name(type));
		return FALSE;
	}
	for (guint k = 0; k < PAL_PLUGIN_KIND_LAST; k++) {
		if (g_type_is_a(type, pal_plugin_kind_get_interface(k)))
			kinds |= 1u << k;
	}
	if (kinds == 0) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_PLUGIN,
			    "type %s implements no extension point (flow, nlu, transformer or "
			    "handover)",
			    g_type_name(type));
		return FALSE;
	}
	/* a prerequisite of all four interfaces, so this only fails for a broken libpalaver */
	if (!g_type_is_a(type, PAL_TYPE_EXTENSION)) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_PLUGIN,
			    "type %s does not implement PalExtension",
			    g_type_name(type));
		return FALSE;
	}
	for (guint k = 0; k < PAL_PLUGIN_KIND_LAST; k++) {
		PalPluginInfo *other;
		if ((kinds & (1u << k)) == 0)
			continue;
		other = pal_plugin_registry_find_kind(self, k, desc->name);
		if (other != NULL) {
			g_set_error(error,
				    PAL_ERROR,
				    PAL_ERROR_EXISTS,
				    "duplicate plugin name '%s', already loaded from %s",
				    desc->name,
				    other->path);
			return FALSE;
		}
	}

	info = g_new0(PalPluginInfo, 1);
	info->name = g_strdup(desc->name);
	info->version = g_strdup(desc->version != NULL ? desc->version : "");
	info->license = g_strdup(desc->license != NULL ? desc->license : "");
	info->description = g_strdup(desc->description != NULL ? desc->description : "");
	info->path = g_strdup(path);
	info->type = type;
	info->kinds = kinds;
	g_ptr_array_add(self->plugins, info);
	g_debug("loaded plugin %s %s from %s", info->name, info->version, info->path);
	return TRUE;
}

static gboolean
pal_plugin_registry_load_module(PalPluginRegistry *self,
				GModule *module,
				const gchar *name,
				const gchar *path,
				GError **error)
{
	const PalPluginDesc *desc;
	gpointer symbol = NULL;
	g_autofree gchar *symbol_name = g_strdup_printf("pal_plugin_%s_get_desc", name);

	if (!g_module_symbol(module, symbol_name, &symbol) || symbol == NULL) {
		g_set_error(error, PAL_ERROR, PAL_ERROR_PLUGIN, "missing symbol %s", symbol_name);
		return FALSE;
	}
	desc = ((PalPluginGetDescFunc)symbol)();
	if (desc == NULL) {
		g_set_error(error, PAL_ERROR, PAL_ERROR_PLUGIN, "%s() returned NULL", symbol_name);
		return FALSE;
	}
	if (!pal_plugin_registry_check_desc(desc, name, error))
		return FALSE;

	/* get_type() registers GTypes, and those can never be unregistered: from here on the
	 * module stays mapped even when it is refused */
	g_module_make_resident(module);
	return pal_plugin_registry_register(self, desc, path, error);
}

static gboolean
pal_plugin_registry_load_file(PalPluginRegistry *self,
			      const gchar *path,
			      const gchar *name,
			      GError **error)
{
	GModule *module;
	gboolean ret;

	if (!pal_plugin_registry_check_file(self, path, error))
		return FALSE;
	if (!pal_plugin_registry_check_name(name, error))
		return FALSE;
	if (!pal_plugin_registry_check_duplicate(self, name, error))
		return FALSE;

	/* local: plugins do not see each other's symbols; immediate binding: an unresolved
	 * symbol fails here and not in the middle of a turn */
	module = g_module_open_full(path, G_MODULE_BIND_LOCAL, error);
	if (module == NULL) {
		g_prefix_error(error, "cannot load: ");
		return FALSE;
	}
	ret = pal_plugin_registry_load_module(self, module, name, path, error);

	/* unloads the module unless it was made resident */
	g_module_close(module);
	return ret;
}

static gint
pal_plugin_registry_strcmp_cb(gconstpointer a, gconstpointer b)
{
	return g_strcmp0(*(const gchar *const *)a, *(const gchar *const *)b);
}

/**
 * pal_plugin_registry_load_directory:
 * @dir: a folder
 *
 * Loads every `libpal-plugin-<name>.so` of @dir, in byte order of the file names; other
 * files are ignored. Each file that cannot be used is logged and recorded (see
 * pal_plugin_registry_get_refused()) and the others are still loaded.
 *
 * Returns: %FALSE only when @dir cannot be read
 */
gboolean
pal_plugin_registry_load_directory(PalPluginRegistry *self, const gchar *dir, GError **error)
{
	const gchar *entry;
	g_autofree gchar *dir_abs = NULL;
	g_autoptr(GDir) gdir = NULL;
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);

	g_return_val_if_fail(PAL_IS_PLUGIN_REGISTRY(self), FALSE);
	g_return_val_if_fail(dir != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	gdir = g_dir_open(dir, 0, error);
	if (gdir == NULL)
		return FALSE;
	while ((entry = g_dir_read_name(gdir)) != NULL) {
		if (g_str_has_prefix(entry, PAL_PLUGIN_FILE_PREFIX) &&
		    g_str_has_suffix(entry, PAL_PLUGIN_FILE_SUFFIX) &&
		    strlen(entry) >= strlen(PAL_PLUGIN_FILE_PREFIX PAL_PLUGIN_FILE_SUFFIX))
			g_ptr_array_add(names, g_strdup(entry));
	}
	g_ptr_array_sort(names, pal_plugin_registry_strcmp_cb);

	/* absolute paths in the listing, and for dlopen(), which only searches for bare names */
	dir_abs = g_canonicalize_filename(dir, NULL);
	for (guint i = 0; i < names->len; i++) {
		const gchar *fn = g_ptr_array_index(names, i);
		g_autofree gchar *path = g_build_filename(dir_abs, fn, NULL);
		g_autofree gchar *name = g_strndup(fn + strlen(PAL_PLUGIN_FILE_PREFIX),
						   strlen(fn) - strlen(PAL_PLUGIN_FILE_PREFIX) -
						       strlen(PAL_PLUGIN_FILE_SUFFIX));
		g_autoptr(GError) error_local = NULL;

		if (!pal_plugin_registry_load_file(self, path, name, &error_local))
			pal_plugin_registry_refuse(self, path, error_local->message);
	}
	return TRUE;
}

/**
 * pal_plugin_registry_add_builtin:
 * @desc: the descriptor of a plugin linked into the binary
 *
 * Registers a plugin that is part of the program, with the same checks as a loaded file
 * except the file name. A refused built-in is also recorded with the path `(built-in)`.
 *
 * Returns: %TRUE when the plugin was registered
 */
gboolean
pal_plugin_registry_add_builtin(PalPluginRegistry *self, const PalPluginDesc *desc, GError **error)
{
	g_autoptr(GError) error_local = NULL;

	g_return_val_if_fail(PAL_IS_PLUGIN_REGISTRY(self), FALSE);
	g_return_val_if_fail(desc != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	if (!pal_plugin_registry_check_desc(desc, NULL, &error_local) ||
	    !pal_plugin_registry_check_duplicate(self, desc->name, &error_local) ||
	    !pal_plugin_registry_register(self, desc, PAL_PLUGIN_BUILTIN_PATH, &error_local)) {
		pal_plugin_registry_refuse(self, PAL_PLUGIN_BUILTIN_PATH, error_local->message);
		g_propagate_error(error, g_steal_pointer(&error_local));
		return FALSE;
	}
	return TRUE;
}

/**
 * pal_plugin_registry_set_check_permissions:
 * @check: %FALSE to load files that are not owned by root or are writable by group or others
 *
 * On by default. Only tests and developers running from a build tree turn it off. Symbolic
 * links and other non-regular files are refused either way.
 */
void
pal_plugin_registry_set_check_permissions(PalPluginRegistry *self, gboolean check)
{
	g_return_if_fail(PAL_IS_PLUGIN_REGISTRY(self));
	self->check_permissions = check;
}

/**
 * pal_plugin_registry_lookup:
 * @kind: an extension point
 * @name: a plugin name
 *
 * Returns: the type implementing @kind of plugin @name, or %G_TYPE_INVALID
 */
GType
pal_plugin_registry_lookup(PalPluginRegistry *self, PalPluginKind kind, const gchar *name)
{
	PalPluginInfo *info;

	g_return_val_if_fail(PAL_IS_PLUGIN_REGISTRY(self), G_TYPE_INVALID);
	g_return_val_if_fail(kind < PAL_PLUGIN_KIND_LAST, G_TYPE_INVALID);
	g_return_val_if_fail(name != NULL, G_TYPE_INVALID);

	info = pal_plugin_registry_find_kind(self, kind, name);
	return info != NULL ? info->type : G_TYPE_INVALID;
}

/* "echo, graph" or "none" */
static gchar *
pal_plugin_registry_known_names(PalPluginRegistry *self, PalPluginKind kind)
{
	g_autoptr(GPtrArray) names = g_ptr_array_new();

	for (guint i = 0; i < self->plugins->len; i++) {
		PalPluginInfo *info = g_ptr_array_index(self->plugins, i);
		if ((info->kinds & (1u << kind)) != 0)
			g_ptr_array_add(names, info->name);
	}
	if (names->len == 0)
		return g_strdup("none");
	g_ptr_array_sort(names, pal_plugin_registry_strcmp_cb);
	g_ptr_array_add(names, NULL);
	return g_strjoinv(", ", (gchar **)names->pdata);
}

/* the options without `type`, which selects the plugin and is none of its options */
static JsonObject *
pal_plugin_registry_strip_type(JsonObject *options)
{
	JsonObject *copy;
	JsonObjectIter iter;
	const gchar *member;
	JsonNode *node;

	if (options == NULL)
		return json_object_new();
	if (!json_object_has_member(options, "type"))
		return json_object_ref(options);
	copy = json_object_new();
	json_object_iter_init_ordered(&iter, options);
	while (json_object_iter_next_ordered(&iter, &member, &node)) {
		if (g_strcmp0(member, "type") != 0)
			json_object_set_member(copy, member, json_node_copy(node));
	}
	return copy;
}

/**
 * pal_plugin_registry_create:
 * @kind: the extension point the instance is for
 * @name: the plugin name, the `type` of the endpoint's plugin object
 * @endpoint: the endpoint the instance serves
 * @options: (nullable): the plugin's object from the endpoint file; a `type` member is not
 *   handed to the plugin
 *
 * Creates a new instance and lets it check @options with pal_extension_setup().
 *
 * Returns: (transfer full): the instance, implementing the interface of @kind, or %NULL
 * with a %PAL_ERROR_PLUGIN error that names the kind and the plugin
 */
GObject *
pal_plugin_registry_create(PalPluginRegistry *self,
			   PalPluginKind kind,
			   const gchar *name,
			   PalEndpointInfo *endpoint,
			   JsonObject *options,
			   GError **error)
{
	PalPluginInfo *info;
	const gchar *kind_str;
	g_autoptr(GObject) instance = NULL;
	g_autoptr(JsonObject) plugin_options = NULL;
	g_autoptr(GError) error_local = NULL;

	g_return_val_if_fail(PAL_IS_PLUGIN_REGISTRY(self), NULL);
	g_return_val_if_fail(kind < PAL_PLUGIN_KIND_LAST, NULL);
	g_return_val_if_fail(name != NULL, NULL);
	g_return_val_if_fail(PAL_IS_ENDPOINT_INFO(endpoint), NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	kind_str = pal_plugin_kind_to_string(kind);
	info = pal_plugin_registry_find_kind(self, kind, name);
	if (info == NULL) {
		PalPluginInfo *other = pal_plugin_registry_find(self, name);
		g_autofree gchar *known = pal_plugin_registry_known_names(self, kind);
		if (other != NULL) {
			g_autofree gchar *kinds = pal_plugin_registry_kinds_to_string(other->kinds);
			g_set_error(error,
				    PAL_ERROR,
				    PAL_ERROR_PLUGIN,
				    "%s plugin '%s' is not installed, plugin '%s' provides: %s "
				    "(known %s plugins: %s)",
				    kind_str,
				    name,
				    name,
				    kinds,
				    kind_str,
				    known);
			return NULL;
		}
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_PLUGIN,
			    "%s plugin '%s' is not installed (known %s plugins: %s)",
			    kind_str,
			    name,
			    kind_str,
			    known);
		return NULL;
	}

	instance = g_object_new(info->type, NULL);
	if (g_object_is_floating(instance))
		g_object_ref_sink(instance);
	if (!g_type_is_a(G_OBJECT_TYPE(instance), pal_plugin_kind_get_interface(kind)) ||
	    !PAL_IS_EXTENSION(instance)) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_PLUGIN,
			    "%s plugin '%s': type %s does not implement %s",
			    kind_str,
			    name,
			    G_OBJECT_TYPE_NAME(instance),
			    g_type_name(pal_plugin_kind_get_interface(kind)));
		return NULL;
	}
	plugin_options = pal_plugin_registry_strip_type(options);
	if (!pal_extension_setup(PAL_EXTENSION(instance), endpoint, plugin_options, &error_local)) {
		g_set_error(error,
			    PAL_ERROR,
			    PAL_ERROR_PLUGIN,
			    "%s plugin '%s': %s",
			    kind_str,
			    name,
			    error_local != NULL ? error_local->message : "setup failed");
		return NULL;
	}
	return g_steal_pointer(&instance);
}

/**
 * pal_plugin_registry_get_plugins:
 *
 * Returns: (transfer none) (element-type PalPluginInfo): the registered plugins in load order,
 * owned by the registry
 */
GPtrArray *
pal_plugin_registry_get_plugins(PalPluginRegistry *self)
{
	g_return_val_if_fail(PAL_IS_PLUGIN_REGISTRY(self), NULL);
	return self->plugins;
}

/**
 * pal_plugin_registry_get_refused:
 *
 * Returns: (transfer none) (element-type PalPluginRefusal): the refused files in load order,
 * owned by the registry
 */
GPtrArray *
pal_plugin_registry_get_refused(PalPluginRegistry *self)
{
	g_return_val_if_fail(PAL_IS_PLUGIN_REGISTRY(self), NULL);
	return self->refused;
}

static gint
pal_plugin_registry_info_cmp_cb(gconstpointer a, gconstpointer b)
{
	const PalPluginInfo *ia = *(const PalPluginInfo *const *)a;
	const PalPluginInfo *ib = *(const PalPluginInfo *const *)b;
	return g_strcmp0(ia->name, ib->name);
}

/**
 * pal_plugin_registry_describe:
 *
 * Renders what `palaverd --list-plugins` prints: the loaded plugins sorted by name, each with
 * the extension points it implements, version, licence, description and path; then the refused
 * files in load order, each with the reason.
 *
 * Returns: (transfer full): the listing, lines ending in `\n`
 */
gchar *
pal_plugin_registry_describe(PalPluginRegistry *self)
{
	GString *str = g_string_new(NULL);
	g_autoptr(GPtrArray) sorted = NULL;

	g_return_val_if_fail(PAL_IS_PLUGIN_REGISTRY(self), NULL);

	/* the copy would inherit the free function of the elements it only borrows */
	sorted = g_ptr_array_copy(self->plugins, NULL, NULL);
	g_ptr_array_set_free_func(sorted, NULL);
	g_ptr_array_sort(sorted, pal_plugin_registry_info_cmp_cb);
	g_string_append_printf(str,
			       "Loaded plugins (ABI %u.%u):%s\n",
			       (guint)PAL_PLUGIN_ABI_MAJOR,
			       (guint)PAL_PLUGIN_ABI_MINOR,
			       sorted->len == 0 ? " none" : "");
	for (guint i = 0; i < sorted->len; i++) {
		PalPluginInfo *info = g_ptr_array_index(sorted, i);
		g_autofree gchar *kinds = pal_plugin_registry_kinds_to_string(info->kinds);
		g_string_append_printf(str, "  %s [%s] %s", info->name, kinds, info->version);
		if (info->license[0] != '\0')
			g_string_append_printf(str, ", %s", info->license);
		g_string_append_c(str, '\n');
		if (info->description[0] != '\0')
			g_string_append_printf(str, "    %s\n", info->description);
		g_string_append_printf(str, "    %s\n", info->path);
	}
	g_string_append_printf(str, "Refused plugins:%s\n", self->refused->len == 0 ? " none" : "");
	for (guint i = 0; i < self->refused->len; i++) {
		PalPluginRefusal *refusal = g_ptr_array_index(self->refused, i);
		g_string_append_printf(str, "  %s\n    %s\n", refusal->path, refusal->reason);
	}
	return g_string_free(str, FALSE);
}

static void
pal_plugin_registry_finalize(GObject *object)
{
	PalPluginRegistry *self = PAL_PLUGIN_REGISTRY(object);

	g_ptr_array_unref(self->plugins);
	g_ptr_array_unref(self->refused);
	G_OBJECT_CLASS(pal_plugin_registry_parent_class)->finalize(object);
}

static void
pal_plugin_registry_class_init(PalPluginRegistryClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = pal_plugin_registry_finalize;
}

static void
pal_plugin_registry_init(PalPluginRegistry *self)
{
	self->check_permissions = TRUE;
	self->plugins = g_ptr_array_new_with_free_func((GDestroyNotify)pal_plugin_info_free);
	self->refused = g_ptr_array_new_with_free_func((GDestroyNotify)pal_plugin_refusal_free);
}

/**
 * pal_plugin_registry_new:
 *
 * Returns: (transfer full): an empty registry that checks file permissions
 */
PalPluginRegistry *
pal_plugin_registry_new(void)
{
	return g_object_new(PAL_TYPE_PLUGIN_REGISTRY, NULL);
}
