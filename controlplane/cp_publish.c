#include "cp_publish.h"

#include "lb_err.h"
#include "lb_log.h"

#include <nng/protocol/pubsub0/pub.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static void *publish_thread(void *arg)
{
	struct cp *cp = arg;
	void *buf = NULL; /* the last packed snapshot, republished as is */
	size_t len = 0;
	uint64_t seen = 0;

	while (!atomic_load(&cp->stopping)) {
		nng_msg *msg;

		/* Pack only when something changed since the last pack. */
		if (!buf || cp_state_version(&cp->state) != seen) {
			void *nbuf;
			size_t nlen;
			uint64_t version;
			if (cp_state_pack_snapshot(&cp->state, &nbuf, &nlen,
			                           &version) == 0) {
				free(buf);
				buf = nbuf;
				len = nlen;
				seen = version;
				lb_log(LB_DEBUG, "snapshot_published",
				       "version=%llu bytes=%zu",
				       (unsigned long long)version, len);
			}
		}
		if (buf && nng_msg_alloc(&msg, len) == 0) {
			memcpy(nng_msg_body(msg), buf, len);
			/* PUB never blocks; a slow subscriber drops. */
			if (nng_sendmsg(cp->pub, msg, 0) != 0)
				nng_msg_free(msg);
			else
				atomic_fetch_add(&cp->stats.snapshots_published,
				                 1);
		}
		cp_state_wait_change(&cp->state, seen, cp->cfg.republish_ms);
	}
	free(buf);
	return NULL;
}

int cp_publish_start(struct cp *cp, char *err, size_t errlen)
{
	int rv;

	if ((rv = nng_pub0_open(&cp->pub)) != 0) {
		snprintf(err, errlen, "PUB socket: %s", nng_strerror(rv));
		return LB_ERR_SYS;
	}
	if ((rv = nng_listen(cp->pub, cp->cfg.pub_url, NULL, 0)) != 0) {
		snprintf(err, errlen, "LB_PUB_URL=%s: cannot listen: %s",
		         cp->cfg.pub_url, nng_strerror(rv));
		nng_close(cp->pub);
		return LB_ERR_SYS;
	}
	if (pthread_create(&cp->pub_tid, NULL, publish_thread, cp) != 0) {
		snprintf(err, errlen, "cannot start the publisher thread");
		nng_close(cp->pub);
		return LB_ERR_SYS;
	}
	return 0;
}

void cp_publish_stop(struct cp *cp)
{
	pthread_join(cp->pub_tid, NULL);
	nng_close(cp->pub);
}
