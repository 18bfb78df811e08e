/* dp_proxy.h - every path that is not /rep, /add or /rm: proxied to the
 * replica that the ring picks for a random 6-digit request id, with a retry
 * to the next distinct replica clockwise when one cannot be reached. */
#ifndef DP_PROXY_H
#define DP_PROXY_H

#include <civetweb.h>

struct dp;

/* Proxies the request; returns the status the client got. */
int dp_proxy_handle(struct mg_connection *c, struct dp *dp);

#endif
