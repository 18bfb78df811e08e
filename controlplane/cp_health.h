/* cp_health.h - heartbeats: GET /heartbeat to every replica in the ring,
 * concurrently, every heartbeat_ms; fail_threshold failures in a row make a
 * replica dead (it leaves the ring and the repair thread replaces it). */
#ifndef CP_HEALTH_H
#define CP_HEALTH_H

#include "cp.h"

int cp_health_start(struct cp *cp);
void cp_health_stop(struct cp *cp);

#endif
