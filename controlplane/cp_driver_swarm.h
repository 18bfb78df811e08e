/* cp_driver_swarm.h - replicas as Docker Swarm services (LB_DRIVER=swarm),
 * through the Engine API: one service per replica, named by its hostname,
 * one task each, on an attachable overlay network (LB_NETWORK), endpoint
 * mode dnsrr (this kind of kernel has no IPVS for service VIPs).  The
 * services' restart condition is "none": repair is the control plane's (a
 * dead task's service is deleted and a replacement with a new name made).
 * The control plane must run on a manager node, on the overlay network, so
 * that it reaches the tasks' addresses. */
#ifndef CP_DRIVER_SWARM_H
#define CP_DRIVER_SWARM_H

#include "cp_config.h"
#include "cp_driver.h"

int cp_driver_swarm_create(const struct cp_config *cfg,
                           cp_driver_exit_cb on_exit, void *arg,
                           struct cp_driver **out, char *err, size_t errlen);

#endif
