#include "lb_time.h"

#include <errno.h>
#include <time.h>

int64_t lb_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t lb_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

uint64_t lb_wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void lb_time_deadline(struct timespec *ts, clockid_t clock, int64_t ms)
{
	clock_gettime(clock, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

void lb_time_sleep_us(int64_t us)
{
	struct timespec ts = {.tv_sec = us / 1000000,
	                      .tv_nsec = (long)(us % 1000000) * 1000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

void lb_time_sleep_ms(int64_t ms)
{
	lb_time_sleep_us(ms * 1000);
}

bool lb_time_sleep_unless(const atomic_bool *stop, int64_t ms)
{
	int64_t end = lb_now_ms() + ms;

	for (;;) {
		int64_t left = end - lb_now_ms();
		if (atomic_load(stop))
			return false;
		if (left <= 0)
			return true;
		lb_time_sleep_ms(left < 50 ? left : 50);
	}
}

void lb_time_cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
}
