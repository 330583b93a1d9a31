#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t5050-host-mounts - pseudo file systems and --one-file-system
# DESCRIPTION
#	In a private mount namespace (unshare -m; nothing is mounted
#	outside it), a tree gets a tmpfs holding a test virus and a proc
#	file system mounted inside it:
#	- host scan leaves the proc mount out wherever it is found (its
#	  files are not files: /proc/kmsg blocks for ever), and scans the
#	  tmpfs;
#	- host scan -x (--one-file-system) leaves both mounts out;
#	- --max-depth: a directory nested deeper is unscanned (exit 2).
#	Skipped where mount namespaces are not available.

set -u
: "${MAILCURE:?}" "${MC_SIGS:?}" "${TMPDIR:=/tmp}"
TF=/usr/share/clamav-testfiles
[ -f "$TF/clam.exe" ] || { echo "skip: needs $TF (clamav-testfiles)"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "skip: needs root (mounts)"; exit 77; }
command -v unshare >/dev/null 2>&1 || { echo "skip: needs unshare"; exit 77; }
unshare -m sh -c 'mount --make-rprivate / && mount -t tmpfs none /mnt' 2>/dev/null ||
	{ echo "skip: cannot mount in a private namespace here"; exit 77; }

tmp=$(mktemp -d "$TMPDIR/t5050.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

tree=$tmp/tree
mkdir -p "$tree/a" "$tree/mnt" "$tree/a/proc"
cp "$TF/clam.exe" "$tree/a/root-fs.exe"
export MAILCURE MC_SIGS tree tmp TF
unshare -m bash -c '
	mount --make-rprivate / || exit 90
	mount -t tmpfs none "$tree/mnt" || exit 90
	cp "$TF/clam.zip" "$tree/mnt/on-tmpfs.zip"
	mount -t proc proc "$tree/a/proc" || exit 90
	mc() { timeout 120 "$MAILCURE" -d "$MC_SIGS" --quarantine "$tmp/q" --progress never "$@"; }
	mc -v host scan "$tree" >"$tmp/all" 2>&1; echo $? >"$tmp/all.rc"
	mc -v host scan -x "$tree" >"$tmp/onefs" 2>&1; echo $? >"$tmp/onefs.rc"
'
rc=$?
[ "$rc" = 90 ] && { echo "skip: mounting failed"; exit 77; }
[ "$(cat "$tmp/all.rc")" = 1 ] || { cat "$tmp/all"; fail "scan: exit $(cat "$tmp/all.rc"), expected 1"; }
grep -q "^$tree/a/proc: SKIPPED (pseudo file system (proc))" "$tmp/all" || { cat "$tmp/all"; fail "proc not left out"; }
grep -q "^$tree/mnt/on-tmpfs.zip: virus" "$tmp/all" || { cat "$tmp/all"; fail "tmpfs not scanned"; }
grep -q "^$tree/a/root-fs.exe: virus" "$tmp/all" || fail "file on the tree's file system not found"
grep -q "^$tree/a/proc/" "$tmp/all" && fail "something under proc was reported"

[ "$(cat "$tmp/onefs.rc")" = 1 ] || { cat "$tmp/onefs"; fail "-x: exit $(cat "$tmp/onefs.rc"), expected 1"; }
grep -q "^$tree/mnt: SKIPPED (on another file system" "$tmp/onefs" || { cat "$tmp/onefs"; fail "-x: tmpfs not left out"; }
grep -q "on-tmpfs.zip" "$tmp/onefs" && fail "-x: the tmpfs was scanned"
grep -q "^$tree/a/root-fs.exe: virus" "$tmp/onefs" || fail "-x: file on the tree's file system not found"

# --max-depth
mkdir -p "$tmp/deep/1/2/3/4"
cp "$TF/clam.exe" "$tmp/deep/1/x.exe"
cp "$TF/clam.exe" "$tmp/deep/1/2/3/4/y.exe"
"$MAILCURE" -d "$MC_SIGS" --quarantine "$tmp/q" --progress never host scan --max-depth 2 "$tmp/deep" >"$tmp/depth" 2>&1
rc=$?
[ "$rc" = 2 ] || { cat "$tmp/depth"; fail "--max-depth: exit $rc, expected 2"; }
grep -q "^$tmp/deep/1/2/3: UNSCANNED (directory nested deeper than 2 levels" "$tmp/depth" || { cat "$tmp/depth"; fail "deep directory not unscanned"; }
grep -q "^$tmp/deep/1/x.exe: virus" "$tmp/depth" || fail "--max-depth: shallow file not found"
exit 0
