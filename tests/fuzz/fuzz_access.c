/* libFuzzer target: the access-log line.  The input is split at NUL bytes
 * into the client's method, path and address (hostile bytes, any length);
 * the line must come out whole, printable, bounded and newline-ended. */
#include "dp_access.h"
#include "fuzz_pieces.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	char *method = fuzz_piece(&p, end), *path = fuzz_piece(&p, end),
	     *client = fuzz_piece(&p, end);
	char line[DP_ACCESS_LINE_MAX];
	struct dp_access_entry e = {
	    .client = client,
	    .method = method,
	    .path = path,
	    .status = size % 600,
	    .replica = size % 2 ? "server1" : NULL,
	    .bytes_in = size,
	    .bytes_out = (uint64_t)-1,
	    .duration_us = (uint64_t)size << 40,
	    .retries = (int)(size % 17),
	    .request_id = (unsigned long long)-1,
	};
	size_t n = dp_access_format(line, sizeof(line), &e);

	if (n == 0 || n >= sizeof(line) || line[n - 1] != '\n' ||
	    line[n] != '\0' || strlen(line) != n)
		abort();
	for (size_t i = 0; i + 1 < n; i++)
		if ((unsigned char)line[i] < 0x20 ||
		    (unsigned char)line[i] >= 0x7f)
			abort();
	if (!strstr(line, " request_id="))
		abort(); /* the last field always fits */
	free(method);
	free(path);
	free(client);
	return 0;
}
