/* lb-microbench: the costs of the moving parts, each measured alone.
 *
 *   lookup       ns per ring lookup (the data plane's hot path)
 *   snapshot     building a snapshot (pack, on the control plane) and
 *                applying it (check + unpack + slot table + route table, on
 *                a data plane), for 10, 100 and 1,000 replicas at 512 and
 *                65,536 slots
 *   propagation  a packed snapshot published on an NNG PUB socket over TCP
 *                loopback until a subscriber thread has unpacked it and built
 *                the ring it routes with (median and p99 of 200)
 *
 * Prints one JSON object (for tools/bench.py) and a readable table on
 * stderr.  Timing only: no test depends on it.
 */
#include "lb_err.h"
#include "lb_ring.h"
#include "lb_time.h"
#include "lb_wire.h"

#include <cjson/cJSON.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t rng(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static struct lb_ring *ring_of(const char *preset, uint32_t slots,
                               uint32_t vnodes, uint32_t n)
{
	struct lb_preset p;
	struct lb_ring *r;
	lb_preset_lookup(preset, &p);
	if (slots)
		p.slots = slots;
	if (vnodes)
		p.vnodes = vnodes;
	if (lb_ring_create(&p, &r) != 0)
		return NULL;
	for (uint32_t i = 1; i <= n; i++) {
		if (lb_ring_add(r, i, 1) != 0) {
			lb_ring_destroy(r);
			return NULL;
		}
	}
	return r;
}

static double bench_lookup(const char *preset, uint32_t n)
{
	enum { KEYS = 1 << 16, ROUNDS = 200 };
	static uint64_t keys[KEYS];
	struct lb_ring *r = ring_of(preset, 0, 0, n);
	uint64_t seed = 1, sink = 0;
	int64_t t0;

	for (int i = 0; i < KEYS; i++)
		keys[i] = 100000 + rng(&seed) % 900000;
	t0 = now_ns();
	for (int k = 0; k < ROUNDS; k++)
		for (int i = 0; i < KEYS; i++)
			sink += lb_ring_lookup(r, keys[i], NULL);
	double ns = (double)(now_ns() - t0) / ((double)KEYS * ROUNDS);
	lb_ring_destroy(r);
	if (sink == 42) /* keeps the loop from being optimised away */
		fprintf(stderr, " ");
	return ns;
}

/* A packed snapshot of ring r with n replicas. */
static int pack_snapshot(struct lb_ring *r, uint32_t n, uint64_t version,
                         void **buf, size_t *len)
{
	Lb__Snapshot s = LB__SNAPSHOT__INIT;
	Lb__Preset wp = LB__PRESET__INIT;
	Lb__Replica *reps = calloc(n, sizeof(*reps));
	Lb__Replica **rp = calloc(n, sizeof(*rp));
	char(*names)[16] = calloc(n, sizeof(*names));
	int rv;

	for (uint32_t i = 0; i < n; i++) {
		lb__replica__init(&reps[i]);
		snprintf(names[i], sizeof(names[i]), "srv-%06u", i + 1);
		reps[i].name = names[i];
		reps[i].server_id = i + 1;
		reps[i].host = "10.1.2.3";
		reps[i].port = 5000;
		rp[i] = &reps[i];
	}
	lb_wire_preset_set(&wp, lb_ring_preset(r));
	s.boot_id = 7;
	s.version = version;
	s.preset = &wp;
	s.n_replicas = n;
	s.replicas = rp;
	s.n_owner = lb_ring_preset(r)->slots;
	s.owner = (uint32_t *)lb_ring_table(r);
	rv = lb_wire_pack(&s.base, buf, len);
	free(reps);
	free(rp);
	free(names);
	return rv;
}

/* The data plane's apply: check + unpack, then the ring and its routes. */
static int apply_snapshot(const void *buf, size_t len, struct lb_ring **out)
{
	char err[128];
	Lb__Snapshot *s;
	int rv = lb_wire_snapshot_unpack(buf, len, &s, err, sizeof(err));
	if (rv != 0)
		return rv;
	rv = lb_wire_snapshot_ring(s, out);
	lb__snapshot__free_unpacked(s, NULL);
	return rv;
}

