#!/bin/bash
# nook-helper is setuid root, so any local user can exec it with whatever
# argv, environment, fds, signals and rlimits they like. A plain user must be
# refused cleanly (an exit code, no crash, no hang) with nothing created: no
# /run/nook/<user>, no image, no cgroup, no keeper. Root, the one allowed
# caller, gets argument errors refused the same way and still gets a
# container, even from a hostile-looking state. An unsafely installed copy
# refuses to run at all.
# shellcheck source-path=SCRIPTDIR source=lib.sh
# shellcheck disable=SC2016 # the single-quoted scripts expand in the shell they start
. "$(dirname "$0")/lib.sh"
require_root
command -v gcc >/dev/null || bail "gcc is needed to build the test's probes"
command -v runuser >/dev/null || bail "runuser is needed to run as a plain user"

src_helper=$(realpath "$NOOK_BUILD/nook-helper")
NOOKCTL=$(realpath "$NOOKCTL")
cd / || bail "cd /"

nt_user; mallory=$NT_USER # the hostile caller
nt_user; victim=$NT_USER  # whose container mallory asks for
nt_user; carol=$NT_USER   # whose container root asks for, at the end
muid=$(id -u "$mallory")
conf=$NT_TMP/good.conf
nt_config "$conf" linger=30s

# A root-owned 0755 directory with the setuid copy, as `make install` puts it.
bin=$NT_TMP/bin
mkdir -m 0755 "$bin"
helper=$bin/nook-helper
install -o root -g root -m 4755 "$src_helper" "$helper"

