#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t3000-postfix-instance - the private Postfix of the queue tests delivers
# DESCRIPTION
#	The instance of lib-postfix.sh, started: a message sent over
#	SMTP and one through sendmail are delivered (the latter with its
#	envelope sender), the queue is empty after, nothing bounces, and
#	"mailcure queue status" (text and --json) sees the instance
#	running and not frozen.

set -u
. "$(dirname "$0")/lib-postfix.sh"

mc_setup
pf_need
pf_start
pf_smtp "someone@sender.test" "alice@$PF_DOMAIN" "over smtp" --body "hello"
mc_msg_plain -f "Local <local@sender.test>" -t "bob@$PF_DOMAIN" -s "via sendmail" |
	pf_sendmail local@sender.test "bob@$PF_DOMAIN"
pf_wait_mailbox alice 1
pf_wait_mailbox bob 1
pf_wait_queue 0
f=$(find "$PF_VMAIL/bob/new" -type f | head -n 1)
grep -q '^Return-Path: <local@sender.test>' "$f" ||
	{ cat "$f"; mc_fail "sendmail delivery lost its envelope sender"; }
mc_pf status
mc_expect_rc 0 "queue status"
grep -q '^running: *yes' "$MC_OUT" || { mc_show; mc_fail "status: not running?"; }
grep -q '^frozen: *no' "$MC_OUT" || { mc_show; mc_fail "status: frozen?"; }
mc_pf --json status
mc_expect_rc 0 "queue status --json"
pf_check "$MC_OUT" '
e = events[0]
assert e["event"] == "status" and e["running"] and not e["frozen"], e
assert e["messages"] == 0, e'
# The second smtp port of the instance is nobody's: nothing
# must have gone to the error transport.
if grep -q 'status=bounced' "$PF_LOG"; then
	cat "$PF_LOG"
	mc_fail "a message bounced"
fi
echo "ok: private Postfix on 127.0.0.1:$PF_PORT delivers"
