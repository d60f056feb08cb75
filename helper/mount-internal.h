/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The in-container root build's internals, shared by mount.c (the build
 * itself and these primitives) and mount-files.c (the files put over the
 * lower layer's). The interface is nook.h's mount section.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "nook.h"

struct build {
	char *err;
	size_t errsize;
	int root;            /* O_PATH fd of the merged root (staging "root") */
	int devnull;         /* O_PATH on the host's /dev/null, cloned for each masked file */
	int maskdir;         /* O_PATH on an empty read-only tmpfs, cloned for each masked directory */
	char tmpfs_size[32]; /* size= of /tmp, /run, /dev/shm ("": the kernel's default) */
};

/* ---- mount.c ---- */
/* Writes FMT and strerror(R) to b->err; returns R as -errno. */
int rootfs_fail(struct build *b, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Resolves REL (absolute container path) under the new root. */
int rootfs_resolve(struct build *b, const char *path, int flags);
/* fsopen + options + fsmount: a new detached mount of FSTYPE. */
int rootfs_new_fs(struct build *b, const char *fstype, const char *const *opts, uint64_t attrs);
/* Moves the detached tree TREE onto PATH inside the new root. */
int rootfs_attach(struct build *b, int tree, const char *path);
/* Creates PATH's last component (MODE) inside the new root if missing;
 * its parent must exist. */
int rootfs_mkdir_in(struct build *b, const char *path, mode_t mode);
/* Creates NAME in the upper directory UP_DIR as the lower's LO_DIR/NAME is
 * (mode, owner), if missing; returns a read-only fd on it. */
int rootfs_upper_like_lower(struct build *b, int up_dir, int lo_dir, const char *name);

/* ---- cron.c ---- */
/* /var/spool/cron of the user's own in the image, where the lower layer
 * has cron's spool: crontab(1) inside writes there, the keeper syncs it. */
int rootfs_cron_spool(struct build *b, const struct nook_user *u);

/* ---- mount-files.c ---- */
/* The network's /etc/resolv.conf and /etc/hosts, over the lower layer's. */
int rootfs_put_etc_files(struct build *b, const struct nook_etc_files *etc);
/* The setuid stubs over the real setuid programs of root's in the root,
 * and mosh-server's wrapper or stub (ETC's mosh fields). */
int rootfs_put_stubs(struct build *b, const struct nook_etc_files *etc);
