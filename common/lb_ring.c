#include "lb_ring.h"

#include "lb_array.h"
#include "lb_err.h"
#include "lb_hash.h"
#include "lb_idset.h"

#include <stdlib.h>
#include <string.h>

#define RING_NONE UINT32_MAX

struct lb_ring {
	struct lb_preset preset;
	uint32_t *owner;   /* slot -> server id, 0 = empty */
	uint32_t *route;   /* slot -> serving slot, RING_NONE when empty */
	uint32_t *members; /* server ids in join order */
	uint32_t *weights; /* members' weights, 1..LB_WEIGHT_MAX */
	size_t nmembers;
	size_t cap;
};

static void ring_reroute(struct lb_ring *r)
{
	uint32_t n = r->preset.slots;
	uint32_t first = RING_NONE, next;

	for (uint32_t s = 0; s < n; s++) {
		if (r->owner[s]) {
			first = s;
			break;
		}
	}
	if (first == RING_NONE) {
		for (uint32_t s = 0; s < n; s++)
			r->route[s] = RING_NONE;
		return;
	}
	/* One backward pass: a slot is served by itself when occupied, else by
	 * whatever serves the slot after it; past the end wraps to `first`. */
	next = first;
	for (uint32_t s = n; s-- > 0;) {
		if (r->owner[s])
			next = s;
		r->route[s] = next;
	}
}

static int ring_alloc(const struct lb_preset *p, struct lb_ring **out)
{
	char err[128];
	struct lb_ring *r;

	if (lb_preset_check(p, err, sizeof(err)) != 0)
		return LB_ERR_INVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return LB_ERR_NOMEM;
	r->preset = *p;
	r->owner = calloc(p->slots, sizeof(uint32_t));
	r->route = malloc(p->slots * sizeof(uint32_t));
	if (!r->owner || !r->route) {
		lb_ring_destroy(r);
		return LB_ERR_NOMEM;
	}
	*out = r;
	return 0;
}

int lb_ring_create(const struct lb_preset *p, struct lb_ring **out)
{
	struct lb_ring *r;
	int rv = ring_alloc(p, &r);
	if (rv != 0)
		return rv;
	ring_reroute(r);
	*out = r;
	return 0;
}

void lb_ring_destroy(struct lb_ring *r)
{
	if (!r)
		return;
	free(r->owner);
	free(r->route);
	free(r->members);
	free(r->weights);
	free(r);
}

bool lb_ring_has(const struct lb_ring *r, uint32_t id)
{
	for (size_t i = 0; i < r->nmembers; i++)
		if (r->members[i] == id)
			return true;
	return false;
}

static int ring_members_push(struct lb_ring *r, uint32_t id, uint32_t weight)
{
	size_t cap = r->cap;

	if (lb_array_grow((void **)&r->members, &cap, r->nmembers + 1,
	                  sizeof(*r->members)) != 0 ||
	    lb_array_grow((void **)&r->weights, &r->cap, r->nmembers + 1,
	                  sizeof(*r->weights)) != 0)
		return LB_ERR_NOMEM;
	r->members[r->nmembers] = id;
	r->weights[r->nmembers++] = weight;
	return 0;
}

int lb_ring_from_table(const struct lb_preset *p, const uint32_t *owner,
                       size_t n, struct lb_ring **out)
{
	struct lb_idset seen;
	struct lb_ring *r;
	int rv;

	if (n != p->slots)
		return LB_ERR_INVAL;
	if ((rv = ring_alloc(p, &r)) != 0)
		return rv;
	memcpy(r->owner, owner, n * sizeof(uint32_t));
	/* Members in order of first appearance; a set keeps this O(slots). */
	lb_idset_init(&seen);
	for (size_t s = 0; s < n; s++) {
		int added;
		if (!owner[s])
			continue;
		added = lb_idset_add(&seen, owner[s]);
		if (added < 0 ||
		    (added && (rv = ring_members_push(r, owner[s], 1)) != 0)) {
			lb_idset_fini(&seen);
			lb_ring_destroy(r);
			return added < 0 ? LB_ERR_NOMEM : rv;
		}
	}
	lb_idset_fini(&seen);
	ring_reroute(r);
	*out = r;
	return 0;
}

/* Linear probing: Phi(i, j) mod slots, then the next free slot clockwise;
 * K x weight virtual servers (j = 0..K-1 are the assignment's). */
static int ring_place_linear(struct lb_ring *r, uint32_t id, uint32_t weight)
{
	uint32_t n = r->preset.slots;
	uint32_t placed = 0;

	for (uint32_t j = 0; j < r->preset.vnodes * weight; j++) {
		uint32_t s =
		    (uint32_t)(lb_hash_vnode(r->preset.hash, id, j) % n);
		uint32_t probes = 0;
		while (r->owner[s] != 0) {
			if (++probes == n)
				goto full;
			s = (s + 1) % n;
		}
		r->owner[s] = id;
		placed++;
	}
	return 0;
full:
	/* Undo the virtual servers placed so far: nothing changes on failure.
	 */
	for (uint32_t s = 0; s < n && placed; s++) {
		if (r->owner[s] == id) {
			r->owner[s] = 0;
			placed--;
		}
	}
	return LB_ERR_FULL;
}

/* Maglev's table population: every member has a permutation of the slots
 * (offset + k * skip mod a prime M), and the members take turns claiming the
 * next unclaimed slot of their permutation until the table is full; a
 * member of weight w claims w slots a turn, so it owns w / (sum of the
 * weights) of the table, within w slots. */
