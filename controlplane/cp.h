/* cp.h - the control plane's one context, made in main() and passed to
 * every module.  No other mutable globals. */
#ifndef CP_H
#define CP_H

#include "cp_config.h"
#include "cp_drain.h"
#include "cp_driver.h"
#include "cp_reply_cache.h"
#include "cp_reports.h"
#include "cp_state.h"
#include "lb_http.h"

#include <nng/nng.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#define CP_ADMIN_WORKERS 8
#define CP_ADMIN_OPS     7 /* Lb__AdminRequest__Op values, 1..6 */
#define CP_ADMIN_CODES   600

/* Counters of the control plane (its /metrics); those of deaths and
 * replacements live in cp_state, where they happen. */
struct cp_stats {
	atomic_ullong heartbeats[2]; /* [0] failed, [1] ok */
	atomic_ullong admin[CP_ADMIN_OPS][CP_ADMIN_CODES]; /* by op, status */
	atomic_ullong snapshots_published;
	atomic_ullong engine_errors; /* a driver's start or stop failed */
};

struct cp {
	struct cp_config cfg;
	struct cp_state state;
	struct cp_drain drain;     /* replicas that left, until stopped */
	struct cp_reports reports; /* the data planes' requests in flight */
	struct cp_driver *driver;
	/* Serialises the admin operations' checks with the changes that
	 * follow them, so that a check still holds when the change lands.
	 * Held only for that: never across a wait (a replica starting, the
	 * drain, a stop).  Never taken while holding state.mu. */
	pthread_mutex_t orch;
	struct cp_reply_cache cache; /* replies to resent add/rm requests */
	struct cp_stats stats;
	struct mg_context *http; /* the metrics listener, or NULL */
	struct lb_http_server_cfg http_cfg;
	nng_socket rep;
	nng_socket pub;
	pthread_t admin_tid[CP_ADMIN_WORKERS];
	size_t nadmin;
	pthread_t pub_tid, health_tid, repair_tid;
	bool health_started, repair_started; /* joined only if so */
	atomic_bool stopping;
};

#endif
