/* libFuzzer target: a replica's answer through the real reading and
 * forwarding code (dp_answer, dp_reply), arriving in pieces of any size.
 *
 * Input: one byte of flags, then the replica's bytes.  Flag bit 0: the
 * request was a HEAD; bit 1: the client speaks HTTP/1.0; bits 2..7 seed the
 * sizes of the reads.
 *
 * Whatever the bytes, nothing may crash, leak or read out of bounds; a
 * refusal always says why; and an answer that was accepted must reach the
 * client as a well-formed HTTP/1.1 answer (http-parser reads it back) with
 * the same status and exactly the body bytes that were accepted. */
#include "../unit/answer_feed.h"
#include "dp_answer.h"
#include "dp_reply.h"
#include "lb_err.h"

#include <http_parser.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct out {
	char *p;
	size_t len, cap;
};

static int out_write(void *arg, const void *p, size_t n)
{
	struct out *o = arg;
	if (o->len + n > o->cap) {
		size_t cap = (o->len + n) * 2;
		char *np = realloc(o->p, cap);
		if (!np)
			abort();
		o->p = np;
		o->cap = cap;
	}
	memcpy(o->p + o->len, p, n);
	o->len += n;
	return 0;
}

struct run {
	struct dp_reply reply;
	struct dp_reply_opts opts;
	struct out client;
	struct out body; /* the body bytes that the reader accepted */
	int status;
	bool head_seen;
};

static int on_head(void *arg, const struct dp_answer_head *h)
{
	struct run *r = arg;
	if (r->head_seen || h->status < 100 || h->status > 599 ||
	    (h->status >= 100 && h->status < 200))
		abort(); /* one final head, with a sane status */
	r->head_seen = true;
	r->status = h->status;
	return dp_reply_head(&r->reply, h, &r->opts);
}

static int on_body(void *arg, const char *p, size_t n)
{
	struct run *r = arg;
	if (!r->head_seen)
		abort();
	out_write(&r->body, p, n);
	return dp_reply_body(&r->reply, p, n);
}

/* ---- reading the client's side back ------------------------------------ */

struct check {
	struct out body;
	int messages;
	bool head_request;
};

static int chk_body(http_parser *p, const char *at, size_t n)
{
	out_write(&((struct check *)p->data)->body, at, n);
	return 0;
}

static int chk_headers_complete(http_parser *p)
{
	/* What every client knows: no body after a HEAD, a 204 or a 304. */
	return ((struct check *)p->data)->head_request ||
	       p->status_code == 204 || p->status_code == 304;
}

static int chk_done(http_parser *p)
{
	((struct check *)p->data)->messages++;
	return 0;
}

static void check_client_side(struct run *r, bool head_request)
{
	static const http_parser_settings s = {
	    .on_body = chk_body,
	    .on_headers_complete = chk_headers_complete,
	    .on_message_complete = chk_done,
	};
	struct check c = {.head_request = head_request};
	http_parser p;
	size_t n;

	http_parser_init(&p, HTTP_RESPONSE);
	p.data = &c;
	n = http_parser_execute(&p, &s, r->client.p, r->client.len);
	if (HTTP_PARSER_ERRNO(&p) == HPE_OK && c.messages == 0)
		http_parser_execute(&p, &s, NULL, 0); /* close-delimited */
	if (HTTP_PARSER_ERRNO(&p) != HPE_OK || n != r->client.len ||
	    c.messages != 1 || (int)p.status_code != r->status ||
	    c.body.len != r->body.len ||
	    (c.body.len && memcmp(c.body.p, r->body.p, c.body.len) != 0))
		abort();
	free(c.body.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run r;
	const struct dp_answer_sink sink = {on_head, on_body, &r};
	struct dp_answer a;
	uint32_t seed;
	size_t pos = 1;
	bool head_request;
	int rv = 0;

	if (size < 1)
		return 0;
	head_request = data[0] & 1;
	seed = data[0] >> 2;
	memset(&r, 0, sizeof(r));
	dp_reply_init(&r.reply, out_write, &r.client);
	r.opts.keep_alive = true;
	r.opts.http11 = !(data[0] & 2);
	/* Exactly the reader's size, so that ASan sees any overrun. */
	char *buf = malloc(DP_ANSWER_BUF);
	if (!buf)
		abort();
	dp_answer_init(&a, buf, head_request, &sink);
	while (pos < size && rv == 0) {
		size_t n, took;
		/* Reads of varied sizes: 1 byte, a few, or all there is. */
		seed = seed * 1103515245u + 12345u;
		n = (seed >> 16) % 4 == 0   ? 1
		    : (seed >> 16) % 4 == 1 ? 7
		                            : size - pos;
		if (n > size - pos)
			n = size - pos;
		rv = answer_feed_from(&a, (const char *)data + pos, n, &took);
		pos += took;
	}
	if (rv == 0)
		rv = dp_answer_eof(&a);
	if (rv == LB_ERR_PROTO && a.err[0] == '\0')
		abort(); /* a refusal always says why */
	if (rv == 1) {
		dp_reply_end(&r.reply);
		check_client_side(&r, head_request);
	}
	free(buf);
	free(r.client.p);
	free(r.body.p);
	return 0;
}
