#!/bin/bash
# Keys managed inside are the keys sshd honours (nook-helper keys, sshd's
# AuthorizedKeysCommand, with AuthorizedKeysFile none for the selected
# user): the first login comes in with the host's key (no image yet), which
# the new image keeps; a key added inside with ssh-copy-id is accepted at the
# next login, a key removed inside is refused, both while the container runs
# and after it stopped; a symlinked authorized_keys is not followed; a user
# nook does not select keeps AuthorizedKeysFile.
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
nt_config "$conf" users="$alice"
# sshd runs an AuthorizedKeysCommand only from a path whose every directory
# is root's and not writable by others: a build under /tmp (a clone there)
# is not, so the helper runs from a copy in a directory of the test's own,
# under /var/lib (Debian mounts /run noexec).
keys_dir=/var/lib/nt-$NT_ID-keys
nt_path "$keys_dir"
if ! install -d -m 0755 "$keys_dir" || ! install -m 0755 "$NOOK_BUILD/nook-helper" "$keys_dir/"; then
	bail "cannot copy nook-helper to $keys_dir"
fi
helper=$keys_dir/nook-helper

# The client keys: k1 (the host's, NT_SSH_KEY), k2 and k3 (added inside).
nt_ssh_key "$bob"
k1=$NT_SSH_KEY
for k in k2 k3; do
	ssh-keygen -q -t ed25519 -N '' -C "nt-$k" -f "$NT_TMP/$k" || bail "ssh-keygen failed"
done
k2=$NT_TMP/k2
k3=$NT_TMP/k3

# alice's host ~/.ssh/authorized_keys holds k1 (what sshd alone would read).
home=$(getent passwd "$alice" | cut -d: -f6)
install -d -m 0700 -o "$alice" -g "$alice" "$home/.ssh"
install -m 0600 -o "$alice" -g "$alice" "$k1.pub" "$home/.ssh/authorized_keys"

NT_SSHD_TAIL=("Match User $alice" "	AuthorizedKeysFile none")
nt_sshd_start "$conf" "AuthorizedKeysCommand $helper --config $conf keys %u" "AuthorizedKeysCommandUser root"

# as KEY USER CMD: ssh as USER with KEY only.
as()
{
	local key=$1

	shift
	NT_SSH_KEY=$key nt_ssh "$@"
}

# inside_ok KEY: a login of alice with KEY only lands in her container.
inside_ok()
{
	[ "$(as "$1" "$alice" 'cat /proc/1/comm')" = nook-init ]
}

# refused KEY: sshd refuses alice's login with KEY (ssh's status 255).
refused()
{
	as "$1" "$alice" true 2>/dev/null
	[ $? = 255 ]
}

# ---- the helper alone: nothing for users nook does not select
out=$("$helper" --config "$conf" keys "$bob")
rc=$?
is "$rc:$out" "0:" "keys for a user nook does not select: nothing, status 0"
out=$("$helper" --config "$conf" keys '../x' 2>/dev/null)
rc=$?
is "$rc:$out" "2:" "keys with a hostile user name: refused, nothing printed"
out=$("$helper" --config "$conf" keys "$alice")
is "$out" "$(cat "$k1.pub")" "keys for alice before her first login: the host's key"

# ---- a user nook does not select keeps AuthorizedKeysFile
is "$(nt_ssh "$bob" 'echo hi')" hi "bob (not selected) logs in with AuthorizedKeysFile"

# ---- the first login: the host's key, and the new image keeps it
inside_ok "$k1"
ok $? "first login of alice with the host's key lands in her container"
is "$(as "$k1" "$alice" 'cat ~/.ssh/authorized_keys')" "$(cat "$k1.pub")" \
	"the new image's ~/.ssh/authorized_keys is the host's"
nt_until 10 nt_not_running "$alice"
ok $? "the container stopped after the last logout (linger 0)"

# ---- while the container runs (a session keeps it)
nt_ssh_bg "$NT_TMP/bg1.out" "$alice" 'sleep 300'
bg=$NT_SSH_BG
nt_until 10 nt_running "$alice"
ok $? "a background session keeps alice's container running"
refused "$k2"
ok $? "before ssh-copy-id, k2 is refused"
# ssh-copy-id keeps its temporary files in the client's ~/.ssh.
install -d -m 0700 "$NT_TMP/client/.ssh"
HOME=$NT_TMP/client timeout -k 5 "$NT_SSH_TIMEOUT" ssh-copy-id -f -i "$k2.pub" -p "$NT_SSHD_PORT" -F /dev/null \
	-o IdentityFile="$k1" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no \
	-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "$alice@127.0.0.1" </dev/null >"$NT_TMP/copy.out" 2>&1
rc=$?
is "$rc" 0 "ssh-copy-id of k2 (running container) succeeds"
[ "$rc" = 0 ] || diag "$(cat "$NT_TMP/copy.out")"
! grep -qF "$(cut -d' ' -f2 "$k2.pub")" "$home/.ssh/authorized_keys"
ok $? "ssh-copy-id wrote into the image, not the host's file"
inside_ok "$k2"
ok $? "running: a login with only the new key k2 is accepted"
inside_ok "$k1"
ok $? "running: k1 still works before it is removed (positive control)"
as "$k2" "$alice" 'grep -v nt-client ~/.ssh/authorized_keys > ~/.ssh/ak.new && mv ~/.ssh/ak.new ~/.ssh/authorized_keys'
is "$?" 0 "k1 removed inside (running)"
refused "$k1"
ok $? "running: k1, removed inside, is refused"
inside_ok "$k2"
ok $? "running: k2 still works after k1 was refused"
NT_SSH_KEY=$k2 nt_ssh_in "$alice" 'cat >> ~/.ssh/authorized_keys; grep -c nt-k3 ~/.ssh/authorized_keys' \
	<"$k3.pub" >"$NT_TMP/k3.out"
is "$(cat "$NT_TMP/k3.out")" 1 "k3 appended inside (running)"
nt_ssh_stop "$bg"
nt_until 10 nt_not_running "$alice"
ok $? "alice's container stopped"

# ---- the container stopped: read from the image
refused "$k1"
ok $? "stopped: k1 (removed inside) is refused"
nt_not_running "$alice"
ok $? "the refused login started no container: the image was read"
inside_ok "$k3"
ok $? "stopped: k3 (added inside before the stop) is accepted"
nt_until 10 nt_not_running "$alice"

# ---- a symlinked authorized_keys is not followed, running or not
nt_ssh_bg "$NT_TMP/bg2.out" "$alice" 'sleep 300'
bg=$NT_SSH_BG
nt_until 10 nt_running "$alice"
inside_ok "$k2"
ok $? "k2 works before authorized_keys becomes a symlink (positive control)"
as "$k2" "$alice" 'cd ~/.ssh && mv authorized_keys real && ln -s real authorized_keys && cat authorized_keys' \
	>"$NT_TMP/link.out"
grep -q nt-k2 "$NT_TMP/link.out"
ok $? "inside, ~/.ssh/authorized_keys is a symlink to a file that lists k2"
refused "$k2"
ok $? "running: a symlinked authorized_keys is not followed (k2 refused)"
nt_ssh_stop "$bg"
nt_until 10 nt_not_running "$alice"
ok $? "alice's container stopped"
refused "$k2"
ok $? "stopped: a symlinked authorized_keys in the image is not followed (k2 refused)"
out=$("$helper" --config "$conf" keys "$alice" 2>/dev/null)
rc=$?
is "$rc:$out" "1:" "the helper fails closed on the symlink: status 1, nothing printed"

nt_sshd_cleanup
done_testing
