/* lb_ring.h - the consistent-hash ring: a table of slots, each empty or
 * owned by one virtual server of one replica.
 *
 * A request key goes to the first occupied slot clockwise from
 * H(key) mod slots (its own slot included, wrapping).  Lookups cost O(1):
 * route[] maps every slot to the occupied slot that serves it, rebuilt after
 * each change (O(slots), done by the control plane or once per snapshot).
 *
 * A ring is not locked: the control plane changes it under its own state
 * lock; a data plane builds one from a snapshot and never changes it, so any
 * number of threads may look up in it at once.
 */
#ifndef LB_RING_H
#define LB_RING_H

#include "lb_preset.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lb_ring;

/* Makes an empty ring for preset p (checked with lb_preset_check()).
 * Returns 0 and *out owned (free with lb_ring_destroy()), LB_ERR_INVAL or
 * LB_ERR_NOMEM. */
int lb_ring_create(const struct lb_preset *p, struct lb_ring **out);

/* Makes a ring whose slot table is a copy of owner[0..n) (server id per
 * slot, 0 = empty), as a snapshot carries it.  n must equal p->slots.
 * Borrows owner.  Returns 0, LB_ERR_INVAL or LB_ERR_NOMEM. */
int lb_ring_from_table(const struct lb_preset *p, const uint32_t *owner,
                       size_t n, struct lb_ring **out);

/* Accepts NULL. */
void lb_ring_destroy(struct lb_ring *r);

/* A replica's weight scales its share of the slots: K x weight virtual
 * servers with linear placement, weight claims a turn with Maglev. */
#define LB_WEIGHT_MAX 100

/* Places the virtual servers of replica server_id (>= 1) with weight
 * 1..LB_WEIGHT_MAX.  Nothing changes on failure.  Returns 0, LB_ERR_INVAL
 * (id 0, a weight out of range), LB_ERR_EXISTS, LB_ERR_FULL (no free slot
 * left) or LB_ERR_NOMEM. */
int lb_ring_add(struct lb_ring *r, uint32_t server_id, uint32_t weight);

/* Frees the slots of server_id.  With linear placement no other replica's
 * slot moves, so only the removed replica's keys move.  Returns 0 or
 * LB_ERR_NOTFOUND. */
int lb_ring_remove(struct lb_ring *r, uint32_t server_id);

/* The server id that serves key, 0 when the ring is empty.  When pos is not
 * NULL it receives the serving slot, the start of a failover walk. */
uint32_t lb_ring_lookup(const struct lb_ring *r, uint64_t key, uint32_t *pos);

/* Walks clockwise from slot *pos (exclusive) to the first virtual server
 * whose replica is not in skip[0..nskip), updates *pos and returns its id;
 * 0 when every replica is in skip.  Allocates nothing. */
uint32_t lb_ring_next_distinct(const struct lb_ring *r, uint32_t *pos,
                               const uint32_t *skip, size_t nskip);

/* The slot a key hashes to, before the clockwise walk. */
uint32_t lb_ring_slot_of(const struct lb_ring *r, uint64_t key);

/* The slot table, preset.slots entries; borrowed, valid until the next
 * change. */
const uint32_t *lb_ring_table(const struct lb_ring *r);
const struct lb_preset *lb_ring_preset(const struct lb_ring *r);

/* Whether n more replicas of weight w would find room: linear placement
 * needs K x w free slots each; Maglev one slot each. */
bool lb_ring_fits(const struct lb_ring *r, size_t n, uint32_t weight);

/* Replicas in the ring, in the order they were added. */
size_t lb_ring_count(const struct lb_ring *r);
uint32_t lb_ring_member(const struct lb_ring *r, size_t i);
bool lb_ring_has(const struct lb_ring *r, uint32_t server_id);

#endif
