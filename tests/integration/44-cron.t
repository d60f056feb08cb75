#!/bin/bash
# crontab inside (issue 12): crontab(1) works in the container, the keeper
# installs the same crontab on the host (and removes it with crontab -r),
# and the host's cron, with pam_nook in its PAM file, runs the job inside
# the user's container, starting it when it is not running. A host crontab
# from before is copied into a container that has none. Without the
# session line in cron's PAM file, pam_nook refuses the job's account.
#
# Debian's cron, and the keepers, run in a private mount namespace of the
# test's: cron's PAM file is the test's (bound over /etc/pam.d/cron), /etc/crontab and
# /etc/cron.d are empty (no system job runs), and /run is a tmpfs of its own
# (its pid file and @reboot mark), with the host's /run/nook and, under
# systemd, /run/systemd and /run/dbus bound back in. It is stopped by pid.
# Commands for the container are single-quoted on purpose: they expand inside.
# shellcheck disable=SC2016
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
cd / || bail "cd /"
for p in /usr/sbin/cron /usr/bin/crontab /etc/pam.d/cron; do
	[ -e "$p" ] || nt_skip_all "$p is missing (scripts/install-deps installs cron)"
done
spool=/var/spool/cron/crontabs

nt_user; alice=$NT_USER
nt_user; bob=$NT_USER
nt_path "$spool/$alice"
nt_path "$spool/$bob"
conf=$NT_TMP/a.conf
# A long linger: the container the job starts is still there to be seen.
nt_config "$conf" linger=10m
nt_pam_file "$NT_TMP/cron.pam" "auth     required pam_unix.so" "conf=$conf" "helper=$NOOK_BUILD/nook-helper"

# The namespace first: the keepers started from it (by nookctl exec here,
# by cron's jobs later) see cron's PAM file as cron does, and install a
# crontab on the host only where its jobs would enter the container.
mkdir -p "$NT_TMP/cron.d" && : >"$NT_TMP/crontab"
holder_out=$NT_TMP/holder.out
unshare -m --propagation private sh -c '
	t=$1
	mount --bind "$t/cron.pam" /etc/pam.d/cron && mount --bind "$t/crontab" /etc/crontab &&
	mount --bind "$t/cron.d" /etc/cron.d && mkdir "$t/hostrun" && mount --bind /run "$t/hostrun" &&
	mount -t tmpfs -o mode=0755 nt-run /run || exit 1
	for d in nook systemd dbus; do
		[ -d "$t/hostrun/$d" ] || continue
		mkdir "/run/$d" && mount --bind "$t/hostrun/$d" "/run/$d" || exit 1
	done
	echo ready
	exec sleep 3600' sh "$NT_TMP" >"$holder_out" 2>&1 &
holder=$!
NT_PIDS+=("$holder")
nt_until 20 grep -q ready "$holder_out"
ok $? "a mount namespace for cron" || diag "$(cat "$holder_out")"
real_nookctl=$NOOKCTL
NOOKCTL=$NT_TMP/nookctl-in-ns
# In the namespace while it exists; cleanup runs after it is gone.
printf '#!/bin/sh\n[ -e /proc/%s/ns/mnt ] && exec nsenter --mount=/proc/%s/ns/mnt -- %s "$@"\nexec %s "$@"\n' \
	"$holder" "$holder" "$real_nookctl" "$real_nookctl" >"$NOOKCTL"
chmod 0755 "$NOOKCTL"

# ---- crontab(1) inside, and the host's copy
out=$(nt_exec "$alice" "$conf" sh -c 'printf "%s\n" "# nt-job" "* * * * * echo \"\$(cat /proc/1/comm) \$(id -un)\" >>\$HOME/cron-ran" | crontab -; echo rc=$?; crontab -l')
like "$out" 'rc=0' "crontab - works inside" || diag "$out"
like "$out" '# nt-job' "crontab -l inside shows it"
nt_until 20 test -f "$spool/$alice"
ok $? "the keeper installs it in the host's spool"
is "$(stat -c '%U:%G %a' "$spool/$alice" 2>&1)" "$alice:crontab 600" "... as crontab(1) would: the user's, group crontab, 0600"
like "$(cat "$spool/$alice")" '(^|'$'\n'')# nt-job'$'\n''\* \* \* \* \* echo' "... with the job"
is "$(grep -c 'DO NOT EDIT' "$spool/$alice")" 1 "... and one header, crontab's own"

