#include "dp_front.h"

#include "dp.h"
#include "dp_admin.h"
#include "dp_proxy.h"
#include "dp_redirect.h"
#include "lb_http.h"
#include "lb_http_send.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static int front_request(struct mg_connection *c, struct dp *dp);
static int front_redirect(struct mg_connection *c, struct dp *dp);

int dp_front_begin_request(struct mg_connection *c, void *user)
{
	struct dp *dp = user;
	int status;

	atomic_fetch_add(&dp->serving, 1);
	/* Stopping: this answer is the connection's last. */
	if (atomic_load(&dp->stopping))
		lb_http_close_after(c);
	status = front_request(c, dp);
	atomic_fetch_sub(&dp->serving, 1);
	return status;
}

static int front_request(struct mg_connection *c, struct dp *dp)
{
	const char *up = mg_get_header(c, "Upgrade");
	int status;

	if (!dp_conns_admit(&dp->conns, c)) {
		lb_http_close_after(c);
		lb_http_send_error(c, 503, "Retry-After: 1\r\n",
		                   "Too many connections from this address "
		                   "(LB_MAX_CONNS_PER_IP=%d)",
		                   dp->conns.max_per_ip);
		return 503;
	}
	/* Workers run short: this connection gives its worker back after the
	 * answer instead of idling on it. */
	if (dp_conns_short(&dp->conns))
		lb_http_close_after(c);
	/* civetweb hands WebSocket upgrades only to WebSocket handlers, and
	 * its client side cannot carry the client's headers (docs/design.md,
	 * "WebSocket"): refused here, before civetweb's own routing. */
	if (up && strcasecmp(up, "websocket") == 0) {
		lb_http_close_after(c);
		lb_http_send_error(c, 501, NULL,
		                   "WebSocket is not proxied by this load "
		                   "balancer");
		return 501;
	}
	if (dp->cfg.http_redirect && !mg_get_request_info(c)->is_ssl)
		return front_redirect(c, dp);
	if ((status = dp_admin_handle(c, dp)) != 0)
		return status;
	return dp_proxy_handle(c, dp);
}

/* Plain HTTP with LB_HTTP_REDIRECT=1: 308 to the same URL over HTTPS (the
 * method and body stay the client's to send again).  The operator's own
 * /rep, /add and /rm (from LB_ADMIN_ALLOW) are served here instead, so
 * that local scripts keep working. */
static int front_redirect(struct mg_connection *c, struct dp *dp)
{
	const struct mg_request_info *ri = mg_get_request_info(c);
	const char *host = mg_get_header(c, "Host");
	char loc[DP_REDIRECT_MAX], field[DP_REDIRECT_MAX + 16];
	int n;

	if (dp_admin_path(ri->local_uri_raw) && dp_admin_from_operator(c, dp))
		return dp_admin_handle(c, dp);
	/* The client goes elsewhere: whatever body it sent stays unread. */
	lb_http_close_after(c);
	n = host ? dp_redirect_location(
	               host, ri->local_uri_raw, ri->query_string,
	               dp->cfg.tls_public_port, loc, sizeof(loc))
	         : -1;
	if (n < 0) {
		lb_http_send_error(c, 400, NULL,
		                   "This port redirects to HTTPS, which needs "
		                   "a Host field with a name or address and a "
		                   "target of at most %d bytes",
		                   DP_REDIRECT_MAX);
		return 400;
	}
	snprintf(field, sizeof(field), "Location: %s\r\n", loc);
	lb_http_send_error(c, 308, field, "Use HTTPS (see Location)");
	return 308;
}

void dp_front_conn_open(struct mg_connection *c, void *user)
{
	(void)c;
	dp_conns_open(&((struct dp *)user)->conns);
}

void dp_front_conn_close(const struct mg_connection *c, void *user)
{
	(void)c;
	dp_conns_close(&((struct dp *)user)->conns);
}
