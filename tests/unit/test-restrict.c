/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for common/restrict.c: the restricted profile, applied for real.
 * Every check that applies the profile runs in a forked child (tap_fork), so
 * a filter or a dropped capability cannot poison the next check. A child
 * returns 0 for success (or a bit mask of failed sub-checks) and explains
 * failures with "# " lines; the parent prints the TAP lines.
 *
 * Needs root (CAP_SETPCAP to empty the bounding set); skips otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "restrict.h"
#include "tap.h"

#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#define X32_SYSCALL_BIT 0x40000000UL
#define I386_NR_GETPID 20
#define NOBODY 65534
#define CAP_SETPCAP_BIT 8
#define TIMEOUT 20
#define NONEXISTENT "/nonexistent-nook-test"

/* Children leave with _exit(): flush every note. */
static __attribute__((format(printf, 1, 2))) void note(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static int restrict_self(void)
{
	int r = nook_restrict_apply(NOOK_PROFILE_RESTRICTED);

	if (r < 0)
		note("nook_restrict_apply: %s", strerror(-r));
	return r;
}

/* A numeric field of /proc/self/status ("CapBnd", "Seccomp"). */
static int status_field(const char *key, int base, unsigned long long *ret)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/status", "re");
	_cleanup_free_ char *line = NULL;
	size_t n = 0, len = strlen(key);

	if (!f)
		return -errno;
	while (getline(&line, &n, f) >= 0) {
		if (strncmp(line, key, len) == 0 && line[len] == ':') {
			char *end;

			errno = 0;
			*ret = strtoull(line + len + 1, &end, base);
			return errno ? -errno : 0;
		}
	}
	return -ENOENT;
}

static int open_pty(void)
{
	int fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
		note("posix_openpt: %m");
	return fd;
}

/* Reaps a child a raw clone made, or leaves in it. */
static long clone_reap(long rc)
{
	int saved = errno;

	if (rc == 0)
		_exit(0);
	if (rc > 0)
		(void) waitpid((pid_t) rc, NULL, 0);
	errno = saved;
	return rc;
}

/* ---- calls the profile must refuse --------------------------------------- */

static long clone_flags(unsigned long flags)
{
	/* x86_64 order: flags, stack, parent_tid, child_tid, tls. */
	return clone_reap(syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL));
}

/* clang-format off */
static long call_clone_newuser(void) { return clone_flags(CLONE_NEWUSER); }
static long call_clone_newns(void) { return clone_flags(CLONE_NEWNS); }
static long call_clone_newnet(void) { return clone_flags(CLONE_NEWNET); }

static long call_clone3(void)
{
	/* struct clone_args, CLONE_ARGS_SIZE_VER0 */
	uint64_t args[8] = { [4] = SIGCHLD };

	return clone_reap(syscall(SYS_clone3, args, sizeof(args)));
}