# ---- the host's cron runs the job inside, starting the container
nt_ctl stop "$alice" --config "$conf" >/dev/null 2>&1
nt_until 30 nt_not_running "$alice"
ok $? "control: alice's container is stopped before cron starts"

# ---- cron starts
nsenter --mount="/proc/$holder/ns/mnt" -- /usr/sbin/cron -f >"$NT_TMP/cron.out" 2>&1 &
NT_PIDS+=("$!")

# cron runs the job at the next minute (up to two after its start).
nt_until 150 nt_running "$alice"
ok $? "cron's job starts alice's container"
# shellcheck disable=SC2317 # called through nt_until
ran() { nt_exec "$alice" "$conf" sh -c 'cat $HOME/cron-ran' 2>/dev/null | grep -q .; }
nt_until 60 ran
ok $? "the job ran"
is "$(nt_exec "$alice" "$conf" sh -c 'head -n1 $HOME/cron-ran')" "nook-init $alice" \
	"... inside her container (pid 1 is nook-init), as alice, its output in the image's home"

# ---- fail closed: a cron PAM file without pam_nook's session line
# cron prints a refused account's PAM error on its stderr, before any fork.
grep -v 'session.*pam_nook' "$NT_TMP/cron.pam" >"$NT_TMP/cron-noenter.pam"
nsenter --mount="/proc/$holder/ns/mnt" -- mount --bind "$NT_TMP/cron-noenter.pam" /etc/pam.d/cron
ok $? "control: cron's PAM file now has no pam_nook session line"
# shellcheck disable=SC2317 # called through nt_until
refused() { grep -q 'Permission denied' "$NT_TMP/cron.out"; }
nt_until 150 refused
ok $? "the next run of alice's job is refused at the account check" || diag "$(cat "$NT_TMP/cron.out")"
home=$(getent passwd "$alice" | cut -d: -f6)
[ ! -e "$home/cron-ran" ]
ok $? "... and never ran on the host (no cron-ran in her host home $home)"
nsenter --mount="/proc/$holder/ns/mnt" -- umount /etc/pam.d/cron
ok $? "control: cron's PAM file has the session line again"

# ---- crontab -r inside removes the host's
out=$(nt_exec "$alice" "$conf" sh -c 'crontab -r; echo rc=$?; crontab -l 2>&1')
like "$out" 'rc=0' "crontab -r works inside"
like "$out" 'no crontab for' "... and crontab -l then has none"
nt_until 20 test ! -e "$spool/$alice"
ok $? "the host's copy is removed"

# ---- a change just before the container stops still reaches the host
nt_exec "$alice" "$conf" sh -c 'echo "7 7 * * * true # nt-last" | crontab -' &&
	nt_ctl stop "$alice" --config "$conf" >/dev/null 2>&1
ok $? "control: a new crontab inside, then the container stopped at once"
like "$(cat "$spool/$alice" 2>&1)" 'nt-last' "the host has it once the stop is done"

# ---- a host crontab from before is copied in
echo "5 4 * * * true # nt-import" | crontab -u "$bob" -
ok $? "control: root installs a crontab for bob on the host"
out=$(nt_exec "$bob" "$conf" crontab -l 2>&1)
like "$out" 'nt-import' "bob's first container has it: crontab -l inside shows it" || diag "$out"
out=$(nt_exec "$bob" "$conf" sh -c 'stat -c "%U %a" /var/spool/cron/crontabs/$(id -un)')
is "$out" "$bob 600" "... a file of bob's own in his image"
like "$(cat "$spool/$bob")" 'nt-import' "... and the host's copy is still there"

done_testing
