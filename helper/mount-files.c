/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Files the container gets in place of the lower layer's, put by init
 * inside while it builds the root (mount.c): the network's resolv.conf and
 * hosts, the setuid stubs (setuid-stubs.c) and mosh-server's wrapper. Each is written to a small
 * staging tmpfs of init's, cloned, and bind-mounted read-only.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "mount-internal.h"
#include "nook.h"
#include "setuid-stubs.h"

/*
 * The network's /etc/resolv.conf and /etc/hosts (network.c writes them):
 * files on a small tmpfs of init's, bind-mounted read-only over the lower
 * layer's. A symlink is followed inside the new root (resolv.conf often
 * points into /run, which is our empty tmpfs here): a missing target is
 * created when it lies on that tmpfs, never in the user's image.
 */
static int place_file(struct build *b, const char *path, int tree)
{
	char cur[512], link[512];

	snprintf(cur, sizeof(cur), "%s", path);
	for (int hop = 0; hop < 8; hop++) {
		_cleanup_close_ int at = rootfs_resolve(b, cur, O_PATH | O_NOFOLLOW);
		struct stat st;
		ssize_t n;

		if (at == -ENOENT) {
			_cleanup_close_ int fd = -EBADF;
			char *slash;

			if (strncmp(cur, "/run/", 5) != 0 || strstr(cur, "/..") || strstr(cur, "/./"))
				return 0;
			for (char *p = cur + 5; (slash = strchr(p, '/')); p = slash + 1) {
				int r;

				*slash = '\0';
				r = rootfs_mkdir_in(b, cur, 0755);
				*slash = '/';
				if (r < 0)
					return r;
			}
			fd = rootfs_resolve(b, cur, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW);
			if (fd < 0)
				return rootfs_fail(b, fd, "creating %s", cur);
			continue;
		}
		if (at < 0)
			return rootfs_fail(b, at, "%s", cur);
		if (fstat(at, &st) < 0)
			return rootfs_fail(b, -errno, "%s", cur);
		if (S_ISREG(st.st_mode))
			return rootfs_attach(b, tree, cur);
		if (!S_ISLNK(st.st_mode))
			return 0; /* not a file: leave it */
		n = readlinkat(at, "", link, sizeof(link) - 1);
		if (n <= 0)
			return rootfs_fail(b, n < 0 ? -errno : -EINVAL, "reading the link %s", cur);
		link[n] = '\0';
		if (link[0] == '/') {
			snprintf(cur, sizeof(cur), "%s", link);
		} else {
			char *slash = strrchr(cur, '/');
			char dir[512];

			snprintf(dir, sizeof(dir), "%.*s", (int) (slash - cur), cur);
			if ((size_t) snprintf(cur, sizeof(cur), "%s/%s", dir, link) >= sizeof(cur))
				return rootfs_fail(b, -ENAMETOOLONG, "%s", path);
		}
	}
	return rootfs_fail(b, -ELOOP, "%s", path);
}

/*
 * A small tmpfs of init's for files that will be bind-mounted into the
 * root, attached at the staging directory DIR before its files are cloned:
 * before 6.15 open_tree(OPEN_TREE_CLONE) refuses (EINVAL) a source that is
 * not mounted in the caller's namespace, and Debian 12 runs 6.1.
 */
