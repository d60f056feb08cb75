/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Creating a container, in the keeper (host root), in the order that was
 * verified (DESIGN.md "Building the container"):
 *
 *   keeper                                   init (clone child)
 *   ------                                   ------------------
 *   clone the lower tree and bind sources
 *   fsck, loop, fsmount the image
 *   join the container leaf of the cgroup
 *   effective ids: the userns owner
 *   clone3(NEWUSER|NEWNS|NEWPID|...)  ---->  waits for "go"
 *   effective ids: root again
 *   uid_map/gid_map
 *   idmap lower and image via the userns
 *   back to its own cgroup
 *   "go"                              ---->  container root, hostname,
 *   (network: veth or pasta, meanwhile)      rootfs, pivot_root, lo up
 *   waits for "ok" or an error        <----  "ok" / "error: ..."
 *   closes its copies of the trees           reaps forever
 *
 * The trees reach init by inheritance through clone (the same open mounts,
 * idmapped by the keeper after the clone). The keeper must not keep them:
 * an open mount fd would pin the image's ext4 after the container died.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/securebits.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bsd/unistd.h>

#include "cleanup.h"
#include "log.h"
#include "nook.h"
#include "trace.h"

#define READY_TIMEOUT_MS 30000

struct trees {
	int lower;
	int image;
	int dev;
	int pts;
	struct nook_bind_fd *binds;
	size_t n_binds;
};

static void trees_close(struct trees *t)
{
	if (t->lower >= 0)
		(void) close(t->lower);
	if (t->image >= 0)
		(void) close(t->image);
	if (t->dev >= 0)
		(void) close(t->dev);
	if (t->pts >= 0)
		(void) close(t->pts);
	for (size_t i = 0; i < t->n_binds; i++)
		if (t->binds[i].fd >= 0)
			(void) close(t->binds[i].fd);
	free(t->binds);
	t->lower = t->image = t->dev = t->pts = -EBADF;
	t->binds = NULL;
	t->n_binds = 0;
}

/* The child: becomes container root, builds the root, reports, reaps. */
__attribute__((noreturn)) static void child(const struct nook_user *u, struct trees *t, int sock,
					    const struct nook_etc_files *etc, int securebits)
{
	struct nook_rootfs_args a = { .user = u,
				      .etc = etc,
				      .lower_fd = t->lower,
				      .image_fd = t->image,
				      .dev_fd = t->dev,
				      .pts_fd = t->pts,
				      .binds = t->binds,
				      .n_binds = t->n_binds };
	char msg[1024] = "ok";
	char go;
	int r;

	(void) prctl(PR_SET_NAME, "nook-init");
	setproctitle("-nook-init %s", u->name); /* what `ps` shows as pid 1 */
	if (recv(sock, &go, 1, 0) != 1)
		_exit(1);
	/* The maps are written: become root of the new user namespace. */
	r = nook_become_userns_root(true);
	if (r < 0) {
		snprintf(msg, sizeof(msg), "error: becoming container root: %s", strerror(-r));
		goto report;
	}
	/* The keeper's securebits as they were before it switched ids for
	 * the clone (see owner_switch). */
	if (prctl(PR_SET_SECUREBITS, (unsigned long) securebits, 0, 0, 0) < 0) {
		snprintf(msg, sizeof(msg), "error: securebits: %s", strerror(errno));
		goto report;
	}
	if (sethostname(u->set.hostname, strlen(u->set.hostname)) < 0) {
		snprintf(msg, sizeof(msg), "error: hostname '%s': %s", u->set.hostname, strerror(errno));
		goto report;
	}
	r = nook_rootfs_build(&a, msg + 7, sizeof(msg) - 7);
	if (r < 0) {
		memcpy(msg, "error: ", 7);
		goto report;
	}
	r = nook_net_lo_up();
	if (r < 0) {
		snprintf(msg, sizeof(msg), "error: bringing lo up: %s", strerror(-r));
		goto report;
	}
report:
	trees_close(t);
	/* pid 1 lives as long as the container: it must not hold the caller's
	 * terminal or pipes (CVE-2024-21626 class). Errors go over SOCK. */
	{
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
			_exit(1);
		(void) close(null);
	}
	if (send(sock, msg, strlen(msg), MSG_NOSIGNAL) < 0 || strcmp(msg, "ok") != 0)
		_exit(1);
	/* Nothing of the keeper's may stay open in pid 1. */
	(void) close_range(3, (unsigned) sock - 1, 0);
	(void) close_range((unsigned) sock + 1, ~0U, 0);
	if (chdir("/") < 0)
		_exit(1);
	nook_init_run(sock);
}

