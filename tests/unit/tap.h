/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Minimal TAP producer for nook's unit tests (read by prove).
 * Each test program prints "1..N" at the end (done_testing) and one
 * "ok/not ok" line per check. A check that must not poison the next
 * (seccomp, unshare) runs in a forked child: see tap_fork().
 */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int tap_n;
static int tap_failed;

static inline __attribute__((format(printf, 2, 3))) int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!cond)
		tap_failed++;
	fflush(stdout);
	return cond;
}

#define ok(cond, ...) tap_ok(!!(cond), __VA_ARGS__)

#define is_int(got, want, ...)                                             \
	({                                                                 \
		long long _g = (long long) (got), _w = (long long) (want); \
		int _r = tap_ok(_g == _w, __VA_ARGS__);                    \
		if (!_r)                                                   \
			printf("#   got %lld, want %lld\n", _g, _w);       \
		_r;                                                        \
	})

#define is_str(got, want, ...)                                                                       \
	({                                                                                           \
		const char *_g = (got), *_w = (want);                                                \
		int _r = tap_ok(_g && _w && strcmp(_g, _w) == 0, __VA_ARGS__);                       \
		if (!_r)                                                                             \
			printf("#   got '%s', want '%s'\n", _g ? _g : "(null)", _w ? _w : "(null)"); \
		_r;                                                                                  \
	})

static inline __attribute__((format(printf, 1, 2))) void diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static inline int skip_all(const char *why)
{
	printf("1..0 # SKIP %s\n", why);
	return 0;
}

static inline int done_testing(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

/*
 * Runs FN in a forked child and returns its exit status (or 128+signal),
 * so that tests which load seccomp filters or change namespaces cannot
 * affect the next one. The child is killed after TIMEOUT seconds.
 */
static inline int tap_fork(int (*fn)(void *), void *arg, unsigned timeout)
{
	pid_t pid;
	int status;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		alarm(timeout);
		_exit(fn(arg));
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1; /* not our child any more: nothing to wait for */
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
