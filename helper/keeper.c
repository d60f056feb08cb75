/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The keeper: one per running container, outside it, as host root. It
 * creates the container, then supervises it:
 *   - holds init's pidfd: if init dies, the container is cleaned up;
 *   - holds a pidfd per session leader (sshd's monitor, nookctl): when the
 *     last one is gone, the container stops after `linger`, whether or not
 *     close_session ever ran;
 *   - answers root-only requests on /run/nook/<user>/keeper.sock
 *     (SOCK_SEQPACKET, one request per connection): register (a session
 *     pidfd comes along), attach (init's pidfd, no new session), status,
 *     stop. The words and the replies are common/protocol.c's; which
 *     request does what is the table above handle_client.
 * Stopping kills init (the kernel then kills the pid namespace), kills what
 * is left in the cgroup, waits until no loop device holds the image, and
 * removes the cgroup.
 *
 * Networking (network.c) hooks in at three points: before the container
 * exists (address lease, resolv.conf and hosts), once init is up (veth
 * and nftables, or pasta, whose pidfd joins the epoll set), and at stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bsd/unistd.h>

#include "cleanup.h"
#include "log.h"
#include "nook.h"

#define RELEASE_TIMEOUT_MS 10000
#define LOCK_RETRY_MS 20

struct keeper {
	const struct nook_user *u;
	int rundir;
	struct nook_cgroup cg;
	struct nook_cg_origin origin;
	struct nook_image img;
	struct nook_container c;
	struct nook_net net;
	int listen_fd, epfd, timer_fd, sig_fd;
	int *sessions;
	size_t n_sessions;
	uint64_t started_usec;
	struct nook_keeper_rec rec;
	struct stat sock_st; /* the socket file we bound: stop() removes only that one */
	int ident_fd; /* the image's flock: who we are, whatever becomes of the run dir */
};

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static void arm_timer(struct keeper *k, uint64_t ms)
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
					      .sessions = (unsigned) k->n_sessions } };
	int r = nook_cgroup_serialize(&k->cg, reply.info.cgroup, sizeof(reply.info.cgroup));

	if (r < 0)
		return r;
	snprintf(reply.info.loop, sizeof(reply.info.loop), "%s", k->c.loop);
	return nook_reply_format(&reply, buf, size);
}

/* /run/nook/<user>/network: what `nookctl status` shows of the network. */
static void write_net_state(const struct keeper *k)
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

static int write_state(const struct keeper *k)
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

/* Removes what this keeper put in the run directory, and only that: a
 * socket or record that is not ours (an admin's, a successor's) stays. */
