/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PalWebhookClient (gateway/pal-webhook-client.c), the HTTP/1.1 client of webhook deliveries:
 * the request it writes, the status and Retry-After it returns, keep-alive and when a
 * connection must not be kept (Connection: close, HTTP/1.0, bodies without length, chunked
 * bodies good and bad, oversized or extra answers), the header and body limits, answers that
 * are not HTTP, deadlines, refused connections, the one resend on a kept connection the receiver
 * closed, early answers while the body is still being sent (413, 100 Continue), header
 * injection, abort(), many requests at once, the cache of parsed URLs and the idle sweep.
 *
 * The receivers are scripted loopback HTTP servers written here, not fakes of our components:
 * plain blocking POSIX sockets on 127.0.0.1 (or ::1), port 0, an accept thread and a thread per
 * connection. Each reads a request (head up to the blank line, then Content-Length bytes),
 * records it (request line, headers, body, connection number) and answers with a script of raw
 * bytes, pauses and closes. The client runs in the main thread on the default GMainContext,
 * iterated by the test until its callback ran (with a safety timeout). Every case runs in a
 * subprocess of its own, so a failure (or a leak found by LeakSanitizer) is reported against
 * the case that caused it. */
#define _GNU_SOURCE /* memmem(), accept4() */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pal-webhook-client.h"

#define USER_AGENT "palaver-test/1.0"

/* ---------------------------------------------------------------------------------------------
 * the scripted receiver
 * ------------------------------------------------------------------------------------------- */

typedef enum {
	STEP_END = 0,
	STEP_SEND,  /* the bytes data[0..len) */
	STEP_PAUSE, /* ms */
	STEP_CLOSE, /* closes the connection at once */
	STEP_HOLD,  /* never answers: reads and drops until the client closes the connection */
} StepKind;

typedef struct {
	StepKind kind;
	const gchar *data;
	gsize len;
	guint ms;
} Step;

#define SEND(s)	    {STEP_SEND, (s), sizeof(s) - 1, 0}
#define SENDN(p, n) {STEP_SEND, (p), (n), 0}
#define PAUSE(t)    {STEP_PAUSE, NULL, 0, (t)}
#define CLOSE	    {STEP_CLOSE, NULL, 0, 0}
#define HOLD	    {STEP_HOLD, NULL, 0, 0}
#define END	    {STEP_END, NULL, 0, 0}

#define OK_200 "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
#define OK_202 "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"

static const Step answer_200[] = {SEND(OK_200), END};
static const Step answer_202[] = {SEND(OK_202), END};
static const Step answer_204[] = {SEND("HTTP/1.1 204 No Content\r\n\r\n"), END};
static const Step answer_none_close[] = {CLOSE, END};
static const Step answer_hold[] = {HOLD, END};

typedef struct {
	guint conn;	    /* the connection it came on, from 1 */
	guint on_conn;	    /* its place on that connection, from 1 */
	gchar *line;	    /* the request line */
	GPtrArray *headers; /* name, value, name, value… as received */
	GBytes *body;	    /* NULL when the receiver reads heads only */
} Req;

typedef struct {
	gboolean ipv6;
	gboolean head_only;	 /* reads only a request's head: one request per connection */
	const gchar *after_head; /* sent as soon as a request's head is read, before its body */
	guint after_head_pause_ms;
} RvOpts;

typedef enum {
	RV_CONNS,	/* connections accepted */
	RV_REQUESTS,	/* requests read */
	RV_CLOSED,	/* connections ended, either side */
	RV_PEER_CLOSED, /* connections the client closed (EOF or reset seen by the receiver) */
} RvCounter;

typedef struct {
	GMutex lock;
	GCond cond;
	gint fd;
	guint16 port;
	RvOpts opts;
	GPtrArray *scripts; /* const Step * per request in arrival order; the last one repeats */
	GThread *acceptor;
	GPtrArray *conns; /* RvConn* */
	gboolean stopping;
	GPtrArray *reqs; /* Req*, in arrival order */
	guint n_conns;
	guint n_closed;
	guint n_peer_closed;
	guint n_open;
	guint max_open; /* connections open at the same time, at most */
} Receiver;

typedef struct {
	Receiver *rv;
	gint fd; /* -1 once closed (changed under rv->lock) */
	guint no;
	GThread *thread;
	GByteArray *buf;
} RvConn;

static void
req_free(Req *req)
{
	g_free(req->line);
	g_ptr_array_unref(req->headers);
	if (req->body != NULL)
		g_bytes_unref(req->body);
	g_free(req);
}

/* the value of the first header @name, or NULL */
static const gchar *
req_header(const Req *req, const gchar *name)
{
	for (guint i = 0; i + 1 < req->headers->len; i += 2) {
		if (g_ascii_strcasecmp(g_ptr_array_index(req->headers, i), name) == 0)
			return g_ptr_array_index(req->headers, i + 1);
	}
	return NULL;
}

static guint
req_header_count(const Req *req, const gchar *name)
{
	guint n = 0;

	for (guint i = 0; i + 1 < req->headers->len; i += 2) {
		if (g_ascii_strcasecmp(g_ptr_array_index(req->headers, i), name) == 0)
			n++;
	}
	return n;
}

