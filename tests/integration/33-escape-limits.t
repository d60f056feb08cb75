#!/bin/bash
# Escape attempts, part 3: exhausting resources, logged in over a real
# sshd. A fork bomb stops at pids_max, memory exhaustion is killed inside
# at memory_max, filling the disk stops at the image's size (and tmpfs
# inside at memory_max): the host and another user's session keep working
# meanwhile and afterwards. Bounded probes only (escape-probe.py): the fork
# loop and the allocation have fixed sizes, and every command a timeout.
# Commands for the container are single-quoted on purpose: they expand inside.
# shellcheck disable=SC2016
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=sshd.sh
. "$(dirname "$0")/sshd.sh"
require_root
cd / || bail "cd /"

nt_user; alice=$NT_USER
nt_user; bob=$NT_USER
conf=$NT_TMP/a.conf
# linger: the container outlives each session, so that we can see it
# survive what a session did.
nt_config "$conf" hostname=box-%u pids_max=64 memory_max=128M image_size=64M linger=1m
nt_sshd_start "$conf"
nt_ssh_key "$alice"
nt_ssh_key "$bob"
# shellcheck source-path=SCRIPTDIR source=escape.sh
. "$NT_REPO/tests/integration/escape.sh"

# cg_sum CONTROLLER FILE KEY: the sum of "KEY VALUE" of FILE in alice's
# cgroup and in its container leaf (v1 counts some events only where they
# happen, v2 also upwards: either way, the sum grows when the limit hits).
cg_sum()
{
	local k=unified d

	[ -n "${NT_CG_DIRS[unified]:-}" ] || k=$1
	d=$(nt_cg_dir "$k" "$alice")
	cat "$d/$2" "$d/container/$2" 2>/dev/null | awk -v k="$3" '$1 == k { n += $2 } END { print n + 0 }'
}

# cg_file CONTROLLER FILE: FILE of alice's cgroup.
cg_file()
{
	if [ -n "${NT_CG_DIRS[unified]:-}" ]; then
		echo "$(nt_cg_dir unified "$alice")/$2"
	else
		echo "$(nt_cg_dir "$1" "$alice")/$2"
	fi
}

nt_ssh_in "$alice" 'cat >~/escape-probe.py && hostname' <"$probe" >"$NT_TMP/setup.out" 2>&1
is "$?:$(cat "$NT_TMP/setup.out")" "0:box-$alice" "setup: the user logs in (into the container) and gets the probe"
read -r init0 _ < <(nt_pids "$alice")

# ---------------------------------------------------------------- fork bomb

pids_max0=$(cg_sum pids pids.events max)
nt_ssh_bg "$NT_TMP/fork.out" "$alice" "python3 ~/escape-probe.py forks 1000 $((8 * NT_WAIT_SCALE))"
fork=$NT_SSH_BG
nt_until 30 grep -q '^forked=' "$NT_TMP/fork.out"
# While the forks are held: the host, and another user logging in (which
# builds his container: helper and keeper on the host).
during=$(cat "$(cg_file pids pids.current)" 2>/dev/null)
out=$(nt_ssh "$bob" hostname 2>&1)
is "$out" "box-$bob" "fork bomb: meanwhile another user logs in (and gets his container)"
n=0
for ((i = 0; i < 50; i++)); do
	/bin/true && n=$((n + 1))
done
is "$n" 50 "fork bomb: meanwhile the host forks and execs as usual"
still=$(cat "$(cg_file pids pids.current)" 2>/dev/null)
nt_until 30 grep -q '^reaped=' "$NT_TMP/fork.out"
nt_ssh_stop "$fork"
read -r forked err <<<"$(field forked "$(cat "$NT_TMP/fork.out")")"
is "$err" EAGAIN "fork bomb: fork fails with EAGAIN inside"
[ -n "$forked" ] && [ "$forked" -ge 40 ] && [ "$forked" -lt 64 ]
ok $? "fork bomb: it got up to the limit and not past it ($forked forks, pids_max 64)"
[ -n "$during" ] && [ "$during" -le 64 ] && [ "$during" -ge 40 ] && [ -n "$still" ] && [ "$still" -ge 40 ]
ok $? "fork bomb: the user's cgroup held at most 64 tasks, and was still full after the other login ($during, $still)"
[ "$(cg_sum pids pids.events max)" -gt "$pids_max0" ]
ok $? "fork bomb: the cgroup recorded hitting pids.max (pids.events max: $pids_max0 -> $(cg_sum pids pids.events max))"
out=$(nt_ssh "$alice" hostname 2>&1)
is "$out" "box-$alice" "fork bomb: afterwards the user logs in again"

# ---------------------------------------------------------------- memory

if [ -n "${NT_CG_DIRS[unified]:-}" ]; then
	oom() { cg_sum memory memory.events oom_kill; }
else
	oom() { cg_sum memory memory.oom_control oom_kill; }
