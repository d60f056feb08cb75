/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The bridge mode's nftables: the table inet nook, and nft(8) that loads it.
 *
 * The nook table (one transaction per change, through nft(8)):
 *   - postrouting: masquerade what leaves the subnet;
 *   - forward: drop traffic between two containers unless both have
 *     isolate = no (their addresses are in the sets shared4/shared6),
 *     except IPv6 neighbour discovery (from link-local addresses, and
 *     what ARP is to IPv4);
 *     drop new connections from outside into the subnet;
 *   - input: from the bridge, accept replies and DNS to the bridge's own
 *     address, drop the rest unless the source has host_access = yes
 *     (sets hostaccess4/hostaccess6);
 *   - dnat: UDP to the host's own addresses on a container's slice of
 *     mosh_ports, from outside the bridge, goes to that container (maps
 *     mosh4/mosh6, port range to address, filled by net-mosh.c); forward
 *     lets what was DNATed to mosh_ports through.
 * The sets hold only opt-outs, so a container whose entry is missing is
 * confined: the rules fail closed. Bridged frames reach the forward hook
 * only through br_netfilter (nf_call_iptables is set on bridges nook
 * creates); the bridge port of an isolate = yes container is therefore
 * also marked "isolated", which the bridge itself enforces between any
 * two isolated ports. The table is removed when the last lease goes.
 *
 * nft(8) runs as a child of the keeper of a bridge container (nft_spawn):
 * neither the setuid helper's other paths (every login) nor the long-lived
 * keeper map libnftables. At start it runs while the keeper prepares the
 * image, so the ruleset costs little wall time.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "net-internal.h"

#define NFT_PATH "/usr/sbin/nft"
#define RULES_MARK ".rules-" /* in NET_DIR */

/* Starts nft(8) on SCRIPT, one transaction, through posix_spawn: the
 * keeper does not wait for it (nft_wait collects the verdict), and never
 * maps libnftables itself. Callers that need the lock hold it. */
int nft_spawn(const char *script, struct nook_nft_job *job)
{
	char *const argv[] = { (char *) "nft", (char *) "-f", (char *) "-", NULL };
	char *const envp[] = { NULL };
	posix_spawn_file_actions_t fa;
	int in[2], err[2], r;

	*job = (struct nook_nft_job) { .pid = 0, .err_fd = -EBADF };
	if (pipe2(in, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(err, O_CLOEXEC) < 0) {
		r = -errno;
		(void) close(in[0]);
		(void) close(in[1]);
		return r;
	}
	r = -posix_spawn_file_actions_init(&fa);
	if (r == 0)
		r = -posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
	if (r == 0)
		r = -posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	if (r == 0)
		r = -posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO);
	if (r == 0)
		r = -posix_spawn(&job->pid, NFT_PATH, &fa, NULL, argv, envp);
	(void) posix_spawn_file_actions_destroy(&fa);
	(void) close(in[0]);
	(void) close(err[1]);
	if (r < 0) {
		(void) close(in[1]);
		(void) close(err[0]);
		if (r == -ENOENT)
			log_err(NFT_PATH " is missing: install nftables");
		return r;
	}
	/* The script is far below a pipe's capacity; a short one makes nft
	 * fail, which nft_wait reports. */
	(void) nook_write_all(in[1], script, strlen(script));
	(void) close(in[1]);
	job->err_fd = err[0];
	return 0;
}

/* Waits for the job; on failure logs nft's complaint (one line) with WHAT. */
int nft_wait(struct nook_nft_job *job, const char *what)
{
	char err[512] = "";
	int len = 0, status = 0;

	if (job->err_fd >= 0)
		len = nook_read_all(job->err_fd, err, sizeof(err));
	if (job->err_fd >= 0)
		(void) close(job->err_fd);
	job->err_fd = -EBADF;
	if (job->pid <= 0)
		return -ECHILD;
	while (waitpid(job->pid, &status, 0) < 0 && errno == EINTR)
		;
	job->pid = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	for (char *c = err; *c; c++)
		if (*c == '\n' || *c == '\t')
			*c = ' ';
	log_err("nftables table inet nook (%s): %s", what, len > 0 ? err : "nft failed");
	return -EIO;
}

static void cidr_text(const struct nook_cidr *c, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(c->family, c->addr, a, sizeof(a));
	snprintf(buf, size, "%s/%u", a, c->prefix);
}

/* The element statements for one address: added to SET when IN, else
 * added and deleted again, which leaves it absent whatever was there
 * (nftables 1.0.6 has no "destroy", and "delete" of an absent element
 * fails the transaction). */
static void put_element(FILE *f, const char *set, const char *addr, bool in)
{
	fprintf(f, "add element inet nook %s { %s }\n", set, addr);
	if (!in)
		fprintf(f, "delete element inet nook %s { %s }\n", set, addr);
}

/* FNV-1a, 64 bits: tells one text of a bridge's chains from another. */
static uint64_t text_hash(const char *text, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char) text[i]) * 0x100000001b3ULL;
	return h;
}

