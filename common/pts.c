/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The container's devpts instance, reached from the host.
 *
 * Each container has a devpts instance of its own (helper/mount-host.c): ptys
 * made inside count against its max= and the host's reserve
 * (kernel.pty.reserve) keeps the host's instance usable however many are
 * made; the host's ptys and their timestamps are not listed inside (issue
 * 10). A session's terminal must then come from that instance too, or it
 * has no name inside (`tty`, screen, utmp):
 *   - sshd's monitor allocates the session's pty on the host, and the
 *     session child opens it by name inside. pam_nook (open_session, in the
 *     monitor) gives the monitor a mount namespace of its own in which
 *     /dev/pts is the container's instance; the instance belongs to the
 *     initial user namespace (created by host root), so the monitor's
 *     chown of the pty to user:tty works as on the host;
 *   - su's relay and nookctl exec take a master from the instance's ptmx.
 *
 * The instance is reached by a brief visit to init's mount namespace
 * (setns through its pidfd; open_tree() clones only mounts of the caller's
 * own namespace, on Debian 12's 6.1 too), then straight back to the
 * caller's namespace and working directory. Nothing in that tree is the
 * user's to change: /dev is a tmpfs made by host root and /dev/pts a mount
 * the user cannot replace in init's namespace; the clone is still checked
 * to be a devpts root.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "pts.h"
#include "util.h"

enum pts_op { PTS_CLONE, PTS_MASTER, PTS_MOUNTPOINT };

static int is_devpts(int fd)
{
	struct statfs sf;

	if (fstatfs(fd, &sf) < 0)
		return -errno;
	return sf.f_type == DEVPTS_SUPER_MAGIC ? 0 : -EXDEV;
}

/* NAME in DEV (the container's /dev: a tmpfs of host root's, checked), an
 * empty regular file of host root's, made unless it is there already. */
static int make_mountpoint(int dev, const char *name)
{
	_cleanup_close_ int fd = -EBADF;
	struct statfs sf;
	struct stat st;

	if (fstatfs(dev, &sf) < 0 || fstat(dev, &st) < 0)
		return -errno;
	if (sf.f_type != TMPFS_MAGIC || st.st_uid != 0 || (st.st_mode & 0022))
		return -EPERM;
	/* Never open what is there: it may be a device node. */
	if (fstatat(dev, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return S_ISREG(st.st_mode) && st.st_uid == 0 ? 0 : -EEXIST;
	if (errno != ENOENT)
		return -errno;
	fd = openat(dev, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	return fd < 0 ? -errno : 0;
}

/* OP inside init's mount namespace; -ENOTRECOVERABLE if the way back
 * failed (the caller then must not go on: it would be in the user's tree). */
static int in_init_mntns(int init_pidfd, enum pts_op op, const char *name)
{
	_cleanup_close_ int own = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int fd = -EBADF;
	int r = 0;

	if (own < 0 || cwd < 0)
		return -errno;
	if (setns(init_pidfd, CLONE_NEWNS) < 0)
		return -errno;
	if (op == PTS_CLONE)
		fd = (int) syscall(SYS_open_tree, AT_FDCWD, "/dev/pts",
				   OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);
	else if (op == PTS_MASTER)
		fd = nook_open_nofollow("/dev/pts/ptmx", O_RDWR | O_NOCTTY, 0);
	else
		fd = nook_open_nofollow("/dev", O_PATH | O_DIRECTORY, 0);
	if (fd < 0)
		r = op == PTS_CLONE ? -errno : fd;
	if (op == PTS_MOUNTPOINT && r == 0)
		r = make_mountpoint(fd, name);
	if (setns(own, CLONE_NEWNS) < 0 || fchdir(cwd) < 0)
		return -ENOTRECOVERABLE;
	if (r < 0 || op == PTS_MOUNTPOINT)
		return r;
	r = is_devpts(fd);
	if (r < 0)
		return r;
	return TAKE_FD(fd);
}

int nook_pts_clone(int init_pidfd)
{
	return in_init_mntns(init_pidfd, PTS_CLONE, NULL);
}

int nook_pts_open_master(int init_pidfd)
{
	return in_init_mntns(init_pidfd, PTS_MASTER, NULL);
}

int nook_pts_private_view(int init_pidfd)
{
	_cleanup_close_ int pts = nook_pts_clone(init_pidfd);

	if (pts < 0)
		return pts;
	if (unshare(CLONE_NEWNS) < 0)
		return -errno;
	/* Receives the host's mounts, sends none back: our /dev/pts must not
	 * propagate to the host (its / is shared under systemd). */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return -errno;
	if (syscall(SYS_move_mount, pts, "", AT_FDCWD, "/dev/pts", MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return -errno;
	return 0;
}

int nook_pts_dev_mountpoint(int init_pidfd, const char *name)
{
	return in_init_mntns(init_pidfd, PTS_MOUNTPOINT, name);
}
