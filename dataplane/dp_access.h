/* dp_access.h - the access log (LB_ACCESS_LOG=stderr|<file>; off by
 * default): one logfmt line per proxied request, written with one write(2)
 * to a descriptor opened for appending, so lines from many workers never
 * interleave. */
#ifndef DP_ACCESS_H
#define DP_ACCESS_H

#include <stddef.h>
#include <stdint.h>

struct dp_access_entry {
	const char *client;
	const char *method;
	const char *path;
	int status;
	const char *replica; /* NULL: none */
	uint64_t bytes_in;   /* request body */
	uint64_t bytes_out;  /* everything written to the client */
	uint64_t duration_us;
	/* Its phases (dp_metrics.h): waiting in line, connecting, the
	 * replica's time to the answer's head (-1: no answer). */
	uint64_t queue_us, connect_us;
	int64_t response_us;
	int retries;
	unsigned long long request_id;
};

/* Opens the log: "" (off), "stderr", or a file path.  Returns the
 * descriptor (-1: off), or -2 when the file cannot be opened (errno). */
int dp_access_open(const char *spec);

/* The longest line, its newline included. */
#define DP_ACCESS_LINE_MAX 4096

/* Formats e's line into line[0..cap), cap > 64: always whole, printable
 * ASCII, ending in a newline and a NUL, whatever the client sent (a long
 * method or path is cut, marked with "..." and its path_len given).
 * Returns its length, the newline included. */
size_t dp_access_format(char *line, size_t cap,
                        const struct dp_access_entry *e);

/* Writes one line to fd (does nothing when fd < 0). */
void dp_access_write(int fd, const struct dp_access_entry *e);

#endif
