#include "dp_proxy.h"

#include "dp.h"
#include "dp_access.h"
#include "dp_key.h"
#include "dp_outlier.h"
#include "dp_reply.h"
#include "dp_upstream.h"
#include "dp_walk.h"
#include "lb_buf.h"
#include "lb_err.h"
#include "lb_http.h"
#include "lb_log.h"
#include "lb_rand.h"
#include "lb_time.h"
#include "lb_http_token.h"
#include "lb_http_send.h"
#include "dp_router.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* civetweb refuses request heads over max_request_size (16 KiB). */
#define PROXY_HEAD_MAX (17 * 1024)
/* The body is read in pieces so that its rate is checked between them:
 * civetweb's mg_read() returns only when the piece is full (or the client
 * stalls for LB_HEAD_TIMEOUT_MS), so a piece bounds how long a slow client
 * goes unchecked.  Before a replica is chosen (the buffer, where the rate
 * is judged) pieces are small: a quarter second at LB_MIN_BODY_RATE;
 * while streaming they are large, and the rate is not judged. */
#define PROXY_PIECE_MIN 512
#define PROXY_PIECE_MAX (16 * 1024)
/* The rate is judged from this long after the head on. */
#define PROXY_RATE_GRACE_US 2000000
/* What is read and dropped of a body refused for its size (see
 * proxy_body_linger()), at most. */
#define PROXY_LINGER_BYTES (1024 * 1024)
#define PROXY_LINGER_MS    1000

/* One proxied request. */
struct proxy {
	struct mg_connection *c;
	const struct dp_config *cfg;
	const struct mg_request_info *ri;
	const char *path;
	struct dp_stats *stats;
	struct dp_key key;             /* what the ring hashes */
	unsigned long long request_id; /* sent on as X-Request-ID */
	bool idempotent;
	bool trust_forwarded; /* the table's LB_TRUST_FORWARDED */
	/* The request body: the replay buffer, then the rest as it comes. */
	char *replay;
	size_t replay_len;
	bool body_complete;    /* replay holds all of it */
	bool body_chunked;     /* the client sent it chunked */
	long long body_length; /* the client's Content-Length, or -1 */
	unsigned long long body_read;
	bool body_toobig;
	bool body_failed;
	bool body_slow;    /* slower than LB_MIN_BODY_RATE */
	size_t body_piece; /* the most one read asks for */
	bool body_judged;  /* its rate is judged (before a replica) */
	/* The answer (the writer is below, with the buffers). */
	struct dp_reply_opts ropts;
	bool swallow; /* a 404: the assignment's 400 goes out instead; or a
	                 5xx that the next replica may answer better */
	bool swallowed_5xx; /* LB_RETRY_5XX: the answer was a 5xx */
	bool answer_toobig;
	unsigned long long answer_bytes;
	char set_cookie[LB_KEY_NAME_MAX + 96];
	const struct dp_backend *last; /* the last replica tried (the table
	                                  is held until the request is
	                                  counted) */
	int retries;
	struct dp_gate *admit;        /* LB_MAX_ACTIVE */
	const struct dp_conns *conns; /* how many clients are connected */
	bool admitted;                /* holds a place in it */
	/* Timers (dp_metrics.h): when the head was in hand, time in lines
	 * and connecting, when the last try's request began to go out and
	 * when its answer's head came. */
	int64_t t0_us, queue_us, connect_us, send_us, head_us;
	int status; /* what the client was answered */
	/* Buffers, never zeroed, and off the worker's stack (civetweb gives
	 * it 100 KiB). */
	char headers[PROXY_HEAD_MAX];
	char target[PROXY_HEAD_MAX];
	struct dp_reply reply; /* set up by dp_reply_init() */
	char answer[DP_ANSWER_BUF];
};

static void proxy_unadmit(void *arg);

/* Each worker thread keeps one struct proxy for the requests it serves one
 * after another: no allocation on the hot path, and memory that follows
 * the number of workers, not the size of the bodies.  Freed when the
 * thread ends. */
static pthread_key_t proxy_key;
static pthread_once_t proxy_once = PTHREAD_ONCE_INIT;

static void proxy_key_make(void)
{
	pthread_key_create(&proxy_key, free);
}

static struct proxy *proxy_of_thread(void)
{
	struct proxy *px;

