/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The seccomp policy of each profile, as data (one table of rules), and
 * its translation into libseccomp filters. This runs at build time only:
 * seccomp-gen turns the filters into BPF that restrict.c loads directly,
 * because compiling ~300 rules with libseccomp costs ~4 ms on every login.
 */
#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "cleanup.h"
#include "seccomp-policy.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

static void nook_seccomp_releasep(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}

/* ---- seccomp policy (data) ---------------------------------------------- */

enum nook_sc_verdict {
	/* Allowed; when the rule has conditions, only when they all hold. */
	NOOK_SC_ALLOW,
	/* Answered ENOSYS, so that libc falls back to an older call. */
	NOOK_SC_ENOSYS,
	/*
	 * Refused with EPERM. Without conditions the row only documents the
	 * decision: anything not allowed is refused by the default action
	 * (and libseccomp rejects a rule equal to the default, -EACCES).
	 * With conditions the row carves an exception out of a syscall the
	 * allowlist allows unconditionally; see build_carveouts().
	 */
	NOOK_SC_REFUSE,
};

struct nook_sc_rule {
	const char *name;
	enum nook_sc_verdict verdict;
	unsigned n_args;
	struct scmp_arg_cmp args[2]; /* all must hold */
};

/* clang-format off */
#define ALLOW(n) { .name = (n), .verdict = NOOK_SC_ALLOW }
#define REFUSE(n) { .name = (n), .verdict = NOOK_SC_REFUSE }
#define ALLOW_IF(n, a) { .name = (n), .verdict = NOOK_SC_ALLOW, .n_args = 1, .args = { a } }
#define REFUSE_IF(n, a) { .name = (n), .verdict = NOOK_SC_REFUSE, .n_args = 1, .args = { a } }

/*
 * Compares only the low 32 bits of argument IDX. The kernel truncates int
 * and unsigned int arguments (ioctl's cmd, socket's family, personality),
 * so a 64-bit compare could be bypassed by setting the high bits: the
 * TIOCSTI filter bypass of CVE-2019-10063 (flatpak).
 */
#define LOW32_EQ(idx, v) \
	{ .arg = (idx), .op = SCMP_CMP_MASKED_EQ, .datum_a = 0xffffffffULL, .datum_b = (v) }
/* None of the bits of MASK set in argument IDX. */
#define NONE_OF(idx, mask) \
	{ .arg = (idx), .op = SCMP_CMP_MASKED_EQ, .datum_a = (mask), .datum_b = 0 }
/* clang-format on */

/*
 * Namespace flags a clone() must not carry: a new user namespace would
 * give back every capability we drop (and is the entry point of most
 * unprivileged kernel exploits), the others need CAP_SYS_ADMIN anyway.
 * CLONE_NEWTIME shares its bit with CSIGNAL for clone(); exit signals are
 * below 65, so masking it refuses nothing legitimate.
 */
#define NOOK_CLONE_NS_FLAGS                                                                     \
	((uint64_t) (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | \
		     CLONE_NEWUTS | CLONE_NEWCGROUP | CLONE_NEWTIME))

/*
 * The names of another ABI's syscalls (socketcall, chown32 on x86_64) and
 * names this libseccomp does not know are skipped when loading: see
 * seccomp_add().
 */
