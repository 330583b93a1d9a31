#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1630-debian-package - the .deb installs, works, removes and purges
# DESCRIPTION
#	Takes the package "make deb" built ($MC_DEB, else the newest
#	build-deb/mailcure_*.deb; "make check" builds it once, again only
#	when a file that goes into it changed: building takes minutes)
#	and installs it with dpkg into a root of its own under $T (its own
#	dpkg database; the maintainer scripts run there through
#	$DPKG_ROOT), so that the machine's packages are not touched.
#
#	Checks: its dependencies name no mail server and no browser;
#	mailcure --version runs from it; man -w finds the page; dpkg -L
#	lists the binary, the page, the completion, the settings file
#	and the watch policy (conffiles, 0644), the watch units (not
#	enabled), the reload trigger, the freshclam hook and the
#	documentation with their modes; the
#	installed mailcure reads /etc/mailcure/mailcure.conf and the
#	shipped file parses; the state directory and the quarantine are
#	root's, mode 0700; the completion registers itself. dpkg -r
#	removes the program and keeps the settings; dpkg -P then removes
#	the settings and keeps the quarantine with what is in it; on an
#	empty quarantine, purge leaves nothing behind.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_setup
mc_need_root
mc_need dpkg dpkg-deb man

arch=$(dpkg --print-architecture)
deb=${MC_DEB:-$(ls -t "$MC_SRC"/build-deb/mailcure_*_"$arch".deb 2>/dev/null | head -n 1 || true)}
[ -n "$deb" ] && [ -f "$deb" ] || mc_skip "no package built: run 'make deb' (make check builds it)"
# A package older than the source it was built from tests something else.
newer=$(cd "$MC_SRC" && find src lib include man etc completion debian systemd meson.build \
	meson_options.txt -type f -newer "$deb" 2>/dev/null | head -n 1)
[ -z "$newer" ] || mc_fail "$deb is older than $newer: run 'make deb'"
mc_log "package $deb"

depends=$(dpkg-deb -f "$deb" Depends Recommends Suggests Pre-Depends)
if grep -Eqi 'postfix|exim|sendmail|mail-transport-agent|dovecot|chromium|firefox|www-browser' <<<"$depends"; then
	mc_fail "the package depends on a mail server or a browser: $depends"
fi

root=$T/root
admin=$root/var/lib/dpkg
mkdir -p "$admin/info" "$admin/updates" "$root/etc" "$root/usr" "$root/var/lib"
: >"$admin/status"
pkg() {
	dpkg --root="$root" --admindir="$admin" --instdir="$root" --force-script-chrootless \
		--force-depends --force-not-root --log="$T/dpkg.log" "$@"
}
pkg -i "$deb" >"$T/install.log" 2>&1 || { cat "$T/install.log"; mc_fail "dpkg -i"; }
[ "$(dpkg-query --admindir="$admin" -W -f='${Status}' mailcure)" = "install ok installed" ] ||
	mc_fail "not installed: $(dpkg-query --admindir="$admin" -W -f='${Status}' mailcure)"

version=$("$root/usr/bin/mailcure" --version)
[ "$version" = "mailcure $(dpkg-deb -f "$deb" Version)" ] || mc_fail "--version says '$version'"
page=$(man -M "$root/usr/share/man" -w mailcure) || mc_fail "man -w mailcure found no page"
[ "$page" = "$root/usr/share/man/man1/mailcure.1.gz" ] || mc_fail "man -w: $page"
man -l "$page" 2>/dev/null | grep -q "SETTINGS FILE" || mc_fail "the page has no SETTINGS FILE"

# dpkg -L: path, mode, owner of each file the package must hold.
files=$(dpkg-query --admindir="$admin" -L mailcure)
for want in "/usr/bin/mailcure 755" "/usr/share/man/man1/mailcure.1.gz 644" \
	"/usr/share/bash-completion/completions/mailcure 644" \
	"/etc/mailcure/mailcure.conf 644" "/usr/share/doc/mailcure/copyright 644" \
	"/usr/share/doc/mailcure/README.Debian 644" \
	"/usr/share/mailcure/sigs/mailcure-test.hdb 644" \
	"/etc/mailcure/watch-policy.conf 644" \
	"/lib/systemd/system/mailcure-watch.service 644" \
	"/lib/systemd/system/mailcure-watch-reload.service 644" \
	"/lib/systemd/system/mailcure-watch-reload.path 644" \
	"/usr/share/mailcure/watch-reload.tmpfiles 644" \
	"/usr/share/mailcure/freshclam-onupdate.conf 644"; do
	path=${want% *}
	grep -qxF "$path" <<<"$files" || mc_fail "dpkg -L lacks $path"
	got=$(stat -c '%a %U:%G' "$root$path")
	[ "$got" = "${want#* } root:root" ] || mc_fail "$path: mode and owner $got, expected ${want#* } root:root"
