/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cgroup logic (helper/cgroup.c, common/cgroup-path.c) against fake cgroup file
 * systems in a temp dir: the v2 layout and knobs (the development machine
 * is hybrid v1, so this is where v2 is proven), v1's, resolution of
 * cgroup_root (absolute and "./" relative to the caller's cgroup), and the
 * serialized form the keeper hands out.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ftw.h>

#include "cleanup.h"
#include "nook.h"
#include "tap.h"

static char root[256];

/* A second thread that waits until FD, a pipe, is closed. */
static void *idle_thread(void *arg)
{
	char c;

	while (read(*(int *) arg, &c, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

static void put(const char *rel, const char *content)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	f = fopen(p, "w");
	if (f) {
		fputs(content, f);
		fclose(f);
	}
}

static const char *get(const char *rel)
{
	static char buf[256];
	char p[512];
	FILE *f;
	size_t n;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	buf[0] = '\0';
	f = fopen(p, "r");
	if (!f)
		return "(missing)";
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void) sb;
	(void) flag;
	(void) ftw;
	return remove(p) < 0 ? -1 : 0;
}

/* rm -rf of DIR's contents (KEEP_TOP) or of DIR itself, without a shell. */
static int rm_tree(const char *dir, bool keep_top)
{
	if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
		return -1;
	return keep_top ? mkdir(dir, 0700) : 0;
}

static int mkdirs(const char *rel)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	return nook_mkdir_p(p, 0755);
}

static void mkd(const char *rel)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	mkdir(p, 0755);
}

/* A fake cgroupfs has no kernel to create knobs in new directories: create
 * them as a v2 kernel would, then run create() again. */
static void v2_knobs(const char *dir)
{
	static const char *const knobs[] = { "memory.max", "memory.swap.max",        "cpu.max",
					     "pids.max",   "cgroup.subtree_control", "cgroup.procs" };
	char rel[512];

	for (size_t i = 0; i < ELEMENTSOF(knobs); i++) {
		snprintf(rel, sizeof(rel), "%s/%s", dir, knobs[i]);
		put(rel, "");
	}
}

