#include "lb_prom.h"

#include "lb_array.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lb_prom_init(struct lb_prom *b)
{
	memset(b, 0, sizeof(*b));
}

void lb_prom_fini(struct lb_prom *b)
{
	free(b->p);
	b->p = NULL;
}

void lb_prom_printf(struct lb_prom *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	for (;;) {
		size_t room = b->cap - b->len;
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = true;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		if (lb_array_grow((void **)&b->p, &b->cap,
		                  b->len + (size_t)n + 1, 1) != 0) {
			b->failed = true;
			return;
		}
	}
}

void lb_prom_family(struct lb_prom *b, const char *name, const char *type,
                    const char *help)
{
	lb_prom_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	               type);
}

void lb_prom_single(struct lb_prom *b, const char *name, const char *type,
                    const char *help, double value)
{
	lb_prom_family(b, name, type, help);
	lb_prom_sample(b, name, "", value);
}

void lb_prom_sample(struct lb_prom *b, const char *name, const char *labels,
                    double value)
{
	/* Integers print exactly; %.17g keeps any double exact too. */
	if (value == floor(value) && fabs(value) < 1e15)
		lb_prom_printf(b, "%s%s%s%s %.0f\n", name, labels[0] ? "{" : "",
		               labels, labels[0] ? "}" : "", value);
	else
		lb_prom_printf(b, "%s%s%s%s %.17g\n", name,
		               labels[0] ? "{" : "", labels,
		               labels[0] ? "}" : "", value);
}

void lb_prom_escape(const char *s, char *out, size_t len)
{
	size_t o = 0;
	for (; *s && o + 3 < len; s++) {
		if (*s == '\\' || *s == '"') {
			out[o++] = '\\';
			out[o++] = *s;
		} else if (*s == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else {
			out[o++] = *s;
		}
	}
	out[o] = '\0';
}

void lb_prom_histo(struct lb_prom *b, const char *name, const char *labels,
                   const struct lb_histo *h)
{
	unsigned long long cum = 0;
	const char *sep = labels[0] ? "," : "";

	for (size_t i = 0; i <= h->nbounds; i++) {
		cum +=
		    atomic_load_explicit(&h->counts[i], memory_order_relaxed);
		if (i < h->nbounds)
			lb_prom_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n",
			               name, labels, sep, h->bounds[i], cum);
		else
			lb_prom_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n",
			               name, labels, sep, cum);
	}
	lb_prom_printf(b, "%s_sum%s%s%s %.6f\n", name, labels[0] ? "{" : "",
	               labels, labels[0] ? "}" : "",
	               (double)atomic_load(&h->sum_us) / 1e6);
	lb_prom_printf(b, "%s_count%s%s%s %llu\n", name, labels[0] ? "{" : "",
	               labels, labels[0] ? "}" : "", cum);
}
