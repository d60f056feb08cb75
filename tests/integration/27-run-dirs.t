#!/bin/bash
# The container's /run has what user programs expect (issue 12): what the
# tmpfiles.d files declare directly under /run (screen's /run/screen, so
# that screen works out of the box), /run/lock (1777) and /run/user/UID.
# Only plain d/D lines are taken; /etc over /run over /usr/lib by file name;
# a group-writable file and a file masked by a link to /dev/null are not read.
# Commands for the container are single-quoted on purpose: they expand inside.
# shellcheck disable=SC2016
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
cd / || bail "cd /"

nt_user; alice=$NT_USER
conf=$NT_TMP/a.conf
nt_config "$conf"
uid=$(id -u "$alice")

# Declarations of the test's own (names with nt-, removed at cleanup).
mkdir -p /etc/tmpfiles.d /usr/lib/tmpfiles.d
d=nt-$NT_ID
nt_path "/etc/tmpfiles.d/$d.conf"
printf '%s\n' "# a comment" "d /run/$d 1777 root root -" "d /run/$d-g 0770 root utmp -" \
	"d /run/$d-x/sub 0755 root root -" "f /run/$d-f 0644 root root -" "d /run/$d-%m 0755" \
	>"/etc/tmpfiles.d/$d.conf"
nt_path "/etc/tmpfiles.d/$d-w.conf"
echo "d /run/$d-w 0755 root root -" >"/etc/tmpfiles.d/$d-w.conf"
chmod 0666 "/etc/tmpfiles.d/$d-w.conf"
nt_path "/usr/lib/tmpfiles.d/$d-m.conf"
echo "d /run/$d-m 0755 root root -" >"/usr/lib/tmpfiles.d/$d-m.conf"
nt_path "/etc/tmpfiles.d/$d-m.conf"
ln -s /dev/null "/etc/tmpfiles.d/$d-m.conf"
nt_path "/usr/lib/tmpfiles.d/$d-p.conf"
echo "d /run/$d-p 0700 root root -" >"/usr/lib/tmpfiles.d/$d-p.conf"
nt_path "/etc/tmpfiles.d/$d-p.conf"
echo "d /run/$d-p 0711 root root -" >"/etc/tmpfiles.d/$d-p.conf"

# line TEXT: an ERE for TEXT as one whole line of a multi-line output.
line() { printf '(^|\n)%s($|\n)' "$1"; }

out=$(nt_exec "$alice" "$conf" sh -c 'cd /run && stat -c "%n %a %U:%G" nt-* user user/* lock 2>&1')
like "$out" "$(line "$d 1777 root:root")" "a 1777 directory of tmpfiles.d is made under /run"
like "$out" "$(line "$d-g 770 root:utmp")" "owner and group are the container's root and utmp"
like "$out" "$(line "$d-p 711 root:root")" "/etc/tmpfiles.d hides the /usr/lib file of the same name"
unlike "$out" "$d-x|$d-f|$d-%m|$d-w|$d-m " \
	"not made: nested path, non-d line, specifier, group-writable file, masked file"
like "$out" "$(line "user 755 root:root")" "/run/user is root's 0755"
like "$out" "$(line "user/$uid 700 $alice:$alice")" "/run/user/UID is the user's 0700"
if [ -d /run/lock ] && [ ! -L /run/lock ]; then
	like "$out" "$(line "lock 1777 root:root")" "/run/lock is a sticky world-writable directory (the host has one)"
	out=$(nt_exec "$alice" "$conf" sh -c 'echo l >/run/lock/nt-lock && cat /var/lock/nt-lock')
	is "$out" l "the user writes to /run/lock, which /var/lock shows"
else
	skip "/run/lock" "the host has no /run/lock directory"
	skip "/run/lock writable" "the host has no /run/lock directory"
fi

if command -v screen >/dev/null; then
	out=$(nt_exec "$alice" "$conf" sh -c 'screen -ls 2>&1; stat -c "%a" /run/screen')
	like "$out" 'No Sockets found' "control: screen -ls runs and finds no session yet"
	# The session's socket appears once its backend is up: wait, with a
	# deadline, inside.
	out=$(nt_exec "$alice" "$conf" sh -c 'screen -dmS nt-x sleep 30 2>&1; echo rc=$?
		for i in $(seq 100); do screen -ls | grep -q "nt-x" && break; sleep 0.1; done
		screen -ls 2>&1; screen -S nt-x -X quit')
	like "$out" 'rc=0' "screen -dmS starts a detached session"
	unlike "$out" 'Cannot make directory' "... without complaining about /run/screen"
	like "$out" '[0-9]+\.nt-x[[:space:]]' "screen -ls lists the session"
else
	for t in "screen -ls" "screen -dmS" "/run/screen" "screen session listed"; do
		skip "$t" "screen is not installed (scripts/install-deps installs it)"
	done
fi

done_testing