static int staging_tmpfs(struct build *b, const char *dir, uint64_t attrs)
{
	static const char *const opts[] = { "mode", "0755", "size", "64k", "nr_inodes", "16", NULL };
	_cleanup_close_ int fs = rootfs_new_fs(b, "tmpfs", opts, attrs);

	if (fs < 0)
		return fs;
	if (mkdir(dir, 0700) < 0)
		return rootfs_fail(b, -errno, "staging %s/", dir);
	if (syscall(SYS_move_mount, fs, "", AT_FDCWD, dir, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return rootfs_fail(b, -errno, "staging %s/", dir);
	return TAKE_FD(fs);
}

/* Writes TEXT to NAME on the staging tmpfs FS; returns a read-only clone
 * of that one file with ATTRS besides, to be attached in the root. */
static int staged_file(struct build *b, int fs, const char *name, const char *text, mode_t mode,
		       uint64_t attrs)
{
	_cleanup_close_ int fd = openat(fs, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	_cleanup_close_ int tree = -EBADF;
	int r;

	if (fd < 0)
		return rootfs_fail(b, -errno, "writing %s", name);
	r = nook_write_all(fd, text, strlen(text));
	if (r < 0)
		return rootfs_fail(b, r, "writing %s", name);
	tree = (int) syscall(SYS_open_tree, fs, name, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (tree < 0)
		return rootfs_fail(b, -errno, "cloning %s", name);
	r = nook_tree_setattr(tree, MOUNT_ATTR_RDONLY | attrs, -1, false);
	if (r < 0)
		return rootfs_fail(b, r, "making %s read-only", name);
	return TAKE_FD(tree);
}

int rootfs_put_etc_files(struct build *b, const struct nook_etc_files *etc)
{
	const struct {
		const char *name, *text;
	} files[] = {
		{ "resolv.conf", etc->resolv_conf },
		{ "hosts", etc->hosts },
	};
	const uint64_t attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
	_cleanup_close_ int fs = staging_tmpfs(b, "etc", attrs);

	if (fs < 0)
		return fs;
	for (size_t i = 0; i < ELEMENTSOF(files); i++) {
		_cleanup_close_ int tree = -EBADF;
		char path[64];
		int r;

		if (!files[i].text)
			continue;
		tree = staged_file(b, fs, files[i].name, files[i].text, 0644, attrs);
		if (tree < 0)
			return tree;
		snprintf(path, sizeof(path), "/etc/%s", files[i].name);
		r = place_file(b, path, tree);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * mosh-server (net-mosh.c). With a slice of ports forwarded from the host,
 * a wrapper over the lower layer's: it starts the real one (bound at
 * MOSH_REAL) with -p LOW:HIGH (a client's -p, a port nothing forwards,
 * goes), and without -s, which asks for the address sshd was reached on,
 * an address of the host's (the container's own serve: pasta and the
 * bridge deliver there). Without a slice, a stub that
 * says why mosh cannot work, instead of a client that waits for ever.
 * Only where the lower layer has a regular file of root's there.
 */
#define MOSH_SERVER "/usr/bin/mosh-server"
#define MOSH_REAL "/run/nook/mosh-server"

static int mosh_script(const struct nook_etc_files *etc, char *buf, size_t size)
{
	int n;

	if (!etc->mosh_low)
		/* WHY is ours (no quote, no $). */
		n = snprintf(buf, size,
			     "#!/bin/sh\n"
			     "# nook: mosh cannot work in this container.\n"
			     "echo 'mosh-server: %s' >&2\n"
			     "exit 1\n",
			     etc->mosh_why);
	else
		n = snprintf(buf, size,
			     "#!/bin/sh\n"
			     "# nook: the host forwards UDP ports %1$u-%2$u to this container.\n"
			     "[ \"$1\" = new ] || exec " MOSH_REAL
			     " \"$@\"\n"
			     "shift\n"
			     "cmd= skip=\n"
			     "for a; do\n"
			     "\tshift\n"
			     "\tif [ -n \"$skip\" ]; then skip=; continue; fi\n"
			     "\tif [ -z \"$cmd\" ]; then\n"
			     "\t\tcase $a in\n"
			     "\t\t-s | -p?*) continue ;;\n"
			     "\t\t-p) skip=1; continue ;;\n"
			     "\t\t--) cmd=1; set -- \"$@\" -p %1$u:%2$u ;;\n"
			     "\t\tesac\n"
			     "\tfi\n"
			     "\tset -- \"$@\" \"$a\"\n"
			     "done\n"
			     "[ -n \"$cmd\" ] || set -- \"$@\" -p %1$u:%2$u\n"
			     "exec " MOSH_REAL " new \"$@\"\n",
			     etc->mosh_low, etc->mosh_high);
	return (n < 0 || (size_t) n >= size) ? -ENAMETOOLONG : n;
}

static int put_mosh(struct build *b, int fs, const struct nook_etc_files *etc, uint64_t attrs)
{
	_cleanup_close_ int at = -EBADF, tree = -EBADF;
	char text[1024];
	struct stat st;
	int r;

	if (!etc || (!etc->mosh_low && !etc->mosh_why))
		return 0;
	at = rootfs_resolve(b, MOSH_SERVER, O_PATH | O_NOFOLLOW);
	if (at < 0 || fstat(at, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0)
		return 0;
	r = mosh_script(etc, text, sizeof(text));
	if (r < 0)
		return rootfs_fail(b, r, "the wrapper of %s", MOSH_SERVER);
	if (etc->mosh_low) {
		_cleanup_close_ int real = -EBADF, spot = -EBADF;

		real = (int) syscall(SYS_open_tree, at, "",
				     OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
		if (real < 0)
			return rootfs_fail(b, -errno, "cloning %s", MOSH_SERVER);
		r = nook_tree_setattr(real, MOUNT_ATTR_RDONLY | attrs, -1, false);
		if (r < 0)
			return rootfs_fail(b, r, "making %s read-only", MOSH_REAL);
		r = rootfs_mkdir_in(b, "/run/nook", 0755);
		if (r < 0)
			return r;
		spot = rootfs_resolve(b, MOSH_REAL, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW);
		if (spot < 0)
			return rootfs_fail(b, spot, "creating %s", MOSH_REAL);
		r = rootfs_attach(b, real, MOSH_REAL);
		if (r < 0)
			return r;
	}
	tree = staged_file(b, fs, "mosh-server", text, 0555, attrs);
	if (tree < 0)
		return tree;
	return rootfs_attach(b, tree, MOSH_SERVER);
}

/*
 * The stubs of setuid-stubs.c over the setuid programs that cannot work
 * here: only where the root holds the real one (a regular file of root's
 * with the setuid or setgid bit), so a program the user installed in the
 * image stays theirs. Executable, but read-only, nosuid and nodev. Then
 * mosh-server's wrapper or stub, on the same staging tmpfs.
 */
int rootfs_put_stubs(struct build *b, const struct nook_etc_files *etc)
{
	const uint64_t attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
	_cleanup_close_ int fs = staging_tmpfs(b, "stubs", attrs);

	if (fs < 0)
		return fs;
	for (size_t i = 0; i < nook_setuid_stubs_n; i++) {
		const struct nook_setuid_stub *s = &nook_setuid_stubs[i];
		_cleanup_close_ int at = rootfs_resolve(b, s->path, O_PATH);
		_cleanup_close_ int tree = -EBADF;
		char name[24], text[512];
		struct stat st;
		int r;

		if (at < 0 || fstat(at, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
		    !(st.st_mode & (S_ISUID | S_ISGID)))
			continue;
		r = nook_setuid_stub_script(s, text, sizeof(text));
		if (r < 0)
			return rootfs_fail(b, r, "stub for %s", s->path);
		snprintf(name, sizeof(name), "%zu", i);
		tree = staged_file(b, fs, name, text, 0555, attrs);
		if (tree < 0)
			return tree;
		r = rootfs_attach(b, tree, s->path);
		if (r < 0)
			return r;
	}
	return put_mosh(b, fs, etc, attrs);
}