	pthread_once(&proxy_once, proxy_key_make);
	if (!(px = pthread_getspecific(proxy_key))) {
		if (!(px = malloc(sizeof(*px))))
			return NULL;
		pthread_setspecific(proxy_key, px);
	}
	memset(px, 0, offsetof(struct proxy, headers));
	return px;
}

static bool method_idempotent(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 ||
	       strcmp(m, "PUT") == 0 || strcmp(m, "DELETE") == 0 ||
	       strcmp(m, "OPTIONS") == 0;
}

/* ---- the request body --------------------------------------------------- */

/* The client has sent its body, on average since its head, slower than
 * LB_MIN_BODY_RATE (judged after a grace). */
static bool proxy_body_too_slow(const struct proxy *px)
{
	long long rate = px->cfg->min_body_rate;
	int64_t us = lb_now_us() - px->t0_us;

	return rate > 0 && us > PROXY_RATE_GRACE_US &&
	       (double)px->body_read < (double)rate * (double)us / 1e6;
}

/* Reads up to cap bytes of the body (one piece at most); counts them
 * against LB_MAX_BODY and LB_MIN_BODY_RATE.  Also what the upstream
 * exchange calls for more (arg: the proxy). */
static long proxy_body_read(void *arg, char *buf, size_t cap)
{
	struct proxy *px = arg;
	int n;

	/* Past the buffer the body comes at the client's pace. */
	proxy_unadmit(px);
	n = mg_read(px->c, buf, cap < px->body_piece ? cap : px->body_piece);

	if (n < 0 || (n == 0 && px->body_length >= 0 &&
	              px->body_read < (unsigned long long)px->body_length)) {
		px->body_failed = true; /* the client went away */
		return -1;
	}
	px->body_read += (unsigned long long)n;
	if (px->cfg->max_body &&
	    px->body_read > (unsigned long long)px->cfg->max_body) {
		px->body_toobig = true;
		return -1;
	}
	if (n > 0 && px->body_judged && proxy_body_too_slow(px)) {
		px->body_slow = true;
		return -1;
	}
	return n;
}

/* The status for a body that could not be read. */
static int proxy_body_status(const struct proxy *px)
{
	return px->body_toobig ? 413 : px->body_slow ? 408 : 400;
}

/* Reads the start of the body into the replay buffer, before any replica
 * is chosen: all of it when it fits in LB_BODY_BUFFER.  A client that
 * sends slowly costs a worker here, not a replica's connection.  Returns
 * 0, or the status to answer (413, 408, 400). */
static int proxy_body_start(struct proxy *px)
{
	const struct mg_request_info *ri = px->ri;
	long long max = px->cfg->max_body;
	const char *expect;
	size_t cap;

	px->body_length = ri->content_length;
	px->body_chunked = mg_get_header(px->c, "Transfer-Encoding") != NULL;
	/* No length and no chunking: HTTP/1.1 says the body is empty (the
	 * common GET), so nothing is read or allocated. */
	if (px->body_length <= 0 && !px->body_chunked) {
		px->body_complete = true;
		px->body_length = 0;
		return 0;
	}
	if (max && px->body_length > max)
		return 413;
	/* civetweb answers "Expect: 100-continue" only for its own file
	 * handlers: the client waits for this before it sends the body. */
	expect = mg_get_header(px->c, "Expect");
	if (expect && strcasecmp(expect, "100-continue") == 0 &&
	    mg_write(px->c, "HTTP/1.1 100 Continue\r\n\r\n", 25) != 25)
		return 400;
	cap = (size_t)px->cfg->body_buffer;
	if (px->body_length > 0 && (unsigned long long)px->body_length < cap)
		cap = (size_t)px->body_length;
	/* Allocated per request with a body, not kept per worker (2,048
	 * workers that each kept a buffer after one upload would hold it
	 * all); pages not yet written take no memory. */
	if (!(px->replay = malloc(cap)))
		return 503;
	/* Small pieces while a rate is judged; past the buffer the body
	 * streams in large ones and is no longer judged (a slow replica
	 * slows the client down too, and the client is not to blame). */
	px->body_judged = px->cfg->min_body_rate > 0;
	px->body_piece = PROXY_PIECE_MAX;
	if (px->body_judged) {
		px->body_piece = (size_t)px->cfg->min_body_rate / 4;
		if (px->body_piece < PROXY_PIECE_MIN)
			px->body_piece = PROXY_PIECE_MIN;
		if (px->body_piece > PROXY_PIECE_MAX)
			px->body_piece = PROXY_PIECE_MAX;
	}
	while (px->replay_len < cap) {
		long n = proxy_body_read(px, px->replay + px->replay_len,
		                         cap - px->replay_len);
		if (n < 0)
			return proxy_body_status(px);
		if (n == 0) {
			px->body_complete = true;
			break;
		}
		px->replay_len += (size_t)n;
	}
	if (px->body_length >= 0 &&
	    px->replay_len == (unsigned long long)px->body_length)
		px->body_complete = true;
	/* Streaming from here on: large pieces, the rate not judged. */
	px->body_piece = PROXY_PIECE_MAX;
	px->body_judged = false;
	return 0;
}

