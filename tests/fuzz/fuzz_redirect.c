/* libFuzzer target: the Location of a redirect to HTTPS.  The input is
 * split at NUL bytes into the client's Host field, path and query (hostile
 * bytes, any length).  A Location, when made, must be one printable token
 * that starts with "https://" and the Host's own name, and fit. */
#include "dp_redirect.h"
#include "fuzz_pieces.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	char *host = fuzz_piece(&p, end), *path = fuzz_piece(&p, end),
	     *query = fuzz_piece(&p, end);
	char loc[DP_REDIRECT_MAX];
	size_t hostlen = strcspn(host, ":");
	int n;

	if (host[0] == '[')
		hostlen = strcspn(host, "]") + 1;
	n = dp_redirect_location(host, path, size % 3 ? query : NULL,
	                         (long long)(size % 70000), loc,
	                         size % 5 ? sizeof(loc) : 40);
	if (n >= 0) {
		if ((size_t)n != strlen(loc) || strncmp(loc, "https://", 8) ||
		    hostlen > (size_t)n - 8 ||
		    strncmp(loc + 8, host, hostlen) != 0)
			abort();
		for (int i = 0; i < n; i++)
			if ((unsigned char)loc[i] <= ' ' ||
			    (unsigned char)loc[i] >= 0x7f)
				abort();
	}
	free(host);
	free(path);
	free(query);
	return 0;
}
