#include "lb_name.h"

#include "lb_rand.h"

#include <stdio.h>
#include <string.h>

static bool name_first_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

static bool name_rest_ok(char c)
{
	return name_first_ok(c) || c == '_' || c == '.' || c == '-';
}

bool lb_name_valid(const char *s)
{
	size_t n;

	if (!s || !name_first_ok(s[0]))
		return false;
	for (n = 1; s[n]; n++) {
		if (n >= LB_NAME_MAX || !name_rest_ok(s[n]))
			return false;
	}
	return true;
}

void lb_name_random(char *buf, size_t len)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	char tail[7];

	for (int i = 0; i < 6; i++)
		tail[i] = alphabet[lb_rand_range(0, sizeof(alphabet) - 2)];
	tail[6] = '\0';
	snprintf(buf, len, "srv-%s", tail);
}

ssize_t lb_name_find(const void *v, size_t n, size_t size, size_t off,
                     const char *name)
{
	const char *p = v;
	for (size_t i = 0; i < n; i++, p += size)
		if (strcmp(p + off, name) == 0)
			return (ssize_t)i;
	return -1;
}
