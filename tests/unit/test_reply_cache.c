/* The control server's reply cache (cp_reply_cache): a resent add or
 * remove is answered with the first copy's reply instead of running
 * twice. */
#include "cp_reply_cache.h"
#include "lb_time.h"
#include "lbt.h"

#include <pthread.h>
#include <stdlib.h>

/* Looks id up; true when answered, with the reply's text in out. */
static bool lookup(struct cp_reply_cache *c, uint64_t id, char *out, size_t cap)
{
	void *buf;
	size_t len;

	if (!cp_reply_cache_lookup(c, id, &buf, &len))
		return false;
	LBT_CHECK(len < cap);
	memcpy(out, buf, len);
	out[len] = '\0';
	free(buf);
	return true;
}

/* A new request: claims id and fills it with text. */
static void run(struct cp_reply_cache *c, uint64_t id, const char *text)
{
	char got[64];
	LBT_CHECK(!lookup(c, id, got, sizeof(got)));
	cp_reply_cache_fill(c, id, text, strlen(text));
}

static void expect(struct cp_reply_cache *c, uint64_t id, const char *text)
{
	char got[64];
	LBT_CHECK(lookup(c, id, got, sizeof(got)));
	LBT_CHECK(strcmp(got, text) == 0);
}

/* A resend of a request in flight, on a thread of its own. */
struct resend {
	struct cp_reply_cache *c;
	uint64_t id;
	bool answered;
	char reply[64];
	pthread_t tid;
};

static void *resend_thread(void *arg)
{
	struct resend *r = arg;
	r->answered = lookup(r->c, r->id, r->reply, sizeof(r->reply));
	return NULL;
}

static void resend_start(struct resend *r, struct cp_reply_cache *c,
                         uint64_t id)
{
	memset(r, 0, sizeof(*r));
	r->c = c;
	r->id = id;
	LBT_EQ(pthread_create(&r->tid, NULL, resend_thread, r), 0);
	/* It waits for the first copy (the event), never answered before. */
	for (int64_t end = lb_now_ms() + 5000;
	     cp_reply_cache_waiting(c) == 0 && lb_now_ms() < end;)
		lb_time_sleep_ms(1);
	LBT_EQ(cp_reply_cache_waiting(c), 1);
}

static void test_resent_id_is_answered_from_the_cache(void)
{
	struct cp_reply_cache c;
	char got[64];

	cp_reply_cache_init(&c);
	run(&c, 7, "reply-7");
	expect(&c, 7, "reply-7");
	expect(&c, 7, "reply-7"); /* as often as it is resent */
	/* The answer is a copy: changing it changes nothing kept. */
	{
		void *buf;
		size_t len;
		LBT_CHECK(cp_reply_cache_lookup(&c, 7, &buf, &len));
		LBT_EQ(len, 7);
		memset(buf, 'x', len);
		free(buf);
	}
	expect(&c, 7, "reply-7");
	LBT_CHECK(!lookup(&c, 8, got, sizeof(got))); /* new: claimed */
	cp_reply_cache_fini(&c);
}

static void test_resend_waits_for_the_first_copy(void)
{
	struct cp_reply_cache c;
	struct resend r;
	char got[64];

	cp_reply_cache_init(&c);
	LBT_CHECK(!lookup(&c, 9, got, sizeof(got))); /* the first copy runs */
	resend_start(&r, &c, 9);
	LBT_CHECK(!r.answered); /* still waiting */
	cp_reply_cache_fill(&c, 9, "added S5", 8);
	LBT_EQ(pthread_join(r.tid, NULL), 0);
	LBT_CHECK(r.answered);
	LBT_CHECK(strcmp(r.reply, "added S5") == 0);
	LBT_EQ(cp_reply_cache_waiting(&c), 0);
	cp_reply_cache_fini(&c);
}

static void test_first_copy_without_reply_lets_the_resend_run(void)
{
	struct cp_reply_cache c;
	struct resend r;
	char got[64];

	cp_reply_cache_init(&c);
	LBT_CHECK(!lookup(&c, 5, got, sizeof(got)));
	resend_start(&r, &c, 5);
	cp_reply_cache_fill(&c, 5, NULL, 0); /* no reply: nothing to give */
	LBT_EQ(pthread_join(r.tid, NULL), 0);
	LBT_CHECK(!r.answered); /* it runs itself, with the entry claimed */
	cp_reply_cache_fill(&c, 5, "second", 6);
	expect(&c, 5, "second");
	cp_reply_cache_fini(&c);
}

static void test_full_cache_evicts_the_oldest_filled(void)
{
	struct cp_reply_cache c;
	char text[32], got[64];

	cp_reply_cache_init(&c);
	/* Claimed 1..N in order, filled 2..N and then 1: 2 is the oldest
	 * reply, 1 the newest. */
	for (uint64_t id = 1; id <= CP_REPLY_CACHE; id++)
		LBT_CHECK(!lookup(&c, id, got, sizeof(got)));
	for (uint64_t id = 2; id <= CP_REPLY_CACHE; id++) {
		snprintf(text, sizeof(text), "r%llu", (unsigned long long)id);
		cp_reply_cache_fill(&c, id, text, strlen(text));
	}
	cp_reply_cache_fill(&c, 1, "r1", 2);
	run(&c, 1000, "r1000"); /* one more: 2 goes */
	expect(&c, 1, "r1");
	expect(&c, 3, "r3");
	expect(&c, CP_REPLY_CACHE, "r64");
	expect(&c, 1000, "r1000");
	LBT_CHECK(!lookup(&c, 2, got, sizeof(got))); /* evicted: runs anew */
	cp_reply_cache_fini(&c);
}

