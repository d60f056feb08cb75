/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nook.conf parsing: one file's text into the parsed form (sections of
 * entries), with "FILE:LINE: what is wrong; what to do" errors.
 */
#include "conf-internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "util.h"

/* ---- messages ---------------------------------------------------------- */

/* Quotes at most SHOW_MAX bytes of a value, control characters replaced, so
 * that an error message stays one short line whatever the file contains. */
const char *conf_show(const char *v, char buf[static SHOW_MAX + 4])
{
	size_t i;

	for (i = 0; i < SHOW_MAX && v[i]; i++) {
		char c = v[i];
		if ((unsigned char) c < 0x20 || c == 0x7f)
			c = '?';
		buf[i] = c;
	}
	if (v[i])
		for (int k = 0; k < 3; k++)
			buf[i++] = '.';
	buf[i] = '\0';
	return buf;
}

/* "FILE:LINE: message" (or just the message when LINE is 0), cut to
 * NOOK_CONF_ERR_MAX - 1 bytes; NULL when out of memory. */
static __attribute__((format(printf, 3, 0))) char *vformat(const char *file, unsigned line, const char *fmt,
							   va_list ap)
{
	char *body = NULL, *msg = NULL;

	if (vasprintf(&body, fmt, ap) < 0)
		return NULL;
	if (line == 0)
		msg = body;
	else if (asprintf(&msg, "%s:%u: %s", file, line, body) < 0)
		msg = NULL;
	if (msg != body)
		free(body);
	if (msg && strlen(msg) >= NOOK_CONF_ERR_MAX)
		msg[NOOK_CONF_ERR_MAX - 1] = '\0';
	return msg;
}

/* Records the error (the first one wins) and returns R. FMT may use %m. */
__attribute__((format(printf, 3, 4))) int conf_fail(struct parser *p, int r, const char *fmt, ...)
{
	va_list ap;

	if (p->err)
		return r;
	va_start(ap, fmt);
	p->err = vformat(p->file, p->line, fmt, ap);
	va_end(ap);
	return r;
}

__attribute__((format(printf, 2, 3))) int conf_warn(struct parser *p, const char *fmt, ...)
{
	struct nook_conf *c = p->conf;
	va_list ap;

	if (c->n_warnings + 1 >= c->cap_warnings) {
		size_t cap = c->cap_warnings ? c->cap_warnings * 2 : 8;
		char **w = reallocarray(c->warnings, cap, sizeof(*w));
		if (!w)
			return -ENOMEM;
		c->warnings = w;
		c->cap_warnings = cap;
	}
	va_start(ap, fmt);
	c->warnings[c->n_warnings] = vformat(p->file, p->line, fmt, ap);
	va_end(ap);
	if (!c->warnings[c->n_warnings])
		return -ENOMEM;
	c->warnings[++c->n_warnings] = NULL;
	return 0;
}

/* For whole-file problems: FMT starts with the path itself. */
__attribute__((format(printf, 3, 4))) int conf_fail_file(char **ret_err, int r, const char *fmt, ...)
{
	va_list ap;

	if (!ret_err || *ret_err)
		return r;
	va_start(ap, fmt);
	*ret_err = vformat(NULL, 0, fmt, ap);
	va_end(ap);
	return r;
}

/* ---- the parsed form ---------------------------------------------------- */

static void entry_clear(struct entry *e)
{
	free(e->str);
	free(e->dst);
	for (size_t i = 0; i < e->n_who; i++)
		free(e->who[i].name);
	free(e->who);
}

static void section_clear(struct section *s)
{
	for (size_t i = 0; i < s->n_entries; i++)
		entry_clear(&s->entries[i]);
	free(s->entries);
	free(s->name);
}

/* Drops what a failed parse added, so that a conf is either updated by a
 * whole file or not at all. */
static void conf_truncate(struct nook_conf *c, size_t n_sections, size_t n_warnings)
{
	while (c->n_sections > n_sections)
		section_clear(&c->sections[--c->n_sections]);
	while (c->n_warnings > n_warnings) {
		free(c->warnings[--c->n_warnings]);
		c->warnings[c->n_warnings] = NULL;
	}
}

struct nook_conf *nook_conf_new(void)
{
	return calloc(1, sizeof(struct nook_conf));
}

void nook_conf_free(struct nook_conf *conf)
{
	if (!conf)
		return;
	conf_truncate(conf, 0, 0);
	free(conf->sections);
	free(conf->warnings);
	free(conf);
}

char *const *nook_conf_warnings(const struct nook_conf *conf)
{
	static char *const none[] = { NULL };

	return conf && conf->warnings ? conf->warnings : none;
}

static struct section *section_add(struct nook_conf *c, enum section_type type, unsigned line)
{
	struct section *s;

