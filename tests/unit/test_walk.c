/* The failover walk (dp_walk): the replicas tried for a key, in order,
 * through a real routing table; the retry rule; and what a try tells
 * outlier ejection. */
#include "dp_ramp.h"
#include "dp_table.h"
#include "dp_walk.h"
#include "lb_err.h"
#include "lb_time.h"
#include "lb_wire.h"
#include "lbt.h"
#include "table_snapshot.h"

#include <stdlib.h>

static struct dp_table *table(uint32_t n)
{
	Lb__Snapshot *s = table_snapshot(n, 1, 1, NULL);
	struct dp_table *t;
	LBT_EQ(dp_table_build(s, NULL, &t), 0);
	lb__snapshot__free_unpacked(s, NULL);
	return t;
}

/* The distinct replicas clockwise from key's slot, as the ring walks them
 * itself; returns how many (all of them, max at most). */
static size_t ring_order(const struct lb_ring *r, uint64_t key, uint32_t *out,
                         size_t max)
{
	uint32_t pos, id;
	size_t n = 0;

	if (max == 0 || !(id = lb_ring_lookup(r, key, &pos)))
		return 0;
	out[n++] = id;
	while (n < max && (id = lb_ring_next_distinct(r, &pos, out, n)))
		out[n++] = id;
	return n;
}

/* The same order read off the slot table, owner by owner from the key's
 * slot: a check on ring_order() that shares no code with it. */
static size_t slot_order(const struct lb_ring *r, uint64_t key, uint32_t *out,
                         size_t max)
{
	const uint32_t *owner = lb_ring_table(r);
	uint32_t slots = lb_ring_preset(r)->slots;
	uint32_t s0 = lb_ring_slot_of(r, key);
	size_t n = 0;

	for (uint32_t i = 0; i < slots && n < max; i++) {
		uint32_t id = owner[(s0 + i) % slots];
		bool seen = id == 0;
		for (size_t j = 0; j < n && !seen; j++)
			seen = out[j] == id;
		if (!seen)
			out[n++] = id;
	}
	return n;
}

/* The ids the walk visits for key, up to max + 1 (one past shows an
 * overrun); returns how many.  A walk that ended stays ended. */
static size_t walk_ids(const struct dp_table *t, uint64_t key, uint32_t *out,
                       size_t max)
{
	struct dp_walk w;
	struct dp_backend *b;
	size_t n = 0;

	dp_walk_init(&w, t, key);
	while (n <= max && (b = dp_walk_next(&w)))
		out[n++] = b->id;
	if (n <= max)
		LBT_CHECK(dp_walk_next(&w) == NULL);
	return n;
}

static void check_distinct(const uint32_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			LBT_CHECK(ids[i] != ids[j]);
}

static void check_order(const uint32_t *got, size_t ngot, const uint32_t *want,
                        size_t nwant)
{
	LBT_EQ(ngot, nwant);
	for (size_t i = 0; i < nwant; i++)
		LBT_EQ(got[i], want[i]);
}

static void walk_follows_the_ring_clockwise_then_ends(void)
{
	struct dp_table *t = table(5);
	unsigned long long seed = 1;
	uint32_t got[TABLE_SNAPSHOT_MAX + 1], want[TABLE_SNAPSHOT_MAX],
	    slots[TABLE_SNAPSHOT_MAX];

	for (int i = 0; i < 500; i++) {
		uint64_t key = lbt_rand(&seed);
		size_t n = walk_ids(t, key, got, TABLE_SNAPSHOT_MAX);
		LBT_EQ(ring_order(t->ring, key, want, TABLE_SNAPSHOT_MAX), 5);
		LBT_EQ(slot_order(t->ring, key, slots, TABLE_SNAPSHOT_MAX), 5);
		check_order(want, 5, slots, 5);
		check_order(got, n, want, 5);
		check_distinct(got, n);
	}
	dp_table_release(t);
}

