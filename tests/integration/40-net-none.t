#!/bin/bash
# network = none (the default): only lo, up; generated resolv.conf (no name
# server) and hosts; nothing of the host's network is reachable.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=netns.sh
. "$(dirname "$0")/netns.sh"
require_root
nt_netns_setup

conf=$NT_TMP/none.conf
nt_config "$conf"
nt_user; alice=$NT_USER
nt_tcp_server "$NT_NS" "$NT_HOST_IP" 8082 host-hello
nt_until_listening "$NT_NS" "$NT_HOST_IP" 8082

out=$(nt_nexec "$alice" "$conf" sh -c 'ls /sys/class/net | tr "\n" " "; echo; ip -o link show lo')
is "$(head -n1 <<<"$out")" "lo " "network = none: the container has only lo"
like "$out" "lo: <LOOPBACK,UP,LOWER_UP>" "... and lo is up"
out=$(nt_nexec "$alice" "$conf" ip route show)
is "$out" "" "no route but loopback's"
is "$(nt_tcp_get "$alice" "$conf" "$NT_HOST_IP" 8082)" "" "the host's network is not reachable"
out=$(nt_nexec "$alice" "$conf" cat /etc/resolv.conf)
like "$out" "network = none" "resolv.conf is nook's"
unlike "$out" "nameserver" "... and lists no name server"
# shellcheck disable=SC2016 # expanded inside the container
out=$(nt_nexec "$alice" "$conf" sh -c 'cat /etc/hosts; getent hosts "$(hostname)"')
like "$out" "127\.0\.0\.1[[:space:]]+localhost" "hosts has localhost"
like "$out" "127\.0\.1\.1[[:space:]]+$alice" "hosts has the container's hostname, which resolves"
out=$(nt_nexec "$alice" "$conf" sh -c 'echo x >>/etc/hosts' 2>&1)
isnt "$?" 0 "the user cannot change hosts"
nt_in_host nft list table inet nook >/dev/null 2>&1
isnt "$?" 0 "no nft table for network = none"

done_testing