/* clang-format off */
static const struct nook_sc_rule restricted_rules[] = {
	/*
	 * Docker's default profile (moby profiles/seccomp/default.json),
	 * the syscalls it allows unconditionally, minus the io_uring calls
	 * and name_to_handle_at (refused below).
	 */
	ALLOW("accept"), ALLOW("accept4"), ALLOW("access"), ALLOW("adjtimex"), ALLOW("alarm"),
	ALLOW("bind"), ALLOW("brk"), ALLOW("capget"), ALLOW("capset"), ALLOW("chdir"),
	ALLOW("chmod"), ALLOW("chown"), ALLOW("chown32"), ALLOW("clock_adjtime"),
	ALLOW("clock_adjtime64"), ALLOW("clock_getres"), ALLOW("clock_getres_time64"),
	ALLOW("clock_gettime"), ALLOW("clock_gettime64"), ALLOW("clock_nanosleep"),
	ALLOW("clock_nanosleep_time64"), ALLOW("close"), ALLOW("close_range"), ALLOW("connect"),
	ALLOW("copy_file_range"), ALLOW("creat"), ALLOW("dup"), ALLOW("dup2"), ALLOW("dup3"),
	ALLOW("epoll_create"), ALLOW("epoll_create1"), ALLOW("epoll_ctl"), ALLOW("epoll_ctl_old"),
	ALLOW("epoll_pwait"), ALLOW("epoll_pwait2"), ALLOW("epoll_wait"), ALLOW("epoll_wait_old"),
	ALLOW("eventfd"), ALLOW("eventfd2"), ALLOW("execve"), ALLOW("execveat"), ALLOW("exit"),
	ALLOW("exit_group"), ALLOW("faccessat"), ALLOW("faccessat2"), ALLOW("fadvise64"),
	ALLOW("fadvise64_64"), ALLOW("fallocate"), ALLOW("fanotify_mark"), ALLOW("fchdir"),
	ALLOW("fchmod"), ALLOW("fchmodat"), ALLOW("fchown"), ALLOW("fchown32"), ALLOW("fchownat"),
	ALLOW("fcntl"), ALLOW("fcntl64"), ALLOW("fdatasync"), ALLOW("fgetxattr"),
	ALLOW("flistxattr"), ALLOW("flock"), ALLOW("fork"), ALLOW("fremovexattr"),
	ALLOW("fsetxattr"), ALLOW("fstat"), ALLOW("fstat64"), ALLOW("fstatat64"), ALLOW("fstatfs"),
	ALLOW("fstatfs64"), ALLOW("fsync"), ALLOW("ftruncate"), ALLOW("ftruncate64"),
	ALLOW("futex"), ALLOW("futex_time64"), ALLOW("futex_waitv"), ALLOW("futimesat"),
	ALLOW("getcpu"), ALLOW("getcwd"), ALLOW("getdents"), ALLOW("getdents64"), ALLOW("getegid"),
	ALLOW("getegid32"), ALLOW("geteuid"), ALLOW("geteuid32"), ALLOW("getgid"),
	ALLOW("getgid32"), ALLOW("getgroups"), ALLOW("getgroups32"), ALLOW("getitimer"),
	ALLOW("getpeername"), ALLOW("getpgid"), ALLOW("getpgrp"), ALLOW("getpid"),
	ALLOW("getppid"), ALLOW("getpriority"), ALLOW("getrandom"), ALLOW("getresgid"),
	ALLOW("getresgid32"), ALLOW("getresuid"), ALLOW("getresuid32"), ALLOW("getrlimit"),
	ALLOW("get_robust_list"), ALLOW("getrusage"), ALLOW("getsid"), ALLOW("getsockname"),
	ALLOW("getsockopt"), ALLOW("get_thread_area"), ALLOW("gettid"), ALLOW("gettimeofday"),
	ALLOW("getuid"), ALLOW("getuid32"), ALLOW("getxattr"), ALLOW("inotify_add_watch"),
	ALLOW("inotify_init"), ALLOW("inotify_init1"), ALLOW("inotify_rm_watch"),
	ALLOW("io_cancel"), ALLOW("ioctl"), ALLOW("io_destroy"), ALLOW("io_getevents"),
	ALLOW("io_pgetevents"), ALLOW("io_pgetevents_time64"), ALLOW("ioprio_get"),
	ALLOW("ioprio_set"), ALLOW("io_setup"), ALLOW("io_submit"), ALLOW("ipc"), ALLOW("kill"),
	ALLOW("landlock_add_rule"), ALLOW("landlock_create_ruleset"),
	ALLOW("landlock_restrict_self"), ALLOW("lchown"), ALLOW("lchown32"), ALLOW("lgetxattr"),
	ALLOW("link"), ALLOW("linkat"), ALLOW("listen"), ALLOW("listxattr"), ALLOW("llistxattr"),
	ALLOW("_llseek"), ALLOW("lremovexattr"), ALLOW("lseek"), ALLOW("lsetxattr"),
	ALLOW("lstat"), ALLOW("lstat64"), ALLOW("madvise"), ALLOW("membarrier"),
	ALLOW("memfd_create"), ALLOW("memfd_secret"), ALLOW("mincore"), ALLOW("mkdir"),
	ALLOW("mkdirat"), ALLOW("mknod"), ALLOW("mknodat"), ALLOW("mlock"), ALLOW("mlock2"),
	ALLOW("mlockall"), ALLOW("mmap"), ALLOW("mmap2"), ALLOW("mprotect"),
	ALLOW("mq_getsetattr"), ALLOW("mq_notify"), ALLOW("mq_open"), ALLOW("mq_timedreceive"),
	ALLOW("mq_timedreceive_time64"), ALLOW("mq_timedsend"), ALLOW("mq_timedsend_time64"),
	ALLOW("mq_unlink"), ALLOW("mremap"), ALLOW("msgctl"), ALLOW("msgget"), ALLOW("msgrcv"),
	ALLOW("msgsnd"), ALLOW("msync"), ALLOW("munlock"), ALLOW("munlockall"), ALLOW("munmap"),
	ALLOW("nanosleep"), ALLOW("newfstatat"), ALLOW("_newselect"), ALLOW("open"),
	ALLOW("openat"), ALLOW("openat2"), ALLOW("pause"), ALLOW("pidfd_open"),
	ALLOW("pidfd_send_signal"), ALLOW("pipe"), ALLOW("pipe2"), ALLOW("pkey_alloc"),
	ALLOW("pkey_free"), ALLOW("pkey_mprotect"), ALLOW("poll"), ALLOW("ppoll"),
	ALLOW("ppoll_time64"), ALLOW("prctl"), ALLOW("pread64"), ALLOW("preadv"),
	ALLOW("preadv2"), ALLOW("prlimit64"), ALLOW("process_mrelease"), ALLOW("pselect6"),
	ALLOW("pselect6_time64"), ALLOW("pwrite64"), ALLOW("pwritev"), ALLOW("pwritev2"),
	ALLOW("read"), ALLOW("readahead"), ALLOW("readlink"), ALLOW("readlinkat"), ALLOW("readv"),
	ALLOW("recv"), ALLOW("recvfrom"), ALLOW("recvmmsg"), ALLOW("recvmmsg_time64"),
	ALLOW("recvmsg"), ALLOW("remap_file_pages"), ALLOW("removexattr"), ALLOW("rename"),
	ALLOW("renameat"), ALLOW("renameat2"), ALLOW("restart_syscall"), ALLOW("rmdir"),
	ALLOW("rseq"), ALLOW("rt_sigaction"), ALLOW("rt_sigpending"), ALLOW("rt_sigprocmask"),
	ALLOW("rt_sigqueueinfo"), ALLOW("rt_sigreturn"), ALLOW("rt_sigsuspend"),
	ALLOW("rt_sigtimedwait"), ALLOW("rt_sigtimedwait_time64"), ALLOW("rt_tgsigqueueinfo"),
	ALLOW("sched_getaffinity"), ALLOW("sched_getattr"), ALLOW("sched_getparam"),
	ALLOW("sched_get_priority_max"), ALLOW("sched_get_priority_min"),
	ALLOW("sched_getscheduler"), ALLOW("sched_rr_get_interval"),
	ALLOW("sched_rr_get_interval_time64"), ALLOW("sched_setaffinity"),
	ALLOW("sched_setattr"), ALLOW("sched_setparam"), ALLOW("sched_setscheduler"),
	ALLOW("sched_yield"), ALLOW("seccomp"), ALLOW("select"), ALLOW("semctl"),
	ALLOW("semget"), ALLOW("semop"), ALLOW("semtimedop"), ALLOW("semtimedop_time64"),
	ALLOW("send"), ALLOW("sendfile"), ALLOW("sendfile64"), ALLOW("sendmmsg"),
	ALLOW("sendmsg"), ALLOW("sendto"), ALLOW("setfsgid"), ALLOW("setfsgid32"),
	ALLOW("setfsuid"), ALLOW("setfsuid32"), ALLOW("setgid"), ALLOW("setgid32"),
	ALLOW("setgroups"), ALLOW("setgroups32"), ALLOW("setitimer"), ALLOW("setpgid"),
	ALLOW("setpriority"), ALLOW("setregid"), ALLOW("setregid32"), ALLOW("setresgid"),
	ALLOW("setresgid32"), ALLOW("setresuid"), ALLOW("setresuid32"), ALLOW("setreuid"),
	ALLOW("setreuid32"), ALLOW("setrlimit"), ALLOW("set_robust_list"), ALLOW("setsid"),
	ALLOW("setsockopt"), ALLOW("set_thread_area"), ALLOW("set_tid_address"),
	ALLOW("setuid"), ALLOW("setuid32"), ALLOW("setxattr"), ALLOW("shmat"), ALLOW("shmctl"),
	ALLOW("shmdt"), ALLOW("shmget"), ALLOW("shutdown"), ALLOW("sigaltstack"),
	ALLOW("signalfd"), ALLOW("signalfd4"), ALLOW("sigprocmask"), ALLOW("sigreturn"),
	ALLOW("socketcall"), ALLOW("socketpair"), ALLOW("splice"), ALLOW("stat"),
	ALLOW("stat64"), ALLOW("statfs"), ALLOW("statfs64"), ALLOW("statx"), ALLOW("symlink"),
	ALLOW("symlinkat"), ALLOW("sync"), ALLOW("sync_file_range"), ALLOW("syncfs"),
	ALLOW("sysinfo"), ALLOW("tee"), ALLOW("tgkill"), ALLOW("time"), ALLOW("timer_create"),
	ALLOW("timer_delete"), ALLOW("timer_getoverrun"), ALLOW("timer_gettime"),
	ALLOW("timer_gettime64"), ALLOW("timer_settime"), ALLOW("timer_settime64"),
	ALLOW("timerfd_create"), ALLOW("timerfd_gettime"), ALLOW("timerfd_gettime64"),
	ALLOW("timerfd_settime"), ALLOW("timerfd_settime64"), ALLOW("times"), ALLOW("tkill"),
	ALLOW("truncate"), ALLOW("truncate64"), ALLOW("ugetrlimit"), ALLOW("umask"),
	ALLOW("uname"), ALLOW("unlink"), ALLOW("unlinkat"), ALLOW("utime"), ALLOW("utimensat"),
	ALLOW("utimensat_time64"), ALLOW("utimes"), ALLOW("vfork"), ALLOW("vmsplice"),
	ALLOW("wait4"), ALLOW("waitid"), ALLOW("waitpid"), ALLOW("write"), ALLOW("writev"),

	/*
	 * Newer than that profile, allowed by later moby releases: harmless,
	 * and a newer libc in the container uses them (fchmodat2 for
	 * `chmod -h`). Skipped by a libseccomp that does not know them.
	 */
	ALLOW("cachestat"), ALLOW("fchmodat2"), ALLOW("futex_requeue"), ALLOW("futex_wait"),
	ALLOW("futex_wake"), ALLOW("map_shadow_stack"), ALLOW("mseal"),

	/* x86_64 only: TLS setup by every static binary and by ld.so. */
	ALLOW("arch_prctl"),

	/*
	 * Docker allows these from kernel 4.8 on: before 4.8 a tracer could
	 * rewrite a syscall after seccomp had checked it. The pid namespace and
	 * the empty capability sets confine them to the user's own processes,
	 * and the kernel's ptrace access checks (and Yama) still apply. gdb,
	 * strace and `ps` need them.
	 */
	ALLOW("ptrace"), ALLOW("process_vm_readv"), ALLOW("process_vm_writev"),

	/*
	 * clone() only without namespace flags; clone3() passes its flags in
	 * memory, which seccomp cannot read, so it is answered ENOSYS and libc
	 * falls back to clone() (as Docker does).
	 */
	ALLOW_IF("clone", NONE_OF(0, NOOK_CLONE_NS_FLAGS)),
	{ .name = "clone3", .verdict = NOOK_SC_ENOSYS },
	REFUSE("unshare"), REFUSE("setns"),

	/*
	 * personality(): Linux (0), PER_LINUX32 (`linux32`) and the 0xffffffff
	 * query only. Docker also allows UNAME26 (a fake 2.6 kernel version,
	 * for ancient binaries); we do not. The other flags switch hardening
	 * off (ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC) and are refused, as under
	 * Docker: gdb warns that it cannot disable ASLR and goes on.
	 */
	ALLOW_IF("personality", LOW32_EQ(0, 0x0)),
	ALLOW_IF("personality", LOW32_EQ(0, 0x0008)),
	ALLOW_IF("personality", LOW32_EQ(0, 0xffffffff)),

	/* Every address family but AF_VSOCK (talks to the hypervisor), as Docker. */
	ALLOW("socket"),
	REFUSE_IF("socket", LOW32_EQ(0, AF_VSOCK)),

	/*
	 * TIOCSTI pushes input into a terminal: from a process left behind on
	 * a tty it types commands into the user's or root's shell after it
	 * exits (CVE-2016-7545, CVE-2017-5226, CVE-2019-10063). TIOCLINUX
	 * does the same through the console selection (CVE-2023-1523).
	 */
	REFUSE_IF("ioctl", LOW32_EQ(1, TIOCSTI)),
	REFUSE_IF("ioctl", LOW32_EQ(1, TIOCLINUX)),
	/*
	 * TIOCSETD changes a terminal's line discipline, and with
	 * dev.tty.ldisc_autoload=1 (the default of many distributions) the
	 * kernel loads the discipline's module for anyone who asks: a pty
	 * inside reaches N_HDLC, N_GSM, N_SLIP ... (CVE-2017-2636,
	 * CVE-2023-6546 in n_gsm). The argument is a pointer, so a filter
	 * cannot allow N_TTY alone; nothing a login runs needs another
	 * discipline (ldattach, slattach, pppd are host tools).
	 */
	REFUSE_IF("ioctl", LOW32_EQ(1, TIOCSETD)),

	/*
	 * Refused (documentation only; the default action refuses them).
	 * The mount family: the container's mounts are the helper's, not
	 * the user's.
	 */
	REFUSE("mount"), REFUSE("umount"), REFUSE("umount2"), REFUSE("fsopen"),
	REFUSE("fsconfig"), REFUSE("fsmount"), REFUSE("fspick"), REFUSE("move_mount"),
	REFUSE("open_tree"), REFUSE("mount_setattr"), REFUSE("pivot_root"), REFUSE("chroot"),
	/*
	 * The kernel keyring is not (fully) namespaced, Docker's reason; and
	 * keyctl has its own LPE record (CVE-2016-0728).
	 */
	REFUSE("keyctl"), REFUSE("add_key"), REFUSE("request_key"),
	/*
	 * Large attack surfaces with a record of local privilege escalations:
	 * bpf (CVE-2021-3490), userfaultfd (stalls the kernel in the middle
	 * of a copy, the classic way to win a kernel race; hence
	 * vm.unprivileged_userfaultfd=0), perf_event_open (CVE-2013-2094),
	 * io_uring (CVE-2022-29582, CVE-2023-2598; Google disables it in
	 * ChromeOS, Android and on its servers).
	 */
	REFUSE("bpf"), REFUSE("userfaultfd"), REFUSE("perf_event_open"),
	REFUSE("io_uring_setup"), REFUSE("io_uring_enter"), REFUSE("io_uring_register"),
	/*
	 * File handles bypass the mount namespace: open_by_handle_at() can
	 * open any inode of the file system ("shocker", 2014).
	 */
	REFUSE("open_by_handle_at"), REFUSE("name_to_handle_at"),
	/* The host's kernel, time, accounting, swap and log: not the user's. */
	REFUSE("kexec_load"), REFUSE("kexec_file_load"), REFUSE("init_module"),
	REFUSE("finit_module"), REFUSE("delete_module"), REFUSE("reboot"), REFUSE("acct"),
	REFUSE("swapon"), REFUSE("swapoff"), REFUSE("syslog"), REFUSE("quotactl"),
	REFUSE("quotactl_fd"), REFUSE("lookup_dcookie"), REFUSE("settimeofday"),
	REFUSE("clock_settime"), REFUSE("sethostname"), REFUSE("setdomainname"),
	REFUSE("vhangup"), REFUSE("fanotify_init"),
	/* Raw port I/O and the 16-bit/vm86 machinery of the x86 entry code. */
	REFUSE("iopl"), REFUSE("ioperm"), REFUSE("vm86"), REFUSE("vm86old"),
	REFUSE("modify_ldt"),
	/*
	 * Docker ties these to CAP_SYS_PTRACE or CAP_SYS_NICE, which the
	 * session never has.
	 */
	REFUSE("kcmp"), REFUSE("pidfd_getfd"), REFUSE("process_madvise"), REFUSE("mbind"),
	REFUSE("get_mempolicy"), REFUSE("set_mempolicy"), REFUSE("set_mempolicy_home_node"),
	REFUSE("migrate_pages"), REFUSE("move_pages"),
};
/* clang-format on */

