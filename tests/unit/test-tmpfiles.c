/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The /run skeleton from tmpfiles.d (helper/tmpfiles.c) and the setuid
 * stubs' text (helper/setuid-stubs.c): parsing, precedence, creation. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "setuid-stubs.h"
#include "tap.h"
#include "tmpfiles.h"

static void put(int dir, const char *name, const char *text, mode_t mode)
{
	int fd = openat(dir, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t) strlen(text) || fchmod(fd, mode) < 0) {
		perror(name);
		exit(1);
	}
	(void) close(fd);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void) st, (void) flag, (void) ftw;
	return remove(path) < 0 ? -1 : 0;
}

static const struct nook_run_dir *find(const struct nook_run_dirs *d, const char *name)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->dir[i].name, name) == 0)
			return &d->dir[i];
	return NULL;
}

static void test_parse(void)
{
	struct nook_run_dir e;

	is_int(nook_tmpfiles_parse_line("d /run/screen 0777 root utmp", &e), 1, "screen's line is taken");
	is_str(e.name, "screen", "... name");
	is_int(e.mode, 0777, "... mode");
	is_str(e.user, "root", "... user");
	is_str(e.group, "utmp", "... group");
	is_int(nook_tmpfiles_parse_line("D! /run/lock 1777 - - -", &e), 1, "D! with '-' owners is taken");
	is_int(e.mode, 01777, "... sticky mode");
	ok(!*e.user && !*e.group, "... '-' is root");
	is_int(nook_tmpfiles_parse_line("d /run/log", &e), 1, "a line without mode is taken");
	is_int(e.mode, 0755, "... with the directory default 0755");
	is_int(nook_tmpfiles_parse_line("  d\t/run/postgresql 2775 postgres postgres - -\n", &e), 1,
	       "tabs, indentation, age and argument");
	is_int(e.mode, 02775, "... setgid mode");

	static const char *const ignored[] = {
		"",
		"# d /run/x 0755",
		"f /run/utmp 0664 root utmp -",
		"L /run/shm - - - - /dev/shm",
		"d /run/systemd/netif 0755 systemd-network systemd-network -",
		"d /run/ 0755",
		"d /run/.. 0755",
		"d /run/.hidden 0755",
		"d /var/run/x 0755",
		"d /run/%m 0755",
		"d /run/a\\x20b 0755",
		"d \"/run/x\" 0755",
		"d /run/x* 0755",
		"d /run/x ~0755",
		"d /run/x :0755",
		"d /run/x 99",
		"d /run/x 17777",
		"d /run/x 0755 %u",
		"d /run/x 0755 root -utmp",
		"d- /run/x 0755",
		"d /run/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 0755",
		"d /run/x 0755 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	for (size_t i = 0; i < ELEMENTSOF(ignored); i++)
		is_int(nook_tmpfiles_parse_line(ignored[i], &e), 0, "ignored: '%s'", ignored[i]);
}

static void test_collect_and_make(void)
{
	char tmpl[] = "/tmp/nook-test-tmpfiles.XXXXXX";
	char *root = mkdtemp(tmpl);
	_cleanup_close_ int rfd = -EBADF, etc = -EBADF, lib = -EBADF, run = -EBADF;
	_cleanup_free_ struct nook_run_dirs *d = calloc(1, sizeof(*d));
	const struct nook_run_dir *e;
	const char *failed = NULL;
	char buf[4096];
	struct stat st;
	int r;

	if (!root || !d) {
		ok(0, "temp dir");
		return;
	}
	rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (mkdirat(rfd, "etc", 0755) < 0 || mkdirat(rfd, "etc/tmpfiles.d", 0755) < 0 ||
	    mkdirat(rfd, "usr", 0755) < 0 || mkdirat(rfd, "usr/lib", 0755) < 0 ||
	    mkdirat(rfd, "usr/lib/tmpfiles.d", 0755) < 0 || mkdirat(rfd, "run", 0755) < 0) {
		ok(0, "tree");
		return;
	}
	etc = openat(rfd, "etc/tmpfiles.d", O_PATH | O_DIRECTORY | O_CLOEXEC);
	lib = openat(rfd, "usr/lib/tmpfiles.d", O_PATH | O_DIRECTORY | O_CLOEXEC);
	snprintf(buf, sizeof(buf), "tester:x:%u:%u::/:/bin/sh\n", (unsigned) geteuid(), (unsigned) getegid());
	put(rfd, "etc/passwd", buf, 0644);
	snprintf(buf, sizeof(buf), "other:x:4242:\ntgroup:x:%u:\n", (unsigned) getegid());
	put(rfd, "etc/group", buf, 0644);

	put(lib, "screen-cleanup.conf", "d /run/screen 0777 tester tgroup\n", 0644);
	put(lib, "a.conf", "d /run/first 0700 tester tgroup\nd /run/dup 0711 tester tgroup\n", 0644);
	put(lib, "b.conf", "d /run/dup 0755 tester tgroup\nf /run/file 0644\n", 0644);
	/* /etc hides /usr/lib by name; a link masks; a group-writable file is not read. */
	put(lib, "over.conf", "d /run/lib-version 0755 tester tgroup\n", 0644);
	put(etc, "over.conf", "d /run/etc-version 0750 tester tgroup\n", 0644);
	put(lib, "masked.conf", "d /run/masked 0755\n", 0644);
	if (symlinkat("/dev/null", etc, "masked.conf") < 0)
		ok(0, "symlink");
	put(etc, "loose.conf", "d /run/loose 0755\n", 0664);
	put(etc, "notconf.txt", "d /run/notconf 0755\n", 0644);
	{
		char many[4096] = "";

		for (int i = 0; i < NOOK_RUN_DIRS_MAX + 10; i++)
			snprintf(many + strlen(many), sizeof(many) - strlen(many),
				 "d /run/z%d 0755 tester tgroup\n", i);
		put(lib, "zz.conf", many, 0644);
	}

	r = nook_tmpfiles_collect(rfd, geteuid(), d);
	is_int(r, 0, "collect");
	e = find(d, "screen");
	ok(e && e->mode == 0777 && strcmp(e->user, "tester") == 0, "screen's directory is collected");
	ok(find(d, "first") && find(d, "etc-version"), "entries of several files are collected");
	ok(!find(d, "lib-version"), "/etc/tmpfiles.d hides a /usr/lib file of the same name");
	e = find(d, "dup");
	ok(e && e->mode == 0711, "the first line for a path wins (files in name order)");
	ok(!find(d, "masked"), "a link in /etc masks the /usr/lib file");
	ok(!find(d, "loose"), "a group-writable file is not read");
	ok(!find(d, "notconf") && !find(d, "file"), "not a .conf file, not a d line: ignored");
	is_int(d->n, NOOK_RUN_DIRS_MAX, "the list is bounded");
	{
		struct nook_run_dirs none;

		is_int(nook_tmpfiles_collect(rfd, geteuid() + 1, &none), 0, "collect for another owner");
		is_int(none.n, 0, "files of another owner are not read");
	}

	d->n = 0;
	nook_tmpfiles_parse_line("d /run/screen 0777 tester tgroup", &d->dir[d->n++]);
	nook_tmpfiles_parse_line("d /run/sticky 1777 tester tgroup", &d->dir[d->n++]);
	nook_tmpfiles_parse_line("d /run/byid 0750 - -", &d->dir[d->n++]);
	snprintf(d->dir[d->n - 1].user, sizeof(d->dir[0].user), "%u", (unsigned) geteuid());
	snprintf(d->dir[d->n - 1].group, sizeof(d->dir[0].group), "%u", (unsigned) getegid());
	nook_run_dirs_add(d, "sticky", 0700);
	is_int(d->n, 3, "run_dirs_add does not repeat a name");
	if (geteuid() == 0)
		nook_run_dirs_add(d, "lock", 01777);
	run = openat(rfd, "run", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mkdirat(run, "sticky", 0700) < 0)
		ok(0, "mkdir");
	r = nook_run_dirs_make(d, rfd, run, &failed);
	is_int(r, 0, "make (failed: %s)", failed ? failed : "-");
	ok(fstatat(run, "screen", &st, 0) == 0 && (st.st_mode & 07777) == 0777 && st.st_uid == geteuid() &&
		   st.st_gid == getegid(),
	   "/run/screen: 0777, owner and group resolved in the root's passwd and group");
	ok(fstatat(run, "byid", &st, 0) == 0 && (st.st_mode & 07777) == 0750 && st.st_uid == geteuid(),
	   "numeric owners");
	ok(fstatat(run, "sticky", &st, 0) == 0 && (st.st_mode & 07777) == 0700,
	   "an existing directory is left as it is");
	if (geteuid() == 0)
		ok(fstatat(run, "lock", &st, 0) == 0 && (st.st_mode & 07777) == 01777 && st.st_uid == 0,
		   "lock: 1777, root's");
	else
		printf("ok %d - # SKIP root-owned directories need root\n", ++tap_n);

	if (nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		diag("could not remove %s", root);
}

static void test_stubs(void)
{
	char buf[1024];

	ok(nook_setuid_stubs_n > 0, "there are stubs");
	for (size_t i = 0; i < nook_setuid_stubs_n; i++) {
		const struct nook_setuid_stub *s = &nook_setuid_stubs[i];
		int n = nook_setuid_stub_script(s, buf, sizeof(buf));

		ok(n > 0 && strncmp(buf, "#!/bin/sh\n", 10) == 0 && strstr(buf, "exit 1\n") &&
			   !strpbrk(s->why, "'$`\\\n") && s->path[0] == '/',
		   "stub for %s: a script, exits 1, its message needs no quoting", s->path);
	}
	is_int(nook_setuid_stub_script(&nook_setuid_stubs[0], buf, 16), -ENAMETOOLONG,
	       "a short buffer is refused");
}

int main(void)
{
	test_parse();
	test_collect_and_make();
	test_stubs();
	return done_testing();
}
