#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t6030-respond-scan-options - respond's steps scan as it was told
# DESCRIPTION
#	respond runs each step as a child mailcure. The options that
#	say how to scan (--yara, --ioc, --cache, the limits) must reach
#	the find and delete steps, or the runbook removes less than the
#	command line asked for. Over a Maildir holding a virus, a
#	message whose link an indicator names, one that a YARA rule
#	matches and a clean one:
#	- respond --ioc FILE without a query removes the virus and the
#	  indicator's message (virus or ioc), and the report names the
#	  indicator;
#	- respond --ioc --yara 'ioc or yara' removes those two, and the
#	  verdict cache of --cache is written by the mailbox step.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need python3
mc_need_root
mc_setup

skips=(--skip isolate --skip reconnect --skip queue-freeze --skip queue-delete --skip queue-thaw
       --skip host-scan)
make_store() {
	local md=$1
	rm -rf "$md"
	mc_maildir "$md"
	mc_msg_eicar -s "virus" -i "<v@t6030>" | mc_maildir_put "$md" new >/dev/null
	mc_msg_plain -s "link" -i "<l@t6030>" -b "Log in: http://login.evil.example/x" |
		mc_maildir_put "$md" new >/dev/null
	mc_msg_plain -s "marker" -i "<y@t6030>" -b "T6030-YARA-MARKER" | mc_maildir_put "$md" new >/dev/null
	mc_msg_plain -s "clean" -i "<c@t6030>" | mc_maildir_put "$md" new >/dev/null
}
cat >"$T/event.json" <<'EOF2'
{"Event":{"id":"7","info":"Respond wave","Attribute":[
 {"uuid":"r1","type":"domain","value":"evil.example","to_ids":true}]}}
EOF2
printf 'rule Marker { strings: $m = "T6030-YARA-MARKER" condition: $m }\n' >"$T/rules.yar"

# What the run quarantined: the Message-IDs, sorted.
quarantined() {
	"$MAILCURE" --quarantine "$1" --json quarantine list >"$T/list.json"
	mc_json "$T/list.json" '
ids = []
for e in events:
    if e.get("event") == "entry":
        ids.append(e.get("message_id", "?"))
print(" ".join(sorted(ids)))'
}

make_store "$T/a/Maildir"
set +e
"$MAILCURE" -d "$MC_SIGS" --quarantine "$T/a-q" --state-dir "$T/a-st" -j 1 --ioc "$T/event.json" \
	respond "${skips[@]}" -s "maildir:$T/a/Maildir" --yes >"$T/a.out" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || { cat "$T/a.out"; mc_fail "respond --ioc: exit $rc, expected 1"; }
mc_assert_eq "<l@t6030> <v@t6030>" "$(quarantined "$T/a-q")" "respond --ioc quarantined"
run=$(sed -n 's/^Run \([^ ]*\) .*/\1/p' "$T/a.out" | head -n 1)
"$MAILCURE" --quarantine "$T/a-q" --state-dir "$T/a-st" report "$run" >"$T/a.report"
grep -qF "domain evil.example ($T/event.json)" "$T/a.report" ||
	{ cat "$T/a.report"; mc_fail "the report of respond --ioc does not name the indicator"; }
grep -qF "7 Respond wave ($T/event.json)" "$T/a.report" ||
	{ cat "$T/a.report"; mc_fail "the report of respond --ioc does not name the event"; }
echo "ok: respond --ioc removes the virus and the indicator's message"

make_store "$T/b/Maildir"
set +e
"$MAILCURE" -d "$MC_SIGS" --quarantine "$T/b-q" --state-dir "$T/b-st" -j 1 --ioc "$T/event.json" \
	--yara "$T/rules.yar" --cache "$T/cache" respond "${skips[@]}" -s "maildir:$T/b/Maildir" \
	--yes 'ioc or yara:Marker' >"$T/b.out" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || { cat "$T/b.out"; mc_fail "respond --yara --ioc: exit $rc, expected 1"; }
mc_assert_eq "<l@t6030> <y@t6030>" "$(quarantined "$T/b-q")" "respond --ioc --yara quarantined"
make_store "$T/c/Maildir"
set +e
"$MAILCURE" -d "$MC_SIGS" --quarantine "$T/c-q" --state-dir "$T/c-st" -j 1 --cache "$T/cache" \
	respond "${skips[@]}" -s "maildir:$T/c/Maildir" --yes >"$T/c.out" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || { cat "$T/c.out"; mc_fail "respond --cache: exit $rc, expected 1"; }
[ -s "$T/cache" ] || { cat "$T/c.out"; mc_fail "respond --cache: the mailbox step wrote no cache"; }
echo "ok: respond passes --yara, --ioc and --cache to its steps"