static long call_unshare(void) { return unshare(CLONE_NEWUSER); }
static long call_setns(void) { return setns(-1, 0); }
static long call_mount(void) { return mount("none", NONEXISTENT, "tmpfs", 0, NULL); }
static long call_umount2(void) { return umount2(NONEXISTENT, 0); }
static long call_fsopen(void) { return syscall(SYS_fsopen, "nook-invalid", 0); }
static long call_open_tree(void) { return syscall(SYS_open_tree, AT_FDCWD, NONEXISTENT, 0); }
static long call_pivot_root(void) { return syscall(SYS_pivot_root, NONEXISTENT, NONEXISTENT); }
static long call_chroot(void) { return chroot(NONEXISTENT); }
/* KEYCTL_GET_KEYRING_ID of KEY_SPEC_SESSION_KEYRING, without creating it. */
static long call_keyctl(void) { return syscall(SYS_keyctl, 0, -3, 0); }
static long call_add_key(void) { return syscall(SYS_add_key, "nook-invalid", "x", NULL, 0, -3); }
static long call_bpf(void) { return syscall(SYS_bpf, -1, NULL, 0); }
static long call_userfaultfd(void) { return syscall(SYS_userfaultfd, 0); }
static long call_perf_event_open(void) { return syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0); }
static long call_io_uring_setup(void) { return syscall(SYS_io_uring_setup, 0, NULL); }
static long call_open_by_handle_at(void) { return syscall(SYS_open_by_handle_at, -1, NULL, 0); }
static long call_name_to_handle_at(void)
{
	return syscall(SYS_name_to_handle_at, AT_FDCWD, "/", NULL, NULL, 0);
}
static long call_init_module(void) { return syscall(SYS_init_module, NULL, 0, ""); }
static long call_finit_module(void) { return syscall(SYS_finit_module, -1, "", 0); }
/* Invalid flags: even a broken filter must not unload a kexec image. */
static long call_kexec_load(void) { return syscall(SYS_kexec_load, 0, 0, NULL, 0xdead0000UL); }
/* Invalid magic: even a broken filter must not reboot the machine. */
static long call_reboot(void) { return syscall(SYS_reboot, 0, 0, 0, NULL); }
/* SYSLOG_ACTION_SIZE_BUFFER */
static long call_syslog(void) { return syscall(SYS_syslog, 10, NULL, 0); }
static long call_acct(void) { return syscall(SYS_acct, NONEXISTENT); }
static long call_swapon(void) { return syscall(SYS_swapon, NONEXISTENT, 0); }
static long call_iopl(void) { return syscall(SYS_iopl, 0); }
static long call_modify_ldt(void)
{
	char buf[8];

	return syscall(SYS_modify_ldt, 0, buf, 0);
}
/* ADDR_NO_RANDOMIZE */
static long call_personality_norandom(void) { return syscall(SYS_personality, 0x0040000UL); }
/* UNAME26: Docker allows it, we do not. */
static long call_personality_uname26(void) { return syscall(SYS_personality, 0x0020000UL); }
static long call_socket_vsock(void) { return socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0); }
/* The kernel truncates the family to an int: the high bits must not help. */
static long call_socket_vsock_high(void)
{
	return syscall(SYS_socket, (1UL << 32) | AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

static long pty_ioctl(unsigned long request)
{
	_cleanup_close_ int fd = open_pty();
	char c = ' ';

	if (fd < 0)
		return -2;
	return syscall(SYS_ioctl, fd, request, &c);
}

static long call_tiocsti(void) { return pty_ioctl(TIOCSTI); }
/* ioctl's cmd is an unsigned int: the kernel drops the high bits. */
static long call_tiocsti_high(void) { return pty_ioctl((1UL << 32) | TIOCSTI); }
static long call_tiocsti_high2(void) { return pty_ioctl(0xffffffff00000000UL | TIOCSTI); }
static long call_tioclinux(void) { return pty_ioctl(TIOCLINUX); }
static long call_tioclinux_high(void) { return pty_ioctl((1UL << 40) | TIOCLINUX); }

static long call_getppid(void) { return getppid(); }
/* clang-format on */

struct refusal {
	const char *what;
	long (*call)(void);
	int want; /* errno */
};

static const struct refusal refusals[] = {
	{ "unshare(CLONE_NEWUSER)", call_unshare, EPERM },
	{ "clone(CLONE_NEWUSER)", call_clone_newuser, EPERM },
	{ "clone(CLONE_NEWNS)", call_clone_newns, EPERM },
	{ "clone(CLONE_NEWNET)", call_clone_newnet, EPERM },
	{ "clone3() is ENOSYS", call_clone3, ENOSYS },
	{ "setns", call_setns, EPERM },
	{ "mount", call_mount, EPERM },
	{ "umount2", call_umount2, EPERM },
	{ "fsopen", call_fsopen, EPERM },
	{ "open_tree", call_open_tree, EPERM },
	{ "pivot_root", call_pivot_root, EPERM },
	{ "chroot", call_chroot, EPERM },
	{ "keyctl", call_keyctl, EPERM },
	{ "add_key", call_add_key, EPERM },
	{ "bpf", call_bpf, EPERM },
	{ "userfaultfd", call_userfaultfd, EPERM },
	{ "perf_event_open", call_perf_event_open, EPERM },
	{ "io_uring_setup", call_io_uring_setup, EPERM },
	{ "open_by_handle_at", call_open_by_handle_at, EPERM },
	{ "name_to_handle_at", call_name_to_handle_at, EPERM },
	{ "init_module", call_init_module, EPERM },
	{ "finit_module", call_finit_module, EPERM },
	{ "kexec_load", call_kexec_load, EPERM },
	{ "reboot", call_reboot, EPERM },
	{ "syslog", call_syslog, EPERM },
	{ "acct", call_acct, EPERM },
	{ "swapon", call_swapon, EPERM },
	{ "iopl", call_iopl, EPERM },
	{ "modify_ldt", call_modify_ldt, EPERM },
	{ "personality(ADDR_NO_RANDOMIZE)", call_personality_norandom, EPERM },
	{ "personality(UNAME26)", call_personality_uname26, EPERM },
	{ "socket(AF_VSOCK)", call_socket_vsock, EPERM },
	{ "socket(AF_VSOCK | 1 << 32)", call_socket_vsock_high, EPERM },
	{ "ioctl(pty, TIOCSTI)", call_tiocsti, EPERM },
	{ "ioctl(pty, TIOCSTI | 1 << 32)", call_tiocsti_high, EPERM },
	{ "ioctl(pty, TIOCSTI | 0xffffffff << 32)", call_tiocsti_high2, EPERM },
	{ "ioctl(pty, TIOCLINUX)", call_tioclinux, EPERM },
	{ "ioctl(pty, TIOCLINUX | 1 << 40)", call_tioclinux_high, EPERM },
};

/* Runs REFUSAL->call, under the profile when APPLY; 0 if it was refused. */
static int check_refused(const struct refusal *t, bool apply)
{
	long rc;
	int err;

	if (apply && restrict_self() < 0)
		return 1;
	errno = 0;
	rc = t->call();
	err = errno;
	if (rc == -1 && err == t->want)
		return 0;
	note("%s: returned %ld, errno %d (%s); want -1, %s", t->what, rc, err, strerror(err),
	     strerror(t->want));
	return 1;
}

static int child_refused(void *arg)
{
	return check_refused(arg, true);
}

static int child_refused_unfiltered(void *arg)
{
	return check_refused(arg, false);
}

/* ---- calls the profile must allow ---------------------------------------- */

static int wait_exit0(pid_t pid)
{
	int status;

	if (pid < 0)
		return -errno;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECHILD;
}

static int allow_exec_true(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		execl("/bin/true", "true", (char *) NULL);
		_exit(127);
	}
	return wait_exit0(pid);
}

static int allow_fork(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(getpid() > 1 ? 0 : 1);
	return wait_exit0(pid);
}

static void *thread_fn(void *arg)
{
	return arg;
}

/* glibc creates threads with clone3() and falls back to clone() on ENOSYS. */
static int allow_pthread(void)
{
	static int token;
	pthread_t t;
	void *ret = NULL;
	int r = pthread_create(&t, NULL, thread_fn, &token);

	if (r != 0)
		return -r;
	r = pthread_join(t, &ret);
	if (r != 0)
		return -r;
	return ret == &token ? 0 : -EIO;
}

static int socket_ok(int family, int type, int protocol)
{
	_cleanup_close_ int fd = socket(family, type | SOCK_CLOEXEC, protocol);

	return fd < 0 ? -errno : 0;
}

/* clang-format off */
static int allow_socket_inet(void) { return socket_ok(AF_INET, SOCK_STREAM, 0); }
static int allow_socket_unix(void) { return socket_ok(AF_UNIX, SOCK_STREAM, 0); }
static int allow_socket_netlink(void) { return socket_ok(AF_NETLINK, SOCK_RAW, 0); }
/* clang-format on */

static int allow_socket_inet6(void)
{
	int r = socket_ok(AF_INET6, SOCK_DGRAM, 0);

	/* A kernel without IPv6 answers EAFNOSUPPORT: that is not the filter. */
	return r == -EAFNOSUPPORT ? 0 : r;
}

static int allow_socketpair(void)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	(void) close(sv[0]);
	(void) close(sv[1]);
	return 0;
}

