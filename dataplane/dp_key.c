#include "dp_key.h"

#include "lb_rand.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Cookie and query keys are read (decoded) into a buffer this long; a
 * longer one is not read, and the request falls back to a random id
 * (counted).  Header, address and path keys are hashed whole. */
#define KEY_MAX 1024

/* The right-most hop of value[0..*end) (trimmed, maybe empty); *end
 * moves to the comma before it, or to 0. */
static void key_last_hop(const char *value, size_t *end, const char **s,
                         size_t *len)
{
	size_t e = *end, b = e;

	while (b > 0 && value[b - 1] != ',')
		b--;
	*end = b > 0 ? b - 1 : 0;
	while (b < e && (value[b] == ' ' || value[b] == '\t'))
		b++;
	while (e > b && (value[e - 1] == ' ' || value[e - 1] == '\t'))
		e--;
	*s = value + b;
	*len = e - b;
}

void dp_key_forwarded_client(const char *const *values, size_t nvalues,
                             const char *peer, const struct lb_cidrs *trusted,
                             const char **s, size_t *len)
{
	*s = peer;
	*len = strlen(peer);
	if (!lb_cidrs_match(trusted, *s, *len))
		return;
	for (size_t i = nvalues; i-- > 0;) {
		size_t end = strlen(values[i]);
		while (end > 0) {
			const char *hop;
			size_t hlen;
			key_last_hop(values[i], &end, &hop, &hlen);
			if (hlen == 0)
				continue;
			*s = hop;
			*len = hlen;
			if (!lb_cidrs_match(trusted, hop, hlen))
				return;
		}
	}
}

void dp_key_client(struct mg_connection *c, const struct lb_routing *r,
                   const struct lb_cidrs *trusted, const char **s, size_t *len)
{
	const struct mg_request_info *ri = mg_get_request_info(c);
	const char *values[MG_MAX_HEADERS];
	size_t n = 0;

	if (r->trust_forwarded)
		for (int i = 0; i < ri->num_headers; i++)
			if (strcasecmp(ri->http_headers[i].name,
			               "X-Forwarded-For") == 0)
				values[n++] = ri->http_headers[i].value;
	dp_key_forwarded_client(values, n, ri->remote_addr, trusted, s, len);
}

/* The key's text for the request; false when the request has none. */
static bool key_text(struct mg_connection *c, const struct lb_routing *r,
                     const struct lb_cidrs *trusted, char *buf, const char **s,
                     size_t *len)
{
	const struct mg_request_info *ri = mg_get_request_info(c);
	const char *v;
	int n;

	switch (r->key.kind) {
	case LB_KEY_IP:
		dp_key_client(c, r, trusted, s, len);
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
               const struct lb_preset *p, const struct lb_cidrs *trusted,
               struct dp_key *out)
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
	if (key_text(c, r, trusted, buf, &s, &len)) {
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