static void walk_visits_at_most_max_tries(void)
{
	struct dp_table *small = table(3), *big = table(20);
	unsigned long long seed = 2;
	uint32_t got[TABLE_SNAPSHOT_MAX + 1], want[TABLE_SNAPSHOT_MAX];

	LBT_CHECK(20 > DP_WALK_MAX_TRIES);
	for (int i = 0; i < 200; i++) {
		uint64_t key = lbt_rand(&seed);
		size_t n;

		LBT_EQ(walk_ids(small, key, got, TABLE_SNAPSHOT_MAX), 3);
		check_distinct(got, 3);

		n = walk_ids(big, key, got, TABLE_SNAPSHOT_MAX);
		LBT_EQ(n, DP_WALK_MAX_TRIES);
		check_distinct(got, n);
		LBT_EQ(ring_order(big->ring, key, want, TABLE_SNAPSHOT_MAX),
		       20);
		check_order(got, n, want, DP_WALK_MAX_TRIES);

		/* A replica put last still counts within the bound: the one
		 * past it is never reached. */
		atomic_store(&dp_table_backend(big, want[0])->ejected_until,
		             lb_now_ms() + 60000);
		n = walk_ids(big, key, got, TABLE_SNAPSHOT_MAX);
		LBT_EQ(n, DP_WALK_MAX_TRIES);
		check_order(got, n - 1, want + 1, DP_WALK_MAX_TRIES - 1);
		LBT_EQ(got[n - 1], want[0]);
		atomic_store(&dp_table_backend(big, want[0])->ejected_until, 0);
	}
	dp_table_release(small);
	dp_table_release(big);
}

static void walk_puts_ejected_replicas_last(void)
{
	struct dp_table *t = table(5);
	unsigned long long seed = 3;
	uint32_t got[TABLE_SNAPSHOT_MAX + 1], o[5];

	for (int i = 0; i < 200; i++) {
		uint64_t key = lbt_rand(&seed);
		int64_t now = lb_now_ms();
		struct dp_backend *b0, *b2, *b3;

		LBT_EQ(ring_order(t->ring, key, o, 5), 5);
		b0 = dp_table_backend(t, o[0]);
		b2 = dp_table_backend(t, o[2]);
		b3 = dp_table_backend(t, o[3]);
		atomic_store(&b0->ejected_until, now + 60000);
		atomic_store(&b2->ejected_until, now + 60000);
		/* An ejection that is over changes nothing. */
		atomic_store(&b3->ejected_until, now - 1);
		{
			const uint32_t want[] = {o[1], o[3], o[4], o[0], o[2]};
			check_order(got, walk_ids(t, key, got, 5), want, 5);
		}
		atomic_store(&b0->ejected_until, 0);
		atomic_store(&b2->ejected_until, 0);
		atomic_store(&b3->ejected_until, 0);
	}
	dp_table_release(t);
}

/* A key that a replica at `share` passes by (draw >= share), or takes
 * (draw < share). */
static uint64_t key_ramp(unsigned long long *seed, double share, bool passes)
{
	for (;;) {
		uint64_t key = lbt_rand(seed);
		if (dp_ramp_passes(key, share) == passes)
			return key;
	}
}

static void walk_puts_ramping_replicas_before_ejected_ones(void)
{
	struct dp_table *t = table(5);
	unsigned long long seed = 4;
	uint32_t got[TABLE_SNAPSHOT_MAX + 1], o[5];

	t->routing.slow_start_ms = 60000;
	for (int i = 0; i < 100; i++) {
		/* Entered the ring just now: a share near DP_RAMP_FIRST all
		 * through the case, so this key (draw >= 0.5) goes past. */
		uint64_t key = key_ramp(&seed, 0.5, true);
		uint64_t now_ms = lb_wall_us() / 1000;
		struct dp_backend *b0, *b1, *b2;

		LBT_EQ(ring_order(t->ring, key, o, 5), 5);
		b0 = dp_table_backend(t, o[0]);
		b1 = dp_table_backend(t, o[1]);
		b2 = dp_table_backend(t, o[2]);
		b0->up_since_ms = b2->up_since_ms = now_ms;
		atomic_store(&b1->ejected_until, lb_now_ms() + 60000);
		{
			const uint32_t want[] = {o[3], o[4], o[0], o[2], o[1]};
			check_order(got, walk_ids(t, key, got, 5), want, 5);
		}
		/* Ramping and ejected: ejected, so last. */
		atomic_store(&b2->ejected_until, lb_now_ms() + 60000);
		{
			const uint32_t want[] = {o[3], o[4], o[0], o[1], o[2]};
			check_order(got, walk_ids(t, key, got, 5), want, 5);
		}
		atomic_store(&b2->ejected_until, 0);
		/* Slow start off: the replicas that entered just now are
		 * tried in their places. */
		t->routing.slow_start_ms = 0;
		{
			const uint32_t want[] = {o[0], o[2], o[3], o[4], o[1]};
			check_order(got, walk_ids(t, key, got, 5), want, 5);
		}
		t->routing.slow_start_ms = 60000;
		atomic_store(&b1->ejected_until, 0);
		b0->up_since_ms = b2->up_since_ms = 0;
	}
	/* A key the ramping replica takes from the start stays with it. */
	for (int i = 0; i < 100; i++) {
		uint64_t key = key_ramp(&seed, DP_RAMP_FIRST, false);
		struct dp_backend *b0;

		LBT_EQ(ring_order(t->ring, key, o, 5), 5);
		b0 = dp_table_backend(t, o[0]);
		b0->up_since_ms = lb_wall_us() / 1000;
		check_order(got, walk_ids(t, key, got, 5), o, 5);
		b0->up_since_ms = 0;
	}
	dp_table_release(t);
}

