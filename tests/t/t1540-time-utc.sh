#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1540-time-utc - every time shown is UTC, whatever the time zone
# DESCRIPTION
#	With TZ far from UTC (Asia/Kathmandu, +05:45, and a zone that
#	does not exist, which the C library takes as UTC), the report's
#	timeline in text and HTML and quarantine list show their times as
#	"YYYY-MM-DD HH:MM:SS UTC", the same in both zones and equal to
#	the seconds since 1970 that the report's --json gives. Queue
#	status and list use the same function (TIME in mailcure(1)).
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_need python3
mc_setup

md=$T/home/alice/Maildir
mc_maildir "$md"
mc_msg_eicar -s "infected" | mc_maildir_put "$md" new >/dev/null
mc_msg_plain -s "clean" | mc_maildir_put "$md" new >/dev/null
mkdir -p "$T/files"
st=$T/state
mc_run -d "$MC_SIGS" --quarantine "$MC_Q" --state-dir "$st" --progress never -j 1 \
	respond --skip isolate --skip reconnect --skip queue-freeze --skip queue-delete \
	--skip queue-thaw -s "$T/home" --host-path "$T/files" --yes
[ "$MC_RC" = 1 ] || mc_expect_rc 0 "respond"
run=$(ls "$st/runs")
[ -n "$run" ] || { mc_show; mc_fail "respond left no run"; }

report() {	# report ZONE ARGS...: the report of the run, in time zone ZONE
	local zone=$1
	shift
	TZ=$zone mc_run --quarantine "$MC_Q" --state-dir "$st" report "$run" "$@"
	mc_expect_rc 0 "report in $zone"
}

report UTC0 --json
cp "$MC_OUT" "$T/report.json"
want=$("$MC_PYTHON" - "$T/report.json" <<'PY'
import json, sys, time
r = json.loads(open(sys.argv[1]).readline())
assert r["timeline"], r
for s in r["timeline"]:
    print(time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(s["time"])))
PY
)
for zone in Asia/Kathmandu Nowhere/Atlantis; do
	report "$zone"
	got=$(sed -n '/^Timeline:/,/^$/s/^  \([0-9-]* [0-9:]* UTC\)  .*/\1/p' "$MC_OUT")
	[ "$got" = "$want" ] || { mc_show; mc_fail "report timeline in $zone: '$got', want '$want'"; }
	html=$T/report-${zone//\//-}.html
	report "$zone" --html "$html"
	while read -r line; do
		grep -qF "<td>$line</td>" "$html" ||
			mc_fail "report --html in $zone: no time '$line'"
	done <<<"$want"
	TZ=$zone mc_run --quarantine "$MC_Q" quarantine list
	mc_expect_rc 0 "quarantine list in $zone"
	grep -Eq '[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} UTC' "$MC_OUT" ||
		{ mc_show; mc_fail "quarantine list in $zone: no UTC time"; }
done
echo "ok: times are UTC in every zone"
