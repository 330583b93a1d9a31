#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t3010-queue-outbreak - freeze, find, delete, thaw and restore on a real Postfix
# DESCRIPTION
#	The queue step of the outbreak runbook against a private Postfix
#	instance (lib-postfix.sh):
#
#	1. queue freeze: main.cf/master.cf saved; a second freeze is a
#	   no-op. 50 messages sent over SMTP and 5 through sendmail all
#	   stay queued (postqueue -j); none is delivered.
#	2. queue list shows every message with its envelope; queue scan
#	   finds exactly the 11 infected ones (EICAR, clam.exe, clam.zip
#	   attachments); find attachment:*.zip, from:..., sha256:...
#	   find exactly the expected ones, with the right queue ids.
#	3. queue delete virus removes exactly those; each is in the
#	   quarantine with its envelope; no bounce or notice appears.
#	4. queue thaw: main.cf and master.cf are byte-identical to
#	   before; every remaining message reaches its mailbox.
#	5. quarantine restore of a deleted message delivers it to its
#	   original recipients with its original envelope sender.

set -u
. "$(dirname "$0")/lib-postfix.sh"

mc_setup
pf_need
mc_need_testfiles
pf_start

D=$PF_DOMAIN
cp "$PF_CONF/main.cf" "$T/main.cf.before"
cp "$PF_CONF/master.cf" "$T/master.cf.before"
stat -c '%a %u %g' "$PF_CONF/main.cf" "$PF_CONF/master.cf" >"$T/modes.before"

# --- 1. freeze, then mail arrives ---

mc_pf freeze
mc_expect_rc 0 "queue freeze"
[ -f "$T/state/postfix-freeze/"*/master.cf ] || { mc_show; mc_fail "freeze saved nothing"; }
cmp -s "$T/master.cf.before" "$PF_CONF/master.cf" && mc_fail "freeze left master.cf unchanged"
cp "$PF_CONF/master.cf" "$T/master.cf.frozen"
mc_pf freeze
mc_expect_rc 0 "second queue freeze"
grep -q "nothing to do" "$MC_OUT" || { mc_show; mc_fail "second freeze was not a no-op"; }
mc_assert_file_eq "$T/master.cf.frozen" "$PF_CONF/master.cf" "master.cf after a second freeze"
mc_assert_file_eq "$T/main.cf.before" "$PF_CONF/main.cf" "main.cf after freeze"
mc_pf --json status
pf_check "$MC_OUT" 'assert events[0]["frozen"] and events[0]["running"], events[0]'

mc_eicar >"$T/eicar.com"
python3 - "$T" <<'EOF'
import sys, zipfile
for i in (1, 2, 3):
    with zipfile.ZipFile("%s/report-%d.zip" % (sys.argv[1], i), "w") as z:
        z.writestr("report.txt", "quarterly figures %d\n" % i)
EOF

declare -A expect_box=([alice]=0 [bob]=0 [carol]=0)
infected=()

for i in 1 2 3 4; do
	pf_smtp_bg "mallory@sender.test" "alice@$D" "eicar-$i" --attach "@$T/eicar.com"
	infected+=("eicar-$i")
done
# One infected message for two recipients.
pf_smtp_bg "mallory@sender.test" "alice@$D,carol@$D" "eicar-5" --attach "@$T/eicar.com"
infected+=("eicar-5")
for i in 1 2 3; do
	pf_smtp_bg "trudy@sender.test" "bob@$D" "clamexe-$i" \
		--attach "@$MC_TESTFILES/clam.exe"
	infected+=("clamexe-$i")
done
for i in 1 2; do
	pf_smtp_bg "trudy@sender.test" "carol@$D" "clamzip-$i" \
		--attach "@$MC_TESTFILES/clam.zip"
	infected+=("clamzip-$i")
done
for i in 1 2 3; do
	pf_smtp_bg "ceo@sender.test" "bob@$D" "zip-clean-$i" --attach "@$T/report-$i.zip"
	expect_box[bob]=$((expect_box[bob] + 1))
done
boxes=(alice bob carol)
for i in $(seq 1 37); do
	box=${boxes[$((i % 3))]}
	pf_smtp_bg "friend$i@sender.test" "$box@$D" "clean-$i" --body "nothing to see $i"
	expect_box[$box]=$((expect_box[$box] + 1))
done
pf_smtp_wait
mc_msg_eicar -f "Local Virus <lv@sender.test>" -t "carol@$D" -s "sendmail-eicar" |
	pf_sendmail lv@sender.test "carol@$D"
infected+=("sendmail-eicar")
for i in 1 2 3 4; do
	mc_msg_plain -f "Local User <local$i@sender.test>" -t "alice@$D" -s "sendmail-clean-$i" |
		pf_sendmail "local$i@sender.test" "alice@$D"
	expect_box[alice]=$((expect_box[alice] + 1))
done

pf_wait_queue 55
sleep 2
mc_assert_eq 55 "$(pf_queue_count)" "messages queued while frozen"
mc_assert_eq 0 "$(find "$PF_VMAIL" -type f | wc -l)" "messages delivered while frozen"
grep -q 'status=sent' "$PF_LOG" && mc_fail "a message was delivered while frozen"

