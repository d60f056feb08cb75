/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Step timestamps for scripts/bench: where a login's time goes, per process
 * (PAM module, helper, keeper). Off unless root created /run/nook/.trace
 * (a regular file owned by root, writable by root only); then every step
 * appends one line "MONOTONIC_NS PID WHO STEP". Costs one failed open per
 * process when off. Never logs, never fails its caller.
 */
#pragma once

#include <stdbool.h>

#define NOOK_TRACE_FILE ".trace" /* under NOOK_RUN_DIR */

/* Appends a line for STEP (a constant word, no spaces). WHO names the
 * process kind ("pam", "helper", "keeper"). */
void nook_trace(const char *who, const char *step);

/* Closes the file if it is open. FOR_GOOD: no step of this process is
 * traced any more (it has entered a container, or is about to become the
 * user); otherwise the next step opens it again (the PAM module closes it
 * at the end of every hook, so that sshd holds no host file between them). */
void nook_trace_close(bool for_good);
