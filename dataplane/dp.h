/* dp.h - the data plane's one context, made in main(). */
#ifndef DP_H
#define DP_H

#include "dp_config.h"
#include "dp_conns.h"
#include "dp_cpclient.h"
#include "dp_sync.h"
#include "dp_table.h"

#include "lb_http.h"

#include <civetweb.h>

/* Counters that the data plane keeps (exposed on its admin listener). */
struct dp_stats {
	atomic_ullong key_fallbacks; /* requests that lacked their key */
	atomic_ullong cookies_set;   /* sticky cookies handed out */
};

struct dp {
	struct dp_config cfg;
	struct dp_router router;
	struct dp_cpclient cpclient;
	struct dp_sync sync;
	struct dp_conns conns;
	struct dp_stats stats;
	struct lb_http_server_cfg http_cfg; /* lives as long as the server */
	struct mg_context *http;
};

#endif
