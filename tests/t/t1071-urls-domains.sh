#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1071-urls-domains - url: and domain: over real-world-shaped mail
# DESCRIPTION
#	A Maildir of messages with links as mail carries them: a
#	quoted-printable soft break inside a URL, base64 HTML with an
#	entity-encoded scheme and a Unicode (IDN) host in mixed case, a
#	tracking redirect whose target is percent-encoded in its query
#	string, a link in a text attachment, an HTML attachment sent as
#	application/octet-stream, an attached message, a punycode host in
#	plain text, a host that only ends in the domain's letters, and
#	mentions that are not URLs (a header, a bare domain). Each url:
#	and domain: query must find exactly the expected messages, in
#	both IDN forms and from defanged values, and from an indicator
#	file; the JSON reason names the URL. A message with more URLs
#	than the limit is UNSCANNED for a domain it does not show before
#	the limit, and matched by one it shows.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need python3
mc_setup

md=$T/srv/home/ur/Maildir
lim=$T/srv/home/lim/Maildir
mc_maildir "$md"
mc_maildir "$lim"

"$MC_PYTHON" - "$md/new" "$lim/new" <<'EOF2'
import base64, sys
new, lim = sys.argv[1], sys.argv[2]

def b64(data):
    s = base64.b64encode(data).decode()
    return "\n".join(s[i:i+76] for i in range(0, len(s), 76)) + "\n"

def hdr(tag, extra=""):
    return ("From: news@sender.example\nTo: ur@example.com\nSubject: %s\n"
            "Date: Mon, 02 Mar 2026 10:00:00 +0000\nMessage-ID: <%s@t1071.test>\n"
            "MIME-Version: 1.0\n%s" % (tag, tag, extra))

def mixed(tag, *parts):
    out = hdr(tag) + 'Content-Type: multipart/mixed; boundary="b"\n\n'
    for p in parts:
        out += "--b\n" + p + "\n"
    return out + "--b--\n"

html_u2 = ('<html><body><p>Your parcel: <a HREF="https&#58;//B\u00dcCHER.Example/track'
           '?id=7&amp;lang=de">track it</a></p></body></html>').encode()
msgs = {
  # A soft line break in the middle of the host.
  "u1": hdr("u1", "Content-Type: text/plain; charset=utf-8\n"
            "Content-Transfer-Encoding: quoted-printable\n") +
        "\nPlease verify your account at http://login.evil-=\nbank.example/verify?u=3D1 today.\n",
  "u2": hdr("u2", "Content-Type: text/html; charset=utf-8\n"
            "Content-Transfer-Encoding: base64\n") + "\n" + b64(html_u2),
  "u3": hdr("u3", "Content-Type: text/html; charset=utf-8\n"
            "Content-Transfer-Encoding: quoted-printable\n") +
        '\n<a href=3D"https://click.news.example/r?u=3Dhttps%3A%2F%2Fpay.evil-bank=\n'
        '.example%2Fx&amp;id=3D1">Pay</a>\n',
  "u4": mixed("u4", "Content-Type: text/plain\n\nSee the attached list.\n",
              'Content-Type: text/plain; name="links.txt"\n'
              'Content-Disposition: attachment; filename="links.txt"\n'
              "Content-Transfer-Encoding: base64\n\n" +
              b64(b"Links:\r\n- http://files.evil-bank.example/a.zip\r\n")),
  "u5": hdr("u5", "Content-Type: text/plain\n") + "\nSee http://badevil-bank.example/ and https://evil-bank.example.org/.\n",
  "u6": hdr("u6", "X-Link: http://evil-bank.example/\nContent-Type: text/plain\n") +
        "\nWe are not evil-bank.example. Visit www.example.com/help.\n",
  "u7": mixed("u7", "Content-Type: text/plain\n\nOpen the attached form.\n",
              'Content-Type: application/octet-stream; name="Invoice.HTML"\n'
              "Content-Transfer-Encoding: base64\n\n" +
              b64(b'<form action="https://form.evil-bank.example/post"><input></form>')),
  "u8": mixed("u8", "Content-Type: text/plain\n\nForwarded.\n",
              "Content-Type: message/rfc822\n\nSubject: inner\nContent-Type: text/plain\n\n"
              "Inner link: https://inner.evil-bank.example/i\n"),
  "u9": hdr("u9", "Content-Type: text/plain\n") + "\nhttp://xn--bcher-kva.example/angebot\n",
}
# More URL occurrences than the limit (10,000); the first ones show
# first.evil-bank.example.
links = "".join("http://list%d.spam.example/\n" % i for i in range(10500))
with open(lim + "/1710071010.M1.t1071", "w") as f:
    f.write(hdr("u10", "Content-Type: text/plain\n") +
            "\nhttp://first.evil-bank.example/\n" + links)
