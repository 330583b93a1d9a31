#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t8010-watch-caps - a detection change acts within its caps until approved
# DESCRIPTION
#	A policy allows 4 actions per mailbox and 6 in total per detection
#	change. Two mailboxes hold 5 copies each of an outbreak; the
#	signature arrives: watch quarantines at most 4 in a mailbox and 6
#	in all, reports the others as held and names the change to
#	approve. The caps hold across a restart. "watch --approve CHANGE"
#	lets the change go on: every copy is quarantined. An approval of
#	another change, and a policy file that does not parse, are
#	refused.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
. "$MC_SRC/tests/t/lib-watch.sh"
mc_need python3 md5sum
mc_setup

mc_watch_db
for u in 1 2; do
	for _ in 1 2 3 4 5; do mc_outbreak_msg | mc_maildir_put "$T/m/u$u/Maildir" new >/dev/null; done
done
printf '# caps of the test\nmax_per_mailbox = 4\nmax_total = 6\n' >"$T/policy"
left() { find "$T/m/u$1/Maildir/new" -type f | wc -l; }

mc_watch_start -s "$T/m/u1/Maildir" -s "$T/m/u2/Maildir" --policy "$T/policy"
mc_watch_outbreak
mc_wait_for 20 grep -q '"event":"recheck".*"held":4' "$T/watch.out" ||
	{ tail -n 5 "$T/watch.out" >&2; mc_fail "the caps did not hold 4"; }
[ "$(mc_watch_quarantined)" = 6 ] || mc_fail "$(mc_watch_quarantined) quarantined, expected 6"
[ "$(left 1)" = 1 ] || mc_fail "mailbox 1 holds $(left 1), expected 1 (cap 4 per mailbox)"
[ "$(left 2)" = 3 ] || mc_fail "mailbox 2 holds $(left 2), expected 3 (total cap 6)"
change=$(grep -o 'watch --approve [0-9TZa-f-]*' "$T/watch.out" | head -n 1 | cut -d' ' -f3)
[ -n "$change" ] || mc_fail "the held messages do not name the change to approve"

# The caps hold across a restart.
mc_watch_stop
mc_watch_start -s "$T/m/u1/Maildir" -s "$T/m/u2/Maildir" --policy "$T/policy"
sleep 1
[ "$(mc_watch_quarantined)" = 6 ] || mc_fail "a restart acted past the caps"

mc_run --state-dir "$T/state" watch --approve 20000101T000000Z-00000000
mc_expect_rc 0 "approve of another change (kept, not acted on)"
sleep 1
[ "$(mc_watch_quarantined)" = 6 ] || mc_fail "an approval of another change acted"

mc_run --state-dir "$T/state" watch --approve "$change"
mc_expect_rc 0 "approve"
mc_wait_for 20 sh -c "[ \$(find '$T'/m/u*/Maildir/new -type f | wc -l) = 0 ]" ||
	mc_fail "approved, yet copies are left"
[ "$(mc_watch_quarantined)" = 10 ] || mc_fail "$(mc_watch_quarantined) quarantined, expected 10"
mc_watch_stop

mc_run --state-dir "$T/state" watch --reload
mc_expect_rc 2 "reload without a running watch"
grep -q 'no watch runs' "$MC_ERR" || mc_fail "reload without watch: no clear error"
echo 'max_per_mailbox = many' >"$T/bad-policy"
mc_run -d "$T/db" --quarantine "$MC_Q" --state-dir "$T/state" watch -s "$T/m/u1/Maildir" --policy "$T/bad-policy"
mc_expect_rc 2 "bad policy"
grep -q 'bad-policy:1' "$MC_ERR" || mc_fail "bad policy: no FILE:LINE in the error"
echo "ok"
