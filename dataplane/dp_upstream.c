#include "dp_upstream.h"

#include "dp_gate.h"
#include "lb_err.h"
#include "lb_log.h"
#include "lb_name.h"
#include "lb_time.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define POOL_MAX 32 /* idle connections kept per replica */

/* ---- backends: a shared pool and a queue per replica -------------------- */

struct dp_upstream_backend {
	char host[LB_HOST_MAX + 1];
	uint16_t port;
	/* Exchanges at once, each on a connection of its own: at most
	 * max_conns, the others wait in line (dp_gate.h). */
	struct dp_gate gate;
	pthread_mutex_t mu; /* the pool */
	int open;           /* connections open: idle + in use */
	int idle[POOL_MAX];
	int nidle;
	atomic_int inflight; /* exchanges running or waiting */
	int refs;            /* under registry_mu */
	struct dp_upstream_backend *next;
};

/* The backends are few (one per replica) and found only when a routing
 * table is built, so a list under one mutex is enough. */
static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct dp_upstream_backend *registry;
static int max_conns = 128, max_queue = 256;

int dp_upstream_inflight(const struct dp_upstream_backend *b)
{
	return atomic_load(&b->inflight);
}

size_t dp_upstream_busy_list(struct dp_upstream_busy *out, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&registry_mu);
	for (struct dp_upstream_backend *b = registry; b; b = b->next) {
		int k = atomic_load(&b->inflight);
		if (k <= 0)
			continue;
		if (n < max) {
			snprintf(out[n].host, sizeof(out[n].host), "%s",
			         b->host);
			out[n].port = b->port;
			out[n].inflight = k;
		}
		n++;
	}
	pthread_mutex_unlock(&registry_mu);
	return n;
}

void dp_upstream_conns(struct dp_upstream_backend *b, int *open, int *idle)
{
	pthread_mutex_lock(&b->mu);
	*open = b->open;
	*idle = b->nidle;
	pthread_mutex_unlock(&b->mu);
}

void dp_upstream_set_limits(int conns, int queue)
{
	max_conns = conns;
	max_queue = queue;
}

void dp_upstream_queue(struct dp_upstream_backend *b, int *active, int *queued)
{
	dp_gate_counts(&b->gate, active, queued);
}

struct dp_upstream_backend *dp_upstream_backend_get(const char *host,
                                                    uint16_t port)
{
	struct dp_upstream_backend *b;

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
		dp_gate_init(&b->gate, max_conns, max_queue);
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
	dp_gate_fini(&b->gate);
	free(b);
}

/* An idle connection (*pooled = true), or the right to open one (-1).
 * Called with a place in the gate, so a new connection stays within
 * max_conns. */
static int pool_take(struct dp_upstream_backend *b, bool *pooled)
{
	int fd = -1;

	pthread_mutex_lock(&b->mu);
	*pooled = b->nidle > 0;
	if (*pooled)
		fd = b->idle[--b->nidle];
	else
		b->open++;
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
	pthread_mutex_unlock(&b->mu);
}

/* Gives back the right to open a connection that was never opened. */
static void pool_forfeit(struct dp_upstream_backend *b)
{
	pthread_mutex_lock(&b->mu);
	b->open--;
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

/* Waits up to DP_UPSTREAM_HOLD_MS for events on fd, then tells the sink
 * that the wait may be long.  Returns poll()'s answer (0: told). */
static int up_hold(int fd, short events, const struct dp_upstream_sink *sink)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	int n;

	if (!sink->park)
		return 0;
	do
		n = poll(&pfd, 1, DP_UPSTREAM_HOLD_MS);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		sink->park(sink->answer.arg);
	return n;
}

/* Connects with a deadline.  Returns the fd (blocking, TCP_NODELAY, reads
 * time out after timeout_ms of silence) or -1 with the reason in err. */
