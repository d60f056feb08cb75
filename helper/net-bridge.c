/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * network = bridge (nook.conf(5)): a veth pair per container, the host end
 * nk-<uid in hex> on the bridge (created when missing), the container end
 * eth0 with an address leased from bridge_subnet, a default route via the
 * bridge's own address (the subnet's first), and outbound NAT and
 * filtering in one nftables table, "inet nook". The leases are in
 * net-lease.c, the table in net-nft.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "net-internal.h"

/* Whether something serves DNS on ADDR:53 of the host (bound to it or to
 * the wildcard): then binding there ourselves fails. */
static bool resolver_listens(const struct in_addr *addr)
{
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(53), .sin_addr = *addr };

	if (fd < 0)
		return false;
	return bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 && errno == EADDRINUSE;
}

/* The address lease, and the bridge with its own address. */
static int bridge_host_prepare(const struct nook_user *u, struct nook_net *n)
{
	_cleanup_close_ int dir = -EBADF, lock = -EBADF, bdir = -EBADF;
	struct nook_nl nl;
	int br, r;

	dir = net_dir_lock(true, &lock);
	if (dir < 0) {
		log_err("cannot prepare " NOOK_RUN_DIR "/" NET_DIR ": %s", strerror(-dir));
		return dir;
	}
	if (mkdirat(dir, u->set.bridge, 0700) < 0 && errno != EEXIST)
		return -errno;
	bdir = openat(dir, u->set.bridge, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (bdir < 0)
		return -errno;
	r = lease_take(bdir, u, n);
	if (r < 0) {
		log_err("no free address for '%s' in bridge_subnet of %s: %s", u->name, u->set.bridge,
			strerror(-r));
		return r;
	}
	{
		char fwd[4] = "";
		_cleanup_close_ int sys = open("/proc/sys/net/ipv4", O_PATH | O_DIRECTORY | O_CLOEXEC);

		if (sys >= 0 && nook_read_file_at(sys, "ip_forward", fwd, sizeof(fwd)) > 0 && fwd[0] == '0')
			log_warn(
				"net.ipv4.ip_forward is 0: bridge containers reach only the host; "
				"set it to 1 (sysctl -w net.ipv4.ip_forward=1, and in /etc/sysctl.d/)");
	}
	r = nook_nl_open(-1, &nl);
	if (r < 0)
		return r;
	br = nook_nl_bridge_ensure(&nl, u->set.bridge);
	if (br == -ENOTTY)
		log_err("bridge = %s names an interface that is not a bridge; choose another name",
			u->set.bridge);
	else if (br < 0)
		log_err("cannot create bridge %s: %s", u->set.bridge, strerror(-br));
	r = br;
	if (r >= 0)
		r = nook_nl_addr_add(&nl, br, AF_INET, &n->gw4, u->set.bridge_subnet.prefix);
	if (r >= 0 && n->v6)
		r = nook_nl_addr_add(&nl, br, AF_INET6, &n->gw6, u->set.bridge_subnet6.prefix);
	nook_nl_close(&nl);
	if (r < 0 && br >= 0)
		log_err("cannot give bridge %s its address: %s", u->set.bridge, strerror(-r));
	return r < 0 ? r : 0;
}

/* The rules first: the container's traffic must never pass the bridge
 * before they are in place. nft loads them while the keeper goes on
 * (bridge_start waits for it). */
static int bridge_rules(const struct nook_user *u, struct nook_net *n)
{
	_cleanup_free_ char *script = NULL;
	bool needs_elements = !u->set.isolate || u->set.host_access;
	int r;

	r = nft_ruleset_start(u, n, &script, &n->rules_hash);
	if (r < 0)
		return r;
	/* A taken-over address may carry a dead keeper's elements: only nft
	 * removes them. */
	n->elements = needs_elements || n->took_over;
	if (!n->elements) {
		_cleanup_close_ int dir = net_dir_open(false);

		if (dir >= 0 && nft_rules_current(dir, u->set.bridge, n->rules_hash))
			return 0;
	}
	n->gen_known = nook_nl_nft_genid(&n->gen_before) >= 0;
	return nft_spawn(script, &n->nft);
}

static int bridge_prepare(const struct nook_user *u, struct nook_net *n, const char *host_resolv,
			  struct net_names *ret)
{
	int r;

	(void) host_resolv;
	snprintf(n->veth, sizeof(n->veth), "nk-%x", (unsigned) u->uid);
	r = bridge_host_prepare(u, n);
	if (r >= 0) {
		mosh_prepare(u, n);
		r = bridge_rules(u, n);
	}
	if (r >= 0)
		mosh_dnat_start(u, n);
	if (r < 0)
		return r;
	inet_ntop(AF_INET, &n->addr4, ret->addr4, sizeof(ret->addr4));
	if (n->v6)
		inet_ntop(AF_INET6, &n->addr6, ret->addr6, sizeof(ret->addr6));
	/* Only when the host serves DNS on the bridge's address may
	 * the container be sent there (the input rules allow it). */
	if (resolver_listens(&n->gw4))
		inet_ntop(AF_INET, &n->gw4, ret->fallback, sizeof(ret->fallback));
	ret->want_v6 = n->v6;
	return 0;
}

/* Inside the container's namespace: eth0's addresses, up, default routes. */
static int bridge_inside(const struct nook_user *u, struct nook_net *n)
{
	struct nook_nl nl;
	int eth, r;

	r = nook_nl_open(n->netns_fd, &nl);
	if (r < 0)
		return r;
	eth = nook_nl_ifindex(&nl, "eth0");
	r = eth;
	if (r >= 0)
		r = nook_nl_addr_add(&nl, eth, AF_INET, &n->addr4, u->set.bridge_subnet.prefix);
	if (r >= 0 && n->v6)
		r = nook_nl_addr_add(&nl, eth, AF_INET6, &n->addr6, u->set.bridge_subnet6.prefix);
	if (r >= 0)
		r = nook_nl_link_up(&nl, eth);
	if (r >= 0)
		r = nook_nl_route_default(&nl, AF_INET, &n->gw4, eth);
	if (r >= 0 && n->v6)
		r = nook_nl_route_default(&nl, AF_INET6, &n->gw6, eth);
	nook_nl_close(&nl);
	return r;
}

static int bridge_start(const struct nook_user *u, struct nook_net *n)
{
	char what[64];
	struct nook_nl nl;
	int br, veth, r;

	if (n->nft.pid > 0) {
		uint32_t gen;

		snprintf(what, sizeof(what), "bridge %s", u->set.bridge);
		r = nft_wait(&n->nft, what);
		if (r < 0)
			return r;
		/* Only when no other commit came between. */
		if (n->gen_known && nook_nl_nft_genid(&gen) >= 0 && gen == n->gen_before + 1) {
			_cleanup_close_ int dir = net_dir_open(false);

			if (dir >= 0)
				nft_rules_mark(dir, u->set.bridge, gen, n->rules_hash);
		}
	}
	mosh_dnat_wait(u, n);
	r = nook_nl_open(-1, &nl);
	if (r < 0)
		return r;
	br = nook_nl_ifindex(&nl, u->set.bridge);
	r = br;
	if (r >= 0) {
		r = nook_nl_veth_create(&nl, n->veth, br, "eth0", n->netns_fd);
		if (r == -EEXIST) {
			/* Left by a container whose namespace is still
			 * going away: ours by name (nk-<uid>). */
			(void) nook_nl_link_del(&nl, n->veth);
			r = nook_nl_veth_create(&nl, n->veth, br, "eth0", n->netns_fd);
		}
	}
	if (r >= 0) {
		n->veth_made = true;
		veth = nook_nl_ifindex(&nl, n->veth);
		r = veth;
		if (r >= 0 && u->set.isolate)
			r = nook_nl_brport_isolated(&nl, veth, true);
		if (r >= 0)
			r = nook_nl_link_up(&nl, veth);
	}
	nook_nl_close(&nl);
	if (r < 0) {
		log_err("veth %s for '%s' on bridge %s: %s", n->veth, u->name, u->set.bridge, strerror(-r));
		return r;
	}
	r = bridge_inside(u, n);
	if (r < 0)
		log_err("configuring eth0 in the container of '%s': %s", u->name, strerror(-r));
	return r;
}

static void bridge_stop(const struct nook_user *u, struct nook_net *n)
{
	_cleanup_close_ int dir = -EBADF, lock = -EBADF;
	char a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN] = "", name[16];
	struct nook_nl nl;

	/* A start that failed before bridge_start: the rules' child must be
	 * done before they are released. */
	if (n->nft.pid > 0)
		(void) nft_wait(&n->nft, "an aborted start");
	if (n->veth_made && nook_nl_open(-1, &nl) >= 0) {
		int r = nook_nl_link_del(&nl, n->veth);

		/* ENODEV: the kernel removed it with the namespace. */
		if (r < 0 && r != -ENODEV)
			log_warn("cannot delete veth %s: %s", n->veth, strerror(-r));
		nook_nl_close(&nl);
	}
	n->veth_made = false;
	if (!n->leased)
		return;
	dir = net_dir_lock(false, &lock);
	if (dir < 0)
		return;
	snprintf(name, sizeof(name), "%s/%u", u->set.bridge, n->index);
	(void) unlinkat(dir, name, 0);
	n->leased = false;
	inet_ntop(AF_INET, &n->addr4, a4, sizeof(a4));
	if (n->v6)
		inet_ntop(AF_INET6, &n->addr6, a6, sizeof(a6));
	/* Only a start that reached nftables made elements, but the table
	 * may have to go regardless. */
	nft_table_release(dir, a4, a6, n->elements);
	n->elements = false;
}

