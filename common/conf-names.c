/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nook.conf names: user and group names, their lookup in the name service,
 * and the `users` / `exempt` lists built from them.
 */
#include "conf-internal.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define LOOKUP_BUF_MAX 1048576

/* ---- user and group lookups -------------------------------------------- */

/* getpwnam_r(3): these all mean "no such entry", depending on the backend. */
static bool lookup_not_found(int r)
{
	return r == 0 || r == ENOENT || r == ESRCH || r == EBADF || r == EPERM;
}

/* 1 if the user exists, 0 if not, -errno if the name service failed. */
int conf_user_exists(const char *name)
{
	for (size_t sz = 1024; sz <= LOOKUP_BUF_MAX; sz *= 2) {
		char *buf = malloc(sz);
		struct passwd pw, *res = NULL;
		int r;

		if (!buf)
			return -ENOMEM;
		r = getpwnam_r(name, &pw, buf, sz, &res);
		free(buf); /* only whether res is set matters */
		if (r == ERANGE)
			continue;
		if (res)
			return 1;
		return lookup_not_found(r) ? 0 : -r;
	}
	return -ERANGE;
}

/* Like user_exists, and *ret_gid gets the group's id when it exists. */
int conf_group_lookup(const char *name, gid_t *ret_gid)
{
	for (size_t sz = 1024; sz <= LOOKUP_BUF_MAX; sz *= 2) {
		char *buf = malloc(sz);
		struct group gr, *res = NULL;
		int r;

		if (!buf)
			return -ENOMEM;
		r = getgrnam_r(name, &gr, buf, sz, &res);
		free(buf); /* gr_gid lives in gr, not in buf */
		if (r == ERANGE)
			continue;
		if (res) {
			*ret_gid = gr.gr_gid;
			return 1;
		}
		return lookup_not_found(r) ? 0 : -r;
	}
	return -ERANGE;
}

/* A name-service failure is an error, not a "no such user" warning: treating
 * an unreachable LDAP as "group absent" could silently unselect its members. */
int conf_lookup_failed(struct parser *p, int r, const char *what, const char *name)
{
	if (r == -ENOMEM)
		return r;
	errno = -r;
	return conf_fail(p, r, "cannot look up %s '%s': %m; check the name service (nsswitch.conf)", what,
			 name);
}

/* ---- users and exempt ----------------------------------------------------- */

/* Items are separated by blanks or commas; V is modified. */
static int parse_who_items(struct parser *p, const char *key, char *v, struct entry *e)
{
	char b[SHOW_MAX + 4];
	char *save = NULL;

	for (char *w = strtok_r(v, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save)) {
		struct who item = { .kind = WHO_USER };
		struct who *n;
		int r;

		if (strcmp(w, "*") == 0) {
			item.kind = WHO_ALL;
		} else if (w[0] == '@') {
			item.kind = WHO_GROUP;
			if (!nook_valid_user_name(w + 1))
				return conf_fail(
					p, -EINVAL,
					"%s: '%s' is not a valid group name; use lower-case letters, digits, '_', '-' or '.'",
					key, conf_show(w + 1, b));
			r = conf_group_lookup(w + 1, &item.gid);
			if (r < 0)
				return conf_lookup_failed(p, r, "group", w + 1);
			item.gid_known = r > 0;
			if (!r) {
				r = conf_warn(p, "%s: group '%s' does not exist; its entry matches nobody",
					      key, w + 1);
				if (r < 0)
					return r;
			}
		} else {
			if (!nook_valid_user_name(w))
				return conf_fail(p, -EINVAL,
						 "%s: '%s' is not a user name, @group or *; fix or remove it",
						 key, conf_show(w, b));
			r = conf_user_exists(w);
			if (r < 0)
				return conf_lookup_failed(p, r, "user", w);
			if (!r) {
				r = conf_warn(
					p,
					"%s: user '%s' does not exist; the entry has no effect until it does",
					key, w);
				if (r < 0)
					return r;
			}
		}
		if (item.kind != WHO_ALL) {
			item.name = strdup(item.kind == WHO_GROUP ? w + 1 : w);
			if (!item.name)
				return -ENOMEM;
		}
		n = reallocarray(e->who, e->n_who + 1, sizeof(*n));
		if (!n) {
			free(item.name);
			return -ENOMEM;
		}
		e->who = n;
		e->who[e->n_who++] = item;
	}
	return 0;
}

/* The copies below are freed by hand, not with _cleanup_free_:
 * clang-analyzer 14 (make lint) does not model the cleanup attribute and
 * would report a leak on every early return. */
int conf_parse_who(struct parser *p, const struct key_def *k, const char *v, struct entry *e)
{
	char *copy = strdup(v);
	int r;

	if (!copy)
		return -ENOMEM;
	r = parse_who_items(p, k->name, copy, e);
	free(copy);
	return r;
}
