/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Subordinate ids. Where /etc/nsswitch.conf names no "subid:" source, or
 * "files" (shadow's default), the ranges are read from /etc/subuid and
 * /etc/subgid here, in shadow's order (lines naming the user, then lines
 * naming the uid). Any other source (a site's identity service) goes
 * through shadow's libsubid, as does granting a range to a user who has
 * none: shadow's allocator, with shadow's locking, for the files source.
 *
 * libsubid is loaded (dlopen) only for those two cases. Linked, it brings
 * twelve libraries (libsemanage, libselinux, libaudit, libpam, pcre2, ...)
 * whose loading cost every exec of the helper about 2.4 ms, measured with
 * perf stat on an empty program linked against them: a quarter of a cold
 * login's budget, for a three-field file format.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <shadow/subid.h>

#include "cleanup.h"
#include "log.h"
#include "nook.h"

/* Where shadow's useradd starts (SUB_UID_MIN in login.defs). */
#define NOOK_SUBID_MIN 100000UL

/* Whether nsswitch.conf leaves subordinate ids to the files. */
static bool source_is_files(const char *nsswitch)
{
	_cleanup_fclose_ FILE *f = fopen(nsswitch, "re");
	char line[512];

	if (!f)
		return true; /* no nsswitch.conf: shadow reads the files */
	while (fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " \t"), *e;

		if (strncmp(p, "subid:", 6) != 0)
			continue;
		p += 6;
		p += strspn(p, " \t");
		e = p + strcspn(p, " \t\n#");
		*e = '\0';
		return *p == '\0' || strcmp(p, "files") == 0;
	}
	return true;
}

/* "start:count" of one line whose owner field is OWNER; false otherwise. */
static bool line_range(const char *line, const char *owner, unsigned long *start, unsigned long *count)
{
	size_t n = strlen(owner);
	const char *p = line;
	char *end;

	if (strncmp(p, owner, n) != 0 || p[n] != ':')
		return false;
	p += n + 1;
	if (*p < '0' || *p > '9')
		return false;
	errno = 0;
	*start = strtoul(p, &end, 10);
	if (errno || *end != ':' || end[1] < '0' || end[1] > '9')
		return false;
	p = end + 1;
	*count = strtoul(p, &end, 10);
	if (errno || (*end != '\0' && *end != '\n'))
		return false;
	return true;
}

int nook_subid_files_pick(const char *path, const char *user, uid_t uid, unsigned long min_count,
			  unsigned long *ret_start, unsigned long *ret_count)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char id[16], line[512];
	const char *owners[2] = { user, id };
	bool found = false;

	if (!f)
		return errno == ENOENT ? 0 : -errno;
	(void) snprintf(id, sizeof(id), "%u", (unsigned) uid);
	for (int pass = 0; pass < 2; pass++) {
		rewind(f);
		while (fgets(line, sizeof(line), f)) {
			unsigned long start, count;

			if (!line_range(line, owners[pass], &start, &count))
				continue;
			if (count >= min_count) {
				*ret_start = start;
				*ret_count = count;
				return 1;
			}
			if (!found) {
				/* Too small: kept for the message. */
				*ret_start = start;
				*ret_count = count;
				found = true;
			}
		}
	}
	return found ? -ERANGE : 0;
}

/* shadow's libsubid, resolved on first use (see the top of this file). */
static struct {
	void *lib;
	typeof(subid_get_uid_ranges) *get_uid;
	typeof(subid_get_gid_ranges) *get_gid;
	typeof(subid_grant_uid_range) *grant_uid;
	typeof(subid_grant_gid_range) *grant_gid;
} libsubid;

