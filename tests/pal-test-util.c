/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pal-test-util.h"

#define PAL_TEST_DAEMON_START_TIMEOUT_MS 10000
#define PAL_TEST_KILL_WAIT_MS		 5000
#define PAL_TEST_STDOUT_DRAIN_MS	 2000
#define PAL_TEST_HTTP_TIMEOUT_SECS	 30

/* ======================================================================================== */
/* PalTestReceiver */

/* "http://HOST:PORT/" + "/path" or "path" → "http://HOST:PORT/path" */
static gchar *
pal_test_join_url(const gchar *base, const gchar *path)
{
	if (path == NULL)
		path = "";
	while (path[0] == '/')
		path++;
	return g_strconcat(base, path, NULL);
}

struct _PalTestReceiver {
	GMutex mutex;
	GCond cond;
	GThread *thread;
	GMainContext *context;
	GMainLoop *loop;
	PalReceiver *receiver; /* from outside its thread: only the thread-safe methods */
	GError *error;
	gboolean ready;
	gchar *base_url;
	guint port;
};

static gpointer
pal_test_receiver_thread(gpointer user_data)
{
	PalTestReceiver *self = user_data;
	g_autoptr(PalReceiver) receiver = NULL;
	g_autoptr(GError) error = NULL;
	gboolean ok;

	/* pushed before the server exists, so that it belongs to this thread (PLATFORM-NOTES 1) */
	g_main_context_push_thread_default(self->context);
	receiver = pal_receiver_new();
	ok = pal_receiver_listen(receiver, "127.0.0.1:0", &error);

	g_mutex_lock(&self->mutex);
	if (ok) {
		self->receiver = g_object_ref(receiver);
		self->port = pal_receiver_get_port(receiver);
		self->base_url = g_strdup_printf("http://127.0.0.1:%u/", self->port);
	} else {
		self->error = g_steal_pointer(&error);
	}
	self->ready = TRUE;
	g_cond_broadcast(&self->cond);
	g_mutex_unlock(&self->mutex);

	if (ok)
		g_main_loop_run(self->loop);

	/* the server and its sources belong to this context: stop them here */
	pal_receiver_stop(receiver);
	while (g_main_context_iteration(self->context, FALSE))
		;
	g_main_context_pop_thread_default(self->context);
	return NULL;
}

/**
 * pal_test_receiver_new:
 *
 * Returns: (transfer full): a receiver, not started yet; see pal_test_receiver_start()
 */
PalTestReceiver *
pal_test_receiver_new(void)
{
	PalTestReceiver *self = g_new0(PalTestReceiver, 1);

	g_mutex_init(&self->mutex);
	g_cond_init(&self->cond);
	self->context = g_main_context_new();
	self->loop = g_main_loop_new(self->context, FALSE);
	return self;
}

/**
 * pal_test_receiver_start:
 *
 * Starts a thread with its own GMainContext that runs a #PalReceiver on 127.0.0.1:0, and
 * returns once it listens.
 */
gboolean
pal_test_receiver_start(PalTestReceiver *self, GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(self->thread == NULL, FALSE);

	self->ready = FALSE;
	self->thread = g_thread_new("pal-test-receiver", pal_test_receiver_thread, self);
	g_mutex_lock(&self->mutex);
	while (!self->ready)
		g_cond_wait(&self->cond, &self->mutex);
	g_mutex_unlock(&self->mutex);

	if (self->error != NULL) {
		g_thread_join(g_steal_pointer(&self->thread));
		g_propagate_error(error, g_steal_pointer(&self->error));
		return FALSE;
	}
	return TRUE;
}

/**
 * pal_test_receiver_new_started:
 *
 * Returns: (transfer full): a started receiver; fails the test if it cannot listen
 */
PalTestReceiver *
pal_test_receiver_new_started(void)
{
	PalTestReceiver *self = pal_test_receiver_new();
	g_autoptr(GError) error = NULL;

	pal_test_receiver_start(self, &error);
	g_assert_no_error(error);
	return self;
}

static gboolean
pal_test_receiver_quit_cb(gpointer user_data)
{
	PalTestReceiver *self = user_data;

	g_main_loop_quit(self->loop);
	return G_SOURCE_REMOVE;
}

/**
 * pal_test_receiver_stop:
 *
 * Stops the receiver and joins its thread. The recorded requests stay readable. Idempotent.
 */
void
pal_test_receiver_stop(PalTestReceiver *self)
{
	GSource *source;

	g_return_if_fail(self != NULL);
	if (self->thread == NULL)
		return;
	/* a source, not g_main_loop_quit() now: the loop may not be running yet */
	source = g_idle_source_new();
	g_source_set_callback(source, pal_test_receiver_quit_cb, self, NULL);
	g_source_attach(source, self->context);
	g_source_unref(source);
	g_thread_join(g_steal_pointer(&self->thread));
}

void
pal_test_receiver_free(PalTestReceiver *self)
{
	if (self == NULL)
		return;
	pal_test_receiver_stop(self);
	g_clear_object(&self->receiver);
	g_clear_error(&self->error);
	g_main_loop_unref(self->loop);
	g_main_context_unref(self->context);
	g_free(self->base_url);
	g_mutex_clear(&self->mutex);
	g_cond_clear(&self->cond);
	g_free(self);
}

