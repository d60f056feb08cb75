/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pam_nook and terminals: whose terminal a session gets, and by which name.
 *   - su (every enter=session caller but login): the caller's terminal stays
 *     on the host, relayed; the session gets a pty of the container's own;
 *   - login: its terminal is the user's, handed over, and reachable inside
 *     by the name login reopens;
 *   - sshd: its monitor allocates from the container's devpts (common/pts.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/mount.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <termios.h>
#include <unistd.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <security/pam_modutil.h>

#include "cleanup.h"
#include "pts.h"
#include "relay.h"
#include "terminal.h"
#include "util.h"

/* Maps gid INSIDE of init's user namespace to the host, from its gid_map. */
static gid_t map_gid_out(pid_t init, gid_t inside)
{
	char path[64], line[128];
	_cleanup_fclose_ FILE *f = NULL;

	snprintf(path, sizeof(path), "/proc/%d/gid_map", init);
	f = fopen(path, "re");
	if (!f)
		return (gid_t) -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *end;
		unsigned long v[3];
		int i;

		for (i = 0; i < 3; i++, p = end) {
			errno = 0;
			v[i] = strtoul(p, &end, 10);
			if (errno || end == p)
				break;
		}
		if (i == 3 && inside >= v[0] && inside - v[0] < v[2])
			return (gid_t) (v[1] + (inside - v[0]));
	}
	return (gid_t) -1;
}

/* login's terminal (PAM_TTY) opened by host root, without making it a
 * controlling terminal. -ENOENT: PAM_TTY is not set (no terminal); any
 * other error: it is set, but not a terminal under /dev that opens. */
static int open_login_tty(pam_handle_t *pamh, int flags, char *path, size_t size)
{
	const char *tty = NULL;
	int fd;

	if (pam_get_item(pamh, PAM_TTY, (const void **) &tty) != PAM_SUCCESS || !tty || !*tty)
		return -ENOENT;
	if ((size_t) snprintf(path, size, "%s%s", tty[0] == '/' ? "" : "/dev/", tty) >= size ||
	    strncmp(path, "/dev/", 5) != 0 || strstr(path, ".."))
		return -EINVAL;
	fd = nook_open_nofollow(path, flags | O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 0);
	if (fd < 0)
		return fd == -ENOENT ? -ENXIO : fd;
	if (!isatty(fd)) {
		(void) close(fd);
		return -ENOTTY;
	}
	return fd;
}

/*
 * login(1) chowns its terminal to user:tty from inside the container. Host
 * tty (gid 5) is never mapped, so it could not; hand the terminal to the
 * user and to the container's own tty group (a subordinate gid) first, as
 * host root. sshd needs none of this: its monitor sets the pty up outside.
 */
void nook_login_tty_hand_over(pam_handle_t *pamh, pid_t init_pid, uid_t uid)
{
	char path[256] = "";
	_cleanup_close_ int fd = open_login_tty(pamh, O_RDONLY, path, sizeof(path));
	gid_t gid;

	if (fd < 0)
		return;
	gid = map_gid_out(init_pid, 5);
	if (gid == (gid_t) -1 || gid == 5)
		return;
	if (fchown(fd, uid, gid) < 0 || fchmod(fd, 0620) < 0)
		pam_syslog(pamh, LOG_WARNING, "cannot hand %s to the container: %m", path);
}

/*
 * The guard: a host-root process, outside login's session and process
 * group, holding login's terminal (fd 4) and one end of a socket (fd 3)
 * whose other end only login's own process has. Once set up it says so
 * (a byte). When login says the session is over (a byte), is gone (end of
 * file), or the guard is told to stop (SIGTERM, SIGHUP, SIGINT: logind
 * ending the session's scope), it gives the terminal back to root (as a
 * getty does: nothing left inside may open it again by name) and hangs it
 * up, so every descriptor on it that anything inside still holds reads end
 * of file from then on; then it says so (a byte back).
 */
static void guard_wake(int sig)
{
	(void) sig;
}

