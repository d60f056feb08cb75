/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pid 1 of a container. It reaps orphans forever: if it died, the kernel
 * would kill the pid namespace and no session could fork into it any more.
 * It also watches its socket to the keeper and exits when the keeper is
 * gone, so that a keeper killed with SIGKILL never leaves an unsupervised
 * container behind.
 */
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "nook.h"

int nook_net_lo_up(void)
{
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = { 0 };

	if (fd < 0)
		return -errno;
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		return -errno;
	return 0;
}

void nook_init_run(int sock)
{
	sigset_t mask;
	int sfd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	for (;;) {
		struct pollfd p[2] = { { .fd = sock, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
		struct signalfd_siginfo si;

		if (poll(p, sfd >= 0 ? 2 : 1, sfd >= 0 ? -1 : 1000) < 0 && errno != EINTR)
			_exit(1);
		if (p[0].revents & (POLLHUP | POLLERR | POLLIN)) {
			char c;
			ssize_t n = recv(sock, &c, 1, MSG_DONTWAIT);

			/* The keeper never writes after "go": EOF is its end. */
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				_exit(0);
		}
		while (sfd >= 0 && read(sfd, &si, sizeof(si)) > 0)
			;
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
}
