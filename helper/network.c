/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The `network` modes (nook.conf(5)), run by the keeper as host root.
 *
 *   none    loopback only; init brings lo up.
 *   pasta   pasta(1) (pasta.c) connects the container's namespace to the
 *           host's network as an unprivileged process: nothing changes on
 *           the host.
 *   bridge  a veth pair per container: the host end nk-<uid in hex> on the
 *           bridge (created when missing), the container end eth0 with an
 *           address leased from bridge_subnet, a default route via the
 *           bridge's own address (the subnet's first), and outbound NAT and
 *           filtering in one nftables table, "inet nook".
 *
 * Bridge state lives in /run/nook/.net/ (root, 0700; ".net" cannot be a
 * user name): "lock" serializes every change of bridge, leases and table
 * across keepers; <bridge>/<index> is the lease of one address, holding
 * "USER KEEPER-PID KEEPER-START FLAGS ADDR4 [ADDR6]". The index starts at
 * uid modulo the subnet's size (so an address is stable per user) and
 * moves on while it is taken by a live keeper; a lease whose keeper died
 * is taken over.
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
 *     (sets hostaccess4/hostaccess6).
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
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "nook.h"

#define NET_DIR ".net" /* under NOOK_RUN_DIR */
#define LEASE_MAX 256
#define HOST_RESOLV "/etc/resolv.conf"
#define HOST_RESOLV_MAX 16384
/* Where pasta answers DNS for the host's loopback resolver (link-local:
 * it can never be a real server's address). */
#define PASTA_DNS_FORWARD "169.254.1.53"
#define PASTA_STOP_MS 1000
#define NFT_PATH "/usr/sbin/nft"
#define RULES_MARK ".rules-" /* in NET_DIR */

/* ---- addresses (pure) ---------------------------------------------------- */

unsigned nook_net_n_addresses(const struct nook_cidr *subnet4)
{
	/* Not the network, not the bridge (first), not the broadcast. */
	return (1U << (32 - subnet4->prefix)) - 3;
}

static void host_part(const struct nook_cidr *subnet, uint32_t host, void *ret)
{
	uint8_t a[16];
	uint32_t be;

	memcpy(a, subnet->addr, sizeof(a));
	/* IPv4: the prefix is at most /30; IPv6: at most /96. Either way the
	 * host part fits in the last 32 bits, which are zero (no host bits
	 * are allowed in the setting). */
	if (subnet->family == AF_INET) {
		uint32_t base;

		memcpy(&base, a, 4);
		be = htonl(ntohl(base) + host);
		memcpy(ret, &be, 4);
		return;
	}
	be = htonl(host);
	memcpy(a + 12, &be, 4);
	memcpy(ret, a, 16);
}

int nook_net_address(const struct nook_cidr *subnet, unsigned index, void *ret)
{
	if (subnet->family == AF_INET && index >= nook_net_n_addresses(subnet))
		return -ERANGE;
	host_part(subnet, 2 + index, ret);
	return 0;
}

void nook_net_gateway(const struct nook_cidr *subnet, void *ret)
{
	host_part(subnet, 1, ret);
}

/* ---- resolv.conf and hosts (pure) --------------------------------------- */

