/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nook.conf keys: the table of every key (conf_keys[]) and the parsers that
 * check one value each, with file:line errors (nook.conf(5) documents them).
 */
#include "conf-internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"

#define CPU_MAX_PERCENT 102400              /* percent of one CPU: up to 1024 CPUs */
#define PIDS_LIMIT 4194304                  /* PID_MAX_LIMIT: the kernel refuses a larger pids.max */
#define PTY_LIMIT 1048576                   /* NR_UNIX98_PTY_MAX: the most a devpts max= may be */
#define IMAGE_SIZE_MIN (UINT64_C(64) << 20) /* below this ext4 + overlay work dirs barely fit */
#define DEFAULT_BRIDGE_SUBNET "10.213.0.0/16"
/* The bridge's own address is the first of the subnet, containers get the
 * rest: at least a /30 (two usable addresses). IPv6 container addresses
 * reuse the IPv4 host part, so the IPv6 prefix keeps at least 32 bits. */
#define SUBNET_PREFIX_MIN 8
#define SUBNET4_PREFIX_MAX 30
#define SUBNET6_PREFIX_MAX 96

static int parse_boolean(struct parser *p, const struct key_def *k, const char *v, struct entry *e)
{
	char b[SHOW_MAX + 4];
	bool val;

	if (nook_parse_bool(v, &val) < 0)
		return conf_fail(p, -EINVAL, "%s = '%s' is not a boolean; use yes or no", k->name,
				 conf_show(v, b));
	e->num = val;
	return 0;
}

/* Absolute, no ".." (a path meant for one place must not climb elsewhere),
 * and shorter than PATH_MAX. */
static int check_abs_path(struct parser *p, const char *key, const char *what, const char *v)
{
	char b[SHOW_MAX + 4];
	size_t n = strlen(v);

	if (v[0] != '/')
		return conf_fail(p, -EINVAL,
				 "%s: %s '%s' is not an absolute path; write it starting with '/'", key, what,
				 conf_show(v, b));
	if (n >= PATH_MAX)
		return conf_fail(p, -ENAMETOOLONG, "%s: %s '%s' is longer than %d bytes; shorten it", key,
				 what, conf_show(v, b), PATH_MAX - 1);
	for (const char *c = v; (c = strstr(c, "..")); c += 2)
		if (c[-1] == '/' && (c[2] == '/' || c[2] == '\0'))
			return conf_fail(p, -EINVAL, "%s: %s '%s' contains '..'; write the path without it",
					 key, what, conf_show(v, b));
	return 0;
}

static int parse_path(struct parser *p, const struct key_def *k, const char *v, struct entry *e)
{
	int r = check_abs_path(p, k->name, "path", v);

	if (r < 0)
		return r;
	e->str = strdup(v);
	return e->str ? 0 : -ENOMEM;
}

/* An absolute path, or none. */
static int parse_lxcfs(struct parser *p, const struct key_def *k, const char *v, struct entry *e)
{
	char b[SHOW_MAX + 4];
	int r;

	if (strcmp(v, "none") != 0) {
		if (v[0] != '/')
			return conf_fail(p, -EINVAL,
					 "%s = '%s' is neither none nor a path; write the directory lxcfs is "
					 "mounted on (such as /var/lib/lxcfs), or none",
					 k->name, conf_show(v, b));
		r = check_abs_path(p, k->name, "path", v);
		if (r < 0)
			return r;
	}
	e->str = strdup(v);
	return e->str ? 0 : -ENOMEM;
}

static int parse_hide(struct parser *p, const struct key_def *k, const char *v, struct entry *e)
{
	if (strcmp(v, "/") == 0)
		return conf_fail(p, -EINVAL, "%s: '/' would hide the whole lower layer; name a path below it",
				 k->name);
	return parse_path(p, k, v, e);
}

