/* dp_report.h - tells the control plane, every DP_REPORT_MS, that this
 * data plane is alive, which ring it routes with, and its requests in
 * flight per replica address: a replica that left the ring is stopped only
 * once no data plane has a request in flight to it (the control plane's
 * cp_drain.h).
 */
#ifndef DP_REPORT_H
#define DP_REPORT_H

#include "dp_cpclient.h"
#include "dp_router.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define DP_REPORT_MS 100

struct dp_report {
	struct dp_router *router;
	struct dp_cpclient *cpclient;
	uint64_t dp_id; /* random per start */
	pthread_t tid;
	atomic_bool stopping;
	bool started;
};

/* Starts the reporting thread; router and cpclient are borrowed.  Returns
 * 0 or LB_ERR_SYS. */
int dp_report_start(struct dp_report *r, struct dp_router *router,
                    struct dp_cpclient *cpclient);

/* Sends one last report (nothing in flight any more, when that is so) and
 * stops the thread. */
void dp_report_stop(struct dp_report *r);

#endif
