/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for common/conf-*.c (TAP). The loader tests need root, to create
 * files owned by someone else; without root they are skipped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "conf.h"
#include "tap.h"
#include "util.h"

#define NAME "test.conf"
#define NOBODY 65534

/* Parses TEXT as NAME into a fresh conf; NULL (and *err) on failure. */
static struct nook_conf *parse(const char *text, char **err)
{
	struct nook_conf *c = nook_conf_new();

	if (!c)
		abort();
	if (nook_conf_parse_buffer(c, NAME, text, strlen(text), err) < 0) {
		nook_conf_free(c);
		return NULL;
	}
	return c;
}

/* Parses TEXT as file NAME into C, like a further file would be. */
static int add(struct nook_conf *c, const char *name, const char *text, char **err)
{
	return nook_conf_parse_buffer(c, name, text, strlen(text), err);
}

/* Checks that TEXT is refused with -EINVAL-like R and a message that names
 * NAME:LINE and contains WANT. */
static void parse_fails(const char *text, unsigned line, const char *want, const char *what)
{
	struct nook_conf *c = nook_conf_new();
	_cleanup_free_ char *err = NULL;
	char loc[64];
	int r;

	if (!c)
		abort();
	r = nook_conf_parse_buffer(c, NAME, text, strlen(text), &err);
	snprintf(loc, sizeof(loc), NAME ":%u: ", line);
	ok(r < 0 && err && strstr(err, loc) && strstr(err, want), "%s: refused at %s", what, loc);
	if (!(err && strstr(err, loc) && strstr(err, want)))
		diag("r=%d err='%s', want '%s' and '%s'", r, err ? err : "(null)", loc, want);
	nook_conf_free(c);
}

static bool has_warning(const struct nook_conf *c, const char *a, const char *b)
{
	for (char *const *w = nook_conf_warnings(c); *w; w++)
		if (strstr(*w, a) && (!b || strstr(*w, b)))
			return true;
	return false;
}

static size_t n_warnings(const struct nook_conf *c)
{
	size_t n = 0;

	for (char *const *w = nook_conf_warnings(c); *w; w++)
		n++;
	return n;
}

static void test_value_parsers(void)
{
	static const struct {
		const char *in;
		int r;
		uint64_t v;
	} sizes[] = {
		{ "10G", 0, UINT64_C(10) << 30 },
		{ "512M", 0, UINT64_C(512) << 20 },
		{ "4096", 0, 4096 },
		{ "4k", 0, 4096 },
		{ "1T", 0, UINT64_C(1) << 40 },
		{ "2GiB", 0, UINT64_C(2) << 30 },
		{ "2gb", 0, UINT64_C(2) << 30 },
		{ "0", 0, 0 },
		{ "max", 0, 0 },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "10Q", -EINVAL, 0 },
		{ "-1", -EINVAL, 0 },
		{ "-10G", -EINVAL, 0 },
		{ "", -EINVAL, 0 },
		{ "G", -EINVAL, 0 },
		{ "10 G", -EINVAL, 0 },
		{ "10Gx", -EINVAL, 0 },
		{ "0x10", -EINVAL, 0 },
		{ "+5", -EINVAL, 0 },
		{ "18446744073709551616", -ERANGE, 0 },
		{ "99999999999999999999999", -ERANGE, 0 },
		{ "16777216T", -ERANGE, 0 },
		{ "17179869184G", -ERANGE, 0 },
	};
	static const struct {
		const char *in;
		int r;
		uint64_t v;
	} durations[] = {
		{ "0", 0, 0 },
		{ "30s", 0, 30000 },
		{ "10m", 0, 600000 },
		{ "10min", 0, 600000 },
		{ "1h", 0, 3600000 },
		{ "250ms", 0, 250 },
		{ "2d", 0, 172800000 },
		{ "0s", 0, 0 },
		{ "30", -EINVAL, 0 },
		{ "30x", -EINVAL, 0 },
		{ "10M", -EINVAL, 0 },
		{ "1h30m", -EINVAL, 0 },
		{ "s", -EINVAL, 0 },
		{ "", -EINVAL, 0 },
		{ "-5s", -EINVAL, 0 },
		{ "18446744073709551615s", -ERANGE, 0 },
		{ "18446744073709551616ms", -ERANGE, 0 },
	};
	static const struct {
		const char *in;
		int r;
		bool v;
	} bools[] = {
		{ "yes", 0, true },      { "TRUE", 0, true },    { "on", 0, true },       { "1", 0, true },
		{ "no", 0, false },      { "False", 0, false },  { "off", 0, false },     { "0", 0, false },
		{ "y", -EINVAL, false }, { "", -EINVAL, false }, { "2", -EINVAL, false },
	};

	for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
		uint64_t v = 12345;
		int r = nook_parse_size(sizes[i].in, &v);
		ok(r == sizes[i].r && (r < 0 || v == sizes[i].v), "%s:%d: size '%s' -> %d/%llu (got %d/%llu)",
		   __FILE__, __LINE__, sizes[i].in, sizes[i].r, (unsigned long long) sizes[i].v, r,
		   (unsigned long long) v);
	}
	for (size_t i = 0; i < ELEMENTSOF(durations); i++) {
		uint64_t v = 12345;
		int r = nook_parse_duration_ms(durations[i].in, &v);
		ok(r == durations[i].r && (r < 0 || v == durations[i].v),
		   "%s:%d: duration '%s' -> %d/%llu (got %d/%llu)", __FILE__, __LINE__, durations[i].in,
		   durations[i].r, (unsigned long long) durations[i].v, r, (unsigned long long) v);
	}
	for (size_t i = 0; i < ELEMENTSOF(bools); i++) {
		bool v = !bools[i].v;
		int r = nook_parse_bool(bools[i].in, &v);
		ok(r == bools[i].r && (r < 0 || v == bools[i].v), "%s:%d: bool '%s' -> %d (got %d)", __FILE__,
		   __LINE__, bools[i].in, bools[i].r, r);
	}
}

