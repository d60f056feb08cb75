/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * /run/nook/<user>/, as the PAM module finds it (the helper creates and
 * locks it: helper/state.c). Library code: returns -errno, does not log.
 */
#pragma once

#define NOOK_RUN_DIR "/run/nook"

/* Opens /run/nook/USER (must be root-owned 0700) without following links. */
int nook_rundir_open_existing(const char *user);
