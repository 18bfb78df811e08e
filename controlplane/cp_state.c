#include "cp_state.h"

#include "lb.pb-c.h"
#include "lb_array.h"
#include "lb_err.h"
#include "lb_log.h"
#include "lb_rand.h"
#include "lb_time.h"
#include "lb_wire.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cp_state_init(struct cp_state *s, const struct lb_preset *p,
                  const struct lb_routing *routing)
{
	int rv;

	memset(s, 0, sizeof(*s));
	if (routing)
		s->routing = *routing;
	else
		s->routing.key.kind = LB_KEY_REQUEST_ID;
	s->respawn = true;
	cp_events_init(&s->events);
	lb_histo_init(&s->replacement_time, lb_histo_latency_bounds,
	              lb_histo_latency_nbounds);
	if ((rv = lb_ring_create(p, &s->ring)) != 0)
		return rv;
	pthread_mutex_init(&s->mu, NULL);
	lb_time_cond_init(&s->changed);
	s->next_id = 1;
	s->boot_id = lb_rand_u64();
	/* Versions grow across restarts too: start from the wall clock in
	 * microseconds, so a data plane that outlived us accepts the new
	 * control plane's snapshots as newer. */
	s->version = lb_wall_us();
	return 0;
}

void cp_state_fini(struct cp_state *s)
{
	lb_ring_destroy(s->ring);
	free(s->v);
	free(s->graves);
	free(s->taken);
	cp_events_fini(&s->events);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->changed);
}

/* Called with mu held after every change. */
static void state_bump(struct cp_state *s)
{
	s->version++;
	pthread_cond_broadcast(&s->changed);
}

static ssize_t state_find(struct cp_state *s, const char *name)
{
	return lb_name_find(s->v, s->n, sizeof(*s->v),
	                    offsetof(struct cp_replica, name), name);
}

static int state_reserve(struct cp_state *s, size_t extra)
{
	return lb_array_grow((void **)&s->v, &s->cap, s->n + extra,
	                     sizeof(*s->v));
}

static bool cp_state_grave_pending_locked(struct cp_state *s, const char *name)
{
	return lb_name_find(s->graves, s->ngraves, sizeof(*s->graves),
	                    offsetof(struct cp_name, name), name) >= 0;
}

static int state_bury(struct cp_state *s, const char *name)
{
	if (lb_array_grow((void **)&s->graves, &s->gravecap, s->ngraves + 1,
	                  sizeof(*s->graves)) != 0)
		return LB_ERR_NOMEM;
	snprintf(s->graves[s->ngraves++].name, LB_NAME_MAX + 1, "%s", name);
	return 0;
}

static ssize_t taken_find(struct cp_state *s, const char *name)
{
	return lb_name_find(s->taken, s->ntaken, sizeof(*s->taken),
	                    offsetof(struct cp_name, name), name);
}

static void taken_drop(struct cp_state *s, const char *name)
{
	ssize_t i = taken_find(s, name);
	if (i >= 0)
		s->taken[i] = s->taken[--s->ntaken];
}

/* A name in the state, or held by an /add in progress.  mu held. */
static bool name_used_locked(struct cp_state *s, const char *name)
{
	return state_find(s, name) >= 0 || taken_find(s, name) >= 0;
}

const char *const cp_death_names[] = {[CP_DEATH_EXITED] = "exited",
                                      [CP_DEATH_HEARTBEAT] = "heartbeat",
                                      [CP_DEATH_OTHER] = "other",
                                      NULL};

/* The cause counted for a death reported with `why`. */
static enum cp_death_cause death_cause(const char *why)
{
	for (int i = 0; cp_death_names[i]; i++)
		if (strcmp(why, cp_death_names[i]) == 0)
			return (enum cp_death_cause)i;
	return CP_DEATH_OTHER;
}

