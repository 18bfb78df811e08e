#define _GNU_SOURCE /* memmem */
#include "dp_admin.h"

#include "dp.h"
#include "lb_err.h"
#include "lb_http.h"
#include "lb_log.h"
#include "lb_rand.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Admin bodies are small; a larger one is refused before parsing. */
#define ADMIN_MAX_BODY (64 * 1024)
/* Far above any sane replica count, far below where a double loses
 * integers; the control plane applies the real maximum. */
#define ADMIN_MAX_N 1e9

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

/* Constant-time comparison, so the token cannot be guessed by timing. */
static bool token_ok(const char *want, const char *header)
{
	const char *got;
	size_t wl = strlen(want), gl;
	unsigned char diff = 0;

	if (!header || strncmp(header, "Bearer ", 7) != 0)
		return false;
	got = header + 7;
	gl = strlen(got);
	for (size_t i = 0; i < wl; i++)
		diff |= (unsigned char)want[i] ^
		        (unsigned char)(i < gl ? got[i] : 0);
	return diff == 0 && gl == wl;
}

/* Admin bodies are two levels deep.  cJSON parses recursively, up to 1000
 * levels: enough to overflow a worker thread's stack.  Deeper bodies are
 * refused before cJSON sees them. */
#define ADMIN_MAX_DEPTH 16

static bool json_too_deep(const char *p, size_t len)
{
	int depth = 0;
	bool in_str = false;
	for (size_t i = 0; i < len; i++) {
		char ch = p[i];
		if (in_str) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				in_str = false;
		} else if (ch == '"') {
			in_str = true;
		} else if (ch == '[' || ch == '{') {
			if (++depth > ADMIN_MAX_DEPTH)
				return true;
		} else if (ch == ']' || ch == '}') {
			depth--;
		}
	}
	return false;
}

/* Parses {"n": int >= 1, "hostnames": [string, ...]} into req.  On failure
 * writes the client's mistake to err. */
static int admin_parse(const char *body, size_t len, Lb__AdminRequest *req,
                       char *err, size_t errlen)
{
	cJSON *root, *n, *hosts, *h;
	size_t count = 0;
	int rv = LB_ERR_INVAL;

	/* cJSON turns "\u0000" into a NUL that ends the C string: "S\u0000x"
	 * would become the valid name "S".  No admin body needs a NUL. */
	if (memchr(body, '\0', len) || memmem(body, len, "\\u0000", 6)) {
		snprintf(err, errlen,
		         "Request body must not contain NUL "
		         "characters");
		return LB_ERR_INVAL;
	}
	if (json_too_deep(body, len)) {
		snprintf(err, errlen,
		         "Request body must be a JSON object (nested "
		         "at most %d deep)",
		         ADMIN_MAX_DEPTH);
		return LB_ERR_INVAL;
	}
	root = cJSON_ParseWithLength(body, len);
	if (!root || !cJSON_IsObject(root)) {
		snprintf(err, errlen, "Request body must be a JSON object");
		goto out;
	}
	n = cJSON_GetObjectItemCaseSensitive(root, "n");
	if (!n) {
		snprintf(err, errlen, "'n' is missing");
		goto out;
	}
	if (!cJSON_IsNumber(n) || !isfinite(n->valuedouble) ||
	    n->valuedouble != floor(n->valuedouble)) {
		snprintf(err, errlen, "'n' must be an integer");
		goto out;
	}
	if (n->valuedouble < 1) {
		snprintf(err, errlen, "'n' must be at least 1");
		goto out;
	}
	if (n->valuedouble > ADMIN_MAX_N) {
		snprintf(err, errlen, "'n' is too large");
		goto out;
	}
	req->has_n = 1;
	req->n = (uint64_t)n->valuedouble;
	hosts = cJSON_GetObjectItemCaseSensitive(root, "hostnames");
	if (hosts && !cJSON_IsNull(hosts)) {
		if (!cJSON_IsArray(hosts)) {
			snprintf(err, errlen,
			         "'hostnames' must be an array of strings");
			goto out;
		}
		cJSON_ArrayForEach(h, hosts)
		{
			if (!cJSON_IsString(h)) {
				snprintf(err, errlen,
				         "'hostnames' must be an "
				         "array of strings");
				goto out;
			}
			count++;
		}
	}
	if (count) {
		req->hostnames = calloc(count, sizeof(char *));
		if (!req->hostnames) {
			snprintf(err, errlen, "Out of memory");
			rv = LB_ERR_NOMEM;
			goto out;
		}
		cJSON_ArrayForEach(h, hosts)
		{
			if (!(req->hostnames[req->n_hostnames] =
			          strdup(h->valuestring))) {
				rv = LB_ERR_NOMEM;
				goto out;
			}
			req->n_hostnames++;
		}
	}
	rv = 0;
out:
	cJSON_Delete(root);
	return rv;
}

static void admin_request_fini(Lb__AdminRequest *req)
{
	for (size_t i = 0; i < req->n_hostnames; i++)
		free(req->hostnames[i]);
	free(req->hostnames);
}

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

static int admin_handle(struct mg_connection *c, void *data)
{
	struct dp *dp = data;
	const struct mg_request_info *ri = mg_get_request_info(c);
	const struct admin_route *route = NULL;
	Lb__AdminRequest req = LB__ADMIN_REQUEST__INIT;
	Lb__AdminReply *reply = NULL;
	char err[512], allow[64], *body = NULL;
	size_t len = 0;
	int rv, status;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (strcmp(ri->local_uri_raw, routes[i].path) == 0)
			route = &routes[i];
	if (!route)
		return 0; /* "/rep/x": not ours, the proxy takes it */
	if (strcmp(ri->request_method, route->method) != 0) {
		snprintf(allow, sizeof(allow), "Allow: %s\r\n", route->method);
		lb_http_send_error(
		    c, 405, allow, "Method %.16s is not allowed on %s; use %s",
		    ri->request_method, route->path, route->method);
		return 405;
	}
	if (route->needs_token && dp->cfg.admin_token[0] &&
	    !token_ok(dp->cfg.admin_token, mg_get_header(c, "Authorization"))) {
		lb_http_send_error(c, 401, "WWW-Authenticate: Bearer\r\n",
		                   "Missing or wrong admin token");
		return 401;
	}
	req.op = route->op;
	req.request_id = lb_rand_u64();
	if (route->has_body) {
		rv = lb_http_read_body(c, ADMIN_MAX_BODY, &body, &len);
		if (rv == LB_ERR_TOOBIG) {
			lb_http_send_error(c, 413, "Connection: close\r\n",
			                   "Request body is over %d bytes",
			                   ADMIN_MAX_BODY);
			return 413;
		}
		if (rv != 0 || admin_parse(body, len, &req, err, sizeof(err))) {
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
	admin_request_fini(&req);
	free(body);
	return status;
}

void dp_admin_register(struct mg_context *ctx, void *data)
{
	mg_set_request_handler(ctx, "/rep$", admin_handle, data);
	mg_set_request_handler(ctx, "/add$", admin_handle, data);
	mg_set_request_handler(ctx, "/rm$", admin_handle, data);
}
