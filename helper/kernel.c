/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What nook needs of the running kernel, checked before a container is
 * built, so that an old kernel gets one message naming what is missing
 * instead of a failed mount deep in init.
 *
 * Syscalls are probed: called with an invalid fd, a kernel that has the
 * call answers EBADF (or EINVAL), one that lacks it ENOSYS. What cannot be
 * probed without building a container (an overlay over an idmapped lower
 * layer, 5.19) is judged from the release, which is why the minimum is
 * stated as a version. Verified on Debian 12's 6.1 and on 6.18.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "nook.h"

#define KERNEL_MIN_MAJOR 5
#define KERNEL_MIN_MINOR 19

static const struct {
	long nr;
	const char *name;
	const char *since;
} syscalls[] = {
	{ SYS_pidfd_open, "pidfd_open", "5.3" },
	{ SYS_open_tree, "open_tree", "5.2" },
	{ SYS_move_mount, "move_mount", "5.2" },
	{ SYS_fsopen, "fsopen", "5.2" },
	{ SYS_fsmount, "fsmount", "5.2" },
	{ SYS_close_range, "close_range", "5.9" },
	{ SYS_mount_setattr, "mount_setattr", "5.12 (idmapped mounts)" },
};

/* -1 as every argument: an invalid fd or pointer, never an action. */
static bool has_syscall(long nr)
{
	long r = syscall(nr, -1, -1, -1, -1, -1);

	return !(r < 0 && errno == ENOSYS);
}

/* Parses "MAJOR.MINOR..." of RELEASE; false if it does not start so. */
bool nook_kernel_version_at_least(const char *release, unsigned major, unsigned minor)
{
	unsigned long a, b;
	char *end;

	if (!(*release >= '0' && *release <= '9'))
		return false;
	errno = 0;
	a = strtoul(release, &end, 10);
	if (errno || *end != '.' || !(end[1] >= '0' && end[1] <= '9'))
		return false;
	b = strtoul(end + 1, &end, 10);
	if (errno)
		return false;
	return a > major || (a == major && b >= minor);
}

int nook_kernel_check(void)
{
	struct utsname un;

	if (uname(&un) < 0)
		return -errno;
	for (size_t i = 0; i < ELEMENTSOF(syscalls); i++)
		if (!has_syscall(syscalls[i].nr)) {
			log_err("the running kernel %s lacks %s (Linux %s); nook needs Linux %d.%d or later",
				un.release, syscalls[i].name, syscalls[i].since, KERNEL_MIN_MAJOR,
				KERNEL_MIN_MINOR);
			return -ENOSYS;
		}
	if (!nook_kernel_version_at_least(un.release, KERNEL_MIN_MAJOR, KERNEL_MIN_MINOR)) {
		log_err("the running kernel %s is older than %d.%d, the first with overlayfs over an "
			"idmapped lower layer; nook needs Linux %d.%d or later (Debian 12's 6.1 works)",
			un.release, KERNEL_MIN_MAJOR, KERNEL_MIN_MINOR, KERNEL_MIN_MAJOR, KERNEL_MIN_MINOR);
		return -ENOSYS;
	}
	return 0;
}
