/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Build-time side of the seccomp profiles (see seccomp-policy.c). */
#pragma once

#include <seccomp.h>
#include <stdbool.h>

#include "conf.h"

/*
 * Builds one of the two filters of PROFILE: the carve-outs (default allow,
 * refusals that depend on arguments; *ret may be NULL when there are none)
 * or the allowlist (default EPERM).
 */
int nook_seccomp_build(enum nook_profile profile, bool carveouts, scmp_filter_ctx *ret);
