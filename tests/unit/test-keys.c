/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The key lines nook-helper keys hands to sshd (helper/keys.c): pure logic. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nook.h"
#include "tap.h"

/* The filter's output for IN (LEN bytes), in RET (NUL-terminated). */
static int filter(const char *in, size_t len, char *ret, size_t size)
{
	FILE *f = fmemopen(ret, size, "w");
	int n;

	if (!f)
		return -1;
	n = nook_keys_filter(in, len, f);
	fclose(f);
	return n;
}

int main(void)
{
	char out[512];
	static const char keys[] =
		"# a comment\n"
		"\n"
		"   \t \n"
		"ssh-ed25519 AAAAone a@b\n"
		"  # indented comment\n"
		"from=\"10.0.0.1\" ssh-ed25519 AAAAtwo c@d\r\n"
		"ssh-ed25519 AAAAbad\033[2J x\n"
		"ssh-ed25519 AAAAlast e@f";
	static const char nul[] = "ssh-ed25519 AAAAn\0ul\nssh-ed25519 AAAAok\n";
	char *big = malloc(20000);

	is_int(filter(keys, sizeof(keys) - 1, out, sizeof(out)), 3, "three key lines of eight");
	is_str(out,
	       "ssh-ed25519 AAAAone a@b\n"
	       "from=\"10.0.0.1\" ssh-ed25519 AAAAtwo c@d\n"
	       "ssh-ed25519 AAAAlast e@f\n",
	       "comments, blanks and a line with an escape sequence are dropped; CR stripped; options kept; "
	       "the last line gets its newline");
	is_int(filter(nul, sizeof(nul) - 1, out, sizeof(out)), 1, "a line with a NUL is dropped");
	is_str(out, "ssh-ed25519 AAAAok\n", "only the clean line is left");
	is_int(filter("", 0, out, sizeof(out)), 0, "an empty file: no keys");
	if (big) {
		memset(big, 'A', 20000);
		big[7] = ' ';
		is_int(filter(big, 20000, out, sizeof(out)), 0,
		       "a line longer than sshd's key limit is dropped");
		free(big);
	}
	return done_testing();
}
