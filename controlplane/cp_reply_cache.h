/* cp_reply_cache.h - the replies to recent add and remove requests, by
 * request id.
 *
 * NNG's REQ resends a request when its pipe reconnects, and a resent /add
 * must not add twice: the control server looks each add or remove up here
 * first.  An entry is claimed when its request starts (no reply yet: in
 * flight) and filled when it ends; a resend of a request in flight waits
 * for that reply.  When every entry is used, the oldest filled one goes.
 * Under its own lock: callers hold none of theirs.
 */
#ifndef CP_REPLY_CACHE_H
#define CP_REPLY_CACHE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CP_REPLY_CACHE 64

struct cp_reply_cache {
	pthread_mutex_t mu;
	pthread_cond_t filled; /* an entry was filled or dropped */
	uint64_t id[CP_REPLY_CACHE];
	void *buf[CP_REPLY_CACHE]; /* the packed reply; NULL: in flight */
	size_t len[CP_REPLY_CACHE];
	bool used[CP_REPLY_CACHE];
	uint64_t age[CP_REPLY_CACHE]; /* when filled: the oldest goes first */
	uint64_t clock;
	size_t waiting; /* resends waiting for their first copy's reply */
};

void cp_reply_cache_init(struct cp_reply_cache *c);

/* Frees every reply kept.  Call when no request runs. */
void cp_reply_cache_fini(struct cp_reply_cache *c);

/* Before an add or remove runs.  Returns true with the reply of an earlier
 * copy of request `id` in *out (owned: free()) and *len, after waiting for
 * it when that copy is still in flight.  Returns false when the request is
 * new: an entry is claimed for it, and the caller runs it and then calls
 * cp_reply_cache_fill() with the same id.  Also false, with nothing
 * claimed, when out of memory or when every entry is in flight (more
 * requests at once than CP_REPLY_CACHE): that reply is then not kept. */
bool cp_reply_cache_lookup(struct cp_reply_cache *c, uint64_t id, void **out,
                           size_t *len);

/* After the request claimed by cp_reply_cache_lookup() ran: keeps a copy of
 * its reply buf[0..len) (borrowed) for resends, or with buf NULL (there is
 * no reply to give) drops the entry, so that a resend runs it anew.  Wakes
 * the resends that wait either way.  An id with no entry keeps nothing. */
void cp_reply_cache_fill(struct cp_reply_cache *c, uint64_t id, const void *buf,
                         size_t len);

/* Resends waiting in cp_reply_cache_lookup() now (for tests). */
size_t cp_reply_cache_waiting(struct cp_reply_cache *c);

#endif
