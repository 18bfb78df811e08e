#include "lb_hash.h"

#include "lb_err.h"

#include <string.h>

uint64_t lb_hash_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* Unsigned arithmetic wraps modulo 2^64, which is well defined; with 6-digit
 * keys and realistic server ids nothing wraps anyway. */
uint64_t lb_hash_request(enum lb_hash_kind kind, uint64_t i)
{
	if (kind == LB_HASH_MIX)
		return lb_hash_mix64(i + 0x9e3779b97f4a7c15ULL);
	return i * i + 2 * i + 17;
}

uint64_t lb_hash_vnode(enum lb_hash_kind kind, uint64_t i, uint64_t j)
{
	if (kind == LB_HASH_MIX)
		return lb_hash_mix64(lb_hash_mix64(i) ^
		                     (j + 0x632be59bd9b4e019ULL));
	return i * i + j * j + 2 * j + 25;
}

const char *const lb_hash_names[] = {
    [LB_HASH_QUADRATIC] = "quadratic", [LB_HASH_MIX] = "mix", NULL};

const char *lb_hash_name(enum lb_hash_kind kind)
{
	return lb_hash_names[kind == LB_HASH_MIX ? LB_HASH_MIX
	                                         : LB_HASH_QUADRATIC];
}

int lb_hash_parse(const char *name, enum lb_hash_kind *out)
{
	for (int i = 0; lb_hash_names[i]; i++)
		if (strcmp(name, lb_hash_names[i]) == 0) {
			*out = (enum lb_hash_kind)i;
			return 0;
		}
	return LB_ERR_INVAL;
}
