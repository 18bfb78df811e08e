#include "cp_statedir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATEDIR_TMP_SUFFIX ".tmp"

/* Checks an open directory; returns NULL or why it is refused. */
static const char *statedir_refused(int fd, const char *path, char *why,
                                    size_t len)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return strerror(errno);
	if (!S_ISDIR(st.st_mode))
		return "not a directory";
	if (st.st_uid != geteuid()) {
		snprintf(why, len, "owned by uid %u, not by this user (uid %u)",
		         (unsigned)st.st_uid, (unsigned)geteuid());
		return why;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return "writable by others: remove it, or make it 0700";
	/* Readable by others (a record names pids and ports): made
	 * private. */
	if ((st.st_mode & 077) && fchmod(fd, 0700) != 0) {
		snprintf(why, len, "cannot make it 0700: %s (%s)",
		         strerror(errno), path);
		return why;
	}
	return NULL;
}

int cp_statedir_open(const char *path, char *err, size_t errlen)
{
	char why[160];
	const char *refused;
	struct stat st;
	int fd;

	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "LB_STATE_DIR=%s: cannot create: %s",
		         path, strerror(errno));
		return -1;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		bool link = errno == ELOOP ||
		            (lstat(path, &st) == 0 && S_ISLNK(st.st_mode));
		snprintf(err, errlen, "LB_STATE_DIR=%s: %s", path,
		         link ? "a symbolic link: refused (give the directory "
		                "itself)"
		              : strerror(errno));
		return -1;
	}
	if ((refused = statedir_refused(fd, path, why, sizeof(why)))) {
		snprintf(err, errlen, "LB_STATE_DIR=%s: %s", path, refused);
		close(fd);
		return -1;
	}
	return fd;
}

static int statedir_write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int cp_statedir_write(int dirfd, const char *name, const char *text, size_t len)
{
	char tmp[256];
	int fd, saved;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s" STATEDIR_TMP_SUFFIX,
	                     name) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* A temporary file left by a crash, or put there by someone: never
	 * written through, removed and made anew. */
	for (int attempt = 0;; attempt++) {
		fd = openat(
		    dirfd, tmp,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST || attempt == 1)
			break;
		unlinkat(dirfd, tmp, 0);
	}
	if (fd < 0)
		return -1;
	/* Written, on disk, closed (whatever failed), then renamed. */
	int wrote = statedir_write_all(fd, text, len);
	wrote |= fsync(fd);
	if (close(fd) != 0 || wrote != 0 ||
	    renameat(dirfd, tmp, dirfd, name) != 0) {
		saved = errno;
		unlinkat(dirfd, tmp, 0);
		errno = saved;
		return -1;
	}
	return 0;
}

int cp_statedir_read(int dirfd, const char *name, size_t max, char **out)
{
	struct stat st;
	char *text;
	size_t got = 0;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	*out = NULL;
	if (fd < 0)
		return errno == ENOENT ? 1 : -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || (size_t)st.st_size > max) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	if (!(text = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return -1;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, text + got, (size_t)st.st_size - got);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	text[got] = '\0';
	*out = text;
	return 0;
}

void cp_statedir_remove(int dirfd, const char *name)
{
	unlinkat(dirfd, name, 0);
}
