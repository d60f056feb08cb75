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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "nook.h"

/* How long a login or a stop waits for a keeper that is stopping: its own
 * wait for the loop device is 10 s. */
#define STOP_WAIT_MS 30000

/* The image's identity (device and inode), looked up quietly: recovery
 * only needs it to wait for the loop device; the keeper reports problems
 * with the image itself when it opens it. */
static int image_identity(const struct nook_user *u, struct nook_image *ret)
{
	_cleanup_close_ int dir = nook_open_nofollow(u->set.image_dir, O_PATH | O_DIRECTORY, 0);
	_cleanup_close_ int fd = -EBADF;
	char name[64];
	struct stat st;

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
 * Removes what a dead keeper left: processes in the user's cgroup (an
 * orphaned init exits by itself once the keeper's socket closes, but
 * sessions may linger), the loop device, the cgroup, stale runtime files.
 * Returns 1 if anything was found.
 */
static int recover(const struct nook_user *u, int rundir)
{
	struct nook_cgroup cg;
	struct nook_image img;
	char state[4096], *cgp;
	bool found = false;
	int r;

	/* The cgroup as the dead keeper recorded it, else as configured. */
	if (nook_read_file_at(rundir, "state", state, sizeof(state)) > 0 &&
	    (cgp = strstr(state, " cgroup=")) && nook_cgroup_deserialize(cgp + 8, &cg) >= 0)
		found = true;
	else if (nook_cgroup_resolve("/sys/fs/cgroup", u->set.cgroup_root, u->name, "/proc/self/cgroup",
				     &cg) < 0)
		return 0;
	if (nook_cgroup_exists(&cg) > 0) {
		found = true;
		log_warn("cleaning up after the previous container of '%s' (its keeper died)", u->name);
		r = nook_cgroup_kill_all(&cg);
		if (r < 0)
			log_warn("processes of '%s' survive SIGKILL: %s", u->name, strerror(-r));
	}
	if (image_identity(u, &img) >= 0) {
		r = nook_image_wait_released(&img, 10000);
		if (r != 0) {
			log_err("image of '%s' is still attached to a loop device; refusing to mount it twice "
				"(check: losetup -j %s/%s.img)",
				u->name, u->set.image_dir, u->name);
			return -EBUSY;
		}
	}
	if (nook_cgroup_exists(&cg) > 0) {
		r = nook_cgroup_destroy(&cg);
		if (r < 0)
			log_warn("cannot remove the stale cgroup of '%s': %s", u->name, strerror(-r));
	}
	/* The network the dead keeper set up: its veth, address lease and
	 * nftables elements (pasta sat in the cgroup, killed above). */
	nook_net_recover(u);
	(void) unlinkat(rundir, "keeper.sock", 0);
	(void) unlinkat(rundir, "state", 0);
	(void) unlinkat(rundir, "network", 0);
	(void) unlinkat(rundir, "keeper", 0);
	return found;
}

/*
 * A keeper is alive but does not take sessions: it is stopping. Waits (the
 * user lock held, so nothing else starts) until it has exited, which it does
 * only once its init, cgroup and loop device are gone.
 */
static int wait_keeper_gone(const struct nook_user *u, int rundir)
{
	struct nook_keeper_rec rec;
	_cleanup_close_ int pidfd = -EBADF;
	int r = nook_keeper_find(rundir, &rec, &pidfd);

	if (r <= 0)
		return r;
	r = nook_wait_readable(pidfd, STOP_WAIT_MS);
	if (r == 0) {
		log_err("the keeper of '%s' (pid %d) is still stopping the container after %d s; "
			"see its messages in the log, or end it with: kill %d",
			u->name, rec.pid, STOP_WAIT_MS / 1000, rec.pid);
		return -EBUSY;
	}
	return r < 0 ? r : 0;
}

int nook_ensure(const struct nook_user *u, int session_pidfd, struct nook_session_info *ret)
{
	_cleanup_close_ int rundir = -EBADF, lock = -EBADF, sock = -EBADF;
	int r;

	rundir = nook_rundir_open(u->name, true);
	if (rundir < 0) {
		log_err("cannot prepare " NOOK_RUN_DIR "/%s: %s", u->name, strerror(-rundir));
		return rundir;
	}
	lock = nook_lock_user(rundir);
	if (lock < 0)
		return lock;
	sock = nook_ctl_connect(rundir);
	if (sock >= 0) {
		r = nook_ctl_register(sock, session_pidfd, ret);
		if (r >= 0)
			return 0;
		(void) close(TAKE_FD(sock));
	}
	/* Not answering is not dead: a keeper that is stopping refuses new
	 * sessions; the next container starts once it is gone. */
	r = wait_keeper_gone(u, rundir);
	if (r < 0)
		return r;
	r = recover(u, rundir);
	if (r < 0)
		return r;
	r = nook_keeper_spawn(u, rundir);
	if (r < 0)
		return r;
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
	_cleanup_close_ int rundir = -EBADF, lock = -EBADF, sock = -EBADF;
	int r;

	rundir = nook_rundir_open(u->name, false);
	if (rundir == -ENOENT)
		return 0;
	if (rundir < 0)
		return rundir;
	lock = nook_lock_user(rundir);
	if (lock < 0)
		return lock;
	sock = nook_ctl_connect(rundir);
	if (sock >= 0) {
		r = nook_ctl_stop(sock);
		if (r >= 0)
			return 1;
	}
	/* A stop already under way (init died): it finishes, then we report. */
	r = wait_keeper_gone(u, rundir);
	if (r < 0)
		return r;
	return recover(u, rundir);
}