_Noreturn static void guard_run(int login_end, int sock, int tty, gid_t tty_gid)
{
	struct sigaction wake = { .sa_handler = guard_wake }; /* no SA_RESTART */
	sigset_t none;
	int null;
	char c;

	/* High copies first: nothing below may overwrite the other fds. */
	sock = fcntl(sock, F_DUPFD, 100);
	tty = fcntl(tty, F_DUPFD, 100);
	(void) close(login_end);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (sock < 0 || tty < 0 || null < 0 || setsid() < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
	    dup2(null, 2) < 0 || dup2(sock, 3) < 0 || dup2(tty, 4) < 0 || close_range(5, ~0U, 0) < 0)
		_exit(1);
	for (int sig = 1; sig < NSIG; sig++)
		(void) signal(sig, SIG_DFL);
	if (sigaction(SIGTERM, &wake, NULL) < 0 || sigaction(SIGHUP, &wake, NULL) < 0 ||
	    sigaction(SIGINT, &wake, NULL) < 0)
		_exit(1);
	(void) signal(SIGPIPE, SIG_IGN);
	sigemptyset(&none);
	(void) sigprocmask(SIG_SETMASK, &none, NULL);
	(void) prctl(PR_SET_NAME, "nook-ttyguard");
	if (send(3, "r", 1, MSG_NOSIGNAL) != 1)
		_exit(1);
	/* A byte, end of file, an error or EINTR (told to stop): all mean now. */
	if (read(3, &c, 1) <= 0)
		c = 0;
	if (fchown(4, 0, tty_gid) < 0 || fchmod(4, tty_gid ? 0620 : 0600) < 0 || ioctl(4, TIOCVHANGUP) < 0)
		_exit(1);
	(void) send(3, "h", 1, MSG_NOSIGNAL);
	_exit(0);
}

/* Waits until SOCK has a byte to read, for at most MS milliseconds, across
 * signals; then reads it. */
static int read_byte(int sock, int ms, char *c)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	struct timespec now, end;
	int r;

	(void) clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += ms / 1000;
	end.tv_nsec += (long) (ms % 1000) * 1000000L;
	for (;;) {
		long left;

		(void) clock_gettime(CLOCK_MONOTONIC, &now);
		left = (end.tv_sec - now.tv_sec) * 1000L + (end.tv_nsec - now.tv_nsec) / 1000000L;
		if (left < 0)
			left = 0;
		r = poll(&p, 1, (int) left);
		if (r > 0)
			break;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
	return read(sock, c, 1) == 1 ? 0 : -EPIPE;
}

/*
 * A process left inside the container (detached, keeping login's terminal
 * open, or opening it again by name) must not read what is typed on that
 * terminal after the session: the next getty's vhangup() would revoke it,
 * but only when one runs, and inside the container nothing may hang a host
 * terminal up. So before entering, host root starts the guard, and
 * close_session asks it to hang the terminal up (nook_login_tty_release).
 */
int nook_login_tty_guard(pam_handle_t *pamh, int *ret_sock)
{
	char path[256] = "";
	_cleanup_close_ int tty = open_login_tty(pamh, O_RDWR, path, sizeof(path));
	const struct group *gr;
	gid_t tty_gid;
	int sv[2], status, r;
	pid_t pid;
	char c;

	*ret_sock = -EBADF;
	if (tty == -ENOENT)
		return 0;
	if (tty < 0) {
		pam_syslog(pamh, LOG_ERR, "login's terminal %s: %s", *path ? path : "(PAM_TTY)",
			   strerror(-tty));
		return tty;
	}
	gr = pam_modutil_getgrnam(pamh, "tty");
	tty_gid = gr ? gr->gr_gid : 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		(void) close(sv[0]);
		(void) close(sv[1]);
		return r;
	}
	if (pid == 0) {
		/* login waits for any child: the guard must not be one. */
		pid = fork();
		if (pid != 0)
			_exit(pid < 0);
		guard_run(sv[0], sv[1], tty, tty_gid);
	}
	(void) close(sv[1]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			status = 1;
			break;
		}
	r = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? read_byte(sv[0], 5000, &c) : -ECHILD;
	if (r == 0 && c != 'r')
		r = -EPROTO;
	if (r < 0) {
		(void) close(sv[0]);
		pam_syslog(pamh, LOG_ERR, "cannot start the guard of %s: %s", path, strerror(-r));
		return r;
	}
	*ret_sock = sv[0];
	return 0;
}