/* After a 413: reads and drops what the client still sends of its body,
 * within bounds, before the connection closes.  Closing a socket with
 * unread bytes makes the kernel reset the connection, and a client still
 * sending would see a broken pipe, never its 413 (nginx's lingering close).
 * Not when the client waits for "100 Continue": it sends nothing. */
static void proxy_body_linger(struct proxy *px)
{
	const char *expect = mg_get_header(px->c, "Expect");
	int64_t until = lb_now_ms() + PROXY_LINGER_MS;
	unsigned long long dropped = 0;
	char sink[4096];
	int n;

	if (expect && strcasecmp(expect, "100-continue") == 0 &&
	    px->body_read == 0)
		return;
	while (dropped < PROXY_LINGER_BYTES && lb_now_ms() < until &&
	       (n = mg_read(px->c, sink, sizeof(sink))) > 0)
		dropped += (unsigned long long)n;
}

/* Answers a request whose body could not be started. */
static int proxy_body_refused(struct proxy *px, int status)
{
	lb_http_close_after(px->c);
	if (status == 413) {
		lb_http_send_error(px->c, 413, NULL,
		                   "Request body is over LB_MAX_BODY (%lld "
		                   "bytes)",
		                   px->cfg->max_body);
		proxy_body_linger(px);
	} else if (status == 408) {
		lb_http_send_error(px->c, 408, NULL,
		                   "Request body came slower than "
		                   "LB_MIN_BODY_RATE (%lld bytes/s)",
		                   px->cfg->min_body_rate);
	} else if (status == 400) {
		lb_http_send_error(px->c, 400, NULL,
		                   "Could not read the request body");
	} else {
		lb_http_send_error(px->c, status, NULL, "Out of memory");
	}
	return status;
}

/* ---- the request head --------------------------------------------------- */

/* Client fields that must not travel on: hop-by-hop ones (and those the
 * client's Connection names), the framing, and ours. */
static bool proxy_field_skipped(const char *name, size_t len, const char *conn)
{
	/* Ours, and every field that names the client's address (a client
	 * must not make a replica believe another one). */
	static const char *const ours[] = {
	    "expect",          "x-request-id",      "proxy-authorization",
	    "x-forwarded-for", "x-forwarded-proto", "forwarded",
	    "x-real-ip"};

	if (dp_reply_hop_by_hop(name, len))
		return true;
	for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
		if (strcasecmp(name, ours[i]) == 0)
			return true;
	return conn && lb_http_token_listed(conn, strlen(conn), name, len);
}

/* The framing of the body towards the replica. */
static void proxy_framing(const struct proxy *px, struct lb_buf *b,
                          bool *chunked)
{
	const char *m = px->ri->request_method;
	bool body_method = strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 ||
	                   strcmp(m, "PATCH") == 0;

	*chunked = false;
	if (px->body_complete) {
		/* All in hand (civetweb undid any chunking): a plain length;
		 * methods that carry a body always say it, even when 0. */
		if (px->replay_len > 0 || body_method)
			lb_buf_printf(b, "Content-Length: %zu\r\n",
			              px->replay_len);
		return;
	}
	if (px->body_length >= 0) {
		lb_buf_printf(b, "Content-Length: %lld\r\n", px->body_length);
		return;
	}
	*chunked = true;
	lb_buf_str(b, "Transfer-Encoding: chunked\r\n");
}

/* Who the client is and how it came (https when over TLS), for the
 * replica.  By default the client's own X-Forwarded-* fields were dropped
 * and ours replace them: a client cannot make a replica believe another
 * address or scheme.  With
 * LB_TRUST_FORWARDED=1 a trusted proxy in front (LB_TRUSTED_PROXIES) is
 * believed: the peer is appended to what it said, and its
 * X-Forwarded-Proto stands. */
