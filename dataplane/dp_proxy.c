#include "dp_proxy.h"

#include "dp.h"
#include "dp_upstream.h"
#include "lb_err.h"
#include "lb_http.h"
#include "lb_log.h"
#include "lb_rand.h"
#include "lb_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A failover walk never tries more replicas than this. */
#define PROXY_MAX_TRIES 16
/* civetweb refuses request heads over max_request_size (16 KiB). */
#define PROXY_HEAD_MAX (17 * 1024)

static bool method_idempotent(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 ||
	       strcmp(m, "PUT") == 0 || strcmp(m, "DELETE") == 0 ||
	       strcmp(m, "OPTIONS") == 0;
}

/* Client headers that must not travel on: hop-by-hop ones, the length
 * (the body is sent whole, with its own), and ours. */
static bool header_skipped(const char *name)
{
	static const char *const skip[] = {
	    "connection",
	    "keep-alive",
	    "proxy-connection",
	    "te",
	    "trailer",
	    "transfer-encoding",
	    "upgrade",
	    "content-length",
	    "expect",
	    "x-request-id",
	    "proxy-authorization",
	};
	for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
		if (strcasecmp(name, skip[i]) == 0)
			return true;
	return false;
}

/* The client's headers that travel on, and ours, as "Name: value\r\n"
 * lines.  Returns the length, or -1 when they do not fit. */
static int proxy_headers(const struct mg_request_info *ri,
                         unsigned long long key, size_t body_len, char *buf,
                         size_t cap, bool *has_host)
{
	const char *m = ri->request_method;
	/* The body was read whole (civetweb undoes a client's chunking), so
	 * it travels with a plain length; methods that carry a body always
	 * say how long it is, even when empty. */
	bool say_length = body_len > 0 || strcmp(m, "POST") == 0 ||
	                  strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0;
	size_t off = 0;
	int n;

	*has_host = false;
	for (int i = 0; i < ri->num_headers; i++) {
		const struct mg_header *h = &ri->http_headers[i];
		if (header_skipped(h->name))
			continue;
		*has_host |= strcasecmp(h->name, "host") == 0;
		n = snprintf(buf + off, cap - off, "%s: %s\r\n", h->name,
		             h->value);
		if (n < 0 || (size_t)n >= cap - off)
			return -1;
		off += (size_t)n;
	}
	if (say_length)
		n = snprintf(buf + off, cap - off,
		             "X-Request-ID: %llu\r\nX-Forwarded-For: %s\r\n"
		             "Content-Length: %zu\r\n\r\n",
		             key, ri->remote_addr, body_len);
	else
		n = snprintf(
		    buf + off, cap - off,
		    "X-Request-ID: %llu\r\nX-Forwarded-For: %s\r\n\r\n", key,
		    ri->remote_addr);
	if (n < 0 || (size_t)n >= cap - off)
		return -1;
	return (int)(off + (size_t)n);
}

/* Sends the replica's answer on to the client. */
static void proxy_reply(struct mg_connection *c, const char *method,
                        const char *path, struct dp_upstream_resp *r)
{
	if (r->status == 404) {
		/* The assignment's rule: a path no replica serves is the
		 * client's mistake. */
		lb_http_send_error(
		    c, 400, NULL,
		    "'%.1024s' endpoint does not exist in server "
		    "replicas",
		    path);
		return;
	}
	if (strcmp(method, "HEAD") == 0) {
		/* The length describes the body a GET would get. */
		lb_http_send_head(c, r->status, NULL,
		                  r->content_length[0] ? r->content_length
		                                       : "0",
		                  r->hlen ? r->headers : NULL, NULL, 0);
		return;
	}
	lb_http_send(c, r->status, NULL, r->body, r->len,
	             r->hlen ? r->headers : NULL);
}

