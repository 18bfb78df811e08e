/* The admin operations (cp_ops): every rule of /add and /rm, each refusal
 * with its message and nothing changed, and the undo of an /add that
 * fails half way.  Driven through the fake driver: nothing runs. */
#include "cp_fake_driver.h"
#include "cp_ops.h"
#include "lb_buf.h"
#include "lb_name.h"
#include "lbt.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>

#define ADD    LB__ADMIN_REQUEST__OP__ADD
#define RM     LB__ADMIN_REQUEST__OP__REMOVE
#define LIST   LB__ADMIN_REQUEST__OP__LIST
#define STATUS LB__ADMIN_REQUEST__OP__STATUS
#define NONE   LLONG_MIN /* n or weight absent from the request */
#define START  CP_FAKE_START
#define STOP   CP_FAKE_STOP

static struct cp cp; /* static for its size */
static struct cp_fake_driver *fd;

static void setup(void)
{
	cp_fake_driver_cp_init(&cp, &fd);
}

static void teardown(void)
{
	LBT_EQ(fd->anomalies, 0); /* never two replicas of one name */
	cp_fake_driver_cp_fini(&cp);
}

/* Switches to another preset while the state is still empty. */
static void use_preset(const char *name)
{
	cp_state_fini(&cp.state);
	LBT_EQ(lb_preset_lookup(name, &cp.cfg.preset), 0);
	LBT_EQ(cp_state_init(&cp.state, &cp.cfg.preset, NULL), 0);
}

/* What an operation answered. */
struct answer {
	unsigned status;
	char error[512];
	char list[1024]; /* the replicas listed, joined by spaces */
	size_t n;
};

static void ask_v(struct answer *a, int op, long long n, long long weight,
                  const char *const *names, size_t nn)
{
	Lb__AdminRequest req = LB__ADMIN_REQUEST__INIT;
	Lb__AdminReply reply = LB__ADMIN_REPLY__INIT;
	char *hv[16];
	struct lb_buf b;

	LBT_CHECK(nn <= 16);
	for (size_t i = 0; i < nn; i++)
		hv[i] = (char *)names[i]; /* read only */
	req.op = (Lb__AdminRequest__Op)op;
	req.has_n = n != NONE;
	req.n = n != NONE ? (uint64_t)n : 0; /* -1: the largest */
	req.has_weight = weight != NONE;
	req.weight = weight != NONE ? (uint32_t)weight : 0;
	req.n_hostnames = nn;
	req.hostnames = hv;
	cp_ops_handle(&cp, &req, &reply);
	memset(a, 0, sizeof(*a));
	a->status = reply.status;
	snprintf(a->error, sizeof(a->error), "%s",
	         reply.error ? reply.error : "");
	lb_buf_init(&b, a->list, sizeof(a->list));
	for (size_t i = 0; i < reply.n_replicas; i++)
		lb_buf_printf(&b, "%s%s", i ? " " : "", reply.replicas[i]);
	LBT_CHECK(!b.cut);
	a->n = reply.n_replicas;
	cp_ops_reply_fini(&reply);
}

/* Names as one string, split at spaces ("" for none). */
static struct answer ask(int op, long long n, long long weight,
                         const char *names)
{
	char buf[512], *save = NULL;
	const char *v[16];
	struct answer a;
	size_t nn = 0;

	snprintf(buf, sizeof(buf), "%s", names);
	for (char *t = strtok_r(buf, " ", &save); t && nn < 16;
	     t = strtok_r(NULL, " ", &save))
		v[nn++] = t;
	ask_v(&a, op, n, weight, v, nn);
	return a;
}

static void add_ok(long long n, const char *names)
{
	struct answer a = ask(ADD, n, NONE, names);
	if (a.status != 200)
		fprintf(stderr, "add %s: %u %s\n", names, a.status, a.error);
	LBT_EQ(a.status, 200);
}

/* Everything a refused or undone operation must leave as it was. */
struct view {
	char list[2048]; /* name:id:state:weight, in join order */
	uint64_t ring;   /* a hash of the ring's owner table */
	size_t ring_n;
	uint64_t version; /* a new one is published */
	size_t with_taken, draining, graves, nrun;
	uint32_t next_id;
};

