#include "lb_name.h"

#include "lb_err.h"
#include "lb_rand.h"

#include <stdio.h>
#include <stdlib.h>
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

bool lb_name_host_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > LB_HOST_MAX || s[0] == '-' || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!name_first_ok(c) && c != '-' && c != '.')
			return false;
	}
	return true;
}

/* The "@weight" after the port: 1..LB_BACKEND_WEIGHT_MAX, digits only. */
static int backend_weight(const char *spec, const char *at, uint32_t *weight,
                          char *err, size_t errlen)
{
	char *end;
	long w;

	*weight = 1;
	if (!at)
		return 0;
	w = strtol(at + 1, &end, 10);
	if (at[1] < '0' || at[1] > '9' || *end || w < 1 ||
	    w > LB_BACKEND_WEIGHT_MAX) {
		snprintf(err, errlen, "'%.80s': the weight must be 1..%d", spec,
		         LB_BACKEND_WEIGHT_MAX);
		return LB_ERR_INVAL;
	}
	*weight = (uint32_t)w;
	return 0;
}

int lb_name_backend_parse(const char *spec, char *name, char *host,
                          unsigned *port, uint32_t *weight, char *err,
                          size_t errlen)
{
	const char *eq = strchr(spec, '='), *colon = strrchr(spec, ':');
	const char *at = weight ? strrchr(spec, '@') : NULL;
	char *end;
	long p;

	if (at && colon && at < colon)
		at = NULL; /* not after the port: the port check says why */
	if (!eq || !colon || colon < eq || (size_t)(eq - spec) > LB_NAME_MAX ||
	    (size_t)(colon - eq - 1) > LB_HOST_MAX) {
		snprintf(err, errlen, "'%.80s' is not name=host:port%s", spec,
		         weight ? "[@weight]" : "");
		return LB_ERR_INVAL;
	}
	memcpy(name, spec, (size_t)(eq - spec));
	name[eq - spec] = '\0';
	memcpy(host, eq + 1, (size_t)(colon - eq - 1));
	host[colon - eq - 1] = '\0';
	p = strtol(colon + 1, &end, 10);
	if (!lb_name_valid(name)) {
		snprintf(err, errlen, "'%.80s': '%s' is not a valid name", spec,
		         name);
		return LB_ERR_INVAL;
	}
	if (!lb_name_host_valid(host)) {
		snprintf(err, errlen, "'%.80s': '%s' is not a host", spec,
		         host);
		return LB_ERR_INVAL;
	}
	if (!weight && *end == '@') {
		snprintf(err, errlen, "'%.80s': no weight here (give it apart)",
		         spec);
		return LB_ERR_INVAL;
	}
	if (colon[1] < '0' || colon[1] > '9' ||
	    end != (at ? at : colon + strlen(colon)) || p < 1 || p > 65535) {
		snprintf(err, errlen, "'%.80s': the port must be 1..65535",
		         spec);
		return LB_ERR_INVAL;
	}
	*port = (unsigned)p;
	return weight ? backend_weight(spec, at, weight, err, errlen) : 0;
}
