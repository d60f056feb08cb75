/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Opening an existing /run/nook/<user>/ without trusting its path. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "rundir.h"
#include "util.h"

int nook_rundir_open_existing(const char *user)
{
	char path[128];
	struct stat st;
	_cleanup_close_ int fd = -EBADF;

	if (!nook_valid_user_name(user))
		return -EINVAL;
	snprintf(path, sizeof(path), NOOK_RUN_DIR "/%s", user);
	fd = nook_open_nofollow(path, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_uid != 0 || (st.st_mode & 0077))
		return -EPERM;
	return TAKE_FD(fd);
}
