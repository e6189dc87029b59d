#!/bin/bash
# Cross-builds the libraries the Windows agent links (libuv, OpenSSL,
# SQLite, msgpack-c, zstd, libyaml, yara, and cmocka for the unit tests)
# as static mingw-w64 x86_64 libraries, from Debian source packages at the
# versions pinned below, into one sysroot.
#
# Debian ships none of them built for mingw; its source packages are the
# one source whose integrity apt already checks (the Sources index is
# signed and every tarball's hash is in it). No source is patched: each
# library's own build system is driven with cross options.
#
# The sysroot is cached outside the clone, under a name made of a hash of
# this script (so of the pins and the recipes) and of the cross compiler's
# version: CI's fresh clone and every worktree reuse it, and a change of
# pin or recipe builds a new one. build/windows/sysroot links to it.
#
# A build stopped half way resumes: each library that finished leaves a
# stamp in the sysroot's .partial folder, which becomes the sysroot once
# all are there.
#
# Usage: scripts/windows-deps.sh [BUILD_DIR]   (default: build)
#   EW_WIN_CACHE  where sysroots and source tarballs are kept
#                 (default /var/cache/eduwatch)
#   EW_WIN_JOBS   parallel jobs (default 2)
#   EW_WIN_ONLY   build only these libraries (names as in the pins) into
#                 the .partial folder, e.g. those that do not need OpenSSL
#                 while it builds in another run
# Prints the sysroot's path on its last line.
set -Eeuo pipefail
cd "$(dirname "$0")/.."

build_dir=${1:-build}
cache=${EW_WIN_CACHE:-/var/cache/eduwatch}
jobs=${EW_WIN_JOBS:-2}
host=x86_64-w64-mingw32

# Source package pins. yara 4.5.2 is trixie's: every file of bookworm's
# 4.2.3 404s on the reachable mirror (see docs/DECISIONS.md on rule
# bundles across libyara versions).
pins="libuv1=1.44.2-1+deb12u1
openssl=3.0.17-1~deb12u2
sqlite3=3.40.1-2+deb12u2
msgpack-c=4.0.0-3
libzstd=1.5.4+dfsg2-5
libyaml=0.2.5-1
yara=4.5.2-1
cmocka=1.1.5-2.1"

die() { echo "windows-deps: $*" >&2; exit 1; }

command -v $host-gcc >/dev/null ||
	die "no $host-gcc: run scripts/deps.sh windows (Debian package mingw-w64)"
for t in cmake make tclsh autoreconf apt-get tar; do
	command -v $t >/dev/null || die "no $t: run scripts/deps.sh windows"
done

hash=$( { cat "$0"; $host-gcc --version | head -1; } | sha256sum | cut -c1-16)
sysroot="$cache/win-sysroot-$hash"
mkdir -p "$build_dir/windows"
link="$build_dir/windows/sysroot"

if [ -f "$sysroot/.complete" ]; then
	ln -sfn "$sysroot" "$link"
	echo "$sysroot"
	exit 0
fi

# ---- sources ---------------------------------------------------------------
src_cache="$cache/win-src"
mkdir -p "$src_cache"

# apt-get source needs deb-src entries for bookworm and for trixie (yara).
# They add no binary package: Types is deb-src only.
src_list=/etc/apt/sources.list.d/eduwatch-src.sources
ensure_deb_src() {
	[ -f "$src_list" ] && return 0
	[ "$(id -u)" -eq 0 ] || die "needs deb-src entries: run as root once"
	cat >"$src_list" <<'EOF'
# eduwatch: source packages for the Windows cross-build (scripts/windows-deps.sh)
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
	apt-get -o DPkg::Lock::Timeout=900 update -qq
}

# orig_tarball PKG VERSION: the upstream tarball's path, downloaded once.
# --tar-only: openssl's .dsc 404s on the mirror and we need only the orig.
orig_tarball() {
	local pkg=$1 ver=$2 upstream f
	upstream=${ver%-*}
	upstream=${upstream#*:}
	for f in "$src_cache/${pkg}_${upstream}.orig.tar."*; do
		case $f in *orig-*) continue ;; esac
		[ -f "$f" ] && { echo "$f"; return 0; }
	done
	ensure_deb_src
	(cd "$src_cache" && apt-get source --download-only --tar-only -qq \
		"$pkg=$ver" >/dev/null) || die "apt-get source $pkg=$ver failed"
	for f in "$src_cache/${pkg}_${upstream}.orig.tar."*; do
		case $f in *orig-*) continue ;; esac
		[ -f "$f" ] && { echo "$f"; return 0; }
	done
	die "no orig tarball for $pkg=$ver"
}

