/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "pam-service.h"
#include "util.h"

#define PAM_FILE_MAX ((size_t) 64 * 1024)

/* The next blank-separated word of [*p, end), or NULL at the line's end. */
static const char *word(const char **p, const char *end, size_t *len)
{
	const char *s = *p;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	if (s == end)
		return NULL;
	*p = s;
	while (*p < end && **p != ' ' && **p != '\t')
		(*p)++;
	*len = (size_t) (*p - s);
	return s;
}

static bool word_is(const char *w, size_t len, const char *s)
{
	return w && len == strlen(s) && memcmp(w, s, len) == 0;
}

static bool line_enters(const char *p, const char *end)
{
	static const char mod[] = "pam_nook.so";
	const char *w;
	size_t len = 0;

	w = word(&p, end, &len);
	if (!word_is(w, len, "session"))
		return false;
	w = word(&p, end, &len);
	if (!word_is(w, len, "required") && !word_is(w, len, "requisite"))
		return false;
	w = word(&p, end, &len);
	if (!w || len < sizeof(mod) - 1 || memcmp(w + len - (sizeof(mod) - 1), mod, sizeof(mod) - 1) != 0)
		return false;
	/* "pam_nook.so" or a path ending in "/pam_nook.so". */
	return len == sizeof(mod) - 1 || w[len - sizeof(mod)] == '/';
}

bool nook_pam_text_enters(const char *text, size_t len)
{
	const char *end = text + len;

	for (const char *p = text; p < end;) {
		const char *nl = memchr(p, '\n', (size_t) (end - p));
		const char *eol = nl ? nl : end;
		const char *hash = memchr(p, '#', (size_t) (eol - p));

		if (line_enters(p, hash ? hash : eol))
			return true;
		p = eol + 1;
	}
	return false;
}

int nook_pam_service_enters(const char *service)
{
	char path[128], *buf;
	_cleanup_close_ int fd = -EBADF;
	int n, r;

	if (!service || !*service || service[0] == '.' || strlen(service) > 64 ||
	    service[strspn(service, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")])
		return -EINVAL;
	snprintf(path, sizeof(path), "/etc/pam.d/%s", service);
	fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	buf = malloc(PAM_FILE_MAX);
	if (!buf)
		return -ENOMEM;
	n = nook_read_all(fd, buf, PAM_FILE_MAX);
	r = n < 0 ? n : nook_pam_text_enters(buf, (size_t) n);
	free(buf);
	return r;
}
