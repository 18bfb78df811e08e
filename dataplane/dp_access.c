#include "dp_access.h"

#include "lb_buf.h"
#include "lb_log.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The most of a client's text (method, path) one line carries: what is
 * past it is cut, marked and its length given, so that the fields after
 * it always fit in the line. */
#define ACCESS_METHOD_MAX 32
#define ACCESS_PATH_MAX   2048

int dp_access_open(const char *spec)
{
	int fd;

	if (!spec[0])
		return -1;
	if (strcmp(spec, "stderr") == 0)
		return STDERR_FILENO;
	fd = open(spec, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	return fd < 0 ? -2 : fd;
}

static bool access_plain(const char *s)
{
	if (!*s)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' ||
		    *p >= 0x7f)
			return false;
	return true;
}

/* A logfmt value: bare when it is plain, else quoted with its quotes,
 * backslashes and bytes outside printable ASCII escaped (paths come from
 * clients).  At most max bytes of the line; a value cut short ends in
 * "..." inside its quotes.  Returns false when the value was cut. */
static bool access_value(struct lb_buf *b, const char *s, size_t max)
{
	bool whole;

	if (access_plain(s) && strlen(s) <= max) {
		lb_buf_str(b, s);
		return true;
	}
	lb_buf_add(b, "\"", 1);
	if (!(whole = lb_buf_escaped(b, s, max, true)))
		lb_buf_add(b, "...", 3);
	lb_buf_add(b, "\"", 1);
	return whole;
}

size_t dp_access_format(char *line, size_t cap, const struct dp_access_entry *e)
{
	char ts[64];
	struct lb_buf b;

	lb_buf_init(&b, line, cap - 1); /* the newline's byte kept */
	lb_buf_add(&b, ts, lb_log_timestamp(ts, sizeof(ts)));
	lb_buf_str(&b, " client=");
	access_value(&b, e->client, ACCESS_METHOD_MAX + 32);
	lb_buf_str(&b, " method=");
	access_value(&b, e->method, ACCESS_METHOD_MAX);
	lb_buf_str(&b, " path=");
	if (!access_value(&b, e->path, ACCESS_PATH_MAX))
		lb_buf_printf(&b, " path_len=%zu", strlen(e->path));
	lb_buf_printf(
	    &b,
	    " status=%d replica=%s bytes_in=%llu bytes_out=%llu "
	    "duration_ms=%.3f queue_ms=%.3f connect_ms=%.3f",
	    e->status, e->replica ? e->replica : "none",
	    (unsigned long long)e->bytes_in, (unsigned long long)e->bytes_out,
	    (double)e->duration_us / 1000.0, (double)e->queue_us / 1000.0,
	    (double)e->connect_us / 1000.0);
	if (e->response_us >= 0)
		lb_buf_printf(&b, " response_ms=%.3f",
		              (double)e->response_us / 1000.0);
	else
		lb_buf_str(&b, " response_ms=-1");
	lb_buf_printf(&b, " retries=%d request_id=%llu", e->retries,
	              e->request_id);
	line[b.len] = '\n';
	line[b.len + 1] = '\0';
	return b.len + 1;
}

void dp_access_write(int fd, const struct dp_access_entry *e)
{
	char line[DP_ACCESS_LINE_MAX];
	size_t n;

	if (fd < 0)
		return;
	n = dp_access_format(line, sizeof(line), e);
	if (write(fd, line, n) < 0) {
		/* A full disk must not stop the proxy. */
	}
}
