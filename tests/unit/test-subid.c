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

static const struct {
	const char *file, *what;
	int want;
	unsigned long start, count; /* checked when want != 0 */
} cases[] = {
	{ "bob:100000:65536\nalice:165536:65536\n", "alice's line is found", 1, 165536, 65536 },
	{ "alicia:100000:65536\nalice2:300000:65536\nalice:200000:65536\n",
	  "a name that begins another line's name does not match it", 1, 200000, 65536 },
	{ "1001:400000:65536\nalice:500000:65536\n",
	  "the line naming the user comes before the uid's, as in shadow", 1, 500000, 65536 },
	{ "1001:400000:65536\n", "a line by uid alone is found", 1, 400000, 65536 },
	{ "alice:100000:1000\nalice:600000:70000\n", "a small range is passed over for a large enough one", 1,
	  600000, 70000 },
	{ "alice:100000:1000\n", "only a small range: -ERANGE, naming it for the message", -ERANGE, 100000,
	  1000 },
	{ "bob:100000:65536\n", "no line for alice: 0", 0, 0, 0 },
	{ "alice:x:65536\nalice:100000\nalice::65536\nalice:100000:65536junk\nalice:-1:65536\nalice:700000:65536",
	  "malformed lines are passed over; the last line needs no newline", 1, 700000, 65536 },
};

int main(void)
{
	unsigned long start, count;
	int fd = mkstemp(path);

	if (fd < 0)
		return 99;
	(void) close(fd);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		start = count = 0;
		write_file(cases[i].file);
		is_int(nook_subid_files_pick(path, "alice", 1001, 65536, &start, &count), cases[i].want, "%s",
		       cases[i].what);
		if (cases[i].want != 0)
			ok(start == cases[i].start && count == cases[i].count, "... %lu:%lu (got %lu:%lu)",
			   cases[i].start, cases[i].count, start, count);
	}
	(void) unlink(path);
	is_int(nook_subid_files_pick(path, "alice", 1001, 65536, &start, &count), 0, "no file: no range");
	return done_testing();
}
