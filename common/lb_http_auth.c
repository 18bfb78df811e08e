#include "lb_http_auth.h"

#include "lb_guard.h"
#include "lb_http_send.h"

#include <string.h>

static bool auth_token_ok(const struct mg_connection *c, const char *token,
                          bool query_ok)
{
	const char *h = mg_get_header(c, "Authorization");
	const char *q = mg_get_request_info(c)->query_string;
	char got[256];

	if (h && strncmp(h, "Bearer ", 7) == 0 &&
	    lb_guard_token_equal(token, h + 7))
		return true;
	return query_ok && q &&
	       mg_get_var(q, strlen(q), "token", got, sizeof(got)) > 0 &&
	       lb_guard_token_equal(token, got);
}

bool lb_http_auth_refused(struct mg_connection *c, const char *token,
                          bool query_ok)
{
	if (!token[0] || auth_token_ok(c, token, query_ok))
		return false;
	lb_http_send_error(c, 401, "WWW-Authenticate: Bearer\r\n",
	                   "Missing or wrong admin token");
	return true;
}