/* SRC:DST[:ro|rw]; SRC is modified. */
static int parse_bind_fields(struct parser *p, const char *key, const char *v, char *src, struct entry *e)
{
	char b[SHOW_MAX + 4];
	char *dst, *opt;
	int r;

	dst = strchr(src, ':');
	if (!dst)
		return conf_fail(p, -EINVAL, "%s = '%s' has no destination; write SOURCE:DEST[:ro|rw]", key,
				 conf_show(v, b));
	*dst++ = '\0';
	opt = strchr(dst, ':');
	if (opt)
		*opt++ = '\0';
	r = check_abs_path(p, key, "source", src);
	if (r < 0)
		return r;
	r = check_abs_path(p, key, "destination", dst);
	if (r < 0)
		return r;
	if (strcmp(dst, "/") == 0)
		return conf_fail(p, -EINVAL, "%s: destination '/' would replace the root; bind below it",
				 key);
	if (!opt || strcmp(opt, "rw") == 0)
		e->ro = false;
	else if (strcmp(opt, "ro") == 0)
		e->ro = true;
	else
		return conf_fail(p, -EINVAL,
				 "%s: unknown option '%s'; use ro or rw (paths cannot contain ':')", key,
				 conf_show(opt, b));
	e->str = strdup(src);
	e->dst = strdup(dst);
	return e->str && e->dst ? 0 : -ENOMEM;
}

static int parse_bind(struct parser *p, const struct key_def *k, const char *v, struct entry *e)
{
	char *copy = strdup(v);
	int r;

	if (!copy)
		return -ENOMEM;
	r = parse_bind_fields(p, k->name, v, copy, e);
	free(copy);
	return r;
}

static int parse_image_size(struct parser *p, const struct key_def *k, const char *v, struct entry *e)
{
	char b[SHOW_MAX + 4];
	int r = nook_parse_size(v, &e->num);

	if (r == -ERANGE)
		return conf_fail(p, r, "%s = '%s' is too large; use a size such as 10G", k->name,
				 conf_show(v, b));
	if (r < 0)
		return conf_fail(
			p, r,
			"%s = '%s' is not a size; use a number with an optional K, M, G or T suffix, e.g. 10G",
			k->name, conf_show(v, b));
	if (e->num == 0)
		return conf_fail(p, -EINVAL, "%s = '%s': an image needs a fixed size; use e.g. 10G", k->name,
				 conf_show(v, b));
	if (e->num < IMAGE_SIZE_MIN)
		return conf_fail(p, -EINVAL, "%s = '%s' is below the minimum of 64M; use at least 64M",
				 k->name, conf_show(v, b));
	return 0;
}

static int parse_memory_max(struct parser *p, const struct key_def *k, const char *v, struct entry *e)
{
	char b[SHOW_MAX + 4];
	int r = nook_parse_size(v, &e->num);

	if (r == -ERANGE)
		return conf_fail(p, r, "%s = '%s' is too large; use a size such as 4G, or max", k->name,
				 conf_show(v, b));
	if (r < 0)
		return conf_fail(
			p, r,
			"%s = '%s' is not a size; use a number with an optional K, M, G or T suffix, or max",
			k->name, conf_show(v, b));
	/* 0 is how the struct spells "no limit"; a literal 0 would mean an
	 * instant OOM, which is surely not what was meant. */
	if (e->num == 0 && strcasecmp(v, "max") != 0)
		return conf_fail(p, -EINVAL, "%s = 0 would allow no memory at all; use max for no limit",
				 k->name);
	return 0;
}

/* "max" -> 0, else an integer in [1, limit], optionally followed by SUFFIX. */
static int parse_limit(struct parser *p, const char *key, const char *v, uint64_t limit, const char *suffix,
		       uint64_t *ret)
{
	char b[SHOW_MAX + 4];
	const char *s = v;
	uint64_t n;
	int r;

	if (strcasecmp(v, "max") == 0) {
		*ret = 0;
		return 0;
	}
	r = conf_parse_digits(&s, &n);
	if (r == 0 && *s && !(suffix && strcmp(s, suffix) == 0))
		r = -EINVAL;
	if (r == 0 && (n < 1 || n > limit))
		r = -ERANGE;
	if (r < 0)
		return conf_fail(p, r, "%s = '%s' is not valid; use an integer from 1 to %llu, or max", key,
				 conf_show(v, b), (unsigned long long) limit);
	*ret = n;
	return 0;
}

static int parse_cpu_max(struct parser *p, const struct key_def *k, const char *v, struct entry *e)
{
	return parse_limit(p, k->name, v, CPU_MAX_PERCENT, "%", &e->num);
}

static int parse_pids_max(struct parser *p, const struct key_def *k, const char *v, struct entry *e)
{
	return parse_limit(p, k->name, v, PIDS_LIMIT, NULL, &e->num);
}

