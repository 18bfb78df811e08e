#include "lb_cidr.h"

#include "lb_buf.h"
#include "lb_err.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const struct lb_cidr_env lb_cidr_env_default = {
    .route_path = "/proc/net/route",
    .marker_path = "/.dockerenv",
};

#define CIDR_TEXT_MAX 64 /* INET6_ADDRSTRLEN and "/128" fit */

/* Reads an address's text into family and 16 bytes; an IPv4-mapped IPv6
 * address becomes its IPv4 address. */
static bool cidr_addr(const char *s, size_t len, int *family,
                      unsigned char addr[16])
{
	char text[CIDR_TEXT_MAX];
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0,    0,
	                                         0, 0, 0, 0, 0xff, 0xff};

	if (len == 0 || len >= sizeof(text))
		return false;
	memcpy(text, s, len);
	text[len] = '\0';
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, text, addr) == 1) {
		*family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, text, addr) != 1)
		return false;
	*family = AF_INET6;
	if (memcmp(addr, mapped, sizeof(mapped)) == 0) {
		memmove(addr, addr + 12, 4);
		memset(addr + 4, 0, 12);
		*family = AF_INET;
	}
	return true;
}

static bool cidr_contains(const struct lb_cidr *r, int family,
                          const unsigned char addr[16])
{
	unsigned full = r->bits / 8, rest = r->bits % 8;

	if (r->family != family || memcmp(r->addr, addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((r->addr[full] ^ addr[full]) & (0xff00 >> rest) & 0xff) == 0;
}

static int cidr_push(struct lb_cidrs *l, int family, const unsigned char *a,
                     unsigned bits)
{
	struct lb_cidr *r;

	if (l->n == LB_CIDR_MAX)
		return LB_ERR_FULL;
	r = &l->v[l->n++];
	r->family = family;
	r->bits = bits;
	memset(r->addr, 0, sizeof(r->addr));
	memcpy(r->addr, a, family == AF_INET ? 4 : 16);
	/* Host bits are cleared, so that 10.1.2.3/8 means 10.0.0.0/8. */
	for (unsigned i = bits; i < (family == AF_INET ? 32u : 128u); i++)
		r->addr[i / 8] &= (unsigned char)~(0x80 >> (i % 8));
	return 0;
}

static int cidr_loopback(struct lb_cidrs *l)
{
	static const unsigned char v4[4] = {127, 0, 0, 0};
	static const unsigned char v6[16] = {[15] = 1};
	int rv = cidr_push(l, AF_INET, v4, 8);
	return rv ? rv : cidr_push(l, AF_INET6, v6, 128);
}

/* The container's default gateway: the kernel's IPv4 route table names it
 * in hexadecimal, in the byte order of memory. */
static int cidr_container_host(struct lb_cidrs *l,
                               const struct lb_cidr_env *env)
{
	char line[256];
	unsigned dest, gw, flags;
	FILE *f;
	int rv = 0;

	if (access(env->marker_path, F_OK) != 0)
		return 0; /* not in a container: nothing to add */
	if (!(f = fopen(env->route_path, "r")))
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*s %x %x %x", &dest, &gw, &flags) == 3 &&
		    dest == 0 && gw != 0 && (flags & 0x2)) {
			rv = cidr_push(l, AF_INET, (unsigned char *)&gw, 32);
			break;
		}
	}
	fclose(f);
	return rv;
}

static bool cidr_within_loopback(const struct lb_cidr *r)
{
	if (r->family == AF_INET)
		return r->bits >= 8 && r->addr[0] == 127;
	static const unsigned char v6[16] = {[15] = 1};
	return r->bits == 128 && memcmp(r->addr, v6, 16) == 0;
}

