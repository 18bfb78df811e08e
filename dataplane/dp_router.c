#include "dp_router.h"

#include "lb_time.h"

#include <stdlib.h>
#include <string.h>

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
