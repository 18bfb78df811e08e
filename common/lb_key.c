#include "lb_key.h"

#include "lb_err.h"
#include "lb_http.h"
#include "lb_rand.h"
#include "lb_http_token.h"

#include <stdio.h>
#include <string.h>
#include <xxhash.h>

static const struct {
	const char *prefix;
	enum lb_key_kind kind;
	bool named;
} key_kinds[] = {
    {"request-id", LB_KEY_REQUEST_ID, false},
    {"ip", LB_KEY_IP, false},
    {"path", LB_KEY_PATH, false},
    {"header:", LB_KEY_HEADER, true},
    {"cookie:", LB_KEY_COOKIE, true},
    {"query:", LB_KEY_QUERY, true},
};

/* A header or cookie name: an RFC 9110 token.  A query parameter name may
 * hold anything but the query's own separators. */
static bool name_ok(enum lb_key_kind kind, const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > LB_KEY_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (kind == LB_KEY_QUERY) {
			if (c <= ' ' || c >= 0x7f || strchr("&=#?", c))
				return false;
		} else if (!lb_http_token_char(c)) {
			return false;
		}
	}
	return true;
}

int lb_key_parse(const char *s, struct lb_key *out, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(key_kinds) / sizeof(key_kinds[0]); i++) {
		size_t pl = strlen(key_kinds[i].prefix);
		const char *name = s + pl;
		if (!key_kinds[i].named) {
			if (strcmp(s, key_kinds[i].prefix) != 0)
				continue;
			memset(out, 0, sizeof(*out));
			out->kind = key_kinds[i].kind;
			return 0;
		}
		if (strncmp(s, key_kinds[i].prefix, pl) != 0)
			continue;
		if (!name_ok(key_kinds[i].kind, name)) {
			snprintf(
			    err, errlen,
			    "'%s' needs a name after '%s' (1..%d characters "
			    "of a token)",
			    s, key_kinds[i].prefix, LB_KEY_NAME_MAX);
			return LB_ERR_INVAL;
		}
		memset(out, 0, sizeof(*out));
		out->kind = key_kinds[i].kind;
		snprintf(out->name, sizeof(out->name), "%s", name);
		return 0;
	}
	snprintf(err, errlen,
	         "'%s' must be request-id, ip, path, header:<Name>, "
	         "cookie:<name> or query:<name>",
	         s);
	return LB_ERR_INVAL;
}

void lb_key_format(const struct lb_key *k, char *buf, size_t len)
{
	for (size_t i = 0; i < sizeof(key_kinds) / sizeof(key_kinds[0]); i++)
		if (key_kinds[i].kind == k->kind) {
			snprintf(buf, len, "%s%s", key_kinds[i].prefix,
			         key_kinds[i].named ? k->name : "");
			return;
		}
	snprintf(buf, len, "?");
}

int lb_key_routing_check(const struct lb_routing *r, char *err, size_t errlen)
{
	double f = r->balance_factor;

	if (!(f == 0 || (f >= 1.0 && f <= LB_BALANCE_FACTOR_MAX))) {
		snprintf(err, errlen,
		         "LB_BALANCE_FACTOR=%g: must be 0 (off) or between 1 "
		         "and %g",
		         f, LB_BALANCE_FACTOR_MAX);
		return LB_ERR_INVAL;
	}
	if (r->set_cookie && r->key.kind != LB_KEY_COOKIE) {
		snprintf(err, errlen,
		         "LB_SET_COOKIE=1 needs LB_KEY=cookie:<name>");
		return LB_ERR_INVAL;
	}
	return 0;
}

uint64_t lb_key_hash(const struct lb_preset *p, const char *s, size_t len)
{
	uint64_t h = XXH3_64bits(s, len);
	/* The assignment's H is meant for 6-digit request ids. */
	if (p->hash == LB_HASH_QUADRATIC)
		return 100000 + h % 900000;
	return h;
}

uint64_t lb_key_random_id(void)
{
	return lb_rand_range(100000, 999999);
}
