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
#	- respond --ioc --yara 'ioc or yara:Marker' removes those two;
#	- respond --cache FILE: the mailbox step writes the verdict cache;
#	- a run paused with --until and resumed without its --ioc says
#	  that the resume scans otherwise; resumed with it, it does not.
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

# run_respond NAME GLOBAL-OPTION... -- RESPOND-ARG...: respond over a
# fresh store $T/NAME/Maildir, with quarantine $T/NAME-q; it must find
# something (exit 1).
run_respond() {
	local name=$1 globals=() rc
	shift
	while [ "$1" != -- ]; do
		globals+=("$1")
		shift
	done
	shift
	make_store "$T/$name/Maildir"
	set +e
	"$MAILCURE" -d "$MC_SIGS" --quarantine "$T/$name-q" --state-dir "$T/$name-st" -j 1 \
		"${globals[@]}" respond "${skips[@]}" -s "maildir:$T/$name/Maildir" --yes "$@" \
		>"$T/$name.out" 2>&1
	rc=$?
	set -e
	[ "$rc" = 1 ] || { cat "$T/$name.out"; mc_fail "respond ($name): exit $rc, expected 1"; }
}

run_respond a --ioc "$T/event.json" --
mc_assert_eq "<l@t6030> <v@t6030>" "$(quarantined "$T/a-q")" "respond --ioc quarantined"
run=$(sed -n 's/^Run \([^ ]*\) .*/\1/p' "$T/a.out" | head -n 1)
"$MAILCURE" --quarantine "$T/a-q" --state-dir "$T/a-st" report "$run" >"$T/a.report"
grep -qF "domain evil.example ($T/event.json)" "$T/a.report" ||
	{ cat "$T/a.report"; mc_fail "the report of respond --ioc does not name the indicator"; }
grep -qF "7 Respond wave ($T/event.json)" "$T/a.report" ||
	{ cat "$T/a.report"; mc_fail "the report of respond --ioc does not name the event"; }
echo "ok: respond --ioc removes the virus and the indicator's message"

run_respond b --ioc "$T/event.json" --yara "$T/rules.yar" -- 'ioc or yara:Marker'
mc_assert_eq "<l@t6030> <y@t6030>" "$(quarantined "$T/b-q")" "respond --ioc --yara quarantined"
run_respond c --cache "$T/cache" --
[ -s "$T/cache" ] || { cat "$T/c.out"; mc_fail "respond --cache: the mailbox step wrote no cache"; }
echo "ok: respond passes --yara, --ioc and --cache to its steps"

# A resume that scans otherwise than the run began says so.
mc_maildir "$T/d/Maildir"
"$MAILCURE" -d "$MC_SIGS" --quarantine "$T/d-q" --state-dir "$T/d-st" --ioc "$T/event.json" \
	respond "${skips[@]}" -s "maildir:$T/d/Maildir" --until isolate >"$T/d.out" 2>&1 || true
run=$(sed -n 's/^Run \([^ ]*\) .*/\1/p' "$T/d.out" | head -n 1)
[ -n "$run" ] || { cat "$T/d.out"; mc_fail "no run id from respond --until"; }
"$MAILCURE" -d "$MC_SIGS" --quarantine "$T/d-q" --state-dir "$T/d-st" --ioc "$T/event.json" \
	respond --resume "$run" --until isolate >"$T/d2.out" 2>&1 || true
! grep -q "this resume scans with" "$T/d2.out" || { cat "$T/d2.out"; mc_fail "a resume with the same options warned"; }
"$MAILCURE" -d "$MC_SIGS" --quarantine "$T/d-q" --state-dir "$T/d-st" \
	respond --resume "$run" >"$T/d3.out" 2>&1 || true
grep -q "was started scanning with .*--ioc $T/event.json.*this resume scans with" "$T/d3.out" ||
	{ cat "$T/d3.out"; mc_fail "a resume without the run's --ioc did not say so"; }
echo "ok: a resume that scans otherwise says so"
