/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The user's container as a systemd unit, on hosts where systemd owns the
 * cgroup tree. systemd's rules (CGROUP_DELEGATION.md): a program writes only
 * inside a subtree systemd delegated to it, and gets one by asking for a
 * unit with Delegate=yes. So the keeper asks, over D-Bus, for a transient
 * scope "nook-USER.scope" in the configured slice (nook.slice), with itself
 * as the scope's only process. systemd moves it there, out of the login's
 * session scope: logind's KillUserProcesses=yes then ends only that login's
 * session, `systemctl status nook-USER.scope` shows the container and
 * `systemctl stop` sends the keeper SIGTERM, which stops it cleanly.
 *
 * A scope rather than a service: the keeper already runs (a service would
 * be started by systemd, not by the login that needs the container now),
 * and a scope has no main process to be restarted or to outlive.
 *
 * The keeper talks to systemd's own socket (/run/systemd/private, root
 * only, as systemctl does as root), so dbus-daemon need not run; it falls
 * back to the system bus. Library code: returns -errno, does not log,
 * except for systemd's own error text, which is the admin's best clue.
 *
 * libsystemd is loaded (dlopen) only when a scope is asked for, as systemd
 * itself loads its optional libraries: linked, it and the five libraries it
 * brings cost every exec of the helper about 2 ms (measured with perf stat
 * on an empty program linked against them), on hosts without systemd too.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include <systemd/sd-bus.h>

#include "cleanup.h"
#include "log.h"
#include "nook.h"

#define JOB_TIMEOUT_USEC (30ULL * 1000000ULL)
/* What `systemctl stop` waits for after SIGTERM before SIGKILL: the
 * keeper's own stop takes well under a second; 10 s covers the loop
 * device's release under load. */
#define STOP_TIMEOUT_USEC (15ULL * 1000000ULL)

/* sd-bus, resolved on first use (see the top of this file). */
// clang-format off
#define SD_BUS_FUNCS(X) \
	X(sd_bus_call) X(sd_bus_call_method) X(sd_bus_error_free) X(sd_bus_error_has_name) \
	X(sd_bus_flush_close_unref) X(sd_bus_match_signal) X(sd_bus_message_append) \
	X(sd_bus_message_close_container) X(sd_bus_message_new_method_call) \
	X(sd_bus_message_open_container) X(sd_bus_message_read) X(sd_bus_message_unref) \
	X(sd_bus_new) X(sd_bus_open_system) X(sd_bus_process) X(sd_bus_set_address) \
	X(sd_bus_slot_unref) X(sd_bus_start) X(sd_bus_wait)
// clang-format on
#define SD_BUS_PTR(f) static typeof(f) *sym_##f;
SD_BUS_FUNCS(SD_BUS_PTR)
#define SD(f) (sym_##f)

static int sd_bus_load(void)
{
	static void *lib;
	void *l;

	if (lib)
		return 0;
	l = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!l) {
		log_err("cannot load libsystemd.so.0 (%s); install libsystemd0, or set cgroup_manager = "
			"cgroupfs if systemd does not manage this host's cgroups",
			dlerror());
		return -ENOENT;
	}
#define SD_BUS_SYM(f)                                     \
	if (!(sym_##f = (typeof(f) *) dlsym(l, #f))) {    \
		log_err("libsystemd.so.0 has no %s", #f); \
		return -ENOENT;                           \
	}
	SD_BUS_FUNCS(SD_BUS_SYM)
#undef SD_BUS_SYM
	lib = l;
	return 0;
}

static void bus_unrefp(sd_bus **b)
{
	if (*b)
		SD(sd_bus_flush_close_unref)(*b);
}
#define _cleanup_bus_ __attribute__((cleanup(bus_unrefp)))

static void msg_unrefp(sd_bus_message **m)
{
	if (*m)
		SD(sd_bus_message_unref)(*m);
}
#define _cleanup_msg_ __attribute__((cleanup(msg_unrefp)))

static void slot_unrefp(sd_bus_slot **s)
{
	if (*s)
		SD(sd_bus_slot_unref)(*s);
}

bool nook_systemd_use(const struct nook_settings *s)
{
	struct statfs fs;
	struct stat st;

	if (s->cgroup_manager == NOOK_CG_CGROUPFS)
		return false;
	if (s->cgroup_manager == NOOK_CG_SYSTEMD)
		return true;
	/* auto: systemd as init (sd_booted(3)'s test, without loading
	 * libsystemd), on the unified hierarchy (on a hybrid host the
	 * controllers are v1 and nook manages them under cgroup_root). */
	return lstat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode) &&
	       statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == (typeof(fs.f_type)) CGROUP2_SUPER_MAGIC;
}

