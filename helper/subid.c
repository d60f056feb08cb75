/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Subordinate ids through shadow's libsubid, which honours the nsswitch
 * "subid:" source (files, or a site's identity service). A range is granted
 * with shadow's own allocator only when the user has none; that works for
 * the files source only, and anything else is the identity service's job.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <shadow/subid.h>

#include "log.h"
#include "nook.h"

/* Where shadow's useradd starts (SUB_UID_MIN in login.defs). */
#define NOOK_SUBID_MIN 100000UL

static int pick_range(const char *user, bool gid, unsigned long *ret_base, unsigned long *ret_count)
{
	struct subid_range *ranges = NULL;
	const char *kind = gid ? "gid" : "uid";
	const char *file = gid ? "/etc/subgid" : "/etc/subuid";
	int n;

	n = gid ? subid_get_gid_ranges(user, &ranges) : subid_get_uid_ranges(user, &ranges);
	if (n > 0) {
		/* The first range that is large enough; a range smaller than
		 * 65536 cannot hold the container's ids 0..65535. */
		for (int i = 0; i < n; i++) {
			if (ranges[i].count >= NOOK_SUBID_COUNT) {
				*ret_base = ranges[i].start;
				*ret_count = ranges[i].count;
				free(ranges);
				return 0;
			}
		}
		log_err("the subordinate %s range of '%s' holds %lu ids (starting at %lu); nook needs "
			"%lu: enlarge it in %s or your identity service",
			kind, user, ranges[0].count, ranges[0].start, NOOK_SUBID_COUNT, file);
		free(ranges);
		return -ERANGE;
	}
	free(ranges);

	struct subordinate_range want = { .owner = user, .start = NOOK_SUBID_MIN, .count = NOOK_SUBID_COUNT };
	bool ok = gid ? subid_grant_gid_range(&want, true) : subid_grant_uid_range(&want, true);

	if (!ok) {
		log_err("'%s' has no subordinate %s range and none could be granted; add one to %s "
			"(usermod --add-sub%ss) or to your identity service",
			user, kind, file, kind);
		return -ENOENT;
	}
	log_info("granted subordinate %ss %lu-%lu to '%s' in %s", kind, want.start,
		 want.start + want.count - 1, user, file);
	*ret_base = want.start;
	*ret_count = want.count;
	return 0;
}

int nook_subid_get(const struct nook_user *u, struct nook_subid *ret)
{
	struct nook_subid s;
	int r;

	r = pick_range(u->name, false, &s.uid_base, &s.uid_count);
	if (r < 0)
		return r;
	r = pick_range(u->name, true, &s.gid_base, &s.gid_count);
	if (r < 0)
		return r;
	/* Host root must never be reachable through the range. */
	if (s.uid_base == 0 || s.gid_base == 0) {
		log_err("the subordinate range of '%s' starts at 0; fix /etc/subuid or /etc/subgid", u->name);
		return -EINVAL;
	}
	*ret = s;
	return 0;
}
