/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The keeper's protocol (see protocol.h): the request and error words as
 * tables, and INFO and the keeper's record as tables of fields that one
 * formatter and one parser walk.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "protocol.h"

static const char *const req_names[_NOOK_REQ_MAX] = {
	[NOOK_REQ_REGISTER] = "register",
	[NOOK_REQ_ATTACH] = "attach",
	[NOOK_REQ_STATUS] = "status",
	[NOOK_REQ_STOP] = "stop",
};

static const char *const error_names[_NOOK_ERROR_MAX] = {
	[NOOK_ERROR_STOPPING] = "stopping",
	[NOOK_ERROR_NO_PIDFD] = "no pidfd",
	[NOOK_ERROR_UNKNOWN_REQUEST] = "unknown request",
};

/* ---- one field of a line ---- */

enum kind {
	NUM,  /* unsigned decimal in [min, max], stored in a 4- or 8-byte member */
	WORD, /* no spaces; "" is written "-" */
	REST, /* to the end of the line; only as the last field */
	FLAG, /* a bool, written as one of two words */
};

struct field {
	const char *key;
	enum kind kind;
	size_t off, size; /* of the member */
	unsigned long long min, max;
	const char *words[2]; /* FLAG: false, true */
};

#define MEMBER(type, m) offsetof(type, m), sizeof(((type *) 0)->m)

_Static_assert(sizeof(pid_t) == 4 && sizeof(unsigned) == 4, "NUM members are 4 or 8 bytes");
_Static_assert(sizeof(unsigned long long) == 8 && sizeof(uint64_t) == 8, "NUM members are 4 or 8 bytes");

/* In the order of the NOOK_INFO_* bits. */
static const struct field info_fields[] = {
	{ "init", NUM, MEMBER(struct nook_session_info, init_pid), 1, INT32_MAX, { NULL, NULL } },
	{ "keeper", NUM, MEMBER(struct nook_session_info, keeper_pid), 1, INT32_MAX, { NULL, NULL } },
	{ "started", NUM, MEMBER(struct nook_session_info, started_usec), 0, UINT64_MAX, { NULL, NULL } },
	{ "sessions", NUM, MEMBER(struct nook_session_info, sessions), 0, UINT32_MAX, { NULL, NULL } },
	{ "loop", WORD, MEMBER(struct nook_session_info, loop), 0, 0, { NULL, NULL } },
	{ "cgroup", REST, MEMBER(struct nook_session_info, cgroup), 0, 0, { NULL, NULL } },
};

static const struct field rec_fields[] = {
	/* pid 1 is never a keeper: a record naming it is not one we wrote. */
	{ "pid", NUM, MEMBER(struct nook_keeper_rec, pid), 2, INT32_MAX, { NULL, NULL } },
	{ "start", NUM, MEMBER(struct nook_keeper_rec, start), 0, UINT64_MAX, { NULL, NULL } },
	{ "state", FLAG, MEMBER(struct nook_keeper_rec, stopping), 0, 0, { "running", "stopping" } },
	{ "image", REST, MEMBER(struct nook_keeper_rec, image), 0, 0, { NULL, NULL } },
};

#define ALL_OF(table) ((1U << ELEMENTSOF(table)) - 1)

