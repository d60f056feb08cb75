#!/bin/bash
# Forwarding through sshd with pam_nook: -L reaches a server on the
# container's 127.0.0.1, -R listens in the container's network namespace,
# the host's 127.0.0.1 cannot reach the container's server, -W (a jump
# host's hop) reaches the container's loopback and nothing beyond (network =
# none), and -A gives a working SSH_AUTH_SOCK inside.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=sshd.sh
. "$(dirname "$0")/sshd.sh"
require_root

nt_user; alice=$NT_USER
conf=$NT_TMP/a.conf
nt_config "$conf"
nt_sshd_start "$conf"
nt_ssh_key "$alice"
tag=nt-$NT_ID-$RANDOM

# ---- -L: the host's side of the tunnel reaches 127.0.0.1 inside
lport=$(nt_free_port)
iport=$(nt_free_port)
nt_ssh "$alice" "mkdir -p ~/www && echo inside-$tag > ~/www/in.txt"
is "$?" 0 "a file to serve is made inside"
nt_ssh_bg "$NT_TMP/L.out" "$alice" -o ExitOnForwardFailure=yes -L "$lport:127.0.0.1:$iport" \
	"cd ~/www && exec timeout 60 /usr/bin/python3 -m http.server --bind 127.0.0.1 $iport"
L=$NT_SSH_BG
fetch() { curl -fsS --max-time 2 "$1" 2>/dev/null; }
nt_until 20 fetch "http://127.0.0.1:$lport/in.txt" >/dev/null
out=$(fetch "http://127.0.0.1:$lport/in.txt")
is "$out" "inside-$tag" "ssh -L reaches a server listening on 127.0.0.1 inside the container"
[ -n "$out" ] || diag "$(cat "$NT_TMP/L.out")"
nt_port_listening "$iport"
isnt "$?" 0 "the container's server port $iport is not listening on the host"
curl -fsS --max-time 2 "http://127.0.0.1:$iport/in.txt" >/dev/null 2>&1
isnt "$?" 0 "the host's 127.0.0.1 cannot reach the container's server"
out=$(nt_ssh "$alice" "curl -fsS --max-time 2 http://127.0.0.1:$iport/in.txt")
is "$out" "inside-$tag" "another session of the user reaches the server on the shared 127.0.0.1"

# ---- -W (what ssh -J does on a jump host): with network = none it reaches
# the container's loopback and nothing beyond
out=$(printf 'GET /in.txt HTTP/1.0\r\n\r\n' | nt_ssh_in "$alice" -W "127.0.0.1:$iport" 2>&1)
like "$out" "inside-$tag" "ssh -W reaches a server on 127.0.0.1 inside the container"
out=$(nt_ssh "$alice" -W 192.0.2.1:9 </dev/null 2>&1)
isnt "$?" 0 "ssh -W beyond the container fails (network = none)"
like "$out" 'stdio forwarding failed' "... and ssh says the forwarding failed"
like "$(cat "$NT_SSHD_LOG")" 'connect to 192\.0\.2\.1 port 9 failed: Network is unreachable' \
	"... because the container's network has no route (sshd's log)"
nt_ssh_stop "$L"

# ---- -R: the listener is inside, the server on the host
hport=$(nt_free_port)
rport=$(nt_free_port)
mkdir -p "$NT_TMP/hostwww"
echo "host-$tag" >"$NT_TMP/hostwww/host.txt"
/usr/bin/python3 -m http.server --bind 127.0.0.1 --directory "$NT_TMP/hostwww" "$hport" \
	</dev/null >/dev/null 2>&1 &
NT_PIDS+=("$!")
nt_until 10 fetch "http://127.0.0.1:$hport/host.txt" >/dev/null
ok $? "a server on the host's 127.0.0.1 is up"
nt_ssh_bg "$NT_TMP/R.out" "$alice" -o ExitOnForwardFailure=yes -R "$rport:127.0.0.1:$hport" 'exec sleep 60'
R=$NT_SSH_BG
out=$(nt_ssh "$alice" "for i in \$(seq 50); do
		curl -fsS --max-time 2 http://127.0.0.1:$rport/host.txt && exit 0; sleep 0.2
	done; exit 1")
is "$out" "host-$tag" "ssh -R: a client inside reaches the host's server through the tunnel"
[ -n "$out" ] || diag "$(cat "$NT_TMP/R.out")"
nt_port_listening "$rport"
isnt "$?" 0 "ssh -R: port $rport listens in the container's network namespace, not the host's"
out=$(nt_ssh "$alice" "ss -Hltn 'sport = :$rport' | grep -c ' 127.0.0.1:$rport '")
is "$out" 1 "ssh -R: ss inside shows the listener on 127.0.0.1:$rport"
nt_ssh_stop "$R"

# ---- -A: agent forwarding
nt_agent_start
ssh-keygen -q -t ed25519 -N '' -C "agent-$tag" -f "$NT_TMP/agentkey"
SSH_AUTH_SOCK=$NT_AGENT_SOCK ssh-add -q "$NT_TMP/agentkey" 2>/dev/null
is "$?" 0 "a private ssh-agent holds a key"
fp=$(ssh-keygen -lf "$NT_TMP/agentkey.pub" | cut -d' ' -f2)
# shellcheck disable=SC2016 # expands inside
out=$(SSH_AUTH_SOCK=$NT_AGENT_SOCK nt_ssh "$alice" -A 'echo "sock=$SSH_AUTH_SOCK"; ssh-add -l')
grep -qF -- "$fp" <<<"$out"
ok $? "ssh -A: ssh-add -l inside lists the agent's key"
if [ -z "$fp" ] || [ -z "$out" ]; then diag "fingerprint '$fp', inside: $out"; fi
sock=$(sed -n 's/^sock=//p' <<<"$out")
like "$sock" '^/' "ssh -A: SSH_AUTH_SOCK is set inside ($sock)"
[ -n "$sock" ] && [ ! -e "$sock" ]
ok $? "ssh -A: the agent socket is in the container's /tmp, not the host's"
# shellcheck disable=SC2016 # expands inside
out=$(SSH_AUTH_SOCK=$NT_AGENT_SOCK nt_ssh "$alice" -a 'ssh-add -l 2>&1; echo "rc=$?"')
grep -qF -- "$fp" <<<"$out"
isnt "$?" 0 "without -A (ssh -a) the agent's key is not reachable inside"

nt_sshd_cleanup
done_testing
