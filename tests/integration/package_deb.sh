#!/bin/bash
# Issue 20: the Debian packages and the rpm, as a province installs them.
#  - contents: `make deb` builds eduwatch-agent, eduwatch-collector,
#    eduwatch-common and the two -dbgsym packages with dpkg-buildpackage;
#    the packaged units are packaging/systemd's, byte for byte;
#  - lintian: no error and no warning (overrides are justified in
#    debian/*.lintian-overrides);
#  - fresh_install (the issue's "done when"): a clean Debian 12 chroot
#    (debootstrap, cached in /var/cache/eduwatch, tests/package/lib.bash)
#    goes from `apt install ./eduwatch-*.deb`, with no network at all, and
#    `eduwatch-collector setup --non-interactive` with a schools CSV, to
#    an agent enrolled with its school's string from setup's sheet and
#    reporting from /usr/lib/eduwatch/current, the release the unit runs;
#  - upgrade_cycle: install the previous version, set up a collector and
#    an agent's state, upgrade, check the database, the CA and the agent's
#    identity and spool survived and that the newest agent release wins,
#    whether the package or the collector brought it; remove (state
#    kept), purge (state, releases and the generated agent.yaml gone);
#  - rpm: `make rpm` holds the same files as the .debs.
# Each scenario runs alone (make test ONLY=package_deb:fresh_install): the
# packages are built once by setup and each chroot is unpacked from the
# cached tarball. piuparts' longer cycle is `make package-test`.
# Release build only: the packages are made from release binaries.
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/../package/lib.bash"
TREE=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$(cd "$EW_BIN" && pwd)
VARIANT=$(basename "$(dirname "$BIN")")
BUILD=$(dirname "$(dirname "$BIN")")
O="$BUILD/$VARIANT"

if [ "$VARIANT" != release ]; then
	echo "ok 1 # SKIP packages are built from the release build"
	echo "1..1"
	exit 0
fi
for tool in dpkg-buildpackage dh lintian debootstrap rpmbuild; do
	command -v "$tool" >/dev/null || {
		echo "ok 1 # SKIP $tool is not installed (scripts/deps.sh test)"
		echo "1..1"
		exit 0
	}
done

VERSION=$(dpkg-parsechangelog -l "$TREE/debian/changelog" -S Version)
AGENT_VERSION=${VERSION%-*}
deb() { ls "$O/deb/$1_${VERSION}_"*.deb; }
files_of() { dpkg-deb -c "$(deb "$1")" | awk '{print $6}' | sed 's|^\./|/|'; }

setup() {
	make -s -C "$TREE" BUILD="$BUILD" VARIANT=release deb >"$WORK/deb.out" 2>&1
	check "make deb succeeds$( [ $? = 0 ] || tail -5 "$WORK/deb.out" | tr '\n' ' ')" \
		test -f "$O/deb/build.log"
	echo "# make deb: $SECONDS s"
}

# fresh_chroot NAME: a clean chroot in $WORK/NAME with the packages'
# dependencies and this build's .debs in /debs/cur; its path in R.
fresh_chroot() {
	local p
	R="$WORK/$1"
	chroot_make "$R" "$O/deb/"eduwatch-{common,agent,collector}_*.deb >"$WORK/$1.out" 2>&1
	check "a clean Debian 12 chroot with the packages' dependencies$( [ $? = 0 ] || tail -3 "$WORK/$1.out" | tr '\n' ' ')" \
		test -x "$R/usr/bin/dpkg" || return 1
	mkdir -p "$R/debs/cur"
	for p in eduwatch-common eduwatch-agent eduwatch-collector; do cp "$(deb $p)" "$R/debs/cur/"; done
}
ch() { in_chroot "$R" "$@"; }

# The version of the release `current` names, and the files it holds.
current_release() { readlink "$R/usr/lib/eduwatch/current"; }
release_files() { (cd "$R/usr/lib/eduwatch/$1" && ls | tr '\n' ' '); }

