/* dp.h - the data plane's one context, made in main(). */
#ifndef DP_H
#define DP_H

#include "dp_config.h"
#include "dp_cpclient.h"
#include "dp_sync.h"
#include "dp_table.h"

#include <civetweb.h>

struct dp {
	struct dp_config cfg;
	struct dp_router router;
	struct dp_cpclient cpclient;
	struct dp_sync sync;
	struct mg_context *http;
};

#endif
