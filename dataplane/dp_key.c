#include "dp_key.h"

#include "lb_rand.h"

#include <stdio.h>
#include <string.h>

/* Cookie and query keys are read (decoded) into a buffer this long; a
 * longer one is not read, and the request falls back to a random id
 * (counted).  Header, address and path keys are hashed whole. */
#define KEY_MAX 1024

/* The first address of X-Forwarded-For ("client, proxy1, proxy2"). */
static bool forwarded_for(struct mg_connection *c, const char **s, size_t *len)
{
	const char *v = mg_get_header(c, "X-Forwarded-For"), *end;

	if (!v)
		return false;
	while (*v == ' ' || *v == '\t')
		v++;
	end = v + strcspn(v, ", \t");
	if (end == v)
		return false;
	*s = v;
	*len = (size_t)(end - v);
	return true;
}

/* The key's text for the request; false when the request has none. */
static bool key_text(struct mg_connection *c, const struct lb_routing *r,
                     char *buf, const char **s, size_t *len)
{
	const struct mg_request_info *ri = mg_get_request_info(c);
	const char *v;
	int n;

	switch (r->key.kind) {
	case LB_KEY_IP:
		if (r->trust_forwarded && forwarded_for(c, s, len))
			return true;
		*s = ri->remote_addr;
		*len = strlen(ri->remote_addr);
		return true;
	case LB_KEY_HEADER:
		if (!(v = mg_get_header(c, r->key.name)) || !*v)
			return false;
		*s = v;
		*len = strlen(v);
		return true;
	case LB_KEY_COOKIE:
		n = mg_get_cookie(mg_get_header(c, "Cookie"), r->key.name, buf,
		                  KEY_MAX);
		break;
	case LB_KEY_QUERY:
		if (!ri->query_string)
			return false;
		n = mg_get_var(ri->query_string, strlen(ri->query_string),
		               r->key.name, buf, KEY_MAX);
		break;
	case LB_KEY_PATH:
		*s = ri->local_uri_raw;
		*len = strlen(ri->local_uri_raw);
		return true;
	default:
		return false;
	}
	if (n <= 0)
		return false; /* absent, empty, or too long to read */
	*s = buf;
	*len = (size_t)n;
	return true;
}

void dp_key_of(struct mg_connection *c, const struct lb_routing *r,
               const struct lb_preset *p, struct dp_key *out)
{
	char buf[KEY_MAX];
	const char *s;
	size_t len;

	out->fallback = false;
	out->cookie[0] = '\0';
	if (r->key.kind == LB_KEY_REQUEST_ID) {
		out->value = lb_key_random_id();
		return;
	}
	if (key_text(c, r, buf, &s, &len)) {
		out->value = lb_key_hash(p, s, len);
		return;
	}
	if (r->key.kind == LB_KEY_COOKIE && r->set_cookie) {
		/* A new client: it gets a cookie, and this request already
		 * routes by it, so the next ones land where this one does. */
		snprintf(out->cookie, sizeof(out->cookie), "%016llx%016llx",
		         (unsigned long long)lb_rand_u64(),
		         (unsigned long long)lb_rand_u64());
		out->value = lb_key_hash(p, out->cookie, strlen(out->cookie));
		return;
	}
	out->fallback = true;
	out->value = lb_key_random_id();
}
