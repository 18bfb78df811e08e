/* lb_prom.h - the Prometheus text exposition format (version 0.0.4), and
 * the counters behind it.
 *
 * Counters and gauges are plain atomics that live with what they count;
 * at scrape time each plane writes them out through an lb_prom buffer.  A
 * histogram is a fixed set of buckets of atomic counts, so observing costs
 * a few relaxed atomic adds and no lock.
 *
 *   lb_prom_family(b, "lb_requests_total", "counter", "Requests proxied");
 *   lb_prom_sample(b, "lb_requests_total", "replica=\"server1\",code=\"200\"",
 *                  42);
 */
#ifndef LB_PROM_H
#define LB_PROM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growing text buffer; a failed allocation marks it failed (the scrape
 * answers 500) instead of cutting it. */
struct lb_prom {
	char *p;
	size_t len, cap;
	bool failed;
};

void lb_prom_init(struct lb_prom *b);
void lb_prom_fini(struct lb_prom *b);

/* Appends printf-style text. */
void lb_prom_printf(struct lb_prom *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "# HELP" and "# TYPE" lines of a metric family. */
void lb_prom_family(struct lb_prom *b, const char *name, const char *type,
                    const char *help);

/* One sample; labels is "" or `a="x",b="y"` (values already escaped). */
void lb_prom_sample(struct lb_prom *b, const char *name, const char *labels,
                    double value);

/* A family of one sample without labels: a plain counter or gauge. */
void lb_prom_single(struct lb_prom *b, const char *name, const char *type,
                    const char *help, double value);

/* Writes a label value with the format's escapes (\\, \", \n) into out. */
void lb_prom_escape(const char *s, char *out, size_t len);

#define LB_HISTO_MAX_BUCKETS 16

/* A histogram of durations in seconds. */
struct lb_histo {
	const double *bounds; /* upper bounds, increasing; +Inf is implied */
	size_t nbounds;
	atomic_ullong counts[LB_HISTO_MAX_BUCKETS + 1];
	atomic_ullong sum_us; /* microseconds */
};

/* Default bounds for request and replacement durations (seconds). */
extern const double lb_histo_latency_bounds[];
extern const size_t lb_histo_latency_nbounds;

void lb_histo_init(struct lb_histo *h, const double *bounds, size_t n);

/* Records one observation of us microseconds. */
void lb_histo_observe(struct lb_histo *h, uint64_t us);

/* Writes the histogram's _bucket, _sum and _count samples. */
void lb_prom_histo(struct lb_prom *b, const char *name, const char *labels,
                   const struct lb_histo *h);

#endif
