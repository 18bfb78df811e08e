#include "dp_access.h"

#include "lb_log.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

/* A logfmt value: bare when it is plain, else quoted with its quotes,
 * backslashes and control characters escaped (paths come from clients). */
static size_t put_value(char *out, size_t room, const char *s)
{
	bool plain = *s != '\0';
	size_t o = 0;

	for (const char *p = s; *p; p++)
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' ||
		    (unsigned char)*p >= 0x7f)
			plain = false;
	if (plain)
		return (size_t)snprintf(out, room, "%s", s);
	if (room < 3)
		return 0;
	out[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)s;
	     *p && o + 6 < room; p++) {
		if (*p == '"' || *p == '\\')
			o += (size_t)snprintf(out + o, room - o, "\\%c", *p);
		else if (*p < ' ' || *p == 0x7f)
			o += (size_t)snprintf(out + o, room - o, "\\x%02x", *p);
		else
			out[o++] = (char)*p;
	}
	out[o++] = '"';
	out[o] = '\0';
	return o;
}

void dp_access_write(int fd, const struct dp_access_entry *e)
{
	char line[4096];
	size_t n;

	if (fd < 0)
		return;
	n = lb_log_timestamp(line, sizeof(line));
	n += (size_t)snprintf(line + n, sizeof(line) - n,
	                      " client=%s method=", e->client);
	n += put_value(line + n, sizeof(line) - n - 256, e->method);
	n += (size_t)snprintf(line + n, sizeof(line) - n, " path=");
	n += put_value(line + n, sizeof(line) - n - 256, e->path);
	n += (size_t)snprintf(
	    line + n, sizeof(line) - n,
	    " status=%d replica=%s bytes_in=%llu bytes_out=%llu "
	    "duration_ms=%.3f retries=%d request_id=%llu\n",
	    e->status, e->replica ? e->replica : "none",
	    (unsigned long long)e->bytes_in, (unsigned long long)e->bytes_out,
	    (double)e->duration_us / 1000.0, e->retries, e->request_id);
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	if (write(fd, line, n) < 0) {
		/* A full disk must not stop the proxy. */
	}
}
