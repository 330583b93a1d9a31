#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1640-systemd-units - the units of mailcure watch install and verify
# DESCRIPTION
#	"meson install" of the build directory into a DESTDIR puts
#	mailcure-watch.service, mailcure-watch-reload.service and
#	mailcure-watch-reload.path into systemd's unit directory, and
#	the reload trigger's tmpfiles file, the freshclam hook and the
#	example policy beside the other shipped files; the units run
#	the installed binary with the installed policy.
#
#	systemd-analyze verify accepts the units and says nothing about
#	them (it warns without failing, so any output is a failure);
#	their paths are pointed into the DESTDIR so that the commands
#	and the manual page it checks are there. Skipped with the reason
#	when systemd-analyze is missing or cannot run here.
#
#	The trigger (systemd-tmpfiles --create in a root of its own):
#	/run/mailcure is root's, 0755, and /run/mailcure/reload is
#	root:clamav 0620; a member of clamav can touch it (what
#	freshclam's hook does) but can create, replace or link nothing
#	in the directory. Without a group clamav the directory is still
#	made and the file is not. The freshclam hook shipped touches
#	exactly that file.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_setup
mc_need meson python3

build=${MC_BUILD:-$(dirname "$MAILCURE")}
[ -f "$build/build.ninja" ] || mc_skip "$build is not a meson build directory"
root=$T/root
DESTDIR=$root meson install -C "$build" --no-rebuild --quiet >"$T/install.log" 2>&1 ||
	{ cat "$T/install.log"; mc_fail "meson install failed"; }

# Where meson says each shipped file goes.
meson introspect "$build" --installed >"$T/installed.json"
installed() {
	python3 -c '
import json, sys
for src, dst in json.load(open(sys.argv[1])).items():
    if src.endswith("/" + sys.argv[2]):
        print(dst)' "$T/installed.json" "$1"
}
unitdir=
for f in mailcure-watch.service mailcure-watch-reload.service mailcure-watch-reload.path \
	watch-reload.tmpfiles freshclam-onupdate.conf watch-policy.conf mailcure; do
	dst=$(installed "$f")
	[ -n "$dst" ] || mc_fail "$f is not installed by meson install"
	[ -f "$root$dst" ] || mc_fail "$f: $root$dst is not there after meson install"
	case $f in
	*.service|*.path) unitdir=$(dirname "$dst") ;;
	mailcure) bin=$dst ;;
	watch-policy.conf) policy=$dst ;;
	watch-reload.tmpfiles) trigger=$dst ;;
	freshclam-onupdate.conf) hook=$dst ;;
	esac
done
case $unitdir in
*/systemd/system) ;;
*) mc_fail "units installed in $unitdir, not a systemd unit directory" ;;
esac
mc_log "units in $unitdir, binary $bin"
grep -qxF "ExecStart=$bin watch --policy $policy \$WATCH_OPTIONS" \
	"$root$unitdir/mailcure-watch.service" ||
	mc_fail "mailcure-watch.service does not run $bin with $policy"
grep -qxF "ExecStart=$bin watch --reload" "$root$unitdir/mailcure-watch-reload.service" ||
	mc_fail "mailcure-watch-reload.service does not run $bin watch --reload"
grep -qF -- "--create $trigger" "$root$unitdir/mailcure-watch.service" ||
	mc_fail "mailcure-watch.service does not make the trigger of $trigger"

# The freshclam hook touches the file the path unit watches.
watched=$(sed -n 's/^PathChanged=//p' "$root$unitdir/mailcure-watch-reload.path")
mc_assert_eq "/run/mailcure/reload" "$watched" "the file the path unit watches"
mc_assert_eq "OnUpdateExecute /usr/bin/touch $watched" \
	"$(grep -v '^#' "$root$hook" | grep .)" "the freshclam hook"