static void view(struct view *v)
{
	const struct lb_preset *p;
	const uint32_t *owner;
	struct cp_draining *dv;
	struct cp_replica *r;
	struct lb_buf b;
	size_t n;

	memset(v, 0, sizeof(*v));
	LBT_EQ(cp_state_copy(&cp.state, &r, &n), 0);
	lb_buf_init(&b, v->list, sizeof(v->list));
	for (size_t i = 0; i < n; i++)
		lb_buf_printf(&b, "%s:%u:%d:%u ", r[i].name, r[i].id,
		              (int)r[i].st, r[i].weight);
	LBT_CHECK(!b.cut);
	free(r);
	/* Under the state's lock: an /add may run on another thread. */
	pthread_mutex_lock(&cp.state.mu);
	p = lb_ring_preset(cp.state.ring);
	owner = lb_ring_table(cp.state.ring);
	v->ring = 1469598103934665603ULL;
	for (uint32_t s = 0; s < p->slots; s++)
		v->ring = (v->ring ^ owner[s]) * 1099511628211ULL;
	v->ring_n = lb_ring_count(cp.state.ring);
	v->graves = cp.state.ngraves;
	v->next_id = cp.state.next_id;
	pthread_mutex_unlock(&cp.state.mu);
	v->version = cp_state_version(&cp.state);
	v->with_taken = cp_state_count_with_taken(&cp.state);
	LBT_EQ(cp_drain_copy(&cp.drain, &dv, &v->draining), 0);
	free(dv);
	v->nrun = cp_fake_driver_nrun(fd);
}

/* b shows the same replicas, ring and version as a; ids too unless an
 * undone /add used some (ids are never handed out twice). */
static void same(const struct view *a, const struct view *b, bool ids)
{
	if (strcmp(a->list, b->list) != 0)
		fprintf(stderr, "was: %s\nnow: %s\n", a->list, b->list);
	LBT_CHECK(strcmp(a->list, b->list) == 0);
	LBT_CHECK(a->ring == b->ring);
	LBT_EQ(a->ring_n, b->ring_n);
	LBT_EQ(a->version, b->version);
	LBT_EQ(a->with_taken, b->with_taken);
	LBT_EQ(a->draining, b->draining);
	LBT_EQ(a->graves, b->graves);
	LBT_EQ(a->nrun, b->nrun);
	if (ids)
		LBT_EQ(a->next_id, b->next_id);
}

/* The operation is refused with 400 and msg, and changes nothing: not the
 * state, not the ring, no version, no driver call. */
static void refused_v(int op, long long n, long long weight,
                      const char *const *names, size_t nn, const char *msg)
{
	size_t starts = cp_fake_driver_calls(fd, START, NULL, false);
	size_t stops = cp_fake_driver_calls(fd, STOP, NULL, false);
	char want[512];
	struct view a, b;
	struct answer ans;

	snprintf(want, sizeof(want), "<Error> %s", msg);
	view(&a);
	ask_v(&ans, op, n, weight, names, nn);
	if (ans.status != 400 || strcmp(ans.error, want) != 0)
		fprintf(stderr, "got:  %u %s\nwant: 400 %s\n", ans.status,
		        ans.error, want);
	LBT_EQ(ans.status, 400);
	LBT_CHECK(strcmp(ans.error, want) == 0);
	LBT_EQ(ans.n, 0);
	view(&b);
	same(&a, &b, true);
	LBT_EQ(cp_fake_driver_calls(fd, START, NULL, false), starts);
	LBT_EQ(cp_fake_driver_calls(fd, STOP, NULL, false), stops);
}

static void refused(int op, long long n, long long weight, const char *names,
                    const char *msg)
{
	char buf[512], *save = NULL;
	const char *v[16];
	size_t nn = 0;

	snprintf(buf, sizeof(buf), "%s", names);
	for (char *t = strtok_r(buf, " ", &save); t && nn < 16;
	     t = strtok_r(NULL, " ", &save))
		v[nn++] = t;
	refused_v(op, n, weight, v, nn, msg);
}

/* The replica named so, copied out (false when not managed). */
static bool replica(const char *name, struct cp_replica *out)
{
	struct cp_replica *v;
	bool found = false;
	size_t n;

	LBT_EQ(cp_state_copy(&cp.state, &v, &n), 0);
	for (size_t i = 0; i < n && !found; i++)
		if (strcmp(v[i].name, name) == 0) {
			*out = v[i];
			found = true;
		}
	free(v);
	return found;
}

static void test_n_must_be_at_least_1(void)
{
	static const char *const msg = "'n' must be an integer of at least 1";

	setup();
	add_ok(2, "s1 s2");
	refused(ADD, NONE, NONE, "", msg);
	refused(ADD, 0, NONE, "", msg);
	refused(ADD, NONE, NONE, "s3", msg);
	refused(RM, NONE, NONE, "", msg);
	refused(RM, 0, NONE, "s1", msg);
	teardown();
}

