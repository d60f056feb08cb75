/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Ending a container, whoever ends it: the keeper's stop, a keeper whose
 * setup failed half-way, and the recovery after a keeper that died
 * (control.c). One list of steps, in one order; each step skips what does
 * not exist (yet) at that point, and struct nook_teardown (nook.h) says
 * what does.
 *
 * The order is load-bearing:
 *   1. init, killed and reaped: the kernel then kills the pid namespace.
 *   2. What is left in the cgroup: session processes that joined from
 *      outside the pid namespace (sshd's session child, nookctl) still pin
 *      the mount namespace, and with it the image's mount.
 *   3. The network (veth, address lease, nftables elements, pasta), once
 *      no process of the container is left to use it.
 *   4. The image: wait until no loop device lists it as its backing file
 *      (autoclear lets go once the mount namespace is gone). Otherwise a
 *      quick relogin mounts the same ext4 twice (seen in the spike).
 *   5. The cgroup: only now is it sure to be empty.
 *   6. A dead keeper's systemd scope, so that the next keeper can have the
 *      unit name.
 *   7. The keeper's lock on the image: from now on a successor may start.
 *   8. The run directory's files, the keeper's record last: until it goes,
 *      status says "stopping" and a login waits instead of starting a
 *      second container; "not running" is only ever said once init, the
 *      cgroup and the loop device are gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "nook.h"

/* How long a teardown waits for the loop device to let go of the image. */
#define RELEASE_TIMEOUT_MS 10000

static int kill_init(const struct nook_teardown *t)
{
	if (t->c && t->c->init_pidfd >= 0)
		nook_container_abort(t->c);
	return 0;
}

static int kill_rest(const struct nook_teardown *t)
{
	int r;

	if (!t->cg)
		return 0;
	r = nook_cgroup_kill_all(t->cg);
	if (r < 0)
		log_warn("processes of '%s' survive SIGKILL in its cgroup: %s", t->u->name, strerror(-r));
	return 0;
}

static int network_down(const struct nook_teardown *t)
{
	if (t->net)
		nook_net_stop(t->u, t->net);
	else if (t->recovery)
		/* The dead keeper's veth, address lease and nftables elements,
		 * by the user's name (pasta ended with the keeper: pdeathsig). */
		nook_net_recover(t->u);
	return 0;
}

static int image_released(const struct nook_teardown *t)
{
	int r;

	if (!t->img)
		return 0;
	r = nook_image_wait_released(t->img, RELEASE_TIMEOUT_MS);
	if (r == 0)
		return 0;
	log_err("image %s is still attached to a loop device after %d s; it will not be mounted again until "
		"it is released (losetup -j %s)",
		t->img->path, RELEASE_TIMEOUT_MS / 1000, t->img->path);
	/* Recovery precedes a start: stop here, and refuse it. A keeper goes
	 * on; the next start's recovery waits for the image again. */
	return t->recovery ? -EBUSY : 0;
}

static int cgroup_remove(const struct nook_teardown *t)
{
	int r = 0;

	if (!t->cg)
		return 0;
	/* A keeper leaves first, so that the cgroup can be removed without
	 * moving anything outside the subtree it started in. */
	if (t->origin)
		r = nook_cgroup_return(t->cg, t->origin);
	if (r >= 0)
		r = nook_cgroup_destroy(t->cg);
	if (r < 0)
		log_warn("cannot remove the cgroup of '%s': %s", t->u->name, strerror(-r));
	return 0;
}

static int scope_stop(const struct nook_teardown *t)
{
	int r;

	/* Only a dead keeper's: a live keeper sits in its own scope, which
	 * systemd collects once the keeper has exited. Without a
	 * configuration the recorded cgroup was emptied above, and systemd
	 * collects the empty scope by itself. */
	if (!t->recovery || !t->u->set.systemd_slice || !nook_systemd_use(&t->u->set))
		return 0;
	r = nook_systemd_scope_stop(t->u->name, t->u->set.systemd_slice);
	if (r < 0)
		log_warn("cannot stop the previous scope of '%s': %s", t->u->name, strerror(-r));
	return 0;
}

static int image_let_go(const struct nook_teardown *t)
{
	if (t->img)
		nook_image_close(t->img);
	if (t->image_lock && *t->image_lock >= 0) {
		(void) close(*t->image_lock);
		*t->image_lock = -EBADF;
	}
	return 0;
}

/* A keeper removes only its own socket and record: one that is not ours
 * (an admin's, a successor's) stays. A dead keeper's all go. */
static int rundir_clean(const struct nook_teardown *t)
{
	struct nook_keeper_rec rec;
	struct stat st;

	if (t->rundir < 0)
		return 0;
	if (fstatat(t->rundir, "keeper.sock", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (t->recovery || (t->sock && st.st_dev == t->sock->st_dev && st.st_ino == t->sock->st_ino)))
		(void) unlinkat(t->rundir, "keeper.sock", 0);
	(void) unlinkat(t->rundir, "state", 0);
	(void) unlinkat(t->rundir, "network", 0);
	if (t->recovery || (nook_keeper_find(t->rundir, &rec, NULL) > 0 && rec.pid == getpid()))
		(void) unlinkat(t->rundir, "keeper", 0);
	return 0;
}

/* In this order; the comment at the top says why. A step that fails
 * returns < 0 and ends the teardown there. */
static int (*const steps[])(const struct nook_teardown *t) = {
	kill_init,     kill_rest,  network_down, image_released,
	cgroup_remove, scope_stop, image_let_go, rundir_clean,
};

int nook_teardown(const struct nook_teardown *t)
{
	for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
		int r = steps[i](t);

		if (r < 0)
			return r;
	}
	return 0;
}
