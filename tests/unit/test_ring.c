#include "lb_err.h"
#include "lb_ring.h"
#include "lbt.h"

static struct lb_ring *ring_with(const char *preset, uint32_t nservers)
{
	struct lb_preset p;
	struct lb_ring *r;
	LBT_EQ(lb_preset_lookup(preset, &p), 0);
	LBT_EQ(lb_ring_create(&p, &r), 0);
	for (uint32_t i = 1; i <= nservers; i++)
		LBT_EQ(lb_ring_add(r, i, 1), 0);
	return r;
}

/* The exact slots of servers 1..3 under the assignment's functions,
 * worked out by hand from Phi(i, j) = i^2 + j^2 + 2j + 25 (mod 512) with
 * linear probing on collisions. */
static void assignment_slots_pinned(void)
{
	static const uint32_t want[3][9] = {
	    {26, 29, 34, 41, 50, 61, 74, 89, 106},
	    /* Phi(2,0) = 29 is taken by server 1: probed to 30. */
	    {30, 32, 37, 44, 53, 64, 77, 92, 109},
	    /* Phi(3,0) = 34 -> 35 and Phi(3,1) = 37 -> 38. */
	    {35, 38, 42, 49, 58, 69, 82, 97, 114},
	};
	struct lb_ring *r = ring_with("assignment", 3);
	const uint32_t *t = lb_ring_table(r);
	int occupied = 0;

	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 9; j++)
			LBT_EQ(t[want[i][j]], i + 1);
	for (int s = 0; s < 512; s++)
		occupied += t[s] != 0;
	LBT_EQ(occupied, 27);
	lb_ring_destroy(r);
}

static void probing_follows_join_order(void)
{
	/* Server 2 first: it keeps slot 29, and server 1 probes past it. */
	struct lb_preset p;
	struct lb_ring *r;
	LBT_EQ(lb_preset_lookup("assignment", &p), 0);
	LBT_EQ(lb_ring_create(&p, &r), 0);
	LBT_EQ(lb_ring_add(r, 2, 1), 0);
	LBT_EQ(lb_ring_add(r, 1, 1), 0);
	LBT_EQ(lb_ring_table(r)[29], 2);
	LBT_EQ(lb_ring_table(r)[30], 1);
	lb_ring_destroy(r);
}

static void lookup_own_slot_and_clockwise(void)
{
	struct lb_ring *r = ring_with("assignment", 3);
	uint32_t pos;
	/* H(4) = 41: slot 41 is server 1's own, so it serves. */
	LBT_EQ(lb_ring_lookup(r, 4, &pos), 1);
	LBT_EQ(pos, 41);
	/* H(2) = 25: the next occupied slot clockwise is 26 (server 1). */
	LBT_EQ(lb_ring_lookup(r, 2, &pos), 1);
	LBT_EQ(pos, 26);
	/* H(3) = 32: server 2's slot. */
	LBT_EQ(lb_ring_lookup(r, 3, NULL), 2);
	lb_ring_destroy(r);
}

static void lookup_wraps_around(void)
{
	struct lb_ring *r = ring_with("assignment", 3);
	uint32_t pos;
	/* H(14) = 241, past the last virtual server (114): wraps to 26. */
	LBT_EQ(lb_ring_slot_of(r, 14), 241);
	LBT_EQ(lb_ring_lookup(r, 14, &pos), 1);
	LBT_EQ(pos, 26);
	lb_ring_destroy(r);
}

static void next_distinct_walks_clockwise(void)
{
	struct lb_ring *r = ring_with("assignment", 3);
	uint32_t pos, skip[3];
	/* From slot 41 (server 1): 42 is server 3, then 44 server 2. */
	skip[0] = lb_ring_lookup(r, 4, &pos);
	LBT_EQ(skip[0], 1);
	skip[1] = lb_ring_next_distinct(r, &pos, skip, 1);
	LBT_EQ(skip[1], 3);
	LBT_EQ(pos, 42);
	skip[2] = lb_ring_next_distinct(r, &pos, skip, 2);
	LBT_EQ(skip[2], 2);
	LBT_EQ(pos, 44);
	LBT_EQ(lb_ring_next_distinct(r, &pos, skip, 3), 0);
	lb_ring_destroy(r);
}