/*
 * The keeper's effective ids become the owner of the container's user
 * namespace for the clone (TO_OWNER), and root again after it. The kernel
 * makes the creator's effective uid the owner of a new user namespace and
 * charges every per-user counter inside to it (see nook_userns_owner).
 * SECBIT_NO_SETUID_FIXUP keeps the keeper's capabilities meanwhile: kernels
 * and LSMs that restrict unprivileged user namespaces (Debian's
 * unprivileged_userns_clone, AppArmor's restrict_unprivileged_userns) look
 * at the creator's CAP_SYS_ADMIN. Only the effective (and so the fs) ids
 * change: the real and saved ones stay 0, which is how the switch back
 * needs no privilege beyond the one kept. Both directions are read back.
 */
static int owner_switch(bool to_owner, uid_t uid, gid_t gid, int securebits)
{
	if (to_owner) {
		if (prctl(PR_SET_SECUREBITS, (unsigned long) securebits | SECBIT_NO_SETUID_FIXUP, 0, 0, 0) <
			    0 ||
		    setresgid((gid_t) -1, gid, (gid_t) -1) < 0 || setresuid((uid_t) -1, uid, (uid_t) -1) < 0)
			return -errno;
		return geteuid() == uid && getegid() == gid ? 0 : -EPERM;
	}
	if (setresuid((uid_t) -1, 0, (uid_t) -1) < 0 || setresgid((gid_t) -1, 0, (gid_t) -1) < 0 ||
	    prctl(PR_SET_SECUREBITS, (unsigned long) securebits, 0, 0, 0) < 0)
		return -errno;
	return geteuid() == 0 && getegid() == 0 && prctl(PR_GET_SECUREBITS, 0, 0, 0, 0) == securebits
		       ? 0
		       : -EPERM;
}

static int prepare_trees(const struct nook_user *u, const struct nook_image *img, struct trees *t, char *loop,
			 size_t loopsize)
{
	int r;

	t->dev = nook_dev_tree();
	if (t->dev < 0) {
		log_err("cannot prepare the container's /dev: %s", strerror(-t->dev));
		return t->dev;
	}
	t->pts = nook_devpts_new(u->set.pty_max);
	if (t->pts < 0) {
		log_err("cannot make the container's devpts instance: %s", strerror(-t->pts));
		return t->pts;
	}
	t->lower = nook_clone_tree(u->set.rootfs, false);
	if (t->lower < 0) {
		log_err("rootfs %s: %s", u->set.rootfs, strerror(-t->lower));
		return t->lower;
	}
	t->binds = calloc(u->set.n_binds + NOOK_LXCFS_FILES, sizeof(*t->binds));
	if (!t->binds)
		return -ENOMEM;
	for (size_t i = 0; i < u->set.n_binds; i++) {
		const struct nook_bind *bd = &u->set.binds[i];
		uint64_t attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (bd->ro ? MOUNT_ATTR_RDONLY : 0);

		t->binds[i].fd = -EBADF;
		t->binds[i].dst = bd->dst;
		t->n_binds++;
		/* Binds are not idmapped: an idmapped writable bind would let
		 * container root create files owned by host root. */
		r = nook_clone_tree(bd->src, true);
		if (r < 0) {
			log_err("bind source %s: %s", bd->src, strerror(-r));
			return r;
		}
		t->binds[i].fd = r;
		r = nook_tree_setattr(r, attrs, -1, true);
		if (r < 0) {
			log_err("bind %s: cannot make it nosuid,nodev%s: %s", bd->src, bd->ro ? ",ro" : "",
				strerror(-r));
			return r;
		}
	}
	/* After the admin's binds, so that lxcfs's views win over a bind of
	 * the same path. */
	r = nook_lxcfs_trees(u->set.lxcfs, t->binds + t->n_binds);
	if (r < 0) {
		log_err("lxcfs %s: %s", u->set.lxcfs, strerror(-r));
		return r;
	}
	t->n_binds += (size_t) r;
	r = nook_image_fsck(img);
	if (r < 0)
		return r;
	/* The ext4 mount is made now and idmapped after the clone. */
	t->image = nook_image_mount(img, -1, loop, loopsize);
	return t->image < 0 ? t->image : 0;
}

