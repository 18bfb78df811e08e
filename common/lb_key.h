/* lb_key.h - what a request is hashed by (LB_KEY), and how a key becomes
 * the integer that a preset's hash H takes.
 *
 *   request-id      a random 6-digit id per request (the assignment's
 *                   model, and the default): no affinity at all
 *   ip              the client's address (with trust_forwarded, the first
 *                   address of X-Forwarded-For)
 *   header:<Name>   a request header's value
 *   cookie:<name>   a cookie's value
 *   query:<name>    a query parameter's value
 *   path            the path, without its query
 *
 * A key is a string; it is hashed with XXH3 (64 bits) and mapped into the
 * preset's key space, so that the preset's H applies as it does to request
 * ids: the assignment's quadratic H expects 6-digit ids, so keys become one
 * of them (100000 + h mod 900000); the `mix` hash takes all 64 bits.
 */
#ifndef LB_KEY_H
#define LB_KEY_H

#include "lb_preset.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum lb_key_kind {
	LB_KEY_REQUEST_ID,
	LB_KEY_IP,
	LB_KEY_HEADER,
	LB_KEY_COOKIE,
	LB_KEY_QUERY,
	LB_KEY_PATH,
};

#define LB_KEY_NAME_MAX 64

struct lb_key {
	enum lb_key_kind kind;
	char name[LB_KEY_NAME_MAX + 1]; /* the header, cookie or parameter */
};

/* How requests are routed, beyond the preset: the key, bounded loads
 * (0: off; else at least 1), where "ip" is read, and the sticky cookie. */
struct lb_routing {
	struct lb_key key;
	double balance_factor;
	bool trust_forwarded;
	bool set_cookie;
	uint32_t slow_start_ms; /* a new replica's share ramps up (0: off) */
};

#define LB_BALANCE_FACTOR_MAX 100.0

/* Checks a routing's fields together (a factor of 0 or 1..100; a sticky
 * cookie only with a cookie key).  Returns 0 or LB_ERR_INVAL with the
 * reason in err. */
int lb_key_routing_check(const struct lb_routing *r, char *err, size_t errlen);

/* Parses an LB_KEY value.  Returns 0, or LB_ERR_INVAL with the reason in
 * err ("must be request-id, ip, path, header:<Name>, ..."). */
int lb_key_parse(const char *s, struct lb_key *out, char *err, size_t errlen);

/* Writes the key's text form ("header:X-User") to buf. */
void lb_key_format(const struct lb_key *k, char *buf, size_t len);

/* The integer that the preset's H takes for the key string s[0..len). */
uint64_t lb_key_hash(const struct lb_preset *p, const char *s, size_t len);

/* A random request id (100000..999999), the key when there is no other. */
uint64_t lb_key_random_id(void);

#endif
