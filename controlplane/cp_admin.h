/* cp_admin.h - the admin server: an NNG REP socket with a few worker
 * contexts, so that a slow /add does not hold up /rep. */
#ifndef CP_ADMIN_H
#define CP_ADMIN_H

#include "cp.h"

/* Listens on cfg.admin_url and starts the workers.  Returns 0 or an error
 * with the reason in err. */
int cp_admin_start(struct cp *cp, char *err, size_t errlen);

/* Closes the socket (workers see NNG_ECLOSED) and joins them. */
void cp_admin_stop(struct cp *cp);

#endif
