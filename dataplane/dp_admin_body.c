#define _GNU_SOURCE /* memmem */
#include "dp_admin_body.h"

#include "lb_err.h"
#include "lb_ring.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Far above any sane replica count, far below where a double loses
 * integers; the control plane applies the real maximum. */
#define ADMIN_MAX_N 1e9

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

/* The optional "weight" of /add: an integer 1..LB_WEIGHT_MAX. */
static bool body_weight(const cJSON *root, Lb__AdminRequest *req, char *err,
                        size_t errlen)
{
	const cJSON *w = cJSON_GetObjectItemCaseSensitive(root, "weight");

	if (!w || cJSON_IsNull(w))
		return true;
	if (!cJSON_IsNumber(w) || !isfinite(w->valuedouble) ||
	    w->valuedouble != floor(w->valuedouble) || w->valuedouble < 1 ||
	    w->valuedouble > LB_WEIGHT_MAX) {
		snprintf(err, errlen,
		         "'weight' must be an integer from 1 to %d",
		         LB_WEIGHT_MAX);
		return false;
	}
	req->has_weight = 1;
	req->weight = (uint32_t)w->valuedouble;
	return true;
}

/* Parses {"n": int >= 1, "hostnames": [string, ...], "weight": 1..100}
 * into req.  On failure
 * writes the client's mistake to err. */
int dp_admin_body_parse(const char *body, size_t len, Lb__AdminRequest *req,
                        char *err, size_t errlen)
{
	cJSON *root, *n, *hosts, *h;
	size_t count = 0;
	int rv = LB_ERR_INVAL;

	if (!body) { /* an empty request body */
		body = "";
		len = 0;
	}
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
	if (!body_weight(root, req, err, errlen))
		goto out;
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

void dp_admin_body_fini(Lb__AdminRequest *req)
{
	for (size_t i = 0; i < req->n_hostnames; i++)
		free(req->hostnames[i]);
	free(req->hostnames);
}
