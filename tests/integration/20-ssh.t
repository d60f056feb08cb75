#!/bin/bash
# SSH logins through a real sshd with pam_nook: an interactive pty shell and
# `ssh host cmd` run in the user's container, restricted, with exit status
# and stdin passed through, and nothing reaches the host.
# Commands for the container are single-quoted on purpose: they expand inside.
# shellcheck disable=SC2016
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=sshd.sh
. "$(dirname "$0")/sshd.sh"
require_root

nt_user; alice=$NT_USER
nt_user; bob=$NT_USER
conf=$NT_TMP/a.conf
nt_config "$conf" hostname=box-%u
nt_sshd_start "$conf"
nt_ssh_key "$alice"

# field NAME TEXT: the value of "NAME=..." lines of TEXT.
field()
{
	sed -n "s/^$1=//p" <<<"$2"
}

# ---- ssh -tt with a command: a pty, in the container, restricted
out=$(nt_ssh "$alice" -tt 'echo "tty=$(tty)"; echo "host=$(hostname)"
	echo "map=$(cat /proc/self/uid_map | tr -s " " | tr "\n" ";")"
	for k in NoNewPrivs CapEff CapBnd Seccomp; do echo "$k=$(sed -n "s/^$k:[[:space:]]*//p" /proc/self/status)"; done
	echo "ps1=$(ps -o args= -p 1)"
	echo "ttydev=$(stat -c %d "$(tty)")"; echo "ptsdev=$(stat -c %d /dev/pts)"
	ps ax -o pid=,args= | sed "s/^ */ps=/"' 2>&1 | tr -d '\r')
rc=$?
is "$rc" 0 "ssh -tt with a command works"
like "$(field tty "$out")" '^/dev/pts/[0-9]+$' "ssh -tt: tty prints a /dev/pts path"
like "$(field ptsdev "$out")" '^[0-9]+$' "ssh -tt: /dev/pts inside was looked at"
is "$(field ttydev "$out")" "$(field ptsdev "$out")" \
	"ssh -tt: the session's pty is in the container's /dev/pts (sshd allocated it from the container's devpts)"
isnt "$(field ptsdev "$out")" "$(stat -c %d /dev/pts)" "ssh -tt: ... which is not the host's devpts instance"
is "$(field host "$out")" "box-$alice" "ssh -tt: the hostname comes from the config"
map=$(field map "$out")
[ -n "$map" ] && ! [[ $map =~ ^\ ?0\ 0\ 4294967295\;$ ]]
ok $? "ssh -tt: uid_map is not the identity ($map)"
is "$(field NoNewPrivs "$out")" 1 "ssh -tt: NoNewPrivs is 1"
is "$(field CapEff "$out")" 0000000000000000 "ssh -tt: CapEff is empty"
is "$(field CapBnd "$out")" 0000000000000000 "ssh -tt: CapBnd is empty"
is "$(field Seccomp "$out")" 2 "ssh -tt: a seccomp filter is on (Seccomp 2)"
like "$(field ps1 "$out")" "^nook-init $alice( |\$)" "ps: pid 1 is nook-init $alice"
plist=$(field ps "$out")
like "$plist" "nook-init" "ps ax inside lists the container's processes"
unlike "$plist" 'sshd|nookctl|prove|nook-keeper' "ps ax shows no host process (no sshd, keeper, prove)"
n=$(grep -c . <<<"$plist")
[ "$n" -ge 2 ] && [ "$n" -le 6 ]
ok $? "ps ax shows only the container's few processes ($n)"
[ -n "$out" ] || diag "$(tail -n 20 "$NT_SSHD_LOG")"

# ---- an interactive login shell on the pty, commands typed in
printf '%s\n' 'echo "in""side:$(hostname):$(tty)"' 'exit 3' |
	nt_ssh_in "$alice" -tt >"$NT_TMP/login.out" 2>&1
rc=$?
out=$(tr -d '\r' <"$NT_TMP/login.out")
like "$out" "inside:box-$alice:/dev/pts/[0-9]+" "interactive login shell on a pty runs typed commands inside"
is "$rc" 3 "interactive login shell: its exit status comes back"

# ---- job control in an interactive shell on the pty
out=$(nt_ssh "$alice" -tt 'bash -ic '\''sleep 5 & echo "jobs=$(jobs)"; echo "mode=$-"
	echo "pg=$(ps -o pgid= -p $!) $(ps -o pgid= -p $$)"; kill %1; wait'\'' 2>/dev/null' | tr -d '\r')
like "$(field jobs "$out")" 'Running +sleep 5 &' "job control: 'sleep 5 & jobs' lists the job"
like "$(field mode "$out")" 'm' "job control: the interactive shell has monitor mode on"
read -r jpg spg <<<"$(field pg "$out")"
[ -n "$jpg" ] && [ -n "$spg" ] && [ "$jpg" != "$spg" ]
ok $? "job control: the background job has its own process group ($jpg vs $spg)"

# ---- ssh host cmd: arguments, quoting, exit status, stdin
out=$(nt_ssh "$alice" 'set -- "a b" "c'\''d" "$(hostname)"; printf "<%s>" "$@"; echo " $#"')
is "$out" "<a b><c'd><box-$alice> 3" "ssh host 'cmd with args; and quoting' runs inside, quoting intact"
nt_ssh "$alice" 'true; exit 7'
is "$?" 7 "ssh host 'exit 7': the exit status (7) comes back"
nt_ssh "$alice" false
is "$?" 1 "ssh host false: exit status 1 comes back"
out=$(echo hi | nt_ssh_in "$alice" cat)
is "$out" "hi" "stdin is piped through (echo hi | ssh host cat)"
head -c 1000000 /dev/urandom >"$NT_TMP/blob"
out=$(nt_ssh_in "$alice" 'cat | sha256sum' <"$NT_TMP/blob" | cut -d' ' -f1)
is "$out" "$(sha256sum <"$NT_TMP/blob" | cut -d' ' -f1)" "1 MB of binary stdin arrives intact"
out=$(nt_ssh "$alice" 'echo "$(hostname) $(cat /proc/self/uid_map | wc -l)"; readlink /proc/self/ns/mnt')
like "$(head -n1 <<<"$out")" "^box-$alice [0-9]+\$" "ssh host cmd runs in the container (hostname)"
isnt "$(tail -n1 <<<"$out")" "$(readlink /proc/self/ns/mnt)" "ssh host cmd runs in another mount namespace"

# ---- no escape to the host
mark=nt-escape-$NT_ID-$RANDOM
nt_path "/tmp/$mark"
out=$(nt_ssh "$alice" "ls / >/dev/null && sh -c 'echo in > /tmp/$mark' && cat /tmp/$mark")
is "$out" "in" "a file created under /tmp inside exists inside"
[ ! -e "/tmp/$mark" ]
ok $? "... but not in the host's /tmp"
home=$(getent passwd "$alice" | cut -d: -f6)
nt_ssh "$alice" "echo marker > ~/$mark"
is "$?" 0 "writing a marker to ~ works"
[ ! -e "$home/$mark" ]
ok $? "... and it is not in the host's home ($home)"
out=$(nt_exec "$alice" "$conf" cat "$home/$mark")
is "$out" "marker" "... but in the image (nookctl exec cat ~/$mark)"
out=$(nt_ssh "$alice" 'cat /etc/shadow 2>/dev/null | wc -c; grep -c "^root:" /etc/shadow 2>/dev/null')
is "$(head -n1 <<<"$out")" 0 "reading the host's /etc/shadow inside fails or gives nothing"
isnt "$(tail -n1 <<<"$out")" 1 "... not even root's line"
bhome=$(getent passwd "$bob" | cut -d: -f6)
out=$(nt_ssh "$alice" "ls -A $bhome 2>/dev/null | wc -l; ls /home")
like "$out" "$alice" "ls /home inside lists the user's own home"
unlike "$out" "$bob" "another user's home is not visible inside"
out=$(nt_ssh "$alice" 'sh -c "cat /proc/1/status" | sed -n "s/^Name:[[:space:]]*//p"')
is "$out" "nook-init" "sh -c inside sees the container's pid 1, not the host's"

nt_sshd_cleanup
done_testing
