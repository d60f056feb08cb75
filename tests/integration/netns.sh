# shellcheck shell=bash
#
# Network fixture for the 40-net-*.t tests, on top of lib.sh. Every address
# a test uses exists only in namespaces made here; nothing is routed or
# NATed in the root namespace.
#
#	nt_netns_setup
#	    nt-h-XXXXXX  "the host": nookctl and the keepers run here (through
#	                 nsenter --net, not `ip netns exec`, which remounts
#	                 /sys and so hides the cgroup hierarchies nook needs);
#	                 its bridge, veths and nftables table are nook's.
#	                 Addresses NT_HOST_IP and NT_HOST_IP6 on nt-up0,
#	                 default routes via NT_REMOTE_IP and NT_REMOTE_IP6,
#	                 IPv4 and IPv6 forwarding on.
#	    nt-r-XXXXXX  "the network": NT_REMOTE_IP and NT_REMOTE_IP6 on nt-up1
#	                 (the host's gateway) and NT_FAR_IP on its lo (one hop
#	                 further: pasta maps the gateway address itself to the
#	                 host's loopback), the servers a container should reach.
#	nt_net_modes                   NT_NET_MODES: bridge and/or pasta, as
#	                               installed (none: skip the script)
#	nt_nexec USER CONF CMD...      nt_exec inside nt-h-*
#	nt_nspawn OUT USER CONF CMD... nt_spawn inside nt-h-*
#	nt_tcp_server NS ADDR PORT TEXT  a TCP server that answers TEXT
#	nt_dns_server NS ADDR NAME IP    a UDP DNS server: NAME -> IP (A)
#	nt_in_host CMD... / nt_in_remote CMD...
#	nt_netns_ssh                   sshd.sh's sshd copies and clients run
#	                               inside nt-h-* from now on
#
# The EXIT trap of lib.sh is wrapped: the namespaces (and with them every
# interface and nftables table in them) go after lib.sh's own cleanup has
# stopped the containers.

NT_NS=
NT_RNS=
NT_HOST_IP=198.18.0.1
NT_REMOTE_IP=198.18.0.2
NT_FAR_IP=198.18.1.2
# IPv6: the benchmarking prefix 2001:2::/48 (RFC 5180), like 198.18.0.0/15.
NT_HOST_IP6=2001:2:0:1::1
NT_REMOTE_IP6=2001:2:0:1::2

