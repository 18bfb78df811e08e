/* dp.h - the data plane's one context, made in main(). */
#ifndef DP_H
#define DP_H

#include "dp_config.h"
#include "dp_conns.h"
#include "dp_cpclient.h"
#include "dp_gate.h"
#include "dp_metrics.h"
#include "dp_report.h"
#include "dp_sync.h"
#include "dp_router.h"
#include "dp_tls.h"

#include "lb_http.h"

#include <civetweb.h>
#include <stdatomic.h>

struct dp {
	struct dp_config cfg;
	struct dp_router router;
	struct dp_cpclient cpclient;
	struct dp_sync sync;
	struct dp_report report; /* in flight, to the control plane */
	struct dp_conns conns;
	struct dp_stats stats;
	struct dp_gate admit; /* LB_MAX_ACTIVE, in arrival order */
	int access_fd;        /* the access log, -1: off */
	/* A graceful stop: from SIGTERM on every answer says "Connection:
	 * close", and the process waits until no request is served. */
	atomic_bool stopping;
	atomic_int serving; /* requests between head and answer */
	struct dp_tls *tls; /* NULL: no HTTPS */
	struct lb_http_server_cfg http_cfg; /* lives as long as the server */
	struct mg_context *http;
	struct lb_http_server_cfg site_cfg; /* the pages listener's */
	struct mg_context *site;
};

#endif
