/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nookctl: the root-only admin CLI.
 *
 *   nookctl exec USER [--config F] -- CMD...   run CMD in USER's container
 *   nookctl list                               running containers
 *   nookctl status USER                        one container in detail
 *   nookctl stop USER                          stop it now
 *   nookctl clean [USER]                       remove what interrupted image
 *                                              creations left in image_dir
 *
 * Exit codes: 0 success; exec passes CMD's status through (128+N for a
 * signal), 125 when the container could not be entered, 126 when CMD cannot
 * be executed, 127 when it is not found; status exits 3 when USER has no
 * running container and 4 while its container is stopping; 1 other errors;
 * 2 usage errors.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bsd/unistd.h>

#include "cleanup.h"
#include "log.h"
#include "nook.h"
#include "trace.h"
#include "relay.h"

#define EXIT_USAGE 2
#define EXIT_NOT_RUNNING 3
#define EXIT_STOPPING 4
#define EXIT_NOOK 125
#define EXIT_CANNOT_EXEC 126
#define EXIT_NOT_FOUND 127

static const char usage_text[] =
	"usage: nookctl exec USER [--config FILE] -- CMD [ARG...]\n"
	"       nookctl list\n"
	"       nookctl status USER [--config FILE]\n"
	"       nookctl stop USER [--config FILE]\n"
	"       nookctl clean [USER] [--config FILE]\n";

static volatile sig_atomic_t child_pid;

static void forward(int sig)
{
	if (child_pid > 0)
		(void) kill(child_pid, sig);
}

static int usage(void)
{
	fputs(usage_text, stderr);
	return EXIT_USAGE;
}

