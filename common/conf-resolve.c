/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nook.conf resolution: which entries apply to one user, whether the user
 * is selected, and their settings (defaults and storage from conf_keys[],
 * %u expanded), plus the limits derived from the host's size.
 */
#include "conf-internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

struct ident {
	const char *user;
	gid_t gid;
	const gid_t *groups;
	size_t n_groups;
};

static bool in_groups(const struct ident *id, gid_t g)
{
	if (id->gid == g)
		return true;
	for (size_t i = 0; i < id->n_groups; i++)
		if (id->groups[i] == g)
			return true;
	return false;
}

static bool section_applies(const struct section *s, const struct ident *id)
{
	switch (s->type) {
	case SEC_DEFAULT:
		return true;
	case SEC_GROUP:
		return s->gid_known && in_groups(id, s->gid);
	case SEC_USER:
		return strcmp(s->name, id->user) == 0;
	}
	return false;
}

/* The entries that apply to one user, after precedence, by key index. */
struct resolved {
	const struct entry *win[KEYS_MAX]; /* last scalar of each key; NULL = default */
	size_t n[KEYS_MAX];                /* how many entries each list key has */
};

/* Calls FN on every entry that applies to ID, in increasing precedence:
 * [default] sections, then matching [group:] sections, then [user:] ones,
 * each kind in file order. */
static void for_each_entry(const struct nook_conf *c, const struct ident *id,
			   void (*fn)(const struct entry *e, void *arg), void *arg)
{
	static const enum section_type order[] = { SEC_DEFAULT, SEC_GROUP, SEC_USER };

	for (size_t o = 0; o < ELEMENTSOF(order); o++)
		for (size_t i = 0; i < c->n_sections; i++) {
			const struct section *s = &c->sections[i];
			if (s->type != order[o] || !section_applies(s, id))
				continue;
			for (size_t j = 0; j < s->n_entries; j++)
				fn(&s->entries[j], arg);
		}
}

static void pick_winner(const struct entry *e, void *arg)
{
	struct resolved *r = arg;
	size_t i = conf_key_index(e->key);

	if (e->key->flags & KEY_LIST)
		r->n[i]++;
	else
		r->win[i] = e;
}

static bool who_matches(const struct entry *e, const char *fallback, const struct ident *id)
{
	if (!e)
		return fallback && strcmp(fallback, id->user) == 0;
	for (size_t i = 0; i < e->n_who; i++) {
		const struct who *w = &e->who[i];
		switch (w->kind) {
		case WHO_ALL:
			return true;
		case WHO_USER:
			if (strcmp(w->name, id->user) == 0)
				return true;
			break;
		case WHO_GROUP:
			if (w->gid_known && in_groups(id, w->gid))
				return true;
			break;
		}
	}
	return false;
}

bool nook_uid_never_contained(uid_t uid)
{
	return uid == 0;
}

int nook_conf_selected(const struct nook_conf *conf, const char *user, gid_t gid, const gid_t *groups,
		       size_t n_groups)
{
	const struct ident id = { user, gid, groups, n_groups };
	const struct key_def *users = conf_key_lookup("users"), *exempt = conf_key_lookup("exempt");
	const struct key_def *enable = conf_key_lookup("enable");
	struct resolved r = { 0 };
	const struct entry *e;

	if (!conf || !user || (!groups && n_groups) || !users || !exempt || !enable)
		return -EINVAL;
	for_each_entry(conf, &id, pick_winner, &r);
	/* users and exempt only exist in [default] (KEY_GLOBAL), so they are global. */
	if (who_matches(r.win[conf_key_index(exempt)], exempt->def_str, &id))
		return 0;
	if (!who_matches(r.win[conf_key_index(users)], users->def_str, &id))
		return 0;
	e = r.win[conf_key_index(enable)];
	return (e ? e->num : enable->def_num) != 0;
}

/* Expands %u and %%; the result must be a hostname sethostname() takes and
 * resolvers accept, else -EINVAL (e.g. a user name with '_'). */
