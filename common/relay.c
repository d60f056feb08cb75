/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A terminal relayed, never handed over: `nookctl exec` on root's terminal,
 * and su (pam_nook with enter=session) on its caller's.
 *
 * Handing the caller's own tty fds into a user's container lets a process
 * the user planted (setsid, keep fd 0) outlive the command and read what
 * the caller types at the host prompt afterwards: read(), TCSETS and fake
 * prompts need no TIOCSTI (issue 10). So, as `machinectl shell`, `docker
 * exec -t` and `su --pty` do:
 *   - stdin and stdout are terminals: the command gets a new pty (its
 *     controlling terminal, owned by the user); the relay puts the caller's
 *     terminal in raw mode and copies bytes both ways, and the window size
 *     on SIGWINCH. ^C, ^Z and friends are bytes that the new pty's line
 *     discipline turns into signals inside, so job control works there;
 *   - otherwise each of fds 0-2 that is a terminal is replaced by a pipe
 *     that the relay copies; fds that are no terminal are passed as they are.
 * When the command's process (the joiner) exits, the relay stops reading
 * the caller's terminal, drains what is already there, and closes its ends:
 * the pty is hung up, the pipes are broken, and whatever stayed behind
 * inside holds nothing that reaches the caller.
 */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "cleanup.h"
#include "pts.h"
#include "relay.h"
#include "util.h"

#define RELAY_BUF 4096

struct channel {
	int in, out; /* -1: unused */
	char buf[RELAY_BUF];
	size_t len, off;
	bool eof;
};

static void fd_close(int *fd)
{
	if (*fd >= 0)
		(void) close(*fd);
	*fd = -EBADF;
}

int nook_relay_setup(uid_t uid, int init_pidfd, struct nook_relay *ret)
{
	struct nook_relay r = { .master = -EBADF,
				.cmd = { -EBADF, -EBADF, -EBADF },
				.ours = { -EBADF, -EBADF, -EBADF } };

	if (isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)) {
		struct winsize ws = { 0 };
		struct termios tio;
		int slave = -EBADF;

		/* A host pty, like the one sshd gives a session: the user's
		 * (0620, group tty, which is not mapped inside). */
		(void) ioctl(STDIN_FILENO, TIOCGWINSZ, &ws);
		if (tcgetattr(STDIN_FILENO, &tio) < 0)
			return -errno;
		if (init_pidfd >= 0) {
			int e;

			/* From the container's devpts, so that it has its name
			 * inside (pts.c). */
			r.master = nook_pts_open_master(init_pidfd);
			if (r.master < 0)
				return r.master;
			if (unlockpt(r.master) < 0 ||
			    (slave = ioctl(r.master, TIOCGPTPEER, O_RDWR | O_NOCTTY)) < 0 ||
			    tcsetattr(slave, TCSANOW, &tio) < 0 || ioctl(slave, TIOCSWINSZ, &ws) < 0) {
				e = -errno;
				if (slave >= 0)
					(void) close(slave);
				fd_close(&r.master);
				return e;
			}
		} else if (openpty(&r.master, &slave, NULL, &tio, &ws) < 0)
			return -errno;
		r.cmd[0] = slave;
		if (fcntl(r.master, F_SETFD, FD_CLOEXEC) < 0 || fchown(slave, uid, (gid_t) -1) < 0 ||
		    fchmod(slave, 0620) < 0) {
			int e = -errno;

			nook_relay_close(&r);
			return e;
		}
		r.pty = true;
		r.saved = tio;
		r.active = true;
		*ret = r;
		return 0;
	}
	for (int fd = 0; fd < 3; fd++) {
		int p[2];

		if (!isatty(fd))
			continue;
		if (pipe2(p, O_CLOEXEC) < 0) {
			int e = -errno;

			nook_relay_close(&r);
			return e;
		}
		r.cmd[fd] = fd == 0 ? p[0] : p[1];
		r.ours[fd] = fd == 0 ? p[1] : p[0];
		r.active = true;
	}
	*ret = r;
	return 0;
}

int nook_relay_child(struct nook_relay *r)
{
	if (!r->active)
		return 0;
	fd_close(&r->master);
	for (int fd = 0; fd < 3; fd++)
		fd_close(&r->ours[fd]);
	for (int fd = 0; fd < 3; fd++) {
		int src = r->pty ? r->cmd[0] : r->cmd[fd];

		if (src >= 0 && dup2(src, fd) < 0)
			return -errno;
	}
	for (int fd = 0; fd < 3; fd++)
		if (r->cmd[fd] > 2)
			fd_close(&r->cmd[fd]);
	return 0;
}

int nook_relay_ctty(const struct nook_relay *r)
{
	if (!r->active || !r->pty)
		return 0;
	if (setsid() < 0 || ioctl(STDIN_FILENO, TIOCSCTTY, 0) < 0)
		return -errno;
	return 0;
}