static bool loopback_text(const char *a)
{
	struct in_addr v4;
	struct in6_addr v6;

	if (inet_pton(AF_INET, a, &v4) == 1)
		return (ntohl(v4.s_addr) >> 24) == 127 || v4.s_addr == 0;
	if (inet_pton(AF_INET6, a, &v6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&v6) || IN6_IS_ADDR_UNSPECIFIED(&v6) ||
		       (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
	return false;
}

/* Calls FN on each "nameserver ADDR" of TEXT. */
static void each_nameserver(const char *text, void (*fn)(const char *addr, void *arg), void *arg)
{
	for (const char *line = text; line && *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t) (end - line) : strlen(line);
		char l[256], word[16], addr[INET6_ADDRSTRLEN + 16];

		if (len < sizeof(l)) {
			memcpy(l, line, len);
			l[len] = '\0';
			if (sscanf(l, "%15s %61s", word, addr) == 2 && strcmp(word, "nameserver") == 0)
				fn(addr, arg);
		}
		line = end ? end + 1 : NULL;
	}
}

static void any_usable(const char *addr, void *arg)
{
	if (!loopback_text(addr))
		*(bool *) arg = true;
}

bool nook_net_resolv_only_loopback(const char *host_resolv)
{
	bool usable = false;

	if (!host_resolv)
		return false;
	each_nameserver(host_resolv, any_usable, &usable);
	return !usable;
}

struct ns_fill {
	FILE *f;
	bool want_v6;
	unsigned n;
};

static void put_nameserver(const char *addr, void *arg)
{
	struct ns_fill *fill = arg;
	struct in6_addr v6;

	/* Loopback resolvers are the host's own and unreachable inside; a
	 * scoped (link-local, "%if") one names a host interface. */
	if (fill->n >= NOOK_DNS_MAX || loopback_text(addr) || strchr(addr, '%'))
		return;
	if (inet_pton(AF_INET6, addr, &v6) == 1 && !fill->want_v6)
		return;
	if (inet_pton(AF_INET6, addr, &v6) != 1 && inet_pton(AF_INET, addr, &v6) != 1)
		return;
	fprintf(fill->f, "nameserver %s\n", addr);
	fill->n++;
}

static bool printable_line(const char *l, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char) l[i] < 0x20 && l[i] != '\t')
			return false;
	return true;
}

/* Closes F (an open_memstream of *MEM, *MEMLEN) and copies the text to BUF. */
static int text_done(FILE *f, char **mem, size_t *memlen, char *buf, size_t size)
{
	int r = 0;

	if (fclose(f) != 0 || !*mem)
		r = -ENOMEM;
	else if (*memlen >= size)
		r = -ENOBUFS;
	else
		memcpy(buf, *mem, *memlen + 1);
	free(*mem);
	*mem = NULL;
	return r < 0 ? r : (int) *memlen;
}

int nook_net_resolv_conf(enum nook_network mode, char *const *dns, const char *host_resolv, bool want_v6,
			 const char *fallback, char *buf, size_t size)
{
	static const char *const modes[] = {
		[NOOK_NET_NONE] = "none", [NOOK_NET_PASTA] = "pasta", [NOOK_NET_BRIDGE] = "bridge"
	};
	char *mem = NULL;
	size_t memlen = 0;
	FILE *f = open_memstream(&mem, &memlen);
	struct ns_fill fill = { .f = f, .want_v6 = want_v6 };

	if (!f)
		return -ENOMEM;
	fprintf(f, "# Generated by nook for network = %s.\n", modes[mode]);
	if (mode == NOOK_NET_NONE) {
		fprintf(f, "# No network: no name server.\n");
		return text_done(f, &mem, &memlen, buf, size);
	}
	if (dns && dns[0]) {
		for (char *const *d = dns; *d; d++)
			fprintf(f, "nameserver %s\n", *d);
		fill.n = 1;
	} else {
		if (host_resolv)
			each_nameserver(host_resolv, put_nameserver, &fill);
		if (fill.n == 0 && fallback) {
			fprintf(f, "nameserver %s\n", fallback);
			fill.n = 1;
		}
	}
	if (fill.n == 0)
		fprintf(f, "# The host's name servers are not reachable from here: set dns = in nook.conf.\n");
	/* The host's search list and options apply inside too. */
	for (const char *line = host_resolv; line && *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t) (end - line) : strlen(line);

		if (len < 512 && printable_line(line, len) &&
		    (strncmp(line, "search ", 7) == 0 || strncmp(line, "search\t", 7) == 0 ||
		     strncmp(line, "domain ", 7) == 0 || strncmp(line, "options ", 8) == 0))
			fprintf(f, "%.*s\n", (int) len, line);
		line = end ? end + 1 : NULL;
	}
	return text_done(f, &mem, &memlen, buf, size);
}

