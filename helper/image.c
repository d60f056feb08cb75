/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The user's home image: image_dir/<user>.img, an ext4 file whose root
 * holds upper/ and work/ (Apptainer's overlay layout). On-disk ids are
 * container-relative: the image is only ever mounted idmapped through the
 * container's user namespace, so it survives a change of subid range.
 *
 * The image directory must be root-owned and closed to group and others;
 * the image a root-owned 0600 regular file with one link. Both are opened
 * without following symlinks and checked with fstat after open. An image is
 * never overwritten or recreated once it exists.
 *
 * Every block of the image is allocated in image_dir (fallocate) before a
 * container uses it: a sparse image lets writes inside succeed that the
 * host cannot store later, when image_dir is full, and the loop device's
 * writeback then fails long after write(2) returned (ext4_end_bio: I/O
 * error, journal aborted, the data gone at the next login). Images from
 * before (sparse) are allocated at their next start, or refused then
 * when image_dir lacks the space (image_space = warn starts them anyway).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/loop.h>
#include <linux/mount.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "nook.h"

#define MKFS "/sbin/mkfs.ext4"
#define CP "/bin/cp"

static int check_dir(int fd, const char *path)
{
	struct stat st = { 0 };
	int r = nook_check_root_owned(fd, S_IFDIR, 0077, &st);

	if (r == -ENOTDIR)
		log_err("image_dir %s is not a directory", path);
	else if (r == -EPERM && st.st_uid != 0)
		log_err("image_dir %s is owned by uid %u; it must be owned by root: chown root %s", path,
			st.st_uid, path);
	else if (r == -EPERM)
		log_err("image_dir %s has mode %04o; it must be closed to group and others: chmod 700 %s",
			path, st.st_mode & 07777, path);
	return r;
}

static int check_image(int fd, const char *path)
{
	struct stat st = { 0 };
	int r = nook_check_root_owned(fd, S_IFREG, 0077, &st);

	if (r == -EINVAL) {
		log_err("image %s is not a regular file; move it away and let nook create a new one", path);
		return r;
	}
	if (r < 0 && r != -EPERM)
		return r;
	if (st.st_uid != 0 || st.st_gid != 0) {
		log_err("image %s is owned by %u:%u; it must be root:root: chown root:root %s", path,
			st.st_uid, st.st_gid, path);
		return -EPERM;
	}
	if (r == -EPERM) {
		log_err("image %s has mode %04o; it must be 0600: chmod 600 %s", path, st.st_mode & 07777,
			path);
		return -EPERM;
	}
	if (st.st_nlink != 1) {
		log_err("image %s has %ju hard links; it must have exactly one", path,
			(uintmax_t) st.st_nlink);
		return -EPERM;
	}
	return 0;
}

static int chown_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw);
static uid_t chown_uid;
static gid_t chown_gid;

static int chown_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void) sb;
	(void) flag;
	(void) ftw;
	return lchown(p, chown_uid, chown_gid) < 0 ? -1 : 0;
}

/*
 * Builds the initial tree in a fresh root-only staging directory inside
 * image_dir: upper/<home> seeded from /etc/skel and owned by the user (the
 * user's uid and gid are identity-mapped, so they are the same on disk),
 * upper/ and work/ owned by container root (on-disk 0). The home is marked
 * opaque so the host's copy of the same directory never shows through.
 */
static int populate(const struct nook_user *u, const char *staging)
{
	char path[2200], parents[2100];
	char *argv[] = { CP, "-a", "--no-preserve=ownership", "/etc/skel/.", path, NULL };
	int r;

	snprintf(path, sizeof(path), "%s/work", staging);
	if (mkdir(path, 0755) < 0)
		return -errno;
	snprintf(parents, sizeof(parents), "%s/upper%s", staging, u->home);
	r = nook_mkdir_p(parents, 0755);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "%s/", parents);
	if (access("/etc/skel", F_OK) == 0) {
		r = nook_run_tool(argv, NOOK_TOOL_STDERR);
		if (r != 0)
			return r < 0 ? r : -EIO;
	}
	chown_uid = u->uid;
	chown_gid = u->gid;
	if (nftw(parents, chown_cb, 16, FTW_PHYS) < 0)
		return -errno;
	{
		/* The keys the first login came in with (keys.c). */
		_cleanup_close_ int home = open(parents, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (home < 0)
			return -errno;
		(void) nook_keys_seed(u, home);
	}
	if (chmod(parents, 0700) < 0)
		return -errno;
	if (setxattr(parents, "user.overlay.opaque", "y", 1, 0) < 0)
		return -errno;
	return 0;
}

