#include "lb_config.h"

#include "lb_buf.h"
#include "lb_err.h"
#include "lb_log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int opt_set(const struct lb_opt *o, const char *val, const char *from,
                   char *err, size_t errlen)
{
	if (o->type == LB_OPT_INT) {
		char *end;
		long long v;
		errno = 0;
		v = strtoll(val, &end, 10);
		if (errno != 0 || end == val || *end != '\0' || v < o->min ||
		    v > o->max) {
			snprintf(err, errlen,
			         "%s=%s: must be an integer in %lld..%lld",
			         from, val, o->min, o->max);
			return LB_ERR_INVAL;
		}
		*(long long *)o->dst = v;
		return 0;
	}
	/* An empty default means "not set" (say, "the preset's"), and stays
	 * allowed beside the choices. */
	if (o->choices && !(val[0] == '\0' && o->def && o->def[0] == '\0')) {
		size_t i;
		for (i = 0; o->choices[i]; i++)
			if (strcmp(o->choices[i], val) == 0)
				break;
		if (!o->choices[i]) {
			struct lb_buf b;
			lb_buf_init(&b, err, errlen);
			lb_buf_printf(&b, "%s=%s: must be one of", from, val);
			for (i = 0; o->choices[i]; i++)
				lb_buf_printf(&b, "%s %s", i ? "," : "",
				              o->choices[i]);
			return LB_ERR_INVAL;
		}
	}
	*(const char **)o->dst = val;
	return 0;
}

/* The flag of a former variable name: LB_ADMIN_LISTEN -> admin-listen. */
static void opt_former_flag(const char *was, char *out, size_t len)
{
	size_t i = 0;

	if (strncmp(was, "LB_", 3) == 0)
		was += 3;
	for (; was[i] && i + 1 < len; i++)
		out[i] = was[i] == '_' ? '-' : (char)(was[i] | 0x20);
	out[i] = '\0';
}

static bool opt_flag_is(const char *flag, const char *name, size_t len)
{
	return strlen(flag) == len && strncmp(flag, name, len) == 0;
}

static const struct lb_opt *opt_by_env(const struct lb_opt *opts, size_t n,
                                       const char *env)
{
	for (size_t i = 0; i < n; i++)
		if (opts[i].env && strcmp(opts[i].env, env) == 0)
			return &opts[i];
	return NULL;
}

/* Finds the option for "--name" or "--name=value", a former name's flag
 * included (*was is then that name, else NULL); *inline_val gets the text
 * after '=' when present. */
static const struct lb_opt *opt_find(const struct lb_opt *opts, size_t n,
                                     const struct lb_opt_former *former,
                                     const char *arg, const char **inline_val,
                                     const char **was)
{
	const char *name = arg + 2;
	const char *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	char old[64];

	*inline_val = eq ? eq + 1 : NULL;
	*was = NULL;
	for (size_t i = 0; i < n; i++)
		if (opt_flag_is(opts[i].flag, name, len))
			return &opts[i];
	for (; former && former->was; former++) {
		opt_former_flag(former->was, old, sizeof(old));
		if (opt_flag_is(old, name, len)) {
			*was = former->was;
			return opt_by_env(opts, n, former->env);
		}
	}
	return NULL;
}

/* The environment's value of an option: its variable, else a former name
 * of it (*name says which). */
static const char *opt_getenv(const struct lb_opt *o,
                              const struct lb_opt_former *former,
                              const char **name)
{
	const char *v = o->env ? getenv(o->env) : NULL;

	*name = o->env;
	for (; !v && o->env && former && former->was; former++)
		if (strcmp(former->env, o->env) == 0 &&
		    (v = getenv(former->was)))
			*name = former->was;
	return v;
}

