/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Internal interfaces of the helper (nook-helper, nookctl): one section per
 * file that owns it. All functions return >= 0 on success and -errno on
 * failure; the ones that decide log once with the object in question.
 */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "conf.h"
#include "cgroup-path.h"
#include "client.h"
#include "enter.h"
#include "rundir.h"
#include "util.h"

#define NOOK_MAX_GROUPS 256
#define NOOK_SUBID_COUNT 65536UL

/* ---- user.c: who the container is for ---- */
struct nook_user {
	char name[NOOK_USER_MAX + 1];
	uid_t uid;
	gid_t gid;
	char *home;                    /* pw_dir, absolute */
	char *shell;                   /* pw_shell */
	gid_t groups[NOOK_MAX_GROUPS]; /* supplementary, including the primary */
	size_t n_groups;
	struct nook_settings set;
};

/* Looks USER up, loads CONF_PATH and resolves the user's settings.
 * Logs and returns -errno on any problem (unknown user, bad config). */
int nook_user_load(const char *conf_path, const char *name, struct nook_user *ret);
void nook_user_free(struct nook_user *u);
static inline void nook_user_freep(struct nook_user *u)
{
	nook_user_free(u);
}

/* ---- subid.c: subordinate id ranges ---- */
struct nook_subid {
	unsigned long uid_base, uid_count;
	unsigned long gid_base, gid_count;
};
int nook_subid_get(const struct nook_user *u, struct nook_subid *ret);
/* The first range of at least MIN_COUNT ids that PATH (/etc/subuid's
 * format) gives USER, by name first, then by UID: 1 and the range; 0 when
 * it gives none (or there is no file); -ERANGE with the first, smaller
 * range when none is large enough; -errno when it cannot be read. */
int nook_subid_files_pick(const char *path, const char *user, uid_t uid, unsigned long min_count,
			  unsigned long *ret_start, unsigned long *ret_count);

/* ---- userns.c: uid_map/gid_map text (pure, unit-tested) ---- */
#define NOOK_MAP_MAX 4096
int nook_idmap_format(bool gid, const struct nook_user *u, unsigned long base, unsigned long count, char *buf,
		      size_t size);
int nook_userns_write_maps(pid_t pid, const struct nook_user *u, const struct nook_subid *sub);
/* The host ids that own the container's user namespace: in its subordinate
 * range, never mapped (see userns.c). */
int nook_userns_owner(const struct nook_user *u, const struct nook_subid *sub, uid_t *ret_uid,
		      gid_t *ret_gid);

/* ---- cgroup.c: per-user cgroup, v1 and v2 behind one interface ---- */
/* Where a process was before it joined a user's cgroup (per hierarchy). */
struct nook_cg_origin {
	char path[NOOK_CG_MAX_CTRL][512];
};
struct nook_cg_stats {
	uint64_t memory_current, memory_max;
	uint64_t pids_current, pids_max;
};
int nook_cgroup_resolve(const char *sysfs_root, const char *cgroup_root, const char *user,
			const char *self_cgroup_file, struct nook_cgroup *ret);
/* Under systemd, after nook_systemd_scope_start(): the caller's scope
 * becomes the delegated root; the caller moves to its keeper leaf. */
int nook_cgroup_resolve_delegated(const char *sysfs_root, const char *self_cgroup_file,
				  struct nook_cgroup *ret);
int nook_cgroup_create(const struct nook_cgroup *cg, const struct nook_settings *s);
int nook_cgroup_kill_all(const struct nook_cgroup *cg);
int nook_cgroup_destroy(const struct nook_cgroup *cg);
int nook_cgroup_exists(const struct nook_cgroup *cg);
int nook_cgroup_origin(const struct nook_cgroup *cg, const char *self_cgroup_file,
		       struct nook_cg_origin *ret);
int nook_cgroup_return(const struct nook_cgroup *cg, const struct nook_cg_origin *o);
int nook_cgroup_stats(const struct nook_cgroup *cg, struct nook_cg_stats *ret);

/* ---- kernel.c: what nook needs of the running kernel ---- */
/* Logs once what is missing and returns -ENOSYS; 0 when all is there. */
int nook_kernel_check(void);
bool nook_kernel_version_at_least(const char *release, unsigned major, unsigned minor);

