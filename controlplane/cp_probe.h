/* cp_probe.h - health checks to many replicas at once (libcurl multi on
 * the calling thread), each with its own deadline: GET LB_HEALTH_PATH
 * (/heartbeat by default), healthy when the status is in LB_HEALTH_STATUS
 * (200..399 by default). */
#ifndef CP_PROBE_H
#define CP_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cp_probe {
	const char *host; /* borrowed */
	uint16_t port;
	bool ok; /* out: a healthy answer within the timeout */
};

/* What a healthy answer is. */
struct cp_check {
	const char *path; /* "/heartbeat" */
	int status_min, status_max;
};

/* Parses LB_HEALTH_STATUS ("200-399" or "200") into c.  Returns 0, or
 * LB_ERR_INVAL. */
int cp_probe_parse_status(const char *s, struct cp_check *c);

/* Probes every target concurrently; fills ok.  Returns 0 or LB_ERR_NOMEM.
 * Call from one thread per call (no handle is shared). */
int cp_probe_run(const struct cp_check *check, struct cp_probe *t, size_t n,
                 long timeout_ms);

#endif