int nook_net_hosts(const char *hostname, const char *addr4, const char *addr6, char *buf, size_t size)
{
	int r = snprintf(buf, size,
			 "# Generated by nook.\n"
			 "127.0.0.1\tlocalhost\n"
			 "::1\tlocalhost ip6-localhost ip6-loopback\n"
			 "ff02::1\tip6-allnodes\n"
			 "ff02::2\tip6-allrouters\n"
			 "%s\t%s\n"
			 "%s%s%s%s",
			 addr4 ? addr4 : "127.0.1.1", hostname, addr6 ? addr6 : "", addr6 ? "\t" : "",
			 addr6 ? hostname : "", addr6 ? "\n" : "");

	return (r < 0 || (size_t) r >= size) ? -ENOBUFS : r;
}

/* ---- /run/nook/.net: lock and leases ------------------------------------ */

static int net_dir_open(bool create)
{
	return nook_run_subdir_open(NET_DIR, create);
}

static int net_lock(int dir)
{
	_cleanup_close_ int fd = openat(dir, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return -errno;
	return TAKE_FD(fd);
}

/* Field 22 of /proc/PID/stat: tells a pid from its reuse. */
int nook_stat_start_time(const char *stat, unsigned long long *ret)
{
	const char *p = strrchr(stat, ')'); /* comm may hold anything, even ") " */
	char *end;

	if (!p)
		return -EBADMSG;
	/* p + 1 is the space before field 3 (state): 19 more to field 22. */
	p++;
	for (int field = 3; field < 22; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -EBADMSG;
	}
	errno = 0;
	*ret = strtoull(p + 1, &end, 10);
	if (errno || end == p + 1 || (*end != ' ' && *end != '\n' && *end != '\0'))
		return -EBADMSG;
	return 0;
}

struct lease {
	char user[NOOK_USER_MAX + 1];
	pid_t pid;
	unsigned long long start;
	char flags[3]; /* [0] 's': isolate = no; [1] 'h': host_access = yes */
	char addr4[INET_ADDRSTRLEN], addr6[INET6_ADDRSTRLEN];
};

/* "USER PID START FLAGS ADDR4 [ADDR6]" */
static int lease_read(int dir, const char *name, struct lease *ret)
{
	char buf[LEASE_MAX], *field[6] = { NULL }, *save = NULL, *end;
	struct lease l = { 0 };
	size_t n = 0;
	long pid;
	int r = nook_read_file_at(dir, name, buf, sizeof(buf));

	if (r < 0)
		return r;
	for (char *w = strtok_r(buf, " \n", &save); w && n < ELEMENTSOF(field); w = strtok_r(NULL, " \n", &save))
		field[n++] = w;
	if (n < 5)
		return -EBADMSG;
	errno = 0;
	pid = strtol(field[1], &end, 10);
	if (errno || *end || pid <= 0 || pid > INT32_MAX)
		return -EBADMSG;
	l.pid = (pid_t) pid;
	l.start = strtoull(field[2], &end, 10);
	if (errno || *end)
		return -EBADMSG;
	if (snprintf(l.user, sizeof(l.user), "%s", field[0]) >= (int) sizeof(l.user) ||
	    snprintf(l.flags, sizeof(l.flags), "%s", field[3]) >= (int) sizeof(l.flags) ||
	    snprintf(l.addr4, sizeof(l.addr4), "%s", field[4]) >= (int) sizeof(l.addr4) ||
	    (field[5] && snprintf(l.addr6, sizeof(l.addr6), "%s", field[5]) >= (int) sizeof(l.addr6)))
		return -EBADMSG;
	*ret = l;
	return 0;
}

static bool lease_alive(const struct lease *l)
{
	unsigned long long start = 0;

	return l->pid > 0 && nook_proc_starttime(l->pid, &start) >= 0 && start == l->start;
}

static int lease_write(int fd, const struct nook_user *u, const struct nook_net *n)
{
	char a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN] = "", line[LEASE_MAX];
	unsigned long long start = 0;
	int len, r;

	r = nook_proc_starttime(getpid(), &start);
	if (r < 0)
		return r;
	inet_ntop(AF_INET, &n->addr4, a4, sizeof(a4));
	if (n->v6)
		inet_ntop(AF_INET6, &n->addr6, a6, sizeof(a6));
	len = snprintf(line, sizeof(line), "%s %d %llu %c%c %s %s\n", u->name, getpid(), start,
		       u->set.isolate ? '-' : 's', u->set.host_access ? 'h' : '-', a4, a6);
	if (len < 0 || (size_t) len >= sizeof(line))
		return -ENOBUFS;
	return nook_write_all(fd, line, (size_t) len);
}

