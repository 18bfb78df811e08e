#include "dp_redirect.h"

#include "lb_buf.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <string.h>

/* civetweb already refuses control bytes in a request head; this says it
 * again for what goes back out in a Location field. */
static bool redirect_printable(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* The length of host's name part, or 0 when it is not a name or address
 * followed by nothing or by ":digits". */
static size_t redirect_host_len(const char *host)
{
	char v6[64];
	size_t n;
	unsigned char a[16];

	if (host[0] == '[') {
		const char *end = strchr(host, ']');
		n = end ? (size_t)(end - host) - 1 : 0;
		if (n == 0 || n >= sizeof(v6))
			return 0;
		memcpy(v6, host + 1, n);
		v6[n] = '\0';
		if (inet_pton(AF_INET6, v6, a) != 1)
			return 0;
		n += 2;
	} else {
		n = strspn(host, "abcdefghijklmnopqrstuvwxyz"
		                 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-");
		if (n == 0 || n > 253 || host[0] == '.' || host[0] == '-')
			return 0;
	}
	if (host[n] == ':' && host[n + 1] != '\0' &&
	    strspn(host + n + 1, "0123456789") == strlen(host + n + 1))
		return n;
	return host[n] == '\0' ? n : 0;
}

int dp_redirect_location(const char *host, const char *path, const char *query,
                         long long port, char *out, size_t cap)
{
	size_t n = redirect_host_len(host);
	struct lb_buf b;

	if (n == 0 || path[0] != '/' || !redirect_printable(path) ||
	    !redirect_printable(query) || cap == 0)
		return -1;
	lb_buf_init(&b, out, cap);
	lb_buf_printf(&b, "https://%.*s", (int)n, host);
	if (port != 443)
		lb_buf_printf(&b, ":%lld", port);
	lb_buf_str(&b, path);
	if (query && query[0])
		lb_buf_printf(&b, "?%s", query);
	return b.cut ? -1 : (int)b.len;
}
