/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The user's crontab (issue 12). crontab(1) inside writes the image's
 * /var/spool/cron/crontabs/<user>, a directory of the user's own in the
 * upper layer (rootfs_cron_spool, run by init). The host's cron runs the
 * jobs: the keeper installs the same crontab on the host with the host's
 * crontab(1) (root's `crontab -u USER -`, which checks it as it checks any
 * user's), whenever the one inside changes (inotify) and when the
 * container starts; a crontab removed inside is removed on the host. cron
 * opens a PAM session for each job, and pam_nook in /etc/pam.d/cron puts
 * the job into the container (started for it when it is not running);
 * without that line pam_nook's account hook refuses the job (policy.c).
 *
 * Host root reads the user's tree only through init's root, beneath it,
 * with no symlink followed, and opens nothing it keeps: an open fd in the
 * overlay would pin the image after the container died. A host crontab of
 * a user who has none in the image yet (from before they were selected) is
 * copied in once, written with the user's fs ids, so that `crontab -l`
 * inside shows what runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "mount-internal.h"
#include "nook.h"
#include "pam-service.h"
#include "util.h"

#define CRONTAB "/usr/bin/crontab"
#define CRON_DAEMON "/usr/sbin/cron"
#define SPOOL "var/spool/cron/crontabs"
#define CRONTAB_MAX ((size_t) 64 * 1024)
#define CRON_JOBS_MAX 100
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)
#define WATCH_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ONLYDIR)

/* ---- init: the spool inside ---- */

/* NAME in DIR, the user's, MODE; made if missing (an existing one, the
 * user's from an earlier start, is kept as it is). */
static int user_dir(struct build *b, int dir, const char *name, const struct nook_user *u, mode_t mode,
		    bool opaque)
{
	_cleanup_close_ int fd = -EBADF;
	bool made = mkdirat(dir, name, 0700) == 0;

	if (!made && errno != EEXIST)
		return rootfs_fail(b, -errno, "creating /var/spool/%s in the image", name);
	fd = nook_open_beneath(dir, name, O_RDONLY | O_DIRECTORY);
	if (fd < 0 && !made)
		return -ENOTDIR; /* the user made it something else: no cron, still a login */
	if (fd < 0)
		return rootfs_fail(b, fd, "/var/spool/%s in the image", name);
	if (made && (fchown(fd, u->uid, u->gid) < 0 || fchmod(fd, mode) < 0 ||
		     (opaque && fsetxattr(fd, "user.overlay.opaque", "y", 1, 0) < 0)))
		return rootfs_fail(b, -errno, "/var/spool/%s in the image", name);
	return TAKE_FD(fd);
}