/**
 * pal_test_receiver_get_receiver:
 *
 * Returns: (transfer none): the receiver; from the test thread call only its thread-safe
 *   methods (setters, counts, recorded requests, waiting)
 */
PalReceiver *
pal_test_receiver_get_receiver(PalTestReceiver *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(self->receiver != NULL, NULL);
	return self->receiver;
}

guint
pal_test_receiver_get_port(PalTestReceiver *self)
{
	g_return_val_if_fail(self != NULL, 0);
	return self->port;
}

/**
 * pal_test_receiver_get_base_url:
 *
 * Returns: `http://127.0.0.1:PORT/`, with the trailing slash
 */
const gchar *
pal_test_receiver_get_base_url(PalTestReceiver *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(self->base_url != NULL, NULL);
	return self->base_url;
}

/**
 * pal_test_receiver_get_url:
 * @path: (nullable): `/hook` or `hook`, or %NULL for `/`
 *
 * Returns: (transfer full): the base URL plus @path, with one slash between
 */
gchar *
pal_test_receiver_get_url(PalTestReceiver *self, const gchar *path)
{
	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(self->base_url != NULL, NULL);
	return pal_test_join_url(self->base_url, path);
}

/**
 * pal_test_receiver_wait_count:
 *
 * Returns: %TRUE once at least @count deliveries arrived, %FALSE after @timeout_ms
 */
gboolean
pal_test_receiver_wait_count(PalTestReceiver *self, guint count, guint timeout_ms)
{
	return pal_receiver_wait_count(pal_test_receiver_get_receiver(self), count, timeout_ms);
}

guint
pal_test_receiver_get_count(PalTestReceiver *self)
{
	return pal_receiver_get_count(pal_test_receiver_get_receiver(self));
}

/**
 * pal_test_receiver_dup_requests:
 *
 * Returns: (transfer container) (element-type PalReceivedRequest): the recorded deliveries
 */
GPtrArray *
pal_test_receiver_dup_requests(PalTestReceiver *self)
{
	return pal_receiver_dup_requests(pal_test_receiver_get_receiver(self));
}

/**
 * pal_test_receiver_dup_request:
 * @index: 0-based position among the recorded deliveries
 *
 * Returns: (transfer full) (nullable): that delivery, or %NULL if there are fewer
 */
PalReceivedRequest *
pal_test_receiver_dup_request(PalTestReceiver *self, guint index)
{
	g_autoptr(GPtrArray) requests = pal_test_receiver_dup_requests(self);

	if (index >= requests->len)
		return NULL;
	return pal_received_request_ref(g_ptr_array_index(requests, index));
}

void
pal_test_receiver_clear_requests(PalTestReceiver *self)
{
	pal_receiver_clear_requests(pal_test_receiver_get_receiver(self));
}

void
pal_test_receiver_set_status(PalTestReceiver *self, guint status)
{
	pal_receiver_set_status(pal_test_receiver_get_receiver(self), status);
}

/**
 * pal_test_receiver_set_status_sequence:
 *
 * Answers the next deliveries with @statuses in turn (e.g. {500, 500}), then the default.
 */
void
pal_test_receiver_set_status_sequence(PalTestReceiver *self,
				      const guint *statuses,
				      gsize n_statuses)
{
	pal_receiver_set_status_sequence(pal_test_receiver_get_receiver(self),
					 statuses,
					 n_statuses);
}

/**
 * pal_test_receiver_set_responder:
 *
 * Sets a #PalReceiverResponder; it runs in the receiver's thread.
 */
void
pal_test_receiver_set_responder(PalTestReceiver *self,
				PalReceiverResponder func,
				gpointer user_data,
				GDestroyNotify destroy)
{
	pal_receiver_set_responder(pal_test_receiver_get_receiver(self), func, user_data, destroy);
}

void
pal_test_receiver_set_retry_after(PalTestReceiver *self, guint seconds)
{
	pal_receiver_set_retry_after(pal_test_receiver_get_receiver(self), seconds);
}

void
pal_test_receiver_set_max_body_size(PalTestReceiver *self, gsize max_body_size)
{
	pal_receiver_set_max_body_size(pal_test_receiver_get_receiver(self), max_body_size);
}

typedef struct {
	PalTestReceiver *self;
	guint result;
	gboolean done;
} PalTestReceiverQuery;

static gboolean
pal_test_receiver_n_connections_cb(gpointer user_data)
{
	PalTestReceiverQuery *query = user_data;
	PalTestReceiver *self = query->self;
	guint n = pal_receiver_get_n_connections(self->receiver);

	g_mutex_lock(&self->mutex);
	query->result = n;
	query->done = TRUE;
	g_cond_broadcast(&self->cond);
	g_mutex_unlock(&self->mutex);
	return G_SOURCE_REMOVE;
}

/**
 * pal_test_receiver_get_n_connections:
 *
 * Returns: how many client connections the running receiver holds (asked in its thread)
 */
guint
pal_test_receiver_get_n_connections(PalTestReceiver *self)
{
	PalTestReceiverQuery query = {self, 0, FALSE};
	GSource *source;

	g_return_val_if_fail(self != NULL, 0);
	g_return_val_if_fail(self->thread != NULL, 0);
	source = g_idle_source_new();
	g_source_set_callback(source, pal_test_receiver_n_connections_cb, &query, NULL);
	g_source_attach(source, self->context);
	g_source_unref(source);
	g_mutex_lock(&self->mutex);
	while (!query.done)
		g_cond_wait(&self->cond, &self->mutex);
	g_mutex_unlock(&self->mutex);
	return query.result;
}

