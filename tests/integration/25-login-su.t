#!/bin/bash
# login(1) and su with pam_nook (enter=session): `login -f USER` on a pty and
# `su - USER -c CMD` land in the user's container too; the container goes
# when they end. The system's /etc/pam.d/login, su and su-l are never
# edited: each run binds our own PAM file over them in a private mount
# namespace (unshare -m), which disappears with it.
# Commands for the container are single-quoted on purpose: they expand inside.
# shellcheck disable=SC2016
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=sshd.sh
. "$(dirname "$0")/sshd.sh"
require_root

for t in login su script unshare; do
	command -v "$t" >/dev/null || bail "$t is missing"
done
nt_user; alice=$NT_USER
nt_user; carol=$NT_USER
conf=$NT_TMP/a.conf
nt_config "$conf" "users=$alice" hostname=box-%u
host_name=$(hostname)
identity='0 0 4294967295'

nt_pam_file "$NT_TMP/login.pam" "auth     required pam_unix.so" "conf=$conf" "helper=$NOOK_BUILD/nook-helper"
nt_pam_file "$NT_TMP/su.pam" "auth     sufficient pam_rootok.so" "conf=$conf" "helper=$NOOK_BUILD/nook-helper"
nt_pam_file "$NT_TMP/su-broken.pam" "auth     sufficient pam_rootok.so" "conf=$conf" "helper=$NT_TMP/nt-no-such-helper"

# The lines the commands below print: "KEY=value", the key split by quotes
# so that the terminal's echo of the typed line never matches.
probe='echo "H""OST=$(hostname)"; echo "M""AP=$(tr -s " \t" "  " </proc/self/uid_map | sed "s/^ //; s/ $//" | head -n1)"; echo "I""D=$(id -un)"; echo "P""ID1=$(cat /proc/1/comm)"'
# field KEY TEXT: the value of the first "KEY=" line, without the terminal's
# carriage returns and escape sequences (bash's bracketed paste mode).
field() { tr -d '\r' <<<"$2" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' | sed -n "s/^$1=//p" | head -n1; }

# su_run PAMFILE USER CMD: su - USER -c CMD with PAMFILE as su and su-l.
su_run()
{
	timeout -k 5 30 unshare -m sh -c 'mount --bind "$1" /etc/pam.d/su && mount --bind "$1" /etc/pam.d/su-l &&
		exec su - "$2" -c "$3"' sh "$@" </dev/null 2>&1
}

# login_run USER CMDS: `login -f USER` on a pty made by script(1); CMDS are
# typed once login has set the terminal up (it flushes typeahead).
login_run()
{
	local delay out

	for delay in 1 3; do
		out=$( (sleep "$delay"; printf '%s; exit\n' "$2") |
			timeout -k 5 30 unshare -m sh -c 'mount --bind "$1" /etc/pam.d/login &&
				exec script -qec "login -f $2" /dev/null' sh "$NT_TMP/login.pam" "$1" 2>&1)
		[[ $out == *HOST=* ]] && break
	done
	printf '%s\n' "$out"
}

# login_console_run USER CMDS: like login_run, with login on a console: the
# pty stands in for one, bound over /dev/tty63 in the private mount namespace
# (the host's tty63 is untouched), and login runs on that path, so its
# terminal is "tty63", a name directly in /dev as tty1 or ttyS0 would be.
login_console_run()
{
	local delay out

	for delay in 1 3; do
		out=$( (sleep "$delay"; printf '%s; exit\n' "$2") |
			timeout -k 5 30 unshare -m sh -c 'mount --bind "$1" /etc/pam.d/login &&
				exec script -qec "mount --bind \$(tty) /dev/tty63 && exec login -f $2 <>/dev/tty63 >&0 2>&1" /dev/null' \
				sh "$NT_TMP/login.pam" "$1" 2>&1)
		[[ $out == *HOST=* ]] && break
	done
	printf '%s\n' "$out"
}

# ---- su - USER -c CMD
out=$(su_run "$NT_TMP/su.pam" "$alice" "$probe")
is "$(field HOST "$out")" "box-$alice" "su - user -c cmd runs in the user's container (hostname)"
m=$(field MAP "$out")
[ -n "$m" ] && [ "$m" != "$identity" ]
ok $? "su: uid_map is not the identity ($m)"
is "$(field ID "$out")" "$alice" "su: the command runs as the user"
is "$(field PID1 "$out")" "nook-init" "su: pid 1 is the container's init"
[ -n "$out" ] || diag "su printed nothing"
su_run "$NT_TMP/su.pam" "$alice" 'exit 5' >/dev/null
is "$?" 5 "su: the command's exit status (5) comes back"
nt_until 5 nt_not_running "$alice"
ok $? "su: the container stops when su ends (linger 0)"
is "$(nt_procs_in "$alice")" "" "su: no process is left in the user's cgroup"
is "$(nt_loops "$NT_TMP/images/$alice.img")" "" "su: no loop device holds the image"

# ---- login on a console
out=$(login_console_run "$alice" "$probe; echo \"T\"\"TY=\$(tty)\"; echo \"P\"\"TS=\$(ls /dev/pts | tr '\\n' ' ')\"")
is "$(field HOST "$out")" "box-$alice" "login on a console lands in the user's container (hostname)" ||
	diag "login printed: $out"
is "$(field ID "$out")" "$alice" "console login: the shell runs as the user"
is "$(field TTY "$out")" /dev/tty63 "console login: the shell's terminal is the console, by its name"
is "$(field PTS "$out")" "ptmx " "console login: /dev/pts is the container's own (no host pty listed)"
nt_until 5 nt_not_running "$alice"
ok $? "console login: the container stops after logout (linger 0)"

# ---- su of a user not selected: the host
out=$(su_run "$NT_TMP/su.pam" "$carol" "$probe")
is "$(field HOST "$out")" "$host_name" "su to a user not selected stays on the host (hostname)"
is "$(field MAP "$out")" "$identity" "su to a user not selected: identity uid_map"

# ---- su with a broken installation: fail closed
mark=/tmp/nt-escape-$NT_ID-su
nt_path "$mark"
out=$(su_run "$NT_TMP/su-broken.pam" "$alice" "touch $mark; echo ran")
rc=$?
isnt "$rc" 0 "su with the helper missing fails (exit $rc)"
[ ! -e "$mark" ] && [[ $out != *ran* ]]
ok $? "su with the helper missing runs nothing"

# ---- login -f on a pty
out=$(login_run "$alice" "$probe; echo \"T\"\"TY=\$(tty)\"")
is "$(field HOST "$out")" "box-$alice" "login -f on a pty lands in the user's container (hostname)"
m=$(field MAP "$out")
[ -n "$m" ] && [ "$m" != "$identity" ]
ok $? "login: uid_map is not the identity ($m)"
is "$(field ID "$out")" "$alice" "login: the shell runs as the user"
is "$(field PID1 "$out")" "nook-init" "login: pid 1 is the container's init"
like "$(field TTY "$out")" '^/dev/pts/[0-9]+$' "login: the shell's terminal is a pty"
[[ $out == *HOST=* ]] || diag "login printed: $out"
nt_until 5 nt_not_running "$alice"
ok $? "login: the container stops after logout (linger 0)"
is "$(nt_procs_in "$alice")" "" "login: no process is left in the user's cgroup"

done_testing
