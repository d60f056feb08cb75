/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Step timestamps (trace.h). The file is opened once per process, on the
 * first step, by its fixed path under the root-owned run directory without
 * following a link, and used only if root owns it and nobody else may write
 * it: a setuid helper must not append to a file its caller chose.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rundir.h"
#include "trace.h"

/* -1: not open (tried on the next step); -2: off; -3: ended for good. */
static int trace_fd = -1;
/* What trace_fd was opened on: a close_range() elsewhere (the helper's
 * hardening, the keeper's fork) may have given its number to another file,
 * which must never receive a line. */
static dev_t trace_dev;
static ino_t trace_ino;

static int trace_open(void)
{
	struct stat st;
	int fd = open(NOOK_RUN_DIR "/" NOOK_TRACE_FILE,
		      O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return -2;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & (S_IWGRP | S_IWOTH))) {
		(void) close(fd);
		return -2;
	}
	trace_dev = st.st_dev;
	trace_ino = st.st_ino;
	return fd;
}

void nook_trace(const char *who, const char *step)
{
	struct timespec ts;
	struct stat st;
	char line[128];
	int n;

	if (trace_fd >= 0 && (fstat(trace_fd, &st) < 0 || st.st_dev != trace_dev || st.st_ino != trace_ino))
		trace_fd = -1; /* closed behind our back: not ours any more */
	if (trace_fd == -1)
		trace_fd = trace_open();
	if (trace_fd < 0)
		return;
	(void) clock_gettime(CLOCK_MONOTONIC, &ts);
	n = snprintf(line, sizeof(line), "%lld %d %s %s\n", (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec,
		     (int) getpid(), who, step);
	if (n > 0 && (size_t) n < sizeof(line))
		(void) !write(trace_fd, line, (size_t) n);
}

void nook_trace_close(bool for_good)
{
	if (trace_fd >= 0)
		(void) close(trace_fd);
	if (for_good || trace_fd == -3)
		trace_fd = -3;
	else
		trace_fd = -1;
}
