#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1550-report-merge - one report of many hosts' runs
# DESCRIPTION
#	Two "hosts" (state directories and quarantines of their own) clean
#	their stores; each one's "report --json RUN" names the host and
#	the commands that restore its items. report --merge of the two
#	files (and of a directory holding report.json) counts per host
#	and in sum what the hosts' own reports count, names mailboxes and
#	items with their host, and writes the page; text output lists
#	each host's restore command. A file that is not a host's report,
#	or is not there, is an error naming it (exit 2), and a hostile
#	host name is neutralised in text and HTML.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_setup

declare -A want=([a]=2 [b]=3)
for h in a b; do
	md=$T/$h/Maildir
	mc_maildir "$md"
	for i in $(seq 1 "${want[$h]}"); do
		mc_msg_eicar -s "$h infected $i" | mc_maildir_put "$md" new >/dev/null
	done
	mc_msg_plain -s "$h clean" | mc_maildir_put "$md" new >/dev/null
	mc_run -d "$MC_SIGS" --quarantine "$T/$h/q" --state-dir "$T/$h/state" \
		--progress never --run-id fleet-1 --json mailbox clean -s "maildir:$md"
	mc_expect_rc 1 "clean on $h"
	mc_run --quarantine "$T/$h/q" --state-dir "$T/$h/state" --json report fleet-1
	mc_expect_rc 0 "report on $h"
	# Hosts are told apart by the name in their report.
	"$MC_PYTHON" - "$MC_OUT" "$T/$h.json" "host-$h" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["host"], r
assert r["restore"].endswith("quarantine restore --run fleet-1"), r
assert all(i["restore"].endswith(i["quarantine_id"]) for i in r["items"]), r
r["host"] = sys.argv[3]
json.dump(r, open(sys.argv[2], "w"))
PY
done
mkdir "$T/fetched-b"
cp "$T/b.json" "$T/fetched-b/report.json"

mc_run --json report --merge "$T/a.json" "$T/fetched-b" --html "$T/fleet.html"
mc_expect_rc 0 "report --merge"
mc_json "$MC_OUT" '
e = events[0]
assert e["event"] == "fleet-report", e
assert e["quarantined"] == 5, e
hosts = {h["host"]: h for h in e["hosts"]}
assert sorted(hosts) == ["host-a", "host-b"], hosts
assert hosts["host-a"]["quarantined"] == 2 and hosts["host-b"]["quarantined"] == 3, hosts
assert all(h["restore"].endswith("--run fleet-1") for h in hosts.values()), hosts
assert sum(e["per_reason"].values()) == 5, e["per_reason"]
assert all(k.startswith("host-") for k in e["per_mailbox"]), e["per_mailbox"]
assert sorted(i["host"] for i in e["items"]) == ["host-a"] * 2 + ["host-b"] * 3, e["items"]
'
[ -s "$T/fleet.html" ] || mc_fail "no page"
grep -q "host-b" "$T/fleet.html" || mc_fail "the page does not name host-b"

mc_run report --merge "$T/a.json" "$T/b.json"
mc_expect_rc 0 "report --merge, text"
grep -q "Fleet report: 2 hosts" "$MC_OUT" || { mc_show; mc_fail "no fleet header"; }
grep -q "restore (on host-b): mailcure .*quarantine restore --run fleet-1" "$MC_OUT" ||
	{ mc_show; mc_fail "no restore command of host-b"; }

# Bad input: named, exit 2.
echo '{"event":"summary"}' >"$T/not-a-report.json"
mc_run report --merge "$T/a.json" "$T/not-a-report.json"
mc_expect_rc 2 "a file that is not a report"
grep -q "not-a-report.json: not the JSON of one host's report" "$MC_ERR" || { mc_show; mc_fail "the error does not name the file"; }
mc_run report --merge "$T/a.json" "$T/missing.json"
mc_expect_rc 2 "a missing file"
grep -q "missing.json" "$MC_ERR" || { mc_show; mc_fail "the error does not name the missing file"; }
mc_run report --merge
mc_expect_rc 2 "--merge without files"

# A host's strings are its own: neutralised on the terminal and in HTML.
"$MC_PYTHON" - "$T/a.json" "$T/evil.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
r["host"] = "evil\u001b]0;pwned\u0007<script>x</script>"
json.dump(r, open(sys.argv[2], "w"))
PY
mc_run report --merge "$T/evil.json" --html "$T/evil.html"
mc_expect_rc 0 "report --merge of a hostile host name"
if grep -q "<script>" "$T/evil.html" || LC_ALL=C grep -q $'\x1b' "$T/evil.html"; then
	mc_fail "the page carries the host's markup or escape"
fi
mc_run report --merge "$T/evil.json"
if LC_ALL=C grep -q $'\x1b' "$MC_OUT"; then mc_fail "text output carries the host's escape"; fi
echo "ok: merged report counts per host and in sum; bad input named; hostile names neutralised"