static void proxy_forwarded(const struct proxy *px, struct lb_buf *b)
{
	const struct mg_request_info *ri = px->ri;
	const char *peer = ri->remote_addr,
	           *proto = ri->is_ssl ? "https" : "http";
	bool trusted_peer =
	    px->trust_forwarded &&
	    lb_cidrs_match(&px->cfg->trusted, peer, strlen(peer));

	lb_buf_str(b, "X-Forwarded-For: ");
	for (int i = 0; trusted_peer && i < ri->num_headers; i++) {
		const struct mg_header *h = &ri->http_headers[i];
		if (strcasecmp(h->name, "X-Forwarded-For") == 0 && h->value[0])
			lb_buf_printf(b, "%s, ", h->value);
		if (trusted_peer &&
		    strcasecmp(h->name, "X-Forwarded-Proto") == 0 &&
		    (strcmp(h->value, "https") == 0 ||
		     strcmp(h->value, "http") == 0))
			proto = h->value;
	}
	lb_buf_printf(b, "%s\r\nX-Forwarded-Proto: %s\r\n", peer, proto);
}

/* The client's fields that travel on, and ours, as "Name: value\r\n"
 * lines and the blank line, in buf.  Returns the length, or -1 when they
 * do not fit. */
static int proxy_headers(const struct proxy *px, char *buf, size_t cap,
                         bool *has_host, bool *chunked)
{
	const struct mg_request_info *ri = px->ri;
	const char *conn = mg_get_header(px->c, "Connection");
	struct lb_buf b;

	lb_buf_init(&b, buf, cap);
	*has_host = false;
	for (int i = 0; i < ri->num_headers; i++) {
		const struct mg_header *h = &ri->http_headers[i];
		size_t nlen = strlen(h->name);
		if (proxy_field_skipped(h->name, nlen, conn))
			continue;
		*has_host |= nlen == 4 && strcasecmp(h->name, "host") == 0;
		/* Copies, not printf: this runs for every field of every
		 * request. */
		lb_buf_add(&b, h->name, nlen);
		lb_buf_add(&b, ": ", 2);
		lb_buf_str(&b, h->value);
		lb_buf_add(&b, "\r\n", 2);
	}
	lb_buf_printf(&b, "X-Request-ID: %llu\r\n", px->request_id);
	proxy_forwarded(px, &b);
	proxy_framing(px, &b, chunked);
	lb_buf_str(&b, "\r\n");
	return b.cut ? -1 : (int)b.len;
}

/* ---- admission: LB_MAX_ACTIVE requests at once, the others in line ------ */

/* A request holds its place from admission until its request went out to
 * a replica, or until it must wait for something else that may take long
 * (a replica's line, a slow connect, the client's body): a place stands
 * for a thread that works, so a slow replica holds none. */
static void proxy_unadmit(void *arg)
{
	struct proxy *px = arg;

	if (px->admitted) {
		px->admitted = false;
		dp_gate_leave(px->admit);
	}
}

/* Returns 0, or the status answered (503 past LB_QUEUE_TIMEOUT_MS). */
static int proxy_admit(struct proxy *px)
{
	int64_t waited;
	enum dp_gate_result r;

	/* Up to twice as many client connections as places, the scheduler
	 * has few threads to order: a line would only cost hand-overs. */
	if (atomic_load(&px->conns->busy) <= 2 * px->admit->limit)
		return 0;
	r = dp_gate_enter(px->admit, (long)px->cfg->queue_timeout_ms, &waited,
	                  NULL, NULL);
	px->queue_us += waited;
	if (r == DP_GATE_IN) {
		px->admitted = true;
		return 0;
	}
	lb_http_send_error(px->c, 503, "Retry-After: 1\r\n",
	                   "Too many requests at once: none was admitted in "
	                   "%lld ms (LB_MAX_ACTIVE %d)",
	                   px->cfg->queue_timeout_ms, px->admit->limit);
	return 503;
}

/* ---- the answer: from the replica to the client ------------------------- */

static int proxy_client_write(void *arg, const void *p, size_t n)
{
	return mg_write(arg, p, n) == (int)n ? 0 : -1;
}

