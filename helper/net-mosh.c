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
 * "USER KEEPER-PID KEEPER-START LOW-HIGH ADDR4 [ADDR6]", the ports and the
 * address the bridge DNATs them to ("-" for pasta). The index starts at
 * uid modulo the number of slices and moves on while a live keeper of
 * another user holds it or a live lease overlaps it (leases made under an
 * older mosh_ports or mosh_sessions). Every start of a container with a
 * slice, and every recovery after a keeper that died, removes the leases
 * of dead keepers, each once its DNAT (it names what the lease says) is
 * gone: a lease stays while its DNAT could not be removed, so that the
 * next attempt knows what to remove.
 *
 * The DNAT is nft's own batch (a failure costs the container mosh, never
 * its start). Leases change, and DNAT is removed, under the lock of
 * /run/nook/.net; the DNAT a start adds runs beside the keeper's other
 * work, unlocked, as the bridge's rules do: the container's own live
 * address lease keeps the table from going meanwhile.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "net-internal.h"

#define MOSH_DIR ".mosh" /* in NET_DIR; the dot keeps it out of for_each_lease */
#define MOSH_SERVER "/usr/bin/mosh-server"

#define USE_SSH "use ssh, with screen or tmux to keep a session"

/* The lower layer has a mosh-server that init will wrap: a regular file of
 * root's (mount-files.c makes the same check inside). */
static bool lower_has_mosh(const struct nook_user *u)
{
	char path[4096];
	struct stat st;

	if ((size_t) snprintf(path, sizeof(path), "%s" MOSH_SERVER, u->set.rootfs) >= sizeof(path))
		return false;
	return lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0;
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
	len = snprintf(line, sizeof(line), "%s %d %llu %u-%u %s %s\n", u->name, getpid(), start, n->mosh_low,
		       n->mosh_high, a4, a6);
	if (len < 0 || (size_t) len >= sizeof(line))
		return -ENOBUFS;
	return nook_write_all(fd, line, (size_t) len);
}

/* Removes the DNAT of PORTS to A4 (and A6) that lease L names, if any, or
 * the whole table when no bridge container is left to use it (it would
 * otherwise be made for nothing). Under the lock. */
static int dnat_remove(int dir, const struct lease *l)
{
	struct nook_nft_job job;
	char *mem = NULL, what[64];
	size_t len = 0;
	FILE *f;
	int r;

	if (strcmp(l->addr4, "-") == 0)
		return 0;
	f = open_memstream(&mem, &len);
	if (!f)
		return -ENOMEM;
	if (leases_alive(dir) == 0) {
		fprintf(f, "add table inet nook\ndelete table inet nook\n");
	} else {
		nft_put_sets(f);
		nft_put_mosh(f, l->flags, l->addr4, l->addr6, false);
	}
	if (fclose(f) != 0 || !mem) {
		free(mem);
		return -ENOMEM;
	}
	snprintf(what, sizeof(what), "removing mosh's DNAT of %s", l->flags);
	r = nft_spawn(mem, &job);
	if (r >= 0)
		r = nft_wait(&job, what);
	free(mem);
	return r;
}

/* No socket of the host's is bound to a UDP port from LOW to HIGH (IPv4
 * or IPv6): pasta could not forward the slice (it exits when one port
 * fails), and the bridge's DNAT would take that socket's traffic. */
static bool slice_free(unsigned low, unsigned high)
{
	for (unsigned port = low; port <= high; port++) {
		struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
		struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t) port) };
		_cleanup_close_ int s4 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		_cleanup_close_ int s6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		int one = 1;

		if (s4 >= 0 && bind(s4, (struct sockaddr *) &a4, sizeof(a4)) < 0 && errno == EADDRINUSE)
			return false;
		if (s6 >= 0 && setsockopt(s6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == 0 &&
		    bind(s6, (struct sockaddr *) &a6, sizeof(a6)) < 0 && errno == EADDRINUSE)
			return false;
	}
	return true;
}

#define LIVE_MAX 1024 /* slices of others a start looks at */

struct range {
	unsigned low, high;
};

