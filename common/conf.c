/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nook.conf: parsing, validation and per-user resolution (see conf.h and
 * nook.conf(5)).
 *
 * Values are validated and converted while a file is parsed, so that every
 * error can name the file and line that caused it; resolving the settings of
 * one user then only has to pick the winning entries. The parsed form is
 * plain data: the sections in file order, each holding its entries in line
 * order. A section header that appears twice simply yields two sections.
 */
#include "conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

/* A config is a few KiB; the cap keeps a mistake (or a log file symlinked
 * into conf.d) from making every login parse megabytes. */
#define CONF_FILE_MAX 1048576 /* 1 MiB */
#define NAME_LEN_MAX 32      /* useradd's limit, and what utmp can hold */
#define HOSTNAME_LEN_MAX 64  /* HOST_NAME_MAX: sethostname() refuses more */
#define SHOW_MAX 64          /* how much of a bad value an error quotes */
#define CPU_MAX_PERCENT 102400 /* percent of one CPU: up to 1024 CPUs */
#define PIDS_LIMIT 4194304   /* PID_MAX_LIMIT: the kernel refuses a larger pids.max */
#define IMAGE_SIZE_MIN (UINT64_C(64) << 20) /* below this ext4 + overlay work dirs barely fit */
#define LOOKUP_BUF_MAX 1048576

#define DEFAULT_ROOTFS "/"
#define DEFAULT_IMAGE_DIR "/var/lib/nook/images"
#define DEFAULT_IMAGE_SIZE (UINT64_C(10) << 30)
#define DEFAULT_HOSTNAME "%u"
#define DEFAULT_CGROUP_ROOT "nook"
#define DEFAULT_SYSTEMD_SLICE "nook.slice"
#define DEFAULT_EXEMPT "root"
#define DEFAULT_BRIDGE "nook0"
#define DEFAULT_BRIDGE_SUBNET "10.213.0.0/16"
/* The bridge's own address is the first of the subnet, containers get the
 * rest: at least a /30 (two usable addresses). IPv6 container addresses
 * reuse the IPv4 host part, so the IPv6 prefix keeps at least 32 bits. */
#define SUBNET_PREFIX_MIN 8
#define SUBNET4_PREFIX_MAX 30
#define SUBNET6_PREFIX_MAX 96

enum section_type {
	SEC_DEFAULT,
	SEC_GROUP,
	SEC_USER,
};

enum key_id {
	K_ENABLE,
	K_USERS,
	K_EXEMPT,
	K_ROOTFS,
	K_HIDE,
	K_BIND,
	K_IMAGE_DIR,
	K_IMAGE_SIZE,
	K_IMAGE_SPACE,
	K_HOSTNAME,
	K_LINGER,
	K_LOCK_TIMEOUT,
	K_MEMORY_MAX,
	K_CPU_MAX,
	K_PIDS_MAX,
	K_CGROUP_ROOT,
	K_CGROUP_MANAGER,
	K_SYSTEMD_SLICE,
	K_NETWORK,
	K_BRIDGE,
	K_BRIDGE_SUBNET,
	K_BRIDGE_SUBNET6,
	K_ISOLATE,
	K_HOST_ACCESS,
	K_DNS,
	K_PROFILE,
	K_TMPFS_SIZE,
	K_COUNT_,
};

enum who_kind {
	WHO_ALL,
	WHO_USER,
	WHO_GROUP,
};

/* One item of `users` or `exempt`. */
struct who {
	enum who_kind kind;
	char *name; /* NULL for '*' */
	bool gid_known;
	gid_t gid;
};

/* One `key = value` (or one word of a list key such as hide or bind). */
struct entry {
	enum key_id key;
	unsigned line;
	uint64_t num;    /* bool, size, duration, count or enum */
	char *str;       /* path, hostname template, cgroup path; bind source */
	char *dst;       /* bind destination */
	bool ro;
	struct who *who; /* users, exempt */
	size_t n_who;
};

struct section {
	enum section_type type;
	char *name;      /* NULL for [default] */
	unsigned line;
	bool gid_known;  /* [group:NAME]: the name resolved at load time */
	gid_t gid;
	struct entry *entries;
	size_t n_entries, cap_entries;
};

struct nook_conf {
	struct section *sections;
	size_t n_sections, cap_sections;
	char **warnings; /* NULL-terminated whenever non-NULL */
	size_t n_warnings, cap_warnings;
};

/* The state of parsing one file. */
struct parser {
	struct nook_conf *conf;
	const char *file;
	unsigned line;
	char *err;
};

typedef int (*parse_fn)(struct parser *p, const char *key, const char *value, struct entry *e);

struct key_def {
	const char *name;
	parse_fn parse;
	enum key_id id;
	bool default_only; /* who is selected is global policy, not per user */
	bool list;         /* repeatable: occurrences append instead of override */
	bool split;        /* the value holds several whitespace-separated items */
	bool may_be_empty;
};

/* ---- messages ---------------------------------------------------------- */

/* Quotes at most SHOW_MAX bytes of a value, control characters replaced, so
 * that an error message stays one short line whatever the file contains. */
static const char *show(const char *v, char buf[static SHOW_MAX + 4])
{
	size_t i;

	for (i = 0; i < SHOW_MAX && v[i]; i++) {
		char c = v[i];
		if ((unsigned char) c < 0x20 || c == 0x7f)
			c = '?';
		buf[i] = c;
	}
	if (v[i])
		for (int k = 0; k < 3; k++)
			buf[i++] = '.';
	buf[i] = '\0';
	return buf;
}

/* "FILE:LINE: message" (or just the message when LINE is 0), cut to
 * NOOK_CONF_ERR_MAX - 1 bytes; NULL when out of memory. */
static __attribute__((format(printf, 3, 0))) char *vformat(const char *file, unsigned line, const char *fmt,
							    va_list ap)
{
	char *body = NULL, *msg = NULL;

	if (vasprintf(&body, fmt, ap) < 0)
		return NULL;
	if (line == 0)
		msg = body;
	else if (asprintf(&msg, "%s:%u: %s", file, line, body) < 0)
		msg = NULL;
	if (msg != body)
		free(body);
	if (msg && strlen(msg) >= NOOK_CONF_ERR_MAX)
		msg[NOOK_CONF_ERR_MAX - 1] = '\0';
	return msg;
}

/* Records the error (the first one wins) and returns R. FMT may use %m. */
static __attribute__((format(printf, 3, 4))) int fail(struct parser *p, int r, const char *fmt, ...)
{
	va_list ap;

	if (p->err)
		return r;
	va_start(ap, fmt);
	p->err = vformat(p->file, p->line, fmt, ap);
	va_end(ap);
	return r;
}

static __attribute__((format(printf, 2, 3))) int warn(struct parser *p, const char *fmt, ...)
{
	struct nook_conf *c = p->conf;
	va_list ap;

	if (c->n_warnings + 1 >= c->cap_warnings) {
		size_t cap = c->cap_warnings ? c->cap_warnings * 2 : 8;
		char **w = reallocarray(c->warnings, cap, sizeof(*w));
		if (!w)
			return -ENOMEM;
		c->warnings = w;
		c->cap_warnings = cap;
	}
	va_start(ap, fmt);
	c->warnings[c->n_warnings] = vformat(p->file, p->line, fmt, ap);
	va_end(ap);
	if (!c->warnings[c->n_warnings])
		return -ENOMEM;
	c->warnings[++c->n_warnings] = NULL;
	return 0;
}

/* For whole-file problems: FMT starts with the path itself. */
static __attribute__((format(printf, 3, 4))) int fail_file(char **ret_err, int r, const char *fmt, ...)
{
	va_list ap;

	if (!ret_err || *ret_err)
		return r;
	va_start(ap, fmt);
	*ret_err = vformat(NULL, 0, fmt, ap);
	va_end(ap);
	return r;
}

/* ---- small lexical helpers --------------------------------------------- */

/* Not isspace(): the config must not depend on the caller's locale. */
static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static char *trim(char *s)
{
	char *end;

	while (is_blank(*s))
		s++;
	end = s + strlen(s);
	while (end > s && is_blank(end[-1]))
		*--end = '\0';
	return s;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Same rule as Debian's adduser default (NAME_REGEX), plus the length limit. */
static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > NAME_LEN_MAX)
		return false;
	if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = s[i];
		if ((c >= 'a' && c <= 'z') || is_digit(c) || c == '_' || c == '.' || c == '-')
			continue;
		if (c == '$' && i == n - 1)
			continue;
		return false;
	}
	return true;
}

