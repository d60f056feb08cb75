#!/bin/bash
# The container as a user sees it: namespaces, id maps, ownership through
# the idmapped lower layer, hostname, network, the restricted profile, and
# how nookctl exec passes the command's world through.
# Commands for the container are single-quoted on purpose: they expand inside.
# shellcheck disable=SC2016
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root

nt_user; alice=$NT_USER
nt_user; bob=$NT_USER
conf=$NT_TMP/default.conf
nt_config "$conf"
boxconf=$NT_TMP/box.conf
nt_config "$boxconf" hostname=box-%u
uid=$(id -u "$alice")

# ---- namespaces: every one differs from the host's
out=$(nt_exec "$alice" "$conf" sh -c \
	'for n in user mnt pid ipc uts net cgroup; do echo "$n $(readlink /proc/self/ns/$n)"; done')
rc=$?
is "$rc" 0 "exec as a user works (namespace listing)"
for ns in user mnt pid ipc uts net cgroup; do
	inside=$(awk -v n="$ns" '$1 == n { print $2 }' <<<"$out")
	host=$(readlink "/proc/$$/ns/$ns")
	if [ -z "$inside" ]; then
		ok 1 "$ns namespace differs from the host's (no value read inside)"
	else
		isnt "$inside" "$host" "$ns namespace differs from the host's"
	fi
done

# ---- identity and id maps
out=$(nt_exec "$alice" "$conf" sh -c 'id -u; id -un; id -g')
is "$out" "$uid
$alice
$(id -g "$alice")" "the command runs as the user, with the user's uid and gid"

# ---- the runtime directory pam_systemd names in XDG_RUNTIME_DIR
out=$(nt_exec "$alice" "$conf" sh -c 'stat -c "%U %a %F" "/run/user/$(id -u)" && touch "/run/user/$(id -u)/nt-probe" && echo writable')
is "$out" "$alice 700 directory
writable" "/run/user/UID exists inside, the user's, 0700, writable"

uid_map=$(nt_exec "$alice" "$conf" cat /proc/self/uid_map)
gid_map=$(nt_exec "$alice" "$conf" cat /proc/self/gid_map)
[ -n "$uid_map" ] && [ -n "$gid_map" ]
ok $? "uid_map and gid_map are read inside (the checks below need them)"
unlike "$uid_map" '^ *0 +0 +4294967295 *$' "uid_map is not the identity map"
grep -Eq "^ *$uid +$uid +1\$" <<<"$uid_map"
ok $? "uid_map maps the user's uid to itself"
# An outside id X is mapped when some line has first <= X < first + count.
maps_outside()
{
	awk -v x="$1" '$2 <= x && x < $2 + $3 { found = 1 } END { exit !found }' <<<"$2"
}
maps_outside 0 "$uid_map"
isnt "$?" 0 "host root (outside uid 0) is not mapped into the container"
maps_outside 0 "$gid_map"
isnt "$?" 0 "host gid 0 is not mapped into the container"
maps_outside 5 "$gid_map"
isnt "$?" 0 "gid_map never maps outside gid 5 (tty)"
gid=$(id -g "$alice")
grep -Eq "^ *$gid +$gid +1\$" <<<"$gid_map"
ok $? "gid_map maps the user's primary gid to itself"
grep -Eq "^ *0 +[1-9][0-9]* +[0-9]+\$" <<<"$uid_map"
ok $? "inside uid 0 maps to a non-root host uid"

# ---- the idmapped lower layer: host root's files belong to root inside
is "$(nt_exec "$alice" "$conf" stat -c %U:%G /usr/bin/passwd)" "root:root" \
	"/usr/bin/passwd is owned by root inside"
is "$(nt_exec "$alice" "$conf" sh -c 'stat -c %U "$HOME"')" "$alice" "the home belongs to the user"

# ---- hostname
is "$(nt_exec "$alice" "$conf" hostname)" "$alice" "the default hostname is the user name (%u)"
is "$(nt_exec "$bob" "$boxconf" hostname)" "box-$bob" "hostname = box-%u gives box-<user>"
isnt "$(hostname)" "box-$bob" "the host's hostname is unchanged"

# ---- network: loopback only, and up
is "$(nt_exec "$alice" "$conf" ls /sys/class/net)" "lo" "only lo in /sys/class/net"
out=$(nt_exec "$alice" "$conf" ip -o link show)
is "$(wc -l <<<"$out")" 1 "ip link lists exactly one interface"
like "$out" '^1: lo: <[^>]*\bUP\b' "lo is up"

# ---- the restricted profile
status=$(nt_exec "$alice" "$conf" cat /proc/self/status)
for f in "NoNewPrivs:1" "Seccomp:2" "CapEff:0000000000000000" "CapPrm:0000000000000000" \
	"CapBnd:0000000000000000" "CapAmb:0000000000000000" "CapInh:0000000000000000"; do
	key=${f%%:*}
	got=$(awk -v k="$key:" '$1 == k { print $2 }' <<<"$status")
	is "$key:$got" "$f" "$key is ${f#*:} in /proc/self/status"
done
out=$(nt_exec "$alice" "$conf" unshare -U true 2>&1)
rc=$?
isnt "$rc" 0 "creating a new user namespace inside is refused"

# ---- nookctl exec passes the command's world through
nt_exec "$alice" "$conf" sh -c 'exit 7'
is "$?" 7 "exit status is passed through"
nt_exec "$alice" "$conf" sh -c 'kill -TERM $$'
is "$?" 143 "death by a signal gives 128+N"
out=$(nt_exec "$alice" "$conf" nt-no-such-command 2>&1)
is "$?" 127 "a missing command gives 127"
is "$(nt_exec "$alice" "$conf" pwd)" "/home/$alice" "cwd is the home"
is "$(nt_exec "$alice" "$conf" sh -c 'echo "$HOME $USER"')" "/home/$alice $alice" "HOME and USER are set"
out=$(echo "from stdin" | timeout 60 "$NOOKCTL" exec "$alice" --config "$conf" -- cat)
is "$out" "from stdin" "stdin is passed through"
out=$(nt_exec "$alice" "$conf" sh -c 'echo to-stderr >&2' 2>&1 >/dev/null)
is "$out" "to-stderr" "stderr is passed through"

# ---- ptys opened inside (tmux, script, expect) come from /dev/ptmx
out=$(nt_exec "$alice" "$conf" script -qc tty /dev/null </dev/null)
like "$out" '^/dev/pts/[0-9]+' "a pty can be allocated inside through /dev/ptmx"
out=$(nt_exec "$alice" "$conf" sh -c 'ls /dev; grep -c " /dev/" /proc/self/mountinfo')
unlike "$out" '(^|[[:space:]])(sda|vda|loop[0-9]+|mem|kmem|port)([[:space:]]|$)' \
	"/dev holds no block devices and no mem/kmem/port"

# ---- the root's source is the image: df on / reports the image's space,
# and tools that list only path-like sources (ansible's mount facts) see /
out=$(nt_exec "$alice" "$conf" awk '$2 == "/" { print $1, $3 }' /proc/self/mounts)
is "$out" "$NT_TMP/images/$alice.img overlay" "/ in the mount table: overlay, its source the image's path"
out=$(nt_exec "$alice" "$conf" df -P -k /)
size=$(awk 'NR == 2 { print $2 }' <<<"$out")
[ -n "$size" ] && [ "$size" -gt 40000 ] && [ "$size" -le 65536 ]
ok $? "df / reports the image's size (64M image: ${size:-nothing} KiB)" || diag "$out"

done_testing
