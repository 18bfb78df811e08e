#include "dp_reply.h"

#include "lb_err.h"
#include "lb_http.h"
#include "lb_http_send.h"
#include "lb_http_token.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

void dp_reply_init(struct dp_reply *r, dp_reply_write_fn write, void *arg)
{
	r->write = write;
	r->arg = arg;
	r->len = 0;
	r->committed = r->chunked = false;
	r->keep_alive = true;
	r->bytes = 0;
}

static int reply_write(struct dp_reply *r, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	r->committed = true;
	if (r->write(r->arg, p, n) != 0)
		return LB_ERR_IO;
	r->bytes += n;
	return 0;
}

int dp_reply_flush(struct dp_reply *r)
{
	size_t n = r->len;
	r->len = 0;
	return reply_write(r, r->out, n);
}

/* Appends to the buffer; what does not fit is written.  A large piece goes
 * out directly after the buffer, without a copy. */
static int reply_put(struct dp_reply *r, const void *p, size_t n)
{
	int rv;

	if (n <= sizeof(r->out) - r->len) {
		memcpy(r->out + r->len, p, n);
		r->len += n;
		return 0;
	}
	if ((rv = dp_reply_flush(r)) != 0)
		return rv;
	if (n >= sizeof(r->out) / 2)
		return reply_write(r, p, n);
	memcpy(r->out, p, n);
	r->len = n;
	return 0;
}

static int reply_puts(struct dp_reply *r, const char *s)
{
	return reply_put(r, s, strlen(s));
}

bool dp_reply_hop_by_hop(const char *name, size_t len)
{
	static const struct {
		const char *name;
		size_t len;
	} hop[] = {
	    {"connection", 10},
	    {"keep-alive", 10},
	    {"proxy-connection", 16},
	    {"proxy-authenticate", 18},
	    {"te", 2},
	    {"trailer", 7},
	    {"transfer-encoding", 17},
	    {"upgrade", 7},
	    {"content-length", 14},
	};
	for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		if (hop[i].len == len &&
		    strncasecmp(name, hop[i].name, len) == 0)
			return true;
	return false;
}

/* True when a Connection field of the answer names this field: it is
 * hop-by-hop too (RFC 9110 7.6.1). */
static bool named_by_connection(const struct dp_answer_head *h,
                                const struct dp_header *f)
{
	for (size_t i = 0; i < h->nh; i++)
		if (dp_header_is(&h->h[i], "connection", 10) &&
		    lb_http_token_listed(h->h[i].value, h->h[i].vlen, f->name,
		                         f->nlen))
			return true;
	return false;
}

static int reply_fields(struct dp_reply *r, const struct dp_answer_head *h)
{
	int rv = 0;
	for (size_t i = 0; i < h->nh && rv == 0; i++) {
		const struct dp_header *f = &h->h[i];
		if (dp_reply_hop_by_hop(f->name, f->nlen) ||
		    named_by_connection(h, f))
			continue;
		if ((rv = reply_put(r, f->name, f->nlen)) == 0 &&
		    (rv = reply_put(r, ": ", 2)) == 0 &&
		    (rv = reply_put(r, f->value, f->vlen)) == 0)
			rv = reply_put(r, "\r\n", 2);
	}
	return rv;
}

/* The framing line that this proxy writes for the answer. */
static int reply_framing(struct dp_reply *r, const struct dp_answer_head *h,
                         const struct dp_reply_opts *o)
{
	char line[48];

	switch (h->framing) {
	case DP_FRAME_NONE:
		/* No body.  A HEAD or 304 answer's length describes the body
		 * that a GET would get, so it travels as given; 204 has none
		 * (RFC 9110 8.6). */
		if (!h->has_length || h->status == 204)
			return 0;
		snprintf(line, sizeof(line), "Content-Length: %llu\r\n",
		         (unsigned long long)h->length);
		return reply_puts(r, line);
	case DP_FRAME_LENGTH:
		snprintf(line, sizeof(line), "Content-Length: %llu\r\n",
		         (unsigned long long)h->length);
		return reply_puts(r, line);
	case DP_FRAME_CHUNKED:
	case DP_FRAME_CLOSE:
		if (o->http11) {
			r->chunked = true;
			return reply_puts(r, "Transfer-Encoding: chunked\r\n");
		}
		/* An HTTP/1.0 client learns the end from the close. */
		r->keep_alive = false;
		return 0;
	}
	return 0;
}

int dp_reply_head(struct dp_reply *r, const struct dp_answer_head *h,
                  const struct dp_reply_opts *o)
{
	char line[64];
	int rv;

	r->keep_alive = o->keep_alive;
	snprintf(line, sizeof(line), "HTTP/1.1 %d ", h->status);
	if ((rv = reply_puts(r, line)) != 0)
		return rv;
	if (h->reason_len)
		rv = reply_put(r, h->reason, h->reason_len);
	else
		rv = reply_puts(r, lb_http_send_reason(h->status));
	if (rv != 0 || (rv = reply_put(r, "\r\n", 2)) != 0 ||
	    (rv = reply_fields(r, h)) != 0 ||
	    (rv = reply_framing(r, h, o)) != 0)
		return rv;
	if (o->extra && (rv = reply_puts(r, o->extra)) != 0)
		return rv;
	if (!r->keep_alive && (rv = reply_puts(r, "Connection: close\r\n")))
		return rv;
	return reply_put(r, "\r\n", 2);
}

int dp_reply_body(struct dp_reply *r, const char *p, size_t n)
{
	char size[24];
	int rv;

	if (n == 0)
		return 0;
	if (!r->chunked)
		return reply_put(r, p, n);
	snprintf(size, sizeof(size), "%zx\r\n", n);
	if ((rv = reply_puts(r, size)) != 0 || (rv = reply_put(r, p, n)) != 0)
		return rv;
	return reply_put(r, "\r\n", 2);
}

int dp_reply_end(struct dp_reply *r)
{
	int rv;
	if (r->chunked && (rv = reply_put(r, "0\r\n\r\n", 5)) != 0)
		return rv;
	return dp_reply_flush(r);
}
