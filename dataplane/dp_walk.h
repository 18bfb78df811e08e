/* dp_walk.h - the failover walk: the replicas to try for a key, in order;
 * whether a failed try may go on to the next one; and what a try tells
 * outlier ejection (dp_outlier.h).  The proxy (dp_proxy.c) drives the
 * tries; this file only decides.
 *
 * The order: distinct replicas clockwise from the key's slot; with bounded
 * loads, those over their share of the requests in flight come after those
 * under it (Mirrokni, Thorup and Zadimoghaddam, "Consistent Hashing with
 * Bounded Loads", 2016); those ejected a moment ago (they refused a
 * connection, or failed LB_EJECT_CONSECUTIVE times in a row) come last.  A
 * replica in slow start (dp_ramp.h) that does not take this key yet comes after
 * those that do.  Walked lazily: the first one nearly always serves.
 */
#ifndef DP_WALK_H
#define DP_WALK_H

#include "dp_outlier.h"
#include "dp_table.h"
#include "dp_upstream.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A failover walk never tries more replicas than this. */
#define DP_WALK_MAX_TRIES 16

/* Why a replica was put off, in the order the put-off ones come back. */
enum dp_walk_later {
	DP_WALK_RAMPING,
	DP_WALK_FULL,
	DP_WALK_EJECTED,
	DP_WALK_LATER
};

/* One walk, on the caller's stack; its fields are the walk's own. */
struct dp_walk {
	const struct dp_table *t;
	uint64_t key;
	int64_t now;
	uint64_t wall_ms; /* for slow start; 0: off */
	int cap;    /* in-flight requests a replica may have; 0: no bound */
	size_t max; /* distinct replicas to visit at most */
	uint32_t tried[DP_WALK_MAX_TRIES], pos;
	size_t ntried;
	struct dp_backend *later[DP_WALK_LATER][DP_WALK_MAX_TRIES];
	size_t nlater[DP_WALK_LATER], next_later[DP_WALK_LATER];
	bool ring_done;
};

/* Starts a walk for key through t (borrowed: it must outlive the walk).
 * Reads the clocks (ejection, slow start) and, with bounded loads, the
 * requests in flight now. */
void dp_walk_init(struct dp_walk *w, const struct dp_table *t, uint64_t key);

/* The next replica to try (borrowed from the table), or NULL when none is
 * left.  Never returns one replica twice, nor more than
 * min(replicas, DP_WALK_MAX_TRIES) in all. */
struct dp_backend *dp_walk_next(struct dp_walk *w);

/* Whether a failed try may go to the next replica: only while the first
 * cannot have processed the request, and the request can be sent whole.
 * committed: the client's answer is under way (its status went out);
 * idempotent: the method may run twice; r and info (borrowed): how the try
 * ended and what it did. */
bool dp_walk_may_retry(bool committed, bool idempotent,
                       enum dp_upstream_result r,
                       const struct dp_upstream_info *info);

/* What a try that ended with r (and, when r is DP_UP_OK, the replica's
 * status) tells ejection: returns false when it says nothing about the
 * replica, else true with the outcome to record in *o. */
bool dp_walk_outcome(enum dp_upstream_result r, int status,
                     enum dp_outlier_outcome *o);

#endif
