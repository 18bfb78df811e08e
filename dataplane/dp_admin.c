#include "dp_admin.h"

#include "dp.h"
#include "dp_admin_body.h"
#include "dp_key.h"
#include "lb_err.h"
#include "lb_guard.h"
#include "lb_http.h"
#include "lb_log.h"
#include "lb_rand.h"
#include "lb_http_auth.h"
#include "lb_http_body.h"
#include "lb_http_send.h"
#include "dp_router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Admin bodies are small; a larger one is refused before parsing. */
#define ADMIN_MAX_BODY (64 * 1024)

struct admin_route {
	const char *path;
	const char *method;
	Lb__AdminRequest__Op op;
	bool needs_token;
	bool has_body;
};

static const struct admin_route routes[] = {
    {"/rep", "GET", LB__ADMIN_REQUEST__OP__LIST, false, false},
    {"/add", "POST", LB__ADMIN_REQUEST__OP__ADD, true, true},
    {"/rm", "DELETE", LB__ADMIN_REQUEST__OP__REMOVE, true, true},
};

/* {"message": {"N": 3, "replicas": [...]}, "status": "successful"} */
static void admin_send_list(struct mg_connection *c, const Lb__AdminReply *r)
{
	cJSON *msg = cJSON_CreateObject(), *arr;
	if (!msg) {
		lb_http_send_error(c, 500, NULL, "Out of memory");
		return;
	}
	cJSON_AddNumberToObject(msg, "N", (double)r->n_replicas);
	arr = cJSON_AddArrayToObject(msg, "replicas");
	for (size_t i = 0; arr && i < r->n_replicas; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(r->replicas[i]));
	lb_http_send_json(c, 200, msg, true, NULL);
}

/* True when the client is in LB_ADMIN_ALLOW (with answer, a client that
 * is not is answered 403 here).  The client is the peer, or behind a
 * trusted proxy (LB_TRUST_FORWARDED=1, LB_TRUSTED_PROXIES) the client it
 * names, so that a proxy on this host does not make every client the
 * operator. */
static bool admin_client_check(struct mg_connection *c, struct dp *dp,
                               bool answer)
{
	struct dp_table *t = dp_router_acquire(&dp->router);
	const char *addr = mg_get_request_info(c)->remote_addr;
	size_t len = strlen(addr);
	bool ok;

	if (t)
		dp_key_client(c, &t->routing, &dp->cfg.trusted, &addr, &len);
	ok = answer ? !lb_guard_addr_refused(c, &dp->cfg.admin_from,
	                                     "LB_ADMIN_ALLOW", addr, len)
	            : lb_cidrs_match(&dp->cfg.admin_from, addr, len);
	dp_table_release(t);
	return ok;
}

bool dp_admin_from_operator(struct mg_connection *c, struct dp *dp)
{
	return admin_client_check(c, dp, false);
}

static const struct admin_route *admin_route_of(const char *path)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (strcmp(path, routes[i].path) == 0)
			return &routes[i];
	return NULL;
}

bool dp_admin_path(const char *path)
{
	return admin_route_of(path) != NULL;
}

int dp_admin_handle(struct mg_connection *c, struct dp *dp)
{
	const struct mg_request_info *ri = mg_get_request_info(c);
	const struct admin_route *route = admin_route_of(ri->local_uri_raw);
	Lb__AdminRequest req = LB__ADMIN_REQUEST__INIT;
	Lb__AdminReply *reply = NULL;
	char err[512], allow[64], *body = NULL;
	size_t len = 0;
	int rv, status;

	if (!route)
		return 0; /* "/rep/x": not ours, the proxy takes it */
	if (strcmp(ri->request_method, route->method) != 0) {
		snprintf(allow, sizeof(allow), "Allow: %s\r\n", route->method);
		lb_http_send_error(
		    c, 405, allow, "Method %.16s is not allowed on %s; use %s",
		    ri->request_method, route->path, route->method);
		return 405;
	}
	/* Changes are the operator's: from an allowed address, not through
	 * a page of another site, with the token when one is set. */
	if (route->needs_token) {
		if (!admin_client_check(c, dp, true) ||
		    lb_guard_cross_site_refused(c))
			return 403;
		if (lb_http_auth_refused(c, dp->cfg.admin_token, false))
			return 401;
	}
	req.op = route->op;
	req.request_id = lb_rand_u64();
	if (route->has_body) {
		rv = lb_http_body_read(c, ADMIN_MAX_BODY, &body, &len);
		if (rv == LB_ERR_TOOBIG) {
			lb_http_close_after(c);
			lb_http_send_error(c, 413, NULL,
			                   "Request body is over %d bytes",
			                   ADMIN_MAX_BODY);
			return 413;
		}
		if (rv != 0 ||
		    dp_admin_body_parse(body, len, &req, err, sizeof(err))) {
			if (rv != 0)
				snprintf(err, sizeof(err),
				         "Could not read the request body");
			lb_http_send_error(c, 400, NULL, "%s", err);
			status = 400;
			goto out;
		}
	}
	rv = dp_cpclient_call(&dp->cpclient, &req,
	                      route->has_body ? dp->cfg.admin_timeout_ms : 5000,
	                      &reply, err, sizeof(err));
	if (rv != 0) {
		lb_log(LB_WARN, "control_plane_unavailable", "reason=\"%s\"",
		       err);
		status = rv == LB_ERR_TIMEOUT ? 504 : 503;
		lb_http_send_error(c, status, NULL,
		                   "Control plane unavailable: %s", err);
		goto out;
	}
	status = (int)reply->status;
	if (status == 200)
		admin_send_list(c, reply);
	else
		lb_http_send_json(c, status,
		                  cJSON_CreateString(reply->error
		                                         ? reply->error
		                                         : "<Error> unknown"),
		                  false, NULL);
out:
	if (reply)
		lb__admin_reply__free_unpacked(reply, NULL);
	dp_admin_body_fini(&req);
	free(body);
	return status;
}