static int allow_openat(void)
{
	_cleanup_close_ int fd = openat(AT_FDCWD, "/proc/self/status", O_RDONLY | O_CLOEXEC);

	return fd < 0 ? -errno : 0;
}

static int allow_pipe(void)
{
	int p[2];
	char c = 0;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	if (write(p[1], "x", 1) != 1 || read(p[0], &c, 1) != 1 || c != 'x')
		c = 0;
	(void) close(p[0]);
	(void) close(p[1]);
	return c == 'x' ? 0 : -EIO;
}

static int allow_getpid(void)
{
	return getpid() == (pid_t) syscall(SYS_getpid) && getpid() > 0 ? 0 : -EIO;
}

static int allow_tiocgwinsz(void)
{
	_cleanup_close_ int fd = open_pty();
	struct winsize ws;

	if (fd < 0)
		return -EIO;
	return ioctl(fd, TIOCGWINSZ, &ws) < 0 ? -errno : 0;
}

static int allow_personality(void)
{
	/* The query, then PER_LINUX32 (`linux32`) and back. */
	if (personality(0xffffffff) < 0 || personality(PER_LINUX32) < 0 || personality(PER_LINUX) < 0)
		return -errno;
	return 0;
}

/* gdb and strace inside the container: PTRACE_TRACEME from a child. */
static int allow_ptrace(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(ptrace(PTRACE_TRACEME, 0, NULL, NULL) == 0 ? 0 : 1);
	return wait_exit0(pid);
}

