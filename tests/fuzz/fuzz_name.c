/* libFuzzer target: replica-name validation, against a second, naive
 * reading of ^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$; and the static backends'
 * "name=host:port[@weight]" (the hostnames of /add under the static
 * driver come from clients): what it accepts is in range. */
#include "lb_name.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int reference(const char *s, size_t n)
{
	if (n < 1 || n > 63 || !isalnum((unsigned char)s[0]) ||
	    !isascii((unsigned char)s[0]))
		return 0;
	for (size_t i = 1; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isascii(c) ||
		    !(isalnum(c) || c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[128];
	if (size >= sizeof(buf) || memchr(data, 0, size))
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	if (lb_name_valid(buf) != reference(buf, size))
		abort();
	for (int with_weight = 0; with_weight < 2; with_weight++) {
		char name[LB_NAME_MAX + 1], host[LB_HOST_MAX + 1], err[256];
		unsigned port = 0;
		uint32_t weight = 0;
		if (lb_name_backend_parse(buf, name, host, &port,
		                          with_weight ? &weight : NULL, err,
		                          sizeof(err)) != 0)
			continue;
		if (!lb_name_valid(name) || !lb_name_host_valid(host) ||
		    port < 1 || port > 65535 ||
		    (with_weight &&
		     (weight < 1 || weight > LB_BACKEND_WEIGHT_MAX)))
			abort();
	}
	return 0;
}
