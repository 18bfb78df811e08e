/* libFuzzer target: the snapshot decoder a data plane runs on every message
 * from the network.  A snapshot it accepts must build a ring whose lookups
 * name only listed replicas, and give every replica a slow-start share in
 * [DP_RAMP_FIRST, 1] whatever its times. */
#include "dp_ramp.h"
#include "lb_err.h"
#include "lb_wire.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Lb__Snapshot *s;
	struct lb_ring *r;
	char err[256];

	if (lb_wire_snapshot_unpack(data, size, &s, err, sizeof(err)) != 0)
		return 0;
	for (size_t i = 0; i < s->n_replicas; i++) {
		uint32_t ramp = s->routing ? s->routing->slow_start_ms : 0;
		double share = dp_ramp_share(
		    s->replicas[i]->up_since_ms,
		    s->replicas[i]->up_since_ms / 2 + (uint64_t)ramp / 3, ramp);
		if (!(share >= DP_RAMP_FIRST && share <= 1.0))
			abort();
	}
	if (lb_wire_snapshot_ring(s, &r) == 0) {
		for (uint64_t key = 100000; key < 100064; key++) {
			uint32_t pos, id = lb_ring_lookup(r, key, &pos);
			size_t i;
			if (id == 0)
				continue;
			for (i = 0; i < s->n_replicas; i++)
				if (s->replicas[i]->server_id == id)
					break;
			if (i == s->n_replicas)
				abort(); /* routed to a server with no address
				          */
			uint32_t skip[1] = {id};
			(void)lb_ring_next_distinct(r, &pos, skip, 1);
		}
		lb_ring_destroy(r);
	}
	lb__snapshot__free_unpacked(s, NULL);
	return 0;
}