int cp_state_take_names(struct cp_state *s, const struct cp_replica *r,
                        size_t n)
{
	int rv = 0;

	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < n && rv == 0; i++)
		if (name_used_locked(s, r[i].name))
			rv = LB_ERR_EXISTS;
	if (rv == 0)
		rv = lb_array_grow((void **)&s->taken, &s->takencap,
		                   s->ntaken + n, sizeof(*s->taken));
	for (size_t i = 0; i < n && rv == 0; i++)
		snprintf(s->taken[s->ntaken++].name, LB_NAME_MAX + 1, "%s",
		         r[i].name);
	pthread_mutex_unlock(&s->mu);
	return rv;
}

void cp_state_give_back(struct cp_state *s, const struct cp_replica *r,
                        size_t n)
{
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < n; i++)
		taken_drop(s, r[i].name);
	pthread_mutex_unlock(&s->mu);
}

bool cp_state_name_used(struct cp_state *s, const char *name)
{
	bool used;
	pthread_mutex_lock(&s->mu);
	used = name_used_locked(s, name);
	pthread_mutex_unlock(&s->mu);
	return used;
}

size_t cp_state_count_with_taken(struct cp_state *s)
{
	size_t n;
	pthread_mutex_lock(&s->mu);
	n = s->n + s->ntaken;
	pthread_mutex_unlock(&s->mu);
	return n;
}

bool cp_state_ring_fits(struct cp_state *s, size_t n, uint32_t weight)
{
	bool fits;
	pthread_mutex_lock(&s->mu);
	fits = lb_ring_fits(s->ring, n, weight);
	pthread_mutex_unlock(&s->mu);
	return fits;
}

int cp_state_copy(struct cp_state *s, struct cp_replica **out, size_t *n)
{
	pthread_mutex_lock(&s->mu);
	*out = malloc((s->n ? s->n : 1) * sizeof(**out));
	if (!*out) {
		pthread_mutex_unlock(&s->mu);
		return LB_ERR_NOMEM;
	}
	if (s->n)
		memcpy(*out, s->v, s->n * sizeof(**out));
	*n = s->n;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

bool cp_state_has(struct cp_state *s, const char *name)
{
	bool has;
	pthread_mutex_lock(&s->mu);
	has = state_find(s, name) >= 0;
	pthread_mutex_unlock(&s->mu);
	return has;
}

size_t cp_state_count(struct cp_state *s)
{
	size_t n;
	pthread_mutex_lock(&s->mu);
	n = s->n;
	pthread_mutex_unlock(&s->mu);
	return n;
}

size_t cp_state_count_up(struct cp_state *s, size_t *n)
{
	size_t up = 0;
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->n; i++)
		up += s->v[i].st == CP_R_UP;
	*n = s->n;
	pthread_mutex_unlock(&s->mu);
	return up;
}

uint32_t cp_state_reserve_ids(struct cp_state *s, uint32_t n)
{
	uint32_t first;
	pthread_mutex_lock(&s->mu);
	first = s->next_id;
	s->next_id += n;
	pthread_mutex_unlock(&s->mu);
	return first;
}

void cp_state_bump_next_id(struct cp_state *s, uint32_t id)
{
	pthread_mutex_lock(&s->mu);
	if (s->next_id <= id)
		s->next_id = id + 1;
	pthread_mutex_unlock(&s->mu);
}

