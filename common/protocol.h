/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The keeper's protocol, written down once. Everything a keeper says about
 * itself goes through here: what it answers on /run/nook/<user>/keeper.sock
 * (SOCK_SEQPACKET, one request and one reply per connection), the state
 * and keeper files it keeps beside the socket, and the line nook-helper
 * prints.
 *
 *   request  register (a session's pidfd comes along) | attach | status | stop
 *   reply    ok INFO (to register and attach, init's pidfd comes along)
 *            | stopped | error stopping | error no pidfd | error unknown request
 *   INFO     init=PID keeper=PID started=USEC sessions=N loop=DEV cgroup=CGROUP
 *   record   pid=PID start=TICKS state=running|stopping image=PATH
 *
 * /run/nook/<user>/state holds the keeper's "ok INFO" reply (what status
 * would answer), /run/nook/<user>/keeper its record; each one line.
 *
 * INFO and the record share one grammar: KEY=VALUE fields, one space
 * apart, in a fixed order. A number is decimal without leading zeros; an
 * empty word is written "-"; the last field (a cgroup line or a path, which
 * may hold spaces) runs to the end of the line. A line may end in one
 * newline. Every accepted line is the one the formatter writes, so
 * parse(format(x)) == x and format(parse(s)) == s.
 *
 * Pure library code: no I/O, returns -errno, does not log.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Longest message or line (the reply buffers are this big). */
#define NOOK_PROTO_MAX 4096

/* ---- requests ---- */
enum nook_req {
	NOOK_REQ_REGISTER, /* a session pidfd comes along; reply: ok INFO + init's pidfd */
	NOOK_REQ_ATTACH,   /* no new session; reply: ok INFO + init's pidfd */
	NOOK_REQ_STATUS,   /* reply: ok INFO */
	NOOK_REQ_STOP,     /* reply: stopped, once the container is gone */
	_NOOK_REQ_MAX,
};
/* The request's word on the wire; NULL when REQ is out of range. */
const char *nook_req_name(enum nook_req req);
/* The request BUF (LEN bytes, exactly a request word) names, or -EPROTO. */
int nook_req_parse(const char *buf, size_t len);

/* ---- INFO: a running container, as its keeper describes it ---- */
enum {
	NOOK_INFO_INIT = 1U << 0,
	NOOK_INFO_KEEPER = 1U << 1,
	NOOK_INFO_STARTED = 1U << 2,
	NOOK_INFO_SESSIONS = 1U << 3,
	NOOK_INFO_LOOP = 1U << 4,
	NOOK_INFO_CGROUP = 1U << 5,
	NOOK_INFO_ALL = (1U << 6) - 1,
};
struct nook_session_info {
	pid_t init_pid;
	pid_t keeper_pid;
	int init_pidfd;        /* not on the wire: -EBADF unless the request returns one */
	uint64_t started_usec; /* CLOCK_REALTIME */
	unsigned sessions;
	char loop[32];     /* "" without a loop device */
	char cgroup[2048]; /* nook_cgroup_serialize() */
};
/* Writes the FIELDS (NOOK_INFO_*) of INFO, in the fixed order, as one line
 * without a newline; returns its length, -ENOBUFS, or -EINVAL for a value
 * the parser would refuse. */
int nook_info_format(const struct nook_session_info *info, unsigned fields, char *buf, size_t size);
/* Reads exactly FIELDS from BUF (LEN bytes); -EPROTO if it is anything
 * else. Fields not asked for are zero, init_pidfd is -EBADF. */
int nook_info_parse(const char *buf, size_t len, unsigned fields, struct nook_session_info *ret);

/* ---- replies ---- */
enum nook_reply_kind {
	NOOK_REPLY_OK,      /* INFO follows */
	NOOK_REPLY_STOPPED, /* to stop */
	NOOK_REPLY_ERROR,   /* the request was refused */
	_NOOK_REPLY_KIND_MAX,
};
enum nook_reply_error {
	NOOK_ERROR_STOPPING, /* init died: no new sessions */
	NOOK_ERROR_NO_PIDFD, /* register without a session pidfd */
	NOOK_ERROR_UNKNOWN_REQUEST,
	_NOOK_ERROR_MAX,
};
struct nook_reply {
	enum nook_reply_kind kind;
	enum nook_reply_error error;   /* NOOK_REPLY_ERROR */
	struct nook_session_info info; /* NOOK_REPLY_OK */
};
int nook_reply_format(const struct nook_reply *reply, char *buf, size_t size);
int nook_reply_parse(const char *buf, size_t len, struct nook_reply *ret);

/* ---- the keeper's record ---- */
/* Who the keeper is (pid and start time, so a reused pid is never taken
 * for it), whether it is stopping, and its image, so that status and stop
 * need no configuration. */
struct nook_keeper_rec {
	pid_t pid;                /* > 1 */
	unsigned long long start; /* /proc/PID/stat field 22 */
	bool stopping;
	char image[512];
};
int nook_keeper_rec_format(const struct nook_keeper_rec *rec, char *buf, size_t size);
int nook_keeper_rec_parse(const char *buf, size_t len, struct nook_keeper_rec *ret);