/* Removes the leases of dead keepers (their DNAT first: a lease whose
 * DNAT cannot go stays) and puts the ranges of live ones of users other
 * than USER in LIVE (at most LIVE_MAX; NULL: none wanted); returns how
 * many. Under the lock. */
static size_t scan_leases(int dir, int mdir, const char *user, struct range *live)
{
	_cleanup_closedir_ DIR *d = net_dir_scan(mdir);
	struct dirent *e;
	size_t n = 0;

	while (d && (e = readdir(d))) {
		struct range r;
		struct lease l;
		char *end;

		if (e->d_name[0] == '.' || lease_read(mdir, e->d_name, &l) < 0)
			continue;
		if (!lease_alive(&l)) {
			if (dnat_remove(dir, &l) >= 0)
				(void) unlinkat(mdir, e->d_name, 0);
			continue;
		}
		if (!live || strcmp(l.user, user) == 0 || n >= LIVE_MAX)
			continue;
		r.low = (unsigned) strtoul(l.flags, &end, 10);
		if (*end != '-')
			continue;
		r.high = (unsigned) strtoul(end + 1, &end, 10);
		if (*end == '\0' && r.low <= r.high)
			live[n++] = r;
	}
	return n;
}

/* Takes the first free slice from uid % slices on, WIDTH ports each from
 * LOW: no live lease of another user's has it (under this index) or
 * overlaps it (under the index of an older mosh_ports or mosh_sessions),
 * and the host has no socket on its ports. Under the lock. */