static void test_no_more_names_than_n(void)
{
	setup();
	add_ok(3, "s1 s2 s3");
	refused(ADD, 1, NONE, "a b",
	        "Length of hostname list is more than newly added instances");
	refused(ADD, 2, NONE, "a b c",
	        "Length of hostname list is more than newly added instances");
	refused(RM, 1, NONE, "s1 s2",
	        "Length of hostname list is more than removable instances");
	teardown();
}

static void test_add_refuses_invalid_names(void)
{
	static const char *const rule =
	    "is not a valid replica name (^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$)";
	static const char *const bad[] = {"-lead", ".lead", "_lead", "a b",
	                                  "x/y",   "a:b",   "a=b",   "é"};
	char long64[65], long100[101], msg[256];

	setup();
	add_ok(1, "s1");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *one[1] = {bad[i]};
		/* "é" is refused earlier, as a byte outside ASCII. */
		if ((unsigned char)bad[i][0] >= 0x80)
			continue;
		snprintf(msg, sizeof(msg), "'%s' %s", bad[i], rule);
		refused_v(ADD, 1, NONE, one, 1, msg);
	}
	/* The empty name, and one past LB_NAME_MAX: its echo is cut. */
	{
		const char *one[1] = {""};
		snprintf(msg, sizeof(msg), "'' %s", rule);
		refused_v(ADD, 1, NONE, one, 1, msg);
	}
	memset(long64, 'a', 64);
	long64[64] = '\0';
	snprintf(msg, sizeof(msg), "'%s' %s", long64, rule);
	refused(ADD, 1, NONE, long64, msg);
	memset(long100, 'b', 100);
	long100[100] = '\0';
	snprintf(msg, sizeof(msg), "'%.64s' %s", long100, rule);
	refused(ADD, 1, NONE, long100, msg);
	/* A bad name after a good one: the good one is not taken either. */
	snprintf(msg, sizeof(msg), "'a b' %s", rule);
	{
		const char *two[2] = {"good", "a b"};
		refused_v(ADD, 2, NONE, two, 2, msg);
	}
	LBT_CHECK(!cp_state_name_used(&cp.state, "good"));
	/* LB_NAME_MAX characters is still a name. */
	long64[63] = '\0';
	add_ok(1, long64);
	teardown();
}

static void test_control_characters_are_refused_unechoed(void)
{
	static const char *const tail =
	    "holds a control character or a byte outside printable ASCII: "
	    "not a valid replica name";
	const char *nl[2] = {"ok1", "a\nb"};
	const char *del[1] = {"a\x7f"};
	const char *high[1] = {"caf\xc3\xa9"};
	char msg[256];

	setup();
	add_ok(2, "s1 s2");
	snprintf(msg, sizeof(msg), "Hostname 2 %s", tail);
	refused_v(ADD, 2, NONE, nl, 2, msg);
	refused_v(RM, 2, NONE, nl, 2, msg);
	snprintf(msg, sizeof(msg), "Hostname 1 %s", tail);
	refused_v(ADD, 1, NONE, del, 1, msg);
	refused_v(ADD, 1, NONE, high, 1, msg);
	teardown();
}

static void test_add_refuses_a_name_listed_twice(void)
{
	setup();
	refused(ADD, 2, NONE, "a a", "Hostname 'a' is listed twice");
	refused(ADD, 4, NONE, "a b c b", "Hostname 'b' is listed twice");
	teardown();
}

static void test_add_refuses_existing_names(void)
{
	setup();
	add_ok(2, "s1 s2");
	refused(ADD, 1, NONE, "s2", "Replica 's2' already exists");
	refused(ADD, 3, NONE, "new1 s1", "Replica 's1' already exists");
	LBT_CHECK(!cp_state_name_used(&cp.state, "new1"));
	teardown();
}

static void test_add_refuses_names_still_draining(void)
{
	struct answer a;

	setup();
	add_ok(2, "s1 s2");
	a = ask(RM, 1, NONE, "s1");
	LBT_EQ(a.status, 200);
	LBT_CHECK(strcmp(a.list, "s2") == 0);
	LBT_CHECK(cp_drain_has(&cp.drain, "s1"));
	/* Not managed any more, but not stopped yet: still taken. */
	refused(ADD, 1, NONE, "s1", "Replica 's1' already exists");
	teardown();
}

/* An /add whose first start the driver holds, on a thread of its own. */
struct slow_add {
	struct answer a;
	const char *names;
	long long n;
	pthread_t tid;
};

