#include "dp_cpclient.h"

#include "lb_err.h"
#include "lb_nng.h"
#include "lb_wire.h"

#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs on an NNG thread: only counts, never touches the socket. */
static void cpclient_pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct dp_cpclient *c = arg;
	(void)p;
	if (ev == NNG_PIPE_EV_ADD_POST)
		atomic_fetch_add(&c->pipes, 1);
	else if (ev == NNG_PIPE_EV_REM_POST)
		atomic_fetch_sub(&c->pipes, 1);
}

int dp_cpclient_open(struct dp_cpclient *c, const char *url, const char *token,
                     char *err, size_t errlen)
{
	int rv;

	atomic_init(&c->pipes, 0);
	c->token = token;
	if ((rv = nng_req0_open(&c->sock)) != 0) {
		snprintf(err, errlen, "REQ socket: %s", nng_strerror(rv));
		return LB_ERR_SYS;
	}
	nng_pipe_notify(c->sock, NNG_PIPE_EV_ADD_POST, cpclient_pipe_event, c);
	nng_pipe_notify(c->sock, NNG_PIPE_EV_REM_POST, cpclient_pipe_event, c);
	nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, LB_WIRE_MAX_BYTES);
	/* No timed resend: an /add can take long, and the control plane
	 * answers a resent request id from its cache anyway. */
	nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME,
	                  NNG_DURATION_INFINITE);
	if ((rv = lb_nng_dial(c->sock, url, "LB_CTL_URL", err, errlen))) {
		nng_close(c->sock);
		return rv;
	}
	return 0;
}

void dp_cpclient_close(struct dp_cpclient *c)
{
	nng_close(c->sock);
}

bool dp_cpclient_connected(struct dp_cpclient *c)
{
	return atomic_load(&c->pipes) > 0;
}

int dp_cpclient_call(struct dp_cpclient *c, const Lb__AdminRequest *req,
                     long long timeout_ms, Lb__AdminReply **out, char *err,
                     size_t errlen)
{
	nng_ctx ctx;
	nng_aio *aio = NULL;
	nng_msg *msg = NULL;
	void *buf;
	size_t len;
	int rv;

	if (!dp_cpclient_connected(c)) {
		snprintf(err, errlen, "not connected to the control plane");
		return LB_ERR_UNAVAIL;
	}
	Lb__AdminRequest with_token = *req;
	with_token.token = c->token[0] ? (char *)c->token : NULL;
	if ((rv = lb_wire_pack(&with_token.base, &buf, &len)) != 0) {
		snprintf(err, errlen, "cannot encode the request");
		return rv;
	}
	if (nng_ctx_open(&ctx, c->sock) != 0) {
		free(buf);
		snprintf(err, errlen, "cannot open a request context");
		return LB_ERR_SYS;
	}
	if (nng_aio_alloc(&aio, NULL, NULL) != 0 ||
	    nng_msg_alloc(&msg, len) != 0) {
		rv = LB_ERR_NOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	memcpy(nng_msg_body(msg), buf, len);
	nng_aio_set_timeout(aio, (nng_duration)timeout_ms);
	nng_aio_set_msg(aio, msg);
	nng_ctx_send(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		nng_msg_free(msg); /* not sent: still ours */
		goto fail;
	}
	nng_ctx_recv(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0)
		goto fail;
	msg = nng_aio_get_msg(aio);
	rv = lb_wire_reply_unpack(nng_msg_body(msg), nng_msg_len(msg), out, err,
	                          errlen);
	nng_msg_free(msg);
	goto out;
fail:
	snprintf(err, errlen, "control plane did not answer: %s",
	         nng_strerror(rv));
	rv = rv == NNG_ETIMEDOUT ? LB_ERR_TIMEOUT : LB_ERR_UNAVAIL;
out:
	nng_aio_free(aio);
	nng_ctx_close(ctx);
	free(buf);
	return rv;
}
