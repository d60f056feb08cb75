/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nook.conf: parsing, validation and per-user resolution.
 *
 * The configuration is /etc/nook/nook.conf followed by
 * /etc/nook/nook.conf.d/ *.conf in lexical order (for a config file F, the
 * drop-in directory is "F.d"). INI style: a [default] section, then
 * [group:NAME] and [user:NAME] sections that override it; for one user the
 * precedence is user over group over default, later files over earlier ones.
 *
 * Library code: returns -errno, never logs, never exits. Errors are reported
 * as one human-readable message ("FILE:LINE: what is wrong; what to do").
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NOOK_CONF_DEFAULT_PATH "/etc/nook/nook.conf"
#define NOOK_CONF_ERR_MAX 512

enum nook_network {
	NOOK_NET_NONE = 0, /* loopback only */
	NOOK_NET_PASTA,    /* user-mode networking through pasta(1) */
	NOOK_NET_BRIDGE,   /* a veth on a host bridge, NAT through nftables */
};

#define NOOK_IFNAME_MAX 15 /* IFNAMSIZ - 1 */
#define NOOK_DNS_MAX 3     /* glibc's resolver uses the first 3 (MAXNS) */

/* An address prefix: "10.213.0.0/16" or "fd00:213::/64". family is
 * AF_INET or AF_INET6, or 0 when unset; addr is in network byte order. */
struct nook_cidr {
	int family;
	uint8_t addr[16];
	unsigned prefix;
};

/* Who owns the user's cgroup: systemd (a delegated scope per user, made
 * over D-Bus), or nook itself under cgroup_root. auto: systemd when it runs
 * on a unified (v2) hierarchy. */
enum nook_cgroup_manager {
	NOOK_CG_AUTO = 0,
	NOOK_CG_SYSTEMD,
	NOOK_CG_CGROUPFS,
};

enum nook_profile {
	NOOK_PROFILE_RESTRICTED = 0,
};

struct nook_bind {
	char *src; /* absolute host path */
	char *dst; /* absolute path inside the container */
	bool ro;
};

/* The longest a login, exec or stop waits for the user's lock: longer
 * than anything the holder may legitimately do (create a large image, wait
 * 30 s for a stopping keeper). */
#define NOOK_LOCK_TIMEOUT_MS 90000

/* mosh_ports packed into one number: (LOW << 16) | HIGH. */
#define NOOK_MOSH_PORTS(low, high) (((uint32_t) (low) << 16) | (uint32_t) (high))
#define NOOK_MOSH_LOW(ports) ((uint16_t) ((ports) >> 16))
#define NOOK_MOSH_HIGH(ports) ((uint16_t) ((ports) &0xffff))

/* The settings that apply to one user, after resolution. */
struct nook_settings {
	bool enable;
	char *rootfs; /* absolute; default "/" */
	char **hide;  /* NULL-terminated list of absolute paths */
	struct nook_bind *binds;
	size_t n_binds;
	char *image_dir;       /* absolute; default /var/lib/nook/images */
	uint64_t image_size;   /* bytes; default 10G */
	bool image_space_warn; /* image_space = warn: start an image image_dir cannot back (default refuse) */
	char *hostname;        /* already expanded (%u -> user name) */
	uint64_t linger_ms;    /* default 0 */
	uint64_t lock_timeout_ms; /* longest wait for the user's lock; default NOOK_LOCK_TIMEOUT_MS */
	uint64_t memory_max;      /* bytes, 0 = no limit, NOOK_LIMIT_AUTO until resolved */
	uint32_t cpu_max;         /* percent of one CPU, 0 = no limit, NOOK_CPU_AUTO until resolved */
	uint64_t pids_max;        /* 0 = no limit, NOOK_LIMIT_AUTO until resolved */
	uint64_t pty_max;         /* ptys of the container's own devpts instance, 0 = the kernel's limit */
	uint64_t
		tmpfs_size; /* bytes per tmpfs inside, 0 = the kernel's default, NOOK_LIMIT_AUTO until resolved */
	char *cgroup_root;                       /* default "nook"; see nook.conf(5) */
	enum nook_cgroup_manager cgroup_manager; /* default auto */
	char *systemd_slice;                     /* default "nook.slice" */
	char *lxcfs; /* lxcfs mount whose /proc views the container gets; "none" for none */
	enum nook_network network;
	char *bridge;                    /* network = bridge: its name; default nook0 */
	struct nook_cidr bridge_subnet;  /* IPv4; default 10.213.0.0/16 */
	struct nook_cidr bridge_subnet6; /* IPv6, family 0 when unset */
	bool isolate;                    /* bridge: no traffic to other containers; default yes */
	bool host_access;                /* reach the host's own addresses; default no */
	char **dns;             /* NULL-terminated nameserver addresses (numeric); empty = automatic */
	uint32_t mosh_ports;    /* NOOK_MOSH_PORTS(low, high), 0 = none; default 61001-61999 */
	uint32_t mosh_sessions; /* ports per container (its slice of mosh_ports); default 10 */
	enum nook_profile profile;
};

