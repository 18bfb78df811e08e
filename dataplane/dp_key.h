/* dp_key.h - a request's routing key (LB_KEY, carried in the snapshot):
 * read from the request with civetweb's own header, cookie and query
 * parsers, hashed into the preset's key space (lb_key.h).
 */
#ifndef DP_KEY_H
#define DP_KEY_H

#include "lb_cidr.h"
#include "lb_key.h"

#include <civetweb.h>

#include <stdbool.h>
#include <stdint.h>

/* What dp_key_of() found. */
struct dp_key {
	uint64_t value;  /* what the ring hashes */
	bool fallback;   /* the request lacked its key: a random id */
	char cookie[40]; /* a sticky cookie to set ("" when none) */
};

/* The key of the request under routing r and preset p; trusted lists the
 * proxies whose X-Forwarded-For is believed (with r->trust_forwarded). */
void dp_key_of(struct mg_connection *c, const struct lb_routing *r,
               const struct lb_preset *p, const struct lb_cidrs *trusted,
               struct dp_key *out);

/* The client's address: the peer, or with r->trust_forwarded the
 * right-most X-Forwarded-For hop that is not a trusted proxy (below).
 * *s, *len point into the request. */
void dp_key_client(struct mg_connection *c, const struct lb_routing *r,
                   const struct lb_cidrs *trusted, const char **s, size_t *len);

/* The client's address by X-Forwarded-For: the hops are the values'
 * comma-separated addresses in order (values[0] first), then peer, the
 * address that connected.  Walking from peer leftwards, the first hop that
 * is not a trusted proxy is the client (every address left of it could be
 * forged by it); when all are trusted, the left-most.  Empty hops are
 * skipped.  *s, *len point into values or peer. */
void dp_key_forwarded_client(const char *const *values, size_t nvalues,
                             const char *peer, const struct lb_cidrs *trusted,
                             const char **s, size_t *len);

#endif