static bool hostname_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' || c == '.';
}

/* Consumes decimal digits; -EINVAL if there are none, -ERANGE on overflow. */
static int parse_digits(const char **s, uint64_t *ret)
{
	const char *p = *s;
	uint64_t v = 0;

	if (!is_digit(*p))
		return -EINVAL;
	for (; is_digit(*p); p++) {
		unsigned d = (unsigned) (*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*s = p;
	*ret = v;
	return 0;
}

/* ---- exported value parsers -------------------------------------------- */

int nook_parse_size(const char *s, uint64_t *ret)
{
	static const struct {
		char suffix;
		unsigned shift;
	} units[] = {
		{ 'k', 10 }, { 'm', 20 }, { 'g', 30 }, { 't', 40 },
	};
	uint64_t v;
	unsigned shift = 0;
	int r;

	if (!s || !ret)
		return -EINVAL;
	if (strcasecmp(s, "max") == 0) {
		*ret = 0;
		return 0;
	}
	r = parse_digits(&s, &v);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ELEMENTSOF(units); i++)
		if ((*s | 0x20) == units[i].suffix) {
			shift = units[i].shift;
			s++;
			break;
		}
	/* "10G", "10GB", "10GiB" and "4096B" all mean bytes in powers of 1024. */
	if (shift && (*s == 'i' || *s == 'I'))
		s++;
	if (*s == 'b' || *s == 'B')
		s++;
	if (*s)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*ret = v << shift;
	return 0;
}

int nook_parse_duration_ms(const char *s, uint64_t *ret)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "min", 60000 }, { "m", 60000 },
		{ "h", 3600000 }, { "d", 86400000 },
	};
	uint64_t v;
	int r;

	if (!s || !ret)
		return -EINVAL;
	r = parse_digits(&s, &v);
	if (r < 0)
		return r;
	/* A bare number is ambiguous (seconds? ms?), so only 0 may omit the unit. */
	if (!*s) {
		if (v != 0)
			return -EINVAL;
		*ret = 0;
		return 0;
	}
	for (size_t i = 0; i < ELEMENTSOF(units); i++)
		if (strcmp(s, units[i].unit) == 0) {
			if (v > UINT64_MAX / units[i].ms)
				return -ERANGE;
			*ret = v * units[i].ms;
			return 0;
		}
	return -EINVAL;
}

int nook_parse_bool(const char *s, bool *ret)
{
	static const struct {
		const char *word;
		bool value;
	} words[] = {
		{ "yes", true }, { "true", true }, { "on", true }, { "1", true },
		{ "no", false }, { "false", false }, { "off", false }, { "0", false },
	};

	if (!s || !ret)
		return -EINVAL;
	for (size_t i = 0; i < ELEMENTSOF(words); i++)
		if (strcasecmp(s, words[i].word) == 0) {
			*ret = words[i].value;
			return 0;
		}
	return -EINVAL;
}

int nook_parse_cidr(const char *s, int family, struct nook_cidr *ret)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash, *p;
	unsigned max = family == AF_INET ? 32 : 128;
	uint64_t len;
	struct nook_cidr c = { .family = family };

	if (!s || !ret || (family != AF_INET && family != AF_INET6))
		return -EINVAL;
	slash = strchr(s, '/');
	if (!slash || (size_t) (slash - s) >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, (size_t) (slash - s));
	addr[slash - s] = '\0';
	if (inet_pton(family, addr, c.addr) != 1)
		return -EINVAL;
	p = slash + 1;
	/* No sign, no leading blanks, no leading zeros beyond "0". */
	if (parse_digits(&p, &len) < 0 || *p || (slash[1] == '0' && slash[2]))
		return -EINVAL;
	if (len > max)
		return -ERANGE;
	c.prefix = (unsigned) len;
	*ret = c;
	return 0;
}

bool nook_cidr_host_bits(const struct nook_cidr *c)
{
	unsigned bytes = c->family == AF_INET ? 4 : 16;

	for (unsigned i = 0; i < bytes; i++) {
		unsigned first = i * 8; /* bit number of this byte's top bit */
		uint8_t host_mask;

		if (first + 8 <= c->prefix)
			continue;
		host_mask = first >= c->prefix ? 0xff : (uint8_t) (0xffu >> (c->prefix - first));
		if (c->addr[i] & host_mask)
			return true;
	}
	return false;
}

/* ---- user and group lookups -------------------------------------------- */

/* getpwnam_r(3): these all mean "no such entry", depending on the backend. */
static bool lookup_not_found(int r)
{
	return r == 0 || r == ENOENT || r == ESRCH || r == EBADF || r == EPERM;
}

/* 1 if the user exists, 0 if not, -errno if the name service failed. */
static int user_exists(const char *name)
{
	for (size_t sz = 1024; sz <= LOOKUP_BUF_MAX; sz *= 2) {
		char *buf = malloc(sz);
		struct passwd pw, *res = NULL;
		int r;

		if (!buf)
			return -ENOMEM;
		r = getpwnam_r(name, &pw, buf, sz, &res);
		free(buf); /* only whether res is set matters */
		if (r == ERANGE)
			continue;
		if (res)
			return 1;
		return lookup_not_found(r) ? 0 : -r;
	}
	return -ERANGE;
}

/* Like user_exists, and *ret_gid gets the group's id when it exists. */
static int group_lookup(const char *name, gid_t *ret_gid)
{
	for (size_t sz = 1024; sz <= LOOKUP_BUF_MAX; sz *= 2) {
		char *buf = malloc(sz);
		struct group gr, *res = NULL;
		int r;

		if (!buf)
			return -ENOMEM;
		r = getgrnam_r(name, &gr, buf, sz, &res);
		free(buf); /* gr_gid lives in gr, not in buf */
		if (r == ERANGE)
			continue;
		if (res) {
			*ret_gid = gr.gr_gid;
			return 1;
		}
		return lookup_not_found(r) ? 0 : -r;
	}
	return -ERANGE;
}

/* A name-service failure is an error, not a "no such user" warning: treating
 * an unreachable LDAP as "group absent" could silently unselect its members. */
static int lookup_failed(struct parser *p, int r, const char *what, const char *name)
{
	if (r == -ENOMEM)
		return r;
	errno = -r;
	return fail(p, r, "cannot look up %s '%s': %m; check the name service (nsswitch.conf)", what,
		    name);
}

/* ---- per-key value parsers --------------------------------------------- */

static int parse_enable(struct parser *p, const char *key, const char *v, struct entry *e)
{
	char b[SHOW_MAX + 4];
	bool val;

	if (nook_parse_bool(v, &val) < 0)
		return fail(p, -EINVAL, "%s = '%s' is not a boolean; use yes or no", key, show(v, b));
	e->num = val;
	return 0;
}

/* Items are separated by blanks or commas; V is modified. */
static int parse_who_items(struct parser *p, const char *key, char *v, struct entry *e)
{
	char b[SHOW_MAX + 4];
	char *save = NULL;

	for (char *w = strtok_r(v, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save)) {
		struct who item = { .kind = WHO_USER };
		struct who *n;
		int r;

		if (strcmp(w, "*") == 0) {
			item.kind = WHO_ALL;
		} else if (w[0] == '@') {
			item.kind = WHO_GROUP;
			if (!valid_name(w + 1))
				return fail(p, -EINVAL,
					    "%s: '%s' is not a valid group name; use lower-case letters, digits, '_', '-' or '.'",
					    key, show(w + 1, b));
			r = group_lookup(w + 1, &item.gid);
			if (r < 0)
				return lookup_failed(p, r, "group", w + 1);
			item.gid_known = r > 0;
			if (!r) {
				r = warn(p, "%s: group '%s' does not exist; its entry matches nobody", key, w + 1);
				if (r < 0)
					return r;
			}
		} else {
			if (!valid_name(w))
				return fail(p, -EINVAL,
					    "%s: '%s' is not a user name, @group or *; fix or remove it",
					    key, show(w, b));
			r = user_exists(w);
			if (r < 0)
				return lookup_failed(p, r, "user", w);
			if (!r) {
				r = warn(p, "%s: user '%s' does not exist; the entry has no effect until it does",
					 key, w);
				if (r < 0)
					return r;
			}
		}
		if (item.kind != WHO_ALL) {
			item.name = strdup(item.kind == WHO_GROUP ? w + 1 : w);
			if (!item.name)
				return -ENOMEM;
		}
		n = reallocarray(e->who, e->n_who + 1, sizeof(*n));
		if (!n) {
			free(item.name);
			return -ENOMEM;
		}
		e->who = n;
		e->who[e->n_who++] = item;
	}
	return 0;
}