static void test_defaults(void)
{
	struct nook_conf *c = parse("", NULL);
	struct nook_settings s;

	ok(c, "empty config parses");
	is_int(nook_conf_resolve(c, "alice", 1000, NULL, 0, &s), 0, "empty config resolves");
	ok(s.enable, "enable defaults to yes");
	is_str(s.rootfs, "/", "rootfs defaults to /");
	ok(s.hide && !s.hide[0], "hide defaults to an empty list");
	ok(!s.binds && s.n_binds == 0, "no binds by default");
	is_str(s.image_dir, "/var/lib/nook/images", "image_dir default");
	is_str(s.lxcfs, "/var/lib/lxcfs", "lxcfs default: Debian's service's mount");
	ok(s.image_size == (UINT64_C(10) << 30), "image_size defaults to 10G");
	ok(!s.image_space_warn, "image_space defaults to refuse");
	is_str(s.hostname, "alice", "hostname defaults to %%u");
	ok(s.linger_ms == 0, "linger defaults to 0");
	ok(s.memory_max == NOOK_LIMIT_AUTO && s.cpu_max == NOOK_CPU_AUTO && s.pids_max == NOOK_LIMIT_AUTO &&
		   s.tmpfs_size == NOOK_LIMIT_AUTO,
	   "unset limits are left to the host's size");
	{
		/* 8 GiB, 4 CPUs, threads-max 62000. */
		struct nook_host_size h = { UINT64_C(8) << 30, 4, 62000 };
		struct nook_settings a = s;

		nook_settings_auto_limits(&a, &h);
		ok(a.memory_max == (UINT64_C(4) << 30), "auto memory_max: half the host's memory");
		ok(a.pids_max == 4096, "auto pids_max: a quarter of threads-max, at most 4096");
		is_int((int) a.cpu_max, 200, "auto cpu_max: half the CPUs");
		ok(a.tmpfs_size == (UINT64_C(1) << 30), "auto tmpfs_size: a quarter of memory_max");
		h = (struct nook_host_size) { UINT64_C(1) << 30, 1, 1000 };
		a = s;
		a.memory_max = 0; /* max */
		nook_settings_auto_limits(&a, &h);
		ok(a.memory_max == 0, "an explicit max stays unlimited");
		ok(a.pids_max == 250 && a.cpu_max == 100, "small host: 250 tasks, one CPU");
		ok(a.tmpfs_size == (UINT64_C(256) << 20),
		   "tmpfs_size with memory_max = max: a quarter of the host's");
	}
	is_str(s.cgroup_root, "nook", "cgroup_root defaults to nook");
	ok(s.cgroup_manager == NOOK_CG_AUTO, "cgroup_manager defaults to auto");
	is_str(s.systemd_slice, "nook.slice", "systemd_slice defaults to nook.slice");
	ok(s.network == NOOK_NET_NONE && s.profile == NOOK_PROFILE_RESTRICTED, "network/profile defaults");
	is_int(nook_conf_selected(c, "alice", 1000, NULL, 0), 0, "users defaults to nobody");
	is_int(nook_conf_selected(c, "root", 0, NULL, 0), 0, "root is not selected by default");
	nook_settings_free(&s);
	nook_conf_free(c);
}

static void test_every_key(void)
{
	static const char text[] =
		"# comment\n"
		"; another comment\n"
		"enable = no\n"
		"users = nobody\n"
		"exempt = root\n"
		"rootfs = /srv/base\n"
		"hide = /srv/secret /opt/keys\n"
		"hide=/etc/hidden#notacomment\n"
		"bind = /data:/data:ro\n"
		"bind = /scratch:/mnt/scratch:rw /x:/y\n"
		"image_dir = /srv/images\n"
		"image_size = 512M\n"
		"image_space = warn\n"
		"hostname = box-%u.lab\n"
		"linger = 10m\n"
		"memory_max = 4G\n"
		"cpu_max = 250\n"
		"pids_max = 1000\n"
		"cgroup_root = ./nook/users\n"
		"cgroup_manager = cgroupfs\n"
		"systemd_slice = nook-lab_1.slice\n"
		"network = none\n"
		"profile = restricted\n"
		"tmpfs_size = 64M\n"
		"pty_max = 64\n"
		"lxcfs = /srv/lxcfs\n";
	_cleanup_free_ char *err = NULL;
	struct nook_conf *c = parse(text, &err);
	struct nook_settings s = { 0 };

	ok(c, "config with every key parses (%s)", err ? err : "ok");
	if (!c)
		return;
	is_int(nook_conf_resolve(c, "nobody", NOBODY, NULL, 0, &s), 0, "resolves");
	ok(!s.enable, "enable = no");
	is_str(s.rootfs, "/srv/base", "rootfs");
	ok(s.hide && s.hide[0] && s.hide[1] && s.hide[2] && !s.hide[3], "hide: three paths");
	if (s.hide && s.hide[0] && s.hide[1] && s.hide[2]) {
		is_str(s.hide[0], "/srv/secret", "hide[0]");
		is_str(s.hide[1], "/opt/keys", "hide[1]");
		is_str(s.hide[2], "/etc/hidden#notacomment", "hide[2]: '#' inside a value is kept");
	}
	is_int(s.n_binds, 3, "three binds");
	if (s.n_binds == 3) {
		ok(!strcmp(s.binds[0].src, "/data") && !strcmp(s.binds[0].dst, "/data") && s.binds[0].ro,
		   "bind[0] /data:/data:ro");
		ok(!strcmp(s.binds[1].src, "/scratch") && !strcmp(s.binds[1].dst, "/mnt/scratch") &&
			   !s.binds[1].ro,
		   "bind[1] :rw");
		ok(!strcmp(s.binds[2].src, "/x") && !strcmp(s.binds[2].dst, "/y") && !s.binds[2].ro,
		   "bind[2] defaults to rw");
	}
	is_str(s.image_dir, "/srv/images", "image_dir");
	ok(s.image_size == (UINT64_C(512) << 20), "image_size");
	ok(s.image_space_warn, "image_space = warn");
	is_str(s.hostname, "box-nobody.lab", "hostname %%u expanded");
	ok(s.linger_ms == 600000, "linger 10m");
	ok(s.memory_max == (UINT64_C(4) << 30), "memory_max");
	is_int(s.cpu_max, 250, "cpu_max");
	ok(s.pids_max == 1000, "pids_max");
	ok(s.tmpfs_size == (UINT64_C(64) << 20), "tmpfs_size");
	ok(s.pty_max == 64, "pty_max");
	is_str(s.lxcfs, "/srv/lxcfs", "lxcfs");
	{
		_cleanup_free_ char *e0 = NULL;
		struct nook_conf *c0 = parse("lxcfs = var/lib/lxcfs\n", &e0);

		ok(!c0 && e0 && strstr(e0, "lxcfs = 'var/lib/lxcfs'") && strstr(e0, "or none"),
		   "lxcfs: a relative path is refused, naming both forms (%s)", e0 ? e0 : "accepted");
		if (c0)
			nook_conf_free(c0);
	}
	{
		_cleanup_free_ char *e0 = NULL;
		struct nook_conf *c0 = parse("pty_max = 2000000\n", &e0);

		ok(!c0 && e0 && strstr(e0, "pty_max = '2000000'") && strstr(e0, "1048576"),
		   "pty_max above the kernel's limit is refused, naming the range (%s)",
		   e0 ? e0 : "accepted");
		if (c0)
			nook_conf_free(c0);
	}
	{
		_cleanup_free_ char *e0 = NULL;
		struct nook_conf *c0 = parse("tmpfs_size = 0\n", &e0);

		ok(!c0 && e0 && strstr(e0, "tmpfs_size = 0") && strstr(e0, "max"),
		   "tmpfs_size = 0 is refused, pointing to max");
		if (c0)
			nook_conf_free(c0);
	}
	is_str(s.cgroup_root, "./nook/users", "cgroup_root keeps './'");
	ok(s.cgroup_manager == NOOK_CG_CGROUPFS, "cgroup_manager");
	is_str(s.systemd_slice, "nook-lab_1.slice", "systemd_slice");
	ok(s.network == NOOK_NET_NONE, "network");
	ok(s.profile == NOOK_PROFILE_RESTRICTED, "profile");
	nook_settings_free(&s);
	ok(!s.hostname && !s.hide && !s.binds, "nook_settings_free clears the struct");
	nook_settings_free(&s); /* twice is harmless */
	nook_conf_free(c);

	c = parse("memory_max = max\ncpu_max = max\npids_max = max\ncpu_max=50%\n", &err);
	ok(!c && err && strstr(err, NAME ":4:") && strstr(err, "duplicate"), "duplicate cpu_max refused");
	free(err);
	err = NULL;
	c = parse("memory_max = max\ncpu_max = MAX\npids_max = max\nlinger = 0\n", NULL);
	ok(c && nook_conf_resolve(c, "u", 1, NULL, 0, &s) == 0 && s.memory_max == 0 && s.cpu_max == 0 &&
		   s.pids_max == 0,
	   "'max' is 0 for the limits");
	if (c)
		nook_settings_free(&s);
	nook_conf_free(c);
	c = parse("cpu_max = 50%\n", NULL);
	ok(c && nook_conf_resolve(c, "u", 1, NULL, 0, &s) == 0 && s.cpu_max == 50, "cpu_max accepts 50%%");
	if (c)
		nook_settings_free(&s);
	nook_conf_free(c);
}

