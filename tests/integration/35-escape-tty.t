#!/bin/bash
# Escape attempts, part 5: terminals.
#
# Root's terminal. `nookctl exec` on a terminal gives the command a new pty
# and relays it: a process the user left behind (detached, keeping fd 0)
# reads nothing of what root types at the host prompt once nookctl has
# returned (issue 10). The control: the same leftover started on the host
# on root's terminal does read it. Window size, ^C, ^Z and the exit status
# behave as on a terminal; without a terminal on stdin, output that goes to
# a terminal goes through a pipe.
#
# TIOCSETD would let any pty inside
# change its line discipline, and with dev.tty.ldisc_autoload=1 make the
# kernel load that discipline's module (n_gsm, n_hdlc: CVE-2023-6546,
# CVE-2017-2636): the filter refuses it, also with high bits set in the
# request. The control: on the host, the same probe as the same user sets
# disciplines on its own pty.
# Commands for the container are single-quoted on purpose: they expand inside.
# shellcheck disable=SC2016
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
command -v runuser >/dev/null || bail "runuser is needed for the host-side controls"
cd / || bail "cd /"

nt_user; alice=$NT_USER
conf=$NT_TMP/a.conf
nt_config "$conf" linger=1m pty_max=16
# shellcheck source-path=SCRIPTDIR source=escape.sh
. "$NT_REPO/tests/integration/escape.sh"

in_box()
{
	timeout -k 5 "$NT_TIMEOUT" "$NOOKCTL" exec "$alice" --config "$conf" -- python3 - "$@" <"$probe" 2>&1
}

# drive MODE ARG... -- ARGV...: tty-driver.py, as root at a host prompt.
drive()
{
	timeout -k 5 90 python3 "$NT_REPO/tests/integration/tty-driver.py" "$@" </dev/null 2>&1
}

# ex: nookctl exec in alice's container, for drive's ARGV.
ex=("$NOOKCTL" exec "$alice" --config "$conf" --)

nt_ctl exec "$alice" --config "$conf" -- sh -c 'cat >~/escape-probe.py' <"$probe" >/dev/null 2>&1
is "$(nt_exec "$alice" "$conf" sh -c 'test -s ~/escape-probe.py && echo copied')" copied "setup: the probe is in alice's home"

# ---------------------------------------------------------------- root's terminal

out=$(drive after 5 -- python3 "$probe" keep_fd0 "$NT_TMP/control-leak" 20)
is "$(field detached "$(sed -n 's/^out://p' <<<"$out")")" yes "control: on the host, a leftover detaches keeping root's terminal"
is "$(field queued "$out")" 0 "control: ... and reads what root types after the command returned"
nt_until 10 grep -q nt-secret "$NT_TMP/control-leak"
ok $? "control: ... which it records"

