/* The data plane's routing tables (dp_table): built from a snapshot,
 * swapped by the router, freed by their last reader; ejections carried to
 * the next table only for the same replica at the same address. */
#include "dp_table.h"
#include "lb_err.h"
#include "lb_wire.h"
#include "lbt.h"
#include "table_snapshot.h"
#include "dp_router.h"

#include <stdlib.h>

static uint64_t snapshot_boot = 1; /* the boot id table() gives */

static struct dp_table *table(uint32_t n, uint64_t v, const char *host3,
                              const struct dp_table *prev)
{
	Lb__Snapshot *s = table_snapshot(n, v, snapshot_boot, host3);
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
