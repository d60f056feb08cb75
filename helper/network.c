/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The `network` modes (nook.conf(5)), run by the keeper as host root.
 *
 *   none    loopback only; init brings lo up.
 *   pasta   pasta(1) (pasta.c) connects the container's namespace to the
 *           host's network as an unprivileged process: nothing changes on
 *           the host.
 *   bridge  a veth pair per container on a host bridge, with an address
 *           leased from bridge_subnet and outbound NAT and filtering in one
 *           nftables table (net-bridge.c, net-lease.c, net-nft.c).
 *
 * The modes sit behind one table, like cgroup.c's backends: each entry
 * point below does what all modes share and calls the mode's part of it
 * (struct net_mode, net-internal.h, which also says which file holds
 * what).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "net-internal.h"

#define HOST_RESOLV "/etc/resolv.conf"
#define HOST_RESOLV_MAX 16384

static int none_describe(const struct nook_net *n, char *buf, size_t size)
{
	int r = snprintf(buf, size, "none (loopback only)");

	(void) n;
	return (r < 0 || (size_t) r >= size) ? -ENOBUFS : r;
}

/* What mosh-server says here (net-mosh.c). */
static int none_prepare(const struct nook_user *u, struct nook_net *n, const char *host_resolv,
			struct net_names *ret)
{
	(void) host_resolv;
	(void) ret;
	mosh_prepare(u, n);
	return 0;
}

/* Loopback only: init brings lo up (nook_net_lo_up), nothing else to do. */
static const struct net_mode net_mode_none = { .prepare = none_prepare, .describe = none_describe };

static const struct net_mode *const net_modes[] = {
	[NOOK_NET_NONE] = &net_mode_none,
	[NOOK_NET_PASTA] = &net_mode_pasta,
	[NOOK_NET_BRIDGE] = &net_mode_bridge,
};

static const struct net_mode *net_mode(const struct nook_net *n)
{
	/* The configuration admits only the modes above. */
	if ((size_t) n->mode >= ELEMENTSOF(net_modes) || !net_modes[n->mode])
		return &net_mode_none;
	return net_modes[n->mode];
}

static int read_host_resolv(char *buf, size_t size)
{
	/* Not O_NOFOLLOW: resolv.conf is often a link (systemd-resolved's). */
	_cleanup_close_ int fd = open(HOST_RESOLV, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	buf[0] = '\0';
	if (fd < 0)
		return -errno;
	return nook_read_all(fd, buf, size) < 0 ? -EIO : 0;
}

int nook_net_prepare(const struct nook_user *u, struct nook_net *n)
{
	char host[HOST_RESOLV_MAX];
	struct net_names names = { .fallback = "" };
	const struct net_mode *m;
	const char *fallback;
	bool have_host;
	int r;

	*n = (struct nook_net) { .mode = u->set.network,
				 .netns_fd = -EBADF,
				 .userns_fd = -EBADF,
				 .pasta_pidfd = -EBADF,
				 .pasta_ready_fd = -EBADF,
				 .nft.err_fd = -EBADF,
				 .mosh_nft.err_fd = -EBADF };
	m = net_mode(n);
	have_host = m->dns && read_host_resolv(host, sizeof(host)) >= 0;

	if (m->prepare) {
		r = m->prepare(u, n, have_host ? host : NULL, &names);
		if (r < 0) {
			nook_net_stop(u, n);
			return r;
		}
	}
	fallback = *names.fallback ? names.fallback : NULL;
	r = nook_net_resolv_conf(n->mode, u->set.dns, have_host ? host : NULL, names.want_v6, fallback,
				 n->resolv_conf, sizeof(n->resolv_conf));
	if (r >= 0)
		r = nook_net_hosts(u->set.hostname, *names.addr4 ? names.addr4 : NULL,
				   *names.addr6 ? names.addr6 : NULL, n->hosts, sizeof(n->hosts));
	if (r < 0) {
		log_err("resolv.conf and hosts for '%s': %s", u->name, strerror(-r));
		nook_net_stop(u, n);
		return r;
	}
	if (m->dns && !fallback && !(u->set.dns && u->set.dns[0]) &&
	    strstr(n->resolv_conf, "nameserver") == NULL)
		log_warn(
			"the container of '%s' gets no name server: the host's are loopback addresses; set dns = in nook.conf",
			u->name);
	n->etc = (struct nook_etc_files) { .resolv_conf = n->resolv_conf,
					   .hosts = n->hosts,
					   .mosh_low = n->mosh_leased ? n->mosh_low : 0,
					   .mosh_high = n->mosh_leased ? n->mosh_high : 0,
					   .mosh_why = n->mosh_why };
	return 0;
}

int nook_net_start(const struct nook_user *u, const struct nook_subid *sub, pid_t init_pid,
		   struct nook_net *n)
{
	const struct net_mode *m = net_mode(n);
	char path[64];
	int r;

	if (!m->start)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", init_pid);
	n->netns_fd = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/ns/user", init_pid);
	n->userns_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (n->netns_fd < 0 || n->userns_fd < 0) {
		r = -errno;
		log_err("cannot open the namespaces of the container of '%s': %s", u->name, strerror(-r));
		return r;
	}
	/* Container root (inside id 0) on the host: see userns.c. */
	n->root_uid = (uid_t) sub->uid_base;
	n->root_gid = (gid_t) sub->gid_base;
	return m->start(u, n);
}

int nook_net_ready(const struct nook_user *u, struct nook_net *n)
{
	const struct net_mode *m = net_mode(n);

	return m->ready ? m->ready(u, n) : 0;
}

void nook_net_stop(const struct nook_user *u, struct nook_net *n)
{
	const struct net_mode *m = net_mode(n);

	/* The slice goes before the bridge's stop (which may remove the
	 * table its DNAT is in), after pasta's (which holds its ports). */
	if (n->mode == NOOK_NET_BRIDGE)
		mosh_release(u, n);
	if (m->stop)
		m->stop(u, n);
	mosh_release(u, n);
	if (n->netns_fd >= 0)
		(void) close(n->netns_fd);
	if (n->userns_fd >= 0)
		(void) close(n->userns_fd);
	n->netns_fd = n->userns_fd = -EBADF;
}

void nook_net_recover(const struct nook_user *u)
{
	/* Every mode's leftovers, whatever the user's mode is now: the
	 * configuration may have changed since the keeper that died. */
	mosh_recover(u); /* first: the bridge's may remove the table */
	for (size_t i = 0; i < ELEMENTSOF(net_modes); i++)
		if (net_modes[i] && net_modes[i]->recover)
			net_modes[i]->recover(u);
}

int nook_net_describe(const struct nook_net *n, char *buf, size_t size)
{
	return net_mode(n)->describe(n, buf, size);
}
