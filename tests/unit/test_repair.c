/* The repair thread (cp_repair): a dead replica is replaced under a new
 * name and id and N is kept; a replacement that cannot start is retried
 * and leaves nothing behind meanwhile; what died is deleted, again later
 * when the engine refuses.  The real thread runs, driven through the fake
 * driver; the test waits on its calls and on the state's versions. */
#include "cp_fake_driver.h"
#include "cp_ops.h"
#include "cp_repair.h"
#include "lb_time.h"
#include "lbt.h"

#include <stdlib.h>

#define START CP_FAKE_START
#define STOP  CP_FAKE_STOP
#define WAIT  10000 /* ms: far longer than any backoff (5 s at most) */

static struct cp cp; /* static for its size */
static struct cp_fake_driver *fd;

/* Replicas s1..s3 of weight 1, 3 and 1 added through /add, then the repair
 * thread. */
static void setup(void)
{
	Lb__AdminRequest req = LB__ADMIN_REQUEST__INIT;
	Lb__AdminReply reply = LB__ADMIN_REPLY__INIT;
	char *names[3] = {"s1", "s2", "s3"};

	cp_fake_driver_cp_init(&cp, &fd);
	req.op = LB__ADMIN_REQUEST__OP__ADD;
	req.has_n = true;
	for (size_t i = 0; i < 3; i++) {
		req.n = 1;
		req.n_hostnames = 1;
		req.hostnames = &names[i];
		req.has_weight = true;
		req.weight = i == 1 ? 3 : 1;
		cp_ops_handle(&cp, &req, &reply);
		LBT_EQ(reply.status, 200);
		cp_ops_reply_fini(&reply);
		memset(&reply, 0, sizeof(reply));
		lb__admin_reply__init(&reply);
	}
	LBT_EQ(cp_repair_start(&cp), 0);
}

static void teardown(void)
{
	atomic_store(&cp.stopping, true);
	cp_state_stop(&cp.state);
	cp_repair_stop(&cp);
	LBT_EQ(fd->anomalies, 0); /* never two replicas of one name */
	cp_fake_driver_cp_fini(&cp);
}

/* The replica at join position i, copied out. */
static struct cp_replica at(size_t i)
{
	struct cp_replica *v, r;
	size_t n;

	LBT_EQ(cp_state_copy(&cp.state, &v, &n), 0);
	LBT_CHECK(i < n);
	r = v[i];
	free(v);
	return r;
}

/* The ring, read under the state's lock (the repair thread changes it). */
static bool ring_has(uint32_t id)
{
	bool has;
	pthread_mutex_lock(&cp.state.mu);
	has = lb_ring_has(cp.state.ring, id);
	pthread_mutex_unlock(&cp.state.mu);
	return has;
}

static size_t ring_count(void)
{
	size_t n;
	pthread_mutex_lock(&cp.state.mu);
	n = lb_ring_count(cp.state.ring);
	pthread_mutex_unlock(&cp.state.mu);
	return n;
}

/* Waits (on the state's versions) until `want` replicas are up. */
static bool wait_up(size_t want)
{
	int64_t end = lb_now_ms() + WAIT;
	uint64_t seen = cp_state_version(&cp.state);
	size_t n;

	while (cp_state_count_up(&cp.state, &n) != want) {
		if (lb_now_ms() >= end)
			return false;
		seen = cp_state_wait_change(&cp.state, seen, 100);
	}
	return true;
}

/* Waits until `name` no longer waits to be deleted (the repair thread
 * lets it go just after its stop returned). */
static bool wait_unburied(const char *name)
{
	int64_t end = lb_now_ms() + WAIT;

	while (cp_state_grave_pending(&cp.state, name)) {
		if (lb_now_ms() >= end)
			return false;
		lb_time_sleep_ms(5);
	}
	return true;
}

static void test_dead_replica_is_replaced_with_a_new_name_and_id(void)
{
	struct cp_replica r;
	size_t n;

	setup();
	cp_fake_driver_kill(fd, "s2");
	LBT_CHECK(!ring_has(2)); /* out at once */
	LBT_CHECK(wait_up(3));
	/* N kept; the others as they were; the new one last. */
	LBT_EQ(cp_state_count_up(&cp.state, &n), 3);
	LBT_EQ(n, 3);
	LBT_CHECK(strcmp(at(0).name, "s1") == 0 && at(0).id == 1);
	LBT_CHECK(strcmp(at(1).name, "s3") == 0 && at(1).id == 3);
	r = at(2);
	LBT_CHECK(strcmp(r.name, "s2") != 0);
	LBT_CHECK(strncmp(r.name, "srv-", 4) == 0);
	LBT_EQ(r.id, 4); /* a new id: never reused */
	LBT_EQ(r.st, CP_R_UP);
	LBT_EQ(r.weight, 3); /* it takes its predecessor's share */
	LBT_CHECK(ring_has(4));
	LBT_CHECK(!ring_has(2));
	LBT_EQ(ring_count(), 3);
	/* Started once, through the driver, with its id and weight. */
	LBT_EQ(cp_fake_driver_calls(fd, START, r.name, true), 1);
	{
		long i = cp_fake_driver_call_index(fd, START, r.name, true, 1);
		struct cp_fake_call c = cp_fake_driver_call(fd, (size_t)i);
		LBT_EQ(c.id, 4);
		LBT_EQ(c.weight, 3);
	}
	/* The dead one is deleted (a dead container holds its name). */
	LBT_CHECK(cp_fake_driver_wait_calls(fd, STOP, "s2", true, 1, WAIT));
	LBT_EQ(atomic_load(&cp.state.replacements), 1);
	LBT_EQ(atomic_load(&cp.state.deaths[CP_DEATH_EXITED]), 1);
	teardown();
}

