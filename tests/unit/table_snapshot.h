/* table_snapshot.h - a checked ring snapshot made in memory, as a data
 * plane receives it, for the tests of its routing tables and of the walk
 * over them. */
#ifndef TABLE_SNAPSHOT_H
#define TABLE_SNAPSHOT_H

#include "lb_ring.h"
#include "lb_wire.h"
#include "lbt.h"

#include <stdio.h>
#include <stdlib.h>

/* More than the walk's most tries, so that its bound shows. */
#define TABLE_SNAPSHOT_MAX 24

/* n replicas r1..rn (ids 1..n, listed in reverse: the table sorts them;
 * 127.0.0.1, port 6000 + id; replica 3 at host3 when given) on the `mix`
 * preset, at version v of boot `boot`.  Free with
 * lb__snapshot__free_unpacked(). */
static inline Lb__Snapshot *table_snapshot(uint32_t n, uint64_t v,
                                           uint64_t boot, const char *host3)
{
	struct lb_preset p;
	struct lb_ring *r;
	Lb__Snapshot s = LB__SNAPSHOT__INIT, *out;
	Lb__Preset wp = LB__PRESET__INIT;
	Lb__Replica reps[TABLE_SNAPSHOT_MAX], *rp[TABLE_SNAPSHOT_MAX];
	char names[TABLE_SNAPSHOT_MAX][16], err[128];
	size_t len;
	void *buf;

	LBT_CHECK(n <= TABLE_SNAPSHOT_MAX);
	LBT_EQ(lb_preset_lookup("mix", &p), 0);
	LBT_EQ(lb_ring_create(&p, &r), 0);
	for (uint32_t k = 0; k < n; k++) {
		uint32_t id = n - k;
		LBT_EQ(lb_ring_add(r, id, 1), 0);
		lb__replica__init(&reps[k]);
		snprintf(names[k], sizeof(names[k]), "r%u", id);
		reps[k].name = names[k];
		reps[k].server_id = id;
		reps[k].host = id == 3 && host3 ? (char *)host3 : "127.0.0.1";
		reps[k].port = 6000 + id;
		rp[k] = &reps[k];
	}
	lb_wire_preset_set(&wp, &p);
	s.boot_id = boot;
	s.version = v;
	s.preset = &wp;
	s.n_replicas = n;
	s.replicas = rp;
	s.n_owner = p.slots;
	s.owner = (uint32_t *)lb_ring_table(r);
	LBT_EQ(lb_wire_pack(&s.base, &buf, &len), 0);
	LBT_EQ(lb_wire_snapshot_unpack(buf, len, &out, err, sizeof(err)), 0);
	free(buf);
	lb_ring_destroy(r);
	return out;
}

#endif
