/* lbt.h - a very small unit-test harness.
 *
 * A test binary lists its cases with --list and runs one with --run NAME
 * (tests/test_unit.py turns each case into a pytest item) or all of them
 * with no argument.  A failed check prints file:line and the expression and
 * ends the case with exit status 1.
 */
#ifndef LBT_H
#define LBT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lbt_case {
	const char *name;
	void (*fn)(void);
};

#define LBT_CHECK(cond)                                                        \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
			        __LINE__, #cond);                              \
			exit(1);                                               \
		}                                                              \
	} while (0)

#define LBT_EQ(a, b)                                                           \
	do {                                                                   \
		long long lbt_a = (long long)(a), lbt_b = (long long)(b);      \
		if (lbt_a != lbt_b) {                                          \
			fprintf(stderr,                                        \
			        "%s:%d: %s == %s failed: %lld != %lld\n",      \
			        __FILE__, __LINE__, #a, #b, lbt_a, lbt_b);     \
			exit(1);                                               \
		}                                                              \
	} while (0)

static inline int lbt_main(int argc, char **argv, const struct lbt_case *c,
                           size_t n)
{
	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", c[i].name);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "--run") == 0) {
		for (size_t i = 0; i < n; i++) {
			if (strcmp(c[i].name, argv[2]) == 0) {
				c[i].fn();
				return 0;
			}
		}
		fprintf(stderr, "no test case named %s\n", argv[2]);
		return 2;
	}
	for (size_t i = 0; i < n; i++) {
		c[i].fn();
		printf("ok %s\n", c[i].name);
	}
	return 0;
}

#define LBT_MAIN(cases)                                                        \
	int main(int argc, char **argv)                                        \
	{                                                                      \
		return lbt_main(argc, argv, cases,                             \
		                sizeof(cases) / sizeof(cases[0]));             \
	}

/* A fixed-seed generator so that "random" keys are the same every run. */
static inline unsigned long long lbt_rand(unsigned long long *s)
{
	unsigned long long z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A random 6-digit request id, as the load balancer draws them. */
static inline unsigned long long lbt_key6(unsigned long long *s)
{
	return 100000 + lbt_rand(s) % 900000;
}

#endif
