#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t3110-exim-queue-outbreak - list, scan, find, delete and restore on a real Exim
# DESCRIPTION
#	The queue step of the outbreak runbook against a private Exim
#	(lib-exim.sh), with an unsplit spool (t3111: with a split spool,
#	T3110_SPOOL=-s).
#	The instance queues everything (queue_only, no queue runner)
#	until the test forces a queue run.
#
#	1. 50 messages over SMTP and 5 through exim -bm stay queued
#	   (exim -bpc); one of them, for alice and remote.test, is
#	   delivered to alice only (exim -M) and stays queued for
#	   remote.test.
#	2. queue status and list show them with their envelope; queue
#	   scan finds exactly the 12 infected ones; find attachment:,
#	   from:, sha256: exactly the expected ones, with their Exim ids.
#	3. queue delete virus removes exactly those; each is in the
#	   quarantine with its envelope (the partly delivered one with
#	   only its undelivered recipient) and both spool files; nothing
#	   bounces.
#	4. A forced queue run delivers every remaining message to its
#	   mailbox; quarantine restore of deleted messages delivers them
#	   to their original (undelivered) recipients with their
#	   original envelope sender.

set -u
. "$(dirname "$0")/lib-exim.sh"

mc_setup
ex_need
mc_need_testfiles

mc_eicar >"$T/eicar.com"
python3 - "$T" <<'PY'
import sys, zipfile
for i in (1, 2, 3):
    with zipfile.ZipFile("%s/report-%d.zip" % (sys.argv[1], i), "w") as z:
        z.writestr("report.txt", "quarterly figures %d\n" % i)
PY

# "id<TAB>subject" of the match events of $MC_OUT, sorted.
match_pairs() { mc_events "$MC_OUT" match queue_id subject | sort; }
match_subjects() { mc_events "$MC_OUT" match subject | sort; }
expected_pairs() {
	local s
	for s in "$@"; do
		awk -F'\t' -v s="$s" '$2 == s' "$T/id-subject"
	done | sort
}

