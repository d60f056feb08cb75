/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uid_map/gid_map of a container.
 *
 * Inside ids 0..65535 map to the subordinate range (base + id), except the
 * user's own uid and groups, which map to themselves so that the user's
 * files keep their owner on both sides. Host gid 5 (tty) and host id 0 are
 * never mapped: with tty mapped, container root could write to every host
 * terminal; with 0 mapped it would be host root.
 *
 * The user namespace itself is owned by a host id of the subordinate range
 * that no container process runs as (nook_userns_owner): the kernel charges
 * every per-user counter of the processes inside to the owner, in the
 * host's namespace.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "log.h"
#include "nook.h"

#define TTY_GID 5
#define MAX_EXTENTS 340 /* the kernel's limit since 4.15 */

static int cmp_ul(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *) a, y = *(const unsigned long *) b;

	return (x > y) - (x < y);
}

int nook_idmap_format(bool gid, const struct nook_user *u, unsigned long base, unsigned long count, char *buf,
		      size_t size)
{
	unsigned long ident[NOOK_MAX_GROUPS + 1] = { 0 };
	size_t n_ident = 0, off = 0, extents = 0;
	unsigned long next = 0;

	if (count < NOOK_SUBID_COUNT || base == 0)
		return -ERANGE;
	if (gid) {
		for (size_t i = 0; i < u->n_groups; i++) {
			if (u->groups[i] == 0 || u->groups[i] == TTY_GID)
				continue;
			ident[n_ident++] = u->groups[i];
		}
	} else if (u->uid != 0) {
		ident[n_ident++] = u->uid;
	}
	qsort(ident, n_ident, sizeof(ident[0]), cmp_ul);

	/* Emit ranges in increasing inside order, skipping duplicates. */
	for (size_t i = 0; i <= n_ident; i++) {
		unsigned long id = i < n_ident ? ident[i] : NOOK_SUBID_COUNT;
		int w;

		if (i > 0 && i < n_ident && ident[i] == ident[i - 1])
			continue;
		if (id > NOOK_SUBID_COUNT)
			id = NOOK_SUBID_COUNT;
		/* The identity id must not collide with the subordinate range. */
		if (i < n_ident && ident[i] >= base && ident[i] < base + NOOK_SUBID_COUNT)
			return -EOVERFLOW;
		if (id > next) {
			w = snprintf(buf + off, size - off, "%lu %lu %lu\n", next, base + next, id - next);
			if (w < 0 || (size_t) w >= size - off)
				return -ENOBUFS;
			off += (size_t) w;
			extents++;
		}
		if (i < n_ident) {
			w = snprintf(buf + off, size - off, "%lu %lu 1\n", ident[i], ident[i]);
			if (w < 0 || (size_t) w >= size - off)
				return -ENOBUFS;
			off += (size_t) w;
			extents++;
			if (ident[i] + 1 > next)
				next = ident[i] + 1;
		}
	}
	if (extents > MAX_EXTENTS)
		return -E2BIG;
	return (int) off;
}

int nook_userns_write_maps(pid_t pid, const struct nook_user *u, const struct nook_subid *sub)
{
	char path[64], map[NOOK_MAP_MAX];
	_cleanup_close_ int dfd = -EBADF;
	int r, len;

	snprintf(path, sizeof(path), "/proc/%d", pid);
	dfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	for (int gid = 0; gid <= 1; gid++) {
		len = nook_idmap_format(gid, u, gid ? sub->gid_base : sub->uid_base,
					gid ? sub->gid_count : sub->uid_count, map, sizeof(map));
		if (len < 0) {
			log_err("cannot build the %s map of '%s': %s", gid ? "gid" : "uid", u->name,
				strerror(-len));
			return len;
		}
		r = nook_write_file_at(dfd, gid ? "gid_map" : "uid_map", map, (size_t) len);
		if (r < 0) {
			log_err("writing the %s map of '%s': %s", gid ? "gid" : "uid", u->name, strerror(-r));
			return r;
		}
	}
	return 0;
}

/*
 * The owner of a container's user namespace, given its map. The kernel
 * charges each per-user counter of the processes inside (inotify instances
 * and watches, mqueue bytes, pending signals, processes, user namespaces)
 * to (host namespace, owner) as well: owned by host root, one container
 * could exhaust root's inotify instances for the whole host (issue 10).
 *
 * The id is base + ID for the user's own uid (gid) ID: that inside id maps
 * to itself, so base + ID is in the container's range and never mapped:
 * no process, inside or outside, runs as it. When ID is beyond the inside
 * range, the first id past it if the range is longer, or else the last
 * mapped one (inside 65535, which nothing uses): even then only a process
 * of the host's own user namespace with that effective id would have
 * privileges over the container, and only host root can make one.
 */
static unsigned long owner_id(unsigned long id, unsigned long base, unsigned long count)
{
	if (id != 0 && id < NOOK_SUBID_COUNT)
		return base + id;
	if (count > NOOK_SUBID_COUNT)
		return base + NOOK_SUBID_COUNT;
	return base + NOOK_SUBID_COUNT - 1;
}

int nook_userns_owner(const struct nook_user *u, const struct nook_subid *sub, uid_t *ret_uid, gid_t *ret_gid)
{
	unsigned long uid, gid;

	if (sub->uid_count < NOOK_SUBID_COUNT || sub->gid_count < NOOK_SUBID_COUNT || sub->uid_base == 0 ||
	    sub->gid_base == 0)
		return -ERANGE;
	uid = owner_id(u->uid, sub->uid_base, sub->uid_count);
	gid = owner_id(u->gid == TTY_GID ? 0 : u->gid, sub->gid_base, sub->gid_count);
	if (uid > (uid_t) -2 || gid > (gid_t) -2)
		return -EOVERFLOW;
	*ret_uid = (uid_t) uid;
	*ret_gid = (gid_t) gid;
	return 0;
}
