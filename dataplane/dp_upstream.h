/* dp_upstream.h - one HTTP exchange with a replica, over libcurl.
 *
 * Each calling thread has its own curl handle (libcurl handles and their
 * connection caches are not shared between threads), kept for the thread's
 * life, so connections to replicas are reused: upstream keep-alive.
 */
#ifndef DP_UPSTREAM_H
#define DP_UPSTREAM_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

struct dp_upstream_req {
	const char *method;
	const char *url;
	const struct curl_slist *headers; /* "Name: value", borrowed */
	const char *body;
	size_t body_len;
	long connect_timeout_ms;
	long timeout_ms;
	size_t max_body; /* a larger answer fails with DP_UP_TOOBIG */
};

struct dp_upstream_resp {
	long status;
	char *headers; /* "Name: value\r\n" lines, hop-by-hop ones removed */
	size_t hlen, hcap;
	char *body;
	size_t len, cap;
	char content_length[24]; /* as the replica sent it (for HEAD) */
	bool got_bytes;          /* any byte of the answer arrived */
	size_t max_body;
};

/* Why an exchange failed; decides whether the proxy may try another
 * replica. */
enum dp_upstream_result {
	DP_UP_OK,
	DP_UP_CONNECT, /* no connection: the request was never sent */
	DP_UP_BROKEN,  /* sent, then the connection broke before any answer */
	DP_UP_PARTIAL, /* the answer broke off midway */
	DP_UP_TIMEOUT, /* connected, but no whole answer in time */
	DP_UP_TOOBIG,  /* the answer is over max_body */
	DP_UP_OTHER,
};

/* Once in main() before threads start.  Returns 0 or LB_ERR_SYS. */
int dp_upstream_global_init(void);

/* Runs the exchange on this thread's handle.  resp is filled either way;
 * free it with dp_upstream_resp_fini(). */
enum dp_upstream_result dp_upstream_do(const struct dp_upstream_req *req,
                                       struct dp_upstream_resp *resp, char *err,
                                       size_t errlen);

void dp_upstream_resp_fini(struct dp_upstream_resp *resp);

#endif
