/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * network = pasta (nook.conf(5)): the pasta process of a container, and
 * the mode's part of network.c's entry points (net_mode_pasta, at the end).
 *
 * Privilege: pasta must enter the container's network namespace
 * (CAP_SYS_ADMIN in the user namespace that owns it) and create a tap
 * device there (CAP_NET_ADMIN in the same). Container root has both, so
 * host root is not needed: the keeper forks a child that
 *   1. unshares a mount namespace and mounts, over /dev/net, a tmpfs with
 *      a tun node owned by container root (the host's /dev/net/tun may be
 *      root-only 0600, and must stay so);
 *   2. joins the container's user namespace and becomes its root, which is
 *      an unprivileged uid on the host (the subordinate base), without any
 *      capability in the host's namespaces;
 *   3. stays in the host's network namespace, where pasta opens the
 *      sockets that carry the container's traffic, as that uid;
 *   4. execs pasta, which enters the container's network namespace through
 *      the fd it inherits, and (as "root") drops to the container's nobody.
 * pasta's listening ports stay closed both ways (-t/-u/-T/-U none): the
 * container's services are not exposed on the host, and the host's
 * loopback services are not mirrored into the container's loopback.
 * With host_access = no, --no-map-gw keeps the gateway address from
 * leading to the host's loopback.
 *
 * Readiness: pasta writes its pid to --pid once it has configured the
 * namespace; that "file" is a pipe to the keeper. PR_SET_PDEATHSIG ends
 * pasta with a keeper killed by SIGKILL; it sits in the keeper's cgroup
 * leaf, so the next start's recovery kills it too in any case.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "net-internal.h"

#define PASTA_PATH "/usr/bin/pasta"
/* What pasta re-executes itself as on a CPU with AVX2 (Debian's passt
 * ships both builds); going there at once saves an exec and a dynamic
 * link. argv[0] = "pasta" selects the mode in either binary. */
#define PASTA_AVX2_PATH "/usr/bin/passt.avx2"
#define PASTA_READY_MS 10000
#define PASTA_STOP_MS 1000
/* Where pasta answers DNS for the host's loopback resolver (link-local:
 * it can never be a real server's address). */
#define PASTA_DNS_FORWARD "169.254.1.53"
#define FD_NETNS 3
#define FD_READY 4

