/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pam_nook: every login of a selected user lands in that user's container.
 *
 *   account  required pam_nook.so   policy: selected? installation sane?
 *   auth     optional pam_nook.so   (last auth line: setcred runs here)
 *   session  required pam_nook.so
 *
 * sshd (DESIGN.md, "The login, step by step"): open_session runs in the
 * monitor as host root; it asks the keeper for the container (the helper
 * creates one when none runs) and keeps init's pidfd in pam_data. The
 * postauth child inherits that memory; its setcred(ESTABLISH) joins the
 * cgroup and the namespaces, becomes container root and applies the
 * restricted profile, then sshd drops to the user. login(1) and su call
 * PAM differently: with enter=session the caller itself enters at the end
 * of open_session.
 *
 * Fail closed: a selected user never gets a host shell. Where PAM's caller
 * would carry on after an error (sshd ignores setcred failures for key
 * logins), the process is ended with _exit(1).
 */
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <linux/mount.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#define PAM_SM_ACCOUNT
#define PAM_SM_AUTH
#define PAM_SM_SESSION
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <security/pam_modutil.h>

#include "cleanup.h"
#include "client.h"
#include "conf.h"
#include "enter.h"
#include "pts.h"
#include "terminal.h"
#include "restrict.h"
#include "rundir.h"
#include "trace.h"
#include "util.h"

#include "module.h"

#define DATA_KEY "pam_nook_state"

/* What open_session leaves for setcred, in the monitor and (by fork) in
 * sshd's postauth child. */
struct state {
	pid_t account_pid;          /* the process that ran the account check */
	struct helper_run prestart; /* a helper the account check started (sshd) */
	pid_t unreaped;             /* a helper that said "up" and is exiting */
	bool opened;                /* open_session reached the container */
	enum nook_profile profile;
	struct nook_session_info info;
};

static void state_cleanup(pam_handle_t *pamh, void *data, int error_status)
{
	struct state *s = data;

	(void) pamh;
	(void) error_status;
	if (s->opened && s->info.init_pidfd >= 0)
		(void) close(s->info.init_pidfd);
	if (s->prestart.pid > 0 && s->prestart.out >= 0)
		(void) close(s->prestart.out); /* no open_session came */
	/* Long gone by now (or reaped by the caller): no zombie is left. */
	if (s->unreaped > 0)
		(void) waitpid(s->unreaped, NULL, WNOHANG);
	free(s);
}

static struct state *get_state(pam_handle_t *pamh, bool create)
{
	const void *p = NULL;
	struct state *s;

	if (pam_get_data(pamh, DATA_KEY, &p) == PAM_SUCCESS && p)
		return (struct state *) p;
	if (!create)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->info.init_pidfd = -EBADF;
	s->prestart.out = -EBADF;
	if (pam_set_data(pamh, DATA_KEY, s, state_cleanup) != PAM_SUCCESS) {
		free(s);
		return NULL;
	}
	return s;
}

/* Warm path: a running keeper registers this process as a session with one
 * round trip and no fork. Cold path: the helper creates the container (and
 * registers us, its parent); we then only fetch init's pidfd. */
