/* lb_guard.h - who may administer the balancer: the operator, not the
 * neighbours.
 *
 * Three checks, each answering 403 or 401 itself when it refuses:
 * - the peer's address must be in the allow list (LB_ADMIN_ALLOW; by
 *   default loopback and, in a container, the engine's side of the
 *   published ports): replicas and other hosts are refused;
 * - a browser request from another site must not ride on the operator's
 *   browser (an Origin that is not the balancer's own, Sec-Fetch-Site other
 *   than same-origin or none);
 * - the token (LB_ADMIN_TOKEN), when one is set.
 */
#ifndef LB_GUARD_H
#define LB_GUARD_H

#include "lb_cidr.h"

#include <civetweb.h>
#include <stdbool.h>
#include <stddef.h>

#define LB_GUARD_ALLOW_DEFAULT "loopback,container-host"

/* Reads LB_ADMIN_ALLOW (spec) into allow; a list that admits addresses
 * beyond this host needs a token beside it.  Returns 0, or LB_ERR_INVAL
 * with the reason in err. */
int lb_guard_allow_load(struct lb_cidrs *allow, const char *spec,
                        const char *token, char *err, size_t errlen);

/* Compares a token in constant time (a token cannot be guessed by
 * timing).  got may be NULL. */
bool lb_guard_token_equal(const char *want, const char *got);

/* When the peer is not in allow, answers 403 (naming `setting`) and
 * returns true. */
bool lb_guard_peer_refused(struct mg_connection *c,
                           const struct lb_cidrs *allow, const char *setting);

/* The same for the client address addr[0..len) (behind a trusted proxy,
 * the one it names). */
bool lb_guard_addr_refused(struct mg_connection *c,
                           const struct lb_cidrs *allow, const char *setting,
                           const char *addr, size_t len);

/* When the request names a Host that is neither localhost nor an address
 * (a name a hostile DNS server could point at this host, for a page in the
 * operator's browser to read what it serves), answers 403 and returns
 * true.  No Host (HTTP/1.0) passes. */
bool lb_guard_host_refused(struct mg_connection *c);

/* When the request comes from a page of another site (Origin or
 * Sec-Fetch-Site say so), answers 403 and returns true.  A request with
 * neither field (curl, scripts) passes.  An Origin passes only when it is
 * this balancer's own (http or https, the Host the request names) and
 * that Host is localhost or an address, not a name that could be
 * re-bound to this host by a hostile DNS server. */
bool lb_guard_cross_site_refused(struct mg_connection *c);

#endif
