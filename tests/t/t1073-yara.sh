#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1073-yara - YARA rules in the query language
# DESCRIPTION
#	Rules written for the test: one with the pe module (clam.exe of
#	clamav-testfiles), one with the hash module on the same file,
#	one on a macro-like string in a base64 text part, one on a URL
#	pattern, loaded from a directory and from a file. yara and
#	yara:RULEGLOB must find exactly the expected messages in a
#	Maildir and in an mbox; the JSON reason names rule and namespace
#	with tags and metadata. A rule file that does not compile fails
#	with its file and line before anything is scanned, as do yara
#	terms without --yara and a --yara path that does not exist.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need python3
mc_need_testfiles
mc_setup

md=$T/srv/home/ya/Maildir
mb=$T/srv/mail/ya
mc_maildir "$md"
mkdir -p "$T/rules" "$(dirname "$mb")"

"$MC_PYTHON" - "$md/new" "$mb" "$MC_TESTFILES/clam.exe" "$T" <<'EOF2'
import base64, hashlib, sys
new, mbox, exe_path, tmp = sys.argv[1:5]
exe = open(exe_path, "rb").read()
open(tmp + "/exe.sha256", "w").write(hashlib.sha256(exe).hexdigest())

def b64(d):
    s = base64.b64encode(d).decode()
    return "\n".join(s[i:i+76] for i in range(0, len(s), 76)) + "\n"

def hdr(tag):
    return ("From: x@example.com\nTo: ya@example.com\nSubject: %s\n"
            "Message-ID: <%s@t1073.test>\nMIME-Version: 1.0\n" % (tag, tag))

msgs = {
  "y1": hdr("y1") + 'Content-Type: multipart/mixed; boundary="b"\n\n--b\n'
        "Content-Type: text/plain\n\nsee attached\n--b\n"
        'Content-Type: application/octet-stream; name="setup.bin"\n'
        "Content-Transfer-Encoding: base64\n\n" + b64(exe) + "--b--\n",
  "y2": hdr("y2") + "Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n" +
        b64(b'Sub AutoOpen()\r\n  Shell "cmd /c calc"\r\nEnd Sub\r\n'),
  "y3": hdr("y3") + "Content-Type: text/plain\n\nLog in at https://login.evil-bank.example/verify\n",
  "y4": hdr("y4") + "Content-Type: text/plain\n\nNothing to see: autoopen alone.\n",
}
for tag, text in msgs.items():
    open("%s/17300730%s.M1.t1073" % (new, tag[1]), "w").write(text)
with open(mbox, "w") as f:
    for tag, text in msgs.items():
        f.write("From x@example.com Mon Mar  2 10:00:00 2026\n" + text + "\n")
EOF2

cat >"$T/rules/pe.yar" <<'EOF2'
import "pe"
rule ClamPE : executable test
{
	meta:
		author = "t1073"
		severity = 5
		ids = true
	condition:
		pe.is_pe and pe.number_of_sections == 1
}
EOF2
cat >"$T/rules/hash.yara" <<EOF2
import "hash"
rule ClamHash { condition: hash.sha256(0, filesize) == "$(cat "$T/exe.sha256")" }
EOF2
cat >"$T/rules/macro.yar" <<'EOF2'
rule AutoOpenMacro : macro
{
	strings:
		$a = "AutoOpen" nocase
		$b = /Shell\s+"cmd/
	condition:
		all of them
}
EOF2
cat >"$T/rules/README" <<'EOF2'
Not a rule file: a directory's files that do not end in .yar or .yara are not read.
EOF2
cat >"$T/url.yar" <<'EOF2'
rule PhishURL { strings: $u = /https?:\/\/[a-z.-]*evil-bank\.example\// condition: $u }
EOF2

y() {	# y WANT QUERY: in the Maildir and in the mbox
	mc_assert_finds "maildir:$md" t1073.test "$1" "$2"
	mc_assert_finds "mbox:$mb" t1073.test "$1" "$2"
}
MC_FIND_OPTS=(--yara "$T/rules" --yara "$T/url.yar")
mc_cure_y() { mc_cure "${MC_FIND_OPTS[@]}" "$@"; }

y "y1 y2 y3" 'yara'
y "y1"       'yara:ClamPE'
y "y1"       'yara:pe:*'
y "y1"       'yara:ClamHash'
y "y2"       'yara:macro:AutoOpen*'
y "y3"       'yara:PhishURL'
y "y3"       'yara:url:*'
y ""         'yara:NoSuchRule'
y "y4"       'not yara'
y "y1"       'yara:ClamPE yara:ClamHash'

# The reason: namespace:rule, and in JSON the rule, namespace, tags
# and metadata.
mc_cure_y --json mailbox find -s "maildir:$md" 'yara:ClamPE'
got=$(mc_json "$MC_OUT" '
for e in events:
    if e["event"] == "match":
        r = e["reasons"][0]
        print(r["kind"], r["value"], r["rule"], r["namespace"], ",".join(r["tags"]),
              r["meta"]["author"], r["meta"]["severity"], r["meta"]["ids"])')
mc_assert_eq "yara pe:ClamPE ClamPE pe executable,test t1073 5 True" "$got" "JSON reason of yara:ClamPE"
mc_cure_y mailbox find -s "maildir:$md" 'yara:ClamPE'
grep -q ': yara pe:ClamPE$' "$MC_OUT" || mc_fail "human output names the rule: $(cat "$MC_OUT")"

# A rule that does not compile: its file and line, nothing scanned.
printf 'rule Good { condition: true }\n\nrule Bad { strings: $a = "x" condition: $b }\n' >"$T/bad.yar"
mc_cure --json --yara "$T/rules" --yara "$T/bad.yar" mailbox find -s "maildir:$md" 'yara'
mc_expect_rc 2 "a rule file that does not compile"
grep -q "yara: $T/bad.yar:3: undefined string \"\$b\"" "$MC_ERR" ||
	mc_fail "the error names file and line: $(cat "$MC_ERR")"
[ ! -s "$MC_OUT" ] || mc_fail "events after a compile error: $(cat "$MC_OUT")"

mc_cure mailbox find -s "maildir:$md" 'yara'
mc_expect_rc 2 "yara terms without --yara"
grep -q -- "--yara" "$MC_ERR" || mc_fail "no hint at --yara: $(cat "$MC_ERR")"

mc_cure --yara "$T/no-such-rules" mailbox find -s "maildir:$md" 'yara'
mc_expect_rc 2 "a --yara path that does not exist"
grep -q "no-such-rules" "$MC_ERR" || mc_fail "the error names the path: $(cat "$MC_ERR")"
