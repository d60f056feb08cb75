#!/bin/bash
# The container's life: shared by one user's sessions, one per user, gone
# without a trace after stop or after its last session, and recovered from
# when its keeper or its init is killed.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root

conf=$NT_TMP/a.conf
nt_config "$conf"
nt_user; alice=$NT_USER

# nothing_left USER WHAT: one check per kind of leftover after a stop.
nothing_left()
{
	local u=$1 what=$2 img=$NT_TMP/images/$1.img

	is "$(nt_loops "$img")" "" "$what: no loop device holds the image"
	is "$(nt_cg_left "$u")" "" "$what: the user's cgroup is gone (memory, cpu, pids)"
	is "$(nt_procs_in "$u")" "" "$what: no process is in the user's cgroup"
	is "$(nt_host_mounts "/run/nook/$u/")" "" "$what: nothing is mounted under /run/nook/$u on the host"
	is "$(nt_host_mounts "$img")$(nt_host_mounts "$NT_TMP")" "" "$what: the image is not mounted on the host"
}

# gone PID: the process has exited (or is a zombie nobody reaped).
gone()
{
	[ ! -d "/proc/$1" ] || [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" = Z ]
}

# ---- two sessions of one user share one container
nt_spawn "$NT_TMP/s1.out" "$alice" "$conf" sh -c 'readlink /proc/self/ns/pid; exec sleep 30'
s1=$NT_SPAWNED
nt_until 10 nt_running "$alice"
ok $? "the first session started the container"
nt_until 5 grep -q pid: "$NT_TMP/s1.out"
out=$(nt_exec "$alice" "$conf" sh -c 'readlink /proc/self/ns/pid; ps -eo args')
is "$(head -n1 <<<"$out")" "$(grep '^pid:' "$NT_TMP/s1.out")" "a second exec joins the same pid namespace"
grep -qx "sleep 30" <<<"$out"
ok $? "the second session sees the first session's sleep in ps"
like "$(nt_ctl status "$alice" --config "$conf")" "sessions: +1" "nookctl status counts the live session"
out=$(nt_ctl list)
grep -Eq "^$alice +[0-9]+ +1 " <<<"$out"
ok $? "nookctl list shows the container and its session"
read -r init keeper < <(nt_pids "$alice")
[[ $init =~ ^[0-9]+$ && $keeper =~ ^[0-9]+$ ]]
ok $? "nookctl status gives the init ($init) and keeper ($keeper) pids"
img=$NT_TMP/images/$alice.img
is "$(nt_loops "$img" | wc -l)" 1 "the image is on exactly one loop device"
[ -d "$(nt_cg_dir pids "$alice" 2>/dev/null)" ] || [ -d "$(nt_cg_dir unified "$alice" 2>/dev/null)" ]
ok $? "the user's cgroup exists while the container runs"

# ---- stop leaves nothing behind
out=$(nt_ctl stop "$alice" --config "$conf")
is "$out" "$alice: stopped" "nookctl stop stops the running container"
nt_wait "$s1"
isnt "$?" 0 "the running session ended with the container"
gone "$init"
ok $? "init is gone"
gone "$keeper"
ok $? "the keeper is gone"
nothing_left "$alice" "after stop"
nt_ctl status "$alice" --config "$conf" >/dev/null
is "$?" 3 "nookctl status exits 3: not running"
out=$(nt_ctl stop "$alice" --config "$conf")
is "$?:$out" "0:$alice: not running" "stopping a stopped container is harmless"

# ---- linger 0: the container goes with its last session
out=$(nt_exec "$alice" "$conf" echo hello)
is "$out" "hello" "exec after stop starts a new container"
nt_until 5 nt_not_running "$alice"
ok $? "with linger 0 the container stops after the last session"
nt_until 5 nt_settled "$alice"
nothing_left "$alice" "after the last session"

# ---- SIGKILL of the keeper is recovered from
nt_spawn "$NT_TMP/s2.out" "$alice" "$conf" sleep 30
s2=$NT_SPAWNED
nt_until 10 nt_running "$alice"
read -r init keeper < <(nt_pids "$alice")
kill -KILL "$keeper"
nt_until 5 gone "$keeper"
ok $? "the keeper ($keeper) was killed"
# At once, while what the keeper left may still be going away.
out=$(nt_exec "$alice" "$conf" sh -c 'cat /proc/self/uid_map >/dev/null && echo recovered' 2>&1)
rc=$?
nt_wait "$s2"
isnt "$?" 0 "the session of the dead keeper's container ended"
is "$rc" 0 "the next exec after the keeper's SIGKILL works"
like "$out" "recovered" "... and runs its command"
# Killed by the recovery; its exit can still be under way (the cgroup and
# the loop device let go before the process is a zombie).
nt_until 5 gone "$init"
ok $? "the old init ($init) is gone"
nt_spawn "$NT_TMP/s3.out" "$alice" "$conf" sleep 30
s3=$NT_SPAWNED
nt_until 10 nt_running "$alice"
is "$(nt_loops "$img" | wc -l)" 1 "after recovery the image is on exactly one loop device"
out=$(nt_exec "$alice" "$conf" sh -c "grep -c ' /home/$alice ' /proc/self/mountinfo")
is "$out" 1 "after recovery the home is mounted once inside"
read -r init keeper < <(nt_pids "$alice")

# ---- SIGKILL of init is recovered from: the keeper cleans up
kill -KILL "$init"
nt_until 10 nt_not_running "$alice"
ok $? "after init's SIGKILL the keeper stops the container"
nt_until 5 gone "$keeper"
ok $? "the keeper exited after cleaning up"
nt_wait "$s3"
isnt "$?" 0 "the session ended with init"
nothing_left "$alice" "after init's SIGKILL"
out=$(nt_exec "$alice" "$conf" echo again 2>&1)
is "$out" "again" "the next exec after init's SIGKILL works"

# ---- a stop in progress is "stopping", never "not running" too early
# Our own read-only loop device on the image holds the keeper's stop in its
# wait for the image (up to 10 s): a stop that lasts, deterministically.
nt_spawn "$NT_TMP/s4.out" "$alice" "$conf" sleep 30
s4=$NT_SPAWNED
nt_until 10 nt_running "$alice"
read -r init keeper < <(nt_pids "$alice")
holder=$(losetup -r -f --show "$img")
[ -n "$holder" ]
ok $? "a loop device of the test's own holds the image ($holder)"
kill -KILL "$init"
# shellcheck disable=SC2317 # called through nt_until
stopping() { [ "$(nt_ctl status "$alice" --config "$conf" 2>&1)" = "$alice: stopping (keeper $keeper)" ]; }
nt_until 5 stopping
ok $? "while the keeper cleans up, nookctl status says 'stopping (keeper $keeper)'"
nt_ctl status "$alice" --config "$conf" >/dev/null 2>&1
is "$?" 4 "... and exits 4"
[ -n "$(nt_cg_left "$alice")" ]
ok $? "... and the cgroup is indeed still there"
nt_spawn "$NT_TMP/s5.out" "$alice" "$conf" sh -c 'echo fresh; readlink /proc/self/ns/pid'
s5=$NT_SPAWNED
# shellcheck disable=SC2317 # called through nt_until
holds_lock() { grep -q " $(nt_child "$s5") [0-9a-f:]*:$(stat -c %i "/run/nook/$alice/lock") " /proc/locks; }
nt_until 5 holds_lock
ok $? "an exec during the stop takes the user's lock and waits (for the stopping keeper)"
stopping
ok $? "... while the keeper is still stopping"
losetup -d "$holder"
nt_wait "$s5"
is "$?:$(head -n1 "$NT_TMP/s5.out")" "0:fresh" "once the stop is done, that exec gets a fresh container"
nt_wait "$s4"
nt_until 10 nt_not_running "$alice"
ok $? "the container of that exec went with it (linger 0)"
# At once: "not running" must mean gone, without waiting for anything else.
is "$(nt_cg_left "$alice")" "" "as soon as status says 'not running', the cgroup is gone"
is "$(nt_loops "$img")" "" "... and no loop device holds the image"
gone "$keeper"
ok $? "... and the old keeper has exited"

# ---- two simultaneous first execs of one user: one container, both run
nt_user; carol=$NT_USER
nt_spawn "$NT_TMP/c1.out" "$carol" "$conf" sh -c 'readlink /proc/self/ns/pid; sleep 1'
c1=$NT_SPAWNED
nt_spawn "$NT_TMP/c2.out" "$carol" "$conf" sh -c 'readlink /proc/self/ns/pid; sleep 1'
c2=$NT_SPAWNED
nt_wait "$c1"
rc1=$?
nt_wait "$c2"
is "$rc1:$?" "0:0" "two simultaneous first execs of one user both succeed"
ns1=$(grep '^pid:' "$NT_TMP/c1.out")
ns2=$(grep '^pid:' "$NT_TMP/c2.out")
[ -n "$ns1" ] && [ "$ns1" = "$ns2" ]
ok $? "... and share one container ($ns1 / $ns2)"
nt_until 5 nt_settled "$carol"
ok $? "... which stops after both, cgroup removed and image released"

# ---- ten users at once, each in their own container
users=()
for i in $(seq 10); do
	nt_user
	users+=("$NT_USER")
done
# Each holds its container until all ten have printed: a namespace's inode
# number is reused once it is freed, so only ten alive at once are distinct
# for certain. Each reads a FIFO of the test's until the test closes it.
pids=()
ws=()
for i in "${!users[@]}"; do
	mkfifo "$NT_TMP/go.$i"
	exec {w}<>"$NT_TMP/go.$i"
	ws+=("$w")
	# The child keeps no write end of any FIFO, or no read would end.
	(
		for x in "${ws[@]}"; do exec {x}>&-; done
		exec timeout -k 5 "$NT_TIMEOUT" "$NOOKCTL" exec "${users[$i]}" --config "$conf" -- \
			sh -c 'readlink /proc/self/ns/pid; id -un; read -r _ || true'
	) <"$NT_TMP/go.$i" >"$NT_TMP/many.$i" 2>&1 &
	NT_PIDS+=("$!")
	pids+=("$!")
done
# shellcheck disable=SC2317 # called through nt_until
all_printed() { [ "$(cat "$NT_TMP"/many.* 2>/dev/null | grep -c '^pid:')" -ge 10 ]; }
nt_until 60 all_printed
ok $? "all 10 print their pid namespace while all 10 run"
for w in "${ws[@]}"; do
	exec {w}>&-
done
failed=0
for i in "${!users[@]}"; do
	nt_wait "${pids[$i]}"
	rc=$?
	[ "$rc" = 0 ] || { failed=$((failed + 1)); diag "${users[$i]} (exit $rc): $(cat "$NT_TMP/many.$i")"; }
done
is "$failed" 0 "10 simultaneous first execs of 10 users all succeed"
names=0
for i in "${!users[@]}"; do
	grep -qx "${users[$i]}" "$NT_TMP/many.$i" && names=$((names + 1))
done
is "$names" 10 "each ran as its own user"
distinct=$(cat "$NT_TMP"/many.* | grep '^pid:' | sort -u | wc -l)
is "$distinct" 10 "10 users got 10 distinct pid namespaces"
host=$(readlink /proc/self/ns/pid)
grep -qx "$host" "$NT_TMP"/many.*
isnt "$?" 0 "none of them is the host's pid namespace"
stopped=0
for u in "${users[@]}"; do
	nt_until 5 nt_settled "$u" && stopped=$((stopped + 1))
done
is "$stopped" 10 "all 10 containers stopped with their sessions, cgroups removed, images released"

done_testing