static int reach_container(pam_handle_t *pamh, const struct opts *o, const char *user, struct state *s)
{
	/* The account check's helper registered this process already: only
	 * init's pidfd is left to fetch. If it failed, or sshd reaped it,
	 * the usual way below decides. */
	struct nook_session_info *info = &s->info;

	if (s->prestart.pid > 0 && helper_finish(pamh, o, user, &s->prestart, true, &s->unreaped) == 0) {
		_cleanup_close_ int rundir = nook_rundir_open_existing(user);
		_cleanup_close_ int sock = -EBADF;

		nook_trace("pam", "prestarted");
		if (rundir >= 0 && (sock = nook_ctl_connect(rundir)) >= 0 &&
		    nook_ctl_attach(sock, info) >= 0) {
			nook_trace("pam", "attached");
			return 0;
		}
	}
	for (int attempt = 0; attempt < 3; attempt++) {
		_cleanup_close_ int rundir = nook_rundir_open_existing(user);
		_cleanup_close_ int sock = -EBADF, self = -EBADF;

		if (rundir >= 0 && (sock = nook_ctl_connect(rundir)) >= 0 &&
		    (self = nook_pidfd_open(getpid())) >= 0 && nook_ctl_register(sock, self, info) >= 0) {
			nook_trace("pam", "registered");
			if (o->debug)
				pam_syslog(pamh, LOG_DEBUG, "joined the running container of '%s'", user);
			return 0;
		}
		nook_trace("pam", "helper-start");
		if (run_helper(pamh, o, user) < 0)
			return -EIO;
		nook_trace("pam", "helper-done");
		(void) close(rundir);
		rundir = nook_rundir_open_existing(user);
		if (sock >= 0)
			(void) close(TAKE_FD(sock));
		/* A container that stopped between the helper and us (linger 0
		 * and a racing logout) just means one more round. */
		if (rundir >= 0 && (sock = nook_ctl_connect(rundir)) >= 0 &&
		    nook_ctl_attach(sock, info) >= 0) {
			nook_trace("pam", "attached");
			return 0;
		}
	}
	pam_syslog(pamh, LOG_ERR, "cannot reach the container of '%s'", user);
	return -EIO;
}

/* R, from a step that visited the container's mount namespace (pts.c),
 * unless it could not come back: then the process ends here. */
static int stayed_outside(pam_handle_t *pamh, int r)
{
	if (r == -ENOTRECOVERABLE) {
		pam_syslog(pamh, LOG_CRIT,
			   "cannot return from the container's mount namespace; ending the session");
		/* Fail closed: host root in the user's mount tree goes no further. */
		_exit(1);
	}
	return r;
}

/* Joins the container and applies the restricted profile. Once it has
 * started, failing half-way leaves the process neither here nor there:
 * only ending it is safe. */
static void enter(pam_handle_t *pamh, struct state *s, const char *user, const struct nook_login_tty *tty)
{
	int r = nook_join(&s->info);

	if (r >= 0 && tty)
		r = nook_login_tty_mount(tty);
	if (r >= 0)
		r = nook_restrict_apply(s->profile);
	nook_trace("pam", "restricted");
	/* Inside now: no more host file, even for timestamps. */
	nook_trace_close(true);
	if (r < 0) {
		/* Logged before /proc and /dev/log are the container's? syslog's
		 * socket was opened by pam_syslog earlier or is reachable in the
		 * container through the bind of /dev/log. */
		pam_syslog(pamh, LOG_CRIT, "cannot enter the container of '%s': %s; ending the session", user,
			   strerror(-r));
		/* Fail closed (the one deliberate exit in this module): the
		 * caller would otherwise give the user a host shell. */
		_exit(1);
	}
}

/* sshd (PAM_TTY "ssh", its mark before any pty) checks the account of a
 * user it has just authenticated, then does its own work for several
 * milliseconds (telling the client, the session's channel) before it opens
 * the session: a container that is not running is started now, in the
 * background, and open_session waits for what is left of that. Other
 * callers (cron, sudo -u) check accounts without a login to follow. */
static void prestart(pam_handle_t *pamh, const struct opts *o, const struct who *w, struct state *s)
{
	const char *tty = NULL;
	_cleanup_close_ int rundir = -EBADF;

	if (s->prestart.pid > 0 || pam_get_item(pamh, PAM_TTY, (const void **) &tty) != PAM_SUCCESS || !tty ||
	    strcmp(tty, "ssh") != 0)
		return;
	rundir = nook_rundir_open_existing(w->name);
	if (rundir >= 0) {
		int sock = nook_ctl_connect(rundir);

		if (sock >= 0) {
			(void) close(sock);
			return; /* running: open_session registers in one round trip */
		}
	}
	{
		/* SIGCHLD at default from the fork on (helper_spawn); sshd's
		 * own disposition is back when we return. */
		struct sigaction sa = { .sa_handler = SIG_DFL }, old;
		struct helper_run h;

		sigemptyset(&sa.sa_mask);
		(void) sigaction(SIGCHLD, &sa, &old);
		nook_trace("pam", "prestart");
		if (helper_spawn(pamh, o, w->name, &h) == 0)
			s->prestart = h;
		(void) sigaction(SIGCHLD, &old, NULL);
	}
}

