/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Asking a user's keeper (the client side of its protocol): shared by the
 * PAM module and the helper. Library code: returns -errno, does not log.
 */
#pragma once

#include "protocol.h"

/* Connects to /run/nook/<user>/keeper.sock through the run directory fd. */
int nook_ctl_connect(int rundir_fd);
/* Registers SESSION_PIDFD as a session; returns init's pidfd in ret. */
int nook_ctl_register(int sock, int session_pidfd, struct nook_session_info *ret);
/* Like register, but adds no session (the caller was registered already). */
int nook_ctl_attach(int sock, struct nook_session_info *ret);
int nook_ctl_status(int sock, struct nook_session_info *ret);
int nook_ctl_stop(int sock);
