#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1074-ioc-feeds - threat-intel feeds find exactly their messages
# DESCRIPTION
#	A MISP event export, a MISP feed directory and a STIX 2.1 bundle
#	written for the test, over the same messages in a Maildir and in
#	an mbox: each feed (with --ioc, and as @FILE) finds exactly the
#	messages its indicators name (a domain and its subdomains but
#	not a longer name, a URL in HTML, an attachment's SHA-256, a
#	sender, a subject AND a sender); revoked, expired and non-IDS
#	indicators find nothing. Each match names its indicator and
#	event in the JSON and the human output, the summary counts what
#	each file loaded and skipped, and after a clean the report
#	(text, JSON, HTML) groups the findings by indicator and by feed
#	event. A feed's hostile title (markup, terminal escapes) reaches
#	neither the terminal nor the page as such. A broken feed is an
#	error naming file and position, before anything is scanned.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need python3
mc_setup

md=$T/srv/home/ann/Maildir
mbox=$T/srv/mail/bob
feeds=$T/feeds
mc_maildir "$md"
mkdir -p "$feeds/misp-feed" "$(dirname "$mbox")"

"$MC_PYTHON" - "$md/new" "$mbox" "$feeds" <<'EOF2'
import base64, json, sys
new, mbox, feeds = sys.argv[1], sys.argv[2], sys.argv[3]

def msg(tag, frm="news@sender.example", subject=None, body="", ctype="text/plain"):
    return ("From: %s\nTo: ann@example.com\nSubject: %s\n"
            "Date: Mon, 02 Mar 2026 10:00:00 +0000\nMessage-ID: <%s@t1074.test>\n"
            "MIME-Version: 1.0\nContent-Type: %s; charset=utf-8\n\n%s\n"
            % (frm, subject or tag, tag, ctype, body))

payload = b"MALWARE-SAMPLE-1074\n"
attach = ("From: billing@sender.example\nTo: ann@example.com\nSubject: i4\n"
          "Message-ID: <i4@t1074.test>\nMIME-Version: 1.0\n"
          'Content-Type: multipart/mixed; boundary="b"\n\n--b\n'
          "Content-Type: text/plain\n\nSee attached.\n--b\n"
          'Content-Type: application/octet-stream; name="payload.bin"\n'
          "Content-Transfer-Encoding: base64\n\n" +
          base64.b64encode(payload).decode() + "\n--b--\n")
msgs = {
  "i1": msg("i1", body="Log in at http://www.EVIL.example/login today."),
  "i2": msg("i2", body="Not us: http://badevil.example/ nor http://evil.example.org/"),
  "i3": msg("i3", body="Context only: http://context.example/"),
  "i4": attach,
  "i5": msg("i5", frm="HR <hr@payroll.example>", subject="Quarterly  bonus"),
  "i6": msg("i6", frm="someone@else.example", subject="Quarterly bonus"),
  "i7": msg("i7", body="http://revoked.example/x"),
  "i8": msg("i8", body="http://expired.example/x"),
  "i9": msg("i9", body='<a href="https://phish.test/login?u=1">x</a>', ctype="text/html"),
  "i10": msg("i10", frm="The CEO <CEO@fraud.example>"),
  "i11": msg("i11", body="http://nonids.example/"),
  "i12": msg("i12", body="http://a.mixed.example/"),
}
for i, (tag, text) in enumerate(msgs.items()):
    with open("%s/17100710%02d.M1.t1074" % (new, i), "w") as f:
        f.write(text)
with open(mbox, "w") as f:
    for tag, text in msgs.items():
        f.write("From MAILER-DAEMON Mon Mar  2 10:00:00 2026\n" + text + "\n")

def attr(uuid, type, value, ids=True):
    return {"uuid": uuid, "type": type, "value": value, "to_ids": ids}

json.dump({"Event": {"id": "42", "uuid": "5f1c0000-0000-4000-8000-000000000042",
           "info": "Invoice wave", "Attribute": [
               attr("a1", "domain", "evil[.]example"),
               attr("a2", "domain", "context.example", False),
               attr("a3", "ip-dst", "192.0.2.7")]}},
          open(feeds + "/misp-event.json", "w"))

sha = __import__("hashlib").sha256(payload).hexdigest()
def ind(id, pattern, **extra):
    d = {"type": "indicator", "spec_version": "2.1", "id": "indicator--" + id,
         "name": "name " + id, "pattern_type": "stix", "pattern": pattern,
         "valid_from": "2026-01-01T00:00:00Z"}
    d.update(extra)
    return d
