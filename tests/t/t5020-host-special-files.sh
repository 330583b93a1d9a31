#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t5020-host-special-files - FIFOs do not hang the scan; unreadable files are errors
# DESCRIPTION
#	A tree with a FIFO (with no writer: opening it would block for
#	ever), a socket, a device node (when root), an unreadable file and
#	an unreadable directory beside a test virus: the scan ends, the
#	virus is reported, the FIFO, socket and device are skipped (listed
#	with -v), the unreadable file and directory are ERROR events with
#	their path, and the exit status is 2.
#
#	Root reads every file, so as root the scan runs without the
#	capabilities that bypass permissions (setpriv), or is skipped when
#	that is not possible.

set -u
: "${MAILCURE:?}" "${MC_SIGS:?}" "${TMPDIR:=/tmp}"
TF=/usr/share/clamav-testfiles
[ -f "$TF/clam.exe" ] || { echo "skip: needs $TF (clamav-testfiles)"; exit 77; }

tmp=$(mktemp -d "$TMPDIR/t5020.XXXXXX") || exit 1
trap 'chmod -R u+rwx "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

tree=$tmp/tree
mkdir -p "$tree/sub" "$tree/locked"
cp "$TF/clam.exe" "$tree/sub/virus.exe"
echo hello >"$tree/sub/clean.txt"
mkfifo "$tree/fifo" "$tree/sub/another-fifo"
if command -v python3 >/dev/null 2>&1; then
	python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$tree/sock"
fi
[ "$(id -u)" = 0 ] && mknod "$tree/null-dev" c 1 3 2>/dev/null
echo secret >"$tree/unreadable.txt"
chmod 000 "$tree/unreadable.txt"
echo secret >"$tree/locked/inside.txt"
chmod 000 "$tree/locked"

# The scan must not need what would let it read everything.
run=("$MAILCURE")
if [ "$(id -u)" = 0 ]; then
	command -v setpriv >/dev/null 2>&1 || { echo "skip: needs setpriv to drop root's read-anything capabilities"; exit 77; }
	run=(setpriv --inh-caps=-all --bounding-set=-dac_override,-dac_read_search -- "$MAILCURE")
	"${run[@]}" --version >/dev/null 2>&1 ||
		{ echo "skip: cannot drop capabilities here"; exit 77; }
	if cat "$tree/unreadable.txt" >/dev/null 2>&1 &&
	   setpriv --inh-caps=-all --bounding-set=-dac_override,-dac_read_search -- \
		cat "$tree/unreadable.txt" >/dev/null 2>&1; then
		echo "skip: mode 000 files stay readable here"; exit 77
	fi
fi

timeout 120 "${run[@]}" -d "$MC_SIGS" --quarantine "$tmp/q" --progress never -v \
	host scan "$tree" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" = 124 ] && fail "the scan hung (FIFO opened?)"
[ "$rc" = 2 ] || { cat "$tmp/out" "$tmp/err"; fail "exit $rc, expected 2"; }
grep -q "^$tree/sub/virus.exe: virus ClamAV-Test-File" "$tmp/out" || { cat "$tmp/out"; fail "virus not reported"; }
grep -q "^$tree/unreadable.txt: ERROR (.*Permission denied" "$tmp/out" || { cat "$tmp/out"; fail "unreadable file not an error"; }
grep -q "^$tree/locked: ERROR (.*Permission denied" "$tmp/out" || { cat "$tmp/out"; fail "unreadable directory not an error"; }
grep -q "^$tree/fifo: SKIPPED (FIFO" "$tmp/out" || { cat "$tmp/out"; fail "FIFO not listed as skipped"; }
grep -q "^$tree/sub/another-fifo: SKIPPED (FIFO" "$tmp/out" || fail "second FIFO not listed"
[ -S "$tree/sock" ] && { grep -q "^$tree/sock: SKIPPED (socket" "$tmp/out" || fail "socket not listed"; }
[ -c "$tree/null-dev" ] && { grep -q "^$tree/null-dev: SKIPPED (device" "$tmp/out" || fail "device not listed"; }
grep -q "fifo: ERROR\|sock: ERROR\|null-dev: ERROR" "$tmp/out" && fail "a special file counted as an error"
grep -q "^Errors: *2$" "$tmp/out" || { cat "$tmp/out"; fail "expected 2 errors in the summary"; }

# --json: the error events carry path and why.
timeout 120 "${run[@]}" -d "$MC_SIGS" --quarantine "$tmp/q" --progress never --json \
	host scan "$tree" >"$tmp/out.json" 2>"$tmp/err"
rc=$?
[ "$rc" = 2 ] || fail "--json: exit $rc, expected 2"
grep '"event":"error"' "$tmp/out.json" | grep -q "\"path\":\"$tree/unreadable.txt\".*\"why\":" ||
	{ cat "$tmp/out.json"; fail "--json: no error event for the unreadable file"; }

# A FIFO given as PATH is refused, not opened.
timeout 60 "$MAILCURE" -d "$MC_SIGS" --quarantine "$tmp/q" --progress never \
	host scan "$tree/fifo" >"$tmp/out.fifo" 2>&1
rc=$?
[ "$rc" = 2 ] || { cat "$tmp/out.fifo"; fail "FIFO as PATH: exit $rc, expected 2"; }
exit 0
