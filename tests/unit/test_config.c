#include "lb_config.h"
#include "lb_err.h"
#include "lbt.h"

static long long port, count;
static const char *mode;
static const char *const modes[] = {"docker", "process", NULL};
static const struct lb_opt opts[] = {
    {"port", "T_PORT", LB_OPT_INT, "5000", 1, 65535, NULL, "port", &port},
    {"count", "T_COUNT", LB_OPT_INT, NULL, 0, 10, NULL, "count", &count},
    {"mode", "T_MODE", LB_OPT_STR, "process", 0, 0, modes, "mode", &mode},
};

static int parse(int argc, char **argv, char *err)
{
	bool help;
	return lb_config_parse(opts, 3, NULL, argc, argv, &help, err, 256);
}

static void defaults_env_and_flags(void)
{
	char err[256];
	char *argv[] = {"prog", "--count", "3"};
	unsetenv("T_PORT");
	unsetenv("T_MODE");
	LBT_EQ(parse(3, argv, err), 0);
	LBT_EQ(port, 5000);
	LBT_EQ(count, 3);
	LBT_CHECK(strcmp(mode, "process") == 0);
	setenv("T_PORT", "6000", 1);
	LBT_EQ(parse(3, argv, err), 0);
	LBT_EQ(port, 6000);
	char *argv2[] = {"prog", "--count=4", "--port", "7000"};
	LBT_EQ(parse(4, argv2, err), 0);
	LBT_EQ(port, 7000); /* the flag wins over the environment */
	LBT_EQ(count, 4);
	unsetenv("T_PORT");
}

static void bad_values_name_variable_and_value(void)
{
	char err[256];
	char *argv[] = {"prog", "--count", "3"};
	setenv("T_PORT", "70000", 1);
	LBT_EQ(parse(3, argv, err), LB_ERR_INVAL);
	LBT_CHECK(strstr(err, "T_PORT=70000") != NULL);
	setenv("T_PORT", "12abc", 1);
	LBT_EQ(parse(3, argv, err), LB_ERR_INVAL);
	LBT_CHECK(strstr(err, "T_PORT=12abc") != NULL);
	unsetenv("T_PORT");
	setenv("T_MODE", "kubernetes", 1);
	LBT_EQ(parse(3, argv, err), LB_ERR_INVAL);
	LBT_CHECK(strstr(err, "T_MODE=kubernetes") != NULL);
	LBT_CHECK(strstr(err, "docker") != NULL);
	unsetenv("T_MODE");
}

static void missing_and_unknown(void)
{
	char err[256];
	char *argv[] = {"prog"};
	LBT_EQ(parse(1, argv, err), LB_ERR_INVAL);
	LBT_CHECK(strstr(err, "T_COUNT") != NULL);
	char *argv2[] = {"prog", "--count", "1", "--bogus", "1"};
	LBT_EQ(parse(5, argv2, err), LB_ERR_INVAL);
	LBT_CHECK(strstr(err, "--bogus") != NULL);
	char *argv3[] = {"prog", "--count"};
	LBT_EQ(parse(2, argv3, err), LB_ERR_INVAL);
}

/* A renamed setting: LB_T_OLD_PORT became T_PORT. */
static const struct lb_opt_former former[] = {{"LB_T_OLD_PORT", "T_PORT"},
                                              {NULL, NULL}};

static int parse_former(int argc, char **argv, char *err)
{
	bool help;
	return lb_config_parse(opts, 3, former, argc, argv, &help, err, 256);
}

static void former_names_are_read_and_lose_to_new(void)
{
	char err[256];
	char *argv[] = {"prog", "--count", "1"};
	unsetenv("T_PORT");
	setenv("LB_T_OLD_PORT", "6100", 1);
	LBT_EQ(parse_former(3, argv, err), 0);
	LBT_EQ(port, 6100);
	setenv("T_PORT", "6200", 1); /* the new name wins */
	LBT_EQ(parse_former(3, argv, err), 0);
	LBT_EQ(port, 6200);
	unsetenv("T_PORT");
	setenv("LB_T_OLD_PORT", "0", 1); /* checked as the setting is */
	LBT_EQ(parse_former(3, argv, err), LB_ERR_INVAL);
	LBT_CHECK(strstr(err, "LB_T_OLD_PORT=0") != NULL);
	unsetenv("LB_T_OLD_PORT");
	char *argv2[] = {"prog", "--count", "1", "--t-old-port=6300"};
	LBT_EQ(parse_former(4, argv2, err), 0);
	LBT_EQ(port, 6300);
	/* Without the list, the former flag is unknown. */
	LBT_EQ(parse(4, argv2, err), LB_ERR_INVAL);
	/* Its value as the next argument. */
	char *argv3[] = {"prog", "--t-old-port", "6400", "--count", "1"};
	LBT_EQ(parse_former(5, argv3, err), 0);
	LBT_EQ(port, 6400);
	/* Both flags: the setting's own wins, in either order. */
	char *argv4[] = {"prog", "--port=6500", "--t-old-port=6600",
	                 "--count=1"};
	LBT_EQ(parse_former(4, argv4, err), 0);
	LBT_EQ(port, 6500);
	char *argv5[] = {"prog", "--t-old-port=6600", "--port=6500",
	                 "--count=1"};
	LBT_EQ(parse_former(4, argv5, err), 0);
	LBT_EQ(port, 6500);
	/* An error names the flag as it was typed. */
	char *argv6[] = {"prog", "--t-old-port=0", "--count=1"};
	LBT_EQ(parse_former(3, argv6, err), LB_ERR_INVAL);
	LBT_CHECK(strstr(err, "--t-old-port=0") != NULL);
	char *argv7[] = {"prog", "--count=1", "--t-old-port"};
	LBT_EQ(parse_former(3, argv7, err), LB_ERR_INVAL);
	LBT_CHECK(strstr(err, "--t-old-port needs a value") != NULL);
}

static const struct lbt_case cases[] = {
    {"former_names_are_read_and_lose_to_new",
     former_names_are_read_and_lose_to_new},
    {"defaults_env_and_flags", defaults_env_and_flags},
    {"bad_values_name_variable_and_value", bad_values_name_variable_and_value},
    {"missing_and_unknown", missing_and_unknown},
};
LBT_MAIN(cases)
