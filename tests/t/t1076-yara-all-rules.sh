#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1076-yara-all-rules - every YARA rule that matched is named
# DESCRIPTION
#	A message that several rules match: the JSON reason keeps the
#	first rule's value, rule, namespace, tags and metadata where
#	they were, and lists every rule that matched, with its tags and
#	metadata, in "rules"; a yara:GLOB term lists only the rules it
#	names. The human output and the HTML report name the first three
#	rules and how many more. Rule metadata comes from outside: its
#	terminal escapes and markup never reach a terminal or the HTML,
#	and metadata that is not UTF-8 still gives valid JSON.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need python3
mc_setup

md=$T/Maildir
mc_maildir "$md"
mc_msg_plain -i '<many@t1076.test>' -s many \
	-b 'invoice macro AutoOpen Shell powershell -enc payload' | mc_maildir_put "$md" >/dev/null
mc_msg_plain -i '<one@t1076.test>' -s one -b 'just powershell here' | mc_maildir_put "$md" >/dev/null
mc_msg_plain -i '<none@t1076.test>' -s none -b 'nothing at all' | mc_maildir_put "$md" >/dev/null

printf '%s\n' \
	'rule AutoOpen : macro office { meta: author = "cert <b>x</b>" score = 7 strings: $a = "AutoOpen" condition: $a }' \
	'rule ShellCall : macro { meta: note = "esc \x1b]0;pwn\x07 \xff end" strings: $a = "Shell" condition: $a }' \
	'rule PowerShellEnc { strings: $a = "powershell -enc" condition: $a }' \
	'rule PowerShell { strings: $a = "powershell" condition: $a }' \
	'rule Invoice { strings: $a = "invoice" condition: $a }' >"$T/macro.yar"

mc_cure --json --yara "$T/macro.yar" mailbox find -s "maildir:$md" yara
mc_expect_rc 1 "find yara"
got=$(mc_json "$MC_OUT" '
for e in sorted((e for e in events if e["event"] == "match"), key=lambda e: e["message_id"]):
    r = e["reasons"][0]
    print(e["message_id"], r["value"], r["rule"], r["namespace"], ",".join(r["tags"]),
          " ".join("%s:%s[%s]%s" % (x["namespace"], x["rule"], ",".join(x["tags"]),
                                    ascii(sorted(x["meta"].items()))) for x in r["rules"]))')
mc_assert_eq "<many@t1076.test> macro:AutoOpen AutoOpen macro macro,office macro:AutoOpen[macro,office][('author', 'cert <b>x</b>'), ('score', 7)] macro:ShellCall[macro][('note', 'esc \\x1b]0;pwn\\x07 \\ufffd end')] macro:PowerShellEnc[][] macro:PowerShell[][] macro:Invoice[][]
<one@t1076.test> macro:PowerShell PowerShell macro  macro:PowerShell[][]" "$got" "JSON reasons list every rule"
echo "ok: the JSON reason lists every rule with its tags and metadata"

# A glob lists the rules it names only.
mc_cure --json --yara "$T/macro.yar" mailbox find -s "maildir:$md" 'yara:PowerShell*'
mc_expect_rc 1 "find yara:PowerShell*"
got=$(mc_json "$MC_OUT" '
for e in sorted((e for e in events if e["event"] == "match"), key=lambda e: e["message_id"]):
    print(e["message_id"], " ".join(x["rule"] for x in e["reasons"][0]["rules"]))')
mc_assert_eq "<many@t1076.test> PowerShellEnc PowerShell
<one@t1076.test> PowerShell" "$got" "rules of yara:PowerShell*"

# Human output: the first three, then how many more; no escapes.
mc_cure --yara "$T/macro.yar" mailbox find -s "maildir:$md" yara
mc_expect_rc 1 "human find"
grep -qF ": yara macro:AutoOpen, macro:ShellCall, macro:PowerShellEnc +2 more" "$MC_OUT" ||
	{ mc_show >&2; mc_fail "human output does not list the rules"; }
grep -q ": yara macro:PowerShell$" "$MC_OUT" ||
	{ mc_show >&2; mc_fail "human output of a single rule changed"; }
echo "ok: human output names the first rules and how many more"

# The report of a clean names them too, and keeps markup out.
mc_cure --state-dir "$T/state" --yara "$T/macro.yar" mailbox clean -s "maildir:$md" yara
mc_expect_rc 1 "clean yara"
run=$(sed -n 's/^Run: *\([^ ]*\).*/\1/p' "$MC_OUT")
mc_cure --state-dir "$T/state" report "$run" --html "$T/report.html"
mc_expect_rc 0 "report --html"
grep -qF "yara macro:AutoOpen, macro:ShellCall, macro:PowerShellEnc +2 more" "$T/report.html" ||
	mc_fail "the HTML report does not list the rules"
if grep -q '<b>x</b>' "$T/report.html"; then mc_fail "rule metadata markup reached the HTML"; fi
if grep -q $'\x1b' "$T/report.html" "$MC_OUT"; then mc_fail "a rule's escape got through"; fi
echo "ok: the report names every rule"