/* .net/.rules-<bridge> holds "NETNS GENERATION HASH": the chains with text
 * HASH were loaded by the commit that made the ruleset's GENERATION in the
 * network namespace with inode NETNS (the keeper's: the host's, or a
 * test's own). While the ruleset is still at that generation, nothing at
 * all has changed since, and a container that needs no set element can
 * skip nft. Any commit, by nook or anyone (a firewall reload), moves the
 * generation on. */
static int netns_ino(unsigned long long *ret)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st) < 0)
		return -errno;
	*ret = (unsigned long long) st.st_ino;
	return 0;
}

bool nft_rules_current(int dir, const char *bridge, uint64_t hash)
{
	char name[8 + IFNAMSIZ], buf[96], *end;
	unsigned long long mino, mgen, mhash, ino = 0;
	uint32_t gen;

	snprintf(name, sizeof(name), RULES_MARK "%s", bridge);
	if (nook_read_file_at(dir, name, buf, sizeof(buf)) <= 0 || netns_ino(&ino) < 0)
		return false;
	errno = 0;
	mino = strtoull(buf, &end, 10);
	if (errno || *end != ' ')
		return false;
	mgen = strtoull(end + 1, &end, 10);
	if (errno || *end != ' ')
		return false;
	mhash = strtoull(end + 1, &end, 16);
	if (errno || (*end != '\n' && *end != '\0'))
		return false;
	return mino == ino && mhash == hash && nook_nl_nft_genid(&gen) >= 0 && gen == mgen;
}

void nft_rules_mark(int dir, const char *bridge, uint32_t gen, uint64_t hash)
{
	char name[8 + IFNAMSIZ], tmp[12 + IFNAMSIZ], line[96];
	_cleanup_close_ int fd = -EBADF;
	unsigned long long ino = 0;
	int len;

	if (netns_ino(&ino) < 0)
		return;
	snprintf(name, sizeof(name), RULES_MARK "%s", bridge);
	snprintf(tmp, sizeof(tmp), RULES_MARK "%s.new", bridge);
	len = snprintf(line, sizeof(line), "%llu %" PRIu32 " %" PRIx64 "\n", ino, gen, hash);
	fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || nook_write_all(fd, line, (size_t) len) < 0 || renameat(dir, tmp, dir, name) < 0)
		(void) unlinkat(dir, tmp, 0);
}

