#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1000-mailbox-find-testfiles - every ClamAV test file is found, per message
# DESCRIPTION
#	Each file of /usr/share/clamav-testfiles is attached (base64) to
#	a message of its own, once in a Maildir and once in an mbox,
#	among clean messages. "mailbox find --json" must report each of
#	them exactly once, as ClamAV-Test-File.UNOFFICIAL (mbox: with the
#	offset of the message's From_ line), report no clean message,
#	and exit 1. The human output names every match too.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need python3 base64
mc_need_testfiles
mc_setup

md=$T/Maildir
mbox=$T/mbox
mc_maildir "$md"
expected=

clean_pdf=$T/report.pdf
{ printf '%%PDF-1.4\n'; head -c 3000 /dev/urandom; printf '\n%%%%EOF\n'; } >"$clean_pdf"

n=0
for f in "$MC_TESTFILES"/*; do
	[ -f "$f" ] || continue
	name=$(basename "$f")
	n=$((n + 1))
	# A clean message before each infected one, alternating plain and
	# with a harmless attachment.
	if [ $((n % 2)) = 0 ]; then
		mc_msg_plain -s "clean before $name" | mc_maildir_put "$md" cur S >/dev/null
		mc_msg_plain -s "clean before $name" | mc_mbox_put "$mbox" >/dev/null
	else
		mc_msg_attach "$clean_pdf" -s "clean before $name" | mc_maildir_put "$md" new >/dev/null
		mc_msg_attach "$clean_pdf" -s "clean before $name" | mc_mbox_put "$mbox" >/dev/null
	fi
	p=$(mc_msg_attach "$f" -s "testfile $name" -i "<md-$name@mailcure.test>" |
		mc_maildir_put "$md" cur RS)
	expected+="maildir $(basename "$p") - testfile $name"$'\n'
	off=$(mc_msg_attach "$f" -s "testfile $name" -i "<mbox-$name@mailcure.test>" |
		mc_mbox_put "$mbox" "sender@example.com")
	expected+="mbox mbox $off testfile $name"$'\n'
done
mc_msg_plain -s "clean last" | mc_maildir_put "$md" new >/dev/null
mc_msg_plain -s "clean last" | mc_mbox_put "$mbox" >/dev/null
total=$((4 * n + 2))
mc_log "$n test files, $total messages"

before=$(mc_snapshot "$md"; sha256sum "$mbox")

mc_cure --json mailbox find -s "maildir:$md" -s "mbox:$mbox"
mc_expect_rc 1 "mailbox find"

# Every match: the right message, found by the engine with the test
# signature name.
got=$(mc_json "$MC_OUT" '
import os
for e in events:
    if e.get("event") != "match":
        continue
    kind = "mbox" if e.get("offset") is not None else "maildir"
    print(kind, os.path.basename(e.get("path", "?")),
          e.get("offset", "-"), e.get("subject", "?"))
' | sort)
mc_assert_eq "$(printf '%s' "$expected" | sort)" "$got" "matches reported"

bad=$(mc_events "$MC_OUT" match subject reasons |
	grep -v $'\tvirus=ClamAV-Test-File.UNOFFICIAL' || true)
[ -z "$bad" ] || mc_fail "matches without the virus reason ClamAV-Test-File.UNOFFICIAL:
$bad"

others=$(mc_json "$MC_OUT" '
for e in events:
    if e.get("event") not in ("match", "summary"):
        print(e)')
[ -z "$others" ] || mc_fail "unexpected events: $others"

# Every match carries the fields of the contract.
missing=$(mc_json "$MC_OUT" '
for e in events:
    if e.get("event") == "match":
        for k in ("store", "user", "folder", "path", "size", "from", "subject", "message_id", "reasons"):
            if k not in e:
                print(k, "missing in", e.get("subject"))
        if e.get("path", "").endswith("/mbox") and "offset" not in e:
            print("offset missing in", e.get("subject"))
        if "action" in e or "quarantine_id" in e:
            print("find acted on", e.get("subject"))')
[ -z "$missing" ] || mc_fail "$missing"

mc_assert_eq "$((2 * n))" "$(mc_summary "$MC_OUT" matched)" "summary: matched"
mc_assert_eq "$total" "$(mc_summary "$MC_OUT" scanned)" "summary: scanned"
mc_assert_eq "0" "$(mc_summary "$MC_OUT" unscanned)" "summary: unscanned"
mc_assert_eq "0" "$(mc_summary "$MC_OUT" errors)" "summary: errors"
mc_assert_eq "0" "$(mc_summary "$MC_OUT" acted)" "summary: acted"
[ "$(mc_summary "$MC_OUT" run)" != "-" ] || mc_fail "summary has no run id"

# Human output: one line per match, naming the message's location.
mc_cure mailbox find -s "maildir:$md" -s "mbox:$mbox"
mc_expect_rc 1 "mailbox find (human output)"
lines=$(grep -c 'ClamAV-Test-File.UNOFFICIAL' "$MC_OUT" || true)
[ "$lines" -ge $((2 * n)) ] || { mc_show; mc_fail "human output: $lines match lines, expected $((2 * n))"; }
for p in "$md"/cur/*; do
	case $p in *":2,RS") grep -qF "$(basename "$p")" "$MC_OUT" ||
		{ mc_show; mc_fail "human output does not name $p"; } ;;
	esac
done

# find changed nothing and created no quarantine.
mc_assert_eq "$before" "$(mc_snapshot "$md"; sha256sum "$mbox")" "store after find"
[ ! -e "$MC_Q" ] || [ -z "$(ls -A "$MC_Q")" ] || mc_fail "find put something in the quarantine"
