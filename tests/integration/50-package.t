#!/bin/bash
# The Debian package (issue 15), as an admin uses it: apt installs it and
# no login changes; `pam-auth-update --enable nook` plus a selected user
# puts that user's ssh login into a container (with Debian's own
# /etc/pam.d/sshd, unchanged); an upgrade with a session open keeps the
# session; `--disable` gives host logins back; `apt remove` refuses while a
# container runs and then leaves the images; `apt purge` removes the
# configuration, keeps the images and says where they are.
#
# It installs a package system-wide and rewrites /etc/pam.d/common-*, so it
# runs only in a throwaway guest (make check-vm: NOOK_TEST_DISRUPTIVE=1 and
# NOOK_DEB, the .deb that `make deb` built on the host). The "previous
# build" for the upgrade is that same .deb with a lower version.
# Commands for the container are single-quoted on purpose: they expand inside.
# shellcheck disable=SC2016
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=sshd.sh
. "$(dirname "$0")/sshd.sh"

[ "${NOOK_TEST_DISRUPTIVE:-}" = 1 ] ||
	nt_skip_all "installs the Debian package system-wide: only in a throwaway guest (make check-vm)"
[ -n "${NOOK_DEB:-}" ] ||
	nt_skip_all "no package to test: make check-vm builds one (make deb) and sets NOOK_DEB"
require_root
cd / || bail "cd /"
[ -f "$NOOK_DEB" ] || bail "NOOK_DEB=$NOOK_DEB: no such file"
if dpkg-query -W -f='${Status}' nook 2>/dev/null | grep -q installed; then
	bail "the package nook is already installed here; this test installs and purges it"
fi

installed() { dpkg-query -W -f='${Status}' nook 2>/dev/null | grep -q 'ok installed'; }
pam_lines() { grep -h 'pam_nook' /etc/pam.d/common-auth /etc/pam.d/common-account /etc/pam.d/common-session 2>/dev/null; }
host_pidns=$(readlink /proc/self/ns/pid)
# The pid namespace the user's ssh session runs in (host or container).
session_pidns() { nt_ssh "$1" 'readlink /proc/self/ns/pid'; }

nt_user; alice=$NT_USER
dropin=/etc/nook/nook.conf.d/$NT_CG.conf
image=/var/lib/nook/images/$alice.img

# Whatever happens, the system ends as it was: no package, no PAM lines.
# Runs in front of sshd.sh's cleanup (which then runs lib.sh's).
# shellcheck disable=SC2317 # run by the EXIT trap
pkg_cleanup()
{
	local rc=$?

	[ -x /usr/sbin/nookctl ] && /usr/sbin/nookctl stop "$alice" >/dev/null 2>&1
	rm -f "$dropin" "$image"
	if dpkg-query -W -f='${Status}' nook 2>/dev/null | grep -qv not-installed; then
		pam-auth-update --package --remove nook >/dev/null 2>&1
		dpkg --purge nook >/dev/null 2>&1
	fi
	_nt_status "$rc"
	_nt_sshd_on_exit
}

# The previous build: the same package, a lower version.
ver=$(dpkg-deb -f "$NOOK_DEB" Version)
dpkg-deb -R "$NOOK_DEB" "$NT_TMP/prev" || bail "dpkg-deb -R $NOOK_DEB"
sed -i "s/^Version: .*/Version: $ver~prev1/" "$NT_TMP/prev/DEBIAN/control"
dpkg-deb -b "$NT_TMP/prev" "$NT_TMP/nook_prev.deb" >/dev/null || bail "dpkg-deb -b"

# sshd first (it hooks its cleanup into the EXIT trap), then ours in front.
nt_sshd_start /etc/nook/nook.conf
nt_ssh_key "$alice"
[ "$(trap -p EXIT)" = "trap -- '_nt_sshd_on_exit' EXIT" ] || bail "sshd.sh's EXIT trap is not the expected one"
trap 'pkg_cleanup' EXIT
# The sshd copy gets Debian's own PAM file for sshd, unchanged: pam_nook
# comes in only through the common-* files that pam-auth-update writes.
cp /etc/pam.d/sshd "$NT_SSHD_PAM"
grep -q pam_nook "$NT_SSHD_PAM" && bail "/etc/pam.d/sshd already names pam_nook"

# ---- install
before=$(md5sum /etc/pam.d/common-* | sort)
out=$(DEBIAN_FRONTEND=noninteractive apt-get install -y "$NT_TMP/nook_prev.deb" 2>&1)
ok $? "apt-get install ./nook_$ver~prev1.deb installs the package" || diag "$out"
is "$(dpkg-query -W -f='${Version}' nook)" "$ver~prev1" "... that version is installed"
is "$(stat -c '%a %U' /usr/libexec/nook/nook-helper)" "4755 root" "nook-helper is setuid root"
is "$(stat -c '%a %U' /var/lib/nook/images)" "700 root" "/var/lib/nook/images is root's, 0700"
is "$(stat -c '%a %U' /run/nook 2>&1)" "755 root" "/run/nook made by tmpfiles.d"
is "$(md5sum /etc/pam.d/common-* | sort)" "$before" "installing changes no PAM file (the profile is off)"
[ -f /usr/share/pam-configs/nook ]
ok $? "the pam-auth-update profile is installed"

printf '[default]\nusers = %s\nimage_size = 64M\n' "$alice" >"$dropin"
[ "$NT_SYSTEMD" = 1 ] && printf 'systemd_slice = %s\n' "$NT_SLICE" >>"$dropin"
is "$(session_pidns "$alice")" "$host_pidns" "selected but the profile off: ssh login on the host"

