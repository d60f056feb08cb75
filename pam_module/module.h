/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pam_nook's own parts, shared by its files: the options and the policy
 * (policy.c: who is selected, under which configuration, with which
 * helper), running the helper (helper-run.c), and the hooks that use them
 * (pam_nook.c). terminal.h has the terminals.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <security/pam_modules.h>

#include "conf.h"

#ifndef NOOK_LIBEXECDIR
#define NOOK_LIBEXECDIR "/usr/local/libexec/nook"
#endif
#define DEFAULT_HELPER NOOK_LIBEXECDIR "/nook-helper"
#define PARSED_KEY "pam_nook_parsed"
#define MAX_GROUPS 256

enum enter_mode { ENTER_DEFAULT, ENTER_SETCRED, ENTER_SESSION };

struct opts {
	const char *conf;
	const char *helper;
	enum enter_mode enter;
	bool debug;
};

/* A helper started by helper_spawn: its pid, and the read end of its
 * stdout, where its last act is the one line that says the container is up
 * (main-helper.c). */
struct helper_run {
	pid_t pid;
	int out;
};

struct who {
	const char *name;
	uid_t uid;
	gid_t gid;
	gid_t groups[MAX_GROUPS];
	int n_groups;
};

/* The module's arguments, checked against the caller (enter=). */
int parse_opts(pam_handle_t *pamh, int argc, const char **argv, struct opts *o);
/* Looks the user up and decides: PAM_SUCCESS for a selected user (W filled,
 * and RET_SETTINGS if given), PAM_IGNORE for one who is not; anything else
 * is an error to return. */
int policy(pam_handle_t *pamh, const struct opts *o, struct who *w, struct nook_settings *ret_settings);
/* Drops what policy() kept for the next hook of this process. */
void parsed_drop(pam_handle_t *pamh);
/* The helper must be root's: a helper others can replace is a root shell. */
int check_helper(pam_handle_t *pamh, const char *path);
/* A cron job's account: refused unless cron's own PAM file enters. */
int check_cron(pam_handle_t *pamh, const char *user);

int helper_spawn(pam_handle_t *pamh, const struct opts *o, const char *user, struct helper_run *ret);
int helper_finish(pam_handle_t *pamh, const struct opts *o, const char *user, struct helper_run *h,
		  bool quiet, pid_t *ret_unreaped);
/* Runs the helper and waits for its exit: 0 when the container is up. */
int run_helper(pam_handle_t *pamh, const struct opts *o, const char *user);