static cJSON *bench_snapshot(uint32_t slots, uint32_t n)
{
	/* Linear placement with as many virtual servers as fit (at most 9). */
	uint32_t k = slots / n < 9 ? slots / n : 9;
	struct lb_ring *r, *applied;
	cJSON *o = cJSON_CreateObject();
	enum { REPS = 20 };
	int64_t t_pack = 0, t_apply = 0;
	void *buf;
	size_t len = 0;

	cJSON_AddNumberToObject(o, "slots", slots);
	cJSON_AddNumberToObject(o, "replicas", n);
	if (k == 0 || !(r = ring_of("mix", slots, k, n))) {
		cJSON_AddStringToObject(o, "note", "more replicas than slots");
		return o;
	}
	for (int i = 0; i < REPS; i++) {
		int64_t t0 = now_ns();
		pack_snapshot(r, n, (uint64_t)i + 1, &buf, &len);
		int64_t t1 = now_ns();
		apply_snapshot(buf, len, &applied);
		int64_t t2 = now_ns();
		t_pack += t1 - t0;
		t_apply += t2 - t1;
		lb_ring_destroy(applied);
		free(buf);
	}
	cJSON_AddNumberToObject(o, "vnodes", k);
	cJSON_AddNumberToObject(o, "bytes", (double)len);
	cJSON_AddNumberToObject(o, "build_us", (double)t_pack / REPS / 1e3);
	cJSON_AddNumberToObject(o, "apply_us", (double)t_apply / REPS / 1e3);
	lb_ring_destroy(r);
	return o;
}

struct prop {
	nng_socket sub;
	atomic_llong applied_ns; /* when the last ring was ready */
	atomic_int count;
};

static void *prop_subscriber(void *arg)
{
	struct prop *p = arg;
	for (;;) {
		nng_msg *m;
		struct lb_ring *r;
		if (nng_recvmsg(p->sub, &m, 0) != 0)
			return NULL;
		if (apply_snapshot(nng_msg_body(m), nng_msg_len(m), &r) == 0) {
			atomic_store(&p->applied_ns, now_ns());
			lb_ring_destroy(r);
		}
		nng_msg_free(m);
		atomic_fetch_add(&p->count, 1);
	}
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return (x > y) - (x < y);
}

static cJSON *bench_propagation(void)
{
	enum { N = 200 };
	static long long lat[N];
	struct prop p = {0};
	struct lb_ring *r = ring_of("assignment", 0, 0, 10);
	nng_socket pub;
	pthread_t tid;
	char url[64];
	cJSON *o = cJSON_CreateObject();
	int got = 0;

	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d",
	         20000 + (int)(now_ns() % 20000));
	if (nng_pub0_open(&pub) != 0 || nng_listen(pub, url, NULL, 0) != 0 ||
	    nng_sub0_open(&p.sub) != 0 ||
	    nng_socket_set(p.sub, NNG_OPT_SUB_SUBSCRIBE, "", 0) != 0 ||
	    nng_dial(p.sub, url, NULL, 0) != 0) {
		cJSON_AddStringToObject(o, "note", "no NNG sockets");
		return o;
	}
	pthread_create(&tid, NULL, prop_subscriber, &p);
	lb_time_sleep_ms(200); /* the subscription reaches the publisher */
	for (int i = 0; i < N; i++) {
		void *buf;
		size_t len;
		nng_msg *m;
		int before = atomic_load(&p.count);
		int64_t t0 = now_ns();
		pack_snapshot(r, 10, (uint64_t)i + 1, &buf, &len);
		nng_msg_alloc(&m, len);
		memcpy(nng_msg_body(m), buf, len);
		free(buf);
		nng_sendmsg(pub, m, 0);
		while (atomic_load(&p.count) == before &&
		       now_ns() - t0 < 1000000000LL)
			;
		if (atomic_load(&p.count) != before)
			lat[got++] = atomic_load(&p.applied_ns) - t0;
	}
	nng_close(pub);
	nng_close(p.sub);
	pthread_join(tid, NULL);
	lb_ring_destroy(r);
	qsort(lat, (size_t)got, sizeof(lat[0]), cmp_ll);
	cJSON_AddNumberToObject(o, "samples", got);
	if (got) {
		cJSON_AddNumberToObject(o, "median_us",
		                        (double)lat[got / 2] / 1e3);
		cJSON_AddNumberToObject(o, "p99_us",
		                        (double)lat[got * 99 / 100] / 1e3);
	}
	return o;
}

int main(void)
{
	cJSON *root = cJSON_CreateObject(), *look, *snap;
	static const uint32_t counts[] = {10, 100, 1000};
	static const uint32_t slots[] = {512, 65536};
	char *text;

	look = cJSON_AddObjectToObject(root, "lookup_ns");
	cJSON_AddNumberToObject(look, "assignment_n3",
	                        bench_lookup("assignment", 3));
	cJSON_AddNumberToObject(look, "assignment_n50",
	                        bench_lookup("assignment", 50));
	cJSON_AddNumberToObject(look, "maglev_n3", bench_lookup("maglev", 3));
	cJSON_AddNumberToObject(look, "maglev_n1000",
	                        bench_lookup("maglev", 1000));
	snap = cJSON_AddArrayToObject(root, "snapshot");
	for (size_t s = 0; s < 2; s++)
		for (size_t c = 0; c < 3; c++)
			cJSON_AddItemToArray(
			    snap, bench_snapshot(slots[s], counts[c]));
	cJSON_AddItemToObject(root, "propagation", bench_propagation());
	text = cJSON_Print(root);
	printf("%s\n", text);
	cJSON_free(text);
	cJSON_Delete(root);
	return 0;
}
