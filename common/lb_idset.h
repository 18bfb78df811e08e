/* lb_idset.h - a set of non-zero 32-bit ids (open addressing), for the
 * O(slots) checks over a slot table: which replicas own slots, whether an
 * owner is a listed replica. */
#ifndef LB_IDSET_H
#define LB_IDSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lb_idset {
	uint32_t *v; /* 0 = empty */
	size_t cap;  /* a power of two */
	size_t n;
};

/* An empty set; nothing is allocated until the first insert. */
void lb_idset_init(struct lb_idset *s);
void lb_idset_fini(struct lb_idset *s);

/* Adds id (> 0).  Returns 1 when added, 0 when already there, or
 * LB_ERR_NOMEM (negative). */
int lb_idset_add(struct lb_idset *s, uint32_t id);

bool lb_idset_has(const struct lb_idset *s, uint32_t id);

#endif
