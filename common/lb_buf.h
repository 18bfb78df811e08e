/* lb_buf.h - bounded appends into a fixed buffer that the caller owns.
 *
 * The one way the project builds text piece by piece (log lines, header
 * blocks, error texts): every append copies what fits and no more, the text
 * stays NUL-terminated, and a piece that did not fit whole sets `cut`.
 * Nobody adds snprintf()'s would-be length to an offset: that is how a
 * line runs past its buffer.
 */
#ifndef LB_BUF_H
#define LB_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct lb_buf {
	char *p;    /* borrowed, cap bytes */
	size_t cap; /* > 0 */
	size_t len; /* always < cap: p[len] is the NUL */
	bool cut;   /* some append did not fit whole */
};

/* Starts an empty text in mem[0..cap), cap > 0.  mem is borrowed. */
void lb_buf_init(struct lb_buf *b, char *mem, size_t cap);

/* Bytes that can still be appended (the NUL's byte excluded). */
size_t lb_buf_room(const struct lb_buf *b);

/* Appends s[0..n), or as much of it as fits. */
void lb_buf_add(struct lb_buf *b, const char *s, size_t n);

/* Appends the NUL-terminated s, or as much of it as fits. */
void lb_buf_str(struct lb_buf *b, const char *s);

/* Appends formatted text, or as much of it as fits. */
void lb_buf_printf(struct lb_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void lb_buf_vprintf(struct lb_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Appends s with every byte outside printable ASCII written as \xNN and,
 * with quotes, '"' and '\\' escaped too: text from outside (a client's
 * path, a name, an engine's message) stays printable, and on one line.  At
 * most max bytes are appended; a byte whose escape does not fit ends it.
 * Returns false when s was cut (by max or by the buffer). */
bool lb_buf_escaped(struct lb_buf *b, const char *s, size_t max, bool quotes);

#endif