int main(void)
{
	struct nook_cgroup cg, back;
	struct nook_settings s = { .memory_max = 512ULL << 20, .cpu_max = 150, .pids_max = 300 };
	char buf[4096];
	int r;

	snprintf(root, sizeof(root), "/tmp/nook-test-cgroup.XXXXXX");
	if (!mkdtemp(root))
		return skip_all("cannot create a temp dir");

	/* ---- v2 ---- */
	put("cgroup.controllers", "cpuset cpu io memory pids\n");
	put("cgroup.subtree_control", "");
	put("self", "0::/system.slice/sshd.service\n");
	r = nook_cgroup_resolve(root, "nook", "alice", "/nonexistent", &cg);
	is_int(r, 0, "v2: resolves an absolute cgroup_root");
	ok(cg.v2 && cg.n == 1, "v2: detected by cgroup.controllers at the root, one hierarchy");
	is_str(cg.user[0], "nook/alice", "v2: user cgroup is <cgroup_root>/<user>");

	{
		char self[512];

		snprintf(self, sizeof(self), "%s/self", root);
		r = nook_cgroup_resolve(root, "./nt-x", "alice", self, &back);
		is_int(r, 0, "v2: resolves a ./ relative cgroup_root");
		is_str(back.user[0], "system.slice/sshd.service/nt-x/alice",
		       "v2: ./ is relative to the caller's own cgroup (the 0:: line)");
	}
	is_int(nook_cgroup_resolve(root, "../evil", "alice", "/nonexistent", &back), -EINVAL,
	       "cgroup_root with .. is refused");
	is_int(nook_cgroup_resolve(root, "/abs", "alice", "/nonexistent", &back), -EINVAL,
	       "cgroup_root with a leading / is refused");
	is_int(nook_cgroup_resolve(root, "nook", "../x", "/nonexistent", &back), -EINVAL,
	       "an invalid user name is refused");

	/* First pass creates the directories; the fake fs then gets its knobs. */
	(void) nook_cgroup_create(&cg, &s);
	mkd("nook");
	mkd("nook/alice");
	v2_knobs("nook");
	v2_knobs("nook/alice");
	r = nook_cgroup_create(&cg, &s);
	is_int(r, 0, "v2: create succeeds");
	ok(strstr(get("cgroup.subtree_control"), "+memory +cpu +pids") != NULL,
	   "v2: controllers enabled in the root's subtree_control");
	ok(strstr(get("nook/cgroup.subtree_control"), "+memory") != NULL,
	   "v2: controllers enabled in the parent of the user's cgroup");
	is_str(get("nook/alice/memory.max"), "536870912", "v2: memory.max in bytes");
	is_str(get("nook/alice/memory.swap.max"), "0", "v2: no swap when memory is limited");
	is_str(get("nook/alice/cpu.max"), "150000 100000", "v2: cpu.max is percent of one CPU per 100 ms");
	is_str(get("nook/alice/pids.max"), "300", "v2: pids.max");
	{
		struct stat st;
		char p[512];

		snprintf(p, sizeof(p), "%s/nook/alice/container", root);
		ok(stat(p, &st) == 0 && S_ISDIR(st.st_mode), "v2: the container leaf is created");
		snprintf(p, sizeof(p), "%s/nook/alice/keeper", root);
		ok(stat(p, &st) < 0, "v2: no keeper leaf: the keeper stays outside the user's limits");
	}
	put("nook/alice/container/cgroup.procs", "");
	put("nook/alice/container/cgroup.threads", "");
	is_int(nook_cgroup_attach(&cg, NOOK_CG_LEAF_CONTAINER), 0, "v2: attach writes the caller's pid");
	{
		char pid[32];

		snprintf(pid, sizeof(pid), "%d", getpid());
		is_str(get("nook/alice/container/cgroup.procs"), pid,
		       "v2: the caller's pid lands in the container leaf's cgroup.procs");
	}
	is_str(get("nook/alice/container/cgroup.threads"), "",
	       "v2: not as a thread (only allowed within one domain)");

	s = (struct nook_settings) { 0 };
	is_int(nook_cgroup_create(&cg, &s), 0, "v2: create with no limits");
	is_str(get("nook/alice/memory.max"), "max", "v2: no memory limit is max");
	is_str(get("nook/alice/cpu.max"), "max 100000", "v2: no cpu limit is max");
	is_str(get("nook/alice/pids.max"), "max", "v2: no pids limit is max");

	r = nook_cgroup_serialize(&cg, buf, sizeof(buf));
	ok(r > 0, "serialize");
	r = nook_cgroup_deserialize(buf, &back);
	is_int(r, 0, "deserialize what serialize wrote");
	ok(back.v2 == cg.v2 && back.n == cg.n && strcmp(back.base[0], cg.base[0]) == 0 &&
		   strcmp(back.user[0], cg.user[0]) == 0,
	   "serialize/deserialize round trip");
	is_int(nook_cgroup_deserialize("v3 -:/x:y", &back), -EINVAL,
	       "deserialize refuses an unknown version");
	is_int(nook_cgroup_deserialize("v2 -:/sys/fs/cgroup:../../etc", &back), -EINVAL,
	       "deserialize refuses a path with ..");
	is_int(nook_cgroup_deserialize("v2 -:relative:nook/alice", &back), -EINVAL,
	       "deserialize refuses a relative base");

	/* ---- v1 (hybrid) ---- */
	if (rm_tree(root, true) < 0 || mkdirs("memory") < 0 || mkdirs("cpu") < 0 || mkdirs("pids") < 0)
		return skip_all("cannot reset the fake cgroupfs");
	put("self", "4:memory:/outer\n3:cpu,cpuacct:/\n2:pids:/other\n0::/\n");
	{
		char self[512];

		snprintf(self, sizeof(self), "%s/self", root);
		r = nook_cgroup_resolve(root, "./nt-y", "bob", self, &cg);
	}
	is_int(r, 0, "v1: resolves");
	ok(!cg.v2 && cg.n == 3, "v1: three hierarchies without cgroup.controllers at the root");
	is_str(cg.user[0], "outer/nt-y/bob", "v1: memory path relative to the caller's memory cgroup");
	is_str(cg.user[1], "nt-y/bob", "v1: cpu path (the caller is at the root of cpu,cpuacct)");
	is_str(cg.user[2], "other/nt-y/bob", "v1: pids path");
	s = (struct nook_settings) { .memory_max = 1ULL << 30, .cpu_max = 50, .pids_max = 64 };
	if (mkdirs("memory/outer/nt-y/bob") < 0 || mkdirs("cpu/nt-y/bob") < 0 ||
	    mkdirs("pids/other/nt-y/bob") < 0)
		return skip_all("cannot prepare the fake v1 cgroupfs");
	put("memory/outer/nt-y/bob/memory.limit_in_bytes", "");
	put("cpu/nt-y/bob/cpu.cfs_period_us", "");
	put("cpu/nt-y/bob/cpu.cfs_quota_us", "");
	put("pids/other/nt-y/bob/pids.max", "");
	is_int(nook_cgroup_create(&cg, &s), 0, "v1: create succeeds");
	is_str(get("memory/outer/nt-y/bob/memory.limit_in_bytes"), "1073741824", "v1: memory limit");
	is_str(get("memory/outer/nt-y/bob/memory.memsw.limit_in_bytes"), "(missing)",
	       "v1: memsw skipped without swap accounting");
	is_str(get("cpu/nt-y/bob/cpu.cfs_quota_us"), "50000", "v1: cfs quota for 50 percent");
	is_str(get("cpu/nt-y/bob/cpu.cfs_period_us"), "100000", "v1: cfs period 100 ms");
	is_str(get("pids/other/nt-y/bob/pids.max"), "64", "v1: pids.max");
	{
		/* One thread (this test): it moves itself through tasks,
		 * which spares the global lock's RCU grace period. */
		static const char *const leaf[] = { "memory/outer/nt-y/bob/container",
						    "cpu/nt-y/bob/container",
						    "pids/other/nt-y/bob/container" };
		char f[600];

		for (size_t i = 0; i < 3; i++) {
			if (mkdirs(leaf[i]) < 0)
				return skip_all("cannot prepare the fake v1 container leaves");
			snprintf(f, sizeof(f), "%s/tasks", leaf[i]);
			put(f, "");
			snprintf(f, sizeof(f), "%s/cgroup.procs", leaf[i]);
			put(f, "");
		}
		ok(nook_single_threaded(), "this test runs as one thread");
		is_int(nook_cgroup_attach(&cg, NOOK_CG_LEAF_CONTAINER), 0, "v1: attach succeeds");
		for (size_t i = 0; i < 3; i++) {
			snprintf(f, sizeof(f), "%s/tasks", leaf[i]);
			is_str(get(f), "0", "v1: a single thread writes 0 to tasks in every hierarchy");
			snprintf(f, sizeof(f), "%s/cgroup.procs", leaf[i]);
			is_str(get(f), "", "v1: and nothing to cgroup.procs");
		}
	}
	{
		/* With a second thread, moving one thread would leave the other
		 * behind, outside the limits: the whole process moves. */
		static const char *const leaf[] = { "memory/outer/nt-y/bob/container",
						    "cpu/nt-y/bob/container",
						    "pids/other/nt-y/bob/container" };
		char f[600], pid[32];
		int p[2];
		pthread_t th;

		if (pipe(p) < 0 || pthread_create(&th, NULL, idle_thread, &p[0]) != 0)
			return skip_all("cannot start a second thread");
		for (size_t i = 0; i < 3; i++) {
			snprintf(f, sizeof(f), "%s/tasks", leaf[i]);
			put(f, "");
			snprintf(f, sizeof(f), "%s/cgroup.procs", leaf[i]);
			put(f, "");
		}
		ok(!nook_single_threaded(), "with a second thread the process is not single-threaded");
		is_int(nook_cgroup_attach(&cg, NOOK_CG_LEAF_CONTAINER), 0,
		       "v1, two threads: attach succeeds");
		snprintf(pid, sizeof(pid), "%d", getpid());
		for (size_t i = 0; i < 3; i++) {
			snprintf(f, sizeof(f), "%s/cgroup.procs", leaf[i]);
			is_str(get(f), pid,
			       "v1, two threads: the pid goes to cgroup.procs in every hierarchy");
			snprintf(f, sizeof(f), "%s/tasks", leaf[i]);
			is_str(get(f), "", "v1, two threads: nothing to tasks");
		}
		(void) close(p[1]);
		(void) pthread_join(th, NULL);
		(void) close(p[0]);
		ok(nook_single_threaded(), "one thread again once the other has ended");
	}

	if (rm_tree(root, false) < 0)
		diag("could not remove %s", root);
	return done_testing();
}
