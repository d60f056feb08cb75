#!/bin/bash
# mosh (issue 12). With network = pasta and bridge, plain mosh from a
# client beyond the host (the test's remote namespace) reaches mosh-server
# in the user's container: the container has a slice of mosh_ports, which
# pasta forwards and the bridge DNATs, and mosh-server binds in it. A mosh
# session keeps the container running after the ssh that started it has
# gone (linger = 0), and the container stops when mosh ends. Where mosh
# cannot work (network = none, mosh_ports = none) mosh-server says why.
# Everything runs in namespaces this test makes (netns.sh).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=netns.sh
. "$(dirname "$0")/netns.sh"
# shellcheck source-path=SCRIPTDIR source=sshd.sh
. "$(dirname "$0")/sshd.sh"
require_root

for p in mosh mosh-server mosh-client; do
	command -v "$p" >/dev/null || nt_net_skip_all "no $p (apt install mosh)"
done
nt_net_modes
nt_netns_setup
nt_netns_ssh
# The client connects from the remote namespace, to the host's address.
NT_SSHD_LISTEN=$NT_HOST_IP

nt_user; alice=$NT_USER

# shellcheck disable=SC2317 # called through nt_until
# keeper_holds_mosh USER CONF: the keeper of USER holds a pidfd of a process that
# runs mosh-server (its fdinfo names the pid): it counts as a session.
keeper_holds_mosh()
{
	local keeper f p

	keeper=$(nt_ctl status "$1" --config "$2" 2>/dev/null | sed -n 's/.*(keeper \([0-9]*\)).*/\1/p')
	[ -n "$keeper" ] || return 1
	for f in /proc/"$keeper"/fdinfo/*; do
		p=$(sed -n 's/^Pid:[[:space:]]*//p' "$f" 2>/dev/null)
		[ -n "$p" ] && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = mosh-server ] && return 0
	done
	return 1
}

