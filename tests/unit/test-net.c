/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for the pure parts of the network (TAP): container addresses
 * from bridge_subnet, and the resolv.conf and hosts the modes generate
 * (helper/net-address.c); a lease's keeper start time (net-lease.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nook.h"
#include "tap.h"

static void cidr(const char *text, int family, struct nook_cidr *ret)
{
	if (nook_parse_cidr(text, family, ret) < 0)
		abort();
}

static void test_addresses(void)
{
	struct nook_cidr s4, s6, small;
	struct in_addr a4;
	struct in6_addr a6;
	char t[INET6_ADDRSTRLEN];

	cidr("10.213.0.0/16", AF_INET, &s4);
	cidr("fd00:213::/64", AF_INET6, &s6);
	cidr("192.0.2.0/30", AF_INET, &small);
	is_int((int) nook_net_n_addresses(&s4), 65533, "a /16 has 65533 container addresses");
	is_int((int) nook_net_n_addresses(&small), 1, "a /30 has one");
	nook_net_gateway(&s4, &a4);
	is_str(inet_ntop(AF_INET, &a4, t, sizeof(t)), "10.213.0.1", "the bridge has the first address");
	is_int(nook_net_address(&s4, 0, &a4), 0, "index 0");
	is_str(inet_ntop(AF_INET, &a4, t, sizeof(t)), "10.213.0.2", "index 0 is the second address");
	is_int(nook_net_address(&s4, 1000, &a4), 0, "index 1000");
	is_str(inet_ntop(AF_INET, &a4, t, sizeof(t)), "10.213.3.234", "index 1000 is 10.213.3.234");
	is_int(nook_net_address(&s4, 65532, &a4), 0, "the last index");
	is_str(inet_ntop(AF_INET, &a4, t, sizeof(t)), "10.213.255.254",
	       "the last index is below the broadcast");
	is_int(nook_net_address(&s4, 65533, &a4), -ERANGE, "no index beyond");
	is_int(nook_net_address(&small, 0, &a4), 0, "a /30's only index");
	is_str(inet_ntop(AF_INET, &a4, t, sizeof(t)), "192.0.2.2", "... is .2");
	nook_net_gateway(&s6, &a6);
	is_str(inet_ntop(AF_INET6, &a6, t, sizeof(t)), "fd00:213::1", "the IPv6 bridge address");
	is_int(nook_net_address(&s6, 1000, &a6), 0, "IPv6 index 1000");
	is_str(inet_ntop(AF_INET6, &a6, t, sizeof(t)), "fd00:213::3ea", "IPv6 uses the same host part");
}

static const char host_stub[] =
	"# systemd-resolved\n"
	"nameserver 127.0.0.53\n"
	"options edns0 trust-ad\n"
	"search lab.example.org\n";
static const char host_mixed[] =
	"nameserver 127.0.0.1\n"
	"nameserver ::1\n"
	"nameserver 192.0.2.53\n"
	"nameserver 2001:db8::53\n"
	"nameserver fe80::1%eth0\n"
	"domain example.org\n";

static void test_resolv(void)
{
	char buf[NOOK_NET_TEXT_MAX];
	char *dns[] = { (char *) "198.51.100.1", (char *) "2001:db8::1", NULL };
	char *none[] = { NULL };

	ok(nook_net_resolv_only_loopback(host_stub), "a 127.0.0.53 stub is loopback only");
	ok(!nook_net_resolv_only_loopback(host_mixed), "a host with a real server is not");
	ok(!nook_net_resolv_only_loopback(NULL), "no host file: not loopback only");

	ok(nook_net_resolv_conf(NOOK_NET_NONE, none, host_mixed, true, NULL, buf, sizeof(buf)) > 0, "none");
	ok(!strstr(buf, "nameserver") && strstr(buf, "network = none"), "none: no name server at all");

	ok(nook_net_resolv_conf(NOOK_NET_BRIDGE, none, host_mixed, false, NULL, buf, sizeof(buf)) > 0,
	   "bridge");
	ok(strstr(buf, "nameserver 192.0.2.53\n") != NULL, "bridge: the host's real server is kept");
	ok(!strstr(buf, "127.0.0.1") && !strstr(buf, "::1\n"), "bridge: loopback servers are dropped");
	ok(!strstr(buf, "2001:db8::53") && !strstr(buf, "fe80"), "bridge without IPv6: IPv6 servers dropped");
	ok(strstr(buf, "domain example.org\n") != NULL, "the domain line is kept");

	ok(nook_net_resolv_conf(NOOK_NET_BRIDGE, none, host_mixed, true, NULL, buf, sizeof(buf)) > 0,
	   "bridge v6");
	ok(strstr(buf, "nameserver 2001:db8::53\n") && !strstr(buf, "fe80"),
	   "with IPv6: global IPv6 servers kept, scoped ones not");

	ok(nook_net_resolv_conf(NOOK_NET_BRIDGE, none, host_stub, false, NULL, buf, sizeof(buf)) > 0, "stub");
	ok(!strstr(buf, "nameserver") && strstr(buf, "set dns ="),
	   "a stub host without fallback: none, and advice");
	ok(strstr(buf, "search lab.example.org\n") && strstr(buf, "options edns0 trust-ad\n"),
	   "search and options are kept");

	ok(nook_net_resolv_conf(NOOK_NET_BRIDGE, none, host_stub, false, "10.213.0.1", buf, sizeof(buf)) > 0,
	   "stub with a resolver on the bridge");
	ok(strstr(buf, "nameserver 10.213.0.1\n") && !strstr(buf, "127.0.0.53"),
	   "the fallback replaces the stub");

	ok(nook_net_resolv_conf(NOOK_NET_PASTA, dns, host_mixed, true, "169.254.1.53", buf, sizeof(buf)) > 0,
	   "dns = set");
	ok(strstr(buf, "nameserver 198.51.100.1\nnameserver 2001:db8::1\n") && !strstr(buf, "192.0.2.53") &&
		   !strstr(buf, "169.254"),
	   "dns = replaces the host's servers and the fallback");

	is_int(nook_net_resolv_conf(NOOK_NET_PASTA, none, host_mixed, true, NULL, buf, 16), -ENOBUFS,
	       "a too small buffer is an error");
}

