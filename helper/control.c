/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Talking to a user's keeper, and the two lifecycle entry points built on
 * it: ensure (start or join, then register a session) and stop. Both run
 * under the per-user lock, so a login that races a stopping container
 * waits for the stop and then gets a fresh container.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "nook.h"
#include "trace.h"

/* How long a login or a stop waits for a keeper that is stopping: its own
 * wait for the loop device is 10 s. */
#define STOP_WAIT_MS 30000
/* How long a login waits for a live keeper to listen again (SIGUSR1). */
#define SERVE_WAIT_MS 5000

/* The image's identity (device and inode), looked up quietly: recovery
 * only needs it to wait for the loop device; the keeper reports problems
 * with the image itself when it opens it. */
static int image_identity(const struct nook_user *u, struct nook_image *ret)
{
	_cleanup_close_ int dir = -EBADF;
	_cleanup_close_ int fd = -EBADF;
	char name[64];
	struct stat st;

	if (!u->set.image_dir)
		return -ENOENT; /* no configuration: see the record's image */
	dir = nook_open_nofollow(u->set.image_dir, O_PATH | O_DIRECTORY, 0);
	if (dir < 0)
		return dir;
	snprintf(name, sizeof(name), "%s.img", u->name);
	fd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return -ENOENT;
	*ret = (struct nook_image) { .dir_fd = -EBADF, .fd = -EBADF, .dev = st.st_dev, .ino = st.st_ino };
	snprintf(ret->path, sizeof(ret->path), "%s/%s", u->set.image_dir, name);
	return 0;
}

/*
 * Is the image's lock free? Every keeper holds it for its whole life
 * (nook_image_lock). A shared trylock, let go at once, answers without
 * reading /proc/locks, which waits for an RCU grace period on every read
 * (the kernel write-locks a per-CPU rwsem to walk the locks): 10 ms of a
 * cold login here, for the answer "nobody". Only under the user's lock: a
 * keeper starting meanwhile would find the image taken and give up. False
 * when unsure.
 */
static bool image_lock_free(const struct nook_user *u, const struct nook_image *img)
{
	_cleanup_close_ int dir = nook_open_nofollow(u->set.image_dir, O_PATH | O_DIRECTORY, 0);
	_cleanup_close_ int path = -EBADF, fd = -EBADF;
	char name[64];
	struct stat st;

	if (dir < 0)
		return false;
	/* Opened for reading only once it is known to be the image (a
	 * regular file, the very inode), through its O_PATH fd. */
	snprintf(name, sizeof(name), "%s.img", u->name);
	path = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (path < 0 || fstat(path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_dev != img->dev ||
	    st.st_ino != img->ino)
		return false;
	snprintf(name, sizeof(name), "/proc/self/fd/%d", path);
	fd = open(name, O_RDONLY | O_NOCTTY | O_CLOEXEC);
	return fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) == 0;
}

/* The image a dead keeper recorded (for a stop without configuration). */
static int record_image(int rundir, struct nook_image *ret)
{
	struct nook_keeper_rec rec;
	char line[700];
	struct stat st;
	int n = nook_read_file_at(rundir, "keeper", line, sizeof(line));

	if (n <= 0 || nook_keeper_rec_parse(line, (size_t) n, &rec) < 0)
		return -ENOENT;
	if (rec.image[0] != '/' || stat(rec.image, &st) < 0 || !S_ISREG(st.st_mode))
		return -ENOENT;
	*ret = (struct nook_image) { .dir_fd = -EBADF, .fd = -EBADF, .dev = st.st_dev, .ino = st.st_ino };
	snprintf(ret->path, sizeof(ret->path), "%s", rec.image);
	return 0;
}

/*
 * Removes what a dead keeper left (teardown.c): processes in the user's
 * cgroup (an orphaned init exits by itself once the keeper's socket
 * closes, but sessions may linger), its network, the loop device, the
 * cgroup, its systemd scope, stale runtime files. Returns 1 if anything
 * was found, -EBUSY while the image stays attached.
 */
static int recover(const struct nook_user *u, int rundir)
{
	struct nook_cgroup cg;
	struct nook_image img;
	struct nook_reply last;
	struct nook_teardown t = { .u = u, .recovery = true, .rundir = rundir };
	char state[NOOK_PROTO_MAX + 1];
	bool found = false;
	int r;

	/* The cgroup as the dead keeper recorded it (its last status reply),
	 * else as configured. */
	r = nook_read_file_at(rundir, "state", state, sizeof(state));
	if (r > 0 && nook_reply_parse(state, (size_t) r, &last) >= 0 && last.kind == NOOK_REPLY_OK &&
	    nook_cgroup_deserialize(last.info.cgroup, &cg) >= 0)
		found = true;
	else if (!u->set.cgroup_root || /* no configuration, no record: nothing to find */
		 nook_cgroup_resolve("/sys/fs/cgroup", u->set.cgroup_root, u->name, "/proc/self/cgroup",
				     &cg) < 0)
		return 0;
	if (nook_cgroup_exists(&cg) > 0) {
		found = true;
		log_warn("cleaning up after the previous container of '%s' (its keeper died)", u->name);
		t.cg = &cg;
	}
	if (image_identity(u, &img) >= 0 || record_image(rundir, &img) >= 0)
		t.img = &img;
	r = nook_teardown(&t);
	return r < 0 ? r : found;
}

