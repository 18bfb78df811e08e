/* cp_drain.h - replicas that left the ring and wait to be stopped.
 *
 * A replica that leaves by /rm (a scale-down included) is out of the ring
 * at once; it is stopped only when no data plane has a request in flight
 * to it (cp_reports.h), or after LB_DRAIN_TIMEOUT_MS: the requests still
 * running then are cut, counted and logged.  Until it has stopped, its
 * name stays taken, and it shows as draining (dashboard, /metrics), not in
 * /rep.  A thread of its own watches the list.
 */
#ifndef CP_DRAIN_H
#define CP_DRAIN_H

#include "cp_state.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cp;

struct cp_draining {
	struct cp_replica r;           /* as it was when it left */
	uint64_t boot_id, version;     /* the first ring without it */
	int64_t since_ms, deadline_ms; /* monotonic */
	bool stopping; /* its drain is over: being stopped (name still
	                  taken until that is done) */
};

struct cp_drain {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* a replica began draining, or stopping */
	struct cp_draining *v;
	size_t n, cap;
	atomic_ullong drained, timed_out, cut; /* counters for /metrics */
	size_t stoppers; /* threads stopping a drained replica (under mu) */
	pthread_t tid;
	bool started, stopping;
};

void cp_drain_init(struct cp_drain *d);

/* Starts the drain thread.  Returns 0 or LB_ERR_SYS. */
int cp_drain_start(struct cp *cp);

/* Stops the thread (what still drains is stopped at once by the caller's
 * shutdown), frees the list. */
void cp_drain_stop(struct cp *cp);

/* r left the ring in snapshot (boot_id, version): it drains, then stops.
 * Returns 0 or LB_ERR_NOMEM (then the caller stops it at once). */
int cp_drain_add(struct cp *cp, const struct cp_replica *r, uint64_t boot_id,
                 uint64_t version);

/* True when a replica of that name drains. */
bool cp_drain_has(struct cp_drain *d, const char *name);

/* Copies the draining replicas (*out owned, free()). */
int cp_drain_copy(struct cp_drain *d, struct cp_draining **out, size_t *n);

#endif