static int parse_pty_max(struct parser *p, const struct key_def *k, const char *v, struct entry *e)
{
	return parse_limit(p, k->name, v, PTY_LIMIT, NULL, &e->num);
}

static int parse_tmpfs_size(struct parser *p, const struct key_def *k, const char *v, struct entry *e)
{
	char b[SHOW_MAX + 4];
	int r = nook_parse_size(v, &e->num);

	if (r < 0)
		return conf_fail(
			p, r,
			"%s = '%s' is not a size; use a number with an optional K, M, G or T suffix, or max",
			k->name, conf_show(v, b));
	if (e->num == 0 && strcasecmp(v, "max") != 0)
		return conf_fail(p, -EINVAL,
				 "%s = 0 would leave no room in /tmp; use max for the kernel's default",
				 k->name);
	return 0;
}

static int parse_linger(struct parser *p, const struct key_def *k, const char *v, struct entry *e)
{
	char b[SHOW_MAX + 4];
	int r = nook_parse_duration_ms(v, &e->num);

	if (r == -ERANGE)
		return conf_fail(p, r, "%s = '%s' is too large; use e.g. 10m", k->name, conf_show(v, b));
	if (r < 0)
		return conf_fail(
			p, r,
			"%s = '%s' is not a duration; use 0 or a number with ms, s, m, h or d, e.g. 30s",
			k->name, conf_show(v, b));
	return 0;
}

/* LOW-HIGH (ports), or none: host ports that mosh-server may get. */
static int parse_mosh_ports(struct parser *p, const struct key_def *k, const char *v, struct entry *e)
{
	char b[SHOW_MAX + 4], *end;
	unsigned long low, high;

	if (strcmp(v, "none") == 0) {
		e->num = 0;
		return 0;
	}
	errno = 0;
	low = strtoul(v, &end, 10);
	if (errno || end == v || *end != '-' || !isdigit((unsigned char) end[1]))
		goto bad;
	high = strtoul(end + 1, &end, 10);
	if (errno || *end)
		goto bad;
	if (low < 1024 || high > 65535 || low > high)
		return conf_fail(
			p, -ERANGE,
			"%s = '%s': use two ports from 1024 to 65535, the lower first, e.g. 61001-61999",
			k->name, conf_show(v, b));
	e->num = NOOK_MOSH_PORTS(low, high);
	return 0;
bad:
	return conf_fail(p, -EINVAL,
			 "%s = '%s' is not a port range; write LOW-HIGH (e.g. 61001-61999) or none", k->name,
			 conf_show(v, b));
}

static int parse_mosh_sessions(struct parser *p, const struct key_def *k, const char *v, struct entry *e)
{
	char b[SHOW_MAX + 4], *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || end == v || *end || n < 1 || n > 1000)
		return conf_fail(p, -EINVAL, "%s = '%s' is not a number from 1 to 1000", k->name,
				 conf_show(v, b));
	e->num = n;
	return 0;
}

static int parse_lock_timeout(struct parser *p, const struct key_def *k, const char *v, struct entry *e)
{
	char b[SHOW_MAX + 4];
	int r = parse_linger(p, k, v, e);

	if (r < 0)
		return r;
	if (e->num == 0)
		return conf_fail(p, -EINVAL, "%s = '%s': a login must be able to wait a little; use e.g. 90s",
				 k->name, conf_show(v, b));
	return 0;
}

/* Checks the template now, so that a typo is reported with its line; the
 * expansion (and its length) can only be checked per user, at resolve time. */
static int parse_hostname(struct parser *p, const struct key_def *k, const char *v, struct entry *e)
{
	char b[SHOW_MAX + 4];
	size_t literal = 0;

	for (const char *c = v; *c; c++) {
		if (*c == '%') {
			if (c[1] == 'u' || c[1] == '%') {
				literal += c[1] == '%';
				c++;
				continue;
			}
			return conf_fail(
				p, -EINVAL,
				"%s = '%s': unknown escape '%%%.1s'; use %%u for the user name or %%%% for '%%'",
				k->name, conf_show(v, b), c[1] ? c + 1 : "");
		}
		if (!conf_hostname_char(*c))
			return conf_fail(
				p, -EINVAL,
				"%s = '%s': a hostname may only contain letters, digits, '-' and '.'",
				k->name, conf_show(v, b));
		literal++;
	}
	if (literal > HOSTNAME_LEN_MAX)
		return conf_fail(p, -EINVAL, "%s = '%s' is longer than %d characters; shorten it", k->name,
				 conf_show(v, b), HOSTNAME_LEN_MAX);
	e->str = strdup(v);
	return e->str ? 0 : -ENOMEM;
}

