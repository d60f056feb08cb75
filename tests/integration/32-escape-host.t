#!/bin/bash
# Escape attempts, part 2: reaching out of the container, logged in over a
# real sshd. Processes of the host cannot be signalled, traced or entered
# (/proc/PID/root) and are not even listed; the cgroup tree cannot be
# written (release_agent, cgroup.procs) and the session stays in its
# cgroup; host secrets and another user's files, image and terminal are out
# of reach; no fd of sshd, PAM, the helper or the keeper reaches the shell;
# the host's abstract Unix sockets, Unix sockets under /run, TCP on
# 127.0.0.1 and SysV IPC cannot be reached.
#
# Each check asserts that the isolation held; a control shows that the
# probe does work on the host (the process, file, socket is there and
# reachable without the container), so that no check passes by accident.
# Commands for the container are single-quoted on purpose: they expand inside.
# shellcheck disable=SC2016
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=sshd.sh
. "$(dirname "$0")/sshd.sh"
require_root
command -v runuser >/dev/null || bail "runuser is needed for the host-side controls"
cd / || bail "cd /"

nt_user; alice=$NT_USER
nt_user; bob=$NT_USER
conf=$NT_TMP/a.conf
nt_config "$conf" hostname=box-%u
nt_sshd_start "$conf"
nt_ssh_key "$alice"
nt_ssh_key "$bob"
# shellcheck source-path=SCRIPTDIR source=escape.sh
. "$NT_REPO/tests/integration/escape.sh"

nt_ssh_in "$alice" 'cat >~/escape-probe.py && hostname' <"$probe" >"$NT_TMP/setup.out" 2>&1
is "$?:$(cat "$NT_TMP/setup.out")" "0:box-$alice" "setup: the user logs in (into the container) and gets the probe"

# ---------------------------------------------------------------- processes outside

sleep 120 >/dev/null 2>&1 &
sleeper=$!
NT_PIDS+=("$sleeper")
targets=("$NT_SSHD_PID" "$$" "$sleeper")
host=$(timeout -k 5 20 "$NT_PY" "$probe" pids "$sleeper" 2>&1)
is "$(field "kill0_$sleeper" "$host"):$(field "ptrace_$sleeper" "$host"):$(field "pidfd_$sleeper" "$host"):$(field "root_$sleeper" "$host")" \
	ok:ok:ok:ok "control: on the host the probe signals, traces, pidfd_opens and enters a host process"
out=$(nt_ssh "$alice" "python3 ~/escape-probe.py pids ${targets[*]}
	python3 ~/escape-probe.py ptrace_own
	if command -v strace >/dev/null; then timeout 10 strace -p $NT_SSHD_PID -o /dev/null >/dev/null 2>&1; echo \"strace=\$?\"; else echo strace=absent; fi
	echo \"procs=\$(ls /proc | grep -E '^[0-9]+\$' | tr '\\n' ' ')\"
	echo \"init=\$(cat /proc/1/comm)\"")
[ -n "$out" ] || diag "no output from the process probe inside"
for t in kill0:ESRCH:"kill -0" ptrace:ESRCH:"ptrace (PTRACE_SEIZE)" pidfd:ESRCH:pidfd_open root:ENOENT:"/proc/PID/root"; do
	IFS=: read -r key want what <<<"$t"
	got=
	for p in "${targets[@]}"; do
		got+="$(field "${key}_$p" "$out") "
	done
	is "$got" "$want $want $want " "processes outside: $what of host processes (sshd $NT_SSHD_PID, the test $$, a sleep $sleeper) gives $want inside"
done
is "$(field ptrace_own_child "$out")" ok "control: ptrace of one's own child works inside (the syscall is allowed, debuggers work)"
if [ "$(field strace "$out")" = absent ]; then
	skip "processes outside: strace -p of the host's sshd fails inside" "no strace"
else
	failed "processes outside: strace -p of the host's sshd fails inside" "$(field strace "$out")"
fi
plist=$(field procs "$out")
hit=
for p in "${targets[@]}"; do
	[[ " $plist " == *" $p "* ]] && hit+=" $p"
done
[ -n "$plist" ] && [ -z "$hit" ]
ok $? "processes outside: /proc inside lists none of the host pids${hit:+ (but:$hit)}"
n=$(wc -w <<<"$plist")
hostn=$(find /proc -maxdepth 1 -name '[0-9]*' | wc -l)
[ "$n" -ge 2 ] && [ "$n" -le 12 ] && [ "$hostn" -gt "$n" ]
ok $? "processes outside: /proc inside lists only the container's few processes ($n: $plist; host: $hostn)"
is "$(field init "$out")" nook-init "processes outside: pid 1 inside is the container's init"
out=$(nt_ssh "$alice" 'python3 ~/escape-probe.py pids 1')
is "$(field kill0_1 "$out"):$(field ptrace_1 "$out"):$(field root_1 "$out")" EPERM:EPERM:EACCES \
	"the container's init (root inside) cannot be signalled, traced or entered by the user"
