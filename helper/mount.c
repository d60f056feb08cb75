/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The container's root file system, built inside (init, container root, in
 * the new user and mount namespaces): a
 * staging tmpfs over the cwd; the lower tree and the image moved into it;
 * the overlay mounted from inside the user namespace (host root mounting it
 * over an idmapped upper fails with EOVERFLOW); secrets masked; proc, sys,
 * dev, tmp, run; binds; pivot_root. Also the primitives the other two
 * mount-*.c files share through mount-internal.h (struct build, the
 * resolving, mounting and error helpers).
 *
 * What the keeper prepares on the host side (detached clones, the /dev
 * tmpfs, the devpts instance) is mount-host.c; the files put over the
 * lower layer's (resolv.conf, hosts, setuid stubs) are mount-files.c.
 *
 * Every target inside the new root is resolved with openat2(RESOLVE_IN_ROOT):
 * a symlink in the user's writable layer can never send a mount outside it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cleanup.h"
#include "mount-internal.h"
#include "nook.h"
#include "tmpfiles.h"

/* ---- inside ---- */

int rootfs_fail(struct build *b, int r, const char *fmt, ...)
{
	va_list ap;
	size_t off;

	va_start(ap, fmt);
	vsnprintf(b->err, b->errsize, fmt, ap);
	va_end(ap);
	off = strlen(b->err);
	snprintf(b->err + off, b->errsize - off, ": %s", strerror(r < 0 ? -r : r));
	return r < 0 ? r : -r;
}

/* Resolves REL (absolute container path) under the new root. */
int rootfs_resolve(struct build *b, const char *path, int flags)
{
	struct open_how how = {
		.flags = (unsigned) flags | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int) syscall(SYS_openat2, b->root, path, &how, sizeof(how));

	return fd < 0 ? -errno : fd;
}

/* fsopen + options + fsmount: a new detached mount of FSTYPE. */
int rootfs_new_fs(struct build *b, const char *fstype, const char *const *opts, uint64_t attrs)
{
	_cleanup_close_ int fs = (int) syscall(SYS_fsopen, fstype, FSOPEN_CLOEXEC);
	int mnt;

	if (fs < 0)
		return rootfs_fail(b, -errno, "fsopen %s", fstype);
	for (const char *const *o = opts; o && *o; o += 2) {
		int r = o[1] ? (int) syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, o[0], o[1], 0)
			     : (int) syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, o[0], NULL, 0);

		if (r < 0)
			return rootfs_fail(b, -errno, "%s option %s=%s", fstype, o[0], o[1] ? o[1] : "");
	}
	if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		char why[200] = "";
		int r = -errno;
		ssize_t n = read(fs, why, sizeof(why) - 1);

		if (n > 0)
			why[n - 1] = '\0';
		return rootfs_fail(b, r, "creating %s%s%s", fstype, *why ? " " : "", why);
	}
	mnt = (int) syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, attrs);
	if (mnt < 0)
		return rootfs_fail(b, -errno, "fsmount %s", fstype);
	return mnt;
}

/* Moves the detached tree TREE onto PATH inside the new root. */
int rootfs_attach(struct build *b, int tree, const char *path)
{
	_cleanup_close_ int target = rootfs_resolve(b, path, O_PATH);

	if (target < 0)
		return rootfs_fail(b, target, "mount point %s", path);
	if (syscall(SYS_move_mount, tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) <
	    0)
		return rootfs_fail(b, -errno, "mounting on %s", path);
	return 0;
}

static int mount_new(struct build *b, const char *fstype, const char *const *opts, uint64_t attrs,
		     const char *path)
{
	_cleanup_close_ int mnt = rootfs_new_fs(b, fstype, opts, attrs);

	if (mnt < 0)
		return mnt;
	return rootfs_attach(b, mnt, path);
}

/*
 * A tmpfs the user can write to, of MODE and b->tmpfs_size. Without size=
 * each would take up to half the host's RAM; the file is nobody's memory,
 * so filling it past memory_max pins the cgroup at its limit and every
 * later login is OOM-killed (issue 10). With size= it ends in ENOSPC.
 */
static int mount_user_tmpfs(struct build *b, const char *mode, const char *path)
{
	const char *const opts[] = { "mode", mode, *b->tmpfs_size ? "size" : NULL, b->tmpfs_size, NULL };

	return mount_new(b, "tmpfs", opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, path);
}

