/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nook.conf internals, shared by the conf-*.c files only (the interface is
 * conf.h). Which file to change:
 *   a new key, or how one is checked:   conf-keys.c (one row of conf_keys[])
 *   a new kind of value in a row:       conf-resolve.c (store, free)
 *   the INI syntax, sections, errors:   conf-parse.c
 *   files, drop-ins, ownership checks:  conf-load.c
 *   per-user resolution, %u, selection: conf-resolve.c
 *   the shared value syntax (sizes...): conf-values.c
 *   user and group names, users/exempt: conf-names.c
 *
 * Values are validated and converted while a file is parsed, so that every
 * error can name the file and line that caused it; resolving the settings of
 * one user then only has to pick the winning entries. The parsed form is
 * plain data: the sections in file order, each holding its entries in line
 * order. A section header that appears twice simply yields two sections.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf.h"

#define HOSTNAME_LEN_MAX 64 /* HOST_NAME_MAX: sethostname() refuses more */
#define SHOW_MAX 64         /* how much of a bad value an error quotes */
#define KEYS_MAX 64         /* at least conf_n_keys: sizes the per-key arrays of resolution */

enum section_type {
	SEC_DEFAULT,
	SEC_GROUP,
	SEC_USER,
};

enum who_kind {
	WHO_ALL,
	WHO_USER,
	WHO_GROUP,
};

/* One item of `users` or `exempt`. */
struct who {
	enum who_kind kind;
	char *name; /* NULL for '*' */
	bool gid_known;
	gid_t gid;
};

struct key_def;

/* One `key = value` (or one word of a list key such as hide or bind). */
struct entry {
	const struct key_def *key;
	unsigned line;
	uint64_t num; /* bool, size, duration, count or enum */
	char *str;    /* path, hostname template, cgroup path; bind source */
	char *dst;    /* bind destination */
	bool ro;
	struct who *who; /* users, exempt */
	size_t n_who;
};

struct section {
	enum section_type type;
	char *name; /* NULL for [default] */
	unsigned line;
	bool gid_known; /* [group:NAME]: the name resolved at load time */
	gid_t gid;
	struct entry *entries;
	size_t n_entries, cap_entries;
};

struct nook_conf {
	struct section *sections;
	size_t n_sections, cap_sections;
	char **warnings; /* NULL-terminated whenever non-NULL */
	size_t n_warnings, cap_warnings;
};

/* The state of parsing one file. */
struct parser {
	struct nook_conf *conf;
	const char *file;
	unsigned line;
	char *err;
};

typedef int (*parse_fn)(struct parser *p, const struct key_def *k, const char *v, struct entry *e);

/* Where a key's winning value goes in struct nook_settings, and how. */
enum value_kind {
	V_NONE,     /* not a setting (users, exempt: read by nook_conf_selected) */
	V_BOOL,     /* bool, from num */
	V_U32,      /* uint32_t, from num */
	V_U64,      /* uint64_t, from num */
	V_ENUM,     /* an enum (int-sized), from num */
	V_STR,      /* char *, a copy of str */
	V_HOSTNAME, /* char *, str with %u expanded for the user */
	V_CIDR4,    /* struct nook_cidr, str parsed; a NULL default leaves it unset */
	V_CIDR6,
	V_ADDRS, /* char **, NULL-terminated, from the blank-separated str */
	V_PATHS, /* list: char **, NULL-terminated, one str per entry */
	V_BINDS, /* list: struct nook_bind *, its count at count_offset */
};

enum key_flag {
	KEY_GLOBAL = 1 << 0, /* only in [default]: who is selected is global policy */
	KEY_LIST = 1 << 1,   /* repeatable: occurrences append instead of override */
	KEY_SPLIT = 1 << 2,  /* the value holds several blank-separated items */
	KEY_MAY_BE_EMPTY = 1 << 3,
};

/* The words of an enum-valued key, and what to say about any other. */
struct enum_word {
	const char *name;
	int value;
};
struct enum_def {
	const struct enum_word *words;
	size_t n_words;
	const char *invalid; /* follows "KEY = 'VALUE' " */
};

/* One configuration key: adding a key is one row of conf_keys[]
 * (conf-keys.c), plus its field in struct nook_settings and its
 * documentation in nook.conf(5). */
struct key_def {
	const char *name;
	parse_fn parse;               /* validates VALUE into an entry, with file:line errors */
	const struct enum_def *words; /* parse_enum's words */
	size_t offset;                /* of the field in struct nook_settings */
	size_t count_offset;          /* V_BINDS: of the size_t count */
	uint64_t def_num;             /* default of a numeric kind */
	const char *def_str;          /* default of a string kind, as if written in the file */
	enum value_kind kind;
	unsigned flags; /* enum key_flag */
};

/* ---- conf-parse.c: messages --------------------------------------------- */

/* Quotes at most SHOW_MAX bytes of V into BUF, for an error message. */
const char *conf_show(const char *v, char buf[static SHOW_MAX + 4]);
/* Records "FILE:LINE: message" as P's error (the first one wins) and
 * returns R. FMT may use %m. */
__attribute__((format(printf, 3, 4))) int conf_fail(struct parser *p, int r, const char *fmt, ...);
/* Adds a non-fatal "FILE:LINE: message" to the conf's warnings. */
__attribute__((format(printf, 2, 3))) int conf_warn(struct parser *p, const char *fmt, ...);
/* For whole-file problems: FMT starts with the path itself. */
__attribute__((format(printf, 3, 4))) int conf_fail_file(char **ret_err, int r, const char *fmt, ...);

/* ---- conf-values.c: lexical rules ---------------------------------------- */

char *conf_trim(char *s);
bool conf_is_digit(char c);
bool conf_hostname_char(char c);
/* Letters, digits, '_', '.' and '-': cgroup, slice and interface names. */
bool conf_cgroup_char(char c);
int conf_parse_digits(const char **s, uint64_t *ret);

/* ---- conf-names.c: users and groups --------------------------------------- */

int conf_user_exists(const char *name);
int conf_group_lookup(const char *name, gid_t *ret_gid);
int conf_lookup_failed(struct parser *p, int r, const char *what, const char *name);
/* The parser of users and exempt. */
int conf_parse_who(struct parser *p, const struct key_def *k, const char *v, struct entry *e);

/* ---- conf-keys.c: the keys ------------------------------------------------ */

extern const struct key_def conf_keys[];
extern const size_t conf_n_keys;
const struct key_def *conf_key_lookup(const char *name);
size_t conf_key_index(const struct key_def *k);
