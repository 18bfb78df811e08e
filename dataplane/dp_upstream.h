/* dp_upstream.h - one HTTP/1.1 exchange with a replica, on a pooled
 * keep-alive connection.
 *
 * Each replica address has one pool of idle connections, shared by all
 * threads, and a cap on the connections open to it: a replica serves each
 * connection on a thread of its own, so more connections than its threads
 * would stall it (and fail its heartbeats).  A request takes an idle
 * connection, or opens one below the cap, or waits briefly for one; a
 * complete keep-alive answer puts it back.  The request goes out in one
 * sendmsg(),
 * the answer comes back with as few recv() calls as its size allows: this
 * client exists because a general one (libcurl) spent more time per
 * request in its own machinery than the proxy spent in everything else.
 */
#ifndef DP_UPSTREAM_H
#define DP_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A replica address: its pool and its connection count.  Lives while a
 * routing table refers to it. */
struct dp_upstream_backend;

/* Sets the cap on connections open to one replica.  Call once in main()
 * before threads start. */
void dp_upstream_set_max_conns(int max_conns);

/* The backend for host:port, with one more reference (made on first use).
 * Returns NULL when out of memory. */
struct dp_upstream_backend *dp_upstream_backend_get(const char *host,
                                                    uint16_t port);

/* Drops a reference; the last one closes the idle connections.  Accepts
 * NULL. */
void dp_upstream_backend_put(struct dp_upstream_backend *b);

struct dp_upstream_req {
	const char *method;
	const char *target; /* path and query, as the client sent them */
	struct dp_upstream_backend *backend;
	const char *headers; /* "Name: value\r\n" lines, borrowed */
	size_t headers_len;
	bool has_host; /* headers carry the client's Host */
	const char *body;
	size_t body_len;
	long connect_timeout_ms;
	long timeout_ms; /* longest silence while waiting for the answer */
	size_t max_body; /* a larger answer fails with DP_UP_TOOBIG */
};

struct dp_upstream_resp {
	int status;
	char *headers; /* "Name: value\r\n" lines, hop-by-hop ones removed */
	size_t hlen;
	char *body;
	size_t len;
	char content_length[24]; /* as the replica sent it (for HEAD) */
	bool got_bytes;          /* any byte of the answer arrived */
	char *buf;               /* owns headers and body */
};

/* Why an exchange failed; decides whether the proxy may try another
 * replica. */
enum dp_upstream_result {
	DP_UP_OK,
	DP_UP_CONNECT, /* no connection: the request was never sent */
	DP_UP_BROKEN,  /* sent, then the connection broke before any answer */
	DP_UP_PARTIAL, /* the answer broke off midway */
	DP_UP_TIMEOUT, /* connected, but the replica went silent */
	DP_UP_TOOBIG,  /* the answer is over max_body */
	DP_UP_BUSY,    /* every allowed connection stayed busy: not sent */
	DP_UP_OTHER,   /* a malformed answer, or out of memory */
};

/* Runs the exchange.  resp is filled either way; free it with
 * dp_upstream_resp_fini().  err gets the reason of a failure. */
enum dp_upstream_result dp_upstream_do(const struct dp_upstream_req *req,
                                       struct dp_upstream_resp *resp, char *err,
                                       size_t errlen);

void dp_upstream_resp_fini(struct dp_upstream_resp *resp);

#endif
