/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small fd-relative file helpers shared by the helper and the PAM module. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* useradd's limit, and what utmp can hold. */
#define NOOK_USER_MAX 32

/* Whether NAME is a user (or group) name as useradd accepts it by default. */
bool nook_valid_user_name(const char *name);

/* Writes DATA to DIRFD/NAME (existing file, O_WRONLY|O_NOFOLLOW) in one write(2). */
int nook_write_file_at(int dirfd, const char *name, const char *data, size_t len);
/* Whether FD is root's: of TYPE (S_IFDIR, S_IFREG; 0: any), owned by uid 0
 * and without any of the FORBIDDEN mode bits (S_IWGRP | S_IWOTH: writable
 * by root only; 0077: closed to everyone else). Checked on the open file,
 * never on a path. 0 if so; -ENOTDIR (a directory was wanted) or -EINVAL
 * for the wrong type, -EPERM for the wrong owner or mode. RET_ST (may be
 * NULL) gets the fstat, for the caller's message. */
int nook_check_root_owned(int fd, mode_t type, mode_t forbidden, struct stat *ret_st);
/* Reads at most SIZE-1 bytes of DIRFD/NAME, NUL-terminates; returns the length. */
int nook_read_file_at(int dirfd, const char *name, char *buf, size_t size);
/* Reads FD until EOF or SIZE-1 bytes, NUL-terminates; returns the length. */
int nook_read_all(int fd, char *buf, size_t size);
/* Numeric field N (3 or later, numbered as proc(5) does) of a
 * /proc/PID/stat text; -EBADMSG when it has none. */
int nook_stat_field(const char *stat, int n, unsigned long long *ret);
/* Opens PATH beneath DIR (openat2 RESOLVE_BENEATH), following no symlink:
 * for trees the user writes (the image, the container's lower layer). */
int nook_open_beneath(int dir, const char *path, int flags);
/* Opens PATH (absolute) component by component with RESOLVE_NO_SYMLINKS. */
int nook_open_nofollow(const char *path, int flags, mode_t mode);
/* Writes all of BUF, retrying on EINTR and short writes. */
int nook_write_all(int fd, const void *buf, size_t len);
/* Sends/receives one datagram with up to N fds over a SOCK_SEQPACKET socket. */
int nook_send_fds(int sock, const void *buf, size_t len, const int *fds, size_t n);
ssize_t nook_recv_fds(int sock, void *buf, size_t len, int *fds, size_t *n);
/* pidfd helpers (glibc 2.36 has no wrappers). */
int nook_pidfd_open(pid_t pid);
int nook_pidfd_send_signal(int pidfd, int sig);
/* True once the process of PIDFD has exited (a zombie included). */
bool nook_pidfd_exited(int pidfd);
/* Opens /proc/INIT_PID/root (O_PATH), a container's root as its init sees
 * it: -ESRCH if init (INIT_PIDFD) has exited once it is open. An init still
 * running then held the pid all along: the fd is not another process's
 * root through a reused pid. */
int nook_init_root_open(pid_t init_pid, int init_pidfd);
/* Waits until FD is readable, at most TIMEOUT_MS (-1: forever). 1 ready, 0 timeout. */
int nook_wait_readable(int fd, int timeout_ms);
/* mkdir -p for an absolute, root-controlled PATH; new directories get MODE. */
int nook_mkdir_p(const char *path, mode_t mode);