/* A replica over its share needs exchanges in flight to it, and
 * dp_upstream.h counts only exchanges it runs (dp_upstream_do(), which
 * opens a connection): no unit test without sockets sets that count.  What
 * can be checked here: with nothing in flight, the bound (at least one
 * request per replica) puts nobody off, so slow start still orders. */
static void walk_with_bounded_loads_and_nothing_in_flight_defers_nobody(void)
{
	struct dp_table *t = table(5);
	unsigned long long seed = 5;
	uint32_t got[TABLE_SNAPSHOT_MAX + 1], o[5];

	t->routing.balance_factor = 1.25;
	t->routing.slow_start_ms = 60000;
	for (int i = 0; i < 100; i++) {
		uint64_t key = key_ramp(&seed, 0.5, true);
		struct dp_backend *b1;

		LBT_EQ(ring_order(t->ring, key, o, 5), 5);
		check_order(got, walk_ids(t, key, got, 5), o, 5);
		b1 = dp_table_backend(t, o[1]);
		b1->up_since_ms = lb_wall_us() / 1000;
		{
			const uint32_t want[] = {o[0], o[2], o[3], o[4], o[1]};
			check_order(got, walk_ids(t, key, got, 5), want, 5);
		}
		b1->up_since_ms = 0;
	}
	dp_table_release(t);
}

/* Every result an exchange can end with. */
static const enum dp_upstream_result results[] = {
    DP_UP_OK,     DP_UP_CONNECT, DP_UP_BUSY, DP_UP_QUEUED,
    DP_UP_BROKEN, DP_UP_TIMEOUT, DP_UP_BAD,  DP_UP_STOPPED,
};
#define NRESULTS (sizeof(results) / sizeof(results[0]))

/* Every info a try can leave (the timers play no part): bit 0 sent, bit 1
 * got_bytes, bit 2 consumed. */
static struct dp_upstream_info info_of(int bits)
{
	struct dp_upstream_info info = {0};
	info.sent = bits & 1;
	info.got_bytes = bits & 2;
	info.consumed = bits & 4;
	return info;
}

static void retry_connect_and_busy_unless_committed(void)
{
	for (int bits = 0; bits < 8; bits++) {
		struct dp_upstream_info info = info_of(bits);
		for (int idem = 0; idem < 2; idem++) {
			LBT_CHECK(dp_walk_may_retry(false, idem, DP_UP_CONNECT,
			                            &info));
			LBT_CHECK(
			    dp_walk_may_retry(false, idem, DP_UP_BUSY, &info));
			LBT_CHECK(!dp_walk_may_retry(true, idem, DP_UP_CONNECT,
			                             &info));
			LBT_CHECK(
			    !dp_walk_may_retry(true, idem, DP_UP_BUSY, &info));
		}
	}
}

static void retry_broken_only_with_the_body_in_hand_and_safe(void)
{
	static const struct {
		bool idempotent, sent, consumed, retry;
	} rows[] = {
	    /* Nothing went out: safe whatever the method. */
	    {false, false, false, true},
	    {true, false, false, true},
	    /* Some went out: only a method that may run twice. */
	    {false, true, false, false},
	    {true, true, false, true},
	    /* The body was read on from the client: it cannot go again. */
	    {false, false, true, false},
	    {true, false, true, false},
	    {false, true, true, false},
	    {true, true, true, false},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		for (int got = 0; got < 2; got++) {
			struct dp_upstream_info info = {0};
			info.sent = rows[i].sent;
			info.consumed = rows[i].consumed;
			info.got_bytes = got;
			LBT_EQ(dp_walk_may_retry(false, rows[i].idempotent,
			                         DP_UP_BROKEN, &info),
			       rows[i].retry);
			LBT_CHECK(!dp_walk_may_retry(true, rows[i].idempotent,
			                             DP_UP_BROKEN, &info));
		}
	}
}

