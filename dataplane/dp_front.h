/* dp_front.h - the data plane's front door: civetweb's hooks on the client
 * port.  Every request enters through begin_request, before civetweb's own
 * routing (whose handler lookup takes a process-wide lock three times per
 * request): the per-address cap, WebSocket refusal, then /rep, /add, /rm
 * or the proxy. */
#ifndef DP_FRONT_H
#define DP_FRONT_H

#include <civetweb.h>

/* The hooks of struct lb_http_server_cfg; user is the struct dp. */
int dp_front_begin_request(struct mg_connection *c, void *user);
void dp_front_conn_open(struct mg_connection *c, void *user);
void dp_front_conn_close(const struct mg_connection *c, void *user);

#endif
