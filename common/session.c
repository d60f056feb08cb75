/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared by the PAM module and the helper: the cgroup a container lives in,
 * the client side of the keeper's protocol, and joining a running container.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "session.h"
#include "util.h"

#define REPLY_TIMEOUT_MS 60000
#define NS_FLAGS                                                                                   \
	(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET | \
	 CLONE_NEWCGROUP)

/* ---- cgroup paths ---- */

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

int nook_cgroup_attach(const struct nook_cgroup *cg, const char *leaf, pid_t pid)
{
	char v[32];

	snprintf(v, sizeof(v), "%d", pid);
	for (size_t i = 0; i < cg->n; i++) {
		_cleanup_close_ int fd = nook_cgroup_open_dir(cg, i, leaf);
		int r;

		if (fd < 0)
			return fd;
		r = nook_write_file_at(fd, "cgroup.procs", v, strlen(v));
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

/* ---- the keeper's protocol ---- */

int nook_ctl_connect(int rundir_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	char dir[64];
	int r;

	if (fd < 0)
		return -errno;
	/* Connect through the verified directory fd, not a path that could
	 * have been replaced: /proc/self/fd/N/keeper.sock. */
	snprintf(dir, sizeof(dir), "/proc/self/fd/%d/keeper.sock", rundir_fd);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", dir);
	r = connect(fd, (struct sockaddr *) &sa, sizeof(sa));
	if (r < 0)
		return -errno;
	return TAKE_FD(fd);
}

/* Parses "ok init=N keeper=N started=N sessions=N loop=DEV cgroup=REST". */
static int parse_info(const char *line, struct nook_session_info *ret)
{
	static const char *const keys[] = { "init=", "keeper=", "started=", "sessions=", "loop=", "cgroup=" };
	struct nook_session_info in = { .init_pidfd = -EBADF };
	const char *p;
	unsigned long long num[4];

	if (strncmp(line, "ok ", 3) != 0)
		return -EPROTO;
	p = line + 3;
	for (size_t k = 0; k < ELEMENTSOF(keys); k++) {
		size_t klen = strlen(keys[k]);
		const char *end;

		if (strncmp(p, keys[k], klen) != 0)
			return -EPROTO;
		p += klen;
		if (k < 4) {
			char *e;

			errno = 0;
			num[k] = strtoull(p, &e, 10);
			if (errno || e == p || *e != ' ')
				return -EPROTO;
			p = e + 1;
		} else if (k == 4) {
			end = strchr(p, ' ');
			if (!end || (size_t) (end - p) >= sizeof(in.loop))
				return -EPROTO;
			if (!(end - p == 1 && *p == '-'))
				memcpy(in.loop, p, (size_t) (end - p));
			p = end + 1;
		} else if ((size_t) snprintf(in.cgroup, sizeof(in.cgroup), "%s", p) >= sizeof(in.cgroup)) {
			return -EPROTO;
		}
	}
	if (num[0] == 0 || num[0] > INT32_MAX || num[1] == 0 || num[1] > INT32_MAX || num[3] > UINT32_MAX)
		return -EPROTO;
	in.init_pid = (pid_t) num[0];
	in.keeper_pid = (pid_t) num[1];
	in.started_usec = num[2];
	in.sessions = (unsigned) num[3];
	*ret = in;
	return 0;
}

static int request(int sock, const char *req, int send_fd, char *reply, size_t size, int *ret_fd)
{
	size_t nfd = ret_fd ? 1 : 0;
	int fd = -EBADF, r;
	ssize_t n;

	r = nook_send_fds(sock, req, strlen(req), send_fd >= 0 ? &send_fd : NULL, send_fd >= 0);
	if (r < 0)
		return r;
	r = nook_wait_readable(sock, REPLY_TIMEOUT_MS);
	if (r <= 0)
		return r < 0 ? r : -ETIMEDOUT;
	n = nook_recv_fds(sock, reply, size - 1, ret_fd ? &fd : NULL, ret_fd ? &nfd : NULL);
	if (n < 0)
		return (int) n;
	if (n == 0)
		return -ECONNRESET; /* the keeper went away (it was stopping) */
	reply[n] = '\0';
	if (ret_fd)
		*ret_fd = nfd ? fd : -EBADF;
	return 0;
}

/* A request whose answer carries init's pidfd (register, attach). */
static int request_init_pidfd(int sock, const char *req, int send_fd, struct nook_session_info *ret)
{
	char reply[4096];
	int fd = -EBADF, r;

	r = request(sock, req, send_fd, reply, sizeof(reply), &fd);
	if (r < 0)
		return r;
	r = parse_info(reply, ret);
	if (r < 0 || fd < 0) {
		if (fd >= 0)
			(void) close(fd);
		return r < 0 ? r : -EPROTO;
	}
	ret->init_pidfd = fd;
	return 0;
}

int nook_ctl_register(int sock, int session_pidfd, struct nook_session_info *ret)
{
	return request_init_pidfd(sock, "register", session_pidfd, ret);
}

int nook_ctl_attach(int sock, struct nook_session_info *ret)
{
	return request_init_pidfd(sock, "attach", -EBADF, ret);
}

int nook_ctl_status(int sock, struct nook_session_info *ret)
{
	char reply[4096];
	int r = request(sock, "status", -EBADF, reply, sizeof(reply), NULL);

	if (r < 0)
		return r;
	return parse_info(reply, ret);
}

int nook_ctl_stop(int sock)
{
	char reply[64];
	int r = request(sock, "stop", -EBADF, reply, sizeof(reply), NULL);

	if (r < 0)
		return r;
	return strcmp(reply, "stopped") == 0 ? 0 : -EPROTO;
}


int nook_rundir_open_existing(const char *user)
{
	char path[128];
	struct stat st;
	_cleanup_close_ int fd = -EBADF;

	if ((size_t) snprintf(path, sizeof(path), NOOK_RUN_DIR "/%s", user) >= sizeof(path) ||
	    strchr(user, '/') || user[0] == '.' || !user[0])
		return -EINVAL;
	fd = nook_open_nofollow(path, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_uid != 0 || (st.st_mode & 0077))
		return -EPERM;
	return TAKE_FD(fd);
}

/* ---- entering ---- */

int nook_join(const struct nook_session_info *info)
{
	struct nook_cgroup cg;
	int r;

	r = nook_cgroup_deserialize(info->cgroup, &cg);
	if (r < 0)
		return r;
	r = nook_cgroup_attach(&cg, NOOK_CG_LEAF_CONTAINER, getpid());
	if (r < 0)
		return r;
	if (setns(info->init_pidfd, NS_FLAGS) < 0)
		return -errno;
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		return -errno;
	/* Read back, as bubblewrap does: the transition must have happened. */
	if (getuid() != 0 || geteuid() != 0 || getgid() != 0 || getegid() != 0)
		return -EPERM;
	return 0;
}
