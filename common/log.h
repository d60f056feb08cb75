/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Logging for the helper and nookctl: to syslog (facility authpriv) and,
 * when attached to a terminal or asked to, to stderr. The PAM module uses
 * pam_syslog instead and does not link this.
 */
#pragma once

#include <stdbool.h>
#include <syslog.h>

void nook_log_open(const char *ident, bool to_stderr);
void nook_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) nook_log(LOG_ERR, __VA_ARGS__)
#define log_warn(...) nook_log(LOG_WARNING, __VA_ARGS__)
#define log_info(...) nook_log(LOG_INFO, __VA_ARGS__)
