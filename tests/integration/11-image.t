#!/bin/bash
# The home image: created once, persistent across stop/start, bounded by
# image_size, never recreated, and left as it is when it is corrupted: damage
# the superblock does not flag is found read-only before the kernel sees it
# (the kernel's failed mount would record the error in the image), and every
# message says what happened to the image and what to run.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root

nt_user; alice=$NT_USER
conf=$NT_TMP/a.conf
nt_config "$conf" image_size=64M
img=$NT_TMP/images/$alice.img

# ---- creation on first use
[ -e "$img" ]
isnt "$?" 0 "no image before the first exec"
nt_exec "$alice" "$conf" sh -c 'echo persistent-marker > ~/marker'
is "$?" 0 "first exec writes a file in the home"
[ -f "$img" ] && [ ! -L "$img" ]
ok $? "the image was created as a regular file at image_dir/<user>.img"
is "$(stat -c '%U:%G %a' "$img")" "root:root 600" "the image is root:root 0600"
is "$(stat -c %a "$NT_TMP/images")" 700 "image_dir was created 0700"
is "$(stat -c %s "$img")" $((64 << 20)) "the image has image_size bytes"
blocks=$(stat -c %b "$img")
[ $((blocks * 512)) -ge $((64 << 20)) ]
ok $? "the image is allocated in full, not sparse ($((blocks / 2)) KiB allocated)"
ino=$(stat -c %i "$img")
nt_until 5 nt_settled "$alice"
ok $? "the container stopped with its last session (linger 0) and let go of the image"
layout=$(debugfs -R 'ls /' "$img" 2>/dev/null)
like "$layout" '(^|[^a-z])upper([^a-z]|$)' "the image root has upper/ (Apptainer layout)"
like "$layout" '(^|[^a-z])work([^a-z]|$)' "the image root has work/ (Apptainer layout)"
# The on-disk home belongs to the user's own (identity-mapped) uid.
home_uid=$(debugfs -R "stat /upper/home/$alice" "$img" 2>/dev/null | sed -n 's/.*User: *\([0-9]*\).*/\1/p')
is "$home_uid" "$(id -u "$alice")" "the home in the image belongs to the user's uid on disk"

# ---- persistence across stop + start, never recreated
nt_spawn "$NT_TMP/bg.out" "$alice" "$conf" sleep 30
bgpid=$NT_SPAWNED
nt_until 10 nt_running "$alice"
ok $? "a container runs while a session sleeps"
out=$(nt_ctl stop "$alice" --config "$conf")
is "$?" 0 "nookctl stop succeeds"
is "$out" "$alice: stopped" "nookctl stop says it stopped the container"
nt_wait "$bgpid"
isnt "$?" 0 "the sleeping session was ended by the stop"
out=$(nt_exec "$alice" "$conf" cat "/home/$alice/marker")
is "$out" "persistent-marker" "a file written in the home survives stop and a new exec"
is "$(stat -c %i "$img")" "$ino" "the image was not recreated (same inode)"
is "$(stat -c %s "$img")" $((64 << 20)) "the image kept its size"
[ $(($(stat -c %b "$img") * 512)) -ge $((64 << 20)) ]
ok $? "the image is still allocated in full after use (ext4's zeroing punched no holes)"
nt_config "$conf" image_size=128M
out=$(nt_exec "$alice" "$conf" cat "/home/$alice/marker")
is "$out" "persistent-marker" "a larger image_size later does not replace the image"
is "$(stat -c %s "$img")" $((64 << 20)) "the existing image keeps its size"

# ---- image_size is a quota: ENOSPC inside, the host unaffected
out=$(nt_exec "$alice" "$conf" dd if=/dev/zero of="/home/$alice/big" bs=1M count=100 2>&1)
rc=$?
isnt "$rc" 0 "writing 100M into a 64M image fails"
like "$out" "No space left on device" "... with ENOSPC"
is "$(stat -c %s "$img")" $((64 << 20)) "the image file did not grow on the host"
dd if=/dev/zero of="$NT_TMP/host-file" bs=1M count=4 status=none
is "$?" 0 "the host can still write to its /tmp"
out=$(nt_exec "$alice" "$conf" sh -c 'rm ~/big && echo ok-again > ~/after && cat ~/after ~/marker')
is "$out" "ok-again
persistent-marker" "after freeing space the home works and nothing was lost"

