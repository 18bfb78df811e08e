/* cp_ops.h - the admin operations (list, add, remove) and the replica
 * start sequence that add and repair share. */
#ifndef CP_OPS_H
#define CP_OPS_H

#include "cp.h"
#include "lb.pb-c.h"

/* Fills reply for LIST, ADD and REMOVE.  ADD and REMOVE take cp->orch
 * themselves, only while they check and change the state: the long waits
 * (replicas starting, the drain, stopping) hold no lock.  Strings in reply
 * are owned by it: free with cp_ops_reply_fini(). */
void cp_ops_handle(struct cp *cp, const Lb__AdminRequest *req,
                   Lb__AdminReply *reply);
void cp_ops_reply_fini(Lb__AdminReply *reply);

/* Starts replicas r[0..n) through the driver and waits until each answers
 * /heartbeat.  On success fills their host/port and returns 0; on failure
 * stops every one it started (nothing half-made is left), writes the reason
 * to err and returns LB_ERR_ENGINE or LB_ERR_TIMEOUT.  Call without
 * cp->orch: it waits up to LB_START_TIMEOUT_MS. */
int cp_ops_start_replicas(struct cp *cp, struct cp_replica *r, size_t n,
                          char *err, size_t errlen);

/* Stops and deletes replica `name` through the driver; true when it did.
 * When that fails, the repair thread retries it later (cp_ops_bury()), so
 * nothing is left behind. */
bool cp_ops_stop_replica(struct cp *cp, const char *name);

/* Deletes what died and what a failed stop left (a dead container still
 * holds its name); each name stays taken until its stop succeeded. */
void cp_ops_bury(struct cp *cp);

#endif
