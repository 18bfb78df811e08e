/* dp_router.h - the routing table in use: swapped atomically when a newer
 * snapshot's table is offered, held by reference by each request. */
#ifndef DP_ROUTER_H
#define DP_ROUTER_H

#include "dp_table.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

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
