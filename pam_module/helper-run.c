/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Running nook-helper from the module: to create a container that is not
 * running. Its stdout is a pipe whose one line says the container is up.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <security/pam_modutil.h>

#include "cleanup.h"
#include "conf.h"
#include "module.h"
#include "protocol.h"
#include "util.h"

/* Starts "HELPER [--config CONF] open USER" like pam_mkhomedir runs its
 * helper: stdin and stderr on /dev/null, stdout a pipe to us, no other fds,
 * an empty environment. The caller has SIGCHLD at default.
 *
 * posix_spawn, not fork: glibc's shares our memory with the child until its
 * exec (CLONE_VM | CLONE_VFORK). A fork of sshd's monitor copied its page
 * tables and then made the monitor take a copy-on-write fault on every page
 * it wrote while the helper was being executed, work that sshd's own steps
 * of the login waited for (on the test VM, whose page tables are shadowed,
 * a millisecond and more). */
int helper_spawn(pam_handle_t *pamh, const struct opts *o, const char *user, struct helper_run *ret)
{
	const char *argv[6];
	char *envp[] = { NULL };
	posix_spawn_file_actions_t fa;
	int n = 0, pipefd[2], r;
	pid_t pid;

	argv[n++] = o->helper;
	if (strcmp(o->conf, NOOK_CONF_DEFAULT_PATH) != 0) {
		argv[n++] = "--config";
		argv[n++] = o->conf;
	}
	argv[n++] = "open";
	argv[n++] = user;
	argv[n] = NULL;
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		pam_syslog(pamh, LOG_ERR, "pipe: %m");
		return -errno;
	}
	r = posix_spawn_file_actions_init(&fa);
	if (r == 0) {
		/* In order: 1 the pipe first (the dup2 clears its O_CLOEXEC,
		 * and the pipe survives even where it got fd 0 or 2, in a
		 * caller that had closed them), then 0 and 2 on /dev/null,
		 * nothing else. */
		if ((r = posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1)) == 0 &&
		    (r = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDWR, 0)) == 0 &&
		    (r = posix_spawn_file_actions_adddup2(&fa, 0, 2)) == 0 &&
		    (r = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) == 0)
			r = posix_spawn(&pid, o->helper, &fa, NULL, (char *const *) argv, envp);
		posix_spawn_file_actions_destroy(&fa);
	}
	(void) close(pipefd[1]);
	if (r != 0) {
		pam_syslog(pamh, LOG_ERR, "cannot start %s: %s", o->helper, strerror(r));
		(void) close(pipefd[0]);
		return -r;
	}
	ret->pid = pid;
	ret->out = pipefd[0];
	return 0;
}

/* The helper's verdict: its exit status (0 is success). With RET_UNREAPED
 * (sshd's monitor, which waits only for the children it knows by pid), its
 * line saying the container is up is enough: its exit, a millisecond of
 * unmapping, is not waited for, and *RET_UNREAPED is its pid, to be reaped
 * later. Not for login(1), whose wait() for any child would take the
 * helper for the session's shell. QUIET: a helper that is no longer our
 * child (reaped by the caller) is not worth a log line. Closes H->out. */
int helper_finish(pam_handle_t *pamh, const struct opts *o, const char *user, struct helper_run *h,
		  bool quiet, pid_t *ret_unreaped)
{
	struct sigaction sa = { .sa_handler = SIG_DFL }, old;
	char line[NOOK_PROTO_MAX];
	size_t got = 0;
	int status = 0;
	pid_t w;

	if (h->pid <= 0 || h->out < 0)
		return -EBADF;
	for (;;) {
		ssize_t k = read(h->out, line + got, sizeof(line) - 1 - got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t) k;
		if (memchr(line, '\n', got) || got == sizeof(line) - 1)
			break;
	}
	(void) close(h->out);
	h->out = -EBADF;
	if (ret_unreaped && got > 0 && memchr(line, '\n', got)) {
		*ret_unreaped = h->pid;
		return 0;
	}
	sigemptyset(&sa.sa_mask);
	(void) sigaction(SIGCHLD, &sa, &old);
	while ((w = waitpid(h->pid, &status, 0)) < 0 && errno == EINTR)
		;
	(void) sigaction(SIGCHLD, &old, NULL);
	if (w < 0) {
		int r = -errno;

		if (!quiet || r != -ECHILD)
			pam_syslog(pamh, LOG_ERR, "waiting for %s: %s", o->helper, strerror(-r));
		return r;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	pam_syslog(pamh, LOG_ERR, "%s open %s failed (status %d); see its messages in the log", o->helper,
		   user, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return -EIO;
}

int run_helper(pam_handle_t *pamh, const struct opts *o, const char *user)
{
	struct sigaction sa = { .sa_handler = SIG_DFL }, old;
	struct helper_run h = { .pid = -1, .out = -EBADF };
	int r;

	/* SIGCHLD at default from the fork until its status is read: an
	 * ignored SIGCHLD would let the kernel reap the helper first. */
	sigemptyset(&sa.sa_mask);
	(void) sigaction(SIGCHLD, &sa, &old);
	r = helper_spawn(pamh, o, user, &h);
	if (r >= 0)
		r = helper_finish(pamh, o, user, &h, false, NULL);
	(void) sigaction(SIGCHLD, &old, NULL);
	return r;
}
