# shellcheck shell=bash
#
# A real sshd for nook's end-to-end tests. Source it after lib.sh and
# require_root:
#
#	. "$(dirname "$0")/lib.sh"
#	. "$(dirname "$0")/sshd.sh"
#	require_root
#	nt_user; alice=$NT_USER
#	nt_config "$NT_TMP/a.conf" hostname=box-%u
#	nt_sshd_start "$NT_TMP/a.conf"
#	nt_ssh_key "$alice"
#	out=$(nt_ssh "$alice" hostname)
#
# NT_SSH_NS, when set (netns.sh's nt_netns_ssh does), is a command prefix
# that puts the sshd copies, the clients and the port checks into another
# network namespace.
#
# Each nt_sshd_start runs a private copy of /usr/sbin/sshd named
# nook-test-sshd-nt-<id>-<n> in NT_TMP. A copy of sshd uses its own name as
# PAM service (DESIGN.md, "Test isolation trick"), so it reads
# /etc/pam.d/nook-test-sshd-nt-<id>-<n>, which holds pam_nook from the build
# tree: the system's sshd and /etc/pam.d/sshd are never touched. It listens
# on a free 127.0.0.1 port, logs to its own file (-E), and takes keys from
# NT_TMP/keys/<user> (AuthorizedKeysFile), so no home and no root's
# authorized_keys is ever written.
#
# Cleanup: nt_sshd_cleanup ends, by pid, the background ssh clients, every
# process of the sessions of our sshd copies, the copies, the agent and the
# syslog catcher. A script calls it before done_testing (whose cleanup
# deletes the users, which fails while a process of theirs lives); on any
# other exit it runs from the EXIT trap, which we chain in front of
# lib.sh's. The pam.d files are registered with lib.sh's nt_path.

NT_SSH_TIMEOUT=${NT_SSH_TIMEOUT:-30}
NT_PY=/usr/bin/python3
NT_SSH_KEY=            # the client key, made at the first nt_sshd_start
NT_SSHD=               # the current instance (see nt_sshd_use)
NT_SSHD_PORT=
NT_SSHD_PID=
NT_SSHD_LOG=
NT_SSHD_PAM=
NT_SSHD_CONF=          # the nook config of the current instance
NT_SYSLOG=             # the catcher's file, or empty without a catcher
NT_SSH_BG=             # pid of the last nt_ssh_bg
NT_AGENT_SOCK=
NT_SSH_NS=()           # a prefix (nsenter --net=...) for sshd and its clients
NT_SSHD_TAIL=()        # sshd_config lines after the defaults (Match blocks)
_nt_sshd_n=0
_nt_sshd_hooked=0
_nt_sshd_ports=()
_nt_sshd_pids=()
_nt_sshd_logs=()
_nt_sshd_pams=()
_nt_sshd_confs=()
_nt_ssh_bgs=()
_nt_agent_pid=
_nt_syslog_pid=
_nt_syslog_ino=

# ---------------------------------------------------------------- cleanup

# Chains our cleanup in front of the EXIT trap that require_root set, and
# keeps the exit status it sees.
_nt_sshd_hook()
{
	local prev

	[ "$_nt_sshd_hooked" = 1 ] && return 0
	[ -n "$NT_TMP" ] || bail "sshd.sh: call require_root first"
	_nt_sshd_hooked=1
	# `trap -p EXIT` prints: trap -- 'COMMAND' EXIT
	prev=$(trap -p EXIT)
	eval "_nt_third $prev"
	trap '_nt_sshd_on_exit' EXIT
}

_nt_third() { _nt_sshd_prev_trap=${3:-}; }
_nt_status() { return "$1"; }

_nt_sshd_on_exit()
{
	local rc=$?

	nt_sshd_cleanup
	_nt_status "$rc"
	eval "$_nt_sshd_prev_trap"
}

