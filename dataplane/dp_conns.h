/* dp_conns.h - the client connections of the data plane's port: how many
 * workers they hold, and how many each client address holds.
 *
 * civetweb serves each connection on a worker thread of its own, from the
 * moment a worker takes it until it closes, idle keep-alive waits
 * included.  So "connections open" is "workers busy", and a client that
 * holds many connections holds as many workers.  Two policies follow:
 *
 * - a cap per client address (LB_MAX_CONNS_PER_IP): a connection whose
 *   first request arrives while its address already holds the cap is
 *   answered 503 and closed at once (civetweb 1.15 offers no hook at accept
 *   time, and a worker cannot tell the address before a request head has
 *   arrived: a connection that never completes a head is bounded by the
 *   head timeout instead);
 * - when fewer than a quarter of the workers are free, answers close their
 *   connections instead of keeping them idle: idle keep-alive connections
 *   give their workers back first.
 *
 * Each worker serves one connection at a time, so the per-connection state
 * is the worker thread's own.
 */
#ifndef DP_CONNS_H
#define DP_CONNS_H

#include <civetweb.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct dp_conns_slot {
	uint32_t ip; /* IPv4, network order; 0: empty */
	int n;
};

struct dp_conns {
	int threads;    /* civetweb workers */
	int max_per_ip; /* 0: no cap */
	atomic_int busy;
	atomic_ullong refused; /* connections refused over the cap */
	atomic_llong last_refusal_log_ms;
	pthread_mutex_t mu;        /* the table */
	struct dp_conns_slot *tab; /* open addressing, 2 x threads slots */
	uint32_t mask;
};

/* Returns 0 or LB_ERR_NOMEM. */
int dp_conns_init(struct dp_conns *k, int threads, int max_per_ip);
void dp_conns_fini(struct dp_conns *k);

/* A worker took a new connection / the connection ended (civetweb's
 * init_connection and connection_close, on the worker thread). */
void dp_conns_open(struct dp_conns *k);
void dp_conns_close(struct dp_conns *k);

/* Called as each request begins: counts the connection against its
 * address on its first request.  Returns false when the address is over
 * the cap: the caller answers 503 and closes. */
bool dp_conns_admit(struct dp_conns *k, struct mg_connection *c);

/* True when few workers are free: answers should close their
 * connections. */
bool dp_conns_short(struct dp_conns *k);

#endif