static int proxy_on_head(void *arg, const struct dp_answer_head *h)
{
	struct proxy *px = arg;
	long long max = px->cfg->max_body;

	px->head_us = lb_now_us();
	proxy_unadmit(px); /* what is left is the client's pace */
	px->status = h->status;
	/* LB_RETRY_5XX: an idempotent request whose body is in hand may go
	 * to the next replica; this answer is dropped. */
	if (h->status >= 500 && px->cfg->retry_5xx && px->idempotent &&
	    px->body_complete) {
		px->swallow = px->swallowed_5xx = true;
		return 0;
	}
	if (h->status == 404) {
		/* The assignment's rule: a path no replica serves is the
		 * client's mistake.  The replica's body is read and
		 * dropped. */
		px->swallow = true;
		return 0;
	}
	if (max && h->framing == DP_FRAME_LENGTH &&
	    h->length > (unsigned long long)max) {
		px->answer_toobig = true;
		return 1;
	}
	return dp_reply_head(&px->reply, h, &px->ropts);
}

static int proxy_on_body(void *arg, const char *p, size_t n)
{
	struct proxy *px = arg;
	long long max = px->cfg->max_body;

	if (px->swallow)
		return 0;
	px->answer_bytes += n;
	if (max && px->answer_bytes > (unsigned long long)max) {
		px->answer_toobig = true;
		return 1;
	}
	return dp_reply_body(&px->reply, p, n);
}

static int proxy_on_flush(void *arg)
{
	struct proxy *px = arg;
	return px->swallow ? 0 : dp_reply_flush(&px->reply);
}

/* ---- the failover walk -------------------------------------------------- */

/* The order of the replicas, the retry rule and what feeds ejection are
 * dp_walk.h's; this drives the tries. */
static enum dp_upstream_result proxy_walk(struct proxy *px,
                                          const struct dp_table *t,
                                          struct dp_upstream_req *req,
                                          char *err, size_t errlen)
{
	const struct dp_upstream_sink sink = {
	    .answer = {proxy_on_head, proxy_on_body, px},
	    .flush = proxy_on_flush,
	    .park = proxy_unadmit,
	};
	enum dp_upstream_result r = DP_UP_CONNECT;
	struct dp_upstream_info info;
	struct dp_backend *b;
	enum dp_outlier_outcome o;
	struct dp_walk w;

	dp_walk_init(&w, t, px->key.value);
	while ((b = dp_walk_next(&w))) {
		req->backend = b->up;
		px->last = b;
		px->head_us = 0; /* this try's */
		px->swallow = px->swallowed_5xx = false;
		r = dp_upstream_do(req, &sink, &info, err, errlen);
		px->queue_us += (int64_t)info.queue_us;
		px->connect_us += (int64_t)info.connect_us;
		px->send_us = info.send_us;
		if (dp_walk_outcome(r, px->status, &o))
			dp_outlier_record(t, b, o, px->cfg, lb_now_ms());
		if (r == DP_UP_OK && px->swallowed_5xx) {
			snprintf(err, errlen, "the replica answered %d",
			         px->status);
			px->retries++;
			continue;
		}
		if (r == DP_UP_OK || r == DP_UP_STOPPED)
			return r;
		if (r == DP_UP_QUEUED)
			atomic_fetch_add(&px->stats->replica_queue_timeouts, 1);
		lb_log(LB_WARN, "upstream_failed",
		       "replica=%s result=%d reason=\"%s\" request_id=%llu",
		       b->name, (int)r, err, px->request_id);
		if (!dp_walk_may_retry(px->reply.committed, px->idempotent, r,
		                       &info))
			return r;
		px->retries++;
		atomic_fetch_add(
		    &px->stats->retries[r == DP_UP_CONNECT ? DP_RETRY_CONNECT
		                        : r == DP_UP_BUSY  ? DP_RETRY_BUSY
		                                           : DP_RETRY_BROKEN],
		    1);
	}
	return r;
}

/* ---- the handler -------------------------------------------------------- */

