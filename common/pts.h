/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The container's own devpts instance, seen from the host: where the ptys of
 * a session come from (sshd's monitor, su's relay, nookctl exec), so that
 * the session's terminal has its name inside and nothing of the host's
 * devpts is shared. See pts.c. Library code: returns -errno, does not log.
 */
#pragma once

/* A detached clone of the container's /dev/pts (checked to be a devpts
 * mount), made from inside init's mount namespace (INIT_PIDFD) for one
 * call; the caller is back in its own namespace and cwd afterwards. */
int nook_pts_clone(int init_pidfd);

/* A new pty master from the container's devpts instance (its ptmx), opened
 * from inside init's mount namespace like nook_pts_clone. */
int nook_pts_open_master(int init_pidfd);

/* For sshd's monitor (host root): moves the caller into a mount namespace
 * of its own, a copy of the host's that receives the host's later mounts
 * (slave) and sends none back, with the container's devpts over /dev/pts.
 * The monitor's openpty() then allocates the session's pty in the
 * container's instance, by the name its session child opens inside. */
int nook_pts_private_view(int init_pidfd);

/* For login on a console: makes NAME (a plain name) in the container's
 * /dev, an empty file of host root's to bind the console on in the login
 * session's own mount namespace; an existing one is fine. */
int nook_pts_dev_mountpoint(int init_pidfd, const char *name);
