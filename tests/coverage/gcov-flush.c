/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Linked into the coverage build only (make coverage), which links with
 * -Wl,--wrap=_exit,--wrap=execvpe. gcov writes a process's counters at
 * exit() and before the exec calls GCC knows (execve, execv, ...), but not
 * at _exit(), which ends every forked child of the helper and the module
 * and the keeper itself, nor before execvpe() (nookctl exec). This writes
 * them there too.
 *
 * Only while the process still sees the host's build tree: inside a
 * container's mount namespace the same path is the overlay (another
 * device), where the write would fail and libgcov would print
 * "profiling: ... Cannot open" on the command's stderr. COV_DIR, COV_DEV and
 * COV_INO name the build directory as the host sees it (the Makefile).
 */
#include <sys/stat.h>
#include <unistd.h>

void __gcov_dump(void);
void __real__exit(int status) __attribute__((noreturn));
void __wrap__exit(int status) __attribute__((noreturn));
int __real_execvpe(const char *file, char *const argv[], char *const envp[]);
int __wrap_execvpe(const char *file, char *const argv[], char *const envp[]);

static void flush(void)
{
	struct stat st;

	if (stat(COV_DIR, &st) == 0 && st.st_dev == (dev_t) COV_DEV && st.st_ino == (ino_t) COV_INO)
		__gcov_dump();
}

void __wrap__exit(int status)
{
	flush();
	__real__exit(status);
}

int __wrap_execvpe(const char *file, char *const argv[], char *const envp[])
{
	flush();
	return __real_execvpe(file, argv, envp);
}