int nook_systemd_unit_name(const char *user, char *buf, size_t size)
{
	size_t o = 0;
	int n;

	n = snprintf(buf, size, "nook-");
	if (n < 0 || (size_t) n >= size)
		return -ENAMETOOLONG;
	o = (size_t) n;
	/* systemd's escaping for what a unit name may not hold literally. */
	for (const char *p = user; *p; p++) {
		unsigned char c = (unsigned char) *p;
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			     c == '_' || c == '-' || c == '.' || c == ':';

		n = plain ? snprintf(buf + o, size - o, "%c", c) : snprintf(buf + o, size - o, "\\x%02x", c);
		if (n < 0 || (size_t) n >= size - o)
			return -ENAMETOOLONG;
		o += (size_t) n;
	}
	n = snprintf(buf + o, size - o, ".scope");
	return (n < 0 || (size_t) n >= size - o) ? -ENAMETOOLONG : 0;
}

int nook_systemd_scope_cgroup(const char *slice, const char *user, char *buf, size_t size)
{
	char unit[256];
	size_t o = 0, n = strlen(slice) - strlen(".slice");
	int w;

	w = nook_systemd_unit_name(user, unit, sizeof(unit));
	if (w < 0)
		return w;
	/* Each '-' of a slice's name nests: a-b.slice is a.slice/a-b.slice. */
	for (size_t i = 0; i <= n; i++) {
		if (i < n && slice[i] != '-')
			continue;
		w = snprintf(buf + o, size - o, "%.*s.slice/", (int) i, slice);
		if (w < 0 || (size_t) w >= size - o)
			return -ENAMETOOLONG;
		o += (size_t) w;
	}
	w = snprintf(buf + o, size - o, "%s", unit);
	return (w < 0 || (size_t) w >= size - o) ? -ENAMETOOLONG : 0;
}

static int bus_open(sd_bus **ret)
{
	_cleanup_bus_ sd_bus *bus = NULL;
	int r;

	r = sd_bus_load();
	if (r < 0)
		return r;
	r = SD(sd_bus_new)(&bus);
	if (r < 0)
		return r;
	r = SD(sd_bus_set_address)(bus, "unix:path=/run/systemd/private");
	if (r >= 0)
		r = SD(sd_bus_start)(bus);
	if (r < 0) {
		SD(sd_bus_flush_close_unref)(TAKE_PTR(bus));
		r = SD(sd_bus_open_system)(&bus);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(bus);
	return 0;
}

struct job_wait {
	const char *path;
	char result[32];
	bool done;
};

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *err)
{
	struct job_wait *w = userdata;
	const char *path, *unit, *result;
	uint32_t id;

	(void) err;
	if (SD(sd_bus_message_read)(m, "uoss", &id, &path, &unit, &result) < 0)
		return 0;
	if (w->path && strcmp(path, w->path) == 0) {
		snprintf(w->result, sizeof(w->result), "%s", result);
		w->done = true;
	}
	return 0;
}

static uint64_t mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

/* Waits for W's job to finish; -ETIMEDOUT after JOB_TIMEOUT_USEC, -EIO
 * when systemd reports anything but "done". */
static int job_wait(sd_bus *bus, struct job_wait *w)
{
	uint64_t deadline = mono_usec() + JOB_TIMEOUT_USEC;

	while (!w->done) {
		int r = SD(sd_bus_process)(bus, NULL);
		uint64_t now;

		if (r < 0)
			return r;
		if (r > 0)
			continue;
		now = mono_usec();
		if (now >= deadline)
			return -ETIMEDOUT;
		r = SD(sd_bus_wait)(bus, deadline - now);
		if (r < 0)
			return r;
	}
	return strcmp(w->result, "done") == 0 ? 0 : -EIO;
}

/* Subscribes to JobRemoved (a direct connection to systemd only gets
 * signals after Subscribe()). */
static int watch_jobs(sd_bus *bus, struct job_wait *w, sd_bus_slot **ret_slot)
{
	int r = SD(sd_bus_match_signal)(bus, ret_slot, "org.freedesktop.systemd1",
					"/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
					"JobRemoved", on_job_removed, w);

	if (r < 0)
		return r;
	r = SD(sd_bus_call_method)(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
				   "org.freedesktop.systemd1.Manager", "Subscribe", NULL, NULL, NULL);
	/* Already subscribed (a second call on the system bus) is fine. */
	return r < 0 && r != -EEXIST ? r : 0;
}

/* The job path of a Start/StopUnit reply, copied. */
static int reply_job(sd_bus_message *reply, char **ret_job)
{
	const char *job;
	int r = SD(sd_bus_message_read)(reply, "o", &job);

	if (r < 0)
		return r;
	*ret_job = strdup(job);
	return *ret_job ? 0 : -ENOMEM;
}