work=$(mktemp -d "${TMPDIR:-/tmp}/ew-windeps-XXXXXX")
stage="$sysroot.partial"
trap 'rm -rf "$work"' EXIT
mkdir -p "$stage/include" "$stage/lib"

# step PKG FUNCTION: builds one library unless its stamp says it is done
# (or EW_WIN_ONLY leaves it out).
step() {
	local pkg=$1 fn=$2
	[ -f "$stage/.built-$pkg" ] && return 0
	if [ -n "${EW_WIN_ONLY:-}" ]; then
		case " $EW_WIN_ONLY " in *" $pkg "*) ;; *) return 0 ;; esac
	fi
	$fn
	touch "$stage/.built-$pkg"
}

# unpack PKG: extracts the pinned orig tarball into $work/PKG, prints it.
unpack() {
	local pkg=$1 ver
	ver=$(printf '%s\n' "$pins" | sed -n "s/^$pkg=//p")
	[ -n "$ver" ] || die "no pin for $pkg"
	mkdir -p "$work/$pkg"
	tar -xf "$(orig_tarball "$pkg" "$ver")" -C "$work/$pkg" --strip-components=1
	echo "$work/$pkg"
}

cflags="-O2 -g0"
cmake_cross=(-DCMAKE_SYSTEM_NAME=Windows -DCMAKE_SYSTEM_PROCESSOR=x86_64
	-DCMAKE_C_COMPILER=$host-gcc -DCMAKE_CXX_COMPILER=$host-g++
	-DCMAKE_RC_COMPILER=$host-windres -DCMAKE_BUILD_TYPE=Release
	"-DCMAKE_C_FLAGS=$cflags" -DCMAKE_FIND_ROOT_PATH="$stage"
	-DCMAKE_INSTALL_PREFIX="$stage" -DBUILD_SHARED_LIBS=OFF
	-DBUILD_TESTING=OFF)
log() { echo "windows-deps: $*" >&2; }
# A failed step shows the end of the log it was writing.
trap 'echo "windows-deps: failed; end of $(ls -t "$work"/*.log | head -1):" >&2
	tail -25 "$(ls -t "$work"/*.log | head -1)" >&2' ERR
t0=$(date +%s)

# libuv: the static target alone; its install rule wants the shared one.
build_libuv() {
	local d
	d=$(unpack libuv1)
	log "libuv"
	cmake -S "$d" -B "$d/b" "${cmake_cross[@]}" -DLIBUV_BUILD_TESTS=OFF \
		-DLIBUV_BUILD_BENCH=OFF >"$work/libuv.log" 2>&1
	cmake --build "$d/b" --target uv_a -j "$jobs" >>"$work/libuv.log" 2>&1
	cp "$d/b/libuv_a.a" "$stage/lib/libuv.a"
	cp -r "$d/include/." "$stage/include/"
}

# OpenSSL 3.0: libraries and headers only. no-module keeps the legacy
# provider inside libcrypto, no-shared makes static archives.
build_openssl() {
	local d
	d=$(unpack openssl)
	log "openssl (the longest step)"
	(cd "$d" && ./Configure mingw64 --cross-compile-prefix=$host- no-shared \
		no-tests no-module --prefix="$stage" --libdir=lib &&
		make -j "$jobs" build_libs && make install_dev) >"$work/openssl.log" 2>&1 ||
		{ tail -30 "$work/openssl.log"; die "openssl failed"; }
}

# SQLite: the cross configure runs host tools under .exe names, so the
# amalgamation is generated natively and that one file cross-compiled.
build_sqlite() {
	local d
	d=$(unpack sqlite3)
	log "sqlite"
	(mkdir -p "$d/native" && cd "$d/native" && ../configure >/dev/null &&
		make sqlite3.c sqlite3.h >/dev/null) >"$work/sqlite.log" 2>&1 ||
		{ tail -30 "$work/sqlite.log"; die "sqlite amalgamation failed"; }
	$host-gcc $cflags -DSQLITE_THREADSAFE=1 -DSQLITE_DEFAULT_FOREIGN_KEYS=0 \
		-DSQLITE_ENABLE_COLUMN_METADATA -DSQLITE_ENABLE_FTS5 \
		-c "$d/native/sqlite3.c" -o "$d/sqlite3.o"
	$host-ar rcs "$stage/lib/libsqlite3.a" "$d/sqlite3.o"
	cp "$d/native/sqlite3.h" "$d/native/sqlite3ext.h" "$stage/include/" 2>/dev/null ||
		cp "$d/native/sqlite3.h" "$stage/include/"
}