# ---- a corrupted image: clear error, exit 125, left byte for byte
nt_until 5 nt_settled "$alice"
ok $? "the container stopped and let go of the image before it is corrupted"
dd if="$img" of="$NT_TMP/superblock" bs=1024 skip=1 count=1 status=none
dd if=/dev/zero of="$img" bs=1024 seek=1 count=1 conv=notrunc status=none
sum=$(sha256sum <"$img")
out=$(nt_exec "$alice" "$conf" true 2>&1)
rc=$?
is "$rc" 125 "exec with a corrupted image exits 125"
like "$out" "image $img" "the error names the image"
like "$out" "damaged file system metadata.*super-block" "the error says what is wrong with it (the superblock)"
like "$out" "not mounted and is unchanged: repair it with e2fsck -f $img" "... that the image was not changed, and the fix"
is "$(sha256sum <"$img")" "$sum" "the corrupted image is byte-for-byte unchanged"
is "$(stat -c %i "$img")" "$ino" "the corrupted image was not replaced"
is "$(nt_loops "$img")" "" "no loop device holds the corrupted image"
is "$(nt_cg_left "$alice")" "" "no cgroup is left behind for the refused container"
nt_not_running "$alice"
ok $? "no container runs after the refusal"
# Put the superblock back: the data was all there.
dd if="$NT_TMP/superblock" of="$img" bs=1024 seek=1 count=1 conv=notrunc status=none
out=$(nt_exec "$alice" "$conf" cat "/home/$alice/marker" 2>&1)
is "$out" "persistent-marker" "with the superblock restored, the home is intact"

# ---- damaged metadata under a clean superblock: found read-only, refused,
# the image byte for byte as it was
nt_until 5 nt_settled "$alice"
ok $? "the container stopped and let go of the image before the metadata is damaged"
cp --sparse=never "$img" "$NT_TMP/good.img"
bs=$(dumpe2fs -h "$img" 2>/dev/null | sed -n 's/^Block size: *//p')
# damage_inode FILE INO: INO's checksum (i_checksum_lo, at 0x7c in the
# inode) no longer matches; fails when the inode is not found.
damage_inode()
{
	local loc blk off

	loc=$(debugfs -R "imap <$2>" "$1" 2>/dev/null)
	blk=$(sed -n 's/.*located at block \([0-9]*\), offset \(0x[0-9a-f]*\).*/\1/p' <<<"$loc")
	off=$(sed -n 's/.*located at block \([0-9]*\), offset \(0x[0-9a-f]*\).*/\2/p' <<<"$loc")
	[ -n "$bs" ] && [ -n "$blk" ] && [ -n "$off" ] || return 1
	printf '\xde\xad' | dd of="$1" bs=1 seek=$((blk * bs + off + 0x7c)) conv=notrunc status=none
}
damage_inode "$img" 2
ok $? "the root directory's inode is found on disk and damaged"
like "$(dumpe2fs -h "$img" 2>/dev/null | grep '^Filesystem state:')" 'state: +clean$' \
	"the damaged image's superblock still says clean (no check is due by its flags)"
sum=$(sha256sum <"$img")
# Positive control: the kernel refuses a copy and writes into it (the error
# fields of its superblock), which is what nook must not let happen.
cp --sparse=never "$img" "$NT_TMP/copy.img"
mkdir "$NT_TMP/mnt"
if mount -o loop "$NT_TMP/copy.img" "$NT_TMP/mnt" 2>/dev/null; then
	umount "$NT_TMP/mnt"
	ok 1 "the kernel refuses to mount a copy of the damaged image"
else
	ok 0 "the kernel refuses to mount a copy of the damaged image"
fi
isnt "$(sha256sum <"$NT_TMP/copy.img")" "$sum" "the kernel's failed mount modified the copy"
like "$(dumpe2fs -h "$NT_TMP/copy.img" 2>/dev/null)" 'FS Error count: +[1-9]' \
	"... recording the error in the copy's superblock"
