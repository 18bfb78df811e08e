/* cp_ctl.h - the control server: the NNG REP socket the data planes send
 * their requests to (list, add, remove, snapshot, status, reports), with a
 * few worker contexts, so that a slow /add does not hold up /rep. */
#ifndef CP_CTL_H
#define CP_CTL_H

#include "cp.h"

/* Listens on cfg.ctl_url, before anything else is touched, so that a bad
 * or busy address fails the start at once.  Requests wait unanswered until
 * cp_ctl_serve().  Returns 0 or an error with the reason in err. */
int cp_ctl_listen(struct cp *cp, char *err, size_t errlen);

/* Starts the workers that answer requests.  Returns 0 or LB_ERR_SYS. */
int cp_ctl_serve(struct cp *cp);

/* Closes the socket (workers see NNG_ECLOSED) and joins them. */
void cp_ctl_stop(struct cp *cp);

#endif