static int ring_place_maglev(struct lb_ring *r)
{
	uint32_t m = r->preset.slots;
	size_t nm = r->nmembers;
	uint64_t *cur, *skip;
	uint32_t filled = 0;

	memset(r->owner, 0, m * sizeof(uint32_t));
	if (nm == 0)
		return 0;
	cur = malloc(nm * sizeof(*cur));
	skip = malloc(nm * sizeof(*skip));
	if (!cur || !skip) {
		free(cur);
		free(skip);
		return LB_ERR_NOMEM;
	}
	for (size_t i = 0; i < nm; i++) {
		uint64_t id = r->members[i];
		cur[i] = lb_hash_mix64(id ^ 0x5bd1e9955bd1e995ULL) % m;
		skip[i] = m > 1 ? lb_hash_mix64(id ^ 0xc2b2ae3d27d4eb4fULL) %
		                          (m - 1) +
		                      1
		                : 1;
	}
	for (;;) {
		for (size_t i = 0; i < nm; i++) {
			for (uint32_t k = 0; k < r->weights[i]; k++) {
				while (r->owner[cur[i]] != 0)
					cur[i] = (cur[i] + skip[i]) % m;
				r->owner[cur[i]] = r->members[i];
				cur[i] = (cur[i] + skip[i]) % m;
				if (++filled == m)
					goto done;
			}
		}
	}
done:
	free(cur);
	free(skip);
	return 0;
}

int lb_ring_add(struct lb_ring *r, uint32_t id, uint32_t weight)
{
	int rv;

	if (id == 0 || weight < 1 || weight > LB_WEIGHT_MAX)
		return LB_ERR_INVAL;
	if (lb_ring_has(r, id))
		return LB_ERR_EXISTS;
	if (r->preset.placement == LB_PLACE_MAGLEV &&
	    r->nmembers >= r->preset.slots)
		return LB_ERR_FULL;
	if ((rv = ring_members_push(r, id, weight)) != 0)
		return rv;
	if (r->preset.placement == LB_PLACE_LINEAR)
		rv = ring_place_linear(r, id, weight);
	else
		rv = ring_place_maglev(r);
	if (rv != 0) {
		r->nmembers--;
		if (r->preset.placement == LB_PLACE_MAGLEV)
			(void)ring_place_maglev(r); /* restore the old table */
		return rv;
	}
	ring_reroute(r);
	return 0;
}

int lb_ring_remove(struct lb_ring *r, uint32_t id)
{
	size_t i;

	for (i = 0; i < r->nmembers; i++)
		if (r->members[i] == id)
			break;
	if (i == r->nmembers)
		return LB_ERR_NOTFOUND;
	memmove(&r->members[i], &r->members[i + 1],
	        (r->nmembers - i - 1) * sizeof(uint32_t));
	memmove(&r->weights[i], &r->weights[i + 1],
	        (r->nmembers - i - 1) * sizeof(uint32_t));
	r->nmembers--;
	if (r->preset.placement == LB_PLACE_LINEAR) {
		for (uint32_t s = 0; s < r->preset.slots; s++)
			if (r->owner[s] == id)
				r->owner[s] = 0;
	} else if (ring_place_maglev(r) != 0) {
		/* Cannot happen without memory; keep the id out of the table
		 * at least, so that nothing routes to the removed replica. */
		for (uint32_t s = 0; s < r->preset.slots; s++)
			if (r->owner[s] == id)
				r->owner[s] = 0;
	}
	ring_reroute(r);
	return 0;
}

uint32_t lb_ring_slot_of(const struct lb_ring *r, uint64_t key)
{
	return (uint32_t)(lb_hash_request(r->preset.hash, key) %
	                  r->preset.slots);
}

uint32_t lb_ring_lookup(const struct lb_ring *r, uint64_t key, uint32_t *pos)
{
	uint32_t p = r->route[lb_ring_slot_of(r, key)];
	if (p == RING_NONE)
		return 0;
	if (pos)
		*pos = p;
	return r->owner[p];
}

static bool in_list(const uint32_t *v, size_t n, uint32_t x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

uint32_t lb_ring_next_distinct(const struct lb_ring *r, uint32_t *pos,
                               const uint32_t *skip, size_t nskip)
{
	uint32_t n = r->preset.slots;
	uint32_t start = *pos % n, p = start;

	if (r->route[0] == RING_NONE)
		return 0;
	/* route[] jumps over empty slots.  Distances are measured clockwise
	 * from start; the walk ends when a jump does not move further away,
	 * i.e. when it wrapped back to (or past) where it began. */
	for (;;) {
		uint32_t nx = r->route[(p + 1) % n];
		uint32_t dp = (p + n - start) % n;
		uint32_t dnx = (nx + n - start) % n;
		if (dnx <= dp)
			return 0;
		p = nx;
		if (!in_list(skip, nskip, r->owner[p])) {
			*pos = p;
			return r->owner[p];
		}
	}
}

const uint32_t *lb_ring_table(const struct lb_ring *r)
{
	return r->owner;
}

const struct lb_preset *lb_ring_preset(const struct lb_ring *r)
{
	return &r->preset;
}

bool lb_ring_fits(const struct lb_ring *r, size_t n, uint32_t weight)
{
	uint64_t free_slots = 0;

	if (r->preset.placement == LB_PLACE_MAGLEV)
		return r->nmembers + n <= r->preset.slots;
	for (uint32_t s = 0; s < r->preset.slots; s++)
		free_slots += r->owner[s] == 0;
	return (uint64_t)n * r->preset.vnodes * weight <= free_slots;
}

size_t lb_ring_count(const struct lb_ring *r)
{
	return r->nmembers;
}

uint32_t lb_ring_member(const struct lb_ring *r, size_t i)
{
	return i < r->nmembers ? r->members[i] : 0;
}