static int start_scope(sd_bus *bus, const char *unit, const char *slice, const char *user, sd_bus_error *err,
		       char **ret_job)
{
	_cleanup_msg_ sd_bus_message *m = NULL, *reply = NULL;
	char desc[128];
	int r;

	snprintf(desc, sizeof(desc), "nook container of %s", user);
	r = SD(sd_bus_message_new_method_call)(bus, &m, "org.freedesktop.systemd1",
					       "/org/freedesktop/systemd1",
					       "org.freedesktop.systemd1.Manager", "StartTransientUnit");
	if (r >= 0)
		r = SD(sd_bus_message_append)(m, "ss", unit, "fail");
	if (r >= 0)
		r = SD(sd_bus_message_open_container)(m, 'a', "(sv)");
	if (r >= 0)
		r = SD(sd_bus_message_append)(m, "(sv)(sv)(sv)(sv)(sv)(sv)", "Description", "s", desc,
					      "Slice", "s", slice, "Delegate", "b", 1, "PIDs", "au", 1,
					      (uint32_t) getpid(), "CollectMode", "s", "inactive-or-failed",
					      "TimeoutStopUSec", "t", (uint64_t) STOP_TIMEOUT_USEC);
	if (r >= 0)
		r = SD(sd_bus_message_close_container)(m);
	if (r >= 0)
		r = SD(sd_bus_message_append)(m, "a(sa(sv))", 0);
	if (r < 0)
		return r;
	r = SD(sd_bus_call)(bus, m, JOB_TIMEOUT_USEC, err, &reply);
	if (r < 0)
		return r;
	return reply_job(reply, ret_job);
}

static int stop_unit(sd_bus *bus, const char *unit, sd_bus_error *err, char **ret_job)
{
	_cleanup_msg_ sd_bus_message *reply = NULL;
	int r;

	r = SD(sd_bus_call_method)(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
				   "org.freedesktop.systemd1.Manager", "StopUnit", err, &reply, "ss", unit,
				   "replace");
	if (r < 0)
		return r;
	return reply_job(reply, ret_job);
}

static int stop_and_wait(sd_bus *bus, const char *unit)
{
	sd_bus_error err = SD_BUS_ERROR_NULL;
	__attribute__((cleanup(slot_unrefp))) sd_bus_slot *slot = NULL;
	struct job_wait w = { 0 };
	_cleanup_free_ char *job = NULL;
	int r;

	r = watch_jobs(bus, &w, &slot);
	if (r < 0)
		return r;
	r = stop_unit(bus, unit, &err, &job);
	if (r < 0) {
		bool gone = SD(sd_bus_error_has_name)(&err, "org.freedesktop.systemd1.NoSuchUnit");

		SD(sd_bus_error_free)(&err);
		return gone ? 0 : r;
	}
	w.path = job;
	return job_wait(bus, &w);
}

int nook_systemd_scope_start(const char *user, const char *slice, char *ret_unit, size_t size)
{
	_cleanup_bus_ sd_bus *bus = NULL;
	char unit[256];
	int r;

	r = nook_systemd_unit_name(user, unit, sizeof(unit));
	if (r < 0)
		return r;
	r = bus_open(&bus);
	if (r < 0) {
		log_err("cannot reach systemd (/run/systemd/private or the system bus): %s; "
			"set cgroup_manager = cgroupfs if systemd does not manage this host's cgroups",
			strerror(-r));
		return r;
	}
	for (int attempt = 0;; attempt++) {
		sd_bus_error err = SD_BUS_ERROR_NULL;
		__attribute__((cleanup(slot_unrefp))) sd_bus_slot *slot = NULL;
		struct job_wait w = { 0 };
		_cleanup_free_ char *job = NULL;

		r = watch_jobs(bus, &w, &slot);
		if (r < 0)
			return r;
		r = start_scope(bus, unit, slice, user, &err, &job);
		if (r < 0 && attempt == 0 &&
		    SD(sd_bus_error_has_name)(&err, "org.freedesktop.systemd1.UnitExists")) {
			/* A unit of a container whose keeper is gone (the
			 * caller cleaned up what it could, under the user's
			 * lock): systemd stops what is left, then we retry. */
			SD(sd_bus_error_free)(&err);
			log_info("%s is still loaded; stopping it first", unit);
			r = stop_and_wait(bus, unit);
			if (r < 0)
				return r;
			continue;
		}
		if (r < 0) {
			log_err("systemd refused the scope %s in %s: %s", unit, slice,
				err.message ? err.message : strerror(-r));
			SD(sd_bus_error_free)(&err);
			return r;
		}
		w.path = job;
		r = job_wait(bus, &w);
		if (r < 0) {
			log_err("starting %s: %s%s", unit, r == -EIO ? "job " : "",
				r == -EIO ? w.result : strerror(-r));
			return r;
		}
		break;
	}
	if ((size_t) snprintf(ret_unit, size, "%s", unit) >= size)
		return -ENAMETOOLONG;
	return 0;
}

int nook_systemd_scope_stop(const char *user, const char *slice)
{
	_cleanup_bus_ sd_bus *bus = NULL;
	char unit[256], cg[600];
	int r;

	r = nook_systemd_unit_name(user, unit, sizeof(unit));
	if (r < 0)
		return r;
	/* The common case, no scope left, costs a stat and no D-Bus call
	 * (every cold login comes here). An inactive unit has no cgroup. */
	r = nook_systemd_scope_cgroup(slice, user, cg, sizeof(cg));
	if (r < 0)
		return r;
	{
		_cleanup_close_ int root = open("/sys/fs/cgroup", O_PATH | O_DIRECTORY | O_CLOEXEC);

		if (root >= 0 && faccessat(root, cg, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
			return 0;
	}
	r = bus_open(&bus);
	if (r < 0)
		return r;
	return stop_and_wait(bus, unit);
}
