#!/bin/bash
# ew-variants: release
# ew-lock: wine
# The Windows agent as a Windows service, under wine, against a real
# Linux collector on loopback: `service install` registers it (auto
# start, LocalSystem, recovery actions), `net start` starts it through
# the SCM dispatcher and it reports heartbeats, `net stop` stops it
# gracefully (agent.stop spooled, the spool closed, nothing lost), and
# `service uninstall` stops and removes it. Then the MSI: a silent
# install with the enrollment properties enrolls and starts the service,
# a newer MSI upgrades it keeping its identity and spool, and msiexec /x
# removes it.
# Wine kills services a few seconds after its last other process exits:
# one `ping` keeps the prefix's wineserver company for the whole test.
# One wine prefix (the unit suites' and windows_agent.sh's) and one
# collector for the whole script. Release only: no sanitizer build
# changes the .exe.
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/lib_windows.bash"

windows_ready || { tap_finish; exit 0; }
DRIVE_C="$WINEPREFIX/drive_c"
# The service's state folder, where an installed agent keeps it.
SVC_STATE='C:\ProgramData\eduwatch-svctest'
SVC_STATE_UNIX="$DRIVE_C/ProgramData/eduwatch-svctest"
SVC_CONF="$SVC_STATE\\agent.yaml"
w() { timeout 120 wine "$@"; }
svc_state() { w sc query eduwatch-agent 2>/dev/null | tr -d '\r' | awk '/STATE/ {print $4}'; }
svc_is() { [ "$(svc_state)" = "$1" ]; }
MSI=$(ls "$WIN_DIR"/bin/eduwatch-agent-*-x64.msi 2>/dev/null | head -1)
NEXT_MSI=$(ls "$WIN_DIR"/tests/eduwatch-agent-*-x64.msi 2>/dev/null | head -1)
# Whatever a failed run left (the service, either product), and the
# wineserver, go with the test: the prefix is shared with the others.
# Kept in a file: each scenario runs in a subshell of its own.
LEFT_FILE="$WORK/left" # what the test installed and has not removed yet
left() { printf '%s\n' "$@" >"$LEFT_FILE"; }
leave_prefix_clean() {
	local m
	while read -r m; do
		case $m in
		service) w "$EXE" service uninstall >/dev/null 2>&1 ;;
		?*) w msiexec /x "$(winepath -w "$m")" /qn >/dev/null 2>&1 ;;
		esac
	done <"$LEFT_FILE" 2>/dev/null
	windows_done
}
trap 'leave_prefix_clean; cleanup' EXIT

D="$WORK/collector"

setup() {
	rm -rf "$SVC_STATE_UNIX" # what an earlier run left
	wine cmd /c "ping -n 1200 127.0.0.1 >nul" >/dev/null 2>&1 &
	PIDS+=($!)
	collector_init "$D" || { not_ok "collector init"; return 1; }
	"$COLLECTOR" school add 79017 "TH Dịch vụ" --commune "Xã An" --level 1 \
		--expected-pcs 2 -c "$CONF" >/dev/null
	collector_start "$WORK/collector.log" || { not_ok "collector start"; return 1; }
	TOKEN=$("$COLLECTOR" token create --school 79017 --uses 3 -c "$CONF" 2>/dev/null)
	FP=$(openssl x509 -in "$D/ca.crt" -noout -fingerprint -sha256 | cut -d= -f2)
	echo "# ${SECONDS}s: collector up"
}

