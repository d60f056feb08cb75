#!/bin/bash
# Escape attempts, part 1: what a containerized user's own processes can do
# to gain privilege, logged in over a real sshd. No capabilities; setuid
# binaries grant nothing; no nested user namespace; no mount; keyctl, bpf,
# userfaultfd, perf_event_open, io_uring, open_by_handle_at and friends are
# refused by the filter (EPERM); TIOCSTI and TIOCLINUX too, also with high
# bits set in the request; no device nodes; /proc and /sys knobs are not
# writable; kernel information is masked; dmesg is refused; environment sent
# by the client (ssh -o SetEnv) reaches neither the shell nor the helper.
#
# Each check asserts that the isolation held, and a control shows that the
# same probe does work where nothing stops it (on the host, as the user or
# as root), so that no check passes because its probe is broken. The probes
# are escape-probe.py, copied into the user's home.
# Commands for the container are single-quoted on purpose: they expand inside.
# shellcheck disable=SC2016
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=sshd.sh
. "$(dirname "$0")/sshd.sh"
require_root
command -v runuser >/dev/null || bail "runuser is needed for the host-side controls"
cd / || bail "cd /"

nt_user; alice=$NT_USER
auid=$(id -u "$alice")
conf=$NT_TMP/a.conf
nt_config "$conf" hostname=box-%u
nt_sshd_start "$conf"
nt_ssh_key "$alice"
# shellcheck source-path=SCRIPTDIR source=escape.sh
. "$NT_REPO/tests/integration/escape.sh"

# host_user ARG...: the probe on the host as the user (no container, no
# filter, no no_new_privs): the control for what an unprivileged process
# may do when nothing stops it.
host_user()
{
	timeout -k 5 30 runuser -u "$alice" -- "$NT_PY" "$probe" "$@" </dev/null 2>&1
}

# host_root ARG...: the probe as host root in a private mount namespace.
host_root()
{
	timeout -k 5 30 unshare -m --propagation private "$NT_PY" "$probe" "$@" </dev/null 2>&1
}

# A scratch directory each side may write to (mknod, mount targets).
install -d -m 0700 -o "$alice" "$NT_TMP/scratch-user"
install -d -m 0700 "$NT_TMP/scratch-root"

nt_ssh_in "$alice" 'cat >~/escape-probe.py && mkdir -p ~/scratch && hostname' <"$probe" >"$NT_TMP/setup.out" 2>&1
is "$?:$(cat "$NT_TMP/setup.out")" "0:box-$alice" "setup: the user logs in (into the container) and gets the probe"

# ---------------------------------------------------------------- capabilities

out=$(nt_ssh "$alice" 'sed -E "s/:[[:space:]]+/=/" /proc/$$/status; true')
for k in CapEff CapPrm CapBnd CapAmb CapInh; do
	is "$(field "$k" "$out")" 0000000000000000 "capabilities: $k of the session's shell is empty"
done
is "$(field NoNewPrivs "$out")" 1 "capabilities: no_new_privs is set"
is "$(field Seccomp "$out")" 2 "capabilities: a seccomp filter is on"
printf '%s\n' 'sed -E "s/^(Cap[a-zA-Z]+):[[:space:]]+/\1=/" /proc/$$/status' exit |
	nt_ssh_in "$alice" -tt >"$NT_TMP/login.out" 2>&1
login=$(tr -d '\r' <"$NT_TMP/login.out")
caps=
for k in CapEff CapPrm CapBnd CapAmb CapInh; do
	caps+="$k=$(field "$k" "$login") "
done
is "$caps" "CapEff=0000000000000000 CapPrm=0000000000000000 CapBnd=0000000000000000 CapAmb=0000000000000000 CapInh=0000000000000000 " \
	"capabilities: all five sets are empty in an interactive login shell on a pty too"
host=$(sed -E "s/:[[:space:]]+/=/" /proc/$$/status)
isnt "$(field CapEff "$host")" 0000000000000000 "control: the same parsing finds host root's CapEff ($(field CapEff "$host"))"

# ---------------------------------------------------------------- setuid