/* Takes the first free address from uid % size on. Called under the lock. */
static int lease_take(int bdir, const struct nook_user *u, struct nook_net *n)
{
	const struct nook_cidr *s4 = &u->set.bridge_subnet;
	unsigned size = nook_net_n_addresses(s4);

	for (unsigned k = 0; k < size; k++) {
		unsigned i = (unsigned) ((u->uid + k) % size);
		char name[16];
		_cleanup_close_ int fd = -EBADF;
		int r;

		snprintf(name, sizeof(name), "%u", i);
		fd = openat(bdir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno == EEXIST) {
			struct lease l;

			/* Taken: by a live keeper of another user (next one),
			 * or a leftover of a dead keeper (take it over). */
			if (lease_read(bdir, name, &l) >= 0 && strcmp(l.user, u->name) != 0 && lease_alive(&l))
				continue;
			(void) unlinkat(bdir, name, 0);
			n->took_over = true;
			fd = openat(bdir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		}
		if (fd < 0)
			return -errno;
		n->index = i;
		(void) nook_net_address(s4, i, &n->addr4);
		nook_net_gateway(s4, &n->gw4);
		n->v6 = u->set.bridge_subnet6.family == AF_INET6;
		if (n->v6) {
			(void) nook_net_address(&u->set.bridge_subnet6, i, &n->addr6);
			nook_net_gateway(&u->set.bridge_subnet6, &n->gw6);
		}
		r = lease_write(fd, u, n);
		if (r < 0) {
			(void) unlinkat(bdir, name, 0);
			return r;
		}
		n->leased = true;
		return 0;
	}
	return -EADDRNOTAVAIL;
}

typedef void (*lease_fn)(int bdir, const char *name, const struct lease *l, void *arg);

/* Calls FN for every readable lease in every bridge's directory of DIR. */
static int for_each_lease(int dir, lease_fn fn, void *arg)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *e;
	int fd = dup(dir);

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		(void) close(fd);
		return -errno;
	}
	rewinddir(d);
	while ((e = readdir(d))) {
		_cleanup_closedir_ DIR *b = NULL;
		struct dirent *le;
		int bfd;

		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		bfd = openat(dir, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (bfd < 0)
			continue;
		b = fdopendir(bfd);
		if (!b) {
			(void) close(bfd);
			continue;
		}
		while ((le = readdir(b))) {
			struct lease l;

			if (le->d_name[0] != '.' && lease_read(dirfd(b), le->d_name, &l) >= 0)
				fn(dirfd(b), le->d_name, &l, arg);
		}
	}
	return 0;
}

static void count_alive(int bdir, const char *name, const struct lease *l, void *arg)
{
	(void) bdir;
	(void) name;
	if (lease_alive(l))
		(*(int *) arg)++;
}

/* Live leases in every bridge's directory (none: the table can go). */
static int leases_alive(int dir)
{
	int n = 0, r = for_each_lease(dir, count_alive, &n);

	return r < 0 ? r : n;
}

/* ---- nftables ------------------------------------------------------------ */

/* Starts nft(8) on SCRIPT, one transaction, through posix_spawn: the
 * keeper does not wait for it (nft_wait collects the verdict), and never
 * maps libnftables itself. Callers that need the lock hold it. */
static int nft_spawn(const char *script, struct nook_nft_job *job)
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
static int nft_wait(struct nook_nft_job *job, const char *what)
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

static bool rules_current(int dir, const char *bridge, uint64_t hash)
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

static void rules_mark(int dir, const char *bridge, uint32_t gen, uint64_t hash)
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
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *e;
	int fd = dup(dir);

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		(void) close(fd);
		return;
	}
	/* The dup shares DIR's offset, which a lease scan left at the end. */
	rewinddir(d);
	while ((e = readdir(d)))
		if (strncmp(e->d_name, RULES_MARK, strlen(RULES_MARK)) == 0)
			(void) unlinkat(dirfd(d), e->d_name, 0);
}

