#!/bin/bash
# The home image: created once, persistent across stop/start, bounded by
# image_size, never recreated, and left as it is when it is corrupted.
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
like "$out" "check|corrupt|not a mountable" "the error says what is wrong with it"
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

done_testing
