#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1090-scan-parts-equals-whole - scanning part by part, with or
#	without the verdict cache, gives libclamav's own verdicts
# DESCRIPTION
#	A store of many message shapes, each infected and clean: every
#	file of /usr/share/clamav-testfiles attached in base64 (LF and
#	CRLF line ends), EICAR in a 7bit text body, in a quoted-printable
#	HTML part and zipped, an infected message attached as
#	message/rfc822, the same attachment in 30 differently addressed
#	copies, and the irregular shapes the part scanner must hand to
#	libclamav whole: an attached message in base64, uuencode, broken
#	base64, a bounce (MIME headers inside a text part), a message
#	that libclamav would not type as mail, 600 parts. Plus empty and
#	garbage files.
#
#	"mailbox find --scan whole" (libclamav parses every message) and
#	the default part-by-part scan, cold and with a warm --cache file,
#	must give the same events: the same messages matched with the
#	same signature names, the same unscanned and error reports. The
#	warm run takes every part verdict from the cache.
#
#	The cache file is refused when it is a symlink, writable by
#	others, owned by another user or damaged; made with other
#	signatures it is ignored and rewritten.
#
#	Signatures with few body patterns are matched by Aho-Corasick
#	alone, many by Boyer-Moore and Aho-Corasick as clamscan does:
#	two body signatures of clam.exe (one at the PE entry point, one
#	anywhere) give the same events either way; 200 patterns that
#	never match tip the choice.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need python3 base64 zip
mc_need_testfiles
mc_need_root
mc_setup

md=$T/Maildir
mbox=$T/mbox
mc_maildir "$md"

"$MC_PYTHON" - "$md" "$mbox" "$MC_TESTFILES" <<'EOF'
import base64, io, os, quopri, sys, zipfile

md, mbox, testfiles = sys.argv[1:4]
eicar = bytes.fromhex(
    "58354f2150254041505b345c505a58353428505e2937434329377d2445494341522d"
    "5354414e444152442d414e544956495255532d544553542d46494c452124482b482a")
clam = open(os.path.join(testfiles, "clam.exe"), "rb").read()
seq = 0

def head(subject, first="Return-Path: <a@example.com>\n", extra=""):
    global seq
    seq += 1
    return (first + "From: Alice <a@example.com>\nTo: b@example.org\n"
            "Subject: %s\nDate: Mon, 02 Mar 2026 10:00:00 +0000\n"
            "Message-ID: <t1090-%d@mailcure.test>\n%sMIME-Version: 1.0\n"
            % (subject, seq, extra))

def b64(data):
    return base64.encodebytes(data).decode()

def attach(subject, data, name="file.bin", first=None, extra="", ctype="application/octet-stream"):
    h = head(subject, extra=extra) if first is None else head(subject, first, extra)
    return (h + 'Content-Type: multipart/mixed; boundary="b1"\n\npreamble\n\n'
            '--b1\nContent-Type: text/plain\n\nSee attached.\n\n'
            '--b1\nContent-Type: %s; name="%s"\nContent-Transfer-Encoding: base64\n'
            'Content-Disposition: attachment; filename="%s"\n\n%s--b1--\n'
            % (ctype, name, name, b64(data)))

def zipped(name, data):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, data)
    return out.getvalue()

msgs = []
for f in sorted(os.listdir(testfiles)):
    data = open(os.path.join(testfiles, f), "rb").read()
    msgs.append(attach("testfile " + f, data, f).encode())
    msgs.append(attach("crlf testfile " + f, data, f).replace("\n", "\r\n").encode())
clean_pdf = b"%PDF-1.4\n" + bytes(range(256)) * 20 + b"\n%%EOF\n"
for i in range(30):
    msgs.append(attach("outbreak copy %d" % i, zipped("invoice.pdf.exe", clam), "invoice.zip",
                       extra="Delivered-To: user%d@example.org\n" % i).encode())
    msgs.append(attach("logo copy %d" % i, clean_pdf, "report.pdf").encode())
