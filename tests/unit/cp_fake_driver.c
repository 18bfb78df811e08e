#include "cp_fake_driver.h"

#include "cp_probe.h"
#include "lb_err.h"
#include "lb_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* cp_probe_run() is called with no driver at hand: it asks the one fake
 * driver of the test binary, set by cp_fake_driver_cp_init(). */
static struct cp_fake_driver *fake_now;

/* mu held. */
static struct cp_fake_replica *fake_find(struct cp_fake_driver *fd,
                                         const char *name)
{
	for (size_t i = 0; i < fd->nrun; i++)
		if (strcmp(fd->run[i].name, name) == 0)
			return &fd->run[i];
	return NULL;
}

/* Calls of op for name (NULL: any) in the log; with ok_only, those that
 * ended well.  mu held. */
static size_t fake_calls(struct cp_fake_driver *fd, enum cp_fake_op op,
                         const char *name, bool ok_only)
{
	size_t n = 0;

	for (size_t i = 0; i < fd->ncalls; i++)
		n += fd->calls[i].op == op &&
		     (!name || strcmp(fd->calls[i].name, name) == 0) &&
		     (!ok_only || fd->calls[i].ok);
	return n;
}

/* Whether a rule says act for call nth of op (nth_name: its number among
 * the calls for name).  mu held. */
static bool fake_rule(struct cp_fake_driver *fd, enum cp_fake_op op,
                      const char *name, size_t nth, size_t nth_name,
                      enum cp_fake_act act)
{
	for (size_t i = 0; i < fd->nrules; i++) {
		const struct cp_fake_rule *r = &fd->rules[i];
		if (r->op != op || r->act != act)
			continue;
		if (r->name[0]
		        ? strcmp(r->name, name) == 0 && r->nth == nth_name
		        : r->nth == nth)
			return true;
	}
	return false;
}

/* Records a call as it arrives and waits while a rule holds it.  Sets
 * *nth and *nth_name (its number, among all and among those for name) and
 * *slot, its record (NULL past CP_FAKE_CALLS_MAX).  mu held. */
static void fake_arrive(struct cp_fake_driver *fd, enum cp_fake_op op,
                        const char *name, uint32_t id, uint32_t weight,
                        size_t *nth, size_t *nth_name,
                        struct cp_fake_call **slot)
{
	*nth = ++fd->count[op];
	*slot = NULL;
	if (fd->ncalls < CP_FAKE_CALLS_MAX) {
		*slot = &fd->calls[fd->ncalls++];
		memset(*slot, 0, sizeof(**slot));
		(*slot)->op = op;
		snprintf((*slot)->name, sizeof((*slot)->name), "%s", name);
		(*slot)->id = id;
		(*slot)->weight = weight;
	}
	*nth_name = fake_calls(fd, op, name, false);
	pthread_cond_broadcast(&fd->cv);
	if (fake_rule(fd, op, name, *nth, *nth_name, CP_FAKE_HOLD)) {
		fd->held++;
		while (fd->releases == 0)
			pthread_cond_wait(&fd->cv, &fd->mu);
		fd->releases--;
		fd->held--;
	}
}

static int fake_start(struct cp_driver *base, const char *name, uint32_t id,
                      uint32_t weight, char *host, size_t hostlen,
                      uint16_t *port, char *err, size_t errlen)
{
	struct cp_fake_driver *fd = (struct cp_fake_driver *)base;
	struct cp_fake_replica *r;
	struct cp_fake_call *c;
	size_t nth, nth_name;
	int rv = 0;

	pthread_mutex_lock(&fd->mu);
	fake_arrive(fd, CP_FAKE_START, name, id, weight, &nth, &nth_name, &c);
	if (fake_rule(fd, CP_FAKE_START, name, nth, nth_name, CP_FAKE_FAIL)) {
		snprintf(err, errlen, "fake: start %zu (%s) refused", nth,
		         name);
		rv = LB_ERR_ENGINE;
	} else if (fake_find(fd, name) || fd->nrun == CP_FAKE_RUN_MAX) {
		/* Two replicas of one name: what a real engine refuses. */
		fd->anomalies++;
		snprintf(err, errlen, "fake: %s runs already", name);
		rv = LB_ERR_ENGINE;
	} else {
		r = &fd->run[fd->nrun++];
		memset(r, 0, sizeof(*r));
		snprintf(r->name, sizeof(r->name), "%s", name);
		r->id = id;
		r->weight = weight;
		r->mute = fake_rule(fd, CP_FAKE_START, name, nth, nth_name,
		                    CP_FAKE_MUTE);
		/* Under given_addresses the caller says where it runs. */
		if (!fd->ops.given_addresses) {
			snprintf(host, hostlen, "%s", CP_FAKE_HOST);
			*port = fd->next_port++;
		}
		snprintf(r->host, sizeof(r->host), "%s", host);
		r->port = *port;
	}
	if (c)
		c->ok = rv == 0;
	pthread_cond_broadcast(&fd->cv);
	pthread_mutex_unlock(&fd->mu);
	return rv;
}

