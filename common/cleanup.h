/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Scope-bound cleanup helpers, in the style of systemd and bubblewrap:
 * a local declared with one of these attributes is released when it goes out
 * of scope, so functions can return early without goto ladders.
 * TAKE_FD/TAKE_PTR hand ownership to the caller.
 */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void nook_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		(void) close(*fd);
		errno = saved;
	}
}

static inline void nook_freep(void *p)
{
	free(*(void **) p);
}

static inline void nook_fclosep(FILE **f)
{
	if (*f)
		(void) fclose(*f);
}

static inline void nook_closedirp(DIR **d)
{
	if (*d)
		(void) closedir(*d);
}

/* Frees a NULL-terminated array of strings and the array itself. */
static inline void nook_strvfreep(char ***v)
{
	if (!*v)
		return;
	for (char **s = *v; *s; s++)
		free(*s);
	free(*v);
}

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_close_ _cleanup_(nook_closep)
#define _cleanup_free_ _cleanup_(nook_freep)
#define _cleanup_fclose_ _cleanup_(nook_fclosep)
#define _cleanup_closedir_ _cleanup_(nook_closedirp)
#define _cleanup_strv_ _cleanup_(nook_strvfreep)

#define TAKE_FD(fd)              \
	({                       \
		int _fd_ = (fd); \
		(fd) = -EBADF;   \
		_fd_;            \
	})

#define TAKE_PTR(p)                      \
	({                               \
		__typeof__(p) _p_ = (p); \
		(p) = NULL;              \
		_p_;                     \
	})

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
