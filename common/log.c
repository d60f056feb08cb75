/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static bool log_stderr;

void nook_log_open(const char *ident, bool to_stderr)
{
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
	log_stderr = to_stderr;
}

void nook_log(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsyslog(prio, fmt, ap);
	va_end(ap);
	if (log_stderr) {
		va_start(ap, fmt);
		fputs("nook: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		va_end(ap);
	}
}
