/* cp_driver_static.h - servers that the balancer did not start
 * (LB_DRIVER=static): LB_BACKENDS at start, /add "name=host:port" to
 * register more, /rm to deregister.  There is nothing to start, stop or
 * respawn: a backend that fails its health checks leaves the ring and comes
 * back after LB_RISE good ones (cp_state), and stays listed meanwhile. */
#ifndef CP_DRIVER_STATIC_H
#define CP_DRIVER_STATIC_H

#include "cp_driver.h"

#include <stddef.h>

struct cp_config;

/* Parses cfg->backends.  Returns 0 and *out, or LB_ERR_INVAL with the
 * reason in err (naming LB_BACKENDS). */
int cp_driver_static_create(const struct cp_config *cfg, struct cp_driver **out,
                            char *err, size_t errlen);

#endif
