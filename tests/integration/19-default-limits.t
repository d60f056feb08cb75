#!/bin/bash
# Safe defaults. A configuration that sets no limits still bounds memory,
# tasks and CPU (derived from the host's size, nook.conf(5)); /tmp, /run and
# /dev/shm inside have a size (tmpfs_size, by default a quarter of
# memory_max), so that filling /tmp ends in ENOSPC rather than in an OOM
# killer that takes every later login, and the next login works.
# Commands for the container are single-quoted on purpose: they expand inside.
# shellcheck disable=SC2016
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
cd / || bail "cd /"

nt_user; alice=$NT_USER
nt_user; bob=$NT_USER
bare=$NT_TMP/bare.conf
nt_config "$bare" memory_max= pids_max= linger=1m
small=$NT_TMP/small.conf
nt_config "$small" memory_max=128M pids_max=100 linger=1m
sized=$NT_TMP/sized.conf
nt_config "$sized" tmpfs_size=8M

# ---------------------------------------------------------------- limits

mem=$(($(awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo) * 1024))
want_mem=$((mem / 2 / 1048576 * 1048576))
want_pids=$(($(cat /proc/sys/kernel/threads-max) / 4))
[ "$want_pids" -gt 4096 ] && want_pids=4096
[ "$want_pids" -lt 64 ] && want_pids=64
cpus=$(getconf _NPROCESSORS_ONLN)
want_cpu=$((cpus >= 2 ? (cpus / 2) * 100 : 100))

out=$(nt_exec "$alice" "$bare" sh -c 'df -B1 --output=size /tmp /run /dev/shm | tail -n +2 | tr -s " \n" "  "')
read -r tmp run shm <<<"$out"
if [ -n "${NT_CG_DIRS[unified]:-}" ]; then
	d=$(nt_cg_dir unified "$alice")
	got_mem=$(cat "$d/memory.max")
	got_pids=$(cat "$d/pids.max")
	got_cpu=$(cut -d' ' -f1 "$d/cpu.max")
	got_cpu=$((got_cpu / 1000))
else
	got_mem=$(cat "$(nt_cg_dir memory "$alice")/memory.limit_in_bytes")
	got_pids=$(cat "$(nt_cg_dir pids "$alice")/pids.max")
	got_cpu=$(($(cat "$(nt_cg_dir cpu "$alice")/cpu.cfs_quota_us") / 1000))
fi
is "$got_mem" "$want_mem" "no memory_max: the memory limit is half the host's memory ($want_mem)"
is "$got_pids" "$want_pids" "no pids_max: the task limit is a quarter of threads-max, at most 4096 ($want_pids)"
is "$got_cpu" "$want_cpu" "no cpu_max: the CPU limit is half the host's CPUs, at least one ($want_cpu%)"
want_tmp=$((want_mem / 4 / 1048576 * 1048576))
is "$tmp:$run:$shm" "$want_tmp:$want_tmp:$want_tmp" "no tmpfs_size: /tmp, /run, /dev/shm get a quarter of memory_max each"
is "$(nt_exec "$bob" "$sized" sh -c 'df -B1 --output=size /tmp | tail -n1' | tr -d ' ')" $((8 << 20)) \
	"tmpfs_size = 8M gives /tmp 8M"

# ---------------------------------------------------------------- filling /tmp

out=$(nt_exec "$alice" "$small" sh -c 'dd if=/dev/zero of=/tmp/small bs=1M count=4 2>&1; echo "rc=$?"; rm -f /tmp/small')
like "$out" 'rc=0' "control: writing 4M to /tmp works"
nt_ctl stop "$alice" --config "$small" >/dev/null 2>&1
nt_until 15 nt_settled "$alice"
out=$(nt_exec "$alice" "$small" sh -c 'dd if=/dev/zero of=/tmp/fill bs=1M count=256 2>&1; echo "rc=$?"
	echo "size=$(du -m /tmp/fill | cut -f1)"')
like "$out" 'No space left on device' "tmpfs: writing 256M to /tmp (memory_max 128M) ends in ENOSPC"
size=$(sed -n 's/^size=//p' <<<"$out")
[ -n "$size" ] && [ "$size" -le 32 ]
ok $? "tmpfs: ... after at most a quarter of memory_max (${size:-?}M)"
read -r init0 _ < <(nt_pids "$alice")
out=$(nt_exec "$alice" "$small" sh -c 'ls /tmp; echo logged-in')
like "$out" 'fill' "tmpfs: the full file is still there"
like "$out" 'logged-in' "tmpfs: ... and the next login works"
read -r init1 _ < <(nt_pids "$alice")
[ -n "$init0" ] && [ "$init0" = "$init1" ]
ok $? "tmpfs: the container survived (same init $init0)"
out=$(nt_exec "$alice" "$small" sh -c 'dd if=/dev/zero of=/dev/shm/fill bs=1M count=256 2>&1; echo "rc=$?"')
like "$out" 'No space left on device' "tmpfs: /dev/shm ends in ENOSPC too"
out=$(nt_exec "$alice" "$small" sh -c 'echo logged-in')
is "$out" logged-in "tmpfs: with /tmp and /dev/shm full, a login still works"

done_testing