# `service install`, net start and stop, a restart, `service uninstall`.
scenario_service() {
	agent enroll --collector "localhost:$INGEST_PORT" --enroll-port "$ENROLL_PORT" \
		--token "$TOKEN" --ca-sha256 "$FP" --state-dir "$SVC_STATE" -c "$SVC_CONF" \
		>"$WORK/enroll.out" 2>&1
	check "the .exe enrolls into ProgramData with a pinned CA fingerprint" test $? -eq 0
	ID=$(tr -d '\r' <"$WORK/enroll.out" | sed -n 's/^enrolled as agent \([^ ]*\) .*/\1/p')
	sed -i 's/interval: 60s/interval: 1s/; s/backoff_max: 5m/backoff_max: 2s/' \
		"$SVC_STATE_UNIX/agent.yaml"

	agent service install -c "$SVC_CONF" >"$WORK/install.out" 2>&1
	left service
	echo "# ${SECONDS}s: service installed"
	check "service install registers the service" grep -q "installed" "$WORK/install.out"
	check "the SCM knows it, stopped" wait_for 30 svc_is STOPPED
	reg=$(w reg query 'HKLM\System\CurrentControlSet\Services\eduwatch-agent' 2>&1 | tr -d '\r')
	check "it starts automatically (Start = 2)" grep -qiE "Start.*REG_DWORD.*0x2" <<<"$reg"
	check "its command line is 'run -c' with the absolute settings path" \
		grep -qF 'eduwatch-agent.exe" run -c "C:\ProgramData\eduwatch-svctest\agent.yaml"' <<<"$reg"
	check "it runs as LocalSystem" grep -qiE "ObjectName.*LocalSystem" <<<"$reg"
	# Its recovery actions (restart after 10 s, 1 min, 5 min) are set too,
	# but wine's SCM accepts them without keeping or applying them: only a
	# real Windows can confirm them.

	w net start eduwatch-agent >"$WORK/start.out" 2>&1
	check "net start starts it through the SCM dispatcher" wait_for 60 svc_is RUNNING
	check "the service connects and its events arrive" wait_event 90 '"kind":"agent.start"'
	check "the service reports heartbeats" wait_for 90 two_heartbeats
	check "its log goes to the state folder (a service has no console)" \
		wait_for 30 grep -q "uplink: connected" "$SVC_STATE_UNIX/agent.log"

	w net stop eduwatch-agent >"$WORK/stop.out" 2>&1
	check "net stop stops it" wait_for 60 svc_is STOPPED
	check "the stop went through the agent's graceful path" \
		grep -q "stop requested, stopping" "$SVC_STATE_UNIX/agent.log"
	check "and the agent closed the spool and its loop" \
		grep -q "agent: stopped" "$SVC_STATE_UNIX/agent.log"

	# The agent.stop of the first run was spooled, not sent: the next start
	# delivers it, once.
	w net start eduwatch-agent >/dev/null 2>&1
	check "the service starts again" wait_for 60 svc_is RUNNING
	check "the spooled agent.stop of the first run arrives after the restart" \
		wait_event 90 '"kind":"agent.stop"'
	check "both runs reported" wait_for 60 starts_twice

	agent service uninstall >"$WORK/uninstall.out" 2>&1
	left
	echo "# ${SECONDS}s: service uninstalled"
	check "service uninstall succeeds" grep -q "removed" "$WORK/uninstall.out"
	check "it stopped the running service first (graceful)" \
		wait_for 30 bash -c "[ \$(cat '$SVC_STATE_UNIX/agent.log' 2>/dev/null | grep -c 'stop requested, stopping') -ge 2 ]"
	check "the SCM no longer knows the service" \
		bash -c "! wine sc query eduwatch-agent 2>/dev/null | grep -q STATE"
	r=$(seq_report)
	check "no event lost or duplicated across the service's stops ($r)" grep -q "dups=0 gaps=\[\]" <<<"$r"

}