/* ======================================================================================== */
/* subprocesses */

/* runs in the child between fork and exec */
static void
pal_test_child_setup(gpointer user_data)
{
	pid_t parent = (pid_t)GPOINTER_TO_INT(user_data);

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* the parent died before prctl() */
	if (getppid() != parent)
		_exit(127);
}

/**
 * pal_test_subprocess_launcher_new:
 * @flags: as for g_subprocess_launcher_new()
 *
 * A launcher whose children get SIGKILL when the thread that spawns them ends, so that a test
 * that fails an assertion leaves no daemon behind (holding a port, or the standard error that
 * `meson test` waits on). Spawn from the test's main thread.
 *
 * Returns: (transfer full): a launcher
 */
GSubprocessLauncher *
pal_test_subprocess_launcher_new(GSubprocessFlags flags)
{
	GSubprocessLauncher *launcher = g_subprocess_launcher_new(flags);

	g_subprocess_launcher_set_child_setup(launcher,
					      pal_test_child_setup,
					      GINT_TO_POINTER((gint)getpid()),
					      NULL);
	return launcher;
}

typedef struct {
	gboolean done;
	gboolean timed_out;
	GError *error;
} PalTestWait;

static void
pal_test_subprocess_wait_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	PalTestWait *wait = user_data;

	g_subprocess_wait_finish(G_SUBPROCESS(source), res, &wait->error);
	wait->done = TRUE;
}

static gboolean
pal_test_subprocess_timeout_cb(gpointer user_data)
{
	PalTestWait *wait = user_data;

	wait->timed_out = TRUE;
	return G_SOURCE_REMOVE;
}

/**
 * pal_test_subprocess_wait:
 * @timeout_ms: the longest wait
 * @exit_status: (out) (optional): the exit code, or 128 + the signal number if a signal
 *   ended the process
 *
 * Waits for @subprocess to exit, iterating a private main context (the caller's contexts are
 * not touched). Does not kill it.
 *
 * Returns: %TRUE once it exited, %FALSE with G_IO_ERROR_TIMED_OUT after @timeout_ms
 */
gboolean
pal_test_subprocess_wait(GSubprocess *subprocess,
			 guint timeout_ms,
			 gint *exit_status,
			 GError **error)
{
	g_autoptr(GMainContext) context = g_main_context_new();
	g_autoptr(GCancellable) cancellable = g_cancellable_new();
	PalTestWait wait = {FALSE, FALSE, NULL};
	GSource *timeout;

	g_return_val_if_fail(G_IS_SUBPROCESS(subprocess), FALSE);

	g_main_context_push_thread_default(context);
	g_subprocess_wait_async(subprocess, cancellable, pal_test_subprocess_wait_cb, &wait);
	timeout = g_timeout_source_new(timeout_ms);
	g_source_set_callback(timeout, pal_test_subprocess_timeout_cb, &wait, NULL);
	g_source_attach(timeout, context);
	while (!wait.done && !wait.timed_out)
		g_main_context_iteration(context, TRUE);
	if (!wait.done) {
		g_cancellable_cancel(cancellable);
		while (!wait.done)
			g_main_context_iteration(context, TRUE);
	}
	g_source_destroy(timeout);
	g_source_unref(timeout);
	g_main_context_pop_thread_default(context);

	if (wait.error != NULL) {
		if (g_error_matches(wait.error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
			g_clear_error(&wait.error);
			g_set_error(error,
				    G_IO_ERROR,
				    G_IO_ERROR_TIMED_OUT,
				    "process %s did not exit within %u ms",
				    g_subprocess_get_identifier(subprocess),
				    timeout_ms);
			return FALSE;
		}
		g_propagate_error(error, wait.error);
		return FALSE;
	}
	if (exit_status != NULL) {
		if (g_subprocess_get_if_exited(subprocess))
			*exit_status = g_subprocess_get_exit_status(subprocess);
		else if (g_subprocess_get_if_signaled(subprocess))
			*exit_status = 128 + g_subprocess_get_term_sig(subprocess);
		else
			*exit_status = -1;
	}
	return TRUE;
}

/* ======================================================================================== */
/* PalTestDaemon */

struct _PalTestDaemon {
	gchar *program; /* NULL: $PALAVERD */
	gchar *dir;
	GKeyFile *conf;
	GPtrArray *extra_args;
	GHashTable *env;
	GSubprocess *subprocess;
	GPid pid;
	gboolean exited;	   /* reaped */
	gboolean stop_signal_sent; /* SIGTERM or SIGINT, by pal_test_daemon_signal() */
	GThread *reader;
	GCancellable *reader_cancellable;

	/* guarded by mutex: written by the reader thread */
	GMutex mutex;
	GCond cond;
	GPtrArray *stdout_lines;
	GPtrArray *listen_urls; /* as printed, with the trailing slash */
	gboolean ready;
	gboolean eof;
};

static void
pal_test_rm_rf(const gchar *path)
{
	GStatBuf st;

	if (g_lstat(path, &st) != 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
		const gchar *name;

		while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
			g_autofree gchar *child = g_build_filename(path, name, NULL);
			pal_test_rm_rf(child);
		}
		if (g_rmdir(path) != 0)
			g_printerr("pal-test-util: cannot remove %s: %s\n", path, g_strerror(errno));
	} else if (g_unlink(path) != 0) {
		g_printerr("pal-test-util: cannot remove %s: %s\n", path, g_strerror(errno));
	}
}

