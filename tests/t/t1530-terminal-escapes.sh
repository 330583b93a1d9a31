#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1530-terminal-escapes - no control character of a user's names reaches the terminal
# DESCRIPTION
#	Users name their files, folders and mbox files, and write the
#	senders, subjects and attachment names of their mail. Here all
#	of them hold a newline, CR, ESC sequences (colour, window title),
#	BEL, DEL, CSI as a byte (0x9b) and as UTF-8 (U+009B), a
#	right-to-left override and bytes that are not UTF-8: Maildir
#	files (infected ones, a symlink and a FIFO), a Maildir folder,
#	the user directory itself, an mbox file, a host file and an
#	indicator file (@FILE) of binary junk.
#
#	The human output and the diagnostics of mailbox find and clean,
#	quarantine list, show and restore, report (text and HTML), host
#	scan and a failing @FILE query hold none of those bytes: every
#	line is well-formed UTF-8 without C0 controls (but the newline
#	that ends it and a tab), DEL, C1 controls or bidirectional
#	controls, and no forged line appears. The names are still
#	recognisable (escaped as \xHH). --json output holds none of
#	those bytes either (they are \uXXXX escapes, bytes that are not
#	UTF-8 are U+FFFD) and keeps the text exact: the path of a valid
#	UTF-8 name in a match event is the file's name, its subject the
#	subject.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need python3
mc_need_testfiles
mc_setup

# Every nasty thing at once; "FORGED" would start a line of its own
# if a newline got through.
bad=$'\n''FORGED: virus X [quarantined 1]'$'\r\e[31mred\e[0m\e]0;title\a\x7f\xc2\x9b''2J'$'\xe2\x80\xae''fdp.exe'
raw=$'\x9b''1m'$'\xff\xfe'
store=$T/srv
home=$store/home/$'eve\e[7m'
md=$home/Maildir
mc_maildir "$md"
mc_maildir "$md/.Junk$bad"
mbox=$store/var/mail/$'mallory\e[2J'$raw

# In headers, as RFC 2047 words: a raw newline would end the header.
word() { printf '=?utf-8?b?%s?=' "$(printf '%s' "$1" | base64 -w 0)"; }
mc_msg_eicar -s "$(word "subject$bad")" -f "$(word "Eve$bad") <eve@example.com>" \
	-n "$(word "invoice$bad.com")" >"$md/new/1700000001.M1P1.host$bad"
mc_msg_attach "$MC_TESTFILES/clam.exe" -s "raw$raw" -n "setup$raw.exe" >"$md/cur/1700000002.M2P1.host$raw:2,S"
mc_msg_eicar -s "in junk" >"$md/.Junk$bad/new/1700000003.M3P1.host"
mc_msg_plain -s "clean$bad" >"$md/new/1700000004.M4P1.host"
ln -s /etc/passwd "$md/new/1700000005.M5P1.host$bad"
mkfifo "$md/new/1700000006.M6P1.host$bad"
mc_msg_eicar -s "mbox$bad" -n "mbox$bad.com" | mc_mbox_put "$mbox" "x@example.com" >/dev/null
mc_msg_plain -s "mbox clean" | mc_mbox_put "$mbox" >/dev/null

# check WHAT FILE...: every byte of FILE is text a terminal only shows.
check() {
	local what=$1 f
	shift
	for f in "$@"; do
		"$MC_PYTHON" - "$what" "$f" <<'EOF' || { mc_show >&2; mc_fail "$what: raw control bytes in $(basename "$f")"; }
import re, sys
what, path = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
try:
    text = data.decode("utf-8")
except UnicodeDecodeError as e:
    sys.exit("%s: not UTF-8 at byte %d: %r" % (what, e.start, data[max(0, e.start - 20):e.start + 20]))
for m in re.finditer(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]", text):
    sys.exit("%s: %r at %d: %r" % (what, m.group(), m.start(), text[max(0, m.start() - 30):m.start() + 30]))
for line in text.split("\n"):
    if line.startswith("FORGED"):
        sys.exit("%s: a forged line: %r" % (what, line))
EOF
	done
	# The same with the test's own words: grep over the raw bytes.
	if LC_ALL=C grep -qP '[\x00-\x08\x0b-\x1f\x7f\x9b]' "$@"; then
		mc_show >&2
		mc_fail "$what: grep finds control bytes"
	fi
}

mc_cure mailbox find -s "$store/home" -s "mbox:$mbox" 'virus or attachment:invoice*'
check "mailbox find" "$MC_OUT" "$MC_ERR"
[ "$MC_RC" = 2 ] || mc_expect_rc 1 "mailbox find"
grep -qF 'host\x0aFORGED: virus X [quarantined 1]\x0d\x1b[31mred' "$MC_OUT" ||
	{ mc_show; mc_fail "mailbox find: the escaped file name is not shown"; }