json.dump({"type": "bundle", "id": "bundle--t1074", "objects": [
    ind("s1", "[file:hashes.'SHA-256' = '%s']" % sha),
    ind("s2", "[email-message:subject = 'quarterly bonus' AND "
              "email-addr:value = 'hr@payroll.example']"),
    ind("s3", "[domain-name:value = 'revoked.example']", revoked=True),
    ind("s4", "[domain-name:value = 'expired.example']",
        valid_until="2026-02-01T00:00:00Z"),
    ind("s5", "[domain-name:value = 'mixed.example' AND file:name = 'a.exe']"),
    {"type": "report", "id": "report--x", "name": "Campaign X",
     "object_refs": ["indicator--s1", "indicator--s2"]},
]}, open(feeds + "/bundle.json", "w"))

e1, e2 = "11111111-2222-4333-8444-555555555555", "11111111-2222-4333-8444-666666666666"
json.dump({e1: {"info": "Feed one"}, e2: {"info": "Feed two"}},
          open(feeds + "/misp-feed/manifest.json", "w"))
json.dump({"Event": {"uuid": e1, "info": "Feed one", "Attribute": [
    attr("f1", "url", "hxxps://phish[.]test/login?u=1")]}},
    open("%s/misp-feed/%s.json" % (feeds, e1), "w"))
json.dump({"Event": {"uuid": e2, "info": "CEO fraud <script>alert(1)</script>\x1b]0;pwn\x07",
    "Object": [{"Attribute": [attr("f2", "email-src", "ceo@fraud.example"),
                              attr("f3", "domain", "nonids.example", False)]}]}},
    open("%s/misp-feed/%s.json" % (feeds, e2), "w"))
EOF2

finds() {
	local want=$1
	shift
	MC_FIND_OPTS=("$@")
	mc_assert_finds "maildir:$md" t1074.test "$want" ioc
	mc_assert_finds "mbox:$mbox" t1074.test "$want" ioc
	MC_FIND_OPTS=()
}
finds "i1"          --ioc "$feeds/misp-event.json"
finds "i12 i4 i5"   --ioc "$feeds/bundle.json"
finds "i10 i9"      --ioc "$feeds/misp-feed"
finds "i1 i10 i12 i4 i5 i9" --ioc "$feeds/misp-event.json" --ioc "$feeds/bundle.json" \
	--ioc "$feeds/misp-feed"
# @FILE reads the same feeds.
mc_assert_finds "maildir:$md" t1074.test "i12 i4 i5" "@$feeds/bundle.json"
mc_assert_finds "mbox:$mbox" t1074.test "i10 i9" "@$feeds/misp-feed"
# --ioc is ORed with a query that does not name it.
MC_FIND_OPTS=(--ioc "$feeds/misp-event.json")
mc_assert_finds "maildir:$md" t1074.test "i1 i6" 'from:someone@else.example'
mc_assert_finds "maildir:$md" t1074.test "" 'ioc not subject:i1'
MC_FIND_OPTS=()
echo "ok: each feed finds exactly its messages in Maildir and mbox"

# The JSON reason names the indicator, its event and its file.
mc_cure --json mailbox find -s "mbox:$mbox" --ioc "$feeds/misp-event.json" \
	--ioc "$feeds/bundle.json" --ioc "$feeds/misp-feed"
