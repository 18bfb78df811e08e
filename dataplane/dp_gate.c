/* sem_clockwait(): waits on CLOCK_MONOTONIC, which a clock step cannot
 * stretch or cut (glibc 2.30, a GNU extension). */
#define _GNU_SOURCE

#include "dp_gate.h"

#include "lb_time.h"

#include <errno.h>
#include <semaphore.h>
#include <stddef.h>
#include <stdlib.h>

struct dp_gate_waiter {
	struct dp_gate_waiter *prev, *next;
	sem_t *wake; /* its thread's: a hand-over wakes exactly that one */
	bool admitted;
};

/* Each thread waits on a semaphore of its own, made on its first wait and
 * freed when it ends.  The hand-over posts it after letting go of the
 * gate's lock, so the woken thread never queues for that lock again (a
 * condition variable would: hundreds of threads, one convoy). */
static pthread_key_t wake_key;
static bool wake_key_made;
static pthread_once_t wake_once = PTHREAD_ONCE_INIT;

static void wake_free(void *p)
{
	sem_destroy(p);
	free(p);
}

static void wake_key_make(void)
{
	wake_key_made = pthread_key_create(&wake_key, wake_free) == 0;
}

static sem_t *wake_of_thread(void)
{
	sem_t *s;

	pthread_once(&wake_once, wake_key_make);
	if (!wake_key_made)
		return NULL; /* no key: the caller is refused, never stuck */
	if ((s = pthread_getspecific(wake_key)))
		return s;
	if (!(s = malloc(sizeof(*s))))
		return NULL;
	if (sem_init(s, 0, 0) != 0 || pthread_setspecific(wake_key, s) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

void dp_gate_init(struct dp_gate *g, int limit, int max_queue)
{
	pthread_mutex_init(&g->mu, NULL);
	g->limit = limit;
	g->max_queue = max_queue;
	g->active = g->queued = 0;
	g->head = g->tail = NULL;
	atomic_init(&g->queued_total, 0);
	atomic_init(&g->timeouts_total, 0);
	atomic_init(&g->refused_total, 0);
}

void dp_gate_fini(struct dp_gate *g)
{
	pthread_mutex_destroy(&g->mu);
}

static void line_push(struct dp_gate *g, struct dp_gate_waiter *w)
{
	w->prev = g->tail;
	w->next = NULL;
	if (g->tail)
		g->tail->next = w;
	else
		g->head = w;
	g->tail = w;
	g->queued++;
}

static void line_unlink(struct dp_gate *g, struct dp_gate_waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		g->head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		g->tail = w->prev;
	g->queued--;
}

/* Waits in line until admitted or past the deadline.  Called with g->mu
 * held; returns without it.  parked(arg) runs once in line, with the lock
 * let go. */
static bool line_wait(struct dp_gate *g, struct dp_gate_waiter *w,
                      long timeout_ms, void (*parked)(void *arg), void *arg)
{
	struct timespec deadline;
	int rv;

	lb_time_deadline(&deadline, CLOCK_MONOTONIC, timeout_ms);
	w->admitted = false;
	line_push(g, w);
	pthread_mutex_unlock(&g->mu);
	if (parked)
		parked(arg);
	do
		rv = sem_clockwait(w->wake, CLOCK_MONOTONIC, &deadline);
	while (rv != 0 && errno == EINTR);
	if (rv == 0)
		return true; /* posted only once admitted */
	pthread_mutex_lock(&g->mu);
	if (w->admitted) {
		/* Admitted as the wait ended: the post is on its way. */
		pthread_mutex_unlock(&g->mu);
		while (sem_wait(w->wake) != 0 && errno == EINTR)
			;
		return true;
	}
	line_unlink(g, w);
	pthread_mutex_unlock(&g->mu);
	return false;
}

enum dp_gate_result dp_gate_enter(struct dp_gate *g, long timeout_ms,
                                  int64_t *waited_us, void (*parked)(void *arg),
                                  void *arg)
{
	struct dp_gate_waiter w;
	int64_t t0;

	*waited_us = 0;
	pthread_mutex_lock(&g->mu);
	if (g->limit <= 0 || (g->active < g->limit && !g->head)) {
		g->active++;
		pthread_mutex_unlock(&g->mu);
		return DP_GATE_IN;
	}
	if (g->queued >= g->max_queue || !(w.wake = wake_of_thread())) {
		pthread_mutex_unlock(&g->mu);
		atomic_fetch_add_explicit(&g->refused_total, 1,
		                          memory_order_relaxed);
		return DP_GATE_FULL;
	}
	atomic_fetch_add_explicit(&g->queued_total, 1, memory_order_relaxed);
	t0 = lb_now_us();
	if (!line_wait(g, &w, timeout_ms, parked, arg)) {
		*waited_us = lb_now_us() - t0;
		atomic_fetch_add_explicit(&g->timeouts_total, 1,
		                          memory_order_relaxed);
		return DP_GATE_TIMEOUT;
	}
	*waited_us = lb_now_us() - t0;
	return DP_GATE_IN;
}

void dp_gate_leave(struct dp_gate *g)
{
	struct dp_gate_waiter *w;
	sem_t *wake = NULL;

	pthread_mutex_lock(&g->mu);
	if ((w = g->head) && g->active <= g->limit) {
		/* The place passes on: active stays as it is. */
		line_unlink(g, w);
		w->admitted = true;
		wake = w->wake; /* the thread's: it outlives w */
	} else {
		g->active--;
	}
	pthread_mutex_unlock(&g->mu);
	if (wake)
		sem_post(wake);
}
void dp_gate_counts(struct dp_gate *g, int *active, int *queued)
{
	pthread_mutex_lock(&g->mu);
	*active = g->active;
	*queued = g->queued;
	pthread_mutex_unlock(&g->mu);
}
