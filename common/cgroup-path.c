/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A user's cgroup as a value: validated, written down in one line and read
 * back, opened without following links, and joined.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup-path.h"
#include "cleanup.h"
#include "util.h"

bool nook_valid_cg_path(const char *p)
{
	if (!*p || *p == '/')
		return false;
	for (const char *c = p; *c; c++) {
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      *c == '_' || *c == '-' || *c == '.' || *c == '/'))
			return false;
	}
	return !strstr(p, "..") && !strstr(p, "//") && p[strlen(p) - 1] != '/';
}

/* Opens base[i]/user[i] (or one of its leaves) without following symlinks. */
int nook_cgroup_open_dir(const struct nook_cgroup *cg, size_t i, const char *leaf)
{
	_cleanup_close_ int base = open(cg->base[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
	char rel[600];
	int fd;

	if (base < 0)
		return -errno;
	snprintf(rel, sizeof(rel), "%s%s%s", cg->user[i], leaf ? "/" : "", leaf ? leaf : "");
	fd = openat(base, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

bool nook_single_threaded(void)
{
	unsigned long long n;
	char buf[1024];

	return gettid() == getpid() &&
	       nook_read_file_at(AT_FDCWD, "/proc/self/stat", buf, sizeof(buf)) >= 0 &&
	       nook_stat_field(buf, 20, &n) >= 0 && n == 1;
}

int nook_cgroup_move_self(int dirfd, bool by_thread)
{
	char pid[32];

	/* On v1 a process with one thread moves that thread: "0" written
	 * to tasks. The kernel then skips the global threadgroup lock,
	 * whose write side waits for an RCU grace period (1 to 16 ms
	 * measured here, on every login) since Linux 5.17 ("cgroup:
	 * Optimize single thread migration"); older kernels take it and are
	 * as slow as cgroup.procs. Moved, the only thread is the whole
	 * process. On v2 that is only allowed within one domain, which the
	 * moves here never are. */
	if (by_thread)
		return nook_write_file_at(dirfd, "tasks", "0", 1);
	snprintf(pid, sizeof(pid), "%d", getpid());
	return nook_write_file_at(dirfd, "cgroup.procs", pid, strlen(pid));
}

int nook_cgroup_attach(const struct nook_cgroup *cg, const char *leaf)
{
	bool by_thread = !cg->v2 && nook_single_threaded();

	for (size_t i = 0; i < cg->n; i++) {
		_cleanup_close_ int fd = nook_cgroup_open_dir(cg, i, leaf);
		int r;

		if (fd < 0)
			return fd;
		r = nook_cgroup_move_self(fd, by_thread);
		if (r < 0)
			return r;
	}
	return 0;
}

/* "v2|v1 ctrl base user;ctrl base user;..." on one line, for the keeper's
 * replies and state file. */
int nook_cgroup_serialize(const struct nook_cgroup *cg, char *buf, size_t size)
{
	size_t off = 0;
	int w = snprintf(buf, size, "%s", cg->v2 ? "v2" : "v1");

	if (w < 0 || (size_t) w >= size)
		return -ENOBUFS;
	off = (size_t) w;
	for (size_t i = 0; i < cg->n; i++) {
		w = snprintf(buf + off, size - off, " %s:%s:%s", *cg->ctrl[i] ? cg->ctrl[i] : "-",
			     cg->base[i], cg->user[i]);
		if (w < 0 || (size_t) w >= size - off)
			return -ENOBUFS;
		off += (size_t) w;
	}
	return (int) off;
}

int nook_cgroup_deserialize(const char *buf, struct nook_cgroup *ret)
{
	struct nook_cgroup cg = { 0 };
	_cleanup_free_ char *copy = strdup(buf);
	char *save = NULL, *tok;

	if (!copy)
		return -ENOMEM;
	tok = strtok_r(copy, " \n", &save);
	if (!tok || (strcmp(tok, "v1") != 0 && strcmp(tok, "v2") != 0))
		return -EINVAL;
	cg.v2 = strcmp(tok, "v2") == 0;
	while ((tok = strtok_r(NULL, " \n", &save))) {
		char *c1 = strchr(tok, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (!c2 || cg.n >= NOOK_CG_MAX_CTRL)
			return -EINVAL;
		*c1 = *c2 = '\0';
		snprintf(cg.ctrl[cg.n], sizeof(cg.ctrl[0]), "%s", strcmp(tok, "-") != 0 ? tok : "");
		snprintf(cg.base[cg.n], sizeof(cg.base[0]), "%s", c1 + 1);
		snprintf(cg.user[cg.n], sizeof(cg.user[0]), "%s", c2 + 1);
		if (cg.base[cg.n][0] != '/' || !nook_valid_cg_path(cg.user[cg.n]))
			return -EINVAL;
		cg.n++;
	}
	if (cg.n == 0)
		return -EINVAL;
	*ret = cg;
	return 0;
}