static void next_distinct_visits_every_replica_once(void)
{
	struct lb_ring *r = ring_with("mix", 7);
	unsigned long long seed = 7;
	for (int k = 0; k < 200; k++) {
		uint32_t pos, seen[8];
		size_t n = 0;
		seen[n++] = lb_ring_lookup(r, lbt_key6(&seed), &pos);
		uint32_t id;
		while ((id = lb_ring_next_distinct(r, &pos, seen, n)) != 0) {
			LBT_CHECK(n < 7);
			seen[n++] = id;
		}
		LBT_EQ(n, 7);
	}
	lb_ring_destroy(r);
}

static void removal_moves_only_removed_keys(void)
{
	enum { NKEYS = 10000 };
	static uint32_t before[NKEYS];
	static unsigned long long keys[NKEYS];
	unsigned long long seed = 42;
	int moved = 0;

	for (int pi = 0; pi < 2; pi++) {
		struct lb_ring *r = ring_with(pi ? "mix" : "assignment", 5);
		for (int k = 0; k < NKEYS; k++) {
			keys[k] = lbt_key6(&seed);
			before[k] = lb_ring_lookup(r, keys[k], NULL);
		}
		LBT_EQ(lb_ring_remove(r, 3), 0);
		LBT_CHECK(!lb_ring_has(r, 3));
		for (int k = 0; k < NKEYS; k++) {
			uint32_t now = lb_ring_lookup(r, keys[k], NULL);
			LBT_CHECK(now != 3);
			if (before[k] != 3)
				LBT_EQ(now, before[k]);
			else
				moved++;
		}
		lb_ring_destroy(r);
	}
	LBT_CHECK(moved > 0);
}

static void empty_ring(void)
{
	struct lb_ring *r = ring_with("assignment", 0);
	uint32_t pos = 0, skip = 0;
	LBT_EQ(lb_ring_lookup(r, 123456, &pos), 0);
	LBT_EQ(lb_ring_next_distinct(r, &pos, &skip, 0), 0);
	LBT_EQ(lb_ring_count(r), 0);
	/* Add then remove everything: empty again. */
	LBT_EQ(lb_ring_add(r, 1, 1), 0);
	LBT_EQ(lb_ring_remove(r, 1), 0);
	LBT_EQ(lb_ring_lookup(r, 123456, NULL), 0);
	lb_ring_destroy(r);
}

static void bad_operations_change_nothing(void)
{
	struct lb_ring *r = ring_with("assignment", 2);
	uint32_t copy[512];
	memcpy(copy, lb_ring_table(r), sizeof(copy));
	LBT_EQ(lb_ring_add(r, 0, 1), LB_ERR_INVAL);
	LBT_EQ(lb_ring_add(r, 2, 1), LB_ERR_EXISTS);
	LBT_EQ(lb_ring_remove(r, 9), LB_ERR_NOTFOUND);
	LBT_CHECK(memcmp(copy, lb_ring_table(r), sizeof(copy)) == 0);
	LBT_EQ(lb_ring_count(r), 2);
	lb_ring_destroy(r);
}

static void full_ring_is_refused_whole(void)
{
	struct lb_preset p = {"tiny", 18, 9, LB_HASH_QUADRATIC,
	                      LB_PLACE_LINEAR};
	struct lb_ring *r;
	uint32_t copy[18];
	LBT_EQ(lb_ring_create(&p, &r), 0);
	LBT_EQ(lb_ring_add(r, 1, 1), 0);
	LBT_EQ(lb_ring_add(r, 2, 1), 0);
	memcpy(copy, lb_ring_table(r), sizeof(copy));
	LBT_EQ(lb_ring_add(r, 3, 1), LB_ERR_FULL);
	LBT_CHECK(memcmp(copy, lb_ring_table(r), sizeof(copy)) == 0);
	LBT_CHECK(!lb_ring_has(r, 3));
	LBT_EQ(lb_preset_capacity(&p), 2);
	lb_ring_destroy(r);
}

