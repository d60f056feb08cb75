/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Setuid programs that cannot work inside a container (no_new_privs cancels
 * setuid) and the one line each says instead of its own confusing error.
 */
#pragma once

#include <stddef.h>

struct nook_setuid_stub {
	const char *path; /* absolute, in the container */
	const char *why;  /* the rest of the line after "PROGRAM: " */
};

extern const struct nook_setuid_stub nook_setuid_stubs[];
extern const size_t nook_setuid_stubs_n;

/* The stub's text: a /bin/sh script that prints "NAME: WHY" (NAME as it
 * was called) on stderr and exits 1. Returns its length or -ENAMETOOLONG. */
int nook_setuid_stub_script(const struct nook_setuid_stub *s, char *buf, size_t size);
