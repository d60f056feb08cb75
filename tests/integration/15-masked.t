#!/bin/bash
# Secrets of the lower layer are invisible or empty inside: other homes,
# /root, shadow files, sshd host keys, /var/lib/nook, Docker's masked /proc
# and /sys paths, and whatever `hide =` adds.
#
# Each path is probed twice by the same user with the same script: on the
# host (runuser) and inside. A check passes only if the host view is not
# masked and the inside view is, so none can pass by accident; a path that
# shows nothing to mask on this host is skipped, with the reason.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root

nt_user; alice=$NT_USER
nt_user; bob=$NT_USER
echo "bob's private file" >"/home/$bob/bob-marker"

base=/opt
[ -d "$base" ] || base=/var/tmp
secret_dir=$base/nt-secret-$NT_ID
secret_file=$base/nt-secret-file-$NT_ID
visible=$base/nt-visible-$NT_ID
nt_path "$secret_dir"
nt_path "$secret_file"
nt_path "$visible"
mkdir -m 0755 "$secret_dir"
echo "top secret" >"$secret_dir/inner"
echo "top secret" >"$secret_file"
echo "not a secret" >"$visible"
chmod 0644 "$secret_dir/inner" "$secret_file" "$visible"

# Something for the /var/lib/nook mask to hide, whether or not nook is
# installed here (a directory we create is removed at the end).
nt_mkdir /var/lib/nook
nook_marker=/var/lib/nook/nt-marker-$NT_ID
nt_path "$nook_marker"
echo "nook's state" >"$nook_marker"
chmod 0644 "$nook_marker"

conf=$NT_TMP/a.conf
nt_config "$conf" "hide=$secret_dir $secret_file" "hide=$base/nt-does-not-exist-$NT_ID"

# One line per path: "PATH|absent", "PATH|directory|ENTRIES" (or
# "unreadable"), or "PATH|TYPE|SIZE|BYTES-READ".
# shellcheck disable=SC2016 # expanded by the probing shell, not here
probe='for p; do
	if [ ! -e "$p" ] && [ ! -L "$p" ]; then echo "$p|absent"; continue; fi
	t=$(stat -c %F "$p")
	if [ "$t" = directory ]; then
		if l=$(ls -A "$p" 2>/dev/null); then
			echo "$p|directory|$(printf %s "$l" | grep -c .)"
		else
			echo "$p|directory|unreadable"
		fi
	else
		echo "$p|$t|$(stat -L -c %s "$p")|$(head -c 4096 "$p" 2>/dev/null | wc -c)"
	fi
done'

paths=(
	/etc/shadow /etc/gshadow /etc/shadow- /etc/gshadow- /etc/sudoers /etc/sudoers.d
	/etc/ssl/private /etc/nook /var/backups /var/lib/nook /root "/home/$bob"
	/proc/kcore /proc/keys /proc/timer_list /proc/sysrq-trigger /proc/sched_debug
	/proc/kallsyms /proc/interrupts /proc/kmsg /proc/latency_stats /proc/timer_stats
	/proc/acpi /proc/scsi /sys/firmware /sys/kernel/debug /sys/kernel/security
	"$secret_dir" "$secret_file"
)
for k in /etc/ssh/ssh_host_*_key; do
	[ -e "$k" ] && paths+=("$k")
done

# masked LINE: the probe's view of a hidden path.
masked()
{
	local v=${1#*|}

	[ "$v" = absent ] || [ "$v" = "directory|0" ] || [[ $v == "character special file|"*"|0" ]]
}

host=$(cd / && runuser -u "$alice" -- sh -c "$probe" probe "${paths[@]}" 2>/dev/null)
inside=$(nt_exec "$alice" "$conf" sh -c "$probe" probe "${paths[@]}" 2>&1)
rc=$?
is "$rc" 0 "the probe runs inside (a hide entry that does not exist is fine)"
for p in "${paths[@]}"; do
	h=$(grep -F "$p|" <<<"$host" | head -n1)
	i=$(grep -F "$p|" <<<"$inside" | head -n1)
	if [ -z "$h" ]; then
		skip "$p is masked inside" "the host probe failed"
	elif masked "$h"; then
		skip "$p is masked inside" "nothing to mask on this host (${h#*|})"
	elif masked "$i"; then
		ok 0 "$p is masked inside (${i#*|}; host: ${h#*|})"
	else
		ok 1 "$p is masked inside"
		diag "inside: ${i:-no line}"
		diag "  host: $h"
	fi
done

# ---- a masked directory is a read-only mount, nothing to run or open a
# device through (every one is a clone of one empty tmpfs made so)
# shellcheck disable=SC2016 # awk's own $5 and $6, inside
opts=$(nt_exec "$alice" "$conf" awk '$5 == "/root" { print $6 }' /proc/self/mountinfo)
for o in ro nosuid nodev noexec; do
	like ",$opts," ",$o," "/root's mask is mounted $o (${opts:-no mount})"
done
out=$(nt_exec "$alice" "$conf" sh -c 'mkdir /root/x 2>&1; echo rc=$?')
like "$out" 'Read-only file system.*rc=1' "... and nothing can be made in it: $out"

# ---- homes
is "$(nt_exec "$alice" "$conf" ls -A /home)" "$alice" "/home holds only the user's own home"
[ -e "/home/$bob/bob-marker" ]
ok $? "(the other test user's home exists on the host)"
out=$(nt_exec "$alice" "$conf" sh -c "cat /home/$bob/bob-marker 2>&1; ls -d /home/$bob 2>&1")
like "$out" "No such file or directory" "inside, cat and ls find no other user's home (the probe ran)"
unlike "$out" "private file|^/home/$bob\$" "another test user's home is absent inside"
out=$(nt_exec "$bob" "$conf" sh -c "cat /home/$bob/bob-marker 2>/dev/null; echo rc=\$?")
is "$out" "rc=1" "bob's container starts from his image, not from the host's home"

# ---- what is not secret stays visible (the masks are targeted)
out=$(nt_exec "$alice" "$conf" sh -c "cat $visible; grep -c '^root:' /etc/passwd")
is "$out" "not a secret
1" "a sibling of a hidden path and /etc/passwd are readable inside"
for k in /etc/ssh/ssh_host_*_key.pub; do
	[ -e "$k" ] || continue
	size=$(nt_exec "$alice" "$conf" stat -c %s "$k")
	is "$size" "$(stat -c %s "$k")" "the public key $k is visible inside"
	break
done
out=$(nt_exec "$alice" "$conf" sh -c 'echo 1 2>/dev/null > /proc/sys/kernel/sysrq; echo "rc=$?"' 2>/dev/null)
like "$out" '^rc=[1-9]' "/proc/sys is not writable inside (the shell ran and the write failed)"

done_testing