static void test_hosts(void)
{
	char buf[NOOK_NET_TEXT_MAX];

	ok(nook_net_hosts("box", NULL, NULL, buf, sizeof(buf)) > 0, "hosts without an address");
	ok(strstr(buf, "127.0.0.1\tlocalhost\n") && strstr(buf, "::1\tlocalhost") &&
		   strstr(buf, "127.0.1.1\tbox\n"),
	   "localhost, and the hostname on 127.0.1.1");
	ok(nook_net_hosts("box", "10.213.0.9", "fd00::9", buf, sizeof(buf)) > 0, "hosts with addresses");
	ok(strstr(buf, "10.213.0.9\tbox\n") && strstr(buf, "fd00::9\tbox\n") && !strstr(buf, "127.0.1.1"),
	   "the hostname on the container's addresses");
}

/* The lease of a live keeper is told from a dead one's by the keeper's
 * start time: field 22 of /proc/PID/stat, never another one (vsize, field
 * 23, changes while the keeper runs). */
static void test_start_time(void)
{
	const char *tricky =
		"4242 (a) b) c 9 ) S 1 2 3 0 -1 4194560 10 0 0 0 1 2 0 0 20 0 1 0 "
		"987654 7401472 691 18446744073709551615 1 2 3 0 0 0 0\n";
	unsigned long long t = 0, want = 0;
	char buf[1024], *p;
	FILE *f;
	size_t n;

	is_int(nook_stat_start_time(tricky, &t), 0, "a stat line whose comm holds \") \" parses");
	ok(t == 987654, "... and gives field 22, the start time (got %llu)", t);
	is_int(nook_stat_start_time("1 (x) S 1 2 3", &t), -EBADMSG, "a short stat line is refused");
	is_int(nook_stat_start_time("no parenthesis", &t), -EBADMSG, "a line without comm is refused");
	/* The same parser serves the thread count of a cgroup move. */
	is_int(nook_stat_field(tricky, 20, &t), 0, "field 20 of the tricky line parses");
	ok(t == 1, "... and gives num_threads, 1 (got %llu)", t);
	is_int(nook_stat_field(tricky, 3, &t), -EBADMSG, "field 3, the state letter, is not a number");
	is_int(nook_stat_field(tricky, 2, &t), -EBADMSG, "a field before the state is refused");

	f = fopen("/proc/self/stat", "r");
	n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	/* Tokens after comm: fields 3, 4, ...; field 22 is the 20th. */
	p = strrchr(buf, ')');
	if (p) {
		char *save = NULL, *w = strtok_r(p + 1, " ", &save);

		for (int field = 3; w && field < 22; field++)
			w = strtok_r(NULL, " ", &save);
		want = w ? strtoull(w, NULL, 10) : 0;
	}
	ok(want > 0, "/proc/self/stat read");
	/* strtok_r cut it: read it again. */
	f = fopen("/proc/self/stat", "r");
	n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	is_int(nook_stat_start_time(buf, &t), 0, "/proc/self/stat parses");
	ok(t == want, "... and gives our start time (%llu, want %llu)", t, want);
}

int main(void)
{
	test_addresses();
	test_resolv();
	test_hosts();
	test_start_time();
	return done_testing();
}
