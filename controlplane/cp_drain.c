#include "cp_drain.h"

#include "cp.h"
#include "cp_ops.h"
#include "lb_array.h"
#include "lb_err.h"
#include "lb_log.h"
#include "lb_time.h"

#include <stdlib.h>
#include <string.h>

/* How often the reports are looked at while something drains: the data
 * planes report every 100 ms. */
#define DRAIN_POLL_MS 50

void cp_drain_init(struct cp_drain *d)
{

	pthread_mutex_init(&d->mu, NULL);
	lb_time_cond_init(&d->cv);
	d->v = NULL;
	d->n = d->cap = 0;
	d->stoppers = 0;
	d->started = d->stopping = false;
}

int cp_drain_add(struct cp *cp, const struct cp_replica *r, uint64_t boot_id,
                 uint64_t version)
{
	struct cp_drain *d = &cp->drain;
	struct cp_draining *e;
	int64_t now = lb_now_ms();

	pthread_mutex_lock(&d->mu);
	if (lb_array_grow((void **)&d->v, &d->cap, d->n + 1, sizeof(*d->v))) {
		pthread_mutex_unlock(&d->mu);
		return LB_ERR_NOMEM;
	}
	e = &d->v[d->n++];
	memset(e, 0, sizeof(*e));
	e->r = *r;
	e->boot_id = boot_id;
	e->version = version;
	e->since_ms = now;
	e->deadline_ms = now + cp->cfg.drain_timeout_ms;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
	lb_log(LB_INFO, "replica_draining",
	       "name=%s addr=%s:%u timeout_ms=%lld", r->name, r->host, r->port,
	       cp->cfg.drain_timeout_ms);
	return 0;
}

bool cp_drain_has(struct cp_drain *d, const char *name)
{
	bool has = false;

	pthread_mutex_lock(&d->mu);
	for (size_t i = 0; i < d->n && !has; i++)
		has = strcmp(d->v[i].r.name, name) == 0;
	pthread_mutex_unlock(&d->mu);
	return has;
}

int cp_drain_copy(struct cp_drain *d, struct cp_draining **out, size_t *n)
{
	pthread_mutex_lock(&d->mu);
	*n = d->n;
	*out = malloc((d->n ? d->n : 1) * sizeof(**out));
	if (*out && d->n)
		memcpy(*out, d->v, d->n * sizeof(**out));
	pthread_mutex_unlock(&d->mu);
	return *out ? 0 : LB_ERR_NOMEM;
}

/* The first replica whose drain is over (drained, or its time is up),
 * marked as stopping and copied to *out; false when none.  *cut: requests
 * still in flight (timed out; -1 when unknown), or 0. */
static bool drain_take_done(struct cp *cp, struct cp_draining *out, long *cut)
{
	struct cp_drain *d = &cp->drain;
	int64_t now = lb_now_ms();

	pthread_mutex_lock(&d->mu);
	for (size_t i = 0; i < d->n; i++) {
		struct cp_draining *e = &d->v[i];
		long inflight;
		if (e->stopping)
			continue;
		inflight =
		    cp_reports_inflight(&cp->reports, e->boot_id, e->version,
		                        e->r.host, e->r.port, now);
		if (inflight != 0 && now < e->deadline_ms)
			continue;
		e->stopping = true;
		*out = *e;
		*cut = inflight;
		pthread_mutex_unlock(&d->mu);
		return true;
	}
	pthread_mutex_unlock(&d->mu);
	return false;
}

/* Takes a stopped replica off the list: its name is free again. */
static void drain_forget(struct cp_drain *d, const char *name)
{
	pthread_mutex_lock(&d->mu);
	for (size_t i = 0; i < d->n; i++) {
		if (strcmp(d->v[i].r.name, name) == 0) {
			memmove(&d->v[i], &d->v[i + 1],
			        (d->n - i - 1) * sizeof(d->v[0]));
			d->n--;
			break;
		}
	}
	pthread_mutex_unlock(&d->mu);
}

/* Stops a replica whose drain is over; its name stays taken until the
 * stop is done. */