# The probes: a setuid-root euid printer (is setuid effective here at all?),
# an exec with an empty argv, and a library that leaves a marker when any
# program loads it (preload, audit or library path).
drop=$NT_TMP/drop
mkdir -m 0755 "$drop"
chown "$mallory" "$drop"
marker=$drop/loaded
cat >"$NT_TMP/euid.c" <<'EOF'
#include <stdio.h>
#include <unistd.h>
int main(void) { printf("%u\n", (unsigned) geteuid()); return 0; }
EOF
cat >"$NT_TMP/noargv.c" <<'EOF'
#include <unistd.h>
/* execve with argc 0 (CVE-2021-4034) and pkexec's environment trick. */
int main(int argc, char **argv)
{
	char *none[] = { NULL };
	char *env[] = { "GCONV_PATH=.", "CHARSET=NT-EVIL", "SHELL=/nt/evil", NULL };

	if (argc < 2)
		return 64;
	execve(argv[1], none, env);
	return 127;
}
EOF
cat >"$NT_TMP/evil.c" <<EOF
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
__attribute__((constructor)) static void nt_evil(void)
{
	int fd = open("$marker", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

	if (fd >= 0) {
		dprintf(fd, "loaded: uid %u euid %u\n", (unsigned) getuid(), (unsigned) geteuid());
		close(fd);
	}
}
/* Makes it a valid LD_AUDIT module too. */
unsigned la_version(unsigned v) { return v; }
EOF
mkdir -m 0755 "$NT_TMP/lib"
if ! gcc -O1 -o "$NT_TMP/euid" "$NT_TMP/euid.c" ||
	! gcc -O1 -o "$NT_TMP/noargv" "$NT_TMP/noargv.c" ||
	! gcc -O1 -shared -fPIC -o "$NT_TMP/lib/libnt-evil.so" "$NT_TMP/evil.c"; then
	bail "cannot build the probes"
fi
evil=$NT_TMP/lib/libnt-evil.so
install -o root -g root -m 4755 "$NT_TMP/euid" "$bin/euid"

# as_mallory CMD...: CMD as the plain user, bounded.
as_mallory()
{
	timeout -k 5 20 runuser -u "$mallory" -- "$@"
}

# nothing_created DESC: none of what an open would create exists for the
# users in watch, nor the evil image dir, nor the marker.
watch=("$victim" "$mallory" "$carol")
nothing_created()
{
	local u f c left=

	for u in "${watch[@]}"; do
		[ -e "/run/nook/$u" ] && left+=" /run/nook/$u"
		[ -e "$NT_TMP/images/$u.img" ] && left+=" $NT_TMP/images/$u.img"
		[ -e "/var/lib/nook/images/$u.img" ] && left+=" /var/lib/nook/images/$u.img"
		left+=$(nt_cg_left "$u")
		for f in /proc/[0-9]*/comm; do
			read -r c 2>/dev/null <"$f" || continue
			[ "$c" = nook-keeper ] || continue
			f=${f%/comm}
			[[ $(tr '\0' ' ' 2>/dev/null <"$f/cmdline") == *"nook-keeper $u"* ]] && left+=" keeper:${f#/proc/}"
		done
	done
	[ -e "/home/$mallory/evil-images" ] && left+=" /home/$mallory/evil-images"
	[ -e "$marker" ] && left+=" $marker"
	is "$left" "" "$1: nothing was created (run dir, image, cgroup, keeper, marker)"
}

# refused DESC WANT-RC ERE CMD...: CMD exits WANT-RC (so: no crash, no hang),
# its output matches ERE, and nothing was created.
refused()
{
	local desc=$1 want=$2 ere=$3 out rc

	shift 3
	out=$("$@" 2>&1 </dev/null)
	rc=$?
	is "$rc" "$want" "$desc: refused with exit code $want"
	like "$out" "$ere" "$desc: the message says why"
	nothing_created "$desc"
}

# shown STRING: a hostile argument fit for a test description.
shown()
{
	local s=${1:0:24}

	printf '%s' "${s//[^[:print:]]/?}"
}

not_root="refused \\(real uid $muid\\): only root may use nook-helper"
usage="usage: nook-helper"

# ---- controls: the tests below can fail
is "$(as_mallory "$bin/euid")" 0 "control: a setuid-root program gets euid 0 here (no nosuid mount)" ||
	bail "setuid does not take effect under $NT_TMP; nothing below would mean anything"
as_mallory env LD_PRELOAD="$evil" /bin/true
[ -s "$marker" ]
ok $? "control: LD_PRELOAD of the evil library leaves its marker in a plain program"
rm -f "$marker"
as_mallory env LD_LIBRARY_PATH="$NT_TMP/lib" LD_PRELOAD=libnt-evil.so /bin/true
[ -s "$marker" ]
ok $? "control: LD_LIBRARY_PATH plus a bare LD_PRELOAD name also loads it"
rm -f "$marker"
as_mallory env LD_AUDIT="$evil" /bin/true
[ -s "$marker" ]
ok $? "control: so does LD_AUDIT"
rm -f "$marker"
nothing_created "control: before any call"

# ---- a plain user, plain mistakes and probes
refused "no arguments" 1 "$not_root" as_mallory "$helper"
refused "wrong subcommand" 1 "$not_root" as_mallory "$helper" --config "$conf" close "$victim"
refused "open another user's container" 1 "$not_root" as_mallory "$helper" --config "$conf" open "$victim"
refused "open one's own container" 1 "$not_root" as_mallory "$helper" --config "$conf" open "$mallory"
refused "open with the default config" 1 "$not_root" as_mallory "$helper" open "$mallory"
refused "open root" 1 "$not_root" as_mallory "$helper" --config "$conf" open root

# A config of mallory's own making: image_dir in mallory's home, the whole
# host as rootfs, a cgroup of ours.
printf '[default]\nusers = *\nimage_dir = %s\nrootfs = /\ncgroup_root = ./%s\n' \
	"/home/$mallory/evil-images" "$NT_CG" >"/home/$mallory/evil.conf"
chown "$mallory" "/home/$mallory/evil.conf"
refused "--config pointing at a user-owned file" 1 "$not_root" \
	as_mallory "$helper" --config "/home/$mallory/evil.conf" open "$mallory"
refused "--config relative to a user-chosen cwd" 1 "$not_root" \
	as_mallory sh -c 'cd "$1" && exec "$0" --config evil.conf open "$2"' "$helper" "/home/$mallory" "$mallory"

for name in "../$victim" "$victim/../$mallory" "/etc/passwd" ".." "." "" "-n" "%n%n%s%s" \
	"$victim"$'\n'"root" "$(head -c 10000 /dev/zero | tr '\0' a)"; do
	refused "user name '$(shown "$name")' (${#name} bytes)" 1 "$not_root" \
		as_mallory "$helper" --config "$conf" open "$name"
done
refused "a config path of 5000 bytes" 1 "$not_root" \
	as_mallory "$helper" --config "/$(head -c 5000 /dev/zero | tr '\0' a)" open "$victim"

argmax=$(getconf ARG_MAX)
n=$((argmax / 20))
mapfile -t many < <(yes x | head -n "$n")
refused "huge argv: $n arguments" 1 "$not_root" as_mallory "$helper" open "$victim" "${many[@]}"
n=$((argmax / 4 / 1000))
mapfile -t many < <(yes "$(head -c 999 /dev/zero | tr '\0' y)" | head -n "$n")
refused "huge argv: $n arguments of 1000 bytes" 1 "$not_root" \
	as_mallory "$helper" --config "$conf" open "$victim" "${many[@]}"
unset many
refused "argc 0 (CVE-2021-4034), GCONV_PATH in the environment" 1 "$not_root" \
	as_mallory "$NT_TMP/noargv" "$helper"

# ---- the environment
refused "LD_PRELOAD of a library that leaves a marker" 1 "$not_root" \
	as_mallory env LD_PRELOAD="$evil" "$helper" --config "$conf" open "$victim"
refused "LD_LIBRARY_PATH and a bare LD_PRELOAD name" 1 "$not_root" \
	as_mallory env LD_LIBRARY_PATH="$NT_TMP/lib" LD_PRELOAD=libnt-evil.so "$helper" --config "$conf" open "$victim"
refused "LD_AUDIT" 1 "$not_root" as_mallory env LD_AUDIT="$evil" "$helper" --config "$conf" open "$victim"
mkdir -m 0755 "$drop/bin"
printf '#!/bin/sh\necho "$0" >>%s\n' "$marker" >"$drop/bin/evil"
chmod 0755 "$drop/bin/evil"
for t in mkfs.ext4 e2fsck fsck.ext4 mount losetup sh; do
	ln -s evil "$drop/bin/$t"
done
refused "PATH of the user's own programs" 1 "$not_root" \
	as_mallory env PATH="$drop/bin" "$helper" --config "$conf" open "$victim"
refused "locale from the user's dirs" 1 "$not_root" \
	as_mallory env LOCPATH="$drop" LANGUAGE=nt_EVIL LC_ALL=nt_EVIL.UTF-8 LANG=nt_EVIL NLSPATH="$drop/%N" \
	TZ="$drop/tz" GCONV_PATH="$drop" "$helper" --config "$conf" open "$victim"
refused "GLIBC_TUNABLES in the Looney Tunables shape (CVE-2023-4911)" 1 "$not_root" \
	as_mallory env "GLIBC_TUNABLES=glibc.malloc.mxfast=glibc.malloc.mxfast=$(head -c 3000 /dev/zero | tr '\0' A)" \
	MALLOC_CHECK_=3 MALLOC_PERTURB_=255 "$helper" --config "$conf" open "$victim"
refused "a 100 KB environment value" 1 "$not_root" \
	as_mallory env NT_BIG="$(head -c 100000 /dev/zero | tr '\0' z)" "$helper" --config "$conf" open "$victim"
refused "an empty environment" 1 "$not_root" as_mallory env -i "$helper" --config "$conf" open "$victim"

# ---- fds, rlimits, signals
refused "stdin, stdout and stderr closed" 1 '^$' \
	as_mallory sh -c 'exec "$0" "$@" 0<&- 1>&- 2>&-' "$helper" --config "$conf" open "$victim"
refused "only stdout closed" 1 "$not_root" \
	as_mallory sh -c 'exec "$0" "$@" 1>&-' "$helper" --config "$conf" open "$victim"
refused "inherited fds 3-9 and a stray high fd" 1 "$not_root" \
	as_mallory bash -c 'exec 3</etc/hostname 4<&0 5>/dev/null 6<&3 7<&3 8<&3 9<&3 200<&3; exec "$0" "$@"' \
	"$helper" --config "$conf" open "$victim"
refused "RLIMIT_NOFILE 4, core unlimited, 1 MB of stack" 1 "real uid $muid" \
	as_mallory bash -c 'ulimit -n 4; ulimit -c unlimited 2>/dev/null; ulimit -s 1024; exec "$0" "$@"' \
	"$helper" --config "$conf" open "$victim"
refused "signals ignored (CHLD TERM HUP INT) by the caller" 1 "$not_root" \
	as_mallory bash -c "trap '' CHLD TERM HUP INT QUIT; exec \"\$0\" \"\$@\"" "$helper" --config "$conf" open "$victim"

# SIGSTOP, SIGCONT and SIGTERM from the caller (whose real uid lets it signal
# us) at once, 20 times: each run ends by the signal or by the refusal.
out=$(as_mallory bash -c '
	for i in $(seq 20); do
		"$0" "$@" 2>/dev/null & p=$!
		kill -STOP $p 2>/dev/null; kill -CONT $p 2>/dev/null; kill -TERM $p 2>/dev/null
		wait $p; echo $?
	done' "$helper" --config "$conf" open "$victim" 2>/dev/null | sort -u | tr '\n' ' ')
like "$out" '^((1|143) )+$' "signals during setup: each run ended refused (1) or by SIGTERM (143): $out"
out=$(as_mallory bash -c '
	"$0" "$@" 2>/dev/null & p=$!
	kill -STOP $p; sleep 0.2; kill -KILL $p; wait $p; echo $?' "$helper" --config "$conf" open "$victim" 2>/dev/null)
like "$out" '^(1|137)$' "signals during setup: a helper stopped, then killed, ended refused or by SIGKILL ($out)"
nothing_created "signals during setup"

# A copy owned by mallory, set-uid: it runs with mallory's euid and refuses.
cp "$src_helper" "$bin/nook-helper-mallory"
chown "$mallory" "$bin/nook-helper-mallory"
chmod 4755 "$bin/nook-helper-mallory"
refused "a copy set-uid to the user" 1 "refused \\(real uid $muid\\)" \
	as_mallory "$bin/nook-helper-mallory" --config "$conf" open "$mallory"
rm -f "$bin/nook-helper-mallory"

# ---- an unsafely installed copy: refused even for root, before anything
unsafe()
{
	local desc=$1 owner=$2 mode=$3 f=$bin/nook-helper-unsafe

	install -o root -g root -m 0755 "$src_helper" "$f"
	chown "$owner" "$f"
	chmod "$mode" "$f"
	refused "root runs a copy $desc" 1 "$f is installed unsafely.*chmod 4755 $f" \
		timeout -k 5 20 "$f" --config "$conf" open "$carol"
	rm -f "$f"
}
unsafe "that is group-writable (4775)" root 4775
unsafe "that is world-writable (4757)" root 4757
unsafe "owned by the user (4755)" "$mallory" 4755
install -o root -g root -m 4775 "$src_helper" "$bin/nook-helper-gw"
refused "mallory runs a group-writable copy" 1 "real uid $muid.*installed unsafely" \
	as_mallory "$bin/nook-helper-gw" --config "$conf" open "$victim"
rm -f "$bin/nook-helper-gw"

# ---- root: arguments are validated before any use
# shellcheck disable=SC2317 # called through refused
as_root()
{
	timeout -k 5 20 "$helper" "$@"
}
refused "root: no arguments" 2 "$usage" as_root
refused "root: wrong subcommand" 2 "$usage" as_root --config "$conf" close "$victim"
refused "root: --config without a value" 2 "$usage" as_root --config open "$victim"
refused "root: a relative --config" 2 "absolute path.*$usage" as_root --config good.conf open "$victim"
refused "root: options after the user" 2 "$usage" as_root open "$victim" --config "$conf"
refused "root: one argument too many" 2 "$usage" as_root --config "$conf" open "$victim" extra
for name in "../$victim" "$victim/x" "/etc/passwd" ".." "" "%n%n%s%s" "$victim"$'\n'"x" \
	"$(head -c 33 /dev/zero | tr '\0' a)" "$(head -c 10000 /dev/zero | tr '\0' a)"; do
	refused "root: user name '$(shown "$name")' (${#name} bytes)" 2 "(not a valid user name|too long).*$usage" \
		as_root --config "$conf" open "$name"
done
refused "root: a config path of 5000 bytes" 2 "too long.*$usage" \
	as_root --config "/$(head -c 5000 /dev/zero | tr '\0' a)" open "$victim"
mapfile -t many < <(yes x | head -n "$((argmax / 20))")
refused "root: huge argv" 2 "$usage" as_root --config "$conf" open "$victim" "${many[@]}"
unset many
refused "root: argc 0" 2 "$usage" timeout -k 5 20 "$NT_TMP/noargv" "$helper"
refused "root: a user that does not exist" 1 "does not exist" as_root --config "$conf" open "nt-none$NT_ID"

# ---- root still gets a container, even from a hostile-looking state
# keeper_sane WHAT USER: the keeper runs, holds no fd of ours, and has
# SIGTERM and SIGCHLD at their defaults (not inherited as ignored).
keeper_sane()
{
	local what=$1 u=$2 init keeper ign

	read -r init keeper < <(nt_pids "$u")
	[[ $keeper =~ ^[0-9]+$ ]]
	ok $? "$what: the container runs (keeper ${keeper:-none})" || return 1
	is "$(find "/proc/$keeper/fd/" "/proc/$init/fd/" -lname '*canary*' 2>/dev/null | wc -l)" 0 \
		"$what: no fd of the caller reached the keeper or init"
	ign=$(awk '/^SigIgn:/ { print $2 }' "/proc/$keeper/status")
	is "$(((16#$ign >> 14) & 1)) $(((16#$ign >> 16) & 1))" "0 0" \
		"$what: the keeper does not ignore SIGTERM or SIGCHLD (SigIgn $ign)"
}

stop_settled()
{
	nt_ctl stop "$1" --config "$conf" >/dev/null
	nt_until 10 nt_settled "$1"
	ok $? "$2: stopped, nothing left"
}

watch=("$victim" "$mallory")
echo canary >"$NT_TMP/canary"
sum=$(sha256sum <"$conf")
# (stdout to a file, not a pipe: init inherits the helper's stdout.)
timeout -k 5 60 bash -c 'exec 7<"$1" 8>>"$1"; shift; exec "$@"' _ "$NT_TMP/canary" \
	"$helper" --config "$conf" open "$carol" >"$NT_TMP/out" 2>"$NT_TMP/err"
is "$?" 0 "root with the setuid copy and fds 7, 8 open: exit 0 ($(head -c 300 "$NT_TMP/err"))"
like "$(cat "$NT_TMP/out")" '^init=[0-9]+ keeper=[0-9]+ cgroup=' "root: the info line is printed"
keeper_sane "root" "$carol"
is "$(cat "$NT_TMP/canary")" canary "root: nothing was written to the caller's fds"
stop_settled "$carol" "root"

timeout -k 5 60 bash -c "trap '' CHLD TERM HUP INT QUIT; exec \"\$0\" \"\$@\"" \
	"$helper" --config "$conf" open "$carol" >/dev/null 2>"$NT_TMP/err"
is "$?" 0 "root with CHLD, TERM, HUP, INT and QUIT ignored: exit 0 ($(head -c 300 "$NT_TMP/err"))"
keeper_sane "root, signals ignored" "$carol"
stop_settled "$carol" "root, signals ignored"

rm -f "$NT_TMP/images/$carol.img"
timeout -k 5 60 bash -c 'exec "$0" "$@" 0<&- 1>&- 2>&-' "$helper" --config "$conf" open "$carol"
is "$?" 0 "root with stdin, stdout and stderr closed (and a new image to make): exit 0"
keeper_sane "root, stdio closed" "$carol"
is "$(sha256sum <"$conf")" "$sum" "root, stdio closed: the config was not written to"
out=$(nt_exec "$carol" "$conf" sh -c 'echo ok; ls -A /' 2>&1)
like "$out" '^ok' "root, stdio closed: the container works"
stop_settled "$carol" "root, stdio closed"
nothing_created "after the root runs, for mallory and the victim"

done_testing