/* The copies below are freed by hand, not with _cleanup_free_:
 * clang-analyzer 14 (make lint) does not model the cleanup attribute and
 * would report a leak on every early return. */
static int parse_who(struct parser *p, const char *key, const char *v, struct entry *e)
{
	char *copy = strdup(v);
	int r;

	if (!copy)
		return -ENOMEM;
	r = parse_who_items(p, key, copy, e);
	free(copy);
	return r;
}

/* Absolute, no ".." (a path meant for one place must not climb elsewhere),
 * and shorter than PATH_MAX. */
static int check_abs_path(struct parser *p, const char *key, const char *what, const char *v)
{
	char b[SHOW_MAX + 4];
	size_t n = strlen(v);

	if (v[0] != '/')
		return fail(p, -EINVAL, "%s: %s '%s' is not an absolute path; write it starting with '/'",
			    key, what, show(v, b));
	if (n >= PATH_MAX)
		return fail(p, -ENAMETOOLONG, "%s: %s '%s' is longer than %d bytes; shorten it", key, what,
			    show(v, b), PATH_MAX - 1);
	for (const char *c = v; (c = strstr(c, "..")); c += 2)
		if (c[-1] == '/' && (c[2] == '/' || c[2] == '\0'))
			return fail(p, -EINVAL, "%s: %s '%s' contains '..'; write the path without it",
				    key, what, show(v, b));
	return 0;
}

static int parse_path(struct parser *p, const char *key, const char *v, struct entry *e)
{
	int r = check_abs_path(p, key, "path", v);

	if (r < 0)
		return r;
	e->str = strdup(v);
	return e->str ? 0 : -ENOMEM;
}

static int parse_hide(struct parser *p, const char *key, const char *v, struct entry *e)
{
	if (strcmp(v, "/") == 0)
		return fail(p, -EINVAL, "%s: '/' would hide the whole lower layer; name a path below it", key);
	return parse_path(p, key, v, e);
}

/* SRC:DST[:ro|rw]; SRC is modified. */
static int parse_bind_fields(struct parser *p, const char *key, const char *v, char *src, struct entry *e)
{
	char b[SHOW_MAX + 4];
	char *dst, *opt;
	int r;

	dst = strchr(src, ':');
	if (!dst)
		return fail(p, -EINVAL, "%s = '%s' has no destination; write SOURCE:DEST[:ro|rw]", key,
			    show(v, b));
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
		return fail(p, -EINVAL, "%s: destination '/' would replace the root; bind below it", key);
	if (!opt || strcmp(opt, "rw") == 0)
		e->ro = false;
	else if (strcmp(opt, "ro") == 0)
		e->ro = true;
	else
		return fail(p, -EINVAL, "%s: unknown option '%s'; use ro or rw (paths cannot contain ':')",
			    key, show(opt, b));
	e->str = strdup(src);
	e->dst = strdup(dst);
	return e->str && e->dst ? 0 : -ENOMEM;
}

static int parse_bind(struct parser *p, const char *key, const char *v, struct entry *e)
{
	char *copy = strdup(v);
	int r;

	if (!copy)
		return -ENOMEM;
	r = parse_bind_fields(p, key, v, copy, e);
	free(copy);
	return r;
}

static int parse_image_size(struct parser *p, const char *key, const char *v, struct entry *e)
{
	char b[SHOW_MAX + 4];
	int r = nook_parse_size(v, &e->num);

	if (r == -ERANGE)
		return fail(p, r, "%s = '%s' is too large; use a size such as 10G", key, show(v, b));
	if (r < 0)
		return fail(p, r, "%s = '%s' is not a size; use a number with an optional K, M, G or T suffix, e.g. 10G",
			    key, show(v, b));
	if (e->num == 0)
		return fail(p, -EINVAL, "%s = '%s': an image needs a fixed size; use e.g. 10G", key,
			    show(v, b));
	if (e->num < IMAGE_SIZE_MIN)
		return fail(p, -EINVAL, "%s = '%s' is below the minimum of 64M; use at least 64M", key,
			    show(v, b));
	return 0;
}

static int parse_memory_max(struct parser *p, const char *key, const char *v, struct entry *e)
{
	char b[SHOW_MAX + 4];
	int r = nook_parse_size(v, &e->num);

	if (r == -ERANGE)
		return fail(p, r, "%s = '%s' is too large; use a size such as 4G, or max", key, show(v, b));
	if (r < 0)
		return fail(p, r, "%s = '%s' is not a size; use a number with an optional K, M, G or T suffix, or max",
			    key, show(v, b));
	/* 0 is how the struct spells "no limit"; a literal 0 would mean an
	 * instant OOM, which is surely not what was meant. */
	if (e->num == 0 && strcasecmp(v, "max") != 0)
		return fail(p, -EINVAL, "%s = 0 would allow no memory at all; use max for no limit", key);
	return 0;
}

/* "max" -> 0, else an integer in [1, limit], optionally followed by SUFFIX. */
static int parse_limit(struct parser *p, const char *key, const char *v, uint64_t limit,
		       const char *suffix, uint64_t *ret)
{
	char b[SHOW_MAX + 4];
	const char *s = v;
	uint64_t n;
	int r;

	if (strcasecmp(v, "max") == 0) {
		*ret = 0;
		return 0;
	}
	r = parse_digits(&s, &n);
	if (r == 0 && *s && !(suffix && strcmp(s, suffix) == 0))
		r = -EINVAL;
	if (r == 0 && (n < 1 || n > limit))
		r = -ERANGE;
	if (r < 0)
		return fail(p, r, "%s = '%s' is not valid; use an integer from 1 to %llu, or max", key,
			    show(v, b), (unsigned long long) limit);
	*ret = n;
	return 0;
}

static int parse_cpu_max(struct parser *p, const char *key, const char *v, struct entry *e)
{
	return parse_limit(p, key, v, CPU_MAX_PERCENT, "%", &e->num);
}

static int parse_pids_max(struct parser *p, const char *key, const char *v, struct entry *e)
{
	return parse_limit(p, key, v, PIDS_LIMIT, NULL, &e->num);
}

static int parse_tmpfs_size(struct parser *p, const char *key, const char *v, struct entry *e)
{
	char b[SHOW_MAX + 4];
	int r = nook_parse_size(v, &e->num);

	if (r < 0)
		return fail(p, r, "%s = '%s' is not a size; use a number with an optional K, M, G or T suffix, or max",
			    key, show(v, b));
	if (e->num == 0 && strcasecmp(v, "max") != 0)
		return fail(p, -EINVAL, "%s = 0 would leave no room in /tmp; use max for the kernel's default", key);
	return 0;
}

/* What to do with an image that image_dir's free space cannot back fully. */
static int parse_image_space(struct parser *p, const char *key, const char *v, struct entry *e)
{
	char b[SHOW_MAX + 4];

	if (strcmp(v, "refuse") == 0)
		e->num = 0;
	else if (strcmp(v, "warn") == 0)
		e->num = 1;
	else
		return fail(p, -EINVAL, "%s = '%s' is not refuse or warn", key, show(v, b));
	return 0;
}

static int parse_linger(struct parser *p, const char *key, const char *v, struct entry *e)
{
	char b[SHOW_MAX + 4];
	int r = nook_parse_duration_ms(v, &e->num);

	if (r == -ERANGE)
		return fail(p, r, "%s = '%s' is too large; use e.g. 10m", key, show(v, b));
	if (r < 0)
		return fail(p, r, "%s = '%s' is not a duration; use 0 or a number with ms, s, m, h or d, e.g. 30s",
			    key, show(v, b));
	return 0;
}

static int parse_lock_timeout(struct parser *p, const char *key, const char *v, struct entry *e)
{
	char b[SHOW_MAX + 4];
	int r = parse_linger(p, key, v, e);

	if (r < 0)
		return r;
	if (e->num == 0)
		return fail(p, -EINVAL, "%s = '%s': a login must be able to wait a little; use e.g. 90s", key,
			    show(v, b));
	return 0;
}

/* Checks the template now, so that a typo is reported with its line; the
 * expansion (and its length) can only be checked per user, at resolve time. */
