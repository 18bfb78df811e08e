/* lb-dataplane: serves clients on :5000.  /rep, /add and /rm go to the
 * control plane; every other request is proxied through the ring that the
 * control plane publishes.  Holds no Docker access, and keeps routing with
 * its last ring when the control plane is gone. */
#define _GNU_SOURCE /* sched_getaffinity(), CPU_COUNT() */

#include "dp.h"
#include "dp_access.h"
#include "dp_front.h"
#include "dp_pages.h"
#include "dp_upstream.h"
#include "lb_err.h"
#include "lb_http.h"
#include "lb_log.h"
#include "lb_signal.h"
#include "lb_time.h"
#include "dp_router.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/resource.h>
#include <stdio.h>
#include <unistd.h>

/* After the drain, idle keep-alive connections get this long to be
 * closed by civetweb before the process ends anyway. */
#define DP_STOP_GRACE_MS 500
/* Accepted connections that wait for a free worker (civetweb's queue);
 * past it they wait in the kernel's backlog. */
#define DP_ACCEPT_QUEUE 512

/* Every client connection and every upstream connection is a descriptor:
 * the soft limit is raised to what the workers need, as far as the hard
 * limit allows. */
static void dp_raise_fd_limit(long long threads)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)threads * 2 + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want
	                  ? want
	                  : rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < want)
		lb_log(LB_WARN, "fd_limit_low",
		       "limit=%llu wanted=%llu threads=%lld",
		       (unsigned long long)rl.rlim_cur,
		       (unsigned long long)want, threads);
}

/* Ready means ready: a connected pipe to the control server and the current
 * ring, fetched over it, so that the first client to find the port open can
 * route and call /rep alike.  The control plane opens its control server only
 * once its first replicas serve, so the ring fetched then is a working one.
 * Past LB_READY_TIMEOUT_MS the port opens anyway: routing with whatever ring
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

/* A graceful stop (civetweb's mg_stop() alone would cut what runs): from
 * now on every answer says "Connection: close"; the requests being served
 * finish, for LB_DRAIN_TIMEOUT_MS at most; those still running then are
 * cut by the stop, counted in the log. */
static void dp_drain(struct dp *dp)
{
	int64_t t0 = lb_now_ms(), deadline = t0 + dp->cfg.drain_timeout_ms;
	int left;

	atomic_store(&dp->stopping, true);
	while ((left = atomic_load(&dp->serving)) > 0 && lb_now_ms() < deadline)
		lb_time_sleep_ms(10);
	if (left > 0)
		lb_log(LB_WARN, "drain_timeout", "cut=%d drain_ms=%lld", left,
		       (long long)(lb_now_ms() - t0));
	else
		lb_log(LB_INFO, "drained", "drain_ms=%lld",
		       (long long)(lb_now_ms() - t0));
}

/* LB_MAX_ACTIVE, -1 resolved: enough requests at once to keep every core
 * this process may run on busy, few enough that the others are served in
 * arrival order (docs/queues-and-weights.md).  A container's CPU quota is
 * not seen: set LB_MAX_ACTIVE there. */
static int dp_max_active(const struct dp_config *c)
{
	cpu_set_t set;
	int cores = 1;

	if (c->max_active >= 0)
		return (int)c->max_active;
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		cores = CPU_COUNT(&set);
	return 8 * cores;
}

/* What the settings ask for before anything connects: HTTPS (a data plane
 * asked for it that cannot serve it does not start, and never serves plain
 * HTTP there), descriptors, the access log, the limits, the router.
 * Returns 0 or the exit status, having said why. */
static int dp_open(struct dp *dp, char *err, size_t errlen)
{
	lb_http_global_init();
	if (dp->cfg.tls_cert[0] &&
	    dp_tls_open(&dp->tls, &dp->cfg, err, errlen) != 0) {
		lb_log(LB_ERROR, "tls_failed", "reason=\"%s\"", err);
		fprintf(stderr, "lb-dataplane: %s\n", err);
		return 2;
	}
	dp_raise_fd_limit(dp->cfg.threads);
	dp_metrics_init(&dp->stats);
	if ((dp->access_fd = dp_access_open(dp->cfg.access_log)) == -2) {
		fprintf(stderr, "lb-dataplane: LB_ACCESS_LOG=%s: %s\n",
		        dp->cfg.access_log, strerror(errno));
		return 2;
	}
	if (dp_conns_init(&dp->conns, (int)dp->cfg.threads,
	                  (int)dp->cfg.max_conns_per_ip) != 0) {
		fprintf(stderr, "lb-dataplane: out of memory\n");
		return 1;
	}
	dp_upstream_set_limits((int)dp->cfg.replica_max_conns,
	                       (int)dp->cfg.replica_max_queue);
	dp_gate_init(&dp->admit, dp_max_active(&dp->cfg), (int)dp->cfg.threads);
	dp_answer_global_init();
	dp_router_init(&dp->router);
	return 0;
}

/* The control plane's sockets, the report thread and the pages; then the
 * wait for a ring (dp_wait_ready).  Returns 0 or the exit status. */
