/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nook-helper: installed setuid root, called by pam_nook.
 *
 *   nook-helper open USER      ensure USER's container and register the
 *                              caller (the parent process) as a session;
 *                              prints the keeper's info line
 *
 * The hardening comes first, before anything reads the environment or an
 * argument: empty environment, only fds 0-2, not dumpable, umask 077.
 * Only a caller whose real uid is 0 may act, and --config is honoured only
 * then (DESIGN.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bsd/unistd.h>

#include "cleanup.h"
#include "log.h"
#include "nook.h"

static void harden(void)
{
	/* Nothing of the caller's may steer us: no environment (LD_*, locale,
	 * TZ...), no inherited fds besides stdio, no core dumps or ptrace by
	 * the caller. */
	if (clearenv() != 0 || close_range(3, ~0U, 0) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		_exit(1);
	umask(077);
}

int main(int argc, char **argv)
{
	const char *conf = NOOK_CONF_DEFAULT_PATH;
	_cleanup_(nook_user_freep) struct nook_user u = { 0 };
	struct nook_session_info info;
	int pidfd, r, i = 1;

	harden();
	{
		/* clearenv() left environ NULL, which libbsd does not expect. */
		static char *no_env[] = { NULL };

		setproctitle_init(argc, argv, no_env);
	}
	nook_log_open("nook-helper", true);
	if (getuid() != 0) {
		log_err("only root may use nook-helper (real uid %u)", getuid());
		return 1;
	}
	if (argc > 2 && strcmp(argv[1], "--config") == 0) {
		conf = argv[2];
		i = 3;
	}
	if (argc != i + 2 || strcmp(argv[i], "open") != 0) {
		fprintf(stderr, "usage: nook-helper [--config FILE] open USER\n");
		return 2;
	}
	if (nook_user_load(conf, argv[i + 1], &u) < 0)
		return 1;
	pidfd = nook_pidfd_open(getppid());
	if (pidfd < 0) {
		log_err("pidfd_open of the caller: %s", strerror(-pidfd));
		return 1;
	}
	r = nook_ensure(&u, pidfd, &info);
	if (r < 0)
		return 1;
	printf("init=%d keeper=%d cgroup=%s\n", info.init_pid, info.keeper_pid, info.cgroup);
	return 0;
}
