/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Runtime state: /run/nook/<user>/ (root, 0700) holds the lock, the keeper's
 * socket and state, and the staging mount point of init. The directory and
 * the lock file are never removed: a process waiting on the lock of a
 * removed file would hold a lock nobody else sees.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "nook.h"

static int check_root_dir(int fd, const char *path, mode_t forbidden)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & forbidden)) {
		log_err("%s must be a directory owned by root with mode %s; remove it and retry", path,
			forbidden == 0077 ? "0700" : "0755");
		return -EPERM;
	}
	return 0;
}

int nook_rundir_open(const char *user, bool create)
{
	_cleanup_close_ int top = -EBADF, dir = -EBADF;
	int r;

	if (!nook_valid_user_name(user))
		return -EINVAL;
	if (create && mkdir(NOOK_RUN_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	top = nook_open_nofollow(NOOK_RUN_DIR, O_RDONLY | O_DIRECTORY, 0);
	if (top < 0)
		return top;
	r = check_root_dir(top, NOOK_RUN_DIR, 0022);
	if (r < 0)
		return r;
	if (create && mkdirat(top, user, 0700) < 0 && errno != EEXIST)
		return -errno;
	dir = openat(top, user, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0)
		return -errno;
	r = check_root_dir(dir, user, 0077);
	if (r < 0)
		return r;
	/* init (container root, to which host root's files belong to nobody)
	 * must be able to look up "." in this directory: it gets o+x, and the
	 * 0700 parent still keeps everyone else out. */
	if (create && ((mkdirat(dir, "root", 0711) < 0 && errno != EEXIST) ||
		       fchmodat(dir, "root", 0711, AT_SYMLINK_NOFOLLOW) < 0))
		return -errno;
	return TAKE_FD(dir);
}

static int lock_user(int rundir_fd, int op)
{
	_cleanup_close_ int fd = openat(rundir_fd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	while (flock(fd, op) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return TAKE_FD(fd);
}

int nook_lock_user(int rundir_fd)
{
	return lock_user(rundir_fd, LOCK_EX);
}

int nook_trylock_user(int rundir_fd)
{
	return lock_user(rundir_fd, LOCK_EX | LOCK_NB);
}
