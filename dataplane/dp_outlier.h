/* dp_outlier.h - outlier ejection (Envoy's outlier detection, HAProxy's
 * "observe layer7"): a replica whose answers keep failing while its
 * heartbeats pass (a gray failure) is taken out of routing for a while.
 *
 * LB_EJECT_CONSECUTIVE failures in a row (a 5xx answer, or no answer: a
 * refused, broken, timed-out or malformed exchange) eject the replica for
 * LB_EJECT_MS, doubled each time it is ejected again without a good answer
 * in between, up to LB_EJECT_MAX_MS.  Never more than LB_MAX_EJECT_PERCENT
 * of the replicas are ejected at once.  An ejected replica is tried only
 * after every other one (the failover walk puts it last) and comes back on
 * its own when its time is up; heartbeats stay the control plane's test of
 * life, so it is not replaced.  Each data plane decides for itself.
 */
#ifndef DP_OUTLIER_H
#define DP_OUTLIER_H

#include "dp_config.h"
#include "lb_name.h"
#include "dp_table.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Names of replicas ejected since the last call (at most max), for the
 * control plane's event list; returns how many were copied. */
size_t dp_outlier_take_ejected(char (*out)[LB_NAME_MAX + 1], size_t max);

enum dp_outlier_outcome {
	DP_OUTLIER_OK,      /* an answer below 500 */
	DP_OUTLIER_FAILED,  /* a 5xx answer, or a broken, silent or
	                       malformed exchange */
	DP_OUTLIER_REFUSED, /* no connection: the replica is not there; it is
	                       skipped for LB_EJECT_MS at once, whatever the
	                       share, and the failure counts as above */
};

/* Records the outcome of one exchange with b at now_ms (monotonic).
 * Returns the ejection's length in ms when this outcome ejected b, else
 * 0. */
int64_t dp_outlier_record(const struct dp_table *t, struct dp_backend *b,
                          enum dp_outlier_outcome o,
                          const struct dp_config *cfg, int64_t now_ms);

#endif
