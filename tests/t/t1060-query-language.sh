#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1060-query-language - the query language, end to end
# DESCRIPTION
#	A small Maildir of seven messages; "mailbox find QUERY --json"
#	must match exactly the expected messages for each kind of term
#	(from:, to:, cc:, subject: with RFC 2047, header:, message-id:,
#	body:, attachment: with RFC 2231, sha256:, md5:, size>, size<,
#	since:, before:, virus, all, @FILE) and for not, or and
#	parentheses; the exit status is 1 with matches and 0 without; a
#	syntax error exits 2 with a message. Then "mailbox clean QUERY"
#	removes exactly what the query matches.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need python3 base64
mc_setup

md=$T/srv/home/mo/Maildir
mc_maildir "$md"

"$MC_PYTHON" - "$md/new" "$T" <<'EOF'
import base64, hashlib, io, sys, zipfile
new, tmp = sys.argv[1], sys.argv[2]

def zipped(name, text):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as z:
        z.writestr(name, text)
    return b.getvalue()

def b64(data):
    s = base64.b64encode(data).decode()
    return "\n".join(s[i:i+76] for i in range(0, len(s), 76)) + "\n"

def hdr(tag, frm, subject, date="Mon, 02 Mar 2026 10:00:00 +0000", to="mo@example.com", extra=""):
    return ("From: %s\nTo: %s\n%sSubject: %s\nDate: %s\nMessage-ID: <%s@t1060.test>\n"
            "MIME-Version: 1.0\n" % (frm, to, extra, subject, date, tag))

def multipart(head, text, att_headers, payload):
    return (head + 'Content-Type: multipart/mixed; boundary="b"\n\n--b\n'
            "Content-Type: text/plain; charset=utf-8\n\n" + text + "\n--b\n" +
            att_headers + "Content-Transfer-Encoding: base64\n\n" + b64(payload) + "--b--\n")

pdf = b"%PDF-1.4\n% quarterly figures\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"
open(tmp + "/report.pdf", "wb").write(pdf)
open(tmp + "/report.sha256", "w").write(hashlib.sha256(pdf).hexdigest())
open(tmp + "/report.md5", "w").write(hashlib.md5(pdf).hexdigest())

msgs = {
  "m1": multipart(hdr("m1", "Mallory <mallory@evil.example>", "Invoice overdue",
                      extra="X-Mailer: EvilMailer 6.6\n"),
                  "Please pay the attached invoice.",
                  'Content-Type: application/zip; name="invoice.zip"\n'
                  'Content-Disposition: attachment; filename="invoice.zip"\n',
                  zipped("invoice.txt", "pay now")),
  "m2": hdr("m2", "alice@example.com", "Lunch", date="Tue, 03 Mar 2020 12:00:00 +0000",
            extra="Cc: carl@example.net\n") +
        "Content-Type: text/plain\n\nPizza at noon?\n",
  "m3": multipart(hdr("m3", "=?UTF-8?B?SsO8cmdlbiBCb8Ofw58=?= <boss@corp.example>",
                      "=?UTF-8?Q?Rechnung_=C3=BCberf=C3=A4llig?="),
                  "Anbei die Rechnung.",
                  "Content-Type: application/zip; name*=UTF-8''Rechnung%20M%C3%A4rz.zip\n"
                  "Content-Disposition: attachment; filename*=UTF-8''Rechnung%20M%C3%A4rz.zip\n",
                  zipped("r.txt", "zahlen")),
  "m4": hdr("m4", "Bob <bob@example.org>", "Big newsletter") +
        "Content-Type: text/plain\n\n" + ("newsletter line " * 4 + "\n") * 1200,
  "m6": multipart(hdr("m6", "Carol <carol@example.com>", "Q3 report", to="team@example.com"),
                  "The quarterly figures are attached.",
                  'Content-Type: application/pdf; name="report.pdf"\n'
                  'Content-Disposition: attachment; filename="report.pdf"\n', pdf),
  "m7": hdr("m7", "dave@example.com", "Re: Lunch", date="Wed, 04 Mar 2026 09:00:00 +0000") +
        "Content-Type: text/plain\n\nSure.\n",
}
for tag, text in msgs.items():
    with open("%s/17000600%s.M1.t1060" % (new, tag[1]), "w") as f:
        f.write(text)
EOF
# m5 carries the EICAR test file.
mc_msg_eicar -f "mallory@evil.example" -s "hello" -i "<m5@t1060.test>" >"$md/new/170006005.M1.t1060"

sha=$(cat "$T/report.sha256")
md5=$(cat "$T/report.md5")
printf 'sha256:%s\nfrom:*@evil.example\n' "$sha" >"$T/indicators"

# q EXPECTED QUERY: find QUERY matches exactly EXPECTED (tags).
q() { mc_assert_finds "maildir:$md" t1060.test "$@"; }

q "m1 m5"    'from:*@evil.example'
q "m1 m5"    'FROM:*@EVIL.EXAMPLE'
q "m3"       'from:boss@corp.example'
q "m6"       'to:team@*'
q "m2"       'cc:carl@example.net'
q "m1"       'subject:invoice'
q "m3"       'subject:überfällig'
q "m1"       'header:X-Mailer:EvilMailer'
q "m2"       'message-id:m2@t1060.test'
q "m6"       'body:quarterly'
q "m1 m3"    'attachment:*.zip'
q "m3"       'attachment:Rechnung*März.zip'
q "m6"       "sha256:$sha"
q "m6"       "md5:$md5"
q "m4"       'size>50k'
q "m2 m7"    'size<400'
q "m2"       'before:2021-01-01'
q "m7"       'since:2026-03-03'
q "m5"       'virus'
q "m5"       'virus:Eicar*'
q ""         'virus:Nothing-Like-This*'
q "m1 m2 m3 m4 m5 m6 m7" 'all'
q "m1"       'from:*@evil.example not virus'
q "m1 m2 m3 m7" 'attachment:*.zip or subject:lunch'
q "m1 m4"    '(from:*@evil.example or from:bob@*) not virus'
q "m2 m3 m4 m6 m7" 'not from:*@evil.example'
q "m1 m5 m6" "@$T/indicators"
q ""         'subject:no-such-subject'

# The reasons name what matched.
mc_cure --json mailbox find -s "maildir:$md" 'attachment:*.zip'
reasons=$(mc_events "$MC_OUT" match message_id reasons | sort)
mc_assert_eq "<m1@t1060.test>	attachment=invoice.zip
<m3@t1060.test>	attachment=Rechnung März.zip" "$reasons" "reasons of attachment:*.zip"

# Syntax errors: exit 2 and a message.
for bad in '(from:a@b' 'nosuchkey:x' 'size>lots' 'from:a or' "@$T/no-such-file"; do
	mc_cure mailbox find -s "maildir:$md" "$bad"
	mc_expect_rc 2 "bad query '$bad'"
	[ -s "$MC_ERR" ] || mc_fail "bad query '$bad': no error message"
done

# clean acts on exactly the matches.
mc_cure --json mailbox clean -s "maildir:$md" 'from:*@evil.example or subject:lunch'
mc_expect_rc 1 "mailbox clean with a query"
left=$(grep -h '^Message-ID:' "$md"/new/* | sed 's/.*<\(m[0-9]\)@.*/\1/' | sort | tr '\n' ' ' | sed 's/ $//')
mc_assert_eq "m3 m4 m6" "$left" "messages left after clean 'from:*@evil.example or subject:lunch'"
