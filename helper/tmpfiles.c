/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The container's /run skeleton from tmpfiles.d.
 *
 * The container's /run is a fresh tmpfs, and no systemd-tmpfiles runs
 * inside to fill it: programs that expect the directories their packages
 * declare there (screen: "Cannot make directory '/run/screen'") fail. We
 * take the simple subset that needs no interpretation (a directory directly
 * under /run, plain mode, owner) and leave everything else alone: the files
 * come from packages, and a full tmpfiles engine run by container root on
 * a tree it shares with the user is more than this needs.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/openat2.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "tmpfiles.h"
#include "util.h"

/* In precedence order: a name in an earlier one hides the later ones. */
static const char *const conf_dirs[] = { "etc/tmpfiles.d", "run/tmpfiles.d", "usr/lib/tmpfiles.d" };

#define CONF_MAX_SIZE ((size_t) 64 * 1024)

static bool name_ok(const char *s, size_t len, size_t max, const char *extra)
{
	if (len == 0 || len >= max)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr(extra, s[i])))
			return false;
	return true;
}

/* Splits LINE into at most N whitespace-separated fields; returns how many. */
static size_t split(const char *line, const char **start, size_t *len, size_t n)
{
	size_t k = 0;
	const char *p = line;

	while (k < n) {
		p += strspn(p, " \t");
		if (!*p || *p == '\n')
			break;
		start[k] = p;
		len[k] = strcspn(p, " \t\n");
		p += len[k];
		k++;
	}
	return k;
}

static bool field_is(const char *s, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(s, want, len) == 0;
}

/* An owner field: "-" (root), a user/group name or a number. */
static bool owner_field(const char *s, size_t len, char *out, size_t size)
{
	if (field_is(s, len, "-")) {
		*out = '\0';
		return true;
	}
	if (!name_ok(s, len, size, "._-") || s[0] == '-' || s[0] == '.')
		return false;
	memcpy(out, s, len);
	out[len] = '\0';
	return true;
}

int nook_tmpfiles_parse_line(const char *line, struct nook_run_dir *ret)
{
	const char *f[6];
	size_t l[6], n;
	struct nook_run_dir d = { .mode = 0755 };

	n = split(line, f, l, ELEMENTSOF(f));
	if (n < 2 || f[0][0] == '#')
		return 0;
	if (!field_is(f[0], l[0], "d") && !field_is(f[0], l[0], "D") && !field_is(f[0], l[0], "d!") &&
	    !field_is(f[0], l[0], "D!"))
		return 0;
	/* /run/NAME: one component of plain characters, so no specifier
	 * (%), escape (\), quoting, glob or "..": nothing to interpret. */
	if (l[1] <= 5 || memcmp(f[1], "/run/", 5) != 0 ||
	    !name_ok(f[1] + 5, l[1] - 5, sizeof(d.name), "._-+@:") || f[1][5] == '.')
		return 0;
	memcpy(d.name, f[1] + 5, l[1] - 5);
	if (n > 2 && !field_is(f[2], l[2], "-")) {
		char *end;
		unsigned long m;

		/* Plain octal only: "~" and ":" change an existing entry's mode,
		 * which does not arise on a fresh /run. */
		if (l[2] < 3 || l[2] > 4 || strspn(f[2], "01234567") != l[2])
			return 0;
		m = strtoul(f[2], &end, 8);
		if (end != f[2] + l[2] || m > 07777)
			return 0;
		d.mode = (mode_t) m;
	}
	if (n > 3 && !owner_field(f[3], l[3], d.user, sizeof(d.user)))
		return 0;
	if (n > 4 && !owner_field(f[4], l[4], d.group, sizeof(d.group)))
		return 0;
	*ret = d;
	return 1;
}

void nook_run_dirs_add(struct nook_run_dirs *d, const char *name, mode_t mode)
{
	struct nook_run_dir e = { .mode = mode };

	if (d->n >= NOOK_RUN_DIRS_MAX || strlen(name) >= sizeof(e.name))
		return;
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->dir[i].name, name) == 0)
			return;
	snprintf(e.name, sizeof(e.name), "%s", name);
	d->dir[d->n++] = e;
}

static void add_entry(struct nook_run_dirs *d, const struct nook_run_dir *e)
{
	size_t before = d->n;

	nook_run_dirs_add(d, e->name, e->mode);
	if (d->n > before)
		d->dir[before] = *e;
}

struct conf_file {
	char name[256];
	unsigned dir; /* index into conf_dirs */
};

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct conf_file *) a)->name, ((const struct conf_file *) b)->name);
}

/* Adds the *.conf names of DIR not already in FILES. */
static int list_dir(int root_fd, unsigned dir, struct conf_file *files, size_t *n)
{
	int fd = nook_open_beneath(root_fd, conf_dirs[dir], O_RDONLY | O_DIRECTORY);
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *e;

	if (fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP)
		return 0;
	if (fd < 0)
		return fd;
	d = fdopendir(fd);
	if (!d) {
		int r = -errno;

		(void) close(fd);
		return r;
	}
	while ((e = readdir(d)) && *n < NOOK_RUN_FILES_MAX) {
		size_t len = strlen(e->d_name);
		bool seen = false;

		if (e->d_name[0] == '.' || len <= 5 || len >= sizeof(files[0].name) ||
		    strcmp(e->d_name + len - 5, ".conf") != 0)
			continue;
		for (size_t i = 0; i < *n && !seen; i++)
			seen = strcmp(files[i].name, e->d_name) == 0;
		if (seen)
			continue;
		snprintf(files[*n].name, sizeof(files[*n].name), "%s", e->d_name);
		files[(*n)++].dir = dir;
	}
	return 0;
}