static void test_precedence(void)
{
	static const char text[] =
		"hostname = default\n"
		"linger = 1s\n"
		"hide = /d\n"
		"bind = /d:/d\n"
		"[user:alice]\n"
		"hostname = user\n"
		"hide = /u\n"
		"[group:root]\n"
		"hostname = group\n"
		"linger = 2s\n"
		"hide = /g\n"
		"bind = /g:/g\n"
		"[group:nogroup]\n"
		"pids_max = 7\n"
		"[default]\n"
		"memory_max = 1G\n"
		"hide = /d2\n";
	const gid_t groups[] = { 0 };
	struct nook_conf *c = parse(text, NULL);
	struct nook_settings s = { 0 };

	ok(c, "precedence config parses");
	if (!c)
		return;
	is_int(nook_conf_resolve(c, "alice", 1000, groups, 1, &s), 0, "resolve alice in group root");
	is_str(s.hostname, "user", "user section beats group and default");
	ok(s.linger_ms == 2000, "group section beats default");
	ok(s.memory_max == (UINT64_C(1) << 30), "a later [default] header adds to the default");
	ok(s.pids_max == NOOK_LIMIT_AUTO, "a group the user is not in does not apply");
	ok(s.hide[0] && s.hide[1] && s.hide[2] && s.hide[3] && !s.hide[4] && !strcmp(s.hide[0], "/d") &&
		   !strcmp(s.hide[1], "/d2") && !strcmp(s.hide[2], "/g") && !strcmp(s.hide[3], "/u"),
	   "hide accumulates: default, group, user");
	ok(s.n_binds == 2 && !strcmp(s.binds[0].src, "/d") && !strcmp(s.binds[1].src, "/g"),
	   "bind accumulates");
	nook_settings_free(&s);

	is_int(nook_conf_resolve(c, "bob", 0, NULL, 0, &s), 0, "resolve bob with primary gid 0");
	is_str(s.hostname, "group", "primary gid selects the group section");
	nook_settings_free(&s);

	is_int(nook_conf_resolve(c, "carol", 1000, NULL, 0, &s), 0, "resolve carol, no groups");
	is_str(s.hostname, "default", "default only");
	ok(s.linger_ms == 1000 && s.hide[0] && s.hide[1] && !s.hide[2], "default only: linger, hide");
	nook_settings_free(&s);

	is_int(nook_conf_resolve(c, "dave", 1000, (const gid_t[]) { 5, NOBODY }, 2, &s), 0,
	       "resolve dave in nogroup (supplementary)");
	ok(s.pids_max == 7, "supplementary gid selects the group section");
	nook_settings_free(&s);

	/* A later file overrides an earlier one; lists keep accumulating. */
	ok(add(c, "later.conf", "hostname = later\nhide = /later\n[user:alice]\nlinger = 3s\n", NULL) == 0,
	   "second file parses");
	is_int(nook_conf_resolve(c, "carol", 1000, NULL, 0, &s), 0, "resolve carol again");
	is_str(s.hostname, "later", "later file overrides an earlier one");
	ok(s.hide[2] && !strcmp(s.hide[2], "/later") && !s.hide[3], "later hide appends");
	nook_settings_free(&s);
	is_int(nook_conf_resolve(c, "alice", 1000, groups, 1, &s), 0, "resolve alice again");
	is_str(s.hostname, "user", "an earlier [user:] beats a later [default]");
	ok(s.linger_ms == 3000, "a later [user:] beats an earlier [group:]");
	nook_settings_free(&s);
	nook_conf_free(c);
}

static void test_selection(void)
{
	const gid_t root_grp[] = { 0 };
	struct nook_conf *c;

	c = parse("users = nobody, @root\n", NULL);
	ok(c, "users with name and @group parses");
	is_int(nook_conf_selected(c, "nobody", NOBODY, NULL, 0), 1, "listed name is selected");
	is_int(nook_conf_selected(c, "alice", 1000, root_grp, 1), 1, "member of @root is selected");
	is_int(nook_conf_selected(c, "alice", 0, NULL, 0), 1, "primary gid counts for @group");
	is_int(nook_conf_selected(c, "bob", 1000, NULL, 0), 0, "unlisted user is not selected");
	is_int(nook_conf_selected(c, "root", 0, root_grp, 1), 0, "root is exempt by default");
	nook_conf_free(c);

	c = parse("users = *\n", NULL);
	is_int(nook_conf_selected(c, "anyone", 1000, NULL, 0), 1, "* selects everyone");
	is_int(nook_conf_selected(c, "root", 0, NULL, 0), 0, "* still exempts root");
	nook_conf_free(c);

	c = parse("users = *\nexempt = nobody @nogroup\n", NULL);
	is_int(nook_conf_selected(c, "nobody", 1, NULL, 0), 0, "exempt by name");
	is_int(nook_conf_selected(c, "eve", NOBODY, NULL, 0), 0, "exempt by @group");
	is_int(nook_conf_selected(c, "root", 0, NULL, 0), 1, "setting exempt replaces the root default");
	nook_conf_free(c);

	c = parse("users = *\nexempt =\n", NULL);
	ok(c, "empty exempt parses");
	is_int(nook_conf_selected(c, "root", 0, NULL, 0), 1, "empty exempt exempts nobody");
	nook_conf_free(c);

	c = parse(
		"users = *\n[user:nobody]\nenable = no\n[group:root]\nenable = no\n[user:root]\nenable = yes\n",
		NULL);
	is_int(nook_conf_selected(c, "nobody", NOBODY, NULL, 0), 0, "enable = no in [user:] unselects");
	is_int(nook_conf_selected(c, "alice", 1000, root_grp, 1), 0, "enable = no in [group:] unselects");
	is_int(nook_conf_selected(c, "bob", 1000, NULL, 0), 1, "others stay selected");
	nook_conf_free(c);

	c = parse("users = *\nenable = no\n[user:nobody]\nenable = yes\n", NULL);
	is_int(nook_conf_selected(c, "bob", 1000, NULL, 0), 0, "enable = no in [default]");
	is_int(nook_conf_selected(c, "nobody", NOBODY, NULL, 0), 1, "[user:] re-enables");
	nook_conf_free(c);

	c = parse("users = nobody\n", NULL);
	ok(c && add(c, "b.conf", "users = @nogroup\n", NULL) == 0, "second file");
	is_int(nook_conf_selected(c, "nobody", 1, NULL, 0), 0, "a later users replaces an earlier one");
	is_int(nook_conf_selected(c, "x", NOBODY, NULL, 0), 1, "the later users applies");
	nook_conf_free(c);

	parse_fails("[user:nobody]\nusers = *\n", 2, "only valid in [default]", "users in [user:]");
	parse_fails("[group:root]\nexempt = root\n", 2, "only valid in [default]", "exempt in [group:]");
	parse_fails("users = alice Bob\n", 1, "'Bob' is not a user name", "bad user name");
	parse_fails("users = @\n", 1, "not a valid group name", "empty @group");
	parse_fails("exempt = @a/b\n", 1, "not a valid group name", "bad group name");
}

