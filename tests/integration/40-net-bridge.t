#!/bin/bash
# network = bridge: a veth per container on a bridge, an address from the
# subnet, NAT through the nftables table "inet nook"; containers isolated
# from each other and from the host unless configured otherwise; nothing
# left after stop, nor after the keeper's SIGKILL. Everything runs in
# namespaces this test makes (netns.sh).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=netns.sh
. "$(dirname "$0")/netns.sh"
require_root
[ -x /usr/sbin/nft ] || nt_net_skip_all "no /usr/sbin/nft (apt install nftables)"
nt_netns_setup

conf=$NT_TMP/bridge.conf
open=$NT_TMP/open.conf
nt_config "$conf" network=bridge "dns=$NT_REMOTE_IP"
nt_config "$open" network=bridge isolate=no host_access=yes
nt_user; alice=$NT_USER
nt_user; bob=$NT_USER

nt_tcp_server "$NT_RNS" "$NT_REMOTE_IP" 8081 remote-hello
nt_tcp_server "$NT_NS" "$NT_HOST_IP" 8082 host-hello
nt_dns_server "$NT_RNS" "$NT_REMOTE_IP" svc.nt.test 198.18.0.77
nt_until_listening "$NT_RNS" "$NT_REMOTE_IP" 8081
nt_until_listening "$NT_NS" "$NT_HOST_IP" 8082
nt_until_listening "$NT_RNS" "$NT_REMOTE_IP" 53 udp

# no_veth: the host namespace holds no nk-* interface any more.
no_veth()
{
	! nt_in_host ip -br link | grep -q '^nk-'
}

no_table()
{
	! nt_in_host nft list table inet nook >/dev/null 2>&1
}

# ---- the container's interfaces, address, route and files
out=$(nt_nexec "$alice" "$conf" sh -c 'ls /sys/class/net | sort | tr "\n" " "; echo; ip -4 -o addr show eth0; ip route show default')
is "$(head -n1 <<<"$out")" "eth0 lo " "the container has lo and eth0"
like "$out" "inet 10\.213\.[0-9]+\.[0-9]+/16" "eth0 has an address from bridge_subnet"
like "$out" "default via 10\.213\.0\.1 dev eth0" "the default route goes via the bridge's address"
addr1=$(sed -n 's/.*inet \(10\.213\.[0-9.]*\)\/16.*/\1/p' <<<"$out")
addr2=$(nt_nexec "$alice" "$conf" ip -4 -o addr show eth0 | sed -n 's/.*inet \(10\.213\.[0-9.]*\)\/16.*/\1/p')
is "$addr2" "$addr1" "the address is stable across restarts of the user's container"
uid=$(id -u "$alice")
is "$addr1" "$(python3 -c "import sys; n=(1<<16)-3; i=int(sys.argv[1])%n+2; print('10.213.%d.%d' % (i>>8, i&255))" "$uid")" \
	"the address derives from the uid"
out=$(nt_nexec "$alice" "$conf" cat /etc/resolv.conf)
like "$out" "nameserver $NT_REMOTE_IP" "resolv.conf lists the dns = server"
unlike "$out" "nameserver 127\." "resolv.conf lists no loopback server"
out=$(nt_nexec "$alice" "$conf" cat /etc/hosts)
like "$out" "127\.0\.0\.1[[:space:]]+localhost" "hosts has localhost"
like "$out" "${addr1}[[:space:]]+$alice" "hosts maps the hostname to the container's address"

# ---- what it can reach and what not
is "$(nt_tcp_get "$alice" "$conf" "$NT_REMOTE_IP" 8081)" remote-hello \
	"a server beyond the host is reachable (outbound NAT)"
out=$(nt_nexec "$alice" "$conf" getent hosts svc.nt.test)
like "$out" "^198\.18\.0\.77[[:space:]]+svc\.nt\.test" "DNS through the configured server resolves a name"
out=$(nt_tcp_get "$alice" "$conf" "$NT_HOST_IP" 8082)
is "$out" "" "host_access = no: the host's own address is not reachable"
out=$(nt_tcp_get "$alice" "$open" "$NT_HOST_IP" 8082)
is "$out" host-hello "host_access = yes: the host's own address is reachable"