is "$(field pidfd_1 "$out")" ok "control: ... though the probe sees it (pidfd_open works)"

# ---------------------------------------------------------------- cgroups

# The classic escape writes a host path to release_agent (v1) of a cgroup
# it can mount or reach.
if ls /sys/fs/cgroup/*/release_agent >/dev/null 2>&1 || [ -e /sys/fs/cgroup/release_agent ]; then
	ok 0 "control: the host has cgroup v1 release_agent files (what the classic escape writes)"
else
	skip "control: the host has cgroup v1 release_agent files" "no cgroup v1 hierarchy mounted"
fi
out=$(nt_ssh "$alice" 'sed "s/^/cg=/" /proc/self/cgroup
	echo "ra=$(find /sys/fs/cgroup -name release_agent 2>/dev/null | grep -c .)"
	mkdir /sys/fs/cgroup/nt 2>/dev/null; echo "mkdir=$?"
	python3 ~/escape-probe.py writes /sys/fs/cgroup/release_agent=/nt /sys/fs/cgroup/memory/release_agent=/nt \
		/sys/fs/cgroup/memory/notify_on_release=1 /sys/fs/cgroup/cgroup.procs=0 \
		/sys/fs/cgroup/pids/cgroup.procs=0 /sys/fs/cgroup/memory/cgroup.procs=0 \
		/sys/fs/cgroup/unified/cgroup.procs=0 /sys/fs/cgroup/systemd/cgroup.procs=0')
bad=$(grep '^cg=' <<<"$out" | grep -v ':/$')
[ -z "$bad" ] && grep -q '^cg=' <<<"$out"
ok $? "cgroups: /proc/self/cgroup inside shows only the namespace root / ($(grep -c '^cg=' <<<"$out") lines)"
[ -z "$bad" ] || diag "$bad"
is "$(field ra "$out")" 0 "cgroups: no release_agent is reachable inside"
failed "cgroups: mkdir under /sys/fs/cgroup fails inside" "$(field mkdir "$out")"
for p in /sys/fs/cgroup/release_agent /sys/fs/cgroup/memory/release_agent /sys/fs/cgroup/memory/notify_on_release \
	/sys/fs/cgroup/cgroup.procs /sys/fs/cgroup/pids/cgroup.procs /sys/fs/cgroup/memory/cgroup.procs \
	/sys/fs/cgroup/unified/cgroup.procs /sys/fs/cgroup/systemd/cgroup.procs; do
	like "$(field "$p" "$out")" '^(EROFS|EACCES|EPERM|ENOENT)$' "cgroups: writing $p inside is refused ($(field "$p" "$out"))"
done

# The session tries to move itself to every cgroup.procs it can name, then
# stays (as a marked sleep): the host checks where it is.
mark=nt-cgprobe-$NT_ID
nt_ssh_bg "$NT_TMP/cg.out" "$alice" "for f in /sys/fs/cgroup/cgroup.procs /sys/fs/cgroup/*/cgroup.procs \
	/sys/fs/cgroup/../cgroup.procs /proc/1/root/sys/fs/cgroup/cgroup.procs; do echo \$\$ >\"\$f\"; done 2>/dev/null
	echo ready; exec -a $mark sleep $((30 * NT_WAIT_SCALE))"