__attribute__((noreturn)) static void child(const struct nook_user *u, const struct nook_net *n, int ready_wr,
					    pid_t keeper)
{
	char *argv[32], mosh[16];
	char *const envp[] = { NULL };
	sigset_t none;
	size_t i = 0;
	int null, ns, rd, r;

	/* The keeper blocks the signals it reads through a signalfd and
	 * ignores SIGPIPE: pasta gets the defaults (it refuses to start with
	 * SIGPIPE ignored, and must die of SIGTERM). */
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0 || signal(SIGPIPE, SIG_DFL) == SIG_ERR)
		_exit(127);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0 ||
	    dup2(null, STDERR_FILENO) < 0)
		_exit(127);
	/* 1. A tun node of our own, in a mount namespace nobody else sees. */
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0 ||
	    mount("nook-tun", "/dev/net", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=4k,nr_inodes=4") <
		    0 ||
	    mknod("/dev/net/tun", S_IFCHR | 0600, makedev(10, 200)) < 0 ||
	    chown("/dev/net/tun", n->root_uid, n->root_gid) < 0) {
		log_err("pasta for '%s': cannot provide /dev/net/tun: %m", u->name);
		_exit(127);
	}
	/* pasta opens its --pid file by path, as container root: the pipe
	 * (made by host root) must be container root's. */
	if (fchown(ready_wr, n->root_uid, n->root_gid) < 0) {
		log_err("pasta for '%s': %m", u->name);
		_exit(127);
	}
	/* 2. Container root (ids read back, host root's groups dropped). */
	r = setns(n->userns_fd, CLONE_NEWUSER) < 0 ? -errno : nook_become_userns_root(true);
	if (r < 0) {
		log_err("pasta for '%s': cannot become container root: %s", u->name, strerror(-r));
		_exit(127);
	}
	/* After the credential change, which clears it. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != keeper)
		_exit(127);
	/* 3. Only the two fds pasta needs, at fixed numbers. */
	ns = fcntl(n->netns_fd, F_DUPFD_CLOEXEC, 10);
	rd = fcntl(ready_wr, F_DUPFD_CLOEXEC, 10);
	if (ns < 0 || rd < 0 || dup2(ns, FD_NETNS) < 0 || dup2(rd, FD_READY) < 0)
		_exit(127);
	(void) close_range(FD_READY + 1, ~0U, 0);

	/* mosh's slice: the same port numbers on the host and inside. */
	snprintf(mosh, sizeof(mosh), "%u-%u", n->mosh_low, n->mosh_high);
	argv[i++] = (char *) "pasta";
	argv[i++] = (char *) "--foreground";
	argv[i++] = (char *) "--quiet";
	argv[i++] = (char *) "--config-net";
	argv[i++] = (char *) "--ns-ifname";
	argv[i++] = (char *) "eth0";
	argv[i++] = (char *) "--netns";
	argv[i++] = (char *) "/proc/self/fd/3";
	argv[i++] = (char *) "--pid";
	argv[i++] = (char *) "/proc/self/fd/4";
	argv[i++] = (char *) "-t";
	argv[i++] = (char *) "none";
	argv[i++] = (char *) "-u";
	argv[i++] = n->mosh_leased ? mosh : (char *) "none";
	argv[i++] = (char *) "-T";
	argv[i++] = (char *) "none";
	argv[i++] = (char *) "-U";
	argv[i++] = (char *) "none";
	if (!u->set.host_access)
		argv[i++] = (char *) "--no-map-gw";
	if (*n->dns_forward) {
		argv[i++] = (char *) "--dns-forward";
		argv[i++] = (char *) n->dns_forward;
	}
	argv[i] = NULL;
	if (__builtin_cpu_supports("avx2"))
		execve(PASTA_AVX2_PATH, argv, envp);
	execve(PASTA_PATH, argv, envp);
	log_err("cannot run " PASTA_PATH " for '%s': %m; install passt", u->name);
	_exit(127);
}

/* Starts pasta as container root for the container's network namespace
 * (n->netns_fd, n->userns_fd): sets n->pasta_pid, pasta_pidfd and
 * pasta_ready_fd. */
