#!/bin/bash
# Bad input is refused with a message a person can act on, and nothing is
# created or changed: no image, no cgroup, no container, the victim of a
# symlink untouched.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root

nt_user; alice=$NT_USER
good=$NT_TMP/good.conf
nt_config "$good"

# shellcheck disable=SC2317 # called through nt_until
no_cgroup() { [ -z "$(nt_cg_left "$1")" ]; }

# refused WHAT EXPECTED-MESSAGE-ERE CONF [USER]: exec must exit 125 with a
# message matching the ERE, and leave no container and no cgroup.
refused()
{
	local what=$1 msg=$2 conf=$3 u=${4:-$alice} out rc

	out=$(nt_exec "$u" "$conf" echo must-not-run 2>&1)
	rc=$?
	is "$rc" 125 "$what: refused with exit code 125"
	like "$out" "$msg" "$what: the message says why"
	unlike "$out" "must-not-run" "$what: the command did not run"
	# Under systemd a keeper that failed its setup sits in its scope until
	# it exits, after its answer; systemd removes the scope then.
	nt_until 10 no_cgroup "$u"
	is "$(nt_cg_left "$u")" "" "$what: no cgroup is left for the user"
	if [ "$u" = "$alice" ]; then
		nt_not_running "$u"
		ok $? "$what: no container runs"
	else
		[ ! -e "/run/nook/$u" ]
		ok $? "$what: no runtime dir /run/nook/$u was created"
	fi
}

# ---- who
nouser=nt-none$(_nt_random 6)
refused "unknown user" "user '$nouser' does not exist" "$good" "$nouser"
[ ! -e "$NT_TMP/images/$nouser.img" ]
ok $? "unknown user: no image was created"
refused "root" "uid 0|root" "$good" root
[ ! -e "$NT_TMP/images/root.img" ]
ok $? "root: no image was created"
out=$(nt_exec "../$alice" "$good" true 2>&1)
is "$?" 125 "a user name with a slash is refused"

# ---- the configuration
missing=$NT_TMP/nonexistent.conf
refused "missing config" "$missing" "$missing"
[ ! -e "$NT_TMP/images" ]
ok $? "missing config: no image_dir was created"

bad=$NT_TMP/insecure.conf
nt_config "$bad"
chmod 666 "$bad"
refused "world-writable config" "$bad.*(writable|mode)" "$bad"
chmod 664 "$bad"
refused "group-writable config" "$bad.*(writable|mode)" "$bad"
chmod 644 "$bad"
chown nobody "$bad"
refused "config owned by nobody" "$bad.*(owned|owner|uid)" "$bad"
chown root "$bad"

typo=$NT_TMP/typo.conf
nt_config "$typo" memory_max=10Q
refused "config with a bad size" "$typo:[0-9]+" "$typo"
[ ! -e "$NT_TMP/images" ]
ok $? "bad configs: no image_dir was created"

# ---- image_dir
ww=$NT_TMP/ww-images
mkdir -m 0777 "$ww"
chmod 0777 "$ww"
wwconf=$NT_TMP/ww.conf
nt_config "$wwconf" image_dir="$ww"
refused "world-writable image_dir" "$ww" "$wwconf"
is "$(ls -A "$ww")" "" "world-writable image_dir: no image (nor temp file) was created in it"
is "$(stat -c %a "$ww")" 777 "world-writable image_dir: its mode was left alone"

mkdir -m 0700 "$NT_TMP/real-images"
ln -s real-images "$NT_TMP/link-images"
lnconf=$NT_TMP/ln.conf
nt_config "$lnconf" image_dir="$NT_TMP/link-images"
refused "image_dir that is a symlink" "link-images.*symlink|symlink.*link-images" "$lnconf"
is "$(ls -A "$NT_TMP/real-images")" "" "symlinked image_dir: nothing was created behind the link"

# ---- the image itself
images=$NT_TMP/images
mkdir -m 0700 "$images"
img=$images/$alice.img

ln -s /etc/passwd "$img"
sum=$(sha256sum </etc/passwd)
meta=$(stat -c '%i %s %Y %a %U' /etc/passwd)
refused "image that is a symlink to /etc/passwd" "$img.*symlink|symlink.*$img" "$good"
is "$(sha256sum </etc/passwd)" "$sum" "symlink: /etc/passwd content is untouched"
is "$(stat -c '%i %s %Y %a %U' /etc/passwd)" "$meta" "symlink: /etc/passwd metadata is untouched"
is "$(readlink "$img")" /etc/passwd "symlink: the symlink is still there, unchanged"
rm "$img"

ln -s "$NT_TMP/dangling-target" "$img"
refused "image that is a dangling symlink" "$img" "$good"
[ ! -e "$NT_TMP/dangling-target" ]
ok $? "dangling symlink: its target was not created"
is "$(readlink "$img")" "$NT_TMP/dangling-target" "dangling symlink: the symlink is unchanged"
rm "$img"

mkfifo -m 0600 "$img"
refused "image that is a FIFO" "$img.*(not a regular|regular file)" "$good"
[ -p "$img" ]
ok $? "FIFO: still a FIFO"
rm "$img"

mkdir -m 0700 "$img"
refused "image that is a directory" "$img" "$good"
[ -d "$img" ] && [ -z "$(ls -A "$img")" ]
ok $? "directory: still an empty directory"
rmdir "$img"

# A regular file the user could have planted: refused before any fsck.
head -c 1M /dev/urandom >"$img"
chown "$alice" "$img"
chmod 0600 "$img"
sum=$(sha256sum <"$img")
refused "image owned by the user" "$img.*(owned|owner)" "$good"
is "$(sha256sum <"$img")" "$sum" "user-owned image: content untouched"
chown root:root "$img"
chmod 0644 "$img"
refused "image readable by others" "$img.*(mode|0600|600)" "$good"
is "$(sha256sum <"$img")" "$sum" "mode 0644 image: content untouched"
is "$(stat -c %a "$img")" 644 "mode 0644 image: mode left alone"
chmod 0600 "$img"
ln "$img" "$images/hardlink"
refused "image with two hard links" "$img.*link" "$good"
rm "$images/hardlink"
refused "image that is not ext4" "$img" "$good"
is "$(sha256sum <"$img")" "$sum" "garbage image: content untouched"
is "$(nt_loops "$img")" "" "garbage image: no loop device left attached"
rm "$img"

# ---- and with everything right, the same user works
out=$(nt_exec "$alice" "$good" echo fine 2>/dev/null)
is "$out" "fine" "with a good config and no bad image the same user gets a container"
[ -f "$img" ]
ok $? "... and the image is created then"

done_testing
