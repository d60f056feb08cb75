/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Entering a container, in one place: the namespaces a container has, and
 * becoming root of its user namespace, for every process that gets there
 * (init after the clone, pasta, a login's setcred or open_session,
 * nookctl exec). Library code: returns -errno, does not log.
 */
#pragma once

#include <sched.h>
#include <stdbool.h>

#include "client.h"

/* The seven namespaces of a container: created together by one clone3()
 * (helper/container.c) and joined together by one setns() (nook_join). */
#define NOOK_NS_FLAGS                                                                              \
	(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET | \
	 CLONE_NEWCGROUP)

/* Becomes root (real, effective and saved uid and gid 0) of the user
 * namespace the caller has just been created in or joined, where it holds
 * every capability; with CLEAR_GROUPS drops the supplementary groups too.
 * Each id is read back: -EPERM if one is not what was asked. */
int nook_become_userns_root(bool clear_groups);

/* Joins the container's cgroup and all seven namespaces through init's
 * pidfd, then becomes root of its user namespace (host root is not mapped
 * there: without this a later drop to the user would keep capabilities).
 * Keeps the caller's supplementary groups (sshd has set the user's).
 * The caller must fork afterwards to be inside the pid namespace, and must
 * not use /proc/self until then (it has no pid in the container's proc). */
int nook_join(const struct nook_session_info *info);
