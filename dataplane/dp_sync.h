/* dp_sync.h - keeps the router's table current: subscribes to the control
 * plane's snapshots, and asks for the current one over REQ/REP while it has
 * none (at start, a subscriber misses what was published before it). */
#ifndef DP_SYNC_H
#define DP_SYNC_H

#include "dp_cpclient.h"
#include "dp_router.h"

#include <nng/nng.h>
#include <pthread.h>
#include <stdatomic.h>

struct dp_sync {
	struct dp_router *router;     /* borrowed */
	struct dp_cpclient *cpclient; /* borrowed */
	nng_socket sub;
	pthread_t tid;
	atomic_bool stopping;
};

/* Dials pub_url and starts the thread.  Returns 0 or LB_ERR_SYS. */
int dp_sync_start(struct dp_sync *s, struct dp_router *router,
                  struct dp_cpclient *cpclient, const char *pub_url, char *err,
                  size_t errlen);
void dp_sync_stop(struct dp_sync *s);

/* Fetches the current snapshot by request and installs it.  Returns 0 or
 * an error. */
int dp_sync_fetch(struct dp_router *router, struct dp_cpclient *cpclient,
                  long long timeout_ms);

#endif
