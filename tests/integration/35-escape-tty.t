#!/bin/bash
# Escape attempts, part 5: terminals. TIOCSETD would let any pty inside
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
nt_config "$conf"
# shellcheck source-path=SCRIPTDIR source=escape.sh
. "$NT_REPO/tests/integration/escape.sh"

in_box()
{
	timeout -k 5 "$NT_TIMEOUT" "$NOOKCTL" exec "$alice" --config "$conf" -- python3 - "$@" <"$probe" 2>&1
}

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
