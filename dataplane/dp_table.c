#include "dp_table.h"

#include "lb_err.h"
#include "lb_time.h"
#include "lb_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int backend_cmp(const void *a, const void *b)
{
	const struct dp_backend *x = a, *y = b;
	return (x->id > y->id) - (x->id < y->id);
}

int dp_table_build(const Lb__Snapshot *s, const struct dp_table *prev,
                   struct dp_table **out)
{
	struct dp_table *t = calloc(1, sizeof(*t));
	char err[160];
	int rv;

	if (!t)
		return LB_ERR_NOMEM;

	atomic_init(&t->refs, 1);
	t->boot_id = s->boot_id;
	t->version = s->version;
	if (lb_wire_routing_get(s, &t->routing, err, sizeof(err)) != 0) {
		free(t);
		return LB_ERR_DECODE; /* checked at unpack: cannot happen */
	}
	if ((rv = lb_wire_snapshot_ring(s, &t->ring)) != 0) {
		free(t);
		return rv;
	}
	t->n = s->n_replicas;
	if (t->n && !(t->b = calloc(t->n, sizeof(*t->b)))) {
		lb_ring_destroy(t->ring);
		free(t);
		return LB_ERR_NOMEM;
	}
	for (size_t i = 0; i < t->n; i++) {
		const Lb__Replica *r = s->replicas[i];
		struct dp_backend *b = &t->b[i];
		snprintf(b->name, sizeof(b->name), "%s", r->name);
		b->id = r->server_id;
		snprintf(b->host, sizeof(b->host), "%s", r->host);
		b->port = (uint16_t)r->port;
		b->up_since_ms = r->up_since_ms;
		b->weight = r->has_weight ? r->weight : 1;
		b->stats = dp_metrics_replica_get(b->name);
		if (!(b->up = dp_upstream_backend_get(b->host, b->port))) {
			t->n = i; /* release what was taken so far */
			dp_table_release(t);
			return LB_ERR_NOMEM;
		}
		atomic_init(&b->ejected_until, 0);
	}
	if (t->n)
		qsort(t->b, t->n, sizeof(*t->b), backend_cmp);
	for (size_t i = 0; prev && i < t->n; i++) {
		struct dp_backend *old = dp_table_backend(prev, t->b[i].id);
		if (old && old->port == t->b[i].port &&
		    strcmp(old->host, t->b[i].host) == 0)
			atomic_store(&t->b[i].ejected_until,
			             atomic_load(&old->ejected_until));
	}
	*out = t;
	return 0;
}

struct dp_backend *dp_table_backend(const struct dp_table *t, uint32_t id)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->b[mid].id == id)
			return &t->b[mid];
		if (t->b[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void dp_table_release(struct dp_table *t)
{
	if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	for (size_t i = 0; i < t->n; i++) {
		dp_upstream_backend_put(t->b[i].up);
		dp_metrics_replica_put(t->b[i].stats);
	}
	lb_ring_destroy(t->ring);
	free(t->b);
	free(t);
}

void dp_router_init(struct dp_router *r)
{
	pthread_mutex_init(&r->mu, NULL);
	lb_time_cond_init(&r->installed);
	r->cur = NULL;
	r->nretired = 0;
	atomic_init(&r->last_snapshot_ms, 0);
}

void dp_router_fini(struct dp_router *r)
{
	dp_table_release(r->cur);
	r->cur = NULL;
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->installed);
}

struct dp_table *dp_router_acquire(struct dp_router *r)
{
	struct dp_table *t;
	pthread_mutex_lock(&r->mu);
	if ((t = r->cur))
		atomic_fetch_add(&t->refs, 1);
	pthread_mutex_unlock(&r->mu);
	return t;
}

/* Called with mu held. */
static bool router_newer(const struct dp_router *r, uint64_t boot_id,
                         uint64_t version)
{
	if (!r->cur)
		return true;
	if (boot_id == r->cur->boot_id)
		return version > r->cur->version;
	for (size_t i = 0; i < r->nretired && i < DP_ROUTER_RETIRED; i++)
		if (r->retired[i] == boot_id)
			return false; /* a start that was replaced */
	return true;
}

bool dp_router_wants(struct dp_router *r, uint64_t boot_id, uint64_t version)
{
	bool newer;

	pthread_mutex_lock(&r->mu);
	newer = router_newer(r, boot_id, version);
	pthread_mutex_unlock(&r->mu);
	return newer;
}

bool dp_router_offer(struct dp_router *r, struct dp_table *t)
{
	struct dp_table *old = NULL;
	bool installed = false;

	pthread_mutex_lock(&r->mu);
	if (router_newer(r, t->boot_id, t->version)) {
		old = r->cur;
		if (old && old->boot_id != t->boot_id) {
			/* A new control-plane start: the old one's late
			 * messages are never taken again. */
			r->retired[r->nretired++ % DP_ROUTER_RETIRED] =
			    old->boot_id;
		}
		r->cur = t;
		installed = true;
		pthread_cond_broadcast(&r->installed);
	}
	pthread_mutex_unlock(&r->mu);
	dp_table_release(installed ? old : t);
	return installed;
}

uint64_t dp_router_version(struct dp_router *r)
{
	uint64_t v;
	pthread_mutex_lock(&r->mu);
	v = r->cur ? r->cur->version : 0;
	pthread_mutex_unlock(&r->mu);
	return v;
}

void dp_router_wait_change(struct dp_router *r, uint64_t boot_id,
                           uint64_t version, int64_t timeout_ms)
{
	struct timespec deadline;

	lb_time_deadline(&deadline, CLOCK_MONOTONIC, timeout_ms);
	pthread_mutex_lock(&r->mu);
	/* No table is (0, 0). */
	while ((r->cur ? r->cur->boot_id : 0) == boot_id &&
	       (r->cur ? r->cur->version : 0) == version)
		if (pthread_cond_timedwait(&r->installed, &r->mu, &deadline))
			break;
	pthread_mutex_unlock(&r->mu);
}

void dp_router_current(struct dp_router *r, uint64_t *boot_id,
                       uint64_t *version)
{
	pthread_mutex_lock(&r->mu);
	*boot_id = r->cur ? r->cur->boot_id : 0;
	*version = r->cur ? r->cur->version : 0;
	pthread_mutex_unlock(&r->mu);
}

void dp_router_touch(struct dp_router *r)
{
	atomic_store(&r->last_snapshot_ms, lb_now_ms());
}

int64_t dp_router_last_snapshot_ms(struct dp_router *r)
{
	return atomic_load(&r->last_snapshot_ms);
}
