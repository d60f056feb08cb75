#!/bin/bash
# A live keeper is never taken for dead: with its socket or its whole run
# directory removed, a new login joins the running container (whose session
# survives) instead of killing it and starting a second keeper, and status
# and stop still find it. status and stop work from the runtime state alone
# when the configuration is invalid. A lock held by a stuck process makes a
# login give up after lock_timeout, naming the holder.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root

nt_user; alice=$NT_USER
conf=$NT_TMP/a.conf
nt_config "$conf"
img=$NT_TMP/images/$alice.img

# keepers USER: how many nook-keeper processes of USER exist.
keepers()
{
	local f n=0 title

	for f in /proc/[0-9]*/cmdline; do
		# setproctitle pads the title with NULs: the first string. When
		# the title is exactly as long as the caller's argv[0] (a clone
		# at /tmp/chk and a 10-character user name), libbsd ends it
		# with a blank: not part of the name.
		title=$( (tr '\0' '\n' <"$f" | head -n1) 2>/dev/null)
		[ "${title% }" = "nook-keeper $1" ] && n=$((n + 1))
	done
	echo "$n"
}
# alive PID: the process exists and is not a zombie.
alive() { [ -d "/proc/$1" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ]; }

nt_spawn "$NT_TMP/s1.out" "$alice" "$conf" sh -c 'echo started; exec sleep 300'
s1=$NT_SPAWNED
nt_until 10 grep -q started "$NT_TMP/s1.out"
ok $? "a session of $alice runs"
read -r init keeper < <(nt_pids "$alice")
[ -n "$init" ] && [ -n "$keeper" ]
ok $? "its container has init $init and keeper $keeper"

# check WHAT: the container, its session and its keeper are the same, alone.
check()
{
	local what=$1 i k

	read -r i k < <(nt_pids "$alice")
	is "$i:$k" "$init:$keeper" "$what: status finds the same init and keeper"
	alive "$s1"
	ok $? "$what: the first session is still running"
	is "$(keepers "$alice")" 1 "$what: there is one keeper for $alice"
	is "$(nt_loops "$img" | wc -l)" 1 "$what: the image is on one loop device"
}

# ---- the socket removed
rm "/run/nook/$alice/keeper.sock"
out=$(nt_exec "$alice" "$conf" sh -c 'echo joined; ps -eo args' 2>"$NT_TMP/err")
is "$?" 0 "socket removed: a new exec works"
grep -qx "sleep 300" <<<"$out" && grep -qx joined <<<"$out"
ok $? "... and joins the running container (it sees the first session's sleep)"
[ -S "/run/nook/$alice/keeper.sock" ]
ok $? "... the keeper listens again"
check "socket removed"

# ---- the whole run directory removed
rm -rf "/run/nook/$alice"
out=$(nt_exec "$alice" "$conf" sh -c 'echo joined; ps -eo args' 2>"$NT_TMP/err")
is "$?" 0 "run directory removed: a new exec works"
grep -qx "sleep 300" <<<"$out" && grep -qx joined <<<"$out"
ok $? "... and joins the running container"
check "run directory removed"

# ---- status finds it too
rm -rf "/run/nook/$alice"
out=$(nt_ctl status "$alice" --config "$conf" 2>&1)
is "$?" 0 "run directory removed: nookctl status exits 0"
like "$out" "$alice: running" "... and says running"
like "$out" "init pid: +$init \\(keeper $keeper\\)" "... with the same init and keeper"
check "after status"

# ---- an invalid configuration: status and stop still work
echo "this is not = valid =" >>"$conf"
out=$(nt_exec "$alice" "$conf" true 2>&1)
is "$?" 125 "control: with the configuration broken, a new exec is refused"
out=$(nt_ctl status "$alice" --config "$conf" 2>&1)
is "$?" 0 "invalid configuration: nookctl status still exits 0"
like "$out" "$alice: running" "... says running"
like "$out" "runtime state" "... and says it works from the runtime state"
rm "/run/nook/$alice/keeper.sock"
out=$(nt_ctl stop "$alice" --config "$conf" 2>&1)
is "$?" 0 "invalid configuration and no socket: nookctl stop exits 0"
like "$out" "$alice: stopped" "... and says stopped"
nt_wait "$s1"
isnt "$?" 0 "... the session ended"
# shellcheck disable=SC2317 # called through nt_until
keeper_gone() { ! alive "$keeper"; }
nt_until 10 keeper_gone
ok $? "... the keeper is gone"
nt_until 5 nt_settled "$alice"
ok $? "... and nothing is left (cgroup, loop device)"
out=$(nt_ctl status "$alice" --config "$conf" 2>&1)
is "$?" 3 "invalid configuration: nookctl status of a stopped container exits 3"

# ---- a lock held by a stuck process: a bounded wait, the holder named
nt_user; bob=$NT_USER
nt_config "$NT_TMP/b.conf" lock_timeout=2s
out=$(nt_exec "$bob" "$NT_TMP/b.conf" echo first 2>/dev/null)
is "$out" first "control: $bob's exec works (and made /run/nook/$bob)"
# linger 0: the container stops after it, in the keeper's own time. Until
# it has, a keeper still answering would take the next exec without the
# lock.
nt_until 10 nt_settled "$bob"
ok $? "... and its container has stopped"
# One process that takes the lock itself and keeps it.
perl -e 'use Fcntl ":flock"; open(my $f, ">>", $ARGV[0]) or die; flock($f, LOCK_EX) or die; sleep 300' \
	"/run/nook/$bob/lock" &
holder=$!
NT_PIDS+=("$holder")
# shellcheck disable=SC2317 # called through nt_until
held() { grep -q " FLOCK .* $holder [0-9a-f:]*:$(stat -c %i "/run/nook/$bob/lock") " /proc/locks; }
nt_until 5 held
ok $? "the test's process ($holder) holds $bob's lock"
t0=$SECONDS
out=$(nt_exec "$bob" "$NT_TMP/b.conf" echo second 2>&1)
rc=$?
is "$rc" 125 "with the lock held, an exec gives up (125)"
[ $((SECONDS - t0)) -le 10 ]
ok $? "... after lock_timeout (2 s), not forever ($((SECONDS - t0)) s)"
like "$out" "held for over 2 s by pid $holder \\(perl -e " "... naming the holder's pid and command"
like "$out" "kill $holder" "... and saying how to end it"
kill "$holder"
nt_wait "$holder"
out=$(nt_exec "$bob" "$NT_TMP/b.conf" echo third 2>/dev/null)
is "$out" third "once the holder is gone, the exec works"

done_testing
