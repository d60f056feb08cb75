#!/bin/bash
# /var/tmp (and /var/lock where it is a directory, not a link to /run/lock)
# is private to each user and persistent: a file the host puts there is not
# visible inside, what the user puts there survives a restart of the
# container, and another user does not see it.
# Commands for the container are single-quoted on purpose: they expand inside.
# shellcheck disable=SC2016
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
cd / || bail "cd /"

nt_user; alice=$NT_USER
nt_user; bob=$NT_USER
conf=$NT_TMP/a.conf
nt_config "$conf"

host_file=/var/tmp/nt-host-$NT_ID
nt_path "$host_file"
echo host >"$host_file"
chmod 0644 "$host_file"

out=$(nt_exec "$alice" "$conf" sh -c 'ls -a /var/tmp; stat -c "mode=%a owner=%u" /var/tmp')
like "$out" 'mode=1777 owner=0' "/var/tmp inside is a sticky world-writable directory of root's"
unlike "$out" "nt-host-$NT_ID" "/var/tmp: a file the host put there is not visible inside"
is "$(cat "$host_file")" host "control: the host's file is there on the host"
out=$(nt_exec "$alice" "$conf" sh -c "cat /var/tmp/nt-host-$NT_ID 2>&1; echo rc=\$?")
like "$out" 'No such file' "/var/tmp: ... nor readable by name"

out=$(nt_exec "$alice" "$conf" sh -c 'echo mine >/var/tmp/nt-mine && cat /var/tmp/nt-mine')
is "$out" mine "/var/tmp: the user writes a file there"
[ ! -e /var/tmp/nt-mine ]
ok $? "/var/tmp: ... which does not reach the host's /var/tmp"
nt_ctl stop "$alice" --config "$conf" >/dev/null 2>&1
nt_until 15 nt_settled "$alice"
ok $? "the container stopped"
is "$(nt_exec "$alice" "$conf" cat /var/tmp/nt-mine 2>&1)" mine "/var/tmp: the file survives a restart (it is in the image)"
out=$(nt_exec "$bob" "$conf" sh -c 'ls -a /var/tmp; echo listed')
like "$out" listed "control: bob lists his /var/tmp"
unlike "$out" "nt-mine" "/var/tmp: another user does not see it"

if [ -d /var/lock ] && [ ! -L /var/lock ]; then
	out=$(nt_exec "$alice" "$conf" sh -c 'echo l >/var/lock/nt-lock && ls /var/lock')
	is "$out" nt-lock "/var/lock (a directory on this host) is private"
else
	out=$(nt_exec "$alice" "$conf" readlink /var/lock)
	like "$out" 'run/lock' "/var/lock stays the link to /run/lock (the container's own tmpfs)"
fi

done_testing
