/* lb_nng.h - how every NNG socket of the project dials its peer.
 *
 * A dial is asynchronous (NNG_FLAG_NONBLOCK: a plain nng_dial() to a peer
 * that is not up yet fails at once and never retries), and the reconnect
 * interval is capped at LB_NNG_RECONNECT_MAX_MS: after a peer's outage, of
 * any length, the link is back within that time of the peer's return,
 * instead of after a backoff that grew while it was away.
 */
#ifndef LB_NNG_H
#define LB_NNG_H

#include <nng/nng.h>
#include <stddef.h>

#define LB_NNG_RECONNECT_MIN_MS 50
#define LB_NNG_RECONNECT_MAX_MS 250

/* Dials url from s with the reconnect bounds above.  Returns 0, or
 * LB_ERR_INVAL (a bad address) with "<setting>=<url>: <reason>" in err. */
int lb_nng_dial(nng_socket s, const char *url, const char *setting, char *err,
                size_t errlen);

#endif