static void deterministic_and_table_round_trip(void)
{
	const char *presets[] = {"assignment", "mix", "maglev"};
	for (int pi = 0; pi < 3; pi++) {
		struct lb_ring *a = ring_with(presets[pi], 4);
		struct lb_ring *b = ring_with(presets[pi], 4);
		struct lb_ring *c;
		const struct lb_preset *p = lb_ring_preset(a);
		unsigned long long seed = 1;
		LBT_CHECK(memcmp(lb_ring_table(a), lb_ring_table(b),
		                 p->slots * sizeof(uint32_t)) == 0);
		LBT_EQ(lb_ring_from_table(p, lb_ring_table(a), p->slots, &c),
		       0);
		LBT_EQ(lb_ring_count(c), 4);
		for (int k = 0; k < 2000; k++) {
			unsigned long long key = lbt_key6(&seed);
			LBT_EQ(lb_ring_lookup(a, key, NULL),
			       lb_ring_lookup(c, key, NULL));
		}
		LBT_EQ(
		    lb_ring_from_table(p, lb_ring_table(a), p->slots - 1, &c),
		    LB_ERR_INVAL);
		lb_ring_destroy(a);
		lb_ring_destroy(b);
		lb_ring_destroy(c);
	}
}

/* The share of 10,000 random 6-digit keys per replica, for n replicas. */
static void shares(const char *preset, uint32_t n, double *minr, double *maxr)
{
	struct lb_ring *r = ring_with(preset, n);
	unsigned long long seed = 2024 + n;
	int count[16] = {0};
	for (int k = 0; k < 10000; k++)
		count[lb_ring_lookup(r, lbt_key6(&seed), NULL)]++;
	*minr = 1e9;
	*maxr = 0;
	for (uint32_t i = 1; i <= n; i++) {
		double ratio = count[i] / (10000.0 / n);
		*minr = ratio < *minr ? ratio : *minr;
		*maxr = ratio > *maxr ? ratio : *maxr;
	}
	lb_ring_destroy(r);
}

static void maglev_balances_within_10_percent(void)
{
	for (uint32_t n = 2; n <= 6; n++) {
		double lo, hi;
		shares("maglev", n, &lo, &hi);
		LBT_CHECK(lo >= 0.9 && hi <= 1.1);
	}
}

static void assignment_preset_is_skewed(void)
{
	/* The assignment's functions put most keys on server 1 (analysis). */
	double lo, hi;
	shares("assignment", 3, &lo, &hi);
	LBT_CHECK(hi > 2.0);
}

static void maglev_removal_moves_few_other_keys(void)
{
	enum { NKEYS = 10000 };
	struct lb_ring *r = ring_with("maglev", 6);
	static uint32_t before[NKEYS];
	unsigned long long seed = 5, key;
	int others_moved = 0;
	for (int k = 0; k < NKEYS; k++)
		before[k] = lb_ring_lookup(r, lbt_key6(&seed), NULL);
	LBT_EQ(lb_ring_remove(r, 4), 0);
	seed = 5;
	for (int k = 0; k < NKEYS; k++) {
		key = lbt_key6(&seed);
		uint32_t now = lb_ring_lookup(r, key, NULL);
		LBT_CHECK(now != 4);
		others_moved += before[k] != 4 && now != before[k];
	}
	/* Maglev trades a little disruption for balance: under 5 %. */
	LBT_CHECK(others_moved < NKEYS / 20);
	lb_ring_destroy(r);
}

static void preset_checks(void)
{
	char err[128];
	struct lb_preset p;
	LBT_EQ(lb_preset_lookup("nope", &p), LB_ERR_NOTFOUND);
	LBT_EQ(lb_preset_lookup("maglev", &p), 0);
	p.slots = 65536; /* not prime */
	LBT_EQ(lb_preset_check(&p, err, sizeof(err)), LB_ERR_INVAL);
	LBT_CHECK(strstr(err, "prime") != NULL);
	LBT_EQ(lb_preset_lookup("assignment", &p), 0);
	p.vnodes = 0;
	LBT_EQ(lb_preset_check(&p, err, sizeof(err)), LB_ERR_INVAL);
	p.vnodes = 9;
	p.slots = 0;
	LBT_EQ(lb_preset_check(&p, err, sizeof(err)), LB_ERR_INVAL);
	LBT_EQ(lb_preset_lookup("assignment", &p), 0);
	LBT_EQ(lb_preset_capacity(&p), 56);
}

