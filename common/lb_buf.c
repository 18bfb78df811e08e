#include "lb_buf.h"

#include <stdio.h>
#include <string.h>

void lb_buf_init(struct lb_buf *b, char *mem, size_t cap)
{
	b->p = mem;
	b->cap = cap;
	b->len = 0;
	b->cut = false;
	mem[0] = '\0';
}

size_t lb_buf_room(const struct lb_buf *b)
{
	return b->cap - 1 - b->len;
}

void lb_buf_add(struct lb_buf *b, const char *s, size_t n)
{
	size_t room = lb_buf_room(b);

	if (n > room) {
		n = room;
		b->cut = true;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void lb_buf_str(struct lb_buf *b, const char *s)
{
	lb_buf_add(b, s, strlen(s));
}

void lb_buf_vprintf(struct lb_buf *b, const char *fmt, va_list ap)
{
	size_t room = b->cap - b->len; /* the NUL's byte included */
	int n = vsnprintf(b->p + b->len, room, fmt, ap);

	if (n < 0) {
		b->p[b->len] = '\0'; /* an encoding error: nothing added */
		b->cut = true;
		return;
	}
	if ((size_t)n >= room) {
		/* vsnprintf wrote room - 1 bytes and the NUL. */
		b->len = b->cap - 1;
		b->cut = true;
		return;
	}
	b->len += (size_t)n;
}

void lb_buf_printf(struct lb_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	lb_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

bool lb_buf_escaped(struct lb_buf *b, const char *s, size_t max, bool quotes)
{
	size_t used = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[8];
		size_t n = 1;
		if (*p < 0x20 || *p >= 0x7f)
			n = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", *p);
		else if (quotes && (*p == '"' || *p == '\\'))
			n = (size_t)snprintf(esc, sizeof(esc), "\\%c", *p);
		else
			esc[0] = (char)*p;
		if (used + n > max || n > lb_buf_room(b))
			return false;
		lb_buf_add(b, esc, n);
		used += n;
	}
	return true;
}
