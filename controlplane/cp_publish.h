/* cp_publish.h - ring snapshots on an NNG PUB socket: at once after every
 * change, and again every republish_ms for subscribers that joined late
 * (pub/sub has no replay). */
#ifndef CP_PUBLISH_H
#define CP_PUBLISH_H

#include "cp.h"

int cp_publish_start(struct cp *cp, char *err, size_t errlen);
/* Call after cp_state_stop(): joins the thread and closes the socket. */
void cp_publish_stop(struct cp *cp);

#endif
