#!/bin/bash
# make deb: the Debian packages from this tree, with dpkg-buildpackage.
# It builds from a copy of the tree (dpkg-buildpackage writes its results
# beside the source folder, which must not be a shared checkout) and hands
# debian/rules this tree's build folder, so objects already compiled by
# `make` are reused. The .debs, the .buildinfo and the .changes land in
# O/deb. Usage: packaging/build-deb.sh O (e.g. build/release)
set -euo pipefail
O=${1:?usage: build-deb.sh BUILD/VARIANT}
mkdir -p "$O"
O=$(cd "$O" && pwd)
TREE=$(cd "$(dirname "$0")/.." && pwd)
VERSION=$(dpkg-parsechangelog -l "$TREE/debian/changelog" -S Version)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ew-deb-XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# tar keeps the sources' times, so make finds the objects up to date.
mkdir -p "$WORK/eduwatch-${VERSION%%-*}"
(cd "$TREE" && tar -c --exclude-vcs --exclude=./build \
	--exclude=./tests/browser/node_modules --exclude=./debian/build \
	--exclude="./${O#"$TREE"/}" .) |
	tar -x -C "$WORK/eduwatch-${VERSION%%-*}"
(cd "$WORK/eduwatch-${VERSION%%-*}" &&
	EW_BUILD=$(dirname "$O") dpkg-buildpackage -b -uc -us \
		--no-pre-clean >"$WORK/build.log" 2>&1) || {
	tail -40 "$WORK/build.log" >&2
	echo "make deb: dpkg-buildpackage failed (log above)" >&2
	exit 1
}
rm -rf "$O/deb"
mkdir -p "$O/deb"
mv "$WORK"/*.deb "$WORK"/*.changes "$WORK"/*.buildinfo "$O/deb/"
cp "$WORK/build.log" "$O/deb/build.log"
ls "$O/deb"/*.deb
