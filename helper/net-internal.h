/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The network's internals, shared by network.c, net-*.c and pasta.c only
 * (the interface is nook.h's network section). Which file to change:
 *   an entry point the keeper calls:     network.c (what all modes share)
 *   a new mode:                          a struct net_mode of its own, and
 *                                        its row in network.c's net_modes[]
 *   what the bridge mode does:           net-bridge.c (bridge, veth, eth0)
 *   /run/nook/.net, its lock, leases:    net-lease.c
 *   the nftables table inet nook:        net-nft.c
 *   what the pasta mode does:            pasta.c (and the pasta process)
 *   addresses, resolv.conf and hosts:    net-address.c (pure, unit-tested)
 *   rtnetlink requests:                  netlink.c
 */
#pragma once

#include <dirent.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/types.h>

#include "nook.h"

#define NET_DIR ".net" /* under NOOK_RUN_DIR */

/* ---- network.c: the modes ---- */
/* What a mode's prepare tells network.c for the container's resolv.conf
 * and hosts. */
struct net_names {
	char addr4[INET_ADDRSTRLEN], addr6[INET6_ADDRSTRLEN]; /* the container's own; "" if none */
	char fallback[INET6_ADDRSTRLEN]; /* the name server if the host's are unusable; "" if none */
	bool want_v6;                    /* the container reaches IPv6 name servers */
};

/* One `network` mode: its part of each entry point of nook.h (NULL: none),
 * behind one table like cgroup.c's backends. */
struct net_mode {
	/* The container gets name servers (from dns =, or the host's
	 * resolv.conf, which is read for it). */
	bool dns;
	/* nook_net_prepare, once *n is initialised: what the mode holds
	 * before the container exists. HOST_RESOLV is the host's resolv.conf
	 * (NULL: unreadable). On failure network.c calls stop. */
	int (*prepare)(const struct nook_user *u, struct nook_net *n, const char *host_resolv,
		       struct net_names *ret);
	/* nook_net_start, with n->netns_fd, userns_fd, root_uid and root_gid
	 * set (a mode without start never has them opened). */
	int (*start)(const struct nook_user *u, struct nook_net *n);
	int (*ready)(const struct nook_user *u, struct nook_net *n);
	/* nook_net_stop: safe on a partial start, and a second time. */
	void (*stop)(const struct nook_user *u, struct nook_net *n);
	/* nook_net_recover, of every mode: what outlives a keeper that died. */
	void (*recover)(const struct nook_user *u);
	int (*describe)(const struct nook_net *n, char *buf, size_t size); /* not NULL */
};
extern const struct net_mode net_mode_pasta;  /* pasta.c */
extern const struct net_mode net_mode_bridge; /* net-bridge.c */

/* ---- net-lease.c: /run/nook/.net, its lock and the address leases ---- */
struct lease {
	char user[NOOK_USER_MAX + 1];
	pid_t pid;
	unsigned long long start;
	/* an address: [0] 's': isolate = no; [1] 'h': host_access = yes;
	 * a mosh slice: its ports, LOW-HIGH */
	char flags[16];
	char addr4[INET_ADDRSTRLEN], addr6[INET6_ADDRSTRLEN];
};
/* The directory (created with CREATE), checked to be root's and 0700. */
int net_dir_open(bool create);
/* The same with the lock of everything under it held: returns the
 * directory's fd, and the lock's in *RET_LOCK (close it to unlock). */
int net_dir_lock(bool create, int *ret_lock);
/* Takes the first free address of U's bridge_subnet (directory BDIR) into N.
 * Called under the lock. */
int lease_take(int bdir, const struct nook_user *u, struct nook_net *n);
/* Reads lease NAME of DIR; alive: its keeper still runs. */
int lease_read(int dir, const char *name, struct lease *ret);
bool lease_alive(const struct lease *l);
/* A scan of directory DIR from its start, on a DIR of its own (NULL:
 * errno). */
DIR *net_dir_scan(int dir);
typedef void (*lease_fn)(int bdir, const char *name, const struct lease *l, void *arg);
int for_each_lease(int dir, lease_fn fn, void *arg);
int leases_alive(int dir);

/* ---- net-nft.c: the table inet nook, through nft(8) ---- */
int nft_spawn(const char *script, struct nook_nft_job *job);
int nft_wait(struct nook_nft_job *job, const char *what);
/* The bridge's chains with text HASH are loaded and nothing changed since. */
bool nft_rules_current(int dir, const char *bridge, uint64_t hash);
void nft_rules_mark(int dir, const char *bridge, uint32_t gen, uint64_t hash);
/* The script for U's bridge and N's elements (*RET: free), and the hash of
 * its chains' text. */
int nft_ruleset_start(const struct nook_user *u, const struct nook_net *n, char **ret, uint64_t *ret_hash);
/* After a lease is gone: its elements, or the whole table. Under the lock. */
void nft_table_release(int dir, const char *a4, const char *a6, bool elements);
/* The table and its sets and maps (add: idempotent). */
void nft_put_sets(FILE *f);
/* The DNAT of mosh's PORTS ("LOW-HIGH") to A4 (and A6 unless empty): put
 * in place when IN, else removed (whatever it was, as long as it went to
 * these addresses). */
void nft_put_mosh(FILE *f, const char *ports, const char *a4, const char *a6, bool in);

/* ---- net-mosh.c: the container's slice of mosh_ports ---- */
/* Takes a slice for U (N's address, if any, goes into the lease), or says
 * in n->mosh_why why mosh cannot work. Never fails the start. */
void mosh_prepare(const struct nook_user *u, struct nook_net *n);
/* Bridge: starts nft on the slice's DNAT (a batch of its own: a failure
 * costs mosh, not the start), and waits for it (once the rules are in). */
void mosh_dnat_start(const struct nook_user *u, struct nook_net *n);
void mosh_dnat_wait(const struct nook_user *u, struct nook_net *n);
/* Removes the DNAT and gives the slice back: before the bridge's stop,
 * which may remove the whole table. */
void mosh_release(const struct nook_user *u, struct nook_net *n);
/* A dead keeper's slices of U: their DNAT and leases. */
void mosh_recover(const struct nook_user *u);