mc_expect_rc 1 "find with three feeds"
got=$(mc_json "$MC_OUT" '
keys = ("type", "indicator_id", "event_id", "event", "feed", "matched")
for e in sorted((e for e in events if e["event"] == "match"), key=lambda e: e["message_id"]):
    r = e["reasons"][0]
    assert r["kind"] == "ioc", r
    print(e["message_id"], r["value"], *[repr(r.get(k)) for k in keys])')
mc_assert_eq "<i10@t1074.test> ceo@fraud.example 'email' 'f2' '11111111-2222-4333-8444-666666666666' 'CEO fraud <script>alert(1)</script>\\x1b]0;pwn\\x07' '$feeds/misp-feed' 'ceo@fraud.example'
<i12@t1074.test> mixed.example 'domain' 'indicator--s5' 'bundle--t1074' None '$feeds/bundle.json' 'http://a.mixed.example/'
<i1@t1074.test> evil[.]example 'domain' 'a1' '42' 'Invoice wave' '$feeds/misp-event.json' 'http://www.evil.example/login'
<i4@t1074.test> $(sha256sum <<<"MALWARE-SAMPLE-1074" | cut -d' ' -f1) 'sha256' 'indicator--s1' 'report--x' 'Campaign X' '$feeds/bundle.json' '$(sha256sum <<<"MALWARE-SAMPLE-1074" | cut -d' ' -f1)'
<i5@t1074.test> [email-message:subject = 'quarterly bonus' AND email-addr:value = 'hr@payroll.example'] 'subject' 'indicator--s2' 'report--x' 'Campaign X' '$feeds/bundle.json' 'quarterly bonus'
<i9@t1074.test> hxxps://phish[.]test/login?u=1 'url' 'f1' '11111111-2222-4333-8444-555555555555' 'Feed one' '$feeds/misp-feed' 'https://phish.test/login?u=1'" \
	"$got" "JSON reasons of the three feeds"
got=$(mc_json "$MC_OUT" '
s = [e for e in events if e["event"] == "summary"][-1]
for f in s["indicators"]:
    print(f["file"].rsplit("/", 1)[-1], f["format"], f["loaded"], f["skipped"])')
mc_assert_eq "misp-event.json misp 1 2
bundle.json stix 3 2
misp-feed misp-feed 2 1" "$got" "loaded and skipped per file in the JSON summary"
echo "ok: JSON reasons and summary name indicators, events and files"

# The human output: one line per match naming the indicator and its
# event; the feed's escapes are made visible, not sent.
mc_cure mailbox find -s "maildir:$md" --ioc "$feeds/misp-event.json" --ioc "$feeds/misp-feed"
mc_expect_rc 1 "human find"
grep -qF ": ioc domain evil[.]example (event 42 \"Invoice wave\", indicator a1, $feeds/misp-event.json) in http://www.evil.example/login" "$MC_OUT" ||
	{ mc_show >&2; mc_fail "human output does not name the MISP indicator and event"; }
grep -qF ": ioc email ceo@fraud.example (event 11111111-2222-4333-8444-666666666666 \"CEO fraud <script>alert(1)</script>" "$MC_OUT" ||
	{ mc_show >&2; mc_fail "human output does not name the feed event"; }
if grep -q $'\x1b' "$MC_OUT"; then mc_fail "a feed's terminal escape reached the terminal"; fi
grep -qF "Indicators: $feeds/misp-event.json (misp): 1 loaded, 2 skipped" "$MC_OUT" ||
	{ mc_show >&2; mc_fail "human summary does not count the MISP file"; }
grep -qF "Indicators: $feeds/misp-feed (misp-feed): 2 loaded, 1 skipped" "$MC_OUT" ||
	{ mc_show >&2; mc_fail "human summary does not count the feed directory"; }
echo "ok: human output names indicators, counts files, shows no escapes"

# Clean, then the report groups by indicator and by feed event.
mc_cure --state-dir "$T/state" mailbox clean -s "maildir:$md" --ioc "$feeds/misp-event.json" \
	--ioc "$feeds/bundle.json" --ioc "$feeds/misp-feed"
mc_expect_rc 1 "clean with three feeds"
run=$(sed -n 's/^Run: *\([^ ]*\).*/\1/p' "$MC_OUT")
mc_cure --state-dir "$T/state" report "$run" --html "$T/report.html"
mc_expect_rc 0 "report --html"
for want in "Per indicator" "Per feed event" "domain evil[.]example ($feeds/misp-event.json)" \
	"report--x Campaign X ($feeds/bundle.json)" "42 Invoice wave ($feeds/misp-event.json)" \
	"indicator indicator--s1" "CEO fraud &lt;script&gt;alert(1)&lt;/script&gt;"; do
	grep -qF "$want" "$T/report.html" || mc_fail "the HTML report lacks '$want'"
done
if grep -q '<script>' "$T/report.html"; then mc_fail "a feed's markup reached the HTML report"; fi
mc_cure --state-dir "$T/state" --json report "$run"
got=$(FEEDS=$feeds mc_json "$MC_OUT" '
r, feeds = events[0], __import__("os").environ["FEEDS"]
print(r["per_event"].get("report--x Campaign X (" + feeds + "/bundle.json)"),
      r["per_indicator"].get("domain evil[.]example (" + feeds + "/misp-event.json)"))')
mc_assert_eq "2 1" "$got" "JSON report: per_event and per_indicator"
echo "ok: the report groups findings by indicator and feed event"

# A broken feed: an error naming file and position, nothing scanned.
printf '{"Event":{"info":"x",\n "Attribute":[}}' >"$feeds/broken.json"
mc_cure mailbox find -s "maildir:$md" --ioc "$feeds/broken.json"
mc_expect_rc 2 "a broken feed"
grep -qF "$feeds/broken.json': line 2, column" "$MC_ERR" ||
	{ mc_show >&2; mc_fail "the error does not name file and position"; }
[ ! -s "$MC_OUT" ] || mc_fail "something was scanned with a broken feed"
echo "ok: a broken feed is an error naming file and position"
