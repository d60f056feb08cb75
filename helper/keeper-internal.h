/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The keeper's state, shared by its two halves: keeper.c, the container's
 * life (setup, the event loop, stop), and keeper-serve.c, what it answers
 * (the socket and its requests, the sessions they bring, the state files
 * status reads).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "nook.h"

/* A mosh-server held as a session. */
struct keeper_mosh {
	int pidfd;
	pid_t pid;
};

struct keeper {
	const struct nook_user *u;
	int rundir;
	struct nook_cgroup cg;
	struct nook_cg_origin origin;
	struct nook_image img;
	struct nook_container c;
	struct nook_net net;
	struct nook_cron cron;
	int listen_fd, epfd, timer_fd, sig_fd;
	int *sessions;
	size_t n_sessions;
	struct keeper_mosh *mosh; /* mosh-servers that count as sessions (keeper_mosh_check) */
	size_t n_mosh;
	bool mosh_recheck; /* the timer is keeper_mosh_check's, not the linger */
	uint64_t started_usec;
	struct nook_keeper_rec rec;
	struct stat sock_st;     /* the socket file we bound: stop() removes only that one */
	int ident_fd;            /* the image's flock: who we are, whatever becomes of the run dir */
	struct nook_teardown td; /* what setup has made so far */
};

/* ---- keeper.c ---- */
/* Stops the container (teardown.c) and removes our socket and record. */
void keeper_stop(struct keeper *k, const char *why);

/* ---- keeper-serve.c ---- */
/* The linger timer: MS from now (0 fires at once). */
void keeper_arm_timer(struct keeper *k, uint64_t ms);
/* /run/nook/<user>/state and network, what status reads. */
int keeper_write_state(const struct keeper *k);
void keeper_write_net_state(const struct keeper *k);
/* Binds and listens on /run/nook/<user>/keeper.sock; returns the fd. */
int keeper_listen(struct keeper *k);
/* SIGUSR1: recreate a removed run directory or socket. */
void keeper_serve_again(struct keeper *k);
/* With no session left (the linger timer fired): a mosh-server of the
 * container's serves its client over UDP, without ssh, and counts as a
 * session. Drops the ones held that no longer qualify, takes new ones (at
 * most mosh_sessions in all, one per port of the slice), and returns how
 * many it holds. A process qualifies while it runs the real mosh-server
 * (which init bound at /run/nook/mosh-server, in a directory of container
 * root's), is not stopped, and maps no executable file but of that file's
 * owner (nothing of the user's preloaded). The caller checks again every
 * KEEPER_MOSH_RECHECK_MS. */
#define KEEPER_MOSH_RECHECK_MS 10000
size_t keeper_mosh_check(struct keeper *k);
/* FD is a session's (or a held mosh-server's) pidfd that became
 * readable: true if it was one. */
bool keeper_session_gone(struct keeper *k, int fd);
/* One request on CONN; returns 1 after "stop" (the container is gone). */
int keeper_handle_client(struct keeper *k, int conn);
