/* dp_key.h - a request's routing key (LB_KEY, carried in the snapshot):
 * read from the request with civetweb's own header, cookie and query
 * parsers, hashed into the preset's key space (lb_key.h).
 */
#ifndef DP_KEY_H
#define DP_KEY_H

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

/* The key of the request under routing r and preset p. */
void dp_key_of(struct mg_connection *c, const struct lb_routing *r,
               const struct lb_preset *p, struct dp_key *out);

#endif