static int pasta_spawn(const struct nook_user *u, struct nook_net *n)
{
	_cleanup_close_ int rd = -EBADF;
	pid_t keeper = getpid(), pid;
	int p[2], pidfd, r;

	if (access(PASTA_PATH, X_OK) < 0) {
		r = -errno;
		log_err("network = pasta for '%s', but " PASTA_PATH " is missing: install passt", u->name);
		return r;
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	rd = p[0];
	pid = fork();
	if (pid < 0) {
		r = -errno;
		(void) close(p[1]);
		return r;
	}
	if (pid == 0)
		child(u, n, p[1], keeper);
	(void) close(p[1]);
	pidfd = nook_pidfd_open(pid);
	if (pidfd < 0) {
		(void) kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return pidfd;
	}
	n->pasta_pid = pid;
	n->pasta_pidfd = pidfd;
	n->pasta_ready_fd = TAKE_FD(rd);
	return 0;
}

/* Waits until pasta has configured the namespace; kills and reaps it on
 * failure. */
static int pasta_ready(const struct nook_user *u, struct nook_net *n)
{
	int status = 0, r;
	char buf[32];
	ssize_t got;

	/* EOF (pasta died) or its pid: either way the pipe becomes readable. */
	r = nook_wait_readable(n->pasta_ready_fd, PASTA_READY_MS);
	if (r <= 0) {
		log_err("pasta for '%s' did not configure the network in %d s", u->name,
			PASTA_READY_MS / 1000);
		(void) nook_pidfd_send_signal(n->pasta_pidfd, SIGKILL);
		r = -ETIMEDOUT;
	} else {
		do
			got = read(n->pasta_ready_fd, buf, sizeof(buf) - 1);
		while (got < 0 && errno == EINTR);
		r = got > 0 ? 0 : -ECHILD;
	}
	(void) close(n->pasta_ready_fd);
	n->pasta_ready_fd = -EBADF;
	if (r == 0)
		return 0;
	while (waitpid(n->pasta_pid, &status, 0) < 0 && errno == EINTR)
		;
	if (r == -ECHILD)
		log_err("pasta for '%s' exited at start (status %d); see its messages in the system log",
			u->name, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	(void) close(n->pasta_pidfd);
	n->pasta_pidfd = -EBADF;
	n->pasta_pid = 0;
	return r;
}

/* ---- the mode (network.c calls these through net_mode_pasta) ---- */

static int pasta_prepare(const struct nook_user *u, struct nook_net *n, const char *host_resolv,
			 struct net_names *ret)
{
	if (host_resolv && !(u->set.dns && u->set.dns[0]) && nook_net_resolv_only_loopback(host_resolv)) {
		/* The host asks a resolver on its loopback (127.0.0.53 and
		 * the like): pasta forwards queries for this address to it. */
		snprintf(n->dns_forward, sizeof(n->dns_forward), "%s", PASTA_DNS_FORWARD);
		snprintf(ret->fallback, sizeof(ret->fallback), "%s", n->dns_forward);
	}
	mosh_prepare(u, n);
	ret->want_v6 = true;
	return 0;
}

void nook_net_pasta_died(const struct nook_user *u, struct nook_net *n)
{
	int status = 0, r;

	while (waitpid(n->pasta_pid, &status, 0) < 0 && errno == EINTR)
		;
	(void) close(n->pasta_pidfd);
	n->pasta_pidfd = -EBADF;
	n->pasta_pid = 0;
	if (WIFSIGNALED(status))
		log_warn("pasta of '%s' was killed by signal %d", u->name, WTERMSIG(status));
	else
		log_warn("pasta of '%s' exited with status %d", u->name, WEXITSTATUS(status));
	if (n->pasta_restarts < 1) {
		n->pasta_restarts++;
		r = pasta_spawn(u, n);
		if (r >= 0)
			r = pasta_ready(u, n);
		if (r >= 0) {
			log_info("pasta of '%s' restarted", u->name);
			return;
		}
	}
	n->degraded = true;
	log_err("the container of '%s' has lost its network (pasta died again); it is degraded until it restarts",
		u->name);
}

static void pasta_stop(const struct nook_user *u, struct nook_net *n)
{
	(void) u;
	if (n->pasta_ready_fd >= 0)
		(void) close(n->pasta_ready_fd);
	n->pasta_ready_fd = -EBADF;
	if (n->pasta_pidfd < 0)
		return;
	(void) nook_pidfd_send_signal(n->pasta_pidfd, SIGTERM);
	if (nook_wait_readable(n->pasta_pidfd, PASTA_STOP_MS) <= 0) {
		(void) nook_pidfd_send_signal(n->pasta_pidfd, SIGKILL);
		(void) nook_wait_readable(n->pasta_pidfd, -1);
	}
	while (waitpid(n->pasta_pid, NULL, 0) < 0 && errno == EINTR)
		;
	(void) close(n->pasta_pidfd);
	n->pasta_pidfd = -EBADF;
	n->pasta_pid = 0;
}

static int pasta_describe(const struct nook_net *n, char *buf, size_t size)
{
	int r = snprintf(buf, size, "pasta (pid %d)%s", n->pasta_pid,
			 n->degraded ? ", DEGRADED: pasta died; no network until the container restarts"
				     : "");

	return (r < 0 || (size_t) r >= size) ? -ENOBUFS : r;
}

const struct net_mode net_mode_pasta = {
	.dns = true,
	.prepare = pasta_prepare,
	.start = pasta_spawn,
	.ready = pasta_ready,
	.stop = pasta_stop,
	.describe = pasta_describe,
};
