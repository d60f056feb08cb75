#!/bin/bash
# Leftovers of an interrupted image creation (.USER.img.new, .USER.staging
# in image_dir): removed by the next creation and by `nookctl clean [USER]`,
# which removes exactly those names (a symlink as itself, never its
# target), never an image, and refuses while the user's lock is held, as it
# is by a keeper creating the image even when its caller is gone.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root

conf=$NT_TMP/a.conf
nt_config "$conf" image_size=64M
dir=$NT_TMP/images
nt_user; alice=$NT_USER
nt_user; bob=$NT_USER

# keeper_pid USER: the pid in USER's keeper record.
keeper_pid()
{
	sed -n 's/^pid=\([0-9]*\) .*/\1/p' "/run/nook/$1/keeper" 2>/dev/null
}

# start_paused OUT: creates a fresh user and starts its first exec in the
# background under strace, which stops the keeper (SIGSTOP) once it has
# made .USER.staging (after .USER.img.new, before mkfs and the rename to
# USER.img). strace then detaches and the keeper stays stopped,
# deterministically in the middle of the creation with both leftovers. NT_SPAWNED is
# timeout's pid; sets PAUSED_USER, PAUSED_KEEPER and PAUSED_CALLER (nookctl).
start_paused()
{
	local user tracer

	nt_user; user=$NT_USER
	# -D: nookctl stays timeout's child; -I 2: strace detaches on SIGTERM;
	# -P: the name as mkdirat gets it (relative to image_dir's fd).
	timeout -k 5 "$NT_TIMEOUT" strace -D -I 2 -f -qq -o /dev/null \
		-P ".$user.staging" -e trace=mkdirat -e inject=mkdirat:signal=SIGSTOP:when=1 \
		"$NOOKCTL" exec "$user" --config "$conf" -- true </dev/null >"$1" 2>&1 &
	NT_SPAWNED=$!
	NT_PIDS+=("$NT_SPAWNED")
	PAUSED_USER=$user
	nt_until 60 test -d "$dir/.$user.staging" || return 1
	PAUSED_KEEPER=$(keeper_pid "$user")
	PAUSED_CALLER=$(nt_child "$NT_SPAWNED")
	[ -n "$PAUSED_KEEPER" ] && [ -n "$PAUSED_CALLER" ] || return 1
	nt_until 60 grep -q '^State:.*t (tracing stop)' "/proc/$PAUSED_KEEPER/status" || return 1
	tracer=$(sed -n 's/^TracerPid:[[:space:]]*//p' "/proc/$PAUSED_KEEPER/status")
	[ -n "$tracer" ] && [ "$tracer" != 0 ] || return 1
	NT_PIDS+=("$tracer")
	kill -TERM "$tracer"
	nt_until 60 grep -q '^State:.*T (stopped)' "/proc/$PAUSED_KEEPER/status" &&
		grep -q '^TracerPid:[[:space:]]*0$' "/proc/$PAUSED_KEEPER/status" &&
		[ -e "$dir/.$user.img.new" ] && [ -d "$dir/.$user.staging" ] && [ ! -e "$dir/$user.img" ]
}

# ---- nookctl clean: exactly the leftovers, nothing through a symlink
nt_exec "$alice" "$conf" sh -c 'echo marker > ~/m'
is "$?" 0 "alice's image is created by a first exec"
nt_until 5 nt_settled "$alice"
ok $? "alice's container stopped"
img_sum=$(sha256sum <"$dir/$alice.img")
mkdir -p "$NT_TMP/outside/sub"
echo keep >"$NT_TMP/outside/sub/file"
echo keep >"$NT_TMP/outside-file"
# alice: a real-looking interrupted creation, with a symlink inside the
# staging tree that points outside.
echo partial >"$dir/.$alice.img.new"
mkdir -p "$dir/.$alice.staging/upper/home/$alice" "$dir/.$alice.staging/work"
echo skel >"$dir/.$alice.staging/upper/home/$alice/.profile"
ln -s "$NT_TMP/outside" "$dir/.$alice.staging/upper/home/$alice/link"
# bob: both names are symlinks to things outside.
ln -s "$NT_TMP/outside-file" "$dir/.$bob.img.new"
ln -s "$NT_TMP/outside" "$dir/.$bob.staging"
# Not leftovers: other names, however close.
echo x >"$dir/.$alice.img.bak"
echo x >"$dir/notes"
echo x >"$dir/.Bad.staging"
[ -f "$dir/.$alice.img.new" ] && [ -d "$dir/.$alice.staging" ] && [ -L "$dir/.$bob.img.new" ] &&
	[ -L "$dir/.$bob.staging" ]
ok $? "the fake leftovers are in place"

out=$(nt_ctl clean "$alice" --config "$conf" 2>&1)
is "$?" 0 "nookctl clean USER succeeds"
is "$out" "removed $dir/.$alice.img.new (file)
removed $dir/.$alice.staging (directory)" "it prints exactly what it removed"
[ ! -e "$dir/.$alice.img.new" ] && [ ! -e "$dir/.$alice.staging" ]
ok $? "alice's leftovers are gone"
[ -L "$dir/.$bob.img.new" ] && [ -L "$dir/.$bob.staging" ]
ok $? "bob's leftovers are still there (clean USER is for USER only)"
is "$(cat "$NT_TMP/outside/sub/file")" keep "the target of the symlink inside the staging tree is intact"

