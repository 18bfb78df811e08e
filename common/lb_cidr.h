/* lb_cidr.h - address lists: who may administer the balancer, which
 * proxies in front of it are trusted to say who the client is.
 *
 * A list is written "rule,rule,...", each rule one of:
 *   a.b.c.d[/bits]   an IPv4 address or network
 *   x:y::z[/bits]    an IPv6 address or network
 *   loopback         127.0.0.0/8 and ::1
 *   container-host   inside a container (Docker, Swarm): its default
 *                    gateway, the address from which the engine's
 *                    published ports reach it; outside one, nothing
 *   none             nobody (alone)
 * Addresses are compared as the kernel gives them (an IPv4-mapped IPv6
 * address is its IPv4 address).
 */
#ifndef LB_CIDR_H
#define LB_CIDR_H

#include <stdbool.h>
#include <stddef.h>

#define LB_CIDR_MAX 32 /* rules in one list */

struct lb_cidr {
	int family; /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned bits;
};

struct lb_cidrs {
	struct lb_cidr v[LB_CIDR_MAX];
	size_t n;
	/* Some rule admits an address beyond this host (not loopback, not
	 * the container's host): such a list needs a token beside it. */
	bool beyond_host;
};

/* Where container-host is found; tests point it at files of their own. */
struct lb_cidr_env {
	const char *route_path;  /* /proc/net/route */
	const char *marker_path; /* /.dockerenv: present in a container */
};
extern const struct lb_cidr_env lb_cidr_env_default;

/* Parses spec into l.  Returns 0, or LB_ERR_INVAL with the reason in err
 * (naming `setting`); l is then empty. */
int lb_cidrs_parse(struct lb_cidrs *l, const char *spec, const char *setting,
                   const struct lb_cidr_env *env, char *err, size_t errlen);

/* True when the address s[0..len) (text, as civetweb or a forwarding
 * header gives it) is in l.  Text that is no address is in no list. */
bool lb_cidrs_match(const struct lb_cidrs *l, const char *s, size_t len);

/* The list as text, for logs (a container-host rule shows its address). */
void lb_cidrs_format(const struct lb_cidrs *l, char *out, size_t len);

#endif
