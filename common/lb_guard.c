#include "lb_guard.h"

#include "lb_err.h"
#include "lb_http.h"
#include "lb_http_send.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int lb_guard_allow_load(struct lb_cidrs *allow, const char *spec,
                        const char *token, char *err, size_t errlen)
{
	int rv = lb_cidrs_parse(allow, spec, "LB_ADMIN_ALLOW",
	                        &lb_cidr_env_default, err, errlen);

	if (rv != 0)
		return rv;
	if (allow->beyond_host && !token[0]) {
		snprintf(err, errlen,
		         "LB_ADMIN_ALLOW=%.200s admits addresses beyond this "
		         "host: set LB_ADMIN_TOKEN too",
		         spec);
		return LB_ERR_INVAL;
	}
	return 0;
}

bool lb_guard_token_equal(const char *want, const char *got)
{
	size_t wl = strlen(want), gl = got ? strlen(got) : 0;
	unsigned char diff = 0;

	for (size_t i = 0; i < wl; i++)
		diff |= (unsigned char)want[i] ^
		        (unsigned char)(i < gl ? got[i] : 0);
	return diff == 0 && gl == wl;
}

bool lb_guard_addr_refused(struct mg_connection *c,
                           const struct lb_cidrs *allow, const char *setting,
                           const char *addr, size_t len)
{
	if (lb_cidrs_match(allow, addr, len))
		return false;
	lb_http_send_error(c, 403, NULL,
	                   "Administration is answered only to the operator's "
	                   "addresses (%s); not to %.*s",
	                   setting, (int)(len < 64 ? len : 64), addr);
	return true;
}

bool lb_guard_peer_refused(struct mg_connection *c,
                           const struct lb_cidrs *allow, const char *setting)
{
	const char *peer = mg_get_request_info(c)->remote_addr;

	return lb_guard_addr_refused(c, allow, setting, peer, strlen(peer));
}

/* The host part of "name:port", "[v6]:port" or "name" is localhost or an
 * address literal. */
static bool guard_host_literal(const char *host)
{
	char name[64];
	const char *end;
	size_t n;
	unsigned char a[16];

	if (host[0] == '[') {
		end = strchr(host, ']');
		host++;
	} else {
		end = strchr(host, ':');
	}
	n = end ? (size_t)(end - host) : strlen(host);
	if (n == 0 || n >= sizeof(name))
		return false;
	memcpy(name, host, n);
	name[n] = '\0';
	return strcasecmp(name, "localhost") == 0 ||
	       inet_pton(AF_INET, name, a) == 1 ||
	       inet_pton(AF_INET6, name, a) == 1;
}

/* The Origin is this balancer's own: scheme://<the request's Host>. */
static bool guard_origin_own(const char *origin, const char *host)
{
	const char *rest;

	if (!host || !guard_host_literal(host))
		return false;
	if (strncasecmp(origin, "http://", 7) == 0)
		rest = origin + 7;
	else if (strncasecmp(origin, "https://", 8) == 0)
		rest = origin + 8;
	else
		return false; /* "null", a file, an extension */
	return strcasecmp(rest, host) == 0;
}

bool lb_guard_host_refused(struct mg_connection *c)
{
	const char *host = mg_get_header(c, "Host");

	if (!host || guard_host_literal(host))
		return false;
	lb_http_send_error(c, 403, NULL,
	                   "The pages answer Host: localhost or an address, "
	                   "not a name");
	return true;
}

bool lb_guard_cross_site_refused(struct mg_connection *c)
{
	const char *origin = mg_get_header(c, "Origin");
	const char *site = mg_get_header(c, "Sec-Fetch-Site");
	const char *why = NULL;

	if (site && strcasecmp(site, "same-origin") != 0 &&
	    strcasecmp(site, "none") != 0)
		why = "Sec-Fetch-Site";
	else if (origin && !guard_origin_own(origin, mg_get_header(c, "Host")))
		why = "Origin";
	if (!why)
		return false;
	lb_http_send_error(c, 403, NULL,
	                   "Administration from a page of another site is "
	                   "refused (%s)",
	                   why);
	return true;
}
