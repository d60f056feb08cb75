#!/bin/bash
# SSH into containers that have a network (bridge, pasta): a real sshd in
# a network namespace of the test's own (netns.sh), with pam_nook. The
# session has the container's eth0 and reaches beyond the host; ssh -L
# connects from inside the container (the host's loopback server stays out
# of reach) and reaches what the container can reach, and so does ssh -W
# (the hop ssh -J makes through a jump host), and so does ssh -J itself
# through the test's sshd to a second, plain sshd beyond the host; ssh -R
# listens in the container's namespace and leads back to the client's side.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=netns.sh
. "$(dirname "$0")/netns.sh"
# shellcheck source-path=SCRIPTDIR source=sshd.sh
. "$(dirname "$0")/sshd.sh"
require_root

nt_net_modes
nt_netns_setup
nt_netns_ssh

nt_user; alice=$NT_USER
nt_tcp_server "$NT_RNS" "$NT_FAR_IP" 8081 remote-hello
nt_tcp_server "$NT_NS" 127.0.0.1 8083 host-loopback-hello
nt_until_listening "$NT_RNS" "$NT_FAR_IP" 8081
nt_until_listening "$NT_NS" 127.0.0.1 8083

# A second, plain sshd beyond the host (in the remote namespace, on the far
# address): the target of ssh -J through the test's sshd. Its own copy and
# PAM file (Debian's stacks, no pam_nook), alice's key as for the first.
far_dir=$NT_TMP/sshd-far
far_name=nook-test-sshd-far-$NT_CG
install -d -m 0755 "$far_dir"
cp /usr/sbin/sshd "$far_dir/$far_name"
nt_path "/etc/pam.d/$far_name"
printf '@include common-auth\n@include common-account\n@include common-session\n' >"/etc/pam.d/$far_name"
_nt_sshd_keys
printf '%s\n' "Port 2222" "ListenAddress $NT_FAR_IP" "HostKey $NT_TMP/hostkey" "PidFile none" "UsePAM yes" \
	"PasswordAuthentication no" "KbdInteractiveAuthentication no" "AuthorizedKeysFile $NT_TMP/keys/%u" \
	"StrictModes no" "UseDNS no" "LogLevel VERBOSE" >"$far_dir/sshd_config"
: >"$far_dir/sshd.log"
mkdir -p /run/sshd
nsenter --net="/run/netns/$NT_RNS" "$far_dir/$far_name" -D -f "$far_dir/sshd_config" -E "$far_dir/sshd.log" \
	</dev/null &
NT_PIDS+=("$!")
nt_until 10 grep -q "Server listening on $NT_FAR_IP port 2222" "$far_dir/sshd.log"
ok $? "the far sshd listens on $NT_FAR_IP:2222, beyond the host" || diag "$(cat "$far_dir/sshd.log")"

# jump_ssh CMD: ssh -J through the current test sshd to the far one, with a
# config file for both hops (options on the command line reach only the
# target).
jump_ssh()
{
	printf '%s\n' "Host jump" "HostName 127.0.0.1" "Port $NT_SSHD_PORT" "User $alice" \
		"Host far" "HostName $NT_FAR_IP" "Port 2222" "User $alice" "ProxyJump jump" \
		"Host *" "IdentityFile $NT_SSH_KEY" "IdentitiesOnly yes" "BatchMode yes" \
		"StrictHostKeyChecking no" "UserKnownHostsFile /dev/null" "GlobalKnownHostsFile /dev/null" \
		"LogLevel ERROR" "ConnectTimeout 10" >"$NT_TMP/jump.config"
	timeout -k 5 "$NT_SSH_TIMEOUT" "${NT_SSH_NS[@]}" ssh -F "$NT_TMP/jump.config" far "$@" </dev/null
}

# host_get PORT: the first line a server on the host's 127.0.0.1:PORT (the
# client's side of a tunnel) sends, or nothing within 3 s.
host_get()
{
	nt_in_host timeout 5 bash -c "$NT_TCP_GET" get 127.0.0.1 "$1" 2>/dev/null
}

# inside_get ADDR PORT: the same from a new session in alice's container.
inside_get()
{
	nt_ssh "$alice" "bash -c '$NT_TCP_GET' get $1 $2" 2>/dev/null
}

