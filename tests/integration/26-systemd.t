#!/bin/bash
# systemd hosts (the stock case: systemd, logind, pam_systemd in
# common-session, cgroup v2): the container is nook's own delegated scope in
# a slice, never a login's session scope. logind's KillUserProcesses=yes ends
# only the session that logged out; systemd shows and stops the container;
# daemon-reload and a logind restart change nothing; after the last logout
# no unit, cgroup or loop device is left. Skips where systemd does not run.
# Commands for the container are single-quoted on purpose: they expand inside.
# shellcheck disable=SC2016
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=sshd.sh
. "$(dirname "$0")/sshd.sh"
require_root

[ "$NT_SYSTEMD" = 1 ] || nt_skip_all "systemd does not run this host on cgroup v2 (the VM suite covers it)"

nt_user; alice=$NT_USER
conf=$NT_TMP/a.conf
nt_config "$conf" "users=$alice" hostname=box-%u memory_max=96M pids_max=40
nt_sshd_start "$conf"
nt_ssh_key "$alice"
unit=nook-$alice.scope
scope_dir=${NT_CG_DIRS[unified]}/$unit

grep -qs pam_systemd "$NT_SSHD_PAM" /etc/pam.d/common-session
ok $? "setup: pam_systemd is in the test sshd's PAM stack (common-session)"

# unit_prop PROP: the value of PROP of alice's scope.
unit_prop() { systemctl show -P "$1" "$unit" 2>/dev/null; }
# unit_gone: systemd has no such unit loaded any more.
# shellcheck disable=SC2317 # called through nt_until
unit_gone() { [ "$(unit_prop LoadState)" = not-found ] || [ "$(unit_prop ActiveState)" = inactive ]; }
# shellcheck disable=SC2317 # called through nt_until
logind_sessions() { loginctl list-sessions --no-legend 2>/dev/null | awk -v u="$alice" '$3 == u'; }
# shellcheck disable=SC2317 # called through nt_until
no_login_session() { [ -z "$(logind_sessions)" ]; }
# shellcheck disable=SC2317 # called through nt_until
session_count() { [[ $(nt_ctl status "$alice" --config "$conf") =~ sessions:\ +$1($|[^0-9]) ]]; }

# ---- a login lands in the container, which is nook's scope in our slice
# Long-lived sessions, ended by nt_ssh_stop: their timeout is only a bound.
NT_SSH_TIMEOUT=600 nt_ssh_bg "$NT_TMP/s1.out" "$alice" 'hostname; echo "xdg=$XDG_RUNTIME_DIR"; touch "$XDG_RUNTIME_DIR/nt-x" && echo xdg-ok; echo started; exec sleep 4321'
s1=$NT_SSH_BG
nt_until 30 grep -q started "$NT_TMP/s1.out"
ok $? "a first login of $alice is running"
is "$(head -n1 "$NT_TMP/s1.out")" "box-$alice" "it runs in the container"
grep -qx "xdg=/run/user/$(id -u "$alice")" "$NT_TMP/s1.out" && grep -qx xdg-ok "$NT_TMP/s1.out"
ok $? "XDG_RUNTIME_DIR (from pam_systemd) exists inside and is writable" || diag "$(cat "$NT_TMP/s1.out")"
is "$(unit_prop ActiveState)" active "systemd knows the container as $unit, active"
is "$(unit_prop Slice)" "$NT_SLICE" "... in the configured slice"
is "$(unit_prop Delegate)" yes "... with its cgroup delegated to nook"
read -r init keeper < <(nt_pids "$alice")
is "$(cut -d: -f3 "/proc/$keeper/cgroup")" "/nook.slice/$NT_SLICE/$unit/keeper" \
	"the keeper left the login's session scope for the scope's keeper leaf"
is "$(cut -d: -f3 "/proc/$init/cgroup")" "/nook.slice/$NT_SLICE/$unit/user/container" \
	"init is in the user's cgroup inside the scope"
out=$(systemctl status --no-pager "$unit" 2>&1)
like "$out" "nook-keeper $alice" "systemctl status lists the keeper"
like "$out" "sleep 4321" "... and the session's processes"

