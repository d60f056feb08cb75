#!/bin/bash
# Fail closed: when nook's installation is broken (helper missing, not
# root's, failing, or the configuration insecure or missing), a selected
# user's SSH login gets no shell and runs no command, on a pty or not, and
# the refusal is logged. Users not selected are not affected.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=sshd.sh
. "$(dirname "$0")/sshd.sh"
require_root

nt_user; alice=$NT_USER
conf=$NT_TMP/a.conf
nt_config "$conf" hostname=box-%u
helper=$NOOK_BUILD/nook-helper
nt_syslog_start
nt_sshd_start "$conf"
nt_ssh_key "$alice"
nt_ssh_key root
[ -n "$NT_SYSLOG" ] || diag "a /dev/log exists: the module's own messages are not checked"

n=0
# marker: a fresh path under the host's /tmp, removed at exit.
marker()
{
	n=$((n + 1))
	MARK=/tmp/nt-escape-$NT_ID-$n
	nt_path "$MARK"
}

# ---- controls: the markers do show a command that runs on the host, and
# the working installation lets alice in (into her container)
marker
nt_ssh root "touch $MARK"
[ -e "$MARK" ]
ok $? "control: a host session's 'touch $MARK' creates it on the host"
marker
nt_sshd_pam "conf=$conf" "helper=$helper" debug
nt_log_mark
out=$(nt_ssh "$alice" "touch $MARK && hostname")
is "$out" "box-$alice" "control: with a sane installation the login works, in the container"
[ ! -e "$MARK" ]
ok $? "control: ... and its marker is not on the host"
nt_until 5 nt_not_running "$alice"
if [ -n "$NT_SYSLOG" ]; then
	like "$(nt_log_since)" "pam_nook\\([^)]*:setcred\\): '$alice' entered the container \\(init [0-9]+\\)" \
		"control: with 'debug', pam_nook logs that the session's process entered the container"
else
	skip "control: with 'debug', pam_nook logs that the session entered" "syslog goes to an existing /dev/log"
fi

# refused WHAT SSHD-ERE MODULE-ERE...: a login of alice must get nothing,
# with or without a pty, and the logs must say why (each MODULE-ERE is a
# message of pam_nook's, checked when we catch syslog).
refused()
{
	local what=$1 sshd_re=$2 mod_re desc out rc log

	nt_log_mark
	marker
	out=$(nt_ssh "$alice" "touch $MARK; echo ran" 2>&1)
	rc=$?
	isnt "$rc" 0 "$what: ssh host cmd fails (exit $rc)"
	[ ! -e "$MARK" ]
	ok $? "$what: ... and its command did not run on the host"
	unlike "$out" '(^|[^a-z])ran' "$what: ... nor anywhere (no output of it)"
	marker
	printf '%s\n' "touch $MARK; echo ran-tty" exit | nt_ssh_in "$alice" -tt >"$NT_TMP/tty.out" 2>&1
	rc=$?
	isnt "$rc" 0 "$what: ssh -tt gets no shell (exit $rc)"
	[ ! -e "$MARK" ] && ! grep -q 'ran-tty$' <(tr -d '\r' <"$NT_TMP/tty.out")
	ok $? "$what: ... and nothing typed ran"
	nt_not_running "$alice"
	ok $? "$what: no container runs for the user"
	# The monitor may still be writing its last lines.
	nt_until 5 grep -Eq -- "$sshd_re" <(nt_log_since)
	log=$(nt_log_since)
	like "$log" "$sshd_re" "$what: sshd's log tells"
	shift 2
	for mod_re; do
		desc=${mod_re#*: }
		desc=${desc//\\/}
		if [ -n "$NT_SYSLOG" ]; then
			nt_until 5 grep -Eq -- "$mod_re" <(nt_log_since)
			like "$(nt_log_since)" "$mod_re" "$what: pam_nook logs: $desc"
		else
			skip "$what: pam_nook logs: $desc" "syslog goes to an existing /dev/log"
		fi
	done
}

denied="Access denied for user $alice by PAM account configuration"
session_failed="pam_open_session\\(\\)|$denied"
mod="pam_nook\\(nook-test-sshd-[^)]*\\)"
# sshd carries on after a failed open_session: the module's setcred in the
# session's own process must end it.
ended="pam_nook\\(nook-test-sshd-[^)]*:setcred\\): '$alice' has no container \\(open_session failed\\); ending the session"

# ---- helper missing
nt_sshd_pam "conf=$conf" "helper=$NT_TMP/nt-no-such-helper"
refused "helper missing" "$denied" "$mod: helper $NT_TMP/nt-no-such-helper is missing"

# ---- helper writable by its group
install -m 0775 "$helper" "$NT_TMP/helper-gw"
nt_sshd_pam "conf=$conf" "helper=$NT_TMP/helper-gw"
refused "helper group-writable" "$denied" "$mod: helper $NT_TMP/helper-gw must be a root-owned"

# ---- helper not root's
install -m 0755 -o nobody "$helper" "$NT_TMP/helper-nobody"
nt_sshd_pam "conf=$conf" "helper=$NT_TMP/helper-nobody"
refused "helper not owned by root" "$denied" "$mod: helper $NT_TMP/helper-nobody must be a root-owned"

# ---- helper failing (a root-owned stand-in that exits 1)
printf '#!/bin/sh\nexit 1\n' >"$NT_TMP/helper-fail"
chmod 0755 "$NT_TMP/helper-fail"
nt_sshd_pam "conf=$conf" "helper=$NT_TMP/helper-fail"
refused "helper failing" "$session_failed" "$mod: $NT_TMP/helper-fail open $alice failed \\(status 1\\)" "$ended"

# ---- helper "succeeding" without starting anything
printf '#!/bin/sh\nexit 0\n' >"$NT_TMP/helper-noop"
chmod 0755 "$NT_TMP/helper-noop"
nt_sshd_pam "conf=$conf" "helper=$NT_TMP/helper-noop"
refused "helper that starts no container" "$session_failed" "$mod: cannot reach the container of '$alice'" "$ended"

# ---- configuration writable by others
nt_sshd_pam "conf=$conf" "helper=$helper"
chmod 0666 "$conf"
refused "config mode 0666" "$denied" "$mod: refusing '$alice'"
chmod 0644 "$conf"

# ---- configuration missing
nt_sshd_pam "conf=$NT_TMP/nt-missing.conf" "helper=$helper"
refused "config missing" "$denied" "$mod: refusing '$alice'"

# ---- repaired: alice gets in again; root was never affected
nt_sshd_pam "conf=$conf" "helper=$NT_TMP/nt-no-such-helper"
out=$(nt_ssh root hostname)
is "$out" "$(hostname)" "root is not affected by a broken installation"
nt_sshd_pam "conf=$conf" "helper=$helper"
out=$(nt_ssh "$alice" hostname)
is "$out" "box-$alice" "once repaired, the user logs in again (into the container)"

nt_sshd_cleanup
done_testing
