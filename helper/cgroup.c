/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The per-user cgroup: <hierarchy>/<cgroup_root>/<user>, holding the limits,
 * with one leaf, "container", for init and every session (cgroup v2 forbids
 * processes in inner nodes). The keeper stays outside, in the cgroup it was
 * started from: inside, the user could have it OOM-killed by filling their
 * own memory limit (oom_score_adj needs CAP_SYS_RESOURCE, which not every
 * host root has).
 *
 * Two backends behind one small table: cgroup v2 (unified) and cgroup v1
 * (one hierarchy each for memory, cpu and pids, as on hybrid hosts). Every
 * path is opened relative to the hierarchy's directory fd without following
 * symlinks; the names in it were validated before (user name, cgroup_root).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "nook.h"

struct cg_backend {
	const char *name;
	int (*set_limits)(int userfd, const char *ctrl, const struct nook_settings *s);
	int (*prepare_parents)(const struct nook_cgroup *cg, size_t i);
	int (*stats)(int userfd, const char *ctrl, struct nook_cg_stats *st);
	int (*leaf_controllers)(int userfd);
};

static const char *const v1_controllers[] = { "memory", "cpu", "pids" };

static void u64_or_max(char *buf, size_t size, uint64_t v, const char *max)
{
	if (v == 0)
		snprintf(buf, size, "%s", max);
	else
		snprintf(buf, size, "%" PRIu64, v);
}

/* Writes NAME if the file exists: optional knobs (memory.swap.max without
 * swap accounting) are skipped, anything else is an error. */
static int write_knob(int dfd, const char *name, const char *val, bool optional)
{
	int r = nook_write_file_at(dfd, name, val, strlen(val));

	if (r == -ENOENT && optional)
		return 0;
	return r;
}

static uint64_t read_u64(int dfd, const char *name)
{
	char buf[64];

	if (nook_read_file_at(dfd, name, buf, sizeof(buf)) <= 0)
		return 0;
	if (strncmp(buf, "max", 3) == 0)
		return 0;
	return strtoull(buf, NULL, 10);
}

/* ---- cgroup v2 ---- */

static int v2_set_limits(int userfd, const char *ctrl, const struct nook_settings *s)
{
	char v[64];
	int r;

	(void) ctrl;
	u64_or_max(v, sizeof(v), s->memory_max, "max");
	r = write_knob(userfd, "memory.max", v, false);
	/* No swap for a limited container: the limit would otherwise only
	 * push its pages to swap. */
	if (r >= 0)
		r = write_knob(userfd, "memory.swap.max", s->memory_max ? "0" : "max", true);
	if (r >= 0) {
		if (s->cpu_max)
			snprintf(v, sizeof(v), "%" PRIu32 "000 100000", s->cpu_max);
		else
			snprintf(v, sizeof(v), "max 100000");
		r = write_knob(userfd, "cpu.max", v, false);
	}
	if (r >= 0) {
		u64_or_max(v, sizeof(v), s->pids_max, "max");
		r = write_knob(userfd, "pids.max", v, false);
	}
	return r;
}

/* Enables memory, cpu and pids for the children of every ancestor of the
 * user's cgroup, from the hierarchy root down, where not enabled yet. */