/* 1.5G, 64.0M, 512K: sizes in the admin's messages. */
static void human(uint64_t v, char *buf, size_t size)
{
	static const char units[] = "KMGTP";
	double d = (double) v / 1024;
	size_t i = 0;

	while (d >= 1024 && i + 1 < sizeof(units) - 1) {
		d /= 1024;
		i++;
	}
	snprintf(buf, size, "%.1f%c", d, units[i]);
}

/* Bytes image_dir has free for ordinary use: root's reserve stays the
 * system's. */
static int dir_free(int dfd, uint64_t *ret)
{
	struct statvfs sv;

	if (fstatvfs(dfd, &sv) < 0)
		return -errno;
	*ret = (uint64_t) sv.f_bavail * sv.f_frsize;
	return 0;
}

static void log_no_space(const char *dir, const char *what, uint64_t need, uint64_t avail)
{
	char a[32], b[32];

	human(need, a, sizeof(a));
	human(avail, b, sizeof(b));
	log_err("image_dir %s has %s free, but %s needs %s more; free space there, move image_dir, or "
		"lower image_size for new images",
		dir, b, what, a);
}

static void log_leftover(const char *name, const char *kind, int error, void *data)
{
	const char *dir = data;

	if (error < 0)
		log_err("cannot remove %s/%s, left by an interrupted image creation: %s; remove it by hand",
			dir, name, strerror(-error));
	else
		log_info("removed %s/%s (%s), left by an interrupted image creation", dir, name, kind);
}

