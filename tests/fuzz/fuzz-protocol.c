/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the keeper's protocol (common/protocol.c): the
 * input is offered as a request, a reply (a state file), a keeper record
 * and INFO with a field set taken from its first byte. Whatever a parser
 * accepts must format back to the same bytes (less the one newline a line
 * may end in): the grammar has one spelling per value, so a message can
 * never mean two things.
 *
 * clang -g -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Icommon \
 *       tests/fuzz/fuzz-protocol.c common/protocol.c -o /tmp/fuzz-protocol
 * /tmp/fuzz-protocol -max_total_time=30 tests/fuzz/corpus-protocol
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* BUF (LEN bytes, one trailing newline allowed) must be what was formatted. */
static void same(const char *buf, size_t len, const char *formatted, int n)
{
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (n < 0 || (size_t) n != len || memcmp(buf, formatted, len) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *) data;
	char out[NOOK_PROTO_MAX + 16];
	struct nook_reply rp;
	struct nook_keeper_rec rec;
	struct nook_session_info info;
	int r;

	r = nook_req_parse(buf, size);
	if (r >= 0) {
		const char *name = nook_req_name((enum nook_req) r);

		if (!name || strlen(name) != size || memcmp(name, buf, size) != 0)
			abort();
	} else if (r != -EPROTO) {
		abort();
	}
	r = nook_reply_parse(buf, size, &rp);
	if (r >= 0) {
		if (rp.kind == NOOK_REPLY_OK && rp.info.init_pidfd != -EBADF)
			abort();
		same(buf, size, out, nook_reply_format(&rp, out, sizeof(out)));
	} else if (r != -EPROTO) {
		abort();
	}
	r = nook_keeper_rec_parse(buf, size, &rec);
	if (r >= 0)
		same(buf, size, out, nook_keeper_rec_format(&rec, out, sizeof(out)));
	else if (r != -EPROTO)
		abort();
	if (size > 0) {
		unsigned fields = data[0] & NOOK_INFO_ALL;

		r = nook_info_parse(buf + 1, size - 1, fields, &info);
		if (r >= 0)
			same(buf + 1, size - 1, out, nook_info_format(&info, fields, out, sizeof(out)));
		else if (r != -EPROTO)
			abort();
	}
	return 0;
}
