/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Whether a PAM file enters the container (common/pam-service.c): what
 * pam_nook's account hook asks of /etc/pam.d/cron before it lets a
 * selected user's cron job run. */
#include <errno.h>
#include <string.h>

#include "pam-service.h"
#include "tap.h"

static const struct {
	const char *text, *what;
	bool want;
} cases[] = {
	{ "session required pam_nook.so\n", "the line INSTALL gives", true },
	{ "@include common-session-noninteractive\nsession    required   pam_limits.so\n"
	  "session\trequired\tpam_nook.so conf=/etc/nook/nook.conf\n",
	  "tabs, arguments, and the last of several lines", true },
	{ "session requisite /usr/lib/x86_64-linux-gnu/security/pam_nook.so",
	  "requisite, a full path, no newline", true },
	{ "# session required pam_nook.so\n", "a comment does not count", false },
	{ "session optional pam_nook.so\n", "optional would let a failure through", false },
	{ "session [success=ok default=ignore] pam_nook.so\n", "a bracketed control does not count", false },
	{ "account required pam_nook.so\nauth optional pam_nook.so\n", "account and auth lines do not enter",
	  false },
	{ "session required pam_nook.so.bak\nsession required my_pam_nook.so\n",
	  "other modules whose names contain it do not count", false },
	{ "session required pam_unix.so # pam_nook.so\n", "a trailing comment does not count", false },
	{ "-session required pam_nook.so\n", "a line PAM may skip (-session) does not count", false },
	{ "", "an empty file", false },
};

int main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ok(nook_pam_text_enters(cases[i].text, strlen(cases[i].text)) == cases[i].want, "%s",
		   cases[i].what);
	is_int(nook_pam_service_enters("../shadow"), -EINVAL, "a service name with a slash is refused");
	is_int(nook_pam_service_enters(".hidden"), -EINVAL, "a service name starting with a dot is refused");
	is_int(nook_pam_service_enters("nook-no-such-service"), 0, "a missing file enters nothing");
	return done_testing();
}
