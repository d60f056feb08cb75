/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pam_nook and terminals (terminal.c). */
#pragma once

#include <sys/types.h>

#include <security/pam_modules.h>

/* login(1): hands its terminal (PAM_TTY) to UID and the container's own tty
 * group, mode 0620, as host root before entering (login chowns it from
 * inside, where the host's tty group is not mapped). */
void nook_login_tty_hand_over(pam_handle_t *pamh, pid_t init_pid, uid_t uid);

/* login(1): starts the host-side guard of its terminal (PAM_TTY), before
 * entering; *RET_SOCK is login's end (-EBADF when there is no terminal).
 * nook_login_tty_release, in close_session, has the guard hang the
 * terminal up so nothing left inside reads from it afterwards. */
int nook_login_tty_guard(pam_handle_t *pamh, int *ret_sock);
int nook_login_tty_release(int sock);

/* su and the like: the caller's terminal stays here, relayed. Returns 0 in
 * the child that goes on into the container (or when no fd is a
 * terminal), never returns in the relay, < 0 when the session must not
 * start; exits (fail closed) if it cannot return to its own mount
 * namespace. */
int nook_caller_terminal_relay(pam_handle_t *pamh, uid_t uid, int init_pidfd);

/* What login's session must see at the name of its terminal: TREE (a
 * detached mount, -EBADF for nothing) at TARGET, in a mount namespace of
 * the session's own. */
struct nook_login_tty {
	int tree;
	char target[64];
};
/* Host side, before entering. -ENOTRECOVERABLE: the caller must end. */
int nook_login_tty_prepare(pam_handle_t *pamh, int init_pidfd, struct nook_login_tty *ret);
/* Inside, as container root, before the restricted profile. */
int nook_login_tty_mount(const struct nook_login_tty *t);
