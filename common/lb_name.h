/* lb_name.h - replica names: validation and generation.
 *
 * A name is a Docker container name and a hostname on net1, so it must
 * match ^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$ before it goes anywhere near the
 * engine.
 */
#ifndef LB_NAME_H
#define LB_NAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LB_NAME_MAX 63 /* characters, without the NUL */
/* A replica's address: an IP literal or a DNS name (RFC 1035: 253). */
#define LB_HOST_MAX 253

/* True when s is a valid replica name. */
bool lb_name_valid(const char *s);

/* The index of the element of an array whose name field equals name, or
 * -1: v[0..n) are elements of `size` bytes, each with a NUL-terminated name
 * at byte `off` (offsetof(struct x, name)).  Every list of named things in
 * the project is searched this way. */
ssize_t lb_name_find(const void *v, size_t n, size_t size, size_t off,
                     const char *name);

/* True when s is a host a replica can be reached at: an IPv4 address or a
 * DNS name (letters, digits, '-' and '.', at most LB_HOST_MAX). */
bool lb_name_host_valid(const char *s);

/* Parses a static backend, "name=host:port" (LB_BACKENDS, and the
 * hostnames of /add under the static driver), with "@weight" (1..100)
 * after it when weight is not NULL (*weight = 1 without it).  name holds
 * LB_NAME_MAX + 1 bytes, host LB_HOST_MAX + 1.  Returns 0, or LB_ERR_INVAL
 * with the reason in err. */
#define LB_BACKEND_WEIGHT_MAX 100 /* = LB_WEIGHT_MAX (lb_ring.h) */
int lb_name_backend_parse(const char *spec, char *name, char *host,
                          unsigned *port, uint32_t *weight, char *err,
                          size_t errlen);

/* Writes a random valid name ("srv-" and 6 lower-case letters and digits)
 * to buf, which must hold LB_NAME_MAX + 1 bytes.  Uniqueness is the
 * caller's to check. */
void lb_name_random(char *buf, size_t len);

#endif