msgs.append((head("eicar in a 7bit body") + "Content-Type: text/plain\n\n").encode()
            + eicar + b"\n")
msgs.append((head("eicar in quoted-printable html") +
             "Content-Type: text/html\nContent-Transfer-Encoding: quoted-printable\n\n").encode()
            + quopri.encodestring(b"<html><body>" + eicar + b"</body></html>\n"))
msgs.append(attach("eicar zipped", zipped("eicar.com", eicar), "e.zip").encode())
msgs.append(attach("clean zipped", zipped("notes.txt", b"nothing here\n" * 100), "n.zip").encode())
inner = attach("inner infected", clam, "clam.exe")
msgs.append((head("attached message, 7bit") +
             'Content-Type: multipart/mixed; boundary="o"\n\n--o\nContent-Type: text/plain\n\n'
             'Forwarded.\n--o\nContent-Type: message/rfc822\n\n' + inner + '--o--\n').encode())
msgs.append((head("attached message, base64") +
             'Content-Type: multipart/mixed; boundary="o"\n\n--o\nContent-Type: text/plain\n\n'
             'Forwarded.\n--o\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n'
             + b64(inner.encode()) + '--o--\n').encode())
uu = "begin 644 clam.exe\n"
for i in range(0, len(clam), 45):
    chunk = clam[i:i + 45]
    import binascii
    uu += binascii.b2a_uu(chunk).decode()
uu += "`\nend\n"
msgs.append((head("uuencoded") + "Content-Type: text/plain\n\nHere it is:\n\n" + uu).encode())
broken = b64(clam).replace("A", "A!", 3)
msgs.append((head("broken base64") +
             'Content-Type: multipart/mixed; boundary="b"\n\n--b\n'
             'Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n'
             + broken + '--b--\n').encode())
msgs.append((head("bounce") + "Content-Type: text/plain\n\n"
             "This is the mail system. Your message could not be delivered.\n\n"
             + inner.replace("Return-Path: <a@example.com>\n", "")).encode())
msgs.append(attach("not typed as mail", clam, "clam.exe", first="X-Custom-First: yes\n").encode())
parts = "".join('--m\nContent-Type: text/plain\n\npart %d\n' % i for i in range(600))
msgs.append((head("600 parts") + 'Content-Type: multipart/mixed; boundary="m"\n\n' + parts +
             '--m\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n'
             + b64(clam) + '--m--\n').encode())
msgs.append((head("alternative, clean") +
             'Content-Type: multipart/alternative; boundary="a"\n\n--a\nContent-Type: text/plain\n\n'
             'Hello\n--a\nContent-Type: text/html\n\n<p>Hello</p>\n--a--\n').encode())
msgs.append(attach("twice the same virus", clam, "a.exe").replace(
    "--b1--\n", '--b1\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n'
    + b64(clam) + "--b1--\n").encode())

os.makedirs(os.path.join(md, "cur"), exist_ok=True)
with open(mbox, "wb") as mb:
    for i, m in enumerate(msgs):
        with open(os.path.join(md, "cur", "%d.M%dP1.t1090:2,S" % (1700000000 + i, i)), "wb") as f:
            f.write(m)
        lines = [b">" + l if l.lstrip(b">").startswith(b"From ") else l for l in m.split(b"\n")]
        body = b"\n".join(lines)
        if not body.endswith(b"\n"):
            body += b"\n"
        mb.write(b"From a@example.com Mon Mar  2 10:00:00 2026\n" + body + b"\n")
open(os.path.join(md, "cur", "1800000000.M1P1.empty:2,"), "wb").close()
with open(os.path.join(md, "cur", "1800000001.M2P1.garbage:2,"), "wb") as f:
    f.write(bytes(range(256)) * 40)
print(len(msgs), "messages")
EOF

