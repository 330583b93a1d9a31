#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1062-real-world-headers - queries over headers shaped like real mail
# DESCRIPTION
#	A Maildir of messages with the header forms that real mail
#	(mailing lists, spam, old mailers) carries and that the query
#	language must read as a mail reader does: encoded words split
#	after base64 padding or in the middle of a character, in
#	subjects and attachment names (quoted, unquoted, RFC 2231);
#	display names, which from:, to: and cc: match as IMAP SEARCH
#	does, and broken addresses, which they match as written; Date
#	fields with two- and three-digit years, before 1970, unusable or
#	missing (found by date:none, by neither since: nor before:). A
#	DATE argument naming a day the month does not have is an error.
#	"mailbox find QUERY --json" must match exactly the expected
#	messages, and the reasons must name the whole decoded text.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need python3
mc_setup

md=$T/srv/home/mo/Maildir
mc_maildir "$md"

"$MC_PYTHON" - "$md/new" <<'EOF'
import base64, sys
new = sys.argv[1]

def b(text, cs="utf-8"):
    return "=?%s?B?%s?=" % (cs, base64.b64encode(text.encode(cs)).decode())

def msg(tag, subject, frm="list@example.org", extra="", body="hello\n", to="mo@example.com",
        date="Mon, 02 Mar 2026 10:00:00 +0000"):
    return ("From: %s\nTo: %s\nSubject: %s\n%sMessage-ID: <%s@t1062.test>\n%s"
            "MIME-Version: 1.0\n" % (frm, to, subject, "Date: %s\n" % date if date else "",
                                      tag, extra)) + body

def attach(disposition):
    return ('Content-Type: multipart/mixed; boundary="b"\n\n--b\n'
            "Content-Type: text/plain\n\nsee attached\n--b\n"
            "Content-Type: application/octet-stream\n" + disposition +
            "Content-Transfer-Encoding: base64\n\nTVo=\n--b--\n")

msgs = {
  # Subjects: a base64 word ending in padding, then more words; a
  # UTF-8 character split across two words; ISO-2022-JP in two words.
  "s1": msg("s1", b("Hello") + "\n " + b(" world, invoice overdue")),
  "s2": msg("s2", "=?utf-8?B?R3LD?= =?utf-8?B?vMOfZSBhdXMgQmVybGlu?="),
  "s3": msg("s3", "=?iso-2022-jp?B?GyRCRnxLXA==?= =?iso-2022-jp?B?OGwkTiVGJTklSBsoQg==?="),
  # Attachment names that hide ".exe" behind padding.
  "a1": msg("a1", "quoted", body=attach(
      'Content-Disposition: attachment; filename="%s %s"\n' % (b("Hello"), b(" world.exe")))),
  "a2": msg("a2", "unquoted", body=attach(
      "Content-Disposition: attachment;\n filename=%s\n\t%s\n" % (b("Rechnung"), b(" M\u00e4rz.exe")))),
  "a3": msg("a3", "rfc2231", body=attach(
      'Content-Disposition: attachment;\n filename*0="%s ";\n filename*1="%s"\n' % (b("Hello"), b(" world.exe")))),
  "a4": msg("a4", "harmless", body=attach('Content-Disposition: attachment; filename="%s"\n' % b("notes.txt"))),
  # Display names, plain, encoded and in the old comment form;
  # addresses that a parser cuts short.
  "n1": msg("n1", "names", frm='"george kelvin" <k_v_g20022002@example.fr>'),
  "n2": msg("n2", "names", frm="%s <jw@example.de>" % b("J\u00fcrgen Wei\u00df", "iso-8859-1"),
            extra="Cc: bob@example.org (Bob Kelvinator)\n"),
  "n3": msg("n3", "broken", frm="a@b@c.example", to="<Undisclosed Recipients@example.com>"),
  # Dates: the year minus 1900 in four digits, a two-digit year,
  # before 1970, none, unusable.
  "d1": msg("d1", "dates", date="Wed, 18 Sep 0102 10:20:30 +0000"),
  "d2": msg("d2", "dates", date="Sat, 14 Sep 02 10:20:30 +0000"),
  "d3": msg("d3", "dates", date="Sun, 01 Aug 1965 12:00:00 +0000"),
  "d4": msg("d4", "dates", date=None),
  "d5": msg("d5", "dates", date="someday soon"),
}
for i, (tag, text) in enumerate(msgs.items()):
    with open("%s/17000620%02d.M1.t1062" % (new, i), "w") as f:
        f.write(text)
EOF

# q EXPECTED QUERY: find QUERY matches exactly EXPECTED (tags).
q() { mc_assert_finds "maildir:$md" t1062.test "$@"; }

# reasons QUERY EXPECTED: the reasons of the matches, one per line.
reasons() {
	mc_cure --json mailbox find -s "maildir:$md" "$1"
	mc_assert_eq "$2" "$(mc_events "$MC_OUT" match message_id reasons | sort)" "reasons of '$1'"
}

# Encoded words.
q "s1"       'subject:"hello world, invoice overdue"'
q "s2"       'subject:"Grüße aus Berlin"'
q "s3"       'subject:日本語のテスト'
q "a1 a2 a3" 'attachment:*.exe'
q "a2"       'attachment:"Rechnung März.exe"'
q "a4"       'attachment:notes.txt'
reasons 'attachment:*.exe' "<a1@t1062.test>	attachment=Hello world.exe
<a2@t1062.test>	attachment=Rechnung März.exe
<a3@t1062.test>	attachment=Hello world.exe"

# Display names and addresses as written.
q "n1"       'from:kelvin'
q "n1"       'from:"George Kelvin"'
q "n1 n2"    'from:kelvin or cc:kelvin'
q "n2"       'from:"jürgen weiß"'
q "n3"       'from:*@c.example'
q "n3"       'to:"undisclosed recipients@*"'
q ""         'to:kelvin'
reasons 'from:kelvin or from:*@c.example or cc:kelvinator' "<n1@t1062.test>	from=george kelvin <k_v_g20022002@example.fr>
<n2@t1062.test>	cc=Bob Kelvinator <bob@example.org>
<n3@t1062.test>	from=a@b@c.example"

# Dates.
q "d1 d2"    'since:2002-01-01 before:2003-01-01'
q "d3"       'before:1970-01-01'
q "d3"       'since:1965-08-01 before:1965-08-02'
q "d4 d5"    'date:none'
q "a1 a2 a3 a4 d1 d2 d3 n1 n2 n3 s1 s2 s3" 'since:0001-01-01 or before:0001-01-01'
reasons 'before:2003-01-01 or date:none' "<d1@t1062.test>	date=2002-09-18T10:20:30Z
<d2@t1062.test>	date=2002-09-14T10:20:30Z
<d3@t1062.test>	date=1965-08-01T12:00:00Z
<d4@t1062.test>	date=none
<d5@t1062.test>	date=none"

# A day the month does not have is an error, not the next month.
for cmd in "mailbox find -s maildir:$md since:2026-02-30" "quarantine purge --before 2026-02-30"; do
	# shellcheck disable=SC2086
	mc_cure $cmd
	mc_expect_rc 2 "$cmd"
	grep -q '2026-02-30' "$MC_ERR" || mc_fail "$cmd: no error naming the date"
done