# Independent truth: queue id -> Subject, from postcat.
pf_queue_subjects | sort >"$T/id-subject"
mc_assert_eq 55 "$(wc -l <"$T/id-subject")" "postcat subjects"

# Subjects of the match events of $MC_OUT, sorted.
match_subjects() {
	mc_events "$MC_OUT" match subject | sort
}
# "id<TAB>subject" of the match events, sorted.
match_pairs() {
	mc_events "$MC_OUT" match queue_id subject | sort
}
expected_pairs() {
	local s
	for s in "$@"; do
		awk -F'\t' -v s="$s" '$2 == s' "$T/id-subject"
	done | sort
}

# --- 2. list, scan, find ---

mc_pf --json list
mc_expect_rc 0 "queue list"
mc_assert_eq 55 "$(mc_events "$MC_OUT" message queue_id | wc -l)" "queue list: messages"
pf_check "$MC_OUT" '
msgs = [e for e in events if e["event"] == "message"]
by_subject = {e["subject"]: e for e in msgs}
e = by_subject["eicar-5"]
assert e["sender"] == "mallory@sender.test", e
assert sorted(e["recipients"]) == ["alice@mailcure.test", "carol@mailcure.test"], e
assert e["folder"] in ("incoming", "active", "deferred"), e
assert e["arrival_time"] > 1600000000, e
e = by_subject["sendmail-clean-2"]
assert e["sender"] == "local2@sender.test" and e["recipients"] == ["alice@mailcure.test"], e
'
mc_pf list
mc_expect_rc 0 "queue list (text)"
grep -q "<trudy@sender.test> -> <bob@$D>  Subject: clamexe-1" "$MC_OUT" ||
	{ mc_show; mc_fail "queue list: no line for clamexe-1"; }

mc_pf --json scan
mc_expect_rc 1 "queue scan"
mc_assert_eq "$(printf '%s\n' "${infected[@]}" | sort)" "$(match_subjects)" "queue scan: infected messages"
mc_assert_eq "$(expected_pairs "${infected[@]}")" "$(match_pairs)" "queue scan: queue ids"
pf_check "$MC_OUT" '
for e in events:
    if e["event"] == "match":
        assert e["kind"] == "postfix" and e["sender"] and e["recipients"], e
        assert e["reasons"][0]["kind"] == "virus", e
'
mc_assert_eq 0 "$(mc_summary "$MC_OUT" errors)" "queue scan: errors"
mc_assert_eq 55 "$(mc_summary "$MC_OUT" scanned)" "queue scan: scanned"

mc_pf --json find 'attachment:*.zip'
mc_expect_rc 1 "queue find attachment:*.zip"
mc_assert_eq "$(printf '%s\n' clamzip-1 clamzip-2 zip-clean-1 zip-clean-2 zip-clean-3 | sort)" \
	"$(match_subjects)" "queue find attachment:*.zip"
mc_assert_eq "$(expected_pairs clamzip-1 clamzip-2 zip-clean-1 zip-clean-2 zip-clean-3)" \
	"$(match_pairs)" "queue find attachment:*.zip: queue ids"

mc_pf --json find 'from:ceo@sender.test'
mc_expect_rc 1 "queue find from:"
mc_assert_eq "$(printf '%s\n' zip-clean-1 zip-clean-2 zip-clean-3)" "$(match_subjects)" \
	"queue find from:ceo@sender.test"

sha=$(sha256sum "$MC_TESTFILES/clam.exe" | cut -d' ' -f1)
mc_pf --json find "sha256:$sha"
mc_expect_rc 1 "queue find sha256:"
mc_assert_eq "$(printf '%s\n' clamexe-1 clamexe-2 clamexe-3)" "$(match_subjects)" \
	"queue find sha256:(clam.exe)"

mc_pf --json find 'subject:sendmail- and not virus'
mc_expect_rc 1 "queue find subject: and not virus"
mc_assert_eq "$(printf '%s\n' sendmail-clean-1 sendmail-clean-2 sendmail-clean-3 sendmail-clean-4)" \
	"$(match_subjects)" "queue find subject:sendmail- and not virus"

mc_pf find 'subject:no-such-subject'
mc_expect_rc 0 "queue find without a match"

# Nothing of the above changed the queue.
mc_assert_eq 55 "$(pf_queue_count)" "queue after find"

# --- 3. delete ---

mc_pf --json delete virus
mc_expect_rc 1 "queue delete virus"
mc_assert_eq "$(printf '%s\n' "${infected[@]}" | sort)" "$(match_subjects)" "queue delete: matched"
mc_assert_eq 11 "$(mc_summary "$MC_OUT" acted)" "queue delete: acted"
mc_assert_eq 0 "$(mc_summary "$MC_OUT" errors)" "queue delete: errors"
mc_events "$MC_OUT" match action | sort -u >"$T/actions"
mc_assert_eq quarantined "$(cat "$T/actions")" "queue delete: actions"
run=$(mc_summary "$MC_OUT" run)
deleted_pairs=$(match_pairs)

