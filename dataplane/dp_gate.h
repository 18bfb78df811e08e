/* dp_gate.h - a limit on how many requests do something at once, with a
 * first-in first-out queue for the others (HAProxy's maxconn, maxqueue and
 * timeout queue).
 *
 * Used twice: per replica (exchanges at once = connections in use, so a
 * replica is never asked for more than it can serve), and for the data
 * plane as a whole (requests between their head and the moment they went
 * out to a replica, so that hundreds of client threads take the CPUs in
 * arrival order instead of the scheduler's).
 *
 * Below the limit a request goes through with one uncontended lock and no
 * sleep.  At the limit it waits in line; a leaving request hands its place
 * to the first in line (the count does not drop, so nobody who arrives
 * later can take it first).  A request that waited longer than its timeout
 * leaves the line unserved; a line that is full refuses at once.
 */
#ifndef DP_GATE_H
#define DP_GATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct dp_gate_waiter; /* on the waiting thread's stack */

struct dp_gate {
	pthread_mutex_t mu;
	int limit;     /* at once; 0: no limit (the gate only counts) */
	int max_queue; /* waiting at once; 0: no queue */
	int active;    /* under mu */
	int queued;    /* under mu */
	struct dp_gate_waiter *head, *tail;
	atomic_ullong queued_total;   /* requests that waited */
	atomic_ullong timeouts_total; /* left the line unserved */
	atomic_ullong refused_total;  /* found the line full */
};

enum dp_gate_result {
	DP_GATE_IN,      /* admitted: call dp_gate_leave() when done */
	DP_GATE_FULL,    /* the line was full */
	DP_GATE_TIMEOUT, /* waited timeout_ms in line */
};

void dp_gate_init(struct dp_gate *g, int limit, int max_queue);
void dp_gate_fini(struct dp_gate *g);

/* Admits the caller, or queues it for up to timeout_ms.  *waited_us gets
 * the time spent in line (0 when admitted at once).  When the caller must
 * wait, parked(arg) is called once it is in line, unless NULL (without g's
 * lock). */
enum dp_gate_result dp_gate_enter(struct dp_gate *g, long timeout_ms,
                                  int64_t *waited_us, void (*parked)(void *arg),
                                  void *arg);

/* Leaves: the place goes to the first in line, if any. */
void dp_gate_leave(struct dp_gate *g);

/* Admitted and waiting now (a snapshot, for the metrics). */
void dp_gate_counts(struct dp_gate *g, int *active, int *queued);

#endif
