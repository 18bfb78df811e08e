#include "cp_ctl.h"

#include "cp_ops.h"
#include "lb_err.h"
#include "lb_guard.h"
#include "lb_log.h"
#include "lb_time.h"
#include "lb_wire.h"

#include <nng/protocol/reqrep0/rep.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* Packs reply; on failure packs a bare 500 so the requester is answered. */
static int ctl_pack(Lb__AdminReply *reply, void **buf, size_t *len)
{
	Lb__AdminReply fallback = LB__ADMIN_REPLY__INIT;
	if (lb_wire_pack(&reply->base, buf, len) == 0)
		return 0;
	fallback.status = 500;
	fallback.error = "<Error> reply too large";
	return lb_wire_pack(&fallback.base, buf, len);
}

/* SNAPSHOT: the current ring, for a data plane that just started. */
static int ctl_snapshot(struct cp *cp, void **buf, size_t *len)
{
	Lb__AdminReply reply = LB__ADMIN_REPLY__INIT;
	Lb__Snapshot *snap = NULL;
	void *sbuf;
	size_t slen;
	uint64_t version;
	char err[128];
	int rv;

	if ((rv = cp_state_pack_snapshot(&cp->state, &sbuf, &slen, &version)) !=
	    0)
		return rv;
	rv = lb_wire_snapshot_unpack(sbuf, slen, &snap, err, sizeof(err));
	free(sbuf);
	if (rv != 0)
		return rv;
	reply.status = 200;
	reply.snapshot = snap;
	rv = ctl_pack(&reply, buf, len);
	lb__snapshot__free_unpacked(snap, NULL);
	return rv;
}

/* Every worker's request holds one entry while it runs: with fewer workers
 * than entries, a new request always finds one to claim, so every add and
 * remove reply is kept for its resends. */
_Static_assert(CP_ADMIN_WORKERS < CP_REPLY_CACHE, "reply cache too small");

/* A data plane's outlier ejections go to the event list (the dashboard's),
 * by name only when it is one of ours. */
static void ctl_report_events(struct cp *cp, const Lb__Report *r)
{
	char detail[48];

	snprintf(detail, sizeof(detail), "by data plane %016llx",
	         (unsigned long long)r->dp_id);
	for (size_t i = 0; i < r->n_ejected; i++)
		if (cp_state_has(&cp->state, r->ejected[i]))
			cp_events_add(&cp->state.events, "ejected",
			              r->ejected[i], detail);
}

/* Handles one request message; returns the packed reply. */
static int ctl_handle(struct cp *cp, const void *in, size_t inlen, void **out,
                      size_t *outlen)
{
	Lb__AdminReply reply = LB__ADMIN_REPLY__INIT;
	Lb__AdminRequest *req;
	bool mutating;
	int rv;

	if (lb_wire_request_unpack(in, inlen, &req) != 0) {
		reply.status = 400;
		reply.error = "<Error> malformed admin request";
		return ctl_pack(&reply, out, outlen);
	}
	/* A token set here is required of every request: the control server
	 * changes replicas whoever reaches it. */
	if (cp->cfg.admin_token[0] &&
	    !lb_guard_token_equal(cp->cfg.admin_token, req->token)) {
		/* Not for reports: ten a second from a misconfigured data
		 * plane would flood the log (its own requests say it). */
		if (req->op != LB__ADMIN_REQUEST__OP__REPORT)
			lb_log(LB_WARN, "admin_refused", "op=%d reason=\"%s\"",
			       (int)req->op,
			       req->token ? "wrong token" : "no token");
		lb__admin_request__free_unpacked(req, NULL);
		reply.status = 401;
		reply.error = "<Error> Missing or wrong admin token";
		return ctl_pack(&reply, out, outlen);
	}
	if (req->op == LB__ADMIN_REQUEST__OP__SNAPSHOT) {
		rv = ctl_snapshot(cp, out, outlen);
		lb__admin_request__free_unpacked(req, NULL);
		return rv;
	}
	if (req->op == LB__ADMIN_REQUEST__OP__REPORT) {
		/* Several a second from every data plane: recorded, not
		 * logged. */
		if (req->report) {
			cp_reports_put(&cp->reports, req->report, lb_now_ms());
			ctl_report_events(cp, req->report);
		}
		reply.status = req->report ? 200 : 400;
		lb__admin_request__free_unpacked(req, NULL);
		return ctl_pack(&reply, out, outlen);
	}
	mutating = req->op == LB__ADMIN_REQUEST__OP__ADD ||
	           req->op == LB__ADMIN_REQUEST__OP__REMOVE;
	if (mutating) {
		if (cp_reply_cache_lookup(&cp->cache, req->request_id, out,
		                          outlen)) {
			lb_log(LB_INFO, "admin_resend", "request_id=%016llx",
			       (unsigned long long)req->request_id);
			lb__admin_request__free_unpacked(req, NULL);
			return 0;
		}
	}
	cp_ops_handle(cp, req, &reply);
	rv = ctl_pack(&reply, out, outlen);
	if (req->op > 0 && req->op < CP_ADMIN_OPS &&
	    reply.status < CP_ADMIN_CODES)
		atomic_fetch_add(&cp->stats.admin[req->op][reply.status], 1);
	if (mutating) {
		cp_reply_cache_fill(&cp->cache, req->request_id,
		                    rv == 0 ? *out : NULL,
		                    rv == 0 ? *outlen : 0);
		lb_log(LB_INFO, "admin", "op=%s n=%llu status=%u%s%s",
		       req->op == LB__ADMIN_REQUEST__OP__ADD ? "add" : "rm",
		       (unsigned long long)req->n, reply.status,
		       reply.error ? " error=" : "",
		       reply.error ? reply.error : "");
	}
	cp_ops_reply_fini(&reply);
	lb__admin_request__free_unpacked(req, NULL);
	return rv;
}

