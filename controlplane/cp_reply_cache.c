#include "cp_reply_cache.h"

#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

void cp_reply_cache_init(struct cp_reply_cache *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->filled, NULL);
}

void cp_reply_cache_fini(struct cp_reply_cache *c)
{
	for (size_t i = 0; i < CP_REPLY_CACHE; i++) {
		free(c->buf[i]);
		c->buf[i] = NULL;
		c->used[i] = false;
	}
	pthread_cond_destroy(&c->filled);
	pthread_mutex_destroy(&c->mu);
}

/* The entry of request id, or -1.  mu held. */
static ssize_t cache_find(struct cp_reply_cache *c, uint64_t id)
{
	for (size_t i = 0; i < CP_REPLY_CACHE; i++)
		if (c->used[i] && c->id[i] == id)
			return (ssize_t)i;
	return -1;
}

/* Claims an entry for a request that starts now: a free one, or the oldest
 * filled one.  An entry in flight is never taken, as its request will fill
 * it: when all are in flight nothing is claimed (the control server runs
 * fewer workers than there are entries, so it does not happen there).
 * mu held. */
static void cache_claim(struct cp_reply_cache *c, uint64_t id)
{
	size_t pick = CP_REPLY_CACHE;

	for (size_t i = 0; i < CP_REPLY_CACHE; i++) {
		if (!c->used[i]) {
			pick = i;
			break;
		}
		if (c->buf[i] &&
		    (pick == CP_REPLY_CACHE || c->age[i] < c->age[pick]))
			pick = i;
	}
	if (pick == CP_REPLY_CACHE)
		return;
	free(c->buf[pick]);
	c->used[pick] = true;
	c->id[pick] = id;
	c->buf[pick] = NULL;
}

bool cp_reply_cache_lookup(struct cp_reply_cache *c, uint64_t id, void **out,
                           size_t *len)
{
	bool found = false;
	ssize_t i;

	pthread_mutex_lock(&c->mu);
	while ((i = cache_find(c, id)) >= 0 && !c->buf[i]) {
		c->waiting++;
		pthread_cond_wait(&c->filled, &c->mu);
		c->waiting--;
	}
	if (i < 0) {
		cache_claim(c, id);
	} else if ((*out = malloc(c->len[i] ? c->len[i] : 1))) {
		memcpy(*out, c->buf[i], c->len[i]);
		*len = c->len[i];
		found = true;
	} /* else out of memory: run as a new request */
	pthread_mutex_unlock(&c->mu);
	return found;
}

void cp_reply_cache_fill(struct cp_reply_cache *c, uint64_t id, const void *buf,
                         size_t len)
{
	void *copy = buf ? malloc(len ? len : 1) : NULL;
	ssize_t i;

	if (copy)
		memcpy(copy, buf, len);
	pthread_mutex_lock(&c->mu);
	if ((i = cache_find(c, id)) >= 0 && copy) {
		/* Filled already when a lookup ran out of memory and the
		 * request ran again: the newer reply replaces it. */
		free(c->buf[i]);
		c->buf[i] = copy;
		c->len[i] = len;
		c->age[i] = ++c->clock;
		copy = NULL;
	} else if (i >= 0 && !c->buf[i]) {
		c->used[i] = false; /* nothing to answer a resend with */
	}
	pthread_cond_broadcast(&c->filled);
	pthread_mutex_unlock(&c->mu);
	free(copy);
}

size_t cp_reply_cache_waiting(struct cp_reply_cache *c)
{
	size_t n;

	pthread_mutex_lock(&c->mu);
	n = c->waiting;
	pthread_mutex_unlock(&c->mu);
	return n;
}
