/* libFuzzer target: the client's address from X-Forwarded-For fields (bytes
 * a client chooses), against a second, naive reading of the rule: split
 * every field at commas, trim, drop empty hops, add the peer, and take the
 * right-most hop that is not trusted (or the left-most). */
#include "dp_key.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FIELDS 8
#define MAX_HOPS   4096

struct hop {
	const char *s;
	size_t len;
};

static size_t reference(const char *const *v, size_t n, const char *peer,
                        struct hop *hops)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		const char *p = v[i];
		for (;;) {
			size_t len = strcspn(p, ",");
			const char *s = p, *next = p + len;
			while (len && (*s == ' ' || *s == '\t'))
				s++, len--;
			while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
				len--;
			if (len && k < MAX_HOPS)
				hops[k++] = (struct hop){s, len};
			if (!*next)
				break;
			p = next + 1;
		}
	}
	hops[k++] = (struct hop){peer, strlen(peer)};
	return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct lb_cidrs trusted;
	static int ready;
	static struct hop hops[MAX_HOPS + 1];
	char *copy = malloc(size + 1), *fields[MAX_FIELDS + 1], *p;
	size_t n = 0, k, i;
	const char *s;
	size_t len;

	if (!ready) {
		char err[256];
		if (lb_cidrs_parse(&trusted, "loopback,10.0.0.0/8,fd00::/8",
		                   "fuzz", &lb_cidr_env_default, err,
		                   sizeof(err)) != 0)
			abort();
		ready = 1;
	}
	if (!copy)
		abort();
	memcpy(copy, data, size);
	copy[size] = '\0';
	/* Fields are separated by newlines; the last piece is the peer
	 * (what follows the last field taken, newlines and all). */
	fields[0] = copy;
	for (p = copy; n < MAX_FIELDS && (p = strchr(p, '\n'));) {
		*p++ = '\0';
		fields[++n] = p;
	}
	if (n == 0 || memchr(data, 0, size)) {
		free(copy);
		return 0;
	}
	dp_key_forwarded_client((const char *const *)fields, n, fields[n],
	                        &trusted, &s, &len);
	k = reference((const char *const *)fields, n, fields[n], hops);
	for (i = k; i-- > 0;)
		if (!lb_cidrs_match(&trusted, hops[i].s, hops[i].len))
			break;
	if (i == (size_t)-1)
		i = 0; /* all trusted: the left-most */
	if (s != hops[i].s || len != hops[i].len)
		abort();
	free(copy);
	return 0;
}