static int allow_prctl(void)
{
	return prctl(PR_SET_NAME, "nook-test", 0, 0, 0) < 0 ? -errno : 0;
}

/* What sshd does after the profile: the drop to the user. */
static int allow_setres(void)
{
	if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
	    setresuid(NOBODY, NOBODY, NOBODY) < 0)
		return -errno;
	return 0;
}

struct allowance {
	const char *what;
	int (*call)(void);
};

static const struct allowance allowances[] = {
	{ "fork + exec /bin/true", allow_exec_true },
	{ "fork (clone without namespace flags)", allow_fork },
	{ "pthread_create (clone3 falls back to clone)", allow_pthread },
	{ "socket(AF_INET)", allow_socket_inet },
	{ "socket(AF_INET6)", allow_socket_inet6 },
	{ "socket(AF_UNIX)", allow_socket_unix },
	{ "socket(AF_NETLINK)", allow_socket_netlink },
	{ "socketpair", allow_socketpair },
	{ "openat", allow_openat },
	{ "pipe2, write, read", allow_pipe },
	{ "getpid", allow_getpid },
	{ "ioctl(pty, TIOCGWINSZ)", allow_tiocgwinsz },
	{ "personality query, PER_LINUX32, PER_LINUX", allow_personality },
	{ "ptrace(PTRACE_TRACEME)", allow_ptrace },
	{ "prctl(PR_SET_NAME)", allow_prctl },
	{ "setgroups, setresgid, setresuid to nobody", allow_setres },
};

static int child_allowed(void *arg)
{
	const struct allowance *t = arg;
	int r;

	if (restrict_self() < 0)
		return 1;
	r = t->call();
	if (r == 0)
		return 0;
	note("%s: %s", t->what, strerror(-r));
	return 1;
}

/* ---- the state the profile leaves ---------------------------------------- */

static const struct {
	const char *key;
	int base;
	unsigned long long want;
} status_want[] = {
	{ "NoNewPrivs", 10, 1 }, { "CapBnd", 16, 0 },  { "CapAmb", 16, 0 },
	{ "CapInh", 16, 0 },     { "Seccomp", 10, 2 },
};