static void put_sets(FILE *f)
{
	fprintf(f, "add table inet nook\n"
		   "add set inet nook shared4 { type ipv4_addr; }\n"
		   "add set inet nook shared6 { type ipv6_addr; }\n"
		   "add set inet nook hostaccess4 { type ipv4_addr; }\n"
		   "add set inet nook hostaccess6 { type ipv6_addr; }\n");
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
static int ruleset_start(const struct nook_user *u, const struct nook_net *n, char **ret, uint64_t *ret_hash)
{
	const char *br = u->set.bridge;
	char s4[64], s6[64] = "", gw4[INET_ADDRSTRLEN], a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN] = "";
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
	put_sets(f);
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
		"add rule inet nook %1$s-in iifname \"%1$s\" drop\n",
		br, s4, gw4);
	if (n->v6)
		fprintf(f, "add rule inet nook %1$s-nat ip6 saddr %2$s ip6 daddr != %2$s masquerade\n", br, s6);
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
static void table_release(int dir, const char *a4, const char *a6, bool elements)
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
		put_sets(f);
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

/* ---- the modes ------------------------------------------------------------ */

static int read_host_resolv(char *buf, size_t size)
{
	/* Not O_NOFOLLOW: resolv.conf is often a link (systemd-resolved's). */
	_cleanup_close_ int fd = open(HOST_RESOLV, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	buf[0] = '\0';
	if (fd < 0)
		return -errno;
	return nook_read_all(fd, buf, size) < 0 ? -EIO : 0;
}

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

static int bridge_prepare(const struct nook_user *u, struct nook_net *n)
{
	_cleanup_close_ int dir = -EBADF, lock = -EBADF, bdir = -EBADF;
	struct nook_nl nl;
	int br, r;

	dir = net_dir_open(true);
	if (dir < 0) {
		log_err("cannot prepare " NOOK_RUN_DIR "/" NET_DIR ": %s", strerror(-dir));
		return dir;
	}
	lock = net_lock(dir);
	if (lock < 0)
		return lock;
	if (mkdirat(dir, u->set.bridge, 0700) < 0 && errno != EEXIST)
		return -errno;
	bdir = openat(dir, u->set.bridge, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (bdir < 0)
		return -errno;
	r = lease_take(bdir, u, n);
	if (r < 0) {
		log_err("no free address for '%s' in bridge_subnet of %s: %s", u->name, u->set.bridge, strerror(-r));
		return r;
	}
	{
		char fwd[4] = "";
		_cleanup_close_ int sys = open("/proc/sys/net/ipv4", O_PATH | O_DIRECTORY | O_CLOEXEC);

		if (sys >= 0 && nook_read_file_at(sys, "ip_forward", fwd, sizeof(fwd)) > 0 && fwd[0] == '0')
			log_warn("net.ipv4.ip_forward is 0: bridge containers reach only the host; "
				 "set it to 1 (sysctl -w net.ipv4.ip_forward=1, and in /etc/sysctl.d/)");
	}
	r = nook_nl_open(-1, &nl);
	if (r < 0)
		return r;
	br = nook_nl_bridge_ensure(&nl, u->set.bridge);
	if (br == -ENOTTY)
		log_err("bridge = %s names an interface that is not a bridge; choose another name", u->set.bridge);
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

	r = ruleset_start(u, n, &script, &n->rules_hash);
	if (r < 0)
		return r;
	/* A taken-over address may carry a dead keeper's elements: only nft
	 * removes them. */
	n->elements = needs_elements || n->took_over;
	if (!n->elements) {
		_cleanup_close_ int dir = net_dir_open(false);

		if (dir >= 0 && rules_current(dir, u->set.bridge, n->rules_hash))
			return 0;
	}
	n->gen_known = nook_nl_nft_genid(&n->gen_before) >= 0;
	return nft_spawn(script, &n->nft);
}

int nook_net_prepare(const struct nook_user *u, struct nook_net *n)
{
	char host[HOST_RESOLV_MAX], a4[INET_ADDRSTRLEN] = "", a6[INET6_ADDRSTRLEN] = "", gw[INET_ADDRSTRLEN];
	const char *fallback = NULL;
	bool have_host;
	int r;

	*n = (struct nook_net) { .mode = u->set.network, .netns_fd = -EBADF, .userns_fd = -EBADF,
				 .pasta_pidfd = -EBADF, .pasta_ready_fd = -EBADF, .nft.err_fd = -EBADF };
	snprintf(n->veth, sizeof(n->veth), "nk-%x", (unsigned) u->uid);
	have_host = n->mode != NOOK_NET_NONE && read_host_resolv(host, sizeof(host)) >= 0;

	if (n->mode == NOOK_NET_BRIDGE) {
		r = bridge_prepare(u, n);
		if (r >= 0)
			r = bridge_rules(u, n);
		if (r < 0) {
			nook_net_stop(u, n);
			return r;
		}
		inet_ntop(AF_INET, &n->addr4, a4, sizeof(a4));
		if (n->v6)
			inet_ntop(AF_INET6, &n->addr6, a6, sizeof(a6));
		/* Only when the host serves DNS on the bridge's address may
		 * the container be sent there (the input rules allow it). */
		if (resolver_listens(&n->gw4)) {
			inet_ntop(AF_INET, &n->gw4, gw, sizeof(gw));
			fallback = gw;
		}
	} else if (n->mode == NOOK_NET_PASTA && have_host && !(u->set.dns && u->set.dns[0]) &&
		   nook_net_resolv_only_loopback(host)) {
		/* The host asks a resolver on its loopback (127.0.0.53 and
		 * the like): pasta forwards queries for this address to it. */
		snprintf(n->dns_forward, sizeof(n->dns_forward), "%s", PASTA_DNS_FORWARD);
		fallback = n->dns_forward;
	}
	r = nook_net_resolv_conf(n->mode, u->set.dns, have_host ? host : NULL,
				 n->mode == NOOK_NET_PASTA || n->v6, fallback, n->resolv_conf, sizeof(n->resolv_conf));
	if (r >= 0)
		r = nook_net_hosts(u->set.hostname, *a4 ? a4 : NULL, *a6 ? a6 : NULL, n->hosts, sizeof(n->hosts));
	if (r < 0) {
		log_err("resolv.conf and hosts for '%s': %s", u->name, strerror(-r));
		nook_net_stop(u, n);
		return r;
	}
	if (n->mode != NOOK_NET_NONE && !fallback && !(u->set.dns && u->set.dns[0]) &&
	    strstr(n->resolv_conf, "nameserver") == NULL)
		log_warn("the container of '%s' gets no name server: the host's are loopback addresses; set dns = in nook.conf",
			 u->name);
	n->etc = (struct nook_etc_files) { .resolv_conf = n->resolv_conf, .hosts = n->hosts };
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
				rules_mark(dir, u->set.bridge, gen, n->rules_hash);
		}
	}
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

int nook_net_start(const struct nook_user *u, const struct nook_subid *sub, pid_t init_pid, struct nook_net *n)
{
	char path[64];
	int r;

	if (n->mode == NOOK_NET_NONE)
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
	if (n->mode == NOOK_NET_BRIDGE)
		return bridge_start(u, n);
	return nook_pasta_spawn(u, n);
}

int nook_net_ready(const struct nook_user *u, struct nook_net *n)
{
	if (n->mode != NOOK_NET_PASTA)
		return 0;
	return nook_pasta_ready(u, n);
}

void nook_net_pasta_died(const struct nook_user *u, struct nook_net *n)
{
	int status = 0, r;

	while (waitpid(n->pasta_pid, &status, 0) < 0 && errno == EINTR)
		;
	(void) close(n->pasta_pidfd);
	n->pasta_pidfd = -EBADF;
	n->pasta_pid = 0;
	if (WIFSIGNALED(status))
		log_warn("pasta of '%s' was killed by signal %d", u->name, WTERMSIG(status));
	else
		log_warn("pasta of '%s' exited with status %d", u->name, WEXITSTATUS(status));
	if (n->pasta_restarts < 1) {
		n->pasta_restarts++;
		r = nook_pasta_spawn(u, n);
		if (r >= 0)
			r = nook_pasta_ready(u, n);
		if (r >= 0) {
			log_info("pasta of '%s' restarted", u->name);
			return;
		}
	}
	n->degraded = true;
	log_err("the container of '%s' has lost its network (pasta died again); it is degraded until it restarts",
		u->name);
}

static void pasta_stop(struct nook_net *n)
{
	if (n->pasta_ready_fd >= 0)
		(void) close(n->pasta_ready_fd);
	n->pasta_ready_fd = -EBADF;
	if (n->pasta_pidfd < 0)
		return;
	(void) nook_pidfd_send_signal(n->pasta_pidfd, SIGTERM);
	if (nook_wait_readable(n->pasta_pidfd, PASTA_STOP_MS) <= 0) {
		(void) nook_pidfd_send_signal(n->pasta_pidfd, SIGKILL);
		(void) nook_wait_readable(n->pasta_pidfd, -1);
	}
	while (waitpid(n->pasta_pid, NULL, 0) < 0 && errno == EINTR)
		;
	(void) close(n->pasta_pidfd);
	n->pasta_pidfd = -EBADF;
	n->pasta_pid = 0;
}

static void bridge_stop(const struct nook_user *u, struct nook_net *n)
{
	_cleanup_close_ int dir = -EBADF, lock = -EBADF;
	char a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN] = "", name[16];
	struct nook_nl nl;

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
	dir = net_dir_open(false);
	if (dir < 0)
		return;
	lock = net_lock(dir);
	if (lock < 0)
		return;
	snprintf(name, sizeof(name), "%s/%u", u->set.bridge, n->index);
	(void) unlinkat(dir, name, 0);
	n->leased = false;
	inet_ntop(AF_INET, &n->addr4, a4, sizeof(a4));
	if (n->v6)
		inet_ntop(AF_INET6, &n->addr6, a6, sizeof(a6));
	/* Only a start that reached nftables made elements, but the table
	 * may have to go regardless. */
	table_release(dir, a4, a6, n->elements);
	n->elements = false;
}