int nook_container_launch(const struct nook_user *u, const struct nook_cgroup *cg,
			  const struct nook_cg_origin *origin, const struct nook_subid *sub,
			  const struct nook_image *img, int stage_fd, const struct nook_etc_files *etc,
			  struct nook_container *ret)
{
	struct trees t = { .lower = -EBADF, .image = -EBADF, .dev = -EBADF, .pts = -EBADF };
	_cleanup_close_ int userns = -EBADF, pidfd = -EBADF, cgroup_fd = -EBADF;
	int sp[2] = { -EBADF, -EBADF };
	struct clone_args ca = { 0 };
	char loop[32] = "", path[64];
	uid_t owner_uid;
	gid_t owner_gid;
	int securebits, r;
	pid_t pid;

	r = nook_userns_owner(u, sub, &owner_uid, &owner_gid);
	if (r < 0) {
		log_err("no owner id for the user namespace of '%s' in its subordinate range: %s", u->name,
			strerror(-r));
		return r;
	}
	securebits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
	if (securebits < 0)
		return -errno;
	r = prepare_trees(u, img, &t, loop, sizeof(loop));
	if (r < 0)
		goto out;
	nook_trace("keeper", "trees-prepared");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		r = -errno;
		goto out;
	}
	/* init is born in the container's cgroup. On v2 by clone3's
	 * CLONE_INTO_CGROUP: no migration (each costs an RCU grace period
	 * unless the host mounts cgroup2 with favordynmods). On v1, which has
	 * no such flag, the keeper passes through the cgroup and returns. */
	if (cg->v2) {
		cgroup_fd = nook_cgroup_open_dir(cg, 0, NOOK_CG_LEAF_CONTAINER);
		r = cgroup_fd < 0 ? cgroup_fd : 0;
	} else {
		r = nook_cgroup_attach(cg, NOOK_CG_LEAF_CONTAINER);
	}
	if (r < 0) {
		log_err("cannot join the cgroup of '%s': %s", u->name, strerror(-r));
		goto out;
	}
	nook_trace("keeper", "cgroup-joined");
	if (fchdir(stage_fd) < 0) {
		r = -errno;
		goto out;
	}

	nook_trace_close(false); /* init keeps no host file, not even this one */
	ca.flags = NOOK_NS_FLAGS | CLONE_PIDFD;
	if (cgroup_fd >= 0) {
		ca.flags |= CLONE_INTO_CGROUP;
		ca.cgroup = (uint64_t) cgroup_fd;
	}
	ca.pidfd = (uint64_t) (uintptr_t) &pidfd;
	ca.exit_signal = SIGCHLD;
	pid = -1;
	r = owner_switch(true, owner_uid, owner_gid, securebits);
	if (r < 0) {
		log_err("cannot take the ids %u:%u to create the user namespace of '%s': %s",
			(unsigned) owner_uid, (unsigned) owner_gid, u->name, strerror(-r));
	} else {
		pid = (pid_t) syscall(SYS_clone3, &ca, sizeof(ca));
		if (pid == 0) {
			(void) close(sp[0]);
			child(u, &t, sp[1], etc, securebits);
		}
		r = pid < 0 ? -errno : 0;
		if (pid < 0)
			log_err("cannot create the namespaces of '%s': %s", u->name, strerror(-r));
	}
	{
		/* Root again, whatever happened: the keeper cannot go on
		 * with another effective id. */
		int r2 = owner_switch(false, 0, 0, securebits);

		if (r2 < 0) {
			/* Cannot happen with real and saved ids 0; if it did,
			 * no later step (maps, mounts, stop) could work. */
			log_err("cannot become root again after creating the namespaces of '%s': %s", u->name,
				strerror(-r2));
			if (pid > 0)
				(void) nook_pidfd_send_signal(pidfd, SIGKILL);
			_exit(1);
		}
	}
	nook_trace("keeper", "cloned");
	if (chdir("/") < 0 && r >= 0)
		r = -errno;
	if (cgroup_fd < 0) {
		/* The keeper goes back where it came from whatever happened. */
		int r2 = nook_cgroup_return(cg, origin);

		if (r >= 0 && r2 < 0)
			r = r2;
	}
	if (pid < 0)
		goto out;
	(void) close(sp[1]);
	sp[1] = -EBADF;
	if (r < 0)
		goto kill;

	nook_trace("keeper", "cgroup-returned");
	r = nook_userns_write_maps(pid, u, sub);
	if (r < 0)
		goto kill;
	snprintf(path, sizeof(path), "/proc/%d/ns/user", pid);
	userns = open(path, O_RDONLY | O_CLOEXEC);
	if (userns < 0) {
		r = -errno;
		goto kill;
	}
	/* Host root's files show as root inside; the lower stays read-only. */
	r = nook_tree_setattr(t.lower, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV, userns, false);
	if (r < 0) {
		log_err("cannot idmap the lower layer %s: %s", u->set.rootfs, strerror(-r));
		goto kill;
	}
	r = nook_tree_setattr(t.image, 0, userns, false);
	if (r < 0) {
		log_err("cannot idmap the image %s: %s", img->path, strerror(-r));
		goto kill;
	}
	trees_close(&t);
	if (send(sp[0], "g", 1, MSG_NOSIGNAL) != 1) {
		r = -errno;
		goto kill;
	}
	ret->init_pid = pid;
	ret->init_pidfd = TAKE_FD(pidfd);
	ret->init_sock = sp[0];
	snprintf(ret->loop, sizeof(ret->loop), "%s", loop);
	return 0;
