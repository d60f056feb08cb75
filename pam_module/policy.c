/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pam_nook's options and policy: the module's arguments, who the user is,
 * whether the configuration selects them, and whether the helper may be
 * trusted with root. Every hook asks here first.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <security/pam_modutil.h>

#include "cleanup.h"
#include "conf.h"
#include "module.h"
#include "pam-service.h"
#include "protocol.h"
#include "util.h"

int parse_opts(pam_handle_t *pamh, int argc, const char **argv, struct opts *o)
{
	const char *service = NULL;

	*o = (struct opts) { .conf = NOOK_CONF_DEFAULT_PATH, .helper = DEFAULT_HELPER };
	for (int i = 0; i < argc; i++) {
		if (strncmp(argv[i], "conf=", 5) == 0 && argv[i][5] == '/')
			o->conf = argv[i] + 5;
		else if (strncmp(argv[i], "helper=", 7) == 0 && argv[i][7] == '/')
			o->helper = argv[i] + 7;
		else if (strcmp(argv[i], "enter=setcred") == 0)
			o->enter = ENTER_SETCRED;
		else if (strcmp(argv[i], "enter=session") == 0)
			o->enter = ENTER_SESSION;
		else if (strcmp(argv[i], "debug") == 0)
			o->debug = true;
		else {
			pam_syslog(pamh, LOG_ERR, "unknown or malformed option '%s'", argv[i]);
			return PAM_SERVICE_ERR;
		}
	}
	(void) pam_get_item(pamh, PAM_SERVICE, (const void **) &service);
	if (o->enter == ENTER_DEFAULT) {
		/* sshd (and copies of it under another name, as the tests run)
		 * enters in setcred; everything else at the end of open_session. */
		o->enter = service && strstr(service, "sshd") ? ENTER_SETCRED : ENTER_SESSION;
	} else if (o->enter == ENTER_SETCRED && !(service && strstr(service, "sshd"))) {
		/* Only sshd calls setcred in a child after open_session; login
		 * and su would never enter, and their users would get a host
		 * session. Refuse rather than fail open. */
		pam_syslog(pamh, LOG_ERR,
			   "enter=setcred works with sshd only, not with service '%s'; "
			   "use enter=session",
			   service ? service : "?");
		return PAM_SERVICE_ERR;
	}
	return PAM_SUCCESS;
}

/* PAM_IGNORE for a user who is never containerized. */
static int lookup_user(pam_handle_t *pamh, const char *name, struct who *w)
{
	struct passwd *pw;

	w->name = name;
	pw = pam_modutil_getpwnam(pamh, w->name);
	if (!pw)
		return PAM_USER_UNKNOWN;
	w->uid = pw->pw_uid;
	w->gid = pw->pw_gid;
	/* Even with a broken configuration: decided before it is read (and
	 * before the groups are looked up). */
	if (nook_uid_never_contained(w->uid))
		return PAM_IGNORE;
	w->n_groups = MAX_GROUPS;
	if (getgrouplist(w->name, w->gid, w->groups, &w->n_groups) < 0) {
		pam_syslog(pamh, LOG_ERR, "user '%s' is in more than %d groups", w->name, MAX_GROUPS);
		return PAM_SYSTEM_ERR;
	}
	return PAM_SUCCESS;
}

/*
 * The user looked up and the configuration parsed, kept from one hook of a
 * login to the next in the same process: account and open_session both
 * decide, and sshd's monitor, login and su run them in one process, so
 * open_session reuses what account read instead of reading it all again
 * (and drops it: nothing of it is needed later). Only for the same process,
 * user and conf= path. It never crosses the exec of the helper: nook-helper
 * is setuid root and trusts nothing its caller parsed, so it looks the user
 * up and loads the configuration itself (main-helper.c).
 */
struct parsed {
	pid_t pid;
	char *conf_path;
	char *name;
	struct who w; /* w.name is name */
	struct nook_conf *conf;
};

static void parsed_free(pam_handle_t *pamh, void *data, int error_status)
{
	struct parsed *p = data;

	(void) pamh;
	(void) error_status;
	nook_conf_free(p->conf);
	free(p->conf_path);
	free(p->name);
	free(p);
}

/* What this process kept for user NAME and CONF_PATH, or NULL. */
static const struct parsed *parsed_get(pam_handle_t *pamh, const char *conf_path, const char *name)
{
	const void *d = NULL;
	const struct parsed *p;

	if (pam_get_data(pamh, PARSED_KEY, &d) != PAM_SUCCESS || !d)
		return NULL;
	p = d;
	if (p->pid != getpid() || strcmp(p->conf_path, conf_path) != 0 || strcmp(p->name, name) != 0)
		return NULL;
	return p;
}

/* Keeps W and CONF for the next hook; true if CONF now belongs to PAM's
 * data (freed with it), false if the caller still owns it. */
static bool parsed_keep(pam_handle_t *pamh, const char *conf_path, const struct who *w,
			struct nook_conf *conf)
{
	struct parsed *p = calloc(1, sizeof(*p));