/* lock_timeout, or the default without a configuration. */
static unsigned lock_timeout(const struct nook_user *u)
{
	uint64_t ms = u->set.lock_timeout_ms ? u->set.lock_timeout_ms : NOOK_LOCK_TIMEOUT_MS;

	return ms > UINT32_MAX ? UINT32_MAX : (unsigned) ms;
}

/*
 * Is a keeper of U alive? Its record in the run directory says so (pid and
 * start time); without one (the run directory was removed) the image's lock
 * does, which every keeper holds for its whole life. USER_LOCKED: the
 * caller holds the user's lock, so no keeper can be starting, and the
 * image's lock may be tested by taking it. 1 with RET and a pidfd of it, 0
 * if there is none.
 */
static int find_keeper(const struct nook_user *u, int rundir, bool user_locked, struct nook_keeper_rec *ret,
		       int *ret_pidfd)
{
	struct nook_image img;
	unsigned long long start;
	char comm[32];
	pid_t pid;
	int r, pidfd;

	r = rundir >= 0 ? nook_keeper_find(rundir, ret, ret_pidfd) : 0;
	if (r != 0 || !u->set.image_dir)
		return r;
	if (image_identity(u, &img) < 0 || (user_locked && image_lock_free(u, &img)) ||
	    nook_flock_holder(img.dev, img.ino, &pid) <= 0)
		return 0;
	pidfd = nook_pidfd_open(pid);
	if (pidfd < 0)
		return 0;
	/* Only a keeper holds that lock; check anyway, after the pidfd. */
	{
		char path[64];
		_cleanup_close_ int proc = -EBADF;

		snprintf(path, sizeof(path), "/proc/%d", pid);
		proc = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (proc < 0 || nook_read_file_at(proc, "comm", comm, sizeof(comm)) < 0 ||
		    strncmp(comm, "nook-keeper", 11) != 0 || nook_proc_starttime(pid, &start) < 0) {
			(void) close(pidfd);
			return 0;
		}
	}
	*ret = (struct nook_keeper_rec) { .pid = pid, .start = start };
	snprintf(ret->image, sizeof(ret->image), "%s", img.path);
	*ret_pidfd = pidfd;
	return 1;
}

/*
 * A keeper is alive but did not answer. Stopping: wait until it is gone
 * (it exits only once its init, cgroup and loop device are). Otherwise its
 * socket or run directory was removed: ask it (SIGUSR1) to serve again and
 * wait for its socket. Returns a connected socket, 0 when the keeper is
 * gone, -errno when it neither answers nor goes: its sessions are then left
 * alone, whatever else happens.
 */
static int keeper_wait(const struct nook_user *u, int *rundir, const struct nook_keeper_rec *rec, int pidfd)
{
	int timeout = rec->stopping ? STOP_WAIT_MS : SERVE_WAIT_MS;
	struct timespec t0, now;

	if (!rec->stopping) {
		log_warn(
			"the keeper of '%s' (pid %d) is alive but its socket is gone; asking it to serve again",
			u->name, rec->pid);
		(void) nook_pidfd_send_signal(pidfd, SIGUSR1);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int r = nook_wait_readable(pidfd, 10);

		if (r != 0)
			return r < 0 ? r : 0; /* it exited */
		if (!rec->stopping) {
			struct stat st;
			int sock;

			/* The keeper may have made a new run directory. */
			if (*rundir < 0 || (fstat(*rundir, &st) == 0 && st.st_nlink == 0)) {
				int dir = nook_rundir_open(u->name, false);

				if (dir >= 0) {
					if (*rundir >= 0)
						(void) close(*rundir);
					*rundir = dir;
				}
			}
			sock = *rundir >= 0 ? nook_ctl_connect(*rundir) : -ENOENT;
			if (sock >= 0)
				return sock;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 >= timeout)
			break;
	}
	if (rec->stopping)
		log_err("the keeper of '%s' (pid %d) is still stopping the container after %d s; "
			"see its messages in the log, or end it with: kill %d",
			u->name, rec->pid, timeout / 1000, rec->pid);
	else
		log_err("the keeper of '%s' (pid %d) is alive but does not answer; its sessions are left "
			"running; to end them: nookctl stop %s",
			u->name, rec->pid, u->name);
	return -EBUSY;
}

int nook_ensure(const struct nook_user *u, int session_pidfd, enum nook_spawn how,
		struct nook_session_info *ret)
{
	_cleanup_close_ int rundir = -EBADF, lock = -EBADF, sock = -EBADF;
	int r;

