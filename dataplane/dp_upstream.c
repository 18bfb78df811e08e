#define _GNU_SOURCE /* memmem */
#include "dp_upstream.h"

#include "lb_err.h"
#include "lb_time.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define POOL_MAX   32          /* idle connections a thread keeps */
#define HEAD_MAX   (64 * 1024) /* the largest answer head accepted */
#define FIRST_READ 4096

/* ---- backends: a shared pool and a connection cap per replica ---------- */

struct dp_upstream_backend {
	char host[64];
	uint16_t port;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* a connection came back, or closed */
	int open;          /* connections open: idle + in use */
	int idle[POOL_MAX];
	int nidle;
	int refs; /* under registry_mu */
	struct dp_upstream_backend *next;
};

/* The backends are few (one per replica) and found only when a routing
 * table is built, so a list under one mutex is enough. */
static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct dp_upstream_backend *registry;
static int max_conns = 128;

void dp_upstream_set_max_conns(int n)
{
	max_conns = n;
}

struct dp_upstream_backend *dp_upstream_backend_get(const char *host,
                                                    uint16_t port)
{
	struct dp_upstream_backend *b;
	pthread_condattr_t ca;

	pthread_mutex_lock(&registry_mu);
	for (b = registry; b; b = b->next) {
		if (b->port == port && strcmp(b->host, host) == 0) {
			b->refs++;
			pthread_mutex_unlock(&registry_mu);
			return b;
		}
	}
	if ((b = calloc(1, sizeof(*b)))) {
		snprintf(b->host, sizeof(b->host), "%s", host);
		b->port = port;
		pthread_mutex_init(&b->mu, NULL);
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&b->cv, &ca);
		pthread_condattr_destroy(&ca);
		b->refs = 1;
		b->next = registry;
		registry = b;
	}
	pthread_mutex_unlock(&registry_mu);
	return b;
}

void dp_upstream_backend_put(struct dp_upstream_backend *b)
{
	struct dp_upstream_backend **pp;

	if (!b)
		return;
	pthread_mutex_lock(&registry_mu);
	if (--b->refs > 0) {
		pthread_mutex_unlock(&registry_mu);
		return;
	}
	for (pp = &registry; *pp; pp = &(*pp)->next) {
		if (*pp == b) {
			*pp = b->next;
			break;
		}
	}
	pthread_mutex_unlock(&registry_mu);
	/* No table refers to it, so no request uses it: its connections are
	 * all idle. */
	for (int i = 0; i < b->nidle; i++)
		close(b->idle[i]);
	pthread_mutex_destroy(&b->mu);
	pthread_cond_destroy(&b->cv);
	free(b);
}

/* An idle connection (*pooled = true), or the right to open one (fd -2),
 * or -1 when all stayed busy for wait_ms. */
static int pool_take(struct dp_upstream_backend *b, long wait_ms, bool *pooled)
{
	struct timespec deadline;
	int fd = -1;

	lb_time_deadline(&deadline, CLOCK_MONOTONIC, wait_ms);
	pthread_mutex_lock(&b->mu);
	for (;;) {
		if (b->nidle > 0) {
			fd = b->idle[--b->nidle];
			*pooled = true;
			break;
		}
		if (b->open < max_conns) {
			b->open++;
			fd = -2;
			*pooled = false;
			break;
		}
		if (pthread_cond_timedwait(&b->cv, &b->mu, &deadline) != 0) {
			fd = -1;
			break;
		}
	}
	pthread_mutex_unlock(&b->mu);
	return fd;
}