/* Answers a failure that left nothing on the client's connection yet. */
static int proxy_fail(struct proxy *px, enum dp_upstream_result r,
                      const char *err)
{
	struct mg_connection *c = px->c;

	if (px->body_toobig || px->body_slow)
		return proxy_body_refused(px, proxy_body_status(px));
	if (px->answer_toobig) {
		lb_http_close_after(c);
		lb_http_send_error(
		    c, 502, NULL,
		    "The answer's body is over LB_MAX_BODY (%lld "
		    "bytes)",
		    px->cfg->max_body);
		return 502;
	}
	switch (r) {
	case DP_UP_STOPPED:
		/* The client went away: nobody to answer. */
		mg_disable_connection_keep_alive(c);
		return 499;
	case DP_UP_TIMEOUT:
		lb_http_send_error(c, 504, NULL,
		                   "Replica did not answer in time (%s)", err);
		return 504;
	case DP_UP_BUSY:
	case DP_UP_QUEUED:
		lb_http_send_error(c, 503, "Retry-After: 1\r\n",
		                   "Replicas are busy (%s)", err);
		return 503;
	case DP_UP_BAD:
		lb_http_send_error(
		    c, 502, NULL, "The replica's answer was refused (%s)", err);
		return 502;
	default:
		lb_http_send_error(c, 502, NULL,
		                   "No replica could serve the request "
		                   "(last error: %s)",
		                   err[0] ? err : "none reachable");
		return 502;
	}
}

/* Sends the request through the ring and the answer back. */
static int proxy_forward(struct proxy *px, const struct dp_table *t)
{
	const struct mg_request_info *ri = px->ri;
	char err[256] = "";
	struct dp_upstream_req req;
	enum dp_upstream_result r;
	int hlen, tlen;

	memset(&req, 0, sizeof(req));
	hlen = proxy_headers(px, px->headers, sizeof(px->headers),
	                     &req.has_host, &req.chunked);
	tlen = snprintf(px->target, sizeof(px->target), "%s%s%s", px->path,
	                ri->query_string ? "?" : "",
	                ri->query_string ? ri->query_string : "");
	if (hlen < 0 || tlen < 0 || (size_t)tlen >= sizeof(px->target)) {
		lb_http_close_after(px->c);
		lb_http_send_error(px->c, 431, NULL, "Request head too large");
		return 431;
	}
	req.method = ri->request_method;
	req.target = px->target;
	req.headers = px->headers;
	req.headers_len = (size_t)hlen;
	req.body = px->replay;
	req.body_len = px->replay_len;
	req.body_complete = px->body_complete;
	req.more = proxy_body_read;
	req.more_arg = px;
	req.head_method = strcmp(ri->request_method, "HEAD") == 0;
	req.idempotent = px->idempotent;
	req.buf = px->answer;
	req.queue_timeout_ms = (long)px->cfg->queue_timeout_ms;
	req.connect_timeout_ms = (long)px->cfg->connect_timeout_ms;
	req.timeout_ms = (long)px->cfg->upstream_timeout_ms;

	r = proxy_walk(px, t, &req, err, sizeof(err));
	if (r == DP_UP_OK && px->swallowed_5xx) {
		lb_http_send_error(px->c, 502, NULL,
		                   "No replica could serve the request "
		                   "(last error: %s)",
		                   err);
		return 502;
	}
	if (r == DP_UP_OK && px->swallow) {
		lb_http_send_error(
		    px->c, 400, NULL,
		    "'%.1024s' endpoint does not exist in server "
		    "replicas",
		    px->path);
		return 400;
	}
	if (r == DP_UP_OK) {
		if (dp_reply_end(&px->reply) != 0 || !px->reply.keep_alive)
			mg_disable_connection_keep_alive(px->c);
		return px->status;
	}
	if (!px->reply.committed)
		return proxy_fail(px, r, err);
	/* The status already went out: all that is left is to close, so
	 * that the client sees an incomplete answer, not a wrong one. */
	lb_log(LB_WARN, "answer_cut",
	       "replica=%s reason=\"%s\" sent=%llu "
	       "request_id=%llu",
	       px->last->name, err, (unsigned long long)px->reply.bytes,
	       px->request_id);
	mg_disable_connection_keep_alive(px->c);
	return px->status;
}

/* The request's routing key under the table's LB_KEY, and the request id
 * sent on as X-Request-ID (the key itself under request-id, the
 * assignment's model). */
static void proxy_route_key(struct proxy *px, const struct dp_table *t)
{
	dp_key_of(px->c, &t->routing, lb_ring_preset(t->ring),
	          &px->cfg->trusted, &px->key);
	px->trust_forwarded = t->routing.trust_forwarded;
	px->request_id = t->routing.key.kind == LB_KEY_REQUEST_ID
	                     ? px->key.value
	                     : lb_key_random_id();
	if (px->key.fallback)
		atomic_fetch_add(&px->stats->key_fallbacks, 1);
	if (px->key.cookie[0]) {
		/* A sticky cookie for a new client: its next requests carry
		 * it, and land where this one does. */
		snprintf(px->set_cookie, sizeof(px->set_cookie),
		         "Set-Cookie: %s=%s; Path=/; HttpOnly\r\n",
		         t->routing.key.name, px->key.cookie);
		px->ropts.extra = px->set_cookie;
		atomic_fetch_add(&px->stats->cookies_set, 1);
	}
}

