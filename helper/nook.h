/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Internal interfaces of the helper (nook-helper, nookctl): one section per
 * file that owns it. All functions return >= 0 on success and -errno on
 * failure; the ones that decide log once with the object in question.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf.h"
#include "session.h"
#include "util.h"

#define NOOK_MAX_GROUPS 256
#define NOOK_SUBID_COUNT 65536UL
#define NOOK_USER_MAX 32

/* ---- user.c: who the container is for ---- */
struct nook_user {
	char name[NOOK_USER_MAX + 1];
	uid_t uid;
	gid_t gid;
	char *home;  /* pw_dir, absolute */
	char *shell; /* pw_shell */
	gid_t groups[NOOK_MAX_GROUPS]; /* supplementary, including the primary */
	size_t n_groups;
	struct nook_settings set;
};

/* Looks USER up, loads CONF_PATH and resolves the user's settings.
 * Logs and returns -errno on any problem (unknown user, bad config). */
int nook_user_load(const char *conf_path, const char *name, struct nook_user *ret);
void nook_user_free(struct nook_user *u);
static inline void nook_user_freep(struct nook_user *u)
{
	nook_user_free(u);
}
bool nook_valid_user_name(const char *name);

/* ---- subid.c: subordinate id ranges ---- */
struct nook_subid {
	unsigned long uid_base, uid_count;
	unsigned long gid_base, gid_count;
};
int nook_subid_get(const struct nook_user *u, struct nook_subid *ret);

/* ---- userns.c: uid_map/gid_map text (pure, unit-tested) ---- */
#define NOOK_MAP_MAX 4096
int nook_idmap_format(bool gid, const struct nook_user *u, unsigned long base, unsigned long count,
		      char *buf, size_t size);
int nook_userns_write_maps(pid_t pid, const struct nook_user *u, const struct nook_subid *sub);

/* ---- cgroup.c: per-user cgroup, v1 and v2 behind one interface ---- */
/* Where a process was before it joined a user's cgroup (per hierarchy). */
struct nook_cg_origin {
	char path[NOOK_CG_MAX_CTRL][512];
};
struct nook_cg_stats {
	uint64_t memory_current, memory_max;
	uint64_t pids_current, pids_max;
};
int nook_cgroup_resolve(const char *sysfs_root, const char *cgroup_root, const char *user,
			const char *self_cgroup_file, struct nook_cgroup *ret);
int nook_cgroup_create(const struct nook_cgroup *cg, const struct nook_settings *s);
int nook_cgroup_kill_all(const struct nook_cgroup *cg);
int nook_cgroup_destroy(const struct nook_cgroup *cg);
int nook_cgroup_exists(const struct nook_cgroup *cg);
int nook_cgroup_origin(const struct nook_cgroup *cg, const char *self_cgroup_file,
		       struct nook_cg_origin *ret);
int nook_cgroup_return(const struct nook_cgroup *cg, const struct nook_cg_origin *o);
int nook_cgroup_stats(const struct nook_cgroup *cg, struct nook_cg_stats *ret);

/* ---- image.c: the user's persistent ext4 home image ---- */
struct nook_image {
	int dir_fd;
	int fd; /* O_RDWR on the image file */
	char path[512];
	dev_t dev;
	ino_t ino;
};
int nook_image_open(const struct nook_user *u, bool create, struct nook_image *ret);
void nook_image_close(struct nook_image *img);
int nook_image_fsck(const struct nook_image *img);
int nook_image_loop_busy(const struct nook_image *img, char *ret_dev, size_t size);
int nook_image_wait_released(const struct nook_image *img, unsigned timeout_ms);
/* Attaches the image to a loop device and mounts it (detached, nosuid,nodev,
 * idmapped through USERNS_FD). Returns the mount fd. */
int nook_image_mount(const struct nook_image *img, int userns_fd, char *ret_loop, size_t size);

/* ---- mount.c: the container's root, built by init inside the userns ---- */
struct nook_bind_fd {
	int fd; /* detached clone of the host source, prepared by the keeper */
	const char *dst;
};
struct nook_rootfs_args {
	const struct nook_user *user;
	int lower_fd; /* detached, idmapped, read-only tree of settings.rootfs */
	int image_fd; /* detached, idmapped ext4 of the image */
	int dev_fd;   /* detached tmpfs with the device nodes (nook_dev_tree) */
	struct nook_bind_fd *binds;
	size_t n_binds;
};
/* Host side: a detached tmpfs holding the container's /dev nodes. */
int nook_dev_tree(void);
/* Host side: a detached clone of PATH (recursive if RECURSIVE). */
int nook_clone_tree(const char *path, bool recursive);
/* Host side: sets ATTRS (MOUNT_ATTR_*) on a detached tree, idmapped through
 * USERNS_FD when >= 0. */
int nook_tree_setattr(int tree_fd, uint64_t attrs, int userns_fd, bool recursive);
/* Inside: builds the root on a tmpfs mounted over the cwd and pivots into
 * it. On failure, ERR says what failed. */
int nook_rootfs_build(const struct nook_rootfs_args *a, char *err, size_t errsize);

/* ---- container.c: creating the container (runs in the keeper) ---- */
struct nook_container {
	pid_t init_pid;
	int init_pidfd;
	int init_sock; /* keeper's end; init exits when it closes */
	char loop[32];
};
/* Builds the container; the caller (the keeper) is moved to the keeper leaf
 * of CG. CWD_FD is the root-only directory init stages its mounts on. */
int nook_container_start(const struct nook_user *u, const struct nook_cgroup *cg,
			 const struct nook_subid *sub, const struct nook_image *img, int stage_fd,
			 struct nook_container *ret);

/* ---- init.c: pid 1 inside ---- */
/* Reaps children until the keeper's end of SOCK closes. */
__attribute__((noreturn)) void nook_init_run(int sock);
int nook_net_lo_up(void);

/* ---- state.c: /run/nook/<user>/ ---- */
int nook_rundir_open(const char *user, bool create); /* returns dir fd */
int nook_lock_user(int rundir_fd);                    /* returns locked fd */
int nook_trylock_user(int rundir_fd);

/* ---- keeper.c: the supervisor outside ---- */
/* Starts a keeper (and thus the container) for U. Called with the user lock held. */
int nook_keeper_spawn(const struct nook_user *u, int rundir_fd);

/* ---- control.c: lifecycle entry points ---- */
/* Ensures U's container runs and registers SESSION_PIDFD as a session.
 * Creates the container (recovering leftovers) when none is running. */
int nook_ensure(const struct nook_user *u, int session_pidfd, struct nook_session_info *ret);
/* Stops U's container if any and removes leftovers. Returns 1 if something ran. */
int nook_stop(const struct nook_user *u);

/* ---- join.c: becoming the user inside ---- */
/* In the forked child: applies the restricted profile and drops to U
 * (groups, gid, uid), verifying that no capability is left. */
int nook_become_user(const struct nook_user *u);