/* Bind-mounts PATH onto itself with extra ATTRS (e.g. read-only). */
static int remount_attrs(struct build *b, const char *path, uint64_t attrs)
{
	_cleanup_close_ int at = rootfs_resolve(b, path, O_PATH);
	_cleanup_close_ int tree = -EBADF;

	if (at == -ENOENT)
		return 0;
	if (at < 0)
		return rootfs_fail(b, at, "%s", path);
	tree = (int) syscall(SYS_open_tree, at, "",
			     OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
	if (tree < 0)
		return rootfs_fail(b, -errno, "cloning %s", path);
	if (nook_tree_setattr(tree, attrs, -1, true) < 0)
		return rootfs_fail(b, -errno, "making %s read-only", path);
	return rootfs_attach(b, tree, path);
}

/*
 * Hides PATH: a directory under an empty read-only tmpfs, anything else
 * under the host's /dev/null (as Docker does). A path that does not exist
 * needs no mask.
 */
static int mask(struct build *b, const char *path)
{
	_cleanup_close_ int at = rootfs_resolve(b, path, O_PATH);
	_cleanup_close_ int tree = -EBADF;
	struct stat st;
	int r;

	if (at == -ENOENT || at == -ENOTDIR)
		return 0;
	if (at < 0)
		return rootfs_fail(b, at, "masking %s", path);
	if (fstat(at, &st) < 0)
		return rootfs_fail(b, -errno, "masking %s", path);
	/* A clone of one empty tmpfs for every directory (see
	 * mask_dir_new), of the host's /dev/null for every other file. */
	tree = (int) syscall(SYS_open_tree, S_ISDIR(st.st_mode) ? b->maskdir : b->devnull, "",
			     OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	if (tree < 0)
		return rootfs_fail(b, -errno, "cloning the mask of %s", path);
	/* Read-only, nosuid, noexec: a mask is nothing to write to or run.
	 * The directories' tmpfs was made so, and a clone keeps its mount's
	 * attributes; /dev/null's bind is set so here. */
	if (!S_ISDIR(st.st_mode)) {
		r = nook_tree_setattr(tree, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, -1,
				      false);
		if (r < 0)
			return rootfs_fail(b, r, "masking %s", path);
	}
	return rootfs_attach(b, tree, path);
}

/* The mask of every directory: one empty tmpfs, mounted on "mask" in the
 * staging tmpfs (the cwd) and cloned for each masked directory, instead of
 * a tmpfs of its own for each (a superblock made at every start and torn
 * down at every stop). Attached, because before 6.15 a clone of a detached
 * mount is EINVAL (Debian 12 runs 6.1). Returns an O_PATH fd on it. */
static int mask_dir_new(struct build *b)
{
	static const char *const opts[] = { "mode", "0755", "size", "4k", "nr_inodes", "8", NULL };
	_cleanup_close_ int mnt = -EBADF;
	int fd;

	if (mkdir("mask", 0700) < 0)
		return rootfs_fail(b, -errno, "staging directory for masks");
	mnt = rootfs_new_fs(b, "tmpfs", opts,
			    MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
	if (mnt < 0)
		return mnt;
	if (syscall(SYS_move_mount, mnt, "", AT_FDCWD, "mask", MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return rootfs_fail(b, -errno, "mask tmpfs");
	fd = open("mask", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return rootfs_fail(b, -errno, "mask tmpfs");
	return fd;
}

/* Paths of the lower layer that no container may see (besides `hide`):
 * other users' homes and every host secret readable by container root,
 * which owns host root's files through the idmapped lower layer. */
static const char *const masked_paths[] = {
	"/home",         "/root",        "/var/lib/nook",  "/etc/shadow",      "/etc/shadow-", "/etc/gshadow",
	"/etc/gshadow-", "/etc/sudoers", "/etc/sudoers.d", "/etc/ssl/private", "/etc/nook",    "/var/backups",
};

/* Docker's masked and read-only /proc and /sys paths: kernel memory,
 * keyrings and timers of the whole host, and the knobs that change it. */
static const char *const masked_proc[] = {
	"/proc/acpi",          "/proc/asound",         "/proc/kcore",
	"/proc/keys",          "/proc/latency_stats",  "/proc/timer_list",
	"/proc/timer_stats",   "/proc/sched_debug",    "/proc/scsi",
	"/proc/interrupts",    "/proc/kallsyms",       "/proc/kmsg",
	"/proc/sysrq-trigger", "/sys/firmware",        "/sys/devices/virtual/powercap",
	"/sys/kernel/debug",   "/sys/kernel/security",
};
static const char *const readonly_proc[] = {
	"/proc/bus",
	"/proc/fs",
	"/proc/irq",
	"/proc/sys",
};

/* sshd's private host keys: ssh_host_*_key (not the .pub files). */
static int mask_host_keys(struct build *b)
{
	int dfd = rootfs_resolve(b, "/etc/ssh", O_RDONLY | O_DIRECTORY);
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *e;

	if (dfd < 0)
		return 0;
	d = fdopendir(dfd); /* owns dfd from here on */
	if (!d) {
		int r = -errno;

		(void) close(dfd);
		return rootfs_fail(b, r, "/etc/ssh");
	}
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		char path[300];
		int r;

		if (strncmp(e->d_name, "ssh_host_", 9) != 0 || len < 4 ||
		    strcmp(e->d_name + len - 4, "_key") != 0)
			continue;
		snprintf(path, sizeof(path), "/etc/ssh/%s", e->d_name);
		r = mask(b, path);
		if (r < 0)
			return r;
	}
	return 0;
}

int rootfs_mkdir_in(struct build *b, const char *path, mode_t mode)
{
	_cleanup_close_ int fd = rootfs_resolve(b, path, O_PATH | O_DIRECTORY);

	if (fd >= 0)
		return 0;
	/* The parent must exist; PATH's last component is created. */
	const char *slash = strrchr(path, '/');
	char parent[512];

	snprintf(parent, sizeof(parent), "%.*s", (int) (slash - path), path);
	_cleanup_close_ int pfd = rootfs_resolve(b, *parent ? parent : "/", O_PATH | O_DIRECTORY);
	if (pfd < 0)
		return rootfs_fail(b, pfd, "%s", parent);
	if (mkdirat(pfd, slash + 1, mode) < 0 && errno != EEXIST)
		return rootfs_fail(b, -errno, "mkdir %s", path);
	return 0;
}

/* Inside: the prepared /dev, the container's devpts, shm and mqueue. */
static int build_dev(struct build *b, int dev_fd, int pts_fd)
{
	int r;

	r = rootfs_attach(b, dev_fd, "/dev");
	if (r >= 0)
		r = rootfs_attach(b, pts_fd, "/dev/pts");
	if (r >= 0)
		r = mount_user_tmpfs(b, "1777", "/dev/shm");
	if (r >= 0)
		r = mount_new(b, "mqueue", NULL, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
			      "/dev/mqueue");
	if (r < 0)
		return r;
	/* The host's syslog socket, so that logging inside reaches the host. */
	if (access("/dev/log", F_OK) == 0) {
		_cleanup_close_ int log = (int) syscall(SYS_open_tree, AT_FDCWD, "/dev/log",
							OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);

		if (log >= 0)
			(void) rootfs_attach(b, log, "/dev/log");
	}
	return 0;
}

/*
 * The user's runtime directory, /run/user/UID (0700, theirs), on the
 * container's fresh /run: pam_systemd points XDG_RUNTIME_DIR there on the
 * host, and programs that find it set expect it to exist (the host's copy,
 * made by logind, is not visible inside).
 */
static int make_runtime_dir(struct build *b, const struct nook_user *u)
{
	_cleanup_close_ int run = rootfs_resolve(b, "/run", O_PATH | O_DIRECTORY);
	_cleanup_close_ int users = -EBADF, dir = -EBADF;
	char name[32];

	if (run < 0)
		return rootfs_fail(b, run, "/run");
	if (mkdirat(run, "user", 0755) < 0 && errno != EEXIST)
		return rootfs_fail(b, -errno, "mkdir /run/user");
	users = openat(run, "user", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (users < 0)
		return rootfs_fail(b, -errno, "/run/user");
	snprintf(name, sizeof(name), "%u", (unsigned) u->uid);
	if (mkdirat(users, name, 0700) < 0)
		return rootfs_fail(b, -errno, "mkdir /run/user/%s", name);
	dir = openat(users, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0 || fchown(dir, u->uid, u->gid) < 0 || fchmod(dir, 0700) < 0)
		return rootfs_fail(b, -errno, "/run/user/%s", name);
	return 0;
}

/*
 * The directories the lower layer's tmpfiles.d declares directly under /run
 * (screen's /run/screen, ...: no systemd-tmpfiles runs inside to make them
 * on our fresh tmpfs), and /run/lock (1777; Debian's /var/lock points there)
 * when the host has one. See tmpfiles.c for what is read and how owners map.
 */
static int make_run_dirs(struct build *b)
{
	_cleanup_close_ int lower = open("lower", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int run = rootfs_resolve(b, "/run", O_PATH | O_DIRECTORY);
	struct nook_run_dirs dirs = { 0 };
	const char *failed = "";
	struct stat st;
	int r;

	if (lower < 0)
		return rootfs_fail(b, -errno, "staging lower");
	if (run < 0)
		return rootfs_fail(b, run, "/run");
	/* Container root owns host root's files through the idmapped lower. */
	r = nook_tmpfiles_collect(lower, 0, &dirs);
	if (r < 0)
		return rootfs_fail(b, r, "reading tmpfiles.d of %s", "the lower layer");
	/* Before pivot_root, "/" is still the host's. */
	if (fstatat(AT_FDCWD, "/run/lock", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
		nook_run_dirs_add(&dirs, "lock", 01777);
	r = nook_run_dirs_make(&dirs, lower, run, &failed);
	if (r < 0)
		return rootfs_fail(b, r, "/run/%s", failed);
	return 0;
}

/* Ensures upper/<home> exists in the image (an image made elsewhere may lack
 * it): owned by the user, opaque so the host's copy never shows through. */
static int ensure_home(struct build *b, const struct nook_user *u)
{
	char path[1024];
	_cleanup_close_ int fd = -EBADF;

	snprintf(path, sizeof(path), "image/upper%s", u->home);
	fd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0)
		return 0;
	for (char *p = path + strlen("image/upper") + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char saved = *p;

			*p = '\0';
			if (mkdir(path, saved ? 0755 : 0700) < 0 && errno != EEXIST)
				return rootfs_fail(b, -errno, "creating %s in the image", path);
			*p = saved;
			if (!saved)
				break;
		}
	}
	if (chown(path, u->uid, u->gid) < 0)
		return rootfs_fail(b, -errno, "chown %s", path);
	if (setxattr(path, "user.overlay.opaque", "y", 1, 0) < 0)
		return rootfs_fail(b, -errno, "marking %s opaque", path);
	return 0;
}

int rootfs_upper_like_lower(struct build *b, int up_dir, int lo_dir, const char *name)
{
	_cleanup_close_ int fd = -EBADF;
	struct stat st;

	if (fstatat(lo_dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return rootfs_fail(b, -errno, "lower %s", name);
	if (mkdirat(up_dir, name, 0700) == 0) {
		fd = nook_open_beneath(up_dir, name, O_RDONLY | O_DIRECTORY);
		if (fd < 0)
			return rootfs_fail(b, fd, "upper %s", name);
		if (fchown(fd, st.st_uid, st.st_gid) < 0 || fchmod(fd, st.st_mode & 07777) < 0)
			return rootfs_fail(b, -errno, "upper %s", name);
		return TAKE_FD(fd);
	}
	if (errno != EEXIST)
		return rootfs_fail(b, -errno, "creating %s in the image", name);
	fd = nook_open_beneath(up_dir, name, O_RDONLY | O_DIRECTORY);
	return fd < 0 ? rootfs_fail(b, fd, "%s in the image", name) : TAKE_FD(fd);
}

/*
 * Directories of the lower layer that every user may write to: their
 * entries would show other users' and the host's files, and a file placed
 * there by the host would show inside (issue 10). Each one that is a real
 * directory in the lower layer (Debian's /var/lock is a link to /run/lock,
 * our tmpfs) becomes an opaque directory of the image's upper layer:
 * private, persistent like /var/tmp must be, the lower's entries hidden.
 * pam_namespace does the same for /tmp and /var/tmp of host logins.
 */
static int private_dirs(struct build *b)
{
	static const char *const dirs[][2] = { { "var", "tmp" }, { "var", "lock" } };
	_cleanup_close_ int lower = open("lower", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int upper = open("image/upper", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (lower < 0 || upper < 0)
		return rootfs_fail(b, -errno, "staging layers");
	for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
		_cleanup_close_ int lo_parent = nook_open_beneath(lower, dirs[i][0], O_PATH | O_DIRECTORY);
		_cleanup_close_ int up_parent = -EBADF, fd = -EBADF;
		struct stat st;

		if (lo_parent < 0 || fstatat(lo_parent, dirs[i][1], &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode))
			continue; /* nothing of the host's to hide */
		up_parent = rootfs_upper_like_lower(b, upper, lower, dirs[i][0]);
		if (up_parent < 0)
			return up_parent;
		fd = rootfs_upper_like_lower(b, up_parent, lo_parent, dirs[i][1]);
		if (fd < 0)
			return fd;
		if (fsetxattr(fd, "user.overlay.opaque", "y", 1, 0) < 0)
			return rootfs_fail(b, -errno, "marking /%s/%s opaque in the image", dirs[i][0],
					   dirs[i][1]);
	}
	return 0;
}

int nook_rootfs_build(const struct nook_rootfs_args *a, char *err, size_t errsize)
{
	static const char *const stage_opts[] = { "mode", "0700", NULL };
	struct build b = {
		.err = err, .errsize = errsize, .root = -EBADF, .devnull = -EBADF, .maskdir = -EBADF
	};
	const struct nook_user *u = a->user;
	_cleanup_close_ int stage = -EBADF, ovl = -EBADF, home = -EBADF;
	char homepath[1024];
	int r;

	if (u->set.tmpfs_size)
		snprintf(b.tmpfs_size, sizeof(b.tmpfs_size), "%" PRIu64 "k", u->set.tmpfs_size >> 10);
	/* Our mounts must not propagate back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return rootfs_fail(&b, -errno, "making / private");

	/* Staging tmpfs over the cwd (a root-only directory under /run/nook
	 * that container root could not even walk to by path). */
	stage = rootfs_new_fs(&b, "tmpfs", stage_opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
	if (stage < 0)
		return stage;
	if (syscall(SYS_move_mount, stage, "", AT_FDCWD, ".", MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return rootfs_fail(&b, -errno, "staging tmpfs");
	if (fchdir(stage) < 0)
		return rootfs_fail(&b, -errno, "entering staging tmpfs");
	if (mkdir("lower", 0700) < 0 || mkdir("image", 0700) < 0 || mkdir("root", 0755) < 0)
		return rootfs_fail(&b, -errno, "staging directories");
	if (syscall(SYS_move_mount, a->lower_fd, "", AT_FDCWD, "lower", MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return rootfs_fail(&b, -errno, "lower layer %s", u->set.rootfs);
	if (syscall(SYS_move_mount, a->image_fd, "", AT_FDCWD, "image", MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return rootfs_fail(&b, -errno, "image");
	if ((mkdir("image/upper", 0755) < 0 && errno != EEXIST) ||
	    (mkdir("image/work", 0755) < 0 && errno != EEXIST))
		return rootfs_fail(&b, -errno, "upper/ and work/ in the image");
	r = ensure_home(&b, u);
	if (r < 0)
		return r;
	r = private_dirs(&b);
	if (r < 0)
		return r;
	r = rootfs_cron_spool(&b, u);
	if (r < 0)
		return r;

	{
		/* The source, what mount tables show for /, is the image: df
		 * on / reports the image's space (the upper layer's), and
		 * tools that list only mounts of a path-like source (ansible's
		 * mount facts) list /. */
		char source[PATH_MAX];

		if ((size_t) snprintf(source, sizeof(source), "%s/%s.img", u->set.image_dir, u->name) >=
		    sizeof(source))
			return rootfs_fail(&b, -ENAMETOOLONG, "overlay source");
		/* Relative layer paths resolve against the staging cwd. */
		/* "lowerdir" rather than 6.8's "lowerdir+": one layer, and
		 * older kernels (Debian 12's 6.1) accept it too. */
		const char *const ovl_opts[] = { "source",    source,        "lowerdir", "lower",
						 "upperdir",  "image/upper", "workdir",  "image/work",
						 "userxattr", NULL,          NULL };
		ovl = rootfs_new_fs(&b, "overlay", ovl_opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
		if (ovl < 0)
			return ovl;
	}
	if (syscall(SYS_move_mount, ovl, "", AT_FDCWD, "root", MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return rootfs_fail(&b, -errno, "overlay on root");
	b.root = open("root", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (b.root < 0)
		return rootfs_fail(&b, -errno, "overlay root");
	/* An O_PATH handle, not a clone: each mask clones it, and before 6.15
	 * a clone of a detached mount is EINVAL (Debian 12 runs 6.1). */
	b.devnull = open("/dev/null", O_PATH | O_CLOEXEC);
	if (b.devnull < 0)
		return rootfs_fail(&b, -errno, "/dev/null");
	b.maskdir = mask_dir_new(&b);
	if (b.maskdir < 0)
		return b.maskdir;

	/* Keep a handle on the home (in the overlay) before /home is masked. */
	{
		_cleanup_close_ int at = rootfs_resolve(&b, u->home, O_PATH | O_DIRECTORY);

		if (at < 0)
			return rootfs_fail(&b, at, "home %s", u->home);
		home = (int) syscall(SYS_open_tree, at, "",
				     OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
		if (home < 0)
			return rootfs_fail(&b, -errno, "home %s", u->home);
	}

	if ((r = mount_new(&b, "proc", NULL, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
			   "/proc")) < 0 ||
	    (r = mount_new(&b, "sysfs", NULL,
			   MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
			   "/sys")) < 0 ||
	    (r = build_dev(&b, a->dev_fd, a->pts_fd)) < 0 || (r = mount_user_tmpfs(&b, "1777", "/tmp")) < 0 ||
	    (r = mount_user_tmpfs(&b, "0755", "/run")) < 0 || (r = make_runtime_dir(&b, u)) < 0 ||
	    (r = make_run_dirs(&b)) < 0)
		return r;

	for (size_t i = 0; i < ELEMENTSOF(masked_paths); i++)
		if ((r = mask(&b, masked_paths[i])) < 0)
			return r;
	if ((r = mask_host_keys(&b)) < 0)
		return r;
	for (char **h = u->set.hide; h && *h; h++)
		if ((r = mask(&b, *h)) < 0)
			return r;
	for (size_t i = 0; i < ELEMENTSOF(masked_proc); i++)
		if ((r = mask(&b, masked_proc[i])) < 0)
			return r;
	for (size_t i = 0; i < ELEMENTSOF(readonly_proc); i++)
		if ((r = remount_attrs(&b, readonly_proc[i], MOUNT_ATTR_RDONLY)) < 0)
			return r;

	if (a->etc && (r = rootfs_put_etc_files(&b, a->etc)) < 0)
		return r;
	if ((r = rootfs_put_stubs(&b, a->etc)) < 0)
		return r;

	/* The home comes back on top of the masks: on a tmpfs under the
	 * masked parent when the parent is masked. */
	snprintf(homepath, sizeof(homepath), "%s", u->home);
	{
		_cleanup_close_ int at = rootfs_resolve(&b, homepath, O_PATH | O_DIRECTORY);

		if (at < 0) {
			static const char *const opts[] = { "mode", "0755", NULL };
			char *slash = strrchr(homepath, '/');
			char parent[1024];

			snprintf(parent, sizeof(parent), "%.*s", (int) (slash - homepath), homepath);
			r = mount_new(&b, "tmpfs", opts,
				      MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
				      *parent ? parent : "/");
			if (r < 0)
				return r;
			r = rootfs_mkdir_in(&b, homepath, 0700);
			if (r < 0)
				return r;
			r = remount_attrs(&b, parent, MOUNT_ATTR_RDONLY);
			if (r < 0)
				return r;
		}
	}
	r = rootfs_attach(&b, home, homepath);
	if (r < 0)
		return r;

	for (size_t i = 0; i < a->n_binds; i++) {
		_cleanup_close_ int at = rootfs_resolve(&b, a->binds[i].dst, O_PATH);

		if (at == -ENOENT && a->binds[i].optional)
			continue;
		if (at == -ENOENT) {
			r = rootfs_mkdir_in(&b, a->binds[i].dst, 0755);
			if (r < 0)
				return r;
		}
		r = rootfs_attach(&b, a->binds[i].fd, a->binds[i].dst);
		if (r < 0)
			return r;
	}

	/* pivot_root(".", "."): the old root ends up stacked on the new one
	 * and is detached right away (no put_old directory, and no handle on
	 * the old root is needed: umount2(".") finds it on top). */
	if (fchdir(b.root) < 0)
		return rootfs_fail(&b, -errno, "entering the new root");
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return rootfs_fail(&b, -errno, "pivot_root");
	if (umount2(".", MNT_DETACH) < 0)
		return rootfs_fail(&b, -errno, "detaching the old root");
	if (chdir("/") < 0)
		return rootfs_fail(&b, -errno, "chdir /");
	(void) close(b.root);
	(void) close(b.devnull);
	(void) close(b.maskdir);
	return 0;
}
