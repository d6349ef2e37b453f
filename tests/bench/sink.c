/* sink.c: the benchmark's webhook sink (tests/bench/run builds and starts it).
 *
 * A small multi-threaded HTTP/1.1 keep-alive server on plain POSIX epoll: one thread per core,
 * each with its own SO_REUSEPORT listening socket. Every POST is answered
 * `200 {"id":"1"}` (the body the Bot Framework peer expects) and recorded as
 * (receive time, send time): the receive time is CLOCK_REALTIME in µs, the send time is the
 * first integer after `"sentAt":` in the body (palaverd's echo flow copies the input's data,
 * `{"sentAt": µs}`, into AIOutput.data) or, when the body has none, the digits after
 * `"replyToId":"` (the Bot Framework peer's reply carries the inbound activity's id, which the
 * load generator sets to the send time).
 *
 * Control (GET, answered as JSON):
 *   /_reset                  forget every record
 *   /_stats?from=US&to=US    count of records, how many were received in [from, to], latency
 *                            percentiles (µs, over every record with a send time), receive times
 *
 * usage: sink PORT [THREADS]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define MAX_RECORDS (64u * 1024u * 1024u)
#define BUF_MAX (1u << 20)

typedef struct {
	int64_t recv_us;
	int64_t sent_us; /* 0: no send time found */
} record_t;

static record_t *records;
static atomic_uint_fast64_t n_records;
static atomic_uint_fast64_t n_dropped; /* over MAX_RECORDS */
static int port;

typedef struct {
	int fd;
	char *buf;
	size_t len, cap;
} conn_t;

static int64_t
now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static const char *
memmem_ci_header(const char *hdr, size_t len, const char *name)
{
	/* find "\r\nname:" case-insensitively; returns the start of the value */
	size_t nl = strlen(name);
	for (size_t i = 0; i + 2 + nl + 1 <= len; i++) {
		if (hdr[i] == '\r' && hdr[i + 1] == '\n' && strncasecmp(hdr + i + 2, name, nl) == 0 &&
		    hdr[i + 2 + nl] == ':') {
			const char *v = hdr + i + 2 + nl + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			return v;
		}
	}
	return NULL;
}

