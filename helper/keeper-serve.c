/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the keeper answers: root-only requests on
 * /run/nook/<user>/keeper.sock (SOCK_SEQPACKET, one request per
 * connection): register (a session pidfd comes along), attach (init's
 * pidfd, no new session), status, stop. The words and the replies are
 * common/protocol.c's; which request does what is the table above
 * keeper_handle_client. Also the sessions registered here with the linger
 * timer they arm (and mosh-servers adopted as sessions), and the state
 * files (state, network) that status reads.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "keeper-internal.h"
#include "log.h"
#include "nook.h"

void keeper_arm_timer(struct keeper *k, uint64_t ms)
{
	struct itimerspec its = { 0 };

	if (ms == 0)
		ms = 1; /* 0 would disarm */
	its.it_value.tv_sec = (time_t) (ms / 1000);
	its.it_value.tv_nsec = (long) (ms % 1000) * 1000000;
	(void) timerfd_settime(k->timer_fd, 0, &its, NULL);
}

static void disarm_timer(struct keeper *k)
{
	struct itimerspec its = { 0 };

	(void) timerfd_settime(k->timer_fd, 0, &its, NULL);
}

/* "ok INFO": the answer to register, attach and status, and the state file. */
static int info_reply(const struct keeper *k, char *buf, size_t size)
{
	struct nook_reply reply = { .kind = NOOK_REPLY_OK,
				    .info = { .init_pid = k->c.init_pid,
					      .keeper_pid = getpid(),
					      .init_pidfd = -EBADF,
					      .started_usec = k->started_usec,
					      .sessions = (unsigned) (k->n_sessions + k->n_mosh) } };
	int r = nook_cgroup_serialize(&k->cg, reply.info.cgroup, sizeof(reply.info.cgroup));

	if (r < 0)
		return r;
	snprintf(reply.info.loop, sizeof(reply.info.loop), "%s", k->c.loop);
	return nook_reply_format(&reply, buf, size);
}

/* /run/nook/<user>/network: what `nookctl status` shows of the network. */
void keeper_write_net_state(const struct keeper *k)
{
	char line[512], tmp[] = "network.new";
	_cleanup_close_ int fd = -EBADF;
	int len = nook_net_describe(&k->net, line, sizeof(line) - 1);

	if (len < 0)
		return;
	line[len++] = '\n';
	fd = openat(k->rundir, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || nook_write_all(fd, line, (size_t) len) < 0)
		return;
	(void) renameat(k->rundir, tmp, k->rundir, "network");
}

