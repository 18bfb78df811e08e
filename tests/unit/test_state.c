/* The control plane's state (cp_state): the managed replicas in join
 * order, the ring, and the rules that keep them consistent. */
#include "cp_state.h"
#include "lb_buf.h"
#include "lb_err.h"
#include "lbt.h"

#include <stdlib.h>

static void init(struct cp_state *s)
{
	struct lb_preset p;
	LBT_EQ(lb_preset_lookup("assignment", &p), 0);
	LBT_EQ(cp_state_init(s, &p, NULL), 0);
}

/* Adds named replicas with fresh ids, UP and in the ring. */
static void add(struct cp_state *s, const char *const *names, size_t n)
{
	struct cp_replica r[8];
	uint32_t first = cp_state_reserve_ids(s, (uint32_t)n);
	memset(r, 0, sizeof(r));
	for (size_t i = 0; i < n; i++) {
		snprintf(r[i].name, sizeof(r[i].name), "%s", names[i]);
		r[i].id = first + (uint32_t)i;
		snprintf(r[i].host, sizeof(r[i].host), "127.0.0.1");
		r[i].port = (uint16_t)(7000 + r[i].id);
	}
	LBT_EQ(cp_state_add_up(s, r, n), 0);
}

/* The names in join order, joined by spaces. */
static const char *order(struct cp_state *s)
{
	static char out[512];
	struct cp_replica *v;
	struct lb_buf b;
	size_t n;
	LBT_EQ(cp_state_copy(s, &v, &n), 0);
	lb_buf_init(&b, out, sizeof(out));
	for (size_t i = 0; i < n; i++)
		lb_buf_printf(&b, "%s%s", i ? " " : "", v[i].name);
	LBT_CHECK(!b.cut);
	free(v);
	return out;
}

static void test_add_and_remove_keep_join_order(void)
{
	static const char *const a[] = {"server1", "server2", "server3"};
	static const char *const b[] = {"S5", "S4"};
	char rm[2][LB_NAME_MAX + 1] = {"server2", "S5"};
	struct cp_replica gone[2];
	struct cp_state s;
	uint64_t v0;

	init(&s);
	add(&s, a, 3);
	add(&s, b, 2);
	LBT_CHECK(strcmp(order(&s), "server1 server2 server3 S5 S4") == 0);
	LBT_EQ(lb_ring_count(s.ring), 5);
	v0 = cp_state_version(&s);
	LBT_EQ(cp_state_remove(&s, rm, 2, gone), 0);
	LBT_CHECK(gone[0].spawned && gone[1].spawned);
	LBT_CHECK(strcmp(gone[0].name, "server2") == 0 && gone[0].id == 2);
	LBT_CHECK(strcmp(order(&s), "server1 server3 S4") == 0);
	LBT_EQ(lb_ring_count(s.ring), 3);
	LBT_CHECK(!lb_ring_has(s.ring, 2));
	LBT_CHECK(cp_state_version(&s) > v0); /* a change is a new version */
	cp_state_fini(&s);
}

static void test_dead_replica_is_replaced_in_place_with_a_new_id(void)
{
	static const char *const a[] = {"server1", "server2", "server3"};
	struct cp_replica *v;
	struct cp_state s;
	size_t n;

	init(&s);
	add(&s, a, 3);
	LBT_CHECK(cp_state_mark_dead(&s, "server2", "test"));
	LBT_CHECK(!lb_ring_has(s.ring, 2)); /* out of the ring at once */
	LBT_EQ(cp_state_copy(&s, &v, &n), 0);
	LBT_EQ(n, 3); /* N stays */
	LBT_CHECK(strcmp(v[0].name, "server1") == 0);
	LBT_CHECK(strcmp(v[1].name, "server3") == 0);
	LBT_CHECK(strncmp(v[2].name, "srv-", 4) == 0);
	LBT_EQ(v[2].st, CP_R_STARTING);
	LBT_EQ(v[2].id, 4); /* ids are never reused */
	LBT_CHECK(cp_state_grave_pending(&s, "server2"));
	/* It joins the ring when it answers. */
	LBT_EQ(cp_state_promote(&s, v[2].name, "127.0.0.1", 7004), 0);
	LBT_CHECK(lb_ring_has(s.ring, 4));
	LBT_EQ(cp_state_promote(&s, "nobody", "127.0.0.1", 1), LB_ERR_NOTFOUND);
	LBT_CHECK(!cp_state_mark_dead(&s, "nobody", "test"));
	free(v);
	cp_state_fini(&s);
}

