#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t3130-exim-queue-freeze - freeze, release and thaw of a real Exim's queue
# DESCRIPTION
#	A private Exim (lib-exim.sh) with its daemon running a queue
#	runner every 2 seconds, with an unsplit spool (t3131: split,
#	T3130_SPOOL=-s). Its configuration already defines queue_only
#	and, over two lines, hold_domains: the freeze must comment both
#	out.
#
#	1. queue freeze: the configuration holds queue_only and
#	   hold_domains = * (exim -bP), the old definitions are
#	   commented out; 50 messages over SMTP and 5 through exim -bm
#	   are accepted and stay queued through several queue runs.
#	2. A second freeze changes nothing (the file is the same);
#	   status says frozen.
#	3. queue release of one message delivers it now, with its
#	   original envelope sender, also when another process holds
#	   Exim's lock on it at that moment (as a queue runner does for
#	   an instant: Exim -M then skips the message silently); one that
#	   is not queued is an error.
#	4. queue thaw: the configuration is byte-identical to the one
#	   before the freeze (cmp, owner and mode), and every message is
#	   delivered to its mailbox; nothing bounces.
#	5. With the daemon stopped, freeze works; the daemon started
#	   afterwards accepts mail and delivers none of it until thaw.
#	6. An included file that sets queue_only: freeze refuses, names
#	   the file, and changes nothing.

set -u
. "$(dirname "$0")/lib-exim.sh"

mc_setup
ex_need

file_state() { stat -c '%u:%g %a' "$1"; }