# A setuid-root `id` where the container sees it (the host's /opt, in
# the lower layer).
sdir=/opt/nt-escape-$NT_ID
[ -d /opt ] || sdir=/srv/nt-escape-$NT_ID
nt_path "$sdir"
install -d -m 0755 "$sdir"
install -m 4755 -o root -g root "$(command -v id)" "$sdir/suid-id"
out=$(timeout -k 5 10 runuser -u "$alice" -- "$sdir/suid-id" -u 2>&1)
is "$out" 0 "control: on the host the setuid-root copy of id gives the user euid 0"
# NAME:PATH:ARGS, each run with its euid read while it waits for input.
setuid_progs=('su:/usr/bin/su:root,-c,true' passwd:/usr/bin/passwd: newgrp:/usr/bin/newgrp:root
	chsh:/usr/bin/chsh: 'sudo:/usr/bin/sudo:-S,true' mount:/usr/bin/mount:)
host=$(host_user setuid "${setuid_progs[@]}")
is "$(field su "$host")" 0 "control: on the host su runs with euid 0 for the user (the probe sees elevation)"

out=$(nt_ssh "$alice" "echo \"copy=\$($sdir/suid-id -u 2>&1)\"
	cp $sdir/suid-id ~/suid-copy && chmod u+s ~/suid-copy && echo \"home=\$(~/suid-copy -u 2>&1)\"
	python3 ~/escape-probe.py setuid ${setuid_progs[*]}")
is "$(field copy "$out")" "$auid" "setuid: the host's setuid-root binary gives no euid 0 inside (euid stays $auid)"
is "$(field home "$out")" "$auid" "setuid: a setuid copy in ~ gives nothing either"
for p in su passwd newgrp chsh sudo mount; do
	v=$(field "$p" "$out")
	if [ "$v" = absent ]; then
		skip "setuid: $p gives no euid 0 inside" "no $p on this host"
	else
		is "$v" "$auid" "setuid: /usr/bin/$p runs with the user's euid inside, not 0"
	fi
done

# ---------------------------------------------------------------- syscalls

host=$(host_user syscalls "$NT_TMP/scratch-user")
rhost=$(host_root syscalls "$NT_TMP/scratch-root")
inside=$(nt_ssh "$alice" 'python3 ~/escape-probe.py syscalls ~/scratch')
[ -n "$inside" ] || diag "no output from the syscall probe inside"

# refused NAME HOW WHY: NAME must be EPERM inside, and not EPERM in the
# control (HOW: user or root on the host).
refused()
{
	local name=$1 how=$2 why=$3 i c

	i=$(field "$name" "$inside")
	if [ "$how" = root ]; then c=$(field "$name" "$rhost"); else c=$(field "$name" "$host"); fi
	if [ "$i" = EPERM ] && [ -n "$c" ] && [ "$c" != EPERM ]; then
		ok 0 "$why: $name is refused inside (EPERM; host as $how: $c)"
		return
	fi
	ok 1 "$why: $name is refused inside (EPERM; host as $how: not EPERM)"
	diag "inside: '$i', host as $how: '$c'"
}

refused keyctl user "kernel keyring"
refused add_key user "kernel keyring"
refused request_key user "kernel keyring"
refused bpf user "bpf"
refused userfaultfd user "userfaultfd"
refused perf_event_open user "perf"
refused io_uring_setup user "io_uring"
refused io_uring_enter user "io_uring"
refused io_uring_register user "io_uring"
# Root as the control: before 6.13 the kernel itself refuses a user
# (CAP_DAC_READ_SEARCH) before it looks at the fd, so only root shows that
# the call gets through where seccomp does not stop it (Debian 12: 6.1).
refused open_by_handle_at root "file handles (shocker)"
refused name_to_handle_at user "file handles"
refused personality_no_aslr user "personality(ADDR_NO_RANDOMIZE)"
refused socket_vsock user "AF_VSOCK"
is "$(field clone3 "$inside"):$(field clone3 "$host")" "ENOSYS:EINVAL" \
	"clone3 answers ENOSYS inside (libc falls back to clone; host: EINVAL)"
i=$(field x32_getpid "$inside")
c=$(field x32_getpid "$host")
[ "$i" = SIG31 ] && [[ $c != SIG* ]]
ok $? "a syscall of the x32 ABI kills the process inside (SIGSYS: $i; host: $c)"

# ---------------------------------------------------------------- nested user namespaces

refused unshare_user user "nested user namespace: unshare(CLONE_NEWUSER)"
refused clone_newuser user "nested user namespace: clone(CLONE_NEWUSER)"
refused setns root "namespaces: setns"
out=$(timeout -k 5 10 runuser -u "$alice" -- unshare -Ur id -u 2>&1)
if [ "$out" = 0 ]; then
	ok 0 "control: on the host the user may run unshare -Ur (id -u gives 0 in it)"
else
	skip "control: on the host the user may run unshare -Ur" "this host forbids it ($out)"
fi
out=$(nt_ssh "$alice" 'unshare -U true 2>&1; echo "U=$?"; unshare -Ur id -u 2>&1; echo "Ur=$?"')
failed "nested user namespace: unshare -U fails inside" "$(field U "$out")"
failed "nested user namespace: unshare -Ur fails inside" "$(field Ur "$out")"
! grep -qx 0 <<<"$out"
ok $? "nested user namespace: ... and never gives uid 0 ($(tr '\n' ' ' <<<"$out"))"

# ---------------------------------------------------------------- mount

refused mount root "mount"
refused umount2 root "mount"
refused fsopen root "mount"
refused open_tree root "mount"
refused unshare_mnt root "mount namespace"
out=$(nt_ssh "$alice" 'mkdir -p /tmp/x; mount -t tmpfs x /tmp/x 2>/dev/null; echo "tmpfs=$?"
	umount "$HOME" 2>/dev/null; echo "home=$?"
	umount /etc/shadow 2>/dev/null; echo "shadow=$?"
	umount -l /proc/kallsyms 2>/dev/null; echo "kallsyms=$?"
	mount -t cgroup -o memory cg /tmp/x 2>/dev/null; echo "cgroup=$?"
	echo "mounts=$(grep -c " /tmp/x " /proc/self/mountinfo)"
	echo "homemnt=$(grep -c " $HOME " /proc/self/mountinfo)"
	echo "masks=$(stat -c %t:%T /etc/shadow /proc/kallsyms | tr "\n" " ")"')
for k in tmpfs home shadow kallsyms cgroup; do
	failed "mount: the mount/umount command ($k) fails inside" "$(field "$k" "$out")"
done
is "$(field mounts "$out")" 0 "mount: nothing got mounted on /tmp/x"
is "$(field homemnt "$out")" 1 "mount: the home is still mounted"
is "$(field masks "$out")" "1:3 1:3 " "mount: the masks of /etc/shadow and /proc/kallsyms are still in place"

# ---------------------------------------------------------------- device nodes

refused mknod_chr_mem root "device nodes: mknod of /dev/mem's major:minor"
refused mknod_blk_loop root "device nodes: mknod of a block device (loop0)"
out=$(nt_ssh "$alice" 'mknod ~/scratch/blk b 7 0 2>/dev/null; echo "mknod=$?"
	echo "blk=[$(find /dev -xdev -type b 2>/dev/null | tr "\n" " ")]"
	echo "chr=$(find /dev -path /dev/pts -prune -o -type c -print 2>/dev/null | sort | tr "\n" " ")"
	for d in /dev/sda /dev/vda /dev/nvme0n1 /dev/loop0 /dev/loop-control /dev/mem /dev/kmem /dev/port /dev/kmsg /dev/console /dev/tty0 /dev/fuse /dev/net/tun; do
		[ -e "$d" ] && echo "present=$d"
	done; echo present=none')
failed "device nodes: mknod(1) of a block device fails inside" "$(field mknod "$out")"
is "$(field blk "$out")" "[]" "device nodes: /dev has no block device inside"
[ -n "$(find /dev -xdev -type b 2>/dev/null | head -n1)" ]
ok $? "control: the same find lists block devices on the host"
is "$(field present "$out")" none "device nodes: no sda/vda/nvme/loop/mem/kmem/port/kmsg/console/tty0/fuse/tun inside"
chr=$(field chr "$out")
extra=$(tr ' ' '\n' <<<"$chr" | grep -Ev '^(/dev/(null|zero|full|random|urandom|tty|ptmx))?$')
[[ $chr == */dev/null* ]] && [ -z "$extra" ]
ok $? "device nodes: the only char devices are null zero full random urandom tty ptmx ($chr)"

# ---------------------------------------------------------------- TIOCSTI, TIOCLINUX

out=$(nt_ssh "$alice" -tt 'python3 ~/escape-probe.py tiocsti 0' 2>&1 | tr -d '\r')
is "$(field ctty "$out")" yes "TIOCSTI: the probe runs on the session's own pty, its controlling terminal"
for t in TIOCSTI:tiocsti:0x5412 TIOCSTI:tiocsti_hi:0x100005412 TIOCSTI:tiocsti_hi2:0xffffffff00005412 \
	TIOCLINUX:tioclinux:0x541c TIOCLINUX:tioclinux_hi:0x10000541c; do
	IFS=: read -r what k req <<<"$t"
	is "$(field "$k" "$out")" EPERM "$what: the request $req on the session's pty is refused inside (EPERM)"
done
host=$(timeout -k 5 10 "$NT_PY" "$probe" tiocsti_pty 2>&1)
is "$(field tiocsti_hi_pty "$host")" Q "control: on the host, TIOCSTI with high bits (0x100005412) pushes input into a pty"

# ---------------------------------------------------------------- kernel information

kpaths=(/proc/kcore /proc/kallsyms /proc/keys /proc/timer_list /proc/sched_debug /proc/kmsg
	/proc/sysrq-trigger /proc/latency_stats /proc/timer_stats /sys/kernel/debug /sys/firmware)
out=$(nt_ssh "$alice" "python3 ~/escape-probe.py masked ${kpaths[*]}
	echo \"kallsyms_nonzero=\$(awk '\$1 !~ /^0+\$/' /proc/kallsyms 2>/dev/null | grep -c .)\"
	dmesg >/dev/null 2>&1; echo \"dmesg=\$?\"")
host=$(timeout -k 5 30 "$NT_PY" "$probe" masked "${kpaths[@]}" 2>&1)
for p in "${kpaths[@]}"; do
	i=$(field "$p" "$out")
	h=$(field "$p" "$host")
	if [[ $i =~ ^(null|absent|empty-dir)$ ]]; then
		ok 0 "kernel info: $p is masked or absent inside ($i; host: $h)"
	else
		ok 1 "kernel info: $p is masked or absent inside"
		diag "inside: '$i', host: '$h'"
	fi
done
is "$(field kallsyms_nonzero "$out")" 0 "kernel info: /proc/kallsyms shows no kernel address inside"
[ "$(awk '$1 !~ /^0+$/' /proc/kallsyms | grep -c .)" -gt 0 ]
ok $? "control: host root's /proc/kallsyms does show addresses"
failed "kernel info: dmesg fails inside" "$(field dmesg "$out")"
is "$(field syslog "$inside")" EPERM "kernel info: the syslog syscall is refused inside (EPERM)"
isnt "$(field syslog "$rhost")" EPERM "control: host root reads the kernel log size with the same call"
if [ -e /proc/timer_list ]; then
	[ -s /proc/timer_list ] || [ "$(head -c 100 /proc/timer_list | wc -c)" -gt 0 ]
	ok $? "control: host root's /proc/timer_list is not empty"
fi

# ---------------------------------------------------------------- /proc and /sys writes

core_before=$(cat /proc/sys/kernel/core_pattern)
# Harmless values: core_pattern gets a marker (checked and restored below),
# sysrq 'h' only prints help, the others get their own value back and an
# invalid binfmt rule.
out=$(nt_ssh "$alice" "python3 ~/escape-probe.py writes /proc/sys/kernel/core_pattern=nt-core-$NT_ID \
	/proc/sysrq-trigger=h \"/sys/kernel/uevent_helper=\$(cat /sys/kernel/uevent_helper 2>/dev/null)\" \
	\"/proc/sys/kernel/hotplug=\$(cat /proc/sys/kernel/hotplug 2>/dev/null)\" \
	\"/proc/sys/kernel/modprobe=\$(cat /proc/sys/kernel/modprobe 2>/dev/null)\" \
	/proc/sys/fs/binfmt_misc/register=nt \
	/sys/kernel/mm/ksm/run=\$(cat /sys/kernel/mm/ksm/run 2>/dev/null)")
core_after=$(cat /proc/sys/kernel/core_pattern)
for p in /proc/sys/kernel/core_pattern /proc/sysrq-trigger /sys/kernel/uevent_helper /proc/sys/kernel/hotplug \
	/proc/sys/kernel/modprobe /proc/sys/fs/binfmt_misc/register \
	/sys/kernel/mm/ksm/run; do
	v=$(field "$p" "$out")
	like "$v" '^(EROFS|EACCES|EPERM|ENOENT|null)$' "/proc, /sys: writing $p is refused inside ($v)"
done
is "$core_after" "$core_before" "/proc, /sys: the host's core_pattern is unchanged"
if [ "$core_after" != "$core_before" ]; then
	printf '%s\n' "$core_before" >/proc/sys/kernel/core_pattern
fi
host=$(timeout -k 5 10 "$NT_PY" "$probe" writes "/proc/sys/kernel/core_pattern=$core_before" 2>&1)
is "$(field /proc/sys/kernel/core_pattern "$host")" ok "control: host root can write core_pattern (its own value back)"

# ---------------------------------------------------------------- environment from the client

# LD_PRELOAD: a library that leaves a line in a log only host root can
# write (so only a host process running as root could), and says so on
# stderr where it cannot (inside).
preload=
if command -v cc >/dev/null; then
	cat >"$NT_TMP/preload.c" <<-EOF
		#include <fcntl.h>
		#include <stdio.h>
		#include <string.h>
		#include <unistd.h>
		__attribute__((constructor)) static void nt_preload(void)
		{
			char line[128];
			int fd = open("$sdir/preload.log", O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

			if (fd < 0) {
				static const char m[] = "nt-preloaded\n";
				(void) !write(2, m, sizeof(m) - 1);
				return;
			}
			snprintf(line, sizeof(line), "euid %d pid %d\n", (int) geteuid(), (int) getpid());
			(void) !write(fd, line, strlen(line));
			close(fd);
		}
	EOF
	if timeout 60 cc -shared -fPIC -o "$sdir/preload.so" "$NT_TMP/preload.c" 2>"$NT_TMP/cc.out"; then
		chmod 0755 "$sdir/preload.so"
		preload=$sdir/preload.so
	else
		diag "$(cat "$NT_TMP/cc.out")"
	fi
fi
if [ -n "$preload" ]; then
	env LD_PRELOAD="$preload" /bin/true
	[ -s "$sdir/preload.log" ]
	ok $? "control: the preload library leaves its line when a host root process loads it"
	: >"$sdir/preload.log"
else
	skip "control: the preload library works on the host" "no C compiler"
fi
lib=${preload:-/tmp/nt-none.so}

# The default sshd (no AcceptEnv): nothing the client sets arrives.
out=$(nt_ssh "$alice" -o "SetEnv=LD_PRELOAD=$lib LD_LIBRARY_PATH=/tmp/nt-lib NT_PROBE=nt-$NT_ID" \
	'echo "host=$(hostname)"; env | sed "s/^/env:/"' 2>&1)
is "$(field host "$out")" "box-$alice" "environment: a login with SetEnv=LD_PRELOAD works, in the container"
grep -q '^env:PATH=' <<<"$out" && ! grep -Eq '^env:(LD_PRELOAD|LD_LIBRARY_PATH|NT_PROBE)=' <<<"$out"
ok $? "environment: LD_PRELOAD, LD_LIBRARY_PATH (and any SetEnv) do not reach the shell (env listed, without them)"
grep -q '^env:PATH=' <<<"$out" && ! grep -q nt-preloaded <<<"$out"
ok $? "environment: ... and the library is not loaded by the session"

# A permissive sshd that accepts them: they reach the user's own shell,
# never the helper, the keeper or the module (all host root).
nt_sshd_start "$conf" "AcceptEnv LD_PRELOAD LD_LIBRARY_PATH NT_PROBE"
nt_until 10 nt_not_running "$alice"
nt_not_running "$alice"
ok $? "environment: the container is stopped, so the next login builds it (helper and keeper run)"
out=$(nt_ssh "$alice" -o "SetEnv=LD_PRELOAD=$lib LD_LIBRARY_PATH=/tmp/nt-lib NT_PROBE=nt-$NT_ID" \
	'echo "host=$(hostname)"; echo "probe=$NT_PROBE"; echo "pre=$LD_PRELOAD"' 2>&1)
is "$(field host "$out")" "box-$alice" "environment: with AcceptEnv LD_PRELOAD the login still works, in the container"
is "$(field probe "$out")" "nt-$NT_ID" "control: with AcceptEnv, SetEnv does reach the shell"
if [ -n "$preload" ]; then
	like "$out" nt-preloaded "control: ... and the library is loaded by the user's own processes inside"
	is "$(cat "$sdir/preload.log")" "" "environment: no process running as host root (sshd's monitor, pam_nook, helper, keeper) loaded it"
else
	skip "control: the library is loaded inside" "no C compiler"
	skip "environment: no host root process loaded the library" "no C compiler"
fi
nt_sshd_use 1

nt_sshd_cleanup
done_testing
