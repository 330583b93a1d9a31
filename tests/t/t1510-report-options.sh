#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t1510-report-options - report takes its options before or after RUN
# DESCRIPTION
#	"report RUN --html FILE", the order the manual and respond's own
#	hint print, writes the page as "report --html FILE RUN" does; the
#	two pages are the same, and --json may stand anywhere too. A
#	second RUN or an unknown option is still a usage error (exit 2).
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
mc_setup

md=$T/Maildir
mc_maildir "$md"
mc_msg_eicar -s "report me" | mc_maildir_put "$md" new >/dev/null
mc_msg_plain -s "clean" | mc_maildir_put "$md" new >/dev/null
mc_cure --json mailbox clean -s "maildir:$md"
mc_expect_rc 1 "mailbox clean"
run=$(mc_summary "$MC_OUT" run)
[ -n "$run" ] || mc_fail "no run id in the summary"

mc_cure report "$run" --html "$T/after.html"
mc_expect_rc 0 "report RUN --html FILE"
grep -q "Report written to $T/after.html" "$MC_OUT" || { mc_show; mc_fail "no 'Report written' line"; }
[ -s "$T/after.html" ] || mc_fail "report RUN --html FILE wrote no page"

mc_cure report --html "$T/before.html" "$run"
mc_expect_rc 0 "report --html FILE RUN"
# The pages differ in nothing but what changes from one second to
# the next (none here: the same run, read twice).
mc_assert_file_eq "$T/before.html" "$T/after.html" "the page, by option order"

mc_cure report "$run" --json
mc_expect_rc 0 "report RUN --json"
mc_json "$MC_OUT" 'assert events[0]["run"] == "'"$run"'" and events[0]["quarantined"] == 1, events'

mc_cure report "$run" "$run"
mc_expect_rc 2 "report RUN RUN"
mc_cure report "$run" --bogus
mc_expect_rc 2 "report RUN --bogus"
echo "ok: report options before and after RUN"
