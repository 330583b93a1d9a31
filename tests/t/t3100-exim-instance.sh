#!/usr/bin/env bash
# NAME
#	t3100-exim-instance - the private Exim of the queue tests delivers and queues
# DESCRIPTION
#	The instance of lib-exim.sh (Debian's Exim unpacked into a
#	private root, Postfix left installed): exim -bV names the test
#	configuration; a message sent over SMTP (swaks) and one through
#	local submission (exim -bm) are delivered, the latter with its
#	envelope sender; mail for remote.test stays queued. With
#	queue_only and a split spool, messages stay queued, their -H and
#	-D files in the split subdirectory named by the id's sixth
#	character, until a forced queue run delivers them.

set -u
. "$(dirname "$0")/lib-exim.sh"

mc_setup
ex_need
ex_start

ex_exim -bV >"$T/bV" 2>&1
grep -q "^Configuration file is $EX_CONF\$" "$T/bV" || { cat "$T/bV"; mc_fail "exim -bV"; }
dpkg-query -W -f='${Status}\n' postfix 2>/dev/null | grep -q 'install ok installed' ||
	mc_log "postfix is not installed here"
mc_assert_eq "$EX_BIN" "$(command -v exim4)" "exim4 in PATH"

ex_smtp "someone@sender.test" "alice@$EX_DOMAIN" "over smtp" --body "hello"
mc_msg_plain -f "Local <local@sender.test>" -t "bob@$EX_DOMAIN" -s "via exim -bm" |
	ex_sendmail local@sender.test "bob@$EX_DOMAIN"
ex_smtp "someone@sender.test" "nobody@remote.test" "to remote" --body "stays"
ex_wait_mailbox alice 1
ex_wait_mailbox bob 1
ex_wait_queue 1
f=$(find "$EX_VMAIL/bob/new" -type f | head -n 1)
grep -q '^Return-path: <local@sender.test>' "$f" ||
	{ cat "$f"; mc_fail "local submission lost its envelope sender"; }
id=$(ex_queue_ids)
ex_queue_subjects >"$T/subjects"
mc_assert_eq "$(printf '%s\tto remote' "$id")" "$(cat "$T/subjects")" "queued message"
[ -f "$EX_SPOOL/input/$id-H" ] && [ -f "$EX_SPOOL/input/$id-D" ] ||
	{ ls -lR "$EX_SPOOL"; mc_fail "unsplit spool files of $id"; }
grep -q ' <= someone@sender.test' "$EX_LOG" || mc_fail "no reception logged"
ex_stop
ex_cleanup

# A split spool with queue_only: nothing is delivered until forced.
ex_start -s -q
ex_smtp "someone@sender.test" "carol@$EX_DOMAIN" "split queued" --body "hello"
mc_msg_plain -f "Local <local@sender.test>" -t "carol@$EX_DOMAIN" -s "split local" |
	ex_sendmail local@sender.test "carol@$EX_DOMAIN"
ex_wait_queue 2
sleep 3	# more than a queue run interval: a queue run does not deliver
mc_assert_eq 0 "$(ex_mailbox_count carol)" "delivered under queue_only"
for id in $(ex_queue_ids); do
	sub=${id:5:1}
	[ -f "$EX_SPOOL/input/$sub/$id-H" ] && [ -f "$EX_SPOOL/input/$sub/$id-D" ] ||
		{ ls -lR "$EX_SPOOL"; mc_fail "split spool files of $id"; }
done
ex_exim -qff
ex_wait_mailbox carol 2
ex_wait_queue 0
echo "ok: private Exim on 127.0.0.1:$EX_PORT delivers and queues"
