/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /etc/subuid as helper/subid.c reads it where nsswitch.conf leaves the
 * subordinate ids to the files: shadow's order and a line's three fields. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "nook.h"
#include "tap.h"

static char path[] = "/tmp/nook-test-subid.XXXXXX";

static void write_file(const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		exit(99);
}

int main(void)
{
	unsigned long start = 0, count = 0;
	int fd = mkstemp(path);

	if (fd < 0)
		return 99;
	(void) close(fd);

	write_file("bob:100000:65536\nalice:165536:65536\n");
	is_int(nook_subid_files_pick(path, "alice", 1001, 65536, &start, &count), 1, "alice's line is found");
	ok(start == 165536 && count == 65536, "... with its start and count (%lu:%lu)", start, count);

	write_file("alicia:100000:65536\nali:200000:65536\nalice2:300000:65536\n");
	is_int(nook_subid_files_pick(path, "ali", 1001, 65536, &start, &count), 1,
	       "a name that begins another name's line does not match it");
	ok(start == 200000, "... 'ali' gets its own line (%lu)", start);

	write_file("1001:400000:65536\nalice:500000:65536\n");
	is_int(nook_subid_files_pick(path, "alice", 1001, 65536, &start, &count), 1,
	       "name and uid both listed");
	ok(start == 500000, "the line naming the user comes first, as in shadow (%lu)", start);

	write_file("1001:400000:65536\n");
	is_int(nook_subid_files_pick(path, "alice", 1001, 65536, &start, &count), 1,
	       "a line by uid alone is found");
	ok(start == 400000, "... with its start (%lu)", start);

	write_file("alice:100000:1000\nalice:600000:70000\n");
	is_int(nook_subid_files_pick(path, "alice", 1001, 65536, &start, &count), 1,
	       "a small range is passed over for a large enough one");
	ok(start == 600000 && count == 70000, "... the large one (%lu:%lu)", start, count);

	write_file("alice:100000:1000\n");
	is_int(nook_subid_files_pick(path, "alice", 1001, 65536, &start, &count), -ERANGE,
	       "only a small range: -ERANGE");
	ok(start == 100000 && count == 1000, "... naming it for the message (%lu:%lu)", start, count);

	write_file("bob:100000:65536\n");
	is_int(nook_subid_files_pick(path, "alice", 1001, 65536, &start, &count), 0, "no line for alice: 0");

	write_file(
		"alice:x:65536\nalice:100000\nalice::65536\nalice:100000:65536junk\nalice:-1:65536\n"
		"alice:700000:65536");
	is_int(nook_subid_files_pick(path, "alice", 1001, 65536, &start, &count), 1,
	       "malformed lines are passed over; the last line needs no newline");
	ok(start == 700000, "... and the good line is found (%lu)", start);

	(void) unlink(path);
	is_int(nook_subid_files_pick(path, "alice", 1001, 65536, &start, &count), 0, "no file: no range");
	return done_testing();
}
