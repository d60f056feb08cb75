/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What an interrupted image creation leaves in image_dir: .USER.img.new
 * (the image being made) and .USER.staging (the tree mkfs.ext4 copies in).
 * Both names are nook's own and never an image's: an image is USER.img, and
 * neither name ends in ".img". They are removed by the next creation for
 * USER and by nookctl clean, both under USER's lock (state.c), which the
 * creating keeper holds until its container is up (keeper.c): a creation
 * in progress is never removed under it.
 *
 * image_dir is root's and closed to others, but the removal is made as if
 * it were not: relative to directory fds, never following a symlink (a
 * symlink named like a leftover is removed itself, its target untouched),
 * and never leaving the file system it started on.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "nook.h"

/* Deeper than any tree populate() makes (the home's path plus /etc/skel). */
#define MAX_DEPTH 64

static const char *const suffixes[] = { ".img.new", ".staging" };

int nook_leftover_name(const char *user, unsigned i, char *buf, size_t size)
{
	if (i >= sizeof(suffixes) / sizeof(suffixes[0]))
		return -ENOENT;
	if ((size_t) snprintf(buf, size, ".%s%s", user, suffixes[i]) >= size)
		return -ENAMETOOLONG;
	return 0;
}

int nook_leftover_user(const char *name, char *buf, size_t size)
{
	size_t len = strlen(name);

	if (name[0] != '.')
		return 0;
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t sl = strlen(suffixes[i]);

		if (len <= sl + 1 || strcmp(name + len - sl, suffixes[i]) != 0 || len - sl - 1 >= size)
			continue;
		memcpy(buf, name + 1, len - sl - 1);
		buf[len - sl - 1] = '\0';
		return nook_valid_user_name(buf) ? 1 : 0;
	}
	return 0;
}

/* Empties the directory FD (on device DEV), depth first. */
static int empty_dir(int fd, dev_t dev, unsigned depth)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *e;
	int dup_fd;

	if (depth > MAX_DEPTH)
		return -ELOOP;
	dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (dup_fd < 0)
		return -errno;
	d = fdopendir(dup_fd);
	if (!d) {
		int r = -errno;

		(void) close(dup_fd);
		return r;
	}
	while ((errno = 0, e = readdir(d))) {
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int sub = -EBADF;
			int r;

			if (st.st_dev != dev)
				return -EXDEV; /* a mount point: not ours to empty */
			sub = openat(fd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0)
				return -errno;
			r = empty_dir(sub, dev, depth + 1);
			if (r < 0)
				return r;
			if (unlinkat(fd, e->d_name, AT_REMOVEDIR) < 0)
				return -errno;
		} else if (unlinkat(fd, e->d_name, 0) < 0) {
			return -errno;
		}
	}
	return errno ? -errno : 0;
}

/* Removes the entry NAME of DFD, a tree if it is a directory. */
static int remove_entry(int dfd, const char *name, const struct stat *st)
{
	_cleanup_close_ int fd = -EBADF;
	struct stat now;
	int r;

	if (!S_ISDIR(st->st_mode))
		return unlinkat(dfd, name, 0) < 0 ? -errno : 0; /* never follows */
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* The directory we looked at, not one put there meanwhile. */
	if (fstat(fd, &now) < 0)
		return -errno;
	if (now.st_dev != st->st_dev || now.st_ino != st->st_ino)
		return -EAGAIN;
	r = empty_dir(fd, now.st_dev, 0);
	if (r < 0)
		return r;
	return unlinkat(dfd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

static const char *kind(mode_t mode)
{
	if (S_ISREG(mode))
		return "file";
	if (S_ISDIR(mode))
		return "directory";
	if (S_ISLNK(mode))
		return "symlink";
	return "special file";
}

int nook_leftovers_remove(int dfd, const char *user, nook_leftover_fn report, void *data)
{
	int removed = 0, first_err = 0;

	for (unsigned i = 0;; i++) {
		char name[NOOK_USER_MAX + 16];
		struct stat st;
		int r = nook_leftover_name(user, i, name, sizeof(name));

		if (r == -ENOENT)
			break;
		if (r < 0)
			return r;
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			r = -errno;
		} else {
			r = remove_entry(dfd, name, &st);
		}
		if (report)
			report(name, r < 0 ? "?" : kind(st.st_mode), r, data);
		if (r < 0) {
			if (!first_err)
				first_err = r;
		} else {
			removed++;
		}
	}
	return first_err ? first_err : removed;
}