# shellcheck disable=SC2154 # _nt_run_existed comes from lib.sh
_nt_netns_cleanup()
{
	local f ino

	# nook's marks of the rules it loaded in our namespace (their first
	# field is the namespace's inode).
	if [ -n "$NT_NS" ] && [ -e "/run/netns/$NT_NS" ]; then
		ino=$(stat -L -c %i "/run/netns/$NT_NS")
		for f in /run/nook/.net/.rules-*; do
			[ -f "$f" ] && [ "$(cut -d' ' -f1 "$f")" = "$ino" ] && rm -f "$f"
		done
	fi
	rmdir /run/nook/.net/nt-up0 2>/dev/null
	for f in "$NT_NS" "$NT_RNS"; do
		[ -n "$f" ] && [ -e "/run/netns/$f" ] && ip netns del "$f" 2>/dev/null
	done
	# Address leases of our users (stopped containers leave none; a
	# failed test might).
	for f in /run/nook/.net/*/* /run/nook/.net/.mosh/*; do
		[ -f "$f" ] || continue
		for u in "${NT_USERS[@]}"; do
			grep -qs "^$u " "$f" && rm -f "$f"
		done
	done
	if [ "$_nt_run_existed" = 0 ] && [ -d /run/nook/.net ]; then
		find /run/nook/.net -mindepth 1 -maxdepth 1 -type d -empty -delete 2>/dev/null
		rm -f /run/nook/.net/lock /run/nook/.net/.rules-*
		rmdir /run/nook/.net /run/nook 2>/dev/null
	fi
	return 0
}

_nt_netns_on_exit()
{
	local rc=$?

	nt_cleanup
	_nt_netns_cleanup
	(exit "$rc")
	_nt_on_exit
}

# Skips the script (plan 0) with REASON.
nt_net_skip_all()
{
	nt_skip_all "$1"
}

# NT_NET_MODES: the modes with a network this host can run (bridge needs
# nft, pasta needs pasta and /dev/net/tun); skips the script when neither.
nt_net_modes()
{
	NT_NET_MODES=()
	[ -x /usr/sbin/nft ] && NT_NET_MODES+=(bridge)
	[ -x /usr/bin/pasta ] && [ -c /dev/net/tun ] && NT_NET_MODES+=(pasta)
	[ ${#NT_NET_MODES[@]} -gt 0 ] || nt_net_skip_all "neither nft (nftables) nor pasta (passt) is installed"
}

nt_netns_setup()
{
	command -v nsenter >/dev/null || nt_net_skip_all "no nsenter"
	ip link help veth >/dev/null 2>&1 || true
	NT_NS=nt-h-$NT_ID
	NT_RNS=nt-r-$NT_ID
	trap '_nt_netns_on_exit' EXIT
	ip netns add "$NT_NS" || bail "ip netns add $NT_NS failed"
	ip netns add "$NT_RNS" || bail "ip netns add $NT_RNS failed"
	ip -n "$NT_NS" link set lo up
	ip -n "$NT_RNS" link set lo up
	ip -n "$NT_NS" link add nt-up0 type veth peer name nt-up1 netns "$NT_RNS" ||
		nt_net_skip_all "cannot create a veth pair (no veth support?)"
	ip -n "$NT_NS" addr add "$NT_HOST_IP/24" dev nt-up0
	ip -n "$NT_RNS" addr add "$NT_REMOTE_IP/24" dev nt-up1
	ip -n "$NT_RNS" addr add "$NT_FAR_IP/32" dev lo
	ip -n "$NT_NS" link set nt-up0 up
	ip -n "$NT_RNS" link set nt-up1 up
	ip -n "$NT_NS" route add default via "$NT_REMOTE_IP"
	ip -n "$NT_NS" -6 addr add "$NT_HOST_IP6/64" dev nt-up0 nodad
	ip -n "$NT_RNS" -6 addr add "$NT_REMOTE_IP6/64" dev nt-up1 nodad
	ip -n "$NT_NS" -6 route add default via "$NT_REMOTE_IP6"
	nt_in_host sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 ||
		bail "cannot enable forwarding in $NT_NS"
}

# shellcheck disable=SC2034 # NT_SSH_NS is sshd.sh's
nt_netns_ssh()
{
	NT_SSH_NS=(nsenter --net="/run/netns/$NT_NS")
}

nt_in_host()
{
	nsenter --net="/run/netns/$NT_NS" "$@"
}

nt_in_remote()
{
	nsenter --net="/run/netns/$NT_RNS" "$@"
}

nt_nexec()
{
	local user=$1 conf=$2

	shift 2
	timeout -k 5 "$NT_TIMEOUT" nsenter --net="/run/netns/$NT_NS" \
		"$NOOKCTL" exec "$user" --config "$conf" -- "$@" </dev/null
}

nt_nspawn()
{
	local out=$1 user=$2 conf=$3

	shift 3
	timeout -k 5 "$NT_TIMEOUT" nsenter --net="/run/netns/$NT_NS" \
		"$NOOKCTL" exec "$user" --config "$conf" -- "$@" </dev/null >"$out" 2>&1 &
	NT_SPAWNED=$!
	NT_PIDS+=("$NT_SPAWNED")
}

# nt_tcp_server NS ADDR PORT TEXT: answers every connection with TEXT, for
# at most NT_TIMEOUT seconds.
nt_tcp_server()
{
	local ns=$1 addr=$2 port=$3 text=$4

	timeout -k 2 "$NT_TIMEOUT" nsenter --net="/run/netns/$ns" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(16)
while True:
    c, _ = s.accept()
    c.sendall(sys.argv[3].encode() + b"\n")
    c.close()
' "$addr" "$port" "$text" >/dev/null 2>&1 &
	NT_PIDS+=("$!")
}

# nt_dns_server NS ADDR NAME IP: a minimal DNS server on ADDR:53 (UDP)
# that answers NAME's A query with IP and everything else with NXDOMAIN.
nt_dns_server()
{
	local ns=$1 addr=$2 name=$3 ip=$4

	timeout -k 2 "$NT_TIMEOUT" nsenter --net="/run/netns/$ns" python3 -c '
import socket, struct, sys
addr, name, ip = sys.argv[1], sys.argv[2].lower().rstrip("."), sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, 53))
while True:
    q, peer = s.recvfrom(512)
    if len(q) < 12:
        continue
    i, labels = 12, []
    while i < len(q) and q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode("ascii", "replace"))
        i += q[i] + 1
    qtype = struct.unpack("!H", q[i + 1:i + 3])[0]
    question = q[12:i + 5]
    found = ".".join(labels).lower() == name
    if found and qtype == 1:
        hdr = q[:2] + struct.pack("!HHHHH", 0x8180, 1, 1, 0, 0)
        ans = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton(ip)
    else:
        hdr = q[:2] + struct.pack("!HHHHH", 0x8180 if found else 0x8183, 1, 0, 0, 0)
        ans = b""
    s.sendto(hdr + question + ans, peer)
' "$addr" "$name" "$ip" >/dev/null 2>&1 &
	NT_PIDS+=("$!")
}

# nt_until_listening NS ADDR PORT [udp]: waits until the server is up.
nt_until_listening()
{
	local ns=$1 addr=$2 port=$3 proto=${4:-tcp} opt=-ltn

	[ "$proto" = udp ] && opt=-lun
	nt_until 10 sh -c "nsenter --net=/run/netns/$ns ss -H $opt 'sport = :$port' | grep -qF '$addr:$port'"
}

# A shell snippet for inside a container: prints the first line a TCP
# server at $1:$2 sends, or fails within 3 s.
# shellcheck disable=SC2016 # expanded inside the container
NT_TCP_GET='exec 3<>"/dev/tcp/$1/$2" && timeout 3 head -n1 <&3'

# nt_tcp_get USER CONF ADDR PORT: connects from USER's container.
nt_tcp_get()
{
	nt_nexec "$1" "$2" timeout 5 bash -c "$NT_TCP_GET" get "$3" "$4" 2>/dev/null
}