static int expand_hostname(const char *tmpl, const char *user, char **ret)
{
	char out[HOSTNAME_LEN_MAX + 1];
	size_t n = 0;

	for (const char *c = tmpl; *c; c++) {
		const char *add = c;
		size_t len = 1;

		if (*c == '%') {
			c++;
			if (*c == 'u') {
				add = user;
				len = strlen(user);
			} else if (*c != '%') {
				return -EINVAL;
			}
			/* else "%%": add the '%' at c. The spec keeps the escape, although
			 * the hostname check below then refuses the result. */
		}
		if (len > HOSTNAME_LEN_MAX - n)
			return -EINVAL;
		for (size_t i = 0; i < len; i++)
			out[n++] = add[i];
	}
	if (n == 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!conf_hostname_char(out[i]))
			return -EINVAL;
	out[n] = '\0';
	*ret = strdup(out);
	return *ret ? 0 : -ENOMEM;
}

/* "a b c" -> NULL-terminated {"a", "b", "c"}. */
static int split_dns(const char *text, char ***ret)
{
	char **list = calloc(NOOK_DNS_MAX + 1, sizeof(*list));
	const char *p = text;
	size_t n = 0;

	if (!list)
		return -ENOMEM;
	*ret = list;
	while (*p && n < NOOK_DNS_MAX) {
		size_t len = strcspn(p, " ");

		list[n] = strndup(p, len);
		if (!list[n++])
			return -ENOMEM;
		p += len;
		while (*p == ' ')
			p++;
	}
	return 0;
}

/* The field of K in S. */
static void *field_of(struct nook_settings *s, const struct key_def *k)
{
	return (char *) s + k->offset;
}

/* Stores K's winning entry E (NULL: its default) in S; a list key gets an
 * array for its COUNT entries, which fill_lists then fills. */
static int store(struct nook_settings *s, const struct key_def *k, const struct entry *e, size_t count,
		 const char *user)
{
	void *field = field_of(s, k);
	uint64_t num = e ? e->num : k->def_num;
	const char *str = e ? e->str : k->def_str;

	switch (k->kind) {
	case V_NONE:
		return 0;
	case V_BOOL:
		*(bool *) field = num != 0;
		return 0;
	case V_U32:
		*(uint32_t *) field = (uint32_t) num;
		return 0;
	case V_U64:
		*(uint64_t *) field = num;
		return 0;
	case V_ENUM:
		*(int *) field = (int) num;
		return 0;
	case V_STR:
		if (!str)
			return 0;
		*(char **) field = strdup(str);
		return *(char **) field ? 0 : -ENOMEM;
	case V_HOSTNAME:
		return expand_hostname(str ? str : "", user, field);
	case V_CIDR4:
	case V_CIDR6:
		/* Validated at parse time; parsed again here into binary form.
		 * No default leaves it unset (family 0). */
		if (str && nook_parse_cidr(str, k->kind == V_CIDR6 ? AF_INET6 : AF_INET, field) < 0)
			return -EINVAL;
		return 0;
	case V_ADDRS:
		return split_dns(str ? str : "", field);
	case V_PATHS:
		*(char ***) field = calloc(count + 1, sizeof(char *));
		return *(char ***) field ? 0 : -ENOMEM;
	case V_BINDS:
		if (!count)
			return 0;
		*(struct nook_bind **) field = calloc(count, sizeof(struct nook_bind));
		return *(struct nook_bind **) field ? 0 : -ENOMEM;
	}
	return -EINVAL;
}

struct list_fill {
	struct nook_settings *s;
	size_t n[KEYS_MAX];
	int r;
};

static void fill_lists(const struct entry *e, void *arg)
{
	struct list_fill *f = arg;
	const struct key_def *k = e->key;
	void *field = field_of(f->s, k);

	if (f->r < 0)
		return;
	if (k->kind == V_PATHS) {
		char **list = *(char ***) field;
		size_t *n = &f->n[conf_key_index(k)];

		list[*n] = strdup(e->str);
		if (!list[(*n)++])
			f->r = -ENOMEM;
	} else if (k->kind == V_BINDS) {
		/* The count grows as they are filled, so that a failure frees
		 * exactly the filled ones. */
		size_t *n = (size_t *) ((char *) f->s + k->count_offset);
		struct nook_bind *b = &(*(struct nook_bind **) field)[(*n)++];

		b->src = strdup(e->str);
		b->dst = strdup(e->dst);
		b->ro = e->ro;
		if (!b->src || !b->dst)
			f->r = -ENOMEM;
	}
}

/* Fills S (zeroed by the caller) from the winning entries and the keys'
 * defaults; on failure S may be half filled, and the caller frees it. */
