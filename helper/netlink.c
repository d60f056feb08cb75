/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * rtnetlink, the few requests the bridge mode needs, through libmnl: a
 * small, well-kept library of the netfilter project (it is also what
 * iproute2's and nftables' own code sit on). In-process netlink costs a
 * few hundred microseconds per container; running ip(8) several times
 * would cost several milliseconds of fork and exec each.
 *
 * Library code: returns -errno, never logs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "nook.h"

#ifndef IFLA_BRPORT_ISOLATED
#define IFLA_BRPORT_ISOLATED 33 /* Linux 4.18 */
#endif

static void *nl_buf(struct nook_nl *nl)
{
	return nl->buf;
}

static int open_proto(struct nook_nl *nl, int protocol)
{
	struct mnl_socket *s = mnl_socket_open2(protocol, SOCK_CLOEXEC);

	if (!s)
		return -errno;
	if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
		int r = -errno;

		(void) mnl_socket_close(s);
		return r;
	}
	nl->sock = s;
	nl->portid = mnl_socket_get_portid(s);
	nl->seq = (unsigned) time(NULL);
	return 0;
}

static int open_here(struct nook_nl *nl)
{
	return open_proto(nl, NETLINK_ROUTE);
}

int nook_nl_open(int netns_fd, struct nook_nl *ret)
{
	_cleanup_close_ int self = -EBADF;
	int r;

	*ret = (struct nook_nl) { 0 };
	if (netns_fd < 0)
		return open_here(ret);
	/* A netlink socket belongs to the network namespace it was created
	 * in: enter the container's just long enough to create one. The
	 * keeper is single-threaded, so nothing else runs meanwhile. */
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -errno;
	if (setns(netns_fd, CLONE_NEWNET) < 0)
		return -errno;
	r = open_here(ret);
	if (setns(self, CLONE_NEWNET) < 0) {
		/* Host root going back to where it came from cannot fail; if
		 * it did, every later step would act in the wrong namespace. */
		abort();
	}
	if (r < 0 && ret->sock)
		nook_nl_close(ret);
	return r;
}

void nook_nl_close(struct nook_nl *nl)
{
	if (nl->sock)
		(void) mnl_socket_close(nl->sock);
	nl->sock = NULL;
}

static struct nlmsghdr *msg_new(struct nook_nl *nl, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *h = mnl_nlmsg_put_header(nl_buf(nl));

	h->nlmsg_type = type;
	h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	h->nlmsg_seq = ++nl->seq;
	return h;
}

/* Sends H and waits for its acknowledgement (or CB's data and then the
 * acknowledgement). Returns the kernel's -errno. */
static int transact(struct nook_nl *nl, struct nlmsghdr *h, mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int r;

	if (mnl_socket_sendto(nl->sock, h, h->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));

		if (n < 0)
			return -errno;
		r = mnl_cb_run(buf, (size_t) n, h->nlmsg_seq, nl->portid, cb, data);
		if (r < 0)
			return -errno;
		if (r == MNL_CB_STOP)
			return 0;
	}
}

static int link_cb(const struct nlmsghdr *h, void *data)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(h);

	*(int *) data = ifi->ifi_index;
	return MNL_CB_OK;
}

