#!/bin/bash
# network = pasta: outbound through pasta, run by the keeper as container
# root (an unprivileged uid on the host), restarted once if it dies, gone
# with the container and with a keeper killed by SIGKILL. The host's
# loopback is reachable through the gateway address only with
# host_access = yes. Everything runs in namespaces this test makes.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=netns.sh
. "$(dirname "$0")/netns.sh"
require_root
[ -x /usr/bin/pasta ] || nt_net_skip_all "no /usr/bin/pasta (apt install passt)"
[ -c /dev/net/tun ] || nt_net_skip_all "no /dev/net/tun"
nt_netns_setup

conf=$NT_TMP/pasta.conf
closed=$NT_TMP/closed.conf
nt_config "$conf" network=pasta host_access=yes "dns=$NT_FAR_IP"
nt_config "$closed" network=pasta
nt_user; alice=$NT_USER

nt_tcp_server "$NT_RNS" "$NT_FAR_IP" 8081 remote-hello
nt_tcp_server "$NT_NS" 127.0.0.1 8083 loopback-hello
nt_dns_server "$NT_RNS" "$NT_FAR_IP" svc.nt.test 198.18.0.77
nt_until_listening "$NT_RNS" "$NT_FAR_IP" 8081
nt_until_listening "$NT_NS" 127.0.0.1 8083
nt_until_listening "$NT_RNS" "$NT_FAR_IP" 53 udp

# pasta_pid USER: from `nookctl status`.
pasta_pid()
{
	nt_ctl status "$1" --config "$conf" 2>/dev/null | sed -n 's/.*network: *pasta (pid \([0-9]*\)).*/\1/p'
}

