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

static const struct lbt_case cases[] = {
    {"valid_names", valid_names},
    {"invalid_names", invalid_names},
    {"random_names_are_valid_and_differ", random_names_are_valid_and_differ},
};
LBT_MAIN(cases)
