#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t3040-queue-delete-unfrozen - delete from a running, unfrozen queue; release; re-queue
# DESCRIPTION
#	Mail for remote.test waits in the deferred queue (its next hop
#	refuses connections) while Postfix runs normally. queue delete
#	puts the infected message on hold before it checks and removes
#	it, leaves the others alone, and bounces nothing. queue release
#	takes a held message back into the queue. The deleted message,
#	restored, is queued again with its original envelope sender and
#	both original recipients.

set -u
. "$(dirname "$0")/lib-postfix.sh"

mc_setup
pf_need
pf_start
D=$PF_DOMAIN

mc_eicar >"$T/eicar.com"
pf_smtp "mallory@sender.test" "someone@remote.test,other@remote.test" "remote-eicar" \
	--attach "@$T/eicar.com"
pf_smtp "friend@sender.test" "someone@remote.test" "remote-clean" --body "hello"
pf_smtp "friend@sender.test" "alice@$D" "local-clean" --body "hello"
pf_wait_mailbox alice 1

# Wait until both remote messages are deferred.
for _ in $(seq 1 100); do
	n=$(pf_queue_json | grep -c '"queue_name": "deferred"')
	[ "$n" = 2 ] && break
	sleep 0.1
done
[ "$n" = 2 ] || { pf_queue_json; mc_fail "remote messages not deferred"; }
pf_queue_subjects >"$T/id-subject"
eicar=$(pf_id_of "$T/id-subject" remote-eicar)
clean=$(pf_id_of "$T/id-subject" remote-clean)

mc_pf --json status
pf_check "$MC_OUT" 'assert not events[0]["frozen"], events[0]'

mc_pf --json delete virus
mc_expect_rc 1 "queue delete (not frozen)"
mc_assert_eq "$eicar" "$(mc_events "$MC_OUT" match queue_id)" "deleted"
mc_assert_eq 1 "$(mc_summary "$MC_OUT" acted)" "acted"
mc_assert_eq "$clean" "$(pf_queue_json | python3 -c '
import json, sys
for l in sys.stdin:
    if l.strip():
        print(json.loads(l)["queue_id"])')" "what is left in the queue"
grep -q "$eicar: placed on hold" "$PF_LOG" || { tail "$PF_LOG"; mc_fail "not put on hold first"; }
grep -q "$eicar: removed" "$PF_LOG" || { tail "$PF_LOG"; mc_fail "not removed by postsuper"; }
pf_check "$MC_OUT" '
e = [e for e in events if e["event"] == "match"][0]
assert e["folder"] == "deferred", e
assert e["sender"] == "mallory@sender.test", e
assert sorted(e["recipients"]) == ["other@remote.test", "someone@remote.test"], e
'
qid=$(mc_events "$MC_OUT" match quarantine_id)

# release: a message on hold goes back to the queue.
postsuper -c "$PF_CONF" -h "$clean" >/dev/null 2>&1
[ -n "$(find "$PF_SPOOL/hold" -name "$clean")" ] || mc_fail "postsuper -h"
mc_pf release "$clean"
mc_expect_rc 0 "queue release"
grep -q "^$clean: released" "$MC_OUT" || { mc_show; mc_fail "release: output"; }
[ -z "$(find "$PF_SPOOL/hold" -name "$clean")" ] || mc_fail "still on hold after release"
pf_wait_queue 1

# Restore: queued again with the original envelope.
mc_run --quarantine "$MC_Q" quarantine restore "$qid"
mc_expect_rc 0 "quarantine restore"
pf_wait_queue 2
pf_queue_json | python3 -c '
import json, sys
msgs = [json.loads(l) for l in sys.stdin if l.strip()]
back = [m for m in msgs if m["sender"] == "mallory@sender.test"]
assert len(back) == 1, msgs
rcpts = sorted(r["address"] for r in back[0]["recipients"])
assert rcpts == ["other@remote.test", "someone@remote.test"], back
' || mc_fail "restored message: wrong envelope"

sleep 1
mc_assert_eq 0 "$(pf_mailbox_count senders)" "bounces"
grep -E 'status=bounced|sender non-delivery' "$PF_LOG" && mc_fail "a bounce was generated"
echo ok
