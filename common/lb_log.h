/* lb_log.h - one line per event, key=value fields, to stderr.
 *
 *   lb_log(LB_INFO, "replica_up", "name=%s id=%u", name, id);
 *   -> ts=2026-11-25T21:40:01.123Z level=info prog=cp event=replica_up name=S5
 * id=4
 *
 * Safe from any thread; a line is written with one write(2).
 */
#ifndef LB_LOG_H
#define LB_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum lb_log_level { LB_DEBUG, LB_INFO, LB_WARN, LB_ERROR };

/* Sets the program tag and the lowest level that is printed.  Call once in
 * main() before threads start. */
void lb_log_init(const char *prog, enum lb_log_level min);

/* "debug", "info", "warn", "error", then NULL: the choices of every
 * program's LOG_LEVEL setting. */
extern const char *const lb_log_level_names[];

/* Parses "debug", "info", "warn" or "error".  Returns 0 or LB_ERR_INVAL. */
int lb_log_level_parse(const char *s, enum lb_log_level *out);

/* Writes "ts=<UTC time to the millisecond>" (what starts every log line)
 * to buf; returns its length. */
size_t lb_log_timestamp(char *buf, size_t len);

/* The longest log line, its newline included. */
#define LB_LOG_LINE_MAX 1024

/* Formats one line into line[0..cap), cap > 64: "ts=... level=... prog=...
 * event=<event> <message>" and a newline, the bytes of event and message
 * outside printable ASCII escaped as \xNN, cut to fit.  Returns its length. */
size_t lb_log_vformat(char *line, size_t cap, enum lb_log_level lvl,
                      const char *event, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

void lb_log(enum lb_log_level lvl, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
