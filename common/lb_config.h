/* lb_config.h - settings from flags and environment variables.
 *
 * Each setting has a flag (--port 5000 or --port=5000) and an environment
 * variable of the same meaning; the flag wins.  A bad value stops the
 * program at start with a message that names the variable and the value.
 */
#ifndef LB_CONFIG_H
#define LB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum lb_opt_type {
	LB_OPT_INT, /* dst is long long * */
	LB_OPT_STR, /* dst is const char **, borrowed from argv/environ/def */
};

struct lb_opt {
	const char *flag; /* "port" for --port */
	const char *env;  /* "PORT" */
	enum lb_opt_type type;
	const char *def; /* default as text; NULL = required */
	long long min;   /* LB_OPT_INT range, inclusive */
	long long max;
	const char *const *choices; /* LB_OPT_STR: NULL-terminated, or NULL;
	                               with a default of "", "" also goes */
	const char *help;
	void *dst;
};

/* A renamed setting's former variable name.  It is still read (and its
 * flag: the name without "LB_", in lower case, '-' for '_'), the new name
 * winning, so that a rename breaks no deployment; lb_config_warn_former()
 * says that it was used.  Lists end with {NULL, NULL}. */
struct lb_opt_former {
	const char *was; /* "LB_ADMIN_LISTEN" */
	const char *env; /* the setting's variable now: "LB_PAGES_LISTEN" */
};

/* Fills every opts[i].dst from argv, the environment and the defaults
 * (former names of renamed settings included; former may be NULL).
 * Returns 0, or LB_ERR_INVAL with the reason in err.  Sets *help when
 * --help was given (the caller prints lb_config_usage() and exits). */
int lb_config_parse(const struct lb_opt *opts, size_t nopts,
                    const struct lb_opt_former *former, int argc, char **argv,
                    bool *help, char *err, size_t errlen);

/* The usual front of a main(): parses; on a bad value prints
 * "prog: reason" to stderr and sets *exit_code to 2; on --help prints the
 * usage and sets it to 0.  Returns true when the program should exit with
 * *exit_code, false when it should go on. */
bool lb_config_cli(const struct lb_opt *opts, size_t nopts, int argc,
                   char **argv, const char *prog, int *exit_code);

/* Logs a warning for each former name (lb_opt.was) set in argv or the
 * environment; called once logging is set up. */
void lb_config_warn_former(const struct lb_opt *opts, size_t nopts,
                           const struct lb_opt_former *former, int argc,
                           char **argv);

/* Prints one line per setting: flag, variable, default, meaning. */
void lb_config_usage(const struct lb_opt *opts, size_t nopts, const char *prog,
                     FILE *out);

#endif
