# shellcheck shell=bash
#
# Shared by the escape-attempt scripts (30, 32, 33), sourced after lib.sh
# and sshd.sh: the probe (escape-probe.py) copied where test users can read
# it, and the helpers that read its NAME=RESULT output.

probe=$NT_TMP/escape-probe.py
install -m 0644 "$NT_REPO/tests/integration/escape-probe.py" "$probe"

# failed DESC VALUE: VALUE is a non-zero exit status (not empty: a probe
# that did not run must not pass).
failed()
{
	like "$2" '^[1-9][0-9]*$' "$1"
}

# field NAME TEXT: the value of the (first) NAME=... line of TEXT.
field()
{
	local line

	while IFS= read -r line; do
		line=${line%$'\r'}
		if [[ $line == "$1="* ]]; then
			printf '%s\n' "${line#"$1="}"
			return 0
		fi
	done <<<"$2"
	return 0
}
