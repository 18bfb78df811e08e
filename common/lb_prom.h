/* lb_prom.h - the Prometheus text exposition format (version 0.0.4), and
 * the counters behind it.
 *
 * Counters and gauges are plain atomics that live with what they count;
 * at scrape time each plane writes them out through an lb_prom buffer
 * (histograms: lb_histo.h).
 *
 *   lb_prom_family(b, "lb_requests_total", "counter", "Requests proxied");
 *   lb_prom_sample(b, "lb_requests_total", "replica=\"server1\",code=\"200\"",
 *                  42);
 */
#ifndef LB_PROM_H
#define LB_PROM_H

#include "lb_histo.h"

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

/* Writes the histogram's _bucket, _sum and _count samples. */
void lb_prom_histo(struct lb_prom *b, const char *name, const char *labels,
                   const struct lb_histo *h);

#endif
