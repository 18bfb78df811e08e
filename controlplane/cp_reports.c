#include "cp_reports.h"

#include "lb_time.h"

#include <stdio.h>
#include <string.h>

void cp_reports_init(struct cp_reports *r)
{

	pthread_mutex_init(&r->mu, NULL);
	lb_time_cond_init(&r->put);
	r->n = 0;
}

void cp_reports_fini(struct cp_reports *r)
{
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->put);
}

/* The slot of dp_id: its own, a stale one, or a new one (NULL: full). */
static struct cp_report *reports_slot(struct cp_reports *r, uint64_t dp_id,
                                      int64_t now_ms)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->dp[i].dp_id == dp_id)
			return &r->dp[i];
	for (size_t i = 0; i < r->n; i++)
		if (now_ms - r->dp[i].seen_ms > CP_REPORTS_STALE_MS)
			return &r->dp[i];
	return r->n < CP_REPORTS_MAX_DPS ? &r->dp[r->n++] : NULL;
}

void cp_reports_put(struct cp_reports *r, const Lb__Report *rep, int64_t now_ms)
{
	struct cp_report *d;

	pthread_mutex_lock(&r->mu);
	if ((d = reports_slot(r, rep->dp_id, now_ms))) {
		d->dp_id = rep->dp_id;
		d->boot_id = rep->boot_id;
		d->version = rep->version;
		d->seen_ms = now_ms;
		d->naddr = 0;
		d->truncated = rep->n_inflight > CP_REPORTS_MAX_ADDRS;
		for (size_t i = 0;
		     i < rep->n_inflight && d->naddr < CP_REPORTS_MAX_ADDRS;
		     i++) {
			const Lb__InFlight *f = rep->inflight[i];
			struct cp_report_addr *a = &d->addr[d->naddr];
			if (!f->host || strlen(f->host) > LB_HOST_MAX ||
			    f->port > 65535)
				continue;
			snprintf(a->host, sizeof(a->host), "%s", f->host);
			a->port = (uint16_t)f->port;
			a->count = f->count;
			d->naddr++;
		}
	}
	pthread_cond_broadcast(&r->put);
	pthread_mutex_unlock(&r->mu);
}

/* Called with mu held. */
static bool reports_caught_up(const struct cp_reports *r, uint64_t boot_id,
                              uint64_t version, int64_t now_ms)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct cp_report *d = &r->dp[i];
		if (now_ms - d->seen_ms <= CP_REPORTS_STALE_MS &&
		    (d->boot_id != boot_id || d->version < version))
			return false;
	}
	return true;
}

bool cp_reports_wait_version(struct cp_reports *r, uint64_t boot_id,
                             uint64_t version, int64_t timeout_ms)
{
	struct timespec deadline;
	bool done;

	lb_time_deadline(&deadline, CLOCK_MONOTONIC, timeout_ms);
	pthread_mutex_lock(&r->mu);
	while (!(done = reports_caught_up(r, boot_id, version, lb_now_ms())))
		if (pthread_cond_timedwait(&r->put, &r->mu, &deadline) != 0)
			break;
	done = done || reports_caught_up(r, boot_id, version, lb_now_ms());
	pthread_mutex_unlock(&r->mu);
	return done;
}

long cp_reports_inflight(struct cp_reports *r, uint64_t boot_id,
                         uint64_t version, const char *host, uint16_t port,
                         int64_t now_ms)
{
	long total = 0;

	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->n && total >= 0; i++) {
		const struct cp_report *d = &r->dp[i];
		if (now_ms - d->seen_ms > CP_REPORTS_STALE_MS ||
		    d->version == 0)
			continue; /* gone, or routing with no ring at all */
		if (d->boot_id != boot_id || d->version < version ||
		    d->truncated) {
			total = -1; /* an older ring, or counts not whole */
			break;
		}
		for (size_t k = 0; k < d->naddr; k++)
			if (d->addr[k].port == port &&
			    strcmp(d->addr[k].host, host) == 0)
				total += d->addr[k].count;
	}
	pthread_mutex_unlock(&r->mu);
	return total;
}

size_t cp_reports_live(struct cp_reports *r, int64_t now_ms)
{
	size_t n = 0;

	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->n; i++)
		n += now_ms - r->dp[i].seen_ms <= CP_REPORTS_STALE_MS;
	pthread_mutex_unlock(&r->mu);
	return n;
}
