/* dp_gate: a limit with a first-in first-out line, bounded in length and
 * in time. */
#include "dp_gate.h"
#include "lb_time.h"
#include "lbt.h"

#include <pthread.h>

#define WAITERS 8

struct waiter {
	struct dp_gate *g;
	long timeout_ms;
	enum dp_gate_result r;
	int64_t waited_us;
	int order; /* when it got in, from a shared counter */
};

static atomic_int admitted_seq;

static void *waiter_run(void *arg)
{
	struct waiter *w = arg;

	w->r = dp_gate_enter(w->g, w->timeout_ms, &w->waited_us, NULL, NULL);
	if (w->r == DP_GATE_IN) {
		w->order = atomic_fetch_add(&admitted_seq, 1);
		dp_gate_leave(w->g);
	}
	return NULL;
}

/* Blocks until n wait in line. */
static void until_queued(struct dp_gate *g, int n)
{
	int active, queued;

	for (int i = 0; i < 5000; i++) {
		dp_gate_counts(g, &active, &queued);
		if (queued == n)
			return;
		lb_time_sleep_ms(1);
	}
	LBT_CHECK(!"the waiters never queued");
}

static void test_below_the_limit_nobody_waits(void)
{
	struct dp_gate g;
	int64_t waited = -1;

	dp_gate_init(&g, 2, 4);
	LBT_EQ(dp_gate_enter(&g, 1000, &waited, NULL, NULL), DP_GATE_IN);
	LBT_EQ(waited, 0);
	LBT_EQ(dp_gate_enter(&g, 1000, &waited, NULL, NULL), DP_GATE_IN);
	dp_gate_leave(&g);
	dp_gate_leave(&g);
	LBT_EQ(atomic_load(&g.queued_total), 0);
	dp_gate_fini(&g);
}

static void test_the_line_is_served_in_arrival_order(void)
{
	struct dp_gate g;
	struct waiter w[WAITERS];
	pthread_t th[WAITERS];
	int64_t waited;

	dp_gate_init(&g, 1, WAITERS);
	atomic_store(&admitted_seq, 0);
	LBT_EQ(dp_gate_enter(&g, 1000, &waited, NULL, NULL), DP_GATE_IN);
	/* One at a time, so that the arrival order is known. */
	for (int i = 0; i < WAITERS; i++) {
		w[i] = (struct waiter){&g, 5000, DP_GATE_FULL, 0, -1};
		pthread_create(&th[i], NULL, waiter_run, &w[i]);
		until_queued(&g, i + 1);
	}
	dp_gate_leave(&g);
	for (int i = 0; i < WAITERS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < WAITERS; i++) {
		LBT_EQ(w[i].r, DP_GATE_IN);
		LBT_EQ(w[i].order, i);
		LBT_CHECK(w[i].waited_us > 0);
	}
	LBT_EQ(atomic_load(&g.queued_total), WAITERS);
	dp_gate_fini(&g);
}

static void test_a_wait_past_its_timeout_leaves_the_line(void)
{
	struct dp_gate g;
	struct waiter w = {0};
	pthread_t th;
	int64_t waited, t0 = lb_now_ms();
	int active, queued;

	dp_gate_init(&g, 1, 4);
	LBT_EQ(dp_gate_enter(&g, 1000, &waited, NULL, NULL), DP_GATE_IN);
	w = (struct waiter){&g, 100, DP_GATE_IN, 0, -1};
	pthread_create(&th, NULL, waiter_run, &w);
	pthread_join(th, NULL);
	LBT_EQ(w.r, DP_GATE_TIMEOUT);
	LBT_CHECK(w.waited_us >= 100000);
	LBT_CHECK(lb_now_ms() - t0 < 2000);
	dp_gate_counts(&g, &active, &queued);
	LBT_EQ(active, 1);
	LBT_EQ(queued, 0);
	LBT_EQ(atomic_load(&g.timeouts_total), 1);
	/* The place it never took is still there for the next. */
	dp_gate_leave(&g);
	LBT_EQ(dp_gate_enter(&g, 1000, &waited, NULL, NULL), DP_GATE_IN);
	dp_gate_leave(&g);
	dp_gate_counts(&g, &active, &queued);
	LBT_EQ(active, 0);
	dp_gate_fini(&g);
}

static void test_a_full_line_refuses_at_once(void)
{
	struct dp_gate g;
	struct waiter w = {0};
	pthread_t th;
	int64_t waited;

	dp_gate_init(&g, 1, 1);
	LBT_EQ(dp_gate_enter(&g, 1000, &waited, NULL, NULL), DP_GATE_IN);
	w = (struct waiter){&g, 5000, DP_GATE_FULL, 0, -1};
	pthread_create(&th, NULL, waiter_run, &w);
	until_queued(&g, 1);
	LBT_EQ(dp_gate_enter(&g, 5000, &waited, NULL, NULL), DP_GATE_FULL);
	LBT_EQ(atomic_load(&g.refused_total), 1);
	dp_gate_leave(&g);
	pthread_join(th, NULL);
	LBT_EQ(w.r, DP_GATE_IN);
	dp_gate_fini(&g);
}

static void count_park(void *arg)
{
	(*(int *)arg)++;
}

static void test_parked_is_told_only_when_waiting(void)
{
	struct dp_gate g;
	int64_t waited;
	int parks = 0;

	dp_gate_init(&g, 1, 0); /* no line: the second is refused */
	LBT_EQ(dp_gate_enter(&g, 100, &waited, count_park, &parks), DP_GATE_IN);
	LBT_EQ(dp_gate_enter(&g, 100, &waited, count_park, &parks),
	       DP_GATE_FULL);
	LBT_EQ(parks, 0);
	dp_gate_leave(&g);
	dp_gate_fini(&g);
	dp_gate_init(&g, 1, 1);
	LBT_EQ(dp_gate_enter(&g, 100, &waited, count_park, &parks), DP_GATE_IN);
	LBT_EQ(dp_gate_enter(&g, 50, &waited, count_park, &parks),
	       DP_GATE_TIMEOUT);
	LBT_EQ(parks, 1);
	dp_gate_leave(&g);
	dp_gate_fini(&g);
}

static void test_no_limit_only_counts(void)
{
	struct dp_gate g;
	int64_t waited;
	int active, queued;

	dp_gate_init(&g, 0, 0);
	for (int i = 0; i < 100; i++)
		LBT_EQ(dp_gate_enter(&g, 1, &waited, NULL, NULL), DP_GATE_IN);
	dp_gate_counts(&g, &active, &queued);
	LBT_EQ(active, 100);
	for (int i = 0; i < 100; i++)
		dp_gate_leave(&g);
	dp_gate_counts(&g, &active, &queued);
	LBT_EQ(active, 0);
	dp_gate_fini(&g);
}

static const struct lbt_case cases[] = {
    {"below_the_limit_nobody_waits", test_below_the_limit_nobody_waits},
    {"the_line_is_served_in_arrival_order",
     test_the_line_is_served_in_arrival_order},
    {"a_wait_past_its_timeout_leaves_the_line",
     test_a_wait_past_its_timeout_leaves_the_line},
    {"a_full_line_refuses_at_once", test_a_full_line_refuses_at_once},
    {"parked_is_told_only_when_waiting", test_parked_is_told_only_when_waiting},
    {"no_limit_only_counts", test_no_limit_only_counts},
};
LBT_MAIN(cases)