is "$(nt_loops "$NT_TMP/copy.img")" "" "the copy is on no loop device"
out=$(nt_exec "$alice" "$conf" true 2>&1)
rc=$?
is "$rc" 125 "exec with damaged metadata exits 125"
like "$out" "image $img" "the error names the image"
like "$out" "e2fsck -f $img" "the error names the fix (e2fsck -f IMAGE)"
like "$out" "not mounted and is unchanged" "the error says the image was not changed"
unlike "$out" "left as it is" "no claim the check cannot back"
is "$(sha256sum <"$img")" "$sum" "the damaged image is byte-for-byte unchanged"
unlike "$(dumpe2fs -h "$img" 2>/dev/null)" 'FS Error count' "no error was recorded in the image"
is "$(nt_loops "$img")" "" "no loop device holds the damaged image"
nt_not_running "$alice"
ok $? "no container runs after the refusal"
# The journal's inode: the kernel reads it at mount too, and records its
# damage the same way.
cp --sparse=never "$NT_TMP/good.img" "$img"
damage_inode "$img" 8
ok $? "the journal's inode is found on disk and damaged"
sum=$(sha256sum <"$img")
cp --sparse=never "$img" "$NT_TMP/copy-j.img"
if mount -o loop "$NT_TMP/copy-j.img" "$NT_TMP/mnt" 2>/dev/null; then
	umount "$NT_TMP/mnt"
	ok 1 "the kernel refuses to mount a copy with a damaged journal inode"
else
	ok 0 "the kernel refuses to mount a copy with a damaged journal inode"
fi
isnt "$(sha256sum <"$NT_TMP/copy-j.img")" "$sum" "... and modifies that copy"
out=$(nt_exec "$alice" "$conf" true 2>&1)
is "$?" 125 "exec with a damaged journal inode exits 125"
like "$out" "image $img has damaged file system metadata.*journal.*not mounted and is unchanged: repair it with e2fsck -f $img" \
	"the error names the image, the journal, the fix, and that the image was not changed"
is "$(sha256sum <"$img")" "$sum" "the image with a damaged journal inode is byte-for-byte unchanged"

# ---- an error the kernel recorded: e2fsck -p repairs it, and says so
cp --sparse=never "$NT_TMP/copy.img" "$img"
sum=$(sha256sum <"$img")
out=$(nt_exec "$alice" "$conf" cat "/home/$alice/marker" 2>&1)
rc=$?
is "$rc" 0 "an image whose superblock records the kernel's error starts after e2fsck -p"
like "$out" "persistent-marker" "... with the home intact"
like "$out" "image $img was repaired by e2fsck -p \(its superblock records file system errors\)" "the repair is reported, with its reason"
isnt "$(sha256sum <"$img")" "$sum" "(the image was indeed changed by the repair)"

# ---- a mount the kernel refuses although the check passed: the kernel's
# refusal and a read-only e2fsck's verdict, truthfully
nt_until 5 nt_settled "$alice"
ok $? "the container stopped before the journal is damaged"
cp --sparse=never "$NT_TMP/good.img" "$img"
jblk=$(debugfs -R 'bmap <8> 0' "$img" 2>/dev/null)
[ -n "$jblk" ] && [ "$jblk" -gt 0 ]
ok $? "the journal's first block is found (block $jblk)"
# The journal superblock's magic, zeroed: jbd2 refuses the journal.
printf '\0\0\0\0' | dd of="$img" bs=1 seek=$((jblk * bs)) conv=notrunc status=none
sum=$(sha256sum <"$img")
cp --sparse=never "$img" "$NT_TMP/copy2.img"
if mount -o loop "$NT_TMP/copy2.img" "$NT_TMP/mnt" 2>/dev/null; then
	umount "$NT_TMP/mnt"
	ok 1 "the kernel refuses to mount a copy with a damaged journal"
else
	ok 0 "the kernel refuses to mount a copy with a damaged journal"
fi
out=$(nt_exec "$alice" "$conf" true 2>&1)
rc=$?
is "$rc" 125 "exec with a damaged journal exits 125"
like "$out" "the kernel refused to mount image $img" "the error says the kernel refused the image"
like "$out" "recorded no error in it" "... that the kernel did not write to it"
like "$out" "e2fsck -fn.*finds errors" "... what a read-only check finds"
like "$out" "e2fsck -f $img" "... and the fix"
is "$(sha256sum <"$img")" "$sum" "the image with a damaged journal is byte-for-byte unchanged"
is "$(nt_loops "$img")" "" "no loop device holds it"
cp --sparse=never "$NT_TMP/good.img" "$img"
out=$(nt_exec "$alice" "$conf" cat "/home/$alice/marker" 2>&1)
is "$out" "persistent-marker" "the undamaged image starts again"

done_testing
