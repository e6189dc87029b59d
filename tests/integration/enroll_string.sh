#!/bin/bash
# The one-string enrollment (issue 20): `eduwatch-collector agent
# enroll-string` prints the collector's address, a fresh token and the CA
# fingerprint as one checksummed string; `eduwatch-agent enroll STRING`
# (or --from FILE) enrolls with it and the agent then reports over real
# mutual TLS. Hostile strings (cut short, mistyped, pasted twice, not
# one) are refused before anything is sent and spend no token use; a
# string whose fingerprint is another CA's is refused at the TLS
# handshake. Scenarios run alone: make test ONLY=enroll_string:round_trip
. "$(dirname "$0")/lib.bash"
AGENT="$EW_BIN/eduwatch-agent"
D=$WORK/collector
LOG=$WORK/collector.log

setup() {
	mkdir -p "$WORK"/{rt,from,from3,bad,after,fp,san}
	collector_init "$D" || { not_ok "collector init"; return 1; }
	"$COLLECTOR" school add 79001 "Trường 79001" --commune "Xã test" --level 2 \
		--expected-pcs 40 -c "$CONF" >/dev/null
	collector_start "$LOG" || { not_ok "collector starts"; return 1; }
}

# string_for SCHOOL USES: a new enrollment string, for localhost.
string_for() {
	"$COLLECTOR" agent enroll-string --school "$1" --uses "$2" --name localhost \
		-c "$CONF" "${COLLECTOR_SET[@]}" 2>"$WORK/enroll-string.err"
}
enrolled_id() { sed -n 's/^enrolled as agent \([^ ]*\) .*/\1/p' "$1"; }

scenario_round_trip() {
	local s id fp
	s=$(string_for 79001 2)
	check "enroll-string prints one EW1- string" grep -Eq '^EW1(-[0-9A-HJKMNP-TV-Z]{1,5})+$' <<<"$s"
	check "... and says how to use it on stderr" grep -q "eduwatch-agent enroll STRING" "$WORK/enroll-string.err"
	check "the string alone enrolls a PC" into "$WORK/rt.out" \
		"$AGENT" enroll "$s" --state-dir "$WORK/rt/state" -c "$WORK/rt/agent.yaml"
	id=$(enrolled_id "$WORK/rt.out")
	check "... as an agent of its school" grep -q "^enrolled as agent 79001-.* of school 79001" "$WORK/rt.out"
	fp=$(openssl x509 -in "$D/ca.crt" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f)
	check "the CA it pinned is the collector's" \
		eq "$(openssl x509 -in "$WORK/rt/state/ca.crt" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f)" "$fp"
	check "agent.yaml names the collector's ingest port" grep -q "port: $INGEST_PORT" "$WORK/rt/agent.yaml"
	sed -i 's/interval: 60s/interval: 1s/; s/backoff_max: 5m/backoff_max: 2s/' "$WORK/rt/agent.yaml"
	"$AGENT" run -c "$WORK/rt/agent.yaml" >>"$WORK/rt-agent.log" 2>&1 &
	local apid=$!
	ID=$id
	check "the agent it made reports to the collector over mutual TLS" wait_event 30 agent.start
	kill -TERM "$apid"; wait "$apid" 2>/dev/null

	# --from FILE: the string wrapped on several lines, lower case, as a
	# technician's text file holds it; the second use of the token.
	fold -w 17 <<<"$s" | tr A-Z a-z >"$WORK/string.txt"
	check "--from FILE with the string wrapped and in lower case enrolls" into "$WORK/from.out" \
		"$AGENT" enroll --from "$WORK/string.txt" --state-dir "$WORK/from/state" -c "$WORK/from/agent.yaml"
	check "... a second PC" grep -q "^enrolled as agent 79001-" "$WORK/from.out"
	check "--from - reads standard input (the token has no use left: refused by the collector)" \
		bash -c "'$AGENT' enroll --from - --state-dir '$WORK/from3/state' -c '$WORK/from3/agent.yaml' <'$WORK/string.txt' 2>&1 | grep -q token_used"
}

# Each of these must be refused by the agent alone: exit 2, a reason for
# a person, no connection to the collector and no token use spent.
refused() { # refused DESCRIPTION PATTERN STRING
	local out rc
	out=$("$AGENT" enroll "$3" --state-dir "$WORK/bad/state" -c "$WORK/bad/agent.yaml" 2>&1)
	rc=$?
	if [ "$rc" -eq 2 ] && grep -q "$2" <<<"$out" && [ ! -e "$WORK/bad/state/agent.crt" ]; then
		ok "$1 is refused before anything is sent"
	else
		not_ok "$1 is refused before anything is sent (exit $rc: $out)"
	fi
}

