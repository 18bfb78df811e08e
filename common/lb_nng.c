#include "lb_nng.h"

#include "lb_err.h"

#include <stdio.h>

int lb_nng_dial(nng_socket s, const char *url, const char *setting, char *err,
                size_t errlen)
{
	int rv;

	/* Set on the socket before the dialer exists, so that it inherits
	 * them. */
	nng_socket_set_ms(s, NNG_OPT_RECONNMINT, LB_NNG_RECONNECT_MIN_MS);
	nng_socket_set_ms(s, NNG_OPT_RECONNMAXT, LB_NNG_RECONNECT_MAX_MS);
	if ((rv = nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
		snprintf(err, errlen, "%s=%s: %s", setting, url,
		         nng_strerror(rv));
		return LB_ERR_INVAL;
	}
	return 0;
}
