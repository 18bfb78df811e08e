#include "dp_ramp.h"

#include "lb_hash.h"

double dp_ramp_share(uint64_t up_since_ms, uint64_t now_ms, uint32_t ramp_ms)
{
	uint64_t elapsed;

	if (ramp_ms == 0 || up_since_ms == 0)
		return 1.0;
	/* A data plane whose clock runs behind the control plane's sees the
	 * ramp begin a little later, never a negative share. */
	elapsed = now_ms > up_since_ms ? now_ms - up_since_ms : 0;
	if (elapsed >= ramp_ms)
		return 1.0;
	return DP_RAMP_FIRST +
	       (1.0 - DP_RAMP_FIRST) * (double)elapsed / (double)ramp_ms;
}

bool dp_ramp_passes(uint64_t key, double share)
{
	/* A draw in [0, 1) from the key alone, apart from the ring's own
	 * hash of it (another seed). */
	uint64_t h = lb_hash_mix64(key ^ 0x94d049bb133111ebULL);
	double draw = (double)(h >> 11) * 0x1.0p-53;

	return share < 1.0 && draw >= share;
}
