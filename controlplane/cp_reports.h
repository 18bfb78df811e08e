/* cp_reports.h - what the data planes report: that they are alive, the
 * ring they route with, and their requests in flight per replica address.
 *
 * A replica that left the ring drains: it is stopped only once every live
 * data plane routes with a ring without it and has nothing in flight to
 * it (cp_drain.h).  The control plane learns that from the data planes
 * themselves, so it holds with several data planes and with replicas that
 * die at once on SIGTERM.
 */
#ifndef CP_REPORTS_H
#define CP_REPORTS_H

#include "lb.pb-c.h"
#include "lb_name.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A data plane not heard from for this long is gone (it reports every
 * DP_REPORT_MS, 100 ms). */
#define CP_REPORTS_STALE_MS  1000
#define CP_REPORTS_MAX_DPS   64  /* data planes followed at once */
#define CP_REPORTS_MAX_ADDRS 128 /* addresses kept of one report */

struct cp_report_addr {
	char host[LB_HOST_MAX + 1];
	uint16_t port;
	uint32_t count;
};

struct cp_report {
	uint64_t dp_id, boot_id, version;
	int64_t seen_ms; /* monotonic */
	struct cp_report_addr addr[CP_REPORTS_MAX_ADDRS];
	size_t naddr;
	bool truncated; /* it named more: its counts are not known whole */
};

struct cp_reports {
	pthread_mutex_t mu;
	pthread_cond_t put; /* a report arrived */
	struct cp_report dp[CP_REPORTS_MAX_DPS];
	size_t n;
};

void cp_reports_init(struct cp_reports *r);
void cp_reports_fini(struct cp_reports *r);

/* Records a data plane's report, received at now_ms (monotonic).  A
 * report that names too many addresses keeps the first ones. */
void cp_reports_put(struct cp_reports *r, const Lb__Report *rep,
                    int64_t now_ms);

/* Requests in flight to host:port over the data planes heard from within
 * CP_REPORTS_STALE_MS of now_ms; -1 when one of them does not yet route
 * with a ring of (boot_id, version) or later (it may still send new
 * requests there), or its report was too long to keep whole.  No live
 * data plane: 0. */
long cp_reports_inflight(struct cp_reports *r, uint64_t boot_id,
                         uint64_t version, const char *host, uint16_t port,
                         int64_t now_ms);

/* Waits until every live data plane routes with a ring of (boot_id,
 * version) or later, for timeout_ms at most: after /rm, so that a client
 * that asks right after it is not sent to the replicas it removed.
 * Returns true when they all do. */
bool cp_reports_wait_version(struct cp_reports *r, uint64_t boot_id,
                             uint64_t version, int64_t timeout_ms);

/* Data planes heard from within CP_REPORTS_STALE_MS of now_ms. */
size_t cp_reports_live(struct cp_reports *r, int64_t now_ms);

#endif