static void test_hostname(void)
{
	struct nook_settings s;
	struct nook_conf *c;

	c = parse("hostname = %u-box\n", NULL);
	is_int(nook_conf_resolve(c, "alice", 1, NULL, 0, &s), 0, "hostname %%u-box");
	is_str(s.hostname, "alice-box", "%%u expanded");
	nook_settings_free(&s);
	is_int(nook_conf_resolve(c, "a_b", 1, NULL, 0, &s), -EINVAL, "'_' from the user name: -EINVAL");
	is_int(nook_conf_resolve(c, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1, NULL,
				 0, &s),
	       -EINVAL, "expansion over 64 characters: -EINVAL");
	is_int(nook_conf_resolve(c, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1, NULL, 0,
				 &s),
	       0, "exactly 64 characters is fine");
	nook_settings_free(&s);
	nook_conf_free(c);

	c = parse("hostname = %u%u\n", NULL);
	is_int(nook_conf_resolve(c, "ab", 1, NULL, 0, &s), 0, "two %%u");
	is_str(s.hostname, "abab", "both expanded");
	nook_settings_free(&s);
	nook_conf_free(c);

	c = parse("hostname = 100%%\n", NULL);
	ok(c, "%%%% is accepted by the parser");
	is_int(nook_conf_resolve(c, "ab", 1, NULL, 0, &s), -EINVAL, "but '%%' is no hostname character");
	nook_conf_free(c);

	parse_fails("\nhostname = %x\n", 2, "unknown escape '%x'", "hostname %x");
	parse_fails("hostname = box%\n", 1, "unknown escape", "hostname trailing %");
	parse_fails("hostname = a_b\n", 1, "may only contain", "hostname with '_'");
	parse_fails("hostname = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 1,
		    "longer than 64", "hostname too long");
}

static void test_value_errors(void)
{
	parse_fails("image_size = 10Q\n", 1, "not a size", "image_size 10Q");
	parse_fails("image_size = -1G\n", 1, "not a size", "image_size negative");
	parse_fails("image_size = 99999999999999999999\n", 1, "too large", "image_size overflow");
	parse_fails("image_size = 16777216T\n", 1, "too large", "image_size multiply overflow");
	parse_fails("image_size = max\n", 1, "fixed size", "image_size max");
	parse_fails("image_size = 0\n", 1, "fixed size", "image_size 0");
	parse_fails("image_size = 63M\n", 1, "minimum of 64M", "image_size below 64M");
	parse_fails("memory_max = 0\n", 1, "use max", "memory_max 0");
	parse_fails("memory_max = 1X\n", 1, "not a size", "memory_max junk");
	parse_fails("cpu_max = 0\n", 1, "from 1 to 102400", "cpu_max 0");
	parse_fails("cpu_max = 102401\n", 1, "from 1 to 102400", "cpu_max too big");
	parse_fails("cpu_max = 1.5\n", 1, "from 1 to 102400", "cpu_max fraction");
	parse_fails("pids_max = -3\n", 1, "or max", "pids_max negative");
	parse_fails("pids_max = 18446744073709551616\n", 1, "or max", "pids_max overflow");
	parse_fails("linger = 5x\n", 1, "not a duration", "linger bad unit");
	parse_fails("linger = 30\n", 1, "not a duration", "linger without unit");
	parse_fails("enable = maybe\n", 1, "use yes or no", "enable maybe");
	parse_fails("rootfs = srv/base\n", 1, "not an absolute path", "relative rootfs");
	parse_fails("image_dir = /var/../tmp\n", 1, "contains '..'", "image_dir with ..");
	parse_fails("hide = /ok relative\n", 1, "not an absolute path", "relative hide");
	parse_fails("hide = /\n", 1, "whole lower layer", "hide /");
	parse_fails("hide =\n", 1, "empty value", "empty hide");
	parse_fails("bind = data:/data\n", 1, "not an absolute path", "bind relative source");
	parse_fails("bind = /data:data\n", 1, "not an absolute path", "bind relative destination");
	parse_fails("bind = /data:/data:rx\n", 1, "unknown option 'rx'", "bind bad option");
	parse_fails("bind = /data:/data:ro:x\n", 1, "unknown option", "bind extra field");
	parse_fails("bind = /data\n", 1, "no destination", "bind without destination");
	parse_fails("bind = /data:/\n", 1, "replace the root", "bind onto /");
	parse_fails("network = host\n", 1, "use none, pasta or bridge", "network host");
	parse_fails("profile = none\n", 1, "only value is restricted", "profile none");
	parse_fails("cgroup_root = /nook\n", 1, "must be relative", "absolute cgroup_root");
	parse_fails("cgroup_manager = cgmanager\n", 1, "use auto, systemd or cgroupfs",
		    "unknown cgroup_manager");
	parse_fails("systemd_slice = nook\n", 1, "not a slice name", "systemd_slice without .slice");
	parse_fails("systemd_slice = -nook.slice\n", 1, "not a slice name", "systemd_slice starting with -");
	parse_fails("systemd_slice = nook-.slice\n", 1, "not a slice name", "systemd_slice ending with -");
	parse_fails("systemd_slice = a--b.slice\n", 1, "not a slice name", "systemd_slice with --");
	parse_fails("systemd_slice = a/b.slice\n", 1, "may only contain", "systemd_slice with /");
	parse_fails("systemd_slice = a.b.slice\n", 1, "may only contain", "systemd_slice with a dot");
	parse_fails("systemd_slice = .slice\n", 1, "not a slice name", "systemd_slice that is only .slice");
	parse_fails("cgroup_root = nook/../x\n", 1, "'..' component", "cgroup_root with ..");
	parse_fails("cgroup_root = ../x\n", 1, "'..' component", "cgroup_root starting with ..");
	parse_fails("cgroup_root = a//b\n", 1, "empty", "cgroup_root with //");
	parse_fails("cgroup_root = nook/\n", 1, "ends with '/'", "cgroup_root trailing /");
	parse_fails("cgroup_root = ./\n", 1, "names no cgroup", "cgroup_root ./ alone");
	parse_fails("cgroup_root = a b\n", 1, "may only contain", "cgroup_root with space");
	parse_fails("rootfs =\n", 1, "empty value", "empty rootfs");
}