int nook_login_tty_release(int sock)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	int r;
	char c;

	/* The guard may have hung up already (logind stopped it). */
	if (poll(&p, 1, 0) == 1)
		return read(sock, &c, 1) == 1 && c == 'h' ? 0 : -EPIPE;
	/* The hangup sends SIGHUP to the terminal's session leader, which
	 * can be login itself: it must outlive the hangup to finish closing
	 * the session. */
	if (sigaction(SIGHUP, &ign, &old) < 0)
		return -errno;
	if (send(sock, "h", 1, MSG_NOSIGNAL) < 0)
		r = -errno;
	else
		/* Bounded: the guard answers at once. */
		r = read_byte(sock, 5000, &c);
	(void) sigaction(SIGHUP, &old, NULL);
	return r;
}

/*
 * After the relay's fds are on 0-2: any other descriptor the caller holds
 * on its terminal (TTYS, N of them) now points at the session's pty, or at
 * /dev/null when there is none, so the same fd numbers stay valid and none
 * reaches the container.
 */
static int replace_terminal_fds(const dev_t *ttys, size_t n, bool pty)
{
	_cleanup_closedir_ DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		struct stat st;
		char *end;
		long fd = strtol(de->d_name, &end, 10);
		int keep;
		bool caller = false;

		if (*end || end == de->d_name || fd <= 2 || fd == dirfd(d) || fstat((int) fd, &st) < 0 ||
		    !S_ISCHR(st.st_mode))
			continue;
		for (size_t i = 0; i < n; i++)
			caller |= st.st_rdev == ttys[i];
		if (!caller)
			continue;
		keep = fcntl((int) fd, F_GETFD) & FD_CLOEXEC ? O_CLOEXEC : 0;
		if (pty) {
			if (dup3(STDIN_FILENO, (int) fd, keep) < 0)
				return -errno;
		} else {
			_cleanup_close_ int null = open("/dev/null", O_RDWR | O_CLOEXEC);

			if (null < 0 || dup3(null, (int) fd, keep) < 0)
				return -errno;
		}
	}
	return 0;
}

/*
 * su (and any enter=session caller but login) on a terminal: the caller's
 * terminal never goes into the container. A process the user leaves behind
 * (setsid, keep fd 0) would otherwise read what the caller, often root,
 * types at their own prompt after su has returned (issue 10). Users will
 * not type `su --pty`, so the module does what it does, by itself:
 *
 * the process PAM called forks. The parent keeps the caller's pid and
 * terminal, stays on the host and relays (relay.c) until the child ends,
 * then exits with the child's status: to the caller's shell it is still
 * "su", which ends as su ends. The child, which is not a process group
 * leader and so may call setsid, takes a new pty (the user's) as its
 * controlling terminal on fds 0-2, returns to su and enters the container.
 * Job control, ^C and the window size work inside as on su --pty.
 *
 * Returns 0 in the child (or when no fd is a terminal); never returns in
 * the parent; < 0 when nothing was forked (the session must not start).
 */
int nook_caller_terminal_relay(pam_handle_t *pamh, uid_t uid, int init_pidfd)
{
	struct nook_relay relay;
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	dev_t caller_tty[3];
	size_t n_tty = 0;
	sigset_t mask, old;
	pid_t pid;
	int r;

	for (int fd = 0; fd < 3; fd++) {
		struct stat st;

		if (isatty(fd) && fstat(fd, &st) == 0)
			caller_tty[n_tty++] = st.st_rdev;
	}
	r = nook_relay_setup(uid, init_pidfd, &relay);
	if (r == -ENOTRECOVERABLE) {
		pam_syslog(pamh, LOG_CRIT,
			   "cannot return from the container's mount namespace; ending the session");
		/* Fail closed: host root in the user's mount tree goes no further. */
		_exit(1);
	}
	if (r < 0) {
		pam_syslog(pamh, LOG_ERR, "cannot give the session a terminal of its own: %s", strerror(-r));
		return r;
	}
	if (!relay.active)
		return 0;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGWINCH);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	/* Blocked before the fork, so the child's end is never missed. */
	if (sigprocmask(SIG_BLOCK, &mask, &old) < 0) {
		r = -errno;
		nook_relay_close(&relay);
		return r;
	}
	pid = fork();
	if (pid < 0) {
		r = -errno;
		pam_syslog(pamh, LOG_ERR, "fork: %m");
		(void) sigprocmask(SIG_SETMASK, &old, NULL);
		nook_relay_close(&relay);
		return r;
	}
	if (pid > 0) {
		int sig_fd;

		/* The caller may ignore SIGCHLD (then children are reaped
		 * behind waitid's back). */
		(void) sigaction(SIGCHLD, &dfl, NULL);
		sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
		if (sig_fd < 0) {
			/* Cannot relay: end the child rather than leave it
			 * without a terminal; the caller sees su fail. */
			(void) kill(pid, SIGKILL);
			nook_relay_close(&relay);
			_exit(125);
		}
		/* Never back into the caller: it lives on in the child. */
		_exit(nook_relay_run(&relay, pid, sig_fd));
	}
	(void) sigprocmask(SIG_SETMASK, &old, NULL);
	r = nook_relay_child(&relay);
	if (r >= 0)
		r = nook_relay_ctty(&relay);
	if (r >= 0)
		r = replace_terminal_fds(caller_tty, n_tty, relay.pty);
	if (r >= 0 && relay.pty) {
		const char *name = ttyname(STDIN_FILENO);

		/* Later modules (and close_session) see the session's terminal. */
		if (name && strncmp(name, "/dev/", 5) == 0)
			(void) pam_set_item(pamh, PAM_TTY, name + 5);
	}
	if (r < 0) {
		pam_syslog(pamh, LOG_CRIT, "cannot move the session to its own terminal: %s; ending it",
			   strerror(-r));
		/* Fail closed: half-moved fds must not reach the caller's code. */
		_exit(1);
	}
	return 0;
}

