/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The bridge mode's state on the host: /run/nook/.net, its lock, leases.
 *
 * Bridge state lives in /run/nook/.net/ (root, 0700; ".net" cannot be a
 * user name): "lock" serializes every change of bridge, leases and table
 * across keepers; <bridge>/<index> is the lease of one address, holding
 * "USER KEEPER-PID KEEPER-START FLAGS ADDR4 [ADDR6]". The index starts at
 * uid modulo the subnet's size (so an address is stable per user) and
 * moves on while it is taken by a live keeper; a lease whose keeper died
 * is taken over.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "net-internal.h"

#define LEASE_MAX 256

int net_dir_open(bool create)
{
	return nook_run_subdir_open(NET_DIR, create);
}

static int net_lock(int dir)
{
	_cleanup_close_ int fd = openat(dir, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return -errno;
	return TAKE_FD(fd);
}

int net_dir_lock(bool create, int *ret_lock)
{
	_cleanup_close_ int dir = net_dir_open(create);
	int lock;

	if (dir < 0)
		return dir;
	lock = net_lock(dir);
	if (lock < 0)
		return lock;
	*ret_lock = lock;
	return TAKE_FD(dir);
}

/* Field 22 of /proc/PID/stat: tells a pid from its reuse. */
int nook_stat_start_time(const char *stat, unsigned long long *ret)
{
	return nook_stat_field(stat, 22, ret);
}

/* "USER PID START FLAGS ADDR4 [ADDR6]" */
int lease_read(int dir, const char *name, struct lease *ret)
{
	char buf[LEASE_MAX], *field[6] = { NULL }, *save = NULL, *end;
	struct lease l = { 0 };
	size_t n = 0;
	long pid;
	int r = nook_read_file_at(dir, name, buf, sizeof(buf));

	if (r < 0)
		return r;
	for (char *w = strtok_r(buf, " \n", &save); w && n < ELEMENTSOF(field);
	     w = strtok_r(NULL, " \n", &save))
		field[n++] = w;
	if (n < 5)
		return -EBADMSG;
	errno = 0;
	pid = strtol(field[1], &end, 10);
	if (errno || *end || pid <= 0 || pid > INT32_MAX)
		return -EBADMSG;
	l.pid = (pid_t) pid;
	l.start = strtoull(field[2], &end, 10);
	if (errno || *end)
		return -EBADMSG;
	if (snprintf(l.user, sizeof(l.user), "%s", field[0]) >= (int) sizeof(l.user) ||
	    snprintf(l.flags, sizeof(l.flags), "%s", field[3]) >= (int) sizeof(l.flags) ||
	    snprintf(l.addr4, sizeof(l.addr4), "%s", field[4]) >= (int) sizeof(l.addr4) ||
	    (field[5] && snprintf(l.addr6, sizeof(l.addr6), "%s", field[5]) >= (int) sizeof(l.addr6)))
		return -EBADMSG;
	*ret = l;
	return 0;
}

bool lease_alive(const struct lease *l)
{
	unsigned long long start = 0;

	return l->pid > 0 && nook_proc_starttime(l->pid, &start) >= 0 && start == l->start;
}

static int lease_write(int fd, const struct nook_user *u, const struct nook_net *n)
{
	char a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN] = "", line[LEASE_MAX];
	unsigned long long start = 0;
	int len, r;

	r = nook_proc_starttime(getpid(), &start);
	if (r < 0)
		return r;
	inet_ntop(AF_INET, &n->addr4, a4, sizeof(a4));
	if (n->v6)
		inet_ntop(AF_INET6, &n->addr6, a6, sizeof(a6));
	len = snprintf(line, sizeof(line), "%s %d %llu %c%c %s %s\n", u->name, getpid(), start,
		       u->set.isolate ? '-' : 's', u->set.host_access ? 'h' : '-', a4, a6);
	if (len < 0 || (size_t) len >= sizeof(line))
		return -ENOBUFS;
	return nook_write_all(fd, line, (size_t) len);
}

/* Takes the first free address from uid % size on. Called under the lock. */
int lease_take(int bdir, const struct nook_user *u, struct nook_net *n)
{
	const struct nook_cidr *s4 = &u->set.bridge_subnet;
	unsigned size = nook_net_n_addresses(s4);

	for (unsigned k = 0; k < size; k++) {
		unsigned i = (unsigned) ((u->uid + k) % size);
		char name[16];
		_cleanup_close_ int fd = -EBADF;
		int r;

		snprintf(name, sizeof(name), "%u", i);
		fd = openat(bdir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno == EEXIST) {
			struct lease l;

			/* Taken: by a live keeper of another user (next one),
			 * or a leftover of a dead keeper (take it over). */
			if (lease_read(bdir, name, &l) >= 0 && strcmp(l.user, u->name) != 0 &&
			    lease_alive(&l))
				continue;
			(void) unlinkat(bdir, name, 0);
			n->took_over = true;
			fd = openat(bdir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		}
		if (fd < 0)
			return -errno;
		n->index = i;
		(void) nook_net_address(s4, i, &n->addr4);
		nook_net_gateway(s4, &n->gw4);
		n->v6 = u->set.bridge_subnet6.family == AF_INET6;
		if (n->v6) {
			(void) nook_net_address(&u->set.bridge_subnet6, i, &n->addr6);
			nook_net_gateway(&u->set.bridge_subnet6, &n->gw6);
		}
		r = lease_write(fd, u, n);
		if (r < 0) {
			(void) unlinkat(bdir, name, 0);
			return r;
		}
		n->leased = true;
		return 0;
	}
	return -EADDRNOTAVAIL;
}

DIR *net_dir_scan(int dir)
{
	int fd = dup(dir);
	DIR *d;

	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (!d) {
		(void) close(fd);
		return NULL;
	}
	/* The dup shares DIR's offset, which an earlier scan left at the end. */
	rewinddir(d);
	return d;
}

/* Calls FN for every readable lease in every bridge's directory of DIR. */
int for_each_lease(int dir, lease_fn fn, void *arg)
{
	_cleanup_closedir_ DIR *d = net_dir_scan(dir);
	struct dirent *e;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		_cleanup_closedir_ DIR *b = NULL;
		struct dirent *le;
		int bfd;

		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		bfd = openat(dir, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (bfd < 0)
			continue;
		b = net_dir_scan(bfd);
		(void) close(bfd);
		if (!b)
			continue;
		while ((le = readdir(b))) {
			struct lease l;

			if (le->d_name[0] != '.' && lease_read(dirfd(b), le->d_name, &l) >= 0)
				fn(dirfd(b), le->d_name, &l, arg);
		}
	}
	return 0;
}

static void count_alive(int bdir, const char *name, const struct lease *l, void *arg)
{
	(void) bdir;
	(void) name;
	if (lease_alive(l))
		(*(int *) arg)++;
}

/* Live leases in every bridge's directory (none: the table can go). */
int leases_alive(int dir)
{
	int n = 0, r = for_each_lease(dir, count_alive, &n);

	return r < 0 ? r : n;
}