kill:
	(void) nook_pidfd_send_signal(pidfd, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
out:
	trees_close(&t);
	if (sp[0] >= 0)
		(void) close(sp[0]);
	if (sp[1] >= 0)
		(void) close(sp[1]);
	return r;
}

int nook_container_ready(const struct nook_user *u, const struct nook_container *c)
{
	char reply[1100];
	ssize_t n;
	int r;

	r = nook_wait_readable(c->init_sock, READY_TIMEOUT_MS);
	if (r <= 0) {
		log_err("the container of '%s' did not become ready in %d s", u->name,
			READY_TIMEOUT_MS / 1000);
		return r < 0 ? r : -ETIMEDOUT;
	}
	n = recv(c->init_sock, reply, sizeof(reply) - 1, 0);
	if (n <= 0) {
		log_err("the container of '%s' died while starting", u->name);
		return -ECHILD;
	}
	reply[n] = '\0';
	if (strcmp(reply, "ok") != 0) {
		log_err("container of '%s': %s", u->name, reply);
		return -EIO;
	}
	return 0;
}

void nook_container_abort(struct nook_container *c)
{
	(void) nook_pidfd_send_signal(c->init_pidfd, SIGKILL);
	while (waitpid(c->init_pid, NULL, 0) < 0 && errno == EINTR)
		;
	(void) close(c->init_pidfd);
	(void) close(c->init_sock);
	c->init_pidfd = c->init_sock = -EBADF;
	c->init_pid = 0;
}