	if (c->n_sections == c->cap_sections) {
		size_t cap = c->cap_sections ? c->cap_sections * 2 : 8;
		s = reallocarray(c->sections, cap, sizeof(*s));
		if (!s)
			return NULL;
		c->sections = s;
		c->cap_sections = cap;
	}
	s = &c->sections[c->n_sections++];
	*s = (struct section) { .type = type, .line = line };
	return s;
}

static struct entry *entry_add(struct section *s, const struct key_def *key, unsigned line)
{
	struct entry *e;

	if (s->n_entries == s->cap_entries) {
		size_t cap = s->cap_entries ? s->cap_entries * 2 : 8;
		e = reallocarray(s->entries, cap, sizeof(*e));
		if (!e)
			return NULL;
		s->entries = e;
		s->cap_entries = cap;
	}
	e = &s->entries[s->n_entries++];
	*e = (struct entry) { .key = key, .line = line };
	return e;
}

/* ---- parsing one file --------------------------------------------------- */

static const char *section_type_name(enum section_type t)
{
	static const char *const names[] = {
		[SEC_DEFAULT] = "default",
		[SEC_GROUP] = "group",
		[SEC_USER] = "user",
	};
	return names[t];
}

static int parse_header(struct parser *p, char *line)
{
	static const struct {
		const char *prefix;
		enum section_type type;
	} types[] = {
		{ "group:", SEC_GROUP },
		{ "user:", SEC_USER },
	};
	char b[SHOW_MAX + 4], b2[SHOW_MAX + 4];
	size_t n = strlen(line);
	struct section *s;
	const char *name = NULL;
	enum section_type type = SEC_DEFAULT;
	char *inner;
	int r;

	if (line[n - 1] != ']')
		return conf_fail(p, -EINVAL, "section header '%s' lacks the closing ']'; add it",
				 conf_show(line, b));
	line[n - 1] = '\0';
	inner = conf_trim(line + 1);
	if (strcmp(inner, "default") != 0) {
		for (size_t i = 0; i < ELEMENTSOF(types) && !name; i++)
			if (strncmp(inner, types[i].prefix, strlen(types[i].prefix)) == 0) {
				type = types[i].type;
				name = inner + strlen(types[i].prefix);
			}
		if (!name)
			return conf_fail(p, -EINVAL,
					 "unknown section [%s]; use [default], [group:NAME] or [user:NAME]",
					 conf_show(inner, b));
		if (!nook_valid_user_name(name))
			return conf_fail(
				p, -EINVAL,
				"[%s]: '%s' is not a valid %s name; use lower-case letters, digits, '_', '-' or '.' (at most %d)",
				conf_show(inner, b), conf_show(name, b2), section_type_name(type),
				NOOK_USER_MAX);
	}

	s = section_add(p->conf, type, p->line);
	if (!s)
		return -ENOMEM;
	if (!name)
		return 0;
	s->name = strdup(name);
	if (!s->name)
		return -ENOMEM;
	if (type == SEC_GROUP) {
		r = conf_group_lookup(name, &s->gid);
		if (r < 0)
			return conf_lookup_failed(p, r, "group", name);
		s->gid_known = r > 0;
		if (!r)
			return conf_warn(
				p,
				"[group:%s] names a group that does not exist; the section applies to nobody",
				name);
	} else {
		r = conf_user_exists(name);
		if (r < 0)
			return conf_lookup_failed(p, r, "user", name);
		if (!r)
			return conf_warn(
				p,
				"[user:%s] names a user that does not exist; the section applies to nobody until it does",
				name);
	}
	return 0;
}

static int parse_assignment(struct parser *p, char *line, struct section **cur)
{
	char b[SHOW_MAX + 4];
	const struct key_def *k;
	char *eq = strchr(line, '=');
	char *key, *value;

	if (!eq)
		return conf_fail(p, -EINVAL,
				 "'%s' is not 'key = value', a [section] or a comment; fix the line",
				 conf_show(line, b));
	*eq = '\0';
	key = conf_trim(line);
	value = conf_trim(eq + 1);

	k = conf_key_lookup(key);
	if (!k)
		return conf_fail(p, -EINVAL, "unknown key '%s'; see nook.conf(5) for the valid keys",
				 conf_show(key, b));
	/* Keys before the first header belong to [default]. */
	if (!*cur) {
		*cur = section_add(p->conf, SEC_DEFAULT, p->line);
		if (!*cur)
			return -ENOMEM;
	}
	if ((k->flags & KEY_GLOBAL) && (*cur)->type != SEC_DEFAULT)
		return conf_fail(
			p, -EINVAL,
			"'%s' is only valid in [default] (it applies to the whole host); move it there",
			k->name);
	if (!*value && !(k->flags & KEY_MAY_BE_EMPTY))
		return conf_fail(p, -EINVAL, "'%s' has an empty value; give one or remove the line", k->name);

	if (!(k->flags & KEY_SPLIT)) {
		struct entry *e = entry_add(*cur, k, p->line);
		return e ? k->parse(p, k, value, e) : -ENOMEM;
	}
	for (char *save = NULL, *w = strtok_r(value, " \t\r\v\f", &save); w;
	     w = strtok_r(NULL, " \t\r\v\f", &save)) {
		struct entry *e = entry_add(*cur, k, p->line);
		int r = e ? k->parse(p, k, w, e) : -ENOMEM;
		if (r < 0)
			return r;
	}
	return 0;
}

