/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The client side of the keeper's protocol, shared by the PAM module and
 * the helper: one request per connection on /run/nook/<user>/keeper.sock.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "client.h"
#include "util.h"

#define REPLY_TIMEOUT_MS 60000

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

