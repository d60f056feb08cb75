/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Stubs for the setuid programs users reach for inside (issue 12).
 *
 * Every login runs with no_new_privs, so a setuid-root program starts
 * without privileges and fails in its own words: sudo talks of adjusting
 * "the container configuration", exim4 of spool permissions, su of an
 * authentication failure. None of that tells the user what happened or what
 * to do. mount-files.c binds a stub over each of these paths when the lower layer
 * holds the real, root-owned setuid program there: running it prints one
 * line that says why and what to use instead, and exits 1, which scripts
 * and ansible's become see as the failure it is.
 *
 * Only programs that are useless without privileges are listed: a setuid
 * or setgid program that still does its everyday job unprivileged (mount
 * listing the mounts, ssh-agent) keeps working and is not replaced.
 */
#include <errno.h>
#include <stdio.h>

#include "cleanup.h"
#include "setuid-stubs.h"

#define NOT_HERE \
	"not available inside your nook container: setuid programs run without privileges here (no_new_privs)"
#define ASK_ADMIN NOT_HERE "; ask the administrator for anything that needs root"
#define ACCOUNT \
	NOT_HERE "; your password and account are kept on the host: ask the administrator to change them"

const struct nook_setuid_stub nook_setuid_stubs[] = {
	{ "/usr/bin/sudo", ASK_ADMIN },
	{ "/usr/bin/su", ASK_ADMIN },
	{ "/usr/bin/pkexec", ASK_ADMIN },
	{ "/usr/bin/newgrp", NOT_HERE "; your groups are those of your login" },
	/* The account lives on the host, where no selected user has a
	 * session: there is no path out to its PAM password stack. */
	{ "/usr/bin/passwd", ACCOUNT },
	{ "/usr/bin/chsh", ACCOUNT },
	{ "/usr/bin/chfn", ACCOUNT },
	{ "/usr/bin/gpasswd", ACCOUNT },
	/* mail(1) and friends hand the message to /usr/sbin/sendmail, a
	 * link to one of these; the stub then names itself "sendmail". */
	{ "/usr/sbin/exim4", NOT_HERE "; send mail through an SMTP server instead" },
	{ "/usr/sbin/postdrop", NOT_HERE "; send mail through an SMTP server instead" },
};
const size_t nook_setuid_stubs_n = ELEMENTSOF(nook_setuid_stubs);

int nook_setuid_stub_script(const struct nook_setuid_stub *s, char *buf, size_t size)
{
	/* WHY is ours (no quote, no $), so single quotes keep it literal. */
	int n = snprintf(buf, size,
			 "#!/bin/sh\n"
			 "# nook: %s is setuid, which cannot work inside a container.\n"
			 "echo \"${0##*/}\": '%s' >&2\n"
			 "exit 1\n",
			 s->path, s->why);

	if (n < 0 || (size_t) n >= size)
		return -ENAMETOOLONG;
	return n;
}
