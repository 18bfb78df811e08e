/* dp_admin.h - the admin shim: /rep, /add and /rm over HTTP, turned into
 * protobuf requests to the control plane and back into the contract's
 * JSON.  The shim checks the body's shape; the control plane checks
 * everything that needs its state. */
#ifndef DP_ADMIN_H
#define DP_ADMIN_H

#include <civetweb.h>
#include <stdbool.h>

struct dp;

/* Answers /rep, /add or /rm.  Returns the status answered, or 0 when the
 * path is none of them ("/rep/x" is the replicas'). */
int dp_admin_handle(struct mg_connection *c, struct dp *dp);

/* True when the client is one of the operator's addresses
 * (LB_ADMIN_ALLOW; behind a trusted proxy, the client it names).  Answers
 * nothing. */
bool dp_admin_from_operator(struct mg_connection *c, struct dp *dp);

/* True when path is /rep, /add or /rm. */
bool dp_admin_path(const char *path);

#endif