static int image_create(const struct nook_user *u, int dfd, const char *dir, const char *name)
{
	char tmpname[128], stagename[128], tmppath[1024], staging[1024], size[32], label[40];
	_cleanup_close_ int fd = -EBADF;
	int r;

	if (nook_leftover_name(u->name, 0, tmpname, sizeof(tmpname)) < 0 ||
	    nook_leftover_name(u->name, 1, stagename, sizeof(stagename)) < 0)
		return -ENAMETOOLONG;
	snprintf(tmppath, sizeof(tmppath), "%s/%s", dir, tmpname);
	snprintf(staging, sizeof(staging), "%s/%s", dir, stagename);
	/* Leftovers of an interrupted creation: ours to remove (never the
	 * image itself), and no other creation for this user is running, as
	 * the keeper holds the user's lock until its container is up. */
	r = nook_leftovers_remove(dfd, u->name, log_leftover, (void *) dir);
	if (r < 0)
		return r;

	{
		uint64_t avail = 0;
		char what[128];

		snprintf(what, sizeof(what), "a new image for '%s'", u->name);
		r = dir_free(dfd, &avail);
		if (r < 0)
			return r;
		if (avail < u->set.image_size) {
			log_no_space(dir, what, u->set.image_size, avail);
			return -ENOSPC;
		}
		fd = openat(dfd, tmpname, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
		/* Every block now (see the top of this file); posix_fallocate
		 * writes where the file system has no fallocate. */
		r = -posix_fallocate(fd, 0, (off_t) u->set.image_size);
		if (r < 0) {
			if (r == -ENOSPC || r == -EDQUOT) {
				(void) dir_free(dfd, &avail);
				log_no_space(dir, what, u->set.image_size, avail);
			} else {
				log_err("cannot allocate %s: %s", tmppath, strerror(-r));
			}
			goto fail;
		}
	}
	if (mkdirat(dfd, stagename, 0700) < 0) {
		r = -errno;
		goto fail;
	}
	r = populate(u, staging);
	if (r < 0) {
		log_err("cannot prepare the home of '%s' for %s: %s", u->name, tmppath, strerror(-r));
		goto fail;
	}
	snprintf(size, sizeof(size), "%lluk", (unsigned long long) (u->set.image_size / 1024));
	snprintf(label, sizeof(label), "nook-%.10s", u->name);
	{
		/* nodiscard: mke2fs would otherwise punch holes into the
		 * blocks just allocated (its discard of a regular file). */
		char *argv[] = {
			MKFS, "-q",    "-F",    "-m", "0", "-L", label, "-E", "root_owner=0:0,nodiscard",
			"-d", staging, tmppath, size, NULL
		};

		r = nook_run_tool(argv, NOOK_TOOL_STDERR);
	}
	if (r != 0) {
		log_err("mkfs.ext4 of %s failed (status %d)", tmppath, r);
		r = r < 0 ? r : -EIO;
		goto fail;
	}
	if (fsync(fd) < 0) {
		r = -errno;
		goto fail;
	}
	/* RENAME_NOREPLACE: never overwrite an image that appeared meanwhile. */
	if (renameat2(dfd, tmpname, dfd, name, RENAME_NOREPLACE) < 0) {
		r = -errno;
		goto fail;
	}
	/* Only the staging tree is left to remove (the new image has its
	 * name now). */
	(void) nook_leftovers_remove(dfd, u->name, NULL, NULL);
	log_info("created image %s/%s (%s) for '%s'", dir, name, size, u->name);
	return 0;
fail:
	(void) nook_leftovers_remove(dfd, u->name, NULL, NULL);
	return r;
}

void nook_image_close(struct nook_image *img)
{
	if (img->fd >= 0)
		(void) close(img->fd);
	if (img->dir_fd >= 0)
		(void) close(img->dir_fd);
	img->fd = img->dir_fd = -EBADF;
}

/*
 * Makes sure image_dir backs every block of an existing image, allocating
 * the holes of a sparse one (KEEP_SIZE: the contents stay as they are). An
 * image image_dir cannot back is refused, or with image_space = warn started
 * with a warning.
 */
static int image_reserve(const struct nook_user *u, const struct nook_image *img)
{
	struct stat st;
	uint64_t alloc, avail = 0, need;
	char what[600];
	int r;

	if (fstat(img->fd, &st) < 0)
		return -errno;
	alloc = (uint64_t) st.st_blocks * 512;
	if (alloc >= (uint64_t) st.st_size)
		return 0;
	need = (uint64_t) st.st_size - alloc;
	r = dir_free(img->dir_fd, &avail);
	if (r < 0)
		return r;
	snprintf(what, sizeof(what), "the sparse image %s", img->path);
	if (avail >= need) {
		r = fallocate(img->fd, FALLOC_FL_KEEP_SIZE, 0, st.st_size) < 0 ? -errno : 0;
		if (r == 0) {
			log_info("allocated the sparse image %s in full", img->path);
			return 0;
		}
		if (r != -ENOSPC && r != -EDQUOT && r != -EOPNOTSUPP)
			return r;
		if (r == -EOPNOTSUPP)
			avail = 0; /* cannot be made safe here: as if full */
		else
			(void) dir_free(img->dir_fd, &avail);
	}
	if (!u->set.image_space_warn) {
		log_no_space(u->set.image_dir, what, need, avail);
		log_err("the container of '%s' is not started: writes inside could be lost once image_dir "
			"is full (image_space = warn starts it anyway)",
			u->name);
		return -ENOSPC;
	}
	{
		char a[32], b[32];

		human(need, a, sizeof(a));
		human(avail, b, sizeof(b));
		log_warn(
			"image %s is sparse and image_dir %s has %s free of the %s it may need; starting "
			"anyway (image_space = warn): writes inside may fail or be lost once image_dir is full",
			img->path, u->set.image_dir, b, a);
	}
	return 0;
}

int nook_image_open(const struct nook_user *u, bool create, struct nook_image *ret)
{
	const char *dir = u->set.image_dir;
	char name[64];
	struct nook_image img = { .dir_fd = -EBADF, .fd = -EBADF };
	struct stat st;
	int r;

	snprintf(name, sizeof(name), "%s.img", u->name);
	if ((size_t) snprintf(img.path, sizeof(img.path), "%s/%s", dir, name) >= sizeof(img.path))
		return -ENAMETOOLONG;
	img.dir_fd = nook_open_nofollow(dir, O_RDONLY | O_DIRECTORY, 0);
	if (img.dir_fd == -ENOENT && create) {
		r = nook_mkdir_p(dir, 0700);
		if (r < 0) {
			log_err("cannot create image_dir %s: %s", dir, strerror(-r));
			return r;
		}
		img.dir_fd = nook_open_nofollow(dir, O_RDONLY | O_DIRECTORY, 0);
	}
	if (img.dir_fd < 0) {
		r = img.dir_fd;
		if (r == -ELOOP)
			log_err("image_dir %s contains a symlink; use the real path", dir);
		else if (r != -ENOENT || create)
			log_err("image_dir %s: %s", dir, strerror(-r));
		return r;
	}
	r = check_dir(img.dir_fd, dir);
	if (r < 0)
		goto fail;
	img.fd = openat(img.dir_fd, name, O_RDWR | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (img.fd < 0 && errno == ENOENT && create) {
		r = image_create(u, img.dir_fd, dir, name);
		if (r < 0)
			goto fail;
		img.fd = openat(img.dir_fd, name, O_RDWR | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	}
	if (img.fd < 0) {
		r = -errno;
		if (r == -ELOOP)
			log_err("image %s is a symlink; remove it (nook never follows links here)", img.path);
		else if (r == -ENXIO || r == -EWOULDBLOCK)
			log_err("image %s is not a regular file; move it away", img.path);
		else if (r != -ENOENT)
			log_err("image %s: %s", img.path, strerror(-r));
		goto fail;
	}
	r = check_image(img.fd, img.path);
	if (r < 0)
		goto fail;
	/* O_NONBLOCK only guarded the open against FIFOs. */
	if (fcntl(img.fd, F_SETFL, 0) < 0 || fstat(img.fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	img.dev = st.st_dev;
	img.ino = st.st_ino;
	/* CREATE is for a start: the image must then be backed in full. */
	if (create) {
		r = image_reserve(u, &img);
		if (r < 0)
			goto fail;
	}
	*ret = img;
	return 0;
fail:
	nook_image_close(&img);
	return r;
}

int nook_image_lock(const struct nook_image *img, const char *user)
{
	char path[64];
	_cleanup_close_ int fd = -EBADF;
	pid_t holder;

	/* Reopened through /proc: the very file we checked, in a file
	 * description of its own, so that neither the loop device (which
	 * holds img->fd's) nor e2fsck keeps the lock alive after us. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", img->fd);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return TAKE_FD(fd);
	if (errno != EWOULDBLOCK)
		return -errno;
	if (nook_flock_holder(img->dev, img->ino, &holder) > 0)
		log_err("image %s is in use by another keeper (pid %d); not starting a second container for '%s' "
			"(nookctl status %s)",
			img->path, holder, user, user);
	else
		log_err("image %s is in use by another keeper; not starting a second container for '%s'",
			img->path, user);
	return -EBUSY;
}

/* Is any loop device backed by this very inode? Compares device and inode
 * numbers (LOOP_GET_STATUS64), not path strings. */
int nook_image_loop_busy(const struct nook_image *img, char *ret_dev, size_t size)
{
	_cleanup_closedir_ DIR *d = opendir("/sys/block");
	struct dirent *e;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		char path[300];
		struct loop_info64 li;
		_cleanup_close_ int fd = -EBADF;

		if (strncmp(e->d_name, "loop", 4) != 0)
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/loop/backing_file", e->d_name);
		if (access(path, F_OK) < 0)
			continue;
		snprintf(path, sizeof(path), "/dev/%s", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			continue;
		if (ioctl(fd, LOOP_GET_STATUS64, &li) < 0)
			continue;
		if (li.lo_inode == img->ino && li.lo_device == img->dev) {
			if (ret_dev)
				snprintf(ret_dev, size, "%s", path);
			return 1;
		}
	}
	return 0;
}

int nook_image_wait_released(const struct nook_image *img, unsigned timeout_ms)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (unsigned delay_us = 100;; delay_us = delay_us < 20000 ? delay_us * 2 : delay_us) {
		int r = nook_image_loop_busy(img, NULL, 0);

		if (r <= 0)
			return r;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((unsigned long) ((now.tv_sec - start.tv_sec) * 1000 +
				     (now.tv_nsec - start.tv_nsec) / 1000000) >= timeout_ms)
			return -EBUSY;
		struct timespec ts = { 0, (long) delay_us * 1000 };
		nanosleep(&ts, NULL);
	}
}

static int loop_attach(int image_fd, char *ret, size_t size)
{
	_cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	struct loop_config cfg = { .fd = (unsigned) image_fd };

	if (ctl < 0)
		return -errno;
	/* Autoclear: the device lets go of the image when the ext4 mount (its
	 * last user) goes away with the container's mount namespace. */
	cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
	for (int tries = 0; tries < 32; tries++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);
		char path[32];
		int fd;

		if (n < 0)
			return -errno;
		snprintf(path, sizeof(path), "/dev/loop%d", n);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (ioctl(fd, LOOP_CONFIGURE, &cfg) == 0) {
			snprintf(ret, size, "%s", path);
			return fd;
		}
		(void) close(fd);
		/* Another process took this device between GET_FREE and CONFIGURE. */
		if (errno != EBUSY)
			return -errno;
	}
	return -EBUSY;
}

/* Appends the kernel's own words about a failed fsconfig/fsmount. */
static void fs_context_error(int fsfd, char *buf, size_t size)
{
	ssize_t n;

	buf[0] = '\0';
	n = read(fsfd, buf, size - 1);
	if (n > 0) {
		buf[n] = '\0';
		if (buf[n - 1] == '\n')
			buf[n - 1] = '\0';
	}
}

int nook_image_mount(const struct nook_image *img, int userns_fd, char *ret_loop, size_t size)
{
	_cleanup_close_ int loopfd = -EBADF, fsfd = -EBADF, mnt = -EBADF;
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t) userns_fd };
	char loop[32], why[256], super[NOOK_IMAGE_SUPER_SIZE];
	int r;

	/* The superblock as it was: if the kernel refuses the mount, this
	 * tells whether it wrote to the image meanwhile. */
	r = nook_image_read_super(img, super);
	if (r < 0) {
		log_err("cannot read the superblock of image %s: %s", img->path, strerror(-r));
		return r;
	}
	loopfd = loop_attach(img->fd, loop, sizeof(loop));
	if (loopfd < 0) {
		log_err("cannot attach %s to a loop device: %s", img->path, strerror(-loopfd));
		return loopfd;
	}
	fsfd = (int) syscall(SYS_fsopen, "ext4", FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return -errno;
	/* errors=remount-ro: after a metadata error (an I/O error of the
	 * loop device, corruption) ext4 stops writing and every later write
	 * fails with EROFS, visibly, instead of going on (mkfs's default,
	 * errors=continue) and losing or corrupting more. The next start
	 * then runs e2fsck (the error is recorded in the superblock). */
	/* noinit_itable: ext4's background zeroing of inode tables reaches
	 * the loop device as WRITE_ZEROES, which it turns into holes punched
	 * into the image file: the image would be sparse again after its
	 * first mount. The tables stay uninitialized and flagged so (safe). */
	if (syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "source", loop, 0) < 0 ||
	    syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "errors", "remount-ro", 0) < 0 ||
	    syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_FLAG, "noinit_itable", NULL, 0) < 0 ||
	    syscall(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		r = -errno;
		fs_context_error(fsfd, why, sizeof(why));
		/* Let go of the loop device (autoclear) before e2fsck reads
		 * the image. */
		(void) close(TAKE_FD(fsfd));
		(void) close(TAKE_FD(loopfd));
		nook_image_refused(img, loop, r, why, super);
		return r;
	}
	mnt = (int) syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
	if (mnt < 0) {
		r = -errno;
		log_err("cannot mount the file system of image %s (on %s): %s", img->path, loop,
			strerror(-r));
		return r;
	}
	/* The same for the zeroing ext4 does when it splits an unwritten
	 * extent: write the blocks instead, keeping the image allocated. */
	{
		char knob[96];
		_cleanup_close_ int fd = -EBADF;

		snprintf(knob, sizeof(knob), "/sys/fs/ext4/%s/extent_max_zeroout_kb", loop + 5);
		fd = open(knob, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1)
			log_warn("cannot set %s to 0: %s; the image may get holes while it runs", knob,
				 strerror(errno));
	}
	/* On-disk ids are container ids: map them through the container's
	 * user namespace (now, or by the caller once the namespace exists). */
	if (userns_fd >= 0 && syscall(SYS_mount_setattr, mnt, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0) {
		r = -errno;
		log_err("cannot idmap the image %s: %s", img->path, strerror(-r));
		return r;
	}
	snprintf(ret_loop, size, "%s", loop);
	return TAKE_FD(mnt);
}
