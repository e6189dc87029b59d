#!/bin/bash
# make package-test: piuparts on the .debs in a clean Debian 12 made from
# the archive: install the three packages, remove, purge, and check that
# nothing is left behind; then the same from the previous version (this
# one repacked with a lower version, as package_deb.sh does) upgraded to
# this one. Slower than make test's budget (piuparts installs the
# dependencies from the mirror each time), so it is its own target.
# The base tarball is cached in /var/cache/eduwatch.
set -euo pipefail
DEBS=${EW_DEB_DIR:?EW_DEB_DIR: the folder of make deb}
CACHE=${EW_CACHE:-/var/cache/eduwatch}
MIRROR=${EW_MIRROR:-http://deb.debian.org/debian}
BASE="$CACHE/piuparts-bookworm.tar.gz"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ew-piuparts-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$CACHE"

if [ -s "$BASE" ]; then
	base=(-b "$BASE")
else
	base=(--save="$BASE")
fi
version=$(dpkg-deb -f "$(ls "$DEBS"/eduwatch-agent_*.deb)" Version)
cur=("$DEBS"/eduwatch-common_*.deb "$DEBS"/eduwatch-agent_"$version"_*.deb
	"$DEBS"/eduwatch-collector_"$version"_*.deb)
fail=0
echo "# piuparts: install, remove, purge of ${cur[*]##*/}"
if piuparts -d bookworm -m "$MIRROR" "${base[@]}" --warn-on-debsums-errors \
	-l "$WORK/install.log" "${cur[@]}" >/dev/null 2>&1; then
	echo "ok 1 - piuparts install/remove/purge: $(tail -1 "$WORK/install.log")"
else
	fail=1
	grep -E '^[0-9:]+ (FAIL|ERROR)' "$WORK/install.log" | head -20 | sed 's/^/# /'
	echo "not ok 1 - piuparts install/remove/purge: $(tail -1 "$WORK/install.log")"
fi
[ -s "$BASE" ] && base=(-b "$BASE")

prev="${version%-*}~prev-1"
mkdir -p "$WORK/prev"
for d in "${cur[@]}"; do
	p=$(dpkg-deb -f "$d" Package)
	rm -rf "$WORK/repack" && dpkg-deb -R "$d" "$WORK/repack"
	sed -i "s/^Version: .*/Version: $prev/; s/(= $version)/(= $prev)/" "$WORK/repack/DEBIAN/control"
	dpkg-deb -b "$WORK/repack" "$WORK/prev/${p}_${prev}_$(dpkg-deb -f "$d" Architecture).deb" >/dev/null
done
# piuparts' upgrade between two local versions: install the old set with
# --extra-old-packages, then the new set, then purge; its checks run at
# each step.
echo "# piuparts: $prev installed, upgraded to $version, purged"
if piuparts -d bookworm -m "$MIRROR" "${base[@]}" --warn-on-debsums-errors \
	--extra-old-packages="$(ls "$WORK"/prev/*.deb | paste -sd,)" \
	-l "$WORK/upgrade.log" "${cur[@]}" >/dev/null 2>&1; then
	echo "ok 2 - piuparts upgrade from $prev: $(tail -1 "$WORK/upgrade.log")"
else
	fail=1
	grep -E '^[0-9:]+ (FAIL|ERROR)' "$WORK/upgrade.log" | head -20 | sed 's/^/# /'
	echo "not ok 2 - piuparts upgrade from $prev: $(tail -1 "$WORK/upgrade.log")"
fi
echo "1..2"
exit $fail