/* The helper joins this to a cgroup mount point (or to its own cgroup for
 * "./"), so it must not be able to name anything outside that subtree. */
static int parse_cgroup_root(struct parser *p, const struct key_def *k, const char *v, struct entry *e)
{
	char b[SHOW_MAX + 4];
	const char *s = v;

	if (strncmp(s, "./", 2) == 0)
		s += 2;
	if (*s == '/')
		return conf_fail(
			p, -EINVAL,
			"%s = '%s' must be relative; drop the leading '/' (or write ./NAME for a cgroup below the creating process's)",
			k->name, conf_show(v, b));
	if (!*s)
		return conf_fail(p, -EINVAL, "%s = '%s' names no cgroup; use e.g. nook or ./nook", k->name,
				 conf_show(v, b));
	while (*s) {
		size_t n = 0;

		while (s[n] && s[n] != '/') {
			if (!conf_cgroup_char(s[n]))
				return conf_fail(
					p, -EINVAL,
					"%s = '%s': a cgroup name may only contain letters, digits, '_', '.' and '-'",
					k->name, conf_show(v, b));
			n++;
		}
		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return conf_fail(
				p, -EINVAL,
				"%s = '%s' has an empty, '.' or '..' component; write a plain path such as nook/users",
				k->name, conf_show(v, b));
		if (n > NAME_MAX)
			return conf_fail(p, -ENAMETOOLONG,
					 "%s: a component of '%s' is longer than %d bytes; shorten it",
					 k->name, conf_show(v, b), NAME_MAX);
		s += n;
		if (*s == '/' && !s[1])
			return conf_fail(p, -EINVAL, "%s = '%s' ends with '/'; remove it", k->name,
					 conf_show(v, b));
		if (*s == '/')
			s++;
	}
	if (strlen(v) >= PATH_MAX)
		return conf_fail(p, -ENAMETOOLONG, "%s = '%s' is too long; shorten it", k->name,
				 conf_show(v, b));
	e->str = strdup(v);
	return e->str ? 0 : -ENOMEM;
}

/* A slice unit name systemd takes: NAME.slice, where each '-' in NAME
 * nests (nook-lab.slice lives in nook.slice). */
static int parse_slice(struct parser *p, const struct key_def *k, const char *v, struct entry *e)
{
	char b[SHOW_MAX + 4];
	size_t n = strlen(v);

	if (n <= 6 || n > 200 || strcmp(v + n - 6, ".slice") != 0 || v[0] == '-' || v[n - 7] == '-' ||
	    strstr(v, "--"))
		return conf_fail(p, -EINVAL,
				 "%s = '%s' is not a slice name; write e.g. nook.slice or nook-lab.slice",
				 k->name, conf_show(v, b));
	for (size_t i = 0; i < n - 6; i++)
		if (!conf_cgroup_char(v[i]) || v[i] == '.')
			return conf_fail(
				p, -EINVAL,
				"%s = '%s': a slice name may only contain letters, digits, '_' and '-' before .slice",
				k->name, conf_show(v, b));
	e->str = strdup(v);
	return e->str ? 0 : -ENOMEM;
}

/* A network interface name the kernel takes (at most 15 bytes, no '/',
 * ':' or blanks), kept to a plain alphabet; "nk-" is the prefix of the
 * containers' veths and cannot name a bridge. */
static int parse_ifname(struct parser *p, const struct key_def *k, const char *v, struct entry *e)
{
	char b[SHOW_MAX + 4];
	size_t n = strlen(v);

	if (n > NOOK_IFNAME_MAX)
		return conf_fail(p, -EINVAL, "%s = '%s' is longer than %d characters; shorten it", k->name,
				 conf_show(v, b), NOOK_IFNAME_MAX);
	for (size_t i = 0; i < n; i++)
		if (!conf_cgroup_char(v[i]))
			return conf_fail(
				p, -EINVAL,
				"%s = '%s': an interface name may only contain letters, digits, '_', '.' and '-'",
				k->name, conf_show(v, b));
	if (strcmp(v, ".") == 0 || strcmp(v, "..") == 0 || strncmp(v, "nk-", 3) == 0)
		return conf_fail(
			p, -EINVAL,
			"%s = '%s' is reserved (nk-* are the containers' own interfaces); choose another name",
			k->name, conf_show(v, b));
	e->str = strdup(v);
	return e->str ? 0 : -ENOMEM;
}

