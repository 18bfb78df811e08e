/* cp_reports: what the data planes report, and when a drain may end. */
#include "cp_reports.h"
#include "lb_time.h"
#include "lbt.h"

#define BOOT 0xB0
#define NOW  100000

static void put(struct cp_reports *r, uint64_t dp, uint64_t version,
                const char *host, uint32_t port, uint32_t count, int64_t at)
{
	Lb__Report rep = LB__REPORT__INIT;
	Lb__InFlight f = LB__IN_FLIGHT__INIT, *fp = &f;

	rep.dp_id = dp;
	rep.boot_id = BOOT;
	rep.version = version;
	if (host) {
		f.host = (char *)host;
		f.port = port;
		f.count = count;
		rep.n_inflight = 1;
		rep.inflight = &fp;
	}
	cp_reports_put(r, &rep, at);
}

static long inflight(struct cp_reports *r, uint64_t version, int64_t now)
{
	return cp_reports_inflight(r, BOOT, version, "10.0.0.5", 5000, now);
}

static void test_no_data_plane_means_nothing_in_flight(void)
{
	struct cp_reports r;

	cp_reports_init(&r);
	LBT_EQ(inflight(&r, 7, NOW), 0);
	cp_reports_fini(&r);
}

static void test_counts_add_up_over_live_data_planes(void)
{
	struct cp_reports r;

	cp_reports_init(&r);
	put(&r, 1, 7, "10.0.0.5", 5000, 2, NOW);
	put(&r, 2, 8, "10.0.0.5", 5000, 3, NOW);
	put(&r, 3, 9, "10.0.0.6", 5000, 9, NOW); /* another replica */
	LBT_EQ(inflight(&r, 7, NOW), 5);
	LBT_EQ(cp_reports_live(&r, NOW), 3);
	/* A newer report replaces the older of the same data plane. */
	put(&r, 1, 7, NULL, 0, 0, NOW + 10);
	LBT_EQ(inflight(&r, 7, NOW + 10), 3);
	cp_reports_fini(&r);
}

static void test_an_older_ring_means_not_yet(void)
{
	struct cp_reports r;

	cp_reports_init(&r);
	put(&r, 1, 8, NULL, 0, 0, NOW);
	put(&r, 2, 6, NULL, 0, 0, NOW); /* routes with the replica still */
	LBT_EQ(inflight(&r, 7, NOW), -1);
	put(&r, 2, 7, NULL, 0, 0, NOW);
	LBT_EQ(inflight(&r, 7, NOW), 0);
	cp_reports_fini(&r);
}

static void test_rm_waits_for_the_new_ring_and_no_longer(void)
{
	struct cp_reports r;
	int64_t t0;

	cp_reports_init(&r);
	put(&r, 1, 6, NULL, 0, 0, lb_now_ms());
	t0 = lb_now_ms();
	LBT_CHECK(!cp_reports_wait_version(&r, BOOT, 7, 50));
	LBT_CHECK(lb_now_ms() - t0 >= 50);
	put(&r, 1, 7, NULL, 0, 0, lb_now_ms());
	LBT_CHECK(cp_reports_wait_version(&r, BOOT, 7, 50));
	cp_reports_fini(&r);
}

static void test_a_silent_data_plane_is_gone(void)
{
	struct cp_reports r;

	cp_reports_init(&r);
	put(&r, 1, 6, "10.0.0.5", 5000, 4, NOW);
	LBT_EQ(inflight(&r, 7, NOW + CP_REPORTS_STALE_MS), -1);
	LBT_EQ(inflight(&r, 7, NOW + CP_REPORTS_STALE_MS + 1), 0);
	LBT_EQ(cp_reports_live(&r, NOW + CP_REPORTS_STALE_MS + 1), 0);
	cp_reports_fini(&r);
}

static void test_a_report_too_long_to_keep_is_not_trusted(void)
{
	Lb__InFlight f[CP_REPORTS_MAX_ADDRS + 1], *fp[CP_REPORTS_MAX_ADDRS + 1];
	Lb__Report rep = LB__REPORT__INIT;
	struct cp_reports r;

	cp_reports_init(&r);
	for (size_t i = 0; i <= CP_REPORTS_MAX_ADDRS; i++) {
		lb__in_flight__init(&f[i]);
		f[i].host = "10.0.0.9";
		f[i].port = (uint32_t)(1000 + i);
		f[i].count = 1;
		fp[i] = &f[i];
	}
	rep.dp_id = 1;
	rep.boot_id = BOOT;
	rep.version = 9;
	rep.n_inflight = CP_REPORTS_MAX_ADDRS + 1;
	rep.inflight = fp;
	cp_reports_put(&r, &rep, NOW);
	LBT_EQ(inflight(&r, 7, NOW), -1);
	cp_reports_fini(&r);
}

static void test_bad_entries_are_skipped(void)
{
	struct cp_reports r;

	cp_reports_init(&r);
	put(&r, 1, 9, "10.0.0.5", 70000, 4, NOW); /* no such port */
	LBT_EQ(inflight(&r, 7, NOW), 0);
	/* Another control-plane start's ring says nothing about ours. */
	Lb__Report rep = LB__REPORT__INIT;
	rep.dp_id = 2;
	rep.boot_id = BOOT + 1;
	rep.version = 99;
	cp_reports_put(&r, &rep, NOW);
	LBT_EQ(inflight(&r, 7, NOW), -1);
	cp_reports_fini(&r);
}

static const struct lbt_case cases[] = {
    {"no_data_plane_means_nothing_in_flight",
     test_no_data_plane_means_nothing_in_flight},
    {"counts_add_up_over_live_data_planes",
     test_counts_add_up_over_live_data_planes},
    {"an_older_ring_means_not_yet", test_an_older_ring_means_not_yet},
    {"rm_waits_for_the_new_ring_and_no_longer",
     test_rm_waits_for_the_new_ring_and_no_longer},
    {"a_silent_data_plane_is_gone", test_a_silent_data_plane_is_gone},
    {"a_report_too_long_to_keep_is_not_trusted",
     test_a_report_too_long_to_keep_is_not_trusted},
    {"bad_entries_are_skipped", test_bad_entries_are_skipped},
};
LBT_MAIN(cases)
