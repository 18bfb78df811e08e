/* The answer reader (dp_answer) and writer (dp_reply): every framing rule,
 * each fed whole and one byte at a time (the same answer must come out
 * however the bytes arrive). */
#include "answer_feed.h"
#include "dp_answer.h"
#include "dp_reply.h"
#include "lb_err.h"
#include "lbt.h"

#include <stdbool.h>

struct got {
	int status;
	char body[4096];
	size_t blen;
	char client[8192];
	size_t clen;
	struct dp_reply reply;
	struct dp_reply_opts opts;
};

static int client_write(void *arg, const void *p, size_t n)
{
	struct got *g = arg;
	LBT_CHECK(g->clen + n <= sizeof(g->client));
	memcpy(g->client + g->clen, p, n);
	g->clen += n;
	return 0;
}

static int on_head(void *arg, const struct dp_answer_head *h)
{
	struct got *g = arg;
	g->status = h->status;
	return dp_reply_head(&g->reply, h, &g->opts);
}

static int on_body(void *arg, const char *p, size_t n)
{
	struct got *g = arg;
	LBT_CHECK(g->blen + n <= sizeof(g->body));
	memcpy(g->body + g->blen, p, n);
	g->blen += n;
	return dp_reply_body(&g->reply, p, n);
}

/* Feeds text in pieces of `step` bytes (0: whole), then the close when
 * `eof`.  Returns dp_answer's last result; *a stays for inspection. */
static int run(const char *text, size_t len, size_t step, bool head, bool eof,
               struct got *g, struct dp_answer *a)
{
	static struct dp_answer_sink sink = {on_head, on_body, NULL};
	size_t pos = 0;
	int rv = 0;

	memset(g, 0, sizeof(*g));
	sink.arg = g;
	dp_reply_init(&g->reply, client_write, g);
	g->opts.keep_alive = true;
	g->opts.http11 = true;
	static char buf[DP_ANSWER_BUF];
	dp_answer_init(a, buf, head, &sink);
	while (pos < len && rv == 0) {
		size_t n = step ? step : len, took;
		if (n > len - pos)
			n = len - pos;
		rv = answer_feed_from(a, text + pos, n, &took);
		pos += took;
	}
	if (rv == 0 && eof)
		rv = dp_answer_eof(a);
	if (rv == 1)
		dp_reply_end(&g->reply);
	return rv;
}

/* The answer must be accepted with this status and body, fed whole or a
 * byte at a time. */
static void accepted(const char *text, bool head, bool eof, int status,
                     const char *body)
{
	for (size_t step = 0; step <= 1; step++) {
		struct dp_answer a;
		struct got g;
		int rv = run(text, strlen(text), step, head, eof, &g, &a);
		if (rv != 1)
			fprintf(stderr, "refused (%d): %s\n", rv, a.err);
		LBT_EQ(rv, 1);
		LBT_EQ(g.status, status);
		LBT_EQ(g.blen, strlen(body));
		LBT_CHECK(memcmp(g.body, body, g.blen) == 0);
	}
}

/* The answer must be refused, with a reason that contains `why`. */
static void refused(const char *text, const char *why)
{
	for (size_t step = 0; step <= 1; step++) {
		struct dp_answer a;
		struct got g;
		int rv = run(text, strlen(text), step, false, true, &g, &a);
		if (rv != LB_ERR_PROTO || !strstr(a.err, why))
			fprintf(stderr, "rv %d, reason '%s', wanted '%s'\n", rv,
			        a.err, why);
		LBT_EQ(rv, LB_ERR_PROTO);
		LBT_CHECK(strstr(a.err, why) != NULL);
	}
}

static void test_plain_length(void)
{
	accepted("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false,
	         false, 200, "hello");
}

static void test_chunked_and_close(void)
{
	accepted("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	         "3\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n",
	         false, false, 200, "abcde");
	accepted("HTTP/1.1 200 OK\r\n\r\nuntil close", false, true, 200,
	         "until close");
}

static void test_interim_answers_dropped(void)
{
	accepted("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early\r\nLink: x"
	         "\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
	         false, false, 201, "ok");
	/* A length on a 1xx means nothing. */
	accepted("HTTP/1.1 100 Continue\r\nContent-Length: 9\r\n\r\n"
	         "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
	         false, false, 200, "ok");
}

