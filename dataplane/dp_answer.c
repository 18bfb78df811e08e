#include "dp_answer.h"

#include "lb_err.h"
#include "lb_http.h"
#include "lb_http_token.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Which header callback ran last: a field or value continues only when the
 * same kind of callback follows. */
enum { CB_NONE, CB_FIELD, CB_VALUE };
/* What paused the parser. */
enum { EV_NONE, EV_HEAD, EV_END };

static bool status_interim(int status)
{
	return status >= 100 && status < 200;
}

/* ---- http-parser callbacks: they only record; checks come after ------- */

static struct dp_answer *answer_of(http_parser *p)
{
	return p->data;
}

static int on_status(http_parser *p, const char *at, size_t len)
{
	struct dp_answer *a = answer_of(p);
	if (!a->reason) {
		a->reason = at;
		a->reason_len = 0;
	}
	a->reason_len += len; /* pieces are adjacent in our buffer */
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct dp_answer *a = answer_of(p);
	struct dp_header *h;

	if (a->head_done)
		return 0; /* trailers of a chunked body: dropped */
	if (a->last_cb != CB_FIELD) {
		if (a->nh == DP_ANSWER_MAX_HEADERS) {
			a->too_many = true;
			return 1;
		}
		h = &a->h[a->nh++];
		*h = (struct dp_header){.name = at, .value = ""};
	}
	a->h[a->nh - 1].nlen += len;
	a->last_cb = CB_FIELD;
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct dp_answer *a = answer_of(p);
	struct dp_header *h;

	if (a->head_done)
		return 0;
	h = &a->h[a->nh - 1];
	if (a->last_cb == CB_FIELD) {
		h->value = at;
		h->vlen = len;
	} else if (h->value + h->vlen == at) {
		h->vlen += len; /* the same line, read in two parts */
	} else {
		/* http-parser reports a continued line (obs-fold) as a second
		 * value piece further on: refused (RFC 9112 5.2). */
		a->folded = true;
		return 1;
	}
	a->last_cb = CB_VALUE;
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct dp_answer *a = answer_of(p);
	int st = (int)p->status_code;

	a->event = EV_HEAD;
	http_parser_pause(p, 1);
	/* 1: no body, whatever the headers say (RFC 9110 6.4.1). */
	return a->head_request || status_interim(st) || st == 204 || st == 304;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct dp_answer *a = answer_of(p);
	return a->sink->body(a->sink->arg, at, len) != 0;
}

