#!/bin/bash
# File transfers through sshd with pam_nook: scp (SFTP and legacy protocol),
# rsync and sftp (internal-sftp and the external sftp-server), in both
# directions. What is uploaded lands in the user's image, owned by the user,
# and never in the host's home.
# Commands for the container are single-quoted on purpose: they expand inside.
# shellcheck disable=SC2016
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=sshd.sh
. "$(dirname "$0")/sshd.sh"
require_root

nt_user; alice=$NT_USER
conf=$NT_TMP/a.conf
nt_config "$conf"
home=$(getent passwd "$alice" | cut -d: -f6)
nt_ssh_key "$alice"
nt_sshd_start "$conf" "Subsystem sftp internal-sftp"
internal=$NT_SSHD
nt_sshd_start "$conf" "Subsystem sftp /usr/lib/openssh/sftp-server"
external=$NT_SSHD
nt_sshd_use "$internal"

up=$NT_TMP/up
down=$NT_TMP/down
mkdir -p "$up" "$down"

sum() { sha256sum <"$1" | cut -d' ' -f1; }

# landed NAME WHAT: the host's home has no NAME; that ~/NAME is in the
# image is checked at the end (see below).
uploaded=()
declare -A upload_what=()
landed()
{
	uploaded+=("$1")
	upload_what[$1]=$2
	[ ! -e "$home/$1" ]
	ok $? "$2: the host's $home has no $1"
}

# inside NAME: makes ~/NAME in the container (random data); prints its sum.
inside()
{
	nt_ssh "$alice" "head -c 300000 /dev/urandom > ~/$1 && sha256sum < ~/$1 | cut -d' ' -f1"
}

# ---- scp, SFTP protocol (OpenSSH 9's default), internal-sftp
head -c 300000 /dev/urandom >"$up/scp.bin"
nt_scp "$up/scp.bin" "$alice@127.0.0.1:scp.bin"
is "$?" 0 "scp upload (SFTP protocol, internal-sftp) works"
landed scp.bin "scp upload"
want=$(inside scp-down.bin)
nt_scp "$alice@127.0.0.1:scp-down.bin" "$down/"
is "$(sum "$down/scp-down.bin" 2>/dev/null)" "$want" "scp download (SFTP protocol) brings the container's file"

# ---- scp -O, the legacy protocol (runs scp inside)
head -c 300000 /dev/urandom >"$up/scp-O.bin"
nt_scp -O "$up/scp-O.bin" "$alice@127.0.0.1:scp-O.bin"
is "$?" 0 "scp -O upload (legacy protocol) works"
landed scp-O.bin "scp -O upload"
want=$(inside scp-O-down.bin)
nt_scp -O "$alice@127.0.0.1:scp-O-down.bin" "$down/"
is "$(sum "$down/scp-O-down.bin" 2>/dev/null)" "$want" "scp -O download brings the container's file"

# ---- rsync, both directions
mkdir -p "$up/rs"
head -c 200000 /dev/urandom >"$up/rs/a.bin"
echo small >"$up/rs/b.txt"
nt_rsync -a "$up/rs/" "$alice@127.0.0.1:rs/"
is "$?" 0 "rsync upload works"
landed rs/a.bin "rsync upload"
landed rs/b.txt "rsync upload"
want=$(inside rs-down.bin)
nt_rsync -a "$alice@127.0.0.1:rs-down.bin" "$down/"
is "$(sum "$down/rs-down.bin" 2>/dev/null)" "$want" "rsync download brings the container's file"

# ---- sftp: internal-sftp, then the external sftp-server
for kind in internal external; do
	if [ "$kind" = internal ]; then
		nt_sshd_use "$internal"
	else
		nt_sshd_use "$external"
	fi
	head -c 300000 /dev/urandom >"$up/sftp-$kind.bin"
	want=$(inside "sftp-$kind-down.bin")
	printf '%s\n' "put $up/sftp-$kind.bin sftp-$kind.bin" "get sftp-$kind-down.bin $down/sftp-$kind-down.bin" \
		"pwd" >"$NT_TMP/batch-$kind"
	out=$(nt_sftp "$alice" "$NT_TMP/batch-$kind" 2>&1)
	is "$?" 0 "sftp ($kind) batch of put, get, pwd works"
	like "$out" "Remote working directory: $home\$" "sftp ($kind) starts in the user's home"
	landed "sftp-$kind.bin" "sftp put ($kind)"
	is "$(sum "$down/sftp-$kind-down.bin" 2>/dev/null)" "$want" "sftp get ($kind) brings the container's file"
done
# ---- what was uploaded is in the image: read back by nookctl exec in a
# new container (linger 0: the last one stopped with its session)
nt_until 5 nt_not_running "$alice"
ok $? "the container stopped after the last transfer"
# shellcheck disable=SC2016 # expands inside
out=$(nt_exec "$alice" "$conf" sh -c 'cd && for f; do
		echo "$f $(sha256sum < "$f" | cut -d" " -f1) $(stat -c %U "$f")"; done' sh "${uploaded[@]}")
for f in "${uploaded[@]}"; do
	got=$(grep "^$f " <<<"$out")
	is "$got" "$f $(sum "$up/$f") $alice" "${upload_what[$f]}: ~/$f is in the user's image, intact, owned by the user"
done

nt_sshd_use "$external"
grep -q "Starting session: subsystem 'sftp' for $alice" "$NT_SSHD_LOG"
ok $? "the sshd with the external sftp-server served an sftp session"

nt_sshd_cleanup
done_testing
