/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Who a container is for: the passwd entry, groups and resolved settings. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "nook.h"

/* The host's size, for the limits a configuration leaves unset. */
static void host_size(struct nook_host_size *ret)
{
	struct sysinfo si;
	char buf[32];
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	*ret = (struct nook_host_size) { .n_cpus = n > 0 ? (unsigned) n : 1, .threads_max = 32768 };
	if (sysinfo(&si) == 0)
		ret->mem_total = (uint64_t) si.totalram * si.mem_unit;
	if (nook_read_file_at(AT_FDCWD, "/proc/sys/kernel/threads-max", buf, sizeof(buf)) > 0)
		ret->threads_max = strtoull(buf, NULL, 10);
}

void nook_user_free(struct nook_user *u)
{
	free(u->home);
	free(u->shell);
	nook_settings_free(&u->set);
	memset(u, 0, sizeof(*u));
}

int nook_user_load(const char *conf_path, const char *name, struct nook_user *ret)
{
	/* ret is valid (empty) for nook_user_free() on every path. */
	struct nook_conf *conf = NULL;
	_cleanup_free_ char *err = NULL;
	struct passwd *pw;
	int n, r;

	memset(ret, 0, sizeof(*ret));
	if (!nook_valid_user_name(name)) {
		log_err("'%s' is not a valid user name", name ? name : "");
		return -EINVAL;
	}
	errno = 0;
	pw = getpwnam(name);
	if (!pw) {
		log_err("user '%s' does not exist", name);
		return errno ? -errno : -ESRCH;
	}
	if (nook_uid_never_contained(pw->pw_uid)) {
		log_err("refusing to build a container for '%s': uid 0 is never containerized", name);
		return -EPERM;
	}
	if (pw->pw_dir[0] != '/' || strstr(pw->pw_dir, "/../") || strstr(pw->pw_dir, "/./")) {
		log_err("user '%s' has home directory '%s'; it must be a plain absolute path", name,
			pw->pw_dir);
		return -EINVAL;
	}
	snprintf(ret->name, sizeof(ret->name), "%s", name);
	ret->uid = pw->pw_uid;
	ret->gid = pw->pw_gid;
	ret->home = strdup(pw->pw_dir);
	ret->shell = strdup(pw->pw_shell && pw->pw_shell[0] ? pw->pw_shell : "/bin/sh");
	if (!ret->home || !ret->shell) {
		nook_user_free(ret);
		return -ENOMEM;
	}
	n = NOOK_MAX_GROUPS;
	if (getgrouplist(name, pw->pw_gid, ret->groups, &n) < 0) {
		log_err("user '%s' is in more than %d groups", name, NOOK_MAX_GROUPS);
		nook_user_free(ret);
		return -E2BIG;
	}
	ret->n_groups = (size_t) n;

	r = nook_conf_load(conf_path, &conf, &err);
	if (r < 0) {
		if (err)
			log_err("%s", err);
		else
			log_err("cannot load %s: %s", conf_path, strerror(-r));
		nook_user_free(ret);
		return r;
	}
	for (char *const *w = nook_conf_warnings(conf); w && *w; w++)
		log_warn("%s", *w);
	r = nook_conf_resolve(conf, name, ret->gid, ret->groups, ret->n_groups, &ret->set);
	nook_conf_free(conf);
	if (r < 0) {
		log_err("%s: cannot resolve the settings of '%s' (check hostname and paths): %s", conf_path,
			name, strerror(-r));
		nook_user_free(ret);
		return r;
	}
	{
		struct nook_host_size h;

		host_size(&h);
		nook_settings_auto_limits(&ret->set, &h);
	}
	return 0;
}
