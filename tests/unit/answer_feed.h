/* answer_feed.h - what a read of the replica's socket does to a dp_answer,
 * from bytes in memory: shared by the answer's unit test and fuzz target. */
#ifndef ANSWER_FEED_H
#define ANSWER_FEED_H

#include "dp_answer.h"
#include "lb_err.h"

#include <string.h>

/* Copies up to n bytes of p into a's space and feeds them; *took says how
 * many.  LB_ERR_PROTO when a has no room left (its head is too long). */
static inline int answer_feed_from(struct dp_answer *a, const char *p, size_t n,
                                   size_t *took)
{
	char *at;
	size_t room = dp_answer_space(a, &at);

	*took = 0;
	if (room == 0)
		return LB_ERR_PROTO;
	if (n > room)
		n = room;
	memcpy(at, p, n);
	*took = n;
	return dp_answer_feed(a, n);
}

#endif
