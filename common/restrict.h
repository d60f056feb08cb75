/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The restricted profile applied to every process that enters a container
 * on behalf of a user (a login, `nookctl exec`): no_new_privs, empty
 * bounding/ambient/inheritable capability sets, and a seccomp allowlist.
 *
 * Library code: returns -errno and does not log. The seccomp rules live as
 * data in seccomp-policy.c (one table per profile, so a later profile can
 * differ), compiled to BPF at build time by seccomp-gen.c; restrict.c
 * loads the result.
 */
#pragma once

#include "conf.h"

/*
 * Applies PROFILE to the calling thread. Must be called while the process
 * still has CAP_SETPCAP in its user namespace (to drop the bounding set),
 * i.e. as (container) root, before the final drop to the user.
 * Verifies each step by reading it back (prctl/capget) and fails with
 * -EPERM if a step did not take effect.
 */
int nook_restrict_apply(enum nook_profile profile);

/* Loads only the seccomp filter of PROFILE (needs no_new_privs or CAP_SYS_ADMIN). */
int nook_seccomp_load(enum nook_profile profile);
