/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The image's file system, checked before every start, and a true account
 * of a mount the kernel refuses.
 *
 * Two kinds of damage get two answers:
 * - what ext4 itself flagged in the superblock (errors the kernel saw, a
 *   journal to replay, a periodic check due): e2fsck -p, the repair a boot
 *   makes unattended; the log says what it did.
 * - damage ext4 never recorded (an unreadable superblock, bad group
 *   descriptors, a bad root or journal inode: the image was changed from
 *   outside, by a failing disk or a person): found read-only, and the
 *   image is neither mounted nor changed; a person decides. The kernel must not see such an image: its failed mount
 *   records the error in the superblock and the journal (ext4_fill_super,
 *   ext4_iget, ext4_error_inode), and the next start would repair it.
 *
 * The reading before a mount is done in-process with libext2fs, reading
 * what the kernel reads when it mounts (a few blocks): a fork and exec of
 * e2fsck, or its pass over every inode, on each start would cost more than
 * the whole start. e2fsck runs only for a repair, and read-only (-fn) for
 * a verdict on a mount the kernel refused: a full check is its job, not
 * ours to imitate.
 */
#include <errno.h>
#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "nook.h"

#define E2FSCK "/sbin/e2fsck"

/* e2fsck's exit status is a set of these (e2fsck(8)). */
#define FSCK_CORRECTED 1
#define FSCK_REBOOT 2
#define FSCK_UNCORRECTED 4

/* Runs e2fsck with OPTS on the very file we opened and verified, not on a
 * path that could have been swapped meanwhile. */
static int e2fsck(const struct nook_image *img, const char *opts)
{
	_cleanup_close_ int fd = fcntl(img->fd, F_DUPFD, 3); /* without CLOEXEC, for e2fsck */
	char fdpath[64];
	char *argv[] = { E2FSCK, (char *) opts, fdpath, NULL };

	if (fd < 0)
		return -errno;
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
	/* -n: the verdict is ours to report (its findings are the admin's,
	 * with e2fsck -f); -p: what it repaired is worth seeing. */
	return nook_run_tool(argv, strcmp(opts, "-p") == 0 ? NOOK_TOOL_QUIET : NOOK_TOOL_SILENT);
}

/* What a read-only e2fsck found, for a message. */
static void verdict(int r, char *buf, size_t size)
{
	if (r < 0)
		snprintf(buf, size, "could not run (%s)", strerror(-r));
	else if (r == 0)
		snprintf(buf, size, "finds no errors");
	else if (r & FSCK_UNCORRECTED)
		snprintf(buf, size, "finds errors (status %d)", r);
	else
		snprintf(buf, size, "could not check it (status %d)", r);
}

/*
 * Why ext4 asks for a check before the next mount: the test e2fsck -p makes
 * before it says "clean" and exits. NULL when it does not.
 */
static const char *check_due(struct ext2_super_block *sb)
{
	if (sb->s_state & EXT2_ERROR_FS)
		return "its superblock records file system errors";
	if (ext2fs_has_feature_journal_needs_recovery(sb))
		return "its journal needs replaying";
	if (!(sb->s_state & EXT2_VALID_FS))
		return "it was not unmounted cleanly";
	if ((int16_t) sb->s_max_mnt_count > 0 && sb->s_mnt_count >= (uint16_t) sb->s_max_mnt_count)
		return "a check is due by its mount count";
	if (sb->s_checkinterval && (time_t) sb->s_lastcheck + (time_t) sb->s_checkinterval <= time(NULL))
		return "a check is due by its check interval";
	return NULL;
}

/* An inode the kernel reads when it mounts: its checksum (on read), its
 * extent header, and for the root what ext4_fill_super demands. */
static errcode_t read_inode(ext2_filsys fs, ext2_ino_t ino, bool root)
{
	struct ext2_inode inode;
	ext2_extent_handle_t h;
	errcode_t e;

	e = ext2fs_read_inode(fs, ino, &inode);
	if (e)
		return e;
	if (root && (!LINUX_S_ISDIR(inode.i_mode) || !inode.i_blocks || !EXT2_I_SIZE(&inode)))
		return EXT2_ET_NO_DIRECTORY;
	if (inode.i_flags & EXT4_EXTENTS_FL) {
		e = ext2fs_extent_open2(fs, ino, &inode, &h);
		if (e)
			return e;
		ext2fs_extent_free(h);
	}
	return 0;
}

/*
 * Reads what the kernel reads when it mounts, and errs on: the group
 * descriptors, the root directory's inode and the journal's inode. Returns
 * 1 and says what is damaged in WHAT, or 0.
 */
