#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t6010-respond-full - respond against a real Postfix, a real Dovecot and nftables
# DESCRIPTION
#	The server namespace runs Dovecot (Maildir) with users alice and
#	bob; a private Postfix delivers their mail into those Maildirs.
#	Some infected and clean mail is delivered before the outbreak
#	response starts.
#
#	respond runs in the server namespace (so isolation applies to
#	its ruleset only), first --until queue-freeze; while the queue is
#	frozen, more mail arrives over SMTP, clean and infected, and stays
#	queued. Then respond --resume runs the rest: queue-delete,
#	mailbox-clean, host-scan, queue-thaw, reconnect.
#
#	At the end: every infected message (queued or delivered) is in
#	the quarantine; the clean mail, including what was queued during
#	the freeze, is delivered and readable over IMAP from the user
#	host; the queue is empty; main.cf and master.cf and the ruleset
#	are byte-identical to before; Dovecot logged no index errors.
#	During isolation a user's IMAP login fails while the
#	administrator's works.
# run-tests: serial
set -euo pipefail
. "$MC_SRC/tests/t/lib-postfix.sh"
. "$MC_SRC/tests/t/lib-netns.sh"
mc_need_testfiles
t4_need
pf_need
t4_setup
t4_netns
t4_dovecot maildir
pf_start
D=$PF_DOMAIN
ST=$T/state

# alice and bob's mail goes into the Dovecot Maildirs, as their uids:
# their mailboxes are alice/mail and bob/mail.
PF_VMAIL=$DV/home
printf 'alice@%s 60001\nbob@%s 60002\n' "$D" "$D" >"$PF_CONF/uids"
printf 'alice@%s alice/mail/\nbob@%s bob/mail/\n@%s catchall/\n@sender.test senders/\n' \
	"$D" "$D" "$D" >"$PF_CONF/vmailbox"
mkdir -p "$DV/home/catchall" "$DV/home/senders"
chown nobody:nogroup "$DV/home/catchall" "$DV/home/senders"
postconf -c "$PF_CONF" -e "virtual_mailbox_base = $PF_VMAIL" \
	"virtual_uid_maps = texthash:$PF_CONF/uids, static:$PF_UID" \
	"virtual_gid_maps = texthash:$PF_CONF/uids, static:$PF_GID"
pf_postfix reload >/dev/null 2>&1
sleep 1

mc_eicar >"$T/eicar.com"
# Before the outbreak response: delivered mail.
pf_smtp "friend@sender.test" "alice@$D" "alice hello 1" --body "hi"
pf_smtp "friend@sender.test" "alice@$D" "alice hello 2" --body "hi again"
pf_smtp "mallory@sender.test" "alice@$D" "alice invoice" --attach "@$MC_TESTFILES/clam.exe"
pf_smtp "friend@sender.test" "bob@$D" "bob hello" --body "hello bob"
pf_smtp "mallory@sender.test" "bob@$D" "bob eicar" --attach "@$T/eicar.com"
pf_wait_mailbox alice/mail 3
pf_wait_mailbox bob/mail 2
[ "$(t4_imap "$NS_USR" 192.0.2.1 alice)" = ok ] || mc_fail "alice cannot log in before isolate"

cp "$PF_CONF/main.cf" "$T/main.cf.before"
cp "$PF_CONF/master.cf" "$T/master.cf.before"
ip netns exec "$NS_SRV" nft list ruleset >"$T/ruleset.before"

mkdir -p "$T/hostfiles"
cp "$MC_TESTFILES/clam.pdf" "$T/hostfiles/dropped.pdf"
echo "clean" >"$T/hostfiles/notes.txt"

mcr() {
	ip netns exec "$NS_SRV" "$MAILCURE" -d "$MC_SIGS" --quarantine "$MC_Q" --state-dir "$ST" \
		--progress never "$@"
}
common=(--allow 198.51.100.0/24 --allow 2001:db8:2::/64 --postfix-config "$PF_CONF"
	-s "maildir:$DV/home/alice/mail" -s "maildir:$DV/home/bob/mail"
	--host-path "$T/hostfiles" --clean-host --yes)

