#include "lb_idset.h"

#include "lb_err.h"
#include "lb_hash.h"

#include <stdlib.h>

void lb_idset_init(struct lb_idset *s)
{
	s->v = NULL;
	s->cap = s->n = 0;
}

void lb_idset_fini(struct lb_idset *s)
{
	free(s->v);
	lb_idset_init(s);
}

static size_t idset_slot(const struct lb_idset *s, uint32_t id)
{
	size_t i = (size_t)lb_hash_mix64(id) & (s->cap - 1);
	while (s->v[i] != 0 && s->v[i] != id)
		i = (i + 1) & (s->cap - 1);
	return i;
}

static int idset_grow(struct lb_idset *s)
{
	struct lb_idset big = {.cap = s->cap ? s->cap * 2 : 64};
	if (!(big.v = calloc(big.cap, sizeof(uint32_t))))
		return LB_ERR_NOMEM;
	for (size_t i = 0; i < s->cap; i++)
		if (s->v[i])
			big.v[idset_slot(&big, s->v[i])] = s->v[i];
	big.n = s->n;
	free(s->v);
	*s = big;
	return 0;
}

int lb_idset_add(struct lb_idset *s, uint32_t id)
{
	size_t i;
	/* At most half full, so probes stay short. */
	if ((s->n + 1) * 2 > s->cap && idset_grow(s) != 0)
		return -LB_ERR_NOMEM;
	i = idset_slot(s, id);
	if (s->v[i] == id)
		return 0;
	s->v[i] = id;
	s->n++;
	return 1;
}

bool lb_idset_has(const struct lb_idset *s, uint32_t id)
{
	return s->cap && s->v[idset_slot(s, id)] == id;
}