# shellcheck disable=SC2317 # called through nt_until
no_lease()
{
	! grep -qs "^$alice " /run/nook/.net/.mosh/*
}

for mode in "${NT_NET_MODES[@]}"; do
	conf=$NT_TMP/$mode.conf
	nt_config "$conf" "network=$mode" mosh_ports=61001-61040 mosh_sessions=4
	nt_sshd_start "$conf"
	nt_ssh_key "$alice"

	# ---- the slice, and mosh-server's wrapper
	out=$(nt_ssh "$alice" 'cat /usr/bin/mosh-server; test -x /run/nook/mosh-server && echo real-ok')
	slice=$(sed -n 's/.*forwards UDP ports \(610[0-9][0-9]-610[0-9][0-9]\) .*/\1/p' <<<"$out")
	like "$slice" '^610[0-9][0-9]-610[0-9][0-9]$' "$mode: the container has a slice of mosh_ports"
	low=${slice%-*} high=${slice#*-}
	is "$((high - low + 1))" 4 "$mode: ... mosh_sessions = 4 ports wide"
	like "$out" " -p $low:$high" "$mode: mosh-server inside binds in the slice"
	like "$out" "real-ok" "$mode: the real mosh-server is there for the wrapper"
	# The wrapper's own words, with the real mosh-server replaced by echo:
	# -p goes in, the client's -s goes, and the command after -- is left.
	# shellcheck disable=SC2016 # expanded inside
	out=$(nt_ssh "$alice" 'sed "s|exec /run/nook/mosh-server|exec echo|" /usr/bin/mosh-server >/tmp/w
		sh /tmp/w new -c 256 -s -l LANG=C.UTF-8 -- ls -s -p 1; sh /tmp/w new -p 6000 -i 192.0.2.1 -p6001
		sh /tmp/w other -s')
	is "$out" "new -c 256 -l LANG=C.UTF-8 -p $low:$high -- ls -s -p 1
new -i 192.0.2.1 -p $low:$high
other -s" "$mode: the wrapper puts in its -p, drops the client's -s and -p, keeps the command and other uses"
	nt_until 20 nt_not_running "$alice"
	ok $? "$mode: the container stops after these logins (linger = 0)"

	# ---- plain mosh from beyond the host
	printf '%s\n' "Host *" "Port $NT_SSHD_PORT" "User $alice" "IdentityFile $NT_SSH_KEY" "IdentitiesOnly yes" \
		"BatchMode yes" "StrictHostKeyChecking no" "UserKnownHostsFile /dev/null" \
		"GlobalKnownHostsFile /dev/null" "LogLevel ERROR" "ConnectTimeout 10" >"$NT_TMP/mosh-ssh.config"
	go=$NT_TMP/go-$mode
	rm -f "$go"
	# The command's words make the markers only when it runs, so what
	# mosh echoes of the command line never matches them.
	# shellcheck disable=SC2016 # expanded inside
	cmd='echo "start""ed"; read x; echo "fin""ished-$x-$(cat /proc/1/comm)-$(id -un)-$(ss -Hlun | sed -n "s/.*:\([0-9]*\) .*/\1/p" | sort -u | tr "\n" ,)"'
	timeout -k 5 150 nsenter --net="/run/netns/$NT_RNS" env LANG=C.UTF-8 TERM=xterm NT_TTY_DEADLINE=140 \
		python3 "$NT_REPO/tests/integration/tty-driver.py" interact \
		'started' "waitfile:$go" '' 'go\r' 'finished-' '' -- \
		mosh --ssh="ssh -F $NT_TMP/mosh-ssh.config" "$NT_HOST_IP" -- sh -c "$cmd" \
		>"$NT_TMP/mosh-$mode.out" 2>&1 </dev/null &
	client=$!
	NT_PIDS+=("$client")
	nt_until 60 keeper_holds_mosh "$alice" "$conf"
	ok $? "$mode: once its ssh is gone, mosh-server counts as a session of the container" ||
		diag "$(cat "$NT_TMP/mosh-$mode.out")"
	# The container runs (mosh holds it) until the go.
	like "$(grep -s "^$alice " /run/nook/.net/.mosh/*)" "^$alice [0-9]+ " "$mode: the slice is leased on the host"
	touch "$go"
	nt_wait "$client"
	# The driver drops what it waited for: what follows "finished-" is left.
	all=$(cat "$NT_TMP/mosh-$mode.out")
	unlike "$all" "missed=" "$mode: mosh's client shows the command's output (it waited for the keys)" ||
		diag "$all"
	like "$all" "exit=0" "$mode: ... and ends with it"
	out=$(sed -n 's/^out://p' "$NT_TMP/mosh-$mode.out")
	like "$out" "^go-nook-init-$alice-[0-9]+," \
		"$mode: keys typed into mosh reach the command, in the container (pid 1 is nook-init), as the user"
	port=$(sed -n "s/^go-nook-init-$alice-\([0-9]*\),.*/\1/p" <<<"$out")
	ok "$([ -n "$port" ] && [ "$port" -ge "$low" ] && [ "$port" -le "$high" ] && echo 0 || echo 1)" \
		"$mode: mosh-server's UDP port (${port:-none}) lies in the slice $slice"
	nt_until 30 nt_settled "$alice"
	ok $? "$mode: the container stops once mosh has ended"
	nt_until 10 no_lease
	ok $? "$mode: ... and gives its slice back"
	nt_sshd_cleanup
done

# ---- a port of the user's slice taken on the host (by a program nook
# does not know): the container gets another slice
nt_in_host python3 -c 'import socket, sys, time
s = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
s[0].bind(("0.0.0.0", int(sys.argv[1]))); s[1].bind(("0.0.0.0", int(sys.argv[2])))
open(sys.argv[3], "w").close(); time.sleep(600)' "$low" "$high" "$NT_TMP/bound" </dev/null >/dev/null 2>&1 &
holder=$!
NT_PIDS+=("$holder")
nt_until 10 test -e "$NT_TMP/bound"
ok $? "a program on the host binds ports $low and $high"
out=$(nt_nexec "$alice" "$conf" cat /usr/bin/mosh-server)
other=$(sed -n 's/.*forwards UDP ports \(610[0-9][0-9]-610[0-9][0-9]\) .*/\1/p' <<<"$out")
like "$other" '^610[0-9][0-9]-610[0-9][0-9]$' "with a port of $slice taken on the host, the container still gets a slice"
isnt "$other" "$slice" "... another one ($other)"
kill "$holder"
nt_wait "$holder"
nt_until 20 nt_settled "$alice"
ok $? "... and stops"

# ---- what counts as a mosh session, with the last mode's configuration
# A mosh-server that no client reached waits 60 s for one: it holds the
# container meanwhile (nookctl stop ends it here).
out=$(nt_nexec "$alice" "$conf" sh -c 'mosh-server new -l LANG=C.UTF-8 2>&1 >/dev/null' </dev/null)
like "$out" "detached, pid = [0-9]+" "a mosh-server started by nookctl exec detaches"
nt_until 20 keeper_holds_mosh "$alice" "$conf"
ok $? "... and holds the container once exec has ended"
nt_ctl stop "$alice" --config "$conf" >/dev/null 2>&1
nt_until 20 nt_settled "$alice"
ok $? "nookctl stop ends it with the container"
# Stopped, it is nobody's session: the keeper checks again every 10 s
# (a stop inside is undone by the kernel's SIGCONT once the exec's
# process group is orphaned, so the test stops it from the host).
out=$(nt_nexec "$alice" "$conf" sh -c 'mosh-server new -l LANG=C.UTF-8 2>&1 >/dev/null' </dev/null)
like "$out" "detached, pid = [0-9]+" "another mosh-server"
nt_until 20 keeper_holds_mosh "$alice" "$conf"
ok $? "... holds the container"
cg=$(nt_ctl status "$alice" --config "$conf" 2>/dev/null | sed -n 's/^ *cgroup: *//p')
stopped=0
while read -r p; do
	[ "$(cat "/proc/$p/comm" 2>/dev/null)" = mosh-server ] && kill -STOP "$p" && stopped=$((stopped + 1))
done < <(find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null)
like "$stopped" '^[1-9]' "... whose processes the test stops from the host ($stopped)"
nt_until 40 nt_settled "$alice"
ok $? "... until it is stopped (SIGSTOP): then the container stops"
nt_ctl stop "$alice" --config "$conf" >/dev/null 2>&1 # after a failure: the next checks start afresh
# With a library of the user's preloaded it could run anything: it does
# not count either.
# shellcheck disable=SC2016 # expanded inside
out=$(nt_nexec "$alice" "$conf" sh -c 'cp /usr/lib/x86_64-linux-gnu/libutil.so.1 "$HOME/libmine.so" 2>/dev/null ||
		cp "$(ldd /bin/sh | sed -n "s/.*libc.so.6 => \([^ ]*\).*/\1/p")" "$HOME/libmine.so"
	LD_PRELOAD=$HOME/libmine.so mosh-server new -l LANG=C.UTF-8 2>&1 >/dev/null' </dev/null)
like "$out" "detached, pid = [0-9]+" "a mosh-server with the user's own library preloaded starts"
# A mosh-server that no client reaches ends by itself after 60 s: the
# container must be gone well before, whatever NT_WAIT_SCALE says.
gone_by=$((SECONDS + 45))
until nt_settled "$alice" || [ "$SECONDS" -ge "$gone_by" ]; do
	sleep 0.05
done
nt_settled "$alice"
ok $? "... and does not keep the container (gone within 45 s, before its own 60 s)"
nt_ctl stop "$alice" --config "$conf" >/dev/null 2>&1 # after a failure: the next checks start afresh

# A keeper killed with SIGKILL leaves its slice's lease and DNAT: the
# user's next start removes them (bridge: a lease that names an address).
if [ -x /usr/sbin/nft ]; then
	bconf=$NT_TMP/bridge.conf
	out=$(nt_nexec "$alice" "$bconf" sh -c 'mosh-server new -l LANG=C.UTF-8 2>&1 >/dev/null' </dev/null)
	nt_until 20 keeper_holds_mosh "$alice" "$bconf"
	ok $? "bridge: a mosh-server holds the container"
	keeper=$(nt_ctl status "$alice" --config "$bconf" 2>/dev/null | sed -n 's/.*(keeper \([0-9]*\)).*/\1/p')
	like "$(nt_in_host nft list map inet nook mosh4 2>&1)" "610[0-9][0-9]-610[0-9][0-9] : 10\.213\." \
		"bridge: its slice is DNATed to the container"
	[ -n "$keeper" ] && kill -KILL "$keeper"
	nt_until 20 nt_gone "$keeper"
	ok $? "bridge: its keeper is killed with SIGKILL"
	like "$(grep -s "^$alice $keeper " /run/nook/.net/.mosh/*)" "^$alice $keeper " "bridge: ... and leaves its lease"
	is "$(nt_nexec "$alice" "$bconf" echo recovered 2>"$NT_TMP/recover.err")" recovered "bridge: the next start works" ||
		diag "$(cat "$NT_TMP/recover.err")"
	nt_until 30 nt_settled "$alice"
	ok $? "bridge: ... and stops"
	nt_until 10 no_lease
	ok $? "bridge: no lease of the user's is left"
	out=$(nt_in_host nft list map inet nook mosh4 2>&1)
	unlike "$out" "610[0-9][0-9]" "bridge: no DNAT of a mosh port is left in table inet nook"
fi

# ---- where mosh cannot work, mosh-server says why
none=$NT_TMP/none.conf
nt_config "$none" network=none
out=$(nt_nexec "$alice" "$none" sh -c 'mosh-server new -s; echo "rc=$?"' 2>&1)
like "$out" "mosh-server: mosh needs a network, and this container has network = none" \
	"network = none: mosh-server says why mosh cannot work"
like "$out" "rc=1" "... and fails"
if [ -x /usr/bin/pasta ] && [ -c /dev/net/tun ]; then
	off=$NT_TMP/off.conf
	nt_config "$off" network=pasta mosh_ports=none
	out=$(nt_nexec "$alice" "$off" sh -c 'mosh-server new -s; echo "rc=$?"' 2>&1)
	like "$out" "mosh is turned off on this host \(mosh_ports = none" \
		"mosh_ports = none: mosh-server says mosh is turned off"
	like "$out" "rc=1" "... and fails"
fi
nt_until 20 nt_settled "$alice"
ok $? "nothing of alice's is left running"

done_testing
