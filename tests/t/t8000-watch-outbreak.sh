#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t8000-watch-outbreak - a signature update catches an outbreak already delivered
# DESCRIPTION
#	50 copies of an outbreak that no signature matches yet sit in ten
#	users' Maildirs, with 5 more copies delivered before the window
#	(mtime 5 days back). watch runs; a signature that matches the
#	outbreak is dropped into the database directory and the reload is
#	run as the freshclam hook runs it. Within BOUND seconds every copy
#	inside the window is quarantined, the older copies are reported
#	only, and the re-check scanned each unique part once (the
#	outbreak's body and attachment once, not 50 times).
#
#	Mail delivered afterwards (a Maildir file, an mbox append: direct
#	deliveries, as a delivery agent writes them) is caught on arrival,
#	also when the inotify events of the first deliveries are lost (the
#	test hook MAILCURE_WATCH_TEST_OVERFLOW drops them as a full queue
#	would), and in a folder made while watch runs. report RUN reads
#	the run; a restored run is not
#	quarantined again.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
. "$MC_SRC/tests/t/lib-watch.sh"
mc_need python3 md5sum
mc_setup
BOUND=20

mc_watch_db
stores=()
for u in $(seq 1 10); do
	mc_maildir "$T/m/u$u/Maildir"
	stores+=(-s "$T/m/u$u/Maildir")
	for _ in 1 2 3 4 5; do mc_outbreak_msg | mc_maildir_put "$T/m/u$u/Maildir" new >/dev/null; done
	mc_msg_plain -s "lunch $u" | mc_maildir_put "$T/m/u$u/Maildir" cur S >/dev/null
done
for _ in 1 2 3 4 5; do
	p=$(mc_outbreak_msg | mc_maildir_put "$T/m/u1/Maildir" cur S)
	touch -d '5 days ago' "$p"
done
mc_msg_plain -s "before" | mc_mbox_put "$T/mbox/carol" >/dev/null
stores+=(-s "mbox:$T/mbox/carol")

MAILCURE_WATCH_TEST_OVERFLOW=1 mc_watch_start "${stores[@]}" --window 48h
grep -q '"event":"match"' "$T/watch.out" && mc_fail "a match before the signature exists"

start=$(date +%s.%N)
mc_watch_outbreak
all_gone() {
	local n=0 u
	for u in $(seq 1 10); do n=$((n + $(find "$T/m/u$u/Maildir/new" -type f | wc -l))); done
	[ "$n" = 0 ]
}
mc_wait_for "$BOUND" all_gone || { tail -n 20 "$T/watch.out" >&2; mc_fail "not every copy quarantined within $BOUND s"; }
took=$(echo "$(date +%s.%N) - $start" | bc)
mc_log "50 copies quarantined ${took}s after the reload (bound ${BOUND}s)"
mc_wait_for 10 grep -q '"event":"recheck".*"hits":5[0-9]' "$T/watch.out" || mc_fail "no re-check summary"
sum=$(grep '"event":"recheck".*"hits":5' "$T/watch.out" | tail -n 1)
mc_log "$sum"
python3 - "$sum" <<'PY'
import json, sys
s = json.loads(sys.argv[1])
assert s["quarantined"] == 50, s
assert s["old_reported"] == 5, s
# one scan per unique part: the outbreak's body and attachment (2),
# each user's own message (10) and carol's (1); 100 parts were the
# outbreak's alone
assert s["parts_scanned"] == 13, s
assert s["rechecked"] >= 50, s
PY
[ "$(mc_watch_quarantined)" = 50 ] || mc_fail "quarantine holds $(mc_watch_quarantined) entries, expected 50"
[ "$(find "$T/m/u1/Maildir/cur" -type f | wc -l)" = 6 ] || mc_fail "old copies were touched"
[ "$(grep -c '"action":"reported","why":"delivered before the window"' "$T/watch.out")" = 5 ] ||
	mc_fail "old copies not reported"

# Arrival: a Maildir delivery and an mbox append, after the change.
mc_outbreak_msg -s "late one" | mc_maildir_put "$T/m/u3/Maildir" new >/dev/null
mc_outbreak_msg -s "late two" | mc_mbox_put "$T/mbox/carol" >/dev/null
mc_wait_for "$BOUND" all_gone || mc_fail "the Maildir delivery was not caught"
mc_wait_for "$BOUND" sh -c "! grep -q 'late two' '$T/mbox/carol'" ||
	mc_fail "the mbox delivery was not caught"
grep -q 'before' "$T/mbox/carol" || mc_fail "the clean mbox message is gone"
# A folder made while watch runs is watched too.
mc_maildir "$T/m/u4/Maildir/.Archive"
sleep 1
mc_outbreak_msg -s "late three" | mc_maildir_put "$T/m/u4/Maildir/.Archive" new >/dev/null
mc_wait_for "$BOUND" sh -c "[ -z \"\$(ls '$T/m/u4/Maildir/.Archive/new')\" ]" ||
	mc_fail "a delivery into a new folder was not caught"
grep -q 'inotify events lost' "$T/watch.out" || mc_fail "the overflow hook did not act"
[ "$(mc_watch_quarantined)" = 53 ] || mc_fail "quarantine holds $(mc_watch_quarantined), expected 53"

# The run of the re-check is an ordinary run.
run=$(grep '"event":"log".*"run 2' "$T/watch.out" | head -n 1 | sed 's/.*run \([^:]*\):.*/\1/')
mc_run --state-dir "$T/state" --quarantine "$MC_Q" report "$run"
mc_expect_rc 0 "report $run"
grep -q 'quarantined' "$MC_OUT" || mc_fail "report does not show the run"
mc_run --quarantine "$MC_Q" quarantine restore --run "$run"
mc_expect_rc 0 "restore --run"
sleep 2
n=$(find "$T/m"/u*/Maildir/new -type f | wc -l)
[ "$n" = 50 ] || mc_fail "$n messages back after the restore, expected 50 (watch took them again?)"
mc_watch_stop
echo "ok"