int rootfs_cron_spool(struct build *b, const struct nook_user *u)
{
	_cleanup_close_ int lower = open("lower", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int upper = open("image/upper", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int lo_var = -EBADF, lo_spool = -EBADF, up_var = -EBADF, up_spool = -EBADF;
	_cleanup_close_ int up_cron = -EBADF, up_tabs = -EBADF;
	struct stat st;

	if (lower < 0 || upper < 0)
		return rootfs_fail(b, -errno, "staging layers");
	lo_var = nook_open_beneath(lower, "var", O_PATH | O_DIRECTORY);
	lo_spool = lo_var < 0 ? lo_var : nook_open_beneath(lo_var, "spool", O_PATH | O_DIRECTORY);
	if (lo_spool < 0 || fstatat(lo_spool, "cron/crontabs", &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISDIR(st.st_mode))
		return 0; /* no cron in the lower layer */
	up_var = rootfs_upper_like_lower(b, upper, lower, "var");
	if (up_var < 0)
		return up_var;
	up_spool = rootfs_upper_like_lower(b, up_var, lo_var, "spool");
	if (up_spool < 0)
		return up_spool;
	/* crontab(1) makes its temporary file in /var/spool/cron and renames
	 * it into crontabs/: both the user's. Opaque: the host's at and cron
	 * spools never show. */
	up_cron = user_dir(b, up_spool, "cron", u, 0755, true);
	if (up_cron < 0)
		return up_cron == -ENOTDIR ? 0 : up_cron;
	up_tabs = user_dir(b, up_cron, "crontabs", u, 0700, false);
	return up_tabs < 0 && up_tabs != -ENOTDIR ? up_tabs : 0;
}

/* ---- keeper: the host's copy ---- */

/* The container's spool directory (O_PATH), through init's root. */
static int spool_inside(pid_t init_pid, int init_pidfd)
{
	_cleanup_close_ int root = nook_init_root_open(init_pid, init_pidfd);
	int r;

	if (root < 0)
		return root;
	r = nook_open_beneath(root, SPOOL, O_PATH | O_DIRECTORY);
	/* A missing spool means no crontab only while init still runs. */
	if (nook_pidfd_exited(init_pidfd)) {
		if (r >= 0)
			(void) close(r);
		return -ESRCH;
	}
	return r;
}

/* The user's crontab inside, into BUF (NUL-terminated): its length,
 * -ENOENT if there is none, another -errno if it is not one to install. */
static int read_inside(int dir, const struct nook_user *u, char *buf, size_t size)
{
	_cleanup_close_ int fd = nook_open_beneath(dir, u->name, O_RDONLY | O_NONBLOCK | O_NOCTTY);
	struct stat st;
	int n;

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_uid != u->uid)
		return -EPERM;
	if (st.st_size >= (off_t) size - 1)
		return -EFBIG;
	n = nook_read_all(fd, buf, size);
	if (n >= (int) size - 1)
		return -EFBIG; /* it grew since the fstat */
	if (n >= 0 && memchr(buf, '\0', (size_t) n))
		return -EINVAL;
	return n;
}

/* crontab(1) puts three comment lines on top of every file it installs
 * (Debian's "DO NOT EDIT THIS FILE", then when and which version) and
 * skips them in -l: dropped here, or every install would add three more. */
static int strip_header(char *buf, int n)
{
	static const char mark[] = "# DO NOT EDIT THIS FILE";
	char *p = buf;

	if (strncmp(buf, mark, sizeof(mark) - 1) != 0)
		return n;
	for (int lines = 0; lines < 3 && p; lines++) {
		p = memchr(p, '\n', (size_t) (buf + n - p));
		if (p)
			p++;
	}
	if (!p) {
		buf[0] = '\0';
		return 0;
	}
	memmove(buf, p, (size_t) (buf + n - p) + 1);
	return (int) (n - (p - buf));
}

/* The job lines of a crontab (a schedule or an @keyword first; not a
 * comment or an environment line). Each job runs on the host first (cron's
 * fork and PAM, outside the user's cgroup): their number is bounded. */
static unsigned count_jobs(const char *text)
{
	unsigned n = 0;

	for (const char *p = text; *p;) {
		p += strspn(p, " \t");
		if ((*p >= '0' && *p <= '9') || *p == '*' || *p == '@')
			n++;
		p = strchrnul(p, '\n');
		if (*p)
			p++;
	}
	return n;
}

/* Runs crontab -u USER ARG with IN as its stdin; what it prints (the
 * crontab for -l, why it failed otherwise) into OUT, NUL-terminated. Its
 * exit status, or -errno. */
static int crontab(const struct nook_user *u, const char *arg, int in, char *out, size_t size)
{
	char user[NOOK_USER_MAX + 1];
	char *argv[] = { CRONTAB, "-u", user, (char *) arg, NULL };
	_cleanup_close_ int msg = memfd_create("crontab-output", MFD_CLOEXEC);
	int r;

	snprintf(user, sizeof(user), "%s", u->name);
	out[0] = '\0';
	if (msg < 0)
		return -errno;
	r = nook_run_tool_fds(argv, in, msg);
	if (lseek(msg, 0, SEEK_SET) != 0 || nook_read_all(msg, out, size) < 0)
		out[0] = '\0';
	return r;
}

/* Installs the crontab inside on the host, or removes the host's when
 * there is none inside. */
static void sync_to_host(const struct nook_user *u, int dir)
{
	_cleanup_free_ char *buf = malloc(CRONTAB_MAX);
	_cleanup_close_ int in = -EBADF;
	char out[512];
	int n, r;

	if (!buf)
		return;
	buf[0] = '\0';
	n = dir < 0 ? dir : read_inside(dir, u, buf, CRONTAB_MAX);
	if (n == -ENOENT) {
		r = crontab(u, "-r", -1, out, sizeof(out));
		out[strcspn(out, "\n")] = '\0';
		if (r != 0 && !strstr(out, "no crontab"))
			log_warn(
				"cannot remove the host's crontab of '%s' (its crontab was removed inside): %s",
				u->name, r < 0 ? strerror(-r) : out);
		return;
	}
	if (n >= 0)
		n = strip_header(buf, n);
	if (n >= 0 && count_jobs(buf) > CRON_JOBS_MAX)
		n = -E2BIG;
	if (n < 0) {
		log_warn("not installing the crontab of '%s' on the host: /%s/%s inside: %s", u->name, SPOOL,
			 u->name,
			 n == -EPERM   ? "not a regular file of theirs"
			 : n == -E2BIG ? "more than " STRINGIFY(CRON_JOBS_MAX) " jobs"
				       : strerror(-n));
		return;
	}
	/* Installing where the jobs would not enter the container would be
	 * worse than nothing: only for a cron daemon that opens PAM sessions
	 * (Debian's cron, cronie: /usr/sbin/cron) with pam_nook's line in
	 * its file. systemd-cron, busybox crond and others ship a crontab(1)
	 * but run jobs without PAM. */
	if (access(CRON_DAEMON, X_OK) < 0 || nook_pam_service_enters("cron") <= 0) {
		log_warn(
			"not installing the crontab of '%s' on the host: its jobs would not enter the "
			"container (needs %s and a 'session required pam_nook.so' line in /etc/pam.d/cron; "
			"pam_nook(8), CRON)",
			u->name, CRON_DAEMON);
		return;
	}
	in = memfd_create("crontab", MFD_CLOEXEC);
	if (in < 0 || nook_write_all(in, buf, (size_t) n) < 0 || lseek(in, 0, SEEK_SET) != 0) {
		log_warn("cannot install the crontab of '%s' on the host: %s", u->name, strerror(errno));
		return;
	}
	r = crontab(u, "-", in, out, sizeof(out));
	out[strcspn(out, "\n")] = '\0';
	if (r != 0)
		log_warn("cron refused the crontab of '%s': %s", u->name, r < 0 ? strerror(-r) : out);
}

/* A host crontab of a user with none inside yet, copied in (their fs ids:
 * host root cannot create files in the idmapped overlay, and must not
 * write where the user could not). */
static void import_from_host(const struct nook_user *u, int dir)
{
	static const char tmp[] = ".nook-import";
	_cleanup_free_ char *buf = malloc(CRONTAB_MAX);
	_cleanup_close_ int fd = -EBADF;
	int n, r;

	/* As `crontab -l` shows it; none: "no crontab for". */
	if (!buf || crontab(u, "-l", -1, buf, CRONTAB_MAX) != 0 || !*buf)
		return;
	n = (int) strlen(buf);
	(void) setfsgid(u->gid);
	(void) setfsuid(u->uid);
	/* setfsuid() reports no error: read the ids back. */
	if ((uid_t) setfsuid((uid_t) -1) != u->uid || (gid_t) setfsgid((gid_t) -1) != u->gid) {
		r = -EPERM;
		goto out;
	}
	(void) unlinkat(dir, tmp, 0);
	fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	r = fd < 0 ? -errno : nook_write_all(fd, buf, (size_t) n);
	if (r >= 0 && renameat2(dir, tmp, dir, u->name, RENAME_NOREPLACE) < 0)
		r = -errno;
	if (r < 0)
		(void) unlinkat(dir, tmp, 0);
out:
	(void) setfsuid(0);
	(void) setfsgid(0);
	if (r < 0)
		log_warn("cannot copy the host's crontab of '%s' into their container: %s", u->name,
			 strerror(-r));
}

/* The host's spool has a crontab of the user's (a stat, no exec: this
 * runs on every start). */
static bool host_has(const struct nook_user *u)
{
	char path[sizeof("/" SPOOL "/") + NOOK_USER_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "/%s/%s", SPOOL, u->name);
	return lstat(path, &st) == 0;
}

/* An inotify instance charged to UID, not to root: the kernel counts
 * instances per user (max_user_instances, 128 by default), and one per
 * container must not use up root's. */
static int inotify_as(uid_t uid)
{
	int fd, e;

	if (setresuid((uid_t) -1, uid, (uid_t) -1) < 0)
		return -errno;
	fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	e = errno;
	if (setresuid((uid_t) -1, 0, (uid_t) -1) < 0 || geteuid() != 0) {
		log_err("cannot become root again after the crontab watch: %s", strerror(errno));
		_exit(1); /* a keeper without its privileges cannot stop the container */
	}
	return fd < 0 ? -e : fd;
}

int nook_cron_start(struct nook_cron *c, const struct nook_user *u, pid_t init_pid, int init_pidfd)
{
	_cleanup_close_ int dir = -EBADF;
	char self[64];
	struct stat st;

	c->ifd = -EBADF;
	c->pending = false;
	c->init_pid = init_pid;
	c->init_pidfd = init_pidfd;
	if (access(CRONTAB, X_OK) < 0)
		return 0; /* no cron on the host */
	dir = spool_inside(init_pid, init_pidfd);
	if (dir == -ENOENT)
		return 0; /* none inside (no cron in the lower layer) */
	if (dir < 0)
		return dir;
	if (fstatat(dir, u->name, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT && host_has(u))
		import_from_host(u, dir);
	c->ifd = inotify_as(u->uid);
	if (c->ifd < 0)
		return c->ifd;
	snprintf(self, sizeof(self), "/proc/self/fd/%d", dir);
	if (inotify_add_watch(c->ifd, self, WATCH_MASK) < 0) {
		int r = -errno;

		nook_cron_close(c);
		return r;
	}
	/* Only a crontab inside is installed at start (one removed inside
	 * was removed on the host when it happened), and not before the
	 * login that started the container is in: nook_cron_pending. */
	c->pending = fstatat(dir, u->name, &st, AT_SYMLINK_NOFOLLOW) == 0;
	return 0;
}

void nook_cron_pending(struct nook_cron *c, const struct nook_user *u)
{
	_cleanup_close_ int dir = spool_inside(c->init_pid, c->init_pidfd);

	c->pending = false;
	if (dir == -ESRCH)
		return;       /* the container is ending: the host's copy stays */
	sync_to_host(u, dir); /* no directory (-ENOENT): no crontab */
}

void nook_cron_changed(struct nook_cron *c, const struct nook_user *u)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool ours = false, gone = false;
	ssize_t n;

	while ((n = read(c->ifd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *) p;

			if (ev->mask & (IN_Q_OVERFLOW | IN_IGNORED))
				ours = true;
			if (ev->mask & IN_IGNORED)
				gone = true; /* the directory itself was removed */
			if (ev->len && strcmp(ev->name, u->name) == 0)
				ours = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	/* Installed once the keeper has been idle a while: a user who keeps
	 * rewriting the file costs an inotify read each time, not a
	 * crontab(1) of root's outside their cgroup. */
	if (ours)
		c->pending = true;
	if (gone)
		nook_cron_close(c);
}

void nook_cron_close(struct nook_cron *c)
{
	if (c->ifd >= 0)
		(void) close(c->ifd);
	c->ifd = -EBADF;
}