/* One rule; returns 0 or an error with the reason in err. */
static int cidr_rule(struct lb_cidrs *l, const char *s, size_t len,
                     const struct lb_cidr_env *env, char *err, size_t errlen)
{
	const char *slash = memchr(s, '/', len);
	size_t alen = slash ? (size_t)(slash - s) : len;
	unsigned char a[16];
	int family, rv;
	unsigned long bits;
	char *end;

	if (len == 8 && memcmp(s, "loopback", 8) == 0)
		return cidr_loopback(l);
	if (len == 14 && memcmp(s, "container-host", 14) == 0)
		return cidr_container_host(l, env);
	if (!cidr_addr(s, alen, &family, a)) {
		snprintf(err, errlen, "'%.*s' is not an address", (int)alen, s);
		return LB_ERR_INVAL;
	}
	bits = family == AF_INET ? 32 : 128;
	if (slash) {
		char num[8];
		size_t nlen = len - alen - 1;
		if (nlen == 0 || nlen >= sizeof(num)) {
			snprintf(err, errlen, "'%.*s': bad prefix length",
			         (int)len, s);
			return LB_ERR_INVAL;
		}
		memcpy(num, slash + 1, nlen);
		num[nlen] = '\0';
		unsigned long max = bits;
		bits = strtoul(num, &end, 10);
		if (*end || num[0] < '0' || num[0] > '9' || bits > max) {
			snprintf(err, errlen, "'%.*s': bad prefix length",
			         (int)len, s);
			return LB_ERR_INVAL;
		}
	}
	if ((rv = cidr_push(l, family, a, (unsigned)bits)) != 0)
		return rv;
	l->beyond_host |= !cidr_within_loopback(&l->v[l->n - 1]);
	return 0;
}

int lb_cidrs_parse(struct lb_cidrs *l, const char *spec, const char *setting,
                   const struct lb_cidr_env *env, char *err, size_t errlen)
{
	char why[160] = "";
	const char *p = spec;
	int rv = 0;

	memset(l, 0, sizeof(*l));
	if (strcmp(spec, "none") == 0)
		return 0;
	while (rv == 0) {
		size_t len = strcspn(p, ",");
		const char *s = p;
		/* Spaces around a rule are allowed: "a, b". */
		while (len && (*s == ' ' || *s == '\t'))
			s++, len--;
		while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		if (len == 0)
			snprintf(why, sizeof(why), "an empty rule");
		else
			rv = cidr_rule(l, s, len, env, why, sizeof(why));
		if (rv == LB_ERR_FULL)
			snprintf(why, sizeof(why), "more than %d rules",
			         LB_CIDR_MAX);
		if (why[0])
			rv = LB_ERR_INVAL;
		p += strcspn(p, ",");
		if (*p == '\0')
			break;
		p++;
	}
	if (rv != 0) {
		snprintf(err, errlen,
		         "%s=%.80s%s: %s (rules: addresses, "
		         "networks a.b.c.d/n, loopback, container-host, none)",
		         setting, spec, strlen(spec) > 80 ? "..." : "", why);
		memset(l, 0, sizeof(*l));
		return LB_ERR_INVAL;
	}
	return 0;
}

bool lb_cidrs_match(const struct lb_cidrs *l, const char *s, size_t len)
{
	unsigned char a[16];
	int family;

	if (!cidr_addr(s, len, &family, a))
		return false;
	for (size_t i = 0; i < l->n; i++)
		if (cidr_contains(&l->v[i], family, a))
			return true;
	return false;
}

void lb_cidrs_format(const struct lb_cidrs *l, char *out, size_t len)
{
	struct lb_buf b;

	lb_buf_init(&b, out, len);
	if (l->n == 0)
		lb_buf_str(&b, "none");
	for (size_t i = 0; i < l->n; i++) {
		char text[INET6_ADDRSTRLEN];
		inet_ntop(l->v[i].family, l->v[i].addr, text, sizeof(text));
		lb_buf_printf(&b, "%s%s/%u", i ? "," : "", text, l->v[i].bits);
	}
}