/* Checks that need no replica.  Returns 0, or the status answered. */
static int proxy_precheck(struct proxy *px)
{
	struct mg_connection *c = px->c;

	if (!px->path || px->path[0] != '/') {
		lb_http_send_error(c, 400, NULL, "Bad request target");
		return 400;
	}
	/* civetweb keeps the first MG_MAX_HEADERS fields and drops the rest
	 * silently: a request with that many may have lost one (a
	 * Content-Length, say), so it is refused rather than misread. */
	if (px->ri->num_headers >= MG_MAX_HEADERS) {
		lb_http_close_after(c);
		lb_http_send_error(c, 431, NULL,
		                   "Too many header fields (at most %d)",
		                   MG_MAX_HEADERS - 1);
		return 431;
	}
	return 0;
}

/* Counts the request, and writes its access log line. */
static void proxy_account(struct proxy *px, struct dp *dp, int status)
{
	struct dp_replica_stats *served = px->last ? px->last->stats : NULL;
	struct dp_timers tm = {
	    .total_us = (uint64_t)(lb_now_us() - px->t0_us),
	    .queue_us = (uint64_t)px->queue_us,
	    .connect_us = (uint64_t)px->connect_us,
	    .response_us =
	        px->head_us && px->send_us ? px->head_us - px->send_us : -1,
	};
	struct dp_access_entry e;

	dp_metrics_count(&dp->stats, served, status, &tm);
	if (dp->access_fd < 0)
		return;
	e = (struct dp_access_entry){
	    .client = px->ri->remote_addr,
	    .method = px->ri->request_method,
	    .path = px->path ? px->path : "",
	    .status = status,
	    .replica = served ? px->last->name : NULL,
	    .bytes_in = px->body_read,
	    .bytes_out = px->reply.bytes + lb_http_sent(),
	    .duration_us = tm.total_us,
	    .queue_us = tm.queue_us,
	    .connect_us = tm.connect_us,
	    .response_us = tm.response_us,
	    .retries = px->retries,
	    .request_id = px->request_id,
	};
	dp_access_write(dp->access_fd, &e);
}

static int proxy_run(struct proxy *px, struct dp *dp)
{
	struct dp_table *t;
	int status;

	dp_reply_init(&px->reply, proxy_client_write, px->c);
	if ((status = proxy_precheck(px)) == 0 &&
	    (status = proxy_body_start(px)) != 0)
		proxy_body_refused(px, status);
	else if (status == 0)
		status = proxy_admit(px);
	if (status != 0) {
		proxy_account(px, dp, status);
		return status;
	}
	px->ropts.keep_alive = lb_http_keep_alive(px->c);
	px->ropts.http11 = strcmp(px->ri->http_version, "1.1") == 0;
	t = dp_router_acquire(&dp->router);
	if (t)
		proxy_route_key(px, t);
	if (!t || lb_ring_count(t->ring) == 0) {
		lb_http_send_error(px->c, 503, NULL,
		                   "No server replicas available");
		status = 503;
	} else {
		status = proxy_forward(px, t);
	}
	proxy_unadmit(px);
	proxy_account(px, dp, status);
	dp_table_release(t); /* after: the replica's counters live with it */
	return status;
}

int dp_proxy_handle(struct mg_connection *c, struct dp *dp)
{
	struct proxy *px = proxy_of_thread();
	int status;

	if (!px) {
		lb_http_close_after(c);
		lb_http_send_error(c, 503, NULL, "Out of memory");
		return 503;
	}
	px->c = c;
	px->cfg = &dp->cfg;
	px->ri = mg_get_request_info(c);
	px->path = px->ri->local_uri_raw;
	px->stats = &dp->stats;
	px->admit = &dp->admit;
	px->conns = &dp->conns;
	px->t0_us = lb_now_us();
	px->idempotent = method_idempotent(px->ri->request_method);
	status = proxy_run(px, dp);
	free(px->replay);
	return status;
}