/* Neither loopback nor multicast nor "this network": those cannot be a
 * bridge's subnet. */
static bool cidr_usable(const struct nook_cidr *c)
{
	if (c->family == AF_INET)
		return c->addr[0] != 0 && c->addr[0] != 127 && c->addr[0] < 224;
	return c->addr[0] != 0xff && !(c->prefix >= 8 && c->addr[0] == 0);
}

static int parse_subnet(struct parser *p, const struct key_def *k, const char *v, struct entry *e)
{
	const int family = k->kind == V_CIDR6 ? AF_INET6 : AF_INET;
	const unsigned lo = SUBNET_PREFIX_MIN;
	const unsigned hi = family == AF_INET ? SUBNET4_PREFIX_MAX : SUBNET6_PREFIX_MAX;
	const char *example = family == AF_INET ? DEFAULT_BRIDGE_SUBNET : "fd00:213::/64";
	char b[SHOW_MAX + 4], text[INET6_ADDRSTRLEN];
	struct nook_cidr c;
	int r = nook_parse_cidr(v, family, &c);

	if (r < 0)
		return conf_fail(p, r, "%s = '%s' is not an %s prefix; write ADDRESS/LENGTH, e.g. %s",
				 k->name, conf_show(v, b), family == AF_INET ? "IPv4" : "IPv6", example);
	if (c.prefix < lo || c.prefix > hi)
		return conf_fail(p, -ERANGE, "%s = '%s': the length must be from /%u to /%u", k->name,
				 conf_show(v, b), lo, hi);
	if (!cidr_usable(&c))
		return conf_fail(
			p, -EINVAL,
			"%s = '%s' is a loopback, multicast or reserved range; use a private one such as %s",
			k->name, conf_show(v, b), example);
	if (nook_cidr_host_bits(&c)) {
		for (unsigned i = 0; i < 16; i++) {
			unsigned first = i * 8;

			if (first >= c.prefix)
				c.addr[i] = 0;
			else if (first + 8 > c.prefix)
				c.addr[i] &= (uint8_t) (0xffu << (8 - (c.prefix - first)));
		}
		(void) inet_ntop(family, c.addr, text, sizeof(text));
		return conf_fail(p, -EINVAL, "%s = '%s' has host bits set; write the network, %s/%u", k->name,
				 conf_show(v, b), text, c.prefix);
	}
	e->str = strdup(v);
	return e->str ? 0 : -ENOMEM;
}

/* Up to NOOK_DNS_MAX numeric addresses, separated by blanks or commas,
 * kept normalized and space-separated in e->str. V is modified. */
static int parse_dns_items(struct parser *p, const char *key, char *v, struct entry *e)
{
	char b[SHOW_MAX + 4], out[NOOK_DNS_MAX * (INET6_ADDRSTRLEN + 1)] = "";
	char *save = NULL;
	size_t n = 0, len = 0;

	for (char *w = strtok_r(v, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save)) {
		uint8_t bin[16];
		char text[INET6_ADDRSTRLEN];
		int family = strchr(w, ':') ? AF_INET6 : AF_INET;

		if (inet_pton(family, w, bin) != 1)
			return conf_fail(
				p, -EINVAL,
				"%s: '%s' is not a numeric IPv4 or IPv6 address; write e.g. 192.0.2.53", key,
				conf_show(w, b));
		if (++n > NOOK_DNS_MAX)
			return conf_fail(
				p, -E2BIG,
				"%s: more than %d name servers; the resolver only uses %d, so list at most that many",
				key, NOOK_DNS_MAX, NOOK_DNS_MAX);
		(void) inet_ntop(family, bin, text, sizeof(text));
		len += (size_t) snprintf(out + len, sizeof(out) - len, "%s%s", len ? " " : "", text);
	}
	if (n == 0)
		return conf_fail(p, -EINVAL, "'%s' lists no address; give one or remove the line", key);
	e->str = strdup(out);
	return e->str ? 0 : -ENOMEM;
}

