/* cp_state.h - what the control plane owns: the managed replicas in join
 * order, the ring, the snapshot version.
 *
 * Every function takes the state lock itself; none blocks on I/O while
 * holding it.  Changes that must happen together (validation, then a
 * change) are serialised one level up by the orchestration lock in
 * struct cp (cp.h).  Each change bumps the version and wakes the publisher.
 */
#ifndef CP_STATE_H
#define CP_STATE_H

#include "cp_events.h"
#include "lb_key.h"
#include "lb_name.h"
#include "lb_preset.h"
#include "lb_prom.h"
#include "lb_ring.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cp_death_cause {
	CP_DEATH_EXITED,
	CP_DEATH_HEARTBEAT,
	CP_DEATH_OTHER,
	CP_DEATH_CAUSES /* their number */
};
/* Their names (the metric's label, and the `why` of a death that counts as
 * that cause), by cause, NULL-terminated. */
extern const char *const cp_death_names[];

enum cp_rstate {
	CP_R_STARTING, /* a replacement or initial replica, not in the ring */
	CP_R_UP,       /* in the ring, taking traffic */
	CP_R_DOWN,     /* static backend failing its checks: listed, out of
	                  the ring, probed until it rises again */
};

struct cp_replica {
	char name[LB_NAME_MAX + 1];
	uint32_t id;
	enum cp_rstate st;
	bool spawned;               /* the driver has started it */
	char host[LB_HOST_MAX + 1]; /* checked where it enters */
	uint16_t port;
	int fails;       /* failed heartbeats in a row */
	int rises;       /* good checks in a row while DOWN */
	int64_t died_us; /* a replacement: when its predecessor died (0: not) */
	uint32_t weight; /* its share: 1..LB_WEIGHT_MAX (0 is read as 1) */
	uint64_t up_since_ms; /* wall clock: when it last entered the ring */
};

/* r's weight, 0 read as 1: a replica made without one weighs 1. */
static inline uint32_t cp_replica_weight(const struct cp_replica *r)
{
	return r->weight ? r->weight : 1;
}

/* A name on a list: a replica that died or was replaced, to be stopped
 * and deleted by the repair thread (a grave), or one that an /add in
 * progress has taken. */
struct cp_name {
	char name[LB_NAME_MAX + 1];
};

struct cp_state {
	pthread_mutex_t mu;
	pthread_cond_t changed; /* version grew, or work for repair appeared */
	struct cp_replica *v;   /* managed replicas, in join order */
	size_t n, cap;
	struct cp_name *graves;
	size_t ngraves, gravecap;
	struct cp_name *taken; /* by adds in progress */
	size_t ntaken, takencap;
	uint32_t next_id; /* ids are never reused */
	struct lb_ring *ring;
	struct lb_routing routing;
	bool respawn; /* a dead replica is replaced (false: static backends) */
	struct cp_events events; /* for the dashboard */
	/* Counted here, where deaths and promotions happen. */
	atomic_ullong deaths[CP_DEATH_CAUSES];
	atomic_ullong replacements;
	struct lb_histo replacement_time; /* death to serving */
	uint64_t boot_id;
	uint64_t version;
	bool stopping;
};

/* routing (NULL: request ids, no bounded loads) travels in every snapshot.
 * Returns 0, LB_ERR_INVAL (preset) or LB_ERR_NOMEM. */
int cp_state_init(struct cp_state *s, const struct lb_preset *p,
                  const struct lb_routing *routing);
void cp_state_fini(struct cp_state *s);

/* Copies the managed replicas (in join order) to *out (free()). */
int cp_state_copy(struct cp_state *s, struct cp_replica **out, size_t *n);

/* True when name is a managed replica. */
bool cp_state_has(struct cp_state *s, const char *name);
size_t cp_state_count(struct cp_state *s);
/* Replicas up (in the ring); *n gets all of them. */
size_t cp_state_count_up(struct cp_state *s, size_t *n);

/* An /add starts its replicas without holding any lock, so the names it
 * will add are taken first: no other add may take them, and they count
 * towards the maximum, until cp_state_add_up() adds them or
 * cp_state_give_back() returns them.  Fails with LB_ERR_EXISTS, nothing
 * taken, when a name is managed or taken already. */
int cp_state_take_names(struct cp_state *s, const struct cp_replica *r,
                        size_t n);
