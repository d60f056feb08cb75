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
#include <termios.h>
#include <unistd.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

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
 * controlling terminal; -1 when there is none or it is not a terminal
 * device under /dev. */
static int open_login_tty(pam_handle_t *pamh, int flags, char *path, size_t size)
{
	const char *tty = NULL;
	struct stat st;
	int fd;

	if (pam_get_item(pamh, PAM_TTY, (const void **) &tty) != PAM_SUCCESS || !tty || !*tty)
		return -1;
	snprintf(path, size, "%s%s", tty[0] == '/' ? "" : "/dev/", tty);
	if (strncmp(path, "/dev/", 5) != 0 || strstr(path, ".."))
		return -1;
	fd = nook_open_nofollow(path, flags | O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode)) {
		(void) close(fd);
		return -1;
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
	char path[256];
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
 * whose other end only login's own process has. When login says the
 * session is over (a byte) or is gone (end of file), it hangs the terminal
 * up, so every descriptor on it that anything inside still holds reads
 * end of file from then on, and says so (a byte back).
 */
_Noreturn static void guard_run(int login_end, int sock, int tty)
{
	sigset_t all;
	int null;
	char c;

	(void) close(login_end);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (setsid() < 0 || null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
		_exit(1);
	/* Fds 3 and 4, all others closed; high copies first, so that neither
	 * overwrites the other. */
	sock = fcntl(sock, F_DUPFD, 100);
	tty = fcntl(tty, F_DUPFD, 100);
	if (sock < 0 || tty < 0 || dup2(sock, 3) < 0 || dup2(tty, 4) < 0 || close_range(5, ~0U, 0) < 0)
		_exit(1);
	for (int sig = 1; sig < NSIG; sig++)
		(void) signal(sig, SIG_DFL);
	sigemptyset(&all);
	(void) sigprocmask(SIG_SETMASK, &all, NULL);
	(void) prctl(PR_SET_NAME, "nook-ttyguard");
	while (read(3, &c, 1) < 0 && errno == EINTR)
		;
	if (ioctl(4, TIOCVHANGUP) < 0)
		_exit(1);
	_exit(write(3, "h", 1) == 1 ? 0 : 1);
}

/*
 * A process left inside the container (detached, keeping login's terminal
 * open) must not read what is typed on that terminal after the session:
 * the next getty's vhangup() would revoke it, but only when one runs, and
 * inside the container nothing may hang a host terminal up. So before
 * entering, host root starts the guard, and close_session asks it to hang
 * the terminal up (nook_login_tty_release).
 */
int nook_login_tty_guard(pam_handle_t *pamh, int *ret_sock)
{
	char path[256];
	_cleanup_close_ int tty = open_login_tty(pamh, O_RDWR, path, sizeof(path));
	int sv[2], status;
	pid_t pid;

	*ret_sock = -EBADF;
	if (tty < 0)
		return 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int r = -errno;

		(void) close(sv[0]);
		(void) close(sv[1]);
		return r;
	}
	if (pid == 0) {
		/* login waits for any child: the guard must not be one. */
		pid = fork();
		if (pid != 0)
			_exit(pid < 0);
		guard_run(sv[0], sv[1], tty);
	}
	(void) close(sv[1]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			status = 1;
			break;
		}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		(void) close(sv[0]);
		pam_syslog(pamh, LOG_ERR, "cannot start the guard of %s", path);
		return -ECHILD;
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

	/* The hangup sends SIGHUP to the terminal's session leader, which is
	 * login itself (agetty made the terminal its controlling one): it
	 * must outlive the hangup to finish closing the session, as it does
	 * around its own TIOCNOTTY. */
	if (sigaction(SIGHUP, &ign, &old) < 0)
		return -errno;
	if (write(sock, "h", 1) < 0)
		r = -errno;
	/* Bounded: the guard answers at once; a guard that is gone has
	 * already hung up (it does when the socket ends). */
	else if (poll(&p, 1, 5000) <= 0)
		r = -ETIMEDOUT;
	else
		r = read(sock, &c, 1) == 1 ? 0 : -EPIPE;
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
