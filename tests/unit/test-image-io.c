/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The image read through libext2fs over our fd (helper/image-io.c): on a
 * real ext4 made by mke2fs, what a check reads is read, nothing can be
 * written, the fd stays the caller's, and a short image is an error.
 */
#include <errno.h>
#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nook.h"
#include "tap.h"

/* mke2fs -t ext4 on PATH (SIZE_K KiB); its exit status. */
static int mkfs(const char *path, const char *size_k)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0) {
			(void) dup2(null, 1);
			(void) dup2(null, 2);
		}
		execl("/sbin/mke2fs", "mke2fs", "-q", "-F", "-t", "ext4", "-L", "nt-io", path, size_k,
		      (char *) NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int main(void)
{
	char dir[] = "/tmp/nt-image-io.XXXXXX", path[64], junk[64];
	struct nook_image img = { .dir_fd = -EBADF, .fd = -EBADF };
	ext2_filsys fs = NULL;
	struct ext2_inode inode;
	char block[4096] = { 0 };
	errcode_t e;

	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp: %s", strerror(errno));
		return done_testing();
	}
	snprintf(path, sizeof(path), "%s/img", dir);
	snprintf(junk, sizeof(junk), "%s/short", dir);
	is_int(mkfs(path, "4096"), 0, "mke2fs makes a 4 MiB ext4 image");
	img.fd = open(path, O_RDWR | O_CLOEXEC);
	ok(img.fd >= 0, "the image opens");

	e = nook_image_ext2_open(&img, EXT2_FLAG_64BITS, &fs);
	is_int((int) e, 0, "libext2fs opens it over the fd");
	if (e == 0) {
		ok(fs->super->s_magic == EXT2_SUPER_MAGIC, "its superblock is read");
		is_str((const char *) fs->super->s_volume_name, "nt-io", "the label mke2fs wrote");
		is_int((int) ext2fs_check_desc(fs), 0, "the group descriptors are read and sound");
		is_int((int) ext2fs_read_inode(fs, EXT2_ROOT_INO, &inode), 0, "the root inode is read");
		ok(LINUX_S_ISDIR(inode.i_mode), "the root inode is a directory");
		is_int((int) io_channel_write_blk64(fs->io, 1, 1, block), (int) EXT2_ET_RO_FILSYS,
		       "a block write is refused");
		is_int((int) io_channel_write_byte(fs->io, 0, 1, block), (int) EXT2_ET_RO_FILSYS,
		       "a byte write is refused");
		ext2fs_close_free(&fs);
	}
	ok(fcntl(img.fd, F_GETFD) >= 0, "closing the file system leaves the caller's fd open");

	e = nook_image_ext2_open(&img, EXT2_FLAG_RW | EXT2_FLAG_64BITS, &fs);
	is_int((int) e, 0, "asked for read-write, it opens");
	if (e == 0) {
		ok(!(fs->flags & EXT2_FLAG_RW), "... read-only all the same");
		ext2fs_close_free(&fs);
	}

	{
		/* The first 2 KiB only: the superblock is cut short. */
		int in = open(path, O_RDONLY | O_CLOEXEC),
		    out = open(junk, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		char buf[2048];
		struct nook_image cut = { .dir_fd = -EBADF, .fd = out };

		ok(in >= 0 && out >= 0 && read(in, buf, sizeof(buf)) == (ssize_t) sizeof(buf) &&
			   write(out, buf, 1500) == 1500,
		   "a short copy of the image");
		ok(nook_image_ext2_open(&cut, EXT2_FLAG_64BITS, &fs) != 0, "a short image is an error");
		if (in >= 0)
			(void) close(in);
		if (out >= 0)
			(void) close(out);
	}

	(void) close(img.fd);
	(void) unlink(path);
	(void) unlink(junk);
	(void) rmdir(dir);
	return done_testing();
}