static void test_syntax_errors(void)
{
	parse_fails("# c\n\nfoo = bar\n", 3, "unknown key 'foo'", "unknown key");
	parse_fails("[default]\n[host:x]\n", 2, "unknown section [host:x]", "unknown section type");
	parse_fails("[user:Alice]\n", 1, "not a valid user name", "bad user name in header");
	parse_fails("[group:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\n", 1, "not a valid group name",
		    "33-char group name");
	parse_fails("[user:]\n", 1, "not a valid user name", "empty user name");
	parse_fails("[default\n", 1, "closing ']'", "header without ]");
	parse_fails("just words\n", 1, "is not 'key = value'", "line without =");
	parse_fails("linger = 1s\nlinger = 2s\n", 2,
		    "duplicate key 'linger' in [default] (first set at line 1)", "duplicate key");
	parse_fails("[user:nobody]\nlinger = 1s\n[default]\n[user:nobody]\nlinger = 2s\n", 5,
		    "duplicate key 'linger' in [user:nobody]", "duplicate key across a repeated header");
	parse_fails("linger = 1s\n[default]\nlinger = 2s\n", 3, "duplicate key",
		    "keys before a header are [default]");
	parse_fails("users = a\nusers = b\n", 2, "duplicate key 'users'", "duplicate users");
	{
		static const char nul[] = "linger = 1s\nhide = /a\x00more\n";
		struct nook_conf *c = nook_conf_new();
		char *err = NULL;
		int r = nook_conf_parse_buffer(c, NAME, nul, sizeof(nul) - 1, &err);
		ok(r == -EINVAL && err && strstr(err, NAME ":2: contains a NUL byte"),
		   "NUL byte refused at its line");
		free(err);
		nook_conf_free(c);
	}

	{
		struct nook_conf *c = nook_conf_new();
		ok(add(c, "a.conf", "linger = 1s\nhide = /a\n", NULL) == 0 &&
			   add(c, "b.conf", "linger = 2s\n[user:x]\nlinger=3s\n", NULL) == 0,
		   "the same key in two files is no duplicate");
		nook_conf_free(c);
		c = parse("hide = /a\nhide = /b\n[user:x]\nbind=/a:/a\nbind=/b:/b\n", NULL);
		ok(c, "repeating hide or bind is no duplicate");
		nook_conf_free(c);
	}
	{
		/* A failed file leaves the conf as it was. */
		struct nook_conf *c = parse("hostname = first\n[user:nosuchuser-x]\n", NULL);
		struct nook_settings s;
		char *err = NULL;
		size_t nw = n_warnings(c);
		int r = add(c, "bad.conf", "hostname = second\n[user:nosuchuser-y]\nnope = 1\n", &err);

		ok(r == -EINVAL && err && strstr(err, "bad.conf:3: unknown key 'nope'"),
		   "bad second file refused");
		free(err);
		is_int(n_warnings(c), nw, "its warnings are dropped");
		is_int(nook_conf_resolve(c, "u", 1, NULL, 0, &s), 0, "conf still resolves");
		is_str(s.hostname, "first", "its settings are dropped");
		nook_settings_free(&s);
		nook_conf_free(c);
	}
	ok(nook_conf_parse_buffer(NULL, NAME, "", 0, NULL) == -EINVAL, "NULL conf is -EINVAL");
	{
		struct nook_conf *c = parse("  [ default ]  \n\t linger\t=\t1s  \r\n", NULL);
		struct nook_settings s;
		ok(c && nook_conf_resolve(c, "u", 1, NULL, 0, &s) == 0 && s.linger_ms == 1000,
		   "whitespace and CRLF are trimmed");
		if (c)
			nook_settings_free(&s);
		nook_conf_free(c);
	}
}

static void test_warnings(void)
{
	struct nook_conf *c =
		parse("users = nobody nosuchuser-a @nosuchgroup-b\n"
		      "exempt = root nosuchuser-c\n"
		      "[user:nosuchuser-d]\n"
		      "[group:nosuchgroup-e]\n"
		      "[user:nobody]\n"
		      "[group:nogroup]\n",
		      NULL);
	struct nook_settings s;

	ok(c, "nonexistent users and groups are not errors");
	is_int(n_warnings(c), 5, "five warnings");
	ok(has_warning(c, NAME ":1:", "'nosuchuser-a'"), "warning for a user in users, with file:line");
	ok(has_warning(c, NAME ":1:", "'nosuchgroup-b'"), "warning for a group in users");
	ok(has_warning(c, NAME ":2:", "'nosuchuser-c'"), "warning for a user in exempt");
	ok(has_warning(c, NAME ":3:", "[user:nosuchuser-d]"), "warning for [user:] of a nonexistent user");
	ok(has_warning(c, NAME ":4:", "[group:nosuchgroup-e]"),
	   "warning for [group:] of a nonexistent group");
	ok(!has_warning(c, "'nobody'", NULL) && !has_warning(c, "[user:nobody]", NULL) &&
		   !has_warning(c, "nogroup", NULL),
	   "no warning for existing ones");
	is_int(nook_conf_selected(c, "nosuchuser-a", 1, NULL, 0), 1,
	       "a listed user is still selected by name");
	ok(nook_conf_resolve(c, "nosuchuser-d", 1, NULL, 0, &s) == 0, "resolve works");
	nook_settings_free(&s);
	nook_conf_free(c);

	c = parse("", NULL);
	ok(nook_conf_warnings(c) && !nook_conf_warnings(c)[0], "no warnings: an empty list");
	nook_conf_free(c);
}