# Every event but the summary, one line each, in a stable order.
events() {
	mc_json "$1" '
import os
out = []
for e in events:
    if e.get("event") == "summary":
        continue
    where = "%s@%s" % (os.path.basename(e.get("path", "?")), e.get("offset", "-"))
    reasons = ",".join("%s=%s" % (r.get("kind"), r.get("name", r.get("value")))
                       for r in e.get("reasons", []))
    out.append("%s %s %s %s" % (e.get("event"), where, reasons, e.get("reason", "")))
print("\n".join(sorted(out)))'
}
engine() {
	mc_json "$1" '
s = [e for e in events if e.get("event") == "summary"][-1]
print(s["engine"][sys.argv[2]] if False else s["engine"]["'"$2"'"])'
}

stores=(-s "maildir:$md" -s "mbox:$mbox")

mc_cure --json --scan whole mailbox find "${stores[@]}"
mc_expect_rc 2 "find --scan whole"
whole=$(events "$MC_OUT")
[ "$(engine "$MC_OUT" messages_by_part)" = 0 ] || mc_fail "--scan whole scanned by part"
matches=$(grep -c '^match ' <<<"$whole")
mc_log "whole: $matches matches"
[ "$matches" -ge 150 ] || mc_fail "too few matches in the whole scan: $matches"

mc_cure --json mailbox find "${stores[@]}"
mc_expect_rc 2 "find (by part)"
mc_assert_eq "$whole" "$(events "$MC_OUT")" "part-by-part events against whole scans"
by_part=$(engine "$MC_OUT" messages_by_part)
whole_n=$(engine "$MC_OUT" messages_whole)
mc_log "by part: $by_part, whole: $whole_n, cached parts: $(engine "$MC_OUT" parts_from_cache)"
# Six irregular shapes (twice: Maildir and mbox) are scanned whole.
[ "$whole_n" -ge 12 ] || mc_fail "irregular messages not scanned whole ($whole_n)"
[ "$by_part" -ge 200 ] || mc_fail "regular messages not scanned by part ($by_part)"
[ "$(engine "$MC_OUT" parts_from_cache)" -ge 100 ] || mc_fail "repeated parts were not taken from the cache"

cache=$T/verdicts.cache
mc_cure --json --cache "$cache" mailbox find "${stores[@]}"
mc_expect_rc 2 "find --cache (cold)"
mc_assert_eq "$whole" "$(events "$MC_OUT")" "events with a cold cache file"
[ -s "$cache" ] || mc_fail "no cache file written"
[ "$(stat -c %a "$cache")" = 600 ] || mc_fail "cache file mode $(stat -c %a "$cache")"

mc_cure --json --cache "$cache" mailbox find "${stores[@]}"
mc_expect_rc 2 "find --cache (warm)"
mc_assert_eq "$whole" "$(events "$MC_OUT")" "events with a warm cache file"
[ "$(engine "$MC_OUT" parts_scanned)" = 0 ] ||
	mc_fail "warm cache: $(engine "$MC_OUT" parts_scanned) parts scanned again"
[ "$(engine "$MC_OUT" messages_from_cache)" -ge 300 ] ||
	mc_fail "warm cache: only $(engine "$MC_OUT" messages_from_cache) message verdicts from the cache"

