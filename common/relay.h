/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A terminal relayed, never handed over: `nookctl exec` on root's terminal
 * and su (pam_nook, enter=session) on its caller's. See relay.c.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <termios.h>

struct nook_relay {
	bool active;          /* something to relay (some of fds 0-2 is a terminal) */
	bool pty;             /* stdin and stdout are terminals: a new pty */
	int master;           /* pty mode: our end */
	int cmd[3];           /* what the command gets as 0, 1, 2 (pty mode: cmd[0] for all) */
	int ours[3];          /* pipe mode: our ends */
	struct termios saved; /* the caller's terminal before raw mode */
};
/* Before the fork: a pty for UID (from the devpts instance of the container
 * whose init INIT_PIDFD is, or the caller's own when it is < 0), or pipes for
 * the fds that are terminals. -ENOTRECOVERABLE: the caller could not return
 * to its own mount namespace and must end (pts.c). */
int nook_relay_setup(uid_t uid, int init_pidfd, struct nook_relay *ret);
/* In the child, before it enters the container: the command's ends on
 * fds 0-2, nothing else of the relay kept. */
int nook_relay_child(struct nook_relay *r);
/* In the command's process: the pty becomes its controlling terminal. */
int nook_relay_ctty(const struct nook_relay *r);
/* On the caller's side: relays until CHILD ends (SIG_FD: a signalfd for
 * SIGCHLD, SIGWINCH, SIGTERM, SIGHUP), closes everything, returns CHILD's
 * exit code (128 + signal when a signal ended it). */
int nook_relay_run(struct nook_relay *r, pid_t child, int sig_fd);
void nook_relay_close(struct nook_relay *r);
