#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	exim-root.sh - Debian's Exim 4 unpacked into a private directory
# SYNOPSIS
#	tests/exim-root.sh [DIR]
# DESCRIPTION
#	The Exim tests need a real Exim, but Debian's exim4 packages and
#	postfix both provide the MTA and conflict: installing Exim would
#	remove the Postfix that the other tests use (and on a production
#	server replace its MTA). So the packages exim4-base, exim4-config
#	and exim4-daemon-light are only downloaded (apt-get download) and
#	unpacked with dpkg-deb -x into DIR (default build-exim/root in the
#	source tree); nothing of them is installed or configured, no
#	maintainer script runs. The tests run DIR/usr/sbin/exim4 as root
#	with their own configuration (-C).
#
#	What the binary needs from the system is set up here too, since
#	no maintainer script does it: the shared libraries it links
#	against (exim4-daemon-light's library dependencies; only
#	libidn12 is usually missing, it conflicts with nothing) and the
#	system user and group Debian-exim compiled into the binary.
#
#	Nothing is done when DIR/usr/sbin/exim4 exists and runs. Prints
#	the path of the binary.
# DIAGNOSTICS
#	Exit status 1 with a message on stderr when a package cannot be
#	downloaded or the binary does not run; 2 when not run as root
#	and something is missing.
# SECURITY
#	Needs root to install libraries and add the user. The binary is
#	setuid root inside DIR, which is created mode 0755 and owned by
#	root.

set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${1:-$src/build-exim/root}
bin=$dir/usr/sbin/exim4
packages="exim4-base exim4-config exim4-daemon-light"

works() {
	[ -x "$bin" ] && "$bin" -C /dev/null -bV >/dev/null 2>&1
}

if works; then
	echo "$bin"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "exim-root.sh: as root, unpack $packages into $dir" >&2
	exit 2
fi

# Two test scripts may want it at once: one unpacks, the other waits.
mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9
if works; then
	echo "$bin"
	exit 0
fi

getent group Debian-exim >/dev/null || groupadd --system Debian-exim
getent passwd Debian-exim >/dev/null ||
	useradd --system -g Debian-exim -d /var/spool/exim4 \
		-s /usr/sbin/nologin Debian-exim

debs=$(mktemp -d "${TMPDIR:-/tmp}/exim-debs.XXXXXX")
trap 'rm -rf "$debs"' EXIT
chmod 755 "$debs"	# apt-get download writes as _apt when it can
( cd "$debs" && apt-get download -q $packages >/dev/null 2>"$debs/log" ) || {
	cat "$debs/log" >&2
	echo "exim-root.sh: cannot download $packages" >&2
	exit 1
}
mkdir -p "$dir.new"
rm -rf "${dir:?}.new"/*
for deb in "$debs"/*.deb; do
	dpkg-deb -x "$deb" "$dir.new"
done

# The libraries the daemon links against, as Debian would install them.
missing=$(ldd "$dir.new/usr/sbin/exim4" 2>/dev/null | awk '/not found/ { print $1 }')
if [ -n "$missing" ]; then
	deps=$(dpkg-deb -f "$debs"/exim4-daemon-light_*.deb Depends |
		tr ',' '\n' | sed 's/[(|].*//; s/ //g' | grep '^lib' || true)
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		-o DPkg::Lock::Timeout=600 $deps >"$debs/log" 2>&1 || {
		cat "$debs/log" >&2
		echo "exim-root.sh: cannot install the libraries of exim4: $missing" >&2
		exit 1
	}
fi

rm -rf "$dir"
mv "$dir.new" "$dir"
chmod 755 "$dir"
if ! works; then
	"$bin" -C /dev/null -bV >&2 || true
	echo "exim-root.sh: $bin does not run" >&2
	exit 1
fi
echo "$bin"
