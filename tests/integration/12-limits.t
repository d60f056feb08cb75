#!/bin/bash
# The user's cgroup: limits written, enforced (memory_max, pids_max) by
# bounded programs, and every process of the container inside it.
# Commands for the container are single-quoted on purpose: they expand inside.
# shellcheck disable=SC2016
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root

nt_user; alice=$NT_USER
conf=$NT_TMP/limited.conf
nt_config "$conf" memory_max=128M pids_max=30 cpu_max=50
loose=$NT_TMP/loose.conf
nt_config "$loose" memory_max=512M pids_max=200

# perl is Essential on Debian: no extra dependency for bounded test programs.
alloc='my $x = "x" x ($ARGV[0] * 1048576); print "allocated $ARGV[0]M\n";'
# Forks up to N children that sleep 5 s; reports how many forks worked and
# the first error; kills and reaps its children before it exits.
forks='my ($n, $err, @k) = (0, "");
for (1 .. $ARGV[0]) {
	my $p = fork;
	if (!defined $p) { $err = "$!"; last }
	if ($p == 0) { sleep 5; exit 0 }
	push @k, $p; $n++;
}
kill "KILL", @k; waitpid($_, 0) for @k;
print "$n:$err\n";'

# A session that keeps the container up while we look at it from the host.
nt_spawn "$NT_TMP/session.out" "$alice" "$conf" sleep 30
session=$NT_SPAWNED
nt_until 10 nt_running "$alice"
ok $? "the container runs while a session sleeps"
nt_until 5 nt_child "$session" >/dev/null
nookctl_pid=$(nt_child "$session")
# nookctl stays on the host; its child joins the container and forks the
# command (setns into a pid namespace only moves children).
nt_until 5 nt_child "$nookctl_pid" >/dev/null
joiner_pid=$(nt_child "$nookctl_pid")
nt_until 5 nt_child "$joiner_pid" >/dev/null
sleep_pid=$(nt_child "$joiner_pid")

# ---- limits as written to the cgroup
if [ -n "${NT_CG_DIRS[unified]:-}" ]; then
	d=$(nt_cg_dir unified "$alice")
	is "$(cat "$d/memory.max")" $((128 << 20)) "memory.max is memory_max"
	is "$(cat "$d/pids.max")" 30 "pids.max is pids_max"
	is "$(cat "$d/cpu.max")" "50000 100000" "cpu.max is cpu_max percent of one CPU"
else
	is "$(cat "$(nt_cg_dir memory "$alice")/memory.limit_in_bytes")" $((128 << 20)) \
		"memory.limit_in_bytes is memory_max"
	is "$(cat "$(nt_cg_dir pids "$alice")/pids.max")" 30 "pids.max is pids_max"
	is "$(cat "$(nt_cg_dir cpu "$alice")/cpu.cfs_quota_us")" 50000 \
		"cpu.cfs_quota_us is cpu_max percent of cpu.cfs_period_us"
fi

# ---- the processes are in the user's cgroup
for k in "${!NT_CG_DIRS[@]}"; do
	procs=$(cat "$(nt_cg_dir "$k" "$alice" container)/cgroup.procs" 2>/dev/null)
	grep -qx "$joiner_pid" <<<"$procs"
	ok $? "$k: nookctl's joiner ($joiner_pid) is in <test cgroup>/$NT_CG/$alice/container"
	! grep -qx "$nookctl_pid" <<<"$procs"
	ok $? "$k: nookctl itself ($nookctl_pid) stays out of the user's cgroup"
	grep -qx "$sleep_pid" <<<"$procs"
	ok $? "$k: the session's command ($sleep_pid) is in the container cgroup"
done
read -r init keeper < <(nt_pids "$alice")
for k in "${!NT_CG_DIRS[@]}"; do
	grep -qx "$init" "$(nt_cg_dir "$k" "$alice" container)/cgroup.procs"
	ok $? "$k: the container's init ($init) is in the container cgroup"
	! grep -rqx "$keeper" --include=cgroup.procs "$(nt_cg_dir "$k" "$alice")"
	ok $? "$k: the keeper ($keeper) is outside the user's cgroup (their OOM cannot reach it)"
done
out=$(nt_exec "$alice" "$conf" cat /proc/self/cgroup)
bad=$(grep -Ev ':/$' <<<"$out")
is "$bad" "" "inside, /proc/self/cgroup shows the cgroup namespace root / everywhere"
like "$out" ':(memory|pids|cpu[^:]*|):/' "... and lists the hierarchies"
out=$(nt_ctl status "$alice" --config "$conf")
like "$out" 'memory: +[0-9.]+[BKMG]? of 128\.0M' "nookctl status shows memory used of 128M"
like "$out" 'pids: +[0-9]+ of 30' "nookctl status shows pids used of 30"

# ---- memory_max
out=$(nt_exec "$alice" "$conf" perl -e "$alloc" 32 2>&1)
rc=$?
is "$rc:$out" "0:allocated 32M" "allocating 32M under memory_max=128M works"
out=$(nt_exec "$alice" "$conf" perl -e "$alloc" 400 2>&1)
rc=$?
isnt "$rc" 0 "allocating 400M under memory_max=128M fails"
unlike "$out" "allocated" "... the program did not get its 400M (status $rc)"
nt_running "$alice"
ok $? "the container survives the OOM kill"
[ -d "/proc/$sleep_pid" ]
ok $? "the other session's process survives the OOM kill"
free=$(awk '$1 == "MemAvailable:" { print $2 }' /proc/meminfo)
[ "$free" -gt $((64 << 10)) ]
ok $? "the host still has memory available ($((free >> 10))M)"

# ---- pids_max
out=$(nt_exec "$alice" "$conf" perl -e "$forks" 60 2>&1)
n=${out%%:*}
like "$out" '^[0-9]+:Resource temporarily unavailable$' "60 forks under pids_max=30: fork fails with EAGAIN"
[[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -lt 30 ]
ok $? "... after some forks worked but fewer than 30 ($n)"
out=$(nt_exec "$alice" "$conf" sh -c 'echo still-here')
is "$out" "still-here" "the container works again once the forks are gone"

# ---- the same programs under looser limits (a new container reads the config)
nt_ctl stop "$alice" --config "$conf" >/dev/null
nt_wait "$session"
out=$(nt_exec "$alice" "$loose" perl -e "$forks" 60 2>&1)
is "$out" "60:" "60 forks under pids_max=200 all work"
out=$(nt_exec "$alice" "$loose" perl -e "$alloc" 400 2>&1)
is "$out" "allocated 400M" "allocating 400M under memory_max=512M works"

done_testing