static int parse_hostname(struct parser *p, const char *key, const char *v, struct entry *e)
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
			return fail(p, -EINVAL, "%s = '%s': unknown escape '%%%.1s'; use %%u for the user name or %%%% for '%%'",
				    key, show(v, b), c[1] ? c + 1 : "");
		}
		if (!hostname_char(*c))
			return fail(p, -EINVAL, "%s = '%s': a hostname may only contain letters, digits, '-' and '.'",
				    key, show(v, b));
		literal++;
	}
	if (literal > HOSTNAME_LEN_MAX)
		return fail(p, -EINVAL, "%s = '%s' is longer than %d characters; shorten it", key,
			    show(v, b), HOSTNAME_LEN_MAX);
	e->str = strdup(v);
	return e->str ? 0 : -ENOMEM;
}

static bool cgroup_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' || c == '.' ||
	       c == '-';
}

/* The helper joins this to a cgroup mount point (or to its own cgroup for
 * "./"), so it must not be able to name anything outside that subtree. */
static int parse_cgroup_root(struct parser *p, const char *key, const char *v, struct entry *e)
{
	char b[SHOW_MAX + 4];
	const char *s = v;

	if (strncmp(s, "./", 2) == 0)
		s += 2;
	if (*s == '/')
		return fail(p, -EINVAL, "%s = '%s' must be relative; drop the leading '/' (or write ./NAME for a cgroup below the creating process's)",
			    key, show(v, b));
	if (!*s)
		return fail(p, -EINVAL, "%s = '%s' names no cgroup; use e.g. nook or ./nook", key, show(v, b));
	while (*s) {
		size_t n = 0;

		while (s[n] && s[n] != '/') {
			if (!cgroup_char(s[n]))
				return fail(p, -EINVAL, "%s = '%s': a cgroup name may only contain letters, digits, '_', '.' and '-'",
					    key, show(v, b));
			n++;
		}
		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return fail(p, -EINVAL, "%s = '%s' has an empty, '.' or '..' component; write a plain path such as nook/users",
				    key, show(v, b));
		if (n > NAME_MAX)
			return fail(p, -ENAMETOOLONG, "%s: a component of '%s' is longer than %d bytes; shorten it",
				    key, show(v, b), NAME_MAX);
		s += n;
		if (*s == '/' && !s[1])
			return fail(p, -EINVAL, "%s = '%s' ends with '/'; remove it", key, show(v, b));
		if (*s == '/')
			s++;
	}
	if (strlen(v) >= PATH_MAX)
		return fail(p, -ENAMETOOLONG, "%s = '%s' is too long; shorten it", key, show(v, b));
	e->str = strdup(v);
	return e->str ? 0 : -ENOMEM;
}

static int parse_network(struct parser *p, const char *key, const char *v, struct entry *e)
{
	static const struct {
		const char *name;
		enum nook_network mode;
	} modes[] = {
		{ "none", NOOK_NET_NONE },
		{ "pasta", NOOK_NET_PASTA },
		{ "bridge", NOOK_NET_BRIDGE },
	};
	char b[SHOW_MAX + 4];

	for (size_t i = 0; i < ELEMENTSOF(modes); i++)
		if (strcmp(v, modes[i].name) == 0) {
			e->num = modes[i].mode;
			return 0;
		}
	return fail(p, -EINVAL, "%s = '%s' is not a network mode; use none, pasta or bridge", key, show(v, b));
}

static int parse_cgroup_manager(struct parser *p, const char *key, const char *v, struct entry *e)
{
	static const struct {
		const char *name;
		enum nook_cgroup_manager m;
	} managers[] = {
		{ "auto", NOOK_CG_AUTO },
		{ "systemd", NOOK_CG_SYSTEMD },
		{ "cgroupfs", NOOK_CG_CGROUPFS },
	};
	char b[SHOW_MAX + 4];

	for (size_t i = 0; i < ELEMENTSOF(managers); i++)
		if (strcmp(v, managers[i].name) == 0) {
			e->num = managers[i].m;
			return 0;
		}
	return fail(p, -EINVAL, "%s = '%s' is not a cgroup manager; use auto, systemd or cgroupfs", key,
		    show(v, b));
}

/* A slice unit name systemd takes: NAME.slice, where each '-' in NAME
 * nests (nook-lab.slice lives in nook.slice). */
static int parse_slice(struct parser *p, const char *key, const char *v, struct entry *e)
{
	char b[SHOW_MAX + 4];
	size_t n = strlen(v);

	if (n <= 6 || n > 200 || strcmp(v + n - 6, ".slice") != 0 || v[0] == '-' || v[n - 7] == '-' ||
	    strstr(v, "--"))
		return fail(p, -EINVAL, "%s = '%s' is not a slice name; write e.g. nook.slice or nook-lab.slice",
			    key, show(v, b));
	for (size_t i = 0; i < n - 6; i++)
		if (!cgroup_char(v[i]) || v[i] == '.')
			return fail(p, -EINVAL, "%s = '%s': a slice name may only contain letters, digits, '_' and '-' before .slice",
				    key, show(v, b));
	e->str = strdup(v);
	return e->str ? 0 : -ENOMEM;
}

/* A network interface name the kernel takes (at most 15 bytes, no '/',
 * ':' or blanks), kept to a plain alphabet; "nk-" is the prefix of the
 * containers' veths and cannot name a bridge. */
static int parse_ifname(struct parser *p, const char *key, const char *v, struct entry *e)
{
	char b[SHOW_MAX + 4];
	size_t n = strlen(v);

	if (n > NOOK_IFNAME_MAX)
		return fail(p, -EINVAL, "%s = '%s' is longer than %d characters; shorten it", key, show(v, b),
			    NOOK_IFNAME_MAX);
	for (size_t i = 0; i < n; i++)
		if (!cgroup_char(v[i]))
			return fail(p, -EINVAL, "%s = '%s': an interface name may only contain letters, digits, '_', '.' and '-'",
				    key, show(v, b));
	if (strcmp(v, ".") == 0 || strcmp(v, "..") == 0 || strncmp(v, "nk-", 3) == 0)
		return fail(p, -EINVAL, "%s = '%s' is reserved (nk-* are the containers' own interfaces); choose another name",
			    key, show(v, b));
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

static int parse_subnet(struct parser *p, const char *key, const char *v, struct entry *e, int family)
{
	const unsigned lo = SUBNET_PREFIX_MIN;
	const unsigned hi = family == AF_INET ? SUBNET4_PREFIX_MAX : SUBNET6_PREFIX_MAX;
	const char *example = family == AF_INET ? DEFAULT_BRIDGE_SUBNET : "fd00:213::/64";
	char b[SHOW_MAX + 4], text[INET6_ADDRSTRLEN];
	struct nook_cidr c;
	int r = nook_parse_cidr(v, family, &c);

	if (r < 0)
		return fail(p, r, "%s = '%s' is not an %s prefix; write ADDRESS/LENGTH, e.g. %s", key, show(v, b),
			    family == AF_INET ? "IPv4" : "IPv6", example);
	if (c.prefix < lo || c.prefix > hi)
		return fail(p, -ERANGE, "%s = '%s': the length must be from /%u to /%u", key, show(v, b), lo, hi);
	if (!cidr_usable(&c))
		return fail(p, -EINVAL, "%s = '%s' is a loopback, multicast or reserved range; use a private one such as %s",
			    key, show(v, b), example);
	if (nook_cidr_host_bits(&c)) {
		for (unsigned i = 0; i < 16; i++) {
			unsigned first = i * 8;

			if (first >= c.prefix)
				c.addr[i] = 0;
			else if (first + 8 > c.prefix)
				c.addr[i] &= (uint8_t) (0xffu << (8 - (c.prefix - first)));
		}
		(void) inet_ntop(family, c.addr, text, sizeof(text));
		return fail(p, -EINVAL, "%s = '%s' has host bits set; write the network, %s/%u", key, show(v, b),
			    text, c.prefix);
	}
	e->str = strdup(v);
	return e->str ? 0 : -ENOMEM;
}

static int parse_subnet4(struct parser *p, const char *key, const char *v, struct entry *e)
{
	return parse_subnet(p, key, v, e, AF_INET);
}

static int parse_subnet6(struct parser *p, const char *key, const char *v, struct entry *e)
{
	return parse_subnet(p, key, v, e, AF_INET6);
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
			return fail(p, -EINVAL, "%s: '%s' is not a numeric IPv4 or IPv6 address; write e.g. 192.0.2.53",
				    key, show(w, b));
		if (++n > NOOK_DNS_MAX)
			return fail(p, -E2BIG, "%s: more than %d name servers; the resolver only uses %d, so list at most that many",
				    key, NOOK_DNS_MAX, NOOK_DNS_MAX);
		(void) inet_ntop(family, bin, text, sizeof(text));
		len += (size_t) snprintf(out + len, sizeof(out) - len, "%s%s", len ? " " : "", text);
	}
	if (n == 0)
		return fail(p, -EINVAL, "'%s' lists no address; give one or remove the line", key);
	e->str = strdup(out);
	return e->str ? 0 : -ENOMEM;
}