/**
 * pal_test_daemon_new:
 *
 * Creates a temporary directory with an empty `endpoints.d/` and a minimal configuration:
 * `[Server] Listen=127.0.0.1:0, Workers=2`, `[Endpoints] Directory=<dir>/endpoints.d`,
 * `[Plugins] Directory=$PALAVER_BUILD_PLUGINDIR`, `[DBus] Bus=none`,
 * `[Store] Path=<dir>/palaver.db`. Set `PALAVER_TEST_KEEP_TMP=1` to keep the directory.
 *
 * Returns: (transfer full): a daemon, not started
 */
PalTestDaemon *
pal_test_daemon_new(void)
{
	PalTestDaemon *self = g_new0(PalTestDaemon, 1);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *endpoints = NULL;
	g_autofree gchar *store = NULL;
	const gchar *plugindir = g_getenv("PALAVER_BUILD_PLUGINDIR");

	self->dir = g_dir_make_tmp("palaver-test-XXXXXX", &error);
	g_assert_no_error(error);
	endpoints = g_build_filename(self->dir, "endpoints.d", NULL);
	g_assert_cmpint(g_mkdir_with_parents(endpoints, 0700), ==, 0);
	store = g_build_filename(self->dir, "palaver.db", NULL);

	self->conf = g_key_file_new();
	g_key_file_set_string(self->conf, "Server", "Listen", "127.0.0.1:0");
	g_key_file_set_string(self->conf, "Server", "Workers", "2");
	g_key_file_set_string(self->conf, "Endpoints", "Directory", endpoints);
	if (plugindir != NULL)
		g_key_file_set_string(self->conf, "Plugins", "Directory", plugindir);
	g_key_file_set_string(self->conf, "DBus", "Bus", "none");
	g_key_file_set_string(self->conf, "Store", "Path", store);

	self->extra_args = g_ptr_array_new_with_free_func(g_free);
	self->env = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	self->stdout_lines = g_ptr_array_new_with_free_func(g_free);
	self->listen_urls = g_ptr_array_new_with_free_func(g_free);
	g_mutex_init(&self->mutex);
	g_cond_init(&self->cond);
	return self;
}

/**
 * pal_test_daemon_get_dir:
 *
 * Returns: the temporary directory (the daemon's working directory)
 */
const gchar *
pal_test_daemon_get_dir(PalTestDaemon *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return self->dir;
}

/**
 * pal_test_daemon_set_conf:
 * @value: (nullable): the value, or %NULL to remove the key
 *
 * Sets a key of `palaver.conf`; takes effect at pal_test_daemon_start().
 */
void
pal_test_daemon_set_conf(PalTestDaemon *self,
			 const gchar *group,
			 const gchar *key,
			 const gchar *value)
{
	g_return_if_fail(self != NULL);
	g_return_if_fail(group != NULL && key != NULL);
	if (value != NULL)
		g_key_file_set_string(self->conf, group, key, value);
	else
		g_key_file_remove_key(self->conf, group, key, NULL);
}

/**
 * pal_test_daemon_write_file:
 * @relpath: a path relative to the temporary directory; parents are created
 *
 * Writes a file (flow, model, script, secret) next to the configuration.
 */
void
pal_test_daemon_write_file(PalTestDaemon *self, const gchar *relpath, const gchar *contents)
{
	g_autofree gchar *path = NULL;
	g_autofree gchar *parent = NULL;
	g_autoptr(GError) error = NULL;

	g_return_if_fail(self != NULL);
	g_return_if_fail(relpath != NULL && contents != NULL);
	g_assert_false(g_path_is_absolute(relpath));
	g_assert_null(strstr(relpath, ".."));
	path = g_build_filename(self->dir, relpath, NULL);
	parent = g_path_get_dirname(path);
	g_assert_cmpint(g_mkdir_with_parents(parent, 0700), ==, 0);
	g_file_set_contents(path, contents, -1, &error);
	g_assert_no_error(error);
}

/**
 * pal_test_daemon_add_endpoint:
 * @filename: a file name such as `support.json`
 *
 * Writes an endpoint file into `endpoints.d/`.
 */
void
pal_test_daemon_add_endpoint(PalTestDaemon *self, const gchar *filename, const gchar *json_text)
{
	g_autofree gchar *relpath = NULL;

	g_return_if_fail(self != NULL);
	g_return_if_fail(filename != NULL && json_text != NULL);
	g_assert_null(strchr(filename, '/'));
	relpath = g_build_filename("endpoints.d", filename, NULL);
	pal_test_daemon_write_file(self, relpath, json_text);
}

/**
 * pal_test_daemon_set_program:
 * @path: (nullable): an executable, or %NULL for `$PALAVERD`
 *
 * Runs @path instead of `$PALAVERD` (to test the harness, or another build).
 */
void
pal_test_daemon_set_program(PalTestDaemon *self, const gchar *path)
{
	g_return_if_fail(self != NULL);
	g_free(self->program);
	self->program = g_strdup(path);
}

/**
 * pal_test_daemon_add_arg:
 *
 * Appends a command-line argument after the standard ones.
 */
