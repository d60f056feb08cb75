/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The image read through libext2fs (the check before a start, the keys of
 * a stopped container), over the fd we opened and verified, and never
 * written.
 *
 * libext2fs's own Unix I/O manager is not used for this: it opens the file
 * again (by a /proc/self/fd path here) and, in e2fsprogs 1.47, fsyncs it as
 * it opens the channel, even read-only. That flush of whatever the last
 * session left dirty, and of the disk's cache, cost a cold start 0.2 to
 * 4 ms for a read of a few blocks. This manager is libext2fs's documented
 * extension point (struct struct_io_manager, as its test and undo managers
 * are): pread() on the caller's fd, every write refused. Its "name" is the
 * fd's number; the fd stays the caller's.
 */
#include <errno.h>
#include <ext2fs/ext2fs.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nook.h"

struct ro_channel {
	int fd;
};

static struct struct_io_manager ro_manager;

static errcode_t ro_open(const char *name, int flags, io_channel *ret)
{
	io_channel io = NULL;
	struct ro_channel *d = NULL;
	size_t len;
	char *end;
	long fd;
	errcode_t e;

	if (!name)
		return EXT2_ET_BAD_DEVICE_NAME;
	if (flags & IO_FLAG_RW)
		return EXT2_ET_RO_FILSYS;
	errno = 0;
	fd = strtol(name, &end, 10);
	if (errno || end == name || *end || fd < 0 || fd > INT_MAX)
		return EXT2_ET_BAD_DEVICE_NAME;
	len = strlen(name);
	e = ext2fs_get_memzero(sizeof(*io), &io);
	if (e)
		return e;
	e = ext2fs_get_memzero(sizeof(*d), &d);
	if (!e)
		e = ext2fs_get_mem(len + 1, &io->name);
	if (e) {
		ext2fs_free_mem(&d);
		ext2fs_free_mem(&io);
		return e;
	}
	memcpy(io->name, name, len + 1);
	d->fd = (int) fd;
	io->magic = EXT2_ET_MAGIC_IO_CHANNEL;
	io->manager = &ro_manager;
	io->block_size = 1024;
	io->refcount = 1;
	io->private_data = d;
	*ret = io;
	return 0;
}

static errcode_t ro_close(io_channel io)
{
	if (--io->refcount > 0)
		return 0;
	ext2fs_free_mem(&io->private_data);
	ext2fs_free_mem(&io->name);
	ext2fs_free_mem(&io);
	return 0;
}

static errcode_t ro_set_blksize(io_channel io, int size)
{
	if (size <= 0)
		return EXT2_ET_INVALID_ARGUMENT;
	io->block_size = size;
	return 0;
}

/* COUNT blocks from BLOCK, or -COUNT bytes (libext2fs's convention); what
 * cannot be read is zeroed, as the Unix manager does. */
static errcode_t ro_read_blk64(io_channel io, unsigned long long block, int count, void *buf)
{
	const struct ro_channel *d = io->private_data;
	size_t bs = (size_t) io->block_size, size, got = 0;
	errcode_t e = 0;

	size = count < 0 ? (size_t) - (long long) count : (size_t) count * bs;
	if (block > (unsigned long long) (LLONG_MAX - (long long) size) / bs)
		return EXT2_ET_LLSEEK_FAILED;
	while (got < size) {
		ssize_t n = pread(d->fd, (char *) buf + got, size - got, (off_t) (block * bs + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n < 0 ? (errcode_t) errno : EXT2_ET_SHORT_READ;
			break;
		}
		got += (size_t) n;
	}
	if (!e)
		return 0;
	memset((char *) buf + got, 0, size - got);
	if (io->read_error)
		return io->read_error(io, (unsigned long) block, count, buf, size, (int) got, e);
	return e;
}

static errcode_t ro_read_blk(io_channel io, unsigned long block, int count, void *buf)
{
	return ro_read_blk64(io, block, count, buf);
}

static errcode_t ro_write_blk64(io_channel io, unsigned long long block, int count, const void *buf)
{
	(void) io, (void) block, (void) count, (void) buf;
	return EXT2_ET_RO_FILSYS;
}

static errcode_t ro_write_blk(io_channel io, unsigned long block, int count, const void *buf)
{
	return ro_write_blk64(io, block, count, buf);
}

static errcode_t ro_write_byte(io_channel io, unsigned long offset, int count, const void *buf)
{
	return ro_write_blk64(io, offset, count, buf);
}

/* Nothing is ever written, so nothing is flushed. */
static errcode_t ro_flush(io_channel io)
{
	(void) io;
	return 0;
}

static errcode_t ro_set_option(io_channel io, const char *option, const char *arg)
{
	(void) io, (void) option, (void) arg;
	return EXT2_ET_INVALID_ARGUMENT;
}

static struct struct_io_manager ro_manager = {
	.magic = EXT2_ET_MAGIC_IO_MANAGER,
	.name = "nook read-only fd I/O manager",
	.open = ro_open,
	.close = ro_close,
	.set_blksize = ro_set_blksize,
	.read_blk = ro_read_blk,
	.write_blk = ro_write_blk,
	.flush = ro_flush,
	.write_byte = ro_write_byte,
	.set_option = ro_set_option,
	.read_blk64 = ro_read_blk64,
	.write_blk64 = ro_write_blk64,
};

long nook_image_ext2_open(const struct nook_image *img, int flags, struct struct_ext2_filsys **ret)
{
	char name[16];

	initialize_ext2_error_table(); /* error_message()'s texts (idempotent) */
	snprintf(name, sizeof(name), "%d", img->fd);
	return ext2fs_open2(name, NULL, flags & ~EXT2_FLAG_RW, 0, 0, &ro_manager, ret);
}
