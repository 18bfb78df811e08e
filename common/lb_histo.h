/* lb_histo.h - a histogram of durations: a fixed set of buckets of atomic
 * counts, so observing costs a few relaxed atomic adds and no lock
 * (written out by lb_prom_histo()). */
#ifndef LB_HISTO_H
#define LB_HISTO_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define LB_HISTO_MAX_BUCKETS 16

/* A histogram of durations in seconds. */
struct lb_histo {
	const double *bounds; /* upper bounds, increasing; +Inf is implied */
	size_t nbounds;
	atomic_ullong counts[LB_HISTO_MAX_BUCKETS + 1];
	atomic_ullong sum_us; /* microseconds */
};

/* Default bounds for request and replacement durations (seconds). */
extern const double lb_histo_latency_bounds[];
extern const size_t lb_histo_latency_nbounds;

void lb_histo_init(struct lb_histo *h, const double *bounds, size_t n);

/* Records one observation of us microseconds. */
void lb_histo_observe(struct lb_histo *h, uint64_t us);

#endif
