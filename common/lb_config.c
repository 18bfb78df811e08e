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

/* How an option was set on the command line. */
enum opt_given { GIVEN_NOT, GIVEN_FORMER, GIVEN_FLAG };

/* "--name" of a flag as it was typed, without its "=value". */
static void opt_typed(const char *arg, char *out, size_t len)
{
	const char *eq = strchr(arg, '=');
	int n = eq ? (int)(eq - arg) : (int)strlen(arg);

	snprintf(out, len, "%.*s", n, arg);
}

/* Reads argv into the options (their own flags winning over former
 * ones, whatever the order); given[] says which were set.  A value that
 * is no flag's is refused. */
static int opt_parse_argv(const struct lb_opt *opts, size_t nopts,
                          const struct lb_opt_former *former, int argc,
                          char **argv, enum opt_given *given, bool *help,
                          char *err, size_t errlen)
{
	char typed[96];
	int rv;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *val, *was;
		const struct lb_opt *o;
		size_t k;
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			*help = true;
			return 0;
		}
		if (strncmp(arg, "--", 2) != 0 ||
		    !(o = opt_find(opts, nopts, former, arg, &val, &was))) {
			snprintf(err, errlen,
			         "unknown argument '%s' (see --help)", arg);
			return LB_ERR_INVAL;
		}
		opt_typed(arg, typed, sizeof(typed));
		if (!val) {
			if (i + 1 >= argc) {
				snprintf(err, errlen, "%s needs a value",
				         typed);
				return LB_ERR_INVAL;
			}
			val = argv[++i];
		}
		k = (size_t)(o - opts);
		if (was && given[k] == GIVEN_FLAG)
			continue; /* the setting's own flag wins */
		if ((rv = opt_set(o, val, typed, err, errlen)) != 0)
			return rv;
		given[k] = was ? GIVEN_FORMER : GIVEN_FLAG;
	}
	return 0;
}

int lb_config_parse(const struct lb_opt *opts, size_t nopts,
                    const struct lb_opt_former *former, int argc, char **argv,
                    bool *help, char *err, size_t errlen)
{
	char from[96];
	int rv;
	/* Which options a flag set, so that the environment does not
	 * override them. */
	enum opt_given *given = calloc(nopts ? nopts : 1, sizeof(*given));

	if (!given) {
		snprintf(err, errlen, "out of memory");
		return LB_ERR_NOMEM;
	}
	*help = false;
	rv = opt_parse_argv(opts, nopts, former, argc, argv, given, help, err,
	                    errlen);
	for (size_t i = 0; rv == 0 && !*help && i < nopts; i++) {
		const struct lb_opt *o = &opts[i];
		const char *val, *name;
		if (given[i] != GIVEN_NOT)
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
			rv = LB_ERR_INVAL;
			break;
		}
		rv = opt_set(o, val, from, err, errlen);
	}
	free(given);
	return rv;
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

/* The former name of o set in the environment beside its own, if any. */
static const char *opt_former_env(const struct lb_opt *o,
                                  const struct lb_opt_former *former)
{
	for (; o->env && former && former->was; former++)
		if (strcmp(former->env, o->env) == 0 && getenv(former->was))
			return former->was;
	return NULL;
}

/* One renamed setting's warning: "read for now", or "ignored" because its
 * new name is there too (`because`: "given" for flags, "set" for
 * variables).  dash is "--" for flags, "" for variables. */
static void warn_renamed(const char *dash, const char *old, const char *now,
                         const char *because)
{
	if (because)
		lb_log(LB_WARN, "setting_renamed",
		       "old=%s%s new=%s%s msg=\"%s%s is ignored: %s%s is %s\"",
		       dash, old, dash, now, dash, old, dash, now, because);
	else
		lb_log(
		    LB_WARN, "setting_renamed",
		    "old=%s%s new=%s%s msg=\"%s%s is read for now; set %s%s\"",
		    dash, old, dash, now, dash, old, dash, now);
}

void lb_config_warn_former(const struct lb_opt *opts, size_t nopts,
                           const struct lb_opt_former *former, int argc,
                           char **argv)
{
	/* Per option, from argv: set by its own flag; the former name of a
	 * former flag that set it. */
	bool *own_flag = calloc(nopts ? nopts : 1, sizeof(bool));
	const char **former_flag = calloc(nopts ? nopts : 1, sizeof(char *));
	char flag[64];

	for (int i = 1; own_flag && former_flag && i < argc; i++) {
		const char *val, *was;
		const struct lb_opt *o;
		if (strncmp(argv[i], "--", 2) != 0 ||
		    !(o = opt_find(opts, nopts, former, argv[i], &val, &was)))
			continue;
		if (was)
			former_flag[o - opts] = was;
		else
			own_flag[o - opts] = true;
		if (!val)
			i++; /* its value */
	}
	for (size_t i = 0; own_flag && former_flag && i < nopts; i++) {
		const char *old = opt_former_env(&opts[i], former);
		if (former_flag[i]) {
			opt_former_flag(former_flag[i], flag, sizeof(flag));
			warn_renamed("--", flag, opts[i].flag,
			             own_flag[i] ? "given" : NULL);
		} else if (old && !own_flag[i]) {
			warn_renamed("", old, opts[i].env,
			             getenv(opts[i].env) ? "set" : NULL);
		}
	}
	free(own_flag);
	free(former_flag);
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