# The trigger, made in a root of its own.
if command -v systemd-tmpfiles >/dev/null && command -v setpriv >/dev/null &&
	[ "$(id -u)" = 0 ]; then
	r=$T/tmpfiles
	mkdir -p "$r/etc"
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$r/etc/passwd"
	printf 'root:x:0:\nclamav:x:4242:\n' >"$r/etc/group"
	systemd-tmpfiles --root="$r" --create "$root$trigger" >"$T/tmpfiles.log" 2>&1 ||
		{ cat "$T/tmpfiles.log"; mc_fail "systemd-tmpfiles --create failed"; }
	mc_assert_eq "755 0:0 directory" "$(stat -c '%a %u:%g %F' "$r/run/mailcure")" \
		"/run/mailcure"
	mc_assert_eq "620 0:4242 regular empty file" \
		"$(stat -c '%a %u:%g %F' "$r/run/mailcure/reload")" "/run/mailcure/reload"
	chmod 0755 "$T" "$r" "$r/run"
	as_clamav() { setpriv --reuid=65534 --regid=4242 --clear-groups "$@"; }
	if as_clamav test -x "$r/run/mailcure"; then
		touch -d @1000000000 "$r/run/mailcure/reload"
		as_clamav touch "$r/run/mailcure/reload" ||
			mc_fail "the group clamav cannot touch the trigger"
		[ "$(stat -c %Y "$r/run/mailcure/reload")" -gt 1000000000 ] ||
			mc_fail "touching the trigger did not change it"
		for cmd in "touch $r/run/mailcure/other" "ln -s /etc/shadow $r/run/mailcure/x" \
			"mv $r/run/mailcure/reload $r/run/mailcure/r2" "rm -f $r/run/mailcure/reload" \
			"chmod 0666 $r/run/mailcure/reload"; do
			if as_clamav $cmd 2>/dev/null; then
				mc_fail "the group clamav could: $cmd"
			fi
		done
		mc_assert_eq "reload" "$(ls "$r/run/mailcure")" "/run/mailcure after the attempts"
	else
		mc_log "skipped the clamav user's attempts: $T is not reachable by others"
	fi
	# Without ClamAV's group: the directory only.
	rm -rf "$r/run"
	printf 'root:x:0:\n' >"$r/etc/group"
	if systemd-tmpfiles --root="$r" --create "$root$trigger" >"$T/tmpfiles.log" 2>&1; then
		mc_fail "systemd-tmpfiles made the trigger without a group clamav"
	fi
	[ -d "$r/run/mailcure" ] && [ ! -e "$r/run/mailcure/reload" ] ||
		mc_fail "without a group clamav: $(ls -la "$r/run/mailcure" 2>&1)"
else
	mc_log "skipped the trigger: needs root, systemd-tmpfiles and setpriv"
fi

# systemd-analyze verify, with the paths pointed into the DESTDIR.
command -v systemd-analyze >/dev/null || mc_skip "needs systemd-analyze (systemd)"
mkdir "$T/units"
prefix=${bin%/bin/*}
for f in mailcure-watch.service mailcure-watch-reload.service mailcure-watch-reload.path; do
	sed "s|$prefix/|$root$prefix/|g; s|=/etc/mailcure/|=$root/etc/mailcure/|g" \
		"$root$unitdir/$f" >"$T/units/$f"
done
manpath=$(dirname "$(dirname "$(installed mailcure.1)")")
(cd "$T/units" && MANPATH=$root$manpath systemd-analyze verify mailcure-watch.service \
	mailcure-watch-reload.service mailcure-watch-reload.path) >"$T/verify.log" 2>&1 &&
	rc=0 || rc=$?
if [ "$rc" != 0 ] && grep -qiE 'Failed to (initialize|allocate) manager|Operation not permitted|Read-only file system' "$T/verify.log"; then
	mc_skip "systemd-analyze verify cannot run here: $(head -n 1 "$T/verify.log")"
fi
[ "$rc" = 0 ] && [ ! -s "$T/verify.log" ] ||
	{ cat "$T/verify.log"; mc_fail "systemd-analyze verify (status $rc) has objections"; }
mc_log "systemd-analyze verify: no objection to the three units"
