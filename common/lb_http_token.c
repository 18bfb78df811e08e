#include "lb_http_token.h"

#include <string.h>
#include <strings.h>

bool lb_http_token_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

bool lb_http_token_listed(const char *list, size_t len, const char *name,
                          size_t nlen)
{
	const char *v = list, *end = list + len;

	while (v < end) {
		const char *comma = memchr(v, ',', (size_t)(end - v));
		const char *t = comma ? comma : end;
		while (v < t && (*v == ' ' || *v == '\t'))
			v++;
		while (t > v && (t[-1] == ' ' || t[-1] == '\t'))
			t--;
		if ((size_t)(t - v) == nlen && strncasecmp(v, name, nlen) == 0)
			return true;
		v = comma ? comma + 1 : end;
	}
	return false;
}