static void *ctl_worker(void *arg)
{
	struct cp *cp = arg;
	nng_ctx ctx;
	nng_aio *aio;

	if (nng_ctx_open(&ctx, cp->rep) != 0)
		return NULL;
	if (nng_aio_alloc(&aio, NULL, NULL) != 0) {
		nng_ctx_close(ctx);
		return NULL;
	}
	for (;;) {
		nng_msg *msg, *out;
		void *buf;
		size_t len;
		int rv;

		nng_ctx_recv(ctx, aio);
		nng_aio_wait(aio);
		if ((rv = nng_aio_result(aio)) != 0) {
			if (rv == NNG_ECLOSED)
				break;
			continue;
		}
		msg = nng_aio_get_msg(aio);
		rv = ctl_handle(cp, nng_msg_body(msg), nng_msg_len(msg), &buf,
		                &len);
		nng_msg_free(msg);
		if (rv != 0)
			continue; /* out of memory: the requester times out */
		if (nng_msg_alloc(&out, len) != 0) {
			free(buf);
			continue;
		}
		memcpy(nng_msg_body(out), buf, len);
		free(buf);
		nng_aio_set_msg(aio, out);
		nng_ctx_send(ctx, aio);
		nng_aio_wait(aio);
		if (nng_aio_result(aio) != 0)
			nng_msg_free(out); /* not sent: still ours */
	}
	nng_aio_free(aio);
	nng_ctx_close(ctx);
	return NULL;
}

int cp_ctl_listen(struct cp *cp, char *err, size_t errlen)
{
	int rv;

	cp_reply_cache_init(&cp->cache);
	if ((rv = nng_rep0_open(&cp->rep)) != 0) {
		snprintf(err, errlen, "REP socket: %s", nng_strerror(rv));
		return LB_ERR_SYS;
	}
	/* Requests are small; refuse anything huge before it is read. */
	nng_socket_set_size(cp->rep, NNG_OPT_RECVMAXSZ, 1u << 20);
	if ((rv = nng_listen(cp->rep, cp->cfg.ctl_url, NULL, 0)) != 0) {
		snprintf(err, errlen, "LB_CTL_URL=%s: cannot listen: %s",
		         cp->cfg.ctl_url, nng_strerror(rv));
		nng_close(cp->rep);
		return LB_ERR_SYS;
	}
	return 0;
}

int cp_ctl_serve(struct cp *cp)
{
	for (cp->nadmin = 0; cp->nadmin < CP_ADMIN_WORKERS; cp->nadmin++)
		if (pthread_create(&cp->admin_tid[cp->nadmin], NULL, ctl_worker,
		                   cp) != 0)
			return cp->nadmin ? 0 : LB_ERR_SYS;
	return 0;
}

void cp_ctl_stop(struct cp *cp)
{
	nng_close(cp->rep);
	for (size_t i = 0; i < cp->nadmin; i++)
		pthread_join(cp->admin_tid[i], NULL);
	cp_reply_cache_fini(&cp->cache);
}