static void *slow_add_thread(void *arg)
{
	struct slow_add *s = arg;
	s->a = ask(ADD, s->n, NONE, s->names);
	return NULL;
}

static void test_add_in_progress_holds_its_names(void)
{
	struct slow_add s = {.names = "a b", .n = 2};
	struct view before, during;
	struct answer a;

	setup();
	add_ok(2, "s1 s2");
	view(&before);
	cp_fake_driver_rule(fd, START, NULL, 1, CP_FAKE_HOLD);
	LBT_EQ(pthread_create(&s.tid, NULL, slow_add_thread, &s), 0);
	LBT_CHECK(cp_fake_driver_wait_calls(fd, START, NULL, false, 3, 5000));
	/* While it starts: no lock is held (these answer), its names are
	 * taken and count towards the maximum, and nothing half-made is
	 * visible: not listed, not in the ring, no new version. */
	view(&during);
	LBT_CHECK(strcmp(during.list, before.list) == 0);
	LBT_CHECK(during.ring == before.ring);
	LBT_EQ(during.version, before.version);
	LBT_EQ(during.with_taken, 4);
	a = ask(LIST, NONE, NONE, "");
	LBT_EQ(a.status, 200);
	LBT_CHECK(strcmp(a.list, "s1 s2") == 0);
	refused(ADD, 1, NONE, "b", "Replica 'b' already exists");
	refused(RM, 1, NONE, "a", "Replica 'a' does not exist");
	refused(ADD, 7, NONE, "",
	        "Adding 7 replicas to 4 would pass the maximum of 10 "
	        "replicas");
	cp_fake_driver_release(fd);
	LBT_EQ(pthread_join(s.tid, NULL), 0);
	LBT_EQ(s.a.status, 200);
	LBT_CHECK(strcmp(s.a.list, "s1 s2 a b") == 0);
	LBT_EQ(cp_state_count_with_taken(&cp.state), 4);
	teardown();
}

static void test_add_respects_the_maximum(void)
{
	setup();
	refused(ADD, 11, NONE, "",
	        "Adding 11 replicas to 0 would pass the maximum of 10 "
	        "replicas");
	/* No overflow of have + n. */
	refused(ADD, 0x7fffffffffffffffLL, NONE, "",
	        "Adding 9223372036854775807 replicas to 0 would pass the "
	        "maximum of 10 replicas");
	add_ok(8, "");
	refused(ADD, -1, NONE, "",
	        "Adding 18446744073709551615 replicas to 8 would pass the "
	        "maximum of 10 replicas");
	refused(ADD, 3, NONE, "x",
	        "Adding 3 replicas to 8 would pass the maximum of 10 "
	        "replicas");
	add_ok(2, ""); /* up to the maximum itself */
	LBT_EQ(cp_state_count(&cp.state), 10);
	refused(ADD, 1, NONE, "",
	        "Adding 1 replicas to 10 would pass the maximum of 10 "
	        "replicas");
	teardown();
}

static void test_weight_must_be_1_to_100(void)
{
	struct cp_replica r;
	struct answer a;

	setup();
	use_preset("maglev"); /* room for any weight */
	refused(ADD, 1, 0, "w0", "'weight' must be 1..100");
	refused(ADD, 1, 101, "w101", "'weight' must be 1..100");
	refused(ADD, 1, 0xffffffffLL, "w", "'weight' must be 1..100");
	a = ask(ADD, 1, 1, "w1");
	LBT_EQ(a.status, 200);
	a = ask(ADD, 2, 100, "w100");
	LBT_EQ(a.status, 200);
	add_ok(1, "plain");
	LBT_CHECK(replica("w1", &r) && r.weight == 1);
	LBT_CHECK(replica("w100", &r) && r.weight == 100);
	LBT_CHECK(replica("plain", &r) && cp_replica_weight(&r) == 1);
	/* The driver records it, where adoption finds it again. */
	{
		long i = cp_fake_driver_call_index(fd, START, "w100", true, 1);
		LBT_CHECK(i >= 0);
		LBT_EQ(cp_fake_driver_call(fd, (size_t)i).weight, 100);
	}
	teardown();
}

