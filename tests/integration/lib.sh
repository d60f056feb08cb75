# shellcheck shell=bash
#
# Shared helpers of nook's root-only integration tests. A test script does
#
#	. "$(dirname "$0")/lib.sh"
#	require_root
#	nt_user; alice=$NT_USER
#	nt_config "$NT_TMP/a.conf" hostname=box-%u
#	out=$(nt_exec "$alice" "$NT_TMP/a.conf" hostname)
#	is "$out" "box-$alice" "hostname comes from the config"
#	done_testing
#
# and prints TAP for prove. Everything a test creates is named nt-* (users,
# cgroup root, temp dir) and recorded here; the EXIT/INT/TERM trap removes
# all of it, whichever way the script ends: containers stopped, processes we
# started killed by pid, users (and their subordinate ids) deleted, loop
# devices of our images detached, images and temp dirs removed, our cgroup
# dirs removed, /run/nook/<test user> removed. done_testing runs the same
# cleanup first and reports, as tests, that nothing was left behind.
#
# Nothing here touches what a test did not create: no pkill, no killall, no
# rm outside our own paths.

set -u

NT_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NOOK_BUILD=${NOOK_BUILD:-$NT_REPO/build}
NOOKCTL=$NOOK_BUILD/nookctl
# Seconds any single nookctl call may take before the test fails instead of
# hanging CI.
NT_TIMEOUT=${NT_TIMEOUT:-60}
# How much slower than this VM the machine is (an emulated guest: 5): every
# nt_until deadline, and every hold time a test gives a probe, is multiplied
# by it. Bounds only: no test asserts how fast anything is.
NT_WAIT_SCALE=${NT_WAIT_SCALE:-1}

