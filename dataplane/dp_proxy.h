/* dp_proxy.h - every path that is not /rep, /add or /rm: proxied to the
 * replica that the ring picks for a random 6-digit request id, with a retry
 * to the next distinct replica clockwise when one cannot be reached. */
#ifndef DP_PROXY_H
#define DP_PROXY_H

#include <civetweb.h>

/* civetweb request handler; data is the struct dp. */
int dp_proxy_handle(struct mg_connection *c, void *data);

/* civetweb's begin_request callback: answers what must not reach the
 * handlers (a WebSocket upgrade, 501).  Returns 0 to go on, or the status
 * it answered. */
int dp_proxy_begin_request(struct mg_connection *c);

#endif