/* ---- systemd.c: the user's scope on systemd hosts ---- */
/* Whether S's cgroup_manager, resolved against this host, is systemd. */
bool nook_systemd_use(const struct nook_settings *s);
/* "nook-USER.scope", escaped as systemd does. */
int nook_systemd_unit_name(const char *user, char *buf, size_t size);
/* Asks systemd for USER's transient scope in SLICE (Delegate=yes) with the
 * caller as its process, and waits until the caller is in it. Logs. */
int nook_systemd_scope_start(const char *user, const char *slice, char *ret_unit, size_t size);
/* Stops USER's scope in SLICE if it is loaded and waits for the stop; 0 if
 * none. */
int nook_systemd_scope_stop(const char *user, const char *slice);
/* The scope's cgroup, relative to the hierarchy's root. */
int nook_systemd_scope_cgroup(const char *slice, const char *user, char *buf, size_t size);

/* ---- image.c: the user's persistent ext4 home image ---- */
struct nook_image {
	int dir_fd;
	int fd; /* O_RDWR on the image file */
	char path[512];
	dev_t dev;
	ino_t ino;
};
int nook_image_open(const struct nook_user *u, bool create, struct nook_image *ret);
void nook_image_close(struct nook_image *img);
/* The keeper's identity: an exclusive flock on a file description of its
 * own of the image, held for the keeper's whole life. Returns the locked fd,
 * or -EBUSY (and logs the holder) when another process holds it. */
int nook_image_lock(const struct nook_image *img, const char *user);
int nook_image_loop_busy(const struct nook_image *img, char *ret_dev, size_t size);
int nook_image_wait_released(const struct nook_image *img, unsigned timeout_ms);
/* Attaches the image to a loop device and mounts it (detached, nosuid,nodev,
 * idmapped through USERNS_FD). Returns the mount fd. */
int nook_image_mount(const struct nook_image *img, int userns_fd, char *ret_loop, size_t size);

/* ---- image-leftover.c: what an interrupted image creation leaves ---- */
/* The I-th leftover name of USER (".USER.img.new", ".USER.staging");
 * -ENOENT past the last. */
int nook_leftover_name(const char *user, unsigned i, char *buf, size_t size);
/* 1 (with the user's name in BUF) when NAME is a leftover's name, else 0. */
int nook_leftover_user(const char *name, char *buf, size_t size);
/* Told of each leftover found: KIND ("file", "directory", "symlink", ...),
 * ERROR 0 when it was removed, -errno when it stays. */
typedef void (*nook_leftover_fn)(const char *name, const char *kind, int error, void *data);
/* Removes USER's leftovers from the image_dir DFD, a symlink as itself.
 * The caller holds USER's lock. Returns how many were removed, or the
 * first error (after trying them all). */
int nook_leftovers_remove(int dfd, const char *user, nook_leftover_fn report, void *data);

/* ---- image-io.c: the image read through libext2fs, never written ---- */
struct struct_ext2_filsys;
/* ext2fs_open2() of IMG over its fd, read-only whatever FLAGS (EXT2_FLAG_*)
 * say, and without the flush libext2fs's own I/O manager makes on open:
 * libext2fs's error code, or 0. */
long nook_image_ext2_open(const struct nook_image *img, int flags, struct struct_ext2_filsys **ret);

/* ---- image-check.c: the image's file system before and after a mount ---- */
/* Checks the file system before a mount: e2fsck -p for what ext4 flagged,
 * read-only for damage it never recorded. 0 to mount; logs and returns
 * -EUCLEAN when the image must not be mounted. */
int nook_image_fsck(const struct nook_image *img);
#define NOOK_IMAGE_SUPER_SIZE 1024
int nook_image_read_super(const struct nook_image *img, char buf[NOOK_IMAGE_SUPER_SIZE]);
/* Logs what happened to the image when the kernel refused to mount it
 * (ERR, and the kernel's words WHY), given its superblock from before. */
void nook_image_refused(const struct nook_image *img, const char *loop, int err, const char *why,
			const char super_before[NOOK_IMAGE_SUPER_SIZE]);

/* ---- cron.c: the user's crontab, from the container to the host's cron ---- */
struct nook_cron {
	int ifd; /* inotify on the container's spool; -EBADF: nothing to sync */
	pid_t init_pid;
	int init_pidfd; /* the container's, not ours to close */
	bool pending;   /* the crontab inside is still to be installed */
};
/* Copies a host crontab into a container that has none, installs the
 * container's on the host, and watches it (C->ifd, when cron is there on
 * both sides). */
