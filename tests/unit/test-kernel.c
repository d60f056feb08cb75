/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The kernel check (helper/kernel.c) and systemd's unit name escaping
 * (helper/systemd.c): pure logic. */
#include <errno.h>
#include <string.h>

#include "nook.h"
#include "tap.h"

int main(void)
{
	char buf[64];

	ok(nook_kernel_version_at_least("6.1.0-28-amd64", 5, 19), "Debian 12's 6.1 is recent enough");
	ok(nook_kernel_version_at_least("6.18.44-fc-v782", 5, 19), "6.18 is recent enough");
	ok(nook_kernel_version_at_least("5.19.0", 5, 19), "5.19 itself is recent enough");
	ok(!nook_kernel_version_at_least("5.18.19", 5, 19), "5.18 is too old");
	ok(!nook_kernel_version_at_least("5.10.0-30-amd64", 5, 19), "Debian 11's 5.10 is too old");
	ok(!nook_kernel_version_at_least("4.99", 5, 19), "an older major is too old");
	ok(nook_kernel_version_at_least("10.0", 5, 19), "a newer major with a small minor is recent enough");
	ok(!nook_kernel_version_at_least("garbage", 5, 19), "an unreadable release is not taken as recent");
	ok(!nook_kernel_version_at_least("6", 5, 19), "a release without a minor is not taken as recent");

	is_int(nook_systemd_unit_name("alice", buf, sizeof(buf)), 0, "unit name of alice");
	is_str(buf, "nook-alice.scope", "alice's scope is nook-alice.scope");
	is_int(nook_systemd_unit_name("nt-a_b.c", buf, sizeof(buf)), 0, "unit name with - _ .");
	is_str(buf, "nook-nt-a_b.c.scope", "'-', '_' and '.' stay as they are");
	is_int(nook_systemd_unit_name("smb$", buf, sizeof(buf)), 0, "unit name with $");
	is_str(buf, "nook-smb\\x24.scope", "'$' is escaped as systemd does (\\x24)");
	is_int(nook_systemd_unit_name("abcdefghijklmnopqrstuvwxyzabcdef", buf, 20), -ENAMETOOLONG,
	       "a name that does not fit is refused, not cut");
	{
		char cg[256];

		is_int(nook_systemd_scope_cgroup("nook.slice", "alice", cg, sizeof(cg)), 0, "scope cgroup");
		is_str(cg, "nook.slice/nook-alice.scope", "a top-level slice holds the scope");
		is_int(nook_systemd_scope_cgroup("nook-lab-x.slice", "alice", cg, sizeof(cg)), 0,
		       "scope cgroup in a nested slice");
		is_str(cg, "nook.slice/nook-lab.slice/nook-lab-x.slice/nook-alice.scope",
		       "each '-' of the slice's name nests, as in systemd");
	}
	return done_testing();
}
