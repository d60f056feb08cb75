/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nook.conf values: the lexical rules every file shares, and the exported
 * parsers of sizes, durations, booleans and address prefixes (conf.h).
 */
#include "conf-internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"

/* ---- small lexical helpers --------------------------------------------- */

/* Not isspace(): the config must not depend on the caller's locale. */
static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

char *conf_trim(char *s)
{
	char *end;

	while (is_blank(*s))
		s++;
	end = s + strlen(s);
	while (end > s && is_blank(end[-1]))
		*--end = '\0';
	return s;
}

bool conf_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

bool conf_hostname_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || conf_is_digit(c) || c == '-' || c == '.';
}

/* Consumes decimal digits; -EINVAL if there are none, -ERANGE on overflow. */
int conf_parse_digits(const char **s, uint64_t *ret)
{
	const char *p = *s;
	uint64_t v = 0;

	if (!conf_is_digit(*p))
		return -EINVAL;
	for (; conf_is_digit(*p); p++) {
		unsigned d = (unsigned) (*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*s = p;
	*ret = v;
	return 0;
}

bool conf_cgroup_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || conf_is_digit(c) || c == '_' || c == '.' ||
	       c == '-';
}

/* ---- exported value parsers -------------------------------------------- */

int nook_parse_size(const char *s, uint64_t *ret)
{
	static const struct {
		char suffix;
		unsigned shift;
	} units[] = {
		{ 'k', 10 },
		{ 'm', 20 },
		{ 'g', 30 },
		{ 't', 40 },
	};
	uint64_t v;
	unsigned shift = 0;
	int r;

	if (!s || !ret)
		return -EINVAL;
	if (strcasecmp(s, "max") == 0) {
		*ret = 0;
		return 0;
	}
	r = conf_parse_digits(&s, &v);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ELEMENTSOF(units); i++)
		if ((*s | 0x20) == units[i].suffix) {
			shift = units[i].shift;
			s++;
			break;
		}
	/* "10G", "10GB", "10GiB" and "4096B" all mean bytes in powers of 1024. */
	if (shift && (*s == 'i' || *s == 'I'))
		s++;
	if (*s == 'b' || *s == 'B')
		s++;
	if (*s)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*ret = v << shift;
	return 0;
}

int nook_parse_duration_ms(const char *s, uint64_t *ret)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {
		{ "ms", 1 },    { "s", 1000 },    { "min", 60000 },
		{ "m", 60000 }, { "h", 3600000 }, { "d", 86400000 },
	};
	uint64_t v;
	int r;

	if (!s || !ret)
		return -EINVAL;
	r = conf_parse_digits(&s, &v);
	if (r < 0)
		return r;
	/* A bare number is ambiguous (seconds? ms?), so only 0 may omit the unit. */
	if (!*s) {
		if (v != 0)
			return -EINVAL;
		*ret = 0;
		return 0;
	}
	for (size_t i = 0; i < ELEMENTSOF(units); i++)
		if (strcmp(s, units[i].unit) == 0) {
			if (v > UINT64_MAX / units[i].ms)
				return -ERANGE;
			*ret = v * units[i].ms;
			return 0;
		}
	return -EINVAL;
}

int nook_parse_bool(const char *s, bool *ret)
{
	static const struct {
		const char *word;
		bool value;
	} words[] = {
		{ "yes", true }, { "true", true },   { "on", true },   { "1", true },
		{ "no", false }, { "false", false }, { "off", false }, { "0", false },
	};

	if (!s || !ret)
		return -EINVAL;
	for (size_t i = 0; i < ELEMENTSOF(words); i++)
		if (strcasecmp(s, words[i].word) == 0) {
			*ret = words[i].value;
			return 0;
		}
	return -EINVAL;
}

int nook_parse_cidr(const char *s, int family, struct nook_cidr *ret)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash, *p;
	unsigned max = family == AF_INET ? 32 : 128;
	uint64_t len;
	struct nook_cidr c = { .family = family };

	if (!s || !ret || (family != AF_INET && family != AF_INET6))
		return -EINVAL;
	slash = strchr(s, '/');
	if (!slash || (size_t) (slash - s) >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, (size_t) (slash - s));
	addr[slash - s] = '\0';
	if (inet_pton(family, addr, c.addr) != 1)
		return -EINVAL;
	p = slash + 1;
	/* No sign, no leading blanks, no leading zeros beyond "0". */
	if (conf_parse_digits(&p, &len) < 0 || *p || (slash[1] == '0' && slash[2]))
		return -EINVAL;
	if (len > max)
		return -ERANGE;
	c.prefix = (unsigned) len;
	*ret = c;
	return 0;
}

bool nook_cidr_host_bits(const struct nook_cidr *c)
{
	unsigned bytes = c->family == AF_INET ? 4 : 16;

	for (unsigned i = 0; i < bytes; i++) {
		unsigned first = i * 8; /* bit number of this byte's top bit */
		uint8_t host_mask;

		if (first + 8 <= c->prefix)
			continue;
		host_mask = first >= c->prefix ? 0xff : (uint8_t) (0xffu >> (c->prefix - first));
		if (c->addr[i] & host_mask)
			return true;
	}
	return false;
}