static gboolean
rv_send_all(gint fd, const gchar *data, gsize len)
{
	while (len > 0) {
		gssize n = send(fd, data, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return FALSE;
		data += n;
		len -= (gsize)n;
	}
	return TRUE;
}

/* FALSE when the connection ended (the client closed it, reset it, or the receiver stops) */
static gboolean
rv_recv_more(RvConn *c)
{
	guint8 chunk[65536];
	gssize n;

	do
		n = recv(c->fd, chunk, sizeof chunk, 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return FALSE;
	g_byte_array_append(c->buf, chunk, (guint)n);
	return TRUE;
}

/* waits @ms, or less when the receiver stops */
static void
rv_pause(Receiver *rv, guint ms)
{
	gint64 end = g_get_monotonic_time() + (gint64)ms * G_TIME_SPAN_MILLISECOND;

	g_mutex_lock(&rv->lock);
	while (!rv->stopping && g_cond_wait_until(&rv->cond, &rv->lock, end))
		;
	g_mutex_unlock(&rv->lock);
}

/* the next request of the connection, or NULL when it ended first (*peer_closed) */
static Req *
rv_read_request(RvConn *c, gboolean *peer_closed)
{
	Receiver *rv = c->rv;
	const guint8 *end = NULL;
	gsize head_len;
	g_autofree gchar *text = NULL;
	g_auto(GStrv) lines = NULL;
	const gchar *length;
	guint64 body_len = 0;
	Req *req;

	while (c->buf->len < 4 || (end = memmem(c->buf->data, c->buf->len, "\r\n\r\n", 4)) == NULL) {
		if (c->buf->len > 1024 * 1024)
			return NULL;
		if (!rv_recv_more(c)) {
			*peer_closed = TRUE;
			return NULL;
		}
	}
	head_len = (gsize)(end - c->buf->data) + 4;
	text = g_strndup((const gchar *)c->buf->data, head_len - 4);
	g_byte_array_remove_range(c->buf, 0, (guint)head_len);
	lines = g_strsplit(text, "\r\n", -1);
	req = g_new0(Req, 1);
	req->line = g_strdup(lines[0]);
	req->headers = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 1; lines[0] != NULL && lines[i] != NULL; i++) {
		const gchar *colon = strchr(lines[i], ':');

		if (colon == NULL) {
			g_ptr_array_add(req->headers, g_strdup(lines[i]));
			g_ptr_array_add(req->headers, g_strdup(""));
			continue;
		}
		g_ptr_array_add(req->headers, g_strndup(lines[i], (gsize)(colon - lines[i])));
		g_ptr_array_add(req->headers, g_strstrip(g_strdup(colon + 1)));
	}
	length = req_header(req, "Content-Length");
	if (length != NULL)
		body_len = g_ascii_strtoull(length, NULL, 10);
	if (rv->opts.after_head != NULL) {
		(void)rv_send_all(c->fd, rv->opts.after_head, strlen(rv->opts.after_head));
		rv_pause(rv, rv->opts.after_head_pause_ms);
	}
	if (rv->opts.head_only)
		return req;
	while (c->buf->len < body_len) {
		if (!rv_recv_more(c)) {
			*peer_closed = TRUE;
			req_free(req);
			return NULL;
		}
	}
	req->body = g_bytes_new(c->buf->data, (gsize)body_len);
	g_byte_array_remove_range(c->buf, 0, (guint)body_len);
	return req;
}

static void
rv_conn_close(RvConn *c, gboolean peer_closed)
{
	Receiver *rv = c->rv;

	g_mutex_lock(&rv->lock);
	close(c->fd);
	c->fd = -1;
	rv->n_closed++;
	if (peer_closed && !rv->stopping)
		rv->n_peer_closed++;
	rv->n_open--;
	g_cond_broadcast(&rv->cond);
	g_mutex_unlock(&rv->lock);
}

static gpointer
rv_conn_thread(gpointer data)
{
	RvConn *c = data;
	Receiver *rv = c->rv;
	gboolean peer_closed = FALSE;
	gboolean closed = FALSE;
	guint on_conn = 0;

	while (!closed) {
		Req *req = rv_read_request(c, &peer_closed);
		const Step *steps;

		if (req == NULL)
			break;
		g_mutex_lock(&rv->lock);
		req->conn = c->no;
		req->on_conn = ++on_conn;
		steps = g_ptr_array_index(rv->scripts, MIN(rv->reqs->len, rv->scripts->len - 1));
		g_ptr_array_add(rv->reqs, req);
		g_cond_broadcast(&rv->cond);
		g_mutex_unlock(&rv->lock);

		for (const Step *s = steps; s->kind != STEP_END && !closed; s++) {
			switch (s->kind) {
			case STEP_SEND:
				if (!rv_send_all(c->fd, s->data, s->len))
					closed = peer_closed = TRUE;
				break;
			case STEP_PAUSE:
				rv_pause(rv, s->ms);
				break;
			case STEP_CLOSE:
				closed = TRUE;
				break;
			case STEP_HOLD:
				while (rv_recv_more(c))
					g_byte_array_set_size(c->buf, 0);
				closed = peer_closed = TRUE;
				break;
			case STEP_END:
			default:
				g_assert_not_reached();
			}
		}
		if (rv->opts.head_only)
			closed = TRUE;
	}
	rv_conn_close(c, peer_closed);
	return NULL;
}

static gboolean
rv_stopping(Receiver *rv)
{
	gboolean stopping;

	g_mutex_lock(&rv->lock);
	stopping = rv->stopping;
	g_mutex_unlock(&rv->lock);
	return stopping;
}

static gpointer
rv_accept_thread(gpointer data)
{
	Receiver *rv = data;

	while (!rv_stopping(rv)) {
		struct pollfd pfd = {rv->fd, POLLIN, 0};
		gint one = 1;
		gint fd;
		RvConn *c;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		fd = accept4(rv->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		/* the scripts split answers in odd places: each write its own segment */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		c = g_new0(RvConn, 1);
		c->rv = rv;
		c->fd = fd;
		c->buf = g_byte_array_new();
		g_mutex_lock(&rv->lock);
		c->no = ++rv->n_conns;
		rv->n_open++;
		rv->max_open = MAX(rv->max_open, rv->n_open);
		g_ptr_array_add(rv->conns, c);
		c->thread = g_thread_new("receiver-conn", rv_conn_thread, c);
		g_cond_broadcast(&rv->cond);
		g_mutex_unlock(&rv->lock);
	}
	return NULL;
}

/* a receiver on loopback, port 0, answering its n-th request with the n-th script (the last
 * script answers all the later ones); NULL when the address family is not available */
static Receiver *
receiver_start(const RvOpts *opts, const Step *first, ...)
{
	Receiver *rv = g_new0(Receiver, 1);
	struct sockaddr_storage ss = {0};
	socklen_t len = sizeof ss;
	gint one = 1;
	va_list ap;

	if (opts != NULL)
		rv->opts = *opts;
	g_mutex_init(&rv->lock);
	g_cond_init(&rv->cond);
	rv->scripts = g_ptr_array_new();
	rv->conns = g_ptr_array_new();
	rv->reqs = g_ptr_array_new_with_free_func((GDestroyNotify)req_free);
	va_start(ap, first);
	for (const Step *s = first; s != NULL; s = va_arg(ap, const Step *))
		g_ptr_array_add(rv->scripts, (gpointer)s);
	va_end(ap);
	g_assert_cmpuint(rv->scripts->len, >, 0);

	rv->fd = socket(rv->opts.ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	g_assert_cmpint(rv->fd, >=, 0);
	(void)setsockopt(rv->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (rv->opts.ipv6) {
		struct sockaddr_in6 *sa6 = (struct sockaddr_in6 *)&ss;
		sa6->sin6_family = AF_INET6;
		sa6->sin6_addr = in6addr_loopback;
		len = sizeof *sa6;
	} else {
		struct sockaddr_in *sa4 = (struct sockaddr_in *)&ss;
		sa4->sin_family = AF_INET;
		sa4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof *sa4;
	}
	if (bind(rv->fd, (struct sockaddr *)&ss, len) != 0 || listen(rv->fd, SOMAXCONN) != 0) {
		close(rv->fd);
		g_ptr_array_unref(rv->scripts);
		g_ptr_array_unref(rv->conns);
		g_ptr_array_unref(rv->reqs);
		g_mutex_clear(&rv->lock);
		g_cond_clear(&rv->cond);
		g_free(rv);
		return NULL;
	}
	len = sizeof ss;
	g_assert_cmpint(getsockname(rv->fd, (struct sockaddr *)&ss, &len), ==, 0);
	rv->port = ntohs(rv->opts.ipv6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
				       : ((struct sockaddr_in *)&ss)->sin_port);
	rv->acceptor = g_thread_new("receiver-accept", rv_accept_thread, rv);
	return rv;
}

#define receiver_new(...) receiver_start(NULL, __VA_ARGS__, NULL)

static void
receiver_free(Receiver *rv)
{
	g_mutex_lock(&rv->lock);
	rv->stopping = TRUE;
	g_cond_broadcast(&rv->cond);
	g_mutex_unlock(&rv->lock);
	g_thread_join(rv->acceptor);
	g_mutex_lock(&rv->lock);
	for (guint i = 0; i < rv->conns->len; i++) {
		RvConn *c = g_ptr_array_index(rv->conns, i);
		if (c->fd >= 0)
			shutdown(c->fd, SHUT_RDWR);
	}
	g_mutex_unlock(&rv->lock);
	for (guint i = 0; i < rv->conns->len; i++) {
		RvConn *c = g_ptr_array_index(rv->conns, i);
		g_thread_join(c->thread);
		g_byte_array_unref(c->buf);
		g_free(c);
	}
	close(rv->fd);
	g_ptr_array_unref(rv->conns);
	g_ptr_array_unref(rv->scripts);
	g_ptr_array_unref(rv->reqs);
	g_mutex_clear(&rv->lock);
	g_cond_clear(&rv->cond);
	g_free(rv);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Receiver, receiver_free)

static gchar *
rv_url(Receiver *rv, const gchar *path_and_query)
{
	return g_strdup_printf("http://%s:%u%s",
			       rv->opts.ipv6 ? "[::1]" : "127.0.0.1",
			       rv->port,
			       path_and_query);
}

static guint
rv_count_locked(Receiver *rv, RvCounter which)
{
	switch (which) {
	case RV_CONNS:
		return rv->n_conns;
	case RV_REQUESTS:
		return rv->reqs->len;
	case RV_CLOSED:
		return rv->n_closed;
	case RV_PEER_CLOSED:
		return rv->n_peer_closed;
	default:
		g_assert_not_reached();
	}
}

static guint
rv_count(Receiver *rv, RvCounter which)
{
	guint n;

	g_mutex_lock(&rv->lock);
	n = rv_count_locked(rv, which);
	g_mutex_unlock(&rv->lock);
	return n;
}

static guint
rv_max_open(Receiver *rv)
{
	guint n;

	g_mutex_lock(&rv->lock);
	n = rv->max_open;
	g_mutex_unlock(&rv->lock);
	return n;
}

/* the @i-th request received, from 0 (requests live as long as the receiver) */
static const Req *
rv_req(Receiver *rv, guint i)
{
	const Req *req = NULL;

	g_mutex_lock(&rv->lock);
	if (i < rv->reqs->len)
		req = g_ptr_array_index(rv->reqs, i);
	g_mutex_unlock(&rv->lock);
	g_assert_nonnull(req);
	return req;
}

/* blocks, without running the main context, until the counter reaches @n */
static gboolean
rv_wait(Receiver *rv, RvCounter which, guint n, guint timeout_ms)
{
	gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * G_TIME_SPAN_MILLISECOND;
	gboolean ok;

	g_mutex_lock(&rv->lock);
	while (!(ok = rv_count_locked(rv, which) >= n) && g_cond_wait_until(&rv->cond, &rv->lock, end))
		;
	ok = rv_count_locked(rv, which) >= n;
	g_mutex_unlock(&rv->lock);
	return ok;
}

/* ---------------------------------------------------------------------------------------------
 * main context and client helpers
 * ------------------------------------------------------------------------------------------- */

typedef gboolean (*Predicate)(gpointer data);

static gboolean
tick_cb(gpointer data)
{
	return G_SOURCE_CONTINUE;
}

/* iterates the default main context until @pred holds, at most @timeout_ms */
static gboolean
iterate_until(Predicate pred, gpointer data, guint timeout_ms)
{
	gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * G_TIME_SPAN_MILLISECOND;

	while (!pred(data)) {
		GSource *tick;

		if (g_get_monotonic_time() >= end)
			return FALSE;
		tick = g_timeout_source_new(5);
		g_source_set_callback(tick, tick_cb, NULL, NULL);
		g_source_attach(tick, NULL);
		g_main_context_iteration(NULL, TRUE);
		g_source_destroy(tick);
		g_source_unref(tick);
	}
	return TRUE;
}

static gboolean
never(gpointer data)
{
	return FALSE;
}

static void
iterate_for(guint ms)
{
	(void)iterate_until(never, NULL, ms);
}

typedef struct {
	Receiver *rv;
	RvCounter which;
	guint n;
} RvCond;

static gboolean
rv_cond_holds(gpointer data)
{
	RvCond *c = data;
	return rv_count(c->rv, c->which) >= c->n;
}

/* iterates the main context until the receiver's counter reaches @n */
static gboolean
iterate_until_rv(Receiver *rv, RvCounter which, guint n, guint timeout_ms)
{
	RvCond c = {rv, which, n};
	return iterate_until(rv_cond_holds, &c, timeout_ms);
}

typedef struct {
	gboolean done;
	gboolean ok;
	guint status;
	gchar *retry_after;
	GError *error;
	gint64 started;
	gint64 elapsed_ms;
} Result;

static void
result_clear(Result *res)
{
	g_clear_pointer(&res->retry_after, g_free);
	g_clear_error(&res->error);
}

static void
post_cb(GObject *source, GAsyncResult *result, gpointer data)
{
	Result *res = data;

	g_assert_false(res->done); /* a callback runs once */
	res->ok = pal_webhook_client_post_finish(PAL_WEBHOOK_CLIENT(source),
						 result,
						 &res->status,
						 &res->retry_after,
						 &res->error);
	g_assert_true(res->ok == (res->error == NULL));
	res->done = TRUE;
	res->elapsed_ms = (g_get_monotonic_time() - res->started) / G_TIME_SPAN_MILLISECOND;
}

static void
post(PalWebhookClient *client,
     const gchar *url,
     const gchar *const *headers,
     const gchar *content_type,
     GBytes *body,
     guint timeout_ms,
     Result *res)
{
	memset(res, 0, sizeof *res);
	res->started = g_get_monotonic_time();
	pal_webhook_client_post_async(client, url, headers, content_type, body, timeout_ms, post_cb, res);
}

static gboolean
result_done(gpointer data)
{
	return ((Result *)data)->done;
}

static void
wait_result(Result *res, guint timeout_ms)
{
	g_assert_true(iterate_until(result_done, res, timeout_ms));
}

/* posts a small JSON body and waits for the outcome */
static void
post_wait(PalWebhookClient *client, const gchar *url, guint timeout_ms, Result *res)
{
	g_autoptr(GBytes) body = g_bytes_new_static("{\"text\":\"hi\"}", 13);

	post(client, url, NULL, "application/json", body, timeout_ms, res);
	wait_result(res, timeout_ms + 5000);
}

static void
assert_status(const Result *res, guint status)
{
	g_assert_true(res->done);
	g_assert_no_error(res->error);
	g_assert_true(res->ok);
	g_assert_cmpuint(res->status, ==, status);
}

/* posts to @url and asserts the answer's status */
static void
post_expect(PalWebhookClient *client, const gchar *url, guint status)
{
	Result res;

	post_wait(client, url, 5000, &res);
	assert_status(&res, status);
	result_clear(&res);
}

static PalWebhookClient *
client_new(void)
{
	return pal_webhook_client_new(USER_AGENT, 60, FALSE);
}

/* deterministic bytes of every value, NUL and line ends included */
static GBytes *
make_body(gsize len, guint32 seed)
{
	g_autoptr(GRand) rand = g_rand_new_with_seed(seed);
	guint8 *data = g_malloc(len);

	for (gsize i = 0; i < len; i++)
		data[i] = (guint8)g_rand_int_range(rand, 0, 256);
	return g_bytes_new_take(data, len);
}

/* a port on loopback nobody listens on */
static guint16
closed_port(void)
{
	struct sockaddr_in sa = {0};
	socklen_t len = sizeof sa;
	gint fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof sa), ==, 0);
	g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sa, &len), ==, 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/* a loopback listener whose accept queue is full and never accepted from: a connection to it
 * stays in SYN-SENT (Linux drops the SYN), like an address that does not answer */
typedef struct {
	gint fd;
	guint16 port;
	GArray *fillers;
} Hanging;

static void
hanging_close(Hanging *h)
{
	for (guint i = 0; h->fillers != NULL && i < h->fillers->len; i++)
		close(g_array_index(h->fillers, gint, i));
	g_clear_pointer(&h->fillers, g_array_unref);
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
}

static gboolean
hanging_open(Hanging *h)
{
	struct sockaddr_in sa = {0};
	socklen_t len = sizeof sa;

	h->fillers = g_array_new(FALSE, FALSE, sizeof(gint));
	h->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(h->fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(h->fd, 0) != 0 ||
	    getsockname(h->fd, (struct sockaddr *)&sa, &len) != 0)
		goto fail;
	h->port = ntohs(sa.sin_port);
	for (guint i = 0; i < 8; i++) {
		gint fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		struct pollfd pfd = {fd, POLLOUT, 0};

		g_array_append_val(h->fillers, fd);
		if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
			continue;
		if (errno != EINPROGRESS)
			goto fail;
		if (poll(&pfd, 1, 200) == 0)
			return TRUE; /* this one hangs: so will the next */
	}
fail:
	hanging_close(h);
	return FALSE;
}

/* ---------------------------------------------------------------------------------------------
 * 1. the request
 * ------------------------------------------------------------------------------------------- */

/* the request line keeps the path and query as given (percent-encoded, no fragment); Host has
 * the port; User-Agent, Content-Type, Content-Length and each given header once; the body
 * byte for byte */
static void
test_request_format(void)
{
	g_autoptr(Receiver) rv = receiver_new(answer_200);
	g_autoptr(PalWebhookClient) client = client_new();
	g_autoptr(GBytes) body = NULL;
	g_autofree gchar *url = NULL;
	g_autofree gchar *host = NULL;
	g_autofree gchar *length = NULL;
	const gchar *headers[] = {"webhook-id",
				  "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
				  "webhook-timestamp",
				  "1674087231",
				  "webhook-signature",
				  "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
				  "Authorization",
				  "Basic dTpw",
				  "X-Empty",
				  "",
				  NULL};
	GByteArray *bytes = g_byte_array_new();
	const Req *req;
	Result res;

	/* a body with NULs, line ends and something that looks like a request */
	for (guint i = 0; i < 256; i++) {
		guint8 b = (guint8)i;
		g_byte_array_append(bytes, &b, 1);
	}
	g_byte_array_append(bytes, (const guint8 *)"\r\n\r\nPOST / HTTP/1.1\r\n\r\n", 23);
	body = g_byte_array_free_to_bytes(bytes);
	url = rv_url(rv, "/hooks/a%20b/c%2Fd?x=1%262&sig=a%2Bb%3D&e=%E2%82%AC#fragment");
	post(client, url, headers, "application/json", body, 5000, &res);
	wait_result(&res, 10000);
	assert_status(&res, 200);
	result_clear(&res);

	g_assert_cmpuint(rv_count(rv, RV_REQUESTS), ==, 1);
	req = rv_req(rv, 0);
	g_assert_cmpstr(req->line, ==, "POST /hooks/a%20b/c%2Fd?x=1%262&sig=a%2Bb%3D&e=%E2%82%AC HTTP/1.1");
	host = g_strdup_printf("127.0.0.1:%u", rv->port);
	length = g_strdup_printf("%" G_GSIZE_FORMAT, g_bytes_get_size(body));
	g_assert_cmpstr(req_header(req, "Host"), ==, host);
	g_assert_cmpstr(req_header(req, "User-Agent"), ==, USER_AGENT);
	g_assert_cmpstr(req_header(req, "Content-Type"), ==, "application/json");
	g_assert_cmpstr(req_header(req, "Content-Length"), ==, length);
	g_assert_cmpuint(req_header_count(req, "Host"), ==, 1);
	g_assert_cmpuint(req_header_count(req, "User-Agent"), ==, 1);
	g_assert_cmpuint(req_header_count(req, "Content-Type"), ==, 1);
	g_assert_cmpuint(req_header_count(req, "Content-Length"), ==, 1);
	for (guint i = 0; headers[i] != NULL; i += 2) {
		g_assert_cmpuint(req_header_count(req, headers[i]), ==, 1);
		g_assert_cmpstr(req_header(req, headers[i]), ==, headers[i + 1]);
	}
	/* a known length: no chunked request, no waiting for 100 Continue */
	g_assert_cmpuint(req_header_count(req, "Transfer-Encoding"), ==, 0);
	g_assert_cmpuint(req_header_count(req, "Expect"), ==, 0);
	g_assert_nonnull(req->body);
	g_assert_true(g_bytes_equal(req->body, body));
}

/* no path: "/"; a query without path; no Content-Type given: application/octet-stream; an
 * empty body: Content-Length 0 */
static void
test_request_defaults(void)
{
	g_autoptr(Receiver) rv = receiver_new(answer_200);
	g_autoptr(PalWebhookClient) client = client_new();
	g_autoptr(GBytes) empty = g_bytes_new_static("", 0);
	g_autofree gchar *url1 = rv_url(rv, "");
	g_autofree gchar *url2 = rv_url(rv, "?q=1");
	const Req *req;
	Result res;

	post(client, url1, NULL, NULL, empty, 5000, &res);
	wait_result(&res, 10000);
	assert_status(&res, 200);
	result_clear(&res);
	post_expect(client, url2, 200);

	req = rv_req(rv, 0);
	g_assert_cmpstr(req->line, ==, "POST / HTTP/1.1");
	g_assert_cmpstr(req_header(req, "Content-Type"), ==, "application/octet-stream");
	g_assert_cmpstr(req_header(req, "Content-Length"), ==, "0");
	g_assert_cmpuint(g_bytes_get_size(req->body), ==, 0);
	req = rv_req(rv, 1);
	g_assert_cmpstr(req->line, ==, "POST /?q=1 HTTP/1.1");
}

/* a body much larger than a socket buffer arrives whole (partial writes) */
static void
test_request_large_body(void)
{
	g_autoptr(Receiver) rv = receiver_new(answer_200);
	g_autoptr(PalWebhookClient) client = client_new();
	g_autoptr(GBytes) body = make_body(3 * 1024 * 1024 + 7, 1);
	g_autofree gchar *url = rv_url(rv, "/big");
	Result res;

	post(client, url, NULL, "application/octet-stream", body, 20000, &res);
	wait_result(&res, 25000);
	assert_status(&res, 200);
	result_clear(&res);
	g_assert_true(g_bytes_equal(rv_req(rv, 0)->body, body));
	/* and the connection is still good for the next one */
	post(client, url, NULL, "application/octet-stream", body, 20000, &res);
	wait_result(&res, 25000);
	assert_status(&res, 200);
	result_clear(&res);
	g_assert_true(g_bytes_equal(rv_req(rv, 1)->body, body));
	g_assert_cmpuint(pal_webhook_client_get_n_connects(client), ==, 1);
}

/* an IPv6 literal: connects to ::1, Host keeps the brackets and the port */
static void
test_request_ipv6(void)
{
	RvOpts opts = {.ipv6 = TRUE};
	g_autoptr(Receiver) rv = receiver_start(&opts, answer_200, NULL);
	g_autoptr(PalWebhookClient) client = client_new();
	g_autofree gchar *url = NULL;
	g_autofree gchar *host = NULL;

	if (rv == NULL) {
		g_test_skip("no IPv6 loopback");
		return;
	}
	url = rv_url(rv, "/v6");
	post_expect(client, url, 200);
	host = g_strdup_printf("[::1]:%u", rv->port);
	g_assert_cmpstr(req_header(rv_req(rv, 0), "Host"), ==, host);
	g_assert_cmpstr(rv_req(rv, 0)->line, ==, "POST /v6 HTTP/1.1");
}

/* ---------------------------------------------------------------------------------------------
 * 2. status and Retry-After
 * ------------------------------------------------------------------------------------------- */

static const Step status_200[] = {SEND("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"), END};
static const Step status_404[] = {
    SEND("HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nnot found"),
    END};
static const Step status_503[] = {
    SEND("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n"), END};
static const Step status_302[] = {
    SEND("HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n"), END};
static const Step status_429[] = {
    SEND("HTTP/1.1 429 Too Many Requests\r\nretry-after: Wed, 21 Oct 2015 07:28:00 GMT\r\n"
	 "Content-Length: 4\r\n\r\nslow"),
    END};

/* each status and its Retry-After, all on one kept connection; a redirect is not followed */
static void
test_status(void)
{
	g_autoptr(Receiver) rv =
	    receiver_new(status_200, answer_204, status_404, status_503, status_302, status_429);
	g_autoptr(PalWebhookClient) client = client_new();
	g_autofree gchar *url = rv_url(rv, "/status");
	const struct {
		guint status;
		const gchar *retry_after;
	} expected[] = {
	    {200, NULL},
	    {204, NULL},
	    {404, NULL},
	    {503, "7"},
	    {302, NULL},
	    {429, "Wed, 21 Oct 2015 07:28:00 GMT"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(expected); i++) {
		Result res;

		post_wait(client, url, 5000, &res);
		assert_status(&res, expected[i].status);
		g_assert_cmpstr(res.retry_after, ==, expected[i].retry_after);
		result_clear(&res);
	}
	/* the redirect was not followed: no request to /elsewhere */
	iterate_for(100);
	g_assert_cmpuint(rv_count(rv, RV_REQUESTS), ==, G_N_ELEMENTS(expected));
	for (guint i = 0; i < G_N_ELEMENTS(expected); i++)
		g_assert_cmpstr(rv_req(rv, i)->line, ==, "POST /status HTTP/1.1");
	g_assert_cmpuint(pal_webhook_client_get_n_connects(client), ==, 1);
	g_assert_cmpuint(rv_count(rv, RV_CONNS), ==, 1);
	g_assert_cmpuint(pal_webhook_client_get_n_idle(client), ==, 1);
}

/* ---------------------------------------------------------------------------------------------
 * 3. keep-alive
 * ------------------------------------------------------------------------------------------- */

/* two requests one after the other (other paths, same host): one connection */
static void
test_keepalive_reuse(void)
{
	g_autoptr(Receiver) rv = receiver_new(answer_200);
	g_autoptr(PalWebhookClient) client = client_new();
	g_autofree gchar *url1 = rv_url(rv, "/one");
	g_autofree gchar *url2 = rv_url(rv, "/two?x=1");

	post_expect(client, url1, 200);
	g_assert_cmpuint(pal_webhook_client_get_n_idle(client), ==, 1);
	post_expect(client, url2, 200);
	g_assert_cmpuint(pal_webhook_client_get_n_connects(client), ==, 1);
	g_assert_cmpuint(pal_webhook_client_get_n_idle(client), ==, 1);
	g_assert_cmpuint(rv_count(rv, RV_CONNS), ==, 1);
	g_assert_cmpuint(rv_count(rv, RV_REQUESTS), ==, 2);
	g_assert_cmpuint(rv_req(rv, 1)->conn, ==, 1);
	g_assert_cmpuint(rv_req(rv, 1)->on_conn, ==, 2);
	g_assert_cmpstr(rv_req(rv, 1)->line, ==, "POST /two?x=1 HTTP/1.1");
}

/* the first answer does not allow keeping the connection (the receiver itself keeps it open):
 * the client closes it, the second request goes on a new one */
static void
check_not_kept(const Step *first)
{
	g_autoptr(Receiver) rv = receiver_new(first, answer_202);
	g_autoptr(PalWebhookClient) client = client_new();
	g_autofree gchar *url = rv_url(rv, "/hook");

	post_expect(client, url, 200);
	g_assert_cmpuint(pal_webhook_client_get_n_idle(client), ==, 0);
	/* the client closed it (the receiver did not) */
	g_assert_true(iterate_until_rv(rv, RV_PEER_CLOSED, 1, 5000));
	post_expect(client, url, 202);
	g_assert_cmpuint(pal_webhook_client_get_n_connects(client), ==, 2);
	g_assert_cmpuint(rv_count(rv, RV_CONNS), ==, 2);
	g_assert_cmpuint(rv_req(rv, 1)->conn, ==, 2);
	g_assert_cmpuint(pal_webhook_client_get_n_idle(client), ==, 1);
}

static const Step answer_conn_close[] = {
    SEND("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"), END};
static const Step answer_http10[] = {SEND("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"), END};
static const Step answer_http10_keep[] = {
    SEND("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok"), END};
static const Step answer_extra[] = {
    SEND("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    END};

static void
test_keepalive_connection_close(void)
{
	check_not_kept(answer_conn_close);
}

static void
test_keepalive_http10(void)
{
	check_not_kept(answer_http10);
}

/* bytes after the end of the answer: nothing asked for, the connection is not kept */
static void
test_keepalive_extra_bytes(void)
{
	check_not_kept(answer_extra);
}

/* HTTP/1.0 with Connection: keep-alive is kept (the other side of test_keepalive_http10) */
static void
test_keepalive_http10_keep_alive(void)
{
	g_autoptr(Receiver) rv = receiver_new(answer_http10_keep, answer_202);
	g_autoptr(PalWebhookClient) client = client_new();
	g_autofree gchar *url = rv_url(rv, "/hook");

	post_expect(client, url, 200);
	g_assert_cmpuint(pal_webhook_client_get_n_idle(client), ==, 1);
	post_expect(client, url, 202);
	g_assert_cmpuint(pal_webhook_client_get_n_connects(client), ==, 1);
	g_assert_cmpuint(rv_count(rv, RV_CONNS), ==, 1);
}

static const Step answer_body_to_eof[] = {
    SEND("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst part, "),
    PAUSE(300),
    SEND("second part"),
    CLOSE,
    END,
};

/* a body without length ends when the receiver closes: the call waits for it, the status
 * counts, the connection is gone */
static void
test_keepalive_body_to_eof(void)
{
	g_autoptr(Receiver) rv = receiver_new(answer_body_to_eof, answer_202);
	g_autoptr(PalWebhookClient) client = client_new();
	g_autofree gchar *url = rv_url(rv, "/hook");
	Result res;

	post_wait(client, url, 5000, &res);
	assert_status(&res, 200);
	g_assert_cmpint(res.elapsed_ms, >=, 250);
	result_clear(&res);
	g_assert_cmpuint(pal_webhook_client_get_n_idle(client), ==, 0);
	post_expect(client, url, 202);
	g_assert_cmpuint(pal_webhook_client_get_n_connects(client), ==, 2);
	g_assert_cmpuint(rv_req(rv, 1)->conn, ==, 2);
}

static const Step answer_interim[] = {
    SEND("HTTP/1.1 100 Continue\r\n\r\n"),
    PAUSE(50),
    SEND("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 201 Created\r\n"
	 "Content-Length: 3\r\n\r\nnew"),
    END,
};

/* 100 Continue and 103 Early Hints before the answer: the final status counts, kept */
static void
test_keepalive_interim(void)
{
	g_autoptr(Receiver) rv = receiver_new(answer_interim, answer_202);
	g_autoptr(PalWebhookClient) client = client_new();
	g_autofree gchar *url = rv_url(rv, "/hook");

	post_expect(client, url, 201);
	post_expect(client, url, 202);
	g_assert_cmpuint(pal_webhook_client_get_n_connects(client), ==, 1);
}

static const Step answer_200_then_close[] = {SEND(OK_200), CLOSE, END};

/* the receiver closes an idle kept connection and the client sees it while idle: the next
 * request goes on a new connection, sent once */
static void
test_keepalive_receiver_closes_idle(void)
{
	g_autoptr(Receiver) rv = receiver_new(answer_200_then_close, answer_202);
	g_autoptr(PalWebhookClient) client = client_new();
	g_autofree gchar *url = rv_url(rv, "/hook");

	post_expect(client, url, 200);
	g_assert_true(rv_wait(rv, RV_CLOSED, 1, 5000));
	iterate_for(200);
	g_assert_cmpuint(pal_webhook_client_get_n_idle(client), ==, 0);
	post_expect(client, url, 202);
	g_assert_cmpuint(pal_webhook_client_get_n_connects(client), ==, 2);
	g_assert_cmpuint(rv_count(rv, RV_REQUESTS), ==, 2);
	g_assert_cmpuint(rv_req(rv, 1)->conn, ==, 2);
}

/* ---------------------------------------------------------------------------------------------
 * 4. chunked answers
 * ------------------------------------------------------------------------------------------- */

static const Step answer_chunked_split[] = {
    SEND("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n5;name=va"),
    PAUSE(30),
    SEND("lue\r"),
    PAUSE(30),
    SEND("\nhel"),
    PAUSE(30),
    SEND("lo\r\n1"),
    PAUSE(30),
    SEND("0\r\n0123456789abcdef\r"),
    PAUSE(30),
    SEND("\n00A;x;y=\"z\"\r\n0123456789\r\n0"),
    PAUSE(30),
    SEND("\r\nX-Trailer: yes\r\nX-Other"),
    PAUSE(30),
    SEND(": 1\r\n\r"),
    PAUSE(30),
    SEND("\n"),
    END,
};

/* chunk extensions, a trailer, every piece split in odd places: the call ends with the last
 * byte (not before), and the connection is kept */
static void
test_chunked_split(void)
{
	g_autoptr(Receiver) rv = receiver_new(answer_chunked_split, answer_204);
	g_autoptr(PalWebhookClient) client = client_new();
	g_autofree gchar *url = rv_url(rv, "/hook");
	Result res;

	post_wait(client, url, 5000, &res);
	assert_status(&res, 200);
	g_assert_cmpint(res.elapsed_ms, >=, 200);
	result_clear(&res);
	g_assert_cmpuint(pal_webhook_client_get_n_idle(client), ==, 1);
	post_expect(client, url, 204);
	g_assert_cmpuint(pal_webhook_client_get_n_connects(client), ==, 1);
	g_assert_cmpuint(rv_count(rv, RV_CONNS), ==, 1);
	g_assert_cmpuint(rv_req(rv, 1)->on_conn, ==, 2);
}

/* a chunked body of several large chunks in one go (below the 64 KiB limit): kept */
static void
test_chunked_large(void)
{
	g_autoptr(GString) answer = g_string_new("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	g_autoptr(Receiver) rv = NULL;
	g_autoptr(PalWebhookClient) client = client_new();
	g_autofree gchar *url = NULL;
	Step steps[] = {END, END};

	for (guint i = 0; i < 3; i++) {
		g_string_append(answer, "2800\r\n");
		for (guint j = 0; j < 0x2800; j++)
			g_string_append_c(answer, (gchar)('a' + (j % 26)));
		g_string_append(answer, "\r\n");
	}
	g_string_append(answer, "0\r\n\r\n");
	steps[0] = (Step)SENDN(answer->str, answer->len);
	rv = receiver_new(steps, answer_204);
	url = rv_url(rv, "/hook");
	post_expect(client, url, 200);
	post_expect(client, url, 204);
	g_assert_cmpuint(pal_webhook_client_get_n_connects(client), ==, 1);
}

/* a malformed chunked body: the status counts, the connection is not kept */
static void
test_chunked_malformed(void)
{
	const gchar *bodies[] = {
	    "zz\r\nhello\r\n0\r\n\r\n",		    /* not a size */
	    "3\r\nhello\r\n0\r\n\r\n",		    /* more data than the size said */
	    "\r\n5\r\nhello\r\n0\r\n\r\n",	    /* a size line without digits */
	    "fffffffffffffffff1\r\nhello\r\n0\r\n\r\n", /* a size beyond 64 bits */
	};

	for (guint i = 0; i < G_N_ELEMENTS(bodies); i++) {
		g_autofree gchar *answer =
		    g_strdup_printf("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%s", bodies[i]);
		Step steps[] = {SENDN(answer, strlen(answer)), END};

		g_test_message("malformed chunked body %u", i);
		check_not_kept(steps);
	}
}

/* a malformed chunk just past the 64 KiB the client reads past: the status counts, the
 * connection is not kept (and nothing leaks: LeakSanitizer checks it in the ASan build) */
static void
test_chunked_malformed_past_limit(void)
{
	g_autoptr(GString) answer = g_string_new("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	Step steps[] = {END, END};

	/* 6 + 65530 = 65536 body bytes, then a bad line end */
	g_string_append(answer, "fffa\r\n");
	for (guint j = 0; j < 0xfffa; j++)
		g_string_append_c(answer, 'x');
	g_string_append(answer, "XX\r\n0\r\n\r\n");
	steps[0] = (Step)SENDN(answer->str, answer->len);
	check_not_kept(steps);
}

/* ---------------------------------------------------------------------------------------------
 * 5. limits of the answer
 * ------------------------------------------------------------------------------------------- */

/* an answer body larger than 64 KiB: the status counts at once (the receiver never finishes
 * sending it), the connection is closed */
static void
check_large_body(const gchar *head, gsize body_len, gboolean hold)
{
	g_autofree gchar *filler = g_malloc(body_len);
	g_autoptr(Receiver) rv = NULL;
	g_autoptr(PalWebhookClient) client = client_new();
	g_autofree gchar *url = NULL;
	Step steps[] = {SENDN(head, strlen(head)), SENDN(filler, body_len), HOLD, END};
	Result res;

	memset(filler, 'b', body_len);
	if (!hold)
		steps[2] = (Step)END;
	rv = receiver_new(steps, answer_202);
	url = rv_url(rv, "/hook");
	post_wait(client, url, 10000, &res);
	assert_status(&res, 200);
	g_assert_cmpint(res.elapsed_ms, <, 3000);
	result_clear(&res);
	g_assert_cmpuint(pal_webhook_client_get_n_idle(client), ==, 0);
	g_assert_true(iterate_until_rv(rv, RV_PEER_CLOSED, 1, 5000));
	post_expect(client, url, 202);
	g_assert_cmpuint(pal_webhook_client_get_n_connects(client), ==, 2);
}

static void
test_limits_large_body_length(void)
{
	/* 10 MiB announced, 100 KiB sent, then nothing */
	check_large_body("HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\n\r\n", 100 * 1024, TRUE);
}

static void
test_limits_large_body_complete(void)
{
	/* 1 MiB announced and sent */
	check_large_body("HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n", 1024 * 1024, FALSE);
}

static void
test_limits_large_body_eof(void)
{
	/* no length: would end at close, which never comes */
	check_large_body("HTTP/1.1 200 OK\r\n\r\n", 100 * 1024, TRUE);
}

static void
test_limits_large_body_chunked(void)
{
	/* one chunk of 1 MiB announced, 100 KiB of it sent */
	check_large_body("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100000\r\n", 100 * 1024, TRUE);
}

static gchar *
make_head(gsize approx_len, gboolean terminated)
{
	GString *head = g_string_new("HTTP/1.1 200 OK\r\n");

	for (guint i = 0; head->len < approx_len; i++) {
		g_string_append_printf(head, "X-Fill-%05u: ", i);
		for (guint j = 0; j < 60; j++)
			g_string_append_c(head, 'a');
		g_string_append(head, "\r\n");
	}
	if (terminated)
		g_string_append(head, "Content-Length: 0\r\n\r\n");
	return g_string_free(head, FALSE);
}

/* more than 64 KiB of headers without their end: G_IO_ERROR_MESSAGE_TOO_LARGE at once */
static void
test_limits_large_head(void)
{
	g_autofree gchar *head = make_head(80 * 1024, FALSE);
	Step steps[] = {SENDN(head, strlen(head)), HOLD, END};
	g_autoptr(Receiver) rv = receiver_new(steps);
	g_autoptr(PalWebhookClient) client = client_new();
	g_autofree gchar *url = rv_url(rv, "/hook");
	Result res;

	post_wait(client, url, 10000, &res);
	g_assert_error(res.error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
	g_assert_cmpint(res.elapsed_ms, <, 3000);
	result_clear(&res);
	g_assert_cmpuint(pal_webhook_client_get_n_idle(client), ==, 0);
	g_assert_true(iterate_until_rv(rv, RV_PEER_CLOSED, 1, 5000));
}

/* 60 KiB of headers are within the limit */
static void
test_limits_head_within(void)
{
	g_autofree gchar *head = make_head(60 * 1024, TRUE);
	Step steps[] = {SENDN(head, strlen(head)), END};
	g_autoptr(Receiver) rv = receiver_new(steps);
	g_autoptr(PalWebhookClient) client = client_new();
	g_autofree gchar *url = rv_url(rv, "/hook");

	post_expect(client, url, 200);
	g_assert_cmpuint(pal_webhook_client_get_n_idle(client), ==, 1);
}

/* ---------------------------------------------------------------------------------------------
 * 6. answers that are not HTTP
 * ------------------------------------------------------------------------------------------- */

static void
test_invalid_answer(void)
{
#define RAW(s) {(s), sizeof(s) - 1}
	const struct {
		const gchar *data;
		gsize len;
	} answers[] = {
	    RAW("this is not http\r\n\r\n"),
	    RAW("<html><body>hello</body></html>\r\n\r\n"),
	    RAW("HTTP/1.1 OK\r\nContent-Length: 0\r\n\r\n"),
	    RAW("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n\r\n"),
	    RAW("\x16\x03\x01\x00\x02\x02\x0a\r\n\r\n"), /* a TLS alert: NUL bytes */
	};
#undef RAW

	for (guint i = 0; i < G_N_ELEMENTS(answers); i++) {
		Step steps[] = {SENDN(answers[i].data, answers[i].len), HOLD, END};
		g_autoptr(Receiver) rv = receiver_new(steps);
		g_autoptr(PalWebhookClient) client = client_new();
		g_autofree gchar *url = rv_url(rv, "/hook");
		Result res;

		g_test_message("answer %u", i);
		post_wait(client, url, 10000, &res);
		g_assert_error(res.error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
		g_assert_cmpint(res.elapsed_ms, <, 3000);
		result_clear(&res);
		g_assert_cmpuint(pal_webhook_client_get_n_idle(client), ==, 0);
		g_assert_true(iterate_until_rv(rv, RV_PEER_CLOSED, 1, 5000));
	}
}

/* ---------------------------------------------------------------------------------------------
 * 7. deadlines and connection errors
 * ------------------------------------------------------------------------------------------- */

/* a receiver that never answers: G_IO_ERROR_TIMED_OUT at the deadline, the connection closed;
 * the next request works */
static void
test_deadline_no_answer(void)
{
	g_autoptr(Receiver) rv = receiver_new(answer_hold, answer_202);
	g_autoptr(PalWebhookClient) client = client_new();
	g_autofree gchar *url = rv_url(rv, "/hook");
	Result res;

	post_wait(client, url, 200, &res);
	g_assert_error(res.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
	g_assert_cmpint(res.elapsed_ms, >=, 150);
	g_assert_cmpint(res.elapsed_ms, <, 1000);
	result_clear(&res);
	g_assert_cmpuint(pal_webhook_client_get_n_idle(client), ==, 0);
	g_assert_true(iterate_until_rv(rv, RV_PEER_CLOSED, 1, 5000));
	g_assert_cmpuint(rv_count(rv, RV_REQUESTS), ==, 1);
	post_expect(client, url, 202);
	g_assert_cmpuint(pal_webhook_client_get_n_connects(client), ==, 2);
}

static const Step answer_slow_body[] = {
    SEND("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234"), HOLD, END};

/* the deadline covers the whole answer: a body that stops halfway times out */
static void
test_deadline_slow_body(void)
{
	g_autoptr(Receiver) rv = receiver_new(answer_slow_body);
	g_autoptr(PalWebhookClient) client = client_new();
	g_autofree gchar *url = rv_url(rv, "/hook");
	Result res;

	post_wait(client, url, 300, &res);
	g_assert_error(res.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
	g_assert_cmpint(res.elapsed_ms, <, 1300);
	result_clear(&res);
	g_assert_cmpuint(pal_webhook_client_get_n_idle(client), ==, 0);
	g_assert_true(iterate_until_rv(rv, RV_PEER_CLOSED, 1, 5000));
}

/* the deadline covers connecting */
static void
test_deadline_connect(void)
{
	Hanging h = {-1, 0, NULL};
	g_autoptr(PalWebhookClient) client = client_new();
	g_autofree gchar *url = NULL;
	Result res;

	if (!hanging_open(&h)) {
		g_test_skip("cannot make a connection that hangs on loopback");
		return;
	}
	url = g_strdup_printf("http://127.0.0.1:%u/hook", h.port);
	post_wait(client, url, 300, &res);
	g_assert_error(res.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
	g_assert_cmpint(res.elapsed_ms, >=, 250);
	g_assert_cmpint(res.elapsed_ms, <, 1300);
	result_clear(&res);
	g_assert_cmpuint(pal_webhook_client_get_n_connects(client), ==, 0);
	hanging_close(&h);
}

/* nobody listens: an error at once, not a hang until the deadline */
static void
test_connect_refused(void)
{
	g_autoptr(PalWebhookClient) client = client_new();
	g_autofree gchar *url = g_strdup_printf("http://127.0.0.1:%u/hook", closed_port());
	Result res;

	post_wait(client, url, 10000, &res);
	g_assert_error(res.error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
	g_assert_cmpint(res.elapsed_ms, <, 2000);
	result_clear(&res);
	g_assert_cmpuint(pal_webhook_client_get_n_connects(client), ==, 0);
	g_assert_cmpuint(pal_webhook_client_get_n_idle(client), ==, 0);
}

/* ---------------------------------------------------------------------------------------------
 * 8. the resend on a kept connection
 * ------------------------------------------------------------------------------------------- */

/* the receiver closed the kept connection before the client noticed: the request goes once
 * more on a new connection, and the receiver gets it once */
static void
test_resend_closed_idle(void)
{
	g_autoptr(Receiver) rv = receiver_new(answer_200_then_close, answer_202);
	g_autoptr(PalWebhookClient) client = client_new();
	g_autoptr(GBytes) body = make_body(1000, 2);
	g_autofree gchar *url = rv_url(rv, "/hook");
	Result res;

	post_expect(client, url, 200);
	g_assert_cmpuint(pal_webhook_client_get_n_idle(client), ==, 1);
	/* the receiver has closed it; the main context has not run since */
	g_assert_true(rv_wait(rv, RV_CLOSED, 1, 5000));
	post(client, url, NULL, "application/json", body, 5000, &res);
	wait_result(&res, 10000);
	assert_status(&res, 202);
	result_clear(&res);
	g_assert_cmpuint(pal_webhook_client_get_n_connects(client), ==, 2);
	iterate_for(100);
	g_assert_cmpuint(rv_count(rv, RV_REQUESTS), ==, 2);
	g_assert_cmpuint(rv_req(rv, 1)->conn, ==, 2);
	g_assert_cmpuint(rv_req(rv, 1)->on_conn, ==, 1);
	g_assert_true(g_bytes_equal(rv_req(rv, 1)->body, body));
	g_assert_cmpuint(pal_webhook_client_get_n_idle(client), ==, 1);
}

/* the receiver read the request on the kept connection and closed it without answer: sent once
 * more (at-least-once) on a new connection */
static void
test_resend_closed_after_read(void)
{
	g_autoptr(Receiver) rv = receiver_new(answer_200, answer_none_close, answer_202);
	g_autoptr(PalWebhookClient) client = client_new();
	g_autofree gchar *url = rv_url(rv, "/hook");

	post_expect(client, url, 200);
	post_expect(client, url, 202);
	g_assert_cmpuint(rv_count(rv, RV_REQUESTS), ==, 3);
	g_assert_cmpuint(rv_req(rv, 1)->conn, ==, 1);
	g_assert_cmpuint(rv_req(rv, 2)->conn, ==, 2);
	g_assert_true(g_bytes_equal(rv_req(rv, 1)->body, rv_req(rv, 2)->body));
	g_assert_cmpuint(pal_webhook_client_get_n_connects(client), ==, 2);
}

/* once only: when the new connection is closed without answer too, the request fails */
static void
test_resend_once_only(void)
{
	g_autoptr(Receiver) rv = receiver_new(answer_200, answer_none_close);
	g_autoptr(PalWebhookClient) client = client_new();
	g_autofree gchar *url = rv_url(rv, "/hook");
	Result res;

	post_expect(client, url, 200);
	post_wait(client, url, 5000, &res);
	g_assert_nonnull(res.error);
	g_assert_false(g_error_matches(res.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT));
	g_assert_cmpint(res.elapsed_ms, <, 3000);
	result_clear(&res);
	iterate_for(200);
	g_assert_cmpuint(rv_count(rv, RV_REQUESTS), ==, 3);
	g_assert_cmpuint(rv_count(rv, RV_CONNS), ==, 2);
	g_assert_cmpuint(pal_webhook_client_get_n_connects(client), ==, 2);
}

/* a fresh connection closed without answer: an error, the request sent once */
static void
test_resend_not_on_fresh(void)
{
	g_autoptr(Receiver) rv = receiver_new(answer_none_close);
	g_autoptr(PalWebhookClient) client = client_new();
	g_autofree gchar *url = rv_url(rv, "/hook");
	Result res;

	post_wait(client, url, 5000, &res);
	g_assert_nonnull(res.error);
	g_assert_true(res.error->domain == G_IO_ERROR);
	g_assert_false(g_error_matches(res.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT));
	g_assert_cmpint(res.elapsed_ms, <, 3000);
	result_clear(&res);
	iterate_for(200);
	g_assert_cmpuint(rv_count(rv, RV_REQUESTS), ==, 1);
	g_assert_cmpuint(rv_count(rv, RV_CONNS), ==, 1);
	g_assert_cmpuint(pal_webhook_client_get_n_connects(client), ==, 1);
	g_assert_cmpuint(pal_webhook_client_get_n_idle(client), ==, 0);
}

/* ---------------------------------------------------------------------------------------------
 * 9. answers while the request body is still being sent
 * ------------------------------------------------------------------------------------------- */

#define EARLY_BODY (8 * 1024 * 1024)

static const Step answer_413_close[] = {
    SEND("HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"),
    CLOSE,
    END};
static const Step answer_413_open[] = {
    SEND("HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n"), PAUSE(10000), CLOSE, END};

/* the receiver answers 413 after the head of an 8 MiB request, without reading its body */
static void
check_early_answer(const Step *steps)
{
	RvOpts opts = {.head_only = TRUE};
	g_autoptr(Receiver) rv = receiver_start(&opts, steps, NULL);
	g_autoptr(PalWebhookClient) client = client_new();
	g_autoptr(GBytes) body = make_body(EARLY_BODY, 3);
	g_autofree gchar *url = rv_url(rv, "/hook");
	Result res;

	post(client, url, NULL, "application/octet-stream", body, 10000, &res);
	wait_result(&res, 15000);
	assert_status(&res, 413);
	g_assert_cmpint(res.elapsed_ms, <, 3000);
	result_clear(&res);
	/* the rest of the request was not sent: the connection cannot be kept */
	g_assert_cmpuint(pal_webhook_client_get_n_idle(client), ==, 0);
	g_assert_cmpuint(rv_count(rv, RV_REQUESTS), ==, 1);
}

static void
test_early_answer_close(void)
{
	check_early_answer(answer_413_close);
}

static void
test_early_answer_open(void)
{
	check_early_answer(answer_413_open);
}

/* a receiver that sends 100 Continue as soon as it has the head (RFC 9110 15.2: a client must
 * take 1xx answers it did not ask for), then reads the body and answers: the whole body is
 * sent and the final status counts */
static void
test_early_answer_100_continue(void)
{
	RvOpts opts = {.after_head = "HTTP/1.1 100 Continue\r\n\r\n", .after_head_pause_ms = 200};
	g_autoptr(Receiver) rv = receiver_start(&opts, answer_200, NULL);
	g_autoptr(PalWebhookClient) client = client_new();
	g_autoptr(GBytes) body = make_body(EARLY_BODY, 4);
	g_autofree gchar *url = rv_url(rv, "/hook");
	Result res;

	post(client, url, NULL, "application/octet-stream", body, 5000, &res);
	wait_result(&res, 10000);
	assert_status(&res, 200);
	result_clear(&res);
	g_assert_cmpuint(rv_count(rv, RV_REQUESTS), ==, 1);
	g_assert_true(g_bytes_equal(rv_req(rv, 0)->body, body));
	g_assert_cmpuint(pal_webhook_client_get_n_idle(client), ==, 1);
}

/* ---------------------------------------------------------------------------------------------
 * 10. what is refused before anything is sent
 * ------------------------------------------------------------------------------------------- */

static void
assert_invalid_argument(PalWebhookClient *client,
			const gchar *url,
			const gchar *const *headers,
			const gchar *content_type)
{
	g_autoptr(GBytes) body = g_bytes_new_static("{}", 2);
	Result res;

	post(client, url, headers, content_type, body, 5000, &res);
	/* the callback runs from the main context, not from post_async() */
	g_assert_false(res.done);
	wait_result(&res, 5000);
	g_assert_error(res.error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
	g_assert_cmpuint(res.status, ==, 0);
	result_clear(&res);
}

/* a line break in a header name or value would start a header (or a request) of its own */
static void
test_refuse_header_line_break(void)
{
	g_autoptr(Receiver) rv = receiver_new(answer_200);
	g_autoptr(PalWebhookClient) client = client_new();
	g_autofree gchar *url = rv_url(rv, "/hook");
	const gchar *bad[][5] = {
	    {"webhook-id", "msg_1\r\nX-Injected: 1", NULL},
	    {"webhook-id", "ok", "X-Value", "a\nb", NULL},
	    {"X-Value", "a\rb", NULL},
	    {"X-Injected: 1\r\nX-Name", "v", NULL},
	    {"X-Bad:Name", "v", NULL},
	    {"", "v", NULL},
	};

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_test_message("headers %u", i);
		assert_invalid_argument(client, url, bad[i], "application/json");
	}
	iterate_for(200);
	g_assert_cmpuint(pal_webhook_client_get_n_connects(client), ==, 0);
	g_assert_cmpuint(rv_count(rv, RV_CONNS), ==, 0);
	/* and the client still works */
	post_expect(client, url, 200);
	g_assert_null(req_header(rv_req(rv, 0), "X-Injected"));
}

/* the Content-Type is a header value too */
static void
test_refuse_content_type_line_break(void)
{
	g_autoptr(Receiver) rv = receiver_new(answer_200);
	g_autoptr(PalWebhookClient) client = client_new();
	g_autofree gchar *url = rv_url(rv, "/hook");

	assert_invalid_argument(client, url, NULL, "application/json\r\nX-Injected: 1");
	iterate_for(200);
	g_assert_cmpuint(rv_count(rv, RV_CONNS), ==, 0);
}

/* only http and https URLs with a host */
static void
test_refuse_url(void)
{
	g_autoptr(Receiver) rv = receiver_new(answer_200);
	g_autoptr(PalWebhookClient) client = client_new();
	g_autoptr(GBytes) body = g_bytes_new_static("{}", 2);
	g_autofree gchar *ftp = g_strdup_printf("ftp://127.0.0.1:%u/hook", rv->port);
	g_autofree gchar *ws = g_strdup_printf("ws://127.0.0.1:%u/hook", rv->port);
	const gchar *urls[] = {ftp, ws, "file:///etc/passwd", "mailto:ops@example.com", "http:///no-host"};
	Result res;

	for (guint i = 0; i < G_N_ELEMENTS(urls); i++) {
		g_test_message("url %s", urls[i]);
		assert_invalid_argument(client, urls[i], NULL, NULL);
	}
	/* not a URL at all: an error too (the parser's) */
	post(client, "not a url", NULL, NULL, body, 5000, &res);
	wait_result(&res, 5000);
	g_assert_nonnull(res.error);
	result_clear(&res);
	iterate_for(200);
	g_assert_cmpuint(pal_webhook_client_get_n_connects(client), ==, 0);
	g_assert_cmpuint(rv_count(rv, RV_CONNS), ==, 0);
}

/* ---------------------------------------------------------------------------------------------
 * 11. abort()
 * ------------------------------------------------------------------------------------------- */

static const Step answer_stall[] = {PAUSE(30000), CLOSE, END};

/* requests waiting for an answer, still sending and still connecting fail with
 * G_IO_ERROR_CANCELLED, from the main context; idle connections are closed; later requests
 * fail the same way */
static void
test_abort(void)
{
	RvOpts head_only = {.head_only = TRUE};
	g_autoptr(Receiver) rv_ok = receiver_new(answer_200);
	g_autoptr(Receiver) rv_hold = receiver_new(answer_hold);
	g_autoptr(Receiver) rv_slow = receiver_start(&head_only, answer_stall, NULL);
	g_autoptr(PalWebhookClient) client = client_new();
	g_autoptr(GBytes) small = g_bytes_new_static("{}", 2);
	g_autoptr(GBytes) large = make_body(EARLY_BODY, 5);
	g_autofree gchar *url_ok = rv_url(rv_ok, "/ok");
	g_autofree gchar *url_hold = rv_url(rv_hold, "/hold");
	g_autofree gchar *url_slow = rv_url(rv_slow, "/slow");
	g_autofree gchar *url_hanging = NULL;
	Hanging h = {-1, 0, NULL};
	gboolean hanging = hanging_open(&h);
	Result waiting, sending, connecting, later;

	/* an idle kept connection */
	post_expect(client, url_ok, 200);
	g_assert_cmpuint(pal_webhook_client_get_n_idle(client), ==, 1);
	/* one waits for its answer, one is stuck sending its body (the receiver reads no body) */
	post(client, url_hold, NULL, "application/json", small, 30000, &waiting);
	post(client, url_slow, NULL, "application/octet-stream", large, 30000, &sending);
	g_assert_true(iterate_until_rv(rv_hold, RV_REQUESTS, 1, 5000));
	g_assert_true(iterate_until_rv(rv_slow, RV_REQUESTS, 1, 5000));
	/* one connects to a listener that never completes the handshake */
	memset(&connecting, 0, sizeof connecting);
	if (hanging) {
		url_hanging = g_strdup_printf("http://127.0.0.1:%u/hook", h.port);
		post(client, url_hanging, NULL, "application/json", small, 30000, &connecting);
	} else {
		g_test_message("cannot make a connection that hangs on loopback: no connecting request");
	}
	iterate_for(200);
	g_assert_false(waiting.done);
	g_assert_false(sending.done);
	g_assert_false(connecting.done);

	pal_webhook_client_abort(client);
	g_assert_false(waiting.done);
	g_assert_false(sending.done);
	g_assert_cmpuint(pal_webhook_client_get_n_idle(client), ==, 0);
	wait_result(&waiting, 5000);
	wait_result(&sending, 5000);
	g_assert_error(waiting.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	g_assert_error(sending.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	g_assert_cmpint(waiting.elapsed_ms, <, 5000);
	result_clear(&waiting);
	result_clear(&sending);
	if (hanging) {
		wait_result(&connecting, 5000);
		g_assert_error(connecting.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
		result_clear(&connecting);
	}
	/* every connection was closed by the client */
	g_assert_true(iterate_until_rv(rv_ok, RV_PEER_CLOSED, 1, 5000));
	g_assert_true(iterate_until_rv(rv_hold, RV_PEER_CLOSED, 1, 5000));

	post(client, url_ok, NULL, "application/json", small, 5000, &later);
	wait_result(&later, 5000);
	g_assert_error(later.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	result_clear(&later);
	iterate_for(100);
	g_assert_cmpuint(rv_count(rv_ok, RV_REQUESTS), ==, 1);
	g_assert_cmpuint(pal_webhook_client_get_n_idle(client), ==, 0);
	hanging_close(&h);
}

/* ---------------------------------------------------------------------------------------------
 * 12. many requests at once
 * ------------------------------------------------------------------------------------------- */

#define N_CONCURRENT 200

typedef struct {
	Result *results;
	guint n;
} Results;

static gboolean
results_done(gpointer data)
{
	Results *all = data;

	for (guint i = 0; i < all->n; i++) {
		if (!all->results[i].done)
			return FALSE;
	}
	return TRUE;
}

static const Step answer_200_slow[] = {PAUSE(20), SEND(OK_200), END};

static void
post_wave(PalWebhookClient *client, const gchar *url, Result *results, guint first)
{
	Results all = {results, N_CONCURRENT};

	for (guint i = 0; i < N_CONCURRENT; i++) {
		g_autofree gchar *seq = g_strdup_printf("%u", first + i);
		g_autofree gchar *text = g_strdup_printf("{\"seq\":%u}", first + i);
		g_autoptr(GBytes) body = g_bytes_new(text, strlen(text));
		const gchar *headers[] = {"X-Seq", seq, NULL};

		post(client, url, headers, "application/json", body, 20000, &results[i]);
	}
	g_assert_true(iterate_until(results_done, &all, 30000));
	for (guint i = 0; i < N_CONCURRENT; i++) {
		assert_status(&results[i], 200);
		result_clear(&results[i]);
	}
}

/* 200 in flight to one receiver, twice: all answered; the second wave reuses the connections
 * of the first; no request is lost, doubled or mixed with another's body */
static void
test_concurrent(void)
{
	g_autoptr(Receiver) rv = receiver_new(answer_200_slow);
	g_autoptr(PalWebhookClient) client = client_new();
	g_autofree gchar *url = rv_url(rv, "/hook");
	g_autofree Result *results = g_new0(Result, N_CONCURRENT);
	g_autofree guint *seen = g_new0(guint, 2 * N_CONCURRENT);
	guint64 connects;

	post_wave(client, url, results, 0);
	connects = pal_webhook_client_get_n_connects(client);
	g_assert_cmpuint(connects, ==, rv_count(rv, RV_CONNS));
	g_assert_cmpuint(connects, <=, N_CONCURRENT);
	g_assert_cmpuint(pal_webhook_client_get_n_idle(client), ==, connects);
	g_assert_cmpuint(pal_webhook_client_get_n_idle(client), <=, rv_max_open(rv));

	post_wave(client, url, results, N_CONCURRENT);
	g_assert_cmpuint(pal_webhook_client_get_n_connects(client), ==, connects);
	g_assert_cmpuint(rv_count(rv, RV_CONNS), ==, connects);
	g_assert_cmpuint(pal_webhook_client_get_n_idle(client), <=, rv_max_open(rv));
	g_assert_cmpuint(pal_webhook_client_get_n_idle(client), ==, connects);

	g_assert_cmpuint(rv_count(rv, RV_REQUESTS), ==, 2 * N_CONCURRENT);
	for (guint i = 0; i < 2 * N_CONCURRENT; i++) {
		const Req *req = rv_req(rv, i);
		const gchar *seq = req_header(req, "X-Seq");
		g_autofree gchar *text = NULL;
		guint n;

		g_assert_nonnull(seq);
		n = (guint)g_ascii_strtoull(seq, NULL, 10);
		g_assert_cmpuint(n, <, 2 * N_CONCURRENT);
		seen[n]++;
		text = g_strdup_printf("{\"seq\":%u}", n);
		g_assert_cmpmem(g_bytes_get_data(req->body, NULL), g_bytes_get_size(req->body), text, strlen(text));
	}
	for (guint i = 0; i < 2 * N_CONCURRENT; i++)
		g_assert_cmpuint(seen[i], ==, 1);
}

/* ---------------------------------------------------------------------------------------------
 * 13. idle connections
 * ------------------------------------------------------------------------------------------- */

typedef struct {
	PalWebhookClient *client;
	guint n;
} IdleIs;

static gboolean
idle_is(gpointer data)
{
	IdleIs *c = data;
	return pal_webhook_client_get_n_idle(c->client) == c->n;
}

/* idle_timeout_s 1: the kept connection is closed after a second or two of idling, not at
 * once; a client with a longer idle timeout keeps its own */
static void
test_idle_sweep(void)
{
	g_autoptr(Receiver) rv = receiver_new(answer_200);
	g_autoptr(PalWebhookClient) brief = pal_webhook_client_new(USER_AGENT, 1, FALSE);
	g_autoptr(PalWebhookClient) patient = client_new();
	g_autofree gchar *url = rv_url(rv, "/hook");
	IdleIs none = {brief, 0};
	gint64 start;

	post_expect(brief, url, 200);
	post_expect(patient, url, 200);
	start = g_get_monotonic_time();
	g_assert_cmpuint(pal_webhook_client_get_n_idle(brief), ==, 1);
	iterate_for(500);
	g_assert_cmpuint(pal_webhook_client_get_n_idle(brief), ==, 1);
	g_assert_cmpuint(rv_count(rv, RV_PEER_CLOSED), ==, 0);
	g_assert_true(iterate_until(idle_is, &none, 2500));
	g_assert_cmpint(g_get_monotonic_time() - start, >=, 900 * G_TIME_SPAN_MILLISECOND);
	/* closed for real: the receiver saw it */
	g_assert_true(iterate_until_rv(rv, RV_PEER_CLOSED, 1, 2000));
	iterate_for(100);
	g_assert_cmpuint(rv_count(rv, RV_PEER_CLOSED), ==, 1);
	g_assert_cmpuint(pal_webhook_client_get_n_idle(patient), ==, 1);
	/* and the next request of the brief client connects anew */
	post_expect(brief, url, 200);
	g_assert_cmpuint(pal_webhook_client_get_n_connects(brief), ==, 2);
}

/* ---------------------------------------------------------------------------------------------
 * the cache of parsed URLs
 * ------------------------------------------------------------------------------------------- */

/* more URLs than the client caches (1024): each request still goes to its own target, all on
 * one kept connection, and a refused header on an uncached URL is handled too */
static void
test_many_urls(void)
{
	g_autoptr(Receiver) rv = receiver_new(answer_204);
	g_autoptr(PalWebhookClient) client = client_new();
	const guint n = 1100;
	const gchar *bad[] = {"X-Bad", "a\r\nb", NULL};
	g_autofree gchar *url_bad = rv_url(rv, "/uncached?bad=1");

	for (guint i = 0; i < n; i++) {
		g_autofree gchar *path = g_strdup_printf("/hook/%u?n=%u", i, i);
		g_autofree gchar *url = rv_url(rv, path);

		post_expect(client, url, 204);
	}
	assert_invalid_argument(client, url_bad, bad, NULL);
	g_assert_cmpuint(rv_count(rv, RV_REQUESTS), ==, n);
	for (guint i = 0; i < n; i++) {
		g_autofree gchar *line = g_strdup_printf("POST /hook/%u?n=%u HTTP/1.1", i, i);
		g_assert_cmpstr(rv_req(rv, i)->line, ==, line);
	}
	g_assert_cmpuint(pal_webhook_client_get_n_connects(client), ==, 1);
	g_assert_cmpuint(rv_count(rv, RV_CONNS), ==, 1);
}

/* ---------------------------------------------------------------------------------------------
 * every case in a subprocess of its own
 * ------------------------------------------------------------------------------------------- */

static gboolean
have_ipv6_loopback(void)
{
	struct sockaddr_in6 sa = {0};
	gint fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	gboolean ok;

	sa.sin6_family = AF_INET6;
	sa.sin6_addr = in6addr_loopback;
	ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static gboolean
have_hanging_connect(void)
{
	Hanging h = {-1, 0, NULL};
	gboolean ok = hanging_open(&h);

	hanging_close(&h);
	return ok;
}

typedef struct {
	const gchar *path;
	void (*func)(void);
	gboolean (*can_run)(void); /* NULL: always */
	const gchar *skip_reason;
} Case;

static const Case cases[] = {
    {"/webhook-client/request/format", test_request_format},
    {"/webhook-client/request/defaults", test_request_defaults},
    {"/webhook-client/request/large-body", test_request_large_body},
    {"/webhook-client/request/ipv6", test_request_ipv6, have_ipv6_loopback, "no IPv6 loopback"},
    {"/webhook-client/status/statuses-and-retry-after", test_status},
    {"/webhook-client/keepalive/reuse", test_keepalive_reuse},
    {"/webhook-client/keepalive/connection-close", test_keepalive_connection_close},
    {"/webhook-client/keepalive/http10", test_keepalive_http10},
    {"/webhook-client/keepalive/http10-keep-alive", test_keepalive_http10_keep_alive},
    {"/webhook-client/keepalive/extra-bytes", test_keepalive_extra_bytes},
    {"/webhook-client/keepalive/body-to-eof", test_keepalive_body_to_eof},
    {"/webhook-client/keepalive/interim", test_keepalive_interim},
    {"/webhook-client/keepalive/receiver-closes-idle", test_keepalive_receiver_closes_idle},
    {"/webhook-client/chunked/split", test_chunked_split},
    {"/webhook-client/chunked/large", test_chunked_large},
    {"/webhook-client/chunked/malformed", test_chunked_malformed},
    {"/webhook-client/chunked/malformed-past-limit", test_chunked_malformed_past_limit},
    {"/webhook-client/limits/large-body-length", test_limits_large_body_length},
    {"/webhook-client/limits/large-body-complete", test_limits_large_body_complete},
    {"/webhook-client/limits/large-body-eof", test_limits_large_body_eof},
    {"/webhook-client/limits/large-body-chunked", test_limits_large_body_chunked},
    {"/webhook-client/limits/large-head", test_limits_large_head},
    {"/webhook-client/limits/head-within", test_limits_head_within},
    {"/webhook-client/invalid/not-http", test_invalid_answer},
    {"/webhook-client/deadline/no-answer", test_deadline_no_answer},
    {"/webhook-client/deadline/slow-body", test_deadline_slow_body},
    {"/webhook-client/deadline/connect",
     test_deadline_connect,
     have_hanging_connect,
     "cannot make a connection that hangs on loopback"},
    {"/webhook-client/connect/refused", test_connect_refused},
    {"/webhook-client/resend/closed-idle", test_resend_closed_idle},
    {"/webhook-client/resend/closed-after-read", test_resend_closed_after_read},
    {"/webhook-client/resend/once-only", test_resend_once_only},
    {"/webhook-client/resend/not-on-fresh", test_resend_not_on_fresh},
    {"/webhook-client/early-answer/413-close", test_early_answer_close},
    {"/webhook-client/early-answer/413-open", test_early_answer_open},
    {"/webhook-client/early-answer/100-continue", test_early_answer_100_continue},
    {"/webhook-client/refuse/header-line-break", test_refuse_header_line_break},
    {"/webhook-client/refuse/content-type-line-break", test_refuse_content_type_line_break},
    {"/webhook-client/refuse/url", test_refuse_url},
    {"/webhook-client/abort", test_abort},
    {"/webhook-client/concurrent", test_concurrent},
    {"/webhook-client/idle/sweep", test_idle_sweep},
    {"/webhook-client/many-urls", test_many_urls},
};

static void
run_case(gconstpointer data)
{
	const Case *c = data;

	if (g_test_subprocess()) {
		c->func();
		return;
	}
	if (c->can_run != NULL && !c->can_run()) {
		g_test_skip(c->skip_reason);
		return;
	}
	g_test_trap_subprocess(NULL, 100 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
	g_test_trap_assert_passed();
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	/* GLib 2.74 still has slice magazines, where LeakSanitizer cannot see a leaked GError or
	 * GBytes: the cases (subprocesses) allocate with malloc */
	g_setenv("G_SLICE", "always-malloc", TRUE);
	g_test_init(&argc, &argv, NULL);
	/* a failed case is reported, and the next ones still run */
	if (!g_test_subprocess())
		g_test_set_nonfatal_assertions();
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++)
		g_test_add_data_func(cases[i].path, &cases[i], run_case);
	return g_test_run();
}