NT_TMP=
NT_ID=
NT_CG=
# Under systemd on cgroup v2 (where nook's cgroup_manager = auto picks
# systemd), nook asks systemd for a scope per user; the tests put those in
# a slice of their own, NT_SLICE, inside nook.slice. Elsewhere nook's
# cgroup_root nests under this script's cgroup.
NT_SYSTEMD=0
if [ -d /run/systemd/system ] && [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then
	NT_SYSTEMD=1
fi
NT_SLICE=
NT_USERS=()
NT_USER=
NT_PIDS=()
NT_PATHS=()
NT_DIRS=()
NT_MOUNTS=()
declare -A NT_CG_DIRS=()

# ---------------------------------------------------------------- TAP

_nt_count=0
_nt_failed=0
_nt_done=0
_nt_cleaned=0
_nt_run_existed=1

diag()
{
	local line

	while IFS= read -r line; do
		printf '# %s\n' "$line" >&2
	done <<<"$*"
}

_nt_result()
{
	local status=$1 desc=${2//#/\\#}

	_nt_count=$((_nt_count + 1))
	if [ "$status" -eq 0 ]; then
		printf 'ok %d - %s\n' "$_nt_count" "$desc"
		return 0
	fi
	printf 'not ok %d - %s\n' "$_nt_count" "$desc"
	_nt_failed=$((_nt_failed + 1))
	return 1
}

# ok STATUS DESC: passes when STATUS is 0 (e.g. `[ -f x ]; ok $? "x exists"`).
ok()
{
	_nt_result "$1" "$2"
}

# is GOT WANT DESC
is()
{
	[ "$1" = "$2" ] && { _nt_result 0 "$3"; return 0; }
	_nt_result 1 "$3"
	diag "     got: '$1'"
	diag "expected: '$2'"
	return 1
}

# isnt GOT UNWANTED DESC
isnt()
{
	[ "$1" != "$2" ] && { _nt_result 0 "$3"; return 0; }
	_nt_result 1 "$3"
	diag "     got: '$1'"
	diag "expected anything else"
	return 1
}

# like GOT ERE DESC
like()
{
	[[ $1 =~ $2 ]] && { _nt_result 0 "$3"; return 0; }
	_nt_result 1 "$3"
	diag "           '$1'"
	diag "doesn't match '$2'"
	return 1
}

# unlike GOT ERE DESC
unlike()
{
	[[ ! $1 =~ $2 ]] && { _nt_result 0 "$3"; return 0; }
	_nt_result 1 "$3"
	diag "           '$1'"
	diag "      matches '$2'"
	return 1
}

# skip DESC REASON
skip()
{
	_nt_count=$((_nt_count + 1))
	printf 'ok %d - %s # SKIP %s\n' "$_nt_count" "${1//#/\\#}" "$2"
}

# nt_skip_all REASON: skips the whole script (after require_root).
nt_skip_all()
{
	echo "1..0 # SKIP $1"
	_nt_done=1
	exit 0
}

bail()
{
	printf 'Bail out! %s\n' "$*"
	exit 255
}

done_testing()
{
	_nt_done=1
	nt_cleanup
	_nt_check_clean
	printf '1..%d\n' "$_nt_count"
	[ "$_nt_failed" -gt 254 ] && exit 254
	exit "$_nt_failed"
}

# ---------------------------------------------------------------- setup

_nt_random()
{
	local s

	s=$(tr -dc 'a-z0-9' </dev/urandom | head -c "$1")
	printf '%s' "$s"
}

# Skips the whole script unless root; then sets up the temp dir, the
# cgroup root and the cleanup trap.
require_root()
{
	if [ "$(id -u)" -ne 0 ]; then
		echo "1..0 # SKIP needs root"
		exit 0
	fi
	[ -x "$NOOKCTL" ] || bail "no $NOOKCTL: run make first (or set NOOK_BUILD)"
	_nt_init
}

_nt_init()
{
	local line ctrls path c

	NT_ID=$(_nt_random 6)
	NT_CG=nt-$NT_ID
	trap '_nt_on_exit' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	NT_TMP=$(mktemp -d "/tmp/nt-$NT_ID.XXXXXX") || bail "mktemp failed"
	# Root-owned 0755: nook refuses configs in directories others can write.
	chmod 0755 "$NT_TMP"
	[ -d /run/nook ] && _nt_run_existed=1 || _nt_run_existed=0

	# Our cgroup root nests under the cgroup this script runs in, in each
	# hierarchy nook uses (DESIGN.md: tests never leave their own subtree).
	# Under systemd, it is our slice (systemd makes and removes it).
	if [ "$NT_SYSTEMD" = 1 ]; then
		NT_SLICE=nook-nt$NT_ID.slice
		NT_CG_DIRS[unified]=/sys/fs/cgroup/nook.slice/$NT_SLICE
	elif [ -e /sys/fs/cgroup/cgroup.controllers ]; then
		while IFS= read -r line; do
			[[ $line == 0::* ]] || continue
			path=${line#0::}
			NT_CG_DIRS[unified]=/sys/fs/cgroup${path%/}/$NT_CG
		done </proc/$$/cgroup
	else
		while IFS= read -r line; do
			ctrls=${line#*:}
			ctrls=${ctrls%%:*}
			path=${line#*:*:}
			for c in memory cpu pids; do
				[[ ,$ctrls, == *,$c,* ]] && NT_CG_DIRS[$c]=/sys/fs/cgroup/$c${path%/}/$NT_CG
			done
		done </proc/$$/cgroup
	fi
	[ "${#NT_CG_DIRS[@]}" -gt 0 ] || bail "cannot find this script's cgroups in /proc/$$/cgroup"

	# Used by the cleanup only: never made insecure by a test.
	nt_config "$NT_TMP/.cleanup.conf"
}

# nt_user: creates a fresh user nt-XXXXXXX (home from /etc/skel, and on
# Debian a /etc/subuid range); its name is then in NT_USER.
nt_user()
{
	local name i

	for i in 1 2 3 4 5; do
		name=nt-$(_nt_random 7)
		getent passwd "$name" >/dev/null && continue
		if useradd -m -s /bin/bash "$name" 2>/dev/null; then
			NT_USERS+=("$name")
			# shellcheck disable=SC2034 # read by the test scripts
			NT_USER=$name
			return 0
		fi
	done
	bail "cannot create a test user"
}

# nt_path PATH: registers a host path outside NT_TMP that the test creates
# (e.g. for `hide =`); it is removed at cleanup.
nt_path()
{
	[[ $1 == /*nt-* ]] || bail "nt_path: refusing to register '$1' (name must contain nt-)"
	NT_PATHS+=("$1")
}

# nt_mkdir DIR: creates DIR (0755) if it does not exist yet; it is then
# removed at cleanup if empty (never recursively).
nt_mkdir()
{
	[ -e "$1" ] && return 0
	mkdir -m 0755 "$1" || bail "cannot create $1"
	NT_DIRS=("$1" "${NT_DIRS[@]}")
}

# nt_pam_file FILE FIRST-AUTH-LINE MODULE-ARG...: a login or su PAM stack
# with pam_nook, in the order INSTALL documents (for login and su tests, which
# bind it over /etc/pam.d/<service> in a private mount namespace).
nt_pam_file()
{
	local file=$1 first=$2 mod

	shift 2
	mod="$NOOK_BUILD/pam_nook.so $*"
	printf '%s\n' "$first" "auth     optional $mod" "account  required $mod" "account  required pam_unix.so" \
		"session  required pam_unix.so" "session  required $mod" >"$file"
}

# nt_config FILE [KEY=VALUE | RAW-LINE]...: writes a root-owned 0644 config.
# KEY=VALUE replaces the default of KEY (KEY= drops it) or adds KEY; hide=
# and bind= add a line each time; any other argument (a line without '=' after
# the key, or a '[section]') is copied as is, after the [default] keys.
nt_config()
{
	local file=$1 arg key
	local -A set=(
		[users]='*'
		[image_dir]=$NT_TMP/images
		[image_size]=64M
		[cgroup_root]=./$NT_CG
		[memory_max]=256M
		[pids_max]=200
	)
	local order=(users image_dir image_size cgroup_root memory_max pids_max)

	if [ "$NT_SYSTEMD" = 1 ]; then
		set[systemd_slice]=$NT_SLICE
		order+=(systemd_slice)
	fi
	local raw=()

	shift
	[[ $file == "$NT_TMP"/* ]] || bail "nt_config: $file is not under $NT_TMP"
	for arg; do
		if [[ $arg == \[* || ! $arg =~ ^[a-z_]+= ]]; then
			raw+=("$arg")
			continue
		fi
		key=${arg%%=*}
		if [ "$key" = hide ] || [ "$key" = bind ]; then
			# List keys: each occurrence adds a line.
			raw+=("$key = ${arg#*=}")
			continue
		fi
		[[ -v "set[$key]" ]] || order+=("$key")
		set[$key]=${arg#*=}
	done
	{
		echo "[default]"
		for key in "${order[@]}"; do
			[ -n "${set[$key]}" ] && printf '%s = %s\n' "$key" "${set[$key]}"
		done
		[ "${#raw[@]}" -gt 0 ] && printf '%s\n' "${raw[@]}"
	} >"$file"
	chown root:root "$file"
	chmod 0644 "$file"
}

# nt_mount_loop FILE DIR: mounts the file system in FILE (under NT_TMP) on
# DIR (under NT_TMP) through a loop device; unmounted at cleanup, after the
# containers are stopped.
nt_mount_loop()
{
	[[ $1 == "$NT_TMP"/* && $2 == "$NT_TMP"/* ]] || bail "nt_mount_loop: $1 or $2 is not under $NT_TMP"
	mount -o loop "$1" "$2" || bail "cannot mount $1 on $2"
	NT_MOUNTS=("$2" "${NT_MOUNTS[@]}")
}

# ---------------------------------------------------------------- nook

# nookctl with a time limit: a hang fails the test instead of blocking CI.
nt_ctl()
{
	timeout -k 5 "$NT_TIMEOUT" "$NOOKCTL" "$@"
}

# nt_exec USER CONF CMD...: runs CMD in USER's container, stdin /dev/null.
nt_exec()
{
	local user=$1 conf=$2

	shift 2
	timeout -k 5 "$NT_TIMEOUT" "$NOOKCTL" exec "$user" --config "$conf" -- "$@" </dev/null
}

# nt_spawn OUT USER CONF CMD...: nt_exec in the background, stdout and
# stderr to OUT. Sets NT_SPAWNED to the pid (of timeout, whose only child
# is nookctl). Reap it with nt_wait.
nt_spawn()
{
	local out=$1 user=$2 conf=$3

	shift 3
	timeout -k 5 "$NT_TIMEOUT" "$NOOKCTL" exec "$user" --config "$conf" -- "$@" </dev/null >"$out" 2>&1 &
	NT_SPAWNED=$!
	NT_PIDS+=("$NT_SPAWNED")
}

# nt_wait PID: waits for a process started by nt_spawn; returns its status.
nt_wait()
{
	local pid=$1 rc i

	wait "$pid" 2>/dev/null
	rc=$?
	for i in "${!NT_PIDS[@]}"; do
		[ "${NT_PIDS[$i]}" = "$pid" ] && unset 'NT_PIDS[i]'
	done
	return "$rc"
}

# nt_child PID: the (first) child of PID.
nt_child()
{
	local c=

	[ -n "$1" ] || return 1
	# The file has no trailing newline: read "fails" at EOF but sets c.
	read -r c _ <"/proc/$1/task/$1/children" 2>/dev/null
	[ -n "$c" ] && echo "$c"
}

# nt_until SECONDS CMD...: polls CMD every 50 ms until it succeeds.
nt_until()
{
	# A deadline in seconds, not a count: a slow predicate must not
	# stretch the wait.
	local deadline=$((SECONDS + $1 * NT_WAIT_SCALE))

	shift
	while ((SECONDS <= deadline)); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

nt_running()
{
	nt_ctl status "$1" --config "$NT_TMP/.cleanup.conf" >/dev/null 2>&1
}

nt_not_running()
{
	local rc

	nt_ctl status "$1" --config "$NT_TMP/.cleanup.conf" >/dev/null 2>&1
	rc=$?
	[ "$rc" -eq 3 ]
}

# nt_settled USER: no container, no cgroup, image on no loop device. The
# keeper says "not running" (status exit 3) only once its cleanup is done
# ("stopping", exit 4, until then), so nt_not_running alone implies the
# rest; this also checks it, for tests about leftovers.
nt_settled()
{
	nt_not_running "$1" && [ -z "$(nt_cg_left "$1")" ] && [ -z "$(nt_loops "$NT_TMP/images/$1.img")" ]
}

# nt_pids USER: prints "INIT KEEPER" of USER's running container.
nt_pids()
{
	local out

	out=$(nt_ctl status "$1" --config "$NT_TMP/.cleanup.conf" 2>/dev/null) || return 1
	[[ $out =~ init\ pid:\ +([0-9]+)\ \(keeper\ ([0-9]+)\) ]] || return 1
	echo "${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
}

# nt_cg_dir KEY USER [LEAF]: USER's cgroup in hierarchy KEY (memory, cpu,
# pids; unified on v2).
nt_cg_dir()
{
	local d=${NT_CG_DIRS[$1]}/$2

	# systemd: <slice>/nook-USER.scope/user (the keeper sits in .../keeper).
	[ "$NT_SYSTEMD" = 1 ] && d=${NT_CG_DIRS[$1]}/nook-$2.scope/user
	[ $# -gt 2 ] && d=$d/$3
	echo "$d"
}

# nt_unit_dir USER: the cgroup of USER's whole container: the user's cgroup,
# or under systemd the scope (which also holds the keeper).
nt_unit_dir()
{
	if [ "$NT_SYSTEMD" = 1 ]; then
		echo "${NT_CG_DIRS[unified]}/nook-$1.scope"
	else
		nt_cg_dir "$2" "$1"
	fi
}

# nt_cg_left USER: lists USER's cgroup dirs that exist (empty: none).
nt_cg_left()
{
	local k d

	for k in "${!NT_CG_DIRS[@]}"; do
		d=$(nt_unit_dir "$1" "$k")
		[ -d "$d" ] && echo "$d"
	done
	return 0
}

# nt_procs_in USER: host pids whose cgroup is USER's (in any hierarchy).
nt_procs_in()
{
	local f pat=

	[ "$NT_SYSTEMD" = 1 ] && pat="/$NT_SLICE/nook-$1.scope/user/"

	for f in /proc/[0-9]*/cgroup; do
		grep -qs -- "${pat:-/$NT_CG/$1/}" "$f" && { f=${f#/proc/}; echo "${f%/cgroup}"; }
	done
	return 0
}

# nt_loops FILE: loop devices backed by FILE.
nt_loops()
{
	losetup -n -O NAME -j "$1" 2>/dev/null
}

# nt_host_mounts PATTERN: host mountinfo lines whose mount point or source
# contains PATTERN.
nt_host_mounts()
{
	grep -F -- "$1" /proc/self/mountinfo
	return 0
}

# ---------------------------------------------------------------- cleanup

# Kills what the processes of our cgroup tree (which only our containers and
# nookctl runs fill) left, then removes the tree, deepest first.
_nt_cg_remove()
{
	local dir=$1 d pid try

	[ -d "$dir" ] || return 0
	for ((try = 0; try < 100; try++)); do
		while IFS= read -r d; do
			while read -r pid; do
				[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
			done <"$d/cgroup.procs"
		done < <(find "$dir" -type d 2>/dev/null)
		find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null
		[ -d "$dir" ] || return 0
		sleep 0.05
	done
	diag "cleanup: cannot remove $dir"
}

nt_cleanup()
{
	local pid u i line dev k p

	[ "$_nt_cleaned" = 1 ] && return 0
	_nt_cleaned=1
	trap '' INT TERM
	[ -n "$NT_TMP" ] || return 0

	# 1. What we started ourselves: TERM (timeout passes it on to nookctl,
	# nookctl to the command), then KILL. Unreaped, so the pids are ours.
	for pid in "${NT_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${NT_PIDS[@]}"; do
		for ((i = 0; i < 40; i++)); do
			if [ ! -d "/proc/$pid" ] || [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" = Z ]; then
				break
			fi
			sleep 0.05
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	NT_PIDS=()

	# 2. The test users' containers.
	for u in "${NT_USERS[@]}"; do
		getent passwd "$u" >/dev/null || continue
		if ! timeout -k 5 30 "$NOOKCTL" stop "$u" --config "$NT_TMP/.cleanup.conf" >/dev/null 2>&1; then
			diag "cleanup: nookctl stop $u failed"
		fi
	done

	# 3. Our own mounts (their loop devices autoclear).
	for p in "${NT_MOUNTS[@]}"; do
		umount "$p" 2>/dev/null || umount -l "$p" 2>/dev/null || diag "cleanup: cannot unmount $p"
	done
	NT_MOUNTS=()

	# 3b. Our cgroup tree (and any process a broken stop left in it); under
	# systemd our slice, which systemd stops with every scope in it.
	if [ "$NT_SYSTEMD" = 1 ]; then
		timeout -k 5 60 systemctl stop "$NT_SLICE" 2>/dev/null ||
			diag "cleanup: systemctl stop $NT_SLICE failed"
	else
		for k in "${!NT_CG_DIRS[@]}"; do
			_nt_cg_remove "${NT_CG_DIRS[$k]}"
		done
	fi

	# 4. Loop devices still backed by files of ours (also deleted ones).
	while read -r dev line; do
		[[ $line == "$NT_TMP"/* ]] || continue
		diag "cleanup: detaching $dev ($line)"
		losetup -d "$dev" 2>/dev/null
	done < <(losetup -n -l -O NAME,BACK-FILE 2>/dev/null)

	# 5. The users, their homes and subordinate ids. Under systemd, logind
	# first: its sessions of theirs and their user manager (user@UID,
	# started at their first login) hold processes that userdel refuses.
	for u in "${NT_USERS[@]}"; do
		if [ "$NT_SYSTEMD" = 1 ] && getent passwd "$u" >/dev/null; then
			loginctl terminate-user "$u" 2>/dev/null
			nt_until 30 _nt_no_user_unit "$(id -u "$u")" ||
				diag "cleanup: user@$(id -u "$u").service of $u is still there"
		fi
		if getent passwd "$u" >/dev/null; then
			userdel -r "$u" >/dev/null 2>&1 || diag "cleanup: userdel -r $u failed"
		fi
		for p in /etc/subuid /etc/subgid; do
			# Exact name, which only holds [a-z0-9-]: no regex surprise.
			grep -q "^$u:" "$p" 2>/dev/null && sed -i "/^$u:/d" "$p"
		done
		if [ -d "/run/nook/$u" ]; then
			rm -rf --one-file-system "/run/nook/$u" 2>/dev/null ||
				diag "cleanup: cannot remove /run/nook/$u"
		fi
	done
	[ "$_nt_run_existed" = 0 ] && rmdir /run/nook 2>/dev/null

	# 6. Files.
	for p in "${NT_PATHS[@]}"; do
		rm -rf --one-file-system "$p"
	done
	for p in "${NT_DIRS[@]}"; do
		rmdir "$p" 2>/dev/null || diag "cleanup: $p is not empty; left in place"
	done
	if [[ $NT_TMP == /tmp/nt-* ]]; then
		rm -rf --one-file-system "$NT_TMP" || diag "cleanup: cannot remove $NT_TMP"
	fi
	return 0
}

# _nt_no_user_unit UID: logind and systemd hold nothing of UID any more.
_nt_no_user_unit()
{
	[ ! -e "/sys/fs/cgroup/user.slice/user-$1.slice" ] && ! loginctl show-user "$1" >/dev/null 2>&1
}

_nt_check_clean()
{
	local left u k p

	[ "${#NT_USERS[@]}" -gt 0 ] || return 0
	left=
	for u in "${NT_USERS[@]}"; do
		getent passwd "$u" >/dev/null && left+=" $u"
		grep -qs "^$u:" /etc/subuid /etc/subgid && left+=" subid:$u"
		[ -e "/home/$u" ] && left+=" /home/$u"
	done
	is "$left" "" "cleanup: test users, homes and subordinate ids are gone"

	left=$(losetup -n -l -O NAME,BACK-FILE 2>/dev/null | grep -F " $NT_TMP/")
	is "$left" "" "cleanup: no loop device is backed by a test image"

	left=
	for k in "${!NT_CG_DIRS[@]}"; do
		[ -e "${NT_CG_DIRS[$k]}" ] && left+=" ${NT_CG_DIRS[$k]}"
	done
	is "$left" "" "cleanup: the test's cgroup dirs are gone"

	left=
	for u in "${NT_USERS[@]}"; do
		[ -e "/run/nook/$u" ] && left+=" /run/nook/$u"
	done
	for p in "$NT_TMP" "${NT_PATHS[@]}" "${NT_DIRS[@]}"; do
		[ -e "$p" ] && left+=" $p"
	done
	left+=$(nt_host_mounts "$NT_TMP")
	is "$left" "" "cleanup: temp dirs, runtime dirs and their mounts are gone"
}

_nt_on_exit()
{
	local rc=$?

	nt_cleanup
	if [ "$_nt_done" = 0 ] && [ "$rc" = 0 ]; then
		rc=1
	fi
	exit "$rc"
}
