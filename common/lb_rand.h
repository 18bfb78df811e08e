/* lb_rand.h - random numbers that need no shared state.
 *
 * Seeded per thread from getrandom(2), so request ids and generated names
 * differ between threads, processes and restarts without a lock.
 */
#ifndef LB_RAND_H
#define LB_RAND_H

#include <stdint.h>

/* A uniformly random 64-bit value (thread-local xoshiro-style generator). */
uint64_t lb_rand_u64(void);

/* A uniformly random integer in [lo, hi]; requires lo <= hi. */
uint64_t lb_rand_range(uint64_t lo, uint64_t hi);

#endif
