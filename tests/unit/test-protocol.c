/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for common/protocol.c (TAP): requests, replies, INFO and the
 * keeper's record, formatted and parsed back, and malformed input refused.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "protocol.h"
#include "tap.h"

static const char cg_line[] = "v1 memory:/sys/fs/cgroup/memory:nook/alice cpu:/sys/fs/cgroup/cpu:nook/alice";

static struct nook_session_info sample_info(void)
{
	struct nook_session_info in = { .init_pid = 4242,
					.keeper_pid = 4241,
					.init_pidfd = -EBADF,
					.started_usec = 1700000000123456ULL,
					.sessions = 3,
					.loop = "/dev/loop7" };

	snprintf(in.cgroup, sizeof(in.cgroup), "%s", cg_line);
	return in;
}

static bool info_equal(const struct nook_session_info *a, const struct nook_session_info *b)
{
	return a->init_pid == b->init_pid && a->keeper_pid == b->keeper_pid &&
	       a->started_usec == b->started_usec && a->sessions == b->sessions &&
	       strcmp(a->loop, b->loop) == 0 && strcmp(a->cgroup, b->cgroup) == 0;
}

static int parse_str(const char *s, struct nook_reply *ret)
{
	return nook_reply_parse(s, strlen(s), ret);
}

static void test_requests(void)
{
	for (int i = 0; i < _NOOK_REQ_MAX; i++) {
		const char *name = nook_req_name((enum nook_req) i);

		ok(name && nook_req_parse(name, strlen(name)) == i, "request %d (%s) round-trips", i,
		   name ? name : "(null)");
	}
	is_str(nook_req_name(NOOK_REQ_REGISTER), "register", "register is the wire word of old");
	is_str(nook_req_name(NOOK_REQ_STOP), "stop", "stop is the wire word of old");
	ok(nook_req_name(_NOOK_REQ_MAX) == NULL, "no name beyond the table");
	is_int(nook_req_parse("stat", 4), -EPROTO, "a prefix of a request is none");
	is_int(nook_req_parse("status ", 7), -EPROTO, "a request with a trailing space is none");
	is_int(nook_req_parse("status", 5), -EPROTO, "the length counts, not a NUL");
	is_int(nook_req_parse("", 0), -EPROTO, "an empty request is none");
	is_int(nook_req_parse("STOP", 4), -EPROTO, "requests are case-sensitive");
	is_int(nook_req_parse("stop\0x", 6), -EPROTO, "an embedded NUL is no request");
}

static void test_info(void)
{
	struct nook_session_info in = sample_info(), out;
	char buf[NOOK_PROTO_MAX];
	int n;

	n = nook_info_format(&in, NOOK_INFO_ALL, buf, sizeof(buf));
	ok(n > 0 && (size_t) n == strlen(buf), "INFO formats (%d bytes)", n);
	is_str(buf,
	       "init=4242 keeper=4241 started=1700000000123456 sessions=3 loop=/dev/loop7 cgroup=v1 "
	       "memory:/sys/fs/cgroup/memory:nook/alice cpu:/sys/fs/cgroup/cpu:nook/alice",
	       "INFO is the line of old");
	is_int(nook_info_parse(buf, (size_t) n, NOOK_INFO_ALL, &out), 0, "INFO parses back");
	ok(info_equal(&in, &out), "... to the same values");
	is_int(out.init_pidfd, -EBADF, "... and no pidfd");

	/* nook-helper's line: a subset, in the same order. */
	n = nook_info_format(&in, NOOK_INFO_INIT | NOOK_INFO_KEEPER | NOOK_INFO_CGROUP, buf, sizeof(buf));
	ok(n > 0, "a subset formats");
	is_str(buf,
	       "init=4242 keeper=4241 cgroup=v1 memory:/sys/fs/cgroup/memory:nook/alice cpu:/sys/fs/cgroup/cpu:nook/alice",
	       "... in the same order (nook-helper's line)");
	is_int(nook_info_parse(buf, (size_t) n, NOOK_INFO_INIT | NOOK_INFO_KEEPER | NOOK_INFO_CGROUP, &out),
	       0, "a subset parses with the same fields");
	ok(out.init_pid == 4242 && out.sessions == 0 && strcmp(out.cgroup, cg_line) == 0,
	   "... into those fields only");
	is_int(nook_info_parse(buf, (size_t) n, NOOK_INFO_ALL, &out), -EPROTO, "... and not as a full INFO");

	in.loop[0] = '\0';
	n = nook_info_format(&in, NOOK_INFO_ALL, buf, sizeof(buf));
	ok(n > 0 && strstr(buf, " loop=- cgroup="), "no loop device is written '-'");
	ok(nook_info_parse(buf, (size_t) n, NOOK_INFO_ALL, &out) == 0 && out.loop[0] == '\0',
	   "... and read as none");

	in = sample_info();
	in.init_pid = 0;
	is_int(nook_info_format(&in, NOOK_INFO_ALL, buf, sizeof(buf)), -EINVAL, "init pid 0 is not written");
	in = sample_info();
	in.keeper_pid = -1;
	is_int(nook_info_format(&in, NOOK_INFO_ALL, buf, sizeof(buf)), -EINVAL,
	       "a negative pid is not written");
	in = sample_info();
	snprintf(in.loop, sizeof(in.loop), "a b");
	is_int(nook_info_format(&in, NOOK_INFO_ALL, buf, sizeof(buf)), -EINVAL,
	       "a word with a space is not written");
	snprintf(in.loop, sizeof(in.loop), "-");
	is_int(nook_info_format(&in, NOOK_INFO_ALL, buf, sizeof(buf)), -EINVAL, "a word '-' is not written");
	in = sample_info();
	snprintf(in.cgroup, sizeof(in.cgroup), "v2 a\nb");
	is_int(nook_info_format(&in, NOOK_INFO_ALL, buf, sizeof(buf)), -EINVAL, "a newline is not written");
	in = sample_info();
	is_int(nook_info_format(&in, NOOK_INFO_ALL, buf, 20), -ENOBUFS, "a short buffer is -ENOBUFS");
	is_int(nook_info_format(&in, NOOK_INFO_ALL, buf, 0), -ENOBUFS, "... and so is none");
	is_int(nook_info_format(&in, 1U << 6, buf, sizeof(buf)), -EINVAL, "an unknown field is refused");

	in.sessions = UINT32_MAX;
	in.started_usec = UINT64_MAX;
	in.init_pid = in.keeper_pid = INT32_MAX;
	n = nook_info_format(&in, NOOK_INFO_ALL, buf, sizeof(buf));
	ok(n > 0 && nook_info_parse(buf, (size_t) n, NOOK_INFO_ALL, &out) == 0 && info_equal(&in, &out),
	   "the largest values round-trip");
}

