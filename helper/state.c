/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Runtime state: /run/nook/<user>/ (root, 0700) holds the lock, the keeper's
 * socket and state, and the staging mount point of init. The directory and
 * the lock file are never removed: a process waiting on the lock of a
 * removed file would hold a lock nobody else sees.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "nook.h"

static int check_root_dir(int fd, const char *path, mode_t forbidden)
{
	int r = nook_check_root_owned(fd, S_IFDIR, forbidden, NULL);

	if (r == -ENOTDIR || r == -EPERM) {
		log_err("%s must be a directory owned by root with mode %s; remove it and retry", path,
			forbidden == 0077 ? "0700" : "0755");
		return -EPERM;
	}
	return r;
}

int nook_run_subdir_open(const char *name, bool create)
{
	_cleanup_close_ int top = -EBADF, dir = -EBADF;
	char path[128];
	int r;

	if (create && mkdir(NOOK_RUN_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	top = nook_open_nofollow(NOOK_RUN_DIR, O_RDONLY | O_DIRECTORY, 0);
	if (top < 0)
		return top;
	r = check_root_dir(top, NOOK_RUN_DIR, 0022);
	if (r < 0)
		return r;
	if (create && mkdirat(top, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	dir = openat(top, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0)
		return -errno;
	snprintf(path, sizeof(path), NOOK_RUN_DIR "/%s", name);
	r = check_root_dir(dir, path, 0077);
	if (r < 0)
		return r;
	return TAKE_FD(dir);
}

int nook_rundir_open(const char *user, bool create)
{
	_cleanup_close_ int dir = -EBADF;

	if (!nook_valid_user_name(user))
		return -EINVAL;
	dir = nook_run_subdir_open(user, create);
	if (dir < 0)
		return dir;
	/* init (container root, to which host root's files belong to nobody)
	 * must be able to look up "." in this directory: it gets o+x, and the
	 * 0700 parent still keeps everyone else out. */
	if (create && ((mkdirat(dir, "root", 0711) < 0 && errno != EEXIST) ||
		       fchmodat(dir, "root", 0711, AT_SYMLINK_NOFOLLOW) < 0))
		return -errno;
	return TAKE_FD(dir);
}

static int open_lock(int rundir_fd)
{
	int fd = openat(rundir_fd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

	return fd < 0 ? -errno : fd;
}

/* Who holds the lock FD names, and what that process is (its command
 * line, or "" once it has exited and a process it started holds it):
 * 1, or 0 when /proc/locks names nobody. */
static int holder(int fd, pid_t *ret_pid, char *cmd, size_t size)
{
	struct stat st;
	pid_t pid = 0;
	char path[64];
	int n = -1;

	if (fstat(fd, &st) < 0 || nook_flock_holder(st.st_dev, st.st_ino, &pid) <= 0)
		return 0;
	{
		_cleanup_close_ int c = -EBADF;

		snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
		c = open(path, O_RDONLY | O_CLOEXEC);
		if (c >= 0)
			n = nook_read_all(c, cmd, size - 1);
	}
	n = n < 0 ? 0 : n;
	cmd[n] = '\0';
	for (int i = 0; i < n; i++)
		if (cmd[i] == '\0')
			cmd[i] = ' ';
	while (n > 0 && cmd[n - 1] == ' ')
		cmd[--n] = '\0';
	*ret_pid = pid;
	return 1;
}

/* Says who holds the lock FD names, and what that process is. */
static void log_holder(int fd, const char *user, unsigned timeout_ms)
{
	pid_t pid;
	char cmd[256];

	if (holder(fd, &pid, cmd, sizeof(cmd)) > 0) {
		log_err("the lock of '%s' (" NOOK_RUN_DIR
			"/%s/lock) has been held for over %u s by pid %d (%s); "
			"giving up. If that process is stuck, end it: kill %d",
			user, user, timeout_ms / 1000, pid,
			*cmd ? cmd : "exited; a process it started holds the lock", pid);
		return;
	}
	log_err("the lock of '%s' (" NOOK_RUN_DIR "/%s/lock) has been held for over %u s; giving up", user,
		user, timeout_ms / 1000);
}

int nook_lock_holder(int rundir_fd, pid_t *ret_pid, char *cmd, size_t size)
{
	_cleanup_close_ int fd = openat(rundir_fd, "lock", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	return holder(fd, ret_pid, cmd, size);
}

int nook_lock_user(int rundir_fd, const char *user, unsigned timeout_ms)
{
	_cleanup_close_ int fd = open_lock(rundir_fd);
	struct timespec t0, now;

	if (fd < 0)
		return fd;
	/* Polled, not a blocking flock(): a stuck holder must not hold every
	 * later login of the user forever, and flock() cannot time out. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long delay_us = 200;; delay_us = delay_us < 50000 ? delay_us * 2 : delay_us) {
		struct timespec ts = { 0, delay_us * 1000 };

		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return TAKE_FD(fd);
		if (errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 >=
		    (long) timeout_ms)
			break;
		nanosleep(&ts, NULL);
	}
	log_holder(fd, user, timeout_ms);
	return -EBUSY;
}

int nook_trylock_user(int rundir_fd)
{
	_cleanup_close_ int fd = open_lock(rundir_fd);

	if (fd < 0)
		return fd;
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return TAKE_FD(fd);
}

/* ---- the keeper's record ---- */

int nook_proc_starttime(pid_t pid, unsigned long long *ret)
{
	char path[64], buf[1024];
	_cleanup_close_ int fd = -EBADF;
	int n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = nook_read_all(fd, buf, sizeof(buf));
	if (n < 0)
		return n;
	return nook_stat_start_time(buf, ret); /* net-lease.c, unit-tested */
}

int nook_keeper_record(int rundir_fd, const struct nook_keeper_rec *rec)
{
	char line[700], tmp[] = "keeper.new";
	_cleanup_close_ int fd = -EBADF;
	int len, r;

	len = nook_keeper_rec_format(rec, line, sizeof(line) - 1);
	if (len < 0)
		return len;
	line[len++] = '\n';
	fd = openat(rundir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = nook_write_all(fd, line, (size_t) len);
	if (r < 0)
		return r;
	/* rename: a reader sees the old record or the new one, never half. */
	if (renameat(rundir_fd, tmp, rundir_fd, "keeper") < 0)
		return -errno;
	return 0;
}

int nook_keeper_find(int rundir_fd, struct nook_keeper_rec *ret, int *ret_pidfd)
{
	struct nook_keeper_rec rec;
	char line[700];
	unsigned long long start = 0;
	_cleanup_close_ int pidfd = -EBADF;
	int r;

	r = nook_read_file_at(rundir_fd, "keeper", line, sizeof(line));
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (nook_keeper_rec_parse(line, (size_t) r, &rec) < 0)
		return 0; /* not a record a keeper wrote: no keeper */
	/* The pidfd first, then the start time: if the time still matches,
	 * the pidfd is the recorded keeper and not a process that reused its
	 * pid. */
	pidfd = nook_pidfd_open(rec.pid);
	if (pidfd < 0)
		return pidfd == -ESRCH ? 0 : pidfd;
	r = nook_proc_starttime(rec.pid, &start);
	if (r == -ENOENT || (r >= 0 && start != rec.start))
		return 0;
	if (r < 0)
		return r;
	if (ret)
		*ret = rec;
	if (ret_pidfd)
		*ret_pidfd = TAKE_FD(pidfd);
	return 1;
}

int nook_flock_holder(dev_t dev, ino_t ino, pid_t *ret)
{
	_cleanup_close_ int fd = open("/proc/locks", O_RDONLY | O_CLOEXEC);
	char want[64], buf[65536], *line, *save = NULL;
	int n;

	if (fd < 0)
		return -errno;
	n = nook_read_all(fd, buf, sizeof(buf));
	if (n < 0)
		return n;
	/* "N: FLOCK  ADVISORY  WRITE PID MAJ:MIN:INO 0 EOF", major and minor
	 * in hex; a waiter's line has "->" after the number: skipped. */
	snprintf(want, sizeof(want), " %02x:%02x:%llu ", major(dev), minor(dev), (unsigned long long) ino);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *p = strstr(line, want), *q, *e;
		long pid;

		if (!p || strstr(line, "->") || !strstr(line, " FLOCK "))
			continue;
		/* The pid is the word before the device. */
		*p = '\0';
		q = strrchr(line, ' ');
		if (!q)
			continue;
		pid = strtol(q + 1, &e, 10);
		if (*e || pid <= 0)
			continue;
		*ret = (pid_t) pid;
		return 1;
	}
	return 0;
}