static int mosh_lease_take(int dir, int mdir, const struct nook_user *u, unsigned slices, struct nook_net *n)
{
	unsigned width = u->set.mosh_sessions, low = NOOK_MOSH_LOW(u->set.mosh_ports);
	_cleanup_free_ struct range *live = calloc(LIVE_MAX, sizeof(*live));
	size_t n_live;

	if (!live)
		return -ENOMEM;
	n_live = scan_leases(dir, mdir, u->name, live);
	for (unsigned k = 0; k < slices; k++) {
		unsigned i = (unsigned) ((u->uid + k) % slices), lo = low + i * width, hi = lo + width - 1;
		_cleanup_close_ int fd = -EBADF;
		bool overlaps = false;
		struct lease l;
		char name[16];
		int r;

		for (size_t j = 0; j < n_live && !overlaps; j++)
			overlaps = lo <= live[j].high && live[j].low <= hi;
		if (overlaps)
			continue;
		snprintf(name, sizeof(name), "%u", i);
		fd = openat(mdir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno == EEXIST) {
			/* The scan left live leases only: another user's, or
			 * ours from a keeper that is gone by now. */
			r = lease_read(mdir, name, &l);
			if (r >= 0 && strcmp(l.user, u->name) != 0)
				continue;
			if (r >= 0 && dnat_remove(dir, &l) < 0)
				continue;
			(void) unlinkat(mdir, name, 0);
			fd = openat(mdir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		}
		if (fd < 0)
			return -errno;
		if (!slice_free(lo, hi)) {
			log_warn(
				"mosh for '%s': a port of %u-%u is in use on the host; trying the next slice",
				u->name, lo, hi);
			(void) unlinkat(mdir, name, 0);
			continue;
		}
		n->mosh_index = i;
		n->mosh_low = (uint16_t) lo;
		n->mosh_high = (uint16_t) hi;
		r = mosh_lease_write(fd, u, n);
		if (r < 0) {
			(void) unlinkat(mdir, name, 0);
			return r;
		}
		return 0;
	}
	return -EADDRNOTAVAIL;
}

static int mosh_dir_lock(bool create, int *ret_dir, int *ret_lock)
{
	_cleanup_close_ int dir = net_dir_lock(create, ret_lock);
	int mdir;

	if (dir < 0)
		return dir;
	/* EEXIST is fine; any other failure shows in the open. */
	if (create)
		(void) mkdirat(dir, MOSH_DIR, 0700);
	mdir = openat(dir, MOSH_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (mdir < 0) {
		int r = -errno;

		(void) close(*ret_lock);
		*ret_lock = -EBADF;
		return r;
	}
	*ret_dir = TAKE_FD(dir);
	return mdir;
}

void mosh_prepare(const struct nook_user *u, struct nook_net *n)
{
	_cleanup_close_ int dir = -EBADF, lock = -EBADF, mdir = -EBADF;
	uint32_t p = u->set.mosh_ports;
	unsigned width = u->set.mosh_sessions, slices;
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
	mdir = mosh_dir_lock(true, &dir, &lock);
	r = mdir < 0 ? mdir : mosh_lease_take(dir, mdir, u, slices, n);
	if (r < 0) {
		log_warn("no mosh ports for '%s' (mosh_ports %u-%u, %u slices): %s", u->name,
			 NOOK_MOSH_LOW(p), NOOK_MOSH_HIGH(p), slices,
			 r == -EADDRNOTAVAIL ? "all taken" : strerror(-r));
		return;
	}
	n->mosh_leased = true;
	n->mosh_why = NULL;
}

void mosh_dnat_start(const struct nook_user *u, struct nook_net *n)
{
	char a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN] = "", ports[16];
	char *mem = NULL;
	size_t len = 0;
	FILE *f;

	if (!n->mosh_leased || n->mode != NOOK_NET_BRIDGE)
		return;
	f = open_memstream(&mem, &len);
	if (!f)
		return;
	inet_ntop(AF_INET, &n->addr4, a4, sizeof(a4));
	if (n->v6)
		inet_ntop(AF_INET6, &n->addr6, a6, sizeof(a6));
	snprintf(ports, sizeof(ports), "%u-%u", n->mosh_low, n->mosh_high);
	nft_put_sets(f);
	nft_put_mosh(f, ports, a4, a6, true);
	/* Whether nft ran or not, the release must try to remove it. */
	n->mosh_dnat = true;
	if (fclose(f) == 0 && mem && nft_spawn(mem, &n->mosh_nft) < 0)
		log_warn("mosh for '%s': cannot start nft for the DNAT of ports %s", u->name, ports);
	free(mem);
}

void mosh_dnat_wait(const struct nook_user *u, struct nook_net *n)
{
	char what[64];

	if (n->mosh_nft.pid <= 0)
		return;
	snprintf(what, sizeof(what), "mosh's DNAT for '%s'", u->name);
	if (nft_wait(&n->mosh_nft, what) < 0)
		log_warn("mosh does not reach the container of '%s' (ports %u-%u)", u->name, n->mosh_low,
			 n->mosh_high);
}

void mosh_release(const struct nook_user *u, struct nook_net *n)
{
	_cleanup_close_ int dir = -EBADF, lock = -EBADF, mdir = -EBADF;
	struct lease l;
	char name[16];

	if (!n->mosh_leased)
		return;
	/* A start that ended before bridge_start. */
	if (n->mosh_nft.pid > 0)
		mosh_dnat_wait(u, n);
	n->mosh_leased = false;
	mdir = mosh_dir_lock(false, &dir, &lock);
	if (mdir < 0)
		return;
	snprintf(name, sizeof(name), "%u", n->mosh_index);
	/* Ours only: a keeper that took it over after us keeps it. It names
	 * our DNAT; if that cannot go, it stays for the next attempt. */
	if (lease_read(mdir, name, &l) < 0 || l.pid != getpid())
		return;
	if (n->mosh_dnat && dnat_remove(dir, &l) < 0) {
		log_warn("mosh's DNAT of ports %s for '%s' is left in table inet nook", l.flags, u->name);
		return;
	}
	(void) unlinkat(mdir, name, 0);
}

/* Leases whose keeper is gone (U's, whose keeper died, among them): their
 * DNAT, then the lease. */
void mosh_recover(const struct nook_user *u)
{
	_cleanup_close_ int dir = -EBADF, lock = -EBADF, mdir = -EBADF;

	mdir = mosh_dir_lock(false, &dir, &lock);
	if (mdir >= 0)
		(void) scan_leases(dir, mdir, u->name, NULL);
}