/* Moves what CH's input has into its output; sets eof once it is done. */
static void channel_io(struct channel *ch, short rev_in, short rev_out)
{
	ssize_t n;

	if (ch->len == 0 && (rev_in & (POLLIN | POLLHUP | POLLERR))) {
		n = read(ch->in, ch->buf, sizeof(ch->buf));
		if (n > 0) {
			ch->len = (size_t) n;
			ch->off = 0;
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			/* EOF, or EIO on a pty master once no slave is open. */
			ch->eof = true;
		}
	}
	if (ch->len > 0 && (rev_out & (POLLOUT | POLLERR | POLLHUP))) {
		n = write(ch->out, ch->buf + ch->off, ch->len);
		if (n > 0) {
			ch->off += (size_t) n;
			ch->len -= (size_t) n;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			ch->len = 0;
			ch->eof = true;
		}
	}
}

/* After the command: what its side wrote before it ended, without waiting
 * for an EOF that a process left behind could withhold forever. */
static void drain(struct channel *ch)
{
	for (int i = 0; i < 256 && !ch->eof; i++) {
		ssize_t n;

		if (ch->len == 0) {
			n = read(ch->in, ch->buf, sizeof(ch->buf));
			if (n <= 0)
				return;
			ch->len = (size_t) n;
			ch->off = 0;
		}
		if (nook_write_all(ch->out, ch->buf + ch->off, ch->len) < 0)
			return;
		ch->len = 0;
	}
}

static int wait_code(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 125;
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

int nook_relay_run(struct nook_relay *r, pid_t child, int sig_fd)
{
	struct channel ch[3];
	size_t n_ch = 0;
	bool raw = false;

	for (int fd = 0; fd < 3; fd++)
		fd_close(&r->cmd[fd]);
	/* A command that stops reading its stdin pipe must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	if (r->pty) {
		struct termios tio = r->saved;

		ch[n_ch++] = (struct channel) { .in = STDIN_FILENO, .out = r->master };
		ch[n_ch++] = (struct channel) { .in = r->master, .out = STDOUT_FILENO };
		cfmakeraw(&tio);
		raw = tcsetattr(STDIN_FILENO, TCSADRAIN, &tio) == 0;
	} else {
		for (int fd = 0; fd < 3; fd++)
			if (r->ours[fd] >= 0)
				ch[n_ch++] =
					fd == 0 ? (struct channel) { .in = STDIN_FILENO, .out = r->ours[0] }
						: (struct channel) { .in = r->ours[fd], .out = fd };
	}
	for (size_t i = 0; i < n_ch; i++)
		if (ch[i].in != STDIN_FILENO)
			(void) fcntl(ch[i].in, F_SETFL, fcntl(ch[i].in, F_GETFL) | O_NONBLOCK);

	for (;;) {
		struct pollfd p[1 + 2 * 3];
		size_t np = 0;
		struct signalfd_siginfo si;

		p[np++] = (struct pollfd) { .fd = sig_fd, .events = POLLIN };
		for (size_t i = 0; i < n_ch; i++) {
			p[np++] = (struct pollfd) { .fd = ch[i].eof || ch[i].len ? -1 : ch[i].in,
						    .events = POLLIN };
			p[np++] = (struct pollfd) { .fd = ch[i].len ? ch[i].out : -1, .events = POLLOUT };
		}
		if (poll(p, np, -1) < 0 && errno != EINTR)
			break;
		while (read(sig_fd, &si, sizeof(si)) == (ssize_t) sizeof(si)) {
			if (si.ssi_signo == SIGWINCH && r->pty) {
				struct winsize ws;

				if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
					(void) ioctl(r->master, TIOCSWINSZ, &ws);
			} else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGHUP) {
				(void) kill(child, (int) si.ssi_signo);
			}
		}
		{
			siginfo_t info = { 0 };

			/* Ended (not yet reaped): stop reading root's terminal now. */
			if (waitid(P_PID, (id_t) child, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
			    info.si_pid == child)
				break;
		}
		for (size_t i = 0; i < n_ch; i++) {
			channel_io(&ch[i], p[1 + 2 * i].revents, p[2 + 2 * i].revents);
			/* Root typed EOF into the pipe's terminal: the command's
			 * stdin ends (a pty has no EOF of its own here). */
			if (ch[i].eof && ch[i].in == STDIN_FILENO && !r->pty)
				fd_close(&r->ours[0]);
		}
	}
	/* The command is done: its output so far, then nothing more. */
	for (size_t i = 0; i < n_ch; i++)
		if (ch[i].in != STDIN_FILENO)
			drain(&ch[i]);
	if (raw)
		(void) tcsetattr(STDIN_FILENO, TCSADRAIN, &r->saved);
	nook_relay_close(r);
	return wait_code(child);
}

void nook_relay_close(struct nook_relay *r)
{
	fd_close(&r->master);
	for (int fd = 0; fd < 3; fd++) {
		fd_close(&r->cmd[fd]);
		fd_close(&r->ours[fd]);
	}
}