scenario_hostile_strings() {
	local s last swapped before
	before=$(wc -l <"$LOG")
	s=$(string_for 79001 1)
	refused "a string cut short" "checksum\|cut short\|end where" "${s:0:$((${#s} - 9))}"
	refused "a string missing its last character" "checksum\|end where" "${s:0:$((${#s} - 1))}"
	# One mistyped character in the middle: another letter of the alphabet.
	last=${s:40:1}
	case "$last" in A) swapped=B ;; *) swapped=A ;; esac
	refused "a string with one character mistyped" "checksum" "${s:0:40}$swapped${s:41}"
	refused "a string pasted twice" "too long\|checksum\|end where" "$s$s"
	refused "a bare token" "not an enrollment string" "ewt_abcdef"
	refused "a character outside the alphabet" "'U'" "${s:0:10}U${s:11}"
	refused "invalid UTF-8" "0xc3" "${s:0:10}$(printf '\xc3\x28')${s:12}"
	refused "a newer version" "version 2" "EW2${s:3}"
	out=$("$AGENT" enroll "$s" --token "ewt_abc" --state-dir "$WORK/bad/state" -c "$WORK/bad/agent.yaml" 2>&1)
	check "a string with --token too is a usage error" grep -q "takes one enrollment string" <<<"$out"
	# head -c: a file far larger than any string.
	head -c 100000 /dev/zero | tr '\0' A >"$WORK/huge.txt"
	out=$("$AGENT" enroll --from "$WORK/huge.txt" --state-dir "$WORK/bad/state" -c "$WORK/bad/agent.yaml" 2>&1)
	check "an oversize --from file is refused" grep -q "longer than" <<<"$out"
	check "the collector saw no enrollment attempt from any of them" \
		bash -c "! tail -n +$((before + 1)) '$LOG' | grep -q 'token_\|bad_frame\|refused'"
	check "the token's one use is still there: the right string enrolls" into "$WORK/after.out" \
		"$AGENT" enroll "$s" --state-dir "$WORK/after/state" -c "$WORK/after/agent.yaml"
}

# A string with the right address and a real token but another CA's
# fingerprint (a forged sheet, or a collector impersonated on the path):
# the agent refuses the server at the handshake and sends no token.
scenario_wrong_fingerprint() {
	local s out rc
	"$COLLECTOR" init --dir "$WORK/other" --rules "$RULES" >/dev/null
	"$COLLECTOR" school add 79001 "Trường 79001" --commune "Xã test" --level 2 \
		--expected-pcs 1 -c "$WORK/other/collector.yaml" >/dev/null
	s=$("$COLLECTOR" agent enroll-string --school 79001 --name localhost \
		-c "$WORK/other/collector.yaml" -o ingest.port="$INGEST_PORT" \
		-o enroll.port="$ENROLL_PORT" 2>/dev/null)
	check "a string for the right ports with another CA's fingerprint is made" grep -q '^EW1-' <<<"$s"
	out=$("$AGENT" enroll "$s" --state-dir "$WORK/fp/state" -c "$WORK/fp/agent.yaml" 2>&1)
	rc=$?
	check "enroll with the wrong fingerprint fails (exit $rc)" test "$rc" -ne 0
	check "... at the TLS handshake, on the certificate ($out)" grep -qi "certificate\|handshake\|pin" <<<"$out"
	check "... and writes no certificate" test ! -e "$WORK/fp/state/agent.crt"
	check "the collector never saw its token" bash -c "! grep -q 'token_unknown' '$LOG'"
}

scenario_collector_refusals() {
	out=$("$COLLECTOR" agent enroll-string --school 99999 --name localhost -c "$CONF" "${COLLECTOR_SET[@]}" 2>&1)
	check "enroll-string for an unknown school exits 4" eq "$?" 4
	out=$("$COLLECTOR" agent enroll-string --school 79001 --name 'bad host;x' -c "$CONF" "${COLLECTOR_SET[@]}" 2>&1)
	check "enroll-string refuses a name an agent cannot dial" grep -q "not a host name" <<<"$out"
	# Without --name: the server certificate's first name (init's default
	# is localhost).
	s=$("$COLLECTOR" agent enroll-string --school 79001 -c "$CONF" "${COLLECTOR_SET[@]}" 2>/dev/null)
	check "without --name the server certificate's first name is used" into "$WORK/san.out" \
		"$AGENT" enroll "$s" --state-dir "$WORK/san/state" -c "$WORK/san/agent.yaml"
	check "... and that agent.yaml names it" grep -q "host: localhost" "$WORK/san/agent.yaml"
}

run_scenarios
