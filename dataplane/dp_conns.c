#include "dp_conns.h"

#include "lb_err.h"
#include "lb_log.h"
#include "lb_time.h"

#include <arpa/inet.h>
#include <stdlib.h>

/* What the worker's current connection counted, if anything. */
static _Thread_local struct {
	bool counted;
	uint32_t ip;
} conn_of_thread;

int dp_conns_init(struct dp_conns *k, int threads, int max_per_ip)
{
	uint32_t size = 16;

	while (size < (uint32_t)threads * 2)
		size *= 2;
	k->threads = threads;
	k->max_per_ip = max_per_ip;
	atomic_init(&k->busy, 0);
	atomic_init(&k->refused, 0);
	atomic_init(&k->last_refusal_log_ms, 0);
	if (!(k->tab = calloc(size, sizeof(*k->tab))))
		return LB_ERR_NOMEM;
	k->mask = size - 1;
	pthread_mutex_init(&k->mu, NULL);
	return 0;
}

void dp_conns_fini(struct dp_conns *k)
{
	free(k->tab);
	k->tab = NULL;
	pthread_mutex_destroy(&k->mu);
}

static uint32_t slot_of(const struct dp_conns *k, uint32_t ip)
{
	uint32_t h = ip * 0x9e3779b1u; /* Fibonacci hashing */
	return (h ^ (h >> 16)) & k->mask;
}

/* The slot holding ip, or the empty one where it would go.  The table
 * never fills: it has twice as many slots as there can be connections. */
static struct dp_conns_slot *slot_find(struct dp_conns *k, uint32_t ip)
{
	uint32_t i = slot_of(k, ip);
	while (k->tab[i].ip && k->tab[i].ip != ip)
		i = (i + 1) & k->mask;
	return &k->tab[i];
}

/* Empties slot s, moving back the entries of its probe run that would no
 * longer be found (deletion without tombstones). */
static void slot_clear(struct dp_conns *k, struct dp_conns_slot *s)
{
	uint32_t hole = (uint32_t)(s - k->tab), i = hole;

	for (;;) {
		uint32_t home;
		i = (i + 1) & k->mask;
		if (!k->tab[i].ip)
			break;
		home = slot_of(k, k->tab[i].ip);
		/* Leave it when its home lies cyclically in (hole, i]. */
		if (hole <= i ? (hole < home && home <= i)
		              : (hole < home || home <= i))
			continue;
		k->tab[hole] = k->tab[i];
		hole = i;
	}
	k->tab[hole] = (struct dp_conns_slot){0, 0};
}

void dp_conns_open(struct dp_conns *k)
{
	atomic_fetch_add(&k->busy, 1);
	conn_of_thread.counted = false;
}

void dp_conns_close(struct dp_conns *k)
{
	atomic_fetch_sub(&k->busy, 1);
	if (!conn_of_thread.counted)
		return;
	conn_of_thread.counted = false;
	pthread_mutex_lock(&k->mu);
	struct dp_conns_slot *s = slot_find(k, conn_of_thread.ip);
	if (s->ip && --s->n == 0)
		slot_clear(k, s);
	pthread_mutex_unlock(&k->mu);
}

static void log_refusal(struct dp_conns *k, const char *addr, int held)
{
	int64_t now = lb_now_ms();
	long long last = atomic_load(&k->last_refusal_log_ms);

	/* One line a second at most: a flood must not flood the log. */
	if (now - last < 1000 || !atomic_compare_exchange_strong(
	                             &k->last_refusal_log_ms, &last, now))
		return;
	lb_log(LB_WARN, "connection_refused",
	       "reason=max_conns_per_ip client=%s held=%d cap=%d "
	       "refused_total=%llu",
	       addr, held, k->max_per_ip,
	       (unsigned long long)atomic_load(&k->refused));
}

bool dp_conns_admit(struct dp_conns *k, struct mg_connection *c)
{
	const struct mg_request_info *ri = mg_get_request_info(c);
	struct in_addr a;
	struct dp_conns_slot *s;
	int held;

	if (k->max_per_ip <= 0 || conn_of_thread.counted ||
	    inet_pton(AF_INET, ri->remote_addr, &a) != 1 || a.s_addr == 0)
		return true;
	pthread_mutex_lock(&k->mu);
	s = slot_find(k, a.s_addr);
	held = s->ip ? s->n : 0;
	if (held >= k->max_per_ip) {
		pthread_mutex_unlock(&k->mu);
		atomic_fetch_add(&k->refused, 1);
		log_refusal(k, ri->remote_addr, held);
		return false;
	}
	s->ip = a.s_addr;
	s->n++;
	pthread_mutex_unlock(&k->mu);
	conn_of_thread.counted = true;
	conn_of_thread.ip = a.s_addr;
	return true;
}

bool dp_conns_short(struct dp_conns *k)
{
	return atomic_load(&k->busy) > k->threads - k->threads / 4;
}