static int fake_stop(struct cp_driver *base, const char *name, char *err,
                     size_t errlen)
{
	struct cp_fake_driver *fd = (struct cp_fake_driver *)base;
	struct cp_fake_replica *r;
	struct cp_fake_call *c;
	size_t nth, nth_name;
	int rv = 0;

	pthread_mutex_lock(&fd->mu);
	fake_arrive(fd, CP_FAKE_STOP, name, 0, 0, &nth, &nth_name, &c);
	if (fake_rule(fd, CP_FAKE_STOP, name, nth, nth_name, CP_FAKE_FAIL)) {
		snprintf(err, errlen, "fake: stop %zu (%s) refused", nth, name);
		rv = LB_ERR_ENGINE;
	} else if ((r = fake_find(fd, name))) {
		*r = fd->run[--fd->nrun]; /* already gone: not an error */
	}
	if (c)
		c->ok = rv == 0;
	pthread_cond_broadcast(&fd->cv);
	pthread_mutex_unlock(&fd->mu);
	return rv;
}

static int fake_adopt(struct cp_driver *base, struct cp_found **out, size_t *n,
                      char *err, size_t errlen)
{
	struct cp_fake_driver *fd = (struct cp_fake_driver *)base;

	pthread_mutex_lock(&fd->mu);
	*out = calloc(fd->nrun ? fd->nrun : 1, sizeof(**out));
	for (size_t i = 0; *out && i < fd->nrun; i++) {
		snprintf((*out)[i].name, sizeof((*out)[i].name), "%s",
		         fd->run[i].name);
		(*out)[i].server_id = fd->run[i].id;
		snprintf((*out)[i].host, sizeof((*out)[i].host), "%s",
		         fd->run[i].host);
		(*out)[i].port = fd->run[i].port;
		(*out)[i].weight = fd->run[i].weight;
	}
	*n = fd->nrun;
	pthread_mutex_unlock(&fd->mu);
	if (!*out) {
		snprintf(err, errlen, "out of memory");
		return LB_ERR_NOMEM;
	}
	return 0;
}

static void fake_destroy(struct cp_driver *base)
{
	struct cp_fake_driver *fd = (struct cp_fake_driver *)base;

	if (!fd)
		return;
	if (fake_now == fd)
		fake_now = NULL;
	pthread_mutex_destroy(&fd->mu);
	pthread_cond_destroy(&fd->cv);
	free(fd);
}

static const struct cp_driver_ops fake_ops = {
    .name = "fake",
    .start = fake_start,
    .stop = fake_stop,
    .adopt = fake_adopt,
    .destroy = fake_destroy,
};

/* Stands in for cp_probe.c: a target answers when the fake runs a
 * replica there that is not mute. */
int cp_probe_run(const struct cp_check *check, struct cp_probe *t, size_t n,
                 long timeout_ms)
{
	struct cp_fake_driver *fd = fake_now;

	(void)check;
	(void)timeout_ms;
	for (size_t i = 0; i < n; i++)
		t[i].ok = false;
	if (!fd)
		return 0;
	pthread_mutex_lock(&fd->mu);
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < fd->nrun; k++)
			if (fd->run[k].port == t[i].port &&
			    strcmp(fd->run[k].host, t[i].host) == 0)
				t[i].ok = !fd->run[k].mute;
	}
	pthread_mutex_unlock(&fd->mu);
	return 0;
}

/* What cp_main.c does when a driver reports an exit. */
static void fake_on_exit(void *arg, const char *name)
{
	struct cp *cp = arg;
	cp_state_mark_dead(&cp->state, name, "exited");
}

void cp_fake_driver_cp_init(struct cp *cp, struct cp_fake_driver **out)
{
	struct cp_fake_driver *fd = calloc(1, sizeof(*fd));

	if (!fd) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	fd->ops = fake_ops;
	fd->base.ops = &fd->ops;
	fd->base.on_exit = fake_on_exit;
	fd->base.on_exit_arg = cp;
	fd->next_port = 20000;
	pthread_mutex_init(&fd->mu, NULL);
	lb_time_cond_init(&fd->cv);
	fake_now = fd;

	memset(cp, 0, sizeof(*cp));
	if (lb_preset_lookup("assignment", &cp->cfg.preset) != 0) {
		fprintf(stderr, "no preset 'assignment'\n");
		exit(1);
	}
	cp->cfg.max_replicas = 10;
	cp->cfg.start_timeout_ms = 2000;
	cp->cfg.drain_timeout_ms = 10000;
	cp->cfg.fail_threshold = 3;
	cp->cfg.rise = 2;
	cp->cfg.check.path = "/heartbeat";
	cp->cfg.check.status_min = 200;
	cp->cfg.check.status_max = 399;
	pthread_mutex_init(&cp->orch, NULL);
	cp_reports_init(&cp->reports);
	cp_drain_init(&cp->drain);
	if (cp_state_init(&cp->state, &cp->cfg.preset, NULL) != 0) {
		fprintf(stderr, "cp_state_init failed\n");
		exit(1);
	}
	cp->driver = &fd->base;
	*out = fd;
}

