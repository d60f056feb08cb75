/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The container's root, host side (keeper, host root): detached clones of
 * the lower layer and of the bind sources, idmapped and restricted with
 * mount_setattr; the container's /dev tmpfs and its devpts instance; the
 * files of lxcfs. init attaches them inside (mount.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/mount.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cleanup.h"
#include "nook.h"

int nook_clone_tree(const char *path, bool recursive)
{
	int fd = (int) syscall(SYS_open_tree, AT_FDCWD, path,
			       OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0));

	return fd < 0 ? -errno : fd;
}

int nook_tree_setattr(int tree_fd, uint64_t attrs, int userns_fd, bool recursive)
{
	struct mount_attr attr = { .attr_set = attrs };

	if (userns_fd >= 0) {
		attr.attr_set |= MOUNT_ATTR_IDMAP;
		attr.userns_fd = (uint64_t) userns_fd;
	}
	if (syscall(SYS_mount_setattr, tree_fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr,
		    sizeof(attr)) < 0)
		return -errno;
	return 0;
}

/*
 * Host side: the container's /dev, a tmpfs made by host root so that its
 * device nodes work (a tmpfs mounted inside the user namespace could hold
 * none, and mknod is impossible there anyway). Only nodes that are safe to
 * share: no block devices, no mem/kmem/port. Nothing inside may write to
 * it: its root belongs to host root, which is nobody in the container.
 *
 * /dev/ptmx is a real node next to "pts", which is where the kernel looks
 * for the devpts instance to allocate from: the container's own
 * (nook_devpts_new).
 */
int nook_dev_tree(void)
{
	static const struct {
		const char *name;
		unsigned major, minor;
	} nodes[] = {
		{ "null", 1, 3 },    { "zero", 1, 5 }, { "full", 1, 7 }, { "random", 1, 8 },
		{ "urandom", 1, 9 }, { "tty", 5, 0 },  { "ptmx", 5, 2 },
	};
	static const char *const links[][2] = {
		{ "fd", "/proc/self/fd" },
		{ "stdin", "/proc/self/fd/0" },
		{ "stdout", "/proc/self/fd/1" },
		{ "stderr", "/proc/self/fd/2" },
	};
	static const char *const dirs[] = { "pts", "shm", "mqueue" };
	_cleanup_close_ int fs = (int) syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
	_cleanup_close_ int mnt = -EBADF;

	if (fs < 0)
		return -errno;
	if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "mode", "0755", 0) < 0 ||
	    syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "size", "64k", 0) < 0 ||
	    syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return -errno;
	mnt = (int) syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
	if (mnt < 0)
		return -errno;
	for (size_t i = 0; i < ELEMENTSOF(nodes); i++)
		if (mknodat(mnt, nodes[i].name, S_IFCHR | 0666, makedev(nodes[i].major, nodes[i].minor)) <
			    0 ||
		    fchmodat(mnt, nodes[i].name, 0666, 0) < 0)
			return -errno;
	for (size_t i = 0; i < ELEMENTSOF(links); i++)
		if (symlinkat(links[i][1], mnt, links[i][0]) < 0)
			return -errno;
	for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
		if (mkdirat(mnt, dirs[i], 0755) < 0)
			return -errno;
	/* A mount point for the host's syslog socket. */
	if (access("/dev/log", F_OK) == 0) {
		_cleanup_close_ int fd = openat(mnt, "log", O_CREAT | O_WRONLY | O_CLOEXEC, 0666);

		if (fd < 0)
			return -errno;
	}
	return TAKE_FD(mnt);
}

/*
 * Host side: the container's own devpts instance (issue 10). Ptys made
 * inside count against its max= (pty_max) and, all instances but the
 * host's together, against kernel.pty.max minus kernel.pty.reserve: the
 * host's instance keeps its reserve however many are made. The host's ptys
 * and their timestamps are not listed inside. Made by host root, so it
 * belongs to the initial user namespace: sshd's monitor allocates the
 * session's pty here (common/pts.c) and chowns it to user:tty as on the
 * host; inside the tty group shows as nogroup, as all unmapped ids do.
 * ptmxmode=0666: the instance's own ptmx, which su's relay and nookctl
 * exec open from the host, and /dev/ptmx inside, both allocate here.
 */
int nook_devpts_new(uint64_t max)
{
	_cleanup_close_ int fs = (int) syscall(SYS_fsopen, "devpts", FSOPEN_CLOEXEC);
	char n[32];
	int mnt;

	if (fs < 0)
		return -errno;
	snprintf(n, sizeof(n), "%" PRIu64, max);
	if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "ptmxmode", "0666", 0) < 0 ||
	    syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "mode", "0620", 0) < 0 ||
	    (max && syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "max", n, 0) < 0) ||
	    syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return -errno;
	mnt = (int) syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
	return mnt < 0 ? -errno : mnt;
}

/*
 * lxcfs (Debian package lxcfs, mounted on /var/lib/lxcfs by its service)
 * answers reads of these files with the reader's cgroup's view: memory_max
 * as MemTotal for free and top, the container's start as its uptime. The
 * same paths inside, so that /proc and /sys show them; a path the
 * container's kernel view lacks (no swap file, no slabinfo) is left out.
 */
static const char *const lxcfs_files[NOOK_LXCFS_FILES] = {
	"/proc/cpuinfo", "/proc/diskstats", "/proc/loadavg",
	"/proc/meminfo", "/proc/stat",      "/proc/swaps",
	"/proc/uptime",  "/proc/slabinfo",  "/sys/devices/system/cpu/online",
};

#define FUSE_SUPER_MAGIC 0x65735546

int nook_lxcfs_trees(const char *dir, struct nook_bind_fd out[NOOK_LXCFS_FILES])
{
	_cleanup_close_ int at = -EBADF;
	struct statfs sf;
	size_t n = 0;
	int r = 0;

	if (strcmp(dir, "none") == 0)
		return 0;
	/* One handle on the mount: the check and the clones see the same
	 * file system, and nothing below it is followed as a link. Not
	 * running (or not installed): nothing, as documented. */
	at = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (at < 0 || fstatfs(at, &sf) < 0 || sf.f_type != FUSE_SUPER_MAGIC)
		return 0;
	for (size_t i = 0; i < NOOK_LXCFS_FILES; i++) {
		int fd = (int) syscall(SYS_open_tree, at, lxcfs_files[i] + 1,
				       OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);

		if (fd < 0 && errno == ENOENT)
			continue;
		if (fd < 0) {
			r = -errno;
			break;
		}
		out[n++] = (struct nook_bind_fd) { .fd = fd, .dst = lxcfs_files[i], .optional = true };
		r = nook_tree_setattr(
			fd, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, -1,
			false);
		if (r < 0)
			break;
	}
	if (r < 0) {
		while (n > 0)
			(void) close(out[--n].fd);
		return r;
	}
	return (int) n;
}
