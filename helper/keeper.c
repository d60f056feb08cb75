/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The keeper: one per running container, outside it, as host root. It
 * creates the container, then supervises it:
 *   - holds init's pidfd: if init dies, the container is cleaned up;
 *   - holds a pidfd per session leader (sshd's monitor, nookctl): when the
 *     last one is gone, the container stops after `linger`, whether or not
 *     close_session ever ran;
 *   - answers root-only requests on /run/nook/<user>/keeper.sock
 *     (keeper-serve.c).
 * Stopping, and a setup that fails half-way, tear down what exists
 * (teardown.c): init, what is left in the cgroup, the network, the loop
 * device, the cgroup, the run directory's files.
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bsd/unistd.h>

#include "cleanup.h"
#include "keeper-internal.h"
#include "log.h"
#include "nook.h"
#include "trace.h"

#define LOCK_RETRY_MS 20
/* How long the keeper must have had nothing to do before it installs the
 * user's crontab (cron.c): after the login that started the container, and
 * once a burst of changes is over. */
#define IDLE_MS 1000

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

/* Tears down what setup() has made so far (k->td says what). */
static void teardown(struct keeper *k)
{
	k->td.rundir = k->rundir; /* keeper_serve_again may have made a new one */
	(void) nook_teardown(&k->td);
}

/*
 * Runs with the user lock held (by our linger timer, or by the `nookctl
 * stop` that asked), or without it when init died or we were signalled;
 * either way no successor can start meanwhile: a login that finds our
 * record alive waits until we are gone.
 *
 * Order: stop answering first (connections are refused, the socket file
 * stays), say "stopping" in the record, then tear down, which removes the
 * socket and the record last.
 */
void keeper_stop(struct keeper *k, const char *why)
{
	log_info("stopping the container of '%s' (%s)", k->u->name, why);
	if (k->listen_fd >= 0) {
		(void) close(k->listen_fd);
		k->listen_fd = -EBADF;
	}
	k->rec.stopping = true;
	(void) nook_keeper_record(k->rundir, &k->rec);
	/* A crontab changed just before the last session left: installed
	 * while init still shows it. */
	if (k->cron.pending)
		nook_cron_pending(&k->cron, k->u);
	nook_cron_close(&k->cron);
	teardown(k);
}

static int setup(struct keeper *k)
{
	struct nook_subid sub;
	_cleanup_close_ int stage = -EBADF;
	int r;

	nook_trace("keeper", "setup-begin");
	/* The network first: a bridge's rules load meanwhile. */
	r = nook_net_prepare(k->u, &k->net);
	if (r < 0)
		return r;
	k->td.net = &k->net;
	nook_trace("keeper", "net-prepared");
	r = nook_subid_get(k->u, &sub);
	nook_trace("keeper", "subids");
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
		r = nook_cgroup_resolve("/sys/fs/cgroup", k->u->set.cgroup_root, k->u->name,
					"/proc/self/cgroup", &k->cg);
		if (r < 0)
			log_err("cgroup_root '%s' for '%s': %s", k->u->set.cgroup_root, k->u->name,
				strerror(-r));
	}
	if (r >= 0)
		r = nook_cgroup_origin(&k->cg, "/proc/self/cgroup", &k->origin);
	nook_trace("keeper", "cgroup-resolved");
	if (r >= 0)
		r = nook_image_open(k->u, true, &k->img);
	nook_trace("keeper", "image-opened");
	if (r >= 0) {
		/* Never two keepers for one image, even when the run directory
		 * that would have told us about the other one is gone. */
		k->ident_fd = nook_image_lock(&k->img, k->u->name);
		r = k->ident_fd < 0 ? k->ident_fd : 0;
	}
	if (r >= 0)
		r = nook_cgroup_create(&k->cg, &k->u->set);
	if (r < 0)
		return r;
	nook_trace("keeper", "cgroup-created");
	k->td.cg = &k->cg;
	k->td.origin = &k->origin;
	stage = openat(k->rundir, "root", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (stage < 0)
		return -errno;
	/* From here on a loop device may hold the image. */
	k->td.img = &k->img;
	r = nook_container_launch(k->u, &k->cg, &k->origin, &sub, &k->img, stage, &k->net.etc, &k->c);
	if (r < 0)
		return r;
	k->td.c = &k->c;
	nook_trace("keeper", "init-cloned");
	/* The network is set up while init builds its root. */
	r = nook_net_start(k->u, &sub, k->c.init_pid, &k->net);
	nook_trace("keeper", "net-started");
	if (r >= 0)
		r = nook_container_ready(k->u, &k->c);
	nook_trace("keeper", "init-ready");
	if (r >= 0)
		r = nook_net_ready(k->u, &k->net);
	if (r < 0)
		return r;
	nook_trace("keeper", "net-ready");
	k->started_usec = now_usec();
	keeper_write_net_state(k);
	k->listen_fd = keeper_listen(k);
	if (k->listen_fd < 0)
		return k->listen_fd;
	return keeper_write_state(k);
}

static int epoll_add(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

__attribute__((noreturn)) static void keeper_main(const struct nook_user *u, int rundir, int status_fd,
						  int lock_fd)
{
	/* k.net is nook_net_prepare's to initialise; the teardown takes what
	 * setup() adds to k.td as it goes. */
	struct keeper k = { .u = u,
			    .rundir = rundir,
			    .listen_fd = -EBADF,
			    .ident_fd = -EBADF,
			    .cron = { .ifd = -EBADF },
			    .td = { .u = u, .image_lock = &k.ident_fd, .sock = &k.sock_st } };
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
		teardown(&k);
		(void) nook_write_all(status_fd, "fail", 4);
		_exit(1);
	}
	(void) nook_write_all(status_fd, "ok", 2);
	(void) close(status_fd);
	nook_trace("keeper", "ready");
	nook_trace_close(false);
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
		log_warn(
			"cannot protect the keeper of '%s' from the OOM killer (oom_score_adj -1000: %s); "
			"the container may end when it reaches memory_max; give root CAP_SYS_RESOURCE",
			u->name, strerror(-oom_err));
	}

	k.epfd = epoll_create1(EPOLL_CLOEXEC);
	k.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	k.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (k.epfd < 0 || k.timer_fd < 0 || k.sig_fd < 0 || epoll_add(k.epfd, k.listen_fd) < 0 ||
	    epoll_add(k.epfd, k.c.init_pidfd) < 0 || epoll_add(k.epfd, k.timer_fd) < 0 ||
	    epoll_add(k.epfd, k.sig_fd) < 0 ||
	    (k.net.pasta_pidfd >= 0 && epoll_add(k.epfd, k.net.pasta_pidfd) < 0)) {
		keeper_stop(&k, "keeper setup failed");
		_exit(1);
	}
	r = nook_cron_start(&k.cron, u, k.c.init_pid, k.c.init_pidfd);
	if (r < 0)
		log_warn("the crontab of '%s' is not synced with the host's cron: %s", u->name, strerror(-r));
	if (k.cron.ifd >= 0 && epoll_add(k.epfd, k.cron.ifd) < 0)
		nook_cron_close(&k.cron);
	/* Until the first session registers (the caller holds the lock until
	 * it has), the container is idle. */
	keeper_arm_timer(&k, u->set.linger_ms);

	for (;;) {
		struct epoll_event ev[16];
		/* Work the login does not wait for waits for a quiet moment. */
		int n = epoll_wait(k.epfd, ev, 16, k.cron.pending ? IDLE_MS : -1);

		if (n == 0 && k.cron.pending)
			nook_cron_pending(&k.cron, u);
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (fd == k.listen_fd) {
				_cleanup_close_ int conn = accept4(k.listen_fd, NULL, NULL, SOCK_CLOEXEC);

				if (conn >= 0 && keeper_handle_client(&k, conn) == 1)
					_exit(0);
			} else if (fd == k.c.init_pidfd) {
				keeper_stop(&k, "init exited");
				_exit(0);
			} else if (fd == k.cron.ifd) {
				nook_cron_changed(&k.cron, u);
				if (k.cron.ifd < 0)
					(void) epoll_ctl(k.epfd, EPOLL_CTL_DEL, fd, NULL);
			} else if (fd == k.net.pasta_pidfd) {
				(void) epoll_ctl(k.epfd, EPOLL_CTL_DEL, fd, NULL);
				nook_net_pasta_died(u, &k.net);
				if (k.net.pasta_pidfd >= 0)
					(void) epoll_add(k.epfd, k.net.pasta_pidfd);
				keeper_write_net_state(&k);
			} else if (fd == k.sig_fd) {
				struct signalfd_siginfo si;

				if (read(k.sig_fd, &si, sizeof(si)) != (ssize_t) sizeof(si))
					continue;
				if (si.ssi_signo == SIGUSR1) {
					keeper_serve_again(&k);
					continue;
				}
				keeper_stop(&k, "keeper signalled");
				_exit(0);
			} else if (fd == k.timer_fd) {
				uint64_t ticks;
				_cleanup_close_ int lock = -EBADF;

				(void) !read(k.timer_fd, &ticks, sizeof(ticks));
				if (k.n_sessions > 0)
					continue;
				if (keeper_mosh_check(&k) > 0) {
					keeper_arm_timer(&k, KEEPER_MOSH_RECHECK_MS);
					k.mosh_recheck = true;
					continue;
				}
				/* Never block on the lock here: its holder may be
				 * waiting for our answer. */
				lock = nook_trylock_user(k.rundir);
				if (lock < 0) {
					keeper_arm_timer(&k, LOCK_RETRY_MS);
					continue;
				}
				keeper_stop(&k, "no sessions left");
				_exit(0);
			} else {
				(void) keeper_session_gone(&k, fd);
			}
		}
	}
	keeper_stop(&k, "keeper failed");
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