static void test_add_refuses_weights_the_ring_cannot_hold(void)
{
	setup();
	/* "assignment": 512 slots, 9 per unit of weight. */
	refused(ADD, 2, 30, "",
	        "2 replicas of weight 30 do not fit in the ring's 512 slots "
	        "(9 virtual servers per unit of weight): lower the weight, "
	        "or raise LB_SLOTS");
	refused(ADD, 1, 57, "",
	        "1 replicas of weight 57 do not fit in the ring's 512 slots "
	        "(9 virtual servers per unit of weight): lower the weight, "
	        "or raise LB_SLOTS");
	LBT_EQ(ask(ADD, 1, 56, "big").status, 200); /* 504 slots */
	refused(ADD, 1, NONE, "",
	        "1 replicas of weight 1 do not fit in the ring's 512 slots "
	        "(9 virtual servers per unit of weight): lower the weight, "
	        "or raise LB_SLOTS");
	teardown();
}

/* Swarm's rule: service names are DNS labels. */
static bool no_underscore(const char *name, char *why, size_t len)
{
	if (!strchr(name, '_'))
		return true;
	snprintf(why, len, "is not a DNS label");
	return false;
}

static void test_add_refuses_names_the_engine_refuses(void)
{
	setup();
	fd->ops.name_ok = no_underscore;
	refused(ADD, 2, NONE, "ok a_b", "'a_b' is not a DNS label");
	add_ok(1, "a-b");
	teardown();
}

static void test_static_driver_needs_name_host_port(void)
{
	struct cp_replica r;

	setup();
	fd->ops.given_addresses = true;
	cp_state_no_respawn(&cp.state);
	refused(ADD, 2, NONE, "b1=10.0.0.1:80",
	        "The static driver needs one name=host:port per new backend: "
	        "'n' must equal the list's length");
	refused(ADD, 1, NONE, "b1", "'b1' is not name=host:port");
	refused(ADD, 1, NONE, "b1=10.0.0.1:80@5",
	        "'b1=10.0.0.1:80@5': no weight here (give it apart)");
	refused(ADD, 1, NONE, "-b=10.0.0.1:80",
	        "'-b=10.0.0.1:80': '-b' is not a valid name");
	refused(ADD, 1, NONE, "b1=10.0.0.1:0",
	        "'b1=10.0.0.1:0': the port must be 1..65535");
	refused(ADD, 2, NONE, "b1=10.0.0.1:80 b1=10.0.0.2:80",
	        "Hostname 'b1' is listed twice");
	LBT_EQ(
	    ask(ADD, 2, NONE, "b1=10.0.0.1:80 b2=backend.example:8080").status,
	    200);
	LBT_CHECK(replica("b2", &r));
	LBT_CHECK(strcmp(r.host, "backend.example") == 0 && r.port == 8080);
	refused(ADD, 1, NONE, "b1=10.0.0.9:81", "Replica 'b1' already exists");
	teardown();
}

static void test_add_starts_and_joins_the_ring_in_one_version(void)
{
	struct view before, after;
	struct cp_event ev[CP_EVENTS_MAX];
	struct cp_replica r;
	struct answer a;
	size_t ne;

	setup();
	add_ok(1, "s1");
	view(&before);
	a = ask(ADD, 2, 3, "S5 S4");
	LBT_EQ(a.status, 200);
	LBT_CHECK(strcmp(a.list, "s1 S5 S4") == 0); /* the new /rep */
	view(&after);
	LBT_EQ(after.version, before.version + 1); /* both at once */
	LBT_EQ(after.ring_n, 3);
	LBT_EQ(after.with_taken, 3);
	LBT_CHECK(replica("S5", &r));
	LBT_EQ(r.id, before.next_id); /* fresh ids, in order */
	LBT_EQ(r.st, CP_R_UP);
	LBT_CHECK(r.spawned);
	LBT_CHECK(strcmp(r.host, CP_FAKE_HOST) == 0 && r.port != 0);
	LBT_CHECK(lb_ring_has(cp.state.ring, r.id));
	LBT_CHECK(replica("S4", &r));
	LBT_EQ(r.id, before.next_id + 1);
	LBT_EQ(r.weight, 3);
	LBT_CHECK(cp_fake_driver_runs(fd, "S5") &&
	          cp_fake_driver_runs(fd, "S4"));
	ne = cp_events_last(&cp.state.events, ev, CP_EVENTS_MAX);
	LBT_CHECK(ne >= 2);
	LBT_CHECK(strcmp(ev[ne - 1].kind, "added") == 0 &&
	          strcmp(ev[ne - 1].name, "S4") == 0);
	teardown();
}

