/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Whether a PAM service enters the container: its file in /etc/pam.d has a
 * session line for pam_nook. cron opens a session for every job (service
 * "cron"), but its stack includes common-session-noninteractive, where
 * pam-auth-update puts no pam_nook; without a line of its own in
 * /etc/pam.d/cron a selected user's job would run on the host. pam_nook's
 * account hook and the keeper's crontab sync read this to fail closed.
 * Library code: returns -errno, does not log.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* True if TEXT (a PAM configuration file's contents, LEN bytes) has a line
 * "session required|requisite <...>/pam_nook.so [args]"; comments, other
 * types and other control values do not count. */
bool nook_pam_text_enters(const char *text, size_t len);

/* 1 if /etc/pam.d/SERVICE has such a line, 0 if not (or the file is
 * missing), -errno if SERVICE is not a plain name or the file unreadable. */
int nook_pam_service_enters(const char *service);