static void test_ids_are_never_reused(void)
{
	static const char *const a[] = {"a1", "a2"};
	static const char *const b[] = {"b1"};
	char rm[2][LB_NAME_MAX + 1] = {"a1", "a2"};
	struct cp_replica gone[2];
	struct cp_replica *v;
	struct cp_state s;
	size_t n;

	init(&s);
	add(&s, a, 2);
	LBT_EQ(cp_state_remove(&s, rm, 2, gone), 0);
	add(&s, b, 1);
	LBT_EQ(cp_state_copy(&s, &v, &n), 0);
	LBT_EQ(v[0].id, 3);
	free(v);
	cp_state_bump_next_id(&s, 10); /* adoption found id 10 */
	LBT_EQ(cp_state_reserve_ids(&s, 1), 11);
	cp_state_fini(&s);
}

static void test_heartbeats_count_failures_in_a_row(void)
{
	static const char *const a[] = {"h1"};
	struct cp_state s;

	init(&s);
	add(&s, a, 1);
	LBT_CHECK(!cp_state_heartbeat(&s, "h1", false, 2, 2));
	LBT_CHECK(!cp_state_heartbeat(&s, "h1", true, 2, 2)); /* reset */
	LBT_CHECK(!cp_state_heartbeat(&s, "h1", false, 2, 2));
	LBT_CHECK(cp_state_heartbeat(&s, "h1", false, 2, 2));
	cp_state_fini(&s);
}

static void test_names_taken_by_an_add_in_progress(void)
{
	static const char *const a[] = {"server1"};
	struct cp_replica r[2];
	struct cp_state s;

	init(&s);
	add(&s, a, 1);
	memset(r, 0, sizeof(r));
	snprintf(r[0].name, sizeof(r[0].name), "new1");
	snprintf(r[1].name, sizeof(r[1].name), "new2");
	LBT_EQ(cp_state_take_names(&s, r, 2), 0);
	LBT_CHECK(cp_state_name_used(&s, "new1"));
	LBT_CHECK(!cp_state_has(&s, "new1")); /* not managed yet */
	LBT_EQ(cp_state_count(&s), 1);
	LBT_EQ(cp_state_count_with_taken(&s), 3);
	/* Another add cannot take them, nor a managed name. */
	LBT_EQ(cp_state_take_names(&s, r + 1, 1), LB_ERR_EXISTS);
	snprintf(r[1].name, sizeof(r[1].name), "server1");
	LBT_EQ(cp_state_take_names(&s, r + 1, 1), LB_ERR_EXISTS);
	/* Given back: free again. */
	cp_state_give_back(&s, r, 1);
	LBT_CHECK(!cp_state_name_used(&s, "new1"));
	LBT_EQ(cp_state_count_with_taken(&s), 2);
	cp_state_fini(&s);
}

static void test_add_up_releases_taken_names(void)
{
	struct cp_replica r[1];
	struct cp_state s;

	init(&s);
	memset(r, 0, sizeof(r));
	snprintf(r[0].name, sizeof(r[0].name), "x1");
	r[0].id = cp_state_reserve_ids(&s, 1);
	LBT_EQ(cp_state_take_names(&s, r, 1), 0);
	LBT_EQ(cp_state_add_up(&s, r, 1), 0);
	LBT_EQ(cp_state_count(&s), 1);
	LBT_EQ(cp_state_count_with_taken(&s), 1);
	cp_state_fini(&s);
}

static const struct lbt_case cases[] = {
    {"add_and_remove_keep_join_order", test_add_and_remove_keep_join_order},
    {"dead_replica_is_replaced_in_place_with_a_new_id",
     test_dead_replica_is_replaced_in_place_with_a_new_id},
    {"ids_are_never_reused", test_ids_are_never_reused},
    {"heartbeats_count_failures_in_a_row",
     test_heartbeats_count_failures_in_a_row},
    {"names_taken_by_an_add_in_progress",
     test_names_taken_by_an_add_in_progress},
    {"add_up_releases_taken_names", test_add_up_releases_taken_names},
};

LBT_MAIN(cases)