static void test_add_takes_random_names_for_the_rest(void)
{
	struct cp_replica *v;
	struct answer a;
	size_t n;

	setup();
	add_ok(2, "s1 s2");
	a = ask(ADD, 4, NONE, "given");
	LBT_EQ(a.status, 200);
	LBT_EQ(a.n, 6);
	LBT_EQ(cp_state_count(&cp.state), 6);
	LBT_EQ(cp_state_count_up(&cp.state, &n), 6);
	LBT_EQ(cp_state_copy(&cp.state, &v, &n), 0);
	LBT_CHECK(strcmp(v[2].name, "given") == 0); /* named first */
	for (size_t i = 3; i < 6; i++) {
		LBT_CHECK(lb_name_valid(v[i].name));
		LBT_CHECK(strncmp(v[i].name, "srv-", 4) == 0);
		for (size_t j = 0; j < i; j++)
			LBT_CHECK(strcmp(v[i].name, v[j].name) != 0);
		LBT_CHECK(cp_fake_driver_runs(fd, v[i].name));
	}
	free(v);
	/* No names at all: n random ones. */
	LBT_EQ(ask(ADD, 2, NONE, "").status, 200);
	LBT_EQ(cp_state_count(&cp.state), 8);
	teardown();
}

static void test_add_undo_when_a_start_fails(void)
{
	struct view before, after;
	struct cp_replica r;
	struct answer a;

	setup();
	add_ok(2, "s1 s2");
	view(&before);
	cp_fake_driver_rule(fd, START, NULL, 2, CP_FAKE_FAIL);
	a = ask(ADD, 3, NONE, "a b c");
	LBT_EQ(a.status, 500);
	LBT_CHECK(strcmp(a.error, "<Error> Could not add replicas: fake: "
	                          "start 4 (b) refused") == 0);
	LBT_EQ(a.n, 0);
	/* a started and was stopped again; c never started. */
	LBT_EQ(cp_fake_driver_calls(fd, START, "a", true), 1);
	LBT_EQ(cp_fake_driver_calls(fd, STOP, "a", true), 1);
	LBT_EQ(cp_fake_driver_calls(fd, START, "b", true), 0);
	LBT_EQ(cp_fake_driver_calls(fd, STOP, "b", false), 0);
	LBT_EQ(cp_fake_driver_calls(fd, START, "c", false), 0);
	LBT_CHECK(!cp_fake_driver_runs(fd, "a"));
	LBT_EQ(atomic_load(&cp.stats.engine_errors), 1);
	/* Same list, ring and version (no snapshot of a half state), the
	 * names free again. */
	view(&after);
	same(&before, &after, false);
	LBT_EQ(after.next_id, before.next_id + 3); /* never handed out again */
	LBT_EQ(after.with_taken, 2);
	add_ok(3, "a b c");
	LBT_CHECK(replica("a", &r));
	LBT_EQ(r.id, before.next_id + 3);
	teardown();
}

static void test_add_undo_when_a_replica_never_answers(void)
{
	struct view before, after;
	struct answer a;

	setup();
	add_ok(1, "s1");
	cp.cfg.start_timeout_ms = 100;
	view(&before);
	cp_fake_driver_rule(fd, START, NULL, 2, CP_FAKE_MUTE);
	a = ask(ADD, 3, NONE, "a");
	LBT_EQ(a.status, 504);
	LBT_CHECK(strcmp(a.error,
	                 "<Error> Could not add replicas: 1 of 3 new replicas "
	                 "did not answer /heartbeat within 100 ms") == 0);
	/* All three started, all three stopped. */
	LBT_EQ(cp_fake_driver_calls(fd, START, NULL, true), 1 + 3);
	LBT_EQ(cp_fake_driver_calls(fd, STOP, NULL, true), 3);
	LBT_EQ(cp_fake_driver_calls(fd, STOP, "a", true), 1);
	view(&after);
	same(&before, &after, false);
	LBT_EQ(after.nrun, 1);
	teardown();
}

static void *bury_thread(void *arg)
{
	(void)arg;
	cp_ops_bury(&cp);
	return NULL;
}