set +e
mcr respond "${common[@]}" --until queue-freeze >"$T/r1.out" 2>&1
rc=$?
set -e
[ "$rc" = 0 ] || { cat "$T/r1.out"; for f in "$ST"/runs/*/*.log; do echo "== $f"; cat "$f"; done; mc_fail "respond --until queue-freeze: exit $rc"; }
grep -q "isolate *done" "$T/r1.out" || { cat "$T/r1.out"; mc_fail "isolate did not run"; }
grep -q "queue-freeze *done" "$T/r1.out" || { cat "$T/r1.out"; mc_fail "freeze did not run"; }

# Isolated: the user is cut off, the administrator is not.
if t4_imap "$NS_USR" 192.0.2.1 alice >/dev/null 2>&1; then
	mc_fail "a user logged in during isolation"
fi
[ "$(t4_imap "$NS_ADM" 198.51.100.1 admin)" = ok ] || mc_fail "the administrator cannot log in during isolation"

# Frozen: new mail is accepted and stays queued.
pf_smtp "friend@sender.test" "alice@$D" "alice during freeze" --body "queued clean"
pf_smtp "friend@sender.test" "bob@$D" "bob during freeze" --body "queued clean too"
pf_smtp "mallory@sender.test" "alice@$D,bob@$D" "outbreak wave" --attach "@$MC_TESTFILES/clam.zip"
pf_wait_queue 3
sleep 2
[ "$(pf_mailbox_count alice/mail)" = 3 ] || mc_fail "mail was delivered to alice during the freeze"

set +e
mcr respond --resume --yes >"$T/r2.out" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || { cat "$T/r1.out" "$T/r2.out"; for f in "$ST"/runs/*/*.log; do echo "== $f"; cat "$f"; done; mc_fail "respond --resume: exit $rc, expected 1"; }
for s in queue-delete mailbox-clean host-scan queue-thaw reconnect; do
	grep -q "$s *done" "$T/r2.out" || { cat "$T/r2.out"; mc_fail "step $s did not run"; }
done

# The clean mail queued during the freeze is delivered after thaw.
pf_wait_mailbox alice/mail 3    # 2 hello + 1 during freeze (the invoice is gone)
pf_wait_mailbox bob/mail 2      # hello + 1 during freeze (the eicar is gone)
for _ in $(seq 1 100); do
	queued=$( (pf_queue_json || true) | grep -c '"queue_id"' || true)
	[ "$queued" = 0 ] && break
	sleep 0.1
done
[ "$queued" = 0 ] || { pf_queue_json; mc_fail "$queued messages are still queued after thaw"; }
list_alice=$(t4_imap "$NS_USR" 192.0.2.1 alice list INBOX | cut -f1 | sort | tr '\n' '|')
[ "$list_alice" = "alice during freeze|alice hello 1|alice hello 2|" ] ||
	mc_fail "alice sees over IMAP: $list_alice"
list_bob=$(t4_imap "$NS_USR" 192.0.2.1 bob list INBOX | cut -f1 | sort | tr '\n' '|')
[ "$list_bob" = "bob during freeze|bob hello|" ] || mc_fail "bob sees over IMAP: $list_bob"

# Quarantine: 2 delivered, 1 queued (one message, two recipients), 1 file.
nq=$(find "$MC_Q/entries" -mindepth 1 -maxdepth 1 | wc -l)
[ "$nq" = 4 ] || { "$MAILCURE" --quarantine "$MC_Q" quarantine list; mc_fail "quarantined $nq items, expected 4"; }
[ ! -e "$T/hostfiles/dropped.pdf" ] || mc_fail "the infected host file is still there"
[ -e "$T/hostfiles/notes.txt" ] || mc_fail "a clean host file was removed"

cmp -s "$T/main.cf.before" "$PF_CONF/main.cf" || mc_fail "main.cf differs after thaw"
cmp -s "$T/master.cf.before" "$PF_CONF/master.cf" || mc_fail "master.cf differs after thaw"
ip netns exec "$NS_SRV" nft list ruleset >"$T/ruleset.after"
cmp -s "$T/ruleset.before" "$T/ruleset.after" || { diff "$T/ruleset.before" "$T/ruleset.after"; mc_fail "ruleset differs after reconnect"; }
[ "$(t4_imap "$NS_USR" 192.0.2.1 alice)" = ok ] || mc_fail "alice cannot log in after reconnect"
errors=$(t4_log_errors)
[ -z "$errors" ] || mc_fail "Dovecot logged errors: $errors"
# No bounce or notice was generated by the queue deletion.
[ "$(find "$DV/home/senders" "$DV/home/catchall" -type f 2>/dev/null | wc -l)" = 0 ] ||
	mc_fail "a bounce or notice was delivered"

run=$(ls "$ST/runs")
[ -s "$ST/runs/$run/report.html" ] || mc_fail "no report"
grep -q 'id=quarantined>4<' "$ST/runs/$run/report.html" || mc_fail "report does not count 4"
echo "ok: full respond with Postfix, Dovecot and nftables"