fi
oom0=$(oom)
out=$(nt_ssh "$alice" 'python3 ~/escape-probe.py alloc 32' 2>&1)
is "$(field allocated_all "$out")" 32 "control: allocating 32M inside works"
out=$(nt_ssh "$alice" 'python3 ~/escape-probe.py alloc 512; echo "rc=$?"' 2>&1)
[ -n "$(field rc "$out")" ] && [ -z "$(field allocated_all "$out")" ]
ok $? "memory: allocating 512M (memory_max 128M) does not succeed"
is "$(field rc "$out")" 137 "memory: the allocating process is killed (SIGKILL, status 137)"
last=$(grep '^allocated=' <<<"$out" | tail -n1 | cut -d= -f2)
[ -n "$last" ] && [ "$last" -le 128 ]
ok $? "memory: it never had more than 128M (last report: ${last:-none}M)"
[ "$(oom)" -gt "$oom0" ]
ok $? "memory: the kill was the user's cgroup's OOM killer (oom_kill $oom0 -> $(oom))"
read -r init1 _ < <(nt_pids "$alice")
is "$init1" "$init0" "memory: the user's container itself survived (same init $init0)"
is "$(nt_ssh "$bob" hostname 2>&1)" "box-$bob" "memory: afterwards another user's session works"
is "$(nt_ssh "$alice" hostname 2>&1)" "box-$alice" "memory: and the user's own"
! nt_gone "$NT_SSHD_PID"
ok $? "memory: the host's sshd is still running"

# ---------------------------------------------------------------- disk

img=$NT_TMP/images/$alice.img
avail0=$(df -B1 --output=avail "$NT_TMP/images" | tail -n1)
out=$(nt_ssh "$alice" 'dd if=/dev/zero of=~/small bs=1M count=8 conv=fsync 2>&1; echo "rc=$?"; rm -f ~/small' 2>&1)
is "$(field rc "$out")" 0 "control: writing 8M to the home inside works"
out=$(nt_ssh "$alice" 'timeout 60 dd if=/dev/zero of=~/fill bs=1M count=512 conv=fsync 2>&1; echo "rc=$?"
	echo "size=$(du -m ~/fill | cut -f1)"' 2>&1)
like "$(field rc "$out")" '^[1-9][0-9]*$' "disk: writing 512M to the home (image_size 64M) fails"
like "$out" 'No space left on device' "disk: ... with ENOSPC"
[ "$(field size "$out")" -le 64 ] 2>/dev/null
ok $? "disk: ... after at most the image's size ($(field size "$out")M)"
avail1=$(df -B1 --output=avail "$NT_TMP/images" | tail -n1)
used=$(((avail0 - avail1) >> 20))
# Had the writes gone to the host, it would have lost 512M; the image
# (sparse) takes up to its size; the rest is slack for whatever else runs.
[ "$used" -lt 192 ]
ok $? "disk: the host's free space shrank by at most the image size, plus noise (${used}M, not 512M)"
[ "$(($(stat -c %b "$img") * $(stat -c %B "$img") >> 20))" -le 66 ]
ok $? "disk: the image file holds at most its size on the host ($(du -m "$img" | cut -f1)M)"
out=$(nt_ssh "$bob" 'dd if=/dev/zero of=~/small bs=1M count=8 conv=fsync 2>&1; echo "rc=$?"; rm -f ~/small' 2>&1)
is "$(field rc "$out")" 0 "disk: another user still writes to his own home"
out=$(nt_ssh "$alice" 'rm -f ~/fill && echo "x" >~/after && cat ~/after' 2>&1)
is "$out" x "disk: once the file is removed, the user writes again"
read -r init1 _ < <(nt_pids "$alice")
is "$init1" "$init0" "the user's container ran through fork bomb, memory and disk exhaustion (same init $init0)"

# ---------------------------------------------------------------- tmpfs

# tmpfs inside is memory: filling /tmp stops at memory_max. The file is
# nobody's memory, so the OOM killer takes the processes of the cgroup one
# by one: the session's, and possibly the container's own (it then ends,
# and its tmpfs with it). Either way the file never outgrows memory_max,
# and nothing outside the user's cgroup notices.
read -r init0 keeper0 < <(nt_pids "$alice")
out=$(nt_ssh "$alice" 'dd if=/dev/zero of=/tmp/fill bs=1M count=256 2>&1; echo "rc=$?"' 2>&1)
isnt "$(field rc "$out")" 0 "tmpfs: writing 256M to /tmp (memory_max 128M) does not succeed"
read -r init1 _ < <(nt_pids "$alice")
size=
if [ -n "$init1" ] && [ "$init1" = "$init0" ] && ! nt_gone "$init0"; then
	# Measured and removed by root through the container's init, as an
	# admin would (each new login would hit the limit too); removing it
	# also ends the OOM killer's round.
	fill=/proc/$init1/root/tmp/fill
	size=$(du -m "$fill" 2>/dev/null | cut -f1)
	rm -f "$fill"
fi
sleep 1
if [ -n "$size" ]; then
	[ "$size" -le 128 ]
	ok $? "tmpfs: ... at most memory_max got written (${size}M)"
else
	# No file to measure: init was the OOM killer's pick (it is when it is
	# the largest process, as in sanitizer builds), and the container, its
	# tmpfs with it, is ending. It must be gone shortly.
	nt_until 15 nt_gone "$init0"
	ok $? "tmpfs: ... the OOM killer ended the container, its tmpfs with it"
fi
# The keeper lives outside the user's cgroup: it survives the OOM round, or
# has ended normally because init was the OOM killer's pick.
if nt_gone "$keeper0"; then
	nt_until 10 nt_not_running "$alice"
fi
is "$(nt_ssh "$bob" hostname 2>&1)" "box-$bob" "tmpfs: another user's session works"
! nt_gone "$NT_SSHD_PID"
ok $? "tmpfs: the host's sshd is still running"
is "$(nt_ssh "$alice" 'ls /tmp; hostname' 2>&1)" "box-$alice" "tmpfs: the user logs in again (with an empty /tmp)"

nt_sshd_cleanup
done_testing
