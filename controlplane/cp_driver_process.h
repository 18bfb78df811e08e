/* cp_driver_process.h - replicas as local child processes on loopback
 * ports: the embedded default, no Docker needed.
 *
 * Each replica runs in its own session (so a Ctrl-C on the terminal reaches
 * only the control plane, which then stops them in order) and is recorded
 * in <state_dir>/<instance>.json, so a control plane that was killed finds
 * them again on restart instead of leaving orphans.
 */
#ifndef CP_DRIVER_PROCESS_H
#define CP_DRIVER_PROCESS_H

#include "cp_driver.h"

#include <stddef.h>

struct cp_config;

/* Uses cfg's replica_bin, state_dir, instance and replica_threads (cfg is
 * copied from, not kept).  Returns 0 and *out (destroy with
 * (*out)->ops->destroy()), or an error with the reason in err. */
int cp_driver_process_create(const struct cp_config *cfg,
                             cp_driver_exit_cb on_exit, void *arg,
                             struct cp_driver **out, char *err, size_t errlen);

#endif