outbreak() {
	local mode=$1 D=$EX_DOMAIN i box
	declare -A expect_box=([alice]=0 [bob]=0 [carol]=0)
	infected=()

	ex_start -q $mode
	mc_log "spool: ${mode:-unsplit}"

	# --- 1. mail arrives and stays queued ---
	for i in 1 2 3 4; do
		ex_smtp_bg "mallory@sender.test" "alice@$D" "eicar-$i" --attach "@$T/eicar.com"
		infected+=("eicar-$i")
	done
	ex_smtp_bg "mallory@sender.test" "alice@$D,carol@$D" "eicar-5" --attach "@$T/eicar.com"
	infected+=("eicar-5")
	for i in 1 2 3; do
		ex_smtp_bg "trudy@sender.test" "bob@$D" "clamexe-$i" --attach "@$MC_TESTFILES/clam.exe"
		infected+=("clamexe-$i")
	done
	for i in 1 2; do
		ex_smtp_bg "trudy@sender.test" "carol@$D" "clamzip-$i" --attach "@$MC_TESTFILES/clam.zip"
		infected+=("clamzip-$i")
	done
	for i in 1 2 3; do
		ex_smtp_bg "ceo@sender.test" "bob@$D" "zip-clean-$i" --attach "@$T/report-$i.zip"
		expect_box[bob]=$((expect_box[bob] + 1))
	done
	local boxes=(alice bob carol)
	for i in $(seq 1 36); do
		box=${boxes[$((i % 3))]}
		ex_smtp_bg "friend$i@sender.test" "$box@$D" "clean-$i" --body "nothing to see $i"
		expect_box[$box]=$((expect_box[$box] + 1))
	done
	ex_smtp_wait
	mc_msg_eicar -f "Local Virus <lv@sender.test>" -t "carol@$D" -s "local-eicar" |
		ex_sendmail lv@sender.test "carol@$D"
	infected+=("local-eicar")
	for i in 1 2 3 4; do
		mc_msg_plain -f "Local User <local$i@sender.test>" -t "alice@$D" -s "local-clean-$i" |
			ex_sendmail "local$i@sender.test" "alice@$D"
		expect_box[alice]=$((expect_box[alice] + 1))
	done
	# The 50th over SMTP: infected, for alice and a remote domain,
	# delivered to alice before the outbreak is noticed.
	ex_smtp "eve@sender.test" "alice@$D,someone@remote.test" "partly-eicar" \
		--attach "@$T/eicar.com"
	infected+=("partly-eicar")
	ex_wait_queue 55

	ex_queue_subjects | sort >"$T/id-subject"
	partly=$(awk -F'\t' '$2 == "partly-eicar" { print $1 }' "$T/id-subject")
	ex_exim -M "$partly" >/dev/null 2>&1
	ex_wait_mailbox alice 1
	mc_assert_eq 55 "$(ex_queue_count)" "messages queued"
	mc_assert_eq 1 "$(find "$EX_VMAIL" -type f | wc -l)" "messages delivered"

	# --- 2. status, list, scan, find ---
	mc_ex --json status
	mc_expect_rc 0 "queue status"
	mc_json "$MC_OUT" 'e = events[0]
assert e["mta"] == "exim" and e["running"] and e["messages"] == 55, e' ||
		{ mc_show; mc_fail "queue status"; }

	mc_ex --json list
	mc_expect_rc 0 "queue list"
	mc_assert_eq 55 "$(mc_events "$MC_OUT" message queue_id | wc -l)" "queue list: messages"
	mc_json "$MC_OUT" '
by_subject = {e["subject"]: e for e in events if e["event"] == "message"}
e = by_subject["eicar-5"]
assert e["kind"] == "exim" and e["sender"] == "mallory@sender.test", e
assert sorted(e["recipients"]) == ["alice@mailcure.test", "carol@mailcure.test"], e
assert e["arrival_time"] > 1600000000, e
e = by_subject["partly-eicar"]
assert e["recipients"] == ["someone@remote.test"], e
e = by_subject["local-clean-2"]
assert e["sender"] == "local2@sender.test" and e["recipients"] == ["alice@mailcure.test"], e
' || { mc_show; mc_fail "queue list: envelopes"; }

	mc_ex --json scan
	mc_expect_rc 1 "queue scan"
	mc_assert_eq "$(printf '%s\n' "${infected[@]}" | sort)" "$(match_subjects)" "queue scan: infected"
	mc_assert_eq "$(expected_pairs "${infected[@]}")" "$(match_pairs)" "queue scan: ids"
	mc_assert_eq 55 "$(mc_summary "$MC_OUT" scanned)" "queue scan: scanned"

	mc_ex --json find 'attachment:*.zip'
	mc_expect_rc 1 "queue find attachment:"
	mc_assert_eq "$(expected_pairs clamzip-1 clamzip-2 zip-clean-1 zip-clean-2 zip-clean-3)" \
		"$(match_pairs)" "queue find attachment:*.zip"
	mc_ex --json find 'from:ceo@sender.test'
	mc_assert_eq "$(expected_pairs zip-clean-1 zip-clean-2 zip-clean-3)" "$(match_pairs)" \
		"queue find from:"
	mc_ex --json find "sha256:$(sha256sum "$MC_TESTFILES/clam.exe" | cut -d' ' -f1)"
	mc_assert_eq "$(expected_pairs clamexe-1 clamexe-2 clamexe-3)" "$(match_pairs)" \
		"queue find sha256:"
	mc_assert_eq 55 "$(ex_queue_count)" "queue after find"


	# --- 3. delete ---
	mc_ex --json delete virus
	mc_expect_rc 1 "queue delete virus"
	mc_assert_eq "$(expected_pairs "${infected[@]}")" "$(match_pairs)" "queue delete: matched"
	mc_assert_eq 12 "$(mc_summary "$MC_OUT" acted)" "queue delete: acted"
	mc_assert_eq 0 "$(mc_summary "$MC_OUT" errors)" "queue delete: errors"
	run=$(mc_summary "$MC_OUT" run)
	mc_assert_eq 43 "$(ex_queue_count)" "messages left after delete"
	for id in $(expected_pairs "${infected[@]}" | cut -f1); do
		ex_exim -bp | grep -q "$id" && mc_fail "deleted message $id is still queued"
		[ -z "$(find "$EX_SPOOL" -name "$id*")" ] ||
			mc_fail "files of $id left: $(find "$EX_SPOOL" -name "$id*")"
	done

	mc_run --quarantine "$MC_Q" --json quarantine list --run "$run"
	mc_expect_rc 0 "quarantine list"
	mc_json "$MC_OUT" '
import hashlib, os
entries = [e for e in events if e["event"] == "entry"]
assert len(entries) == 12, len(entries)
want = dict(l.rstrip("\n").split("\t") for l in open(os.environ["T"] + "/id-subject"))
senders = {"eicar": "mallory@sender.test", "clamexe": "trudy@sender.test",
           "clamzip": "trudy@sender.test", "local": "lv@sender.test",
           "partly": "eve@sender.test"}
for e in entries:
    loc = e["loc"]
    assert loc["kind"] == "exim", e
    subject = want[loc["queue_id"]]
    assert e["subject"] == subject, (e, subject)
    assert e["envelope_sender"] == senders[subject.split("-")[0]], e
    if subject == "eicar-5":
        assert sorted(e["recipients"]) == ["alice@mailcure.test", "carol@mailcure.test"], e
    elif subject == "partly-eicar":
        assert e["recipients"] == ["someone@remote.test"], e
    else:
        assert len(e["recipients"]) == 1, e
    raw = open(os.path.join(os.environ["MC_Q"], "entries", e["id"], "message"), "rb").read()
    assert hashlib.sha256(raw).hexdigest() == e["sha256"], e
    qid = loc["queue_id"].encode()
    assert raw.startswith(qid + b"-H\n") and (b"\n" + qid + b"-D\n") in raw, raw[:40]
    print("%s\t%s" % (subject, e["id"]))
' >"$T/entries" || { mc_show; mc_fail "quarantine entries"; }

	# --- 4. deliver the rest, restore ---
	ex_exim -qff
	for box in alice bob carol; do
		# alice also got partly-eicar before the delete.
		[ "$box" = alice ] && expect_box[alice]=$((expect_box[alice] + 1))
		ex_wait_mailbox "$box" "${expect_box[$box]}" 60
	done
	ex_wait_queue 0 30
	mc_assert_eq 0 "$(ex_mailbox_count senders)" "bounces to senders"
	mc_assert_eq 0 "$(ex_mailbox_count catchall)" "notices"

	mc_run --quarantine "$MC_Q" quarantine restore \
		"$(awk -F'\t' '$1 == "eicar-5" { print $2 }' "$T/entries")" \
		"$(awk -F'\t' '$1 == "partly-eicar" { print $2 }' "$T/entries")"
	mc_expect_rc 0 "quarantine restore"
	ex_exim -qff
	ex_wait_mailbox carol $((expect_box[carol] + 1)) 30
	ex_wait_mailbox alice $((expect_box[alice] + 1)) 30
	f=$(grep -l '^Subject: eicar-5' "$EX_VMAIL"/carol/new/* | head -n 1)
	[ -n "$f" ] && grep -q '^Return-path: <mallory@sender.test>' "$f" ||
		mc_fail "restored eicar-5: not delivered with its envelope sender"
	# partly-eicar goes back to remote.test only, not to alice again.
	mc_assert_eq 1 "$(grep -l '^Subject: partly-eicar' "$EX_VMAIL"/alice/new/* | wc -l)" \
		"partly-eicar in alice's mailbox"
	ex_exim -bp >"$T/bp"
	[ "$(grep -c 'someone@remote.test' "$T/bp")" = 1 ] && [ "$(ex_queue_count)" = 1 ] ||
		{ cat "$T/bp"; mc_fail "restored partly-eicar is not queued for remote.test"; }
	mc_assert_eq 0 "$(ex_mailbox_count senders)" "bounces to senders after restore"
	ex_cleanup
}

# t3111 runs the same with a split spool (each within the time limit).
outbreak "${T3110_SPOOL:-}"
echo "ok: Exim queue outbreak, ${T3110_SPOOL:+split }spool"