# leftover WHAT LEAK ARGV...: ARGV (which leaves a process behind inside,
# keeping fd 0 and writing what it reads to ~/LEAK) on root's terminal;
# then root types at the prompt, and nothing of it may be read. FIRST: what
# to wait for and type before that (tty-driver.py's EXPECT SEND pairs).
# LAST_OUT: what tty-driver.py printed.
first=()
leftover()
{
	local what=$1 leak=$2 out alive

	shift 2
	out=$(drive after 5 "${first[@]}" -- "$@")
	last_out=$out
	is "$(field exit "$out")" 0 "$what: on a terminal, it returns"
	is "$(field detached "$(sed -n 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/^out://p' <<<"$out")")" yes "$what: the leftover inside detached"
	is "$(field queued "$out")" "$(field typed "$out")" "$what: what root typed afterwards stays unread on root's terminal" ||
		diag "$out"
	alive=$(nt_exec "$alice" "$conf" sh -c "kill -0 \"\$(cat ~/$leak.pid)\" && echo alive")
	is "$alive" alive "$what: ... while the leftover still runs inside, holding its fd 0"
	is "$(nt_exec "$alice" "$conf" sh -c "cat ~/$leak 2>/dev/null; echo end")" end "$what: ... and it read nothing"
}

leftover "nookctl exec" leak "${ex[@]}" sh -c 'python3 ~/escape-probe.py keep_fd0 ~/leak 30'

out=$(drive interact ready 'hello\n' -- "${ex[@]}" sh -c 'echo ready; read -r x; echo "got=$x"; stty size; tty; exit 7')
is "$(field exit "$out")" 7 "terminal: the exit status comes back"
like "$out" 'out:got=hello' "terminal: input reaches the command"
like "$out" 'out:33 101' "terminal: with the caller's window size"
like "$out" 'out:/dev/pts/[0-9]+' "terminal: on a pty of its own (its controlling terminal)"

out=$(drive interact ready 'winsize:40,120' -- "${ex[@]}" sh -c 'trap "stty size; exit 0" WINCH; echo ready; while :; do sleep 0.1; done')
like "$out" 'out:40 120' "terminal: a window size change reaches the command (SIGWINCH)"
is "$(field exit "$out")" 0 "terminal: ... which then exits 0"

out=$(drive interact ready '\x03' -- "${ex[@]}" sh -c 'echo ready; exec sleep 30')
is "$(field exit "$out")" 130 "terminal: ^C interrupts the command (status 130)"

# The typed line echoes "st''arted"; only the job prints "started" (once it
# has the terminal: bash gives it to the job before it runs).
out=$(drive interact '\$ ' "sh -c 'echo st\"\"arted; exec sleep 30'\\n" started '\x1a' Stopped 'exit 3\n' 'stopped jobs' 'exit 3\n' -- \
	"${ex[@]}" bash --norc --noprofile -i)
unlike "$out" 'missed=' "terminal: ^Z stops a job of an interactive shell inside (job control)"
is "$(field exit "$out")" 3 "terminal: ... which then goes on and exits"

out=$(drive interact ready '\x03' -- sh -c "exec ${ex[*]} sh -c 'echo ready >&2; exec sleep 30' >/dev/null")
is "$(field exit "$out")" 130 "no terminal on stdout: ^C on the terminal (stdin, relayed through a pipe) interrupts the command, nookctl reports it"
out=$(drive run -- sh -c "exec ${ex[*]} sh -c 'readlink /proc/self/fd/0 /proc/self/fd/1' </dev/null")
like "$out" 'out:/dev/null' "no terminal on stdin: stdin is passed as it is (/dev/null)"
like "$out" 'out:pipe:' "no terminal on stdin: stdout, a terminal, reaches the command as a pipe"

# ---------------------------------------------------------------- su's caller's terminal
# su (pam_nook, enter=session) relays its caller's terminal the same way:
# the process root called stays on the host and relays, the user gets a pty
# of their own. Root's shell sees su as before (exit status, ^C).

nt_pam_file "$NT_TMP/su.pam" "auth     sufficient pam_rootok.so" "conf=$conf" "helper=$NOOK_BUILD/nook-helper"
# su_tty CMD: `su - alice -c CMD` with our PAM file, for drive's ARGV.
su_tty=(unshare -m sh -c 'mount --bind "$1" /etc/pam.d/su && mount --bind "$1" /etc/pam.d/su-l &&
	exec su - "$2" -c "$3"' sh "$NT_TMP/su.pam" "$alice")

leftover su su-leak "${su_tty[@]}" 'python3 ~/escape-probe.py keep_fd0 ~/su-leak 30'

# ---------------------------------------------------------------- login's terminal
# login (enter=session) on a console: its terminal is the user's for the
# session. When the session ends, pam_nook's guard (host root) hangs it up,
# so a leftover inside that kept it reads nothing typed on it afterwards,
# even before a getty's vhangup(). The pty stands in for the console, bound
# over /dev/tty63 in a private mount namespace (as in 25-login-su.t).

nt_pam_file "$NT_TMP/login.pam" "auth     required pam_unix.so" "conf=$conf" "helper=$NOOK_BUILD/nook-helper"
login_tty=(unshare -m sh -c 'mount --bind "$1" /etc/pam.d/login && mount --bind "$(tty)" /dev/tty63 &&
	exec login -f "$2" <>/dev/tty63 >&0 2>&1' sh "$NT_TMP/login.pam" "$alice")
# A second leftover keeps opening the terminal again by name and reading.
reopen="setsid sh -c 'for i in \$(seq 300); do cat /dev/tty63 >>~/login-reopen 2>/dev/null; sleep 0.1; done' </dev/null >/dev/null 2>&1 &"
first=('[$#] $' "python3 ~/escape-probe.py keep_fd0 ~/login-leak 30; $reopen exit\n")
leftover login login-leak "${login_tty[@]}"
first=()
is "$(field reopened "$last_out")" yes "login: its terminal was hung up when the session ended"
out=$(nt_exec "$alice" "$conf" sh -c 'pgrep -f "seq 300" >/dev/null && echo running; cat ~/login-reopen 2>/dev/null; echo end')
like "$out" '^running' "login: a leftover that opens the terminal again by name still runs inside"
unlike "$out" 'nt-secret' "login: ... and reads nothing typed after the session (the terminal is root's again)"

out=$(drive interact ready 'hello\n' -- "${su_tty[@]}" 'echo ready; read -r x; echo "got=$x"; stty size; tty; echo "P""ID1=$(cat /proc/1/comm)"; exit 7')
is "$(field exit "$out")" 7 "su: the exit status comes back to root's shell"
like "$out" 'out:got=hello' "su: input reaches the command"
like "$out" 'out:33 101' "su: with the caller's window size"
like "$out" 'out:/dev/pts/[0-9]+' "su: on a pty of its own"
like "$out" 'out:PID1=nook-init' "su: inside the container" || diag "$out"

out=$(drive interact ready '\x03' -- "${su_tty[@]}" 'echo ready; exec sleep 30')
is "$(field exit "$out")" 130 "su: ^C interrupts the command (status 130)"

# An interactive `su - alice` (with -c, su itself starts a new session
# without a terminal, relay or not).
out=$(drive interact '\$ ' "sh -c 'echo st\"\"arted; exec sleep 30'\\n" started '\x1a' Stopped 'exit 3\n' 'stopped jobs' 'exit 3\n' -- \
	unshare -m sh -c 'mount --bind "$1" /etc/pam.d/su && mount --bind "$1" /etc/pam.d/su-l &&
		exec su - -s /bin/bash "$2"' sh "$NT_TMP/su.pam" "$alice")
unlike "$out" 'missed=' "su: ^Z stops a job of an interactive shell inside (job control)" || diag "$out"
is "$(field exit "$out")" 3 "su: ... which then goes on and exits"

out=$(drive run -- sh -c 'exec "$@" </dev/null' sh "${su_tty[@]}" 'readlink /proc/self/fd/0 /proc/self/fd/1')
like "$out" 'out:/dev/null' "su, no terminal on stdin: stdin is passed as it is (/dev/null)"
like "$out" 'out:pipe:' "su, no terminal on stdin: stdout, a terminal, reaches the command as a pipe"

# ---------------------------------------------------------------- the container's own devpts
# /dev/pts inside is a devpts instance of the container's own (pty_max=16):
# filling it ends at 16 with ENOSPC while host root and another container
# still open ptys, and the host's ptys are not listed inside. A pty made
# inside (script, tmux, screen) has its name there.

hold=$((40 * NT_WAIT_SCALE))
timeout -k 5 "$NT_TIMEOUT" "$NOOKCTL" exec "$alice" --config "$conf" -- python3 - pty_fill 100000 "$hold" \
	<"$probe" >"$NT_TMP/pty.out" 2>&1 &
fill=$!
NT_PIDS+=("$fill")
nt_until 30 grep -q '^pty=' "$NT_TMP/pty.out"
read -r n err <<<"$(field pty "$(cat "$NT_TMP/pty.out")")"
is "$err" ENOSPC "ptys: opening ptys inside ends with ENOSPC (the container's limit)"
# (Ptys the earlier leftovers still hold count too.)
[ -n "$n" ] && [ "$n" -gt 0 ] && [ "$n" -le 16 ]
ok $? "ptys: ... after at most pty_max ($n of 16)"
is "$(field pty "$(timeout -k 5 30 python3 "$probe" pty_fill 4 0 </dev/null 2>&1)")" "4 none" \
	"ptys: meanwhile host root opens ptys"
nt_user; bob=$NT_USER
is "$(field pty "$(timeout -k 5 "$NT_TIMEOUT" "$NOOKCTL" exec "$bob" --config "$conf" -- python3 - pty_fill 4 0 <"$probe" 2>&1)")" \
	"4 none" "ptys: meanwhile another user's container does"
kill -TERM "$fill" 2>/dev/null
nt_wait "$fill"

# A host pty held open while alice looks.
python3 -c 'import os, sys, time; m, s = os.openpty(); print(os.ttyname(s), flush=True); time.sleep(float(sys.argv[1]))' \
	"$hold" >"$NT_TMP/hostpty" </dev/null &
NT_PIDS+=("$!")
nt_until 10 grep -q /dev/pts/ "$NT_TMP/hostpty"
hostpty=$(cat "$NT_TMP/hostpty")
[ -c "$hostpty" ]
ok $? "control: host root holds a pty ($hostpty)"
out=$(nt_exec "$alice" "$conf" sh -c 'echo "ls=$(ls /dev/pts | tr "\n" " ")"; echo "dev=$(stat -c %d /dev/pts)"
	script -qec "tty; stat -c dev=%d \$(tty)" /dev/null')
is "$(field ls "$out")" "ptmx " "ptys: /dev/pts inside lists no host pty (only its ptmx)"
isnt "$(field dev "$out")" "$(stat -c %d /dev/pts)" "ptys: /dev/pts inside is not the host's devpts instance"
like "$out" '/dev/pts/[0-9]+' "ptys: script(1) inside gets a pty with a /dev/pts name"
is "$(tr -d '\r' <<<"$out" | sed -n 's/^dev=//p' | sort -u | wc -l)" 1 \
	"ptys: ... in the container's instance (the same device as /dev/pts)" || diag "$out"

# ---------------------------------------------------------------- TIOCSETD

host=$(timeout -k 5 30 runuser -u "$alice" -- python3 "$probe" tiocsetd </dev/null 2>&1)
is "$(field tiocsetd_ntty "$host")" ok "control: on the host the user sets N_TTY on a pty of his"
is "$(field tiocsetd_hi "$host")" ok "control: ... also with high bits set in the request (the kernel truncates it)"
like "$(field tiocsetd_null "$host")" '^(ok|EINVAL)$' \
	"control: ... and asks for N_NULL ($(field tiocsetd_null "$host"): ok, or EINVAL where no module provides it)"
out=$(in_box tiocsetd)
is "$(field tiocsetd_ntty "$out")" EPERM "TIOCSETD: refused inside by the filter (EPERM)"
is "$(field tiocsetd_null "$out")" EPERM "TIOCSETD: N_NULL (a discipline the kernel may load) is refused"
is "$(field tiocsetd_hi "$out")" EPERM "TIOCSETD: with high bits set in the request too"

done_testing