static void drain_finish(struct cp *cp, const struct cp_draining *e, long cut)
{
	int64_t ms = lb_now_ms() - e->since_ms;

	if (cut == 0) {
		atomic_fetch_add(&cp->drain.drained, 1);
		lb_log(LB_INFO, "replica_drained", "name=%s drain_ms=%lld",
		       e->r.name, (long long)ms);
		cp_events_add(&cp->state.events, "drained", e->r.name, NULL);
	} else {
		atomic_fetch_add(&cp->drain.timed_out, 1);
		if (cut > 0)
			atomic_fetch_add(&cp->drain.cut,
			                 (unsigned long long)cut);
		lb_log(LB_WARN, "drain_timeout",
		       "name=%s drain_ms=%lld cut=%ld%s", e->r.name,
		       (long long)ms, cut > 0 ? cut : 0,
		       cut < 0 ? " reason=\"a data plane kept an older ring\""
		               : "");
		cp_events_add(&cp->state.events, "drain-timeout", e->r.name,
		              NULL);
	}
	if (e->r.spawned)
		cp_ops_stop_replica(cp, e->r.name);
	cp_events_add(&cp->state.events, "stopped", e->r.name, NULL);
	drain_forget(&cp->drain, e->r.name);
}

/* One drained replica being stopped, on a thread of its own: stops take
 * a while (a replica's own shutdown) and several may be due at once. */
struct drain_stopper {
	struct cp *cp;
	struct cp_draining e;
	long cut;
};

static void *drain_stopper_thread(void *arg)
{
	struct drain_stopper *s = arg;
	struct cp_drain *d = &s->cp->drain;

	drain_finish(s->cp, &s->e, s->cut);
	free(s);
	pthread_mutex_lock(&d->mu);
	d->stoppers--;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

/* Stops e on a thread of its own, or on this one when none can be made. */
static void drain_stop_soon(struct cp *cp, const struct cp_draining *e,
                            long cut)
{
	struct drain_stopper *s = malloc(sizeof(*s));
	pthread_attr_t attr;
	pthread_t tid;
	int rv = -1;

	if (s) {
		*s = (struct drain_stopper){cp, *e, cut};
		pthread_mutex_lock(&cp->drain.mu);
		cp->drain.stoppers++;
		pthread_mutex_unlock(&cp->drain.mu);
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		rv = pthread_create(&tid, &attr, drain_stopper_thread, s);
		pthread_attr_destroy(&attr);
	}
	if (rv == 0)
		return;
	if (s) {
		free(s);
		pthread_mutex_lock(&cp->drain.mu);
		cp->drain.stoppers--;
		pthread_mutex_unlock(&cp->drain.mu);
	}
	drain_finish(cp, e, cut);
}

static void *drain_thread(void *arg)
{
	struct cp *cp = arg;
	struct cp_drain *d = &cp->drain;

	for (;;) {
		struct cp_draining e;
		struct timespec ts;
		long cut;

		while (drain_take_done(cp, &e, &cut))
			drain_stop_soon(cp, &e, cut);
		pthread_mutex_lock(&d->mu);
		if (d->stopping) {
			pthread_mutex_unlock(&d->mu);
			return NULL;
		}
		lb_time_deadline(&ts, CLOCK_MONOTONIC,
		                 d->n ? DRAIN_POLL_MS : 60000);
		pthread_cond_timedwait(&d->cv, &d->mu, &ts);
		pthread_mutex_unlock(&d->mu);
	}
}

int cp_drain_start(struct cp *cp)
{
	if (pthread_create(&cp->drain.tid, NULL, drain_thread, cp) != 0)
		return LB_ERR_SYS;
	cp->drain.started = true;
	return 0;
}

void cp_drain_stop(struct cp *cp)
{
	struct cp_drain *d = &cp->drain;

	pthread_mutex_lock(&d->mu);
	d->stopping = true;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
	if (d->started)
		pthread_join(d->tid, NULL);
	d->started = false;
	/* Stops under way end first. */
	pthread_mutex_lock(&d->mu);
	while (d->stoppers > 0)
		pthread_cond_wait(&d->cv, &d->mu);
	pthread_mutex_unlock(&d->mu);
	/* What still drained is the driver's to stop with the rest. */
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].r.spawned)
			cp_ops_stop_replica(cp, d->v[i].r.name);
	free(d->v);
	d->v = NULL;
	d->n = d->cap = 0;
	pthread_mutex_destroy(&d->mu);
	pthread_cond_destroy(&d->cv);
}