	rundir = nook_rundir_open(u->name, true);
	if (rundir < 0) {
		log_err("cannot prepare " NOOK_RUN_DIR "/%s: %s", u->name, strerror(-rundir));
		return rundir;
	}
	lock = nook_lock_user(rundir, u->name, lock_timeout(u));
	if (lock < 0)
		return lock;
	for (int tries = 0; tries < 3; tries++) {
		struct nook_keeper_rec rec;
		_cleanup_close_ int pidfd = -EBADF;
		bool refused = false;

		sock = nook_ctl_connect(rundir);
		if (sock >= 0) {
			r = nook_ctl_register(sock, session_pidfd, ret);
			if (r >= 0)
				return 0;
			/* It answers but takes no session: its init died and
			 * it is about to stop; wait for that below. */
			(void) close(TAKE_FD(sock));
			refused = true;
		}
		/* Not answering is not dead: never start a second container
		 * (nor clean up under the first) while its keeper lives. */
		r = find_keeper(u, rundir, true, &rec, &pidfd);
		if (r < 0)
			return r;
		if (r == 0)
			break;
		if (refused)
			rec.stopping = true;
		r = keeper_wait(u, &rundir, &rec, pidfd);
		if (r < 0)
			return r;
		if (r > 0) {
			sock = r;
			r = nook_ctl_register(sock, session_pidfd, ret);
			if (r >= 0)
				return 0;
			(void) close(TAKE_FD(sock));
		}
	}
	nook_trace("helper", "locked");
	r = nook_kernel_check();
	if (r < 0)
		return r;
	r = recover(u, rundir);
	if (r < 0)
		return r;
	nook_trace("helper", "checked");
	r = nook_keeper_spawn(u, rundir, lock, how);
	if (r < 0)
		return r;
	nook_trace("helper", "keeper-up");
	sock = nook_ctl_connect(rundir);
	if (sock < 0) {
		log_err("the new keeper of '%s' is not listening: %s", u->name, strerror(-sock));
		return sock;
	}
	r = nook_ctl_register(sock, session_pidfd, ret);
	if (r < 0)
		log_err("cannot register with the keeper of '%s': %s", u->name, strerror(-r));
	return r;
}

int nook_stop(const struct nook_user *u)
{
	_cleanup_close_ int rundir = -EBADF, lock = -EBADF, sock = -EBADF, pidfd = -EBADF;
	struct nook_keeper_rec rec;
	int r;

	rundir = nook_rundir_open(u->name, false);
	if (rundir < 0 && rundir != -ENOENT)
		return rundir;
	/* Without a run directory: a keeper may still live (it was removed
	 * under it), and the image's lock finds it. */
	if (rundir >= 0) {
		lock = nook_lock_user(rundir, u->name, lock_timeout(u));
		if (lock < 0)
			return lock;
		sock = nook_ctl_connect(rundir);
		if (sock >= 0) {
			r = nook_ctl_stop(sock);
			if (r >= 0)
				return 1;
		}
	}
	r = find_keeper(u, rundir, lock >= 0, &rec, &pidfd);
	if (r < 0)
		return r;
	if (r > 0) {
		/* Alive without a socket, or stopping: SIGTERM makes it stop
		 * the container as a linger timeout would (a no-op when it is
		 * stopping already), then wait until it is gone. */
		(void) nook_pidfd_send_signal(pidfd, SIGTERM);
		rec.stopping = true;
		r = keeper_wait(u, &rundir, &rec, pidfd);
		if (r < 0)
			return r;
		return 1;
	}
	return rundir >= 0 ? recover(u, rundir) : 0;
}

int nook_status(const struct nook_user *u, struct nook_session_info *ret_info,
		struct nook_keeper_rec *ret_rec)
{
	_cleanup_close_ int rundir = nook_rundir_open(u->name, false);
	_cleanup_close_ int sock = -EBADF, pidfd = -EBADF;
	struct nook_keeper_rec rec;
	int r;

	if (rundir < 0 && rundir != -ENOENT)
		return rundir;
	if (rundir >= 0) {
		sock = nook_ctl_connect(rundir);
		if (sock >= 0 && nook_ctl_status(sock, ret_info) >= 0)
			return NOOK_RUNNING;
	}
	/* Not under the user's lock: status must never stand in a
	 * starting keeper's way. */
	r = find_keeper(u, rundir, false, &rec, &pidfd);
	if (r <= 0)
		return r < 0 ? r : NOOK_NOT_RUNNING;
	*ret_rec = rec;
	if (rec.stopping)
		return NOOK_STOPPING;
	r = keeper_wait(u, &rundir, &rec, pidfd);
	if (r == 0)
		return NOOK_NOT_RUNNING;
	if (r < 0)
		return r;
	sock = r;
	r = nook_ctl_status(sock, ret_info);
	return r < 0 ? r : NOOK_RUNNING;
}