void
pal_test_daemon_add_arg(PalTestDaemon *self, const gchar *arg)
{
	g_return_if_fail(self != NULL && arg != NULL);
	g_ptr_array_add(self->extra_args, g_strdup(arg));
}

/**
 * pal_test_daemon_setenv:
 *
 * Sets an environment variable of the daemon (it inherits the test's environment).
 */
void
pal_test_daemon_setenv(PalTestDaemon *self, const gchar *variable, const gchar *value)
{
	g_return_if_fail(self != NULL && variable != NULL && value != NULL);
	g_hash_table_replace(self->env, g_strdup(variable), g_strdup(value));
}

static gpointer
pal_test_daemon_reader_thread(gpointer user_data)
{
	PalTestDaemon *self = user_data;
	g_autoptr(GDataInputStream) data = NULL;

	data = g_data_input_stream_new(g_subprocess_get_stdout_pipe(self->subprocess));
	for (;;) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *raw = NULL;
		gchar *line;
		gsize len = 0;

		raw = g_data_input_stream_read_line(data, &len, self->reader_cancellable, &error);
		if (raw == NULL)
			break;
		line = g_utf8_make_valid(raw, (gssize)len);
		g_strchomp(line);
		g_printerr("palaverd stdout: %s\n", line);

		g_mutex_lock(&self->mutex);
		if (!self->ready) {
			if (g_str_has_prefix(line, "listening: ")) {
				gchar *url = g_strstrip(g_strdup(line + strlen("listening: ")));
				if (!g_str_has_suffix(url, "/")) {
					gchar *tmp = g_strconcat(url, "/", NULL);
					g_free(url);
					url = tmp;
				}
				g_ptr_array_add(self->listen_urls, url);
			} else if (g_strcmp0(line, "ready") == 0) {
				self->ready = TRUE;
			}
		}
		g_ptr_array_add(self->stdout_lines, line);
		g_cond_broadcast(&self->cond);
		g_mutex_unlock(&self->mutex);
	}

	g_mutex_lock(&self->mutex);
	self->eof = TRUE;
	g_cond_broadcast(&self->cond);
	g_mutex_unlock(&self->mutex);
	return NULL;
}

/* after the process ended: let the reader see EOF (bounded), then join it */
static void
pal_test_daemon_join_reader(PalTestDaemon *self)
{
	gint64 deadline;

	if (self->reader == NULL)
		return;
	deadline = g_get_monotonic_time() + PAL_TEST_STDOUT_DRAIN_MS * G_TIME_SPAN_MILLISECOND;
	g_mutex_lock(&self->mutex);
	while (!self->eof) {
		if (!g_cond_wait_until(&self->cond, &self->mutex, deadline))
			break;
	}
	g_mutex_unlock(&self->mutex);
	/* e.g. a child of the daemon still holds the pipe */
	g_cancellable_cancel(self->reader_cancellable);
	g_thread_join(g_steal_pointer(&self->reader));
}

static void
pal_test_daemon_reap(PalTestDaemon *self, gint *exit_status)
{
	g_autoptr(GError) error = NULL;

	if (!pal_test_subprocess_wait(self->subprocess, PAL_TEST_KILL_WAIT_MS, exit_status, &error))
		g_printerr("pal-test-util: palaverd: %s\n", error->message);
	self->exited = TRUE;
	pal_test_daemon_join_reader(self);
}

/**
 * pal_test_daemon_start:
 *
 * Writes `palaver.conf` and runs `$PALAVERD --config <dir>/palaver.conf --plugin-dir
 * $PALAVER_BUILD_PLUGINDIR --no-plugin-permission-check [extra args]` in the temporary
 * directory, standard output piped and standard error inherited. Waits up to 10 s for the
 * line `ready` on its standard output; the lines `listening: http://HOST:PORT/` before it
 * give the listen URLs (the first one is the base URL). The daemon is killed if the calling
 * thread ends (see pal_test_subprocess_launcher_new()).
 *
 * Returns: %TRUE once the daemon is ready; else %FALSE, with the daemon killed
 */
