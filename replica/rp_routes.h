/* rp_routes.h - the replica's answers (contract.md, "Replica"). */
#ifndef RP_ROUTES_H
#define RP_ROUTES_H

#include <civetweb.h>

/* Registers /home, /heartbeat and the JSON 404 for everything else.
 * server_id is borrowed and must outlive ctx. */
void rp_routes_register(struct mg_context *ctx, const long long *server_id);

#endif