int lb_config_parse(const struct lb_opt *opts, size_t nopts,
                    const struct lb_opt_former *former, int argc, char **argv,
                    bool *help, char *err, size_t errlen)
{
	char from[96];
	int rv;
	/* Which options a flag set, so that the environment does not
	 * override them. */
	bool *given = calloc(nopts ? nopts : 1, sizeof(bool));

	if (!given) {
		snprintf(err, errlen, "out of memory");
		return LB_ERR_NOMEM;
	}
	*help = false;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *val;
		const struct lb_opt *o;
		const char *was;
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			*help = true;
			free(given);
			return 0;
		}
		if (strncmp(arg, "--", 2) != 0 ||
		    !(o = opt_find(opts, nopts, former, arg, &val, &was))) {
			snprintf(err, errlen,
			         "unknown argument '%s' (see --help)", arg);
			free(given);
			return LB_ERR_INVAL;
		}
		if (!val) {
			if (i + 1 >= argc) {
				snprintf(err, errlen, "--%s needs a value",
				         o->flag);
				free(given);
				return LB_ERR_INVAL;
			}
			val = argv[++i];
		}
		snprintf(from, sizeof(from), "--%s", o->flag);
		if ((rv = opt_set(o, val, from, err, errlen)) != 0) {
			free(given);
			return rv;
		}
		given[o - opts] = true;
	}
	for (size_t i = 0; i < nopts; i++) {
		const struct lb_opt *o = &opts[i];
		const char *val, *name;
		if (given[i])
			continue;
		val = opt_getenv(o, former, &name);
		if (val) {
			snprintf(from, sizeof(from), "%s", name);
		} else if (o->def) {
			val = o->def;
			snprintf(from, sizeof(from), "default of %s", o->env);
		} else {
			snprintf(err, errlen, "%s (or --%s) is required",
			         o->env ? o->env : o->flag, o->flag);
			free(given);
			return LB_ERR_INVAL;
		}
		if ((rv = opt_set(o, val, from, err, errlen)) != 0) {
			free(given);
			return rv;
		}
	}
	free(given);
	return 0;
}

bool lb_config_cli(const struct lb_opt *opts, size_t nopts, int argc,
                   char **argv, const char *prog, int *exit_code)
{
	char err[512];
	bool help;

	if (lb_config_parse(opts, nopts, NULL, argc, argv, &help, err,
	                    sizeof(err))) {
		fprintf(stderr, "%s: %s\n", prog, err);
		*exit_code = 2;
		return true;
	}
	if (help) {
		lb_config_usage(opts, nopts, prog, stdout);
		*exit_code = 0;
		return true;
	}
	return false;
}

void lb_config_warn_former(const struct lb_opt *opts, size_t nopts,
                           const struct lb_opt_former *former, int argc,
                           char **argv)
{
	for (size_t i = 0; i < nopts; i++) {
		const char *name;
		if (opt_getenv(&opts[i], former, &name) && name != opts[i].env)
			lb_log(
			    LB_WARN, "setting_renamed",
			    "old=%s new=%s msg=\"%s is read for now; set %s\"",
			    name, opts[i].env, name, opts[i].env);
	}
	for (int i = 1; i < argc; i++) {
		const char *val, *was;
		const struct lb_opt *o;
		char flag[64];
		if (strncmp(argv[i], "--", 2) != 0 ||
		    !(o = opt_find(opts, nopts, former, argv[i], &val, &was)))
			continue;
		if (was) {
			opt_former_flag(was, flag, sizeof(flag));
			lb_log(LB_WARN, "setting_renamed",
			       "old=--%s new=--%s msg=\"--%s is read for now; "
			       "set --%s\"",
			       flag, o->flag, flag, o->flag);
		}
		if (!val)
			i++; /* its value */
	}
}

void lb_config_usage(const struct lb_opt *opts, size_t nopts, const char *prog,
                     FILE *out)
{
	fprintf(out, "usage: %s [--flag value]...\n\n", prog);
	for (size_t i = 0; i < nopts; i++)
		fprintf(out, "  --%-22s %-26s default: %s\n      %s\n",
		        opts[i].flag, opts[i].env ? opts[i].env : "",
		        opts[i].def ? opts[i].def : "(required)", opts[i].help);
}