gboolean
pal_test_daemon_start(PalTestDaemon *self, GError **error)
{
	g_autoptr(GSubprocessLauncher) launcher = NULL;
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autofree gchar *conf_path = NULL;
	const gchar *palaverd = self->program != NULL ? self->program : g_getenv("PALAVERD");
	const gchar *plugindir = g_getenv("PALAVER_BUILD_PLUGINDIR");
	const gchar *identifier;
	GHashTableIter iter;
	gpointer key;
	gpointer value;
	gint64 deadline;
	gboolean ready;
	gboolean eof;
	gint status = -1;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(self->subprocess == NULL, FALSE);

	if (palaverd == NULL || palaverd[0] == '\0') {
		g_set_error_literal(error,
				    G_IO_ERROR,
				    G_IO_ERROR_NOT_FOUND,
				    "PALAVERD is not set (run the tests through meson test)");
		return FALSE;
	}
	conf_path = g_build_filename(self->dir, "palaver.conf", NULL);
	if (!g_key_file_save_to_file(self->conf, conf_path, error))
		return FALSE;

	g_ptr_array_add(argv, (gpointer)palaverd);
	g_ptr_array_add(argv, (gpointer) "--config");
	g_ptr_array_add(argv, conf_path);
	if (plugindir != NULL) {
		g_ptr_array_add(argv, (gpointer) "--plugin-dir");
		g_ptr_array_add(argv, (gpointer)plugindir);
	}
	g_ptr_array_add(argv, (gpointer) "--no-plugin-permission-check");
	for (guint i = 0; i < self->extra_args->len; i++)
		g_ptr_array_add(argv, g_ptr_array_index(self->extra_args, i));
	g_ptr_array_add(argv, NULL);

	launcher = pal_test_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE);
	g_subprocess_launcher_set_cwd(launcher, self->dir);
	g_hash_table_iter_init(&iter, self->env);
	while (g_hash_table_iter_next(&iter, &key, &value))
		g_subprocess_launcher_setenv(launcher, key, value, TRUE);
	self->subprocess =
	    g_subprocess_launcher_spawnv(launcher, (const gchar *const *)argv->pdata, error);
	if (self->subprocess == NULL)
		return FALSE;
	/* NULL if it exited (and GLib reaped it) already */
	identifier = g_subprocess_get_identifier(self->subprocess);
	self->pid = identifier != NULL ? (GPid)g_ascii_strtoll(identifier, NULL, 10) : 0;
	self->reader_cancellable = g_cancellable_new();
	self->reader = g_thread_new("pal-test-daemon-stdout", pal_test_daemon_reader_thread, self);

	deadline = g_get_monotonic_time() +
		   PAL_TEST_DAEMON_START_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
	g_mutex_lock(&self->mutex);
	while (!self->ready && !self->eof) {
		if (!g_cond_wait_until(&self->cond, &self->mutex, deadline))
			break;
	}
	ready = self->ready;
	eof = self->eof;
	g_mutex_unlock(&self->mutex);

	if (ready && self->listen_urls->len > 0)
		return TRUE;

	/* not ready: make sure it is gone, then say why */
	g_subprocess_force_exit(self->subprocess);
	pal_test_daemon_reap(self, &status);
	if (ready) {
		g_set_error_literal(error,
				    G_IO_ERROR,
				    G_IO_ERROR_INVALID_DATA,
				    "palaverd printed “ready” without a “listening: URL” line");
	} else if (eof) {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_FAILED,
			    "palaverd closed its standard output before “ready” (exit status %d; "
			    "its standard error is above)",
			    status);
	} else {
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_TIMED_OUT,
			    "palaverd did not print “ready” within %d ms; killed",
			    PAL_TEST_DAEMON_START_TIMEOUT_MS);
	}
	return FALSE;
}

/**
 * pal_test_daemon_get_base_url:
 *
 * Returns: the first listen URL as printed, with the trailing slash, e.g.
 *   `http://127.0.0.1:41234/`
 */
const gchar *
pal_test_daemon_get_base_url(PalTestDaemon *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	g_return_val_if_fail(self->listen_urls->len > 0, NULL);
	return g_ptr_array_index(self->listen_urls, 0);
}

/**
 * pal_test_daemon_get_url:
 * @path: (nullable): `/9f2c…` or `9f2c…`, or %NULL for `/`
 *
 * Returns: (transfer full): the base URL plus @path, with one slash between
 */
gchar *
pal_test_daemon_get_url(PalTestDaemon *self, const gchar *path)
{
	const gchar *base = pal_test_daemon_get_base_url(self);

	g_return_val_if_fail(base != NULL, NULL);
	return pal_test_join_url(base, path);
}

static GStrv
pal_test_strv_from_array(GPtrArray *array)
{
	GStrv strv = g_new0(gchar *, array->len + 1);

	for (guint i = 0; i < array->len; i++)
		strv[i] = g_strdup(g_ptr_array_index(array, i));
	return strv;
}

/**
 * pal_test_daemon_dup_listen_urls:
 *
 * Returns: (transfer full): every listen URL announced before `ready`, as printed
 */
GStrv
pal_test_daemon_dup_listen_urls(PalTestDaemon *self)
{
	GStrv strv;

	g_return_val_if_fail(self != NULL, NULL);
	g_mutex_lock(&self->mutex);
	strv = pal_test_strv_from_array(self->listen_urls);
	g_mutex_unlock(&self->mutex);
	return strv;
}

/**
 * pal_test_daemon_dup_stdout_lines:
 *
 * Returns: (transfer full): every line the daemon printed on standard output so far
 */
GStrv
pal_test_daemon_dup_stdout_lines(PalTestDaemon *self)
{
	GStrv strv;

	g_return_val_if_fail(self != NULL, NULL);
	g_mutex_lock(&self->mutex);
	strv = pal_test_strv_from_array(self->stdout_lines);
	g_mutex_unlock(&self->mutex);
	return strv;
}

/**
 * pal_test_daemon_get_pid:
 *
 * Returns: the daemon's pid, or 0 if it was not started or had exited before its pid was read
 */
GPid
pal_test_daemon_get_pid(PalTestDaemon *self)
{
	g_return_val_if_fail(self != NULL, 0);
	return self->pid;
}

/**
 * pal_test_daemon_is_running:
 *
 * Returns: %TRUE if the daemon was started and has not been reaped (a crashed daemon that
 *   nobody waited for yet counts as running until it is reaped)
 */
gboolean
pal_test_daemon_is_running(PalTestDaemon *self)
{
	g_return_val_if_fail(self != NULL, FALSE);
	return self->subprocess != NULL && !self->exited &&
	       g_subprocess_get_identifier(self->subprocess) != NULL;
}