static void test_replies(void)
{
	struct nook_reply rp = { .kind = NOOK_REPLY_OK, .info = sample_info() }, out;
	char buf[NOOK_PROTO_MAX], line[NOOK_PROTO_MAX + 2];
	int n;

	n = nook_reply_format(&rp, buf, sizeof(buf));
	ok(n > 3 && strncmp(buf, "ok init=4242 ", 13) == 0, "an ok reply carries INFO");
	ok(parse_str(buf, &out) == 0 && out.kind == NOOK_REPLY_OK && info_equal(&rp.info, &out.info),
	   "... and parses back");
	/* The state file: the reply and a newline. */
	snprintf(line, sizeof(line), "%s\n", buf);
	ok(parse_str(line, &out) == 0 && info_equal(&rp.info, &out.info),
	   "one trailing newline is a line's end");
	snprintf(line, sizeof(line), "%s\n\n", buf);
	is_int(parse_str(line, &out), -EPROTO, "two are not");

	rp = (struct nook_reply) { .kind = NOOK_REPLY_STOPPED };
	ok(nook_reply_format(&rp, buf, sizeof(buf)) == 7 && strcmp(buf, "stopped") == 0, "stopped");
	ok(parse_str("stopped", &out) == 0 && out.kind == NOOK_REPLY_STOPPED, "... parses");

	for (int e = 0; e < _NOOK_ERROR_MAX; e++) {
		rp = (struct nook_reply) { .kind = NOOK_REPLY_ERROR, .error = (enum nook_reply_error) e };
		n = nook_reply_format(&rp, buf, sizeof(buf));
		ok(n > 6 && parse_str(buf, &out) == 0 && out.kind == NOOK_REPLY_ERROR && (int) out.error == e,
		   "error %d (%s) round-trips", e, buf);
	}
	rp = (struct nook_reply) { .kind = NOOK_REPLY_ERROR, .error = NOOK_ERROR_STOPPING };
	ok(nook_reply_format(&rp, buf, sizeof(buf)) == 14 && strcmp(buf, "error stopping") == 0,
	   "'error stopping' is the reply of old");
	rp.error = _NOOK_ERROR_MAX;
	is_int(nook_reply_format(&rp, buf, sizeof(buf)), -EINVAL, "an unknown error is not written");
	rp.kind = _NOOK_REPLY_KIND_MAX;
	is_int(nook_reply_format(&rp, buf, sizeof(buf)), -EINVAL, "an unknown kind is not written");
}