static int up_connect(const struct dp_upstream_req *req,
                      const struct dp_upstream_sink *sink, char *err,
                      size_t errlen)
{
	struct sockaddr_in sa;
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
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		if (up_hold(fd, POLLOUT, sink) == 0 &&
		    poll(&pfd, 1, (int)req->connect_timeout_ms) != 1) {
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

/* An idle connection must be quiet: a replica that closed it meanwhile
 * would fail the request, and bytes that arrived while it sat in the pool
 * belong to no request (they must never reach the next one). */
static bool pool_quiet(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* ---- sending ------------------------------------------------------------ */

/* Sends iov[0..n) whole; *sent becomes true once any byte went out. */
static int send_all(int fd, struct iovec *iov, size_t n, bool *sent)
{
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = n};

	while (mh.msg_iovlen) {
		ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		*sent |= w > 0;
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

/* Appends body bytes to iov, with chunk framing when chunked: the size line
 * goes in size[] (owned by the caller, at least 24 bytes). */
static size_t body_iov(struct iovec *iov, const char *p, size_t n, bool chunked,
                       char *size)
{
	size_t k = 0;
	if (n == 0)
		return 0;
	if (chunked) {
		int w = snprintf(size, 24, "%zx\r\n", n);
		iov[k++] = (struct iovec){size, (size_t)w};
	}
	iov[k++] = (struct iovec){(void *)p, n};
	if (chunked)
		iov[k++] = (struct iovec){"\r\n", 2};
	return k;
}

/* The request line, the headers and the body in hand, in one sendmsg().
 * The pieces go as they are: no copy, and nothing large on the stack
 * (civetweb's workers have 100 KiB). */
static int send_head(int fd, const struct dp_upstream_req *req,
                     struct dp_upstream_info *info)
{
	char host[LB_HOST_MAX + 32], size[24];
	struct iovec iov[10];
	size_t k = 0;

	iov[k++] = (struct iovec){(void *)req->method, strlen(req->method)};
	iov[k++] = (struct iovec){" ", 1};
	iov[k++] = (struct iovec){(void *)req->target, strlen(req->target)};
	iov[k++] = (struct iovec){" HTTP/1.1\r\n", 11};
	if (!req->has_host) {
		int n = snprintf(host, sizeof(host), "Host: %s:%u\r\n",
		                 req->backend->host, req->backend->port);
		iov[k++] = (struct iovec){host, (size_t)n};
	}
	iov[k++] = (struct iovec){(void *)req->headers, req->headers_len};
	k += body_iov(iov + k, req->body, req->body_len, req->chunked, size);
	if (req->chunked && req->body_complete)
		iov[k++] = (struct iovec){"0\r\n\r\n", 5};
	return send_all(fd, iov, k, &info->sent);
}

/* The rest of the body, as the client sends it, through buf.  Returns 0,
 * -1 when the replica's end broke (errno), -2 when more() failed. */
static int send_rest(int fd, const struct dp_upstream_req *req, char *buf,
                     size_t cap, struct dp_upstream_info *info)
{
	char size[24];
	struct iovec iov[3];
	long n;

	if (req->body_complete)
		return 0;
	info->consumed = true;
	while ((n = req->more(req->more_arg, buf, cap)) > 0) {
		size_t k = body_iov(iov, buf, (size_t)n, req->chunked, size);
		if (send_all(fd, iov, k, &info->sent) != 0)
			return -1;
	}
	if (n < 0)
		return -2;
	if (req->chunked) {
		iov[0] = (struct iovec){"0\r\n\r\n", 5};
		return send_all(fd, iov, 1, &info->sent);
	}
	return 0;
}

/* ---- receiving ---------------------------------------------------------- */

/* Reads the answer into a until it is complete. */
static enum dp_upstream_result read_answer(int fd, struct dp_answer *a,
                                           long req_timeout_ms,
                                           const struct dp_upstream_sink *sink,
                                           struct dp_upstream_info *info,
                                           char *err, size_t errlen)
{
	for (;;) {
		char *at;
		size_t room = dp_answer_space(a, &at);
		ssize_t n;
		int rv;

		if (room == 0) {
			snprintf(err, errlen, "%s", a->err);
			return DP_UP_BAD;
		}
		if (!a->head_done && !info->got_bytes && sink->park)
			sink->park(sink->answer.arg);
		n = a->head_done ? recv(fd, at, room, MSG_DONTWAIT) : -1;
		if (n < 0 && (!a->head_done || errno == EAGAIN ||
		              errno == EWOULDBLOCK)) {
			/* About to wait: what was buffered goes to the client
			 * first. */
			if (a->head_done && sink->flush(sink->answer.arg) != 0)
				return DP_UP_STOPPED;
			do
				n = recv(fd, at, room, 0);
			while (n < 0 && errno == EINTR);
		}
		if (n > 0) {
			info->got_bytes = true;
			rv = dp_answer_feed(a, (size_t)n);
		} else if (n == 0) {
			if (!info->got_bytes) {
				snprintf(err, errlen,
				         "connection closed by the replica");
				return DP_UP_BROKEN;
			}
			rv = dp_answer_eof(a);
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			snprintf(err, errlen,
			         "the replica was silent for %ld ms",
			         req_timeout_ms);
			return DP_UP_TIMEOUT;
		} else {
			snprintf(err, errlen, "recv: %s", strerror(errno));
			return info->got_bytes ? DP_UP_BAD : DP_UP_BROKEN;
		}
		if (rv == 1)
			return DP_UP_OK;
		if (rv == LB_ERR_IO)
			return DP_UP_STOPPED;
		if (rv != 0) {
			snprintf(err, errlen, "%s", a->err);
			return DP_UP_BAD;
		}
	}
}

/* One exchange on fd.  *reusable says whether fd may serve again. */
static enum dp_upstream_result
exchange(int fd, const struct dp_upstream_req *req,
         const struct dp_upstream_sink *sink, struct dp_upstream_info *info,
         bool *reusable, char *err, size_t errlen)
{
	struct dp_answer a;
	enum dp_upstream_result r;
	int rv;

	*reusable = false;
	dp_answer_init(&a, req->buf, req->head_method, &sink->answer);
	/* A large body may wait for the replica to read it. */
	if (req->body_len > DP_UPSTREAM_PARK_BODY && sink->park)
		sink->park(sink->answer.arg);
	if (send_head(fd, req, info) != 0 ||
	    (rv = send_rest(fd, req, req->buf, DP_ANSWER_BUF, info)) == -1) {
		snprintf(err, errlen, "send: %s", strerror(errno));
		return DP_UP_BROKEN;
	}
	if (rv == -2) {
		snprintf(err, errlen, "the request body could not be read");
		return DP_UP_STOPPED;
	}
	r = read_answer(fd, &a, req->timeout_ms, sink, info, err, errlen);
	if (r == DP_UP_OK && a.extra)
		lb_log(LB_WARN, "upstream_extra_bytes",
		       "replica=%s:%u action=\"connection closed\"",
		       req->backend->host, req->backend->port);
	/* Bytes past the answer would reach the next request: never pooled
	 * then. */
	*reusable = r == DP_UP_OK && a.keep_alive && !a.extra;
	return r;
}

/* The exchange on a pooled or new connection, with a place in the gate. */
static enum dp_upstream_result upstream_run(const struct dp_upstream_req *req,
                                            const struct dp_upstream_sink *sink,
                                            struct dp_upstream_info *info,
                                            char *err, size_t errlen)
{
	struct dp_upstream_backend *b = req->backend;
	enum dp_upstream_result r;
	bool reusable, pooled;
	int fd;

	for (;;) {
		fd = pool_take(b, &pooled);
		if (pooled && !pool_quiet(fd)) {
			pool_give(b, fd, false);
			continue;
		}
		if (!pooled) {
			int64_t t0 = lb_now_us();
			fd = up_connect(req, sink, err, errlen);
			info->connect_us += lb_now_us() - t0;
			if (fd < 0) {
				pool_forfeit(b);
				return DP_UP_CONNECT;
			}
		}
		info->send_us = lb_now_us();
		r = exchange(fd, req, sink, info, &reusable, err, errlen);
		pool_give(b, fd, reusable);
		/* A pooled connection that the replica closed just now fails
		 * before any answer byte.  Usually the replica never saw the
		 * request, but it may have read it, acted and died: only an
		 * idempotent request, or one of which no byte went out, goes
		 * again on a new connection (while it can be sent whole). */
		if (pooled && r == DP_UP_BROKEN && !info->consumed &&
		    (req->idempotent || !info->sent)) {
			info->sent = false;
			continue;
		}
		return r;
	}
}

/* A place among the replica's max_conns exchanges, in arrival order. */
static enum dp_upstream_result
upstream_enter(const struct dp_upstream_req *req,
               const struct dp_upstream_sink *sink,
               struct dp_upstream_info *info, char *err, size_t errlen)
{
	switch (dp_gate_enter(&req->backend->gate, req->queue_timeout_ms,
	                      &info->queue_us, sink->park, sink->answer.arg)) {
	case DP_GATE_IN:
		return DP_UP_OK;
	case DP_GATE_FULL:
		snprintf(err, errlen,
		         "%d exchanges in progress and %d waiting for the "
		         "replica",
		         max_conns, max_queue);
		return DP_UP_BUSY;
	default:
		snprintf(err, errlen,
		         "waited %ld ms in the replica's queue (%d exchanges "
		         "at most at once)",
		         req->queue_timeout_ms, max_conns);
		return DP_UP_QUEUED;
	}
}

enum dp_upstream_result dp_upstream_do(const struct dp_upstream_req *req,
                                       const struct dp_upstream_sink *sink,
                                       struct dp_upstream_info *info, char *err,
                                       size_t errlen)
{
	struct dp_upstream_backend *b = req->backend;
	enum dp_upstream_result r;

	memset(info, 0, sizeof(*info));
	atomic_fetch_add(&b->inflight, 1);
	if ((r = upstream_enter(req, sink, info, err, errlen)) == DP_UP_OK) {
		r = upstream_run(req, sink, info, err, errlen);
		dp_gate_leave(&b->gate);
	}
	atomic_fetch_sub(&b->inflight, 1);
	return r;
}