struct nook_sc_profile {
	const struct nook_sc_rule *rules;
	size_t n_rules;
};

static const struct nook_sc_profile profiles[] = {
	[NOOK_PROFILE_RESTRICTED] = { restricted_rules, ELEMENTSOF(restricted_rules) },
};

static const struct nook_sc_profile *profile_get(enum nook_profile profile)
{
	if ((size_t) profile >= ELEMENTSOF(profiles) || !profiles[profile].rules)
		return NULL;
	return &profiles[profile];
}

/* ---- seccomp loader ------------------------------------------------------ */

static int seccomp_new(uint32_t default_action, scmp_filter_ctx *ret)
{
	static const struct {
		enum scmp_filter_attr attr;
		uint32_t value;
	} attrs[] = {
		/*
		 * Only the native ABI is in the filter. A syscall of another
		 * ABI (i386 through int $0x80, or x32: x86_64 numbers with bit
		 * 0x40000000, which libseccomp checks for when x32 is not
		 * added) kills the process: its numbers mean different calls,
		 * so no rule here would apply, and ERRNO would leave a 32-bit
		 * program spinning on failing calls.
		 */
		{ SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS },
		/* libseccomp sets no_new_privs itself before loading. */
		{ SCMP_FLTATR_CTL_NNP, 1 },
		/* Return the kernel's errno rather than -ECANCELED. */
		{ SCMP_FLTATR_API_SYSRAWRC, 1 },
		/*
		 * No SCMP_FLTATR_CTL_TSYNC: the callers are single-threaded
		 * when they apply the profile (sshd's postauth child, nookctl
		 * before exec), and the filter is inherited from here on.
		 */
	};
	_cleanup_(nook_seccomp_releasep) scmp_filter_ctx ctx = seccomp_init(default_action);

	if (!ctx)
		return -ENOMEM;
	for (size_t i = 0; i < ELEMENTSOF(attrs); i++) {
		int r = seccomp_attr_set(ctx, attrs[i].attr, attrs[i].value);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(ctx);
	return 0;
}

static int seccomp_add(scmp_filter_ctx ctx, uint32_t action, const struct nook_sc_rule *rule)
{
	int nr = seccomp_syscall_resolve_name(rule->name);

	/*
	 * __NR_SCMP_ERROR: newer than this libseccomp. Another negative
	 * number: a pseudo-syscall of another ABI (socketcall, chown32 on
	 * x86_64). Neither can be reached natively through its name, so there
	 * is nothing to add; a newer call stays refused by the default.
	 */
	if (nr < 0)
		return 0;
	/* _exact: libseccomp must not rewrite the rule behind our back. */
	return seccomp_rule_add_exact_array(ctx, action, nr, rule->n_args,
					    rule->n_args > 0 ? rule->args : NULL);
}

/*
 * The exceptions carved out of allowed syscalls (TIOCSTI out of ioctl).
 * libseccomp folds a conditional rule into an unconditional one for the
 * same syscall (2.5.4: the conditional rule is silently dropped), so "allow
 * ioctl except TIOCSTI" cannot be written in a filter whose default is the
 * refusal. They go into a second filter whose default is allow: the kernel
 * runs every filter and the most restrictive result wins.
 */
static int build_carveouts(const struct nook_sc_profile *p, scmp_filter_ctx *ret)
{
	_cleanup_(nook_seccomp_releasep) scmp_filter_ctx ctx = NULL;
	bool any = false;
	int r;

	*ret = NULL;
	for (size_t i = 0; i < p->n_rules; i++)
		if (p->rules[i].verdict == NOOK_SC_REFUSE && p->rules[i].n_args > 0)
			any = true;
	if (!any)
		return 0;

	r = seccomp_new(SCMP_ACT_ALLOW, &ctx);
	if (r < 0)
		return r;
	for (size_t i = 0; i < p->n_rules; i++) {
		const struct nook_sc_rule *rule = &p->rules[i];

		if (rule->verdict != NOOK_SC_REFUSE || rule->n_args == 0)
			continue;
		r = seccomp_add(ctx, SCMP_ACT_ERRNO(EPERM), rule);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(ctx);
	return 0;
}

/* The allowlist: EPERM for everything no rule allows, as Docker. */
static int build_allowlist(const struct nook_sc_profile *p, scmp_filter_ctx *ret)
{
	_cleanup_(nook_seccomp_releasep) scmp_filter_ctx ctx = NULL;
	int r;

	r = seccomp_new(SCMP_ACT_ERRNO(EPERM), &ctx);
	if (r < 0)
		return r;
	for (size_t i = 0; i < p->n_rules; i++) {
		const struct nook_sc_rule *rule = &p->rules[i];

		switch (rule->verdict) {
		case NOOK_SC_ALLOW:
			r = seccomp_add(ctx, SCMP_ACT_ALLOW, rule);
			break;
		case NOOK_SC_ENOSYS:
			r = seccomp_add(ctx, SCMP_ACT_ERRNO(ENOSYS), rule);
			break;
		case NOOK_SC_REFUSE:
			/* The default, or a carve-out in the other filter. */
			r = 0;
			break;
		default:
			r = -EINVAL;
			break;
		}
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(ctx);
	return 0;
}

int nook_seccomp_build(enum nook_profile profile, bool carveouts, scmp_filter_ctx *ret)
{
	const struct nook_sc_profile *p = profile_get(profile);

	if (!p)
		return -EINVAL;
	return carveouts ? build_carveouts(p, ret) : build_allowlist(p, ret);
}
