#include "dp_walk.h"

#include "dp_ramp.h"
#include "lb_time.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

void dp_walk_init(struct dp_walk *w, const struct dp_table *t, uint64_t key)
{
	size_t members = lb_ring_count(t->ring);
	double f = t->routing.balance_factor;

	memset(w, 0, sizeof(*w));
	w->t = t;
	w->key = key;
	w->now = lb_now_ms();
	w->wall_ms = t->routing.slow_start_ms ? lb_wall_us() / 1000 : 0;
	w->max = members < DP_WALK_MAX_TRIES ? members : DP_WALK_MAX_TRIES;
	/* ceil(factor x (requests in flight + this one) / N); summed here,
	 * only when bounded loads are on, rather than kept in one counter
	 * that every exchange would write. */
	if (f > 0 && members > 0) {
		int inflight = 0;
		for (size_t i = 0; i < t->n; i++)
			inflight += dp_upstream_inflight(t->b[i].up);
		w->cap = (int)ceil(f * (inflight + 1) / (double)members);
	}
}

struct dp_backend *dp_walk_next(struct dp_walk *w)
{
	while (!w->ring_done) {
		uint32_t id = 0;
		struct dp_backend *b;
		int defer;
		if (w->ntried == 0)
			id = lb_ring_lookup(w->t->ring, w->key, &w->pos);
		else if (w->ntried < w->max)
			id = lb_ring_next_distinct(w->t->ring, &w->pos,
			                           w->tried, w->ntried);
		if (id == 0) {
			w->ring_done = true;
			break;
		}
		w->tried[w->ntried++] = id;
		if (!(b = dp_table_backend(w->t, id)))
			continue;
		if (atomic_load(&b->ejected_until) > w->now)
			defer = DP_WALK_EJECTED;
		else if (w->cap && dp_upstream_inflight(b->up) + 1 > w->cap)
			defer = DP_WALK_FULL;
		else if (w->wall_ms &&
		         dp_ramp_passes(
		             w->key,
		             dp_ramp_share(b->up_since_ms, w->wall_ms,
		                           w->t->routing.slow_start_ms)))
			defer = DP_WALK_RAMPING;
		else
			return b;
		w->later[defer][w->nlater[defer]++] = b;
	}
	for (int k = 0; k < DP_WALK_LATER; k++)
		if (w->next_later[k] < w->nlater[k])
			return w->later[k][w->next_later[k]++];
	return NULL;
}

bool dp_walk_may_retry(bool committed, bool idempotent,
                       enum dp_upstream_result r,
                       const struct dp_upstream_info *info)
{
	if (committed)
		return false;
	switch (r) {
	case DP_UP_CONNECT:
	case DP_UP_BUSY:
		return true; /* never sent */
	case DP_UP_BROKEN:
		/* No byte came back.  Safe again only when the body is still
		 * in hand and the replica cannot have acted on the request
		 * (no byte of it went out), or acting twice is harmless (an
		 * idempotent method). */
		return !info->consumed && (idempotent || !info->sent);
	default:
		return false;
	}
}

/* A refused connection, a 5xx answer or no answer is a failure; all
 * connections busy, or the client gone, says nothing about the replica. */
bool dp_walk_outcome(enum dp_upstream_result r, int status,
                     enum dp_outlier_outcome *o)
{
	if (r == DP_UP_BUSY || r == DP_UP_QUEUED || r == DP_UP_STOPPED)
		return false;
	*o = DP_OUTLIER_OK;
	if (r == DP_UP_CONNECT)
		*o = DP_OUTLIER_REFUSED;
	else if (r != DP_UP_OK || status >= 500)
		*o = DP_OUTLIER_FAILED;
	return true;
}
