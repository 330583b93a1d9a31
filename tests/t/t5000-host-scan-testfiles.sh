#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t5000-host-scan-testfiles - host scan finds exactly what clamscan finds
# DESCRIPTION
#	A tree holding a copy of /usr/share/clamav-testfiles beside clean
#	files (text, binaries, an empty file, nested directories): `host
#	scan` reports exactly the test files, with the test signatures'
#	name, and the reported set equals clamscan's on the same tree with
#	the same signatures. The set does not depend on -j. Exit status 1
#	(found); 0 on a clean tree. --json ends with a summary event.

set -u
: "${MAILCURE:?}" "${MC_SIGS:?}" "${TMPDIR:=/tmp}"
TF=/usr/share/clamav-testfiles
[ -f "$TF/clam.exe" ] || { echo "skip: needs $TF (clamav-testfiles)"; exit 77; }

tmp=$(mktemp -d "$TMPDIR/t5000.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

tree=$tmp/tree
mkdir -p "$tree/infected/more" "$tree/clean/a/b/c" "$tree/empty-dir"
cp "$TF"/* "$tree/infected/"
cp "$TF/clam.zip" "$tree/infected/more/copy-of-clam.zip"
cp /etc/services /etc/passwd "$tree/clean/"
cp /bin/ls /bin/cat "$tree/clean/a/"
printf 'nothing to see\n' >"$tree/clean/a/b/c/note.txt"
: >"$tree/clean/a/empty"
head -c 300000 /dev/urandom >"$tree/clean/a/b/random.bin"

# What must be found: every test file, by its path in the tree.
(cd "$tree" && find infected -type f | sed "s|^|$tree/|" | sort) >"$tmp/expected"

"$MAILCURE" -d "$MC_SIGS" --quarantine "$tmp/q" --progress never --json \
	host scan "$tree" >"$tmp/out.json" 2>"$tmp/err"
rc=$?
[ "$rc" = 1 ] || { cat "$tmp/out.json" "$tmp/err"; fail "host scan: exit $rc, expected 1"; }
grep '"event":"match"' "$tmp/out.json" |
	sed 's/.*"path":"\([^"]*\)".*/\1/' | sort >"$tmp/found"
diff -u "$tmp/expected" "$tmp/found" || fail "reported set differs from the test files"
if grep '"event":"match"' "$tmp/out.json" | grep -v '"kind":"host"' | grep -q .; then
	fail "a match without kind host"
fi
grep '"event":"match"' "$tmp/out.json" | grep -vq 'ClamAV-Test-File.UNOFFICIAL' &&
	fail "a match with another signature name"
tail -n 1 "$tmp/out.json" | grep -q '"event":"summary"' || fail "last line is not the summary"
tail -n 1 "$tmp/out.json" | grep -q "\"matched\":$(wc -l <"$tmp/expected")" ||
	fail "summary matched count"
[ -d "$tmp/q" ] && fail "host scan created the quarantine"

# The same set as clamscan with the same signatures.
if command -v clamscan >/dev/null 2>&1; then
	clamscan --no-summary -r -d "$MC_SIGS" "$tree" 2>/dev/null |
		sed -n 's/: .* FOUND$//p' | sort >"$tmp/clamscan"
	diff -u "$tmp/clamscan" "$tmp/found" || fail "reported set differs from clamscan's"
else
	echo "# clamscan not installed: comparison with it skipped"
fi

# -j 1 and -j 8 agree; human output names each file once.
for j in 1 8; do
	"$MAILCURE" -d "$MC_SIGS" --quarantine "$tmp/q" --progress never -j $j \
		host scan "$tree" >"$tmp/out.$j" 2>&1
	rc=$?
	[ "$rc" = 1 ] || { cat "$tmp/out.$j"; fail "-j $j: exit $rc"; }
	sed -n 's/: virus ClamAV-Test-File.UNOFFICIAL$//p' "$tmp/out.$j" | sort >"$tmp/found.$j"
	diff -u "$tmp/expected" "$tmp/found.$j" || fail "-j $j: reported set differs"
	grep -q '^Scanned: ' "$tmp/out.$j" || fail "-j $j: no summary"
done

# A single file as PATH, and a clean tree.
"$MAILCURE" -d "$MC_SIGS" --quarantine "$tmp/q" --progress never \
	host scan "$tree/infected/clam.exe" >"$tmp/one" 2>&1
rc=$?
[ "$rc" = 1 ] && grep -q "^$tree/infected/clam.exe: virus" "$tmp/one" ||
	{ cat "$tmp/one"; fail "single file: exit $rc"; }
"$MAILCURE" -d "$MC_SIGS" --quarantine "$tmp/q" --progress never \
	host scan "$tree/clean" >"$tmp/clean" 2>&1
rc=$?
[ "$rc" = 0 ] || { cat "$tmp/clean"; fail "clean tree: exit $rc, expected 0"; }

# A PATH that does not exist is an error (exit 2), not a crash.
"$MAILCURE" -d "$MC_SIGS" --quarantine "$tmp/q" --progress never \
	host scan "$tmp/no-such-dir" >"$tmp/missing" 2>&1
rc=$?
[ "$rc" = 2 ] && grep -q "no-such-dir: ERROR" "$tmp/missing" ||
	{ cat "$tmp/missing"; fail "missing PATH: exit $rc, expected 2"; }
exit 0