# Another user's container, listening on its eth0.
listener='exec python3 -c "
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((\"0.0.0.0\", 8090)); s.listen(4)
while True:
    c, _ = s.accept(); c.sendall(b\"bob-hello\n\"); c.close()
"'
# listening CONF: bob's listener is up.
# shellcheck disable=SC2317 # called through nt_until
listening()
{
	nt_nexec "$bob" "$1" ss -H -ltn 'sport = :8090' 2>/dev/null | grep -q 8090
}
nt_nspawn "$NT_TMP/bob.out" "$bob" "$conf" sh -c "$listener"
bobspawn=$NT_SPAWNED
nt_until 10 nt_running "$bob"
bobaddr=$(nt_nexec "$bob" "$conf" ip -4 -o addr show eth0 | sed -n 's/.*inet \(10\.213\.[0-9.]*\)\/16.*/\1/p')
isnt "$bobaddr" "$addr1" "two users get two addresses ($addr1, $bobaddr)"
nt_until 10 listening "$conf"
ok $? "bob's container listens on $bobaddr:8090"
out=$(nt_tcp_get "$alice" "$conf" "$bobaddr" 8090)
is "$out" "" "isolate = yes: another user's container is not reachable"
kill -TERM "$bobspawn" 2>/dev/null
nt_wait "$bobspawn"
nt_until 10 nt_settled "$bob"

nt_nspawn "$NT_TMP/bob2.out" "$bob" "$open" sh -c "$listener"
bobspawn=$NT_SPAWNED
nt_until 10 nt_running "$bob"
nt_until 10 listening "$open"
out=$(nt_tcp_get "$alice" "$open" "$bobaddr" 8090)
is "$out" bob-hello "isolate = no on both: the other container is reachable"
kill -TERM "$bobspawn" 2>/dev/null
nt_wait "$bobspawn"
nt_until 10 nt_settled "$bob"

# ---- while another container runs, the table stays; a table removed
# behind nook's back (a firewall reload) is loaded again by the next start
nt_nspawn "$NT_TMP/bob3.out" "$bob" "$conf" sleep 60
bobspawn=$NT_SPAWNED
nt_until 10 nt_running "$bob"
# The keeper's memory grows after its start: nothing may depend on it.
is "$(nt_tcp_get "$alice" "$conf" "$NT_REMOTE_IP" 8081)" remote-hello "with bob's container running, alice's works"
nt_until 10 nt_settled "$alice"
nt_in_host nft list table inet nook >/dev/null 2>&1
ok $? "alice's stop leaves the table to bob's running container"
grep -qs "^$bob " /run/nook/.net/nook0/* 2>/dev/null
ok $? "... and bob's address lease"
out=$(nt_tcp_get "$alice" "$conf" "$NT_HOST_IP" 8082)
is "$out" "" "a start with the table already loaded: the host is still closed to alice"
nt_in_host nft delete table inet nook
out=$(nt_tcp_get "$alice" "$conf" "$NT_HOST_IP" 8082)
is "$out" "" "table deleted by hand while bob runs: the next start loads it again (host closed)"
nt_in_host nft list chain inet nook nook0-in >/dev/null 2>&1
ok $? "... the table and its chains are back"
kill -TERM "$bobspawn" 2>/dev/null
nt_wait "$bobspawn"
nt_until 10 nt_settled "$bob"
nt_until 10 nt_settled "$alice"

# ---- stop leaves nothing: veth, lease, table
nt_nspawn "$NT_TMP/a.out" "$alice" "$conf" sleep 30
aspawn=$NT_SPAWNED
nt_until 10 nt_running "$alice"
nt_in_host ip -br link | grep -q "^nk-$(printf %x "$uid")"
ok $? "while it runs, the host end nk-$(printf %x "$uid") is on the bridge"
nt_in_host nft list table inet nook >/dev/null 2>&1
ok $? "while it runs, the table inet nook exists"
like "$(nt_ctl status "$alice" --config "$conf")" "network: +bridge $addr1" "nookctl status shows the address"
out=$(nt_ctl stop "$alice" --config "$conf")
is "$out" "$alice: stopped" "nookctl stop"
nt_wait "$aspawn"
no_veth
ok $? "after stop: no veth left"
no_table
ok $? "after stop of the last container: no nft table left"
is "$(grep -ls "^$alice " /run/nook/.net/*/* 2>/dev/null)" "" "after stop: no address lease left"

# ---- a start that fails (the bridge name is taken by a non-bridge) fails
# closed and leaves nothing
nt_config "$NT_TMP/bad.conf" network=bridge bridge=nt-up0
out=$(nt_nexec "$alice" "$NT_TMP/bad.conf" true 2>&1)
rc=$?
isnt "$rc" 0 "bridge = an interface that is no bridge: the start fails"
like "$out" "not a bridge" "... and says why"
no_veth
ok $? "... and leaves no veth"
is "$(grep -ls "^$alice " /run/nook/.net/*/* 2>/dev/null)" "" "... and no address lease"
nt_until 10 nt_settled "$alice"

# ---- a keeper killed with SIGKILL leaves nothing the next start trips on
nt_nspawn "$NT_TMP/k.out" "$alice" "$conf" sleep 30
kspawn=$NT_SPAWNED
nt_until 10 nt_running "$alice"
read -r _ keeper < <(nt_pids "$alice")
kill -KILL "$keeper"
nt_wait "$kspawn"
out=$(nt_tcp_get "$alice" "$conf" "$NT_REMOTE_IP" 8081)
is "$out" remote-hello "after the keeper's SIGKILL the next start has a working network"
nt_until 10 nt_settled "$alice"
nt_until 5 no_veth
ok $? "... and, stopped, leaves no veth"
nt_until 5 no_table
ok $? "... and no nft table"

done_testing