static int parse_dns(struct parser *p, const char *key, const char *v, struct entry *e)
{
	char *copy = strdup(v);
	int r;

	if (!copy)
		return -ENOMEM;
	r = parse_dns_items(p, key, copy, e);
	free(copy);
	return r;
}

static int parse_profile(struct parser *p, const char *key, const char *v, struct entry *e)
{
	char b[SHOW_MAX + 4];

	if (strcmp(v, "restricted") != 0)
		return fail(p, -EINVAL, "%s = '%s' is not supported; the only value is restricted", key,
			    show(v, b));
	e->num = NOOK_PROFILE_RESTRICTED;
	return 0;
}

static const struct key_def keys[] = {
	{ "enable", parse_enable, K_ENABLE, false, false, false, false },
	{ "users", parse_who, K_USERS, true, false, false, true },
	{ "exempt", parse_who, K_EXEMPT, true, false, false, true },
	{ "rootfs", parse_path, K_ROOTFS, false, false, false, false },
	{ "hide", parse_hide, K_HIDE, false, true, true, false },
	{ "bind", parse_bind, K_BIND, false, true, true, false },
	{ "image_dir", parse_path, K_IMAGE_DIR, false, false, false, false },
	{ "image_size", parse_image_size, K_IMAGE_SIZE, false, false, false, false },
	{ "image_space", parse_image_space, K_IMAGE_SPACE, false, false, false, false },
	{ "hostname", parse_hostname, K_HOSTNAME, false, false, false, false },
	{ "linger", parse_linger, K_LINGER, false, false, false, false },
	{ "lock_timeout", parse_lock_timeout, K_LOCK_TIMEOUT, false, false, false, false },
	{ "memory_max", parse_memory_max, K_MEMORY_MAX, false, false, false, false },
	{ "cpu_max", parse_cpu_max, K_CPU_MAX, false, false, false, false },
	{ "pids_max", parse_pids_max, K_PIDS_MAX, false, false, false, false },
	{ "cgroup_root", parse_cgroup_root, K_CGROUP_ROOT, false, false, false, false },
	{ "cgroup_manager", parse_cgroup_manager, K_CGROUP_MANAGER, false, false, false, false },
	{ "systemd_slice", parse_slice, K_SYSTEMD_SLICE, false, false, false, false },
	{ "network", parse_network, K_NETWORK, false, false, false, false },
	{ "bridge", parse_ifname, K_BRIDGE, false, false, false, false },
	{ "bridge_subnet", parse_subnet4, K_BRIDGE_SUBNET, false, false, false, false },
	{ "bridge_subnet6", parse_subnet6, K_BRIDGE_SUBNET6, false, false, false, false },
	{ "isolate", parse_enable, K_ISOLATE, false, false, false, false },
	{ "host_access", parse_enable, K_HOST_ACCESS, false, false, false, false },
	{ "dns", parse_dns, K_DNS, false, false, false, false },
	{ "profile", parse_profile, K_PROFILE, false, false, false, false },
	{ "tmpfs_size", parse_tmpfs_size, K_TMPFS_SIZE, false, false, false, false },
};