/* ---- loader ------------------------------------------------------------- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void) st;
	(void) flag;
	(void) ftw;
	return remove(path);
}

static void write_file(const char *dir, const char *name, const char *text, mode_t mode, uid_t uid)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "we");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0 || chmod(path, mode) < 0 ||
	    chown(path, uid, (gid_t) -1) < 0) {
		perror(path);
		abort();
	}
}

static void xchown(const char *path, uid_t uid)
{
	if (chown(path, uid, (gid_t) -1) < 0) {
		perror(path);
		abort();
	}
}

static void xchmod(const char *path, mode_t mode)
{
	if (chmod(path, mode) < 0) {
		perror(path);
		abort();
	}
}

static void test_load(void)
{
	char tmpl[] = "/tmp/nook-test-conf.XXXXXX";
	char *dir, main_path[256], dpath[256], path[4096];
	struct nook_conf *c = NULL;
	struct nook_settings s;
	char *err = NULL;
	int r;

	if (geteuid() != 0) {
		diag("loader tests skipped: they need root to chown files");
		return;
	}
	dir = mkdtemp(tmpl);
	if (!dir) {
		perror("mkdtemp");
		abort();
	}
	snprintf(main_path, sizeof(main_path), "%s/nook.conf", dir);
	snprintf(dpath, sizeof(dpath), "%s/nook.conf.d", dir);

	r = nook_conf_load(main_path, &c, &err);
	ok(r == -ENOENT && err && strstr(err, main_path) && strstr(err, "does not exist"),
	   "missing main file: -ENOENT, message names it (%s)", err ? err : "");
	free(err);
	err = NULL;

	write_file(dir, "nook.conf", "users = *\nhostname = main\nlinger = 1s\n", 0644, 0);
	r = nook_conf_load(main_path, &c, &err);
	ok(r == 0 && c, "root-owned 0644 file loads, no drop-in dir is fine");
	nook_conf_free(c);
	c = NULL;

	xchown(main_path, NOBODY);
	r = nook_conf_load(main_path, &c, &err);
	ok(r == -EPERM && err && strstr(err, "owned by uid 65534") && strstr(err, "chown root"),
	   "file owned by nobody refused: %s", err ? err : "");
	free(err);
	err = NULL;
	xchown(main_path, 0);

	xchmod(main_path, 0664);
	r = nook_conf_load(main_path, &c, &err);
	ok(r == -EPERM && err && strstr(err, "writable by group or others") && strstr(err, "chmod go-w"),
	   "group-writable file refused: %s", err ? err : "");
	free(err);
	err = NULL;
	xchmod(main_path, 0646);
	r = nook_conf_load(main_path, &c, &err);
	ok(r == -EPERM && err && strstr(err, "chmod go-w"), "other-writable file refused");
	free(err);
	err = NULL;
	xchmod(main_path, 0600);

	snprintf(path, sizeof(path), "%s/link.conf", dir);
	ok(symlink(main_path, path) == 0 && nook_conf_load(path, &c, NULL) == 0,
	   "a symlink to a good file is followed");
	nook_conf_free(c);
	c = NULL;

	/* Drop-ins: lexical order, only *.conf, no hidden files. */
	ok(mkdir(dpath, 0755) == 0, "mkdir nook.conf.d");
	write_file(dpath, "20-b.conf", "hostname = second\nhide = /b\n", 0644, 0);
	write_file(dpath, "10-a.conf", "hostname = first\nhide = /a\nlinger = 5s\n", 0644, 0);
	write_file(dpath, "30-c.txt", "this is not a config\n", 0644, NOBODY);
	write_file(dpath, ".99-hidden.conf", "bad key = 1\n", 0666, NOBODY);
	write_file(dpath, "15-x.conf~", "bad key = 1\n", 0644, 0);
	r = nook_conf_load(main_path, &c, &err);
	ok(r == 0, "main file plus drop-ins load (%s)", err ? err : "ok");
	free(err);
	err = NULL;
	if (c && nook_conf_resolve(c, "u", 1, NULL, 0, &s) == 0) {
		is_str(s.hostname, "second", "the last drop-in in lexical order wins");
		ok(s.linger_ms == 5000, "a drop-in overrides the main file");
		ok(s.hide[0] && s.hide[1] && !s.hide[2] && !strcmp(s.hide[0], "/a") &&
			   !strcmp(s.hide[1], "/b"),
		   "drop-ins are read in lexical order");
		nook_settings_free(&s);
	}
	nook_conf_free(c);
	c = NULL;

	write_file(dpath, "25-bad.conf", "\nlinger = 1 s\n", 0644, 0);
	r = nook_conf_load(main_path, &c, &err);
	snprintf(path, sizeof(path), "%s/25-bad.conf:2:", dpath);
	ok(r == -EINVAL && !c && err && strstr(err, path), "an error in a drop-in names its path:line: %s",
	   err ? err : "");
	free(err);
	err = NULL;
	write_file(dpath, "25-bad.conf", "linger = 2s\n", 0644, NOBODY);
	r = nook_conf_load(main_path, &c, &err);
	ok(r == -EPERM && err && strstr(err, "25-bad.conf: owned by uid 65534"),
	   "drop-in not owned by root refused");
	free(err);
	err = NULL;
	write_file(dpath, "25-bad.conf", "linger = 2s\n", 0620, 0);
	r = nook_conf_load(main_path, &c, &err);
	ok(r == -EPERM && err && strstr(err, "chmod go-w"), "group-writable drop-in refused");
	free(err);
	err = NULL;
	snprintf(path, sizeof(path), "%s/25-bad.conf", dpath);
	(void) unlink(path);

	xchmod(dpath, 0775);
	r = nook_conf_load(main_path, &c, &err);
	ok(r == -EPERM && err && strstr(err, "nook.conf.d: writable by group or others"),
	   "group-writable drop-in dir refused: %s", err ? err : "");
	free(err);
	err = NULL;
	xchmod(dpath, 0755);
	xchown(dpath, NOBODY);
	r = nook_conf_load(main_path, &c, &err);
	ok(r == -EPERM && err && strstr(err, "nook.conf.d: owned by uid 65534"),
	   "drop-in dir owned by nobody refused");
	free(err);
	err = NULL;
	xchown(dpath, 0);

	snprintf(path, sizeof(path), "%s/40-dir.conf", dpath);
	ok(mkdir(path, 0755) == 0, "mkdir 40-dir.conf");
	r = nook_conf_load(main_path, &c, &err);
	ok(r < 0 && err && strstr(err, "not a regular file"), "a directory named *.conf is refused");
	free(err);
	err = NULL;
	(void) rmdir(path);

	{
		/* Over the 1 MiB limit. */
		char *big = malloc(1024 * 1024 + 2);
		if (!big)
			abort();
		memset(big, '#', 1024 * 1024 + 1);
		big[1024 * 1024 + 1] = '\0';
		write_file(dpath, "50-big.conf", big, 0644, 0);
		free(big);
		r = nook_conf_load(main_path, &c, &err);
		ok(r == -EFBIG && err && strstr(err, "50-big.conf") && strstr(err, "limit"),
		   "a file over 1 MiB is refused: %s", err ? err : "");
		free(err);
		err = NULL;
	}

	ok(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0, "temporary directory removed");
}

