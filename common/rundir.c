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
	_cleanup_close_ int fd = -EBADF;
	int r;

	if (!nook_valid_user_name(user))
		return -EINVAL;
	snprintf(path, sizeof(path), NOOK_RUN_DIR "/%s", user);
	fd = nook_open_nofollow(path, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	r = nook_check_root_owned(fd, S_IFDIR, 0077, NULL);
	if (r < 0)
		return r;
	return TAKE_FD(fd);
}
