/* cp_metrics.h - the control plane's /metrics, on its own listener
 * (LB_METRICS_LISTEN, 127.0.0.1:5103 by default): replicas desired and
 * ready, heartbeats, deaths, replacements and how long they took, admin
 * requests, snapshots published, engine errors. */
#ifndef CP_METRICS_H
#define CP_METRICS_H

#include "cp.h"

/* Starts the listener (nothing when cfg.metrics_listen is empty).
 * Returns 0 or an error with the reason in err. */
int cp_metrics_start(struct cp *cp, char *err, size_t errlen);
void cp_metrics_stop(struct cp *cp);

/* Writes the page. */
void cp_metrics_render(struct cp *cp, struct lb_prom *b);

#endif