int nook_cron_start(struct nook_cron *c, const struct nook_user *u, pid_t init_pid, int init_pidfd);
/* C->pending, once the keeper has been idle a while: installs the crontab
 * inside on the host, or removes the host's. */
void nook_cron_pending(struct nook_cron *c, const struct nook_user *u);
/* C->ifd is readable: sets C->pending if the user's crontab changed. */
void nook_cron_changed(struct nook_cron *c, const struct nook_user *u);
void nook_cron_close(struct nook_cron *c);

/* ---- tool.c: mkfs.ext4, e2fsck, cp and crontab, run with a clean environment ---- */
enum nook_tool_output {
	NOOK_TOOL_STDERR, /* stdout and stderr to our stderr */
	NOOK_TOOL_QUIET,  /* stdout to /dev/null, stderr to ours */
	NOOK_TOOL_SILENT, /* both to /dev/null: the caller reports */
};
/* Runs ARGV (an absolute path) with stdin from /dev/null; returns its exit
 * status (128+N for signal N) or -errno. */
int nook_run_tool(char *const argv[], enum nook_tool_output out);
/* The same with stdin from IN and stdout and stderr to OUT (-1: /dev/null). */
int nook_run_tool_fds(char *const argv[], int in, int out);

/* ---- mount.c (and mount-files.c): the container's root, built by init
 * inside the userns ---- */
struct nook_bind_fd {
	int fd; /* detached clone of the host source, prepared by the keeper */
	const char *dst;
	bool optional; /* skipped when DST does not exist inside (else it is made) */
};
/* Files the container gets in place of the lower layer's (network.c makes
 * them; NULL leaves the lower layer's file). */
struct nook_etc_files {
	const char *resolv_conf;
	const char *hosts;
	/* mosh-server (net-mosh.c, mount-files.c): the container's ports,
	 * forwarded from the host (0: none); else the line a stub says
	 * instead (NULL: the lower layer's mosh-server stays). */
	uint16_t mosh_low, mosh_high;
	const char *mosh_why;
};
struct nook_rootfs_args {
	const struct nook_user *user;
	const struct nook_etc_files *etc;
	int lower_fd; /* detached, idmapped, read-only tree of settings.rootfs */
	int image_fd; /* detached, idmapped ext4 of the image */
	int dev_fd;   /* detached tmpfs with the device nodes (nook_dev_tree) */
	int pts_fd;   /* detached devpts instance of the container's own (nook_devpts_new) */
	struct nook_bind_fd *binds;
	size_t n_binds;
};
/* Inside: builds the root on a tmpfs mounted over the cwd and pivots into
 * it. On failure, ERR says what failed. */
int nook_rootfs_build(const struct nook_rootfs_args *a, char *err, size_t errsize);

/* ---- mount-host.c: what the keeper prepares for the root, host side ---- */
/* Host side: a detached tmpfs holding the container's /dev nodes. */
int nook_dev_tree(void);
/* Host side: a new devpts instance, at most MAX ptys (0: the kernel's limit). */
int nook_devpts_new(uint64_t max);
/* Host side: a detached clone of PATH (recursive if RECURSIVE). */
int nook_clone_tree(const char *path, bool recursive);
/* Host side: sets ATTRS (MOUNT_ATTR_*) on a detached tree, idmapped through
 * USERNS_FD when >= 0. */
int nook_tree_setattr(int tree_fd, uint64_t attrs, int userns_fd, bool recursive);
/* The files of /proc and /sys that lxcfs shows per container. */
#define NOOK_LXCFS_FILES 9
/* Host side: when DIR is an lxcfs mount, read-only clones of its files into
 * OUT (optional binds onto the same paths inside); returns how many (0
 * when DIR is not lxcfs), or < 0. */
int nook_lxcfs_trees(const char *dir, struct nook_bind_fd out[NOOK_LXCFS_FILES]);

