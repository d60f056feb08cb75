/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Entering a container: becoming root of its user namespace, and joining a
 * running one from outside (its cgroup, then all seven namespaces through
 * init's pidfd, then root of its user namespace).
 */
#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <unistd.h>

#include "cgroup-path.h"
#include "enter.h"
#include "trace.h"

int nook_become_userns_root(bool clear_groups)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;

	/* 1. The groups first. A host group kept as a supplementary group
	 *    keeps its access to that group's files even where it is not
	 *    mapped (the kernel checks the host gid): host root's groups must
	 *    not come along into init or pasta. A login keeps its own (sshd
	 *    set the user's, which are mapped to themselves). */
	if (clear_groups && setgroups(0, NULL) < 0)
		return -errno;
	/* 2. The gids before the uids: changing gids needs CAP_SETGID, and a
	 *    uid change is what can take capabilities away. */
	if (setresgid(0, 0, 0) < 0)
		return -errno;
	/* 3. The uids last. The caller's host uid is not mapped here, so it
	 *    is not this namespace's root: a later drop to the user would
	 *    keep every capability (the kernel clears them only when the uids
	 *    leave the namespace's root), and sshd aborts in
	 *    permanently_set_uid ("was able to restore old [e]uid"). */
	if (setresuid(0, 0, 0) < 0)
		return -errno;
	/* 4. Read back, as bubblewrap does: every id, not only the ones a
	 *    later step happens to look at. */
	if (getresuid(&ruid, &euid, &suid) < 0 || getresgid(&rgid, &egid, &sgid) < 0)
		return -errno;
	if (ruid != 0 || euid != 0 || suid != 0 || rgid != 0 || egid != 0 || sgid != 0)
		return -EPERM;
	if (clear_groups && getgroups(0, NULL) != 0)
		return -EPERM;
	return 0;
}

int nook_join(const struct nook_session_info *info)
{
	struct nook_cgroup cg;
	int r;

	r = nook_cgroup_deserialize(info->cgroup, &cg);
	if (r < 0)
		return r;
	nook_trace("join", "begin");
	r = nook_cgroup_attach(&cg, NOOK_CG_LEAF_CONTAINER);
	if (r < 0)
		return r;
	nook_trace("join", "cgroup");
	if (setns(info->init_pidfd, NOOK_NS_FLAGS) < 0)
		return -errno;
	nook_trace("join", "setns");
	return nook_become_userns_root(false);
}