void cp_state_give_back(struct cp_state *s, const struct cp_replica *r,
                        size_t n);

/* True when name is managed or taken by an add in progress. */
bool cp_state_name_used(struct cp_state *s, const char *name);

/* Managed replicas plus names taken by adds in progress. */
size_t cp_state_count_with_taken(struct cp_state *s);

/* Whether n more replicas of weight w find room in the ring now. */
bool cp_state_ring_fits(struct cp_state *s, size_t n, uint32_t weight);

/* Reserves the next n server ids; returns the first. */
uint32_t cp_state_reserve_ids(struct cp_state *s, uint32_t n);

/* Makes sure ids below `id` are never handed out (adoption). */
void cp_state_bump_next_id(struct cp_state *s, uint32_t id);

/* Appends replicas that answered their first heartbeat: UP and in the ring,
 * all in one version; names they had taken are released.  Returns 0, or an
 * error with nothing changed. */
int cp_state_add_up(struct cp_state *s, const struct cp_replica *r, size_t n);

/* Static backends: a dead one is not replaced, it goes DOWN (out of the
 * ring, still listed) and comes back after `rise` good checks.  Call once
 * before threads start. */
void cp_state_no_respawn(struct cp_state *s);

/* Appends static backends that failed their first check: DOWN. */
int cp_state_add_down(struct cp_state *s, const struct cp_replica *r, size_t n);

/* Appends replicas to be started by the repair thread (initial ones). */
int cp_state_add_starting(struct cp_state *s, const struct cp_replica *r,
                          size_t n);

/* Takes the named replicas out of the ring and the list, in one version.
 * Fills removed[i] with replica i as it was (an empty name when it was
 * not there), so the caller can drain and stop it. */
int cp_state_remove(struct cp_state *s, char names[][LB_NAME_MAX + 1], size_t n,
                    struct cp_replica *removed);

/* A replica is dead (why: "exited", "heartbeat", ...): it leaves the ring
 * at once and a replacement with a new random name and id takes its place
 * at the end of the list (N stays).  A STARTING one only goes back to "not
 * spawned".  With nothing to respawn (static backends, see
 * cp_state_no_respawn) it stays listed, DOWN, until it rises again.
 * Returns true when something changed. */
bool cp_state_mark_dead(struct cp_state *s, const char *name, const char *why);

/* A STARTING replica runs at host:port and answered: UP and into the
 * ring (a replacement's time from its predecessor's death is recorded).
 * Returns 0 or LB_ERR_NOTFOUND (it was removed meanwhile). */
int cp_state_promote(struct cp_state *s, const char *name, const char *host,
                     uint16_t port);

/* Records the outcome of a heartbeat: for an UP replica, returns true when
 * the failures in a row reached threshold (the caller marks it dead); a
 * DOWN one goes back UP, into the ring, after `rise` good ones in a row. */
bool cp_state_heartbeat(struct cp_state *s, const char *name, bool ok,
                        int threshold, int rise);

/* Records a replica to be stopped and deleted by the repair thread (a
 * stop that failed, say while the engine was down). */
void cp_state_bury(struct cp_state *s, const char *name);

/* True when `name` waits to be deleted: it must not be started again
 * before that (the old container still holds the name). */
bool cp_state_grave_pending(struct cp_state *s, const char *name);

/* Copies the names waiting to be deleted.  They stay until
 * cp_state_unbury(): a name is taken until its old copy is gone.  *out
 * owned (free()); 0 with *out NULL when none, or out of memory. */
size_t cp_state_copy_graves(struct cp_state *s, struct cp_name **out);

/* `name` was deleted: it may be used again. */
void cp_state_unbury(struct cp_state *s, const char *name);

/* Packs the current snapshot.  *buf owned (free()).  *version receives its
 * version. */
int cp_state_pack_snapshot(struct cp_state *s, void **buf, size_t *len,
                           uint64_t *version);

/* The current snapshot version. */
uint64_t cp_state_version(struct cp_state *s);

/* Blocks until the version differs from `seen`, timeout_ms passes, or the
 * state is stopping.  Returns the current version. */
uint64_t cp_state_wait_change(struct cp_state *s, uint64_t seen,
                              long long timeout_ms);

/* Wakes every waiter for shutdown. */
void cp_state_stop(struct cp_state *s);

#endif