/* ---- container.c: creating the container (runs in the keeper) ---- */
struct nook_container {
	pid_t init_pid;
	int init_pidfd;
	int init_sock; /* keeper's end; init exits when it closes */
	char loop[32];
};
/* Starts building the container: init exists, its namespaces are mapped,
 * and it is told to set up its root. The caller (the keeper) passes through
 * the container leaf of CG for the clone and returns to ORIGIN. STAGE_FD is
 * the root-only directory init stages its mounts on. The network can be
 * set up while init works; then nook_container_ready, or on any failure
 * nook_container_abort. */
int nook_container_launch(const struct nook_user *u, const struct nook_cgroup *cg,
			  const struct nook_cg_origin *origin, const struct nook_subid *sub,
			  const struct nook_image *img, int stage_fd, const struct nook_etc_files *etc,
			  struct nook_container *ret);
/* Waits for init's "ok". */
int nook_container_ready(const struct nook_user *u, const struct nook_container *c);
/* Kills and reaps init, closes its fds. */
void nook_container_abort(struct nook_container *c);

/* ---- init.c: pid 1 inside ---- */
/* Reaps children until the keeper's end of SOCK closes. */
__attribute__((noreturn)) void nook_init_run(int sock);
int nook_net_lo_up(void);

/* ---- state.c: /run/nook/<user>/ ---- */
/* /run/nook/NAME, root's and closed to others (created when CREATE) in a
 * /run/nook of root's; logs what is wrong with either. Returns a dir fd. */
int nook_run_subdir_open(const char *name, bool create);
int nook_rundir_open(const char *user, bool create); /* returns dir fd */
/* Returns the locked fd; -EBUSY (the holder logged) after TIMEOUT_MS. */
int nook_lock_user(int rundir_fd, const char *user, unsigned timeout_ms);
/* Who holds the user lock in RUNDIR_FD: 1 with its pid and command line
 * ("" once it has exited and a process it started holds the lock), 0 when
 * nobody does. */
int nook_lock_holder(int rundir_fd, pid_t *ret_pid, char *cmd, size_t size);
int nook_trylock_user(int rundir_fd);
/* The keeper's record, /run/nook/<user>/keeper (struct nook_keeper_rec:
 * protocol.h). */
int nook_proc_starttime(pid_t pid, unsigned long long *ret);
int nook_keeper_record(int rundir_fd, const struct nook_keeper_rec *rec);
/* 1 if the record names a live keeper (RET and a pidfd of it filled in when
 * asked), 0 if there is none. */
int nook_keeper_find(int rundir_fd, struct nook_keeper_rec *ret, int *ret_pidfd);
/* The pid that holds a flock on the file DEV:INO (from /proc/locks): 1 when
 * found, 0 when nobody holds one. */
int nook_flock_holder(dev_t dev, ino_t ino, pid_t *ret);

/* ---- netlink.c: rtnetlink requests (libmnl) ---- */
struct mnl_socket;
#define NOOK_NL_BUF 8192
struct nook_nl {
	struct mnl_socket *sock;
	unsigned portid, seq;
	char buf[NOOK_NL_BUF];
};
/* A route netlink socket in the namespace NETNS_FD (-1: the caller's). */
int nook_nl_open(int netns_fd, struct nook_nl *ret);
void nook_nl_close(struct nook_nl *nl);
int nook_nl_ifindex(struct nook_nl *nl, const char *name);
/* Creates bridge NAME if missing and brings it up; returns its ifindex
 * (-ENOTTY: NAME exists and is not a bridge). */
int nook_nl_bridge_ensure(struct nook_nl *nl, const char *name);
int nook_nl_link_up(struct nook_nl *nl, int ifindex);
int nook_nl_addr_add(struct nook_nl *nl, int ifindex, int family, const void *addr, unsigned prefix);
int nook_nl_route_default(struct nook_nl *nl, int family, const void *gateway, int ifindex);
/* HOST_NAME on MASTER here, its peer PEER_NAME in PEER_NETNS_FD. */
int nook_nl_veth_create(struct nook_nl *nl, const char *host_name, int master_ifindex, const char *peer_name,
			int peer_netns_fd);
int nook_nl_brport_isolated(struct nook_nl *nl, int ifindex, bool isolated);
int nook_nl_link_del(struct nook_nl *nl, const char *name);
/* The generation of the host namespace's nftables ruleset: it changes with
 * every commit, by anyone. */
int nook_nl_nft_genid(uint32_t *ret);

/* ---- network.c: the `network` modes, run by the keeper (the modes and
 * their parts: net-internal.h) ---- */