# ---- limits hold
is "$(cat "$scope_dir/user/memory.max")" $((96 << 20)) "memory.max of the user's cgroup is memory_max"
is "$(cat "$scope_dir/user/pids.max")" 40 "pids.max of the user's cgroup is pids_max"
out=$(nt_ssh "$alice" 'python3 -c "b = bytearray(32 << 20); print(\"small-ok\")"' 2>&1)
is "$out" small-ok "control: allocating 32M inside works"
# The marker is put together at run time: bash's "Killed" line quotes the
# command, which must not count as success.
out=$(nt_ssh "$alice" 'python3 -c "b = bytearray(400 << 20); print(\"big\" + \"-ok\")"; echo "rc=$?"' 2>&1)
unlike "$out" big-ok "allocating 400M inside (memory_max 96M) does not succeed"
like "$out" 'rc=(137|1)' "... the allocation is killed or refused"
forks='
import os, time
pids = []
try:
    for i in range(60):
        p = os.fork()
        if p == 0:
            time.sleep(60)
            os._exit(0)
        pids.append(p)
except OSError as e:
    print("errno=%d" % e.errno)
print("n=%d" % len(pids))
for p in pids:
    os.kill(p, 9)
'
out=$(nt_ssh "$alice" "python3 -c '$forks'" 2>&1)
[[ $out =~ n=([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -lt 40 ] && [ "${BASH_REMATCH[1]}" -ge 20 ]
ok $? "pids_max holds: 60 forks got fewer than 40 tasks ($(tr '\n' ' ' <<<"$out"))"
like "$out" 'errno=11' "... and the fork past the limit failed with EAGAIN"

# ---- KillUserProcesses=yes: the end of one session ends only that session
kup=$(busctl get-property org.freedesktop.login1 /org/freedesktop/login1 org.freedesktop.login1.Manager \
	KillUserProcesses 2>/dev/null)
kup=${kup#b }
NT_SSH_TIMEOUT=600 nt_ssh_bg "$NT_TMP/s2.out" "$alice" 'echo started; exec sleep 5432'
s2=$NT_SSH_BG
nt_until 30 grep -q started "$NT_TMP/s2.out"
ok $? "a second login of $alice is running"
nt_until 10 session_count 2
ok $? "the container counts two sessions"
[ -n "$(logind_sessions)" ]
ok $? "control: logind lists sessions of $alice"
nt_ssh_stop "$s1"
nt_until 20 session_count 1
ok $? "after the first logout one session is left"
out=$(nt_ssh "$alice" 'ps ax -o args=')
grep -qx "sleep 5432" <<<"$out"
ok $? "the second session survives the end of the first (KillUserProcesses=$kup)"
if [ "$kup" != true ]; then
	diag "logind has KillUserProcesses=$kup here; the VM suite runs with yes"
fi

# ---- daemon-reload and a logind restart change nothing
systemctl daemon-reload
ok $? "systemctl daemon-reload"
is "$(unit_prop ActiveState)" active "after daemon-reload the scope is active"
is "$(cat "$scope_dir/user/memory.max")" $((96 << 20)) "... and the limits are still there"
if [ "${NOOK_TEST_DISRUPTIVE:-0}" = 1 ]; then
	systemctl restart systemd-logind
	ok $? "systemctl restart systemd-logind"
else
	skip "systemctl restart systemd-logind" "a logind restart runs only where NOOK_TEST_DISRUPTIVE=1 (the VM suite)"
fi
out=$(nt_ssh "$alice" 'ps ax -o args=')
grep -qx "sleep 5432" <<<"$out"
ok $? "... and the session is still there"
read -r init2 keeper2 < <(nt_pids "$alice")
is "$init2 $keeper2" "$init $keeper" "... in the same container"

# ---- systemctl stop of the unit stops the container cleanly
timeout 60 systemctl stop "$unit"
ok $? "systemctl stop $unit"
nt_until 30 nt_settled "$alice"
ok $? "the container is stopped: no keeper, no cgroup, no loop device"
nt_until 30 unit_gone
ok $? "the unit is gone"
nt_until 30 nt_gone "$s2"
ok $? "the session ended with it"
out=$(nt_ssh "$alice" hostname 2>&1)
is "$out" "box-$alice" "a new login afterwards gets a new container"

# ---- after the last logout nothing is left
nt_until 30 nt_settled "$alice"
ok $? "after the last logout (linger 0) the container is gone"
nt_until 30 unit_gone
ok $? "... and so is its unit"
is "$(nt_loops "$NT_TMP/images/$alice.img")" "" "... and no loop device holds the image"
[ ! -e "$scope_dir" ]
ok $? "... and no cgroup is left"
nt_until 30 no_login_session
ok $? "logind has no session of $alice left (none stays 'closing')"

nt_sshd_cleanup
done_testing
