#!/bin/bash
# What programs see of the container's limits (issue 12): where lxcfs runs,
# /proc/meminfo, /proc/uptime and the other files lxcfs serves are bound
# over /proc inside, so free reports memory_max and uptime the container's
# start. With Debian's lxcfs service running (/var/lib/lxcfs) the test
# uses it; otherwise it runs its own lxcfs on a directory of its own
# (`lxcfs =`) and stops it by pid. The control: lxcfs = none
# shows the host's memory.
# Commands for the container are single-quoted on purpose: they expand inside.
# shellcheck disable=SC2016
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
cd / || bail "cd /"

command -v lxcfs >/dev/null || nt_skip_all "lxcfs is not installed (Debian package lxcfs; scripts/install-deps installs it)"
[ -c /dev/fuse ] || nt_skip_all "no /dev/fuse: lxcfs cannot run"

nt_user; alice=$NT_USER
# The host's own lxcfs (Debian's service, on /var/lib/lxcfs) when it runs,
# as on a stock system; else one of the test's own.
lxcfs_pid=
if grep -q ' /var/lib/lxcfs fuse.lxcfs ' /proc/self/mounts; then
	mnt=/var/lib/lxcfs
else
	mnt=$NT_TMP/lxcfs
	mkdir -m 0755 "$mnt"
	lxcfs -f -p "$NT_TMP/lxcfs.pid" "$mnt" >"$NT_TMP/lxcfs.log" 2>&1 &
	lxcfs_pid=$!
	NT_PIDS+=("$lxcfs_pid")
fi
nt_until 20 test -s "$mnt/proc/meminfo"
ok $? "setup: lxcfs serves $mnt" || diag "$(cat "$NT_TMP/lxcfs.log" 2>/dev/null)"

# MemTotal in kB, from /proc/meminfo inside.
mem_total() { nt_exec "$alice" "$1" sh -c 'sed -n "s/^MemTotal: *\([0-9]*\) kB$/\1/p" /proc/meminfo'; }
host_kb=$(sed -n 's/^MemTotal: *\([0-9]*\) kB$/\1/p' /proc/meminfo)

conf=$NT_TMP/a.conf
nt_config "$conf" memory_max=256M "lxcfs=$mnt"
# On cgroup v2 lxcfs reads memory.max from the reader's own cgroup first:
# the leaf must have the memory controller, else it shows the host's RAM.
is "$(mem_total "$conf")" 262144 "with lxcfs: MemTotal inside is memory_max (256M)"
out=$(nt_exec "$alice" "$conf" free -k)
like "$out" 'Mem: +262144 ' "... and free shows it" || diag "$out"
read -r up _ </proc/uptime
in_up=$(nt_exec "$alice" "$conf" cut -d' ' -f1 /proc/uptime)
awk -v a="$in_up" -v b="$up" 'BEGIN { exit !(a != "" && a + 0 < b + 0) }'
ok $? "with lxcfs: uptime inside ($in_up s) is the container's, below the host's ($up s)"
out=$(nt_exec "$alice" "$conf" sh -c 'echo x >/proc/meminfo; echo rc=$?' 2>&1)
like "$out" 'rc=[1-9]' "the lxcfs files are read-only inside"

nt_ctl stop "$alice" --config "$conf" >/dev/null 2>&1

nt_config "$NT_TMP/none.conf" memory_max=256M lxcfs=none
is "$(mem_total "$NT_TMP/none.conf")" "$host_kb" "control: lxcfs = none shows the host's MemTotal"
nt_ctl stop "$alice" --config "$NT_TMP/none.conf" >/dev/null 2>&1

nt_config "$NT_TMP/absent.conf" memory_max=256M "lxcfs=$NT_TMP/nt-no-lxcfs"
is "$(mem_total "$NT_TMP/absent.conf")" "$host_kb" "lxcfs not mounted there: the container starts with the host's view"
nt_ctl stop "$alice" --config "$NT_TMP/absent.conf" >/dev/null 2>&1

# lxcfs unmounts on SIGTERM; the cleanup unmounts whatever is left.
if [ -n "$lxcfs_pid" ]; then
	kill -TERM "$lxcfs_pid"
	nt_until 20 sh -c "! grep -q ' $mnt ' /proc/self/mounts"
	ok $? "the test's lxcfs stopped and unmounted"
fi

done_testing