static int v2_prepare_parents(const struct nook_cgroup *cg, size_t i)
{
	_cleanup_close_ int fd = open(cg->base[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
	size_t skip = strlen(cg->delegated);
	char path[512], *p, *slash;

	if (fd < 0)
		return -errno;
	/* Under a manager, start at the delegated cgroup: its ancestors are
	 * the manager's (systemd enabled their controllers for us). */
	if (skip) {
		if (strncmp(cg->user[i], cg->delegated, skip) != 0 || cg->user[i][skip] != '/')
			return -EINVAL;
		int d = openat(fd, cg->delegated, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (d < 0)
			return -errno;
		(void) close(fd);
		fd = d;
		skip++;
	}
	snprintf(path, sizeof(path), "%s", cg->user[i] + skip);
	p = path;
	for (;;) {
		char have[256];
		int r = nook_read_file_at(fd, "cgroup.subtree_control", have, sizeof(have));

		if (r < 0)
			return r;
		if (!strstr(have, "memory") || !strstr(have, "cpu") || !strstr(have, "pids")) {
			r = write_knob(fd, "cgroup.subtree_control", "+memory +cpu +pids", false);
			if (r < 0)
				return r;
		}
		slash = strchr(p, '/');
		if (!slash)
			return 0; /* fd is now the parent of the user's cgroup */
		*slash = '\0';
		int next = openat(fd, p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (next < 0)
			return -errno;
		(void) close(fd);
		fd = next;
		p = slash + 1;
	}
}

static int v2_stats(int userfd, const char *ctrl, struct nook_cg_stats *st)
{
	(void) ctrl;
	st->memory_current = read_u64(userfd, "memory.current");
	st->memory_max = read_u64(userfd, "memory.max");
	st->pids_current = read_u64(userfd, "pids.current");
	st->pids_max = read_u64(userfd, "pids.max");
	return 0;
}

/* The leaf gets the controllers too, so that memory.max and the other
 * files exist where init and the sessions are: lxcfs reads the limit from
 * the reader's own cgroup and its ancestors, and a cgroup without the
 * memory files makes it answer with the host's memory. The leaf's own
 * values stay "max"; the limits are the user's cgroup's. */
static int v2_leaf_controllers(int userfd)
{
	return write_knob(userfd, "cgroup.subtree_control", "+memory +cpu +pids", false);
}

/* ---- cgroup v1 ---- */

static int v1_set_limits(int userfd, const char *ctrl, const struct nook_settings *s)
{
	char v[64];
	int r = 0;

	if (strcmp(ctrl, "memory") == 0) {
		snprintf(v, sizeof(v), "%" PRIu64, s->memory_max ? s->memory_max : (uint64_t) -1);
		if (!s->memory_max)
			snprintf(v, sizeof(v), "-1");
		/* memsw must stay >= limit: lower memsw last, raise it first. */
		if (!s->memory_max)
			(void) write_knob(userfd, "memory.memsw.limit_in_bytes", v, true);
		r = write_knob(userfd, "memory.limit_in_bytes", v, false);
		if (r >= 0 && s->memory_max)
			r = write_knob(userfd, "memory.memsw.limit_in_bytes", v, true);
	} else if (strcmp(ctrl, "cpu") == 0) {
		r = write_knob(userfd, "cpu.cfs_period_us", "100000", false);
		if (r >= 0) {
			if (s->cpu_max)
				snprintf(v, sizeof(v), "%" PRIu32 "000", s->cpu_max);
			else
				snprintf(v, sizeof(v), "-1");
			r = write_knob(userfd, "cpu.cfs_quota_us", v, false);
		}
	} else if (strcmp(ctrl, "pids") == 0) {
		u64_or_max(v, sizeof(v), s->pids_max, "max");
		r = write_knob(userfd, "pids.max", v, false);
	}
	return r;
}

static int v1_prepare_parents(const struct nook_cgroup *cg, size_t i)
{
	(void) cg;
	(void) i;
	return 0; /* v1 has no subtree_control */
}

static int v1_stats(int userfd, const char *ctrl, struct nook_cg_stats *st)
{
	if (strcmp(ctrl, "memory") == 0) {
		st->memory_current = read_u64(userfd, "memory.usage_in_bytes");
		st->memory_max = read_u64(userfd, "memory.limit_in_bytes");
		/* v1 reports "no limit" as a huge page-rounded number. */
		if (st->memory_max >= (UINT64_C(1) << 62))
			st->memory_max = 0;
	} else if (strcmp(ctrl, "pids") == 0) {
		st->pids_current = read_u64(userfd, "pids.current");
		st->pids_max = read_u64(userfd, "pids.max");
	}
	return 0;
}

static int v1_leaf_controllers(int userfd)
{
	(void) userfd;
	return 0; /* every v1 cgroup has its controller's files */
}

static const struct cg_backend backend_v1 = { "v1", v1_set_limits, v1_prepare_parents, v1_stats,
					      v1_leaf_controllers };
static const struct cg_backend backend_v2 = { "v2", v2_set_limits, v2_prepare_parents, v2_stats,
					      v2_leaf_controllers };

static const struct cg_backend *backend(const struct nook_cgroup *cg)
{
	return cg->v2 ? &backend_v2 : &backend_v1;
}

/* ---- resolution ---- */

/* The cgroup of this process in hierarchy CTRL ("" for v2), without the
 * leading slash ("" for the root). */
static int self_cgroup(const char *file, const char *ctrl, char *buf, size_t size)
{
	_cleanup_fclose_ FILE *f = fopen(file, "re");
	char line[1024];

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2, *nl;

		if (!c1 || !(c2 = strchr(c1 + 1, ':')))
			continue;
		*c1 = *c2 = '\0';
		nl = strchr(c2 + 1, '\n');
		if (nl)
			*nl = '\0';
		bool match = false;
		if (!*ctrl) {
			match = strcmp(line, "0") == 0 && c1 + 1 == c2;
		} else {
			for (char *t = strtok(c1 + 1, ","); t; t = strtok(NULL, ","))
				if (strcmp(t, ctrl) == 0)
					match = true;
		}
		if (match) {
			const char *p = c2 + 1;

			while (*p == '/')
				p++;
			if ((size_t) snprintf(buf, size, "%s", p) >= size)
				return -ENAMETOOLONG;
			return 0;
		}
	}
	return -ENOENT;
}

int nook_cgroup_resolve(const char *sysfs_root, const char *cgroup_root, const char *user,
			const char *self_cgroup_file, struct nook_cgroup *ret)
{
	struct nook_cgroup cg = { 0 };
	char probe[512];
	bool relative = strncmp(cgroup_root, "./", 2) == 0;
	const char *rootpath = relative ? cgroup_root + 2 : cgroup_root;

	if (!nook_valid_cg_path(rootpath) || !nook_valid_user_name(user))
		return -EINVAL;
	/* A v2 root has cgroup.controllers; a hybrid/v1 tmpfs root does not. */
	snprintf(probe, sizeof(probe), "%s/cgroup.controllers", sysfs_root);
	cg.v2 = access(probe, F_OK) == 0;
	cg.n = cg.v2 ? 1 : ELEMENTSOF(v1_controllers);
	for (size_t i = 0; i < cg.n; i++) {
		const char *ctrl = (cg.v2 || i >= ELEMENTSOF(v1_controllers)) ? "" : v1_controllers[i];
		char self[512] = "";
		int r;

		snprintf(cg.ctrl[i], sizeof(cg.ctrl[i]), "%s", ctrl);
		if ((size_t) snprintf(cg.base[i], sizeof(cg.base[i]), "%s%s%s", sysfs_root, cg.v2 ? "" : "/",
				      ctrl) >= sizeof(cg.base[i]))
			return -ENAMETOOLONG;
		if (!cg.v2 && access(cg.base[i], F_OK) < 0)
			return -ENOENT;
		if (relative) {
			r = self_cgroup(self_cgroup_file, ctrl, self, sizeof(self));
			if (r < 0)
				return r;
		}
		if ((size_t) snprintf(cg.user[i], sizeof(cg.user[i]), "%s%s%s/%s", self, *self ? "/" : "",
				      rootpath, user) >= sizeof(cg.user[i]))
			return -ENAMETOOLONG;
	}
	*ret = cg;
	return 0;
}

/*
 * The user's cgroup inside a scope systemd delegated to the keeper, which
 * systemd just moved there: the keeper leaves the scope's own cgroup for a
 * leaf, NOOK_CG_LEAF_KEEPER (v2's no-internal-process rule: controllers
 * can be enabled for the scope's children only while no process sits in
 * the scope itself), and the user's cgroup with its limits and leaf is the
 * sibling NOOK_CG_USER. The keeper stays outside the user's limits, as on
 * hosts without systemd.
 */
int nook_cgroup_resolve_delegated(const char *sysfs_root, const char *self_cgroup_file,
				  struct nook_cgroup *ret)
{
	struct nook_cgroup cg = { .v2 = true, .n = 1 };
	_cleanup_close_ int scope = -EBADF;
	int r;

	r = self_cgroup(self_cgroup_file, "", cg.delegated, sizeof(cg.delegated));
	if (r < 0)
		return r;
	if (!*cg.delegated || !nook_valid_cg_path(cg.delegated))
		return -EINVAL;
	snprintf(cg.base[0], sizeof(cg.base[0]), "%s", sysfs_root);
	if ((size_t) snprintf(cg.user[0], sizeof(cg.user[0]), "%s/%s", cg.delegated, NOOK_CG_USER) >=
	    sizeof(cg.user[0]))
		return -ENAMETOOLONG;
	{
		_cleanup_close_ int base = open(sysfs_root, O_PATH | O_DIRECTORY | O_CLOEXEC);

		if (base < 0)
			return -errno;
		scope = openat(base, cg.delegated, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (scope < 0)
			return -errno;
	}
	if (mkdirat(scope, NOOK_CG_LEAF_KEEPER, 0755) < 0 && errno != EEXIST)
		return -errno;
	{
		_cleanup_close_ int leaf =
			openat(scope, NOOK_CG_LEAF_KEEPER, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (leaf < 0)
			return -errno;
		r = nook_cgroup_move_self(leaf, false);
		if (r < 0)
			return r;
	}
	*ret = cg;
	return 0;
}

static int mkdir_p_at(int basefd, const char *rel)
{
	char path[600];

	snprintf(path, sizeof(path), "%s", rel);
	for (char *p = path;; p++) {
		if (*p == '/' || *p == '\0') {
			char saved = *p;

			*p = '\0';
			if (mkdirat(basefd, path, 0755) < 0 && errno != EEXIST)
				return -errno;
			*p = saved;
			if (!saved)
				return 0;
		}
	}
}

int nook_cgroup_create(const struct nook_cgroup *cg, const struct nook_settings *s)
{
	const struct cg_backend *be = backend(cg);

	for (size_t i = 0; i < cg->n; i++) {
		_cleanup_close_ int base = open(cg->base[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
		_cleanup_close_ int ufd = -EBADF;
		int r;

		if (base < 0)
			return -errno;
		r = mkdir_p_at(base, cg->user[i]);
		if (r < 0) {
			log_err("cgroup %s/%s: %s", cg->base[i], cg->user[i], strerror(-r));
			return r;
		}
		r = be->prepare_parents(cg, i);
		if (r < 0) {
			log_err("cgroup %s/%s: cannot enable the memory, cpu and pids controllers: %s; "
				"delegate the subtree to nook or set cgroup_root",
				cg->base[i], cg->user[i], strerror(-r));
			return r;
		}
		ufd = nook_cgroup_open_dir(cg, i, NULL);
		if (ufd < 0)
			return (int) ufd;
		r = be->set_limits(ufd, cg->ctrl[i], s);
		if (r < 0) {
			log_err("cgroup %s/%s: cannot set limits: %s", cg->base[i], cg->user[i],
				strerror(-r));
			return r;
		}
		if (mkdirat(ufd, NOOK_CG_LEAF_CONTAINER, 0755) < 0 && errno != EEXIST) {
			r = -errno;
			log_err("cgroup %s/%s: cannot create leaves: %s", cg->base[i], cg->user[i],
				strerror(-r));
			return r;
		}
		r = be->leaf_controllers(ufd);
		if (r < 0) {
			log_err("cgroup %s/%s: cannot enable the memory, cpu and pids controllers "
				"for its leaf: %s",
				cg->base[i], cg->user[i], strerror(-r));
			return r;
		}
	}
	return 0;
}

/* SIGKILLs every process listed in DFD/cgroup.procs except ourselves;
 * returns how many were listed (0: empty). */
static int kill_listed(int dfd)
{
	char buf[16384];
	int n = 0, r = nook_read_file_at(dfd, "cgroup.procs", buf, sizeof(buf));

	if (r < 0)
		return r == -ENOENT ? 0 : r;
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		pid_t pid = (pid_t) strtol(line, NULL, 10);

		if (pid <= 1 || pid == getpid())
			continue;
		/* Only what sits in this user's cgroup, which only nook fills. */
		(void) kill(pid, SIGKILL);
		n++;
	}
	return n;
}

int nook_cgroup_kill_all(const struct nook_cgroup *cg)
{
	static const char *const leaves[] = { NOOK_CG_LEAF_CONTAINER, NULL };

	/* Processes may fork while we kill: repeat until every list is empty
	 * (at most ~2 s: SIGKILL cannot be blocked, only delayed). */
	for (int round = 0; round < 2000; round++) {
		int listed = 0;

		for (size_t i = 0; i < cg->n; i++) {
			for (size_t l = 0; l < ELEMENTSOF(leaves); l++) {
				_cleanup_close_ int fd = nook_cgroup_open_dir(cg, i, leaves[l]);
				int r;

				if (fd < 0)
					continue;
				r = kill_listed(fd);
				if (r > 0)
					listed += r;
			}
		}
		if (listed == 0)
			return 0;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	return -EBUSY;
}

int nook_cgroup_destroy(const struct nook_cgroup *cg)
{
	int ret = 0;

	for (size_t i = 0; i < cg->n; i++) {
		_cleanup_close_ int base = open(cg->base[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
		char rel[600];

		if (base < 0)
			return -errno;
		/* rmdir fails with EBUSY while an exiting task is still listed. */
		for (int tries = 0; tries < 1000; tries++) {
			bool busy = false;
			const char *names[] = { NOOK_CG_LEAF_CONTAINER, "" };

			for (size_t l = 0; l < ELEMENTSOF(names); l++) {
				snprintf(rel, sizeof(rel), "%s%s%s", cg->user[i], *names[l] ? "/" : "",
					 names[l]);
				if (unlinkat(base, rel, AT_REMOVEDIR) < 0 && errno != ENOENT)
					busy = true;
			}
			if (!busy)
				break;
			struct timespec ts = { 0, 1000000 };
			nanosleep(&ts, NULL);
			if (tries == 999)
				ret = -EBUSY;
		}
	}
	return ret;
}

int nook_cgroup_exists(const struct nook_cgroup *cg)
{
	for (size_t i = 0; i < cg->n; i++) {
		_cleanup_close_ int fd = nook_cgroup_open_dir(cg, i, NULL);

		if (fd >= 0)
			return 1;
	}
	return 0;
}

int nook_cgroup_origin(const struct nook_cgroup *cg, const char *self_cgroup_file, struct nook_cg_origin *ret)
{
	for (size_t i = 0; i < cg->n; i++) {
		int r = self_cgroup(self_cgroup_file, cg->ctrl[i], ret->path[i], sizeof(ret->path[i]));

		if (r < 0)
			return r;
	}
	return 0;
}

/* Moves the caller back to where it came from, so that the user's cgroup
 * can be removed without moving anything outside the subtree it started in. */
int nook_cgroup_return(const struct nook_cgroup *cg, const struct nook_cg_origin *o)
{
	bool by_thread = !cg->v2 && nook_single_threaded();

	for (size_t i = 0; i < cg->n; i++) {
		_cleanup_close_ int base = open(cg->base[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
		_cleanup_close_ int fd = -EBADF;

		if (base < 0)
			return -errno;
		fd = *o->path[i] ? openat(base, o->path[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
				 : (int) TAKE_FD(base);
		if (fd < 0)
			return -errno;
		int r = nook_cgroup_move_self(fd, by_thread);
		if (r < 0)
			return r;
	}
	return 0;
}

int nook_cgroup_stats(const struct nook_cgroup *cg, struct nook_cg_stats *ret)
{
	struct nook_cg_stats st = { 0 };

	for (size_t i = 0; i < cg->n; i++) {
		_cleanup_close_ int fd = nook_cgroup_open_dir(cg, i, NULL);

		if (fd < 0)
			return fd;
		backend(cg)->stats(fd, cg->ctrl[i], &st);
	}
	*ret = st;
	return 0;
}
