#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t5040-host-excludes - what host scan leaves out, and mbox files
# DESCRIPTION
#	- A Maildir (cur/ and new/) and a Dovecot mailbox directory holding
#	  infected messages are left out by default (`mailbox clean`
#	  cleans them per message) and scanned with --no-default-excludes.
#	- An infected mbox file is reported by `host scan`, but `host
#	  clean` never quarantines it whole: it is refused (exit 2), the
#	  file is untouched, and the reason names `mailbox clean`.
#	- The quarantine directory inside the tree is never scanned.
#	- --exclude GLOB leaves out matching files and directories.
#	- --max-filesize: a larger file is reported unscanned, never clean
#	  (exit 2), and is scanned when the limit is raised.

set -u
: "${MAILCURE:?}" "${MC_SIGS:?}" "${TMPDIR:=/tmp}"
TF=/usr/share/clamav-testfiles
[ -f "$TF/clam.exe" ] || { echo "skip: needs $TF (clamav-testfiles)"; exit 77; }

tmp=$(mktemp -d "$TMPDIR/t5040.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
mc() { "$MAILCURE" -d "$MC_SIGS" --quarantine "$tree/q" --progress never "$@"; }
found() { sed -n 's/: virus ClamAV-Test-File.UNOFFICIAL.*$//p' "$1" | sed "s|^$tree/||" | sort | tr '\n' ' '; }

tree=$tmp/tree
mkdir -p "$tree/home/alice/Maildir/cur" "$tree/home/alice/Maildir/new" \
	"$tree/home/alice/Maildir/tmp" "$tree/home/alice/Maildir/.Sent/cur" \
	"$tree/home/alice/Maildir/.Sent/new" "$tree/home/alice/Maildir/.Sent/tmp" \
	"$tree/home/bob/mdbox/mailboxes/INBOX/dbox-Mails" "$tree/var/mail" "$tree/srv"
cp "$TF/clam.mail" "$tree/home/alice/Maildir/new/1700000000.M1P1.host"
cp "$TF/clam.mail" "$tree/home/alice/Maildir/.Sent/cur/1700000001.M2P1.host:2,S"
: >"$tree/home/bob/mdbox/mailboxes/INBOX/dbox-Mails/dovecot.index"
cp "$TF/clam.exe" "$tree/home/bob/mdbox/mailboxes/INBOX/dbox-Mails/u.1"
{
	printf 'From alice@example.com  Mon Mar  2 10:00:00 2026\n'
	printf 'From: alice@example.com\nSubject: hello\n\nA clean message.\n\n'
	tail -n +2 "$TF/clam.exe.mbox.base64"
	printf '\n'
} >"$tree/var/mail/carol"
cp "$TF/clam.exe.mbox.base64" "$tree/srv/archive.mbox"
cp "$TF/clam.exe" "$tree/srv/plain.exe"
cp "$TF/clam.zip" "$tree/srv/skip-me.zip"
mkdir -p "$tree/srv/cache"
cp "$TF/clam.exe" "$tree/srv/cache/cached.exe"
# The quarantine inside the tree: holds live malware, never scanned.
mkdir -p "$tree/q/entries/x"
cp "$TF/clam.exe" "$tree/q/entries/x/message"
chmod -R go-rwx "$tree/q"

# Default: Maildir, Dovecot mailbox and quarantine left out; the mbox
# (not under a default-excluded path here) and plain files reported.
mc -v host scan "$tree" >"$tmp/out" 2>&1
rc=$?
[ "$rc" = 1 ] || { cat "$tmp/out"; fail "scan: exit $rc, expected 1"; }
want="srv/archive.mbox srv/cache/cached.exe srv/plain.exe srv/skip-me.zip var/mail/carol "
[ "$(found "$tmp/out")" = "$want" ] || { cat "$tmp/out"; fail "default scan: got '$(found "$tmp/out")'"; }
grep -q "^$tree/home/alice/Maildir: SKIPPED (mail store (Maildir)" "$tmp/out" || fail "Maildir not listed as skipped"
grep -q "^$tree/home/bob/mdbox/mailboxes/INBOX/dbox-Mails: SKIPPED (mail store (Dovecot" "$tmp/out" || fail "Dovecot mailbox not listed as skipped"
grep -q "^$tree/q: SKIPPED (the quarantine)" "$tmp/out" || fail "quarantine not listed as skipped"

# --no-default-excludes: mail stores scanned too, the quarantine never.
mc host scan --no-default-excludes "$tree" >"$tmp/out" 2>&1
want="home/alice/Maildir/.Sent/cur/1700000001.M2P1.host:2,S home/alice/Maildir/new/1700000000.M1P1.host home/bob/mdbox/mailboxes/INBOX/dbox-Mails/u.1 $want"
[ "$(found "$tmp/out")" = "$want" ] || { cat "$tmp/out"; fail "--no-default-excludes: got '$(found "$tmp/out")'"; }

# --exclude: a file glob and a directory.
mc host scan --exclude '*.zip' --exclude "$tree/srv/cache" "$tree" >"$tmp/out" 2>&1
want="srv/archive.mbox srv/plain.exe var/mail/carol "
[ "$(found "$tmp/out")" = "$want" ] || { cat "$tmp/out"; fail "--exclude: got '$(found "$tmp/out")'"; }

# Clean: the mbox files are refused and untouched, the rest quarantined.
sum_mbox=$(sha256sum "$tree/srv/archive.mbox" "$tree/var/mail/carol")
mc host clean "$tree/srv" "$tree/var" >"$tmp/out" 2>&1
rc=$?
[ "$rc" = 2 ] || { cat "$tmp/out"; fail "clean with mbox files: exit $rc, expected 2"; }
[ "$(sha256sum "$tree/srv/archive.mbox" "$tree/var/mail/carol")" = "$sum_mbox" ] || fail "an mbox file was changed"
grep -q "^$tree/srv/archive.mbox: virus .* \[refused: .*mailcure mailbox clean -s mbox:$tree/srv/archive.mbox\]" "$tmp/out" ||
	{ cat "$tmp/out"; fail "mbox refusal not explained"; }
[ -e "$tree/srv/plain.exe" ] && fail "plain.exe not quarantined"
grep -q "^Quarantined: 3$" "$tmp/out" || { cat "$tmp/out"; fail "expected 3 files quarantined"; }

# --max-filesize: larger files are unscanned, never clean.
rm -rf "$tree"
mkdir -p "$tree"
cp "$TF/clam.exe" "$tree/small.exe"
head -c 200000 /dev/urandom >"$tree/big.bin"
mc host scan --max-filesize 100k "$tree" >"$tmp/out" 2>&1
rc=$?
[ "$rc" = 2 ] || { cat "$tmp/out"; fail "--max-filesize: exit $rc, expected 2"; }
grep -q "^$tree/big.bin: UNSCANNED (larger than the maximum file size" "$tmp/out" || { cat "$tmp/out"; fail "big file not unscanned"; }
grep -q "^$tree/small.exe: virus" "$tmp/out" || fail "small file not scanned"
mc host scan --max-filesize 1M "$tree" >"$tmp/out" 2>&1
rc=$?
[ "$rc" = 1 ] || { cat "$tmp/out"; fail "--max-filesize 1M: exit $rc, expected 1"; }
mc host scan --max-filesize nonsense "$tree" >"$tmp/out" 2>&1
[ $? = 2 ] || fail "a bad --max-filesize is not a usage error"
exit 0
