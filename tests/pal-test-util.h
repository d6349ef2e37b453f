/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "pal-receiver.h"
#include "palaver.h"

G_BEGIN_DECLS

/*
 * Test harness shared by the end-to-end tests. Nothing here prints to standard output (TAP);
 * diagnostics go to standard error.
 */

/* ---- PalTestReceiver: a PalReceiver on 127.0.0.1:0 in its own thread and GMainContext ---- */

typedef struct _PalTestReceiver PalTestReceiver;

PalTestReceiver *
pal_test_receiver_new(void);
gboolean
pal_test_receiver_start(PalTestReceiver *self, GError **error);
PalTestReceiver *
pal_test_receiver_new_started(void);
void
pal_test_receiver_stop(PalTestReceiver *self);
void
pal_test_receiver_free(PalTestReceiver *self);
PalReceiver *
pal_test_receiver_get_receiver(PalTestReceiver *self);
guint
pal_test_receiver_get_port(PalTestReceiver *self);
const gchar *
pal_test_receiver_get_base_url(PalTestReceiver *self);
gchar *
pal_test_receiver_get_url(PalTestReceiver *self, const gchar *path);
gboolean
pal_test_receiver_wait_count(PalTestReceiver *self, guint count, guint timeout_ms);
guint
pal_test_receiver_get_count(PalTestReceiver *self);
GPtrArray *
pal_test_receiver_dup_requests(PalTestReceiver *self);
PalReceivedRequest *
pal_test_receiver_dup_request(PalTestReceiver *self, guint index);
void
pal_test_receiver_clear_requests(PalTestReceiver *self);
void
pal_test_receiver_set_status(PalTestReceiver *self, guint status);
void
pal_test_receiver_set_status_sequence(PalTestReceiver *self,
				      const guint *statuses,
				      gsize n_statuses);
void
pal_test_receiver_set_responder(PalTestReceiver *self,
				PalReceiverResponder func,
				gpointer user_data,
				GDestroyNotify destroy);
void
pal_test_receiver_set_retry_after(PalTestReceiver *self, guint seconds);
void
pal_test_receiver_set_max_body_size(PalTestReceiver *self, gsize max_body_size);
guint
pal_test_receiver_get_n_connections(PalTestReceiver *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PalTestReceiver, pal_test_receiver_free)

/* ---- PalTestService: an HTTP service on 127.0.0.1 in its own thread and GMainContext ---- */

/* one request as the service got it; immutable once recorded, owned by the service */
typedef struct {
	gchar *method;
	gchar *path;
	gchar *query;	     /* nullable */
	GHashTable *headers; /* lower-case name → value; repeated headers joined with ", " */
	gchar *body;	     /* NUL-terminated, "" when there was none */
	gsize body_len;
	JsonNode *json; /* the body parsed, NULL when it is not JSON */
	gint64 arrival; /* g_get_monotonic_time() */
} PalTestServiceRequest;

const gchar *
pal_test_service_request_get_header(const PalTestServiceRequest *request, const gchar *name);
/* the body's root object, NULL when the body is not a JSON object */
JsonObject *
pal_test_service_request_get_object(const PalTestServiceRequest *request);

/* the answer to one request; filled with the service's default answer (200, no body, at once,
 * see pal_test_service_set_answer()) before the responder changes it */
typedef struct {
	guint status;
	gchar *body;		     /* nullable; sent as application/json */
	SoupMessageHeaders *headers; /* more response headers (Location, …) */
	guint delay_ms;		     /* before the status line */
	gboolean chunked;	     /* Transfer-Encoding: chunked instead of Content-Length */
	gsize stall_after;	     /* chunked: bytes sent before a stall … */
	guint stall_ms;		     /* … of this long, then the rest */
} PalTestServiceAnswer;

void
pal_test_service_answer_set(PalTestServiceAnswer *answer, guint status, const gchar *body);
void
pal_test_service_answer_take_body(PalTestServiceAnswer *answer, gchar *body);

/* runs in the service's thread, for each request */
typedef void (*PalTestServiceResponder)(const PalTestServiceRequest *request,
					PalTestServiceAnswer *answer,
					gpointer user_data);

typedef struct _PalTestService PalTestService;

