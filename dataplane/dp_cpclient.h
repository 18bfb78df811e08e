/* dp_cpclient.h - requests to the control server over NNG REQ.
 *
 * Many HTTP threads call it at once: each call opens its own REQ context.
 * Connected pipes are counted, so that with no control plane a call fails at
 * once (503) instead of waiting out its timeout.
 */
#ifndef DP_CPCLIENT_H
#define DP_CPCLIENT_H

#include "lb.pb-c.h"

#include <nng/nng.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct dp_cpclient {
	nng_socket sock;
	atomic_int pipes;
	const char *token; /* sent with every request; "" for none */
};

/* Dials url without waiting for the peer (NNG_FLAG_NONBLOCK: a control plane
 * that starts later is found by the redialer).  token (LB_ADMIN_TOKEN, ""
 * for none) is borrowed for the client's life and goes with every request.
 * Returns 0 or LB_ERR_SYS. */
int dp_cpclient_open(struct dp_cpclient *c, const char *url, const char *token,
                     char *err, size_t errlen);
void dp_cpclient_close(struct dp_cpclient *c);

/* True while a pipe to the control plane is connected. */
bool dp_cpclient_connected(struct dp_cpclient *c);

/* Sends req and waits up to timeout_ms for the reply.  Returns 0 and *out
 * owned (lb__admin_reply__free_unpacked()), LB_ERR_UNAVAIL (not connected),
 * LB_ERR_TIMEOUT, or LB_ERR_DECODE; err says why. */
int dp_cpclient_call(struct dp_cpclient *c, const Lb__AdminRequest *req,
                     long long timeout_ms, Lb__AdminReply **out, char *err,
                     size_t errlen);

#endif
