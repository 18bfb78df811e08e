/* dp_admin_body.h - the body of /add and /rm: JSON in, an admin request
 * out.  Its own module so that a fuzzer can drive it without HTTP. */
#ifndef DP_ADMIN_BODY_H
#define DP_ADMIN_BODY_H

#include "lb.pb-c.h"

#include <stddef.h>

/* Parses {"n": integer >= 1, "hostnames": [string, ...]} (hostnames may be
 * missing) from body[0..len) into req->n and req->hostnames.  Returns 0, or
 * LB_ERR_INVAL / LB_ERR_NOMEM with the client's mistake in err.  Either way
 * free req's fields with dp_admin_body_fini(). */
int dp_admin_body_parse(const char *body, size_t len, Lb__AdminRequest *req,
                        char *err, size_t errlen);

/* Frees the hostnames dp_admin_body_parse() stored in req. */
void dp_admin_body_fini(Lb__AdminRequest *req);

#endif
