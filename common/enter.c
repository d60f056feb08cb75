/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Joining a running container from outside: its cgroup, then all seven
 * namespaces through init's pidfd, then root of its user namespace.
 */
#include <errno.h>
#include <sched.h>
#include <unistd.h>

#include "cgroup-path.h"
#include "enter.h"

#define NS_FLAGS                                                                                   \
	(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET | \
	 CLONE_NEWCGROUP)

int nook_join(const struct nook_session_info *info)
{
	struct nook_cgroup cg;
	int r;

	r = nook_cgroup_deserialize(info->cgroup, &cg);
	if (r < 0)
		return r;
	r = nook_cgroup_attach(&cg, NOOK_CG_LEAF_CONTAINER, getpid());
	if (r < 0)
		return r;
	if (setns(info->init_pidfd, NS_FLAGS) < 0)
		return -errno;
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		return -errno;
	/* Read back, as bubblewrap does: the transition must have happened. */
	if (getuid() != 0 || geteuid() != 0 || getgid() != 0 || getegid() != 0)
		return -EPERM;
	return 0;
}
