#!/bin/bash
# nook's own cgroup v2 backend (cgroup_manager = cgroupfs), as on a host
# with cgroup v2 but without systemd: the user's cgroup with memory, cpu and
# pids enabled, in the shape v2 allows. Here it runs inside a scope that
# systemd delegated to the test (so that the test owns a v2 subtree): the
# scope's processes sit in a leaf, so the scope itself may give its children
# controllers (no-internal-process rule). Skips unless systemd runs on v2.
# The runner script is single-quoted on purpose: it expands in its own shell.
# shellcheck disable=SC2016
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root

[ "$NT_SYSTEMD" = 1 ] ||
	nt_skip_all "needs a v2 subtree delegated by systemd (the VM suite runs it); v1 is covered by 12-limits.t"

nt_user; alice=$NT_USER
unit=nt-cgfs-$NT_ID.scope
rel=nook.slice/$NT_SLICE/$unit
scope=/sys/fs/cgroup/$rel
conf=$NT_TMP/a.conf
nt_config "$conf" cgroup_manager=cgroupfs "cgroup_root=$rel/nook" memory_max=64M pids_max=50 cpu_max=30

# The test's delegated scope: its shell moves itself to the leaf "procs"
# first, then runs nookctl exec, whose keeper stays in that leaf.
systemd-run --quiet --scope --unit="$unit" --slice="$NT_SLICE" -p Delegate=yes -- /bin/bash -c '
	mkdir "$1/procs" && echo $$ >"$1/procs/cgroup.procs" || exit 99
	shift
	exec timeout -k 5 60 "$@"' _ "$scope" "$NOOKCTL" exec "$alice" --config "$conf" -- \
	sh -c 'cat /proc/self/cgroup; echo ready; exec sleep 300' </dev/null >"$NT_TMP/exec.out" 2>&1 &
runner=$!
NT_PIDS+=("$runner")
nt_until 30 grep -q ready "$NT_TMP/exec.out"
ok $? "nookctl exec with cgroup_manager = cgroupfs runs in a v2 subtree"
diag "$(cat "$NT_TMP/exec.out")"

d=$scope/nook/$alice
is "$(cat "$d/memory.max" 2>&1)" $((64 << 20)) "memory.max of the user's cgroup is memory_max"
is "$(cat "$d/pids.max" 2>&1)" 50 "pids.max is pids_max"
is "$(cat "$d/cpu.max" 2>&1)" "30000 100000" "cpu.max is cpu_max"
like "$(cat "$scope/cgroup.subtree_control")" 'memory' "the scope gives its children the memory controller"
is "$(cat "$scope/cgroup.procs")" "" "no process sits in the scope itself (v2's no-internal-process rule)"
read -r init keeper < <(nt_pids "$alice")
grep -qx "$init" "$d/container/cgroup.procs"
ok $? "init ($init) is in the user's container leaf"
grep -qx "$keeper" "$scope/procs/cgroup.procs"
ok $? "the keeper ($keeper) stays where it started, outside the user's limits"
is "$(cat "$d/cgroup.procs")" "" "no process sits in the user's cgroup itself, only in its leaf"

timeout 60 "$NOOKCTL" stop "$alice" --config "$conf" >/dev/null 2>&1
ok $? "nookctl stop"
nt_until 30 nt_settled "$alice"
ok $? "the container is gone"
[ ! -e "$d" ]
ok $? "the user's cgroup is removed"
nt_wait "$runner" >/dev/null 2>&1

done_testing
