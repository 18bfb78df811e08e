#include "dp_metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Few entries (one per replica), looked up only when a table is built. */
static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct dp_replica_stats *registry;

struct dp_replica_stats *dp_metrics_replica_get(const char *name)
{
	struct dp_replica_stats *r;

	pthread_mutex_lock(&registry_mu);
	for (r = registry; r; r = r->next)
		if (strcmp(r->name, name) == 0)
			break;
	if (!r && (r = calloc(1, sizeof(*r)))) {
		snprintf(r->name, sizeof(r->name), "%s", name);
		r->next = registry;
		registry = r;
	}
	if (r)
		r->refs++;
	pthread_mutex_unlock(&registry_mu);
	return r;
}

void dp_metrics_replica_put(struct dp_replica_stats *r)
{
	struct dp_replica_stats **pp;

	if (!r)
		return;
	pthread_mutex_lock(&registry_mu);
	if (--r->refs == 0) {
		for (pp = &registry; *pp; pp = &(*pp)->next)
			if (*pp == r) {
				*pp = r->next;
				break;
			}
		free(r);
	}
	pthread_mutex_unlock(&registry_mu);
}

void dp_stats_init(struct dp_stats *s)
{
	memset(s, 0, sizeof(*s));
	lb_histo_init(&s->duration, lb_histo_latency_bounds,
	              lb_histo_latency_nbounds);
	for (int i = 0; i < DP_PHASES; i++)
		lb_histo_init(&s->phase[i], lb_histo_latency_bounds,
		              lb_histo_latency_nbounds);
}

void dp_metrics_count(struct dp_stats *s, struct dp_replica_stats *r,
                      int status, const struct dp_timers *t)
{
	int code = status > 0 && status < DP_CODES ? status : 0;
	atomic_ullong *c = r ? &r->by_code[code] : &s->no_replica[code];

	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
	lb_histo_observe(&s->duration, t->total_us);
	lb_histo_observe(&s->phase[DP_PHASE_QUEUE], t->queue_us);
	if (!r)
		return; /* no replica: nothing connected or answered */
	lb_histo_observe(&s->phase[DP_PHASE_CONNECT], t->connect_us);
	if (t->response_us >= 0)
		lb_histo_observe(&s->phase[DP_PHASE_RESPONSE],
		                 (uint64_t)t->response_us);
}

void dp_metrics_replica_lock(void)
{
	pthread_mutex_lock(&registry_mu);
}

void dp_metrics_replica_unlock(void)
{
	pthread_mutex_unlock(&registry_mu);
}

struct dp_replica_stats *dp_metrics_replica_first(void)
{
	return registry;
}