/* Kills s2 with its replacement's starts doing acts[0..n) in turn, the
 * last of them held (CP_FAKE_HOLD); returns once that one has begun, with
 * the count of starts before the kill. */
static size_t kill_s2_with_starts(const enum cp_fake_act *acts, size_t n)
{
	size_t base = cp_fake_driver_calls(fd, START, NULL, false);

	for (size_t k = 0; k < n; k++)
		cp_fake_driver_rule(fd, START, NULL, k + 1, acts[k]);
	cp_fake_driver_kill(fd, "s2");
	LBT_CHECK(
	    cp_fake_driver_wait_calls(fd, START, NULL, false, base + n, WAIT));
	return base;
}

static void test_failed_replacement_start_is_retried_cleanly(void)
{
	struct cp_fake_call first, second;
	struct cp_replica r;
	size_t base;

	setup();
	base = kill_s2_with_starts(
	    (const enum cp_fake_act[]){CP_FAKE_FAIL, CP_FAKE_HOLD}, 2);
	/* The retry has begun (and is held): look at what the failure left. */
	first = cp_fake_driver_call(fd, (size_t)cp_fake_driver_call_index(
	                                    fd, START, NULL, false, base + 1));
	second = cp_fake_driver_call(fd, (size_t)cp_fake_driver_call_index(
	                                     fd, START, NULL, false, base + 2));
	LBT_CHECK(!first.ok);
	/* The same replacement again, not a third name or id. */
	LBT_CHECK(strcmp(first.name, second.name) == 0);
	LBT_EQ(first.id, second.id);
	r = at(2);
	LBT_CHECK(strcmp(r.name, first.name) == 0);
	LBT_EQ(r.st, CP_R_STARTING);
	LBT_CHECK(!r.spawned);
	LBT_CHECK(!ring_has(r.id));
	LBT_EQ(ring_count(), 2);
	LBT_EQ(cp_state_count(&cp.state), 3); /* N kept meanwhile */
	LBT_EQ(atomic_load(&cp.stats.engine_errors), 1);
	cp_fake_driver_release(fd);
	LBT_CHECK(wait_up(3));
	r = at(2);
	LBT_CHECK(strcmp(r.name, first.name) == 0);
	LBT_EQ(r.st, CP_R_UP);
	LBT_CHECK(ring_has(r.id));
	LBT_EQ(cp_fake_driver_calls(fd, START, r.name, true), 1);
	teardown();
}

static void test_replacement_that_never_answers_is_stopped_and_retried(void)
{
	struct cp_replica r;

	setup();
	cp.cfg.start_timeout_ms = 100;
	kill_s2_with_starts(
	    (const enum cp_fake_act[]){CP_FAKE_MUTE, CP_FAKE_HOLD}, 2);
	r = at(2);
	/* The silent copy was stopped before the retry began. */
	LBT_EQ(cp_fake_driver_calls(fd, STOP, r.name, true), 1);
	LBT_CHECK(cp_fake_driver_call_index(fd, STOP, r.name, true, 1) <
	          cp_fake_driver_call_index(fd, START, r.name, false, 2));
	LBT_EQ(r.st, CP_R_STARTING);
	LBT_CHECK(!ring_has(r.id));
	cp_fake_driver_release(fd);
	LBT_CHECK(wait_up(3));
	LBT_CHECK(cp_fake_driver_runs(fd, r.name));
	teardown();
}