static unsigned long long num_load(const struct field *f, const void *obj)
{
	const char *p = (const char *) obj + f->off;

	if (f->size == 4) {
		uint32_t v;

		memcpy(&v, p, 4);
		return v;
	}
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static void num_store(const struct field *f, void *obj, unsigned long long v)
{
	char *p = (char *) obj + f->off;

	if (f->size == 4) {
		uint32_t w = (uint32_t) v; /* max checked: a pid_t's bits are its value */

		memcpy(p, &w, 4);
	} else {
		uint64_t w = v;

		memcpy(p, &w, 8);
	}
}

/* REST must be the last field written or read, or the line would be
 * ambiguous. */
static bool rest_is_last(const struct field *fields, size_t n, unsigned mask)
{
	for (size_t i = 0; i < n; i++)
		if ((mask & (1U << i)) && fields[i].kind == REST && (mask >> (i + 1)) != 0)
			return false;
	return true;
}

static __attribute__((format(printf, 4, 5))) int append(char *buf, size_t size, size_t *off, const char *fmt,
							...)
{
	va_list ap;
	int w;

	va_start(ap, fmt);
	w = vsnprintf(buf + *off, size - *off, fmt, ap);
	va_end(ap);
	if (w < 0 || (size_t) w >= size - *off)
		return -ENOBUFS;
	*off += (size_t) w;
	return 0;
}

static int format_fields(const struct field *fields, size_t n, unsigned mask, const void *obj, char *buf,
			 size_t size)
{
	size_t off = 0;
	bool first = true;

	if (size == 0)
		return -ENOBUFS;
	buf[0] = '\0';
	if ((mask & ~((1U << n) - 1)) || !rest_is_last(fields, n, mask))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		const struct field *f = &fields[i];
		const char *s = (const char *) obj + f->off;
		unsigned long long v;
		int r;

		if (!(mask & (1U << i)))
			continue;
		r = append(buf, size, &off, "%s%s=", first ? "" : " ", f->key);
		if (r < 0)
			return r;
		first = false;
		switch (f->kind) {
		case NUM:
			v = num_load(f, obj);
			if (v < f->min || v > f->max)
				return -EINVAL;
			r = append(buf, size, &off, "%llu", v);
			break;
		case WORD:
			if (strnlen(s, f->size) == f->size || strpbrk(s, " \n") || strcmp(s, "-") == 0)
				return -EINVAL;
			r = append(buf, size, &off, "%s", *s ? s : "-");
			break;
		case REST:
			if (strnlen(s, f->size) == f->size || strchr(s, '\n'))
				return -EINVAL;
			r = append(buf, size, &off, "%s", s);
			break;
		case FLAG:
			r = append(buf, size, &off, "%s", f->words[*(const bool *) s ? 1 : 0]);
			break;
		}
		if (r < 0)
			return r;
	}
	return (int) off;
}

/* A canonical decimal: digits only, no leading zero, no overflow. */
static int parse_num(const char *p, size_t len, unsigned long long *ret)
{
	unsigned long long v = 0;

	if (len == 0 || (len > 1 && p[0] == '0'))
		return -EPROTO;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned) (p[i] - '0');

		if (p[i] < '0' || p[i] > '9' || v > (UINT64_MAX - d) / 10)
			return -EPROTO;
		v = v * 10 + d;
	}
	*ret = v;
	return 0;
}

/* BUF holds no newline here (the callers strip the one a line may end in). */
static int parse_fields(const struct field *fields, size_t n, unsigned mask, const char *buf, size_t len,
			void *obj)
{
	const char *p = buf, *end = buf + len;
	bool first = true;

	if ((mask & ~((1U << n) - 1)) || !rest_is_last(fields, n, mask))
		return -EINVAL;
	if (memchr(buf, '\n', len) || memchr(buf, '\0', len))
		return -EPROTO;
	for (size_t i = 0; i < n; i++) {
		const struct field *f = &fields[i];
		size_t klen = strlen(f->key), vlen;
		const char *vend;
		char *dst = (char *) obj + f->off;
		unsigned long long v;

		if (!(mask & (1U << i)))
			continue;
		if (!first) {
			if (p == end || *p != ' ')
				return -EPROTO;
			p++;
		}
		first = false;
		if ((size_t) (end - p) <= klen || memcmp(p, f->key, klen) != 0 || p[klen] != '=')
			return -EPROTO;
		p += klen + 1;
		vend = f->kind == REST ? end : memchr(p, ' ', (size_t) (end - p));
		if (!vend)
			vend = end;
		vlen = (size_t) (vend - p);
		switch (f->kind) {
		case NUM:
			if (parse_num(p, vlen, &v) < 0 || v < f->min || v > f->max)
				return -EPROTO;
			num_store(f, obj, v);
			break;
		case WORD:
			if (vlen == 0 || vlen >= f->size)
				return -EPROTO;
			if (vlen == 1 && *p == '-')
				vlen = 0;
			memcpy(dst, p, vlen);
			dst[vlen] = '\0';
			break;
		case REST:
			if (vlen >= f->size)
				return -EPROTO;
			memcpy(dst, p, vlen);
			dst[vlen] = '\0';
			break;
		case FLAG:
			if (vlen == strlen(f->words[0]) && memcmp(p, f->words[0], vlen) == 0)
				*(bool *) dst = false;
			else if (vlen == strlen(f->words[1]) && memcmp(p, f->words[1], vlen) == 0)
				*(bool *) dst = true;
			else
				return -EPROTO;
			break;
		}
		p = vend;
	}
	return p == end ? 0 : -EPROTO;
}

