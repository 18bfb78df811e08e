/* cp_admin.h - the admin server: an NNG REP socket with a few worker
 * contexts, so that a slow /add does not hold up /rep. */
#ifndef CP_ADMIN_H
#define CP_ADMIN_H

#include "cp.h"

/* Listens on cfg.admin_url, before anything else is touched, so that a bad
 * or busy address fails the start at once.  Requests wait unanswered until
 * cp_admin_serve().  Returns 0 or an error with the reason in err. */
int cp_admin_listen(struct cp *cp, char *err, size_t errlen);

/* Starts the workers that answer requests.  Returns 0 or LB_ERR_SYS. */
int cp_admin_serve(struct cp *cp);

/* Closes the socket (workers see NNG_ECLOSED) and joins them. */
void cp_admin_stop(struct cp *cp);

#endif