grep -qF 'invoice\x0aFORGED' "$MC_OUT" || { mc_show; mc_fail "mailbox find: attachment name not shown escaped"; }
grep -qF 'mallory\x1b[2J\x9b1m\xff\xfe@' "$MC_OUT" || { mc_show; mc_fail "mailbox find: mbox path not shown escaped"; }

# JSON escapes them (\u001b, \u009b, \u202e; U+FFFD for bytes that
# are not UTF-8) and keeps the text exact.
mc_cure --json mailbox find -s "$store/home" virus
check "mailbox find --json" "$MC_OUT"
WANT="$md/new/1700000001.M1P1.host$bad" SUBJECT="subject$bad" mc_json "$MC_OUT" '
import os
want = os.environ["WANT"]
paths = [e["path"] for e in events if e.get("event") == "match"]
assert want in paths, (want, paths)
subjects = [e.get("subject") for e in events if e.get("event") == "match"]
assert os.environ["SUBJECT"] in subjects, subjects' ||
	mc_fail "--json does not give the exact file name and subject"

mc_cure mailbox clean -s "$store/home" -s "mbox:$mbox"
check "mailbox clean" "$MC_OUT" "$MC_ERR"
[ "$MC_RC" = 2 ] || mc_expect_rc 1 "mailbox clean"
run=$(sed -n 's/^Run: *\([^ ]*\).*/\1/p' "$MC_OUT")
[ -n "$run" ] || { mc_show; mc_fail "no run in the summary"; }

mc_cure quarantine list
mc_expect_rc 0 "quarantine list"
check "quarantine list" "$MC_OUT" "$MC_ERR"
[ "$(grep -c '\[quarantined\]' "$MC_OUT")" = 4 ] || { mc_show; mc_fail "quarantine list: 4 entries expected"; }
mc_cure --json quarantine list
mc_expect_rc 0 "quarantine list --json"
check "quarantine list --json" "$MC_OUT" "$MC_ERR"
for id in $(ls "$MC_Q/entries"); do
	mc_cure quarantine show "$id"
	mc_expect_rc 0 "quarantine show"
	check "quarantine show" "$MC_OUT" "$MC_ERR"
done

mc_cure report "$run"
mc_expect_rc 0 "report"
check "report" "$MC_OUT" "$MC_ERR"
mc_cure --json report "$run"
mc_expect_rc 0 "report --json"
check "report --json" "$MC_OUT" "$MC_ERR"
mc_cure report "$run" --html "$T/report.html"
mc_expect_rc 0 "report --html"
check "report --html" "$MC_OUT" "$MC_ERR" "$T/report.html"

mc_cure quarantine restore --run "$run"
mc_expect_rc 0 "quarantine restore"
check "quarantine restore" "$MC_OUT" "$MC_ERR"
mc_cure quarantine restore --run "$run"
mc_expect_rc 2 "a second restore"
check "a second restore" "$MC_OUT" "$MC_ERR"

# A file of the host, and a store that is not there.
mkdir -p "$T/host/up$bad"
cp "$MC_TESTFILES/clam.exe" "$T/host/up$bad/tool$raw.exe"
mc_cure host scan "$T/host"
mc_expect_rc 1 "host scan"
check "host scan" "$MC_OUT" "$MC_ERR"
mc_cure -v host scan "$T/host" "$T/host/gone$bad"
check "host scan of a missing path" "$MC_OUT" "$MC_ERR"
mc_cure mailbox find -s "$T/gone$bad"
mc_expect_rc 2 "a missing store"
check "a missing store" "$MC_OUT" "$MC_ERR"

# An indicator file of binary junk, and one that is not there.
{ printf 'subject:ok\n'; printf '%s\n' "$bad" "$raw"; head -c 512 /dev/urandom; } >"$T/iocs"
mc_cure mailbox find -s "$md" "@$T/iocs"
mc_expect_rc 2 "@FILE of junk"
check "@FILE of junk" "$MC_OUT" "$MC_ERR"
[ -s "$MC_ERR" ] || mc_fail "@FILE of junk: no error message"
# (A query splits at white space: this name has none.)
mc_cure mailbox find -s "$md" "@$T/iocs$raw"$'\e[31m'
mc_expect_rc 2 "a missing @FILE"
check "a missing @FILE" "$MC_OUT" "$MC_ERR"
grep -qF 'iocs\x9b1m\xff\xfe\x1b[31m' "$MC_ERR" || { mc_show; mc_fail "a missing @FILE: its name is not shown escaped"; }
echo "ok: no raw control byte in human output or diagnostics"