static int64_t
find_sent(const char *body, size_t len)
{
	static const char k1[] = "\"sentAt\":";
	static const char k2[] = "\"replyToId\":\"";
	const char *p = memmem(body, len, k1, sizeof k1 - 1);
	if (p != NULL) {
		p += sizeof k1 - 1;
	} else {
		p = memmem(body, len, k2, sizeof k2 - 1);
		if (p == NULL)
			return 0;
		p += sizeof k2 - 1;
	}
	const char *end = body + len;
	while (p < end && (*p == ' ' || *p == '"' || (*p >= 'a' && *p <= 'z')))
		p++;
	int64_t v = 0;
	int digits = 0;
	while (p < end && *p >= '0' && *p <= '9' && digits < 18) {
		v = v * 10 + (*p - '0');
		p++;
		digits++;
	}
	return digits > 0 ? v : 0;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static char *
stats_json(int64_t from, int64_t to)
{
	uint64_t n = atomic_load(&n_records);
	if (n > MAX_RECORDS)
		n = MAX_RECORDS;
	int64_t *lat = malloc((n + 1) * sizeof *lat);
	uint64_t nl = 0, in_window = 0, no_ts = 0;
	int64_t first = 0, last = 0;
	for (uint64_t i = 0; i < n; i++) {
		record_t r = records[i];
		if (r.recv_us == 0)
			continue; /* slot claimed, not yet written */
		if (first == 0 || r.recv_us < first)
			first = r.recv_us;
		if (r.recv_us > last)
			last = r.recv_us;
		if (r.recv_us >= from && r.recv_us <= to)
			in_window++;
		if (r.sent_us > 0)
			lat[nl++] = r.recv_us - r.sent_us;
		else
			no_ts++;
	}
	qsort(lat, nl, sizeof *lat, cmp_i64);
#define PCT(p) (nl ? lat[(uint64_t)((double)(nl - 1) * (p))] : 0)
	char *out = NULL;
	if (asprintf(&out,
		     "{\"count\":%lu,\"inWindow\":%lu,\"withTimestamp\":%lu,\"withoutTimestamp\":%lu,"
		     "\"dropped\":%lu,\"firstUs\":%ld,\"lastUs\":%ld,"
		     "\"latencyUs\":{\"min\":%ld,\"p50\":%ld,\"p90\":%ld,\"p99\":%ld,\"p999\":%ld,\"max\":%ld}}",
		     (unsigned long)n, (unsigned long)in_window, (unsigned long)nl, (unsigned long)no_ts,
		     (unsigned long)atomic_load(&n_dropped), (long)first, (long)last, (long)PCT(0.0),
		     (long)PCT(0.5), (long)PCT(0.9), (long)PCT(0.99), (long)PCT(0.999),
		     (long)PCT(1.0)) < 0)
		out = NULL;
#undef PCT
	free(lat);
	return out;
}

static int
send_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				/* responses are tiny: wait briefly for room rather than queueing */
				struct timespec ts = {0, 100000};
				nanosleep(&ts, NULL);
				continue;
			}
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static const char RESP_200[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			       "Content-Length: 10\r\n\r\n{\"id\":\"1\"}";
static const char RESP_200_CLOSE[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				     "Connection: close\r\nContent-Length: 10\r\n\r\n{\"id\":\"1\"}";

/* handle every complete request in c->buf; returns -1 to close the connection */
static int
process(conn_t *c)
{
	size_t off = 0;
	int rc = 0;
	char out[8192];
	size_t olen = 0;
	while (off < c->len) {
		char *start = c->buf + off;
		size_t avail = c->len - off;
		char *hend = memmem(start, avail, "\r\n\r\n", 4);
		if (hend == NULL)
			break;
		size_t hlen = (size_t)(hend - start) + 4;
		const char *v;
		size_t blen = 0;
		int chunked = 0;
		if ((v = memmem_ci_header(start, hlen, "Content-Length")) != NULL)
			blen = strtoul(v, NULL, 10);
		else if ((v = memmem_ci_header(start, hlen, "Transfer-Encoding")) != NULL &&
			 strncasecmp(v, "chunked", 7) == 0)
			chunked = 1;
		size_t total;
		if (chunked) {
			char *term = memmem(hend + 4, avail - hlen, "\r\n0\r\n\r\n", 7);
			if (term == NULL) {
				if (avail - hlen >= 5 && memcmp(hend + 4, "0\r\n\r\n", 5) == 0)
					term = hend + 4 - 2;
				else
					break;
			}
			total = (size_t)(term - start) + 7;
			blen = total - hlen;
		} else {
			total = hlen + blen;
			if (avail < total)
				break;
		}
		int closing = 0;
		if ((v = memmem_ci_header(start, hlen, "Connection")) != NULL && strncasecmp(v, "close", 5) == 0)
			closing = 1;
		if (strncmp(start, "GET /_", 6) == 0) {
			char *body = NULL;
			if (strncmp(start, "GET /_reset", 11) == 0) {
				uint64_t used = atomic_exchange(&n_records, 0);
				if (used > MAX_RECORDS)
					used = MAX_RECORDS;
				/* zero the used pages so that a slot claimed but not yet written reads as empty */
				size_t bytes = (size_t)used * sizeof(record_t) + 4096;
				if (bytes > (size_t)MAX_RECORDS * sizeof(record_t))
					bytes = (size_t)MAX_RECORDS * sizeof(record_t);
				madvise(records, bytes, MADV_DONTNEED);
				atomic_store(&n_dropped, 0);
				body = strdup("{\"reset\":true}");
			} else {
				int64_t from = 0, to = INT64_MAX;
				char *q = memmem(start, hlen, "from=", 5);
				if (q != NULL)
					from = strtoll(q + 5, NULL, 10);
				q = memmem(start, hlen, "to=", 3);
				if (q != NULL)
					to = strtoll(q + 3, NULL, 10);
				body = stats_json(from, to);
			}
			char hdr[256];
			int hl = snprintf(hdr, sizeof hdr,
					  "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
					  "Content-Length: %zu\r\n\r\n",
					  strlen(body));
			if (send_all(c->fd, out, olen) < 0 || send_all(c->fd, hdr, (size_t)hl) < 0 ||
			    send_all(c->fd, body, strlen(body)) < 0)
				rc = -1;
			olen = 0;
			free(body);
		} else {
			int64_t recv = now_us();
			uint64_t i = atomic_fetch_add(&n_records, 1);
			if (i < MAX_RECORDS) {
				records[i].sent_us = find_sent(start + hlen, blen);
				records[i].recv_us = recv;
			} else {
				atomic_fetch_add(&n_dropped, 1);
			}
			const char *r = closing ? RESP_200_CLOSE : RESP_200;
			size_t rl = closing ? sizeof RESP_200_CLOSE - 1 : sizeof RESP_200 - 1;
			if (olen + rl > sizeof out) {
				if (send_all(c->fd, out, olen) < 0)
					rc = -1;
				olen = 0;
			}
			memcpy(out + olen, r, rl);
			olen += rl;
		}
		off += total;
		if (closing) {
			rc = -1;
			break;
		}
	}
	if (olen > 0 && send_all(c->fd, out, olen) < 0)
		rc = -1;
	if (off > 0) {
		memmove(c->buf, c->buf + off, c->len - off);
		c->len -= off;
	}
	return rc;
}

static int
make_listener(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 4096) < 0) {
		perror("sink: bind/listen");
		exit(1);
	}
	return fd;
}

