#include "cp_driver_static.h"

#include "cp_config.h"
#include "lb_array.h"
#include "lb_err.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sd {
	struct cp_driver base;
	struct cp_found *v; /* LB_BACKENDS, ids 1..n in their order */
	size_t n, cap;
};

/* Registering: the address was given (the caller filled host and port). */
static int sd_start(struct cp_driver *base, const char *name, uint32_t id,
                    uint32_t weight, char *host, size_t hostlen, uint16_t *port,
                    char *err, size_t errlen)
{
	(void)base;
	(void)id;
	(void)weight; /* LB_BACKENDS says it at each start */
	(void)hostlen;
	if (!host[0] || !*port) {
		snprintf(err, errlen, "%s has no address (name=host:port)",
		         name);
		return LB_ERR_INVAL;
	}
	return 0;
}

/* Deregistering: the server is not ours to stop. */
static int sd_stop(struct cp_driver *base, const char *name, char *err,
                   size_t errlen)
{
	(void)base;
	(void)name;
	(void)err;
	(void)errlen;
	return 0;
}

/* "Adoption" is the list given at start. */
static int sd_adopt(struct cp_driver *base, struct cp_found **out, size_t *n,
                    char *err, size_t errlen)
{
	struct sd *d = (struct sd *)base;
	(void)err;
	(void)errlen;
	*out = calloc(d->n ? d->n : 1, sizeof(**out));
	if (!*out)
		return LB_ERR_NOMEM;
	if (d->n)
		memcpy(*out, d->v, d->n * sizeof(**out));
	*n = d->n;
	return 0;
}

static void sd_destroy(struct cp_driver *base)
{
	struct sd *d = (struct sd *)base;
	if (!d)
		return;
	free(d->v);
	free(d);
}

static const struct cp_driver_ops sd_ops = {
    .name = "static",
    .given_addresses = true,
    .start = sd_start,
    .stop = sd_stop,
    .adopt = sd_adopt,
    .destroy = sd_destroy,
};

/* Adds one "name=host:port" of LB_BACKENDS. */
static int sd_add(struct sd *d, const char *spec, char *err, size_t errlen)
{
	char why[192];
	struct cp_found f;
	unsigned port;

	memset(&f, 0, sizeof(f));
	if (lb_name_backend_parse(spec, f.name, f.host, &port, &f.weight, why,
	                          sizeof(why))) {
		snprintf(err, errlen, "LB_BACKENDS: %s", why);
		return LB_ERR_INVAL;
	}
	if (lb_name_find(d->v, d->n, sizeof(*d->v),
	                 offsetof(struct cp_found, name), f.name) >= 0) {
		snprintf(err, errlen, "LB_BACKENDS: %s is listed twice",
		         f.name);
		return LB_ERR_INVAL;
	}
	if (lb_array_grow((void **)&d->v, &d->cap, d->n + 1, sizeof(*d->v)))
		return LB_ERR_NOMEM;
	f.port = (uint16_t)port;
	f.server_id = (uint32_t)d->n + 1;
	d->v[d->n++] = f;
	return 0;
}

int cp_driver_static_create(const struct cp_config *cfg, struct cp_driver **out,
                            char *err, size_t errlen)
{
	struct sd *d = calloc(1, sizeof(*d));
	char *list, *save = NULL;
	int rv = 0;

	if (!d || !(list = strdup(cfg->backends))) {
		free(d);
		snprintf(err, errlen, "out of memory");
		return LB_ERR_NOMEM;
	}
	d->base.ops = &sd_ops;
	for (char *tok = strtok_r(list, ",", &save); tok && rv == 0;
	     tok = strtok_r(NULL, ",", &save))
		rv = sd_add(d, tok, err, errlen);
	free(list);
	if (rv != 0) {
		sd_destroy(&d->base);
		return rv;
	}
	*out = &d->base;
	return 0;
}