for mode in "${NT_NET_MODES[@]}"; do
	conf=$NT_TMP/$mode.conf
	nt_config "$conf" "network=$mode"
	nt_sshd_start "$conf"
	nt_ssh_key "$alice"

	# ---- the session is in the container, with its network
	out=$(nt_ssh "$alice" 'ls /sys/class/net | sort | tr "\n" " "; ip -4 -o addr show eth0')
	like "$out" "^eth0 lo " "$mode: the ssh session sees the container's interfaces"
	case $mode in
	bridge) like "$out" "inet 10\.213\.[0-9.]+/16" "$mode: ... and eth0's leased address" ;;
	pasta) like "$out" "inet $NT_HOST_IP/24" "$mode: ... and eth0 with the address pasta copied" ;;
	esac
	is "$(inside_get "$NT_FAR_IP" 8081)" remote-hello "$mode: the session reaches a server beyond the host"
	is "$(inside_get 127.0.0.1 8083)" "" "$mode: the session's 127.0.0.1 is not the host's"

	# ---- -L: opened by sshd's child inside the container
	lport=$(nt_free_port)
	nt_ssh_bg "$NT_TMP/L-$mode.out" "$alice" -o ExitOnForwardFailure=yes \
		-L "$lport:$NT_FAR_IP:8081" -L "$((lport + 1)):127.0.0.1:8083" 'exec sleep 60'
	L=$NT_SSH_BG
	nt_until 20 nt_port_listening "$lport"
	out=$(host_get "$lport")
	is "$out" remote-hello "$mode: ssh -L reaches a server beyond the host through the container's network"
	[ -n "$out" ] || diag "$(cat "$NT_TMP/L-$mode.out")"
	is "$(host_get $((lport + 1)))" "" \
		"$mode: ssh -L to 127.0.0.1 lands on the container's loopback, not the host's server"
	nt_ssh_stop "$L"

	# ---- -W (what ssh -J does on the jump host): the same reach as -L
	out=$(nt_ssh "$alice" -W "$NT_FAR_IP:8081" </dev/null 2>"$NT_TMP/W-$mode.err")
	is "$out" remote-hello "$mode: ssh -W (a jump host's hop) reaches a server beyond the host" ||
		diag "$(cat "$NT_TMP/W-$mode.err")"
	out=$(nt_ssh "$alice" -W 127.0.0.1:8083 </dev/null 2>/dev/null)
	is "$out" "" "$mode: ssh -W to 127.0.0.1 does not reach the host's loopback server"

	# ---- -J: a real second sshd through this one (the hop leaves from
	# the container's namespace, as -W's does)
	# shellcheck disable=SC2016 # expanded on the far host
	out=$(jump_ssh 'echo "far:$SSH_CONNECTION"' 2>"$NT_TMP/J-$mode.err")
	like "$out" "^far:[0-9.]+ [0-9]+ $NT_FAR_IP 2222\$" "$mode: ssh -J through the test sshd logs in to the far sshd" ||
		diag "$(cat "$NT_TMP/J-$mode.err")"
	from=$(sed -n 's/^far:\([0-9.]*\) .*/\1/p' <<<"$out")
	isnt "${from:-none}" 127.0.0.1 "$mode: ... arriving over the network (from ${from:-none}: NAT or pasta), not over a loopback"
	like "$(grep -c "Accepted publickey for $alice from ${from:-none} " "$far_dir/sshd.log")" '^[1-9]' \
		"$mode: ... and the far sshd's log names that login"

	# ---- -R: the listener is in the container's namespace
	rport=$(nt_free_port)
	nt_ssh_bg "$NT_TMP/R-$mode.out" "$alice" -o ExitOnForwardFailure=yes -R "$rport:127.0.0.1:8083" 'exec sleep 60'
	R=$NT_SSH_BG
	out=$(nt_ssh "$alice" "for i in \$(seq 50); do
			bash -c '$NT_TCP_GET' get 127.0.0.1 $rport 2>/dev/null && exit 0; sleep 0.2
		done; exit 1")
	is "$out" host-loopback-hello "$mode: ssh -R: a client in the container reaches the client side's server"
	[ -n "$out" ] || diag "$(cat "$NT_TMP/R-$mode.out")"
	nt_port_listening "$rport"
	isnt "$?" 0 "$mode: ssh -R: port $rport does not listen in the host's namespace"
	nt_ssh_stop "$R"

	nt_sshd_cleanup
	nt_until 10 nt_settled "$alice"
	ok $? "$mode: the container ends with its last session"
	nt_until 5 sh -c "! nsenter --net=/run/netns/$NT_NS ip -br link | grep -q '^nk-'"
	ok $? "$mode: ... and leaves no veth on the host"
done

done_testing