void cp_fake_driver_cp_fini(struct cp *cp)
{
	atomic_store(&cp->stopping, true);
	cp_state_stop(&cp->state);
	cp_drain_stop(cp);
	cp->driver->ops->destroy(cp->driver);
	cp_state_fini(&cp->state);
	cp_reports_fini(&cp->reports);
	pthread_mutex_destroy(&cp->orch);
}

void cp_fake_driver_rule(struct cp_fake_driver *fd, enum cp_fake_op op,
                         const char *name, size_t k, enum cp_fake_act act)
{
	struct cp_fake_rule *r;

	pthread_mutex_lock(&fd->mu);
	if (fd->nrules == CP_FAKE_RULES_MAX) {
		fprintf(stderr, "cp_fake_driver: too many rules\n");
		exit(1);
	}
	r = &fd->rules[fd->nrules++];
	memset(r, 0, sizeof(*r));
	r->op = op;
	snprintf(r->name, sizeof(r->name), "%s", name ? name : "");
	r->nth = (name ? fake_calls(fd, op, name, false) : fd->count[op]) + k;
	r->act = act;
	pthread_mutex_unlock(&fd->mu);
}

void cp_fake_driver_release(struct cp_fake_driver *fd)
{
	pthread_mutex_lock(&fd->mu);
	fd->releases++;
	pthread_cond_broadcast(&fd->cv);
	pthread_mutex_unlock(&fd->mu);
}

size_t cp_fake_driver_calls(struct cp_fake_driver *fd, enum cp_fake_op op,
                            const char *name, bool ok_only)
{
	size_t n;

	pthread_mutex_lock(&fd->mu);
	n = fake_calls(fd, op, name, ok_only);
	pthread_mutex_unlock(&fd->mu);
	return n;
}

bool cp_fake_driver_wait_calls(struct cp_fake_driver *fd, enum cp_fake_op op,
                               const char *name, bool ok_only, size_t count,
                               long timeout_ms)
{
	struct timespec ts;
	bool reached;

	lb_time_deadline(&ts, CLOCK_MONOTONIC, timeout_ms);
	pthread_mutex_lock(&fd->mu);
	while (fake_calls(fd, op, name, ok_only) < count)
		if (pthread_cond_timedwait(&fd->cv, &fd->mu, &ts) != 0)
			break;
	reached = fake_calls(fd, op, name, ok_only) >= count;
	pthread_mutex_unlock(&fd->mu);
	return reached;
}

long cp_fake_driver_call_index(struct cp_fake_driver *fd, enum cp_fake_op op,
                               const char *name, bool ok_only, size_t which)
{
	long at = -1;

	pthread_mutex_lock(&fd->mu);
	for (size_t i = 0; i < fd->ncalls && at < 0; i++)
		if (fd->calls[i].op == op &&
		    (!name || strcmp(fd->calls[i].name, name) == 0) &&
		    (!ok_only || fd->calls[i].ok) && --which == 0)
			at = (long)i;
	pthread_mutex_unlock(&fd->mu);
	return at;
}

struct cp_fake_call cp_fake_driver_call(struct cp_fake_driver *fd, size_t i)
{
	struct cp_fake_call c;

	memset(&c, 0, sizeof(c));
	pthread_mutex_lock(&fd->mu);
	if (i < fd->ncalls)
		c = fd->calls[i];
	pthread_mutex_unlock(&fd->mu);
	return c;
}

bool cp_fake_driver_runs(struct cp_fake_driver *fd, const char *name)
{
	bool runs;

	pthread_mutex_lock(&fd->mu);
	runs = fake_find(fd, name) != NULL;
	pthread_mutex_unlock(&fd->mu);
	return runs;
}

size_t cp_fake_driver_nrun(struct cp_fake_driver *fd)
{
	size_t n;

	pthread_mutex_lock(&fd->mu);
	n = fd->nrun;
	pthread_mutex_unlock(&fd->mu);
	return n;
}

void cp_fake_driver_kill(struct cp_fake_driver *fd, const char *name)
{
	struct cp_fake_replica *r;

	pthread_mutex_lock(&fd->mu);
	if ((r = fake_find(fd, name)))
		*r = fd->run[--fd->nrun];
	pthread_mutex_unlock(&fd->mu);
	if (fd->base.on_exit)
		fd->base.on_exit(fd->base.on_exit_arg, name);
}