static int parse_dns(struct parser *p, const struct key_def *k, const char *v, struct entry *e)
{
	char *copy = strdup(v);
	int r;

	if (!copy)
		return -ENOMEM;
	r = parse_dns_items(p, k->name, copy, e);
	free(copy);
	return r;
}

/* One parser for every enum-valued key, driven by the key's word table. */
static int parse_enum(struct parser *p, const struct key_def *k, const char *v, struct entry *e)
{
	char b[SHOW_MAX + 4];

	for (size_t i = 0; i < k->words->n_words; i++)
		if (strcmp(v, k->words->words[i].name) == 0) {
			e->num = (uint64_t) k->words->words[i].value;
			return 0;
		}
	return conf_fail(p, -EINVAL, "%s = '%s' %s", k->name, conf_show(v, b), k->words->invalid);
}

/* clang-format off */
#define ENUM_DEF(w, msg) { .words = (w), .n_words = ELEMENTSOF(w), .invalid = (msg) }
/* clang-format on */

/* What to do with an image that image_dir's free space cannot back fully. */
static const struct enum_word image_space_words[] = {
	{ "refuse", 0 },
	{ "warn", 1 },
};
static const struct enum_def image_space_enum = ENUM_DEF(image_space_words, "is not refuse or warn");

static const struct enum_word cgroup_manager_words[] = {
	{ "auto", NOOK_CG_AUTO },
	{ "systemd", NOOK_CG_SYSTEMD },
	{ "cgroupfs", NOOK_CG_CGROUPFS },
};
static const struct enum_def cgroup_manager_enum =
	ENUM_DEF(cgroup_manager_words, "is not a cgroup manager; use auto, systemd or cgroupfs");

static const struct enum_word network_words[] = {
	{ "none", NOOK_NET_NONE },
	{ "pasta", NOOK_NET_PASTA },
	{ "bridge", NOOK_NET_BRIDGE },
};
static const struct enum_def network_enum =
	ENUM_DEF(network_words, "is not a network mode; use none, pasta or bridge");

static const struct enum_word profile_words[] = {
	{ "restricted", NOOK_PROFILE_RESTRICTED },
};
static const struct enum_def profile_enum =
	ENUM_DEF(profile_words, "is not supported; the only value is restricted");

/* V_ENUM stores through an int. */
_Static_assert(sizeof(enum nook_cgroup_manager) == sizeof(int), "enum size");
_Static_assert(sizeof(enum nook_network) == sizeof(int), "enum size");
_Static_assert(sizeof(enum nook_profile) == sizeof(int), "enum size");

#define AT(field) .offset = offsetof(struct nook_settings, field)

/* The keys, related ones next to each other; the order is not significant
 * (keys are looked up by name, and a key's index here only identifies it:
 * its slot in the per-key arrays of resolution, the duplicate check). A
 * numeric default of NOOK_LIMIT_AUTO / NOOK_CPU_AUTO is derived from the
 * host's size later (nook_settings_auto_limits): no configuration is
 * unbounded by omission; "max" is the explicit way to say so. */
