#!/bin/bash
# Escape attempts, part 4: kernel per-user counters. The kernel charges
# what a process holds (inotify instances, POSIX message queue bytes,
# pending signals, processes, user namespaces) to its user in its own user
# namespace and to the owner of that namespace in the host's. A container
# whose user namespace host root owned could exhaust host root's counters,
# and so every other container's (issue 10). Each container's namespace is
# owned by an id of its own (subordinate range, never mapped): a user who
# fills a counter inside hits the limit (the control that the fill works),
# while host root and another user's container still get theirs.
# Commands for the container are single-quoted on purpose: they expand inside.
# shellcheck disable=SC2016
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
cd / || bail "cd /"

nt_user; alice=$NT_USER
nt_user; bob=$NT_USER
conf=$NT_TMP/a.conf
nt_config "$conf" linger=1m
# shellcheck source-path=SCRIPTDIR source=escape.sh
. "$NT_REPO/tests/integration/escape.sh"

# in_box USER MODE ARG...: the probe in USER's container (read from stdin:
# the host's /tmp, where it lies, is not the container's).
in_box()
{
	local user=$1

	shift
	timeout -k 5 "$NT_TIMEOUT" "$NOOKCTL" exec "$user" --config "$conf" -- python3 - "$@" <"$probe" 2>&1
}

# on_host MODE ARG...: the probe as host root.
on_host()
{
	timeout -k 5 30 python3 "$probe" "$@" </dev/null 2>&1
}

# hold_in_box OUT USER MODE ARG...: in_box in the background (its pid in
# NT_SPAWNED, registered for cleanup).
hold_in_box()
{
	local out=$1 user=$2

	shift 2
	timeout -k 5 "$NT_TIMEOUT" "$NOOKCTL" exec "$user" --config "$conf" -- python3 - "$@" <"$probe" >"$out" 2>&1 &
	NT_SPAWNED=$!
	NT_PIDS+=("$NT_SPAWNED")
}

is "$(in_box "$alice" ns_owner /proc/self/ns/user | grep -c '^owner=')" 1 "setup: alice's container runs the probe"
is "$(in_box "$bob" ns_owner /proc/self/ns/user | grep -c '^owner=')" 1 "setup: bob's container runs the probe"

# ---------------------------------------------------------------- owners

read -r ainit _ < <(nt_pids "$alice")
read -r binit _ < <(nt_pids "$bob")
aown=$(field owner "$(on_host ns_owner "/proc/$ainit/ns/user")")
bown=$(field owner "$(on_host ns_owner "/proc/$binit/ns/user")")
rown=$(field owner "$(on_host ns_owner /proc/self/ns/user)")
is "$rown" 0 "control: the probe reads the owner of the host's user namespace (0)"
like "$aown" '^[1-9][0-9]*$' "owner: alice's user namespace is owned by a non-root id ($aown)"
isnt "$aown" "$(id -u "$alice")" "owner: ... which is not alice's own uid"
isnt "$aown" "$bown" "owner: bob's container has another owner ($bown)"
read -r base count < <(awk -F: -v u="$alice" '$1 == u { print $2, $3 }' /etc/subuid)
[ -n "$base" ] && [ "$aown" -ge "$base" ] && [ "$aown" -lt $((base + count)) ]
ok $? "owner: ... an id of alice's subordinate range ($base+$count)"
out=$(nt_exec "$alice" "$conf" cat /proc/self/uid_map)
unlike "$out" "(^|[[:space:]])${aown}[[:space:]]" "owner: ... that no inside id maps to"
like "$out" "[0-9]" "control: the uid map was read"

# ---------------------------------------------------------------- inotify

max=$(cat /proc/sys/fs/inotify/max_user_instances)
hold_in_box "$NT_TMP/inotify.out" "$alice" inotify_fill 100000 40
fill=$NT_SPAWNED
nt_until 30 grep -q '^inotify=' "$NT_TMP/inotify.out"
read -r n err <<<"$(field inotify "$(cat "$NT_TMP/inotify.out")")"
is "$err" EMFILE "inotify: filling instances inside ends with EMFILE (the limit)"
[ -n "$n" ] && [ "$n" -gt 0 ] && [ "$n" -le "$max" ]
ok $? "inotify: ... after at most max_user_instances ($n of $max)"
is "$(field inotify "$(on_host inotify_fill 4 0)")" "4 none" "inotify: meanwhile host root creates inotify instances"
is "$(field inotify "$(in_box "$bob" inotify_fill 4 0)")" "4 none" "inotify: meanwhile another user's container does"
kill -TERM "$fill" 2>/dev/null
nt_wait "$fill"
is "$(field inotify "$(in_box "$alice" inotify_fill 4 0)")" "4 none" "inotify: once released, alice creates them again"

# ---------------------------------------------------------------- mqueue

hold_in_box "$NT_TMP/mq.out" "$alice" mq_fill 1000 40
fill=$NT_SPAWNED
nt_until 30 grep -q '^mq=' "$NT_TMP/mq.out"
read -r n err <<<"$(field mq "$(cat "$NT_TMP/mq.out")")"
is "$err" EMFILE "mqueue: creating queues inside ends with EMFILE (RLIMIT_MSGQUEUE)"
[ -n "$n" ] && [ "$n" -gt 0 ]
ok $? "mqueue: ... after some were made ($n)"
is "$(field mq "$(unshare -i python3 "$probe" mq_fill 2 0 </dev/null 2>&1)")" "2 none" \
	"mqueue: meanwhile host root creates queues (in an IPC namespace of its own)"
is "$(field mq "$(in_box "$bob" mq_fill 2 0)")" "2 none" "mqueue: meanwhile another user's container does"
kill -TERM "$fill" 2>/dev/null
nt_wait "$fill"

done_testing