# msgpack-c (the C library, 4.x).
build_msgpack() {
	local d
	d=$(unpack msgpack-c)
	log "msgpack-c"
	cmake -S "$d" -B "$d/b" "${cmake_cross[@]}" -DMSGPACK_BUILD_TESTS=OFF \
		-DMSGPACK_BUILD_EXAMPLES=OFF -DMSGPACK_ENABLE_SHARED=OFF \
		>"$work/msgpack.log" 2>&1
	cmake --build "$d/b" -j "$jobs" >>"$work/msgpack.log" 2>&1
	cmake --install "$d/b" >>"$work/msgpack.log" 2>&1
}

# zstd, from its CMake project.
build_zstd() {
	local d
	d=$(unpack libzstd)
	log "zstd"
	cmake -S "$d/build/cmake" -B "$d/b" "${cmake_cross[@]}" \
		-DZSTD_BUILD_SHARED=OFF -DZSTD_BUILD_STATIC=ON -DZSTD_BUILD_PROGRAMS=OFF \
		-DZSTD_BUILD_TESTS=OFF -DZSTD_MULTITHREAD_SUPPORT=OFF \
		>"$work/zstd.log" 2>&1
	cmake --build "$d/b" -j "$jobs" >>"$work/zstd.log" 2>&1
	cmake --install "$d/b" >>"$work/zstd.log" 2>&1
}

# libyaml: the orig has no configure; users define YAML_DECLARE_STATIC.
build_yaml() {
	local d
	d=$(unpack libyaml)
	log "libyaml"
	cmake -S "$d" -B "$d/b" "${cmake_cross[@]}" -DINSTALL_CMAKE_DIR=lib/cmake \
		>"$work/yaml.log" 2>&1
	cmake --build "$d/b" -j "$jobs" >>"$work/yaml.log" 2>&1
	cmake --install "$d/b" >>"$work/yaml.log" 2>&1
}

# yara 4.5.2 with the hash module (OpenSSL from this sysroot).
build_yara() {
	local d
	d=$(unpack yara)
	log "yara"
	(cd "$d" && ./bootstrap.sh && ./configure --host=$host --disable-shared \
		--enable-static --with-crypto --prefix="$stage" \
		CFLAGS="$cflags" CPPFLAGS="-I$stage/include" LDFLAGS="-L$stage/lib" \
		LIBS="-lws2_32 -lcrypt32 -lbcrypt -luser32 -ladvapi32" &&
		make -j "$jobs" && make install) \
		>"$work/yara.log" 2>&1 || { tail -30 "$work/yara.log"; die "yara failed"; }
}

# cmocka: the unit tests' runner, built for mingw like the rest.
build_cmocka() {
	local d
	d=$(unpack cmocka)
	log "cmocka"
	cmake -S "$d" -B "$d/b" "${cmake_cross[@]}" -DWITH_STATIC_LIB=ON \
		-DWITH_EXAMPLES=OFF -DUNIT_TESTING=OFF >"$work/cmocka.log" 2>&1
	cmake --build "$d/b" -j "$jobs" >>"$work/cmocka.log" 2>&1
	cmake --install "$d/b" >>"$work/cmocka.log" 2>&1
}

step libuv1 build_libuv
step openssl build_openssl
step sqlite3 build_sqlite
step msgpack-c build_msgpack
step libzstd build_zstd
step libyaml build_yaml
step yara build_yara
step cmocka build_cmocka

for p in $(printf '%s\n' "$pins" | cut -d= -f1); do
	[ -f "$stage/.built-$p" ] || { log "built: ${EW_WIN_ONLY:-}; $p still missing"; exit 0; }
done
printf '%s\n' "$pins" >"$stage/PINS"
touch "$stage/.complete"
rm -rf "$sysroot"
mv "$stage" "$sysroot"
ln -sfn "$sysroot" "$link"
log "sysroot built in $(($(date +%s) - t0)) s"
echo "$sysroot"
