/* The data plane's routing tables (dp_table): built from a snapshot,
 * swapped by the router, freed by their last reader; ejections carried to
 * the next table only for the same replica at the same address. */
#include "dp_table.h"
#include "lb_err.h"
#include "lb_wire.h"
#include "lbt.h"

#include <stdlib.h>

/* A checked snapshot of n replicas (ids 1..n, port 6000 + id) at version
 * v; free with lb__snapshot__free_unpacked(). */
static uint64_t snapshot_boot = 1; /* the boot id snapshot() gives */

static Lb__Snapshot *snapshot(uint32_t n, uint64_t v, const char *host3)
{
	struct lb_preset p;
	struct lb_ring *r;
	Lb__Snapshot s = LB__SNAPSHOT__INIT, *out;
	Lb__Preset wp = LB__PRESET__INIT;
	Lb__Replica reps[8], *rp[8];
	char names[8][16], err[128];
	size_t len;
	void *buf;

	LBT_EQ(lb_preset_lookup("mix", &p), 0);
	LBT_EQ(lb_ring_create(&p, &r), 0);
	/* Listed in reverse: the table sorts them by id. */
	for (uint32_t k = 0; k < n; k++) {
		uint32_t id = n - k;
		LBT_EQ(lb_ring_add(r, id, 1), 0);
		lb__replica__init(&reps[k]);
		snprintf(names[k], sizeof(names[k]), "r%u", id);
		reps[k].name = names[k];
		reps[k].server_id = id;
		reps[k].host = id == 3 && host3 ? (char *)host3 : "127.0.0.1";
		reps[k].port = 6000 + id;
		rp[k] = &reps[k];
	}
	lb_wire_preset_set(&wp, &p);
	s.boot_id = snapshot_boot;
	s.version = v;
	s.preset = &wp;
	s.n_replicas = n;
	s.replicas = rp;
	s.n_owner = p.slots;
	s.owner = (uint32_t *)lb_ring_table(r);
	LBT_EQ(lb_wire_pack(&s.base, &buf, &len), 0);
	LBT_EQ(lb_wire_snapshot_unpack(buf, len, &out, err, sizeof(err)), 0);
	free(buf);
	lb_ring_destroy(r);
	return out;
}

static struct dp_table *table(uint32_t n, uint64_t v, const char *host3,
                              const struct dp_table *prev)
{
	Lb__Snapshot *s = snapshot(n, v, host3);
	struct dp_table *t;
	LBT_EQ(dp_table_build(s, prev, &t), 0);
	lb__snapshot__free_unpacked(s, NULL);
	return t;
}

static void test_build_and_lookup(void)
{
	struct dp_table *t = table(5, 10, NULL, NULL);
	LBT_EQ(t->n, 5);
	for (uint32_t id = 1; id <= 5; id++) {
		struct dp_backend *b = dp_table_backend(t, id);
		LBT_CHECK(b != NULL);
		LBT_EQ(b->id, id);
		LBT_EQ(b->port, 6000 + id);
		LBT_CHECK(b->up != NULL);
	}
	LBT_CHECK(dp_table_backend(t, 6) == NULL);
	LBT_CHECK(dp_table_backend(t, 0) == NULL);
	dp_table_release(t);
}

static void test_same_address_shares_one_pool(void)
{
	struct dp_table *a = table(3, 1, NULL, NULL);
	struct dp_table *b = table(3, 2, NULL, a);
	struct dp_table *c = table(3, 3, "10.0.0.3", b);
	LBT_CHECK(dp_table_backend(a, 2)->up == dp_table_backend(b, 2)->up);
	LBT_CHECK(dp_table_backend(b, 3)->up != dp_table_backend(c, 3)->up);
	dp_table_release(a);
	dp_table_release(b);
	dp_table_release(c); /* LeakSanitizer checks the pools went too */
}

static void test_ejections_carry_over_for_the_same_address(void)
{
	struct dp_table *a = table(3, 1, NULL, NULL), *b, *c;
	atomic_store(&dp_table_backend(a, 2)->ejected_until, 12345);
	atomic_store(&dp_table_backend(a, 3)->ejected_until, 777);
	b = table(3, 2, NULL, a);
	LBT_EQ(atomic_load(&dp_table_backend(b, 2)->ejected_until), 12345);
	LBT_EQ(atomic_load(&dp_table_backend(b, 1)->ejected_until), 0);
	/* Replica 3 moved: a new address is a new chance. */
	c = table(3, 3, "10.0.0.3", b);
	LBT_EQ(atomic_load(&dp_table_backend(c, 3)->ejected_until), 0);
	LBT_EQ(atomic_load(&dp_table_backend(c, 2)->ejected_until), 12345);
	dp_table_release(a);
	dp_table_release(b);
	dp_table_release(c);
}

static void test_router_swaps_newer_only_and_counts_readers(void)
{
	struct dp_router r;
	struct dp_table *t1 = table(3, 5, NULL, NULL), *t0, *t2, *held;

	dp_router_init(&r);
	LBT_CHECK(dp_router_acquire(&r) == NULL);
	LBT_EQ(dp_router_version(&r), 0);
	LBT_CHECK(dp_router_offer(&r, t1));
	held = dp_router_acquire(&r); /* a request in flight */
	LBT_CHECK(held == t1);
	LBT_EQ(atomic_load(&t1->refs), 2);
	t0 = table(3, 4, NULL, NULL); /* older: refused and freed */
	LBT_CHECK(!dp_router_offer(&r, t0));
	LBT_EQ(dp_router_version(&r), 5);
	t2 = table(4, 6, NULL, t1);
	LBT_CHECK(dp_router_offer(&r, t2));
	LBT_EQ(dp_router_version(&r), 6);
	/* The old table lives until its last reader lets go. */
	LBT_EQ(atomic_load(&held->refs), 1);
	LBT_EQ(held->n, 3);
	dp_table_release(held);
	dp_router_fini(&r);
}

static void test_router_takes_a_new_boot_whatever_its_version(void)
{
	struct dp_router r;

	dp_router_init(&r);
	snapshot_boot = 0xA;
	LBT_CHECK(dp_router_offer(&r, table(3, 5000, NULL, NULL)));
	/* The control plane restarted with its clock an hour behind. */
	snapshot_boot = 0xB;
	LBT_CHECK(dp_router_wants(&r, 0xB, 1000));
	LBT_CHECK(dp_router_offer(&r, table(3, 1000, NULL, NULL)));
	LBT_EQ(dp_router_version(&r), 1000);
	LBT_CHECK(dp_router_offer(&r, table(3, 1001, NULL, NULL)));
	LBT_CHECK(!dp_router_offer(&r, table(3, 1000, NULL, NULL)));
	/* A late message of the start that was replaced: never again. */
	snapshot_boot = 0xA;
	LBT_CHECK(!dp_router_wants(&r, 0xA, 9999));
	LBT_CHECK(!dp_router_offer(&r, table(3, 9999, NULL, NULL)));
	LBT_EQ(dp_router_version(&r), 1001);
	snapshot_boot = 1;
	dp_router_fini(&r);
}

static const struct lbt_case cases[] = {
    {"router_takes_a_new_boot_whatever_its_version",
     test_router_takes_a_new_boot_whatever_its_version},
    {"build_and_lookup", test_build_and_lookup},
    {"same_address_shares_one_pool", test_same_address_shares_one_pool},
    {"ejections_carry_over_for_the_same_address",
     test_ejections_carry_over_for_the_same_address},
    {"router_swaps_newer_only_and_counts_readers",
     test_router_swaps_newer_only_and_counts_readers},
};

LBT_MAIN(cases)
