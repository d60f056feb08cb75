/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nook.conf loading: the main file, then its drop-in directory in lexical
 * order, each checked to be root's before it is read.
 */
#include "conf-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"

/* A config is a few KiB; the cap keeps a mistake (or a log file symlinked
 * into conf.d) from making every login parse megabytes. */
#define CONF_FILE_MAX 1048576 /* 1 MiB */

/* The config decides who is confined and how: anyone who can write it can
 * exempt themselves, so only root may own or write it (DESIGN: security). */
static int check_owner(int fd, const char *path, bool dir, char **ret_err)
{
	struct stat st = { 0 };
	int r = nook_check_root_owned(fd, dir ? S_IFDIR : S_IFREG, S_IWGRP | S_IWOTH, &st);

	if (r == -ENOTDIR || r == -EINVAL)
		return conf_fail_file(ret_err, r, "%s: not a %s; replace it with one", path,
				      dir ? "directory" : "regular file");
	if (r == -EPERM && st.st_uid != 0)
		return conf_fail_file(ret_err, r, "%s: owned by uid %u, must be owned by root; chown root %s",
				      path, (unsigned) st.st_uid, path);
	if (r == -EPERM)
		return conf_fail_file(ret_err, r,
				      "%s: writable by group or others (mode %04o); chmod go-w %s", path,
				      (unsigned) (st.st_mode & 07777), path);
	if (r < 0)
		return conf_fail_file(ret_err, r, "%s: cannot stat: %s", path, strerror(-r));
	if (!dir && st.st_size > CONF_FILE_MAX)
		return conf_fail_file(ret_err, -EFBIG,
				      "%s: %lld bytes, more than the limit of %d; make it smaller", path,
				      (long long) st.st_size, CONF_FILE_MAX);
	return 0;
}

/* Reads at most CONF_FILE_MAX bytes; the file may have grown since fstat. */
static int read_all(int fd, const char *path, char **ret, size_t *ret_len, char **ret_err)
{
	size_t cap = 4096, len = 0;
	_cleanup_free_ char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *nb;
			if (cap > CONF_FILE_MAX)
				return conf_fail_file(ret_err, -EFBIG,
						      "%s: more than the limit of %d bytes; make it smaller",
						      path, CONF_FILE_MAX);
			cap *= 2;
			nb = realloc(buf, cap);
			if (!nb)
				return -ENOMEM;
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return conf_fail_file(ret_err, -errno, "%s: cannot read: %m", path);
		if (n == 0)
			break;
		len += (size_t) n;
	}
	if (len > CONF_FILE_MAX)
		return conf_fail_file(ret_err, -EFBIG, "%s: more than the limit of %d bytes; make it smaller",
				      path, CONF_FILE_MAX);
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

static int load_file(struct nook_conf *c, int dirfd, const char *name, const char *path, char **ret_err)
{
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r;

	/* Symlinks are allowed (admins link shared snippets); what counts is the
	 * file actually opened, hence fstat on the fd. O_NONBLOCK keeps a FIFO
	 * from hanging the login; the S_ISREG check then refuses it. */
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return conf_fail_file(ret_err, -ENOENT,
					      "%s: does not exist; create it (see nook.conf(5))", path);
		return conf_fail_file(ret_err, -errno, "%s: cannot open: %m", path);
	}
	r = check_owner(fd, path, false, ret_err);
	if (r < 0)
		return r;
	r = read_all(fd, path, &buf, &len, ret_err);
	if (r < 0)
		return r;
	return nook_conf_parse_buffer(c, path, buf, len, ret_err);
}

static int strcmp_ptr(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static bool is_dropin_name(const char *n)
{
	size_t len = strlen(n);

	return n[0] != '.' && len > 5 && strcmp(n + len - 5, ".conf") == 0;
}

static int load_dropins(struct nook_conf *c, const char *dpath, char **ret_err)
{
	_cleanup_close_ int dfd = -EBADF;
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_strv_ char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int r;

	dfd = open(dpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		if (errno == ENOENT)
			return 0;
		return conf_fail_file(ret_err, -errno, "%s: cannot open directory: %m", dpath);
	}
	r = check_owner(dfd, dpath, true, ret_err);
	if (r < 0)
		return r;
	d = fdopendir(dfd);
	if (!d)
		return conf_fail_file(ret_err, -errno, "%s: cannot read directory: %m", dpath);
	TAKE_FD(dfd); /* now owned by d */

	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		if (!is_dropin_name(de->d_name))
			continue;
		if (n + 1 >= cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char **nn = reallocarray(names, ncap, sizeof(*nn));
			if (!nn)
				return -ENOMEM;
			names = nn;
			cap = ncap;
		}
		names[n] = strdup(de->d_name);
		if (!names[n])
			return -ENOMEM;
		names[++n] = NULL;
	}
	if (errno)
		return conf_fail_file(ret_err, -errno, "%s: cannot read directory: %m", dpath);
	if (!names)
		return 0;
	/* strcmp, not strcoll: the order must not depend on the locale. */
	qsort(names, n, sizeof(*names), strcmp_ptr);

	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *path = NULL;

		if (asprintf(&path, "%s/%s", dpath, names[i]) < 0)
			return -ENOMEM;
		r = load_file(c, dirfd(d), names[i], path, ret_err);
		if (r < 0)
			return r;
	}
	return 0;
}

int nook_conf_load(const char *path, struct nook_conf **ret, char **ret_err)
{
	_cleanup_free_ char *dpath = NULL;
	struct nook_conf *c;
	char *err = NULL;
	int r;

	if (!path || !ret)
		return -EINVAL;
	if (asprintf(&dpath, "%s.d", path) < 0)
		return -ENOMEM;
	c = nook_conf_new();
	if (!c)
		return -ENOMEM;

	r = load_file(c, AT_FDCWD, path, path, &err);
	if (r >= 0)
		r = load_dropins(c, dpath, &err);
	if (r < 0) {
		nook_conf_free(c);
		if (ret_err)
			*ret_err = err;
		else
			free(err);
		return r;
	}
	*ret = c;
	return 0;
}