# Other signatures: the file is ignored (and rewritten), the verdicts
# are those of the other signatures.
one=$T/one-sig
mkdir "$one"
cp "$MC_SIGS"/*.ndb "$one"/
mc_run -d "$one" --quarantine "$MC_Q" --progress never --json --cache "$cache" \
	mailbox find "${stores[@]}"
mc_expect_rc 2 "find --cache with other signatures"
grep -q 'ClamAV-Test-File' "$MC_OUT" && mc_fail "a cached verdict of other signatures was used"
grep -q 'Eicar-Test-Signature' "$MC_OUT" || mc_fail "EICAR not found with the EICAR signature alone"

# The pattern matchers: the same events with Aho-Corasick alone as
# with Boyer-Moore beside it.
body=$T/body-sigs
padded=$T/padded-sigs
mkdir "$body" "$padded"
cp "$MC_SIGS"/* "$body"/
printf 'Mailcure.Test.Code:1:EP+0:%s\nMailcure.Test.Body:0:*:%s\n' \
	"$(od -An -v -tx1 -j 64 -N 16 "$MC_TESTFILES/clam.exe" | tr -d ' \n')" \
	"$(od -An -v -tx1 -j 192 -N 44 "$MC_TESTFILES/clam.exe" | tr -d ' \n')" \
	>"$body/body.ndb"
cp "$body"/* "$padded"/
"$MC_PYTHON" -c '
import random
r = random.Random(1090)
for i in range(200):
    print("Mailcure.Test.Never-%d:0:*:%s" % (i, bytes(r.randrange(256) for _ in range(24)).hex()))
' >"$padded/never.ndb"
for sigs in "$body" "$padded"; do
	mc_run -d "$sigs" --quarantine "$MC_Q" --progress never --json \
		mailbox find "${stores[@]}"
	mc_expect_rc 2 "find with $(basename "$sigs")"
	cp "$MC_OUT" "$sigs.json"
done
[ "$(engine "$body.json" matcher)" = aho-corasick ] ||
	mc_fail "few patterns: matcher $(engine "$body.json" matcher)"
[ "$(engine "$padded.json" matcher)" = boyer-moore+aho-corasick ] ||
	mc_fail "many patterns: matcher $(engine "$padded.json" matcher)"
mc_assert_eq "$(events "$body.json")" "$(events "$padded.json")" \
	"events with Aho-Corasick alone against Boyer-Moore beside it"
# A signature file linked into the directory counts, as libclamav
# reads it.
linked=$T/linked-sigs
mkdir "$linked"
cp "$body"/* "$linked"/
ln -s "$padded/never.ndb" "$linked/never.ndb"
mc_run -d "$linked" --quarantine "$MC_Q" --progress never --json mailbox find -s "maildir:$md"
mc_expect_rc 2 "find with linked signatures"
[ "$(engine "$MC_OUT" matcher)" = boyer-moore+aho-corasick ] ||
	mc_fail "linked patterns not counted: matcher $(engine "$MC_OUT" matcher)"
for name in Mailcure.Test.Code Mailcure.Test.Body Eicar-Test-Signature; do
	n=$(grep -c "=$name" <<<"$(events "$body.json")" || true)
	mc_log "$name: $n messages"
	[ "$n" -ge 2 ] || mc_fail "$name found in $n messages"
done

# Refused cache files: nothing is scanned, exit 2, a clear reason.
refused() {
	local what=$1 pattern=$2
	mc_cure --json --cache "$cache" mailbox find "${stores[@]}"
	mc_expect_rc 2 "$what"
	grep -q "$pattern" "$MC_ERR" || { mc_show >&2; mc_fail "$what: no reason given"; }
	grep -q '"event":"match"' "$MC_OUT" && mc_fail "$what: scanned anyway"
	true
}
mc_cure --cache "$cache" mailbox find "${stores[@]}"	# rewrite for the tests signatures
chmod 666 "$cache"
refused "cache writable by others" "writable by nobody else"
chmod 600 "$cache"
chown nobody "$cache"
refused "cache owned by another user" "owned by this user"
chown 0 "$cache"
cp "$cache" "$T/good.cache"
"$MC_PYTHON" -c '
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0xff
open(p, "wb").write(bytes(b))' "$cache"
refused "damaged cache" "damaged"
rm "$cache"
ln -s "$T/good.cache" "$cache"
refused "cache symlink" "verdict cache"
rm "$cache"

# A file that is not a cache at all.
printf 'hello\n' >"$cache"
chmod 600 "$cache"
refused "not a cache" "damaged"
mc_log "ok"
