#include "lb_err.h"
#include "lb_name.h"
#include "lb_wire.h"
#include "lbt.h"

/* A snapshot of a 3-replica assignment ring, packed; host2 (when not NULL)
 * is the second replica's address. */
static void *make_snapshot_host(size_t *len, uint32_t corrupt_owner,
                                const char *host2)
{
	struct lb_preset p;
	struct lb_ring *r;
	Lb__Snapshot s = LB__SNAPSHOT__INIT;
	Lb__Preset wp = LB__PRESET__INIT;
	Lb__Replica reps[3], *rp[3];
	char names[3][8];
	uint32_t table[512];
	void *buf;

	LBT_EQ(lb_preset_lookup("assignment", &p), 0);
	LBT_EQ(lb_ring_create(&p, &r), 0);
	for (uint32_t i = 0; i < 3; i++) {
		LBT_EQ(lb_ring_add(r, i + 1, 1), 0);
		lb__replica__init(&reps[i]);
		snprintf(names[i], sizeof(names[i]), "server%u", i + 1);
		reps[i].name = names[i];
		reps[i].server_id = i + 1;
		reps[i].host = i == 1 && host2 ? (char *)host2 : "127.0.0.1";
		reps[i].port = 5001 + i;
		rp[i] = &reps[i];
	}
	memcpy(table, lb_ring_table(r), sizeof(table));
	if (corrupt_owner)
		table[0] = corrupt_owner;
	lb_wire_preset_set(&wp, &p);
	s.boot_id = 0x1234;
	s.version = 7;
	s.preset = &wp;
	s.n_replicas = 3;
	s.replicas = rp;
	s.n_owner = 512;
	s.owner = table;
	LBT_EQ(lb_wire_pack(&s.base, &buf, len), 0);
	lb_ring_destroy(r);
	return buf;
}

static void *make_snapshot(size_t *len, uint32_t corrupt_owner)
{
	return make_snapshot_host(len, corrupt_owner, NULL);
}

/* An address longer than any buffer that keeps one is refused where it
 * enters, not cut. */
static void snapshot_long_host_refused(void)
{
	static char host[LB_HOST_MAX + 2];
	Lb__Snapshot *s;
	char err[128];
	size_t len;
	void *buf;

	memset(host, 'h', LB_HOST_MAX + 1);
	buf = make_snapshot_host(&len, 0, host);
	LBT_EQ(lb_wire_snapshot_unpack(buf, len, &s, err, sizeof(err)),
	       LB_ERR_DECODE);
	free(buf);
	host[LB_HOST_MAX] = '\0'; /* exactly the longest allowed */
	buf = make_snapshot_host(&len, 0, host);
	LBT_EQ(lb_wire_snapshot_unpack(buf, len, &s, err, sizeof(err)), 0);
	lb__snapshot__free_unpacked(s, NULL);
	free(buf);
}

static void snapshot_round_trip(void)
{
	size_t len;
	void *buf = make_snapshot(&len, 0);
	char err[128];
	Lb__Snapshot *s;
	struct lb_ring *r;

	LBT_EQ(lb_wire_snapshot_unpack(buf, len, &s, err, sizeof(err)), 0);
	LBT_EQ(s->version, 7);
	LBT_EQ(s->boot_id, 0x1234);
	LBT_EQ(s->n_replicas, 3);
	LBT_CHECK(strcmp(s->replicas[2]->name, "server3") == 0);
	LBT_EQ(s->replicas[2]->port, 5003);
	LBT_EQ(lb_wire_snapshot_ring(s, &r), 0);
	LBT_EQ(lb_ring_lookup(r, 4, NULL), 1);
	LBT_EQ(lb_ring_table(r)[114], 3);
	lb_ring_destroy(r);
	lb__snapshot__free_unpacked(s, NULL);
	free(buf);
}

static void truncated_snapshot_is_refused(void)
{
	size_t len;
	char err[128];
	Lb__Snapshot *s = NULL;
	unsigned char *buf = make_snapshot(&len, 0);
	for (size_t cut = 0; cut < len; cut += len / 17 + 1)
		LBT_CHECK(lb_wire_snapshot_unpack(buf, cut, &s, err,
		                                  sizeof(err)) != 0);
	free(buf);
}

static void garbage_is_refused(void)
{
	char err[128];
	Lb__Snapshot *s = NULL;
	unsigned char junk[64];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 37 + 11);
	LBT_EQ(
	    lb_wire_snapshot_unpack(junk, sizeof(junk), &s, err, sizeof(err)),
	    LB_ERR_DECODE);
}

static void oversize_is_refused_before_decoding(void)
{
	char err[128];
	Lb__Snapshot *s = NULL;
	Lb__AdminRequest *q = NULL;
	static const unsigned char one = 0;
	LBT_EQ(lb_wire_snapshot_unpack(&one, LB_WIRE_MAX_BYTES + 1, &s, err,
	                               sizeof(err)),
	       LB_ERR_TOOBIG);
	LBT_EQ(lb_wire_request_unpack(&one, LB_WIRE_MAX_BYTES + 1, &q),
	       LB_ERR_TOOBIG);
}

static void unknown_owner_is_refused(void)
{
	size_t len;
	char err[128];
	Lb__Snapshot *s = NULL;
	void *buf = make_snapshot(&len, 99);
	LBT_EQ(lb_wire_snapshot_unpack(buf, len, &s, err, sizeof(err)),
	       LB_ERR_DECODE);
	LBT_CHECK(strstr(err, "unknown server 99") != NULL);
	free(buf);
}

static void admin_request_round_trip(void)
{
	Lb__AdminRequest q = LB__ADMIN_REQUEST__INIT, *out;
	char *names[] = {"S5", "S4"};
	void *buf;
	size_t len;
	q.op = LB__ADMIN_REQUEST__OP__ADD;
	q.request_id = 99;
	q.has_n = 1;
	q.n = 4;
	q.n_hostnames = 2;
	q.hostnames = names;
	LBT_EQ(lb_wire_pack(&q.base, &buf, &len), 0);
	LBT_EQ(lb_wire_request_unpack(buf, len, &out), 0);
	LBT_EQ(out->op, LB__ADMIN_REQUEST__OP__ADD);
	LBT_EQ(out->n, 4);
	LBT_EQ(out->n_hostnames, 2);
	LBT_CHECK(strcmp(out->hostnames[1], "S4") == 0);
	lb__admin_request__free_unpacked(out, NULL);
	free(buf);
}

static const struct lbt_case cases[] = {
    {"snapshot_round_trip", snapshot_round_trip},
    {"truncated_snapshot_is_refused", truncated_snapshot_is_refused},
    {"garbage_is_refused", garbage_is_refused},
    {"oversize_is_refused_before_decoding",
     oversize_is_refused_before_decoding},
    {"unknown_owner_is_refused", unknown_owner_is_refused},
    {"snapshot_long_host_refused", snapshot_long_host_refused},
    {"admin_request_round_trip", admin_request_round_trip},
};
LBT_MAIN(cases)
