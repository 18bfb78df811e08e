/* dp_table.h - a routing table built from one snapshot: the ring plus the
 * replicas' addresses.  Immutable once built, so request threads read it
 * without locks; the router swaps in a newer one atomically and the old one
 * is freed when its last reader releases it.
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

#define DP_ROUTER_RETIRED 8 /* control-plane starts remembered as gone */

/* The current table, swapped atomically. */
struct dp_router {
	pthread_mutex_t mu; /* held only to copy the pointer and take a ref */
	pthread_cond_t installed; /* a new table became current */
	struct dp_table *cur;
	_Atomic int64_t last_snapshot_ms; /* any snapshot, newer or not */
	/* Boot ids of control-plane starts that a newer start replaced:
	 * their late messages are never taken again (under mu). */
	uint64_t retired[DP_ROUTER_RETIRED]; /* a ring: the latest kept */
	size_t nretired;                     /* ever retired */
};

void dp_router_init(struct dp_router *r);
void dp_router_fini(struct dp_router *r);

/* Returns the current table with a reference (release it), or NULL before
 * the first snapshot. */
struct dp_table *dp_router_acquire(struct dp_router *r);

/* Installs t when it is newer than the current one (takes ownership either
 * way).  Returns true when installed.  Newer means: a later version from
 * the same control-plane start, or any version from another start that
 * was not replaced before (versions come from the control plane's wall
 * clock, which may have gone back across a restart). */
bool dp_router_offer(struct dp_router *r, struct dp_table *t);

/* Whether a snapshot (boot_id, version) would be installed now: the
 * check before building its table. */
bool dp_router_wants(struct dp_router *r, uint64_t boot_id, uint64_t version);

/* The version of the current table, 0 before the first. */
uint64_t dp_router_version(struct dp_router *r);

/* Waits until the current table is not (boot_id, version), for timeout_ms
 * at most. */
void dp_router_wait_change(struct dp_router *r, uint64_t boot_id,
                           uint64_t version, int64_t timeout_ms);

/* The boot id and version of the current table (0, 0 before the first). */
void dp_router_current(struct dp_router *r, uint64_t *boot_id,
                       uint64_t *version);

/* A snapshot arrived (newer or not): the control plane is alive. */
void dp_router_touch(struct dp_router *r);

/* When the last snapshot arrived (monotonic ms), 0 before any. */
int64_t dp_router_last_snapshot_ms(struct dp_router *r);

#endif
