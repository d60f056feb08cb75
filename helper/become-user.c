/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Becoming the user inside: the last step of nookctl exec's way in. The
 * steps before are a login's (common/enter.c: nook_join takes the cgroup,
 * the seven namespaces and container root), then a fork into the pid
 * namespace; here, the restricted profile, then the user's groups, gid and
 * uid, read back together with the capabilities and no_new_privs.
 */
#include <errno.h>
#include <grp.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "log.h"
#include "nook.h"
#include "restrict.h"

static bool caps_empty(void)
{
	cap_t caps = cap_get_proc();
	cap_t none = cap_init();
	bool empty = caps && none && cap_compare(caps, none) == 0;

	cap_free(caps);
	cap_free(none);
	return empty;
}

int nook_become_user(const struct nook_user *u)
{
	gid_t groups[NOOK_MAX_GROUPS];
	size_t n = 0;
	int r;

	/* Only groups mapped into the container (never 0 or tty). */
	for (size_t i = 0; i < u->n_groups; i++)
		if (u->groups[i] != 0 && u->groups[i] != 5)
			groups[n++] = u->groups[i];
	r = nook_restrict_apply(u->set.profile);
	if (r < 0) {
		log_err("cannot apply the restricted profile: %s", strerror(-r));
		return r;
	}
	if (setgroups(n, groups) < 0 || setresgid(u->gid, u->gid, u->gid) < 0 ||
	    setresuid(u->uid, u->uid, u->uid) < 0) {
		r = -errno;
		log_err("cannot become '%s': %s", u->name, strerror(-r));
		return r;
	}
	/* Read back: the ids are the user's and nothing privileged is left. */
	if (getuid() != u->uid || geteuid() != u->uid || getgid() != u->gid || !caps_empty() ||
	    prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
		log_err("dropping to '%s' did not take effect; refusing to run", u->name);
		return -EPERM;
	}
	return 0;
}
