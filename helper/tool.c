/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The system tools the keeper needs (mkfs.ext4, e2fsck, cp, crontab), run the one
 * way a setuid program may run them: an absolute path, a clean
 * environment, stdin from /dev/null (or a file of the caller's), no signal blocked. Only the caller's
 * descriptors without O_CLOEXEC reach them.
 *
 * A tool dies with its caller (PR_SET_PDEATHSIG): a keeper killed while
 * it creates or checks an image must not leave an mkfs writing into the
 * next attempt's file of the same name, nor an e2fsck repairing an image
 * the next keeper checks too. posix_spawn() cannot ask for that.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nook.h"

static char *const clean_env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL };

/* In the child: never returns. IN is its stdin, OUT its stdout and ERR its
 * stderr (-1: /dev/null). An errno that stops the exec goes to ERR_PIPE
 * (O_CLOEXEC: closed by a successful exec). */
__attribute__((noreturn)) static void exec_tool(char *const argv[], int in, int out, int err, pid_t parent,
						int err_pipe)
{
	sigset_t none;
	int null, e;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127); /* the caller is gone already */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	(void) signal(SIGPIPE, SIG_DFL); /* the keeper ignores it; exec keeps that */
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(in >= 0 ? in : null, STDIN_FILENO) < 0 ||
	    dup2(out >= 0 ? out : null, STDOUT_FILENO) < 0 || dup2(err >= 0 ? err : null, STDERR_FILENO) < 0)
		_exit(127);
	execve(argv[0], argv, clean_env);
	e = errno;
	(void) !write(err_pipe, &e, sizeof(e));
	_exit(127);
}

static int run(char *const argv[], int in, int out, int err)
{
	pid_t parent = getpid(), pid;
	int status, p[2], e = 0;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		e = errno;
		(void) close(p[0]);
		(void) close(p[1]);
		return -e;
	}
	if (pid == 0) {
		(void) close(p[0]);
		exec_tool(argv, in, out, err, parent, p[1]);
	}
	(void) close(p[1]);
	do
		n = read(p[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	(void) close(p[0]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	if (n == (ssize_t) sizeof(e))
		return -e; /* not executed */
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

int nook_run_tool(char *const argv[], enum nook_tool_output out)
{
	switch (out) {
	case NOOK_TOOL_STDERR:
		return run(argv, -1, STDERR_FILENO, STDERR_FILENO);
	case NOOK_TOOL_QUIET:
		return run(argv, -1, -1, STDERR_FILENO);
	case NOOK_TOOL_SILENT:
	default:
		return run(argv, -1, -1, -1);
	}
}

int nook_run_tool_fds(char *const argv[], int in, int out)
{
	return run(argv, in, out, out);
}