#define NOOK_NET_TEXT_MAX 2048
struct nook_nft_job {
	pid_t pid;
	int err_fd; /* nft's stderr */
};

struct nook_net {
	enum nook_network mode;
	char resolv_conf[NOOK_NET_TEXT_MAX];
	char hosts[NOOK_NET_TEXT_MAX];
	struct nook_etc_files etc; /* points into the two above */
	int netns_fd, userns_fd;   /* the container's, once it runs */
	uid_t root_uid;            /* container root on the host */
	gid_t root_gid;
	/* bridge */
	char veth[16]; /* host end, nk-<uid in hex> */
	bool leased;   /* holds /run/nook/.net/<bridge>/<index> */
	unsigned index;
	struct in_addr addr4, gw4;
	bool v6;
	struct in6_addr addr6, gw6;
	bool elements; /* added to the nook table's sets */
	bool veth_made;
	struct nook_nft_job nft; /* nft loading the rules, until waited */
	bool took_over;          /* the lease was a dead keeper's */
	uint64_t rules_hash;     /* of the text of the bridge's chains */
	bool gen_known;
	uint32_t gen_before; /* the nftables generation before nft ran */
	/* pasta */
	char dns_forward[INET6_ADDRSTRLEN]; /* pasta's --dns-forward address, or "" */
	pid_t pasta_pid;
	int pasta_pidfd;    /* watched by the keeper */
	int pasta_ready_fd; /* until pasta has configured the namespace */
	unsigned pasta_restarts;
	bool degraded;
	/* mosh (net-mosh.c): a slice of mosh_ports, leased in
	 * /run/nook/.net/.mosh/<index>, forwarded by pasta or nftables */
	bool mosh_leased;
	unsigned mosh_index;
	uint16_t mosh_low, mosh_high;
	struct nook_nft_job mosh_nft; /* bridge: nft adding the DNAT, until waited */
	bool mosh_dnat;               /* bridge: the DNAT may be in place */
	const char *mosh_why;
};
/* Before the container exists: takes the address lease and writes the
 * resolv.conf and hosts the container will get. */
int nook_net_prepare(const struct nook_user *u, struct nook_net *n);
/* Once init exists (while it sets up its root): the veth (after the rules'
 * child is done), or pasta's start. */
int nook_net_start(const struct nook_user *u, const struct nook_subid *sub, pid_t init_pid,
		   struct nook_net *n);
/* Waits until the network works (pasta has configured the namespace). */
int nook_net_ready(const struct nook_user *u, struct nook_net *n);
/* The keeper saw pasta's pidfd become readable: restarts it once, then
 * marks the container degraded (pasta.c). */
void nook_net_pasta_died(const struct nook_user *u, struct nook_net *n);
/* Removes everything nook_net_prepare/start made (safe on a partial start). */
void nook_net_stop(const struct nook_user *u, struct nook_net *n);
/* Without a keeper (it died): removes the user's veth and address lease,
 * and the nook table when no container uses it any more. */
void nook_net_recover(const struct nook_user *u);
/* One line for `nookctl status`: written to /run/nook/<user>/network. */
int nook_net_describe(const struct nook_net *n, char *buf, size_t size);

/* Pure parts (net-address.c), unit-tested. */
/* The INDEX-th container address of SUBNET (IPv4: network + 2 + index;
 * IPv6: the same host part), and the bridge's own (network + 1). */
unsigned nook_net_n_addresses(const struct nook_cidr *subnet4);
int nook_net_address(const struct nook_cidr *subnet, unsigned index, void *ret);
void nook_net_gateway(const struct nook_cidr *subnet, void *ret);
/* resolv.conf for MODE from HOST_RESOLV (the host's, may be NULL):
 * DNS if set, else the host's name servers that are not loopback (and
 * IPv6 ones only with WANT_V6), else FALLBACK (may be NULL). search,
 * domain and options lines are kept. */
int nook_net_resolv_conf(enum nook_network mode, char *const *dns, const char *host_resolv, bool want_v6,
			 const char *fallback, char *buf, size_t size);
int nook_net_hosts(const char *hostname, const char *addr4, const char *addr6, char *buf, size_t size);
/* Field 22 (starttime) of a /proc/PID/stat text (net-lease.c). */
int nook_stat_start_time(const char *stat, unsigned long long *ret);
/* Whether the host's resolv.conf text lists only loopback name servers. */
bool nook_net_resolv_only_loopback(const char *host_resolv);