mc_assert_eq 44 "$(pf_queue_count)" "messages left after delete"
pf_queue_json | python3 -c '
import json, sys
for line in sys.stdin:
    if line.strip():
        print(json.loads(line)["queue_id"])' | sort >"$T/left-ids"
for id in $(printf '%s\n' "$deleted_pairs" | cut -f1); do
	grep -qx "$id" "$T/left-ids" && mc_fail "deleted message $id is still queued"
done

# Each deleted message is in the quarantine, with its envelope.
mc_run --quarantine "$MC_Q" --json quarantine list --run "$run"
mc_expect_rc 0 "quarantine list"
pf_check "$MC_OUT" '
import hashlib, os
entries = [e for e in events if e["event"] == "entry"]
assert len(entries) == 11, len(entries)
want = {}
for line in open(os.environ["T"] + "/id-subject"):
    qid, subject = line.rstrip("\n").split("\t")
    want[qid] = subject
senders = {"eicar": "mallory@sender.test", "clamexe": "trudy@sender.test",
           "clamzip": "trudy@sender.test", "sendmail": "lv@sender.test"}
for e in entries:
    loc = e["loc"]
    assert loc["kind"] == "postfix", e
    subject = want[loc["queue_id"]]
    assert e["subject"] == subject, (e, subject)
    assert e["envelope_sender"] == senders[subject.split("-")[0]], e
    assert e["arrival_time"] > 1600000000, e
    if subject == "eicar-5":
        assert sorted(e["recipients"]) == ["alice@mailcure.test", "carol@mailcure.test"], e
    else:
        assert len(e["recipients"]) == 1, e
    raw = open(os.path.join(os.environ["MC_Q"], "entries", e["id"], "message"), "rb").read()
    assert hashlib.sha256(raw).hexdigest() == e["sha256"], e
    assert raw[:1] == b"C", "not a queue file: %r" % raw[:20]
'
eicar5=$(mc_json "$MC_OUT" '
for e in events:
    if e.get("subject") == "eicar-5":
        print(e["id"])')
[ -n "$eicar5" ] || mc_fail "no quarantine entry for eicar-5"

# No bounce, no notice: nothing new was queued.
sleep 1
mc_assert_eq 44 "$(pf_queue_count)" "queue after delete (a bounce would add one)"

# --- 4. thaw ---

mc_pf thaw
mc_expect_rc 0 "queue thaw"
mc_assert_file_eq "$T/main.cf.before" "$PF_CONF/main.cf" "main.cf after thaw"
mc_assert_file_eq "$T/master.cf.before" "$PF_CONF/master.cf" "master.cf after thaw"
mc_assert_eq "$(cat "$T/modes.before")" \
	"$(stat -c '%a %u %g' "$PF_CONF/main.cf" "$PF_CONF/master.cf")" "owner and mode after thaw"
[ -z "$(ls -A "$T/state/postfix-freeze" 2>/dev/null)" ] ||
	mc_fail "thaw left its state behind: $(ls -A "$T/state/postfix-freeze")"

for box in alice bob carol; do
	pf_wait_mailbox "$box" "${expect_box[$box]}" 60
done
pf_wait_queue 0 30
mc_pf thaw
mc_expect_rc 0 "second thaw"
grep -q "nothing to do" "$MC_OUT" || { mc_show; mc_fail "second thaw was not a no-op"; }

sleep 1
mc_assert_eq 0 "$(pf_mailbox_count senders)" "bounces to the (forged) senders"
mc_assert_eq 0 "$(pf_mailbox_count catchall)" "notices to postmaster"
if grep -E 'status=bounced|sender non-delivery notification|postmaster notification' "$PF_LOG"; then
	mc_fail "a bounce or notice was generated"
fi
# Nothing infected was delivered.
if grep -rlE 'Subject: (eicar|clamexe|clamzip|sendmail-eicar)' "$PF_VMAIL" >/dev/null; then
	mc_fail "an infected message was delivered"
fi

# --- 5. restore ---

before_alice=$(pf_mailbox_count alice)
before_carol=$(pf_mailbox_count carol)
mc_run --quarantine "$MC_Q" quarantine restore "$eicar5"
mc_expect_rc 0 "quarantine restore"
pf_wait_mailbox alice $((before_alice + 1)) 30
pf_wait_mailbox carol $((before_carol + 1)) 30
for box in alice carol; do
	f=$(grep -rl '^Subject: eicar-5' "$PF_VMAIL/$box") ||
		mc_fail "restored message not in $box's mailbox"
	grep -q '^Return-Path: <mallory@sender.test>' "$f" ||
		{ head -n 20 "$f"; mc_fail "restored message lost its envelope sender"; }
	grep -q "^Delivered-To: $box@$D" "$f" || { head -n 20 "$f"; mc_fail "delivered to whom?"; }
done
mc_run --quarantine "$MC_Q" quarantine restore "$eicar5"
mc_expect_rc 2 "second restore"
sleep 1
mc_assert_eq 0 "$(pf_mailbox_count senders)" "bounces after restore"
echo "ok"
