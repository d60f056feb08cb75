/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Where a user's cgroup is (one hierarchy on v2, memory/cpu/pids on v1),
 * written down in one line for the keeper's replies, and moving a process
 * into it. Shared by the PAM module (joining) and the helper (creating,
 * in helper/cgroup.c). Library code: returns -errno, does not log.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define NOOK_CG_MAX_CTRL 3
#define NOOK_CG_LEAF_CONTAINER "container"
/* Under systemd: the keeper's leaf and the user's cgroup in the scope. */
#define NOOK_CG_LEAF_KEEPER "keeper"
#define NOOK_CG_USER "user"
struct nook_cgroup {
	bool v2;
	size_t n;                         /* hierarchies: 1 on v2, memory/cpu/pids on v1 */
	char ctrl[NOOK_CG_MAX_CTRL][16];  /* "" on v2, else controller name */
	char base[NOOK_CG_MAX_CTRL][512]; /* hierarchy mount, e.g. /sys/fs/cgroup/memory */
	char user[NOOK_CG_MAX_CTRL][512]; /* the user's cgroup, relative to base */
	/* v2: where nook's own writes begin, relative to base ("" = the
	 * hierarchy's root, no manager). Under systemd, the delegated scope:
	 * nothing above it is nook's to change. Not serialized (only the
	 * keeper creates). */
	char delegated[512];
};
/* "v2|v1 ctrl:base:user ..." on one line (the cgroup= of the keeper's
 * replies, see protocol.h). */
int nook_cgroup_serialize(const struct nook_cgroup *cg, char *buf, size_t size);
int nook_cgroup_deserialize(const char *buf, struct nook_cgroup *ret);
/* Moves the calling process into LEAF of the user's cgroup, in every
 * hierarchy. */
int nook_cgroup_attach(const struct nook_cgroup *cg, const char *leaf);
/* Whether the caller is its process's only thread (and its leader). */
bool nook_single_threaded(void);
/* Moves the calling process into the cgroup DIRFD. BY_THREAD (v1 only, and
 * only when nook_single_threaded()): through tasks, without the global
 * lock's RCU grace period; otherwise its pid to cgroup.procs. */
int nook_cgroup_move_self(int dirfd, bool by_thread);
bool nook_valid_cg_path(const char *p);
/* Opens base[i]/user[i][/LEAF] without following symlinks. */
int nook_cgroup_open_dir(const struct nook_cgroup *cg, size_t i, const char *leaf);