gone()
{
	[ ! -d "/proc/$1" ] || [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" = Z ]
}

# ---- the interface pasta configured, and the files
out=$(nt_nexec "$alice" "$conf" sh -c 'ls /sys/class/net | sort | tr "\n" " "; echo; ip -4 -o addr show eth0; ip route show default')
is "$(head -n1 <<<"$out")" "eth0 lo " "the container has lo and pasta's eth0"
like "$out" "inet $NT_HOST_IP/24" "eth0 has the host's address (pasta copies it)"
like "$out" "default via $NT_REMOTE_IP dev eth0" "the default route is the host's"
out=$(nt_nexec "$alice" "$conf" cat /etc/resolv.conf /etc/hosts)
like "$out" "nameserver $NT_FAR_IP" "resolv.conf lists the dns = server"
like "$out" "127\.0\.1\.1[[:space:]]+$alice" "hosts has the hostname"

# ---- reachability
is "$(nt_tcp_get "$alice" "$conf" "$NT_FAR_IP" 8081)" remote-hello "a server beyond the host is reachable"
out=$(nt_nexec "$alice" "$conf" getent hosts svc.nt.test)
like "$out" "^198\.18\.0\.77[[:space:]]+svc\.nt\.test" "DNS through pasta resolves a name"
is "$(nt_tcp_get "$alice" "$conf" "$NT_REMOTE_IP" 8083)" loopback-hello \
	"host_access = yes: the gateway address leads to the host's loopback"
is "$(nt_tcp_get "$alice" "$closed" "$NT_REMOTE_IP" 8083)" "" \
	"host_access = no: it does not (--no-map-gw)"
is "$(nt_tcp_get "$alice" "$conf" 127.0.0.1 8083)" "" "the host's loopback is not the container's"

# ---- pasta's process: unprivileged, supervised, gone with the container
nt_nspawn "$NT_TMP/a.out" "$alice" "$conf" sleep 30
aspawn=$NT_SPAWNED
nt_until 10 nt_running "$alice"
p1=$(pasta_pid "$alice")
[[ $p1 =~ ^[0-9]+$ ]] && [ -d "/proc/$p1" ]
ok $? "nookctl status names pasta's pid ($p1)"
uid=$(awk '/^Uid:/ {print $3}' "/proc/$p1/status" 2>/dev/null)
[ -n "$uid" ] && [ "$uid" -ne 0 ] && [ "$uid" -ne "$(id -u "$alice")" ]
ok $? "pasta runs as an unprivileged uid of the container ($uid), not host root"
[ "$(readlink "/proc/$p1/ns/user")" != "$(readlink /proc/self/ns/user)" ]
ok $? "pasta's capabilities are the container's (its user namespace), not the host's"
kill -KILL "$p1"
# new_pasta OLD: pasta runs again, under another pid.
# shellcheck disable=SC2317 # called through nt_until
new_pasta()
{
	local p

	p=$(pasta_pid "$alice")
	[ -n "$p" ] && [ "$p" != "$1" ]
}
nt_until 10 new_pasta "$p1"
ok $? "the keeper restarts pasta when it dies"
p2=$(pasta_pid "$alice")
is "$(nt_tcp_get "$alice" "$conf" "$NT_FAR_IP" 8081)" remote-hello "the network works with the new pasta"
kill -KILL "$p2"
# shellcheck disable=SC2317 # called through nt_until
degraded()
{
	nt_ctl status "$alice" --config "$conf" | grep -q DEGRADED
}
nt_until 10 degraded
ok $? "when it dies again, nookctl status shows the container as degraded"
nt_running "$alice"
ok $? "... and the container keeps running"
out=$(nt_ctl stop "$alice" --config "$conf")
is "$out" "$alice: stopped" "nookctl stop"
nt_wait "$aspawn"

nt_nspawn "$NT_TMP/b.out" "$alice" "$conf" sleep 30
bspawn=$NT_SPAWNED
nt_until 10 nt_running "$alice"
p3=$(pasta_pid "$alice")
nt_ctl stop "$alice" --config "$conf" >/dev/null
nt_wait "$bspawn"
gone "$p3"
ok $? "after stop: pasta ($p3) is gone"

nt_nspawn "$NT_TMP/c.out" "$alice" "$conf" sleep 30
cspawn=$NT_SPAWNED
nt_until 10 nt_running "$alice"
p4=$(pasta_pid "$alice")
read -r _ keeper < <(nt_pids "$alice")
kill -KILL "$keeper"
nt_wait "$cspawn"
nt_until 5 gone "$p4"
ok $? "after the keeper's SIGKILL: pasta ($p4) is gone too"
out=$(nt_nexec "$alice" "$conf" timeout 5 bash -c "$NT_TCP_GET" get "$NT_FAR_IP" 8081 2>/dev/null)
is "$out" remote-hello "and the next start has a network"

# ---- a host whose resolver is on its loopback (127.0.0.53 and the like):
# pasta forwards the container's queries to it. The keeper runs in a mount
# namespace where /etc/resolv.conf says so.
printf 'nameserver 127.0.0.53\nsearch nt.test\n' >"$NT_TMP/resolv.conf"
nt_dns_server "$NT_NS" 127.0.0.53 svc.nt.test 198.18.0.78
nt_until_listening "$NT_NS" 127.0.0.53 53 udp
# shellcheck disable=SC2016 # expanded by that sh
out=$(timeout -k 5 "$NT_TIMEOUT" nsenter --net="/run/netns/$NT_NS" unshare -m --propagation slave \
	sh -c 'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"' sh "$NT_TMP/resolv.conf" \
	"$NOOKCTL" exec "$alice" --config "$closed" -- sh -c 'cat /etc/resolv.conf; getent hosts svc' </dev/null 2>&1)
unlike "$out" "nameserver 127\." "a loopback resolver of the host is not copied"
like "$out" "nameserver 169\.254\.1\.53" "the container asks pasta's DNS forwarder instead"
like "$out" "search nt\.test" "the host's search list is kept"
like "$out" "198\.18\.0\.78[[:space:]]+svc\.nt\.test" "names resolve through the forwarder"

done_testing
