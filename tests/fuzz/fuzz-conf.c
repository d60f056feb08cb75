/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the nook.conf parser: parse the input as one file,
 * then resolve and select for a fixed user, so that the parsed form is
 * walked the way the helper walks it. The input is split at the first
 * "\n----\n" into two files, to exercise the later-file-overrides path and
 * the rollback of a failed second file.
 *
 * clang -g -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Icommon \
 *       tests/fuzz/fuzz-conf.c common/conf-*.c -o /tmp/fuzz-conf
 * /tmp/fuzz-conf -max_total_time=30 tests/fuzz/corpus-conf
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const struct nook_conf *c)
{
	/* nobody's ids, plus root's group, so [group:root] and @root can match. */
	static const gid_t groups[] = { 0, 100 };
	struct nook_settings s;

	(void) nook_conf_selected(c, "nobody", 65534, groups, 2);
	(void) nook_conf_selected(c, "root", 0, NULL, 0);
	if (nook_conf_resolve(c, "nobody", 65534, groups, 2, &s) == 0) {
		/* Touch everything, so ASan sees any bad pointer. */
		size_t n =
			strlen(s.rootfs) + strlen(s.image_dir) + strlen(s.hostname) + strlen(s.cgroup_root);
		for (char **h = s.hide; *h; h++)
			n += strlen(*h);
		for (size_t i = 0; i < s.n_binds; i++)
			n += strlen(s.binds[i].src) + strlen(s.binds[i].dst);
		if (n == 0)
			abort(); /* rootfs alone is never empty */
		nook_settings_free(&s);
	}
	for (char *const *w = nook_conf_warnings(c); *w; w++)
		if (strlen(*w) >= NOOK_CONF_ERR_MAX)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char sep[] = "\n----\n";
	const char *buf = (const char *) data;
	const char *second = memmem(buf, size, sep, sizeof(sep) - 1);
	size_t first_len = second ? (size_t) (second - buf) : size;
	struct nook_conf *c = nook_conf_new();
	char *err = NULL;

	if (!c)
		return 0;
	if (nook_conf_parse_buffer(c, "fuzz.conf", buf, first_len, &err) < 0) {
		/* Every refusal must explain itself, within the size limit. */
		if (err && (strncmp(err, "fuzz.conf:", 10) != 0 || strlen(err) >= NOOK_CONF_ERR_MAX))
			abort();
		free(err);
		err = NULL;
	}
	exercise(c);
	if (second) {
		second += sizeof(sep) - 1;
		if (nook_conf_parse_buffer(c, "fuzz2.conf", second, size - (size_t) (second - buf), &err) <
		    0) {
			if (err && (strncmp(err, "fuzz2.conf:", 11) != 0 || strlen(err) >= NOOK_CONF_ERR_MAX))
				abort();
			free(err);
		}
		exercise(c);
	}
	nook_conf_free(c);
	return 0;
}