for tag, text in msgs.items():
    with open("%s/17100710%s.M1.t1071" % (new, tag[1:].zfill(2)), "w") as f:
        f.write(text)
EOF2

q() { mc_assert_finds "maildir:$md" t1071.test "$@"; }

q "u1 u3 u4 u7 u8" 'domain:evil-bank.example'
q "u1 u3 u4 u7 u8" 'domain:EVIL-BANK[.]example'
q "u2 u9"        'domain:bücher.example'
q "u2 u9"        'domain:xn--bcher-kva.example'
q "u2 u9"        'domain:*.BÜCHER.EXAMPLE'
q "u2 u9"        'url:*bücher.example/*'
q "u2"           'url:https://bücher.example/track?id=7&lang=de'
q "u1"           'url:*/verify?u=1'
q "u1"           'url:hxxp://login.evil-bank[.]example/verify'
q "u3"           'url:https://pay.evil-bank.example/x'
q "u3"           'domain:click.news.example'
q "u5"           'domain:badevil-bank.example'
q "u5"           'domain:evil-bank.example.org'
q "u6"           'domain:example.com'
q ""             'domain:bank.example'
q "u7"           'url:*form.evil-bank.example/post'
q "u8"           'domain:inner.evil-bank.example'

printf 'domain:pay.evil-bank.example\nurl:*angebot\n' >"$T/indicators"
q "u3 u9"        "@$T/indicators"

# The reason is the URL, in normal form.
mc_cure --json mailbox find -s "maildir:$md" 'domain:bücher.example'
reasons=$(mc_events "$MC_OUT" match message_id reasons | sort)
mc_assert_eq "<u2@t1071.test>	domain=https://xn--bcher-kva.example/track?id=7&lang=de
<u9@t1071.test>	domain=http://xn--bcher-kva.example/angebot" "$reasons" "reasons of domain:bücher.example"

# Past the URL limit: unknown, not clean, unless a URL before it
# already matches.
mc_cure --json mailbox find -s "maildir:$lim" 'domain:absent.example'
mc_expect_rc 2 "domain: over a message past the URL limit"
got=$(mc_events "$MC_OUT" unscanned why)
mc_assert_eq "URL limit (10000) reached" "$got" "why the message is unscanned"
mc_assert_finds "maildir:$lim" t1071.test "u10" 'domain:first.evil-bank.example'

mc_cure --json --max-urls 1 mailbox find -s "maildir:$md" 'domain:pay.evil-bank.example'
mc_expect_rc 2 "--max-urls 1 and a message of two URLs"
mc_assert_eq "URL limit (1) reached" "$(mc_events "$MC_OUT" unscanned why | sort -u)" "why with --max-urls 1"

# Bad values: exit 2 with a message.
for bad in 'domain:http://x.example/' 'url:http://'; do
	mc_cure mailbox find -s "maildir:$md" "$bad"
	mc_expect_rc 2 "bad query '$bad'"
	[ -s "$MC_ERR" ] || mc_fail "bad query '$bad': no error message"
done
