/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nook-helper: installed setuid root, called by pam_nook.
 *
 *   nook-helper [--config FILE] open USER
 *                              ensure USER's container and register the
 *                              caller (the parent process) as a session;
 *                              prints the keeper's info line
 *   nook-helper [--config FILE] keys USER
 *                              sshd's AuthorizedKeysCommand (run as root):
 *                              prints the authorized_keys USER sees inside
 *                              when nook selects USER, nothing otherwise
 *                              (keys.c)
 *
 * The caller controls everything a setuid process inherits: fds, the
 * environment, signal dispositions and mask, rlimits, argv. So the hardening
 * comes first, before anything reads the environment or an argument: stdio
 * open, empty environment, only fds 0-2, not dumpable, umask 077, default
 * signals, sane rlimits. Then the binary's own installation is checked, then
 * the caller: only a real uid of 0 may act (with an effective uid of 0), and
 * only then are the arguments parsed (--config among them) and validated,
 * each before any use (DESIGN.md, "Security model"). Every refusal is logged
 * with the caller's real uid.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bsd/unistd.h>

#include "cleanup.h"
#include "log.h"
#include "nook.h"
#include "trace.h"

/* "nook-helper --config FILE open USER" is the longest documented form. */
#define HELPER_ARGC_MAX 5
/* At least this many fds for ourselves (the keeper inherits it). */
#define HELPER_NOFILE_MIN 1024

static const char usage[] =
	"usage: nook-helper [--config FILE] open USER\n"
	"       nook-helper [--config FILE] keys USER\n";

enum verb { VERB_OPEN, VERB_KEYS };

/*
 * A caller may exec us with fd 0, 1 or 2 closed. The next open() would then
 * land there, and log lines or the info line would be written into whatever
 * file that is (a config, a lock, the image). glibc does this for setuid
 * runs (AT_SECURE), but not when root calls us, so do it ourselves, first.
 * Nothing can be logged yet: fail with a bare exit.
 */
static void stdio_ensure_open(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		int null;

		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		null = open("/dev/null", O_RDWR | O_NOCTTY);
		if (null < 0)
			_exit(1);
		/* The lowest free number is fd itself, unless a lower one was
		 * closed too, which the earlier rounds have filled. */
		if (null != fd) {
			if (dup2(null, fd) < 0)
				_exit(1);
			(void) close(null);
		}
	}
}

static void harden(void)
{
	struct rlimit rl = { 0, 0 };

	stdio_ensure_open();
	/* Nothing of the caller's may steer us: no environment (LD_*, locale,
	 * TZ...), no inherited fds besides stdio, no core dumps or ptrace by
	 * the caller. */
	if (clearenv() != 0 || close_range(3, ~0U, 0) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		_exit(1);
	umask(077);

	/* Signal dispositions set to SIG_IGN and the blocked mask survive
	 * execve(). An ignored SIGCHLD makes the kernel reap our children
	 * (waitpid() for fsck or the keeper would fail with ECHILD); an
	 * ignored or blocked SIGTERM would reach the keeper, which must be
	 * stoppable. Start from the defaults. */
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction sa = { .sa_handler = SIG_DFL };

		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		sigemptyset(&sa.sa_mask);
		/* glibc's internal real-time signals answer EINVAL: fine. */
		(void) sigaction(sig, &sa, NULL);
	}
	{
		sigset_t none;

		sigemptyset(&none);
		if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
			_exit(1);
	}
	/* A root caller's parent-death signal would be sent to us, not to the
	 * session; the setuid exec clears it for others already. */
	(void) prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);

	/* No core file of a process that holds root's view of the images,
	 * even where fs.suid_dumpable would allow one (a core_pattern pipe
	 * ignores this limit; non-dumpable covers that). The hard limit too:
	 * the keeper and init inherit it. */
	if (setrlimit(RLIMIT_CORE, &rl) < 0)
		_exit(1);
	/* The caller may have left us almost no fds; take a working number
	 * within the hard limit it set (a lower hard limit fails closed
	 * later, at the open that does not fit). */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < HELPER_NOFILE_MIN) {
		rl.rlim_cur = rl.rlim_max < HELPER_NOFILE_MIN ? rl.rlim_max : HELPER_NOFILE_MIN;
		(void) setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * Refuses to run from a binary that someone besides root could have
 * replaced: whoever may write the file may run code as root. Checked on the
 * running inode (fstat of /proc/self/exe opened), not on a path that could
 * change under us; whatever our euid, so that root running a copy owned by
 * someone else (set-uid to them, or just built by them) is refused too.
 */
static int check_installation(void)
{
	_cleanup_close_ int fd = -EBADF;
	char path[PATH_MAX];
	struct stat st = { 0 };
	ssize_t n;
	int r;

	n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	if (n < 0)
		snprintf(path, sizeof(path), "/proc/self/exe");
	else
		path[n] = '\0';
	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC | O_NOCTTY);
	r = fd < 0 ? -errno : nook_check_root_owned(fd, S_IFREG, S_IWGRP | S_IWOTH, &st);
	if (fd >= 0 && (r == -EINVAL || r == -EPERM)) {
		log_err("refused (real uid %u): %s is installed unsafely (owner uid %u, mode %04o); "
			"it must be a root-owned file writable only by root: chown root %s; chmod 4755 %s",
			getuid(), path, st.st_uid, st.st_mode & 07777, path, path);
		return -EPERM;
	}
	if (r < 0) {
		log_err("refused (real uid %u): cannot check the installation of %s: %s", getuid(), path,
			strerror(-r));
		return -EPERM;
	}
	return 0;
}

