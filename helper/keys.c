/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The keys sshd honours for a selected user: the ~/.ssh/authorized_keys the
 * user sees inside, printed for sshd's AuthorizedKeysCommand
 * ("nook-helper keys %u"). sshd itself would read the host's home, which a
 * contained user never sees: a key added inside would be refused and, worse,
 * a key removed inside would keep working.
 *
 * Where the file is read from, under the user's lock (so that no container
 * starts or stops halfway through):
 *   - the container runs: through init's root (/proc/<init>/root, init
 *     named by the keeper together with a pidfd, so a reused pid is never
 *     taken for it). The image is mounted read-write there; reading it from
 *     the block level would miss what the page cache has not written back,
 *     e.g. a key removed a second ago;
 *   - it does not run: from the image with libext2fs, read-only, without
 *     mounting it (no loop device, no kernel parsing of a user-written file
 *     system). The home is opaque in the overlay (image.c), so upper/<home>
 *     is exactly what the user sees inside. A journal that needs replaying
 *     is replayed first (nook_image_fsck, as a start does): reading past it
 *     would serve keys the user has since removed;
 *   - there is no image yet (the first login): the host's file, which
 *     image.c copies into the new image (nook_keys_seed).
 *
 * Every path is walked one component at a time without following symlinks
 * (openat2 RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS, or inode by inode in
 * the image), and checked as sshd's StrictModes would: the directories up
 * to the home owned by root or the user, ~/.ssh and the file owned by the
 * user (uids inside are the host's for the user: the identity mapping),
 * nothing group- or world-writable, the file a regular one of at most
 * KEYS_MAX bytes. Only key lines go out: no comments, blanks or control
 * characters. A missing file is no keys; anything unsafe or unreadable is no
 * keys and an error (fail closed, logged).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <ext2fs/ext2fs.h>

#include "cleanup.h"
#include "log.h"
#include "nook.h"

/* More than any real authorized_keys; a bigger file is refused, not cut. */
#define KEYS_MAX ((size_t) 256 * 1024)
/* sshd's own limit for one key (SSH_MAX_PUBKEY_BYTES). */
#define KEY_LINE_MAX 16384
/* How long a stopping container may keep its image before we give up. */
#define KEYS_RELEASE_WAIT_MS 3000
#define KEYS_LOCK_WAIT_MS 10000

struct keys_buf {
	char *data; /* KEYS_MAX + 1 */
	size_t len;
};

/* What each step of the walk must be. */
enum node_kind {
	NODE_PATH, /* a directory on the way to the home, or the home */
	NODE_SSH,  /* ~/.ssh */
	NODE_FILE, /* ~/.ssh/authorized_keys */
};

static const char *const node_name[] = {
	[NODE_PATH] = "directory",
	[NODE_SSH] = "directory",
	[NODE_FILE] = "file",
};

/* sshd's StrictModes, stricter for ~/.ssh: it must be the user's own, not
 * root's (nothing of the user's is root's inside). WHERE names the source
 * for the log. */
static int check_node(const struct nook_user *u, const char *where, uid_t root, const char *path,
		      enum node_kind kind, uid_t uid, mode_t mode, uint64_t size)
{
	bool dir = kind != NODE_FILE;

	if (dir ? !S_ISDIR(mode) : !S_ISREG(mode)) {
		log_err("keys of '%s': %s%s is not a %s (symlinks are never followed); no keys", u->name,
			where, path, node_name[kind]);
		return -EPERM;
	}
	if (kind == NODE_PATH ? (uid != root && uid != u->uid) : uid != u->uid) {
		log_err("keys of '%s': %s%s is owned by uid %u, not by %s; no keys", u->name, where, path,
			(unsigned) uid, kind == NODE_PATH ? "root or the user" : "the user");
		return -EPERM;
	}
	if (mode & (S_IWGRP | S_IWOTH)) {
		log_err("keys of '%s': %s%s is writable by group or others (mode %04o); chmod go-w it; no keys",
			u->name, where, path, (unsigned) (mode & 07777));
		return -EPERM;
	}
	if (kind == NODE_FILE && size > KEYS_MAX) {
		log_err("keys of '%s': %s%s is larger than %zu bytes; no keys", u->name, where, path,
			KEYS_MAX);
		return -EFBIG;
	}
	return 0;
}

/* The components of the home, then .ssh and authorized_keys, each with its
 * kind. Returns their number; the home was checked by nook_user_load. */
#define KEYS_MAX_DEPTH 64
static int path_components(const struct nook_user *u, char *copy, size_t size, char *comp[KEYS_MAX_DEPTH],
			   enum node_kind kind[KEYS_MAX_DEPTH])
{
	int n = 0;

	if ((size_t) snprintf(copy, size, "%s", u->home) >= size)
		return -ENAMETOOLONG;
	for (char *save = NULL, *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (strcmp(c, ".") == 0 || strcmp(c, "..") == 0 || n >= KEYS_MAX_DEPTH - 2)
			return -EINVAL;
		kind[n] = NODE_PATH;
		comp[n++] = c;
	}
	kind[n] = NODE_SSH;
	comp[n++] = (char *) ".ssh";
	kind[n] = NODE_FILE;
	comp[n++] = (char *) "authorized_keys";
	return n;
}

/* ---- through a directory tree (a running container's root, the host) ---- */

static int open_step(int dirfd, const char *name)
{
	struct open_how how = {
		.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int) syscall(SYS_openat2, dirfd, name, &how, sizeof(how));

	return fd < 0 ? -errno : fd;
}

/* Reads ROOT_FD/<home>/.ssh/authorized_keys into OUT; 0 with nothing read
 * when it does not exist. ROOT is the host uid of root there. */
static int read_tree(const struct nook_user *u, const char *where, uid_t root, int root_fd,
		     struct keys_buf *out)
{
	char copy[1024], path[1200] = "";
	char *comp[KEYS_MAX_DEPTH];
	enum node_kind kind[KEYS_MAX_DEPTH];
	_cleanup_close_ int cur = -EBADF;
	int n, r;

	n = path_components(u, copy, sizeof(copy), comp, kind);
	if (n < 0)
		return n;
	{
		struct stat st;

		/* The root itself, like every directory above the home. */
		if (fstat(root_fd, &st) < 0)
			return -errno;
		r = check_node(u, where, root, "/", NODE_PATH, st.st_uid, st.st_mode, 0);
		if (r < 0)
			return r;
	}
	for (int i = 0; i < n; i++) {
		int dirfd = cur >= 0 ? cur : root_fd;
		_cleanup_close_ int fd = -EBADF;
		struct stat st;

		snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%s", comp[i]);
		fd = open_step(dirfd, comp[i]);
		if (fd == -ENOENT)
			return 0;
		if (fd == -ELOOP || fd == -EXDEV) {
			log_err("keys of '%s': %s%s is a symlink, which is never followed; no keys", u->name,
				where, path);
			return -EPERM;
		}
		if (fd < 0) {
			log_err("keys of '%s': %s%s: %s; no keys", u->name, where, path, strerror(-fd));
			return fd;
		}
		if (fstat(fd, &st) < 0)
			return -errno;
		r = check_node(u, where, root, path, kind[i], st.st_uid, st.st_mode, (uint64_t) st.st_size);
		if (r < 0)
			return r;
		if (cur >= 0)
			(void) close(cur);
		cur = TAKE_FD(fd);
	}
	{
		/* The checked inode itself, opened for reading only now: an
		 * O_PATH open touches no FIFO or device. */
		char self[64];
		_cleanup_close_ int fd = -EBADF;
		ssize_t got;

		snprintf(self, sizeof(self), "/proc/self/fd/%d", cur);
		fd = open(self, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0) {
			log_err("keys of '%s': %s%s: %s; no keys", u->name, where, path, strerror(errno));
			return -errno;
		}
		out->len = 0;
		while (out->len <= KEYS_MAX &&
		       (got = read(fd, out->data + out->len, KEYS_MAX + 1 - out->len)) != 0) {
			if (got < 0) {
				if (errno == EINTR)
					continue;
				log_err("keys of '%s': reading %s%s: %s; no keys", u->name, where, path,
					strerror(errno));
				return -errno;
			}
			out->len += (size_t) got;
		}
		if (out->len > KEYS_MAX) {
			log_err("keys of '%s': %s%s grew beyond %zu bytes; no keys", u->name, where, path,
				KEYS_MAX);
			return -EFBIG;
		}
	}
	return 0;
}

/* The running container's view, through init's root. */
static int read_running(const struct nook_user *u, const struct nook_session_info *info, struct keys_buf *out)
{
	char path[64];
	_cleanup_close_ int root = -EBADF;
	struct nook_subid sub;
	int r;

	/* The pidfd came from the keeper. */
	root = nook_init_root_open(info->init_pid, info->init_pidfd);
	if (root == -ESRCH) {
		log_err("keys of '%s': the container's init (pid %d) ended while its keys were read; no keys",
			u->name, info->init_pid);
		return root;
	}
	if (root < 0) {
		snprintf(path, sizeof(path), "/proc/%d/root", info->init_pid);
		log_err("keys of '%s': cannot open %s: %s; no keys", u->name, path, strerror(-root));
		return root;
	}
	/* Root inside (what owns /, /home) is the first subordinate uid
	 * (userns.c); on-disk in the image it is 0. */
	r = nook_subid_get(u, &sub);
	if (r < 0) {
		log_err("keys of '%s': no subordinate ids: %s; no keys", u->name, strerror(-r));
		return r;
	}
	return read_tree(u, "the container's ", (uid_t) sub.uid_base, root, out);
}

/* ---- from the image, not mounted ---- */

static int ext2_err(errcode_t e)
{
	return e == EXT2_ET_FILE_NOT_FOUND ? -ENOENT : e == EXT2_ET_NO_MEMORY ? -ENOMEM : -EIO;
}

static int read_ext2(const struct nook_user *u, const struct nook_image *img, struct keys_buf *out)
{
	char copy[1024], path[1200] = "";
	char *comp[KEYS_MAX_DEPTH];
	enum node_kind kind[KEYS_MAX_DEPTH];
	ext2_filsys fs = NULL;
	ext2_ino_t ino = EXT2_ROOT_INO;
	struct ext2_inode inode;
	errcode_t e;
	int n, r = 0;

	n = path_components(u, copy, sizeof(copy), comp, kind);
	if (n < 0)
		return n;
	e = nook_image_ext2_open(img, EXT2_FLAG_64BITS, &fs);
	if (e) {
		log_err("keys of '%s': cannot read image %s: %s; no keys", u->name, img->path,
			error_message(e));
		return -EIO;
	}
	/* The overlay's upper layer: the root of what the user sees. */
	e = ext2fs_lookup(fs, EXT2_ROOT_INO, "upper", 5, NULL, &ino);
	if (e) {
		r = ext2_err(e) == -ENOENT ? 0 : ext2_err(e);
		goto out;
	}
	e = ext2fs_read_inode(fs, ino, &inode);
	if (e == 0)
		r = check_node(u, "the image's ", 0, "/", NODE_PATH, inode_uid(inode), inode.i_mode, 0);
	for (int i = 0; e == 0 && r == 0 && i < n; i++) {
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%s", comp[i]);
		e = ext2fs_lookup(fs, ino, comp[i], (int) strlen(comp[i]), NULL, &ino);
		if (e == EXT2_ET_FILE_NOT_FOUND) {
			e = 0;
			goto out; /* no file: no keys */
		}
		if (e == 0)
			e = ext2fs_read_inode(fs, ino, &inode);
		if (e == 0)
			r = check_node(u, "the image's ", 0, path, kind[i], inode_uid(inode), inode.i_mode,
				       EXT2_I_SIZE(&inode));
	}
	if (e == 0 && r == 0) {
		ext2_file_t f = NULL;
		unsigned got;

		out->len = 0;
		e = ext2fs_file_open(fs, ino, 0, &f);
		while (e == 0 && out->len <= KEYS_MAX) {
			e = ext2fs_file_read(f, out->data + out->len, (unsigned) (KEYS_MAX + 1 - out->len),
					     &got);
			if (e || got == 0)
				break;
			out->len += got;
		}
		if (f)
			(void) ext2fs_file_close(f);
		if (e == 0 && out->len > KEYS_MAX)
			r = -EFBIG;
	}
out:
	if (e) {
		log_err("keys of '%s': reading %s in image %s: %s; no keys", u->name,
			path[0] ? path : "/upper", img->path, error_message(e));
		r = ext2_err(e);
	}
	ext2fs_close_free(&fs);
	return r;
}

/* Under the user's lock, with no keeper answering: the image, once nothing
 * has it mounted. */
static int read_stopped(const struct nook_user *u, struct keys_buf *out)
{
	struct nook_image img = { .dir_fd = -EBADF, .fd = -EBADF };
	_cleanup_close_ int own = -EBADF;
	char self[64];
	int r;

	r = nook_image_open(u, false, &img);
	if (r == -ENOENT) {
		/* The first login: what it will find inside is the host's file
		 * (nook_keys_seed), so that is what it may log in with. */
		_cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

		if (root < 0)
			return -errno;
		return read_tree(u, "the host's ", 0, root, out);
	}
	if (r < 0)
		return r;
	/* Every keeper holds an exclusive flock on the image for its whole
	 * life (nook_image_lock): a keeper that does not answer but holds it
	 * is stopping, and the image may still be mounted read-write. No new
	 * keeper can appear meanwhile: we hold the user's lock. */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", img.fd);
	own = open(self, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (own < 0) {
		r = -errno;
		goto out;
	}
	if (flock(own, LOCK_SH | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		log_err("keys of '%s': the keeper of the container still holds image %s (it is stopping); "
			"no keys this time",
			u->name, img.path);
		goto out;
	}
	/* A keeper killed with -9 leaves the loop device to the kernel's
	 * autoclear, which ends when the last mount goes. */
	r = nook_image_wait_released(&img, KEYS_RELEASE_WAIT_MS);
	if (r < 0) {
		log_err("keys of '%s': image %s is still attached to a loop device; no keys this time",
			u->name, img.path);
		goto out;
	}
	r = nook_image_fsck(&img);
	if (r < 0) {
		log_err("keys of '%s': image %s cannot be checked; no keys", u->name, img.path);
		goto out;
	}
	r = read_ext2(u, &img, out);
out:
	nook_image_close(&img);
	return r;
}

/* ---- key lines ---- */

int nook_keys_filter(const char *buf, size_t len, FILE *out)
{
	int n = 0;

	for (size_t start = 0, end; start < len; start = end + 1) {
		const char *line = buf + start;
		size_t l, lead = 0;
		bool bad = false;

		for (end = start; end < len && buf[end] != '\n'; end++)
			;
		l = end - start;
		if (l > 0 && line[l - 1] == '\r')
			l--;
		while (lead < l && (line[lead] == ' ' || line[lead] == '\t'))
			lead++;
		if (lead == l || line[lead] == '#' || l > KEY_LINE_MAX)
			continue;
		/* NUL, CR or escape sequences have no place in a key line, and
		 * sshd's parser is not where to find out what they do. */
		for (size_t i = 0; i < l && !bad; i++)
			bad = ((unsigned char) line[i] < 0x20 && line[i] != '\t') || line[i] == 0x7f;
		if (bad)
			continue;
		if (fwrite(line, 1, l, out) != l || fputc('\n', out) == EOF)
			return -EIO;
		n++;
	}
	return fflush(out) == EOF ? -EIO : n;
}

/* ---- entry points ---- */

int nook_keys_selected(const char *conf_path, const char *name, struct nook_user *ret)
{
	struct nook_conf *conf = NULL;
	_cleanup_free_ char *err = NULL;
	struct passwd *pw;
	gid_t groups[NOOK_MAX_GROUPS];
	int n = NOOK_MAX_GROUPS, r;

	errno = 0;
	pw = getpwnam(name);
	if (!pw || pw->pw_uid == 0)
		return 0; /* sshd refuses unknown users itself; root is never contained */
	if (getgrouplist(name, pw->pw_gid, groups, &n) < 0) {
		log_err("keys of '%s': in more than %d groups", name, NOOK_MAX_GROUPS);
		return -E2BIG;
	}
	r = nook_conf_load(conf_path, &conf, &err);
	if (r < 0) {
		log_err("keys of '%s': %s", name, err ? err : strerror(-r));
		return r;
	}
	r = nook_conf_selected(conf, name, pw->pw_gid, groups, (size_t) n);
	nook_conf_free(conf);
	if (r <= 0)
		return r;
	r = nook_user_load(conf_path, name, ret);
	return r < 0 ? r : 1;
}

int nook_keys_print(const struct nook_user *u, FILE *out)
{
	_cleanup_close_ int rundir = -EBADF, lock = -EBADF, sock = -EBADF;
	struct keys_buf buf = { .data = malloc(KEYS_MAX + 1) };
	struct nook_session_info info = { .init_pidfd = -EBADF };
	int r;

	if (!buf.data)
		return -ENOMEM;
	rundir = nook_rundir_open(u->name, true);
	if (rundir < 0) {
		log_err("keys of '%s': cannot prepare " NOOK_RUN_DIR "/%s: %s", u->name, u->name,
			strerror(-rundir));
		r = rundir;
		goto out;
	}
	/* Containers start and stop (from a login, nookctl) under this lock. */
	lock = nook_lock_user(rundir, u->name, KEYS_LOCK_WAIT_MS);
	if (lock < 0) {
		r = lock;
		goto out;
	}
	sock = nook_ctl_connect(rundir);
	if (sock >= 0 && nook_ctl_attach(sock, &info) >= 0) {
		r = read_running(u, &info, &buf);
		if (info.init_pidfd >= 0)
			(void) close(info.init_pidfd);
	} else {
		r = read_stopped(u, &buf);
	}
	if (r >= 0)
		r = nook_keys_filter(buf.data, buf.len, out);
out:
	free(buf.data);
	return r < 0 ? r : 0;
}

/*
 * A new image's home gets the host's authorized_keys, read with the same
 * rules: the first login was let in with it (nook_keys_print found no
 * image), and the second must not be refused for lack of it.
 */
int nook_keys_seed(const struct nook_user *u, int home_fd)
{
	struct keys_buf buf = { .data = malloc(KEYS_MAX + 1) };
	_cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int ssh = -EBADF, fd = -EBADF;
	int r;

	if (!buf.data)
		return -ENOMEM;
	r = root < 0 ? -errno : read_tree(u, "the host's ", 0, root, &buf);
	if (r < 0 || buf.len == 0)
		goto out; /* nothing (safe) to copy: the image starts without */
	if (mkdirat(home_fd, ".ssh", 0700) < 0 && errno != EEXIST) {
		r = -errno;
		goto out;
	}
	ssh = openat(home_fd, ".ssh", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (ssh < 0 || fchown(ssh, u->uid, u->gid) < 0 || fchmod(ssh, 0700) < 0) {
		r = -errno;
		goto out;
	}
	fd = openat(ssh, "authorized_keys", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || fchown(fd, u->uid, u->gid) < 0) {
		r = -errno;
		goto out;
	}
	r = nook_write_all(fd, buf.data, buf.len);
out:
	free(buf.data);
	return r < 0 ? r : 0;
}