/* ---- keeper.c: the supervisor outside ---- */
/* How the keeper leaves its caller: nookctl goes on running a command and
 * must never see the keeper exit (a second fork makes it init's child);
 * the helper exits right away, which makes its child init's (one fork,
 * about 1.5 ms less on a cold login). */
enum nook_spawn { NOOK_SPAWN_DOUBLE_FORK, NOOK_SPAWN_CALLER_EXITS };
/* Starts a keeper (and thus the container) for U. Called with the user lock
 * held, as LOCK_FD: the keeper holds it too until its container is up, so
 * that its setup (an image creation) stays locked if the caller dies. */
int nook_keeper_spawn(const struct nook_user *u, int rundir_fd, int lock_fd, enum nook_spawn how);

/* ---- teardown.c: ending a container, whoever ends it ---- */
/* What exists of a container when it is torn down: NULL (-EBADF) for what
 * does not (yet). */
struct nook_teardown {
	const struct nook_user *u;
	/* A dead keeper's leftovers (control.c): its network is found by the
	 * user's name, its systemd scope is stopped, its run directory files
	 * all go, and an image still attached ends the teardown, as a new
	 * container would follow. */
	bool recovery;
	struct nook_container *c;            /* our init: killed and reaped */
	struct nook_net *net;                /* our network (nook_net_prepare succeeded) */
	const struct nook_cgroup *cg;        /* the user's cgroup, created: emptied and removed */
	const struct nook_cg_origin *origin; /* where the caller returns to from CG first */
	struct nook_image *img;              /* may be on a loop device: waited for, then closed */
	int *image_lock;                     /* the keeper's identity, closed once the image is free */
	int rundir;                          /* its files are removed last */
	const struct stat *sock;             /* the keeper's socket: no other one is removed */
};
/* Takes the steps in their one order (see teardown.c). -EBUSY when the image
 * stays attached in recovery (nothing after that step was done), else 0. */
int nook_teardown(const struct nook_teardown *t);

/* ---- control.c: lifecycle entry points ---- */
/* Ensures U's container runs and registers SESSION_PIDFD as a session.
 * Creates the container (recovering leftovers) when none is running, its
 * keeper started HOW. */
int nook_ensure(const struct nook_user *u, int session_pidfd, enum nook_spawn how,
		struct nook_session_info *ret);
/* Stops U's container if any and removes leftovers. Returns 1 if something ran. */
int nook_stop(const struct nook_user *u);
/* Is U's container running? From the keeper (its socket, else its record or
 * the image's lock: a keeper that lost its socket is asked to serve again).
 * U needs only a name when there is no usable configuration. */
enum { NOOK_NOT_RUNNING, NOOK_RUNNING, NOOK_STOPPING };
int nook_status(const struct nook_user *u, struct nook_session_info *ret_info,
		struct nook_keeper_rec *ret_rec);

/* ---- become-user.c: becoming the user inside (after nook_join, enter.h) ---- */
/* In the forked child: applies the restricted profile and drops to U
 * (groups, gid, uid), verifying that no capability is left. */
int nook_become_user(const struct nook_user *u);

/* ---- keys.c: the authorized_keys sshd honours (AuthorizedKeysCommand) ---- */
/* 1 (RET loaded) if NAME is a user CONF_PATH selects, 0 if not (or unknown,
 * or root), -errno (logged) if that cannot be told. */
int nook_keys_selected(const char *conf_path, const char *name, struct nook_user *ret);
/* Prints the key lines of the ~/.ssh/authorized_keys U sees inside (the
 * running container's, else the image's, else, before the first login, the
 * host's) to OUT. 0 also when there is none; -errno (logged) when unsafe or
 * unreadable: then nothing was printed. */
int nook_keys_print(const struct nook_user *u, FILE *out);
/* Copies the host's authorized_keys (the same checks) into a new image's
 * home HOME_FD, owned by the user. */
int nook_keys_seed(const struct nook_user *u, int home_fd);
/* The key lines of BUF (no blanks, comments or control characters) to OUT;
 * returns their number. Pure, unit-tested. */
int nook_keys_filter(const char *buf, size_t len, FILE *out);