/* Gives a connection back: to the pool when reusable, else closed. */
static void pool_give(struct dp_upstream_backend *b, int fd, bool reusable)
{
	pthread_mutex_lock(&b->mu);
	if (reusable && b->nidle < POOL_MAX) {
		b->idle[b->nidle++] = fd;
	} else {
		close(fd);
		b->open--;
	}
	pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

/* Gives back the right to open a connection that was never opened. */
static void pool_forfeit(struct dp_upstream_backend *b)
{
	pthread_mutex_lock(&b->mu);
	b->open--;
	pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

/* ---- connecting --------------------------------------------------------- */

static int up_addr(const char *host, uint16_t port, struct sockaddr_in *sa)
{
	struct addrinfo hints = {.ai_family = AF_INET,
	                         .ai_socktype = SOCK_STREAM};
	struct addrinfo *ai;

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(port);
	if (inet_pton(AF_INET, host, &sa->sin_addr) == 1)
		return 0;
	/* Replicas are addressed by IP; a name is the slow path. */
	if (getaddrinfo(host, NULL, &hints, &ai) != 0)
		return -1;
	sa->sin_addr = ((struct sockaddr_in *)ai->ai_addr)->sin_addr;
	freeaddrinfo(ai);
	return 0;
}

/* Connects with a deadline.  Returns the fd (blocking, TCP_NODELAY, reads
 * time out after timeout_ms of silence) or -1 with the reason in err. */
static int up_connect(const struct dp_upstream_req *req, char *err,
                      size_t errlen)
{
	struct sockaddr_in sa;
	struct pollfd pfd;
	struct timeval tv;
	socklen_t sl = sizeof(int);
	int fd, soerr = 0, one = 1, flags;

	if (up_addr(req->backend->host, req->backend->port, &sa) != 0) {
		snprintf(err, errlen, "cannot resolve %s", req->backend->host);
		return -1;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		if (errno != EINPROGRESS) {
			snprintf(err, errlen, "connect: %s", strerror(errno));
			close(fd);
			return -1;
		}
		pfd = (struct pollfd){.fd = fd, .events = POLLOUT};
		if (poll(&pfd, 1, (int)req->connect_timeout_ms) != 1) {
			snprintf(err, errlen, "connect: timed out after %ld ms",
			         req->connect_timeout_ms);
			close(fd);
			return -1;
		}
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		if (soerr) {
			snprintf(err, errlen, "connect: %s", strerror(soerr));
			close(fd);
			return -1;
		}
	}
	flags = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	tv.tv_sec = req->timeout_ms / 1000;
	tv.tv_usec = (req->timeout_ms % 1000) * 1000;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

/* ---- sending ------------------------------------------------------------ */

static int up_send(int fd, const struct dp_upstream_req *req)
{
	char head[17 * 1024]; /* civetweb refuses request heads over 16 KiB */
	struct iovec iov[3];
	struct msghdr mh = {.msg_iov = iov};
	int n;

	if (req->has_host)
		n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\n",
		             req->method, req->target);
	else
		n = snprintf(head, sizeof(head),
		             "%s %s HTTP/1.1\r\nHost: %s:%u\r\n", req->method,
		             req->target, req->backend->host,
		             req->backend->port);
	if (n < 0 || (size_t)n >= sizeof(head))
		return -1;
	iov[0] = (struct iovec){head, (size_t)n};
	iov[1] = (struct iovec){(void *)req->headers, req->headers_len};
	iov[2] = (struct iovec){(void *)req->body, req->body_len};
	mh.msg_iovlen = req->body_len ? 3 : 2;
	while (mh.msg_iovlen) {
		ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		/* Partial write: skip what went out. */
		while (mh.msg_iovlen && (size_t)w >= mh.msg_iov[0].iov_len) {
			w -= (ssize_t)mh.msg_iov[0].iov_len;
			mh.msg_iov++;
			mh.msg_iovlen--;
		}
		if (mh.msg_iovlen) {
			mh.msg_iov[0].iov_base =
			    (char *)mh.msg_iov[0].iov_base + w;
			mh.msg_iov[0].iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* ---- receiving ---------------------------------------------------------- */

struct rbuf {
	char *p;
	size_t len, cap;
};

/* Reads more into b.  Returns bytes read, 0 at EOF, -1 on error (errno). */
static ssize_t rb_fill(int fd, struct rbuf *b, size_t limit)
{
	ssize_t n;
	if (b->len == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : FIRST_READ;
		char *np;
		if (b->cap >= limit) {
			errno = EMSGSIZE;
			return -1;
		}
		if (!(np = realloc(b->p, cap + 1)))
			return -1;
		b->p = np;
		b->cap = cap;
	}
	do
		n = recv(fd, b->p + b->len, b->cap - b->len, 0);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		b->len += (size_t)n;
	return n;
}

/* Hop-by-hop headers (RFC 9110 7.6.1) and the ones the proxy writes. */
static bool header_dropped(const char *name, size_t len)
{
	static const char *const drop[] = {
	    "connection",          "keep-alive", "proxy-authenticate",
	    "proxy-authorization", "te",         "trailer",
	    "transfer-encoding",   "upgrade",    "content-length",
	};
	for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
		if (strlen(drop[i]) == len &&
		    strncasecmp(name, drop[i], len) == 0)
			return true;
	return false;
}

struct head {
	int status;
	bool http10;
	bool close;
	bool chunked;
	bool has_length;
	unsigned long long length;
};

/* Parses the status line and headers in b->p[0..end); copies the headers
 * that travel on to resp.  Returns 0 or -1 (malformed). */
static int parse_head(const char *p, size_t end, struct head *h,
                      struct dp_upstream_resp *resp)
{
	const char *line = p, *stop = p + end, *eol;
	char *out;
	size_t olen = 0;

	memset(h, 0, sizeof(*h));
	if (end < 12 || strncmp(p, "HTTP/1.", 7) != 0)
		return -1;
	h->http10 = p[7] == '0';
	h->close = h->http10;
	h->status = atoi(p + 9);
	if (h->status < 100 || h->status > 999)
		return -1;
	if (!(out = malloc(end + 1)))
		return -1;
	eol = memchr(line, '\n', (size_t)(stop - line));
	for (line = eol + 1; line < stop; line = eol + 1) {
		const char *colon, *v, *ve;
		size_t nlen;
		eol = memchr(line, '\n', (size_t)(stop - line));
		if (!eol)
			eol = stop;
		ve = eol > line && eol[-1] == '\r' ? eol - 1 : eol;
		if (ve == line)
			break; /* the blank line */
		if (!(colon = memchr(line, ':', (size_t)(ve - line))))
			continue;
		nlen = (size_t)(colon - line);
		for (v = colon + 1; v < ve && (*v == ' ' || *v == '\t'); v++)
			;
		if (nlen == 14 &&
		    strncasecmp(line, "content-length", 14) == 0) {
			h->has_length = true;
			h->length = strtoull(v, NULL, 10);
			size_t vl = (size_t)(ve - v);
			if (vl < sizeof(resp->content_length)) {
				memcpy(resp->content_length, v, vl);
				resp->content_length[vl] = '\0';
			}
		} else if (nlen == 17 &&
		           strncasecmp(line, "transfer-encoding", 17) == 0) {
			h->chunked =
			    memmem(v, (size_t)(ve - v), "chunked", 7) != NULL;
		} else if (nlen == 10 &&
		           strncasecmp(line, "connection", 10) == 0) {
			if ((size_t)(ve - v) == 5 &&
			    strncasecmp(v, "close", 5) == 0)
				h->close = true;
			else if ((size_t)(ve - v) == 10 &&
			         strncasecmp(v, "keep-alive", 10) == 0)
				h->close = false;
		}
		if (header_dropped(line, nlen))
			continue;
		memcpy(out + olen, line, (size_t)(ve - line));
		olen += (size_t)(ve - line);
		out[olen++] = '\r';
		out[olen++] = '\n';
	}
	out[olen] = '\0';
	resp->headers = out;
	resp->hlen = olen;
	return 0;
}

/* Scans chunked data in p[*pos..len): returns 1 when the last chunk and the
 * trailers are complete, 0 when more is needed, -1 when malformed.  *pos
 * advances over whole chunks only. */
static int chunked_complete(const char *p, size_t len, size_t *pos)
{
	for (;;) {
		const char *nl = memchr(p + *pos, '\n', len - *pos);
		unsigned long long size;
		char *end;
		if (!nl)
			return 0;
		size = strtoull(p + *pos, &end, 16);
		if (end == p + *pos)
			return -1;
		if (size == 0) {
			/* Trailers, then a blank line. */
			size_t t = (size_t)(nl - p) + 1;
			for (;;) {
				const char *tl = memchr(p + t, '\n', len - t);
				if (!tl)
					return 0;
				if (tl == p + t ||
				    (tl == p + t + 1 && p[t] == '\r'))
					return 1;
				t = (size_t)(tl - p) + 1;
			}
		}
		if ((size_t)(nl - p) + 1 + size + 2 > len)
			return 0;
		*pos = (size_t)(nl - p) + 1 + size + 2;
	}
}

/* Decodes a complete chunked body in place; returns its length. */
static size_t chunked_decode(char *p, size_t len)
{
	size_t in = 0, out = 0;
	for (;;) {
		char *nl = memchr(p + in, '\n', len - in);
		unsigned long long size = strtoull(p + in, NULL, 16);
		if (!nl || size == 0)
			return out;
		in = (size_t)(nl - p) + 1;
		memmove(p + out, p + in, size);
		out += size;
		in += size + 2;
	}
}

static bool no_body(const char *method, int status)
{
	return strcmp(method, "HEAD") == 0 || status == 204 || status == 304 ||
	       (status >= 100 && status < 200);
}

/* One exchange on fd.  *reusable says whether fd may serve again. */
static enum dp_upstream_result up_exchange(int fd,
                                           const struct dp_upstream_req *req,
                                           struct dp_upstream_resp *resp,
                                           bool *reusable, char *err,
                                           size_t errlen)
{
	struct rbuf b = {0};
	struct head h;
	size_t hend = 0, body_at;
	char *crlf;
	ssize_t n;

	*reusable = false;
	if (up_send(fd, req) != 0) {
		snprintf(err, errlen, "send: %s", strerror(errno));
		return DP_UP_BROKEN;
	}
	for (;;) { /* the head */
		size_t from = b.len > 3 ? b.len - 3 : 0;
		n = rb_fill(fd, &b, HEAD_MAX);
		if (n <= 0)
			goto read_failed;
		resp->got_bytes = true;
		b.p[b.len] = '\0';
		if ((crlf = memmem(b.p + from, b.len - from, "\r\n\r\n", 4))) {
			hend = (size_t)(crlf - b.p) + 4;
			break;
		}
	}
	if (parse_head(b.p, hend, &h, resp) != 0) {
		snprintf(err, errlen, "malformed answer head");
		free(b.p);
		return DP_UP_OTHER;
	}
	resp->status = h.status;
	body_at = hend;
	if (no_body(req->method, h.status)) {
		resp->len = 0;
	} else if (h.chunked) {
		size_t pos = body_at;
		int done;
		while ((done = chunked_complete(b.p, b.len, &pos)) == 0) {
			if (b.len - body_at > req->max_body + 65536) {
				free(b.p);
				snprintf(err, errlen, "answer over %zu bytes",
				         req->max_body);
				return DP_UP_TOOBIG;
			}
			if ((n = rb_fill(fd, &b,
			                 req->max_body + HEAD_MAX * 2)) <= 0)
				goto read_failed;
		}
		if (done < 0) {
			free(b.p);
			snprintf(err, errlen, "malformed chunked answer");
			return DP_UP_OTHER;
		}
		resp->len = chunked_decode(b.p + body_at, b.len - body_at);
		if (resp->len > req->max_body) {
			free(b.p);
			snprintf(err, errlen, "answer over %zu bytes",
			         req->max_body);
			return DP_UP_TOOBIG;
		}
	} else if (h.has_length) {
		if (h.length > req->max_body) {
			free(b.p);
			snprintf(err, errlen,
			         "answer of %llu bytes is over %zu", h.length,
			         req->max_body);
			return DP_UP_TOOBIG;
		}
		while (b.len - body_at < h.length) {
			if (b.cap < body_at + h.length) {
				char *np = realloc(b.p, body_at + h.length + 1);
				if (!np) {
					free(b.p);
					return DP_UP_OTHER;
				}
				b.p = np;
				b.cap = body_at + h.length;
			}
			if ((n = rb_fill(fd, &b, b.cap)) <= 0)
				goto read_failed;
		}
		resp->len = h.length;
	} else {
		/* No length: the body ends when the replica closes. */
		h.close = true;
		while ((n = rb_fill(fd, &b, body_at + req->max_body + 1)) > 0)
			;
		if (n < 0 && errno == EMSGSIZE) {
			free(b.p);
			snprintf(err, errlen, "answer over %zu bytes",
			         req->max_body);
			return DP_UP_TOOBIG;
		}
		resp->len = b.len - body_at;
	}
	resp->buf = b.p;
	resp->body = b.p + body_at;
	/* Bytes past the answer would be a protocol error: do not reuse. */
	*reusable = !h.close && (h.chunked || no_body(req->method, h.status) ||
	                         b.len == body_at + resp->len);
	return DP_UP_OK;

read_failed:
	if (n == 0)
		snprintf(err, errlen, "connection closed by the replica");
	else
		snprintf(err, errlen, "recv: %s", strerror(errno));
	free(b.p);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return DP_UP_TIMEOUT;
	if (n < 0 && errno == EMSGSIZE)
		return DP_UP_OTHER;
	return resp->got_bytes ? DP_UP_PARTIAL : DP_UP_BROKEN;
}

enum dp_upstream_result dp_upstream_do(const struct dp_upstream_req *req,
                                       struct dp_upstream_resp *resp, char *err,
                                       size_t errlen)
{
	struct dp_upstream_backend *b = req->backend;
	enum dp_upstream_result r;
	bool reusable, pooled;
	int fd;

	memset(resp, 0, sizeof(*resp));
	for (;;) {
		fd = pool_take(b, req->connect_timeout_ms, &pooled);
		if (fd == -1) {
			snprintf(err, errlen,
			         "all %d connections to the replica "
			         "stayed busy",
			         max_conns);
			return DP_UP_BUSY;
		}
		if (fd == -2 && (fd = up_connect(req, err, errlen)) < 0) {
			pool_forfeit(b);
			return DP_UP_CONNECT;
		}
		r = up_exchange(fd, req, resp, &reusable, err, errlen);
		/* A pooled connection the replica closed meanwhile fails
		 * before any answer byte: the replica never saw the request,
		 * so it goes again (on another idle one, or a new one). */
		if (pooled && r == DP_UP_BROKEN && !resp->got_bytes) {
			pool_give(b, fd, false);
			continue;
		}
		pool_give(b, fd, r == DP_UP_OK && reusable);
		return r;
	}
}

void dp_upstream_resp_fini(struct dp_upstream_resp *resp)
{
	free(resp->headers);
	free(resp->buf);
	resp->headers = resp->buf = resp->body = NULL;
}