static void test_entry_in_flight_is_never_evicted(void)
{
	struct cp_reply_cache c;
	char text[32], got[64];

	cp_reply_cache_init(&c);
	LBT_CHECK(!lookup(&c, 1, got, sizeof(got))); /* runs long */
	for (uint64_t id = 2; id <= CP_REPLY_CACHE; id++) {
		snprintf(text, sizeof(text), "r%llu", (unsigned long long)id);
		run(&c, id, text);
	}
	run(&c, 500, "r500"); /* full: the oldest filled goes, 2 */
	run(&c, 501, "r501"); /* then 3 */
	cp_reply_cache_fill(&c, 1, "r1", 2);
	expect(&c, 1, "r1"); /* its entry was kept for it */
	expect(&c, 4, "r4");
	LBT_CHECK(!lookup(&c, 3, got, sizeof(got)));
	cp_reply_cache_fini(&c);
}

static void test_every_entry_in_flight_keeps_nothing_more(void)
{
	struct cp_reply_cache c;
	char got[64];

	cp_reply_cache_init(&c);
	for (uint64_t id = 1; id <= CP_REPLY_CACHE; id++)
		LBT_CHECK(!lookup(&c, id, got, sizeof(got)));
	/* One more runs uncached; no entry in flight is taken from its
	 * request. */
	LBT_CHECK(!lookup(&c, 999, got, sizeof(got)));
	cp_reply_cache_fill(&c, 999, "lost", 4);
	LBT_CHECK(!lookup(&c, 999, got, sizeof(got)));
	for (uint64_t id = 1; id <= CP_REPLY_CACHE; id++)
		cp_reply_cache_fill(&c, id, "ok", 2);
	expect(&c, 1, "ok");
	expect(&c, CP_REPLY_CACHE, "ok");
	cp_reply_cache_fini(&c);
}

static void test_distinct_ids_are_not_confused(void)
{
	/* Ids that differ in their high bits only, and random ones. */
	uint64_t ids[12] = {1, 1ULL << 32 | 1, 1ULL << 63 | 1, 0};
	unsigned long long seed = 22;
	struct cp_reply_cache c;
	char text[32];

	for (size_t i = 4; i < 12; i++)
		ids[i] = lbt_rand(&seed);
	cp_reply_cache_init(&c);
	for (size_t i = 0; i < 12; i++) {
		snprintf(text, sizeof(text), "reply %zu", i);
		run(&c, ids[i], text);
	}
	for (size_t i = 12; i-- > 0;) {
		snprintf(text, sizeof(text), "reply %zu", i);
		expect(&c, ids[i], text);
	}
	cp_reply_cache_fini(&c);
}

static void test_fill_of_an_unclaimed_id_keeps_nothing(void)
{
	struct cp_reply_cache c;
	char got[64];

	cp_reply_cache_init(&c);
	cp_reply_cache_fill(&c, 42, "stray", 5);
	LBT_CHECK(!lookup(&c, 42, got, sizeof(got)));
	cp_reply_cache_fini(&c);
}

static void test_second_fill_replaces_the_reply(void)
{
	struct cp_reply_cache c;

	/* A lookup that ran out of memory runs the request again and fills
	 * an entry filled already: the newer reply is kept, the older one
	 * freed (the sanitizer's leak check sees it). */
	cp_reply_cache_init(&c);
	run(&c, 3, "old");
	cp_reply_cache_fill(&c, 3, "newer", 5);
	expect(&c, 3, "newer");
	cp_reply_cache_fini(&c);
}

static const struct lbt_case cases[] = {
    {"resent_id_is_answered_from_the_cache",
     test_resent_id_is_answered_from_the_cache},
    {"resend_waits_for_the_first_copy", test_resend_waits_for_the_first_copy},
    {"first_copy_without_reply_lets_the_resend_run",
     test_first_copy_without_reply_lets_the_resend_run},
    {"full_cache_evicts_the_oldest_filled",
     test_full_cache_evicts_the_oldest_filled},
    {"entry_in_flight_is_never_evicted", test_entry_in_flight_is_never_evicted},
    {"every_entry_in_flight_keeps_nothing_more",
     test_every_entry_in_flight_keeps_nothing_more},
    {"distinct_ids_are_not_confused", test_distinct_ids_are_not_confused},
    {"fill_of_an_unclaimed_id_keeps_nothing",
     test_fill_of_an_unclaimed_id_keeps_nothing},
    {"second_fill_replaces_the_reply", test_second_fill_replaces_the_reply},
};

LBT_MAIN(cases)