static void
close_conn(int ep, conn_t *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->buf);
	free(c);
}

static void *
worker(void *arg)
{
	(void)arg;
	int lfd = make_listener();
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	struct epoll_event evs[256];
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL) {
				for (;;) {
					int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
					if (cfd < 0)
						break;
					int one = 1;
					setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
					conn_t *c = calloc(1, sizeof *c);
					c->fd = cfd;
					c->cap = 16384;
					c->buf = malloc(c->cap);
					struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
					epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &cev);
				}
				continue;
			}
			conn_t *c = evs[i].data.ptr;
			int dead = 0;
			for (;;) {
				if (c->len == c->cap) {
					if (c->cap >= BUF_MAX) {
						dead = 1;
						break;
					}
					c->cap *= 2;
					c->buf = realloc(c->buf, c->cap);
				}
				ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
				if (r > 0) {
					c->len += (size_t)r;
					if (c->len < c->cap)
						break; /* level-triggered: more comes with the next event */
					continue;
				}
				if (r == 0 || (errno != EAGAIN && errno != EINTR))
					dead = 1;
				break;
			}
			if (!dead && c->len > 0 && process(c) < 0)
				dead = 1;
			if (dead)
				close_conn(ep, c);
		}
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: sink PORT [THREADS]\n");
		return 2;
	}
	port = atoi(argv[1]);
	int threads = argc > 2 ? atoi(argv[2]) : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (threads < 1)
		threads = 1;
	signal(SIGPIPE, SIG_IGN);
	records = mmap(NULL, (size_t)MAX_RECORDS * sizeof(record_t), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (records == MAP_FAILED) {
		perror("sink: mmap");
		return 1;
	}
	pthread_t t;
	for (int i = 1; i < threads; i++)
		pthread_create(&t, NULL, worker, NULL);
	printf("sink listening on 127.0.0.1:%d with %d threads\n", port, threads);
	fflush(stdout);
	worker(NULL);
	return 0;
}