/**
 * pal_test_daemon_count_fds:
 *
 * Returns: the number of entries in /proc/PID/fd, or -1 if the daemon was reaped or it cannot
 *   be read
 */
gint
pal_test_daemon_count_fds(PalTestDaemon *self)
{
	g_autofree gchar *path = NULL;
	g_autoptr(GDir) dir = NULL;
	gint n = 0;

	g_return_val_if_fail(self != NULL, -1);
	/* once reaped, the pid may belong to another process */
	if (self->pid <= 0 || self->exited)
		return -1;
	path = g_strdup_printf("/proc/%d/fd", (gint)self->pid);
	dir = g_dir_open(path, 0, NULL);
	if (dir == NULL)
		return -1;
	while (g_dir_read_name(dir) != NULL)
		n++;
	return n;
}

/**
 * pal_test_daemon_get_rss_kb:
 *
 * Returns: VmRSS from /proc/PID/status in kB, or -1 if the daemon was reaped or it cannot be
 *   read
 */
gint64
pal_test_daemon_get_rss_kb(PalTestDaemon *self)
{
	g_autofree gchar *path = NULL;
	g_autofree gchar *contents = NULL;
	const gchar *line;

	g_return_val_if_fail(self != NULL, -1);
	if (self->pid <= 0 || self->exited)
		return -1;
	path = g_strdup_printf("/proc/%d/status", (gint)self->pid);
	if (!g_file_get_contents(path, &contents, NULL, NULL))
		return -1;
	line = strstr(contents, "\nVmRSS:");
	if (line == NULL)
		return -1;
	return g_ascii_strtoll(line + strlen("\nVmRSS:"), NULL, 10);
}

/**
 * pal_test_daemon_signal:
 *
 * Sends @signum (e.g. SIGHUP) to the running daemon.
 */
void
pal_test_daemon_signal(PalTestDaemon *self, gint signum)
{
	g_return_if_fail(self != NULL);
	g_return_if_fail(self->subprocess != NULL);
	if (signum == SIGTERM || signum == SIGINT)
		self->stop_signal_sent = TRUE;
	g_subprocess_send_signal(self->subprocess, signum);
}

/**
 * pal_test_daemon_stop:
 * @signum: the signal to send; 0 sends SIGTERM, unless pal_test_daemon_signal() sent SIGTERM
 *   or SIGINT already (palaverd takes a second stop signal as "exit without draining"): then
 *   it only waits
 * @timeout_ms: how long to wait for the exit
 * @exit_status: (out) (optional): the exit code, or 128 + the signal number if a signal
 *   ended it
 *
 * Sends @signum and waits. If the daemon has not exited after @timeout_ms, kills it with
 * SIGKILL and fails. If it had exited already, only reaps it.
 *
 * Returns: %TRUE if the daemon exited within @timeout_ms
 */
gboolean
pal_test_daemon_stop(PalTestDaemon *self,
		     gint signum,
		     guint timeout_ms,
		     gint *exit_status,
		     GError **error)
{
	g_autoptr(GError) error_local = NULL;
	gint status = -1;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(self->subprocess != NULL, FALSE);

	if (self->exited) {
		g_set_error_literal(error,
				    G_IO_ERROR,
				    G_IO_ERROR_CLOSED,
				    "palaverd was stopped already");
		return FALSE;
	}
	if (signum == 0 && !self->stop_signal_sent)
		signum = SIGTERM;
	/* a no-op if it exited meanwhile */
	if (signum != 0)
		pal_test_daemon_signal(self, signum);
	if (!pal_test_subprocess_wait(self->subprocess, timeout_ms, &status, &error_local)) {
		g_subprocess_force_exit(self->subprocess);
		pal_test_daemon_reap(self, &status);
		if (exit_status != NULL)
			*exit_status = status;
		g_set_error(error,
			    G_IO_ERROR,
			    G_IO_ERROR_TIMED_OUT,
			    "palaverd did not exit within %u ms after its stop signal: killed with "
			    "SIGKILL",
			    timeout_ms);
		return FALSE;
	}
	self->exited = TRUE;
	pal_test_daemon_join_reader(self);
	if (exit_status != NULL)
		*exit_status = status;
	return TRUE;
}

/**
 * pal_test_daemon_kill9:
 *
 * Kills the daemon with SIGKILL (a crash) and reaps it.
 */
void
pal_test_daemon_kill9(PalTestDaemon *self)
{
	g_return_if_fail(self != NULL);
	if (self->subprocess == NULL || self->exited)
		return;
	g_subprocess_force_exit(self->subprocess);
	pal_test_daemon_reap(self, NULL);
}

/**
 * pal_test_daemon_restart:
 *
 * Kills the daemon if it still runs (SIGKILL) and starts it again in the same directory, with
 * the same configuration, store and endpoints: what a crash and a restart by systemd look like.
 */
gboolean
pal_test_daemon_restart(PalTestDaemon *self, GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	pal_test_daemon_kill9(self);
	pal_test_daemon_join_reader(self);
	g_clear_object(&self->subprocess);
	g_clear_object(&self->reader_cancellable);
	self->pid = 0;
	self->exited = FALSE;
	self->stop_signal_sent = FALSE;
	g_mutex_lock(&self->mutex);
	g_ptr_array_set_size(self->stdout_lines, 0);
	g_ptr_array_set_size(self->listen_urls, 0);
	self->ready = FALSE;
	self->eof = FALSE;
	g_mutex_unlock(&self->mutex);
	return pal_test_daemon_start(self, error);
}