# ---- enable
out=$(pam-auth-update --enable nook 2>&1)
ok $? "pam-auth-update --enable nook" || diag "$out"
like "$(grep pam_nook /etc/pam.d/common-auth)" '^auth[[:space:]]+optional[[:space:]]+pam_nook\.so' "common-auth: auth optional pam_nook.so"
like "$(grep pam_nook /etc/pam.d/common-account)" '^account[[:space:]]+required[[:space:]]+pam_nook\.so' "common-account: account required pam_nook.so"
last=$(grep -E '^session[[:space:]]' /etc/pam.d/common-session | tail -n1)
like "$last" 'pam_nook\.so' "common-session: pam_nook is the last session line (after pam_systemd)" ||
	diag "$(cat /etc/pam.d/common-session)"
if grep -q pam_systemd /etc/pam.d/common-session; then
	awk '/pam_systemd/ { s = NR } /pam_nook/ { n = NR } END { exit !(s && n > s) }' /etc/pam.d/common-session
	ok $? "... and comes after pam_systemd"
fi
! grep -q pam_nook /etc/pam.d/common-session-noninteractive
ok $? "common-session-noninteractive (cron, sudo, systemd --user) is left alone"
grep -q pam_nook /etc/pam.d/common-auth && [ "$(grep -cE '^auth' /etc/pam.d/common-auth)" -gt 1 ] &&
	[ "$(grep -E '^auth' /etc/pam.d/common-auth | tail -n1 | grep -c pam_nook)" = 1 ]
ok $? "common-auth: pam_nook is the last auth line (sshd's setcred enters there)"

in_ns=$(session_pidns "$alice")
isnt "$in_ns" "$host_pidns" "enabled: alice's ssh login runs in another pid namespace"
isnt "$in_ns" "" "... which it printed"
[ -f "$image" ]
ok $? "her home image is in /var/lib/nook/images"

# ---- upgrade with a session open
nt_ssh_bg "$NT_TMP/bg.out" "$alice" 'while :; do echo tick; sleep 0.3; done'
bg=$NT_SSH_BG
nt_until 60 grep -q tick "$NT_TMP/bg.out"
ok $? "a session is open" || diag "$(cat "$NT_TMP/bg.out")"
out=$(nookctl status "$alice" 2>&1)
like "$out" "$alice: running" "nookctl (the package's) shows alice's container running" || diag "$out"
init1=$(nookctl status "$alice" | sed -n 's/.*init pid: *\([0-9]*\).*/\1/p')
out=$(DEBIAN_FRONTEND=noninteractive apt-get install -y "$NOOK_DEB" 2>&1)
ok $? "upgrade: apt-get install ./nook_$ver.deb over $ver~prev1" || diag "$out"
is "$(dpkg-query -W -f='${Version}' nook)" "$ver" "... $ver is installed"
n=$(grep -c tick "$NT_TMP/bg.out")
nt_until 30 sh -c "[ \$(grep -c tick '$NT_TMP/bg.out') -gt $n ]"
ok $? "the open session keeps running after the upgrade"
is "$(nookctl status "$alice" | sed -n 's/.*init pid: *\([0-9]*\).*/\1/p')" "$init1" "... in the same container (init $init1)"
like "$(pam_lines | tr '\n' ' ')" 'pam_nook.*pam_nook.*pam_nook' "the profile stays enabled across the upgrade"
is "$(session_pidns "$alice")" "$in_ns" "a new login after the upgrade joins that container"

# ---- disable
out=$(pam-auth-update --disable nook 2>&1)
ok $? "pam-auth-update --disable nook" || diag "$out"
is "$(pam_lines)" "" "no pam_nook line is left in common-*"
is "$(session_pidns "$alice")" "$host_pidns" "disabled: alice's ssh login is on the host again"
out=$(pam-auth-update --enable nook 2>&1) || bail "re-enable: $out"

# ---- remove
out=$(DEBIAN_FRONTEND=noninteractive apt-get remove -y nook 2>&1)
rc=$?
isnt "$rc" 0 "apt-get remove refuses while alice's container runs"
like "$out" "containers are running for: $alice" "... and names her" || diag "$out"
like "$out" 'nookctl stop' "... and says how to stop it"
installed
ok $? "... the package stays installed"
like "$(pam_lines | tr '\n' ' ')" 'pam_nook' "... with its PAM lines"
nt_ssh_stop "$bg"
nookctl stop "$alice" >/dev/null 2>&1
nt_until 60 sh -c "! nookctl list | grep -q '^$alice '"
ok $? "nookctl stop alice"
out=$(DEBIAN_FRONTEND=noninteractive apt-get remove -y nook 2>&1)
ok $? "apt-get remove with no container running" || diag "$out"
! installed
ok $? "... removes the package"
is "$(pam_lines)" "" "... and its PAM lines (pam-auth-update)"
is "$(session_pidns "$alice")" "$host_pidns" "after remove: alice's ssh login is on the host"
[ -f /etc/nook/nook.conf ] && [ -f "$image" ]
ok $? "... the configuration and her image are kept"

# ---- purge
rm -f "$dropin"
out=$(DEBIAN_FRONTEND=noninteractive apt-get purge -y nook 2>&1)
ok $? "apt-get purge" || diag "$out"
[ ! -e /etc/nook ]
ok $? "... removes /etc/nook" || diag "$(find /etc/nook 2>&1)"
[ -f "$image" ]
ok $? "... keeps her home image"
like "$out" "kept the users' home images: 1 in /var/lib/nook/images" "... and says where it is"
status=$(dpkg-query -W -f='${Status}' nook 2>/dev/null)
[ -z "$status" ] || [[ $status == *not-installed* ]]
ok $? "... nothing of the package is left (dpkg: '$status')"
rm -f "$image"
rmdir /var/lib/nook/images /var/lib/nook 2>/dev/null

nt_sshd_cleanup
done_testing