int cp_state_add_up(struct cp_state *s, const struct cp_replica *r, size_t n)
{
	int rv = 0;
	size_t i;

	pthread_mutex_lock(&s->mu);
	if ((rv = state_reserve(s, n)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		if ((rv = lb_ring_add(s->ring, r[i].id,
		                      cp_replica_weight(&r[i]))) != 0) {
			/* Undo: nothing changes on failure. */
			while (i-- > 0)
				lb_ring_remove(s->ring, r[i].id);
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		s->v[s->n] = r[i];
		s->v[s->n].st = CP_R_UP;
		s->v[s->n].spawned = true;
		s->v[s->n].fails = 0;
		s->n++;
		taken_drop(s, r[i].name);
	}
	state_bump(s);
out:
	pthread_mutex_unlock(&s->mu);
	return rv;
}

void cp_state_no_respawn(struct cp_state *s)
{
	s->respawn = false;
}

/* Appends r[0..n) in state st, with no heartbeat counted yet. */
static int state_append(struct cp_state *s, const struct cp_replica *r,
                        size_t n, enum cp_rstate st, bool spawned)
{
	int rv;
	pthread_mutex_lock(&s->mu);
	if ((rv = state_reserve(s, n)) == 0) {
		for (size_t i = 0; i < n; i++) {
			s->v[s->n] = r[i];
			s->v[s->n].st = st;
			s->v[s->n].spawned = spawned;
			s->v[s->n].fails = s->v[s->n].rises = 0;
			s->n++;
		}
		state_bump(s);
	}
	pthread_mutex_unlock(&s->mu);
	return rv;
}

int cp_state_add_down(struct cp_state *s, const struct cp_replica *r, size_t n)
{
	return state_append(s, r, n, CP_R_DOWN, true);
}

int cp_state_add_starting(struct cp_state *s, const struct cp_replica *r,
                          size_t n)
{
	return state_append(s, r, n, CP_R_STARTING, false);
}

int cp_state_remove(struct cp_state *s, char names[][LB_NAME_MAX + 1], size_t n,
                    struct cp_replica *removed)
{
	pthread_mutex_lock(&s->mu);
	for (size_t k = 0; k < n; k++) {
		ssize_t i = state_find(s, names[k]);
		memset(&removed[k], 0, sizeof(removed[k]));
		if (i < 0)
			continue;
		removed[k] = s->v[i];
		if (s->v[i].st == CP_R_UP)
			lb_ring_remove(s->ring, s->v[i].id);
		memmove(&s->v[i], &s->v[i + 1],
		        (s->n - (size_t)i - 1) * sizeof(s->v[0]));
		s->n--;
	}
	state_bump(s);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

/* A static backend failed: DOWN, still listed, nothing to respawn.
 * Called with mu held; unlocks it. */
static bool state_down(struct cp_state *s, size_t i, const char *why)
{
	bool changed = s->v[i].st != CP_R_DOWN;
	char name[LB_NAME_MAX + 1];

	snprintf(name, sizeof(name), "%s", s->v[i].name);
	if (changed) {
		s->v[i].st = CP_R_DOWN;
		s->v[i].fails = s->v[i].rises = 0;
		atomic_fetch_add(&s->deaths[death_cause(why)], 1);
		cp_events_add(&s->events, "down", name, why);
		state_bump(s);
	}
	pthread_mutex_unlock(&s->mu);
	if (changed)
		lb_log(LB_WARN, "backend_down", "name=%s why=%s", name, why);
	return changed;
}

bool cp_state_mark_dead(struct cp_state *s, const char *name, const char *why)
{
	struct cp_replica repl;
	ssize_t i;

	pthread_mutex_lock(&s->mu);
	if ((i = state_find(s, name)) < 0) {
		pthread_mutex_unlock(&s->mu);
		return false;
	}
	if (s->v[i].st == CP_R_STARTING) {
		/* It died before it answered: the repair thread starts it
		 * again under the same name. */
		s->v[i].spawned = false;
		state_bury(s, name);
		state_bump(s);
		pthread_mutex_unlock(&s->mu);
		lb_log(LB_WARN, "replica_start_died", "name=%s why=%s", name,
		       why);
		return true;
	}
	/* Out of the ring first, so that no new request goes there. */
	if (s->v[i].st == CP_R_UP)
		lb_ring_remove(s->ring, s->v[i].id);
	if (!s->respawn)
		return state_down(s, (size_t)i, why);
	memset(&repl, 0, sizeof(repl));
	do
		lb_name_random(repl.name, sizeof(repl.name));
	while (name_used_locked(s, repl.name)); /* an /add's names too */
	repl.id = s->next_id++;
	repl.weight = s->v[i].weight; /* the replacement takes its share */
	repl.st = CP_R_STARTING;
	repl.died_us = lb_now_us();
	atomic_fetch_add(&s->deaths[death_cause(why)], 1);
	atomic_fetch_add(&s->replacements, 1);
	{
		char detail[96];
		snprintf(detail, sizeof(detail), "%s; replaced by %s", why,
		         repl.name);
		cp_events_add(&s->events, "died", name, detail);
	}
	lb_log(LB_WARN, "replica_dead",
	       "name=%s id=%u why=%s replacement=%s replacement_id=%u", name,
	       s->v[i].id, why, repl.name, repl.id);
	state_bury(s, name);
	memmove(&s->v[i], &s->v[i + 1],
	        (s->n - (size_t)i - 1) * sizeof(s->v[0]));
	s->v[s->n - 1] = repl; /* the list keeps its length: N stays */
	state_bump(s);
	pthread_mutex_unlock(&s->mu);
	return true;
}

int cp_state_promote(struct cp_state *s, const char *name, const char *host,
                     uint16_t port)
{
	ssize_t i;
	int rv = LB_ERR_NOTFOUND;

	pthread_mutex_lock(&s->mu);
	if ((i = state_find(s, name)) >= 0 && s->v[i].st == CP_R_STARTING &&
	    (rv = lb_ring_add(s->ring, s->v[i].id,
	                      cp_replica_weight(&s->v[i]))) == 0) {
		s->v[i].st = CP_R_UP;
		s->v[i].spawned = true;
		s->v[i].fails = 0;
		s->v[i].up_since_ms = lb_wall_us() / 1000; /* slow start */
		snprintf(s->v[i].host, sizeof(s->v[i].host), "%s", host);
		s->v[i].port = port;
		if (s->v[i].died_us) {
			lb_histo_observe(
			    &s->replacement_time,
			    (uint64_t)(lb_now_us() - s->v[i].died_us));
			s->v[i].died_us = 0;
		}
		cp_events_add(&s->events, "up", name, "serving");
		state_bump(s);
	}
	pthread_mutex_unlock(&s->mu);
	return rv;
}

/* A DOWN backend answered well `rise` times in a row: back in the ring.
 * Called with mu held. */
static void state_rise(struct cp_state *s, size_t i, bool ok, int rise)
{
	s->v[i].rises = ok ? s->v[i].rises + 1 : 0;
	if (s->v[i].rises < rise ||
	    lb_ring_add(s->ring, s->v[i].id, cp_replica_weight(&s->v[i])) != 0)
		return;
	s->v[i].st = CP_R_UP;
	s->v[i].fails = s->v[i].rises = 0;
	s->v[i].up_since_ms = lb_wall_us() / 1000; /* slow start */
	cp_events_add(&s->events, "up", s->v[i].name, "answering again");
	lb_log(LB_INFO, "backend_up", "name=%s", s->v[i].name);
	state_bump(s);
}

bool cp_state_heartbeat(struct cp_state *s, const char *name, bool ok,
                        int threshold, int rise)
{
	ssize_t i;
	bool dead = false;

	pthread_mutex_lock(&s->mu);
	if ((i = state_find(s, name)) >= 0 && s->v[i].st == CP_R_UP) {
		s->v[i].fails = ok ? 0 : s->v[i].fails + 1;
		dead = s->v[i].fails >= threshold;
	} else if (i >= 0 && s->v[i].st == CP_R_DOWN) {
		state_rise(s, (size_t)i, ok, rise);
	}
	pthread_mutex_unlock(&s->mu);
	return dead;
}

void cp_state_bury(struct cp_state *s, const char *name)
{
	pthread_mutex_lock(&s->mu);
	if (!cp_state_grave_pending_locked(s, name))
		state_bury(s, name);
	pthread_mutex_unlock(&s->mu);
}

bool cp_state_grave_pending(struct cp_state *s, const char *name)
{
	bool pending;
	pthread_mutex_lock(&s->mu);
	pending = cp_state_grave_pending_locked(s, name);
	pthread_mutex_unlock(&s->mu);
	return pending;
}

size_t cp_state_copy_graves(struct cp_state *s, struct cp_name **out)
{
	size_t n;
	pthread_mutex_lock(&s->mu);
	n = s->ngraves;
	*out = n ? malloc(n * sizeof(**out)) : NULL;
	if (*out)
		memcpy(*out, s->graves, n * sizeof(**out));
	else
		n = 0;
	pthread_mutex_unlock(&s->mu);
	return n;
}

void cp_state_unbury(struct cp_state *s, const char *name)
{
	ssize_t i;
	pthread_mutex_lock(&s->mu);
	i = lb_name_find(s->graves, s->ngraves, sizeof(*s->graves),
	                 offsetof(struct cp_name, name), name);
	if (i >= 0)
		s->graves[i] = s->graves[--s->ngraves];
	pthread_mutex_unlock(&s->mu);
}

int cp_state_pack_snapshot(struct cp_state *s, void **buf, size_t *len,
                           uint64_t *version)
{
	Lb__Snapshot snap = LB__SNAPSHOT__INIT;
	Lb__Preset preset = LB__PRESET__INIT;
	Lb__Routing routing = LB__ROUTING__INIT;
	char key[LB_KEY_NAME_MAX + 16];
	Lb__Replica *reps = NULL, **rp = NULL;
	size_t nup = 0;
	int rv = LB_ERR_NOMEM;

	pthread_mutex_lock(&s->mu);
	if (s->n) {
		reps = calloc(s->n, sizeof(*reps));
		rp = calloc(s->n, sizeof(*rp));
		if (!reps || !rp)
			goto out;
	}
	for (size_t i = 0; i < s->n; i++) {
		if (s->v[i].st != CP_R_UP)
			continue;
		lb__replica__init(&reps[nup]);
		reps[nup].name = s->v[i].name;
		reps[nup].server_id = s->v[i].id;
		reps[nup].host = s->v[i].host;
		reps[nup].port = s->v[i].port;
		reps[nup].has_weight = true;
		reps[nup].weight = cp_replica_weight(&s->v[i]);
		reps[nup].has_up_since_ms = true;
		reps[nup].up_since_ms = s->v[i].up_since_ms;
		rp[nup] = &reps[nup];
		nup++;
	}
	lb_wire_preset_set(&preset, lb_ring_preset(s->ring));
	snap.boot_id = s->boot_id;
	snap.version = s->version;
	snap.preset = &preset;
	lb_wire_routing_set(&routing, &s->routing, key, sizeof(key));
	snap.routing = &routing;
	snap.n_replicas = nup;
	snap.replicas = rp;
	snap.n_owner = lb_ring_preset(s->ring)->slots;
	snap.owner = (uint32_t *)lb_ring_table(s->ring);
	rv = lb_wire_pack(&snap.base, buf, len);
	*version = s->version;
out:
	pthread_mutex_unlock(&s->mu);
	free(reps);
	free(rp);
	return rv;
}

uint64_t cp_state_version(struct cp_state *s)
{
	uint64_t v;
	pthread_mutex_lock(&s->mu);
	v = s->version;
	pthread_mutex_unlock(&s->mu);
	return v;
}

uint64_t cp_state_wait_change(struct cp_state *s, uint64_t seen,
                              long long timeout_ms)
{
	struct timespec ts;
	uint64_t v;

	lb_time_deadline(&ts, CLOCK_MONOTONIC, timeout_ms);
	pthread_mutex_lock(&s->mu);
	while (s->version == seen && !s->stopping) {
		if (pthread_cond_timedwait(&s->changed, &s->mu, &ts) ==
		    ETIMEDOUT)
			break;
	}
	v = s->version;
	pthread_mutex_unlock(&s->mu);
	return v;
}

void cp_state_stop(struct cp_state *s)
{
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->mu);
}