/*
 * login reopens its terminal by name in the session (util-linux login's
 * open_tty), so that name must lead to that terminal inside:
 *   - a console (PAM_TTY tty1, ttyS0, hvc0: a name directly in /dev): the
 *     container's /dev has no such node. The host's node is bound there in
 *     the session's own mount namespace, over an empty file host root
 *     makes in the container's /dev (a tmpfs of host root's, which the user
 *     cannot write) the first time;
 *   - a host pty (pts/N: telnet-like services, `script -c login`): the
 *     container's /dev/pts is its own instance. The session's own mount
 *     namespace gets a clone of the host's devpts there instead, and sees
 *     the host's pty list, as every session did before containers had an
 *     instance of their own.
 * Other sessions of the container see neither.
 */
int nook_login_tty_prepare(pam_handle_t *pamh, int init_pidfd, struct nook_login_tty *ret)
{
	const char *tty = NULL;
	_cleanup_close_ int tree = -EBADF;
	char path[64];
	struct stat st;
	int r;

	*ret = (struct nook_login_tty) { .tree = -EBADF };
	if (pam_get_item(pamh, PAM_TTY, (const void **) &tty) != PAM_SUCCESS || !tty || !*tty)
		return 0;
	if (strncmp(tty, "/dev/", 5) == 0)
		tty += 5;
	if (strncmp(tty, "pts/", 4) == 0) {
		snprintf(path, sizeof(path), "/dev/pts");
	} else {
		/* Only a plain name: nothing that could lead elsewhere. */
		if (strlen(tty) > 32 ||
		    tty[strspn(tty, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")])
			return 0;
		snprintf(path, sizeof(path), "/dev/%s", tty);
	}
	tree = (int) syscall(SYS_open_tree, AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (tree < 0 || fstat(tree, &st) < 0) {
		pam_syslog(pamh, LOG_ERR, "cannot take %s into the session: %m", path);
		return -errno;
	}
	if (strcmp(path, "/dev/pts") != 0) {
		if (!S_ISCHR(st.st_mode)) {
			pam_syslog(pamh, LOG_ERR, "%s is not a terminal; not taking it into the session",
				   path);
			return -ENOTTY;
		}
		r = nook_pts_dev_mountpoint(init_pidfd, path + 5);
		if (r == -ENOTRECOVERABLE)
			return r;
		if (r < 0) {
			pam_syslog(pamh, LOG_ERR, "cannot make %s in the container's /dev: %s", path,
				   strerror(-r));
			return r;
		}
	}
	ret->tree = TAKE_FD(tree);
	snprintf(ret->target, sizeof(ret->target), "%s", path);
	return 0;
}

int nook_login_tty_mount(const struct nook_login_tty *t)
{
	if (t->tree < 0)
		return 0;
	if (unshare(CLONE_NEWNS) < 0 ||
	    syscall(SYS_move_mount, t->tree, "", AT_FDCWD, t->target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return -errno;
	return 0;
}