static const struct key_def *key_lookup(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(keys); i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static const char *key_name(enum key_id id)
{
	for (size_t i = 0; i < ELEMENTSOF(keys); i++)
		if (keys[i].id == id)
			return keys[i].name;
	return "?";
}

static bool key_is_list(enum key_id id)
{
	for (size_t i = 0; i < ELEMENTSOF(keys); i++)
		if (keys[i].id == id)
			return keys[i].list;
	return false;
}

/* ---- the parsed form ---------------------------------------------------- */

static void entry_clear(struct entry *e)
{
	free(e->str);
	free(e->dst);
	for (size_t i = 0; i < e->n_who; i++)
		free(e->who[i].name);
	free(e->who);
}

static void section_clear(struct section *s)
{
	for (size_t i = 0; i < s->n_entries; i++)
		entry_clear(&s->entries[i]);
	free(s->entries);
	free(s->name);
}

/* Drops what a failed parse added, so that a conf is either updated by a
 * whole file or not at all. */
static void conf_truncate(struct nook_conf *c, size_t n_sections, size_t n_warnings)
{
	while (c->n_sections > n_sections)
		section_clear(&c->sections[--c->n_sections]);
	while (c->n_warnings > n_warnings) {
		free(c->warnings[--c->n_warnings]);
		c->warnings[c->n_warnings] = NULL;
	}
}

struct nook_conf *nook_conf_new(void)
{
	return calloc(1, sizeof(struct nook_conf));
}

void nook_conf_free(struct nook_conf *conf)
{
	if (!conf)
		return;
	conf_truncate(conf, 0, 0);
	free(conf->sections);
	free(conf->warnings);
	free(conf);
}

char *const *nook_conf_warnings(const struct nook_conf *conf)
{
	static char *const none[] = { NULL };

	return conf && conf->warnings ? conf->warnings : none;
}

int nook_conf_image_dirs(const struct nook_conf *conf, char ***ret)
{
	_cleanup_strv_ char **v = NULL;
	size_t n = 0;
	bool default_set = false;

	if (!conf || !ret)
		return -EINVAL;
	v = calloc(conf->n_sections + 2, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < conf->n_sections; i++) {
		const struct section *sec = &conf->sections[i];

		for (size_t j = 0; j < sec->n_entries; j++) {
			const struct entry *e = &sec->entries[j];
			bool seen = false;

			if (e->key != K_IMAGE_DIR)
				continue;
			if (sec->type == SEC_DEFAULT)
				default_set = true;
			for (size_t k = 0; k < n && !seen; k++)
				seen = strcmp(v[k], e->str) == 0;
			if (!seen && !(v[n++] = strdup(e->str)))
				return -ENOMEM;
		}
	}
	if (!default_set) {
		bool seen = false;

		for (size_t k = 0; k < n && !seen; k++)
			seen = strcmp(v[k], DEFAULT_IMAGE_DIR) == 0;
		if (!seen && !(v[n++] = strdup(DEFAULT_IMAGE_DIR)))
			return -ENOMEM;
	}
	*ret = TAKE_PTR(v);
	return 0;
}

static struct section *section_add(struct nook_conf *c, enum section_type type, unsigned line)
{
	struct section *s;

	if (c->n_sections == c->cap_sections) {
		size_t cap = c->cap_sections ? c->cap_sections * 2 : 8;
		s = reallocarray(c->sections, cap, sizeof(*s));
		if (!s)
			return NULL;
		c->sections = s;
		c->cap_sections = cap;
	}
	s = &c->sections[c->n_sections++];
	*s = (struct section) { .type = type, .line = line };
	return s;
}

static struct entry *entry_add(struct section *s, enum key_id key, unsigned line)
{
	struct entry *e;

	if (s->n_entries == s->cap_entries) {
		size_t cap = s->cap_entries ? s->cap_entries * 2 : 8;
		e = reallocarray(s->entries, cap, sizeof(*e));
		if (!e)
			return NULL;
		s->entries = e;
		s->cap_entries = cap;
	}
	e = &s->entries[s->n_entries++];
	*e = (struct entry) { .key = key, .line = line };
	return e;
}

/* ---- parsing one file --------------------------------------------------- */

static const char *section_type_name(enum section_type t)
{
	static const char *const names[] = {
		[SEC_DEFAULT] = "default",
		[SEC_GROUP] = "group",
		[SEC_USER] = "user",
	};
	return names[t];
}

static int parse_header(struct parser *p, char *line)
{
	static const struct {
		const char *prefix;
		enum section_type type;
	} types[] = {
		{ "group:", SEC_GROUP },
		{ "user:", SEC_USER },
	};
	char b[SHOW_MAX + 4], b2[SHOW_MAX + 4];
	size_t n = strlen(line);
	struct section *s;
	const char *name = NULL;
	enum section_type type = SEC_DEFAULT;
	char *inner;
	int r;

	if (line[n - 1] != ']')
		return fail(p, -EINVAL, "section header '%s' lacks the closing ']'; add it", show(line, b));
	line[n - 1] = '\0';
	inner = trim(line + 1);
	if (strcmp(inner, "default") != 0) {
		for (size_t i = 0; i < ELEMENTSOF(types) && !name; i++)
			if (strncmp(inner, types[i].prefix, strlen(types[i].prefix)) == 0) {
				type = types[i].type;
				name = inner + strlen(types[i].prefix);
			}
		if (!name)
			return fail(p, -EINVAL, "unknown section [%s]; use [default], [group:NAME] or [user:NAME]",
				    show(inner, b));
		if (!valid_name(name))
			return fail(p, -EINVAL, "[%s]: '%s' is not a valid %s name; use lower-case letters, digits, '_', '-' or '.' (at most %d)",
				    show(inner, b), show(name, b2), section_type_name(type), NAME_LEN_MAX);
	}

	s = section_add(p->conf, type, p->line);
	if (!s)
		return -ENOMEM;
	if (!name)
		return 0;
	s->name = strdup(name);
	if (!s->name)
		return -ENOMEM;
	if (type == SEC_GROUP) {
		r = group_lookup(name, &s->gid);
		if (r < 0)
			return lookup_failed(p, r, "group", name);
		s->gid_known = r > 0;
		if (!r)
			return warn(p, "[group:%s] names a group that does not exist; the section applies to nobody",
				    name);
	} else {
		r = user_exists(name);
		if (r < 0)
			return lookup_failed(p, r, "user", name);
		if (!r)
			return warn(p, "[user:%s] names a user that does not exist; the section applies to nobody until it does",
				    name);
	}
	return 0;
}

static int parse_assignment(struct parser *p, char *line, struct section **cur)
{
	char b[SHOW_MAX + 4];
	const struct key_def *k;
	char *eq = strchr(line, '=');
	char *key, *value;

	if (!eq)
		return fail(p, -EINVAL, "'%s' is not 'key = value', a [section] or a comment; fix the line",
			    show(line, b));
	*eq = '\0';
	key = trim(line);
	value = trim(eq + 1);

	k = key_lookup(key);
	if (!k)
		return fail(p, -EINVAL, "unknown key '%s'; see nook.conf(5) for the valid keys", show(key, b));
	/* Keys before the first header belong to [default]. */
	if (!*cur) {
		*cur = section_add(p->conf, SEC_DEFAULT, p->line);
		if (!*cur)
			return -ENOMEM;
	}
	if (k->default_only && (*cur)->type != SEC_DEFAULT)
		return fail(p, -EINVAL, "'%s' is only valid in [default] (it decides who gets a container); move it there",
			    k->name);
	if (!*value && !k->may_be_empty)
		return fail(p, -EINVAL, "'%s' has an empty value; give one or remove the line", k->name);

	if (!k->split) {
		struct entry *e = entry_add(*cur, k->id, p->line);
		return e ? k->parse(p, k->name, value, e) : -ENOMEM;
	}
	for (char *save = NULL, *w = strtok_r(value, " \t\r\v\f", &save); w;
	     w = strtok_r(NULL, " \t\r\v\f", &save)) {
		struct entry *e = entry_add(*cur, k->id, p->line);
		int r = e ? k->parse(p, k->name, w, e) : -ENOMEM;
		if (r < 0)
			return r;
	}
	return 0;
}

struct dup_item {
	enum section_type type;
	const char *name;
	enum key_id key;
	unsigned line;
};

static int dup_cmp(const void *a, const void *b)
{
	const struct dup_item *x = a, *y = b;
	int r;

	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	r = strcmp(x->name ? x->name : "", y->name ? y->name : "");
	if (r)
		return r;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* A scalar key set twice in one section of one file is almost always an
 * editing mistake, and silently taking the last would hide it. A section
 * header may repeat within the file, so compare across all of the file's
 * sections: sorting keeps this O(n log n) for large generated configs. */
static int check_duplicates(struct parser *p, size_t first_section)
{
	struct nook_conf *c = p->conf;
	_cleanup_free_ struct dup_item *items = NULL;
	const struct dup_item *found = NULL;
	size_t n = 0;

	for (size_t i = first_section; i < c->n_sections; i++)
		n += c->sections[i].n_entries;
	if (n < 2)
		return 0;
	items = calloc(n, sizeof(*items));
	if (!items)
		return -ENOMEM;
	n = 0;
	for (size_t i = first_section; i < c->n_sections; i++) {
		const struct section *s = &c->sections[i];
		for (size_t j = 0; j < s->n_entries; j++)
			if (!key_is_list(s->entries[j].key))
				items[n++] = (struct dup_item) { s->type, s->name, s->entries[j].key,
								 s->entries[j].line };
	}
	qsort(items, n, sizeof(*items), dup_cmp);
	for (size_t i = 1; i < n; i++) {
		const struct dup_item *a = &items[i - 1], *d = &items[i];
		if (a->type != d->type || a->key != d->key ||
		    strcmp(a->name ? a->name : "", d->name ? d->name : "") != 0)
			continue;
		/* Report the earliest duplicate line, as a reader would find it. */
		if (!found || d->line < found->line)
			found = d;
	}
	if (!found)
		return 0;
	{
		unsigned first = found->line;
		for (size_t i = 0; i < n; i++)
			if (items[i].type == found->type && items[i].key == found->key &&
			    strcmp(items[i].name ? items[i].name : "", found->name ? found->name : "") == 0 &&
			    items[i].line < first)
				first = items[i].line;
		p->line = found->line;
		return fail(p, -EINVAL, "duplicate key '%s' in [%s%s%s] (first set at line %u); remove one of them",
			    key_name(found->key), section_type_name(found->type), found->name ? ":" : "",
			    found->name ? found->name : "", first);
	}
}

static int parse_text(struct parser *p, char *text)
{
	struct section *cur = NULL;
	char *next;

	for (char *line = text; line; line = next) {
		char *l;
		int r;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		p->line++;
		l = trim(line);
		if (!*l || *l == '#' || *l == ';')
			continue;
		if (*l == '[') {
			r = parse_header(p, l);
			/* parse_header appended the section (possibly before failing). */
			cur = p->conf->n_sections ? &p->conf->sections[p->conf->n_sections - 1] : NULL;
		} else {
			r = parse_assignment(p, l, &cur);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

int nook_conf_parse_buffer(struct nook_conf *conf, const char *name, const char *buf, size_t len,
			   char **ret_err)
{
	struct parser p = { .conf = conf, .file = name };
	char *text = NULL;
	size_t n_sections, n_warnings;
	const char *nul;
	int r;

	if (!conf || !name || (!buf && len))
		return -EINVAL;
	n_sections = conf->n_sections;
	n_warnings = conf->n_warnings;

	nul = len ? memchr(buf, '\0', len) : NULL;
	if (nul) {
		for (const char *c = buf; c <= nul; c++)
			p.line += c == buf || c[-1] == '\n';
		r = fail(&p, -EINVAL, "contains a NUL byte; the file must be plain text");
	} else {
		text = strndup(len ? buf : "", len);
		r = text ? parse_text(&p, text) : -ENOMEM;
		if (r >= 0)
			r = check_duplicates(&p, n_sections);
		free(text);
	}
	if (r < 0) {
		conf_truncate(conf, n_sections, n_warnings);
		if (ret_err)
			*ret_err = TAKE_PTR(p.err);
		free(p.err);
		return r;
	}
	return 0;
}

/* ---- loading files ------------------------------------------------------ */

/* The config decides who is confined and how: anyone who can write it can
 * exempt themselves, so only root may own or write it (DESIGN: security). */
static int check_owner(int fd, const char *path, bool dir, char **ret_err)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return fail_file(ret_err, -errno, "%s: cannot stat: %m", path);
	if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
		return fail_file(ret_err, dir ? -ENOTDIR : -EINVAL, "%s: not a %s; replace it with one",
				 path, dir ? "directory" : "regular file");
	if (st.st_uid != 0)
		return fail_file(ret_err, -EPERM, "%s: owned by uid %u, must be owned by root; chown root %s",
				 path, (unsigned) st.st_uid, path);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return fail_file(ret_err, -EPERM, "%s: writable by group or others (mode %04o); chmod go-w %s",
				 path, (unsigned) (st.st_mode & 07777), path);
	if (!dir && st.st_size > CONF_FILE_MAX)
		return fail_file(ret_err, -EFBIG, "%s: %lld bytes, more than the limit of %d; make it smaller",
				 path, (long long) st.st_size, CONF_FILE_MAX);
	return 0;
}

/* Reads at most CONF_FILE_MAX bytes; the file may have grown since fstat. */
static int read_all(int fd, const char *path, char **ret, size_t *ret_len, char **ret_err)
{
	size_t cap = 4096, len = 0;
	_cleanup_free_ char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *nb;
			if (cap > CONF_FILE_MAX)
				return fail_file(ret_err, -EFBIG, "%s: more than the limit of %d bytes; make it smaller",
						 path, CONF_FILE_MAX);
			cap *= 2;
			nb = realloc(buf, cap);
			if (!nb)
				return -ENOMEM;
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail_file(ret_err, -errno, "%s: cannot read: %m", path);
		if (n == 0)
			break;
		len += (size_t) n;
	}
	if (len > CONF_FILE_MAX)
		return fail_file(ret_err, -EFBIG, "%s: more than the limit of %d bytes; make it smaller", path,
				 CONF_FILE_MAX);
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

static int load_file(struct nook_conf *c, int dirfd, const char *name, const char *path, char **ret_err)
{
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r;

	/* Symlinks are allowed (admins link shared snippets); what counts is the
	 * file actually opened, hence fstat on the fd. O_NONBLOCK keeps a FIFO
	 * from hanging the login; the S_ISREG check then refuses it. */
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return fail_file(ret_err, -ENOENT, "%s: does not exist; create it (see nook.conf(5))",
					 path);
		return fail_file(ret_err, -errno, "%s: cannot open: %m", path);
	}
	r = check_owner(fd, path, false, ret_err);
	if (r < 0)
		return r;
	r = read_all(fd, path, &buf, &len, ret_err);
	if (r < 0)
		return r;
	return nook_conf_parse_buffer(c, path, buf, len, ret_err);
}

static int strcmp_ptr(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static bool is_dropin_name(const char *n)
{
	size_t len = strlen(n);

	return n[0] != '.' && len > 5 && strcmp(n + len - 5, ".conf") == 0;
}

static int load_dropins(struct nook_conf *c, const char *dpath, char **ret_err)
{
	_cleanup_close_ int dfd = -EBADF;
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_strv_ char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int r;

	dfd = open(dpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		if (errno == ENOENT)
			return 0;
		return fail_file(ret_err, -errno, "%s: cannot open directory: %m", dpath);
	}
	r = check_owner(dfd, dpath, true, ret_err);
	if (r < 0)
		return r;
	d = fdopendir(dfd);
	if (!d)
		return fail_file(ret_err, -errno, "%s: cannot read directory: %m", dpath);
	TAKE_FD(dfd); /* now owned by d */

	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		if (!is_dropin_name(de->d_name))
			continue;
		if (n + 1 >= cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char **nn = reallocarray(names, ncap, sizeof(*nn));
			if (!nn)
				return -ENOMEM;
			names = nn;
			cap = ncap;
		}
		names[n] = strdup(de->d_name);
		if (!names[n])
			return -ENOMEM;
		names[++n] = NULL;
	}
	if (errno)
		return fail_file(ret_err, -errno, "%s: cannot read directory: %m", dpath);
	if (!names)
		return 0;
	/* strcmp, not strcoll: the order must not depend on the locale. */
	qsort(names, n, sizeof(*names), strcmp_ptr);

	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *path = NULL;

		if (asprintf(&path, "%s/%s", dpath, names[i]) < 0)
			return -ENOMEM;
		r = load_file(c, dirfd(d), names[i], path, ret_err);
		if (r < 0)
			return r;
	}
	return 0;
}

int nook_conf_load(const char *path, struct nook_conf **ret, char **ret_err)
{
	_cleanup_free_ char *dpath = NULL;
	struct nook_conf *c;
	char *err = NULL;
	int r;

	if (!path || !ret)
		return -EINVAL;
	if (asprintf(&dpath, "%s.d", path) < 0)
		return -ENOMEM;
	c = nook_conf_new();
	if (!c)
		return -ENOMEM;

	r = load_file(c, AT_FDCWD, path, path, &err);
	if (r >= 0)
		r = load_dropins(c, dpath, &err);
	if (r < 0) {
		nook_conf_free(c);
		if (ret_err)
			*ret_err = err;
		else
			free(err);
		return r;
	}
	*ret = c;
	return 0;
}

/* ---- resolution --------------------------------------------------------- */

struct ident {
	const char *user;
	gid_t gid;
	const gid_t *groups;
	size_t n_groups;
};

static bool in_groups(const struct ident *id, gid_t g)
{
	if (id->gid == g)
		return true;
	for (size_t i = 0; i < id->n_groups; i++)
		if (id->groups[i] == g)
			return true;
	return false;
}

static bool section_applies(const struct section *s, const struct ident *id)
{
	switch (s->type) {
	case SEC_DEFAULT:
		return true;
	case SEC_GROUP:
		return s->gid_known && in_groups(id, s->gid);
	case SEC_USER:
		return strcmp(s->name, id->user) == 0;
	}
	return false;
}

/* The entries that apply to one user, after precedence. */
struct resolved {
	const struct entry *win[K_COUNT_]; /* last scalar of each key; NULL = default */
	size_t n_hide, n_bind;
};

/* Calls FN on every entry that applies to ID, in increasing precedence:
 * [default] sections, then matching [group:] sections, then [user:] ones,
 * each kind in file order. */
static void for_each_entry(const struct nook_conf *c, const struct ident *id,
			   void (*fn)(const struct entry *e, void *arg), void *arg)
{
	static const enum section_type order[] = { SEC_DEFAULT, SEC_GROUP, SEC_USER };

	for (size_t o = 0; o < ELEMENTSOF(order); o++)
		for (size_t i = 0; i < c->n_sections; i++) {
			const struct section *s = &c->sections[i];
			if (s->type != order[o] || !section_applies(s, id))
				continue;
			for (size_t j = 0; j < s->n_entries; j++)
				fn(&s->entries[j], arg);
		}
}

static void pick_winner(const struct entry *e, void *arg)
{
	struct resolved *r = arg;

	if (e->key == K_HIDE)
		r->n_hide++;
	else if (e->key == K_BIND)
		r->n_bind++;
	else
		r->win[e->key] = e;
}

static bool who_matches(const struct entry *e, const char *fallback, const struct ident *id)
{
	if (!e)
		return fallback && strcmp(fallback, id->user) == 0;
	for (size_t i = 0; i < e->n_who; i++) {
		const struct who *w = &e->who[i];
		switch (w->kind) {
		case WHO_ALL:
			return true;
		case WHO_USER:
			if (strcmp(w->name, id->user) == 0)
				return true;
			break;
		case WHO_GROUP:
			if (w->gid_known && in_groups(id, w->gid))
				return true;
			break;
		}
	}
	return false;
}

int nook_conf_selected(const struct nook_conf *conf, const char *user, gid_t gid,
		       const gid_t *groups, size_t n_groups)
{
	const struct ident id = { user, gid, groups, n_groups };
	struct resolved r = { 0 };

	if (!conf || !user || (!groups && n_groups))
		return -EINVAL;
	for_each_entry(conf, &id, pick_winner, &r);
	/* users and exempt only exist in [default], so they are global. */
	if (who_matches(r.win[K_EXEMPT], DEFAULT_EXEMPT, &id))
		return 0;
	if (!who_matches(r.win[K_USERS], NULL, &id))
		return 0;
	return r.win[K_ENABLE] ? r.win[K_ENABLE]->num != 0 : 1;
}

struct list_fill {
	struct nook_settings *s;
	size_t n_hide;
	int r;
};

static void fill_lists(const struct entry *e, void *arg)
{
	struct list_fill *f = arg;

	if (f->r < 0)
		return;
	if (e->key == K_HIDE) {
		f->s->hide[f->n_hide] = strdup(e->str);
		if (!f->s->hide[f->n_hide++])
			f->r = -ENOMEM;
	} else if (e->key == K_BIND) {
		struct nook_bind *b = &f->s->binds[f->s->n_binds++];
		b->src = strdup(e->str);
		b->dst = strdup(e->dst);
		b->ro = e->ro;
		if (!b->src || !b->dst)
			f->r = -ENOMEM;
	}
}

/* Expands %u and %%; the result must be a hostname sethostname() takes and
 * resolvers accept, else -EINVAL (e.g. a user name with '_'). */
static int expand_hostname(const char *tmpl, const char *user, char **ret)
{
	char out[HOSTNAME_LEN_MAX + 1];
	size_t n = 0;

	for (const char *c = tmpl; *c; c++) {
		const char *add = c;
		size_t len = 1;

		if (*c == '%') {
			c++;
			if (*c == 'u') {
				add = user;
				len = strlen(user);
			} else if (*c != '%') {
				return -EINVAL;
			}
			/* else "%%": add the '%' at c. The spec keeps the escape, although
			 * the hostname check below then refuses the result. */
		}
		if (len > HOSTNAME_LEN_MAX - n)
			return -EINVAL;
		for (size_t i = 0; i < len; i++)
			out[n++] = add[i];
	}
	if (n == 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!hostname_char(out[i]))
			return -EINVAL;
	out[n] = '\0';
	*ret = strdup(out);
	return *ret ? 0 : -ENOMEM;
}

/* "a b c" -> NULL-terminated {"a", "b", "c"}. */
static int split_dns(const char *text, char ***ret)
{
	char **list = calloc(NOOK_DNS_MAX + 1, sizeof(*list));
	const char *p = text;
	size_t n = 0;

	if (!list)
		return -ENOMEM;
	*ret = list;
	while (*p && n < NOOK_DNS_MAX) {
		size_t len = strcspn(p, " ");

		list[n] = strndup(p, len);
		if (!list[n++])
			return -ENOMEM;
		p += len;
		while (*p == ' ')
			p++;
	}
	return 0;
}

static int dup_str(const struct entry *e, const char *def, char **ret)
{
	*ret = strdup(e ? e->str : def);
	return *ret ? 0 : -ENOMEM;
}

/* Fills S (zeroed by the caller) from the winning entries; on failure S
 * may be half filled, and the caller frees it. */
static int settings_fill(const struct nook_conf *c, const struct ident *id, struct nook_settings *s)
{
	struct resolved r = { 0 };
	struct list_fill fill = { .s = s };
	const struct entry *const *w = r.win;
	int q;

	for_each_entry(c, id, pick_winner, &r);

	s->enable = w[K_ENABLE] ? w[K_ENABLE]->num != 0 : true;
	s->image_size = w[K_IMAGE_SIZE] ? w[K_IMAGE_SIZE]->num : DEFAULT_IMAGE_SIZE;
	s->image_space_warn = w[K_IMAGE_SPACE] ? w[K_IMAGE_SPACE]->num != 0 : false;
	s->linger_ms = w[K_LINGER] ? w[K_LINGER]->num : 0;
	s->lock_timeout_ms = w[K_LOCK_TIMEOUT] ? w[K_LOCK_TIMEOUT]->num : NOOK_LOCK_TIMEOUT_MS;
	/* Unset limits are derived from the host's size later
	 * (nook_settings_auto_limits): no configuration is unbounded by
	 * omission; "max" is the explicit way to say so. */
	s->memory_max = w[K_MEMORY_MAX] ? w[K_MEMORY_MAX]->num : NOOK_LIMIT_AUTO;
	s->cpu_max = w[K_CPU_MAX] ? (uint32_t) w[K_CPU_MAX]->num : NOOK_CPU_AUTO;
	s->pids_max = w[K_PIDS_MAX] ? w[K_PIDS_MAX]->num : NOOK_LIMIT_AUTO;
	s->tmpfs_size = w[K_TMPFS_SIZE] ? w[K_TMPFS_SIZE]->num : NOOK_LIMIT_AUTO;
	s->cgroup_manager = w[K_CGROUP_MANAGER] ? (enum nook_cgroup_manager) w[K_CGROUP_MANAGER]->num
						 : NOOK_CG_AUTO;
	s->network = w[K_NETWORK] ? (enum nook_network) w[K_NETWORK]->num : NOOK_NET_NONE;
	s->isolate = w[K_ISOLATE] ? w[K_ISOLATE]->num != 0 : true;
	s->host_access = w[K_HOST_ACCESS] ? w[K_HOST_ACCESS]->num != 0 : false;
	/* Validated at parse time; parsed again here into binary form. */
	if (nook_parse_cidr(w[K_BRIDGE_SUBNET] ? w[K_BRIDGE_SUBNET]->str : DEFAULT_BRIDGE_SUBNET, AF_INET,
			    &s->bridge_subnet) < 0)
		return -EINVAL;
	if (w[K_BRIDGE_SUBNET6] && nook_parse_cidr(w[K_BRIDGE_SUBNET6]->str, AF_INET6, &s->bridge_subnet6) < 0)
		return -EINVAL;
	q = split_dns(w[K_DNS] ? w[K_DNS]->str : "", &s->dns);
	if (q < 0)
		return q;
	s->profile = w[K_PROFILE] ? (enum nook_profile) w[K_PROFILE]->num : NOOK_PROFILE_RESTRICTED;

	q = expand_hostname(w[K_HOSTNAME] ? w[K_HOSTNAME]->str : DEFAULT_HOSTNAME, id->user, &s->hostname);
	if (q < 0)
		return q;
	if (dup_str(w[K_ROOTFS], DEFAULT_ROOTFS, &s->rootfs) < 0 ||
	    dup_str(w[K_IMAGE_DIR], DEFAULT_IMAGE_DIR, &s->image_dir) < 0 ||
	    dup_str(w[K_CGROUP_ROOT], DEFAULT_CGROUP_ROOT, &s->cgroup_root) < 0 ||
	    dup_str(w[K_SYSTEMD_SLICE], DEFAULT_SYSTEMD_SLICE, &s->systemd_slice) < 0 ||
	    dup_str(w[K_BRIDGE], DEFAULT_BRIDGE, &s->bridge) < 0)
		return -ENOMEM;

	s->hide = calloc(r.n_hide + 1, sizeof(*s->hide));
	if (!s->hide)
		return -ENOMEM;
	if (r.n_bind) {
		s->binds = calloc(r.n_bind, sizeof(*s->binds));
		if (!s->binds)
			return -ENOMEM;
	}
	for_each_entry(c, id, fill_lists, &fill);
	return fill.r;
}

int nook_conf_resolve(const struct nook_conf *conf, const char *user, gid_t gid,
		      const gid_t *groups, size_t n_groups, struct nook_settings *ret)
{
	const struct ident id = { user, gid, groups, n_groups };
	struct nook_settings s = { 0 };
	int r;

	if (!conf || !user || !ret || (!groups && n_groups))
		return -EINVAL;
	r = settings_fill(conf, &id, &s);
	if (r < 0) {
		nook_settings_free(&s);
		return r;
	}
	*ret = s;
	return 0;
}

void nook_settings_free(struct nook_settings *s)
{
	if (!s)
		return;
	free(s->rootfs);
	if (s->hide)
		for (char **h = s->hide; *h; h++)
			free(*h);
	free(s->hide);
	for (size_t i = 0; i < s->n_binds; i++) {
		free(s->binds[i].src);
		free(s->binds[i].dst);
	}
	free(s->binds);
	free(s->image_dir);
	free(s->hostname);
	free(s->cgroup_root);
	free(s->systemd_slice);
	free(s->bridge);
	if (s->dns)
		for (char **d = s->dns; *d; d++)
			free(*d);
	free(s->dns);
	*s = (struct nook_settings) { 0 };
}

/*
 * The limits a configuration leaves unset, from the host's size (documented
 * in nook.conf(5)): half the host's memory, a quarter of its thread limit
 * (at most 4096 tasks), half its CPUs (at least one); each tmpfs (/tmp,
 * /run, /dev/shm) a quarter of the container's memory (of the host's when
 * memory_max is max), so that filling all three leaves room to log in.
 */
void nook_settings_auto_limits(struct nook_settings *s, const struct nook_host_size *h)
{
	const uint64_t mib = UINT64_C(1) << 20;

	if (s->memory_max == NOOK_LIMIT_AUTO)
		s->memory_max = h->mem_total / 2 / mib * mib;
	if (s->pids_max == NOOK_LIMIT_AUTO) {
		s->pids_max = h->threads_max / 4;
		if (s->pids_max > 4096)
			s->pids_max = 4096;
		if (s->pids_max < 64)
			s->pids_max = 64;
	}
	if (s->cpu_max == NOOK_CPU_AUTO)
		s->cpu_max = 100 * (h->n_cpus >= 2 ? h->n_cpus / 2 : 1);
	if (s->tmpfs_size == NOOK_LIMIT_AUTO) {
		uint64_t base = s->memory_max ? s->memory_max : h->mem_total;

		s->tmpfs_size = base / 4 / mib * mib;
		if (s->tmpfs_size < mib)
			s->tmpfs_size = mib;
	}
}
