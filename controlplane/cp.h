/* cp.h - the control plane's one context, made in main() and passed to
 * every module.  No other mutable globals. */
#ifndef CP_H
#define CP_H

#include "cp_config.h"
#include "cp_driver.h"
#include "cp_state.h"

#include <nng/nng.h>
#include <pthread.h>
#include <stdatomic.h>

#define CP_ADMIN_WORKERS 8
#define CP_REPLY_CACHE   64

/* Replies to recent add/remove requests by request id: NNG's REQ resends a
 * request when its pipe reconnects, and a resent /add must not add twice. */
struct cp_reply_cache {
	uint64_t id[CP_REPLY_CACHE];
	void *buf[CP_REPLY_CACHE];
	size_t len[CP_REPLY_CACHE];
	size_t next;
};

struct cp {
	struct cp_config cfg;
	struct cp_state state;
	struct cp_driver *driver;
	/* Serialises whatever validates and then changes the replica set
	 * (admin add/remove, repair), so that a check still holds when the
	 * change lands.  Never taken while holding state.mu. */
	pthread_mutex_t orch;
	struct cp_reply_cache cache; /* under orch */
	nng_socket rep;
	nng_socket pub;
	pthread_t admin_tid[CP_ADMIN_WORKERS];
	size_t nadmin;
	pthread_t pub_tid, health_tid, repair_tid;
	atomic_bool stopping;
};

#endif