static int libsubid_load(void)
{
	void *l;

	if (libsubid.lib)
		return 0;
	l = dlopen("libsubid.so.4", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!l) {
		log_err("cannot load libsubid.so.4 (%s): install libsubid4", dlerror());
		return -ENOENT;
	}
	libsubid.get_uid = (typeof(libsubid.get_uid)) dlsym(l, "subid_get_uid_ranges");
	libsubid.get_gid = (typeof(libsubid.get_gid)) dlsym(l, "subid_get_gid_ranges");
	libsubid.grant_uid = (typeof(libsubid.grant_uid)) dlsym(l, "subid_grant_uid_range");
	libsubid.grant_gid = (typeof(libsubid.grant_gid)) dlsym(l, "subid_grant_gid_range");
	if (!libsubid.get_uid || !libsubid.get_gid || !libsubid.grant_uid || !libsubid.grant_gid) {
		log_err("libsubid.so.4 lacks the subid_get/subid_grant functions: install shadow's libsubid4");
		return -ENOENT;
	}
	libsubid.lib = l;
	return 0;
}

/* Through libsubid: 1 and the range, 0 none, -ERANGE only smaller ones. */
static int nss_pick(const char *user, bool gid, unsigned long *ret_start, unsigned long *ret_count)
{
	struct subid_range *ranges = NULL;
	int n, r;

	r = libsubid_load();
	if (r < 0)
		return r;
	n = gid ? libsubid.get_gid(user, &ranges) : libsubid.get_uid(user, &ranges);
	r = 0;
	for (int i = 0; i < n; i++) {
		if (ranges[i].count >= NOOK_SUBID_COUNT) {
			*ret_start = ranges[i].start;
			*ret_count = ranges[i].count;
			r = 1;
			break;
		}
	}
	if (n > 0 && r == 0) {
		*ret_start = ranges[0].start;
		*ret_count = ranges[0].count;
		r = -ERANGE;
	}
	free(ranges);
	return r;
}

static int pick_range(const struct nook_user *u, bool files, bool gid, unsigned long *ret_base,
		      unsigned long *ret_count)
{
	const char *kind = gid ? "gid" : "uid";
	const char *file = gid ? "/etc/subgid" : "/etc/subuid";
	unsigned long start = 0, count = 0;
	int r;

	r = files ? nook_subid_files_pick(file, u->name, u->uid, NOOK_SUBID_COUNT, &start, &count)
		  : nss_pick(u->name, gid, &start, &count);
	if (r == 1) {
		*ret_base = start;
		*ret_count = count;
		return 0;
	}
	if (r == -ERANGE) {
		/* A range smaller than 65536 cannot hold ids 0..65535. */
		log_err("the subordinate %s range of '%s' holds %lu ids (starting at %lu); nook needs "
			"%lu: enlarge it in %s or your identity service",
			kind, u->name, count, start, NOOK_SUBID_COUNT, file);
		return r;
	}
	if (r < 0) {
		log_err("cannot read the subordinate %ss of '%s' from %s: %s", kind, u->name, file,
			strerror(-r));
		return r;
	}

	struct subordinate_range want = { .owner = u->name,
					  .start = NOOK_SUBID_MIN,
					  .count = NOOK_SUBID_COUNT };
	bool ok = libsubid_load() >= 0 &&
		  (gid ? libsubid.grant_gid(&want, true) : libsubid.grant_uid(&want, true));

	if (!ok) {
		log_err("'%s' has no subordinate %s range and none could be granted; add one to %s "
			"(usermod --add-sub%ss) or to your identity service",
			u->name, kind, file, kind);
		return -ENOENT;
	}
	log_info("granted subordinate %ss %lu-%lu to '%s' in %s", kind, want.start,
		 want.start + want.count - 1, u->name, file);
	*ret_base = want.start;
	*ret_count = want.count;
	return 0;
}

int nook_subid_get(const struct nook_user *u, struct nook_subid *ret)
{
	bool files = source_is_files("/etc/nsswitch.conf");
	struct nook_subid s;
	int r;

	r = pick_range(u, files, false, &s.uid_base, &s.uid_count);
	if (r < 0)
		return r;
	r = pick_range(u, files, true, &s.gid_base, &s.gid_count);
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