struct dup_item {
	enum section_type type;
	const char *name;
	size_t key; /* index in conf_keys[] */
	unsigned line;
};

static int dup_cmp(const void *a, const void *b)
{
	const struct dup_item *x = a, *y = b;
	int r;

	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	r = strcmp(x->name ? x->name : "", y->name ? y->name : "");
	if (r)
		return r;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* A scalar key set twice in one section of one file is almost always an
 * editing mistake, and silently taking the last would hide it. A section
 * header may repeat within the file, so compare across all of the file's
 * sections: sorting keeps this O(n log n) for large generated configs. */
static int check_duplicates(struct parser *p, size_t first_section)
{
	struct nook_conf *c = p->conf;
	_cleanup_free_ struct dup_item *items = NULL;
	const struct dup_item *found = NULL;
	size_t n = 0;

	for (size_t i = first_section; i < c->n_sections; i++)
		n += c->sections[i].n_entries;
	if (n < 2)
		return 0;
	items = calloc(n, sizeof(*items));
	if (!items)
		return -ENOMEM;
	n = 0;
	for (size_t i = first_section; i < c->n_sections; i++) {
		const struct section *s = &c->sections[i];
		for (size_t j = 0; j < s->n_entries; j++)
			if (!(s->entries[j].key->flags & KEY_LIST))
				items[n++] = (struct dup_item) { s->type, s->name,
								 conf_key_index(s->entries[j].key),
								 s->entries[j].line };
	}
	qsort(items, n, sizeof(*items), dup_cmp);
	for (size_t i = 1; i < n; i++) {
		const struct dup_item *a = &items[i - 1], *d = &items[i];
		if (a->type != d->type || a->key != d->key ||
		    strcmp(a->name ? a->name : "", d->name ? d->name : "") != 0)
			continue;
		/* Report the earliest duplicate line, as a reader would find it. */
		if (!found || d->line < found->line)
			found = d;
	}
	if (!found)
		return 0;
	{
		unsigned first = found->line;
		for (size_t i = 0; i < n; i++)
			if (items[i].type == found->type && items[i].key == found->key &&
			    strcmp(items[i].name ? items[i].name : "", found->name ? found->name : "") == 0 &&
			    items[i].line < first)
				first = items[i].line;
		p->line = found->line;
		return conf_fail(p, -EINVAL,
				 "duplicate key '%s' in [%s%s%s] (first set at line %u); remove one of them",
				 conf_keys[found->key].name, section_type_name(found->type),
				 found->name ? ":" : "", found->name ? found->name : "", first);
	}
}

static int parse_text(struct parser *p, char *text)
{
	struct section *cur = NULL;
	char *next;

	for (char *line = text; line; line = next) {
		char *l;
		int r;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		p->line++;
		l = conf_trim(line);
		if (!*l || *l == '#' || *l == ';')
			continue;
		if (*l == '[') {
			r = parse_header(p, l);
			/* parse_header appended the section (possibly before failing). */
			cur = p->conf->n_sections ? &p->conf->sections[p->conf->n_sections - 1] : NULL;
		} else {
			r = parse_assignment(p, l, &cur);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

int nook_conf_parse_buffer(struct nook_conf *conf, const char *name, const char *buf, size_t len,
			   char **ret_err)
{
	struct parser p = { .conf = conf, .file = name };
	char *text = NULL;
	size_t n_sections, n_warnings;
	const char *nul;
	int r;

	if (!conf || !name || (!buf && len))
		return -EINVAL;
	n_sections = conf->n_sections;
	n_warnings = conf->n_warnings;

	nul = len ? memchr(buf, '\0', len) : NULL;
	if (nul) {
		for (const char *c = buf; c <= nul; c++)
			p.line += c == buf || c[-1] == '\n';
		r = conf_fail(&p, -EINVAL, "contains a NUL byte; the file must be plain text");
	} else {
		text = strndup(len ? buf : "", len);
		r = text ? parse_text(&p, text) : -ENOMEM;
		if (r >= 0)
			r = check_duplicates(&p, n_sections);
		free(text);
	}
	if (r < 0) {
		conf_truncate(conf, n_sections, n_warnings);
		if (ret_err)
			*ret_err = TAKE_PTR(p.err);
		free(p.err);
		return r;
	}
	return 0;
}
