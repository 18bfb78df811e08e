/* dp_ramp: slow start's share, and which keys a ramping replica takes. */
#include "dp_ramp.h"
#include "lbt.h"

#include <math.h>

static void share_ramps_from_a_tenth_to_all(void)
{
	LBT_CHECK(dp_ramp_share(1000, 1000, 10000) == DP_RAMP_FIRST);
	LBT_CHECK(fabs(dp_ramp_share(1000, 6000, 10000) - 0.55) < 1e-9);
	LBT_CHECK(dp_ramp_share(1000, 11000, 10000) == 1.0);
	LBT_CHECK(dp_ramp_share(1000, 99000, 10000) == 1.0);
	/* Off, or a replica that was there before anything ramped. */
	LBT_CHECK(dp_ramp_share(1000, 1000, 0) == 1.0);
	LBT_CHECK(dp_ramp_share(0, 1000, 10000) == 1.0);
	/* A data plane whose clock is behind: the ramp has not begun. */
	LBT_CHECK(dp_ramp_share(5000, 1000, 10000) == DP_RAMP_FIRST);
}

static void keys_taken_follow_the_share_and_only_grow(void)
{
	static const double shares[] = {0.1, 0.3, 0.55, 0.8, 0.99};
	enum { KEYS = 20000 };
	static bool taken_before[KEYS];

	for (int k = 0; k < KEYS; k++)
		taken_before[k] = false;
	for (size_t i = 0; i < sizeof(shares) / sizeof(shares[0]); i++) {
		int taken = 0;
		for (uint64_t k = 0; k < KEYS; k++) {
			bool t = !dp_ramp_passes(k * 7919 + 1, shares[i]);
			/* A key once taken stays taken as the share grows. */
			LBT_CHECK(t || !taken_before[k]);
			taken_before[k] = t;
			taken += t;
		}
		LBT_CHECK(fabs((double)taken / KEYS - shares[i]) < 0.02);
	}
	for (uint64_t k = 0; k < KEYS; k++)
		LBT_CHECK(!dp_ramp_passes(k, 1.0));
}

static const struct lbt_case cases[] = {
    {"share_ramps_from_a_tenth_to_all", share_ramps_from_a_tenth_to_all},
    {"keys_taken_follow_the_share_and_only_grow",
     keys_taken_follow_the_share_and_only_grow},
};
LBT_MAIN(cases)
