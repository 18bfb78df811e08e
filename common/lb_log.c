#include "lb_log.h"

#include "lb_buf.h"
#include "lb_err.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Set once in main() before any thread starts, read-only afterwards. */
static const char *log_prog = "lb";
static enum lb_log_level log_min = LB_INFO;

const char *const lb_log_level_names[] = {"debug", "info", "warn", "error",
                                          NULL};

void lb_log_init(const char *prog, enum lb_log_level min)
{
	log_prog = prog;
	log_min = min;
}

int lb_log_level_parse(const char *s, enum lb_log_level *out)
{
	for (int i = 0; lb_log_level_names[i]; i++) {
		if (strcmp(s, lb_log_level_names[i]) == 0) {
			*out = (enum lb_log_level)i;
			return 0;
		}
	}
	return LB_ERR_INVAL;
}

size_t lb_log_timestamp(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	struct lb_buf b;
	char day[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	lb_buf_init(&b, buf, len);
	lb_buf_add(&b, day,
	           strftime(day, sizeof(day), "ts=%Y-%m-%dT%H:%M:%S", &tm));
	lb_buf_printf(&b, ".%03ldZ", ts.tv_nsec / 1000000);
	return b.len;
}

size_t lb_log_vformat(char *line, size_t cap, enum lb_log_level lvl,
                      const char *event, const char *fmt, va_list ap)
{
	char ts[64], msg[LB_LOG_LINE_MAX];
	struct lb_buf b;

	lb_buf_init(&b, line, cap - 1); /* the newline's byte kept */
	lb_buf_add(&b, ts, lb_log_timestamp(ts, sizeof(ts)));
	lb_buf_printf(&b, " level=%s prog=%s event=", lb_log_level_names[lvl],
	              log_prog);
	/* Whatever a message carries (a name from a request, an engine's
	 * error text), the line stays one printable line. */
	lb_buf_escaped(&b, event, SIZE_MAX, false);
	lb_buf_add(&b, " ", 1);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	lb_buf_escaped(&b, msg, SIZE_MAX, false);
	line[b.len] = '\n';
	line[b.len + 1] = '\0';
	return b.len + 1;
}

void lb_log(enum lb_log_level lvl, const char *event, const char *fmt, ...)
{
	char line[LB_LOG_LINE_MAX];
	size_t n;
	va_list ap;

	if (lvl < log_min)
		return;
	va_start(ap, fmt);
	n = lb_log_vformat(line, sizeof(line), lvl, event, fmt, ap);
	va_end(ap);
	/* One write so that lines from different threads never interleave. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}
