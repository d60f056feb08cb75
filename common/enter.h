/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Entering a running container (a login's setcred or open_session,
 * nookctl exec). Library code: returns -errno, does not log.
 */
#pragma once

#include "client.h"

/* Joins the container's cgroup and all seven namespaces through init's
 * pidfd, then becomes root of its user namespace (host root is not mapped
 * there: without this a later drop to the user would keep capabilities).
 * The caller must fork afterwards to be inside the pid namespace, and must
 * not use /proc/self until then (it has no pid in the container's proc). */
int nook_join(const struct nook_session_info *info);
