#include "lb_preset.h"

#include "lb_err.h"

#include <stdio.h>
#include <string.h>

static const struct lb_preset builtin[] = {
    /* The assignment's functions, exactly (Task 2). */
    {"assignment", 512, 9, LB_HASH_QUADRATIC, LB_PLACE_LINEAR},
    /* Same table and K, but a strong integer mix for H and Phi. */
    {"mix", 512, 9, LB_HASH_MIX, LB_PLACE_LINEAR},
    /* A Maglev table of prime size: near-perfect balance. */
    {"maglev", 65537, 0, LB_HASH_MIX, LB_PLACE_MAGLEV},
};

int lb_preset_lookup(const char *name, struct lb_preset *out)
{
	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++) {
		if (strcmp(builtin[i].name, name) == 0) {
			*out = builtin[i];
			return 0;
		}
	}
	return LB_ERR_NOTFOUND;
}

const char *lb_preset_names(void)
{
	return "assignment, mix, maglev";
}

static int is_prime(uint32_t n)
{
	if (n < 2)
		return 0;
	for (uint32_t d = 2; (uint64_t)d * d <= n; d++)
		if (n % d == 0)
			return 0;
	return 1;
}

int lb_preset_check(const struct lb_preset *p, char *err, size_t errlen)
{
	if (p->slots < 1 || p->slots > LB_SLOTS_MAX) {
		snprintf(err, errlen, "slots must be 1..%u, got %u",
		         LB_SLOTS_MAX, p->slots);
		return LB_ERR_INVAL;
	}
	if (p->placement == LB_PLACE_LINEAR &&
	    (p->vnodes < 1 || p->vnodes > LB_VNODES_MAX ||
	     p->vnodes > p->slots)) {
		snprintf(
		    err, errlen,
		    "virtual servers per replica must be 1..%u and at most "
		    "the slot count %u, got %u",
		    LB_VNODES_MAX, p->slots, p->vnodes);
		return LB_ERR_INVAL;
	}
	/* Maglev's permutations visit every slot only when the size is prime.
	 */
	if (p->placement == LB_PLACE_MAGLEV && !is_prime(p->slots)) {
		snprintf(err, errlen,
		         "maglev placement needs a prime slot count, got %u",
		         p->slots);
		return LB_ERR_INVAL;
	}
	return 0;
}

uint32_t lb_preset_capacity(const struct lb_preset *p)
{
	if (p->placement == LB_PLACE_MAGLEV)
		return p->slots;
	return p->vnodes ? p->slots / p->vnodes : 0;
}

const char *const lb_preset_placement_names[] = {
    [LB_PLACE_LINEAR] = "linear", [LB_PLACE_MAGLEV] = "maglev", NULL};

const char *lb_preset_placement_name(enum lb_placement pl)
{
	return lb_preset_placement_names[pl == LB_PLACE_MAGLEV
	                                     ? LB_PLACE_MAGLEV
	                                     : LB_PLACE_LINEAR];
}

int lb_preset_placement_parse(const char *name, enum lb_placement *out)
{
	for (int i = 0; lb_preset_placement_names[i]; i++)
		if (strcmp(name, lb_preset_placement_names[i]) == 0) {
			*out = (enum lb_placement)i;
			return 0;
		}
	return LB_ERR_INVAL;
}
