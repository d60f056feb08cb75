/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mosh for containers with a network (pasta, bridge): each container gets
 * a slice of the host-wide mosh_ports, mosh_sessions ports wide, as the
 * same port numbers on the host and inside. pasta forwards them (-u), the
 * bridge DNATs them to the container's address (net-nft.c), and init puts
 * a mosh-server in the container that binds inside the slice
 * (mount-files.c). The keeper counts a running mosh-server as a session
 * (nook_mosh_adopt, keeper-serve.c).
 *
 * Slices are leased like addresses: /run/nook/.net/.mosh/<index> holds
 * "USER KEEPER-PID KEEPER-START - ADDR4 [ADDR6]", the address the bridge
 * DNATs the slice to ("-" for pasta). The index starts at uid modulo the
 * number of slices and moves on while a live keeper of another user holds
 * it; a dead keeper's lease is taken over, and its DNAT (it may be
 * another user's address) removed by the next nft run.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "net-internal.h"

#define MOSH_DIR ".mosh" /* in NET_DIR; the dot keeps it out of for_each_lease */
#define MOSH_SERVER "/usr/bin/mosh-server"

#define USE_SSH "use ssh, with screen or tmux to keep a session"

/* The lower layer has a mosh-server: the container could run it. */
static bool lower_has_mosh(const struct nook_user *u)
{
	char path[4096];
	struct stat st;

	if ((size_t) snprintf(path, sizeof(path), "%s" MOSH_SERVER, u->set.rootfs) >= sizeof(path))
		return false;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int mosh_lease_write(int fd, const struct nook_user *u, const struct nook_net *n)
{
	char a4[INET_ADDRSTRLEN] = "-", a6[INET6_ADDRSTRLEN] = "", line[256];
	unsigned long long start = 0;
	int len, r = nook_proc_starttime(getpid(), &start);

	if (r < 0)
		return r;
	if (n->mode == NOOK_NET_BRIDGE) {
		inet_ntop(AF_INET, &n->addr4, a4, sizeof(a4));
		if (n->v6)
			inet_ntop(AF_INET6, &n->addr6, a6, sizeof(a6));
	}
	len = snprintf(line, sizeof(line), "%s %d %llu - %s %s\n", u->name, getpid(), start, a4, a6);
	if (len < 0 || (size_t) len >= sizeof(line))
		return -ENOBUFS;
	return nook_write_all(fd, line, (size_t) len);
}

/* Takes the first free slice from uid % slices on. */
static int mosh_lease_take(int mdir, const struct nook_user *u, unsigned slices, struct nook_net *n)
{
	for (unsigned k = 0; k < slices; k++) {
		unsigned i = (unsigned) ((u->uid + k) % slices);
		_cleanup_close_ int fd = -EBADF;
		struct lease l;
		char name[16];
		int r;

		snprintf(name, sizeof(name), "%u", i);
		fd = openat(mdir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno == EEXIST) {
			r = lease_read(mdir, name, &l);
			if (r >= 0 && strcmp(l.user, u->name) != 0 && lease_alive(&l))
				continue;
			/* A dead keeper's: its DNAT may still be in place. */
			if (r >= 0 && strcmp(l.addr4, "-") != 0) {
				snprintf(n->mosh_stale4, sizeof(n->mosh_stale4), "%s", l.addr4);
				snprintf(n->mosh_stale6, sizeof(n->mosh_stale6), "%s", l.addr6);
			}
			(void) unlinkat(mdir, name, 0);
			fd = openat(mdir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		}
		if (fd < 0)
			return -errno;
		r = mosh_lease_write(fd, u, n);
		if (r < 0) {
			(void) unlinkat(mdir, name, 0);
			return r;
		}
		n->mosh_index = i;
		return 0;
	}
	return -EADDRNOTAVAIL;
}

/* pasta has no nft run of its own: a dead bridge keeper's DNAT of the
 * slice would take its packets, so it goes now (with the whole table when
 * no bridge container is left). Under the lock. */
static void mosh_drop_stale(int dir, struct nook_net *n, const char *ports)
{
	struct nook_nft_job job;
	char *mem = NULL;
	size_t len = 0;
	FILE *f;

	if (!*n->mosh_stale4 || n->mode == NOOK_NET_BRIDGE)
		return;
	f = open_memstream(&mem, &len);
	if (!f)
		return;
	if (leases_alive(dir) == 0) {
		fprintf(f, "add table inet nook\ndelete table inet nook\n");
	} else {
		nft_put_sets(f);
		nft_put_mosh(f, ports, n->mosh_stale4, n->mosh_stale6, false);
	}
	if (fclose(f) == 0 && mem && nft_spawn(mem, &job) >= 0)
		(void) nft_wait(&job, "a dead keeper's mosh ports");
	free(mem);
	*n->mosh_stale4 = '\0';
}

void mosh_prepare(const struct nook_user *u, struct nook_net *n)
{
	_cleanup_close_ int dir = -EBADF, lock = -EBADF, mdir = -EBADF;
	uint32_t p = u->set.mosh_ports;
	unsigned width = u->set.mosh_sessions, slices;
	char ports[16];
	int r;

	if (!lower_has_mosh(u))
		return;
	if (n->mode == NOOK_NET_NONE) {
		n->mosh_why =
			"mosh needs a network, and this container has network = none (loopback only): " USE_SSH;
		return;
	}
	if (p == 0) {
		n->mosh_why = "mosh is turned off on this host (mosh_ports = none in nook.conf): " USE_SSH;
		return;
	}
	slices = width ? (unsigned) (NOOK_MOSH_HIGH(p) - NOOK_MOSH_LOW(p) + 1) / width : 0;
	n->mosh_why = "no port for mosh is free on this host (mosh_ports in nook.conf): " USE_SSH;
	if (slices == 0) {
		log_warn("mosh_ports holds fewer than mosh_sessions = %u ports: mosh cannot work", width);
		return;
	}
	dir = net_dir_lock(true, &lock);
	if (dir < 0) {
		log_warn("mosh for '%s': " NOOK_RUN_DIR "/" NET_DIR ": %s", u->name, strerror(-dir));
		return;
	}
	/* EEXIST is fine; any other failure shows in the open. */
	(void) mkdirat(dir, MOSH_DIR, 0700);
	mdir = openat(dir, MOSH_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	r = mdir < 0 ? -errno : mosh_lease_take(mdir, u, slices, n);
	if (r < 0) {
		log_warn("no mosh ports for '%s' (mosh_ports %u-%u, %u slices): %s", u->name,
			 NOOK_MOSH_LOW(p), NOOK_MOSH_HIGH(p), slices,
			 r == -EADDRNOTAVAIL ? "all taken" : strerror(-r));
		return;
	}
	n->mosh_leased = true;
	n->mosh_low = (uint16_t) (NOOK_MOSH_LOW(p) + n->mosh_index * width);
	n->mosh_high = (uint16_t) (n->mosh_low + width - 1);
	n->mosh_why = NULL;
	snprintf(ports, sizeof(ports), "%u-%u", n->mosh_low, n->mosh_high);
	mosh_drop_stale(dir, n, ports);
}

void mosh_release(struct nook_net *n)
{
	_cleanup_close_ int dir = -EBADF, lock = -EBADF, mdir = -EBADF;
	struct lease l;
	char name[16];

	if (!n->mosh_leased)
		return;
	n->mosh_leased = false;
	dir = net_dir_lock(false, &lock);
	if (dir < 0)
		return;
	mdir = openat(dir, MOSH_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	snprintf(name, sizeof(name), "%u", n->mosh_index);
	/* Ours only: a keeper that took it over after us keeps it. */
	if (mdir >= 0 && lease_read(mdir, name, &l) >= 0 && l.pid == getpid())
		(void) unlinkat(mdir, name, 0);
}
