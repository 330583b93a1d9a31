#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t5010-host-symlinks - symlinks never lead a host scan or clean outside
# DESCRIPTION
#	1. A tree holds a symlink to a directory outside it and a symlink
#	   to a file outside it, both holding test malware: `host scan`
#	   reports nothing outside, `host clean` moves nothing outside.
#	2. While `host clean` runs, another process keeps replacing the
#	   tree's directories by symlinks to an outside directory whose
#	   files have the same names (the CVE-2020-3350 attack): nothing
#	   outside is reported, removed or changed, and every quarantine
#	   entry is a file of the tree.

set -u
: "${MAILCURE:?}" "${MC_SIGS:?}" "${TMPDIR:=/tmp}"
TF=/usr/share/clamav-testfiles
[ -f "$TF/clam.exe" ] || { echo "skip: needs $TF (clamav-testfiles)"; exit 77; }

tmp=$(mktemp -d "$TMPDIR/t5010.XXXXXX") || exit 1
swapper=
cleanup() {
	[ -z "$swapper" ] || kill "$swapper" 2>/dev/null
	wait 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
snapshot() { (cd "$1" && find . -printf '%p %y %m %s\n' | sort && find . -type f -exec sha256sum {} + | sort); }
mc() { "$MAILCURE" -d "$MC_SIGS" --quarantine "$tmp/q" --progress never "$@"; }

# --- 1. static symlinks ---
outside=$tmp/outside
tree=$tmp/tree
mkdir -p "$outside/sub" "$tree/dir"
cp "$TF/clam.exe" "$outside/victim.exe"
cp "$TF/clam.zip" "$outside/sub/victim.zip"
cp "$TF/clam.exe" "$tree/dir/inside.exe"
ln -s "$outside" "$tree/link-to-dir"
ln -s "$outside/victim.exe" "$tree/link-to-file"
ln -s ../outside "$tree/dir/relative-link"
snapshot "$outside" >"$tmp/outside.before"

mc --json host scan "$tree" >"$tmp/scan.json" 2>"$tmp/scan.err"
rc=$?
[ "$rc" = 1 ] || { cat "$tmp/scan.json" "$tmp/scan.err"; fail "scan: exit $rc, expected 1"; }
grep -q "outside\|link-to" "$tmp/scan.json" && { cat "$tmp/scan.json"; fail "scan reported through a symlink"; }
[ "$(grep -c '"event":"match"' "$tmp/scan.json")" = 1 ] || fail "scan: expected exactly one match"

mc --json host clean "$tree" >"$tmp/clean.json" 2>"$tmp/clean.err"
rc=$?
[ "$rc" = 1 ] || { cat "$tmp/clean.json" "$tmp/clean.err"; fail "clean: exit $rc, expected 1"; }
grep -q "outside\|link-to" "$tmp/clean.json" && fail "clean reported through a symlink"
snapshot "$outside" >"$tmp/outside.after"
diff -u "$tmp/outside.before" "$tmp/outside.after" || fail "clean changed the outside directory"
[ -e "$tree/dir/inside.exe" ] && fail "the infected file inside was not removed"
[ -L "$tree/link-to-dir" ] && [ -L "$tree/link-to-file" ] || fail "a symlink was removed"

# --- 2. directories swapped for symlinks during host clean ---
rm -rf "$tree" "$tmp/q"
mkdir -p "$tree"
for i in $(seq -w 1 150); do
	mkdir "$tree/d$i"
	cp "$TF/clam.exe" "$tree/d$i/clam.exe"
	cp "$TF/clam.zip" "$tree/d$i/clam.zip"
	printf 'clean %s\n' "$i" >"$tree/d$i/readme.txt"
	# What a path-following tool would hit: same names, outside.
	cp "$TF/clam.exe" "$outside/clam.exe"
	cp "$TF/clam.zip" "$outside/clam.zip"
done
snapshot "$outside" >"$tmp/outside.before"

# Swap each directory for a symlink to $outside and back, forever.
if command -v python3 >/dev/null 2>&1; then
	python3 - "$tree" "$outside" "$tmp/stop" <<'PY' &
import os, sys, time
tree, outside, stop = sys.argv[1:4]
names = sorted(n for n in os.listdir(tree) if n.startswith("d"))
while not os.path.exists(stop):
    for n in names:
        p = os.path.join(tree, n)
        try:
            os.rename(p, p + ".away")
            os.symlink(outside, p)
            time.sleep(0.0005)
            os.unlink(p)
            os.rename(p + ".away", p)
        except OSError:
            pass
PY
	swapper=$!
else
	(
		while [ ! -e "$tmp/stop" ]; do
			for d in "$tree"/d[0-9][0-9][0-9]; do
				mv -T "$d" "$d.away" 2>/dev/null &&
					ln -s "$outside" "$d" && rm -f "$d" && mv -T "$d.away" "$d"
			done
		done
	) &
	swapper=$!
fi
sleep 0.2

for round in 1 2 3; do
	mc --json -j 4 host clean "$tree" >"$tmp/race.$round.json" 2>"$tmp/race.err"
	rc=$?
	case $rc in 0|1|2) ;; *) cat "$tmp/race.err"; fail "race round $round: exit $rc" ;; esac
	grep -q "$outside" "$tmp/race.$round.json" && fail "race: a path outside the tree was reported"
done
touch "$tmp/stop"
wait "$swapper" 2>/dev/null
swapper=
# Put back anything left mid-swap.
for a in "$tree"/*.away; do
	[ -e "$a" ] || continue
	d=${a%.away}
	[ -L "$d" ] && rm -f "$d"
	mv -T "$a" "$d"
done

snapshot "$outside" >"$tmp/outside.after"
diff -u "$tmp/outside.before" "$tmp/outside.after" || fail "the outside directory changed during the race"
# Every file that left the tree is in the quarantine, and only those.
gone=0
for i in $(seq -w 1 150); do
	for f in clam.exe clam.zip; do
		[ -e "$tree/d$i/$f" ] || gone=$((gone + 1))
	done
	[ -e "$tree/d$i/readme.txt" ] || fail "a clean file was removed: d$i/readme.txt"
done
acted=$(cat "$tmp"/race.*.json | grep -c '"action":"quarantined"')
[ "$gone" = "$acted" ] || fail "$gone files gone from the tree, $acted quarantined"
[ "$acted" -gt 0 ] || fail "nothing was cleaned"
hits=$(cat "$tmp"/race.*.json | grep -c 'symbolic link' || true)
echo "# $acted files quarantined; the walk met $hits swapped-in symlinks"
exit 0
