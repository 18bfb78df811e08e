#include "lb_err.h"
#include "lb_name.h"
#include "lbt.h"

static void valid_names(void)
{
	LBT_CHECK(lb_name_valid("server1"));
	LBT_CHECK(lb_name_valid("S5"));
	LBT_CHECK(lb_name_valid("a"));
	LBT_CHECK(lb_name_valid("9_a.b-c"));
	char max[64];
	memset(max, 'x', 63);
	max[63] = '\0';
	LBT_CHECK(lb_name_valid(max));
}

static void invalid_names(void)
{
	static const char *bad[] = {
	    "",
	    "-a",
	    "_a",
	    ".a",
	    "a b",
	    "a/b",
	    "a:b",
	    "ä",
	    "a\n",
	    "a$(x)",
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		LBT_CHECK(!lb_name_valid(bad[i]));
	LBT_CHECK(!lb_name_valid(NULL));
}

static void random_names_are_valid_and_differ(void)
{
	char a[LB_NAME_MAX + 1], b[LB_NAME_MAX + 1];
	int same = 0;
	for (int i = 0; i < 200; i++) {
		lb_name_random(a, sizeof(a));
		lb_name_random(b, sizeof(b));
		LBT_CHECK(lb_name_valid(a));
		LBT_EQ(strlen(a), 10);
		same += strcmp(a, b) == 0;
	}
	LBT_CHECK(same < 2);
}

static int backend(const char *spec, char *name, char *host, unsigned *port)
{
	char err[256];
	return lb_name_backend_parse(spec, name, host, port, NULL, err,
	                             sizeof(err));
}

/* LB_BACKENDS' name=host:port@weight. */
static void backend_weights(void)
{
	char name[LB_NAME_MAX + 1], host[LB_HOST_MAX + 1], err[256];
	unsigned port = 0;
	uint32_t w = 0;

	LBT_EQ(lb_name_backend_parse("big=10.0.0.1:80@3", name, host, &port, &w,
	                             err, sizeof(err)),
	       0);
	LBT_CHECK(strcmp(name, "big") == 0 && strcmp(host, "10.0.0.1") == 0);
	LBT_EQ(port, 80);
	LBT_EQ(w, 3);
	LBT_EQ(lb_name_backend_parse("a=h:81", name, host, &port, &w, err,
	                             sizeof(err)),
	       0);
	LBT_EQ(w, 1);
	LBT_EQ(port, 81);
	LBT_EQ(lb_name_backend_parse("a=h:81@100", name, host, &port, &w, err,
	                             sizeof(err)),
	       0);
	LBT_EQ(w, 100);
	static const char *const bad[] = {"a=h:81@0", "a=h:81@101", "a=h:81@",
	                                  "a=h:81@x", "a=h:81@3x",  "a=h:81@-2",
	                                  "a=h:81@ 3"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		LBT_EQ(lb_name_backend_parse(bad[i], name, host, &port, &w, err,
		                             sizeof(err)),
		       LB_ERR_INVAL);
		LBT_CHECK(strstr(err, "weight must be 1..100") != NULL);
	}
	/* Where no weight is taken, "@" is no part of a port. */
	LBT_EQ(lb_name_backend_parse("a=h:81@3", name, host, &port, NULL, err,
	                             sizeof(err)),
	       LB_ERR_INVAL);
	LBT_CHECK(strstr(err, "no weight here") != NULL);
	LBT_EQ(lb_name_backend_parse("a=h@x:81", name, host, &port, &w, err,
	                             sizeof(err)),
	       LB_ERR_INVAL);
}

static void backend_specs(void)
{
	char name[LB_NAME_MAX + 1], host[LB_HOST_MAX + 1];
	unsigned port = 0;

	LBT_EQ(backend("api1=10.0.0.5:8080", name, host, &port), 0);
	LBT_CHECK(strcmp(name, "api1") == 0 && strcmp(host, "10.0.0.5") == 0);
	LBT_EQ(port, 8080);
	LBT_EQ(backend("b=db.internal:1", name, host, &port), 0);
	LBT_CHECK(strcmp(host, "db.internal") == 0);
	/* Refused: no '=', no port, a port out of range or not only
	 * digits, a bad name, a bad host. */
	const char *bad[] = {
	    "api1",    "a=host",  "a=h:0",  "a=h:65536",     "a=h: 80",
	    "a=h:+80", "a=h:80x", "a=h:",   "bad name=h:80", "a=bad host:80",
	    "a=:80",   "=h:80",   "a=-h:80"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		LBT_CHECK(backend(bad[i], name, host, &port) != 0);
}

static const struct lbt_case cases[] = {
    {"backend_specs", backend_specs},
    {"backend_weights", backend_weights},
    {"valid_names", valid_names},
    {"invalid_names", invalid_names},
    {"random_names_are_valid_and_differ", random_names_are_valid_and_differ},
};
LBT_MAIN(cases)
