/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* uid_map/gid_map text of a container (helper/userns.c). */
#include <errno.h>
#include <string.h>

#include "nook.h"
#include "tap.h"

static struct nook_user user(uid_t uid, gid_t gid, const gid_t *groups, size_t n)
{
	struct nook_user u;

	memset(&u, 0, sizeof(u));
	strcpy(u.name, "alice");
	u.uid = uid;
	u.gid = gid;
	memcpy(u.groups, groups, n * sizeof(gid_t));
	u.n_groups = n;
	return u;
}

int main(void)
{
	char buf[NOOK_MAP_MAX];
	const gid_t g1[] = { 1001 };
	const gid_t g2[] = { 1001, 5, 0, 27, 100, 100, 70000 };
	struct nook_user u = user(1001, 1001, g1, 1);
	int r;

	r = nook_idmap_format(false, &u, 100000, 65536, buf, sizeof(buf));
	ok(r > 0, "uid map formats");
	is_str(buf, "0 100000 1001\n1001 1001 1\n1002 101002 64534\n",
	       "uid map: subordinate range around the identity-mapped uid");

	u = user(1001, 1001, g2, 7);
	r = nook_idmap_format(true, &u, 200000, 65536, buf, sizeof(buf));
	ok(r > 0, "gid map formats");
	is_str(buf,
	       "0 200000 27\n27 27 1\n28 200028 72\n100 100 1\n101 200101 900\n1001 1001 1\n"
	       "1002 201002 64534\n70000 70000 1\n",
	       "gid map: groups identity-mapped, duplicates once, ids above 65535 appended");
	ok(!strstr(buf, "\n5 5 1\n") && strncmp(buf, "5 5", 3) != 0, "host gid 5 (tty) is never mapped");
	ok(!strstr(buf, "0 0 1"), "host gid 0 is never mapped");

	u = user(0, 0, g1, 0);
	ok(nook_idmap_format(false, &u, 100000, 65536, buf, sizeof(buf)) > 0, "uid map of uid 0 formats");
	is_str(buf, "0 100000 65536\n", "uid 0 is never identity-mapped");

	u = user(1001, 1001, g1, 1);
	is_int(nook_idmap_format(false, &u, 100000, 65535, buf, sizeof(buf)), -ERANGE,
	       "a range smaller than 65536 is refused");
	is_int(nook_idmap_format(false, &u, 0, 65536, buf, sizeof(buf)), -ERANGE,
	       "a range starting at host id 0 is refused");
	u = user(100500, 1001, g1, 1);
	is_int(nook_idmap_format(false, &u, 100000, 65536, buf, sizeof(buf)), -EOVERFLOW,
	       "an identity id inside the subordinate range is refused");
	u = user(1001, 1001, g1, 1);
	is_int(nook_idmap_format(false, &u, 100000, 65536, buf, 10), -ENOBUFS, "a short buffer is refused");
	{
		/* The owner of the user namespace: base + own id, which the
		 * map never uses; past the inside range when there is one. */
		struct nook_subid sub = { 100000, 65536, 200000, 65536 };
		struct nook_user big = user(70000, 70000, g1, 1);
		uid_t ou = 0;
		gid_t og = 0;

		is_int(nook_userns_owner(&u, &sub, &ou, &og), 0, "owner of uid 1001");
		is_int((int) ou, 101001, "owner uid is base + the user's uid");
		is_int((int) og, 201001, "owner gid is base + the user's gid");
		r = nook_idmap_format(false, &u, 100000, 65536, buf, sizeof(buf));
		ok(r > 0 && !strstr(buf, " 101001 ") && strstr(buf, "1002 101002 "),
		   "the map skips the owner id");
		sub.uid_count = 65537;
		is_int(nook_userns_owner(&big, &sub, &ou, &og), 0, "owner of uid 70000");
		is_int((int) ou, 165536, "beyond the inside range: the id past it when the range is longer");
		is_int((int) og, 265535, "otherwise the last one");
		sub.uid_count = 100;
		is_int(nook_userns_owner(&u, &sub, &ou, &og), -ERANGE, "a short range has no owner");
	}
	return done_testing();
}
