/* cp_probe.h - GET /heartbeat to many replicas at once (libcurl multi on
 * the calling thread), each with its own deadline. */
#ifndef CP_PROBE_H
#define CP_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cp_probe {
	const char *host; /* borrowed */
	uint16_t port;
	bool ok; /* out: answered 200 within the timeout */
};

/* Probes every target concurrently; fills ok.  Returns 0 or LB_ERR_NOMEM.
 * Call from one thread per call (no handle is shared). */
int cp_probe_run(struct cp_probe *t, size_t n, long timeout_ms);

#endif
