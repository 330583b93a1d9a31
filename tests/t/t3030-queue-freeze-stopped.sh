#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t3030-queue-freeze-stopped - freeze and thaw with Postfix stopped, refusals, errors
# DESCRIPTION
#	Freeze works on a stopped Postfix: started later, it accepts but
#	does not deliver. Thaw refuses to undo a change made to main.cf
#	while frozen unless --force, then restores both files byte for
#	byte. Freeze and thaw of a stopped Postfix leave the files
#	identical. A dry-run freeze changes nothing. Clear errors: not
#	root, no such configuration directory, release of a message
#	that is not on hold.

set -u
. "$(dirname "$0")/lib-postfix.sh"

mc_setup
pf_need
pf_start -n
D=$PF_DOMAIN
cp "$PF_CONF/main.cf" "$T/main.cf.before"
cp "$PF_CONF/master.cf" "$T/master.cf.before"

mc_pf status
mc_expect_rc 0 "queue status (stopped)"
grep -q '^running: *no' "$MC_OUT" || { mc_show; mc_fail "status: running?"; }

mc_pf --dry-run freeze
mc_expect_rc 0 "queue freeze --dry-run"
mc_assert_file_eq "$T/master.cf.before" "$PF_CONF/master.cf" "master.cf after a dry run"
[ ! -e "$T/state/postfix-freeze" ] || [ -z "$(ls -A "$T/state/postfix-freeze")" ] ||
	mc_fail "a dry run recorded a freeze"

mc_pf freeze
mc_expect_rc 0 "queue freeze (stopped)"
grep -q 'not running' "$MC_OUT" || { mc_show; mc_fail "freeze: no word about the stopped Postfix"; }
cmp -s "$T/master.cf.before" "$PF_CONF/master.cf" && mc_fail "freeze did not change master.cf"

# Started frozen: mail is accepted, nothing is delivered.
pf_postfix start >/dev/null 2>&1 || mc_fail "postfix start"
pf_wait_listening
mc_pf --json status
pf_check "$MC_OUT" 'e = events[0]; assert e["running"] and e["frozen"] and "frozen_at" in e, e'
pf_smtp "friend@sender.test" "alice@$D" "one" --body one
mc_msg_plain -t "alice@$D" -s "two" | pf_sendmail "local@sender.test" "alice@$D"
pf_wait_queue 2
sleep 2
mc_assert_eq 0 "$(pf_mailbox_count alice)" "delivered while frozen"

# A change to main.cf while frozen: thaw would undo it.
echo "# edited during the freeze" >>"$PF_CONF/main.cf"
mc_pf thaw
mc_expect_rc 2 "thaw after main.cf changed"
grep -q "main.cf changed while the queue was frozen" "$MC_ERR" || { mc_show; mc_fail "thaw: no reason"; }
cmp -s "$T/master.cf.before" "$PF_CONF/master.cf" && mc_fail "a refused thaw changed master.cf"
mc_pf thaw --force
mc_expect_rc 0 "thaw --force"
mc_assert_file_eq "$T/main.cf.before" "$PF_CONF/main.cf" "main.cf after thaw --force"
mc_assert_file_eq "$T/master.cf.before" "$PF_CONF/master.cf" "master.cf after thaw --force"
pf_wait_mailbox alice 2
pf_wait_queue 0

# Freeze and thaw while stopped.
pf_stop
mc_pf freeze
mc_expect_rc 0 "freeze (stopped again)"
mc_pf thaw
mc_expect_rc 0 "thaw (stopped)"
grep -q 'not running' "$MC_OUT" || { mc_show; mc_fail "thaw: no word about the stopped Postfix"; }
mc_assert_file_eq "$T/main.cf.before" "$PF_CONF/main.cf" "main.cf after stopped freeze/thaw"
mc_assert_file_eq "$T/master.cf.before" "$PF_CONF/master.cf" "master.cf after stopped freeze/thaw"

mc_pf thaw
mc_expect_rc 0 "thaw when not frozen"
grep -q 'nothing to do' "$MC_OUT" || { mc_show; mc_fail "thaw when not frozen"; }

# Errors.
mc_pf release 0123456789A
mc_expect_rc 2 "release of a message not on hold"
grep -q '0123456789A: not on hold' "$MC_OUT" || { mc_show; mc_fail "release: no reason"; }
mc_pf release '../etc'
mc_expect_rc 2 "release of a bad id"

mc_run --state-dir "$T/state" queue --postfix-config "$T/no-such-dir" status
mc_expect_rc 2 "status of a missing configuration"
grep -q "no-such-dir" "$MC_ERR" || { mc_show; mc_fail "missing configuration: no reason"; }

# Not root: a copy of the binary that nobody may run.
cp "$MAILCURE" "$PF/mailcure"
chmod 755 "$PF/mailcure"
runuser -u nobody -- "$PF/mailcure" queue --postfix-config "$PF_CONF" status \
	>"$T/nobody.out" 2>"$T/nobody.err" </dev/null
rc=$?
mc_assert_eq 2 "$rc" "exit status as nobody"
grep -q "must be run as root" "$T/nobody.err" || { cat "$T/nobody.err"; mc_fail "not root: no reason"; }
echo ok
