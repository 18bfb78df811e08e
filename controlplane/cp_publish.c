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
	uint64_t seen = 0;

	while (!atomic_load(&cp->stopping)) {
		void *buf;
		size_t len;
		uint64_t version;
		nng_msg *msg;

		if (cp_state_pack_snapshot(&cp->state, &buf, &len, &version) ==
		    0) {
			if (nng_msg_alloc(&msg, len) == 0) {
				memcpy(nng_msg_body(msg), buf, len);
				/* PUB never blocks; a slow subscriber drops. */
				if (nng_sendmsg(cp->pub, msg, 0) != 0)
					nng_msg_free(msg);
			}
			free(buf);
			if (version != seen)
				lb_log(LB_DEBUG, "snapshot_published",
				       "version=%llu bytes=%zu",
				       (unsigned long long)version, len);
			seen = version;
		}
		cp_state_wait_change(&cp->state, seen, cp->cfg.republish_ms);
	}
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
