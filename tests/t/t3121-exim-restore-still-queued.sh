#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t3121-exim-restore-still-queued - no restore of a message Exim still queues
# DESCRIPTION
#	An infected message waits in the queue of a private Exim
#	(lib-exim.sh, queue only). Its spool files are copied aside,
#	"queue delete virus" quarantines and removes it, and the copies
#	are put back: the state a delete killed between the quarantine
#	and the unlink of -H leaves. Then:
#	- "quarantine restore" of it is refused, with the reason, and
#	  the queue holds the message exactly once;
#	- once the spool files are gone, its restore queues it again,
#	  once.

set -u
. "$(dirname "$0")/lib-exim.sh"

mc_setup
ex_need
ex_start -q
mc_eicar >"$T/eicar.com"
ex_smtp "m@sender.test" "alice@$EX_DOMAIN" "eicar-1" --attach "@$T/eicar.com"
ex_wait_queue 1
id=$(ex_queue_ids)
dir=$EX_SPOOL/input
mkdir "$T/aside"
cp -p "$dir/$id-H" "$dir/$id-D" "$T/aside/"

mc_ex --json --run-id killed delete virus
mc_expect_rc 1 "queue delete"
ex_wait_queue 0
cp -p "$T/aside/$id-H" "$T/aside/$id-D" "$dir/"
ex_wait_queue 1
mc_cure --json quarantine list --run killed
qid=$(mc_events "$MC_OUT" entry id)
[ -n "$qid" ] || { mc_show; mc_fail "no quarantine entry for the delete"; }

mc_log "restore of a message still queued is refused"
mc_cure quarantine restore "$qid"
mc_expect_rc 2 "restore of a message still queued"
grep -q "still queued" "$MC_ERR" || { mc_show; mc_fail "no reason given"; }
mc_assert_eq 1 "$(ex_queue_count)" "queued copies after the refused restore"

mc_log "once it is gone, its restore queues it once"
rm "$dir/$id-H" "$dir/$id-D"
mc_cure quarantine restore "$qid"
mc_expect_rc 0 "restore of a message no longer queued"
ex_wait_queue 1
mc_assert_eq "eicar-1" "$(ex_queue_subjects | cut -f2)" "the restored message"
echo "ok"