/* Returns a bit mask of the status_want[] fields that are wrong. */
static int check_status(void)
{
	int failed = 0;

	for (size_t i = 0; i < ELEMENTSOF(status_want); i++) {
		unsigned long long v = 0;
		int r = status_field(status_want[i].key, status_want[i].base, &v);

		if (r < 0 || v != status_want[i].want) {
			note("%s: %llx (%s), want %llx", status_want[i].key, v, r < 0 ? strerror(-r) : "read",
			     status_want[i].want);
			failed |= 1 << i;
		}
	}
	return failed;
}

static int child_apply(void *arg)
{
	(void) arg;
	return restrict_self() < 0 ? 1 : 0;
}

static int child_status(void *arg)
{
	(void) arg;
	if (restrict_self() < 0)
		return 0xff;
	return check_status();
}

/* Bits: 0 the drop failed, 1 capabilities left, 2 root regained. */
static int child_drop(void *arg)
{
	unsigned long long eff = 1, prm = 1;
	int failed = 0;

	(void) arg;
	if (restrict_self() < 0 || allow_setres() < 0)
		return 7;
	if (status_field("CapEff", 16, &eff) < 0 || status_field("CapPrm", 16, &prm) < 0 || eff != 0 ||
	    prm != 0) {
		note("CapEff %llx, CapPrm %llx", eff, prm);
		failed |= 2;
	}
	if (setuid(0) == 0 || setresuid(0, 0, 0) == 0 || setresgid(0, 0, 0) == 0 || getuid() == 0 ||
	    geteuid() == 0) {
		note("regained root: uid %d, euid %d", (int) getuid(), (int) geteuid());
		failed |= 4;
	}
	return failed;
}

/* Applying twice (a nested nookctl exec) is harmless, also as the user. */
static int child_twice(void *arg)
{
	int r;

	(void) arg;
	if (restrict_self() < 0)
		return 1;
	r = nook_restrict_apply(NOOK_PROFILE_RESTRICTED);
	if (r < 0) {
		note("second apply, as root: %s", strerror(-r));
		return 1;
	}
	if (allow_setres() < 0) {
		note("setresuid: %m");
		return 1;
	}
	r = nook_restrict_apply(NOOK_PROFILE_RESTRICTED);
	if (r < 0) {
		note("third apply, as nobody: %s", strerror(-r));
		return 1;
	}
	return check_status() == 0 && allow_getpid() == 0 ? 0 : 1;
}

static int child_bad_profile(void *arg)
{
	(void) arg;
	return nook_restrict_apply((enum nook_profile) 42) == -EINVAL &&
			       nook_seccomp_load((enum nook_profile) 42) == -EINVAL
		       ? 0
		       : 1;
}

/* ---- foreign ABIs -------------------------------------------------------- */

static long int80_getpid(void)
{
	long ret = I386_NR_GETPID;

	/* Kernels before 4.17 clobber r8-r11 on int $0x80. */
	__asm__ volatile("int $0x80" : "+a"(ret) : : "r8", "r9", "r10", "r11", "memory", "cc");
	return ret;
}

/*
 * Without IA32 emulation int $0x80 raises SIGSEGV: die of it quietly, with
 * no core and without a sanitizer's report.
 */
static void no_core(void)
{
	struct rlimit rl = { 0, 0 };

	(void) setrlimit(RLIMIT_CORE, &rl);
	(void) signal(SIGSEGV, SIG_DFL);
}

static int child_i386_unfiltered(void *arg)
{
	(void) arg;
	no_core();
	return int80_getpid() == getpid() ? 0 : 1;
}

static int child_i386(void *arg)
{
	long r;

	(void) arg;
	no_core();
	if (restrict_self() < 0)
		return 2;
	r = int80_getpid();
	if (r == getpid()) {
		note("i386 getpid through int $0x80 succeeded: %ld", r);
		return 1;
	}
	return 0;
}

static int child_x32(void *arg)
{
	long r;

	(void) arg;
	no_core();
	if (restrict_self() < 0)
		return 2;
	r = syscall(X32_SYSCALL_BIT | SYS_getpid);
	if (r == getpid()) {
		note("x32 getpid succeeded: %ld", r);
		return 1;
	}
	return 0;
}

