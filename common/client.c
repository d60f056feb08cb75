/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The client side of the keeper's protocol, shared by the PAM module and
 * the helper: one request per connection on /run/nook/<user>/keeper.sock.
 */
#include <errno.h>
#include <fcntl.h>
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

/*
 * Sends REQ (with SEND_FD, if >= 0) and reads the reply into RET; with
 * RET_FD, the fd the reply brings (-EBADF if none). A reply that does not
 * parse is -EPROTO.
 */
static int request(int sock, enum nook_req req, int send_fd, struct nook_reply *ret, int *ret_fd)
{
	const char *name = nook_req_name(req);
	char reply[NOOK_PROTO_MAX];
	size_t nfd = ret_fd ? 1 : 0;
	int fd = -EBADF, r;
	ssize_t n;

	r = nook_send_fds(sock, name, strlen(name), send_fd >= 0 ? &send_fd : NULL, send_fd >= 0);
	if (r < 0)
		return r;
	r = nook_wait_readable(sock, REPLY_TIMEOUT_MS);
	if (r <= 0)
		return r < 0 ? r : -ETIMEDOUT;
	n = nook_recv_fds(sock, reply, sizeof(reply), ret_fd ? &fd : NULL, ret_fd ? &nfd : NULL);
	if (n < 0)
		return (int) n;
	if (n == 0)
		return -ECONNRESET; /* the keeper went away (it was stopping) */
	r = nook_reply_parse(reply, (size_t) n, ret);
	if (r < 0) {
		if (nfd && fd >= 0)
			(void) close(fd);
		return r;
	}
	if (ret_fd)
		*ret_fd = nfd ? fd : -EBADF;
	return 0;
}

/* A request answered with INFO; with WANT_FD, init's pidfd must come along
 * (register, attach). Any other answer (an error: the keeper is stopping)
 * is -EPROTO. */
static int request_info(int sock, enum nook_req req, int send_fd, bool want_fd, struct nook_session_info *ret)
{
	struct nook_reply reply;
	int fd = -EBADF, r;

	r = request(sock, req, send_fd, &reply, want_fd ? &fd : NULL);
	if (r < 0)
		return r;
	if (reply.kind != NOOK_REPLY_OK || (want_fd && fd < 0)) {
		if (fd >= 0)
			(void) close(fd);
		return -EPROTO;
	}
	reply.info.init_pidfd = want_fd ? fd : -EBADF;
	*ret = reply.info;
	return 0;
}

int nook_ctl_register(int sock, int session_pidfd, struct nook_session_info *ret)
{
	return request_info(sock, NOOK_REQ_REGISTER, session_pidfd, true, ret);
}

int nook_ctl_attach(int sock, struct nook_session_info *ret)
{
	return request_info(sock, NOOK_REQ_ATTACH, -EBADF, true, ret);
}

int nook_ctl_status(int sock, struct nook_session_info *ret)
{
	return request_info(sock, NOOK_REQ_STATUS, -EBADF, false, ret);
}

int nook_ctl_stop(int sock)
{
	struct nook_reply reply;
	int r = request(sock, NOOK_REQ_STOP, -EBADF, &reply, NULL);

	if (r < 0)
		return r;
	return reply.kind == NOOK_REPLY_STOPPED ? 0 : -EPROTO;
}