int keeper_write_state(const struct keeper *k)
{
	char line[NOOK_PROTO_MAX + 1], tmp[] = "state.new";
	_cleanup_close_ int fd = -EBADF;
	int len = info_reply(k, line, sizeof(line) - 1);

	if (len < 0)
		return len;
	line[len++] = '\n';
	fd = openat(k->rundir, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int r = nook_write_all(fd, line, (size_t) len);
	if (r < 0)
		return r;
	if (renameat(k->rundir, tmp, k->rundir, "state") < 0)
		return -errno;
	return 0;
}

/*
 * SIGUSR1, from a login or nookctl that found us alive (our record, or the
 * image's lock) but could not connect: the run directory or our socket was
 * removed. Recreate what is missing and answer again; the container and its
 * sessions never noticed.
 */
void keeper_serve_again(struct keeper *k)
{
	struct stat st;

	if (k->rec.stopping)
		return;
	if (fstat(k->rundir, &st) == 0 && st.st_nlink == 0) {
		int dir = nook_rundir_open(k->u->name, true);

		if (dir < 0) {
			log_err("cannot recreate " NOOK_RUN_DIR "/%s: %s", k->u->name, strerror(-dir));
			return;
		}
		(void) close(k->rundir);
		k->rundir = dir;
		log_warn(NOOK_RUN_DIR "/%s was removed while its container ran; recreated it", k->u->name);
	}
	if (fstatat(k->rundir, "keeper.sock", &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    st.st_dev != k->sock_st.st_dev || st.st_ino != k->sock_st.st_ino) {
		int fd = keeper_listen(k);
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

		if (fd < 0 || epoll_ctl(k->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			log_err("cannot listen on " NOOK_RUN_DIR "/%s/keeper.sock again: %s", k->u->name,
				strerror(fd < 0 ? -fd : errno));
			if (fd >= 0)
				(void) close(fd);
			return;
		}
		(void) epoll_ctl(k->epfd, EPOLL_CTL_DEL, k->listen_fd, NULL);
		(void) close(k->listen_fd);
		k->listen_fd = fd;
		log_warn(NOOK_RUN_DIR "/%s/keeper.sock was removed while its container ran; listening again",
			 k->u->name);
	}
	(void) nook_keeper_record(k->rundir, &k->rec);
	(void) keeper_write_state(k);
	keeper_write_net_state(k);
}

static void session_add(struct keeper *k, int pidfd)
{
	int *n = realloc(k->sessions, (k->n_sessions + 1) * sizeof(int));
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = pidfd };

	if (!n || epoll_ctl(k->epfd, EPOLL_CTL_ADD, pidfd, &ev) < 0) {
		if (n)
			k->sessions = n;
		(void) close(pidfd);
		return;
	}
	k->sessions = n;
	k->sessions[k->n_sessions++] = pidfd;
	disarm_timer(k);
	k->mosh_recheck = false;
}

/* /proc/PID/exe is the file ST describes. The attributes the kernel has
 * (AT_STATX_DONT_SYNC): a network or FUSE file system is not asked, so a
 * file server of the user's cannot make the keeper wait. */
static bool runs(pid_t pid, const struct stat *st)
{
	char path[32];
	struct statx e;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	return statx(AT_FDCWD, path, AT_STATX_DONT_SYNC, STATX_INO, &e) == 0 &&
	       makedev(e.stx_dev_major, e.stx_dev_minor) == st->st_dev && e.stx_ino == st->st_ino;
}

/* PID runs REAL, is not stopped nor a child of a mosh-server, and every
 * executable file it maps has REAL's owner. */
static bool mosh_genuine(pid_t pid, const struct stat *real)
{
	char path[64], stat_text[512], *line = NULL, *close_paren;
	_cleanup_fclose_ FILE *maps = NULL;
	size_t size = 0;
	bool ok = true;
	pid_t ppid;

	if (!runs(pid, real))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (nook_read_file_at(AT_FDCWD, path, stat_text, sizeof(stat_text)) <= 0)
		return false;
	close_paren = strrchr(stat_text, ')'); /* comm may hold anything */
	if (!close_paren || close_paren[1] != ' ' || close_paren[2] == 'T' || close_paren[2] == 't')
		return false;
	/* Field 4: a child of a mosh-server (its terminal's, before the
	 * shell) is part of that one's session. */
	ppid = (pid_t) strtol(close_paren + 4, NULL, 10);
	if (ppid > 1 && runs(ppid, real))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	maps = fopen(path, "re");
	if (!maps)
		return false;
	/* "START-END PERMS OFFSET DEV INODE PATH": the executable mappings
	 * of a file (an inode), and the file itself in map_files/START-END. */
	while (ok && getline(&line, &size, maps) > 0) {
		const char *range_end = strchr(line, ' '), *field = range_end;
		struct statx st;

		if (!range_end || strlen(range_end) < 5 || range_end[3] != 'x')
			continue;
		for (int i = 0; i < 3 && field; i++)
			field = strchr(field + 1, ' ');
		if (!field || strtoull(field + 1, NULL, 10) == 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/map_files/%.*s", pid, (int) (range_end - line), line);
		ok = statx(AT_FDCWD, path, AT_STATX_DONT_SYNC, STATX_UID, &st) == 0 &&
		     st.stx_uid == real->st_uid;
	}
	free(line);
	return ok;
}

static void mosh_drop(struct keeper *k, size_t i)
{
	(void) epoll_ctl(k->epfd, EPOLL_CTL_DEL, k->mosh[i].pidfd, NULL);
	(void) close(k->mosh[i].pidfd);
	k->mosh[i] = k->mosh[--k->n_mosh];
}

static bool mosh_held(const struct keeper *k, pid_t pid)
{
	for (size_t i = 0; i < k->n_mosh; i++)
		if (k->mosh[i].pid == pid)
			return true;
	return false;
}

static void mosh_take(struct keeper *k, pid_t pid, const struct stat *real)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct keeper_mosh *m;
	int pidfd = nook_pidfd_open(pid);

	if (pidfd < 0)
		return;
	/* Still the same process (the pid was not reused meanwhile). */
	m = mosh_genuine(pid, real) ? realloc(k->mosh, (k->n_mosh + 1) * sizeof(*m)) : NULL;
	ev.data.fd = pidfd;
	if (!m || epoll_ctl(k->epfd, EPOLL_CTL_ADD, pidfd, &ev) < 0) {
		if (m)
			k->mosh = m;
		(void) close(pidfd);
		return;
	}
	k->mosh = m;
	k->mosh[k->n_mosh++] = (struct keeper_mosh) { .pidfd = pidfd, .pid = pid };
	log_info("mosh-server (pid %d) of '%s' counts as a session", pid, k->u->name);
}

size_t keeper_mosh_check(struct keeper *k)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
	_cleanup_close_ int root = -EBADF, real = -EBADF, dir = -EBADF;
	_cleanup_fclose_ FILE *f = NULL;
	char *line = NULL;
	size_t size = 0;
	struct stat st;
	int procs;

	if (!k->net.mosh_leased)
		return 0;
	root = nook_init_root_open(k->c.init_pid, k->c.init_pidfd);
	/* Bound there by init, in a directory of container root's. */
	if (root >= 0)
		real = (int) syscall(SYS_openat2, root, "run/nook/mosh-server", &how, sizeof(how));
	if (real < 0 || fstat(real, &st) < 0) {
		while (k->n_mosh > 0)
			mosh_drop(k, 0);
		return 0;
	}
	for (size_t i = k->n_mosh; i-- > 0;)
		if (nook_pidfd_exited(k->mosh[i].pidfd) || !mosh_genuine(k->mosh[i].pid, &st))
			mosh_drop(k, i);
	dir = nook_cgroup_open_dir(&k->cg, 0, NOOK_CG_LEAF_CONTAINER);
	procs = dir >= 0 ? openat(dir, "cgroup.procs", O_RDONLY | O_NOFOLLOW | O_CLOEXEC) : -EBADF;
	f = procs >= 0 ? fdopen(procs, "re") : NULL;
	if (!f && procs >= 0)
		(void) close(procs);
	while (f && k->n_mosh < k->u->set.mosh_sessions && getline(&line, &size, f) > 0) {
		pid_t pid = (pid_t) strtol(line, NULL, 10);

		if (pid > 1 && !mosh_held(k, pid) && mosh_genuine(pid, &st))
			mosh_take(k, pid, &st);
	}
	free(line);
	return k->n_mosh;
}

bool keeper_session_gone(struct keeper *k, int fd)
{
	/* An event queued for a pidfd that keeper_mosh_check closed in the
	 * same batch may name a new pidfd with the same number: only one
	 * whose process has exited is gone. */
	if (!nook_pidfd_exited(fd))
		return false;
	for (size_t i = 0; i < k->n_mosh; i++) {
		if (k->mosh[i].pidfd != fd)
			continue;
		mosh_drop(k, i);
		/* With the linger already over, the timer checks for others
		 * (or stops) now instead of at the next recheck. */
		if (k->n_sessions == 0 && k->n_mosh == 0 && k->mosh_recheck)
			keeper_arm_timer(k, 0);
		return true;
	}
	for (size_t i = 0; i < k->n_sessions; i++) {
		if (k->sessions[i] != fd)
			continue;
		(void) epoll_ctl(k->epfd, EPOLL_CTL_DEL, fd, NULL);
		(void) close(fd);
		k->sessions[i] = k->sessions[--k->n_sessions];
		if (k->n_sessions == 0) {
			keeper_arm_timer(k, k->u->set.linger_ms);
			k->mosh_recheck = false;
		}
		return true;
	}
	return false;
}

static void reply_error(int conn, enum nook_reply_error error)
{
	struct nook_reply reply = { .kind = NOOK_REPLY_ERROR, .error = error };
	char buf[64];
	int n = nook_reply_format(&reply, buf, sizeof(buf));

	if (n > 0)
		(void) nook_send_fds(conn, buf, (size_t) n, NULL, 0);
}

/* "ok INFO", with init's pidfd when WITH_PIDFD. */
static void reply_info(const struct keeper *k, int conn, bool with_pidfd)
{
	char buf[NOOK_PROTO_MAX];
	int n = info_reply(k, buf, sizeof(buf));

	if (n > 0)
		(void) nook_send_fds(conn, buf, (size_t) n, with_pidfd ? &k->c.init_pidfd : NULL, with_pidfd);
}

/* Each handler answers on CONN; SESSION_FD is the pidfd that came along
 * (register only; the table says who takes one). Returns 1 after the
 * container stopped. */
static int on_register(struct keeper *k, int conn, int session_fd)
{
	session_add(k, session_fd);
	reply_info(k, conn, true);
	return 0;
}

static int on_attach(struct keeper *k, int conn, int session_fd)
{
	(void) session_fd;
	reply_info(k, conn, true);
	return 0;
}

static int on_status(struct keeper *k, int conn, int session_fd)
{
	(void) session_fd;
	reply_info(k, conn, false);
	return 0;
}

static int on_stop(struct keeper *k, int conn, int session_fd)
{
	struct nook_reply reply = { .kind = NOOK_REPLY_STOPPED };
	char buf[16];
	int n;

	(void) session_fd;
	keeper_stop(k, "nookctl stop");
	n = nook_reply_format(&reply, buf, sizeof(buf));
	if (n > 0)
		(void) nook_send_fds(conn, buf, (size_t) n, NULL, 0);
	return 1;
}

static const struct {
	int (*handle)(struct keeper *k, int conn, int session_fd);
	/* Takes a session: refused once init has died, as the event that
	 * stops the container may still be queued behind the request (the
	 * caller then goes the slow way and waits for a fresh container). */
	bool needs_live_init;
	bool takes_pidfd; /* a session pidfd must come along */
} handlers[_NOOK_REQ_MAX] = {
	[NOOK_REQ_REGISTER] = { on_register, true, true },
	[NOOK_REQ_ATTACH] = { on_attach, true, false },
	[NOOK_REQ_STATUS] = { on_status, false, false },
	[NOOK_REQ_STOP] = { on_stop, false, false },
};

/* One request per connection; only root may ask. Returns 1 after "stop". */
int keeper_handle_client(struct keeper *k, int conn)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char msg[64];
	_cleanup_close_ int fd = -EBADF;
	size_t nfd = 1;
	ssize_t n;
	int req;

	if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0)
		return 0;
	if (nook_wait_readable(conn, 2000) <= 0)
		return 0;
	n = nook_recv_fds(conn, msg, sizeof(msg), &fd, &nfd);
	if (n <= 0)
		return 0;
	if (nfd != 1)
		fd = -EBADF;
	req = nook_req_parse(msg, (size_t) n);
	if (req < 0) {
		reply_error(conn, NOOK_ERROR_UNKNOWN_REQUEST);
		return 0;
	}
	if (handlers[req].needs_live_init && nook_wait_readable(k->c.init_pidfd, 0) != 0) {
		reply_error(conn, NOOK_ERROR_STOPPING);
		return 0;
	}
	if (handlers[req].takes_pidfd) {
		if (fd < 0) {
			reply_error(conn, NOOK_ERROR_NO_PIDFD);
			return 0;
		}
		return handlers[req].handle(k, conn, TAKE_FD(fd));
	}
	/* A pidfd that came with any other request is closed unused. */
	return handlers[req].handle(k, conn, -EBADF);
}

int keeper_listen(struct keeper *k)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), NOOK_RUN_DIR "/%s/keeper.sock", k->u->name);
	(void) unlinkat(k->rundir, "keeper.sock", 0);
	if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 64) < 0 ||
	    fstatat(k->rundir, "keeper.sock", &k->sock_st, AT_SYMLINK_NOFOLLOW) < 0) {
		int r = -errno;

		(void) close(fd);
		return r;
	}
	return fd;
}