done
! grep -q '^/var/lib/mailcure' <<<"$files" || mc_fail "the package ships /var/lib/mailcure"
for f in mailcure.conf watch-policy.conf; do
	dpkg-query --admindir="$admin" -W -f='${Conffiles}\n' mailcure | grep -q "^ /etc/mailcure/$f " ||
		mc_fail "/etc/mailcure/$f is not a conffile"
done
# The units are installed, not enabled: watch acts on mail by itself.
[ -z "$(find "$root/etc/systemd" -name 'mailcure*' 2>/dev/null)" ] ||
	mc_fail "the package enabled a unit: $(find "$root/etc/systemd" -name 'mailcure*')"
grep -qxF "ExecStart=/usr/bin/mailcure watch --policy /etc/mailcure/watch-policy.conf \$WATCH_OPTIONS" \
	"$root/lib/systemd/system/mailcure-watch.service" ||
	mc_fail "mailcure-watch.service does not run /usr/bin/mailcure with /etc/mailcure/watch-policy.conf"
for d in /var/lib/mailcure /var/lib/mailcure/quarantine; do
	got=$(stat -c '%a %U:%G' "$root$d" 2>/dev/null || echo missing)
	[ "$got" = "700 root:root" ] || mc_fail "$d: $got, expected 700 root:root"
done

# The installed program reads /etc/mailcure/mailcure.conf, and the
# file shipped there is one it accepts.
"$root/usr/bin/mailcure" --help | grep -qF "settings file (default /etc/mailcure/mailcure.conf)" ||
	mc_fail "the installed mailcure does not read /etc/mailcure/mailcure.conf"
"$root/usr/bin/mailcure" --config "$root/etc/mailcure/mailcure.conf" --version >/dev/null ||
	mc_fail "the shipped settings file is refused"
(
	. "$root/usr/share/bash-completion/completions/mailcure"
	complete -p mailcure
) >/dev/null || mc_fail "the installed completion registers nothing"

pkg -r mailcure >"$T/remove.log" 2>&1 || { cat "$T/remove.log"; mc_fail "dpkg -r"; }
[ ! -e "$root/usr/bin/mailcure" ] || mc_fail "dpkg -r left /usr/bin/mailcure"
[ -f "$root/etc/mailcure/mailcure.conf" ] || mc_fail "dpkg -r removed the settings file"

# Purge keeps what is quarantined.
mkdir -p "$root/var/lib/mailcure/quarantine/entries/20261201T000001Z-000001-11111111"
echo "quarantined mail" >"$root/var/lib/mailcure/quarantine/entries/20261201T000001Z-000001-11111111/message"
pkg -P mailcure >"$T/purge.log" 2>&1 || { cat "$T/purge.log"; mc_fail "dpkg -P"; }
[ ! -e "$root/etc/mailcure" ] || mc_fail "purge left /etc/mailcure: $(ls -A "$root/etc/mailcure")"
grep -q "quarantined mail" "$root/var/lib/mailcure/quarantine/entries/20261201T000001Z-000001-11111111/message" ||
	mc_fail "purge removed quarantined mail"
grep -q "kept $root/var/lib/mailcure" "$T/purge.log" || mc_fail "purge did not say what it kept"
[ -z "$(dpkg-query --admindir="$admin" -W -f='${Status}' mailcure 2>/dev/null | grep -v not-installed)" ] ||
	mc_fail "still known to dpkg after purge"

# With nothing quarantined, purge leaves nothing.
rm -rf "$root/var/lib/mailcure"
pkg -i "$deb" >"$T/install.log" 2>&1 || { cat "$T/install.log"; mc_fail "dpkg -i (again)"; }
pkg -P mailcure >"$T/purge.log" 2>&1 || { cat "$T/purge.log"; mc_fail "dpkg -P (again)"; }
left=$(cd "$root" && { find etc usr var/lib -mindepth 1 -not -path 'var/lib/dpkg*' \
	-not -type d -print; find etc/mailcure var/lib/mailcure; } 2>/dev/null || true)
[ -z "$left" ] || mc_fail "purge left: $left"
echo "ok: the package installs, runs, removes and purges (quarantine kept)"