freeze_test() {
	local mode=$1 D=$EX_DOMAIN i box id
	declare -A expect_box=([alice]=0 [bob]=0 [carol]=0)

	ex_start -n $mode
	mc_log "spool: ${mode:-unsplit}"
	# A definition continued over two lines, to be commented out whole.
	printf 'hold_domains = nothing.test : \\\n   other.test\n' >"$T/extra"
	sed -i "/^queue_only/r $T/extra" "$EX_CONF"
	chmod 640 "$EX_CONF"
	cp -p "$EX_CONF" "$T/conf.orig"
	ex_daemon

	# --- 1. freeze; mail is accepted and stays queued ---
	mc_ex freeze
	mc_expect_rc 0 "queue freeze"
	ex_exim -bP queue_only hold_domains >"$T/bP"
	mc_assert_eq "$(printf 'queue_only\nhold_domains = *')" "$(cat "$T/bP")" "exim -bP after freeze"
	grep -q '^#queue_only = false$' "$EX_CONF" &&
		grep -q '^#hold_domains = nothing.test : \\$' "$EX_CONF" &&
		grep -q '^#   other.test$' "$EX_CONF" ||
		{ cat "$EX_CONF"; mc_fail "the old definitions are not commented out"; }
	cp -p "$EX_CONF" "$T/conf.frozen"

	local boxes=(alice bob carol)
	for i in $(seq 1 49); do
		box=${boxes[$((i % 3))]}
		ex_smtp_bg "friend$i@sender.test" "$box@$D" "smtp-$i" --body "held $i"
		expect_box[$box]=$((expect_box[$box] + 1))
	done
	ex_smtp_wait
	ex_smtp "origin@sender.test" "carol@$D" "release-me" --body "released"
	expect_box[carol]=$((expect_box[carol] + 1))
	for i in 1 2 3 4 5; do
		mc_msg_plain -f "Local <local$i@sender.test>" -t "alice@$D" -s "local-$i" |
			ex_sendmail "local$i@sender.test" "alice@$D"
		expect_box[alice]=$((expect_box[alice] + 1))
	done
	ex_wait_queue 55
	# Two queue runs of the daemon (every 2 s) and a forced-free one.
	sleep 5
	ex_exim -q >/dev/null 2>&1
	mc_assert_eq 55 "$(ex_queue_count)" "messages queued while frozen"
	mc_assert_eq 0 "$(find "$EX_VMAIL" -type f | wc -l)" "messages delivered while frozen"

	# --- 2. a second freeze changes nothing ---
	mc_ex freeze
	mc_expect_rc 0 "second queue freeze"
	grep -q 'nothing to do' "$MC_OUT" || { mc_show; mc_fail "second freeze: not a no-op"; }
	mc_assert_file_eq "$T/conf.frozen" "$EX_CONF" "configuration after a second freeze"
	mc_ex --json status
	mc_expect_rc 0 "queue status"
	mc_json "$MC_OUT" 'e = events[0]
assert e["mta"] == "exim" and e["frozen"] and e["frozen_at"] > 0 and e["messages"] == 55, e' ||
		{ mc_show; mc_fail "queue status while frozen"; }

	# --- 3. release ---
	id=$(ex_queue_subjects | awk -F'\t' '$2 == "release-me" { print $1 }')
	[ -n "$id" ] || mc_fail "release-me is not queued"
	# Hold Exim's lock (the id line of -D) for 2 seconds, as a queue
	# runner holds it while it looks at the message.
	python3 - "$EX_SPOOL" "$id" "$T/locked" <<'PY' &
import fcntl, glob, os, sys, time
spool, mid, flag = sys.argv[1:]
path = (glob.glob(f"{spool}/input/{mid}-D") + glob.glob(f"{spool}/input/?/{mid}-D"))[0]
fd = os.open(path, os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, len(mid) + 3, 0)
open(flag, "w").close()
time.sleep(2)
PY
	local locker=$!
	for i in $(seq 1 100); do [ -e "$T/locked" ] && break; sleep 0.05; done
	[ -e "$T/locked" ] || mc_fail "could not take the lock of $id"
	mc_ex --json release "$id"
	wait $locker
	mc_expect_rc 0 "queue release"
	mc_assert_eq "$id released" "$(mc_events "$MC_OUT" release queue_id action | tr '\t' ' ')" \
		"queue release event"
	ex_wait_mailbox carol 1
	grep -q '^Return-path: <origin@sender.test>' "$EX_VMAIL"/carol/new/* ||
		mc_fail "released message: not delivered with its envelope sender"
	mc_assert_eq 54 "$(ex_queue_count)" "messages queued after release"
	mc_ex release "${id%-*}-zz"
	mc_expect_rc 2 "queue release of a message not queued"
	grep -q 'not in the queue' "$MC_OUT" || { mc_show; mc_fail "release: no reason given"; }

	# --- 4. thaw ---
	mc_ex thaw
	mc_expect_rc 0 "queue thaw"
	mc_assert_file_eq "$T/conf.orig" "$EX_CONF" "configuration after thaw"
	mc_assert_eq "$(file_state "$T/conf.orig")" "$(file_state "$EX_CONF")" "owner and mode after thaw"
	for box in alice bob carol; do
		ex_wait_mailbox "$box" "${expect_box[$box]}" 60
	done
	ex_wait_queue 0 30
	mc_assert_eq 0 "$(ex_mailbox_count senders)" "bounces"
	[ -z "$(ls -A "$T/state/exim-freeze" 2>/dev/null)" ] ||
		mc_fail "freeze record left after thaw: $(ls -A "$T/state/exim-freeze")"

	# --- 5. freeze while Exim is stopped ---
	ex_stop
	mc_ex freeze
	mc_expect_rc 0 "queue freeze, Exim stopped"
	grep -q 'not running' "$MC_OUT" || { mc_show; mc_fail "freeze of a stopped Exim: no note"; }
	ex_daemon
	ex_smtp "late@sender.test" "bob@$D" "late-1" --body "late"
	ex_wait_queue 1
	sleep 3
	mc_assert_eq 1 "$(ex_queue_count)" "queued after starting frozen"
	mc_ex thaw
	mc_expect_rc 0 "queue thaw after a stopped freeze"
	mc_assert_file_eq "$T/conf.orig" "$EX_CONF" "configuration after the second thaw"
	ex_wait_mailbox bob $((expect_box[bob] + 1)) 30

	# --- 6. an included file sets queue_only ---
	echo "queue_only = false" >"$EX/included.conf"
	sed -i "1i .include $EX/included.conf" "$EX_CONF"
	sed -i '/^queue_only = false$/d' "$EX_CONF"
	cp -p "$EX_CONF" "$T/conf.inc"
	mc_ex freeze
	mc_expect_rc 2 "queue freeze with queue_only in an included file"
	grep -q "$EX/included.conf (included by $EX_CONF) sets queue_only" "$MC_ERR" ||
		{ mc_show; mc_fail "freeze refusal: the included file is not named"; }
	mc_assert_file_eq "$T/conf.inc" "$EX_CONF" "configuration after a refused freeze"
	ex_cleanup
}

freeze_test "${T3130_SPOOL:-}"
echo "ok: Exim queue freeze, release and thaw, ${T3130_SPOOL:+split }spool"
