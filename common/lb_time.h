/* lb_time.h - monotonic clock and sleeping helpers. */
#ifndef LB_TIME_H
#define LB_TIME_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>
#include <time.h>

/* Milliseconds on CLOCK_MONOTONIC. */
int64_t lb_now_ms(void);

/* Microseconds on CLOCK_MONOTONIC. */
int64_t lb_now_us(void);

/* Microseconds on CLOCK_REALTIME (wall clock). */
uint64_t lb_wall_us(void);

/* Fills *ts with "now + ms" on clock (CLOCK_MONOTONIC for condition
 * variables set up with it, CLOCK_REALTIME for sem_timedwait()). */
void lb_time_deadline(struct timespec *ts, clockid_t clock, int64_t ms);

/* Initialises a condition variable that waits on CLOCK_MONOTONIC (its
 * deadlines come from lb_time_deadline(..., CLOCK_MONOTONIC, ...)). */
void lb_time_cond_init(pthread_cond_t *cv);

/* Sleeps ms milliseconds (restarts after signals). */
void lb_time_sleep_ms(int64_t ms);
void lb_time_sleep_us(int64_t us);

/* Sleeps up to ms milliseconds, in steps of at most 50 ms, and returns
 * early once *stop is set: the wait of every thread that must notice a
 * shutdown promptly.  Returns false when it was cut short by *stop. */
bool lb_time_sleep_unless(const atomic_bool *stop, int64_t ms);

#endif