int nook_nl_ifindex(struct nook_nl *nl, const char *name)
{
	struct nlmsghdr *h = msg_new(nl, RTM_GETLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
	int index = 0, r;

	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(h, IFLA_IFNAME, name);
	r = transact(nl, h, link_cb, &index);
	if (r < 0)
		return r;
	return index > 0 ? index : -ENODEV;
}

/* 1 if NAME is a bridge, 0 if it is something else; -errno. */
static int kind_cb_attr(const struct nlattr *a, void *data)
{
	if (mnl_attr_get_type(a) == IFLA_INFO_KIND)
		*(int *) data = strcmp(mnl_attr_get_str(a), "bridge") == 0;
	return MNL_CB_OK;
}

static int kind_cb_top(const struct nlattr *a, void *data)
{
	if (mnl_attr_get_type(a) == IFLA_LINKINFO)
		(void) mnl_attr_parse_nested(a, kind_cb_attr, data);
	return MNL_CB_OK;
}

static int kind_cb(const struct nlmsghdr *h, void *data)
{
	return mnl_attr_parse(h, sizeof(struct ifinfomsg), kind_cb_top, data);
}

static int is_bridge(struct nook_nl *nl, const char *name)
{
	struct nlmsghdr *h = msg_new(nl, RTM_GETLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
	int bridge = 0, r;

	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(h, IFLA_IFNAME, name);
	r = transact(nl, h, kind_cb, &bridge);
	return r < 0 ? r : bridge;
}

int nook_nl_link_up(struct nook_nl *nl, int ifindex)
{
	struct nlmsghdr *h = msg_new(nl, RTM_NEWLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	return transact(nl, h, NULL, NULL);
}

int nook_nl_bridge_ensure(struct nook_nl *nl, const char *name)
{
	struct nlmsghdr *h;
	struct ifinfomsg *ifi;
	struct nlattr *info, *data;
	int r = is_bridge(nl, name);

	if (r == 0)
		return -ENOTTY; /* exists, but is no bridge */
	if (r == -ENODEV) {
		h = msg_new(nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
		ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
		ifi->ifi_family = AF_UNSPEC;
		mnl_attr_put_strz(h, IFLA_IFNAME, name);
		info = mnl_attr_nest_start(h, IFLA_LINKINFO);
		mnl_attr_put_strz(h, IFLA_INFO_KIND, "bridge");
		data = mnl_attr_nest_start(h, IFLA_INFO_DATA);
		/* Bridged IP traffic between ports passes the inet hooks
		 * (when br_netfilter is there), so the forward rules of the
		 * nook table see container-to-container traffic too. */
		mnl_attr_put_u8(h, IFLA_BR_NF_CALL_IPTABLES, 1);
		mnl_attr_put_u8(h, IFLA_BR_NF_CALL_IP6TABLES, 1);
		mnl_attr_nest_end(h, data);
		mnl_attr_nest_end(h, info);
		r = transact(nl, h, NULL, NULL);
		if (r < 0 && r != -EEXIST)
			return r;
	} else if (r < 0) {
		return r;
	}
	r = nook_nl_ifindex(nl, name);
	if (r < 0)
		return r;
	{
		int index = r;

		r = nook_nl_link_up(nl, index);
		return r < 0 ? r : index;
	}
}

int nook_nl_addr_add(struct nook_nl *nl, int ifindex, int family, const void *addr, unsigned prefix)
{
	struct nlmsghdr *h = msg_new(nl, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(h, sizeof(*ifa));
	size_t len = family == AF_INET ? 4 : 16;
	int r;

	ifa->ifa_family = (uint8_t) family;
	ifa->ifa_prefixlen = (uint8_t) prefix;
	ifa->ifa_index = (uint32_t) ifindex;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	/* No duplicate address detection: the address is ours by lease, and
	 * DAD would keep it unusable for a second or more. */
	if (family == AF_INET6)
		ifa->ifa_flags = IFA_F_NODAD;
	mnl_attr_put(h, IFA_LOCAL, len, addr);
	mnl_attr_put(h, IFA_ADDRESS, len, addr);
	r = transact(nl, h, NULL, NULL);
	return r == -EEXIST ? 0 : r;
}

int nook_nl_route_default(struct nook_nl *nl, int family, const void *gateway, int ifindex)
{
	struct nlmsghdr *h = msg_new(nl, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
	struct rtmsg *rt = mnl_nlmsg_put_extra_header(h, sizeof(*rt));

	rt->rtm_family = (uint8_t) family;
	rt->rtm_dst_len = 0;
	rt->rtm_table = RT_TABLE_MAIN;
	rt->rtm_protocol = RTPROT_STATIC;
	rt->rtm_scope = RT_SCOPE_UNIVERSE;
	rt->rtm_type = RTN_UNICAST;
	mnl_attr_put(h, RTA_GATEWAY, family == AF_INET ? 4 : 16, gateway);
	mnl_attr_put_u32(h, RTA_OIF, (uint32_t) ifindex);
	return transact(nl, h, NULL, NULL);
}

int nook_nl_veth_create(struct nook_nl *nl, const char *host_name, int master_ifindex, const char *peer_name,
			int peer_netns_fd)
{
	struct nlmsghdr *h = msg_new(nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
	struct nlattr *info, *data, *peer;
	struct ifinfomsg *pifi;

	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(h, IFLA_IFNAME, host_name);
	mnl_attr_put_u32(h, IFLA_MASTER, (uint32_t) master_ifindex);
	info = mnl_attr_nest_start(h, IFLA_LINKINFO);
	mnl_attr_put_strz(h, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(h, IFLA_INFO_DATA);
	/* The peer is created directly in the container's namespace under
	 * its final name: it never exists on the host as eth0. */
	peer = mnl_attr_nest_start(h, VETH_INFO_PEER);
	pifi = mnl_nlmsg_put_extra_header(h, sizeof(*pifi));
	pifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(h, IFLA_IFNAME, peer_name);
	mnl_attr_put_u32(h, IFLA_NET_NS_FD, (uint32_t) peer_netns_fd);
	mnl_attr_nest_end(h, peer);
	mnl_attr_nest_end(h, data);
	mnl_attr_nest_end(h, info);
	return transact(nl, h, NULL, NULL);
}

int nook_nl_brport_isolated(struct nook_nl *nl, int ifindex, bool isolated)
{
	struct nlmsghdr *h = msg_new(nl, RTM_SETLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
	struct nlattr *prot;

	ifi->ifi_family = AF_BRIDGE;
	ifi->ifi_index = ifindex;
	prot = mnl_attr_nest_start(h, IFLA_PROTINFO);
	mnl_attr_put_u8(h, IFLA_BRPORT_ISOLATED, isolated);
	mnl_attr_nest_end(h, prot);
	return transact(nl, h, NULL, NULL);
}

int nook_nl_link_del(struct nook_nl *nl, const char *name)
{
	struct nlmsghdr *h = msg_new(nl, RTM_DELLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(h, IFLA_IFNAME, name);
	return transact(nl, h, NULL, NULL);
}

struct genid {
	uint32_t id;
	bool found;
};

static int gen_cb_attr(const struct nlattr *a, void *data)
{
	struct genid *g = data;

	if (mnl_attr_get_type(a) == NFTA_GEN_ID && mnl_attr_validate(a, MNL_TYPE_U32) >= 0) {
		g->id = ntohl(mnl_attr_get_u32(a));
		g->found = true;
	}
	return MNL_CB_OK;
}

static int gen_cb(const struct nlmsghdr *h, void *data)
{
	return mnl_attr_parse(h, sizeof(struct nfgenmsg), gen_cb_attr, data);
}

int nook_nl_nft_genid(uint32_t *ret)
{
	struct genid g = { 0 };
	struct nook_nl nl = { 0 };
	struct nlmsghdr *h;
	struct nfgenmsg *nfg;
	int r;

	r = open_proto(&nl, NETLINK_NETFILTER);
	if (r < 0)
		return r;
	h = msg_new(&nl, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN, 0);
	nfg = mnl_nlmsg_put_extra_header(h, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	r = transact(&nl, h, gen_cb, &g);
	nook_nl_close(&nl);
	if (r < 0)
		return r;
	if (!g.found)
		return -EBADMSG;
	*ret = g.id;
	return 0;
}
