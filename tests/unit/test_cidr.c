/* lb_cidr: address lists for the admin allow list and trusted proxies. */
#include "lb_cidr.h"
#include "lb_err.h"
#include "lbt.h"

#include <stdio.h>
#include <unistd.h>

static const struct lb_cidr_env no_container = {
    .route_path = "/nonexistent/route",
    .marker_path = "/nonexistent/.dockerenv",
};

static bool in(const struct lb_cidrs *l, const char *addr)
{
	return lb_cidrs_match(l, addr, strlen(addr));
}

static void parse_ok(struct lb_cidrs *l, const char *spec)
{
	char err[256] = "";
	int rv =
	    lb_cidrs_parse(l, spec, "LB_X", &no_container, err, sizeof(err));
	if (rv != 0)
		fprintf(stderr, "%s\n", err);
	LBT_EQ(rv, 0);
}

static void test_loopback_is_local_only(void)
{
	struct lb_cidrs l;

	parse_ok(&l, "loopback");
	LBT_CHECK(in(&l, "127.0.0.1") && in(&l, "127.255.0.9"));
	LBT_CHECK(in(&l, "::1") && in(&l, "::ffff:127.0.0.1"));
	LBT_CHECK(!in(&l, "128.0.0.1") && !in(&l, "10.0.0.1"));
	LBT_CHECK(!in(&l, "::2") && !in(&l, "localhost") && !in(&l, ""));
	LBT_CHECK(!l.beyond_host);
}

static void test_networks_match_by_prefix(void)
{
	struct lb_cidrs l;

	parse_ok(&l, "10.1.2.3/8, 192.168.1.0/24,2001:db8::/32,172.18.0.1");
	LBT_CHECK(in(&l, "10.200.3.4") && !in(&l, "11.0.0.1"));
	LBT_CHECK(in(&l, "192.168.1.77") && !in(&l, "192.168.2.1"));
	LBT_CHECK(in(&l, "2001:db8:ffff::1") && !in(&l, "2001:db9::1"));
	LBT_CHECK(in(&l, "172.18.0.1") && !in(&l, "172.18.0.2"));
	LBT_CHECK(l.beyond_host);
	parse_ok(&l, "172.18.0.0/12");
	LBT_CHECK(in(&l, "172.31.255.255") && !in(&l, "172.32.0.0"));
	parse_ok(&l, "0.0.0.0/0");
	LBT_CHECK(in(&l, "8.8.8.8") && !in(&l, "::1"));
}

static void test_none_is_nobody(void)
{
	struct lb_cidrs l;

	parse_ok(&l, "none");
	LBT_EQ(l.n, 0);
	LBT_CHECK(!in(&l, "127.0.0.1") && !l.beyond_host);
}

static void test_bad_rules_are_refused_with_the_reason(void)
{
	static const char *const bad[] = {
	    "",          "loopback,",   "10.0.0.0/33",   "10.0.0.0/",
	    "10.0.0/8",  "::1/129",     "10.0.0.0/-1",   "10.0.0.0/8x",
	    "localhost", "1.2.3.4 5.6", "none,loopback",
	};
	struct lb_cidrs l;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		LBT_EQ(lb_cidrs_parse(&l, bad[i], "LB_X", &no_container, err,
		                      sizeof(err)),
		       LB_ERR_INVAL);
		LBT_CHECK(strstr(err, "LB_X=") == err);
		LBT_EQ(l.n, 0);
	}
}

static void test_too_many_rules_are_refused(void)
{
	char spec[64 * 12] = "", err[256];
	struct lb_cidrs l;

	for (int i = 0; i < LB_CIDR_MAX + 1; i++)
		snprintf(spec + strlen(spec), sizeof(spec) - strlen(spec),
		         "%s10.0.0.%d", i ? "," : "", i);
	LBT_EQ(
	    lb_cidrs_parse(&l, spec, "LB_X", &no_container, err, sizeof(err)),
	    LB_ERR_INVAL);
	LBT_CHECK(strstr(err, "more than") != NULL);
}

static void test_container_host_is_the_default_gateway_in_a_container(void)
{
	char dir[] = "/tmp/lbcidrXXXXXX", route[64], marker[64], err[256];
	struct lb_cidr_env env = {route, marker};
	struct lb_cidrs l;
	FILE *f;

	LBT_CHECK(mkdtemp(dir) != NULL);
	snprintf(route, sizeof(route), "%s/route", dir);
	snprintf(marker, sizeof(marker), "%s/.dockerenv", dir);
	f = fopen(route, "w");
	LBT_CHECK(f != NULL);
	/* 172.18.0.1 as the kernel writes it (bytes of memory, in hex). */
	fputs("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n"
	      "eth0\t000012AC\t00000000\t0001\t0\t0\t0\t0000FFFF\n"
	      "eth0\t00000000\t010012AC\t0003\t0\t0\t0\t00000000\n",
	      f);
	fclose(f);
	/* Outside a container (no marker): nothing. */
	LBT_EQ(lb_cidrs_parse(&l, "loopback,container-host", "LB_X", &env, err,
	                      sizeof(err)),
	       0);
	LBT_CHECK(!in(&l, "172.18.0.1"));
	f = fopen(marker, "w");
	LBT_CHECK(f != NULL);
	fclose(f);
	LBT_EQ(lb_cidrs_parse(&l, "loopback,container-host", "LB_X", &env, err,
	                      sizeof(err)),
	       0);
	LBT_CHECK(in(&l, "172.18.0.1") && !in(&l, "172.18.0.5"));
	LBT_CHECK(in(&l, "127.0.0.1") && !l.beyond_host);
	unlink(route);
	unlink(marker);
	rmdir(dir);
}

static const struct lbt_case cases[] = {
    {"loopback_is_local_only", test_loopback_is_local_only},
    {"networks_match_by_prefix", test_networks_match_by_prefix},
    {"none_is_nobody", test_none_is_nobody},
    {"bad_rules_are_refused_with_the_reason",
     test_bad_rules_are_refused_with_the_reason},
    {"too_many_rules_are_refused", test_too_many_rules_are_refused},
    {"container_host_is_the_default_gateway_in_a_container",
     test_container_host_is_the_default_gateway_in_a_container},
};
LBT_MAIN(cases)