static void test_add_undo_when_the_stop_fails_too(void)
{
	struct view before, after;
	struct answer a;
	pthread_t bury;

	setup();
	add_ok(1, "s1");
	view(&before);
	cp_fake_driver_rule(fd, START, NULL, 2, CP_FAKE_FAIL);
	cp_fake_driver_rule(fd, STOP, NULL, 1, CP_FAKE_FAIL);
	a = ask(ADD, 2, NONE, "a b");
	LBT_EQ(a.status, 500);
	LBT_EQ(atomic_load(&cp.stats.engine_errors), 2);
	/* a still runs: it waits in a grave for the repair thread. */
	LBT_CHECK(cp_fake_driver_runs(fd, "a"));
	LBT_CHECK(cp_state_grave_pending(&cp.state, "a"));
	view(&after);
	LBT_CHECK(strcmp(before.list, after.list) == 0);
	LBT_CHECK(before.ring == after.ring);
	LBT_EQ(before.version, after.version);
	LBT_EQ(after.with_taken, 1);
	/* Its name stays taken until it is deleted: another "a" would meet
	 * the old container's name in the engine. */
	refused(ADD, 1, NONE, "a", "Replica 'a' already exists");
	/* The repair thread's deletion: its stop is held, and while the old
	 * copy still runs the name stays taken. */
	cp_fake_driver_rule(fd, STOP, "a", 1, CP_FAKE_HOLD);
	LBT_EQ(pthread_create(&bury, NULL, bury_thread, NULL), 0);
	LBT_CHECK(cp_fake_driver_wait_calls(fd, STOP, "a", false, 2, 5000));
	LBT_CHECK(cp_fake_driver_runs(fd, "a"));
	refused(ADD, 1, NONE, "a", "Replica 'a' already exists");
	cp_fake_driver_release(fd);
	LBT_EQ(pthread_join(bury, NULL), 0);
	LBT_CHECK(!cp_fake_driver_runs(fd, "a"));
	LBT_CHECK(!cp_state_grave_pending(&cp.state, "a"));
	add_ok(1, "a");
	teardown();
}

static void test_rm_refuses_more_than_exist(void)
{
	setup();
	refused(RM, 1, NONE, "", "Cannot remove 1 replicas: only 0 exist");
	add_ok(3, "s1 s2 s3");
	refused(RM, 4, NONE, "s1", "Cannot remove 4 replicas: only 3 exist");
	teardown();
}

static void test_rm_refuses_unknown_names(void)
{
	setup();
	add_ok(3, "s1 s2 s3");
	refused(RM, 1, NONE, "nobody", "Replica 'nobody' does not exist");
	refused(RM, 2, NONE, "s1 nobody", "Replica 'nobody' does not exist");
	refused(RM, 1, NONE, "S1", "Replica 'S1' does not exist"); /* case */
	refused(RM, 3, NONE, "s1 s2 s2", "Hostname 's2' is listed twice");
	teardown();
}

static void test_rm_named_leave_the_ring_and_drain(void)
{
	struct view before, after;
	struct cp_replica s2;
	struct answer a;

	setup();
	add_ok(3, "s1 s2 s3");
	LBT_CHECK(replica("s2", &s2));
	view(&before);
	a = ask(RM, 1, NONE, "s2");
	LBT_EQ(a.status, 200);
	LBT_CHECK(strcmp(a.list, "s1 s3") == 0);
	view(&after);
	LBT_EQ(after.version, before.version + 1);
	LBT_EQ(after.ring_n, 2);
	LBT_CHECK(!lb_ring_has(cp.state.ring, s2.id));
	/* It drains before it stops: still running, not stopped yet. */
	LBT_EQ(after.draining, 1);
	LBT_CHECK(cp_drain_has(&cp.drain, "s2"));
	LBT_CHECK(cp_fake_driver_runs(fd, "s2"));
	LBT_EQ(cp_fake_driver_calls(fd, STOP, NULL, false), 0);
	/* /status lists it after the managed ones, as draining. */
	{
		Lb__AdminRequest req = LB__ADMIN_REQUEST__INIT;
		Lb__AdminReply reply = LB__ADMIN_REPLY__INIT;
		req.op = LB__ADMIN_REQUEST__OP__STATUS;
		cp_ops_handle(&cp, &req, &reply);
		LBT_EQ(reply.status, 200);
		LBT_CHECK(reply.state);
		LBT_EQ(reply.state->desired, 2);
		LBT_EQ(reply.state->ready, 2);
		LBT_EQ(reply.state->n_replicas, 3);
		LBT_CHECK(strcmp(reply.state->replicas[2]->name, "s2") == 0);
		LBT_CHECK(strcmp(reply.state->replicas[2]->state, "draining") ==
		          0);
		cp_ops_reply_fini(&reply);
	}
	teardown();
	/* Shutdown stops what still drained. */
}

