/* dp_answer.h - reads a replica's answer.
 *
 * The HTTP/1.1 framing is Node's http-parser (Debian's libhttp-parser 2.9.4);
 * on top of it go the rules of a proxy that does not trust its backends:
 *
 * - interim answers (1xx but 101) are read and dropped; the final one counts;
 * - a head (interim ones included) must fit in DP_ANSWER_BUF bytes and hold
 *   at most DP_ANSWER_MAX_HEADERS fields; every line ends in CRLF (a bare LF
 *   is refused); no obs-fold; field names are tokens;
 * - the status is 100..599 and the version HTTP/1.0 or HTTP/1.1;
 * - Content-Length is one decimal number, said once, never together with
 *   Transfer-Encoding (http-parser refuses those); Transfer-Encoding may
 *   only be "chunked"; chunk sizes may not overflow (http-parser);
 * - answers to HEAD, and 1xx, 204 and 304 answers, have no body whatever
 *   their headers say;
 * - bytes after the end of the answer are noted (dp_answer.extra), so that
 *   the connection is closed instead of pooled.
 *
 * The reader works in one buffer of DP_ANSWER_BUF bytes that the caller
 * lends it: the caller reads into the space that dp_answer_space() gives, then
 * hands the count to dp_answer_feed().  The final head and each piece of body
 * go to the sink as they are parsed, pointing into that buffer (no copy): a
 * sink must use them before it returns.
 */
#ifndef DP_ANSWER_H
#define DP_ANSWER_H

#include <http_parser.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <strings.h>

#define DP_ANSWER_BUF         (64 * 1024)
#define DP_ANSWER_MAX_HEADERS 100

struct dp_header {
	const char *name;
	size_t nlen;
	const char *value;
	size_t vlen;
};

/* True when the field is named s[0..n), case-insensitively. */
static inline bool dp_header_is(const struct dp_header *h, const char *s,
                                size_t n)
{
	return h->nlen == n && strncasecmp(h->name, s, n) == 0;
}

/* How the body of the final answer is delimited. */
enum dp_framing {
	DP_FRAME_NONE,    /* no body (HEAD, 1xx, 204, 304, or a length of 0) */
	DP_FRAME_LENGTH,  /* Content-Length bytes */
	DP_FRAME_CHUNKED, /* chunked transfer coding */
	DP_FRAME_CLOSE,   /* until the replica closes (no length) */
};

struct dp_answer_head {
	int status;
	const char *reason; /* the reason phrase, checked; may be empty */
	size_t reason_len;
	const struct dp_header *h; /* every field, in order */
	size_t nh;
	enum dp_framing framing;
	bool has_length; /* a Content-Length was given (HEAD and 304 too) */
	uint64_t length;
};

/* Where the parsed answer goes.  Each callback returns 0, or non-zero to
 * stop (say, the client is gone): dp_answer_feed() then fails with
 * LB_ERR_IO. */
struct dp_answer_sink {
	int (*head)(void *arg, const struct dp_answer_head *h);
	int (*body)(void *arg, const char *p, size_t len);
	void *arg;
};

struct dp_answer {
	http_parser p;
	const struct dp_answer_sink *sink;
	bool head_request; /* the answer is to a HEAD: never a body */
	char *buf;         /* DP_ANSWER_BUF bytes, borrowed */
	size_t len;        /* bytes in buf */
	size_t off;        /* parsed up to here */
	size_t msg_start;  /* the current head starts here */
	size_t nh;
	int last_cb; /* which header callback ran last (dp_answer.c) */
	bool too_many;
	bool folded;
	const char *reason;
	size_t reason_len;
	int event;      /* what paused the parser (dp_answer.c) */
	bool head_done; /* the final head went to the sink */
	bool done;      /* the whole answer was read */
	bool extra;     /* bytes came after the end of the answer */
	bool keep_alive;
	char err[160]; /* why the answer was refused */
	/* Last: filled as fields arrive (nh counts them), never zeroed. */
	struct dp_header h[DP_ANSWER_MAX_HEADERS];
};

/* Call once in main() before threads start: sets http-parser's limit on
 * head sizes (a process-wide setting of the library). */
void dp_answer_global_init(void);

/* Prepares a reader for one answer in buf (DP_ANSWER_BUF bytes).  buf and
 * the sink are borrowed; nothing is allocated, so there is nothing to
 * free. */
void dp_answer_init(struct dp_answer *a, char *buf, bool head_request,
                    const struct dp_answer_sink *sink);

/* Where the next bytes go, and how many fit.  0 means the head does not fit
 * in DP_ANSWER_BUF: the answer is refused (a->err says so). */
size_t dp_answer_space(struct dp_answer *a, char **at);

/* Parses n bytes just read into the space.  Returns 1 when the answer is
 * complete, 0 when more is needed, LB_ERR_PROTO when it is malformed
 * (a->err says why), LB_ERR_IO when a sink callback stopped it. */
int dp_answer_feed(struct dp_answer *a, size_t n);

/* The replica closed its end.  Returns 1 when that completes the answer (a
 * body delimited by the close), LB_ERR_PROTO otherwise (a->err says why),
 * LB_ERR_IO when a sink callback stopped it. */
int dp_answer_eof(struct dp_answer *a);

#endif