void nook_net_stop(const struct nook_user *u, struct nook_net *n)
{
	/* A start that failed before bridge_start: the rules' child must be
	 * done before they are released. */
	if (n->nft.pid > 0)
		(void) nft_wait(&n->nft, "an aborted start");
	pasta_stop(n);
	if (n->mode == NOOK_NET_BRIDGE)
		bridge_stop(u, n);
	if (n->netns_fd >= 0)
		(void) close(n->netns_fd);
	if (n->userns_fd >= 0)
		(void) close(n->userns_fd);
	n->netns_fd = n->userns_fd = -EBADF;
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
	table_release(ctx->dir, l->addr4, l->addr6, true);
}

void nook_net_recover(const struct nook_user *u)
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
	dir = net_dir_open(false);
	if (dir < 0)
		return;
	lock = net_lock(dir);
	if (lock < 0)
		return;
	(void) for_each_lease(dir, drop_users_lease, &(struct recover_ctx) { .dir = dir, .user = u->name });
}

int nook_net_describe(const struct nook_net *n, char *buf, size_t size)
{
	char a4[INET_ADDRSTRLEN] = "", a6[INET6_ADDRSTRLEN] = "";
	int r;

	switch (n->mode) {
	case NOOK_NET_NONE:
		r = snprintf(buf, size, "none (loopback only)");
		break;
	case NOOK_NET_PASTA:
		r = snprintf(buf, size, "pasta (pid %d)%s", n->pasta_pid,
			     n->degraded ? ", DEGRADED: pasta died; no network until the container restarts" : "");
		break;
	case NOOK_NET_BRIDGE:
	default:
		inet_ntop(AF_INET, &n->addr4, a4, sizeof(a4));
		if (n->v6)
			inet_ntop(AF_INET6, &n->addr6, a6, sizeof(a6));
		r = snprintf(buf, size, "bridge %s%s%s (veth %s)", a4, n->v6 ? " " : "", a6, n->veth);
		break;
	}
	return (r < 0 || (size_t) r >= size) ? -ENOBUFS : r;
}