/* With the table gone, every mark is stale. */
static void rules_unmark_all(int dir)
{
	_cleanup_closedir_ DIR *d = net_dir_scan(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (strncmp(e->d_name, RULES_MARK, strlen(RULES_MARK)) == 0)
			(void) unlinkat(dirfd(d), e->d_name, 0);
}

void nft_put_sets(FILE *f)
{
	fprintf(f,
		"add table inet nook\n"
		"add set inet nook shared4 { type ipv4_addr; }\n"
		"add set inet nook shared6 { type ipv6_addr; }\n"
		"add set inet nook hostaccess4 { type ipv4_addr; }\n"
		"add set inet nook hostaccess6 { type ipv6_addr; }\n"
		"add map inet nook mosh4 { type inet_service : ipv4_addr; flags interval; }\n"
		"add map inet nook mosh6 { type inet_service : ipv6_addr; flags interval; }\n");
}

void nft_put_mosh(FILE *f, const char *ports, const char *a4, const char *a6, bool in)
{
	fprintf(f, "add element inet nook mosh4 { %s : %s }\n", ports, a4);
	if (!in)
		fprintf(f, "delete element inet nook mosh4 { %s }\n", ports);
	if (a6 && *a6) {
		fprintf(f, "add element inet nook mosh6 { %s : %s }\n", ports, a6);
		if (!in)
			fprintf(f, "delete element inet nook mosh6 { %s }\n", ports);
	}
}

static void put_addresses(FILE *f, const char *a4, const char *a6, bool shared, bool host)
{
	put_element(f, "shared4", a4, shared);
	put_element(f, "hostaccess4", a4, host);
	if (a6 && *a6) {
		put_element(f, "shared6", a6, shared);
		put_element(f, "hostaccess6", a6, host);
	}
}

/* The bridge's chains (flushed and refilled: idempotent, and one
 * transaction, so there is no moment without rules), then this
 * container's set elements. */
int nft_ruleset_start(const struct nook_user *u, const struct nook_net *n, char **ret, uint64_t *ret_hash)
{
	const char *br = u->set.bridge;
	char s4[64], s6[64] = "", gw4[INET_ADDRSTRLEN], a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN] = "";
	uint32_t mosh = u->set.mosh_ports; /* host-wide: the same for every container */
	char *mem = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&mem, &len);

	if (!f)
		return -ENOMEM;
	cidr_text(&u->set.bridge_subnet, s4, sizeof(s4));
	inet_ntop(AF_INET, &n->gw4, gw4, sizeof(gw4));
	inet_ntop(AF_INET, &n->addr4, a4, sizeof(a4));
	if (n->v6) {
		cidr_text(&u->set.bridge_subnet6, s6, sizeof(s6));
		inet_ntop(AF_INET6, &n->addr6, a6, sizeof(a6));
	}
	nft_put_sets(f);
	fprintf(f,
		"add chain inet nook %1$s-nat { type nat hook postrouting priority srcnat; policy accept; }\n"
		"flush chain inet nook %1$s-nat\n"
		"add rule inet nook %1$s-nat ip saddr %2$s ip daddr != %2$s masquerade\n"
		"add chain inet nook %1$s-fwd { type filter hook forward priority filter; policy accept; }\n"
		"flush chain inet nook %1$s-fwd\n"
		"add rule inet nook %1$s-fwd iifname \"%1$s\" oifname \"%1$s\" icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept\n"
		"add rule inet nook %1$s-fwd iifname \"%1$s\" oifname \"%1$s\" ip saddr != @shared4 drop\n"
		"add rule inet nook %1$s-fwd iifname \"%1$s\" oifname \"%1$s\" ip daddr != @shared4 drop\n"
		"add rule inet nook %1$s-fwd iifname \"%1$s\" oifname \"%1$s\" ip6 saddr != @shared6 drop\n"
		"add rule inet nook %1$s-fwd iifname \"%1$s\" oifname \"%1$s\" ip6 daddr != @shared6 drop\n"
		"add rule inet nook %1$s-fwd oifname \"%1$s\" iifname != \"%1$s\" ct state != { established, related } drop\n"
		"add chain inet nook %1$s-in { type filter hook input priority filter; policy accept; }\n"
		"flush chain inet nook %1$s-in\n"
		"add rule inet nook %1$s-in iifname \"%1$s\" ct state { established, related } accept\n"
		"add rule inet nook %1$s-in iifname \"%1$s\" ip daddr %3$s meta l4proto { tcp, udp } th dport 53 accept\n"
		"add rule inet nook %1$s-in iifname \"%1$s\" icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit } accept\n"
		"add rule inet nook %1$s-in iifname \"%1$s\" ip saddr @hostaccess4 accept\n"
		"add rule inet nook %1$s-in iifname \"%1$s\" ip6 saddr @hostaccess6 accept\n"
		"add rule inet nook %1$s-in iifname \"%1$s\" drop\n"
		"add chain inet nook %1$s-dnat { type nat hook prerouting priority dstnat; policy accept; }\n"
		"flush chain inet nook %1$s-dnat\n",
		br, s4, gw4);
	if (n->v6)
		fprintf(f, "add rule inet nook %1$s-nat ip6 saddr %2$s ip6 daddr != %2$s masquerade\n", br,
			s6);
	if (mosh) {
		/* UDP sent to the host itself (not through it) on a slice of
		 * mosh_ports goes to the container that holds the slice; the
		 * forward chain lets in what was DNATed to these ports. */
		fprintf(f,
			"add rule inet nook %1$s-dnat iifname != \"%1$s\" fib daddr type local dnat ip to udp dport map @mosh4\n",
			br);
		fprintf(f,
			"insert rule inet nook %s-fwd oifname \"%s\" iifname != \"%s\" ct status dnat udp dport %u-%u accept\n",
			br, br, br, (unsigned) NOOK_MOSH_LOW(mosh), (unsigned) NOOK_MOSH_HIGH(mosh));
		if (n->v6)
			fprintf(f,
				"add rule inet nook %1$s-dnat iifname != \"%1$s\" fib daddr type local dnat ip6 to udp dport map @mosh6\n",
				br);
	}
	if (fflush(f) != 0 || !mem) {
		(void) fclose(f);
		free(mem);
		return -ENOMEM;
	}
	*ret_hash = text_hash(mem, len);
	put_addresses(f, a4, a6, !u->set.isolate, u->set.host_access);
	if (fclose(f) != 0 || !mem) {
		free(mem);
		return -ENOMEM;
	}
	*ret = mem;
	return 0;
}

/* After a lease is gone: its elements, or the whole table when no live
 * lease is left. Called under the lock. */
void nft_table_release(int dir, const char *a4, const char *a6, bool elements)
{
	char *mem = NULL, what[80];
	size_t len = 0;
	FILE *f = open_memstream(&mem, &len);
	int alive = leases_alive(dir);
	struct nook_nft_job job = { .pid = 0, .err_fd = -EBADF };

	if (alive > 0 && !elements) {
		/* Nothing of this container's is in the table. */
		if (f)
			(void) fclose(f);
		free(mem);
		return;
	}
	if (!f)
		return;
	if (alive == 0) {
		rules_unmark_all(dir);
		/* "add" first: deleting an absent table would fail. */
		fprintf(f, "add table inet nook\ndelete table inet nook\n");
	} else {
		nft_put_sets(f);
		put_addresses(f, a4, a6, false, false);
	}
	if (fclose(f) != 0 || !mem) {
		free(mem);
		return;
	}
	snprintf(what, sizeof(what), "cleaning up after %s", a4);
	if (nft_spawn(mem, &job) < 0 || nft_wait(&job, what) < 0)
		log_warn("nftables: the elements of %s may be left in table inet nook", a4);
	free(mem);
}
