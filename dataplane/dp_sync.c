#include "dp_sync.h"

#include "lb_err.h"
#include "lb_log.h"
#include "lb_nng.h"
#include "lb_rand.h"
#include "lb_time.h"
#include "lb_wire.h"
#include "dp_router.h"

#include <nng/protocol/pubsub0/sub.h>
#include <stdio.h>

static void sync_install(struct dp_router *router, const Lb__Snapshot *s,
                         const char *via)
{
	struct dp_table *prev, *t;
	uint64_t old;
	int rv;

	dp_router_touch(router);
	/* Republished every second: a version already in use is not built
	 * again. */
	if (!dp_router_wants(router, s->boot_id, s->version))
		return;
	prev = dp_router_acquire(router);
	old = prev ? prev->version : 0;
	rv = dp_table_build(s, prev, &t);
	dp_table_release(prev);
	if (rv != 0) {
		lb_log(LB_WARN, "snapshot_rejected", "reason=\"%s\"",
		       lb_err_str(rv));
		return;
	}
	if (dp_router_offer(router, t))
		lb_log(old ? LB_DEBUG : LB_INFO, "snapshot_applied",
		       "via=%s version=%llu replicas=%zu", via,
		       (unsigned long long)s->version, s->n_replicas);
}

int dp_sync_fetch(struct dp_router *router, struct dp_cpclient *cpclient,
                  long long timeout_ms)
{
	Lb__AdminRequest req = LB__ADMIN_REQUEST__INIT;
	Lb__AdminReply *reply;
	char err[256];
	int rv;

	req.op = LB__ADMIN_REQUEST__OP__SNAPSHOT;
	req.request_id = lb_rand_u64();
	rv = dp_cpclient_call(cpclient, &req, timeout_ms, &reply, err,
	                      sizeof(err));
	if (rv != 0)
		return rv;
	if (reply->status == 200 && reply->snapshot)
		sync_install(router, reply->snapshot, "fetch");
	else
		rv = LB_ERR_PROTO;
	lb__admin_reply__free_unpacked(reply, NULL);
	return rv;
}

static void *sync_thread(void *arg)
{
	struct dp_sync *s = arg;

	while (!atomic_load(&s->stopping)) {
		nng_msg *msg;
		Lb__Snapshot *snap;
		char err[256];
		int rv = nng_recvmsg(s->sub, &msg, 0);

		if (rv == NNG_ECLOSED)
			break;
		if (rv == NNG_ETIMEDOUT) {
			/* Nothing yet: ask instead of waiting for the next
			 * periodic publish. */
			if (dp_router_version(s->router) == 0)
				dp_sync_fetch(s->router, s->cpclient, 500);
			continue;
		}
		if (rv != 0)
			continue;
		if (lb_wire_snapshot_unpack(nng_msg_body(msg), nng_msg_len(msg),
		                            &snap, err, sizeof(err)) != 0) {
			lb_log(LB_WARN, "snapshot_undecodable", "reason=\"%s\"",
			       err);
		} else {
			sync_install(s->router, snap, "pub");
			lb__snapshot__free_unpacked(snap, NULL);
		}
		nng_msg_free(msg);
	}
	return NULL;
}

int dp_sync_start(struct dp_sync *s, struct dp_router *router,
                  struct dp_cpclient *cpclient, const char *pub_url, char *err,
                  size_t errlen)
{
	int rv;

	s->router = router;
	s->cpclient = cpclient;
	atomic_init(&s->stopping, false);
	if ((rv = nng_sub0_open(&s->sub)) != 0) {
		snprintf(err, errlen, "SUB socket: %s", nng_strerror(rv));
		return LB_ERR_SYS;
	}
	nng_socket_set(s->sub, NNG_OPT_SUB_SUBSCRIBE, "", 0);
	/* Bounded before protobuf-c ever sees the bytes. */
	nng_socket_set_size(s->sub, NNG_OPT_RECVMAXSZ, LB_WIRE_MAX_BYTES);
	nng_socket_set_ms(s->sub, NNG_OPT_RECVTIMEO, 500);
	if ((rv = lb_nng_dial(s->sub, pub_url, "LB_PUB_URL", err, errlen))) {
		nng_close(s->sub);
		return rv;
	}
	if (pthread_create(&s->tid, NULL, sync_thread, s) != 0) {
		nng_close(s->sub);
		snprintf(err, errlen, "cannot start the sync thread");
		return LB_ERR_SYS;
	}
	return 0;
}

void dp_sync_stop(struct dp_sync *s)
{
	atomic_store(&s->stopping, true);
	pthread_join(s->tid, NULL); /* wakes within RECVTIMEO */
	nng_close(s->sub);
}