int dp_proxy_handle(struct mg_connection *c, void *data)
{
	struct dp *dp = data;
	const struct mg_request_info *ri = mg_get_request_info(c);
	const char *path = ri->local_uri_raw;
	unsigned long long key = lb_rand_range(100000, 999999);
	struct dp_upstream_req req;
	struct dp_upstream_resp resp;
	struct dp_table *t = NULL;
	uint32_t tried[PROXY_MAX_TRIES], pos = 0, id;
	size_t ntried = 0, body_len = 0;
	char *body = NULL, err[256] = "";
	char headers[PROXY_HEAD_MAX], target[PROXY_HEAD_MAX];
	int status = 502, rv, hlen, tlen;
	bool has_host, busy = false;
	bool idem = method_idempotent(ri->request_method);

	if (!path || path[0] != '/') {
		lb_http_send_error(c, 400, NULL, "Bad request target");
		return 400;
	}
	rv = lb_http_read_body(c, (size_t)dp->cfg.max_body, &body, &body_len);
	if (rv == LB_ERR_TOOBIG) {
		lb_http_close_after(c);
		lb_http_send_error(c, 413, NULL,
		                   "Request body is over %lld bytes",
		                   dp->cfg.max_body);
		return 413;
	}
	if (rv != 0) {
		lb_http_close_after(c);
		lb_http_send_error(c, 400, NULL,
		                   "Could not read the request body");
		return 400;
	}
	t = dp_router_acquire(&dp->router);
	if (!t || (id = lb_ring_lookup(t->ring, key, &pos)) == 0) {
		lb_http_send_error(c, 503, NULL,
		                   "No server replicas available");
		status = 503;
		goto out;
	}
	hlen = proxy_headers(ri, key, body_len, headers, sizeof(headers),
	                     &has_host);
	tlen = snprintf(target, sizeof(target), "%s%s%s", path,
	                ri->query_string ? "?" : "",
	                ri->query_string ? ri->query_string : "");
	if (hlen < 0 || tlen < 0 || (size_t)tlen >= sizeof(target)) {
		lb_http_close_after(c);
		lb_http_send_error(c, 431, NULL, "Request head too large");
		status = 431;
		goto out;
	}
	memset(&req, 0, sizeof(req));
	req.method = ri->request_method;
	req.target = target;
	req.headers = headers;
	req.headers_len = (size_t)hlen;
	req.has_host = has_host;
	req.body = body;
	req.body_len = body_len;
	req.connect_timeout_ms = (long)dp->cfg.connect_timeout_ms;
	req.timeout_ms = (long)dp->cfg.upstream_timeout_ms;
	req.max_body = (size_t)dp->cfg.max_body;

	/* An ejected replica (it refused a connection a moment ago) is passed
	 * over while another is available; when all are, each is tried. */
	for (int round = 0, attempts = 0;
	     status == 502 && (round == 0 || (round == 1 && attempts == 0));
	     round++) {
		ntried = 0;
		id = lb_ring_lookup(t->ring, key, &pos);
		while (id != 0 && ntried < PROXY_MAX_TRIES) {
			struct dp_backend *b = dp_table_backend(t, id);
			enum dp_upstream_result ur;
			tried[ntried++] = id;
			if (!b)
				goto next;
			if (round == 0 &&
			    atomic_load(&b->ejected_until) > lb_now_ms())
				goto next;
			attempts++;
			req.backend = b->up;
			ur = dp_upstream_do(&req, &resp, err, sizeof(err));
			if (ur == DP_UP_OK) {
				proxy_reply(c, ri->request_method, path, &resp);
				status =
				    resp.status == 404 ? 400 : (int)resp.status;
				dp_upstream_resp_fini(&resp);
				goto out;
			}
			dp_upstream_resp_fini(&resp);
			lb_log(LB_WARN, "upstream_failed",
			       "replica=%s result=%d reason=\"%s\" "
			       "request_id=%llu",
			       b->name, (int)ur, err, key);
			busy = ur == DP_UP_BUSY;
			if (ur == DP_UP_CONNECT) {
				atomic_store(&b->ejected_until,
				             lb_now_ms() + dp->cfg.eject_ms);
			} else if (busy) {
				/* Not sent: the next replica may have room. */
			} else if (!(ur == DP_UP_BROKEN && idem)) {
				/* Not safe (or not useful) to send again. */
				status = ur == DP_UP_TIMEOUT ? 504 : 502;
				round = 2;
				break;
			}
		next:
			id =
			    lb_ring_next_distinct(t->ring, &pos, tried, ntried);
		}
	}
	if (status == 504) {
		lb_http_send_error(c, 504, NULL,
		                   "Replica did not answer in time (%s)", err);
	} else if (busy) {
		status = 503;
		lb_http_send_error(c, 503, "Retry-After: 1\r\n",
		                   "Replicas are busy (%s)", err);
	} else {
		lb_http_send_error(c, 502, NULL,
		                   "No replica could serve the request "
		                   "(last error: %s)",
		                   err[0] ? err : "none reachable");
	}
out:
	dp_table_release(t);
	free(body);
	return status;
}
