#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t5030-host-clean-restore - host clean, then quarantine restore --run
# DESCRIPTION
#	Infected files with various owners, modes (set-uid included),
#	timestamps (to the nanosecond), extended attributes and awkward
#	names are removed by `host clean` and put back by `quarantine
#	restore --run RUN`: every file is back with the same content,
#	owner, group, mode, mtime and atime, extended attributes included;
#	clean files are never touched. A second restore is refused, and a
#	restore never overwrites a file that took the path meanwhile, and
#	never follows a directory that was replaced by a symlink.
#	--dry-run changes nothing.

set -u
: "${MAILCURE:?}" "${MC_SIGS:?}" "${TMPDIR:=/tmp}"
TF=/usr/share/clamav-testfiles
[ -f "$TF/clam.exe" ] || { echo "skip: needs $TF (clamav-testfiles)"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "skip: needs root (files of other owners)"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "skip: needs python3"; exit 77; }

tmp=$(mktemp -d "$TMPDIR/t5030.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
mc() { "$MAILCURE" -d "$MC_SIGS" --quarantine "$tmp/q" --progress never "$@"; }
# Everything that must come back: for each file its name, size, owner,
# group, mode, mtime and atime to the nanosecond, content and extended
# attributes; for directories name, owner and mode (their times change
# when an entry is removed or added). Files are read with O_NOATIME so
# that taking the state does not change it.
state() {
	python3 - "$1" <<'PY'
import hashlib, os, stat, sys
root = sys.argv[1]
out = []
for dirpath, dirs, files in os.walk(root):
    for n in sorted(dirs + files):
        p = os.path.join(dirpath, n)
        st = os.lstat(p)
        rel = os.path.relpath(p, root)
        if stat.S_ISDIR(st.st_mode):
            out.append("%s dir %d:%d %o" % (rel, st.st_uid, st.st_gid, st.st_mode))
            continue
        fd = os.open(p, os.O_RDONLY | os.O_NOATIME | os.O_NOFOLLOW)
        h = hashlib.sha256()
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                break
            h.update(b)
        os.close(fd)
        xattrs = sorted((a, os.getxattr(p, a, follow_symlinks=False).hex())
                        for a in os.listxattr(p, follow_symlinks=False)
                        if a != "security.selinux")
        out.append("%s file size=%d owner=%d:%d mode=%o mtime=%d atime=%d sha256=%s xattrs=%s" %
                   (rel, st.st_size, st.st_uid, st.st_gid, st.st_mode,
                    st.st_mtime_ns, st.st_atime_ns, h.hexdigest(), xattrs))
print("\n".join(sorted(out)))
PY
}

tree=$tmp/tree
mkdir -p "$tree/home/alice/Downloads" "$tree/usr/bin" "$tree/srv/www/up loads"
chmod 0755 "$tree/home" "$tree/home/alice"
cp "$TF/clam.exe" "$tree/home/alice/Downloads/invoice.exe"
chown 65534:65534 "$tree/home/alice/Downloads/invoice.exe" "$tree/home/alice/Downloads"
chmod 0640 "$tree/home/alice/Downloads/invoice.exe"
cp "$TF/clam.zip" "$tree/usr/bin/setuid-tool"
chmod 4755 "$tree/usr/bin/setuid-tool"
cp "$TF/clam.pdf" "$tree/srv/www/up loads/report (1).pdf"
chmod 0600 "$tree/srv/www/up loads/report (1).pdf"
cp "$TF/clam.7z" "$tree/srv/www/up loads/é-ü.7z"
printf 'clean\n' >"$tree/srv/www/index.html"
cp /bin/ls "$tree/usr/bin/ls"
touch -m -d '2001-02-03 04:05:06.123456789' "$tree/srv/www/up loads/report (1).pdf"
touch -a -d '2002-03-04 05:06:07.987654321' "$tree/srv/www/up loads/report (1).pdf"
touch -d '1999-12-31 23:59:59' "$tree/usr/bin/setuid-tool"
if command -v setfattr >/dev/null 2>&1; then
	setfattr -n user.origin -v "downloaded" "$tree/home/alice/Downloads/invoice.exe" &&
	setfattr -n user.binary -v 0x00ff10 "$tree/srv/www/up loads/é-ü.7z" ||
		echo "# extended attributes not supported here"
else
	echo "# setfattr not installed: extended attributes not checked"
fi
state "$tree" >"$tmp/before"

# --dry-run changes nothing.
mc --dry-run host clean "$tree" >"$tmp/dry" 2>&1
rc=$?
[ "$rc" = 1 ] || { cat "$tmp/dry"; fail "dry run: exit $rc, expected 1"; }
grep -q "would quarantine" "$tmp/dry" || fail "dry run: no 'would quarantine'"
state "$tree" >"$tmp/after-dry"
diff -u "$tmp/before" "$tmp/after-dry" || fail "dry run changed the tree"
[ -e "$tmp/q/entries" ] && [ -n "$(ls "$tmp/q/entries")" ] && fail "dry run wrote to the quarantine"

mc --json host clean "$tree" >"$tmp/clean.json" 2>"$tmp/clean.err"
rc=$?
[ "$rc" = 1 ] || { cat "$tmp/clean.json" "$tmp/clean.err"; fail "clean: exit $rc, expected 1"; }
[ "$(grep -c '"action":"quarantined"' "$tmp/clean.json")" = 4 ] ||
	{ cat "$tmp/clean.json"; fail "expected 4 files quarantined"; }
for f in "home/alice/Downloads/invoice.exe" "usr/bin/setuid-tool" \
	 "srv/www/up loads/report (1).pdf" "srv/www/up loads/é-ü.7z"; do
	[ -e "$tree/$f" ] && fail "$f still there after clean"
done
[ -e "$tree/usr/bin/ls" ] && [ -e "$tree/srv/www/index.html" ] || fail "a clean file was removed"
grep '"path":"'"$tree"'/home/alice/Downloads/invoice.exe"' "$tmp/clean.json" | grep -q '"user":"nobody"' ||
	fail "match does not name the file's owner"
run=$(tail -n 1 "$tmp/clean.json" | sed -n 's/.*"run":"\([^"]*\)".*/\1/p')
[ -n "$run" ] || fail "no run id in the summary"

mc quarantine restore --run "$run" >"$tmp/restore" 2>&1
rc=$?
[ "$rc" = 0 ] || { cat "$tmp/restore"; fail "restore: exit $rc, expected 0"; }
state "$tree" >"$tmp/after"
diff -u "$tmp/before" "$tmp/after" || fail "restored files differ from the originals"

# Restoring again is refused and changes nothing.
mc quarantine restore --run "$run" >"$tmp/restore2" 2>&1
rc=$?
[ "$rc" = 2 ] || { cat "$tmp/restore2"; fail "second restore: exit $rc, expected 2"; }
state "$tree" >"$tmp/after2"
diff -u "$tmp/before" "$tmp/after2" || fail "second restore changed the tree"

# A file that took the path meanwhile is never overwritten.
mc --json host clean "$tree/usr/bin" >"$tmp/clean2.json" 2>&1
run2=$(tail -n 1 "$tmp/clean2.json" | sed -n 's/.*"run":"\([^"]*\)".*/\1/p')
printf 'new tool\n' >"$tree/usr/bin/setuid-tool"
mc quarantine restore --run "$run2" >"$tmp/restore3" 2>&1
rc=$?
[ "$rc" = 2 ] || { cat "$tmp/restore3"; fail "restore over an existing file: exit $rc, expected 2"; }
grep -qi "exists" "$tmp/restore3" || { cat "$tmp/restore3"; fail "no reason given for the refusal"; }
[ "$(cat "$tree/usr/bin/setuid-tool")" = "new tool" ] || fail "restore overwrote an existing file"
ls -a "$tree/usr/bin" | grep -q mailcure-restore && fail "restore left a temporary file"

# A directory on the way replaced by a symlink since: refused, nothing
# is written where the symlink points.
mc --json host clean "$tree/home" >"$tmp/clean3.json" 2>&1
run3=$(tail -n 1 "$tmp/clean3.json" | sed -n 's/.*"run":"\([^"]*\)".*/\1/p')
[ -e "$tree/home/alice/Downloads/invoice.exe" ] && fail "third clean did not remove invoice.exe"
mkdir -p "$tmp/elsewhere"
mv "$tree/home/alice/Downloads" "$tree/home/alice/Downloads.moved"
ln -s "$tmp/elsewhere" "$tree/home/alice/Downloads"
mc quarantine restore --run "$run3" >"$tmp/restore4" 2>&1
rc=$?
[ "$rc" = 2 ] || { cat "$tmp/restore4"; fail "restore through a symlink: exit $rc, expected 2"; }
grep -q "symbolic link" "$tmp/restore4" || { cat "$tmp/restore4"; fail "no reason given for the refusal"; }
[ -z "$(ls -A "$tmp/elsewhere")" ] || fail "restore wrote through a symlink"
# Once the directory is back, the same entry restores.
rm "$tree/home/alice/Downloads"
mv "$tree/home/alice/Downloads.moved" "$tree/home/alice/Downloads"
mc quarantine restore --run "$run3" >"$tmp/restore5" 2>&1
rc=$?
[ "$rc" = 0 ] || { cat "$tmp/restore5"; fail "restore after the directory came back: exit $rc"; }
cmp -s "$tree/home/alice/Downloads/invoice.exe" "$TF/clam.exe" || fail "invoice.exe not restored"
exit 0