# The MSI, as a school deploys it: silent, per machine, with the
# enrollment properties on the command line; then an upgrade and /x.
scenario_msi() {
	STATE_UNIX="$DRIVE_C/ProgramData/eduwatch"
	EXE_UNIX="$DRIVE_C/Program Files/eduwatch/eduwatch-agent.exe"
	INSTALLED_CONF='C:\ProgramData\eduwatch\agent.yaml'
	rm -rf "$STATE_UNIX"
	msi_id() { agent status -c "$INSTALLED_CONF" 2>/dev/null | tr -d '\r' | sed -n 's/^enrolled: *yes, agent \([^ ,]*\).*/\1/p'; }
	w msiexec /i "$(winepath -w "$MSI")" /qn \
		COLLECTOR="localhost:$INGEST_PORT" ENROLL_PORT="$ENROLL_PORT" \
		TOKEN="$TOKEN" CA_SHA256="$FP" >/dev/null 2>&1
	check_msi_rc=$?
	left "$MSI"
	echo "# ${SECONDS}s: MSI installed"
	check "msiexec /i /qn with COLLECTOR, TOKEN and CA_SHA256 succeeds" test $check_msi_rc -eq 0
	check "it installs the .exe under Program Files" test -f "$EXE_UNIX"
	check "and enrolls the PC into ProgramData\\eduwatch" test -s "$STATE_UNIX/agent.crt"
	# Wine's msi prints every property in its verbose log, hidden or not;
	# Windows Installer prints MsiHiddenProperties as asterisks. What the
	# package controls is that it names TOKEN there.
	check "the package hides TOKEN from Windows Installer's logs" \
		grep -qP '^MsiHiddenProperties\tTOKEN' <(msiinfo export "$MSI" Property 2>/dev/null)
	check "its service runs" wait_for 60 svc_is RUNNING
	reg=$(w reg query 'HKLM\System\CurrentControlSet\Services\eduwatch-agent' 2>&1 | tr -d '\r')
	installed_service_ok() {
		grep -qiE 'ObjectName.*LocalSystem' <<<"$reg" &&
			grep -qiE 'Start.*REG_DWORD.*0x2' <<<"$reg" &&
			grep -qF 'run -c "C:\ProgramData\eduwatch\agent.yaml"' <<<"$reg"
	}
	check "as LocalSystem, auto-start, on the installed settings" installed_service_ok
	ID=$(msi_id)
	check "the installed agent has its own identity ($ID)" test -n "$ID"
	check "the installed service reports to the collector" wait_event 90 '"kind":"agent.heartbeat"'
	check "with its inventory" wait_event 90 '"kind":"agent.inventory".*Windows'

	# A newer version over it (no properties: an upgrade does not enroll).
	w msiexec /i "$(winepath -w "$NEXT_MSI")" /qn >/dev/null 2>&1
	check "the newer MSI upgrades it silently" test $? -eq 0
	left "$NEXT_MSI"
	echo "# ${SECONDS}s: MSI upgraded"
	check "the upgraded service runs" wait_for 60 svc_is RUNNING
	check "the PC keeps its identity across the upgrade" eq "$(msi_id)" "$ID"
	uninstall_keys() { w reg query 'HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall' /s 2>/dev/null | tr -d '\r' | grep -c 'DisplayName.*eduwatch agent'; }
	check "one product is installed after the upgrade, not two" eq "$(uninstall_keys)" 1
	check "the old version's agent.stop, spooled, arrives" wait_event 90 '"kind":"agent.stop"'
	check "and the upgraded agent reports under the same identity" wait_for 90 starts_twice
	r=$(seq_report)
	check "its spool crossed the upgrade whole ($r)" grep -q "dups=0 gaps=\[\]" <<<"$r"

	w msiexec /x "$(winepath -w "$NEXT_MSI")" /qn >/dev/null 2>&1
	check "msiexec /x removes it silently" test $? -eq 0
	left
	echo "# ${SECONDS}s: MSI removed"
	check "the service is gone" bash -c "! wine sc query eduwatch-agent 2>/dev/null | grep -q STATE"
	check "the product is no longer registered" eq "$(uninstall_keys)" 0
	# Not "the .exe is gone": wine's SCM reports the service stopped while
	# its process is still exiting, and an .exe in use is left for a reboot
	# (seen once in three runs). Removed here, so the prefix stays clean.
	rm -rf "$DRIVE_C/Program Files/eduwatch"
	check "the state folder stays (a reinstall keeps the PC's identity)" test -s "$STATE_UNIX/agent.crt"
	rm -rf "$STATE_UNIX"
}

teardown() {
	rm -rf "$SVC_STATE_UNIX"
}

run_scenarios
