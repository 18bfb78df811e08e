/* dp_upstream.h - one HTTP/1.1 exchange with a replica, on a pooled
 * keep-alive connection, with both bodies streamed.
 *
 * Each replica address has one pool of idle connections, shared by all
 * threads, and a cap on the connections open to it: a replica serves each
 * connection on a thread of its own, so more connections than its threads
 * would stall it (and fail its heartbeats).  A request takes an idle
 * connection (checked to be quiet: neither closed by the replica nor
 * holding stray bytes), or opens one below the cap, or waits briefly for
 * one; a complete keep-alive answer with nothing after it puts it back.
 *
 * The request head and the body in hand go out in one sendmsg(); the rest
 * of the body follows as the client sends it.  The answer is read into the
 * reader's fixed buffer and framed by http-parser (dp_answer.h); a small
 * answer takes one recv().  Memory per exchange is that buffer
 * (DP_ANSWER_BUF), whatever the bodies' sizes.
 */
#ifndef DP_UPSTREAM_H
#define DP_UPSTREAM_H

#include "dp_answer.h"
#include "lb_name.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A replica address: its pool and its connection count.  Lives while a
 * routing table refers to it. */
struct dp_upstream_backend;

/* Sets, per replica, the exchanges at once (= connections in use) and the
 * requests that may wait in line for one.  Call once in main() before
 * threads start. */
void dp_upstream_set_limits(int max_conns, int max_queue);

/* The backend for host:port, with one more reference (made on first use).
 * Returns NULL when out of memory. */
struct dp_upstream_backend *dp_upstream_backend_get(const char *host,
                                                    uint16_t port);

/* Drops a reference; the last one closes the idle connections.  Accepts
 * NULL. */
void dp_upstream_backend_put(struct dp_upstream_backend *b);

/* Requests in flight to b (from this data plane, queued ones included):
 * what bounded loads weigh. */
int dp_upstream_inflight(const struct dp_upstream_backend *b);

/* b's exchanges running and waiting now. */
void dp_upstream_queue(struct dp_upstream_backend *b, int *active, int *queued);

/* One replica address with requests in flight. */
struct dp_upstream_busy {
	char host[LB_HOST_MAX + 1];
	uint16_t port;
	int inflight;
};

/* Copies up to max addresses that have requests in flight (from this data
 * plane) to out; returns how many there are (maybe more than max). */
size_t dp_upstream_busy_list(struct dp_upstream_busy *out, size_t max);

/* Connections open to b, and of them idle in its pool. */
void dp_upstream_conns(struct dp_upstream_backend *b, int *open, int *idle);

/* Reads more of the client's body into buf: returns the bytes read, 0 at
 * its end, or -1 when it cannot be read (the client is gone, or it passed
 * a limit: the caller knows which). */
typedef long (*dp_upstream_more_fn)(void *arg, char *buf, size_t cap);

struct dp_upstream_req {
	const char *method;
	const char *target; /* path and query, as the client sent them */
	struct dp_upstream_backend *backend;
	const char *headers; /* "Name: value\r\n" lines and the blank line,
	                        borrowed; they say how the body is framed */
	size_t headers_len;
	bool has_host; /* headers carry the client's Host */
	/* The body: first what is in hand (the replay buffer), then, unless
	 * that was all of it, what more() reads from the client. */
	const char *body;
	size_t body_len;
	bool body_complete;
	bool chunked; /* the body goes to the replica chunked */
	dp_upstream_more_fn more;
	void *more_arg;
	bool head_method; /* the answer has no body */
	/* The method may run twice (RFC 9110 9.2.2): only then is a request
	 * that was written, in part or whole, ever written again. */
	bool idempotent;
	char *buf; /* DP_ANSWER_BUF bytes the exchange works in, borrowed */
	long queue_timeout_ms; /* longest wait in the replica's line */
	long connect_timeout_ms;
	long timeout_ms; /* longest silence of the replica */
};

/* Where the answer goes: its head and body (dp_answer.h), and a flush()
 * called before waiting for more of the answer, so that what was buffered
 * reaches the client meanwhile.  Callbacks return 0, or non-zero to stop
 * the exchange (DP_UP_STOPPED). */
struct dp_upstream_sink {
	struct dp_answer_sink answer;
	int (*flush)(void *arg);
	/* Called (maybe more than once) when the exchange is about to wait
	 * for something that may take long: a place in the replica's line,
	 * a connection not made within DP_UPSTREAM_HOLD_MS, a body in hand
	 * larger than DP_UPSTREAM_PARK_BODY to send, the answer once the
	 * request went out.  NULL: not told. */
	void (*park)(void *arg);
};

/* How long the exchange waits for a connection before it calls park(): a
 * replica on this host or network accepts within it. */
#define DP_UPSTREAM_HOLD_MS 2
/* A body in hand up to this size goes into the socket's buffer without
 * waiting for the replica to read it. */
#define DP_UPSTREAM_PARK_BODY (16 * 1024)

/* Why an exchange ended; decides whether the proxy may try another
 * replica. */
enum dp_upstream_result {
	DP_UP_OK,
	DP_UP_CONNECT, /* no connection: the request was never sent */
	DP_UP_BUSY,    /* the replica's line was full: not sent */
	DP_UP_QUEUED,  /* waited queue_timeout_ms in line: not sent */
	DP_UP_BROKEN,  /* sent (maybe in part), then the connection broke
	                  before any byte of the answer */
	DP_UP_TIMEOUT, /* connected, but the replica went silent */
	DP_UP_BAD,     /* a malformed answer, or one cut short */
	DP_UP_STOPPED, /* the sink or more() stopped it (the caller knows
	                  why) */
};

/* What happened besides the result. */
struct dp_upstream_info {
	bool sent;      /* any byte of the request was written */
	bool got_bytes; /* any byte of the answer arrived */
	bool consumed;  /* more() was called: the body cannot be sent again */
	/* Timers: time in the replica's line, spent connecting (0 on a
	 * pooled connection), and when the request began to go out (lb_now_us
	 * clock; 0: never). */
	int64_t queue_us, connect_us, send_us;
};

/* Runs the exchange: sends the request, then passes the answer to the
 * sink as it arrives.  A pooled connection that the replica closed meanwhile
 * is replaced transparently while the request can still be sent whole and
 * either is idempotent or had no byte written: a request that is not
 * idempotent is never written twice.
 * info is filled either way; err gets the reason of a failure. */
enum dp_upstream_result dp_upstream_do(const struct dp_upstream_req *req,
                                       const struct dp_upstream_sink *sink,
                                       struct dp_upstream_info *info, char *err,
                                       size_t errlen);

#endif