struct recover_ctx {
	int dir;
	const char *user;
};

/* Removes a lease of ctx->user (whose keeper died) and what it held. */
static void drop_users_lease(int bdir, const char *name, const struct lease *l, void *arg)
{
	const struct recover_ctx *ctx = arg;

	if (strcmp(l->user, ctx->user) != 0)
		return;
	(void) unlinkat(bdir, name, 0);
	/* Whatever its flags say: it may have died while taking over an
	 * address whose elements were someone else's. */
	nft_table_release(ctx->dir, l->addr4, l->addr6, true);
}

static void bridge_recover(const struct nook_user *u)
{
	_cleanup_close_ int dir = -EBADF, lock = -EBADF;
	struct nook_nl nl;
	char veth[16];

	/* The veth's host end, whatever the mode is now: the name is the
	 * user's. */
	snprintf(veth, sizeof(veth), "nk-%x", (unsigned) u->uid);
	if (nook_nl_open(-1, &nl) >= 0) {
		if (nook_nl_link_del(&nl, veth) >= 0)
			log_warn("removed the stale veth %s of '%s'", veth, u->name);
		nook_nl_close(&nl);
	}
	dir = net_dir_lock(false, &lock);
	if (dir < 0)
		return;
	(void) for_each_lease(dir, drop_users_lease, &(struct recover_ctx) { .dir = dir, .user = u->name });
}

static int bridge_describe(const struct nook_net *n, char *buf, size_t size)
{
	char a4[INET_ADDRSTRLEN] = "", a6[INET6_ADDRSTRLEN] = "";
	int r;

	inet_ntop(AF_INET, &n->addr4, a4, sizeof(a4));
	if (n->v6)
		inet_ntop(AF_INET6, &n->addr6, a6, sizeof(a6));
	r = snprintf(buf, size, "bridge %s%s%s (veth %s)", a4, n->v6 ? " " : "", a6, n->veth);
	return (r < 0 || (size_t) r >= size) ? -ENOBUFS : r;
}

const struct net_mode net_mode_bridge = {
	.dns = true,
	.prepare = bridge_prepare,
	.start = bridge_start,
	.stop = bridge_stop,
	.recover = bridge_recover,
	.describe = bridge_describe,
};
