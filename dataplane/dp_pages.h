/* dp_pages.h - the data plane's own pages, on a listener apart from the
 * client port (LB_PAGES_LISTEN, 127.0.0.1:5001 by default; every path on
 * the client port belongs to the replicas):
 *
 *   /            the dashboard (one page, no outside assets)
 *   /metrics     Prometheus text format (dp_metrics.h)
 *   /api/state   JSON: version, preset, key, N desired and ready, every
 *                replica's state and counters, recent events
 *   /api/ring    JSON: the ring as arcs coloured by the replica that
 *                serves them, and the virtual servers' slots
 *
 * With LB_ADMIN_TOKEN set, every page needs the token (Authorization:
 * Bearer, or ?token= for a browser), /metrics too unless LB_METRICS_OPEN.
 */
#ifndef DP_PAGES_H
#define DP_PAGES_H

#include <stddef.h>

struct dp;

/* Starts the listener (nothing when LB_PAGES_LISTEN is empty).  Returns 0
 * or an error with the reason in err. */
int dp_pages_start(struct dp *dp, char *err, size_t errlen);
void dp_pages_stop(struct dp *dp);

#endif