static int acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct opts o;
	struct who w;
	struct state *s;
	int r;

	(void) flags;
	r = parse_opts(pamh, argc, argv, &o);
	if (r != PAM_SUCCESS)
		return r;
	r = policy(pamh, &o, &w, NULL);
	if (r != PAM_SUCCESS)
		return r;
	r = check_helper(pamh, o.helper);
	if (r != PAM_SUCCESS) {
		(void) pam_error(pamh,
				 "nook: logins for %s are disabled until the administrator repairs "
				 "the installation",
				 w.name);
		return r;
	}
	r = check_cron(pamh, w.name);
	if (r != PAM_SUCCESS)
		return r;
	s = get_state(pamh, true);
	if (!s)
		return PAM_BUF_ERR;
	s->account_pid = getpid();
	prestart(pamh, &o, &w, s);
	return PAM_SUCCESS;
}

#define TTY_GUARD_DATA "nook_tty_guard"

static void close_tty_guard(pam_handle_t *pamh, void *data, int error_status)
{
	(void) pamh;
	(void) error_status;
	(void) close(*(int *) data);
	free(data);
}

/* login: the guard of its terminal (terminal.c), its socket kept with the
 * handle until close_session. */
static int keep_tty_guard(pam_handle_t *pamh)
{
	_cleanup_free_ int *sock = malloc(sizeof(*sock));
	int r;

	if (!sock)
		return -ENOMEM;
	r = nook_login_tty_guard(pamh, sock);
	if (r < 0 || *sock < 0)
		return r;
	if (pam_set_data(pamh, TTY_GUARD_DATA, sock, close_tty_guard) != PAM_SUCCESS) {
		(void) close(*sock);
		return -ENOMEM;
	}
	sock = NULL;
	return 0;
}

static int open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct nook_settings set = { 0 };
	struct opts o;
	struct who w;
	struct state *s;
	int r;

	(void) flags;
	r = parse_opts(pamh, argc, argv, &o);
	if (r != PAM_SUCCESS)
		return r;
	r = policy(pamh, &o, &w, &set);
	parsed_drop(pamh);
	if (r != PAM_SUCCESS)
		return r == PAM_IGNORE ? PAM_IGNORE : PAM_SESSION_ERR;
	s = get_state(pamh, true);
	if (!s) {
		nook_settings_free(&set);
		return PAM_BUF_ERR;
	}
	if (!s->account_pid)
		s->account_pid = getpid();
	s->profile = set.profile;
	nook_settings_free(&set);
	r = check_helper(pamh, o.helper) == PAM_SUCCESS ? reach_container(pamh, &o, w.name, s) : -EPERM;
	s->prestart.pid = 0;
	if (r < 0) {
		(void) pam_error(pamh,
				 "nook: your session could not be started; please contact the "
				 "administrator");
		return PAM_SESSION_ERR;
	}
	s->opened = true;
	if (o.enter == ENTER_SETCRED) {
		/* sshd's monitor allocates the session's pty: from the
		 * container's devpts, so that it has its name inside (pts.c). */
		r = stayed_outside(pamh, nook_pts_private_view(s->info.init_pidfd));
		nook_trace("pam", "pts-view");
		if (r < 0) {
			pam_syslog(pamh, LOG_ERR, "cannot give sshd the ptys of the container of '%s': %s",
				   w.name, strerror(-r));
			(void) pam_error(pamh,
					 "nook: your session could not be started; please contact the "
					 "administrator");
			return PAM_SESSION_ERR;
		}
	} else {
		const char *service = NULL;
		struct nook_login_tty tty = { .tree = -EBADF };

		/* login(1) owns the terminal it runs on: it chowns it to the
		 * user and reopens it by name in the session; a guard on the
		 * host hangs it up when the session ends. Any other caller's
		 * terminal stays with the caller (relayed). */
		(void) pam_get_item(pamh, PAM_SERVICE, (const void **) &service);
		if (service && strcmp(service, "login") == 0) {
			nook_login_tty_hand_over(pamh, s->info.init_pid, w.uid);
			r = stayed_outside(pamh, nook_login_tty_prepare(pamh, s->info.init_pidfd, &tty));
			if (r >= 0)
				r = keep_tty_guard(pamh);
			if (r < 0) {
				if (tty.tree >= 0)
					(void) close(tty.tree);
				(void) pam_error(pamh,
						 "nook: your session could not be started; please contact "
						 "the administrator");
				return PAM_SESSION_ERR;
			}
		} else if (nook_caller_terminal_relay(pamh, w.uid, s->info.init_pidfd) < 0) {
			(void) pam_error(pamh,
					 "nook: your session could not be started; please contact the "
					 "administrator");
			return PAM_SESSION_ERR;
		}
		enter(pamh, s, w.name, &tty);
		if (tty.tree >= 0)
			(void) close(tty.tree);
	}
	return PAM_SUCCESS;
}