static void test_malformed(void)
{
	static const char *const bad[] = {
		"",
		"ok",
		"ok ",
		"OK init=1 keeper=2 started=3 sessions=0 loop=- cgroup=v2 -:/s:u",
		"ok  init=1 keeper=2 started=3 sessions=0 loop=- cgroup=v2 -:/s:u",
		"ok init=0 keeper=2 started=3 sessions=0 loop=- cgroup=v2 -:/s:u",
		"ok init=01 keeper=2 started=3 sessions=0 loop=- cgroup=v2 -:/s:u",
		"ok init=-1 keeper=2 started=3 sessions=0 loop=- cgroup=v2 -:/s:u",
		"ok init=+1 keeper=2 started=3 sessions=0 loop=- cgroup=v2 -:/s:u",
		"ok init= keeper=2 started=3 sessions=0 loop=- cgroup=v2 -:/s:u",
		"ok init=2147483648 keeper=2 started=3 sessions=0 loop=- cgroup=v2 -:/s:u",
		"ok init=1 keeper=2 started=18446744073709551616 sessions=0 loop=- cgroup=v2 -:/s:u",
		"ok init=1 keeper=2 started=3 sessions=4294967296 loop=- cgroup=v2 -:/s:u",
		"ok init=1 keeper=2 started=3 sessions=0 loop= cgroup=v2 -:/s:u",
		"ok init=1 keeper=2 started=3 sessions=0 loop=- cgroup=v2 -:/s:u\nx",
		"ok keeper=2 init=1 started=3 sessions=0 loop=- cgroup=v2 -:/s:u",
		"ok init=1 keeper=2 started=3 sessions=0 loop=-",
		"ok init=1 keeper=2 started=3 sessions=0 loop=- cgroup",
		"ok init=1 keeper=2 started=3 sessions=0 loop=- cgroupx=v2",
		"ok init=1 keeper=2 started=3 sessions=0 loop=0123456789012345678901234567890123 cgroup=v2",
		"ok init=1 keeper=2 started=3 sessions=0 extra=1 loop=- cgroup=v2",
		"stopped ",
		"stoppedx",
		"error",
		"error ",
		"error nonsense",
		"error stopping ",
		"garbage",
	};
	struct nook_reply out;
	char big[NOOK_PROTO_MAX + 64];

	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		is_int(parse_str(bad[i], &out), -EPROTO, "refused: '%.40s'", bad[i]);
	{
		static const char nul[] = "ok init=1 keeper=2 started=3 sessions=0 loop=- cgroup=v2 \0x";

		is_int(nook_reply_parse(nul, sizeof(nul) - 1, &out), -EPROTO, "refused: an embedded NUL");
	}
	/* A cgroup line longer than the field. */
	{
		static const char head[] = "ok init=1 keeper=2 started=3 sessions=0 loop=- cgroup=";

		memset(big, 'a', sizeof(big));
		memcpy(big, head, sizeof(head) - 1); /* a message, not a string: no NUL */
		is_int(nook_reply_parse(big, sizeof(big), &out), -EPROTO,
		       "refused: a cgroup longer than its field");
		is_int(nook_reply_parse(big, sizeof(head) - 1, &out), 0,
		       "... an empty one is a value (the cgroup parser judges it)");
	}
}

static void test_record(void)
{
	struct nook_keeper_rec rec = { .pid = 77,
				       .start = 123456789ULL,
				       .stopping = false,
				       .image = "/var/lib/nook/images/my alice.img" },
			       out;
	char buf[700];
	int n;

	n = nook_keeper_rec_format(&rec, buf, sizeof(buf));
	is_str(buf, "pid=77 start=123456789 state=running image=/var/lib/nook/images/my alice.img",
	       "the record is the line of old");
	ok(n > 0 && nook_keeper_rec_parse(buf, (size_t) n, &out) == 0 && out.pid == 77 &&
		   out.start == 123456789ULL && !out.stopping && strcmp(out.image, rec.image) == 0,
	   "the record parses back (a path may hold spaces)");
	rec.stopping = true;
	n = nook_keeper_rec_format(&rec, buf, sizeof(buf));
	ok(n > 0 && strstr(buf, " state=stopping ") && nook_keeper_rec_parse(buf, (size_t) n, &out) == 0 &&
		   out.stopping,
	   "stopping round-trips");
	ok(nook_keeper_rec_parse("pid=77 start=1 state=running image=/x\n", 38, &out) == 0,
	   "the file's newline");
	is_int(nook_keeper_rec_parse("pid=1 start=1 state=running image=/x", 36, &out), -EPROTO,
	       "pid 1 is never a keeper");
	is_int(nook_keeper_rec_parse("pid=77 start=1 state=dead image=/x", 34, &out), -EPROTO,
	       "an unknown state");
	is_int(nook_keeper_rec_parse("pid=77 start=1 state=running", 28, &out), -EPROTO, "no image");
	is_int(nook_keeper_rec_parse("pid=77 start=x state=running image=/x", 37, &out), -EPROTO,
	       "a start that is no number");
	rec.pid = 1;
	is_int(nook_keeper_rec_format(&rec, buf, sizeof(buf)), -EINVAL, "pid 1 is not written");
}

int main(void)
{
	test_requests();
	test_info();
	test_replies();
	test_malformed();
	test_record();
	return done_testing();
}