int nook_keeper_spawn(const struct nook_user *u, int rundir_fd, int lock_fd, enum nook_spawn how)
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
		(void) close(pfd[0]);
		/* Out of the caller's session: a hangup of its terminal must
		 * not reach the keeper. A session leader (the one-fork case)
		 * would take the first terminal it opens without O_NOCTTY as
		 * its own: the keeper opens none (ptys are opened by nookctl
		 * and the PAM module, not here). */
		if (setsid() < 0)
			_exit(1);
		if (how == NOOK_SPAWN_DOUBLE_FORK) {
			/* The keeper is nobody's child but init's, so nookctl
			 * never sees it exit. */
			pid = fork();
			if (pid != 0)
				_exit(pid < 0);
		}
		/* glibc's syslog remembers its socket's fd number: let it go
		 * with closelog() before close_range(), or the next log line
		 * sends to (and, failing, closes) whatever file reuses that
		 * number, such as the image directory while the image is
		 * created. Reopened below. */
		closelog();
		nook_trace_close(false); /* the same, for trace.c's file */
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
	if (how == NOOK_SPAWN_DOUBLE_FORK)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	/* The keeper's word, or EOF if it died first (its end of the pipe
	 * closes with it). */
	do
		n = read(pfd[0], buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	(void) close(pfd[0]);
	if (n == 2 && memcmp(buf, "ok", 2) == 0)
		return 0;
	return -EIO;
}