static void test_no_body_answers(void)
{
	accepted("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", false,
	         false, 204, "");
	accepted("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
	         false, false, 304, "");
	accepted("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true, false,
	         200, "");
}

static void test_extra_bytes_noted(void)
{
	const char *t = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokXYZ";
	struct dp_answer a;
	struct got g;
	LBT_EQ(run(t, strlen(t), 0, false, false, &g, &a), 1);
	LBT_CHECK(a.extra);
	t = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	LBT_EQ(run(t, strlen(t), 0, false, false, &g, &a), 1);
	LBT_CHECK(!a.extra && a.keep_alive);
}

static void test_malformed_heads(void)
{
	refused("HTTP/1.1 200 OK\nContent-Length: 2\n\r\nok", "bare LF");
	refused("HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n",
	        "obs-fold");
	refused("HTTP/1.1 2x0 OK\r\n\r\n", "malformed answer");
	refused("HTTP/1.1 600 X\r\nContent-Length: 0\r\n\r\n", "outside");
	refused("HTTP/1.1 099 X\r\nContent-Length: 0\r\n\r\n", "outside");
	refused("HTTP/1.1 101 Switching\r\n\r\n", "101");
	refused("HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", "HTTP/1.x");
	refused("HTTP/1.1 200 OK\r\nX Y: z\r\nContent-Length: 0\r\n\r\n",
	        "not a token");
	refused("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", "closed");
	refused("HTTP/1.1 200 OK\r\nContent-Len", "before the end of the "
	                                          "head");
}

static void test_too_many_headers(void)
{
	static char t[8192];
	size_t off = (size_t)sprintf(t, "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i <= DP_ANSWER_MAX_HEADERS; i++)
		off += (size_t)sprintf(t + off, "X-%d: v\r\n", i);
	sprintf(t + off, "\r\n");
	refused(t, "more than 100 header fields");
}

static void test_head_over_the_buffer(void)
{
	static char t[DP_ANSWER_BUF + 4096];
	size_t off = (size_t)sprintf(t, "HTTP/1.1 200 OK\r\n");
	while (off < DP_ANSWER_BUF + 100)
		off += (size_t)sprintf(t + off, "X-Fill: %0900d\r\n", 0);
	sprintf(t + off, "\r\n");
	refused(t, "head over 65536 bytes");
}

static void test_bad_lengths_and_codings(void)
{
	refused("HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n", "content");
	refused("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", "content");
	refused("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999"
	        "\r\n\r\n",
	        "content");
	refused("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3"
	        "\r\n\r\nok",
	        "content-length");
	refused("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: "
	        "chunked\r\n\r\n",
	        "content-length");
	refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nx",
	        "transfer coding 'gzip'");
	refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	        "FFFFFFFFFFFFFFFFFFFF\r\nx",
	        "malformed answer");
	refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	        "5\r\nabcdefgh\r\n0\r\n\r\n",
	        "chunk size");
}

/* The client side: hop-by-hop fields removed, our framing, one write. */
static void test_reply_head(void)
{
	const char *t = "HTTP/1.1 200 Fine\r\nConnection: X-S\r\nX-S: s\r\n"
	                "Keep-Alive: 5\r\nX-K: k\r\nTransfer-Encoding: "
	                "chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
	const char *want = "HTTP/1.1 200 Fine\r\nX-K: k\r\nTransfer-Encoding: "
	                   "chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
	struct dp_answer a;
	struct got g;
	LBT_EQ(run(t, strlen(t), 0, false, false, &g, &a), 1);
	LBT_EQ(g.clen, strlen(want));
	LBT_CHECK(memcmp(g.client, want, g.clen) == 0);
}

static const struct lbt_case cases[] = {
    {"plain_length", test_plain_length},
    {"chunked_and_close", test_chunked_and_close},
    {"interim_answers_dropped", test_interim_answers_dropped},
    {"no_body_answers", test_no_body_answers},
    {"extra_bytes_noted", test_extra_bytes_noted},
    {"malformed_heads", test_malformed_heads},
    {"too_many_headers", test_too_many_headers},
    {"head_over_the_buffer", test_head_over_the_buffer},
    {"bad_lengths_and_codings", test_bad_lengths_and_codings},
    {"reply_head", test_reply_head},
};

LBT_MAIN(cases)
