#!/bin/bash
# make package-test: piuparts on the .debs in a clean Debian 12 made from
# the archive: install the three packages, remove, purge, and check that
# nothing is left behind; then the same from the previous version (this
# one repacked with a lower version, as package_deb.sh does) upgraded to
# this one. Slower than make test's budget (piuparts installs the
# dependencies from the mirror each time), so it is its own target.
# The base tarball is cached in /var/cache/eduwatch.
set -euo pipefail
. "$(dirname "$0")/lib.bash"
DEBS=${EW_DEB_DIR:?EW_DEB_DIR: the folder of make deb}
CACHE=${EW_CACHE:-/var/cache/eduwatch}
MIRROR=${EW_MIRROR:-http://deb.debian.org/debian}
BASE="$CACHE/piuparts-bookworm.tar.gz"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ew-piuparts-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$CACHE"

# piuparts' base is the same debootstrap minbase as package_deb.sh's
# chroot (lib.bash caches it), gzipped as piuparts reads it.
if [ ! -s "$BASE" ]; then
	minbase=$(chroot_base_tar)
	gzip -1 -c "$minbase" >"$BASE.new" && mv "$BASE.new" "$BASE"
fi
base=(-b "$BASE")
version=$(dpkg-deb -f "$(ls "$DEBS"/eduwatch-agent_*.deb)" Version)
cur=("$DEBS"/eduwatch-common_*.deb "$DEBS"/eduwatch-agent_"$version"_*.deb
	"$DEBS"/eduwatch-collector_"$version"_*.deb)
# The previous version, this one repacked with a lower version number, in
# a local apt repository that piuparts sees: with an older version known
# to apt, piuparts runs both its install/remove/purge test and its
# install-old, upgrade-to-these-files, purge test.
prev="${version%-*}~prev-1"
# Not under /tmp: piuparts mounts its own /tmp in the chroot, over the
# bind mount.
REPO=$(mktemp -d "$CACHE/piuparts-repo-XXXXXX")
trap 'rm -rf "$WORK" "$REPO"' EXIT
for d in "${cur[@]}"; do
	p=$(dpkg-deb -f "$d" Package)
	deb_as_version "$d" "$version" "$prev" \
		"$REPO/${p}_${prev}_$(dpkg-deb -f "$d" Architecture).deb"
done
(cd "$REPO" && dpkg-scanpackages . /dev/null >Packages 2>/dev/null)

echo "# piuparts: ${cur[*]##*/}; previous version $prev from a local repository"
rc=0
piuparts -d bookworm -m "$MIRROR" "${base[@]}" \
	--bindmount="$REPO" --extra-repo="deb [trusted=yes] file://$REPO ./" \
	-l "$WORK/piuparts.log" "${cur[@]}" >/dev/null 2>&1 || rc=$?
cp "$WORK/piuparts.log" "${EW_PIUPARTS_LOG:-/tmp/ew-piuparts-last.log}"
grep -E 'ERROR|FAIL' "$WORK/piuparts.log" | head -20 | sed 's/^/# /' || true
grep -E "(PASS|FAIL):" "$WORK/piuparts.log" | sed 's/^/# /' || true
if [ "$rc" = 0 ]; then
	echo "ok 1 - piuparts install/remove/purge and upgrade from $prev: $(tail -1 "$WORK/piuparts.log")"
else
	echo "not ok 1 - piuparts (rc $rc): $(tail -1 "$WORK/piuparts.log")"
fi
grep -q "PASS: Installation, upgrade and purging tests" "$WORK/piuparts.log" &&
	echo "ok 2 - piuparts ran the upgrade test from $prev" ||
	{ echo "not ok 2 - piuparts did not run the upgrade test"; rc=1; }
echo "1..2"
exit "$rc"
