/* lb-replica: the tiny HTTP server that the load balancer spreads requests
 * over (contract.md, "Replica").  Stateless, so a SIGTERM only has to let
 * answers in flight finish. */
#include "lb_config.h"
#include "lb_err.h"
#include "lb_http.h"
#include "lb_log.h"
#include "lb_signal.h"
#include "rp_routes.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

/* Answers in flight get this long after SIGTERM; the replica is stateless,
 * so nothing else needs saving. */
#define RP_STOP_GRACE_MS 400

int main(int argc, char **argv)
{
	long long server_id, port, threads;
	const char *host, *level;
	const struct lb_opt opts[] = {
	    {"server-id", "SERVER_ID", LB_OPT_INT, NULL, 0, 2147483647, NULL,
	     "integer id given by the control plane", &server_id},
	    {"port", "PORT", LB_OPT_INT, "5000", 0, 65535, NULL,
	     "TCP port to listen on (0: any free port)", &port},
	    {"host", "HOST", LB_OPT_STR, "0.0.0.0", 0, 0, NULL,
	     "address to listen on", &host},
	    /* civetweb holds a thread per open connection, idle keep-alive
	     * ones included: this must exceed the data planes' threads, or a
	     * replica stops accepting (and fails its heartbeats). */
	    {"threads", "THREADS", LB_OPT_INT, "256", 1, 8192, NULL,
	     "worker threads (one per open connection)", &threads},
	    {"log-level", "LOG_LEVEL", LB_OPT_STR, "info", 0, 0,
	     lb_log_level_names, "debug, info, warn or error", &level},
	};
	const size_t nopts = sizeof(opts) / sizeof(opts[0]);
	char err[256];
	enum lb_log_level lvl;
	struct lb_http_server_cfg hc;
	struct mg_context *ctx;
	int sig, code;

	if (lb_config_cli(opts, nopts, argc, argv, "lb-replica", &code))
		return code;
	lb_log_level_parse(level, &lvl);
	lb_log_init("replica", lvl);

	if (lb_signal_init() != 0) {
		lb_log(LB_ERROR, "signal_setup_failed", "errno=%d", errno);
		return 1;
	}

	lb_http_global_init();
	hc = (struct lb_http_server_cfg){.host = host,
	                                 .port = port,
	                                 .threads = threads,
	                                 .keepalive_ms = 10000,
	                                 .request_timeout_ms = 30000};
	if (lb_http_start(&hc, &ctx, err, sizeof(err)) != 0) {
		lb_log(LB_ERROR, "listen_failed", "reason=\"%s\"", err);
		return 1;
	}
	rp_routes_register(ctx, &server_id);
	lb_log(LB_INFO, "started", "server_id=%lld listen=%s:%d", server_id,
	       host, lb_http_port(ctx));

	sig = lb_signal_wait(-1);
	lb_log(LB_INFO, "stopping", "signal=%d", sig);

	lb_http_stop_or_exit(ctx, RP_STOP_GRACE_MS);
	return 0;
}
