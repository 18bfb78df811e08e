#include "cp_repair.h"

#include "cp_ops.h"
#include "lb_err.h"
#include "lb_log.h"
#include "lb_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Starts one wanted replica; returns false when a start failed.  No lock
 * is held while it starts: an /rm that removes it meanwhile makes the
 * promotion fail, and it is stopped again. */
static bool repair_one(struct cp *cp)
{
	struct cp_replica *v, r;
	size_t n, i;
	char err[384];

	if (cp_state_copy(&cp->state, &v, &n) != 0)
		return false;
	/* Not one whose old container still waits to be deleted. */
	for (i = 0; i < n; i++)
		if (v[i].st == CP_R_STARTING && !v[i].spawned &&
		    !cp_state_grave_pending(&cp->state, v[i].name))
			break;
	if (i == n) {
		free(v);
		return true;
	}
	r = v[i];
	free(v);
	if (cp_ops_start_replicas(cp, &r, 1, err, sizeof(err)) != 0) {
		lb_log(LB_WARN, "repair_failed", "name=%s reason=\"%s\"",
		       r.name, err);
		return false;
	}
	if (cp_state_promote(&cp->state, r.name, r.host, r.port) != 0)
		cp_ops_stop_replica(cp, r.name); /* removed meanwhile */
	else
		lb_log(LB_INFO, "replica_up", "name=%s id=%u addr=%s:%u",
		       r.name, r.id, r.host, r.port);
	return true;
}

static bool repair_pending(struct cp *cp)
{
	struct cp_replica *v;
	size_t n;
	bool pending = false;
	if (cp_state_copy(&cp->state, &v, &n) != 0)
		return false;
	for (size_t i = 0; i < n; i++)
		pending |= v[i].st == CP_R_STARTING && !v[i].spawned &&
		           !cp_state_grave_pending(&cp->state, v[i].name);
	free(v);
	return pending;
}

static void *repair_thread(void *arg)
{
	struct cp *cp = arg;
	int64_t backoff = 0, next_bury = 0;
	uint64_t seen = 0;

	while (!atomic_load(&cp->stopping)) {
		/* Deletions that failed are retried at most twice a second. */
		if (lb_now_ms() >= next_bury) {
			cp_ops_bury(cp);
			next_bury = lb_now_ms() + 500;
		}
		if (repair_pending(cp)) {
			if (repair_one(cp)) {
				backoff = 0;
				continue;
			}
			/* The engine refuses: retry, more slowly each time. */
			backoff = backoff ? backoff * 2 : 250;
			if (backoff > 5000)
				backoff = 5000;
			lb_time_sleep_unless(&cp->stopping, backoff);
			continue;
		}
		seen = cp_state_wait_change(&cp->state, seen, 500);
	}
	return NULL;
}

int cp_repair_start(struct cp *cp)
{
	if (pthread_create(&cp->repair_tid, NULL, repair_thread, cp) != 0)
		return LB_ERR_SYS;
	cp->repair_started = true;
	return 0;
}

void cp_repair_stop(struct cp *cp)
{
	if (cp->repair_started)
		pthread_join(cp->repair_tid, NULL);
}
