#include "lb_histo.h"

#include <string.h>

const double lb_histo_latency_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                          0.025,  0.05,  0.1,    0.25,  0.5,
                                          1,      2.5,   5,      10,    30};
const size_t lb_histo_latency_nbounds =
    sizeof(lb_histo_latency_bounds) / sizeof(lb_histo_latency_bounds[0]);

void lb_histo_init(struct lb_histo *h, const double *bounds, size_t n)
{
	memset(h, 0, sizeof(*h));
	h->bounds = bounds;
	h->nbounds = n < LB_HISTO_MAX_BUCKETS ? n : LB_HISTO_MAX_BUCKETS;
}

void lb_histo_observe(struct lb_histo *h, uint64_t us)
{
	double s = (double)us / 1e6;
	size_t i = 0;

	while (i < h->nbounds && s > h->bounds[i])
		i++;
	atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
}