/* network, bridge, bridge_subnet(6), isolate, host_access, dns. */
static void test_network(void)
{
	static const struct {
		const char *in;
		int family;
		int r;
		unsigned prefix;
		bool host_bits;
	} cidrs[] = {
		{ "10.213.0.0/16", AF_INET, 0, 16, false },
		{ "10.213.0.1/16", AF_INET, 0, 16, true },
		{ "192.0.2.0/30", AF_INET, 0, 30, false },
		{ "192.0.2.4/30", AF_INET, 0, 30, false },
		{ "192.0.2.5/30", AF_INET, 0, 30, true },
		{ "10.0.0.0/0", AF_INET, 0, 0, true },
		{ "0.0.0.0/0", AF_INET, 0, 0, false },
		{ "10.0.0.0/33", AF_INET, -ERANGE, 0, false },
		{ "10.0.0.0/016", AF_INET, -EINVAL, 0, false },
		{ "10.0.0.0/", AF_INET, -EINVAL, 0, false },
		{ "10.0.0.0", AF_INET, -EINVAL, 0, false },
		{ "10.0.0/8", AF_INET, -EINVAL, 0, false },
		{ "10.0.0.0/-8", AF_INET, -EINVAL, 0, false },
		{ "fd00:213::/64", AF_INET6, 0, 64, false },
		{ "fd00:213::1/64", AF_INET6, 0, 64, true },
		{ "fd00:213:0:1::/63", AF_INET6, 0, 63, true },
		{ "fd00::/129", AF_INET6, -ERANGE, 0, false },
		{ "10.0.0.0/8", AF_INET6, -EINVAL, 0, false },
		{ "fd00::/8", AF_INET, -EINVAL, 0, false },
	};
	struct nook_conf *c;
	struct nook_settings s;
	char text[INET6_ADDRSTRLEN];

	for (size_t i = 0; i < sizeof(cidrs) / sizeof(cidrs[0]); i++) {
		struct nook_cidr cd = { 0 };
		int r = nook_parse_cidr(cidrs[i].in, cidrs[i].family, &cd);

		is_int(r, cidrs[i].r, "nook_parse_cidr(%s)", cidrs[i].in);
		if (r == 0)
			ok(cd.family == cidrs[i].family && cd.prefix == cidrs[i].prefix &&
				   nook_cidr_host_bits(&cd) == cidrs[i].host_bits,
			   "%s: prefix %u, host bits %s", cidrs[i].in, cidrs[i].prefix,
			   cidrs[i].host_bits ? "set" : "clear");
	}

	/* Defaults. */
	c = parse("", NULL);
	is_int(nook_conf_resolve(c, "alice", 1000, NULL, 0, &s), 0, "defaults resolve");
	ok(s.network == NOOK_NET_NONE, "network defaults to none");
	is_str(s.bridge, "nook0", "bridge defaults to nook0");
	inet_ntop(AF_INET, s.bridge_subnet.addr, text, sizeof(text));
	ok(s.bridge_subnet.family == AF_INET && strcmp(text, "10.213.0.0") == 0 &&
		   s.bridge_subnet.prefix == 16,
	   "bridge_subnet defaults to 10.213.0.0/16");
	ok(s.bridge_subnet6.family == 0, "no bridge_subnet6 by default");
	ok(s.isolate, "isolate defaults to yes");
	ok(!s.host_access, "host_access defaults to no");
	ok(s.dns && !s.dns[0], "dns defaults to an empty (automatic) list");
	nook_settings_free(&s);
	nook_conf_free(c);

	/* Every key, and the per-group/per-user override. */
	c =
		parse("network = bridge\n"
		      "bridge = labbr0\n"
		      "bridge_subnet = 192.168.77.0/24\n"
		      "bridge_subnet6 = fd00:213:0:1::/64\n"
		      "isolate = no\n"
		      "host_access = yes\n"
		      "dns = 192.0.2.53, 2001:DB8::0:53  198.51.100.53\n"
		      "[user:alice]\n"
		      "network = pasta\n"
		      "dns = 192.0.2.1\n"
		      "isolate = yes\n",
		      NULL);
	ok(c, "network keys parse");
	is_int(nook_conf_resolve(c, "bob", 1000, NULL, 0, &s), 0, "bob resolves");
	ok(s.network == NOOK_NET_BRIDGE, "network = bridge");
	is_str(s.bridge, "labbr0", "bridge name");
	inet_ntop(AF_INET, s.bridge_subnet.addr, text, sizeof(text));
	ok(strcmp(text, "192.168.77.0") == 0 && s.bridge_subnet.prefix == 24, "bridge_subnet (%s)", text);
	inet_ntop(AF_INET6, s.bridge_subnet6.addr, text, sizeof(text));
	ok(s.bridge_subnet6.family == AF_INET6 && strcmp(text, "fd00:213:0:1::") == 0 &&
		   s.bridge_subnet6.prefix == 64,
	   "bridge_subnet6 (%s)", text);
	ok(!s.isolate && s.host_access, "isolate = no, host_access = yes");
	ok(s.dns && s.dns[0] && s.dns[1] && s.dns[2] && !s.dns[3], "three name servers");
	if (s.dns && s.dns[0] && s.dns[1] && s.dns[2]) {
		is_str(s.dns[0], "192.0.2.53", "dns[0]");
		is_str(s.dns[1], "2001:db8::53", "dns[1] is normalized");
		is_str(s.dns[2], "198.51.100.53", "dns[2]");
	}
	nook_settings_free(&s);
	is_int(nook_conf_resolve(c, "alice", 1000, NULL, 0, &s), 0, "alice resolves");
	ok(s.network == NOOK_NET_PASTA && s.isolate && s.host_access,
	   "[user:alice] overrides network and isolate");
	ok(s.dns && s.dns[0] && !s.dns[1] && strcmp(s.dns[0], "192.0.2.1") == 0,
	   "dns is replaced, not appended");
	nook_settings_free(&s);
	nook_conf_free(c);

	parse_fails("network = bridged\n", 1, "use none, pasta or bridge", "network bridged");
	parse_fails("bridge = abcdefghijklmnop\n", 1, "longer than 15", "bridge name too long");
	parse_fails("bridge = br/0\n", 1, "may only contain", "bridge name with '/'");
	parse_fails("bridge = nk-x\n", 1, "reserved", "bridge name nk-*");
	parse_fails("bridge_subnet = 10.213.0.1/16\n", 1, "host bits set; write the network, 10.213.0.0/16",
		    "bridge_subnet with host bits");
	parse_fails("bridge_subnet = 10.213.0.0/31\n", 1, "from /8 to /30", "bridge_subnet /31");
	parse_fails("bridge_subnet = 10.0.0.0/7\n", 1, "from /8 to /30", "bridge_subnet /7");
	parse_fails("bridge_subnet = 127.0.0.0/8\n", 1, "loopback", "bridge_subnet loopback");
	parse_fails("bridge_subnet = 224.1.0.0/16\n", 1, "multicast", "bridge_subnet multicast");
	parse_fails("bridge_subnet = 10.213.0.0\n", 1, "ADDRESS/LENGTH", "bridge_subnet without length");
	parse_fails("bridge_subnet = fd00::/64\n", 1, "not an IPv4 prefix", "bridge_subnet IPv6");
	parse_fails("bridge_subnet6 = 10.0.0.0/8\n", 1, "not an IPv6 prefix", "bridge_subnet6 IPv4");
	parse_fails("bridge_subnet6 = fd00::/112\n", 1, "from /8 to /96", "bridge_subnet6 too long");
	parse_fails("bridge_subnet6 = fd00::1/64\n", 1, "write the network, fd00::/64",
		    "bridge_subnet6 host bits");
	parse_fails("bridge_subnet6 = ff02::/16\n", 1, "multicast", "bridge_subnet6 multicast");
	parse_fails("isolate = perhaps\n", 1, "use yes or no", "isolate not a bool");
	parse_fails("host_access = 2\n", 1, "use yes or no", "host_access not a bool");
	parse_fails("dns = resolver.example\n", 1, "not a numeric", "dns name");
	parse_fails("dns = fe80::1%eth0\n", 1, "not a numeric", "dns with a scope");
	parse_fails("dns = 1.1.1.1 2.2.2.2 3.3.3.3 4.4.4.4\n", 1, "at most that many",
		    "dns with four servers");

	/* mosh_ports, mosh_sessions: host-wide. */
	c = parse("", NULL);
	is_int(nook_conf_resolve(c, "alice", 1000, NULL, 0, &s), 0, "defaults resolve");
	ok(NOOK_MOSH_LOW(s.mosh_ports) == 61001 && NOOK_MOSH_HIGH(s.mosh_ports) == 61999,
	   "mosh_ports defaults to 61001-61999 (outside Linux's ephemeral ports)");
	ok(s.mosh_sessions == 10, "mosh_sessions defaults to 10");
	nook_settings_free(&s);
	nook_conf_free(c);
	c = parse("mosh_ports = 2000-2099\nmosh_sessions = 5\n", NULL);
	is_int(nook_conf_resolve(c, "alice", 1000, NULL, 0, &s), 0, "mosh keys resolve");
	ok(NOOK_MOSH_LOW(s.mosh_ports) == 2000 && NOOK_MOSH_HIGH(s.mosh_ports) == 2099 &&
		   s.mosh_sessions == 5,
	   "mosh_ports = 2000-2099, mosh_sessions = 5");
	nook_settings_free(&s);
	nook_conf_free(c);
	c = parse("mosh_ports = none\n", NULL);
	is_int(nook_conf_resolve(c, "alice", 1000, NULL, 0, &s), 0, "mosh_ports = none resolves");
	ok(s.mosh_ports == 0, "mosh_ports = none");
	nook_settings_free(&s);
	nook_conf_free(c);
	parse_fails("mosh_ports = 61001\n", 1, "write LOW-HIGH", "mosh_ports without a range");
	parse_fails("mosh_ports = 61001-\n", 1, "write LOW-HIGH", "mosh_ports with an open end");
	parse_fails("mosh_ports = 61001-61999x\n", 1, "write LOW-HIGH", "mosh_ports with junk");
	parse_fails("mosh_ports = 500-600\n", 1, "from 1024 to 65535", "mosh_ports below 1024");
	parse_fails("mosh_ports = 61999-61001\n", 1, "the lower first", "mosh_ports reversed");
	parse_fails("mosh_ports = 61001-70000\n", 1, "from 1024 to 65535", "mosh_ports above 65535");
	parse_fails("mosh_sessions = 0\n", 1, "from 1 to 1000", "mosh_sessions 0");
	parse_fails("mosh_sessions = ten\n", 1, "from 1 to 1000", "mosh_sessions not a number");
	parse_fails("[user:alice]\nmosh_ports = 2000-2099\n", 2, "only valid in [default]",
		    "mosh_ports in a user section");
	parse_fails("dns = ,\n", 1, "lists no address", "dns without an address");
	parse_fails("dns =\n", 1, "empty value", "empty dns");
	parse_fails("[default]\nnetwork = bridge\nnetwork = none\n", 3, "duplicate key 'network'",
		    "network twice");
}