PalTestService *
pal_test_service_new(guint port, PalTestServiceResponder responder, gpointer user_data);
PalTestService *
pal_test_service_new_with_answer(guint status, const gchar *body, guint delay_ms);
void
pal_test_service_free(PalTestService *self);
guint
pal_test_service_get_port(PalTestService *self);
gchar *
pal_test_service_get_url(PalTestService *self, const gchar *path);
void
pal_test_service_set_answer(PalTestService *self, guint status, const gchar *body, guint delay_ms);
guint
pal_test_service_get_n_requests(PalTestService *self);
const PalTestServiceRequest *
pal_test_service_get_request(PalTestService *self, guint index);
gboolean
pal_test_service_wait_requests(PalTestService *self, guint n, guint timeout_ms);
guint
pal_test_service_get_n_answered(PalTestService *self);
gint64
pal_test_service_get_last_answered(PalTestService *self);
guint
pal_test_service_get_n_disconnects(PalTestService *self);
gboolean
pal_test_service_wait_disconnects(PalTestService *self, guint n, guint timeout_ms);
guint
pal_test_service_get_max_in_flight(PalTestService *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PalTestService, pal_test_service_free)

/* a loopback port where nothing listens (bound, then closed) */
guint
pal_test_closed_port(void);

/* ---- PalTestDaemon: the real palaverd ($PALAVERD) in a fresh temporary directory ---- */

typedef struct _PalTestDaemon PalTestDaemon;

PalTestDaemon *
pal_test_daemon_new(void);
const gchar *
pal_test_daemon_get_dir(PalTestDaemon *self);
void
pal_test_daemon_set_conf(PalTestDaemon *self,
			 const gchar *group,
			 const gchar *key,
			 const gchar *value);
void
pal_test_daemon_add_endpoint(PalTestDaemon *self, const gchar *filename, const gchar *json_text);
void
pal_test_daemon_write_file(PalTestDaemon *self, const gchar *relpath, const gchar *contents);
void
pal_test_daemon_set_program(PalTestDaemon *self, const gchar *path);
void
pal_test_daemon_add_arg(PalTestDaemon *self, const gchar *arg);
void
pal_test_daemon_setenv(PalTestDaemon *self, const gchar *variable, const gchar *value);
gboolean
pal_test_daemon_start(PalTestDaemon *self, GError **error);
const gchar *
pal_test_daemon_get_base_url(PalTestDaemon *self);
gchar *
pal_test_daemon_get_url(PalTestDaemon *self, const gchar *path);
gchar *
pal_test_daemon_post_accepted(PalTestDaemon *self, const gchar *path, const gchar *body);
GStrv
pal_test_daemon_dup_listen_urls(PalTestDaemon *self);
GStrv
pal_test_daemon_dup_stdout_lines(PalTestDaemon *self);
GPid
pal_test_daemon_get_pid(PalTestDaemon *self);
gboolean
pal_test_daemon_is_running(PalTestDaemon *self);
gint
pal_test_daemon_count_fds(PalTestDaemon *self);
gint64
pal_test_daemon_get_rss_kb(PalTestDaemon *self);
void
pal_test_daemon_signal(PalTestDaemon *self, gint signum);
gboolean
pal_test_daemon_stop(PalTestDaemon *self,
		     gint signum,
		     guint timeout_ms,
		     gint *exit_status,
		     GError **error);
void
pal_test_daemon_kill9(PalTestDaemon *self);
gboolean
pal_test_daemon_restart(PalTestDaemon *self, GError **error);
void
pal_test_daemon_free(PalTestDaemon *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PalTestDaemon, pal_test_daemon_free)

/* ---- files ---- */

void
pal_test_rm_rf(const gchar *path);

/* ---- subprocesses ---- */

GSubprocessLauncher *
pal_test_subprocess_launcher_new(GSubprocessFlags flags);
gboolean
pal_test_subprocess_wait(GSubprocess *subprocess,
			 guint timeout_ms,
			 gint *exit_status,
			 GError **error);

/* ---- HTTP client and JSON ---- */

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
		      GError **error);
gboolean
pal_test_http_post(const gchar *url,
		   const gchar *content_type,
		   const gchar *body,
		   gsize len,
		   GHashTable *extra_headers,
		   guint *status_out,
		   gchar **body_out,
		   GError **error);
JsonNode *
pal_test_json_parse(const gchar *text);

G_END_DECLS