/* A line may end in one newline (the files do; messages do not). */
static size_t strip_newline(const char *buf, size_t len)
{
	return len > 0 && buf[len - 1] == '\n' ? len - 1 : len;
}

/* Index of the word BUF (LEN bytes) in NAMES, or -EPROTO. */
static int lookup(const char *const *names, size_t n, const char *buf, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(names[i]) == len && memcmp(names[i], buf, len) == 0)
			return (int) i;
	return -EPROTO;
}

/* ---- requests ---- */

const char *nook_req_name(enum nook_req req)
{
	return (unsigned) req < _NOOK_REQ_MAX ? req_names[req] : NULL;
}

int nook_req_parse(const char *buf, size_t len)
{
	return lookup(req_names, ELEMENTSOF(req_names), buf, len);
}

/* ---- INFO ---- */

int nook_info_format(const struct nook_session_info *info, unsigned fields, char *buf, size_t size)
{
	return format_fields(info_fields, ELEMENTSOF(info_fields), fields, info, buf, size);
}

int nook_info_parse(const char *buf, size_t len, unsigned fields, struct nook_session_info *ret)
{
	struct nook_session_info in = { .init_pidfd = -EBADF };
	int r = parse_fields(info_fields, ELEMENTSOF(info_fields), fields, buf, strip_newline(buf, len), &in);

	if (r < 0)
		return r;
	*ret = in;
	return 0;
}

/* ---- replies ---- */

int nook_reply_format(const struct nook_reply *reply, char *buf, size_t size)
{
	size_t off = 0;
	int r;

	if (size == 0)
		return -ENOBUFS;
	switch (reply->kind) {
	case NOOK_REPLY_OK:
		r = append(buf, size, &off, "ok ");
		if (r < 0)
			return r;
		r = nook_info_format(&reply->info, NOOK_INFO_ALL, buf + off, size - off);
		return r < 0 ? r : (int) off + r;
	case NOOK_REPLY_STOPPED:
		r = append(buf, size, &off, "stopped");
		break;
	case NOOK_REPLY_ERROR:
		if ((unsigned) reply->error >= _NOOK_ERROR_MAX)
			return -EINVAL;
		r = append(buf, size, &off, "error %s", error_names[reply->error]);
		break;
	default:
		return -EINVAL;
	}
	return r < 0 ? r : (int) off;
}

int nook_reply_parse(const char *buf, size_t len, struct nook_reply *ret)
{
	struct nook_reply rp = { .info.init_pidfd = -EBADF };
	int r;

	len = strip_newline(buf, len);
	if (len >= 3 && memcmp(buf, "ok ", 3) == 0) {
		rp.kind = NOOK_REPLY_OK;
		r = parse_fields(info_fields, ELEMENTSOF(info_fields), NOOK_INFO_ALL, buf + 3, len - 3,
				 &rp.info);
	} else if (len == 7 && memcmp(buf, "stopped", 7) == 0) {
		rp.kind = NOOK_REPLY_STOPPED;
		r = 0;
	} else if (len >= 6 && memcmp(buf, "error ", 6) == 0) {
		rp.kind = NOOK_REPLY_ERROR;
		r = lookup(error_names, ELEMENTSOF(error_names), buf + 6, len - 6);
		if (r >= 0)
			rp.error = (enum nook_reply_error) r;
	} else {
		r = -EPROTO;
	}
	if (r < 0)
		return r;
	*ret = rp;
	return 0;
}

/* ---- the keeper's record ---- */

int nook_keeper_rec_format(const struct nook_keeper_rec *rec, char *buf, size_t size)
{
	return format_fields(rec_fields, ELEMENTSOF(rec_fields), ALL_OF(rec_fields), rec, buf, size);
}

int nook_keeper_rec_parse(const char *buf, size_t len, struct nook_keeper_rec *ret)
{
	struct nook_keeper_rec rec = { 0 };
	int r = parse_fields(rec_fields, ELEMENTSOF(rec_fields), ALL_OF(rec_fields), buf,
			     strip_newline(buf, len), &rec);

	if (r < 0)
		return r;
	*ret = rec;
	return 0;
}