/* nook_conf_image_dirs: where nookctl clean looks for leftovers. */
static void test_image_dirs(void)
{
	_cleanup_free_ char *err = NULL;
	struct nook_conf *c = parse("users = *\n", &err);
	char **v = NULL;
	size_t n = 0;

	ok(c && nook_conf_image_dirs(c, &v) == 0 && v && v[0] && !v[1] &&
		   strcmp(v[0], "/var/lib/nook/images") == 0,
	   "image_dirs: the built-in default when none is set");
	nook_strvfreep(&v);
	nook_conf_free(c);
	v = NULL;
	c = parse(
		"image_dir = /srv/a\n[group:nogroup]\nimage_dir = /srv/b\n[user:x]\nimage_dir = /srv/a\n"
		"[user:y]\nimage_dir = /srv/c\n",
		&err);
	ok(c && nook_conf_image_dirs(c, &v) == 0, "image_dirs: listed");
	for (char **p = v; p && *p; p++)
		n++;
	ok(n == 3 && strcmp(v[0], "/srv/a") == 0 && strcmp(v[1], "/srv/b") == 0 &&
		   strcmp(v[2], "/srv/c") == 0,
	   "image_dirs: the default's and each section's, once each (%zu)", n);
	nook_strvfreep(&v);
	nook_conf_free(c);
	v = NULL;
	c = parse("[user:x]\nimage_dir = /srv/x\n", &err);
	n = 0;
	ok(c && nook_conf_image_dirs(c, &v) == 0, "image_dirs: listed (only a user's)");
	for (char **p = v; p && *p; p++)
		n++;
	ok(n == 2 && strcmp(v[0], "/srv/x") == 0 && strcmp(v[1], "/var/lib/nook/images") == 0,
	   "image_dirs: a section's and the built-in default the others get");
	nook_strvfreep(&v);
	nook_conf_free(c);
}

/* The one validator the config, the helper, nookctl and the PAM module share. */
static void test_user_names(void)
{
	static const char *const good[] = { "alice",    "_svc",     "a1",
					    "nt-bob.x", "machine$", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" };
	static const char *const bad[] = { "",
					   "Alice",
					   "1a",
					   "-a",
					   ".",
					   "..",
					   ".a",
					   "a/b",
					   "a$b",
					   "a b",
					   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" };

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ok(nook_valid_user_name(good[i]), "user name '%s' is valid", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(!nook_valid_user_name(bad[i]), "user name '%s' is refused", bad[i]);
	ok(!nook_valid_user_name(NULL), "no user name is refused");
}

int main(void)
{
	test_value_parsers();
	test_defaults();
	test_every_key();
	test_precedence();
	test_selection();
	test_hostname();
	test_value_errors();
	test_network();
	test_syntax_errors();
	test_user_names();
	test_warnings();
	test_load();
	test_image_dirs();
	return done_testing();
}
