/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The directories a fresh /run holds on the host: what tmpfiles.d declares
 * directly under /run (screen's /run/screen, /run/log, ...), made on the
 * container's own /run tmpfs.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Bounded on purpose: /run is a small tmpfs and the list comes from
 * packages, not from the user. Entries past the limit are ignored. */
#define NOOK_RUN_DIRS_MAX 32
#define NOOK_RUN_FILES_MAX 128

struct nook_run_dir {
	char name[64];  /* one path component: the directory is /run/NAME */
	mode_t mode;    /* 0..07777 */
	char user[33];  /* a name or a number; "" for root */
	char group[33]; /* likewise */
};

struct nook_run_dirs {
	size_t n;
	struct nook_run_dir dir[NOOK_RUN_DIRS_MAX];
};

/*
 * One tmpfiles.d line. 1 and *RET filled for a plain "d"/"D" (optionally
 * "!") line whose path is /run/NAME (one component, no specifiers, no
 * escapes, no quoting) and whose mode is plain octal or "-"; 0 for any
 * other line, which the caller ignores.
 */
int nook_tmpfiles_parse_line(const char *line, struct nook_run_dir *ret);

/*
 * The directories the tmpfiles.d files under ROOT_FD declare under /run:
 * etc/tmpfiles.d over run/tmpfiles.d over usr/lib/tmpfiles.d by file name,
 * files read in the order of their names, the first line for a path wins
 * (as systemd-tmpfiles does). Only regular files owned by OWNER and not
 * writable by group or others are read; a symlink (a mask to /dev/null)
 * hides its name and is not read. Nothing is followed out of ROOT_FD.
 */
int nook_tmpfiles_collect(int root_fd, uid_t owner, struct nook_run_dirs *ret);

/* Appends NAME with MODE (owned by root) unless D already has NAME. */
void nook_run_dirs_add(struct nook_run_dirs *d, const char *name, mode_t mode);

/*
 * Creates D's directories in RUN_FD, each owned as declared: names resolved
 * in ROOT_FD's etc/passwd and etc/group (not NSS: they are the container's
 * names), root for a name not found there or an id the user namespace does
 * not map; the mode is applied after the owner. A NAME that already exists
 * is left as it is. On error *RET_FAILED names the directory.
 */
int nook_run_dirs_make(const struct nook_run_dirs *d, int root_fd, int run_fd, const char **ret_failed);
