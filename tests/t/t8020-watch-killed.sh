#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t8020-watch-killed - kill -9 of watch at any point: nothing lost, nothing twice
# DESCRIPTION
#	TRIALS times: three mailboxes receive copies of an outbreak and
#	clean mail, watch runs, the outbreak's signature arrives and the
#	reload is sent, and watch is killed with SIGKILL after a random
#	delay (while it loads, re-checks, quarantines, or is idle). Then
#	watch is started again and left to finish. Every message is then
#	either in its mailbox (clean mail) or in the quarantine (every
#	copy), exactly once: the set of messages (by SHA-256) in the
#	mailboxes and the quarantine together equals the set delivered,
#	with no entry twice.
set -euo pipefail
. "$MC_SRC/tests/t/lib.sh"
. "$MC_SRC/tests/t/lib-watch.sh"
mc_need python3 md5sum
mc_setup
TRIALS=${MC_WATCH_TRIALS:-20}
PER=10		# copies per mailbox
ALL=$((3 * PER))

# every message's SHA-256, sorted: in the mailboxes, in the quarantine
delivered_set() { find "$1" -type f -path '*/Maildir/*' ! -path '*/Maildir/tmp/*' -exec sha256sum {} + | cut -d' ' -f1 | sort; }
quarantine_set() { find "$MC_Q/entries" -name message -exec sha256sum {} + 2>/dev/null | cut -d' ' -f1 | sort; }

# The mailboxes, made once and copied for each trial.
mc_watch_db
stores=()
for u in 1 2 3; do
	mc_maildir "$T/m/u$u/Maildir"
	stores+=(-s "$T/m/u$u/Maildir")
	for _ in $(seq 1 $PER); do mc_outbreak_msg | mc_maildir_put "$T/m/u$u/Maildir" new >/dev/null; done
	mc_msg_plain -s "clean $u" | mc_maildir_put "$T/m/u$u/Maildir" cur S >/dev/null
done
mv "$T/m" "$T/pristine"
killed_early=0
for trial in $(seq 1 "$TRIALS"); do
	rm -rf "$T/m" "$T/state" "$MC_Q" "$T/watch.out" "$T/watch.err" "$T/db/outbreak.hdb"
	cp -a "$T/pristine" "$T/m"
	delivered_set "$T/m" >"$T/before"
	mc_watch_start "${stores[@]}"
	delay=$(python3 -c 'import random; print("%.3f" % random.uniform(0, 1.5))')
	mc_watch_outbreak
	sleep "$delay"
	kill -9 "$MC_WATCH_PID"
	wait "$MC_WATCH_PID" 2>/dev/null || true
	done_before=$(mc_watch_quarantined)
	[ "$done_before" -lt "$ALL" ] && killed_early=$((killed_early + 1))
	mc_watch_start "${stores[@]}"
	all_gone() { [ "$(find "$T"/m/u*/Maildir/new -type f | wc -l)" = 0 ]; }
	mc_wait_for 30 all_gone || { tail -n 20 "$T/watch.out" >&2; mc_fail "trial $trial: copies left after the restart"; }
	mc_watch_stop
	{ delivered_set "$T/m"; quarantine_set; } | sort >"$T/after"
	if ! cmp -s "$T/before" "$T/after"; then
		diff "$T/before" "$T/after" >&2 || true
		mc_fail "trial $trial (killed after ${delay}s, $done_before quarantined): messages lost or doubled"
	fi
	[ "$(mc_watch_quarantined)" = "$ALL" ] || mc_fail "trial $trial: $(mc_watch_quarantined) entries, expected $ALL"
	mc_log "trial $trial: killed after ${delay}s with $done_before of $ALL quarantined: nothing lost, nothing twice"
done
mc_log "$TRIALS trials, $killed_early killed before the re-check ended"
echo "ok"
