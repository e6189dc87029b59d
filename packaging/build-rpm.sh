#!/bin/bash
# make rpm: the rpms from one spec (packaging/rpm/eduwatch.spec) with
# Debian's rpm, packing what `make install PREFIX=/usr` puts in a DESTDIR.
# Usage: packaging/build-rpm.sh O (the .rpms land in O/rpm)
set -euo pipefail
O=${1:?usage: build-rpm.sh BUILD/VARIANT}
O=$(cd "$O" && pwd)
TREE=$(cd "$(dirname "$0")/.." && pwd)
VERSION=$(sed -n 's/^#define EDUWATCH_VERSION "\(.*\)"/\1/p' "$TREE/common/version.h")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ew-rpm-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
make -s -C "$TREE" BUILD="$(dirname "$O")" VARIANT="$(basename "$O")" install \
	DESTDIR="$WORK/root" PREFIX=/usr UNITDIR=/usr/lib/systemd/system >/dev/null
# rpm's own macros compress man pages on distributions that ship
# brp-compress; Debian's rpm has none, so do it here, as dh does for .debs.
gzip -9n "$WORK/root/usr/share/man/man8/"*.8
rpmbuild -bb --nodeps --quiet \
	--define "_topdir $WORK/top" --define "ew_root $WORK/root" \
	--define "ew_version $VERSION" --define "_unitdir /usr/lib/systemd/system" \
	"$TREE/packaging/rpm/eduwatch.spec" >"$WORK/log" 2>&1 || {
	tail -30 "$WORK/log" >&2
	exit 1
}
rm -rf "$O/rpm"
mkdir -p "$O/rpm"
find "$WORK/top/RPMS" -name '*.rpm' -exec mv {} "$O/rpm/" \;
ls "$O/rpm"/*.rpm