static int settings_fill(const struct nook_conf *c, const struct ident *id, struct nook_settings *s)
{
	struct resolved r = { 0 };
	struct list_fill fill = { .s = s };

	for_each_entry(c, id, pick_winner, &r);
	for (size_t i = 0; i < conf_n_keys; i++) {
		int q = store(s, &conf_keys[i], r.win[i], r.n[i], id->user);
		if (q < 0)
			return q;
	}
	for_each_entry(c, id, fill_lists, &fill);
	return fill.r;
}

int nook_conf_resolve(const struct nook_conf *conf, const char *user, gid_t gid, const gid_t *groups,
		      size_t n_groups, struct nook_settings *ret)
{
	const struct ident id = { user, gid, groups, n_groups };
	struct nook_settings s = { 0 };
	int r;

	if (!conf || !user || !ret || (!groups && n_groups))
		return -EINVAL;
	r = settings_fill(conf, &id, &s);
	if (r < 0) {
		nook_settings_free(&s);
		return r;
	}
	*ret = s;
	return 0;
}

void nook_settings_free(struct nook_settings *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < conf_n_keys; i++) {
		const struct key_def *k = &conf_keys[i];
		void *field = field_of(s, k);

		switch (k->kind) {
		case V_STR:
		case V_HOSTNAME:
			free(*(char **) field);
			break;
		case V_ADDRS:
		case V_PATHS:
			nook_strvfreep(field);
			break;
		case V_BINDS: {
			struct nook_bind *b = *(struct nook_bind **) field;
			size_t n = *(size_t *) ((char *) s + k->count_offset);

			for (size_t j = 0; j < n; j++) {
				free(b[j].src);
				free(b[j].dst);
			}
			free(b);
			break;
		}
		default:
			break;
		}
	}
	*s = (struct nook_settings) { 0 };
}

/*
 * The limits a configuration leaves unset, from the host's size (documented
 * in nook.conf(5)): half the host's memory, a quarter of its thread limit
 * (at most 4096 tasks), half its CPUs (at least one); each tmpfs (/tmp,
 * /run, /dev/shm) a quarter of the container's memory (of the host's when
 * memory_max is max), so that filling all three leaves room to log in.
 */
void nook_settings_auto_limits(struct nook_settings *s, const struct nook_host_size *h)
{
	const uint64_t mib = UINT64_C(1) << 20;

	if (s->memory_max == NOOK_LIMIT_AUTO)
		s->memory_max = h->mem_total / 2 / mib * mib;
	if (s->pids_max == NOOK_LIMIT_AUTO) {
		s->pids_max = h->threads_max / 4;
		if (s->pids_max > 4096)
			s->pids_max = 4096;
		if (s->pids_max < 64)
			s->pids_max = 64;
	}
	if (s->cpu_max == NOOK_CPU_AUTO)
		s->cpu_max = 100 * (h->n_cpus >= 2 ? h->n_cpus / 2 : 1);
	if (s->tmpfs_size == NOOK_LIMIT_AUTO) {
		uint64_t base = s->memory_max ? s->memory_max : h->mem_total;

		s->tmpfs_size = base / 4 / mib * mib;
		if (s->tmpfs_size < mib)
			s->tmpfs_size = mib;
	}
}

int nook_conf_image_dirs(const struct nook_conf *conf, char ***ret)
{
	const struct key_def *k = conf_key_lookup("image_dir");
	_cleanup_strv_ char **v = NULL;
	size_t n = 0;
	bool default_set = false;

	if (!conf || !ret || !k)
		return -EINVAL;
	v = calloc(conf->n_sections + 2, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < conf->n_sections; i++) {
		const struct section *sec = &conf->sections[i];

		for (size_t j = 0; j < sec->n_entries; j++) {
			const struct entry *e = &sec->entries[j];
			bool seen = false;

			if (e->key != k)
				continue;
			if (sec->type == SEC_DEFAULT)
				default_set = true;
			for (size_t m = 0; m < n && !seen; m++)
				seen = strcmp(v[m], e->str) == 0;
			if (!seen && !(v[n++] = strdup(e->str)))
				return -ENOMEM;
		}
	}
	if (!default_set) {
		bool seen = false;

		for (size_t m = 0; m < n && !seen; m++)
			seen = strcmp(v[m], k->def_str) == 0;
		if (!seen && !(v[n++] = strdup(k->def_str)))
			return -ENOMEM;
	}
	*ret = TAKE_PTR(v);
	return 0;
}
