/* dp_reply.h - writes a replica's answer on to the client.
 *
 * The head goes out with the hop-by-hop fields removed (RFC 9110 7.6.1,
 * those that Connection names included) and with the proxy's own framing:
 * the replica's Content-Length when it gave one, else chunked to an
 * HTTP/1.1 client, else (HTTP/1.0) the body until the connection closes.
 * The body follows as it arrives.  Small answers leave in one write: the
 * head and the body gather in a buffer of DP_REPLY_BUF bytes that is
 * written when it fills, when the caller is about to wait for the replica
 * (dp_reply_flush()), or at the end.  Until the first write nothing has
 * reached the client, so a failure can still become a clean error answer.
 *
 * The transport is a function, so that the same code serves civetweb
 * connections and the fuzz target's memory.
 */
#ifndef DP_REPLY_H
#define DP_REPLY_H

#include "dp_answer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DP_REPLY_BUF 16384

/* Writes all n bytes; returns 0, or non-zero when the client is gone. */
typedef int (*dp_reply_write_fn)(void *arg, const void *p, size_t n);

struct dp_reply_opts {
	bool keep_alive;   /* the client's connection may stay open */
	bool http11;       /* the client speaks HTTP/1.1 (takes chunked) */
	const char *extra; /* our own "Name: value\r\n" lines, or NULL */
};

struct dp_reply {
	dp_reply_write_fn write;
	void *arg;
	char out[DP_REPLY_BUF];
	size_t len;
	bool committed;  /* bytes reached the client */
	bool chunked;    /* the body goes out chunked */
	bool keep_alive; /* as the head said */
	uint64_t bytes;  /* written to the client */
};

void dp_reply_init(struct dp_reply *r, dp_reply_write_fn write, void *arg);

/* Buffers the head of the answer h.  Returns 0 or LB_ERR_IO. */
int dp_reply_head(struct dp_reply *r, const struct dp_answer_head *h,
                  const struct dp_reply_opts *o);

/* Passes on body bytes (framed when chunked).  Returns 0 or LB_ERR_IO. */
int dp_reply_body(struct dp_reply *r, const char *p, size_t n);

/* Ends the body (the last chunk) and writes what is buffered. */
int dp_reply_end(struct dp_reply *r);

/* Writes what is buffered.  Returns 0 or LB_ERR_IO. */
int dp_reply_flush(struct dp_reply *r);

/* True when a header named name[0..len) must not travel on: hop-by-hop
 * fields and the framing that the proxy writes itself.  Shared with the
 * request side. */
bool dp_reply_hop_by_hop(const char *name, size_t len);

#endif