static void read_conf(int root_fd, uid_t owner, const struct conf_file *cf, struct nook_run_dirs *ret)
{
	char path[300];
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	int len;

	snprintf(path, sizeof(path), "%s/%s", conf_dirs[cf->dir], cf->name);
	/* A symlink fails here (ELOOP): tmpfiles.d masks with links to
	 * /dev/null, and a link is nothing we follow as container root. */
	fd = nook_open_beneath(root_fd, path, O_RDONLY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != owner ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)))
		return;
	buf = malloc(CONF_MAX_SIZE);
	if (!buf)
		return;
	len = nook_read_all(fd, buf, CONF_MAX_SIZE);
	if (len < 0)
		return;
	for (char *line = buf, *next; line && *line && ret->n < NOOK_RUN_DIRS_MAX; line = next) {
		struct nook_run_dir e;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (nook_tmpfiles_parse_line(line, &e) == 1)
			add_entry(ret, &e);
	}
}

int nook_tmpfiles_collect(int root_fd, uid_t owner, struct nook_run_dirs *ret)
{
	_cleanup_free_ struct conf_file *files = calloc(NOOK_RUN_FILES_MAX, sizeof(*files));
	size_t n = 0;

	ret->n = 0;
	if (!files)
		return -ENOMEM;
	for (unsigned i = 0; i < ELEMENTSOF(conf_dirs); i++) {
		int r = list_dir(root_fd, i, files, &n);

		if (r < 0)
			return r;
	}
	qsort(files, n, sizeof(*files), by_name);
	for (size_t i = 0; i < n && ret->n < NOOK_RUN_DIRS_MAX; i++)
		read_conf(root_fd, owner, &files[i], ret);
	return 0;
}

/* ROOT_FD's etc/passwd or etc/group, read once for all the lookups of one
 * start: each lookup then scans memory (glibc's fgetpwent_r on a file asks
 * the kernel for the file's offset at every entry). A database that cannot
 * be read, or larger than ID_DB_MAX, has no names: its lookups give root,
 * as a name it lacks does. */
#define ID_DB_MAX ((size_t) 16 * 1024 * 1024)

struct id_db {
	char *buf;
	FILE *f;
};

static void id_db_open(int root_fd, const char *path, struct id_db *ret)
{
	_cleanup_close_ int fd = nook_open_beneath(root_fd, path, O_RDONLY);
	struct stat st;
	int n;

	ret->buf = NULL;
	ret->f = NULL;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (size_t) st.st_size > ID_DB_MAX)
		return;
	ret->buf = malloc((size_t) st.st_size + 1); /* and nook_read_all's NUL */
	if (!ret->buf)
		return;
	n = nook_read_all(fd, ret->buf, (size_t) st.st_size + 1);
	if (n > 0)
		ret->f = fmemopen(ret->buf, (size_t) n, "r");
	if (!ret->f) {
		free(ret->buf);
		ret->buf = NULL;
	}
}

static void id_db_close(struct id_db *db)
{
	if (db->f)
		(void) fclose(db->f);
	free(db->buf);
}

/* NAME as a number, or looked up in DB (etc/passwd, or etc/group for
 * GROUP); 0 (root) when it is neither. */
static unsigned long resolve_id(const struct id_db *db, const char *name, bool group)
{
	char *end;
	unsigned long id;

	if (!*name)
		return 0;
	id = strtoul(name, &end, 10);
	if (*end == '\0')
		return id;
	if (!db->f)
		return 0;
	rewind(db->f);
	for (;;) {
		char buf[4096];

		if (group) {
			struct group gr, *g = NULL;

			if (fgetgrent_r(db->f, &gr, buf, sizeof(buf), &g) != 0 || !g)
				return 0;
			if (strcmp(g->gr_name, name) == 0)
				return g->gr_gid;
		} else {
			struct passwd pw, *p = NULL;

			if (fgetpwent_r(db->f, &pw, buf, sizeof(buf), &p) != 0 || !p)
				return 0;
			if (strcmp(p->pw_name, name) == 0)
				return p->pw_uid;
		}
	}
}

int nook_run_dirs_make(const struct nook_run_dirs *d, int root_fd, int run_fd, const char **ret_failed)
{
	struct id_db users, groups;
	int r = 0;

	id_db_open(root_fd, "etc/passwd", &users);
	id_db_open(root_fd, "etc/group", &groups);
	for (size_t i = 0; i < d->n; i++) {
		const struct nook_run_dir *e = &d->dir[i];
		uid_t uid = (uid_t) resolve_id(&users, e->user, false);
		gid_t gid = (gid_t) resolve_id(&groups, e->group, true);
		_cleanup_close_ int fd = -EBADF;

		/* 0700 until owner and mode are set: never briefly open to all. */
		if (mkdirat(run_fd, e->name, 0700) < 0) {
			if (errno == EEXIST)
				continue; /* made by us already (/run/user): keep it */
			*ret_failed = e->name;
			r = -errno;
			break;
		}
		fd = openat(run_fd, e->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		/* An owner the user namespace does not map (EINVAL: a host-only
		 * id) becomes root: container root holds the namespace, and the
		 * mode still says who may use the directory. */
		if (fd < 0 || (fchown(fd, uid, gid) < 0 && (errno != EINVAL || fchown(fd, 0, 0) < 0)) ||
		    fchmod(fd, e->mode) < 0) {
			*ret_failed = e->name;
			r = -errno;
			break;
		}
	}
	id_db_close(&users);
	id_db_close(&groups);
	return r;
}