/* clang-format off */
const struct key_def conf_keys[] = {
	{ .name = "enable", .parse = parse_boolean, .kind = V_BOOL, AT(enable), .def_num = true },
	{ .name = "users", .parse = conf_parse_who, .kind = V_NONE, .flags = KEY_GLOBAL | KEY_MAY_BE_EMPTY },
	{ .name = "exempt", .parse = conf_parse_who, .kind = V_NONE, .def_str = "root",
	  .flags = KEY_GLOBAL | KEY_MAY_BE_EMPTY },
	{ .name = "rootfs", .parse = parse_path, .kind = V_STR, AT(rootfs), .def_str = "/" },
	{ .name = "hide", .parse = parse_hide, .kind = V_PATHS, AT(hide), .flags = KEY_LIST | KEY_SPLIT },
	{ .name = "bind", .parse = parse_bind, .kind = V_BINDS, AT(binds),
	  .count_offset = offsetof(struct nook_settings, n_binds), .flags = KEY_LIST | KEY_SPLIT },
	{ .name = "image_dir", .parse = parse_path, .kind = V_STR, AT(image_dir),
	  .def_str = "/var/lib/nook/images" },
	{ .name = "image_size", .parse = parse_image_size, .kind = V_U64, AT(image_size),
	  .def_num = UINT64_C(10) << 30 },
	{ .name = "image_space", .parse = parse_enum, .words = &image_space_enum, .kind = V_BOOL,
	  AT(image_space_warn), .def_num = false },
	{ .name = "hostname", .parse = parse_hostname, .kind = V_HOSTNAME, AT(hostname), .def_str = "%u" },
	{ .name = "linger", .parse = parse_linger, .kind = V_U64, AT(linger_ms), .def_num = 0 },
	{ .name = "lock_timeout", .parse = parse_lock_timeout, .kind = V_U64, AT(lock_timeout_ms),
	  .def_num = NOOK_LOCK_TIMEOUT_MS },
	{ .name = "memory_max", .parse = parse_memory_max, .kind = V_U64, AT(memory_max),
	  .def_num = NOOK_LIMIT_AUTO },
	{ .name = "cpu_max", .parse = parse_cpu_max, .kind = V_U32, AT(cpu_max), .def_num = NOOK_CPU_AUTO },
	{ .name = "pids_max", .parse = parse_pids_max, .kind = V_U64, AT(pids_max), .def_num = NOOK_LIMIT_AUTO },
	{ .name = "cgroup_root", .parse = parse_cgroup_root, .kind = V_STR, AT(cgroup_root), .def_str = "nook" },
	{ .name = "cgroup_manager", .parse = parse_enum, .words = &cgroup_manager_enum, .kind = V_ENUM,
	  AT(cgroup_manager), .def_num = NOOK_CG_AUTO },
	{ .name = "systemd_slice", .parse = parse_slice, .kind = V_STR, AT(systemd_slice),
	  .def_str = "nook.slice" },
	{ .name = "network", .parse = parse_enum, .words = &network_enum, .kind = V_ENUM, AT(network),
	  .def_num = NOOK_NET_NONE },
	{ .name = "bridge", .parse = parse_ifname, .kind = V_STR, AT(bridge), .def_str = "nook0" },
	{ .name = "bridge_subnet", .parse = parse_subnet, .kind = V_CIDR4, AT(bridge_subnet),
	  .def_str = DEFAULT_BRIDGE_SUBNET },
	{ .name = "bridge_subnet6", .parse = parse_subnet, .kind = V_CIDR6, AT(bridge_subnet6) },
	{ .name = "isolate", .parse = parse_boolean, .kind = V_BOOL, AT(isolate), .def_num = true },
	{ .name = "host_access", .parse = parse_boolean, .kind = V_BOOL, AT(host_access), .def_num = false },
	/* One host-wide range, cut into one slice per container: global. */
	{ .name = "mosh_ports", .parse = parse_mosh_ports, .kind = V_U32, AT(mosh_ports),
	  .def_num = NOOK_MOSH_PORTS(61001, 61999), .flags = KEY_GLOBAL },
	{ .name = "mosh_sessions", .parse = parse_mosh_sessions, .kind = V_U32, AT(mosh_sessions),
	  .def_num = 10, .flags = KEY_GLOBAL },
	{ .name = "dns", .parse = parse_dns, .kind = V_ADDRS, AT(dns), .def_str = "" },
	{ .name = "profile", .parse = parse_enum, .words = &profile_enum, .kind = V_ENUM, AT(profile),
	  .def_num = NOOK_PROFILE_RESTRICTED },
	{ .name = "tmpfs_size", .parse = parse_tmpfs_size, .kind = V_U64, AT(tmpfs_size),
	  .def_num = NOOK_LIMIT_AUTO },
	{ .name = "pty_max", .parse = parse_pty_max, .kind = V_U64, AT(pty_max), .def_num = 256 },
	{ .name = "lxcfs", .parse = parse_lxcfs, .kind = V_STR, AT(lxcfs), .def_str = "/var/lib/lxcfs" },
};
/* clang-format on */
const size_t conf_n_keys = ELEMENTSOF(conf_keys);
_Static_assert(ELEMENTSOF(conf_keys) <= KEYS_MAX, "raise KEYS_MAX");

const struct key_def *conf_key_lookup(const char *name)
{
	for (size_t i = 0; i < conf_n_keys; i++)
		if (strcmp(conf_keys[i].name, name) == 0)
			return &conf_keys[i];
	return NULL;
}

size_t conf_key_index(const struct key_def *k)
{
	return (size_t) (k - conf_keys);
}