static void fmt_bytes(uint64_t v, char *buf, size_t size)
{
	static const char units[] = "BKMGT";
	double d = (double) v;
	size_t u = 0;

	while (d >= 1024 && u + 1 < sizeof(units) - 1) {
		d /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%" PRIu64 "B", v);
	else
		snprintf(buf, size, "%.1f%c", d, units[u]);
}

static void fmt_uptime(uint64_t started_usec, char *buf, size_t size)
{
	struct timespec ts;
	uint64_t s;

	clock_gettime(CLOCK_REALTIME, &ts);
	s = (uint64_t) ts.tv_sec > started_usec / 1000000 ? (uint64_t) ts.tv_sec - started_usec / 1000000 : 0;
	if (s >= 3600)
		snprintf(buf, size, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s / 60 % 60);
	else if (s >= 60)
		snprintf(buf, size, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else
		snprintf(buf, size, "%" PRIu64 "s", s);
}

/* Waits for PID, retrying on EINTR; returns its status as an exit code. */
static int wait_exit_code(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return EXIT_NOOK;
	}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* The command, in the container as the user; never returns. */
__attribute__((noreturn)) static void run_command(const struct nook_user *u, const struct nook_relay *relay,
						  char **argv)
{
	const char *term = getenv("TERM"), *lang = getenv("LANG");
	char *env[8];
	size_t n = 0;

	signal(SIGINT, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	if (nook_relay_ctty(relay) < 0) {
		fprintf(stderr, "nookctl: cannot make the new pty the command's terminal: %s\n",
			strerror(errno));
		_exit(EXIT_NOOK);
	}
	if (nook_become_user(u) < 0)
		_exit(EXIT_NOOK);
	if (asprintf(&env[n++], "HOME=%s", u->home) < 0 || asprintf(&env[n++], "USER=%s", u->name) < 0 ||
	    asprintf(&env[n++], "LOGNAME=%s", u->name) < 0 || asprintf(&env[n++], "SHELL=%s", u->shell) < 0)
		_exit(EXIT_NOOK);
	env[n++] = "PATH=/usr/local/bin:/usr/bin:/bin";
	/* execvpe() searches the caller's PATH, not ENV's: root's PATH has
	 * no business inside the user's container. */
	if (setenv("PATH", env[n - 1] + 5, 1) < 0)
		_exit(EXIT_NOOK);
	if (term && asprintf(&env[n++], "TERM=%s", term) < 0)
		_exit(EXIT_NOOK);
	if (lang && asprintf(&env[n++], "LANG=%s", lang) < 0)
		_exit(EXIT_NOOK);
	env[n] = NULL;
	if (chdir(u->home) < 0 && chdir("/") < 0)
		_exit(EXIT_NOOK);
	/* Only stdio reaches the command (CVE-2024-21626 class). */
	(void) close_range(3, ~0U, 0);
	execvpe(argv[0], argv, env);
	fprintf(stderr, "nookctl: %s: %s\n", argv[0], strerror(errno));
	_exit(errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC);
}

/*
 * nookctl (host namespaces, registered as the session)
 *   `- joiner: cgroup + setns into the container, then forks because
 *      setns(CLONE_NEWPID) only moves children into the pid namespace
 *        `- the command, as the user
 * nookctl itself never enters: it stays a host process whose exit tells
 * the keeper the session is over, and tools that inspect /proc/self at
 * exit (LeakSanitizer in SANITIZE builds) keep working.
 */
static int cmd_exec(const char *conf, const char *user, char **argv)
{
	_cleanup_(nook_user_freep) struct nook_user u = { 0 };
	struct nook_relay relay = { 0 };
	_cleanup_close_ int sig_fd = -EBADF;
	struct nook_session_info info;
	sigset_t mask, old;
	int self, r;
	pid_t pid;

	if (nook_user_load(conf, user, &u) < 0)
		return EXIT_NOOK;
	self = nook_pidfd_open(getpid());
	if (self < 0) {
		log_err("pidfd_open: %s", strerror(-self));
		return EXIT_NOOK;
	}
	r = nook_ensure(&u, self, NOOK_SPAWN_DOUBLE_FORK, &info);
	(void) close(self);
	if (r < 0) {
		log_err("cannot start the container of '%s'", user);
		return EXIT_NOOK;
	}

	/* Root's terminal stays here (see relay.c). */
	r = nook_relay_setup(u.uid, info.init_pidfd, &relay);
	if (r == -ENOTRECOVERABLE) {
		/* In the container's mount tree as host root: go no further. */
		log_err("cannot return from the container's mount namespace; giving up");
		_exit(EXIT_NOOK);
	}
	if (r < 0) {
		log_err("cannot set up a terminal for the command: %s", strerror(-r));
		return EXIT_NOOK;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGWINCH);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	if (relay.active) {
		sigprocmask(SIG_BLOCK, &mask, &old);
		sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
		if (sig_fd < 0) {
			log_err("signalfd: %s", strerror(errno));
			nook_relay_close(&relay);
			return EXIT_NOOK;
		}
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		log_err("fork: %s", strerror(errno));
		nook_relay_close(&relay);
		return EXIT_NOOK;
	}
	if (pid == 0) {
		if (relay.active) {
			(void) close(sig_fd);
			sigprocmask(SIG_SETMASK, &old, NULL);
			if (nook_relay_child(&relay) < 0)
				_exit(EXIT_NOOK);
		}
		r = nook_join(&info);
		if (r < 0) {
			log_err("cannot enter the container of '%s': %s", user, strerror(-r));
			_exit(EXIT_NOOK);
		}
		(void) close(info.init_pidfd);
		nook_trace_close(true); /* inside now: no host file */
		pid = fork();
		if (pid < 0)
			_exit(EXIT_NOOK);
		if (pid == 0)
			run_command(&u, &relay, argv);
		child_pid = pid;
		signal(SIGTERM, forward);
		signal(SIGHUP, forward);
		_exit(wait_exit_code(pid));
	}
	(void) close(info.init_pidfd);
	/* A terminal delivers ^C and ^\ to the command directly (in raw mode
	 * they are bytes for the new pty): nookctl waits for its status. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	if (relay.active)
		return nook_relay_run(&relay, pid, sig_fd);
	child_pid = pid;
	signal(SIGTERM, forward);
	signal(SIGHUP, forward);
	return wait_exit_code(pid);
}

/*
 * For status and stop: USER with its settings, or, when the configuration
 * (or the user) cannot be loaded, only its name. A running container is
 * described by its keeper and its runtime state, so root can still see and
 * stop it while the configuration is being fixed.
 */
static int load_or_name(const char *conf, const char *user, struct nook_user *u)
{
	if (nook_user_load(conf, user, u) >= 0)
		return 0;
	if (!nook_valid_user_name(user))
		return -EINVAL;
	memset(u, 0, sizeof(*u));
	snprintf(u->name, sizeof(u->name), "%s", user);
	log_warn("working from the runtime state in " NOOK_RUN_DIR
		 "/%s alone (the error above "
		 "concerns the next start only)",
		 user);
	return 0;
}

static int query(const char *user, struct nook_session_info *info)
{
	_cleanup_close_ int rundir = nook_rundir_open(user, false);
	_cleanup_close_ int sock = -EBADF;

	if (rundir < 0)
		return rundir;
	sock = nook_ctl_connect(rundir);
	if (sock < 0)
		return sock;
	return nook_ctl_status(sock, info);
}

static int cmd_list(void)
{
	_cleanup_closedir_ DIR *d = opendir(NOOK_RUN_DIR);
	struct dirent *e;

	printf("%-20s %8s %8s %9s %s\n", "USER", "INIT", "SESSIONS", "UPTIME", "LOOP");
	if (!d)
		return errno == ENOENT ? 0 : 1;
	while ((e = readdir(d))) {
		struct nook_session_info info;
		char up[32];

		if (!nook_valid_user_name(e->d_name))
			continue;
		if (query(e->d_name, &info) < 0) {
			_cleanup_close_ int dir = nook_rundir_open(e->d_name, false);
			struct nook_keeper_rec rec;

			/* A keeper that does not answer: stopping, or its socket
			 * was removed (nookctl status USER brings it back). */
			if (dir >= 0 && nook_keeper_find(dir, &rec, NULL) > 0)
				printf("%-20s %8s %8s %9s %s\n", e->d_name, "-", "-", "-",
				       rec.stopping ? "stopping" : "not answering");
			continue;
		}
		fmt_uptime(info.started_usec, up, sizeof(up));
		printf("%-20s %8d %8u %9s %s\n", e->d_name, info.init_pid, info.sessions, up,
		       *info.loop ? info.loop : "-");
	}
	return 0;
}

static int cmd_status(const char *conf, const char *user)
{
	struct nook_session_info info;
	struct nook_keeper_rec rec;
	struct nook_cgroup cg;
	struct nook_cg_stats st = { 0 };
	_cleanup_(nook_user_freep) struct nook_user u = { 0 };
	struct stat sb;
	char up[32], a[32], b[32];
	int r;

	if (load_or_name(conf, user, &u) < 0)
		return 1;
	/* No answer is not "not running" while a keeper lives: it says so
	 * only once the container is gone. */
	r = nook_status(&u, &info, &rec);
	if (r < 0) {
		log_err("cannot get the status of '%s': %s", user, strerror(-r));
		return 1;
	}
	if (r == NOOK_STOPPING) {
		printf("%s: stopping (keeper %d)\n", user, rec.pid);
		return EXIT_STOPPING;
	}
	if (r == NOOK_NOT_RUNNING) {
		printf("%s: not running\n", user);
		return EXIT_NOT_RUNNING;
	}
	fmt_uptime(info.started_usec, up, sizeof(up));
	printf("%s: running\n", user);
	printf("  init pid:   %d (keeper %d)\n", info.init_pid, info.keeper_pid);
	printf("  uptime:     %s\n", up);
	printf("  sessions:   %u\n", info.sessions);
	if (nook_cgroup_deserialize(info.cgroup, &cg) >= 0 && nook_cgroup_stats(&cg, &st) >= 0) {
		fmt_bytes(st.memory_current, a, sizeof(a));
		if (st.memory_max)
			fmt_bytes(st.memory_max, b, sizeof(b));
		printf("  memory:     %s of %s\n", a, st.memory_max ? b : "unlimited");
		if (st.pids_max)
			printf("  pids:       %" PRIu64 " of %" PRIu64 "\n", st.pids_current, st.pids_max);
		else
			printf("  pids:       %" PRIu64 " of unlimited\n", st.pids_current);
		printf("  cgroup:     %s/%s\n", cg.base[0], cg.user[0]);
	}
	{
		char path[1024] = "";
		_cleanup_close_ int dir = nook_rundir_open(user, false);
		struct nook_keeper_rec kr;

		/* The image the keeper uses; the configured one otherwise. */
		if (dir >= 0 && nook_keeper_find(dir, &kr, NULL) > 0)
			snprintf(path, sizeof(path), "%s", kr.image);
		else if (u.set.image_dir)
			snprintf(path, sizeof(path), "%s/%s.img", u.set.image_dir, user);
		if (*path && lstat(path, &sb) == 0) {
			fmt_bytes((uint64_t) sb.st_blocks * 512, a, sizeof(a));
			fmt_bytes((uint64_t) sb.st_size, b, sizeof(b));
			printf("  image:      %s, %s used of %s (on %s)\n", path, a, b,
			       *info.loop ? info.loop : "-");
		}
	}
	{
		/* One line the keeper keeps up to date (network.c). */
		_cleanup_close_ int dir = nook_rundir_open(user, false);
		char net[512];

		if (dir >= 0 && nook_read_file_at(dir, "network", net, sizeof(net)) > 0) {
			net[strcspn(net, "\n")] = '\0';
			printf("  network:    %s\n", net);
		}
	}
	return 0;
}

static int cmd_stop(const char *conf, const char *user)
{
	_cleanup_(nook_user_freep) struct nook_user u = { 0 };
	int r;

	if (load_or_name(conf, user, &u) < 0)
		return 1;
	r = nook_stop(&u);
	if (r < 0) {
		log_err("cannot stop the container of '%s': %s", user, strerror(-r));
		return 1;
	}
	printf("%s: %s\n", user, r > 0 ? "stopped" : "not running");
	return 0;
}

/* ---- clean: leftovers of interrupted image creations ---- */

struct clean_ctx {
	const char *dir;
	unsigned removed;
	bool failed;
};

static void clean_report(const char *name, const char *kind, int error, void *data)
{
	struct clean_ctx *c = data;

	if (error < 0) {
		log_err("cannot remove %s/%s: %s", c->dir, name, strerror(-error));
		c->failed = true;
		return;
	}
	printf("removed %s/%s (%s)\n", c->dir, name, kind);
	c->removed++;
}

/* USER's leftovers in the image_dir DFD, under USER's lock: never while a
 * start (which may be creating the image) or a stop is under way. */
static void clean_user(int dfd, const char *user, struct clean_ctx *c)
{
	_cleanup_close_ int rundir = -EBADF, lock = -EBADF;

	rundir = nook_rundir_open(user, true);
	if (rundir < 0) {
		log_err("cannot open " NOOK_RUN_DIR "/%s: %s", user, strerror(-rundir));
		c->failed = true;
		return;
	}
	lock = nook_trylock_user(rundir);
	if (lock == -EWOULDBLOCK) {
		pid_t pid;
		char cmd[256];

		if (nook_lock_holder(rundir, &pid, cmd, sizeof(cmd)) > 0)
			log_err("not removing the leftovers of '%s' in %s: its lock (" NOOK_RUN_DIR
				"/%s/lock) is "
				"held by pid %d (%s), a start or stop of its container (which may be creating its "
				"image); retry when it is done",
				user, c->dir, user, pid,
				*cmd ? cmd : "exited; a process it started holds the lock");
		else
			log_err("not removing the leftovers of '%s' in %s: its lock (" NOOK_RUN_DIR
				"/%s/lock) is "
				"held, a start or stop of its container; retry when it is done",
				user, c->dir, user);
		c->failed = true;
		return;
	}
	if (lock < 0) {
		log_err("cannot lock " NOOK_RUN_DIR "/%s/lock: %s", user, strerror(-lock));
		c->failed = true;
		return;
	}
	(void) nook_leftovers_remove(dfd, user, clean_report, c);
}

/*
 * Every image_dir the configuration names is searched, for USER's leftover
 * names or (without USER) for any user's: a user deleted since, or one
 * whose section names another image_dir, is covered too. Only names of
 * leftovers are ever removed, never an image (USER.img).
 */
static int cmd_clean(const char *conf_path, const char *user)
{
	struct nook_conf *conf = NULL;
	_cleanup_free_ char *err = NULL;
	_cleanup_strv_ char **dirs = NULL;
	unsigned removed = 0;
	bool failed = false;
	int r;

	if (user && !nook_valid_user_name(user)) {
		log_err("'%s' is not a valid user name", user);
		return EXIT_USAGE;
	}
	r = nook_conf_load(conf_path, &conf, &err);
	if (r < 0) {
		log_err("%s", err ? err : strerror(-r));
		return 1;
	}
	r = nook_conf_image_dirs(conf, &dirs);
	nook_conf_free(conf);
	if (r < 0) {
		log_err("cannot list the image_dirs of %s: %s", conf_path, strerror(-r));
		return 1;
	}
	for (char **d = dirs; *d; d++) {
		_cleanup_close_ int dfd = nook_open_nofollow(*d, O_RDONLY | O_DIRECTORY, 0);
		struct clean_ctx c = { .dir = *d };

		if (dfd == -ENOENT)
			continue;
		if (dfd < 0) {
			log_err("image_dir %s: %s", *d, strerror(-dfd));
			failed = true;
			continue;
		}
		if (user) {
			clean_user(dfd, user, &c);
		} else {
			_cleanup_closedir_ DIR *dir = NULL;
			int dup_fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
			struct dirent *e;
			char(*seen)[NOOK_USER_MAX + 1] = NULL;
			size_t n_seen = 0;

			if (dup_fd < 0 || !(dir = fdopendir(dup_fd))) {
				log_err("image_dir %s: %s", *d, strerror(errno));
				if (dup_fd >= 0)
					(void) close(dup_fd);
				failed = true;
				continue;
			}
			/* Users first, then their removal: never remove while
			 * reading the directory. */
			while ((e = readdir(dir))) {
				char name[NOOK_USER_MAX + 1];
				bool dup = false;
				void *more;

				if (nook_leftover_user(e->d_name, name, sizeof(name)) <= 0)
					continue;
				for (size_t i = 0; i < n_seen && !dup; i++)
					dup = strcmp(seen[i], name) == 0;
				if (dup)
					continue;
				more = realloc(seen, (n_seen + 1) * sizeof(*seen));
				if (!more) {
					log_err("out of memory");
					failed = true;
					break;
				}
				seen = more;
				snprintf(seen[n_seen++], sizeof(seen[0]), "%s", name);
			}
			for (size_t i = 0; i < n_seen; i++)
				clean_user(dfd, seen[i], &c);
			free(seen);
		}
		removed += c.removed;
		failed |= c.failed;
	}
	if (!removed && !failed)
		printf("no leftovers of an interrupted image creation%s%s\n", user ? " for " : "",
		       user ? user : "");
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *conf = NOOK_CONF_DEFAULT_PATH, *cmd, *user = NULL;
	char **rest = NULL;

	setproctitle_init(argc, argv, environ);
	nook_log_open("nookctl", true);
	if (argc < 2)
		return usage();
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (getuid() != 0 || geteuid() != 0) {
		fprintf(stderr, "nookctl: must be run as root\n");
		return 1;
	}
	umask(022);
	cmd = argv[1];
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			rest = argv + i + 1;
			break;
		} else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			conf = argv[++i];
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			conf = argv[i] + 9;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "nookctl: unknown option '%s'\n", argv[i]);
			return usage();
		} else if (!user) {
			user = argv[i];
		} else {
			fprintf(stderr, "nookctl: unexpected argument '%s' (put the command after --)\n",
				argv[i]);
			return usage();
		}
	}
	if (strcmp(cmd, "list") == 0)
		return user ? usage() : cmd_list();
	if (strcmp(cmd, "clean") == 0)
		return rest ? usage() : cmd_clean(conf, user);
	if (!user) {
		fprintf(stderr, "nookctl: %s needs a USER\n", cmd);
		return usage();
	}
	if (strcmp(cmd, "exec") == 0) {
		if (!rest || !rest[0]) {
			fprintf(stderr, "nookctl: exec needs a command after --\n");
			return usage();
		}
		return cmd_exec(conf, user, rest);
	}
	if (rest)
		return usage();
	if (strcmp(cmd, "status") == 0)
		return cmd_status(conf, user);
	if (strcmp(cmd, "stop") == 0)
		return cmd_stop(conf, user);
	fprintf(stderr, "nookctl: unknown command '%s'\n", cmd);
	return usage();
}
