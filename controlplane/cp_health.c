#include "cp_health.h"

#include "cp_probe.h"
#include "lb_err.h"
#include "lb_log.h"
#include "lb_time.h"

#include <stdio.h>
#include <stdlib.h>

static void health_round(struct cp *cp)
{
	struct cp_replica *v;
	struct cp_probe *p;
	size_t n, np = 0;

	if (cp_state_copy(&cp->state, &v, &n) != 0)
		return;
	if (!(p = calloc(n ? n : 1, sizeof(*p)))) {
		free(v);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (v[i].st != CP_R_UP && v[i].st != CP_R_DOWN)
			continue;
		p[np].host = v[i].host;
		p[np].port = v[i].port;
		v[np] = v[i]; /* keep names aligned with probes */
		np++;
	}
	cp_probe_run(&cp->cfg.check, p, np, (long)cp->cfg.heartbeat_timeout_ms);
	for (size_t i = 0; i < np; i++) {
		atomic_fetch_add(&cp->stats.heartbeats[p[i].ok ? 1 : 0], 1);
		if (!p[i].ok)
			lb_log(LB_DEBUG, "heartbeat_failed", "name=%s",
			       v[i].name);
		if (cp_state_heartbeat(&cp->state, v[i].name, p[i].ok,
		                       (int)cp->cfg.fail_threshold,
		                       (int)cp->cfg.rise))
			cp_state_mark_dead(&cp->state, v[i].name,
			                   cp_death_names[CP_DEATH_HEARTBEAT]);
	}
	free(p);
	free(v);
}

static void *health_thread(void *arg)
{
	struct cp *cp = arg;

	while (!atomic_load(&cp->stopping)) {
		int64_t next = lb_now_ms() + cp->cfg.heartbeat_ms;
		health_round(cp);
		lb_time_sleep_unless(&cp->stopping, next - lb_now_ms());
	}
	return NULL;
}

int cp_health_start(struct cp *cp)
{
	if (pthread_create(&cp->health_tid, NULL, health_thread, cp) != 0)
		return LB_ERR_SYS;
	cp->health_started = true;
	return 0;
}

void cp_health_stop(struct cp *cp)
{
	if (cp->health_started)
		pthread_join(cp->health_tid, NULL);
}
