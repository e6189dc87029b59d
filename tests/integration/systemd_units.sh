#!/bin/bash
# The packaged systemd units (issue 12, finding 10), checked offline with
# systemd's own analyzer, as a reviewer would:
#  - each unit parses (systemd-analyze verify, the missing binary aside);
#  - each unit's exposure score meets its target: collector and score
#    snapshot at most 2.0, agent at most 5.0;
#  - the agent's capability bounding set is the list SECURITY.md
#    justifies, and no more;
#  - the collector and its snapshot job read the same collector.yaml.
# Scenarios run alone by name: make test ONLY=systemd_units:capabilities
# It runs systemd-analyze on the unit files and no eduwatch binary, which
# no sanitizer build changes:
# ew-variants: release
. "$(dirname "$0")/lib.bash"
UNITS=${EW_UNITS:-"$(cd "$(dirname "$0")/../../packaging/systemd" && pwd)"}

if ! command -v systemd-analyze >/dev/null; then
	echo "ok 1 # SKIP systemd-analyze is not installed (scripts/deps.sh test)"
	echo "1..1"
	exit 0
fi

# The exposure score, e.g. 1.2, from the analyzer's last line.
score() {
	systemd-analyze security --offline=yes --no-pager "$UNITS/$1" 2>/dev/null |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}
at_most() { # at_most VALUE LIMIT
	awk -v v="$1" -v l="$2" 'BEGIN { exit !(v != "" && v + 0 <= l + 0) }'
}

scenario_parse() {
	local unit errs
	for unit in eduwatch-collector.service eduwatch-agent.service \
		eduwatch-score-snapshot.service eduwatch-score-snapshot.timer; do
		# The binaries are not installed here: that one complaint is expected.
		errs=$(systemd-analyze verify --man=no "$UNITS/$unit" 2>&1 |
			grep -v "is not executable: No such file or directory" |
			grep -v "^$")
		check "$unit parses cleanly${errs:+ ($errs)}" test -z "$errs"
	done
}

scenario_exposure() {
	local pair unit limit s
	for pair in eduwatch-collector.service:2.0 eduwatch-score-snapshot.service:2.0 \
		eduwatch-agent.service:5.0; do
		unit=${pair%%:*} limit=${pair#*:}
		s=$(score "$unit")
		echo "# $unit: exposure $s (target <= $limit)"
		check "$unit exposure ${s:-?} is at most $limit" at_most "$s" "$limit"
	done
}

# The agent's bounding set: exactly what it uses (SECURITY.md).
scenario_capabilities() {
	local caps
	caps=$(sed -n '/^CapabilityBoundingSet=/,/[^\\]$/p' "$UNITS/eduwatch-agent.service" |
		sed 's/^CapabilityBoundingSet=//; s/\\$//' | tr -s ' \t' '\n' | grep . | sort | tr '\n' ' ')
	check "the agent keeps only its listed capabilities ($caps)" eq "$caps" \
		"CAP_CHOWN CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_KILL CAP_NET_RAW CAP_SETGID CAP_SETPCAP CAP_SETUID "
}

scenario_hardening() {
	local missing="" opt unit
	for opt in PrivateDevices=yes ProtectClock=yes ProtectKernelLogs=yes \
		RestrictSUIDSGID=yes ProtectHostname=yes RestrictRealtime=yes; do
		for unit in eduwatch-collector.service eduwatch-agent.service \
			eduwatch-score-snapshot.service; do
			grep -qx "$opt" "$UNITS/$unit" || missing="$missing $unit:$opt"
		done
	done
	check "every unit sets PrivateDevices, ProtectClock, ProtectKernelLogs, RestrictSUIDSGID, ProtectHostname, RestrictRealtime${missing:+ (missing:$missing)}" \
		test -z "$missing"
}

conf() { sed -n 's/^Environment=EDUWATCH_COLLECTOR_CONFIG=//p' "$UNITS/$1"; }
scenario_shared_config() {
	local c1 c2 sd
	c1=$(conf eduwatch-collector.service)
	c2=$(conf eduwatch-score-snapshot.service)
	check "collector and score snapshot read the same config ($c1 / $c2)" \
		test -n "$c1" -a "$c1" = "$c2"
	# And that file is in the state dir both units own, where init writes it.
	sd=$(sed -n 's/^StateDirectory=//p' "$UNITS/eduwatch-score-snapshot.service")
	check "the snapshot's config is inside its StateDirectory ($sd)" \
		test "${c2#/var/lib/$sd/}" != "$c2"
}

run_scenarios