/* A hostile argument, fit for one log line: at most 64 bytes, anything but
 * printable ASCII as '?'. */
static const char *printable(const char *s, char *buf, size_t size)
{
	size_t i = 0;

	for (; i < size - 1 && i < 64 && s[i]; i++) {
		char c = s[i];

		if (c < 0x20 || c >= 0x7f)
			c = '?';
		buf[i] = c;
	}
	buf[i] = '\0';
	return buf;
}

static int usage_error(const char *why)
{
	log_err("refused (real uid %u): %s", getuid(), why);
	fputs(usage, stderr);
	return 2;
}

/*
 * Checks argv against the documented forms only, before any of it is used,
 * and copies what passed: setproctitle() later reuses argv's memory.
 */
static int parse_args(int argc, char **argv, char ret_conf[static PATH_MAX],
		      char ret_user[static NOOK_USER_MAX + 1], enum verb *ret_verb)
{
	const char *conf = NOOK_CONF_DEFAULT_PATH;
	char buf[65];
	int i = 1;

	/* argc 0 (CVE-2021-4034) or too many: not one of our forms. */
	if (argc < 1 || argc > HELPER_ARGC_MAX || !argv[0])
		return usage_error("wrong number of arguments");
	for (int k = 0; k < argc; k++) {
		if (!argv[k] || strnlen(argv[k], PATH_MAX) >= PATH_MAX)
			return usage_error("argument too long");
	}
	if (argc > 2 && strcmp(argv[1], "--config") == 0) {
		conf = argv[2];
		i = 3;
		/* Read as root: only an absolute path, never one relative to a
		 * cwd the caller chose. (The file itself is then checked for
		 * owner and mode by the config loader.) */
		if (conf[0] != '/')
			return usage_error("--config needs an absolute path");
	}
	if (argc != i + 2 || (strcmp(argv[i], "open") != 0 && strcmp(argv[i], "keys") != 0))
		return usage_error("not 'open USER' or 'keys USER'");
	/* For keys, USER is what sshd got from the client (%u): as hostile
	 * as any argument, and validated the same way. */
	if (!nook_valid_user_name(argv[i + 1])) {
		log_err("refused (real uid %u): '%s' is not a valid user name", getuid(),
			printable(argv[i + 1], buf, sizeof(buf)));
		fputs(usage, stderr);
		return 2;
	}
	/* Both lengths were checked above. */
	snprintf(ret_conf, PATH_MAX, "%s", conf);
	snprintf(ret_user, NOOK_USER_MAX + 1, "%s", argv[i + 1]);
	*ret_verb = strcmp(argv[i], "keys") == 0 ? VERB_KEYS : VERB_OPEN;
	return 0;
}

int main(int argc, char **argv)
{
	char conf[PATH_MAX], user[NOOK_USER_MAX + 1];
	_cleanup_(nook_user_freep) struct nook_user u = { 0 };
	struct nook_session_info info;
	enum verb verb = VERB_OPEN;
	int pidfd, r;

	harden();
	nook_log_open("nook-helper", true);
	if (check_installation() < 0)
		return 1;
	/* Before any argument is even looked at: only root acts through us
	 * (pam_nook in sshd's monitor, login, su). */
	if (getuid() != 0) {
		log_err("refused (real uid %u): only root may use nook-helper", getuid());
		return 1;
	}
	/* Belt and braces (a copy owned by someone else, set-uid to them,
	 * was refused above): act only with euid 0. */
	if (geteuid() != 0) {
		log_err("refused (real uid %u): running with effective uid %u; nook-helper must be "
			"installed set-uid root",
			getuid(), geteuid());
		return 1;
	}
	nook_trace("helper", "start"); /* root only: nothing else appends */
	r = parse_args(argc, argv, conf, user, &verb);
	if (r != 0)
		return r;
	{
		/* clearenv() left environ NULL, which libbsd does not expect. */
		static char *no_env[] = { NULL };

		setproctitle_init(argc, argv, no_env);
	}
	if (verb == VERB_KEYS) {
		/* Not selected: print nothing and succeed, so that sshd's
		 * AuthorizedKeysFile alone decides for the user. Selected but
		 * unreadable: fail (sshd then takes no key from us). */
		r = nook_keys_selected(conf, user, &u);
		if (r <= 0)
			return r < 0 ? 1 : 0;
		return nook_keys_print(&u, stdout) < 0 ? 1 : 0;
	}
	/* pam_nook has just looked the user up and parsed the configuration
	 * too, and we do it again, on purpose: we are setuid root, and nothing
	 * our caller read may decide for us (its name service, its environment
	 * and memory are its own). The keeper is forked from us and inherits
	 * this one reading. */
	if (nook_user_load(conf, user, &u) < 0)
		return 1;
	nook_trace("helper", "user-loaded");
	pidfd = nook_pidfd_open(getppid());
	if (pidfd < 0) {
		log_err("pidfd_open of the caller: %s", strerror(-pidfd));
		return 1;
	}
	r = nook_ensure(&u, pidfd, NOOK_SPAWN_CALLER_EXITS, &info);
	if (r < 0)
		return 1;
	nook_trace("helper", "ensured");
	{
		/* For an admin running it by hand, and pam_nook's sign that
		 * the container is up. */
		char line[NOOK_PROTO_MAX];

		if (nook_info_format(&info, NOOK_INFO_INIT | NOOK_INFO_KEEPER | NOOK_INFO_CGROUP, line,
				     sizeof(line)) > 0)
			printf("%s\n", line);
		/* Now, not at exit: pam_nook goes on at this line (its
		 * newline), without waiting for our exit. */
		(void) fflush(stdout);
	}
	return 0;
}
