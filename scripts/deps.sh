#!/bin/sh
# Installs the Debian 12 packages that building and testing eduwatch need,
# only those missing. As root it installs them; otherwise it prints the one
# command a person should run. Usage: scripts/deps.sh [build|test|bench|windows]
set -eu

# libh2o-dev is h2o built on libuv (the collector's console shares its
# loop); libargon2-dev hashes the officers' passwords (argon2id).
build_pkgs="gcc make pkg-config libuv1-dev libssl-dev libyara-dev libpcap-dev
libmsgpack-dev libsqlite3-dev libyaml-dev libzstd-dev libseccomp-dev
libcurl4-openssl-dev
libh2o-dev libargon2-dev
libpango1.0-dev libcairo2-dev libxlsxwriter-dev fonts-liberation2"
# The reports (collector/report): pango on cairo lays out the PDF with
# Vietnamese shaping, libxlsxwriter writes the workbook, and
# fonts-liberation2's Liberation Serif is the embedded face.
# uthash (headers only): the backup's hash sets, see docs/DECISIONS.md.
build_pkgs="$build_pkgs uthash-dev"
# libpq-dev: the PostgreSQL store backend talks to the server with libpq
# directly (docs/DECISIONS.md).
build_pkgs="$build_pkgs libpq-dev"
# The test suite: cmocka, clang with libFuzzer and the sanitizer runtimes,
# the sqlite3 and openssl command lines used by the integration scripts;
# scapy writes the LAN sensor's test captures, and dnsmasq, arpspoof
# (dsniff), arping and nmap are the real attack tools of its live test;
# clamav-daemon (clamd, clamonacc) and clamav (sigtool) are the real
# antivirus the status checks ask; yara and restic are the scan and
# backup benchmarks' peers. python3-msgpack reads the collector's answers
# in the hostile-peer tests. systemd gives systemd-analyze, which scores
# the packaged units offline.
test_pkgs="libcmocka-dev clang libclang-rt-14-dev sqlite3 openssl procps
python3 iproute2 python3-scapy dnsmasq-base dsniff iputils-arping nmap
rsyslog rsyslog-openssl clamav clamav-daemon python3-msgpack systemd
poppler-utils python3-openpyxl"
# The report suite reads the PDF back with poppler (pdftotext, pdffonts,
# pdftoppm) and the workbook with openpyxl, readers that are not ours.
# The console's browser suite: Debian's chromium driven by playwright-core
# (tests/browser, pinned by its package-lock.json). npm comes with some
# Node.js builds (NodeSource's); Debian's own nodejs needs the package.
test_pkgs="$test_pkgs chromium nodejs"
# postgresql-15: the store suites run once more against a real server,
# started in a temp dir by tests/support/pg_harness.sh.
test_pkgs="$test_pkgs postgresql-15"
# haproxy: the two-collector chaos test puts two collectors behind one
# address with a real TCP load balancer, as a province would.
test_pkgs="$test_pkgs haproxy"
command -v npm >/dev/null 2>&1 || test_pkgs="$test_pkgs npm"
# The packages (issue 20): debhelper builds the .debs (make deb), lintian
# checks them, debootstrap makes the clean Debian 12 chroot of the dpkg
# install/upgrade/purge test, piuparts is make package-test's checker,
# Debian's rpm builds the rpm (make rpm); man-db and bsdextrautils (col)
# render the generated man pages in their test.
test_pkgs="$test_pkgs debhelper lintian debootstrap piuparts rpm man-db bsdextrautils"
bench_pkgs="bc rsyslog rsyslog-openssl yara restic time"
# The Windows agent (make windows, and its tests under wine): the mingw-w64
# cross compiler, wine to run the .exe and its unit tests, wixl for the
# MSI; cmake, autotools and tclsh cross-build the libraries from Debian
# source packages (scripts/windows-deps.sh, which apt-get source needs
# dpkg-dev for).
windows_pkgs="mingw-w64 wine wine64 wixl msitools cmake autoconf automake
libtool tcl dpkg-dev xz-utils"

want="$build_pkgs"
case "${1:-build}" in
build) ;;
test) want="$want $test_pkgs $windows_pkgs" ;;
bench) want="$want $test_pkgs $bench_pkgs $windows_pkgs" ;;
windows) want="$want $windows_pkgs" ;;
*) echo "usage: $0 [build|test|bench|windows]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = "installed" ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "eduwatch needs these Debian packages:$missing" >&2
	echo "run as root: apt-get update && apt-get install -y$missing" >&2
	exit 1
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt run (a second build, unattended-upgrades) instead of
# failing on the dpkg lock.
lock="-o DPkg::Lock::Timeout=900"
# shellcheck disable=SC2086
apt-get $lock update -qq >/dev/null
# shellcheck disable=SC2086
apt-get $lock install -y -qq --no-install-recommends $missing >/dev/null