scenario_contents() {
	local have diffs="" u p
	have=$(cd "$O/deb" && ls ./*.deb | sed 's|^\./||; s/_.*//' | sort | tr '\n' ' ')
	check "make deb gives agent, collector, common and both -dbgsym ($have)" eq "$have" \
		"eduwatch-agent eduwatch-agent-dbgsym eduwatch-collector eduwatch-collector-dbgsym eduwatch-common "
	files_of eduwatch-agent >"$WORK/agent.files"
	files_of eduwatch-collector >"$WORK/collector.files"
	files_of eduwatch-common >"$WORK/common.files"
	check "agent package: the agent and its helpers in /usr/bin" \
		sh -c "grep -qx /usr/bin/eduwatch-agent $WORK/agent.files && grep -qx /usr/bin/eduwatch-scanner $WORK/agent.files && grep -qx /usr/bin/eduwatch-sensor $WORK/agent.files && grep -qx /usr/bin/eduwatch-backup $WORK/agent.files"
	check "agent package: nothing shipped in /usr/lib/eduwatch (postinst seeds the release there)" \
		sh -c "! grep -q '^/usr/lib/eduwatch' $WORK/agent.files"
	check "agent package: its unit, man pages and bash completion" \
		sh -c "grep -qx /lib/systemd/system/eduwatch-agent.service $WORK/agent.files && grep -q '^/usr/share/man/man8/eduwatch-agent-enroll.8.gz$' $WORK/agent.files && grep -qx /usr/share/bash-completion/completions/eduwatch-agent $WORK/agent.files"
	check "collector package: its units and man pages" \
		sh -c "grep -qx /lib/systemd/system/eduwatch-collector.service $WORK/collector.files && grep -qx /lib/systemd/system/eduwatch-score-snapshot.timer $WORK/collector.files && grep -q '^/usr/share/man/man8/eduwatch-collector-school.8.gz$' $WORK/collector.files"
	check "common package: rules, policies, drills under /usr/share/eduwatch" \
		sh -c "grep -qx /usr/share/eduwatch/rules/policies/level3.yaml $WORK/common.files && grep -qx /usr/share/eduwatch/rules/drills/malware-drop.yaml $WORK/common.files"
	# The packaged units are the tested ones (tests/integration/systemd_units.sh).
	mkdir -p "$WORK/x"
	for p in eduwatch-agent eduwatch-collector eduwatch-common; do dpkg-deb -x "$(deb $p)" "$WORK/x"; done
	for u in "$TREE"/packaging/systemd/*; do
		cmp -s "$u" "$WORK/x/lib/systemd/system/${u##*/}" || diffs="$diffs ${u##*/}"
	done
	check "the packaged units are byte for byte packaging/systemd/${diffs:+ (differ:$diffs)}" test -z "$diffs"
	check "the packaged agent unit runs the swappable release, its folder writable" \
		sh -c "grep -qx 'ExecStart=/usr/lib/eduwatch/current/eduwatch-agent run' $WORK/x/lib/systemd/system/eduwatch-agent.service && grep -qx 'ReadWritePaths=/usr/lib/eduwatch' $WORK/x/lib/systemd/system/eduwatch-agent.service"
}

scenario_lintian() {
	local rc
	lintian --no-cfg --display-level '>=warning' --fail-on error,warning \
		"$O/deb/"*.changes >"$WORK/lintian.out" 2>&1
	rc=$?
	sed 's/^/# lintian: /' "$WORK/lintian.out"
	check "lintian: no error and no warning (rc $rc)" test "$rc" = 0
	echo "# lintian: $SECONDS s"
}

# The province's spreadsheet, as setup takes it.
write_schools_csv() {
	printf 'code,name,commune,level,expected_pcs\r\n' >"$1"
	printf '79001,"THCS Nguyễn Du, Quận 1",Phường 1,2,40\r\n' >>"$1"
	printf '79002,TH Lê Lợi,Xã An,1,12\r\n' >>"$1"
}

scenario_fresh_install() {
	local p1 p2 s
	fresh_chroot fresh || return
	# apt, as a technician types it, in a network namespace of its own:
	# everything the packages need is in the chroot or in the .debs.
	# (--no-download would also skip "fetching" the local .debs.)
	offline_chroot "$R" sh -c 'cd /debs/cur && apt install -y -q ./eduwatch-common_*.deb \
		./eduwatch-collector_*.deb ./eduwatch-agent_*.deb' >"$WORK/apt.out" 2>&1
	check "apt install ./eduwatch-*.deb, offline$( [ $? = 0 ] || tail -3 "$WORK/apt.out" | tr '\n' ' ')" \
		test "$(ch dpkg-query -W -f '${Status}' eduwatch-collector eduwatch-agent)" = "install ok installedinstall ok installed"
	check "the collector's system user eduwatch exists, with no login" \
		grep -q '^eduwatch:.*:/var/lib/eduwatch-collector:/usr/sbin/nologin$' "$R/etc/passwd"
	check "state folders: /var/lib/eduwatch-collector 0700 eduwatch, /var/lib/eduwatch-agent 0700 root" \
		eq "$(ch stat -c '%a %U' /var/lib/eduwatch-collector /var/lib/eduwatch-agent | tr '\n' ' ')" \
		"700 eduwatch 700 root "
	check "postinst seeded the release the unit runs: current -> agent-$AGENT_VERSION" \
		eq "$(current_release)" "agent-$AGENT_VERSION"
	check "... with the agent and its three helpers, copies of /usr/bin's" \
		sh -c "[ '$(release_files agent-$AGENT_VERSION)' = 'eduwatch-agent eduwatch-backup eduwatch-scanner eduwatch-sensor ' ] &&
			cmp -s '$R/usr/bin/eduwatch-agent' '$R/usr/lib/eduwatch/current/eduwatch-agent'"

	write_schools_csv "$R/root/schools.csv"
	p1=$(free_port) p2=$(free_port)
	ch eduwatch-collector setup --non-interactive --dir /var/lib/eduwatch-collector \
		--name 127.0.0.1 --schools /root/schools.csv --admin an.nguyen \
		--out /root/sheet.csv -o ingest.port="$p1" -o enroll.port="$p2" >"$WORK/setup.out" 2>&1
	check "setup --non-interactive in the chroot$(grep -q '^one-time password: ' "$WORK/setup.out" || tail -3 "$WORK/setup.out" | tr '\n' ' ')" \
		grep -q '^one-time password: ' "$WORK/setup.out"
	check "... its settings use the packaged rules in /usr/share/eduwatch" \
		grep -q '^  rules: /usr/share/eduwatch/rules/alerts.yaml$' "$R/var/lib/eduwatch-collector/collector.yaml"
	check "... its sheet has a line per school of the CSV" eq "$(grep -c ',"EW1-' "$R/root/sheet.csv")" 2
	s=$($PY -c 'import csv,sys
for r in csv.DictReader(open(sys.argv[1], newline="")):
    if r["school"] == "79001": print(r["enrollment_string"])' "$R/root/sheet.csv")

	# Serve; the PC enrolls with the one string of its school's line, and
	# the agent the unit would run (current) reports.
	ch sh -c 'export EDUWATCH_COLLECTOR_CONFIG=/var/lib/eduwatch-collector/collector.yaml
		eduwatch-collector serve -o ingest.port='"$p1"' -o enroll.port='"$p2"' \
			-o web.port=0 >/tmp/serve.log 2>&1 &
		pid=$!
		i=0
		while ! grep -q "^enroll " /var/lib/eduwatch-collector/ports 2>/dev/null && [ $i -lt 600 ]; do
			sleep 0.1; i=$((i + 1)); done
		eduwatch-agent enroll "$1"
		rc=$?
		if [ $rc = 0 ]; then
			sed -i "s/interval: 60s/interval: 1s/; s/backoff_max: 5m/backoff_max: 2s/" /etc/eduwatch/agent.yaml
			/usr/lib/eduwatch/current/eduwatch-agent run -o netsensor.enabled=false >/tmp/agent.log 2>&1 &
			apid=$!
			i=0
			until eduwatch-collector agent-release status | grep -q "^79001 *$2 *1\$" || [ $i -ge 300 ]; do
				sleep 0.1; i=$((i + 1)); done
			eduwatch-collector agent-release status
			kill $apid
			wait $apid
			sed "s/^/agent: /" /tmp/agent.log | tail -5
		fi
		kill $pid
		wait $pid
		exit $rc' _ "$s" "$AGENT_VERSION" >"$WORK/enroll.out" 2>&1
	sed 's/^/# | /' "$WORK/enroll.out"
	check "the installed agent enrolls with school 79001's string from the sheet$(grep -q '^enrolled as agent' "$WORK/enroll.out" || tail -3 "$WORK/enroll.out" | tr '\n' ' ')" \
		grep -q '^enrolled as agent .* of school 79001' "$WORK/enroll.out"
	check "enroll wrote /etc/eduwatch/agent.yaml" test -f "$R/etc/eduwatch/agent.yaml"
	check "the agent run from /usr/lib/eduwatch/current reports: school 79001 runs one agent of $AGENT_VERSION" \
		grep -q "^79001 *$AGENT_VERSION *1\$" "$WORK/enroll.out"
	echo "# fresh install: $SECONDS s"
}

scenario_upgrade_cycle() {
	local p prev sum_before left
	fresh_chroot cycle || return
	# The previous version is this one repacked with a lower version
	# number: the maintainer scripts and file lists of a real upgrade,
	# without building twice.
	prev="${VERSION%-*}~prev-1"
	mkdir -p "$R/debs/prev"
	for p in eduwatch-common eduwatch-agent eduwatch-collector; do
		deb_as_version "$(deb $p)" "$VERSION" "$prev" "$R/debs/prev/${p}_prev.deb"
	done
	ch dpkg -i /debs/prev/eduwatch-common_prev.deb /debs/prev/eduwatch-agent_prev.deb \
		/debs/prev/eduwatch-collector_prev.deb >"$WORK/install.out" 2>&1
	check "dpkg installs the previous version in the chroot$( [ $? = 0 ] || tail -3 "$WORK/install.out" | tr '\n' ' ')" \
		test "$(ch dpkg-query -W -f '${Status}' eduwatch-collector)" = "install ok installed"

	# The README's first steps, inside the chroot, as root; then serve, and
	# an agent enrolls with a token: a real identity to keep.
	ch sh -c 'eduwatch-collector init --dir /var/lib/eduwatch-collector --name collector.example.vn --name 127.0.0.1 &&
		export EDUWATCH_COLLECTOR_CONFIG=/var/lib/eduwatch-collector/collector.yaml &&
		eduwatch-collector school add 79001 "THCS Nguyễn Du" --commune "Phường 1" --level 2 --expected-pcs 40' \
		>"$WORK/init.out" 2>&1
	check "installed collector: init and school add$( [ $? = 0 ] || tail -3 "$WORK/init.out" | tr '\n' ' ')" \
		test -s "$R/var/lib/eduwatch-collector/ca.crt"
	ch sh -c 'export EDUWATCH_COLLECTOR_CONFIG=/var/lib/eduwatch-collector/collector.yaml
		st=/var/lib/eduwatch-collector
		eduwatch-collector serve -o ingest.port=0 -o enroll.port=0 -o web.port=0 >/tmp/serve.log 2>&1 &
		pid=$!
		i=0
		while ! grep -q "^enroll " $st/ports 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
		ingest=$(awk "\$1 == \"ingest\" {print \$2}" $st/ports)
		enroll=$(awk "\$1 == \"enroll\" {print \$2}" $st/ports)
		token=$(eduwatch-collector token create --school 79001 --uses 1)
		eduwatch-agent enroll --collector 127.0.0.1:$ingest --enroll-port $enroll \
			--token "$token" --ca $st/ca.crt
		rc=$?
		kill $pid
		wait $pid
		exit $rc' >"$WORK/enroll.out" 2>&1
	check "the installed agent enrolls with the installed collector$(grep -q '^enrolled as agent' "$WORK/enroll.out" || tail -3 "$WORK/enroll.out" | tr '\n' ' ')" \
		grep -q '^enrolled as agent' "$WORK/enroll.out"
	# The spool is made by `run`, which needs the collector up: a file with
	# known contents stands in for it.
	printf 'spool-%s\n' "$$" >"$R/var/lib/eduwatch-agent/spool-standin"
	kept() { (cd "$R" && find var/lib/eduwatch-agent etc/eduwatch var/lib/eduwatch-collector/ca.key \
		var/lib/eduwatch-collector/ca.crt -type f | sort | xargs sha256sum); }
	sum_before=$(kept)
	echo "# kept across the upgrade: $(kept | awk '{print $2}' | tr '\n' ' ')"

	# A PC whose running release is older than the package's (here one
	# put back by hand): the upgrade makes the package's current, the
	# older one previous.
	ch sh -c 'mkdir /tmp/old && cp /usr/lib/eduwatch/current/* /tmp/old/ &&
		eduwatch-agent upgrade install /tmp/old 0.0.9 --rollback' >"$WORK/old.out" 2>&1
	check "before the upgrade, release 0.0.9 runs$(tail -1 "$WORK/old.out")" eq "$(current_release)" agent-0.0.9

	ch sh -c 'dpkg -i /debs/cur/*.deb' >"$WORK/upgrade.out" 2>&1
	check "dpkg upgrades $prev to $VERSION$( [ $? = 0 ] || tail -3 "$WORK/upgrade.out" | tr '\n' ' ')" \
		eq "$(ch dpkg-query -W -f '${Version}' eduwatch-agent)" "$VERSION"
	check "the upgrade keeps the CA, the agent's identity, spool and agent.yaml" \
		eq "$(kept)" "$sum_before"
	check "the package's newer release is current, the one it replaced previous" \
		eq "$(current_release) $(readlink "$R/usr/lib/eduwatch/previous")" "agent-$AGENT_VERSION agent-0.0.9"
	ch sh -c 'EDUWATCH_COLLECTOR_CONFIG=/var/lib/eduwatch-collector/collector.yaml eduwatch-collector school list' \
		>"$WORK/schools.out" 2>&1
	check "the upgraded collector opens the kept database: the school is there" \
		grep -q 79001 "$WORK/schools.out"

	# A PC the collector upgraded past the package: reinstalling (or
	# upgrading to) an older package keeps the newer release.
	ch sh -c 'eduwatch-agent upgrade install /tmp/old 99.0.0' >"$WORK/pushed.out" 2>&1
	ch dpkg -i /debs/cur/eduwatch-agent_*.deb >"$WORK/reinstall.out" 2>&1
	check "a package older than the pushed release keeps it current$(grep -o 'release kept.*' "$WORK/reinstall.out")" \
		eq "$(current_release)" agent-99.0.0

	ch dpkg -r eduwatch-agent eduwatch-collector eduwatch-common >"$WORK/remove.out" 2>&1
	check "dpkg -r removes all three, the releases in /usr/lib/eduwatch too$( [ $? = 0 ] || tail -3 "$WORK/remove.out" | tr '\n' ' ')" \
		test ! -e "$R/usr/bin/eduwatch-collector" -a ! -e "$R/usr/bin/eduwatch-agent" -a ! -e "$R/usr/lib/eduwatch"
	check "remove keeps the state (database, identity)" \
		eq "$(kept)" "$sum_before"
	ch dpkg -P eduwatch-agent eduwatch-collector eduwatch-common >"$WORK/purge.out" 2>&1
	check "dpkg -P purges all three$( [ $? = 0 ] || tail -3 "$WORK/purge.out" | tr '\n' ' ')" \
		test -z "$(ch dpkg-query -W -f '${Package} ' 'eduwatch-*' 2>/dev/null)"
	left=$(cd "$R" && ls -d var/lib/eduwatch-collector var/lib/eduwatch-agent etc/eduwatch \
		usr/share/eduwatch usr/lib/eduwatch 2>/dev/null | tr '\n' ' ')
	check "purge leaves nothing of ours behind${left:+ (left: $left)}" test -z "$left"
	echo "# dpkg cycle: $SECONDS s"
}

# The rpm, from one spec: the same files as the .debs.
scenario_rpm() {
	local p r d
	make -s -C "$TREE" BUILD="$BUILD" VARIANT=release rpm >"$WORK/rpm.out" 2>&1
	check "make rpm succeeds$( [ $? = 0 ] || tail -3 "$WORK/rpm.out" | tr '\n' ' ')" \
		sh -c "ls $O/rpm/eduwatch-agent-*.rpm $O/rpm/eduwatch-collector-*.rpm $O/rpm/eduwatch-common-*.rpm"
	mkdir -p "$WORK/x"
	for p in eduwatch-agent eduwatch-collector eduwatch-common; do
		dpkg-deb -x "$(deb $p)" "$WORK/x"
		files_of $p
	done >"$WORK/deb.files"
	# Compared as files: Debian's /lib is /usr/lib; dh adds each package's
	# changelog, copyright and lintian overrides, Debian-only metadata; the
	# rpm owns its state folders, which the .debs make in postinst.
	norm() { sed 's|^/lib/|/usr/lib/|' | grep -v '^/usr/share/doc/eduwatch-\|^/usr/share/lintian/' | sort -u; }
	grep -v '/$' "$WORK/deb.files" | norm >"$WORK/deb.list"
	for r in "$O"/rpm/*.rpm; do rpm -qlp "$r" 2>/dev/null; done |
		while read -r f; do [ -d "$WORK/x$f" ] || echo "$f"; done |
		grep -v '^/var/lib/\|^/etc/eduwatch$' | norm >"$WORK/rpm.list"
	d=$(diff "$WORK/deb.list" "$WORK/rpm.list" | grep '^[<>]' | head -5 | tr '\n' ' ')
	check "rpm -qlp lists the .debs' files ($(wc -l <"$WORK/rpm.list") files)${d:+ (differ: $d)}" test -z "$d"
	check "the rpm seeds and removes the agent's release as the .deb does" \
		sh -c "rpm -qp --scripts $O/rpm/eduwatch-agent-*.rpm 2>/dev/null | grep -q 'eduwatch-agent upgrade seed'"
	echo "# rpm: $SECONDS s"
}

run_scenarios
