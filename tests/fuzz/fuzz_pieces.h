/* fuzz_pieces.h - one fuzz input as several strings: split at NUL bytes,
 * each piece copied with its own terminator (the input has none). */
#ifndef FUZZ_PIECES_H
#define FUZZ_PIECES_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The next piece at *p (up to a NUL or end), malloc'ed; *p moves past it.
 */
static inline char *fuzz_piece(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nul = memchr(*p, 0, (size_t)(end - *p));
	size_t n = nul ? (size_t)(nul - *p) : (size_t)(end - *p);
	char *s = malloc(n + 1);

	if (!s)
		abort();
	memcpy(s, *p, n);
	s[n] = '\0';
	*p += nul ? n + 1 : n;
	return s;
}

#endif
