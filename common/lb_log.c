#include "lb_log.h"

#include "lb_err.h"

#include <stdarg.h>
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
	size_t off;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	off = strftime(buf, len, "ts=%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(buf + off, len - off, ".%03ldZ", ts.tv_nsec / 1000000);
	return n > 0 && off + (size_t)n < len ? off + (size_t)n : off;
}

void lb_log(enum lb_log_level lvl, const char *event, const char *fmt, ...)
{
	char line[1024];
	size_t off;
	int n;
	va_list ap;

	if (lvl < log_min)
		return;
	off = lb_log_timestamp(line, sizeof(line));
	n = snprintf(line + off, sizeof(line) - off,
	             " level=%s prog=%s event=%s ", lb_log_level_names[lvl],
	             log_prog, event);
	if (n > 0)
		off += (size_t)n;
	if (off < sizeof(line)) {
		va_start(ap, fmt);
		n = vsnprintf(line + off, sizeof(line) - off, fmt, ap);
		va_end(ap);
		if (n > 0)
			off += (size_t)n;
	}
	if (off >= sizeof(line) - 1)
		off = sizeof(line) - 2;
	line[off++] = '\n';
	/* One write so that lines from different threads never interleave. */
	if (write(STDERR_FILENO, line, off) < 0)
		return;
}