# nt_gone PID: the process has exited (or is a zombie nobody reaped).
nt_gone()
{
	[ ! -d "/proc/$1" ] || [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" = Z ]
}

# _nt_descendants PID: the children of PID, their children, and so on.
_nt_descendants()
{
	local c

	for c in $(_nt_children "$1"); do
		echo "$c"
		_nt_descendants "$c"
	done
}

# _nt_children PID: the direct children of PID.
_nt_children()
{
	local t

	for t in /proc/"$1"/task/*/children; do
		[ -r "$t" ] && tr ' ' '\n' <"$t"
	done | grep -E '^[0-9]+$'
	return 0
}

# _nt_starttime PID: the process's start time (field 22 of its stat), which
# tells it from a later process that got the same pid.
_nt_starttime()
{
	local s

	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	read -r -a s <<<"${s##*) }"
	echo "${s[19]}"
}

# _nt_end_all SECONDS PID...: TERM, a bounded wait, then KILL for those
# still running (and still the same processes).
_nt_end_all()
{
	local secs=$1 pid i left
	local -A st=()

	shift
	[ $# -gt 0 ] || return 0
	for pid; do
		st[$pid]=$(_nt_starttime "$pid")
	done
	kill -TERM "$@" 2>/dev/null
	for ((i = 0; i < secs * 20; i++)); do
		left=0
		for pid; do
			nt_gone "$pid" || left=1
		done
		[ "$left" = 0 ] && return 0
		sleep 0.05
	done
	for pid; do
		if [ -n "${st[$pid]}" ] && [ "$(_nt_starttime "$pid")" = "${st[$pid]}" ]; then
			kill -KILL "$pid" 2>/dev/null
		fi
	done
	return 0
}

# Ends, in this order: background clients, every session of our sshd
# copies (monitors, the sessions' sshd processes and whatever they started,
# found as descendants of the listeners we started), the listeners, the
# agent, the syslog catcher. Done before lib.sh's cleanup deletes the
# users, which fails while a process of theirs lives (a command of a host
# session survives its sshd). Runs again harmlessly.
nt_sshd_cleanup()
{
	local pid procs=()

	# All collected first: the commands of a host session leave the tree
	# as soon as its client or its sshd process goes.
	for pid in "${_nt_sshd_pids[@]}"; do
		[ -n "$pid" ] && mapfile -t -O "${#procs[@]}" procs < <(_nt_descendants "$pid")
	done
	_nt_end_all 5 "${procs[@]}"
	for pid in "${_nt_ssh_bgs[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${_nt_ssh_bgs[@]}"; do
		_nt_end_all 5 "$pid"
		nt_wait "$pid"
	done
	_nt_ssh_bgs=()
	for pid in "${_nt_sshd_pids[@]}"; do
		[ -n "$pid" ] || continue
		_nt_end_all 5 "$pid"
		nt_wait "$pid"
	done
	_nt_sshd_pids=()
	if [ -n "$_nt_agent_pid" ]; then
		_nt_end_all 5 "$_nt_agent_pid"
		nt_wait "$_nt_agent_pid"
		_nt_agent_pid=
	fi
	if [ -n "$_nt_syslog_pid" ]; then
		# The catcher unlinks its own socket on TERM; if it could not, we
		# do, but only if /dev/log still is the socket it made.
		_nt_end_all 5 "$_nt_syslog_pid"
		nt_wait "$_nt_syslog_pid"
		_nt_syslog_pid=
		if [ -S /dev/log ] && [ "$(stat -c %i /dev/log)" = "$_nt_syslog_ino" ]; then
			rm -f /dev/log
		fi
	fi
	return 0
}

# ---------------------------------------------------------------- setup

# nt_free_port: a TCP port of 127.0.0.1 that nothing listens on now.
nt_free_port()
{
	"${NT_SSH_NS[@]}" "$NT_PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# nt_port_listening PORT: something listens on 127.0.0.1:PORT in the host's
# network namespace.
nt_port_listening()
{
	[ -n "$("${NT_SSH_NS[@]}" ss -Hltn "sport = :$1" 2>/dev/null)" ]
}

_nt_sshd_keys()
{
	[ -n "$NT_SSH_KEY" ] && return 0
	install -d -m 0755 "$NT_TMP/keys"
	NT_SSH_KEY=$NT_TMP/id_client
	ssh-keygen -q -t ed25519 -N '' -C nt-client -f "$NT_SSH_KEY" || bail "ssh-keygen failed"
	ssh-keygen -q -t ed25519 -N '' -C nt-host -f "$NT_TMP/hostkey" || bail "ssh-keygen failed"
}

# nt_ssh_key USER: USER may log in with the client key.
nt_ssh_key()
{
	_nt_sshd_keys
	install -m 0644 "$NT_SSH_KEY.pub" "$NT_TMP/keys/$1"
}

# nt_sshd_pam MODULE-ARG...: (re)writes the current instance's PAM file with
# pam_nook and these arguments. sshd reads it at each login.
nt_sshd_pam()
{
	local mod="$NOOK_BUILD/pam_nook.so $*"

	printf '%s\n' "# nook integration test ($0); removed at its exit" \
		"@include common-auth" \
		"auth     optional $mod" \
		"account  required $mod" \
		"@include common-account" \
		"@include common-session" \
		"session  required $mod" >"$NT_SSHD_PAM"
	chmod 0644 "$NT_SSHD_PAM"
}

# nt_sshd_start CONF [SSHD-CONFIG-LINE...]: starts a new sshd copy with
# pam_nook (conf=CONF, the build tree's helper) and makes it the current
# instance. The lines go first, so they win over the defaults (sshd keeps
# the first value of a keyword); a Subsystem line replaces the default
# internal-sftp. NT_SSHD_LISTEN, when set, is one more address it listens
# on (on the same port).
nt_sshd_start()
{
	local conf=$1 n name dir port try line sub=0 pid i scope

	shift
	_nt_sshd_hook
	_nt_sshd_keys
	mkdir -p /run/sshd
	n=$((_nt_sshd_n += 1))
	name=nook-test-sshd-$NT_CG-$n
	dir=$NT_TMP/sshd-$n
	install -d -m 0755 "$dir"
	cp /usr/sbin/sshd "$dir/$name"
	NT_SSHD_PAM=/etc/pam.d/$name
	nt_path "$NT_SSHD_PAM"
	NT_SSHD_CONF=$conf
	nt_sshd_pam "conf=$conf" "helper=$NOOK_BUILD/nook-helper"
	for line; do
		[[ $line == [Ss]ubsystem* ]] && sub=1
	done
	for try in 1 2 3 4 5; do
		# Under systemd the copy runs in a scope of its own in our
		# slice, as the system's sshd runs in ssh.service: started from
		# a login session (ours), pam_systemd would find its logins
		# "already running in a session" and register none with logind.
		scope=()
		if [ "$NT_SYSTEMD" = 1 ]; then
			scope=(systemd-run --quiet --scope --collect --slice="$NT_SLICE"
				--unit="nt-sshd-$NT_ID-$n-$try" --)
		fi
		port=$(nt_free_port) || bail "cannot pick a port"
		{
			printf '%s\n' "$@"
			cat <<-EOF
				Port $port
				ListenAddress 127.0.0.1
				${NT_SSHD_LISTEN:+ListenAddress $NT_SSHD_LISTEN}
				HostKey $NT_TMP/hostkey
				PidFile none
				UsePAM yes
				PasswordAuthentication no
				KbdInteractiveAuthentication no
				PubkeyAuthentication yes
				AuthorizedKeysFile $NT_TMP/keys/%u
				StrictModes no
				PermitRootLogin prohibit-password
				UseDNS no
				PrintMotd no
				PrintLastLog no
				MaxStartups 100
				LogLevel VERBOSE
			EOF
			[ "$sub" = 1 ] || echo "Subsystem sftp internal-sftp"
			# Match blocks run to the end of the file: last.
			[ "${#NT_SSHD_TAIL[@]}" -gt 0 ] && printf '%s\n' "${NT_SSHD_TAIL[@]}"
		} >"$dir/sshd_config"
		: >"$dir/sshd.log"
		"${scope[@]}" "${NT_SSH_NS[@]}" "$dir/$name" -D -f "$dir/sshd_config" -E "$dir/sshd.log" </dev/null &
		pid=$!
		NT_PIDS+=("$pid")
		for ((i = 0; i < 200; i++)); do
			grep -q "Server listening on 127.0.0.1 port $port" "$dir/sshd.log" && break
			nt_gone "$pid" && break
			sleep 0.05
		done
		if grep -q "Server listening on 127.0.0.1 port $port" "$dir/sshd.log"; then
			_nt_sshd_ports[n]=$port
			_nt_sshd_pids[n]=$pid
			_nt_sshd_logs[n]=$dir/sshd.log
			_nt_sshd_pams[n]=$NT_SSHD_PAM
			_nt_sshd_confs[n]=$conf
			nt_sshd_use "$n"
			return 0
		fi
		diag "sshd on port $port did not start (try $try):"
		diag "$(cat "$dir/sshd.log")"
		kill -KILL "$pid" 2>/dev/null
		nt_wait "$pid"
	done
	bail "cannot start sshd"
}

# nt_sshd_use N: makes instance N (1 for the first nt_sshd_start) current.
# shellcheck disable=SC2034 # NT_SSHD and NT_SSHD_CONF: for the test scripts
nt_sshd_use()
{
	NT_SSHD=$1
	NT_SSHD_PORT=${_nt_sshd_ports[$1]}
	NT_SSHD_PID=${_nt_sshd_pids[$1]}
	NT_SSHD_LOG=${_nt_sshd_logs[$1]}
	NT_SSHD_PAM=${_nt_sshd_pams[$1]}
	NT_SSHD_CONF=${_nt_sshd_confs[$1]}
}

# nt_syslog_start: when the machine has no /dev/log, catches what is sent
# there (pam_syslog, the helper) into NT_SYSLOG until the script ends. An
# existing /dev/log is never replaced: NT_SYSLOG then stays empty.
nt_syslog_start()
{
	local f=$NT_TMP/syslog

	_nt_sshd_hook
	[ -e /dev/log ] && return 0
	: >"$f"
	# bind() fails if /dev/log appeared meanwhile: we then do without.
	"$NT_PY" -c 'import os, signal, socket, sys
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
old = os.umask(0)
try:
    s.bind(path)
except OSError:
    sys.exit(1)
os.umask(old)
ino = os.stat(path).st_ino
def bye(*_):
    try:
        if os.stat(path).st_ino == ino:
            os.unlink(path)
    except OSError:
        pass
    os._exit(0)
for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(sig, bye)
with open(out, "ab", buffering=0) as f:
    f.write(b"-- ready %d\n" % ino)
    while True:
        f.write(s.recv(65536).rstrip(b"\0\n") + b"\n")' /dev/log "$f" </dev/null &
	_nt_syslog_pid=$!
	NT_PIDS+=("$_nt_syslog_pid")
	if nt_until 5 grep -q '^-- ready' "$f"; then
		_nt_syslog_ino=$(sed -n 's/^-- ready //p' "$f")
		NT_SYSLOG=$f
		return 0
	fi
	_nt_end_all 2 "$_nt_syslog_pid"
	nt_wait "$_nt_syslog_pid"
	_nt_syslog_pid=
	return 0
}

# nt_agent_start: a private ssh-agent (NT_AGENT_SOCK), ended at exit.
nt_agent_start()
{
	_nt_sshd_hook
	NT_AGENT_SOCK=$NT_TMP/agent.sock
	ssh-agent -D -a "$NT_AGENT_SOCK" >/dev/null </dev/null &
	_nt_agent_pid=$!
	NT_PIDS+=("$_nt_agent_pid")
	nt_until 5 test -S "$NT_AGENT_SOCK" || bail "ssh-agent did not start"
}

# ---------------------------------------------------------------- logs

# nt_log_mark: remembers where the logs end now (see nt_log_since).
nt_log_mark()
{
	_nt_mark_sshd=$(stat -c %s "$NT_SSHD_LOG" 2>/dev/null || echo 0)
	_nt_mark_syslog=0
	[ -n "$NT_SYSLOG" ] && _nt_mark_syslog=$(stat -c %s "$NT_SYSLOG")
	return 0
}

# nt_log_since: what sshd (and, with a catcher, syslog) logged since
# nt_log_mark.
nt_log_since()
{
	tail -c +$((_nt_mark_sshd + 1)) "$NT_SSHD_LOG"
	[ -n "$NT_SYSLOG" ] && tail -c +$((_nt_mark_syslog + 1)) "$NT_SYSLOG"
	return 0
}

# ---------------------------------------------------------------- clients

# The options of every client (ssh, scp, sftp, rsync -e), without the port:
# no user config, the client key only, no host key prompts, bounded waits.
_nt_ssh_opts()
{
	_nt_sshd_keys
	NT_SSH_OPTS=(-F /dev/null -i "$NT_SSH_KEY" -o IdentitiesOnly=yes -o BatchMode=yes
		-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
		-o GlobalKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=10
		-o ServerAliveInterval=5 -o ServerAliveCountMax=4)
}

# nt_ssh USER [SSH-ARG...]: ssh to the current instance as USER, stdin from
# /dev/null, killed after NT_SSH_TIMEOUT seconds. Extra options go before
# the command: nt_ssh alice -tt 'tty'.
nt_ssh()
{
	nt_ssh_in "$@" </dev/null
}

# nt_ssh_in USER [SSH-ARG...]: the same with this shell's stdin.
nt_ssh_in()
{
	local user=$1

	shift
	_nt_ssh_opts
	timeout -k 5 "$NT_SSH_TIMEOUT" "${NT_SSH_NS[@]}" ssh "${NT_SSH_OPTS[@]}" -p "$NT_SSHD_PORT" -l "$user" 127.0.0.1 "$@"
}

# nt_ssh_bg OUT USER [SSH-ARG...]: nt_ssh in the background, output to OUT;
# NT_SSH_BG is its pid (timeout's: TERM reaches ssh). Reap with nt_wait;
# what is left is ended at exit.
nt_ssh_bg()
{
	local out=$1 user=$2

	shift 2
	_nt_ssh_opts
	# timeout itself in the background (not a subshell), so that TERM to
	# NT_SSH_BG reaches ssh.
	timeout -k 5 "$NT_SSH_TIMEOUT" "${NT_SSH_NS[@]}" ssh "${NT_SSH_OPTS[@]}" -p "$NT_SSHD_PORT" -l "$user" 127.0.0.1 "$@" \
		</dev/null >"$out" 2>&1 &
	NT_SSH_BG=$!
	NT_PIDS+=("$NT_SSH_BG")
	_nt_ssh_bgs+=("$NT_SSH_BG")
}

# nt_ssh_stop PID: ends a background client (TERM, then KILL) and reaps it.
nt_ssh_stop()
{
	local i

	_nt_end_all 5 "$1"
	nt_wait "$1"
	for i in "${!_nt_ssh_bgs[@]}"; do
		[ "${_nt_ssh_bgs[$i]}" = "$1" ] && unset '_nt_ssh_bgs[i]'
	done
	return 0
}

# nt_ssh_cmd: the ssh command line (for rsync -e), quoted for a shell.
nt_ssh_cmd()
{
	_nt_ssh_opts
	printf '%q ' ssh "${NT_SSH_OPTS[@]}" -p "$NT_SSHD_PORT"
}

# nt_scp ARG...: scp to the current instance (host 127.0.0.1).
nt_scp()
{
	_nt_ssh_opts
	timeout -k 5 "$NT_SSH_TIMEOUT" scp -q "${NT_SSH_OPTS[@]}" -P "$NT_SSHD_PORT" "$@" </dev/null
}

# nt_sftp USER BATCHFILE: runs sftp's batch file as USER.
nt_sftp()
{
	_nt_ssh_opts
	timeout -k 5 "$NT_SSH_TIMEOUT" sftp -q "${NT_SSH_OPTS[@]}" -P "$NT_SSHD_PORT" -b "$2" "$1@127.0.0.1" </dev/null
}

# nt_rsync ARG...: rsync over ssh to the current instance.
nt_rsync()
{
	timeout -k 5 "$NT_SSH_TIMEOUT" rsync -e "$(nt_ssh_cmd)" "$@" </dev/null
}

# nt_sessions: the pids of the monitors ("sshd: USER [priv]") of the
# current instance's open connections.
nt_sessions()
{
	_nt_children "$NT_SSHD_PID"
}