/* ---- main ---------------------------------------------------------------- */

static void run_killed_or_refused(const char *what, int (*fn)(void *))
{
	int st = tap_fork(fn, NULL, TIMEOUT);

	if (!ok(st == 0 || st == 128 + SIGSYS, "%s does not succeed under the profile", what))
		diag("child status %d", st);
	else
		diag("%s: %s", what, st == 0 ? "refused (errno)" : "killed (SIGSYS)");
}

int main(void)
{
	unsigned long long eff = 0;

	if (geteuid() != 0)
		return skip_all("needs root: emptying the bounding set needs CAP_SETPCAP");
	if (status_field("CapEff", 16, &eff) < 0 || !(eff & (1ULL << CAP_SETPCAP_BIT)))
		return skip_all("needs CAP_SETPCAP to empty the bounding set");
	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0)
		return skip_all("kernel without seccomp (CONFIG_SECCOMP)");

	is_int(tap_fork(child_apply, NULL, TIMEOUT), 0, "nook_restrict_apply() succeeds as root");
	{
		int st = tap_fork(child_status, NULL, TIMEOUT);

		for (size_t i = 0; i < ELEMENTSOF(status_want); i++)
			ok(st >= 0 && st < 128 && !(st & (1 << i)), "/proc/self/status %s is %llu",
			   status_want[i].key, status_want[i].want);
	}
	{
		int st = tap_fork(child_drop, NULL, TIMEOUT);

		ok(st == 0 || (st > 0 && st < 128 && !(st & 1)), "setresuid(65534) works after the profile");
		ok(st >= 0 && st < 128 && !(st & 3), "after setresuid(65534) CapEff and CapPrm are 0");
		ok(st >= 0 && st < 128 && !(st & 5), "after setresuid(65534) setuid(0) fails");
	}

	for (size_t i = 0; i < ELEMENTSOF(refusals); i++) {
		const struct refusal *t = &refusals[i];

		ok(tap_fork(child_refused, (void *) t, TIMEOUT) == 0, "refused: %s (%s)", t->what,
		   strerror(t->want));
	}
	for (size_t i = 0; i < ELEMENTSOF(allowances); i++) {
		const struct allowance *t = &allowances[i];

		ok(tap_fork(child_allowed, (void *) t, TIMEOUT) == 0, "allowed: %s", t->what);
	}

	if (tap_fork(child_i386_unfiltered, NULL, TIMEOUT) == 0)
		run_killed_or_refused("i386 getpid (int $0x80)", child_i386);
	else
		ok(1, "i386 getpid (int $0x80) # SKIP no IA32 emulation in this kernel");
	run_killed_or_refused("x32 getpid (nr | 0x40000000)", child_x32);

	is_int(tap_fork(child_twice, NULL, TIMEOUT), 0,
	       "applying the profile again, as root and as nobody, succeeds");
	is_int(tap_fork(child_bad_profile, NULL, TIMEOUT), 0, "an unknown profile is -EINVAL");

	/*
	 * The checks above can fail: the same refusal check reports an
	 * allowed call, and without the profile the refused calls get the
	 * kernel's own answer, so the EPERMs above come from the filter.
	 */
	{
		static const struct refusal allowed = { "getppid", call_getppid, EPERM };
		static const struct refusal unfiltered[] = {
			{ "setns(-1, 0)", call_setns, EPERM },
			{ "ioctl(pty, TIOCLINUX)", call_tioclinux, EPERM },
			{ "ioctl(pty, TIOCSTI) as root", call_tiocsti, EPERM },
		};

		is_int(tap_fork(child_refused, (void *) &allowed, TIMEOUT), 1,
		       "the refusal check fails for getppid, which is allowed");
		for (size_t i = 0; i < ELEMENTSOF(unfiltered); i++)
			is_int(tap_fork(child_refused_unfiltered, (void *) &unfiltered[i], TIMEOUT), 1,
			       "without the profile, %s is not EPERM", unfiltered[i].what);
	}

	return done_testing();
}