cgbg=$NT_SSH_BG
# find_mark: the host pid of the marked sleep (builtins only: it is polled).
find_mark()
{
	local f a

	for f in /proc/[0-9]*/cmdline; do
		a=
		IFS= read -r -d '' a 2>/dev/null <"$f"
		if [ "$a" = "$mark" ]; then
			f=${f#/proc/}
			echo "${f%/cmdline}"
			return 0
		fi
	done
	return 1
}
nt_until 20 find_mark >/dev/null
mpid=$(find_mark)
[ -n "$mpid" ]
ok $? "cgroups: the session that tried to move itself is found on the host (pid ${mpid:-none})"
for k in "${!NT_CG_DIRS[@]}"; do
	grep -qsx "${mpid:-none}" "$(nt_cg_dir "$k" "$alice" container)/cgroup.procs"
	ok $? "cgroups: $k: it is still in the user's container cgroup"
done
nt_ssh_stop "$cgbg"

# ---------------------------------------------------------------- another user's terminal

nt_ssh_bg "$NT_TMP/bob.out" "$bob" -tt "tty; exec sleep $((30 * NT_WAIT_SCALE))"
bobbg=$NT_SSH_BG
bob_tty()
{
	tr -d '\r' 2>/dev/null <"$NT_TMP/bob.out" | grep -m1 -E '^/dev/pts/[0-9]+$'
}
nt_until 20 bob_tty >/dev/null
bpts=$(bob_tty)
mapfile -t bpids < <(nt_procs_in "$bob")
[ "${#bpids[@]}" -ge 2 ]
ok $? "control: the other user's container runs (${#bpids[@]} host processes: ${bpids[*]})"
# His terminal, seen from the host through his shell's fd 0: a pty of his
# container's own devpts, named $bpts there.
bfd=
for p in "${bpids[@]}"; do
	[ "$(readlink "/proc/$p/fd/0" 2>/dev/null)" = "$bpts" ] && bfd=/proc/$p/fd/0 && break
done
[ -n "$bpts" ] && [ -n "$bfd" ] && [ "$(stat -L -c %U "$bfd")" = "$bob" ]
ok $? "control: the other user has a terminal (${bpts:-none} in his container), his own"
out=$(nt_ssh "$alice" "if [ -e '$bpts' ]; then echo owner=\$(stat -c %U '$bpts'); else echo owner=absent; fi
	python3 ~/escape-probe.py writes '$bpts=nt-$NT_ID'
	python3 ~/escape-probe.py pids ${bpids[*]}")
got=
for p in "${bpids[@]}"; do
	got+="$(field "kill0_$p" "$out")/$(field "ptrace_$p" "$out")/$(field "root_$p" "$out") "
done
[ "${#bpids[@]}" -gt 0 ] && ! tr ' ' '\n' <<<"$got" | grep -v '^ESRCH/ESRCH/ENOENT$' | grep -q .
ok $? "another user's processes: kill -0, ptrace and /proc/PID/root of each give ESRCH/ESRCH/ENOENT inside ($got)"
like "$(field owner "$out")" "^(absent|$alice)\$" \
	"another user's terminal: $bpts inside is not his (the container's own devpts: $(field owner "$out"))"
like "$(field "$bpts" "$out")" '^(ENOENT|EACCES|EPERM|ok)$' "another user's terminal: the probe wrote to $bpts inside, or was refused ($(field "$bpts" "$out"))"
nt_ssh_stop "$bobbg"
grep -q "nt-$NT_ID" "$NT_TMP/bob.out"
isnt "$?" 0 "another user's terminal: nothing arrived on it"

# ---------------------------------------------------------------- host secrets, other users' files

chmod 0755 "/home/$bob"
echo "nt-secret-$NT_ID" >"/home/$bob/nt-secret"
chown "$bob:" "/home/$bob/nt-secret"
chmod 0644 "/home/$bob/nt-secret"
rootsecret=/root/nt-secret-$NT_ID
nt_path "$rootsecret"
echo "nt-secret-$NT_ID" >"$rootsecret"
nt_mkdir /var/lib/nook
nooksecret=/var/lib/nook/nt-secret-$NT_ID
nt_path "$nooksecret"
echo "nt-secret-$NT_ID" >"$nooksecret"
chmod 0644 "$nooksecret"
secrets=(/etc/shadow /etc/gshadow "$rootsecret" "/home/$bob/nt-secret" "$nooksecret" "$NT_TMP/hostkey"
	"$NT_TMP/images/$bob.img" "/run/nook/$bob")
for k in /etc/ssh/ssh_host_*_key; do
	[ -e "$k" ] && secrets+=("$k")
done
[ -e "$NT_TMP/images/$bob.img" ]
ok $? "control: the other user's image exists on the host"
out=$(timeout -k 5 10 runuser -u "$alice" -- cat "/home/$bob/nt-secret" 2>&1)
is "$out" "nt-secret-$NT_ID" "control: on the host the user can read the other user's file (only the container hides it)"
host=$(timeout -k 5 20 "$NT_PY" "$probe" reads "${secrets[@]}" 2>&1)
out=$(nt_ssh "$alice" "python3 ~/escape-probe.py reads ${secrets[*]}
	echo \"root=[\$(ls -A /root 2>/dev/null | tr '\\n' ' ')]\"
	echo \"home=[\$(ls -A /home 2>/dev/null | tr '\\n' ' ')]\"
	echo \"nook=[\$(ls -A /var/lib/nook 2>/dev/null | tr '\\n' ' ')]\"
	echo \"keys=[\$(grep -l 'PRIVATE KEY' /etc/ssh/* 2>/dev/null | tr '\\n' ' ')]\"")
for p in "${secrets[@]}"; do
	i=$(field "$p" "$out")
	h=$(field "$p" "$host")
	if [[ $i =~ ^(0|ENOENT|EACCES|EPERM)$ ]]; then
		ok 0 "host secrets: $p gives nothing inside ($i; host root: $h)"
	else
		ok 1 "host secrets: $p gives nothing inside"
		diag "inside: '$i', host root: '$h'"
	fi
done
is "$(field root "$out")" "[]" "host secrets: /root is empty inside"
is "$(field home "$out")" "[$alice ]" "host secrets: /home holds only the user's own home"
is "$(field nook "$out")" "[]" "host secrets: /var/lib/nook is empty or absent inside"
is "$(field keys "$out")" "[]" "host secrets: no private key in /etc/ssh inside"
grep -l 'PRIVATE KEY' /etc/ssh/ssh_host_*_key >/dev/null 2>&1
ok $? "control: the host's /etc/ssh does hold private keys"

# ---------------------------------------------------------------- leaked fds

# The shell's fds, listed by a child (find) so that the shell opens nothing
# itself: a simple command, no pipeline (a command substitution or a pipe
# to sort would add a pipe of the shell's own, open while the child lists
# them); sorted here.
lsfd='find /proc/$$/fd -mindepth 1 -printf "fd=%f %l\n"'
out=$(nt_ssh "$alice" "$lsfd; exec 7</dev/null; echo after; $lsfd
	for f in /proc/[0-9]*/fd/*; do readlink \"\$f\"; done 2>/dev/null | sed 's/^/any=/'")
before=$(sed '/^after$/,$d' <<<"$out" | grep '^fd=' | sort -n -k1.4)
after=$(sed '1,/^after$/d' <<<"$out" | grep '^fd=' | sort -n -k1.4)
is "$(sed -E 's/^fd=([0-9]+) .*/\1/' <<<"$before" | tr '\n' ' ')" "0 1 2 " \
	"leaked fds: the shell of 'ssh host cmd' has only fds 0, 1, 2" || diag "$before"
like "$(tr '\n' ' ' <<<"$after")" 'fd=7 /dev/null' "control: the listing does show an fd the shell opens (7)"
any=$(grep '^any=' <<<"$out")
[ -n "$any" ] && ! grep -Eq 'anon_inode|/run/nook|\.img|nook|/dev/loop' <<<"$any"
ok $? "leaked fds: no process of the user inside holds a pidfd, an anon inode, a nook socket, image or loop device" ||
	diag "$any"
printf '%s\n' "$lsfd" exit | nt_ssh_in "$alice" -tt >"$NT_TMP/login.out" 2>&1
# Without \r and the terminal's escape sequences (bracketed paste).
login=$(tr -d '\r' <"$NT_TMP/login.out" | sed -E 's/\x1b\[[0-9;?]*[a-zA-Z]//g' | grep -E '^fd=[0-9]+ ')
is "$(sed -E 's/^fd=([0-9]+) .*/\1/' <<<"$login" | tr '\n' ' ')" "0 1 2 255 " \
	"leaked fds: an interactive login shell has fds 0, 1, 2 (and bash's own 255)"
[ -n "$login" ] && ! grep -Evq ' /dev/pts/[0-9]+$' <<<"$login"
ok $? "leaked fds: ... all of them its terminal" || diag "$login"

# ---------------------------------------------------------------- sockets and IPC of the host

abs=@nt-abstract-$NT_ID
sock=/run/nt-escape-$NT_ID.sock
nt_path "$sock"
for a in "$abs" "$sock"; do
	"$NT_PY" "$probe" unix_listen "$a" 60 </dev/null >"$NT_TMP/listen-${a##*/}.out" 2>&1 &
	NT_PIDS+=("$!")
	nt_until 10 grep -q '^listening=' "$NT_TMP/listen-${a##*/}.out"
	host=$(timeout -k 5 10 "$NT_PY" "$probe" unix_connect "$a" 2>&1)
	is "$(field unix_connect "$host")" ok "control: the host's Unix socket $a accepts a connection on the host"
done
"$NT_PY" "$probe" sysv_hold 60 </dev/null >"$NT_TMP/sysv.out" 2>&1 &
NT_PIDS+=("$!")
nt_until 10 grep -q '^shmid=' "$NT_TMP/sysv.out"
shmid=$(field shmid "$(cat "$NT_TMP/sysv.out")")
awk -v id="$shmid" '$2 == id' /proc/sysvipc/shm | grep -q .
ok $? "control: the host's SysV segment $shmid is listed in the host's /proc/sysvipc/shm"
timeout -k 5 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$NT_SSHD_PORT" 2>/dev/null
ok $? "control: the host's sshd on 127.0.0.1:$NT_SSHD_PORT accepts a TCP connection on the host"

out=$(nt_ssh "$alice" "python3 ~/escape-probe.py unix_connect $abs | sed s/^/abs-/
	python3 ~/escape-probe.py unix_connect $sock | sed s/^/path-/
	echo \"listed=\$(grep -c '$abs' /proc/net/unix)\"
	echo \"shm=\$(tail -n +2 /proc/sysvipc/shm | grep -c .)\"
	python3 ~/escape-probe.py tcp_connect 127.0.0.1 $NT_SSHD_PORT")
is "$(field abs-unix_connect "$out")" ECONNREFUSED "abstract sockets: connecting to the host's $abs inside is refused (another network namespace)"
is "$(field listed "$out")" 0 "abstract sockets: /proc/net/unix inside does not list it"
grep -q "$abs" /proc/net/unix
ok $? "control: the host's /proc/net/unix lists it"
is "$(field path-unix_connect "$out")" ENOENT "Unix sockets: the host's $sock is absent inside (/run is the container's)"
is "$(field shm "$out")" 0 "SysV IPC: no segment of the host is listed inside (another IPC namespace)"
like "$(field tcp_connect "$out")" '^(ECONNREFUSED|ENETUNREACH)$' \
	"TCP: the host's 127.0.0.1:$NT_SSHD_PORT (sshd) is unreachable inside ($(field tcp_connect "$out"))"

# ---------------------------------------------------------------- ssh forwarding

# The user's own forwardings are made by the session's sshd process, which
# is in the container too: a host session (root) as the control.
nt_ssh_key root
accepted()
{
	grep -c '^accepted=' "$NT_TMP/listen-${sock##*/}.out"
}
out=$(nt_ssh root -W "127.0.0.1:$NT_SSHD_PORT" 2>&1 | head -c 7)
is "$out" SSH-2.0 "control: a host session's ssh -W reaches the host's sshd on 127.0.0.1"
out=$(nt_ssh "$alice" -W "127.0.0.1:$NT_SSHD_PORT" 2>&1)
rc=$?
[ "$rc" -ne 0 ] && [[ $out != *SSH-2.0* ]]
ok $? "ssh forwarding: the user's ssh -W to the host's 127.0.0.1:$NT_SSHD_PORT fails (exit $rc: $out)"
n0=$(accepted)
lport=$(nt_free_port)
nt_ssh_bg "$NT_TMP/Lroot.out" root -o ExitOnForwardFailure=yes -L "$lport:$sock" "sleep $((20 * NT_WAIT_SCALE))"
Lbg=$NT_SSH_BG
nt_until 10 nt_port_listening "$lport"
timeout -k 5 $((10 * NT_WAIT_SCALE)) "$NT_PY" "$probe" tcp_connect 127.0.0.1 "$lport" >/dev/null 2>&1
nt_until 5 test "$(accepted)" -gt "$n0"
ok $? "control: a host session's ssh -L to $sock reaches it ($n0 -> $(accepted) connections)"
nt_ssh_stop "$Lbg"
n0=$(accepted)
lport=$(nt_free_port)
nt_ssh_bg "$NT_TMP/Lalice.out" "$alice" -o ExitOnForwardFailure=yes -L "$lport:$sock" "sleep $((20 * NT_WAIT_SCALE))"
Lbg=$NT_SSH_BG
nt_until 10 nt_port_listening "$lport"
out=$(timeout -k 5 $((10 * NT_WAIT_SCALE)) "$NT_PY" "$probe" tcp_connect 127.0.0.1 "$lport" 2>&1)
# A connection the forward would make has had time to arrive (a bound for
# a negative check, scaled like every wait).
sleep "$(awk -v s="$NT_WAIT_SCALE" 'BEGIN { print 0.5 * s }')"
is "$(field tcp_read "$out"):$(accepted)" "0:$n0" "ssh forwarding: the user's ssh -L to the host's $sock gets nothing (the listener saw no connection)" ||
	diag "the probe printed: $out"
nt_ssh_stop "$Lbg"
is "$(grep -c '^accepted=' "$NT_TMP/listen-${abs##*/}.out")" 1 "Unix sockets: $abs saw only the host's own connection"

nt_sshd_cleanup
done_testing
