/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The system tools the image needs (mkfs.ext4, e2fsck, cp), run the one
 * way a setuid program may run them: an absolute path, a clean
 * environment, stdin from /dev/null, no signal blocked. Only the caller's
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

/* In the child: never returns. An errno that stops the exec goes to ERR_FD
 * (O_CLOEXEC: closed by a successful exec). */
__attribute__((noreturn)) static void exec_tool(char *const argv[], enum nook_tool_output out, pid_t parent,
						int err_fd)
{
	sigset_t none;
	int null, e;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127); /* the caller is gone already */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, STDIN_FILENO) < 0)
		_exit(127);
	if (out == NOOK_TOOL_STDERR) {
		if (dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
			_exit(127);
	} else if (dup2(null, STDOUT_FILENO) < 0) {
		_exit(127);
	}
	if (out == NOOK_TOOL_SILENT && dup2(null, STDERR_FILENO) < 0)
		_exit(127);
	execve(argv[0], argv, clean_env);
	e = errno;
	(void) !write(err_fd, &e, sizeof(e));
	_exit(127);
}

int nook_run_tool(char *const argv[], enum nook_tool_output out)
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
		exec_tool(argv, out, parent, p[1]);
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