PAM_EXTERN int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	const int *guard = NULL;
	int r;

	(void) flags;
	(void) argc;
	(void) argv;
	/* The keeper holds a pidfd of the session's process: the session ends
	 * when that process exits, which also covers a monitor killed with
	 * SIGKILL. Only login's terminal is left: hung up by its guard, so
	 * nothing left inside reads what is typed on it next. */
	if (pam_get_data(pamh, TTY_GUARD_DATA, (const void **) &guard) != PAM_SUCCESS || !guard)
		return PAM_IGNORE;
	r = nook_login_tty_release(*guard);
	if (r < 0)
		pam_syslog(pamh, LOG_WARNING,
			   "login's terminal may not have been hung up after the session (its guard: %s)",
			   strerror(-r));
	(void) pam_set_data(pamh, TTY_GUARD_DATA, NULL, NULL); /* closes it */
	return PAM_SUCCESS;
}

PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void) pamh;
	(void) flags;
	(void) argc;
	(void) argv;
	return PAM_IGNORE; /* present only so that setcred reaches us */
}

static int setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct opts o;
	struct state *s;
	const char *user = NULL;

	if (!(flags & PAM_ESTABLISH_CRED))
		return PAM_IGNORE;
	if (parse_opts(pamh, argc, argv, &o) != PAM_SUCCESS || o.enter != ENTER_SETCRED) {
		s = get_state(pamh, false);
		/* A selected user must not slip through a broken module line. */
		if (s && s->account_pid && getpid() != s->account_pid && !s->opened) {
			pam_syslog(
				pamh, LOG_CRIT,
				"a selected user reached setcred without a usable "
				"pam_nook session line (check enter= and the options); ending the session");
			_exit(1);
		}
		return PAM_IGNORE;
	}
	s = get_state(pamh, false);
	/* Not selected (no state), or the monitor's own setcred before
	 * open_session: nothing to do. */
	if (!s || getpid() == s->account_pid)
		return PAM_IGNORE;
	(void) pam_get_user(pamh, &user, NULL);
	if (!s->opened) {
		/* A selected user whose open_session failed or never ran, in
		 * the process that will run their shell: fail closed. */
		pam_syslog(pamh, LOG_CRIT, "'%s' has no container (open_session failed); ending the session",
			   user ? user : "?");
		_exit(1);
	}
	enter(pamh, s, user ? user : "?", NULL);
	if (o.debug)
		pam_syslog(pamh, LOG_DEBUG, "'%s' entered the container (init %d)", user ? user : "?",
			   s->info.init_pid);
	return PAM_SUCCESS;
}

/* The hooks, each timed for scripts/bench (trace.h; nothing when off). */
#define TRACED_HOOK(name)                                                                        \
	PAM_EXTERN int pam_sm_##name(pam_handle_t *pamh, int flags, int argc, const char **argv) \
	{                                                                                        \
		int r;                                                                           \
                                                                                                 \
		nook_trace("pam", #name "-begin");                                               \
		r = name(pamh, flags, argc, argv);                                               \
		nook_trace("pam", #name "-end");                                                 \
		nook_trace_close(false);                                                         \
		return r;                                                                        \
	}
TRACED_HOOK(acct_mgmt)
TRACED_HOOK(open_session)
TRACED_HOOK(setcred)