static int on_message_complete(http_parser *p)
{
	struct dp_answer *a = answer_of(p);
	a->event = EV_END;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings answer_settings = {
    .on_status = on_status,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- the checks on a complete head -------------------------------------- */

/* Visible text, spaces, tabs and obs-text: what a value or a reason
 * phrase may hold. */
static bool text_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

static int answer_refuse(struct dp_answer *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int answer_refuse(struct dp_answer *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->err, sizeof(a->err), fmt, ap);
	va_end(ap);
	return LB_ERR_PROTO;
}

/* Every line of the head [from, to] ends in CRLF: http-parser also takes a
 * bare LF, which a proxy must not pass on as if it were one. */
static int check_line_ends(struct dp_answer *a, size_t from, size_t to)
{
	const char *p = a->buf + from, *end = a->buf + to + 1;
	while ((p = memchr(p, '\n', (size_t)(end - p)))) {
		if (p == a->buf + from || p[-1] != '\r')
			return answer_refuse(a, "a header line ends in a bare "
			                        "LF");
		p++;
	}
	return 0;
}

static int check_fields(struct dp_answer *a)
{
	int te = 0;

	for (size_t i = 0; i < a->nh; i++) {
		struct dp_header *h = &a->h[i];
		if (h->nlen == 0)
			return answer_refuse(a, "an empty header name");
		for (size_t k = 0; k < h->nlen; k++)
			if (!lb_http_token_char((unsigned char)h->name[k]))
				return answer_refuse(
				    a, "header name '%.*s' is not a token",
				    (int)(h->nlen > 40 ? 40 : h->nlen),
				    h->name);
		while (h->vlen && (h->value[h->vlen - 1] == ' ' ||
		                   h->value[h->vlen - 1] == '\t'))
			h->vlen--;
		if (!text_ok(h->value, h->vlen))
			return answer_refuse(a,
			                     "a control character in the "
			                     "value of '%.*s'",
			                     (int)(h->nlen > 40 ? 40 : h->nlen),
			                     h->name);
		if (!dp_header_is(h, "transfer-encoding", 17))
			continue;
		/* Only chunked: any other coding would have to be passed on
		 * as it is, and the proxy re-frames bodies. */
		if (++te > 1 || h->vlen != 7 ||
		    strncasecmp(h->value, "chunked", 7) != 0)
			return answer_refuse(
			    a, "transfer coding '%.*s' is not supported",
			    (int)(h->vlen > 40 ? 40 : h->vlen), h->value);
	}
	return 0;
}

static int check_head(struct dp_answer *a, size_t head_last)
{
	int st = (int)a->p.status_code;
	int rv;

	if ((rv = check_line_ends(a, a->msg_start, head_last)) != 0)
		return rv;
	if (a->p.http_major != 1 || a->p.http_minor > 1)
		return answer_refuse(a, "version HTTP/%u.%u is not HTTP/1.x",
		                     a->p.http_major, a->p.http_minor);
	if (st < 100 || st > 599)
		return answer_refuse(a, "status %d is outside 100..599", st);
	if (st == 101)
		return answer_refuse(a, "101 Switching Protocols to a request "
		                        "that asked for no upgrade");
	if (a->reason && !text_ok(a->reason, a->reason_len))
		return answer_refuse(a, "a control character in the reason "
		                        "phrase");
	return check_fields(a);
}

/* ---- driving the parser ------------------------------------------------- */

static void head_reset(struct dp_answer *a)
{
	a->nh = 0;
	a->last_cb = CB_NONE;
	a->reason = NULL;
	a->reason_len = 0;
}

/* A head is complete; its last byte (the LF) is at head_last. */
static int answer_head_end(struct dp_answer *a, size_t head_last)
{
	struct dp_answer_head h;
	int st = (int)a->p.status_code, rv;
	bool no_body;

	if ((rv = check_head(a, head_last)) != 0)
		return rv;
	if (status_interim(st))
		return 0; /* read and dropped: the final answer follows */
	no_body = a->head_request || st == 204 || st == 304;
	memset(&h, 0, sizeof(h));
	h.status = st;
	h.reason = a->reason ? a->reason : "";
	h.reason_len = a->reason_len;
	h.h = a->h;
	h.nh = a->nh;
	h.has_length = (a->p.flags & F_CONTENTLENGTH) != 0;
	h.length = h.has_length ? a->p.content_length : 0;
	if (no_body)
		h.framing = DP_FRAME_NONE;
	else if (a->p.flags & F_CHUNKED)
		h.framing = DP_FRAME_CHUNKED;
	else if (h.has_length)
		h.framing = h.length ? DP_FRAME_LENGTH : DP_FRAME_NONE;
	else
		h.framing = DP_FRAME_CLOSE;
	a->head_done = true;
	if (a->sink->head(a->sink->arg, &h) != 0)
		return LB_ERR_IO;
	return 0;
}

/* A message ended at end (exclusive).  Returns 1 for the final one. */
static int answer_msg_end(struct dp_answer *a, size_t end)
{
	a->off = end;
	if (!a->head_done) {
		/* An interim answer: the next message starts here. */
		a->msg_start = end;
		head_reset(a);
		return 0;
	}
	a->done = true;
	a->keep_alive = http_should_keep_alive(&a->p) != 0;
	a->extra = a->off < a->len;
	return 1;
}

/* Maps a parse error to a reason. */
static int answer_failed(struct dp_answer *a, enum http_errno e)
{
	if (a->too_many)
		return answer_refuse(a, "more than %d header fields",
		                     DP_ANSWER_MAX_HEADERS);
	if (a->folded)
		return answer_refuse(a, "a header line is continued "
		                        "(obs-fold)");
	if (e == HPE_CB_body || e == HPE_CB_headers_complete)
		return LB_ERR_IO; /* the sink stopped */
	return answer_refuse(a, "malformed answer: %s",
	                     http_errno_description(e));
}

void dp_answer_global_init(void)
{
	http_parser_set_max_header_size(DP_ANSWER_BUF);
}

void dp_answer_init(struct dp_answer *a, char *buf, bool head_request,
                    const struct dp_answer_sink *sink)
{
	memset(a, 0, offsetof(struct dp_answer, h));
	a->buf = buf;
	http_parser_init(&a->p, HTTP_RESPONSE);
	a->p.data = a;
	a->sink = sink;
	a->head_request = head_request;
}

size_t dp_answer_space(struct dp_answer *a, char **at)
{
	size_t room = DP_ANSWER_BUF - a->len;
	*at = a->buf + a->len;
	if (room == 0)
		answer_refuse(a, "answer head over %d bytes", DP_ANSWER_BUF);
	return room;
}

int dp_answer_feed(struct dp_answer *a, size_t n)
{
	int rv;

	a->len += n;
	while (a->off < a->len && !a->done) {
		size_t got = http_parser_execute(
		    &a->p, &answer_settings, a->buf + a->off, a->len - a->off);
		enum http_errno e = HTTP_PARSER_ERRNO(&a->p);

		if (e != HPE_PAUSED) {
			if (e != HPE_OK)
				return answer_failed(a, e);
			a->off += got;
			continue;
		}
		http_parser_pause(&a->p, 0);
		if (a->event == EV_HEAD) {
			/* Paused on the head's last byte, which the parser
			 * reads again when it resumes. */
			a->off += got;
			if ((rv = answer_head_end(a, a->off)) != 0)
				return rv;
		} else if (answer_msg_end(a, a->off + got) == 1) {
			return 1;
		}
	}
	/* Everything parsed: once the final head went out (or between
	 * messages) the buffer can start over. */
	if (a->off == a->len && (a->head_done || a->msg_start == a->len))
		a->off = a->len = a->msg_start = 0;
	return a->done ? 1 : 0;
}

int dp_answer_eof(struct dp_answer *a)
{
	if (a->done)
		return 1;
	if (a->head_done && !(a->p.flags & (F_CHUNKED | F_CONTENTLENGTH))) {
		/* A body delimited by the close: the parser completes it. */
		http_parser_execute(&a->p, &answer_settings, NULL, 0);
		if (HTTP_PARSER_ERRNO(&a->p) == HPE_PAUSED) {
			http_parser_pause(&a->p, 0);
			a->done = true;
			a->keep_alive = false;
			return 1;
		}
	}
	return answer_refuse(a, a->head_done
	                            ? "the replica closed the connection "
	                              "before the end of the answer"
	                            : "the replica closed the connection "
	                              "before the end of the head");
}
