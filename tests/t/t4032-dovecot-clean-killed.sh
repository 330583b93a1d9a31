#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# NAME
#	t4032-dovecot-clean-killed.sh - a clean killed before the expunge duplicates nothing
# DESCRIPTION
#	With a real Dovecot (sdbox) in a network namespace, "mailbox
#	clean -s dovecot:alice" is killed (SIGKILL) the moment it runs
#	"doveadm expunge" (a doveadm wrapper, MAILCURE_DOVEADM, kills
#	it): the infected message is in the quarantine and still in
#	alice's INBOX. Then:
#	- "quarantine restore --run" of the killed run is refused, with
#	  the reason, and INBOX holds the message exactly once;
#	- a second clean removes it, and restoring that run puts it
#	  back exactly once.

. "$(dirname "$0")/lib-netns.sh"
set -u

t4_need
t4_setup
t4_netns
t4_dovecot sdbox
set -e

t4_msg "clean one" | t4_doveadm save -u alice -m INBOX
t4_msg_virus "virus one" | t4_doveadm save -u alice -m INBOX
count() {	# count SUBJECT: copies in alice's INBOX
	t4_doveadm search -u alice mailbox INBOX header Subject "$1" | wc -l
}

killer=$T/doveadm-killer
cat >"$killer" <<EOF
#!/bin/sh
for a in "\$@"; do
	[ "\$a" = expunge ] && { kill -KILL "\$PPID"; exit 1; }
done
exec $(command -v doveadm) "\$@"
EOF
chmod 755 "$killer"

mc_log "clean killed at doveadm expunge"
MAILCURE_DOVEADM=$killer mc_cure --json --run-id killed mailbox clean -s dovecot:alice
mc_expect_rc 137 "clean killed at the expunge"
mc_assert_eq 1 "$(count "virus one")" "copies of the infected message after the kill"
mc_cure --json quarantine list --run killed
mc_assert_eq 1 "$(mc_events "$MC_OUT" entry id | wc -l)" "entries of the killed run"

mc_log "restore of the killed run is refused"
mc_cure quarantine restore --run killed
mc_expect_rc 2 "restore of a message still in its mailbox"
grep -q "still in mailbox INBOX of alice" "$MC_ERR" || { mc_show; mc_fail "no reason given"; }
mc_assert_eq 1 "$(count "virus one")" "copies of the infected message after the restore"
mc_assert_eq 1 "$(count "clean one")" "copies of the clean message"

mc_log "a second clean removes it; its restore puts it back once"
mc_cure --json --run-id again mailbox clean -s dovecot:alice
mc_expect_rc 1 "second clean"
mc_assert_eq 0 "$(count "virus one")" "copies of the infected message after the second clean"
mc_cure quarantine restore --run again
mc_expect_rc 0 "restore of the second clean"
mc_assert_eq 1 "$(count "virus one")" "copies of the infected message after its restore"
t4_no_log_errors "killed clean"
echo "ok"