static void test_rm_picks_random_victims_for_the_rest(void)
{
	for (int round = 0; round < 20; round++) {
		struct cp_replica *v;
		struct answer a;
		size_t n, draining = 0;
		struct cp_draining *dv;

		setup();
		add_ok(5, "s1 s2 s3 s4 s5");
		a = ask(RM, 4, NONE, "s3");
		LBT_EQ(a.status, 200);
		LBT_EQ(a.n, 1);
		LBT_EQ(cp_state_copy(&cp.state, &v, &n), 0);
		LBT_EQ(n, 1); /* four distinct ones went */
		LBT_CHECK(strcmp(v[0].name, "s3") != 0);
		LBT_EQ(lb_ring_count(cp.state.ring), 1);
		LBT_CHECK(lb_ring_has(cp.state.ring, v[0].id));
		free(v);
		LBT_EQ(cp_drain_copy(&cp.drain, &dv, &draining), 0);
		LBT_EQ(draining, 4);
		for (size_t i = 0; i < draining; i++)
			for (size_t j = 0; j < i; j++)
				LBT_CHECK(strcmp(dv[i].r.name, dv[j].r.name) !=
				          0);
		LBT_CHECK(cp_drain_has(&cp.drain, "s3"));
		free(dv);
		teardown();
	}
}

static void test_rm_of_all_then_add_again(void)
{
	setup();
	add_ok(2, "s1 s2");
	LBT_EQ(ask(RM, 2, NONE, "").status, 200);
	LBT_EQ(cp_state_count(&cp.state), 0);
	LBT_EQ(lb_ring_count(cp.state.ring), 0);
	refused(RM, 1, NONE, "", "Cannot remove 1 replicas: only 0 exist");
	add_ok(1, "s3");
	teardown();
}

static void test_unknown_operation_is_refused(void)
{
	setup();
	add_ok(1, "s1");
	refused(LB__ADMIN_REQUEST__OP__SNAPSHOT, 1, NONE, "",
	        "unknown admin operation");
	refused(42, 1, NONE, "s1", "unknown admin operation");
	teardown();
}

static void test_list_answers_in_join_order(void)
{
	struct answer a;

	setup();
	add_ok(3, "server1 server2 server3");
	add_ok(2, "S5 S4");
	LBT_EQ(ask(RM, 1, NONE, "server2").status, 200);
	a = ask(LIST, NONE, NONE, "");
	LBT_EQ(a.status, 200);
	LBT_CHECK(strcmp(a.list, "server1 server3 S5 S4") == 0);
	teardown();
}

static const struct lbt_case cases[] = {
    {"n_must_be_at_least_1", test_n_must_be_at_least_1},
    {"no_more_names_than_n", test_no_more_names_than_n},
    {"add_refuses_invalid_names", test_add_refuses_invalid_names},
    {"control_characters_are_refused_unechoed",
     test_control_characters_are_refused_unechoed},
    {"add_refuses_a_name_listed_twice", test_add_refuses_a_name_listed_twice},
    {"add_refuses_existing_names", test_add_refuses_existing_names},
    {"add_refuses_names_still_draining", test_add_refuses_names_still_draining},
    {"add_in_progress_holds_its_names", test_add_in_progress_holds_its_names},
    {"add_respects_the_maximum", test_add_respects_the_maximum},
    {"weight_must_be_1_to_100", test_weight_must_be_1_to_100},
    {"add_refuses_weights_the_ring_cannot_hold",
     test_add_refuses_weights_the_ring_cannot_hold},
    {"add_refuses_names_the_engine_refuses",
     test_add_refuses_names_the_engine_refuses},
    {"static_driver_needs_name_host_port",
     test_static_driver_needs_name_host_port},
    {"add_starts_and_joins_the_ring_in_one_version",
     test_add_starts_and_joins_the_ring_in_one_version},
    {"add_takes_random_names_for_the_rest",
     test_add_takes_random_names_for_the_rest},
    {"add_undo_when_a_start_fails", test_add_undo_when_a_start_fails},
    {"add_undo_when_a_replica_never_answers",
     test_add_undo_when_a_replica_never_answers},
    {"add_undo_when_the_stop_fails_too", test_add_undo_when_the_stop_fails_too},
    {"rm_refuses_more_than_exist", test_rm_refuses_more_than_exist},
    {"rm_refuses_unknown_names", test_rm_refuses_unknown_names},
    {"rm_named_leave_the_ring_and_drain",
     test_rm_named_leave_the_ring_and_drain},
    {"rm_picks_random_victims_for_the_rest",
     test_rm_picks_random_victims_for_the_rest},
    {"rm_of_all_then_add_again", test_rm_of_all_then_add_again},
    {"unknown_operation_is_refused", test_unknown_operation_is_refused},
    {"list_answers_in_join_order", test_list_answers_in_join_order},
};

LBT_MAIN(cases)
