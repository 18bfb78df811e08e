#include "lb_err.h"
#include "lb_hash.h"
#include "lbt.h"

static void raw_request_hash(void)
{
	/* H(i) = i^2 + 2i + 17 */
	LBT_EQ(lb_hash_request(LB_HASH_QUADRATIC, 0), 17);
	LBT_EQ(lb_hash_request(LB_HASH_QUADRATIC, 1), 20);
	LBT_EQ(lb_hash_request(LB_HASH_QUADRATIC, 10), 137);
	LBT_EQ(lb_hash_request(LB_HASH_QUADRATIC, 999999),
	       999999ULL * 999999ULL + 2 * 999999ULL + 17);
}

static void raw_vnode_hash(void)
{
	/* Phi(i, j) = i^2 + j^2 + 2j + 25 */
	LBT_EQ(lb_hash_vnode(LB_HASH_QUADRATIC, 1, 0), 26);
	LBT_EQ(lb_hash_vnode(LB_HASH_QUADRATIC, 2, 3), 44);
	LBT_EQ(lb_hash_vnode(LB_HASH_QUADRATIC, 3, 8), 114);
}

static void mix_is_deterministic_and_spreads(void)
{
	LBT_EQ(lb_hash_request(LB_HASH_MIX, 123456),
	       lb_hash_request(LB_HASH_MIX, 123456));
	LBT_CHECK(lb_hash_request(LB_HASH_MIX, 1) !=
	          lb_hash_request(LB_HASH_MIX, 2));
	LBT_CHECK(lb_hash_vnode(LB_HASH_MIX, 1, 0) !=
	          lb_hash_vnode(LB_HASH_MIX, 1, 1));
	/* Neighbouring keys land far apart: low bits differ about half the
	 * time over many keys. */
	int same_low = 0;
	for (unsigned i = 0; i < 1000; i++)
		same_low += (lb_hash_request(LB_HASH_MIX, i) & 511) ==
		            (lb_hash_request(LB_HASH_MIX, i + 1) & 511);
	LBT_CHECK(same_low < 10);
}

static void names_round_trip(void)
{
	enum lb_hash_kind k;
	LBT_EQ(lb_hash_parse("quadratic", &k), 0);
	LBT_EQ(k, LB_HASH_QUADRATIC);
	LBT_EQ(lb_hash_parse("mix", &k), 0);
	LBT_EQ(k, LB_HASH_MIX);
	LBT_CHECK(strcmp(lb_hash_name(LB_HASH_MIX), "mix") == 0);
	LBT_EQ(lb_hash_parse("md5", &k), LB_ERR_INVAL);
}

static const struct lbt_case cases[] = {
    {"raw_request_hash", raw_request_hash},
    {"raw_vnode_hash", raw_vnode_hash},
    {"mix_is_deterministic_and_spreads", mix_is_deterministic_and_spreads},
    {"names_round_trip", names_round_trip},
};
LBT_MAIN(cases)
