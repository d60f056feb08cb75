/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the PAM module and the helper share about a running container:
 * the keeper's answers, the cgroup it lives in, and joining it.
 * Library code: returns -errno, does not log.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define NOOK_RUN_DIR "/run/nook"

/* ---- cgroup paths (session.c) ---- */
#define NOOK_CG_MAX_CTRL 3
#define NOOK_CG_LEAF_CONTAINER "container"
/* Under systemd: the keeper's leaf and the user's cgroup in the scope. */
#define NOOK_CG_LEAF_KEEPER "keeper"
#define NOOK_CG_USER "user"
struct nook_cgroup {
	bool v2;
	size_t n; /* hierarchies: 1 on v2, memory/cpu/pids on v1 */
	char ctrl[NOOK_CG_MAX_CTRL][16];  /* "" on v2, else controller name */
	char base[NOOK_CG_MAX_CTRL][512]; /* hierarchy mount, e.g. /sys/fs/cgroup/memory */
	char user[NOOK_CG_MAX_CTRL][512]; /* the user's cgroup, relative to base */
	/* v2: where nook's own writes begin, relative to base ("" = the
	 * hierarchy's root, no manager). Under systemd, the delegated scope:
	 * nothing above it is nook's to change. Not serialized (only the
	 * keeper creates). */
	char delegated[512];
};
int nook_cgroup_serialize(const struct nook_cgroup *cg, char *buf, size_t size);
int nook_cgroup_deserialize(const char *buf, struct nook_cgroup *ret);
/* Moves PID into LEAF of the user's cgroup, in every hierarchy. */
int nook_cgroup_attach(const struct nook_cgroup *cg, const char *leaf, pid_t pid);
bool nook_valid_cg_path(const char *p);
/* Opens base[i]/user[i][/LEAF] without following symlinks. */
int nook_cgroup_open_dir(const struct nook_cgroup *cg, size_t i, const char *leaf);

/* ---- the keeper's protocol (session.c) ---- */
struct nook_session_info {
	pid_t init_pid;
	pid_t keeper_pid;
	int init_pidfd; /* -1 unless the request returns one */
	uint64_t started_usec; /* CLOCK_REALTIME */
	unsigned sessions;
	char loop[32];
	char cgroup[2048];
};
/* Connects to /run/nook/<user>/keeper.sock through the run directory fd. */
int nook_ctl_connect(int rundir_fd);
/* Opens /run/nook/USER (must be root-owned 0700) without following links. */
int nook_rundir_open_existing(const char *user);
/* Registers SESSION_PIDFD as a session; returns init's pidfd in ret. */
int nook_ctl_register(int sock, int session_pidfd, struct nook_session_info *ret);
/* Like register, but adds no session (the caller was registered already). */
int nook_ctl_attach(int sock, struct nook_session_info *ret);
int nook_ctl_status(int sock, struct nook_session_info *ret);
int nook_ctl_stop(int sock);

/* ---- entering (session.c) ---- */
/* Joins the container's cgroup and all seven namespaces through init's
 * pidfd, then becomes root of its user namespace (host root is not mapped
 * there: without this a later drop to the user would keep capabilities).
 * The caller must fork afterwards to be inside the pid namespace, and must
 * not use /proc/self until then (it has no pid in the container's proc). */
int nook_join(const struct nook_session_info *info);
