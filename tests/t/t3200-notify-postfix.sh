#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t3200-notify-postfix - watch digests delivered by a real Postfix
# DESCRIPTION
#	Digests of lib/notify.c (driven by tests/unit/notify-send) go
#	through the sendmail of the private Postfix of lib-postfix.sh:
#	one to each owner (alice, bob) and one to the administrator
#	(carol). An item whose subject tries to add a Bcc to bob and a
#	header of its own (CR LF in the subject), and one whose
#	detection name holds terminal escapes, arrive as text in the
#	body: bob gets his own digest only, no header was added, nothing
#	bounced to the sender. The digests arrive with the envelope
#	sender given, Auto-Submitted, as UTF-8 text that Python's email
#	package decodes to what was sent (non-ASCII subject included).
#	A recipient Postfix rejects as no plain address never reaches
#	sendmail.

set -u
. "$(dirname "$0")/lib-postfix.sh"

mc_setup
send=${MC_BUILD:-$(dirname "$MAILCURE")}/tests/unit/notify-send
[ -x "$send" ] || mc_skip "no $send (built with the unit tests, needs cmocka)"
pf_need
pf_start

cat >"$T/sendmail" <<EOS
#!/bin/sh
exec /usr/sbin/sendmail -C "$PF_CONF" "\$@"
EOS
chmod 0755 "$T/sendmail"

"$send" "$T/sendmail" "postmaster@$PF_DOMAIN" "carol@$PF_DOMAIN" -- \
	"alice@$PF_DOMAIN" $'Invoice\r\nBcc: bob@'"$PF_DOMAIN"$'\r\nX-Injected: yes' \
	'"Bank" <x@sender.test>' 'Win.Test.EICAR_HDB-1' \
	"bob@$PF_DOMAIN" 'Grüße – Ihre Rechnung' 'y@sender.test' $'Trojan\e]0;owned\a' \
	>"$T/send.out" 2>&1 || { cat "$T/send.out"; mc_fail "notify-send failed"; }
mc_assert_eq "3 sent" "$(cat "$T/send.out")" "digests taken by sendmail"
pf_wait_mailbox alice 1
pf_wait_mailbox bob 1
pf_wait_mailbox carol 1
pf_wait_queue 0
sleep 1
mc_assert_eq "1 1 1 0 0" "$(pf_mailbox_count alice) $(pf_mailbox_count bob) \
$(pf_mailbox_count carol) $(pf_mailbox_count catchall) $(pf_mailbox_count senders)" \
	"alice bob carol catchall senders"

python3 - "$PF_VMAIL" "$PF_DOMAIN" <<'EOF' || mc_fail "the digests delivered are not as sent"
import email, email.policy, glob, sys
vmail, domain = sys.argv[1], sys.argv[2]
def digest(box):
    path, = glob.glob(f"{vmail}/{box}/new/*")
    raw = open(path, "rb").read()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    return raw, msg, msg.get_content()
raw, msg, body = digest("alice")
assert msg["Return-Path"] == f"<postmaster@{domain}>", msg["Return-Path"]
assert msg["To"] == f"alice@{domain}", msg["To"]
assert msg["Auto-Submitted"] == "auto-generated"
assert msg.get_content_type() == "text/plain" and msg.get_content_charset() == "utf-8"
assert msg["X-Injected"] is None and msg["Bcc"] is None, raw
assert b"\nX-Injected" not in raw and b"\nBcc" not in raw, raw
assert "Subject: Invoice\\x0d\\x0aBcc: bob@" in body, body
assert "\\x0d\\x0aX-Injected: yes\n" in body, body
assert "Grüße" not in body, body
raw, msg, body = digest("bob")
assert "Subject: Grüße – Ihre Rechnung\n" in body, body
assert "Trojan\\x1b]0;owned\\x07" in body and "\x1b" not in body, body
assert "Invoice" not in body, body
raw, msg, body = digest("carol")
assert msg["Subject"].startswith("mailcure watch on "), msg["Subject"]
assert f"* alice@{domain}: maildir:INBOX" in body and f"* bob@{domain}:" in body, body
assert "Grüße – Ihre Rechnung" in body and "2 message(s)" in body, body
EOF

# A recipient that is no plain address: refused before sendmail runs.
"$send" "$T/sendmail" "postmaster@$PF_DOMAIN" - -- "-oi@x" "s" "f" "r" >"$T/send.out" 2>&1 &&
	mc_fail "a recipient '-oi@x' was accepted"
grep -qF -- "-oi@x: no plain mail address to notify" "$T/send.out" ||
	{ cat "$T/send.out"; mc_fail "no error for recipient -oi@x"; }
pf_wait_queue 0
mc_log "three digests delivered through Postfix; injection attempts stayed text"