static void remove_runtime_files(struct keeper *k)
{
	struct nook_keeper_rec rec;
	struct stat st;

	if (fstatat(k->rundir, "keeper.sock", &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_dev == k->sock_st.st_dev &&
	    st.st_ino == k->sock_st.st_ino)
		(void) unlinkat(k->rundir, "keeper.sock", 0);
	(void) unlinkat(k->rundir, "state", 0);
	(void) unlinkat(k->rundir, "network", 0);
	/* The record last: until it goes, status says "stopping" and a login
	 * waits for us instead of starting a second container. */
	if (nook_keeper_find(k->rundir, &rec, NULL) > 0 && rec.pid == getpid())
		(void) unlinkat(k->rundir, "keeper", 0);
}

/*
 * Tears the container down. Runs with the user lock held (by our linger
 * timer, or by the `nookctl stop` that asked), or without it when init died
 * or we were signalled; either way no successor can start meanwhile: a login
 * that finds our record alive waits until we are gone.
 *
 * Order: stop answering first (connections are refused, the socket file
 * stays), say "stopping" in the record, tear down, and remove the socket and
 * the record last, so that "not running" is only ever said when the init,
 * the cgroup and the loop device are gone.
 */
static void stop(struct keeper *k, const char *why)
{
	int r;

	log_info("stopping the container of '%s' (%s)", k->u->name, why);
	if (k->listen_fd >= 0) {
		(void) close(k->listen_fd);
		k->listen_fd = -EBADF;
	}
	k->rec.stopping = true;
	(void) nook_keeper_record(k->rundir, &k->rec);

	(void) nook_pidfd_send_signal(k->c.init_pidfd, SIGKILL);
	(void) nook_wait_readable(k->c.init_pidfd, -1);
	while (waitpid(k->c.init_pid, NULL, 0) < 0 && errno == EINTR)
		;
	(void) close(k->c.init_sock);
	nook_net_stop(k->u, &k->net);
	/* Session processes that joined from outside the pid namespace (sshd's
	 * session child, nookctl) still pin the mount namespace. */
	r = nook_cgroup_kill_all(&k->cg);
	if (r < 0)
		log_warn("processes of '%s' survive SIGKILL in its cgroup: %s", k->u->name, strerror(-r));
	r = nook_image_wait_released(&k->img, RELEASE_TIMEOUT_MS);
	if (r != 0)
		log_err("image %s is still attached to a loop device after %d s; it will not be mounted "
			"again until it is released (losetup -j %s)",
			k->img.path, RELEASE_TIMEOUT_MS / 1000, k->img.path);
	r = nook_cgroup_return(&k->cg, &k->origin);
	if (r >= 0)
		r = nook_cgroup_destroy(&k->cg);
	if (r < 0)
		log_warn("cannot remove the cgroup of '%s': %s", k->u->name, strerror(-r));
	nook_image_close(&k->img);
	/* The image is free for a successor now; the record (stopping) still
	 * makes a login wait until we are gone. */
	if (k->ident_fd >= 0) {
		(void) close(k->ident_fd);
		k->ident_fd = -EBADF;
	}
	remove_runtime_files(k);
}

static int listen_on(struct keeper *k);
static int write_state(const struct keeper *k);
static void write_net_state(const struct keeper *k);

/*
 * SIGUSR1, from a login or nookctl that found us alive (our record, or the
 * image's lock) but could not connect: the run directory or our socket was
 * removed. Recreate what is missing and answer again; the container and its
 * sessions never noticed.
 */
static void serve_again(struct keeper *k)
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
	if (fstatat(k->rundir, "keeper.sock", &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != k->sock_st.st_dev ||
	    st.st_ino != k->sock_st.st_ino) {
		int fd = listen_on(k);
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
	(void) write_state(k);
	write_net_state(k);
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
}

static bool session_gone(struct keeper *k, int fd)
{
	for (size_t i = 0; i < k->n_sessions; i++) {
		if (k->sessions[i] != fd)
			continue;
		(void) epoll_ctl(k->epfd, EPOLL_CTL_DEL, fd, NULL);
		(void) close(fd);
		k->sessions[i] = k->sessions[--k->n_sessions];
		if (k->n_sessions == 0)
			arm_timer(k, k->u->set.linger_ms);
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
	stop(k, "nookctl stop");
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
static int handle_client(struct keeper *k, int conn)
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

static int listen_on(struct keeper *k)
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

static int setup(struct keeper *k)
{
	struct nook_subid sub;
	_cleanup_close_ int stage = -EBADF;
	int r;

	/* The network first: a bridge's rules load meanwhile. */
	r = nook_net_prepare(k->u, &k->net);
	if (r < 0)
		return r;
	r = nook_subid_get(k->u, &sub);
	if (r >= 0 && nook_systemd_use(&k->u->set)) {
		/* Out of the login's session scope into the user's own,
		 * delegated one (see systemd.c). */
		char unit[256];

		r = nook_systemd_scope_start(k->u->name, k->u->set.systemd_slice, unit, sizeof(unit));
		if (r >= 0) {
			r = nook_cgroup_resolve_delegated("/sys/fs/cgroup", "/proc/self/cgroup", &k->cg);
			if (r < 0)
				log_err("cgroup of %s: %s", unit, strerror(-r));
		}
	} else if (r >= 0) {
		r = nook_cgroup_resolve("/sys/fs/cgroup", k->u->set.cgroup_root, k->u->name, "/proc/self/cgroup",
					&k->cg);
		if (r < 0)
			log_err("cgroup_root '%s' for '%s': %s", k->u->set.cgroup_root, k->u->name, strerror(-r));
	}
	if (r >= 0)
		r = nook_cgroup_origin(&k->cg, "/proc/self/cgroup", &k->origin);
	if (r >= 0)
		r = nook_image_open(k->u, true, &k->img);
	if (r >= 0) {
		/* Never two keepers for one image, even when the run directory
		 * that would have told us about the other one is gone. */
		k->ident_fd = nook_image_lock(&k->img, k->u->name);
		r = k->ident_fd < 0 ? k->ident_fd : 0;
	}
	if (r >= 0)
		r = nook_cgroup_create(&k->cg, &k->u->set);
	if (r < 0) {
		nook_net_stop(k->u, &k->net);
		return r;
	}
	stage = openat(k->rundir, "root", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (stage < 0) {
		r = -errno;
		nook_net_stop(k->u, &k->net);
		return r;
	}
	r = nook_container_launch(k->u, &k->cg, &k->origin, &sub, &k->img, stage, &k->net.etc, &k->c);
	if (r >= 0) {
		/* The network is set up while init builds its root. */
		r = nook_net_start(k->u, &sub, k->c.init_pid, &k->net);
		if (r >= 0)
			r = nook_container_ready(k->u, &k->c);
		if (r >= 0)
			r = nook_net_ready(k->u, &k->net);
		if (r < 0)
			nook_container_abort(&k->c);
	}
	if (r < 0) {
		nook_net_stop(k->u, &k->net);
		(void) nook_cgroup_kill_all(&k->cg);
		(void) nook_image_wait_released(&k->img, RELEASE_TIMEOUT_MS);
		if (nook_cgroup_return(&k->cg, &k->origin) >= 0)
			(void) nook_cgroup_destroy(&k->cg);
		return r;
	}
	k->started_usec = now_usec();
	write_net_state(k);
	k->listen_fd = listen_on(k);
	if (k->listen_fd < 0)
		return k->listen_fd;
	return write_state(k);
}

static int epoll_add(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

__attribute__((noreturn)) static void keeper_main(const struct nook_user *u, int rundir, int status_fd,
						  int lock_fd)
{
	struct keeper k = { .u = u, .rundir = rundir, .listen_fd = -EBADF, .ident_fd = -EBADF,
			    .net = { .netns_fd = -EBADF, .userns_fd = -EBADF, .pasta_pidfd = -EBADF,
				     .pasta_ready_fd = -EBADF } };
	sigset_t mask;
	int r, devnull, oom_err;

	(void) prctl(PR_SET_NAME, "nook-keeper");
	setproctitle("-nook-keeper %s", u->name);
	/* The helper runs with umask 077; the directories the keeper and init
	 * create in the image (upper/, the home's parents) must be 0755, or
	 * the container's root is closed to its user. */
	umask(022);
	/* The keeper and init must not be the OOM killer's pick when the
	 * user's cgroup runs out of memory: they hold the container together. */
	{
		_cleanup_close_ int proc = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);

		oom_err = proc >= 0 ? nook_write_file_at(proc, "oom_score_adj", "-1000", 5) : -errno;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* The record first: from now on a login finds this keeper alive
	 * (pid and start time) whether or not it answers on its socket. */
	k.rec.pid = getpid();
	if (nook_proc_starttime(k.rec.pid, &k.rec.start) < 0 ||
	    (size_t) snprintf(k.rec.image, sizeof(k.rec.image), "%s/%s.img", u->set.image_dir, u->name) >=
		    sizeof(k.rec.image) ||
	    nook_keeper_record(rundir, &k.rec) < 0)
		r = -EIO;
	else
		r = setup(&k);
	if (r < 0) {
		remove_runtime_files(&k);
		(void) nook_write_all(status_fd, "fail", 4);
		_exit(1);
	}
	(void) nook_write_all(status_fd, "ok", 2);
	(void) close(status_fd);
	/* Set up: the caller holds the lock from here until the session is
	 * registered (and a linger timeout then takes it with trylock). */
	(void) close(lock_fd);
	/* Let go of the caller's terminal or sshd's pipes. */
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull >= 0) {
		(void) dup2(devnull, STDIN_FILENO);
		(void) dup2(devnull, STDOUT_FILENO);
		(void) dup2(devnull, STDERR_FILENO);
		(void) close(devnull);
	}
	nook_log_open("nook-keeper", false);
	/* Once per container, to syslog (stderr is /dev/null by now): where
	 * root lacks CAP_SYS_RESOURCE the write fails, and the admin should
	 * know that the OOM killer may then pick the keeper or init, which
	 * ends the container (nothing outside the user's cgroup is hurt). */
	if (oom_err < 0) {
		log_warn("cannot protect the keeper of '%s' from the OOM killer (oom_score_adj -1000: %s); "
			 "the container may end when it reaches memory_max; give root CAP_SYS_RESOURCE",
			 u->name, strerror(-oom_err));
	}

	k.epfd = epoll_create1(EPOLL_CLOEXEC);
	k.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	k.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (k.epfd < 0 || k.timer_fd < 0 || k.sig_fd < 0 || epoll_add(k.epfd, k.listen_fd) < 0 ||
	    epoll_add(k.epfd, k.c.init_pidfd) < 0 || epoll_add(k.epfd, k.timer_fd) < 0 ||
	    epoll_add(k.epfd, k.sig_fd) < 0 || (k.net.pasta_pidfd >= 0 && epoll_add(k.epfd, k.net.pasta_pidfd) < 0)) {
		stop(&k, "keeper setup failed");
		_exit(1);
	}
	/* Until the first session registers (the caller holds the lock until
	 * it has), the container is idle. */
	arm_timer(&k, u->set.linger_ms);

	for (;;) {
		struct epoll_event ev[16];
		int n = epoll_wait(k.epfd, ev, 16, -1);

		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (fd == k.listen_fd) {
				_cleanup_close_ int conn = accept4(k.listen_fd, NULL, NULL, SOCK_CLOEXEC);

				if (conn >= 0 && handle_client(&k, conn) == 1)
					_exit(0);
			} else if (fd == k.c.init_pidfd) {
				stop(&k, "init exited");
				_exit(0);
			} else if (fd == k.net.pasta_pidfd) {
				(void) epoll_ctl(k.epfd, EPOLL_CTL_DEL, fd, NULL);
				nook_net_pasta_died(u, &k.net);
				if (k.net.pasta_pidfd >= 0)
					(void) epoll_add(k.epfd, k.net.pasta_pidfd);
				write_net_state(&k);
			} else if (fd == k.sig_fd) {
				struct signalfd_siginfo si;

				if (read(k.sig_fd, &si, sizeof(si)) != (ssize_t) sizeof(si))
					continue;
				if (si.ssi_signo == SIGUSR1) {
					serve_again(&k);
					continue;
				}
				stop(&k, "keeper signalled");
				_exit(0);
			} else if (fd == k.timer_fd) {
				uint64_t ticks;
				_cleanup_close_ int lock = -EBADF;

				(void) !read(k.timer_fd, &ticks, sizeof(ticks));
				if (k.n_sessions > 0)
					continue;
				/* Never block on the lock here: its holder may be
				 * waiting for our answer. */
				lock = nook_trylock_user(k.rundir);
				if (lock < 0) {
					arm_timer(&k, LOCK_RETRY_MS);
					continue;
				}
				stop(&k, "no sessions left");
				_exit(0);
			} else {
				(void) session_gone(&k, fd);
			}
		}
	}
	stop(&k, "keeper failed");
	_exit(1);
}

/* Closes every fd from 3 up but the N in KEEP. */
static void close_all_but(int *keep, size_t n)
{
	unsigned from = 3;

	/* Sorted, so that the gaps between them can be closed in order. */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];

			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	for (size_t i = 0; i < n; i++) {
		if ((unsigned) keep[i] > from)
			(void) close_range(from, (unsigned) keep[i] - 1, 0);
		if ((unsigned) keep[i] + 1 > from)
			from = (unsigned) keep[i] + 1;
	}
	(void) close_range(from, ~0U, 0);
}

int nook_keeper_spawn(const struct nook_user *u, int rundir_fd, int lock_fd)
{
	int pfd[2];
	pid_t pid;
	char buf[8] = "";
	ssize_t n;
	int status;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		int r = -errno;

		(void) close(pfd[0]);
		(void) close(pfd[1]);
		return r;
	}
	if (pid == 0) {
		/* Double fork: the keeper is nobody's child but init's, so the
		 * caller (nookctl, sshd) never sees it exit. */
		(void) close(pfd[0]);
		if (setsid() < 0)
			_exit(1);
		pid = fork();
		if (pid != 0)
			_exit(pid < 0);
		/* glibc's syslog remembers its socket's fd number: let it go
		 * with closelog() before close_range(), or the next log line
		 * sends to (and, failing, closes) whatever file reuses that
		 * number, such as the image directory while the image is
		 * created. Reopened below. */
		closelog();
		/* Keep only what the keeper needs: stdio (until ready), the
		 * status pipe, the run directory and, until the container is
		 * up, the caller's lock (closed then, or the lock would
		 * outlive the caller: it is O_CLOEXEC for what the setup
		 * executes, and init closes it). If the caller dies during
		 * the setup (a killed login during mkfs), no second keeper
		 * starts and no nookctl clean removes the image being made. */
		{
			int keep[] = { pfd[1], rundir_fd, lock_fd };

			close_all_but(keep, sizeof(keep) / sizeof(keep[0]));
		}
		nook_log_open("nook-keeper", true);
		keeper_main(u, rundir_fd, pfd[1], lock_fd);
	}
	(void) close(pfd[1]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	do
		n = read(pfd[0], buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	(void) close(pfd[0]);
	if (n == 2 && memcmp(buf, "ok", 2) == 0)
		return 0;
	return -EIO;
}
