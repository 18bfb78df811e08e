/* dp_metrics_replica.c - the registry of per-replica counters: one entry
 * per replica name, shared by the routing tables that list it. */
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
