/* dp_ramp.h - slow start (LB_SLOW_START_MS): a replica that just entered
 * the ring takes a share of the keys it owns that grows from 10 % to all
 * of them over the ramp; the rest go where they would go without it (the
 * next replica on the ring).
 *
 * Which keys it takes is fixed per key, not drawn per request: key k goes
 * to the new replica once share >= draw(k), a number in [0, 1) made from
 * k alone.  The share only grows, so a key moves to the new replica once
 * and stays; and a key the new replica does not own at full weight never
 * moves at all.  The ring itself is the final one all along: the ramp
 * costs no snapshots, and every data plane ramps alike (the start time
 * comes with the snapshot, on the wall clock).
 */
#ifndef DP_RAMP_H
#define DP_RAMP_H

#include <stdbool.h>
#include <stdint.h>

#define DP_RAMP_FIRST 0.1 /* the share on entering the ring */

/* The share of its keys a replica that entered the ring at up_since_ms
 * (wall clock; 0: long ago) takes at now_ms, with a ramp of ramp_ms (0:
 * off): DP_RAMP_FIRST growing linearly to 1. */
double dp_ramp_share(uint64_t up_since_ms, uint64_t now_ms, uint32_t ramp_ms);

/* Whether key goes past a replica that takes `share` of its keys. */
bool dp_ramp_passes(uint64_t key, double share);

#endif
