#!/bin/bash
# Issue 20: the README's "Setting up a province" steps, run as written,
# both from the build tree (the binaries of EW_BIN) and after
# `make install DESTDIR=... PREFIX=/usr`. Before packaging/packaging.mk and
# common/sharedir.c, `init` wrote /usr/share/eduwatch/rules into
# collector.yaml, nothing had installed it there, and `serve` failed.
# Also: what `make install` puts where, for PREFIX=/usr (the units are the
# tested ones, byte for byte) and for another PREFIX (the units name it).
# Scenarios run alone: make test ONLY=install_readme:installed
. "$(dirname "$0")/lib.bash"
TREE=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$(cd "$EW_BIN" && pwd)
VARIANT=$(basename "$(dirname "$BIN")")
BUILD=$(dirname "$(dirname "$BIN")")

# The first sh block under "## Setting up a province", up to "Day to day".
readme_steps() {
	awk '/^## Setting up a province/ { on = 1; next }
	     on && /^```sh/ { inblock = 1; next }
	     inblock && (/^```/ || /Day to day/) { exit }
	     inblock { print }' "$TREE/README.md"
}

# run_steps BINDIR LABEL: the steps in a fresh state folder, with BINDIR
# first on PATH. Only two edits: the state folder is a temp one instead of
# /var/lib/eduwatch-collector, and serve asks for free ports (ours is not
# the only collector on this machine) and runs in the background.
run_steps() {
	local bindir=$1 label=$2 state="$WORK/$2/state"
	mkdir -p "$WORK/$label"
	{
		echo "set -e"
		echo "PATH=$bindir:\$PATH"
		readme_steps |
			sed "s|/var/lib/eduwatch-collector|$state|g" |
			sed 's|^eduwatch-collector serve\b.*|eduwatch-collector serve -o ingest.port=0 -o enroll.port=0 -o web.port=0 \& echo $! >'"$WORK/$label"'/serve.pid|'
	} >"$WORK/$label/steps.sh"
	bash "$WORK/$label/steps.sh" >"$WORK/$label/steps.out" 2>&1
	local rc=$?
	# The scenario's end kills it if SIGTERM below does not.
	cat "$WORK/$label/serve.pid" >>"$WORK/.scenario-pids" 2>/dev/null
	check "$label: the README's steps run (rc $rc$( [ $rc = 0 ] || tail -3 "$WORK/$label/steps.out" | tr '\n' ' '))" \
		test "$rc" = 0
	check "$label: token create printed a token" grep -q '^ewt_' "$WORK/$label/steps.out"
	COLLECTOR_DIR=$state
	check "$label: serve is up and has bound its ports" wait_for 30 ports_written
	check "$label: serve answers on its enroll port" port_open "$(collector_port enroll)"
	local pid
	pid=$(cat "$WORK/$label/serve.pid" 2>/dev/null)
	kill_ours -TERM "$pid"
	check "$label: serve stops cleanly on SIGTERM" wait_for 30 pid_gone "$pid"
}

rules_in_conf() { sed -n 's/^  rules: \(.*\)\/alerts.yaml$/\1/p' "$WORK/$1/state/collector.yaml"; }

# 1. From the build tree: its rules are the tree's.
scenario_tree() {
	run_steps "$BIN" tree
	check "tree: collector.yaml points at the tree's rules ($(rules_in_conf tree))" \
		eq "$(rules_in_conf tree)" "$TREE/rules"
}

# Hostile: a symlink to the binary in a folder of someone else's, beside
# planted rules. The rules follow the binary the kernel ran
# (/proc/self/exe), never argv[0] or PATH.
scenario_planted_rules() {
	mkdir -p "$WORK/planted/bin" "$WORK/planted/share/eduwatch/rules"
	ln -s "$BIN/eduwatch-collector" "$WORK/planted/bin/eduwatch-collector"
	: >"$WORK/planted/share/eduwatch/rules/alerts.yaml"
	PATH="$WORK/planted/bin:$PATH" eduwatch-collector init --dir "$WORK/planted/state" >/dev/null 2>&1
	planted=$(sed -n 's/^  rules: \(.*\)\/alerts.yaml$/\1/p' "$WORK/planted/state/collector.yaml" 2>/dev/null)
	check "a symlinked binary beside planted rules still uses its own ($planted)" \
		eq "$planted" "$TREE/rules"
}

