#include "dp_upstream.h"

#include "lb_err.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static pthread_key_t upstream_key;

static void upstream_handle_free(void *h)
{
	curl_easy_cleanup(h);
}

int dp_upstream_global_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return LB_ERR_SYS;
	return pthread_key_create(&upstream_key, upstream_handle_free) == 0
	           ? 0
	           : LB_ERR_SYS;
}

static CURL *upstream_handle(void)
{
	CURL *h = pthread_getspecific(upstream_key);
	if (h) {
		/* Clears the options, keeps the connection cache. */
		curl_easy_reset(h);
		return h;
	}
	if ((h = curl_easy_init()))
		pthread_setspecific(upstream_key, h);
	return h;
}

static int grow(char **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 512;
	while (c < need)
		c *= 2;
	char *nb = realloc(*buf, c);
	if (!nb)
		return -1;
	*buf = nb;
	*cap = c;
	return 0;
}

/* Hop-by-hop headers (RFC 9110 7.6.1) and the ones we write ourselves. */
static bool header_dropped(const char *line, size_t namelen)
{
	static const char *const drop[] = {
	    "connection",
	    "keep-alive",
	    "proxy-authenticate",
	    "proxy-authorization",
	    "te",
	    "trailer",
	    "transfer-encoding",
	    "upgrade",
	    "content-length",
	    "date",
	};
	for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
		if (strlen(drop[i]) == namelen &&
		    strncasecmp(line, drop[i], namelen) == 0)
			return true;
	return false;
}

static size_t upstream_header(char *p, size_t sz, size_t n, void *arg)
{
	struct dp_upstream_resp *r = arg;
	size_t len = sz * n;
	const char *colon;

	r->got_bytes = true;
	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		r->hlen = 0; /* a new response (after a 100 Continue) */
		r->content_length[0] = '\0';
		return len;
	}
	if (!(colon = memchr(p, ':', len)) || len < 2)
		return len; /* the blank line at the end */
	if ((size_t)(colon - p) == 14 &&
	    strncasecmp(p, "content-length", 14) == 0) {
		const char *v = colon + 1;
		size_t vl = len - (size_t)(v - p);
		while (vl && (*v == ' ' || *v == '\t')) {
			v++;
			vl--;
		}
		while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
			vl--;
		if (vl < sizeof(r->content_length)) {
			memcpy(r->content_length, v, vl);
			r->content_length[vl] = '\0';
		}
	}
	if (header_dropped(p, (size_t)(colon - p)))
		return len;
	if (grow(&r->headers, &r->hcap, r->hlen + len + 1) != 0)
		return 0; /* aborts the transfer */
	memcpy(r->headers + r->hlen, p, len);
	r->hlen += len;
	r->headers[r->hlen] = '\0';
	return len;
}

static size_t upstream_body(char *p, size_t sz, size_t n, void *arg)
{
	struct dp_upstream_resp *r = arg;
	size_t len = sz * n;

	r->got_bytes = true;
	if (r->len + len > r->max_body ||
	    grow(&r->body, &r->cap, r->len + len + 1) != 0)
		return 0; /* CURLE_WRITE_ERROR */
	memcpy(r->body + r->len, p, len);
	r->len += len;
	return len;
}

enum dp_upstream_result dp_upstream_do(const struct dp_upstream_req *req,
                                       struct dp_upstream_resp *resp, char *err,
                                       size_t errlen)
{
	CURL *h = upstream_handle();
	CURLcode cc;
	double connect_time = 0;

	memset(resp, 0, sizeof(*resp));
	resp->max_body = req->max_body;
	if (!h) {
		snprintf(err, errlen, "no HTTP client handle");
		return DP_UP_OTHER;
	}
	curl_easy_setopt(h, CURLOPT_URL, req->url);
	/* Paths go as the client wrote them: no "/../" squashing. */
	curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req->timeout_ms);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, req->headers);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, upstream_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, upstream_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(h, CURLOPT_MAXCONNECTS, 64L);
	if (strcmp(req->method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (req->body_len > 0 || (strcmp(req->method, "GET") != 0)) {
		if (req->body_len > 0 || strcmp(req->method, "POST") == 0 ||
		    strcmp(req->method, "PUT") == 0 ||
		    strcmp(req->method, "PATCH") == 0) {
			curl_easy_setopt(h, CURLOPT_POSTFIELDS,
			                 req->body ? req->body : "");
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
			                 (curl_off_t)req->body_len);
		}
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	}
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	if (cc == CURLE_OK)
		return DP_UP_OK;
	snprintf(err, errlen, "%s", curl_easy_strerror(cc));
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
		return DP_UP_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		curl_easy_getinfo(h, CURLINFO_CONNECT_TIME, &connect_time);
		return connect_time > 0 ? DP_UP_TIMEOUT : DP_UP_CONNECT;
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
		return resp->got_bytes ? DP_UP_PARTIAL : DP_UP_BROKEN;
	case CURLE_WRITE_ERROR:
		return DP_UP_TOOBIG;
	default:
		return DP_UP_OTHER;
	}
}

void dp_upstream_resp_fini(struct dp_upstream_resp *resp)
{
	free(resp->headers);
	free(resp->body);
	resp->headers = resp->body = NULL;
}
