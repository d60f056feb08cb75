#!/bin/bash
# Setuid programs that cannot work inside (no_new_privs) say so in one line
# and exit non-zero (issue 12): sudo is replaced by a stub that names the
# reason and what to do instead. A setuid program that does its job
# unprivileged (mount listing the mounts) is left as it is.
# Commands for the container are single-quoted on purpose: they expand inside.
# shellcheck disable=SC2016
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
cd / || bail "cd /"

nt_user; alice=$NT_USER
conf=$NT_TMP/a.conf
nt_config "$conf"

out=$(nt_exec "$alice" "$conf" sh -c 'id -un; mount | grep -c " on / "; echo rc=$?')
like "$out" "^$alice" "control: a command runs inside as the user"
like "$out" 'rc=0' "control: mount (setuid, not stubbed) lists the mounts"
unlike "$out" 'not available' "control: ... and prints no stub message"

if [ -u /usr/bin/sudo ]; then
	out=$(nt_exec "$alice" "$conf" sh -c 'sudo -n true 2>&1; echo rc=$?')
	like "$out" '^sudo: not available inside your nook container: .*no_new_privs.*administrator' \
		"sudo says why it cannot work and what to do instead"
	is "$(printf '%s\n' "$out" | grep -vc '^rc=')" 1 "... in one line"
	like "$out" 'rc=1' "... and exits 1"
	out=$(nt_exec "$alice" "$conf" sh -c 'echo x >/usr/bin/sudo; echo rc=$?' 2>&1)
	like "$out" 'rc=[1-9]' "the stub is read-only"
	out=$(nt_exec "$alice" "$conf" sh -c 'sudoedit /etc/motd 2>&1; echo rc=$?')
	like "$out" '^sudoedit: not available inside' "a link to it (sudoedit) names itself"
else
	for t in "sudo message" "one line" "exit 1" "read-only" "sudoedit"; do
		skip "$t" "sudo is not installed setuid (scripts/install-deps installs it)"
	done
fi
out=$(nt_exec "$alice" "$conf" sh -c 'su -c true root 2>&1; echo rc=$?')
like "$out" '^su: not available inside your nook container' "su says so too"
out=$(nt_exec "$alice" "$conf" sh -c 'passwd </dev/null 2>&1; echo rc=$?')
like "$out" '^passwd: not available inside your nook container: .*ask the administrator to change them' \
	"passwd says the password is the host's and who changes it"
is "$(printf '%s\n' "$out" | grep -vc '^rc=')" 1 "... in one line"
like "$out" 'rc=1' "... and exits 1"
out=$(nt_exec "$alice" "$conf" sh -c 'chsh -s /bin/sh </dev/null 2>&1; echo rc=$?')
like "$out" '^chsh: not available inside your nook container: .*account' "chsh says so too"

done_testing