# 2. After make install, run from DESTDIR: the installed rules.
scenario_installed() {
	local rc=0
	ROOT="$WORK/root"
	make -s -C "$TREE" BUILD="$BUILD" VARIANT="$VARIANT" install DESTDIR="$ROOT" \
		PREFIX=/usr >"$WORK/install.out" 2>&1 || rc=$?
	check "make install DESTDIR PREFIX=/usr succeeds (rc $rc)" eq "$rc" 0
	run_steps "$ROOT/usr/bin" installed
	check "installed: collector.yaml points at the installed rules ($(rules_in_conf installed))" \
		eq "$(rules_in_conf installed)" "$ROOT/usr/share/eduwatch/rules"

	missing=""
	for f in usr/bin/eduwatch-collector usr/bin/eduwatch-agent usr/bin/eduwatch-scanner \
		usr/bin/eduwatch-sensor usr/bin/eduwatch-backup \
		usr/share/eduwatch/rules/alerts.yaml usr/share/eduwatch/rules/av-products.txt \
		usr/share/eduwatch/rules/policies/level1.yaml usr/share/eduwatch/rules/yara/eicar.yar \
		usr/share/eduwatch/rules/drills/malware-drop.yaml \
		usr/share/man/man8/eduwatch-collector.8 usr/share/man/man8/eduwatch-agent.8 \
		usr/share/bash-completion/completions/eduwatch-collector \
		usr/share/bash-completion/completions/eduwatch-agent \
		usr/share/doc/eduwatch/README.md usr/lib/systemd/system/eduwatch-agent.service; do
		[ -e "$ROOT/$f" ] || missing="$missing $f"
	done
	check "make install puts binaries, helpers, rules, man pages, completion, docs, units in place${missing:+ (missing:$missing)}" \
		test -z "$missing"
	perm_bad=$(find "$ROOT" -perm /022 ! -type l | head -3)
	check "nothing installed is group- or world-writable${perm_bad:+ ($perm_bad)}" test -z "$perm_bad"
	diffs=""
	for u in "$TREE"/packaging/systemd/*; do
		cmp -s "$u" "$ROOT/usr/lib/systemd/system/${u##*/}" || diffs="$diffs ${u##*/}"
	done
	check "with PREFIX=/usr the installed units are the tested ones${diffs:+ (differ:$diffs)}" test -z "$diffs"

	# An agent from the installed tree finds its helpers beside it.
	"$ROOT/usr/bin/eduwatch-agent" scan "$TREE/rules/README.md" \
		--rules "$TREE/rules/yara/eicar.yar" >"$WORK/scan.out" 2>&1
	rc=$?
	check "installed agent runs its installed scanner helper (rc $rc: $(head -c 200 "$WORK/scan.out"))" \
		sh -c "[ $rc = 0 ] && grep -q 'files' '$WORK/scan.out'"
}

# 3. Another PREFIX: the units name its binaries.
scenario_other_prefix() {
	make -s -C "$TREE" BUILD="$BUILD" VARIANT="$VARIANT" install DESTDIR="$WORK/opt" \
		PREFIX=/opt/eduwatch >/dev/null 2>&1
	check "PREFIX=/opt/eduwatch: the agent unit runs its release in /opt/eduwatch/lib/eduwatch, told so" \
		grep -qx "ExecStart=/opt/eduwatch/lib/eduwatch/current/eduwatch-agent run -o upgrade.root=/opt/eduwatch/lib/eduwatch" \
		"$WORK/opt/opt/eduwatch/lib/systemd/system/eduwatch-agent.service"
	check "... which is writable for pushed releases" \
		grep -qx "ReadWritePaths=/opt/eduwatch/lib/eduwatch" \
		"$WORK/opt/opt/eduwatch/lib/systemd/system/eduwatch-agent.service"
	check "PREFIX=/opt/eduwatch: rules under /opt/eduwatch/share/eduwatch" \
		test -f "$WORK/opt/opt/eduwatch/share/eduwatch/rules/alerts.yaml"
}
run_scenarios
