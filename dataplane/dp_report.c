#include "dp_report.h"

#include "dp_outlier.h"
#include "dp_upstream.h"
#include "lb_err.h"
#include "lb_rand.h"
#include "dp_router.h"

#include <stdlib.h>

/* Addresses one report names at most: one more than the control plane
 * keeps (128), so that a report with more reads as not whole there (and a
 * drain then waits for its timeout rather than trust it). */
#define REPORT_MAX_ADDRS   129
#define REPORT_MAX_EJECTED 16

/* Builds and sends one report; a failure is made good by the next one. */
static void report_send(struct dp_report *r)
{
	static _Thread_local struct dp_upstream_busy busy[REPORT_MAX_ADDRS];
	Lb__InFlight f[REPORT_MAX_ADDRS], *fp[REPORT_MAX_ADDRS];
	Lb__AdminRequest req = LB__ADMIN_REQUEST__INIT;
	Lb__Report rep = LB__REPORT__INIT;
	Lb__AdminReply *reply = NULL;
	char err[128], ejected[REPORT_MAX_EJECTED][LB_NAME_MAX + 1];
	char *ejp[REPORT_MAX_EJECTED];
	size_t n = dp_upstream_busy_list(busy, REPORT_MAX_ADDRS);

	if (n > REPORT_MAX_ADDRS)
		n = REPORT_MAX_ADDRS;
	rep.dp_id = r->dp_id;
	dp_router_current(r->router, &rep.boot_id, &rep.version);
	for (size_t i = 0; i < n; i++) {
		lb__in_flight__init(&f[i]);
		f[i].host = busy[i].host;
		f[i].port = busy[i].port;
		f[i].count = (uint32_t)busy[i].inflight;
		fp[i] = &f[i];
	}
	rep.n_inflight = n;
	rep.inflight = fp;
	rep.n_ejected = dp_outlier_take_ejected(ejected, REPORT_MAX_EJECTED);
	for (size_t i = 0; i < rep.n_ejected; i++)
		ejp[i] = ejected[i];
	rep.ejected = ejp;
	req.op = LB__ADMIN_REQUEST__OP__REPORT;
	req.request_id = lb_rand_u64();
	req.report = &rep;
	if (dp_cpclient_connected(r->cpclient) &&
	    dp_cpclient_call(r->cpclient, &req, 500, &reply, err,
	                     sizeof(err)) == 0)
		lb__admin_reply__free_unpacked(reply, NULL);
}

/* Reports every DP_REPORT_MS, and at once when a new ring is applied
 * (the control plane's /rm waits for that). */
static void *report_thread(void *arg)
{
	struct dp_report *r = arg;
	uint64_t boot, version;

	while (!atomic_load(&r->stopping)) {
		dp_router_current(r->router, &boot, &version);
		report_send(r);
		dp_router_wait_change(r->router, boot, version, DP_REPORT_MS);
	}
	return NULL;
}

int dp_report_start(struct dp_report *r, struct dp_router *router,
                    struct dp_cpclient *cpclient)
{
	r->router = router;
	r->cpclient = cpclient;
	r->dp_id = lb_rand_u64();
	atomic_init(&r->stopping, false);
	if (pthread_create(&r->tid, NULL, report_thread, r) != 0)
		return LB_ERR_SYS;
	r->started = true;
	return 0;
}

void dp_report_stop(struct dp_report *r)
{
	if (!r->started)
		return;
	atomic_store(&r->stopping, true);
	pthread_join(r->tid, NULL);
	r->started = false;
	report_send(r);
}
