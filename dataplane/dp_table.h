/* dp_table.h - a routing table built from one snapshot: the ring plus the
 * replicas' addresses.  Immutable once built, so request threads read it
 * without locks; the router (dp_router.h) swaps in a newer one atomically
 * and the old one is freed when its last reader releases it.
 */
#ifndef DP_TABLE_H
#define DP_TABLE_H

#include "dp_metrics.h"
#include "dp_upstream.h"
#include "lb.pb-c.h"
#include "lb_key.h"
#include "lb_name.h"
#include "lb_ring.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct dp_backend {
	char name[LB_NAME_MAX + 1];
	uint32_t id;
	char host[LB_HOST_MAX + 1]; /* checked where it enters */
	uint16_t port;
	struct dp_upstream_backend *up; /* its connection pool (a reference) */
	struct dp_replica_stats *stats; /* its counters (a reference) */
	uint64_t up_since_ms; /* wall clock: when it entered the ring */
	uint32_t weight;
	/* The one mutable field: until when this replica is skipped because
	 * it refused a connection (monotonic ms).  Carried to the next table.
	 */
	_Atomic int64_t ejected_until;
};

struct dp_table {
	atomic_int refs;
	uint64_t boot_id; /* the control plane's start that made it */
	uint64_t version;
	struct lb_routing routing; /* the key, bounded loads, ... */
	struct lb_ring *ring;
	struct dp_backend *b; /* sorted by id, for binary search */
	size_t n;
};

/* Builds a table from a checked snapshot (lb_wire_snapshot_unpack()).
 * Ejections of replicas that prev also has are carried over; prev may be
 * NULL.  Returns 0 and *out with one reference, or an error. */
int dp_table_build(const Lb__Snapshot *s, const struct dp_table *prev,
                   struct dp_table **out);

/* The replica with server id `id`, or NULL. */
struct dp_backend *dp_table_backend(const struct dp_table *t, uint32_t id);

/* Drops one reference; the last one frees the table.  Accepts NULL. */
void dp_table_release(struct dp_table *t);

#endif
