#!/bin/bash
# An acknowledged write inside never disappears because image_dir is full:
# images are allocated in full when created (refused, with the space needed
# and free, when image_dir lacks it), an old sparse image is allocated at its
# next start or refused then (image_space = warn starts it anyway), and what
# was written and synced inside is still there after image_dir filled up.
# image_dir is a small ext4 of the test's own, loop-mounted in its temp dir.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root

nt_user; alice=$NT_USER
small=$NT_TMP/small
truncate -s 100M "$NT_TMP/small.fs"
mkfs.ext4 -q -m 0 "$NT_TMP/small.fs" || bail "mkfs.ext4 of the test's file system failed"
mkdir "$small"
nt_mount_loop "$NT_TMP/small.fs" "$small"
images=$small/images
img=$images/$alice.img
conf=$NT_TMP/a.conf

# shellcheck disable=SC2317 # called through nt_until
# fill: fills the small file system up with a file of the test's (in a
# loop: ext4 frees punched blocks at its next commit).
fill()
{
	dd if=/dev/zero of="$small/filler" bs=64K oflag=append conv=notrunc status=none 2>/dev/null
	sync -f "$small"
	[ "$(df --output=avail -B1 "$small" | tail -n1)" -lt $((1 << 20)) ]
}
allocated() { [ -f "$img" ] && [ $(($(stat -c %b "$img") * 512)) -ge "$(stat -c %s "$img")" ]; }

# ---- a new image image_dir cannot hold is refused, with the numbers
nt_config "$conf" "image_dir=$images" image_size=128M
out=$(nt_exec "$alice" "$conf" true 2>&1)
is "$?" 125 "a 128M image in a 100M image_dir: exec is refused (125)"
like "$out" "image_dir $images has [0-9.]+M free, but a new image for '$alice' needs 128.0M" \
	"... the message names image_dir, the space needed and the space free"
is "$(ls -A "$images" 2>/dev/null)" "" "... and nothing is left in image_dir (no image, no .new, no staging)"

# ---- a new image is allocated in full
nt_config "$conf" "image_dir=$images" image_size=64M
sums=$(nt_exec "$alice" "$conf" sh -c 'head -c 4M /dev/urandom > ~/a && sync ~/a && sha256sum ~/a' 2>"$NT_TMP/err")
is "$?" 0 "a 64M image fits: the first exec writes 4M and syncs" || diag "$(cat "$NT_TMP/err")"
like "$sums" "^[0-9a-f]{64} " "... and prints its checksum"
allocated
ok $? "the new image is allocated in full ($(stat -c %b "$img") blocks of 512 for $(stat -c %s "$img") bytes)"
nt_until 10 nt_settled "$alice"
ok $? "the container stopped with its session"

# ---- image_dir full: what is written and synced inside stays
nt_until 20 fill
ok $? "the test filled image_dir's file system ($(df --output=avail -B1 "$small" | tail -n1) bytes left)"
out=$(nt_exec "$alice" "$conf" sh -c 'head -c 8M /dev/urandom > ~/b && sync ~/b && sha256sum ~/a ~/b' 2>"$NT_TMP/err")
is "$?" 0 "with image_dir full, writing 8M inside and syncing succeeds" || diag "$(cat "$NT_TMP/err")"
first=$sums
sums=$out
is "$(grep -Ec "^[0-9a-f]{64} " <<<"$sums")" 2 "... and prints the checksums of both files"
is "$(head -n1 <<<"$sums" | cut -d' ' -f1)" "$(cut -d' ' -f1 <<<"$first")" "... the first of which reads back unchanged"
nt_until 10 nt_settled "$alice"
ok $? "the container stopped with its session"
out=$(nt_exec "$alice" "$conf" sha256sum "/home/$alice/a" "/home/$alice/b" 2>/dev/null)
is "$out" "$sums" "after a restart with image_dir still full, both files are there, byte for byte"
nt_until 10 nt_settled "$alice"

# ---- an old sparse image is refused while image_dir cannot back it
rm -f "$small/filler"
cp --sparse=always "$img" "$img.sparse" && chmod 600 "$img.sparse" && mv "$img.sparse" "$img"
! allocated
ok $? "the image was made sparse again, as older versions created it"
nt_until 20 fill
ok $? "the test filled image_dir's file system again"
before=$(sha256sum <"$img")
out=$(nt_exec "$alice" "$conf" true 2>&1)
is "$?" 125 "a sparse image with image_dir full: exec is refused (125)"
like "$out" "image_dir $images has [0-9.]+[KM] free, but the sparse image $img needs [0-9.]+[KM] more" \
	"... the message names image_dir, the image, the space needed and free"
like "$out" "image_space = warn" "... and the setting that starts it anyway"
is "$(sha256sum <"$img")" "$before" "... the image is unchanged"
is "$(nt_loops "$img")$(nt_cg_left "$alice")" "" "... no loop device or cgroup is left"
nt_not_running "$alice"
ok $? "... and no container runs"

# ---- image_space = warn starts it, saying so
nt_config "$conf" "image_dir=$images" image_size=64M image_space=warn
out=$(nt_exec "$alice" "$conf" sha256sum "/home/$alice/a" "/home/$alice/b" 2>&1)
is "$?" 0 "image_space = warn: the sparse image starts anyway"
like "$out" "starting anyway \\(image_space = warn\\)" "... with a warning"
like "$out" "$(tail -n1 <<<"$sums")" "... and the files read back"
nt_until 10 nt_settled "$alice"

# ---- with space again, the sparse image is allocated at its start
rm -f "$small/filler"
nt_config "$conf" "image_dir=$images" image_size=64M
out=$(nt_exec "$alice" "$conf" sha256sum "/home/$alice/a" "/home/$alice/b" 2>/dev/null)
is "$out" "$sums" "with space in image_dir, the sparse image starts and its files are intact"
allocated
ok $? "... and it is now allocated in full"

done_testing