static int dp_connect(struct dp *dp, char *err, size_t errlen)
{
	if (dp_cpclient_open(&dp->cpclient, dp->cfg.ctl_url,
	                     dp->cfg.admin_token, err, errlen) != 0 ||
	    dp_sync_start(&dp->sync, &dp->router, &dp->cpclient,
	                  dp->cfg.pub_url, err, errlen) != 0) {
		fprintf(stderr, "lb-dataplane: %s\n", err);
		return 1;
	}
	if (dp_report_start(&dp->report, &dp->router, &dp->cpclient) != 0) {
		fprintf(stderr, "lb-dataplane: cannot start the report "
		                "thread\n");
		return 1;
	}
	if (dp_pages_start(dp, err, errlen) != 0) {
		lb_log(LB_ERROR, "listen_failed", "reason=\"%s\"", err);
		fprintf(stderr, "lb-dataplane: %s\n", err);
		return 1;
	}
	dp_wait_ready(dp);
	return 0;
}

/* Opens the client ports: every request enters through dp_front. */
static int dp_listen(struct dp *dp, char *err, size_t errlen)
{
	dp->http_cfg = (struct lb_http_server_cfg){
	    .host = dp->cfg.host,
	    .port = dp->cfg.port,
	    .threads = dp->cfg.threads,
	    .keepalive_ms = dp->cfg.keepalive_ms,
	    .request_timeout_ms = dp->cfg.head_timeout_ms,
	    .listen_backlog = dp->cfg.listen_backlog,
	    .queue = DP_ACCEPT_QUEUE,
	    .ssl_ctx = dp->tls ? dp_tls_context(dp->tls) : NULL,
	    .tls_port = dp->cfg.tls_port,
	    .tls_only = dp->cfg.tls_only && !dp->cfg.http_redirect,
	    .begin_request = dp_front_begin_request,
	    .conn_open = dp_front_conn_open,
	    .conn_close = dp_front_conn_close,
	    .user = dp,
	};
	if (dp->tls && dp_tls_watch(dp->tls) != 0) {
		fprintf(stderr, "lb-dataplane: cannot start the certificate "
		                "watcher\n");
		return 1;
	}
	if (lb_http_start(&dp->http_cfg, &dp->http, err, errlen) != 0) {
		lb_log(LB_ERROR, "listen_failed", "reason=\"%s\"", err);
		fprintf(stderr, "lb-dataplane: %s\n", err);
		return 1;
	}
	lb_log(LB_INFO, "started",
	       "listen=%s:%lld plain=%s https=%s ctl=%s pub=%s version=%llu "
	       "threads=%lld head_timeout_ms=%lld max_conns_per_ip=%lld",
	       dp->cfg.host,
	       dp->http_cfg.tls_only ? 0LL : (long long)lb_http_port(dp->http),
	       dp->http_cfg.tls_only   ? "off"
	       : dp->cfg.http_redirect ? "redirect"
	                               : "on",
	       dp->tls ? "on" : "off", dp->cfg.ctl_url, dp->cfg.pub_url,
	       (unsigned long long)dp_router_version(&dp->router),
	       dp->cfg.threads, dp->cfg.head_timeout_ms,
	       dp->cfg.max_conns_per_ip);
	if (dp->tls)
		lb_log(LB_INFO, "https", "listen=%s:%lld cert=%s dir=%s",
		       dp->cfg.host, dp->cfg.tls_port, dp->cfg.tls_cert,
		       dp->cfg.tls_dir[0] ? dp->cfg.tls_dir : "-");
	return 0;
}

/* After a signal: the requests being served finish, then everything
 * closes, the control plane's sockets first (nothing in them to save). */
static void dp_stop(struct dp *dp, int sig)
{
	lb_log(LB_INFO, "stopping", "signal=%d serving=%d", sig,
	       atomic_load(&dp->serving));
	dp_drain(dp);
	dp_sync_stop(&dp->sync);
	dp_report_stop(&dp->report);
	dp_cpclient_close(&dp->cpclient);
	lb_http_stop_or_exit(dp->http, DP_STOP_GRACE_MS);
	dp_pages_stop(dp);
	dp_router_fini(&dp->router);
	dp_conns_fini(&dp->conns);
	dp_tls_close(dp->tls);
	lb_log(LB_INFO, "stopped", "signal=%d", sig);
}

int main(int argc, char **argv)
{
	static struct dp dp; /* the one context */
	char err[512];
	int rv;

	rv = dp_config_load(&dp.cfg, argc, argv, err, sizeof(err));
	if (rv == 1)
		return 0;
	if (rv != 0) {
		fprintf(stderr, "lb-dataplane: %s\n", err);
		return 2;
	}
	if (lb_signal_init() != 0) {
		lb_log(LB_ERROR, "init_failed", "errno=%d", errno);
		return 1;
	}
	if ((rv = dp_open(&dp, err, sizeof(err))) != 0 ||
	    (rv = dp_connect(&dp, err, sizeof(err))) != 0 ||
	    (rv = dp_listen(&dp, err, sizeof(err))) != 0)
		return rv;
	dp_stop(&dp, lb_signal_wait(-1));
	return 0;
}
