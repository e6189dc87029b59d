#!/bin/bash
# Issue 20: the Debian packages and the rpm, as a province installs them.
#  - `make deb` builds eduwatch-agent, eduwatch-collector, eduwatch-common
#    and the two -dbgsym packages with dpkg-buildpackage;
#  - lintian finds no error and no warning (overrides are justified in
#    debian/*.lintian-overrides);
#  - in a clean Debian 12 chroot (debootstrap, cached in /var/cache/eduwatch,
#    tests/package/lib.bash): install the previous version, set up a
#    collector and an agent's state, upgrade, check the database, the CA
#    and the agent's identity and spool survived, remove (state kept),
#    purge (state and the generated agent.yaml gone);
#  - `make rpm` holds the same files as the .debs.
# piuparts' longer install/upgrade/purge run is `make package-test`.
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

# 1. The build.
make -s -C "$TREE" BUILD="$BUILD" VARIANT=release deb >"$WORK/deb.out" 2>&1
check "make deb succeeds$( [ $? = 0 ] || tail -5 "$WORK/deb.out" | tr '\n' ' ')" \
	test -f "$O/deb/build.log"
VERSION=$(dpkg-parsechangelog -l "$TREE/debian/changelog" -S Version)
have=$(cd "$O/deb" && ls ./*.deb | sed 's|^\./||; s/_.*//' | sort | tr '\n' ' ')
check "make deb gives agent, collector, common and both -dbgsym ($have)" eq "$have" \
	"eduwatch-agent eduwatch-agent-dbgsym eduwatch-collector eduwatch-collector-dbgsym eduwatch-common "
deb() { ls "$O/deb/$1_${VERSION}_"*.deb; }

files_of() { dpkg-deb -c "$(deb "$1")" | awk '{print $6}' | sed 's|^\./|/|'; }
files_of eduwatch-agent >"$WORK/agent.files"
files_of eduwatch-collector >"$WORK/collector.files"
files_of eduwatch-common >"$WORK/common.files"
check "agent package: the agent and its helpers in /usr/bin" \
	sh -c "grep -qx /usr/bin/eduwatch-agent $WORK/agent.files && grep -qx /usr/bin/eduwatch-scanner $WORK/agent.files && grep -qx /usr/bin/eduwatch-sensor $WORK/agent.files && grep -qx /usr/bin/eduwatch-backup $WORK/agent.files"
check "agent package: its unit, man pages and bash completion" \
	sh -c "grep -qx /lib/systemd/system/eduwatch-agent.service $WORK/agent.files && grep -q '^/usr/share/man/man8/eduwatch-agent-enroll.8.gz$' $WORK/agent.files && grep -qx /usr/share/bash-completion/completions/eduwatch-agent $WORK/agent.files"
check "collector package: its units and man pages" \
	sh -c "grep -qx /lib/systemd/system/eduwatch-collector.service $WORK/collector.files && grep -qx /lib/systemd/system/eduwatch-score-snapshot.timer $WORK/collector.files && grep -q '^/usr/share/man/man8/eduwatch-collector-school.8.gz$' $WORK/collector.files"
check "common package: rules, policies, drills under /usr/share/eduwatch" \
	sh -c "grep -qx /usr/share/eduwatch/rules/policies/level3.yaml $WORK/common.files && grep -qx /usr/share/eduwatch/rules/drills/malware-drop.yaml $WORK/common.files"

# The packaged units are the tested ones (tests/integration/systemd_units.sh).
mkdir -p "$WORK/x"
for p in eduwatch-agent eduwatch-collector eduwatch-common; do dpkg-deb -x "$(deb $p)" "$WORK/x"; done
diffs=""
for u in "$TREE"/packaging/systemd/*; do
	cmp -s "$u" "$WORK/x/lib/systemd/system/${u##*/}" || diffs="$diffs ${u##*/}"
done
check "the packaged units are byte for byte packaging/systemd/${diffs:+ (differ:$diffs)}" test -z "$diffs"

echo "# make deb: $SECONDS s"
# 2. lintian.
lintian --no-cfg --display-level '>=warning' --fail-on error,warning \
	"$O/deb/"*.changes >"$WORK/lintian.out" 2>&1
rc=$?
sed 's/^/# lintian: /' "$WORK/lintian.out"
check "lintian: no error and no warning (rc $rc)" test "$rc" = 0

echo "# lintian: $SECONDS s"
# 3. The dpkg cycle in a clean chroot. The previous version is this one
#    repacked with a lower version number: the maintainer scripts and file
#    lists of a real upgrade, without building twice.
R="$WORK/chroot"
chroot_make "$R" "$O/deb/"eduwatch-{common,agent,collector}_*.deb >"$WORK/chroot.out" 2>&1
check "a clean Debian 12 chroot with the packages' dependencies$( [ $? = 0 ] || tail -3 "$WORK/chroot.out" | tr '\n' ' ')" \
	test -x "$R/usr/bin/dpkg"
PREV="${VERSION%-*}~prev-1"
mkdir -p "$R/debs/prev" "$R/debs/cur"
for p in eduwatch-common eduwatch-agent eduwatch-collector; do
	cp "$(deb $p)" "$R/debs/cur/"
	deb_as_version "$(deb $p)" "$VERSION" "$PREV" "$R/debs/prev/${p}_prev.deb"
done
ch() { in_chroot "$R" "$@"; }

ch dpkg -i /debs/prev/eduwatch-common_prev.deb /debs/prev/eduwatch-agent_prev.deb \
	/debs/prev/eduwatch-collector_prev.deb >"$WORK/install.out" 2>&1
check "dpkg installs the previous version in the chroot$( [ $? = 0 ] || tail -3 "$WORK/install.out" | tr '\n' ' ')" \
	test "$(ch dpkg-query -W -f '${Status}' eduwatch-collector)" = "install ok installed"
check "the collector's system user eduwatch exists, with no login" \
	sh -c "grep -q '^eduwatch:.*:/var/lib/eduwatch-collector:/usr/sbin/nologin$' $R/etc/passwd"
check "state folders: /var/lib/eduwatch-collector 0700 eduwatch, /var/lib/eduwatch-agent 0700 root" \
	eq "$(ch stat -c '%a %U' /var/lib/eduwatch-collector /var/lib/eduwatch-agent | tr '\n' ' ')" \
	"700 eduwatch 700 root "

# The README's first steps, inside the chroot, as root; then serve, and
# an agent enrolls with a token: a real identity to keep.
ch sh -c 'eduwatch-collector init --dir /var/lib/eduwatch-collector --name collector.example.vn --name 127.0.0.1 &&
	export EDUWATCH_COLLECTOR_CONFIG=/var/lib/eduwatch-collector/collector.yaml &&
	eduwatch-collector school add 79001 "THCS Nguyễn Du" --commune "Phường 1" --level 2 --expected-pcs 40 &&
	eduwatch-collector token create --school 79001 --uses 40 --expires 7d' >"$WORK/setup.out" 2>&1
check "installed collector: init, school add, token create in the chroot$(grep -q ^ewt_ "$WORK/setup.out" || tail -3 "$WORK/setup.out" | tr '\n' ' ')" \
	grep -q '^ewt_' "$WORK/setup.out"
check "installed collector's settings use /usr/share/eduwatch/rules" \
	grep -q '^  rules: /usr/share/eduwatch/rules/alerts.yaml$' "$R/var/lib/eduwatch-collector/collector.yaml"
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
check "enroll wrote /etc/eduwatch/agent.yaml" test -f "$R/etc/eduwatch/agent.yaml"
# The spool is made by `run`, which needs the collector up: a file with
# known contents stands in for it.
printf 'spool-%s\n' "$$" >"$R/var/lib/eduwatch-agent/spool-standin"
kept() { (cd "$R" && find var/lib/eduwatch-agent etc/eduwatch var/lib/eduwatch-collector/ca.key \
	var/lib/eduwatch-collector/ca.crt -type f | sort | xargs sha256sum); }
sum_before=$(kept)
echo "# kept across the upgrade: $(kept | awk '{print $2}' | tr '\n' ' ')"

ch sh -c 'dpkg -i /debs/cur/*.deb' >"$WORK/upgrade.out" 2>&1
check "dpkg upgrades $PREV to $VERSION$( [ $? = 0 ] || tail -3 "$WORK/upgrade.out" | tr '\n' ' ')" \
	eq "$(ch dpkg-query -W -f '${Version}' eduwatch-agent)" "$VERSION"
check "the upgrade keeps the CA, the agent's identity, spool and agent.yaml" \
	eq "$(kept)" "$sum_before"
ch sh -c 'EDUWATCH_COLLECTOR_CONFIG=/var/lib/eduwatch-collector/collector.yaml eduwatch-collector school list' \
	>"$WORK/schools.out" 2>&1
check "the upgraded collector opens the kept database: the school is there" \
	grep -q 79001 "$WORK/schools.out"

ch dpkg -r eduwatch-agent eduwatch-collector eduwatch-common >"$WORK/remove.out" 2>&1
check "dpkg -r removes all three$( [ $? = 0 ] || tail -3 "$WORK/remove.out" | tr '\n' ' ')" \
	test ! -e "$R/usr/bin/eduwatch-collector" -a ! -e "$R/usr/bin/eduwatch-agent"
check "remove keeps the state (database, identity)" \
	eq "$(kept)" "$sum_before"
ch dpkg -P eduwatch-agent eduwatch-collector eduwatch-common >"$WORK/purge.out" 2>&1
check "dpkg -P purges all three$( [ $? = 0 ] || tail -3 "$WORK/purge.out" | tr '\n' ' ')" \
	test -z "$(ch dpkg-query -W -f '${Package} ' 'eduwatch-*' 2>/dev/null)"
left=$(cd "$R" && ls -d var/lib/eduwatch-collector var/lib/eduwatch-agent etc/eduwatch usr/share/eduwatch 2>/dev/null | tr '\n' ' ')
check "purge leaves nothing of ours behind${left:+ (left: $left)}" test -z "$left"

echo "# dpkg cycle: $SECONDS s"
# 4. The rpm, from one spec: the same files as the .debs.
make -s -C "$TREE" BUILD="$BUILD" VARIANT=release rpm >"$WORK/rpm.out" 2>&1
check "make rpm succeeds$( [ $? = 0 ] || tail -3 "$WORK/rpm.out" | tr '\n' ' ')" \
	sh -c "ls $O/rpm/eduwatch-agent-*.rpm $O/rpm/eduwatch-collector-*.rpm $O/rpm/eduwatch-common-*.rpm"
# Compared as files: Debian's /lib is /usr/lib; dh adds each package's
# changelog, copyright and lintian overrides, Debian-only metadata; the
# rpm owns its state folders, which the .debs make in postinst.
norm() { sed 's|^/lib/|/usr/lib/|' | grep -v '^/usr/share/doc/eduwatch-\|^/usr/share/lintian/' | sort -u; }
cat "$WORK"/{agent,collector,common}.files | grep -v '/$' | norm >"$WORK/deb.list"
for r in "$O"/rpm/*.rpm; do rpm -qlp "$r" 2>/dev/null; done |
	while read -r f; do [ -d "$WORK/x$f" ] || echo "$f"; done |
	grep -v '^/var/lib/\|^/etc/eduwatch$' | norm >"$WORK/rpm.list"
d=$(diff "$WORK/deb.list" "$WORK/rpm.list" | grep '^[<>]' | head -5 | tr '\n' ' ')
check "rpm -qlp lists the .debs' files ($(wc -l <"$WORK/rpm.list") files)${d:+ (differ: $d)}" test -z "$d"

echo "# rpm: $SECONDS s"
tap_finish
