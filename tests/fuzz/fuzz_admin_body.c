/* libFuzzer target: the /add and /rm body parser.  Whatever the bytes, it
 * must not crash, leak or read out of bounds, and what it accepts must be
 * well formed: n >= 1 and every hostname a NUL-free C string. */
#include "dp_admin_body.h"
#include "lb_err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Lb__AdminRequest req = LB__ADMIN_REQUEST__INIT;
	char err[512];
	int rv = dp_admin_body_parse((const char *)data, size, &req, err,
	                             sizeof(err));
	if (rv == 0) {
		if (!req.has_n || req.n < 1)
			abort();
		for (size_t i = 0; i < req.n_hostnames; i++)
			if (!req.hostnames[i])
				abort();
	} else if (strncmp(err, "", 1) == 0) {
		abort(); /* a refusal always says why */
	}
	dp_admin_body_fini(&req);
	return 0;
}
