#!/bin/bash
# network = bridge with bridge_subnet6: the container's eth0 gets an IPv6
# address with the same host part as its IPv4 one, a default route via the
# bridge, outbound NAT66; isolation and host_access hold for IPv6 as for
# IPv4; nothing is left after stop. Everything runs in namespaces this test
# makes (netns.sh).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=netns.sh
. "$(dirname "$0")/netns.sh"
require_root
[ -x /usr/sbin/nft ] || nt_net_skip_all "no /usr/sbin/nft (apt install nftables)"
[ -e /proc/sys/net/ipv6 ] || nt_net_skip_all "the kernel has no IPv6"
nt_netns_setup

conf=$NT_TMP/v6.conf
open=$NT_TMP/v6-open.conf
nt_config "$conf" network=bridge bridge_subnet6=fd00:6e6b::/64
nt_config "$open" network=bridge bridge_subnet6=fd00:6e6b::/64 isolate=no host_access=yes
nt_user; alice=$NT_USER
nt_user; bob=$NT_USER

nt_tcp_server "$NT_RNS" "$NT_REMOTE_IP6" 8086 remote6-hello
nt_tcp_server "$NT_NS" "$NT_HOST_IP6" 8087 host6-hello
nt_until_listening "$NT_RNS" "[$NT_REMOTE_IP6]" 8086
nt_until_listening "$NT_NS" "[$NT_HOST_IP6]" 8087

# addr6 USER CONF: the global IPv6 address of USER's eth0.
addr6()
{
	nt_nexec "$1" "$2" ip -6 -o addr show dev eth0 scope global |
		sed -n 's/.*inet6 \(fd00:6e6b:[0-9a-f:]*\)\/64.*/\1/p'
}

# ---- address, route, files
out=$(nt_nexec "$alice" "$conf" sh -c 'ip -4 -o addr show eth0; ip -6 -o addr show dev eth0 scope global; ip -6 route show default; cat /etc/hosts')
a4=$(sed -n 's/.*inet \(10\.213\.[0-9.]*\)\/16.*/\1/p' <<<"$out")
a6=$(sed -n 's/.*inet6 \(fd00:6e6b:[0-9a-f:]*\)\/64.*/\1/p' <<<"$out")
like "$a6" '^fd00:6e6b::' "eth0 has an address from bridge_subnet6 ($a6)"
is "$a6" "$(python3 -c "import ipaddress, sys
v4 = int(ipaddress.ip_address(sys.argv[1])) - int(ipaddress.ip_address('10.213.0.0'))
print(ipaddress.ip_address(int(ipaddress.ip_address('fd00:6e6b::')) + v4))" "$a4")" \
	"... with the host part of its IPv4 address ($a4)"
like "$out" "default via fd00:6e6b::1 dev eth0" "the IPv6 default route goes via the bridge's address"
like "$out" "${a6}[[:space:]]+$alice" "hosts maps the hostname to the IPv6 address too"
is "$(addr6 "$alice" "$conf")" "$a6" "the IPv6 address is stable across restarts"

# ---- reachability over IPv6
is "$(nt_tcp_get "$alice" "$conf" "$NT_REMOTE_IP6" 8086)" remote6-hello \
	"a server beyond the host is reachable over IPv6 (NAT66)"
is "$(nt_tcp_get "$alice" "$conf" "$NT_HOST_IP6" 8087)" "" \
	"host_access = no: the host's own IPv6 address is not reachable"
is "$(nt_tcp_get "$alice" "$open" "$NT_HOST_IP6" 8087)" host6-hello \
	"host_access = yes: it is"

listener='exec python3 -c "
import socket
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((\"::\", 8090)); s.listen(4)
while True:
    c, _ = s.accept(); c.sendall(b\"bob6-hello\n\"); c.close()
"'
# shellcheck disable=SC2317 # called through nt_until
listening()
{
	nt_nexec "$bob" "$1" ss -H -ltn 'sport = :8090' 2>/dev/null | grep -q 8090
}
for c in "$conf" "$open"; do
	nt_nspawn "$NT_TMP/bob.out" "$bob" "$c" sh -c "$listener"
	bobspawn=$NT_SPAWNED
	nt_until 10 nt_running "$bob"
	nt_until 10 listening "$c"
	b6=$(addr6 "$bob" "$c")
	if [ "$c" = "$conf" ]; then
		is "$(nt_tcp_get "$alice" "$c" "$b6" 8090)" "" \
			"isolate = yes: another user's container is not reachable over IPv6 ($b6)"
	else
		is "$(nt_tcp_get "$alice" "$c" "$b6" 8090)" bob6-hello \
			"isolate = no on both: it is reachable over IPv6"
	fi
	kill -TERM "$bobspawn" 2>/dev/null
	nt_wait "$bobspawn"
	nt_until 10 nt_settled "$bob"
done

# ---- nothing left
nt_until 10 nt_settled "$alice"
ok $? "the containers are gone"
! nt_in_host ip -br link | grep -q '^nk-'
ok $? "no veth is left"
! nt_in_host nft list table inet nook >/dev/null 2>&1
ok $? "no nft table is left"
nt_in_host ip -6 -o addr show dev nook0 | grep -q 'fd00:6e6b::1/64'
ok $? "the bridge keeps its IPv6 address for the next container"

done_testing