static uint32_t slots_of(const struct lb_ring *r, uint32_t id)
{
	const uint32_t *t = lb_ring_table(r);
	uint32_t n = 0;

	for (uint32_t s = 0; s < lb_ring_preset(r)->slots; s++)
		n += t[s] == id;
	return n;
}

/* Weight w: K x w virtual servers under linear placement, the first K
 * where weight 1 puts them (the assignment's slots stay pinned). */
static void linear_weight_multiplies_the_virtual_servers(void)
{
	struct lb_ring *r = ring_with("assignment", 2), *one;

	LBT_EQ(lb_ring_add(r, 3, 3), 0);
	LBT_EQ(slots_of(r, 3), 27);
	LBT_EQ(slots_of(r, 1), 9);
	one = ring_with("assignment", 3);
	for (uint32_t s = 0; s < 512; s++)
		if (lb_ring_table(one)[s] == 3)
			LBT_EQ(lb_ring_table(r)[s], 3);
	LBT_EQ(lb_ring_add(r, 4, 0), LB_ERR_INVAL);
	LBT_EQ(lb_ring_add(r, 4, LB_WEIGHT_MAX + 1), LB_ERR_INVAL);
	LBT_CHECK(!lb_ring_has(r, 4));
	/* 512 slots hold 56 weight-1 replicas of 9: a weight that does not
	 * fit is refused, and nothing changes. */
	LBT_EQ(lb_ring_add(r, 5, 60), LB_ERR_FULL);
	LBT_EQ(slots_of(r, 5), 0);
	lb_ring_destroy(r);
	lb_ring_destroy(one);
}

/* Maglev: weights 1, 1, 1, 3 give the last half the table, the others a
 * sixth each, within a slot per unit of weight. */
static void maglev_weight_scales_the_share(void)
{
	struct lb_ring *r = ring_with("maglev", 3);
	uint32_t m = lb_ring_preset(r)->slots, big;

	LBT_EQ(lb_ring_add(r, 4, 3), 0);
	big = slots_of(r, 4);
	LBT_CHECK(big >= m / 2 - 3 && big <= m / 2 + 3);
	for (uint32_t id = 1; id <= 3; id++)
		LBT_CHECK(slots_of(r, id) >= m / 6 - 3 &&
		          slots_of(r, id) <= m / 6 + 3);
	/* Removing it gives the table back to the three evenly. */
	LBT_EQ(lb_ring_remove(r, 4), 0);
	for (uint32_t id = 1; id <= 3; id++)
		LBT_CHECK(slots_of(r, id) >= m / 3 - 1 &&
		          slots_of(r, id) <= m / 3 + 1);
	lb_ring_destroy(r);
}

static const struct lbt_case cases[] = {
    {"linear_weight_multiplies_the_virtual_servers",
     linear_weight_multiplies_the_virtual_servers},
    {"maglev_weight_scales_the_share", maglev_weight_scales_the_share},
    {"assignment_slots_pinned", assignment_slots_pinned},
    {"probing_follows_join_order", probing_follows_join_order},
    {"lookup_own_slot_and_clockwise", lookup_own_slot_and_clockwise},
    {"lookup_wraps_around", lookup_wraps_around},
    {"next_distinct_walks_clockwise", next_distinct_walks_clockwise},
    {"next_distinct_visits_every_replica_once",
     next_distinct_visits_every_replica_once},
    {"removal_moves_only_removed_keys", removal_moves_only_removed_keys},
    {"empty_ring", empty_ring},
    {"bad_operations_change_nothing", bad_operations_change_nothing},
    {"full_ring_is_refused_whole", full_ring_is_refused_whole},
    {"deterministic_and_table_round_trip", deterministic_and_table_round_trip},
    {"maglev_balances_within_10_percent", maglev_balances_within_10_percent},
    {"assignment_preset_is_skewed", assignment_preset_is_skewed},
    {"maglev_removal_moves_few_other_keys",
     maglev_removal_moves_few_other_keys},
    {"preset_checks", preset_checks},
};
LBT_MAIN(cases)
