#include "lb_rand.h"

#include "lb_time.h"

#include <sys/random.h>
#include <unistd.h>

static _Thread_local uint64_t rand_state[2];
static _Thread_local int rand_seeded;

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void rand_seed(void)
{
	uint64_t seed;
	if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		seed = lb_wall_us() ^ ((uint64_t)getpid() << 32);
	rand_state[0] = splitmix(&seed);
	rand_state[1] = splitmix(&seed);
	rand_seeded = 1;
}

/* xorshift128+: fast, good enough for request ids and names (not crypto). */
uint64_t lb_rand_u64(void)
{
	uint64_t s1, s0;
	if (!rand_seeded)
		rand_seed();
	s1 = rand_state[0];
	s0 = rand_state[1];
	rand_state[0] = s0;
	s1 ^= s1 << 23;
	rand_state[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
	return rand_state[1] + s0;
}

uint64_t lb_rand_range(uint64_t lo, uint64_t hi)
{
	uint64_t span = hi - lo + 1;
	uint64_t limit, r;
	if (span == 0) /* the whole 64-bit range */
		return lb_rand_u64();
	/* Reject the top partial bucket so that every value is equally likely.
	 */
	limit = UINT64_MAX - UINT64_MAX % span;
	do
		r = lb_rand_u64();
	while (r >= limit);
	return lo + r % span;
}