out=$(nt_ctl clean --config "$conf" 2>&1)
is "$?" 0 "nookctl clean (all users) succeeds"
is "$(sort <<<"$out")" "removed $dir/.$bob.img.new (symlink)
removed $dir/.$bob.staging (symlink)" "it removed bob's symlinks, as symlinks"
[ ! -L "$dir/.$bob.img.new" ] && [ ! -L "$dir/.$bob.staging" ]
ok $? "bob's leftover symlinks are gone"
is "$(cat "$NT_TMP/outside-file")" keep "the file a leftover symlink pointed at is intact"
is "$(cat "$NT_TMP/outside/sub/file")" keep "the directory a leftover symlink pointed at is intact"
[ -f "$dir/.$alice.img.bak" ] && [ -f "$dir/notes" ] && [ -f "$dir/.Bad.staging" ]
ok $? "names that are not leftovers are left alone"
is "$(sha256sum <"$dir/$alice.img")" "$img_sum" "the real image is byte-for-byte intact"
out=$(nt_exec "$alice" "$conf" cat "/home/$alice/m")
is "$out" marker "the real image still starts"
out=$(nt_ctl clean --config "$conf" 2>&1)
is "$?" 0 "nookctl clean with nothing to remove succeeds"
is "$out" "no leftovers of an interrupted image creation" "... and says so"

# ---- a held lock: clean refuses and names the holder
nt_until 5 nt_settled "$alice"
ok $? "alice's container stopped again"
echo partial >"$dir/.$alice.img.new"
flock -o "/run/nook/$alice/lock" sleep 60 &
holder=$!
NT_PIDS+=("$holder")
nt_until 5 sh -c "! flock -n '/run/nook/$alice/lock' true"
ok $? "a process holds alice's lock (pid $holder)"
sleeper=$(nt_child "$holder")
[ -n "$sleeper" ] && NT_PIDS+=("$sleeper")
out=$(nt_ctl clean "$alice" --config "$conf" 2>&1)
is "$?" 1 "nookctl clean refuses while the lock is held"
like "$out" "not removing the leftovers of '$alice'.*held by pid $holder \\(flock " \
	"... naming the holder and what it is"
[ -f "$dir/.$alice.img.new" ]
ok $? "the leftover stays while the lock is held"
kill "$holder"
[ -n "$sleeper" ] && kill "$sleeper"
nt_wait "$holder"
nt_until 5 flock -n "/run/nook/$alice/lock" true
ok $? "the lock is free again"
out=$(nt_ctl clean "$alice" --config "$conf" 2>&1)
is "$out" "removed $dir/.$alice.img.new (file)" "once it is free, clean removes the leftover"

# ---- a keeper killed during the creation: the next start cleans up
start_paused "$NT_TMP/carol.out"
ok $? "a first start is paused in the middle of its image creation"
carol=$PAUSED_USER
first=$NT_SPAWNED
kill -KILL "$PAUSED_KEEPER"
nt_wait "$first"
is "$?" 125 "the start whose keeper was killed fails (125)"
[ -e "$dir/.$carol.img.new" ] && [ -d "$dir/.$carol.staging" ] && [ ! -e "$dir/$carol.img" ]
ok $? "the killed creation left its image file and staging tree behind, and no image"
out=$(nt_exec "$carol" "$conf" sh -c 'echo fresh > ~/f; cat ~/f' 2>&1)
is "$?" 0 "the next start succeeds"
like "$out" "removed $dir/\\.$carol\\.img\\.new \\(file\\), left by an interrupted image creation" \
	"it reports removing the leftover image file"
like "$out" "removed $dir/\\.$carol\\.staging \\(directory\\), left by an interrupted" \
	"it reports removing the leftover staging tree"
like "$out" "fresh" "the new image works"
[ ! -e "$dir/.$carol.img.new" ] && [ ! -e "$dir/.$carol.staging" ] && [ -f "$dir/$carol.img" ]
ok $? "no leftovers remain and the image exists"

# ---- the caller killed during the creation: the keeper keeps the lock, so
# clean does not remove the image being made, and the creation completes
start_paused "$NT_TMP/dave.out"
ok $? "another first start is paused in the middle of its image creation"
dave=$PAUSED_USER
second=$NT_SPAWNED
caller=$PAUSED_CALLER
[ -n "$caller" ] && kill -KILL "$caller"
ok $? "the nookctl that started it is killed ($caller)"
nt_wait "$second"
out=$(nt_ctl clean "$dave" --config "$conf" 2>&1)
is "$?" 1 "nookctl clean refuses while the keeper creates the image"
like "$out" "not removing the leftovers of '$dave'.*held by pid" "... because the lock is held"
[ -e "$dir/.$dave.img.new" ]
ok $? "the image being made is still there"
kill -CONT "$PAUSED_KEEPER"
nt_until 30 test -f "$dir/$dave.img"
ok $? "the resumed keeper completes the creation"
nt_until 10 nt_settled "$dave"
ok $? "dave's sessionless container stops by itself"
[ ! -e "$dir/.$dave.img.new" ] && [ ! -e "$dir/.$dave.staging" ]
ok $? "no leftovers of dave's creation"
out=$(nt_exec "$dave" "$conf" sh -c 'echo ok-dave')
is "$out" ok-dave "dave's image works"

done_testing