/**
 * pal_test_daemon_free:
 *
 * Kills the daemon if it still runs and removes the temporary directory.
 */
void
pal_test_daemon_free(PalTestDaemon *self)
{
	if (self == NULL)
		return;
	pal_test_daemon_kill9(self);
	pal_test_daemon_join_reader(self);
	g_clear_object(&self->subprocess);
	g_clear_object(&self->reader_cancellable);
	if (g_getenv("PALAVER_TEST_KEEP_TMP") != NULL)
		g_printerr("pal-test-util: keeping %s\n", self->dir);
	else
		pal_test_rm_rf(self->dir);
	g_free(self->program);
	g_free(self->dir);
	g_key_file_unref(self->conf);
	g_ptr_array_unref(self->extra_args);
	g_hash_table_unref(self->env);
	g_ptr_array_unref(self->stdout_lines);
	g_ptr_array_unref(self->listen_urls);
	g_mutex_clear(&self->mutex);
	g_cond_clear(&self->cond);
	g_free(self);
}

/* ======================================================================================== */
/* HTTP and JSON */

/**
 * pal_test_http_request:
 * @method: `GET`, `POST`, …
 * @content_type: (nullable): the request's content type; `application/octet-stream` if
 *   %NULL and there is a body
 * @body: (nullable) (array length=len): the request body, or %NULL for none
 * @len: the length of @body, or `(gsize) -1` if it is NUL-terminated
 * @extra_headers: (nullable) (element-type utf8 utf8): more request headers
 * @status_out: (out) (optional): the response status
 * @headers_out: (out) (optional) (transfer full): the response headers
 * @body_out: (out) (optional) (transfer full): the response body, NUL-terminated
 *
 * A synchronous request with a fresh #SoupSession (30 s timeout) and `Connection: close`,
 * so no idle connection stays behind at the server. Callable from any thread.
 *
 * Returns: %TRUE if a response arrived (any status), %FALSE on a transport error
 */
gboolean
pal_test_http_request(const gchar *method,
		      const gchar *url,
		      const gchar *content_type,
		      const gchar *body,
		      gsize len,
		      GHashTable *extra_headers,
		      guint *status_out,
		      SoupMessageHeaders **headers_out,
		      gchar **body_out,
		      GError **error)
{
	g_autoptr(SoupSession) session = NULL;
	g_autoptr(SoupMessage) msg = NULL;
	g_autoptr(GBytes) response = NULL;
	SoupMessageHeaders *hdrs;

	g_return_val_if_fail(method != NULL, FALSE);
	g_return_val_if_fail(url != NULL, FALSE);

	msg = soup_message_new(method, url);
	if (msg == NULL) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "invalid URL %s", url);
		return FALSE;
	}
	if (body != NULL) {
		g_autoptr(GBytes) bytes = NULL;
		if (len == (gsize)-1)
			len = strlen(body);
		bytes = g_bytes_new(body, len);
		soup_message_set_request_body_from_bytes(msg,
							 content_type != NULL
							     ? content_type
							     : "application/octet-stream",
							 bytes);
	}
	hdrs = soup_message_get_request_headers(msg);
	soup_message_headers_replace(hdrs, "Connection", "close");
	if (extra_headers != NULL) {
		GHashTableIter iter;
		gpointer key;
		gpointer value;

		g_hash_table_iter_init(&iter, extra_headers);
		while (g_hash_table_iter_next(&iter, &key, &value))
			soup_message_headers_replace(hdrs, key, value);
	}

	session = soup_session_new_with_options("timeout",
						PAL_TEST_HTTP_TIMEOUT_SECS,
						"user-agent",
						"palaver-test",
						NULL);
	response = soup_session_send_and_read(session, msg, NULL, error);
	if (response == NULL)
		return FALSE;
	if (status_out != NULL)
		*status_out = soup_message_get_status(msg);
	if (headers_out != NULL)
		*headers_out = soup_message_headers_ref(soup_message_get_response_headers(msg));
	if (body_out != NULL) {
		gsize size = 0;
		const gchar *data = g_bytes_get_data(response, &size);
		*body_out = g_strndup(data != NULL ? data : "", size);
	}
	return TRUE;
}

/**
 * pal_test_http_post:
 *
 * pal_test_http_request() with `POST`.
 */
gboolean
pal_test_http_post(const gchar *url,
		   const gchar *content_type,
		   const gchar *body,
		   gsize len,
		   GHashTable *extra_headers,
		   guint *status_out,
		   gchar **body_out,
		   GError **error)
{
	return pal_test_http_request("POST",
				     url,
				     content_type,
				     body,
				     len,
				     extra_headers,
				     status_out,
				     NULL,
				     body_out,
				     error);
}

/**
 * pal_test_json_parse:
 *
 * Returns: (transfer full): @text parsed; fails the test if it is not JSON
 */
JsonNode *
pal_test_json_parse(const gchar *text)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;

	g_assert_nonnull(text);
	json_parser_load_from_data(parser, text, -1, &error);
	g_assert_no_error(error);
	g_assert_nonnull(json_parser_get_root(parser));
	return json_parser_steal_root(parser);
}