static int damaged(ext2_filsys fs, char *what, size_t size)
{
	errcode_t e = ext2fs_check_desc(fs);

	if (e) {
		snprintf(what, size, "group descriptors: %s", error_message(e));
		return 1;
	}
	for (dgrp_t g = 0; g < fs->group_desc_count; g++) {
		if (!ext2fs_group_desc_csum_verify(fs, g)) {
			snprintf(what, size, "group descriptor %u: checksum does not match", g);
			return 1;
		}
	}
	e = read_inode(fs, EXT2_ROOT_INO, true);
	if (e) {
		snprintf(what, size, "the root directory's inode: %s", error_message(e));
		return 1;
	}
	if (ext2fs_has_feature_journal(fs->super) && fs->super->s_journal_inum) {
		e = read_inode(fs, fs->super->s_journal_inum, false);
		if (e) {
			snprintf(what, size, "the journal's inode %u: %s", fs->super->s_journal_inum,
				 error_message(e));
			return 1;
		}
	}
	return 0;
}

/* Damage ext4 flagged: e2fsck -p, and what it did. */
static int repair(const struct nook_image *img, const char *why)
{
	int r = e2fsck(img, "-p");

	if (r < 0) {
		log_err("cannot run " E2FSCK " on image %s (%s): %s", img->path, why, strerror(-r));
		return r;
	}
	if (r == 0) {
		log_info("checked image %s with e2fsck -p (%s): no errors", img->path, why);
		return 0;
	}
	if (!(r & ~(FSCK_CORRECTED | FSCK_REBOOT))) {
		log_warn("image %s was repaired by e2fsck -p (%s): status %d, file system errors corrected",
			 img->path, why, r);
		return 0;
	}
	if (r & FSCK_UNCORRECTED)
		log_err("image %s has file system errors that e2fsck -p does not repair unattended (%s; status "
			"%d); it made only the repairs that are safe unattended, if any, and the image stays marked "
			"as having errors; it is not started: repair it with e2fsck -f %s",
			img->path, why, r, img->path);
	else
		log_err("e2fsck -p could not check image %s (%s; status %d); it is not started: check it with "
			"e2fsck -f %s",
			img->path, why, r, img->path);
	return -EUCLEAN;
}

/* Damage ext4 never recorded: the image is neither mounted nor changed.
 * No e2fsck -n here: libext2fs's verdict is e2fsck's own (the same
 * library), and e2fsck's exit status does not count every damage it finds
 * (a group descriptor's bad checksum is "IGNORED" with status 0). */
static int refuse(const struct nook_image *img, const char *what)
{
	log_err("image %s has damaged file system metadata that ext4 never recorded (%s); it was not mounted "
		"and is unchanged: repair it with e2fsck -f %s",
		img->path, what, img->path);
	return -EUCLEAN;
}

int nook_image_fsck(const struct nook_image *img)
{
	char what[256];
	ext2_filsys fs = NULL;
	const char *due = NULL;
	errcode_t e;
	int bad;

	e = nook_image_ext2_open(img, EXT2_FLAG_64BITS, &fs);
	if (e == 0) {
		due = check_due(fs->super);
		bad = due ? 0 : damaged(fs, what, sizeof(what));
		ext2fs_close_free(&fs);
	} else {
		/* The descriptors may be what failed: the superblock alone
		 * still says whether ext4 flagged the damage. */
		if (nook_image_ext2_open(img, EXT2_FLAG_SUPER_ONLY | EXT2_FLAG_64BITS, &fs) == 0) {
			due = check_due(fs->super);
			ext2fs_close_free(&fs);
		}
		snprintf(what, sizeof(what), "%s", error_message(e));
		bad = 1;
	}
	if (due)
		return repair(img, due);
	return bad ? refuse(img, what) : 0;
}

int nook_image_read_super(const struct nook_image *img, char buf[NOOK_IMAGE_SUPER_SIZE])
{
	ssize_t n = pread(img->fd, buf, NOOK_IMAGE_SUPER_SIZE, SUPERBLOCK_OFFSET);

	if (n < 0)
		return -errno;
	return n == NOOK_IMAGE_SUPER_SIZE ? 0 : -EIO;
}

void nook_image_refused(const struct nook_image *img, const char *loop, int err, const char *why,
			const char super_before[NOOK_IMAGE_SUPER_SIZE])
{
	char super[NOOK_IMAGE_SUPER_SIZE], found[128];
	const char *wrote;
	int r;

	/* Every write of a failed mount we know of changes the superblock:
	 * the error record (ext4_handle_error), or once the mount got that
	 * far, the mount count (ext4_setup_super). Compared with the copy
	 * taken before the loop device existed. */
	if (nook_image_read_super(img, super) < 0)
		wrote = "whether it wrote to the image is unknown (its superblock cannot be read)";
	else if (memcmp(super, super_before, sizeof(super)) != 0)
		wrote = "it wrote to the image while refusing it (the error is now recorded in its superblock)";
	else
		wrote = "it recorded no error in it";
	r = e2fsck(img, "-fn");
	verdict(r, found, sizeof(found));
	log_err("the kernel refused to mount image %s (on %s): %s%s%s; %s; a read-only check (e2fsck -fn) %s; "
		"see the kernel's messages (dmesg) and %s it with e2fsck -f %s",
		img->path, loop, strerror(-err), *why ? ": " : "", why, wrote, found,
		r == 0 ? "check" : "repair", img->path);
}
