#!/bin/bash
# Checks a Windows executable's hardening: x86-64, ASLR with high
# entropy (DYNAMIC_BASE, HIGH_ENTROPY_VA, and relocations kept), DEP
# (NX_COMPAT), and no section both writable and executable.
# Usage: scripts/windows-check.sh FILE.exe
set -euo pipefail
exe=$1
od=x86_64-w64-mingw32-objdump
hdr=$($od -p "$exe")
fail=0
need() { # need PATTERN WHAT
	grep -qE "$1" <<<"$hdr" || { echo "windows-check: $exe: no $2" >&2; fail=1; }
}
need '^Magic[[:space:]]+020b' "PE32+ (x86-64) header"
need '^[[:space:]]+DYNAMIC_BASE$' "DYNAMIC_BASE (ASLR)"
need '^[[:space:]]+HIGH_ENTROPY_VA$' "HIGH_ENTROPY_VA"
need '^[[:space:]]+NX_COMPAT$' "NX_COMPAT (DEP)"
# A section flagged CODE without READONLY is writable and executable.
wx=$($od -h "$exe" | awk '/^ *[0-9]+ /{name=$2; getline; if ($0 ~ /CODE/ && $0 !~ /READONLY/) print name}')
if [ -n "$wx" ]; then
	echo "windows-check: $exe: writable and executable sections: $wx" >&2
	fail=1
fi
[ $fail -eq 0 ] && echo "windows-check: $exe: PE32+, ASLR (high entropy), DEP, no W+X section"
exit $fail
