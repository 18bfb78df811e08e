/* dp_admin.h - the admin shim: /rep, /add and /rm over HTTP, turned into
 * protobuf requests to the control plane and back into the contract's
 * JSON.  The shim checks the body's shape; the control plane checks
 * everything that needs its state. */
#ifndef DP_ADMIN_H
#define DP_ADMIN_H

#include <civetweb.h>

/* Registers the three handlers on ctx; data is the struct dp. */
void dp_admin_register(struct mg_context *ctx, void *data);

#endif
