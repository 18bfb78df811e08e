/* cp_statedir.h - the process driver's private state directory
 * (LB_STATE_DIR), where it records the replicas it started so that a
 * restarted control plane adopts them.
 *
 * What is read from it decides which processes the control plane signals
 * and where clients' requests go, and it is written as root: so the
 * directory must be this user's alone.  It is opened once (never through a
 * symbolic link) and every file in it is reached relative to that open
 * directory: swapping the path later changes nothing.  Records are written
 * to a new temporary file (O_EXCL | O_NOFOLLOW, mode 0600) and renamed
 * over the old one, so a crash never leaves half a record and no link in
 * the directory is ever followed.
 */
#ifndef CP_STATEDIR_H
#define CP_STATEDIR_H

#include <stddef.h>

/* Opens path, making it (0700) when absent.  An existing directory must be
 * a directory, not a link, owned by this user and writable by nobody else;
 * one that others may only read is made 0700.  Returns the directory's
 * descriptor, or -1 with the reason in err (naming LB_STATE_DIR). */
int cp_statedir_open(const char *path, char *err, size_t errlen);

/* Replaces file `name` in the directory with text[0..len).  Returns 0 or
 * -1 (errno). */
int cp_statedir_write(int dirfd, const char *name, const char *text,
                      size_t len);

/* Reads file `name`, at most max bytes: a regular file of this user's, not
 * a link.  Returns 0 and *out (owned; free()) NUL-terminated, 1 when there
 * is no such file, or -1 (errno; EPERM: not ours, or not a regular file). */
int cp_statedir_read(int dirfd, const char *name, size_t max, char **out);

/* Removes file `name` (absent is fine). */
void cp_statedir_remove(int dirfd, const char *name);

#endif
