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