/* What a limit the configuration does not set holds until
 * nook_settings_auto_limits() derives it from the host's size. */
#define NOOK_LIMIT_AUTO UINT64_MAX
#define NOOK_CPU_AUTO UINT32_MAX

struct nook_host_size {
	uint64_t mem_total;   /* bytes of RAM */
	unsigned n_cpus;      /* online */
	uint64_t threads_max; /* kernel.threads-max */
};
/* Replaces every NOOK_*_AUTO of S with its default for host H (pure). */
void nook_settings_auto_limits(struct nook_settings *s, const struct nook_host_size *h);

struct nook_conf; /* opaque: the parsed files */

/*
 * Loads PATH and PATH.d/ *.conf. Every file (and the drop-in directory, when
 * it exists) must be owned by root and not writable by group or others.
 * A missing PATH is -ENOENT; a missing PATH.d is fine.
 * On failure *ret_err (if not NULL) receives an allocated message.
 */
int nook_conf_load(const char *path, struct nook_conf **ret, char **ret_err);

/*
 * Parses one file's text, as if it were a file named NAME, appending to CONF
 * (which may be a fresh one from nook_conf_new()). No ownership checks: for
 * unit tests and the fuzzer. Later calls override earlier ones, like later
 * files do.
 */
struct nook_conf *nook_conf_new(void);
int nook_conf_parse_buffer(struct nook_conf *conf, const char *name, const char *buf, size_t len,
			   char **ret_err);

void nook_conf_free(struct nook_conf *conf);

/*
 * Non-fatal findings (e.g. "[user:bob] names a user that does not exist"),
 * as a NULL-terminated list owned by CONF. Checked for existence of users and
 * groups with getpwnam/getgrnam at load time.
 */
char *const *nook_conf_warnings(const struct nook_conf *conf);

/*
 * uid 0 is never containerized, whatever the configuration says (and before
 * it is even read): the container maps the user's own uid to itself, so
 * container root would be host root; and root's login on the host is how a
 * broken configuration gets repaired. pam_nook ignores such a user, the
 * helper refuses one: both ask here.
 */
bool nook_uid_never_contained(uid_t uid);

/*
 * Is USER (with primary group GID and supplementary GROUPS) selected?
 * Selected means: not listed in `exempt`, matched by `users` (name, @group or
 * *), and `enable` resolves to true for them. Returns 1 selected, 0 not.
 */
int nook_conf_selected(const struct nook_conf *conf, const char *user, gid_t gid, const gid_t *groups,
		       size_t n_groups);

/*
 * Resolves the settings for USER (default, then the [group:G] sections of
 * every group the user is in, in file order, then [user:USER]).
 * On success *ret is filled and must be released with nook_settings_free().
 */
int nook_conf_resolve(const struct nook_conf *conf, const char *user, gid_t gid, const gid_t *groups,
		      size_t n_groups, struct nook_settings *ret);

/*
 * Every image_dir CONF can resolve to: the [default] one (or the built-in
 * default when it sets none) and each section's, once each. A
 * NULL-terminated list, allocated (free each string and the list).
 */
int nook_conf_image_dirs(const struct nook_conf *conf, char ***ret);

void nook_settings_free(struct nook_settings *s);

/* Value parsers, exported for reuse and unit tests. All return 0 or -EINVAL/-ERANGE. */
int nook_parse_size(const char *s, uint64_t *ret);        /* "10G", "512M", "4096", "max" -> 0 */
int nook_parse_duration_ms(const char *s, uint64_t *ret); /* "0", "30s", "10m", "1h", "250ms" */
int nook_parse_bool(const char *s, bool *ret);            /* yes/no/true/false/on/off/1/0 */
/* "ADDR/LEN" of FAMILY (AF_INET or AF_INET6); -EINVAL if malformed, -ERANGE
 * if LEN is too long for the family. Host bits are kept as written. */
int nook_parse_cidr(const char *s, int family, struct nook_cidr *ret);
/* Whether CIDR has bits set below its prefix ("10.213.0.1/16"). */
bool nook_cidr_host_bits(const struct nook_cidr *c);