static void retry_never_after_other_results(void)
{
	for (size_t i = 0; i < NRESULTS; i++) {
		enum dp_upstream_result r = results[i];
		if (r == DP_UP_CONNECT || r == DP_UP_BUSY || r == DP_UP_BROKEN)
			continue;
		for (int bits = 0; bits < 8; bits++) {
			struct dp_upstream_info info = info_of(bits);
			for (int c = 0; c < 2; c++)
				for (int idem = 0; idem < 2; idem++)
					LBT_CHECK(!dp_walk_may_retry(c, idem, r,
					                             &info));
		}
	}
}

static const int statuses[] = {0, 200, 204, 301, 404, 499, 500, 502, 503, 599};
#define NSTATUSES (sizeof(statuses) / sizeof(statuses[0]))

static void outcome_busy_queued_stopped_record_nothing(void)
{
	static const enum dp_upstream_result quiet[] = {
	    DP_UP_BUSY, DP_UP_QUEUED, DP_UP_STOPPED};

	for (size_t i = 0; i < sizeof(quiet) / sizeof(quiet[0]); i++) {
		for (size_t s = 0; s < NSTATUSES; s++) {
			enum dp_outlier_outcome o = DP_OUTLIER_OK;
			LBT_CHECK(!dp_walk_outcome(quiet[i], statuses[s], &o));
		}
	}
}

static void outcome_connect_is_refused(void)
{
	for (size_t s = 0; s < NSTATUSES; s++) {
		enum dp_outlier_outcome o = DP_OUTLIER_OK;
		LBT_CHECK(dp_walk_outcome(DP_UP_CONNECT, statuses[s], &o));
		LBT_EQ(o, DP_OUTLIER_REFUSED);
	}
}

static void outcome_5xx_and_failures_are_failed(void)
{
	static const enum dp_upstream_result failed[] = {
	    DP_UP_BROKEN, DP_UP_TIMEOUT, DP_UP_BAD};

	for (size_t s = 0; s < NSTATUSES; s++) {
		for (size_t i = 0; i < sizeof(failed) / sizeof(failed[0]);
		     i++) {
			enum dp_outlier_outcome o = DP_OUTLIER_OK;
			LBT_CHECK(dp_walk_outcome(failed[i], statuses[s], &o));
			LBT_EQ(o, DP_OUTLIER_FAILED);
		}
		if (statuses[s] >= 500) {
			enum dp_outlier_outcome o = DP_OUTLIER_OK;
			LBT_CHECK(dp_walk_outcome(DP_UP_OK, statuses[s], &o));
			LBT_EQ(o, DP_OUTLIER_FAILED);
		}
	}
}

static void outcome_ok_under_500_is_ok(void)
{
	for (size_t s = 0; s < NSTATUSES; s++) {
		/* A stale outcome must not survive: the answer sets it. */
		enum dp_outlier_outcome o = DP_OUTLIER_FAILED;
		if (statuses[s] >= 500)
			continue;
		LBT_CHECK(dp_walk_outcome(DP_UP_OK, statuses[s], &o));
		LBT_EQ(o, DP_OUTLIER_OK);
	}
}

static const struct lbt_case cases[] = {
    {"walk_follows_the_ring_clockwise_then_ends",
     walk_follows_the_ring_clockwise_then_ends},
    {"walk_visits_at_most_max_tries", walk_visits_at_most_max_tries},
    {"walk_puts_ejected_replicas_last", walk_puts_ejected_replicas_last},
    {"walk_puts_ramping_replicas_before_ejected_ones",
     walk_puts_ramping_replicas_before_ejected_ones},
    {"walk_with_bounded_loads_and_nothing_in_flight_defers_nobody",
     walk_with_bounded_loads_and_nothing_in_flight_defers_nobody},
    {"retry_connect_and_busy_unless_committed",
     retry_connect_and_busy_unless_committed},
    {"retry_broken_only_with_the_body_in_hand_and_safe",
     retry_broken_only_with_the_body_in_hand_and_safe},
    {"retry_never_after_other_results", retry_never_after_other_results},
    {"outcome_busy_queued_stopped_record_nothing",
     outcome_busy_queued_stopped_record_nothing},
    {"outcome_connect_is_refused", outcome_connect_is_refused},
    {"outcome_5xx_and_failures_are_failed",
     outcome_5xx_and_failures_are_failed},
    {"outcome_ok_under_500_is_ok", outcome_ok_under_500_is_ok},
};
LBT_MAIN(cases)
