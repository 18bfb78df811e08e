/* lb-dataplane: serves clients on :5000.  /rep, /add and /rm go to the
 * control plane; every other request is proxied through the ring that the
 * control plane publishes.  Holds no Docker access, and keeps routing with
 * its last ring when the control plane is gone. */
#include "dp.h"
#include "dp_admin.h"
#include "dp_proxy.h"
#include "dp_upstream.h"
#include "lb_err.h"
#include "lb_http.h"
#include "lb_log.h"
#include "lb_signal.h"
#include "lb_time.h"

#include <errno.h>
#include <stdio.h>

/* Requests in flight get this long after SIGTERM. */
#define DP_STOP_GRACE_MS 500

/* Ready means ready: a connected admin pipe and the current ring, fetched
 * over it, so that the first client to find the port open can route and
 * call /rep alike.  The control plane opens its admin socket only once its
 * first replicas serve, so the ring fetched then is a working one.  Past
 * LB_READY_TIMEOUT_MS the port opens anyway: routing with whatever ring
 * came on the PUB socket, 503 for what needs the control plane. */
static void dp_wait_ready(struct dp *dp)
{
	int64_t deadline = lb_now_ms() + dp->cfg.ready_timeout_ms;

	while (!lb_signal_stopping() && lb_now_ms() < deadline) {
		if (dp_cpclient_connected(&dp->cpclient) &&
		    dp_sync_fetch(&dp->router, &dp->cpclient, 1000) == 0)
			return;
		lb_signal_wait(20);
	}
	lb_log(LB_WARN, "not_ready",
	       "waited_ms=%lld admin_connected=%d version=%llu "
	       "action=\"listening anyway\"",
	       dp->cfg.ready_timeout_ms, dp_cpclient_connected(&dp->cpclient),
	       (unsigned long long)dp_router_version(&dp->router));
}

int main(int argc, char **argv)
{
	static struct dp dp; /* the one context */
	struct lb_http_server_cfg hc;
	char err[512];
	int rv, sig;

	rv = dp_config_load(&dp.cfg, argc, argv, err, sizeof(err));
	if (rv == 1)
		return 0;
	if (rv != 0) {
		fprintf(stderr, "lb-dataplane: %s\n", err);
		return 2;
	}
	lb_log_init("dp", dp.cfg.log_level);
	if (lb_signal_init() != 0) {
		lb_log(LB_ERROR, "init_failed", "errno=%d", errno);
		return 1;
	}
	lb_http_global_init();
	dp_upstream_set_max_conns((int)dp.cfg.replica_max_conns);
	dp_answer_global_init();
	dp_router_init(&dp.router);
	if (dp_cpclient_open(&dp.cpclient, dp.cfg.admin_url, err,
	                     sizeof(err)) != 0 ||
	    dp_sync_start(&dp.sync, &dp.router, &dp.cpclient, dp.cfg.pub_url,
	                  err, sizeof(err)) != 0) {
		fprintf(stderr, "lb-dataplane: %s\n", err);
		return 1;
	}
	dp_wait_ready(&dp);
	hc = (struct lb_http_server_cfg){.host = dp.cfg.host,
	                                 .port = dp.cfg.port,
	                                 .threads = dp.cfg.threads,
	                                 .keepalive_ms = dp.cfg.keepalive_ms,
	                                 .request_timeout_ms = 30000,
	                                 .begin_request =
	                                     dp_proxy_begin_request};
	if (lb_http_start(&hc, &dp, &dp.http, err, sizeof(err)) != 0) {
		lb_log(LB_ERROR, "listen_failed", "reason=\"%s\"", err);
		fprintf(stderr, "lb-dataplane: %s\n", err);
		return 1;
	}
	dp_admin_register(dp.http, &dp);
	mg_set_request_handler(dp.http, "**", dp_proxy_handle, &dp);
	lb_log(LB_INFO, "started", "listen=%s:%d admin=%s pub=%s version=%llu",
	       dp.cfg.host, lb_http_port(dp.http), dp.cfg.admin_url,
	       dp.cfg.pub_url,
	       (unsigned long long)dp_router_version(&dp.router));

	sig = lb_signal_wait(-1);
	lb_log(LB_INFO, "stopping", "signal=%d", sig);
	/* Sockets to the control plane first: nothing in them to save. */
	dp_sync_stop(&dp.sync);
	dp_cpclient_close(&dp.cpclient);
	lb_http_stop_or_exit(dp.http, DP_STOP_GRACE_MS);
	dp_router_fini(&dp.router);
	lb_log(LB_INFO, "stopped", "signal=%d", sig);
	return 0;
}