	if (!p)
		return false;
	p->conf_path = strdup(conf_path);
	p->name = strdup(w->name);
	if (!p->conf_path || !p->name || pam_set_data(pamh, PARSED_KEY, p, parsed_free) != PAM_SUCCESS) {
		free(p->conf_path);
		free(p->name);
		free(p);
		return false;
	}
	p->pid = getpid();
	p->w = *w;
	p->w.name = p->name;
	p->conf = conf;
	return true;
}

void parsed_drop(pam_handle_t *pamh)
{
	/* Replacing the data frees the old one (PAM_DATA_REPLACE). */
	(void) pam_set_data(pamh, PARSED_KEY, NULL, NULL);
}

/*
 * Is the user selected? Returns PAM_SUCCESS (selected, *ret_settings
 * filled if asked), PAM_IGNORE (not selected: do not touch) or an error
 * (the configuration cannot be trusted: fail closed for everyone but root).
 */
int policy(pam_handle_t *pamh, const struct opts *o, struct who *w, struct nook_settings *ret_settings)
{
	struct nook_conf *conf = NULL;
	_cleanup_free_ char *err = NULL;
	const struct parsed *kept;
	const char *name = NULL;
	bool owned = true;
	int r;

	if (pam_get_user(pamh, &name, NULL) != PAM_SUCCESS || !name || !*name)
		return PAM_IGNORE;
	kept = parsed_get(pamh, o->conf, name);
	if (kept) {
		*w = kept->w;
		w->name = name;
		conf = kept->conf;
		owned = false;
	} else {
		r = lookup_user(pamh, name, w);
		if (r != PAM_SUCCESS)
			return r == PAM_USER_UNKNOWN ? PAM_IGNORE : r;
		r = nook_conf_load(o->conf, &conf, &err);
		if (r < 0) {
			pam_syslog(pamh, LOG_ERR, "refusing '%s': %s", w->name,
				   err ? err : "cannot load the nook configuration");
			return PAM_PERM_DENIED;
		}
		owned = !parsed_keep(pamh, o->conf, w, conf);
	}
	r = nook_conf_selected(conf, w->name, w->gid, w->groups, (size_t) w->n_groups);
	if (r > 0 && ret_settings) {
		r = nook_conf_resolve(conf, w->name, w->gid, w->groups, (size_t) w->n_groups, ret_settings);
		if (r < 0) {
			pam_syslog(pamh, LOG_ERR, "refusing '%s': %s: cannot resolve their settings: %s",
				   w->name, o->conf, strerror(-r));
			if (owned)
				nook_conf_free(conf);
			return PAM_PERM_DENIED;
		}
		r = 1;
	}
	if (owned)
		nook_conf_free(conf);
	if (r < 0) {
		pam_syslog(pamh, LOG_ERR, "refusing '%s': %s", w->name, strerror(-r));
		return PAM_PERM_DENIED;
	}
	if (o->debug)
		pam_syslog(pamh, LOG_DEBUG, "'%s' is %sselected", w->name, r ? "" : "not ");
	return r ? PAM_SUCCESS : PAM_IGNORE;
}

/* The helper must be root's: a helper others can replace is a root shell. */
int check_helper(pam_handle_t *pamh, const char *path)
{
	_cleanup_close_ int fd = nook_open_nofollow(path, O_PATH, 0);
	struct stat st = { 0 };
	int r = fd < 0 ? fd : nook_check_root_owned(fd, S_IFREG, S_IWGRP | S_IWOTH, &st);

	if (fd < 0 || (r < 0 && r != -EINVAL && r != -EPERM)) {
		pam_syslog(pamh, LOG_ERR, "helper %s is missing (%s); reinstall nook", path, strerror(-r));
		return PAM_PERM_DENIED;
	}
	if (r < 0 || !(st.st_mode & S_IXUSR)) {
		pam_syslog(pamh, LOG_ERR,
			   "helper %s must be a root-owned executable not writable by "
			   "group or others; reinstall nook",
			   path);
		return PAM_PERM_DENIED;
	}
	return PAM_SUCCESS;
}

/* cron (PAM_TTY "cron", set by Debian's cron and by cronie) checks the
 * account of every job's user, then opens a session and runs the job. Its
 * stack reaches pam_nook's session hook only through a line of its own in
 * its file (pam-service.h); without one, a selected user's job would run on
 * the host, so the account is refused and the admin told what to add. */
int check_cron(pam_handle_t *pamh, const char *user)
{
	const char *tty = NULL, *service = NULL;
	int r;

	if (pam_get_item(pamh, PAM_TTY, (const void **) &tty) != PAM_SUCCESS || !tty ||
	    strcmp(tty, "cron") != 0)
		return PAM_SUCCESS;
	(void) pam_get_item(pamh, PAM_SERVICE, (const void **) &service);
	r = nook_pam_service_enters(service);
	if (r > 0)
		return PAM_SUCCESS;
	pam_syslog(pamh, LOG_ERR,
		   "not running a cron job of '%s' outside their container: /etc/pam.d/%s has no "
		   "'session required pam_nook.so' line%s%s (pam_nook(8), CRON)",
		   user, service ? service : "?", r < 0 ? ": " : "", r < 0 ? strerror(-r) : "");
	return PAM_PERM_DENIED;
}