static void test_replacement_removed_while_starting_is_stopped(void)
{
	Lb__AdminRequest req = LB__ADMIN_REQUEST__INIT;
	Lb__AdminReply reply = LB__ADMIN_REPLY__INIT;
	struct cp_replica r;
	char *name;

	setup();
	kill_s2_with_starts((const enum cp_fake_act[]){CP_FAKE_HOLD}, 1);
	r = at(2);
	name = r.name;
	/* /rm of the replacement while its start is held. */
	req.op = LB__ADMIN_REQUEST__OP__REMOVE;
	req.has_n = true;
	req.n = 1;
	req.n_hostnames = 1;
	req.hostnames = &name;
	cp_ops_handle(&cp, &req, &reply);
	LBT_EQ(reply.status, 200);
	LBT_EQ(reply.n_replicas, 2);
	cp_ops_reply_fini(&reply);
	cp_fake_driver_release(fd);
	/* Its start succeeds, its promotion fails: stopped again. */
	LBT_CHECK(cp_fake_driver_wait_calls(fd, STOP, r.name, true, 1, WAIT));
	LBT_CHECK(!cp_fake_driver_runs(fd, r.name));
	LBT_CHECK(!cp_state_has(&cp.state, r.name));
	LBT_EQ(cp_state_count(&cp.state), 2);
	LBT_EQ(ring_count(), 2);
	LBT_CHECK(!ring_has(r.id));
	teardown();
}

static void test_failed_delete_of_the_dead_is_retried(void)
{
	setup();
	cp_fake_driver_rule(fd, STOP, "s2", 1, CP_FAKE_FAIL);
	cp_fake_driver_kill(fd, "s2");
	/* The replacement does not wait for it (it has another name). */
	LBT_CHECK(wait_up(3));
	LBT_CHECK(cp_fake_driver_wait_calls(fd, STOP, "s2", true, 1, WAIT));
	LBT_EQ(cp_fake_driver_calls(fd, STOP, "s2", false), 2);
	LBT_CHECK(wait_unburied("s2"));
	LBT_EQ(atomic_load(&cp.stats.engine_errors), 1);
	teardown();
}

static void test_replacement_waits_for_its_old_copy_to_be_deleted(void)
{
	struct cp_replica r;
	long stop_ok, restart;

	setup();
	cp.cfg.start_timeout_ms = 100;
	kill_s2_with_starts((const enum cp_fake_act[]){CP_FAKE_HOLD}, 1);
	r = at(2);
	/* The held start never answers, and its undo's stop fails: the copy
	 * is left running, in a grave. */
	cp_fake_driver_rule(fd, START, r.name, 0, CP_FAKE_MUTE);
	cp_fake_driver_rule(fd, STOP, r.name, 1, CP_FAKE_FAIL);
	cp_fake_driver_release(fd);
	LBT_CHECK(wait_up(3));
	/* Started again only after the old copy was deleted: never two of
	 * one name (the fake counts that as an anomaly). */
	LBT_EQ(cp_fake_driver_calls(fd, START, r.name, false), 2);
	stop_ok = cp_fake_driver_call_index(fd, STOP, r.name, true, 1);
	restart = cp_fake_driver_call_index(fd, START, r.name, false, 2);
	LBT_CHECK(stop_ok >= 0 && restart > stop_ok);
	LBT_CHECK(strcmp(at(2).name, r.name) == 0);
	LBT_EQ(at(2).id, r.id);
	teardown();
}

static void test_initial_replicas_that_failed_are_started(void)
{
	struct cp_replica init[2];
	size_t base;

	/* What cp_main.c leaves when the first start fails: STARTING. */
	setup();
	memset(init, 0, sizeof(init));
	snprintf(init[0].name, sizeof(init[0].name), "server4");
	snprintf(init[1].name, sizeof(init[1].name), "server5");
	init[0].id = cp_state_reserve_ids(&cp.state, 2);
	init[1].id = init[0].id + 1;
	base = cp_fake_driver_calls(fd, START, NULL, false);
	cp_fake_driver_rule(fd, START, NULL, 1, CP_FAKE_FAIL);
	LBT_EQ(cp_state_add_starting(&cp.state, init, 2), 0);
	LBT_CHECK(wait_up(5));
	LBT_EQ(cp_fake_driver_calls(fd, START, NULL, false), base + 3);
	LBT_EQ(cp_fake_driver_calls(fd, START, "server4", true), 1);
	LBT_EQ(cp_fake_driver_calls(fd, START, "server5", true), 1);
	LBT_CHECK(ring_has(init[0].id));
	LBT_CHECK(ring_has(init[1].id));
	teardown();
}

static const struct lbt_case cases[] = {
    {"dead_replica_is_replaced_with_a_new_name_and_id",
     test_dead_replica_is_replaced_with_a_new_name_and_id},
    {"failed_replacement_start_is_retried_cleanly",
     test_failed_replacement_start_is_retried_cleanly},
    {"replacement_that_never_answers_is_stopped_and_retried",
     test_replacement_that_never_answers_is_stopped_and_retried},
    {"replacement_removed_while_starting_is_stopped",
     test_replacement_removed_while_starting_is_stopped},
    {"failed_delete_of_the_dead_is_retried",
     test_failed_delete_of_the_dead_is_retried},
    {"replacement_waits_for_its_old_copy_to_be_deleted",
     test_replacement_waits_for_its_old_copy_to_be_deleted},
    {"initial_replicas_that_failed_are_started",
     test_initial_replicas_that_failed_are_started},
};

LBT_MAIN(cases)
