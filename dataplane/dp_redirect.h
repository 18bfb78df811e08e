/* dp_redirect.h - where plain HTTP is sent with LB_HTTP_REDIRECT=1: the
 * same host, path and query on HTTPS.  A pure function of the request's
 * Host field and target, so that it can be fuzzed alone. */
#ifndef DP_REDIRECT_H
#define DP_REDIRECT_H

#include <stddef.h>

/* The longest Location made, NUL included. */
#define DP_REDIRECT_MAX 8192

/* Writes "https://HOST[:port]PATH[?QUERY]" into out (port left out when
 * 443), HOST being host's name part: a DNS name or an IPv4 address, or an
 * IPv6 address in brackets, with any ":port" after it dropped.  path must
 * begin with '/'; query may be NULL.  Returns the length, or -1 when host is
 * none of those, when path or query hold a byte that is not printable
 * ASCII, or when it does not fit in cap (NUL included). */
int dp_redirect_location(const char *host, const char *path, const char *query,
                         long long port, char *out, size_t cap);

#endif
