/* dp_metrics.h - what the data plane counts, and its /metrics page.
 *
 * Per replica (by name, like the ring): requests by the status the client
 * got, and ejections; requests in flight and connections come from the
 * upstream pools.  Counting is relaxed atomic adds on the hot path, no
 * lock; a replica's counters live while a routing table lists it, so a
 * replica that left the ring drops out of the page.
 */
#ifndef DP_METRICS_H
#define DP_METRICS_H

#include "lb_name.h"
#include "lb_prom.h"

#include <stdatomic.h>
#include <stdint.h>

#define DP_CODES 600

struct dp_replica_stats {
	char name[LB_NAME_MAX + 1];
	atomic_ullong by_code[DP_CODES]; /* requests, by the client's status */
	atomic_ullong ejections;
	/* Outlier ejection (dp_outlier.h): failures in a row, and
	 * ejections since the last good answer. */
	atomic_int outlier_fails;
	atomic_int outlier_times;
	int refs; /* under the registry's lock */
	struct dp_replica_stats *next;
};

/* The stats of replica `name`, with one more reference (made on first use;
 * NULL when out of memory). */
struct dp_replica_stats *dp_metrics_replica_get(const char *name);
void dp_metrics_replica_put(struct dp_replica_stats *r);

/* Walks every replica's stats: lock, then first() and ->next, unlock. */
void dp_metrics_replica_lock(void);
void dp_metrics_replica_unlock(void);
struct dp_replica_stats *dp_metrics_replica_first(void);

enum dp_retry_reason { DP_RETRY_CONNECT, DP_RETRY_BUSY, DP_RETRY_BROKEN };

/* Where a request's time went, like HAProxy's log timers: waiting in
 * line (admission and the replica's queue), connecting to the replica (0
 * on a pooled connection), the replica's time from the request sent to
 * the answer's head; the whole is lb_request_duration_seconds. */
enum dp_phase {
	DP_PHASE_QUEUE,
	DP_PHASE_CONNECT,
	DP_PHASE_RESPONSE,
	DP_PHASES
};

struct dp_timers {
	uint64_t total_us;
	uint64_t queue_us, connect_us;
	int64_t response_us; /* -1: no answer came */
};

/* The data plane's own counters. */
struct dp_stats {
	atomic_ullong no_replica[DP_CODES]; /* answered without a replica */
	atomic_ullong retries[3];           /* by enum dp_retry_reason */
	atomic_ullong key_fallbacks;        /* requests that lacked their key */
	atomic_ullong cookies_set;          /* sticky cookies handed out */
	atomic_ullong replica_queue_timeouts; /* 503 after a replica's line */
	struct lb_histo duration;             /* of proxied requests */
	struct lb_histo phase[DP_PHASES];
};

void dp_metrics_init(struct dp_stats *s);

/* Counts one answered request: by its replica (NULL: none was reached). */
void dp_metrics_count(struct dp_stats *s, struct dp_replica_stats *r,
                      int status, const struct dp_timers *t);

struct dp;

/* Writes the whole /metrics page. */
void dp_metrics_render(struct dp *dp, struct lb_prom *b);

#endif
