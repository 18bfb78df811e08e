#include "dp_outlier.h"

#include "dp_metrics.h"
#include "lb_log.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* Ejections are rare: one lock makes "how many are out now" and the
 * ejection one step, so that two threads never eject past the share. */
static pthread_mutex_t outlier_mu = PTHREAD_MUTEX_INITIALIZER;

/* Ejected since the last report (under outlier_mu); more are dropped. */
#define OUTLIER_PENDING_MAX 16
static char outlier_pending[OUTLIER_PENDING_MAX][LB_NAME_MAX + 1];
static size_t outlier_npending;

size_t dp_outlier_take_ejected(char (*out)[LB_NAME_MAX + 1], size_t max)
{
	size_t n;

	pthread_mutex_lock(&outlier_mu);
	n = outlier_npending < max ? outlier_npending : max;
	memcpy(out, outlier_pending, n * sizeof(outlier_pending[0]));
	outlier_npending = 0;
	pthread_mutex_unlock(&outlier_mu);
	return n;
}

/* May one more replica of t be ejected without passing the share? */
static bool outlier_room(const struct dp_table *t, const struct dp_config *cfg,
                         int64_t now_ms)
{
	size_t out = 0;

	for (size_t i = 0; i < t->n; i++)
		out += atomic_load(&t->b[i].ejected_until) > now_ms;
	return (out + 1) * 100 <= (size_t)cfg->max_eject_percent * t->n;
}

/* LB_EJECT_MS doubled for each ejection before this one, capped. */
static int64_t outlier_length(const struct dp_config *cfg, int times)
{
	int64_t ms = cfg->eject_ms;

	for (int i = 0; i < times && ms < cfg->eject_max_ms; i++)
		ms *= 2;
	return ms < cfg->eject_max_ms ? ms : cfg->eject_max_ms;
}

int64_t dp_outlier_record(const struct dp_table *t, struct dp_backend *b,
                          enum dp_outlier_outcome o,
                          const struct dp_config *cfg, int64_t now_ms)
{
	struct dp_replica_stats *s = b->stats;
	int64_t ms = 0;
	int times = 0;

	if (o == DP_OUTLIER_REFUSED) {
		atomic_store(&b->ejected_until, now_ms + cfg->eject_ms);
		if (s)
			atomic_fetch_add(&s->ejections, 1);
	}
	if (!s || cfg->eject_consecutive <= 0)
		return o == DP_OUTLIER_REFUSED ? cfg->eject_ms : 0;
	if (o == DP_OUTLIER_OK) {
		/* A good answer: the count starts again, and so does the
		 * doubling. */
		if (atomic_load_explicit(&s->outlier_fails,
		                         memory_order_relaxed))
			atomic_store(&s->outlier_fails, 0);
		if (atomic_load_explicit(&s->outlier_times,
		                         memory_order_relaxed))
			atomic_store(&s->outlier_times, 0);
		return 0;
	}
	if (atomic_fetch_add(&s->outlier_fails, 1) + 1 < cfg->eject_consecutive)
		return 0;
	pthread_mutex_lock(&outlier_mu);
	if (atomic_load(&s->outlier_fails) >= cfg->eject_consecutive &&
	    atomic_load(&b->ejected_until) <= now_ms &&
	    outlier_room(t, cfg, now_ms)) {
		times = atomic_fetch_add(&s->outlier_times, 1);
		ms = outlier_length(cfg, times);
		atomic_store(&b->ejected_until, now_ms + ms);
		atomic_store(&s->outlier_fails, 0);
		atomic_fetch_add(&s->ejections, 1);
		if (outlier_npending < OUTLIER_PENDING_MAX)
			snprintf(outlier_pending[outlier_npending++],
			         sizeof(outlier_pending[0]), "%s", b->name);
	}
	pthread_mutex_unlock(&outlier_mu);
	if (ms)
		lb_log(LB_WARN, "replica_ejected",
		       "name=%s for_ms=%lld times=%d reason=\"%lld failures in "
		       "a row\"",
		       b->name, (long long)ms, times + 1,
		       cfg->eject_consecutive);
	return ms;
}
