# Helpers of the package tests (tests/integration/package_deb.sh,
# tests/package/piuparts.sh).
#
# A clean Debian 12 chroot for the package tests, made with debootstrap
# from the Debian archive, with the packages' dependencies preinstalled.
# Both are cached as tarballs under /var/cache/eduwatch (the base once,
# the one with dependencies per dependency list), so only the first run
# downloads: the next ones unpack it in seconds.
#   chroot_make DIR DEB...   DIR: a chroot with what DEB... depend on
#   in_chroot DIR CMD...     run CMD in it, with /proc, in a private mount
#                            namespace (nothing to unmount afterwards)
#   offline_chroot DIR CMD...  the same with no network at all (a network
#                            namespace of its own, not even loopback): what
#                            runs there provably downloads nothing
#   deb_as_version DEB FROM TO OUT
#                            DEB repacked as version TO (its "= FROM"
#                            dependencies too): the "previous version" of
#                            the upgrade tests, without building twice
EW_CACHE=${EW_CACHE:-/var/cache/eduwatch}
EW_MIRROR=${EW_MIRROR:-http://deb.debian.org/debian}
EW_SUITE=${EW_SUITE:-bookworm}

in_chroot() {
	local root=$1; shift
	unshare --mount ${EW_CHROOT_OFFLINE:+--net} --fork /bin/sh -c 'mount -t proc proc "$0/proc" &&
		exec chroot "$0" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"' "$root" "$@"
}
offline_chroot() { EW_CHROOT_OFFLINE=1 in_chroot "$@"; }

# The dependencies of DEB..., minus the packages themselves, versions
# and alternatives dropped: what the chroot must hold already.
deb_dependencies() {
	local d own
	own=$(for d; do dpkg-deb -f "$d" Package; done)
	for d; do dpkg-deb -f "$d" Depends Pre-Depends; done |
		sed 's/^[A-Za-z-]*: //' | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/:any//' |
		tr -d ' ' | grep . | grep -vxF "$own" | sort -u
}

chroot_base_tar() {
	local tar="$EW_CACHE/$EW_SUITE-minbase.tar"
	if [ ! -s "$tar" ]; then
		local tmp
		tmp=$(mktemp -d "${TMPDIR:-/tmp}/ew-debootstrap-XXXXXX")
		debootstrap --variant=minbase "$EW_SUITE" "$tmp/root" "$EW_MIRROR" \
			>"$tmp/log" 2>&1 || { tail -5 "$tmp/log" >&2; rm -rf "$tmp"; return 1; }
		mkdir -p "$EW_CACHE"
		tar -C "$tmp/root" -cf "$tar.new" . && mv "$tar.new" "$tar"
		rm -rf "$tmp"
	fi
	echo "$tar"
}

chroot_make() {
	local root=$1; shift
	local deps key tar base
	deps=$(deb_dependencies "$@")
	key=$(printf '%s\n' "$deps" | sha256sum | cut -c1-16)
	tar="$EW_CACHE/$EW_SUITE-deps-$key.tar"
	mkdir -p "$root"
	if [ ! -s "$tar" ]; then
		base=$(chroot_base_tar) || return 1
		tar -C "$root" -xf "$base"
		cp /etc/resolv.conf "$root/etc/resolv.conf"
		# shellcheck disable=SC2086
		in_chroot "$root" sh -c 'apt-get update -qq &&
			apt-get install -y -qq --no-install-recommends "$@" &&
			apt-get clean' _ $deps >"$root.deps.log" 2>&1 ||
			{ tail -5 "$root.deps.log" >&2; return 1; }
		tar -C "$root" -cf "$tar.new" . && mv "$tar.new" "$tar"
		rm -f "$root.deps.log"
	else
		tar -C "$root" -xf "$tar"
	fi
}

deb_as_version() {
	local deb=$1 from=$2 to=$3 out=$4 tmp
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/ew-repack-XXXXXX")
	dpkg-deb -R "$deb" "$tmp/x" &&
		sed -i "s/^Version: .*/Version: $to/; s/(= $from)/(= $to)/g" "$tmp/x/DEBIAN/control" &&
		dpkg-deb -b "$tmp/x" "$out" >/dev/null
	local rc=$?
	rm -rf "$tmp"
	return $rc
}
